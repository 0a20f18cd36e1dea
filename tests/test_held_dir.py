"""A run directory swapped while it is written: nothing lands anywhere else.

In a runs root another user can write to, the run's path can be renamed away and a link (to
another run, or to a directory of root's) put in its place. A trainer, ``genlab.init`` and the
tags writer hold their directory open and write through the descriptor (genlab/held.py); the
trainer and ``genlab.init`` notice the swap and stop, saying so in the run itself.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from test_control import wait_until

import genlab
from genlab.errors import UsageError
from genlab.run import tags
from genlab.run.files import read_json
from genlab.run.held import HeldDir
from genlab.run.store import read_events
from genlab.train import execute as train


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def victim_run(root: Path) -> Path:
    """Another run, with checkpoints a trainer writing through the link would prune."""
    other = root / "other"
    (other / "checkpoints").mkdir(parents=True)
    for step in (40, 50, 60):
        (other / "checkpoints" / f"step-{step:08d}.pt").write_bytes(b"weights %d" % step)
    (other / "status.json").write_text('{"state": "stopped", "step": 60}\n')
    return other


def test_held_dir_writes_follow_the_directory(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    with HeldDir(d) as held:
        assert not held.moved()
        os.rename(d, tmp_path / "away")
        assert held.moved()
        d.symlink_to(tmp_path / "elsewhere")
        (tmp_path / "elsewhere").mkdir()
        (held.root / "status.json").write_text("mine")
        assert held.moved()
    assert (tmp_path / "away" / "status.json").read_text() == "mine"
    assert not any((tmp_path / "elsewhere").iterdir())
    with pytest.raises(OSError):
        HeldDir(d)  # a link is never opened as a run


@pytest.mark.parametrize("replacement", ["link to another run", "empty directory"])
def test_trainer_swapped_mid_run_writes_nothing_elsewhere(runs, replacement):
    other = victim_run(runs.parent)
    before = snapshot(other)
    prepared = train.prepare("vae", max_steps=100_000, runs_dir=runs, name="rootrun", checkpoint_every_s=0.05,
                             keep_checkpoints=1, device="cpu")
    run_dir = train.create(prepared)
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("state", train.execute(run_dir)))
    worker.start()
    try:
        wait_until(lambda: (read_json(run_dir / "status.json") or {}).get("step", 0) >= 20, 60)
        moved = runs / "rootrun-moved"
        os.rename(run_dir, moved)
        if replacement == "empty directory":
            run_dir.mkdir()
            os.chmod(run_dir, 0o700)
        else:
            run_dir.symlink_to(other)
    finally:
        worker.join(120)
    assert not worker.is_alive()
    assert result["state"] == "stopped"
    assert snapshot(other) == before, "the trainer wrote into the other run"
    if replacement == "empty directory":
        assert not any(run_dir.iterdir()), "the trainer wrote into the directory put in its place"
    events, _ = read_events(moved / "events.jsonl")
    assert any(e["kind"] == "error" and "moved or replaced" in e["message"] for e in events)
    assert events[-1]["kind"] == "state" and events[-1]["state"] == "stopped"
    status = read_json(moved / "status.json")
    assert status["state"] == "stopped" and "moved or replaced" in status["reason"]
    assert list((moved / "checkpoints").glob("step-*.pt")), "its checkpoints are where it is"


def test_init_run_swapped_stops_and_writes_nothing_elsewhere(runs):
    other = victim_run(runs.parent)
    before = snapshot(other)
    run = genlab.init(name="script", runs_dir=runs)
    run.log({"loss": 1.0})
    os.rename(runs / "script", runs / "script-moved")
    (runs / "script").symlink_to(other)
    wait_until(run.should_stop, 10)
    run.log({"loss": 0.5})
    run.finish()
    assert snapshot(other) == before
    events, _ = read_events(runs / "script-moved" / "events.jsonl")
    assert [e["step"] for e in events if e["kind"] == "metrics"] == [1, 2]
    assert any(e["kind"] == "error" for e in events)
    assert read_json(runs / "script-moved" / "status.json")["state"] == "stopped"


def test_tags_refuse_a_run_that_is_a_link(runs):
    other = victim_run(runs.parent)
    runs.mkdir(parents=True, exist_ok=True)
    (runs / "linked").symlink_to(other)
    with pytest.raises(UsageError, match="cannot open its directory"):
        tags.change(runs / "linked", add=["x"])
    assert not (other / "tags.json").exists()


def test_sweep_worker_stops_when_its_directory_is_swapped(runs, capsys):
    import time

    from genlab.run.sweeps import SweepSpec
    from genlab.sweep.spec import create_sweep
    from genlab.sweep.worker import Worker

    spec = SweepSpec(sweep_id="sw", model="vae", grid={"lr": [1e-3]}, trials=1, objective="test_is_nll",
                     created=time.time())
    sweep_dir = create_sweep(runs, spec)
    other = victim_run(runs.parent)
    before = snapshot(other)
    with HeldDir(sweep_dir) as held:
        worker = Worker(sweep_dir, 1, held)
        os.rename(sweep_dir, runs / "sw-moved")
        sweep_dir.symlink_to(other)
        assert worker.loop() == "stopped"  # before it asks Optuna for anything
    assert "no longer names this sweep's directory" in capsys.readouterr().out
    assert snapshot(other) == before
