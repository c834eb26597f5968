"""Offline checks of the built site: internal links, anchors, languages, twins.

Used by tests/test_site.py and runnable on its own: ``python tests/sitecheck.py``.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple
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


# --------------------------------------------------------------------------------------------------
# What a reader sees on a page: text blocks, maths, interface strings
# --------------------------------------------------------------------------------------------------

_SKIP = {"script", "style", "pre", "code", "kbd", "samp", "svg", "math", "noscript", "template"}
_SKIP_CLASSES = {"cell_output", "output", "math", "citation", "bibliography", "ebm-feedback",
                 "highlight", "MathJax"}
_BLOCKS = {"p", "li", "td", "th", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "caption",
           "figcaption", "summary", "button", "label", "title", "div", "section"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "data-bs-title", "data-tooltip")


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Visible(HTMLParser):
    """The text a reader sees in ``<article>`` (blocks of prose), the maths sources there,
    and the interface strings of the whole page (text and tooltips outside the article).

    Code, cell outputs, maths, citations, hidden elements and elements in another
    language (``lang`` different from the page's) are left out of the prose.

    ``images`` lists every image of the page with its alternative text: each ``<img>``
    (cell outputs included), and each slider widget (``<div class="ebm-widget">``, whose
    figure the browser draws and ``_ext/static/ebm-a11y.js`` gives its ``data-ebm-alt``);
    ``widget_views`` counts the widgets, wrapped or not.
    """

    def __init__(self, lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = lang
        self.stack: list[tuple[str, bool, bool, bool]] = []  # tag, skipped, in article, in maths
        self.blocks: list[list[str]] = [[]]
        self.maths: list[str] = []
        self.interface: list[str] = []
        self.images: list[Image] = []
        self.widget_views = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        _, skipped, article, maths = self.stack[-1] if self.stack else ("", False, False, False)
        if tag == "img":
            self.images.append(Image(a.get("alt"), a.get("src") or a.get("id") or "",
                                     article or tag == "article"))
        elif tag == "div" and "ebm-widget" in classes:
            self.images.append(Image(a.get("data-ebm-alt"), "slider widget", article))
        elif tag == "script" and a.get("type") == WIDGET_VIEW:
            self.widget_views += 1
        hidden = "display:none" in (a.get("style") or "").replace(" ", "") or "hidden" in a
        other_lang = a.get("lang") not in (None, "", self.lang)
        if not (skipped or hidden or other_lang):
            self.interface += [a[key] for key in ATTRIBUTES if a.get(key)]
        starts_maths = "math" in classes and tag in ("span", "div") and not maths
        if starts_maths and not (skipped or hidden):
            self.maths.append("")
        skipped = skipped or tag in _SKIP or bool(classes & _SKIP_CLASSES) or hidden or other_lang
        if tag in _VOID:
            return
        self.stack.append((tag, skipped, article or tag == "article", maths or starts_maths))
        if tag in _BLOCKS:
            self.blocks.append([])

    def handle_endtag(self, tag):
        if any(open_tag == tag for open_tag, *_ in self.stack):  # else a stray end tag
            while self.stack and self.stack.pop()[0] != tag:
                pass
        if tag in _BLOCKS:
            self.blocks.append([])

    def handle_data(self, data):
        _, skipped, article, maths = self.stack[-1] if self.stack else ("", False, False, False)
        if maths and self.maths:
            self.maths[-1] += data
        if skipped or not data.strip():
            return
        if article:
            self.blocks[-1].append(data)
        else:
            self.interface.append(data)

    def prose(self) -> list[str]:
        """Each block of prose, with runs of ASCII white space made one space (no-break
        spaces are kept: they are what French typography is about)."""
        out = (re.sub(r"[ \t\n\r]+", " ", "".join(b)).strip(" ") for b in self.blocks)
        return [b for b in out if b]


class Image(NamedTuple):
    alt: str | None  # None: no alt attribute
    src: str         # a data: URI is cut short
    figure: bool     # in the article (a figure), not the page's interface (a logo)

    def __str__(self) -> str:
        src = self.src if not self.src.startswith("data:") else self.src[:30] + "…"
        return f"<img {src}>"


def visible(path: Path, lang: str) -> Visible:
    page = Visible(lang)
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


# --------------------------------------------------------------------------------------------------
# French typography and English left on French pages
# --------------------------------------------------------------------------------------------------

_TYPO_RULES = [
    (re.compile(r"(?<![\u00a0\u202f])[;!?»]"), "no (narrow) no-break space before ; ! ? »"),
    (re.compile(r"(?<![\u00a0\u202f]):(?=\s|$)"), "no no-break space before :"),
    (re.compile(r"(?<![\u00a0\u202f])%"), "no narrow no-break space before %"),
    (re.compile(r"«(?![\u00a0\u202f])"), "no no-break space after «"),
    (re.compile(r"(?<![\d,.])\d{1,3} \d{3}(?!\d)"), "digit groups split by a breaking space"),
    (re.compile(r"(?<![\w.,])\d+\.\d+(?![\w.])"), "decimal point instead of a comma"),
    (re.compile(r"'"), "straight apostrophe (the edition uses ’)"),
]


def typography_problems(prose: list[str], maths: list[str]) -> list[str]:
    """French typography problems in blocks of prose and in maths sources."""
    found = []
    for block in prose:
        for pattern, why in _TYPO_RULES:
            for m in pattern.finditer(block):
                found.append(f"{why}: …{block[max(0, m.start() - 30):m.end() + 10]}…")
    for formula in maths:
        for m in re.finditer(r"(?<![\w.\\])\d+\.\d+", formula):
            found.append(f"decimal point in maths: {formula[max(0, m.start() - 20):m.end() + 10]}")
    return found


#: Interface strings that the theme or an extension may leave in English.
ENGLISH_INTERFACE = ("Search this book", "Search", "Launch", "interactive content", "Show code",
                     "Hide code", "Solution to", "Contents", "Download this page", "Print to PDF",
                     "Fullscreen", "Open an issue", "open issue", "Source repository", "Previous",
                     "Next", "Toggle", "Back to top", "light/dark", "Copy", "By ", "Exercise",
                     "Source repositories", "Repository", "Open issue", "Main", "Click to")
#: Words that are English and not French: two of them in one block make an English sentence.
ENGLISH_WORDS = {"the", "and", "with", "which", "this", "that", "from", "into", "are", "is", "of",
                 "for", "to", "by", "in", "on", "its", "it", "we", "you", "your", "our", "an",
                 "at", "be", "not", "has", "have", "than", "then", "these", "those"}
_FRENCH_TOO = {"on"}  # also a French word: never counted


def english_on_page(prose: list[str], interface: list[str], alts: list[str] = ()) -> list[str]:
    """English interface strings and English sentences found on a French page, in its prose
    and in the alternative text of its images (``alts``)."""
    found = []
    for alt in alts:
        english = [w for w in re.findall(r"\w+", alt) if w.lower() in ENGLISH_WORDS - _FRENCH_TOO]
        if len(english) >= 2:
            found.append(f"English alternative text ({', '.join(english[:4])}): {alt[:100]!r}")
    for text in interface:
        for word in ENGLISH_INTERFACE:
            if re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text):
                found.append(f"interface: {text.strip()[:80]!r} ({word!r})")
    for block in prose:
        words = re.findall(r"\w+", block)
        english = [w for w in words if w.lower() in ENGLISH_WORDS - _FRENCH_TOO]
        if len(english) >= 2:
            found.append(f"English sentence ({', '.join(english[:4])}): {block[:100]!r}")
    return found


# --------------------------------------------------------------------------------------------------
# Alternative text: every image says what it shows
# --------------------------------------------------------------------------------------------------

#: An alternative text that is a file name or a path (what Sphinx writes when a cell's
#: metadata gives none: the image's URI), or a bare hash.
_FILE_NAME = re.compile(r"^\S+\.(png|jpe?g|gif|svg|webp|pdf)$|^\S*/\S*$|^[0-9a-f]{16,}$", re.I)
#: An alternative text that names the kind of thing and not what it shows, in either language.
_GENERIC = re.compile(r"^(an? |une? |la |le |l')?(figure|fig\.?|image|img|picture|photo|graph|"
                      r"graphique|plot|chart|diagram|diagramme|sch[ée]ma|illustration|animation|"
                      r"widget|output|sortie)( ?(n[°o]\.? ?)?\d+)?[.:]?$", re.I)
MIN_FIGURE_WORDS = 4


def alt_problem(image: Image) -> str | None:
    """What is wrong with an image's alternative text (None: nothing).

    Every image needs one that is not empty, not a file name, not a bare "figure 3" or
    "image"; a figure of the article (not an interface logo) needs at least
    ``MIN_FIGURE_WORDS`` words, to say what it shows.
    """
    if image.alt is None:
        return f"{image}: no alternative text"
    text = " ".join(image.alt.split())
    if not text:
        return f"{image}: empty alternative text"
    if _FILE_NAME.search(text):
        return f"{image}: the alternative text is a file name ({text!r})"
    if _GENERIC.match(text):
        return f"{image}: the alternative text does not say what the image shows ({text!r})"
    if image.figure and len(text.split()) < MIN_FIGURE_WORDS:
        return f"{image}: the alternative text is too short to say what the figure shows ({text!r})"
    return None


def image_problems(page: Visible) -> list[str]:
    """The images of a page whose alternative text is missing or says nothing, and the
    widgets that the build did not wrap (their figure, drawn in the browser, gets none)."""
    found = [p for p in map(alt_problem, page.images) if p]
    wrapped = sum(1 for i in page.images if i.src == "slider widget")
    if page.widget_views > wrapped:
        found.append(f"{page.widget_views - wrapped} widget(s) not wrapped in "
                     "<div class=\"ebm-widget\">: their figure gets no alternative text")
    return found
