"""Checkers of chapter 4, LISTA."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..solvers import _shrink
from ._feedback import (
    Feedback,
    _en,
    _fr,
    _invoke,
    _known_mistake,
    _read_prediction,
)

__all__ = ["check_amortisation_prediction", "check_lista_bptt", "check_lista_gradients"]


# -- K = 1: the gradient of the code-prediction loss, by hand (a derivation) -------------

def _small_lista(seed: int, B: int = 6, n: int = 10, m: int = 8
                 ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """y (B, n), z* (B, m), W_e (n, m), S (m, m) (not symmetric), θ (m,), float64.

    Drawn so that every layer has active and inactive units, none near the kink |v| = θ.
    """
    g = torch.Generator().manual_seed(seed)
    while True:
        y = torch.randn(B, n, generator=g, dtype=torch.float64)
        W_e = torch.randn(n, m, generator=g, dtype=torch.float64) * 0.4
        S = torch.eye(m, dtype=torch.float64) * 0.8 + torch.randn(m, m, generator=g,
                                                                   dtype=torch.float64) * 0.3
        theta = 0.3 + torch.rand(m, generator=g, dtype=torch.float64) * 0.7
        z_star = torch.randn(B, m, generator=g, dtype=torch.float64)
        z_star = z_star * (torch.rand(B, m, generator=g, dtype=torch.float64) < 0.5)
        b = y @ W_e
        v2 = b + _shrink(b, theta) @ S.T
        away = [(v.abs() - theta).abs().min() > 0.05 for v in (b, v2)]
        active = [0.2 < float((v.abs() > theta).double().mean()) < 0.8 for v in (b, v2)]
        if all(away) and all(active):
            return y, z_star, W_e, S, theta


def _loss(y: Tensor, z_star: Tensor, W_e: Tensor, S: Tensor | None, theta: Tensor) -> Tensor:
    """Mean over the batch of ‖z(K) − z*‖², K = 1 without S, K = 2 with it (shared weights)."""
    b = y @ W_e
    z = _shrink(b, theta)
    if S is not None:
        z = _shrink(b + z @ S.T, theta)
    return (z - z_star).pow(2).sum(1).mean()


def _autograd(y, z_star, W_e, S, theta) -> tuple[Tensor, ...]:
    params = [p.clone().requires_grad_() for p in ((W_e, S, theta) if S is not None
                                                    else (W_e, theta))]
    if S is None:
        loss = _loss(y, z_star, params[0], None, params[1])
    else:
        loss = _loss(y, z_star, *params)
    return (loss.detach(), *(p.detach() for p in torch.autograd.grad(loss, params)))


def _tuple(out: object, k: int, en: str, fr: str) -> Feedback | None:
    if not isinstance(out, tuple | list) or len(out) != k:
        return Feedback(False, f"Return {k} things: {en}.", f"Renvoyez {k} objets : {fr}.")
    return None


def _tensor(value: object, shape: tuple[int, ...], name: str, like_en: str, like_fr: str
            ) -> tuple[Tensor | None, Feedback | None]:
    """The student's value as float64 (shape checked), or the feedback on what is wrong."""
    if not isinstance(value, Tensor):
        kind = type(value).__name__
        return None, Feedback(False, f"{name} must be a torch.Tensor, received {kind}.",
                              f"{name} doit être un torch.Tensor ; vous renvoyez un objet de type "
                              f"{kind}.")
    if tuple(value.shape) != shape:
        return None, Feedback(False, f"Expected {like_en}, {shape}, for {name}; received "
                                     f"{tuple(value.shape)}.",
                              f"Forme attendue pour {name} ({like_fr}) : {shape} ; reçue : "
                              f"{tuple(value.shape)}.")
    return value.detach().to(torch.float64), None


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-9)


