"""The VAE chapter's checkers accept right answers (two ways where possible) and name wrong ones."""

import math

import pytest
import torch
import torch.nn.functional as F

from ebmlib.checks import (
    check_beta_prediction,
    check_elbo,
    check_gaussian_kl,
    check_reparameterize,
    check_vae_loss,
)
from ebmlib.vae import gaussian_kl, vae_loss


def says(feedback, en, fr):
    """The feedback is a rejection whose English text has ``en`` and French text ``fr``."""
    assert not feedback
    assert en in feedback.text["en"], feedback.text["en"]
    assert fr in feedback.text["fr"], feedback.text["fr"]


def accepts(feedback):
    assert feedback, str(feedback)
    assert feedback.text["en"].startswith("Right")
    assert feedback.text["fr"].startswith("Juste")


# -- the Gaussian KL (derivation) ----------------------------------------------------------------

def kl_closed_form(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)


def kl_from_distributions(mu, logvar):
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return torch.distributions.kl_divergence(q, p).sum(1)


def kl_by_parts(mu, logvar):
    """E_q[½‖z‖²] − H(q) + (d/2) log 2π: the spring averaged over the ball, minus its entropy."""
    d = mu.shape[1]
    spring = 0.5 * (mu**2 + logvar.exp()).sum(1)
    entropy = 0.5 * (math.log(2 * math.pi * math.e) + logvar).sum(1)
    return spring - entropy + 0.5 * d * math.log(2 * math.pi)


@pytest.mark.parametrize("right", [kl_closed_form, kl_from_distributions, kl_by_parts])
def test_gaussian_kl_accepts_three_derivations(right):
    accepts(check_gaussian_kl(right))


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 0.5 * lv - 1).sum(1), "log σ where", "log σ là où"),
    (lambda mu, lv: 0.5 * (mu**2 + torch.exp(0.5 * lv) - lv - 1).sum(1), "variance σ²", "variance σ²"),
    (lambda mu, lv: 0.5 * ((1 + mu**2) / lv.exp() + lv - 1).sum(1), "other direction", "l'autre sens"),
    (lambda mu, lv: 0.5 * (lv.exp() - lv - 1).sum(1), "forgot μ²", "oublié μ²"),
    (lambda mu, lv: kl_closed_form(mu, lv) + 0.01, "at the prior itself", "loi a priori elle-même"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1)[:, :3].sum(1), "Not additive", "Pas additive"),
    (lambda mu, lv: kl_closed_form(mu, lv) - 0.4 * mu[:, 0].abs(), "negative", "négative"),
    (lambda mu, lv: kl_closed_form(mu, lv) + 0.1 * (mu**2 * lv.exp()).sum(1), "gradient in μ",
     "gradient en μ"),
    (lambda mu, lv: kl_closed_form(mu, lv) + 0.1 * ((lv.exp() - 1) ** 2).sum(1), "gradient in logvar",
     "gradient en logvar"),
])
def test_gaussian_kl_names_wrong_derivations(wrong, en, fr):
    says(check_gaussian_kl(wrong), en, fr)


# -- the ELBO by Jensen's inequality (derivation) -----------------------------------------------

LOG_2PI = math.log(2 * math.pi)


def log_q(logvar, eps):
    return -0.5 * (LOG_2PI + logvar + eps**2).sum(-1)


def elbo_jensen(log_joint, y, mu, logvar, eps):
    z = mu + torch.exp(0.5 * logvar) * eps
    return (log_joint(y, z) - log_q(logvar, eps)).mean(0)


def elbo_with_closed_form_kl(log_joint, y, mu, logvar, eps):
    """E_q[log p(y | z)] − KL(q ‖ p(z)): another unbiased estimate of the same bound."""
    z = mu + torch.exp(0.5 * logvar) * eps
    log_prior = -0.5 * (z**2 + LOG_2PI).sum(-1)
    return (log_joint(y, z) - log_prior).mean(0) - gaussian_kl(mu, logvar).sum(1)


def elbo_in_a_loop(log_joint, y, mu, logvar, eps):
    """One draw at a time, z of shape (B, d)."""
    total = 0
    for e in eps:
        z = mu + torch.exp(0.5 * logvar) * e
        total = total + log_joint(y, z) - log_q(logvar, e)
    return total / len(eps)


@pytest.mark.parametrize("right", [elbo_jensen, elbo_with_closed_form_kl, elbo_in_a_loop])
def test_elbo_accepts_unbiased_estimates_of_the_bound(right):
    accepts(check_elbo(right))


def _jensen_terms(log_joint, y, mu, logvar, eps):
    z = mu + torch.exp(0.5 * logvar) * eps
    return log_joint(y, z) - log_q(logvar, eps)


