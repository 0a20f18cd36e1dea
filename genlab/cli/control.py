"""genlab pause, stop and resume: a run's or a whole sweep's."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from genlab.errors import GenlabError, UsageError
from genlab.cli.app import Ascii, DataDir, RunOrSweep, RunsDir, app, out
from genlab.cli.train import foreground, start_detached, train_on_processes


def live_run(run: str, runs_dir: Path | None, broken_ok: bool = False):
    """The run to control: refused if it is a link or another user's (only the owner controls a
    run), or if it is unreadable (unless ``broken_ok``: resume repairs what it can)."""
    from genlab.run.store import check_controllable, load_run, resolve_run, runs_root

    info = load_run(resolve_run(runs_root(runs_dir), run))
    check_controllable(info.path)
    if info.problem and not broken_ok:
        raise UsageError(f"run {info.run_id} is unreadable: {info.problem}")
    return info


def command_and_wait(info, command: str, states: tuple[str, ...], wait: float, **args) -> dict:
    """Send ``command`` through the run's control channel; its status once in one of ``states``."""
    from genlab.run import control
    from genlab.run.launch import wait_for_state

    control.send(info.path, command, **args)
    status = wait_for_state(info.path, states, wait)
    if status is None:
        raise GenlabError(f"run {info.run_id} has not confirmed the {command} after {wait:g}s")
    return status


@app.command()
def pause(run: RunOrSweep, runs_dir: RunsDir = None,
          wait: Annotated[float, typer.Option(help="Seconds to wait for the run to confirm.")] = 30.0) -> None:
    """Pause a running run at its next step boundary (after a checkpoint); it stays in memory.

    Given a sweep: its workers start no trial and pause every trial they run."""
    from genlab.cli.sweep import control, run_or_sweep

    if (sweep := run_or_sweep(run, runs_dir)) is not None:
        return control(sweep, "pause", wait=wait * 4)
    info = live_run(run, runs_dir)
    if info.state == "paused":
        out.print(f"run {info.run_id} is already paused at step {info.status.get('step', 0):,}")
        return
    if info.state not in ("running", "starting", "stalled"):
        raise UsageError(f"run {info.run_id} is {info.state}, not running: nothing to pause")
    status = command_and_wait(info, "pause", ("paused", "stopped", "finished"), wait)
    out.print(f"run {info.run_id} {status['state']} at step {status.get('step', 0):,}")


@app.command()
def stop(run: RunOrSweep, runs_dir: RunsDir = None,
         wait: Annotated[float, typer.Option(help="Seconds to wait for the run to confirm.")] = 60.0) -> None:
    """Stop a run: it writes a checkpoint, records 'stopped' and exits (resume continues it).

    Given a sweep: every trial it runs stops so, then its workers exit."""
    from genlab.cli.sweep import control, run_or_sweep

    if (sweep := run_or_sweep(run, runs_dir)) is not None:
        return control(sweep, "stop", wait=wait * 2)
    info = live_run(run, runs_dir)
    if info.state not in ("running", "paused", "starting", "stalled"):
        raise UsageError(f"run {info.run_id} is {info.state}, not running: nothing to stop")
    status = command_and_wait(info, "stop", ("stopped", "finished"), wait)
    out.print(f"run {info.run_id} {status['state']} at step {status.get('step', 0):,}")


@app.command()
def resume(
    run: RunOrSweep,
    epochs: Annotated[Optional[int], typer.Option(help="Extend the run to this many epochs in all.")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Extend the run to this many steps in all.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option(
        "--max-minutes", help="Extend its time budget to this many minutes of training in all.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Continue with this learning rate (recorded in the events).")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Continue in the background.")] = False,
    data_dir: DataDir = None,
    device: Annotated[Optional[str], typer.Option(help="Train on another device than the run's.")] = None,
    runs_dir: RunsDir = None,
    ascii: Ascii = False,
) -> None:
    """Resume a paused run in place, or a stopped, crashed or finished one from its newest good
    checkpoint (same steps, data order and random streams).

    Given a sweep: its paused trials
    go on, and a sweep with no live worker gets one (as 'genlab sweep resume')."""
    from genlab.cli.sweep import control, run_or_sweep
    from genlab.validate import new_total, positive

    if (sweep := run_or_sweep(run, runs_dir)) is not None:
        return control(sweep, "resume")

    info = live_run(run, runs_dir, broken_ok=True)
    if info.config.get("source") == "script" and info.state not in ("paused", "running", "starting", "stalled"):
        raise UsageError(f"run {info.run_id} was made by a script (genlab.init) and is {info.state}: "
                         "genlab can resume it only while the script is paused; run the script again")
    if info.problem:
        from genlab.run.lock import is_locked

        if is_locked(info.path):
            raise GenlabError(f"run {info.run_id} is unreadable ({info.problem}) and a process holds it")
        info.state = "crashed"  # nobody trains it: a new process starts from its newest good checkpoint
    if lr is not None:
        positive("learning rate", lr, float)
    if max_minutes is not None:
        positive("max minutes", max_minutes, float)
    if info.state == "stalled":
        raise UsageError(f"run {info.run_id} is stalled: process {info.status.get('pid')} holds it but has not "
                         "beaten its heartbeat for over a minute; stop it (or kill it) first")
    if info.state in ("running", "starting"):
        raise UsageError(f"run {info.run_id} is already running (pid {info.status.get('pid')}); "
                         "pause or stop it first")
    if info.state == "paused":
        args = {}
        if lr is not None:
            args["lr"] = lr
        total = new_total(info.config.get("steps_per_epoch") or 1, epochs, max_steps)
        if total is not None:
            args["total_steps"] = total
        if max_minutes is not None:
            args["max_minutes"] = max_minutes
        status = command_and_wait(info, "resume", ("running", "finished", "stopped"), 30.0, **args)
        if status["state"] == "running":  # from where it paused: by the time it says so, it may be steps further
            out.print(f"run {info.run_id} running from step {info.status.get('step', 0):,}")
        else:
            out.print(f"run {info.run_id} {status['state']} at step {status.get('step', 0):,}")
        return
    options = {"resume": True, "lr": lr, "epochs": epochs, "max_steps": max_steps, "max_minutes": max_minutes,
               "data_dir": str(data_dir) if data_dir else None, "device": device}
    processes = int(info.config.get("processes") or 1)
    if processes > 1:  # refused here, not by rank 0 once launched: its other ranks would wait for it in vain
        from genlab.train.execute import check_resumable

        check_resumable(info.path, epochs=epochs, max_steps=max_steps, lr=lr, max_minutes=max_minutes)
    if detach:  # (on as many ranks as it trained on: the same run, step for step)
        start_detached(info.path, options, nproc=processes)
    elif processes > 1:
        train_on_processes(info.path, processes, options, ascii=ascii)
    else:
        foreground(info.path, ascii, **options)


# --------------------------------------------------------------------------- runs, show
