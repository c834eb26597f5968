"""The checkers of the ISTA and FISTA chapter accept right answers and name wrong ones.

Each checker is given two correct implementations where possible, and wrong answers a
student would give; the messages are checked in English and in French.
"""

from __future__ import annotations

import math

import pytest
import torch

from ebmlib.checks import (
    check_fista,
    check_fista_prediction,
    check_ista_step,
    check_lipschitz,
    check_prox_l1,
    check_shrink,
)
from ebmlib.checks.ista_fista import (
    EXPLORE_LAM,
    EXPLORE_RHO,
    _fista_problem,
    _fista_variant,
    explore_curvatures,
    explore_iterations,
)
from ebmlib.solvers import fista, lipschitz, shrink


def message(feedback, lang: str) -> str:
    return feedback.text[lang]


def stub(*args):
    raise NotImplementedError


# -- shrinkage as the proximal operator of θ|·| ---------------------------------------------

def soft(v, theta):
    return torch.sign(v) * torch.clamp(v.abs() - theta, min=0)


def soft_by_cases(v, theta):  # the case analysis of the derivation, written out
    return torch.where(v > theta, v - theta, torch.where(v < -theta, v + theta, torch.zeros_like(v)))


@pytest.mark.parametrize("prox", [soft, soft_by_cases, lambda v, t: shrink(v, t)])
def test_prox_accepts_right_answers(prox):
    assert check_prox_l1(prox)


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda v, t: torch.where(v.abs() > t, v, torch.zeros_like(v)), "hard thresholding",
     "seuillage dur"),
    (lambda v, t: soft(v, t / 2), "without the ½", "sans le ½"),
    (lambda v, t: torch.clamp(v - t, min=0), "Negative values are lost",
     "valeurs négatives sont perdues"),
    (lambda v, t: torch.clamp(v.abs() - t, min=0), "Multiply by sign(v)", "Multipliez par sign(v)"),
    (lambda v, t: torch.sign(v) * (v.abs() - t), "exactly 0", "exactement en 0"),
])
def test_prox_names_classic_mistakes(wrong, en, fr):
    feedback = check_prox_l1(wrong)
    assert not feedback
    assert en in message(feedback, "en") and fr in message(feedback, "fr")


def test_prox_points_at_the_values_where_the_optimality_condition_fails():
    # Zero on a band a little wider than [−θ, θ]: wrong only just above the threshold.
    def too_wide(v, theta):
        return torch.where(v.abs() <= theta + 0.05, torch.zeros_like(v), soft(v, theta))

    feedback = check_prox_l1(too_wide)
    assert not feedback
    assert message(feedback, "en").startswith("Keep going: for θ = 0.5, your z satisfies the optimality")
    assert "|v| > θ" in message(feedback, "en")
    assert message(feedback, "fr").startswith("Pas encore : pour θ = 0,5, votre z vérifie la condition")
    assert "v = 0,51 ; −0,51" in message(feedback, "fr")
    off = check_prox_l1(lambda v, t: soft(v, t) + 0.01 * (v > 2))
    assert not off and "z − v + θ sign(z) = 0,010 au lieu de 0" in message(off, "fr")


def test_prox_reports_not_implemented():
    assert "NotImplementedError" in message(check_prox_l1(stub), "en")


def test_the_older_shrink_checker_writes_french_numbers():
    off = check_shrink(lambda v, t: soft(v, t) + 0.5 * (v > 2))
    assert not off and message(off, "fr") == "Pour v = 2,10 et θ = 0,75, vous donnez 1,850 au lieu de 1,350."
    assert message(off, "en") == "For v = 2.10 and θ = 0.75 you give 1.850, expected 1.350."


# -- one ISTA step ---------------------------------------------------------------------------

def ista_step(z, y, W, lam, L):
    return soft(z - 2 * (z @ W.T - y) @ W / L, lam / L)


def ista_step_precomputed(z, y, W, lam, L):  # the W_e, S form of the recurrent computation
    S = torch.eye(W.shape[1], dtype=W.dtype) - 2 / L * W.T @ W
    return shrink(y @ (2 / L * W) + z @ S, lam / L)


