"""Quality for a fixed training budget, per model (a benchmark, not a test).

    GENLAB_DATA_DIR=../shared/data python bench/quality.py [--seconds 60] [--models gan,dcgan,...]
        [--preset cpu] [--device auto] [--seed-reference-epochs 40] [-k 1000] [--json]

Trains each model for ``--seconds`` of wall time (genlab's own loop: digits on the device,
seeded batches), then measures it as `genlab eval` does: FLD against the test set, coverage
(smallest and largest class share) and the share classified with confidence 0.9 or more for
GANs; importance-sampled NLL (k samples) for VAEs; test NLL for PixelCNNs. The first row is the
floor: the FLD of 10,000 real training digits against the test set. With
``--seed-reference-epochs E`` it also trains the seed's `gan` for E epochs (about 18 minutes
for 40 here) and reports the time the best GAN took to reach that FLD (checked every 5 s of
training, on 10,000 digits as the seed's is). ``--preset NAME`` trains the models that have that
preset with it (see `genlab models`), the others with their defaults.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from genlab import models
from genlab.core.data import Batches, load_digits
from genlab.core.device import resolve, synchronize
from genlab.eval import quality as evaluate

ALL = ("gan", "dcgan", "wgan-gp", "cgan", "vae", "conv-vae", "pixelcnn", "gated-pixelcnn")


def train_for(name: str, digits, device, seconds: float | None = None, steps: int | None = None,
              on_checkpoint=None, every_s: float = 10.0, preset: str | None = None):
    """Train ``name`` for a time or a number of steps; ``on_checkpoint(model, elapsed, step)`` is
    called every ``every_s`` seconds of training (evaluation time not counted)."""
    torch.manual_seed(0)
    m = models.build(name, {}, device, preset)
    batches = Batches(len(digits.train_images), int(m.hp["batch_size"]), 0, device)
    trained, step, next_check = 0.0, 0, every_s
    while (seconds is None or trained < seconds) and (steps is None or step < steps):
        start = time.perf_counter()
        for _ in range(10):
            idx = batches.next()
            m.step(digits.train_images[idx], digits.train_labels[idx])
            step += 1
        synchronize(device)
        trained += time.perf_counter() - start
        if on_checkpoint and trained >= next_check:
            next_check += every_s
            if on_checkpoint(m, trained, step):
                break
    return m, trained, step


def measure(m, digits, judge: evaluate.Judge, k: int) -> dict:
    q = evaluate.measure(m, digits.test_images, digits.test_labels, n=10_000, k=k, judge=judge)
    return {key: round(v, 3) if isinstance(v, float) and key != "fld" else v for key, v in q.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--models", default=",".join(ALL))
    ap.add_argument("--device", default="auto")
    ap.add_argument("-k", type=int, default=1000, help="importance samples for VAEs")
    ap.add_argument("--preset", default=None, help="train the models that have this preset with it")
    ap.add_argument("--seed-reference-epochs", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    device = resolve(args.device)
    digits = load_digits(None, device)
    judge = evaluate.Judge(digits.test_images, device)
    rows = [{"model": "real digits (floor)", "device": str(device), "seconds": 0, "steps": 0,
             **judge.judge(digits.train_images[:10_000])}]
    def preset_of(name: str) -> str | None:
        return args.preset if args.preset in models.get(name).presets else None

    for name in args.models.split(","):
        m, trained, steps = train_for(name, digits, device, seconds=args.seconds, preset=preset_of(name))
        rows.append({"model": name + (f" --preset {preset_of(name)}" if preset_of(name) else ""),
                     "name": name, "device": str(device), "seconds": round(trained, 1), "steps": steps,
                     **measure(m, digits, judge, args.k)})
        print(json.dumps(rows[-1]), flush=True)

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

        train_for(best, digits, device, seconds=max(600.0, args.seconds), on_checkpoint=check, every_s=5.0,
                  preset=preset_of(best))
        rows.append({"model": f"time to the seed's {args.seed_reference_epochs}-epoch FLD", "device": str(device),
                     "seed_fld": target, "seed_seconds": round(ref_s, 1),
                     "best_gan": best + (f" --preset {preset_of(best)}" if preset_of(best) else ""), **reached})

    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"\n{'model':27} {'device':6} {'time':>7} {'steps':>7}  quality")
    for r in rows:
        if "seed_fld" in r:
            print(f"\nthe seed's gan: FLD {r['seed_fld']:.3f} after {args.seed_reference_epochs} epochs "
                  f"({r['seed_seconds']:.0f} s of genlab's loop); {r['best_gan']} reached "
                  + (f"FLD {r['fld']:.3f} after {r['seconds']:.1f} s ({r['step']:,} steps)" if "fld" in r
                     else "it in none of the time it had"))
            continue
        if "fld" in r:
            q = (f"FLD {r['fld']:.3f}  classes {r['min_class_share']:.1%}-{r['max_class_share']:.1%}  "
                 f"confident {r['confident']:.1%}")
        elif "test_is_nll" in r:
            q = f"IS-NLL {r['test_is_nll']:.2f} nats (k={args.k})"
        elif "test_nll" in r:
            q = f"test NLL {r['test_nll']:.2f} nats ({r['test_bpd']:.4f} bits/dim)"
        else:
            q = json.dumps({k: v for k, v in r.items() if k not in ('model', 'device')})
        print(f"{r['model']:27} {r['device']:6} {r.get('seconds', 0):>6.0f}s {r.get('steps', 0):>7,}  {q}")


if __name__ == "__main__":
    main()
