"""ebmlib.device: CUDA first, then MPS, then CPU; the library follows its inputs or stays on the CPU."""

from pathlib import Path

import torch

import ebmlib
import ebmlib.device
from ebmlib.device import available_devices, default_device


def test_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert default_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert default_device().type == "cpu"


def test_cpu_is_always_available_and_first(monkeypatch):
    assert available_devices()[0] == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert available_devices() == [torch.device("cpu"), torch.device("cuda")]


def test_available_devices_is_for_the_tests_not_the_top_level_api():
    assert "available_devices" not in ebmlib.__all__ and "default_device" in ebmlib.__all__


def test_the_library_never_picks_a_device_by_itself():
    """The rule device.py states: no input to follow means the CPU (or ``device=``), never
    ``default_device()``, which only the book calls and then passes on explicitly."""
    package = Path(ebmlib.__file__).parent
    callers = sorted(str(p.relative_to(package)) for p in package.rglob("*.py")
                     if p.name != "device.py" and "default_device()" in p.read_text(encoding="utf-8"))
    assert callers == []
    assert "no input to follow" in ebmlib.device.__doc__ and ".to(device)" in ebmlib.device.__doc__
