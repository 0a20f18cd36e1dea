"""What a fault campaign broke (issue 10), one test per fault, against the real `genlab` command
and real processes: hang-ups, kills at the edges of a run, a full disk, leftover temporaries,
the control channel's order, hostile control files, run files of the wrong JSON type, huge
lines, garbage checksums and metric mirrors, bad hyperparameters, racing resumes, links planted
in run directories, and runs seen by another user."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import built_once, needs_root
from test_control import alive, detached, genlab, metrics_rows, status, wait_until  # noqa: F401 (fixture)

from genlab.cli.main import main as cli_main
from genlab.core import checkpoint
from genlab.run import control, metrics_log
from genlab.run.files import read_json
from genlab.run.follow import CHUNK, RunFollower
from genlab.run.lock import RunLock
from genlab.run.state import effective_state
from genlab.run.store import list_runs, read_events
from genlab.train.execute import create, execute, prepare

VAE_SMALL = {"hidden": 50, "latent": 5}


def run_cli(capsys, *args) -> tuple[int, str, str]:
    """`genlab ARGS` in this process (its real entry point): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def as_crashed(run_dir: Path) -> None:
    """What SIGKILL leaves: status says running, its process is gone, the lock is free."""
    st = read_json(run_dir / "status.json")
    st.update(state="running", pid=dead_pid(), host=socket.gethostname(), heartbeat=time.time())
    (run_dir / "status.json").write_text(json.dumps(st))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A small finished VAE run with three checkpoints, copied by the tests that break one."""
    def build(root):
        run_dir = create(prepare("vae", runs_dir=root, name="done", max_steps=60, hp=VAE_SMALL,
                                 checkpoint_every_s=1e-6, eval_size=200))
        assert execute(run_dir) == "finished"

    return built_once(tmp_path_factory, "finished-run", build) / "done"


def copy_run(src: Path, runs: Path, name: str) -> Path:
    dst = runs / name
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config["run_id"] = name
    (dst / "config.json").write_text(json.dumps(config))
    return dst


# --------------------------------------------------------------------------- 1. hang-ups


def test_a_hang_up_stops_a_foreground_run_with_a_checkpoint(runs):
    p = subprocess.Popen([sys.executable, "-m", "genlab", "train", "vae", "--max-steps", "1000000", "--name", "hup",
                          "--runs-dir", str(runs)], start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        run_dir = runs / "hup"
        wait_until(lambda: (run_dir / "status.json").exists() and status(run_dir).get("step", 0) > 50,
                   what="training")
        p.send_signal(signal.SIGHUP)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    st = status(run_dir)
    assert st["state"] == "stopped" and "hung up" in st["reason"], st
    assert st["step"] > 50
    assert checkpoint.list_checkpoints(run_dir)[-1].name == f"step-{st['step']:08d}.pt"  # nothing lost


def test_a_detached_run_ignores_a_hang_up(detached, runs):
    run_dir, pid = detached("vae", "hupd", "--max-steps", "1000000")
    os.kill(pid, signal.SIGHUP)
    step = status(run_dir)["step"]
    wait_until(lambda: status(run_dir)["step"] > step + 20, what="training to go on after the hang-up")
    p = genlab("stop", "hupd", "--runs-dir", runs, check=True)
    assert "stopped at step" in p.stdout
    assert status(run_dir)["reason"] == "stopped by request"


# --------------------------------------------------------------------------- 2, 3, 5. kills at the edges


def test_killed_after_its_final_checkpoint_a_run_is_finished_by_resume(finished_run, runs, capsys):
    run_dir = copy_run(finished_run, runs, "fin")
    as_crashed(run_dir)
    final = checkpoint.list_checkpoints(run_dir)[-1]
    final.with_name(final.name + ".sha256").unlink()  # killed before its checksum was written, too
    assert [r.state for r in list_runs(runs)] == ["crashed"]
    rows_before = len(metrics_rows(run_dir))
    code, out, err = run_cli(capsys, "resume", "fin", "--runs-dir", runs)
    assert code == 0, out + err
    assert "finishing it, no training" in out and "run fin finished" in out
    assert status(run_dir)["state"] == "finished"
    assert len(metrics_rows(run_dir)) == rows_before == 60  # not one step more
    events, _ = read_events(run_dir / "events.jsonl")
    final_evals = [e for e in events if e["kind"] == "eval" and e["step"] == 60 and not e.get("quality")]
    assert len(final_evals) == 1  # the end's evaluation was there already: not done twice
    code, _, err = run_cli(capsys, "resume", "fin", "--runs-dir", runs)
    assert code == 2 and "extend it with --epochs or --max-steps" in err  # finished now, truly


def test_killed_before_its_first_checkpoint_a_run_starts_again_from_step_0(runs, capsys):
    run_dir = create(prepare("vae", runs_dir=runs, name="early", max_steps=30, hp=VAE_SMALL, eval_size=200))
    as_crashed(run_dir)
    # what killed writers leave behind: partial temporaries (removed when the run starts again)
    leftovers = [run_dir / "checkpoints" / ".step-00000000.pt.tmp-4242", run_dir / ".status.json.tmp-4242",
                 run_dir / "samples" / ".step-00000010.png.tmp-4242-abcd"]
    for p in leftovers:
        p.write_bytes(b"\0" * 1000)
    assert checkpoint.list_checkpoints(run_dir) == []
    code, out, err = run_cli(capsys, "resume", "early", "--runs-dir", runs)
    assert code == 0, out + err
    assert "has no checkpoint yet: starting it again from step 0" in out
    assert [r["step"] for r in metrics_rows(run_dir)] == list(range(1, 31))
    assert not any(p.exists() for p in leftovers)
    # the same weights as a run that was never killed
    straight = create(prepare("vae", runs_dir=runs, name="straight", max_steps=30, hp=VAE_SMALL, eval_size=200))
    execute(straight)
    a = torch.load(checkpoint.list_checkpoints(straight)[-1], weights_only=True)["models"]["vae"]
    b = torch.load(checkpoint.list_checkpoints(run_dir)[-1], weights_only=True)["models"]["vae"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def pickled(run_dir: Path, step: int, marker: Path) -> Path:
    """A hostile checkpoint at ``step``: a plain pickle that would make ``marker`` if unpickled,
    its checksum beside it (whoever could write the one could write the other)."""
    import hashlib
    import pickle

    class Hostile:
        def __reduce__(self):
            return os.mkdir, (str(marker),)

    path = checkpoint.path_for(run_dir, step)
    data = pickle.dumps({"format": checkpoint.FORMAT, "step": step, "models": Hostile()}, protocol=4)
    path.write_bytes(data)
    path.with_name(path.name + ".sha256").write_text(hashlib.sha256(data).hexdigest() + "\n")
    return path


def test_a_pickle_checkpoint_is_refused_in_one_line(finished_run, runs, capsys, tmp_path):
    run_dir = copy_run(finished_run, runs, "hostile")
    newest = checkpoint.list_checkpoints(run_dir)[-1]
    pickled(run_dir, int(newest.stem[5:]), tmp_path / "ran")
    code, _, err = run_cli(capsys, "sample", "hostile", "-n", 4, "--out", tmp_path / "x.npy", "--runs-dir", runs)
    assert code == 0, err
    assert err == f"genlab: warning: skipping {newest}: not a genlab checkpoint (it holds more than tensors and " \
                  "plain data; nothing in it was run)\n"
    assert not (tmp_path / "ran").exists()


def test_with_every_checkpoint_corrupt_a_resume_starts_again_at_the_length_it_asks(runs, capsys, tmp_path):
    """No good checkpoint: the run starts again from step 0 (as promised), to the new length
    asked for, and each checkpoint it skipped is a warning event, not only a line on stderr."""
    run_dir = create(prepare("vae", runs_dir=runs, name="rotten", max_steps=30, hp=VAE_SMALL, eval_size=200,
                             quality_samples=200, quality_k=10))
    as_crashed(run_dir)
    pickled(run_dir, 10, tmp_path / "ran")
    checkpoint.path_for(run_dir, 20).write_bytes(b"torn")
    code, out, err = run_cli(capsys, "resume", "rotten", "--max-steps", 3, "--runs-dir", runs)
    assert code == 0, out + err
    assert "starting it again from step 0" in out
    assert [r["step"] for r in metrics_rows(run_dir)] == [1, 2, 3]
    assert read_json(run_dir / "config.json")["total_steps"] == 3 and status(run_dir)["state"] == "finished"
    warnings = [e["message"] for e in read_events(run_dir / "events.jsonl")[0] if e["kind"] == "warning"]
    assert [w.split(":")[0] for w in warnings] == ["skipping checkpoint step-00000020.pt",
                                                   "skipping checkpoint step-00000010.pt"], warnings
    assert not (tmp_path / "ran").exists()


def test_resuming_a_finished_run_of_two_processes_is_refused_before_any_starts(finished_run, runs, capsys,
                                                                               monkeypatch):
    """As a finished run of one process is: at once, one line, exit 2, no launcher started."""
    import genlab.cli.control

    run_dir = copy_run(finished_run, runs, "two")
    config = read_json(run_dir / "config.json")
    (run_dir / "config.json").write_text(json.dumps({**config, "processes": 2}))

    def launched(*args, **kwargs):
        raise AssertionError("processes were started")

    monkeypatch.setattr(genlab.cli.control, "train_on_processes", launched)
    monkeypatch.setattr(genlab.cli.control, "start_detached", launched)
    for detach in ([], ["--detach"]):
        code, _, err = run_cli(capsys, "resume", "two", *detach, "--runs-dir", runs)
        assert code == 2 and err == "genlab: error: run two finished at step 60; extend it with --epochs or " \
                                    "--max-steps\n", err
    assert len(checkpoint.list_checkpoints(run_dir)) == len(checkpoint.list_checkpoints(finished_run))


# --------------------------------------------------------------------------- 4. a full disk


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (the machines this runs on let root mount one)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True)
    assert p.returncode == 0, f"this test needs to mount a small tmpfs: {p.stderr.strip()}"
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_run_in_one_line_and_loses_nothing(small_disk):
    runs = small_disk / "runs"
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * (1 << 20))
    args = ["--runs-dir", runs]
    # a checkpoint of this VAE is about 1 MB: the disk fills within a few checkpoints
    p = genlab("train", "vae", "--name", "full", "--max-steps", "1000000", "--hp", "hidden=50", "--hp", "latent=5",
               "--checkpoint-every", "0.3", "--keep-checkpoints", "10", *args)
    run_dir = runs / "full"
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stderr.strip().count("\n") == 0 and "no space left on the device" in p.stderr, p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    st = status(run_dir)
    assert st["state"] == "failed" and "no space left" in st["reason"]
    events, _ = read_events(run_dir / "events.jsonl")
    assert any(e["kind"] == "error" and "no space left" in e["message"] for e in events)
    assert not list(run_dir.rglob(".*.tmp-*")), list(run_dir.rglob(".*.tmp-*"))
    good = checkpoint.newest_good(run_dir)
    assert good is not None and good[1]["step"] > 0  # the previous checkpoint is intact

    # resuming while the disk is still full: one line again, nothing left behind
    p = genlab("resume", "full", "--max-steps", good[1]["step"] + 5, *args)
    assert p.returncode == 1 and "no space left" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not list(run_dir.rglob(".*.tmp-*"))
    # once there is room, it resumes and finishes
    ballast.unlink()
    for old in checkpoint.list_checkpoints(run_dir)[:-1]:
        old.unlink()
    step = checkpoint.newest_good(run_dir)[1]["step"]
    p = genlab("resume", "full", "--max-steps", step + 5, *args)
    assert p.returncode == 0, p.stdout + p.stderr
    assert status(run_dir)["state"] == "finished"


# --------------------------------------------------------------------------- 6, 7. the control channel


def test_commands_apply_in_order_each_once(detached, runs):
    run_dir, pid = detached("vae", "order", "--max-steps", "1000000")
    wait_until(lambda: status(run_dir).get("step", 0) > 10, what="training")
    pauses = [subprocess.Popen([sys.executable, "-m", "genlab", "pause", "order", "--runs-dir", str(runs)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(20)]
    answers = [(p.wait(timeout=120), p.stdout.read()) for p in pauses]
    assert all(code == 0 and "paused at step" in out for code, out in answers), answers
    p = genlab("resume", "order", "--runs-dir", runs)
    assert p.returncode == 0 and "running from step" in p.stdout, p.stdout + p.stderr
    step = status(run_dir)["step"]
    wait_until(lambda: status(run_dir)["step"] > step + 20, what="training after one resume")
    assert status(run_dir)["state"] == "running"
    # a pause followed by a stop: the later intent wins, the run stops
    control.send(run_dir, "pause")
    control.send(run_dir, "stop")
    wait_until(lambda: not alive(pid), what="the stop")
    assert status(run_dir)["state"] == "stopped"


def test_hostile_control_files_neither_hang_nor_kill_the_trainer(detached, runs):
    run_dir, pid = detached("vae", "hostile", "--max-steps", "1000000")
    d = run_dir / "control"
    os.mkfifo(d / "0001-fifo.json")
    os.symlink("/dev/zero", d / "0002-zero.json")
    (d / "0003-big.json").write_text(json.dumps({"command": "pause", "pad": "x" * 100_000}))
    wait_until(lambda: sum(e["kind"] == "warning" for e in read_events(run_dir / "events.jsonl")[0]) >= 3,
               what="three warnings")
    messages = [e["message"] for e in read_events(run_dir / "events.jsonl")[0] if e["kind"] == "warning"]
    assert any("not a plain file" in m for m in messages)
    assert any("symbolic link" in m for m in messages)
    assert any("more than a command's" in m for m in messages)
    step = status(run_dir)["step"]
    wait_until(lambda: status(run_dir)["step"] > step + 20, what="training to go on")
    assert genlab("stop", "hostile", "--runs-dir", runs).returncode == 0
    wait_until(lambda: not alive(pid), what="the stop")


def test_a_live_process_without_a_heartbeat_shows_as_stalled(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    lock = RunLock(run_dir)
    assert lock.acquire()
    try:
        st = {"state": "running", "pid": os.getpid(), "host": socket.gethostname(), "step": 5,
              "heartbeat": time.time() - 120}
        assert effective_state(st, run_dir) == "stalled"
        assert effective_state({**st, "heartbeat": time.time()}, run_dir) == "running"
    finally:
        lock.release()
    assert effective_state(st, run_dir) == "crashed"


# --------------------------------------------------------------------------- 8. files of the wrong JSON type


BROKEN = [
    ("config.json", "[1, 2]", "config.json is a list"),
    ("config.json", '"hello"', "config.json is a string"),
    ("config.json", None, "'created' is a string"),  # "created": "yesterday"
    ("status.json", "[1]", "status.json is a list"),
    ("status.json", None, "'step' is a string"),  # "step": "many"
    ("events.jsonl", "[1, 2, 3]\n", None),
    ("events.jsonl", '{"t": 1, "step": "x", "kind": "metrics", "loss": 1}\n', None),
    ("metrics.json", '{"columns": 5}', None),
]


def break_file(run_dir: Path, name: str, text: str | None) -> None:
    path = run_dir / name
    if text is None:  # one field of the wrong type
        data = json.loads(path.read_text())
        data.update({"created": "yesterday"} if name == "config.json" else {"step": "many"})
        text = json.dumps(data)
    if name == "events.jsonl":
        with open(path, "a") as f:
            f.write(text)
    else:
        path.write_text(text)


@pytest.mark.parametrize("name, text, problem", BROKEN, ids=[f"{n}={t or 'field'}" for n, t, _ in BROKEN])
def test_a_file_of_the_wrong_type_makes_one_run_unreadable(name, text, problem, finished_run, runs, capsys):
    copy_run(finished_run, runs, "good")
    broken = copy_run(finished_run, runs, "broken")
    break_file(broken, name, text)
    code, out, err = run_cli(capsys, "runs", "--runs-dir", runs)
    assert code == 0 and "Traceback" not in out + err
    assert "good" in out and "broken" in out
    code, out, err = run_cli(capsys, "runs", "--json", "--runs-dir", runs)
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["good"]["state"] == "finished"
    if problem:
        assert rows["broken"]["state"] == "unreadable" and problem in rows["broken"]["problem"]
    else:
        assert rows["broken"]["state"] == "finished"
    code, out, err = run_cli(capsys, "show", "broken", "--runs-dir", runs)
    if problem:
        assert code == 2 and err.count("\n") == 1 and "is unreadable" in err and problem in err
    else:
        assert code == 0
    code, out, err = run_cli(capsys, "resume", "broken", "--max-steps", 70, "--runs-dir", runs)
    assert code in (0, 1, 2) and "Traceback" not in out + err
    if name != "config.json" or problem is None:  # with a good checkpoint, resume repairs the rest
        assert code == 0, out + err
        assert [r["step"] for r in metrics_rows(broken)] == list(range(1, 71))
    # the follower (what the cockpit reads) never raises, and says what is wrong
    view = RunFollower(broken).poll()
    if problem and name == "status.json":
        assert view.problem is None or problem not in view.problem  # resume rewrote status.json


async def test_the_cockpit_shows_broken_runs_and_carries_on(finished_run, runs):
    from tui.app import GenlabApp
    from tui.screens.dashboard import Dashboard
    from tui.source import RunsSource
    from tui.widgets.runs_table import RunsTable

    copy_run(finished_run, runs, "good")
    for i, (name, text, _) in enumerate(BROKEN):
        break_file(copy_run(finished_run, runs, f"broken-{i}"), name, text)
    with open(runs / "broken-5" / "events.jsonl", "a") as f:  # and a line over the follower's block
        f.write('{"kind": "warning", "message": "' + "x" * (CHUNK + 10) + '"}\n')
        f.write(json.dumps({"t": 1.0, "step": 60, "kind": "warning", "message": "after the long line"}) + "\n")
    app = GenlabApp(RunsSource(runs), load_models=False)
    async with app.run_test(size=(200, 40)) as pilot:  # (room for each reason beside its state)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and app.screen.query_one(RunsTable).row_count < len(BROKEN) + 1:
            await pilot.pause(0.1)
        table = app.screen.query_one(RunsTable)
        cells = [str(table.get_cell(k, "status")) for k in table.rows]
        assert sum(c.startswith("unreadable: ") for c in cells) == 5, cells
        for i in range(len(BROKEN)):
            app.open_run(f"broken-{i}")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (isinstance(app.screen, Dashboard) and app.screen.snapshot):
                await pilot.pause(0.1)
            assert isinstance(app.screen, Dashboard) and app.screen.snapshot is not None
            if i == 5:
                assert any(e.get("message") == "after the long line" for e in app.screen.snapshot.events)
                assert "over 8 MiB" in (app.screen.snapshot.problem or "")
            await pilot.press("escape")
        assert app.return_code is None  # still running


def test_the_cockpit_exits_non_zero_when_it_fails():
    import typer

    from genlab.cli.cockpit import run_app

    class Failed:
        return_code = 1

        def run(self):
            pass

    with pytest.raises(typer.Exit) as e:
        run_app(Failed())
    assert e.value.exit_code == 1


# --------------------------------------------------------------------------- 9, 10, 11. huge lines, garbage


def test_a_line_over_the_block_size_is_skipped_not_a_freeze(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    events = run / "events.jsonl"
    with open(events, "w") as f:
        f.write(json.dumps({"t": 1, "step": 1, "kind": "warning", "message": "before"}) + "\n")
        f.write('{"kind":"warning","message":"' + "y" * (CHUNK + 1))  # its end not written yet
    follower = RunFollower(run)
    view = follower.poll()
    assert [e["message"] for e in view.events] == ["before"]
    with open(events, "a") as f:
        f.write('"}\n' + json.dumps({"t": 2, "step": 2, "kind": "warning", "message": "after"}) + "\n")
    view = follower.poll()
    assert [e["message"] for e in view.events] == ["before", "after"]
    assert "skipped 1 line(s) over 8 MiB" in view.problem
    assert "skipped 1 line(s) over 8 MiB" in follower.poll().problem  # a quiet look does not clear it
    with open(events, "a") as f:
        f.write(json.dumps({"t": 3, "step": 3, "kind": "warning", "message": "later"}) + "\n")
    assert follower.poll().events[-1]["message"] == "later"


def test_garbage_in_the_newest_checksum_falls_back_to_the_previous_checkpoint(finished_run, runs, capsys, tmp_path):
    run_dir = copy_run(finished_run, runs, "sums")
    *_, previous, newest = checkpoint.list_checkpoints(run_dir)
    newest.with_name(newest.name + ".sha256").write_bytes(bytes(range(256)) * 4)
    code, out, err = run_cli(capsys, "sample", "sums", "-n", 4, "--out", tmp_path / "x.npy", "--runs-dir", runs)
    assert code == 0, err
    assert "checksum mismatch" in err and f"step {int(previous.stem[5:]):,}" in out
    assert np.load(tmp_path / "x.npy").shape == (4, 28, 28)


def test_a_garbage_metrics_mirror_is_rebuilt_on_resume(finished_run, runs):
    run_dir = copy_run(finished_run, runs, "mirror")
    cols = metrics_log.columns(run_dir)
    (run_dir / "metrics.bin").write_bytes(np.random.default_rng(0).bytes(8 * len(cols) * 27))  # 27 rows of noise
    assert execute(run_dir, resume=True, max_steps=70) == "finished"
    cols, rows, _ = metrics_log.read(run_dir)
    expected = metrics_rows(run_dir)
    assert rows[:, 0].tolist() == [r["step"] for r in expected] == list(range(1, 71))
    assert rows[:, cols.index("loss")].tolist() == [r["loss"] for r in expected]


# --------------------------------------------------------------------------- 14. racing resumes


def test_a_resume_that_loses_the_race_says_another_process_holds_the_run(finished_run, runs, capsys):
    run_dir = copy_run(finished_run, runs, "race")
    st = read_json(run_dir / "status.json")
    (run_dir / "status.json").write_text(json.dumps({**st, "state": "stopped"}))
    # another process holds the run (this one, here): the loser says so, whatever log.txt says
    lock = RunLock(run_dir)
    assert lock.acquire()
    try:
        with open(run_dir / "log.txt", "a") as f:
            f.write("12:00:00 step 5,000/9,000  epoch 1/2  1,000 img/s  eta 5s  loss 100\n")
        code, out, err = run_cli(capsys, "resume", "race", "--max-steps", 100000, "--detach", "--runs-dir", runs)
        assert code == 2 and f"held by another process (pid {os.getpid()})" in err, err
        assert "img/s" not in err
    finally:
        lock.release()
    # two real resumes at once: one trains, the other says why it does not
    procs = [subprocess.Popen([sys.executable, "-m", "genlab", "resume", "race", "--max-steps", "100000", "--detach",
                               "--runs-dir", str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    try:
        assert sorted(code for code, _, _ in results) == [0, 2], results
        loser = next(err for code, _, err in results if code == 2)
        assert "held by another process" in loser or "already running" in loser, loser
        assert "img/s" not in loser
    finally:
        genlab("stop", "race", "--runs-dir", runs)


# --------------------------------------------------------------------------- 12, 13: see test_bad_input.py
# --------------------------------------------------------------------------- 15. links and other owners


def test_a_control_directory_that_is_a_link_is_refused(finished_run, runs, capsys, tmp_path):
    run_dir = copy_run(finished_run, runs, "ctl-link")
    st = read_json(run_dir / "status.json")
    (run_dir / "status.json").write_text(json.dumps({**st, "state": "running", "pid": os.getpid(),
                                                     "host": "elsewhere", "heartbeat": time.time()}))
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    shutil.rmtree(run_dir / "control")
    os.symlink(target, run_dir / "control")
    code, _, err = run_cli(capsys, "pause", "ctl-link", "--runs-dir", runs)
    assert code == 2 and "control/ is not a plain directory" in err
    assert target.stat().st_mode & 0o777 == 0o755 and not list(target.iterdir())


def test_a_log_that_is_a_link_is_never_written_through(finished_run, runs, capsys, tmp_path):
    run_dir = copy_run(finished_run, runs, "log-link")
    as_crashed(run_dir)
    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    (run_dir / "log.txt").unlink()
    os.symlink(secret, run_dir / "log.txt")
    code, _, err = run_cli(capsys, "resume", "log-link", "--max-steps", 70, "--runs-dir", runs)
    assert code == 2 and "log.txt is a symbolic link" in err
    assert secret.read_text() == "root only\n"


def test_a_link_planted_at_a_temporary_name_is_never_written_through(detached, runs, tmp_path):
    run_dir, pid = detached("vae", "planted", "--max-steps", "1000000")
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0\n")
    for name in (f".status.json.tmp-{pid}", f".events.jsonl.tmp-{pid}", f".config.json.tmp-{pid}"):
        os.symlink(target, run_dir / name)
    beat = status(run_dir)["heartbeat"]
    wait_until(lambda: status(run_dir)["heartbeat"] > beat + 3, what="status.json rewritten a few times")
    genlab("pause", "planted", "--runs-dir", runs, check=True)  # a checkpoint, config and status written
    assert target.read_text() == "root:x:0:0\n"
    genlab("stop", "planted", "--runs-dir", runs, check=True)


@needs_root
def test_a_run_directory_that_is_a_link_or_another_users_is_refused(finished_run, runs, capsys, tmp_path):
    real = copy_run(finished_run, tmp_path, "real")
    runs.mkdir(exist_ok=True)
    os.symlink(real, runs / "linked")
    code, _, err = run_cli(capsys, "resume", "linked", "--max-steps", 70, "--runs-dir", runs)
    assert code == 2 and "is a symbolic link" in err
    theirs = copy_run(finished_run, runs, "theirs")
    os.chown(theirs, 12345, 12345)
    code, _, err = run_cli(capsys, "resume", "theirs", "--max-steps", 70, "--runs-dir", runs)
    assert code == 2 and "only its owner can control it" in err
    assert len(metrics_rows(theirs)) == 60


# --------------------------------------------------------------------------- 16. another user's view


def as_user(uid: int, fn) -> str:
    """``fn()`` in a forked child running as ``uid``; returns what it returned (a string)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the other user, answer through the pipe, never return
        try:
            os.close(r)
            os.setgid(uid)
            os.setuid(uid)
            answer = str(fn())
        except BaseException as e:  # noqa: BLE001 - report anything to the parent
            answer = f"child failed: {e!r}"
        os.write(w, answer.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        answer = f.read()
    os.waitpid(pid, 0)
    return answer


@needs_root
def test_another_user_sees_a_live_run_as_live_and_cannot_control_it():
    shared = Path(tempfile.mkdtemp(prefix="genlab-shared-"))
    os.chmod(shared, 0o755)
    runs = shared / "runs"
    p = genlab("train", "vae", "--detach", "--name", "live", "--max-steps", "1000000", "--runs-dir", runs)
    assert p.returncode == 0, p.stderr
    run_dir = runs / "live"
    pid = status(run_dir)["pid"]
    wait_until(lambda: status(run_dir)["state"] == "running", what="the run to leave starting")  # (--detach answers at once)
    try:
        def look() -> str:
            from genlab.run.store import check_controllable, load_run

            state = load_run(run_dir).state
            try:
                check_controllable(run_dir)
                refused = "allowed"
            except Exception as e:  # noqa: BLE001
                refused = str(e)
            return json.dumps({"state": state, "refused": refused})

        seen = json.loads(as_user(65534, look))
        assert seen["state"] == "running", seen
        assert "only its owner can control it" in seen["refused"]
        assert status(run_dir)["state"] == "running" and alive(pid)
    finally:
        genlab("stop", "live", "--runs-dir", runs)
        shutil.rmtree(shared, ignore_errors=True)


# --------------------------------------------------------------------------- found by bench/kill_campaign.py

KILLED_AFTER_CHECKPOINT = """
import os, sys
from genlab.core import checkpoint
from genlab.train.execute import execute
real_save, calls = checkpoint.save, []
def save(*args, **kwargs):
    path = real_save(*args, **kwargs)
    calls.append(path)
    if len(calls) == 3:
        os._exit(9)  # killed the moment the checkpoint is on disk, before anything else is written
    return path
checkpoint.save = save
execute(__import__("pathlib").Path(sys.argv[1]))
"""


def test_killed_the_moment_a_checkpoint_lands_no_metric_row_is_lost(runs):
    run_dir = create(prepare("vae", runs_dir=runs, name="landed", max_steps=400, hp=VAE_SMALL, eval_size=200,
                             checkpoint_every_s=0.05, metrics_every_s=10.0))
    p = subprocess.run([sys.executable, "-c", KILLED_AFTER_CHECKPOINT, str(run_dir)], capture_output=True, text=True)
    assert p.returncode == 9, p.stderr
    step = checkpoint.newest_good(run_dir)[1]["step"]
    assert 0 < step < 400
    assert [r["step"] for r in metrics_rows(run_dir)][:step] == list(range(1, step + 1))  # on disk already
    assert execute(run_dir, resume=True) == "finished"
    assert [r["step"] for r in metrics_rows(run_dir)] == list(range(1, 401))
