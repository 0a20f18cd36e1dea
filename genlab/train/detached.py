"""The detached training process's work, wherever it runs: ``python -m genlab.train.detached
RUN_DIR OPTIONS_JSON`` (a process of its own, started by genlab.run.launch.spawn without the
CLI's imports: typer, Rich, every command's module), `genlab _worker RUN_DIR` (the same through
the CLI, as torchrun's ranks start) or a child forked from a sweep's warm worker
(genlab.train.warm). Hang-ups are ignored (it has no terminal), a divergence pauses the run, its
alerts come from the environment, and a failure before its trainer began is recorded in the
run (genlab.train.execute.record_failed_start)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from genlab.errors import GenlabError, os_error_message
from genlab.run.state import RunState


def train_detached(run_dir: Path, options: dict) -> int:
    """Train ``run_dir`` with ``options`` (genlab.train.execute.execute's); the exit code: 0 for
    a run that finished or was stopped, else 1. Its errors are raised."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal to lose: a hang-up changes nothing
    from genlab.run.notify import Alerts
    from genlab.train.execute import execute, record_failed_start

    try:
        state = execute(run_dir, **options, on_divergence="pause", hangup="ignore", notify=Alerts.from_env())
    except Exception as e:  # before its trainer began: the run says why it failed (after: it said so itself)
        record_failed_start(run_dir, e)
        raise
    return 0 if state in (RunState.FINISHED, RunState.STOPPED) else 1


def run(run_dir: Path, options: dict) -> int:
    """:func:`train_detached`, its errors said as genlab's CLI says them (one line on standard
    error, which is the run's log); the exit code."""
    try:
        return train_detached(run_dir, options)
    except GenlabError as e:
        print(f"genlab: error: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    except OSError as e:  # a full disk, a vanished directory: one line, never a traceback
        print(f"genlab: error: {os_error_message(e, e.filename or 'the run directory')}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}))
