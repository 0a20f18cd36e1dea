"""Which checkpoints a run keeps (genlab/core/retention.py): the newest few and milestones
spread over the whole run, within a disk budget; over a long synthetic run, and as
genlab/core/checkpoint.py applies it to files."""

from __future__ import annotations

import torch

from genlab.config import Cadence
from genlab.core import checkpoint
from genlab.core.retention import which_to_keep

MB = 1_000_000
EVERY = 300  # a checkpoint every 5 minutes of training, 100 steps apart, 20 MB each


def live_through(hours: float, keep=3, every_s=600.0, budget=1000 * MB, size=20 * MB) -> list[tuple[int, float, int]]:
    """The checkpoints left after a run of ``hours`` that applied the policy after each save."""
    kept: list[tuple[int, float, int]] = []
    for i in range(1, int(hours * 3600 / EVERY) + 1):
        kept.append((i * 100, float(i * EVERY), size))
        wanted = which_to_keep(kept, keep, every_s, budget)
        assert kept[-1][0] in wanted  # the one just saved is always kept
        kept = [c for c in kept if c[0] in wanted]
    return kept


def test_a_day_long_run_keeps_the_newest_and_milestones_spread_over_it():
    kept = live_through(24)
    steps = [s for s, _, _ in kept]
    assert steps[-3:] == [28_600, 28_700, 28_800]  # the newest three, as --keep-checkpoints says
    ages_h = [(24 * 3600 - t) / 3600 for _, t, _ in kept]
    assert len(kept) <= 3 + 2 * 9  # two a level of spacing: about 2 log2(day / 10 minutes)
    assert max(ages_h) > 12  # something from the first half of the day to fork from
    gaps = [a - b for a, b in zip(ages_h, ages_h[1:])]
    assert gaps == sorted(gaps, reverse=True) or all(g > 0 for g in gaps)  # older: sparser
    assert gaps[0] > 4 * gaps[-4]  # spacing grows with age
    assert sum(n for _, _, n in kept) <= 25 * 20 * MB
    assert sum(n for _, _, n in kept) == len(kept) * 20 * MB


def test_a_short_run_keeps_only_its_newest_and_an_early_milestone_stays_one():
    kept = live_through(0.25)  # 15 minutes: three checkpoints, the newest
    assert [s for s, _, _ in kept] == [100, 200, 300]
    hour = [s for s, _, _ in live_through(1)]
    two = [s for s, _, _ in live_through(2)]
    assert set(two) & set(hour) - {1100, 1200}  # milestones of the first hour outlive it


def test_the_budget_bounds_the_milestones_bytes_and_keeps_them_spread():
    kept = live_through(24, budget=100 * MB)  # five milestones of 20 MB
    milestones = kept[:-3]
    assert sum(n for _, _, n in milestones) <= 100 * MB
    assert len(milestones) == 5
    times = [t for _, t, _ in milestones]
    assert times[0] < 12 * 3600 and times[-1] > 18 * 3600  # not all bunched at one end


def test_saving_applies_the_policy_to_the_files(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    cadence = Cadence(keep_checkpoints=2, milestone_every_s=10.0, milestone_budget_mb=1000.0)
    for step in range(1, 41):  # 40 checkpoints a second apart (the trained_s of the newest)
        checkpoint.save(tmp_path, {"format": checkpoint.FORMAT, "step": step, "trained_s": float(step),
                                   "w": torch.zeros(4)}, keep=2, cadence=cadence)
    kept = [int(p.stem.split("-")[1]) for p in checkpoint.list_checkpoints(tmp_path)]
    assert kept[-2:] == [39, 40] and len(kept) > 2 and kept[0] <= 10
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.sha256")) == \
        sorted(p.name + ".sha256" for p in checkpoint.list_checkpoints(tmp_path))
    checkpoint.save(tmp_path, {"format": checkpoint.FORMAT, "step": 41, "trained_s": 41.0, "w": torch.zeros(4)}, keep=2)
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["step-00000040.pt", "step-00000041.pt"]
