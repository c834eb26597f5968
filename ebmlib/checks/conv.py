"""Checkers of the convolutional sparse coding chapter."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._feedback import (
    Feedback,
    _invoke,
    _known_mistake,
    _run,
)

__all__ = ["check_conv_energy", "check_conv_lipschitz"]


def check_conv_energy(energy: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> Feedback:
    """Check ``energy(y, K, z, lam)`` = ½‖y − Σ_i K_i * Z_i‖² + λ Σ_i ‖Z_i‖₁ per image (full boundary).

    y is (B, C, H, W), K (M, C, k, k), z (B, M, H + k − 1, W + k − 1); the answer is (B,).
    """
    from ..conv import decode, map_size

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
    from ..conv import conv_lipschitz

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
