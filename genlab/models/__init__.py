"""The model registry: ``MODELS`` maps a name to its class; :func:`build` makes one."""

from __future__ import annotations

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
    return {**cls.defaults, **(cls.presets.get(preset, {}) if preset else {}), **(hp or {})}


def build(name: str, hp: dict | None = None, device: torch.device | str = "cpu", preset: str | None = None) -> GenModel:
    m = get(name)(hyperparameters(name, hp, preset), torch.device(device))
    if m.channels_last and m.device.type == "cpu":
        # weights in NHWC: each convolution then runs (and returns) channels-last. In place, so
        # the optimisers keep their parameters; checkpoints load into either layout.
        for net in m.networks.values():
            net.to(memory_format=torch.channels_last)
    return m
