"""Pick the training device: ``auto`` takes CUDA, then MPS, then the CPU."""

from __future__ import annotations

import torch

from genlab.errors import UsageError

CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve(name: str) -> torch.device:
    name = (name or "auto").lower()
    if name not in CHOICES and not name.startswith("cuda:"):
        raise UsageError(f"unknown device {name!r}; choose from {', '.join(CHOICES)}")
    has_mps = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("device 'cuda' asked for, but no CUDA GPU is available (try --device cpu)")
    if name == "mps" and not has_mps:
        raise UsageError("device 'mps' asked for, but Apple's MPS backend is not available (try --device cpu)")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
