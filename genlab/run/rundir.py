"""The run directory's layout: the name of every file in it, and nowhere else (DESIGN.md).

    runs/<run-id>/config.json     resolved configuration (genlab.run.schema.CONFIG)
                  view.json       what the screens draw (genlab.view)
                  status.json     state, pid, host, step, heartbeat (replaced atomically)
                  events.jsonl    one event a line; readers skip a torn last line
                  events.idx      where its non-metric lines start (genlab.run.events_index)
                  metrics.bin     the per-step metrics as float64 rows, named in metrics.json
                  metrics.L06...  min/max/sum/count per 2**L steps, so a long run opens at once
                                  (genlab.run.pyramid; remade from metrics.bin when missing)
                  log.txt         the human-readable log
                  lock            held by the one process that trains the run (genlab.run.lock)
                  samples/        step-XXXXXXXX.png and .npy from the fixed latent
                  checkpoints/    step-XXXXXXXX.pt (+ .sha256)
                  control/        commands to the trainer (genlab.run.control)
                  ranks/          rank-N.json: each rank's own heartbeat (several processes)
                  tags.json       a person's tags and note (genlab.run.tags)
                  latent.npz      a VAE's newest latent map; cas.json: the newest CAS

A :class:`RunDir` names each path; its ``read_*`` methods read config, status and view through
their schemas and never raise. A :class:`SweepDir` does the same for a sweep's directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from genlab.run.files import read_checked

STEP_NAME = re.compile(r"step-(\d{8,})(?=\.|$)")  # samples/ and checkpoints/: step-XXXXXXXX.<suffix>


def step_name(step: int) -> str:
    """The stem of a file saved at ``step``: ``step-00001234``."""
    return f"step-{step:08d}"


def step_of(path) -> int | None:
    """The step a ``step-XXXXXXXX.*`` file was saved at; None for any other name."""
    m = STEP_NAME.match(Path(path).name)
    return int(m.group(1)) if m else None


class RunDir:
    CONFIG = "config.json"
    VIEW = "view.json"
    STATUS = "status.json"
    EVENTS = "events.jsonl"
    EVENTS_INDEX = "events.idx"
    METRICS_BIN = "metrics.bin"
    METRICS_HEADER = "metrics.json"
    LOG = "log.txt"
    LOCK = "lock"
    TAGS = "tags.json"
    TAGS_LOCK = ".tags.lock"
    LATENT = "latent.npz"
    CAS = "cas.json"
    SAMPLES = "samples"
    CHECKPOINTS = "checkpoints"
    CONTROL = "control"
    RANKS = "ranks"
    IN_PLACE = (LOG, EVENTS, METRICS_BIN, LOCK)  # files a trainer appends to or opens in place
    OWN_DIRS = (CONTROL, CHECKPOINTS, SAMPLES)  # directories a trainer writes into

    def __init__(self, path: os.PathLike | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    # ------------------------------------------------------------------ paths

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def view(self) -> Path:
        return self.path / self.VIEW

    @property
    def status(self) -> Path:
        return self.path / self.STATUS

    @property
    def events(self) -> Path:
        return self.path / self.EVENTS

    @property
    def events_index(self) -> Path:
        return self.path / self.EVENTS_INDEX

    @property
    def metrics_bin(self) -> Path:
        return self.path / self.METRICS_BIN

    @property
    def metrics_header(self) -> Path:
        return self.path / self.METRICS_HEADER

    @property
    def log(self) -> Path:
        return self.path / self.LOG

    @property
    def lock(self) -> Path:
        return self.path / self.LOCK

    @property
    def tags(self) -> Path:
        return self.path / self.TAGS

    @property
    def tags_lock(self) -> Path:
        return self.path / self.TAGS_LOCK

    @property
    def latent(self) -> Path:
        return self.path / self.LATENT

    @property
    def cas(self) -> Path:
        return self.path / self.CAS

    @property
    def samples(self) -> Path:
        return self.path / self.SAMPLES

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def control(self) -> Path:
        return self.path / self.CONTROL

    @property
    def ranks(self) -> Path:
        return self.path / self.RANKS

    @staticmethod
    def rank_name(rank: int) -> str:
        return f"rank-{rank}.json"

    def rank_file(self, rank: int) -> Path:
        """``ranks/rank-N.json``: rank N's own heartbeat (genlab.train.distributed.RankBeat)."""
        return self.ranks / self.rank_name(rank)

    def grid_path(self, step: int, suffix: str = ".npy") -> Path:
        """The sample grid saved at ``step``: ``samples/step-XXXXXXXX.npy`` (its picture: ``.png``)."""
        return self.samples / (step_name(step) + suffix)

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / (step_name(step) + ".pt")

    def grids(self) -> list[Path]:
        """The saved sample grids (``.npy``), oldest first; a stray name is not one."""
        return self._stepped(self.samples, ".npy")

    def checkpoint_files(self) -> list[Path]:
        """The checkpoints (``.pt``), oldest first; a stray name is not one."""
        return self._stepped(self.checkpoints, ".pt")

    @staticmethod
    def _stepped(folder: Path, suffix: str) -> list[Path]:
        try:
            names = os.listdir(folder)
        except OSError:
            return []
        found = [(step_of(n), n) for n in names if n.endswith(suffix) and n == step_name(step_of(n) or 0) + suffix]
        return [folder / n for _, n in sorted(found)]

    # ------------------------------------------------------------------ reading, through the schemas

    def read_config(self, to_train: bool = False) -> tuple[dict, str | None]:
        """(config.json's object, None), or ({}, what is wrong with it)."""
        from genlab.run import schema  # (it names these files in its reasons: it imports this module)

        return read_checked(self.config, lambda c: schema.config_problem(c, to_train=to_train))

    def read_status(self) -> tuple[dict, str | None]:
        """(status.json's object, None), or ({}, what is wrong with it)."""
        from genlab.run import schema

        return read_checked(self.status, schema.status_problem)

    def read_view(self, known=None):
        """What the screens draw of this run (genlab.view.read: view.json, else a fallback)."""
        from genlab import view

        return view.read(self.path, known)


