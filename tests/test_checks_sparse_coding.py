"""The checkers of the sparse-coding chapter accept right answers and name wrong ones.

Each checker is given two correct implementations where possible, and wrong answers a
student would give; the messages are checked in English and in French.
"""

from __future__ import annotations

import pytest
import torch

from ebmlib.checks import (
    check_dictionary_step,
    check_lambda_for_k,
    check_lambda_prediction,
    check_one_atom_free_energy,
)
from ebmlib.checks._feedback import _read_prediction
from ebmlib.checks.sparse_coding import (
    ONE_ATOM_CASES,
    _one_atom_problem,
    lambda_doubling,
    one_atom_free_energy,
)
from ebmlib.dictionary import dictionary_step, normalize_columns
from ebmlib.solvers import fista


def message(feedback, lang: str) -> str:
    return feedback.text[lang]


def stub(*args):
    raise NotImplementedError


# -- the free energy of one atom of length c (derivation) ----------------------------------

def closed_form(y, w, lam, c):
    a = y @ w
    return (y**2).sum(dim=1) - torch.clamp(a.abs() - lam / (2 * c), min=0) ** 2


def by_cases(y, w, lam, c):  # the derivation written out: z* = 0, or wᵀy shrunk, divided by c
    a = y @ w
    t = lam / (2 * c)
    z = torch.where(a > t, (a - t) / c, torch.where(a < -t, (a + t) / c, torch.zeros_like(a)))
    return ((y - c * z[:, None] * w) ** 2).sum(dim=1) + lam * z.abs()


def test_one_atom_reference_is_the_minimum_fista_finds():
    y, w = _one_atom_problem()
    for lam, c in ONE_ATOM_CASES:
        trace = fista(y, c * w[:, None], lam, max_iter=5000, tol=1e-14).trace
        torch.testing.assert_close(one_atom_free_energy(y, w, lam, c), trace[-1], atol=1e-9, rtol=0)
    # Some points have a zero code (|wᵀy| below the threshold λ/(2c)), others not.
    a = (y @ w).abs()
    for lam, c in ONE_ATOM_CASES[:2]:
        assert bool((a < lam / (2 * c)).any()) and bool((a > lam / (2 * c)).any())


@pytest.mark.parametrize("answer", [closed_form, by_cases, one_atom_free_energy])
def test_one_atom_accepts_right_answers(answer):
    feedback = check_one_atom_free_energy(answer)
    assert feedback, feedback
    assert "λ/(2c)" in message(feedback, "en") and "s'évanouit" in message(feedback, "fr")


def with_threshold(threshold):
    def free_energy(y, w, lam, c):
        a = y @ w
        return (y**2).sum(dim=1) - torch.clamp(a.abs() - threshold(lam, c), min=0) ** 2
    return free_energy


def u_as_code(y, w, lam, c):  # u* = c z* shrunk right, but taken for the code z itself
    a = y @ w
    u = torch.sign(a) * torch.clamp(a.abs() - lam / (2 * c), min=0)
    return ((y - c * u[:, None] * w) ** 2).sum(dim=1) + lam * u.abs()


@pytest.mark.parametrize("wrong, en, fr", [
    (with_threshold(lambda lam, c: lam / c), "½ convention", "convention avec ½"),
    (with_threshold(lambda lam, c: lam * c / 2), "divides the threshold", "divise donc le seuil"),
    (with_threshold(lambda lam, c: lam / 2), "does not depend on c", "ne dépend pas de c"),
    (lambda y, w, lam, c: (y**2).sum(1) - ((y @ w).abs() - lam / (2 * c)) ** 2, "positive part",
     "partie positive"),
    (lambda y, w, lam, c: (y**2).sum(1) - (y @ w) ** 2 + lam * (y @ w).abs() / c,
     "least-squares code", "moindres carrés"),
    (lambda y, w, lam, c: torch.sign(y @ w) * torch.clamp((y @ w).abs() - lam / (2 * c), min=0) / c,
     "optimal code z*", "code optimal z*"),
    (lambda y, w, lam, c: 2 * (y**2).sum(1) - closed_form(y, w, lam, c), "Sign", "Signe"),
    (lambda y, w, lam, c: 0.5 * closed_form(y, w, 2 * lam, c), "½‖y − c w z‖² + λ|z|",
     "dans la convention avec ½"),
    (u_as_code, "z* = u*/c", "mauvais code"),
])
def test_one_atom_names_the_classic_slips(wrong, en, fr):
    feedback = check_one_atom_free_energy(wrong)
    assert not feedback
    assert en in message(feedback, "en") and fr in message(feedback, "fr")


