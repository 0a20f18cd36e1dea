import pytest
import torch

from genlab import models
from genlab.errors import UsageError

# Small versions where the default is slow on a 2-core CPU; the GAN and VAE run as they ship.
SMALL = {"gan": {}, "vae": {}, "pixelcnn": {"channels": 16, "layers": 2, "batch_size": 32},
         "dcgan": {"width": 16, "batch_size": 32}, "wgan-gp": {"width": 16, "batch_size": 40},
         "cgan": {"width": 16, "batch_size": 32}, "conv-vae": {"hidden": 64, "batch_size": 64},
         "gated-pixelcnn": {"channels": 8, "layers": 2, "batch_size": 32}}
LOSS = {"gan": "d_loss", "vae": "loss", "pixelcnn": "nll", "dcgan": "d_loss", "wgan-gp": "d_loss",
        "cgan": "d_loss", "conv-vae": "loss", "gated-pixelcnn": "nll"}
STEPS = {"wgan-gp": 150}


def test_seed_gan_parameter_counts():
    gan = models.build("gan")
    assert gan.parameter_counts() == {"G": 1_486_352, "D": 1_460_225}
    assert gan.hp == {"batch_size": 64, "lr": 2e-4, "d_lr_ratio": 1.0}
    assert all(o.defaults["lr"] == 2e-4 and o.defaults["betas"] == (0.9, 0.999) for o in gan.optimizers.values())


@pytest.mark.parametrize("name", list(SMALL))
def test_model_trains_and_its_loss_falls(name, digits):
    torch.manual_seed(0)
    m = models.build(name, SMALL[name])
    bs = m.hp["batch_size"]
    g = torch.Generator().manual_seed(0)
    losses = []
    steps = STEPS.get(name, 300)
    for step in range(steps):
        idx = torch.randint(0, len(digits.train_images), (bs,), generator=g)
        metrics = m.train_step(digits.train_images[idx], digits.train_labels[idx])
        assert all(isinstance(v, float) for v in metrics.values())
        losses.append(metrics[LOSS[name]])
    first, last = sum(losses[:30]) / 30, sum(losses[-30:]) / 30
    assert last < 0.8 * first, f"{name}: {LOSS[name]} went from {first:.3f} to {last:.3f}"

    # a fixed latent gives the same digits every time
    a = m.sample(4, torch.Generator().manual_seed(7))
    b = m.sample(4, torch.Generator().manual_seed(7))
    assert a.dtype == torch.uint8 and a.shape == (4, 28, 28)
    assert torch.equal(a, b)
    assert not torch.equal(a, m.sample(4, torch.Generator().manual_seed(8)))

    results = m.evaluate(digits.test_images[:200], digits.test_labels[:200])
    assert results and all(k.startswith("test_") and torch.isfinite(torch.tensor(v)) for k, v in results.items())


def test_vae_reports_recon_and_kl_in_nats_per_image(digits):
    m = models.build("vae")
    r = m.train_step(digits.train_images[:128], digits.train_labels[:128])
    assert r["loss"] == pytest.approx(r["recon"] + r["kl"], rel=1e-5)
    assert 100 < r["recon"] < 784  # an untrained decoder: about ln 2 nats per pixel, at most
    assert r["kl"] >= 0


def test_pixelcnn_bpd_is_nll_over_784_ln2(digits):
    import math

    m = models.build("pixelcnn", {"channels": 8, "layers": 1})
    r = m.train_step(digits.train_images[:16], digits.train_labels[:16])
    assert r["bpd"] == pytest.approx(r["nll"] / (784 * math.log(2)), rel=1e-5)


def test_gated_pixelcnn_is_causal_and_has_no_blind_spot():
    from genlab.models.gated_pixelcnn import GatedPixelCNNNet

    torch.manual_seed(0)
    net = GatedPixelCNNNet(8, 4).eval()
    x = torch.bernoulli(torch.full((1, 1, 28, 28), 0.5))
    base = net(x)
    for i, j in [(0, 0), (5, 5), (14, 10), (14, 0), (10, 27)]:
        y = x.clone()
        y[0, 0, i, j] = 1 - y[0, 0, i, j]
        changed = ((net(y) - base).abs().flatten() > 0).nonzero().flatten()
        assert len(changed) and int(changed[0]) > i * 28 + j  # only later pixels depend on it
    # above and to the right of (14, 14): masked 3x3 convolutions miss this region, the stacks do not
    y = x.clone()
    y[0, 0, 13, 17] = 1 - y[0, 0, 13, 17]
    assert (net(y) - base)[0, 0, 14, 14].abs() > 0


