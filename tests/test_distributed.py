"""One run on two gloo processes (torch.distributed.run): one run directory, the same weights as
one process with the same global batch, and the usage errors."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from genlab import checkpoint
from genlab.store import read_events, read_json

SMALL = ["--hp", "hidden=64", "--hp", "latent=8", "--batch-size", "64", "--eval-size", "200",
         "--checkpoint-every", "100000", "--sample-every", "100000", "--quality-every", "100000"]


def genlab(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "genlab", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "GENLAB_OFFLINE": "1"})


def weights(run_dir):
    ckpt = torch.load(checkpoint.list_checkpoints(run_dir)[-1], weights_only=True)
    return ckpt["step"], ckpt["models"]


def test_two_gloo_ranks_train_the_weights_of_one_process_with_the_global_batch(tmp_path):
    runs = tmp_path / "runs"
    one = genlab("train", "vae", "--max-steps", "200", "--name", "one", *SMALL, "--runs-dir", runs)
    assert one.returncode == 0, one.stdout + one.stderr
    two = genlab("train", "vae", "--nproc", "2", "--max-steps", "200", "--name", "two", *SMALL, "--runs-dir", runs)
    assert two.returncode == 0, two.stdout + two.stderr
    assert sorted(p.name for p in runs.iterdir()) == ["one", "two"]  # one directory for both ranks
    assert read_json(runs / "two" / "status.json")["state"] == "finished"
    events, _ = read_events(runs / "two" / "events.jsonl")
    assert [e["step"] for e in events if e["kind"] == "metrics"] == list(range(1, 201))  # each step once
    (step_one, a), (step_two, b) = weights(runs / "one"), weights(runs / "two")
    assert step_one == step_two == 200
    worst = max(float((a[net][k].float() - b[net][k].float()).abs().max()) for net in a for k in a[net])
    print(f"largest weight difference after 200 steps: {worst:.3g}")
    assert worst < 1e-4
    rows_one = [e for e in read_events(runs / "one" / "events.jsonl")[0] if e["kind"] == "metrics"]
    rows_two = [e for e in events if e["kind"] == "metrics"]
    assert abs(rows_one[-1]["loss"] - rows_two[-1]["loss"]) < 1e-2 * abs(rows_one[-1]["loss"])  # averaged metrics


def test_an_indivisible_batch_is_a_usage_error(tmp_path):
    p = genlab("train", "vae", "--nproc", "3", "--batch-size", "64", "--runs-dir", tmp_path / "runs")
    assert p.returncode == 2 and "must split evenly over --nproc 3" in p.stderr
    assert not (tmp_path / "runs").exists()


def test_pause_resume_and_stop_reach_every_rank(tmp_path):
    """Rank 0 reads the control channel and every rank follows at the same step; the launcher
    and both ranks end with the stop, with one checkpoint."""
    import time

    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--nproc", "2", "--max-steps", "100000",
                             "--name", "ctl", *SMALL, "--runs-dir", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "GENLAB_OFFLINE": "1"})
    try:
        deadline = time.time() + 120
        while (read_json(runs / "ctl" / "status.json") or {}).get("step", 0) < 20:
            assert time.time() < deadline and proc.poll() is None, "the run never got going"
            time.sleep(0.1)
        p = genlab("pause", "ctl", "--runs-dir", runs)
        assert p.returncode == 0 and "paused at step" in p.stdout, p.stdout + p.stderr
        p = genlab("resume", "ctl", "--runs-dir", runs)
        assert p.returncode == 0 and "running from step" in p.stdout, p.stdout + p.stderr
        p = genlab("stop", "ctl", "--runs-dir", runs)
        assert p.returncode == 0 and "stopped at step" in p.stdout, p.stdout + p.stderr
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events, _ = read_events(runs / "ctl" / "events.jsonl")
    assert [e["state"] for e in events if e["kind"] == "state"] == ["running", "paused", "running", "stopped"]
    step = read_json(runs / "ctl" / "status.json")["step"]
    assert weights(runs / "ctl")[0] == step  # the stop's checkpoint, at the step every rank stopped


def test_killed_and_resumed_on_as_many_ranks_it_is_the_same_run(tmp_path):
    """SIGKILL to the launcher and its ranks mid-run, then `genlab resume` (which starts as many
    ranks again): the weights equal, bit for bit, those of the same run trained straight through."""
    import signal
    import time

    runs = tmp_path / "runs"
    args = ["vae", "--nproc", "2", "--max-steps", "300", *SMALL[:-6], "--checkpoint-every", "0.3",
            "--sample-every", "100000", "--quality-every", "100000", "--runs-dir", str(runs)]
    straight = genlab("train", *args, "--name", "straight")
    assert straight.returncode == 0, straight.stdout + straight.stderr
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", *args, "--name", "killed"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "GENLAB_OFFLINE": "1"}, start_new_session=True)
    try:
        deadline = time.time() + 120
        while len(checkpoint.list_checkpoints(runs / "killed")) < 3 if (runs / "killed").exists() else True:
            assert time.time() < deadline and proc.poll() is None, "no checkpoints came"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both ranks
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert read_json(runs / "killed" / "status.json")["state"] == "running"  # what a kill leaves
    resumed = genlab("resume", "killed", "--runs-dir", runs)
    assert resumed.returncode == 0 and "killed finished" in resumed.stdout, resumed.stdout + resumed.stderr
    (s1, a), (s2, b) = weights(runs / "straight"), weights(runs / "killed")
    assert s1 == s2 == 300
    assert all(torch.equal(a[net][k], b[net][k]) for net in a for k in a[net])
    events, _ = read_events(runs / "killed" / "events.jsonl")
    assert [e["step"] for e in events if e["kind"] == "metrics"] == list(range(1, 301))  # no step twice


def test_a_run_of_two_ranks_resumes_only_on_two(tmp_path, monkeypatch):
    from genlab.errors import UsageError
    from genlab.train import create, execute, prepare

    run_dir = create(prepare("vae", runs_dir=tmp_path, name="r2", max_steps=10, processes=2, hp={"hidden": 32}))
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    import pytest

    with pytest.raises(UsageError, match="trains on 2 process"):
        execute(run_dir)
