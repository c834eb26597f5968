"""Sphinx extension: what the built pages need to be accessible.

* **Alternative text for every image a code cell produces.** A chapter gives a figure's
  alternative text in its code cell's metadata, ``mystnb: image: alt:``, in the page's
  language. myst-nb puts it on the cell's PNG outputs; :class:`FigureAltText` puts it on
  the images that myst-nb leaves without: the frame ``<img>`` of a matplotlib animation
  (``FuncAnimation.to_jshtml()``), and the figure of a slider widget
  (``ebmlib.interactive.slider_figure``), which the widget manager draws in the browser:
  the widget's view is wrapped in ``<div class="ebm-widget" data-ebm-alt="...">`` and
  ``_static/ebm-a11y.js`` copies the text onto the image once it is drawn.
* **Labels for the controls of cell outputs.** The animation's frame slider gets a label,
  and in the French edition the player's buttons speak French; ``ebm-a11y.js`` names a
  widget slider's handle after its description (``λ``).
* **Sliders that say what they do on a static page.** Without a kernel, moving a widget's
  slider cannot redraw its figure: the site shows the slider disabled, at the value its
  figure was drawn for, with a line saying that it works in a live notebook (the chapter
  shows the same family as a static small multiple). See :func:`live_only_widgets`.
* **One execution for both editions, whatever their alternative text.** jupyter-cache keys
  a notebook on its code cells *and their metadata*, and the alternative text, the one part
  of a code cell written in the page's language, would make the twins two notebooks,
  executed twice. :func:`alt_blind_cache` leaves it out of the key, and takes each cell's
  metadata from the page, not from the cached twin (:func:`without_alt`).
* **Bibliography entries that are list items.** docutils writes ``role="doc-biblioentry"``
  (deprecated in DPUB-ARIA 1.1) inside a ``role="list"``, which axe-core reports as a list
  with children that are not list items; and the toggle of a hidden cell is named by the
  text it shows (:func:`summary_names`).
"""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

#: Text that the extension writes on the pages, in each edition's language.
STRINGS = {
    "en": {
        "frame": "Frame of the animation",
        "live_only": "In a live notebook (Binder, Colab or <code>make lab</code>) this slider "
                     "redraws the figure; on this page it stays at the value drawn.",
    },
    "fr": {
        "frame": "Image de l\u2019animation",
        "live_only": "Dans un notebook actif (Binder, Colab ou <code>make lab</code>), ce curseur "
                     "redessine la figure\u202f; sur cette page, il reste \u00e0 la valeur de la figure "
                     "affich\u00e9e.",
    },
}
#: The animation player's interface (matplotlib's ``to_jshtml``), in French.
PLAYER_FR = {
    "Decrease speed": "Ralentir", "First frame": "Premi\u00e8re image",
    "Previous frame": "Image pr\u00e9c\u00e9dente", "Play backwards": "Lire \u00e0 l\u2019envers",
    "Pause": "Pause", "Play": "Lire", "Next frame": "Image suivante",
    "Last frame": "Derni\u00e8re image", "Increase speed": "Acc\u00e9l\u00e9rer",
    "Repetition mode": "Mode de r\u00e9p\u00e9tition", "Once": "Une fois", "Loop": "En boucle",
    "Reflect": "Aller-retour",
}
_PLAYER_ATTR = re.compile(r'(\b(?:title|aria-label)=")(' + "|".join(map(re.escape, PLAYER_FR)) + ')"')
_PLAYER_LABEL = re.compile(r'(<label for="_anim_radio\d_\w+">)(Once|Loop|Reflect)(</label>)')
_ANIM_IMG = re.compile(r'<img id="(_anim_img\w+)"(?![^>]*\balt=)')
_ANIM_SLIDER = re.compile(r'<input id="(_anim_slider\w+)"(?![^>]*\baria-label=)')
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def figure_alt(metadata) -> str | None:
    """A code cell's alternative text (``mystnb: image: alt:``), or None."""
    image = ((metadata or {}).get("mystnb") or {}).get("image") or {}
    alt = image.get("alt") if isinstance(image, dict) else None
    if alt is None:
        return None
    return " ".join(str(alt).split()) or None


