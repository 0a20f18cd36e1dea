"""One run on two gloo processes (torch.distributed.run): one run directory, the same weights as
one process with the same global batch, and the usage errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from genlab.core import checkpoint
from genlab.run.files import read_json
from genlab.run.lock import is_locked
from genlab.run.store import read_events

SIZE = ["--hp", "hidden=64", "--hp", "latent=8", "--batch-size", "64", "--eval-size", "200", "--quality-samples", "200"]
SMALL = [*SIZE, "--checkpoint-every", "100000", "--sample-every", "100000", "--quality-every", "100000"]


def genlab(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "genlab", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "GENLAB_OFFLINE": "1"})


def weights(run_dir):
    ckpt = torch.load(checkpoint.list_checkpoints(run_dir)[-1], weights_only=True)
    return ckpt["step"], ckpt["models"]


ARGS = ["--max-steps", "300", *SIZE, "--checkpoint-every", "0.3", "--sample-every", "100000",
        "--quality-every", "100000"]


def test_two_gloo_ranks_train_the_weights_of_one_process_and_a_killed_rank_resumes_exactly(tmp_path):
    """Two gloo ranks of the vae with global batch 64 end 300 steps with the weights of one
    process with batch 64 (within float tolerance); then a run of two ranks whose rank 1 is
    SIGKILLed mid-run, resumed, ends with the two-rank run's weights bit for bit (one test:
    the straight run is the reference of both)."""
    straight = tmp_path / "ddp" / "straight"
    p = genlab("train", "vae", "--nproc", "2", *ARGS, "--name", "straight", "--runs-dir", straight.parent)
    assert p.returncode == 0, p.stdout + p.stderr
    runs = tmp_path / "runs"
    one = genlab("train", "vae", *ARGS, "--name", "one", "--runs-dir", runs)
    assert one.returncode == 0, one.stdout + one.stderr
    assert [p.name for p in straight.parent.iterdir()] == ["straight"]  # one directory for both ranks
    assert read_json(straight / "status.json")["state"] == "finished"
    assert read_json(straight / "ranks" / "rank-1.json")["done"] is True  # its part ended: done, not dead
    events, _ = read_events(straight / "events.jsonl")
    assert [e["step"] for e in events if e["kind"] == "metrics"] == list(range(1, 301))  # each step once
    (step_one, a), (step_two, b) = weights(runs / "one"), weights(straight)
    assert step_one == step_two == 300
    worst = max(float((a[net][k].float() - b[net][k].float()).abs().max()) for net in a for k in a[net])
    print(f"largest weight difference after 300 steps: {worst:.3g}")
    assert worst < 1e-4
    rows_one = [e for e in read_events(runs / "one" / "events.jsonl")[0] if e["kind"] == "metrics"]
    rows_two = [e for e in events if e["kind"] == "metrics"]
    assert abs(rows_one[-1]["loss"] - rows_two[-1]["loss"]) < 1e-2 * abs(rows_one[-1]["loss"])  # averaged metrics

    a_rank_that_dies_is_named_and_the_run_resumes_exactly(straight, tmp_path / "killed")


def test_the_launcher_records_a_failure_its_rank_0_could_not(tmp_path):
    """A run whose rank 0 was ended before it recorded why (stuck in a collective until the
    launcher's SIGKILL) still ends failed, naming the rank that went first; a run whose rank 0
    recorded its end keeps it."""
    from genlab.train.execute import record_lost_ranks
    from tests.scripted import make_run

    run = make_run(tmp_path, "stuck", "vae", state="running")
    failures = {0: (4242, -9, 200.0), 1: (4243, -9, 100.0)}
    assert record_lost_ranks(run, failures).startswith("rank 1 (pid 4243) was killed by signal 9")
    st = read_json(run / "status.json")
    assert st["state"] == "failed" and st["reason"].startswith("rank 1 (pid 4243)")
    assert "failed: rank 1 (pid 4243)" in (run / "log.txt").read_text()
    assert record_lost_ranks(run, failures) is None and read_json(run / "status.json") == st


def test_an_indivisible_batch_is_a_usage_error(tmp_path):
    p = genlab("train", "vae", "--nproc", "3", "--batch-size", "64", "--runs-dir", tmp_path / "runs")
    assert p.returncode == 2 and "must split evenly over --nproc 3" in p.stderr
    assert not (tmp_path / "runs").exists()


def test_sigterm_to_the_launcher_stops_every_rank_and_sigkill_takes_them_with_it(tmp_path):
    """SIGTERM to the launcher: every rank stops at one step, with one checkpoint, and it exits
    143. Resumed, then SIGKILL to the launcher alone, mid-run: its ranks die with it (none
    trains on by itself), the lock is free and the run is crashed, for `genlab resume` (which
    starts as many ranks again, as the first test resumes)."""
    import signal
    import time

    from genlab.run.state import effective_state, pid_alive

    runs = tmp_path / "runs"
    env = {**os.environ, "GENLAB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--nproc", "2", "--max-steps", "100000",
                             *SMALL, "--name", "killed", "--runs-dir", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        deadline = time.time() + 120
        while (read_json(runs / "killed" / "status.json") or {}).get("step", 0) < 20:
            assert time.time() < deadline and proc.poll() is None, "the run never got going"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143 and "Traceback" not in out, out
    st = read_json(runs / "killed" / "status.json")
    assert st["state"] == "stopped" and weights(runs / "killed")[0] == st["step"]

    proc = subprocess.Popen([sys.executable, "-m", "genlab", "resume", "killed", "--runs-dir", str(runs)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    stopped_at = st["step"]
    try:
        deadline = time.time() + 120
        status = lambda: read_json(runs / "killed" / "status.json") or {}  # noqa: E731
        ranks = lambda: status().get("world", {}).get("ranks", [])  # noqa: E731
        while not (status().get("state") == "running" and status().get("step", 0) > stopped_at + 20
                   and len(ranks()) == 2 and all(r.get("step", 0) > stopped_at for r in ranks())):
            assert time.time() < deadline and proc.poll() is None, "the resumed run never got going"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the launcher alone: its ranks must not go on without it
        proc.wait()
        pids = [r["pid"] for r in ranks()]
        deadline = time.time() + 30
        while any(pid_alive(pid) for pid in pids) or is_locked(runs / "killed"):
            assert time.time() < deadline, "a rank outlived its launcher"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    st = read_json(runs / "killed" / "status.json")
    assert st["state"] == "running" and effective_state(st, runs / "killed") == "crashed"  # what a kill leaves


def test_a_run_of_two_ranks_resumes_only_on_two(tmp_path, monkeypatch):
    from genlab.errors import UsageError
    from genlab.train.execute import create, execute, prepare

    run_dir = create(prepare("vae", runs_dir=tmp_path, name="r2", max_steps=10, processes=2, hp={"hidden": 32}))
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(UsageError, match="trains on 2 process"):
        execute(run_dir)


def test_a_job_started_by_torchrun_is_one_run(tmp_path):
    """`torchrun ... -m genlab train MODEL` as a cluster runs it: rank 0 makes the directory
    and tells the others; one run, each step once."""
    runs = tmp_path / "runs"
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        "-m", "genlab", "train", "vae", "--max-steps", "40", *SMALL, "--name", "raw", "--runs-dir", str(runs)],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "GENLAB_OFFLINE": "1"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert [d.name for d in runs.iterdir()] == ["raw"] and "run raw finished" in p.stdout
    config = read_json(runs / "raw" / "config.json")
    assert config["processes"] == 2
    events, _ = read_events(runs / "raw" / "events.jsonl")
    assert [e["step"] for e in events if e["kind"] == "metrics"] == list(range(1, 41))
    bad = subprocess.run([sys.executable, "-m", "genlab", "train", "vae", "--nproc", "2", "--runs-dir", str(runs)],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "WORLD_SIZE": "2", "RANK": "1"})
    assert bad.returncode == 2 and "under torchrun (WORLD_SIZE 2)" in bad.stderr  # --nproc inside torchrun


def a_rank_that_dies_is_named_and_the_run_resumes_exactly(straight, tmp_path):
    """SIGKILL to rank 1 alone: rank 0's next collective fails, and the run's reason names the
    rank that went (every rank beats in ranks/rank-N.json, gathered into status.json's world);
    resumed, it ends with the weights of the run trained straight through."""
    import signal
    import time

    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--nproc", "2", *ARGS, "--name", "one-dies",
                             "--runs-dir", str(runs)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "GENLAB_OFFLINE": "1"}, start_new_session=True)
    beat = runs / "one-dies" / "ranks" / "rank-1.json"
    try:
        deadline = time.time() + 120
        while not (read_json(beat) and len((read_json(runs / "one-dies" / "status.json") or {}).get("world", {}).get("ranks", [])) == 2):
            assert time.time() < deadline and proc.poll() is None, "no beats came"
            time.sleep(0.05)
        os.kill(read_json(beat)["pid"], signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    st = read_json(runs / "one-dies" / "status.json")
    assert st["state"] != "finished", "the run ended before the kill landed: give it more steps"
    log = (runs / "one-dies" / "log.txt").read_text(errors="replace")[-3000:]
    assert st["state"] == "failed" and st["reason"].startswith("rank 1 (pid "), (st, log)
    resumed = genlab("resume", "one-dies", "--runs-dir", runs)
    assert resumed.returncode == 0 and "one-dies finished" in resumed.stdout, resumed.stdout + resumed.stderr
    (s1, a), (s2, b) = weights(straight), weights(runs / "one-dies")
    assert s1 == s2 == 300 and all(torch.equal(a[net][k], b[net][k]) for net in a for k in a[net])


def test_batchnorm_is_synced_over_the_ranks_on_gpus_and_said_to_stay_local_on_cpus():
    """On GPUs each BatchNorm becomes a SyncBatchNorm in place (the optimiser keeps the very same
    parameters); on CPUs, where PyTorch has none, a notice says so; --no-sync-bn keeps them."""
    from genlab import models
    from genlab.train import distributed
    from genlab.train.distributed import World

    two = World(rank=0, size=2)
    model = models.build("dcgan", {}, torch.device("cpu"))
    params = [id(p) for net in model.networks.values() for p in net.parameters()]
    assert "SyncBatchNorm needs GPUs" in distributed.sync_batchnorm(model.networks, two, torch.device("cpu"), True)
    assert distributed.sync_batchnorm(model.networks, two, torch.device("cuda"), False) is None
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for net in model.networks.values() for m in net.modules())
    assert distributed.sync_batchnorm(model.networks, two, torch.device("cuda"), True) is None  # (conversion only)
    kinds = {type(m) for net in model.networks.values() for m in net.modules()}
    assert torch.nn.SyncBatchNorm in kinds and not kinds & {torch.nn.BatchNorm1d, torch.nn.BatchNorm2d}
    assert [id(p) for net in model.networks.values() for p in net.parameters()] == params
    opt_params = [id(p) for opt in model.optimizers.values() for g in opt.param_groups for p in g["params"]]
    assert sorted(opt_params) == sorted(params)
    assert distributed.sync_batchnorm(models.build("vae", {}, torch.device("cpu")).networks, two,
                                      torch.device("cpu"), True) is None  # no BatchNorm: nothing to say


def test_no_sync_bn_is_recorded(tmp_path):
    from genlab.train.execute import create, prepare

    run_dir = create(prepare("dcgan", runs_dir=tmp_path, name="nb", max_steps=10, processes=2, sync_bn=False))
    assert read_json(run_dir / "config.json")["sync_bn"] is False


class Stepping:
    """What RankBeat reads of a trainer."""
    step, busy_s, busy_steps = 300, 1.5, 300


def test_a_rank_that_has_done_its_part_says_so_and_is_no_crash(tmp_path):
    """While rank 0 evaluates at the end, rank 1 has ended: its process is gone, its beats
    stopped. Its last beat says it is done, so the run is not called crashed for it (a rank
    that simply stops beating still is)."""
    import socket
    import time

    from genlab.run.files import atomic_write_json
    from genlab.run.lock import RunLock
    from genlab.run.state import effective_state, rank_trouble
    from genlab.train.distributed import RankBeat, World

    with RankBeat(tmp_path, World(rank=1, size=2), Stepping()):
        pass
    mine = read_json(tmp_path / "ranks" / "rank-1.json")
    assert mine["done"] is True and mine["pid"] == os.getpid() and mine["step"] == 300
    with pytest.raises(RuntimeError), RankBeat(tmp_path, World(rank=1, size=2), Stepping()):
        raise RuntimeError("a collective failed")  # no end of its part
    assert "done" not in read_json(tmp_path / "ranks" / "rank-1.json")

    run_dir = tmp_path / "run"
    (run_dir / "ranks").mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now, host = time.time(), socket.gethostname()
    rank1 = {"rank": 1, "host": host, "pid": dead.pid, "step": 300, "beat": now - 4}
    status = {"state": "running", "pid": os.getpid(), "host": host, "step": 300, "heartbeat": now, "updated": now,
              "world": {"size": 2, "ranks": [{"rank": 0, "host": host, "pid": os.getpid(), "step": 300, "beat": now},
                                             rank1]}}
    atomic_write_json(run_dir / "status.json", status)
    lock = RunLock(run_dir)  # rank 0 (this process) holds the run
    assert lock.acquire()
    try:
        atomic_write_json(run_dir / "ranks" / "rank-1.json", rank1)  # it went silent: dead
        assert effective_state(status, run_dir) == "crashed"
        assert rank_trouble(status, now, run_dir=run_dir).startswith(f"rank 1 (pid {dead.pid} on {host}) stopped")
        atomic_write_json(run_dir / "ranks" / "rank-1.json", {**rank1, "done": True})  # its last beat: done
        assert effective_state(status, run_dir) == "running" and rank_trouble(status, now, run_dir=run_dir) is None
        gathered = {**status, "world": {**status["world"], "ranks": [status["world"]["ranks"][0], {**rank1, "done": True}]}}
        assert rank_trouble(gathered, now) is None  # as rank 0 gathers it into status.json
    finally:
        lock.release()
