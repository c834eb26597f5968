"""One save and load for every learned model (the VAE, LISTA, the convolutional auto-encoder).

A saved file is a ``torch.save`` dictionary (nanoGPT's checkpoint pattern)::

    {"ebmlib": "<class name>", "format": 1, "config": {...}, "state_dict": {...}}

``config`` holds the constructor's arguments, so :meth:`Saveable.load` rebuilds the model
without being told its sizes. A file that is not a model saved by ebmlib, or a model of
another class, fails with an error that says what the file holds.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, TypeVar

import torch

from . import _validate as check

_FORMAT = 1
M = TypeVar("M", bound="Saveable")


class Saveable:
    """Mixin for an ``nn.Module`` whose constructor arguments are its ``config`` dictionary."""

    @property
    def config(self) -> dict[str, Any]:  # pragma: no cover - every model defines it
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model's class, configuration and weights to ``path`` (a file name)."""
        torch.save({"ebmlib": type(self).__name__, "format": _FORMAT, "config": dict(self.config),
                    "state_dict": self.state_dict()}, path)  # type: ignore[attr-defined]

    @classmethod
    def load(cls: type[M], path: str | os.PathLike[str], *,
             map_location: str | torch.device | None = None) -> M:
        """Rebuild a model written by :meth:`save`, with the saved weights and their dtype.

        The file is read onto the CPU, where the model is built (so a model saved from a GPU
        loads on a machine without one), then the model moves to ``map_location`` if given.

        Args:
            path: a file written by :meth:`save` for this class.
            map_location: the device to put the model on (default: the CPU).
        """
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
            check.fail("path", f"a model saved by {cls.__name__}.save", f"{str(path)!r}, which "
                       f"torch.load cannot read ({type(error).__name__})")
        if not isinstance(blob, dict) or not {"ebmlib", "config", "state_dict"} <= blob.keys():
            held = f"a {type(blob).__name__}" + (f" with keys {sorted(map(str, blob))[:6]}"
                                                  if isinstance(blob, dict) else "")
            check.fail("path", f"a model saved by {cls.__name__}.save", f"{str(path)!r}, which "
                       f"holds {held}")
        check.require(blob["ebmlib"] == cls.__name__, "path", f"a saved {cls.__name__}",
                      f"a saved {blob['ebmlib']} in {str(path)!r}")
        model = cls(**blob["config"])
        # assign: the parameters take the saved tensors, dtype included (a float64 VAE stays one)
        model.load_state_dict(blob["state_dict"], assign=True)  # type: ignore[attr-defined]
        if map_location is not None:
            model.to(map_location)  # type: ignore[attr-defined]
        return model
