"""The build is strict: a missing twin, a broken link or a notebook that raises fails it.

Each test builds a one-page edition in a temporary folder with the project's own
configuration and Sphinx extension (a few seconds each).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

# a site test: it builds a small book with jupyter-book (`make test` runs it with the site's)
pytestmark = pytest.mark.site

JB = Path(sys.executable).with_name("jupyter-book")
NOTEBOOK_HEADER = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
"""


def build(tmp_path: Path, en: dict[str, str], fr: dict[str, str]) -> subprocess.CompletedProcess:
    """Build the English edition of a book made of ``intro``, the given pages and ``other``."""
    en, fr = {**en, "other": "# Other\n"}, {**fr, "other": "# Autre\n"}
    for lang, pages in (("en", en), ("fr", fr)):
        (tmp_path / lang).mkdir()
        for name, text in pages.items():
            (tmp_path / lang / f"{name}.md").write_text(text, encoding="utf-8")
    (tmp_path / "references.bib").write_text((ROOT / "book" / "references.bib").read_text())
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["cache"] = str(tmp_path / "cache")
    config["sphinx"]["local_extensions"] = {"bilingual": str(ROOT / "_ext")}
    config["sphinx"]["config"]["html_static_path"] = [str(ROOT / "_ext" / "static")]
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    toc = {"format": "jb-book", "root": "intro",
           "chapters": [{"file": name} for name in en if name != "intro"]}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc), encoding="utf-8")
    return subprocess.run(
        [str(JB), "build", str(tmp_path / "en"), "--config", str(tmp_path / "_config.yml"),
         "--toc", str(tmp_path / "_toc.yml"), "--path-output", str(tmp_path / "out"),
         "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=300)


@pytest.fixture(autouse=True)
def _needs_jupyter_book():
    if not JB.exists():
        pytest.skip("jupyter-book is not installed in this environment")


def test_a_clean_edition_builds(tmp_path):
    result = build(tmp_path, {"intro": "# Intro\n\nHello.\n"}, {"intro": "# Intro\n\nBonjour.\n"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_a_page_without_its_twin_fails_the_build(tmp_path):
    result = build(tmp_path, {"intro": "# Intro\n", "alone": "# Alone\n"}, {"intro": "# Intro\n"})
    assert result.returncode != 0
    assert "page 'alone' has no Français twin" in result.stdout + result.stderr


def test_a_broken_link_fails_the_build(tmp_path):
    page = "# Intro\n\nSee [the missing page](missing.md).\n"
    result = build(tmp_path, {"intro": page}, {"intro": page})
    assert result.returncode != 0


def test_a_notebook_that_raises_fails_the_build(tmp_path):
    page = NOTEBOOK_HEADER + "# Intro\n\n```{code-cell} ipython3\nraise ValueError('boom')\n```\n"
    result = build(tmp_path, {"intro": page}, {"intro": page})
    assert result.returncode != 0
    assert "Executing notebook failed" in result.stdout + result.stderr