def _scale_mistakes(out: Tensor, right: Tensor, name: str, B: int, m: int) -> Feedback | None:
    """A forgotten factor 2, a sum over the batch instead of the mean, a mean taken twice or
    over the m components too (F.mse_loss), a wrong sign."""
    guesses = [
        (right / 2, f"{name} is half the right value: the derivative of ‖z − z*‖² is 2 (z − z*).",
         f"{name} vaut la moitié de la bonne valeur : la dérivée de ‖z − z*‖² vaut 2 (z − z*)."),
        (right * B, f"{name} is B = {B} times too large: the loss is the mean over the batch, "
                    "not the sum.",
         f"{name} est B = {B} fois trop grand : la perte est la moyenne sur le lot, pas la "
         "somme."),
        (right * B / 2, f"{name} is B/2 times too large: a mean over the batch, and a factor 2 "
                        "from the square.",
         f"{name} est B/2 fois trop grand : il faut la moyenne sur le lot et le facteur 2 du "
         "carré."),
        (right / B, f"{name} is B = {B} times too small: the 1/B of the mean is already in δ, "
                    "so add up the contributions of the samples, do not average them again.",
         f"{name} est B = {B} fois trop petit : le 1/B de la moyenne est déjà dans δ ; "
         "additionnez donc les contributions des exemples au lieu d'en reprendre la moyenne."),
        (right / m, f"{name} is m = {m} times too small: the loss averages over the batch only, "
                    "and adds up the m components of each code, ‖z − z*‖² "
                    "(.pow(2).sum(1).mean(), not .mean() or F.mse_loss).",
         f"{name} est m = {m} fois trop petit : la perte fait la moyenne sur le lot seulement, "
         "et additionne les m composantes de chaque code, ‖z − z*‖² "
         "(.pow(2).sum(1).mean(), et non .mean() ou F.mse_loss)."),
        (-right, f"{name} has the wrong sign everywhere.",
         f"{name} a le mauvais signe partout."),
    ]
    return _known_mistake(out, guesses, rtol=1e-6, atol=1e-9)


def _where(out: Tensor, right: Tensor, name: str) -> Feedback:
    """Wrong values: where (the components), and by how much."""
    bad = ((out - right).abs() > 1e-6 * (1 + right.abs())).nonzero().tolist()
    gap = float((out - right).abs().max())
    places = ", ".join(str(tuple(i) if len(i) > 1 else i[0]) for i in bad[:4])
    if len(bad) > 4:
        return Feedback(False, f"{name} is wrong at {len(bad)} of its {out.numel()} entries "
                               f"(at {places}, ...); the largest difference is {_en(gap, '.3g')}.",
                        f"{name} est faux en {len(bad)} de ses {out.numel()} composantes (en "
                        f"{places}...) ; le plus grand écart vaut {_fr(gap, '.3g')}.")
    return Feedback(False, f"{name} is wrong at {places}; the largest difference is {_en(gap, '.3g')}.",
                    f"{name} est faux en {places} ; le plus grand écart vaut {_fr(gap, '.3g')}.")


def _diagnose(out: Tensor, right: Tensor, name: str, B: int,
              guesses: list[tuple[Tensor, str, str]]) -> Feedback:
    """The first known mistake that ``out`` matches, else where its values are wrong.

    (A wrong Feedback is falsy: the candidates are compared with None, not chained with or.)
    """
    for found in (_known_mistake(out, guesses, rtol=1e-6, atol=1e-9),
                  _scale_mistakes(out, right, name, B, right.shape[-1])):  # m: last axis
        if found is not None:
            return found
    return _where(out, right, name)


