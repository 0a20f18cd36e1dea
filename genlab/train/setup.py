"""A run's configuration made from the user's options: checked against its model, device and
speed settings, then finished once the data and the device are known.

genlab/config.py holds what a configuration is (torch-free, for every reader); this module makes
one for a run that will train, from the models' declarations (genlab.models.catalogue): torch-free
too, so a detached start checks it all before anything is loaded.
"""

from __future__ import annotations

import platform
import socket
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

from genlab.config import Cadence, RunConfig, Speed, check_amp, check_excluded, default
from genlab.core.device import CHOICES
from genlab.errors import UsageError
from genlab.models.catalogue import hyperparameters, spec
from genlab.run.notify import redacted_argv
from genlab.validate import check_seed, positive


def processes_for(processes, batch_size: int) -> int:
    """The ranks to train on; UsageError unless the global batch splits evenly over them."""
    processes = positive("processes (--nproc)", processes, int)
    if batch_size % processes:
        raise UsageError(f"--batch-size {batch_size} is the global batch: it must split evenly over "
                         f"--nproc {processes} processes")
    return processes


def check_tensorboard_dir(path) -> str | None:
    """The live TensorBoard directory, absolute (a detached run starts elsewhere); UsageError if
    TensorBoard is not installed or the path is a file."""
    if path is None:
        return None
    from genlab.export import check_destination, check_tensorboard

    check_tensorboard()
    path = Path(path).expanduser().absolute()
    check_destination(path, "--tensorboard", want_dir=True)
    return str(path)


def make_config(model: str, *, epochs: int | None = None, max_steps: int | None = None,
                max_minutes: float | None = None, batch_size: int | None = None, lr: float | None = None, seed: int | None = None,
                device: str | None = None, hp: dict | None = None, preset: str | None = None,
                compile: bool = False, amp: str | None = None, sweep: str | None = None,
                exclude_digits=None, tensorboard=None, processes: int = 1, sync_bn: bool = True, **cadence) -> RunConfig:
    """Validate the user's options (UsageError on bad input) and fill in defaults: the model's,
    then its ``preset``'s, then ``hp``, ``batch_size`` and ``lr``. ``cadence``: Cadence's fields,
    None for the default."""
    declared = spec(model)
    hp = dict(hp or {})
    if batch_size is not None:
        hp["batch_size"] = batch_size
    if lr is not None:
        hp["lr"] = lr
    hp = hyperparameters(model, hp, preset)
    batch_size = positive("batch size", hp.pop("batch_size"), int)
    lr = positive("learning rate", hp.pop("lr"), float)
    max_steps = positive("max steps", max_steps, int)
    max_minutes = positive("max minutes", max_minutes, float)
    if epochs is None and max_steps is None:
        epochs = default("epochs")
    epochs = positive("epochs", epochs, int)
    device = (device or default("device_requested")).lower()
    if device not in CHOICES and not device.startswith("cuda:"):
        raise UsageError(f"unknown device {device!r}; choose from {', '.join(CHOICES)}")
    unknown = set(cadence) - {f.name for f in fields(Cadence)}
    if unknown:
        raise TypeError(f"make_config() got unknown options {', '.join(sorted(unknown))}")
    cadence_values = {}
    for f in fields(Cadence):
        value = cadence.get(f.name)
        kind = int if isinstance(f.default, int) else float
        value = f.default if value is None else value
        if f.name == "quality_every_steps" and value == 0:  # off: the clock alone
            cadence_values[f.name] = 0
            continue
        cadence_values[f.name] = positive(f.name.replace("_", " "), value, kind)
    return RunConfig(
        model=declared.name, family=declared.family, hp=hp, batch_size=batch_size, lr=lr,
        seed=check_seed("seed", default("seed") if seed is None else seed), epochs=epochs, max_steps=max_steps, max_minutes=max_minutes,
        device_requested=device, preset=preset, sweep=sweep, exclude_digits=check_excluded(exclude_digits),
        tensorboard=check_tensorboard_dir(tensorboard), processes=processes_for(processes, batch_size), sync_bn=bool(sync_bn),
        sample_count=declared.sample_count,
        cadence=Cadence(**cadence_values), speed=Speed(compile=bool(compile), amp=check_amp(amp)),
    )


def finish_config(config: RunConfig, *, run_id: str, device, data: dict, steps_per_epoch: int,
                  versions: dict) -> RunConfig:
    """Add what is known once the device and the data are: totals, provenance, versions."""
    totals = [n for n in (config.epochs and config.epochs * steps_per_epoch, config.max_steps) if n]
    return replace(config, run_id=run_id, device=str(device), data=data, steps_per_epoch=steps_per_epoch,
                   total_steps=min(totals), created=time.time(), host=socket.gethostname(),
                   versions={**versions, "python": platform.python_version()}, argv=redacted_argv(sys.argv))
