r"""Sparse coding inference: ISTA and FISTA for the lecture's sparse-coding energy.

With a linear decoder whose columns are the atoms of a dictionary :math:`W_d` (n, m),
the energy of an observation y (n,) and a code z (m,) is

.. math::  E(z, y) = \lVert y - W_d z \rVert^2 + \lambda \lVert z \rVert_1

(no ½ factor). Its smooth part has gradient :math:`2 W_d^\top (W_d z - y)`, whose
Lipschitz constant is :math:`L = 2\,\sigma_{\max}(W_d)^2` (:func:`lipschitz`).
ISTA alternates a gradient step of size 1/L and a shrinkage :math:`h_\theta`
(:func:`shrink`). The lecture writes the step with precomputed matrices:

.. math::  z \leftarrow h_{\lambda/L}\bigl(W_e^\top y + S z\bigr), \qquad
           W_e^\top y = \tfrac{2}{L} W_d^\top y, \qquad S = I - \tfrac{2}{L} W_d^\top W_d,

the recurrence that LISTA later unrolls and learns. FISTA (Beck & Teboulle, 2009) adds
momentum and converges in O(1/k²) instead of O(1/k).

:func:`lasso` returns the exact minimiser instead, each code solved in closed form on its
support and accepted only when the optimality conditions hold: on the CPU by the homotopy
(LARS-lasso, compiled with numba in ``ebmlib._lars``), elsewhere by a batched active-set
method with FISTA where its corrections fail; see its docstring for how it chooses.

Shapes: y is (B, n), W_d is (n, m), codes z are (B, m); energies are (B,) and the
energy trace of a run is (T, B), T being the number of iterations done. Everything runs
on the device and in the dtype of the inputs. All three solvers return a :class:`SparseCode`
``(z, trace, n_iter)``; :func:`iterations_to` reads from a trace how many iterations
reached a given gap to the optimum.

``tol`` means the same in every solver of the library: stop when the relative change of
the code, ‖z_{k+1} − z_k‖ / ‖z_k‖ over the whole batch, is at most ``tol``.

Inside the library, loops call the unchecked :func:`_dense` (dense dictionary) or
:func:`_proximal_gradient` (any linear decoder, e.g. the convolutional one), :func:`_shrink`
and :func:`_lipschitz`: the public functions check their arguments once, then call these.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional

from . import _lars
from . import _validate as check

__all__ = ["SparseCode", "fista", "ista", "iterations_to", "lasso", "lipschitz", "shrink"]


class SparseCode(NamedTuple):
    """What every sparse-coding solver returns (:func:`ista`, :func:`fista`,
    :func:`ebmlib.conv.conv_fista`).

    Attributes:
        z: the codes, (B, m) (feature maps (B, M, H_z, W_z) for the convolutional solver).
        trace: the energy of every sample after every iteration, (T, B), detached; None
            when the solver was called with ``trace=False``.
        n_iter: T, the number of iterations done (fewer than ``max_iter`` when ``tol``
            stopped the run).
    """

    z: Tensor
    trace: Tensor | None
    n_iter: int


_BLOCK = 512  # iterations per block of the energy trace


def shrink(x: Tensor, theta: Tensor | float) -> Tensor:
    """Soft thresholding h_θ(x) = sign(x) · max(|x| − θ, 0), elementwise.

    Args:
        x: any floating tensor, typically codes of shape (B, m).
        theta: the threshold θ >= 0: a number, a 0-d tensor, or a tensor of shape (m,)
            giving one threshold per component (broadcast over the batch).

    Returns:
        A tensor shaped like x.
    """
    check.tensor("x", x, finite=False)
    if isinstance(theta, Tensor):
        check.require(theta.dim() == 0 or (theta.dim() == 1 and x.dim() >= 1
                                           and theta.shape[0] in (1, x.shape[-1])), "theta",
                      f"a number, a 0-d tensor or one threshold per component, shape "
                      f"({x.shape[-1] if x.dim() else 1},)", f"shape {tuple(theta.shape)}")
        check.tensor("theta", theta)
        check.require(not bool((theta.detach() < 0).any()), "theta", "finite values >= 0",
                      f"min {float(theta.detach().min())}")
        theta = theta.to(device=x.device, dtype=x.dtype)
    else:
        theta = check.nonnegative("theta", theta)
    return _shrink(x, theta)


def lipschitz(W: Tensor) -> float:
    """Lipschitz constant L = 2 σ_max(W)² of z ↦ 2 Wᵀ(W z − y), the gradient of ‖y − W z‖².

    Args:
        W: the dictionary W_d, shape (n, m), on any device and in any floating dtype.

    Returns:
        L as a Python float (no gradient flows through it).
    """
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    return _lipschitz(W)


def _lipschitz(W: Tensor) -> float:
    """2 σ_max(W)², unchecked: the library's one Lipschitz routine for a dense matrix."""
    Wd = W.detach()
    if Wd.dtype not in (torch.float32, torch.float64):
        Wd = Wd.float()
    if Wd.numel() == 0:
        return 0.0
    try:
        sigma = torch.linalg.matrix_norm(Wd, ord=2)
    except (RuntimeError, NotImplementedError):  # no SVD on this device: do it on the CPU
        sigma = torch.linalg.matrix_norm(Wd.cpu(), ord=2)
    return 2.0 * float(sigma) ** 2


