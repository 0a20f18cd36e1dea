"""What a training run carries from one step to the next: one object, saved and restored whole.

:class:`TrainState` is the trainer's state (genlab/train/trainer.py) and what its units read and
change (checkpoints, side jobs). A checkpoint is its :meth:`~TrainState.state_dict` beside the
model's weights and optimiser states (genlab/train/resume.py writes it, genlab/core/checkpoint.py
holds the file format); :meth:`~TrainState.load_state_dict` puts a checkpoint's back in one call,
so a resumed run draws, trains and samples what the straight run would have.

The random streams are the process's own (torch's, Python's, NumPy's: genlab/core/streams.py);
the state saves them as they are when it is saved, and restores them with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genlab.config import RunConfig
from genlab.core import streams
from genlab.core.data import Batches


@dataclass
class TrainState:
    config: RunConfig  # as it stands now: a resume command may change the learning rate or length
    batches: Batches  # the data order and the position in it (the epoch with it)
    fixed_latent: torch.Tensor  # the sample grid's latent, the same at every step
    step: int = 0  # steps trained
    trained_s: float = 0.0  # training time so far, pauses not counted (for --max-minutes)
    # trained steps whose metrics are not read back yet: (step, t, epoch, metric tensors)
    pending: list[tuple[int, float, int, dict]] = field(default_factory=list)
    diverged: str | None = None  # what went non-finite, once it did

    @property
    def epoch(self) -> int:
        """The epoch the data order is in (0-based)."""
        return self.batches.epoch

    def state_dict(self) -> dict:
        """The training half of a checkpoint, in types ``weights_only`` loading accepts. Only a
        settled state is saved: nothing pending, not diverged."""
        return {
            "step": self.step,
            "epoch": self.batches.epoch,
            "config": self.config.to_json(),  # what produced the weights beside it
            "rng": streams.state(),
            "data": self.batches.state(),
            "fixed_latent": self.fixed_latent,
            "trained_s": self.trained_s,
        }

    def load_state_dict(self, ckpt: dict) -> None:
        """Continue exactly where ``ckpt`` left off: step, data order and position, random
        streams, fixed latent and training time; nothing pending, not diverged. The configuration
        stays this process's: it was read from the checkpoint when the run resumed, and a
        rollback keeps what a resume command changed since."""
        self.batches.load_state(ckpt["data"])
        self.step = int(ckpt["step"])
        self.fixed_latent = ckpt["fixed_latent"].cpu()
        self.trained_s = float(ckpt.get("trained_s", 0.0))
        streams.restore(ckpt["rng"])
        self.pending.clear()
        self.diverged = None
