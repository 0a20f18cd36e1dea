"""Scripted run directories for the cockpit's tests: fixed times, made-up but plausible curves,
real digits (from the bundled sample) as the newest sample grid. Written through genlab's own
sinks, so the files have exactly the format a real run writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from genlab import models
from genlab.core.data import read_bundled
from genlab.run.metrics_log import MetricsBinSink
from genlab.run.sinks import JsonlSink

T0 = 1_795_000_000.0  # a fixed clock for snapshots: 2026-11-18
HOST = "scripted-host"  # not this machine: liveness comes from the heartbeat and the fixed clock

MODELS = {
    "gan": ("gan", {"batch_size": 64, "lr": 2e-4}),
    "vae": ("vae", {"batch_size": 128, "lr": 1e-3, "hidden": 400, "latent": 20}),
    "pixelcnn": ("autoregressive", {"batch_size": 64, "lr": 1e-3, "channels": 32, "layers": 5}),
    "cgan": ("gan", {"batch_size": 64, "lr": 1e-3, "beta1": 0.5, "latent": 100, "width": 16}),
}


def metrics_at(model: str, step: int) -> dict:
    s = step / 100
    if model in ("gan", "cgan"):
        return {"d_loss": 1.2 + 0.2 * math.sin(s), "g_loss": 0.9 + 0.3 * math.cos(s / 2) + (3.0 if step == 777 else 0),
                "d_real": 0.6 + 0.05 * math.sin(s), "d_fake": 0.4 - 0.05 * math.sin(s)}
    if model == "vae":
        recon = 80 + 120 * math.exp(-step / 300)
        kl = 25 - 10 * math.exp(-step / 200)
        return {"loss": recon + kl, "recon": recon, "kl": kl}
    nll = 90 + 100 * math.exp(-step / 250)
    return {"nll": nll, "bpd": nll / (784 * math.log(2))}


def make_run(root: Path, name: str, model: str, steps: int = 2000, total: int = 4685, state: str = "running",
             heartbeat: float | None = None, metrics=None, evals=None, eval_every: int = 937) -> Path:
    """``metrics(step)`` and ``evals(step)``: the training rows and each evaluation's figures,
    every ``eval_every`` steps (default: :func:`metrics_at`'s curves, held-out 2 % above them)."""
    metrics = metrics or (lambda step: metrics_at(model, step))
    evals = evals or (lambda step: {f"test_{k}": v * 1.02 for k, v in metrics_at(model, step).items()})
    family, hp = MODELS[model]
    run = root / name
    (run / "samples").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    config = {"run_id": name, "model": model, "family": family, "hp": hp, "batch_size": hp["batch_size"],
              "lr": hp["lr"], "seed": 0, "epochs": 5, "max_steps": None, "steps_per_epoch": 937,
              "total_steps": total, "device": "cpu", "device_requested": "auto", "sample_count": 64,
              "data": {"source": "data-dir", "location": "/data/mnist", "train": 60000, "test": 10000, "notice": None},
              "created": T0, "host": HOST, "metrics_every_s": 0.5, "log_every_s": 10.0}
    (run / "config.json").write_text(json.dumps(config, indent=2))
    (run / "view.json").write_text(json.dumps(models.get(model).view.to_json()))  # as genlab writes it
    sinks = [JsonlSink(run / "events.jsonl"), MetricsBinSink(run)]

    def emit(e):
        for s in sinks:
            s.event(e)

    emit({"t": T0, "step": 0, "kind": "state", "state": "running"})
    for step in range(1, steps + 1):
        emit({"t": T0 + step * 0.02, "step": step, "kind": "metrics", "epoch": step // 937 + 1, **metrics(step)})
        if step % eval_every == 0:
            emit({"t": T0 + step * 0.02, "step": step, "kind": "eval", "epoch": step // 937, "n": 10000, **evals(step)})
    digits = read_bundled().test_images[:64].numpy()
    np.save(run / "samples" / f"step-{steps:08d}.npy", digits)
    emit({"t": T0 + steps * 0.02, "step": steps, "kind": "samples", "png": f"samples/step-{steps:08d}.png",
          "npy": f"samples/step-{steps:08d}.npy", "n": 64, "seconds": 0.01})
    emit({"t": T0 + steps * 0.02, "step": steps, "kind": "checkpoint", "path": f"checkpoints/step-{steps:08d}.pt", "seconds": 0.1})
    if state != "running":
        emit({"t": T0 + steps * 0.02, "step": steps, "kind": "state", "state": state})
    for s in sinks:
        s.close()
    now = T0 + steps * 0.02
    status = {"state": state, "pid": 999999, "host": HOST, "step": steps, "total_steps": total, "epoch": steps // 937 + 1,
              "epochs": 5, "device": "cpu", "model": model, "started": T0, "heartbeat": heartbeat or now,
              "updated": now, "images_per_s": 3200.0, "eta_s": 190.0, "elapsed_s": steps * 0.02,
              "metrics": {k: round(v, 4) for k, v in metrics(steps).items()}}
    (run / "status.json").write_text(json.dumps(status))
    return run


def clock() -> float:
    return T0 + 2000 * 0.02 + 1.0


# --------------------------------------------------------------------------- training gone wrong
# Histories that fail each way genlab/health's rules name: HISTORIES[name] is (model, steps,
# metrics(step), evals(step), eval_every) for make_run; the run's verdict is ``name`` (tests/test_health.py).


def gan_metrics(step: int, d_real: float = 0.6, d_fake: float = 0.4, g_loss: float | None = None,
                grad_norm_g: float = 1.0, grad_norm_d: float = 1.0, d_loss: float = 1.2) -> dict:
    wobble = 0.02 * math.sin(step / 7)  # batch noise
    return {"d_loss": d_loss + wobble, "g_loss": (0.9 + wobble) if g_loss is None else g_loss,
            "d_real": d_real + wobble, "d_fake": d_fake - wobble, "grad_norm_G": grad_norm_g, "grad_norm_D": grad_norm_d}


def gan_checks(step: int, fld: float | None = None, confident: float = 0.2, top: float = 0.15,
               diversity: float = 0.3) -> dict:
    return {"quality": True, "test_fld": 400 * math.exp(-step / 1500) + 20 if fld is None else fld,
            "test_confident": confident, "max_class_share": top, "min_class_share": 0.05, "test_diversity": diversity}


def vae_metrics(step: int, collapsed_from: int | None = None) -> dict:
    m = metrics_at("vae", step)
    if collapsed_from is not None and step >= collapsed_from:
        m = {**m, "kl": 0.05, "loss": m["recon"] + 0.05}
    return {**m, "active_units": 0 if collapsed_from is not None and step >= collapsed_from else 12,
            "grad_norm_encoder": 5.0, "grad_norm_decoder": 8.0}


HISTORIES = {
    "healthy": ("gan", 2400, gan_metrics, gan_checks, 300),
    "d-wins": ("gan", 2400, lambda s: gan_metrics(s, *(0.995, 0.005) if s > 1000 else (), grad_norm_g=0.01 if s > 1000 else 1.0),
               gan_checks, 300),
    "mode-collapse": ("gan", 2400, gan_metrics,
                      lambda s: gan_checks(s, confident=0.8 if s > 1200 else 0.2, top=0.6 if s > 1200 else 0.15), 300),
    "no-progress": ("gan", 2400, gan_metrics, lambda s: gan_checks(s, fld=300 + (s % 2)), 300),
    "oscillation": ("gan", 3000, lambda s: gan_metrics(s, g_loss=1.5 + 2.0 * math.sin(2 * math.pi * s / 700) if s > 800 else None),
                    gan_checks, 300),
    # not an oscillation: D's loss settling from 3.4 towards 2.1 with slow noise (as a clustered dcgan's early on)
    "settling": ("gan", 3000, lambda s: gan_metrics(s, d_loss=2.1 + 1.3 * math.exp(-max(s - 1000, 0) / 900)
                                                    + 0.15 * math.sin(2 * math.pi * s / 400)), gan_checks, 300),
    # not a spike: a hinge G loss (-E D(G(z))) hovering near 0 with wide batches, as the GAN presets' do
    "hinge-noise": ("gan", 2400, lambda s: gan_metrics(s, g_loss=0.13 + 0.8 * math.sin(1.7 * s)), gan_checks, 300),
    "loss-spike": ("gan", 2400, lambda s: gan_metrics(s, g_loss=12.0 if s == 1550 else None), gan_checks, 300),
    "dead": ("gan", 1500, lambda s: gan_metrics(s, grad_norm_g=0.0 if s > 800 else 1.0, grad_norm_d=0.0 if s > 800 else 1.0),
             gan_checks, 300),
    "exploding-gradients": ("gan", 800, lambda s: gan_metrics(s, grad_norm_d=500.0 if s > 650 else 1.0), gan_checks, 1000),
    "posterior-collapse": ("vae", 1500, lambda s: vae_metrics(s, collapsed_from=700),
                           lambda s: {"test_loss": metrics_at("vae", s)["loss"] * 1.02}, 300),
    "overfitting": ("pixelcnn", 2400, lambda s: {**metrics_at("pixelcnn", s), "grad_norm": 3.0},
                    lambda s: {"test_nll": 100 + abs(s - 1200) / 20}, 300),
    "plateau": ("pixelcnn", 2400, lambda s: {**metrics_at("pixelcnn", s), "grad_norm": 3.0},
                lambda s: {"test_nll": 200 - s / 20 if s < 1200 else 140.0}, 300),
}


def make_history(root: Path, name: str, state: str = "finished") -> Path:
    """A run directory whose history fails the way ``name`` says (see :data:`HISTORIES`)."""
    model, steps, metrics, evals, every = HISTORIES[name]
    return make_run(root, name, model, steps=steps, total=steps, state=state, metrics=metrics, evals=evals,
                    eval_every=every)