def ista(y: Tensor, W: Tensor, lam: float, *, z0: Tensor | None = None, max_iter: int = 1000,
         tol: float = 1e-6, L: float | None = None, trace: bool = True
         ) -> SparseCode:
    """ISTA: minimise E(z, y) = ‖y − W z‖² + λ‖z‖₁ for every sample of a batch.

    Iterates z ← h_{λ/L}(W_eᵀy + S z) (or the same step written with W directly when
    that costs fewer flops, see :func:`fista`). The energy never increases.

    Args:
        y: observations, (B, n).
        W: the dictionary W_d, (n, m); its columns are the atoms and must be non-zero.
        lam: λ >= 0.
        z0: warm start, (B, m); default zeros.
        max_iter: maximum number of iterations (>= 1).
        tol: stop when ‖z_{k+1} − z_k‖_F / ‖z_k‖_F <= tol (over the whole batch);
            0 runs exactly ``max_iter`` iterations.
        L: a Lipschitz constant >= 2 σ_max(W)²; default :func:`lipschitz` (W). No gradient
            flows through L.
        trace: record the energy of every sample after every iteration (default). False
            skips that work, about a third of an iteration's cost, when only the codes
            are needed; the trace returned is then None.

    Returns:
        A :class:`SparseCode` ``(z, trace, n_iter)``: the codes, (B, m), the energies of
        every sample after every iteration, (T, B), detached (None with ``trace=False``),
        and the number of iterations T. z keeps the autograd graph of the iterations when
        y or W require grad; pass detached inputs to avoid storing it.
    """
    return _solve(y, W, lam, z0=z0, max_iter=max_iter, tol=tol, L=L, fast=False, trace=trace)


def fista(y: Tensor, W: Tensor, lam: float, *, z0: Tensor | None = None, max_iter: int = 1000,
          tol: float = 1e-6, L: float | None = None, restart: bool = False, trace: bool = True
          ) -> SparseCode:
    """FISTA (Beck & Teboulle, 2009): ISTA with momentum, same arguments as :func:`ista`.

    With t_1 = 1 and v_1 = z0: x_k = h_{λ/L}(v_k − ∇f(v_k)/L),
    t_{k+1} = (1 + √(1 + 4 t_k²)) / 2, v_{k+1} = x_k + (t_k − 1)/t_{k+1} · (x_k − x_{k−1}).
    Every iteration costs one product with S, (B, m) × (m, m), when
    n·m² + B·n·m + max_iter·B·m² <= 2·max_iter·B·n·m (roughly m <= 2n); otherwise W is
    used directly, two (B, ·) × (n, m) products per iteration. In both cases the image of
    the extrapolated point is a linear combination of the images of the iterates, so it
    costs no extra product.

    With ``restart=True`` the momentum of a sample is reset (t = 1) whenever its last step
    went against the previous one, (v_k − x_k)·(x_k − x_{k−1}) > 0: the gradient-based
    adaptive restart of O'Donoghue & Candès (2015). It often saves many iterations when
    the solution is very sparse; the default is the textbook algorithm.

    Args:
        y: observations, (B, n).
        W: the dictionary W_d, (n, m); its columns are the atoms and must be non-zero.
        lam: λ >= 0.
        z0: the start x_0 = v_1, (B, m); default zeros.
        max_iter: maximum number of iterations (>= 1).
        tol: stop when ‖x_k − x_{k−1}‖_F / ‖x_{k−1}‖_F <= tol (over the whole batch);
            0 runs exactly ``max_iter`` iterations.
        L: a Lipschitz constant >= 2 σ_max(W)²; default :func:`lipschitz` (W).
        restart: reset the momentum of a sample when it points uphill (see above).
        trace: record the energy of every sample after every iteration (default); False
            returns None as the trace and saves about a third of an iteration's cost.

    Returns:
        A :class:`SparseCode` ``(z, trace, n_iter)``: the last iterate x_T, (B, m), the
        energies of the iterates x_1 … x_T (not of the extrapolated points), (T, B),
        detached, or None with ``trace=False``, and T. The trace need not decrease monotonically.
    """
    return _solve(y, W, lam, z0=z0, max_iter=max_iter, tol=tol, L=L, fast=True, restart=restart,
                  trace=trace)


