"""Start, run and resume runs.

``prepare`` validates everything that can fail on bad input (model, numbers, device, data, batch
size) before the run directory exists, so a refused run leaves nothing behind. ``create`` makes
the directory; ``execute`` trains it in this process (foreground, or as the detached worker that
``genlab.run.launch`` starts), holding the run's lock, and resumes from its newest good checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from genlab import models, view
from genlab.config import RunConfig
from genlab.core import checkpoint
from genlab.core.data import load_digits, load_for_run
from genlab.core.device import resolve
from genlab.core.lean import without_dynamo
from genlab.errors import GenlabError, UsageError, os_error_message
from genlab.run.files import atomic_write_json, open_append, read_json
from genlab.run.held import HeldDir, shown
from genlab.run.lock import RunLock
from genlab.run.metrics_log import MetricsBinSink
from genlab.run.notify import FINAL_WAIT_S, Alerts, Notifier
from genlab.run.rundir import RunDir
from genlab.run.sinks import JsonlSink, LineSink, StatusSink, counted
from genlab.run.state import RunState, rank_trouble
from genlab.run.store import check_controllable, cut_events, remove_stale_temps, runs_root
from genlab.train import distributed
from genlab.train.progress import RichSink
from genlab.train.setup import make_config
from genlab.train.start import Planned, finished, make_run_dir
from genlab.validate import new_total, positive

# The engine (and torchvision with it) is imported where a run trains, so that prepare alone stays
# light: `genlab sweep` checks every trial it can make with it before it starts.
if TYPE_CHECKING:
    from genlab.train.trainer import Trainer

# how long a rank whose collective failed looks for the rank that went (a killed rank's sockets
# close before its process is gone: the failure names it rather than gloo's connection error)
RANK_GONE_GRACE_S = 3.0


@dataclass
class Prepared:
    config: RunConfig
    digits: object
    device: torch.device
    root: Path


def prepare(model: str, *, data_dir=None, runs_dir=None, name=None, digits=None, **options) -> Prepared:
    """Everything a run needs, validated; nothing is written yet. ``options``: make_config's.
    ``digits``: the data set already loaded, as they are (a sweep checks every trial it can make
    on one load, genlab/sweep_plan.py); else they are loaded from ``data_dir`` onto the device."""
    config = make_config(model, **options)
    if not config.speed.compile:
        without_dynamo()  # (check_fits builds the model and its optimisers)
    device = resolve(config.device_requested)
    models.check_fits(config.model, config.model_hp(), device)
    digits = (digits if digits is not None else load_digits(data_dir, device)).without(config.exclude_digits)
    planned = finished(config, str(device), digits.describe(), runs_root(runs_dir), name)
    return Prepared(planned.config, digits, device, planned.root)


def create(prepared: Prepared) -> Path:
    """The run directory, with its configuration and its model's view (what screens draw)."""
    return make_run_dir(Planned(prepared.config, prepared.root))


class StopOnSignals:
    """Ctrl-C, SIGTERM or a hang-up asks the trainer to stop at the next step boundary
    (checkpoint, state ``stopped``); a second Ctrl-C aborts at once. A detached run
    (``hangup="ignore"``) ignores hang-ups: it has no terminal to lose. Only from the main
    thread (signal's rule)."""

    REASONS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated",
               signal.SIGHUP: "hung up: the terminal or SSH connection closed"}

    def __init__(self, trainer: Trainer, console_note=None, hangup: str = "stop", on_hangup=None):
        self.trainer, self.note, self.saved = trainer, console_note, {}
        self.hangup, self.on_hangup = hangup, on_hangup

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                handler = signal.SIG_IGN if sig == signal.SIGHUP and self.hangup == "ignore" else self.handle
                self.saved[sig] = signal.signal(sig, handler)
        return self

    def handle(self, signum, frame):
        if self.trainer.stop_request and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.trainer.stop_request = self.REASONS[signum]
        if signum == signal.SIGHUP and self.on_hangup:
            self.on_hangup()  # the terminal is gone: stop writing to it
        elif self.note and signum == signal.SIGINT:
            self.note("stopping at the next step boundary (checkpoint first); Ctrl-C again to abort now")

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


