"""Quality for fixed training times, per model (a benchmark, not a test).

    GENLAB_DATA_DIR=../shared/data python bench/quality.py [--at 300,600] [--models gan,dcgan,...]
        [--preset cpu] [--hp KEY=VALUE ...] [--device auto] [--seed-reference-epochs 40] [-k 1000] [--json]

Trains each model once, up to the longest of ``--at`` (seconds of wall time in genlab's own loop:
digits on the device, seeded batches), and measures it at each of those training times as
`genlab eval` does (the measuring is not counted as training): FLD against the test set, the
share of digits classified with confidence 0.9 or more and the class range (smallest and largest
class share) for GANs, on 10,000 generated digits; the importance-sampled NLL (``-k`` samples)
of the 10,000 test digits for VAEs; the exact test NLL for PixelCNNs. The table's first row is
the floor: the same figures for 10,000 real training digits; its heading names the machine.
``--seconds S`` is ``--at S``. ``--grids DIR`` saves each model's sample grid at each time there
(``DIR/<model>-<seconds>s.png``: its declared count of digits, seed 0, as `genlab sample` draws). With ``--seed-reference-epochs E`` it also trains the seed's `gan`
for E epochs (about 18 minutes for 40 here) and reports the time the best GAN took to reach that
FLD (checked every 5 s of training, on 10,000 digits as the seed's is). ``--preset NAME`` trains
the models that have that preset with it (see `genlab models`), the others with their defaults;
``--hp KEY=VALUE`` (repeatable) sets a hyperparameter of each model that has it, over the preset.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from genlab import models
from genlab.config import parse_hp
from genlab.core.data import Batches, load_digits
from genlab.core.device import resolve, synchronize
from genlab.eval import quality as evaluate
from genlab.render.grid import grid_png

ALL = ("gan", "dcgan", "wgan-gp", "cgan", "vae", "conv-vae", "pixelcnn", "gated-pixelcnn")


def train_for(name: str, digits, device, seconds: float | None = None, steps: int | None = None,
              on_checkpoint=None, every_s: float | None = None, preset: str | None = None, marks=(), hp=None):
    """Train ``name`` for a time or a number of steps. ``on_checkpoint(model, trained, step)`` is
    called when the training time passes each of ``marks`` (seconds) and, with ``every_s``, every
    that many seconds of training (the time it takes is not counted); it ends the training by
    returning True."""
    torch.manual_seed(0)
    m = models.build(name, hp or {}, device, preset)
    m.prepare(digits.train_images)
    batches = Batches(len(digits.train_images), int(m.hp["batch_size"]), 0, device)
    trained, step, next_check, due = 0.0, 0, every_s, sorted(marks)
    while (seconds is None or trained < seconds) and (steps is None or step < steps):
        start = time.perf_counter()
        for _ in range(10):
            idx = batches.next()
            m.step(digits.train_images[idx], digits.train_labels[idx])
            step += 1
        synchronize(device)
        trained += time.perf_counter() - start
        reached = False
        while due and trained >= due[0]:
            due.pop(0)
            reached = True
        if every_s and trained >= next_check:
            next_check += every_s
            reached = True
        if on_checkpoint and reached and on_checkpoint(m, trained, step):
            break
    return m, trained, step


def measure(m, digits, judge: evaluate.Judge, k: int) -> dict:
    q = evaluate.measure(m, digits.test_images, digits.test_labels, n=10_000, k=k, judge=judge)
    return {key: round(v, 3) if isinstance(v, float) and key != "fld" else v for key, v in q.items()}


def machine(device) -> str:
    """The machine the figures came from, for the table's heading."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu}, {torch.get_num_threads()} threads"
    return f"{where}; torch {torch.__version__}"