def _shift_by_kl(factor):
    """A contrived wrong answer: the right bound shifted by a multiple of KL(q ‖ p(z | y))."""
    from ebmlib.checks.vae import _LinearGaussian

    model = _LinearGaussian()
    return lambda lj, y, mu, lv, eps: elbo_jensen(lj, y, mu, lv, eps) + factor * model.kl_to_posterior(mu, lv)


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda lj, y, mu, lv, eps: lj(y, mu + torch.exp(0.5 * lv) * eps).mean(0), "entropy of the ball",
     "l'entropie de la boule"),
    (lambda lj, y, mu, lv, eps: torch.logsumexp(_jensen_terms(lj, y, mu, lv, eps), 0) - math.log(len(eps)),
     "log of the average", "log de la moyenne"),
    (lambda lj, y, mu, lv, eps: -elbo_jensen(lj, y, mu, lv, eps), "returned −ELBO", "renvoyé −ELBO"),
    (lambda lj, y, mu, lv, eps: _jensen_terms(lj, y, mu, lv, eps).sum(0), "summed over the K draws",
     "sommé sur les K tirages"),
    (lambda lj, y, mu, lv, eps: (lj(y, mu + torch.exp(0.5 * lv) * eps)
                                 + 0.5 * (lv + eps**2).sum(-1)).mean(0), "− ½ log 2π", "− ½ log 2π"),
    (lambda lj, y, mu, lv, eps: (lj(y, mu + lv.exp() * eps) - log_q(lv, eps)).mean(0),
     "standard deviation", "l'écart type"),
    (lambda lj, y, mu, lv, eps: (lj(y, mu + torch.exp(0.5 * lv) * eps)
                                 + 0.5 * (LOG_2PI + lv + eps**2).mean(-1)).mean(0), "Not tight",
     "Borne non atteinte"),
    (_shift_by_kl(2.0), "Not a lower bound", "pas une borne inférieure"),
    (_shift_by_kl(-1.0), "gap", "l'écart"),
    (lambda lj, y, mu, lv, eps: elbo_jensen(lj, y, mu, lv, eps)[:2], "one bound per observation",
     "pour chaque observation"),
    (lambda lj, y, mu, lv, eps: (lj(y, mu) - log_q(lv, eps)).mean(0), "at the centre μ", "au centre μ"),
])
def test_elbo_names_wrong_bounds(wrong, en, fr):
    says(check_elbo(wrong), en, fr)


# -- the reparameterisation (implementation) -----------------------------------------------------

@pytest.mark.parametrize("right", [
    lambda mu, lv, eps: mu + torch.exp(0.5 * lv) * eps,
    lambda mu, lv, eps: torch.addcmul(mu, lv.exp().sqrt(), eps),
])
def test_reparameterize_accepts_two_ways(right):
    accepts(check_reparameterize(right))


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda mu, lv, eps: mu + lv.exp() * eps, "variance", "variance"),
    (lambda mu, lv, eps: (mu + torch.exp(0.5 * lv) * eps).detach(), "no gradient", "aucun gradient"),
    (lambda mu, lv, eps: mu + torch.exp(0.5 * lv) * torch.randn_like(mu), "draws its own noise",
     "tire son propre bruit"),
    (lambda mu, lv, eps: torch.normal(mu, torch.exp(0.5 * lv)), "draws its own noise",
     "tire son propre bruit"),
    (lambda mu, lv, eps: mu - torch.exp(0.5 * lv) * eps, "Wrong sign", "Mauvais signe"),
    (lambda mu, lv, eps: mu + lv * eps, "logvar is log σ², not σ", "logvar vaut log σ², pas σ"),
    (lambda mu, lv, eps: torch.exp(0.5 * lv) * eps, "forgot the centre", "oublié le centre"),
    (lambda mu, lv, eps: mu + torch.exp(0.5 * lv), "Multiply σ by the noise", "Multipliez σ par le bruit"),
    (lambda mu, lv, eps: mu + torch.exp(0.5 * lv) * eps + 0.01, "largest difference is 0.01",
     "le plus grand écart vaut 0,01"),
])
def test_reparameterize_names_wrong_draws(wrong, en, fr):
    says(check_reparameterize(wrong), en, fr)


# -- the loss with the right reductions (implementation) ----------------------------------------

def loss_by_hand(y, logits, mu, logvar, beta):
    C = F.binary_cross_entropy_with_logits(logits, y, reduction="none").sum(1)
    R = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)
    return (C + beta * R).mean()


def loss_from_the_library(y, logits, mu, logvar, beta):
    return vae_loss(y, logits, mu, logvar, beta=beta, reduction="batchmean").loss


def bce(y, logits):
    return F.binary_cross_entropy_with_logits(logits, y, reduction="none")


def kl(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1)


