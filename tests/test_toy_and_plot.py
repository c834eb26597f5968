"""ebmlib.toy and ebmlib.plot: the chapter-1 world and the small multiple."""

import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from ebmlib.plot import energy_landscapes
from ebmlib.toy import CurveDecoder, curve, distance_to_curve, plane_grid, sample_curve


def test_samples_are_near_the_curve_and_reproducible(device):
    y = sample_curve(200, noise=0.02, seed=3, device=device)
    assert y.shape == (200, 2) and y.device.type == device.type
    assert float(distance_to_curve(y).max()) < 0.1
    torch.testing.assert_close(y, sample_curve(200, noise=0.02, seed=3, device=device))


def test_curve_passes_through_its_lobes():
    t = torch.tensor([0.0, math.pi / 3])
    torch.testing.assert_close(curve(t), torch.tensor([[1.3, 0.0], [0.35, 0.7 * math.sin(math.pi / 3)]]))


def test_grid_and_extent(device):
    g, extent = plane_grid(lim=1.0, steps=5, device=device)
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
    (lambda: CurveDecoder().starts(torch.zeros(3)), "'y'"),
    (lambda: CurveDecoder().starts(torch.zeros(3, 2), 0), "'restarts'"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_small_multiple_has_one_panel_per_energy():
    F = [torch.rand(49), torch.rand(7, 7), torch.rand(49)]
    fig = energy_landscapes(F, ["a", "b", "c"], (-1, 1, -1, 1), data=torch.zeros(3, 2), ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(visible) == 3
    assert [ax.get_title() for ax in visible] == ["a", "b", "c"]


def test_small_multiple_rejects_bad_input():
    with pytest.raises(ValueError, match="'F' and 'titles'"):
        energy_landscapes([torch.rand(4)], ["a", "b"], (-1, 1, -1, 1))
    with pytest.raises(ValueError, match=r"'F\[0\]'.*square"):
        energy_landscapes([torch.rand(5)], ["a"], (-1, 1, -1, 1))


def test_atom_grid_shows_every_atom():
    from ebmlib.plot import atom_grid

    fig = atom_grid(torch.randn(36, 10), (6, 6), ncols=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10
    with pytest.raises(ValueError, match="'W'"):
        atom_grid(torch.randn(35, 10), (6, 6))
