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
  ``.ipynb`` that installs ebmlib from the repository, at the commit the site was built
  from, when the kernel lacks it, sets the language of the exercise checkers to the
  edition's, and collapses the cells that the page hides (see :func:`notebook_for_download`);
* writes the site's settings into code blocks: ``{{ repository_url }}`` and
  ``{{ repository_name }}`` (MyST substitutions, which MyST does not apply inside code) in
  the introduction's ``git clone`` lines (:class:`SubstitutionsInCode`), and gives absolute
  ``hreflang`` links when the site's address is set (``ebm_site_url``, from
  ``html.baseurl``: see ``_ext/build_site.py``);
* in the French edition, sets French typography in the prose and the maths
  (:class:`FrenchTypography`) and writes the solution titles as French does
  (« Solution de l'exercice 1 »).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
NAMES = {"en": "English", "fr": "Français"}
#: The switcher's label for screen readers, in the language of the page that shows it.
SWITCH_LABELS = {"en": "Read this page in French", "fr": "Lire cette page en anglais"}
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
    context["ebm_twin_label"] = SWITCH_LABELS[lang]
    if doctree is not None and not twin_exists(Path(app.srcdir), cfg.ebm_twin_srcdir, pagename):
        logger.warning("page '%s' has no %s twin in %s", pagename, NAMES[twin],
                       cfg.ebm_twin_srcdir, location=pagename)
        context["ebm_twin_url"] = ""
        return
    # special pages (search, genindex) have a twin too: the other edition builds them
    context["ebm_twin_url"] = f"{up}{twin}/{pagename}.html"
    site = cfg.ebm_site_url or up  # hreflang links should be absolute where the site has an address
    links = (f'<link rel="alternate" hreflang="{lang}" href="{site}{lang}/{pagename}.html" />\n'
             f'<link rel="alternate" hreflang="{twin}" href="{site}{twin}/{pagename}.html" />\n')
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


class SubstitutionsInCode(SphinxTransform):
    """``{{ key }}`` in code blocks and inline code, for the keys of ``myst_substitutions``
    (``repository_url``, ``repository_name``: set by ``_ext/build_site.py`` from
    ``_config.yml``), so that the introduction's ``git clone`` lines follow the one setting."""

    default_priority = 700
    _KEY = re.compile(r"\{\{\s*(\w+)\s*\}\}")
    # A literal ``git clone https://github.com/<owner>/<name>`` and the ``cd <name>`` after it:
    # the source keeps a command that works where it is read raw (GitHub, JupyterLab, the
    # page's _sources), and the site shows the repository of _config.yml.
    _CLONE = re.compile(r"git clone https://github\.com/[\w.-]+/([\w-]+)(?:\.git)?(?=\s|$)")

    def _substitute(self, text: str, values: dict) -> str:
        text = self._KEY.sub(lambda m: str(values.get(m.group(1), m.group(0))), text)
        url, name = values.get("repository_url"), values.get("repository_name")
        if url and name:
            for old_name in set(self._CLONE.findall(text)):
                text = re.sub(rf"(?m)^(\s*cd ){re.escape(old_name)}(?=\s|$)", lambda m: m.group(1) + name,
                              text)
            text = self._CLONE.sub(lambda m: f"git clone {url}", text)
        return text

    def apply(self, **kwargs) -> None:
        values = getattr(self.config, "myst_substitutions", None) or {}
        if not values:
            return
        for node in list(self.document.findall(lambda n: isinstance(n, (nodes.literal_block,
                                                                          nodes.literal)))):
            for text in list(node.findall(nodes.Text)):
                new = self._substitute(str(text), values)
                if new != str(text):
                    text.parent.replace(text, nodes.Text(new))
            if isinstance(node, nodes.literal_block) and node.rawsource:
                node.rawsource = self._substitute(node.rawsource, values)


# --------------------------------------------------------------------------------------------------
# French typography
# --------------------------------------------------------------------------------------------------

NBSP, NNBSP = "\u00a0", "\u202f"  # no-break space, narrow no-break space
#: Nodes whose text is not prose: code, raw HTML, maths (handled apart), comments.
_NOT_PROSE = (nodes.literal, nodes.literal_block, nodes.raw, nodes.comment, nodes.math,
              nodes.math_block, nodes.FixedTextElement)
_PROSE_RULES = [
    (re.compile(r"[ \u00a0\u202f]*:(?=\s|$)"), NBSP + ":"),                 # « mot : »
    (re.compile(r"(?:[ \u00a0]+|(?<=\S))([;!?»])"), NNBSP + r"\1"),          # « mot ; » « ? »
    (re.compile(r"(?<=[\d\w)])[ \u00a0]*%"), NNBSP + "%"),                    # « 85 % »
    (re.compile(r"«[ \u00a0\u202f]*"), "«" + NBSP),
    (re.compile(r"(?<![\w.,])(\d+)\.(\d+)(?![\w.]|,\d)"), r"\1,\2"),        # 0.3 → 0,3
    (re.compile(r"'"), "\u2019"),                                              # one apostrophe
]
_DIGIT_GROUP = re.compile(r"(?<![\d,.])(\d{1,3})[ \u00a0](?=\d{3}(?!\d))")    # 4 000 → 4 000
_MATH_DECIMAL = re.compile(r"(?<![\w.])(\d+)\.(\d+)")                           # 0.5 → 0{,}5


def french_prose(text: str) -> str:
    """French typography for one run of prose (no code, no maths inside)."""
    for pattern, replacement in _PROSE_RULES:
        text = pattern.sub(replacement, text)
    while True:
        grouped = _DIGIT_GROUP.sub(r"\1" + NNBSP, text)
        if grouped == text:
            return text
        text = grouped


def french_math(latex: str) -> str:
    """Decimal commas in LaTeX: ``0.5`` → ``0{,}5`` (``{,}`` keeps the comma tight)."""
    return _MATH_DECIMAL.sub(r"\1{,}\2", latex)


class _FrenchTypographyMixin:
    """No-break spaces, decimal commas and one apostrophe in the French edition.

    Before ``: ; ! ? %`` and ``»`` and after ``«`` the ordinary space becomes a (narrow)
    no-break space, digit groups are joined by a narrow no-break space (« 4 000 »), decimal
    points become commas in the prose and ``{,}`` in the maths, and every straight
    apostrophe becomes ’. Code, raw HTML and code-cell outputs are left alone.
    """

    def apply(self, **kwargs) -> None:
        if self.config.ebm_language != "fr":
            return
        for node in list(self.document.findall(nodes.Text)):
            parent = node.parent
            if parent is None or _inside(parent, _NOT_PROSE):
                continue
            new = french_prose(str(node))
            if new != str(node):
                parent.replace(node, nodes.Text(new))
        for node in list(self.document.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block)))):
            for text in list(node.findall(nodes.Text)):
                new = french_math(str(text))
                if new != str(text):
                    text.parent.replace(text, nodes.Text(new))


