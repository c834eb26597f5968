"""Exercise checkers: they run the student's function and say what is right or wrong.

A checker returns a :class:`Feedback`, true when the answer is right. It speaks the
page's language: ``EBMLIB_LANG`` if set, else the notebook's folder (``book/en`` or
``book/fr``), else English. In the built site both languages are stored and the
page's own language is shown, because one execution serves both editions.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from .dictionary import dictionary_step, normalize_columns
from .energy import L1, LatentEnergy, SquaredL2
from .toy import CurveDecoder, curve, distance_to_curve

LANGUAGES = ("en", "fr")


def page_language() -> str:
    """'en' or 'fr': ``EBMLIB_LANG``, else the name of the working folder, else 'en'."""
    lang = os.environ.get("EBMLIB_LANG", "").lower()
    if lang in LANGUAGES:
        return lang
    here = Path.cwd().name
    return here if here in LANGUAGES else "en"


class Feedback:
    """The verdict of a checker: ``bool(feedback)`` is True when the answer is right."""

    def __init__(self, ok: bool, en: str, fr: str) -> None:
        self.ok = ok
        self.text = {"en": en, "fr": fr}

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.text[page_language()]

    __repr__ = __str__

    def _repr_html_(self) -> str:
        shown = page_language()
        mark, colour = ("✔", "#2e7d32") if self.ok else ("✘", "#c62828")
        hidden = ' style="display:none"'
        spans = "".join(
            f'<span class="ebm-feedback-msg" lang="{lang}"{"" if lang == shown else hidden}>'
            f"{_inline_code(html.escape(msg))}</span>"
            for lang, msg in self.text.items())
        return (f'<div class="ebm-feedback" style="border-left:4px solid {colour};'
                f'padding:0.3em 0.8em"><strong style="color:{colour}">{mark}</strong> {spans}</div>')


def _inline_code(text: str) -> str:
    """HTML: a `span` between backticks becomes <code>span</code> (plain text keeps the backticks)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _invoke(fn: Callable[..., object], *args: object) -> tuple[object, Feedback | None]:
    """Run the student's function: (its answer, None), or (None, what went wrong)."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, Feedback(False, "Not implemented yet: replace the `raise NotImplementedError`.",
                              "Pas encore implémenté : remplacez la ligne `raise NotImplementedError` par "
                              "votre code.")
    except Exception as err:  # the student's code may raise anything: report it
        msg = f"{type(err).__name__}: {err}"
        return None, Feedback(False, f"Your function raised {msg}",
                              f"Votre fonction a levé l'exception {msg}")


def _call(fn: Callable[..., object], *args: object) -> tuple[Tensor | None, Feedback | None]:
    out, problem = _invoke(fn, *args)
    if problem is not None:
        return None, problem
    if not isinstance(out, Tensor):
        kind = type(out).__name__
        return None, Feedback(False, f"Expected a torch.Tensor, received {kind}.",
                              "Un torch.Tensor était attendu ; la fonction a renvoyé un objet de "
                              f"type {kind}.")
    return out, None


def _known_mistake(out: Tensor, guesses: list[tuple[Tensor, str, str]], *, rtol: float = 1e-5,
                   atol: float = 1e-8) -> Feedback | None:
    """The feedback of the first classic mistake (value, en, fr) that out matches, if any."""
    for value, en, fr in guesses:
        if value.shape == out.shape and torch.allclose(out, value, rtol=rtol, atol=atol):
            return Feedback(False, en, fr)
    return None


def _wrong_values(out: Tensor, right: Tensor) -> Feedback:
    gap = float((out - right).abs().max())
    return Feedback(False, f"Wrong values: the largest difference is {gap:.3g}.",
                    f"Valeurs fausses : le plus grand écart vaut {gap:.3g}.")


def _shape(out: Tensor, want: tuple[int, ...]) -> Feedback | None:
    if tuple(out.shape) != want:
        return Feedback(False, f"Expected shape {want} (one energy per sample), "
                               f"received {tuple(out.shape)}.",
                        "Forme attendue pour les énergies (une pour chaque exemple) : "
                        f"{want} ; reçue : {tuple(out.shape)}.")
    return None


def _run(fn: Callable[..., object], args: tuple, shape: tuple[int, ...], like_en: str,
         like_fr: str) -> tuple[Tensor | None, Feedback | None]:
    """Call the student's function, check that it returns a tensor of ``shape``; float64 out.

    ``like_en`` follows "Expected"; ``like_fr`` follows « Forme attendue pour », so that the
    French message needs no agreement with the thing described (« pour W_e », « pour la perte »).
    """
    out, bad = _call(fn, *args)
    if bad is not None:
        return None, bad
    if tuple(out.shape) != shape:
        return None, Feedback(False, f"Expected {like_en}, {shape}, received {tuple(out.shape)}.",
                              f"Forme attendue pour {like_fr} : {shape} ; reçue : {tuple(out.shape)}.")
    return out.detach().to(torch.float64), None


def check_toy_energy(energy: Callable[[Tensor, Tensor, float], Tensor]) -> Feedback:
    """Check ``energy(y, z, lam)`` = ‖y − c(t) − u‖² + λ(|u₁| + |u₂|) for z = (t, u₁, u₂).

    y is (B, 2), z is (B, 3); the answer must be (B,).
    """
    g = torch.Generator().manual_seed(1)
    y = torch.randn(64, 2, generator=g, dtype=torch.float64)
    z = torch.randn(64, 3, generator=g, dtype=torch.float64)
    lam = 0.7
    out, bad = _call(energy, y, z, lam)
    if bad is not None:
        return bad
    bad = _shape(out, (64,))
    if bad is not None:
        return bad
    out = out.detach().to(torch.float64)
    dec = CurveDecoder()
    w = dec.regularizer_weight(y)
    right = LatentEnergy(dec, 3, regularizer=L1(w), lam=lam)(y, z)
    if torch.allclose(out, right, rtol=1e-4, atol=1e-6):
        return Feedback(True, "Right: E = C + λR for every sample.",
                        "Juste : E = C + λR pour chaque exemple.")
    cost = (y - curve(z[:, 0]) - z[:, 1:]).pow(2).sum(1)
    guesses = [
        (cost, "This is the cost C alone: add λR(z).", "C'est le coût C seul : ajoutez λR(z)."),
        (cost + lam * z[:, 1:].pow(2).sum(1),
         "Your R(z) is the squared L2 norm; the exercise asks for the L1 norm |u₁| + |u₂|.",
         "Votre R(z) est la norme L2 au carré ; l'exercice demande la norme L1 |u₁| + |u₂|."),
        (cost + lam * z.abs().sum(1),
         "Your R(z) also penalises the position t = z₀: only the offset u = (z₁, z₂) is "
         "regularized.",
         "Votre R(z) pénalise aussi la position t = z₀ : seul le décalage u = (z₁, z₂) est "
         "régularisé."),
        (cost.sqrt() + lam * z[:, 1:].abs().sum(1),
         "Your cost is the distance ‖y − ȳ‖, not its square ‖y − ȳ‖².",
         "Votre coût est la distance ‖y − ȳ‖, pas son carré ‖y − ȳ‖²."),
        ((y - curve(z[:, 0])).pow(2).sum(1) + lam * z[:, 1:].abs().sum(1),
         "The decoder's output is c(t) + u: you forgot the offset u in the cost.",
         "La sortie du décodeur est c(t) + u : vous avez oublié le décalage u dans le coût."),
    ]
    mistake = _known_mistake(out, guesses, rtol=1e-4, atol=1e-6)
    if mistake is not None:
        return mistake
    i = int((out - right).abs().argmax())
    return Feedback(False, f"Wrong value: for sample {i} you give {out[i]:.4f}, "
                           f"expected {right[i]:.4f}.",
                    f"Valeur fausse : pour l'exemple {i}, vous donnez {out[i]:.4f} au lieu de "
                    f"{right[i]:.4f}.")


def _check_toy_free_energy(free_energy: Callable[[Tensor, float], Tensor], regularizer: type,
                           lambdas: tuple[float, ...], seed: int, atol: float,
                           mistakes: Callable[[float, Tensor], list[tuple[Tensor, str, str]]],
                           right: Feedback) -> Feedback:
    """Compare ``free_energy(y, lam)`` with the free energy that inference finds, on 48 random
    points of the plane and for each λ; ``mistakes(lam, d)`` lists classic wrong answers
    (value, English, French) in terms of the distance d(y) to the curve."""
    g = torch.Generator().manual_seed(seed)
    y = 1.6 * (2 * torch.rand(48, 2, generator=g, dtype=torch.float64) - 1)
    dec = CurveDecoder()
    d = distance_to_curve(y)
    for lam in lambdas:
        out, bad = _call(free_energy, y, lam)
        if bad is not None:
            return bad
        bad = _shape(out, (48,))
        if bad is not None:
            return bad
        out = out.detach().to(torch.float64)
        model = LatentEnergy(dec, 3, regularizer=regularizer(dec.regularizer_weight(y)), lam=lam)
        inferred = model.free_energy(y, z0=dec.starts(y, 16), max_iter=2000, tol=1e-12).F
        if torch.allclose(out, inferred, rtol=1e-3, atol=atol):
            continue
        mistake = _known_mistake(out, mistakes(lam, d), rtol=1e-3, atol=atol)
        if mistake is not None:
            return mistake
        i = int((out - inferred).abs().argmax())
        return Feedback(False, f"For λ = {lam}, at y = {y[i].tolist()} you give {out[i]:.4f}, "
                               f"inference finds {inferred[i]:.4f}.",
                        f"Pour λ = {lam}, en y = {y[i].tolist()}, vous donnez {out[i]:.4f} alors "
                        f"que l'inférence trouve {inferred[i]:.4f}.")
    return right


def check_l2_free_energy(free_energy: Callable[[Tensor, float], Tensor]) -> Feedback:
    """Check a closed form of F(y) for the toy model with R(z) = ‖u‖²: ``free_energy(y, lam)``.

    The answer is compared, on random points and several λ, with the free energy that
    :meth:`ebmlib.energy.LatentEnergy.free_energy` finds by gradient-based inference.
    """
    def mistakes(lam: float, d: Tensor) -> list[tuple[Tensor, str, str]]:
        return [
            (d**2, "You return d(y)², the energy of the model without offset. "
                   "With the offset, part of d(y) is paid at price λ instead of 1.",
             "Vous renvoyez d(y)², l'énergie du modèle sans décalage. Avec le "
             "décalage, une partie de d(y) se paie au prix λ au lieu de 1."),
            (lam * d**2, f"For λ = {lam} you return λ·d(y)²: minimise over the offset "
                         "length s of (d − s)² + λs² to find the factor.",
             f"Pour λ = {lam}, vous renvoyez λ·d(y)² : minimisez (d − s)² + λs² "
             "par rapport à la longueur s du décalage pour trouver le facteur."),
        ]

    return _check_toy_free_energy(
        free_energy, SquaredL2, (0.25, 1.0, 4.0), seed=2, atol=1e-5, mistakes=mistakes,
        right=Feedback(True, "Right: F(y) = λ/(1+λ) · d(y)², as inference finds.",
                       "Juste : F(y) = λ/(1+λ) · d(y)², comme le trouve l'inférence."))


def check_l1_free_energy(free_energy: Callable[[Tensor, float], Tensor]) -> Feedback:
    """Check the free energy of the toy model with R(z) = |u₁| + |u₂|: ``free_energy(y, lam)``.

    The expected answer is F(y) = min_t Σ_i H_λ(y_i − c_i(t)), with H_λ(d) = d² for |d| ≤ λ/2
    and λ|d| − λ²/4 beyond (the shrinkage acts on each coordinate of the offset). It is
    compared, on random points and two λ, with the free energy that inference finds.
    """
    def mistakes(lam: float, d: Tensor) -> list[tuple[Tensor, str, str]]:
        return [
            (torch.where(d <= lam / 2, d**2, lam * d - lam**2 / 4),
             "You shrink the distance d(y): that is right only where the offset lies along an "
             "axis. Shrink each coordinate of the offset on its own, then minimise over t.",
             "Vous rétrécissez la distance d(y) : ce n'est juste que là où le décalage est "
             "parallèle à un axe. Rétrécissez chaque coordonnée du décalage séparément, puis "
             "minimisez par rapport à t."),
            (d**2, "You return d(y)², the energy of the model without offset: part of the offset "
                   "can be paid at price λ per unit of length.",
             "Vous renvoyez d(y)², l'énergie du modèle sans décalage : une partie du décalage "
             "se paie au prix λ par unité de longueur."),
        ]

    return _check_toy_free_energy(
        free_energy, L1, (0.25, 1.0), seed=3, atol=1e-4, mistakes=mistakes,
        right=Feedback(True, "Right: F(y) = min_t Σ_i H_λ(y_i − c_i(t)), as inference finds.",
                       "Juste : F(y) = min_t Σ_i H_λ(y_i − c_i(t)), comme le trouve l'inférence."))


def check_normalize(normalize: Callable[[Tensor], Tensor]) -> Feedback:
    """Check ``normalize(W)``: W_d (n, m) with every column scaled to unit Euclidean norm."""
    from .dictionary import normalize_columns

    g = torch.Generator().manual_seed(3)
    W = torch.randn(12, 7, generator=g, dtype=torch.float64) * torch.arange(1, 8, dtype=torch.float64)
    out, bad = _run(normalize, (W.clone(),), (12, 7), "the shape of W", "le résultat (comme W)")
    if bad is not None:
        return bad
    if torch.allclose(out, normalize_columns(W), atol=1e-6):
        return Feedback(True, "Right: every atom has unit length and keeps its direction.",
                        "Juste : chaque atome est de norme 1 et garde sa direction.")
    if torch.allclose(out, W / W.norm(dim=1, keepdim=True), atol=1e-6):
        return Feedback(False, "You normalised the rows; the atoms are the columns (dim=0).",
                        "Vous avez normalisé les lignes ; les atomes sont les colonnes (dim=0).")
    if torch.allclose(out, W / W.norm(), atol=1e-6):
        return Feedback(False, "You divided by the norm of the whole matrix; divide each column "
                               "by its own norm.",
                        "Vous avez divisé par la norme de toute la matrice ; divisez chaque "
                        "colonne par sa propre norme.")
    norms = out.norm(dim=0)
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-6):
        return Feedback(False, f"The column norms are {norms.numpy().round(3).tolist()}, not all 1.",
                        f"Les normes des colonnes sont {norms.numpy().round(3).tolist()} : elles "
                        "ne valent pas toutes 1.")
    return Feedback(False, "The columns have unit norm but changed direction: only rescale them.",
                    "Les colonnes sont de norme 1 mais ont changé de direction : "
                    "ne changez que leur échelle.")


def check_dictionary_step(step: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> Feedback:
    """Exercise checker for ``step(y, z, W, step_scale)``: compares with :func:`dictionary_step`.

    Returns a :class:`Feedback` (true when right) that names the usual
    mistakes: no renormalisation, rows instead of columns, the wrong sign, a step off by 2.
    """
    g = torch.Generator().manual_seed(5)
    B, n, m = 32, 10, 16
    W = normalize_columns(torch.randn(n, m, generator=g, dtype=torch.float64))
    z = torch.randn(B, m, generator=g, dtype=torch.float64) * (torch.rand(B, m, generator=g) < 0.3)
    y = z @ W.T + 0.3 * torch.randn(B, n, generator=g, dtype=torch.float64)
    s = 1.5
    out, bad = _run(step, (y.clone(), z.clone(), W.clone(), s), (n, m), "the shape of W",
                    "le résultat (comme W)")
    if bad is not None:
        return bad
    right = dictionary_step(y, z, W, step_scale=s)
    if torch.allclose(out, right, atol=1e-6):
        return Feedback(True, "Right: gradient, step s/L_W, unit columns, as learn_dictionary does.",
                        "Juste : gradient, pas s/L_W, colonnes de norme 1, comme le fait "
                        "learn_dictionary.")
    raw = dictionary_step(y, z, W, step_scale=s, normalize=False)
    grad = -(2.0 / B) * (y - z @ W.T).T @ z
    L_W = 2.0 * float(torch.linalg.matrix_norm(z.T @ z / B, ord=2))
    guesses = [
        (raw, "The step is right but the atoms are not renormalised: divide every column by its norm.",
         "Le pas est juste mais les atomes ne sont pas renormalisés : divisez chaque colonne par sa "
         "norme."),
        (raw / raw.norm(dim=1, keepdim=True),
         "You normalised the rows; the atoms are the columns (dim=0).",
         "Vous avez normalisé les lignes ; les atomes sont les colonnes (dim=0)."),
        (normalize_columns(W + (s / L_W) * grad),
         "You climbed the energy: the gradient is −(2/B)(y − z W_dᵀ)ᵀ z, and the step goes against it.",
         "Vous faites monter l'énergie : le gradient vaut −(2/B)(y − z W_dᵀ)ᵀ z, et le pas va dans le sens "
         "opposé."),
        (normalize_columns(W - (2 * s / L_W) * grad),
         "Your step is twice too long: L_W = 2‖zᵀz/B‖₂ carries the same factor 2 as the gradient.",
         "Votre pas est deux fois trop long : L_W = 2‖zᵀz/B‖₂ porte le même facteur 2 que le gradient."),
        (normalize_columns(W - (s / (2 * L_W)) * grad),
         "Your step is half as long as it should be: the gradient carries a factor 2, and so does L_W.",
         "Votre pas est deux fois trop court : le gradient porte un facteur 2, et L_W aussi."),
    ]
    mistake = _known_mistake(out, guesses, rtol=0.0, atol=1e-6)
    if mistake is not None:
        return mistake
    i, j = divmod(int((out - right).abs().argmax()), m)
    return Feedback(False, f"W[{i}, {j}] is {out[i, j]:.4f}; the step gives {right[i, j]:.4f}.",
                    f"W[{i}, {j}] vaut {out[i, j]:.4f} ; le pas donne {right[i, j]:.4f}.")


def check_lambda_for_k(lambda_for_k: Callable[[Tensor, Tensor, int], float]) -> Feedback:
    """Check ``lambda_for_k(y, W, k)``: a λ for which the sparse code of y has k non-zeros.

    y is (n,), W is (n, m); the code is computed by FISTA to convergence.
    """
    from .solvers import fista

    g = torch.Generator().manual_seed(4)
    W = torch.randn(20, 40, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    y = torch.randn(20, generator=g, dtype=torch.float64)
    for k in (1, 3, 8):
        lam, problem = _invoke(lambda_for_k, y.clone(), W.clone(), k)
        if problem is not None:
            return problem
        try:
            lam = float(lam)
        except (TypeError, ValueError):
            return Feedback(False, f"Expected a number, received {type(lam).__name__}.",
                            "Un nombre était attendu ; la fonction a renvoyé un objet de type "
                            f"{type(lam).__name__}.")
        if not lam >= 0:
            return Feedback(False, f"For k = {k} you return λ = {lam}; λ must be >= 0.",
                            f"Pour k = {k}, vous renvoyez λ = {lam} ; λ doit être positif ou nul.")
        z, _ = fista(y[None], W, lam, max_iter=20000, tol=1e-12)
        nnz = int((z.abs() > 1e-9).sum())
        if nnz != k:
            more = "increase λ" if nnz > k else "decrease λ"
            plus = "augmentez λ" if nnz > k else "diminuez λ"
            en_s = "" if nnz == 1 else "s"  # English: 0 components, 1 component
            fr_s = "s" if nnz > 1 else ""  # French: 0 composante, 1 composante
            return Feedback(False, f"For k = {k} your λ = {lam:.4g} gives {nnz} non-zero "
                                   f"component{en_s}: {more}.",
                            f"Pour k = {k}, votre λ = {lam:.4g} donne {nnz} composante{fr_s} non "
                            f"nulle{fr_s} : {plus}.")
    return Feedback(True, "Right: your λ gives exactly k non-zero components for k = 1, 3, 8.",
                    "Juste : votre λ donne exactement k composantes non nulles pour k = 1, 3, 8.")


def check_shrink(shrink: Callable[[Tensor, float], Tensor]) -> Feedback:
    """Check ``shrink(v, theta)`` = sign(v) · max(|v| − θ, 0), elementwise."""
    v = torch.linspace(-3, 3, 61, dtype=torch.float64)
    theta = 0.75
    out, bad = _run(shrink, (v.clone(), theta), tuple(v.shape), "the shape of v", "le résultat (comme v)")
    if bad is not None:
        return bad
    right = torch.sign(v) * torch.clamp(v.abs() - theta, min=0)
    if torch.allclose(out, right, atol=1e-6):
        return Feedback(True, "Right: small values go to zero, the others move θ towards zero.",
                        "Juste : les petites valeurs tombent à zéro, les autres se rapprochent "
                        "de zéro de θ.")
    guesses = [
        (torch.where(v.abs() > theta, v, torch.zeros_like(v)),
         "This is hard thresholding: the values above θ must also move θ towards zero.",
         "C'est un seuillage dur : les valeurs au-delà de θ doivent aussi se rapprocher de zéro de θ."),
        (torch.clamp(v - theta, min=0),
         "Negative values are lost: shrink |v|, then put the sign back.",
         "Les valeurs négatives sont perdues : rétrécissez |v|, puis remettez le signe."),
        (torch.sign(v) * (v.abs() - theta),
         "Values smaller than θ must become exactly 0, not change sign.",
         "Les valeurs plus petites que θ en valeur absolue doivent devenir exactement 0, et non "
         "changer de signe."),
    ]
    mistake = _known_mistake(out, guesses, atol=1e-6)
    if mistake is not None:
        return mistake
    i = int((out - right).abs().argmax())
    return Feedback(False, f"For v = {v[i]:.2f} and θ = {theta} you give {out[i]:.3f}, "
                           f"expected {right[i]:.3f}.",
                    f"Pour v = {v[i]:.2f} et θ = {theta}, vous donnez {out[i]:.3f} au lieu de "
                    f"{right[i]:.3f}.")


def check_ista_step(step: Callable[[Tensor, Tensor, Tensor, float, float], Tensor]) -> Feedback:
    """Check ``step(z, y, W, lam, L)``: one ISTA step z − ∇f(z)/L, then shrinkage by λ/L.

    Shapes: z (B, m), y (B, n), W (n, m); f(z) = ‖y − W z‖², so ∇f(z) = 2 Wᵀ(W z − y).
    """
    from .solvers import lipschitz

    g = torch.Generator().manual_seed(5)
    W = torch.randn(10, 16, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    y = torch.randn(4, 10, generator=g, dtype=torch.float64)
    z = torch.randn(4, 16, generator=g, dtype=torch.float64) * 0.3
    lam, L = 0.4, lipschitz(W)
    out, bad = _run(step, (z.clone(), y.clone(), W.clone(), lam, L), (4, 16), "the shape of z",
                    "le nouveau code (comme z)")
    if bad is not None:
        return bad

    def h(v, theta):
        return torch.sign(v) * torch.clamp(v.abs() - theta, min=0)

    grad = 2 * (z @ W.T - y) @ W
    right = h(z - grad / L, lam / L)
    if torch.allclose(out, right, atol=1e-6):
        return Feedback(True, "Right: a gradient step of size 1/L, then a shrink by λ/L.",
                        "Juste : un pas de gradient de taille 1/L, puis un rétrécissement de λ/L.")
    guesses = [
        (z - grad / L, "You took the gradient step but forgot the shrinkage.",
         "Vous avez fait le pas de gradient mais oublié le rétrécissement."),
        (h(z - grad / L, lam), "Shrink by λ/L, not by λ: the threshold scales with the step.",
         "Rétrécissez de λ/L, pas de λ : le seuil suit la taille du pas."),
        (h(z - (z @ W.T - y) @ W / L, lam / L),
         "The gradient of ‖y − W z‖² is 2 Wᵀ(W z − y): you lost the factor 2.",
         "Le gradient de ‖y − W z‖² vaut 2 Wᵀ(W z − y) : vous avez perdu le facteur 2."),
        (h(z + grad / L, lam / L), "Step down the gradient: z − ∇f/L, not z + ∇f/L.",
         "Le pas se fait dans le sens opposé au gradient : z − ∇f/L, et non z + ∇f/L."),
    ]
    mistake = _known_mistake(out, guesses, atol=1e-6)
    if mistake is not None:
        return mistake
    return _wrong_values(out, right)


def _lista_problem() -> tuple[Tensor, float, float]:
    g = torch.Generator().manual_seed(11)
    W = torch.randn(12, 20, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    from .solvers import lipschitz

    return W, 0.3, lipschitz(W)


def check_lista_matrices(matrices: Callable[[Tensor, float], tuple]) -> Feedback:
    """Check ``matrices(W_d, lam)`` = (W_e, S, θ) of ISTA: (2/L) W_d, I − (2/L) W_dᵀW_d, λ/L.

    W_d is (n, m); W_e must be (n, m), S (m, m) and θ a number (L = 2 σ_max(W_d)²).
    """
    W, lam, L = _lista_problem()
    n, m = W.shape
    out, problem = _invoke(matrices, W.clone(), lam)
    if problem is not None:
        return problem
    if not isinstance(out, tuple) or len(out) != 3:
        return Feedback(False, "Return three things: (W_e, S, theta).",
                        "Renvoyez trois objets : (W_e, S, theta).")
    W_e, S, theta = out
    W_e, bad = _run(lambda: W_e, (), (n, m), "W_e of the shape of W_d", "W_e (comme W_d)")
    if bad is not None:
        return bad
    S, bad = _run(lambda: S, (), (m, m), "S of shape (m, m)", "S, une matrice (m, m)")
    if bad is not None:
        return bad
    try:
        theta = float(theta)
    except (TypeError, ValueError, RuntimeError):
        return Feedback(False, "theta must be a number, λ/L.", "theta doit être un nombre, λ/L.")
    eye = torch.eye(m, dtype=torch.float64)
    if torch.allclose(W_e, W / L, atol=1e-8):
        return Feedback(False, "W_e is off by a factor 2: the step is (1/L) · 2 W_dᵀ(W_d z − y).",
                        "W_e est trop petit d'un facteur 2 : le pas vaut (1/L) · 2 W_dᵀ(W_d z − y).")
    if not torch.allclose(W_e, 2 / L * W, atol=1e-8):
        return Feedback(False, "W_e must be (2/L) W_d, with L = 2 σ_max(W_d)² (ebmlib.solvers."
                               "lipschitz).",
                        "W_e doit valoir (2/L) W_d, avec L = 2 σ_max(W_d)² (ebmlib.solvers."
                        "lipschitz).")
    if torch.allclose(S, -2 / L * W.T @ W, atol=1e-8):
        return Feedback(False, "S forgets the identity: z − (2/L) W_dᵀW_d z = (I − (2/L) W_dᵀW_d) z.",
                        "Il manque l'identité dans S : z − (2/L) W_dᵀW_d z = (I − (2/L) W_dᵀW_d) z.")
    if not torch.allclose(S, eye - 2 / L * W.T @ W, atol=1e-8):
        return Feedback(False, "S must be I − (2/L) W_dᵀW_d, an (m, m) matrix.",
                        "S doit valoir I − (2/L) W_dᵀW_d, une matrice (m, m).")
    if abs(theta - lam) < 1e-9:
        return Feedback(False, "The threshold is λ/L, not λ: it scales with the step.",
                        "Le seuil vaut λ/L, pas λ : il suit la taille du pas.")
    if abs(theta - lam / L) > 1e-9:
        return Feedback(False, f"theta must be λ/L = {lam / L:.4g}, received {theta:.4g}.",
                        f"theta doit valoir λ/L = {lam / L:.4g} ; vous donnez {theta:.4g}.")
    return Feedback(True, "Right: W_e = (2/L) W_d, S = I − (2/L) W_dᵀW_d, θ = λ/L.",
                    "Juste : W_e = (2/L) W_d, S = I − (2/L) W_dᵀW_d, θ = λ/L.")


def check_lista_layer(layer: Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]) -> Feedback:
    """Check ``layer(z, y, W_e, S, theta)`` = h_θ(W_eᵀy + S z) for rows: shrink(y W_e + z Sᵀ).

    Shapes: z (B, m), y (B, n), W_e (n, m), S (m, m) (not symmetric here: a learned S),
    θ (m,), one threshold per component.
    """
    g = torch.Generator().manual_seed(12)
    B, n, m = 5, 12, 20
    z = torch.randn(B, m, generator=g, dtype=torch.float64) * 0.5
    y = torch.randn(B, n, generator=g, dtype=torch.float64)
    W_e = torch.randn(n, m, generator=g, dtype=torch.float64) * 0.3
    S = torch.randn(m, m, generator=g, dtype=torch.float64) * 0.2
    theta = torch.rand(m, generator=g, dtype=torch.float64) * 0.5
    out, bad = _run(layer, (z.clone(), y.clone(), W_e.clone(), S.clone(), theta.clone()), (B, m),
                    "the shape of z", "le nouveau code (comme z)")
    if bad is not None:
        return bad

    def h(v):
        return torch.sign(v) * torch.clamp(v.abs() - theta, min=0)

    right = h(y @ W_e + z @ S.T)
    if torch.allclose(out, right, atol=1e-8):
        return Feedback(True, "Right: one layer is a linear map of (y, z), then a shrink by θ.",
                        "Juste : une couche est une application linéaire de (y, z) suivie d'un "
                        "rétrécissement de θ.")
    guesses = [
        (y @ W_e + z @ S.T, "You forgot the shrinkage h_θ.", "Vous avez oublié le rétrécissement h_θ."),
        (h(y @ W_e + z @ S), "With one sample per row, S z is z @ S.T (S is not symmetric once "
         "learned).", "Avec un exemple par ligne, S z s'écrit z @ S.T (S n'est plus symétrique "
         "une fois apprise)."),
        (h(z @ S.T), "The input y must enter every layer through W_eᵀy.",
         "L'entrée y doit intervenir dans chaque couche, par W_eᵀy."),
        (h(y @ W_e), "The layer must also use the previous code, through S z.",
         "La couche doit aussi utiliser le code précédent, par S z."),
    ]
    mistake = _known_mistake(out, guesses, atol=1e-8)
    if mistake is not None:
        return mistake
    return _wrong_values(out, right)


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


def check_conv_energy(energy: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> Feedback:
    """Check ``energy(y, K, z, lam)`` = ½‖y − Σ_i K_i * Z_i‖² + λ Σ_i ‖Z_i‖₁ per image (full boundary).

    y is (B, C, H, W), K (M, C, k, k), z (B, M, H + k − 1, W + k − 1); the answer is (B,).
    """
    from .conv import decode, map_size

    g = torch.Generator().manual_seed(6)
    K = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    y = torch.randn(5, 2, 9, 10, generator=g, dtype=torch.float64)
    z = torch.randn(5, 3, *map_size((9, 10), (4, 4)), generator=g, dtype=torch.float64)
    lam = 0.3
    out, bad = _run(energy, (y.clone(), K.clone(), z.clone(), lam), (5,),
                    "one energy per image", "les énergies (une par image)")
    if bad is not None:
        return bad
    sq = (y - decode(z, K)).pow(2).sum((1, 2, 3))
    l1 = z.abs().sum((1, 2, 3))
    right = 0.5 * sq + lam * l1
    if torch.allclose(out, right, rtol=1e-5, atol=1e-8):
        return Feedback(True, "Right: ½ of the squared error plus λ times the L1 norm of the maps.",
                        "Juste : la moitié de l'erreur quadratique plus λ fois la norme L1 des cartes.")
    guesses = [
        (sq + lam * l1, "You forgot the ½ in front of the squared error.",
         "Vous avez oublié le ½ devant l'erreur quadratique."),
        (0.5 * sq, "This is the reconstruction term alone: add λ Σ_i ‖Z_i‖₁.",
         "C'est le terme de reconstruction seul : ajoutez λ Σ_i ‖Z_i‖₁."),
        (0.5 * sq + lam * z.pow(2).sum((1, 2, 3)),
         "Your penalty is the squared L2 norm of the maps; the energy uses the L1 norm.",
         "Votre pénalité est la norme L2 au carré des cartes ; l'énergie utilise la norme L1."),
        (0.5 * sq.sqrt() + lam * l1, "Square the reconstruction error: ‖·‖², not ‖·‖.",
         "Mettez l'erreur de reconstruction au carré : ‖·‖², pas ‖·‖."),
    ]
    mistake = _known_mistake(out, guesses, rtol=1e-5, atol=1e-8)
    if mistake is not None:
        return mistake
    if torch.allclose(out.sum(), right.sum(), rtol=1e-5):
        return Feedback(False, "The total is right but not per image: sum over (M or C, H, W) only.",
                        "Le total est juste, mais pas la valeur de chaque image : ne sommez que sur "
                        "(M ou C, H, W).")
    i = int((out - right).abs().argmax())
    return Feedback(False, f"Wrong value: for image {i} you give {out[i]:.4f}, expected {right[i]:.4f}.",
                    f"Valeur fausse : pour l'image {i}, vous donnez {out[i]:.4f} au lieu de "
                    f"{right[i]:.4f}.")


def check_conv_lipschitz(lipschitz: Callable[[Tensor, tuple[int, int]], float]) -> Feedback:
    """Check ``lipschitz(K, size)`` = ‖D‖² = max_f Σ_i |K̂_i(f)|² for grey kernels K (M, 1, k, k)
    and the circular boundary on (H, W) = size images."""
    from .conv import conv_lipschitz

    g = torch.Generator().manual_seed(7)
    K = torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64)
    size = (16, 12)
    out, problem = _invoke(lipschitz, K.clone(), size)
    if problem is not None:
        return problem
    try:
        out = float(out)
    except (TypeError, ValueError, RuntimeError):
        return Feedback(False, f"Expected a number, received {type(out).__name__}.",
                        "Un nombre était attendu ; la fonction a renvoyé un objet de type "
                        f"{type(out).__name__}.")
    right = conv_lipschitz(K, size, "circular")
    if abs(out - right) <= 1e-6 * right:
        return Feedback(True, "Right: the largest squared gain of the operator over all frequencies.",
                        "Juste : le plus grand gain au carré de l'opérateur sur toutes les fréquences.")
    K_hat = torch.fft.fft2(K[:, 0], s=size)
    guesses = [
        (float(K_hat.abs().sum(0).max()), "Square the moduli: Σ_i |K̂_i(f)|², not Σ_i |K̂_i(f)|.",
         "Mettez les modules au carré : Σ_i |K̂_i(f)|², pas Σ_i |K̂_i(f)|."),
        (float(K_hat.abs().pow(2).amax(0).max()),
         "Sum over the kernels at each frequency before taking the maximum: all maps add up.",
         "Sommez sur les noyaux à chaque fréquence avant de prendre le maximum : toutes les cartes "
         "s'ajoutent."),
        (float(K_hat.sum(0).abs().pow(2).max()),
         "Sum the squared moduli |K̂_i(f)|², not the transforms themselves: the maps are independent.",
         "Sommez les modules au carré |K̂_i(f)|², et non les transformées elles-mêmes : les cartes "
         "sont indépendantes."),
        (float(torch.fft.fft2(K[:, 0]).abs().pow(2).sum(0).max()),
         "Pad the kernels to the image size (s=size): the frequencies are those of the image.",
         "Complétez les noyaux par des zéros jusqu'à la taille de l'image (s=size) : les fréquences "
         "sont celles de l'image."),
        (float(K.pow(2).sum()), "This is the total energy of the kernels, the mean of Σ_i |K̂_i(f)|² "
         "over frequencies (Parseval): take the maximum instead.",
         "C'est l'énergie totale des noyaux, la moyenne de Σ_i |K̂_i(f)|² sur les fréquences "
         "(Parseval) : prenez plutôt le maximum."),
    ]
    for value, en, fr in guesses:
        if abs(out - value) <= 1e-6 * abs(value):
            return Feedback(False, en, fr)
    return Feedback(False, f"You give {out:.4f}, expected {right:.4f}.",
                    f"Vous donnez {out:.4f} au lieu de {right:.4f}.")
