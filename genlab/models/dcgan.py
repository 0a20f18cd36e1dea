"""DCGAN (Radford, Metz & Chintala 2016): the seed's first remedy, a convolutional GAN.

Reference hyperparameters from the paper: Adam with lr 2e-4 and beta1 0.5 (beta2 0.999), batch
128, BatchNorm in G and D, LeakyReLU(0.2) in D, ReLU in G, Tanh output, data scaled to [-1, 1].
Non-saturating BCE loss (G maximises log D(G(z))), written with logits for stability.

Preset ``cpu`` (``--preset cpu``): width 16, lr 1e-3, batch 64. The paper's settings are for a
GPU; on a 2-core CPU a quarter of the convolution work per step and a five times larger step
buy far more quality per second. Measured with bench/quality.py's loop at one thread for 100 s:
cgan FLD 18.7 with the preset against 161.7 with the reference settings (width 32, batch 64 at
lr 2e-4 gave 167; lr 5e-4, 36.3), and every class between 9.1% and 10.8% of samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.models.base import GenModel, adam, to_uint8
from genlab.models.convnets import ConvDiscriminator, ConvGenerator, scale
from genlab.models.gan import GAN, gan_quality_fields
from genlab.models.specs import gan as specs


class DCGAN(GenModel):
    spec = specs.DCGAN
    conditional = False

    def __init__(self, hp: dict, device: torch.device):
        super().__init__(hp, device)
        classes = 10 if self.conditional else 0
        self.G = ConvGenerator(int(self.hp["latent"]), int(self.hp["width"]), classes).to(self.device)
        self.D = self.make_discriminator(int(self.hp["width"]), classes).to(self.device)
        self.networks = {"G": self.G, "D": self.D}
        betas = (float(self.hp["beta1"]), float(self.hp.get("beta2", 0.999)))
        self.lr_scales = {"D": float(self.hp["d_lr_ratio"])}  # D's learning rate, relative to G's
        self.optimizers = {"G": adam(self.G.parameters(), self.hp["lr"], betas),
                           "D": adam(self.D.parameters(), self.hp["lr"] * self.lr_scales["D"], betas)}
        self.weights = {name: list(net.parameters()) for name, net in self.networks.items()}  # for grad_norms

    def make_discriminator(self, width: int, classes: int):
        return ConvDiscriminator(width, batchnorm=True, classes=classes)

    def step(self, images, labels):
        b = len(images)
        x = scale(images)
        y = labels if self.conditional else None
        fake = self.G(self.noise(b, int(self.hp["latent"])), y)
        ones, zeros = torch.ones(b, 1, device=self.device), torch.zeros(b, 1, device=self.device)

        # ---- discriminator
        real_logit, fake_logit = self.D(x, y), self.D(fake.detach(), y)
        d_loss = F.binary_cross_entropy_with_logits(real_logit, ones) + F.binary_cross_entropy_with_logits(fake_logit, zeros)
        self.optimizers["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["D"].step()

        # ---- generator (non-saturating)
        self.D.requires_grad_(False)
        g_loss = F.binary_cross_entropy_with_logits(self.D(fake, y), ones)
        self.optimizers["G"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["G"].step()
        self.D.requires_grad_(True)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": torch.sigmoid(real_logit.detach()).mean(), "d_fake": torch.sigmoid(fake_logit.detach()).mean(),
                **self.grad_norms()}

    grad_norms = GAN.grad_norms

    def quality_fields(self, figures: dict) -> dict:
        return gan_quality_fields(figures)

    # ---- sampling: the latent is z, with the label in the last column for a conditional model
    def latent(self, n, generator):
        z = torch.randn(n, int(self.hp["latent"]), generator=generator)
        if not self.conditional:
            return z
        labels = torch.arange(n) * 10 // n  # rows of 0s, then 1s, ... 9s
        return torch.cat([z, labels.unsqueeze(1).float()], 1)

    def split(self, latent):
        latent = latent.to(self.device)
        if not self.conditional:
            return latent, None
        return latent[:, :-1], latent[:, -1].long()

    @torch.no_grad()
    def decode(self, latent, interrupt=None):
        self.G.eval()
        out = self.G(*self.split(latent))
        self.G.train()
        return to_uint8(out, -1.0, 1.0)

    @torch.no_grad()
    def evaluate(self, images, labels, interrupt=None):
        """D's mean output on held-out digits and on as many fakes."""
        self.train(False)
        g = torch.Generator().manual_seed(1234)
        real_sum = fake_sum = 0.0
        for chunk, lab in zip(images.split(1000), labels.split(1000)):
            y = lab if self.conditional else None
            real_sum += float(torch.sigmoid(self.D(scale(chunk), y)).sum())
            z = torch.randn(len(chunk), int(self.hp["latent"]), generator=g).to(self.device)
            fake_sum += float(torch.sigmoid(self.D(self.G(z, y), y)).sum())
        self.train(True)
        return {"test_d_real": real_sum / len(images), "test_d_fake": fake_sum / len(images)}
