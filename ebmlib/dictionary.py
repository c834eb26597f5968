r"""Dictionary learning for sparse coding.

Learns the decoder W_d of the sparse-coding energy

.. math::  E(z, y) = \lVert y - W_d z \rVert^2 + \lambda \lVert z \rVert_1

on minibatches: for each minibatch, infer the codes z* with FISTA (W_d fixed), take a
gradient step on W_d at z* (the codes fixed), then renormalise W_d's columns to unit
length (the standard rule; the lecture notes divide W_d and z by the sum of the column
norms instead). Without the renormalisation the energy can be lowered
for free by growing W_d and shrinking z, which makes λ‖z‖₁ meaningless; see
``normalize=False``.

Shapes: data Y (N, n), dictionary W_d (n, m) whose m columns are the atoms.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import torch
from torch import Tensor
from tqdm.auto import tqdm

from . import _validate as check
from .solvers import fista


class TrainingCurve(NamedTuple):
    """One entry per evaluation: step, seconds since the start, mean energies."""

    step: list[int]
    seconds: list[float]  # training time only: the held-out evaluations are not counted
    energy: list[float]  # mean energy of the last minibatch at its inferred codes
    val_energy: list[float]  # mean free energy of the held-out data (NaN without it)


def normalize_columns(W: Tensor, eps: float = 1e-12) -> Tensor:
    """W_d with every column divided by its Euclidean norm: (n, m) → (n, m)."""
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    return W / W.norm(dim=0, keepdim=True).clamp(min=eps)


def mean_free_energy(Y: Tensor, W: Tensor, lam: float, *, max_iter: int = 200, tol: float = 1e-5,
                     batch_size: int = 4096) -> float:
    """Mean over the rows of Y (N, n) of F(y) = min_z E(z, y), with FISTA codes."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, Y.shape[0], batch_size):
            y = Y[start:start + batch_size]
            _, trace = fista(y, W, lam, max_iter=max_iter, tol=tol)
            total += float(trace[-1].sum())
    return total / Y.shape[0]