class SweepDir:
    """A sweep's directory, beside its trials' run directories (genlab/sweep/: what fills it)."""

    SPEC = "sweep.json"  # what to run, written once
    STUDY = "study.journal"  # Optuna's storage (a file journal: no server; its lock works on NFS)
    TRIALS = "trials.json"  # the trials as the workers last saw them, for readers without Optuna
    WANTED = "wanted.json"  # what the sweep should do: run, pause or stop (the latest intent wins)
    WORKERS = "workers"  # workers/<name>/: a worker's lock (held while it lives) and status.json
    ASK_LOCK = "ask.lock"  # held while a worker asks Optuna for a trial
    LOG = RunDir.LOG  # the workers' plain log

    def __init__(self, path: os.PathLike | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SweepDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def spec(self) -> Path:
        return self.path / self.SPEC

    @property
    def study(self) -> Path:
        return self.path / self.STUDY

    @property
    def trials(self) -> Path:
        return self.path / self.TRIALS

    @property
    def wanted(self) -> Path:
        return self.path / self.WANTED

    @property
    def workers(self) -> Path:
        return self.path / self.WORKERS

    @property
    def ask_lock(self) -> Path:
        return self.path / self.ASK_LOCK

    @property
    def log(self) -> Path:
        return self.path / self.LOG

    def worker_home(self, name: str) -> Path:
        """``workers/<name>/``: one worker's directory (its lock, ``lock``, and its status.json)."""
        return self.workers / name

    def worker_status(self, name: str) -> Path:
        return self.worker_home(name) / RunDir.STATUS

    def is_sweep(self) -> bool:
        return self.spec.is_file()
