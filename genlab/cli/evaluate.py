"""genlab anomaly and eval: quality figures, CAS and anomaly scores of a trained run."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from genlab.cli.app import AsJson, DataDir, Device, RunRef, RunsDir, app, out, warn_skipped
from genlab.errors import UsageError


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
    from genlab.eval.anomaly import report as anomaly_report
    from genlab.render.plots import histograms
    from genlab.run.resolve import resolve_run
    from genlab.run.store import runs_root

    found = anomaly_report(resolve_run(runs_root(runs_dir), run), score, k, images, data_dir, on_bad=warn_skipped)
    if as_json:
        print(json.dumps(found.to_json()))
        return
    head = f"{found.run} at step {found.step:,}, score {score} (higher = more unusual)"
    if found.given is not None:
        mine, pct = found.given, found.percentiles
        out.print(f"{head}: {len(mine):,} images from {images}; mean {float(mine.mean()):.4g}, "
                  f"median percentile among the learnt test digits {float(pct.median()):.0%}", soft_wrap=True)
        for i, (v, p) in enumerate(zip(mine[:10].tolist(), pct[:10].tolist())):
            out.print(f"  image {i}: {v:.4g}  (above {p:.0%} of the learnt test digits)")
        return
    out.print(f"{head}: left out {','.join(map(str, found.excluded))}; AUROC {found.auroc:.3f} "
              f"({len(found.left_out):,} left-out against {len(found.learnt):,} learnt test digits)", soft_wrap=True)
    if len(found.excluded) > 1:
        out.print("  by digit: " + "  ".join(f"{d}: {a:.3f}" for d, a in found.auroc_by_digit.items()))
    print(histograms(found.learnt, found.left_out, ("learnt digits", "left-out digits"), f"{score} of the test digits",
                     out.width if out.is_terminal else 80, colour=out.is_terminal and not out.no_color))


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
    from genlab.run.resolve import resolve_run
    from genlab.run.store import runs_root

    dev = resolve(device)
    if n <= 0 or k <= 0:
        raise UsageError("-n and -k must be positive")
    if run == "train-classifier":
        from genlab.eval.classifier import WEIGHTS, train_judge

        acc = train_judge(epochs, dev, data_dir, log=out.print)
        out.print(f"saved {WEIGHTS} (test accuracy {acc:.4f})")
        return
    if cas:
        from genlab.eval.cas import score_run

        say = None if as_json else out.print
        result = score_run(resolve_run(runs_root(runs_dir), run), n, epochs, dev, data_dir, warn_skipped, log=say)
        return print_cas(result, as_json)
    from genlab.eval.quality import assess_run

    result = assess_run(resolve_run(runs_root(runs_dir), run), n=n, k=k, device=dev, data_dir=data_dir,
                        on_bad=warn_skipped)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    out.print(f"[bold]{result['run']}[/] ({result['model']}, step {result['step']:,}):")
    for key, value in result["metrics"].items():
        shown = " ".join(f"{v:.3f}" for v in value) if isinstance(value, list) else f"{value:.4g}"
        out.print(f"  {key:16} {shown}")


def print_cas(result: dict, as_json: bool) -> None:
    """The CAS beside the real digits' accuracy, overall and per class, and the gap."""
    if as_json:
        print(json.dumps(result, indent=2))
        return
    n = result["n"]
    table = Table(title=f"classification accuracy on the {result['n_test']:,} real test digits", title_justify="left")
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


# --------------------------------------------------------------------------- the cockpit
