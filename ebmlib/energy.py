r"""Regularized latent-variable energies and their free energy.

The lecture's general energy is

.. math::  E(x, y, z) = C\bigl(y, \mathrm{Dec}(\mathrm{Pred}(x), z)\bigr) + \lambda R(z)

and inference looks for the best latent: :math:`F(x, y) = \min_z E(x, y, z)`.
Here the cost ``C``, the decoder ``Dec``, the predictor ``Pred`` and the
regularizer ``R`` are pluggable; :meth:`LatentEnergy.free_energy` finds the
minimum by proximal gradient descent with a backtracking step, over a whole batch.
The sparse-coding energy, the special case with a linear decoder W_d and R = ‖·‖₁, is
:func:`sparse_coding_energy`.

Shapes: ``y`` is (B, n) (or (B, ...) for images), ``z`` is (B, m), ``x`` is (B, ...).
Energies are returned per sample, shape (B,).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from . import _validate as check
from .solvers import _shrink

__all__ = ["L1", "FreeEnergy", "LatentEnergy", "Regularizer", "SquaredL2", "sparse_coding_energy",
           "squared_error"]

Cost = Callable[[Tensor, Tensor], Tensor]


def squared_error(y: Tensor, y_bar: Tensor) -> Tensor:
    """C(y, ȳ) = ‖y − ȳ‖², summed over every dimension but the batch: (B, ...) → (B,).

    Args:
        y: observations, (B, ...).
        y_bar: the decoder's prediction ȳ, shaped like y.
    """
    return (y - y_bar).pow(2).flatten(1).sum(1)


class Regularizer(abc.ABC):
    """Base class of R(z): a per-sample penalty (B, m) → (B,) with a proximal operator.

    Args:
        weight: w (m,), entries >= 0, one per latent component; a weight of 0 leaves
            that component free. Default: 1 for every component.

    A subclass defines ``__call__(z)`` → (B,) and ``prox(v, tau)`` = argmin_z
    ½‖z − v‖² + τ R(z), with τ a number or a tensor of shape (B, 1).
    """

    def __init__(self, weight: Tensor | None = None) -> None:
        if weight is not None:
            check.tensor("weight", weight, ndim=1, shape_doc="(m,)")
            check.require(not bool((weight < 0).any()), "weight", "entries >= 0",
                          f"min {weight.min().item()}")
        self.weight = weight

    def _w(self, z: Tensor) -> Tensor | float:
        if self.weight is None:
            return 1.0
        check.require(self.weight.shape[0] == z.shape[-1], "z",
                      f"m = {self.weight.shape[0]} latent components (the regularizer's weight)",
                      z.shape[-1])
        return self.weight.to(device=z.device, dtype=z.dtype)

    @abc.abstractmethod
    def __call__(self, z: Tensor) -> Tensor:
        """R(z) for every sample: (B, m) → (B,)."""

    @abc.abstractmethod
    def prox(self, v: Tensor, tau: Tensor | float) -> Tensor:
        """argmin_z ½‖z − v‖² + τ R(z), row by row: v (B, m), τ a number or (B, 1) → (B, m)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight})"


class L1(Regularizer):
    """R(z) = Σ_j w_j |z_j|, the sparsity penalty; its prox is the shrinkage h_{τw}."""

    def __call__(self, z: Tensor) -> Tensor:
        return (z.abs() * self._w(z)).flatten(1).sum(1)

    def prox(self, v: Tensor, tau: Tensor | float) -> Tensor:
        return _shrink(v, tau * self._w(v))


class SquaredL2(Regularizer):
    """R(z) = Σ_j w_j z_j², a spring to the origin; its prox is the scaling v / (1 + 2τw)."""

    def __call__(self, z: Tensor) -> Tensor:
        return (z.pow(2) * self._w(z)).flatten(1).sum(1)

    def prox(self, v: Tensor, tau: Tensor | float) -> Tensor:
        return v / (1 + 2 * tau * self._w(v))


