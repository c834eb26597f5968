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


def fuzzy_balls(mu: Tensor | np.ndarray, logvar: Tensor | np.ndarray, labels: Tensor | np.ndarray, *,
                ax=None, alpha: float = 0.25, prior: bool = True, lim: float | None = None,
                legend: bool = False):
    """Draw each 2-D code of a VAE as its fuzzy ball: an ellipse of half-axes σ₁, σ₂ at μ.

    Args:
        mu, logvar: the encoder's μ and log σ², (B, 2).
        labels: (B,) integer classes (digits), one colour each (tab10).
        ax: the axes to draw on (default: a new 4 × 4 inch figure).
        prior: draw the circle of radius 1, the prior N(0, I)'s one-σ ball, dashed.
        lim: show [−lim, lim]² (default: fit the balls).
        legend: add a legend with one entry per class (the class numbers).

    Returns:
        The axes.
    """
    from matplotlib.collections import EllipseCollection

    m, lv, lab = _np(mu), _np(logvar), _np(labels).astype(int)
    if m.ndim != 2 or m.shape[1] != 2 or lv.shape != m.shape or lab.shape != (m.shape[0],):
        raise ValueError(f"arguments 'mu', 'logvar', 'labels': expected shapes (B, 2), (B, 2), (B,), "
                         f"received {m.shape}, {lv.shape}, {lab.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    sigma = np.exp(0.5 * lv)
    colours = plt.get_cmap("tab10")(lab % 10)
    colours[:, 3] = alpha
    balls = EllipseCollection(2 * sigma[:, 0], 2 * sigma[:, 1], np.zeros(len(m)), units="xy",
                              offsets=m, offset_transform=ax.transData, facecolors=colours,
                              edgecolors="none")
    ax.add_collection(balls)
    ax.scatter(m[:, 0], m[:, 1], s=1.5, c=colours[:, :3], edgecolors="none")
    if prior:
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(np.cos(t), np.sin(t), "k--", lw=0.8)
    if lim is None:
        lim = float(max(np.abs(m).max() + sigma.max(), 1.2)) * 1.05
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$z_1$", ylabel="$z_2$")
    if legend:
        for k in np.unique(lab):
            ax.scatter([], [], s=20, color=plt.get_cmap("tab10")(k % 10), label=str(k))
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, handletextpad=0.1)
    return ax