def execute(run_dir: Path, *, resume: bool = False, lr: float | None = None, epochs: int | None = None,
            max_steps: int | None = None, max_minutes: float | None = None, data_dir=None,
            device: str | None = None, console=None, stream=None, on_divergence: str = "stop",
            hangup: str = "stop", notify: Alerts | None = None) -> str:
    """Train ``run_dir`` in this process until it finishes, stops or fails; returns the state.

    ``console``: a Rich console for a progress bar; else plain lines go to ``stream`` (if any).
    Everything also goes to the run's files: events.jsonl, status.json and log.txt. A run
    directory that is a link or another user's is refused; a failure to write (a full disk)
    ends as state ``failed`` with its reason and one GenlabError, temporary files removed.
    ``notify``: where to send messages of what happens to it (genlab/run/notify.py).
    """
    check_controllable(run_dir)
    try:
        held = HeldDir(run_dir)  # every write below goes through this descriptor (genlab/held.py)
    except OSError as e:
        raise UsageError(f"run {shown(run_dir).name}: cannot open its directory ({e.strerror})") from None
    with held:
        return _execute_held(held.root, resume=resume, lr=lr, epochs=epochs, max_steps=max_steps,
                             max_minutes=max_minutes, data_dir=data_dir, device=device, console=console,
                             stream=stream, on_divergence=on_divergence, hangup=hangup, notify=notify)


def _execute_held(run_dir: Path, *, resume, lr, epochs, max_steps, max_minutes, data_dir, device, console, stream,
                  on_divergence, hangup, notify=None) -> str:
    """:func:`execute` in a run directory held open (``run_dir`` is its descriptor's path)."""
    world = distributed.from_env()  # torchrun's ranks, or one process
    if world.distributed and not world.main:  # rank 0 holds the lock and writes the directory
        return _execute_rank(run_dir, world, resume, data_dir, device)
    lock = RunLock(run_dir)
    try:
        acquired = lock.acquire()
    except OSError as e:
        raise GenlabError(f"run {shown(run_dir).name}: cannot open its lock: {e.strerror}") from None
    if not acquired:
        holder = RunDir(run_dir).lock.read_text(errors="replace").strip() or "?"
        raise UsageError(f"run {shown(run_dir).name} is live: process {holder} is training it (pause or stop it first)")
    try:
        remove_stale_temps(run_dir)  # a killed writer's leftovers: nobody else writes while we hold the lock
        return _execute(run_dir, resume, lr, epochs, max_steps, max_minutes, data_dir, device, console, stream,
                        on_divergence, hangup, world, notify)
    except OSError as e:
        remove_stale_temps(run_dir)
        raise GenlabError(os_error_message(e, shown(run_dir))) from None
    finally:
        lock.release()
        distributed.finish(world)


def record_lost_ranks(run_dir: Path, failures: dict[int, tuple[int, int, float]]) -> str | None:
    """After PyTorch's launcher saw ranks fail (``failures``: rank -> (pid, exit code, when)): a
    run that still says it is live, because rank 0 was ended before it could record why (it was
    the rank that died, or the launcher's SIGTERM and SIGKILL found it stuck in a collective), is
    recorded ``failed``, naming the rank that went first. Returns the reason, or None where rank
    0 recorded the end itself or another process holds the run."""
    if not failures:
        return None
    rank, (pid, code, _) = min(failures.items(), key=lambda f: f[1][2])
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return record_failed(run_dir, f"rank {rank} (pid {pid}) {how}; the launcher ended the others",
                         lambda state: RunState.of(state).written_live)


def record_failed_start(run_dir: Path, error: BaseException) -> str | None:
    """A run whose training process failed before its trainer wrote a state (a model too large
    for the device, a torch without CUDA: what a detached start cannot tell without torch) is
    recorded ``failed``, with the error as its reason in status.json and log.txt. Returns the
    reason, or None where the run is past starting or another process holds it."""
    reason = str(error) if isinstance(error, GenlabError) else f"{error.__class__.__name__}: {error}"
    reason = reason.strip().splitlines()[0][:500] if reason.strip() else error.__class__.__name__
    return record_failed(run_dir, reason, lambda state: state == RunState.STARTING, pid=os.getpid())