def quality_words(r: dict, k: int) -> str:
    if "fld" in r:
        return (f"FLD {r['fld']:.2f}  confident {r['confident']:.1%}  "
                f"classes {r['min_class_share']:.1%}-{r['max_class_share']:.1%}")
    if "test_is_nll" in r:
        return f"IS-NLL {r['test_is_nll']:.2f} nats (k={k})"
    if "test_nll" in r:
        return f"test NLL {r['test_nll']:.2f} nats ({r['test_bpd']:.4f} bits/dim)"
    return json.dumps({key: v for key, v in r.items() if key not in ("model", "device")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--at", default="60", help="training times to measure at, seconds, e.g. 300,600")
    ap.add_argument("--seconds", type=float, default=None, help="one training time: --at SECONDS")
    ap.add_argument("--models", default=",".join(ALL))
    ap.add_argument("--device", default="auto")
    ap.add_argument("-k", type=int, default=1000, help="importance samples for VAEs")
    ap.add_argument("--preset", default=None, help="train the models that have this preset with it")
    ap.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE",
                    help="a hyperparameter for each model that has it, over its preset (repeatable)")
    ap.add_argument("--seed-reference-epochs", type=int, default=0)
    ap.add_argument("--grids", default=None, help="a folder for each model's sample grid at each time (PNG)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    grids = Path(args.grids) if args.grids else None
    if grids:
        grids.mkdir(parents=True, exist_ok=True)
    at = [args.seconds] if args.seconds else sorted(float(s) for s in args.at.split(","))

    device = resolve(args.device)
    digits = load_digits(None, device)
    judge = evaluate.Judge(digits.test_images, device)
    rows = [{"model": "real digits (floor)", "device": str(device), "seconds": 0, "steps": 0,
             **judge.judge(digits.train_images[:10_000])}]

    def preset_of(name: str) -> str | None:
        return args.preset if args.preset in models.get(name).presets else None

    given = parse_hp(args.hp)

    def hp_of(name: str) -> dict:
        return {key: value for key, value in given.items() if key in models.get(name).defaults}

    for name in args.models.split(","):
        label = name + (f" --preset {preset_of(name)}" if preset_of(name) else "")
        label += "".join(f" --hp {key}={value}" for key, value in hp_of(name).items())

        def at_mark(m, trained, step, name=name, label=label):
            rows.append({"model": label, "name": name, "device": str(device), "seconds": round(trained, 1),
                         "steps": step, **measure(m, digits, judge, args.k)})
            print(json.dumps(rows[-1]), flush=True)
            if grids:
                images = m.sample(m.sample_count, torch.Generator().manual_seed(0)).numpy()
                file = label.replace(" --preset ", "-").replace(" --hp ", "-").replace("=", "")
                (grids / f"{file}-{trained:.0f}s.png").write_bytes(grid_png(images))

        train_for(name, digits, device, seconds=max(at), on_checkpoint=at_mark, marks=at, preset=preset_of(name),
                  hp=hp_of(name))

    if args.seed_reference_epochs:
        ref_steps = args.seed_reference_epochs * (60_000 // 64)
        ref, ref_s, _ = train_for("gan", digits, device, steps=ref_steps)
        target = judge.judge(evaluate.generate(ref, 10_000))["fld"]
        gans = [r for r in rows[1:] if "fld" in r]
        best = min(gans, key=lambda r: r["fld"])["name"] if gans else "dcgan"
        reached = {}

        def check(model, elapsed, step):
            fld = judge.judge(evaluate.generate(model, 10_000))["fld"]
            if fld <= target:
                reached.update(seconds=round(elapsed, 1), step=step, fld=fld)
                return True
            return False

        train_for(best, digits, device, seconds=max(600.0, *at), on_checkpoint=check, every_s=5.0,
                  preset=preset_of(best))
        rows.append({"model": f"time to the seed's {args.seed_reference_epochs}-epoch FLD", "device": str(device),
                     "seed_fld": target, "seed_seconds": round(ref_s, 1),
                     "best_gan": best + (f" --preset {preset_of(best)}" if preset_of(best) else ""), **reached})

    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"\nquality after fixed training times on {machine(device)}\n")
    print(f"{'model':30} {'device':6} {'time':>7} {'steps':>8}  quality")
    for r in rows:
        if "seed_fld" in r:
            print(f"\nthe seed's gan: FLD {r['seed_fld']:.3f} after {args.seed_reference_epochs} epochs "
                  f"({r['seed_seconds']:.0f} s of genlab's loop); {r['best_gan']} reached "
                  + (f"FLD {r['fld']:.3f} after {r['seconds']:.1f} s ({r['step']:,} steps)" if "fld" in r
                     else "it in none of the time it had"))
            continue
        print(f"{r['model']:30} {r['device']:6} {r.get('seconds', 0):>6.0f}s {r.get('steps', 0):>8,}  "
              f"{quality_words(r, args.k)}")


if __name__ == "__main__":
    main()
