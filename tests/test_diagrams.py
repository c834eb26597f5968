"""ebmlib.plot.energy_diagram and vae_springs: the lecture's diagrams, drawn from code.

The diagrams keep a registry of what they draw (``ax.ebm_diagram``), so these tests read
the structure (which variables, blocks, cost terms, and which arrows join them) as well as
the artists themselves (texts, patches, the rendered background).
"""

from __future__ import annotations

import io
import itertools
import re

import matplotlib.pyplot as plt  # the Agg backend: tests/conftest.py
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.text import Text

from ebmlib import InvalidArgumentError
from ebmlib.plot import DIAGRAM_MODELS, Diagram, energy_diagram, vae_springs


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# What each model must draw: variables (key: kind), blocks, cost terms, arrows (src, dst),
# and labels that must appear among the figure's texts.
SHARED_ARROWS = {("y", "C"), ("z", "Dec"), ("Dec", "C")}
EXPECTED = {
    "latent-ebm": dict(
        variables={"y": "observed", "z": "latent"}, blocks={"Dec"}, costs={"C", "R"}, sums=set(),
        arrows=SHARED_ARROWS | {("z", "R")},
        labels=["$y$", "$z$", r"$\mathrm{Dec}$", "$C$", "$R$", r"$\bar y$",
                r"$E(y, z) = C(y, \bar y) + \lambda R(z)$"]),
    "sparse-coding": dict(
        variables={"y": "observed", "z": "latent"}, blocks={"Dec"}, costs={"C", "R"}, sums=set(),
        arrows=SHARED_ARROWS | {("z", "R")},
        labels=[r"$W_d\, z$", r"$\Vert y - \bar y \Vert^2$", r"$\Vert z \Vert_1$",
                r"$E(y, z) = \Vert y - W_d\, z \Vert^2 + \lambda \Vert z \Vert_1$"]),
    "ista": dict(
        variables={"y": "observed", "z": "latent"}, blocks={"We", "h", "S"}, costs=set(), sums={"sum"},
        arrows={("y", "We"), ("We", "sum"), ("sum", "h"), ("h", "z"), ("z", "S"), ("S", "sum")},
        labels=[r"$W_e^\top$", r"$h_\theta$", "$S$", "$+$", "$z(t+1)$", "$z(t)$",
                r"$z(t+1) = h_\theta\left(W_e^\top y + S\, z(t)\right)$"]),
    "encoder-ebm": dict(
        variables={"y": "observed", "z": "latent"}, blocks={"Dec", "Enc"}, costs={"C", "D", "R"},
        sums=set(), arrows=SHARED_ARROWS | {("z", "R"), ("z", "D"), ("y", "Enc"), ("Enc", "D")},
        labels=[r"$\mathrm{Enc}$", r"$\mathrm{Dec}$", "$D$", r"$\bar z$",
                r"$E(y, z) = C(y, \bar y) + D(z, \bar z) + \lambda R(z)$"]),
    "conv-autoencoder": dict(
        variables={"y": "observed", "z": "latent"}, blocks={"Dec", "Enc"}, costs={"C", "D", "R"},
        sums=set(), arrows=SHARED_ARROWS | {("z", "R"), ("z", "D"), ("y", "Enc"), ("Enc", "D")},
        labels=["$Z$", r"${\sum}_i W_{d{,}i} * Z_i$", r"$g_i\, h_{\theta_i}(W_{e{,}i} \star y + b_i)$",
                r"$\bar Z$", r"$\Vert Z \Vert_1$"]),
    "vae": dict(
        variables={"y": "observed", "z": "random", "eps": "random"}, blocks={"Dec", "Enc", "sampler"},
        costs={"C", "R"}, sums=set(),
        arrows=SHARED_ARROWS | {("y", "Enc"), ("Enc", "sampler"), ("Enc", "R"), ("eps", "sampler"),
                                ("sampler", "z")},
        labels=[r"$\mathrm{Enc}$", r"$\mu, \sigma$", r"$\mu + \sigma \odot \varepsilon$",
                r"$\varepsilon$", r"$\varepsilon \sim \mathcal{N}(0, I)$", r"$\bar y$"]),
}


