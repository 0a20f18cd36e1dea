"""The metrics record at a GPU's step rate (a benchmark, not a test): bytes an hour, cost a step.

    python bench/record.py [--seconds 30] [--json]

A toy model whose step is almost free stands in for a GPU (thousands of steps a second on a
CPU), trained through the real engine and sinks twice, side by side: with the record's budget
(genlab/record.py) and with every step its own row (the budget made limitless). For each: steps a
second, bytes a row, the record's growth once steady (the second half of the run), what an hour
would write (the first half's bytes, the burst among them, then the steady rate), and the
record's cost a step (the time the engine spends reading metrics back and writing them).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import threading
import time
from pathlib import Path

import torch
from torch import nn

from genlab import models
from genlab.models.base import GenModel, adam
from genlab.run import record
from genlab.run.store import read_events
from genlab.train.execute import create, execute, prepare
from genlab.train.trainer import Trainer
from genlab.view import Metric, Pane, View


class Toy(GenModel):
    """Two parameters and one metric: a step costs microseconds, as a small model's on a GPU."""

    name, family, description = "toy", "toy", "a near-free step, for benchmarks"
    defaults = {"batch_size": 64, "lr": 1e-3}
    view = View(metrics=tuple(Metric(k, "a toy metric", "") for k in ("a", "b", "c", "d")),
                panes=(Pane("toy", ("a", "b", "c", "d")),), key="a")  # four metrics, as a GAN's
    sample_count = 4

    def __init__(self, hp, device):
        super().__init__(hp, device)
        self.net = nn.Linear(1, 1).to(self.device)
        self.networks = {"net": self.net}
        self.optimizers = {"net": adam(self.net.parameters(), self.hp["lr"])}

    def step(self, images, labels):
        loss = (self.net.weight - images[0, 0, 0].float()).pow(2).sum()
        self.optimizers["net"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["net"].step()
        loss = loss.detach()
        return {"a": loss, "b": loss * 2, "c": loss + 1, "d": -loss}

    def latent(self, n, generator):
        return torch.zeros(n)

    def decode(self, latent, interrupt=None):
        return torch.zeros(len(latent), 28, 28, dtype=torch.uint8)

    def evaluate(self, images, labels, interrupt=None):
        return {"test_a": float((self.net.weight.detach() - 1).pow(2).sum())}


def one(root: Path, name: str, seconds: float, limitless: bool) -> dict:
    saved = record.BURST_ROWS, record.ROWS_PER_S
    if limitless:
        record.BURST_ROWS, record.ROWS_PER_S = 10**12, 1e12
    spent = [0.0]
    flush = Trainer.flush_metrics

    def timed(self):
        start = time.perf_counter()
        flush(self)
        spent[0] += time.perf_counter() - start

    Trainer.flush_metrics = timed
    try:
        run_dir = create(prepare("toy", runs_dir=root, name=name, max_steps=10**9, eval_size=10,
                                 quality_every_s=10**6, sample_every_s=10**6))
        # the engine stops at a step boundary once stop_request is set: a timer sets it
        started = time.monotonic()
        original_begin = Trainer.begin

        def record_size() -> int:
            return sum((run_dir / f).stat().st_size for f in ("events.jsonl", "metrics.bin") if (run_dir / f).exists())

        half = {}

        def timer(trainer) -> None:
            time.sleep(seconds / 2)
            half.update(t=time.monotonic(), size=record_size(), step=trainer.step)
            time.sleep(seconds / 2)
            trainer.stop_request = "the benchmark's time is up"

        def begin(self):
            threading.Thread(target=timer, args=(self,), daemon=True).start()
            original_begin(self)

        Trainer.begin = begin
        try:
            execute(run_dir)
        finally:
            Trainer.begin = original_begin
        end_t, end_size = time.monotonic(), record_size()
        wall = end_t - started
    finally:
        Trainer.flush_metrics = flush
        record.BURST_ROWS, record.ROWS_PER_S = saved
    events, _ = read_events(run_dir / "events.jsonl")
    rows = [e for e in events if e["kind"] == "metrics"]
    steps = rows[-1]["step"] if rows else 0
    # an hour: what the first half wrote (the burst included), then the second half's rate
    steady = (end_size - half["size"]) / (end_t - half["t"])
    hour = half["size"] + steady * (3600 - (half["t"] - started))
    return {"record": "every step" if limitless else "budget", "steps": steps, "seconds": round(wall, 1),
            "steps_per_s": round(steps / wall), "rows": len(rows), "bytes_per_row": round(end_size / len(rows)),
            "steady_kb_per_s": round(steady / 1e3, 1), "mb_per_hour": round(hour / 1e6, 1),
            "record_us_per_step": round(spent[0] / steps * 1e6, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="How long each of the two runs trains.")
    parser.add_argument("--json", action="store_true", help="Print JSON.")
    args = parser.parse_args()
    models.MODELS["toy"] = Toy
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        results = [one(Path(tmp), "budget", args.seconds, False), one(Path(tmp), "limitless", args.seconds, True)]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"# bench/record.py --seconds {args.seconds:g} on {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, 1 thread; the record budget: {record.BURST_ROWS:,} rows, then "
          f"{record.ROWS_PER_S:g} rows/s")
    print(f"{'record':12} {'steps/s':>8} {'rows':>9} {'B/row':>6} {'steady kB/s':>12} {'MB in an hour':>14} "
          f"{'record µs/step':>15}")
    for r in results:
        print(f"{r['record']:12} {r['steps_per_s']:>8,} {r['rows']:>9,} {r['bytes_per_row']:>6} "
              f"{r['steady_kb_per_s']:>12} {r['mb_per_hour']:>14,} {r['record_us_per_step']:>15}")


if __name__ == "__main__":
    main()
