"""How each run of a set is told apart on screen: a short label and a colour of its own.

A run compared with others is named by the shortest thing that tells it apart, then by what
differs in its configuration: a sweep's trial by its number (``#3 lr=0.001``), any other run by
its id, with the part every long id of the set shares left out (``…101500-gan model=vae``), so
that ids made from the same date are never all cut to the same prefix. Its colour is its place in
the set. The compare screen's curves, legends, pane titles and ranking, and ``genlab compare``,
all name a run by its :class:`Label`, so a run reads the same on every pane and screen. A fork
(genlab/run/lineage.py) is marked with the step it was forked at: ``…fork300 ⑂@300 lr=0.0001``.
"""

from __future__ import annotations

from dataclasses import dataclass

# one colour a run, in the order the runs are compared (textual-plotext's own sequence for plots,
# so a legend, a pane's title and a table row agree); RGB, for plotext and Rich alike
PALETTE = ((0, 130, 200), (60, 180, 75), (230, 25, 75), (255, 225, 25), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (180, 225, 40), (250, 190, 212))
LONG_ID = 16  # characters: an id longer than this loses the leading part the set's long ids share
ELLIPSIS = "…"
FORK = "⑂"  # a fork's mark in its label


@dataclass(frozen=True)
class Label:
    """A run's label among the runs it is shown with: ``name`` tells it apart (``#3``, its id,
    or the part of its id that differs), ``differs`` says how (``lr=0.001``), ``colour`` is its
    colour (RGB) on every pane."""

    run_id: str
    name: str
    differs: str = ""
    colour: tuple[int, int, int] = PALETTE[0]
    forked_at: int | None = None  # a fork's step (genlab/run/lineage.py): marked ``⑂@5,000``

    @property
    def text(self) -> str:
        """The whole label: ``#3 lr=0.001``; a fork's, ``#3 ⑂@5,000 lr=0.001``."""
        return " ".join(filter(None, (self.name, self.fork_mark, self.differs)))

    @property
    def fork_mark(self) -> str:
        """``⑂@5,000`` for a fork (at step 5,000), else ""."""
        return "" if self.forked_at is None else f"{FORK}@{self.forked_at:,}"

    @property
    def style(self) -> str:
        """Its colour as a Rich style."""
        return "rgb({},{},{})".format(*self.colour)

    def fit(self, width: int) -> str:
        """The label in at most ``width`` characters: its name always (cut only when the name
        alone is wider), then as much of what differs as fits, cut between words."""
        text = self.text
        if len(text) <= width:
            return text
        if len(self.name) >= width - 1:
            return self.name if len(self.name) <= width else self.name[: max(1, width - 1)] + ELLIPSIS
        return shorten(text, width)


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut between words with an ellipsis."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + ELLIPSIS


def trial_number(run_id: str, config: dict) -> tuple[str, int] | None:
    """(sweep id, trial number) of a sweep's trial (its id is ``<sweep>-NNN``), else None."""
    sweep = config.get("sweep")
    if not isinstance(sweep, str) or not run_id.startswith(sweep + "-"):
        return None
    tail = run_id[len(sweep) + 1:]
    return (sweep, int(tail)) if tail.isdigit() else None


def short_ids(run_ids: list[str]) -> list[str]:
    """Each id as short as it can be and still tell the runs apart: an id longer than
    :data:`LONG_ID` loses the leading ``-``-separated words every such id of the set shares
    (``20261206-101500-gan`` beside ``20261206-113000-vae``: ``…101500-gan``)."""
    long = [rid.split("-") for rid in run_ids if len(rid) > LONG_ID]
    shared = 0
    if len(long) > 1:
        while (shared < min(len(words) for words in long) - 1
               and len({words[shared] for words in long}) == 1):
            shared += 1
    out = [ELLIPSIS + "-".join(rid.split("-")[shared:]) if shared and len(rid) > LONG_ID else rid
           for rid in run_ids]
    return out if len(set(out)) == len(out) else list(run_ids)


def label_runs(run_ids: list[str], configs: list[dict], differs: list[str]) -> list[Label]:
    """The runs' labels, in their order: ``differs`` is what differs in each one's configuration
    (``lr=0.001``, genlab.run.compare). The trials of one sweep are named by their numbers
    (trials of several sweeps, and other runs, by their short ids)."""
    trials = [trial_number(rid, c) for rid, c in zip(run_ids, configs)]
    one_sweep = len({t[0] for t in trials if t}) == 1
    shorts = short_ids(run_ids)
    names = [f"#{t[1]}" if t and one_sweep else short for t, short in zip(trials, shorts)]
    from genlab.run.lineage import parent_of  # (here: this module stays light for what imports it)

    forks = [parent_of(c) for c in configs]
    return [Label(rid, name, diff, PALETTE[i % len(PALETTE)], fork[1] if fork else None)
            for i, (rid, name, diff, fork) in enumerate(zip(run_ids, names, differs, forks))]
