"""bf16 against float32, side by side in one run, for every model (a benchmark, not a test).

    GENLAB_DATA_DIR=../shared/data python bench/amp.py [--models all] [--seconds 5] [--rounds 2]

For each model at batch 64 on the CPU: ``--rounds`` alternating rounds of float32 and of
``--amp bf16`` (genlab/bench.py's timing), the best of each, and the median of each round's
ratio. The header names the CPU and whether torch found bfloat16 units on it (AVX-512 BF16 or
AMX): without them genlab trains in float32 under ``--amp bf16`` and the ratio is about 1.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch

from genlab import models
from genlab.core import speed
from genlab.core.data import load_digits
from genlab.train.bench import throughput


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="all", help="comma-separated names, or all")
    ap.add_argument("--seconds", type=float, default=5.0, help="timed seconds per figure")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    names = list(models.MODELS) if args.models == "all" else args.models.split(",")
    digits = load_digits(None)
    ok, why = speed.bf16_supported(torch.device("cpu"))
    caps = torch.cpu.get_capabilities()
    print(f"# {cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}; AVX-512 "
          f"{'yes' if caps.get('avx512_f') else 'no'}, bf16 units {'yes' if ok else 'no (' + why + ')'}; "
          f"data {digits.source}; batch 64, {args.seconds:g} s a figure, {args.rounds} rounds", flush=True)
    print(f"{'model':16} {'float32':>9} {'bf16':>9} {'best/best':>10} {'paired':>7}", flush=True)
    for name in names:
        fp32, bf16 = [], []
        for _ in range(args.rounds):
            fp32.append(throughput(name, 64, steps=2, device="cpu", digits=digits, warmup=2,
                                   seconds=args.seconds)["images_per_s"])
            bf16.append(throughput(name, 64, steps=2, device="cpu", digits=digits, warmup=2,
                                   seconds=args.seconds, amp="bf16")["images_per_s"])
        paired = statistics.median(b / f for b, f in zip(bf16, fp32))
        print(f"{name:16} {max(fp32):>9,.0f} {max(bf16):>9,.0f} {max(bf16) / max(fp32):>9.2f}x {paired:>6.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
