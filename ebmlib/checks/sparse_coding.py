"""Checkers of chapter 2, sparse coding and dictionary learning.

The free energy of a one-atom dictionary whose atom has length c (a derivation: it shows
why the atoms must have unit length; the checker compares with the exact minimum and tests
its properties), one step of dictionary learning (an implementation, compared with the
library's step and tested for unit columns and a lower energy), what doubling λ does to
the codes of the digits (an exploration: the checker runs the experiment), and the λ that
keeps k atoms.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..dictionary import _dictionary_step, _normalize_columns
from ..solvers import _lipschitz, fista
from ._feedback import (
    Feedback,
    _as_number,
    _call,
    _en,
    _fr,
    _invoke,
    _known_mistake,
    _listing,
    _read_prediction,
    _run,
)

__all__ = ["check_dictionary_step", "check_lambda_for_k", "check_lambda_prediction",
           "check_one_atom_free_energy"]


# -- small helpers --------------------------------------------------------------------------


def _pairs(cases: list[tuple[float, float]], fr: bool) -> str:
    """'(λ, c) = (1, 0.5) and (1, 4)' / « (λ ; c) = (1 ; 0,5) et (1 ; 4) »."""
    if fr:
        return "(λ ; c) = " + _listing([f"({_fr(a, 'g')} ; {_fr(b, 'g')})" for a, b in cases], True)
    return "(λ, c) = " + _listing([f"({a:g}, {b:g})" for a, b in cases], False)


# -- the free energy of one atom of length c (derivation) -----------------------------------

ONE_ATOM_CASES = ((1.0, 1.0), (1.0, 0.5), (1.0, 4.0), (0.3, 2.0))  # the (λ, c) tried


def _one_atom_problem() -> tuple[Tensor, Tensor]:
    """12 points y (12, 5) and a unit atom w (5,); the projections wᵀy run from −1.5 to 1.5."""
    g = torch.Generator().manual_seed(6)
    w = torch.randn(5, generator=g, dtype=torch.float64)
    w = w / w.norm()
    a = torch.linspace(-1.5, 1.5, 12, dtype=torch.float64)
    away = torch.randn(12, 5, generator=g, dtype=torch.float64)
    away = away - (away @ w)[:, None] * w  # the part of y off the atom's line
    return a[:, None] * w + 0.5 * away, w


def one_atom_free_energy(y: Tensor, w: Tensor, lam: float, c: float) -> Tensor:
    r"""F(y) = min_z ‖y − c w z‖² + λ|z| for a unit atom w (n,) of length c: (B, n) → (B,).

    With u = c z the energy is ‖y − w u‖² + (λ/c)|u|, minimised by shrinking wᵀy by
    λ/(2c); then F(y) = ‖y‖² − max(|wᵀy| − λ/(2c), 0)².
    """
    kept = torch.clamp((y @ w).abs() - lam / (2 * c), min=0)
    return (y**2).sum(dim=-1) - kept**2


def _one_atom_variants(y: Tensor, w: Tensor, lam: float, c: float) -> dict[str, Tensor]:
    """The classic wrong answers for one (λ, c)."""
    a = y @ w
    sq = (y**2).sum(dim=-1)

    def with_threshold(t: float) -> Tensor:
        return sq - torch.clamp(a.abs() - t, min=0) ** 2

    kept = torch.clamp(a.abs() - lam / (2 * c), min=0)
    u = torch.sign(a) * kept  # the optimal u = c z*, taken for z*
    return {
        "half": with_threshold(lam / c),
        "half_energy": 0.5 * sq - 0.5 * torch.clamp(a.abs() - lam / c, min=0) ** 2,
        "u_as_code": ((y - c * u[:, None] * w) ** 2).sum(dim=-1) + lam * u.abs(),
        "times_c": with_threshold(lam * c / 2),
        "no_c": with_threshold(lam / 2),
        "no_clamp": sq - (a.abs() - lam / (2 * c)) ** 2,
        "line": sq - a**2,
        "least_squares": sq - a**2 + lam * a.abs() / c,
        "code": torch.sign(a) * kept / c,
        "sign": sq + kept**2,
        "no_y": -kept**2,
    }


def check_one_atom_free_energy(free_energy: Callable[[Tensor, Tensor, float, float], Tensor]
                               ) -> Feedback:
    """Check ``free_energy(y, w, lam, c)``: F(y) = min_z ‖y − c w z‖² + λ|z|, for a batch.

    y is (B, n), w a unit vector (n,), the atom is c w; the answer is (B,). The checker
    compares with the exact minimum for four (λ, c), names the classic slips (the ½
    convention's threshold or its whole free energy, c on the wrong side, u = c z taken for
    the code, no positive part, the least-squares code, the code itself, a sign) and
    otherwise tests the properties every answer must have: ‖y‖² − (wᵀy)² <= F(y) <= ‖y‖²,
    and F falls as c grows.
    """
    y, w = _one_atom_problem()
    B = y.shape[0]
    outs = []
    for lam, c in ONE_ATOM_CASES:
        out, bad = _run(free_energy, (y.clone(), w.clone(), lam, c), (B,),
                        "one free energy per sample", "les énergies libres (une pour chaque exemple)")
        if bad is not None:
            return bad
        outs.append(out)
    out = torch.stack(outs)
    right = torch.stack([one_atom_free_energy(y, w, lam, c) for lam, c in ONE_ATOM_CASES])
    if torch.allclose(out, right, rtol=0, atol=1e-6):
        return Feedback(True, "Right: F(y) = ‖y‖² − max(|wᵀy| − λ/(2c), 0)², the exact minimum for "
                              "every (λ, c) tried. As c grows, the threshold λ/(2c) vanishes and F "
                              "falls to ‖y‖² − (wᵀy)², the squared distance from y to the atom's "
                              "line: a longer atom makes every y cheaper.",
                        "Juste : F(y) = ‖y‖² − max(|wᵀy| − λ/(2c), 0)², le minimum exact pour tous "
                        "les couples (λ ; c) essayés. Quand c grandit, le seuil λ/(2c) s'évanouit "
                        "et F descend jusqu'à ‖y‖² − (wᵀy)², le carré de la distance de y à la "
                        "droite de l'atome : plus l'atome est long, moins chaque y coûte.")
    variants = [_one_atom_variants(y, w, lam, c) for lam, c in ONE_ATOM_CASES]

    def stacked(key: str) -> Tensor:
        return torch.stack([v[key] for v in variants])

    substitute_en = "Put u = c z: the energy becomes ‖y − w u‖² + (λ/c)|u|."
    substitute_fr = "Posez u = c z : l'énergie devient ‖y − w u‖² + (λ/c)|u|."
    guesses = [
        (stacked("half"),
         "Your threshold on wᵀy is λ/c, the one of the ½ convention. This energy has no ½: "
         "setting the derivative of ‖y − c w z‖² + λ|z| to zero gives the threshold λ/(2c).",
         "Votre seuil sur wᵀy vaut λ/c, celui de la convention avec ½. Cette énergie n'a pas "
         "de ½ : en annulant la dérivée de ‖y − c w z‖² + λ|z|, on trouve le seuil λ/(2c)."),
        (stacked("times_c"),
         "Your threshold on wᵀy is λc/2: the length c multiplies the atom, so it divides the "
         "threshold. " + substitute_en,
         "Votre seuil sur wᵀy vaut λc/2 : la longueur c multiplie l'atome, elle divise donc le "
         "seuil. " + substitute_fr),
        (stacked("no_c"),
         "Your F does not depend on c: it is right for c = 1 only. " + substitute_en,
         "Votre F ne dépend pas de c : il n'est juste que pour c = 1. " + substitute_fr),
        (stacked("no_clamp"),
         "Where |wᵀy| ≤ λ/(2c) the optimal code is exactly 0 and F(y) = ‖y‖²: your formula "
         "misses the positive part max(|wᵀy| − λ/(2c), 0).",
         "Là où |wᵀy| ≤ λ/(2c), le code optimal est exactement nul et F(y) = ‖y‖² : il manque "
         "à votre formule la partie positive max(|wᵀy| − λ/(2c), 0)."),
        (stacked("line"),
         "That is ‖y‖² − (wᵀy)², the limit of F as c → ∞ (the least-squares fit on the atom's "
         "line); at a finite c the L1 term still costs something.",
         "C'est ‖y‖² − (wᵀy)², la limite de F quand c → ∞ (l'ajustement aux moindres carrés sur "
         "la droite de l'atome) ; pour c fini, le terme L1 coûte encore quelque chose."),
        (stacked("least_squares"),
         "That is the energy at the least-squares code z = wᵀy / c, which is larger than the "
         "minimum: the optimal code is that one shrunk towards 0.",
         "C'est l'énergie au code des moindres carrés z = wᵀy / c, plus grande que le minimum : "
         "le code optimal est ce code rétréci vers 0."),
        (stacked("code"),
         "That is the optimal code z*, not the free energy F(y) = E(z*, y).",
         "C'est le code optimal z*, et non l'énergie libre F(y) = E(z*, y)."),
        (stacked("sign"),
         "Sign: the code lowers the energy below E(0, y) = ‖y‖², so F(y) = ‖y‖² − (…)², not +.",
         "Signe : le code fait descendre l'énergie sous E(0, y) = ‖y‖², donc "
         "F(y) = ‖y‖² − (…)², et non +."),
        (stacked("no_y"),
         "You dropped ‖y‖²: F(y) = ‖y‖² − max(|wᵀy| − λ/(2c), 0)².",
         "Vous avez oublié ‖y‖² : F(y) = ‖y‖² − max(|wᵀy| − λ/(2c), 0)²."),
    ]
    guesses[1:1] = [
        (stacked("half_energy"),
         "That is the free energy of ½‖y − c w z‖² + λ|z|, the ½ convention. This energy has no ½: "
         "F(y) = ‖y‖² − max(|wᵀy| − λ/(2c), 0)².",
         "C'est l'énergie libre de ½‖y − c w z‖² + λ|z|, dans la convention avec ½. Cette "
         "énergie n'a pas de ½ : F(y) = ‖y‖² − max(|wᵀy| − λ/(2c), 0)²."),
        (stacked("u_as_code"),
         "You took u* = sgn(wᵀy) max(|wᵀy| − λ/(2c), 0) as the code, but u = c z: the optimal "
         "code is z* = u*/c. At c = 1 they agree; at any other c your value is the energy of a "
         "wrong code, not its minimum.",
         "Vous avez pris u* = sgn(wᵀy) max(|wᵀy| − λ/(2c), 0) pour le code, or u = c z : le "
         "code optimal vaut z* = u*/c. Pour c = 1, c'est la même chose ; pour tout autre c, "
         "votre valeur est l'énergie d'un mauvais code, et non son minimum."),
    ]
    mistake = _known_mistake(out, guesses, rtol=0.0, atol=1e-6)
    if mistake is not None:
        return mistake
    # No classic slip: test the properties every free energy of this model has.
    sq = (y**2).sum(dim=1)
    floor = sq - (y @ w) ** 2
    above = sorted({int(b) for b in torch.nonzero(out > sq + 1e-6)[:, 1]})
    if above:
        items = [str(b) for b in above]
        return Feedback(False, f"Your F(y) exceeds ‖y‖² for the samples {_listing(items, False)}, but "
                               "the code z = 0 already gives E(0, y) = ‖y‖²: a minimum cannot be "
                               "larger.",
                        f"Votre F(y) dépasse ‖y‖² pour les exemples {_listing(items, True)}, or le "
                        "code z = 0 donne déjà E(0, y) = ‖y‖² : un minimum ne peut pas être plus "
                        "grand.")
    below = sorted({int(b) for b in torch.nonzero(out < floor - 1e-6)[:, 1]})
    if below:
        items = [str(b) for b in below]
        return Feedback(False, f"Your F(y) is below ‖y‖² − (wᵀy)² for the samples "
                               f"{_listing(items, False)}, but no code rebuilds y better than its "
                               "projection on the atom's line, and λ|z| ≥ 0.",
                        f"Votre F(y) descend sous ‖y‖² − (wᵀy)² pour les exemples "
                        f"{_listing(items, True)}, or aucun code ne reconstruit y mieux que sa "
                        "projection sur la droite de l'atome, et λ|z| ≥ 0.")
    # The cases (1, 0.5), (1, 1), (1, 4) share λ: F must not grow with c.
    by_c = out[[1, 0, 2]]
    grows = sorted({int(b) for b in torch.nonzero(by_c[1:] > by_c[:-1] + 1e-6)[:, 1]})
    if grows:
        items = [str(b) for b in grows]
        return Feedback(False, f"With λ = 1, your F(y) grows with c for the samples "
                               f"{_listing(items, False)}; it cannot: the code z c / c' with an "
                               "atom of length c' > c rebuilds the same point and pays less.",
                        f"Avec λ = 1, votre F(y) croît avec c pour les exemples "
                        f"{_listing(items, True)} ; c'est impossible : avec un atome de longueur "
                        "c' > c, le code z c / c' reconstruit le même point et paie moins.")
    good = [case for case, o, r in zip(ONE_ATOM_CASES, out, right, strict=True)
            if torch.allclose(o, r, rtol=0, atol=1e-6)]
    bad_cases = [case for case in ONE_ATOM_CASES if case not in good]
    k = ONE_ATOM_CASES.index(bad_cases[0])
    lam, c = bad_cases[0]
    wrong = [str(int(b)) for b in torch.nonzero((out[k] - right[k]).abs() > 1e-6)[:, 0]]
    zero = bool(((y @ w).abs()[[int(b) for b in wrong]] <= lam / (2 * c)).all())
    hint_en = (" At those samples |wᵀy| ≤ λ/(2c): the optimal code is 0." if zero else "")
    hint_fr = (" Pour ces exemples, |wᵀy| ≤ λ/(2c) : le code optimal est nul." if zero else "")
    if good:
        return Feedback(False, f"Keep going: your F is right for {_pairs(good, False)} but not for "
                               f"{_pairs(bad_cases, False)}. Look at how λ and c enter the "
                               "threshold." + hint_en,
                        f"Pas encore : votre F est juste pour {_pairs(good, True)}, mais pas pour "
                        f"{_pairs(bad_cases, True)}. Regardez comment λ et c entrent dans le "
                        "seuil." + hint_fr)
    return Feedback(False, f"Keep going: for {_pairs([bad_cases[0]], False)} your F is wrong at the "
                           f"samples {_listing(wrong, False)}." + hint_en,
                    f"Pas encore : pour {_pairs([bad_cases[0]], True)}, votre F est faux pour les "
                    f"exemples {_listing(wrong, True)}." + hint_fr)


# -- one step of dictionary learning (implementation) ---------------------------------------

def _dictionary_problem() -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(5)
    B, n, m = 32, 10, 16
    W = _normalize_columns(torch.randn(n, m, generator=g, dtype=torch.float64))
    z = torch.randn(B, m, generator=g, dtype=torch.float64) * (torch.rand(B, m, generator=g) < 0.3)
    y = z @ W.T + 0.3 * torch.randn(B, n, generator=g, dtype=torch.float64)
    return y, z, W


def _fit(y: Tensor, z: Tensor, W: Tensor) -> float:
    """The minibatch's mean ‖y − W_d z‖², the part of the energy that depends on W_d."""
    return float(((y - z @ W.T) ** 2).sum(dim=1).mean())


