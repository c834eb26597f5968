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
from sitecheck import SITE, broken_links, english_on_page, parse, typography_problems, visible

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


# --------------------------------------------------------------------------------------------------
# The French edition reads as French: typography, no English, checkers that answer in French
# --------------------------------------------------------------------------------------------------

FRENCH_PAGES = sorted(p.name for p in (SITE / "fr").glob("*.html")
                      if p.stem in PAGES or p.stem in ("search", "genindex"))


@pytest.mark.parametrize("name", FRENCH_PAGES)
def test_french_pages_follow_french_typography(name):
    page = visible(SITE / "fr" / name, "fr")
    problems = typography_problems(page.prose(), page.maths)
    assert not problems, f"fr/{name}:\n" + "\n".join(problems[:20])


def test_the_typography_check_fails_on_a_page_with_breaking_spaces(tmp_path):
    text = (SITE / "fr" / "lista.html").read_text(encoding="utf-8")
    broken = text.replace("\u00a0:", " :").replace("\u202f", " ").replace("’", "'")
    assert broken != text
    (tmp_path / "lista.html").write_text(broken, encoding="utf-8")
    page = visible(tmp_path / "lista.html", "fr")
    problems = typography_problems(page.prose(), page.maths)
    assert any("before :" in p for p in problems) and any("apostrophe" in p for p in problems)


@pytest.mark.parametrize("name", FRENCH_PAGES)
def test_no_english_on_french_pages(name):
    page = visible(SITE / "fr" / name, "fr")
    found = english_on_page(page.prose(), page.interface)
    assert not found, f"fr/{name}:\n" + "\n".join(found[:20])


def test_the_english_check_fails_on_a_page_with_english(tmp_path):
    text = (SITE / "fr" / "vae.html").read_text(encoding="utf-8")
    text = text.replace("</article>", "<p>This is the energy of the code.</p></article>", 1)
    (tmp_path / "vae.html").write_text(text, encoding="utf-8")
    page = visible(tmp_path / "vae.html", "fr")
    assert any("English sentence" in f for f in english_on_page(page.prose(), page.interface))


def test_english_pages_keep_english_typography():
    page = visible(SITE / "en" / "lista.html", "en")
    prose = " ".join(page.prose())
    assert "\u202f" not in prose and "0.5" in prose


@pytest.mark.parametrize("page", NOTEBOOKS)
def test_a_downloaded_french_notebook_answers_in_french(tmp_path, page):
    """Run the downloaded notebook's setup cell and a checker in a folder that says nothing
    about the language (as Colab's /content does): the feedback must be French."""
    import subprocess
    import sys

    nb = json.loads((SITE / "fr" / "_sources" / f"{page}.ipynb").read_text())
    setup = "".join(nb["cells"][0]["source"])
    runnable = "\n".join(line for line in setup.splitlines() if "%pip" not in line)
    runnable = runnable.replace("if importlib.util.find_spec('ebmlib') is None:", "")
    probe = ("\nfrom ebmlib.checks import check_shrink\n"
             "print(check_shrink(lambda v, t: v))\n")
    env = {k: v for k, v in os.environ.items() if k != "EBMLIB_LANG"}
    out = subprocess.run([sys.executable, "-c", runnable + probe], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "Votre" in out or "vous" in out, out
    assert "#" in setup and "installe ebmlib" in setup  # the comment is French too


# --------------------------------------------------------------------------------------------------
# A downloaded or Colab notebook installs the ebmlib that the site was built with
# --------------------------------------------------------------------------------------------------

def _bilingual():
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        return importlib.import_module("bilingual")
    finally:
        sys.path.remove(str(ROOT / "_ext"))


@pytest.mark.parametrize("lang", LANGS)
def test_downloaded_notebooks_install_the_commit_the_site_was_built_from(lang):
    head = subprocess_head()
    for page in NOTEBOOKS:
        first = "".join(json.loads((SITE / lang / "_sources" / f"{page}.ipynb").read_text())
                        ["cells"][0]["source"])
        install = [line for line in first.splitlines() if "%pip install" in line]
        assert install == [f"    %pip install --quiet 'ebmlib @ git+{REPO}@{head}'"], (
            f"{lang}/_sources/{page}.ipynb does not pin ebmlib to HEAD ({head}); was the site "
            f"built from another commit? Rebuild it (make book).\n{first}")


def test_the_pin_falls_back_to_the_branch_outside_a_git_checkout(tmp_path, capfd):
    bilingual = _bilingual()
    assert bilingual.ebmlib_ref(ROOT / "book" / "en", "main") == subprocess_head()
    assert bilingual.ebmlib_ref(tmp_path, "main") == "main"
    assert "not in a git checkout" in capfd.readouterr().err
    cell = bilingual.setup_cell(REPO, "fr", "main")["source"]
    assert f"'ebmlib @ git+{REPO}@main'" in cell
    with pytest.raises(ValueError, match="ref"):
        bilingual.setup_cell(REPO, "en", "main'; rm -rf ~ #")


def subprocess_head() -> str:
    import subprocess

    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
