"""Chapter 1's checkers: right answers pass (two ways where possible), the wrong answers a
student would give are named, in English and in French."""

import itertools
import math

import pytest
import torch

from ebmlib import L1, SquaredL2
from ebmlib.checks import (
    check_l1_free_energy,
    check_l2_free_energy,
    check_toy_energy,
    check_toy_inference,
    check_zero_offset_prediction,
)
from ebmlib.checks.latent_ebm import zero_offset_shares
from ebmlib.solvers import shrink
from ebmlib.toy import curve, distance_to_curve


def both(feedback):
    """The feedback's text in English and in French."""
    return feedback.text["en"], feedback.text["fr"]


# -- the energy (warm-up) ------------------------------------------------------------------

def residual(y, z):
    return y - curve(z[:, 0]) - z[:, 1:]


@pytest.mark.parametrize("energy", [
    lambda y, z, lam: residual(y, z).pow(2).sum(1) + lam * z[:, 1:].abs().sum(1),
    lambda y, z, lam: torch.linalg.vector_norm(residual(y, z), dim=1) ** 2
    + lam * torch.linalg.vector_norm(z[:, 1:], ord=1, dim=1),
])
def test_toy_energy_accepts_two_right_answers(energy):
    assert check_toy_energy(energy)


@pytest.mark.parametrize("energy, en, fr", [
    (lambda y, z, lam: residual(y, z).pow(2).mean(1) + lam * z[:, 1:].abs().sum(1),
     "half of ‖y − ȳ‖²", "la moitié de ‖y − ȳ‖²"),
    (lambda y, z, lam: residual(y, z).pow(2).sum(1) + lam * z[:, 1:].norm(dim=1),
     "Euclidean norm ‖u‖₂", "norme euclidienne ‖u‖₂"),
    (lambda y, z, lam: (y - curve(z[:, 0]) + z[:, 1:]).pow(2).sum(1)
     + lam * z[:, 1:].abs().sum(1), "c(t) − u", "c(t) − u"),
    (lambda y, z, lam: residual(y, z).pow(2).sum(1) + lam * z.abs().sum(1),
     "also penalises the position t", "pénalise aussi la position t"),
])
def test_toy_energy_names_the_slips(energy, en, fr):
    feedback = check_toy_energy(energy)
    assert not feedback
    text_en, text_fr = both(feedback)
    assert en in text_en and fr in text_fr, (text_en, text_fr)


# -- the free energy with the squared L2 norm (derivation) --------------------------------

@pytest.mark.parametrize("answer", [
    lambda y, lam: lam / (1 + lam) * distance_to_curve(y) ** 2,
    lambda y, lam: (1 - 1 / (1 + lam)) * distance_to_curve(y).pow(2),
])
def test_l2_free_energy_accepts_two_right_answers(answer):
    assert check_l2_free_energy(answer)


@pytest.mark.parametrize("answer, en, fr", [
    (lambda y, lam: (lam / (1 + lam)) ** 2 * distance_to_curve(y) ** 2,
     "without its penalty λs*²", "sans sa pénalité λs*²"),
    (lambda y, lam: lam / (1 + lam) ** 2 * distance_to_curve(y) ** 2,
     "without the cost (ρ − s*)²", "sans le coût (ρ − s*)²"),
    (lambda y, lam: distance_to_curve(y) ** 2 / (1 + lam) ** 2,
     "squared length s*²", "le carré de la longueur s*"),
    (lambda y, lam: lam / (1 + lam) * distance_to_curve(y),
     "quadratic in the distance", "quadratique en la distance"),
    (lambda y, lam: 1 / (1 + lam) * distance_to_curve(y) ** 2,
     "factor 0.8000 instead of λ/(1 + λ) = 0.2000. Check the limits",
     "facteur 0,8000 au lieu de λ/(1 + λ) = 0,2000. Vérifiez les limites"),
])
def test_l2_free_energy_names_the_slips_of_the_derivation(answer, en, fr):
    feedback = check_l2_free_energy(answer)
    assert not feedback
    text_en, text_fr = both(feedback)
    assert en in text_en and fr in text_fr, (text_en, text_fr)


