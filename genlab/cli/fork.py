"""genlab fork: a new run from one of a run's checkpoints, with changes (genlab/train/fork.py)."""

from typing import Annotated, Optional

import typer

from genlab.cli.app import Ascii, DataDir, RunRef, RunsDir, app, out
from genlab.cli.train import foreground, start_detached, train_on_processes


@app.command()
def fork(
    run: RunRef,
    at: Annotated[Optional[int], typer.Option("--at", help="Fork at the checkpoint at or before this step (default: the newest).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="The fork's learning rate.")] = None,
    hp: Annotated[Optional[list[str]], typer.Option("--hp", help="A model hyperparameter KEY=VALUE that keeps the weights' shapes (repeatable).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Train the fork to this many epochs in all.")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Train the fork to this many steps in all.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", help="The fork's time budget in minutes of training in all.")] = None,
    name: Annotated[Optional[str], typer.Option(help="The new run's id (default: RUN-forkSTEP).")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Train the fork in the background.")] = False,
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    ascii: Ascii = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --detach: print the started fork as JSON.")] = False,
) -> None:
    """Fork RUN: a new run that continues from its checkpoint at (or before) --at STEP, with a new
    learning rate, hyperparameters or length; RUN itself is left as it is. With no changes the
    fork repeats RUN's own continuation exactly. Its history before the fork is RUN's."""
    from genlab.config import parse_hp
    from genlab.errors import UsageError
    from genlab.run.resolve import resolve_run
    from genlab.run.store import runs_root
    from genlab.train.fork import fork as make

    if as_json and not detach:
        raise UsageError("--json is for --detach: a fork in the foreground prints its progress")
    parent = resolve_run(runs_root(runs_dir), run)
    run_dir, plan = make(parent, at, lr=lr, hp=parse_hp(hp), epochs=epochs, max_steps=max_steps,
                         max_minutes=max_minutes, name=name)
    asked = "" if at is None or at == plan.step else f" (the checkpoint at or before step {at:,})"
    what = "; ".join(plan.changed) or "no changes"
    if not as_json:
        out.print(f"forked {plan.parent} at step {plan.step:,}{asked} as {run_dir.name}: {what}", markup=False)
    options = {"resume": True, "lr": plan.lr, "data_dir": str(data_dir) if data_dir else None}
    if detach:
        start_detached(run_dir, options, nproc=plan.config.processes, as_json=as_json)
    elif plan.config.processes > 1:  # (on as many ranks as its parent: the same steps)
        train_on_processes(run_dir, plan.config.processes, options, ascii=ascii)
    else:
        foreground(run_dir, ascii, **options)
