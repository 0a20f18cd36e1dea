"""The convolutional generator and discriminator shared by dcgan, wgan-gp and cgan.

DCGAN's recipe (Radford et al. 2016) at MNIST size: G projects z to 128×7×7, then two strided
transposed convolutions (BatchNorm, ReLU) up to 1×28×28 with Tanh; D mirrors it with strided
convolutions and LeakyReLU(0.2), BatchNorm in the middle (none in a WGAN-GP critic, whose
penalty is per sample), and one logit out. ``classes`` > 0 adds a label (a conditional GAN, Mirza &
Osindero 2014): G gets a one-hot next to z; D projects its features onto a learned embedding of
the label (the projection discriminator of Miyato & Koyama 2018). A one-hot concatenated to D's
features would only add a per-class bias to the logit, which cannot tell whether the digit
matches its label.

``blocks`` (a GAN's ``--hp g_blocks=N``) adds N 3×3 convolutions to G at 14×14: more depth where
the strokes take shape (cgan's FLD at 5 minutes on one core: 9.1 without, 6.3 with one).

``spectral`` (a GAN's ``--hp sn=1``) puts spectral normalisation on each of D's layers (Miyato et
al. 2018): each weight is divided by an estimate of its largest singular value (one power
iteration a training forward pass), so no layer stretches its input by more than about 1. D then
has no BatchNorm, as in the paper's networks: a batch's statistics would undo the bound.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class ConvGenerator(nn.Module):
    def __init__(self, latent: int = 100, width: int = 64, classes: int = 0, blocks: int = 0):
        super().__init__()
        self.classes = classes
        self.project = nn.Sequential(nn.Linear(latent + classes, 2 * width * 7 * 7), nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        # ``blocks`` (a GAN's --hp g_blocks): that many 3×3 convolutions (BatchNorm, ReLU) at 14×14,
        # between the two upsamplings; 0 is DCGAN's generator, the same modules in the same order
        refine = [layer for _ in range(blocks)
                  for layer in (nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU())]
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            *refine,
            nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh(),
        )
        self.width = width

    def forward(self, z, labels=None):
        if self.classes:
            z = torch.cat([z, F.one_hot(labels, self.classes).float()], 1)
        return self.up(self.project(z).view(len(z), 2 * self.width, 7, 7))


class ConvDiscriminator(nn.Module):
    def __init__(self, width: int = 64, batchnorm: bool = True, classes: int = 0, spectral: bool = False):
        super().__init__()
        self.classes = classes
        norm = nn.BatchNorm2d(2 * width) if batchnorm and not spectral else nn.Identity()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), norm, nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.out = nn.Linear(2 * width * 7 * 7, 1)
        self.embed = nn.Embedding(classes, 2 * width * 7 * 7) if classes else None
        if spectral:
            for layer in [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]:
                spectral_norm(layer)

    def forward(self, x, labels=None):
        h = self.features(x)
        logit = self.out(h)
        if self.classes:
            logit = logit + (self.embed(labels) * h).sum(1, keepdim=True)
        return logit


def scale(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×28×28 to N×1×28×28 in [-1, 1]."""
    return images.unsqueeze(1).float().mul_(2 / 255).sub_(1)
