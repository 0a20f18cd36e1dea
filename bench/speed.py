"""Training speed of every model, beside the seed's own loop measured in the same run.

    GENLAB_DATA_DIR=../shared/data python bench/speed.py [--models all] [--seconds 10] [--rounds 2]
        [--devices cpu,cuda] [--json]

For each device (the CPU, and a CUDA GPU when there is one) and each model, images per second of
genlab's loop (genlab/bench.py: digits resident on the device, no host synchronisation inside
the timed steps) at the seed's batch size, 64, and at a large batch (1,024 on the CPU, 4,096 on
a GPU). The seed's loop is the tutorial's, verbatim in spirit: torchvision ``MNIST`` with
``ToTensor`` and ``Normalize((0.5,), (0.5,))``, ``DataLoader(batch_size=64, shuffle=True)``, the
MLP GAN and its BCE step (D on real, D on detached fake, then G through D), moved to the device
as a user would. It and genlab's `gan` at batch 64 run alternately for ``--rounds`` rounds of
``--seconds`` each; the table gives the best round of each against the other, and the median of
the rounds' own ratios (a round's two figures ran back to back: the ratio a noisy machine moves
least). Targets: at least 2x the seed's
loop on the CPU; on an H100 at least 10x, and 1,000,000 images/s at batch 4,096.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
from torch import nn

from genlab import models
from genlab.core.data import explicit_dir, load_digits
from genlab.core.device import resolve, synchronize
from genlab.train.bench import throughput


def seed_models():
    G = nn.Sequential(
        nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh())
    D = nn.Sequential(
        nn.Linear(784, 1024), nn.LeakyReLU(0.2), nn.Dropout(0.3),
        nn.Linear(1024, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
        nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3),
        nn.Linear(256, 1), nn.Sigmoid())
    return G, D


def seed_loop(data_root: str, seconds: float, device: str = "cpu", warmup: int = 10) -> dict:
    """The seed's training loop, timed for ``seconds`` after ``warmup`` steps."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = datasets.MNIST(root=data_root, train=True, download=False, transform=transform)
    loader = DataLoader(dataset, batch_size=64, shuffle=True)
    G, D = (net.to(device) for net in seed_models())
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4)

    steps, images, start = 0, 0, None
    while True:
        for real, _ in loader:
            if steps == warmup:
                synchronize(torch.device(device))
                start, images = time.perf_counter(), 0
            real = real.view(-1, 784).to(device)
            b = real.size(0)
            ones, zeros = torch.ones(b, 1, device=device), torch.zeros(b, 1, device=device)
            d_loss = criterion(D(real), ones)
            fake = G(torch.randn(b, 100, device=device))
            d_loss = d_loss + criterion(D(fake.detach()), zeros)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = criterion(D(fake), ones)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            steps += 1
            images += b
            if start is not None and steps % 20 == 0 and time.perf_counter() - start >= seconds:
                synchronize(torch.device(device))
                elapsed = time.perf_counter() - start
                return {"images_per_s": round(images / elapsed, 1), "steps": steps - warmup, "seconds": round(elapsed, 2)}


LARGE = {"cpu": 1024, "cuda": 4096}


def timed(name: str, batch: int, seconds: float, dev: str, digits, **speed) -> dict:
    """About ``seconds`` of timed training after 2 warm-up steps, whatever a step costs (a step
    longer than ``seconds``, such as gated-pixelcnn's at batch 1,024 on a CPU, is timed twice)."""
    return throughput(name, batch, steps=2, device=dev, digits=digits, warmup=2, seconds=seconds, **speed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="all", help="comma-separated names, or all")
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per measurement")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of the seed's loop and genlab's gan")
    ap.add_argument("--devices", default=None, help="default: cpu, and cuda when available")
    ap.add_argument("--compile", action="store_true", help="genlab's figures with --compile")
    ap.add_argument("--amp", default="off", help="genlab's figures with --amp (off or bf16)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    speed = {"compile": args.compile, "amp": args.amp}

    root = explicit_dir(None)
    if root is None:
        raise SystemExit("set GENLAB_DATA_DIR to an MNIST directory (e.g. ../shared/data)")
    names = list(models.MODELS) if args.models == "all" else args.models.split(",")
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    cpu_digits = load_digits(root)
    rows = []
    for dev in devices:
        digits = cpu_digits.to(resolve(dev))
        # ---- the seed's loop against genlab's gan, alternating
        seeds, gans = [], []
        for r in range(args.rounds):
            seeds.append(seed_loop(str(root), args.seconds, dev)["images_per_s"])
            gans.append(timed("gan", 64, args.seconds, dev, digits, **speed)["images_per_s"])
            if not args.json:
                print(f"{dev} round {r + 1}: seed loop {seeds[-1]:,.0f} img/s, genlab gan {gans[-1]:,.0f} img/s, "
                      f"ratio {gans[-1] / seeds[-1]:.2f}", flush=True)
        seed_best, gan_best = max(seeds), max(gans)
        # each round's pair ran back to back, so its ratio is the least touched by a noisy machine
        paired = round(statistics.median(g / s for g, s in zip(gans, seeds)), 2)
        rows.append({"model": "seed loop (gan)", "device": dev, "batch_64": seed_best, "large_batch": None,
                     "large": None, "vs_seed": 1.0, "rounds": seeds})
        # ---- every model at batch 64 and at a large batch
        for name in names:
            small = gan_best if name == "gan" else timed(name, 64, args.seconds, dev, digits, **speed)["images_per_s"]
            large = timed(name, LARGE.get(resolve(dev).type, 1024), args.seconds, dev, digits, **speed)
            rows.append({"model": name, "device": dev, "batch_64": small, "large_batch": large["images_per_s"],
                         "large": large["batch_size"], "vs_seed": round(small / seed_best, 2) if name == "gan" else None})
            if name == "gan":
                rows[-1].update(rounds=gans, vs_seed_paired=paired)
            if not args.json:
                print(json.dumps(rows[-1]), flush=True)
    result = {"threads": torch.get_num_threads(), "cpus": os.cpu_count(), "torch": torch.__version__, **speed,
              "seconds": args.seconds, "rounds": args.rounds, "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"\nimages/s, {args.seconds:g} s per figure, best of {args.rounds} rounds for the seed's loop and gan; "
          f"torch {torch.__version__}, {result['threads']} threads, compile {args.compile}, amp {args.amp}")
    print(f"{'model':16} {'device':6} {'batch 64':>10} {'large batch':>18} {'vs seed loop':>13} {'paired':>7}")
    for r in rows:
        large = f"{r['large_batch']:>10,.0f} @ {r['large']:<5}" if r["large_batch"] else f"{'':>18}"
        vs = f"{r['vs_seed']:.2f}x" if r["vs_seed"] else ""
        paired = f"{r['vs_seed_paired']:.2f}x" if r.get("vs_seed_paired") else ""
        print(f"{r['model']:16} {r['device']:6} {r['batch_64']:>10,.0f} {large} {vs:>13} {paired:>7}")
    print("vs seed loop: best round against best round; paired: the median of each round's ratio")


if __name__ == "__main__":
    main()
