"""Figures the book draws more than once (:func:`energy_landscapes`, :func:`atom_grid`,
:func:`image_grid`, :func:`fuzzy_balls`), and the lecture's energy-based diagrams
(:func:`energy_diagram`, :func:`vae_springs`).

Labels use mathematics only, so that the English and the French pages share them.
Colours come from perceptually uniform maps that read on light and dark themes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.textpath import TextPath
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from . import _validate as check


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
        ncols: panels per row (default: all the panels in one row); the panels fill the
            rows from the left, and the cells left over are hidden.
        panel_size: inches per panel, in both directions (the colour bar adds 0.8 inch).

    Returns:
        The figure.
    """
    check.require(len(F) == len(titles), "F' and 'titles", "the same length", f"{len(F)} and {len(titles)}")
    grids = []
    for i, f in enumerate(F):
        a = _np(f)
        if a.ndim == 1:
            side = round(np.sqrt(a.size))
            check.require(side * side == a.size, f"F[{i}]", "a square grid (S²,) or (S, S)",
                          f"shape {a.shape}")
            a = a.reshape(side, side)
        grids.append(a)
    vmax = float(max(g.max() for g in grids)) if vmax is None else vmax
    ncols = len(grids) if ncols is None else check.positive_int("ncols", ncols)
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

    Returns:
        The figure.
    """
    a = _np(W)
    n_pixels = int(np.prod(shape))
    columns = a.ndim == 2 and a.shape[0] == n_pixels
    check.require(columns or (a.ndim >= 2 and a[0].size == n_pixels), "W",
                  f"shape ({n_pixels}, m) or (m, *{shape})", f"shape {a.shape}")
    atoms = a.T.reshape(-1, *shape) if columns else a.reshape(-1, *shape)
    m = atoms.shape[0]
    ncols = ncols or int(np.ceil(np.sqrt(m)))
    nrows = int(np.ceil(m / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows),
                             squeeze=False, gridspec_kw={"wspace": 0.06, "hspace": 0.06})
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, atom in zip(axes.flat, atoms, strict=False):
        v = np.abs(atom).max() or 1.0  # each atom on a scale symmetric around 0
        if atom.ndim == 3:  # colour: (3, h, w) → (h, w, 3), scaled to [0, 1] around grey
            ax.imshow(np.clip(0.5 + 0.5 * np.moveaxis(atom, 0, -1) / v, 0, 1))
        else:
            ax.imshow(atom, cmap=cmap, vmin=-v, vmax=v)
    if title:
        fig.suptitle(title)
    return fig


def image_grid(images: Tensor | np.ndarray, rows: int, *, shape: tuple[int, int] | None = None,
               ax: Axes | None = None, cmap: str = "gray_r", vmin: float | None = 0.0,
               vmax: float | None = 1.0, extent: tuple[float, float, float, float] | None = None) -> Axes:
    """Tile images into one picture of ``rows`` rows, filled row by row, and show it.

    One ``imshow`` for all the images, on one colour scale (``atom_grid`` makes one panel per
    atom and scales each around 0, which suits dictionary atoms, not images in [0, 1] such as
    a VAE's samples). The cells after the last image are left blank.

    Args:
        images: num images, (num, h·w) (flattened, as the rows of a data matrix Y) or
            (num, h, w); a tensor (on any device) or an array.
        rows: the number of rows of the grid; it has ceil(num / rows) columns.
        shape: (h, w) of one flattened image (default: square, h = w = √(h·w)).
        ax: the axes to draw on (default: a new figure, 0.5 inch per image).
        cmap: the colour map (default: ink dark on a white page).
        vmin: the value shown white (None: the smallest value).
        vmax: the value shown black (None: the largest value).
        extent: (left, right, bottom, top) in data coordinates, e.g. the codes a grid of
            decoded images spans; with it the axes are kept, without it they are hidden.

    Returns:
        The axes; ``ax.images[-1].get_array()`` is the tiled picture, (rows·h, columns·w).
    """
    a = _np(images).astype(float)
    check.require(a.ndim in (2, 3) and a.shape[0] > 0, "images", "a non-empty (num, h·w) or (num, h, w)",
                  f"shape {a.shape}")
    rows = check.positive_int("rows", rows)
    if a.ndim == 2:
        if shape is None:
            side = round(np.sqrt(a.shape[1]))
            check.require(side * side == a.shape[1], "images", "square images (num, h·h), or pass shape",
                          f"shape {a.shape}")
            shape = (side, side)
        check.require(len(shape) == 2 and int(np.prod(shape)) == a.shape[1], "shape",
                      f"(h, w) with h·w = {a.shape[1]}", repr(shape))
        a = a.reshape(len(a), *shape)
    num, h, w = a.shape
    cols = -(-num // rows)
    padded = np.full((rows * cols, h, w), np.nan)
    padded[:num] = a
    picture = padded.reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * cols, 0.5 * rows))
    ax.imshow(picture, cmap=cmap, vmin=vmin, vmax=vmax, extent=extent)
    if extent is None:
        ax.set_axis_off()
    return ax


def fuzzy_balls(mu: Tensor | np.ndarray, logvar: Tensor | np.ndarray, labels: Tensor | np.ndarray, *,
                ax: Axes | None = None, alpha: float = 0.25, prior: bool = True, lim: float | None = None,
                legend: bool = False) -> Axes:
    """Draw each 2-D code of a VAE as its fuzzy ball: an ellipse of half-axes σ₁, σ₂ at μ.

    ``mu`` and ``logvar`` may come straight from the model, on any device and with their
    gradients: ``fuzzy_balls(*model.encode(Y), labels)``.

    Args:
        mu: the encoder's centres μ, (B, 2).
        logvar: the encoder's log-variances log σ², (B, 2).
        labels: (B,) integer classes (digits), one colour each (tab10).
        ax: the axes to draw on (default: a new 4 × 4 inch figure).
        alpha: the opacity of each ball, in [0, 1] (the centres are drawn opaque); where
            balls overlap their colours add up.
        prior: draw the circle of radius 1, the prior N(0, I)'s one-σ ball, dashed.
        lim: show [−lim, lim]² (default: fit the balls).
        legend: add a legend with one entry per class (the class numbers).

    Returns:
        The axes.
    """
    from matplotlib.collections import EllipseCollection

    m, lv, lab = _np(mu), _np(logvar), _np(labels).astype(int)
    check.require(m.ndim == 2 and m.shape[1] == 2 and lv.shape == m.shape and lab.shape == (m.shape[0],),
                  "mu', 'logvar' and 'labels", "shapes (B, 2), (B, 2) and (B,)",
                  f"{m.shape}, {lv.shape} and {lab.shape}")
    alpha = check.interval("alpha", alpha, 0.0, 1.0)
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


# ---------------------------------------------------------------------------------------------
# The lecture's energy-based diagrams (LeCun's conventions), drawn from code.
#
# One visual vocabulary for every model, so that a reader sees what changes from one to the
# next: the observed variable y is a shaded circle at the bottom left, the latent z a white
# circle at the top, deterministic functions (Dec, Enc, W_d, ...) rounded blue blocks, cost
# terms (C, D, R) red squares, random parts (the noise ε, the sampler, a sampled z) lilac and
# dashed; the energy, the sum of the cost terms, is written under the graph. Every text is
# mathematics, so the English and the French pages share the figures.
# ---------------------------------------------------------------------------------------------

DIAGRAM_MODELS = ("latent-ebm", "sparse-coding", "ista", "encoder-ebm", "conv-autoencoder", "vae")
"""The values of ``model`` that :func:`energy_diagram` draws."""

VARIABLE_KINDS = ("observed", "latent", "random")
"""Kinds of :class:`DiagramElement` drawn as circles (variables)."""

BLOCK_KINDS = ("block", "sampler")
"""Kinds drawn as rounded blocks (functions): deterministic ones, and the VAE's sampler."""

_INK = "#1a1a1a"
_STYLE = {  # face colour, edge colour, line style
    "observed": ("#c4c4c4", _INK, "-"),
    "latent": ("#ffffff", _INK, "-"),
    "random": ("#e6dcf4", "#5b3f8c", "--"),
    "block": ("#d5e5f5", "#2b5d8c", "-"),
    "sampler": ("#e6dcf4", "#5b3f8c", "--"),
    "cost": ("#f9d3d0", "#b8322a", "-"),
    "sum": ("#ffffff", _INK, "-"),
}
_IN_PER_UNIT = 0.68  # inches per diagram unit in a figure that energy_diagram makes itself
_FONT = 14.5  # points, at that scale
_MATH_FONT = "cm"
_R_VAR, _R_SUM, _H_BOX, _PAD = 0.38, 0.2, 0.72, 0.2  # circle radii, block height, text padding
_X = (1.2, 4.2, 7.2, 9.9)  # the columns of the grid every model is drawn on
_Y = (1.0, 3.0, 5.0)  # the rows: y at the bottom, z at the top


@dataclass(frozen=True)
class DiagramElement:
    """One drawn element of an energy-based diagram, kept so that tests can read the structure.

    Attributes:
        kind: "observed", "latent", "random" (variables: circles); "block", "sampler"
            (functions: rounded blocks); "cost" (cost terms: squares); "sum" (an adder ⊕);
            "arrow"; "equation" (the energy, or the update rule, under the graph); "note".
        key: a short name, unique in the diagram: "y", "z", "Dec", "C", ...; for an arrow,
            "src->dst".
        label: the mathtext drawn (for an arrow, its label, "" when it has none).
        src, dst: the keys of the elements an arrow joins (None for the others).
        bounds: (x0, y0, x1, y1), in data coordinates, of a node (None for the others).
        artist: what was drawn: the patch of a node or an arrow, the Text of an equation or
            a note.
        text: the Text of a node's or an arrow's label (None when it has none).
        points: an arrow's vertices in data coordinates, from the outline of ``src`` through
            its corners to the outline of ``dst`` (None for the others).
    """

    kind: str
    key: str
    label: str
    src: str | None = None
    dst: str | None = None
    bounds: tuple[float, float, float, float] | None = None
    artist: Artist | None = field(default=None, compare=False, repr=False)
    text: Text | None = field(default=None, compare=False, repr=False)
    points: tuple[tuple[float, float], ...] | None = None


@dataclass
class Diagram:
    """The registry of a drawn diagram: ``ax.ebm_diagram`` (and in ``fig.ebm_diagrams``)."""

    model: str
    elements: list[DiagramElement] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[DiagramElement]:
        """The elements of the given kinds, in drawing order."""
        return [e for e in self.elements if e.kind in kinds]

    def node(self, key: str) -> DiagramElement:
        """The node (not an arrow) with this key; KeyError if there is none."""
        for e in self.elements:
            if e.key == key and e.kind != "arrow":
                return e
        raise KeyError(key)

    def has_arrow(self, src: str, dst: str) -> bool:
        """Whether an arrow goes from the node ``src`` to the node ``dst``."""
        return any(e.kind == "arrow" and e.src == src and e.dst == dst for e in self.elements)


@dataclass
class _Node:
    kind: str
    key: str
    label: str
    x: float
    y: float
    w: float
    h: float

    @property
    def round(self) -> bool:
        return self.kind in VARIABLE_KINDS or self.kind == "sum"

    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2)

    def boundary(self, toward: tuple[float, float], gap: float = 0.03) -> tuple[float, float]:
        """The point of the outline in the direction of ``toward`` (plus a small gap)."""
        dx, dy = toward[0] - self.x, toward[1] - self.y
        n = float(np.hypot(dx, dy)) or 1.0
        ux, uy = dx / n, dy / n
        if self.round:
            t = self.w / 2
        else:
            t = min(self.w / 2 / abs(ux) if ux else np.inf, self.h / 2 / abs(uy) if uy else np.inf)
        return (self.x + (t + gap) * ux, self.y + (t + gap) * uy)


