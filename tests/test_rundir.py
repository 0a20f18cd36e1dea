"""The run directory as a type (issue 24): every file name in one place, one atomic writer, one
incremental reader of events that never raises, and a run/ package the cockpit can import
without torch or the sweep machinery."""

import ast
import os
import subprocess
import sys
from pathlib import Path

from genlab.run.files import atomic_write_bytes
from genlab.run.follow import EventTail, RunFollower
from genlab.run.rundir import RunDir, SweepDir, step_name, step_of
from genlab.run.store import create_run

ROOT = Path(__file__).resolve().parent.parent


def sources(*folders):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def strings(path: Path):
    """The string constants of a module's code (docstrings and comments are prose, not code)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_each_file_name_of_a_run_or_sweep_is_named_once_in_the_code():
    names = list(dict.fromkeys(v for cls in (RunDir, SweepDir) for k, v in vars(cls).items()
                               if k.isupper() and isinstance(v, str) and "." in v))
    assert {"events.jsonl", "status.json", "config.json", "sweep.json", "log.txt"} <= set(names)
    where = {name: [] for name in names}
    for path in sources("genlab", "tui"):
        for s in strings(path):
            for name in names:
                if name in s:
                    where[name].append(str(path.relative_to(ROOT)))
    assert {name: places for name, places in where.items() if places != ["genlab/run/rundir.py"]} == {}


def test_the_step_of_a_saved_file_is_formatted_and_parsed_in_one_place(tmp_path):
    run = RunDir(tmp_path)
    assert run.grid_path(1234) == tmp_path / "samples" / "step-00001234.npy"
    assert run.grid_path(7, suffix=".png").name == "step-00000007.png" and step_name(7) == "step-00000007"
    assert step_of(run.checkpoint_path(123_456_789)) == 123_456_789
    assert [step_of(p) for p in ("step-00000010.npy", "step-00000010.pt.sha256", "step-1.npy", "x.npy")] == \
        [10, 10, None, None]
    run.samples.mkdir()
    for name in ("step-00000200.npy", "step-00000100.npy", "step-100.npy", "notes.npy", "step-00000100.png"):
        (run.samples / name).write_bytes(b"")
    assert [p.name for p in run.grids()] == ["step-00000100.npy", "step-00000200.npy"]


def test_a_run_is_created_whole_even_beside_a_planted_temporary_name(tmp_path):
    """The new run's directory is built under a name nobody can guess: what another user planted
    where the old, predictable name (``.<id>.tmp-<pid>``) was is neither used nor in the way."""
    root = tmp_path / "runs"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / f".r.tmp-{os.getpid()}").symlink_to(elsewhere)
    run = RunDir(create_run(root, "r", {"model": "gan", "total_steps": 10}))
    assert run.read_config()[0]["model"] == "gan" and run.read_status()[0]["state"] == "starting"
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in root.iterdir()) == [f".r.tmp-{os.getpid()}", "r"]


def test_the_event_tail_starts_over_when_the_file_is_rewritten_longer(tmp_path):
    """A resume cuts events.jsonl by rewriting it; by the time a reader looks again it may have
    grown past where the reader was. The tail reads it again from its start."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"t": 1, "step": 1, "kind": "metrics", "loss": 1}\n')
    tail = EventTail(path)
    assert tail.look() == EventTail.GROWN and [e["step"] for e in tail.events()] == [1]
    assert tail.look() is None and tail.events() == []
    rows = b"".join(b'{"t": 1, "step": %d, "kind": "metrics", "loss": 2}\n' % s for s in (1, 2, 3))
    atomic_write_bytes(path, rows + b'{"t": 1, "step": 4, "kin')  # a new file, and a torn last line
    assert tail.look() == EventTail.REWRITTEN and [e["step"] for e in tail.events()] == [1, 2, 3]
    path.unlink()
    assert tail.look() is None and tail.problem.startswith("events.jsonl: ")


def test_a_follower_never_raises_whatever_goes_wrong_in_reading(tmp_path, monkeypatch):
    from scripted import make_run

    run = make_run(tmp_path, "r", "gan", steps=50)

    def broken(self):
        raise RuntimeError("a reader's bug")

    monkeypatch.setattr(RunFollower, "_read_cas", broken)
    follower = RunFollower(run)
    view = follower.poll()
    assert view.problem == "cannot read the run: RuntimeError: a reader's bug" and view.version == 1
    assert follower.poll().version == 2  # each failing poll is news to a viewer


def test_run_imports_no_torch_and_the_cockpit_no_sweep_machinery():
    """genlab/run/ names no torch (not even lazily: the vital signs are sampled in genlab/train/),
    and the cockpit's source of data loads neither genlab/sweep/ nor Optuna."""
    for path in sources("genlab/run"):
        imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(path.read_text()))
                    if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(ast.parse(path.read_text()))
                     if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & {"torch", "pynvml", "optuna", "textual"}, path
    code = ("import sys, tui.source, genlab.api\n"
            "bad = sorted(m for m in sys.modules if m.startswith(('torch', 'optuna', 'genlab.sweep', 'genlab.train.trainer')))\n"
            "print(bad)\nsys.exit(1 if bad else 0)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
