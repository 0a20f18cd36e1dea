"""Variational autoencoder (Kingma & Welling 2014), as in pytorch/examples' vae/main.py.

MLP encoder 784 → 400 → (mean, log-variance) of a 20-d Gaussian, reparameterisation, MLP decoder
20 → 400 → 784 Bernoulli logits. Trained on dynamically binarised digits, so the numbers compare
with the literature. Reported per image, in nats: reconstruction, KL and their sum, the negative
ELBO (``loss``). Adam lr 1e-3, batch 128.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.health.rules import Rule, all_of, any_of, below, gradient_explosion, loss_spikes, rising
from genlab.models.base import TEST_BINARIZATION_SEED, GenModel, Interrupted, adam, binarize, to_uint8
from genlab.view import Metric, Pane, View


class GaussianVAE(nn.Module):
    """What every VAE network shares: ``enc`` to features, ``mu`` and ``logvar`` heads, the
    reparameterised draw, and ``dec`` to 784 Bernoulli logits. Subclasses build the four parts."""

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x, eps=None):
        """``eps``: the reparameterisation's standard normal noise (drawn here if not given)."""
        mu, logvar = self.encode(x)
        eps = torch.randn_like(mu) if eps is None else eps
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


class VAENet(GaussianVAE):
    def __init__(self, hidden: int, latent: int):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(784, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784))


def vae_loss(logits, x, mu, logvar):
    """Reconstruction (Bernoulli NLL) and KL(q(z|x) || N(0, I)), each summed per image."""
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return recon, kl


# ---- how a VAE goes wrong, in the tutorial's terms (genlab/health/rules.py says what a rule can say)
VAE_HEALTH = (
    Rule("posterior-collapse", "posterior collapse", "bad",
         "the KL term won: the latent code carries (almost) nothing about the digit, the decoder ignores it and "
         "the samples blur",
         # (measured: healthy kl 8-22 nats, 19.5-20 active units of 20; collapsed: kl 0.002-0.055, 0 active)
         any_of(below("kl", 0.1, 200),
                all_of(below("kl", 0.5, 200), any_of(below("active_units", 1, 200), below("test_active_units", 1.5, 1)))),
         ("kl", "active_units", "test_active_units"),
         ("genlab train {model} --hp free_bits=0.5", "genlab train {model} --hp beta=1",
          "genlab train {model} --hp kl_warmup=2000")),
    Rule("overfitting", "overfitting", "warn",
         "the held-out loss rises while the training loss falls: the model is learning its training digits by heart",
         rising("test_loss", 0.01, 3, against="loss"), ("test_loss", "loss"),
         ("genlab stop {run}", "genlab train {model} --hp hidden=200")),
    loss_spikes("loss", factor=2.0),
    gradient_explosion("grad_norm_encoder", "grad_norm_decoder"),
)
# ---- what a VAE shows: the negative ELBO, its two terms, and the importance-sampled likelihood
VAE_VIEW = View(
    metrics=(
        Metric("loss", "negative ELBO per digit: reconstruction plus KL (lower is better)", "nats"),
        Metric("recon", "reconstruction: -log p(x|z) of the binarised digit", "nats"),
        Metric("kl", "KL(q(z|x) || p(z)): what the latent code costs", "nats", None),
        Metric("test_loss", "negative ELBO on held-out digits", "nats"),
        Metric("test_recon", "reconstruction on held-out digits", "nats"),
        Metric("test_kl", "KL on held-out digits", "nats", None),
        Metric("test_is_nll", "importance-sampled -log p(x) of held-out digits (k samples each)", "nats"),
    ),
    panes=(Pane("negative ELBO and importance-sampled NLL, nats", ("loss",), ("test_loss", "test_is_nll")),
           Pane("reconstruction and KL, nats", ("recon", "kl"), ("test_recon", "test_kl"))),
    key="loss", quality="test_is_nll", progress=("loss", "recon", "kl"), walks=True,
    health=VAE_HEALTH,
    judged_after_steps=500,
    judged_after_checks=1,
)


class VAE(GenModel):
    name = "vae"
    family = "vae"
    measured_by = "importance"  # its quality: the importance-sampled NLL of held-out digits
    encodes = True  # net.encode: latent maps, anomaly scores, walks between encoded digits
    description = "MLP VAE, Bernoulli decoder on binarised digits (pytorch/examples)"
    defaults = {"batch_size": 128, "lr": 1e-3, "hidden": 400, "latent": 20}
    view = VAE_VIEW

    def __init__(self, hp: dict, device: torch.device):
        super().__init__(hp, device)
        self.net = self.make_net().to(self.device)
        self.networks = {"vae": self.net}
        self.optimizers = {"vae": adam(self.net.parameters(), self.hp["lr"])}

    def make_net(self) -> nn.Module:
        return VAENet(int(self.hp["hidden"]), int(self.hp["latent"]))

    def step(self, images, labels):
        x = self.binarize_rows(images)  # (the noise of the whole batch, this rank's rows)
        logits, mu, logvar = self.net(x, self.noise(len(images), int(self.hp["latent"])))
        recon, kl = vae_loss(logits, x, mu, logvar)
        recon, kl = recon.mean(), kl.mean()
        loss = recon + kl
        self.optimizers["vae"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["vae"].step()
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    def latent(self, n, generator):
        return torch.randn(n, int(self.hp["latent"]), generator=generator)

    @torch.no_grad()
    def decode(self, latent, interrupt=None):
        """The decoder's Bernoulli means as grey levels."""
        return to_uint8(torch.sigmoid(self.net.dec(latent.to(self.device))))

    @torch.no_grad()
    def evaluate(self, images, labels, interrupt=None):
        """Negative ELBO on one fixed binarisation of the held-out digits (one z per digit).

        Its noise comes from its own generators, so evaluating never moves the training streams.
        """
        self.train(False)
        x_all = binarize(images.reshape(len(images), 784), torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
        g = torch.Generator().manual_seed(0)
        recon_sum = kl_sum = 0.0
        for x in x_all.split(1000):
            if interrupt is not None and interrupt():  # a waiting command goes first
                self.train(True)
                raise Interrupted
            mu, logvar = self.net.encode(x)
            eps = torch.randn(mu.shape, generator=g).to(self.device)
            logits = self.net.dec(mu + eps * torch.exp(0.5 * logvar))
            recon, kl = vae_loss(logits, x, mu, logvar)
            recon_sum += float(recon.sum())
            kl_sum += float(kl.sum())
        self.train(True)
        n = len(images)
        return {"test_loss": (recon_sum + kl_sum) / n, "test_recon": recon_sum / n, "test_kl": kl_sum / n}
