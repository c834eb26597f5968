"""The built site reads with no network: every script, style and font comes with it.

MathJax, require.js and the ipywidgets HTML manager are served from each edition's
``_static`` (``_ext/offline_assets.py``). These checks read the HTML and CSS files;
``tests/test_browser.py`` opens the pages in Chromium with its network cut.

Like the other site tests, they skip when ``_build/site`` is missing, except with
``EBM_REQUIRE_SITE=1``. ``EBM_SITE=<folder>`` checks another copy of the site.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sitecheck import SITE as BUILT_SITE
from sitecheck import parse

SITE = Path(os.environ.get("EBM_SITE") or BUILT_SITE)
ROOT = Path(__file__).resolve().parent.parent

# a site test: it reads the built site (`make test` runs the `site` tests after the build)
pytestmark = pytest.mark.site

LANGS = ("en", "fr")
REMOTE = re.compile(r"^\s*(https?:)?//", re.I)
# the <link rel> values that make the browser fetch something for the page itself
FETCHED_LINKS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "manifest",
                 "apple-touch-icon"}
CSS_URL = re.compile(r"""(?:url\(\s*|@import\s+)['"]?((?:https?:)?//[^'")\s]+)""", re.I)


def remote_assets(html: str) -> list[str]:
    """The scripts, styles and other page resources of ``html`` that come from the network.

    Links a reader follows (``<a href>``: the video, Colab, Binder) are not resources.
    """
    from sitecheck import Page

    page = Page()
    page.feed(html)
    found = []
    for tag, attrs in page.tags:
        rels = set((attrs.get("rel") or "").lower().split())
        if tag in ("script", "img", "iframe", "embed", "source", "audio", "video") and \
                REMOTE.match(attrs.get("src") or ""):
            found.append(f"<{tag} src={attrs['src']}>")
        elif tag == "link" and rels & FETCHED_LINKS and REMOTE.match(attrs.get("href") or ""):
            found.append(f"<link rel={attrs['rel']} href={attrs['href']}>")
    found += [f"style: {url}" for url in CSS_URL.findall(html)]
    return found


def _pages() -> list[Path]:
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts)


if not (SITE / "index.html").exists():
    if os.environ.get("EBM_REQUIRE_SITE") == "1":
        raise RuntimeError(f"{SITE} is missing: run `make book` before these tests")
    pytest.skip("the site is not built: run `make book` first", allow_module_level=True)


# --- the checker itself, on pages made to fail ------------------------------------------------

def test_checker_flags_cdn_scripts_and_styles_but_not_links():
    bad = """<html><head>
      <script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
      <script src="//cdnjs.cloudflare.com/ajax/libs/require.js/2.3.4/require.min.js"></script>
      <link rel="stylesheet" href="HTTP://fonts.example.org/font.css">
      <style>@import url("https://fonts.example.org/x.css");</style>
      </head><body><a href="https://mybinder.org/v2/gh/x/y/main">Binder</a></body></html>"""
    assert len(remote_assets(bad)) == 4, remote_assets(bad)
    good = """<html><head><script src="_static/mathjax/tex-mml-chtml.js"></script>
      <link rel="stylesheet" href="_static/ebm.css"><link rel="alternate" href="https://x.org/">
      </head><body><a href="https://colab.research.google.com/x">Colab</a></body></html>"""
    assert remote_assets(good) == []


# --- the built site ---------------------------------------------------------------------------

def test_both_editions_are_there():
    for lang in LANGS:
        assert (SITE / lang / "intro.html").exists(), lang


@pytest.mark.parametrize("lang", LANGS)
def test_no_page_loads_a_script_or_style_from_the_network(lang):
    problems = {}
    for path in _pages():
        if path.parent.name == lang or path.parent == SITE:
            found = remote_assets(path.read_text(encoding="utf-8", errors="replace"))
            if found:
                problems[str(path.relative_to(SITE))] = found
    assert problems == {}


@pytest.mark.parametrize("lang", LANGS)
def test_no_stylesheet_fetches_from_the_network(lang):
    problems = {}
    for css in sorted((SITE / lang / "_static").rglob("*.css")):
        found = CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace"))
        if found:
            problems[str(css.relative_to(SITE))] = found
    assert problems == {}


@pytest.mark.parametrize("lang", LANGS)
def test_maths_and_widgets_come_from_the_site(lang):
    """Pages with maths load the MathJax served with the site, pages with widgets the
    served require.js and widget manager, and those files are there."""
    with_maths = with_widgets = 0
    for path in _pages():
        if path.parent.name != lang:
            continue
        html = path.read_text(encoding="utf-8")
        scripts = [a.get("src") or "" for tag, a in parse(path).tags if tag == "script"]
        local = [s.split("?")[0] for s in scripts if s.startswith("_static/")]
        for src in local:
            assert (path.parent / src).is_file(), f"{path.name}: {src} is missing"
        if 'class="math' in html:
            with_maths += 1
            assert "_static/mathjax/tex-mml-chtml.js" in local, path.name
        if "application/vnd.jupyter.widget-state+json" in html:
            with_widgets += 1
            assert local.index("_static/widgets/require.js") < local.index(
                "_static/widgets/embed-amd.js"), path.name
    assert with_maths >= 5 and with_widgets >= 1, (with_maths, with_widgets)
    fonts = SITE / lang / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert len(list(fonts.glob("*.woff"))) > 10


def test_launch_and_video_links_stay_links():
    """Serving the scripts locally must not touch the links a reader follows."""
    for lang in LANGS:
        hrefs = [a.get("href") or "" for tag, a in parse(SITE / lang / "vae.html").tags
                 if tag == "a"]
        assert any(h.startswith("https://mybinder.org/") for h in hrefs), lang
        assert any(h.startswith("https://colab.research.google.com/") for h in hrefs), lang


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    """``npm pack`` output is checked against the sha512 pinned in _ext/offline_assets.py."""
    import subprocess
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    import offline_assets

    def fake_npm(cmd, **kwargs):
        (tmp_path / "requirejs-2.3.8.tgz").write_bytes(b"not the real tarball")
        return subprocess.CompletedProcess(cmd, 0, '[{"filename": "requirejs-2.3.8.tgz"}]', "")

    monkeypatch.setattr(offline_assets.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(offline_assets.subprocess, "run", fake_npm)
    version, integrity, _ = offline_assets.NPM["requirejs"]
    with pytest.raises(SystemExit, match="sha512"):
        offline_assets._npm_pack("requirejs", version, integrity, tmp_path)
