r"""The 2-D toy world of the first chapter: data on a closed curve.

The data live near the curve c(t) = r(t) (cos t, sin t), r(t) = 1 + a cos(k t).
:class:`CurveDecoder` is a decoder that already knows this curve, so that the
chapter can focus on what the latent variable does:

* ``displacement=False``: z = (t,), Dec(z) = c(t). One latent dimension can only
  reach the curve, so F(y) is the squared distance from y to the curve.
* ``displacement=True``: z = (t, u₁, u₂), Dec(z) = c(t) + u. The free offset u
  can reach every point of the plane: without a regularizer, F(y) = 0 everywhere.
  Regularizing u (weight 0 on t, 1 on u) brings back low energy near the curve only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import _validate as check
from .device import default_device


def curve(t: Tensor, a: float = 0.3, k: int = 3) -> Tensor:
    """Points c(t) of the closed curve, t of shape (B,) → (B, 2)."""
    r = 1 + a * torch.cos(k * t)
    return torch.stack((r * torch.cos(t), r * torch.sin(t)), dim=-1)


def sample_curve(n: int, noise: float = 0.05, *, seed: int = 0,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """n noisy points near the curve, (n, 2): t uniform on [0, 2π), Gaussian noise of std ``noise``."""
    check.positive_int("n", n)
    check.nonnegative("noise", noise)
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    y = curve(t) + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return y.to(device=device or default_device(), dtype=dtype)


def plane_grid(lim: float = 1.8, steps: int = 61, *, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> tuple[Tensor, tuple[float, float, float, float]]:
    """A square grid of the plane [−lim, lim]²: points (steps², 2) and the extent for ``imshow``."""
    check.positive_int("steps", steps)
    if check.nonnegative("lim", lim) == 0:
        raise ValueError("argument 'lim': expected a number > 0, received 0")
    axis = torch.linspace(-lim, lim, steps, dtype=dtype, device=device or default_device())
    y2, y1 = torch.meshgrid(axis, axis, indexing="ij")  # rows follow y2 (image convention)
    return torch.stack((y1.flatten(), y2.flatten()), dim=1), (-lim, lim, -lim, lim)


class CurveDecoder(nn.Module):
    """Dec(z) = c(z₀) (+ (z₁, z₂) when ``displacement``): z (B, m) → ȳ (B, 2), m = 1 or 3."""

    def __init__(self, displacement: bool = True, a: float = 0.3, k: int = 3) -> None:
        super().__init__()
        self.displacement = displacement
        self.a, self.k = a, k
        self.latent_dim = 3 if displacement else 1

    def forward(self, h: Tensor | None, z: Tensor) -> Tensor:
        y_bar = curve(z[:, 0], self.a, self.k)
        return y_bar + z[:, 1:3] if self.displacement else y_bar

    def regularizer_weight(self, like: Tensor | None = None) -> Tensor:
        """Weights that leave the position t free and regularize the offset u: (m,)."""
        w = [0.0, 1.0, 1.0] if self.displacement else [0.0]
        return torch.tensor(w) if like is None else like.new_tensor(w)

    def starts(self, y: Tensor, restarts: int = 8) -> Tensor:
        """Starting latents (R, B, m): R positions t spread around the curve, zero offset.

        The position t makes the energy non-convex (a point has a near and a far side
        of the curve), so inference starts from R positions and keeps the best.
        """
        check.tensor("y", y, ndim=2, shape_doc="(B, 2)")
        check.positive_int("restarts", restarts)
        t = torch.arange(restarts, device=y.device, dtype=y.dtype) * (2 * math.pi / restarts)
        z0 = y.new_zeros(restarts, y.shape[0], self.latent_dim)
        z0[:, :, 0] = t[:, None]
        return z0


def distance_to_curve(y: Tensor, a: float = 0.3, k: int = 3, samples: int = 4096) -> Tensor:
    """Euclidean distance from each point to the curve, by dense sampling: (B, 2) → (B,)."""
    check.tensor("y", y, ndim=2, shape_doc="(B, 2)")
    t = torch.linspace(0, 2 * math.pi, samples + 1, device=y.device, dtype=y.dtype)[:-1]
    return torch.cdist(y, curve(t, a, k)).min(dim=1).values
