"""Checkers of chapter 4, LISTA."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._feedback import (
    Feedback,
    _invoke,
    _known_mistake,
    _run,
    _wrong_values,
)

__all__ = ["check_lista_layer", "check_lista_matrices"]


def _lista_problem() -> tuple[Tensor, float, float]:
    g = torch.Generator().manual_seed(11)
    W = torch.randn(12, 20, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    from ..solvers import lipschitz

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
