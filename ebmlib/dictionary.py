r"""Dictionary learning for sparse coding.

Learns the decoder W_d of the sparse-coding energy

.. math::  E(z, y) = \lVert y - W_d z \rVert^2 + \lambda \lVert z \rVert_1

on minibatches: for each minibatch, infer the codes z* with FISTA (W_d fixed), take a
gradient step on W_d at z* (the codes fixed), then renormalise W_d's columns to unit
length (the standard rule; the lecture notes divide W_d and z by the sum of the column
norms instead). Without the renormalisation the energy can be lowered
for free by growing W_d and shrinking z, which makes λ‖z‖₁ meaningless; see
``normalize=False``.

Layout: data Y (N, n), one sample per row; the dictionary W_d is a tensor W of shape
(n, m) whose m **columns** are the atoms, so that a batch of codes z (B, m) is rebuilt as
``z @ W.T``. scikit-learn stores the transpose: its ``components_`` (m, n) holds the atoms
as rows, so W = ``components_.T``. Its objective carries a ½ in front of the
reconstruction term, ½‖y − W_d z‖² + α‖z‖₁, so its ``alpha`` is λ/2 for our λ.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import _validate as check
from . import solvers
from ._training import History, Run

__all__ = ["dictionary_step", "learn_dictionary", "mean_free_energy", "normalize_columns"]

_INNER_TOL = 1e-4  # FISTA's tol inside learning: a gradient step only needs approximate codes


def normalize_columns(W: Tensor, eps: float = 1e-12) -> Tensor:
    """W_d with every column divided by its Euclidean norm: (n, m) → (n, m).

    Args:
        W: the dictionary W_d, (n, m).
        eps: a column's norm is taken as at least ``eps`` (an all-zero column stays zero).

    Returns:
        A new tensor (n, m) on W's device and in its dtype.
    """
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    return _normalize_columns(W, check.positive("eps", eps))


def mean_free_energy(Y: Tensor, W: Tensor, lam: float, *, max_iter: int = 200, tol: float = 1e-5,
                     batch_size: int = 4096) -> float:
    """The mean over the rows y of Y of the free energy F(y) = min_z E(z, y).

    Each minimum is FISTA's last energy (:func:`ebmlib.solvers.fista`, started from z = 0).

    Args:
        Y: the samples, (N, n).
        W: the dictionary W_d, (n, m), on Y's device and in its dtype, with non-zero columns.
        lam: λ >= 0, the sparsity weight of the energy.
        max_iter: FISTA's maximum number of iterations for every sample.
        tol: FISTA's stopping tolerance on the relative change of the codes,
            ‖z_{k+1} − z_k‖ / ‖z_k‖ (over a batch); 0 runs ``max_iter`` iterations.
        batch_size: the rows are coded this many at a time, to bound the memory; it does
            not change the result beyond the stopping test, which is per batch.

    Returns:
        The mean free energy, a Python float.
    """
    check.tensor("Y", Y, ndim=2, shape_doc="(N, n)")
    check.require(Y.shape[0] > 0, "Y", "at least one row (sample)", f"shape {tuple(Y.shape)}")
    _check_dictionary("W", W, Y)
    return _mean_free_energy(Y, W, check.nonnegative("lam", lam),
                             max_iter=check.positive_int("max_iter", max_iter),
                             tol=check.nonnegative("tol", tol),
                             batch_size=check.positive_int("batch_size", batch_size))


def learn_dictionary(Y: Tensor, m: int, lam: float, *, steps: int = 500, batch_size: int = 256,
                     max_iter: int = 50, step_scale: float = 1.0, W0: Tensor | None = None,
                     normalize: bool = True, resample_unused: bool = False, warm_start: bool = True,
                     Y_val: Tensor | None = None, every: int = 100, seed: int | torch.Generator = 0,
                     progress: bool | None = None) -> tuple[Tensor, History]:
    r"""Learn a dictionary W_d (n, m) for the data Y (N, n) by minibatch alternation.

    Each step draws ``batch_size`` rows y, infers z* = argmin_z E(z, y) with FISTA
    (at most ``max_iter`` iterations, warm-started from the codes these rows had the
    last time they were drawn, when ``warm_start``), then moves W_d down the gradient
    of the minibatch's mean energy, −(2/B) (y − z* W_dᵀ)ᵀ z*, with the step
    ``step_scale / L_W`` where L_W = 2‖z*ᵀz*/B‖₂ is that gradient's Lipschitz constant
    (:func:`dictionary_step` with ``normalize=False``), replaces the unused atoms (when
    ``resample_unused``), and finally renormalises the columns (when ``normalize``).

    Args:
        Y: training data, (N, n), on any device.
        m: number of atoms.
        lam: λ >= 0, the sparsity weight of the energy.
        steps: number of minibatch steps.
        batch_size: minibatch size B (all N rows when N is smaller).
        max_iter: FISTA iterations per minibatch, at most (tolerance 1e-4).
        step_scale: s > 0, multiplies the 1/L_W step (1 is safe; any s < 2 lowers the
            minibatch energy, and 1.5 learns faster).
        W0: the starting dictionary (n, m), copied to Y's device and dtype, with non-zero
            columns. Default: Gaussian noise, ``torch.randn(n, m)`` drawn in float32 on
            the CPU from a generator made from ``seed``; random atoms, so that what is
            learned is not copied from the data.
        normalize: renormalise the columns to unit length, at the start and after each step.
        resample_unused: replace the atoms that no code of the minibatch used by random
            training rows (plus a little noise), so that no atom dies.
        warm_start: keep every training row's last code (an (N, m) table) and start
            FISTA from it; the dictionary moves little between visits, so inference
            needs fewer iterations.
        Y_val: optional held-out data (N_val, n), on Y's device and in its dtype; its mean
            free energy (:func:`mean_free_energy`) is the history's ``val``.
        every: record the history every this many steps (and at the last step).
        seed: an integer >= 0 or a ``torch.Generator``: the same call draws the same
            numbers. The default start is drawn from a generator made from ``seed``, then
            the minibatches from another one (with an integer, two generators seeded
            alike, as ``W0=torch.randn(n, m, generator=torch.Generator().manual_seed(seed))``
            with the same ``seed`` would give; with a Generator, one stream, start first).
        progress: show a progress bar (None: follow :func:`ebmlib.set_progress`).

    Returns:
        ``(W_d, history)``: the dictionary (n, m) on Y's device and in its dtype, and a
        :class:`ebmlib.History` whose records (step 0, then every ``every`` steps and the
        last) hold the cumulative training seconds (evaluations excluded), ``loss``, the
        mean over the steps since the previous record of the minibatch's mean energy at
        its inferred codes (NaN at step 0), and ``val``, the mean free energy of
        ``Y_val`` (None without it).
    """
    check.tensor("Y", Y, ndim=2, shape_doc="(N, n)")
    N, n = Y.shape
    check.require(N > 0 and n > 0, "Y", "at least one row and one column, shape (N, n)",
                  f"shape {tuple(Y.shape)}")
    m = check.positive_int("m", m)
    lam = check.nonnegative("lam", lam)
    steps = check.positive_int("steps", steps)
    batch_size = check.positive_int("batch_size", batch_size)
    max_iter = check.positive_int("max_iter", max_iter)
    step_scale = check.positive("step_scale", step_scale)
    normalize = check.flag("normalize", normalize)
    resample_unused = check.flag("resample_unused", resample_unused)
    warm_start = check.flag("warm_start", warm_start)
    every = check.positive_int("every", every)
    if W0 is not None:
        check.tensor("W0", W0, ndim=2, shape_doc=f"(n, m) = ({n}, {m})")
        check.shape("W0", W0, (n, m), f"(n, m) = ({n}, {m})")
        solvers._check_nonzero_columns("W0", W0)
    if Y_val is not None:
        check.tensor("Y_val", Y_val, ndim=2, shape_doc=f"(N_val, n) = (N_val, {n})")
        check.shape("Y_val", Y_val, (None, n), f"(N_val, n) = (N_val, {n})")
        check.same_device_dtype("Y_val", Y_val, "Y", Y)

    W = _init_dictionary(Y, m, check.generator("seed", seed)) if W0 is None else W0.detach().to(Y)
    W = _normalize_columns(W) if normalize else W.clone()

    def evaluate() -> float | None:
        return None if Y_val is None else _mean_free_energy(Y_val, W, lam)

    codes = Y.new_zeros(N, m) if warm_start else None
    run = Run(steps, seed=seed, progress=progress, desc="dictionary", every=every, evaluate=evaluate)
    with torch.no_grad():
        for step in run:
            idx = torch.randint(N, (min(batch_size, N),), generator=run.generator).to(Y.device)
            y = Y[idx]
            code = solvers._dense(y, W, lam, z0=None if codes is None else codes[idx], max_iter=max_iter,
                                  tol=_INNER_TOL)
            if codes is not None:
                codes[idx] = code.z
            W = _dictionary_step(y, code.z, W, step_scale, normalize=False)
            if resample_unused:
                W = _resample_unused(W, code.z, Y, run.generator)
            if normalize:
                W = _normalize_columns(W)
            run.log(step, code.trace[-1].mean())
    return W, run.history


def dictionary_step(y: Tensor, z: Tensor, W: Tensor, *, step_scale: float = 1.0,
                    normalize: bool = True) -> Tensor:
    r"""One learning step of W_d at fixed codes, as :func:`learn_dictionary` takes it.

    For a minibatch y (B, n) with its codes z (B, m) and the dictionary W (n, m):

    * the gradient of the mean energy (1/B) Σ_b E(z_b, y_b) with respect to W_d,
      G = −(2/B) (y − z W_dᵀ)ᵀ z, shape (n, m);
    * its Lipschitz constant L_W = 2 ‖zᵀz / B‖₂ = 2 σ_max(z)² / B (the energy is
      quadratic in W_d);
    * the step W_d − (step_scale / L_W) G (no step when L_W = 0, that is when z = 0);
      any ``step_scale`` in (0, 2) lowers the minibatch energy;
    * then, when ``normalize``, every column divided by its norm.

    Args:
        y: the minibatch, (B, n).
        z: its codes, (B, m), on y's device and in its dtype.
        W: the dictionary W_d, (n, m), on y's device and in its dtype.
        step_scale: s > 0, the multiple of the safe step 1/L_W.
        normalize: divide every column of the result by its norm.

    Returns:
        The new dictionary (n, m); the inputs are not modified.
    """
    check.tensor("y", y, ndim=2, shape_doc="(B, n)")
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    B, n, m = y.shape[0], y.shape[1], W.shape[1]
    check.require(W.shape[0] == n, "y' and 'W", f"y of shape (B, n) with n = {W.shape[0]} (the rows of W, "
                  f"shape {tuple(W.shape)})", f"y of shape {tuple(y.shape)}")
    check.tensor("z", z, ndim=2, shape_doc=f"(B, m) = ({B}, {m})")
    check.shape("z", z, (B, m), f"(B, m) = ({B}, {m}) for y {tuple(y.shape)} and W {tuple(W.shape)}")
    check.same_device_dtype("y", y, "W", W)
    check.same_device_dtype("z", z, "y", y)
    return _dictionary_step(y, z, W, check.positive("step_scale", step_scale),
                            normalize=check.flag("normalize", normalize))


# -- implementation (arguments unchecked) -----------------------------------------------------

def _normalize_columns(W: Tensor, eps: float = 1e-12) -> Tensor:
    return W / W.norm(dim=0, keepdim=True).clamp(min=eps)


def _init_dictionary(Y: Tensor, m: int, generator: torch.Generator) -> Tensor:
    """The default start: Gaussian noise (n, m), drawn in float32 on the CPU, on Y's device and dtype."""
    return torch.randn(Y.shape[1], m, generator=generator).to(Y)


