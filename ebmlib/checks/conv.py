"""Checkers of the convolutional sparse coding chapter."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..analysis import orientation
from ..solvers import _shrink
from ._feedback import (
    Feedback,
    _as_number,
    _call,
    _en,
    _fr,
    _invoke,
    _known_mistake,
    _read_prediction,
    _run,
)

__all__ = ["check_conv_adjoint", "check_conv_energy", "check_conv_fista_step", "check_conv_lipschitz",
           "check_lambda_kernels"]


def check_conv_energy(energy: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> Feedback:
    """Check ``energy(y, K, z, lam)`` = ½‖y − Σ_i K_i * Z_i‖² + λ Σ_i ‖Z_i‖₁ per image (full boundary).

    y is (B, C, H, W), K (M, C, k, k), z (B, M, H + k − 1, W + k − 1); the answer is (B,).
    """
    from ..conv import conv_energy, decode, map_size

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
    right = conv_energy(y, K, z, lam)  # the library's answer
    if torch.allclose(out, right, rtol=1e-5, atol=1e-8):
        return Feedback(True, "Right: ½ of the squared error plus λ times the L1 norm of the maps.",
                        "Juste : la moitié de l'erreur quadratique plus λ fois la norme L1 des cartes.")
    n_pixels, n_codes = y[0].numel(), z[0].numel()
    guesses = [
        (sq + lam * l1, "You forgot the ½ in front of the squared error.",
         "Vous avez oublié le ½ devant l'erreur quadratique."),
        (0.5 * (sq + lam * l1), "The ½ multiplies the squared error only: you halved λ Σ_i ‖Z_i‖₁ too.",
         "Le ½ ne porte que sur l'erreur quadratique : vous avez aussi divisé λ Σ_i ‖Z_i‖₁ par deux."),
        (0.5 * sq, "This is the reconstruction term alone: add λ Σ_i ‖Z_i‖₁.",
         "C'est le terme de reconstruction seul : ajoutez λ Σ_i ‖Z_i‖₁."),
        (0.5 * sq + lam * z.pow(2).sum((1, 2, 3)),
         "Your penalty is the squared L2 norm of the maps; the energy uses the L1 norm.",
         "Votre pénalité est la norme L2 au carré des cartes ; l'énergie utilise la norme L1."),
        (0.5 * sq.sqrt() + lam * l1, "Square the reconstruction error: ‖·‖², not ‖·‖.",
         "Mettez l'erreur de reconstruction au carré : ‖·‖², pas ‖·‖."),
        (0.5 * sq / n_pixels + lam * l1, "You averaged the squared error over the pixels, as a loss "
         "function would: the energy sums it over every channel and pixel of the image.",
         "Vous avez pris la moyenne de l'erreur quadratique sur les pixels, comme le ferait une "
         "fonction de perte : l'énergie la somme sur tous les canaux et tous les pixels de l'image."),
        (0.5 * sq / n_pixels + lam * l1 / n_codes, "You averaged both terms over their entries, as a "
         "loss function would: the energy sums the squared error over every pixel and the absolute "
         "values over every entry of the maps.",
         "Vous avez pris la moyenne des deux termes sur leurs composantes, comme le ferait une fonction "
         "de perte : l'énergie somme l'erreur quadratique sur tous les pixels et les valeurs absolues "
         "sur toutes les composantes des cartes."),
    ]
    mistake = _known_mistake(out, guesses, rtol=1e-5, atol=1e-8)
    if mistake is not None:
        return mistake
    if torch.allclose(out.sum(), right.sum(), rtol=1e-5):
        return Feedback(False, "The total is right but not per image: sum over (M or C, H, W) only.",
                        "Le total est juste, mais pas la valeur de chaque image : ne sommez que sur "
                        "(M ou C, H, W).")
    i = int((out - right).abs().argmax())
    return Feedback(False, f"Wrong value: for image {i} you give {_en(float(out[i]), '.4f')}, expected "
                           f"{_en(float(right[i]), '.4f')}.",
                    f"Valeur fausse : pour l'image {i}, vous donnez {_fr(float(out[i]), '.4f')} au lieu de "
                    f"{_fr(float(right[i]), '.4f')}.")


def check_conv_lipschitz(lipschitz: Callable[[Tensor, tuple[int, int]], float]) -> Feedback:
    """Check ``lipschitz(K, size)`` = ‖D‖² = max_f Σ_i |K̂_i(f)|² for grey kernels K (M, 1, k, k)
    and the circular boundary on (H, W) = size images.

    Two image sizes are tried, with zero-mean kernels (as edges are), so that the largest gain is
    not at the frequency 0 that every grid shares: a transform of the kernels at their own size
    (without s=size) then gives another value. The classic mistakes are named: no square, a
    maximum over the kernels instead of a sum, |Σ_i K̂_i|², no padding, ‖D‖ instead of ‖D‖², an
    orthonormal transform, a sum or a mean over frequencies instead of the maximum.
    """
    from ..conv import conv_lipschitz

    g = torch.Generator().manual_seed(7)
    K = torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64)
    K = K - K.mean((-2, -1), keepdim=True)  # zero-mean kernels: the largest gain is not at f = 0
    for size in ((16, 12), (9, 14)):
        out, problem = _invoke(lipschitz, K.clone(), size)
        if problem is not None:
            return problem
        out, problem = _as_number(out)
        if problem is not None:
            return problem
        right = conv_lipschitz(K, size, "circular")
        if abs(out - right) <= 1e-6 * right:
            continue
        K_hat = torch.fft.fft2(K[:, 0], s=size)
        gain = K_hat.abs().pow(2).sum(0)  # Σ_i |K̂_i(f)|² at every frequency
        guesses = [
            (float(K_hat.abs().sum(0).max()), "Square the moduli: Σ_i |K̂_i(f)|², not Σ_i |K̂_i(f)|.",
             "Mettez les modules au carré : Σ_i |K̂_i(f)|², pas Σ_i |K̂_i(f)|."),
            (float(K_hat.abs().pow(2).amax(0).max()),
             "Sum over the kernels at each frequency before taking the maximum: all maps add up.",
             "Sommez sur les noyaux à chaque fréquence avant de prendre le maximum : toutes les cartes "
             "s'ajoutent."),
            (float(K_hat.sum(0).abs().pow(2).max()),
             "Sum the squared moduli |K̂_i(f)|², not the transforms themselves: the norm of a row "
             "(K̂_1(f), ..., K̂_M(f)) is the square root of Σ_i |K̂_i(f)|².",
             "Sommez les modules au carré |K̂_i(f)|², et non les transformées elles-mêmes : la norme "
             "d'une ligne (K̂_1(f), ..., K̂_M(f)) est la racine carrée de Σ_i |K̂_i(f)|²."),
            (float(torch.fft.fft2(K[:, 0]).abs().pow(2).sum(0).max()),
             "Pad the kernels to the image size (s=size): the frequencies are those of the image.",
             "Complétez les noyaux par des zéros jusqu'à la taille de l'image (s=size) : les fréquences "
             "sont celles de l'image."),
            (float(gain.max().sqrt()), "This is ‖D‖, the largest gain: the step needs its square, "
             "L = ‖D‖² = max_f Σ_i |K̂_i(f)|².",
             "C'est ‖D‖, le plus grand gain : le pas demande son carré, L = ‖D‖² = "
             "max_f Σ_i |K̂_i(f)|²."),
            (float(gain.max()) / (size[0] * size[1]),
             "With norm='ortho' the transforms are divided by √(H W); the gains of a convolution are "
             "the plain transforms of the kernels (the default norm).",
             "Avec norm='ortho', les transformées sont divisées par √(H W) ; les gains d'une "
             "convolution sont les transformées ordinaires des noyaux (la normalisation par défaut)."),
            (float(gain.sum()), "This is the sum of Σ_i |K̂_i(f)|² over all frequencies: take the "
             "maximum over f, the gain of the worst frequency.",
             "C'est la somme de Σ_i |K̂_i(f)|² sur toutes les fréquences : prenez le maximum sur f, "
             "le gain de la pire fréquence."),
            (float(K.pow(2).sum()), "This is the total energy of the kernels, the mean of Σ_i |K̂_i(f)|² "
             "over frequencies (Parseval): take the maximum instead.",
             "C'est l'énergie totale des noyaux, la moyenne de Σ_i |K̂_i(f)|² sur les fréquences "
             "(Parseval) : prenez plutôt le maximum."),
        ]
        for value, en, fr in guesses:
            if abs(out - value) <= 1e-6 * abs(value):
                return Feedback(False, en, fr)
        return Feedback(False, f"For images of {size[0]} × {size[1]} you give {_en(out, '.4f')}, expected "
                               f"{_en(right, '.4f')}.",
                        f"Pour des images de {size[0]} × {size[1]}, vous donnez {_fr(out, '.4f')} au lieu "
                        f"de {_fr(right, '.4f')}.")
    return Feedback(True, "Right: the largest squared gain of the operator over all frequencies, for "
                          "two image sizes.",
                    "Juste : le plus grand gain au carré de l'opérateur sur toutes les fréquences, "
                    "pour deux tailles d'image.")


# -- helpers ----------------------------------------------------------------------------

def _lam_fr(lam: float) -> str:
    return f"{lam:g}".replace(".", ",")


def _first_gap(out: Tensor, right: Tensor, *, rtol: float, atol: float) -> tuple[int, tuple[int, ...]]:
    """How many entries of out differ from right, and the index of the largest difference."""
    wrong = ~torch.isclose(out, right, rtol=rtol, atol=atol)
    index = torch.unravel_index((out - right).abs().argmax(), out.shape)
    return int(wrong.sum()), tuple(int(i) for i in index)


# -- the adjoint of the convolutional decoder (derivation) -------------------------------

def check_conv_adjoint(adjoint: Callable[[Tensor, Tensor], Tensor]) -> Feedback:
    """Check ``adjoint(r, K)`` = Dᵀ r, the adjoint of D: Z ↦ Σ_i K_i * Z_i (full boundary).

    r is (B, C, H, W), K (M, C, k, k); the answer is (B, M, H + k − 1, W + k − 1). It is tested
    by the property that defines it, ⟨D z, r⟩ = ⟨z, Dᵀ r⟩, on random maps z, for two image
    sizes; a wrong answer is compared with the classic mistakes (a convolution instead of a
    correlation, transposed kernels, the wrong padding, a scale).
    """
    from torch.nn import functional

    from ..conv import decode, decode_adjoint, map_size

    g = torch.Generator().manual_seed(8)
    M, C, k = 3, 2, 5
    K = torch.randn(M, C, k, k, generator=g, dtype=torch.float64)
    for H, W in ((7, 9), (6, 11)):
        r = torch.randn(2, C, H, W, generator=g, dtype=torch.float64)
        want = (2, M, *map_size((H, W), (k, k)))
        out, problem = _call(adjoint, r.clone(), K.clone())
        if problem is not None:
            return problem
        shape = tuple(out.shape)
        if shape != want:
            if shape == (2, M, H, W):
                return Feedback(
                    False, f"Your maps are {H} × {W}, the size of the image (a 'same' padding of "
                    f"(k − 1)/2): the full boundary's maps are (H + k − 1) × (W + k − 1) = "
                    f"{want[2]} × {want[3]}; pad r with k − 1 zeros on every side.",
                    f"Vos cartes font {H} × {W}, la taille de l'image (un remplissage « same » de "
                    f"(k − 1)/2) : avec la convolution pleine, les cartes font (H + k − 1) × "
                    f"(W + k − 1) = {want[2]} × {want[3]} ; complétez r par k − 1 zéros de chaque "
                    "côté.")
            if shape == (2, M, H - k + 1, W - k + 1):
                return Feedback(
                    False, f"Your maps are {H - k + 1} × {W - k + 1}: a correlation without "
                    f"padding ('valid') keeps only the positions where the kernel lies inside r. "
                    f"Dᵀ r must give a value at every map position, "
                    f"(H + k − 1) × (W + k − 1) = {want[2]} × {want[3]}: pad r with k − 1 zeros.",
                    f"Vos cartes font {H - k + 1} × {W - k + 1} : une corrélation sans remplissage "
                    "(« valid ») ne garde que les positions où le noyau tient dans r. Dᵀ r doit "
                    f"donner une valeur à chaque position des cartes, (H + k − 1) × (W + k − 1) = "
                    f"{want[2]} × {want[3]} : complétez r par k − 1 zéros.")
            if len(shape) == 4 and shape[1] != M:
                return Feedback(
                    False, f"Dᵀ r has one map per kernel, M = {M} (here C = {C}): sum over the "
                    f"channels; you return shape {shape}, expected {want}.",
                    f"Dᵀ r a une carte par noyau, M = {M} (ici C = {C}) : sommez sur les canaux ; "
                    f"vous renvoyez la forme {shape} au lieu de {want}.")
            return Feedback(False, f"Expected maps of shape {want}, received {shape}.",
                            f"Forme attendue pour les cartes : {want} ; reçue : {shape}.")
        out = out.detach().to(torch.float64)
        right = decode_adjoint(r, K)
        pairs = []  # (⟨D z, r⟩, ⟨z, out⟩) for three random z: the property that defines Dᵀ
        for _ in range(3):
            z = torch.randn(want, generator=g, dtype=torch.float64)
            pairs.append((float((decode(z, K) * r).sum()), float((z * out).sum()),
                          float(z.norm() * right.norm())))
        if all(abs(lhs - rhs) <= 1e-6 * scale for lhs, rhs, scale in pairs):
            continue
        lhs, rhs, _ = next((lhs, rhs, s) for lhs, rhs, s in pairs if abs(lhs - rhs) > 1e-6 * s)
        guesses = [
            (functional.conv2d(r, K.flip(-2, -1), padding=k - 1),
             "You convolved r with the kernels (conv2d with flipped kernels, or a true "
             "convolution). The adjoint of a convolution is a correlation with the same kernel, "
             "not flipped.",
             "Vous avez convolué r avec les noyaux (conv2d avec des noyaux retournés, ou une vraie "
             "convolution). L'adjoint d'une convolution est la corrélation avec le même noyau, sans "
             "le retourner."),
            (functional.conv2d(r, K.transpose(-2, -1), padding=k - 1),
             "You transposed every kernel, as one transposes W_d. The transpose of the operator D "
             "is not the operator of the transposed kernels: Dᵀ correlates r with K_i itself.",
             "Vous avez transposé chaque noyau, comme on transpose W_d. La transposée de "
             "l'opérateur D n'est pas l'opérateur des noyaux transposés : Dᵀ calcule la "
             "corrélation de r avec K_i lui-même."),
            (functional.conv2d(r, K.transpose(-2, -1).flip(-2, -1), padding=k - 1),
             "You transposed every kernel and convolved with it. Dᵀ is the correlation of r with "
             "K_i itself: neither transposed nor flipped.",
             "Vous avez transposé chaque noyau puis convolué. Dᵀ est la corrélation de r avec K_i "
             "lui-même : ni transposé, ni retourné."),
        ]
        mistake = _known_mistake(out, guesses, rtol=1e-6, atol=1e-8)
        if mistake is not None:
            return mistake
        scale = float((out * right).sum() / right.pow(2).sum())
        if abs(scale) > 1e-12 and torch.allclose(out, scale * right, rtol=1e-6, atol=1e-8):
            return Feedback(False, f"Right direction, wrong scale: your answer is {_en(scale, '.4f')} "
                                   "times Dᵀ r. The adjoint has no step size or normalisation.",
                            f"Bonne direction, mauvaise échelle : votre réponse vaut {_fr(scale, '.4f')} "
                            "fois Dᵀ r. L'adjoint ne fait intervenir ni pas de descente ni normalisation.")
        for di in range(-(k - 1), k):
            for dj in range(-(k - 1), k):
                if (di, dj) == (0, 0):
                    continue
                a = out[..., max(di, 0):out.shape[-2] + min(di, 0), max(dj, 0):out.shape[-1] + min(dj, 0)]
                b = right[..., max(-di, 0):right.shape[-2] + min(-di, 0),
                          max(-dj, 0):right.shape[-1] + min(-dj, 0)]
                if torch.allclose(a, b, rtol=1e-6, atol=1e-8):
                    shift = f"({_en(di, '.0f')}, {_en(dj, '.0f')})"
                    return Feedback(
                        False, f"Your maps are those of Dᵀ r, shifted by {shift} "
                        "pixels: the padding must be k − 1 zeros on every side of r, the same on "
                        "the left and on the right.",
                        f"Vos cartes sont celles de Dᵀ r, décalées de {shift} "
                        "pixels : il faut compléter r par k − 1 zéros de chaque côté, autant à "
                        "gauche qu'à droite.")
        return Feedback(False, f"Keep going: for random maps z, ⟨D z, r⟩ = {_en(lhs, '.3f')} but "
                               f"⟨z, your Dᵀ r⟩ = {_en(rhs, '.3f')} (images of {H} × {W}). Write "
                               "⟨D z, r⟩ as a sum and collect the terms that multiply each Z_i[s].",
                        f"Pas encore : pour des cartes z aléatoires, ⟨D z, r⟩ = {_fr(lhs, '.3f')} mais "
                        f"⟨z, votre Dᵀ r⟩ = {_fr(rhs, '.3f')} (images de {H} × {W}). Écrivez ⟨D z, r⟩ "
                        "sous forme de somme et regroupez les termes qui multiplient chaque Z_i[s].")
    return Feedback(True, "Right: ⟨D z, r⟩ = ⟨z, Dᵀ r⟩ for random z and r, with two image sizes. "
                          "Dᵀ is the correlation of r, padded with k − 1 zeros, with every kernel, "
                          "summed over the channels.",
                    "Juste : ⟨D z, r⟩ = ⟨z, Dᵀ r⟩ pour des z et r aléatoires, avec deux tailles "
                    "d'image. Dᵀ est la corrélation de r, complété par k − 1 zéros, avec chaque "
                    "noyau, sommée sur les canaux.")


# -- one step of FISTA on feature maps (implementation) -----------------------------------

_SHAPE_WORDS = ("size of tensor", "must match", "shape", "expected z with")


def _with_adjoint_hint(problem: Feedback) -> Feedback:
    """An error about sizes in a FISTA step is usually the missing adjoint: say so."""
    if not any(word in problem.text["en"] for word in _SHAPE_WORDS):
        return problem
    return Feedback(False, problem.text["en"] + " — Hint: D v − y is an image (B, C, H, W) while v "
                    "is a stack of maps (B, M, H_z, W_z); the gradient on the maps is Dᵀ(D v − y): "
                    "apply decode_adjoint to the residual.",
                    problem.text["fr"] + " — Indice : D v − y est une image (B, C, H, W), alors que "
                    "v est une pile de cartes (B, M, H_z, W_z) ; le gradient par rapport aux cartes "
                    "est Dᵀ(D v − y) : appliquez decode_adjoint au résidu.")


def check_conv_fista_step(step: Callable[..., tuple]) -> Feedback:
    """Check ``step(x_prev, v, t, y, K, lam, L)`` → ``(x, v_next, t_next)``, one FISTA step for
    E(Z, y) = ½‖y − Σ_i K_i * Z_i‖² + λ Σ_i ‖Z_i‖₁ (full boundary):

    x = h_{λ/L}(v − Dᵀ(D v − y)/L), t_next = (1 + √(1 + 4 t²))/2,
    v_next = x + (t − 1)/t_next · (x − x_prev).

    The step is run five times from zero maps (x_prev = v = 0, t = 1), each time from the
    library's state, and its x is compared with :func:`ebmlib.conv.conv_fista` stopped after
    1, 2, ..., 5 iterations: iterate by iterate. Classic mistakes are named (the threshold λ
    instead of λ/L, the sign of the gradient, a missing 1/L or adjoint, a factor 2, no
    momentum, the wrong momentum weight).
    """
    from ..conv import conv_fista, conv_lipschitz, decode, decode_adjoint, map_size, normalize_kernels

    g = torch.Generator().manual_seed(9)
    K = normalize_kernels(torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64))
    y = 4 * torch.randn(2, 1, 12, 10, generator=g, dtype=torch.float64)
    lam = 1.0  # x_1 has zeros, and a threshold of λ instead of λ/L leaves some non-zeros
    L = conv_lipschitz(K, (12, 10))
    shape = (2, 4, *map_size((12, 10), (5, 5)))
    x_prev = torch.zeros(shape, dtype=torch.float64)
    v, t = x_prev.clone(), 1.0
    n_iterates = 5

    def gradient(z: Tensor) -> Tensor:
        return decode_adjoint(decode(z, K) - y, K)

    for k in range(1, n_iterates + 1):
        result, problem = _invoke(step, x_prev.clone(), v.clone(), t, y.clone(), K.clone(), lam, L)
        if problem is not None:
            return _with_adjoint_hint(problem)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            return Feedback(False, "Return the three values (x, v_next, t_next): the new iterate, "
                                   "the next extrapolated point and the next t.",
                            "Renvoyez les trois valeurs (x, v_next, t_next) : le nouvel itéré, le "
                            "prochain point extrapolé et le prochain t.")
        x, v_next, t_next = result
        for name, value in (("x", x), ("v_next", v_next)):
            if not isinstance(value, Tensor) or tuple(value.shape) != shape:
                got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                return Feedback(False, f"{name} must be maps of shape {shape}, like v; received {got}.",
                                f"{name} doit être une pile de cartes de forme {shape}, comme v ; "
                                f"reçu : {got}.")
        try:
            t_next = float(t_next)
        except (TypeError, ValueError, RuntimeError):
            return Feedback(False, f"t_next must be a number, received {type(t_next).__name__}.",
                            "t_next doit être un nombre ; reçu : un objet de type "
                            f"{type(t_next).__name__}.")
        x, v_next = (value.detach().to(torch.float64) for value in (x, v_next))
        right_x = conv_fista(y, K, lam, max_iter=k, tol=0, L=L, trace=False).z  # the library's x_k
        if not torch.allclose(x, right_x, rtol=1e-6, atol=1e-9):
            grad = gradient(v)
            guesses = [
                (_shrink(v - grad / L, lam),
                 "Shrink by λ/L, not by λ: the threshold scales with the step 1/L.",
                 "Rétrécissez de λ/L, pas de λ : le seuil suit le pas 1/L."),
                (_shrink(v + grad / L, lam / L),
                 "Step down the gradient: v − Dᵀ(D v − y)/L. Your step goes uphill (a sign, "
                 "perhaps in the residual: D v − y, not y − D v).",
                 "Le pas descend le gradient : v − Dᵀ(D v − y)/L. Le vôtre monte (un signe, peut-être "
                 "dans le résidu : D v − y, et non y − D v)."),
                (_shrink(v - grad, lam / L),
                 "The gradient step has size 1/L: v − Dᵀ(D v − y)/L.",
                 "Le pas de gradient a pour taille 1/L : v − Dᵀ(D v − y)/L."),
                (_shrink(v - 2 * grad / L, lam / L),
                 "This chapter's energy has a ½: the gradient of ½‖y − D z‖² is Dᵀ(D z − y), "
                 "without the factor 2 of the earlier chapters.",
                 "L'énergie de ce chapitre a un ½ : le gradient de ½‖y − D z‖² vaut Dᵀ(D z − y), "
                 "sans le facteur 2 des chapitres précédents."),
                (torch.clamp(v - grad / L - lam / L, min=0),
                 "Your shrinkage keeps only the positive part (a ReLU): h_{λ/L}(u) = sign(u) "
                 "max(|u| − λ/L, 0) keeps the negative coefficients too, moved towards 0 by λ/L.",
                 "Votre rétrécissement ne garde que la partie positive (une ReLU) : h_{λ/L}(u) = "
                 "sign(u) max(|u| − λ/L, 0) garde aussi les coefficients négatifs, rapprochés de 0 "
                 "de λ/L."),
                (torch.clamp((v - grad / L).abs() - lam / L, min=0),
                 "Your shrinkage lost the sign: h_{λ/L}(u) = sign(u) max(|u| − λ/L, 0), not "
                 "max(|u| − λ/L, 0).",
                 "Votre rétrécissement a perdu le signe : h_{λ/L}(u) = sign(u) max(|u| − λ/L, 0), et "
                 "non max(|u| − λ/L, 0)."),
                (v - grad / L, "You took the gradient step but forgot the shrinkage h_{λ/L}.",
                 "Vous avez fait le pas de gradient mais oublié le rétrécissement h_{λ/L}."),
                (_shrink(v - decode_adjoint(decode(v, K), K) / L, lam / L),
                 "The residual is D v − y: you forgot y.",
                 "Le résidu est D v − y : vous avez oublié y."),
            ]
            if k > 1:
                guesses.append((_shrink(x_prev - gradient(x_prev) / L, lam / L),
                                "The gradient step starts from the extrapolated point v, not from "
                                "x_prev: that is ISTA's step.",
                                "Le pas de gradient part du point extrapolé v, pas de x_prev : ça, "
                                "c'est le pas d'ISTA."))
            mistake = _known_mistake(x, guesses, rtol=1e-6, atol=1e-9)
            if mistake is not None:
                fr = mistake.text["fr"]
                return Feedback(False, f"Iteration {k}: {mistake.text['en']}",
                                f"Itération {k} : {fr[0].lower()}{fr[1:]}")
            count, (b, i, row, col) = _first_gap(x, right_x, rtol=1e-6, atol=1e-9)
            total = x.numel()
            return Feedback(
                False, f"Keep going: at iteration {k} your x differs from conv_fista's at {count} "
                f"of {total} entries; the largest gap is in image {b}, map {i}, at ({row}, {col}): "
                f"{_en(float(x[b, i, row, col]), '.4f')} instead of "
                f"{_en(float(right_x[b, i, row, col]), '.4f')}.",
                f"Pas encore : à l'itération {k}, votre x diffère de celui de conv_fista en {count} "
                f"composantes sur {total} ; le plus grand écart est dans l'image {b}, carte {i}, en "
                f"({row}, {col}) : {_fr(float(x[b, i, row, col]), '.4f')} au lieu de "
                f"{_fr(float(right_x[b, i, row, col]), '.4f')}.")
        right_t = (1 + (1 + 4 * t * t) ** 0.5) / 2
        if abs(t_next - right_t) > 1e-6 * right_t:
            if abs(t_next - t) <= 1e-12:
                return Feedback(False, f"Iteration {k}: t does not change; update it, "
                                       "t_next = (1 + √(1 + 4 t²))/2.",
                                f"Itération {k} : t ne change pas ; mettez-le à jour, "
                                "t_next = (1 + √(1 + 4 t²))/2.")
            return Feedback(False, f"Iteration {k}: from t = {_en(t, '.4f')}, t_next = (1 + √(1 + 4 t²))/2 "
                                   f"= {_en(right_t, '.4f')}; you give {_en(t_next, '.4f')}.",
                            f"Itération {k} : à partir de t = {_fr(t, '.4f')}, t_next = (1 + √(1 + 4 t²))/2 "
                            f"= {_fr(right_t, '.4f')} ; vous donnez {_fr(t_next, '.4f')}.")
        beta = (t - 1) / right_t
        right_v = right_x + beta * (right_x - x_prev)
        if not torch.allclose(v_next, right_v, rtol=1e-6, atol=1e-9):
            guesses = [
                (right_x, "v_next = x: no momentum. This is ISTA, the step that the lecture notes "
                          "describe under the name FISTA; extrapolate: v_next = x + (t − 1)/t_next · "
                          "(x − x_prev).",
                 "v_next = x : pas d'inertie. C'est ISTA, le pas que les notes du cours décrivent "
                 "sous le nom de FISTA ; extrapolez : v_next = x + (t − 1)/t_next · (x − x_prev)."),
                (right_x - beta * (right_x - x_prev),
                 "The momentum goes the wrong way: extrapolate beyond x, away from x_prev, "
                 "x + (t − 1)/t_next · (x − x_prev).",
                 "L'inertie part du mauvais côté : extrapolez au-delà de x, en s'éloignant de x_prev, "
                 "x + (t − 1)/t_next · (x − x_prev)."),
                (right_x + (t - 1) / t * (right_x - x_prev),
                 "The momentum weight is (t − 1)/t_next, with the new t in the denominator, not "
                 "(t − 1)/t.",
                 "Le poids de l'inertie est (t − 1)/t_next, avec le nouveau t au dénominateur, et non "
                 "(t − 1)/t."),
                (right_x + beta * (right_x - v),
                 "The momentum follows the last move of the iterates, x − x_prev, not x − v.",
                 "L'inertie suit le dernier déplacement des itérés, x − x_prev, et non x − v."),
            ]
            mistake = _known_mistake(v_next, guesses, rtol=1e-6, atol=1e-9)
            if mistake is not None:
                return Feedback(False, f"Iteration {k}: your x is right. {mistake.text['en']}",
                                f"Itération {k} : votre x est juste. {mistake.text['fr']}")
            gap = f"{float((v_next - right_v).abs().max()):.3g}"
            return Feedback(False, f"Iteration {k}: your x is right but not v_next (largest gap "
                                   f"{gap}); v_next = x + (t − 1)/t_next · (x − x_prev).",
                            f"Itération {k} : votre x est juste, mais pas v_next (plus grand écart "
                            f"{gap.replace('.', ',')}) ; v_next = x + (t − 1)/t_next · (x − x_prev).")
        x_prev, v, t = right_x, right_v, right_t
    return Feedback(True, f"Right: started from zero maps, your steps give conv_fista's iterates "
                          f"x_1 to x_{n_iterates}, one by one, with the momentum and t of FISTA.",
                    f"Juste : en partant de cartes nulles, vos pas donnent les itérés x_1 à "
                    f"x_{n_iterates} de conv_fista, un par un, avec l'inertie et le t de FISTA.")


# -- how λ shapes the learned kernels (exploration) ---------------------------------------

_CHOICES = {
    "a": ("the same localised edges as at λ = 2", "les mêmes contours localisés qu'avec λ = 2"),
    "b": ("noise, with no structure, as at the start of training",
          "du bruit, sans structure, comme au début de l'apprentissage"),
    "c": ("larger, smoother shapes: long edges and broad stripes that fill the kernel",
          "des formes plus grandes et plus lisses : de longs contours et de larges bandes qui "
          "remplissent le noyau"),
    "d": ("the same shape in every kernel", "la même forme dans tous les noyaux"),
}

# the written answers: a letter, in either case, with or without parentheses
_LETTERS = {f"{left}{letter.upper()}{right}": letter for letter in _CHOICES
            for left, right in (("", ""), ("(", ")"))}
_LISTED = ("one of the letters a, b, c, d", "l'une des lettres a, b, c, d")

_WHY = {
    "b": ("with so cheap a penalty, dense maps rebuild the crops from almost any kernels, so "
          "training has little reason to move them from their random start",
          "avec une pénalité aussi faible, des cartes denses reconstruisent les morceaux à partir "
          "de presque n'importe quels noyaux ; l'apprentissage n'a donc guère de raison de les "
          "éloigner de leur point de départ aléatoire"),
    "c": ("every non-zero coefficient is expensive, so each one must place a kernel that explains "
          "as many pixels as possible; the kernels spread further across their support and keep "
          "the large, smooth structures",
          "chaque coefficient non nul coûte cher : chacun doit placer un noyau qui explique le plus de "
          "pixels possible, si bien que les noyaux s'étalent davantage sur leur support et gardent "
          "les structures larges et lisses"),
}


def _kernel_measures(K: Tensor) -> tuple[float, float, float]:
    """Medians over the kernels K (M, 1, k, k) of the orientation selectivity
    (:func:`ebmlib.analysis.orientation` on a 16 × 16 frequency grid), of the correlation
    between neighbouring pixels (about 0.1 and 0 for white noise) and of the radius of the
    kernel's energy, the root mean square distance of its squared values to their centroid, in
    pixels (√((k² − 1)/6), 3.7 for k = 9, if the energy filled the kernel evenly)."""
    k = K.detach().to("cpu", torch.float64)[:, 0]
    selectivity = orientation(k, fft_size=16).selectivity  # as the chapter measures it
    neighbours = ((k[:, :, 1:] * k[:, :, :-1]).sum((1, 2)) + (k[:, 1:] * k[:, :-1]).sum((1, 2))) / \
        (2 * k.pow(2).sum((1, 2)))
    energy = k.pow(2) / k.pow(2).sum((1, 2), keepdim=True)
    x = torch.arange(k.shape[-1], dtype=torch.float64)
    rows, cols = energy.sum(2), energy.sum(1)  # the energy's marginals, (M, k) each
    spread = sum((m * x.pow(2)).sum(1) - (m * x).sum(1).pow(2) for m in (rows, cols)).sqrt()
    return float(selectivity.median()), float(neighbours.median()), float(spread.median())


def _alike(K: Tensor) -> float:
    """Median over kernels of the largest |cosine| with another kernel, over all shifts."""
    k = K.detach().to("cpu", torch.float64)[:, 0]
    k = k / k.flatten(1).norm(dim=1).view(-1, 1, 1)
    corr = torch.nn.functional.conv2d(k[:, None], k[:, None], padding=k.shape[-1] - 1).abs()
    best = corr.flatten(2).amax(-1)
    best.fill_diagonal_(0)
    return float(best.amax(1).median())


def check_lambda_kernels(prediction: dict, kernels: Callable[[float], Tensor] | dict) -> Feedback:
    """Check a prediction of what the kernels learned with λ = 0.1 and λ = 8 look like, against
    the kernels themselves.

    ``prediction`` maps 0.1 and 8 to a letter: (a) the same localised edges as at λ = 2,
    (b) noise, (c) larger, smoother shapes that fill the kernel, (d) one shape in every kernel.
    ``kernels`` is a function λ ↦ kernels (M, 1, k, k) learned with that λ (all other settings
    equal), or a dict {0.1: ..., 2.0: ..., 8.0: ...}. The measured letter: (d) if the kernels are
    shifted copies of one another (median best |cosine| above 0.9); (b) if their median
    orientation selectivity is below 0.25 and below half of that at λ = 2; (c) if the correlation
    between neighbouring pixels exceeds that at λ = 2 by more than 0.1 and the radius of their
    energy exceeds that at λ = 2 (larger and smoother); (a) otherwise.
    """
    lams = (0.1, 8.0)
    answers, problem = _read_prediction(prediction, lams, _LETTERS, listed=_LISTED, upper=True)
    if problem is not None:
        return problem
    measured = {}
    for lam in (0.1, 2.0, 8.0):
        if isinstance(kernels, dict):
            K = next((value for key, value in kernels.items() if abs(float(key) - lam) < 1e-9), None)
            if K is None:
                return Feedback(False, f"kernels has no entry for λ = {lam:g}.",
                                f"kernels n'a pas d'entrée pour λ = {_lam_fr(lam)}.")
        else:
            K, problem = _invoke(kernels, lam)
            if problem is not None:
                return problem
        if not isinstance(K, Tensor) or K.dim() != 4 or K.shape[1] != 1 or K.shape[0] < 2:
            got = tuple(K.shape) if isinstance(K, Tensor) else type(K).__name__
            return Feedback(False, f"Expected grey kernels (M, 1, k, k) with M >= 2 for λ = {lam:g}, "
                                   f"received {got}.",
                            f"Noyaux en niveaux de gris (M, 1, k, k), avec M >= 2, attendus pour "
                            f"λ = {_lam_fr(lam)} ; reçu : {got}.")
        measured[lam] = (*_kernel_measures(K), _alike(K))
    sel_2, smooth_2, radius_2, _ = measured[2.0]
    verdict = {}
    for lam in lams:
        sel, smooth, radius, alike = measured[lam]
        if alike > 0.9:
            verdict[lam] = "d"
        elif sel < 0.25 and sel < 0.5 * sel_2:
            verdict[lam] = "b"
        elif smooth > smooth_2 + 0.1 and radius > radius_2:
            verdict[lam] = "c"
        else:
            verdict[lam] = "a"
    lines_en, lines_fr = [], []
    for lam in lams:
        sel, smooth, radius, _ = measured[lam]
        got, said = verdict[lam], answers[lam]
        e = {name: _en(value, ".2f") for name, value in (("sel", sel), ("sel_2", sel_2), ("smooth", smooth),
             ("smooth_2", smooth_2), ("radius", radius), ("radius_2", radius_2))}
        f = {name: number.replace(".", ",") for name, number in e.items()}
        en = (f"the measurement says ({got}), {_CHOICES[got][0]}. The kernels' median "
              f"orientation selectivity is {e['sel']} ({e['sel_2']} at λ = 2), and neighbouring pixels "
              f"correlate at {e['smooth']} ({e['smooth_2']} at λ = 2); their energy spreads over a "
              f"radius of {e['radius']} pixels ({e['radius_2']} at λ = 2)")
        fr = (f"la mesure dit ({got}), {_CHOICES[got][1]}. La médiane de la sélectivité "
              f"à l'orientation des noyaux vaut {f['sel']} ({f['sel_2']} avec λ = 2), et la "
              f"corrélation entre pixels voisins {f['smooth']} ({f['smooth_2']} avec λ = 2) ; leur "
              f"énergie s'étale sur un rayon de {f['radius']} pixels ({f['radius_2']} avec λ = 2)")
        if got in _WHY:
            en += f". Why: {_WHY[got][0]}"
            fr += f". Pourquoi ? {_WHY[got][1][0].upper()}{_WHY[got][1][1:]}"
        if said == got:
            lines_en.append(f"Right for λ = {lam:g}: {en}.")
            lines_fr.append(f"Juste pour λ = {_lam_fr(lam)} : {fr}.")
        else:
            lines_en.append(f"Not for λ = {lam:g}: you predicted ({said}), but {en}.")
            lines_fr.append(f"Pas pour λ = {_lam_fr(lam)} : vous aviez prédit ({said}), mais {fr}.")
    ok = all(answers[lam] == verdict[lam] for lam in lams)
    return Feedback(ok, " ".join(lines_en), " ".join(lines_fr))
