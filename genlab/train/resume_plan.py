"""How a run is resumed, decided from its state (genlab.run.state) and the user's options:
in place (a paused run: a resume command to the process that holds it) or from its newest good
checkpoint in a new process, or refused in one line. ``genlab resume`` asks :func:`plan_resume`,
then carries the plan out (genlab/cli/control.py); the cockpit runs ``genlab resume --detach``.

Torch is imported only to check a run of several processes before its ranks are launched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genlab.errors import GenlabError, UsageError
from genlab.run.state import RunState
from genlab.run.store import RunInfo


@dataclass(frozen=True)
class ResumePlan:
    in_place: bool  # True: send ``command`` to the process that holds the (paused) run
    command: dict = field(default_factory=dict)  # the resume command's arguments (lr, total_steps, max_minutes)
    options: dict = field(default_factory=dict)  # genlab.train.execute.execute's, for a new process
    processes: int = 1  # the ranks a new process launches (as many as the run trained on)


def plan_resume(info: RunInfo, epochs: int | None = None, max_steps: int | None = None,
                max_minutes: float | None = None, lr: float | None = None, data_dir: str | None = None,
                device: str | None = None) -> ResumePlan:
    """The plan for resuming the run ``info`` (genlab.run.store.load_run's; may be unreadable:
    a resume repairs what it can); UsageError or GenlabError when it cannot be resumed now."""
    from genlab.validate import new_total, positive

    state = RunState.of(info.state)
    if info.config.get("source") == "script" and not state.live:
        raise UsageError(f"run {info.run_id} was made by a script (genlab.init) and is {state}: "
                         "genlab can resume it only while the script is paused; run the script again")
    if info.problem:
        from genlab.run.lock import is_locked

        if is_locked(info.path):
            raise GenlabError(f"run {info.run_id} is unreadable ({info.problem}) and a process holds it")
        state = RunState.CRASHED  # nobody trains it: a new process starts from its newest good checkpoint
    if lr is not None:
        positive("learning rate", lr, float)
    if max_minutes is not None:
        positive("max minutes", max_minutes, float)
    if state is RunState.STALLED:
        raise UsageError(f"run {info.run_id} is stalled: process {info.status.get('pid')} holds it but has not "
                         "beaten its heartbeat for over a minute; stop it (or kill it) first")
    if state.live and not state.resumes_in_place:
        raise UsageError(f"run {info.run_id} is already running (pid {info.status.get('pid')}); "
                         "pause or stop it first")
    if state.resumes_in_place:
        command: dict = {}
        if lr is not None:
            command["lr"] = lr
        total = new_total(info.config.get("steps_per_epoch") or 1, epochs, max_steps)
        if total is not None:
            command["total_steps"] = total
        if max_minutes is not None:
            command["max_minutes"] = max_minutes
        return ResumePlan(in_place=True, command=command)
    options = {"resume": True, "lr": lr, "epochs": epochs, "max_steps": max_steps, "max_minutes": max_minutes,
               "data_dir": data_dir, "device": device}
    processes = int(info.config.get("processes") or 1)
    if processes > 1:  # refused here, not by rank 0 once launched: its other ranks would wait for it in vain
        from genlab.train.execute import check_resumable

        check_resumable(info.path, epochs=epochs, max_steps=max_steps, lr=lr, max_minutes=max_minutes)
    return ResumePlan(in_place=False, options=options, processes=processes)