class FrenchTypographyOnRead(_FrenchTypographyMixin, SphinxTransform):
    """At read time, so that the titles that go into tables of contents are French too."""

    default_priority = 800


class FrenchTypography(_FrenchTypographyMixin, SphinxPostTransform):
    """After the references, citations and exercise titles are resolved (the rules are
    idempotent, so the text that the first pass saw is not changed twice)."""

    default_priority = 900

    def run(self, **kwargs) -> None:
        self.apply()


def _inside(node: nodes.Node, kinds: tuple) -> bool:
    while node is not None:
        if isinstance(node, kinds) or "cell_output" in (node.get("classes", []) if isinstance(
                node, nodes.Element) else []):
            return True
        node = node.parent
    return False


class FrenchSolutionTitles(SphinxPostTransform):
    """« Solution de Exercice 1 » (sphinx-exercise) → « Solution de l’exercice 1 »."""

    default_priority = 25  # after sphinx-exercise resolves the solution titles (21)

    def run(self, **kwargs) -> None:
        if self.config.ebm_language != "fr":
            return
        for title in list(self.document.findall(nodes.title)):
            texts = list(title.findall(nodes.Text))
            if len(texts) < 2 or str(texts[0]).strip() != "Solution de":
                continue
            first, second = texts[0], texts[1]
            match = re.match(r"\s*Exercice\b", str(second))
            if not match:
                continue
            first.parent.replace(first, nodes.Text("Solution de "))
            second.parent.replace(second, nodes.Text("l\u2019exercice" + str(second)[match.end():]))


