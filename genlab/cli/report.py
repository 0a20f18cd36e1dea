"""``genlab report``: runs (and a sweep) as one document to share: HTML, Markdown or a folder
(genlab/report/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from genlab.cli.app import RunsDir, TagOption, app, out
from genlab.cli.runs import chosen_runs, known_view


@app.command()
def report(
    runs_: Annotated[Optional[list[str]], typer.Argument(metavar="RUN...", help="Runs: ids, unique prefixes or 'latest'.")] = None,
    out_: Annotated[Path, typer.Option(
        "--out", help="FILE.html (one file, pictures inside), FILE.md (pictures in FILE_files/ beside it) "
        "or DIR (DIR/index.html and its pictures).")] = ...,
    tag: TagOption = None,
    sweep: Annotated[Optional[str], typer.Option("--sweep", help="Every trial of this sweep, and the sweep itself.")] = None,
    runs_dir: RunsDir = None,
) -> None:
    """A report to share: what each run is (model, what differs, data, machine, versions), its
    curves, sample grids, class histogram, quality figures and health verdict; for several runs
    their comparison; for a sweep its importance and history. A run still training is reported
    as it is now, marked live. Needs matplotlib (genlab's 'report' extra)."""
    from genlab import report as reports
    from genlab.run.store import runs_root

    paths = chosen_runs(runs_, tag, sweep, runs_dir)
    sweep_dir, lesson = None, None
    if sweep:
        from genlab.run.resolve import resolve_sweep
        from genlab.run.sweeps import read_spec

        sweep_dir = resolve_sweep(runs_root(runs_dir), sweep)
        recipe = read_spec(sweep_dir).recipe
        if recipe:  # a recipe's lesson, in words (genlab/sweep/lesson.py), from its trials' summaries
            from genlab.sweep.plan import lesson_of

            def lesson(summaries: list) -> str:
                return lesson_of(recipe, summaries)
    written = reports.write(paths, out_, sweep_dir=sweep_dir, root=runs_root(runs_dir), known=known_view,
                            lesson=lesson)
    runs = f"{len(paths)} run{'s' * (len(paths) != 1)}"
    live = f" ({', '.join(written.live)} live: as it is now)" if written.live else ""
    out.print(f"wrote the report of {runs}{live} to {written.path}, {written.pictures} pictures"
              + (f" in {reports.folder_of(written.path)}" if written.form == "markdown" else ""), soft_wrap=True,
              markup=False)
