"""A run's configuration: validated from the user's options into one plain dict (config.json)."""

from __future__ import annotations

import platform
import socket
import sys
import time

import torch

import genlab
from genlab import models
from genlab.device import CHOICES
from genlab.errors import UsageError
from genlab.speed import check_amp
from genlab.validate import positive

DEFAULTS = {
    "epochs": 5,
    "seed": 0,
    "device": "auto",
    "metrics_every_s": 0.5,  # how often buffered metrics are written and progress redrawn
    "log_every_s": 10.0,  # plain progress lines (log.txt, non-terminal output)
    "sample_every_s": 10.0,  # sample grid cadence; sampling also kept under 10% of wall time
    "checkpoint_every_s": 300.0,
    "keep_checkpoints": 3,
    "eval_size": 10_000,  # held-out digits evaluated at each epoch's end (at most the test set)
    "quality_every_s": 30.0,  # live quality (GAN FLD and classes, VAE IS-NLL, PixelCNN NLL), under 10% of time
    "quality_samples": 2_000,  # digits generated (GANs) or held-out digits scored (VAEs, PixelCNNs)
    "quality_k": 100,  # importance samples per digit for a VAE's live NLL
}


def parse_hp(pairs: list[str] | None) -> dict:
    """``KEY=VALUE`` strings to a dict, with int/float values where they parse."""
    out = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--hp expects KEY=VALUE, got {pair!r}")
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        else:
            value = raw
        out[key.strip()] = value
    return out


def make_config(model: str, *, epochs: int | None = None, max_steps: int | None = None,
                batch_size: int | None = None, lr: float | None = None, seed: int | None = None,
                device: str | None = None, hp: dict | None = None, preset: str | None = None,
                compile: bool = False, amp: str | None = None, **cadence) -> dict:
    """Validate the user's options (UsageError on bad input) and fill in defaults: the model's,
    then its ``preset``'s, then ``hp``, ``batch_size`` and ``lr``."""
    cls = models.get(model)
    hp = dict(hp or {})
    if batch_size is not None:
        hp["batch_size"] = batch_size
    if lr is not None:
        hp["lr"] = lr
    hp = models.hyperparameters(model, hp, preset)
    hp["batch_size"] = positive("batch size", hp["batch_size"], int)
    hp["lr"] = positive("learning rate", hp["lr"], float)
    max_steps = positive("max steps", max_steps, int)
    if epochs is None and max_steps is None:
        epochs = DEFAULTS["epochs"]
    epochs = positive("epochs", epochs, int)  # None: --max-steps alone decides the length
    device = (device or DEFAULTS["device"]).lower()
    if device not in CHOICES and not device.startswith("cuda:"):
        raise UsageError(f"unknown device {device!r}; choose from {', '.join(CHOICES)}")
    amp = check_amp(amp)
    config = {
        "model": cls.name,
        "family": cls.family,
        "preset": preset,
        "hp": hp,
        "batch_size": hp["batch_size"],
        "lr": hp["lr"],
        "seed": DEFAULTS["seed"] if seed is None else int(seed),
        "epochs": epochs,
        "max_steps": max_steps,
        "device_requested": device,
        "compile": bool(compile),
        "amp": amp,
        "sample_count": cls.sample_count,
    }
    for key in ("metrics_every_s", "log_every_s", "sample_every_s", "checkpoint_every_s", "keep_checkpoints",
                "eval_size", "quality_every_s", "quality_samples", "quality_k"):
        value = cadence.get(key)
        value = DEFAULTS[key] if value is None else value
        kind = int if key in ("keep_checkpoints", "eval_size", "quality_samples", "quality_k") else float
        config[key] = positive(key.replace("_", " "), value, kind)
    return config


def finish_config(config: dict, *, run_id: str, device: torch.device, data: dict, steps_per_epoch: int) -> dict:
    """Add what is known once the device and the data are: totals, provenance, versions."""
    totals = [n for n in (config["epochs"] and config["epochs"] * steps_per_epoch, config["max_steps"]) if n]
    total = min(totals)
    return {
        **config,
        "run_id": run_id,
        "device": str(device),
        "data": data,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": total,
        "created": time.time(),
        "host": socket.gethostname(),
        "versions": {"genlab": genlab.__version__, "torch": str(torch.__version__),
                     "python": platform.python_version()},
        "argv": sys.argv,
    }
