"""Pick the training device: ``auto`` takes CUDA, then MPS, then the CPU.

``foreseen`` decides it without torch, for a detached start that answers at once; the training
process's ``resolve`` (torch's own view) has the last word."""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING

from genlab.errors import UsageError

if TYPE_CHECKING:
    import torch

CHOICES = ("auto", "cpu", "cuda", "mps")
NO_CUDA = "device 'cuda' asked for, but no CUDA GPU is available (try --device cpu)"
NO_MPS = "device 'mps' asked for, but Apple's MPS backend is not available (try --device cpu)"


def foreseen(name: str | None) -> str:
    """The device ``resolve(name)`` will give, told without importing torch: CUDA where NVIDIA's
    driver (NVML) names a GPU this process may see, MPS on Apple silicon. The same UsageError as
    ``resolve`` for a bad spelling or a device that is not there."""
    name = (name or "auto").lower()
    if name not in CHOICES and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise UsageError(f"unknown device {name!r}; choose from {', '.join(CHOICES)}")
    gpus, mps = nvidia_gpus(), platform.system() == "Darwin" and platform.machine() == "arm64"
    if name == "auto":
        return "cuda" if gpus else "mps" if mps else "cpu"
    if name.startswith("cuda"):
        if not gpus or int(name.partition(":")[2] or 0) >= gpus:
            raise UsageError(NO_CUDA)
    if name == "mps" and not mps:
        raise UsageError(NO_MPS)
    return name


def nvidia_gpus() -> int:
    """How many NVIDIA GPUs this process may use, as NVML and CUDA_VISIBLE_DEVICES tell (0
    without a driver)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no library, no driver
        return 0
    return count if visible is None else min(count, len(visible.split(",")))


def resolve(name: str) -> torch.device:
    import torch

    name = (name or "auto").lower()
    if name not in CHOICES and not name.startswith("cuda:"):
        raise UsageError(f"unknown device {name!r}; choose from {', '.join(CHOICES)}")
    has_mps = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if has_mps else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(NO_CUDA)
    if name == "mps" and not has_mps:
        raise UsageError(NO_MPS)
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