def test_one_atom_tests_properties_when_no_slip_matches(monkeypatch):
    above = check_one_atom_free_energy(lambda y, w, lam, c: (y**2).sum(1) + 0.1)
    assert not above and "exceeds ‖y‖²" in message(above, "en")
    assert "dépasse ‖y‖²" in message(above, "fr")
    floor = check_one_atom_free_energy(lambda y, w, lam, c: (y**2).sum(1) - (y @ w) ** 2 - 0.1)
    assert not floor and "below ‖y‖² − (wᵀy)²" in message(floor, "en")
    assert "descend sous" in message(floor, "fr")
    # Right at c = 1 and c = 0.5 only: the checker says for which (λ, c) it is right.
    partly = check_one_atom_free_energy(
        lambda y, w, lam, c: closed_form(y, w, lam, c) if c <= 1 else closed_form(y, w, lam, 1.0))
    assert not partly
    assert "right for (λ, c) = (1, 1) and (1, 0.5)" in message(partly, "en")
    assert "juste pour (λ ; c) = (1 ; 1) et (1 ; 0,5)" in message(partly, "fr")
    monkeypatch.setenv("EBMLIB_LANG", "fr")
    assert str(partly).startswith("Pas encore")


def test_one_atom_reports_shape_and_todo():
    shape = check_one_atom_free_energy(lambda y, w, lam, c: closed_form(y, w, lam, c)[:, None])
    assert not shape and "one free energy per sample" in message(shape, "en")
    assert "pour chaque exemple" in message(shape, "fr")
    todo = check_one_atom_free_energy(stub)
    assert not todo and "NotImplementedError" in message(todo, "fr")


# -- one step of dictionary learning (implementation) ---------------------------------------

def library_step(y, z, W, s):
    return dictionary_step(y, z, W, step_scale=s)


def summed_step(y, z, W, s):  # sums over the minibatch in both G and L_W: the same step
    G = -2 * (y - z @ W.T).T @ z
    L = 2 * torch.linalg.eigvalsh(z.T @ z).max()
    W = W - s / L * G
    return W / torch.linalg.vector_norm(W, dim=0)


@pytest.mark.parametrize("answer", [library_step, summed_step])
def test_dictionary_step_accepts_right_answers(answer):
    feedback = check_dictionary_step(answer)
    assert feedback, feedback
    assert "lowers" in message(feedback, "en") and "descendre" in message(feedback, "fr")


def _parts(y, z, W):
    B = y.shape[0]
    G = -(2 / B) * (y - z @ W.T).T @ z
    return B, G, z.T @ z / B


@pytest.mark.parametrize("wrong, en, fr", [
    (lambda y, z, W, s: normalize_columns(W - s / (2 * torch.linalg.norm(_parts(y, z, W)[2]))
                                          * _parts(y, z, W)[1]), "Frobenius", "Frobenius"),
    (lambda y, z, W, s: normalize_columns(W - s / (2 * torch.linalg.matrix_norm(_parts(y, z, W)[2], ord=2))
                                          * _parts(y, z, W)[0] * _parts(y, z, W)[1]),
     "summed over the minibatch in G", "sommé sur le mini-lot dans G"),
    (lambda y, z, W, s: normalize_columns(W - s / (2 * (z**2).sum() / y.shape[0]) * _parts(y, z, W)[1]),
     "trace of zᵀz/B", "trace de zᵀz/B"),
    (lambda y, z, W, s: dictionary_step(y, z, W, step_scale=1.0), "with s = 1", "pour s = 1"),
    (lambda y, z, W, s: dictionary_step(y, z, W, step_scale=s, normalize=False), "not renormalised",
     "pas renormalisés"),
    (lambda y, z, W, s: dictionary_step(y, z, W, step_scale=s).T, "that of W_dᵀ", "celle de W_dᵀ"),
])
def test_dictionary_step_names_the_classic_slips(wrong, en, fr):
    feedback = check_dictionary_step(wrong)
    assert not feedback
    assert en in message(feedback, "en") and fr in message(feedback, "fr")