# -- the free energy with L1 (derivation) -------------------------------------------------

def offsets(y):
    t = torch.linspace(0, 2 * math.pi, 4097, dtype=y.dtype)[:-1]
    return y[:, None, :] - curve(t)  # (B, T, 2)


def coordinatewise(h):
    return lambda y, lam: h(offsets(y), lam).sum(2).min(1).values


def huber(r, lam):
    return torch.where(r.abs() <= lam / 2, r**2, lam * r.abs() - lam**2 / 4)


def by_shrinkage(y, lam):
    """Another right answer: shrink each coordinate of the offset, then evaluate E."""
    r = offsets(y)
    u = shrink(r, lam / 2)
    return ((r - u) ** 2 + lam * u.abs()).sum(2).min(1).values


@pytest.mark.parametrize("answer", [coordinatewise(huber), by_shrinkage])
def test_l1_free_energy_accepts_two_right_answers(answer):
    assert check_l1_free_energy(answer)


@pytest.mark.parametrize("h, en, fr", [
    (lambda r, lam: torch.where(r.abs() <= lam, r**2, lam * r.abs()), "½ convention",
     "convention avec ½"),
    (lambda r, lam: torch.where(r.abs() <= lam / 2, r**2, lam * r.abs()), "jumps",
     "fait d'ailleurs un saut"),
    (lambda r, lam: torch.where(r.abs() <= lam / 2, r**2, lam * r.abs() - lam**2 / 2),
     "but not the cost", "mais pas le coût"),
    (lambda r, lam: huber(r, lam) / 2, "half the right one", "la moitié de la bonne valeur"),
    (lambda r, lam: torch.where(r.abs() <= lam / 2, r**2, lam * r.abs() - lam**2 / 3),
     "linear branch", "branche affine"),
    (lambda r, lam: torch.where(r.abs() <= lam / 2, 1.2 * r**2, lam * r.abs() - lam**2 / 4),
     "quadratic branch", "branche quadratique"),
])
def test_l1_free_energy_names_the_slip_or_the_region(h, en, fr):
    feedback = check_l1_free_energy(coordinatewise(h))
    assert not feedback
    text_en, text_fr = both(feedback)
    assert en in text_en and fr in text_fr, (text_en, text_fr)


def huber_by_shrinkage(d, lam):
    s = shrink(d, lam / 2)
    return (d - s) ** 2 + lam * s.abs()


@pytest.mark.parametrize("H", [huber, huber_by_shrinkage])
def test_l1_free_energy_accepts_the_derived_huber_function(H):
    feedback = check_l1_free_energy(by_shrinkage, H)
    assert feedback
    text_en, text_fr = both(feedback)
    assert "minimum over s" in text_en and "minimum de (d − s)² + λ|s|" in text_fr


