"""One run on 1, 2, ... processes: images per second and the scaling efficiency (a benchmark).

    GENLAB_DATA_DIR=../shared/data python bench/ddp.py [--models vae,gan] [--procs 1,2] [--steps 600]
        [--batch-size 128] [--device cpu] [--json]

Each point is a real `genlab train MODEL --nproc N` (PyTorch's torch.distributed.run; gloo on
the CPU, NCCL on GPUs) with the same global batch, its side jobs (samples, quality checks,
checkpoints) pushed past the end; the speed is read from the run's own record: images trained
between the 50th and the last step over the wall time between them (start-up excluded). The
efficiency of N processes is their images/s over N times one process's. On a CPU the processes
share its cores (each gets cores/N threads), so the figure says what the communication costs
rather than what more devices would give.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from genlab.run.store import read_events

QUIET = ["--sample-every", "100000", "--quality-every", "100000", "--checkpoint-every", "100000",
         "--eval-size", "200", "--log-every", "100000"]


def speed(model: str, nproc: int, steps: int, batch: int, device: str, root: Path) -> float:
    name = f"{model}-{nproc}"
    p = subprocess.run([sys.executable, "-m", "genlab", "train", model, "--nproc", str(nproc), "--max-steps", str(steps),
                        "--batch-size", str(batch), "--device", device, "--name", name, *QUIET, "--runs-dir", str(root)],
                       capture_output=True, text=True, env={**os.environ, "GENLAB_OFFLINE": "1"})
    if p.returncode:
        raise SystemExit(f"{model} --nproc {nproc} failed:\n{p.stdout}{p.stderr}")
    rows = [e for e in read_events(root / name / "events.jsonl")[0] if e["kind"] == "metrics"]
    first, last = rows[min(49, len(rows) - 2)], rows[-1]
    return (last["step"] - first["step"]) * batch / (last["t"] - first["t"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="vae,gan")
    p.add_argument("--procs", default="1,2")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    procs = [int(x) for x in a.procs.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models.split(","):
            base = None
            for n in procs:
                ips = speed(model, n, a.steps, a.batch_size, a.device, Path(tmp))
                base = ips if n == 1 else base
                rows.append({"model": model, "nproc": n, "images_per_s": round(ips, 1),
                             "efficiency": round(ips / (n * base), 3) if base else None})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"global batch {a.batch_size}, {a.steps} steps, device {a.device}, {os.cpu_count()} CPUs")
    print("model       procs   images/s   efficiency")
    for r in rows:
        eff = f"{r['efficiency']:.0%}" if r["efficiency"] is not None else "-"
        print(f"{r['model']:<10} {r['nproc']:>6} {r['images_per_s']:>10,.0f}   {eff:>10}")


if __name__ == "__main__":
    main()