def lasso(y: Tensor, W: Tensor, lam: float, *, method: str = "auto", z0: Tensor | None = None,
          max_iter: int = 20000, kkt_tol: float = 1e-9, first: int = 10, trace: bool = False
          ) -> SparseCode:
    r"""The exact minimiser of E(z, y) = ‖y − W z‖² + λ‖z‖₁ for every sample of a batch.

    A support S (the atoms in use) and its signs s determine the optimum in closed form,

    .. math::  z_S = (W_S^\top W_S)^{-1} \bigl(W_S^\top y - \tfrac{\lambda}{2} s_S\bigr),
               \qquad z_j = 0 \text{ off } S,

    and a code is returned as exact only when it satisfies the optimality (KKT) conditions:
    every active z_j has the sign s_j, and the correlations g = 2 W^\top(y − W z) satisfy
    g_j = λ s_j on S and |g_j| ≤ λ off S, both to ``kkt_tol`` · λ_max, λ_max = ‖2 W^\top y‖_∞
    being the sample's smallest λ whose code is 0. Two methods find the support:

    * ``"homotopy"`` (LARS-lasso; Osborne et al. 2000, Efron et al. 2004), on the CPU,
      compiled with numba, each sample on its own, the samples spread over torch's threads:
      from z = 0 at λ_max it follows the minimiser as λ comes down, one atom joining or
      leaving the support at a time, updating the Cholesky factor of W_SᵀW_S instead of
      recomputing it. Its cost grows with the size of the supports along the path, not
      with the conditioning of W: what a first-order method pays for coherent atoms. The
      first call of a process compiles it (a few seconds; the result is cached on disk).
    * ``"active-set"``, batched, on any device: the support of ``z0`` is checked first and
      corrected up to 16 times, as an active-set method does (atoms of the wrong sign
      leave S; the inactive atoms that violate |g_j| ≤ λ most join it, at most
      max(4, |S|/4) at a time; a batched Cholesky factorisation of W_SᵀW_S solves each
      candidate); the samples still rejected run FISTA (:func:`fista`) from their current
      point for ``first`` iterations, then twice as many each round, and are checked again
      when their signs have settled. A sample leaves the batch once accepted.
    * ``"auto"`` (default) takes the homotopy when y is on the CPU and numba is installed,
      else the active set. A sample the homotopy rejects (a numerically singular W_SᵀW_S,
      which happens when the optimum is not unique) continues with the active set from
      the homotopy's point.

    The Gram matrix, the solves and the checks are computed in float64 (float32 on a
    device without it), then the codes are cast to y's dtype. A sample still rejected
    after ``max_iter`` FISTA iterations keeps FISTA's last iterate (this happens when the
    optimum is not unique, e.g. λ = 0 with more atoms than rows).

    Args:
        y: observations, (B, n).
        W: the dictionary W_d, (n, m); its columns are the atoms and must be non-zero.
        lam: λ >= 0.
        method: ``"auto"``, ``"homotopy"`` or ``"active-set"`` (see above).
        z0: start of the active set, (B, m); default zeros. The homotopy always starts
            from 0 at λ_max.
        max_iter: maximum number of FISTA iterations for a sample (>= 1).
        kkt_tol: tolerance of the optimality conditions, relative to λ_max (>= 0); the
            default 1e-9 accepts only exact solutions up to rounding.
        first: FISTA iterations of the active set's first round (>= 1); each later round
            doubles it.
        trace: record the energy of every sample after every check (False by default).

    Returns:
        A :class:`SparseCode` ``(z, trace, n_iter)``: the codes, (B, m), detached (no
        gradient flows through this solver); the energies of every sample after each check,
        (R, B) (the first row: the homotopy's codes, or the active set's start), a sample
        keeping its energy once accepted, or None with ``trace=False`` (default); and the
        number of iterations of the slowest sample: the homotopy's steps (each an atom
        joining or leaving the support), the active set's FISTA iterations (0 when its
        first checks accept every code), their sum for a sample handed from one to the other.
    """
    lam, max_iter, _, _ = _check_problem(y, W, lam, z0, max_iter, 0.0, None)
    check.choice("method", method, ("auto", "homotopy", "active-set"))
    kkt_tol = check.nonnegative("kkt_tol", kkt_tol)
    first = check.positive_int("first", first)
    trace = check.flag("trace", trace)
    if method == "homotopy":
        check.require(_lars.AVAILABLE, "method", "'auto' or 'active-set' (the homotopy needs numba, "
                      "which is not installed)", "'homotopy'")
    return _lasso(y, W, lam, method=method, z0=z0, max_iter=max_iter, kkt_tol=kkt_tol, first=first,
                  trace=trace)