@pytest.mark.parametrize("H, en, fr", [
    (lambda d, lam: torch.where(d.abs() <= lam, d**2, lam * d.abs()), "threshold λ, that of the ½",
     "seuil λ, celui de la convention avec ½"),
    (lambda d, lam: torch.where(d.abs() <= lam, d**2 / 2, lam * d.abs() - lam**2 / 2),
     "the ½ convention", "la convention avec ½"),
    (lambda d, lam: torch.where(d.abs() <= lam / 2, d**2, lam * d.abs() - lam**2 / 2),
     "but not the cost", "mais pas le coût"),
    (lambda d, lam: torch.where(d.abs() <= lam / 2, d**2, lam * d.abs()), "jumps",
     "fait d'ailleurs un saut"),
    (lambda d, lam: huber(d, lam) / 2, "half the right one", "la moitié de la bonne valeur"),
    (lambda d, lam: shrink(d, lam / 2), "You return the best s", "Vous renvoyez le meilleur s"),
    (lambda d, lam: torch.where(d.abs() <= lam / 2, d**2, lam * d - lam**2 / 4),
     "right for |d| ≤ λ/2 and d > λ/2 but wrong for d < −λ/2. Beyond λ/2 the best s is d − λ/2 "
     "for d > 0 and d + λ/2 for d < 0: mind the sign.",
     "juste pour |d| ≤ λ/2 et d > λ/2, mais faux pour d < −λ/2. Au-delà de λ/2, le meilleur s "
     "vaut d − λ/2 si d > 0 et d + λ/2 si d < 0 : attention au signe."),
    (lambda d, lam: torch.where(d.abs() <= lam / 2, 0.9 * d**2, lam * d.abs() - lam**2 / 4),
     "right for d < −λ/2 and d > λ/2 but wrong for |d| ≤ λ/2. Where |d| ≤ λ/2 the best s is 0",
     "juste pour d < −λ/2 et d > λ/2, mais faux pour |d| ≤ λ/2. Là où |d| ≤ λ/2, le meilleur s est 0"),
])
def test_l1_free_energy_names_the_slips_of_the_derivation(H, en, fr):
    feedback = check_l1_free_energy(by_shrinkage, H)
    assert not feedback
    text_en, text_fr = both(feedback)
    assert en in text_en and fr in text_fr, (text_en, text_fr)


def test_l1_free_energy_region_message_says_which_region_is_right():
    wrong_far = coordinatewise(lambda r, lam: torch.where(r.abs() <= lam / 2, r**2,
                                                          lam * r.abs() - lam**2 / 3))
    text_en, text_fr = both(check_l1_free_energy(wrong_far))
    assert "0 of the 16 points near the curve" in text_en and "inference finds" in text_en
    assert "0 des 16 points proches de la courbe" in text_fr and "l'inférence trouve" in text_fr


def test_l1_free_energy_says_when_the_grid_of_t_is_too_coarse():
    def coarse(y, lam):
        t = torch.linspace(0, 2 * math.pi, 101, dtype=y.dtype)[:-1]
        return huber(y[:, None, :] - curve(t), lam).sum(2).min(1).values

    feedback = check_l1_free_energy(coarse, huber)
    assert not feedback
    text_en, text_fr = both(feedback)
    assert "never below" in text_en and "too few positions t" in text_en
    assert "jamais inférieure" in text_fr and "trop peu de positions t" in text_fr


def test_l1_free_energy_does_not_blame_a_right_huber_function():
    def scaled(y, lam):
        """A right H_λ, but a free energy 20 % too low: wrong in every region."""
        return 0.8 * huber(offsets(y), lam).sum(2).min(1).values

    text_en, text_fr = both(check_l1_free_energy(scaled, huber))
    assert "although your H_λ is right" in text_en and "check H_λ on its own" not in text_en
    assert "bien que votre H_λ soit juste" in text_fr


def test_l1_free_energy_names_a_minimum_over_t_taken_per_coordinate():
    def per_coordinate(y, lam):
        return huber(offsets(y), lam).min(1).values.sum(1)

    text_en, text_fr = both(check_l1_free_energy(per_coordinate))
    assert "separately for each coordinate" in text_en
    assert "séparément pour chaque coordonnée" in text_fr


# -- inference by proximal gradient descent (implementation) -------------------------------

def infer_autograd(y, z0, lam, step, max_iter):
    z = z0.clone()
    for _ in range(max_iter):
        z.requires_grad_(True)
        cost = (y - curve(z[:, 0]) - z[:, 1:]).pow(2).sum()
        (g,) = torch.autograd.grad(cost, z)
        with torch.no_grad():
            v = z - step * g
            z = torch.cat([v[:, :1], shrink(v[:, 1:], step * lam)], 1)
    return z.detach()


