"""Training throughput of any model: what ``genlab bench`` and ``bench/speed.py`` measure.

The loop is the engine's: digits resident on the device, batches by index from a seeded
permutation, one ``model.step`` per batch, no host synchronisation until the clock stops.
"""

from __future__ import annotations

import sys
import time

import torch

from genlab import models
from genlab.core.data import Batches, Digits, load_digits
from genlab.core.device import resolve, synchronize
from genlab.core.speed import StepRunner, check_amp, configure_threads
from genlab.errors import UsageError


def throughput(model: str, batch_size: int | None = None, steps: int = 200, device: str = "auto",
               data_dir: str | None = None, warmup: int = 10, digits: Digits | None = None,
               hp: dict | None = None, seed: int = 0, compile: bool = False, amp: str = "off",
               seconds: float | None = None) -> dict:
    """Train ``model`` for ``warmup`` + ``steps`` steps; images per second over the timed steps.

    With ``seconds``, the timed ``steps`` are a probe: as many more steps follow as fill about
    ``seconds`` in all, whatever a step costs (one synchronisation between them)."""
    if steps <= 0:
        raise UsageError(f"--steps must be positive, got {steps}")
    amp = check_amp(amp)
    dev = resolve(device)
    hp = dict(hp or {})
    if batch_size is not None:
        if batch_size <= 0:
            raise UsageError(f"batch size must be positive, got {batch_size}")
        hp["batch_size"] = batch_size
    cls = models.get(model)
    digits = (digits or load_digits(data_dir)).to(dev)
    torch.manual_seed(seed)
    configure_threads(dev)
    m = models.build(model, hp, dev)
    bs = int(m.hp["batch_size"])
    batches = Batches(len(digits.train_images), bs, seed, dev)
    step = StepRunner(m, dev, compile=compile, amp=amp, notice=lambda text: print(f"genlab: {text}", file=sys.stderr))

    def run(n: int) -> None:
        for _ in range(n):
            idx = batches.next()
            step(digits.train_images[idx], digits.train_labels[idx])

    run(warmup)
    synchronize(dev)
    start = time.perf_counter()
    run(steps)
    if seconds is not None:
        synchronize(dev)
        per_step = (time.perf_counter() - start) / steps
        more = max(0, int(seconds / max(per_step, 1e-6)) - steps)
        run(more)
        steps += more
    synchronize(dev)
    elapsed = time.perf_counter() - start
    return {
        "model": cls.name, "device": str(dev), "batch_size": bs, "steps": steps,
        "seconds": round(elapsed, 4), "images_per_s": round(bs * steps / elapsed, 1),
        "threads": torch.get_num_threads(), "torch": str(torch.__version__),
        "compile": step.compiled, "amp": step.amp,
    }

