"""Checkers of the VAE chapter.

The Gaussian KL and the ELBO by Jensen's inequality (derivations, checked by their
properties: zero at the prior, never negative, additive over the dimensions, the right
gradient, agreement with a Monte Carlo estimate; a bound below log p(y) on a model whose
log p(y) is known exactly, tight at the posterior, with the gap KL(q ‖ p(z | y))), the
reparameterisation and the loss with the right reductions (implementations; the loss
checker finds a wrong reduction by duplicating the batch, the pixels or the code
dimensions), and what a stiffer spring does (an exploration).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from ._feedback import (
    Feedback,
    _call,
    _en,
    _fr,
    _invoke,
    _known_mistake,
    _listing,
    _read_prediction,
    _run,
    _wrong_values,
)

__all__ = ["check_beta_prediction", "check_elbo", "check_gaussian_kl", "check_reparameterize",
           "check_vae_loss"]

_F64 = torch.float64
_LOG_2PI = math.log(2 * math.pi)



def _value(fn: Callable[..., object], *args: object) -> tuple[Tensor | None, Feedback | None]:
    """Call the student's function again on other inputs: its answer as float64, detached."""
    out, bad = _call(fn, *args)
    if bad is not None:
        return None, bad
    return out.detach().to(_F64), None


# -- the Gaussian KL (a derivation, checked by its properties) --------------------------------

def _kl_terms(mu: Tensor, logvar: Tensor) -> Tensor:
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1)


def _kl_monte_carlo(mu: Tensor, logvar: Tensor, draws: int, seed: int) -> tuple[Tensor, Tensor]:
    """E_q[log q(z) − log p(z)] from ``draws`` codes of each ball: (estimate (B,), standard error (B,))."""
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn(draws, *mu.shape, generator=g, dtype=_F64)
    z = mu + torch.exp(0.5 * logvar) * eps
    log_q = -0.5 * (_LOG_2PI + logvar + eps**2).sum(-1)
    log_p = -0.5 * (_LOG_2PI + z**2).sum(-1)
    terms = log_q - log_p
    return terms.mean(0), terms.std(0) / math.sqrt(draws)


