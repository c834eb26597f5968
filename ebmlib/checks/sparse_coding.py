"""Checkers of chapter 2, sparse coding and dictionary learning."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..dictionary import dictionary_step, normalize_columns
from ._feedback import (
    Feedback,
    _invoke,
    _known_mistake,
    _run,
)

__all__ = ["check_dictionary_step", "check_lambda_for_k", "check_normalize"]


def check_normalize(normalize: Callable[[Tensor], Tensor]) -> Feedback:
    """Check ``normalize(W)``: W_d (n, m) with every column scaled to unit Euclidean norm."""
    from ..dictionary import normalize_columns

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
    from ..solvers import fista

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
