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

Shapes: y is (B, n), W_d is (n, m), codes z are (B, m); energies are (B,) and the
energy trace of a run is (T, B), T being the number of iterations done. Everything runs
on the device and in the dtype of the inputs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional

from . import _validate as check
from .energy import soft_threshold

__all__ = ["fista", "ista", "lipschitz", "shrink"]

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
        if theta.dim() == 1 and x.dim() >= 1 and theta.shape[0] != x.shape[-1]:
            raise ValueError(f"argument 'theta': expected one threshold per component, shape "
                             f"({x.shape[-1]},), received shape {tuple(theta.shape)}")
        if theta.dim() > 1 or (theta.dim() == 1 and x.dim() == 0):
            raise ValueError("argument 'theta': expected a number, a 0-d tensor or a tensor of "
                             f"shape (m,), received shape {tuple(theta.shape)}")
        check.tensor("theta", theta, finite=False)
        if not bool(torch.isfinite(theta).all()) or bool((theta < 0).any()):
            raise ValueError("argument 'theta': expected finite values >= 0, received "
                             f"{theta.detach().cpu().tolist()}")
        theta = theta.to(device=x.device, dtype=x.dtype)
    else:
        theta = check.nonnegative("theta", theta)
    return soft_threshold(x, theta)


def lipschitz(W: Tensor) -> float:
    """Lipschitz constant L = 2 σ_max(W)² of z ↦ 2 Wᵀ(W z − y), the gradient of ‖y − W z‖².

    Args:
        W: the dictionary W_d, shape (n, m), on any device and in any floating dtype.

    Returns:
        L as a Python float (no gradient flows through it).
    """
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
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
         ) -> tuple[Tensor, Tensor | None]:
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
        ``(z, trace)``: the codes, (B, m), and the energies of every sample after every
        iteration, (T, B), detached (None with ``trace=False``). z keeps the autograd
        graph of the iterations when y or W require grad; pass detached inputs to avoid
        storing it.
    """
    return _solve(y, W, lam, z0=z0, max_iter=max_iter, tol=tol, L=L, fast=False, trace=trace)


def fista(y: Tensor, W: Tensor, lam: float, *, z0: Tensor | None = None, max_iter: int = 1000,
          tol: float = 1e-6, L: float | None = None, restart: bool = False, trace: bool = True
          ) -> tuple[Tensor, Tensor | None]:
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

    Returns:
        ``(z, trace)``: the last iterate x_T, (B, m), and the energies of the iterates
        x_1 … x_T (not of the extrapolated points), (T, B), detached, or None with
        ``trace=False``. The trace need not decrease monotonically.
    """
    return _solve(y, W, lam, z0=z0, max_iter=max_iter, tol=tol, L=L, fast=True, restart=restart,
                  trace=trace)


# -- implementation -------------------------------------------------------------------

def _shrink_scalar(v: Tensor, eta: float) -> Tensor:
    """h_η(v) for a scalar η: one fused kernel (softshrink) where autograd allows it."""
    if eta > 0 and not v.requires_grad:
        return functional.softshrink(v, eta)
    return soft_threshold(v, eta)


def _use_precomputed(B: int, n: int, m: int, max_iter: int) -> bool:
    """True when the S = I − (2/L) WᵀW form costs fewer flops than working with W.

    Precomputed: WᵀW (n·m²) and W_eᵀy (B·n·m) once, then z S (B·m²) per iteration.
    Direct: z Wᵀ and r W (2·B·n·m) per iteration. ``max_iter`` stands for the number of
    iterations, unknown in advance.
    """
    return n * m * m + B * n * m + max_iter * B * m * m <= 2 * max_iter * B * n * m


