"""Every run in the runs root: id, model, live status, progress, key metric and quality figure
(with its rank, as `genlab runs` gives it); filtered (genlab/run/filter.py, the filter of
`genlab runs --filter`), sorted by any column, pinned runs first. A sweep's trials stay under
its row, sorted among themselves; a run's forks under it (``└ id @step``, as `genlab runs` lists them).

Too narrow for every column, the table puts those that give way (genlab/run/columns.py) to the
right, where it scrolls sideways to them, shows progress as a percentage and a sweep's models as
a count: the run, its state and its key metric stay in view.
"""

from __future__ import annotations

from rich.text import Text

from genlab.health.verdict import WORST_FIRST
from genlab.run import lineage
from genlab.run.columns import models_text, narrow_order
from genlab.run.filter import Filter, parse
from genlab.run.sinks import progress_text
from tui.widgets import verdict
from tui.widgets.run_table import RunRows
from tui.widgets.status_bar import COLOURS

COLUMNS = ("run", "model", "status", "health", "progress", "key metric", "quality", "tags")
PIN = "★ "
# how a column reads in each direction: (its first direction, reversed)
DIRECTIONS = {"health": ("worst first", "best first"), "progress": ("least done first", "most done first"), "key metric": ("best first", "worst first"),
              "quality": ("best first", "worst first")}


