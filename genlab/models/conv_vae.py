"""Convolutional VAE: the VAE with a convolutional encoder and a transposed-convolution decoder.

Encoder: two strided 4×4 convolutions (32, 64 channels, ReLU) to 64×7×7, then a 256-unit layer
to the mean and log-variance of a 32-d Gaussian; the decoder mirrors it to 28×28 Bernoulli
logits. Same loss as ``vae`` (reconstruction and KL in nats per image, on dynamically binarised
digits); Adam lr 1e-3, batch 128, as pytorch/examples' VAE.
"""

from __future__ import annotations

from torch import nn

from genlab.models.specs import vae as specs
from genlab.models.vae import VAE, GaussianVAE


class ConvVAENet(GaussianVAE):
    def __init__(self, hidden: int, latent: int):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, hidden), nn.ReLU(),
        )
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(),
            nn.Linear(hidden, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Flatten(),
        )


class ConvVAE(VAE):
    spec = specs.CONV_VAE

    def make_net(self):
        return ConvVAENet(int(self.hp["hidden"]), int(self.hp["latent"]))
