"""ebmlib.plot: the image grid, the fuzzy balls, and the errors of the figures the book draws."""

import matplotlib.pyplot as plt  # the Agg backend: tests/conftest.py
import numpy as np
import pytest
import torch
from matplotlib.collections import EllipseCollection

from ebmlib import InvalidArgumentError
from ebmlib.plot import atom_grid, energy_landscapes, fuzzy_balls, image_grid


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def numbered(num, h=3, w=2):
    """num images (num, h·w) whose every pixel holds the image's number."""
    return torch.arange(num, dtype=torch.float32)[:, None].expand(num, h * w)


# -- image_grid --------------------------------------------------------------------------

def test_image_grid_tiles_the_images_row_by_row():
    images = torch.rand(6, 4 * 5)
    ax = image_grid(images, rows=2, shape=(4, 5))
    picture = ax.images[-1].get_array()
    assert picture.shape == (2 * 4, 3 * 5)
    for k in range(6):
        row, col = divmod(k, 3)
        np.testing.assert_allclose(picture[4 * row:4 * row + 4, 5 * col:5 * col + 5],
                                   images[k].reshape(4, 5).numpy(), rtol=1e-6)
    assert not ax.axison  # without an extent the axes are hidden


def test_image_grid_is_the_chapters_tile():
    """The VAE chapter's former ``tile``: reshape(rows, -1, 28, 28), permute, reshape."""
    images = torch.rand(12, 784)
    tile = images.reshape(3, -1, 28, 28).permute(0, 2, 1, 3).reshape(3 * 28, -1)
    np.testing.assert_allclose(image_grid(images, rows=3).images[-1].get_array(), tile.numpy(), rtol=1e-6)


def test_image_grid_accepts_shaped_images_and_leaves_the_last_cells_blank():
    ax = image_grid(numbered(5).reshape(5, 3, 2), rows=2)
    picture = np.ma.filled(ax.images[-1].get_array(), np.nan)
    assert picture.shape == (6, 6)
    assert np.all(picture[3:, 4:] != picture[3:, 4:])  # NaN: the sixth cell is blank
    assert picture[3, 2] == 4 and picture[0, 4] == 2


def test_image_grid_draws_on_given_axes_with_the_colour_scale_and_extent():
    _, (a, b) = plt.subplots(1, 2)
    out = image_grid(torch.rand(4, 9), rows=2, ax=b, extent=(-1, 1, -1, 1), vmin=None, vmax=None)
    assert out is b and not a.images
    image = b.images[-1]
    assert image.get_extent() == [-1, 1, -1, 1] and b.axison
    assert image.get_cmap().name == "gray_r"
    clim = image.get_clim()
    data = image.get_array()
    assert clim == (float(data.min()), float(data.max()))
    assert image_grid(torch.rand(4, 9), rows=2).images[-1].get_clim() == (0.0, 1.0)


def test_image_grid_takes_tensors_on_any_device_with_gradients(device):
    images = torch.rand(4, 16, device=device, requires_grad=True)
    picture = image_grid(images * 1.0, rows=1).images[-1].get_array()
    assert picture.shape == (4, 16)


@pytest.mark.parametrize("call, match", [
    (lambda: image_grid(torch.rand(4, 10), rows=2), r"argument 'images': expected square images.*\(4, 10\)"),
    (lambda: image_grid(torch.rand(4, 10), rows=2, shape=(3, 3)),
     r"argument 'shape': expected \(h, w\) with h·w = 10, received \(3, 3\)"),
    (lambda: image_grid(torch.rand(4), rows=2), r"argument 'images': expected a non-empty"),
    (lambda: image_grid(torch.rand(0, 4), rows=1), r"argument 'images'.*shape \(0, 4\)"),
    (lambda: image_grid(torch.rand(4, 9), rows=0), r"argument 'rows': expected an integer >= 1"),
])
def test_image_grid_names_the_bad_argument(call, match):
    with pytest.raises(InvalidArgumentError, match=match):
        call()


# -- fuzzy_balls -------------------------------------------------------------------------

