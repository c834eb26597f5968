"""The book's structure: twins, identical code, exercises with solutions, hidden asserts."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import prose_numbers
import pytest
import translation_drift
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
EN = sorted(p.name for p in (BOOK / "en").glob("*.md"))
FR = sorted(p.name for p in (BOOK / "fr").glob("*.md"))


def is_notebook(path: Path) -> bool:
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "kernelspec:" in head


NOTEBOOKS = [name for name in EN if is_notebook(BOOK / "en" / name)]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("parts", []):
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


def test_every_page_has_its_twin():
    assert EN == FR, f"only in en: {set(EN) - set(FR)}; only in fr: {set(FR) - set(EN)}"


def test_toc_lists_every_page_and_nothing_else():
    listed = {f"{name}.md" for name in toc_files()}
    assert listed == set(EN), f"not in _toc.yml: {set(EN) - listed}; missing: {listed - set(EN)}"


def test_there_is_at_least_one_chapter():
    assert NOTEBOOKS, "no notebook under book/en"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_code_cells_are_identical_in_both_languages(name):
    en = jupytext.read(BOOK / "en" / name)
    fr = jupytext.read(BOOK / "fr" / name)
    code_en = [(c.source, _without_alt(c.metadata)) for c in en.cells if c.cell_type == "code"]
    code_fr = [(c.source, _without_alt(c.metadata)) for c in fr.cells if c.cell_type == "code"]
    assert len(code_en) == len(code_fr), "the two editions have different numbers of code cells"
    for i, (a, b) in enumerate(zip(code_en, code_fr, strict=False)):
        assert a == b, f"code cell {i} differs between book/en/{name} and book/fr/{name}"
    assert en.metadata == fr.metadata


def figure_alt(metadata) -> str | None:
    """The alternative text of a code cell's figure (``mystnb: image: alt:``), if any."""
    return metadata.get("mystnb", {}).get("image", {}).get("alt")


def _without_alt(metadata) -> dict:
    """A code cell's metadata less its figure's alternative text, the one part in the page's language."""
    import copy

    meta = copy.deepcopy(dict(metadata))
    image = meta.get("mystnb", {}).get("image", {})
    image.pop("alt", None)
    if "image" in meta.get("mystnb", {}) and not image:
        del meta["mystnb"]["image"]
    if "mystnb" in meta and not meta["mystnb"]:
        del meta["mystnb"]
    return meta


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_figure_has_alternative_text_in_both_editions_or_in_neither(name):
    en = [figure_alt(c.metadata) for c in jupytext.read(BOOK / "en" / name).cells if c.cell_type == "code"]
    fr = [figure_alt(c.metadata) for c in jupytext.read(BOOK / "fr" / name).cells if c.cell_type == "code"]
    one_sided = [i for i, (a, b) in enumerate(zip(en, fr, strict=False)) if (a is None) != (b is None)]
    assert one_sided == [], f"code cells {one_sided} of {name} have alternative text in one edition only"
    same = [i for i, (a, b) in enumerate(zip(en, fr, strict=False)) if a is not None and a == b]
    assert same == [], f"code cells {same} of {name} have the English alternative text on the French page"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_french_prose_is_translated(name):
    en = [c.source for c in jupytext.read(BOOK / "en" / name).cells if c.cell_type == "markdown"]
    fr = [c.source for c in jupytext.read(BOOK / "fr" / name).cells if c.cell_type == "markdown"]
    same = [s for s in fr if s in en and len(s) > 80]
    assert not same, f"untranslated prose in book/fr/{name}: {same[0][:120]!r}"


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exercises_have_executed_solutions(lang, name):
    text = (BOOK / lang / name).read_text(encoding="utf-8")
    labels = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    assert len(labels) >= 2, f"book/{lang}/{name}: at least two exercises expected"
    for label in labels:
        block = re.search(r"`{3,4}\{solution-start\} " + re.escape(label) + r"\n(.*?)`{3,4}\{solution-end\}",
                          text, flags=re.S)
        assert block, f"book/{lang}/{name}: exercise {label} has no gated solution"
        assert "{code-cell}" in block.group(1) and "assert" in block.group(1), (
            f"book/{lang}/{name}: the solution of {label} must run code and assert the checker")
        assert ":class: dropdown" in block.group(1), f"{label}: the solution must be hidden"


EXERCISE_KINDS = ("derivation", "implementation", "exploration")


def exercise_kinds(text: str) -> dict[str, str | None]:
    """Each exercise's label and its kind, the ``:class:`` option of its directive."""
    kinds = {}
    for block in re.findall(r"```\{exercise\}[^\n]*\n((?::[a-z-]+:[^\n]*\n)+)", text):
        label = re.search(r":label: (\S+)", block)
        kind = re.search(r":class: (\S+)", block)
        kinds[label.group(1) if label else "?"] = kind.group(1) if kind else None
    return kinds


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_chapter_has_a_derivation_an_implementation_and_an_exploration(lang, name):
    kinds = exercise_kinds((BOOK / lang / name).read_text(encoding="utf-8"))
    assert len(kinds) >= 3, f"book/{lang}/{name}: at least three exercises expected, found {len(kinds)}"
    unknown = {label: kind for label, kind in kinds.items() if kind not in EXERCISE_KINDS}
    assert not unknown, (
        f"book/{lang}/{name}: exercises without a kind (:class: one of {EXERCISE_KINDS}): {unknown}")
    missing = set(EXERCISE_KINDS) - set(kinds.values())
    assert not missing, f"book/{lang}/{name}: no exercise of kind {sorted(missing)}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_exercises_are_the_same_in_both_editions(name):
    en = exercise_kinds((BOOK / "en" / name).read_text(encoding="utf-8"))
    fr = exercise_kinds((BOOK / "fr" / name).read_text(encoding="utf-8"))
    assert list(en.items()) == list(fr.items())