def iterations_to(trace: Tensor, E_star: Tensor | float, gap: float) -> int | None:
    """The first iteration k at which the relative gap to the optimum, (E_k − E*) / E*, is <= gap.

    With one energy per sample, the gap of iteration k is the mean over the batch of the
    samples' relative gaps; pass the batch's total energy per iteration, (T,), and the
    total E* to measure the gap of the total instead.

    Args:
        trace: the energies after every iteration: (T, B), a solver's ``SparseCode.trace``,
            or (T,), one energy per iteration.
        E_star: the optimal energies E* > 0: (B,), one per sample of a (T, B) trace, or a
            number (or 0-d tensor) shared by every sample.
        gap: the level of the relative gap, >= 0 (1e-4 for 0.01 %).

    Returns:
        k, from 1 to T (the trace's row k − 1), or None when no iteration reaches the gap.
    """
    check.tensor("trace", trace, ndim=(1, 2), shape_doc="(T, B) or (T,)")
    if isinstance(E_star, Tensor) and E_star.dim() > 0:
        check.tensor("E_star", E_star, ndim=1, shape_doc="(B,)")
        check.require(trace.dim() == 2 and E_star.shape[0] == trace.shape[1], "E_star",
                      "one optimal energy per column of the trace, or a number",
                      f"shape {tuple(E_star.shape)} for a trace of shape {tuple(trace.shape)}")
        check.same_device_dtype("trace", trace, "E_star", E_star)
        check.require(bool((E_star > 0).all()), "E_star", "energies > 0", f"min {float(E_star.min())}")
    else:
        E_star = check.positive("E_star", E_star)
    gap = check.nonnegative("gap", gap)
    return _iterations_to(trace, E_star, gap)


def _iterations_to(trace: Tensor, E_star: Tensor | float, gap: float) -> int | None:
    relative = (trace - E_star) / E_star
    if relative.dim() == 2:
        relative = relative.mean(dim=1)
    below = torch.nonzero(relative <= gap)
    return int(below[0, 0]) + 1 if len(below) else None


# -- implementation -------------------------------------------------------------------

def _shrink(v: Tensor, theta: Tensor | float) -> Tensor:
    """h_θ(v) = sign(v) · max(|v| − θ, 0): the library's one soft threshold, unchecked.

    θ is a number or a tensor that broadcasts against v (per-component thresholds, a
    learned threshold that needs its gradient). A positive number on a tensor that needs
    no gradient takes one fused kernel (softshrink)."""
    if not isinstance(theta, Tensor) and theta > 0 and not v.requires_grad:
        return functional.softshrink(v, theta)
    return torch.sign(v) * torch.clamp(v.abs() - theta, min=0)


def _use_precomputed(B: int, n: int, m: int, max_iter: int) -> bool:
    """True when the S = I − (2/L) WᵀW form costs fewer flops than working with W.

    Precomputed: WᵀW (n·m²) and W_eᵀy (B·n·m) once, then z S (B·m²) per iteration.
    Direct: z Wᵀ and r W (2·B·n·m) per iteration. ``max_iter`` stands for the number of
    iterations, unknown in advance.
    """
    return n * m * m + B * n * m + max_iter * B * m * m <= 2 * max_iter * B * n * m


def _check_problem(y: Tensor, W: Tensor, lam: float, z0: Tensor | None, max_iter: int,
                   tol: float, L: float | None) -> tuple[float, int, float, float | None]:
    """The checks of :func:`ista` and :func:`fista`: λ, max_iter, tol and L as Python numbers."""
    check.tensor("y", y, ndim=2, shape_doc="(B, n)")
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    check.same_device_dtype("y", y, "W", W)
    n, m = W.shape
    check.require(y.shape[1] == n, "y' and 'W", f"y of shape (B, n) with n = {n} (the rows of W, "
                  f"shape {tuple(W.shape)})", f"y of shape {tuple(y.shape)}")
    _check_nonzero_columns("W", W)
    lam = check.nonnegative("lam", lam)
    if z0 is not None:
        check.tensor("z0", z0, ndim=2, shape_doc=f"({y.shape[0]}, {m})")
        check.shape("z0", z0, (y.shape[0], m), f"(B, m) = ({y.shape[0]}, {m})")
        check.same_device_dtype("z0", z0, "y", y)
    max_iter = check.positive_int("max_iter", max_iter)
    tol = check.nonnegative("tol", tol)
    if L is not None:
        L = check.positive("L", L)
    return lam, max_iter, tol, L


