"""A training process's checkpoints: save, restore, roll back after a divergence, quarantine.

A checkpoint is one plain dict: the model's weights and optimiser states beside the training
state's own (genlab/train/state.py), written and read by genlab/core/checkpoint.py. It is never
written of diverged weights, never twice for one step, and only once the metrics of every step up to it
are on disk: a process killed the moment after a checkpoint lands loses no row of it (resume
keeps the events up to the checkpoint's step and cuts the rest).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from genlab.core import checkpoint
from genlab.models.base import GenModel
from genlab.run.store import cut_events
from genlab.train.emitter import Emitter
from genlab.train.state import TrainState


class Checkpoints:
    """Saves and restores ``state`` and ``model`` in ``run_dir``'s checkpoints. ``read_back``
    reads back and writes every trained step's metrics (it may find a divergence)."""

    def __init__(self, run_dir: Path, state: TrainState, model: GenModel, device: torch.device, events: Emitter,
                 read_back: Callable[[], None]):
        self.run_dir, self.state, self.model, self.device = run_dir, state, model, device
        self.events, self.read_back = events, read_back
        self.last_step = -1  # the step of the newest checkpoint this process wrote or restored

    def save(self) -> None:
        s = self.state
        if s.diverged or self.last_step == s.step:
            return
        self.read_back()
        self.events.flush()
        start = time.perf_counter()
        ckpt = {"format": checkpoint.FORMAT, **s.state_dict(), **self.model.state()}
        path = checkpoint.save(self.run_dir, ckpt, keep=s.config.cadence.keep_checkpoints,
                               cadence=s.config.cadence)
        self.events.emit("checkpoint", path=str(path.relative_to(self.run_dir)),
                         seconds=round(time.perf_counter() - start, 3))
        self.last_step = s.step

    def restore(self, ckpt: dict) -> None:
        """Continue exactly where ``ckpt`` left off: weights and optimisers, then the training
        state whole (data order and position, random streams, the fixed latent...)."""
        self.model.load_state(ckpt)
        self.state.load_state_dict(ckpt)
        self.last_step = self.state.step

    def restore_step(self, step: int) -> None:
        """Restore the checkpoint of ``step`` (a rank other than 0, after rank 0 rolled back to it)."""
        self.restore(checkpoint.load(checkpoint.path_for(self.run_dir, step), self.device))

    def rollback(self) -> None:
        """Back to the newest good checkpoint, in this process, after a divergence: the events
        after it are cut, as a resume would."""
        self.events.flush()
        found = checkpoint.newest_good(self.run_dir, self.device, on_bad=self.quarantine)
        if found is None:
            raise RuntimeError("diverged and no good checkpoint to return to")
        path, ckpt = found
        dropped = cut_events(self.run_dir, int(ckpt["step"]))
        self.events.reopen()
        self.restore(ckpt)
        self.events.emit("rollback", checkpoint=str(path.relative_to(self.run_dir)), dropped_events=dropped)

    def quarantine(self, path: Path, error: str) -> None:
        """Move a bad checkpoint aside (``.pt.corrupt``) so it is never tried again."""
        self.events.warn(f"skipping checkpoint {path.name}: {error}")
        try:
            path.rename(path.with_name(path.name + ".corrupt"))
        except OSError:
            pass
