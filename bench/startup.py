"""How long genlab makes a user wait: its commands as typed, and the cockpit's opens (a benchmark, not a test).

    python bench/startup.py [--tree PATH ...] [--repeat 5] [--runs 50] [--many 1000] [--rows 1000000] [--json FILE]

One table, measured in one run, with the median of ``--repeat`` tries of each figure (issue 27):

- ``genlab train gan --max-steps 300 --detach``: the command's wall time (what the user waits for);
- first step: from typing that command to the run's first metrics row, as its files show it
  (a full row in metrics.bin, or a ``metrics`` line in events.jsonl, whichever is first), whatever
  the run's state says (the trainer writes its rows every ``metrics_every_s``, so this includes up
  to that much after the step itself);
- ``genlab models``; ``genlab runs`` over ``--runs`` scripted runs and over ``--many`` of them;
  ``genlab show RUN`` and ``genlab sample RUN`` of a tiny trained run;
- the dashboard's open of a run of ``--rows`` metric rows, until its curves are drawn (as
  bench/cockpit.py measures it: a headless cockpit, timed from the app's creation), and the open of
  a comparison of 16 such runs (bench/compare.py's ``open_time`` where the tree has it).

Each command runs as a user types it: the venv's ``genlab`` console script, a new process a try.
``--tree PATH`` measures that checkout's genlab instead of this one (PYTHONPATH=PATH, the same
venv; checked by printing ``genlab.__file__``); ``--tree A --tree B`` gives a column each, their
tries alternating so that both share the machine's load. Run directories are made in a temporary
directory, with each tree's own writer (tests/scripted.py); MNIST from $GENLAB_DATA_DIR, else the
bundled digits. Every process it starts (detached trainers included: they carry a marker in their
environment) is killed before it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
MARK = "GENLAB_STARTUP_BENCH"  # in the environment of everything this bench starts

# Run directories, written by the tree's own writer (its tests/scripted.py), in that tree's process.
MAKE_RUNS = r"""
import json, os, shutil, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from scripted import make_run
root, n, many = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
models, states = ("gan", "vae", "pixelcnn", "cgan"), ("running", "finished", "stopped")
for i in range(n):
    make_run(root / "few", f"run-{i:03d}", models[i % 4], steps=2000, state=states[i % 3])
for i in range(many):  # copies of those (hard links; their own config and status naming them)
    src, dst = root / "few" / f"run-{i % n:03d}", root / "many" / f"run-{i:04d}"
    shutil.copytree(src, dst, copy_function=os.link)
    for name in ("config.json", "status.json"):
        d = json.loads((src / name).read_text()); d["run_id"] = dst.name
        (dst / name).unlink(); (dst / name).write_text(json.dumps(d))
"""
MAKE_LONG = r"""
import os, shutil, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from scripted import make_run
root, rows, n = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
make_run(root / "long", "long", "gan", steps=rows, total=2 * rows)
for i in range(n):  # the comparison's runs: copies of it, as bench/compare.py makes them (hard links here)
    shutil.copytree(root / "long" / "long", root / "compare" / f"run-{i:02d}", copy_function=os.link)
"""
# The dashboard's open, as bench/cockpit.py times it: a headless cockpit opened on the run, until
# its snapshot has curves that reach the run's last step (timed from the app's creation).
OPEN_RUN = r"""
import asyncio, json, sys, time
from pathlib import Path
from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.source import RunsSource
root, run_id, last = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])

def reach(snap):
    curves = getattr(snap, "curves", None) or {}
    return max((max(c.x) for c in curves.values() if len(c.x)), default=0)

async def main():
    t0 = time.perf_counter()
    app = GenlabApp(RunsSource(root), open_run=run_id, load_models=False)
    async with app.run_test(size=(160, 50)) as pilot:
        while True:
            snap = getattr(app.screen, "snapshot", None) if isinstance(app.screen, Dashboard) else None
            if snap is not None and reach(snap) >= last:
                break
            if time.perf_counter() - t0 > 60:
                break
            await pilot.pause(0.005)
        await pilot.pause(0)  # the plots render once
        seconds = time.perf_counter() - t0
    print(json.dumps({"s": seconds, "reach": reach(snap) if snap is not None else None}))