@pytest.mark.parametrize("right", [ista_step, ista_step_precomputed])
def test_ista_step_accepts_right_answers(right):
    assert check_ista_step(right)


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda z, y, W, lam, L: z - 2 * (z @ W.T - y) @ W / L, "forgot the shrinkage",
     "oublié le rétrécissement"),
    (lambda z, y, W, lam, L: soft(z - 2 * (z @ W.T - y) @ W / L, lam), "not by λ", "pas de λ"),
    (lambda z, y, W, lam, L: soft(z - (z @ W.T - y) @ W / L, lam / L), "lost the factor 2",
     "perdu le facteur 2"),
    (lambda z, y, W, lam, L: soft(z - 2 * (y - z @ W.T) @ W / L, lam / L), "Step down the gradient",
     "sens opposé au gradient"),
])
def test_ista_step_names_classic_mistakes(wrong, en, fr):
    feedback = check_ista_step(wrong)
    assert not feedback
    assert en in message(feedback, "en") and fr in message(feedback, "fr")


def test_ista_step_explains_shapes_and_other_errors():
    columns = check_ista_step(lambda z, y, W, lam, L: soft(z - 2 * W.T @ (W @ z - y) / L, lam / L))
    assert not columns and "Rows are samples" in message(columns, "en")
    assert "(z @ W.T − y) @ W" in message(columns, "fr") and "un exemple" not in message(columns, "fr")
    assert "Les exemples sont des lignes" in message(columns, "fr")
    half = check_ista_step(lambda z, y, W, lam, L: soft(z - (z @ W.T - y) @ W / L, lam / (2 * L)))
    assert not half and message(half, "en").startswith("Wrong values: your z differs")
    assert message(half, "fr").startswith("Valeurs fausses : votre z s'écarte de h_{λ/L}(z − ∇f(z)/L) de 0,")
    assert "le seuil λ/L" in message(half, "fr")


# -- the Lipschitz constant L = 2 σ_max(W)² -------------------------------------------------

def power_iteration(W, n_iter=3000):
    d = torch.ones(W.shape[1], dtype=W.dtype)
    for _ in range(n_iter):
        d = W.T @ (W @ d)
        d = d / d.norm()
    return 2 * float((W @ d).norm()) ** 2


@pytest.mark.parametrize("right", [
    lambda W: 2 * torch.linalg.matrix_norm(W, ord=2) ** 2,
    lambda W: 2 * float(torch.linalg.eigvalsh(W.T @ W)[-1]),
    lipschitz,
    power_iteration,
])
def test_lipschitz_accepts_right_answers(right):
    assert check_lipschitz(right)


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda W: torch.linalg.matrix_norm(W, ord=2) ** 2, "constant of ½‖y − W z‖²",
     "constante de ½‖y − W z‖²"),
    (lambda W: 2 * torch.linalg.norm(W) ** 2, "Frobenius", "Frobenius"),
    (lambda W: torch.linalg.matrix_norm(W, ord=2), "You return σ_max(W).", "Vous renvoyez σ_max(W)."),
    (lambda W: 2 * torch.linalg.matrix_norm(W, ord=2), "Square σ_max", "Mettez σ_max au carré"),
    (lambda W: 2 * W.pow(2).sum(0).max(), "a single atom", "un seul atome"),
    (lambda W: 2 * torch.linalg.eigvalsh(W.T @ W)[0], "ascending order", "ordre croissant"),
    (lambda W: 2 * torch.linalg.svdvals(W)[-1] ** 2, "descending order", "ordre décroissant"),
])
def test_lipschitz_names_classic_mistakes(wrong, en, fr):
    feedback = check_lipschitz(wrong)
    assert not feedback
    assert en in message(feedback, "en") and fr in message(feedback, "fr")


def test_lipschitz_checks_the_bound_and_its_tightness_by_pairs_of_codes():
    short = check_lipschitz(lambda W: power_iteration(W, n_iter=10))
    assert not short and "Not an upper bound" in message(short, "en")
    assert "run more iterations" in message(short, "en")
    assert "faites plus d'itérations" in message(short, "fr")
    loose = check_lipschitz(lambda W: 3 * torch.linalg.matrix_norm(W, ord=2) ** 2)
    assert not loose and "An upper bound, but not the smallest" in message(loose, "en")
    assert "1,5 fois trop grand" in message(loose, "fr")
    small = check_lipschitz(lambda W: 1.0)
    assert not small and "two random codes a, b" in message(small, "en")
    assert "deux codes aléatoires" in message(small, "fr")
    assert not check_lipschitz(lambda W: "L")
    assert not check_lipschitz(lambda W: -1.0)


