"""The training loop. It emits events; sinks decide what becomes of them (genlab/sinks.py).

One step: draw a batch by index from the digits on the device, ``model.step`` it, keep its
metrics as tensors. Every ``metrics_every_s`` the buffered metrics are read back in one go and
emitted, one ``metrics`` event per step. Around the steps, on their own clocks: a sample grid from
the fixed latent (time-based, and held under 10% of wall time), the held-out evaluation at each
epoch's end, and a checkpoint (time-based, and at the end).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import save_image

from genlab import checkpoint, models
from genlab.data import Batches, Digits
from genlab.device import synchronize
from genlab.sinks import Progress
from genlab.store import atomic_write_bytes

SAMPLE_BUDGET = 0.10  # at most this share of wall time goes to sample grids


class Trainer:
    def __init__(self, run_dir: Path, config: dict, digits: Digits, device: torch.device, sinks: list):
        self.run_dir, self.config, self.digits, self.device, self.sinks = run_dir, config, digits, device, sinks
        torch.manual_seed(config["seed"])
        self.model = models.build(config["model"], config["hp"], device)
        self.batches = Batches(len(digits.train_images), config["batch_size"], config["seed"], device)
        self.fixed_latent = self.model.latent(config["sample_count"], torch.Generator().manual_seed(config["seed"]))
        self.step = 0
        self.pending: list[tuple[int, float, int, dict]] = []  # (step, t, epoch, metric tensors)
        self.latest: dict = {}
        self.state = "starting"

    # ------------------------------------------------------------------ events

    def emit(self, kind: str, **fields) -> None:
        event = {"t": round(time.time(), 3), "step": self.step, "kind": kind, **fields}
        for sink in self.sinks:
            sink.event(event)

    def set_state(self, state: str, reason: str | None = None) -> None:
        self.state = state
        self.emit("state", state=state, **({"reason": reason} if reason else {}))

    def flush_metrics(self) -> None:
        """Read back every buffered step's metrics with one synchronisation and emit them."""
        if not self.pending:
            return
        keys = list(self.pending[0][3])
        values = torch.stack([torch.stack([m[k] for k in keys]) for *_, m in self.pending]).tolist()
        for (step, t, epoch, _), row in zip(self.pending, values):
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

    def epoch_number(self) -> int:
        return min(self.step // self.config["steps_per_epoch"] + 1, self.epochs_total())

    def epochs_total(self) -> int:
        spe = self.config["steps_per_epoch"]
        return -(-self.config["total_steps"] // spe)

    # ------------------------------------------------------------------ side jobs

    def write_samples(self) -> float:
        """Decode the fixed latent; write samples/step-XXXXXXXX.png and .npy. Returns seconds."""
        start = time.perf_counter()
        images = self.model.decode(self.fixed_latent)
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
        n = min(self.config["eval_size"], len(self.digits.test_images))
        start = time.perf_counter()
        results = self.model.evaluate(self.digits.test_images[:n], self.digits.test_labels[:n])
        self.emit("eval", epoch=self.batches.epoch + (1 if self.batches.position else 0), n=n,
                  seconds=round(time.perf_counter() - start, 3), **{k: round(v, 5) for k, v in results.items()})
        self.last_eval_step = self.step

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
        start = time.perf_counter()
        path = checkpoint.save(self.run_dir, self.checkpoint_dict(), keep=self.config["keep_checkpoints"])
        self.emit("checkpoint", path=str(path.relative_to(self.run_dir)), seconds=round(time.perf_counter() - start, 3))
        self.last_checkpoint_step = self.step

    # ------------------------------------------------------------------ the loop

    def run(self) -> str:
        """Train to ``total_steps``; returns the final state (``finished`` or ``stopped``)."""
        cfg = self.config
        x, y = self.digits.train_images, self.digits.train_labels
        self.started = self._rate_time = time.monotonic()
        self._rate_step, self.images_per_s = self.step, 0.0
        self.sample_seconds, self.last_eval_step, self.last_checkpoint_step = 0.0, -1, -1
        next_flush = self.started + cfg["metrics_every_s"]
        next_sample = self.started + cfg["sample_every_s"]
        next_checkpoint = self.started + cfg["checkpoint_every_s"]
        self.set_state("running")
        try:
            while self.step < cfg["total_steps"]:
                # ---- one optimisation step
                idx = self.batches.next()
                metrics = self.model.step(x[idx], y[idx])
                self.step += 1
                self.pending.append((self.step, time.time(), self.batches.epoch + 1, metrics))

                # ---- bounded-rate bookkeeping
                now = time.monotonic()
                if now >= next_flush:
                    self.flush_metrics()
                    self.report_progress()
                    next_flush = now + cfg["metrics_every_s"]
                if self.batches.position == self.batches.steps_per_epoch:  # end of an epoch
                    self.flush_metrics()
                    self.evaluate()
                if now >= next_sample:
                    seconds = self.write_samples()
                    # keep sampling under SAMPLE_BUDGET of wall time, however slow one grid is
                    next_sample = time.monotonic() + max(cfg["sample_every_s"], seconds * (1 / SAMPLE_BUDGET - 1))
                if now >= next_checkpoint:
                    self.flush_metrics()
                    self.save_checkpoint()
                    next_checkpoint = time.monotonic() + cfg["checkpoint_every_s"]
        except KeyboardInterrupt:
            synchronize(self.device)
            self.flush_metrics()
            self.save_checkpoint()
            self.report_progress()
            self.set_state("stopped", "interrupted")
            return "stopped"

        # ---- the end: final metrics, evaluation, samples and checkpoint
        synchronize(self.device)
        self.flush_metrics()
        if self.last_eval_step != self.step:
            self.evaluate()
        self.write_samples()
        self.save_checkpoint()
        self.report_progress()
        self.set_state("finished")
        return "finished"