def test_fuzzy_balls_draws_one_ellipse_of_half_axes_sigma_per_code():
    mu = torch.tensor([[0.0, 1.0], [2.0, -1.0], [-3.0, 0.5]])
    logvar = torch.log(torch.tensor([[0.25, 1.0], [4.0, 0.04], [1.0, 1.0]]))
    ax = fuzzy_balls(mu, logvar, torch.tensor([0, 1, 7]), legend=True)
    (balls,) = [c for c in ax.collections if isinstance(c, EllipseCollection)]
    assert len(balls.get_offsets()) == 3
    torch.testing.assert_close(torch.as_tensor(balls._widths).float(), torch.tensor([1.0, 4.0, 2.0]) / 2)
    torch.testing.assert_close(torch.as_tensor(balls._heights).float(), torch.tensor([2.0, 0.4, 2.0]) / 2)
    assert ax.get_xlim()[1] >= 3.0 + 1.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "7"]
    np.testing.assert_allclose(balls.get_facecolors()[:, 3], 0.25)  # alpha, the balls' opacity


def test_fuzzy_balls_takes_the_encoders_output_directly(device):
    from ebmlib.vae import VAE

    model = VAE(12, 8, 2, seed=0).to(device)
    ax = fuzzy_balls(*model.encode(torch.rand(5, 12, device=device)), torch.arange(5), alpha=0.5)
    (balls,) = [c for c in ax.collections if isinstance(c, EllipseCollection)]
    assert len(balls.get_offsets()) == 5
    np.testing.assert_allclose(balls.get_facecolors()[:, 3], 0.5)


@pytest.mark.parametrize("change, match", [
    (dict(logvar=torch.zeros(2, 2)), r"arguments 'mu', 'logvar' and 'labels': expected shapes \(B, 2\), "
                                     r"\(B, 2\) and \(B,\), received \(3, 2\), \(2, 2\) and \(3,\)"),
    (dict(labels=torch.zeros(3, 1)), "arguments 'mu', 'logvar' and 'labels'"),
    (dict(alpha=1.5), r"argument 'alpha': expected a number in \[0.0, 1.0\], received 1.5"),
])
def test_fuzzy_balls_names_the_bad_argument(change, match):
    args = dict(mu=torch.zeros(3, 2), logvar=torch.zeros(3, 2), labels=torch.zeros(3))
    args.update(change)
    alpha = args.pop("alpha", 0.25)
    with pytest.raises(InvalidArgumentError, match=match):
        fuzzy_balls(**args, alpha=alpha)


# -- the small multiple and the atom grid: one error type --------------------------------

def test_energy_landscapes_ncols_and_panel_size_set_the_layout():
    fig = energy_landscapes([torch.rand(9)] * 5, list("abcde"), (-1, 1, -1, 1), ncols=2, panel_size=2.0)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 6 and sum(ax.get_visible() for ax in panels) == 5  # 3 rows of 2, one hidden
    np.testing.assert_allclose(fig.get_size_inches(), (2.0 * 2 + 0.8, 2.0 * 3))
    one_row = energy_landscapes([torch.rand(9)] * 3, list("abc"), (-1, 1, -1, 1))
    np.testing.assert_allclose(one_row.get_size_inches(), (2.6 * 3 + 0.8, 2.6))


@pytest.mark.parametrize("call, match", [
    (lambda: energy_landscapes([torch.rand(4)], ["a", "b"], (-1, 1, -1, 1)),
     "arguments 'F' and 'titles': expected the same length, received 1 and 2"),
    (lambda: energy_landscapes([torch.rand(5)], ["a"], (-1, 1, -1, 1)), r"argument 'F\[0\]'.*square"),
    (lambda: energy_landscapes([torch.rand(4)], ["a"], (-1, 1, -1, 1), ncols=0), "argument 'ncols'"),
    (lambda: atom_grid(torch.randn(35, 10), (6, 6)), r"argument 'W': expected shape \(36, m\)"),
])
def test_figures_raise_the_one_argument_error(call, match):
    with pytest.raises(InvalidArgumentError, match=match):
        call()


# -- energy landscapes and atom grids ---------------------------------------------------

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
    fig = atom_grid(torch.randn(36, 10), (6, 6), ncols=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10
    with pytest.raises(ValueError, match="'W'"):
        atom_grid(torch.randn(35, 10), (6, 6))
