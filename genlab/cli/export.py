"""``genlab export``: runs out as TensorBoard event files and a tidy CSV (genlab/export.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from genlab.cli.app import RunsDir, TagOption, app, out
from genlab.cli.runs import chosen_runs
from genlab.errors import UsageError


@app.command()
def export(
    runs_: Annotated[Optional[list[str]], typer.Argument(metavar="RUN...", help="Runs: ids, unique prefixes or 'latest'.")] = None,
    tensorboard: Annotated[Optional[Path], typer.Option(
        "--tensorboard", help="Write TensorBoard event files to DIR/<run id> (scalars, sample grids, hparams).")] = None,
    csv: Annotated[Optional[Path], typer.Option("--csv", help="Write one tidy table: run, step, time, metric, value.")] = None,
    tag: TagOption = None,
    sweep: Annotated[Optional[str], typer.Option("--sweep", help="Every trial of this sweep.")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Runs out to the tools you have: TensorBoard (tensorboard --logdir DIR; the HParams view
    compares them) and CSV. Nothing in a run directory changes; exporting again replaces the
    earlier export of a run."""
    from genlab import export as ex
    if tensorboard is None and csv is None:
        raise UsageError("say where to: --tensorboard DIR and/or --csv FILE")
    paths = chosen_runs(runs_, tag, sweep, runs_dir)
    if not paths:
        raise UsageError("no runs to export: name them, or give --tag or --sweep")
    if tensorboard is not None:  # everything checked before anything is written
        ex.check_tensorboard()
        ex.check_destination(tensorboard, "--tensorboard", want_dir=True)
    if csv is not None:
        ex.check_destination(csv, "--csv", want_dir=False)
    if csv is not None:
        n = ex.to_csv(paths, csv)
        out.print(f"wrote {n:,} rows of {len(paths)} run{'s' if len(paths) > 1 else ''} to {csv}", soft_wrap=True)
    if tensorboard is not None:
        for path in paths:
            counts = ex.to_tensorboard(path, tensorboard)
            out.print(f"{path.name}: {counts['scalars']:,} scalars and {counts['images']} sample grids "
                      f"to {tensorboard / path.name}", soft_wrap=True)
        out.print(f"see them with: tensorboard --logdir {tensorboard}", soft_wrap=True)
