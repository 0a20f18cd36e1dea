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


def build(name: str, hp: dict | None = None, device: torch.device | str = "cpu") -> GenModel:
    cls = get(name)
    unknown = set(hp or {}) - set(cls.defaults)
    if unknown:
        raise UsageError(
            f"model {name!r} has no hyperparameter {', '.join(sorted(unknown))}; "
            f"it has {', '.join(cls.defaults)}"
        )
    return cls(hp or {}, torch.device(device))
