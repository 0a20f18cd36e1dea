"""What watching costs: the seed GAN's training throughput headless, and with the cockpit attached.

    GENLAB_DATA_DIR=../shared/data python bench/cockpit_cost.py [--seconds 60] [--rounds 2]
        [--size 200x60] [--json]

Each round trains `gan` (batch 64) twice, as a user would: `genlab train gan --detach`, once with
nobody watching and once with `genlab watch RUN` open on its dashboard in a tmux window of
``--size`` (the real command in a real terminal, redrawing its curves and samples). Throughput is
read from the run's own metric rows (step and wall time) over ``--seconds`` after a warm-up, so
both runs are measured the same way. Rounds alternate (and so does the order within a round);
reported: the best of each and their ratio, the median of each round's own ratio, and the share
of a core the cockpit's process used. Target: at least 95% of headless
throughput. Needs tmux.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genlab.run import metrics_log
from genlab.run.files import read_json
from genlab.run.state import effective_state

GENLAB = [sys.executable, "-m", "genlab"]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants, in seconds."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def throughput(run_dir: Path, t0: float, t1: float, batch: int = 64) -> float:
    """Images per second over the metric rows written between wall times t0 and t1."""
    cols, rows, _ = metrics_log.read(run_dir)
    step, t = rows[:, cols.index("step")], rows[:, cols.index("t")]
    window = (t >= t0) & (t <= t1)
    if window.sum() < 2:
        raise SystemExit(f"too few metric rows in the window for {run_dir.name}")
    s, w = step[window], t[window]
    return float((s[-1] - s[0]) * batch / (w[-1] - w[0]))


def one(root: Path, name: str, attach: bool, warmup: float, seconds: float, size: tuple[int, int]) -> dict:
    env = dict(os.environ)
    subprocess.run([*GENLAB, "train", "gan", "--epochs", "1000", "--name", name, "--runs-dir", str(root),
                    "--detach"], check=True, capture_output=True, env=env)
    run_dir = root / name
    session = f"genlab-bench-{name}"
    screen = ""
    if attach:
        cmd = " ".join([*GENLAB, "watch", name, "--runs-dir", str(root)])
        tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), cmd)
    cockpit_cpu = None
    try:
        time.sleep(warmup)
        pane = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}")) if attach else None
        c0 = cpu_seconds(pane) if attach else 0.0
        t0 = time.time()
        time.sleep(seconds)
        t1 = time.time()
        if attach:
            cockpit_cpu = (cpu_seconds(pane) - c0) / (t1 - t0)
            screen = tmux("capture-pane", "-p", "-t", session)
    finally:
        subprocess.run([*GENLAB, "stop", name, "--runs-dir", str(root)], capture_output=True, env=env)
        for _ in range(300):
            if effective_state(read_json(run_dir / "status.json"), run_dir) not in ("running", "paused"):
                break
            time.sleep(0.1)
        if attach:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    if attach and name not in screen:
        raise SystemExit(f"the cockpit did not show {name}; its screen was:\n{screen}")
    return {"run": name, "attached": attach, "images_per_s": round(throughput(run_dir, t0, t1), 1),
            "cockpit_cpu_share": None if cockpit_cpu is None else round(cockpit_cpu, 4),
            "screen": screen if attach else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring (start-up, cockpit opening)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--size", default="200x60", help="the cockpit's terminal, COLSxROWS")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not shutil.which("tmux"):
        raise SystemExit("bench/cockpit_cost.py needs tmux (apt-get install -y tmux)")
    size = tuple(int(v) for v in args.size.lower().split("x"))

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        for r in range(args.rounds):
            for attach in ((False, True) if r % 2 == 0 else (True, False)):  # the order alternates
                res = one(root, f"{'attached' if attach else 'headless'}-{r + 1}", attach, args.warmup, args.seconds, size)
                results.append(res)
                if not args.json:
                    cpu = f"  (the cockpit used {res['cockpit_cpu_share']:.1%} of a core)" if attach else ""
                    print(f"round {r + 1}: {'cockpit attached' if attach else 'headless        '} "
                          f"{res['images_per_s']:>8,.0f} img/s{cpu}", flush=True)
    headless = max(r["images_per_s"] for r in results if not r["attached"])
    attached = max(r["images_per_s"] for r in results if r["attached"])
    # a round's two runs ran back to back: their ratio is the one a noisy machine moves least
    pairs = [(a["images_per_s"], h["images_per_s"]) for a in results if a["attached"]
             for h in results if not h["attached"] and h["run"].split("-")[1] == a["run"].split("-")[1]]
    paired = statistics.median(a / h for a, h in pairs)
    summary = {"model": "gan", "batch_size": 64, "size": args.size, "seconds": args.seconds,
               "headless_images_per_s": headless, "attached_images_per_s": attached,
               "ratio": round(attached / headless, 3), "paired_ratio": round(paired, 3),
               "cockpit_cpu_share": round(statistics.median(r["cockpit_cpu_share"] for r in results if r["attached"]), 4),
               "runs": [{k: v for k, v in r.items() if k != "screen"} for r in results]}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    last = next(r["screen"] for r in reversed(results) if r["attached"])
    print("\nthe cockpit's screen at the end of the last attached run:")
    print("\n".join(line.rstrip() for line in last.splitlines()))
    print(f"\nbest: headless {headless:,.0f} img/s, cockpit attached {attached:,.0f} img/s, "
          f"ratio {summary['ratio']:.1%}; median of the rounds' own ratios {paired:.1%}; the cockpit used "
          f"{summary['cockpit_cpu_share']:.1%} of a core  (gan, batch 64, cockpit {args.size}; target at least 95%)")


if __name__ == "__main__":
    main()
