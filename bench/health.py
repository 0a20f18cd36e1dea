"""Proof runs for the training-health verdicts (issue 26): short real trainings made to fail in
the tutorial's ways, beside healthy ones (a benchmark, not a test: a few minutes on a CPU).

    GENLAB_DATA_DIR=../shared/data python bench/health.py [--runs-dir DIR] [--only NAME,...]
        [--scale 1.0] [--json]

Each run trains with genlab's own trainer into ``--runs-dir`` (a temporary directory unless
given), so its run directory is what `genlab show` and the cockpit read. The runs:

- ``gan``: the seed's MLP GAN as it ships: the tutorial's baseline, which draws one kind of blob for its first
  thousands of steps on a CPU (told as mode collapse while the judge is sure they are all one digit);
- ``gan-d-wins``: the same with the discriminator's learning rate raised (``--hp d_lr_ratio``)
  until it wins: D(x) → 1, D(G(z)) → 0 and the generator's gradient vanishes;
- ``dcgan``: DCGAN with ``--preset cpu``, the GAN family's healthy reference that draws digits
  within minutes on a CPU;
- ``vae``: the MLP VAE as it ships;
- ``vae-collapse``: the KL weight raised (``--hp beta``) until the posterior collapses: no
  active units, KL → 0;
- ``vae-cured``: the same beta with free bits, the cure;
- ``pixelcnn``: the PixelCNN as it ships, on the whole training set;
- ``pixelcnn-overfit``: the same at lr 2e-3 on 100 digits (an MNIST directory holding the first
  100 training digits and the whole test set, written for it and passed as ``--data-dir``),
  meant to overfit: the training NLL falls while the held-out NLL rises.

For each run the table gives its model, arguments, steps, and the signals at the end (the mean
of the last 10 % of steps for training metrics; the last evaluation's held-out figures), then
the verdict (genlab.health.judge_run) and every verdict the run went through with the step it
started at (genlab.health.history). ``--scale`` multiplies every run's steps.
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from genlab.core.data import FILES, explicit_dir, find_file, read_idx
from genlab.run import metrics_log
from genlab.run.store import read_events
from genlab.train import execute as train

# name -> (model, hyperparameters, steps, digits to train on (None: all), other training options)
CHECKS = dict(quality_every_steps=100, quality_samples=500, quality_k=10, eval_size=1000)
PIXELCNN_CHECKS = dict(CHECKS, eval_size=300, quality_samples=300)
RUNS = {
    "gan": ("gan", {}, 600, None, CHECKS),
    # G at a twentieth of its usual rate, D at 200 times that (2e-3): D wins within 100 steps.
    # (d_lr_ratio 50 at the default lr, D at 1e-2, breaks D instead: every output 0, losses at BCE's clamp)
    "gan-d-wins": ("gan", {"d_lr_ratio": 200.0}, 800, None, dict(CHECKS, lr=1e-5)),
    # the GAN family's healthy reference that draws digits within minutes on a CPU
    "dcgan": ("dcgan", {}, 600, None, dict(CHECKS, preset="cpu")),
    "vae": ("vae", {}, 600, None, CHECKS),
    "vae-collapse": ("vae", {"beta": 30.0}, 600, None, CHECKS),
    "vae-cured": ("vae", {"beta": 30.0, "free_bits": 0.5}, 600, None, CHECKS),
    "pixelcnn": ("pixelcnn", {}, 600, None, PIXELCNN_CHECKS),
    # 100 digits: an epoch is 2 steps, so its end-of-epoch evaluation is kept to 64 digits; the
    # quality checks (every 100 steps, 300 held-out digits) give the test NLL. Fresh binarisations
    # each step make overfitting slow: on this CPU the test NLL still fell at 900 steps (92.4)
    "pixelcnn-overfit": ("pixelcnn", {"lr": 2e-3}, 1500, 100, dict(PIXELCNN_CHECKS, eval_size=64)),
}
# what the table shows of each model's run (the signals the verdicts read)
SHOWN = {
    "dcgan": ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_G", "grad_norm_D",
              "test_fld", "test_confident", "test_diversity", "max_class_share"),
    "gan": ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_G", "grad_norm_D",
            "test_fld", "test_confident", "test_diversity", "max_class_share"),
    "vae": ("loss", "kl", "active_units", "grad_norm_encoder", "grad_norm_decoder",
            "test_loss", "test_kl", "test_active_units"),
    "pixelcnn": ("nll", "grad_norm", "test_nll"),
}


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of ``uint8`` ``array`` (the format MNIST ships in)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">i", n) for n in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def subset_dir(source: Path, n: int, target: Path) -> Path:
    """An MNIST directory holding ``source``'s first ``n`` training digits and its whole test set."""
    target.mkdir(parents=True, exist_ok=True)
    for key, stem in FILES.items():
        data = read_idx(find_file(source, stem), 3 if "images" in key else 1).numpy()
        write_idx(target / stem, data[:n] if key.startswith("train") else data)
    return target