def check_lista_gradients(gradients: Callable[[Tensor, Tensor, Tensor, Tensor], tuple]
                          ) -> Feedback:
    """Check ``gradients(y, z_star, W_e, theta)`` = (∂ℓ/∂W_e, ∂ℓ/∂θ) for a one-layer LISTA.

    ℓ = (1/B) Σ_i ‖h_θ(W_eᵀ y_i) − z*_i‖²; y (B, n), z_star (B, m), W_e (n, m), θ (m,).
    With b = y W_e (rows), z = h_θ(b) and the mask a = 1[|b| > θ] of the active units:
    ∂ℓ/∂W_e = (2/B) yᵀ[(z − z*) ⊙ a] and ∂ℓ/∂θ = −(2/B) Σ_i (z − z*) ⊙ sign(b) ⊙ a.
    The answer is compared with autograd on a problem with active and inactive units.
    """
    y, z_star, W_e, _, theta = _small_lista(21)
    (B, n), m = y.shape, theta.shape[0]
    out, problem = _invoke(gradients, y.clone(), z_star.clone(), W_e.clone(), theta.clone())
    if problem is not None:
        return problem
    bad = _tuple(out, 2, "(grad_W_e, grad_theta)", "(grad_W_e, grad_theta)")
    if bad is not None:
        return bad
    if isinstance(out[0], Tensor) and tuple(out[0].shape) == (m, n):
        return Feedback(False, "grad_W_e has the shape of W_eᵀ, (m, n): W_e is (n, m), and so is "
                               "its gradient, yᵀ δ (y.T @ delta), where δ is the gradient with "
                               "respect to b = y @ W_e.",
                        "grad_W_e a la forme de W_eᵀ, (m, n) : W_e est (n, m), et son gradient "
                        "aussi, yᵀ δ (y.T @ delta), où δ est le gradient par rapport à "
                        "b = y @ W_e.")
    if isinstance(out[1], Tensor) and tuple(out[1].shape) == (B, m):
        return Feedback(False, "grad_theta has one row per sample: θ is shared by the whole "
                               "batch, so add up the contributions of the samples (the 1/B of "
                               "the mean is already in δ).",
                        "grad_theta a une ligne pour chaque exemple : θ est commun à tout le lot, il "
                        "faut donc additionner les contributions des exemples (le 1/B de la "
                        "moyenne est déjà dans δ).")
    g_W, bad = _tensor(out[0], (n, m), "grad_W_e", "the shape of W_e", "comme W_e")
    if bad is not None:
        return bad
    g_t, bad = _tensor(out[1], (m,), "grad_theta", "one value per threshold",
                       "une valeur par seuil")
    if bad is not None:
        return bad

    _, right_W, right_t = _autograd(y, z_star, W_e, None, theta)
    b = y @ W_e
    z = _shrink(b, theta)
    active = (b.abs() > theta).double()
    err = 2 * (z - z_star) / B
    if not _close(g_W, right_W):
        guesses = [
            (y.T @ err, "grad_W_e lets the gradient through the inactive units: h_θ has slope 0 "
                        "where |b| < θ, so multiply by the mask 1[|b| > θ].",
             "grad_W_e laisse passer le gradient par les unités inactives : h_θ a une pente "
             "nulle là où |b| < θ ; multipliez par le masque 1[|b| > θ]."),
            (y.T @ (err * active * torch.sign(b)), "grad_W_e has a sign(b) too many: on the "
             "active units the slope of h_θ is 1, whatever the sign of b.",
             "grad_W_e a un sign(b) de trop : sur les unités actives, la pente de h_θ vaut 1, "
             "quel que soit le signe de b."),
        ]
        return _diagnose(g_W, right_W, "grad_W_e", B, guesses)
    if not _close(g_t, right_t):
        guesses = [
            ((err * active * torch.sign(b)).sum(0), "grad_theta has the wrong sign: raising θ_j "
             "pulls z_j towards 0, so ∂z_j/∂θ_j = −sign(b_j) on the active units.",
             "grad_theta a le mauvais signe : augmenter θ_j rapproche z_j de 0, donc "
             "∂z_j/∂θ_j = −sign(b_j) sur les unités actives."),
            (-(err * active).sum(0), "grad_theta misses sign(b): for a negative b_j, raising "
             "θ_j raises z_j, so ∂z_j/∂θ_j = −sign(b_j), not −1.",
             "Il manque sign(b) dans grad_theta : pour b_j négatif, augmenter θ_j fait monter "
             "z_j ; donc ∂z_j/∂θ_j = −sign(b_j), et non −1."),
            (-(err * torch.sign(b)).sum(0), "grad_theta lets the gradient through the inactive "
             "units: where |b_j| < θ_j, z_j = 0 whatever θ_j, so multiply by 1[|b| > θ].",
             "grad_theta laisse passer le gradient par les unités inactives : là où |b_j| < θ_j, "
             "z_j = 0 quel que soit θ_j ; multipliez par 1[|b| > θ]."),
        ]
        return _diagnose(g_t, right_t, "grad_theta", B, guesses)
    return Feedback(True, "Right: with δ = (2/B)(z − z*) ⊙ 1[|b| > θ], ∂ℓ/∂W_e = yᵀδ and "
                          "∂ℓ/∂θ = −Σ_i δ ⊙ sign(b), as autograd finds. S gets no gradient at "
                          "K = 1: it multiplies z(0) = 0.",
                    "Juste : avec δ = (2/B)(z − z*) ⊙ 1[|b| > θ], ∂ℓ/∂W_e = yᵀδ et "
                    "∂ℓ/∂θ = −Σ_i δ ⊙ sign(b), comme le trouve autograd. S ne reçoit aucun "
                    "gradient pour K = 1 : elle multiplie z(0) = 0.")


