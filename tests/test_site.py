"""The built site (``make book`` first): links, languages, switchers, downloads, launchers.

These tests skip when ``_build/site`` is missing, except under ``make test``, which
builds the site first and sets ``EBM_REQUIRE_SITE=1`` so that a missing site fails.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jupytext
import pytest
import yaml
from sitecheck import (
    SITE,
    Image,
    alt_problem,
    broken_links,
    english_on_page,
    image_problems,
    parse,
    typography_problems,
    visible,
)

ROOT = Path(__file__).resolve().parent.parent

# a site test: it reads the built site (`make test` runs the `site` tests after the build)
pytestmark = pytest.mark.site

LANGS = ("en", "fr")

if not (SITE / "index.html").exists():
    if os.environ.get("EBM_REQUIRE_SITE") == "1":
        raise RuntimeError(f"{SITE} is missing: run `make book` before these tests")
    pytest.skip("the site is not built: run `make book` first", allow_module_level=True)

PAGES = sorted(p.stem for p in (ROOT / "book" / "en").glob("*.md"))
NOTEBOOKS = [p for p in PAGES if "kernelspec:" in (ROOT / "book" / "en" / f"{p}.md").read_text()[:2000]]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO = CONFIG["repository"]["url"]


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
    site = _ext_module("build_site").site_settings(CONFIG)[1] or "../"  # absolute when it has an address
    assert html.alternates == {lang: f"{site}{lang}/{page}.html", twin: f"{site}{twin}/{page}.html"}


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
    """jupyter-cache keys a notebook on its code: both twins match the same cache record,
    their alternative text apart (the build makes the key blind to it, as here)."""
    from jupyter_cache import get_cache

    _ext_module("accessibility").alt_blind_cache()
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
    """No English in the prose, the interface, or the figures' alternative text."""
    page = visible(SITE / "fr" / name, "fr")
    found = english_on_page(page.prose(), page.interface, [i.alt or "" for i in page.images])
    assert not found, f"fr/{name}:\n" + "\n".join(found[:20])


def test_the_english_check_fails_on_a_page_with_english(tmp_path):
    text = (SITE / "fr" / "vae.html").read_text(encoding="utf-8")
    text = text.replace("</article>", "<p>This is the energy of the code.</p></article>", 1)
    # and a figure described in English
    text = text.replace("</article>", '<img src="x.png" alt="The energy of the code for '
                        'three values of the weight"></article>', 1)
    (tmp_path / "vae.html").write_text(text, encoding="utf-8")
    page = visible(tmp_path / "vae.html", "fr")
    found = english_on_page(page.prose(), page.interface, [i.alt or "" for i in page.images])
    assert any("English sentence" in f for f in found), found
    assert any("English alternative text" in f for f in found), found


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

def _ext_module(name: str):
    """A module of ``_ext/`` (bilingual, accessibility, build_site)."""
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "_ext"))


def _bilingual():
    return _ext_module("bilingual")


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


# --------------------------------------------------------------------------------------------------
# Alternative text: every image of a chapter says what it shows, in the page's language
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("page", NOTEBOOKS)
def test_every_image_of_a_chapter_has_alternative_text(lang, page):
    """Every <img> (PNG outputs, the animation's frame, logos) and every slider widget's
    figure (its ``data-ebm-alt``) has an alternative text that is not empty, not a file
    name, not "figure 3", and, for a figure, long enough to say what it shows. A chapter
    gives it in the code cell's metadata: ``mystnb: image: alt:``."""
    found = image_problems(visible(SITE / lang / f"{page}.html", lang))
    assert not found, f"{lang}/{page}.html:\n" + "\n".join(found)


def test_the_alternative_text_check_fails_on_a_broken_page(tmp_path):
    """A copy of a chapter whose figures lost their text, got a file name, "Figure 3",
    "image", or whose widget is not wrapped: each is reported."""
    import re

    text = (SITE / "en" / "ista-fista.html").read_text(encoding="utf-8")
    figures = re.findall(r'<img alt="[^"]*" src="_images/[^"]+"', text)
    assert len(figures) >= 3 and "_anim_img" in text and 'class="ebm-widget"' in text
    file_name = re.sub(r'alt="[^"]*"', 'alt="_images/0a1b2c.png"', figures[0])
    text = (text.replace(figures[0], file_name, 1)
            .replace(figures[1], re.sub(r'alt="[^"]*"', 'alt="Figure 3"', figures[1]), 1)
            .replace(figures[2], re.sub(r' ?alt="[^"]*"', "", figures[2]), 1))
    text = re.sub(r'(<img id="_anim_img\w+") alt="[^"]*"', r'\1 alt="image"', text)
    text = re.sub(r'<div class="ebm-widget"[^>]*>', "<div>", text)
    (tmp_path / "ista-fista.html").write_text(text, encoding="utf-8")
    found = "\n".join(image_problems(visible(tmp_path / "ista-fista.html", "en")))
    for why in ("is a file name ('_images/0a1b2c.png')", "does not say what the image shows "
                "('Figure 3')", "no alternative text", "does not say what the image shows "
                "('image')", "1 widget(s) not wrapped"):
        assert why in found, (why, found)
    assert alt_problem(Image("Binder logo", "_static/logo.svg", figure=False)) is None
    assert "too short" in alt_problem(Image("Energy map", "x.png", figure=True))


