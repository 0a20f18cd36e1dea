"""Runs out to the tools people already have: TensorBoard event files and a tidy CSV.

A run's record is read as it is on disk (events.jsonl, with metrics.bin for the per-step rows),
so an export is what `genlab show` and the cockpit see: a resumed run has each step once (its
resume cut the record after the checkpoint's step). Scalars are tagged by where they come from
(``train/<metric>``, ``eval/<metric>``, ``system/<measure>``); a TensorBoard export adds the
sample grids as images at their steps and the run's hyperparameters with its final figures as
hparams, so TensorBoard's HParams view compares exported runs. Nothing in a run directory is
changed; a run's export directory is built beside the old one and swapped in whole.

``TensorBoardSink`` writes the same live, from the engine's events (``genlab train --tensorboard``).
TensorBoard is an optional extra: ``pip install 'genlab[tensorboard]'``.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from genlab import view
from genlab.errors import GenlabError, UsageError
from genlab.run import compare, events_index, metrics_log
from genlab.run.files import atomic_write_bytes, read_json, temp_dir
from genlab.run.lineage import history
from genlab.run.rundir import RunDir
from genlab.run.sinks import Sink
from genlab.run.state import RunState
from genlab.run.store import read_events, read_grid

NOT_FIGURES = metrics_log.NOT_METRICS | {"quality", "seconds", "k", "pid", "host"}  # the record's own keys, and what an event says of itself
INSTALL = "pip install 'genlab[tensorboard]'"


@dataclass(frozen=True)
class Scalar:
    step: int
    t: float
    tag: str  # train/<metric>, eval/<metric> or system/<measure>
    value: float


def check_tensorboard() -> None:
    """UsageError, saying how to get it, when TensorBoard is not installed."""
    if importlib.util.find_spec("tensorboard") is None:
        raise UsageError(f"--tensorboard needs TensorBoard, an optional extra: {INSTALL}")


def figures(e: dict, prefix: str) -> Iterator[tuple[str, float]]:
    """An event's numeric figures (not its bookkeeping), tagged."""
    for k, v in e.items():
        if k not in NOT_FIGURES and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            yield f"{prefix}/{k}", float(v)


def other_events(run_dir: Path) -> list[dict]:
    """Every event that is not a per-step metrics row, in order (events.idx when it is good)."""
    path = RunDir(run_dir).events
    size = path.stat().st_size if path.exists() else 0
    indexed = events_index.read(run_dir, size)
    if indexed is not None:
        return indexed[0]
    events, _ = read_events(path)
    return [e for e in events if e["kind"] != "metrics"]


def training_scalars(run_dir: Path) -> Iterator[Scalar]:
    """The per-step metrics, from metrics.bin (the mean of an aggregated row), else events.jsonl;
    a fork's begin with its parent's (genlab/run/lineage.py)."""
    cols, rows, _ = history(run_dir)
    if cols:
        names = metrics_log.metric_names(cols)
        at = {c: i for i, c in enumerate(cols)}
        for row in rows:
            step, t = int(row[at["step"]]), float(row[at["t"]])
            for name in names:
                v = row[at[name]]
                if not np.isnan(v):
                    yield Scalar(step, t, f"train/{name}", float(v))
        return
    events, _ = read_events(RunDir(run_dir).events)
    for e in events:
        if e["kind"] == "metrics":
            for tag, v in figures(e, "train"):
                yield Scalar(int(e["step"]), float(e["t"]), tag, v)


def scalars(run_dir: Path) -> Iterator[Scalar]:
    """Every figure of the run: training metrics, evaluations and quality checks, vital signs."""
    yield from training_scalars(run_dir)
    for e in other_events(run_dir):
        prefix = {"eval": "eval", "system": "system"}.get(e["kind"])
        if prefix:
            for tag, v in figures(e, prefix):
                yield Scalar(int(e["step"]), float(e["t"]), tag, v)


def sample_grids(run_dir: Path) -> Iterator[tuple[int, float, np.ndarray]]:
    """(step, time, uint8 N×28×28) of every saved sample grid that can be read."""
    for e in other_events(run_dir):
        if e["kind"] == "samples" and isinstance(e.get("npy"), str):
            images = read_grid(run_dir / e["npy"])
            if images is not None:
                yield int(e["step"]), float(e["t"]), images


def hparams(run_dir: Path) -> tuple[dict, dict]:
    """(the hyperparameters that may tell runs apart, the run's final figures: its model's
    quality figure and key metric, as TensorBoard's HParams view shows them)."""
    config = read_json(RunDir(run_dir).config)
    hp = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in compare.flat(config).items()}
    shows = view.read(run_dir)
    last: dict = {}
    for s in scalars(run_dir):
        last[s.tag.split("/", 1)[1]] = s.value
    finals = {f"hparam/{name}": last[name] for name in dict.fromkeys((shows.quality, shows.key)) if name and name in last}
    return hp, finals


# --------------------------------------------------------------------------- writing


