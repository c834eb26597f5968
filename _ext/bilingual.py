"""Sphinx extension that ties the English and the French editions together.

sphinx-book-theme has no language switcher, so this extension:

* adds a switcher to every page's header, linking to the same page in the other
  edition (``../<twin>/<page>.html``, both editions live side by side in the site);
* adds ``<link rel="alternate" hreflang>`` for both languages (``<html lang>`` comes
  from Sphinx's ``language``);
* warns when a page has no twin, so a strict build (``-W``) fails on a missing
  translation;
* adds a Colab button that opens the executed ``.ipynb`` published with the site
  (Colab cannot open MyST markdown), and puts a first cell in every downloadable
  ``.ipynb`` that installs ebmlib from the repository when the kernel lacks it, and
  collapses the cells that the page hides (see :func:`notebook_for_download`).
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
NAMES = {"en": "English", "fr": "Français"}
SOURCE_SUFFIXES = (".md", ".ipynb", ".rst")
SETUP_TAG = "ebmlib-setup"


def _config_inited(app: Sphinx, config) -> None:
    config.templates_path = [*config.templates_path, str(HERE / "templates")]
    options = dict(config.html_theme_options or {})
    end = list(options.get("article_header_end") or ["article-header-buttons.html"])
    if "lang-switcher.html" not in end:
        end.insert(0, "lang-switcher.html")
    options["article_header_end"] = end
    config.html_theme_options = options
    if config.ebm_language not in NAMES or config.ebm_twin_language not in NAMES:
        raise ValueError(f"ebm_language / ebm_twin_language: expected one of {sorted(NAMES)}, "
                         f"received {config.ebm_language!r} / {config.ebm_twin_language!r}")


def twin_exists(srcdir: Path, twin_srcdir: str, pagename: str) -> bool:
    """Whether the other edition has a source file for ``pagename``."""
    base = (srcdir / twin_srcdir / pagename)
    return any(base.with_name(base.name + s).exists() for s in SOURCE_SUFFIXES)


def _page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    cfg = app.config
    lang, twin = cfg.ebm_language, cfg.ebm_twin_language
    up = "../" * (pagename.count("/") + 1)  # from this page up to the site root
    context["ebm_twin_lang"] = twin
    context["ebm_twin_name"] = NAMES[twin]
    if doctree is not None and not twin_exists(Path(app.srcdir), cfg.ebm_twin_srcdir, pagename):
        logger.warning("page '%s' has no %s twin in %s", pagename, NAMES[twin],
                       cfg.ebm_twin_srcdir, location=pagename)
        context["ebm_twin_url"] = ""
        return
    # special pages (search, genindex) have a twin too: the other edition builds them
    context["ebm_twin_url"] = f"{up}{twin}/{pagename}.html"
    links = (f'<link rel="alternate" hreflang="{lang}" href="{up}{lang}/{pagename}.html" />\n'
             f'<link rel="alternate" hreflang="{twin}" href="{up}{twin}/{pagename}.html" />\n')
    context["metatags"] = context.get("metatags", "") + links


def _add_colab(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Colab opens notebooks from GitHub: point it at the copy published with the site."""
    if "ipynb_source" not in context:
        return
    url = (app.config.html_theme_options.get("repository_url") or "").rstrip("/")
    if not url.startswith("https://github.com/"):
        return
    org_repo = url.removeprefix("https://github.com/")
    lang = app.config.ebm_language
    colab = (f"https://colab.research.google.com/github/{org_repo}/blob/"
             f"{app.config.ebm_site_branch}/{lang}/_sources/{pagename}.ipynb")
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            group["buttons"].append({
                "type": "link", "text": "Colab", "tooltip": "Colab",
                "icon": "_static/images/logo_colab.png", "url": colab})


def setup_cell(repository_url: str) -> dict:
    """The first cell of a downloaded notebook: install ebmlib if the kernel lacks it."""
    source = ("# Colab or a fresh kernel: install ebmlib, the book's library, if it is missing.\n"
              "import importlib.util\n"
              "if importlib.util.find_spec('ebmlib') is None:\n"
              f"    %pip install --quiet 'ebmlib @ git+{repository_url}'\n")
    return {"cell_type": "code", "execution_count": None, "id": SETUP_TAG,
            "metadata": {"tags": [SETUP_TAG]}, "outputs": [], "source": source}


def notebook_for_download(source: Path, repository_url: str):
    """The ``.ipynb`` offered for download and Colab, made from a MyST-markdown page.

    It starts with :func:`setup_cell`, and the cells that the page hides (hidden asserts,
    exercise solutions) are collapsed, so that a student meets the exercise first.
    """
    import jupytext

    nb = jupytext.read(source)
    in_solution = False
    for cell in nb.cells:
        text = cell.source
        if cell.cell_type == "markdown":
            if "{solution-start}" in text:
                in_solution = True
            if "{solution-end}" in text:
                in_solution = False
            continue
        if in_solution or "remove-cell" in cell.metadata.get("tags", []):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    nb.cells.insert(0, jupytext.reads(setup_cell(repository_url)["source"],
                                      fmt="py:percent").cells[0])
    nb.cells[0].metadata["tags"] = [SETUP_TAG]
    return nb


def _build_finished(app: Sphinx, exception: Exception | None) -> None:
    """Replace the theme's copies in ``_sources`` by :func:`notebook_for_download`."""
    if exception is not None or app.builder.format != "html":
        return
    import nbformat

    url = (app.config.html_theme_options.get("repository_url") or "").rstrip("/")
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        if source.suffix != ".md" or "kernelspec:" not in source.read_text(encoding="utf-8")[:2000]:
            continue
        target = Path(app.outdir, "_sources", docname + ".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        nbformat.write(notebook_for_download(source, url), tmp)
        tmp.replace(target)


def setup(app: Sphinx) -> dict:
    app.add_config_value("ebm_language", "en", "html")
    app.add_config_value("ebm_twin_language", "fr", "html")
    app.add_config_value("ebm_twin_srcdir", "../fr", "html")
    app.add_config_value("ebm_site_branch", "gh-pages", "html")
    app.connect("config-inited", _config_inited)
    # before pydata-sphinx-theme drops header templates that render empty (priority 500)
    app.connect("html-page-context", _page_context, priority=400)
    # after sphinx-book-theme adds its launch buttons (priority 501)
    app.connect("html-page-context", _add_colab, priority=600)
    app.connect("build-finished", _build_finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
