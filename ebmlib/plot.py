"""Figures the book draws more than once.

Labels use mathematics only, so that the English and the French pages share them.
Colours come from perceptually uniform maps that read on light and dark themes.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from torch import Tensor


def _np(t: Tensor | np.ndarray) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t)


def energy_landscapes(F: Sequence[Tensor], titles: Sequence[str],
                      extent: tuple[float, float, float, float], *,
                      data: Tensor | None = None, vmax: float | None = None,
                      gamma: float = 0.5, ncols: int | None = None,
                      panel_size: float = 2.6) -> Figure:
    """A small multiple of 2-D energy landscapes on one shared colour scale.

    Args:
        F: one energy per panel, each of shape (S, S) (rows follow the vertical axis y₂)
            or (S²,) for a square grid made by :func:`ebmlib.toy.plane_grid`.
        titles: one title per panel (mathematics, e.g. ``r"$\\lambda = 0.1$"``).
        extent: (left, right, bottom, top) of the grid.
        data: optional points (N, 2) drawn on every panel.
        vmax: top of the colour scale (default: the largest energy shown).
        gamma: power-law colour scale; < 1 spreads out the low energies.
    """
    if len(F) != len(titles):
        raise ValueError(f"arguments 'F' and 'titles': expected the same length, "
                         f"received {len(F)} and {len(titles)}")
    grids = []
    for i, f in enumerate(F):
        a = _np(f)
        if a.ndim == 1:
            side = round(np.sqrt(a.size))
            if side * side != a.size:
                raise ValueError(f"argument 'F[{i}]': expected a square grid (S², ) or (S, S), "
                                 f"received shape {a.shape}")
            a = a.reshape(side, side)
        grids.append(a)
    vmax = float(max(g.max() for g in grids)) if vmax is None else vmax
    ncols = ncols or len(grids)
    nrows = int(np.ceil(len(grids) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols + 0.8, panel_size * nrows),
                             squeeze=False, sharex=True, sharey=True, constrained_layout=True)
    norm = PowerNorm(gamma, vmin=0.0, vmax=max(vmax, 1e-12))
    im = None
    for ax, g, title in zip(axes.flat, grids, titles, strict=False):
        im = ax.imshow(g, origin="lower", extent=extent, cmap="viridis", norm=norm,
                       interpolation="bilinear")
        if data is not None:
            d = _np(data)
            ax.scatter(d[:, 0], d[:, 1], s=2, c="white", edgecolors="none", alpha=0.7)
        ax.set_title(title)
        ax.set_aspect("equal")
    for ax in axes.flat[len(grids):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("$y_1$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$y_2$")
    fig.colorbar(im, ax=axes, shrink=0.85, label="$F(y)$")
    return fig


def atom_grid(W: Tensor | np.ndarray, shape: tuple[int, ...], *, ncols: int | None = None,
              panel_size: float = 0.45, title: str | None = None, cmap: str = "gray") -> Figure:
    """Show the columns of a dictionary W_d (n, m) as a grid of m small images.

    Args:
        W: the dictionary, (n, m), n = prod(shape); or (m, *shape) already shaped (e.g.
            convolution kernels (m, h, w)).
        shape: the image shape of one atom, (h, w) or (3, h, w) for colour atoms.
        ncols: columns of the grid (default: a square-ish grid).
        panel_size: inches per atom.
        title: optional figure title.
        cmap: colour map for grey atoms; each atom uses a scale symmetric around 0, so
            mid-grey is zero.
    """
    a = _np(W)
    n_pixels = int(np.prod(shape))
    if a.ndim == 2 and a.shape[0] == n_pixels:
        atoms = a.T.reshape(-1, *shape)
    elif a.ndim >= 2 and a[0].size == n_pixels:
        atoms = a.reshape(-1, *shape)
    else:
        raise ValueError(f"argument 'W': expected shape ({n_pixels}, m) or (m, *{shape}), "
                         f"received {a.shape}")
    m = atoms.shape[0]
    ncols = ncols or int(np.ceil(np.sqrt(m)))
    nrows = int(np.ceil(m / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows),
                             squeeze=False, gridspec_kw={"wspace": 0.06, "hspace": 0.06})
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, atom in zip(axes.flat, atoms, strict=False):
        if atom.ndim == 3:  # colour: (3, h, w) → (h, w, 3), scaled to [0, 1] around grey
            v = np.abs(atom).max() or 1.0
            ax.imshow(np.clip(0.5 + 0.5 * np.moveaxis(atom, 0, -1) / v, 0, 1))
        else:
            v = np.abs(atom).max() or 1.0
            ax.imshow(atom, cmap=cmap, vmin=-v, vmax=v)
    if title:
        fig.suptitle(title)
    return fig