def check_dictionary_step(step: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> Feedback:
    """Exercise checker for ``step(y, z, W, step_scale)``: compares with the library's step
    (:func:`ebmlib.dictionary.dictionary_step`).

    Returns a :class:`Feedback` (true when right). It runs the step with two step scales,
    names the usual mistakes (no renormalisation, rows instead of columns, the wrong sign,
    a step off by 2, s ignored, a sum over the batch in G but a mean in L_W, the Frobenius
    norm or the trace in L_W, a transposed gradient) and otherwise says which property fails: unit
    columns, a lower minibatch energy, or where W differs from the step.
    """
    y, z, W = _dictionary_problem()
    B, n = y.shape
    m = W.shape[1]
    s = 1.5
    raw_out, bad = _call(step, y.clone(), z.clone(), W.clone(), s)
    if bad is not None:
        return bad
    if tuple(raw_out.shape) == (m, n) and m != n:
        return Feedback(False, f"Your result has shape {(m, n)}, that of W_dᵀ: the gradient "
                               "G = −(2/B)(y − z W_dᵀ)ᵀ z has the shape of W_d, (n, m). Check the "
                               "order of the product and its transposes.",
                        f"Votre résultat a la forme {(m, n)}, celle de W_dᵀ : le gradient "
                        "G = −(2/B)(y − z W_dᵀ)ᵀ z a la forme de W_d, (n, m). Vérifiez l'ordre "
                        "du produit et ses transpositions.")
    if tuple(raw_out.shape) != (n, m):
        return Feedback(False, f"Expected the shape of W, {(n, m)}, received {tuple(raw_out.shape)}.",
                        f"Forme attendue pour le résultat (comme W) : {(n, m)} ; reçue : "
                        f"{tuple(raw_out.shape)}.")
    out = raw_out.detach().to(torch.float64)
    right = _dictionary_step(y, z, W, s, normalize=True)
    raw = _dictionary_step(y, z, W, s, normalize=False)
    before, after = _fit(y, z, W), _fit(y, z, raw)
    if torch.allclose(out, right, atol=1e-6):
        other, bad = _run(step, (y.clone(), z.clone(), W.clone(), 0.5), (n, m), "the shape of W",
                          "le résultat (comme W)")
        if bad is not None:
            return bad
        if not torch.allclose(other, _dictionary_step(y, z, W, 0.5, normalize=True), atol=1e-6):
            return Feedback(False, "Right for s = 1.5, but not for s = 0.5: the step must be "
                                   "s / L_W, for any s.",
                            "Juste pour s = 1,5, mais pas pour s = 0,5 : le pas doit valoir "
                            "s / L_W, quel que soit s.")
        return Feedback(True, f"Right: gradient, step s/L_W, unit columns, as learn_dictionary does. "
                              f"Before the renormalisation the step lowers the minibatch's mean "
                              f"‖y − W_d z‖² from {_en(before, '.3f')} to {_en(after, '.3f')}.",
                        "Juste : gradient, pas s/L_W, colonnes de norme 1, comme le fait "
                        "learn_dictionary. Avant la renormalisation, le pas fait descendre la "
                        f"moyenne de ‖y − W_d z‖² sur le mini-lot de {_fr(before, '.3f')} à "
                        f"{_fr(after, '.3f')}.")
    grad = -(2.0 / B) * (y - z @ W.T).T @ z
    L_W = _lipschitz(z) / B  # 2 ‖zᵀz/B‖₂, the spectral norm
    L_F = 2.0 * float(torch.linalg.matrix_norm(z.T @ z / B))  # Frobenius, torch.linalg.norm's default
    L_T = 2.0 * float((z**2).sum() / B)  # the trace of zᵀz/B: the sum of its eigenvalues
    guesses = [
        (raw, "The step is right but the atoms are not renormalised: divide every column by its norm.",
         "Le pas est juste mais les atomes ne sont pas renormalisés : divisez chaque colonne par sa "
         "norme."),
        (raw / raw.norm(dim=1, keepdim=True),
         "You normalised the rows; the atoms are the columns (dim=0).",
         "Vous avez normalisé les lignes ; les atomes sont les colonnes (dim=0)."),
        (_normalize_columns(W + (s / L_W) * grad),
         "You climbed the energy: the gradient is −(2/B)(y − z W_dᵀ)ᵀ z, and the step goes against it.",
         "Vous faites monter l'énergie : le gradient vaut −(2/B)(y − z W_dᵀ)ᵀ z, et le pas va dans le sens "
         "opposé."),
        (_normalize_columns(W - (2 * s / L_W) * grad),
         "Your step is twice too long: L_W = 2‖zᵀz/B‖₂ carries the same factor 2 as the gradient.",
         "Votre pas est deux fois trop long : L_W = 2‖zᵀz/B‖₂ porte le même facteur 2 que le gradient."),
        (_normalize_columns(W - (s / (2 * L_W)) * grad),
         "Your step is half as long as it should be: the gradient carries a factor 2, and so does L_W.",
         "Votre pas est deux fois trop court : le gradient porte un facteur 2, et L_W aussi."),
        (_dictionary_step(y, z, W, 1.0, normalize=True),
         "That is the step with s = 1: the step must be s / L_W, with the s you are given.",
         "C'est le pas pour s = 1 : le pas doit valoir s / L_W, avec le s qui vous est donné."),
        (_normalize_columns(W - (s * B / L_W) * grad),
         f"Your step is B = {B} times too long: you summed over the minibatch in G but averaged in "
         "L_W. Use the mean in both (or the sum in both: the ratio G / L_W is the same).",
         f"Votre pas est B = {B} fois trop long : vous avez sommé sur le mini-lot dans G mais pris "
         "la moyenne dans L_W. Prenez la moyenne dans les deux (ou la somme dans les deux : le "
         "rapport G / L_W est le même)."),
        (_normalize_columns(W - (s / (B * L_W)) * grad),
         f"Your step is B = {B} times too short: you averaged over the minibatch in G but summed in "
         "L_W. Use the mean in both.",
         f"Votre pas est B = {B} fois trop court : vous avez pris la moyenne sur le mini-lot dans G "
         "mais sommé dans L_W. Prenez la moyenne dans les deux."),
        (_normalize_columns(W - (s / L_F) * grad),
         "Your L_W uses the Frobenius norm (the default of torch.linalg.norm); L_W is the spectral "
         "norm, the largest eigenvalue of zᵀz/B times 2: matrix_norm(…, ord=2). Your step is "
         "safe, but shorter.",
         "Votre L_W utilise la norme de Frobenius (celle de torch.linalg.norm par défaut) ; L_W est "
         "la norme spectrale, 2 fois la plus grande valeur propre de zᵀz/B : "
         "matrix_norm(…, ord=2). Votre pas est sans danger, mais plus court."),
        (_normalize_columns(W - (s / L_T) * grad),
         "Your L_W is twice the trace of zᵀz/B (the sum of all the z² over B): the sum of its "
         "eigenvalues, not the largest one. L_W = 2‖zᵀz/B‖₂, the spectral norm: "
         "matrix_norm(…, ord=2). Your step is safe, but shorter.",
         "Votre L_W vaut deux fois la trace de zᵀz/B (la somme de tous les z², divisée par B) : "
         "la somme de ses valeurs propres, et non la plus grande. L_W = 2‖zᵀz/B‖₂, la norme "
         "spectrale : matrix_norm(…, ord=2). Votre pas est sans danger, mais plus court."),
    ]
    mistake = _known_mistake(out, guesses, rtol=0.0, atol=1e-6)
    if mistake is not None:
        return mistake
    # No classic slip: say which property fails.
    norms = out.norm(dim=0)
    off = [str(j) for j in torch.nonzero((norms - 1).abs() > 1e-6)[:, 0].tolist()]
    if off:
        return Feedback(False, f"Keep going: the columns {_listing(off, False)} of your W do not have "
                               "unit length; after the step, divide every column by its norm.",
                        f"Pas encore : les colonnes {_listing(off, True)} de votre W ne sont pas de "
                        "norme 1 ; après le pas, divisez chaque colonne par sa norme.")
    mine, target = _fit(y, z, out), _fit(y, z, right)
    i, j = divmod(int((out - right).abs().argmax()), m)
    where_en = f"W[{i}, {j}] is {_en(float(out[i, j]))}; the step gives {_en(float(right[i, j]))}."
    where_fr = f"W[{i}, {j}] vaut {_fr(float(out[i, j]))} ; le pas donne {_fr(float(right[i, j]))}."
    if torch.allclose(out, W, atol=1e-9):
        return Feedback(False, "Your W has not moved: take the step W_d − (s/L_W) G. " + where_en,
                        "Votre W n'a pas bougé : faites le pas W_d − (s/L_W) G. " + where_fr)
    if mine > before and target < before:
        return Feedback(False, f"Your step raises the minibatch's mean ‖y − W_d z‖² from "
                               f"{_en(before, '.3f')} to {_en(mine, '.3f')}; the right step lowers it "
                               f"to {_en(target, '.3f')}. Check the sign and the size of G. "
                               + where_en,
                        f"Votre pas fait monter la moyenne de ‖y − W_d z‖² sur le mini-lot de "
                        f"{_fr(before, '.3f')} à {_fr(mine, '.3f')} ; le bon pas la fait descendre à "
                        f"{_fr(target, '.3f')}. Vérifiez le signe et la taille de G. " + where_fr)
    return Feedback(False, "Keep going: your columns have unit length, but " + where_en,
                    "Pas encore : vos colonnes sont de norme 1, mais " + where_fr)


# -- doubling λ (exploration) -----------------------------------------------------------------

FREE_ENERGY_CHOICES = {"A": ("stays the same", "reste la même"),
                       "B": ("rises, but less than twofold", "augmente, mais sans doubler"),
                       "C": ("doubles", "double"),
                       "D": ("more than doubles", "fait plus que doubler")}
ATOMS_CHOICES = {"A": ("falls to half or less", "tombe à la moitié ou moins"),
                 "B": ("falls, but stays above half", "baisse, mais reste au-dessus de la moitié"),
                 "C": ("stays the same", "reste le même"),
                 "D": ("rises", "augmente")}


def lambda_doubling(W: Tensor, Y: Tensor, lam: float, *, max_iter: int = 300
                    ) -> tuple[tuple[float, float], tuple[float, float]]:
    """The exploration's experiment: ((⟨F⟩ at λ, at 2λ), (⟨‖z*‖₀⟩ at λ, at 2λ)) over Y's rows.

    The codes are FISTA's after ``max_iter`` iterations (tolerance 1e-6).
    """
    F, atoms = [], []
    with torch.no_grad():
        for value in (lam, 2 * lam):
            code = fista(Y, W, value, max_iter=max_iter)
            F.append(float(code.trace[-1].mean()))
            atoms.append(float((code.z != 0).sum(dim=1).double().mean()))
    return (F[0], F[1]), (atoms[0], atoms[1])


def _verdict_free_energy(ratio: float) -> str:
    if ratio < 1.01:
        return "A"
    if ratio < 1.99:
        return "B"
    return "C" if ratio <= 2.01 else "D"


def _verdict_atoms(ratio: float) -> str:
    if ratio <= 0.5:
        return "A"
    if ratio < 0.99:
        return "B"
    return "C" if ratio <= 1.01 else "D"


def check_lambda_prediction(predict: Callable[[], dict], W: Tensor, Y: Tensor, lam: float
                            ) -> Feedback:
    """Check ``predict()`` = {"free_energy": letter, "atoms": letter} against the experiment.

    The prediction says what happens, when λ doubles with the same dictionary W (n, m), to
    the mean free energy ⟨F⟩ of the rows of Y (N, n) (A: the same, B: rises but less than
    twofold, C: doubles, D: more than doubles) and to the mean number of non-zero
    coefficients of their codes (A: falls to half or less, B: falls but stays above half,
    C: the same, D: rises). The checker runs :func:`lambda_doubling` and compares.
    """
    answer, problem = _invoke(predict)
    if problem is not None:
        return problem
    guess, problem = _read_prediction(answer, ("free_energy", "atoms"), {c: c for c in FREE_ENERGY_CHOICES},
                                      upper=True)
    if problem is not None:
        return problem
    if not (isinstance(W, Tensor) and isinstance(Y, Tensor) and W.ndim == 2 and Y.ndim == 2
            and Y.shape[1] == W.shape[0]) or not lam > 0:
        return Feedback(False, "Pass the dictionary W (n, m), digits Y (N, n) and λ > 0 as in the "
                               "exercise's cell.",
                        "Passez le dictionnaire W (n, m), des chiffres Y (N, n) et λ > 0 comme "
                        "dans la cellule de l'exercice.")
    (F1, F2), (k1, k2) = lambda_doubling(W, Y, lam)
    rF, rk = F2 / F1, k2 / k1
    measured = {"free_energy": _verdict_free_energy(rF), "atoms": _verdict_atoms(rk)}
    fact_en = {
        "free_energy": (f"⟨F⟩ goes from {_en(F1, '.2f')} to {_en(F2, '.2f')} (× {_en(rF, '.2f')}): "
                        f"it {FREE_ENERGY_CHOICES[measured['free_energy']][0]}"),
        "atoms": (f"the codes go from {_en(k1, '.1f')} to {_en(k2, '.1f')} non-zero coefficients on "
                  f"average (× {_en(rk, '.2f')}): the count {ATOMS_CHOICES[measured['atoms']][0]}"),
    }
    fact_fr = {
        "free_energy": (f"⟨F⟩ passe de {_fr(F1, '.2f')} à {_fr(F2, '.2f')} (× {_fr(rF, '.2f')}) : "
                        f"elle {FREE_ENERGY_CHOICES[measured['free_energy']][1]}"),
        "atoms": (f"les codes passent en moyenne de {_fr(k1, '.1f')} à {_fr(k2, '.1f')} coefficients "
                  f"non nuls (× {_fr(rk, '.2f')}) : leur nombre {ATOMS_CHOICES[measured['atoms']][1]}"),
    }
    why_en = ("F(y) is the minimum over z of energies that are affine and increasing in λ, so F is "
              "increasing and concave in λ, its slope is ‖z*‖₁, and F ≥ 0 at λ = 0: hence "
              "F(λ) ≤ F(2λ) ≤ 2 F(λ) for every y")
    why_fr = ("F(y) est le minimum sur z d'énergies affines et croissantes en λ : F est donc "
              "croissante et concave en λ, de pente ‖z*‖₁, et F ≥ 0 en λ = 0 ; d'où "
              "F(λ) ≤ F(2λ) ≤ 2 F(λ) pour tout y")
    right = [key for key in ("free_energy", "atoms") if guess[key] == measured[key]]
    wrong = [key for key in ("free_energy", "atoms") if key not in right]
    if not wrong:
        return Feedback(True, f"Right on both counts: {fact_en['free_energy']}, and "
                              f"{fact_en['atoms']}. Why F cannot double: {why_en}.",
                        f"Juste sur les deux points : {fact_fr['free_energy']}, et "
                        f"{fact_fr['atoms']}. Pourquoi F ne peut pas doubler : {why_fr}.")
    names_en = {"free_energy": "the mean free energy", "atoms": "the number of atoms"}
    names_fr = {"free_energy": "l'énergie libre moyenne", "atoms": "le nombre d'atomes"}
    en = " ".join(f'For `"{key}"` you predicted that {names_en[key]} '
                  f"{(FREE_ENERGY_CHOICES if key == 'free_energy' else ATOMS_CHOICES)[guess[key]][0]}"
                  f", but {fact_en[key]}"
                  + (f". The reason: {why_en}." if key == "free_energy" else ".") for key in wrong)
    fr = " ".join(f'Pour `"{key}"`, vous avez prédit que {names_fr[key]} '
                  f"{(FREE_ENERGY_CHOICES if key == 'free_energy' else ATOMS_CHOICES)[guess[key]][1]}"
                  f", mais {fact_fr[key]}"
                  + (f". La raison : {why_fr}." if key == "free_energy" else ".") for key in wrong)
    if right:
        en += f' Your answer for `"{right[0]}"` is right.'
        fr += f' Votre réponse pour `"{right[0]}"` est juste.'
    return Feedback(False, "Not quite. " + en, "Pas tout à fait. " + fr)


# -- the λ that keeps k atoms -------------------------------------------------------------------

def check_lambda_for_k(lambda_for_k: Callable[[Tensor, Tensor, int], float]) -> Feedback:
    """Check ``lambda_for_k(y, W, k)``: a λ for which the sparse code of y has k non-zeros.

    y is (n,), W is (n, m); the code is computed by FISTA to convergence.
    """
    g = torch.Generator().manual_seed(4)
    W = torch.randn(20, 40, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    y = torch.randn(20, generator=g, dtype=torch.float64)
    for k in (1, 3, 8):
        lam, problem = _invoke(lambda_for_k, y.clone(), W.clone(), k)
        if problem is not None:
            return problem
        lam, problem = _as_number(lam)
        if problem is not None:
            return problem
        if not lam >= 0:
            return Feedback(False, f"For k = {k} you return λ = {lam}; λ must be >= 0.",
                            f"Pour k = {k}, vous renvoyez λ = {_fr(lam, 'g')} ; λ doit être positif "
                            "ou nul.")
        z = fista(y[None], W, lam, max_iter=20000, tol=1e-12).z
        nnz = int((z.abs() > 1e-9).sum())
        if nnz != k:
            more = "increase λ" if nnz > k else "decrease λ"
            plus = "augmentez λ" if nnz > k else "diminuez λ"
            en_s = "" if nnz == 1 else "s"  # English: 0 components, 1 component
            fr_s = "s" if nnz > 1 else ""  # French: 0 composante, 1 composante
            return Feedback(False, f"For k = {k} your λ = {lam:.4g} gives {nnz} non-zero "
                                   f"component{en_s}: {more}.",
                            f"Pour k = {k}, votre λ = {_fr(lam, '.4g')} donne {nnz} composante{fr_s} "
                            f"non nulle{fr_s} : {plus}.")
    return Feedback(True, "Right: your λ gives exactly k non-zero components for k = 1, 3, 8.",
                    "Juste : votre λ donne exactement k composantes non nulles pour k = 1, 3, 8.")
