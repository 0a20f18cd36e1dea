"""Run control against real detached runs: detach, pause, resume, stop, exact resume after
SIGKILL, checkpoint fallback, the lock, crash detection, the divergence guard, the control channel."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import needs_root

from genlab.core import checkpoint
from genlab.errors import UsageError
from genlab.run import control, metrics_log
from genlab.run.files import read_json
from genlab.run.state import effective_state
from genlab.run.store import read_events
from genlab.train.execute import StopOnSignals, create, execute, prepare

SMALL_HP = {"gan": [], "vae": [], "pixelcnn": ["--hp", "channels=16", "--hp", "layers=2", "--hp", "batch_size=32"]}


def genlab(*args, env=None, timeout=180, check=False):
    p = subprocess.run([sys.executable, "-m", "genlab", *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, **(env or {})})
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def status(run_dir: Path) -> dict:
    return read_json(run_dir / "status.json") or {}


def wait_until(predicate, timeout=90.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as dead
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


@pytest.fixture
def detached(runs):
    """Start detached runs; at teardown kill whatever is still running."""
    pids = []

    def start(model, name, *args, env=None):
        p = genlab("train", model, "--detach", "--name", name, "--runs-dir", runs, *SMALL_HP[model], "--quality-samples", "200", *args,
                   env=env)
        assert p.returncode == 0, p.stdout + p.stderr
        run_dir = runs / name
        pid = status(run_dir)["pid"]
        pids.append(pid)
        # (--detach answers with the run starting: these tests begin once its worker holds it)
        wait_until(lambda: status(run_dir)["state"] != "starting", what="its worker to report")
        return run_dir, pid

    yield start
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def metrics_rows(run_dir: Path) -> list[dict]:
    events, _ = read_events(run_dir / "events.jsonl")
    return [{k: v for k, v in e.items() if k != "t"} for e in events if e["kind"] == "metrics"]


# --------------------------------------------------------------------------- detach, pause, resume, stop


def test_detached_run_lives_in_its_own_session_and_logs(detached, runs):
    run_dir, pid = detached("vae", "bg", "--max-steps", "100000")
    assert pid != os.getpid() and alive(pid)
    assert os.getsid(pid) == pid  # a session leader: closing the terminal does not reach it
    wait_until(lambda: status(run_dir).get("step", 0) > 20, what="progress")
    log = (run_dir / "log.txt").read_text()
    assert "state running" in log and "run bg: vae" in log
    p = genlab("stop", "bg", "--runs-dir", runs, check=True)
    assert "stopped at step" in p.stdout
    wait_until(lambda: not alive(pid), what="process exit")
    st = status(run_dir)
    assert st["state"] == "stopped"
    assert checkpoint.list_checkpoints(run_dir)[-1].name == f"step-{st['step']:08d}.pt"


def test_pause_resume_stop_from_the_cli(detached, runs):
    run_dir, pid = detached("gan", "ctl", "--max-steps", "100000")
    wait_until(lambda: status(run_dir).get("step", 0) > 10, what="progress")

    p = genlab("pause", "ctl", "--runs-dir", runs, check=True)
    assert "paused at step" in p.stdout
    st = status(run_dir)
    assert st["state"] == "paused"
    # paused at a step boundary, with a checkpoint of exactly that step, and the process alive
    assert checkpoint.list_checkpoints(run_dir)[-1].name == f"step-{st['step']:08d}.pt"
    beat = st["heartbeat"]
    wait_until(lambda: status(run_dir)["heartbeat"] > beat, what="a heartbeat while paused")
    st2 = status(run_dir)
    assert st2["step"] == st["step"] and st2["state"] == "paused" and alive(pid)

    p = genlab("resume", "ctl", "--runs-dir", runs, check=True)
    assert f"running from step {st['step']:,}" in p.stdout  # the step it paused at, however far it is by now
    wait_until(lambda: status(run_dir)["step"] > st["step"] + 5, what="training to continue")
    assert status(run_dir)["pid"] == pid  # resumed in place, same process

    p = genlab("resume", "ctl", "--runs-dir", runs)
    assert p.returncode == 2 and "already running" in p.stderr  # a live run is not started twice

    genlab("stop", "ctl", "--runs-dir", runs, check=True)
    wait_until(lambda: not alive(pid), what="process exit")
    stopped_at = status(run_dir)["step"]
    assert genlab("pause", "ctl", "--runs-dir", runs).returncode == 2  # nothing to pause

    # a stopped run resumes in a new process, extended; steps stay unique and consecutive
    p = genlab("resume", "ctl", "--max-steps", stopped_at + 20, "--runs-dir", runs, check=True)
    assert f"resuming run ctl from step-{stopped_at:08d}.pt" in p.stdout and "run ctl finished" in p.stdout
    steps = [r["step"] for r in metrics_rows(run_dir)]
    assert steps == list(range(1, stopped_at + 21))

    p = genlab("resume", "ctl", "--runs-dir", runs)
    assert p.returncode == 2 and "extend it with --epochs or --max-steps" in p.stderr


# --------------------------------------------------------------------------- exact resume


# long enough that the kill lands mid-run, whatever the machine's load (the GAN's 150 steps: 4-5 s here,
# the kill in their first half)
STEPS = {"gan": 150, "vae": 1000, "pixelcnn": 300}


# (the vae's exact resume, after a SIGKILL of one of its two ranks: tests/test_distributed.py)
@pytest.mark.parametrize("model", ["gan", "pixelcnn"])
def test_sigkill_then_resume_is_the_same_run(model, detached, runs):
    n = STEPS[model]
    hp = {"pixelcnn": {"channels": 16, "layers": 2, "batch_size": 32}}.get(model, {})
    # (the end's evaluation on 500 held-out digits: what is compared is the training)
    straight = create(prepare(model, runs_dir=runs, name="straight", max_steps=n, hp=hp, eval_size=500,
                              quality_samples=200))
    assert execute(straight) == "finished"

    kill_at = random.Random(model).randrange(n // 5, n // 2)
    run_dir, pid = detached(model, "killed", "--max-steps", n, "--checkpoint-every", "0.2", "--eval-size", "500")
    wait_until(lambda: status(run_dir).get("step", 0) >= kill_at and len(checkpoint.list_checkpoints(run_dir)) >= 2,
               what=f"step {kill_at}")
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), what="the kill")
    killed_step = status(run_dir)["step"]
    assert killed_step < n and effective_state(status(run_dir), run_dir) == "crashed"

    assert execute(run_dir, resume=True) == "finished"

    a = torch.load(checkpoint.list_checkpoints(straight)[-1], weights_only=True)
    b = torch.load(checkpoint.list_checkpoints(run_dir)[-1], weights_only=True)
    assert a["step"] == b["step"] == n
    for part in ("models", "optimizers"):
        flat_a, flat_b = flatten(a[part]), flatten(b[part])
        assert flat_a.keys() == flat_b.keys()
        for key in flat_a:
            if isinstance(flat_a[key], torch.Tensor):
                assert torch.equal(flat_a[key], flat_b[key]), f"{part}.{key} differs"
            else:
                assert flat_a[key] == flat_b[key], f"{part}.{key} differs"
    assert torch.equal(a["fixed_latent"], b["fixed_latent"])
    rows_a, rows_b = metrics_rows(straight), metrics_rows(run_dir)
    assert [r["step"] for r in rows_b] == list(range(1, n + 1))  # no step twice, none missing
    assert rows_a == rows_b  # identical metrics, step by step


def flatten(tree, prefix=""):
    out = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".")] = tree
    return out


# --------------------------------------------------------------------------- checkpoints, lock, crash


def test_truncated_newest_checkpoint_falls_back_to_the_previous(runs):
    run_dir = create(prepare("vae", runs_dir=runs, name="fb", max_steps=40, checkpoint_every_s=1e-6))
    execute(run_dir)
    *_, previous, newest = checkpoint.list_checkpoints(run_dir)
    newest.write_bytes(newest.read_bytes()[:1000])
    p = genlab("resume", "fb", "--max-steps", 50, "--runs-dir", runs, check=True)
    assert f"skipping checkpoint {newest.name}: " in p.stdout and "checksum mismatch" in p.stdout
    assert f"resuming run fb from {previous.name}" in p.stdout
    assert newest.with_name(newest.name + ".corrupt").exists()
    events, _ = read_events(run_dir / "events.jsonl")
    assert any(e["kind"] == "warning" and "skipping checkpoint" in e["message"] for e in events)
    assert [r["step"] for r in metrics_rows(run_dir)] == list(range(1, 51))
    _, rows, _ = metrics_log.read(run_dir)  # the binary mirror was cut the same way
    assert rows[:, 0].tolist() == list(range(1, 51))


def test_the_lock_keeps_a_second_trainer_out(detached, runs):
    run_dir, pid = detached("vae", "locked", "--max-steps", "100000")
    with pytest.raises(UsageError, match="is live: process"):
        execute(run_dir, resume=True)
    assert status(run_dir)["pid"] == pid and alive(pid)


def test_crash_is_detected_from_a_dead_process(detached, runs):
    run_dir, pid = detached("vae", "doomed", "--max-steps", "100000")
    os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), what="the kill")
    rows = json.loads(genlab("runs", "--json", "--runs-dir", runs, check=True).stdout)
    assert rows[0]["id"] == "doomed" and rows[0]["state"] == "crashed"


def test_stale_heartbeat_on_another_host_is_a_crash():
    now = time.time()
    st = {"state": "running", "host": "elsewhere", "pid": 1, "heartbeat": now - 600}
    assert effective_state(st, now=now) == "crashed"
    assert effective_state({**st, "heartbeat": now - 5}, now=now) == "running"
    assert effective_state({**st, "state": "finished"}, now=now) == "finished"


# --------------------------------------------------------------------------- divergence guard


def test_divergence_pauses_a_detached_run_then_resume_with_new_lr(detached, runs):
    run_dir, pid = detached("vae", "nan", "--max-steps", "400", env={"GENLAB_FAULT_NAN_STEP": "150"})
    st = wait_until(lambda: status(run_dir).get("state") == "paused" and status(run_dir), what="the guard")
    assert "diverged" in st["reason"]
    events, _ = read_events(run_dir / "events.jsonl")
    (warning,) = [e for e in events if e["kind"] == "warning"]
    assert "loss is nan at step 150" in warning["message"]
    assert all(r["step"] < 150 for r in metrics_rows(run_dir))
    for path in checkpoint.list_checkpoints(run_dir):  # no poisoned weights were saved
        ckpt = checkpoint.load(path)
        assert all(torch.isfinite(t).all() for t in ckpt["models"]["vae"].values())

    p = genlab("resume", "nan", "--lr", "0.0005", "--runs-dir", runs, check=True)
    assert "running from step" in p.stdout
    wait_until(lambda: status(run_dir).get("state") == "finished", what="the run to finish")
    events, _ = read_events(run_dir / "events.jsonl")
    assert [e["lr"] for e in events if e["kind"] == "lr"] == [0.0005]
    assert any(e["kind"] == "rollback" for e in events)
    assert [r["step"] for r in metrics_rows(run_dir)] == list(range(1, 401))
    assert read_json(run_dir / "config.json")["lr"] == 0.0005


def test_divergence_stops_a_foreground_run(runs):
    p = genlab("train", "vae", "--max-steps", "300", "--name", "fg", "--runs-dir", runs,
               env={"GENLAB_FAULT_NAN_STEP": "100"})
    assert p.returncode == 1
    assert "run fg stopped (diverged: loss is nan at step 100)" in p.stdout
    st = status(runs / "fg")
    assert st["state"] == "stopped" and "diverged" in st["reason"]
    # at the last step, read back with the last flush: stopped all the same, never "finished"
    p = genlab("train", "vae", "--max-steps", "5", "--name", "last", "--runs-dir", runs,
               env={"GENLAB_FAULT_NAN_STEP": "5"})
    st = status(runs / "last")
    assert p.returncode == 1 and st["state"] == "stopped" and "diverged" in st["reason"], (p.stdout, st)


# --------------------------------------------------------------------------- signals, control channel


def test_ctrl_c_stops_a_foreground_run_resumably(runs):
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "train", "gan", "--max-steps", "100000",
                             "--name", "fgc", "--runs-dir", str(runs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: status(runs / "fgc").get("step", 0) > 10, what="progress")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    st = status(runs / "fgc")
    assert st["state"] == "stopped" and st["reason"] == "interrupted"
    assert checkpoint.list_checkpoints(runs / "fgc")[-1].name == f"step-{st['step']:08d}.pt"
    assert "continue it with: genlab resume fgc" in out


def test_second_ctrl_c_aborts_at_once():
    class T:
        stop_request = None

    t = T()
    with StopOnSignals(t):
        os.kill(os.getpid(), signal.SIGINT)
        assert t.stop_request == "interrupted"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_malformed_commands_are_ignored_with_a_warning(detached, runs):
    run_dir, pid = detached("vae", "junk", "--max-steps", "100000")
    d = run_dir / "control"
    assert (d.stat().st_mode & 0o777) == 0o700  # only the owner may send commands
    (d / "0001-garbage.json").write_text("{not json")
    (d / "0002-unknown.json").write_text(json.dumps({"command": "explode"}))
    (d / "0003-badlr.json").write_text(json.dumps({"command": "resume", "lr": -1}))
    wait_until(lambda: sum(e["kind"] == "warning" for e in read_events(run_dir / "events.jsonl")[0]) >= 3,
               what="three warnings")
    messages = [e["message"] for e in read_events(run_dir / "events.jsonl")[0] if e["kind"] == "warning"]
    assert any("unknown command 'explode'" in m for m in messages) and any("bad lr -1" in m for m in messages)
    step = status(run_dir)["step"]
    wait_until(lambda: status(run_dir)["step"] > step + 10, what="training to go on")
    assert alive(pid) and status(run_dir)["state"] == "running"


@needs_root
def test_commands_from_another_user_are_ignored(tmp_path):
    inbox = control.Inbox(tmp_path)
    path = control.send(tmp_path, "stop")
    os.chown(path, 12345, 12345)
    commands, warnings = inbox.poll()
    assert commands == [] and "owned by uid 12345" in warnings[0]
    control.send(tmp_path, "pause")
    assert inbox.poll() == ([{"command": "pause"}], [])


def test_a_control_file_that_grows_as_it_is_read_is_too_big_not_malformed(tmp_path, monkeypatch):
    """A big file caught while its writer is still at it: empty when looked at (fstat), more
    than a command once read. It is reported as too big, never as malformed JSON."""
    inbox = control.Inbox(tmp_path)
    (tmp_path / "control" / "0001-big.json").write_bytes(b"\0" * 100_000)
    real_fstat = os.fstat

    def as_just_created(fd):
        st = real_fstat(fd)
        return os.stat_result((*st[:6], 0, *st[7:]))  # st_size 0: the writer has not written yet

    with monkeypatch.context() as m:
        m.setattr(os, "fstat", as_just_created)
        commands, warnings = inbox.poll()
    assert commands == [] and len(warnings) == 1
    assert "more than a command's 4,096 bytes" in warnings[0] and "malformed" not in warnings[0], warnings
    assert not (tmp_path / "control" / "0001-big.json").exists()


def test_resume_after_a_pause_says_the_step_it_paused_at(tmp_path, capsys):
    """Paused at step 3,837, resumed: "running from step 3,837", though the trainer (here a
    stand-in holding the lock) is a step further by the time it says it runs."""
    import socket
    import threading

    from genlab.cli.main import main as cli_main
    from genlab.run.files import atomic_write_json
    from genlab.run.lock import RunLock

    run_dir = create(prepare("vae", runs_dir=tmp_path, name="held", max_steps=10_000))
    lock = RunLock(run_dir)
    assert lock.acquire()
    paused = {**read_json(run_dir / "status.json"), "state": "paused", "pid": os.getpid(),
              "host": socket.gethostname(), "step": 3837, "heartbeat": time.time()}
    atomic_write_json(run_dir / "status.json", paused)
    gone = threading.Event()

    def trainer():  # obeys the resume, then steps on before the command reads its status
        while not gone.is_set() and not any((run_dir / "control").glob("*.json")):
            time.sleep(0.01)
        atomic_write_json(run_dir / "status.json", {**paused, "state": "running", "step": 3838,
                                                    "heartbeat": time.time()})

    stand_in = threading.Thread(target=trainer)
    stand_in.start()
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["resume", "held", "--runs-dir", str(tmp_path)])
    finally:
        gone.set()
        stand_in.join()
        lock.release()
    out = capsys.readouterr().out
    assert exit_info.value.code in (0, None) and "run held running from step 3,837" in out, out
