"""The IWAE objective of the VAEs (``--hp k``, genlab/models/vae.py): k = 1 is today's ELBO bit for
bit; k > 1 minimises the importance-weighted bound of Burda et al. (2016), tighter than the ELBO."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app
from genlab.errors import UsageError
from genlab.eval.quality import vae_importance_nll_each
from genlab.models import vae
from genlab.models.base import TEST_BINARIZATION_SEED, binarize
from genlab.models.vae import iwae_loss, vae_loss

SMALL = {"hidden": 64, "latent": 8, "batch_size": 32}


def built(name="vae", **hp):
    torch.manual_seed(0)
    return models.build(name, {**SMALL, **hp})


def trained(m, steps: int = 3, step=None) -> list[dict]:
    """``steps`` steps of ``m`` on the same digits and random stream as any other model here."""
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (steps, 32, 28, 28), dtype=torch.uint8, generator=g)
    torch.manual_seed(5)
    return [(step or type(m).step)(m, images[i], None) for i in range(steps)]


def todays_step(m, images, labels):
    """VAE.step as it was before k (main at issue 30): the negative ELBO, analytic KL, one z a digit."""
    x = m.binarize_rows(images)
    logits, mu, logvar = m.net(x, m.noise(len(images), int(m.hp["latent"])))
    recon, kl = vae_loss(logits, x, mu, logvar)
    loss = recon.mean() + kl.mean()
    m.optimizers["vae"].zero_grad(set_to_none=True)
    loss.backward()
    m.optimizers["vae"].step()
    return {"loss": loss.detach()}


def weights(m) -> dict:
    return {k: v.clone() for k, v in m.net.state_dict().items()}


@pytest.mark.parametrize("name", ["vae", "conv-vae"])
def test_k_1_is_todays_elbo_bit_for_bit(name):
    default, one, today = built(name), built(name, k=1), built(name)
    got, also, want = trained(default), trained(one), trained(today, step=todays_step)
    assert all(torch.equal(a["loss"], c["loss"]) for a, c in zip(got, want))
    assert all(a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a) for a, b in zip(got, also))
    assert "iwae" not in got[0]
    w = weights(default)
    assert all(torch.equal(w[k], weights(one)[k]) and torch.equal(w[k], weights(today)[k]) for k in w)


def test_more_samples_give_a_tighter_bound_than_the_elbo_on_the_same_batch(digits):
    m = built()
    trained(m, steps=20)  # (a network that has learnt a little: its posterior is not the prior)
    g = torch.Generator().manual_seed(2)
    x = binarize(digits.test_images[:64].reshape(64, 784).cpu(), torch.Generator().manual_seed(3))
    with torch.no_grad():
        mu, logvar = m.net.encode(x)
        logits0 = m.net.dec(mu + torch.randn(mu.shape, generator=g) * torch.exp(0.5 * logvar))
        recon, kl = vae_loss(logits0, x, mu, logvar)
        elbo_kl = float(kl.mean())

        def bound(k: int, draws: int) -> float:
            """The mean over ``draws`` draws of the k-sample bound (log-likelihood, nats a digit)."""
            total = 0.0
            for _ in range(draws):
                eps = torch.randn((k, *mu.shape), generator=g)
                z = mu + eps * torch.exp(0.5 * logvar)
                total += -float(iwae_loss(m.net.dec(z.flatten(0, 1)).view(k, len(x), 784), x, z, eps, logvar).mean())
            return total / draws

        one, five, fifty = bound(1, 200), bound(5, 40), bound(50, 4)
        # the ELBO itself (its reconstruction averaged over as many draws): the 1-sample bound's expectation
        eps = torch.randn((200, *mu.shape), generator=g)
        z = mu + eps * torch.exp(0.5 * logvar)
        recon_all = F.binary_cross_entropy_with_logits(m.net.dec(z.flatten(0, 1)).view(200, len(x), 784),
                                                       x.expand(200, -1, -1), reduction="none").sum(-1).mean()
        elbo = -(float(recon_all) + elbo_kl)
    assert one == pytest.approx(elbo, abs=0.5)
    assert elbo < five < fifty and five - elbo > 0.5, (elbo, one, five, fifty)  # (measured: 1.3 and 0.4 nats)


def test_the_iwae_bound_is_the_importance_sampled_nll_of_the_quality_checks():
    """With the same latents, the training bound and `genlab eval`'s importance-sampled NLL are one formula."""
    m = built()
    images = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    measured = vae_importance_nll_each(m, images, k=100, seed=0)
    x = binarize(images.reshape(50, 784), torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
    with torch.no_grad():
        m.net.eval()
        mu, logvar = m.net.encode(x)
        eps = torch.randn((100, *mu.shape), generator=torch.Generator().manual_seed(0))
        z = mu + eps * torch.exp(0.5 * logvar)
        ours = iwae_loss(m.net.dec(z.flatten(0, 1)).view(100, 50, 784), x, z, eps, logvar)
        m.net.train()
    assert torch.allclose(ours.double(), measured, rtol=1e-6)


def test_k_5_trains_on_the_bound_and_reports_the_elbo_beside_it(monkeypatch):
    seen = []
    monkeypatch.setattr(vae, "iwae_loss", lambda *a: seen.append(iwae_loss(*a)) or seen[-1])
    for name in ("vae", "conv-vae"):
        seen.clear()
        m = built(name, k=5)
        before = weights(m)
        metrics, = trained(m, steps=1)
        assert torch.equal(metrics["iwae"], seen[0].mean().detach())  # what it minimised
        assert {"loss", "recon", "kl", "active_units"} <= set(metrics)  # the ELBO's terms, as at k=1
        assert torch.equal(metrics["loss"], metrics["recon"] + metrics["kl"])
        assert any(not torch.equal(before[k], v) for k, v in weights(m).items())
        assert models.build(name, {**SMALL, "k": 5}).hp["k"] == 5


def test_k_is_checked_and_refuses_the_elbos_knobs():
    with pytest.raises(UsageError, match="--hp k for vae must be >= 1, got 0"):
        models.build("vae", {"k": 0})
    with pytest.raises(UsageError, match="--hp k must be an integer, got 2.5"):
        models.build("vae", {"k": 2.5})
    for knob in ("beta=2", "kl_warmup=100", "free_bits=0.5"):
        r = CliRunner().invoke(app, ["train", "vae", "--hp", "k=5", "--hp", knob, "--max-steps", "1"])
        assert r.exit_code == 2 and "--hp k=5 (an IWAE) minimises the importance-weighted bound" in r.output, r.output
        assert knob.split("=")[0] in r.output


# ---- the VAE's network options (--hp layers, act) and its presets (cpu, gpu: Burda et al.'s model)
def pytorch_examples_net(hidden: int, latent: int) -> torch.nn.Module:
    """VAENet as it was before layers and act (main at issue 30): 784 → hidden → latent and back."""
    from torch import nn
    net = vae.GaussianVAE()
    net.enc = nn.Sequential(nn.Linear(784, hidden), nn.ReLU())
    net.mu, net.logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
    net.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784))
    return net


