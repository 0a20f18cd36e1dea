"""The cost of listing many runs (a benchmark, not a test).

    python bench/runs_list.py [--runs 1000] [--tries 5] [--json]

Makes ``--runs`` finished scripted runs of 2,000 steps (tests/scripted.py: four models, copies of
one run each), then times `genlab runs` over them as a user types it (a new process, its output
to a pipe; a cache directory of its own): once with nothing kept, which works out every run's row
and keeps it (genlab/run/row_cache.py), then ``--tries`` times over the kept rows, as every
listing after the first is: their median wall time and CPU time (the process and its children).
Target: 0.5 s for 1,000 runs, asserted on both (on a loaded machine the wall time is the load's:
the CPU time is the fairer figure there).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
TARGET_S = 0.5
MODELS = ("gan", "vae", "pixelcnn", "cgan")


def make_runs(root: Path, n: int) -> None:
    sys.path.insert(0, str(TESTS))
    from scripted import make_run

    seeds = Path(tempfile.mkdtemp(prefix="genlab-seeds-"))
    try:
        for model in MODELS:
            make_run(seeds, model, model, steps=2000, state="finished")
        for i in range(n):
            shutil.copytree(seeds / MODELS[i % len(MODELS)], root / f"run-{i:04d}")
    finally:
        shutil.rmtree(seeds)


def timed(root: Path, cache: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one `genlab runs`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "genlab", "runs", "--runs-dir", str(root)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200", "XDG_CACHE_HOME": str(cache)})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--tries", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        root.mkdir()
        make_runs(root, args.runs)
        cache = Path(tmp) / "cache"
        first = timed(root, cache)
        times = [timed(root, cache) for _ in range(args.tries)]
    result = {"runs": args.runs, "tries": args.tries, "wall_s": round(statistics.median(t[0] for t in times), 3),
              "cpu_s": round(statistics.median(t[1] for t in times), 3), "cpus": os.cpu_count(),
              "first_wall_s": round(first[0], 3), "first_cpu_s": round(first[1], 3),
              "load_average": os.getloadavg()[0]}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"# bench/runs_list.py --runs {args.runs} --tries {args.tries}   (load average {result['load_average']:.1f})")
        print(f"genlab runs over {args.runs:,} runs, the first (every row worked out and kept): "
              f"{result['first_wall_s']:.3f} s, {result['first_cpu_s']:.3f} s of CPU")
        print(f"genlab runs over {args.runs:,} runs: {result['wall_s']:.3f} s, {result['cpu_s']:.3f} s of CPU "
              f"(median of {args.tries}; target: {TARGET_S} s)")
    assert result["cpu_s"] <= TARGET_S, f"genlab runs took over {TARGET_S} s of CPU"
    assert result["wall_s"] <= TARGET_S, f"genlab runs took over {TARGET_S} s (load average {result['load_average']:.1f})"


if __name__ == "__main__":
    main()
