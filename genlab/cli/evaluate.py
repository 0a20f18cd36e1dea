"""genlab anomaly and eval: quality figures, CAS and anomaly scores of a trained run."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from genlab.errors import UsageError
from genlab.cli.app import AsJson, DataDir, Device, RunRef, RunsDir, app, out
from genlab.cli.sample import warn_skipped
from genlab.run.rundir import RunDir


@app.command()
def anomaly(
    run: RunRef,
    images: Annotated[Optional[Path], typer.Option("--images", help="Score these images (.npy, uint8 N×28×28) instead of the test set.")] = None,
    score: Annotated[str, typer.Option(help="elbo (negative ELBO), recon (reconstruction) or is-nll (importance-sampled).")] = "elbo",
    k: Annotated[int, typer.Option("-k", help="Importance samples per image for --score is-nll.")] = 100,
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    as_json: AsJson = False,
) -> None:
    """Anomaly scores from a VAE (higher = more unusual). On the test set of a run trained with
    --exclude-digits: the AUROC of the left-out digits against the learnt ones, and both
    score histograms."""
    import torch

    from genlab.eval import anomaly as an

    from genlab.eval import latent as lat

    from genlab.core import trained
    from genlab.core.data import load_for_run
    from genlab.core.device import resolve
    from genlab.run.store import resolve_run, runs_root

    if score not in an.SCORES:
        raise UsageError(f"unknown --score {score!r}; choose from {', '.join(an.SCORES)}")
    if k < 1:
        raise UsageError(f"-k must be positive, got {k}")
    given = an.read_images(images) if images is not None else None
    dev = resolve("cpu")
    run_dir = resolve_run(runs_root(runs_dir), run)
    t = trained.newest(run_dir, dev, on_bad=warn_skipped)
    lat.check_vae(t.model, run_dir.name, "anomaly detection")
    excluded = tuple(t.config.exclude_digits)
    digits = load_for_run(t.config.data, dev, data_dir)
    learnt = ~torch.isin(digits.test_labels, torch.tensor(excluded, dtype=digits.test_labels.dtype))
    base = an.scores(t.model, digits.test_images[learnt], score, k)  # the learnt test digits
    report = {"run": run_dir.name, "step": t.step, "score": score, "excluded": list(excluded)}
    if given is not None:
        mine = an.scores(t.model, given, score, k)
        pct = torch.searchsorted(base.sort().values, mine).double() / len(base)
        report.update(n=len(mine), scores=[round(float(v), 4) for v in mine],
                      percentiles=[round(float(p), 4) for p in pct])
    elif excluded:
        other = an.scores(t.model, digits.test_images[~learnt], score, k)
        per_digit = {int(d): an.auroc(other[digits.test_labels[~learnt] == d], base) for d in excluded}
        report.update(n_learnt=len(base), n_excluded=len(other), auroc=an.auroc(other, base), auroc_by_digit=per_digit,
                      mean_learnt=float(base.mean()), mean_excluded=float(other.mean()))
    else:
        raise UsageError(f"run {run_dir.name} left out no digits: train with --exclude-digits D to measure "
                         "how well it finds them, or score your own with --images FILE.npy")
    if as_json:
        print(json.dumps(report))
        return
    head = f"{run_dir.name} at step {t.step:,}, score {score} (higher = more unusual)"
    if given is not None:
        out.print(f"{head}: {len(mine):,} images from {images}; mean {float(mine.mean()):.4g}, "
                  f"median percentile among the learnt test digits {float(pct.median()):.0%}", soft_wrap=True)
        for i, (v, p) in enumerate(zip(mine[:10].tolist(), pct[:10].tolist())):
            out.print(f"  image {i}: {v:.4g}  (above {p:.0%} of the learnt test digits)")
        return
    out.print(f"{head}: left out {','.join(map(str, excluded))}; AUROC {report['auroc']:.3f} "
              f"({len(other):,} left-out against {len(base):,} learnt test digits)", soft_wrap=True)
    if len(excluded) > 1:
        out.print("  by digit: " + "  ".join(f"{d}: {a:.3f}" for d, a in per_digit.items()))
    print(score_histograms(base, other, score, out.width if out.is_terminal else 80, colour=out.is_terminal and not out.no_color))


def score_histograms(learnt, left_out, score: str, width: int, colour: bool) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, 18)
    plt.theme("pro" if colour else "clear")
    plt.hist(learnt.tolist(), bins=40, label="learnt digits", marker="░" if not colour else "sd")
    plt.hist(left_out.tolist(), bins=40, label="left-out digits", marker="█" if not colour else "hd")
    plt.title(f"{score} of the test digits")
    drawn = plt.build()
    return drawn if colour else plt.uncolorize(drawn)


@app.command(name="eval")
def evaluate(
    run: Annotated[str, typer.Argument(help="A run id, prefix or 'latest'; or 'train-classifier' to train the judge.")],
    n: Annotated[int, typer.Option("-n", help="Digits to generate for sample-based models.")] = 10_000,
    k: Annotated[int, typer.Option("-k", help="Importance samples per digit for VAEs.")] = 1_000,
    epochs: Annotated[int, typer.Option(help="train-classifier and --cas: the classifier's epochs.")] = 4,
    cas: Annotated[bool, typer.Option("--cas", help="Classification Accuracy Score: a classifier trained on N generated digits (a conditional model's), tested on real ones, beside one trained on N real digits.")] = False,
    device: Device = "auto",
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    as_json: AsJson = False,
) -> None:
    """Quality of a run's newest good checkpoint: FLD, class histogram and confident share
    (GANs), importance-sampled NLL (VAEs), test NLL (PixelCNNs). 'genlab eval train-classifier'
    trains the classifier these use and saves it into the package."""
    from genlab.core.device import resolve

    dev = resolve(device)
    if n <= 0 or k <= 0:
        raise UsageError("-n and -k must be positive")
    if run == "train-classifier":
        train_judge(epochs, dev, data_dir)
        return
    if cas:
        return classification_accuracy_score(run, n, epochs, dev, data_dir, runs_dir, as_json)
    result = evaluate_run(run, n, k, dev, data_dir, runs_dir)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    out.print(f"[bold]{result['run']}[/] ({result['model']}, step {result['step']:,}):")
    for key, value in result["metrics"].items():
        shown = " ".join(f"{v:.3f}" for v in value) if isinstance(value, list) else f"{value:.4g}"
        out.print(f"  {key:16} {shown}")


def classification_accuracy_score(run: str, n: int, epochs: int, dev, data_dir, runs_dir, as_json: bool) -> None:
    from genlab.eval import cas as cas_
    from genlab.core import trained
    from genlab.core.data import load_for_run
    from genlab.run.files import atomic_write_json
    from genlab.run.store import resolve_run, runs_root

    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    if n < cas_.MIN_N:
        raise UsageError(f"-n must be at least {cas_.MIN_N} (one batch of the classifier) for --cas, got {n}")
    t = trained.newest(resolve_run(runs_root(runs_dir), run), dev, on_bad=warn_skipped)
    cas_.check_conditional(t.model, t.run_dir.name, "--cas")
    digits = load_for_run(t.config.data, dev, data_dir)
    if not as_json:
        out.print(f"training the digit classifier twice ({epochs} epochs): on {n:,} digits from {t.run_dir.name} "
                  f"(step {t.step:,}), and on {n:,} real ones")
    result = {"run": t.run_dir.name, "step": t.step, **cas_.score(t.model, digits, n, epochs, device=dev)}
    atomic_write_json(RunDir(t.run_dir).cas, result)  # the newest CAS, for the cockpit and show
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"classification accuracy on the {len(digits.test_images):,} real test digits", title_justify="left")
    for col in ("trained on", "all", *map(str, range(10))):
        table.add_column(col, justify="left" if col == "trained on" else "right", no_wrap=True)
    table.add_row(f"{n:,} generated (CAS)", f"{result['cas']:.1%}", *(f"{v:.0%}" for v in result["cas_by_class"]))
    table.add_row(f"{n:,} real", f"{result['real']:.1%}", *(f"{v:.0%}" for v in result["real_by_class"]))
    if out.is_terminal:
        out.print(table)
    else:  # a pipe or a file: the whole table (Rich would cut it to 80 columns)
        wide = Console(file=out.file, width=100_000, highlight=False, no_color=True)
        wide.print(table, width=wide.measure(table).maximum)
    out.print(f"gap: {100 * result['gap']:.1f} points (real minus generated)")


def train_judge(epochs: int, dev, data_dir) -> None:
    from genlab.eval import classifier
    from genlab.core.data import load_digits

    digits = load_digits(data_dir, dev)
    out.print(f"training the digit classifier on {len(digits.train_images):,} digits ({digits.source}), {epochs} epochs")
    model, acc = classifier.train(digits, epochs=epochs, device=dev, log=out.print)
    classifier.save(model.cpu(), acc)
    out.print(f"saved {classifier.WEIGHTS} (test accuracy {acc:.4f})")


def evaluate_run(run: str, n: int, k: int, dev, data_dir, runs_dir) -> dict:
    from genlab.eval import quality as evaluate
    from genlab.core import trained
    from genlab.core.data import load_for_run
    from genlab.run.store import resolve_run, runs_root

    t = trained.newest(resolve_run(runs_root(runs_dir), run), dev, on_bad=warn_skipped)
    digits = load_for_run(t.config.data, dev, data_dir)
    gan = t.model.family == "gan"
    metrics = evaluate.measure(t.model, digits.test_images, digits.test_labels,
                               n=n if gan else len(digits.test_images), k=k)
    if t.model.family == "vae":  # the test negative ELBO too
        metrics = {**t.model.evaluate(digits.test_images, digits.test_labels), **metrics}
    return {"run": t.run_dir.name, "model": t.config.model, "step": t.step, "metrics": metrics}


# --------------------------------------------------------------------------- the cockpit