class RunsTable(RunRows):
    DEFAULT_CSS = """
    RunsTable {
        height: 1fr;
    }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.fixed_columns = 1  # the run stays in view as the table scrolls sideways
        self.marked: set[str] = set()
        self.pinned: set[str] = set()  # kept for the session
        self.wanted: Filter = parse("")
        self.sort_column: str | None = None  # None: as listed (oldest first, then the sweeps)
        self.descending = False
        self.last_rows: list[dict] = []  # every run, as listed
        self.shown: list[dict] = []  # those the filter keeps, in the table's order
        self.drawn_columns: tuple = ()  # the columns and their labels as drawn
        self.cursor_run: str | None = None  # the run the cursor was last on

    # ---- what the user changes
    def set_filter(self, text: str) -> None:
        """Show only the runs ``text`` matches (UsageError, the old filter kept, if it cannot be read)."""
        self.wanted = parse(text)
        self.redraw()

    def sort_by(self, column: str | None, descending: bool = False) -> None:
        self.sort_column, self.descending = column, descending
        self.redraw()

    def cycle_sort(self) -> None:
        """Sort by the next column (after the last: as listed)."""
        order = [None, *COLUMNS]
        self.sort_by(order[(order.index(self.sort_column) + 1) % len(order)])

    def reverse_sort(self) -> None:
        self.sort_by(self.sort_column, not self.descending)

    def header_clicked(self, column: str) -> None:
        """A header clicked: sort by its column; clicked again, the other way."""
        self.sort_by(column, not self.descending if column == self.sort_column else False)

    def toggle_pin(self) -> None:
        """Pin the run (or sweep) under the cursor to the top, or unpin it."""
        run = self.selected_run()
        if run is not None:
            self.pinned ^= {run}
            self.redraw()

    def toggle_mark(self) -> None:
        """Mark the run under the cursor for a comparison, or unmark it."""
        run = self.selected_run()
        if run is None:
            return
        row = next((r for r in self.last_rows if r["id"] == run), {})
        if row.get("kind") == "sweep":  # a sweep's row marks (or unmarks) all its trials
            trials = set(row.get("trials") or [])
            self.marked = self.marked - trials if trials <= self.marked else self.marked | trials
            for r in self.shown:
                if r["id"] in trials:
                    self.update_cell(r["id"], "run", self.run_cell(r))
            return
        self.marked ^= {run}
        self.update_cell(run, "run", self.run_cell(row))

    # ---- what it says
    def sweep_trials(self, key: str | None) -> list[str] | None:
        """The trials of the sweep whose row is ``key`` (None if it is not a sweep's row)."""
        row = next((r for r in self.last_rows if r["id"] == key), None)
        return list(row.get("trials") or []) if row and row.get("kind") == "sweep" else None

    def runs_count(self) -> tuple[int, int]:
        """(runs shown, runs in all): sweeps' rows are not runs."""
        return (sum(r.get("kind") != "sweep" for r in self.shown), sum(r.get("kind") != "sweep" for r in self.last_rows))

    def described(self) -> str:
        """One line of what is filtered, sorted and pinned ("" for none of it): "3 of 12 runs
        match 'lr=0.001' · sorted by key metric, best first · 1 pinned"."""
        said = []
        if self.wanted:
            shown, every = self.runs_count()
            said.append(f"{shown} of {every} {'run' if every == 1 else 'runs'} "
                        f"{'matches' if shown == 1 else 'match'} {self.wanted.text!r} (esc clears)")
        if self.sort_column is not None:
            first, other = DIRECTIONS.get(self.sort_column, ("A to Z", "Z to A"))
            said.append(f"sorted by {self.sort_column}, {other if self.descending else first}")
        elif self.descending:
            said.append("newest first")
        pinned = len(self.pinned & {r["id"] for r in self.last_rows})
        if pinned:
            said.append(f"{pinned} pinned")
        return " · ".join(said)

    def run_cell(self, r: dict) -> Text:
        """A run's id, drawn marked (reversed, with ✓ in the footer's count) when it is, with ★
        when pinned; a sweep's row says so, and its trials sit under it, indented."""
        pin = PIN if r["id"] in self.pinned else ""
        if r.get("kind") == "sweep":
            return Text(pin + "▾ sweep " + r["id"].removeprefix("sweep:"), style="bold")
        depth, step = self.forks.get(r["id"], (0, None))  # a fork under its parent: ``└ id @step``
        return Text(("  " if r.get("sweep") else "") + pin + lineage.family_text(r["id"], depth, step),
                    style="bold reverse" if r["id"] in self.marked else "")

    # ---- drawing
    def show(self, rows: list[dict]) -> None:
        """New rows from the runs root: updated in place when the same runs are shown in the same
        order (the cursor and the sideways scroll stay), else redrawn."""
        self.last_rows = rows
        self.marked &= {r["id"] for r in rows if r.get("kind") != "sweep"}
        self.redraw()

    def on_resize(self) -> None:
        if self.last_rows:
            self.redraw()

    forks: dict = {}  # a fork's id -> (how deep under runs shown, its fork step): fork_depths

    def redraw(self) -> None:
        self.forks = fork_depths(self.last_rows)
        self.shown = arranged(self.last_rows, self.wanted, self.sort_column, self.descending, self.pinned)
        wide = [self.cells(r, narrow=False) for r in self.shown]
        room = (self.size.width or self.app.size.width) - 2  # a vertical scrollbar's room
        narrow = natural_width(wide) > room
        columns = narrow_order(COLUMNS) if narrow else list(COLUMNS)
        cells = [self.cells(r, narrow=True) for r in self.shown] if narrow else wide
        columns_drawn = tuple((c, self.label(c)) for c in columns)
        ids = [r["id"] for r in self.shown]
        if columns_drawn == self.drawn_columns and ids == [k.value for k in self.rows]:
            for key, row in zip(ids, cells):  # in place: the cursor and the scroll stay
                for c in columns:
                    if self.get_cell(key, c) != row[c]:
                        self.update_cell(key, c, row[c], update_width=True)
            return
        current, scrolled = self.selected_run() or self.cursor_run, self.scroll_x
        self.cursor_run = current  # kept while a filter hides every run
        self.clear(columns=columns_drawn != self.drawn_columns)
        if columns_drawn != self.drawn_columns:
            for c, label in columns_drawn:
                self.add_column(label, key=c)
            self.drawn_columns = columns_drawn
        for key, row in zip(ids, cells):
            self.add_row(*(row[c] for c in columns), key=key)
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))
        self.call_after_refresh(self.scroll_to, x=scrolled, animate=False)  # once the new widths are known

    def label(self, column: str) -> Text:
        if column != self.sort_column:
            return Text(column)
        return Text(f"{column} {'▼' if self.descending else '▲'}", style="bold")

    def cells(self, r: dict, narrow: bool) -> dict:
        sweep = r.get("kind") == "sweep"
        key = r["key"]  # the run's key metric, as its model declares it (a sweep's: its objective)
        value = r["metrics"].get(key) if key else None
        metric = f"{key} {value:.4g}" if isinstance(value, (int, float)) else "-"
        state = r["state"]  # "unreadable: <reason>" for a broken directory
        if narrow:  # the word alone: the reason, on the run's dashboard, would push the key metric off
            state = state.split(":")[0]
        if sweep:
            progress = f"{r['step']}/{r['total']} trials"
        elif narrow:
            done = fraction_done(r)
            progress = "-" if done is None else f"{100 * done:.0f}%"
        else:
            progress = progress_text(r["step"], r["total"] or 0, r.get("elapsed_s"), r.get("budget_s"), percent=True)
        return {"run": self.run_cell(r), "model": models_text(r["model"], narrow), "tags": " ".join(r.get("tags") or []),
                "status": Text(state, style=COLOURS.get(state.split(":")[0], "red")), "progress": progress,
                "health": verdict.short(r.get("health")),
                "key metric": ("best " if sweep and value is not None else "") + metric, "quality": r.get("quality", "")}


# --------------------------------------------------------------------------- order


def natural_width(rows: list[dict]) -> int:
    """How wide the table is with every column whole (a cell's padding is 1 a side)."""
    widths = {c: len(c) + 2 for c in COLUMNS}  # room for the sort mark
    for row in rows:
        for c in COLUMNS:
            widths[c] = max(widths[c], Text(row[c]).cell_len if isinstance(row[c], str) else row[c].cell_len)
    return sum(w + 2 for w in widths.values())