def test_pixelcnn_is_causal():
    """Changing a pixel never changes the logits of itself or of pixels before it in raster order."""
    from genlab.models.pixelcnn import PixelCNNNet

    net = PixelCNNNet(8, 2).eval()
    x = torch.bernoulli(torch.full((1, 1, 28, 28), 0.5))
    base = net(x)
    y = x.clone()
    y[0, 0, 14, 10] = 1 - y[0, 0, 14, 10]
    diff = (net(y) - base).abs().flatten() > 0
    first_changed = int(diff.nonzero()[0])
    assert first_changed > 14 * 28 + 10


def test_every_model_is_registered_with_its_reference_hyperparameters():
    assert set(models.MODELS) == set(SMALL)
    assert models.get("wgan-gp").defaults["critic_iters"] == 5 and models.get("wgan-gp").defaults["penalty"] == 10.0
    assert models.get("dcgan").defaults["beta1"] == 0.5 and models.get("dcgan").defaults["lr"] == 2e-4
    for name, cls in models.MODELS.items():  # each says what it is, and its view names what it emits
        assert cls.name == name and cls.description.strip(), name
        declared = {m.name for m in cls.view.metrics}
        assert cls.view.key in declared, name
        for pane in cls.view.panes:
            assert set(pane.train) | set(pane.held_out) <= declared, (name, pane.title)


def test_cgan_samples_are_rows_of_each_digit():
    torch.manual_seed(0)
    m = models.build("cgan", {"width": 16})
    latent = m.latent(80, torch.Generator().manual_seed(0))
    assert latent[:, -1].tolist() == [d for d in range(10) for _ in range(8)]  # rows 0 to 9
    # the label steers the generator: the same z with another label gives another digit
    relabelled = latent.clone()
    relabelled[:, -1] = (relabelled[:, -1] + 1) % 10
    assert not torch.equal(m.decode(latent), m.decode(relabelled))
    assert torch.equal(m.decode(latent), m.decode(latent.clone()))


def test_cgan_discriminator_judges_digit_and_label_together():
    """Projection D: how much the label moves the logit depends on the image. A one-hot next to
    the features would move every image's logit by the same per-class bias."""
    torch.manual_seed(0)
    D = models.build("cgan", {"width": 16}).D.eval()
    x = torch.randn(2, 1, 28, 28)
    three, seven = torch.full((2,), 3), torch.full((2,), 7)
    shift = (D(x, three) - D(x, seven)).squeeze(1)
    assert not torch.allclose(shift[0], shift[1])


def test_presets_sit_between_defaults_and_explicit_hyperparameters():
    m = models.build("cgan", {"lr": 5e-4}, preset="cpu")
    assert m.hp["width"] == 22 and m.hp["batch_size"] == 64 and m.hp["lr"] == 5e-4
    assert m.hp["beta1"] == models.get("cgan").defaults["beta1"]
    with pytest.raises(UsageError, match="no preset 'gpu'; it has cpu"):
        models.build("dcgan", preset="gpu")
    with pytest.raises(UsageError, match="no preset 'cpu'; it has none"):
        models.build("conv-vae", preset="cpu")
    with pytest.raises(UsageError, match="no preset 'large'; it has cpu, gpu"):
        models.build("vae", preset="large")


def test_conv_models_run_channels_last_on_the_cpu(digits):
    m = models.build("dcgan", {"width": 16, "batch_size": 32})
    conv = m.D.features[2].weight  # (32, 16, 4, 4): the layouts differ
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    m.train_step(digits.train_images[:32], digits.train_labels[:32])  # Adam keeps the same parameters
    assert any(p is conv for p in m.optimizers["D"].param_groups[0]["params"])
    assert models.get("pixelcnn").channels_last is False  # measured slower in NHWC: left alone


def test_unknown_model_and_hyperparameter():
    with pytest.raises(UsageError, match="unknown model 'gna'"):
        models.build("gna")
    with pytest.raises(UsageError, match="no hyperparameter"):
        models.build("vae", {"depth": 3})


def test_state_round_trip(digits):
    a = models.build("vae")
    a.train_step(digits.train_images[:128], digits.train_labels[:128])
    b = models.build("vae")
    b.load_state(a.state())
    for (k, p), (_, q) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert torch.equal(p, q), k
