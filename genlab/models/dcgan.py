"""DCGAN (Radford, Metz & Chintala 2016): the seed's first remedy, a convolutional GAN.

Reference hyperparameters from the paper: Adam with lr 2e-4 and beta1 0.5 (beta2 0.999), batch
128, BatchNorm in G and D, LeakyReLU(0.2) in D, ReLU in G, Tanh output, data scaled to [-1, 1].
Non-saturating BCE loss (G maximises log D(G(z))), written with logits for stability.

Preset ``cpu`` (``--preset cpu``): conditioned on 100 clusters of the training digits (``clusters``,
below), width 22, lr 1.2e-3, batch 64, D's learning rate 0.55 of G's, EMA 0.99, hinge loss, one
more convolution in G (``g_blocks`` 1): cgan's preset with the digits' clusters for their labels.
The paper's settings are for a GPU; on a 2-core CPU narrower nets and a larger step buy more
quality per second. Found by a grid over the clusters and the width, 5 minutes a trial
(bench/results/sweep-dcgan-clusters-cpu.txt); without clusters the best settings found (width 34,
lr 2.8e-3, D's lr 0.86, EMA 0.99, hinge, R1 10 every 4th D step: sweep-dcgan-options-cpu.txt,
sweep-dcgan-lazy-r1-cpu.txt) drew an FLD near 26 where it draws 7.

What the field adds to a GAN since, each an ``--hp`` that is off by default (today's model, bit
for bit): ``ema`` (digits drawn from a moving average of G's weights, genlab/models/ema.py;
:meth:`DCGAN.sampler`), ``sn`` (spectral normalisation on D, convnets.py), ``loss=hinge``
(:data:`LOSSES`), ``r1`` (:func:`r1_penalty` on real digits) and ``r1_every`` (lazy R1),
``d_norm=none`` (no BatchNorm in D) and Adam's ``beta2``; D's own learning rate is ``d_lr_ratio``.
``g_blocks=N`` adds N 3×3 convolutions to G at 14×14 (convnets.py).
``clusters=K`` conditions G and D on the training digits' own clusters (clusters.py), as cgan's
networks are on the label, with no label read.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.models.base import GenModel, adam, to_uint8
from genlab.models.clusters import Clusters
from genlab.models.convnets import ConvDiscriminator, ConvGenerator, scale
from genlab.models.ema import EMA
from genlab.models.gan import GAN, gan_quality_fields
from genlab.models.specs import gan as specs


# ---- the losses (--hp loss), on D's logits: (D's loss, G's loss)
def d_bce(real_logit, fake_logit):
    """D's cross-entropy: -log D(x) - log(1 - D(G(z)))."""
    ones, zeros = torch.ones(real_logit.shape, device=real_logit.device), torch.zeros(fake_logit.shape, device=fake_logit.device)
    return F.binary_cross_entropy_with_logits(real_logit, ones) + F.binary_cross_entropy_with_logits(fake_logit, zeros)


def g_bce(fake_logit):
    """G's non-saturating loss: -log D(G(z))."""
    return F.binary_cross_entropy_with_logits(fake_logit, torch.ones(fake_logit.shape, device=fake_logit.device))


def d_hinge(real_logit, fake_logit):
    """D's hinge loss (Lim & Ye 2017; Miyato et al. 2018): E relu(1 - D(x)) + E relu(1 + D(G(z)))."""
    return F.relu(1 - real_logit).mean() + F.relu(1 + fake_logit).mean()


def g_hinge(fake_logit):
    """G's loss beside the hinge: -E D(G(z))."""
    return -fake_logit.mean()


LOSSES = {"bce": (d_bce, g_bce), "hinge": (d_hinge, g_hinge)}