# -- K = 2: back-propagation through time by hand (an implementation) --------------------

DESCENT_STEPS = 20  # gradient-descent steps that the student's gradients must make useful

def _bptt_parts(y, z_star, W_e, S, theta) -> dict[str, Tensor]:
    """The pieces of the right backward pass, and of the classic wrong ones."""
    B = y.shape[0]
    b = y @ W_e
    z1 = _shrink(b, theta)
    a1 = (b.abs() > theta).double()
    v2 = b + z1 @ S.T
    z2 = _shrink(v2, theta)
    a2 = (v2.abs() > theta).double()
    g_v2 = 2 * (z2 - z_star) / B * a2  # ∂ℓ/∂v(2)
    g_b1 = (g_v2 @ S) * a1  # through z(1) = h_θ(b), back into layer 1
    return {"b": b, "z1": z1, "a1": a1, "v2": v2, "z2": z2, "a2": a2, "g_v2": g_v2,
            "g_b1": g_b1, "g_b1_T": (g_v2 @ S.T) * a1, "g_z2": 2 * (z2 - z_star) / B}


def check_lista_bptt(gradients: Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], tuple]
                     ) -> Feedback:
    """Check ``gradients(y, z_star, W_e, S, theta)`` = (ℓ, ∂ℓ/∂W_e, ∂ℓ/∂S, ∂ℓ/∂θ), K = 2.

    The network: b = y W_e, z(1) = h_θ(b), z(2) = h_θ(b + z(1) Sᵀ) (rows; the same W_e, S
    and θ in both layers), ℓ = (1/B) Σ_i ‖z_i(2) − z*_i‖². Shapes: y (B, n), z_star (B, m),
    W_e (n, m), S (m, m) (not symmetric), θ (m,). The loss and the three gradients are
    compared with autograd; then 20 steps of gradient descent with the student's gradients
    must lower the loss.
    """
    y, z_star, W_e, S, theta = _small_lista(22)
    (B, n), m = y.shape, theta.shape[0]
    out, problem = _invoke(gradients, y.clone(), z_star.clone(), W_e.clone(), S.clone(),
                           theta.clone())
    if problem is not None:
        return problem
    bad = _tuple(out, 4, "(loss, grad_W_e, grad_S, grad_theta)",
                 "(loss, grad_W_e, grad_S, grad_theta)")
    if bad is not None:
        return bad
    loss = out[0]
    try:
        loss = float(loss)
    except (TypeError, ValueError, RuntimeError):
        return Feedback(False, "loss must be a number (a 0-d tensor or a float): the mean over "
                               "the batch of ‖z(2) − z*‖².",
                        "loss doit être un nombre (un tenseur à 0 dimension ou un float) : la "
                        "moyenne sur le lot de ‖z(2) − z*‖².")
    right_loss, right_W, right_S, right_t = _autograd(y, z_star, W_e, S, theta)
    p = _bptt_parts(y, z_star, W_e, S, theta)
    if abs(loss - float(right_loss)) > 1e-6 * (1 + float(right_loss)):
        one_layer = float(_loss(y, z_star, W_e, None, theta))
        no_T = float((_shrink(p["b"] + p["z1"] @ S, theta) - z_star).pow(2).sum(1).mean())
        no_input = float((_shrink(p["z1"] @ S.T, theta) - z_star).pow(2).sum(1).mean())
        guesses = [
            (one_layer, "Your loss is that of one layer: z(2) = h_θ(W_eᵀy + S z(1)) is the "
                        "output.",
             "Votre perte est celle d'une seule couche : la sortie est "
             "z(2) = h_θ(W_eᵀy + S z(1))."),
            (no_T, "With one sample per row, S z(1) is z1 @ S.T (S is not symmetric).",
             "Avec un exemple par ligne, S z(1) s'écrit z1 @ S.T (S n'est pas symétrique)."),
            (no_input, "Layer 2 must also receive the input: z(2) = h_θ(W_eᵀy + S z(1)).",
             "La couche 2 reçoit aussi l'entrée : z(2) = h_θ(W_eᵀy + S z(1))."),
            (float(right_loss) * B, "Your loss is the sum over the batch; take the mean.",
             "Votre perte est la somme sur le lot ; prenez la moyenne."),
            (float(right_loss) / m, f"Your loss is the mean over all B·m entries (what .mean() "
                                    f"or F.mse_loss give), m = {m} times too small: average "
                                    "over the batch the sum over the code's components, "
                                    ".pow(2).sum(1).mean().",
             f"Votre perte est la moyenne sur les B·m composantes (ce que donnent .mean() ou "
             f"F.mse_loss), m = {m} fois trop petite : faites la moyenne sur le lot de la somme "
             "sur les composantes du code, .pow(2).sum(1).mean()."),
        ]
        for value, en, fr in guesses:
            if abs(loss - value) <= 1e-6 * (1 + abs(value)):
                return Feedback(False, en, fr)
        return Feedback(False, f"The loss is wrong: expected {_en(float(right_loss), '.6g')}, received "
                               f"{_en(loss, '.6g')}.",
                        f"La perte est fausse : {_fr(float(right_loss), '.6g')} attendu, "
                        f"{_fr(loss, '.6g')} reçu.")
    shapes = [((n, m), "grad_W_e", "the shape of W_e", "comme W_e"),
              ((m, m), "grad_S", "the shape of S", "comme S"),
              ((m,), "grad_theta", "one value per threshold", "une valeur par seuil")]
    grads = []
    for value, (shape, name, like_en, like_fr) in zip(out[1:], shapes, strict=True):
        if name == "grad_theta" and isinstance(value, Tensor) and tuple(value.shape) == (B, m):
            return Feedback(False, "grad_theta has one row per sample: θ is shared by the "
                                   "batch; add up the contributions of the samples.",
                            "grad_theta a une ligne pour chaque exemple : θ est commun à tout le lot ; "
                            "sommez les contributions des exemples.")
        g, bad = _tensor(value, shape, name, like_en, like_fr)
        if bad is not None:
            return bad
        grads.append(g)
    g_W, g_S, g_t = grads

    if not _close(g_S, right_S):
        no_mask = (p["g_z2"]).T @ p["z1"]
        guesses = [
            (right_S.T, "grad_S is transposed: S_ij multiplies z_j(1) into unit i, so "
                        "∂ℓ/∂S = δ(2)ᵀ z(1), i.e. g_v2.T @ z1, with δ(2) = ∂ℓ/∂v(2) (rows).",
             "grad_S est transposé : S_ij envoie z_j(1) vers l'unité i, donc "
             "∂ℓ/∂S = δ(2)ᵀ z(1), c'est-à-dire g_v2.T @ z1, avec δ(2) = ∂ℓ/∂v(2) (lignes)."),
            (no_mask, "grad_S lets the gradient through the units that layer 2 sets to zero: "
                      "multiply 2(z(2) − z*)/B by the mask 1[|v(2)| > θ] first.",
             "grad_S laisse passer le gradient par les unités que la couche 2 met à zéro : "
             "multipliez d'abord 2(z(2) − z*)/B par le masque 1[|v(2)| > θ]."),
        ]
        return _diagnose(g_S, right_S, "grad_S", B, guesses)
    if not _close(g_W, right_W):
        guesses = [
            (y.T @ p["g_v2"], "grad_W_e has only layer 2's share. W_e is shared: b = W_eᵀy also "
             "reaches z(2) through z(1) = h_θ(b); add yᵀ[(δ(2) S) ⊙ 1[|b| > θ]], the share of "
             "layer 1.",
             "grad_W_e ne contient que la part de la couche 2. W_e est partagée : b = W_eᵀy "
             "atteint aussi z(2) en passant par z(1) = h_θ(b) ; ajoutez "
             "yᵀ[(δ(2) S) ⊙ 1[|b| > θ]], la part de la couche 1."),
            (y.T @ p["g_b1"], "grad_W_e has only layer 1's share. W_e is shared: b = W_eᵀy "
             "also enters layer 2 directly; add yᵀδ(2).",
             "grad_W_e ne contient que la part de la couche 1. W_e est partagée : b = W_eᵀy "
             "entre aussi directement dans la couche 2 ; ajoutez yᵀδ(2)."),
            (y.T @ (p["g_v2"] + p["g_b1_T"]), "grad_W_e goes back through S the wrong way: "
             "v(2) = b + z(1) Sᵀ (rows), so ∂ℓ/∂z(1) = δ(2) S, g_v2 @ S, not g_v2 @ S.T.",
             "grad_W_e remonte à travers S dans le mauvais sens : v(2) = b + z(1) Sᵀ (lignes), "
             "donc ∂ℓ/∂z(1) = δ(2) S, g_v2 @ S, et non g_v2 @ S.T."),
            (y.T @ (p["g_v2"] + p["g_v2"] @ S), "grad_W_e lets the gradient through the units "
             "that layer 1 sets to zero: multiply δ(2) S by 1[|b| > θ].",
             "grad_W_e laisse passer le gradient par les unités que la couche 1 met à zéro : "
             "multipliez δ(2) S par 1[|b| > θ]."),
        ]
        return _diagnose(g_W, right_W, "grad_W_e", B, guesses)
    if not _close(g_t, right_t):
        layer2 = -(p["g_v2"] * torch.sign(p["v2"])).sum(0)
        layer1 = -(p["g_b1"] * torch.sign(p["b"])).sum(0)
        guesses = [
            (layer2, "grad_theta has only layer 2's share. θ is shared: add layer 1's, "
                     "−Σ_i [(δ(2) S) ⊙ 1[|b| > θ]] ⊙ sign(b).",
             "grad_theta ne contient que la part de la couche 2. θ est partagé : ajoutez celle "
             "de la couche 1, −Σ_i [(δ(2) S) ⊙ 1[|b| > θ]] ⊙ sign(b)."),
            (layer1, "grad_theta has only layer 1's share. θ is shared: add layer 2's, "
                     "−Σ_i δ(2) ⊙ sign(v(2)).",
             "grad_theta ne contient que la part de la couche 1. θ est partagé : ajoutez celle "
             "de la couche 2, −Σ_i δ(2) ⊙ sign(v(2))."),
            (-(layer2 + layer1), "grad_theta has the wrong sign: raising θ_j pulls z_j towards 0, "
             "so ∂h_θ(v)/∂θ = −sign(v) on the active units.",
             "grad_theta a le mauvais signe : augmenter θ_j rapproche z_j de 0, donc "
             "∂h_θ(v)/∂θ = −sign(v) sur les unités actives."),
            (-(p["g_v2"] + p["g_b1"]).sum(0), "grad_theta misses the signs: ∂h_θ(v)/∂θ = −sign(v) "
             "on the active units, not −1.",
             "Il manque les signes dans grad_theta : ∂h_θ(v)/∂θ = −sign(v) sur les unités "
             "actives, et non −1."),
        ]
        return _diagnose(g_t, right_t, "grad_theta", B, guesses)

    # The property that matters in the end: the gradients train the network.
    params = [W_e.clone(), S.clone(), theta.clone()]
    start = float(_loss(y, z_star, *params))
    for _ in range(DESCENT_STEPS):
        out, problem = _invoke(gradients, y.clone(), z_star.clone(), *(q.clone() for q in params))
        if problem is None:
            problem = _tuple(out, 4, "(loss, grad_W_e, grad_S, grad_theta)",
                             "(loss, grad_W_e, grad_S, grad_theta)")
        if problem is not None:
            return problem
        params = [q - 0.05 * torch.as_tensor(g, dtype=torch.float64).detach()
                  for q, g in zip(params, out[1:], strict=True)]
    end = float(_loss(y, z_star, *params))
    if not end < start:
        return Feedback(False, f"Your gradients agree with autograd at the start, but "
                               f"{DESCENT_STEPS} descent steps take the loss from {_en(start, '.4g')} to "
                               f"{_en(end, '.4g')}: check the function on other parameters.",
                        f"Vos gradients coïncident avec autograd au départ, mais "
                        f"{DESCENT_STEPS} pas de descente font passer la perte de {_fr(start, '.4g')} "
                        f"à {_fr(end, '.4g')} : vérifiez la fonction avec d'autres paramètres.")
    return Feedback(True, f"Right: the loss and the three gradients match autograd, with the "
                          f"shares of both layers added for the shared W_e and θ; {DESCENT_STEPS} "
                          f"steps of gradient descent with them take the loss from {_en(start, '.4g')} "
                          f"to {_en(end, '.4g')}.",
                    "Juste : la perte et les trois gradients coïncident avec ceux d'autograd, "
                    "les parts des deux couches étant additionnées pour W_e et θ, qui sont "
                    f"partagés ; {DESCENT_STEPS} pas de descente de gradient font passer la "
                    f"perte de {_fr(start, '.4g')} à {_fr(end, '.4g')}.")


