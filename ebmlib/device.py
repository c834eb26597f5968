"""The device rule of ebmlib, and the default device: CUDA, then Apple MPS, then CPU.

The one rule:

* A function follows the device and dtype of its tensor inputs (solvers, energies,
  whitening, a trainer given its data): the result lives where the inputs live.
* Where there is no input to follow (model constructors, data loaders, toy samples and
  grids), ebmlib allocates on the CPU, as torch does, unless the function takes a
  ``device=`` argument (for example ``ebmlib.data.mnist_subset(..., device=device)``).
* Models move with ``.to(device)``, like any ``torch.nn.Module``.

Nothing in ebmlib picks a GPU by itself: :func:`default_device` is the device the book
picks once per page (``device = default_device()``) and then passes explicitly.
:func:`available_devices` lists every device of the machine, for the tests.
"""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """The best available device: ``cuda`` if present, else ``mps``, else ``cpu``.

    ebmlib never calls it for you (see the rule above): pass the result on explicitly.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[torch.device]:
    """Every device this machine can compute on, CPU first (used by the tests)."""
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(torch.device("mps"))
    return devices
