"""What every checker shares: the page's language, the feedback, running the student's code."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

LANGUAGES = ("en", "fr")


def page_language() -> str:
    """'en' or 'fr': ``EBMLIB_LANG``, else the name of the working folder, else 'en'."""
    lang = os.environ.get("EBMLIB_LANG", "").lower()
    if lang in LANGUAGES:
        return lang
    here = Path.cwd().name
    return here if here in LANGUAGES else "en"


class Feedback:
    """The verdict of a checker: ``bool(feedback)`` is True when the answer is right."""

    def __init__(self, ok: bool, en: str, fr: str) -> None:
        self.ok = ok
        self.text = {"en": en, "fr": fr}

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.text[page_language()]

    __repr__ = __str__

    def _repr_html_(self) -> str:
        shown = page_language()
        mark, colour = ("✔", "#2e7d32") if self.ok else ("✘", "#c62828")
        hidden = ' style="display:none"'
        spans = "".join(
            f'<span class="ebm-feedback-msg" lang="{lang}"{"" if lang == shown else hidden}>'
            f"{_inline_code(html.escape(msg))}</span>"
            for lang, msg in self.text.items())
        return (f'<div class="ebm-feedback" style="border-left:4px solid {colour};'
                f'padding:0.3em 0.8em"><strong style="color:{colour}">{mark}</strong> {spans}</div>')


def _inline_code(text: str) -> str:
    """HTML: a `span` between backticks becomes <code>span</code> (plain text keeps the backticks)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _invoke(fn: Callable[..., object], *args: object) -> tuple[object, Feedback | None]:
    """Run the student's function: (its answer, None), or (None, what went wrong)."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, Feedback(False, "Not implemented yet: replace the `raise NotImplementedError`.",
                              "Pas encore implémenté : remplacez la ligne `raise NotImplementedError` par "
                              "votre code.")
    except Exception as err:  # the student's code may raise anything: report it
        msg = f"{type(err).__name__}: {err}"
        return None, Feedback(False, f"Your function raised {msg}",
                              f"Votre fonction a levé l'exception {msg}")


def _call(fn: Callable[..., object], *args: object) -> tuple[Tensor | None, Feedback | None]:
    out, problem = _invoke(fn, *args)
    if problem is not None:
        return None, problem
    if not isinstance(out, Tensor):
        kind = type(out).__name__
        return None, Feedback(False, f"Expected a torch.Tensor, received {kind}.",
                              "Un torch.Tensor était attendu ; la fonction a renvoyé un objet de "
                              f"type {kind}.")
    return out, None


def _known_mistake(out: Tensor, guesses: list[tuple[Tensor, str, str]], *, rtol: float = 1e-5,
                   atol: float = 1e-8) -> Feedback | None:
    """The feedback of the first classic mistake (value, en, fr) that out matches, if any."""
    for value, en, fr in guesses:
        if value.shape == out.shape and torch.allclose(out, value, rtol=rtol, atol=atol):
            return Feedback(False, en, fr)
    return None


def _en(x: float, spec: str = ".4f") -> str:
    """A number for an English message (true minus sign)."""
    return format(x, spec).replace("-", "\u2212")


def _fr(x: float, spec: str = ".4f") -> str:
    """A number written the French way (decimal comma, true minus sign)."""
    return format(x, spec).replace(".", ",").replace("-", "\u2212")


def _listing(items: list[str], fr: bool, most: int = 6) -> str:
    """'3, 7 and 9' / « 3, 7 et 9 », at most ``most`` shown."""
    more, items = len(items) - most, items[:most]
    text = items[0] if len(items) == 1 else (
        ", ".join(items[:-1]) + (" et " if fr else " and ") + items[-1])
    if more > 0:
        text += f" (et {more} autre{'s' if more > 1 else ''})" if fr else f" (and {more} more)"
    return text


def _as_number(out: object) -> tuple[float | None, Feedback | None]:
    """The student's answer as a float, or the feedback that says it is not a number."""
    try:
        return float(out), None
    except (TypeError, ValueError, RuntimeError):
        name = type(out).__name__
        return None, Feedback(False, f"Expected a number, received {name}.",
                              f"Un nombre était attendu ; la fonction a renvoyé un objet de type {name}.")