# -- The amortisation gap under noise (an exploration) ----------------------------------

_CHOICES = {
    "a": ("the deeper the network, the better it resists",
          "plus le réseau est profond, mieux il résiste"),
    "b": ("the networks lose about the same share of their advantage",
          "les réseaux perdent à peu près la même part de leur avantage"),
    "c": ("the deeper the network, the more of its advantage it loses",
          "plus le réseau est profond, plus il perd de son avantage"),
}


# the written answers accepted (read case-insensitively), with or without parentheses
_LETTERS = {form.format(letter.upper()): letter for letter in _CHOICES for form in ("{}", "({})")}


def check_amortisation_prediction(prediction: object, sigma: float, errors: object) -> Feedback:
    """Check a prediction ("a", "b" or "c", in either case, "(c)" too) against the measured gap
    on noisy digits, read by :func:`._feedback._read_prediction`.

    ``errors`` is ``{K: (LISTA's relative error, FISTA's relative error with K iterations)}``
    for at least two depths K, measured on digits with noise of standard deviation
    ``sigma`` (≥ 0.1, else the effect is too small to decide). The ratio r_K = LISTA / FISTA
    is the share of FISTA's error that the network keeps; the checker reads from it which
    statement the measurement supports: r at the deepest K more than 1.5 times r at the
    shallowest ("c"), less than 1/1.5 times ("a"), or all r within a factor 1.5 ("b").
    """
    if prediction is None or (isinstance(prediction, str) and prediction.strip() == ""):
        return Feedback(False, 'Choose your prediction first: set prediction to "a", "b" or "c", '
                               "before you measure.",
                        "Choisissez d'abord votre prédiction : donnez à prediction la valeur "
                        '"a", "b" ou "c", avant de mesurer.')
    guess, problem = _read_prediction({"prediction": prediction}, ("prediction",), _LETTERS, upper=True,
                                      listed=('"a", "b" or "c"', '"a", "b" ou "c"'))
    if problem is not None:
        return problem
    choice = guess["prediction"]
    if errors is None:
        return Feedback(False, "Now measure: noisy_errors = compare_with_fista(Y_test + sigma * "
                               "noise)[0].",
                        "Mesurez maintenant : noisy_errors = compare_with_fista(Y_test + sigma * "
                        "noise)[0].")
    try:
        ratio = {int(K): float(pair[0]) / float(pair[1]) for K, pair in dict(errors).items()}
        values = [float(v) for pair in dict(errors).values() for v in pair]
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return Feedback(False, "noisy_errors must be the dictionary {K: (LISTA's error, FISTA's "
                               "error)} that compare_with_fista returns first.",
                        "noisy_errors doit être le dictionnaire {K: (erreur de LISTA, erreur de "
                        "FISTA)} que compare_with_fista renvoie en premier.")
    if len(ratio) < 2 or not all(math.isfinite(v) and v > 0 for v in values):
        return Feedback(False, "noisy_errors needs positive errors for at least two depths K.",
                        "noisy_errors doit contenir des erreurs positives pour au moins deux "
                        "profondeurs K.")
    try:
        sigma = float(sigma)
    except (TypeError, ValueError):
        return Feedback(False, "sigma must be a number.", "sigma doit être un nombre.")
    if sigma < 0.1:
        return Feedback(False, f"With σ = {_en(sigma, 'g')} the noise is too weak to tell the networks "
                               "apart: take σ = 0.2, and measure again.",
                        f"Avec σ = {_fr(sigma, 'g')}, le bruit est trop faible pour départager "
                        "les réseaux : prenez σ = 0,2 et mesurez de nouveau.")
    shallow, deep = min(ratio), max(ratio)
    growth = ratio[deep] / ratio[shallow]
    if growth > 1.5:
        measured = "c"
    elif growth < 1 / 1.5:
        measured = "a"
    elif max(ratio.values()) / min(ratio.values()) < 1.5:
        measured = "b"
    else:
        measured = None
    listing_en = ", ".join(f"{_en(r, '.2f')} (K = {K})" for K, r in sorted(ratio.items()))
    listing_fr = ", ".join(f"{_fr(r, '.2f')} (K = {K})" for K, r in sorted(ratio.items()))
    said_en = (f"LISTA's error divided by FISTA's, with as many iterations: {listing_en}")
    said_fr = (f"l'erreur de LISTA divisée par celle de FISTA avec autant d'itérations vaut "
               f"{listing_fr}")
    if measured is None:
        return Feedback(False, f"Your measurement does not decide between the three statements "
                               f"({said_en}). Check that you measured on the noisy digits, "
                               "Y_test + sigma * noise; if so, take a larger σ.",
                        f"Votre mesure ne tranche pas entre les trois affirmations ({said_fr}). "
                        "Vérifiez que vous avez mesuré sur les chiffres bruités, "
                        "Y_test + sigma * noise ; si c'est le cas, prenez un σ plus grand.")
    worse = sorted(K for K, r in ratio.items() if r > 1)
    if worse:
        head, last = ", ".join(map(str, worse[:-1])), str(worse[-1])
        depths_en = f"{head} and {last}" if head else last
        depths_fr = f"{head} et {last}" if head else last
        extra_en = f" With K = {depths_en}, LISTA even does worse than FISTA."
        extra_fr = f" Avec K = {depths_fr}, LISTA fait même moins bien que FISTA."
    else:
        extra_en = extra_fr = ""
    if choice == measured:
        return Feedback(True, f"Right, {_CHOICES[measured][0]}: {said_en}.{extra_en}",
                        f"Juste, {_CHOICES[measured][1]} : {said_fr}.{extra_fr}")
    return Feedback(False, f"Not what you measured. You predicted ({choice}), "
                           f"{_CHOICES[choice][0]}; but {said_en}: "
                           f"{_CHOICES[measured][0]}.{extra_en}",
                    f"Ce n'est pas ce que vous avez mesuré. Vous aviez prédit ({choice}), "
                    f"{_CHOICES[choice][1]} ; or {said_fr} : {_CHOICES[measured][1]}.{extra_fr}")