def test_the_built_pages_are_left_as_they_are_by_a_second_pass():
    """The extension rewrites the built pages at the end of every build, incremental ones
    included: a page it has already rewritten stays the same (each slider disabled, one note
    under it)."""
    accessibility = _ext_module("accessibility")
    for lang in LANGS:
        for page in NOTEBOOKS:
            text = (SITE / lang / f"{page}.html").read_text(encoding="utf-8")
            again = accessibility.summary_names(accessibility.list_roles(
                accessibility.static_widgets(text, lang)))
            assert again == text, f"{lang}/{page}.html changes on a second pass"
            views = text.count('class="ebm-widget"')
            assert text.count('class="ebm-live-only"') == views, f"{lang}/{page}.html: one note a slider"
            assert 'role="doc-biblioentry"' not in text and '<summary aria-label=' not in text
    assert accessibility.figure_alt({"mystnb": {"image": {"alt": " Two\n maps "}}}) == "Two maps"
    assert accessibility.figure_alt({"tags": ["hide-input"]}) is None


# --------------------------------------------------------------------------------------------------
# The repository's URL and the site's address: one setting each, for both editions
# --------------------------------------------------------------------------------------------------

def test_the_site_settings_reach_every_page():
    """``repository.url`` and ``html.baseurl`` (the site's address) of _config.yml: each page
    carries its canonical URL under its edition's address (``<site>en/``, ``<site>fr/``) and
    absolute hreflang links; the repository button, Binder, Colab and the introduction's
    ``git clone`` lines use the repository."""
    build_site = _ext_module("build_site")
    repo, site = build_site.site_settings(CONFIG)
    name = repo.rsplit("/", 1)[-1]
    owner_repo = repo.removeprefix("https://github.com/")
    for lang in LANGS:
        twin = "fr" if lang == "en" else "en"
        for page in PAGES:
            html = parse(SITE / lang / f"{page}.html")
            canonical = [a.get("href") for tag, a in html.tags
                         if tag == "link" and a.get("rel") == "canonical"]
            if site:
                assert canonical == [f"{site}{lang}/{page}.html"], (lang, page, canonical)
                assert html.alternates == {lang: f"{site}{lang}/{page}.html",
                                           twin: f"{site}{twin}/{page}.html"}
            else:
                assert canonical == []
            hrefs = [u for tag, u in html.links if tag == "a"]
            assert repo in hrefs, f"{lang}/{page}: no repository button"
        for page in NOTEBOOKS:
            hrefs = [u for tag, u in parse(SITE / lang / f"{page}.html").links if tag == "a"]
            assert any(h.startswith(f"https://mybinder.org/v2/gh/{owner_repo}/") for h in hrefs)
            assert any(h.startswith(f"https://colab.research.google.com/github/{owner_repo}/")
                       for h in hrefs)
        intro = (SITE / lang / "intro.html").read_text(encoding="utf-8")
        code = re.sub(r"<[^>]+>", "", intro)
        assert f"git clone {repo}\ncd {name}\n" in code, f"{lang}/intro.html: the git clone lines"
        assert "{{" not in code, f"{lang}/intro.html: a substitution was left"