def _texts(fig: Figure) -> list[str]:
    fig.canvas.draw()  # tick labels exist only once drawn
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


# ---- language: maths only -----------------------------------------------------------------

ALLOWED_WORDS = {"Dec", "Enc", "Pred", "KL"}  # the block names the lecture uses in both languages


def non_maths(s: str) -> list[str]:
    """What in a figure text is not mathematics: the text outside $...$, and any word of two
    letters or more inside it that is neither a TeX command nor an allowed block name."""
    problems = []
    if re.fullmatch(r"[\u2212-]?\d+", s):  # a whole number (a tick label) reads the same in both
        return problems
    if not (s.startswith("$") and s.endswith("$") and len(s) >= 2 and s.count("$") % 2 == 0):
        problems.append(s)
    inner = "".join(s.split("$")[1::2])
    for word in re.findall(r"\\mathrm\{([^}]*)\}", inner):
        if word not in ALLOWED_WORDS:
            problems.append(word)
    inner = re.sub(r"\\mathrm\{[^}]*\}", " ", inner)
    inner = re.sub(r"\\[A-Za-z]+", " ", inner)  # \lambda, \bar, \mathcal, \mathdefault, ...
    problems += re.findall(r"[A-Za-z]{2,}", inner)
    return problems


@pytest.mark.parametrize("text, bad", [
    ("$E(y, z) = C(y, \\bar y)$", False), ("$\\mathrm{Dec}$", False), ("$W_d\\, z$", False),
    ("$\\mathdefault{-2}$", False), ("\u22122", False), ("0.5", True), ("decoder", True),
    ("$x$ then $y$", True),
    ("$\\mathrm{code}$", True), ("$\\mathrm{Dec}oder$", True), ("$energy$", True),
])
def test_the_language_check_itself(text, bad):
    assert bool(non_maths(text)) is bad


@pytest.mark.parametrize("model", DIAGRAM_MODELS)
def test_every_text_is_maths(model):
    fig = energy_diagram(model)
    texts = _texts(fig)
    assert texts
    assert {t: non_maths(t) for t in texts if non_maths(t)} == {}


def test_springs_texts_are_maths():
    fig = vae_springs(np.array([[1.0, 2.0]]), np.array([[0.5, 0.3]]))
    texts = _texts(fig)
    assert "$z_1$" in texts and "$z_2$" in texts
    assert {t: non_maths(t) for t in texts if non_maths(t)} == {}


# ---- structure ----------------------------------------------------------------------------

def _diagram(fig: Figure) -> Diagram:
    (ax,) = fig.axes
    assert ax.ebm_diagram is fig.ebm_diagrams[-1]
    return ax.ebm_diagram


@pytest.mark.parametrize("model", DIAGRAM_MODELS)
def test_model_draws_its_graph(model):
    want = EXPECTED[model]
    fig = energy_diagram(model)
    assert isinstance(fig, Figure)
    d = _diagram(fig)
    assert d.model == model
    assert {e.key: e.kind for e in d.of_kind("observed", "latent", "random")} == want["variables"]
    assert {e.key for e in d.of_kind("block", "sampler")} == want["blocks"]
    assert {e.key for e in d.of_kind("cost")} == want["costs"]
    assert {e.key for e in d.of_kind("sum")} == want["sums"]
    assert {(e.src, e.dst) for e in d.of_kind("arrow")} == want["arrows"]
    assert len(d.of_kind("arrow")) == len(want["arrows"])  # no arrow drawn twice
    assert len(d.of_kind("equation")) == 1
    texts = _texts(fig)
    missing = [label for label in want["labels"] if label not in texts]
    assert missing == []


