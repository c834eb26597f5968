"""Checkers of chapter 1, the regularized latent-variable EBM.

The toy model's energy (a warm-up), its free energy with the L1 regularizer (a derivation:
the checker says in which region of the plane a wrong formula goes wrong) and with the
squared L2 one, inference by proximal gradient descent on z (an implementation, checked
step by step and by the optimality conditions), and where the inferred offset is exactly
zero (an exploration).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..energy import L1, SquaredL2, squared_error
from ..solvers import _shrink
from ..toy import CurveDecoder, curve, curve_energy, distance_to_curve
from ._feedback import (
    Feedback,
    _call,
    _en,
    _fr,
    _invoke,
    _known_mistake,
    _listing,
    _read_prediction,
    _run,
    _shape,
)

__all__ = ["check_l1_free_energy", "check_l2_free_energy", "check_toy_energy",
           "check_toy_inference", "check_zero_offset_prediction"]


# -- small helpers --------------------------------------------------------------------------


def _point(y: Tensor, fr: bool) -> str:
    """(0.41, −1.20) / (0,41 ; −1,20)."""
    a, b = (float(v) for v in y)
    return f"({_fr(a, '.2f')} ; {_fr(b, '.2f')})" if fr else f"({_en(a, '.2f')}, {_en(b, '.2f')})"


def _huber(r: Tensor, lam: float) -> Tensor:
    """H_λ(r) = min_v (r − v)² + λ|v|: r² for |r| ≤ λ/2, λ|r| − λ²/4 beyond (elementwise)."""
    return torch.where(r.abs() <= lam / 2, r**2, lam * r.abs() - lam**2 / 4)


def _offsets(y: Tensor, samples: int = 4096) -> Tensor:
    """y − c(t) for every point and every t of a dense grid: (B, 2) → (B, T, 2)."""
    t = torch.linspace(0, 2 * math.pi, samples + 1, device=y.device, dtype=y.dtype)[:-1]
    return y[:, None, :] - curve(t)


def _coordinatewise(y: Tensor, h: Callable[[Tensor], Tensor]) -> Tensor:
    """min over t of Σ_i h(y_i − c_i(t)), on a dense grid of t: (B, 2) → (B,)."""
    return h(_offsets(y)).sum(2).min(1).values


# -- the energy (warm-up) -------------------------------------------------------------------

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
    right = curve_energy(lam)(y, z)
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
        ((y - curve(z[:, 0]) - z[:, 1:]).pow(2).mean(1) + lam * z[:, 1:].abs().sum(1),
         "Your cost is half of ‖y − ȳ‖² (a mean over the two coordinates, or the ½ of another "
         "convention): this chapter's cost is the sum ‖y − ȳ‖², without ½ (.sum(dim=1), not "
         ".mean(dim=1)).",
         "Votre coût vaut la moitié de ‖y − ȳ‖² (une moyenne sur les deux coordonnées, ou le ½ "
         "d'une autre convention) : le coût de ce chapitre est la somme ‖y − ȳ‖², sans ½ "
         "(.sum(dim=1), et non .mean(dim=1))."),
        (cost + lam * z[:, 1:].norm(dim=1),
         "Your R(z) is the Euclidean norm ‖u‖₂ = √(u₁² + u₂²); the exercise asks for the L1 norm "
         "|u₁| + |u₂|.",
         "Votre R(z) est la norme euclidienne ‖u‖₂ = √(u₁² + u₂²) ; l'exercice demande la norme L1 "
         "|u₁| + |u₂|."),
        ((y - curve(z[:, 0]) + z[:, 1:]).pow(2).sum(1) + lam * z[:, 1:].abs().sum(1),
         "Your cost compares y with c(t) − u: the decoder adds the offset, ȳ = c(t) + u, so the "
         "residual is y − c(t) − u.",
         "Votre coût compare y à c(t) − u : le décodeur ajoute le décalage, ȳ = c(t) + u, et le "
         "résidu est donc y − c(t) − u."),
    ]
    mistake = _known_mistake(out, guesses, rtol=1e-4, atol=1e-6)
    if mistake is not None:
        return mistake
    i = int((out - right).abs().argmax())
    return Feedback(False, f"Wrong value: for sample {i} you give {_en(float(out[i]))}, "
                           f"expected {_en(float(right[i]))}.",
                    f"Valeur fausse : pour l'exemple {i}, vous donnez {_fr(float(out[i]))} au lieu "
                    f"de {_fr(float(right[i]))}.")


# -- the free energy (derivations) ------------------------------------------------------------

Mistakes = Callable[[float, Tensor, Tensor], list[tuple[Tensor, str, str]]]
Regions = Callable[[float, Tensor], list[tuple[Tensor, str, str]]]
Hint = Callable[[list[bool]], tuple[str, str]]
Diagnosis = Callable[[float, Tensor, Tensor, Tensor, Tensor], "tuple[str, str] | None"]


def _check_toy_free_energy(free_energy: Callable[[Tensor, float], Tensor], regularizer: type,
                           lambdas: tuple[float, ...], seed: int, atol: float,
                           mistakes: Mistakes, right: Feedback,
                           regions: Regions | None = None, hint: Hint | None = None,
                           points: Callable[[float, torch.Generator], Tensor] | None = None,
                           diagnose: Diagnosis | None = None) -> Feedback:
    """Compare ``free_energy(y, lam)`` with the free energy that inference finds, on 48
    points of the plane and for each λ.

    The points are uniform in [−1.6, 1.6]², or ``points(lam, generator)`` (48, 2).
    ``mistakes(lam, y, d)`` lists classic wrong answers (value, English, French), d being the
    distance from y to the curve. ``regions(lam, y)``, if given, splits the points into
    regions (mask, English name, French name), and ``hint`` turns the list "is this region
    wrong?" into advice (English, French), so that a wrong answer is told where it goes wrong.
    ``diagnose(lam, y, d, out, inferred)``, if given, may recognise a wrong answer by a property
    (proportional to d², never below the free energy...) and return the lead of the message.
    """
    g = torch.Generator().manual_seed(seed)
    for lam in lambdas:
        if points is None:
            y = 1.6 * (2 * torch.rand(48, 2, generator=g, dtype=torch.float64) - 1)
        else:
            y = points(lam, g)
        d = distance_to_curve(y)
        out, bad = _call(free_energy, y, lam)
        if bad is not None:
            return bad
        bad = _shape(out, (48,))
        if bad is not None:
            return bad
        out = out.detach().to(torch.float64)
        model = curve_energy(lam, regularizer)
        inferred = model.free_energy(y, z0=model.decoder.starts(y, 16), max_iter=2000, ftol=1e-12).F
        wrong = (out - inferred).abs() > atol + 1e-3 * inferred.abs()
        if not bool(wrong.any()):
            continue
        mistake = _known_mistake(out, mistakes(lam, y, d), rtol=1e-3, atol=atol)
        if mistake is not None:
            return mistake
        i = int((out - inferred).abs().argmax())
        where_en = (f"at y = {_point(y[i], False)} you give {_en(float(out[i]))} where inference "
                    f"finds {_en(float(inferred[i]))}.")
        where_fr = (f"en y = {_point(y[i], True)}, vous donnez {_fr(float(out[i]))} alors que "
                    f"l'inférence trouve {_fr(float(inferred[i]))}.")
        lam_en, lam_fr = _en(lam, "g"), _fr(lam, "g")
        lead = None if diagnose is None else diagnose(lam, y, d, out, inferred)
        if lead is not None:
            return Feedback(False, f"For λ = {lam_en}, {lead[0]} At{where_en[2:]}",
                            f"Pour λ = {lam_fr}, {lead[1]} En{where_fr[2:]}")
        if regions is None or hint is None:
            return Feedback(False, f"For λ = {lam_en}, {where_en}", f"Pour λ = {lam_fr}, {where_fr}")
        parts_en, parts_fr, flags = [], [], []
        for mask, name_en, name_fr in regions(lam, y):
            n, k = int(mask.sum()), int((wrong & mask).sum())
            flags.append(k > 0)
            if n:
                parts_en.append(f"{k} of the {n} points {name_en}")
                parts_fr.append(f"{k} des {n} points {name_fr}")
        hint_en, hint_fr = hint(flags)
        n_wrong = int(wrong.sum())
        return Feedback(
            False,
            f"For λ = {lam_en}, your F is wrong at {n_wrong} of the 48 points: "
            f"{_listing(parts_en, False)}. {hint_en} At{where_en[2:]}",
            f"Pour λ = {lam_fr}, votre F est faux en {n_wrong} des 48 points : "
            f"{_listing(parts_fr, True)}. {hint_fr} En{where_fr[2:]}")
    return right


def check_l2_free_energy(free_energy: Callable[[Tensor, float], Tensor]) -> Feedback:
    """Check a closed form of F(y) for the toy model with R(z) = ‖u‖²: ``free_energy(y, lam)``.

    The answer is compared, on random points and several λ, with the free energy that
    :meth:`ebmlib.energy.LatentEnergy.free_energy` finds by gradient-based inference.
    """
    def mistakes(lam: float, y: Tensor, d: Tensor) -> list[tuple[Tensor, str, str]]:
        return [
            (d**2, "You return d(y)², the energy of the model without offset. "
                   "With the offset, part of d(y) is paid at price λ instead of 1.",
             "Vous renvoyez d(y)², l'énergie du modèle sans décalage. Avec le "
             "décalage, une partie de d(y) se paie au prix λ au lieu de 1."),
            (lam * d**2, f"For λ = {_en(lam, 'g')} you return λ·d(y)²: minimise over the offset "
                         "length s of (d − s)² + λs² to find the factor.",
             f"Pour λ = {_fr(lam, 'g')}, vous renvoyez λ·d(y)² : minimisez (d − s)² + λs² "
             "par rapport à la longueur s du décalage pour trouver le facteur."),
            (lam**2 / (1 + lam) ** 2 * d**2,
             "You return λ²/(1 + λ)²·d(y)², the cost (ρ − s*)² that the best offset "
             "s* = ρ/(1 + λ) leaves, without its penalty λs*² = λρ²/(1 + λ)². F is their sum.",
             "Vous renvoyez λ²/(1 + λ)²·d(y)², le coût (ρ − s*)² que laisse le meilleur décalage "
             "s* = ρ/(1 + λ), sans sa pénalité λs*² = λρ²/(1 + λ)². F est leur somme."),
            (lam / (1 + lam) ** 2 * d**2,
             "You return λ/(1 + λ)²·d(y)², the penalty λs*² of the best offset s* = ρ/(1 + λ), "
             "without the cost (ρ − s*)² = λ²ρ²/(1 + λ)² that it leaves. F is their sum.",
             "Vous renvoyez λ/(1 + λ)²·d(y)², la pénalité λs*² du meilleur décalage "
             "s* = ρ/(1 + λ), sans le coût (ρ − s*)² = λ²ρ²/(1 + λ)² qu'il laisse. F est leur "
             "somme."),
            (d**2 / (1 + lam) ** 2,
             "You return d(y)²/(1 + λ)², the squared length s*² of the best offset "
             "s* = ρ/(1 + λ): F is the energy that this offset reaches, (ρ − s*)² + λs*².",
             "Vous renvoyez d(y)²/(1 + λ)², le carré de la longueur s* = ρ/(1 + λ) du meilleur "
             "décalage : F est l'énergie qu'atteint ce décalage, (ρ − s*)² + λs*²."),
            (lam / (1 + lam) * d,
             "You return λ/(1 + λ)·d(y): the energy is quadratic in the distance, "
             "F = λ/(1 + λ)·d(y)².",
             "Vous renvoyez λ/(1 + λ)·d(y) : l'énergie est quadratique en la distance, "
             "F = λ/(1 + λ)·d(y)²."),
        ]

    def diagnose(lam: float, y: Tensor, d: Tensor, out: Tensor, inferred: Tensor
                 ) -> tuple[str, str] | None:
        """An answer k·d(y)² with the wrong factor k: say k, and the limits it must have."""
        far = d > 0.05
        k = out[far] / d[far] ** 2
        if float(k.max() - k.min()) > 1e-3 * float(k.abs().max()) + 1e-9:
            return None
        mean, right = float(k.mean()), lam / (1 + lam)
        return (f"your F is proportional to d(y)², but with the factor {_en(mean)} instead of "
                f"λ/(1 + λ) = {_en(right)}. Check the limits: the factor must tend to 0 as λ → 0 "
                "(a free offset explains every point) and to 1 as λ → ∞ (no offset, F = d²).",
                f"votre F est proportionnelle à d(y)², mais avec le facteur {_fr(mean)} au lieu de "
                f"λ/(1 + λ) = {_fr(right)}. Vérifiez les limites : le facteur doit tendre vers 0 "
                "quand λ → 0 (un décalage gratuit explique tous les points) et vers 1 quand "
                "λ → ∞ (sans décalage, F = d²).")

    return _check_toy_free_energy(
        free_energy, SquaredL2, (0.25, 1.0, 4.0), seed=2, atol=1e-5, mistakes=mistakes,
        diagnose=diagnose,
        right=Feedback(True, "Right: F(y) = λ/(1+λ) · d(y)², as inference finds.",
                       "Juste : F(y) = λ/(1+λ) · d(y)², comme le trouve l'inférence."))


def check_l1_free_energy(free_energy: Callable[[Tensor, float], Tensor],
                         huber: Callable[[Tensor, float], Tensor] | None = None) -> Feedback:
    """Check the free energy of the toy model with R(z) = |u₁| + |u₂|: ``free_energy(y, lam)``,
    and, if given, the one-dimensional result of the derivation, ``huber(d, lam)`` = H_λ(d).

    ``huber`` is checked first, elementwise on a range of d, against the minimum of
    (d − s)² + λ|s| over a fine grid of s (brute force), region by region: d < −λ/2,
    |d| ≤ λ/2 (the best s is 0) and d > λ/2; the classic slips are named.

    The expected free energy is F(y) = min_t Σ_i H_λ(y_i − c_i(t)), with H_λ(d) = d² for
    |d| ≤ λ/2 and λ|d| − λ²/4 beyond (the shrinkage acts on each coordinate of the offset). It
    is compared, on points near and far from the curve and two λ, with the free energy that
    inference finds. A wrong answer is told which region it gets wrong: the points where the
    best offset is zero (H_λ's quadratic branch), where one coordinate is shrunk, or where
    both are (its linear branch); the classic slips of the derivation are named.
    """
    if huber is not None:
        bad = _check_huber(huber)
        if bad is not None:
            return bad

    def mistakes(lam: float, y: Tensor, d: Tensor) -> list[tuple[Tensor, str, str]]:
        def coord(h: Callable[[Tensor], Tensor]) -> Tensor:
            return _coordinatewise(y, h)

        right = coord(lambda r: _huber(r, lam))
        per_coordinate_t = _huber(_offsets(y), lam).min(1).values.sum(1)
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
            (coord(lambda r: torch.where(r.abs() <= lam, r**2, lam * r.abs())),
             "You shrink each coordinate by λ, the threshold of the ½ convention "
             "(½(d − s)² + λ|s|). Here the squared error has no ½: the derivative 2(s − d) + λ "
             "vanishes at s = d − λ/2, so the threshold is λ/2.",
             "Vous rétrécissez chaque coordonnée de λ, le seuil de la convention avec ½ "
             "(½(d − s)² + λ|s|). Ici, l'erreur quadratique n'a pas de ½ : la dérivée "
             "2(s − d) + λ s'annule en s = d − λ/2, le seuil est donc λ/2."),
            (coord(lambda r: torch.where(r.abs() <= lam / 2, r**2, lam * r.abs() - lam**2 / 2)),
             "Beyond the threshold you count the penalty λ|s*| = λ|d| − λ²/2 but not the cost "
             "(d − s*)² = λ²/4 that the shrunk offset leaves: their sum is λ|d| − λ²/4.",
             "Au-delà du seuil, vous comptez la pénalité λ|s*| = λ|d| − λ²/2, mais pas le coût "
             "(d − s*)² = λ²/4 que laisse le décalage rétréci : leur somme vaut λ|d| − λ²/4."),
            (coord(lambda r: torch.where(r.abs() <= lam / 2, r**2, lam * r.abs())),
             "Beyond the threshold you return λ|d|: with s* = d − λ/2 the energy is "
             "(λ/2)² + λ(|d| − λ/2) = λ|d| − λ²/4. (Your F also jumps at |d| = λ/2.)",
             "Au-delà du seuil, vous renvoyez λ|d| : avec s* = d − λ/2, l'énergie vaut "
             "(λ/2)² + λ(|d| − λ/2) = λ|d| − λ²/4. (Votre F fait d'ailleurs un saut en "
             "|d| = λ/2.)"),
            (right / 2,
             "Your F is half the right one: the usual Huber function (½s² near 0) is half of "
             "H_λ, and the energy is a sum over the two coordinates, not a mean.",
             "Votre F vaut la moitié de la bonne valeur : la fonction de Huber usuelle (½s² près "
             "de 0) vaut la moitié de H_λ, et l'énergie est une somme sur les deux "
             "coordonnées, pas une moyenne."),
            (per_coordinate_t,
             "You minimise over t separately for each coordinate: both coordinates of the offset "
             "belong to the same point c(t). Take the minimum over t of the sum.",
             "Vous minimisez par rapport à t séparément pour chaque coordonnée : les deux "
             "coordonnées du décalage se rapportent au même point c(t). Prenez le minimum par "
             "rapport à t de la somme."),
        ]

    def regions(lam: float, y: Tensor) -> list[tuple[Tensor, str, str]]:
        r = _offsets(y)
        best = _huber(r, lam).sum(2).argmin(1)
        shrunk = (r[torch.arange(len(y)), best].abs() > lam / 2).sum(1)  # 0, 1 or 2 coordinates
        return [
            (shrunk == 0, "near the curve, where the best offset is zero",
             "proches de la courbe, où le meilleur décalage est nul"),
            (shrunk == 1, "where one coordinate of the offset is shrunk",
             "où une coordonnée du décalage est rétrécie"),
            (shrunk == 2, "far from the curve, where both coordinates are shrunk",
             "éloignés de la courbe, où les deux coordonnées sont rétrécies"),
        ]

    def hint(flags: list[bool]) -> tuple[str, str]:
        """Near points use H_λ's quadratic branch only, far ones its linear branch only."""
        near, _, both = flags
        if near and not both:
            return ("Look at the quadratic branch of H_λ: for |s| ≤ λ/2 the best offset is 0 "
                    "and H_λ(s) = s².",
                    "Regardez la branche quadratique de H_λ : pour |s| ≤ λ/2, le meilleur "
                    "décalage est nul et H_λ(s) = s².")
        if both and not near:
            return ("Look at the linear branch of H_λ: λ|s| − λ²/4 for |s| > λ/2.",
                    "Regardez la branche affine de H_λ : λ|s| − λ²/4 pour |s| > λ/2.")
        if near and both and huber is not None:
            return ("Several regions are wrong, although your H_λ is right: check the sum over "
                    "the two coordinates and the minimum over t.",
                    "Plusieurs régions sont fausses, bien que votre H_λ soit juste : vérifiez la "
                    "somme sur les deux coordonnées et le minimum par rapport à t.")
        if near and both:
            return ("Several regions are wrong: check H_λ on its own first (pass it to the "
                    "checker as a second argument), then the sum over the two coordinates and "
                    "the minimum over t.",
                    "Plusieurs régions sont fausses : vérifiez d'abord H_λ seule (passez-la au "
                    "correcteur en second argument), puis la somme sur les deux coordonnées et "
                    "le minimum par rapport à t.")
        return ("Each branch is right on its own, but not their sum: the energy adds "
                "H_λ(y₁ − c₁(t)) and H_λ(y₂ − c₂(t)), each coordinate with its own branch.",
                "Chaque branche est juste, mais pas leur somme : l'énergie additionne "
                "H_λ(y₁ − c₁(t)) et H_λ(y₂ − c₂(t)), chaque coordonnée avec sa propre branche.")

    def points(lam: float, g: torch.Generator) -> Tensor:
        """Along the curve's normals: 16 points near the curve (the best offset is zero), 16
        farther where the normal is close to an axis (one coordinate shrunk), 16 farther still
        where it is close to a diagonal (both shrunk)."""
        t = torch.rand(600, generator=g, dtype=torch.float64) * 2 * math.pi
        t.requires_grad_(True)
        with torch.enable_grad():
            c = curve(t)
            tangent = torch.stack([torch.autograd.grad(c[:, i].sum(), t, retain_graph=True)[0]
                                   for i in range(2)], 1)
        t, c = t.detach(), c.detach()
        normal = torch.stack((tangent[:, 1], -tangent[:, 0]), 1)
        normal = normal / normal.norm(dim=1, keepdim=True)  # outward: the curve turns anticlockwise
        slant = normal.abs().min(1).values  # 0 along an axis, 0.71 along a diagonal
        axis = torch.nonzero(slant < 0.2)[:16, 0]
        diagonal = torch.nonzero(slant > 0.6)[:16, 0]
        near = torch.arange(16)
        u = torch.rand(48, generator=g, dtype=torch.float64)
        sign = torch.where(torch.rand(16, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
        length = lam * torch.cat([0.3 * u[:16] * sign, 0.7 + 0.3 * u[16:32], 1.0 + 0.5 * u[32:]])
        which = torch.cat([near, axis, diagonal])
        return c[which] + length[:, None] * normal[which]

    def diagnose(lam: float, y: Tensor, d: Tensor, out: Tensor, inferred: Tensor
                 ) -> tuple[str, str] | None:
        """A minimum over too few positions t: never below F, a little above it in every region."""
        excess = out - inferred
        wrong = excess.abs() > 1e-4 + 1e-3 * inferred.abs()
        every_region = all(bool((wrong & mask).any()) for mask, _, _ in regions(lam, y)
                           if bool(mask.any()))
        if not (every_region and bool((excess >= -1e-4).all()) and float(excess.max()) < 0.05):
            return None
        top = float(excess.max())
        return (f"your F is never below the free energy that inference finds, and above it at "
                f"{int(wrong.sum())} of the 48 points, by at most {_en(top)}: that is what a minimum "
                "over too few positions t gives, the best t falling between two of yours. Try a "
                "few thousand positions.",
                f"votre F n'est jamais inférieure à l'énergie libre que trouve l'inférence, et la "
                f"dépasse en {int(wrong.sum())} des 48 points, d'au plus {_fr(top)} : c'est ce que "
                "donne un minimum sur trop peu de positions t, le meilleur t tombant entre deux "
                "des vôtres. Essayez quelques milliers de positions.")

    return _check_toy_free_energy(
        free_energy, L1, (0.25, 1.0), seed=3, atol=1e-4, mistakes=mistakes, regions=regions,
        hint=hint, points=points, diagnose=diagnose,
        right=Feedback(True, "Right: F(y) = min_t Σ_i H_λ(y_i − c_i(t)), as inference finds"
                       + (", and H_λ(d) is the minimum over s of (d − s)² + λ|s|."
                          if huber is not None else "."),
                       "Juste : F(y) = min_t Σ_i H_λ(y_i − c_i(t)), comme le trouve l'inférence"
                       + (", et H_λ(d) est bien le minimum de (d − s)² + λ|s| par rapport à s."
                          if huber is not None else ".")))


def _check_huber(huber: Callable[[Tensor, float], Tensor]) -> Feedback | None:
    """None if ``huber(d, lam)`` is min_s (d − s)² + λ|s| elementwise, else what is wrong."""
    s = torch.arange(-40000, 40001, dtype=torch.float64) * 1e-4  # holds 0 exactly
    for lam in (0.5, 1.5):
        d = torch.linspace(-2, 2, 81, dtype=torch.float64)
        out, bad = _run(huber, (d.clone(), lam), tuple(d.shape), "H, one value per d",
                        "H (une valeur pour chaque d)")
        if bad is not None:
            return bad
        brute = ((d[:, None] - s) ** 2 + lam * s.abs()).min(1).values
        wrong = (out - brute).abs() > 1e-6 + 1e-6 * brute.abs()
        if not bool(wrong.any()):
            continue
        a = lam / 2
        slips = [
            (torch.where(d.abs() <= lam, d**2, lam * d.abs()),
             "Your H uses the threshold λ, that of the ½ convention; here the squared error has no "
             "½: the derivative 2(s − d) + λ vanishes at s = d − λ/2, so the threshold is λ/2.",
             "Votre H utilise le seuil λ, celui de la convention avec ½ ; ici, l'erreur "
             "quadratique n'a pas de ½ : la dérivée 2(s − d) + λ s'annule en s = d − λ/2, le "
             "seuil est donc λ/2."),
            (torch.where(d.abs() <= lam, d**2 / 2, lam * d.abs() - lam**2 / 2),
             "Your H is the minimum of ½(d − s)² + λ|s|, the ½ convention; the energy of this "
             "chapter is (d − s)² + λ|s|, without ½.",
             "Votre H est le minimum de ½(d − s)² + λ|s|, la convention avec ½ ; l'énergie de ce "
             "chapitre est (d − s)² + λ|s|, sans ½."),
            (torch.where(d.abs() <= a, d**2, lam * d.abs() - lam**2 / 2),
             "Beyond λ/2 you count the penalty λ|s*| = λ|d| − λ²/2 but not the cost "
             "(d − s*)² = λ²/4 that the shrunk s* leaves: their sum is λ|d| − λ²/4.",
             "Au-delà de λ/2, vous comptez la pénalité λ|s*| = λ|d| − λ²/2, mais pas le coût "
             "(d − s*)² = λ²/4 que laisse s* rétréci : leur somme vaut λ|d| − λ²/4."),
            (torch.where(d.abs() <= a, d**2, lam * d.abs()),
             "Beyond λ/2 you return λ|d|: with s* = d − λ/2 the energy is "
             "(λ/2)² + λ(|d| − λ/2) = λ|d| − λ²/4. (Your H also jumps at |d| = λ/2.)",
             "Au-delà de λ/2, vous renvoyez λ|d| : avec s* = d − λ/2, l'énergie vaut "
             "(λ/2)² + λ(|d| − λ/2) = λ|d| − λ²/4. (Votre H fait d'ailleurs un saut en "
             "|d| = λ/2.)"),
            (brute / 2,
             "Your H is half the right one: the usual Huber function (½d² near 0) is half of H_λ.",
             "Votre H vaut la moitié de la bonne valeur : la fonction de Huber usuelle (½d² près "
             "de 0) vaut la moitié de H_λ."),
            (_shrink(d, a),
             "You return the best s, sign(d)·max(|d| − λ/2, 0): H_λ(d) is the minimum value "
             "(d − s*)² + λ|s*| that this s reaches.",
             "Vous renvoyez le meilleur s, sign(d)·max(|d| − λ/2, 0) : H_λ(d) est la valeur "
             "minimale (d − s*)² + λ|s*| qu'atteint ce s."),
        ]
        mistake = _known_mistake(out, slips, atol=1e-6)
        if mistake is not None:
            return mistake
        names = [(d < -a, "d < −λ/2", "d < −λ/2"), (d.abs() <= a, "|d| ≤ λ/2", "|d| ≤ λ/2"),
                 (d > a, "d > λ/2", "d > λ/2")]
        good_en = [en for mask, en, _ in names if not bool((wrong & mask).any())]
        good_fr = [fr for mask, _, fr in names if not bool((wrong & mask).any())]
        bad_en = [en for mask, en, _ in names if bool((wrong & mask).any())]
        bad_fr = [fr for mask, _, fr in names if bool((wrong & mask).any())]
        i = int(((out - brute).abs() * wrong).argmax())
        lam_en, lam_fr = _en(lam, "g"), _fr(lam, "g")
        right_en = f"right for {_listing(good_en, False)} but " if good_en else ""
        right_fr = f"juste pour {_listing(good_fr, True)}, mais " if good_fr else ""
        if "|d| ≤ λ/2" in bad_en:
            tip_en = "Where |d| ≤ λ/2 the best s is 0, so H_λ(d) = d². "
            tip_fr = "Là où |d| ≤ λ/2, le meilleur s est 0, donc H_λ(d) = d². "
        elif len(bad_en) == 1:
            tip_en = "Beyond λ/2 the best s is d − λ/2 for d > 0 and d + λ/2 for d < 0: mind the sign. "
            tip_fr = ("Au-delà de λ/2, le meilleur s vaut d − λ/2 si d > 0 et d + λ/2 si d < 0 : "
                      "attention au signe. ")
        else:
            tip_en = "Beyond λ/2 the best s is d ∓ λ/2, which leaves a cost (λ/2)². "
            tip_fr = "Au-delà de λ/2, le meilleur s vaut d ∓ λ/2, ce qui laisse un coût (λ/2)². "
        return Feedback(
            False,
            f"For λ = {lam_en}, your H is {right_en}wrong for {_listing(bad_en, False)}. {tip_en}"
            f"At d = {_en(float(d[i]), '.2f')} you give {_en(float(out[i]))}, the minimum over s of "
            f"(d − s)² + λ|s| is {_en(float(brute[i]))}.",
            f"Pour λ = {lam_fr}, votre H est {right_fr}faux pour {_listing(bad_fr, True)}. {tip_fr}"
            f"En d = {_fr(float(d[i]), '.2f')}, vous donnez {_fr(float(out[i]))}, alors que le "
            f"minimum de (d − s)² + λ|s| par rapport à s vaut {_fr(float(brute[i]))}.")
    return None


# -- inference by proximal gradient descent (implementation) -----------------------------------

INFER_LAM, INFER_STEP, INFER_STEPS = 0.5, 0.2, 200


def _inference_problem() -> tuple[Tensor, Tensor]:
    """24 points y (B, 2) near and far from the curve, in every direction, and starts z0 (B, 3):
    a position near the nearest point of the curve, and a random offset."""
    g = torch.Generator().manual_seed(11)
    B = 24
    t = torch.rand(B, generator=g, dtype=torch.float64) * 2 * math.pi
    angle = torch.rand(B, generator=g, dtype=torch.float64) * 2 * math.pi
    length = torch.cat([torch.rand(8, generator=g, dtype=torch.float64) * 0.2,
                        0.3 + torch.rand(16, generator=g, dtype=torch.float64) * 0.5])
    y = curve(t) + length[:, None] * torch.stack((angle.cos(), angle.sin()), 1)
    nearest = _offsets(y).pow(2).sum(2).argmin(1) * (2 * math.pi / 4096)
    z0 = torch.cat([(nearest + 0.2 * torch.randn(B, generator=g, dtype=torch.float64))[:, None],
                    0.3 * torch.randn(B, 2, generator=g, dtype=torch.float64)], 1)
    return y, z0


def _cost_gradient(y: Tensor, z: Tensor, scale: float = 1.0) -> Tensor:
    """∇_z ‖y − c(t) − u‖² for z = (t, u), (B, 3), by autograd through the library's decoder."""
    zg = z.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        cost = squared_error(y, CurveDecoder()(None, zg))
        (grad,) = torch.autograd.grad(cost.sum(), zg)
    return scale * grad


def _one_step(y: Tensor, z: Tensor, lam: float, step: float, variant: str = "right") -> Tensor:
    """One proximal gradient step on z = (t, u), or a classic wrong version of it."""
    scale = {"half gradient": 0.5, "batch mean": 1 / len(y)}.get(variant, 1.0)
    g = _cost_gradient(y, z, scale)
    sign = -1.0 if variant == "ascent" else 1.0
    v = z - sign * step * g
    t, u = v[:, :1], v[:, 1:]
    if variant == "frozen t":
        t = z[:, :1]
    thresholds = {"no shrinkage": 0.0, "threshold λ": lam, "threshold λ/2": lam / 2,
                  "threshold ηλ/2": step * lam / 2}
    if variant == "subgradient":
        u = u - step * lam * torch.sign(z[:, 1:])
    elif variant == "subgradient and shrinkage":
        u = _shrink(u - step * lam * torch.sign(z[:, 1:]), step * lam)
    else:
        u = _shrink(u, thresholds.get(variant, step * lam))
    if variant == "shrink t":
        t = _shrink(t, step * lam)
    return torch.cat([t, u], 1)


_STEP_MISTAKES = {
    "no shrinkage": (
        "After one step (max_iter = 1), your u is a plain gradient step on the squared error: the "
        "L1 term is missing. Shrink u by η·λ after the gradient step.",
        "Après un pas (max_iter = 1), votre u est un simple pas de gradient sur l'erreur "
        "quadratique : le terme L1 manque. Rétrécissez u de η·λ après le pas de gradient."),
    "subgradient": (
        "After one step, your u takes a subgradient step η·λ·sign(u): it jumps over 0 and never "
        "lands on it, so the code is never exactly sparse. Shrink instead: u ← h_ηλ(v).",
        "Après un pas, votre u fait un pas de sous-gradient η·λ·sign(u) : il saute par-dessus 0 "
        "sans jamais s'y poser, et le code n'est jamais exactement épars. Rétrécissez plutôt : "
        "u ← h_ηλ(v)."),
    "subgradient and shrinkage": (
        "After one step, your u has paid the L1 term twice: once through the gradient of λ|u| "
        "(your cost includes the regularizer) and once through the shrinkage. The gradient step "
        "is on the squared error alone; the shrinkage takes care of λ|u|.",
        "Après un pas, votre u a payé deux fois le terme L1 : une fois par le gradient de λ|u| "
        "(votre coût contient le régularisateur), et une fois par le rétrécissement. Le pas de "
        "gradient porte sur la seule erreur quadratique ; le rétrécissement s'occupe de λ|u|."),
    "batch mean": (
        "After one step, your gradient step is B times too small: you differentiated the mean of "
        "the costs over the batch, which divides each sample's gradient by B. Sum the costs (the "
        "samples do not interact), so that each sample takes its own step of size η.",
        "Après un pas, votre pas de gradient est B fois trop petit : vous avez dérivé la moyenne "
        "des coûts sur le lot, ce qui divise le gradient de chaque exemple par B. Sommez les coûts "
        "(les exemples n'interagissent pas), pour que chaque exemple fasse son propre pas de "
        "taille η."),
    "threshold λ": (
        "After one step, your u is shrunk by λ: a step of size η shrinks by η·λ.",
        "Après un pas, votre u est rétréci de λ : un pas de taille η rétrécit de η·λ."),
    "threshold λ/2": (
        "After one step, your u is shrunk by λ/2, the threshold of the exact minimiser over u "
        "(H_λ). One step of size η shrinks by η·λ.",
        "Après un pas, votre u est rétréci de λ/2, le seuil du minimiseur exact par rapport à u "
        "(H_λ). Un pas de taille η rétrécit de η·λ."),
    "threshold ηλ/2": (
        "After one step, your u is shrunk by η·λ/2: the penalty is λ|u| and the step η, so the "
        "threshold is η·λ (the λ/2 of H_λ comes from the factor 2 of the gradient, which the step "
        "already contains).",
        "Après un pas, votre u est rétréci de η·λ/2 : la pénalité vaut λ|u| et le pas η, le seuil "
        "est donc η·λ (le λ/2 de H_λ vient du facteur 2 du gradient, que le pas contient déjà)."),
    "shrink t": (
        "After one step, your t is shrunk too: the position t is free, only the offset u pays "
        "λ|u|.",
        "Après un pas, votre t est rétréci lui aussi : la position t est libre, seul le décalage "
        "u paie λ|u|."),
    "half gradient": (
        "After one step, your gradient is half the right one: the derivative of ‖r‖² is 2r, "
        "not r.",
        "Après un pas, votre gradient vaut la moitié du bon : la dérivée de ‖r‖² est 2r, et non r."),
    "ascent": (
        "After one step, your z moves up the gradient: step against it, z − η∇C.",
        "Après un pas, votre z monte le long du gradient : le pas se fait dans le sens opposé, "
        "z − η∇C."),
    "frozen t": (
        "After one step, your t has not moved: the position t is part of z, and the gradient "
        "step updates it too.",
        "Après un pas, votre t n'a pas bougé : la position t fait partie de z, et le pas de "
        "gradient la met à jour elle aussi."),
}

_NAMES = ("t", "u₁", "u₂")


def _z_gap(a: Tensor, b: Tensor) -> Tensor:
    """|a − b| for rows z = (t, u₁, u₂), with t compared modulo 2π (the curve is periodic)."""
    gap = a - b
    wrapped = torch.remainder(gap[:, :1] + math.pi, 2 * math.pi) - math.pi
    return torch.cat([wrapped, gap[:, 1:]], 1).abs()


def _same_z(a: Tensor, b: Tensor) -> bool:
    return bool((_z_gap(a, b) <= 1e-7 + 1e-6 * b.abs()).all())


def check_toy_inference(infer: Callable[[Tensor, Tensor, float, float, int], Tensor]) -> Feedback:
    """Check ``infer(y, z0, lam, step, max_iter)``: inference by proximal gradient descent.

    From z0 = (t, u₁, u₂), each step is a gradient step of size ``step`` (η) on the squared
    error ‖y − c(t) − u‖², for t and u, followed by the shrinkage of u by η·λ. The answer,
    z of shape (B, 3), is checked twice: after one step against the reference step (classic
    mistakes are named), then after many steps against the optimality conditions, sample by
    sample: ∂E/∂t = 0, and each u_i = h_{λ/2}(y_i − c_i(t)) (zero when |y_i − c_i(t)| ≤ λ/2).
    """
    y, z0 = _inference_problem()
    B = len(y)
    lam, step = INFER_LAM, INFER_STEP
    out, bad = _run(infer, (y.clone(), z0.clone(), lam, step, 1), (B, 3), "z, one row per sample",
                    "z (une ligne pour chaque exemple)")
    if bad is not None:
        return bad
    right = _one_step(y, z0, lam, step)
    if not _same_z(out, right):
        for variant, (en, fr) in _STEP_MISTAKES.items():
            if _same_z(out, _one_step(y, z0, lam, step, variant)):
                return Feedback(False, en, fr)
        i, j = divmod(int(_z_gap(out, right).argmax()), 3)
        return Feedback(
            False,
            f"After one step (max_iter = 1) your z is not one proximal gradient step from z0: for "
            f"sample {i}, you give {_NAMES[j]} = {_en(float(out[i, j]))}, expected "
            f"{_en(float(right[i, j]))}. A step is v = z − η∇_z‖y − c(t) − u‖², then "
            f"t = v₀ and u = h_ηλ(v₁, v₂).",
            f"Après un pas (max_iter = 1), votre z n'est pas un pas de gradient proximal depuis z0 : "
            f"pour l'exemple {i}, vous donnez {_NAMES[j]} = {_fr(float(out[i, j]))} au lieu de "
            f"{_fr(float(right[i, j]))}. Un pas, c'est v = z − η∇_z‖y − c(t) − u‖², puis "
            f"t = v₀ et u = h_ηλ(v₁, v₂).")
    out, bad = _run(infer, (y.clone(), z0.clone(), lam, step, INFER_STEPS), (B, 3),
                    "z, one row per sample", "z (une ligne pour chaque exemple)")
    if bad is not None:
        return bad
    r = y - curve(out[:, 0])
    gap_u = (out[:, 1:] - _shrink(r, lam / 2)).abs()  # (B, 2)
    dE_dt = _cost_gradient(y, out)[:, 0].abs()  # the regularizer does not depend on t
    off = torch.cat([dE_dt[:, None] > 1e-5, gap_u > 1e-5], 1)  # (B, 3)
    if not bool(off.any()):
        zeros = int((out[:, 1:] == 0).sum())
        return Feedback(
            True,
            f"Right: after {INFER_STEPS} steps every sample satisfies the optimality conditions "
            f"(∂E/∂t = 0 and u = h_λ/2(y − c(t))), and {zeros} of the {2 * B} offset "
            "coordinates are exactly zero.",
            f"Juste : après {INFER_STEPS} pas, chaque exemple vérifie les conditions d'optimalité "
            f"(∂E/∂t = 0 et u = h_λ/2(y − c(t))), et {zeros} des {2 * B} coordonnées du décalage "
            "sont exactement nulles.")
    bad_rows = [i for i in range(B) if bool(off[i].any())]
    where = [f"{i} ({', '.join(_NAMES[j] for j in range(3) if off[i, j])})" for i in bad_rows]
    energy = curve_energy(lam)
    higher = int((energy(y, out) > energy(y, z0) + 1e-12).sum())
    extra_en = (f" Your energy is even higher than at the start for {higher} samples."
                if higher else "")
    extra_fr = (f" Votre énergie est même plus haute qu'au départ pour {higher} exemple"
                f"{'s' if higher > 1 else ''}." if higher else "")
    return Feedback(
        False,
        f"Keep going: after max_iter = {INFER_STEPS}, your z satisfies the optimality conditions "
        f"except at samples {_listing(where, False)}. At the optimum ∂E/∂t = 0, and each "
        f"u_i = h_λ/2(y_i − c_i(t)). Does your loop run max_iter times, from z0?{extra_en}",
        f"Pas encore : après max_iter = {INFER_STEPS} pas, votre z vérifie les conditions "
        f"d'optimalité sauf pour les exemples {_listing(where, True)}. À l'optimum, ∂E/∂t = 0 "
        f"et chaque u_i = h_λ/2(y_i − c_i(t)). Votre boucle fait-elle bien max_iter pas, à partir "
        f"de z0 ?{extra_fr}")


# -- where is the offset exactly zero? (exploration) -------------------------------------------

EXPLORE_LAMS = (0.25, 0.5, 1.0, 2.0)
_CHOICES = "ABCD"


def zero_offset_shares(regularizer: type, lams: tuple[float, ...] = EXPLORE_LAMS,
                       num: int = 31, lim: float = 1.8) -> list[float]:
    """The share of a square grid of the plane where the inferred offset u* is exactly 0.

    For each point y and each position t of a dense grid, the best offset is the library's
    proximal operator, u(t) = ``regularizer().prox``(y − c(t), λ/2) (the minimiser of
    ‖y − c(t) − u‖² + λR(u)); the best t minimises the energy that this u reaches. Returns one
    share per λ, for the (num × num) grid of [−lim, lim]².
    """
    axis = torch.linspace(-lim, lim, num, dtype=torch.float64)
    y = torch.cartesian_prod(axis, axis)
    r = _offsets(y, 1024)  # (P, T, 2)
    reg = regularizer()
    shares = []
    for lam in lams:
        u = reg.prox(r, lam / 2)
        energy = (r - u).pow(2).sum(2) + lam * reg(u.reshape(-1, 2)).view(u.shape[:2])
        best = energy.argmin(1)
        u_star = u[torch.arange(len(y)), best]
        shares.append(float((u_star == 0).all(1).double().mean()))
    return shares


def _shape_of(shares: list[float]) -> str:
    """The choice A–D that a list of shares (one per growing λ) shows."""
    if max(shares) == 0:
        return "A"
    if min(shares) == 1:
        return "D"
    if all(a < b for a, b in itertools.pairwise(shares)):
        return "B"
    if all(a > b for a, b in itertools.pairwise(shares)):
        return "C"
    return "?"


def check_zero_offset_prediction(predict: Callable[[], dict]) -> Feedback:
    """Check ``predict()`` = {"L1": letter, "SquaredL2": letter}: where is the inferred offset 0?

    The choices: "A" only on the curve (an area of zero) for every λ > 0; "B" in a band around
    the curve that widens as λ grows; "C" in a band that narrows as λ grows; "D" in the whole
    plane. The checker measures the share of the plotted square where u* = 0, for
    λ = 0.25, 0.5, 1 and 2, with :func:`zero_offset_shares` (the library's proximal
    operators), and compares. The keys may also be the classes L1 and SquaredL2.
    """
    answer, problem = _invoke(predict)
    if problem is not None:
        return problem
    guess, problem = _read_prediction(
        answer, ("L1", "SquaredL2"), {letter: letter for letter in _CHOICES}, upper=True,
        listed=('one of the letters "A", "B", "C", "D"', 'l\'une des lettres "A", "B", "C", "D"'),
        aliases={L1: "L1", SquaredL2: "SquaredL2"})
    if problem is not None:
        return problem
    measured = {"L1": zero_offset_shares(L1), "SquaredL2": zero_offset_shares(SquaredL2)}
    lams_en = ", ".join(_en(x, "g") for x in EXPLORE_LAMS)
    lams_fr = " ; ".join(_fr(x, "g") for x in EXPLORE_LAMS)

    def shares(key: str, fr: bool) -> str:
        return (" ; " if fr else ", ").join((_fr if fr else _en)(s, ".2f") for s in measured[key])

    why_en = {
        "L1": (f"with L1 the share of the square where u* = 0 is {shares('L1', False)} for "
               f"λ = {lams_en}: a band that widens with λ. The kink of |u| at 0 holds u_i at 0 "
               "as long as |y_i − c_i(t)| ≤ λ/2, and that band is wider for a larger λ"),
        "SquaredL2": (f"with the squared norm the share is {shares('SquaredL2', False)}: the "
                      "offset is zero only on the curve itself. The best offset is "
                      "u = (y − c(t))/(1 + λ), which is zero only where y = c(t): the spring λ‖u‖² "
                      "has a zero slope at 0, so it cannot hold u there against the cost"),
    }
    why_fr = {
        "L1": (f"avec L1, la part du carré où u* = 0 vaut {shares('L1', True)} pour "
               f"λ = {lams_fr} : une bande qui s'élargit avec λ. Le point anguleux de |u| en 0 "
               "retient u_i en 0 tant que |y_i − c_i(t)| ≤ λ/2, et cette bande est plus large "
               "pour un λ plus grand"),
        "SquaredL2": (f"avec la norme au carré, cette part vaut {shares('SquaredL2', True)} : le "
                      "décalage n'est nul que sur la courbe elle-même. Le meilleur décalage est "
                      "u = (y − c(t))/(1 + λ), nul seulement là où y = c(t) : le ressort λ‖u‖² a "
                      "une pente nulle en 0 et ne peut donc pas y retenir u contre le coût"),
    }
    truth = {key: _shape_of(measured[key]) for key in measured}
    right = [key for key in ("L1", "SquaredL2") if guess[key] == truth[key]]
    wrong = [key for key in ("L1", "SquaredL2") if key not in right]
    if not wrong:
        return Feedback(True, f"Right on both counts: {why_en['L1']}; {why_en['SquaredL2']}.",
                        f"Juste sur les deux points : {why_fr['L1']} ; {why_fr['SquaredL2']}.")
    en = " ".join(f'For "{key}" you predicted {guess[key]}, but {why_en[key]}.' for key in wrong)
    fr = " ".join(f'Pour "{key}", vous avez prédit {guess[key]}, mais {why_fr[key]}.'
                  for key in wrong)
    if right:
        en += f' Your answer for "{right[0]}" is right.'
        fr += f' Votre réponse pour "{right[0]}" est juste.'
    return Feedback(False, "Not quite. " + en, "Pas tout à fait. " + fr)
