"""Checkers of the VAE chapter."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._feedback import (
    Feedback,
    _call,
    _known_mistake,
    _run,
    _wrong_values,
)

__all__ = ["check_gaussian_kl", "check_reparameterize", "check_vae_loss"]


def check_vae_loss(loss: Callable[[Tensor, Tensor, Tensor, Tensor, float], Tensor]) -> Feedback:
    """Check ``loss(y, logits, mu, logvar, beta)``: C + βR per sample, averaged over the batch.

    C is the binary cross-entropy of the logits, summed over the n pixels; R the KL,
    summed over the d code dimensions: ``vae_loss(..., reduction="batchmean").loss``. The
    feedback names the classic reduction mistakes (the exercise of the VAE chapter).
    """
    g = torch.Generator().manual_seed(7)
    B, n, d, beta = 6, 10, 3, 0.3  # not 0.5: then 2β = 1 and two mistakes look alike
    y = torch.rand(B, n, generator=g, dtype=torch.float64)
    logits = 2 * torch.randn(B, n, generator=g, dtype=torch.float64)
    mu = torch.randn(B, d, generator=g, dtype=torch.float64)
    logvar = torch.randn(B, d, generator=g, dtype=torch.float64)
    out, bad = _run(loss, (y.clone(), logits.clone(), mu.clone(), logvar.clone(), beta), (),
                    "one number, the mean over the batch",
                    "la perte, un seul nombre (la moyenne sur le lot)")
    if bad is not None:
        return bad
    C = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(1)
    R = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1)
    right = (C + beta * R).mean()
    if torch.allclose(out, right, rtol=1e-6, atol=1e-8):
        return Feedback(True, "Right: C summed over the pixels, R over the code dimensions, "
                              "C + βR averaged over the batch.",
                        "Juste : C sommé sur les pixels, R sur les dimensions du code, C + βR "
                        "moyenné sur le lot.")
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
        ((C + R).mean(), "You forgot β in front of R.", "Vous avez oublié β devant R."),
        ((C + 2 * beta * R).mean(), "You forgot the factor ½ of the KL.",
         "Vous avez oublié le facteur ½ de la divergence."),
    ]
    mistake = _known_mistake(out, guesses, rtol=1e-6, atol=1e-8)
    return mistake if mistake is not None else _wrong_values(out, right)


def check_gaussian_kl(kl: Callable[[Tensor, Tensor], Tensor]) -> Feedback:
    """Check ``kl(mu, logvar)`` = KL(N(μ, diag σ²) ‖ N(0, I)) of each sample, in closed form.

    mu and logvar (log σ²) are (B, d); the answer must be (B,), summed over the d dimensions.
    """
    g = torch.Generator().manual_seed(6)
    mu = torch.randn(8, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(8, 3, generator=g, dtype=torch.float64)
    out, bad = _run(kl, (mu.clone(), logvar.clone()), (8,), "one KL per sample",
                    "les divergences (une pour chaque exemple)")
    if bad is not None:
        return bad
    var = logvar.exp()
    terms = 0.5 * (mu**2 + var - logvar - 1)
    right = terms.sum(1)
    if torch.allclose(out, right, rtol=1e-6, atol=1e-8):
        return Feedback(True, "Right: ½ Σ (μ² + σ² − log σ² − 1), summed over the code dimensions.",
                        "Juste : ½ Σ (μ² + σ² − log σ² − 1), la somme portant sur les "
                        "dimensions du code.")
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
        (0.5 * (mu**2 + var - logvar - 1).sum(), "Return one KL per sample (B,), not their sum.",
         "Renvoyez une divergence pour chaque exemple, de forme (B,), et non leur somme."),
    ]
    mistake = _known_mistake(out, guesses, rtol=1e-6, atol=1e-8)
    if mistake is not None:
        return mistake
    i = int((out - right).abs().argmax())
    return Feedback(False, f"Wrong value: for sample {i} you give {out[i]:.4f}, expected {right[i]:.4f}.",
                    f"Valeur fausse : pour l'exemple {i}, vous donnez {out[i]:.4f} au lieu de "
                    f"{right[i]:.4f}.")


def check_reparameterize(reparameterize: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Feedback:
    """Check ``reparameterize(mu, logvar, eps)`` = μ + σ ⊙ ε with σ = exp(½ logvar), (B, d),
    and that gradients reach μ and logvar (nothing detached)."""
    g = torch.Generator().manual_seed(7)
    mu0 = torch.randn(5, 4, generator=g, dtype=torch.float64)
    logvar0 = torch.randn(5, 4, generator=g, dtype=torch.float64)
    eps = torch.randn(5, 4, generator=g, dtype=torch.float64)
    mu, logvar = mu0.clone().requires_grad_(True), logvar0.clone().requires_grad_(True)
    out, bad = _call(reparameterize, mu, logvar, eps.clone())
    if bad is not None:
        return bad
    if tuple(out.shape) != (5, 4):
        return Feedback(False, f"Expected one code per sample, (5, 4), received {tuple(out.shape)}.",
                        "Forme attendue pour les codes (un pour chaque exemple) : (5, 4) ; "
                        f"reçue : {tuple(out.shape)}.")
    value = out.detach().to(torch.float64)
    sigma = torch.exp(0.5 * logvar0)
    right = mu0 + sigma * eps
    if not torch.allclose(value, right, atol=1e-8):
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
        ]
        for guess, en, fr in guesses:
            if torch.allclose(value, guess, atol=1e-8):
                return Feedback(False, en, fr)
        return _wrong_values(value, right)
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