def label_animation(raw: str, alt: str | None, lang: str) -> str:
    """A ``to_jshtml`` player with its frame's alternative text and its slider's label,
    its buttons in the page's language."""
    if alt:
        raw = _ANIM_IMG.sub(lambda m: f'<img id="{m.group(1)}" alt="{html.escape(alt)}"', raw)
    frame = html.escape(STRINGS[lang]["frame"])
    raw = _ANIM_SLIDER.sub(lambda m: f'<input id="{m.group(1)}" aria-label="{frame}"', raw)
    if lang == "fr":
        raw = _PLAYER_ATTR.sub(lambda m: f'{m.group(1)}{PLAYER_FR[m.group(2)]}"', raw)
        raw = _PLAYER_LABEL.sub(lambda m: m.group(1) + PLAYER_FR[m.group(2)] + m.group(3), raw)
    return raw


def wrap_widget_view(raw: str, alt: str | None) -> str:
    """A widget's view in a ``<div class="ebm-widget">`` that carries its figure's text."""
    if 'class="ebm-widget"' in raw:
        return raw
    data = f' data-ebm-alt="{html.escape(alt)}"' if alt else ""
    return f'<div class="ebm-widget"{data}>{raw}</div>'


class FigureAltText(SphinxPostTransform):
    """Put each code cell's alternative text on the images myst-nb leaves without."""

    default_priority = 20  # after myst-nb selects each output's mime type (4)
    formats = ("html",)

    def run(self, **kwargs) -> None:
        lang = self.config.ebm_language if self.config.ebm_language in STRINGS else "en"
        for cell in self.document.findall(nodes.container):
            if cell.get("nb_element") != "cell_code":
                continue
            alt = figure_alt(cell.get("cell_metadata"))
            for raw in list(cell.findall(nodes.raw)):
                if "html" not in raw.get("format", "").split():
                    continue
                text = raw.astext()
                new = text
                if 'class="anim-slider"' in new or "_anim_img" in new:
                    new = label_animation(new, alt, lang)
                if f'type="{WIDGET_VIEW}"' in new:
                    new = wrap_widget_view(new, alt)
                if new != text:
                    raw.parent.replace(raw, nodes.raw(new, new, format=raw["format"]))