def _text_size(s: str, size: float = _FONT) -> tuple[float, float]:
    """Width and height of a mathtext string in diagram units, at the reference scale."""
    prop = FontProperties(size=size, math_fontfamily=_MATH_FONT)
    box = TextPath((0, 0), s, size=size, prop=prop).get_extents()
    return float(box.width) / 72 / _IN_PER_UNIT, float(box.height) / 72 / _IN_PER_UNIT


def _text_width(s: str, size: float = _FONT) -> float:
    """Width of a mathtext string in diagram units, at the reference scale."""
    return _text_size(s, size)[0]


class _Builder:
    """Collects nodes, arrows and texts in diagram units, then draws them on an Axes."""

    def __init__(self, model: str):
        self.model = model
        self.nodes: dict[str, _Node] = {}
        self.arrows: list[dict] = []
        self.texts: list[dict] = []

    def var(self, key: str, label: str, x: float, y: float, kind: str = "latent") -> None:
        self.nodes[key] = _Node(kind, key, label, x, y, 2 * _R_VAR, 2 * _R_VAR)

    def box(self, key: str, label: str, x: float, y: float, kind: str = "block") -> None:
        w = _text_width(label) + 2 * _PAD
        w = max(w, _H_BOX if kind == "cost" else 1.15)  # a short cost term is a square
        self.nodes[key] = _Node(kind, key, label, x, y, w, _H_BOX)

    def add(self, key: str, x: float, y: float) -> None:
        self.nodes[key] = _Node("sum", key, "$+$", x, y, 2 * _R_SUM, 2 * _R_SUM)

    def arrow(self, src: str, dst: str, *, via: Sequence[tuple[float, float]] = (), label: str = "",
              at: tuple[float, float] = (0.0, 0.0), seg: int = -1, random: bool = False) -> None:
        """An arrow src → dst through the corner points ``via``; its label sits at ``at`` from
        the middle of segment ``seg`` (default: the longest)."""
        self.arrows.append(dict(src=src, dst=dst, via=list(via), label=label, at=at, seg=seg,
                                random=random))

    def text(self, kind: str, key: str, label: str, x: float, y: float, ha: str = "center",
             size: float = _FONT) -> None:
        self.texts.append(dict(kind=kind, key=key, label=label, x=x, y=y, ha=ha, size=size))

    def equation(self, label: str) -> None:
        x0 = min(n.bounds()[0] for n in self.nodes.values())
        x1 = max(n.bounds()[2] for n in self.nodes.values())
        self.text("equation", "E", label, (x0 + x1) / 2, _Y[0] - 1.05, size=_FONT + 1)

    # ----------------------------------------------------------------------------------------
    def _extent(self) -> tuple[float, float, float, float]:
        b = np.array([n.bounds() for n in self.nodes.values()])
        x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
        for t in self.texts:
            w, h = _text_size(t["label"], t["size"])
            left = t["x"] - (w / 2 if t["ha"] == "center" else 0 if t["ha"] == "left" else w)
            x0, x1 = min(x0, left), max(x1, left + w)
            y0, y1 = min(y0, t["y"] - h / 2 - 0.05), max(y1, t["y"] + h / 2 + 0.05)
        y0, y1 = min(y0, _Y[0] - 1.38), max(y1, _Y[2] + _R_VAR)  # one height for every model
        m = 0.2
        return float(x0 - m), float(x1 + m), float(y0 - m), float(y1 + m)

    def draw(self, ax: Axes | None) -> Figure:
        left, right, bottom, top = self._extent()
        if ax is None:
            fig, ax = plt.subplots(figsize=((right - left) * _IN_PER_UNIT, (top - bottom) * _IN_PER_UNIT))
            fig.subplots_adjust(0, 0, 1, 1)
        fig = ax.figure
        fig.patch.set_facecolor("white")
        fig.patch.set_alpha(1.0)
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
        ax.set_aspect("equal", adjustable="box")
        ax.set_axis_off()
        # scale fonts and lines with the size the diagram gets in the axes
        pos = ax.get_position()
        w_in, h_in = pos.width * fig.get_figwidth(), pos.height * fig.get_figheight()
        f = min(w_in / (right - left), h_in / (top - bottom)) / _IN_PER_UNIT
        diagram = Diagram(self.model)

        for n in self.nodes.values():
            fc, ec, ls = _STYLE[n.kind]
            if n.round:
                patch = Circle((n.x, n.y), n.w / 2, fc=fc, ec=ec, ls=ls, lw=1.4 * f, zorder=2)
            elif n.kind == "cost":
                patch = Rectangle((n.x - n.w / 2, n.y - n.h / 2), n.w, n.h, fc=fc, ec=ec, ls=ls,
                                  lw=1.4 * f, zorder=2)
            else:
                p = 0.12
                patch = FancyBboxPatch((n.x - n.w / 2 + p, n.y - n.h / 2 + p), n.w - 2 * p, n.h - 2 * p,
                                       boxstyle=f"round,pad={p},rounding_size={1.6 * p}", fc=fc, ec=ec,
                                       ls=ls, lw=1.4 * f, zorder=2)
            ax.add_patch(patch)
            size = (_FONT + 1 if n.kind in VARIABLE_KINDS else _FONT) * f
            text = ax.text(n.x, n.y, n.label, ha="center", va="center", fontsize=size, color=_INK,
                           math_fontfamily=_MATH_FONT, zorder=3)
            diagram.elements.append(DiagramElement(n.kind, n.key, n.label, bounds=n.bounds(),
                                                   artist=patch, text=text))

        for a in self.arrows:
            s, d = self.nodes[a["src"]], self.nodes[a["dst"]]
            via = a["via"]
            pts = [s.boundary(via[0] if via else (d.x, d.y)), *via,
                   d.boundary(via[-1] if via else (s.x, s.y))]
            colour = _STYLE["random"][1] if a["random"] else _INK
            arrow = FancyArrowPatch(path=MplPath(pts), arrowstyle="-|>", mutation_scale=15 * f,
                                    lw=1.3 * f, color=colour, shrinkA=0, shrinkB=0, zorder=1,
                                    ls="--" if a["random"] else "-", joinstyle="miter")
            ax.add_patch(arrow)
            text = None
            if a["label"]:
                lengths = [np.hypot(q[0] - p[0], q[1] - p[1]) for p, q in pairwise(pts)]
                k = int(np.argmax(lengths)) if a["seg"] == -1 else a["seg"]
                mx, my = (pts[k][0] + pts[k + 1][0]) / 2, (pts[k][1] + pts[k + 1][1]) / 2
                dx, dy = a["at"]
                ha = "left" if dx > 0 else "right" if dx < 0 else "center"
                va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
                text = ax.text(mx + dx, my + dy, a["label"], ha=ha, va=va, fontsize=(_FONT - 0.5) * f,
                               color=_INK, math_fontfamily=_MATH_FONT, zorder=3)
            diagram.elements.append(DiagramElement("arrow", f"{a['src']}->{a['dst']}", a["label"],
                                                   src=a["src"], dst=a["dst"], artist=arrow, text=text,
                                                   points=tuple((float(p[0]), float(p[1])) for p in pts)))

        for t in self.texts:
            text = ax.text(t["x"], t["y"], t["label"], ha=t["ha"], va="center", fontsize=t["size"] * f,
                           color=_INK, math_fontfamily=_MATH_FONT, zorder=3)
            diagram.elements.append(DiagramElement(t["kind"], t["key"], t["label"], artist=text, text=text))

        ax.ebm_diagram = diagram
        if not hasattr(fig, "ebm_diagrams"):
            fig.ebm_diagrams = []
        fig.ebm_diagrams.append(diagram)
        return fig