class FreeEnergy(NamedTuple):
    """What :meth:`LatentEnergy.free_energy` returns.

    Attributes:
        F: the free energy min_z E of every sample, (B,), detached.
        z: the minimising latents z*, (B, m), detached.
        n_iter: the number of iterations done (fewer than ``max_iter`` when ``ftol``
            stopped the run).
    """

    F: Tensor
    z: Tensor
    n_iter: int


class LatentEnergy(nn.Module):
    r"""E(x, y, z) = C(y, Dec(Pred(x), z)) + λ R(z), evaluated per sample.

    Args:
        decoder: ``Dec(h, z)``; receives ``h = Pred(x)`` (or ``None`` for an
            unconditional model) and ``z`` of shape (B, m), returns ȳ shaped like y.
        latent_dim: m, the size of z.
        predictor: ``Pred(x)``; ``None`` for an unconditional model E(y, z).
        cost: ``C(y, ȳ)`` returning (B,); default :func:`squared_error`.
        regularizer: R(z); default :class:`L1`. Any callable (B, m) → (B,) works;
            without a ``prox`` method it is minimised by plain gradient steps.
        lam: λ >= 0, the weight of the regularizer.
    """

    def __init__(self, decoder: Callable[..., Tensor], latent_dim: int, *,
                 predictor: Callable[[Tensor], Tensor] | None = None,
                 cost: Cost = squared_error,
                 regularizer: Callable[[Tensor], Tensor] | None = None,
                 lam: float = 0.0) -> None:
        super().__init__()
        check.require(callable(decoder), "decoder", "a callable Dec(h, z)", type(decoder).__name__)
        self.latent_dim = check.positive_int("latent_dim", latent_dim)
        check.require(predictor is None or callable(predictor), "predictor",
                      "None or a callable Pred(x)", type(predictor).__name__)
        check.require(callable(cost), "cost", "a callable C(y, ȳ)", type(cost).__name__)
        regularizer = L1() if regularizer is None else regularizer
        check.require(callable(regularizer), "regularizer", "a callable R(z), such as L1()",
                      type(regularizer).__name__)
        weight = getattr(regularizer, "weight", None)
        if isinstance(weight, Tensor):
            check.require(weight.shape == (self.latent_dim,), "regularizer",
                          f"a weight of shape ({self.latent_dim},), one per latent component",
                          f"a weight of shape {tuple(weight.shape)}")
        self.decoder = decoder
        self.predictor = predictor
        self.cost = cost
        self.regularizer = regularizer
        self.lam = check.nonnegative("lam", lam)

    # -- evaluation -------------------------------------------------------
    def _h(self, x: Tensor | None) -> Tensor | None:
        """Pred(x), after checking that x is given exactly when there is a predictor."""
        if self.predictor is None:
            check.require(x is None, "x", "None (this energy has no predictor)",
                          f"a tensor of shape {tuple(getattr(x, 'shape', ()))}")
            return None
        check.require(x is not None, "x", "a tensor (B, ...) (this energy has a predictor and needs x)",
                      None)
        check.tensor("x", x)
        return self.predictor(x)

    def decode(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        """ȳ = Dec(Pred(x), z).

        Args:
            z: latents, (B, m).
            x: inputs of the predictor, (B, ...), or ``None`` for an unconditional model.

        Returns:
            ȳ, shaped like an observation y.
        """
        return self.decoder(self._h(x), z)

    def forward(self, y: Tensor, z: Tensor, x: Tensor | None = None) -> Tensor:
        """E(x, y, z) for a batch, with gradients.

        Args:
            y: observations, (B, n).
            z: latents, (B, m).
            x: inputs of the predictor, (B, ...), or ``None``.

        Returns:
            The energy of every sample, (B,).
        """
        check.tensor("y", y, ndim=range(2, 6), shape_doc="(B, n)")
        check.tensor("z", z, ndim=2, shape_doc=f"(B, {self.latent_dim})")
        check.shape("z", z, (None, self.latent_dim), f"(B, {self.latent_dim})")
        check.same_rows("y", y, "z", z)
        h = self._h(x)
        return self.cost(y, self.decoder(h, z)) + self.lam * self.regularizer(z)

    # -- inference ---------------------------------------------------------
    def free_energy(self, y: Tensor, x: Tensor | None = None, *, z0: Tensor | None = None,
                    max_iter: int = 500, ftol: float = 1e-7, step: float = 1.0) -> FreeEnergy:
        r"""F(x, y) = min_z E(x, y, z) for every sample of the batch.

        Minimises by proximal gradient descent: a gradient step on the smooth part
        C(y, Dec(h, z)), then the regularizer's prox, with a step size per sample
        halved until the step decreases the energy (backtracking), and allowed to grow
        by a quarter after every successful step.

        Args:
            y: observations, (B, n).
            x: inputs of the predictor, (B, ...), or ``None``.
            z0: starting latents, (B, m), or (R, B, m) to start R times per sample and
                keep the best (for non-convex decoders), on y's device; a wider dtype than
                y's (float64 starts for float32 data) is kept for the latents. Default: zeros.
            max_iter: maximum number of iterations (>= 1).
            ftol: stop when no sample's energy fell by more than ``ftol`` in one
                iteration, relative to the energy (absolute for energies below 1); 0 stops
                only when no energy decreases at all. (A stop on the energy, hence not
                ``tol``, which in ebmlib's solvers is the relative change of z.)
            step: initial step size, > 0.

        Returns:
            ``FreeEnergy(F, z, n_iter)`` with F (B,) and z* (B, m), both detached.
            To train the decoder, evaluate ``self(y, z_star, x)`` again with gradients.
        """
        check.tensor("y", y, ndim=range(2, 6), shape_doc="(B, n)")
        max_iter = check.positive_int("max_iter", max_iter)
        ftol = check.nonnegative("ftol", ftol)
        step = check.positive("step", step)
        z0 = self._starts(y, z0)
        with torch.no_grad():
            h = self._h(x)
        return self._free_energy(y, h, z0, max_iter=max_iter, ftol=ftol, step=step)

    def _starts(self, y: Tensor, z0: Tensor | None) -> Tensor:
        """The starting latents as (R, B, m): zeros (R = 1) by default, a (B, m) start as R = 1."""
        B, m = y.shape[0], self.latent_dim
        if z0 is None:
            return y.new_zeros(1, B, m)
        check.tensor("z0", z0, ndim=(2, 3), shape_doc=f"(B, {m}) or (R, B, {m})")
        check.require(z0.shape[-2:] == (B, m), "z0", f"shape ({B}, {m}) or (R, {B}, {m})",
                      f"shape {tuple(z0.shape)}")
        check.require(z0.device == y.device, "z0' and 'y", "the same device", f"{z0.device} and {y.device}")
        return z0.unsqueeze(0) if z0.dim() == 2 else z0

    def _free_energy(self, y: Tensor, h: Tensor | None, z0: Tensor, *, max_iter: int, ftol: float,
                     step: float) -> FreeEnergy:
        """:meth:`free_energy` with checked arguments: h = Pred(x) or None, z0 (R, B, m)."""
        R, B, m = z0.shape
        yy = y.repeat(R, *[1] * (y.dim() - 1))  # every start is a sample of its own
        hh = None if h is None else h.repeat(R, *[1] * (h.dim() - 1))
        z = z0.reshape(R * B, m).detach().clone()
        t = z.new_full((R * B, 1), float(step))  # one step size per sample and start
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            z, t, decrease = self._backtracking_step(yy, hh, z, t)
            if float(decrease.max()) <= ftol:
                break
        with torch.no_grad():
            e = self.cost(yy, self.decoder(hh, z)) + self.lam * self.regularizer(z)
            e, z = e.view(R, B), z.view(R, B, m)
            best = e.argmin(0)
            idx = torch.arange(B, device=y.device)
            return FreeEnergy(e[best, idx], z[best, idx], n_iter)

    def _smooth(self, y: Tensor, h: Tensor | None, z: Tensor) -> Tensor:
        """The part of E that the gradient step sees: C, plus λR when R has no prox."""
        f = self.cost(y, self.decoder(h, z))
        return f if self._has_prox() else f + self.lam * self.regularizer(z)

    def _nonsmooth(self, z: Tensor) -> Tensor:
        """The part of E that the prox handles: λR, or zero when R has no prox."""
        return self.lam * self.regularizer(z) if self._has_prox() else z.new_zeros(len(z))

    def _has_prox(self) -> bool:
        return getattr(self.regularizer, "prox", None) is not None

    def _backtracking_step(self, y: Tensor, h: Tensor | None, z: Tensor, t: Tensor
                           ) -> tuple[Tensor, Tensor, Tensor]:
        """One proximal gradient step from z (B, m) with step sizes t (B, 1), all samples at once.

        The step of a sample is halved until the smooth part lies below its quadratic
        model at z (at most 40 halvings); a sample whose energy would rise (rounding) keeps
        its z. Returns the new z, the step sizes for the next iteration (a quarter larger
        after a successful step) and the relative energy decrease of every sample, (B,).
        """
        prox = getattr(self.regularizer, "prox", None)
        with torch.enable_grad():
            zg = z.detach().requires_grad_(True)
            f = self._smooth(y, h, zg)
            (g,) = torch.autograd.grad(f.sum(), zg)
        with torch.no_grad():
            f = f.detach()
            e_old = f + self._nonsmooth(z)
            for _ in range(40):  # backtracking, on every sample at once
                v = z - t * g
                z_new = prox(v, t * self.lam) if prox is not None else v
                f_new = self._smooth(y, h, z_new)
                d = z_new - z
                bound = f + (g * d).sum(1) + d.pow(2).sum(1) / (2 * t[:, 0])
                ok = f_new <= bound + 1e-12 * f.abs().clamp(min=1)
                if bool(ok.all()):
                    break
                t = torch.where(ok[:, None], t, t / 2)
            e_new = f_new + self._nonsmooth(z_new)
            # keep the old point where rounding made the step useless
            worse = e_new > e_old
            z = torch.where(worse[:, None], z, z_new)
            e_new = torch.where(worse, e_old, e_new)
            t = torch.where(worse[:, None], t, t * 1.25)  # let the step grow again
            decrease = (e_old - e_new) / e_old.abs().clamp(min=1.0)
        return z, t, decrease


def sparse_coding_energy(y: Tensor, W: Tensor, z: Tensor, lam: float) -> Tensor:
    r"""E(z, y) = ‖y − W_d z‖² + λ‖z‖₁ for every sample of a batch.

    The sparse-coding energy, with a linear decoder whose columns (atoms) are those of
    W_d (no ½ factor); :func:`ebmlib.solvers.ista` and :func:`ebmlib.solvers.fista`
    minimise it over z. The library's one formula for it (LISTA's training loss is its
    mean over a batch).

    Args:
        y: observations, (B, n).
        W: the dictionary W_d, (n, m).
        z: codes, (B, m).
        lam: λ >= 0.

    Returns:
        The energy of every sample, (B,), with gradients with respect to y, W and z.
    """
    check.tensor("y", y, ndim=2, shape_doc="(B, n)")
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    check.tensor("z", z, ndim=2, shape_doc=f"(B, {W.shape[1]})")
    lam = check.nonnegative("lam", lam)
    check.same_device_dtype("y", y, "W", W)
    check.same_device_dtype("y", y, "z", z)
    n, m = W.shape
    check.require(y.shape[1] == n, "y' and 'W", f"y of shape (B, n) with n = {n} (the rows of W)",
                  f"y of shape {tuple(y.shape)}")
    check.require(z.shape[1] == m, "z' and 'W", f"z of shape (B, m) with m = {m} (the columns of W)",
                  f"z of shape {tuple(z.shape)}")
    check.same_rows("y", y, "z", z)
    return _sparse_coding_energy(y, W, z, lam)


def _sparse_coding_energy(y: Tensor, W: Tensor, z: Tensor, lam: float | Tensor) -> Tensor:
    """‖y − W z‖² + λ‖z‖₁ per sample, (B,), arguments unchecked (for the library's loops)."""
    return squared_error(y, z @ W.T) + lam * z.abs().sum(1)