def check_gaussian_kl(kl: Callable[[Tensor, Tensor], Tensor]) -> Feedback:
    """Check ``kl(mu, logvar)`` = KL(N(μ, diag σ²) ‖ N(0, I)) of each sample (a derivation).

    mu and logvar (log σ²) are (B, d); the answer must be (B,), summed over the d dimensions.
    The checker tests the properties of the divergence, not one stored formula: it is 0
    when the ball is the prior (μ = 0, σ = 1), never negative, additive over independent
    dimensions, its gradient is ∂/∂μ = μ (the spring) and ∂/∂log σ² = ½(σ² − 1), and it
    agrees with a Monte Carlo estimate of E_q[log q(z) − log p(z)]. It names the classic
    slips (a missing ½ or − 1, log σ for log σ², σ for σ², a mean over the dimensions, the
    divergence in the other direction).
    """
    g = torch.Generator().manual_seed(6)
    mu = torch.randn(8, 3, generator=g, dtype=_F64)
    logvar = torch.randn(8, 3, generator=g, dtype=_F64)
    out, bad = _run(kl, (mu.clone(), logvar.clone()), (8,), "one KL per sample",
                    "les divergences (une pour chaque exemple)")
    if bad is not None:
        return bad
    var = logvar.exp()
    terms = _kl_terms(mu, logvar)
    right = terms.sum(1)
    if not torch.allclose(out, right, rtol=1e-6, atol=1e-8):
        guesses = [
            (2 * right, "You forgot the factor ½.", "Vous avez oublié le facteur ½."),
            (-right, "Wrong sign: the KL divergence is never negative.",
             "Mauvais signe : la divergence de Kullback-Leibler n'est jamais négative."),
            (terms.mean(1), "You averaged over the code dimensions: sum them (the KL of independent "
                            "dimensions adds up).",
             "Vous avez moyenné sur les dimensions du code : faites la somme (les divergences de "
             "dimensions indépendantes s'additionnent)."),
            (0.5 * (mu**2 + var - logvar).sum(1), "You forgot the − 1: the KL of the prior itself "
                                                  "(μ = 0, σ = 1) must be 0.",
             "Vous avez oublié le − 1 : la divergence de la loi a priori elle-même (μ = 0, σ = 1) "
             "doit être nulle."),
            (0.5 * (mu**2 + var**2 - 2 * logvar - 1).sum(1),
             "logvar is log σ², so σ² = exp(logvar), not exp(logvar)².",
             "logvar vaut log σ², donc σ² = exp(logvar), et non exp(logvar)²."),
            (0.5 * (mu**2 + logvar - torch.log(logvar.abs()) - 1).sum(1),
             "logvar is log σ², not σ²: take σ² = exp(logvar).",
             "logvar vaut log σ², pas σ² : prenez σ² = exp(logvar)."),
            (0.5 * (mu**2 + var - 0.5 * logvar - 1).sum(1),
             "You wrote log σ where the formula has log σ²: logvar is already log σ², so the term "
             "is − logvar, not − ½ logvar.",
             "Vous avez écrit log σ là où la formule porte log σ² : logvar vaut déjà log σ², le "
             "terme est donc − logvar, et non − ½ logvar."),
            (0.5 * (mu**2 + torch.exp(0.5 * logvar) - logvar - 1).sum(1),
             "You used σ = exp(½ logvar) where the formula has the variance σ² = exp(logvar) "
             "(E_q[z²] = μ² + σ²).",
             "Vous avez pris σ = exp(½ logvar) là où la formule porte la variance σ² = exp(logvar) "
             "(E_q[z²] = μ² + σ²)."),
            (0.5 * (var - logvar - 1).sum(1),
             "You forgot μ²: the spring that pulls the centre of the ball to the origin.",
             "Vous avez oublié μ² : le ressort qui ramène le centre de la boule vers l'origine."),
            (0.5 * ((1 + mu**2) / var + logvar - 1).sum(1),
             "This is KL(N(0, I) ‖ q), the divergence in the other direction. The VAE's R is "
             "KL(q ‖ N(0, I)) = E_q[log q(z) − log p(z)], an average over the ball q.",
             "C'est KL(N(0, I) ‖ q), la divergence dans l'autre sens. Le R du VAE est "
             "KL(q ‖ N(0, I)) = E_q[log q(z) − log p(z)], une moyenne sur la boule q."),
        ]
        mistake = _known_mistake(out, guesses, rtol=1e-6, atol=1e-8)
        if mistake is not None:
            return mistake

    # 1. Zero at the prior.
    at_prior, bad = _value(kl, torch.zeros(4, 3, dtype=_F64), torch.zeros(4, 3, dtype=_F64))
    if bad is not None:
        return bad
    if at_prior.shape != (4,) or not torch.allclose(at_prior, torch.zeros(4, dtype=_F64), atol=1e-8):
        v = float(at_prior.flatten()[0]) if at_prior.numel() else float("nan")
        return Feedback(False, f"Wrong value at the prior itself: for μ = 0 and σ = 1 (logvar = 0) the "
                               f"ball is the prior, so the KL must be 0; you give {_en(v, '.4g')}.",
                        f"Valeur fausse pour la loi a priori elle-même : pour μ = 0 et σ = 1 "
                        f"(logvar = 0), la boule est la loi a priori, et la divergence doit être "
                        f"nulle ; vous donnez {_fr(v, '.4g')}.")
    # 2. Never negative (also on large and small balls).
    g_wide = torch.Generator().manual_seed(16)
    scale = torch.cat([torch.full((16, 1), 3.0, dtype=_F64), torch.full((16, 1), 0.2, dtype=_F64)])
    mu_w = scale * torch.randn(32, 3, generator=g_wide, dtype=_F64)  # wide balls, then near the prior
    logvar_w = scale * torch.randn(32, 3, generator=g_wide, dtype=_F64)
    wide, bad = _value(kl, mu_w, logvar_w)
    if bad is not None:
        return bad
    if wide.shape == (32,) and bool((wide < -1e-10).any()):
        idx = torch.nonzero(wide < -1e-10).flatten()
        i, shown = int(idx[0]), [str(int(j)) for j in idx]
        return Feedback(False, f"Your KL is negative for samples {_listing(shown, False, 5)} of a batch of "
                               f"32 balls (sample {i}: {_en(float(wide[i]), '.4g')}). A KL divergence "
                               "is never negative (Gibbs' inequality): check the signs of your terms.",
                        f"Votre divergence est négative pour les exemples {_listing(shown, True, 5)} d'un "
                        f"lot de 32 boules (exemple {i} : {_fr(float(wide[i]), '.4g')}). Une "
                        "divergence de Kullback-Leibler n'est jamais négative (inégalité de Gibbs) : "
                        "vérifiez les signes de vos termes.")
    # 3. Additive over independent dimensions: the same ball twice has twice the KL.
    twice, bad = _value(kl, torch.cat([mu, mu], 1), torch.cat([logvar, logvar], 1))
    if bad is not None:
        return bad
    if twice.shape != (8,) or not torch.allclose(twice, 2 * out, rtol=1e-6, atol=1e-8):
        ratio = float((twice / out).mean()) if twice.shape == (8,) else float("nan")
        return Feedback(False, f"Not additive: with every code dimension written twice (2d independent "
                               f"dimensions, the same ball twice) the KL must double, since the KL of "
                               f"independent dimensions adds up; yours is multiplied by "
                               f"{_en(ratio, '.3g')}. Sum over the dimensions.",
                        f"Pas additive : quand chaque dimension du code est écrite deux fois (2d "
                        f"dimensions indépendantes, la même boule deux fois), la divergence doit "
                        f"doubler, car les divergences de dimensions indépendantes s'additionnent ; "
                        f"la vôtre est multipliée par {_fr(ratio, '.3g')}. Faites la somme sur les "
                        "dimensions.")
    # 4. The gradient, by central finite differences of the student's own function.
    h = 1e-5
    grad_mu = torch.zeros_like(mu)
    grad_lv = torch.zeros_like(logvar)
    for j in range(3):
        step = torch.zeros_like(mu)
        step[:, j] = h
        for grad, shifted in ((grad_mu, "mu"), (grad_lv, "logvar")):
            plus = (mu + step, logvar) if shifted == "mu" else (mu, logvar + step)
            minus = (mu - step, logvar) if shifted == "mu" else (mu, logvar - step)
            up, bad = _value(kl, *plus)
            if bad is not None:
                return bad
            down, _ = _value(kl, *minus)
            grad[:, j] = (up - down) / (2 * h)
    want_mu, want_lv = mu, 0.5 * (var - 1)
    if not torch.allclose(grad_mu, want_mu, atol=1e-5):
        i, j = divmod(int((grad_mu - want_mu).abs().argmax()), 3)
        return Feedback(False, f"The gradient in μ is wrong: ∂KL/∂μ_j should be μ_j (the force of the "
                               f"spring ½μ²); for sample {i}, dimension {j}, it is "
                               f"{_en(float(grad_mu[i, j]), '.4g')} instead of "
                               f"{_en(float(want_mu[i, j]), '.4g')}.",
                        f"Le gradient en μ est faux : ∂KL/∂μ_j doit valoir μ_j (la force du ressort "
                        f"½μ²) ; pour l'exemple {i}, dimension {j}, il vaut "
                        f"{_fr(float(grad_mu[i, j]), '.4g')} au lieu de "
                        f"{_fr(float(want_mu[i, j]), '.4g')}.")
    if not torch.allclose(grad_lv, want_lv, atol=1e-5):
        i, j = divmod(int((grad_lv - want_lv).abs().argmax()), 3)
        return Feedback(False, f"The gradient in logvar is wrong: ∂KL/∂log σ²_j should be ½(σ²_j − 1), "
                               f"zero at σ = 1; for sample {i}, dimension {j}, it is "
                               f"{_en(float(grad_lv[i, j]), '.4g')} instead of "
                               f"{_en(float(want_lv[i, j]), '.4g')}. Look at the σ² and log σ² terms.",
                        f"Le gradient en logvar est faux : ∂KL/∂log σ²_j doit valoir ½(σ²_j − 1), nul "
                        f"pour σ = 1 ; pour l'exemple {i}, dimension {j}, il vaut "
                        f"{_fr(float(grad_lv[i, j]), '.4g')} au lieu de "
                        f"{_fr(float(want_lv[i, j]), '.4g')}. Regardez les termes en σ² et en log σ².")
    # 5. The definition itself, by Monte Carlo.
    draws = 100_000
    draws_fr = f"{draws:,}".replace(",", "\u202f")
    estimate, stderr = _kl_monte_carlo(mu, logvar, draws, seed=26)
    off = (out - estimate).abs() > 5 * stderr + 1e-6
    if bool(off.any()) or not torch.allclose(out, right, rtol=1e-6, atol=1e-8):
        i = int(((out - estimate).abs() / stderr).argmax())
        return Feedback(False, f"Wrong value: for sample {i} you give {_en(float(out[i]))}, while a Monte "
                               f"Carlo estimate of E_q[log q(z) − log p(z)] from {draws:,} codes gives "
                               f"{_en(float(estimate[i]))} ± {_en(float(stderr[i]), '.2g')}.",
                        f"Valeur fausse : pour l'exemple {i}, vous donnez {_fr(float(out[i]))}, alors "
                        f"qu'une estimation de Monte-Carlo de E_q[log q(z) − log p(z)] sur "
                        f"{draws_fr} codes donne {_fr(float(estimate[i]))} ± "
                        f"{_fr(float(stderr[i]), '.2g')}.")
    return Feedback(True, "Right: ½ Σ (μ² + σ² − log σ² − 1), summed over the code dimensions. It is "
                          "0 at the prior, never negative, additive over the dimensions, its gradient "
                          "is (μ, ½(σ² − 1)), and it agrees with a Monte Carlo estimate of the "
                          "definition.",
                    "Juste : ½ Σ (μ² + σ² − log σ² − 1), la somme portant sur les dimensions du code. "
                    "Elle est nulle pour la loi a priori, jamais négative, additive sur les "
                    "dimensions, son gradient vaut (μ, ½(σ² − 1)), et elle s'accorde avec une "
                    "estimation de Monte-Carlo de la définition.")