def _check_nonzero_columns(name: str, W: Tensor) -> None:
    """A dictionary (n, m) with at least one column (atom) and no column all zeros."""
    check.require(W.shape[1] > 0, name, "at least one column (atom)", f"shape {tuple(W.shape)}")
    zero = (W.detach().abs().amax(0) == 0).nonzero()
    if len(zero):
        check.fail(name, "non-zero columns (normalise the dictionary's columns)",
                   f"column {int(zero[0, 0])} all zeros")


def _solve(y: Tensor, W: Tensor, lam: float, *, z0: Tensor | None, max_iter: int, tol: float,
           L: float | None, fast: bool, path: str = "auto", restart: bool = False,
           trace: bool = True) -> SparseCode:
    """Check the arguments, then :func:`_dense` (ISTA with ``fast=False``, FISTA with True)."""
    lam, max_iter, tol, L = _check_problem(y, W, lam, z0, max_iter, tol, L)
    check.choice("path", path, ("auto", "precomputed", "direct"))
    restart = check.flag("restart", restart)
    trace = check.flag("trace", trace)
    return _dense(y, W, lam, z0=z0, max_iter=max_iter, tol=tol, L=L, fast=fast, path=path,
                  restart=restart, trace=trace)


def _dense(y: Tensor, W: Tensor, lam: float, *, z0: Tensor | None = None, max_iter: int,
           tol: float, L: float | None = None, fast: bool = True, path: str = "auto",
           restart: bool = False, trace: bool = True) -> SparseCode:
    """ISTA/FISTA with a dense dictionary, arguments unchecked (the library's loops call this);
    ``path`` forces "precomputed" or "direct"."""
    B, n = y.shape
    m = W.shape[1]
    if L is None:
        L = _lipschitz(W)
    c = 2.0 / L  # step on ‖y − W z‖², whose gradient is 2 Wᵀ(W z − y)
    eta = lam / L  # threshold
    if path == "auto":
        path = "precomputed" if _use_precomputed(B, n, m, max_iter) else "direct"
    z = y.new_zeros(B, m) if z0 is None else z0

    # `lin` is affine in z: the energy and the step at z only need z and lin(z), so the
    # image of FISTA's extrapolated point (an affine combination of two iterates) is the
    # same combination of their images, and costs no product.
    if path == "precomputed":
        We_y = c * (y @ W)  # W_eᵀy for every sample, (B, m)
        S = torch.eye(m, device=W.device, dtype=W.dtype) - c * (W.T @ W)
        yy = y.detach().pow(2).sum(1)
        We_y_d = We_y.detach()

        def lin(z: Tensor) -> Tensor:  # W_eᵀy + z S, (B, m): one fused product
            return torch.addmm(We_y, z, S)

        def pre_shrink(z: Tensor, u: Tensor) -> Tensor:
            return u

        def energy(z: Tensor, u: Tensor) -> Tensor:
            # ‖y − W z‖² = ‖y‖² − 2 b·z + z·Gz with G z = (z − z S)/c and b = W_eᵀy / c,
            # and z S = u − W_eᵀy
            quad = torch.linalg.vecdot(z, (z - u).sub_(We_y_d)) / c
            return (yy + quad).clamp(min=0) + lam * torch.linalg.vector_norm(z, ord=1, dim=1)
    else:
        def lin(z: Tensor) -> Tensor:  # W z for every sample, (B, n)
            return z @ W.T

        def pre_shrink(z: Tensor, s: Tensor) -> Tensor:  # z − c (W z − y) W, fused
            return torch.addmm(z, s - y, W, alpha=-c)

        def energy(z: Tensor, s: Tensor) -> Tensor:
            return (y.detach() - s).pow(2).sum(1) + lam * torch.linalg.vector_norm(z, ord=1, dim=1)

    return _proximal_gradient(lin, pre_shrink, energy, z, eta=eta, max_iter=max_iter, tol=tol,
                              fast=fast, restart=restart, trace=trace)