def _wrong_values(out: Tensor, right: Tensor) -> Feedback:
    gap = float((out - right).abs().max())
    return Feedback(False, f"Wrong values: the largest difference is {_en(gap, '.3g')}.",
                    f"Valeurs fausses : le plus grand écart vaut {_fr(gap, '.3g')}.")


def _shape(out: Tensor, want: tuple[int, ...]) -> Feedback | None:
    if tuple(out.shape) != want:
        return Feedback(False, f"Expected shape {want} (one energy per sample), "
                               f"received {tuple(out.shape)}.",
                        "Forme attendue pour les énergies (une pour chaque exemple) : "
                        f"{want} ; reçue : {tuple(out.shape)}.")
    return None


def _run(fn: Callable[..., object], args: tuple, shape: tuple[int, ...], like_en: str,
         like_fr: str) -> tuple[Tensor | None, Feedback | None]:
    """Call the student's function, check that it returns a tensor of ``shape``; float64 out.

    ``like_en`` follows "Expected"; ``like_fr`` follows « Forme attendue pour », so that the
    French message needs no agreement with the thing described (« pour W_e », « pour la perte »).
    """
    out, bad = _call(fn, *args)
    if bad is not None:
        return None, bad
    if tuple(out.shape) != shape:
        return None, Feedback(False, f"Expected {like_en}, {shape}, received {tuple(out.shape)}.",
                              f"Forme attendue pour {like_fr} : {shape} ; reçue : {tuple(out.shape)}.")
    return out.detach().to(torch.float64), None


_COUNT = {1: ("one answer", "une réponse"), 2: ("two answers", "deux réponses"),
          3: ("three answers", "trois réponses"), 4: ("four answers", "quatre réponses")}


def _read_prediction(answer: object, keys: Sequence[str], choices: Mapping[str, object], *,
                     listed: tuple[str, str] | None = None, upper: bool = False,
                     aliases: Mapping[object, str] | None = None
                     ) -> tuple[dict[str, object] | None, Feedback | None]:
    """Read an exploration exercise's prediction: a dict that gives each of ``keys`` one of
    the written ``choices``.

    Args:
        answer: what the student's ``predict()`` returned.
        keys: the questions, e.g. ``("free_energy", "atoms")``.
        choices: each accepted written answer (after ``strip()``, and ``upper()`` when
            ``upper``) and the value the checker compares, e.g. ``{"<": -1, "=": 0, ">": 1}``.
        listed: how the messages list the choices, in English and in French (default: the
            quoted choices, "A", "B" or "C" / « "A", "B" ou "C" »).
        upper: read the answers case-insensitively (letters).
        aliases: other names accepted for the keys (``{L1: "L1"}`` for a class as a key).

    Returns:
        ``(guess, None)`` with each key's value from ``choices``, or ``(None, feedback)``
        saying, in both languages, what was wrong with the answer.
    """
    quoted = [f'"{c}"' for c in choices]
    en, fr = listed or (", ".join(quoted[:-1]) + " or " + quoted[-1],
                        ", ".join(quoted[:-1]) + " ou " + quoted[-1])
    if isinstance(answer, dict) and aliases:
        answer = {aliases.get(k, k): v for k, v in answer.items()}
    if not isinstance(answer, dict) or not set(keys) <= set(answer):
        shape = "{" + ", ".join(f'"{k}": …' for k in keys) + "}"
        count_en, count_fr = _COUNT.get(len(keys), (f"{len(keys)} answers", f"{len(keys)} réponses"))
        return None, Feedback(False, f"Return a dict with {count_en}: {shape}, each {en}.",
                              f"Renvoyez un dictionnaire de {count_fr} : {shape}, chacune {fr}.")
    guess = {}
    for key in keys:
        word = str(answer[key]).strip()
        word = word.upper() if upper else word
        if word not in choices:
            return None, Feedback(False, f'The answer for "{key}" must be {en}; received '
                                         f"{answer[key]!r}.",
                                  f'La réponse pour "{key}" doit être {fr} ; reçue : {answer[key]!r}.')
        guess[key] = choices[word]
    return guess, None
