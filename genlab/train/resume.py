"""A training process's checkpoints: save, restore, roll back after a divergence, quarantine.

A checkpoint is one plain dict (genlab/checkpoint.py writes and reads it). It is never written
of diverged weights, never twice for one step, and only once the metrics of every step up to it
are on disk: a process killed the moment after a checkpoint lands loses no row of it (resume
keeps the events up to the checkpoint's step and cuts the rest).
"""

from __future__ import annotations

import time
from pathlib import Path

from genlab.core import checkpoint

from genlab.core import streams
from genlab.run.store import cut_events


class Checkpoints:
    def __init__(self, trainer):
        self.trainer = trainer
        self.last_step = -1  # the step of the newest checkpoint this process wrote or restored

    def state(self) -> dict:
        t = self.trainer
        return {
            "format": checkpoint.FORMAT,
            "step": t.step,
            "epoch": t.batches.epoch,
            "config": t.config.to_json(),  # plain types only: weights_only loads
            **t.model.state(),
            "rng": streams.state(),
            "data": t.batches.state(),
            "fixed_latent": t.fixed_latent,
            "trained_s": t.trained_s,  # training time so far, for a time budget
        }

    def save(self) -> None:
        t = self.trainer
        if t.diverged or self.last_step == t.step:
            return
        t.flush_metrics()
        t.flush_sinks()
        start = time.perf_counter()
        path = checkpoint.save(t.run_dir, self.state(), keep=t.config.cadence.keep_checkpoints)
        t.emit("checkpoint", path=str(path.relative_to(t.run_dir)), seconds=round(time.perf_counter() - start, 3))
        self.last_step = t.step

    def restore(self, ckpt: dict) -> None:
        """Continue exactly where ``ckpt`` left off: weights, optimisers, data order and
        position, random streams and the fixed latent."""
        t = self.trainer
        t.model.load_state(ckpt)
        t.batches.load_state(ckpt["data"])
        t.step = int(ckpt["step"])
        t.fixed_latent = ckpt["fixed_latent"].cpu()
        t.trained_s = float(ckpt.get("trained_s", 0.0))
        streams.restore(ckpt["rng"])
        self.last_step = t.step
        t.pending.clear()
        t.diverged = None

    def restore_step(self, step: int) -> None:
        """Restore the checkpoint of ``step`` (a rank other than 0, after rank 0 rolled back to it)."""
        self.restore(checkpoint.load(checkpoint.path_for(self.trainer.run_dir, step), self.trainer.device))

    def rollback(self) -> None:
        """Back to the newest good checkpoint, in this process, after a divergence: the events
        after it are cut, as a resume would."""
        t = self.trainer
        t.flush_sinks()
        found = checkpoint.newest_good(t.run_dir, t.device, on_bad=self.quarantine)
        if found is None:
            raise RuntimeError("diverged and no good checkpoint to return to")
        path, ckpt = found
        dropped = cut_events(t.run_dir, int(ckpt["step"]))
        for sink in t.sinks:
            getattr(sink, "reopen", lambda: None)()
        self.restore(ckpt)
        t.rolled_back_to = t.step  # the other ranks of a run of several processes follow (Trainer.agree)
        t.emit("rollback", checkpoint=str(path.relative_to(t.run_dir)), dropped_events=dropped)

    def quarantine(self, path: Path, error: str) -> None:
        """Move a bad checkpoint aside (``.pt.corrupt``) so it is never tried again."""
        self.trainer.warn(f"skipping checkpoint {path.name}: {error}")
        try:
            path.rename(path.with_name(path.name + ".corrupt"))
        except OSError:
            pass

