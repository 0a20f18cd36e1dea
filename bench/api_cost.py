"""What genlab.init's ``run.log`` costs a training loop (a benchmark, not a test).

    python bench/api_cost.py [--calls 200000] [--metrics 4]

Times a bare loop that builds the same dict of floats each step, then the same loop calling
``run.log(metrics, step=step)`` into a fresh run directory (buffered rows, written in batches
with the heartbeat, the control channel and the vital signs on their clocks), and reports the
cost a call: (loop with log - bare loop) / calls. Best of ``--repeats`` for each.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time

import genlab


def bare(calls: int, names: list[str]) -> float:
    start = time.perf_counter()
    sink = 0.0
    for step in range(1, calls + 1):
        metrics = {n: step * 0.5 for n in names}
        sink += metrics[names[0]]
    return time.perf_counter() - start


def logged(calls: int, names: list[str], root: str, i: int) -> float:
    run = genlab.init(name=f"cost-{i}", runs_dir=root)
    start = time.perf_counter()
    for step in range(1, calls + 1):
        metrics = {n: step * 0.5 for n in names}
        run.log(metrics, step=step)
    run.finish()  # the last rows written: part of the cost
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=200_000)
    p.add_argument("--metrics", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    names = [f"m{i}" for i in range(a.metrics)]
    with tempfile.TemporaryDirectory() as root:
        base = min(bare(a.calls, names) for _ in range(a.repeats))
        with_log = min(logged(a.calls, names, root, i) for i in range(a.repeats))
    per_call_us = (with_log - base) / a.calls * 1e6
    result = {"calls": a.calls, "metrics": a.metrics, "bare_s": round(base, 4), "with_log_s": round(with_log, 4),
              "per_call_us": round(per_call_us, 2), "machine": platform.processor() or platform.machine()}
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{a.calls:,} steps, {a.metrics} metrics a call: bare loop {base:.3f} s, with run.log {with_log:.3f} s")
    print(f"run.log costs {per_call_us:.1f} µs a call ({a.calls / with_log:,.0f} calls a second at most)")


if __name__ == "__main__":
    main()
