"""The GANs' options of issue 30 (genlab/models/dcgan.py, ema.py, convnets.py): each off by default
and then today's model bit for bit; each, when on, changes what it should and nothing else."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_tui import open_form, until
from torch import nn
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app
from genlab.core import checkpoint
from genlab.errors import UsageError
from genlab.models import dcgan
from genlab.models.convnets import scale
from genlab.run.store import read_events
from genlab.train.execute import create, execute, prepare
from genlab.train.setup import make_config
from tui.app import GenlabApp
from tui.source import RunsSource

TINY = {"width": 8, "batch_size": 16}
OFF = {"ema": 0.0, "sn": 0, "loss": "bce", "r1": 0.0, "r1_every": 1, "d_norm": "batch", "beta2": 0.999, "g_blocks": 0}


def batches(n: int = 4, b: int = 16):
    g = torch.Generator().manual_seed(1)
    return (torch.randint(0, 256, (n, b, 28, 28), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (n, b), generator=g))


def built(name: str, **hp):
    torch.manual_seed(0)
    return models.build(name, {**TINY, **hp})


def tensors(state: dict) -> dict:
    """Every tensor of a model's state (weights, buffers, optimiser moments), by a dotted key."""
    out = {}
    for part in ("models", "optimizers"):
        for net, sd in state[part].items():
            for key, value in (sd.items() if part == "models" else sd["state"].items()):
                for k, v in (value.items() if isinstance(value, dict) else [("", value)]):
                    out[f"{part}.{net}.{key}.{k}"] = v
    return out


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def trained(m, step=None, steps: int = 3, seed: int = 5) -> list[dict]:
    """``steps`` steps of ``m`` (by ``step(m, images, labels)``, else its own) on the same batches
    and the same random stream as any other model given here: their metrics."""
    images, labels = batches(steps)
    torch.manual_seed(seed)
    return [(step or type(m).step)(m, images[i], labels[i]) for i in range(steps)]


def todays_step(m, images, labels):
    """DCGAN.step as it was before the options (main at issue 30): the reference the defaults keep."""
    b = len(images)
    x = scale(images)
    y = labels if m.conditional else None
    fake = m.G(m.noise(b, int(m.hp["latent"])), y)
    ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)
    real_logit, fake_logit = m.D(x, y), m.D(fake.detach(), y)
    d_loss = F.binary_cross_entropy_with_logits(real_logit, ones) + F.binary_cross_entropy_with_logits(fake_logit, zeros)
    m.optimizers["D"].zero_grad(set_to_none=True)
    d_loss.backward()
    m.optimizers["D"].step()
    m.D.requires_grad_(False)
    g_loss = F.binary_cross_entropy_with_logits(m.D(fake, y), ones)
    m.optimizers["G"].zero_grad(set_to_none=True)
    g_loss.backward()
    m.optimizers["G"].step()
    m.D.requires_grad_(True)
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_the_defaults_are_todays_model_bit_for_bit(name):
    """Defaults: today's step, weights, metrics and samples; the options given as off: the same."""
    default, today, off = built(name), built(name), built(name, **OFF)
    got, want, also = trained(default), trained(today, todays_step), trained(off)
    assert all(set(m) == {"d_loss", "g_loss", "d_real", "d_fake", "grad_norm_G", "grad_norm_D"} for m in got)  # no new metric
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for a, b, c in zip(got, want, also) for k in b)
    assert same(tensors(default.state()), tensors(today.state())) and same(tensors(default.state()), tensors(off.state()))
    assert list(default.state()["models"]) == ["G", "D"] and default.averages == {}
    assert torch.equal(default.sample(8), today.sample(8))
    assert isinstance(default.D.features[3], nn.BatchNorm2d)  # dcgan's D keeps its BatchNorm


def test_wgan_gp_defaults_equal_its_options_off_and_it_declares_no_loss_nor_r1():
    default, off = built("wgan-gp"), built("wgan-gp", ema=0.0, sn=0)
    assert all(torch.equal(a[k], b[k]) for a, b in zip(trained(default, steps=2), trained(off, steps=2)) for k in a)
    assert same(tensors(default.state()), tensors(off.state()))
    for hp, word in (({"loss": "hinge"}, "loss"), ({"r1": 10.0}, "r1")):
        with pytest.raises(UsageError, match=f"model 'wgan-gp' has no hyperparameter {word}"):
            models.build("wgan-gp", hp)
    with pytest.raises(UsageError, match="model 'gan' has no hyperparameter ema"):  # the seed's MLP stays as it is
        models.build("gan", {"ema": 0.999})


