"""The signals the health verdicts read (issue 26): gradient norms, a VAE's active units and KL
per dimension, a GAN's diversity; and the knobs that make each failure happen (a GAN's
``d_lr_ratio``, a VAE's ``beta``) or cure it (``kl_warmup``, ``free_bits``), whose defaults
leave training as it was."""

from __future__ import annotations

import pytest
import torch

from genlab import models
from genlab.errors import UsageError
from genlab.eval import quality
from genlab.models.vae import kl_per_dimension, vae_loss
from genlab.run import metrics_log
from genlab.train import execute as train

SMALL = {"width": 16, "channels": 8, "layers": 2, "hidden": 64}  # small networks, where a model has the knob
SIGNALS = {"gan": ("grad_norm_G", "grad_norm_D"), "vae": ("grad_norm_encoder", "grad_norm_decoder", "active_units"),
           "pixelcnn": ("grad_norm",)}
FAMILY = {"gan": "gan", "dcgan": "gan", "wgan-gp": "gan", "cgan": "gan", "vae": "vae", "conv-vae": "vae",
          "pixelcnn": "pixelcnn", "gated-pixelcnn": "pixelcnn"}


def batch(digits, n: int, seed: int = 0):
    idx = torch.randint(0, len(digits.train_images), (n,), generator=torch.Generator().manual_seed(seed))
    return digits.train_images[idx], digits.train_labels[idx]


def norm_of_grads(params) -> float:
    """What clip_grad_norm_ would report, on copies of the gradients (nothing is clipped)."""
    grads = [p.grad.detach().clone() for p in params if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_model_records_its_familys_signals_each_step_and_declares_them(name, digits):
    torch.manual_seed(0)
    m = models.build(name, {k: v for k, v in SMALL.items() if k in models.get(name).defaults})
    metrics = m.step(*batch(digits, 32))
    wanted = SIGNALS[FAMILY[name]]
    assert set(wanted) <= set(metrics), name
    assert all(metrics[k].dim() == 0 and not metrics[k].requires_grad for k in wanted)  # read back in batches
    declared = {metric.name for metric in m.view.metrics}
    assert set(wanted) <= declared, name
    if FAMILY[name] == "gan":  # the evidence that D wins, shown with its verdict (no pane: three fit 200x50)
        assert any("grad_norm_G" in rule.evidence for rule in m.view.health)
    # each norm is the total L2 norm of the network's gradients, as clip_grad_norm_ computes it
    halves = {"G": m.networks.get("G"), "D": m.networks.get("D")}
    if FAMILY[name] == "gan":
        for net in ("G", "D"):
            assert float(metrics[f"grad_norm_{net}"]) == pytest.approx(norm_of_grads(halves[net].parameters()), rel=1e-5)
        assert float(metrics["grad_norm_G"]) > 0 and float(metrics["grad_norm_D"]) > 0
    elif FAMILY[name] == "vae":
        net = m.net
        encoder = [*net.enc.parameters(), *net.mu.parameters(), *net.logvar.parameters()]
        assert float(metrics["grad_norm_encoder"]) == pytest.approx(norm_of_grads(encoder), rel=1e-5)
        assert float(metrics["grad_norm_decoder"]) == pytest.approx(norm_of_grads(net.dec.parameters()), rel=1e-5)
        assert 0 <= float(metrics["active_units"]) <= m.hp["latent"]
    else:
        assert float(metrics["grad_norm"]) == pytest.approx(norm_of_grads(m.net.parameters()), rel=1e-5)


def test_the_seed_gans_hand_step_records_the_autograd_steps_norms(digits):
    """gan_cpu's hand-written gradients give the same norms as autograd's step (without dropout,
    whose masks the two steps draw differently)."""
    images, labels = batch(digits, 64)
    out = {}
    for hand in (True, False):
        torch.manual_seed(0)
        m = models.build("gan")
        for layer in m.D:
            if isinstance(layer, torch.nn.Dropout):
                layer.p = 0.0
        m.hand_step = hand
        out[hand] = m.step(images, labels)
    for k in ("grad_norm_G", "grad_norm_D"):
        assert float(out[True][k]) == pytest.approx(float(out[False][k]), rel=1e-4)


def test_a_trained_run_writes_the_signals_as_metrics(runs, monkeypatch):
    monkeypatch.delenv("GENLAB_DATA_DIR", raising=False)  # the bundled digits
    prepared = train.prepare("vae", max_steps=4, seed=3, batch_size=16, runs_dir=runs, name="signals", device="cpu",
                             hp={"hidden": 64}, eval_size=64, quality_k=2, quality_samples=64)
    run_dir = train.create(prepared)
    assert train.execute(run_dir) == "finished"
    assert {"grad_norm_encoder", "grad_norm_decoder", "active_units"} <= set(metrics_log.columns(run_dir))
    from genlab.run.store import read_events

    events, _ = read_events(run_dir / "events.jsonl")
    held = next(e for e in events if e["kind"] == "eval" and not e.get("quality"))
    assert 0 <= held["test_active_units"] <= 20
    assert [k for k in held if k.startswith("test_kl_")] == [f"test_kl_{i:02d}" for i in range(20)]


def test_a_vaes_held_out_active_units_and_kl_per_dimension(digits):
    torch.manual_seed(0)
    m = models.build("vae", {"hidden": 64, "latent": 8})
    for step in range(30):
        m.step(*batch(digits, 128, step))
    out = m.evaluate(digits.test_images[:300], digits.test_labels[:300])
    per_dim = [out[f"test_kl_{i:02d}"] for i in range(8)]
    assert sum(per_dim) == pytest.approx(out["test_kl"], rel=1e-4)  # the per-dimension KL adds up to the KL
    with torch.no_grad():  # Burda et al.: the posterior mean's variance over the digits, above 0.01
        from genlab.models.base import TEST_BINARIZATION_SEED, binarize
        x = binarize(digits.test_images[:300].reshape(300, 784), torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
        mu, _ = m.net.encode(x)
    assert out["test_active_units"] == float((mu.var(0, correction=0) > 0.01).sum())


def test_a_vae_with_a_heavy_kl_weight_loses_its_active_units_and_the_cures_keep_them(digits):
    """beta raised: the KL term wins and the posterior collapses (no active units, KL near 0);
    free bits keep every dimension's KL above what it leaves unpenalised."""
    def active_after(hp, steps=120):
        torch.manual_seed(0)
        m = models.build("vae", {"hidden": 64, "latent": 8, "lr": 3e-3, **hp})
        for step in range(steps):
            out = m.step(*batch(digits, 128, step))
        return float(out["active_units"]), float(out["kl"])
    healthy, collapsed, freed = active_after({}), active_after({"beta": 20.0}), active_after({"beta": 20.0, "free_bits": 0.5})
    assert healthy[0] >= 4 and collapsed[0] == 0 and collapsed[1] < 0.1, (healthy, collapsed)
    assert freed[0] > collapsed[0]


def test_the_kl_weight_ramps_up_from_zero_over_kl_warmup_steps_counted_by_the_optimiser(digits):
    torch.manual_seed(0)
    m = models.build("vae", {"hidden": 64, "latent": 8, "kl_warmup": 4, "beta": 2.0})
    images, labels = batch(digits, 32)
    x = m.binarize_rows(images)
    logits, mu, logvar = m.net(x)
    recon, kl = (t.mean() for t in vae_loss(logits, x, mu, logvar))
    weights = []
    for _ in range(6):
        weights.append(float(((m.objective(recon, kl, mu, logvar) - recon) / kl).detach()))
        m.step(images, labels)
    assert weights == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.0], abs=2e-3)
    # free bits: each dimension's batch-mean KL counts at least free_bits
    m = models.build("vae", {"hidden": 64, "latent": 8, "free_bits": 0.3})
    assert float((m.objective(recon, kl, mu, logvar) - recon).detach()) == pytest.approx(
        float(kl_per_dimension(mu, logvar).clamp(min=0.3).sum().detach()), rel=1e-4)


