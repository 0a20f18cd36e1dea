"""Runs that last days: the metrics record stays within its budget, keeps every spike, and is
still cut exactly at a checkpoint (genlab/record.py)."""

from __future__ import annotations

import math

import numpy as np

from genlab.core import checkpoint
from genlab.run import metrics_log, record
from genlab.run.follow import RunFollower
from genlab.run.record import RecordBudget, aggregate
from genlab.run.store import cut_events, read_events
from genlab.train.execute import create, execute, prepare


def test_the_budget_keeps_every_step_until_it_is_spent():
    now = [0.0]
    budget = RecordBudget(rows_per_s=10, burst=100, clock=lambda: now[0])
    assert budget.group_size(60) == 1  # 40 tokens left
    assert budget.group_size(80) == 2  # 80 steps, 40 rows
    now[0] += 1.0  # 10 tokens back
    assert budget.group_size(1000) == 100
    now[0] += 100.0  # refilled to the burst, no further
    assert budget.group_size(100) == 1 and budget.group_size(1) == 1


def test_an_aggregated_row_keeps_mean_extremes_count_and_range():
    rows = [(s, 100.0 + s, 1, {"loss": float(v)}) for s, v in zip(range(1, 8), [3, 1, 4, 1, 5, 9, 2])]
    events = aggregate(rows, 3)
    assert [(e["first_step"], e["step"], e["n"]) for e in events] == [(1, 3, 3), (4, 6, 3), (7, 7, 1)]
    assert events[1]["loss"] == 5.0 and events[1]["min"] == {"loss": 1.0} and events[1]["max"] == {"loss": 9.0}
    assert aggregate(rows, 1)[0] == {"t": 101.0, "step": 1, "kind": "metrics", "epoch": 1, "loss": 3.0}


def test_a_fast_run_aggregates_within_budget_and_resume_cuts_it_exactly(runs, monkeypatch):
    monkeypatch.setattr(record, "BURST_ROWS", 30)
    monkeypatch.setattr(record, "ROWS_PER_S", 5.0)
    run_dir = create(prepare("vae", runs_dir=runs, name="fast", max_steps=400, eval_size=200,
                             hp={"hidden": 32, "latent": 4}, checkpoint_every_s=0.2, keep_checkpoints=100))
    assert execute(run_dir) == "finished"

    events, _ = read_events(run_dir / "events.jsonl")
    rows = [e for e in events if e["kind"] == "metrics"]
    plain, merged = [r for r in rows if "n" not in r], [r for r in rows if "n" in r]
    assert merged and len(rows) < 400, (len(plain), len(merged))  # past the burst: steps aggregated
    covered = []
    for r in rows:  # every step exactly once, in order
        first = r.get("first_step", r["step"])
        assert r.get("n", 1) == r["step"] - first + 1
        covered += range(first, r["step"] + 1)
    assert covered == list(range(1, 401))
    for r in merged:
        assert r["min"]["loss"] <= r["loss"] <= r["max"]["loss"] and r["min"]["kl"] <= r["max"]["kl"]

    # metrics.bin took the aggregated layout, row for row
    cols, bin_rows, n = metrics_log.read(run_dir)
    assert metrics_log.aggregated(cols) and n == len(rows)
    assert bin_rows[:, 0].tolist() == [r["step"] for r in rows]
    assert bin_rows[:, cols.index("max:loss")].tolist() == [r.get("max", r)["loss"] for r in rows]

    # the follower's envelope keeps the largest spike of all
    view = RunFollower(run_dir).poll()
    _, ys = view.series["loss"].envelope()
    assert math.isclose(max(ys), max(r.get("max", r)["loss"] for r in rows))

    # cut at a checkpoint inside the aggregated stretch: no row straddles it
    steps = [int(p.stem[5:]) for p in checkpoint.list_checkpoints(run_dir)]
    inside = [s for s in steps if merged[0]["first_step"] <= s < 400]
    assert inside, steps
    cut_events(run_dir, inside[0])
    events, _ = read_events(run_dir / "events.jsonl")
    kept = [e for e in events if e["kind"] == "metrics"]
    assert kept[-1]["step"] == inside[0]
    _, bin_rows, _ = metrics_log.read(run_dir)
    assert bin_rows[:, 0].tolist() == [e["step"] for e in kept]
    assert np.all(np.diff(bin_rows[:, 0]) > 0)