def fraction_done(r: dict) -> float | None:
    """How much of its length the run has done (of its time budget, if its length is one)."""
    if r.get("budget_s"):
        return min(1.0, (r.get("elapsed_s") or 0.0) / r["budget_s"])
    return r["step"] / r["total"] if r.get("total") else None


def sort_value(r: dict, column: str):
    """What ``column`` sorts ``r`` by, lowest first; None for nothing to sort by (those come last)."""
    if column == "run":
        return r["id"].removeprefix("sweep:").lower()
    if column == "model":
        return str(r.get("model") or "").lower() or None
    if column == "status":
        return str(r.get("state") or "").lower() or None
    if column == "health":  # worst first (a run not judged has nothing to sort by)
        return WORST_FIRST.get(r["health"].severity) if r.get("health") is not None else None
    if column == "progress":
        return fraction_done(r)
    if column == "key metric":  # best first, in the direction its model (or its sweep) declares
        value = r["metrics"].get(r["key"]) if r.get("key") else None
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
            return None
        return (r["key"], value if r.get("key_lower", True) else -value)
    if column == "quality":  # by rank, #1 first
        return r.get("rank")
    if column == "tags":
        return " ".join(r.get("tags") or []).lower() or None
    raise KeyError(column)


def arranged(rows: list[dict], wanted: Filter, column: str | None, descending: bool, pinned: set) -> list[dict]:
    """The rows ``wanted`` keeps, in order: pinned ones first, then by ``column`` (those without a
    value last), or as listed; a sweep's trials stay under its row, ordered among themselves."""
    blocks: list[tuple[dict, list[dict]]] = []  # a run alone, or a sweep's row and its trials
    for r in rows:
        if r.get("sweep") and blocks and blocks[-1][0]["id"] == f"sweep:{r['sweep']}":
            blocks[-1][1].append(r)
        else:
            blocks.append((r, []))

    blocks = forks_under_parents(blocks)

    def ordered(items: list, row_of) -> list:
        if column is not None:
            keyed = [(sort_value(row_of(i), column), i) for i in items]
            have = sorted((k for k in keyed if k[0] is not None), key=lambda k: k[0], reverse=descending)
            items = [i for _, i in have] + [i for v, i in keyed if v is None]
        elif descending:
            items = items[::-1]
        return sorted(items, key=lambda i: row_of(i)["id"] not in pinned)

    kept = []
    for head, trials in blocks:
        trials = [t for t in trials if wanted.matches(t)]
        if head.get("kind") == "sweep" and wanted.keeps_sweep(head, len(trials)) or wanted.matches(head):
            kept.append((head, trials))
        elif head.get("kind") != "sweep":  # (a run's forks, shown without it where it is filtered out)
            kept += [(t, []) for t in trials]
    out = []
    for head, trials in ordered(kept, lambda b: b[0]):
        out += [head, *ordered(trials, lambda t: t)]
    return out


# --------------------------------------------------------------------------- lineage


class _Run:
    """A row as genlab.run.lineage.family_order reads a run: its id and configuration."""

    def __init__(self, row: dict):
        self.row, self.run_id, self.config = row, row["id"], row.get("config") or {}


def plain(r: dict) -> bool:
    """A run of its own: not a sweep's row nor one of its trials (those stay under their sweep)."""
    return r.get("kind") != "sweep" and not r.get("sweep")


def forks_under_parents(blocks: list[tuple[dict, list[dict]]]) -> list[tuple[dict, list[dict]]]:
    """Each fork (genlab/run/lineage.py) moved from a block of its own to under its parent's
    run, a fork of a fork under that one (all in the first run's block, in family order)."""
    runs = [head for head, _ in blocks if plain(head)]
    family = lineage.family_order([_Run(r) for r in runs])
    if all(depth == 0 for _, depth, _ in family):
        return blocks
    under, root = {}, None
    for run, depth, _ in family:
        if depth == 0:
            root = run.row["id"]
        else:
            under.setdefault(root, []).append(run.row)
    moved = {r["id"] for kids in under.values() for r in kids}
    return [(head, [*kids, *under.get(head["id"], [])]) for head, kids in blocks if head["id"] not in moved]


def fork_depths(rows: list[dict]) -> dict[str, tuple[int, int]]:
    """Each fork's (how many forks deep it is under runs of ``rows``, its fork step); a run
    whose parent is not among them is left out."""
    runs = {r["id"]: r for r in rows if plain(r)}
    links = {rid: link for rid, r in runs.items()
             if (link := lineage.parent_of(r.get("config") or {})) is not None and link[0] in runs}
    out = {}
    for rid, (parent, step) in links.items():
        depth, here, seen = 1, parent, {rid}
        while here in links and here not in seen:  # (a loop of forks, made by hand, is cut)
            seen.add(here)
            depth, here = depth + 1, links[here][0]
        out[rid] = (depth, step)
    return out
