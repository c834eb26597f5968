"""Fixtures shared by the tests (the notebook-collection hook lives in the root conftest.py).

* ``device``: runs a test once per available device (CPU always, CUDA or MPS where present).
* ``lang``: runs a test once per language, ``"en"`` then ``"fr"``, with ``EBMLIB_LANG`` set;
  a test about one language only narrows it with
  ``@pytest.mark.parametrize("lang", ["fr"], indirect=True)``.
* ``sparse_problem``: a factory ``sparse_problem(B, n, m, *, seed=0, device="cpu",
  dtype=torch.float64) -> (y, W)``, a random batch y (B, n) and a dictionary W (n, m) with
  unit-norm columns.
* ``float64_or_skip``: a function ``float64_or_skip(device, dtype=torch.float64) -> dtype``
  that skips the test when ``device`` cannot hold ``dtype`` (MPS has no float64).
* ``site``: the marker of the tests that need the built site (``_build/site``); the library's
  tests run with ``-m "not site"`` (see the Makefile).

Matplotlib draws with the Agg backend (no window) in every test.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib
import pytest
import torch

from ebmlib.device import available_devices

matplotlib.use("Agg")

LANGUAGES = ("en", "fr")


@pytest.fixture(params=available_devices(), ids=str)
def device(request) -> torch.device:
    """Each device this machine can compute on, CPU first."""
    return request.param


@pytest.fixture(params=LANGUAGES)
def lang(request, monkeypatch) -> str:
    """The language of the feedback, set through ``EBMLIB_LANG``; returns ``"en"`` or ``"fr"``."""
    monkeypatch.setenv("EBMLIB_LANG", request.param)
    return request.param


def _sparse_problem(B: int, n: int, m: int, *, seed: int = 0, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Random y (B, n) and W (n, m) with unit-norm columns, exactly representable in float32.

    Both are drawn in float32 precision on the CPU from ``seed``, so the float32 and float64
    versions of one problem hold the same numbers and results can be compared across dtypes.
    """
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(n, m, generator=g, dtype=torch.float64)
    W = (W / W.norm(dim=0)).float()
    y = torch.randn(B, n, generator=g).float()
    return y.to(device, dtype), W.to(device, dtype)


@pytest.fixture
def sparse_problem() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``sparse_problem(B, n, m, *, seed=0, device="cpu", dtype=torch.float64) -> (y, W)``."""
    return _sparse_problem


def _float64_or_skip(device: torch.device | str, dtype: torch.dtype = torch.float64) -> torch.dtype:
    """Return ``dtype``, or skip the test when ``device`` cannot hold it (MPS has no float64)."""
    if torch.device(device).type == "mps" and dtype == torch.float64:
        pytest.skip("MPS has no float64")
    return dtype


@pytest.fixture
def float64_or_skip() -> Callable[..., torch.dtype]:
    """``float64_or_skip(device, dtype=torch.float64) -> dtype``, skipping where unsupported."""
    return _float64_or_skip
