"""Same seed, same arguments, the same weights bit for bit, whenever the side jobs ran.

Side jobs (sample grids, live quality checks, held-out evaluation, latent maps, vital signs,
checkpoints) run on wall clocks, so a busy machine moves them. Each model trains twice from one
seed: once with every side job as often as it may run (quality at every step, grids and
checkpoints whenever their clocks allow), once with none until the end. Weights, optimiser
states and the training's random streams must be equal, and so must the end's quality figures
(a side job's own numbers are reproducible from the run's seed and the step).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genlab import models
from genlab.core import checkpoint
from genlab.run.store import read_events
from genlab.train import execute as train

STEPS = 6
SMALL = {"width": 16, "channels": 8, "layers": 2, "hidden": 64}  # small networks, where a model has the knob
OFTEN = dict(quality_every_steps=1, sample_every_s=1e-6, checkpoint_every_s=1e-6, quality_samples=64,
             quality_k=2, eval_size=64)
NEVER = dict(sample_every_s=1e9, checkpoint_every_s=1e9, quality_every_s=1e9, quality_samples=64,
             quality_k=2, eval_size=64)


def trained(runs, model: str, name: str, cadence: dict) -> tuple[dict, list[dict]]:
    hp = {k: v for k, v in SMALL.items() if k in models.get(model).defaults}
    prepared = train.prepare(model, max_steps=STEPS, seed=5, batch_size=16, runs_dir=runs, name=name,
                             device="cpu", hp=hp, **cadence)
    # grids of 4 digits: a PixelCNN draws 784 pixels one after another for each grid
    prepared.config = dataclasses.replace(prepared.config, sample_count=4)
    run_dir = train.create(prepared)
    assert train.execute(run_dir) == "finished"
    _, ckpt = checkpoint.newest_good(run_dir)
    assert ckpt["step"] == STEPS
    events, _ = read_events(run_dir / "events.jsonl")
    return ckpt, events


def equal_states(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal_states(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(equal_states(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("model", list(models.MODELS))
def test_side_jobs_never_move_training(runs, model, monkeypatch):
    monkeypatch.delenv("GENLAB_DATA_DIR", raising=False)  # the bundled digits: a GAN's judge reads 1,000 test digits
    often, often_events = trained(runs, model, "often", OFTEN)
    never, never_events = trained(runs, model, "never", NEVER)
    quality_steps = [e["step"] for e in often_events if e["kind"] == "eval" and e.get("quality")]
    assert quality_steps[:STEPS] == list(range(1, STEPS + 1)), "the frequent run checked quality every step"
    assert [e["step"] for e in never_events if e["kind"] == "eval" and e.get("quality")] == [STEPS]
    assert equal_states(often["models"], never["models"]), f"{model}: weights depend on the side jobs"
    assert equal_states(often["optimizers"], never["optimizers"]), f"{model}: optimiser states differ"
    assert torch.equal(often["rng"]["torch"], never["rng"]["torch"]), f"{model}: the training's stream moved"

    # the end's quality check is reproducible from the seed and the step: the same figures
    def final_quality(events):
        return next(e for e in reversed(events) if e["kind"] == "eval" and e.get("quality"))
    a, b = final_quality(often_events), final_quality(never_events)
    assert {k: v for k, v in a.items() if k not in ("t", "seconds")} == \
           {k: v for k, v in b.items() if k not in ("t", "seconds")}
