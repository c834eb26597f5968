"""Checkers of chapter 3, ISTA and FISTA.

Shrinkage as a proximal operator and the Lipschitz constant (derivations), one ISTA step
and FISTA (implementations), and how coherence and λ change FISTA's iteration count
(an exploration).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..solvers import _iterations_to, _shrink, fista, lipschitz
from ._feedback import (
    Feedback,
    _as_number,
    _invoke,
    _known_mistake,
    _read_prediction,
    _run,
)

__all__ = ["check_fista", "check_fista_prediction", "check_ista_step", "check_lipschitz",
           "check_prox_l1", "check_shrink"]  # explore_problem, explore_iterations and
# explore_curvatures are the exploration's experiment: imported from this module


def _g_fr(x: float, spec: str) -> str:
    """``format(x, spec)`` with the French decimal comma."""
    return format(x, spec).replace(".", ",")


def _with_hint(bad: Feedback) -> Feedback:
    """A failed call, with a hint when PyTorch's (English) error is about shapes or dtypes."""
    en, fr = bad.text["en"], bad.text["fr"]
    if not en.startswith("Your function raised"):
        return bad
    en, fr = (t if t.endswith(".") else t + "." for t in (en, fr))
    if "shapes cannot be multiplied" in en or "size mismatch" in en:
        en += (" Rows are samples: for z of shape (B, m), W z is z @ W.T and Wᵀ(W z − y) is "
               "(z @ W.T − y) @ W.")
        fr += (" Les exemples sont des lignes : pour z de forme (B, m), W z s'écrit z @ W.T et "
               "Wᵀ(W z − y) s'écrit (z @ W.T − y) @ W.")
    elif "dtype" in en or "scalar type" in en:
        en += (" The checker passes float64 tensors: create new tensors with the dtype of y, for "
               "instance y.new_zeros(B, m) or torch.zeros(B, m, dtype=y.dtype).")
        fr += (" Le vérificateur passe des tenseurs float64 : créez les nouveaux tenseurs avec le "
               "type de y, avec y.new_zeros(B, m) ou torch.zeros(B, m, dtype=y.dtype).")
    else:
        return bad
    return Feedback(False, en, fr)


def check_shrink(shrink: Callable[[Tensor, float], Tensor]) -> Feedback:
    """Check ``shrink(v, theta)`` = sign(v) · max(|v| − θ, 0), elementwise."""
    v = torch.linspace(-3, 3, 61, dtype=torch.float64)
    theta = 0.75
    out, bad = _run(shrink, (v.clone(), theta), tuple(v.shape), "the shape of v", "le résultat (comme v)")
    if bad is not None:
        return bad
    right = _shrink(v, theta)
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
    return Feedback(False, f"For v = {_num_en(float(v[i]))} and θ = {theta} you give "
                           f"{_num_en(float(out[i]), 3)}, expected {_num_en(float(right[i]), 3)}.",
                    f"Pour v = {_num_fr(float(v[i]))} et θ = {_g_fr(theta, 'g')}, vous donnez "
                    f"{_num_fr(float(out[i]), 3)} au lieu de {_num_fr(float(right[i]), 3)}.")


def check_ista_step(step: Callable[[Tensor, Tensor, Tensor, float, float], Tensor]) -> Feedback:
    """Check ``step(z, y, W, lam, L)``: one ISTA step z − ∇f(z)/L, then shrinkage by λ/L.

    Shapes: z (B, m), y (B, n), W (n, m); f(z) = ‖y − W z‖², so ∇f(z) = 2 Wᵀ(W z − y).
    """
    g = torch.Generator().manual_seed(5)
    W = torch.randn(10, 16, generator=g, dtype=torch.float64)
    W = W / W.norm(dim=0)
    y = torch.randn(4, 10, generator=g, dtype=torch.float64)
    z = torch.randn(4, 16, generator=g, dtype=torch.float64) * 0.3
    lam, L = 0.4, lipschitz(W)
    out, bad = _run(step, (z.clone(), y.clone(), W.clone(), lam, L), (4, 16), "the shape of z",
                    "le nouveau code (comme z)")
    if bad is not None:
        return _with_hint(bad)

    h = _shrink
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
    diff = (out - right).abs()
    b, j = divmod(int(diff.argmax()), diff.shape[1])
    gap = float(diff.max())
    return Feedback(False, f"Wrong values: your z differs from h_{{λ/L}}(z − ∇f(z)/L) by up to {gap:.3g} "
                           f"(sample {b}, component {j}). Check the gradient 2 Wᵀ(W z − y), written "
                           "2 * (z @ W.T − y) @ W with one sample per row, the step 1/L and the "
                           "threshold λ/L.",
                    f"Valeurs fausses : votre z s'écarte de h_{{λ/L}}(z − ∇f(z)/L) de {_g_fr(gap, '.3g')} "
                    f"au plus (exemple {b}, composante {j}). Vérifiez le gradient 2 Wᵀ(W z − y), qui "
                    "s'écrit 2 * (z @ W.T − y) @ W avec un exemple par ligne, le pas 1/L et le seuil λ/L.")


# -- shrinkage as a proximal operator (derivation) ----------------------------------------

def _num_fr(x: float, digits: int = 2) -> str:
    """A number written the French way (decimal comma), for the French messages."""
    return f"{x:.{digits}f}".replace(".", ",").replace("-", "−")


