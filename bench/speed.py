"""Training speed: genlab's `gan` beside the seed's own loop, in the same process.

    GENLAB_DATA_DIR=../shared/data python bench/speed.py [--seconds 20] [--json]

The seed's loop is the tutorial's, verbatim in spirit: torchvision ``MNIST`` with ``ToTensor``
and ``Normalize((0.5,), (0.5,))``, ``DataLoader(batch_size=64, shuffle=True)``, the MLP GAN and
its BCE step (D on real, D on detached fake, then G through D). genlab runs the same model and
losses through its own loop (genlab/bench.py). Both run for the same wall time after a warm-up,
alternating, and the best of the rounds is reported for each.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch
from torch import nn

from genlab.bench import throughput
from genlab.data import explicit_dir, load_digits


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


def seed_loop(data_root: str, seconds: float, warmup: int = 10) -> dict:
    """The seed's training loop, timed for ``seconds`` after ``warmup`` steps."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = datasets.MNIST(root=data_root, train=True, download=False, transform=transform)
    loader = DataLoader(dataset, batch_size=64, shuffle=True)
    G, D = seed_models()
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4)

    steps, images, start = 0, 0, None
    while True:
        for real, _ in loader:
            if steps == warmup:
                start, images = time.perf_counter(), 0
            real = real.view(-1, 784)
            b = real.size(0)
            ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)
            d_loss = criterion(D(real), ones)
            fake = G(torch.randn(b, 100))
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
            if start is not None and time.perf_counter() - start >= seconds:
                elapsed = time.perf_counter() - start
                return {"images_per_s": round(images / elapsed, 1), "steps": steps - warmup, "seconds": round(elapsed, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="timed seconds per round and loop")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    root = explicit_dir(None)
    if root is None:
        raise SystemExit("set GENLAB_DATA_DIR to an MNIST directory (e.g. ../shared/data)")
    digits = load_digits(root)
    seed_best, ours_best = 0.0, 0.0
    rows = []
    for r in range(args.rounds):
        s = seed_loop(str(root), args.seconds)
        seed_best = max(seed_best, s["images_per_s"])
        # genlab: estimate the steps that fill the same time from a short probe
        probe = throughput("gan", 64, steps=30, device=args.device, digits=digits)
        steps = max(30, int(args.seconds * probe["images_per_s"] / 64))
        g = throughput("gan", 64, steps=steps, device=args.device, digits=digits)
        ours_best = max(ours_best, g["images_per_s"])
        rows.append({"round": r + 1, "seed_images_per_s": s["images_per_s"], "genlab_images_per_s": g["images_per_s"]})
    result = {
        "model": "gan", "batch_size": 64, "device": args.device, "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "torch": torch.__version__, "rounds": rows,
        "seed_images_per_s": seed_best, "genlab_images_per_s": ours_best,
        "ratio": round(ours_best / seed_best, 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for row in rows:
            print(f"round {row['round']}: seed loop {row['seed_images_per_s']:>8,.0f} img/s   "
                  f"genlab {row['genlab_images_per_s']:>8,.0f} img/s")
        print(f"best: seed loop {seed_best:,.0f} img/s, genlab {ours_best:,.0f} img/s, "
              f"ratio {result['ratio']:.2f}x  (gan, batch 64, {args.device}, {result['threads']} threads)")


if __name__ == "__main__":
    main()
