"""A run's configuration: the one place its defaults live.

:class:`RunConfig` is what a run trains with, frozen; :class:`Cadence` says how often its side
jobs run and :class:`Speed` how its step runs. The CLI's option defaults are read from these
classes, ``config.json`` is written from :meth:`RunConfig.to_json` and read back with
:meth:`RunConfig.from_json`, and a checkpoint holds the same dict. ``hp`` holds the model's own
hyperparameters only; the batch size and learning rate are fields of their own. In the JSON
the cadence's and speed's fields sit at the top, beside the run's (one flat object, easy to
read and to query).

Formats: 2 (this one); 1 (genlab before it, no ``format`` key) also repeated ``batch_size`` and
``lr`` in ``hp``. Both open. This module imports no torch: the cockpit reads configurations too.
"""

from __future__ import annotations

import dataclasses
import platform
import socket
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from genlab.errors import UsageError
from genlab.run.rundir import RunDir
from genlab.validate import check_seed, positive

FORMAT = 2
TRAINING = ("batch_size", "lr")  # declared by each model beside its hyperparameters, kept apart here


@dataclass(frozen=True)
class Cadence:
    """How often the side jobs of training run (seconds are wall-clock)."""

    metrics_every_s: float = 0.5  # buffered metrics written and progress redrawn
    log_every_s: float = 10.0  # plain progress lines (log.txt, output that is not a terminal)
    sample_every_s: float = 10.0  # a sample grid; sampling also kept under 10% of wall time
    checkpoint_every_s: float = 300.0
    keep_checkpoints: int = 3
    eval_size: int = 10_000  # held-out digits evaluated at each epoch's end (at most the test set)
    quality_every_s: float = 30.0  # live quality (GAN FLD and classes, VAE IS-NLL, PixelCNN NLL), under 10% of time
    quality_samples: int = 2_000  # digits generated (GANs) or held-out digits scored (VAEs, PixelCNNs)
    quality_k: int = 100  # importance samples per digit for a VAE's live NLL
    # live quality also every this many steps, exactly (0: by the clock alone): a sweep's
    # trials so report at the same steps, which its pruner compares
    quality_every_steps: int = 0


@dataclass(frozen=True)
class Speed:
    """How a step runs: torch.compile, and mixed precision ("off" or "bf16")."""

    compile: bool = False
    amp: str = "off"