def test_dictionary_step_tests_properties_when_no_slip_matches():
    def hard_coded(y, z, W, s):  # right for s = 1.5 only
        return dictionary_step(y, z, W, step_scale=1.5)

    hard = check_dictionary_step(hard_coded)
    assert not hard and "not for s = 0.5" in message(hard, "en")
    assert "pas pour s = 0,5" in message(hard, "fr")

    def long_columns(y, z, W, s):
        return 2 * dictionary_step(y, z, W, step_scale=s)

    long = check_dictionary_step(long_columns)
    assert not long and "unit length" in message(long, "en") and "norme 1" in message(long, "fr")

    def noisy(y, z, W, s):
        g = torch.Generator().manual_seed(0)
        return normalize_columns(W + 0.5 * torch.randn(W.shape, generator=g, dtype=W.dtype))

    worse = check_dictionary_step(noisy)
    assert not worse and "raises" in message(worse, "en") and "W[" in message(worse, "en")
    assert "fait monter" in message(worse, "fr") and "vaut" in message(worse, "fr")
    still = check_dictionary_step(lambda y, z, W, s: W.clone())
    assert not still and "has not moved" in message(still, "en") and "n'a pas bougé" in message(still, "fr")


# -- doubling λ (exploration) -----------------------------------------------------------------

@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    W = normalize_columns(torch.randn(30, 60, generator=g, dtype=torch.float64))
    z = torch.randn(40, 60, generator=g, dtype=torch.float64) * (torch.rand(40, 60, generator=g) < 0.1)
    Y = z @ W.T + 0.1 * torch.randn(40, 30, generator=g, dtype=torch.float64)
    return W, Y, 0.2


def test_lambda_doubling_measures_what_the_theory_says(problem):
    W, Y, lam = problem
    (F1, F2), (k1, k2) = lambda_doubling(W, Y, lam)
    assert F1 < F2 < 2 * F1 and k2 < k1


def test_lambda_prediction_accepts_the_measured_answer(problem):
    W, Y, lam = problem
    _, (k1, k2) = lambda_doubling(W, Y, lam)
    atoms = "A" if k2 <= k1 / 2 else "B"
    feedback = check_lambda_prediction(lambda: {"free_energy": " b ", "atoms": atoms.lower()}, W, Y, lam)
    assert feedback, feedback
    assert "concave" in message(feedback, "en") and "concave" in message(feedback, "fr")


def test_lambda_prediction_says_what_was_measured(problem):
    W, Y, lam = problem
    (_, _), (k1, k2) = lambda_doubling(W, Y, lam)
    atoms = "A" if k2 <= k1 / 2 else "B"
    doubles = check_lambda_prediction(lambda: {"free_energy": "C", "atoms": atoms}, W, Y, lam)
    assert not doubles
    assert 'For `"free_energy"` you predicted that the mean free energy doubles' in message(doubles, "en")
    assert 'answer for `"atoms"` is right' in message(doubles, "en")
    assert "F(λ) ≤ F(2λ) ≤ 2 F(λ)" in message(doubles, "fr")
    said = 'Pour `"free_energy"`, vous avez prédit que l\'énergie libre moyenne double'
    assert said in message(doubles, "fr")
    assert 'Votre réponse pour `"atoms"` est juste' in message(doubles, "fr")
    more = check_lambda_prediction(lambda: {"free_energy": "B", "atoms": "D"}, W, Y, lam)
    assert not more and "the number of atoms rises" in message(more, "en")
    assert "le nombre d'atomes augmente" in message(more, "fr")


def test_lambda_prediction_rejects_malformed_answers(problem):
    W, Y, lam = problem
    letter = check_lambda_prediction(lambda: {"free_energy": "E", "atoms": "B"}, W, Y, lam)
    assert not letter and 'The answer for "free_energy" must be "A", "B", "C" or "D"' in message(letter, "en")
    assert '"A", "B", "C" ou "D"' in message(letter, "fr") and "'E'" in message(letter, "fr")
    keys = check_lambda_prediction(lambda: {"F": "B"}, W, Y, lam)
    assert not keys and "two answers" in message(keys, "en") and "deux réponses" in message(keys, "fr")
    assert '{"free_energy": …, "atoms": …}' in message(keys, "en")
    # The one reader of predictions: the same answer gets the same message as _read_prediction's.
    _, same = _read_prediction({"F": "B"}, ("free_energy", "atoms"), dict.fromkeys("ABCD"), upper=True)
    assert keys.text == same.text
    todo = check_lambda_prediction(stub, W, Y, lam)
    assert not todo and "NotImplementedError" in message(todo, "en")
    shapes = check_lambda_prediction(lambda: {"free_energy": "B", "atoms": "B"}, W, Y.T, lam)
    assert not shapes and "(n, m)" in message(shapes, "en")


# -- the other two checkers: French messages -------------------------------------------------

def test_lambda_for_k_speaks_french(monkeypatch):
    monkeypatch.setenv("EBMLIB_LANG", "fr")
    small = check_lambda_for_k(lambda y, W, k: 1e-3)
    assert not small and "augmentez λ" in str(small) and "0,001" in str(small)
