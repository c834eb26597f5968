"""Checkers of chapter 1, the regularized latent-variable EBM."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..energy import L1, LatentEnergy, SquaredL2
from ..toy import CurveDecoder, curve, distance_to_curve
from ._feedback import (
    Feedback,
    _call,
    _known_mistake,
    _shape,
)

__all__ = ["check_l1_free_energy", "check_l2_free_energy", "check_toy_energy"]


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
