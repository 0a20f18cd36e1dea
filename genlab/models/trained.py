"""A run's model as trained: built from its newest good checkpoint, for sampling and evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from genlab import models
from genlab.config import RunConfig
from genlab.core import checkpoint
from genlab.errors import GenlabError
from genlab.models.base import GenModel


@dataclass
class Trained:
    run_dir: Path
    checkpoint: Path
    step: int
    config: RunConfig
    model: GenModel


def newest(run_dir: Path, device: torch.device, on_bad=None) -> Trained:
    """The model at the run's newest checkpoint that loads and checks out; ``on_bad(path,
    error)`` hears of each one passed over. GenlabError when there is none."""
    found = checkpoint.newest_good(run_dir, map_location=device, on_bad=on_bad)
    if found is None:
        raise GenlabError(f"run {run_dir.name} has no usable checkpoint yet")
    path, ckpt = found
    config = checkpoint.config_of(ckpt)
    model = models.build(config.model, config.model_hp(), device)
    model.load_state(ckpt)
    return Trained(run_dir, path, int(ckpt["step"]), config, model)
