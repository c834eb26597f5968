"""The built site (``make book`` first): links, languages, switchers, downloads, launchers.

These tests skip when ``_build/site`` is missing, except under ``make test``, which
builds the site first and sets ``EBM_REQUIRE_SITE=1`` so that a missing site fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jupytext
import pytest
import yaml
from sitecheck import SITE, broken_links, parse

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("en", "fr")

if not (SITE / "index.html").exists():
    if os.environ.get("EBM_REQUIRE_SITE") == "1":
        raise RuntimeError(f"{SITE} is missing: run `make book` before these tests")
    pytest.skip("the site is not built: run `make book` first", allow_module_level=True)

PAGES = sorted(p.stem for p in (ROOT / "book" / "en").glob("*.md"))
NOTEBOOKS = [p for p in PAGES if "kernelspec:" in (ROOT / "book" / "en" / f"{p}.md").read_text()[:2000]]
REPO = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_no_broken_internal_link_or_anchor():
    assert broken_links() == []


def test_landing_page_leads_to_both_editions():
    landing = parse(SITE / "index.html")
    hrefs = {url for _, url in landing.links}
    assert {"en/intro.html", "fr/intro.html"} <= hrefs


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_its_language_and_a_switcher_to_its_twin(lang, page):
    twin = "fr" if lang == "en" else "en"
    html = parse(SITE / lang / f"{page}.html")
    assert html.html_lang == lang
    assert html.switcher == f"../{twin}/{page}.html"
    assert (SITE / twin / f"{page}.html").exists()
    assert html.alternates == {lang: f"../{lang}/{page}.html", twin: f"../{twin}/{page}.html"}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", NOTEBOOKS)
def test_notebooks_can_be_downloaded_and_launched(lang, page):
    html = parse(SITE / lang / f"{page}.html")
    hrefs = [url for tag, url in html.links if tag == "a"]
    assert f"_sources/{page}.ipynb" in hrefs, "no .ipynb download"
    assert any(u.startswith("https://mybinder.org/v2/gh/") and f"book/{lang}/{page}.md" in u
               for u in hrefs), "no Binder button"
    colab = [u for u in hrefs if u.startswith("https://colab.research.google.com/github/")]
    assert colab and colab[0].endswith(f"/{lang}/_sources/{page}.ipynb"), "no Colab button"
    nb = json.loads((SITE / lang / "_sources" / f"{page}.ipynb").read_text())
    first = "".join(nb["cells"][0]["source"])
    assert "ebmlib-setup" in nb["cells"][0]["metadata"]["tags"] and REPO in first
    source = jupytext.read(ROOT / "book" / lang / f"{page}.md")
    assert ["".join(c["source"]) for c in nb["cells"][1:] if c["cell_type"] == "code"] == [
        c.source for c in source.cells if c.cell_type == "code"], "the download lost code cells"
    collapsed = [c for c in nb["cells"] if c["metadata"].get("jupyter", {}).get("source_hidden")]
    assert any("check_" in "".join(c["source"]) for c in collapsed), "solutions are not collapsed"


def test_french_edition_has_french_interface():
    text = (SITE / "fr" / f"{NOTEBOOKS[0]}.html").read_text(encoding="utf-8")
    assert "Exercice" in text
    en = (SITE / "en" / f"{NOTEBOOKS[0]}.html").read_text(encoding="utf-8")
    assert "Exercise" in en and "Exercice" not in en


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_hidden_cells_are_hidden(page):
    text = (SITE / "en" / f"{page}.html").read_text(encoding="utf-8")
    assert "The prose says" not in text


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_one_execution_serves_both_editions(page):
    """jupyter-cache keys a notebook on its code: both twins match the same cache record."""
    from jupyter_cache import get_cache

    cache = get_cache(ROOT / "_build" / ".jupyter_cache")
    records = {lang: cache.match_cache_notebook(jupytext.read(ROOT / "book" / lang / f"{page}.md")).pk
               for lang in LANGS}
    assert records["en"] == records["fr"]
