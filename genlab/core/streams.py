"""The training's random streams: saved and restored whole, and kept away from side jobs.

Training draws from the global streams (torch's on the CPU and on each GPU, Python's, NumPy's):
noise, dropout masks, binarisation, the batch order's permutation. A checkpoint holds them all
(:func:`state`, :func:`restore`), so a resumed run draws what the straight run would have.

Side jobs (sample grids, quality checks, held-out evaluation, latent maps) run when a wall clock
says, so a busy machine moves them. Were one to draw from those streams, the training after it
would depend on the clock. :func:`apart` runs a side job on streams of its own, seeded from the
run's seed, the step and the job's name (so its figures are reproducible too), and gives the
training's streams back untouched, whatever the job drew or built (a network's initialisation
draws too).
"""

from __future__ import annotations

import contextlib
import hashlib
import random

import numpy as np
import torch


def state() -> dict:
    """Every random stream training draws from, in types ``weights_only`` loading accepts."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        **({"mps": torch.mps.get_rng_state()} if _mps() else {}),
    }


def restore(saved: dict) -> None:
    torch.set_rng_state(saved["torch"])
    v, internal, gauss = saved["python"]
    random.setstate((v, tuple(internal), gauss))
    n = saved["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if saved.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda"])
    if "mps" in saved and _mps():
        torch.mps.set_rng_state(saved["mps"])


def seed_for(run_seed: int, step: int, job: str) -> int:
    """A side job's own seed: a hash of the run's seed, the step and the job (63 bits)."""
    digest = hashlib.blake2b(f"{run_seed}:{step}:{job}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@contextlib.contextmanager
def apart(run_seed: int, step: int, job: str):
    """Run the body on streams of its own (seeded by :func:`seed_for`); the training's streams
    are exactly as they were afterwards, whether the body returns or raises. Yields the seed, for
    the job's explicit generators."""
    saved = state()
    seed = seed_for(run_seed, step, job)
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if _mps():
        torch.mps.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield seed
    finally:
        restore(saved)


def _mps() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
