"""The runs screen: every run with live status; Enter opens one, n starts a new one, space
marks runs and c compares the marked ones. A sweep is a row over its trials: Enter or c on it
compares them all; space on it marks them all."""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from tui.messages import RunsListed
from tui.widgets.runs_table import RunsTable


class RunsScreen(Screen):
    BINDINGS = [("n", "app.new_run", "new run"), ("space", "mark", "mark"), ("c", "compare", "compare"),
                ("t", "edit_tags", "tags"), ("q", "app.quit", "quit (runs keep running)")]

    def compose(self) -> ComposeResult:
        yield Static(f"genlab · runs in {self.app.source.root}", id="title")
        yield RunsTable(id="runs")
        yield Static("no runs yet: press n to start one", id="empty")
        yield Footer()

    def on_mount(self) -> None:
        self.list_runs()

    @work(thread=True, exclusive=True, group="runs")
    def list_runs(self) -> None:
        worker = get_current_worker()
        last = None
        while not worker.is_cancelled:
            if not self.is_active:  # under a dashboard or a form: nobody sees the table
                time.sleep(0.25)
                continue
            try:
                rows = self.app.source.rows()
            except OSError:
                rows = []
            if rows != last:
                last = rows
                self.post_message(RunsListed(rows))
            time.sleep(1.0)

    def on_runs_listed(self, message: RunsListed) -> None:
        self.query_one(RunsTable).show(message.rows)
        self.query_one("#empty").display = not message.rows

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        trials = self.query_one(RunsTable).sweep_trials(event.row_key.value)
        if trials is not None:  # a sweep's row: its trials side by side
            self.compare_sweep(trials)
        else:
            self.app.open_run(event.row_key.value)

    def compare_sweep(self, trials: list[str]) -> None:
        if len(trials) < 2:
            self.notify("this sweep has fewer than two trials to compare yet", severity="warning")
            return
        self.app.open_comparison(trials)

    def action_mark(self) -> None:
        table = self.query_one(RunsTable)
        table.toggle_mark()
        self.count_marks(len(table.marked))
        table.action_cursor_down()  # on to the next run, as a file manager marks

    def count_marks(self, n: int) -> None:
        """The footer says how many runs are marked: "c compare 3"."""
        self._bindings.key_to_bindings["c"] = [Binding("c", "compare", f"compare {n}" if n else "compare")]
        self.refresh_bindings()

    def action_edit_tags(self) -> None:
        run = self.query_one(RunsTable).selected_run()
        if run is not None and run.startswith("sweep:"):
            self.notify("tags belong to runs: open the sweep's trials to tag them", severity="warning")
        elif run is not None:
            self.app.edit_tags(run)

    def action_compare(self) -> None:
        table = self.query_one(RunsTable)
        marked = [r["id"] for r in table.last_rows if r["id"] in table.marked]  # in the table's order
        trials = table.sweep_trials(table.selected_run())
        if len(marked) < 2 and trials is not None:  # on a sweep's row: compare its trials
            self.compare_sweep(trials)
            return
        cursor = table.selected_run()
        if len(marked) == 1 and cursor not in (None, marked[0]):  # one marked: with the run under the cursor
            marked.append(cursor)
        if len(marked) < 2:
            self.notify("mark one more run with space, then press c" if marked else
                        "mark two runs or more with space, then press c", severity="warning")
            return
        self.app.open_comparison(marked)
