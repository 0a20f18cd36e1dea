"""Start, run and resume runs.

``prepare`` validates everything that can fail on bad input (model, numbers, device, data, batch
size) before the run directory exists, so a refused run leaves nothing behind. ``create`` makes
the directory; ``execute`` trains it in this process (foreground, or as the detached worker that
``genlab.launch`` starts), holding the run's lock, and resumes from its newest good checkpoint.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab import checkpoint
from genlab import config as cfg
from genlab.data import Batches, load_digits, load_for_run
from genlab.device import resolve
from genlab.engine import Trainer
from genlab.errors import GenlabError, UsageError
from genlab.lock import RunLock
from genlab.metrics_log import MetricsBinSink
from genlab.sinks import JsonlSink, LineSink, RichSink, StatusSink
from genlab.store import create_run, cut_events, new_run_id, read_json, runs_root
from genlab.validate import new_total, positive


@dataclass
class Prepared:
    config: dict
    digits: object
    device: torch.device
    root: Path


def prepare(model: str, *, data_dir=None, runs_dir=None, name=None, **options) -> Prepared:
    """Everything a run needs, validated; nothing is written yet."""
    config = cfg.make_config(model, **options)
    device = resolve(config["device_requested"])
    digits = load_digits(data_dir, device)
    batches = Batches(len(digits.train_images), config["batch_size"], config["seed"], device)
    root = runs_root(runs_dir)
    run_id = new_run_id(config["model"], name, root)
    config = cfg.finish_config(config, run_id=run_id, device=device, data=digits.describe(),
                               steps_per_epoch=batches.steps_per_epoch)
    return Prepared(config, digits, device, root)


def create(prepared: Prepared) -> Path:
    return create_run(prepared.root, prepared.config["run_id"], prepared.config)


class StopOnSignals:
    """Ctrl-C or SIGTERM asks the trainer to stop at the next step boundary (checkpoint, state
    ``stopped``); a second Ctrl-C aborts at once. Only from the main thread (signal's rule)."""

    def __init__(self, trainer: Trainer, console_note=None):
        self.trainer, self.note, self.saved = trainer, console_note, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self.handle)
        return self

    def handle(self, signum, frame):
        if self.trainer.stop_request and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.trainer.stop_request = "interrupted" if signum == signal.SIGINT else "terminated"
        if self.note and signum == signal.SIGINT:
            self.note("stopping at the next step boundary (checkpoint first); Ctrl-C again to abort now")

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


def execute(run_dir: Path, *, resume: bool = False, lr: float | None = None, epochs: int | None = None,
            max_steps: int | None = None, data_dir=None, device: str | None = None,
            console=None, stream=None, on_divergence: str = "stop") -> str:
    """Train ``run_dir`` in this process until it finishes, stops or fails; returns the state.

    ``console``: a Rich console for a progress bar; else plain lines go to ``stream`` (if any).
    Everything also goes to the run's files: events.jsonl, status.json and log.txt.
    """
    lock = RunLock(run_dir)
    if not lock.acquire():
        holder = (run_dir / "lock").read_text().strip() or "?"
        raise UsageError(f"run {run_dir.name} is live: process {holder} is training it (pause or stop it first)")
    try:
        return _execute(run_dir, resume, lr, epochs, max_steps, data_dir, device, console, stream, on_divergence)
    finally:
        lock.release()


def _execute(run_dir, resume, lr, epochs, max_steps, data_dir, device, console, stream, on_divergence) -> str:
    config = read_json(run_dir / "config.json")
    if not config:
        raise GenlabError(f"{run_dir}: config.json is missing or unreadable")
    notes: list[str] = []

    # ---- what to resume from, and how far to go
    ckpt = None
    if resume:
        def bad(path, error):
            notes.append(f"skipping checkpoint {path.name}: {error}")
            path.rename(path.with_name(path.name + ".corrupt"))

        found = checkpoint.newest_good(run_dir, on_bad=bad)
        if found is None:
            raise GenlabError(f"run {run_dir.name} has no usable checkpoint to resume from")
        path, ckpt = found
        config = ckpt["config"]  # the configuration that produced these weights
        total = new_total(config, epochs, max_steps)
        if total is not None:
            if total <= ckpt["step"]:
                raise UsageError(f"run {run_dir.name} is already at step {ckpt['step']:,}; ask for more than that")
        elif ckpt["step"] >= config["total_steps"]:
            raise UsageError(f"run {run_dir.name} finished at step {ckpt['step']:,}; "
                             "extend it with --epochs or --max-steps")
        if lr is not None:
            positive("learning rate", lr, float)
        notes.insert(0, f"resuming run {run_dir.name} from {path.name} (step {ckpt['step']:,})")
        dropped = cut_events(run_dir, int(ckpt["step"]))
        if dropped:
            notes.append(f"cut {dropped:,} events after step {ckpt['step']:,}")

    dev = resolve(device or config["device"])
    digits = load_for_run(config["data"], dev, data_dir)

    # ---- sinks: files always; a progress bar or plain lines in the foreground
    log = open(run_dir / "log.txt", "a", encoding="utf-8")
    sinks = [JsonlSink(run_dir / "events.jsonl", config["metrics_every_s"]), MetricsBinSink(run_dir),
             StatusSink(run_dir / "status.json", config), LineSink(log, config["log_every_s"], close_stream=True)]
    if console is not None:
        sinks.append(RichSink(console, config))
    elif stream is not None:
        sinks.append(LineSink(stream, config["log_every_s"]))
    c, d = config, config["data"]
    header = (f"run {c['run_id']}: {c['model']} on {dev}, {c['total_steps']:,} steps (batch {c['batch_size']}, "
              f"lr {c['lr']:g}, seed {c['seed']}); data: {d['source']} {d['location']} "
              f"({d['train']:,} train / {d['test']:,} test)")

    def say(line: str) -> None:
        log.write(line + "\n")
        log.flush()
        if console is not None:
            console.print(line, highlight=False)
        elif stream is not None:
            stream.write(line + "\n")
            stream.flush()

    for line in filter(None, [header, d.get("notice"), *notes]):
        say(line)

    trainer = Trainer(run_dir, config, digits, dev, sinks, on_divergence=on_divergence)
    try:
        if ckpt is not None:
            trainer.restore(ckpt)
            for note in notes:
                if note.startswith("skipping"):
                    trainer.warn(note)
            if lr is not None:
                trainer.set_lr(lr)
            total = new_total(config, epochs, max_steps)
            if total is not None:
                trainer.set_total_steps(total)
        with StopOnSignals(trainer, say if (console is not None or stream is not None) else None):
            try:
                return trainer.run()
            except KeyboardInterrupt:
                trainer.set_state("stopped", "aborted by a second Ctrl-C (resumes from the last checkpoint)")
                raise
    except Exception as e:
        trainer.emit("error", message=f"{e.__class__.__name__}: {e}")
        trainer.set_state("failed", f"{e.__class__.__name__}: {e}")
        raise
    finally:
        for sink in sinks:
            sink.close()
