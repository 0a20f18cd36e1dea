"""What a user typed (a RUN or SWEEP argument) to the run or sweep it names: one set of rules
for every command and the cockpit.

- an exact id names that run or sweep;
- ``latest`` names the newest run (no run or sweep may be called so: genlab.run.store.RESERVED_NAMES);
- otherwise a prefix names the one run or sweep whose id starts with it. A sweep's trials are
  runs named ``<sweep-id>-NNN``, so a prefix of a sweep's id is also one of its trials': a
  prefix that matches one sweep and none but its trials names the sweep.
- a prefix that matches nothing, or several, is a one-line UsageError (exit 2) naming them.

Commands that take only runs (show, sample, ...) resolve among runs, ``sweep show`` among
sweeps, and pause, resume and stop among both (:func:`resolve_target`). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genlab.errors import UsageError

LATEST = "latest"


@dataclass(frozen=True)
class Target:
    """A run or a sweep that a user named."""

    path: Path
    is_sweep: bool

    @property
    def name(self) -> str:
        return self.path.name


def resolve_run(root: Path, ref: str) -> Path:
    """A run id, a unique prefix of one, or ``latest``."""
    from genlab.run.store import run_dirs

    if not run_dirs(root):
        raise UsageError(f"no runs in {root}")
    return resolve_target(root, ref, sweeps=False).path


def resolve_sweep(root: Path, ref: str) -> Path:
    """A sweep id or a unique prefix of one."""
    return resolve_target(root, ref, runs=False).path


def resolve_target(root: Path, ref: str, runs: bool = True, sweeps: bool = True) -> Target:
    """The run or sweep ``ref`` names, among runs and/or sweeps (the module's rules)."""
    from genlab.run.store import list_runs, run_dirs
    from genlab.run.sweeps import sweep_dirs

    run_paths = run_dirs(root) if runs else []
    sweep_paths = sweep_dirs(root) if sweeps else []
    if runs and ref == LATEST and run_paths:
        return Target(list_runs(root)[-1].path, False)
    for p in sweep_paths:
        if p.name == ref:
            return Target(p, True)
    for p in run_paths:
        if p.name == ref:
            return Target(p, False)
    run_matches = sorted(p.name for p in run_paths if p.name.startswith(ref))
    sweep_matches = sorted(p.name for p in sweep_paths if p.name.startswith(ref))
    if len(sweep_matches) == 1 and all(r.startswith(sweep_matches[0] + "-") for r in run_matches):
        return Target(root / sweep_matches[0], True)  # the sweep, not its trials
    if len(run_matches) + len(sweep_matches) == 1:
        return Target(root / (run_matches or sweep_matches)[0], bool(sweep_matches))
    what = " or ".join(w for w, wanted in (("run", runs), ("sweep", sweeps)) if wanted)
    if not run_matches and not sweep_matches:
        raise UsageError(f"no {what} matches {ref!r} in {root}")
    counted = " and ".join(f"{len(m)} {w}{'s' if len(m) > 1 else ''}"
                           for w, m in (("run", run_matches), ("sweep", sweep_matches)) if m)
    names = sweep_matches + run_matches
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise UsageError(f"{ref!r} matches {counted} ({shown}); give more of the id")