def infer_by_hand(y, z0, lam, step, max_iter, a=0.3, k=3):
    """The same with the derivative of c(t) written out."""
    t, u = z0[:, 0].clone(), z0[:, 1:].clone()
    for _ in range(max_iter):
        r = y - curve(t) - u
        radius, dradius = 1 + a * torch.cos(k * t), -a * k * torch.sin(k * t)
        dc = torch.stack((dradius * torch.cos(t) - radius * torch.sin(t),
                          dradius * torch.sin(t) + radius * torch.cos(t)), 1)
        t = t + step * 2 * (r * dc).sum(1)
        v = u + step * 2 * r
        u = torch.sign(v) * torch.clamp(v.abs() - step * lam, min=0)
    return torch.cat([t[:, None], u], 1)


def infer_wrapped(y, z0, lam, step, max_iter):
    """A right answer that keeps t in [0, 2π)."""
    z = infer_by_hand(y, z0, lam, step, max_iter)
    return torch.cat([torch.remainder(z[:, :1], 2 * math.pi), z[:, 1:]], 1)


@pytest.mark.parametrize("infer", [infer_autograd, infer_by_hand, infer_wrapped])
def test_inference_accepts_two_right_answers(infer):
    feedback = check_toy_inference(infer)
    assert feedback, str(feedback)
    text_en, text_fr = both(feedback)
    assert "optimality conditions" in text_en and "conditions d'optimalité" in text_fr


def variant(shrink_u=None, shrink_t=False, grad_scale=1.0, frozen_t=False):
    """A student's loop with one slip."""
    def infer(y, z0, lam, step, max_iter):
        z = z0.clone()
        for _ in range(max_iter):
            z.requires_grad_(True)
            cost = (y - curve(z[:, 0]) - z[:, 1:]).pow(2).sum()
            (g,) = torch.autograd.grad(cost, z)
            with torch.no_grad():
                v = z - step * grad_scale * g
                t = z[:, :1] if frozen_t else v[:, :1]
                if shrink_t:
                    t = shrink(t, step * lam)
                u = shrink_u(v[:, 1:], z[:, 1:], lam, step)
                z = torch.cat([t, u], 1)
        return z.detach()
    return infer


def right_shrink(v, u, lam, step):
    return shrink(v, step * lam)


@pytest.mark.parametrize("infer, en, fr", [
    (variant(lambda v, u, lam, step: v), "L1 term is missing", "le terme L1 manque"),
    (variant(lambda v, u, lam, step: v - step * lam * torch.sign(u)), "subgradient step",
     "pas de sous-gradient"),
    (variant(lambda v, u, lam, step: shrink(v, lam)), "shrunk by λ:", "rétréci de λ :"),
    (variant(lambda v, u, lam, step: shrink(v, lam / 2)), "shrunk by λ/2",
     "rétréci de λ/2"),
    (variant(lambda v, u, lam, step: shrink(v, step * lam / 2)), "shrunk by η·λ/2",
     "rétréci de η·λ/2"),
    (variant(right_shrink, shrink_t=True), "t is shrunk too", "t est rétréci lui aussi"),
    (variant(right_shrink, grad_scale=0.5), "2r, not r", "2r, et non r"),
    (variant(right_shrink, grad_scale=-1.0), "up the gradient", "monte le long du gradient"),
    (variant(right_shrink, frozen_t=True), "t has not moved", "t n'a pas bougé"),
    (variant(lambda v, u, lam, step: shrink(v - step * lam * torch.sign(u), step * lam)),
     "paid the L1 term twice", "payé deux fois le terme L1"),
    (variant(right_shrink, grad_scale=1 / 24), "B times too small", "B fois trop petit"),
])
def test_inference_names_the_classic_slips_of_one_step(infer, en, fr):
    feedback = check_toy_inference(infer)
    assert not feedback
    text_en, text_fr = both(feedback)
    assert en in text_en and fr in text_fr, (text_en, text_fr)


