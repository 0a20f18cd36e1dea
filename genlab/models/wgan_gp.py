"""WGAN-GP (Gulrajani et al. 2017): the seed's second remedy, a Wasserstein critic with a gradient
penalty, which keeps gradients alive where a saturated discriminator would give none.

Reference hyperparameters from the paper (Algorithm 1): penalty weight lambda = 10, n_critic = 5
critic iterations per generator step, Adam with lr 1e-4, beta1 0 and beta2 0.9, batch 64; no
BatchNorm in the critic. The DCGAN-shaped networks of genlab.models.convnets.
"""

from __future__ import annotations

import torch

from genlab.health.rules import gradient_explosion, loss_spikes
from genlab.models.convnets import ConvDiscriminator, scale
from genlab.models.dcgan import DCGAN
from genlab.models.gan import FLD_PANE, GAN_METRICS, MODE_COLLAPSE, NO_PROGRESS
from genlab.view import Metric, Pane, View

# ---- a critic neither saturates nor wins as a discriminator does: collapse, stalls, explosions
WGAN_GP_HEALTH = (MODE_COLLAPSE, NO_PROGRESS, loss_spikes("gp", factor=20.0), gradient_explosion("grad_norm_G", "grad_norm_D"))


class WGANGP(DCGAN):
    name = "wgan-gp"
    description = "Wasserstein GAN with gradient penalty (Gulrajani et al. 2017): lambda 10, 5 critic steps"
    defaults = {"batch_size": 64, "lr": 1e-4, "beta1": 0.0, "beta2": 0.9, "latent": 100, "width": 64,
                "critic_iters": 5, "penalty": 10.0, "d_lr_ratio": 1.0}
    view = View(
        metrics=(
            Metric("d_loss", "critic loss: E[D(G(z))] - E[D(x)] plus the penalty", "", None),
            Metric("g_loss", "generator loss: -E[D(G(z))]", "", None),
            Metric("wasserstein", "the critic's Wasserstein estimate E[D(x)] - E[D(G(z))]", "", True),
            Metric("gp", "gradient penalty: lambda (|grad D| - 1)^2 on interpolates", "", True),
            Metric("test_wasserstein", "Wasserstein estimate on held-out digits", "", True),
            *(m for m in GAN_METRICS if m.name in ("grad_norm_G", "grad_norm_D", "test_fld", "test_confident",
                                                   "test_diversity", "min_class_share", "max_class_share")),
        ),
        panes=(Pane("critic and generator losses", ("d_loss", "g_loss")),
               Pane("Wasserstein estimate and gradient penalty", ("wasserstein", "gp"), ("test_wasserstein",)),
               FLD_PANE),
        key="d_loss", quality="test_fld", progress=("d_loss", "g_loss", "gp"),
        class_histogram=("test_fld", "test_confident", "test_diversity"),
        walks=True,
        health=WGAN_GP_HEALTH,
        judged_after_steps=500,
        judged_after_checks=2,
    )
    # found by a TPE search with pruning on a 2-core CPU (bench/results/sweep-wgan-gp-cpu.txt)
    presets = {"cpu": {"batch_size": 64, "lr": 8e-4, "width": 20, "critic_iters": 4}}

    def make_discriminator(self, width: int, classes: int):
        return ConvDiscriminator(width, batchnorm=False, classes=classes)

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
