"""A run's configuration: the one place its defaults live.

:class:`RunConfig` is what a run trains with, frozen; :class:`Cadence` says how often its side
jobs run and :class:`Speed` how its step runs. The CLI's option defaults are read from these
classes, ``config.json`` is written from :meth:`RunConfig.to_json` and read back with
:meth:`RunConfig.from_json`, and a checkpoint holds the same dict. ``hp`` holds the model's own
hyperparameters only; the batch size and learning rate are fields of their own. In the JSON
the cadence's and speed's fields sit at the top, beside the run's (one flat object, easy to
read and to query).

Formats: 2 (this one); 1 (genlab before it, no ``format`` key) also repeated ``batch_size`` and
``lr`` in ``hp``. Both open. This module imports no torch, no models and no devices (the cockpit
reads configurations too): a configuration is made from the user's options, checked against its
model and device, by genlab/train/setup.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, replace

from genlab.errors import UsageError
from genlab.run.rundir import RunDir

FORMAT = 2
TRAINING = ("batch_size", "lr")  # declared by each model beside its hyperparameters, kept apart here


@dataclass(frozen=True)
class Cadence:
    """How often the side jobs of training run (seconds are wall-clock)."""

    metrics_every_s: float = 0.5  # buffered metrics written and progress redrawn
    log_every_s: float = 10.0  # plain progress lines (log.txt, output that is not a terminal)
    sample_every_s: float = 10.0  # a sample grid; sampling also kept under 10% of wall time
    checkpoint_every_s: float = 300.0
    keep_checkpoints: int = 3  # the newest ones, for resume; and milestones to fork from:
    milestone_every_s: float = 600.0  # one per this much training time, thinned as they age
    milestone_budget_mb: float = 1000.0  # at most this much disk for milestones (genlab/core/retention.py)
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


AMP_CHOICES = ("off", "bf16")


def check_amp(amp: str | None) -> str:
    """``--amp``'s value, lower-cased; a UsageError names the choices."""
    amp = (amp or "off").lower()
    if amp not in AMP_CHOICES:
        raise UsageError(f"unknown --amp {amp!r}; choose from {', '.join(AMP_CHOICES)}")
    return amp


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
    forked_from: dict | None = None  # a fork's parent: {"run": its id, "step": the fork step} (genlab/train/fork.py)
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