@dataclass(frozen=True)
class RunConfig:
    model: str
    family: str
    hp: dict  # the model's own hyperparameters
    batch_size: int
    lr: float
    seed: int = 0
    epochs: int | None = 5  # None: max_steps alone decides the length
    max_steps: int | None = None
    max_minutes: float | None = None  # a time budget: training time, pauses not counted
    device_requested: str = "auto"
    preset: str | None = None
    sweep: str | None = None  # the sweep this run is a trial of (genlab/sweep.py)
    exclude_digits: tuple = ()  # digits left out of training (anomaly detection); the test set keeps them
    tensorboard: str | None = None  # a directory: TensorBoard event files written live (DIR/<run id>)
    processes: int = 1  # ranks the run trains on (genlab/distributed.py); a resume needs as many
    sync_bn: bool = True  # on several GPUs, BatchNorm over the global batch (SyncBatchNorm)
    sample_count: int = 64  # digits in the fixed-latent grid (the model's own count)
    cadence: Cadence = Cadence()
    speed: Speed = Speed()
    # known once the device and the data are (finish)
    run_id: str = ""
    device: str = "cpu"
    data: dict = field(default_factory=dict)
    steps_per_epoch: int = 0
    total_steps: int = 0
    created: float = 0.0
    host: str = ""
    versions: dict = field(default_factory=dict)
    argv: list = field(default_factory=list)
    format: int = FORMAT

    def model_hp(self) -> dict:
        """What the model is built with: its hyperparameters, batch size and learning rate."""
        return {**self.hp, "batch_size": self.batch_size, "lr": self.lr}

    def to_json(self) -> dict:
        flat = dataclasses.asdict(self)
        for group in ("cadence", "speed"):
            flat.update(flat.pop(group))
        return flat

    @classmethod
    def from_json(cls, raw: dict) -> tuple[RunConfig, list[str]]:
        """A configuration from config.json or a checkpoint (format 1 or 2), and a note for each
        key it does not know (kept out, never a crash). UsageError if it is not one."""
        raw = dict(raw)
        version = raw.pop("format", 1)
        if version not in (1, FORMAT):
            raise UsageError(f"{RunDir.CONFIG} has format {version!r}; this genlab reads formats 1 and {FORMAT}")
        parts = {name: kind(**{f.name: raw.pop(f.name) for f in fields(kind) if f.name in raw})
                 for name, kind in (("cadence", Cadence), ("speed", Speed))}
        if version == 1:  # hp repeated the batch size and learning rate
            hp = dict(raw.get("hp") or {})
            for key in TRAINING:
                value = hp.pop(key, None)
                raw.setdefault(key, value)
            raw["hp"] = hp
        known = {f.name for f in fields(cls)} - set(parts)
        notes = [f"{RunDir.CONFIG}: unknown key {key!r} ignored" for key in raw if key not in known]
        if isinstance(raw.get("exclude_digits"), list):
            raw["exclude_digits"] = tuple(raw["exclude_digits"])
        try:
            config = cls(**{k: v for k, v in raw.items() if k in known}, **parts)
        except TypeError as e:  # a required field missing
            raise UsageError(f"{RunDir.CONFIG} is not a run configuration: {e}") from None
        return config, notes

    def with_lr(self, lr: float) -> RunConfig:
        return replace(self, lr=lr)

    def with_max_minutes(self, minutes: float) -> RunConfig:
        return replace(self, max_minutes=minutes)

    def with_total_steps(self, total: int) -> RunConfig:
        """Longer (or shorter): the length is then ``total`` steps, whatever the epochs said."""
        return replace(self, total_steps=total, max_steps=total, epochs=-(-total // self.steps_per_epoch))


def default(name: str, of: type = RunConfig):
    """The default of a field: what the CLI shows and uses when an option is left out."""
    return next(f.default for f in fields(of) if f.name == name)


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
    from genlab import models
    from genlab.core.device import CHOICES
    from genlab.core.speed import check_amp

    cls = models.get(model)
    hp = dict(hp or {})
    if batch_size is not None:
        hp["batch_size"] = batch_size
    if lr is not None:
        hp["lr"] = lr
    hp = models.hyperparameters(model, hp, preset)
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
        model=cls.name, family=cls.family, hp=hp, batch_size=batch_size, lr=lr,
        seed=check_seed("seed", default("seed") if seed is None else seed), epochs=epochs, max_steps=max_steps, max_minutes=max_minutes,
        device_requested=device, preset=preset, sweep=sweep, exclude_digits=check_excluded(exclude_digits),
        tensorboard=check_tensorboard_dir(tensorboard), processes=processes_for(processes, batch_size), sync_bn=bool(sync_bn),
        sample_count=cls.sample_count,
        cadence=Cadence(**cadence_values), speed=Speed(compile=bool(compile), amp=check_amp(amp)),
    )


def check_excluded(digits) -> tuple:
    """``--exclude-digits``: "9", "1,7" or a list of ints, to a sorted tuple; UsageError for a
    digit outside 0-9 or all ten of them."""
    if digits is None or digits == "" or digits == ():
        return ()
    raw = digits.split(",") if isinstance(digits, str) else list(digits)
    try:
        out = tuple(sorted({int(d) for d in raw}))
    except (TypeError, ValueError):
        raise UsageError(f"--exclude-digits expects digits 0-9 separated by commas, got {digits!r}") from None
    if any(d < 0 or d > 9 for d in out):
        raise UsageError(f"--exclude-digits takes digits 0 to 9, got {', '.join(map(str, out))}")
    if len(out) == 10:
        raise UsageError("--exclude-digits cannot leave out all ten digits: nothing would be left to train on")
    return out


def finish_config(config: RunConfig, *, run_id: str, device, data: dict, steps_per_epoch: int,
                  versions: dict) -> RunConfig:
    """Add what is known once the device and the data are: totals, provenance, versions."""
    totals = [n for n in (config.epochs and config.epochs * steps_per_epoch, config.max_steps) if n]
    return replace(config, run_id=run_id, device=str(device), data=data, steps_per_epoch=steps_per_epoch,
                   total_steps=min(totals), created=time.time(), host=socket.gethostname(),
                   versions={**versions, "python": platform.python_version()}, argv=list(sys.argv))
