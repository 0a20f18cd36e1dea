"""The model registry: ``MODELS`` maps a name to its class; :func:`build` makes one."""

from __future__ import annotations

import math
import os

import torch

from genlab.errors import UsageError
from genlab.models.base import GenModel
from genlab.models.cgan import CGAN
from genlab.models.conv_vae import ConvVAE
from genlab.models.dcgan import DCGAN
from genlab.models.gan import GAN
from genlab.models.gated_pixelcnn import GatedPixelCNN
from genlab.models.pixelcnn import PixelCNN
from genlab.models.vae import VAE
from genlab.models.wgan_gp import WGANGP

MODELS: dict[str, type[GenModel]] = {m.name: m for m in (GAN, DCGAN, WGANGP, CGAN, VAE, ConvVAE, PixelCNN, GatedPixelCNN)}


def get(name: str) -> type[GenModel]:
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; choose from {', '.join(MODELS)}") from None


def hyperparameters(name: str, hp: dict | None = None, preset: str | None = None) -> dict:
    """Every hyperparameter of ``name``: its defaults, then the preset's, then ``hp``'s."""
    cls = get(name)
    unknown = set(hp or {}) - set(cls.defaults)
    if unknown:
        raise UsageError(
            f"model {name!r} has no hyperparameter {', '.join(sorted(unknown))}; "
            f"it has {', '.join(cls.defaults)}"
        )
    if preset is not None and preset not in cls.presets:
        have = f"it has {', '.join(cls.presets)}" if cls.presets else "it has none"
        raise UsageError(f"model {name!r} has no preset {preset!r}; {have}")
    merged = {**cls.defaults, **(cls.presets.get(preset, {}) if preset else {}), **(hp or {})}
    return {key: checked(name, key, value, cls) for key, value in merged.items()}


OPTIONS = {"batch_size": "batch size", "lr": "learning rate"}


def checked(model: str, key: str, value, cls: type[GenModel]):
    """``value`` as the type of the default (an integer stays an integer: 2.5 layers is an error)
    and within the hyperparameter's range (GenModel.limits; else: positive); UsageError if not."""
    default = cls.defaults[key]
    kind = "an integer" if isinstance(default, int) else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"--hp {key} must be {kind}, got {value!r}")
    if key in OPTIONS and not (math.isfinite(value) and value > 0):  # also given as --batch-size, --lr
        raise UsageError(f"{OPTIONS[key]} must be positive, got {value}")
    if isinstance(default, int):
        if isinstance(value, float) and not value.is_integer():
            raise UsageError(f"--hp {key} must be an integer, got {value!r}")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise UsageError(f"--hp {key} must be a finite number, got {value!r}")
    low, high, closed = cls.limits.get(key, (1 if isinstance(default, int) else 0.0, math.inf, isinstance(default, int)))
    if value < low or (value == low and not closed) or value >= high:
        low_word = f">= {low:g}" if closed else f"> {low:g}"
        range_text = low_word if high == math.inf else f"{low_word} and < {high:g}"
        raise UsageError(f"--hp {key} for {model} must be {range_text}, got {value:g}")
    return value


BYTES_PER_PARAMETER = 20  # float32 weights, gradients, Adam's two moments, and a checkpoint's copy


def check_fits(name: str, hp: dict, device: torch.device) -> None:
    """Refuse (UsageError) a model whose parameters alone would not fit in the device's memory:
    counted on the meta device, so nothing is allocated."""
    with torch.device("meta"):  # modules are made there directly, not on the CPU and then moved
        counts = get(name)(hp, torch.device("meta")).parameter_counts()
    need = sum(counts.values()) * BYTES_PER_PARAMETER
    have = available_memory(device)
    if have is not None and need > have:
        raise UsageError(f"{name} with these hyperparameters has {sum(counts.values()):,} parameters: training "
                         f"needs about {need / 2**30:.1f} GiB, and {device} has {have / 2**30:.1f} GiB available")


def available_memory(device: torch.device) -> int | None:
    if device.type == "cuda":
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
    m = get(name)(hyperparameters(name, hp, preset), torch.device(device))
    if m.channels_last and m.device.type == "cpu":
        # weights in NHWC: each convolution then runs (and returns) channels-last. In place, so
        # the optimisers keep their parameters; checkpoints load into either layout.
        for net in m.networks.values():
            net.to(memory_format=torch.channels_last)
    return m