def test_ema_samples_come_from_the_average_and_a_resume_is_exact():
    images, labels = batches(6)
    m = built("dcgan", ema=0.9)
    start = {k: v.clone() for k, v in m.G.state_dict().items()}
    m.step(images[0], labels[0])
    # after one update the average moved towards G by 1 - min(0.9, 2/11) (the ramp of ema.py)
    w = "project.0.weight"
    expected = start[w] + (m.G.state_dict()[w] - start[w]) * (1 - 2 / 11)
    assert torch.allclose(m.ema.net.state_dict()[w], expected, atol=1e-6)
    assert not torch.equal(m.ema.net.state_dict()[w], m.G.state_dict()[w])
    for i in range(1, 3):
        m.step(images[i], labels[i])

    # its digits are the average's: a plain model holding the average as its G draws the same ones
    state = m.state()
    assert list(state["models"]) == ["G", "D", "G_ema"]
    as_average, as_raw = built("dcgan"), built("dcgan")
    as_average.G.load_state_dict(state["models"]["G_ema"])
    as_raw.G.load_state_dict(state["models"]["G"])
    g = torch.Generator
    assert torch.equal(m.sample(16, g().manual_seed(3)), as_average.sample(16, g().manual_seed(3)))
    assert not torch.equal(m.sample(16, g().manual_seed(3)), as_raw.sample(16, g().manual_seed(3)))
    assert m.G.training and not m.ema.net.training  # sampling left G training, the average in eval mode

    # a checkpoint (saved and read as checkpoint.py does) and its resume: the same weights and average
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    resumed = built("dcgan", ema=0.9)
    resumed.load_state(torch.load(buf, weights_only=True))
    rng = torch.random.get_rng_state()
    for i in range(3, 6):
        m.step(images[i], labels[i])
    torch.random.set_rng_state(rng)
    for i in range(3, 6):
        resumed.step(images[i], labels[i])
    assert same(tensors(m.state()), tensors(resumed.state()))


def test_a_run_with_ema_records_its_options_and_genlab_sample_draws_from_the_average(runs, tmp_path):
    hp = {"width": 4, "ema": 0.5, "sn": 1, "loss": "hinge", "r1": 1.0}
    run_dir = create(prepare("dcgan", runs_dir=runs, name="opts", max_steps=4, batch_size=16, hp=hp, eval_size=100,
                             quality_every_steps=0))
    assert execute(run_dir) == "finished"
    config = json.loads((run_dir / "config.json").read_text())
    assert {k: config["hp"][k] for k in hp} == hp
    ckpt = checkpoint.load(checkpoint.list_checkpoints(run_dir)[-1])
    assert set(ckpt["models"]) == {"G", "D", "G_ema"}
    rows = [e for e in read_events(run_dir / "events.jsonl")[0] if e["kind"] == "metrics"]
    assert len(rows) == 4 and all(r["r1"] >= 0 for r in rows)  # R1's penalty is a metric of the run

    out = tmp_path / "digits.npy"
    r = CliRunner().invoke(app, ["sample", "opts", "-n", "8", "--seed", "2", "--out", str(out), "--runs-dir", str(runs)])
    assert r.exit_code == 0, r.output
    # what `genlab sample` wrote is the average's digits
    average = built("dcgan", width=4, sn=1)
    average.G.load_state_dict(ckpt["models"]["G_ema"])
    assert np.array_equal(np.load(out), average.sample(8, torch.Generator().manual_seed(2)).numpy())


def test_spectral_norm_bounds_each_of_ds_layers_near_1_and_leaves_g_alone():
    images, labels = batches(3)

    def largest_singular_values(m):
        m.D.eval()  # the weight as D uses it, without one more power iteration
        return [float(torch.linalg.matrix_norm(layer.weight.detach().reshape(len(layer.weight), -1), 2))
                for layer in m.D.modules() if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding))]

    for name in ("dcgan", "cgan", "wgan-gp"):
        m, plain = built(name, sn=1), built(name)
        for i in range(3):
            m.step(images[i], labels[i])
            plain.step(images[i], labels[i])
        sigmas = largest_singular_values(m)
        assert len(sigmas) == (4 if name == "cgan" else 3)  # every conv and linear (and cgan's embedding)
        assert all(abs(s - 1) < 0.05 for s in sigmas), (name, sigmas)
        assert not all(abs(s - 1) < 0.05 for s in largest_singular_values(plain))
        assert not any(isinstance(layer, nn.BatchNorm2d) for layer in m.D.modules())
        assert m.parameter_counts()["G"] == plain.parameter_counts()["G"]