def _dictionary_step(y: Tensor, z: Tensor, W: Tensor, step_scale: float, *, normalize: bool) -> Tensor:
    """:func:`dictionary_step` without the checks; returns a new tensor."""
    B = y.shape[0]
    grad = -(2.0 / B) * (y - z @ W.T).T @ z
    L_W = solvers._lipschitz(z) / B  # 2 σ_max(z)² / B = 2 ‖zᵀz / B‖₂
    if L_W > 0:
        W = W - (step_scale / L_W) * grad
    return _normalize_columns(W) if normalize else W.clone()


def _resample_unused(W: Tensor, z: Tensor, Y: Tensor, generator: torch.Generator) -> Tensor:
    """Replace, in place, the atoms no code of z (B, m) uses by random rows of Y plus noise 1e-3."""
    unused = (z != 0).sum(0) == 0
    k = int(unused.sum())
    if k:
        fresh = Y[torch.randint(Y.shape[0], (k,), generator=generator).to(Y.device)].T
        W[:, unused] = fresh + 1e-3 * torch.randn(Y.shape[1], k, generator=generator).to(Y)
    return W


def _mean_free_energy(Y: Tensor, W: Tensor, lam: float, *, max_iter: int = 200, tol: float = 1e-5,
                      batch_size: int = 4096) -> float:
    total = 0.0
    with torch.no_grad():
        for start in range(0, Y.shape[0], batch_size):
            code = solvers._dense(Y[start:start + batch_size], W, lam, max_iter=max_iter, tol=tol)
            total += float(code.trace[-1].sum())
    return total / Y.shape[0]


def _check_dictionary(name: str, W: Tensor, Y: Tensor) -> None:
    """W (n, m) for the samples Y (N, n): its shape, device, dtype and non-zero columns."""
    n = Y.shape[1]
    check.tensor(name, W, ndim=2, shape_doc=f"(n, m) = ({n}, m)")
    check.shape(name, W, (n, None), f"(n, m) = ({n}, m)")
    check.same_device_dtype(name, W, "Y", Y)
    solvers._check_nonzero_columns(name, W)
