"""ebmlib.device: CUDA first, then MPS, then CPU."""

import torch

from ebmlib.device import available_devices, default_device


def test_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert default_device().type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert default_device().type == "cpu"


def test_cpu_is_always_available_and_first():
    assert available_devices()[0] == torch.device("cpu")
