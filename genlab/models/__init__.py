"""The model registry: ``MODELS`` maps a name to its class; :func:`build` makes one.

Importing this package imports no torch: what a model declares is in genlab/models/catalogue.py
(torch-free), and a model's class (with torch) is imported on first use: ``MODELS``, :func:`get`
and :func:`build` do that.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from genlab.errors import UsageError
from genlab.models import catalogue

if TYPE_CHECKING:
    import torch

    from genlab.models.base import GenModel


def classes() -> dict[str, type[GenModel]]:
    """``MODELS``: every model's class, imported (with torch) on the first call. A test or a
    bench may add its own model to it."""
    found = globals().get("MODELS")
    if found is None:
        found = globals()["MODELS"] = {}
        for name, declared in catalogue.SPECS.items():
            module, cls = declared.implementation.split(":")
            found[name] = getattr(importlib.import_module(module), cls)
    return found


def __getattr__(attribute: str):
    if attribute == "MODELS":  # imported on first use
        return classes()
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def get(name: str) -> type[GenModel]:
    try:
        return classes()[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; choose from {', '.join(classes())}") from None


def hyperparameters(name: str, hp: dict | None = None, preset: str | None = None) -> dict:
    """Every hyperparameter of ``name``: its defaults, then the preset's, then ``hp``'s
    (catalogue.hyperparameters, for any model in ``MODELS``)."""
    return catalogue.hyperparameters(name, hp, preset, get(name))


BYTES_PER_PARAMETER = 20  # float32 weights, gradients, Adam's two moments, and a checkpoint's copy


def check_fits(name: str, hp: dict, device: torch.device) -> None:
    """Refuse (UsageError) a model whose parameters alone would not fit in the device's memory:
    counted on the meta device, so nothing is allocated."""
    import torch

    with torch.device("meta"):  # modules are made there directly, not on the CPU and then moved
        counts = get(name)(hp, torch.device("meta")).parameter_counts()
    need = sum(counts.values()) * BYTES_PER_PARAMETER
    have = available_memory(device)
    if have is not None and need > have:
        raise UsageError(f"{name} with these hyperparameters has {sum(counts.values()):,} parameters: training "
                         f"needs about {need / 2**30:.1f} GiB, and {device} has {have / 2**30:.1f} GiB available")


def available_memory(device: torch.device) -> int | None:
    if device.type == "cuda":
        import torch

        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def build(name: str, hp: dict | None = None, device: torch.device | str = "cpu", preset: str | None = None) -> GenModel:
    import torch

    from genlab.core.lean import without_dynamo

    without_dynamo()  # its optimisers would load torch's compiler, which an eager model never uses
    m = get(name)(hyperparameters(name, hp, preset), torch.device(device))
    if m.channels_last and m.device.type == "cpu":
        # weights in NHWC: each convolution then runs (and returns) channels-last. In place, so
        # the optimisers keep their parameters; checkpoints load into either layout.
        for net in (*m.networks.values(), *(a.net for a in m.averages.values())):
            net.to(memory_format=torch.channels_last)
    return m