def test_a_fork_changes_two_lines(tmp_path):
    """Build the configuration of both editions for a fork (only repository.url and
    html.baseurl changed), then the introduction and a notebook page with it: every output
    follows. The publishing workflow's check accepts the fork's settings from the fork's
    repository and refuses the upstream's."""
    import shutil
    import subprocess
    import sys

    build_site = _ext_module("build_site")
    fork_repo, fork_site = "https://github.com/someone/ebm-fork", "https://someone.github.io/ebm-fork/"
    fork = yaml.safe_load((ROOT / "_config.yml").read_text())
    fork["repository"]["url"], fork["html"]["baseurl"] = fork_repo, fork_site
    for lang in LANGS:
        edition = build_site.edition_config(lang, fork, build_site.load_config(ROOT, lang)[1])
        assert edition["html"]["baseurl"] == f"{fork_site}{lang}/"
        assert edition["sphinx"]["config"]["ebm_site_url"] == fork_site
        assert edition["repository"]["url"] == fork_repo
        assert edition["parse"]["myst_substitutions"] == {"repository_url": fork_repo,
                                                          "repository_name": "ebm-fork"}
    assert build_site.url_mismatches(fork, "https://someone.github.io/ebm-fork",
                                     "https://github.com/someone/ebm-fork") == []
    upstream = build_site.url_mismatches(CONFIG, "https://someone.github.io/ebm-fork",
                                         "https://github.com/someone/ebm-fork")
    assert len(upstream) == 2 and "repository.url" in upstream[0] and "html.baseurl" in upstream[1]
    check = subprocess.run([sys.executable, str(ROOT / "_ext" / "build_site.py"), "--check-urls",
                            "https://someone.github.io/ebm-fork", fork_repo],
                           capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 1 and "::error file=_config.yml::" in check.stdout, check.stdout

    # a two-page book built with the fork's English configuration, by Jupyter Book itself
    book = tmp_path / "book"
    for lang in LANGS:  # each page needs its twin
        (book / lang).mkdir(parents=True)
        intro = (ROOT / "book" / lang / "intro.md").read_text(encoding="utf-8")
        block = re.search(r"```bash\n.*?```\n", intro, re.S).group(0)
        (book / lang / "intro.md").write_text(f"# Intro\n\n{block}", encoding="utf-8")
        (book / lang / "nb.md").write_text(
            "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
            "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
            "# Notebook\n\n```{code-cell} ipython3\n1 + 1\n```\n", encoding="utf-8")
    shutil.copy(ROOT / "book" / "references.bib", book / "references.bib")
    (tmp_path / "_ext").symlink_to(ROOT / "_ext", target_is_directory=True)
    edition = build_site.edition_config("en", fork)
    edition["execute"] = {"execute_notebooks": "off"}
    edition["sphinx"]["config"].pop("nb_ipywidgets_js", None)
    config = tmp_path / "_config.en.yml"
    config.write_text(yaml.safe_dump(edition, allow_unicode=True), encoding="utf-8")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: nb\n")
    jb = Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run([str(jb), "build", str(book / "en"), "--config", str(config), "--toc",
                          str(tmp_path / "_toc.yml"), "--path-output", str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    html_dir = tmp_path / "out" / "_build" / "html"
    assert (html_dir / "intro.html").exists(), run.stdout[-3000:] + run.stderr[-3000:]
    intro = (html_dir / "intro.html").read_text(encoding="utf-8")
    assert f"git clone {fork_repo}\ncd ebm-fork\n" in re.sub(r"<[^>]+>", "", intro)
    assert f'<link rel="canonical" href="{fork_site}en/intro.html"' in intro
    assert f'hreflang="fr" href="{fork_site}fr/intro.html"' in intro
    page = (html_dir / "nb.html").read_text(encoding="utf-8")
    assert "https://mybinder.org/v2/gh/someone/ebm-fork/" in page
    assert "https://colab.research.google.com/github/someone/ebm-fork/" in page
    first = "".join(json.loads((html_dir / "_sources" / "nb.ipynb").read_text())["cells"][0]["source"])
    assert f"git+{fork_repo}@" in first
    assert "ebm-course" not in intro + page + first


def test_the_publishing_workflow_checks_the_site_settings():
    """pages.yml checks the two settings against the address GitHub Pages gives and the
    repository it runs in, with build_site.py --check-urls, before it uploads the site."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    pages = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/configure-pages@"))
    check = next(i for i, s in enumerate(steps) if "--check-urls" in s.get("run", ""))
    upload = next(i for i, s in enumerate(steps) if "upload-pages-artifact" in s.get("uses", ""))
    build = next(i for i, s in enumerate(steps) if s.get("run", "").strip() == "make book")
    assert pages < check < build < upload, "the settings are checked before the build"
    assert steps[pages]["id"] == "pages"
    env = steps[check]["env"]
    assert env["PAGES_URL"] == "${{ steps.pages.outputs.base_url }}"
    assert env["REPOSITORY_URL"] == "${{ github.server_url }}/${{ github.repository }}"
