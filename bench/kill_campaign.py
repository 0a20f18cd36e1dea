"""A fault campaign (a benchmark, not a test): SIGKILL runs at random moments, resume them, and
count how many end with the same weights, bit for bit, as a run trained straight through.

    GENLAB_DATA_DIR=../shared/data python bench/kill_campaign.py [--trials 30] [--models gan,vae] [--json]

For every model (sized to train a few seconds here), one straight run, then ``--trials`` runs,
each killed with SIGKILL and resumed until it finishes. Each trial's kills, in turn:

- ``first-second``: at a random moment of the run's first second (from its directory's
  appearing: the step-0 checkpoint, often before it);
- ``checkpoint``: the moment a checkpoint's temporary file appears (mid-write);
- ``random``: at a random moment of the run;

and half the trials kill the resume too (at its next checkpoint write). The straight run has no
side job until its end (sample grids and quality checks every 1,000 s); each trial runs them on
other clocks (every 0.05 s, every 0.5-2 s, or grids only), so a side job that moved the
training's random streams shows as a difference. A trial passes when resume finishes it
(exit 0) and the final checkpoint's models and optimiser states equal the straight run's
(``torch.equal``), with the same metric rows, step by step. Prints a row a model (with the mean
number of live quality checks a trial ran, against the straight run's one), and for a failed
trial what differed (``--keep DIR`` keeps its run directory).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from genlab.core import checkpoint
from genlab.run.store import read_events

# per model: steps and hyperparameters that train in a few seconds on a 2-core CPU
SIZES = {
    "gan": (150, []),
    "vae": (400, []),
    "dcgan": (120, ["--preset", "cpu"]),
    "wgan-gp": (40, ["--hp", "width=16"]),
    "cgan": (120, ["--preset", "cpu"]),
    "conv-vae": (60, []),
    "pixelcnn": (120, ["--hp", "channels=16", "--hp", "layers=2", "--hp", "batch_size=32"]),
    "gated-pixelcnn": (60, ["--hp", "channels=16", "--hp", "layers=2", "--hp", "batch_size=32"]),
}
COMMON = ["--checkpoint-every", "0.3", "--eval-size", "200"]
STRAIGHT = ["--sample-every", "1000", "--quality-every", "1000"]  # side jobs at the end only
CADENCES = (["--sample-every", "0.05", "--quality-every", "0.05"],  # as often as their 10% budgets allow
            ["--sample-every", "2", "--quality-every", "0.5"],
            ["--sample-every", "0.3", "--quality-every", "1000"])
MODES = ("first-second", "checkpoint", "random")


def genlab(*args: str) -> list[str]:
    return [sys.executable, "-m", "genlab", *args]


def start(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def kill_when(proc: subprocess.Popen, run_dir: Path, mode: str, rng: random.Random, span: float) -> str:
    """SIGKILL ``proc`` per ``mode``; returns what happened ("killed" or "ended first")."""
    t0 = time.monotonic()
    if mode == "checkpoint":
        ckpts = run_dir / "checkpoints"
        while proc.poll() is None and time.monotonic() - t0 < 120:
            try:
                if any(n.startswith(".step-") for n in os.listdir(ckpts)):
                    break
            except OSError:
                pass
            time.sleep(0.0005)
    else:  # timed from the run directory's appearing
        while proc.poll() is None and not (run_dir / "status.json").exists() and time.monotonic() - t0 < 120:
            time.sleep(0.002)
        t0, delay = time.monotonic(), rng.uniform(0.0, 1.0 if mode == "first-second" else span)
        while proc.poll() is None and time.monotonic() - t0 < delay:
            time.sleep(0.002)
    if proc.poll() is not None:
        return "ended first"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return "killed"


def rows(run_dir: Path) -> list[dict]:
    events, _ = read_events(run_dir / "events.jsonl")
    return [{k: v for k, v in e.items() if k != "t"} for e in events if e["kind"] == "metrics"]


def final(run_dir: Path) -> dict:
    return torch.load(checkpoint.list_checkpoints(run_dir)[-1], weights_only=True)


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def trial(model: str, root: Path, i: int, rng: random.Random, reference: tuple, span: float) -> dict:
    steps, hp = SIZES[model]
    name = f"{model}-{i}"
    run_dir = root / name
    mode = MODES[i % len(MODES)]
    cadence = CADENCES[(i // len(MODES)) % len(CADENCES)]  # every kill mode with every cadence
    proc = start(genlab("train", model, "--name", name, "--max-steps", str(steps), "--runs-dir", str(root),
                        *hp, *COMMON, *cadence))
    kills = [kill_when(proc, run_dir, mode, rng, span)]
    if i % 2:  # kill the resume too, mid-checkpoint
        kills.append(kill_when(start(genlab("resume", name, "--runs-dir", str(root))), run_dir, "checkpoint", rng, span))
    p = subprocess.run(genlab("resume", name, "--runs-dir", str(root)), capture_output=True, text=True)
    ok_exit = p.returncode == 0 or (p.returncode == 2 and "finished at step" in p.stderr)
    events, _ = read_events(run_dir / "events.jsonl")
    result = {"trial": i, "mode": mode, "cadence": " ".join(cadence), "kills": kills, "resume_exit": p.returncode,
              "quality_checks": sum(e["kind"] == "eval" and bool(e.get("quality")) for e in events),
              "error": p.stderr.strip().splitlines()[-1] if p.returncode and p.stderr.strip() else None}
    if not ok_exit:
        return result | {"equal": False}
    ckpt = final(run_dir)
    ref_ckpt, ref_rows = reference
    differs = [part for part, ok in (("step", ckpt["step"] == ref_ckpt["step"]),
                                     ("models", same(ckpt["models"], ref_ckpt["models"])),
                                     ("optimizers", same(ckpt["optimizers"], ref_ckpt["optimizers"])),
                                     ("metric rows", rows(run_dir) == ref_rows)) if not ok]
    return result | {"equal": not differs, "differs": differs}


def campaign(model: str, root: Path, trials: int, rng: random.Random, keep: Path | None = None) -> dict:
    steps, hp = SIZES[model]
    subprocess.run(genlab("train", model, "--name", f"{model}-straight", "--max-steps", str(steps),
                          "--runs-dir", str(root), *hp, *COMMON, *STRAIGHT), check=True, capture_output=True)
    straight = root / f"{model}-straight"
    events, _ = read_events(straight / "events.jsonl")
    span = events[-1]["t"] - events[0]["t"]  # how long one run trains, first event to last
    reference = (final(straight), rows(straight))
    results = [trial(model, root, i, rng, reference, span) for i in range(trials)]
    if keep:
        for r in results:
            if not r["equal"]:
                shutil.copytree(root / f"{model}-{r['trial']}", keep / f"{model}-{r['trial']}", dirs_exist_ok=True)
    return {"model": model, "trials": trials, "equal": sum(r["equal"] for r in results),
            "kills": sum(k == "killed" for r in results for k in r["kills"]),
            "mid_checkpoint": sum(r["mode"] == "checkpoint" for r in results) + sum(len(r["kills"]) > 1 for r in results),
            "first_second": sum(r["mode"] == "first-second" for r in results),
            "quality_checks": round(sum(r.get("quality_checks", 0) for r in results) / max(1, trials), 1),
            "failures": [r for r in results if not r["equal"]], "run_seconds": round(span, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--models", default=",".join(SIZES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", type=Path, help="Copy the run directories of failed trials here.")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.json:
            print(f"{'model':15} {'equal':>9} {'kills':>6} {'mid-ckpt':>9} {'1st s':>6} {'quality':>8} {'run':>6}",
                  flush=True)
        for model in args.models.split(","):
            r = campaign(model, Path(tmp), args.trials, rng, args.keep)
            out.append(r)
            if not args.json:
                print(f"{r['model']:15} {r['equal']:>4}/{r['trials']:<4} {r['kills']:>6} {r['mid_checkpoint']:>9} "
                      f"{r['first_second']:>6} {r['quality_checks']:>8} {r['run_seconds']:>5}s", flush=True)
                for f in r["failures"]:
                    print(f"   failed: {json.dumps(f)}", flush=True)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        total = sum(r["equal"] for r in out), sum(r["trials"] for r in out)
        print(f"all models: {total[0]}/{total[1]} resumed to weights equal to a straight run")


if __name__ == "__main__":
    main()