def test_hinge_losses_match_their_formula_and_the_step_uses_them(monkeypatch):
    real, fake = torch.tensor([[2.0], [0.5], [-1.0]]), torch.tensor([[-2.0], [0.3], [1.5]])
    # D: mean(relu(1 - real)) + mean(relu(1 + fake)) = (0 + 0.5 + 2) / 3 + (0 + 1.3 + 2.5) / 3
    assert float(dcgan.d_hinge(real, fake)) == pytest.approx(2.5 / 3 + 3.8 / 3)
    assert float(dcgan.g_hinge(fake)) == pytest.approx(-(-2.0 + 0.3 + 1.5) / 3)
    # (the default's, for comparison: the cross-entropies)
    assert float(dcgan.d_bce(real, fake)) == pytest.approx(
        float(F.softplus(-real).mean() + F.softplus(fake).mean()), rel=1e-6)

    seen = []
    d_hinge, g_hinge = dcgan.LOSSES["hinge"]
    monkeypatch.setitem(dcgan.LOSSES, "hinge", (lambda r, f: seen.append((r.detach(), f.detach())) or d_hinge(r, f),
                                                g_hinge))
    images, labels = batches(1)
    metrics = built("dcgan", loss="hinge").step(images[0], labels[0])
    (r, f), = seen
    assert torch.equal(metrics["d_loss"], d_hinge(r, f))


def test_r1_adds_its_penalty_on_real_digits_and_0_leaves_the_loss_as_it_was():
    images, labels = batches(1)
    with_r1, without = built("dcgan", r1=10.0), built("dcgan")
    # the penalty measured on the model as it starts: E |grad_x D(x)|^2 on the real batch
    probe = built("dcgan")
    x = scale(images[0]).requires_grad_(True)
    grad, = torch.autograd.grad(probe.D(x).sum(), x)
    penalty = grad.pow(2).flatten(1).sum(1).mean()

    (a,), (b,) = trained(with_r1, steps=1), trained(without, steps=1)  # the same batch, the same noise
    assert float(a["r1"]) == pytest.approx(float(penalty), rel=1e-5)
    assert float(a["d_loss"] - b["d_loss"]) == pytest.approx(10 / 2 * float(penalty), rel=1e-4)
    assert torch.equal(a["d_real"], b["d_real"]) and torch.equal(a["d_fake"], b["d_fake"])  # the same forward pass
    assert "r1" not in b


def test_lazy_r1_penalises_every_nth_d_step_n_times_as_hard_and_a_resume_keeps_its_rhythm():
    """r1=10, r1_every=2: step 0 is a step with R1 20 (10 x 2 / 2 = 20 / 2), step 1 a step without R1;
    a model loaded from a checkpoint taken after an odd number of steps goes on in the same rhythm."""
    lazy, every_step = built("dcgan", r1=10.0, r1_every=2), built("dcgan", r1=20.0)
    images, labels = batches(3)
    torch.manual_seed(5)
    first = lazy.step(images[0], labels[0])
    torch.manual_seed(5)
    every_step.step(images[0], labels[0])
    assert same(tensors(lazy.state()), tensors(every_step.state()))
    assert "r1" not in first  # (a metric every step or never: the penalty is not measured between its steps)
    every_step.hp["r1"] = 0.0
    torch.manual_seed(6)
    lazy.step(images[1], labels[1])
    torch.manual_seed(6)
    every_step.step(images[1], labels[1])
    assert same(tensors(lazy.state()), tensors(every_step.state()))

    # a resume after step 1: the next step (2) is a penalised one, as in the run that went on
    buffer = io.BytesIO()
    torch.save(lazy.state(), buffer)
    resumed = built("dcgan", r1=10.0, r1_every=2)
    buffer.seek(0)
    resumed.load_state(torch.load(buffer, weights_only=False))
    for m in (lazy, resumed):
        torch.manual_seed(7)
        m.step(images[2], labels[2])
    assert same(tensors(lazy.state()), tensors(resumed.state()))
    unpenalised = built("dcgan")
    unpenalised.load_state(every_step.state())
    torch.manual_seed(7)
    unpenalised.step(images[2], labels[2])
    assert not same(tensors(lazy.state()), tensors(unpenalised.state()))  # step 2 had its penalty


def test_d_norm_none_takes_ds_batchnorm_out_and_beta2_is_adams():
    plain, batch = built("dcgan", d_norm="none"), built("dcgan")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.D.modules())
    assert isinstance(batch.D.features[3], nn.BatchNorm2d)
    assert plain.parameter_counts()["D"] == batch.parameter_counts()["D"] - 2 * 2 * TINY["width"]  # BN's scale, shift
    assert same({k: v for k, v in plain.G.state_dict().items()}, {k: v for k, v in batch.G.state_dict().items()})
    m = built("cgan", beta2=0.99)
    assert all(o.param_groups[0]["betas"] == (0.5, 0.99) for o in m.optimizers.values())
    with pytest.raises(UsageError, match="--hp d_norm for dcgan must be one of batch, none, got 'layer'"):
        built("dcgan", d_norm="layer")


