"""The default device: CUDA, then Apple MPS, then CPU.

Everything in ebmlib that allocates a tensor without an input to follow calls
:func:`default_device`; everything else follows the device and dtype of its inputs.
"""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """Return the best available device: ``cuda`` if present, else ``mps``, else ``cpu``."""
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