def _check_problem(y: Tensor, W: Tensor, lam: float, z0: Tensor | None, max_iter: int,
                   tol: float, L: float | None) -> tuple[float, float, float | None]:
    check.tensor("y", y, ndim=2, shape_doc="(B, n)")
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    if y.device != W.device or y.dtype != W.dtype:
        raise ValueError("arguments 'y' and 'W': expected the same device and dtype, received "
                         f"{y.device}/{y.dtype} and {W.device}/{W.dtype}")
    n, m = W.shape
    if y.shape[1] != n:
        raise ValueError(f"arguments 'y' and 'W': expected y of shape (B, n) with n = {n} "
                         f"(the rows of W, shape {tuple(W.shape)}), received y of shape "
                         f"{tuple(y.shape)}")
    if m == 0:
        raise ValueError("argument 'W': expected at least one column (atom), received shape "
                         f"{tuple(W.shape)}")
    zero = (W.detach() == 0).all(0)
    if bool(zero.any()):
        j = int(zero.nonzero()[0, 0])
        raise ValueError(f"argument 'W': column {j} is zero; normalise the dictionary's columns")
    lam = check.nonnegative("lam", lam)
    if z0 is not None:
        B = y.shape[0]
        check.tensor("z0", z0, ndim=2, shape_doc=f"({B}, {m})")
        if tuple(z0.shape) != (B, m):
            raise ValueError(f"argument 'z0': expected shape (B, m) = ({B}, {m}), "
                             f"received {tuple(z0.shape)}")
        if z0.device != y.device or z0.dtype != y.dtype:
            raise ValueError("arguments 'z0' and 'y': expected the same device and dtype, "
                             f"received {z0.device}/{z0.dtype} and {y.device}/{y.dtype}")
    check.positive_int("max_iter", max_iter)
    tol = check.nonnegative("tol", tol)
    if L is not None:
        L = check.nonnegative("L", L)
        if L == 0:
            raise ValueError("argument 'L': expected a number > 0, received 0")
    return lam, tol, L


def _solve(y: Tensor, W: Tensor, lam: float, *, z0: Tensor | None, max_iter: int, tol: float,
           L: float | None, fast: bool, path: str = "auto", restart: bool = False,
           trace: bool = True) -> tuple[Tensor, Tensor | None]:
    """ISTA (``fast=False``) or FISTA (``fast=True``); ``path`` forces "precomputed" or "direct"."""
    lam, tol, L = _check_problem(y, W, lam, z0, max_iter, tol, L)
    B, n = y.shape
    m = W.shape[1]
    if L is None:
        L = lipschitz(W)
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
    elif path == "direct":
        def lin(z: Tensor) -> Tensor:  # W z for every sample, (B, n)
            return z @ W.T

        def pre_shrink(z: Tensor, s: Tensor) -> Tensor:  # z − c (W z − y) W, fused
            return torch.addmm(z, s - y, W, alpha=-c)

        def energy(z: Tensor, s: Tensor) -> Tensor:
            return (y.detach() - s).pow(2).sum(1) + lam * torch.linalg.vector_norm(z, ord=1, dim=1)
    else:
        raise ValueError(f"argument 'path': expected 'auto', 'precomputed' or 'direct', "
                         f"received {path!r}")

    tiny = torch.finfo(y.dtype).tiny
    x_prev, s_prev = z, lin(z)
    v, s_v = x_prev, s_prev
    t = y.new_ones(B, 1) if restart else 1.0  # FISTA's momentum; per sample with restarts
    # The trace is written into blocks of _BLOCK iterations: appending one small (B,) tensor
    # per iteration between large temporaries fragments glibc's heap (gigabytes after
    # 10,000 iterations).
    blocks = [y.new_empty(min(max_iter, _BLOCK), B)] if trace else []
    done = 0
    for _ in range(max_iter):
        x = _shrink_scalar(pre_shrink(v, s_v), eta)
        s_x = lin(x)
        xd = x.detach()
        if trace:
            if done == len(blocks) * _BLOCK:
                blocks.append(y.new_empty(min(max_iter - done, _BLOCK), B))
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
                against = torch.linalg.vecdot(v.detach() - xd, xd - x_prev.detach())[:, None] > 0
                t = torch.where(against, torch.ones_like(t), t)
            sqrt = torch.sqrt if restart else math.sqrt
            t_next = (1.0 + sqrt(1.0 + 4.0 * t * t)) / 2.0
            weight = 1.0 + (t - 1.0) / t_next  # v = x + β (x − x_prev) = lerp(x_prev, x, 1 + β)
            v = torch.lerp(x_prev, x, weight)
            s_v = torch.lerp(s_prev, s_x, weight)
            t = t_next
        else:
            v, s_v = x, s_x
        x_prev, s_prev = x, s_x
    return x_prev, torch.cat(blocks)[:done] if trace else None