def _decoder_half(b: _Builder, *, y: str, z: str, dec: str, cost_c: str, ybar: str,
                  z_kind: str = "latent") -> None:
    """The part every model shares: y, C(y, ȳ), the decoder and the latent z above it."""
    b.var("y", y, _X[0], _Y[0], "observed")
    b.box("C", cost_c, _X[0], _Y[1], "cost")
    b.box("Dec", dec, _X[1], _Y[1])
    b.var("z", z, _X[1], _Y[2], z_kind)
    b.arrow("y", "C")
    b.arrow("z", "Dec")
    b.arrow("Dec", "C", label=ybar, at=(0.0, 0.1))


def _latent_ebm(b: _Builder, *, sparse: bool) -> None:
    if sparse:
        _decoder_half(b, y="$y$", z="$z$", dec="$W_d\\, z$", cost_c=r"$\Vert y - \bar y \Vert^2$",
                      ybar=r"$\bar y$")
        b.box("R", r"$\Vert z \Vert_1$", _X[2], _Y[2], "cost")
        b.equation(r"$E(y, z) = \Vert y - W_d\, z \Vert^2 + \lambda \Vert z \Vert_1$")
    else:
        _decoder_half(b, y="$y$", z="$z$", dec=r"$\mathrm{Dec}$", cost_c="$C$", ybar=r"$\bar y$")
        b.box("R", "$R$", _X[2], _Y[2], "cost")
        b.equation(r"$E(y, z) = C(y, \bar y) + \lambda R(z)$")
    b.arrow("z", "R")


