"""genlab pause, stop and resume: a run's or a whole sweep's."""

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from genlab.cli.app import Ascii, DataDir, RunOrSweep, RunsDir, app, out
from genlab.cli.train import Notify, NotifyWhen, foreground, start_detached, train_on_processes
from genlab.errors import GenlabError, UsageError


def target(ref: str, runs_dir: Path | None):
    """The run or sweep ``ref`` names (genlab.run.resolve: an id, a unique prefix, 'latest')."""
    from genlab.run.resolve import resolve_target
    from genlab.run.store import runs_root

    return resolve_target(runs_root(runs_dir), ref)


def live_run(path: Path, broken_ok: bool = False):
    """The run to control: refused if it is a link or another user's (only the owner controls a
    run), or if it is unreadable (unless ``broken_ok``: resume repairs what it can)."""
    from genlab.run.store import check_controllable, load_run

    info = load_run(path)
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
    from genlab.cli.sweep import control
    from genlab.run.state import RunState

    if (named := target(run, runs_dir)).is_sweep:
        return control(named.path, "pause", wait=wait * 4)
    info = live_run(named.path)
    if info.state == RunState.PAUSED:
        out.print(f"run {info.run_id} is already paused at step {info.status.get('step', 0):,}")
        return
    if not RunState.of(info.state).can_pause:
        raise UsageError(f"run {info.run_id} is {info.state}, not running: nothing to pause")
    status = command_and_wait(info, "pause", (RunState.PAUSED, RunState.STOPPED, RunState.FINISHED), wait)
    out.print(f"run {info.run_id} {status['state']} at step {status.get('step', 0):,}")


@app.command()
def stop(run: RunOrSweep, runs_dir: RunsDir = None,
         wait: Annotated[float, typer.Option(help="Seconds to wait for the run to confirm.")] = 60.0) -> None:
    """Stop a run: it writes a checkpoint, records 'stopped' and exits (resume continues it).

    Given a sweep: every trial it runs stops so, then its workers exit."""
    from genlab.cli.sweep import control
    from genlab.run.state import RunState

    if (named := target(run, runs_dir)).is_sweep:
        return control(named.path, "stop", wait=wait * 2)
    info = live_run(named.path)
    if not RunState.of(info.state).can_stop:
        raise UsageError(f"run {info.run_id} is {info.state}, not running: nothing to stop")
    status = command_and_wait(info, "stop", (RunState.STOPPED, RunState.FINISHED), wait)
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
    as_json: Annotated[bool, typer.Option("--json", help="Print what happened as JSON (a paused run, or with --detach).")] = False,
    notify: Notify = None,
    notify_when: NotifyWhen = None,
) -> None:
    """Resume a paused run in place, or a stopped, crashed or finished one from its newest good
    checkpoint (same steps, data order and random streams).

    Given a sweep: its paused trials
    go on, and a sweep with no live worker gets one (as 'genlab sweep resume')."""
    from genlab import view
    from genlab.cli.sweep import control, sweep_models
    from genlab.run.notify import Alerts, handed_on
    from genlab.run.state import RunState
    from genlab.train.resume_plan import plan_resume

    if (named := target(run, runs_dir)).is_sweep:
        alerts = Alerts.parse(notify, notify_when, sweep_models(named.path) if notify_when else None)
        with handed_on(alerts):  # (its worker's trials get them)
            return control(named.path, "resume")
    info = live_run(named.path, broken_ok=True)
    alerts = Alerts.parse(notify, notify_when, {info.model: view.read(info.path)} if notify_when else None)
    plan = plan_resume(info, epochs=epochs, max_steps=max_steps, max_minutes=max_minutes, lr=lr,
                       data_dir=str(data_dir) if data_dir else None, device=device)
    if as_json and not (plan.in_place or detach):
        raise UsageError("--json answers for a run resumed in place or in the background: add --detach")
    if plan.in_place and alerts is not None:
        raise UsageError(f"run {info.run_id} is paused in its own process, which notifies as it was started to: "
                         "--notify is for a run resumed in a new process")
    if plan.in_place:
        status = command_and_wait(info, "resume", (RunState.RUNNING, RunState.FINISHED, RunState.STOPPED), 30.0,
                                  **plan.command)
        if as_json:  # the step it paused at: by the time it says running, it may be steps further
            step = info.status.get("step", 0) if status["state"] == RunState.RUNNING else status.get("step", 0)
            print(json.dumps({"run": info.run_id, "run_dir": str(info.path), "state": status["state"], "step": step,
                              "in_place": True}))
        elif status["state"] == RunState.RUNNING:  # from where it paused: by the time it says so, it may be steps further
            out.print(f"run {info.run_id} running from step {info.status.get('step', 0):,}")
        else:
            out.print(f"run {info.run_id} {status['state']} at step {status.get('step', 0):,}")
    elif detach:  # (on as many ranks as it trained on: the same run, step for step)
        with handed_on(alerts):
            start_detached(info.path, plan.options, nproc=plan.processes, as_json=as_json)
    elif plan.processes > 1:
        with handed_on(alerts):
            train_on_processes(info.path, plan.processes, plan.options, ascii=ascii)
    else:
        foreground(info.path, ascii, notify=alerts, **plan.options)


# --------------------------------------------------------------------------- runs, show