def test_one_relu_layer_is_todays_network_bit_for_bit():
    torch.manual_seed(0)
    want = pytorch_examples_net(64, 8).state_dict()
    for hp in ({}, {"layers": 1, "act": "relu"}):
        got = built(**hp).net.state_dict()
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_burdas_model_has_two_tanh_layers_each_way_and_the_gpu_preset_trains_it_as_an_iwae():
    cpu, gpu = models.build("vae", {}, preset="cpu"), models.build("vae", {}, preset="gpu")
    for m in (cpu, gpu):
        layers = [type(x).__name__ for x in m.net.enc] + ["|"] + [type(x).__name__ for x in m.net.dec]
        assert layers == ["Linear", "Tanh", "Linear", "Tanh", "|", "Linear", "Tanh", "Linear", "Tanh", "Linear"]
        assert [x.out_features for x in m.net.enc if hasattr(x, "out_features")] == [200, 200]
        assert m.net.mu.out_features == 50
        # 784-200-200-(50, 50) and 50-200-200-784, weights and biases
        assert sum(p.numel() for p in m.net.parameters()) == 197_200 + 2 * 10_050 + 10_200 + 40_200 + 157_584
    assert (cpu.hp["k"], cpu.hp["batch_size"]) == (1, 128) and (gpu.hp["k"], gpu.hp["batch_size"]) == (50, 20)
    m = models.build("vae", {**SMALL, "layers": 2, "act": "tanh", "k": 3})
    step = trained(m, steps=2)
    assert torch.isfinite(step[-1]["iwae"]) and step[-1]["active_units"] > 0


def test_the_networks_options_are_checked():
    r = CliRunner().invoke(app, ["train", "vae", "--hp", "act=sigmoid", "--max-steps", "1"])
    assert r.exit_code == 2 and "act" in r.output and "relu" in r.output, r.output
    with pytest.raises(UsageError, match="--hp layers for vae must be >= 1, got 0"):
        models.build("vae", {"layers": 0})
    with pytest.raises(UsageError):
        models.build("pixelcnn", {"act": "tanh"})  # a VAE's option, not a PixelCNN's
