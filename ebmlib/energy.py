r"""Regularized latent-variable energies and their free energy.

The lecture's general energy is

.. math::  E(x, y, z) = C\bigl(y, \mathrm{Dec}(\mathrm{Pred}(x), z)\bigr) + \lambda R(z)

and inference looks for the best latent: :math:`F(x, y) = \min_z E(x, y, z)`.
Here the cost ``C``, the decoder ``Dec``, the predictor ``Pred`` and the
regularizer ``R`` are pluggable; :meth:`LatentEnergy.free_energy` finds the
minimum by proximal gradient descent with a backtracking step, over a whole batch.

Shapes: ``y`` is (B, n) (or (B, ...) for images), ``z`` is (B, m), ``x`` is (B, ...).
Energies are returned per sample, shape (B,).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from . import _validate as check
from .solvers import _shrink

Cost = Callable[[Tensor, Tensor], Tensor]


def squared_error(y: Tensor, y_bar: Tensor) -> Tensor:
    """C(y, ȳ) = ‖y − ȳ‖², summed over every dimension but the batch: (B, ...) → (B,)."""
    return (y - y_bar).pow(2).flatten(1).sum(1)


class Regularizer:
    """Base class of R(z): a per-sample penalty (B, m) → (B,) with a proximal operator.

    ``weight`` (shape (m,), entries >= 0) scales each latent component; a weight of 0
    leaves that component free. ``prox(v, tau)`` returns argmin_z ½‖z − v‖² + τ R(z),
    with τ of shape (B, 1).
    """

    def __init__(self, weight: Tensor | None = None) -> None:
        if weight is not None:
            check.tensor("weight", weight, ndim=1, shape_doc="(m,)")
            if bool((weight < 0).any()):
                raise ValueError("argument 'weight': expected entries >= 0, "
                                 f"received min {weight.min().item()}")
        self.weight = weight

    def _w(self, z: Tensor) -> Tensor | float:
        if self.weight is None:
            return 1.0
        if self.weight.shape[0] != z.shape[-1]:
            raise ValueError(f"argument 'z': expected m = {self.weight.shape[0]} latent "
                             f"components (the regularizer's weight), received {z.shape[-1]}")
        return self.weight.to(device=z.device, dtype=z.dtype)

    def __call__(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def prox(self, v: Tensor, tau: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight})"


class L1(Regularizer):
    """R(z) = Σ_j w_j |z_j|, the sparsity penalty; its prox is shrinkage with threshold τ·w."""

    def __call__(self, z: Tensor) -> Tensor:
        return (z.abs() * self._w(z)).flatten(1).sum(1)

    def prox(self, v: Tensor, tau: Tensor) -> Tensor:
        return _shrink(v, tau * self._w(v))


class SquaredL2(Regularizer):
    """R(z) = Σ_j w_j z_j², a spring to the origin; its prox is the scaling v / (1 + 2τw)."""

    def __call__(self, z: Tensor) -> Tensor:
        return (z.pow(2) * self._w(z)).flatten(1).sum(1)

    def prox(self, v: Tensor, tau: Tensor) -> Tensor:
        return v / (1 + 2 * tau * self._w(v))


class FreeEnergy(NamedTuple):
    """Result of inference: F (B,), the minimising latent z* (B, m), iterations used."""

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
        self.decoder = decoder
        self.latent_dim = check.positive_int("latent_dim", latent_dim)
        self.predictor = predictor
        self.cost = cost
        self.regularizer = L1() if regularizer is None else regularizer
        self.lam = check.nonnegative("lam", lam)

    # -- evaluation -------------------------------------------------------
    def _h(self, x: Tensor | None) -> Tensor | None:
        if self.predictor is None:
            if x is not None:
                raise ValueError("argument 'x': this energy has no predictor, so x must be None, "
                                 f"received a tensor of shape {tuple(x.shape)}")
            return None
        if x is None:
            raise ValueError("argument 'x': this energy has a predictor and needs x of shape "
                             "(B, ...), received None")
        check.tensor("x", x)
        return self.predictor(x)

    def decode(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        """ȳ = Dec(Pred(x), z): (B, m) → shaped like y."""
        return self.decoder(self._h(x), z)

    def forward(self, y: Tensor, z: Tensor, x: Tensor | None = None) -> Tensor:
        """E(x, y, z) for a batch: y (B, n), z (B, m), x (B, ...) or None → (B,)."""
        y, z = self._check_yz(y, z)
        h = self._h(x)
        return self.cost(y, self.decoder(h, z)) + self.lam * self.regularizer(z)

    def _check_yz(self, y: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        check.tensor("y", y, ndim=range(2, 6), shape_doc="(B, n)")
        check.tensor("z", z, ndim=2, shape_doc=f"(B, {self.latent_dim})")
        if z.shape[1] != self.latent_dim:
            raise ValueError(f"argument 'z': expected shape (B, {self.latent_dim}), "
                             f"received {tuple(z.shape)}")
        check.same_rows("y", y, "z", z)
        return y, z

    # -- inference ---------------------------------------------------------
    def free_energy(self, y: Tensor, x: Tensor | None = None, *, z0: Tensor | None = None,
                    max_iter: int = 500, tol: float = 1e-7, step: float = 1.0) -> FreeEnergy:
        r"""F(x, y) = min_z E(x, y, z) for every sample of the batch.

        Minimises by proximal gradient descent: a gradient step on the smooth part
        C(y, Dec(h, z)), then the regularizer's prox, with a step size per sample
        halved until the step decreases the energy (backtracking).

        Args:
            y: observations, (B, n).
            x: inputs of the predictor, (B, ...), or ``None``.
            z0: starting latents, (B, m), or (R, B, m) to start R times per sample and
                keep the best (for non-convex decoders). Default: zeros.
            max_iter: maximum number of iterations.
            tol: stop when no sample's energy fell by more than ``tol`` in one iteration
                (relative to the energy, or absolute for energies below 1).
            step: initial step size.

        Returns:
            ``FreeEnergy(F, z, n_iter)`` with F (B,) and z* (B, m), both detached.
            To train the decoder, evaluate ``self(y, z_star, x)`` again with gradients.
        """
        check.tensor("y", y, ndim=range(2, 6), shape_doc="(B, n)")
        check.positive_int("max_iter", max_iter)
        check.nonnegative("tol", tol)
        if check.nonnegative("step", step) == 0:
            raise ValueError("argument 'step': expected a number > 0, received 0")
        B, m = y.shape[0], self.latent_dim
        if z0 is None:
            z0 = y.new_zeros(1, B, m)
        else:
            check.tensor("z0", z0, ndim=(2, 3), shape_doc=f"(B, {m}) or (R, B, {m})")
            if z0.shape[-2:] != (B, m):
                raise ValueError(f"argument 'z0': expected shape ({B}, {m}) or (R, {B}, {m}), "
                                 f"received {tuple(z0.shape)}")
            if z0.dim() == 2:
                z0 = z0.unsqueeze(0)
        R = z0.shape[0]
        with torch.no_grad():
            h = self._h(x)
        yy = y.repeat(R, *[1] * (y.dim() - 1))
        hh = None if h is None else h.repeat(R, *[1] * (h.dim() - 1))
        z = z0.reshape(R * B, m).detach().clone()

        prox = getattr(self.regularizer, "prox", None)
        lam = self.lam

        def smooth(zz: Tensor) -> Tensor:
            f = self.cost(yy, self.decoder(hh, zz))
            return f if prox is not None else f + lam * self.regularizer(zz)

        def nonsmooth(zz: Tensor) -> Tensor:
            return lam * self.regularizer(zz) if prox is not None else torch.zeros_like(zz[:, 0])

        t = z.new_full((R * B, 1), float(step))
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            with torch.enable_grad():
                zg = z.detach().requires_grad_(True)
                f = smooth(zg)
                (g,) = torch.autograd.grad(f.sum(), zg)
            with torch.no_grad():
                f = f.detach()
                e_old = f + nonsmooth(z)
                for _ in range(40):  # backtracking, on every sample at once
                    v = z - t * g
                    z_new = prox(v, t * lam) if prox is not None else v
                    f_new = smooth(z_new)
                    d = z_new - z
                    bound = f + (g * d).sum(1) + d.pow(2).sum(1) / (2 * t[:, 0])
                    ok = f_new <= bound + 1e-12 * f.abs().clamp(min=1)
                    if bool(ok.all()):
                        break
                    t = torch.where(ok[:, None], t, t / 2)
                e_new = f_new + nonsmooth(z_new)
                # keep the old point where rounding made the step useless
                worse = e_new > e_old
                z = torch.where(worse[:, None], z, z_new)
                e_new = torch.where(worse, e_old, e_new)
                t = torch.where(worse[:, None], t, t * 1.25)  # let the step grow again
                decrease = (e_old - e_new) / e_old.abs().clamp(min=1.0)
            if float(decrease.max()) <= tol:
                break
        with torch.no_grad():
            e = self.cost(yy, self.decoder(hh, z)) + lam * self.regularizer(z)
            e, z = e.view(R, B), z.view(R, B, m)
            best = e.argmin(0)
            idx = torch.arange(B, device=y.device)
            return FreeEnergy(e[best, idx], z[best, idx], n_iter)


def sparse_coding_energy(y: Tensor, W: Tensor, z: Tensor, lam: float) -> Tensor:
    """E(z, y) = ‖y − W z‖² + λ‖z‖₁ per sample: y (B, n), W (n, m), z (B, m) → (B,).

    The sparse-coding energy with a linear decoder whose columns (atoms) are those of
    W = W_d (no ½ factor); :func:`ebmlib.solvers.ista` and :func:`ebmlib.solvers.fista`
    minimise it over z.
    """
    check.tensor("y", y, ndim=2, shape_doc="(B, n)")
    check.tensor("W", W, ndim=2, shape_doc="(n, m)")
    check.tensor("z", z, ndim=2, shape_doc=f"(B, {W.shape[1]})")
    lam = check.nonnegative("lam", lam)
    for name, t in (("W", W), ("z", z)):
        if t.device != y.device or t.dtype != y.dtype:
            raise ValueError(f"arguments 'y' and '{name}': expected the same device and dtype, "
                             f"received {y.device}/{y.dtype} and {t.device}/{t.dtype}")
    if y.shape[1] != W.shape[0]:
        raise ValueError(f"arguments 'y' and 'W': expected y of shape (B, n) with n = {W.shape[0]} "
                         f"(the rows of W), received y of shape {tuple(y.shape)}")
    if z.shape[1] != W.shape[1]:
        raise ValueError(f"arguments 'z' and 'W': expected z of shape (B, m) with m = {W.shape[1]} "
                         f"(the columns of W), received z of shape {tuple(z.shape)}")
    check.same_rows("y", y, "z", z)
    return squared_error(y, z @ W.T) + lam * z.abs().sum(1)
