"""Your own training loop, watched by genlab: a run directory from any script.

    import genlab

    run = genlab.init(name="mlp-gan", config={"lr": 2e-4, "batch_size": 64}, family="gan")
    for step in range(1, steps + 1):
        ...                                               # your step
        run.log({"d_loss": d_loss, "g_loss": g_loss}, step=step)
        if step % 500 == 0:
            run.log_images(fake_digits, step=step)        # uint8 N×28×28 (or floats in [0, 1])
        run.wait_if_paused()                              # the cockpit's p, genlab pause
        if run.should_stop():                             # the cockpit's s, genlab stop
            break
    run.finish()

The calls are shaped like W&B's and Trackio's (``init``, ``log``, ``finish``). The run is an
ordinary genlab run directory (config.json, status.json with a heartbeat, events.jsonl,
metrics.bin, samples/), so ``genlab runs``, ``show``, ``compare``, ``export`` and the cockpit
treat it like any other; figures whose names start with ``test_`` are held-out figures (drawn as
points over the curves). A figure is a number or a one-element tensor; a name the record uses
itself (``t``, ``step``, ``kind``, ``epoch``, ``first_step``, ``n``, ``min``, ``max``) is refused
(UsageError); a NaN or infinite value is not recorded, and the first of each figure is told as
a ``warning`` event. ``log`` costs the loop little: rows are buffered and written in batches
as genlab's own trainer writes them (bench/api_cost.py measures it). Control is cooperative:
genlab asks, the script decides when to pause or stop; a script that never asks is never
paused. There are no checkpoints: resuming is the script's business. ``notify`` (Apprise URLs)
and ``notify_when`` (thresholds such as ``"test_acc>0.9"``) send messages as ``genlab train
--notify`` does: its end, a change of verdict, a figure crossing a threshold
(genlab/run/notify.py).
"""

from __future__ import annotations

import io
import math
import queue
import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from genlab import __version__, view
from genlab.errors import UsageError
from genlab.render.grid import grid_png
from genlab.run.control import Inbox
from genlab.run.files import atomic_write_bytes, open_append
from genlab.run.held import HeldDir
from genlab.run.lock import RunLock
from genlab.run.metrics_log import NOT_METRICS, MetricsBinSink
from genlab.run.notify import Alerts, Notifier
from genlab.run.rundir import RunDir
from genlab.run.sinks import JsonlSink, LineSink, StatusSink
from genlab.run.state import RunState
from genlab.run.store import create_run, new_run_id, runs_root
from genlab.train.cadence import VITALS_EVERY_S
from genlab.train.vitals import Vitals

FLUSH_S = 0.5  # metric rows are written at most this often (and at every other event)
BEAT_S = 1.0  # status.json: the step and the heartbeat
POLL_S = 0.1  # the control channel


def init(name: str | None = None, config: dict | None = None, *, family: str = "custom",
         model: str | None = None, total_steps: int | None = None, panes: dict | None = None,
         runs_dir=None, notify: str | list[str] | None = None, notify_when: str | list[str] | None = None) -> Run:
    """Start a run: its directory in the runs root (``runs_dir``, else $GENLAB_RUNS_DIR, else
    ./runs), its configuration recorded. ``name`` is its id (else a time stamp); ``model`` the
    name `genlab runs` shows (default: ``name`` or "script"); ``family`` one of gan, vae,
    autoregressive or your own word; ``total_steps`` for the progress bar, if known.
    ``panes``: the cockpit's curve panes, title to metric names (``{"G and D losses":
    ["d_loss", "g_loss"]}``; each pane also draws the ``test_`` figures of its metrics; the first
    metric is the key one); without it, a pane for each of the first three metrics logged.
    ``notify``: Apprise URLs (one or a list) told when the run ends, fails or changes verdict;
    ``notify_when``: thresholds that also send a message, e.g. ``"loss<0.1"`` (UsageError if
    either is not one)."""
    alerts = Alerts.parse([notify] if isinstance(notify, str) else notify,
                          [notify_when] if isinstance(notify_when, str) else notify_when)
    config = dict(config or {})
    for key, value in config.items():
        if not isinstance(key, str):
            raise UsageError(f"config keys are strings, got {key!r}")
    model = model or name or "script"
    root = runs_root(runs_dir)
    run_id = new_run_id(model, name, root)
    hp = {k: v for k, v in config.items() if k not in ("batch_size", "lr", "seed")}
    record = {
        "model": model, "family": family, "run_id": run_id, "hp": _plain(hp), "created": time.time(),
        "total_steps": int(total_steps or 0), "steps_per_epoch": 0, "epochs": None,
        "device": str(config.get("device", "")), "host": socket.gethostname(), "source": "script",
        "argv": list(sys.argv), "versions": {"genlab": __version__},
        **{k: config[k] for k in ("batch_size", "lr", "seed") if isinstance(config.get(k), (int, float))},
    }
    files = {}
    if panes:
        files[RunDir.VIEW] = declared_view(panes).to_json()
    return Run(create_run(root, run_id, record, files), record, alerts)


