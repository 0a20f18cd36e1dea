"""One run on two gloo processes (torch.distributed.run): one run directory, the same weights as
one process with the same global batch, and the usage errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch

from genlab import checkpoint
from genlab.lock import is_locked
from genlab.store import read_events, read_json

SMALL = ["--hp", "hidden=64", "--hp", "latent=8", "--batch-size", "64", "--eval-size", "200",
         "--checkpoint-every", "100000", "--sample-every", "100000", "--quality-every", "100000"]


def genlab(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "genlab", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "GENLAB_OFFLINE": "1"})


def weights(run_dir):
    ckpt = torch.load(checkpoint.list_checkpoints(run_dir)[-1], weights_only=True)
    return ckpt["step"], ckpt["models"]


ARGS = ["--max-steps", "300", *SMALL[:-6], "--checkpoint-every", "0.3", "--sample-every", "100000",
        "--quality-every", "100000"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """A vae trained on two gloo ranks, straight through: the reference of the tests below."""
    runs = tmp_path_factory.mktemp("ddp") / "runs"
    p = genlab("train", "vae", "--nproc", "2", *ARGS, "--name", "straight", "--runs-dir", runs)
    assert p.returncode == 0, p.stdout + p.stderr
    return runs / "straight"


def test_two_gloo_ranks_train_the_weights_of_one_process_with_the_global_batch(straight, tmp_path):
    runs = tmp_path / "runs"
    one = genlab("train", "vae", *ARGS, "--name", "one", "--runs-dir", runs)
    assert one.returncode == 0, one.stdout + one.stderr
    assert [p.name for p in straight.parent.iterdir()] == ["straight"]  # one directory for both ranks
    assert read_json(straight / "status.json")["state"] == "finished"
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


def test_an_indivisible_batch_is_a_usage_error(tmp_path):
    p = genlab("train", "vae", "--nproc", "3", "--batch-size", "64", "--runs-dir", tmp_path / "runs")
    assert p.returncode == 2 and "must split evenly over --nproc 3" in p.stderr
    assert not (tmp_path / "runs").exists()


def test_detached_a_divergence_on_one_rank_pauses_all_and_control_reaches_every_rank(tmp_path):
    """`--nproc 2 --detach`: rank 1's weights go NaN, every rank pauses; `resume` rolls both back
    to the last good checkpoint (a rank left with NaN weights would diverge again at once);
    pause, resume and stop reach every rank at the same step, and the launcher and its ranks
    end with the stop, with one checkpoint."""
    import time

    from genlab.store import pid_alive

    runs = tmp_path / "runs"
    env = {**os.environ, "GENLAB_OFFLINE": "1", "GENLAB_FAULT_NAN_STEP": "30", "GENLAB_FAULT_RANK": "1"}
    p = subprocess.run([sys.executable, "-m", "genlab", "train", "vae", "--nproc", "2", "--detach", "--max-steps", "100000",
                        "--name", "ctl", *SMALL, "--runs-dir", str(runs)], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0 and "2 processes, launcher pid" in p.stdout, p.stdout + p.stderr
    launcher = int(p.stdout.split("launcher pid ")[1].split(",")[0])

    def wait_for(what, predicate):
        deadline = time.time() + 120
        while not (found := predicate(read_json(runs / "ctl" / "status.json") or {})):
            assert time.time() < deadline and pid_alive(launcher), f"no {what}"
            time.sleep(0.1)
        return found

    try:
        st = wait_for("pause on the divergence", lambda st: st.get("state") == "paused" and st)
        assert st["reason"].startswith("diverged: loss is nan at step 30"), st
        ranks = [r["pid"] for r in st["world"]["ranks"]]
        assert len(ranks) == 2 and all(pid_alive(pid) for pid in ranks)
        p = genlab("resume", "ctl", "--runs-dir", runs)
        assert p.returncode == 0 and "running from step 0" in p.stdout, p.stdout + p.stderr  # its only checkpoint
        wait_for("progress after the rollback", lambda st: st.get("step", 0) >= 60)
        for command, said in (("pause", "paused at step"), ("resume", "running from step"), ("stop", "stopped at step")):
            p = genlab(command, "ctl", "--runs-dir", runs)
            assert p.returncode == 0 and said in p.stdout, (command, p.stdout + p.stderr)
        deadline = time.time() + 60
        while any(pid_alive(pid) for pid in (launcher, *ranks)):
            assert time.time() < deadline, "the launcher or a rank outlived the stop"
            time.sleep(0.1)
    finally:
        if pid_alive(launcher):
            os.killpg(launcher, 9)
    events, _ = read_events(runs / "ctl" / "events.jsonl")
    assert [e["kind"] for e in events].count("rollback") == 1  # the ranks agreed again: no second divergence
    assert [e["state"] for e in events if e["kind"] == "state"][-3:] == ["paused", "running", "stopped"]
    rows = [e for e in events if e["kind"] == "metrics"]
    assert [e["step"] for e in rows] == list(range(1, len(rows) + 1)) and all(math.isfinite(e["loss"]) for e in rows)
    step = read_json(runs / "ctl" / "status.json")["step"]
    assert weights(runs / "ctl")[0] == step == len(rows)  # the stop's checkpoint, at the step every rank stopped


def test_killed_and_resumed_on_as_many_ranks_it_is_the_same_run(straight, tmp_path):
    """SIGKILL to the launcher (its ranks die with it) mid-run, then `genlab resume` (which
    starts as many ranks again): the weights equal, bit for bit, those of the run trained
    straight through."""
    import signal
    import time

    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--nproc", "2", *ARGS, "--name", "killed",
                             "--runs-dir", str(runs)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "GENLAB_OFFLINE": "1"}, start_new_session=True)
    try:
        deadline = time.time() + 120
        while not (runs / "killed").exists() or len(checkpoint.list_checkpoints(runs / "killed")) < 3:
            assert time.time() < deadline and proc.poll() is None, "no checkpoints came"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the launcher alone: its ranks must not go on without it
        proc.wait()
        deadline = time.time() + 30
        while (runs / "killed" / "lock").exists() and is_locked(runs / "killed"):
            assert time.time() < deadline, "rank 0 outlived its launcher"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert read_json(runs / "killed" / "status.json")["state"] == "running"  # what a kill leaves
    resumed = genlab("resume", "killed", "--runs-dir", runs)
    assert resumed.returncode == 0 and "killed finished" in resumed.stdout, resumed.stdout + resumed.stderr
    (s1, a), (s2, b) = weights(straight), weights(runs / "killed")
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


def test_a_rank_that_dies_is_named_and_the_run_resumes(tmp_path):
    """SIGKILL to rank 1 alone: rank 0's next collective fails, and the run's reason names the
    rank that went (every rank beats in ranks/rank-N.json, gathered into status.json's world)."""
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
    assert st["state"] == "failed" and st["reason"].startswith("rank 1 (pid "), st
    resumed = genlab("resume", "one-dies", "--runs-dir", runs)
    assert resumed.returncode == 0 and "one-dies finished" in resumed.stdout, resumed.stdout + resumed.stderr


def test_batchnorm_is_synced_over_the_ranks_on_gpus_and_said_to_stay_local_on_cpus():
    """On GPUs each BatchNorm becomes a SyncBatchNorm in place (the optimiser keeps the very same
    parameters); on CPUs, where PyTorch has none, a notice says so; --no-sync-bn keeps them."""
    from genlab import distributed, models
    from genlab.distributed import World

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
    from genlab.train import create, prepare

    run_dir = create(prepare("dcgan", runs_dir=tmp_path, name="nb", max_steps=10, processes=2, sync_bn=False))
    assert read_json(run_dir / "config.json")["sync_bn"] is False
