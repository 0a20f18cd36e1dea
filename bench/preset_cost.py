"""What a preset's training costs: images per second here, and the time of the papers' schedules.

    GENLAB_DATA_DIR=../shared/data python bench/preset_cost.py [--preset gpu] [--device auto]
        [--seconds 20] [--gpu-tflops 20]

For each model with the preset (`genlab models`: ``vae`` and ``gated-pixelcnn`` have ``gpu``), it
counts the floating-point operations of one training step (torch.utils.flop_counter: the
matrix products and convolutions, forward and backward), measures genlab's loop's images per
second on ``--device`` for about ``--seconds`` (genlab/train/bench.py), and gives the time of
the epochs the paper trained for (:data:`PAPER_EPOCHS`). On a CUDA device the time is
measured; on a CPU it prints the CPU's own time and an estimate for a GPU that sustains
``--gpu-tflops`` on these layers and takes at least ``--gpu-step-ms`` a step (kernel launches:
a small batch's step is bound by them, not by arithmetic). Both are assumptions the table says,
not measurements.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from genlab import models
from genlab.core.data import Batches, load_digits
from genlab.core.device import resolve
from genlab.train.bench import throughput

# the passes over the 60,000 training digits each paper trained for: Burda et al. (2016), 3^i
# epochs at each of 8 learning rates (i = 0..7), 3,280 in all; van den Oord et al. (2016) give
# no epoch count for MNIST: 50, as an assumption the table says
PAPER_EPOCHS = {"vae": (3280, "Burda et al. 2016"), "gated-pixelcnn": (50, "assumed")}


def flops_per_image(name: str, hp: dict, digits) -> float:
    """The operations of one training step (forward and backward) over its batch, per image."""
    torch.manual_seed(0)
    m = models.build(name, hp, torch.device("cpu"))
    idx = Batches(len(digits.train_images), int(m.hp["batch_size"]), 0, torch.device("cpu")).next()
    with FlopCounterMode(display=False) as counter:
        m.step(digits.train_images[idx], digits.train_labels[idx])
    return counter.get_total_flops() / int(m.hp["batch_size"])


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="gpu")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--gpu-tflops", type=float, default=20.0, help="a GPU's sustained TFLOP/s, for the estimate")
    ap.add_argument("--gpu-step-ms", type=float, default=1.0, help="a GPU's least time a step, for the estimate")
    args = ap.parse_args()
    device = resolve(args.device)
    digits = load_digits(None)
    names = [n for n in models.classes() if args.preset in models.get(n).presets]
    print(f"{'model':16} {'preset':7} {'batch':>5} {'GFLOP/image':>11} {'images/s':>9} {'epoch':>8}  paper's epochs")
    for name in names:
        hp = dict(models.get(name).presets[args.preset])
        flops = flops_per_image(name, hp, digits)
        speed = throughput(name, steps=5, warmup=3, device=str(device), digits=digits, hp=hp, seconds=args.seconds)
        epoch_s = 60_000 / speed["images_per_s"]
        epochs, source = PAPER_EPOCHS.get(name, (0, ""))
        line = (f"{name:16} {args.preset:7} {speed['batch_size']:>5} {flops / 1e9:>11.3f} "
                f"{speed['images_per_s']:>9,.0f} {epoch_s:>7.1f}s  {epochs:,} ({source}): "
                f"{hours(epochs * epoch_s)} on {speed['device']} ({speed['threads']} threads)")
        if device.type != "cuda":
            steps = 60_000 / speed["batch_size"]
            gpu_epoch_s = max(60_000 * flops / (args.gpu_tflops * 1e12), steps * args.gpu_step_ms / 1000)
            line += (f"; estimated {hours(epochs * gpu_epoch_s)} on a GPU at {args.gpu_tflops:g} TFLOP/s and "
                     f"{args.gpu_step_ms:g} ms a step at least (this CPU: {speed['images_per_s'] * flops / 1e9:.0f} "
                     f"GFLOP/s)")
        print(line, flush=True)


if __name__ == "__main__":
    main()