def _encoder_ebm(b: _Builder, *, conv: bool) -> None:
    if conv:
        _decoder_half(b, y="$y$", z="$Z$", dec=r"${\sum}_i W_{d{,}i} * Z_i$",
                      cost_c=r"$\frac{1}{2} \Vert y - \bar y \Vert^2$", ybar=r"$\bar y$")
        b.box("R", r"$\Vert Z \Vert_1$", _X[2], _Y[2], "cost")
        b.box("D", r"$\frac{\alpha}{2} \Vert Z - \bar Z \Vert^2$", _X[2], _Y[1], "cost")
        b.box("Enc", r"$g_i\, h_{\theta_i}(W_{e{,}i} \star y + b_i)$", _X[2], _Y[0])
        zbar = r"$\bar Z$"
        energy = (r"$E_\alpha(Z, y) = \frac{1}{2} \Vert y - {\sum}_i W_{d{,}i} * Z_i \Vert^2"
                  r" + \lambda \Vert Z \Vert_1 + \frac{\alpha}{2} \Vert Z - \bar Z \Vert^2$")
    else:
        _decoder_half(b, y="$y$", z="$z$", dec=r"$\mathrm{Dec}$", cost_c="$C$", ybar=r"$\bar y$")
        b.box("R", "$R$", _X[2], _Y[2], "cost")
        b.box("D", "$D$", _X[2], _Y[1], "cost")
        b.box("Enc", r"$\mathrm{Enc}$", _X[2], _Y[0])
        zbar = r"$\bar z$"
        energy = r"$E(y, z) = C(y, \bar y) + D(z, \bar z) + \lambda R(z)$"
    b.arrow("z", "R")
    b.arrow("z", "D")
    b.arrow("y", "Enc")
    b.arrow("Enc", "D", label=zbar, at=(0.12, 0.0))
    b.equation(energy)


