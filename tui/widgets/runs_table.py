"""Every run in the runs root: id, model, live status, progress, key metric and quality figure
(with its rank, as `genlab runs` gives it)."""

from __future__ import annotations

from rich.text import Text

from genlab.run.sinks import progress_text
from tui.widgets.run_table import RunRows
from tui.widgets.status_bar import COLOURS


class RunsTable(RunRows):
    DEFAULT_CSS = """
    RunsTable {
        height: 1fr;
    }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for col in ("run", "model", "status", "progress", "key metric", "quality", "tags"):
            self.add_column(col, key=col)
        self.marked: set[str] = set()
        self.last_rows: list[dict] = []

    def toggle_mark(self) -> None:
        """Mark the run under the cursor for a comparison, or unmark it."""
        run = self.selected_run()
        if run is None:
            return
        row = next((r for r in self.last_rows if r["id"] == run), {})
        if row.get("kind") == "sweep":  # a sweep's row marks (or unmarks) all its trials
            trials = set(row.get("trials") or [])
            self.marked = self.marked - trials if trials <= self.marked else self.marked | trials
            for r in self.last_rows:
                if r["id"] in trials:
                    self.update_cell(r["id"], "run", self.run_cell(r["id"], "  "))
            return
        self.marked ^= {run}
        indent = "  " if row.get("sweep") else ""
        self.update_cell(run, "run", self.run_cell(run, indent))

    def sweep_trials(self, key: str | None) -> list[str] | None:
        """The trials of the sweep whose row is ``key`` (None if it is not a sweep's row)."""
        row = next((r for r in self.last_rows if r["id"] == key), None)
        return list(row.get("trials") or []) if row and row.get("kind") == "sweep" else None

    def run_cell(self, run: str, indent: str = "") -> Text:
        """A run's id, drawn marked (reversed, with ✓ in the footer's count) when it is; a
        sweep's row says so, and its trials sit under it, indented."""
        if run.startswith("sweep:"):
            return Text("▾ sweep " + run.removeprefix("sweep:"), style="bold")
        return Text(indent + run, style="bold reverse" if run in self.marked else "")

    def show(self, rows: list[dict]) -> None:
        """Update in place, keeping the cursor on the same run (and the marks on theirs)."""
        self.last_rows = rows
        self.marked &= {r["id"] for r in rows if r.get("kind") != "sweep"}
        current = self.selected_run()
        self.clear()
        for r in rows:
            total = r["total"] or 0
            key = r["key"]  # the run's key metric, as its model declares it (a sweep's: its objective)
            value = r["metrics"].get(key) if key else None
            metric = f"{key} {value:.4g}" if isinstance(value, (int, float)) else "-"
            state = r["state"]  # "unreadable: <reason>" for a broken directory
            sweep = r.get("kind") == "sweep"
            progress = f"{r['step']}/{total} trials" if sweep else \
                progress_text(r["step"], total, r.get("elapsed_s"), r.get("budget_s"), percent=True)
            self.add_row(self.run_cell(r["id"], indent="  " if r.get("sweep") else ""), r["model"],
                         Text(state, style=COLOURS.get(state.split(":")[0], "red")),
                         progress, ("best " if sweep and value is not None else "") + metric,
                         r.get("quality", ""), " ".join(r.get("tags") or []), key=r["id"])
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))