asyncio.run(main())
"""
# A comparison's open: the tree's bench/compare.py open_time where it has one, else the same steps.
OPEN_COMPARISON = r"""
import json, sys, time
from pathlib import Path
tree, root = Path(sys.argv[1]), Path(sys.argv[2])
ids = sorted(p.name for p in root.iterdir())
sys.path.insert(0, str(tree / "bench"))
try:
    from compare import open_time
except ImportError:
    def open_time(root, ids):
        from tui.source import RunsSource
        start = time.perf_counter()
        comparison = RunsSource(root).comparison(ids)
        comparison.poll()
        comparison.snapshot("step", max_buckets=200)
        return time.perf_counter() - start
opened = open_time(root, ids)  # (seconds; a dict of figures since bench/compare.py times the health apart)
print(json.dumps({"s": opened["open_s"] if isinstance(opened, dict) else opened}))
"""


class Failed(Exception):
    pass


def machine() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    has = [f for f in ("avx2", "avx512f", "amx_tile") if f in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}; {', '.join(has) or 'no avx2/avx512/amx'}; {cores} cores"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def console_script() -> list[str]:
    """``genlab`` as a user types it: the venv's console script, else ``python -m genlab``."""
    script = Path(sys.executable).parent / "genlab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "genlab"]


class Tree:
    """One checkout under test: its environment, its run directories, its figures."""

    def __init__(self, path: Path, work: Path, mark: str, index: int):
        self.path = path.resolve()
        self.work = work / f"tree-{index}"
        self.work.mkdir(parents=True)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(self.path), *filter(None, [os.environ.get("PYTHONPATH")])]),
                    "GENLAB_RUNS_DIR": str(self.work / "runs"), "XDG_CACHE_HOME": str(self.work / "cache"),
                    "GENLAB_OFFLINE": "1", "COLUMNS": "120", MARK: mark}
        self.env.pop("GENLAB_DATA_DIR", None)
        if os.environ.get("GENLAB_DATA_DIR"):  # MNIST where the environment says, else the bundled digits
            self.env["GENLAB_DATA_DIR"] = str(Path(os.environ["GENLAB_DATA_DIR"]).resolve())
        self.label = f"{self.path.name}@{self.commit()}"
        self.figures: dict[str, list[float]] = {}
        self.notes: list[str] = []

    def commit(self) -> str:
        try:
            rev = subprocess.run(["git", "-C", str(self.path), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True, check=True).stdout.strip()
            dirty = subprocess.run(["git", "-C", str(self.path), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True).stdout.strip()
            return rev + ("+" if dirty else "")
        except (OSError, subprocess.CalledProcessError):
            return "?"

    def python(self, code: str, *args: str, timeout: float = 900) -> str:
        out = subprocess.run([sys.executable, "-c", code, *args], env=self.env, capture_output=True, text=True,
                             timeout=timeout, cwd=self.work)
        if out.returncode:
            raise Failed(f"{self.label}: {out.stderr.strip().splitlines()[-1:]}")
        return out.stdout

    def genlab(self, *args: str, timeout: float = 300, terminal: bool = False) -> float:
        """The wall time of ``genlab ARGS`` from its start to its exit (a non-zero exit fails);
        ``terminal``: its output as to a 200x50 terminal (Rich's FORCE_COLOR, COLUMNS, LINES), as a
        user typing it sees it, not a pipe's."""
        env = {**self.env, "FORCE_COLOR": "1", "COLUMNS": "200", "LINES": "50"} if terminal else self.env
        t0 = time.perf_counter()
        out = subprocess.run([*console_script(), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=timeout, cwd=self.work)
        seconds = time.perf_counter() - t0
        if out.returncode:
            raise Failed(f"{self.label}: genlab {' '.join(args)} exited {out.returncode}: {out.stderr.strip()[-300:]}")
        return seconds

    def check_import(self) -> None:
        where = self.python("import genlab; print(genlab.__file__)").strip()
        if not Path(where).resolve().is_relative_to(self.path):
            raise SystemExit(f"--tree {self.path}: PYTHONPATH does not win, genlab is imported from {where}")
        self.imported = where

    def prepare(self, runs: int, many: int, rows: int, compare_runs: int) -> None:
        tests = str(self.path / "tests")
        self.python(MAKE_RUNS, tests, str(self.work / "scripted"), str(runs), str(many))
        self.python(MAKE_LONG, tests, str(self.work / "scripted"), str(rows), str(compare_runs))
        self.rows = rows
        # a tiny trained run for show and sample
        self.genlab("train", "gan", "--max-steps", "20", "--name", "tiny", "--eval-size", "100", timeout=600)

    def record(self, name: str, seconds: float) -> None:
        self.figures.setdefault(name, []).append(seconds)


def marked_pids(mark: str) -> list[int]:
    """The processes this bench started, detached ones included: those whose environment holds its marker."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if f"{MARK}={mark}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            pass
    return pids


def kill_marked(mark: str, wait_s: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = marked_pids(mark)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        end = time.monotonic() + wait_s
        while pids and time.monotonic() < end:
            pids = [p for p in pids if Path(f"/proc/{p}").exists() and not zombie(p)]
            time.sleep(0.05)
        if not pids:
            return


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def first_row(run: Path) -> bool:
    """Whether the run's files show a metrics row: a full row of metrics.bin, or a metrics line of events.jsonl."""
    try:
        cols = json.loads((run / "metrics.json").read_text())["columns"]
        if (run / "metrics.bin").stat().st_size >= 8 * len(cols):
            return True
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(run / "events.jsonl", "rb") as f:
            return b'"kind":"metrics"' in f.read().replace(b" ", b"")
    except OSError:
        return False


def train_detached(tree: Tree, name: str, mark: str, timeout: float = 180) -> None:
    """One try of ``genlab train gan --max-steps 300 --detach``: its return, then its first metrics row."""
    run = tree.work / "runs" / name
    t0 = time.perf_counter()
    tree.genlab("train", "gan", "--max-steps", "300", "--detach", "--name", name)
    tree.record("detach", time.perf_counter() - t0)
    while not first_row(run):
        if time.perf_counter() - t0 > timeout:
            kill_marked(mark)
            raise Failed(f"{tree.label}: no metrics row in {timeout:.0f} s ({run})")
        time.sleep(0.005)
    tree.record("first_step", time.perf_counter() - t0)
    kill_marked(mark)  # the next measure does not share the machine with this trainer


def open_run(tree: Tree) -> None:
    out = json.loads(tree.python(OPEN_RUN, str(tree.work / "scripted" / "long"), "long", str(tree.rows)))
    if out["reach"] is None or out["reach"] < tree.rows:
        tree.notes.append(f"open: curves reached step {out['reach']} of {tree.rows:,} (timed out at 60 s)")
    tree.record("open_run", out["s"])


def open_comparison(tree: Tree) -> None:
    out = json.loads(tree.python(OPEN_COMPARISON, str(tree.path), str(tree.work / "scripted" / "compare")))
    tree.record("open_compare", out["s"])


def figures(args) -> list[tuple[str, str, object]]:
    """(key, label, measure(tree, try) or None where another row's measure records it), in the table's order."""
    scripted = lambda t, name: str(t.work / "scripted" / name)  # noqa: E731
    rows = [
        ("detach", "genlab train gan --max-steps 300 --detach: returns",
         lambda t, i: train_detached(t, f"detach-{i}", args.mark)),
        ("first_step", "  first metrics row, from typing the command", None),
        ("models", "genlab models", lambda t, i: t.record("models", t.genlab("models"))),
        ("runs", f"genlab runs ({args.runs} runs, a 200x50 terminal)",
         lambda t, i: t.record("runs", t.genlab("runs", "--runs-dir", scripted(t, "few"), terminal=True))),
        ("runs_many", f"genlab runs ({args.many:,} runs, a 200x50 terminal)",
         lambda t, i: t.record("runs_many", t.genlab("runs", "--runs-dir", scripted(t, "many"), terminal=True))),
        ("show", "genlab show RUN", lambda t, i: t.record("show", t.genlab("show", "tiny"))),
        ("sample", "genlab sample RUN", lambda t, i: t.record("sample", t.genlab("sample", "tiny"))),
        ("open_run", f"cockpit: open a run of {args.rows:,} rows, curves drawn", lambda t, i: open_run(t)),
        ("open_compare", f"cockpit: open a comparison of {args.compare_runs} such runs", lambda t, i: open_comparison(t)),
    ]
    return [r for r in rows if r[0] != "runs_many" or args.many]


def table(trees: list[Tree], rows, args, load_before: str) -> str:
    width = max(len(r[1]) for r in rows) + 2
    col = max(16, *(len(t.label) + 2 for t in trees))
    lines = [f"# python bench/startup.py {' '.join(sys.argv[1:])}",
             f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}; "
             f"load average {load_before} before, {load()} after",
             f"# seconds, the median of {args.repeat} tries (a new process each; tries of the trees alternate)",
             f"# MNIST: {os.environ.get('GENLAB_DATA_DIR') or 'the bundled digits'}; genlab: {' '.join(console_script())}",
             *(f"# {t.label}: genlab imported from {t.imported}" for t in trees),
             "", " " * width + "".join(t.label.rjust(col) for t in trees)]
    for key, label, _ in rows:
        cells = []
        for t in trees:
            values = t.figures.get(key)
            cells.append((f"{statistics.median(values):.3f}" if values else "failed").rjust(col))
        lines.append(label.ljust(width) + "".join(cells))
    for t in trees:
        for path_note in dict.fromkeys(t.notes):
            lines.append(f"# {t.label}: {path_note}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, action="append", help="a checkout to measure (repeatable; default: this one)")
    ap.add_argument("--repeat", type=int, default=5, help="tries of each figure; the median is shown")
    ap.add_argument("--runs", type=int, default=50, help="scripted runs for genlab runs")
    ap.add_argument("--many", type=int, default=1000, help="and a second figure over this many (0: none)")
    ap.add_argument("--rows", type=int, default=1_000_000, help="metric rows of the run the cockpit opens")
    ap.add_argument("--compare-runs", type=int, default=16)
    ap.add_argument("--json", type=Path, help="also write the tries to FILE")
    args = ap.parse_args()
    args.mark = uuid.uuid4().hex
    load_before = load()

    work = Path(tempfile.mkdtemp(prefix="genlab-startup-"))
    try:
        trees = [Tree(p, work, args.mark, i) for i, p in enumerate(args.tree or [HERE])]
        for t in trees:
            t.check_import()
        for t in trees:
            t0 = time.perf_counter()
            t.prepare(args.runs, args.many, args.rows, args.compare_runs)
            print(f"# {t.label}: run directories made in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        rows = figures(args)
        for key, label, measure in rows:
            if measure is None:
                continue
            for i in range(args.repeat):
                for t in trees if i % 2 == 0 else trees[::-1]:  # alternating, so the trees share the load
                    try:
                        measure(t, i)
                    except (Failed, subprocess.TimeoutExpired) as e:
                        t.notes.append(f"{key}: {e}")
            print(f"# {label.strip()}: done", file=sys.stderr)
        report = table(trees, rows, args, load_before)
        print(report)
        if args.json:
            args.json.write_text(json.dumps({"machine": machine(), "load_before": load_before, "load_after": load(),
                                             "repeat": args.repeat, "trees": {t.label: {"path": str(t.path), "tries": t.figures,
                                                                                       "notes": t.notes} for t in trees}},
                                            indent=2))
    finally:
        kill_marked(args.mark)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