# -- FISTA, iterate by iterate ---------------------------------------------------------------

def my_fista(y, W, lam, n_iter):
    L = lipschitz(W)
    x = torch.zeros(y.shape[0], W.shape[1], dtype=y.dtype)
    v, t = x, 1.0
    for _ in range(n_iter):
        x_new = shrink(v - 2 * (v @ W.T - y) @ W / L, lam / L)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        v = x_new + (t - 1) / t_new * (x_new - x)
        x, t = x_new, t_new
    return x


def my_fista_precomputed(y, W, lam, n_iter):  # the W_e, S form, with the momentum as a lerp
    L = lipschitz(W)
    W_e = 2 / L * W
    S = torch.eye(W.shape[1], dtype=W.dtype) - 2 / L * W.T @ W
    x_prev = v = torch.zeros(y.shape[0], W.shape[1], dtype=y.dtype)
    t = 1.0
    for _ in range(n_iter):
        x = soft(y @ W_e + v @ S, lam / L)
        t_next = 0.5 + math.sqrt(0.25 + t * t)
        v = torch.lerp(x_prev, x, 1 + (t - 1) / t_next)
        x_prev, t = x, t_next
    return x_prev


@pytest.mark.parametrize("right", [
    my_fista,
    my_fista_precomputed,
    lambda y, W, lam, k: fista(y, W, lam, max_iter=k, tol=0, restart=True).z,
])
def test_fista_accepts_right_answers(right):
    feedback = check_fista(right)
    assert feedback, feedback.text
    assert "1 to 12" in message(feedback, "en") and "1 à 12" in message(feedback, "fr")


def test_the_checkers_own_fista_is_the_librarys():
    y, W, lam = _fista_problem()
    ours = torch.stack(_fista_variant(y, W, lam, 12, "right"))
    library = torch.stack([fista(y, W, lam, max_iter=k, tol=0).z for k in range(1, 13)])
    assert torch.allclose(ours, library, atol=1e-12)


def wrong_fista(variant):
    def run(y, W, lam, n_iter):
        L = lipschitz(W)
        x = torch.zeros(y.shape[0], W.shape[1], dtype=y.dtype)
        v, t = x, 0.0 if variant == "t from 0" else 1.0
        for _ in range(n_iter):
            start = x if variant == "step from x" else v
            x_new = shrink(start - 2 * (v @ W.T - y) @ W / L, lam / L)
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            if variant == "t first":
                t = t_new
            beta = 0.0 if variant == "ista" else (t - 1) / t_new
            v = x_new + beta * (x_new - x)
            x, t = x_new, t_new
        return v if variant == "returns v" else x
    return run


@pytest.mark.parametrize("variant, en, fr", [
    ("ista", "These are ISTA's iterates", "Ce sont les itérés d'ISTA"),
    ("step from x", "Momentum applied to the wrong point", "L'inertie est appliquée au mauvais point"),
    ("t first", "t is updated in the wrong order", "t est mis à jour dans le mauvais ordre"),
    ("returns v", "You return the extrapolated point v", "Vous renvoyez le point extrapolé v"),
    ("t from 0", "t starts at 0", "t part de 0"),
])
def test_fista_names_classic_mistakes(variant, en, fr):
    feedback = check_fista(wrong_fista(variant))
    assert not feedback
    assert message(feedback, "en").startswith(en) and message(feedback, "fr").startswith(fr)


def test_fista_says_which_iterate_is_the_first_to_differ():
    drifting = check_fista(lambda y, W, lam, k: my_fista(y, W, lam, k) * (1 + 0.01 * (k > 5)))
    assert not drifting
    assert message(drifting, "en").startswith("Iterates 1 to 5 agree with ebmlib.solvers.fista; "
                                              "iterate 6 differs")
    assert "Check the momentum" in message(drifting, "en")
    assert message(drifting, "fr").startswith(
        "Les itérés 1 à 5 coïncident avec ceux de ebmlib.solvers.fista ; l'itéré 6 diffère")
    first = check_fista(lambda y, W, lam, k: my_fista(y, W, lam, k) + 0.1)
    assert message(first, "fr").startswith(
        "L'itéré 1 diffère de celui de ebmlib.solvers.fista de 0,1 au plus.")
    assert "seuil λ/L" in message(first, "fr")