_SETUP_COMMENT = {
    "en": "# Colab or a fresh kernel: install ebmlib, the book's library, if it is missing,\n"
          "# and let the exercise checkers answer in this notebook's language.\n",
    "fr": "# Colab ou noyau neuf : installe ebmlib, la bibliothèque du livre, si elle manque,\n"
          "# et fait répondre les correcteurs des exercices dans la langue de ce notebook.\n",
}


def setup_cell(repository_url: str, lang: str = "en", ref: str | None = None) -> dict:
    """The first cell of a downloaded notebook: install ebmlib if the kernel lacks it, and
    set ``EBMLIB_LANG`` to the edition's language (the checkers read it: in Colab or in a
    downloaded copy, the folder name says nothing about the language).

    ``ref`` (a commit, see :func:`ebmlib_ref`) pins the version installed to the one that
    the site was built and tested with: ``git+<repository_url>@<ref>``.
    """
    if lang not in _SETUP_COMMENT:
        raise ValueError(f"argument 'lang': expected one of {sorted(_SETUP_COMMENT)}, received {lang!r}")
    if ref is not None and not re.fullmatch(r"[\w.\-/]+", ref):
        raise ValueError(f"argument 'ref': expected a git commit, tag or branch, received {ref!r}")
    pinned = f"git+{repository_url}" + (f"@{ref}" if ref else "")
    source = (_SETUP_COMMENT[lang] +
              "import importlib.util\n"
              "import os\n"
              f"os.environ.setdefault('EBMLIB_LANG', '{lang}')\n"
              "if importlib.util.find_spec('ebmlib') is None:\n"
              f"    %pip install --quiet 'ebmlib @ {pinned}'\n")
    return {"cell_type": "code", "execution_count": None, "id": SETUP_TAG,
            "metadata": {"tags": [SETUP_TAG]}, "outputs": [], "source": source}


def ebmlib_ref(folder: Path, branch: str) -> str:
    """The commit that the site is built from (``git rev-parse HEAD`` in ``folder``), for
    :func:`setup_cell` to pin; ``branch``, with a warning, when ``folder`` is not in a git
    checkout (the warning does not fail a strict build: a copy without ``.git`` still builds).
    """
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                                text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    if re.fullmatch(r"[0-9a-f]{40}", commit):
        return commit
    print(f"WARNING: {folder} is not in a git checkout: the downloadable notebooks install "
          f"ebmlib from the head of the branch {branch!r}, not the commit this site was built "
          "from", file=sys.stderr)
    return branch