def test_inference_lists_the_samples_that_are_not_optimal_yet():
    def too_few_steps(y, z0, lam, step, max_iter):
        return infer_autograd(y, z0, lam, step, min(max_iter, 5))

    feedback = check_toy_inference(too_few_steps)
    assert not feedback
    text_en, text_fr = both(feedback)
    assert text_en.startswith("Keep going: after max_iter = 200, your z satisfies the optimality "
                              "conditions except at samples ")
    assert text_fr.startswith("Pas encore : après max_iter = 200 pas, votre z vérifie les "
                              "conditions d'optimalité sauf pour les exemples ")


def test_inference_reports_a_wrong_shape():
    feedback = check_toy_inference(lambda y, z0, lam, step, max_iter: z0[:, 1:])
    text_en, text_fr = both(feedback)
    assert not feedback and "(24, 3)" in text_en and "Forme attendue" in text_fr


# -- where is the offset exactly zero? (exploration) ---------------------------------------

def test_the_zero_offset_band_widens_with_lambda_for_l1_only():
    l1 = zero_offset_shares(L1)
    assert all(a < b for a, b in itertools.pairwise(l1)) and 0 < l1[0] and l1[-1] < 1
    assert zero_offset_shares(SquaredL2) == [0.0] * len(l1)


@pytest.mark.parametrize("answer", [
    {"L1": "B", "SquaredL2": "A"},
    {L1: "b", SquaredL2: " a "},
])
def test_zero_offset_prediction_accepts_the_right_answer(answer):
    feedback = check_zero_offset_prediction(lambda: answer)
    assert feedback
    text_en, text_fr = both(feedback)
    assert "widens" in text_en and "s'élargit" in text_fr


@pytest.mark.parametrize("answer, en, fr", [
    ({"L1": "C", "SquaredL2": "A"}, 'For "L1" you predicted C', 'Pour "L1", vous avez prédit C'),
    ({"L1": "B", "SquaredL2": "B"}, "only on the curve itself", "que sur la courbe elle-même"),
    ({"L1": "D", "SquaredL2": "B"}, 'For "SquaredL2" you predicted B',
     'Pour "SquaredL2", vous avez prédit B'),
    ({"L1": "E", "SquaredL2": "A"}, "must be one of the letters", "doit être l'une des lettres"),
    (("B", "A"), "Return a dict", "Renvoyez un dictionnaire"),
])
def test_zero_offset_prediction_explains_wrong_answers(answer, en, fr):
    feedback = check_zero_offset_prediction(lambda: answer)
    assert not feedback
    text_en, text_fr = both(feedback)
    assert en in text_en and fr in text_fr, (text_en, text_fr)


def test_zero_offset_prediction_reads_the_answer_with_the_shared_reader():
    """The messages of _feedback._read_prediction, with this exercise's letters."""
    text_en, text_fr = both(check_zero_offset_prediction(lambda: {"L1": "B"}))
    assert text_en == ('Return a dict with two answers: {"L1": …, "SquaredL2": …}, each one of the '
                       'letters "A", "B", "C", "D".')
    assert text_fr == ('Renvoyez un dictionnaire de deux réponses : {"L1": …, "SquaredL2": …}, '
                       'chacune l\'une des lettres "A", "B", "C", "D".')
    text_en, text_fr = both(check_zero_offset_prediction(lambda: {"L1": "B", "SquaredL2": "AB"}))
    assert text_en == ('The answer for "SquaredL2" must be one of the letters "A", "B", "C", "D"; '
                       "received 'AB'.")
    assert text_fr == ('La réponse pour "SquaredL2" doit être l\'une des lettres "A", "B", "C", "D" ; '
                       "reçue : 'AB'.")


def test_zero_offset_prediction_not_implemented():
    def predict():
        raise NotImplementedError

    text_en, text_fr = both(check_zero_offset_prediction(predict))
    assert "Not implemented yet" in text_en and "Pas encore implémenté" in text_fr
