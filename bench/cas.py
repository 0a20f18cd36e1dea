"""What a conditional generator's digits are worth: the Classification Accuracy Score (a
benchmark, not a test).

    GENLAB_DATA_DIR=../shared/data python bench/cas.py [--model cgan] [--preset cpu] [--minutes 5] [-n 10000]

Trains the model for a time budget (genlab's own loop; the clock decides, not the epochs), then
does what `genlab eval RUN --cas` does: the evaluation classifier trained on N generated digits
only (classes balanced) and tested on the real test set, beside the same classifier trained on N
real digits (Ravuri and Vinyals 2019). On MNIST a good conditional generator comes within a few
points of real data.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from genlab.core.data import load_for_run
from genlab.eval import cas
from genlab.models import trained
from genlab.train.execute import create, execute, prepare


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="cgan")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("-n", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=4, help="the classifier's epochs")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    data_dir = os.environ.get("GENLAB_DATA_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        run = create(prepare(a.model, data_dir=data_dir, runs_dir=Path(tmp), name="cas", epochs=1000,
                             max_minutes=a.minutes, preset=a.preset or None, device="cpu"))
        start = time.perf_counter()
        execute(run)
        trained_s = time.perf_counter() - start
        t = trained.newest(run, torch.device("cpu"))
        digits = load_for_run(t.config.data, "cpu", data_dir)
        start = time.perf_counter()
        result = {"model": a.model, "preset": a.preset, "minutes": a.minutes, "steps": t.step,
                  "data": t.config.data.get("source"), "threads": torch.get_num_threads(),
                  **cas.score(t.model, digits, a.n, a.epochs)}
        result["scoring_s"] = round(time.perf_counter() - start, 1)
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{a.model} --preset {a.preset}, {trained_s / 60:.1f} min of training ({t.step:,} steps, "
          f"{result['threads']} CPU threads, data: {result['data']}); classifier {a.epochs} epochs on "
          f"{a.n:,} digits, {result['scoring_s']} s")
    print("trained on        all   " + "".join(f"{d:>5}" for d in range(10)))
    for name, key in (("generated (CAS)", "cas"), ("real", "real")):
        print(f"{name:<16} {result[key]:6.1%}  " + "".join(f"{v:5.0%}" for v in result[f"{key}_by_class"]))
    print(f"gap: {result['gap'] * 100:.1f} points; weakest generated digit: "
          f"{min(range(10), key=lambda d: result['cas_by_class'][d])}")


if __name__ == "__main__":
    main()