def test_ds_learning_rate_is_its_own_and_every_option_is_checked():
    m = built("dcgan", d_lr_ratio=0.25, lr=4e-4)
    assert m.optimizers["G"].param_groups[0]["lr"] == 4e-4
    assert m.optimizers["D"].param_groups[0]["lr"] == pytest.approx(1e-4)
    config = make_config("cgan", hp={"ema": 0.999, "sn": 1, "loss": "hinge", "r1": 10, "d_lr_ratio": 2})
    assert {k: config.hp[k] for k in ("ema", "sn", "loss", "r1", "d_lr_ratio")} == \
        {"ema": 0.999, "sn": 1, "loss": "hinge", "r1": 10.0, "d_lr_ratio": 2.0}
    assert make_config("dcgan").hp == {"beta1": 0.5, "latent": 100, "width": 64, "d_lr_ratio": 1.0, **OFF, "clusters": 0}
    runner = CliRunner()
    for hp, says in (("loss=wasserstein", "--hp loss for dcgan must be one of bce, hinge, got 'wasserstein'"),
                     ("ema=1", "--hp ema for dcgan must be >= 0 and < 1, got 1"),
                     ("sn=2", "--hp sn for dcgan must be >= 0 and < 2, got 2"),
                     ("r1=-1", "--hp r1 for dcgan must be >= 0, got -1")):
        r = runner.invoke(app, ["train", "dcgan", "--hp", hp, "--max-steps", "1"])
        assert r.exit_code == 2 and says in r.output, r.output
    table = runner.invoke(app, ["models"]).output
    assert "ema=0 sn=0 loss=bce r1=0" in table and "--hp ema: samples from an exponential moving average" in table


async def test_the_new_run_form_takes_each_models_defaults_and_checks_the_options_as_train_does(tmp_path):
    """The cockpit's form checks a hyperparameter as `genlab train --hp` does: the defaults that are
    0 (ema, sn, r1; wgan-gp's beta1, a VAE's kl_warmup) or words (loss=bce) let Start go."""
    app = GenlabApp(RunsSource(tmp_path / "runs"))
    async with app.run_test(size=(100, 40)) as pilot:
        form = await open_form(app, pilot)
        for model, field in (("vae", "#hp-kl_warmup"), ("wgan-gp", "#hp-critic_iters"), ("dcgan", "#hp-loss")):
            form.query_one("#model").value = model
            await until(pilot, lambda: form.query(field))
            await pilot.pause()
            assert form.problems() == [] and not form.query_one("#start").disabled, (model, form.problems())
        for key, value, flagged in (("ema", "1", "ema: --hp ema for dcgan must be >= 0 and < 1, got 1"),
                                    ("ema", "0.999", None),
                                    ("loss", "wasserstein", "loss: --hp loss for dcgan must be one of bce, hinge"),
                                    ("loss", "hinge", None)):
            form.query_one(f"#hp-{key}").value = value
            await pilot.pause()
            assert (flagged in " ".join(form.problems())) if flagged else form.problems() == [], form.problems()
        form.query_one("#epochs").value = "1"
        await pilot.pause()
        options = form.options()[1]
        assert [options[i + 1] for i, o in enumerate(options) if o == "--hp"] == ["ema=0.999", "loss=hinge"]


def test_g_blocks_adds_3x3_convolutions_to_g_at_14x14_and_nothing_to_d():
    plain, deeper = built("cgan"), built("cgan", g_blocks=2)
    convs = [m for m in deeper.G.up if isinstance(m, nn.Conv2d) and not isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == 2 and all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in convs)
    assert not any(isinstance(m, nn.Conv2d) and not isinstance(m, nn.ConvTranspose2d) for m in plain.G.up)
    # each at 14x14: what the first upsampling makes of the 7x7 projection
    seen = []
    for c in convs:
        c.register_forward_hook(lambda net, args, out: seen.append(tuple(out.shape[1:])))
    images = deeper.sample(4)
    assert seen == [(8, 14, 14), (8, 14, 14)] and images.shape == (4, 28, 28)
    assert deeper.parameter_counts()["D"] == plain.parameter_counts()["D"]
    assert deeper.parameter_counts()["G"] - plain.parameter_counts()["G"] == 2 * (8 * 8 * 9 + 8 + 2 * 8)
    assert all(torch.isfinite(m["g_loss"]) for m in trained(deeper))
