"""Shared set-up of the benchmarks: the command line, the digits, the chapter's MNIST dictionary,
timing and the tables.

Every benchmark runs as ``.venv/bin/python bench/bench_<topic>.py [options]`` (``make bench``
runs them all) and takes ``--device``, ``--threads``, ``--repeats`` and ``--quick``
(:func:`arguments`). On a machine with few cores, run one benchmark at a time and nothing
else: two torch processes oversubscribe the cores and slow each other down many times.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ebmlib.data import mnist_subset
from ebmlib.dictionary import learn_dictionary

# The sparse-coding chapter's MNIST dictionary (book/en/sparse-coding.md): learn_dictionary's
# defaults (a Gaussian-noise start drawn from `seed`, no resampling of unused atoms) and these.
DICTIONARY_RECIPE = {"steps": 1500, "max_iter": 10, "step_scale": 1.5}


def arguments(doc: str, *, repeats: int | None = 3) -> argparse.ArgumentParser:
    """The options the benchmarks share (``--repeats`` unless ``repeats`` is None: a script
    that times one run of each method); a script adds its own, then calls :func:`setup`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="where ebmlib computes: cpu, cuda, mps (default cpu)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads of torch (and of the reference tool where it has a "
                             "setting); default: torch's choice")
    if repeats is not None:
        parser.add_argument("--repeats", type=int, default=repeats,
                            help=f"timed runs of each method; the best is reported (default {repeats})")
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run on smaller sizes: checks that the script runs, "
                             "its numbers mean little")
    return parser


def setup(args: argparse.Namespace) -> torch.device:
    """Apply ``--threads`` and return ``--device``."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    return torch.device(args.device)


def digits(device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
    """All training and held-out digits as rows (N, 784), float32, shuffled, and the data source.

    Full MNIST where it is in the cache, else the offline digits (4,000 + 1,000), through
    :func:`ebmlib.data.mnist_subset` as the chapters take them.
    """
    train, _, source = mnist_subset("train", quiet=True, device=device)
    test, _, _ = mnist_subset("test", quiet=True, device=device)
    return train, test, source


def mnist_dictionary(Y: torch.Tensor, m: int = 256, lam: float = 0.5, seed: int = 0, *,
                     steps: int | None = None) -> torch.Tensor:
    """A dictionary W_d (784, m) learned on Y with the chapter's recipe (``steps`` to shorten it)."""
    recipe = DICTIONARY_RECIPE if steps is None else {**DICTIONARY_RECIPE, "steps": steps}
    W, _ = learn_dictionary(Y, m, lam, seed=seed, **recipe)
    return W


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def best_time(fn: Callable[[], Any], repeats: int = 3) -> float:
    """The fastest of ``repeats`` wall-clock runs of fn(), in seconds."""
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def print_table(head: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
    """A table of right-aligned columns separated by ``|``; cells are printed with ``str``."""
    cells = [[str(h) for h in head]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    if title:
        print(f"\n{title}")
    for row in cells:
        print(" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def threads_line() -> str:
    """The thread settings, for the end of a report."""
    return (f"threads: torch {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
            f"MKL_NUM_THREADS={os.environ.get('MKL_NUM_THREADS')}")