def r1_penalty(real_logit, x):
    """R1 (Mescheder et al. 2018): E |grad_x D(x)|^2 over real digits ``x`` (which require a
    gradient), kept differentiable for D's step; D's loss adds gamma/2 times it."""
    grad, = torch.autograd.grad(real_logit.sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


class DCGAN(GenModel):
    spec = specs.DCGAN
    conditional = False

    def __init__(self, hp: dict, device: torch.device):
        super().__init__(hp, device)
        # conditioned on the digit's label (cgan), on its cluster (--hp clusters, clusters.py; dcgan's
        # option: cgan has the labels, wgan-gp's step is its own), or on nothing
        k = int(self.hp["clusters"]) if "clusters" in self.hp else 0
        self.clusters = Clusters(k, self.device) if k else None
        classes = 10 if self.conditional else k
        self.G = ConvGenerator(int(self.hp["latent"]), int(self.hp["width"]), classes,
                               int(self.hp["g_blocks"]) if "g_blocks" in self.hp else 0).to(self.device)
        self.D = self.make_discriminator(int(self.hp["width"]), classes).to(self.device)
        self.networks = {"G": self.G, "D": self.D}
        betas = (float(self.hp["beta1"]), float(self.hp["beta2"]))
        self.lr_scales = {"D": float(self.hp["d_lr_ratio"])}  # D's learning rate, relative to G's
        self.optimizers = {"G": adam(self.G.parameters(), self.hp["lr"], betas),
                           "D": adam(self.D.parameters(), self.hp["lr"] * self.lr_scales["D"], betas)}
        self.weights = {name: list(net.parameters()) for name, net in self.networks.items()}  # for grad_norms
        self.ema = EMA(self.G, self.hp["ema"]) if self.hp["ema"] > 0 else None
        self.averages = {"G_ema": self.ema} if self.ema else {}
        self._d_updates: int | None = None  # see d_updates

    def make_discriminator(self, width: int, classes: int):
        return ConvDiscriminator(width, batchnorm=self.hp["d_norm"] == "batch", classes=classes,
                                 spectral=bool(self.hp["sn"]))

    def prepare(self, train_images):
        """With --hp clusters: the training digits' clusters (k-means, about a second)."""
        if self.clusters is not None:
            self.clusters.fit(train_images)

    def conditions(self, images, labels):
        """What G and D are conditioned on for these digits: their labels (cgan), their clusters
        (--hp clusters) or nothing (None)."""
        if self.conditional:
            return labels
        return self.clusters.of(images) if self.clusters is not None else None

    def step(self, images, labels):
        b = len(images)
        x = scale(images)
        y = self.conditions(images, labels)
        fake = self.G(self.noise(b, int(self.hp["latent"])), y)
        d_loss_of, g_loss_of = LOSSES[self.hp["loss"]]
        r1, every = float(self.hp["r1"]), int(self.hp["r1_every"])
        # lazy R1 (Karras et al. 2020): the penalty on every ``every``-th D step only, weighted by
        # ``every``; its second backward through D made a step of the preset half as long again (README)
        penalise = self.d_updates() % every == 0 and r1 > 0

        # ---- discriminator
        if penalise:
            x.requires_grad_(True)
        real_logit, fake_logit = self.D(x, y), self.D(fake.detach(), y)
        d_loss = d_loss_of(real_logit, fake_logit)
        if penalise:
            penalty = r1_penalty(real_logit, x)
            d_loss = d_loss + r1 * every / 2 * penalty
        self.optimizers["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizers["D"].step()
        self._d_updates += 1

        # ---- generator
        self.D.requires_grad_(False)
        g_loss = g_loss_of(self.D(fake, y))
        self.optimizers["G"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["G"].step()
        self.D.requires_grad_(True)
        self.update_average()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": torch.sigmoid(real_logit.detach()).mean(), "d_fake": torch.sigmoid(fake_logit.detach()).mean(),
                **({"r1": penalty.detach()} if r1 > 0 and every == 1 else {}), **self.grad_norms()}

    grad_norms = GAN.grad_norms

    def d_updates(self) -> int:
        """How many steps D has taken: read from its optimiser once (a resumed run goes on where it
        was; on a GPU, one synchronisation), then counted here."""
        if self._d_updates is None:
            state = self.optimizers["D"].state.get(self.weights["D"][0], {})
            self._d_updates = int(state["step"]) if "step" in state else 0
        return self._d_updates

    def state(self) -> dict:
        """The networks' and optimisers' states, with --hp clusters the clusters beside the networks."""
        state = super().state()
        if self.clusters is not None:
            state["models"]["clusters"] = self.clusters.state()
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        if self.clusters is not None:
            self.clusters.load_state(state["models"]["clusters"])
        self._d_updates = None  # read again from the loaded optimiser

    def update_average(self) -> None:
        """After G's step: its moving average (--hp ema) takes a step towards it."""
        if self.ema is not None:
            self.ema.update(self.G, self.optimizers["G"].state[self.weights["G"][0]]["step"])

    def sampler(self):
        """The generator digits are drawn from: G's moving average with --hp ema, else G."""
        return self.ema.net if self.ema is not None else self.G

    def quality_fields(self, figures: dict) -> dict:
        return gan_quality_fields(figures)

    # ---- sampling: the latent is z, with the label in the last column for a conditional model,
    #      and a uniform draw that picks the cluster (Clusters.drawn) with --hp clusters
    def latent(self, n, generator):
        z = torch.randn(n, int(self.hp["latent"]), generator=generator)
        if self.conditional:
            labels = torch.arange(n) * 10 // n  # rows of 0s, then 1s, ... 9s
            return torch.cat([z, labels.unsqueeze(1).float()], 1)
        if self.clusters is not None:
            # one draw in each n-th of [0, 1): every cluster its share of the digits, cluster after cluster
            u = (torch.arange(n) + torch.rand(n, generator=generator)) / n
            return torch.cat([z, u.unsqueeze(1)], 1)
        return z

    def split(self, latent):
        latent = latent.to(self.device)
        if self.conditional:
            return latent[:, :-1], latent[:, -1].long()
        if self.clusters is not None:
            return latent[:, :-1], self.clusters.drawn(latent[:, -1])
        return latent, None

    @torch.no_grad()
    def decode(self, latent, interrupt=None):
        G = self.sampler()
        G.eval()
        out = G(*self.split(latent))
        if G is self.G:  # (the average is never trained: it stays in eval mode)
            G.train()
        return to_uint8(out, -1.0, 1.0)

    @torch.no_grad()
    def evaluate(self, images, labels, interrupt=None):
        """D's mean output on held-out digits and on as many fakes."""
        self.train(False)
        g = torch.Generator().manual_seed(1234)
        real_sum = fake_sum = 0.0
        for chunk, lab in zip(images.split(1000), labels.split(1000)):
            y = self.conditions(chunk, lab)
            real_sum += float(torch.sigmoid(self.D(scale(chunk), y)).sum())
            z = torch.randn(len(chunk), int(self.hp["latent"]), generator=g).to(self.device)
            fake_sum += float(torch.sigmoid(self.D(self.G(z, y), y)).sum())
        self.train(True)
        return {"test_d_real": real_sum / len(images), "test_d_fake": fake_sum / len(images)}
