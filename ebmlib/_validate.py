"""Argument checks shared by the public entry points.

Every message names the argument, what was expected and what was received, so a
wrong call fails loudly instead of returning a silently wrong answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def tensor(name: str, value: object, *, ndim: int | Sequence[int] | None = None,
           shape_doc: str = "", finite: bool = True) -> Tensor:
    """Check that ``value`` is a floating tensor with ``ndim`` dimensions and finite entries."""
    if not isinstance(value, Tensor):
        raise TypeError(f"argument '{name}': expected a torch.Tensor{_doc(shape_doc)}, "
                        f"received {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"argument '{name}': expected a floating-point tensor, "
                         f"received dtype {value.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.dim() not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"argument '{name}': expected a {want} tensor{_doc(shape_doc)}, "
                             f"received shape {tuple(value.shape)}")
    if finite and not bool(torch.isfinite(value).all()):
        bad = "NaN" if bool(torch.isnan(value).any()) else "inf"
        raise ValueError(f"argument '{name}': expected finite values, received a tensor "
                         f"containing {bad}")
    return value


def nonnegative(name: str, value: object) -> float:
    """Check that ``value`` is a finite real number >= 0 (for example λ)."""
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"argument '{name}': expected a finite number >= 0, "
                        f"received {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"argument '{name}': expected a finite number >= 0, received {value}")
    return float(value)


def positive_int(name: str, value: object) -> int:
    """Check that ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"argument '{name}': expected an integer >= 1, received {value!r}")
    return value


def same_rows(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Check that two batched tensors have the same batch size B (dimension 0)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"arguments '{name_a}' and '{name_b}': expected the same batch size B, "
                         f"received {a.shape[0]} and {b.shape[0]}")


def _doc(shape_doc: str) -> str:
    return f" of shape {shape_doc}" if shape_doc else ""