@pytest.mark.parametrize("right", [loss_by_hand, loss_from_the_library])
def test_vae_loss_accepts_two_ways(right):
    accepts(check_vae_loss(right))


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda y, lg, mu, lv, b: F.binary_cross_entropy_with_logits(lg, y) + b * kl(mu, lv).mean(),
     "multiplied by n/d", "multiplié à votre insu par n/d"),
    (lambda y, lg, mu, lv, b: (bce(y, lg).sum(1) + b * kl(mu, lv).sum(1)).sum(), "summed over the batch",
     "sommé sur le lot"),
    (lambda y, lg, mu, lv, b: bce(y, lg).sum(1).mean() + b * kl(mu, lv).sum(), "multiplies β by the batch "
     "size", "multiplie β par la taille B du lot"),
    (lambda y, lg, mu, lv, b: (bce(y, torch.sigmoid(lg)).sum(1) + b * kl(mu, lv).sum(1)).mean(),
     "sigmoid", "sigmoïde"),
    (lambda y, lg, mu, lv, b: (bce(y, lg).sum(1) - b * kl(mu, lv).sum(1)).mean(), "Wrong sign",
     "Mauvais signe"),
    # Found by the properties: duplicate the batch, the pixels, the code dimensions.
    (lambda y, lg, mu, lv, b: bce(y, lg).sum() + b * kl(mu, lv).sum(1).mean(),
     "Wrong reduction over the batch", "Mauvaise réduction sur le lot"),
    (lambda y, lg, mu, lv, b: bce(y, lg).mean(1).mean() * 784 + b * kl(mu, lv).sum(1).mean(),
     "averaged C over the pixels", "moyenné C sur les pixels"),
    (lambda y, lg, mu, lv, b: ((y - torch.sigmoid(lg)) ** 2).sum(1).mean() + b * kl(mu, lv).sum(1).mean(),
     "Check C itself", "Vérifiez C lui-même"),
    (lambda y, lg, mu, lv, b: bce(y, lg).sum(1).mean() + b * kl(mu, lv).mean(1).mean() * 20,
     "averaged R over the code dimensions", "moyenné R sur les dimensions du code"),
])
def test_vae_loss_names_wrong_reductions(wrong, en, fr):
    says(check_vae_loss(wrong), en, fr)


# -- a stiffer spring (exploration) --------------------------------------------------------------

BEFORE = {"beta": 1.0, "R": 17.0, "C": 134.0, "sigma": 0.56, "mu": 4.65}
AFTER = {"beta": 4.0, "R": 5.1, "C": 163.0, "sigma": 0.81, "mu": 2.76}


def test_beta_prediction_accepts_the_measured_directions():
    feedback = check_beta_prediction(lambda: {"R": "<", "C": ">", "sigma": ">", "mu": "<"}, BEFORE, AFTER)
    accepts(feedback)
    # the symbols are accepted as keys too, and signs as answers, with spaces around
    assert check_beta_prediction(lambda: {"R": "<", "C": ">", "σ": ">", "‖μ‖": "<"}, BEFORE, AFTER)
    assert check_beta_prediction(lambda: {"R": "-", "C": " + ", "sigma": ">", "mu": "−"}, BEFORE, AFTER)


@pytest.mark.parametrize("predict, en, fr", [
    (lambda: {"R": "<", "C": ">", "sigma": "<", "mu": "<"}, "σ would fall", "σ baisserait"),
    (lambda: {"R": ">", "C": "=", "sigma": ">", "mu": "<"}, "every nat", "chaque nat"),
    (lambda: {"R": "<", "C": ">", "sigma": ">"}, "four answers", "quatre réponses"),
    (lambda: {"R": "less", "C": ">", "sigma": ">", "mu": "<"},
     'The answer for "R" must be "<" (smaller), "=" (within 5 %) or ">" (larger); received \'less\'',
     'La réponse pour "R" doit être "<" (plus petit), "=" (à 5 % près) ou ">" (plus grand) ; reçue'),
    (lambda: ["<", ">", ">", "<"], 'Return a dict with four answers: {"R": …, "C": …, "sigma": …, "mu": …}',
     'Renvoyez un dictionnaire de quatre réponses'),
    (lambda: {"R": "<", "C": ">", "sigma": ">", "mu": "="}, "‖μ‖ would stay within 5 %, but it went from "
     "4.65 to 2.76", "‖μ‖ resterait stable (à 5 % près), mais sa valeur est passée de 4,65 à 2,76"),
])
def test_beta_prediction_explains_wrong_predictions(predict, en, fr):
    says(check_beta_prediction(predict, BEFORE, AFTER), en, fr)


def test_beta_prediction_wants_the_runs_in_order_and_an_answer():
    right = {"R": "<", "C": ">", "sigma": ">", "mu": "<"}
    says(check_beta_prediction(lambda: right, AFTER, BEFORE), "smaller β first", "plus petit β")

    def predict():
        raise NotImplementedError

    says(check_beta_prediction(predict, BEFORE, AFTER), "Not implemented", "Pas encore")