def _proximal_gradient(lin: Callable[[Tensor], Tensor], pre_shrink: Callable[[Tensor, Tensor], Tensor],
                       energy: Callable[[Tensor, Tensor], Tensor], z0: Tensor, *, eta: float,
                       max_iter: int, tol: float, fast: bool, restart: bool = False,
                       trace: bool = True) -> SparseCode:
    """The library's one ISTA/FISTA loop, for any linear decoder (dense or convolutional).

    The problem comes as three closures: ``lin(z)``, affine in z, is all an iteration needs
    to know of z (D z, or W_eᵀy + z S); ``pre_shrink(v, lin(v))`` is the gradient step
    before the shrinkage h_η; ``energy(z, lin(z))`` is the energy of every sample, (B,).
    Because ``lin`` is affine, the image of FISTA's extrapolated point (an affine
    combination of two iterates) is the same combination of their images and costs no
    product. Codes are (B, …): reductions run over every dimension but the first.
    Arguments are not checked (the public solvers check them).
    """
    B = z0.shape[0]
    tiny = torch.finfo(z0.dtype).tiny
    x_prev, s_prev = z0, lin(z0)
    v, s_v = x_prev, s_prev
    # FISTA's momentum; one per sample, broadcast over the code's other dimensions, with restarts
    t = z0.new_ones(B, *([1] * (z0.dim() - 1))) if restart else 1.0
    # The trace is written into blocks of _BLOCK iterations: appending one small (B,) tensor
    # per iteration between large temporaries fragments glibc's heap (gigabytes after
    # 10,000 iterations).
    blocks = [z0.new_empty(min(max_iter, _BLOCK), B)] if trace else []
    done = 0
    for _ in range(max_iter):
        x = _shrink(pre_shrink(v, s_v), eta)
        s_x = lin(x)
        xd = x.detach()
        if trace:
            if done == len(blocks) * _BLOCK:
                blocks.append(z0.new_empty(min(max_iter - done, _BLOCK), B))
            with torch.no_grad():
                blocks[-1][done % _BLOCK] = energy(xd, s_x.detach())
        done += 1
        if tol > 0:
            xpd = x_prev.detach()
            change = torch.linalg.vector_norm(xd - xpd) / torch.linalg.vector_norm(xpd).clamp(min=tiny)
            if float(change) <= tol:
                x_prev = x
                break
        if fast:
            if restart:
                against = (v.detach() - xd).mul(xd - x_prev.detach()).flatten(1).sum(1) > 0
                t = torch.where(against.view_as(t), torch.ones_like(t), t)
            sqrt = torch.sqrt if restart else math.sqrt
            t_next = (1.0 + sqrt(1.0 + 4.0 * t * t)) / 2.0
            weight = 1.0 + (t - 1.0) / t_next  # v = x + β (x − x_prev) = lerp(x_prev, x, 1 + β)
            v = torch.lerp(x_prev, x, weight)
            s_v = torch.lerp(s_prev, s_x, weight)
            t = t_next
        else:
            v, s_v = x, s_x
        x_prev, s_prev = x, s_x
    return SparseCode(x_prev, torch.cat(blocks)[:done] if trace else None, done)


# -- the exact solver ---------------------------------------------------------------------

_SOLVE_ENTRIES = 1 << 24  # at most this many Gram entries per batched factorisation
_GROW = 4  # a correction adds at most max(4, k // _GROW) atoms to a support of k
_NEWTON = 16  # active-set corrections of a rejected support per check


def _lasso(y: Tensor, W: Tensor, lam: float, *, method: str = "auto", z0: Tensor | None = None,
           max_iter: int, kkt_tol: float = 1e-9, first: int = 10, trace: bool = False) -> SparseCode:
    """:func:`lasso` with unchecked arguments."""
    if method == "auto":
        method = "homotopy" if y.device.type == "cpu" and _lars.AVAILABLE else "active-set"
    if method == "active-set":
        return _active_set(y, W, lam, z0=z0, max_iter=max_iter, kkt_tol=kkt_tol, first=first, trace=trace)
    y, W = y.detach(), W.detach()
    W64 = W.to("cpu", torch.float64)
    G = (W64.T @ W64).numpy()
    b = (y.to("cpu", torch.float64) @ W64).numpy()
    slack = kkt_tol * np.abs(b).max(1)  # the conditions in the ½ convention: c = g / 2
    z, ok, steps = _lars.lars(G, b, lam / 2, slack, 8 * W.shape[1] + 16, min(W.shape),
                              torch.get_num_threads())
    z = torch.from_numpy(z).to(y.device, y.dtype)
    rows = [_energy_gram(y, torch.from_numpy(G).to(y.device), torch.from_numpy(b).to(y.device),
                         z.to(torch.float64), lam).to(y.dtype)] if trace else []
    rejected = torch.from_numpy(~ok).nonzero()[:, 0].to(y.device)
    n_iter = int(steps.max()) if len(steps) else 0
    if len(rejected):
        rest = _active_set(y[rejected], W, lam, z0=z[rejected], max_iter=max_iter, kkt_tol=kkt_tol,
                           first=first, trace=trace)
        z[rejected] = rest.z
        n_iter += rest.n_iter
        for row in rest.trace[1:] if trace else ():
            rows.append(rows[-1].clone().index_copy_(0, rejected, row))
    return SparseCode(z, torch.stack(rows) if trace else None, n_iter)