def record_failed(run_dir: Path, reason: str, still, **status_too) -> str | None:
    """Record the run ``failed`` with ``reason`` (status.json and a line of log.txt), under its
    lock, where its status.json's state is one ``still(state)`` accepts; the reason, or None
    where it is not or another process holds the run."""
    paths = RunDir(run_dir)
    status = read_json(paths.status)
    if not isinstance(status, dict) or not still(status.get("state")):
        return None
    lock = RunLock(run_dir)
    try:
        if not lock.acquire():
            return None
    except OSError:
        return None
    try:
        status.update(state=RunState.FAILED, reason=reason, images_per_s=0.0, updated=time.time(), **status_too)
        atomic_write_json(paths.status, status, durable=False)
        with open_append(paths.log) as log:
            log.write(f"failed: {reason}\n")
        return reason
    finally:
        lock.release()


def _execute_rank(run_dir: Path, world, resume: bool, data_dir, device) -> str:
    """A rank other than 0: the same model, data and decisions as rank 0, nothing written. It
    ignores Ctrl-C, SIGTERM and hang-ups: rank 0 gets them too and stops every rank at the same
    step, with one checkpoint (torchrun's agent ends a rank left behind)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    config = read_config(run_dir)
    dev = distributed.start(world, resolve(device or config.device))
    try:
        step, what = distributed.broadcast(None, world)  # where rank 0 resumes from (-1: the start)
        if what == "finish":
            return RunState.FINISHED  # only rank 0's end is left to do
        ckpt = checkpoint.load(checkpoint.path_for(run_dir, step)) if step >= 0 else None
        if ckpt is not None:
            config = read_config(run_dir, ckpt["config"])
        if not config.speed.compile:
            without_dynamo()
        digits = load_for_run(config.data, dev, data_dir)
        from genlab.train.trainer import Trainer

        trainer = Trainer(run_dir, config, digits, dev, [], on_divergence="stop", world=world)
        if ckpt is not None:
            trainer.restore(ckpt)
        with distributed.RankBeat(run_dir, world, trainer):
            return trainer.run()
    finally:
        distributed.finish(world)


def read_config(run_dir: Path, raw: dict | None = None, notes: list[str] | None = None) -> RunConfig:
    """The run's configuration from config.json (or ``raw``, a checkpoint's), checked; notes
    for keys it does not know. GenlabError if it is not one."""
    if raw is None:
        raw, problem = RunDir(run_dir).read_config(to_train=True)
        if problem:
            raise GenlabError(f"run {shown(run_dir).name}: {problem}")
    try:
        config, unknown = RunConfig.from_json(raw)
    except UsageError as e:
        raise GenlabError(f"run {shown(run_dir).name}: {e}") from None
    if notes is not None:
        notes += unknown
    return config


def resume_point(run_dir: Path, epochs, max_steps, lr, notes: list[str],
                 max_minutes: float | None = None, quarantine: bool = True) -> tuple[RunConfig, dict | None, str]:
    """(the configuration to train, the checkpoint to start from or None, what to do: "train"
    or "finish"). A run with no usable checkpoint starts again from step 0 with its
    config.json; a run killed after its final checkpoint is only finished. A bad checkpoint is
    renamed ``.corrupt`` (unless not ``quarantine``: only a look, by a process without the lock)."""
    def bad(path, error):
        notes.append(f"skipping checkpoint {path.name}: {error}")
        if quarantine:
            path.rename(path.with_name(path.name + ".corrupt"))

    found = checkpoint.newest_good(run_dir, on_bad=bad)
    if found is None:
        raw, problem = RunDir(run_dir).read_config(to_train=True)
        if problem:
            raise GenlabError(f"run {shown(run_dir).name} has no usable checkpoint, and its {problem}")
        config, ckpt, step = read_config(run_dir, raw, notes), None, 0
        notes.insert(0, f"run {shown(run_dir).name} has no checkpoint yet: starting it again from step 0")
    else:
        path, ckpt = found
        step = int(ckpt["step"])
        config = read_config(run_dir, ckpt["config"], notes)  # the configuration that produced these weights
        notes.insert(0, f"resuming run {shown(run_dir).name} from {path.name} (step {step:,})")
    if lr is not None:
        positive("learning rate", lr, float)
    if max_minutes is not None:
        positive("max minutes", max_minutes, float)
        trained = float(ckpt.get("trained_s", 0.0)) if ckpt is not None else 0.0
        if max_minutes * 60 <= trained:
            raise UsageError(f"run {shown(run_dir).name} has trained {trained / 60:.1f} minutes already; ask for more than that")
    elif (config.max_minutes is not None and ckpt is not None
          and float(ckpt.get("trained_s", 0.0)) >= config.max_minutes * 60):
        raise UsageError(f"run {shown(run_dir).name} has spent its time budget ({counted(config.max_minutes, 'minute')}); "
                         "extend it with --max-minutes")
    total = new_total(config.steps_per_epoch, epochs, max_steps)
    if total is not None:
        if total <= step:
            raise UsageError(f"run {shown(run_dir).name} is already at step {step:,}; ask for more than that")
        return config, ckpt, "train"
    if step >= config.total_steps:
        status = read_json(RunDir(run_dir).status)
        if isinstance(status, dict) and status.get("state") == RunState.FINISHED:
            raise UsageError(f"run {shown(run_dir).name} finished at step {step:,}; extend it with --epochs or --max-steps")
        notes.append(f"its final checkpoint (step {step:,}) was written before it ended: finishing it, no training")
        return config, ckpt, "finish"
    return config, ckpt, "train"


def check_resumable(run_dir: Path, epochs=None, max_steps=None, lr=None, max_minutes=None) -> None:
    """What a resume would refuse at its start (a finished run, a length it has passed, a spent
    time budget), refused now with the same UsageError, changing nothing. For a run of several
    processes, before they are launched: a rank 0 that refuses leaves its other ranks waiting."""
    resume_point(run_dir, epochs, max_steps, lr, [], max_minutes, quarantine=False)


def _execute(run_dir, resume, lr, epochs, max_steps, max_minutes, data_dir, device, console, stream,
             on_divergence, hangup, world=distributed.World(), notify: Alerts | None = None) -> str:
    notes: list[str] = []

    # ---- what to resume from, and how far to go
    ckpt, what = None, "train"
    if not resume:
        config = read_config(run_dir, notes=notes)
    else:
        config, ckpt, what = resume_point(run_dir, epochs, max_steps, lr, notes, max_minutes)
        step = int(ckpt["step"]) if ckpt is not None else 0
        dropped = cut_events(run_dir, step)
        if dropped:
            notes.append(f"cut {dropped:,} events after step {step:,}")

    if not config.speed.compile:
        without_dynamo()
    if not resume and not device and config.device_requested == "auto":  # torch's own view of a new run's
        dev = resolve("auto")  # device, which a detached start foresaw without it (genlab.core.device.foreseen)
        if str(dev) != config.device:  # (a driver names a GPU that this torch, built without CUDA, cannot use)
            notes.append(f"training on {dev}, not {config.device}: torch cannot use the GPU the driver names")
            config = replace(config, device=str(dev))
            atomic_write_json(RunDir(run_dir).config, config.to_json())
    else:
        dev = resolve(device or config.device)
    if not resume:  # what a detached start could not tell without torch
        models.check_fits(config.model, config.model_hp(), dev)
    if world.distributed:
        if world.size != config.processes:
            raise UsageError(f"run {shown(run_dir).name} trains on {config.processes} process(es), not {world.size}: "
                             "its steps are those of that many ranks")
        dev = distributed.start(world, dev)  # waits for every rank
        distributed.broadcast((int(ckpt["step"]) if ckpt is not None else -1, what), world)
    digits = load_for_run(config.data, dev, data_dir)
    if not RunDir(run_dir).view.exists():  # a run made before views: its model's, for every screen
        view.write(run_dir, models.get(config.model).view)

    # ---- sinks: files always; a progress bar or plain lines in the foreground
    log = open_append(RunDir(run_dir).log)
    every = config.cadence
    sinks = [JsonlSink(RunDir(run_dir).events, every.metrics_every_s), MetricsBinSink(run_dir),
             StatusSink(RunDir(run_dir).status, config), LineSink(log, every.log_every_s, close_stream=True)]
    terminal = []  # the sinks that write to a terminal, dropped if it hangs up
    if console is not None:
        terminal.append(RichSink(console, config))
    elif stream is not None:
        terminal.append(LineSink(stream, every.log_every_s))
    sinks += terminal
    if config.tensorboard:  # live TensorBoard event files; a resume purges what it trains again
        from genlab.export import TensorBoardSink

        sinks.append(TensorBoardSink(run_dir, Path(config.tensorboard) / config.run_id,
                                     start_step=int(ckpt["step"]) if ckpt is not None else 0))
    c, d = config, config.data
    header = (f"run {c.run_id}: {c.model} on {dev}, {c.total_steps:,} steps (batch {c.batch_size}, "
              f"lr {c.lr:g}, seed {c.seed}); data: {d['source']} {d['location']} "
              f"({d['train']:,} train / {d['test']:,} test)")
    hung_up = []

    def say(line: str) -> None:
        log.write(line + "\n")
        log.flush()
        if hung_up:
            return
        try:
            if console is not None:
                console.print(line, highlight=False)
            elif stream is not None:
                stream.write(line + "\n")
                stream.flush()
        except OSError:
            hung_up.append(True)

    def drop_terminal() -> None:
        hung_up.append(True)
        for sink in terminal:
            sink.detach()

    for line in filter(None, [header, d.get("notice"), *notes, notify and notify.described()]):
        say(line)

    from genlab.train.trainer import Trainer

    trainer = Trainer(run_dir, config, digits, dev, sinks, on_divergence=on_divergence, world=world)
    notifier = None
    try:
        if ckpt is not None:
            trainer.restore(ckpt)
        if resume:  # from a checkpoint, or from step 0 when none is usable: what was skipped, what changes
            for note in notes:
                if note.startswith(("skipping", RunDir.CONFIG)):
                    trainer.warn(note)
            if lr is not None:
                trainer.set_lr(lr)
            total = new_total(config.steps_per_epoch, epochs, max_steps)
            if total is not None:
                trainer.set_total_steps(total)
            if max_minutes is not None:
                trainer.set_max_minutes(max_minutes)
        beat = contextlib.nullcontext()
        if world.distributed:  # every rank's heartbeat, gathered into status.json's "world"
            status_sink = next(sink for sink in sinks if isinstance(sink, StatusSink))
            beat = distributed.RankBeat(run_dir, world, trainer,
                                        on_world=lambda w: status_sink.status.__setitem__("world", w))
        if notify is not None:  # a thread that follows this run as a reader and sends what changes
            notifier = Notifier(run_dir, notify, lambda text: trainer.events.post("warning", message=text)).start()
        with beat, StopOnSignals(trainer, say if terminal else None, hangup=hangup, on_hangup=drop_terminal):
            try:
                return trainer.finish() if what == "finish" else trainer.run()
            except KeyboardInterrupt:
                trainer.set_state(RunState.STOPPED, "aborted by a second Ctrl-C (resumes from the last checkpoint)")
                raise
    except Exception as e:
        reason = os_error_message(e, shown(run_dir)) if isinstance(e, OSError) else f"{e.__class__.__name__}: {e}"
        if world.distributed:  # a collective fails when another rank is gone: name it
            status = next((sink.status for sink in sinks if isinstance(sink, StatusSink)), {})
            gone, deadline = None, time.monotonic() + RANK_GONE_GRACE_S
            while gone is None and time.monotonic() < deadline:  # (a killed rank's sockets close
                gone = rank_trouble(status, time.time(), run_dir=run_dir)  # before its process is gone)
                if gone is None:
                    time.sleep(0.1)
            if gone:
                reason = f"{gone}: {reason}"[:500]
        remove_stale_temps(run_dir)  # frees what a failed write took, so the failure can be recorded
        trainer.record_failure(reason)
        if isinstance(e, OSError):
            raise GenlabError(reason) from None
        raise
    finally:
        if notifier is not None:  # its last look (the run's end) sent; what it could not deliver recorded
            notifier.close(0.5 if sys.exc_info()[0] is KeyboardInterrupt else FINAL_WAIT_S)
            with contextlib.suppress(OSError):
                trainer.events.send_posted()
        for sink in sinks:
            try:
                sink.close()
            except OSError:
                pass