def _ista(b: _Builder) -> None:
    b.var("y", "$y$", _X[0], _Y[0], "observed")
    b.box("We", r"$W_e^\top$", (_X[0] + _X[1]) / 2 - 0.1, _Y[0])
    b.add("sum", _X[1], _Y[0])
    b.box("h", r"$h_\theta$", _X[1], _Y[1])
    b.var("z", "$z$", _X[1], _Y[2])
    b.box("S", "$S$", _X[2], _Y[1])
    b.arrow("y", "We")
    b.arrow("We", "sum")
    b.arrow("sum", "h")
    b.arrow("h", "z", label="$z(t+1)$", at=(0.14, 0.0))
    b.arrow("z", "S", via=[(_X[2], _Y[2])], label="$z(t)$", at=(0.0, 0.1), seg=0)
    b.arrow("S", "sum", via=[(_X[2], _Y[0])])
    b.equation(r"$z(t+1) = h_\theta\left(W_e^\top y + S\, z(t)\right)$")


def _vae(b: _Builder) -> None:
    _decoder_half(b, y="$y$", z="$z$", dec=r"$\mathrm{Dec}$", cost_c="$C$", ybar=r"$\bar y$",
                  z_kind="random")
    b.box("Enc", r"$\mathrm{Enc}$", _X[2], _Y[0])
    b.box("sampler", r"$\mu + \sigma \odot \varepsilon$", _X[2], _Y[1], "sampler")
    b.var("eps", r"$\varepsilon$", _X[2], _Y[2], "random")
    b.box("R", "$R$", _X[3], _Y[1], "cost")
    b.arrow("y", "Enc")
    b.arrow("Enc", "sampler", label=r"$\mu, \sigma$", at=(-0.12, 0.0))
    b.arrow("Enc", "R", via=[(_X[3], _Y[0])])
    b.arrow("eps", "sampler", random=True)
    b.arrow("sampler", "z", random=True)
    b.text("note", "prior", r"$\varepsilon \sim \mathcal{N}(0, I)$", _X[2] + _R_VAR + 0.2, _Y[2], ha="left")
    b.equation(r"$E = C(y, \bar y) + \beta R, \quad "
               r"R = \mathrm{KL}\left(q(z \mid y) \,\Vert\, \mathcal{N}(0, I)\right)$")


