"""Variational autoencoder (Kingma & Welling 2014), as in pytorch/examples' vae/main.py.

MLP encoder 784 → 400 → (mean, log-variance) of a 20-d Gaussian, reparameterisation, MLP decoder
20 → 400 → 784 Bernoulli logits (``--hp layers``, ``hidden``, ``act``: deeper, wider, tanh). Trained on dynamically binarised digits, so the numbers compare
with the literature. Reported per image, in nats: reconstruction, KL and their sum, the negative
ELBO (``loss``). Adam lr 1e-3, batch 128.

``--hp k``: with k > 1 the model is an IWAE (Burda et al. 2016): it draws k latents per digit and
minimises the negative importance-weighted bound (:func:`iwae_loss`), a tighter bound on -log p(x)
than the negative ELBO; k = 1 (the default) is the VAE above. Its ``loss``, ``recon`` and ``kl``
stay the negative ELBO and its terms (of the first of the k latents), comparable across k; the
bound it minimises is the metric ``iwae``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genlab.errors import UsageError
from genlab.models.base import TEST_BINARIZATION_SEED, GenModel, Interrupted, adam, binarize, grad_norm, to_uint8
from genlab.models.specs import vae as specs


class GaussianVAE(nn.Module):
    """What every VAE network shares: ``enc`` to features, ``mu`` and ``logvar`` heads, the
    reparameterised draw, and ``dec`` to 784 Bernoulli logits. Subclasses build the four parts."""

    def halves(self) -> dict[str, list[nn.Parameter]]:
        """The encoder's parameters (``enc`` and both heads) and the decoder's."""
        return {"encoder": [*self.enc.parameters(), *self.mu.parameters(), *self.logvar.parameters()],
                "decoder": list(self.dec.parameters())}

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x, eps=None):
        """``eps``: the reparameterisation's standard normal noise (drawn here if not given)."""
        mu, logvar = self.encode(x)
        eps = torch.randn_like(mu) if eps is None else eps
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class VAENet(GaussianVAE):
    """``layers`` hidden layers of ``hidden`` units each way (1: pytorch/examples' VAE; 2 of 200
    with tanh and a 50-d latent: Burda et al.'s one-stochastic-layer model)."""

    def __init__(self, hidden: int, latent: int, layers: int = 1, act: str = "relu"):
        super().__init__()

        def mlp(first: int) -> list[nn.Module]:
            sizes = [first] + [hidden] * layers
            return [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), ACTIVATIONS[act]())]

        self.enc = nn.Sequential(*mlp(784))
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec = nn.Sequential(*mlp(latent), nn.Linear(hidden, 784))


ACTIVE = 0.01  # nats: a latent dimension whose KL (or posterior mean's variance) is above this is active


