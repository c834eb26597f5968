"""Shared set-up of the sparse-coding benchmarks: digits and a learned dictionary."""

from __future__ import annotations

import time
import warnings

import torch

from ebmlib.data import load_mnist
from ebmlib.dictionary import learn_dictionary


def digits() -> tuple[torch.Tensor, torch.Tensor, str]:
    """Training and held-out digits as rows (N, 784), float32, and the data source."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, _, source = load_mnist("train")
        test, _, _ = load_mnist("test")
    return train.reshape(len(train), -1), test.reshape(len(test), -1), source


def mnist_dictionary(Y: torch.Tensor, m: int = 256, lam: float = 0.5, seed: int = 0) -> torch.Tensor:
    """A 256-atom dictionary (784, m) learned on Y with ebmlib (the chapter's recipe)."""
    W0 = torch.randn(Y.shape[1], m, generator=torch.Generator().manual_seed(seed))
    W, _ = learn_dictionary(Y, m, lam, n_steps=1500, W0=W0, inner_iter=10, step_scale=1.5,
                            resample_unused=False, progress=False, seed=seed)
    return W


def best_time(fn, repeat: int = 3) -> float:
    """The fastest of ``repeat`` wall-clock runs of fn(), in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