# -- the ELBO by Jensen's inequality (a derivation, checked on an exact model) ----------------

class _LinearGaussian:
    """p(z) = N(0, I_d), p(y | z) = N(W z + b, s² I_n), with WᵀW diagonal: log p(y) and the
    posterior p(z | y) = N(m, diag v) are known exactly, and the posterior is a fuzzy ball."""

    def __init__(self, seed: int = 11, B: int = 4, n: int = 3, d: int = 2, s: float = 0.7) -> None:
        g = torch.Generator().manual_seed(seed)
        Q, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=_F64))
        a = torch.linspace(1.6, 0.8, d, dtype=_F64)
        self.W, self.b, self.s, self.d = Q * a, 0.3 * torch.randn(n, generator=g, dtype=_F64), s, d
        z = torch.randn(B, d, generator=g, dtype=_F64)
        self.y = z @ self.W.T + self.b + s * torch.randn(B, n, generator=g, dtype=_F64)
        cov = self.W @ self.W.T + s**2 * torch.eye(n, dtype=_F64)
        self.log_py = torch.distributions.MultivariateNormal(self.b, cov).log_prob(self.y)
        self.post_var = 1 / (1 + a**2 / s**2)  # (d,)
        self.post_mu = (self.y - self.b) @ self.W / s**2 * self.post_var  # (B, d)
        self.generator = g

    def log_likelihood(self, y: Tensor, z: Tensor) -> Tensor:
        """log p(y | z), z (..., B, d) → (..., B)."""
        r = (y - z @ self.W.T - self.b) / self.s
        return -0.5 * (r**2 + _LOG_2PI + 2 * math.log(self.s)).sum(-1)

    def log_joint(self, y: Tensor, z: Tensor) -> Tensor:
        """log p(y, z) = log p(y | z) + log p(z), z (..., B, d) → (..., B)."""
        return self.log_likelihood(y, z) - 0.5 * (z**2 + _LOG_2PI).sum(-1)

    def kl_to_posterior(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """KL(N(μ, diag σ²) ‖ p(z | y)) of each observation: (B,)."""
        v = self.post_var
        return 0.5 * (logvar.exp() / v + (mu - self.post_mu) ** 2 / v - 1 + v.log() - logvar).sum(-1)


def check_elbo(elbo: Callable[[Callable[[Tensor, Tensor], Tensor], Tensor, Tensor, Tensor, Tensor],
                              Tensor]) -> Feedback:
    """Check ``elbo(log_joint, y, mu, logvar, eps)``: a Monte Carlo estimate of the ELBO (a derivation).

    ``log_joint(y, z)`` is log p(y, z) for observations y (B, n) and codes z (K, B, d),
    returning (K, B); mu and logvar (log σ²) describe the ball q(z | y), (B, d); eps (K, B, d)
    are standard normal draws, to be used as z = μ + σ ε. The answer is (B,), the bound
    E_q[log p(y, z) − log q(z | y)] that Jensen's inequality gives (or any unbiased estimate
    of it, such as E_q[log p(y | z)] − KL(q ‖ p(z))).

    The model is linear and Gaussian, so log p(y) and the posterior are known exactly. The
    checker tests that the bound equals log p(y) when q is the posterior (Jensen's
    inequality is then an equality), that it lies below log p(y) for another ball, and that
    the gap is KL(q ‖ p(z | y)); it names the classic slips (no − log q, the log of the
    average, a missing 2π or ½ in log q, the variance for the standard deviation, log p(y, z)
    at the centre μ instead of at the drawn codes, a sum over the draws, −ELBO for the ELBO).
    """
    model = _LinearGaussian()
    g = model.generator
    B, d, K = model.y.shape[0], model.d, 4000
    y = model.y

    def draws() -> Tensor:
        return torch.randn(K, B, d, generator=g, dtype=_F64)

    def spread(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
        """A tolerance: 5 standard errors of the noisier of the two usual estimators."""
        z = mu + torch.exp(0.5 * logvar) * eps
        log_q = -0.5 * (_LOG_2PI + logvar + eps**2).sum(-1)
        sd = torch.maximum((model.log_joint(y, z) - log_q).std(0), model.log_likelihood(y, z).std(0))
        return 5 * sd / math.sqrt(K) + 1e-6

    # A ball that is not the posterior: the bound, the gap and the classic slips.
    mu = model.post_mu + 0.6 * torch.randn(B, d, generator=g, dtype=_F64)
    logvar = model.post_var.log() + 0.5 * torch.randn(B, d, generator=g, dtype=_F64)
    eps = draws()
    out, bad = _run(elbo, (model.log_joint, y.clone(), mu.clone(), logvar.clone(), eps.clone()),
                    (B,), "one bound per observation", "la borne (une pour chaque observation)")
    if bad is not None:
        return bad
    sigma = torch.exp(0.5 * logvar)
    z = mu + sigma * eps
    log_q = -0.5 * (_LOG_2PI + logvar + eps**2).sum(-1)
    log_joint = model.log_joint(y, z)
    per_draw = log_joint - log_q
    right = per_draw.mean(0)
    z_var = mu + logvar.exp() * eps
    guesses = [
        (-right, "You returned −ELBO, the loss: the bound itself is E_q[log p(y, z) − log q(z | y)], "
                 "below log p(y).",
         "Vous avez renvoyé −ELBO, la perte : la borne elle-même vaut "
         "E_q[log p(y, z) − log q(z | y)], sous log p(y)."),
        (log_joint.mean(0), "You averaged log p(y, z) only: the bound is E_q[log p(y, z) − log q(z | y)]. "
                            "Without − log q, the entropy of the ball is missing.",
         "Vous n'avez moyenné que log p(y, z) : la borne vaut E_q[log p(y, z) − log q(z | y)]. Sans "
         "le − log q, il manque l'entropie de la boule."),
        ((log_joint + log_q).mean(0), "Wrong sign in front of log q(z | y): the bound is "
                                      "E_q[log p(y, z) − log q(z | y)].",
         "Mauvais signe devant log q(z | y) : la borne vaut E_q[log p(y, z) − log q(z | y)]."),
        (torch.logsumexp(per_draw, 0) - math.log(K),
         "You took the log of the average of p(y, z)/q(z | y): that estimates log p(y) itself (the "
         "importance-weighted estimate), not the bound. Jensen's inequality puts the average "
         "outside the log: the ELBO is the average of log p(y, z) − log q(z | y).",
         "Vous avez pris le log de la moyenne de p(y, z)/q(z | y) : c'est une estimation de log p(y) "
         "lui-même (par échantillonnage préférentiel), pas la borne. L'inégalité de Jensen met la "
         "moyenne hors du log : l'ELBO est la moyenne de log p(y, z) − log q(z | y)."),
        (per_draw.sum(0), "You summed over the K draws: the expectation over q is their average.",
         "Vous avez sommé sur les K tirages : l'espérance sous q en est la moyenne."),
        (right - 0.5 * d * _LOG_2PI,
         "Your log q(z | y) misses the constant − ½ log 2π of each dimension.",
         "Votre log q(z | y) oublie la constante − ½ log 2π de chaque dimension."),
        (right + 0.5 * logvar.sum(-1),
         "The normalising term of log q(z | y) is − ½ log σ² = − ½ logvar per dimension (− log σ): "
         "logvar is already log σ².",
         "Le terme de normalisation de log q(z | y) vaut − ½ log σ² = − ½ logvar par dimension "
         "(− log σ) : logvar est déjà log σ²."),
        (right - 0.5 * logvar.sum(-1),
         "Your log q(z | y) misses the normalising term − ½ log σ² of each dimension.",
         "Votre log q(z | y) oublie le terme de normalisation − ½ log σ² de chaque dimension."),
        ((log_joint + 0.5 * (_LOG_2PI + logvar + (sigma * eps) ** 2).sum(-1)).mean(0),
         "In log q(z | y), divide (z − μ)² by σ²: log q = − ½ Σ (log 2π + log σ² + (z − μ)²/σ²).",
         "Dans log q(z | y), divisez (z − μ)² par σ² : "
         "log q = − ½ Σ (log 2π + log σ² + (z − μ)²/σ²)."),
        ((model.log_joint(y, mu) - log_q).mean(0),
         "You evaluated log p(y, z) at the centre μ of the ball: the bound averages over codes drawn "
         "from it, z = μ + σ ε, one for each of the K draws of ε.",
         "Vous avez calculé log p(y, z) au centre μ de la boule : la borne est une moyenne sur des "
         "codes tirés dans la boule, z = μ + σ ε, un pour chacun des K tirages de ε."),
        ((model.log_joint(y, z_var) - log_q).mean(0),
         "Draw z = μ + σ ε with the standard deviation σ = exp(½ logvar), not the variance.",
         "Tirez z = μ + σ ε avec l'écart type σ = exp(½ logvar), et non la variance."),
    ]
    mistake = _known_mistake(out, guesses, rtol=1e-7, atol=1e-7)
    if mistake is not None:
        return mistake
    tol = spread(mu, logvar, eps)
    gap = model.kl_to_posterior(mu, logvar)

    # Tight at the posterior.
    mu_post, logvar_post = model.post_mu.clone(), model.post_var.log().expand(B, d).clone()
    eps_post = draws()
    tight, bad = _run(elbo, (model.log_joint, y.clone(), mu_post, logvar_post, eps_post),
                      (B,), "one bound per observation", "la borne (une pour chaque observation)")
    if bad is not None:
        return bad
    tol_post = spread(mu_post, logvar_post, eps_post)
    miss = (tight - model.log_py).abs() > tol_post
    if bool(miss.any()):
        i = int(torch.nonzero(miss).flatten()[0])
        return Feedback(False, f"Not tight: when q is the exact posterior p(z | y), p(y, z)/q(z | y) = p(y) "
                               f"for every z, so Jensen's inequality is an equality and the bound must "
                               f"equal log p(y). For observation {i}, log p(y) = "
                               f"{_en(float(model.log_py[i]))} and you give {_en(float(tight[i]))}. "
                               "Check log q(z | y) = − ½ Σ (log 2π + log σ² + (z − μ)²/σ²).",
                        f"Borne non atteinte : quand q est la loi a posteriori exacte p(z | y), "
                        f"p(y, z)/q(z | y) = p(y) pour tout z ; l'inégalité de Jensen est alors une "
                        f"égalité, et la borne doit valoir log p(y). Pour l'observation {i}, "
                        f"log p(y) = {_fr(float(model.log_py[i]))} et vous donnez "
                        f"{_fr(float(tight[i]))}. Vérifiez "
                        "log q(z | y) = − ½ Σ (log 2π + log σ² + (z − μ)²/σ²).")
    above = out > model.log_py + tol
    if bool(above.any()):
        idx = torch.nonzero(above).flatten()
        i, shown = int(idx[0]), [str(int(j)) for j in idx]
        return Feedback(False, f"Not a lower bound: for observations {_listing(shown, False, 5)} your value "
                               f"lies above log p(y) (observation {i}: {_en(float(out[i]))} > "
                               f"{_en(float(model.log_py[i]))}). Jensen's inequality gives "
                               "log E_q[p(y, z)/q(z | y)] ≥ E_q[log p(y, z) − log q(z | y)].",
                        f"Ce n'est pas une borne inférieure : pour les observations "
                        f"{_listing(shown, True, 5)}, votre valeur dépasse log p(y) (observation {i} : "
                        f"{_fr(float(out[i]))} > {_fr(float(model.log_py[i]))}). L'inégalité de "
                        "Jensen donne log E_q[p(y, z)/q(z | y)] ≥ E_q[log p(y, z) − log q(z | y)].")
    wrong_gap = (model.log_py - out - gap).abs() > tol
    if bool(wrong_gap.any()):
        i = int(torch.nonzero(wrong_gap).flatten()[0])
        return Feedback(False, f"Your value is below log p(y) and tight at the posterior, but the gap "
                               f"log p(y) − ELBO should be KL(q ‖ p(z | y)) = {_en(float(gap[i]))} for "
                               f"observation {i}; yours is {_en(float(model.log_py[i] - out[i]))}.",
                        f"Votre valeur est sous log p(y) et atteint log p(y) pour la loi a "
                        f"posteriori, mais l'écart log p(y) − ELBO doit valoir "
                        f"KL(q ‖ p(z | y)) = {_fr(float(gap[i]))} pour l'observation {i} ; le vôtre "
                        f"vaut {_fr(float(model.log_py[i] - out[i]))}.")
    return Feedback(True, "Right: your bound equals log p(y) when q is the posterior, lies below it for "
                          "another ball, and the gap is KL(q ‖ p(z | y)).",
                    "Juste : votre borne vaut log p(y) quand q est la loi a posteriori, reste en "
                    "dessous pour une autre boule, et l'écart vaut KL(q ‖ p(z | y)).")


# -- the reparameterisation (an implementation) ------------------------------------------------

def check_reparameterize(reparameterize: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Feedback:
    """Check ``reparameterize(mu, logvar, eps)`` = μ + σ ⊙ ε with σ = exp(½ logvar), (B, d),
    and that gradients reach μ and logvar (nothing detached). It names the classic slips: the
    variance for the standard deviation, logvar for σ, no μ, no ε, the sign of σ ε, and noise
    drawn inside the function instead of the eps given (two calls then disagree)."""
    g = torch.Generator().manual_seed(7)
    mu0 = torch.randn(5, 4, generator=g, dtype=_F64)
    logvar0 = torch.randn(5, 4, generator=g, dtype=_F64)
    eps = torch.randn(5, 4, generator=g, dtype=_F64)
    mu, logvar = mu0.clone().requires_grad_(True), logvar0.clone().requires_grad_(True)
    out, bad = _call(reparameterize, mu, logvar, eps.clone())
    if bad is not None:
        return bad
    if tuple(out.shape) != (5, 4):
        return Feedback(False, f"Expected one code per sample, (5, 4), received {tuple(out.shape)}.",
                        "Forme attendue pour les codes (un pour chaque exemple) : (5, 4) ; "
                        f"reçue : {tuple(out.shape)}.")
    value = out.detach().to(_F64)
    sigma = torch.exp(0.5 * logvar0)
    right = mu0 + sigma * eps
    if not torch.allclose(value, right, atol=1e-8):
        again, bad = _call(reparameterize, mu0.clone(), logvar0.clone(), eps.clone())
        if bad is None and again.shape == out.shape and not torch.allclose(
                again.detach().to(_F64), value, atol=1e-8):
            return Feedback(False, "Two calls with the same mu, logvar and eps give different codes: your "
                                   "function draws its own noise. Use the eps it receives, "
                                   "z = μ + σ ε: the noise is drawn outside, so that the draw is a "
                                   "deterministic function of μ and σ.",
                            "Deux appels avec les mêmes mu, logvar et eps donnent des codes différents : "
                            "votre fonction tire son propre bruit. Utilisez l'eps qu'elle reçoit, "
                            "z = μ + σ ε : le bruit est tiré à l'extérieur, pour que le tirage soit une "
                            "fonction déterministe de μ et de σ.")
        guesses = [
            (mu0 + logvar0.exp() * eps, "You scaled ε by the variance σ² = exp(logvar); scale it by "
                                        "the standard deviation σ = exp(½ logvar).",
             "Vous avez multiplié ε par la variance σ² = exp(logvar) ; multipliez-le par l'écart "
             "type σ = exp(½ logvar)."),
            (mu0 + logvar0 * eps, "logvar is log σ², not σ: take σ = exp(½ logvar).",
             "logvar vaut log σ², pas σ : prenez σ = exp(½ logvar)."),
            (sigma * eps, "You forgot the centre of the ball: add μ.",
             "Vous avez oublié le centre de la boule : ajoutez μ."),
            (mu0 + sigma, "Multiply σ by the noise ε.", "Multipliez σ par le bruit ε."),
            (mu0 - sigma * eps, "Wrong sign: z = μ + σ ε. (−ε has the same law as ε, but the checker "
                                "gives you ε and expects the code it defines.)",
             "Mauvais signe : z = μ + σ ε. (−ε suit la même loi que ε, mais le correcteur vous donne "
             "ε et attend le code qu'il définit.)"),
        ]
        mistake = _known_mistake(value, guesses, atol=1e-8)
        return mistake if mistake is not None else _wrong_values(value, right)
    if not out.requires_grad:
        return Feedback(False, "The values are right but no gradient flows back: do not detach μ "
                               "or logvar, and do not draw z with torch.normal(μ, σ).",
                        "Les valeurs sont justes mais aucun gradient ne remonte : ne détachez ni μ "
                        "ni logvar, et ne tirez pas z avec torch.normal(μ, σ).")
    out.sum().backward()
    if mu.grad is None or logvar.grad is None or not (
            torch.allclose(mu.grad, torch.ones_like(mu0))
            and torch.allclose(logvar.grad, 0.5 * sigma * eps, atol=1e-8)):
        return Feedback(False, "The values are right but the gradients are not: ∂z/∂μ should be 1 "
                               "and ∂z/∂logvar should be ½ σ ε.",
                        "Les valeurs sont justes mais pas les gradients : ∂z/∂μ doit valoir 1 et "
                        "∂z/∂logvar ½ σ ε.")
    return Feedback(True, "Right: z = μ + σ ε, and the gradient reaches μ and log σ² through it.",
                    "Juste : z = μ + σ ε, et le gradient remonte par cette formule jusqu'à μ "
                    "et log σ².")


# -- the loss with the right reductions (an implementation) -------------------------------------

def _loss_problem(seed: int = 7, B: int = 6, n: int = 10, d: int = 3) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(B, n, generator=g, dtype=_F64)
    logits = 2 * torch.randn(B, n, generator=g, dtype=_F64)
    mu = torch.randn(B, d, generator=g, dtype=_F64)
    logvar = torch.randn(B, d, generator=g, dtype=_F64)
    return y, logits, mu, logvar


def check_vae_loss(loss: Callable[[Tensor, Tensor, Tensor, Tensor, float], Tensor]) -> Feedback:
    """Check ``loss(y, logits, mu, logvar, beta)``: C + βR per sample, averaged over the batch.

    C is the binary cross-entropy of the logits, summed over the n pixels; R the KL,
    summed over the d code dimensions: ``vae_loss(..., reduction="batchmean").loss``. The
    feedback names the classic reduction mistakes (the exercise of the VAE chapter). When
    the answer matches none of them, the checker finds the wrong reduction by its
    properties: duplicating the batch must leave the loss unchanged, duplicating every
    pixel must add the mean C, duplicating every code dimension must add β times the mean R.
    """
    y, logits, mu, logvar = _loss_problem()
    B, n = y.shape
    d = mu.shape[1]
    beta = 0.3  # not 0.5: then 2β = 1 and two mistakes look alike
    out, bad = _run(loss, (y.clone(), logits.clone(), mu.clone(), logvar.clone(), beta), (),
                    "one number, the mean over the batch",
                    "la perte, un seul nombre (la moyenne sur le lot)")
    if bad is not None:
        return bad
    C = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(1)
    R = _kl_terms(mu, logvar).sum(1)
    right = (C + beta * R).mean()
    if torch.allclose(out, right, rtol=1e-6, atol=1e-8):
        return Feedback(True, "Right: C summed over the pixels, R over the code dimensions, "
                              "C + βR averaged over the batch.",
                        "Juste : C sommé sur les pixels, R sur les dimensions du code, C + βR "
                        "moyenné sur le lot.")
    sigmoid_twice = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.sigmoid(logits), y, reduction="none").sum(1)
    guesses = [
        (C.mean() / n + beta * R.mean() / d,
         f"You averaged C over the pixels and R over the code dimensions (PyTorch's 'mean'): "
         f"that is (C + β·(n/d)·R)/n, so β is silently multiplied by n/d (here {n}/{d}). Sum "
         f"over pixels and dimensions, average over the batch only.",
         f"Vous avez moyenné C sur les pixels et R sur les dimensions du code (la réduction "
         f"'mean' de PyTorch) : cela vaut (C + β·(n/d)·R)/n, si bien que β est multiplié à votre "
         f"insu par n/d (ici {n}/{d}). Sommez sur les pixels et les dimensions, ne moyennez que "
         f"sur le lot."),
        (C.mean() / n + beta * R.mean(),
         "You averaged C over the pixels: that is (C + β·n·R)/n, so β is multiplied by n. Sum C "
         "over the pixels.",
         "Vous avez moyenné C sur les pixels : cela vaut (C + β·n·R)/n, si bien que β est "
         "multiplié par n. Sommez C sur les pixels."),
        (C.mean() + beta * R.mean() / d,
         "You averaged R over the code dimensions: that divides β by d. Sum R over them.",
         "Vous avez moyenné R sur les dimensions du code : cela divise β par d. Sommez R sur "
         "ces dimensions."),
        ((C + beta * R).sum(), "You summed over the batch: average over it instead.",
         "Vous avez sommé sur le lot : prenez plutôt la moyenne sur le lot."),
        (C.sum() / B + beta * R.sum(), "You averaged C over the batch but summed R over it: that "
                                       "multiplies β by the batch size B. Average both.",
         "Vous avez moyenné C sur le lot mais sommé R : cela multiplie β par la taille B du lot. "
         "Moyennez les deux."),
        ((C + R).mean(), "You forgot β in front of R.", "Vous avez oublié β devant R."),
        ((C + 2 * beta * R).mean(), "You forgot the factor ½ of the KL.",
         "Vous avez oublié le facteur ½ de la divergence."),
        ((C - beta * R).mean(), "Wrong sign in front of R: the loss is C + βR (the KL is a price).",
         "Mauvais signe devant R : la perte vaut C + βR (la divergence est un prix à payer)."),
        ((sigmoid_twice + beta * R).mean(),
         "You applied the sigmoid before a loss that takes logits "
         "(binary_cross_entropy_with_logits): pass the decoder's raw output.",
         "Vous avez appliqué la sigmoïde avant une perte qui prend des logits "
         "(binary_cross_entropy_with_logits) : passez-lui la sortie brute du décodeur."),
    ]
    mistake = _known_mistake(out, guesses, rtol=1e-6, atol=1e-8)
    if mistake is not None:
        return mistake
    return _reduction_properties(loss, out, y, logits, mu, logvar, beta, C, R, right)


def _reduction_properties(loss: Callable[..., Tensor], out: Tensor, y: Tensor, logits: Tensor,
                          mu: Tensor, logvar: Tensor, beta: float, C: Tensor, R: Tensor,
                          right: Tensor) -> Feedback:
    """Find which reduction is wrong: duplicate the batch, the pixels, the code dimensions."""
    def at(*args: Tensor, b: float = beta) -> tuple[float | None, Feedback | None]:
        value, bad = _value(loss, *(a.clone() for a in args), b)
        if bad is not None:
            return None, bad
        if value.numel() != 1:
            return None, _wrong_values(out, right)
        return float(value), None

    L = float(out)
    doubled, bad = at(*(torch.cat([t, t], 0) for t in (y, logits, mu, logvar)))
    if bad is not None:
        return bad
    if not math.isclose(doubled, L, rel_tol=1e-6, abs_tol=1e-8):
        return Feedback(False, f"Wrong reduction over the batch: with every sample written twice the loss, "
                               f"a mean over the batch, should stay {_en(L, '.4g')}; yours becomes "
                               f"{_en(doubled, '.4g')}. Average C + βR over the batch, do not sum.",
                        f"Mauvaise réduction sur le lot : quand chaque exemple est écrit deux fois, "
                        f"la perte, moyenne sur le lot, doit rester {_fr(L, '.4g')} ; la vôtre devient "
                        f"{_fr(doubled, '.4g')}. Moyennez C + βR sur le lot, ne sommez pas.")
    pixels, bad = at(torch.cat([y, y], 1), torch.cat([logits, logits], 1), mu, logvar)
    if bad is not None:
        return bad
    want, got = float(C.mean()), pixels - L
    if not math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-7):
        if math.isclose(got, 0, abs_tol=1e-7) or math.isclose(got, want / y.shape[1], rel_tol=1e-3):
            hint_en = ("It hardly changes: you averaged C over the pixels, which multiplies β by n. Sum "
                       "the binary cross-entropy over the pixels (reduction='none', then .sum(1)).")
            hint_fr = ("Elle ne change presque pas : vous avez moyenné C sur les pixels, ce qui multiplie "
                       "β par n. Sommez l'entropie croisée binaire sur les pixels (reduction='none', "
                       "puis .sum(1)).")
        else:
            hint_en = ("Check C itself: the binary cross-entropy of the logits, summed over the pixels.")
            hint_fr = ("Vérifiez C lui-même : l'entropie croisée binaire des logits, sommée sur les "
                       "pixels.")
        return Feedback(False, f"C is a sum over the pixels, so writing every pixel twice should add the "
                               f"mean C, {_en(want, '.4g')}, to the loss; yours changes by "
                               f"{_en(got, '.4g')}. {hint_en}",
                        f"C est une somme sur les pixels : écrire chaque pixel deux fois doit donc "
                        f"ajouter le C moyen, {_fr(want, '.4g')}, à la perte ; la vôtre varie de "
                        f"{_fr(got, '.4g')}. {hint_fr}")
    codes, bad = at(y, logits, torch.cat([mu, mu], 1), torch.cat([logvar, logvar], 1))
    if bad is not None:
        return bad
    want, got = beta * float(R.mean()), codes - L
    if not math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-7):
        if math.isclose(got, 0, abs_tol=1e-7) or math.isclose(got, want / mu.shape[1], rel_tol=1e-3):
            hint_en = ("It hardly changes: you averaged R over the code dimensions, which divides β by "
                       "d. Sum the KL over the dimensions.")
            hint_fr = ("Elle ne change presque pas : vous avez moyenné R sur les dimensions du code, ce "
                       "qui divise β par d. Sommez la divergence sur les dimensions.")
        else:
            hint_en = "Check R itself, ½ Σ (μ² + σ² − log σ² − 1), and the factor β in front of it."
            hint_fr = ("Vérifiez R lui-même, ½ Σ (μ² + σ² − log σ² − 1), et le facteur β qui le "
                       "précède.")
        return Feedback(False, f"R is a sum over the code dimensions, so writing every dimension twice "
                               f"should add β times the mean R, {_en(want, '.4g')}, to the loss; yours "
                               f"changes by {_en(got, '.4g')}. {hint_en}",
                        f"R est une somme sur les dimensions du code : écrire chaque dimension deux "
                        f"fois doit donc ajouter β fois le R moyen, {_fr(want, '.4g')}, à la perte ; "
                        f"la vôtre varie de {_fr(got, '.4g')}. {hint_fr}")
    return _wrong_values(out, right)


