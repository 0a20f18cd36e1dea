"""The seed's MLP GAN, kept faithful: it is genlab's reference point (DESIGN.md).

G: 100 → 256 → 512 → 1024 → 784, LeakyReLU(0.2), Tanh (1,486,352 parameters).
D: 784 → 1024 → 512 → 256 → 1, LeakyReLU(0.2), Dropout(0.3), Sigmoid (1,460,225 parameters).
BCE loss, Adam lr 2e-4 with default betas, batch 64, digits scaled to [-1, 1].

Preset ``large-batch`` (for a GPU): batch 4,096 with the learning rate scaled by the square root
of the batch ratio (sqrt(64) = 8, so 1.6e-3), the usual rule for Adam. Its throughput is what
bench/speed.py measures at the large batch; its quality has not been measured (no GPU here).

The step computes exactly the seed's losses and updates. Two things make it cheaper without
changing the maths: D sees the real and the fake half as one batch of 2B rows (its loss is the
sum of the two halves' means, as in the seed), and D's parameters are frozen while G's loss
backpropagates through it, so no weight gradient of D is computed only to be thrown away.
On the CPU the same step runs with hand-written gradients (gan_cpu.py), about 20 % faster.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models import gan_cpu
from genlab.models.base import GenModel, adam, grad_norm, to_uint8
from genlab.models.specs import gan as specs

LATENT = 100


def generator() -> nn.Module:
    return nn.Sequential(
        nn.Linear(LATENT, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 1024), nn.LeakyReLU(0.2),
        nn.Linear(1024, 784), nn.Tanh(),
    )


class Dropout(nn.Dropout):
    """``nn.Dropout`` with a cheaper mask on the CPU (gan_cpu.keep_mask); elsewhere nn.Dropout."""

    def forward(self, x):
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        return x * gan_cpu.keep_mask(x.numel(), self.p).view(x.shape)


def discriminator() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 1024), nn.LeakyReLU(0.2), Dropout(0.3),
        nn.Linear(1024, 512), nn.LeakyReLU(0.2), Dropout(0.3),
        nn.Linear(512, 256), nn.LeakyReLU(0.2), Dropout(0.3),
        nn.Linear(256, 1), nn.Sigmoid(),
    )


def scale(images: torch.Tensor) -> torch.Tensor:
    """uint8 digits to [-1, 1] rows of 784, as ToTensor() then Normalize((0.5,), (0.5,))."""
    return images.reshape(len(images), 784).float().mul_(2 / 255).sub_(1)


def gan_quality_fields(figures: dict) -> dict:
    """A GAN's live quality event: the judge's figures under their metric names."""
    return {"test_fld": figures["fld"], "test_confident": figures["confident"], "test_diversity": figures["diversity"],
            "class_hist": figures["class_hist"],
            "min_class_share": figures["min_class_share"], "max_class_share": figures["max_class_share"]}


class GAN(GenModel):
    spec = specs.GAN

    def quality_fields(self, figures: dict) -> dict:
        return gan_quality_fields(figures)

    def __init__(self, hp: dict, device: torch.device):
        super().__init__(hp, device)
        self.G = generator().to(self.device)
        self.D = discriminator().to(self.device)
        self.networks = {"G": self.G, "D": self.D}
        self.lr_scales = {"D": float(self.hp["d_lr_ratio"])}
        self.optimizers = {
            "G": adam(self.G.parameters(), self.hp["lr"]),
            "D": adam(self.D.parameters(), self.hp["lr"] * self.lr_scales["D"]),
        }
        self.weights = {name: list(net.parameters()) for name, net in self.networks.items()}  # for grad_norm
        self._targets: dict[int, torch.Tensor] = {}
        self.hand_step = self.device.type == "cpu"

    def targets(self, b: int) -> torch.Tensor:
        """[1]*b + [0]*b: labels for D's real half and fake half."""
        if b not in self._targets:
            self._targets[b] = torch.cat([torch.ones(b, 1), torch.zeros(b, 1)]).to(self.device)
        return self._targets[b]

    def step(self, images, labels):
        if self.hand_step:
            return gan_cpu.step(self, images)
        b = len(images)
        x = scale(images)
        t = self.targets(b)
        fake = self.G(self.noise(b, LATENT))  # (a rank's rows of the whole batch's noise)

        # ---- discriminator: BCE(D(x), 1) + BCE(D(G(z)), 0)
        out = self.D(torch.cat([x, fake.detach()]))
        d_loss = 2 * F.binary_cross_entropy(out, t)
        self.optimizers["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["D"].step()

        # ---- generator: BCE(D(G(z)), 1), through the updated D
        self.D.requires_grad_(False)
        out_g = self.D(fake)
        g_loss = F.binary_cross_entropy(out_g, t[:b])
        self.optimizers["G"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["G"].step()
        self.D.requires_grad_(True)

        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": out[:b].detach().mean(),
            "d_fake": out[b:].detach().mean(),
            **self.grad_norms(),
        }

    def grad_norms(self) -> dict[str, torch.Tensor]:
        """Each network's gradient norm, from the gradients its optimiser has just stepped with
        (read after the step: Adam leaves them as they were, and on several processes they are
        then the ranks' average, the gradient of the whole batch)."""
        return {f"grad_norm_{name}": grad_norm(params) for name, params in self.weights.items()}

    def latent(self, n, generator):
        return torch.randn(n, LATENT, generator=generator)

    @torch.no_grad()
    def decode(self, latent, interrupt=None):
        self.G.eval()
        out = self.G(latent.to(self.device))
        self.G.train()
        return to_uint8(out, -1.0, 1.0)

    @torch.no_grad()
    def evaluate(self, images, labels, interrupt=None):
        """D on held-out digits and on as many fresh fakes: its loss and mean outputs."""
        self.train(False)
        g = torch.Generator().manual_seed(1234)
        real_sum = fake_sum = loss_sum = 0.0
        for chunk in images.split(1000):
            d_real = self.D(scale(chunk))
            d_fake = self.D(self.G(self.latent(len(chunk), g).to(self.device)))
            loss_sum += float(F.binary_cross_entropy(d_real, torch.ones_like(d_real), reduction="sum")
                              + F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake), reduction="sum"))
            real_sum += float(d_real.sum())
            fake_sum += float(d_fake.sum())
        self.train(True)
        n = len(images)
        return {"test_d_loss": loss_sum / n, "test_d_real": real_sum / n, "test_d_fake": fake_sum / n}
