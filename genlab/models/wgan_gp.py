"""WGAN-GP (Gulrajani et al. 2017): the seed's second remedy, a Wasserstein critic with a gradient
penalty, which keeps gradients alive where a saturated discriminator would give none.

Reference hyperparameters from the paper (Algorithm 1): penalty weight lambda = 10, n_critic = 5
critic iterations per generator step, Adam with lr 1e-4, beta1 0 and beta2 0.9, batch 64; no
BatchNorm in the critic. The DCGAN-shaped networks of genlab.models.convnets.

Of dcgan's options it takes ``ema`` and ``sn``; its loss is the Wasserstein one and its penalty
the paper's, so it declares neither ``loss`` nor ``r1``.
"""

from __future__ import annotations

import torch

from genlab.models.convnets import ConvDiscriminator, scale
from genlab.models.dcgan import DCGAN
from genlab.models.specs import gan as specs


class WGANGP(DCGAN):
    spec = specs.WGAN_GP

    def make_discriminator(self, width: int, classes: int):
        return ConvDiscriminator(width, batchnorm=False, classes=classes, spectral=bool(self.hp["sn"]))

    def step(self, images, labels):
        """n_critic critic updates (each on its own slice of the batch), then one G update.

        One engine step consumes one batch: it is split into ``critic_iters`` slices so that each
        critic iteration sees fresh real digits, as in the paper."""
        n_critic, lam = int(self.hp["critic_iters"]), float(self.hp["penalty"])
        latent = int(self.hp["latent"])
        x_all = scale(images)
        for x in x_all.chunk(n_critic):
            b = len(x)
            fake = self.G(self.noise(b, latent)).detach()
            eps = self.noise(b, 1, 1, 1, draw=torch.rand)
            mix = (eps * x + (1 - eps) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(self.D(mix).sum(), mix, create_graph=True)
            gp = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
            real_score, fake_score = self.D(x).mean(), self.D(fake).mean()
            d_loss = fake_score - real_score + lam * gp
            self.optimizers["D"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["D"].step()

        self.D.requires_grad_(False)
        g_loss = -self.D(self.G(self.noise(len(x_all) // n_critic, latent))).mean()
        self.optimizers["G"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["G"].step()
        self.D.requires_grad_(True)
        self.update_average()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "gp": gp.detach(),
                "wasserstein": (real_score - fake_score).detach(), **self.grad_norms()}  # D's: its last critic step

    @torch.no_grad()
    def evaluate(self, images, labels, interrupt=None):
        """The critic's estimate of the Wasserstein distance on held-out digits."""
        self.train(False)
        g = torch.Generator().manual_seed(1234)
        total = 0.0
        for chunk in images.split(1000):
            z = torch.randn(len(chunk), int(self.hp["latent"]), generator=g).to(self.device)
            total += float(self.D(scale(chunk)).sum() - self.D(self.G(z)).sum())
        self.train(True)
        return {"test_wasserstein": total / len(images)}
