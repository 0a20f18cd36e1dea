"""A run directory has every file DESIGN.md lists, and its checkpoint loads with weights_only."""

import json

import numpy as np
import torch
from conftest import needs_mnist

from genlab.core import checkpoint
from genlab.run.resolve import resolve_run
from genlab.run.store import list_runs, read_events
from genlab.train.execute import create, execute, prepare


def short_run(runs, model="gan", steps=40, **kw):
    p = prepare(model, runs_dir=runs, max_steps=steps, sample_every_s=0.2, metrics_every_s=0.05, **kw)
    run_dir = create(p)
    return run_dir, execute(run_dir)


@needs_mnist
def test_run_directory_is_complete(runs):
    run_dir, state = short_run(runs)
    assert state == "finished"
    for name in ("config.json", "events.jsonl", "status.json", "log.txt", "samples", "checkpoints"):
        assert (run_dir / name).exists(), name

    config = json.loads((run_dir / "config.json").read_text())
    for key in ("model", "hp", "seed", "device", "data", "versions", "total_steps", "batch_size", "lr"):
        assert key in config, key
    assert config["data"]["source"] == "data-dir" and config["versions"]["torch"] == torch.__version__

    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] == 40 and "heartbeat" in status and status["pid"]

    events, _ = read_events(run_dir / "events.jsonl")
    assert all({"t", "step", "kind"} <= set(e) for e in events)
    steps = [e["step"] for e in events if e["kind"] == "metrics"]
    assert steps == list(range(1, 41))  # every step recorded, once, in order
    kinds = {e["kind"] for e in events}
    assert {"state", "metrics", "samples", "eval", "checkpoint"} <= kinds

    # metrics.bin mirrors the metrics rows exactly, for fast opening
    from genlab.run import metrics_log
    cols, rows, n = metrics_log.read(run_dir)
    assert cols[:3] == ["step", "t", "epoch"] and set(cols[3:]) == {"d_loss", "g_loss", "d_real", "d_fake",
                                                                     "grad_norm_G", "grad_norm_D"}
    metric_events = [e for e in events if e["kind"] == "metrics"]
    assert n == 40 and rows[:, 0].tolist() == steps
    assert rows[:, cols.index("g_loss")].tolist() == [e["g_loss"] for e in metric_events]

    npys = sorted((run_dir / "samples").glob("step-*.npy"))
    assert npys and all(p.with_suffix(".png").exists() for p in npys)
    grid = np.load(npys[-1])
    assert grid.dtype == np.uint8 and grid.shape == (64, 28, 28)

    ckpt_path = checkpoint.list_checkpoints(run_dir)[-1]  # step 0's and the last
    ckpt = torch.load(ckpt_path, weights_only=True)
    for key in ("format", "step", "epoch", "config", "models", "optimizers", "rng", "data", "fixed_latent"):
        assert key in ckpt, key
    assert ckpt["step"] == 40 and set(ckpt["models"]) == {"G", "D"}
    assert ckpt["data"]["position"] == 40

    log = (run_dir / "log.txt").read_text()
    assert "state finished" in log and "checkpoint step-00000040.pt" in log


def test_samples_from_the_fixed_latent_are_repeatable(runs):
    a, _ = short_run(runs, "vae", steps=5, name="a")
    b, _ = short_run(runs, "vae", steps=5, name="b")
    ga, gb = (np.load(sorted((d / "samples").glob("*.npy"))[-1]) for d in (a, b))
    assert np.array_equal(ga, gb)  # same seed: same weights, same latent, same digits


def test_checkpoint_checksum_catches_corruption(runs):
    run_dir, _ = short_run(runs, "vae", steps=5)
    first, last = checkpoint.list_checkpoints(run_dir)
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    bad = []
    path, ckpt = checkpoint.newest_good(run_dir, on_bad=lambda p, e: bad.append((p, e)))
    assert path == first and ckpt["step"] == 0
    assert bad[0][0] == last and "checksum mismatch" in bad[0][1]


def test_keeps_the_last_checkpoints(runs):
    p = prepare("vae", runs_dir=runs, max_steps=30, checkpoint_every_s=1e-6, keep_checkpoints=3)
    run_dir = create(p)
    execute(run_dir)
    names = [c.name for c in checkpoint.list_checkpoints(run_dir)]
    assert len(names) == 3 and names[-1] == "step-00000030.pt"


def test_torn_last_line_is_skipped(tmp_path):
    p = tmp_path / "events.jsonl"
    p.write_text('{"t":1,"step":1,"kind":"metrics"}\n{"t":2,"step":2,"ki')
    events, offset = read_events(p)
    assert [e["step"] for e in events] == [1] and offset == len('{"t":1,"step":1,"kind":"metrics"}\n')
    with open(p, "a") as f:
        f.write('nd":"metrics"}\n')
    more, _ = read_events(p, offset)
    assert [e["step"] for e in more] == [2]


def test_resolve_run_by_prefix_and_latest(runs):
    short_run(runs, "vae", steps=2, name="alpha-1")
    short_run(runs, "vae", steps=2, name="beta-1")
    assert resolve_run(runs, "alp").name == "alpha-1"
    assert resolve_run(runs, "latest").name == "beta-1"
    assert [r.run_id for r in list_runs(runs)] == ["alpha-1", "beta-1"]


def test_live_quality_of_gan_samples(runs):
    """GAN runs judge their samples as they train: FLD, class histogram, confident share."""
    from genlab.run.follow import RunFollower

    run_dir, _ = short_run(runs, "gan", steps=60, quality_every_s=1e-6, quality_samples=500)
    events, _ = read_events(run_dir / "events.jsonl")
    quality = [e for e in events if e["kind"] == "eval" and e.get("quality")]
    assert len(quality) >= 2 and quality[-1]["step"] == 60
    q = quality[-1]
    assert q["n"] == 500 and q["test_fld"] > 0 and 0 <= q["test_confident"] <= 1
    assert len(q["class_hist"]) == 10 and abs(sum(q["class_hist"]) - 1) < 1e-3
    view = RunFollower(run_dir).poll()
    assert view.class_hist == q["class_hist"] and view.evals["test_fld"][-1] == (60, q["test_fld"])


def test_live_quality_of_vaes_and_pixelcnns(runs):
    vae_dir, _ = short_run(runs, "vae", steps=40, quality_every_s=1e-6, quality_samples=200, quality_k=20, name="v")
    q = [e for e in read_events(vae_dir / "events.jsonl")[0] if e["kind"] == "eval" and e.get("quality")]
    elbo = [e for e in read_events(vae_dir / "events.jsonl")[0] if e["kind"] == "eval" and not e.get("quality")]
    assert q and q[-1]["k"] == 20 and q[-1]["n"] == 200 and 50 < q[-1]["test_is_nll"] < 600
    assert elbo and elbo[-1]["test_loss"] > 0
    pix_dir, _ = short_run(runs, "pixelcnn", steps=10, quality_every_s=1e-6, quality_samples=100,
                           hp={"channels": 8, "layers": 1}, name="p")
    q = [e for e in read_events(pix_dir / "events.jsonl")[0] if e["kind"] == "eval" and e.get("quality")]
    assert q and q[-1]["n"] == 100 and q[-1]["test_bpd"] > 0