def check_destination(path: Path, what: str, want_dir: bool) -> None:
    """UsageError unless ``path`` can be written as the user means: a directory (made if missing)
    for ``want_dir``, else a file that is new or a regular file (never a link, FIFO, device or
    directory: replacing one would destroy it or write through it), in a directory that exists."""
    if want_dir:
        if path.exists() and not path.is_dir():
            raise UsageError(f"{what} {path} is a file, not a directory")
    else:
        check_file_target(path, what)
    parent = path if want_dir and path.exists() else path.parent
    if parent.exists() and not os.access(parent, os.W_OK):
        raise UsageError(f"{what} {path}: cannot write there")


def check_file_target(path: Path, what: str) -> None:
    try:
        st = path.lstat()  # lstat: a link is judged as itself, not as what it points at
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise UsageError(f"{what} {path}: there is no directory {path.parent}") from None
        return
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a special file (a FIFO, socket or device)"
        raise UsageError(f"{what} {path} is {kind}, not a regular file: genlab only replaces regular files")


def to_csv(run_dirs: list[Path], out: Path) -> int:
    """One tidy table of every run's figures (run, step, time, metric, value); rows written.
    Built in memory and written as every genlab file is (genlab.run.files.atomic_write_bytes: an exclusive,
    unpredictable temporary name, never through a link), so a planted link is never followed."""
    check_destination(out, "--csv", want_dir=False)
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(["run", "step", "time", "metric", "value"])
    n = 0
    for run_dir in run_dirs:
        for s in scalars(run_dir):
            w.writerow([run_dir.name, s.step, f"{s.t:.3f}", s.tag, repr(s.value)])
            n += 1
    try:
        atomic_write_bytes(out, text.getvalue().encode())
    except FileNotFoundError:  # its directory went away since the check: name the user's path
        raise UsageError(f"--csv {out}: there is no directory {out.parent}") from None
    except OSError as e:  # a full disk, say: one line naming the user's path, not the temporary one
        raise GenlabError(f"cannot write --csv {out}: {e.strerror or e}") from None
    return n


def grid_chw(images: np.ndarray):
    """A sample grid as one CHW uint8 image, eight digits a row (torchvision's make_grid)."""
    import torch

    from genlab.render.grid import grid_rgb

    return torch.from_numpy(np.ascontiguousarray(grid_rgb(images).transpose(2, 0, 1)))


def to_tensorboard(run_dir: Path, out: Path) -> dict:
    """``out/<run id>``: the run's scalars, sample grids and hparams as TensorBoard event files,
    built beside an earlier export and swapped in whole. Counts of what was written."""
    check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    out.mkdir(parents=True, exist_ok=True)
    # the new export and the old one it replaces live in a directory of our own, made exclusively
    # under an unpredictable name (genlab.run.files.temp_dir), so nothing planted beside out/<run id>
    # is written into
    work = temp_dir(out, run_dir.name, mode=0o700)
    final, tmp, old = out / run_dir.name, work / "new", work / "old"
    counts = {"scalars": 0, "images": 0}
    try:
        with SummaryWriter(log_dir=str(tmp)) as w:
            for s in scalars(run_dir):
                w.add_scalar(s.tag, s.value, s.step, walltime=s.t)
                counts["scalars"] += 1
            for step, t, images in sample_grids(run_dir):
                w.add_image("samples", grid_chw(images), step, walltime=t)
                counts["images"] += 1
            hp, finals = hparams(run_dir)
            if finals:
                w.add_hparams(hp, finals, run_name=".")
        if os.path.lexists(final):
            final.rename(old)
        tmp.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return counts


class TensorBoardSink(Sink):
    """The engine's events, live, as TensorBoard event files in ``logdir`` (``--tensorboard``).
    A resumed run's writer purges what the event files hold from its first step on (a process
    killed after its last checkpoint wrote steps the resume trains again), so no step is there
    twice, as in genlab's own record."""

    def __init__(self, run_dir: Path, logdir: Path, start_step: int = 0):
        check_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir = run_dir
        # from step 0 too: a run killed before its first checkpoint starts again from the start
        self.w = SummaryWriter(log_dir=str(logdir), purge_step=start_step + 1, flush_secs=10)

    def event(self, e: dict) -> None:
        kind = e["kind"]
        prefix = {"metrics": "train", "eval": "eval", "system": "system"}.get(kind)
        if prefix:
            for tag, v in figures(e, prefix):
                self.w.add_scalar(tag, v, int(e["step"]), walltime=float(e["t"]))
        elif kind == "samples" and isinstance(e.get("npy"), str):
            images = read_grid(self.run_dir / e["npy"])
            if images is None:
                return
            self.w.add_image("samples", grid_chw(images), int(e["step"]), walltime=float(e["t"]))
        elif kind == "state" and RunState.of(e.get("state")).ended:
            self.w.flush()

    def progress(self, p) -> None:
        pass

    def close(self) -> None:
        try:
            hp, finals = hparams(self.run_dir)
            if finals:
                self.w.add_hparams(hp, finals, run_name=".")
        except (OSError, ValueError):
            pass  # the scalars and images are written; only the HParams entry is missing
        self.w.close()