def test_default_knobs_give_the_negative_elbo_and_a_gans_d_lr_ratio_scales_ds_learning_rate():
    m = models.build("vae", {"hidden": 64})
    recon, kl = torch.tensor(5.0), torch.tensor(2.0)
    assert m.objective(recon, kl, None, None) is not None and float(m.objective(recon, kl, None, None)) == 7.0
    for name in ("gan", "dcgan", "wgan-gp", "cgan"):
        gan = models.build(name, {"d_lr_ratio": 4.0, **({"width": 8} if name != "gan" else {})})
        lr = gan.hp["lr"]
        assert gan.optimizers["D"].param_groups[0]["lr"] == pytest.approx(4 * lr)
        assert gan.optimizers["G"].param_groups[0]["lr"] == lr
        gan.set_lr(1e-3)  # a resume with --lr keeps D's ratio
        assert gan.optimizers["D"].param_groups[0]["lr"] == pytest.approx(4e-3)
        assert gan.optimizers["G"].param_groups[0]["lr"] == 1e-3
    with pytest.raises(UsageError, match="d_lr_ratio"):
        models.build("gan", {"d_lr_ratio": 0})
    with pytest.raises(UsageError, match="beta"):
        models.build("vae", {"beta": -1})
    with pytest.raises(UsageError, match="kl_warmup"):
        models.build("vae", {"kl_warmup": 1.5})
    assert set(models.get("vae").knobs) == {"beta", "kl_warmup", "free_bits", "k", "layers", "act"} and "d_lr_ratio" in models.get("gan").knobs


def test_diversity_of_generated_digits(digits):
    same = digits.test_images[:1].repeat(100, 1, 1)
    assert quality.diversity(same) == 0.0
    held_out = quality.diversity(digits.test_images[:500])
    ones = quality.diversity(digits.test_images[digits.test_labels == 1][:500])
    assert 0.3 < held_out < 0.4 and ones < held_out
    figures = {"fld": 1.0, "confident": 0.5, "class_hist": [0.1] * 10, "min_class_share": 0.1, "max_class_share": 0.1,
               "diversity": held_out}
    assert models.build("gan").quality_fields(figures)["test_diversity"] == held_out