def kl_per_dimension(mu, logvar) -> torch.Tensor:
    """The batch-mean KL(q(z_i|x) || N(0, 1)) of each latent dimension i, in nats."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean(0)


def vae_loss(logits, x, mu, logvar):
    """Reconstruction (Bernoulli NLL) and KL(q(z|x) || N(0, I)), each summed per image."""
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return recon, kl


def iwae_loss(logits, x, z, eps, logvar):
    """The negative importance-weighted bound of each digit (Burda et al. 2016), from k latents
    z_j = mu + eps_j * sigma drawn from q(z|x): -log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x).
    ``logits``: k×B×784 (the decoder's, for each z_j), ``x``: B×784, ``z`` and ``eps``: k×B×latent,
    ``logvar``: B×latent. With k = 1, a one-latent estimate of the negative ELBO; the more
    latents, the tighter the bound."""
    log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
    log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
    log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + logvar).sum(-1)
    return -(torch.logsumexp(log_px_z + log_pz - log_qz, 0) - math.log(len(logits)))


class VAE(GenModel):
    spec = specs.VAE

    def __init__(self, hp: dict, device: torch.device):
        super().__init__(hp, device)
        self.net = self.make_net().to(self.device)
        self.networks = {"vae": self.net}
        self.optimizers = {"vae": adam(self.net.parameters(), self.hp["lr"])}
        self.halves = self.net.halves()  # encoder's and decoder's parameters, for their gradient norms
        knobs = [f"{key}={self.hp[key]:g}" for key, off in (("beta", 1), ("kl_warmup", 0), ("free_bits", 0))
                 if self.hp[key] != off]
        if int(self.hp["k"]) > 1 and knobs:
            raise UsageError(f"--hp k={self.hp['k']} (an IWAE) minimises the importance-weighted bound, which has "
                             f"no KL term for {', '.join(knobs)} to change; leave them out, or use k=1")

    def make_net(self) -> nn.Module:
        return VAENet(int(self.hp["hidden"]), int(self.hp["latent"]), int(self.hp["layers"]), self.hp["act"])

    def step(self, images, labels):
        x = self.binarize_rows(images)  # (the noise of the whole batch, this rank's rows)
        k, latent = int(self.hp["k"]), int(self.hp["latent"])
        if k == 1:
            logits, mu, logvar = self.net(x, self.noise(len(images), latent))
        else:  # k latents per digit, the first of them for the ELBO's terms
            eps = self.noise(len(images), k, latent).transpose(0, 1)  # k × B × latent
            mu, logvar = self.net.encode(x)
            z = mu + eps * torch.exp(0.5 * logvar)
            every = self.net.dec(z.flatten(0, 1)).view(k, len(x), -1)  # decoders take a flat batch
            logits, bound = every[0], iwae_loss(every, x, z, eps, logvar).mean()
        recon, kl = vae_loss(logits, x, mu, logvar)
        recon, kl = recon.mean(), kl.mean()
        loss = recon + kl  # the negative ELBO, what is reported
        kl_dims = kl_per_dimension(mu.detach(), logvar.detach())
        self.optimizers["vae"].zero_grad(set_to_none=True)
        (self.objective(recon, kl, mu, logvar) if k == 1 else bound).backward()
        self.optimizers["vae"].step()
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach(),
                **({"iwae": bound.detach()} if k > 1 else {}),
                "active_units": (kl_dims > ACTIVE).sum().float(),
                **{f"grad_norm_{half}": grad_norm(params) for half, params in self.halves.items()}}

    def objective(self, recon, kl, mu, logvar) -> torch.Tensor:
        """What the optimiser minimises: the negative ELBO, unless the knobs change the KL term:
        weighted by beta (ramped up from 0 over kl_warmup steps), and with free_bits nats per
        dimension left unpenalised. The defaults give the negative ELBO, the same tensor."""
        beta, warmup, free = float(self.hp["beta"]), int(self.hp["kl_warmup"]), float(self.hp["free_bits"])
        if beta == 1 and warmup == 0 and free == 0:
            return recon + kl
        if free > 0:
            kl = kl_per_dimension(mu, logvar).clamp(min=free).sum()
        weight = torch.tensor(beta, device=recon.device)
        if warmup > 0:  # the steps taken so far, from the optimiser's state: a resumed run goes on where it was
            state = self.optimizers["vae"].state.get(next(self.net.parameters()), {})
            taken = state.get("step", torch.zeros(()))
            weight = weight * (taken.to(recon.device, torch.float32) / warmup).clamp(max=1)
        return recon + weight * kl

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
        means, kl_dims = [], 0.0
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
            means.append(mu.double())
            kl_dims = kl_dims + kl_per_dimension(mu, logvar).double() * len(x)
        self.train(True)
        n = len(images)
        return {"test_loss": (recon_sum + kl_sum) / n, "test_recon": recon_sum / n, "test_kl": kl_sum / n,
                **latent_use(torch.cat(means), kl_dims / n)}


def latent_use(means: torch.Tensor, kl_dims: torch.Tensor) -> dict[str, float]:
    """How much of the latent code held-out digits use: the active units (Burda et al. 2016:
    dimensions whose posterior mean has a variance above 0.01 over the digits) and each
    dimension's mean KL, as ``test_kl_00``, ``test_kl_01``, ... (held-out metrics that no pane
    shows: the health rules read them)."""
    active = int((means.var(0, correction=0) > ACTIVE).sum()) if len(means) > 1 else 0
    return {"test_active_units": float(active), **{f"test_kl_{i:02d}": float(v) for i, v in enumerate(kl_dims.tolist())}}