def test_the_exercise_kind_reader_reads_each_directive():
    text = ("```{exercise} A\n:label: ex-a\n:class: derivation\n\nText.\n```\n"
            "```{exercise} B\n:class: exploration\n:label: ex-b\n```\n```{exercise} C\n:label: ex-c\n```\n")
    assert exercise_kinds(text) == {"ex-a": "derivation", "ex-b": "exploration", "ex-c": None}


OBJECTIVES = {"en": "After this chapter you can", "fr": "À la fin de ce chapitre, vous saurez"}


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_chapter_opens_with_the_video_and_its_learning_objectives(lang, name):
    text = (BOOK / lang / name).read_text(encoding="utf-8")
    opening = text[: text.index("```{code-cell}")]
    assert re.search(r"https://www\.youtube\.com/watch\?v=ZaVP2SY23nc&t=\d+s", opening), (
        f"book/{lang}/{name}: no timestamped link to the lecture video before the first code cell")
    assert OBJECTIVES[lang] in opening, f"book/{lang}/{name}: no learning objectives ({OBJECTIVES[lang]!r})"
    after = opening.split(OBJECTIVES[lang], 1)[1]
    bullets = re.findall(r"^\* ", after.split("\n\n\n")[0], flags=re.M)
    assert 3 <= len(bullets) <= 6, (
        f"book/{lang}/{name}: 3 to 6 learning objectives expected, found {len(bullets)}")


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_number_in_the_prose_is_computed_or_asserted(lang, name):
    bad = prose_numbers.unbacked(BOOK / lang / name)
    listed = "\n".join(f"  {n.text}  (…{n.context}…)" for n in bad)
    assert not bad, (f"book/{lang}/{name}: numbers in the prose that neither glue nor an assert of a "
                     f"hidden cell backs (see tests/prose_numbers.py):\n{listed}")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_prose_number_check_fails_on_a_changed_number(tmp_path, lang):
    """Change a backed number of a chapter's prose in a copy: the check must name it."""
    source = BOOK / lang / "lista.md"
    assert not prose_numbers.unbacked(source)
    nb = jupytext.read(source)
    cell = next(c for c in nb.cells
                if c.cell_type == "markdown" and prose_numbers.prose_numbers(c.source, lang))
    number = prose_numbers.prose_numbers(cell.source, lang)[-1]
    changed = re.sub(r"(?<![\d.,])" + re.escape(number.text) + r"(?![\d])", "98765", cell.source, count=1)
    assert changed != cell.source
    cell.source = changed
    (tmp_path / lang).mkdir()
    copy = tmp_path / lang / "lista.md"
    jupytext.write(nb, copy, fmt="md:myst")
    assert [n.text for n in prose_numbers.unbacked(copy)] == ["98765"]


def test_the_prose_number_extractor_reads_both_typographies():
    en = [n.value for n in prose_numbers.prose_numbers("On 4,000 digits, about 0.3; $\\lambda = 0.5$, "
                                                       "chapter 2, Fig. 6 (2010), the 4s, 85 %.", "en")]
    assert sorted(en) == [0.3, 0.5, 4, 85, 4000]
    fr = [n.value for n in prose_numbers.prose_numbers(
        "Sur 4\u202f000 chiffres, environ 0,3 ; $\\lambda = 0{,}5$, chapitre 2, les 1, 2 et 4.", "fr")]
    assert sorted(fr) == [0.3, 0.5, 1, 2, 4, 4000]


def test_repository_url_is_set_once():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"]
    assert url.startswith("https://")
    for path in [ROOT / "_config.fr.yml", *BOOK.glob("*/*.md")]:
        text = path.read_text(encoding="utf-8")
        assert "repository:\n  url" not in text, f"{path} sets the repository URL again"


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    assert "make book" in first_block and "make test" in first_block


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_french_prose_cell_is_up_to_date_with_its_english_twin():
    drift = translation_drift.drifted()
    assert not drift, ("French cells whose English twin changed since they were reviewed; re-read "
                       "them, then run `make translations-reviewed`:\n" + "\n".join(map(str, drift)))


def test_the_drift_check_names_a_changed_english_cell(tmp_path):
    """Change one English prose cell in a copy of the book: the check must name that cell."""
    import shutil

    copy = tmp_path / "book"
    for lang in ("en", "fr"):
        shutil.copytree(BOOK / lang, copy / lang)
    translation_drift.record_reviewed(copy)
    assert translation_drift.drifted(copy) == []
    nb = jupytext.read(copy / "en" / "lista.md")
    prose = [c for c in nb.cells if c.cell_type == "markdown"]
    prose[3].source += "\n\nA new English sentence that the French does not have yet."
    jupytext.write(nb, copy / "en" / "lista.md", fmt="md:myst")
    drift = translation_drift.drifted(copy)
    assert [(d.page, d.cell) for d in drift] == [("lista.md", 3)]
    translation_drift.record_reviewed(copy)
    assert translation_drift.drifted(copy) == []