@pytest.mark.parametrize("model", DIAGRAM_MODELS)
def test_registry_matches_the_artists(model):
    """The registry is not a separate story: one patch of the right type per element."""
    fig = energy_diagram(model)
    d = _diagram(fig)
    ax = fig.axes[0]
    patches = ax.patches
    n_round = len(d.of_kind("observed", "latent", "random", "sum"))
    assert sum(type(p) is Circle for p in patches) == n_round
    assert sum(type(p) is FancyBboxPatch for p in patches) == len(d.of_kind("block", "sampler"))
    assert sum(type(p) is Rectangle for p in patches) == len(d.of_kind("cost"))
    assert sum(type(p) is FancyArrowPatch for p in patches) == len(d.of_kind("arrow"))
    for e in d.elements:
        assert e.artist is not None and e.artist.axes is ax, e.key
    # random parts are dashed, deterministic ones solid
    for e in d.of_kind("observed", "latent", "block", "cost"):
        assert e.artist.get_linestyle() == "-", e.key
    for e in d.of_kind("random", "sampler"):
        assert e.artist.get_linestyle() == "--", e.key


def test_latent_ebm_arrows_run_z_to_dec_to_c():
    d = _diagram(energy_diagram("latent-ebm"))
    assert d.has_arrow("z", "Dec") and d.has_arrow("Dec", "C") and d.has_arrow("y", "C")
    assert not d.has_arrow("C", "Dec") and not d.has_arrow("Dec", "z")  # the direction counts


def _on_outline(e, point, tol=0.08) -> bool:
    x0, y0, x1, y1 = e.bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if e.kind in ("observed", "latent", "random", "sum"):
        return abs(np.hypot(point[0] - cx, point[1] - cy) - (x1 - x0) / 2) < tol
    inside_outer = x0 - tol <= point[0] <= x1 + tol and y0 - tol <= point[1] <= y1 + tol
    inside_inner = x0 + tol < point[0] < x1 - tol and y0 + tol < point[1] < y1 - tol
    return inside_outer and not inside_inner


@pytest.mark.parametrize("model", DIAGRAM_MODELS)
def test_arrows_start_and_end_on_the_outlines_they_join(model):
    d = _diagram(energy_diagram(model))
    for a in d.of_kind("arrow"):
        assert _on_outline(d.node(a.src), a.points[0]), a.key
        assert _on_outline(d.node(a.dst), a.points[-1]), a.key


def _overlap(a, b, margin=0.0) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0]
                or a[3] + margin <= b[1] or b[3] + margin <= a[1])


@pytest.mark.parametrize("model", DIAGRAM_MODELS)
def test_nothing_overlaps(model):
    fig = energy_diagram(model)
    d = _diagram(fig)
    ax = fig.axes[0]
    nodes = d.of_kind("observed", "latent", "random", "block", "sampler", "cost", "sum")
    for a, b in itertools.combinations(nodes, 2):
        assert not _overlap(a.bounds, b.bounds, margin=0.2), (a.key, b.key)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    # every label fits in its node; the other texts touch no node and no other text
    for e in nodes:
        t, p = e.text.get_window_extent(r), e.artist.get_window_extent(r)
        assert p.x0 <= t.x0 and t.x1 <= p.x1 and p.y0 <= t.y0 and t.y1 <= p.y1, e.key
    free = [e.text for e in d.elements if e.text is not None and e not in nodes]
    assert free
    boxes = [t.get_window_extent(r).extents for t in free]
    for t, box in zip(free, boxes, strict=True):
        for e in nodes:
            assert not _overlap(box, e.artist.get_window_extent(r).extents), (t.get_text(), e.key)
    for (ta, a), (tb, b) in itertools.combinations(zip(free, boxes, strict=True), 2):
        assert not _overlap(a, b), (ta.get_text(), tb.get_text())
    # and all of it lies inside the figure
    fw, fh = fig.bbox.width, fig.bbox.height
    for t in ax.texts:
        x0, y0, x1, y1 = t.get_window_extent(r).extents
        assert x0 >= 0 and y0 >= 0 and x1 <= fw and y1 <= fh, t.get_text()