def declared_view(panes: dict) -> view.View:
    """What the script's ``panes`` declare, as a model's view."""
    if not isinstance(panes, dict) or not all(isinstance(v, (list, tuple)) and v for v in panes.values()):
        raise UsageError("panes maps a title to a list of metric names: {'losses': ['d_loss', 'g_loss']}")
    names = list(dict.fromkeys(str(n) for ns in panes.values() for n in ns))
    metrics = [view.Metric(n, n, lower_is_better=None) for n in names]
    metrics += [view.Metric(f"test_{n}", f"{n} on held-out data", lower_is_better=None) for n in names]
    return view.View(metrics=tuple(metrics), key=names[0],
                     panes=tuple(view.Pane(str(t), tuple(map(str, ns)), tuple(f"test_{n}" for n in ns))
                                 for t, ns in panes.items()))


def _plain(value):
    """A configuration as JSON can hold it (anything else as its text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _figure(name, value) -> float:
    """One figure given to ``run.log``, checked: its name a string that is none of a metrics row's
    own fields (``t``, ``step``, ``kind``, ``epoch``, an aggregated row's ``first_step``, ``n``,
    ``min``, ``max``: a figure so named would corrupt the record) and no metrics.bin column of
    extremes (``min:...``, ``max:...``); its value a number (UsageError, naming the key)."""
    if not isinstance(name, str):
        raise UsageError(f"run.log takes figures named by strings, got the key {name!r}")
    if name in NOT_METRICS or name.startswith(("min:", "max:")):
        reserved = ", ".join(sorted(NOT_METRICS))
        raise UsageError(f"run.log: {name!r} is a name genlab's record uses itself ({reserved}, min:..., max:...); "
                         "name the figure otherwise")
    return _number(name, value)


def _number(name: str, value) -> float:
    """A logged value as a float: Python and NumPy numbers, tensors and arrays of one element
    (``.item()``)."""
    if hasattr(value, "item"):
        count = value.numel() if callable(getattr(value, "numel", None)) else getattr(value, "size", 1)
        if count != 1:
            raise UsageError(f"run.log {name!r}: a value is a number or a one-element tensor, got {count} elements")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"run.log takes numbers, got {type(value).__name__} {value!r:.40} for {name!r}")
    return float(value)


class Run:
    def __init__(self, path: Path, config: dict, alerts: Alerts | None = None):
        self.path, self.config, self.id = path, config, path.name
        self.held = HeldDir(path)  # every write goes through this descriptor (genlab/held.py)
        path = self.held.root
        self.lock = RunLock(path)
        if not self.lock.acquire():
            self.held.close()
            raise UsageError(f"run {self.id} is held by another process")
        self.step = 0
        self.state = RunState.RUNNING
        self.stop_asked: str | None = None
        self.pause_asked = False
        self.inbox = Inbox(path)
        self.status = StatusSink(RunDir(path).status, SimpleNamespace(
            total_steps=config["total_steps"], epochs=None, device=config["device"], model=config["model"]))
        self.log_file = open_append(RunDir(path).log)
        self.sinks = [JsonlSink(RunDir(path).events, FLUSH_S), MetricsBinSink(path), self.status,
                      LineSink(self.log_file, 10.0, close_stream=True)]
        self.latest: dict = {}
        self._warned: set[str] = set()  # figures whose non-finite values were told once
        self.started = time.monotonic()
        self._beat_at = self._poll_at = 0.0
        self._rate = (0, self.started)  # (step, time) the step rate is measured from
        self.vitals = Vitals(SimpleNamespace(type=str(config["device"]).split(":")[0], index=None))
        self._vitals_at = self.started + VITALS_EVERY_S
        self._emit("state", state=RunState.RUNNING)
        self._posted: queue.SimpleQueue = queue.SimpleQueue()  # the notifier's warnings, written by this thread
        self.notifier = None if alerts is None else \
            Notifier(path, alerts, lambda text: self._posted.put(text)).start()

    # ---- what the script reports
    def log(self, metrics: dict, step: int | None = None) -> None:
        """Figures of one step (the next one when ``step`` is not given): training metrics, and
        held-out ones named ``test_...`` (an evaluation). Values are numbers or one-element
        tensors; the names of a metrics row's own fields (``step``, ``n``, ...) are refused, and
        nothing of a refused call is recorded. A NaN or infinite value is not recorded (as the
        trainer records none): the first of each figure is told as a ``warning`` event, and the
        script's own guard decides what to do."""
        if not isinstance(metrics, dict):
            raise UsageError(f"run.log takes a dict of figures, got {type(metrics).__name__}")
        figures = {key: _figure(key, value) for key, value in metrics.items()}  # all checked before any is kept
        self.step = int(step) if step is not None else self.step + 1
        train, held_out = {}, {}
        for key, v in figures.items():
            if not math.isfinite(v):
                self._non_finite(key, v)
                continue
            (held_out if key.startswith("test_") else train)[key] = v
        if train:
            self.latest.update(train)
            self._emit("metrics", epoch=1, **train)
        if held_out:
            self._emit("eval", **held_out)
        self._tick()

    def log_images(self, images, step: int | None = None) -> Path:
        """A grid of digits (uint8 N×28×28, or floats in [0, 1]; a torch tensor or a NumPy
        array; N×1×28×28 too) as the run's samples at ``step``: the cockpit's samples pane."""
        step = self.step if step is None else int(step)
        a = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
        if a.ndim == 4 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 3 or a.shape[1:] != (28, 28):
            raise UsageError(f"log_images takes N×28×28 digits, got shape {a.shape}")
        if a.dtype != np.uint8:
            a = (np.clip(a.astype(np.float64), 0, 1) * 255).round().astype(np.uint8)
        stem = RunDir(self.held.root).grid_path(step, suffix="")
        npy = io.BytesIO()
        np.save(npy, a)
        atomic_write_bytes(stem.with_suffix(".npy"), npy.getvalue(), durable=False)
        png = stem.with_suffix(".png")
        atomic_write_bytes(png, grid_png(a), durable=False)  # the PNG as genlab's trainer writes it
        rel = stem.relative_to(self.held.root)
        self._emit("samples", step=step, png=str(rel.with_suffix(".png")), npy=str(rel.with_suffix(".npy")), n=len(a))
        return png

    # ---- what genlab asks of the script (cooperative)
    def should_stop(self) -> bool:
        """Whether a stop was asked (the cockpit's s, `genlab stop`): the script ends its loop."""
        self._poll()
        return self.stop_asked is not None

    def should_pause(self) -> bool:
        """Whether a pause was asked and not yet honoured (then :meth:`wait_if_paused`)."""
        self._poll()
        return self.pause_asked

    def wait_if_paused(self) -> None:
        """Honour a pause: state paused, the heartbeat kept, until a resume or a stop."""
        if not self.should_pause():
            return
        self.pause_asked = False
        self._set_state(RunState.PAUSED, "paused by request")
        while self.stop_asked is None:
            for cmd in self._commands():
                if cmd["command"] == "resume":
                    self._set_state(RunState.RUNNING)
                    return
            self._beat()
            time.sleep(POLL_S)

    def finish(self, state: str | None = None, reason: str | None = None) -> None:
        """End the run: ``finished`` (or ``stopped`` when a stop was asked, or the ``state``
        given: failed, with a ``reason``). Idempotent."""
        if RunState.of(self.state).ended:
            return
        state = state or (RunState.STOPPED if self.stop_asked else RunState.FINISHED)
        self._set_state(state, reason or self.stop_asked)
        if self.notifier is not None:  # its last look (the end) sent before the sinks close
            self.notifier.close()
            self._send_posted()
        for sink in self.sinks:
            sink.close()
        self.lock.release()
        self.held.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, kind, error, tb) -> None:
        if error is not None:
            self.finish(RunState.FAILED, f"{kind.__name__}: {error}"[:200])
        else:
            self.finish()

    # ---- inside
    def _emit(self, kind: str, step: int | None = None, **fields) -> None:
        e = {"t": round(time.time(), 3), "step": self.step if step is None else step, "kind": kind, **fields}
        for sink in self.sinks:
            sink.event(e)

    def _set_state(self, state: str, reason: str | None = None) -> None:
        self.state = state
        self._emit("state", state=state, **({"reason": reason} if reason else {}))

    def _send_posted(self) -> None:
        while not self._posted.empty():
            self._emit("warning", message=self._posted.get())

    def _non_finite(self, key: str, value: float) -> None:
        """A NaN or infinite figure, dropped: a warning event the first time for each figure (so a
        diverged script does not fill its record with them)."""
        if key in self._warned:
            return
        self._warned.add(key)
        self._emit("warning", message=f"{key} is {value} at step {self.step:,}: not recorded (genlab records no NaN "
                                      f"or infinite value; this is said once for {key})")

    def _tick(self) -> None:
        now = time.monotonic()
        if now >= self._beat_at:
            self._beat(now)

    def _beat(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._beat_at = now + BEAT_S
        if now >= self._vitals_at:  # the machine's vital signs, as the trainer samples them
            self._vitals_at = now + VITALS_EVERY_S
            self._emit("system", **self.vitals.sample())
        done, dt = self.step - self._rate[0], now - self._rate[1]
        if dt >= 1.0 and done >= 0:  # the step rate over the last second or more, and what it says of the end
            rate = done / dt
            self._rate = (self.step, now)
            total = self.config["total_steps"]
            batch = self.config.get("batch_size")
            self.status.status.update(steps_per_s=round(rate, 2), eta_s=(total - self.step) / rate if total and rate else None,
                                      **({"images_per_s": round(rate * batch, 1)} if isinstance(batch, int) else {}))
        self.status.status.update(step=self.step, metrics=dict(self.latest), elapsed_s=round(now - self.started, 1))
        self._send_posted()
        for sink in self.sinks[:2]:  # the buffered rows, then the heartbeat
            sink.flush()
        self.status.write()

    def _commands(self) -> list[dict]:
        commands, warnings = self.inbox.poll()
        for w in warnings:
            self._emit("warning", message=w)
        for cmd in commands:
            if cmd["command"] == "stop":
                self.stop_asked = cmd.get("reason") or "stopped by request"
        return commands

    def _poll(self) -> None:
        now = time.monotonic()
        if now < self._poll_at:
            return
        self._poll_at = now + POLL_S
        if self.stop_asked is None and self.held.moved():  # renamed away or replaced: stop, as the trainer does
            self.stop_asked = "its directory was moved or replaced"
            self._emit("error", message=f"{self.path} no longer names this run's directory: stopping; "
                                        "nothing was written anywhere else")
        for cmd in self._commands():
            if cmd["command"] == "pause":
                self.pause_asked = True
            elif cmd["command"] == "resume":
                self.pause_asked = False

