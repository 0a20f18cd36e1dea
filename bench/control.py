"""Pause latency: how long from `genlab pause` until the run reports `paused`, per model, at
default settings (a benchmark, not a test).

    GENLAB_DATA_DIR=../shared/data python bench/control.py [--rounds 5] [--json]

Each model trains detached in a temporary runs directory; every round sends a pause command at a
random moment (so some land during a sample grid or an evaluation), times the switch to `paused`
from the run's own state event, resumes, and waits a moment. Target: under 1 s for every model.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genlab.run import control
from genlab.run.files import read_json
from genlab.run.store import read_events


def wait(run_dir: Path, state: str, timeout: float = 120.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = read_json(run_dir / "status.json") or {}
        if st.get("state") == state:
            return st
        time.sleep(0.01)
    raise SystemExit(f"{run_dir.name}: no '{state}' after {timeout}s")


def pause_latencies(model: str, root: Path, rounds: int, rng: random.Random) -> list[float]:
    name = f"latency-{model}"
    subprocess.run([sys.executable, "-m", "genlab", "train", model, "--detach", "--name", name,
                    "--runs-dir", str(root), "--epochs", "100", "--sample-every", "2"], check=True,
                   capture_output=True)
    run_dir = root / name
    wait(run_dir, "running")
    out = []
    try:
        for _ in range(rounds):
            time.sleep(rng.uniform(1.0, 4.0))
            sent = time.time()
            control.send(run_dir, "pause")
            wait(run_dir, "paused")
            events, _ = read_events(run_dir / "events.jsonl")
            paused_at = [e["t"] for e in events if e["kind"] == "state" and e["state"] == "paused"][-1]
            out.append(paused_at - sent)
            control.send(run_dir, "resume")
            wait(run_dir, "running")
    finally:
        control.send(run_dir, "stop")
        wait(run_dir, "stopped")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--models", default="gan,vae,pixelcnn")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            lat = pause_latencies(model, Path(tmp), args.rounds, rng)
            rows.append({"model": model, "rounds": len(lat), "median_s": round(statistics.median(lat), 3),
                         "max_s": round(max(lat), 3)})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'model':10} {'rounds':>6} {'median':>8} {'max':>8}")
        for r in rows:
            print(f"{r['model']:10} {r['rounds']:>6} {r['median_s']:>7.3f}s {r['max_s']:>7.3f}s")


if __name__ == "__main__":
    main()