def test_models_share_one_grid():
    """Same positions for what the models share: the reader sees only what changes."""
    diagrams = {m: _diagram(energy_diagram(m)) for m in DIAGRAM_MODELS}
    for key in ("y", "z"):
        centres = {m: np.mean(np.reshape(d.node(key).bounds, (2, 2)), axis=0) for m, d in diagrams.items()}
        ref = centres["latent-ebm"]
        for m, c in centres.items():
            np.testing.assert_allclose(c, ref, err_msg=f"{key} in {m}")
    for m, d in diagrams.items():
        nodes = d.of_kind("observed", "latent", "random", "block", "sampler", "cost", "sum")
        y, z = d.node("y").bounds, d.node("z").bounds
        assert y[1] <= min(n.bounds[1] for n in nodes) + 1e-9, m  # y at the bottom...
        assert y[0] <= min(n.bounds[0] for n in nodes) + 0.5, m  # ... on the left
        assert z[3] >= max(n.bounds[3] for n in nodes) - 1e-9, m  # z at the top
    for m in ("sparse-coding", "encoder-ebm", "vae"):
        for key in ("C", "Dec"):
            rows = (diagrams[m].node(key).bounds[1::2], diagrams["latent-ebm"].node(key).bounds[1::2])
            assert rows[0] == rows[1], (m, key)
    # the specialised models change labels, not the graph
    for general, special in (("latent-ebm", "sparse-coding"), ("encoder-ebm", "conv-autoencoder")):
        assert EXPECTED[general]["arrows"] == EXPECTED[special]["arrows"]
        g, s = diagrams[general], diagrams[special]
        assert {(e.src, e.dst) for e in g.of_kind("arrow")} == {(e.src, e.dst) for e in s.of_kind("arrow")}
        assert [e.label for e in g.of_kind("cost")] != [e.label for e in s.of_kind("cost")]


# ---- background ---------------------------------------------------------------------------

def _rendered(fig: Figure) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    return plt.imread(buffer)


