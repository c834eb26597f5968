r"""The 2-D toy world of the first chapter: data on a closed curve.

The data live near the curve c(t) = r(t) (cos t, sin t), r(t) = 1 + a cos(k t).
:class:`CurveDecoder` is a decoder that already knows this curve, so that the
chapter can focus on what the latent variable does:

* ``displacement=False``: z = (t,), Dec(z) = c(t). One latent dimension can only
  reach the curve, so F(y) is the squared distance from y to the curve.
* ``displacement=True``: z = (t, u₁, u₂), Dec(z) = c(t) + u. The free offset u
  can reach every point of the plane: without a regularizer, F(y) = 0 everywhere.
  Regularizing u (weight 0 on t, 1 on u) brings back low energy near the curve only.

:func:`curve_energy` builds the chapter's energy E(y, z) = ‖y − Dec(z)‖² + λR(u).
Functions with no tensor input to follow (:func:`sample_curve`, :func:`plane_grid`)
allocate on the CPU unless given ``device=``, as torch does.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import _validate as check
from .energy import L1, LatentEnergy, Regularizer

__all__ = ["CurveDecoder", "curve", "curve_energy", "distance_to_curve", "plane_grid", "sample_curve"]


def curve(t: Tensor, a: float = 0.3, k: int = 3) -> Tensor:
    """Points c(t) = r(t) (cos t, sin t) of the closed curve, r(t) = 1 + a cos(k t).

    Args:
        t: positions on the curve, (B,) (any shape (...,) works).
        a: the depth of the lobes, a real number (|a| < 1 keeps the curve simple).
        k: the number of lobes, an integer >= 1.

    Returns:
        The points, (B, 2).
    """
    check.tensor("t", t, finite=False)
    return _curve(t, check.real("a", a), check.positive_int("k", k))


def _curve(t: Tensor, a: float = 0.3, k: int = 3) -> Tensor:
    r = 1 + a * torch.cos(k * t)
    return torch.stack((r * torch.cos(t), r * torch.sin(t)), dim=-1)


def sample_curve(n: int, noise: float = 0.05, *, seed: int | torch.Generator = 0,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """n noisy points near the curve: t uniform on [0, 2π), plus Gaussian noise.

    Args:
        n: the number of points, >= 1.
        noise: the standard deviation of the noise, >= 0.
        seed: an integer (the same call draws the same points) or a ``torch.Generator``
            (drawn from, continuing its stream).
        device: where to put the points; default the CPU.
        dtype: their floating dtype (they are drawn in float64, then converted).

    Returns:
        The points y, (n, 2).
    """
    n = check.positive_int("n", n)
    noise = check.nonnegative("noise", noise)
    g = check.generator("seed", seed)
    t = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    y = _curve(t) + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return y.to(device=device, dtype=dtype)


def plane_grid(lim: float = 1.8, num: int = 61, *, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> tuple[Tensor, tuple[float, float, float, float]]:
    """A square grid of the plane [−lim, lim]², with ``num`` points per side.

    Args:
        lim: half the side of the square, > 0.
        num: the number of points along each axis, >= 1.
        device: where to put the points; default the CPU.
        dtype: their floating dtype.

    Returns:
        The points, (num², 2), row by row (rows follow y₂, columns y₁: ``F.view(num, num)``
        is an image for ``imshow(origin="lower")``), and the extent (−lim, lim, −lim, lim)
        for ``imshow``.
    """
    num = check.positive_int("num", num)
    lim = check.positive("lim", lim)
    axis = torch.linspace(-lim, lim, num, dtype=dtype, device=device)
    y2, y1 = torch.meshgrid(axis, axis, indexing="ij")  # rows follow y2 (image convention)
    return torch.stack((y1.flatten(), y2.flatten()), dim=1), (-lim, lim, -lim, lim)


class CurveDecoder(nn.Module):
    """Dec(z) = c(t) (+ u when ``displacement``) for z = (t,) or z = (t, u₁, u₂).

    Args:
        displacement: add the free offset u = (z₁, z₂) to the point c(z₀) (m = 3);
            False decodes the position alone (m = 1).
        a: the depth of the lobes, as in :func:`curve`.
        k: the number of lobes, as in :func:`curve`.

    The forward pass maps h (ignored: the model is unconditional) and z (B, m) to ȳ (B, 2).
    """

    def __init__(self, displacement: bool = True, a: float = 0.3, k: int = 3) -> None:
        super().__init__()
        self.displacement = check.flag("displacement", displacement)
        self.a, self.k = check.real("a", a), check.positive_int("k", k)
        self.latent_dim = 3 if self.displacement else 1

    def forward(self, h: Tensor | None, z: Tensor) -> Tensor:
        """Dec(z) = c(t) (+ u): z (B, m) → ȳ (B, 2); h is ignored (the model is unconditional)."""
        y_bar = _curve(z[:, 0], self.a, self.k)
        return y_bar + z[:, 1:3] if self.displacement else y_bar

    def regularizer_weight(self, like: Tensor | None = None) -> Tensor:
        """Weights (m,) that leave the position t free and regularize the offset u.

        Args:
            like: a tensor whose device and dtype the weights take; default a CPU float32
                tensor.
        """
        w = [0.0, 1.0, 1.0] if self.displacement else [0.0]
        return torch.tensor(w) if like is None else like.new_tensor(w)

    def starts(self, y: Tensor, restarts: int = 8) -> Tensor:
        """Starting latents (R, B, m): R positions t spread around the curve, zero offset.

        The position t makes the energy non-convex (a point has a near and a far side
        of the curve), so inference starts from R positions and keeps the best.

        Args:
            y: the observations to explain, (B, 2); the starts take their device and dtype.
            restarts: R, the number of starting positions, >= 1.
        """
        check.tensor("y", y, ndim=2, shape_doc="(B, 2)")
        restarts = check.positive_int("restarts", restarts)
        t = torch.arange(restarts, device=y.device, dtype=y.dtype) * (2 * math.pi / restarts)
        z0 = y.new_zeros(restarts, y.shape[0], self.latent_dim)
        z0[:, :, 0] = t[:, None]
        return z0


def curve_energy(lam: float, regularizer: type[Regularizer] = L1, *,
                 displacement: bool = True) -> LatentEnergy:
    """The first chapter's energy E(y, z) = ‖y − Dec(z)‖² + λ R(z), with a :class:`CurveDecoder`.

    R weighs only the offset u (weight 0 on the position t), so with the default L1 and
    ``displacement=True``, E(y, z) = ‖y − c(t) − u‖² + λ(|u₁| + |u₂|). Its free energy
    needs several starting positions (the position makes it non-convex)::

        energy = curve_energy(0.3)
        F = energy.free_energy(y, z0=energy.decoder.starts(y)).F

    Args:
        lam: λ >= 0.
        regularizer: the class of R, :class:`~ebmlib.energy.L1` (default) or
            :class:`~ebmlib.energy.SquaredL2`; it is given the decoder's weights.
        displacement: the decoder has the offset u (z = (t, u₁, u₂)); False keeps the
            position alone (z = (t,)), on which R has weight 0.

    Returns:
        A :class:`~ebmlib.energy.LatentEnergy`, with the decoder as ``.decoder``.
    """
    check.require(isinstance(regularizer, type) and issubclass(regularizer, Regularizer), "regularizer",
                  "a Regularizer class, such as L1 or SquaredL2", repr(regularizer))
    decoder = CurveDecoder(displacement)
    return LatentEnergy(decoder, decoder.latent_dim, lam=lam,
                        regularizer=regularizer(decoder.regularizer_weight()))


def distance_to_curve(y: Tensor, a: float = 0.3, k: int = 3, samples: int = 4096) -> Tensor:
    """Euclidean distance from each point to the curve, by dense sampling of t.

    Args:
        y: points of the plane, (B, 2).
        a: the depth of the lobes, as in :func:`curve`.
        k: the number of lobes, as in :func:`curve`.
        samples: the number of positions t tried, >= 1.

    Returns:
        The distances, (B,).
    """
    check.tensor("y", y, ndim=2, shape_doc="(B, 2)")
    samples = check.positive_int("samples", samples)
    t = torch.linspace(0, 2 * math.pi, samples + 1, device=y.device, dtype=y.dtype)[:-1]
    return torch.cdist(y, _curve(t, check.real("a", a), check.positive_int("k", k))).min(dim=1).values
