"""The training convention shared by the five training loops.

* :class:`History` is the one record every trainer returns: the step (or epoch) of each
  record, the cumulative training time in seconds (evaluation excluded), the mean
  training loss since the previous record, and the held-out value (a float, a
  NamedTuple, or None without held-out data). Every trainer records step 0, the model
  before training (loss NaN: nothing was trained yet), so a curve starts where the
  model started.
* :class:`Run` is the loop's skeleton: the random generator, the progress bar and the
  timer, so that a trainer writes only its step.
* :func:`set_progress` is the one switch for progress bars. They are off by default
  (scikit-learn's ``verbose=False``); a trainer's ``progress=None`` follows the switch,
  ``True``/``False`` overrides it for one call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from . import _validate as check

__all__ = ["History", "Run", "progress_enabled", "set_progress"]

_PROGRESS = False


def set_progress(enabled: bool) -> None:
    """Show (True) or hide (False, the default) the progress bars of every trainer."""
    global _PROGRESS
    _PROGRESS = check.flag("enabled", enabled)


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether a trainer called with ``progress`` shows its bar (None: the global switch)."""
    return _PROGRESS if progress is None else check.flag("progress", progress)


@dataclass
class History:
    """What a trainer records, one entry per record (step 0 = before training).

    Attributes:
        step: the training step (or epoch, for :func:`ebmlib.vae.train_vae`) of each record.
        seconds: cumulative training time at each record, evaluation excluded.
        loss: the mean training loss over the steps since the previous record (a float,
            or a NamedTuple of its parts); NaN at step 0.
        val: the held-out value at each record (a float, a NamedTuple, or None).
    """

    step: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    loss: list[Any] = field(default_factory=list)
    val: list[Any] = field(default_factory=list)

    def append(self, step: int, seconds: float, loss: Any, val: Any) -> None:
        self.step.append(step)
        self.seconds.append(seconds)
        self.loss.append(loss)
        self.val.append(val)

    def __len__(self) -> int:
        return len(self.step)

    def values(self, part: str, *, of: str = "val") -> list[float]:
        """One part of a NamedTuple column, e.g. ``history.values("kl")`` for the held-out KL.

        Args:
            part: the field of the NamedTuple entries (``"kl"``, ``"reconstruction"``, …).
            of: the column, ``"val"`` (default) or ``"loss"``.

        Returns:
            One float per record (NaN where the entry is None or NaN, as at step 0).
        """
        check.choice("of", of, ("loss", "val"))
        return [math.nan if v is None or (isinstance(v, float) and math.isnan(v))
                else float(getattr(v, part)) for v in getattr(self, of)]


class Run:
    """One training run: the generator, the progress bar, the timer and the History.

    Iterate over it to get the steps 1 … ``steps``; after each step call :meth:`log`
    with that step's training loss. Every ``every`` steps (and at the last) the run stops
    its clock, evaluates the held-out value with ``evaluate`` and records; step 0 is
    recorded when the run is made.

    Args:
        steps: the number of steps (or epochs).
        seed: an integer or a ``torch.Generator`` (see :func:`ebmlib._validate.generator`);
            the run's CPU generator is ``run.generator``.
        progress: show a progress bar (None: :func:`set_progress`'s switch).
        desc: the bar's label.
        every: record every that many steps (and at the last step).
        evaluate: returns the held-out value of the model as it is now, or None.
        start_loss: the training loss recorded at step 0 (NaN by default).
    """

    def __init__(self, steps: int, *, seed: int | torch.Generator = 0, progress: bool | None = None,
                 desc: str = "", every: int = 1, evaluate: Callable[[], Any] | None = None,
                 start_loss: Any = math.nan) -> None:
        self.steps = steps
        self.every = every
        self.generator = check.generator("seed", seed)
        self.history = History()
        self._evaluate = evaluate
        self._show = progress_enabled(progress)
        self._desc = desc
        self._seconds = 0.0
        self._sum: Any = 0.0
        self._count = 0
        self.history.append(0, 0.0, start_loss, self._value())

    def _value(self) -> Any:
        return None if self._evaluate is None else self._evaluate()

    def __iter__(self) -> Iterator[int]:
        bar = tqdm(range(1, self.steps + 1), disable=not self._show, desc=self._desc)
        self._bar = bar
        self._tick = time.perf_counter()
        yield from bar

    def log(self, step: int, loss: Any) -> None:
        """Add one step's training loss (a float, a 0-d tensor or a NamedTuple of floats)."""
        if isinstance(loss, torch.Tensor):
            loss = float(loss)
        self._sum = loss if self._count == 0 else _add(self._sum, loss)
        self._count += 1
        if step % self.every and step != self.steps:
            return
        self._seconds += time.perf_counter() - self._tick
        mean = _scale(self._sum, 1.0 / self._count)
        value = self._value()
        self.history.append(step, self._seconds, mean, value)
        self._sum, self._count = 0.0, 0
        if self._show:
            shown = mean if isinstance(mean, float) else mean[0]
            self._bar.set_postfix(loss=f"{shown:.4g}")
        self._tick = time.perf_counter()


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, tuple):
        return type(a)(*(x + y for x, y in zip(a, b, strict=True)))
    return a + b


def _scale(a: Any, s: float) -> Any:
    if isinstance(a, tuple):
        return type(a)(*(x * s for x in a))
    return a * s
