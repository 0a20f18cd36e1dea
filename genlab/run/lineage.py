"""A run's lineage: the checkpoints it can be forked at, what it was forked from, and its
history with its parent's before the fork (never copied: read from the parent).

A fork (``genlab fork``, genlab/train/fork.py) records ``"forked_from": {"run": <parent's id>,
"step": <the checkpoint's step>}`` in its config.json; its own record starts at that step. The
parent is looked for beside it, in the same runs directory. Readers of a run's metrics splice
in its ancestors' rows up to the fork with :func:`history` (``genlab compare``) or
:class:`Ancestry` (genlab/run/follow.py, which the cockpit and the health verdicts read through).
A parent that is gone leaves the fork's own history and a note saying so; a loop of forks
(only made by hand) is cut where it closes. Torch-free; numpy and the metrics record are imported
only where rows are read (`genlab runs` lists lineage without them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genlab.run import events_index
from genlab.run.rundir import RunDir, step_of
from genlab.run.store import read_events

if TYPE_CHECKING:
    import numpy as np

FORKED_FROM = "forked_from"  # config.json's key: {"run": parent id, "step": fork step}


@dataclass(frozen=True)
class ForkPoint:
    """A checkpoint kept: a step the run can be forked (or resumed) at."""

    step: int
    when: float  # the file's modification time (unix)
    bytes: int


def fork_points(run_dir: Path) -> list[ForkPoint]:
    """The run's checkpoints, oldest first, from the directory listing (no file is opened)."""
    out = []
    for path in RunDir(run_dir).checkpoint_files():
        try:
            st = path.stat()
        except OSError:
            continue
        out.append(ForkPoint(step_of(path), st.st_mtime, st.st_size))
    return out


def parent_of(config: dict) -> tuple[str, int] | None:
    """(parent run id, fork step) of a fork's configuration; None for any other run."""
    raw = config.get(FORKED_FROM) if isinstance(config, dict) else None
    if not isinstance(raw, dict):
        return None
    run, step = raw.get("run"), raw.get("step")
    if not isinstance(run, str) or not run or isinstance(step, bool) or not isinstance(step, int):
        return None
    return run, step


@dataclass(frozen=True)
class Ancestor:
    """A run whose rows up to ``upto`` come before a fork's own."""

    path: Path
    upto: int


class Ancestry:
    """The ancestors of a run, oldest first, each with the last step of its that the run
    inherits; ``problem`` says why the chain stops early (a parent gone, a loop)."""

    def __init__(self, run_dir: Path, config: dict):
        self.ancestors: list[Ancestor] = []
        self.problem: str | None = None
        seen, here, upto = {Path(run_dir).name}, config, None
        while (link := parent_of(here)) is not None:
            name, step = link
            upto = step if upto is None else min(upto, step)
            if name in seen:
                self.problem = f"forked from {name} in a loop: its history before the fork is left out"
                break
            path = Path(run_dir).parent / name
            here, problem = RunDir(path).read_config()
            if problem:
                self.problem = f"forked from {name} at step {step:,}, which is gone: its history before the fork is not shown"
                break
            seen.add(name)
            self.ancestors.insert(0, Ancestor(path, upto))

    def __bool__(self) -> bool:
        return bool(self.ancestors)

    def rows(self, cols: list[str] | None) -> tuple[list[str] | None, np.ndarray]:
        """The ancestors' metric rows up to their fork steps, oldest first, in the layout
        ``cols`` (a fork's own; None: the oldest ancestor's)."""
        import numpy as np

        from genlab.run import metrics_log

        parts = []
        for a in self.ancestors:
            got, rows, _ = metrics_log.read(a.path)
            if not got or not len(rows):
                continue
            parts.append((got, rows[rows[:, 0] <= a.upto]))  # (each run's own rows start after its fork)
        if not parts:
            return cols, np.empty((0, len(cols or [])))
        cols = cols or parts[0][0]
        return cols, np.concatenate([in_layout(rows, got, cols) for got, rows in parts])


    def events(self, kinds: tuple[str, ...] = ("eval",)) -> list[dict]:
        """The ancestors' events of ``kinds`` up to their fork steps, oldest first (held-out
        evaluations: a fork's held-out curves begin with its parent's)."""
        out = []
        for a in self.ancestors:
            path = RunDir(a.path).events
            try:
                size = path.stat().st_size
            except OSError:
                continue
            listed = events_index.read(a.path, size)  # (its non-metric lines, without reading the rest)
            found, offset = listed if listed is not None else ([], 0)
            found = [*found, *read_events(path, offset)[0]]
            out += [e for e in found if e["kind"] in kinds and e["step"] <= a.upto]
        return out


def in_layout(rows: np.ndarray, have: list[str], want: list[str]) -> np.ndarray:
    """``rows`` of columns ``have`` in the columns ``want`` (NaN where they hold none; plain rows
    become aggregated ones of one step each)."""
    import numpy as np

    from genlab.run import metrics_log

    if have == want:
        return rows
    if metrics_log.aggregated(want) and not metrics_log.aggregated(have):
        rows, have = metrics_log.upgrade(rows, have)
    at = {c: i for i, c in enumerate(have)}
    out = np.full((len(rows), len(want)), np.nan)
    for j, c in enumerate(want):
        if c in at:
            out[:, j] = rows[:, at[c]]
    return out


def history(run_dir: Path, config: dict | None = None) -> tuple[list[str] | None, np.ndarray, str | None]:
    """(columns, every metric row of the run with its ancestors' before the fork, a note when
    part of it is missing): metrics_log.read's whole read, for a fork too."""
    import numpy as np

    from genlab.run import metrics_log

    if config is None:
        config, _ = RunDir(run_dir).read_config()
    cols, rows, _ = metrics_log.read(run_dir)
    ancestry = Ancestry(run_dir, config)
    if not ancestry:
        return cols, rows, ancestry.problem
    cols, before = ancestry.rows(cols)
    if not len(rows):
        return cols, before, ancestry.problem
    return cols, np.concatenate([before, rows]), ancestry.problem


def family_order(runs: list) -> list[tuple[object, int, int | None]]:
    """``runs`` (anything with ``run_id`` and ``config``) in their order, each fork moved to
    just under its parent (a fork of a fork deeper still): (run, depth, fork step). A fork whose
    parent is not among them stays where it was, at depth 0."""
    ids = {r.run_id for r in runs}
    children: dict[str, list] = {}
    for r in runs:
        link = parent_of(r.config)
        if link is not None and link[0] in ids and link[0] != r.run_id:
            children.setdefault(link[0], []).append(r)
    placed: set[str] = set()
    out: list[tuple[object, int, int | None]] = []

    def place(r, depth: int) -> None:
        placed.add(r.run_id)
        link = parent_of(r.config)
        out.append((r, depth, link[1] if link else None))
        for child in children.get(r.run_id, []):
            if child.run_id not in placed:
                place(child, depth + 1)

    under = {c.run_id for kids in children.values() for c in kids}
    for r in runs:
        if r.run_id not in under and r.run_id not in placed:
            place(r, 0)
    for r in runs:  # (a loop of forks, made by hand, has no root: listed as it comes)
        if r.run_id not in placed:
            place(r, 0)
    return out


def family_text(run_id: str, depth: int, step: int | None) -> str:
    """A run's id as `genlab runs` lists it: a fork under its parent, ``└ id @step``."""
    if not depth:
        return run_id
    return "  " * (depth - 1) + f"└ {run_id} @{step:,}"
