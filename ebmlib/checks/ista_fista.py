"""Checkers of chapter 3, ISTA and FISTA."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._feedback import (
    Feedback,
    _known_mistake,
    _run,
    _wrong_values,
)

__all__ = ["check_ista_step", "check_shrink"]


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
    from ..solvers import lipschitz

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
