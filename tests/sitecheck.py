"""Offline checks of the built site: internal links, anchors, languages, twins.

Used by tests/test_site.py and runnable on its own: ``python tests/sitecheck.py``.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

SITE = Path(__file__).resolve().parent.parent / "_build" / "site"
EXTERNAL = ("http:", "https:", "mailto:", "data:", "javascript:", "tel:")


class Page(HTMLParser):
    """The links, ids and a few attributes of one HTML file."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()
        self.html_lang: str | None = None
        self.alternates: dict[str, str] = {}
        self.switcher: str | None = None
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "html":
            self.html_lang = a.get("lang")
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "link" and a.get("rel") == "alternate" and a.get("hreflang"):
            self.alternates[a["hreflang"]] = a.get("href") or ""
        if tag == "a" and "ebm-lang-switcher" in (a.get("class") or ""):
            self.switcher = a.get("href")
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") in ("preconnect", "dns-prefetch")):
                self.links.append((tag, a[key]))


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(site: Path = SITE) -> list[str]:
    """Every internal href/src that points to a missing file or a missing #anchor."""
    # _static holds the themes' Jinja macros (not pages): skip it
    pages = {p: parse(p) for p in site.rglob("*.html") if "_static" not in p.parts}
    problems = []
    for path, page in pages.items():
        for tag, url in page.links:
            if url.startswith(EXTERNAL) or url.startswith("//"):
                continue
            parts = urlsplit(url)
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            rel = path.relative_to(site)
            if not target.exists():
                problems.append(f"{rel}: <{tag}> {url} -> missing file")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{rel}: <{tag}> {url} -> missing anchor")
    return problems


if __name__ == "__main__":
    found = broken_links()
    print("\n".join(found) or f"no broken internal link in {SITE}")
    sys.exit(1 if found else 0)
