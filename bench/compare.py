"""The cost of comparing many long runs (a benchmark, not a test).

    python bench/compare.py [--runs 16] [--rows 1000000] [--live 8] [--seconds 30] [--json]

1. ``--runs`` scripted GAN runs of ``--rows`` metric rows each (one written through genlab's own
   sinks, the others copies of it), then the time to open their comparison as the cockpit does
   (tui.source.Comparison: every follower's first read, then a snapshot with the curves; the
   runs' health is judged at the next poll, timed apart). Target: 0.5 s for 16 runs of
   1,000,000 rows (asserted on the CPU time it takes: on a quiet machine, its wall time). Then
   the same in the headless cockpit, from the key to every curve pane drawn (reported).
2. ``--live`` of them grow (a second process appends rows to each at 100 a second) while a
   headless cockpit shows their comparison for ``--seconds``: its CPU time over that time (target:
   under 10% of a core) and its resident memory at the start and the end (target: flat).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cockpit import rss_mb  # bench/cockpit.py: this process's resident memory

TESTS = Path(__file__).resolve().parents[1] / "tests"
APPENDER = r"""
import math, sys, time
from pathlib import Path
from genlab.run.metrics_log import MetricsBinSink
from genlab.run.sinks import JsonlSink
runs, start, seconds = [Path(p) for p in sys.argv[3:]], int(sys.argv[1]), float(sys.argv[2])
sinks = [[JsonlSink(r / "events.jsonl"), MetricsBinSink(r)] for r in runs]
step, end = start, time.time() + seconds
while time.time() < end:
    t0 = time.time()
    for _ in range(10):
        step += 1
        e = {"t": time.time(), "step": step, "kind": "metrics", "epoch": 1 + step // 937,
             "d_loss": 1.2 + 0.2 * math.sin(step / 100), "g_loss": 0.9, "d_real": 0.6, "d_fake": 0.4}
        for pair in sinks:
            for s in pair:
                s.event(e)
    for pair in sinks:
        for s in pair:
            s.progress(None)
    time.sleep(max(0, 0.1 - (time.time() - t0)))
"""


def make_runs(root: Path, n: int, rows: int) -> list[str]:
    sys.path.insert(0, str(TESTS))
    from scripted import make_run

    make_run(root, "run-00", "gan", steps=rows, total=2 * rows)
    for i in range(1, n):
        shutil.copytree(root / "run-00", root / f"run-{i:02d}")
    return [f"run-{i:02d}" for i in range(n)]


OPEN_TARGET_S = 0.5


def open_time(root: Path, ids: list[str]) -> dict:
    """Opening the comparison as its screen does: (wall, CPU) seconds to the curves, then to the
    runs' health (the next poll)."""
    from tui.source import RunsSource

    start, cpu = time.perf_counter(), time.process_time()
    comparison = RunsSource(root).comparison(ids)
    comparison.poll()
    snap = comparison.snapshot("step", max_buckets=200)
    opened, opened_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert all(len(o.curves) == len(ids) for o in snap.overlays.values() if o.curves)
    comparison.poll()  # the runs' health (judging a long history's newest rows)
    comparison.snapshot("step", max_buckets=200, curves=False)
    return {"open_s": round(opened, 3), "open_cpu_s": round(opened_cpu, 3),
            "judged_s": round(time.perf_counter() - start, 3), "judged_cpu_s": round(time.process_time() - cpu, 3)}


async def screen_open_time(root: Path, ids: list[str], size=(160, 48)) -> dict:
    """Opening the comparison in the headless cockpit (started on the runs screen), from the key
    until every curve pane shown has drawn its runs' curves: (wall, CPU) seconds."""
    from tui.app import GenlabApp
    from tui.screens.compare import CompareScreen
    from tui.source import RunsSource
    from tui.widgets.curves import CurvesPlot
    from tui.widgets.runs_table import RunsTable

    app = GenlabApp(RunsSource(root), load_models=False)
    async with app.run_test(size=size) as pilot:
        while not (app.screen.query(RunsTable) and app.screen.query_one(RunsTable).row_count):
            await pilot.pause(0.01)  # the runs screen has listed the runs
        await pilot.pause(0.5)
        start, cpu = time.perf_counter(), time.process_time()
        app.open_comparison(ids)  # as enter on the selected rows does

        def drawn() -> bool:
            plots = [p for p in app.screen.query(CurvesPlot) if p.display] if isinstance(app.screen, CompareScreen) else []
            return bool(plots) and all(p.drawn is not None and p.drawn.curves for p in plots)

        while not drawn():
            await pilot.pause(0.002)
        return {"screen_open_s": round(time.perf_counter() - start, 3),
                "screen_open_cpu_s": round(time.process_time() - cpu, 3)}


async def live_cost(root: Path, ids: list[str], rows: int, seconds: float) -> dict:
    from tui.app import GenlabApp
    from tui.screens.compare import CompareScreen
    from tui.source import RunsSource

    appender = subprocess.Popen([sys.executable, "-c", APPENDER, str(rows), str(seconds + 10),
                                 *[str(root / r) for r in ids]])
    app = GenlabApp(RunsSource(root), load_models=False)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            app.open_comparison(ids)
            while not (isinstance(app.screen, CompareScreen) and app.screen.snapshot is not None):
                await pilot.pause(0.1)
            await pilot.pause(2.0)
            cpu0, rss0, t0 = time.process_time(), rss_mb(), time.monotonic()
            while time.monotonic() - t0 < seconds:
                await pilot.pause(0.5)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
            return {"cpu_share_of_a_core": round(cpu / wall, 4), "rss_mb_start": round(rss0, 1),
                    "rss_mb_end": round(rss_mb(), 1), "seconds": round(wall, 1)}
    finally:
        appender.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--live", type=int, default=8, help="runs that grow while the cockpit compares them")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        t = time.perf_counter()
        ids = make_runs(root, args.runs, args.rows)
        made = time.perf_counter() - t
        opened = open_time(root, ids)
        opened.update(asyncio.run(screen_open_time(root, ids)))
        live = asyncio.run(live_cost(root, ids[:args.live], args.rows, args.seconds))
    result = {"runs": args.runs, "rows": args.rows, "made_s": round(made, 1), **opened,
              "live_runs": args.live, **live, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result, args)
    assert result["open_cpu_s"] <= OPEN_TARGET_S, f"opening the comparison took over {OPEN_TARGET_S} s of CPU"


def report(result: dict, args) -> None:
    live = result
    print(f"# bench/compare.py --runs {args.runs} --rows {args.rows:,} --live {args.live} --seconds {args.seconds:g}")
    print(f"open a comparison of {args.runs} runs of {args.rows:,} rows: {result['open_s']:.3f} s, "
          f"{result['open_cpu_s']:.3f} s of CPU (target: {OPEN_TARGET_S} s); their health judged by "
          f"{result['judged_s']:.3f} s ({result['judged_cpu_s']:.3f} s of CPU)")
    print(f"open it in the cockpit, curves drawn: {result['screen_open_s']:.3f} s, {result['screen_open_cpu_s']:.3f} s of CPU "
          "(from the key, headless, 160x48)")
    print(f"{args.live} live runs compared for {live['seconds']} s: {live['cpu_share_of_a_core']:.1%} of a core "
          f"(target: under 10%); memory {live['rss_mb_start']} MB then {live['rss_mb_end']} MB")


if __name__ == "__main__":
    main()
