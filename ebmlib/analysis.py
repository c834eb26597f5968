r"""Measurements of learned atoms that the book makes in more than one chapter.

Orientation selectivity (:func:`orientation`, which returns an :class:`Orientation`; used by
the chapters on sparse coding of image patches and on convolutional sparse coding):
for an atom a (h, w), let :math:`P_f` be the power of its 2-D discrete Fourier
transform at frequency f ≠ 0 and :math:`\theta_f` the orientation of f. The power-weighted
mean of :math:`e^{2 i \theta_f}` (the angle doubled, so that θ and θ + π count as the
same orientation),

.. math::  \rho\, e^{2 i \phi} = \frac{\sum_{f \neq 0} P_f\, e^{2 i \theta_f}}{\sum_{f \neq 0} P_f},

has length ρ ∈ [0, 1], one minus the circular variance of the orientation: 1 when all the
power lies along one orientation (a grating), near 0 when it is spread over every
orientation (a single pixel) or split equally between two perpendicular ones. φ is the
dominant orientation of the frequencies, so the atom's stripes run at φ + 90°.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from . import _validate as check

__all__ = ["Orientation", "orientation"]


class Orientation(NamedTuple):
    """Orientation selectivity ρ, (M,), in [0, 1], and the dominant frequency orientation φ,
    (M,), in degrees in [0, 180)."""

    selectivity: Tensor
    angle: Tensor


def orientation(atoms: Tensor, *, fft_size: int | None = None) -> Orientation:
    """The orientation selectivity and orientation of each atom (see the module docstring).

    Args:
        atoms: M atoms as images, (M, h, w) (a dictionary W_d (n, m) of h × w patches is
            ``W_d.T.reshape(-1, h, w)``; kernels K (M, 1, k, k) are ``K[:, 0]``).
        fft_size: zero-pad each atom to fft_size × fft_size before the transform, for a
            finer grid of frequencies on small kernels; default: no padding (h × w).

    Returns:
        ``Orientation(selectivity, angle)``, both (M,), on the CPU in float32. An all-zero
        atom has selectivity 0.
    """
    check.tensor("atoms", atoms, ndim=3, shape_doc="(M, h, w)")
    size = tuple(atoms.shape[-2:]) if fft_size is None else \
        (check.positive_int("fft_size", fft_size),) * 2
    a = atoms.detach().to("cpu", torch.float32)
    power = torch.fft.fftshift(torch.fft.fft2(a, s=size).abs() ** 2, dim=(-2, -1))
    fy = torch.arange(size[0]) - size[0] // 2
    fx = torch.arange(size[1]) - size[1] // 2
    fy, fx = torch.meshgrid(fy, fx, indexing="ij")
    nonzero = (fx**2 + fy**2 > 0).float()
    doubled = torch.exp(2j * torch.atan2(fy.float(), fx.float())) * nonzero
    total = (power * nonzero).sum(dim=(-2, -1))
    mean = (power * doubled).sum(dim=(-2, -1)) / total.clamp(min=torch.finfo(torch.float32).tiny)
    return Orientation(mean.abs(), torch.rad2deg(mean.angle() / 2) % 180)
