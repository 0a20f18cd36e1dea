"""genlab.init: a run directory from any training script, watched and controlled like any run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_control import wait_until

import genlab
from genlab.errors import UsageError
from genlab.run.files import read_json
from genlab.run.follow import RunFollower
from genlab.run.store import list_runs, read_events

ROOT = Path(__file__).resolve().parents[1]


def genlab_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "genlab", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


# the script a user writes: logs until told to stop, honouring pauses
LOOP = textwrap.dedent("""
    import sys, time
    import numpy as np
    import genlab

    run = genlab.init(name="loop", config={"lr": 1e-3, "batch_size": 32}, family="vae",
                      panes={"losses": ["loss", "kl"]}, runs_dir=sys.argv[1])
    g = np.random.default_rng(0)
    step = 0
    while not run.should_stop():
        step += 1
        run.log({"loss": 100.0 / step, "kl": np.float32(3.0)}, step=step)
        if step % 50 == 0:
            run.log_images(g.random((16, 28, 28)), step=step)
            run.log({"test_loss": 90.0 / step}, step=step)
        run.wait_if_paused()
        time.sleep(0.002)
    run.finish()
    print("script done at", step)
""")


def test_a_script_run_is_watched_paused_resumed_and_stopped(tmp_path):
    runs = tmp_path / "runs"
    script = tmp_path / "loop.py"
    script.write_text(LOOP)
    proc = subprocess.Popen([sys.executable, str(script), str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        run_dir = runs / "loop"
        follower = RunFollower(run_dir)

        def seen():
            v = follower.poll()
            return v.sample is not None and "loss" in v.series and "test_loss" in v.evals and v.state == "running"

        wait_until(seen, what="curves, samples and an evaluation in the follower")
        v = follower.view
        assert v.series["loss"].envelope(50)[0] and v.sample.shape == (16, 28, 28)
        assert [r.state for r in list_runs(runs)] == ["running"]
        shows = json.loads((run_dir / "view.json").read_text())
        assert shows["panes"][0] == {"title": "losses", "train": ["loss", "kl"], "held_out": ["test_loss", "test_kl"]}

        p = genlab_cli("pause", "loop", "--runs-dir", runs)
        assert p.returncode == 0 and "paused" in p.stdout, p.stdout + p.stderr
        step = read_json(run_dir / "status.json")["step"]
        time.sleep(0.3)  # paused: the script logs nothing more (its heartbeat goes on)
        assert read_json(run_dir / "status.json")["step"] == step
        p = genlab_cli("resume", "loop", "--runs-dir", runs)
        assert p.returncode == 0 and "running" in p.stdout, p.stdout + p.stderr
        wait_until(lambda: read_json(run_dir / "status.json")["step"] > step, what="steps after the resume")
        p = genlab_cli("stop", "loop", "--runs-dir", runs)
        assert p.returncode == 0, p.stdout + p.stderr
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "script done" in out, out + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert read_json(run_dir / "status.json")["state"] == "stopped"
    events, _ = read_events(run_dir / "events.jsonl")
    states = [e["state"] for e in events if e["kind"] == "state"]
    assert states == ["running", "paused", "running", "stopped"]
    p = genlab_cli("resume", "loop", "--runs-dir", runs)
    assert p.returncode == 2 and "made by a script" in p.stderr
    p = genlab_cli("show", "loop", "--runs-dir", runs)
    assert p.returncode == 0 and "made by a script" in p.stdout and "stopped" in p.stdout


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- the example: tests/test_api.py runs this block.*?-->\n```python\n(.*?)```", text, re.S)
    assert block, "README's example block is gone"
    return block.group(1)


def test_the_readme_example_runs_and_exports(tmp_path):
    code = readme_example().replace("STEPS = 5000", "STEPS = 40").replace("step % 200 == 0", "step % 20 == 0")
    (tmp_path / "my_gan.py").write_text(code)
    env = {**os.environ, "GENLAB_RUNS_DIR": str(tmp_path / "runs")}
    p = subprocess.run([sys.executable, "my_gan.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    run_dir = tmp_path / "runs" / "my-gan"
    assert read_json(run_dir / "status.json")["state"] == "finished"
    events, _ = read_events(run_dir / "events.jsonl")
    assert [e["step"] for e in events if e["kind"] == "metrics"] == list(range(1, 41))
    assert [e["step"] for e in events if e["kind"] == "samples"] == [20, 40]
    p = genlab_cli("export", "my-gan", "--csv", tmp_path / "out.csv", env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert sum(1 for line in (tmp_path / "out.csv").read_text().splitlines() if ",train/d_loss," in line) == 40


def test_metrics_first_logged_later_get_their_columns(tmp_path):
    with genlab.init(name="late", runs_dir=tmp_path) as run:
        for step in range(1, 11):
            run.log({"a": float(step)} if step <= 5 else {"a": float(step), "b": -float(step)}, step=step)
    follower = RunFollower(tmp_path / "late")
    v = follower.poll()
    assert v.state == "finished"
    _, ys = v.series["b"].envelope(100)
    assert sorted(set(ys)) == [-10.0, -9.0, -8.0, -7.0, -6.0]  # only where it was logged
    assert len(v.series["a"].envelope(100)[0]) >= 10


def test_a_script_that_raises_is_failed_and_bad_values_are_one_line(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with genlab.init(name="boom", runs_dir=tmp_path) as run:
            run.log({"loss": 1.0})
            1 / 0
    st = read_json(tmp_path / "boom" / "status.json")
    assert st["state"] == "failed" and "ZeroDivisionError" in st["reason"]
    run = genlab.init(name="bad", runs_dir=tmp_path)
    with pytest.raises(UsageError, match="run.log takes numbers"):
        run.log({"loss": "high"})
    with pytest.raises(UsageError, match="N×28×28"):
        run.log_images(np.zeros((4, 32, 32)))
    with pytest.raises(UsageError, match="is held by another process"):
        genlab.api.Run(tmp_path / "bad", run.config)
    run.finish()
    with pytest.raises(UsageError, match="panes maps a title"):
        genlab.init(name="p", runs_dir=tmp_path, panes={"x": "loss"})


@pytest.mark.parametrize("figures, message", [
    *[({name: 1.0}, f"{name!r} is a name genlab's record uses itself")
      for name in ("t", "step", "first_step", "n", "min", "max", "kind", "epoch", "min:loss")],
    ({"loss": torch.ones(3)}, "'loss': a value is a number or a one-element tensor, got 3 elements"),
    ({"loss": np.ones(2)}, "'loss': a value is a number or a one-element tensor, got 2 elements"),
    ({3: 1.0}, "run.log takes figures named by strings, got the key 3"),
])
def test_log_refuses_the_records_own_names_and_values_that_are_not_one_number(tmp_path, figures, message):
    """A refused call is one UsageError naming the key, and nothing of it is recorded: no row moved
    to another step, metrics.bin kept in its plain layout."""
    with genlab.init(name="names", runs_dir=tmp_path) as run:
        run.log({"loss": 1.0})
        with pytest.raises(UsageError, match=re.escape(message)):
            run.log({"ok": 2.0, **figures})
        run.log({"loss": torch.tensor([3.0])})  # one element: a number
    events, _ = read_events(tmp_path / "names" / "events.jsonl")
    rows = [e for e in events if e["kind"] == "metrics"]
    assert [(e["step"], e["loss"]) for e in rows] == [(1, 1.0), (2, 3.0)] and not any("ok" in e for e in rows)
    assert read_json(tmp_path / "names" / "metrics.json")["columns"] == ["step", "t", "epoch", "loss"]


def test_a_non_finite_figure_is_dropped_with_one_warning(tmp_path):
    with genlab.init(name="nan", runs_dir=tmp_path) as run:
        run.log({"loss": 1.0, "acc": 0.5})
        run.log({"loss": float("nan"), "acc": 0.6})
        run.log({"loss": float("inf"), "acc": 0.7})
    events, _ = read_events(tmp_path / "nan" / "events.jsonl")
    rows = [e for e in events if e["kind"] == "metrics"]
    assert [(e["step"], e.get("loss"), e["acc"]) for e in rows] == [(1, 1.0, 0.5), (2, None, 0.6), (3, None, 0.7)]
    warnings = [e for e in events if e["kind"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["step"] == 2
    assert warnings[0]["message"].startswith("loss is nan at step 2: not recorded")
