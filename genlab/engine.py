"""The training loop. It emits events; sinks decide what becomes of them (genlab/sinks.py).

One step: draw a batch by index from the digits on the device, ``model.step`` it, keep its
metrics as tensors. Every ``metrics_every_s`` the buffered metrics are read back in one go,
checked for NaN and infinity, and emitted, one ``metrics`` event per step. Around the steps, on
their own clocks: a sample grid from the fixed latent (time-based, and held under 10% of wall
time), the held-out evaluation at each epoch's end, a checkpoint (time-based, and at the end),
and the control channel (pause, resume, stop, sample now) read at step boundaries.

A run that is resumed restores everything from its checkpoint: weights, optimiser states, the
random streams, the data order and position, and the fixed latent, so it is the same run.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import save_image

from genlab import checkpoint, models
from genlab.control import Inbox, control_dir
from genlab.data import Batches, Digits
from genlab.device import synchronize
from genlab.models.base import Interrupted
from genlab.sinks import Progress
from genlab.speed import StepRunner, configure_threads
from genlab.store import atomic_write_bytes, atomic_write_json, cut_events, read_events

SAMPLE_BUDGET = 0.10  # at most this share of wall time goes to sample grids
POLL_EVERY_S = 0.1  # how often the control directory is looked at
FAULT_NAN_STEP = "GENLAB_FAULT_NAN_STEP"  # testing the divergence guard: poison the weights at this step


class Trainer:
    def __init__(self, run_dir: Path, config: dict, digits: Digits, device: torch.device, sinks: list,
                 on_divergence: str = "pause"):
        self.run_dir, self.config, self.digits, self.device, self.sinks = run_dir, config, digits, device, sinks
        self.on_divergence = on_divergence  # "pause" (detached runs) or "stop" (foreground runs)
        torch.manual_seed(config["seed"])
        configure_threads(device)
        self.model = models.build(config["model"], config["hp"], device)
        self.run_step: StepRunner | None = None  # model.step under the run's speed settings, from run()
        self.batches = Batches(len(digits.train_images), config["batch_size"], config["seed"], device)
        self.fixed_latent = self.model.latent(config["sample_count"], torch.Generator().manual_seed(config["seed"]))
        self.step = 0
        self.pending: list[tuple[int, float, int, dict]] = []  # (step, t, epoch, metric tensors)
        self.latest: dict = {}
        self.state = "starting"
        self.inbox = Inbox(run_dir)
        self.queue: deque[dict] = deque()  # commands read but not yet applied, oldest first
        self.stop_request: str | None = None  # set by a signal handler: the reason to stop
        self.diverged: str | None = None
        self.eval_pending = False
        self.last_eval_step = self.last_checkpoint_step = -1
        self.sample_seconds = 0.0
        self._next_peek = self._last_beat = 0.0
        self.judge = None  # the digit classifier, loaded at the first live quality check
        fault = os.environ.get(FAULT_NAN_STEP)
        self.fault_step = int(fault) if fault and fault.isdigit() else None

    # ------------------------------------------------------------------ events

    def emit(self, kind: str, **fields) -> None:
        event = {"t": round(time.time(), 3), "step": self.step, "kind": kind, **fields}
        for sink in self.sinks:
            sink.event(event)

    def set_state(self, state: str, reason: str | None = None) -> None:
        self.state = state
        self.emit("state", state=state, **({"reason": reason} if reason else {}))

    def warn(self, message: str) -> None:
        self.emit("warning", message=message)

    def record_failure(self, reason: str) -> None:
        """An ``error`` event and state ``failed``, as far as the disk allows: a sink that cannot
        write is passed over (status.json is then overwritten in place)."""
        self.state = "failed"
        for kind, fields in (("error", {"message": reason}), ("state", {"state": "failed", "reason": reason})):
            event = {"t": round(time.time(), 3), "step": self.step, "kind": kind, **fields}
            for sink in self.sinks:
                try:
                    sink.event(event)
                except OSError:
                    try:
                        getattr(sink, "write_in_place", lambda: None)()
                    except OSError:
                        pass

    def flush_metrics(self) -> None:
        """Read back every buffered step's metrics with one synchronisation and emit them.

        The first non-finite value marks the run as diverged: the rows before it are emitted,
        the rest (trained on poisoned weights) are dropped.
        """
        if not self.pending:
            return
        keys = list(self.pending[0][3])
        values = torch.stack([torch.stack([m[k] for k in keys]) for *_, m in self.pending]).tolist()
        for (step, t, epoch, _), row in zip(self.pending, values):
            bad = [k for k, v in zip(keys, row) if not math.isfinite(v)]
            if bad:
                self.diverged = f"{bad[0]} is {row[keys.index(bad[0])]} at step {step:,}"
                self.warn(f"divergence: {self.diverged}; the last good checkpoint is kept")
                break
            metrics = dict(zip(keys, row))
            for sink in self.sinks:
                sink.event({"t": round(t, 3), "step": step, "kind": "metrics", "epoch": epoch, **metrics})
            self.latest = metrics
        self.pending.clear()

    def report_progress(self) -> None:
        now = time.monotonic()
        done = self.step - self._rate_step
        dt = now - self._rate_time
        if dt > 0 and done > 0:
            self.images_per_s = done * self.config["batch_size"] / dt
        if dt >= 2.0:  # a moving window of a few seconds
            self._rate_step, self._rate_time = self.step, now
        remaining = self.config["total_steps"] - self.step
        eta = remaining * self.config["batch_size"] / self.images_per_s if self.images_per_s else None
        p = Progress(
            step=self.step, total_steps=self.config["total_steps"], epoch=self.epoch_number(),
            epochs=self.epochs_total(), images_per_s=self.images_per_s, elapsed_s=now - self.started,
            eta_s=eta, metrics={k: round(v, 5) for k, v in self.latest.items()},
            key_metrics=self.model.key_metrics,
        )
        for sink in self.sinks:
            sink.progress(p)

    def reset_rate(self) -> None:
        self._rate_step, self._rate_time, self.images_per_s = self.step, time.monotonic(), 0.0

    def epoch_number(self) -> int:
        return min(self.step // self.config["steps_per_epoch"] + 1, self.epochs_total())

    def epochs_total(self) -> int:
        return -(-self.config["total_steps"] // self.config["steps_per_epoch"])

    # ------------------------------------------------------------------ side jobs

    def beat(self) -> None:
        """Tell readers this process is alive (status.json's heartbeat)."""
        for sink in self.sinks:
            getattr(sink, "heartbeat", lambda: None)()
        self._last_beat = time.monotonic()

    def interrupt_requested(self) -> bool:
        """For long side jobs (PixelCNN sampling, evaluation): is a command or a stop waiting?
        Also keeps the heartbeat going while they run."""
        if self.stop_request or self.queue:
            return True
        now = time.monotonic()
        if now < self._next_peek:
            return False
        self._next_peek = now + POLL_EVERY_S
        if now - self._last_beat >= 1.0:
            self.beat()
        try:
            return any(not n.startswith(".") for n in os.listdir(control_dir(self.run_dir)))
        except OSError:
            return False

    def write_samples(self) -> float | None:
        """Decode the fixed latent; write samples/step-XXXXXXXX.png and .npy. Returns seconds,
        or None when a command interrupted it."""
        start = time.perf_counter()
        try:
            images = self.model.decode(self.fixed_latent, interrupt=self.interrupt_requested)
        except Interrupted:
            return None
        stem = self.run_dir / "samples" / f"step-{self.step:08d}"
        npy = io.BytesIO()
        np.save(npy, images.numpy())
        png = io.BytesIO()
        save_image(images.unsqueeze(1).float() / 255, png, format="png", nrow=8, padding=2)
        atomic_write_bytes(stem.with_suffix(".npy"), npy.getvalue(), durable=False)
        atomic_write_bytes(stem.with_suffix(".png"), png.getvalue(), durable=False)
        seconds = time.perf_counter() - start
        self.sample_seconds += seconds
        rel = stem.relative_to(self.run_dir)  # paths in events are relative to the run directory
        self.emit("samples", png=str(rel.with_suffix(".png")), npy=str(rel.with_suffix(".npy")),
                  n=len(images), seconds=round(seconds, 3))
        return seconds

    def evaluate(self) -> None:
        """Held-out metrics; an interrupted evaluation is done again at the next step boundary."""
        n = min(self.config["eval_size"], len(self.digits.test_images))
        start = time.perf_counter()
        try:
            results = self.model.evaluate(self.digits.test_images[:n], self.digits.test_labels[:n],
                                          interrupt=self.interrupt_requested)
        except Interrupted:
            self.eval_pending = True
            return
        self.eval_pending = False
        self.emit("eval", epoch=self.batches.epoch + (1 if self.batches.position else 0), n=n,
                  seconds=round(time.perf_counter() - start, 3), **{k: round(v, 5) for k, v in results.items()})
        self.last_eval_step = self.step

    def live_quality(self) -> float | None:
        """Quality on a cadence, as an ``eval`` event with ``quality: true``. GANs: FLD, class
        histogram and confident share of ``quality_samples`` fresh digits. VAEs: importance-sampled
        NLL (``quality_k`` samples) of as many held-out digits. PixelCNNs: their test NLL on as
        many held-out digits. Returns seconds (None if a command interrupted it)."""
        from genlab import evaluate

        start = time.perf_counter()
        n = min(int(self.config.get("quality_samples", 2000)), len(self.digits.test_images))
        if self.model.family == "gan" and self.judge is None:
            self.judge = evaluate.Judge(self.digits.test_images, self.device)
        try:
            q = evaluate.measure(self.model, self.digits.test_images, self.digits.test_labels, n=n,
                                 k=int(self.config.get("quality_k", 100)), judge=self.judge,
                                 seed=self.config["seed"] + 1, interrupt=self.interrupt_requested)
            if self.model.family == "gan":
                fields = {"test_fld": q["fld"], "test_confident": q["confident"], "class_hist": q["class_hist"],
                          "min_class_share": q["min_class_share"], "max_class_share": q["max_class_share"]}
            else:
                fields = {key: round(v, 5) if isinstance(v, float) else v for key, v in q.items()}
        except Interrupted:
            return None
        seconds = time.perf_counter() - start
        self.emit("eval", quality=True, n=n, seconds=round(seconds, 3), **fields)
        return seconds

    def checkpoint_dict(self) -> dict:
        return {
            "format": checkpoint.FORMAT,
            "step": self.step,
            "epoch": self.batches.epoch,
            "config": json.loads(json.dumps(self.config)),  # plain types only: weights_only loads
            **self.model.state(),
            "rng": checkpoint.rng_state(),
            "data": self.batches.state(),
            "fixed_latent": self.fixed_latent,
        }

    def save_checkpoint(self) -> None:
        """Never of diverged weights, never twice for one step. The metrics of every step up to
        this one reach the disk first: a process killed the moment after the checkpoint lands
        loses no row of it (resume keeps the events up to the checkpoint's step)."""
        if self.diverged or self.last_checkpoint_step == self.step:
            return
        self.flush_metrics()
        for sink in self.sinks:
            getattr(sink, "flush", lambda: None)()
        start = time.perf_counter()
        path = checkpoint.save(self.run_dir, self.checkpoint_dict(), keep=self.config["keep_checkpoints"])
        self.emit("checkpoint", path=str(path.relative_to(self.run_dir)), seconds=round(time.perf_counter() - start, 3))
        self.last_checkpoint_step = self.step

    # ------------------------------------------------------------------ restore, change

    def restore(self, ckpt: dict) -> None:
        """Continue exactly where ``ckpt`` left off."""
        self.model.load_state(ckpt)
        self.batches.load_state(ckpt["data"])
        self.step = int(ckpt["step"])
        self.fixed_latent = ckpt["fixed_latent"].cpu()
        checkpoint.set_rng_state(ckpt["rng"])
        self.last_checkpoint_step = self.step
        self.pending.clear()
        self.diverged = None

    def rollback(self) -> None:
        """Back to the newest good checkpoint, in this process, after a divergence."""
        for sink in self.sinks:
            getattr(sink, "flush", lambda: None)()
        found = checkpoint.newest_good(self.run_dir, self.device, on_bad=self.quarantine)
        if found is None:
            raise RuntimeError("diverged and no good checkpoint to return to")
        path, ckpt = found
        dropped = cut_events(self.run_dir, int(ckpt["step"]))
        for sink in self.sinks:
            getattr(sink, "reopen", lambda: None)()
        self.restore(ckpt)
        self.emit("rollback", checkpoint=str(path.relative_to(self.run_dir)), dropped_events=dropped)

    def quarantine(self, path: Path, error: str) -> None:
        """Move a bad checkpoint aside (``.pt.corrupt``) so it is never tried again."""
        self.warn(f"skipping checkpoint {path.name}: {error}")
        try:
            path.rename(path.with_name(path.name + ".corrupt"))
        except OSError:
            pass

    def set_lr(self, lr: float) -> None:
        previous = self.config["lr"]
        for opt in self.model.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        self.config["lr"] = self.config["hp"]["lr"] = lr
        self.save_config()
        self.emit("lr", lr=lr, previous=previous)

    def set_total_steps(self, total: int) -> None:
        previous = self.config["total_steps"]
        self.config["total_steps"] = total
        self.config["epochs"] = -(-total // self.config["steps_per_epoch"])
        self.config["max_steps"] = total
        self.save_config()
        self.emit("extend", total_steps=total, previous=previous)

    def save_config(self) -> None:
        atomic_write_json(self.run_dir / "config.json", self.config)

    # ------------------------------------------------------------------ control

    def apply(self, cmd: dict) -> None:
        if "lr" in cmd:
            self.set_lr(float(cmd["lr"]))
        if "total_steps" in cmd:
            self.set_total_steps(int(cmd["total_steps"]))

    def next_command(self) -> dict | None:
        """The oldest command not yet applied (reading the control channel when none is queued).

        Commands apply one at a time, in the order they were sent, each once: so the latest
        intent wins (pause then resume runs on; pause then stop stops), whatever the batch."""
        if not self.queue:
            commands, warnings = self.inbox.poll()
            for w in warnings:
                self.warn(w)
            self.queue.extend(commands)
        return self.queue.popleft() if self.queue else None

    def poll(self) -> str | None:
        """Apply waiting commands while running; returns "stop" when the run must stop."""
        while (cmd := self.next_command()) is not None:
            kind = cmd["command"]
            if kind == "stop":
                return "stop"
            if kind == "pause":
                if self.pause("paused by request") == "stop":
                    return "stop"
            elif kind == "resume":
                self.apply(cmd)  # already running: a new learning rate or length still applies
            elif kind == "sample":
                self.write_samples()
        return None

    def pause(self, reason: str) -> str:
        """Checkpoint, then wait for resume or stop. Returns "resume" or "stop"."""
        synchronize(self.device)
        self.flush_metrics()
        self.save_checkpoint()
        self.report_progress()
        self.set_state("paused", self.diverged and f"diverged: {self.diverged}" or reason)
        while True:
            if self.stop_request:
                return "stop"
            while (cmd := self.next_command()) is not None:
                kind = cmd["command"]
                if kind == "stop":
                    return "stop"
                if kind == "resume":
                    if self.diverged:
                        self.rollback()
                    self.apply(cmd)
                    self.reset_rate()
                    self.set_state("running")
                    return "resume"
                if kind == "sample" and not self.diverged:
                    self.write_samples()
                # a pause while paused changes nothing
            if time.monotonic() - self._last_beat >= 1.0:
                self.beat()
            time.sleep(POLL_EVERY_S)

    def stop(self, reason: str) -> str:
        synchronize(self.device)
        self.flush_metrics()
        self.save_checkpoint()  # skipped when diverged: the last good one stays
        self.report_progress()
        self.set_state("stopped", f"diverged: {self.diverged}" if self.diverged else reason)
        return "stopped"

    def diverge(self) -> bool:
        """The guard: a foreground run stops; a detached one pauses until told what to do (and
        on resume rolls back to the last good checkpoint). True when the run has stopped."""
        if self.on_divergence == "stop" or self.pause("diverged") == "stop":
            self.stop("diverged")
            return True
        return False

    # ------------------------------------------------------------------ the loop

    def finish(self) -> str:
        """A run killed after its final checkpoint: no training, only the end's evaluation,
        quality check and samples that its events lack, then ``finished``."""
        self.started = time.monotonic()
        self.reset_rate()
        path = self.run_dir / "events.jsonl"
        events, _ = read_events(path, max(0, path.stat().st_size - 1_000_000))
        done = {e["kind"] + ("-quality" if e.get("quality") else "") for e in events if e["step"] == self.step}
        if "eval" not in done:
            self.evaluate()
        if "eval-quality" not in done:
            self.live_quality()
        if "samples" not in done:
            self.write_samples()
        self.report_progress()
        self.set_state("finished")
        return "finished"

    def run(self) -> str:
        """Train to ``total_steps``; returns the final state: ``finished`` or ``stopped``."""
        cfg = self.config
        x, y = self.digits.train_images, self.digits.train_labels
        self.started = time.monotonic()
        self.reset_rate()
        next_flush = self.started + cfg["metrics_every_s"]
        next_sample = self.started + cfg["sample_every_s"]
        next_checkpoint = self.started + cfg["checkpoint_every_s"]
        next_quality = self.started + cfg.get("quality_every_s", 30.0)
        next_poll = self.started
        self.set_state("running")
        if self.run_step is None:
            self.run_step = StepRunner(self.model, self.device, compile=cfg.get("compile", False),
                                       amp=cfg.get("amp", "off"), notice=self.warn)
        if self.step == 0:
            self.save_checkpoint()  # a good checkpoint to return to from the first step on
        while True:
            while self.step < cfg["total_steps"]:
                now = time.monotonic()
                # ---- requests from outside: signals and the control channel
                if self.stop_request:
                    return self.stop(self.stop_request)
                if now >= next_poll:
                    next_poll = now + POLL_EVERY_S
                    if self.poll() == "stop":
                        return self.stop("stopped by request")
                if self.fault_step is not None and self.step + 1 == self.fault_step:
                    self.fault_step = None  # documented fault injection: poison the weights, once
                    with torch.no_grad():
                        next(self.model.parameters()).fill_(float("nan"))

                # ---- one optimisation step
                idx = self.batches.next()
                metrics = self.run_step(x[idx], y[idx])
                self.step += 1
                self.pending.append((self.step, time.time(), self.batches.epoch + 1, metrics))

                # ---- bounded-rate bookkeeping
                now = time.monotonic()
                end_of_epoch = self.batches.position == self.batches.steps_per_epoch
                if now >= next_flush or end_of_epoch:
                    self.flush_metrics()
                    self.report_progress()
                    next_flush = now + cfg["metrics_every_s"]
                    if self.diverged:
                        if self.diverge():
                            return "stopped"
                        continue  # rolled back and resumed
                if end_of_epoch or self.eval_pending:
                    self.evaluate()
                if now >= next_sample:
                    seconds = self.write_samples()
                    # keep sampling under SAMPLE_BUDGET of wall time, however slow one grid is
                    next_sample = time.monotonic() + max(cfg["sample_every_s"], (seconds or 0) * (1 / SAMPLE_BUDGET - 1))
                if now >= next_quality:
                    seconds = self.live_quality()
                    # like sample grids: at most SAMPLE_BUDGET of wall time
                    next_quality = time.monotonic() + max(cfg.get("quality_every_s", 30.0),
                                                          (seconds or 0) * (1 / SAMPLE_BUDGET - 1))
                if now >= next_checkpoint:
                    self.flush_metrics()
                    self.save_checkpoint()
                    next_checkpoint = time.monotonic() + cfg["checkpoint_every_s"]

            # ---- the end: final metrics, evaluation, samples and checkpoint
            synchronize(self.device)
            self.flush_metrics()
            if not self.diverged:
                break
            if self.diverge():
                return "stopped"
        if self.last_eval_step != self.step:
            self.evaluate()
        self.live_quality()
        self.write_samples()
        self.save_checkpoint()
        self.report_progress()
        self.set_state("finished")
        return "finished"
