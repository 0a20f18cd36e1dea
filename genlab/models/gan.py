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

from genlab.health.rules import (
    Rule,
    above,
    all_of,
    any_of,
    below,
    falling,
    flat,
    gradient_explosion,
    loss_spikes,
    rising,
    swings,
)
from genlab.models import gan_cpu
from genlab.models.base import GenModel, adam, grad_norm, to_uint8
from genlab.view import Metric, Pane, View

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


# ---- what a GAN shows: the two losses, D's beliefs, and the judge's view of fresh digits
GAN_METRICS = (
    Metric("d_loss", "discriminator loss: binary cross-entropy on real and generated digits", "nats", None),
    Metric("g_loss", "generator loss, non-saturating: -log D(G(z))", "nats", None),
    Metric("d_real", "D(x): the discriminator's mean belief that real digits are real", "", None, "D(x)"),
    Metric("d_fake", "D(G(z)): its mean belief that generated digits are real", "", None, "D(G(z))"),
    Metric("grad_norm_G", "the generator's gradient norm (total L2, before its step): near 0, it learns nothing", "",
           None, "‖∇G‖", ".3g"),
    Metric("grad_norm_D", "the discriminator's (a WGAN's critic's) gradient norm (total L2, before its step)", "",
           None, "‖∇D‖", ".3g"),
    Metric("test_d_loss", "discriminator loss on held-out digits and as many generated ones", "nats", None),
    Metric("test_d_real", "D(x) on held-out digits", "", None),
    Metric("test_d_fake", "D(G(z)) on generated digits, beside the held-out ones", "", None),
    Metric("test_fld", "Frechet distance from generated digits to the test set, in the judge's features", "",
           True, "FLD", ".1f"),
    Metric("test_confident", "share of generated digits the judge is sure of", "%", False, "sure", ".0%"),
    Metric("test_diversity", "how much generated digits differ: their mean pairwise RMS distance, pixels 0-1 "
           "(held-out digits: 0.35, all ones 0.21; near 0, one digit over and over)", "", False, "diversity", ".3f"),
    Metric("min_class_share", "share of the rarest digit among generated ones (10% when all are even)", "%", False,
           spec=".1%"),
    Metric("max_class_share", "share of the commonest digit among generated ones", "%", True, spec=".1%"),
)
GAN_KNOBS = {"d_lr_ratio": "the discriminator's learning rate as a multiple of lr (default 1): raised, D wins "
                          "and G's gradient vanishes; lowered, G gets more say"}
FLD_PANE = Pane("FLD to the test set (lower is better)", (), ("test_fld",))
# ---- how a GAN goes wrong, in the tutorial's terms (genlab/health/rules.py says what a rule can say)
MODE_COLLAPSE = Rule(
    "mode-collapse", "mode collapse", "bad",
    "the generator covers only a few kinds of digit: the judge is sure of its digits and they fall into few "
    "classes, or the grid's digits grow alike",
    # (not a low diversity as such: a young GAN's blobs are alike before it draws any digit, and the
    # judge is sure of none of them; held-out digits: 0.35, only 1s: 0.21, a young MLP GAN's blobs: 0.03-0.06)
    any_of(all_of(above("test_confident", 0.5, 2), above("max_class_share", 0.4, 2)),
           falling("test_diversity", 0.3, 3)),
    ("max_class_share", "test_confident", "test_diversity"),
    ("genlab train cgan", "genlab train wgan-gp --preset cpu"))
NO_PROGRESS = Rule(
    "no-progress", "no progress", "warn",
    "the FLD has stopped falling (or rises) over the last quality checks: the generator is not getting better",
    any_of(rising("test_fld", 0.2, 4), all_of(above("test_fld", 100, 1), flat("test_fld", 0.03, 5))),
    ("test_fld",), ("genlab resume {run} --lr {lr_half}", "genlab train wgan-gp --preset cpu"))
GAN_HEALTH = (
    Rule("d-wins", "D winning", "bad",
         "the discriminator tells real from generated digits almost perfectly, so the generator's gradient "
         "vanishes and it stops learning",
         # (measured: healthy D(x) 0.68-0.87, D(G(z)) 0.18-0.44, ‖∇G‖ 3-16; D winning: 1.000, 1e-16, 0.005-0.17)
         all_of(above("d_real", 0.99, 200), below("d_fake", 0.01, 200), below("grad_norm_G", 0.5, 200)),
         ("grad_norm_G", "d_real", "d_fake"),
         ("genlab train wgan-gp --preset cpu", "genlab train {model} --hp d_lr_ratio=0.5", "genlab train dcgan")),
    Rule("dead", "training dead", "bad",
         "both networks' gradients are zero: the discriminator's outputs have saturated at 0 or 1 and neither "
         "network learns any more (a learning rate far too high)",
         all_of(below("grad_norm_G", 1e-9, 100), below("grad_norm_D", 1e-9, 100)),
         ("grad_norm_G", "grad_norm_D", "d_loss"),
         ("genlab train {model} --lr {lr_tenth}", "genlab train wgan-gp --preset cpu")),
    MODE_COLLAPSE,
    NO_PROGRESS,
    Rule("oscillation", "oscillating", "warn",
         "the two losses swing back and forth instead of settling: G and D chase each other (training instability)",
         any_of(swings("d_loss", 0.8, 2000), swings("g_loss", 2.0, 2000)),
         ("d_loss", "g_loss"), ("genlab resume {run} --lr {lr_half}", "genlab train wgan-gp --preset cpu")),
    loss_spikes("d_loss", "g_loss", factor=6.0),
    gradient_explosion("grad_norm_G", "grad_norm_D"),
)
GAN_VIEW = View(
    metrics=GAN_METRICS,
    panes=(Pane("G and D losses", ("d_loss", "g_loss"), ("test_d_loss",)),
           Pane("D(x) and D(G(z))", ("d_real", "d_fake"), ("test_d_real", "test_d_fake")),
           FLD_PANE),  # (gradient norms: in the health verdict's evidence, `h`; three panes fit 200x50)
    key="d_loss", quality="test_fld", progress=("d_loss", "g_loss"),
    class_histogram=("test_fld", "test_confident", "test_diversity"),
    walks=True,
    health=GAN_HEALTH,
    judged_after_steps=500,
    judged_after_checks=2,
)


def gan_quality_fields(figures: dict) -> dict:
    """A GAN's live quality event: the judge's figures under their metric names."""
    return {"test_fld": figures["fld"], "test_confident": figures["confident"], "test_diversity": figures["diversity"],
            "class_hist": figures["class_hist"],
            "min_class_share": figures["min_class_share"], "max_class_share": figures["max_class_share"]}


class GAN(GenModel):
    name = "gan"
    family = "gan"
    measured_by = "samples"  # its quality: the judge's figures of digits it generates
    description = "the seed's MLP GAN (BCE, Adam 2e-4): the reference point"
    # d_lr_ratio: the discriminator's learning rate as a multiple of the generator's (lr); raised,
    # D wins and G's gradient vanishes (the tutorial's failure; bench/health.py)
    defaults = {"batch_size": 64, "lr": 2e-4, "d_lr_ratio": 1.0}
    presets = {"large-batch": {"batch_size": 4096, "lr": 1.6e-3}}
    knobs = GAN_KNOBS
    view = GAN_VIEW

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
