"""The cockpit's cost of a long history (a benchmark, not a test).

    python bench/cockpit.py [--rows 1000000] [--grow-seconds 30] [--json]

1. Writes a GAN run directory with ``--rows`` metric rows through genlab's own sinks
   (events.jsonl and metrics.bin, exactly as a run writes them), then times opening it: the
   follower's first read, and the Textual dashboard (headless) until its curves and samples are
   drawn. Target: under 2 seconds for 1,000,000 rows.
2. While a second process keeps appending rows at a high rate, the headless dashboard follows
   the run; its resident memory is sampled every second. Target: flat (growth well under the
   size of what was appended).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
MAKER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from scripted import make_run  # the scripted run maker the cockpit tests use
make_run(Path(sys.argv[2]), "long", "gan", steps=int(sys.argv[3]), total=2 * int(sys.argv[3]))
"""


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


APPENDER = r"""
import sys, time, math
from pathlib import Path
from genlab.run.sinks import JsonlSink
from genlab.run.metrics_log import MetricsBinSink
run = Path(sys.argv[1]); step = int(sys.argv[2]); seconds = float(sys.argv[3]); rate = int(sys.argv[4])
sinks = [JsonlSink(run / "events.jsonl"), MetricsBinSink(run)]
end = time.time() + seconds
while time.time() < end:
    t0 = time.time()
    for _ in range(rate // 10):
        step += 1
        e = {"t": time.time(), "step": step, "kind": "metrics", "epoch": 1 + step // 937,
             "d_loss": 1.2 + 0.2 * math.sin(step / 100), "g_loss": 0.9, "d_real": 0.6, "d_fake": 0.4}
        for s in sinks: s.event(e)
    for s in sinks: s.progress(None)
    time.sleep(max(0, 0.1 - (time.time() - t0)))
for s in sinks: s.close()
print(step)
"""


async def open_and_follow(root: Path, run_id: str, grow_seconds: float, rows: int, rate: int) -> dict:
    from tui.app import GenlabApp
    from tui.screens.dashboard import Dashboard
    from tui.source import RunsSource

    t0 = time.perf_counter()
    app = GenlabApp(RunsSource(root), open_run=run_id, load_models=False)
    async with app.run_test(size=(160, 50)) as pilot:
        while not (isinstance(app.screen, Dashboard) and app.screen.snapshot is not None):
            await pilot.pause(0.01)
        await pilot.pause(0)  # let the plots render once
        opened = time.perf_counter() - t0
        base = rss_mb()
        proc = subprocess.Popen([sys.executable, "-c", APPENDER, str(root / run_id), str(rows), str(grow_seconds), str(rate)],
                                stdout=subprocess.PIPE, text=True)
        samples = []
        while proc.poll() is None:
            await pilot.pause(1.0)
            samples.append(round(rss_mb(), 1))
        last_step = int(proc.stdout.read().strip() or rows)
        await pilot.pause(1.0)
        shown = app.screen.snapshot.status.get("step")
        final = rss_mb()
        curves_step = max(app.screen.snapshot.curves["d_loss"].x) if app.screen.snapshot.curves else 0
    return {"open_dashboard_s": round(opened, 3), "rss_after_open_mb": round(base, 1), "rss_samples_mb": samples,
            "rss_final_mb": round(final, 1), "appended_rows": last_step - rows,
            "curve_reaches_step": int(curves_step), "last_step": last_step, "status_step": shown}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--grow-seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=10_000, help="rows a second appended while following")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        t = time.perf_counter()
        # written by another process, so this one holds only what the cockpit holds (no torch)
        subprocess.run([sys.executable, "-c", MAKER, str(TESTS), str(root), str(args.rows)], check=True)
        run = root / "long"
        written = time.perf_counter() - t
        size_mb = (run / "events.jsonl").stat().st_size / 1e6

        from genlab.run.follow import RunFollower

        t = time.perf_counter()
        view = RunFollower(run).poll()
        follower_s = time.perf_counter() - t
        assert len(view.series["d_loss"]) > 0

        result = {"rows": args.rows, "events_mb": round(size_mb, 1), "write_s": round(written, 1),
                  "follower_open_s": round(follower_s, 3)}
        result.update(asyncio.run(open_and_follow(root, "long", args.grow_seconds, args.rows, args.rate)))

    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"run with {result['rows']:,} metric rows ({result['events_mb']} MB of events.jsonl)")
    print(f"  follower, first read:           {result['follower_open_s']:.3f} s")
    print(f"  dashboard open, curves drawn:   {result['open_dashboard_s']:.3f} s   (target < 2 s)")
    print(f"  memory after open:              {result['rss_after_open_mb']:.1f} MB")
    print(f"  memory while {result['appended_rows']:,} rows were appended: {result['rss_samples_mb']}")
    print(f"  memory at the end:              {result['rss_final_mb']:.1f} MB "
          f"(growth {result['rss_final_mb'] - result['rss_after_open_mb']:+.1f} MB)")
    print(f"  curves reach step {result['curve_reaches_step']:,} of {result['last_step']:,}")


if __name__ == "__main__":
    main()