def energy_diagram(model: str, *, ax: Axes | None = None) -> Figure:
    r"""Draw one of the lecture's energy-based diagrams, in LeCun's conventions.

    The observed variable y is a shaded circle (bottom left), the latent variable z a white
    circle (top); deterministic functions are rounded blue blocks, cost terms red squares,
    random parts (the noise ε, the sampler, a sampled z) lilac and dashed. The energy, the sum
    of the cost terms, is written under the graph. All the models share one grid, so that
    what changes from one to the next stands out. Every text is mathematics (no words).

    Args:
        model: which diagram:

            * ``"latent-ebm"`` (lecture Fig. 1): z → Dec → ȳ, y and ȳ → C(y, ȳ), z → R(z);
              E(y, z) = C(y, ȳ) + λR(z).
            * ``"sparse-coding"``: the same graph with the decoder W_d z and the costs
              ‖y − ȳ‖², ‖z‖₁; E(y, z) = ‖y − W_d z‖² + λ‖z‖₁.
            * ``"ista"`` (Fig. 2): ISTA as a recurrent network, y → W_eᵀ → ⊕ → h_θ → z(t+1),
              fed back as z(t) → S → ⊕: z(t+1) = h_θ(W_eᵀy + S z(t)). W_e, S and θ are left
              generic, because their values depend on the energy's convention (with
              E = ‖y − W_d z‖² + λ‖z‖₁: W_e = (2/L) W_d, S = I − (2/L) W_dᵀW_d, θ = λ/L).
            * ``"encoder-ebm"`` (Fig. 3, PSD and LISTA): y → Enc → z̄, D(z, z̄) between the
              latent and the prediction; E(y, z) = C(y, ȳ) + D(z, z̄) + λR(z).
            * ``"conv-autoencoder"``: the same graph, convolutional: decoder Σ_i W_{d{,}i} ∗ Z_i,
              encoder g_i h_{θ_i}(W_{e{,}i} ⋆ y + b_i), and the PSD energy E_α(Z, y).
            * ``"vae"`` (Fig. 8): y → Enc → (μ, σ); the sampler z = μ + σ ⊙ ε with
              ε ~ N(0, I) (random parts dashed); z → Dec → ȳ → C(y, ȳ); the KL term R on
              (μ, σ); E = C + βR.
        ax: draw in these axes (their figure gets an opaque white background); default: a
            new figure sized to the diagram.

    Returns:
        The figure. The axes carry ``ax.ebm_diagram``, a :class:`Diagram` that lists every
        drawn element (kind, key, label, and for arrows the keys they join), and the figure
        ``fig.ebm_diagrams``, the list of the diagrams drawn in it.

    Raises:
        InvalidArgumentError: ``model`` is not one of :data:`DIAGRAM_MODELS`.
    """
    check.choice("model", model, DIAGRAM_MODELS)
    b = _Builder(model)
    if model in ("latent-ebm", "sparse-coding"):
        _latent_ebm(b, sparse=model == "sparse-coding")
    elif model in ("encoder-ebm", "conv-autoencoder"):
        _encoder_ebm(b, conv=model == "conv-autoencoder")
    elif model == "ista":
        _ista(b)
    else:
        _vae(b)
    return b.draw(ax)


