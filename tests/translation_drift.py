"""A guard against translation drift between the English and the French editions.

Each prose cell of a French page records which English text it translates: the SHA-256
of its twin cell (the markdown cell at the same position in ``book/en/<page>``), kept
beside the pages in ``book/fr/translated-from.json``. When an English cell changes and
its French twin has not been re-read, :func:`drifted` names the cell, and the test in
``tests/test_book.py`` fails.

After a person has re-read the French cells against the changed English ones (and
updated them), record the French as up to date::

    make translations-reviewed     # = python tests/translation_drift.py --record

Code cells are not recorded: they are identical byte for byte in both editions, which
another test checks. A page without code cells (introduction, glossary) is one cell.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext

BOOK = Path(__file__).resolve().parent.parent / "book"
RECORD = BOOK / "fr" / "translated-from.json"


def prose_cells(path: Path) -> list[str]:
    """The markdown cells of a page, in order."""
    return [c.source for c in jupytext.read(path).cells if c.cell_type == "markdown"]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current(book: Path = BOOK) -> dict[str, list[str]]:
    """page → the digests of its English prose cells, as they are now."""
    return {p.name: [digest(t) for t in prose_cells(p)] for p in sorted((book / "en").glob("*.md"))}


@dataclass(frozen=True)
class Drift:
    page: str
    cell: int         # index among the page's prose cells, from 0
    english: str      # the first words of the English cell as it is now
    why: str

    def __str__(self) -> str:
        return f"book/fr/{self.page}, prose cell {self.cell} ({self.english!r}): {self.why}"


def drifted(book: Path = BOOK, record: Path | None = None) -> list[Drift]:
    """The French prose cells whose English twin changed since they were last reviewed."""
    record = record or book / "fr" / RECORD.name
    saved = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
    problems = []
    for page, hashes in current(book).items():
        english = prose_cells(book / "en" / page)
        french = prose_cells(book / "fr" / page) if (book / "fr" / page).exists() else []
        if len(french) != len(english):
            problems.append(Drift(page, min(len(french), len(english)), "",
                                  f"{len(english)} prose cells in English, {len(french)} in French"))
            continue
        old = saved.get(page, [])
        for i, h in enumerate(hashes):
            if i >= len(old) or old[i] != h:
                first = " ".join(english[i].split()[:8])
                problems.append(Drift(page, i, first, "the English changed since the French was "
                                                      "last reviewed (make translations-reviewed)"))
    return problems


def record_reviewed(book: Path = BOOK, record: Path | None = None) -> Path:
    """Record every French page as up to date with the English as it is now."""
    record = record or book / "fr" / RECORD.name
    record.write_text(json.dumps(current(book), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return record


if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        print(f"recorded {record_reviewed()}")
        sys.exit(0)
    found = drifted()
    print("\n".join(map(str, found)) or "every French prose cell is up to date with its English twin")
    sys.exit(1 if found else 0)