def train_run(root: Path, name: str, data: Path) -> Path:
    model, hp, steps, digits, options = RUNS[name]
    data_dir = subset_dir(data, digits, root / f"mnist-first-{digits}") if digits else data
    prepared = train.prepare(model, max_steps=steps, seed=0, runs_dir=root, name=name, device="cpu", hp=hp,
                             data_dir=data_dir, sample_every_s=60.0, checkpoint_every_s=1e9, **options)
    run_dir = train.create(prepared)
    train.execute(run_dir)
    return run_dir


def signals(run_dir: Path, shown: tuple[str, ...]) -> dict:
    """The training metrics' mean over the last 10 % of steps and the newest held-out figures."""
    cols, rows, _ = metrics_log.read(run_dir)
    out = {}
    if cols is not None and len(rows):
        tail = rows[-max(1, len(rows) // 10):]
        out = {k: float(np.mean(tail[:, cols.index(k)])) for k in shown if k in cols}
    events, _ = read_events(run_dir / "events.jsonl")
    for e in events:
        if e.get("kind") == "eval":
            out.update({k: float(v) for k, v in e.items() if k in shown and isinstance(v, (int, float))})
    return out


def arguments(hp: dict, options: dict, digits: int | None) -> str:
    """What `genlab train` would be given for the run."""
    words = ([f"--lr {options['lr']:g}"] if "lr" in options else []) + [f"--hp {k}={v:g}" for k, v in hp.items()]
    words += [f"--preset {options['preset']}"] if "preset" in options else []
    return " ".join(words) + (f" --data-dir (the first {digits} training digits)" if digits else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs-dir", type=Path, default=None, help="where the runs go (default: a temporary directory)")
    ap.add_argument("--only", default=None, help="comma-separated run names: " + ", ".join(RUNS))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every run's steps")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = explicit_dir(None)
    if data is None:
        raise SystemExit("set GENLAB_DATA_DIR to an MNIST directory (e.g. ../shared/data)")
    names = args.only.split(",") if args.only else list(RUNS)
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        raise SystemExit(f"no run {', '.join(unknown)}; choose from {', '.join(RUNS)}")
    for name in names:
        model, hp, steps, digits, options = RUNS[name]
        RUNS[name] = (model, hp, max(1, int(steps * args.scale)), digits, options)
    root = args.runs_dir or Path(tempfile.mkdtemp(prefix="genlab-health-"))
    root.mkdir(parents=True, exist_ok=True)

    from genlab.health import history, judge_run

    results = []
    for name in names:
        model, hp, steps, digits, options = RUNS[name]
        start = time.perf_counter()
        run_dir = train_run(root, name, data)
        verdict = judge_run(run_dir)
        results.append({
            "run": name, "model": model, "args": arguments(hp, options, digits), "steps": steps,
            "seconds": round(time.perf_counter() - start, 1),
            "signals": signals(run_dir, SHOWN[model]),
            "verdict": verdict.line() if verdict is not None else "none",
            "history": [f"{h.get('verdict')} {h.get('event')} at step {h.get('step'):,}" for h in history(run_dir)],
        })
        if not args.json:
            print_run(results[-1])
    if args.json:
        print(json.dumps({"runs_dir": str(root), "runs": results}, indent=2))
    else:
        print(f"runs in {root}")


def print_run(r: dict) -> None:
    print(f"\n{r['run']}: {' '.join(filter(None, (r['model'], r['args'])))}, {r['steps']:,} steps, {r['seconds']:.0f} s")
    for k, v in r["signals"].items():
        print(f"  {k:20} {v:.4g}")
    print(f"  verdict: {r['verdict']}")
    for h in r["history"]:
        print(f"    {h}")


if __name__ == "__main__":
    main()