def _spring(p0: np.ndarray, p1: np.ndarray, *, coils: int = 7, amplitude: float = 0.06,
            lead: float = 0.15) -> np.ndarray:
    """Vertices of a zig-zag spring from p0 to p1: straight leads at both ends (a fraction
    ``lead`` of the length each), ``coils`` zig-zags of half-width ``amplitude`` between."""
    d = p1 - p0
    n = float(np.hypot(*d))
    if n == 0.0:
        return np.stack([p0, p1])
    u, v = d / n, np.array([-d[1], d[0]]) / n
    t = np.linspace(lead, 1 - lead, 2 * coils + 1)
    side = np.zeros_like(t)
    side[1:-1:2], side[2:-1:2] = 1.0, -1.0
    pts = p0 + np.outer(t * n, u) + np.outer(side * amplitude, v)
    return np.vstack([p0, pts, p1])


def vae_springs(mu: Tensor | np.ndarray, sigma: Tensor | np.ndarray, *, ax: Axes | None = None,
                origin_spring: bool = True, prior: bool = True) -> Figure:
    r"""The VAE's codes as fuzzy balls held by springs (lecture Figs. 9–11).

    Each code is the ball of the Gaussian q(z | y) = N(μ, diag σ²): an ellipse of half-axes
    σ₁, σ₂ around its mean μ. The KL term R = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1) pulls every
    mean towards the origin like a spring of energy ½‖μ‖² (and every σ_j towards 1); without
    it the balls fly away from the origin (Fig. 9 (b)).

    Args:
        mu: the means μ, (N, 2) (a tensor or an array).
        sigma: the standard deviations σ > 0, (N, 2), the same shape as ``mu``.
        ax: draw in these axes (their figure gets an opaque white background); default: a new
            4.5 × 4.5 inch figure.
        origin_spring: draw the springs (zig-zags from the origin to each μ), as the KL term
            pulls them; False draws the balls alone (the model without the KL term).
        prior: draw the unit circle, the one-σ ball of the prior N(0, I), dashed.

    Returns:
        The figure. ``ax.ebm_diagram`` (a :class:`Diagram`, model ``"vae-springs"``) lists the
        drawn elements: N "ball", N "spring" (when ``origin_spring``), one "prior".

    Raises:
        InvalidArgumentError: ``mu`` or ``sigma`` is not (N, 2) with N ≥ 1, their shapes differ,
            an entry is not finite, or a σ is not > 0.
    """
    m, s = _np(mu).astype(float), _np(sigma).astype(float)
    for name, a in (("mu", m), ("sigma", s)):
        check.require(a.ndim == 2 and a.shape[1] == 2 and a.shape[0] >= 1, name,
                      "shape (N, 2) with N >= 1", a.shape)
        check.require(bool(np.isfinite(a).all()), name, "finite values", "NaN or inf")
    check.require(m.shape == s.shape, "mu' and 'sigma", "the same shape (N, 2)", f"{m.shape} and {s.shape}")
    bad = np.argwhere(s <= 0)
    check.require(len(bad) == 0, "sigma", "standard deviations > 0",
                  f"{s[bad[0, 0]].tolist()} in row {bad[0, 0]}" if len(bad) else "")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5), constrained_layout=True)
    fig = ax.figure
    fig.patch.set_facecolor("white")
    fig.patch.set_alpha(1.0)
    ax.set_facecolor("white")
    lim = float(max(np.abs(m).max() + s.max(), 1.0) * 1.12)  # at least the prior's unit ball
    diagram = Diagram("vae-springs")
    colours = plt.get_cmap("tab10")(np.arange(len(m)) % 10)
    if prior:
        unit = Circle((0, 0), 1.0, fc="none", ec="0.45", ls="--", lw=1.0, zorder=1)
        ax.add_patch(unit)
        diagram.elements.append(DiagramElement("prior", "prior", "", bounds=(-1.0, -1.0, 1.0, 1.0),
                                               artist=unit))
    for i, (c, sd, colour) in enumerate(zip(m, s, colours, strict=True)):
        ball = Ellipse(tuple(c), 2 * sd[0], 2 * sd[1], fc=(*colour[:3], 0.28), ec=colour, lw=1.2, zorder=2)
        ax.add_patch(ball)
        ax.plot(*c, "o", ms=3.5, color=colour, zorder=4)
        diagram.elements.append(DiagramElement("ball", f"ball{i}", "", bounds=(
            c[0] - sd[0], c[1] - sd[1], c[0] + sd[0], c[1] + sd[1]), artist=ball))
        if origin_spring:
            length = float(np.hypot(*c))
            v = _spring(np.zeros(2), c, amplitude=min(0.022 * lim, 0.1 * length))
            (line,) = ax.plot(v[:, 0], v[:, 1], color="#404040", lw=0.9, zorder=3)
            diagram.elements.append(DiagramElement("spring", f"spring{i}", "", src="origin", dst=f"ball{i}",
                                                   artist=line))
    ax.plot(0, 0, "+", ms=9, mew=1.4, color=_INK, zorder=5)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$z_1$", ylabel="$z_2$")
    for axis in (ax.xaxis, ax.yaxis):  # whole numbers: the same in both languages (no 0.5 / 0,5)
        axis.set_major_locator(MaxNLocator(nbins=6, integer=True, symmetric=True))
    ax.ebm_diagram = diagram
    if not hasattr(fig, "ebm_diagrams"):
        fig.ebm_diagrams = []
    fig.ebm_diagrams.append(diagram)
    return fig