def _active_set(y: Tensor, W: Tensor, lam: float, *, z0: Tensor | None = None, max_iter: int,
                kkt_tol: float = 1e-9, first: int = 10, trace: bool = False) -> SparseCode:
    """:func:`lasso`'s batched active-set method, arguments unchecked."""
    B, _ = y.shape
    m = W.shape[1]
    y, W = y.detach(), W.detach()
    work = torch.float64 if W.device.type != "mps" else torch.float32
    W_w = W.to(work)
    G = W_w.T @ W_w  # the Gram matrix WᵀW, (m, m)
    b = y.to(work) @ W_w  # Wᵀy for every sample, (B, m)
    slack = (kkt_tol * 2.0 * b.abs().amax(1)).clamp(min=torch.finfo(work).tiny)  # (B,)
    z = y.new_zeros(B, m) if z0 is None else z0.detach().clone()
    out = z.clone()
    L = None  # computed when FISTA first runs
    running = torch.arange(B, device=y.device)
    rows = []
    done, chunk = 0, first
    last = torch.zeros_like(z)  # the signs of the last check, per sample
    try_all = True  # the start is checked for every sample
    while True:
        zr = z[running]
        sign = torch.sign(zr)
        # a sample is checked when few of its signs changed over the last round (at most one in 16),
        # and every sample at the start
        changed = (sign != last[running]).sum(1)
        test = torch.ones_like(running, dtype=torch.bool) if try_all else (
            changed <= (sign != 0).sum(1) // 16)
        try_all = False
        ok = torch.zeros_like(test)
        if bool(test.any()):
            zt = zr[test].to(work)
            bt = b[running[test]]
            cand, ok_t = _exact_on_support(G, bt, lam, zt, slack[running[test]])
            lower = _energy_gram(y[running[test]], G, bt, cand, lam) <= _energy_gram(
                y[running[test]], G, bt, zt, lam)
            zr[test] = torch.where((ok_t | lower)[:, None], cand.to(z.dtype), zr[test])
            ok[test] = ok_t
            z[running] = zr
        last[running] = sign
        if trace:
            rows.append(_energy_gram(y, G, b, z.to(work), lam).to(y.dtype))
        out[running[ok]] = zr[ok]
        running = running[~ok]
        if len(running) == 0 or done >= max_iter:
            break
        k = min(chunk, max_iter - done)
        L = _lipschitz(W) if L is None else L
        z[running] = _dense(y[running], W, lam, z0=z[running], max_iter=k, tol=0.0, L=L,
                            fast=True, trace=False).z
        done += k
        chunk *= 2
    out[running] = z[running]
    return SparseCode(out, torch.stack(rows) if trace else None, done)


def _energy_gram(y: Tensor, G: Tensor, b: Tensor, z: Tensor, lam: float) -> Tensor:
    """E(z, y) per sample from the Gram matrix: ‖y‖² − 2 bᵀz + zᵀG z + λ‖z‖₁, (B,)."""
    yy = y.to(G.dtype).pow(2).sum(1)
    return (yy - 2 * torch.linalg.vecdot(b, z) + torch.linalg.vecdot(z @ G, z)).clamp(min=0) \
        + lam * z.abs().sum(1)


def _exact_on_support(G: Tensor, b: Tensor, lam: float, z: Tensor, slack: Tensor
                      ) -> tuple[Tensor, Tensor]:
    """The closed-form code on the support and signs of z, and whether it is optimal.

    Returns ``(candidate (B, m), accepted (B,))``. A rejected candidate gets up to
    ``_NEWTON`` active-set corrections: the atoms of the wrong sign leave the support, the
    inactive atoms that violate |g_j| <= λ most (at most max(4, k // _GROW), k the size of
    the sample's support) join it with the sign of g_j = 2 W_jᵀ(y − W z), and the code is solved again.
    """
    sign = torch.sign(z)
    cand, ok, g = _solve_on_support(G, b, lam, sign, slack)
    todo = torch.nonzero(~ok)[:, 0]
    for _ in range(_NEWTON):
        if len(todo) == 0:
            break
        c, gt, st = cand[todo], g[todo], sign[todo]
        wrong = (st != 0) & (c * st <= 0)  # leave the support
        excess = torch.where(st == 0, gt.abs() - lam - slack[todo, None], torch.zeros_like(gt))
        # the most violating inactive atoms join it with the sign of g
        p = ((st != 0).sum(1, keepdim=True) // _GROW).clamp(min=4, max=excess.shape[1])  # per sample
        top = excess.topk(int(p.max()), dim=1).values.gather(1, p - 1)
        join = (excess > 0) & (excess >= top)
        s2 = torch.where(join, torch.sign(gt), torch.where(wrong, torch.zeros_like(st), st))
        sign[todo] = s2
        c2, ok2, g2 = _solve_on_support(G, b[todo], lam, s2, slack[todo])
        cand[todo], g[todo], ok[todo] = c2, g2, ok2
        todo = todo[~ok2]
    return cand, ok


def _solve_on_support(G: Tensor, b: Tensor, lam: float, sign: Tensor, slack: Tensor
                      ) -> tuple[Tensor, Tensor, Tensor]:
    """z_S = G_SS⁻¹ (b_S − (λ/2) s_S) on S = {s ≠ 0}, batched; its KKT test and correlations g.

    Returns ``(z (B, m), accepted (B,), g = 2 Wᵀ(y − W z) (B, m))``. Samples are grouped by
    support size (within a factor 1.25, or 16 atoms) so that little of each factorisation is padding.
    """
    Bt, m = b.shape
    mask = sign != 0
    size = mask.sum(1)
    cand = b.new_zeros(Bt, m)
    Gz = b.new_zeros(Bt, m)  # G z, from the support's rows of G only
    chol_ok = torch.ones(Bt, dtype=torch.bool, device=b.device)
    if Bt and int(size.max()) > 0:
        order = torch.argsort(size)
        sizes = size[order].tolist()
        start = sizes.count(0)
        while start < Bt:
            limit = max(sizes[start] + 16, int(1.25 * sizes[start]))
            stop = start
            while stop < Bt and sizes[stop] <= limit:
                stop += 1
            group = order[start:stop]
            kmax = sizes[stop - 1]
            step = max(1, _SOLVE_ENTRIES // (kmax * m))
            for s0 in range(0, len(group), step):
                sel = group[s0:s0 + step]
                cand[sel], Gz[sel], chol_ok[sel] = _cholesky_block(G, b[sel], lam, mask[sel], sign[sel],
                                                                   size[sel], kmax)
            start = stop
    g = 2 * (b - Gz)
    sign_ok = ((cand * sign > 0) | ~mask).all(1)
    active_ok = torch.where(mask, (g - lam * sign).abs(), torch.zeros_like(g)).amax(1) <= slack
    inactive_ok = torch.where(mask, torch.zeros_like(g), g.abs() - lam).amax(1) <= slack
    return cand, chol_ok & sign_ok & active_ok & inactive_ok, g


def _cholesky_block(G: Tensor, b: Tensor, lam: float, mask: Tensor, sign: Tensor, size: Tensor,
                    kmax: int) -> tuple[Tensor, Tensor, Tensor]:
    """One batched factorisation, supports padded to kmax atoms with identity rows:
    the codes (Bt, m), G z (Bt, m) and whether the factorisation succeeded (Bt,)."""
    Bt, m = b.shape
    idx = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :kmax]  # support first
    valid = torch.arange(kmax, device=b.device) < size[:, None]  # (Bt, kmax)
    narrow = 8 * kmax <= m  # G z from the support's rows of G, else by one product with G
    rows = G[idx] if narrow else None  # (Bt, kmax, m)
    zero = torch.zeros((), dtype=G.dtype, device=G.device)
    if narrow:
        block = rows.gather(2, idx[:, None, :].expand(-1, kmax, -1))  # G_SS
    else:
        block = G[idx[:, :, None], idx[:, None, :]]
    A = torch.where(valid[:, :, None] & valid[:, None, :], block, zero)
    A.diagonal(dim1=1, dim2=2).add_((~valid).to(G.dtype))
    rhs = torch.where(valid, b.gather(1, idx) - (lam / 2) * sign.gather(1, idx), zero)
    factor, info = torch.linalg.cholesky_ex(A)
    good = info == 0
    factor = torch.where(good[:, None, None], factor, torch.eye(kmax, dtype=G.dtype, device=G.device))
    zs = torch.cholesky_solve(rhs[:, :, None], factor)[:, :, 0]
    zs = torch.where(valid & good[:, None], zs, zero)
    z = b.new_zeros(Bt, m).scatter_(1, idx, zs)
    return z, torch.bmm(zs[:, None, :], rows)[:, 0] if narrow else z @ G, good
