"""Where the cockpit's data comes from and where its commands go: the run directories.

The cockpit never imports a model or holds training state. It reads runs through genlab.store
and genlab.follow, sends pause/resume/stop through genlab.control, and launches or resumes runs
as detached `genlab` processes. A test injects a ``RunsSource`` with its own root and clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from genlab import control, view
from genlab.follow import RunFollower, ema
from genlab.store import effective_state, list_runs, resolve_run, runs_root

from tui.messages import Curve, RunSnapshot
from tui.priority import spawner

GENLAB = [sys.executable, "-m", "genlab"]


class RunsSource:
    def __init__(self, runs_dir=None, clock=time.time, capacity: int = 512):
        self.root = runs_root(runs_dir)
        self.clock, self.capacity = clock, capacity

    # ---- reading
    def rows(self) -> list[dict]:
        rows = []
        for r in list_runs(self.root):
            state = r.shown_state if r.problem else effective_state(r.status, r.path, now=self.clock())
            rows.append({
                "id": r.run_id, "model": r.model, "state": state, "step": r.status.get("step", 0),
                "total": r.config.get("total_steps") or 0, "metrics": r.status.get("metrics") or {},
                "created": r.created, "family": r.config.get("family", ""), "key": view.read(r.path).key,
            })
        return rows

    def resolve(self, ref: str) -> Path:
        return resolve_run(self.root, ref)

    def follower(self, run_id: str) -> RunFollower:
        return RunFollower(self.root / run_id, capacity=self.capacity, clock=self.clock)

    @staticmethod
    def snapshot(follower: RunFollower, max_buckets: int = 200, smooth_alpha: float = 0.05,
                 curves: bool = True) -> RunSnapshot:
        """Plain-data copy of the follower's view, with the curves ready to draw: at most
        ``max_buckets`` min/max pairs a curve (about a plot's width in columns). Without
        ``curves``, its ``curves`` is None: the status, events and samples only."""
        v = follower.view
        drawn = None
        if curves:
            drawn = {}
            for name, series in v.series.items():
                x, y = series.envelope(max_buckets)
                mx, my = series.means(max_buckets)
                drawn[name] = Curve(name, x, y, mx, ema(my, smooth_alpha) if my else [])
        return RunSnapshot(
            run_id=v.run_id, path=v.path, state=v.state, config=dict(v.config), status=dict(v.status),
            curves=drawn, evals={k: list(val) for k, val in v.evals.items()}, events=list(v.events),
            sample=v.sample, sample_step=v.sample_step, latest=dict(v.latest), problem=v.problem,
            class_hist=list(v.class_hist) if v.class_hist else None,
        )

    # ---- commands
    def send(self, run_id: str, command: str) -> None:
        control.send(self.root / run_id, command)

    def genlab(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``genlab ARGS``, started from the spawner thread: at the cockpit's first priority
        (tui/priority.py), which a run started here inherits."""
        env = {**os.environ, "GENLAB_RUNS_DIR": str(self.root)}
        return spawner().submit(subprocess.run, [*GENLAB, *args], capture_output=True, text=True,
                                timeout=timeout, env=env).result()

    def models(self) -> list[dict]:
        p = self.genlab("models", "--json", timeout=120)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip() or "genlab models failed")
        return json.loads(p.stdout)

    def launch(self, model: str, options: list[str]) -> str:
        """Start a detached run; its id, or RuntimeError with genlab's one-line error."""
        p = self.genlab("train", model, "--detach", "--runs-dir", str(self.root), *options)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "genlab train failed")
        first = p.stdout.split()
        return first[1] if len(first) > 1 and first[0] == "run" else ""

    def resume(self, run_id: str) -> str:
        p = self.genlab("resume", run_id, "--detach", "--runs-dir", str(self.root))
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "genlab resume failed")
        return p.stdout.strip().splitlines()[0]
