"""Argument checks shared by the public entry points: the library's one validation layer.

Every message names the argument, what was expected and what was received, so a
wrong call fails loudly instead of returning a silently wrong answer. Every check
raises :class:`InvalidArgumentError`, which is both a ``ValueError`` and a
``TypeError`` (as scikit-learn's ``InvalidParameterError``), so a caller may catch
either. Numbers are checked through :mod:`numbers`, so numpy scalars and 0-d tensors
(also one that requires grad) are accepted wherever Python numbers are; a checked number
comes back as a Python number, so no gradient flows through it.

What is here: :func:`fail` (the one raise) and :func:`require`; tensors: :func:`tensor`,
:func:`shape`, :func:`same_device_dtype`, :func:`same_rows`; numbers: :func:`real`,
:func:`nonnegative`, :func:`positive`, :func:`interval`, :func:`integer`,
:func:`positive_int`; :func:`flag`, :func:`choice`; :func:`generator` (the seed argument).

The convention (scikit-learn's ``validate_params``, ``check_input=False``): a public
function validates its arguments once and then calls its private implementation;
loops inside the library call the implementation, never the public function.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import NoReturn

import numpy as np
import torch
from torch import Tensor


class InvalidArgumentError(ValueError, TypeError):
    """A public function received an argument it cannot use (both a ValueError and a TypeError)."""


def fail(name: str, expected: str, received: object) -> NoReturn:
    """Raise the library's one argument error: ``argument 'name': expected …, received …``.

    ``name`` is the argument as the user wrote it; several arguments read
    ``arguments 'a' and 'b'`` when ``name`` is ``"a' and 'b"``.
    """
    noun = "arguments" if "' and '" in name else "argument"
    raise InvalidArgumentError(f"{noun} '{name}': expected {expected}, received {received}")


def require(ok: bool, name: str, expected: str, received: object) -> None:
    """:func:`fail` unless ``ok``: for the conditions no other predicate here covers."""
    if not ok:
        fail(name, expected, received)


def tensor(name: str, value: object, *, ndim: int | Sequence[int] | None = None,
           shape_doc: str = "", finite: bool = True) -> Tensor:
    """Check that ``value`` is a floating tensor with ``ndim`` dimensions and finite entries."""
    if not isinstance(value, Tensor):
        fail(name, f"a torch.Tensor{_doc(shape_doc)}", type(value).__name__)
    if not value.is_floating_point():
        fail(name, "a floating-point tensor", f"dtype {value.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.dim() not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            fail(name, f"a {want} tensor{_doc(shape_doc)}", f"shape {tuple(value.shape)}")
    if finite and value.numel():
        # the extremes propagate NaN and show ±inf: one reduction, no boolean tensor
        lo, hi = (float(v) for v in torch.aminmax(value.detach()))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = "NaN" if math.isnan(lo) or math.isnan(hi) else "inf"
            fail(name, "finite values", f"a tensor containing {bad}")
    return value


def shape(name: str, value: Tensor, expected: Sequence[int | None], shape_doc: str = "") -> Tensor:
    """Check a tensor's shape; ``None`` in ``expected`` accepts any size on that dimension."""
    got = tuple(value.shape)
    if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got, strict=True)):
        sizes = ["·" if e is None else str(e) for e in expected]
        want = shape_doc or "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
        fail(name, f"shape {want}", f"shape {got}")
    return value


def same_device_dtype(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Check that two tensors are on the same device and have the same dtype."""
    if a.device != b.device or a.dtype != b.dtype:
        fail(f"{name_a}' and '{name_b}", "the same device and dtype",
             f"{a.device}/{a.dtype} and {b.device}/{b.dtype}")


def same_rows(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Check that two batched tensors have the same batch size B (dimension 0)."""
    if a.shape[0] != b.shape[0]:
        fail(f"{name_a}' and '{name_b}", "the same batch size B", f"{a.shape[0]} and {b.shape[0]}")


def _number(name: str, value: object, expected: str) -> float:
    if isinstance(value, Tensor) and value.numel() == 1:  # a 0-d tensor, even one that needs grad
        value = value.detach().item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, expected, type(value).__name__)
    value = float(value)
    if not math.isfinite(value):
        fail(name, expected, value)
    return value


def real(name: str, value: object) -> float:
    """Check that ``value`` is a finite real number (any sign)."""
    return _number(name, value, "a finite number")


def nonnegative(name: str, value: object) -> float:
    """Check that ``value`` is a finite real number >= 0 (for example λ)."""
    value = _number(name, value, "a finite number >= 0")
    require(value >= 0, name, "a finite number >= 0", value)
    return value


def positive(name: str, value: object) -> float:
    """Check that ``value`` is a finite real number > 0 (a step, a scale, a Lipschitz constant)."""
    value = _number(name, value, "a finite number > 0")
    require(value > 0, name, "a finite number > 0", value)
    return value


def interval(name: str, value: object, low: float, high: float) -> float:
    """Check that ``value`` is a real number in the closed interval [low, high]."""
    value = _number(name, value, f"a number in [{low}, {high}]")
    require(low <= value <= high, name, f"a number in [{low}, {high}]", value)
    return value


def integer(name: str, value: object, *, low: int = 1) -> int:
    """Check that ``value`` is an integer >= ``low`` (numpy integers accepted)."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        fail(name, f"an integer >= {low}", repr(value))
    return int(value)


def positive_int(name: str, value: object) -> int:
    """Check that ``value`` is an integer >= 1."""
    return integer(name, value, low=1)


def flag(name: str, value: object) -> bool:
    """Check that ``value`` is a boolean (numpy booleans accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        fail(name, "True or False", repr(value))
    return bool(value)


def choice(name: str, value: object, options: Sequence[str], why: str = "") -> str:
    """Check that ``value`` is one of ``options`` (strings)."""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options[:-1]) + f" or {options[-1]!r}" \
            if len(options) > 1 else repr(options[0])
        fail(name, listed + (f" ({why})" if why else ""), repr(value))
    return value


def generator(name: str, seed: object) -> torch.Generator:
    """The random generator a drawing function uses: a new CPU one seeded with an integer
    ``seed`` >= 0, or the caller's ``torch.Generator`` itself, to continue its stream."""
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(integer(name, seed, low=0))


def _doc(shape_doc: str) -> str:
    return f" of shape {shape_doc}" if shape_doc else ""