def notebook_for_download(source: Path, repository_url: str, lang: str = "en",
                          ref: str | None = None):
    """The ``.ipynb`` offered for download and Colab, made from a MyST-markdown page.

    It starts with :func:`setup_cell` (for the edition's language ``lang``, installing
    ebmlib at ``ref``), and the cells
    that the page hides (hidden asserts, exercise solutions) are collapsed, so that a
    student meets the exercise first.
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
    nb.cells.insert(0, jupytext.reads(setup_cell(repository_url, lang, ref)["source"],
                                      fmt="py:percent").cells[0])
    nb.cells[0].metadata["tags"] = [SETUP_TAG]
    return nb


#: Interface strings that the themes write in English whatever the language (hard-coded in
#: their templates or missing from their French catalogues), and their French.
FRENCH_INTERFACE = {
    "Toggle primary sidebar": "Afficher ou masquer la barre latérale principale",
    "Toggle secondary sidebar": "Afficher ou masquer la barre latérale secondaire",
    "Toggle hidden content": "Afficher ou masquer le contenu caché",
    "Launch interactive content": "Lancer le contenu interactif",
    "Launch on Binder": "Lancer sur Binder",
    "Source repositories": "Dépôts source",
    "Repository": "Dépôt",
    "Open issue": "Signaler un problème",
    "Binder logo": "Logo de Binder",
    "Colab logo": "Logo de Colab",
    "Main": "Principal",
}
_INTERFACE = re.compile("(?<=[\"'>])(" + "|".join(map(re.escape, FRENCH_INTERFACE)) + ")(?=[\"'<])")


def translate_interface(html: str) -> str:
    """The French of :data:`FRENCH_INTERFACE`, in attribute values and element texts."""
    return _INTERFACE.sub(lambda m: FRENCH_INTERFACE[m.group(1)], html)


def _french_interface(app: Sphinx) -> None:
    for page in Path(app.outdir).rglob("*.html"):
        if "_static" in page.parts:
            continue
        html = page.read_text(encoding="utf-8")
        french = translate_interface(html)
        if french != html:
            page.write_text(french, encoding="utf-8")


def _build_finished(app: Sphinx, exception: Exception | None) -> None:
    """Replace the theme's copies in ``_sources`` by :func:`notebook_for_download`."""
    if exception is not None or app.builder.format != "html":
        return
    if app.config.ebm_language == "fr":
        _french_interface(app)
    import nbformat

    options = app.config.html_theme_options
    url = (options.get("repository_url") or "").rstrip("/")
    ref = ebmlib_ref(Path(app.srcdir), options.get("repository_branch") or "main")
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        if source.suffix != ".md" or "kernelspec:" not in source.read_text(encoding="utf-8")[:2000]:
            continue
        target = Path(app.outdir, "_sources", docname + ".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        nbformat.write(notebook_for_download(source, url, app.config.ebm_language, ref), tmp)
        tmp.replace(target)


def _register_french_citations() -> None:
    """``author_year_fr`` (citations) and ``alpha_fr`` (bibliography): authors joined by « et »."""
    from dataclasses import dataclass, field

    import sphinxcontrib.bibtex.plugin
    from sphinxcontrib.bibtex.style.referencing import PersonStyle
    from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

    @dataclass
    class FrenchAuthorYear(AuthorYearReferenceStyle):
        person: PersonStyle = field(default_factory=lambda: PersonStyle(sep2=" et ", last_sep=" et "))

    sphinxcontrib.bibtex.plugin.register_plugin(
        "sphinxcontrib.bibtex.style.referencing", "author_year_fr", FrenchAuthorYear)

    import pybtex.plugin
    from pybtex.style.formatting.alpha import Style as Alpha
    from pybtex.style.template import names, sentence

    class FrenchAlpha(Alpha):
        """The bibliography's entries with « A, B et C » (the other words stay pybtex's)."""

        def format_names(self, role, as_sentence=True):
            formatted = names(role, sep=", ", sep2=" et ", last_sep=" et ")
            return sentence[formatted] if as_sentence else formatted

    pybtex.plugin.register_plugin("pybtex.style.formatting", "alpha_fr", FrenchAlpha)


def setup(app: Sphinx) -> dict:
    app.add_config_value("ebm_language", "en", "html")
    app.add_config_value("ebm_twin_language", "fr", "html")
    app.add_config_value("ebm_twin_srcdir", "../fr", "html")
    app.add_config_value("ebm_site_branch", "gh-pages", "html")
    app.add_config_value("ebm_site_url", "", "html")  # the site's address, or "" (relative links)
    app.connect("config-inited", _config_inited)
    # before pydata-sphinx-theme drops header templates that render empty (priority 500)
    app.connect("html-page-context", _page_context, priority=400)
    # after sphinx-book-theme adds its launch buttons (priority 501)
    app.connect("html-page-context", _add_colab, priority=600)
    app.connect("build-finished", _build_finished)
    _register_french_citations()
    app.add_post_transform(FrenchSolutionTitles)
    app.add_transform(FrenchTypographyOnRead)
    app.add_transform(SubstitutionsInCode)
    app.add_post_transform(FrenchTypography)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
