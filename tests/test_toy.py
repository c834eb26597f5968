"""ebmlib.toy: the chapter-1 world (the curve, its samples, its grid, its decoder and energy)."""

import math

import pytest
import torch

from ebmlib import L1, LatentEnergy, SquaredL2
from ebmlib.toy import CurveDecoder, curve, curve_energy, distance_to_curve, plane_grid, sample_curve


def test_samples_are_near_the_curve_and_reproducible(device):
    y = sample_curve(200, noise=0.02, seed=3, device=device)
    assert y.shape == (200, 2) and y.device.type == device.type
    assert float(distance_to_curve(y).max()) < 0.1
    torch.testing.assert_close(y, sample_curve(200, noise=0.02, seed=3, device=device))


def test_a_generator_continues_its_stream():
    g = torch.Generator().manual_seed(3)
    first, second = sample_curve(50, seed=g), sample_curve(50, seed=g)
    assert not torch.equal(first, second)
    torch.testing.assert_close(first, sample_curve(50, seed=3))


def test_without_device_the_toy_data_are_on_the_cpu(monkeypatch):
    """No input to follow: the CPU, as torch does, even where a GPU is available."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert sample_curve(5).device.type == "cpu"
    assert plane_grid(num=3)[0].device.type == "cpu"
    assert sample_curve(5, dtype=torch.float64).dtype == torch.float64


def test_curve_passes_through_its_lobes():
    t = torch.tensor([0.0, math.pi / 3])
    torch.testing.assert_close(curve(t), torch.tensor([[1.3, 0.0], [0.35, 0.7 * math.sin(math.pi / 3)]]))


def test_grid_and_extent(device):
    g, extent = plane_grid(lim=1.0, num=5, device=device)
    assert g.shape == (25, 2) and extent == (-1.0, 1.0, -1.0, 1.0)
    # rows follow y2, columns follow y1 (imshow with origin="lower")
    assert g[1].tolist() == [-0.5, -1.0] and g[5].tolist() == [-1.0, -0.5]


def test_decoder_shapes():
    z = torch.zeros(4, 3)
    assert CurveDecoder()(None, z).shape == (4, 2)
    assert CurveDecoder(displacement=False)(None, z[:, :1]).shape == (4, 2)
    assert CurveDecoder().starts(torch.zeros(5, 2), 6).shape == (6, 5, 3)


@pytest.mark.parametrize("call, name", [
    (lambda: sample_curve(0), "'n'"),
    (lambda: sample_curve(5, noise=-1.0), "'noise'"),
    (lambda: plane_grid(lim=0.0), "'lim'"),
    (lambda: plane_grid(num=0), "'num'"),
    (lambda: sample_curve(5, seed=-1), "'seed'"),
    (lambda: curve([0.0]), "'t'"),
    (lambda: CurveDecoder(displacement="yes"), "'displacement'"),
    (lambda: curve_energy(-0.1), "'lam'"),
    (lambda: curve_energy(0.1, L1()), "'regularizer'"),
    (lambda: distance_to_curve(torch.zeros(3, 2), samples=0), "'samples'"),
    (lambda: CurveDecoder().starts(torch.zeros(3)), "'y'"),
    (lambda: CurveDecoder().starts(torch.zeros(3, 2), 0), "'restarts'"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("regularizer", [L1, SquaredL2])
def test_curve_energy_is_the_chapters_energy(regularizer):
    energy = curve_energy(0.7, regularizer)
    assert isinstance(energy, LatentEnergy) and isinstance(energy.decoder, CurveDecoder)
    assert energy.lam == 0.7 and energy.latent_dim == 3 and isinstance(energy.regularizer, regularizer)
    g = torch.Generator().manual_seed(1)
    y = torch.randn(16, 2, generator=g, dtype=torch.float64)
    z = torch.randn(16, 3, generator=g, dtype=torch.float64)
    t, u = z[:, 0], z[:, 1:]
    penalty = u.abs().sum(1) if regularizer is L1 else u.pow(2).sum(1)  # t is free
    expected = (y - curve(t) - u).pow(2).sum(1) + 0.7 * penalty
    torch.testing.assert_close(energy(y, z), expected)


def test_curve_energy_free_energy_needs_the_decoders_starts():
    """With λ = 1 and L1, F ≤ d² (u = 0 is allowed) and F = d² near the curve (the offset is 0)."""
    energy = curve_energy(1.0)
    grid, _ = plane_grid(num=9)
    F = energy.free_energy(grid, z0=energy.decoder.starts(grid)).F
    d = distance_to_curve(grid)
    assert bool((F <= d**2 + 1e-4).all())
    near = d < 0.3
    torch.testing.assert_close(F[near], d[near] ** 2, atol=1e-4, rtol=0)


def test_curve_energy_without_displacement_is_the_squared_distance():
    energy = curve_energy(0.5, displacement=False)
    assert energy.latent_dim == 1
    grid, _ = plane_grid(num=7)
    F = energy.free_energy(grid, z0=energy.decoder.starts(grid)).F
    torch.testing.assert_close(F, distance_to_curve(grid) ** 2, atol=1e-4, rtol=0)