def _num_en(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def _values(xs: list[float], fr: bool) -> str:
    """The first few values of a list, joined (« ; » in French, where the comma is decimal)."""
    shown = [(_num_fr if fr else _num_en)(x) for x in xs[:3]]
    more = len(xs) > 3
    if fr:
        return " ; ".join(shown) + (f" (et {len(xs) - 3} autre{'s' if len(xs) > 4 else ''})" if more else "")
    return ", ".join(shown) + (f" (and {len(xs) - 3} more)" if more else "")


def check_prox_l1(prox: Callable[[Tensor, float], Tensor]) -> Feedback:
    """Check ``prox(v, theta)`` = argmin_z ½(z − v)² + θ|z|, elementwise, by its properties.

    For many v and three thresholds θ, the answer must (1) reach the smallest value of
    ½(z − v)² + θ|z| found on a fine grid of z, and (2) satisfy the optimality
    (subgradient) condition 0 ∈ z − v + θ ∂|z|: z − v + θ sign(z) = 0 where z ≠ 0, and
    |v| <= θ where z = 0. The classic wrong answers are named.
    """
    g = torch.Generator().manual_seed(3)
    grid = torch.linspace(-6, 6, 24001, dtype=torch.float64)  # a step of 5e-4
    for theta in (0.5, 1.25, 0.0):
        edges = torch.tensor([0.0, theta, -theta, theta + 0.01, -theta - 0.01, 0.3 * theta],
                             dtype=torch.float64)
        v = torch.cat([2 * torch.randn(40, generator=g, dtype=torch.float64), edges])
        out, bad = _run(prox, (v.clone(), theta), tuple(v.shape), "the shape of v",
                        "le résultat (comme v)")
        if bad is not None:
            return bad
        if not bool(torch.isfinite(out).all()):
            return Feedback(False, f"For θ = {theta} your function returns NaN or infinite values.",
                            f"Pour θ = {_g_fr(theta, 'g')}, votre fonction renvoie des valeurs NaN "
                            "ou infinies.")

        def h(t: float, v: Tensor = v) -> Tensor:
            return _shrink(v, t)

        guesses = [
            (torch.where(v.abs() > theta, v, torch.zeros_like(v)),
             "This is hard thresholding: it keeps v when |v| > θ. Where z ≠ 0 the condition "
             "z − v + θ sign(z) = 0 moves z by θ towards zero.",
             "C'est un seuillage dur : il garde v quand |v| > θ. Là où z ≠ 0, la condition "
             "z − v + θ sign(z) = 0 rapproche z de zéro de θ."),
            (torch.clamp(v.abs() - theta, min=0),
             "You return max(|v| − θ, 0), which is never negative: for v < −θ the minimiser is "
             "v + θ < 0. Multiply by sign(v).",
             "Vous renvoyez max(|v| − θ, 0), qui n'est jamais négatif : pour v < −θ, le minimum est "
             "atteint en v + θ < 0. Multipliez par sign(v)."),
            (torch.clamp(v - theta, min=0),
             "Negative values are lost: for v < −θ the minimiser is v + θ < 0. Shrink |v|, then put "
             "the sign back.",
             "Les valeurs négatives sont perdues : pour v < −θ, le minimum est atteint en v + θ < 0. "
             "Rétrécissez |v|, puis remettez le signe."),
            (torch.sign(v) * (v.abs() - theta),
             "Where |v| <= θ the minimiser is exactly 0 (0 ∈ −v + θ[−1, 1]); you change the sign "
             "of z instead.",
             "Là où |v| <= θ, le minimum est atteint exactement en 0 (0 ∈ −v + θ[−1, 1]) ; vous "
             "changez au contraire le signe de z."),
            (h(theta / 2),
             "Your threshold is θ/2: that is the minimiser of (z − v)² + θ|z|, without the ½. "
             "With the ½, the derivative of the square is z − v, and the threshold is θ.",
             "Votre seuil vaut θ/2 : c'est le minimiseur de (z − v)² + θ|z|, sans le ½. Avec le ½, "
             "la dérivée du carré est z − v, et le seuil vaut θ."),
            (h(2 * theta),
             "Your threshold is 2θ: the derivative of ½(z − v)² is z − v, so the threshold is θ.",
             "Votre seuil vaut 2θ : la dérivée de ½(z − v)² est z − v, donc le seuil vaut θ."),
        ]
        if theta > 0:
            mistake = _known_mistake(out, guesses, atol=1e-9)
            if mistake is not None:
                return mistake
        objective = 0.5 * (out - v) ** 2 + theta * out.abs()
        best = (0.5 * (grid[None, :] - v[:, None]) ** 2 + theta * grid.abs()[None, :]).amin(dim=1)
        zero = out.abs() <= 1e-12
        residual = torch.where(zero, (v.abs() - theta).clamp(min=0), out - v + theta * torch.sign(out))
        failing = (objective > best + 1e-9) | (residual.abs() > 1e-8)
        if bool(failing.any()):
            idx = failing.nonzero()[:, 0].tolist()
            bad_v = [float(v[i]) for i in idx]
            i = idx[0]
            if bool(zero[i]):
                why_en = (f"at v = {_num_en(float(v[i]))} your z is 0, but |v| > θ: there "
                          "z = 0 is not optimal")
                why_fr = (f"en v = {_num_fr(float(v[i]))}, votre z vaut 0 alors que |v| > θ : "
                          "z = 0 n'y est pas optimal")
            else:
                why_en = (f"at v = {_num_en(float(v[i]))} your z = {_num_en(float(out[i]), 3)} gives "
                          f"z − v + θ sign(z) = {_num_en(float(residual[i]), 3)}, not 0")
                why_fr = (f"en v = {_num_fr(float(v[i]))}, votre z = {_num_fr(float(out[i]), 3)} "
                          f"donne z − v + θ sign(z) = {_num_fr(float(residual[i]), 3)} au lieu de 0")
            n_ok = len(v) - len(idx)
            return Feedback(False,
                            f"Keep going: for θ = {theta}, your z satisfies the optimality condition "
                            f"for {n_ok} of {len(v)} values of v, but not for v = "
                            f"{_values(bad_v, False)}; {why_en}.",
                            f"Pas encore : pour θ = {_g_fr(theta, 'g')}, votre z vérifie la condition "
                            f"d'optimalité pour {n_ok} valeurs de v sur {len(v)}, mais pas pour "
                            f"v = {_values(bad_v, True)} ; {why_fr}.")
    return Feedback(True, "Right: your z minimises ½(z − v)² + θ|z| (checked on a grid and by the "
                          "optimality condition) for every v and θ tried: it is h_θ, the proximal "
                          "operator of θ|·|.",
                    "Juste : votre z minimise ½(z − v)² + θ|z| (vérifié sur une grille et par la "
                    "condition d'optimalité) pour chaque v et chaque θ essayés : c'est h_θ, "
                    "l'opérateur proximal de θ|·|.")


# -- the Lipschitz constant (derivation) --------------------------------------------------

def _lipschitz_dictionaries() -> list[Tensor]:
    """Three dictionaries: wide with unit atoms, tall and coherent, and one not normalised."""
    g = torch.Generator().manual_seed(8)
    wide = torch.randn(8, 12, generator=g, dtype=torch.float64)
    wide = wide / wide.norm(dim=0)
    tall = torch.randn(15, 6, generator=g, dtype=torch.float64) + 1.5
    tall = tall / tall.norm(dim=0)
    scaled = torch.randn(10, 10, generator=g, dtype=torch.float64) * torch.linspace(0.5, 2, 10,
                                                                                     dtype=torch.float64)
    return [wide, tall, scaled]


def _gradient_ratios(W: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """‖∇f(a) − ∇f(b)‖ / ‖a − b‖ for rows a, b, with f(z) = ‖y − W z‖² (y cancels out)."""
    y = torch.ones(W.shape[0], dtype=W.dtype)
    grad_a = 2 * (a @ W.T - y) @ W
    grad_b = 2 * (b @ W.T - y) @ W
    return (grad_a - grad_b).norm(dim=1) / (a - b).norm(dim=1)


def _worst_direction(W: Tensor, n_iter: int = 2000) -> Tensor:
    """The top right singular vector of W, by power iteration on WᵀW, (m,)."""
    d = torch.ones(W.shape[1], dtype=W.dtype)
    gram = W.T @ W
    for _ in range(n_iter):
        d = gram @ d
        d = d / d.norm()
    return d


def check_lipschitz(lipschitz: Callable[[Tensor], float]) -> Feedback:
    """Check ``lipschitz(W)``: the smallest L with ‖∇f(a) − ∇f(b)‖ <= L ‖a − b‖, f = ‖y − W z‖².

    On three dictionaries W (n, m), the answer must be an upper bound of the ratio
    ‖∇f(a) − ∇f(b)‖ / ‖a − b‖ on random pairs of codes and on the pair that differs by the
    top right singular vector (found by power iteration), and it must be attained by that
    pair: L = 2 σ_max(W)². The classic wrong answers are named.
    """
    g = torch.Generator().manual_seed(9)
    for k, W in enumerate(_lipschitz_dictionaries()):
        out, problem = _invoke(lipschitz, W.clone())
        if problem is not None:
            return problem
        out, problem = _as_number(out)
        if problem is not None:
            return problem
        sigma = float(torch.linalg.matrix_norm(W, ord=2))
        smallest = [
            (2 * float(torch.linalg.eigvalsh(W.T @ W)[0]),
             "You return twice the smallest eigenvalue of WᵀW: torch.linalg.eigvalsh sorts the "
             "eigenvalues in ascending order, so the largest one is the last, [-1].",
             "Vous renvoyez le double de la plus petite valeur propre de WᵀW : torch.linalg.eigvalsh "
             "range les valeurs propres par ordre croissant, la plus grande est donc la dernière, "
             "[-1]."),
            (2 * float(torch.linalg.svdvals(W)[-1]) ** 2,
             "You return 2 σ_min(W)², with the smallest singular value: torch.linalg.svdvals sorts "
             "them in descending order, so σ_max is the first, [0].",
             "Vous renvoyez 2 σ_min(W)², avec la plus petite valeur singulière : "
             "torch.linalg.svdvals les range par ordre décroissant, σ_max est donc la première, "
             "[0]."),
        ]
        for value, en, fr in smallest:
            if abs(out - value) <= 1e-9 * sigma**2 and abs(value - 2 * sigma**2) > 1e-6 * sigma**2:
                return Feedback(False, en, fr)
        if not out > 0 or out == float("inf"):
            return Feedback(False, f"L must be a finite number > 0, received {out}.",
                            "L doit être un nombre fini strictement positif ; vous donnez "
                            f"{_g_fr(out, 'g')}.")
        fro2 = float(W.pow(2).sum())
        atom2 = float(W.pow(2).sum(0).max())
        guesses = [
            (sigma, "You return σ_max(W). ∇f(a) − ∇f(b) = 2 WᵀW (a − b) applies W and then Wᵀ: "
                    "σ_max appears squared, with the factor 2.",
             "Vous renvoyez σ_max(W). ∇f(a) − ∇f(b) = 2 WᵀW (a − b) applique W puis Wᵀ : σ_max "
             "apparaît au carré, avec le facteur 2."),
            (sigma**2, "You return σ_max(W)², the constant of ½‖y − W z‖² (the ½ convention of "
                       "Gregor and LeCun, and of the lecture's step). Our f has no ½: its gradient "
                       "2 Wᵀ(W z − y) carries a factor 2.",
             "Vous renvoyez σ_max(W)², la constante de ½‖y − W z‖² (la convention avec ½ de "
             "Gregor et LeCun, et du pas du cours). Notre f n'a pas de ½ : son gradient "
             "2 Wᵀ(W z − y) porte un facteur 2."),
            (2 * sigma, "Square σ_max: ∇f(a) − ∇f(b) = 2 WᵀW (a − b) applies W twice.",
             "Mettez σ_max au carré : ∇f(a) − ∇f(b) = 2 WᵀW (a − b) applique W deux fois."),
            (4 * sigma**2, "One factor 2 too many: ∇f(a) − ∇f(b) = 2 WᵀW (a − b), so L = 2 σ_max(W)².",
             "Un facteur 2 de trop : ∇f(a) − ∇f(b) = 2 WᵀW (a − b), donc L = 2 σ_max(W)²."),
            (2 * fro2, "2‖W‖_F² (the Frobenius norm, the default of torch.linalg.norm for a matrix) "
                       "is an upper bound, since ‖W‖_F² is the sum of all the σ_i², but not the "
                       f"smallest: here it is {2 * fro2 / (2 * sigma**2):.1f} times too large, and a "
                       "step 1/L that much smaller slows ISTA down as much. Use the spectral norm, "
                       "σ_max(W) (ord=2).",
             "2‖W‖_F² (la norme de Frobenius, celle que torch.linalg.norm calcule par défaut pour "
             "une matrice) est bien un majorant, car ‖W‖_F² est la somme de tous les σ_i², mais pas "
             f"le plus petit : il est ici {_num_fr(2 * fro2 / (2 * sigma**2), 1)} fois trop grand, "
             "et un pas 1/L réduit d'autant ralentit ISTA d'autant. Prenez la norme spectrale, "
             "σ_max(W) (ord=2)."),
            (2 * atom2, "2 max_j ‖w_j‖² is the curvature along a single atom. Atoms that point in "
                        "similar directions add up: the steepest direction is the top singular "
                        "vector, L = 2 σ_max(W)².",
             "2 max_j ‖w_j‖² est la courbure le long d'un seul atome. Des atomes de directions "
             "voisines s'additionnent : la direction la plus raide est le premier vecteur "
             "singulier, L = 2 σ_max(W)²."),
        ]
        for value, en, fr in guesses:
            if abs(out - value) <= 1e-6 * value and abs(value - 2 * sigma**2) > 1e-6 * value:
                return Feedback(False, en, fr)
        a = torch.randn(200, W.shape[1], generator=g, dtype=torch.float64)
        b = torch.randn(200, W.shape[1], generator=g, dtype=torch.float64)
        random_ratio = float(_gradient_ratios(W, a, b).max())
        d = _worst_direction(W)
        attained = float(_gradient_ratios(W, a[:1] + d, a[:1]))
        if out < random_ratio * (1 - 1e-9):
            return Feedback(False, f"Not an upper bound: on dictionary {k + 1}, two random codes a, b "
                                   f"give ‖∇f(a) − ∇f(b)‖ = {random_ratio:.4g} ‖a − b‖, more than your "
                                   f"L = {out:.4g}.",
                            f"Ce n'est pas un majorant : pour le dictionnaire {k + 1}, deux codes "
                            "aléatoires a, b donnent ‖∇f(a) − ∇f(b)‖ = "
                            f"{_g_fr(random_ratio, '.4g')} ‖a − b‖, plus que votre "
                            f"L = {_g_fr(out, '.4g')}.")
        if out < attained * (1 - 1e-6):
            near = out > attained * (1 - 1e-2)
            hint_en = (" If you use a power iteration, it has not converged: run more iterations."
                       if near else "")
            hint_fr = (" Si vous utilisez une méthode de la puissance itérée, elle n'a pas convergé : "
                       "faites plus d'itérations." if near else "")
            return Feedback(False, f"Not an upper bound: on dictionary {k + 1}, random pairs stay below "
                                   f"your L = {out:.6g}, but two codes that differ by the top right "
                                   f"singular vector of W give the ratio {attained:.6g}.{hint_en}",
                            f"Ce n'est pas un majorant : pour le dictionnaire {k + 1}, les paires "
                            f"aléatoires restent sous votre L = {_g_fr(out, '.6g')}, mais deux codes qui "
                            f"diffèrent du premier vecteur singulier à droite de W donnent le rapport "
                            f"{_g_fr(attained, '.6g')}.{hint_fr}")
        if out > attained * (1 + 1e-6):
            return Feedback(False, f"An upper bound, but not the smallest: on dictionary {k + 1} no pair "
                                   f"of codes reaches your L = {out:.4g}; the largest ratio, "
                                   f"{attained:.4g}, is reached along the top right singular vector "
                                   f"of W. Your L is {out / attained:.3g} times too large, and the step "
                                   "1/L as much too small.",
                            f"C'est un majorant, mais pas le plus petit : pour le dictionnaire {k + 1}, "
                            f"aucune paire de codes n'atteint votre L = {_g_fr(out, '.4g')} ; le "
                            f"plus grand rapport, {_g_fr(attained, '.4g')}, est atteint le long du "
                            "premier vecteur singulier à droite de W. Votre L est "
                            f"{_g_fr(out / attained, '.3g')} fois trop grand, et le pas 1/L "
                            "d'autant trop petit.")
    return Feedback(True, "Right: your L bounds ‖∇f(a) − ∇f(b)‖ / ‖a − b‖ for every pair, and two codes "
                          "that differ by the top right singular vector of W reach it: L = 2 σ_max(W)².",
                    "Juste : votre L majore ‖∇f(a) − ∇f(b)‖ / ‖a − b‖ pour toute paire, et deux codes "
                    "qui diffèrent du premier vecteur singulier à droite de W l'atteignent : "
                    "L = 2 σ_max(W)².")


# -- FISTA (implementation) ---------------------------------------------------------------

FISTA_STEPS = 12  # the checker compares iterates 1 … 12


def _fista_problem() -> tuple[Tensor, Tensor, float]:
    """A small problem with coherent atoms, where momentum matters from the third iterate."""
    g = torch.Generator().manual_seed(13)
    W = torch.randn(12, 20, generator=g, dtype=torch.float64) + 0.8
    W = W / W.norm(dim=0)
    y = torch.randn(3, 12, generator=g, dtype=torch.float64) + 1.0
    return y, W, 0.3


def _fista_variant(y: Tensor, W: Tensor, lam: float, n_iter: int, variant: str) -> list[Tensor]:
    """The iterates x_1 … x_n of FISTA, or of one of its classic wrong versions."""
    L = lipschitz(W)
    h = _shrink

    def grad(z: Tensor) -> Tensor:
        return 2 * (z @ W.T - y) @ W

    x_prev = y.new_zeros(y.shape[0], W.shape[1])
    v, t = x_prev, 0.0 if variant == "t starts at 0" else 1.0
    iterates = []
    for k in range(1, n_iter + 1):
        if variant == "step from x":
            x = h(x_prev - grad(v) / L, lam / L)
        elif variant == "threshold lam":
            x = h(v - grad(v) / L, lam)
        elif variant == "no factor 2":
            x = h(v - grad(v) / (2 * L), lam / L)
        else:
            x = h(v - grad(v) / L, lam / L)
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        if variant == "no momentum":
            beta = 0.0
        elif variant == "t updated first":
            beta = (t_next - 1) / t_next
        elif variant == "t shifted":
            beta = (t_next - 1) / ((1 + math.sqrt(1 + 4 * t_next * t_next)) / 2)
        elif variant == "(k-1)/(k+2)":
            beta = (k - 1) / (k + 2)
        else:
            beta = (t - 1) / t_next
        if variant == "extrapolate from v":
            v_next = x + beta * (x - v)
        else:
            v_next = x + beta * (x - x_prev)
        iterates.append(v_next if variant == "returns v" else x)
        x_prev, v, t = x, v_next, t_next
    return iterates


_FISTA_MISTAKES = [
    ("no momentum",
     "These are ISTA's iterates: there is no momentum. Take each step from the extrapolated point "
     "v_{k+1} = x_k + (t_k − 1)/t_{k+1} · (x_k − x_{k−1}), not from x_k.",
     "Ce sont les itérés d'ISTA : il n'y a pas d'inertie. Faites chaque pas depuis le point "
     "extrapolé v_{k+1} = x_k + (t_k − 1)/t_{k+1} · (x_k − x_{k−1}), et non depuis x_k."),
    ("step from x",
     "Momentum applied to the wrong point: you evaluate the gradient at v_k but step from x_{k−1}. "
     "The whole step starts from the extrapolated point: x_k = h_{λ/L}(v_k − ∇f(v_k)/L).",
     "L'inertie est appliquée au mauvais point : vous calculez le gradient en v_k, mais faites le pas "
     "depuis x_{k−1}. Tout le pas part du point extrapolé : x_k = h_{λ/L}(v_k − ∇f(v_k)/L)."),
    ("extrapolate from v",
     "Momentum along the wrong direction: extrapolate along the last move of the iterates, "
     "x_k − x_{k−1}, not along x_k − v_k.",
     "L'inertie suit la mauvaise direction : extrapolez le long du dernier déplacement des itérés, "
     "x_k − x_{k−1}, et non le long de x_k − v_k."),
    ("returns v",
     "You return the extrapolated point v; FISTA's answer is the last iterate x_k (the point "
     "that came out of the shrinkage).",
     "Vous renvoyez le point extrapolé v ; la réponse de FISTA est le dernier itéré x_k (celui qui "
     "sort du rétrécissement)."),
    ("t updated first",
     "t is updated in the wrong order: you compute t_{k+1} and then use it in place of t_k, so "
     "β = (t_{k+1} − 1)/t_{k+1}. Keep the old t_k for β = (t_k − 1)/t_{k+1}, then update t.",
     "t est mis à jour dans le mauvais ordre : vous calculez t_{k+1} puis l'utilisez à la place "
     "de t_k, d'où β = (t_{k+1} − 1)/t_{k+1}. Gardez l'ancien t_k pour β = (t_k − 1)/t_{k+1}, "
     "puis mettez t à jour."),
    ("t shifted",
     "t is one step ahead: your β is (t_{k+1} − 1)/t_{k+2}. With t_1 = 1 the first β must be 0, "
     "β = (t_k − 1)/t_{k+1}, so that the second step is still ISTA's.",
     "t est en avance d'un pas : votre β vaut (t_{k+1} − 1)/t_{k+2}. Avec t_1 = 1, le premier β "
     "doit être nul, β = (t_k − 1)/t_{k+1}, pour que le deuxième pas soit encore celui d'ISTA."),
    ("t starts at 0",
     "t starts at 0; FISTA starts with t_1 = 1 (so the first β is 0).",
     "t part de 0 ; FISTA part de t_1 = 1 (le premier β est alors nul)."),
    ("(k-1)/(k+2)",
     "You use β_k = (k − 1)/(k + 2), a common simplification of the momentum (it also converges "
     "like 1/k²), but not Beck and Teboulle's: compute t_{k+1} = (1 + √(1 + 4 t_k²))/2 and "
     "β = (t_k − 1)/t_{k+1}.",
     "Vous utilisez β_k = (k − 1)/(k + 2), une simplification courante de l'inertie (qui converge "
     "aussi en 1/k²), mais pas celle de Beck et Teboulle : calculez "
     "t_{k+1} = (1 + √(1 + 4 t_k²))/2 et β = (t_k − 1)/t_{k+1}."),
    ("threshold lam",
     "Shrink by λ/L, not by λ: the threshold scales with the step.",
     "Rétrécissez de λ/L, pas de λ : le seuil suit la taille du pas."),
    ("no factor 2",
     "The gradient of ‖y − W z‖² is 2 Wᵀ(W z − y): you lost the factor 2.",
     "Le gradient de ‖y − W z‖² vaut 2 Wᵀ(W z − y) : vous avez perdu le facteur 2."),
]


def check_fista(fista_fn: Callable[[Tensor, Tensor, float, int], Tensor]) -> Feedback:
    """Check ``fista_fn(y, W, lam, n_iter)``, FISTA from z = 0, iterate by iterate.

    Shapes: y (B, n), W (n, m); the answer is the code after ``n_iter`` iterations, (B, m).
    For n_iter = 1 … 12 it is compared with :func:`ebmlib.solvers.fista` (with or without
    adaptive restart: both are right). Classic wrong versions (no momentum, momentum applied
    to the wrong point, t updated in the wrong order, …) are named; otherwise the message
    says which iterate is the first to differ.
    """
    y, W, lam = _fista_problem()
    B, m = y.shape[0], W.shape[1]
    answers = []
    for k in range(1, FISTA_STEPS + 1):
        out, bad = _run(fista_fn, (y.clone(), W.clone(), lam, k), (B, m),
                        f"the code after n_iter = {k} iterations, of shape (B, m)",
                        f"le code après n_iter = {k} itérations, de forme (B, m)")
        if bad is not None:
            return _with_hint(bad)
        answers.append(out)
    answers = torch.stack(answers)

    def same(iterates: Tensor) -> Tensor:  # (K,): does iterate k agree?
        diff = (answers - iterates).abs().flatten(1).amax(dim=1)
        return diff <= 1e-7 + 1e-6 * iterates.abs().flatten(1).amax(dim=1)

    references = {restart: torch.stack([fista(y, W, lam, max_iter=k, tol=0, restart=restart).z
                                        for k in range(1, FISTA_STEPS + 1)])
                  for restart in (False, True)}
    if bool(same(references[False]).all()):
        return Feedback(True, f"Right: your iterates 1 to {FISTA_STEPS} are those of "
                              "ebmlib.solvers.fista.",
                        f"Juste : vos itérés 1 à {FISTA_STEPS} sont ceux de ebmlib.solvers.fista.")
    if bool(same(references[True]).all()):
        return Feedback(True, f"Right: your iterates 1 to {FISTA_STEPS} are those of "
                              "ebmlib.solvers.fista with adaptive restart (restart=True).",
                        f"Juste : vos itérés 1 à {FISTA_STEPS} sont ceux de ebmlib.solvers.fista "
                        "avec redémarrage adaptatif (restart=True).")
    for variant, en, fr in _FISTA_MISTAKES:
        if bool(same(torch.stack(_fista_variant(y, W, lam, FISTA_STEPS, variant))).all()):
            return Feedback(False, en, fr)
    agree = same(references[False])
    k = int((~agree).nonzero()[0, 0]) + 1  # the first iterate that differs, 1-based
    gap = float((answers[k - 1] - references[False][k - 1]).abs().max())
    if k == 1:
        where_en = ("The first iterate is one ISTA step from z = 0 (t_1 = 1, v_1 = 0): check the "
                    "gradient step and the threshold λ/L.")
        where_fr = ("Le premier itéré est un pas d'ISTA depuis z = 0 (t_1 = 1, v_1 = 0) : vérifiez le "
                    "pas de gradient et le seuil λ/L.")
    elif k == 2:
        where_en = ("The second iterate is still ISTA's (β = (t_1 − 1)/t_2 = 0): check how t and v "
                    "start.")
        where_fr = ("Le deuxième itéré est encore celui d'ISTA (β = (t_1 − 1)/t_2 = 0) : vérifiez "
                    "l'initialisation de t et de v.")
    else:
        where_en = ("Check the momentum: v_{k+1} = x_k + (t_k − 1)/t_{k+1} · (x_k − x_{k−1}). If you "
                    "added a restart, use the library's test: reset t to 1 when "
                    "(v_k − x_k)·(x_k − x_{k−1}) > 0.")
        where_fr = ("Vérifiez l'inertie : v_{k+1} = x_k + (t_k − 1)/t_{k+1} · (x_k − x_{k−1}). Si vous "
                    "avez ajouté un redémarrage, utilisez le critère de la bibliothèque : remettez t "
                    "à 1 quand (v_k − x_k)·(x_k − x_{k−1}) > 0.")
    if k == 1:
        head_en = f"Iterate 1 differs from that of ebmlib.solvers.fista by up to {gap:.3g}."
        head_fr = f"L'itéré 1 diffère de celui de ebmlib.solvers.fista de {_g_fr(gap, '.3g')} au plus."
    else:
        agreed_en = "Iterate 1 agrees" if k == 2 else f"Iterates 1 to {k - 1} agree"
        agreed_fr = ("L'itéré 1 coïncide avec celui" if k == 2
                     else f"Les itérés 1 à {k - 1} coïncident avec ceux")
        head_en = (f"{agreed_en} with ebmlib.solvers.fista; iterate {k} differs from it by up to "
                   f"{gap:.3g}.")
        head_fr = (f"{agreed_fr} de ebmlib.solvers.fista ; l'itéré {k} diffère du sien de "
                   f"{_g_fr(gap, '.3g')} au plus.")
    return Feedback(False, f"{head_en} {where_en}", f"{head_fr} {where_fr}")


# -- how coherence and λ change FISTA's iteration count (exploration) ---------------------

EXPLORE_RHO = (0.1, 0.7)  # the weight of the direction common to all atoms: base, coherent
EXPLORE_LAM = (0.1, 0.4)  # λ: base, larger
EXPLORE_GAP = 1e-4  # the mean relative gap (E_k − E*)/E* to reach
EXPLORE_SAME = 0.2  # "about as many": within 20 % of the base count
_ANSWERS = {"<": "<", "=": "=", ">": ">", "fewer": "<", "less": "<", "moins": "<", "same": "=",
            "autant": "=", "pareil": "=", "more": ">", "plus": ">"}


def explore_problem(rho: float, *, seed: int = 0, n: int = 20, m: int = 50, B: int = 8
                    ) -> tuple[Tensor, Tensor]:
    """The exploration's problem: y (B, n) and a dictionary W (n, m) of coherence set by ρ.

    Each atom is (1 − ρ) g_j + ρ u, normalised: g_j a random direction of its own, u one
    random direction shared by all atoms. ρ = 0 gives nearly independent atoms; as ρ grows,
    all atoms lean towards u. The observations are sparse combinations of the atoms (about
    one atom in ten) plus a little noise.
    """
    g = torch.Generator().manual_seed(seed)
    G = torch.randn(n, m, generator=g, dtype=torch.float64)
    G = G / G.norm(dim=0)
    u = torch.randn(n, 1, generator=g, dtype=torch.float64)
    W = (1 - rho) * G + rho * u / u.norm()
    W = W / W.norm(dim=0)
    keep = torch.rand(B, m, generator=g, dtype=torch.float64) < 0.1
    z = torch.randn(B, m, generator=g, dtype=torch.float64) * keep
    y = z @ W.T + 0.05 * torch.randn(B, n, generator=g, dtype=torch.float64)
    return y, W


def explore_iterations(rho: float, lam: float, *, max_iter: int = 600) -> tuple[int | None, float, float]:
    """FISTA's iterations to a mean relative gap of EXPLORE_GAP on ``explore_problem(rho)``.

    E* comes from 800 iterations of FISTA with adaptive restart. Returns (the number of
    iterations, or None if more than ``max_iter``; 2 σ_max(W)², the L of the problem; the
    mean number of non-zero components of the optimal codes).
    """
    y, W = explore_problem(rho)
    z_star, reference, _ = fista(y, W, lam, max_iter=800, tol=0, restart=True)
    trace = fista(y, W, lam, max_iter=max_iter, tol=0).trace
    count = _iterations_to(trace, reference[-1], EXPLORE_GAP)
    return count, lipschitz(W), float((z_star != 0).sum(dim=1).double().mean())


def explore_curvatures(rho: float) -> tuple[float, float]:
    """The two largest curvatures of f(z) = ‖y − W z‖² on ``explore_problem(rho)``.

    Returns (2 σ_1(W)², 2 σ_2(W)²): the first is L; as ρ grows it grows, while the second,
    the largest curvature across the shared direction, falls.
    """
    _, W = explore_problem(rho)
    sigma = torch.linalg.svdvals(W)
    return 2 * float(sigma[0]) ** 2, 2 * float(sigma[1]) ** 2


def check_fista_prediction(predict: Callable[[], dict]) -> Feedback:
    """Check ``predict()`` = {"coherence": c, "lambda": l}, each "<", "=" or ">".

    The answers predict how FISTA's iteration count to a mean relative gap of 1e-4 changes
    (fewer "<", about the same "=", more ">") when the atoms are made more coherent (ρ from
    0.1 to 0.7 in :func:`explore_problem`, λ = 0.1), and when λ grows from 0.1 to 0.4
    (ρ = 0.1). The checker runs the experiment and compares ("=" means within 20 %,
    :data:`EXPLORE_SAME`).
    Words are accepted too: "fewer"/"moins", "same"/"autant", "more"/"plus".
    """
    answer, problem = _invoke(predict)
    if problem is not None:
        return problem
    guess, problem = _read_prediction(
        answer, ("coherence", "lambda"), {word.upper(): sign for word, sign in _ANSWERS.items()},
        upper=True,  # words in any case: "More", "moins"
        listed=('"<" (fewer iterations), "=" (about as many) or ">" (more)',
                '"<" (moins d\'itérations), "=" (à peu près autant) ou ">" (plus)'))
    if problem is not None:
        return problem
    (rho0, rho1), (lam0, lam1) = EXPLORE_RHO, EXPLORE_LAM
    base, L0, nnz0 = explore_iterations(rho0, lam0)
    coherent, L1, _ = explore_iterations(rho1, lam0)
    sparser, _, nnz1 = explore_iterations(rho0, lam1)
    (_, next0), (_, next1) = explore_curvatures(rho0), explore_curvatures(rho1)

    def verdict(new: int | None) -> str:
        if new is None or new > (1 + EXPLORE_SAME) * base:
            return ">"
        return "<" if new < base / (1 + EXPLORE_SAME) else "="

    def count_en(c: int | None) -> str:
        return str(c) if c is not None else "more than 600"

    def count_fr(c: int | None) -> str:
        return str(c) if c is not None else "plus de 600"

    measured = {"coherence": verdict(coherent), "lambda": verdict(sparser)}
    words_en = {"<": "fewer", "=": "about as many", ">": "more"}
    words_fr = {"<": "moins", "=": "à peu près autant", ">": "plus"}
    why_en = {
        "coherence": (f"with more coherent atoms (ρ = {rho1}), FISTA needs {count_en(coherent)} "
                      f"iterations instead of {count_en(base)}: L = 2 σ_max(W)² grows from "
                      f"{L0:.1f} to {L1:.1f}, so the step 1/L shrinks, while the next curvature, "
                      f"2 σ_2(W)², falls from {next0:.1f} to {next1:.1f}: the other directions get "
                      "flatter, and the valley narrower"),
        "lambda": (f"with λ = {lam1}, FISTA needs {count_en(sparser)} iterations instead of "
                   f"{count_en(base)}: the optimal code keeps {nnz1:.1f} atoms on average instead of "
                   f"{nnz0:.1f}, and FISTA only has to settle those"),
    }
    why_fr = {
        "coherence": (f"avec des atomes plus cohérents (ρ = {_g_fr(rho1, 'g')}), FISTA a besoin de "
                      f"{count_fr(coherent)} itérations au lieu de {count_fr(base)} : "
                      f"L = 2 σ_max(W)² passe de {_g_fr(L0, '.1f')} à {_g_fr(L1, '.1f')}, donc le "
                      "pas 1/L diminue, alors que la courbure suivante, 2 σ_2(W)², tombe de "
                      f"{_g_fr(next0, '.1f')} à {_g_fr(next1, '.1f')} : les autres directions "
                      "deviennent plus plates, et la vallée plus étroite"),
        "lambda": (f"avec λ = {_g_fr(lam1, 'g')}, FISTA a besoin de {count_fr(sparser)} itérations "
                   f"au lieu de {count_fr(base)} : le code optimal garde en moyenne "
                   f"{_g_fr(nnz1, '.1f')} atomes au lieu de {_g_fr(nnz0, '.1f')}, et FISTA n'a "
                   "plus qu'eux à ajuster"),
    }
    right = [key for key in ("coherence", "lambda") if guess[key] == measured[key]]
    wrong = [key for key in ("coherence", "lambda") if key not in right]
    if not wrong:
        return Feedback(True, f"Right on both counts: {why_en['coherence']}; {why_en['lambda']}.",
                        f"Juste sur les deux points : {why_fr['coherence']} ; {why_fr['lambda']}.")
    en = " ".join(f'For "{key}" you predicted {words_en[guess[key]]} iterations, but {why_en[key]}.'
                  for key in wrong)
    fr = " ".join(f'Pour "{key}", vous avez prédit {words_fr[guess[key]]} d\'itérations, mais '
                  f'{why_fr[key]}.' for key in wrong)
    if right:
        en += f' Your answer for "{right[0]}" is right.'
        fr += f' Votre réponse pour "{right[0]}" est juste.'
    return Feedback(False, "Not quite. " + en, "Pas tout à fait. " + fr)