def test_fista_checks_the_shape_and_not_implemented():
    assert "NotImplementedError" in message(check_fista(stub), "en")
    transposed = check_fista(lambda y, W, lam, k: my_fista(y, W, lam, k).T)
    assert not transposed and "(3, 20)" in message(transposed, "en")


def test_fista_explains_a_float32_start():
    def float32_start(y, W, lam, n_iter):  # torch.zeros without dtype: float32 against float64
        L = lipschitz(W)
        x = torch.zeros(y.shape[0], W.shape[1])
        v, t = x, 1.0
        for _ in range(n_iter):
            x_new = shrink(v - 2 * (v @ W.T - y) @ W / L, lam / L)
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            v = x_new + (t - 1) / t_new * (x_new - x)
            x, t = x_new, t_new
        return x

    feedback = check_fista(float32_start)
    assert not feedback and "The checker passes float64 tensors" in message(feedback, "en")
    assert "Le vérificateur passe des tenseurs float64" in message(feedback, "fr")


# -- predict, then run: coherence and λ --------------------------------------------------------

def test_the_exploration_measures_what_the_prose_says():
    (rho0, rho1), (lam0, lam1) = EXPLORE_RHO, EXPLORE_LAM
    base, L0, nnz0 = explore_iterations(rho0, lam0)
    coherent, L1, _ = explore_iterations(rho1, lam0)
    sparser, _, nnz1 = explore_iterations(rho0, lam1)
    assert base is not None and coherent is not None and sparser is not None
    assert coherent > 2 * base and sparser < base / 1.5 and L1 > 4 * L0 and nnz1 < nnz0
    (first0, next0), (first1, next1) = (explore_curvatures(rho) for rho in EXPLORE_RHO)
    assert (first0, first1) == pytest.approx((L0, L1)) and next1 < next0 / 2


def test_prediction_right_in_symbols_and_in_words():
    feedback = check_fista_prediction(lambda: {"coherence": ">", "lambda": "<"})
    assert feedback and message(feedback, "en").startswith("Right on both counts")
    words = check_fista_prediction(lambda: {"coherence": "Plus", "lambda": "moins"})
    assert words and message(words, "fr").startswith("Juste sur les deux points")


def test_prediction_names_the_wrong_answer():
    feedback = check_fista_prediction(lambda: {"coherence": ">", "lambda": "="})
    assert not feedback
    assert 'For "lambda" you predicted about as many iterations' in message(feedback, "en")
    assert 'Your answer for "coherence" is right' in message(feedback, "en")
    assert 'Pour "lambda", vous avez prédit à peu près autant d\'itérations' in message(feedback, "fr")
    assert "λ = 0,4" in message(feedback, "fr")
    coherence = check_fista_prediction(lambda: {"coherence": "=", "lambda": "<"})
    assert not coherence and "the next curvature, 2 σ_2(W)², falls" in message(coherence, "en")
    assert "la courbure suivante, 2 σ_2(W)², tombe de" in message(coherence, "fr")


def test_prediction_needs_two_known_answers():
    assert "NotImplementedError" in message(check_fista_prediction(stub), "en")
    missing = check_fista_prediction(lambda: {"coherence": ">"})
    assert not missing and "dictionnaire de deux réponses" in message(missing, "fr")
    assert message(missing, "en") == (
        'Return a dict with two answers: {"coherence": …, "lambda": …}, each "<" (fewer iterations), '
        '"=" (about as many) or ">" (more).')
    assert message(missing, "fr") == (
        'Renvoyez un dictionnaire de deux réponses : {"coherence": …, "lambda": …}, chacune "<" '
        '(moins d\'itérations), "=" (à peu près autant) ou ">" (plus).')
    unknown = check_fista_prediction(lambda: {"coherence": "up", "lambda": "<"})
    assert not unknown and message(unknown, "en") == (
        'The answer for "coherence" must be "<" (fewer iterations), "=" (about as many) or ">" '
        "(more); received 'up'.")
    assert message(unknown, "fr") == (
        'La réponse pour "coherence" doit être "<" (moins d\'itérations), "=" (à peu près autant) '
        "ou \">\" (plus) ; reçue : 'up'.")


def test_prediction_words_in_any_case():
    assert check_fista_prediction(lambda: {"coherence": " MORE ", "lambda": "Fewer"})