def without_alt(nb):
    """A copy of notebook ``nb`` with no alternative text in its cells' metadata."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        image = cell.get("metadata", {}).get("mystnb", {}).get("image")
        if isinstance(image, dict) and "alt" in image:
            del image["alt"]
            if not image:
                del cell["metadata"]["mystnb"]["image"]
            if not cell["metadata"]["mystnb"]:
                del cell["metadata"]["mystnb"]
    return nb


def alt_blind_cache() -> None:
    """Make jupyter-cache (myst-nb's ``execute_notebooks: cache``) blind to alternative text.

    * the key of a notebook (``create_hashed_notebook``) is that of the notebook without its
      alternative text, so that the French twin of a page, whose code is the English code
      byte for byte, matches the English execution;
    * a page merged with its cached execution (``merge_match_into_notebook``) keeps its own
      cells' metadata (jupyter-cache would otherwise take the cached cells', and with them
      the other edition's alternative text).
    """
    from jupyter_cache.cache.main import JupyterCacheBase

    if getattr(JupyterCacheBase, "_ebm_alt_blind", False):
        return
    create, merge = JupyterCacheBase.create_hashed_notebook, JupyterCacheBase.merge_match_into_notebook

    def create_hashed_notebook(self, nb, *args, **kwargs):
        return create(self, without_alt(nb), *args, **kwargs)

    def merge_match_into_notebook(self, nb, nb_meta=("kernelspec", "language_info", "widgets"),
                                  cell_meta=None):
        return merge(self, nb, nb_meta, () if cell_meta is None else cell_meta)

    JupyterCacheBase.create_hashed_notebook = create_hashed_notebook
    JupyterCacheBase.merge_match_into_notebook = merge_match_into_notebook
    JupyterCacheBase._ebm_alt_blind = True


# --------------------------------------------------------------------------------------------------
# The built pages: sliders that need a kernel, bibliography roles
# --------------------------------------------------------------------------------------------------

_STATE_SCRIPT = re.compile(r'(<script type="' + re.escape(WIDGET_STATE) + r'">)(.*?)(</script>)', re.S)
_VIEW = re.compile(r'(<div class="ebm-widget"[^>]*>)\s*(<script type="' + re.escape(WIDGET_VIEW)
                   + r'">)(.*?)(</script>)\s*</div>', re.S)
_LIVE_ONLY = '<p class="ebm-live-only">'


def _is_slider(model: dict) -> bool:
    return str(model.get("model_name", "")).endswith("SliderModel")


def live_only_widgets(state: dict) -> tuple[set[str], set[str]]:
    """The slider models of a page's widget state, and the widgets (views) that hold one.

    On a static page no kernel answers a slider, so a widget with a slider shows its first
    figure whatever the slider says: these are the widgets to disable.
    """
    models = state.get("state", {})
    sliders = {k for k, m in models.items() if _is_slider(m)}

    def holds(model_id: str, seen: set[str]) -> bool:
        if model_id in sliders:
            return True
        if model_id in seen or model_id not in models:
            return False
        seen.add(model_id)
        children = models[model_id].get("state", {}).get("children") or []
        return any(holds(str(c).removeprefix("IPY_MODEL_"), seen) for c in children)

    return sliders, {k for k in models if holds(k, set())}


def _unescape_script(text: str) -> str:
    return text.replace("<\\/", "</")


def _escape_script(text: str) -> str:
    return text.replace("</", "<\\/")


def static_widgets(page: str, lang: str) -> str:
    """Disable the sliders of the page's widgets and say, under each widget that holds
    one, that it redraws its figure in a live notebook only (idempotent)."""
    match = _STATE_SCRIPT.search(page)
    if not match:
        return page
    state = json.loads(_unescape_script(match.group(2)))
    sliders, live_only = live_only_widgets(state)
    for model_id in sliders:
        state["state"][model_id].setdefault("state", {})["disabled"] = True
    body = _escape_script(json.dumps(state))
    page = page[:match.start(2)] + body + page[match.end(2):]
    note = f'{_LIVE_ONLY}{STRINGS[lang]["live_only"]}</p>'

    def view(m: re.Match) -> str:
        whole = m.group(0)
        try:
            model_id = json.loads(_unescape_script(m.group(3))).get("model_id")
        except ValueError:
            return whole
        after = page[m.end():m.end() + len(_LIVE_ONLY) + 10]
        if model_id not in live_only or after.lstrip().startswith(_LIVE_ONLY):
            return whole
        return whole + note

    return _VIEW.sub(view, page)


def list_roles(page: str) -> str:
    """``role="doc-biblioentry"`` (deprecated) → ``role="listitem"`` inside a ``role="list"``."""
    return page.replace('role="doc-biblioentry"', 'role="listitem"')


_SUMMARY = re.compile(r'<summary aria-label="[^"]*">(?=\s*<p class="collapsed admonition-title">)')


def summary_names(page: str) -> str:
    """A hidden cell's toggle (myst-nb's ``<summary aria-label="Toggle hidden content">``)
    named by what it shows, « Show code cell source », not by a label that differs from it
    (axe-core: label-content-name-mismatch)."""
    return _SUMMARY.sub("<summary>", page)


def _build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    lang = app.config.ebm_language if app.config.ebm_language in STRINGS else "en"
    for path in Path(app.outdir).rglob("*.html"):
        if "_static" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        new = summary_names(list_roles(static_widgets(text, lang)))
        if new != text:
            path.write_text(new, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.setup_extension("bilingual")  # ebm_language, the edition's language
    alt_blind_cache()
    app.add_post_transform(FigureAltText)
    app.add_js_file("ebm-a11y.js")
    app.connect("build-finished", _build_finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