def learn_dictionary(Y: Tensor, m: int, lam: float, *, n_steps: int = 500, batch_size: int = 256,
                     W0: Tensor | None = None, step_scale: float = 1.0, inner_iter: int = 50,
                     normalize: bool = True, resample_unused: bool = True, Y_val: Tensor | None = None,
                     eval_every: int = 50, warm_start: bool = True, seed: int = 0,
                     progress: bool = True) -> tuple[Tensor, TrainingCurve]:
    r"""Learn a dictionary W_d (n, m) for the data Y (N, n) by minibatch alternation.

    Each step draws ``batch_size`` rows y, infers z* = argmin_z E(z, y) with FISTA
    (at most ``inner_iter`` iterations, warm-started from the codes these rows had the
    last time they were drawn, when ``warm_start``), then moves W_d down the gradient
    of the minibatch's mean energy, −(2/B) (y − z* W_dᵀ)ᵀ z*, with the step
    ``step_scale / L_W`` where L_W = 2‖z*ᵀz*/B‖₂ is that gradient's Lipschitz constant
    (:func:`dictionary_step` with ``normalize=False``), replaces the unused atoms (when
    ``resample_unused``), and finally renormalises the columns (when ``normalize``).

    Args:
        Y: training data, (N, n), on any device.
        m: number of atoms.
        lam: λ >= 0, the sparsity weight of the energy.
        n_steps: number of minibatch steps.
        batch_size: minibatch size B.
        W0: initial dictionary (n, m); default: m random training rows, normalised.
        step_scale: multiplies the 1/L_W step (1 is safe; up to ~1.9 is faster).
        inner_iter: FISTA iterations per minibatch.
        normalize: renormalise the columns to unit length after each step.
        resample_unused: replace atoms that no code in the minibatch used by a random
            training row, so that no atom dies.
        Y_val: optional held-out data (N_val, n) for the curve's held-out energy.
        eval_every: record the curve every this many steps (and at the last step).
        warm_start: keep every training row's last code (an (N, m) table) and start
            FISTA from it; the dictionary moves little between visits, so inference
            needs fewer iterations.
        seed: seed of the minibatch sampling and of the initialisation.
        progress: show a tqdm progress bar.

    Returns:
        ``(W_d, curve)``: the dictionary (n, m) on Y's device and dtype, and a
        :class:`TrainingCurve`.
    """
    check.tensor("Y", Y, ndim=2, shape_doc="(N, n)")
    N, n = Y.shape
    check.positive_int("m", m)
    lam = check.nonnegative("lam", lam)
    check.positive_int("n_steps", n_steps)
    check.positive_int("batch_size", batch_size)
    check.positive_int("inner_iter", inner_iter)
    check.positive_int("eval_every", eval_every)
    if check.nonnegative("step_scale", step_scale) == 0:
        raise ValueError("argument 'step_scale': expected a number > 0, received 0")
    if Y_val is not None:
        check.tensor("Y_val", Y_val, ndim=2, shape_doc=f"(N_val, {n})")
        if Y_val.shape[1] != n:
            raise ValueError(f"argument 'Y_val': expected shape (N_val, {n}), received {tuple(Y_val.shape)}")
    g = torch.Generator().manual_seed(seed)
    if W0 is None:
        W = Y[torch.randint(N, (m,), generator=g).to(Y.device)].T.clone()
        W = W + 1e-3 * torch.randn(n, m, generator=g).to(Y)  # break ties between equal rows
    else:
        check.tensor("W0", W0, ndim=2, shape_doc=f"({n}, {m})")
        if W0.shape != (n, m):
            raise ValueError(f"argument 'W0': expected shape ({n}, {m}), received {tuple(W0.shape)}")
        W = W0.detach().clone().to(Y)
    W = normalize_columns(W) if normalize else W

    codes = torch.zeros(N, m, device=Y.device, dtype=Y.dtype) if warm_start else None
    curve = TrainingCurve([], [], [], [])
    start, eval_seconds = time.perf_counter(), 0.0
    bar = tqdm(range(1, n_steps + 1), disable=not progress, desc="dictionary", unit="step")
    with torch.no_grad():
        for step in bar:
            idx = torch.randint(N, (min(batch_size, N),), generator=g).to(Y.device)
            y = Y[idx]
            z0 = codes[idx] if codes is not None else None
            evaluate = step % eval_every == 0 or step == n_steps
            z, trace = fista(y, W, lam, z0=z0, max_iter=inner_iter, tol=1e-4, trace=evaluate)
            if codes is not None:
                codes[idx] = z
            W = dictionary_step(y, z, W, step_scale=step_scale, normalize=False)
            if resample_unused:
                unused = (z != 0).sum(0) == 0
                k = int(unused.sum())
                if k:
                    fresh = Y[torch.randint(N, (k,), generator=g).to(Y.device)].T
                    W[:, unused] = fresh + 1e-3 * torch.randn(n, k, generator=g).to(Y)
            if normalize:
                W = normalize_columns(W)
            if evaluate:
                tick = time.perf_counter()
                curve.step.append(step)
                curve.seconds.append(tick - start - eval_seconds)
                curve.energy.append(float(trace[-1].mean()))
                curve.val_energy.append(mean_free_energy(Y_val, W, lam) if Y_val is not None
                                        else float("nan"))
                eval_seconds += time.perf_counter() - tick
                bar.set_postfix(energy=f"{curve.energy[-1]:.4g}")
    return W, curve


def dictionary_step(y: Tensor, z: Tensor, W: Tensor, *, step_scale: float = 1.0,
                    normalize: bool = True) -> Tensor:
    r"""One learning step of W_d at fixed codes, as :func:`learn_dictionary` takes it.

    For a minibatch y (B, n) with its codes z (B, m) and the dictionary W (n, m):

    * the gradient of the mean energy (1/B) Σ_b E(z_b, y_b) with respect to W_d,
      G = −(2/B) (y − z W_dᵀ)ᵀ z, shape (n, m);
    * its Lipschitz constant L_W = 2 ‖zᵀz / B‖₂ (the energy is quadratic in W_d);
    * the step W_d − (step_scale / L_W) G (no step when L_W = 0, that is when z = 0);
      any ``step_scale`` in (0, 2) lowers the minibatch energy;
    * then, when ``normalize``, every column divided by its norm.

    Returns the new dictionary (n, m); the inputs are not modified.
    """
    check.tensor("y", y, ndim=2, shape_doc="(B, n)")
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    check.tensor("z", z, ndim=2, shape_doc=f"({y.shape[0]}, {W.shape[1]})")
    if z.shape != (y.shape[0], W.shape[1]) or y.shape[1] != W.shape[0]:
        raise ValueError(f"argument 'z': expected shape ({y.shape[0]}, {W.shape[1]}) for y {tuple(y.shape)} "
                         f"and W {tuple(W.shape)}, received {tuple(z.shape)}")
    if check.nonnegative("step_scale", step_scale) == 0:
        raise ValueError("argument 'step_scale': expected a number > 0, received 0")
    B = y.shape[0]
    grad = -(2.0 / B) * (y - z @ W.T).T @ z
    L_W = 2.0 * float(torch.linalg.matrix_norm(z.T @ z / B, ord=2))
    if L_W > 0:
        W = W - (step_scale / L_W) * grad
    return normalize_columns(W) if normalize else W.clone()
