"""Sinks turn the engine's events into files and console output.

Every sink is a :class:`Sink`: ``event(e)`` (one event dict: ``t``, ``step``, ``kind`` and its
fields), ``progress(p)`` (a :class:`Progress` snapshot, at most a few times a second), and
``flush``, ``heartbeat``, ``reopen``, ``write_in_place`` and ``close``, which a sink with nothing
to do for them inherits as no-ops. The run's files are written here; the Rich progress bar for a
terminal is the trainer's (genlab/train/progress.py): this package imports no Rich.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from genlab.run.events_index import IndexWriter
from genlab.run.files import atomic_write_json, open_append
from genlab.run.state import RunState

IMMEDIATE = ("state", "samples", "eval", "checkpoint", "warning", "error")


@dataclass
class Progress:
    step: int
    total_steps: int
    epoch: int  # 1-based: the epoch being trained
    epochs: int
    images_per_s: float
    elapsed_s: float
    eta_s: float | None
    metrics: dict = field(default_factory=dict)
    key_metrics: tuple = ()
    budget_s: float | None = None  # a time budget (--max-minutes): elapsed_s is training time against it


class Sink(Protocol):
    """What the trainer (and genlab.init) sends its events to. Subclass it: the methods a sink
    has nothing to do for are no-ops here."""

    def event(self, e: dict) -> None:
        """One event: ``t``, ``step``, ``kind`` and its fields."""

    def progress(self, p: Progress) -> None:
        """A progress snapshot (at most a few times a second)."""

    def flush(self) -> None:
        """Write out what it buffers (before a checkpoint, so the record is whole up to it)."""

    def heartbeat(self) -> None:
        """The process is alive (while paused or inside a long side job)."""

    def reopen(self) -> None:
        """Its files were rewritten (a rollback cut them): go on writing to the new ones."""

    def write_in_place(self) -> None:
        """The last resort after ``event`` failed for want of disk: write what it can in place."""

    def close(self) -> None:
        """The run ends in this process: write out everything, close files."""


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def counted(n: float, unit: str) -> str:
    """``n`` of ``unit`` in words: "1 minute", "2.5 minutes", "1,000 steps"."""
    shown = f"{n:,}" if isinstance(n, int) else f"{n:g}"
    return f"{shown} {unit}" + ("" if n == 1 else "s")


def progress_text(step: int, total: int, elapsed_s: float | None = None, budget_s: float | None = None,
                  percent: bool = False, words: bool = False) -> str:
    """How far a run is: its steps of their total ("3,333/4,685"; ``words``: "step 3,333/4,685");
    or, when its length is a time budget (``--max-minutes``), its steps and its training time of
    the budget, the only total it will reach ("3,333 steps, 1m05s/2m00s")."""
    if budget_s:
        done = min(1.0, (elapsed_s or 0.0) / budget_s)
        return (f"{counted(step, 'step')}, {fmt_duration(elapsed_s or 0.0)}/{fmt_duration(budget_s)}"
                + (f" {100 * done:3.0f}%" if percent else ""))
    return (("step " if words else "") + f"{step:,}/{total:,}"
            + (f" {100 * step / total:3.0f}%" if percent and total else ""))


def fmt_metrics(metrics: dict, keys) -> str:
    return "  ".join(f"{k} {metrics[k]:.4g}" for k in keys if k in metrics)


def progress_line(p: Progress) -> str:
    return (f"{progress_text(p.step, p.total_steps, p.elapsed_s, p.budget_s, words=True)}  epoch {p.epoch}/{p.epochs}  "
            f"{p.images_per_s:,.0f} img/s  eta {fmt_duration(p.eta_s)}  {fmt_metrics(p.metrics, p.key_metrics)}").rstrip()


def event_line(e: dict) -> str | None:
    """A human line for the events a person wants in a log; None for per-step metrics."""
    kind = e["kind"]
    if kind in ("metrics", "system"):  # per-step rows and vital signs: curves and the status line
        return None
    if kind == "state":
        extra = f" ({e['reason']})" if e.get("reason") else ""
        return f"state {e['state']} at step {e['step']:,}{extra}"
    if kind == "eval":
        vals = "  ".join(f"{k} {v:.4g}" for k, v in e.items() if k.startswith("test_"))
        if e.get("quality"):
            hist = " ".join(f"{h:.0%}" for h in e.get("class_hist") or [])
            scored = "generated digits" if hist else "held-out digits"  # GANs are judged on their own digits
            return (f"quality at step {e['step']:,} ({e.get('n') or 0:,} {scored}): {vals}"
                    + (f"  classes 0-9: {hist}" if hist else ""))
        return f"eval after epoch {e.get('epoch', '?')} (step {e['step']:,}): {vals}"
    if kind == "checkpoint":
        return f"checkpoint {Path(e['path']).name} ({e.get('seconds', 0):.2f}s)"
    if kind == "samples":
        return f"samples {Path(e['png']).name} ({e.get('seconds', 0):.2f}s)"
    if kind in ("warning", "error"):
        return f"{kind}: {e.get('message', '')}"
    return f"{kind} at step {e['step']:,}"


# --------------------------------------------------------------------------- files


class JsonlSink(Sink):
    """Appends events to events.jsonl: metrics in batches, everything else at once."""

    def __init__(self, path: Path, flush_every_s: float = 0.5):
        self.path = path
        self.f = open_append(path)
        self.index = IndexWriter(path.parent, os.fstat(self.f.fileno()).st_size)  # events.idx
        self.buffer: list[str] = []
        self.flush_every_s = flush_every_s
        self.last_flush = time.monotonic()

    def event(self, e: dict) -> None:
        self.buffer.append(json.dumps(e, separators=(",", ":")))
        now = time.monotonic()
        if e["kind"] in IMMEDIATE or now - self.last_flush >= self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.f.write("\n".join(self.buffer) + "\n")
            self.f.flush()
            self.index.written(self.buffer, os.fstat(self.f.fileno()).st_size)
            self.buffer.clear()
        self.last_flush = time.monotonic()

    def progress(self, p: Progress) -> None:
        self.flush()

    def reopen(self) -> None:
        """After events.jsonl was rewritten (a rollback cut it): append to the new file."""
        self.f.close()
        self.index.close()
        self.f = open_append(self.path)
        self.index = IndexWriter(self.path.parent, os.fstat(self.f.fileno()).st_size)

    def close(self) -> None:
        self.flush()
        self.f.close()
        self.index.close()


class StatusSink(Sink):
    """Keeps status.json current: state changes at once, the heartbeat with each progress snapshot."""

    def __init__(self, path: Path, config):
        self.path = path
        self.status = {
            "state": RunState.STARTING, "pid": os.getpid(), "host": socket.gethostname(), "step": 0,
            "total_steps": config.total_steps, "epoch": 1, "epochs": config.epochs,
            "device": config.device, "model": config.model, "started": time.time(),
        }

    def write(self) -> None:
        self.status["heartbeat"] = self.status["updated"] = time.time()
        atomic_write_json(self.path, self.status, durable=False)

    def write_in_place(self) -> None:
        """The last resort when a new file cannot be made (a full disk): overwrite status.json's
        own blocks. Not atomic, so only for recording a failure."""
        self.status["heartbeat"] = self.status["updated"] = time.time()
        fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.status, indent=2) + "\n")

    def event(self, e: dict) -> None:
        if e["kind"] == "state":
            self.status.update(state=e["state"], step=e["step"], reason=e.get("reason"))
            if e["state"] != RunState.RUNNING:
                self.status["images_per_s"] = 0.0
            self.write()
        elif e["kind"] == "system":  # the newest vital signs, written with the next heartbeat
            self.status["system"] = {k: v for k, v in e.items() if k not in ("t", "step", "kind")}
        elif e["kind"] in ("lr", "extend", "rollback"):
            self.status.update(step=e["step"], total_steps=e.get("total_steps", self.status["total_steps"]))
            self.write()

    def heartbeat(self) -> None:
        self.write()

    def progress(self, p: Progress) -> None:
        self.status.update(step=p.step, epoch=p.epoch, epochs=p.epochs, images_per_s=round(p.images_per_s, 1),
                           eta_s=p.eta_s, elapsed_s=round(p.elapsed_s, 1), metrics=p.metrics,
                           budget_s=p.budget_s)
        self.write()

    def close(self) -> None:
        self.write()


class LineSink(Sink):
    """Plain lines: a progress line every ``every_s`` seconds and one per notable event.

    Serves log.txt and standard output when it is not a terminal (nohup, CI logs).
    """

    def __init__(self, stream, every_s: float = 10.0, close_stream: bool = False):
        self.stream, self.every_s, self.close_stream = stream, every_s, close_stream
        self.last: float | None = None  # when a progress line was last written (None: never)
        self.latest: Progress | None = None
        self.written: Progress | None = None  # the last progress line written
        self.detached = False  # the terminal hung up: write nothing more to it

    def write(self, text: str) -> None:
        if self.detached:
            return
        try:
            self.stream.write(time.strftime("%H:%M:%S ") + text + "\n")
            self.stream.flush()
        except OSError:
            if self.close_stream:
                raise  # a file of the run (log.txt): the engine hears of it
            self.detached = True  # a terminal or pipe that went away

    def detach(self) -> None:
        self.detached = True

    def event(self, e: dict) -> None:
        line = event_line(e)
        if line:
            self.write(line)

    def progress(self, p: Progress) -> None:
        self.latest = p
        now = time.monotonic()
        if self.last is None or now - self.last >= self.every_s:  # (the monotonic clock starts near boot)
            self.last = now
            self.written = p
            self.write(progress_line(p))

    def close(self) -> None:
        try:  # the last progress line, unless it is the one written last
            if self.latest and (self.written is None or progress_line(self.written) != progress_line(self.latest)):
                self.write(progress_line(self.latest))
        finally:
            if self.close_stream:
                try:
                    self.stream.close()
                except OSError:
                    pass
