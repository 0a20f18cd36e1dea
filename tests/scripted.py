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
             heartbeat: float | None = None) -> Path:
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
        emit({"t": T0 + step * 0.02, "step": step, "kind": "metrics", "epoch": step // 937 + 1, **metrics_at(model, step)})
        if step % 937 == 0:
            tests = {f"test_{k}": v * 1.02 for k, v in metrics_at(model, step).items()}
            emit({"t": T0 + step * 0.02, "step": step, "kind": "eval", "epoch": step // 937, "n": 10000, **tests})
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
              "metrics": {k: round(v, 4) for k, v in metrics_at(model, steps).items()}}
    (run / "status.json").write_text(json.dumps(status))
    return run


def clock() -> float:
    return T0 + 2000 * 0.02 + 1.0
