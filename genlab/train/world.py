"""The processes a run trains on, as torchrun's environment describes them (RANK, WORLD_SIZE,
LOCAL_RANK, LOCAL_WORLD_SIZE). Torch-free: `genlab train --detach` asks it before anything is
loaded; genlab/train/distributed.py does the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # ranks on this machine: they share its cores

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def from_env() -> World:
    """The world torchrun describes (one process when it describes none)."""
    try:
        return World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                     int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    except ValueError:
        return World()