# -- a stiffer spring (an exploration) -----------------------------------------------------------

_ALIASES = {"σ": "sigma", "‖μ‖": "mu"}
_SIGNS = {"<": "<", "=": "=", ">": ">", "-": "<", "−": "<", "+": ">"}
_LISTED = ('"<" (smaller), "=" (within 5 %) or ">" (larger)',
           '"<" (plus petit), "=" (à 5 % près) ou ">" (plus grand)')


def check_beta_prediction(predict: Callable[[], dict], before: Mapping[str, float],
                          after: Mapping[str, float]) -> Feedback:
    """Check ``predict()`` = {"R": s, "C": s, "sigma": s, "mu": s}, each s one of "<", "=", ">".

    The answers predict how four held-out means change when β grows from ``before["beta"]``
    to ``after["beta"]``: the KL R (summed over the code dimensions), the reconstruction
    cost C, the radius σ of the balls and the distance ‖μ‖ of their centres to the origin
    ("<": smaller, "=": within 5 %, ">": larger). ``before`` and ``after`` are the measured
    values of the two runs (keys "beta", "R", "C", "sigma", "mu"), which the checker
    compares with the prediction; it explains each wrong one.
    """
    answer, problem = _invoke(predict)
    if problem is not None:
        return problem
    keys = ("R", "C", "sigma", "mu")
    guess, problem = _read_prediction(answer, keys, _SIGNS, listed=_LISTED, aliases=_ALIASES)
    if problem is not None:
        return problem
    try:
        b0, b1 = float(before["beta"]), float(after["beta"])
        old = {k: float(before[k]) for k in keys}
        new = {k: float(after[k]) for k in keys}
    except (KeyError, TypeError, ValueError):
        return Feedback(False, 'Pass the two measured runs, dicts with the keys "beta", "R", "C", "sigma" '
                               'and "mu".',
                        'Passez les deux mesures, des dictionnaires de clés "beta", "R", "C", "sigma" '
                        'et "mu".')
    if not b1 > b0:
        return Feedback(False, "Pass the run with the smaller β first: the question is what a stiffer "
                               "spring does.",
                        "Passez d'abord la mesure au plus petit β : la question porte sur l'effet "
                        "d'un ressort plus raide.")

    def measured(key: str) -> str:
        a, b = old[key], new[key]
        if abs(b - a) <= 0.05 * abs(a):
            return "="
        return ">" if b > a else "<"

    truth = {key: measured(key) for key in keys}
    expected = {"R": "<", "C": ">", "sigma": ">", "mu": "<"}
    spec = {"R": ".2f", "C": ".1f", "sigma": ".3f", "mu": ".2f"}

    def change(key: str, fr: bool) -> str:
        f = _fr if fr else _en
        return f"{f(old[key], spec[key])} → {f(new[key], spec[key])}"

    name_en = {"R": "R", "C": "C", "sigma": "σ", "mu": "‖μ‖"}
    why_en = {
        "R": "a stiffer spring makes every nat the code carries dearer, so the encoder keeps fewer of them",
        "C": "with less information in the code, the decoder rebuilds the digits less well",
        "sigma": ("the KL pulls σ towards 1 while the reconstruction wants small balls; a larger β "
                  "gives the KL more say"),
        "mu": "the spring ½μ² is stiffer, so the centres come closer to the origin",
    }
    why_fr = {
        "R": ("un ressort plus raide rend plus cher chaque nat que porte le code, et l'encodeur en "
              "garde moins"),
        "C": "avec moins d'information dans le code, le décodeur reconstruit moins bien les chiffres",
        "sigma": ("le terme KL tire σ vers 1, la reconstruction veut de petites boules ; un β plus "
                  "grand donne plus de poids au terme KL"),
        "mu": "le ressort ½μ² est plus raide, et les centres se rapprochent de l'origine",
    }
    words_en = {"<": "fall", "=": "stay within 5 %", ">": "grow"}
    words_fr = {"<": "baisserait", "=": "resterait stable (à 5 % près)", ">": "augmenterait"}

    def because(key: str, fr: bool) -> str:
        if truth[key] != expected[key]:
            return ""
        return f" : {why_fr[key]}" if fr else f": {why_en[key]}"

    b_en, b_fr = f"β = {_en(b0, 'g')} → {_en(b1, 'g')}", f"β = {_fr(b0, 'g')} → {_fr(b1, 'g')}"
    summary_en = ", ".join(f"{name_en[k]} {change(k, False)}" for k in keys)
    summary_fr = " ; ".join(f"{name_en[k]} {change(k, True)}" for k in keys)
    wrong = [key for key in keys if guess[key] != truth[key]]
    if not wrong:
        return Feedback(True, f"Right on all four counts ({b_en}: {summary_en}). "
                              + " ".join(f"{name_en[k]}{because(k, False)}." for k in keys
                                         if because(k, False)),
                        f"Juste sur les quatre points ({b_fr} : {summary_fr}). "
                        + " ".join(f"{name_en[k]}{because(k, True)}." for k in keys
                                   if because(k, True)))
    en = " ".join(f"You predicted that {name_en[k]} would {words_en[guess[k]]}, but it went from "
                  f"{change(k, False).replace(' → ', ' to ')}{because(k, False)}." for k in wrong)
    fr = " ".join(f"Vous avez prédit que {name_en[k]} {words_fr[guess[k]]}, mais sa valeur est passée de "
                  f"{change(k, True).replace(' → ', ' à ')}{because(k, True)}." for k in wrong)
    right = [k for k in keys if k not in wrong]
    if len(right) == 1:
        en += f' Your answer for "{right[0]}" is right.'
        fr += f' Votre réponse pour "{right[0]}" est juste.'
    elif right:
        quoted = [f'"{k}"' for k in right]
        en += f" Your answers for {', '.join(quoted[:-1])} and {quoted[-1]} are right."
        fr += f" Vos réponses pour {', '.join(quoted[:-1])} et {quoted[-1]} sont justes."
    return Feedback(False, f"Not quite ({b_en}). " + en, f"Pas tout à fait ({b_fr}). " + fr)
