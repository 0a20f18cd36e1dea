"""Runs out to TensorBoard and CSV: read back with TensorBoard's own reader and compared with the
run's record, a resumed run included (no step twice), and the bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_faults import run_cli

from genlab.core import checkpoint
from genlab.run.files import read_json
from genlab.run.store import read_events
from genlab.train.execute import create, execute, prepare

VAE_SMALL = {"hidden": 50, "latent": 5}


def reader(logdir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    ea.Reload()
    return ea


def record(run_dir: Path) -> tuple[dict, dict, list[int]]:
    """The run's own record: {metric: {step: value}} of training rows and of evaluations, and the
    steps of its sample grids."""
    events, _ = read_events(run_dir / "events.jsonl")
    train, evals, grids = {}, {}, []
    for e in events:
        where = {"metrics": train, "eval": evals}.get(e["kind"])
        if where is not None:
            for k, v in e.items():
                if k.startswith(("test_", "loss", "recon", "kl")) and isinstance(v, float):
                    assert e["step"] not in where.setdefault(k, {}), f"step {e['step']} twice in the record"
                    where[k][e["step"]] = v
        elif e["kind"] == "samples":
            grids.append(e["step"])
    return train, evals, grids


def assert_same(ea, run_dir: Path) -> None:
    """Every figure at its step, once, with its value (TensorBoard keeps float32)."""
    train, evals, grids = record(run_dir)
    assert train and evals and grids
    for prefix, figures in (("train", train), ("eval", evals)):
        for name, by_step in figures.items():
            got = ea.Scalars(f"{prefix}/{name}")
            steps = [s.step for s in got]
            assert steps == sorted(by_step) and len(set(steps)) == len(steps), name  # each step once
            for s in got:
                assert s.value == pytest.approx(by_step[s.step], rel=1e-6, abs=1e-6), (name, s.step)
    assert [i.step for i in ea.Images("samples")] == grids


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """A VAE trained with live TensorBoard files, killed after a checkpoint with steps written past
    it (what SIGKILL leaves), then resumed: its record and its live event files."""
    base = tmp_path_factory.mktemp("export")
    root, live = base / "runs", base / "live"
    run_dir = create(prepare("vae", runs_dir=root, name="tb", max_steps=60, hp=VAE_SMALL, checkpoint_every_s=1e-6,
                             keep_checkpoints=10, eval_size=200, sample_every_s=0.2, tensorboard=live))
    assert execute(run_dir) == "finished"
    # the process "died" after step 57's checkpoint: the later ones never landed
    for ckpt in checkpoint.list_checkpoints(run_dir):
        if int(ckpt.name[5:13]) > 57:
            ckpt.unlink()
            ckpt.with_name(ckpt.name + ".sha256").unlink(missing_ok=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    st = read_json(run_dir / "status.json")
    st.update(state="running", pid=dead.pid, host=socket.gethostname(), heartbeat=time.time())
    (run_dir / "status.json").write_text(json.dumps(st))
    assert execute(run_dir, resume=True) == "finished"
    events, _ = read_events(run_dir / "events.jsonl")
    assert [e["step"] for e in events if e["kind"] == "state" and e["state"] == "running"] == [0, 57]
    return run_dir, live / "tb"


def test_live_event_files_hold_each_step_once_after_a_resume(resumed_run):
    run_dir, logdir = resumed_run
    assert_same(reader(logdir), run_dir)


def test_export_reads_back_the_record_with_hparams_and_leaves_the_run_alone(resumed_run, tmp_path, capsys):
    run_dir, _ = resumed_run
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in run_dir.rglob("*") if p.is_file()}
    out = tmp_path / "tb"
    code, stdout, err = run_cli(capsys, "export", "tb", "--tensorboard", out, "--csv", tmp_path / "all.csv",
                                "--runs-dir", run_dir.parent)
    assert code == 0, stdout + err
    assert "tensorboard --logdir" in stdout
    ea = reader(out / "tb")
    assert_same(ea, run_dir)
    assert "hparam/test_is_nll" in ea.Tags()["scalars"]  # the final quality beside the hyperparameters
    assert "_hparams_/experiment" in ea.PluginTagToContent("hparams")
    code, _, _ = run_cli(capsys, "export", "tb", "--tensorboard", out, "--runs-dir", run_dir.parent)
    assert code == 0 and [p.name for p in out.iterdir()] == ["tb"]  # replaced whole, no leftovers
    assert_same(reader(out / "tb"), run_dir)  # and not doubled
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in run_dir.rglob("*") if p.is_file()}
    assert after == before

    with open(tmp_path / "all.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    train, evals, _ = record(run_dir)
    assert list(rows[0]) == ["run", "step", "time", "metric", "value"]
    loss = {int(r["step"]): float(r["value"]) for r in rows if r["metric"] == "train/loss"}
    assert loss == train["loss"]  # exactly: CSV keeps every digit
    nll = {int(r["step"]): float(r["value"]) for r in rows if r["metric"] == "eval/test_is_nll"}
    assert nll == evals["test_is_nll"]


@pytest.mark.parametrize("args, message", [
    (["export", "tb"], "say where to: --tensorboard DIR and/or --csv FILE"),
    (["export", "nosuch", "--csv", "x.csv"], "nosuch"),
    (["export", "tb", "--tensorboard", "{file}"], "is a file, not a directory"),
    (["export", "tb", "--csv", "{dir}"], "is a directory, not a file"),
    # a target that is not a regular file is refused, not replaced (a FIFO of the test's own
    # stands for /dev/full: code without the check, run as root, would replace the real device)
    (["export", "tb", "--csv", "{fifo}"], "is a special file"),
    (["export", "tb", "--csv", "{link}"], "is a symbolic link, not a regular file"),
    # the path the user gave is named, not a temporary file beside it
    (["export", "tb", "--csv", "{dir}/none/x.csv"], "none/x.csv: there is no directory"),
])
def test_bad_export_input_is_one_line(resumed_run, tmp_path, capsys, args, message):
    run_dir, _ = resumed_run
    (tmp_path / "afile").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "afile")
    args = [a.format(file=tmp_path / "afile", dir=tmp_path, fifo=tmp_path / "fifo", link=tmp_path / "link") for a in args]
    code, _, err = run_cli(capsys, *args, "--runs-dir", run_dir.parent)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert ".tmp-" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "fifo", "link"]  # nothing written
    assert stat.S_ISFIFO((tmp_path / "fifo").lstat().st_mode) and (tmp_path / "link").is_symlink()
    assert (tmp_path / "afile").read_text() == "x"


def test_export_never_writes_through_a_planted_link(resumed_run, tmp_path, capsys):
    """Links planted at every temporary name export once used (predictable: the pid) are never
    followed: the file they point at keeps its bytes, and the export is a regular file."""
    run_dir, _ = resumed_run
    victim = tmp_path / "victim"
    victim.write_text("secret")
    victim.chmod(0o600)
    out = tmp_path / "out"
    out.mkdir()
    (out / f".all.csv.tmp-{os.getpid()}").symlink_to(victim)
    (tmp_path / "tb").mkdir()
    for name in (f".tb.tmp-{os.getpid()}", f".tb.old-{os.getpid()}"):
        (tmp_path / "tb" / name).symlink_to(victim)
    code, _, err = run_cli(capsys, "export", "tb", "--csv", out / "all.csv", "--tensorboard", tmp_path / "tb",
                           "--runs-dir", run_dir.parent)
    assert code == 0, err
    assert victim.read_text() == "secret" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert stat.S_ISREG((out / "all.csv").lstat().st_mode)
    assert (out / "all.csv").read_text().startswith("run,step,time,metric,value")
    assert stat.S_ISDIR((tmp_path / "tb" / "tb").lstat().st_mode)


def test_without_tensorboard_the_option_says_how_to_get_it(resumed_run, tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    run_dir, _ = resumed_run
    code, _, err = run_cli(capsys, "export", "tb", "--tensorboard", tmp_path / "tb", "--runs-dir", run_dir.parent)
    assert code == 2 and "pip install 'genlab[tensorboard]'" in err
    code, _, err = run_cli(capsys, "train", "vae", "--max-steps", "5", "--tensorboard", tmp_path / "tb",
                           "--runs-dir", tmp_path / "runs")
    assert code == 2 and "pip install 'genlab[tensorboard]'" in err
    assert not (tmp_path / "tb").exists() and not (tmp_path / "runs").exists()  # nothing made