@pytest.mark.parametrize("model", [*DIAGRAM_MODELS, "springs"])
def test_opaque_white_background(model):
    fig = (vae_springs(np.ones((2, 2)), np.ones((2, 2))) if model == "springs" else energy_diagram(model))
    assert tuple(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    img = _rendered(fig)
    assert img.shape[2] == 4 and img[..., 3].min() == 1.0  # opaque everywhere
    for corner in (img[0, 0], img[0, -1], img[-1, 0], img[-1, -1]):
        np.testing.assert_array_equal(corner, [1.0, 1.0, 1.0, 1.0])
    assert img[..., :3].min() < 0.3  # and dark ink on it


def test_draws_in_the_given_axes_and_whitens_a_dark_figure():
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), facecolor="black")
    out = energy_diagram("latent-ebm", ax=axes[0])
    out2 = energy_diagram("vae", ax=axes[1])
    assert out is fig and out2 is fig
    assert [d.model for d in fig.ebm_diagrams] == ["latent-ebm", "vae"]
    assert axes[0].ebm_diagram.model == "latent-ebm" and axes[1].ebm_diagram.model == "vae"
    assert tuple(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    assert len(fig.axes) == 2
    # fonts follow the size the axes give the diagram
    small = energy_diagram("latent-ebm", ax=plt.subplots(figsize=(2, 2))[1])
    assert small.axes[0].ebm_diagram.node("C").text.get_fontsize() < \
        axes[0].ebm_diagram.node("C").text.get_fontsize()


# ---- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["lista", "VAE", "", None, 3])
def test_unknown_model_names_argument_expected_and_received(bad):
    with pytest.raises(InvalidArgumentError, match="argument 'model'") as info:
        energy_diagram(bad)
    message = str(info.value)
    assert all(repr(m) in message for m in DIAGRAM_MODELS)
    assert f"received {bad!r}" in message


# ---- vae_springs --------------------------------------------------------------------------

def _springs_input(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g) * 2, torch.rand(n, 2, generator=g) * 0.5 + 0.2


def test_springs_draw_n_balls_and_n_springs_to_the_origin():
    mu, sigma = _springs_input(5)
    fig = vae_springs(mu, sigma)  # tensors are accepted
    d = _diagram(fig)
    ax = fig.axes[0]
    balls = [p for p in ax.patches if type(p) is Ellipse]
    assert len(balls) == 5 and len(d.of_kind("ball")) == 5
    for p, m, s in zip(balls, mu.numpy(), sigma.numpy(), strict=True):
        np.testing.assert_allclose(p.center, m, rtol=1e-6)
        np.testing.assert_allclose((p.width, p.height), 2 * s, rtol=1e-6)  # radius σ
    springs = d.of_kind("spring")
    assert len(springs) == 5
    for e, m in zip(springs, mu.numpy(), strict=True):
        line = e.artist
        assert isinstance(line, Line2D) and line in ax.lines
        xy = line.get_xydata()
        assert len(xy) > 10  # a zig-zag, not a straight line
        np.testing.assert_allclose(xy[0], [0.0, 0.0], atol=1e-12)
        np.testing.assert_allclose(xy[-1], m, rtol=1e-6)
        # the zig-zag leaves the straight segment on both sides
        side = (m[0] * xy[:, 1] - m[1] * xy[:, 0]) / np.linalg.norm(m)
        assert side.max() > 0 > side.min()
    assert len(d.of_kind("prior")) == 1
    assert sum(type(p) is Circle and p.get_radius() == 1.0 for p in ax.patches) == 1
    # every ball fits in the view
    lo, hi = ax.get_xlim()
    assert lo <= float((mu - sigma).min()) and float((mu + sigma).max()) <= hi


def test_springs_optional_and_prior_optional():
    mu, sigma = _springs_input(4)
    d = _diagram(vae_springs(mu.numpy(), sigma.numpy(), origin_spring=False, prior=False))
    assert len(d.of_kind("ball")) == 4
    assert d.of_kind("spring") == [] and d.of_kind("prior") == []
    ax = plt.gcf().axes[0]
    assert not any(type(p) is Circle for p in ax.patches)
    assert all(len(line.get_xydata()) <= 1 for line in ax.lines)  # only the centre dots


def test_springs_in_given_axes():
    fig, (a, b) = plt.subplots(1, 2)
    out = vae_springs(*_springs_input(3), ax=b)
    assert out is fig and b.ebm_diagram.model == "vae-springs" and not hasattr(a, "ebm_diagram")


@pytest.mark.parametrize("mu, sigma, pattern", [
    (np.zeros((3, 3)), np.ones((3, 3)), r"argument 'mu': expected shape \(N, 2\).*\(3, 3\)"),
    (np.zeros(2), np.ones(2), r"argument 'mu': expected shape \(N, 2\)"),
    (np.zeros((0, 2)), np.ones((0, 2)), r"argument 'mu': expected shape \(N, 2\) with N >= 1"),
    (np.zeros((3, 2)), np.ones((3, 1)), r"argument 'sigma': expected shape \(N, 2\)"),
    (np.zeros((3, 2)), np.ones((2, 2)),
     r"arguments 'mu' and 'sigma': expected the same shape.*\(3, 2\).*\(2, 2\)"),
    (np.zeros((3, 2)), np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]]),
     r"argument 'sigma': expected standard deviations > 0.*row 1"),
    (np.zeros((2, 2)), -np.ones((2, 2)), r"argument 'sigma': expected standard deviations > 0"),
    (np.array([[0.0, np.nan]]), np.ones((1, 2)), r"argument 'mu': expected finite values"),
    (np.zeros((1, 2)), np.array([[np.inf, 1.0]]), r"argument 'sigma': expected finite values"),
])
def test_springs_validate_their_input(mu, sigma, pattern):
    with pytest.raises(InvalidArgumentError, match=pattern):
        vae_springs(mu, sigma)
