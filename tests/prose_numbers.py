"""Every number in a chapter's prose is computed or asserted.

A number in the prose of a chapter (its markdown cells, in either edition) is *backed*
when it is:

* inserted from a computed value with myst-nb's ``glue`` (then it is not in the source);
* a numeric constant inside an ``assert`` statement of a hidden code cell (tag
  ``remove-cell`` or ``remove-input``), for example ``assert len(Y) == 4000`` backs
  "4,000 digits" and ``assert abs(ratio - 0.3) < 0.05`` backs "about 0.3";
* structural: a year, a chapter, figure, exercise, section, week or part number, a
  numbered-list marker, the 1 and 2 of "L1", "ℓ1", "1-D", "2-D".

In maths, only the numbers that follow a relation (``=``, ``<``, ``>``, ``\\approx``,
``\\le``, ``\\ge``, ``\\times``...) are claims; the others are notation (indices, powers).

English numbers are written ``4,000`` and ``0.3``; French ones ``4 000`` (any space) and
``0,3`` (``0{,}3`` in maths). A number followed by ``%`` is also backed by its fraction
(``85 %`` by 0.85).

Run ``python tests/prose_numbers.py book/en/lista.md ...`` to list the unbacked numbers.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext

HIDDEN_TAGS = {"remove-cell", "remove-input"}

_STRUCTURAL_BEFORE = re.compile(
    r"(?:\b(?:chapters?|chapitres?|Fig\.|Figs\.|figures?|exercises?|exercices?|sections?|"
    r"weeks?|semaines?|parts?|partie|Eq\.|équation|items?|lectures?|cours)\s*(?:\d+\s*(?:,|and|et)\s*)*|"
    r"[Lℓ]_?\{?)$", re.IGNORECASE)
_STRUCTURAL_AFTER = re.compile(r"^(?:-D\b|D\b|\}?-?(?:norm|norme))")
_RELATION = re.compile(r"(?:=|<|>|≈|≤|≥|\\approx|\\leq?|\\geq?|\\sim|\\times|\\lt|\\gt)\s*[-−]?\s*$")

_NUMBER = {
    "en": re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|(?<![\w.])\d+(?:\.\d+)?(?![\d\w])"
                     r"|(?<![\w.])\d+(?=s\b)"),  # also "the 4s and 7s"
    "fr": re.compile(r"(?<![\w,])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?(?!\d)|"
                     r"(?<![\w,])\d+(?:,\d+)?(?![\d\w])"),
}


@dataclass(frozen=True)
class Number:
    text: str        # as written
    value: float
    context: str     # a few words around it
    percent: bool    # followed by %


def _value(text: str, lang: str) -> float:
    if lang == "fr":
        text = re.sub(r"[ \u00a0\u202f]", "", text).replace(",", ".")
    else:
        text = text.replace(",", "")
    return float(text)


def _strip(markdown: str) -> str:
    """Markdown without what is not prose: comments, roles, code, link targets, options."""
    lines = []
    for line in markdown.splitlines():
        if re.match(r"^\s*:[\w-]+:", line) or re.match(r"^\s*\(.*\)=\s*$", line):
            continue  # directive options, targets
        line = re.sub(r"^\s*`{3,}\{[\w-]+\}", "", line)  # directive name; its title stays
        line = re.sub(r"^\s*(?:\d+[.)]|[-*+])\s+", "", line)  # list markers
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # roles: {cite:p}`…`, {glue:}`…`, {ref}`…`
    text = re.sub(r"``.*?``|`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # [text](target) → [text]
    text = re.sub(r"https?://\S+", " ", text)
    return text


def prose_numbers(markdown: str, lang: str) -> list[Number]:
    """The numbers a markdown cell states, with the structural ones left out."""
    text = _strip(markdown)
    found: list[Number] = []
    pattern = _NUMBER[lang]

    def add(match: re.Match[str], source: str) -> None:
        before, after = source[max(0, match.start() - 40):match.start()], source[match.end():match.end() + 12]
        if _STRUCTURAL_BEFORE.search(before) or _STRUCTURAL_AFTER.match(after):
            return
        value = _value(match.group(), lang)
        if value.is_integer() and 1900 <= value <= 2039 and "." not in match.group():
            return  # a year
        context = (before[-25:] + match.group() + after).replace("\n", " ")
        percent = bool(re.match(r"^[ \u00a0\u202f]?(?:%|\\%|\\,\\%)", after))
        found.append(Number(match.group(), value, context.strip(), percent))

    def maths(m: re.Match[str]) -> str:
        formula = m.group(1) or m.group(2) or ""
        formula = formula.replace("{,}", ",").replace("{.}", ".")
        for n in pattern.finditer(formula):
            if _RELATION.search(formula[:n.start()]):
                add(n, formula)
        return " "

    text = re.sub(r"\$\$(.*?)\$\$|\$([^$\n]*)\$", maths, text, flags=re.S)
    text = re.sub(r"```\{math\}(.*?)```", lambda m: maths(re.match(r"(.*)|(.*)", m.group(1), re.S)), text,
                  flags=re.S)
    for n in pattern.finditer(text):
        add(n, text)
    return found


def asserted_constants(source: str) -> set[float]:
    """The numeric constants inside the ``assert`` statements of a code cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    out: set[float] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            for sub in ast.walk(node.test):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, (int, float)) \
                        and not isinstance(sub.value, bool):
                    out.add(abs(float(sub.value)))
    return out


def _backed(number: Number, constants: set[float]) -> bool:
    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))

    values = [number.value] + ([number.value / 100] if number.percent else [])
    return any(close(v, c) for v in values for c in constants)


def unbacked(path: str | Path) -> list[Number]:
    """The numbers of a chapter's prose that no glue, hidden assert or structure backs."""
    path = Path(path)
    lang = path.parent.name
    if lang not in _NUMBER:
        raise ValueError(f"argument 'path': expected a page under book/en or book/fr, received {path}")
    nb = jupytext.read(path)
    constants: set[float] = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and HIDDEN_TAGS & set(cell.metadata.get("tags", [])):
            constants |= asserted_constants(cell.source)
    missing = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            missing += [n for n in prose_numbers(cell.source, lang) if not _backed(n, constants)]
    return missing


if __name__ == "__main__":
    status = 0
    for name in sys.argv[1:]:
        bad = unbacked(name)
        print(f"{name}: {len(bad)} unbacked number(s)")
        for n in bad:
            print(f"    {n.text:>8}  …{n.context}…")
        status |= bool(bad)
    sys.exit(status)
