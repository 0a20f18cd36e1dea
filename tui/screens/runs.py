"""The runs screen: every run with live status; Enter opens one, n starts a new one, space
marks runs and c compares the marked ones. A sweep is a row over its trials: Enter on it opens
its screen (tui/screens/sweep.py), c compares them all; space on it marks them all. / (or f)
filters as you type (Esc clears it), o sorts by the next column (or click a header), O
reverses, P pins a run to the top."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from genlab.errors import UsageError
from tui.messages import RunsListed
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.runs_table import RunsTable


class RunsScreen(Screen):
    BINDINGS = [("n", "app.new_run", "new run"), ("space", "mark", "mark"), ("c", "compare", "compare"),
                ("t", "edit_tags", "tags"), Binding("slash,f", "filter", "filter", key_display="/"),
                Binding("o", "sort", "sort", key_display="o/O"), Binding("O", "reverse_sort", "reverse the sort", show=False),
                Binding("P,asterisk", "pin", "pin", key_display="P"),
                Binding("escape", "clear_filter", "clear the filter", show=False),  # said under the table
                Binding("q", "app.quit", "quit", tooltip="quit (runs keep running)")]  # (tooltip: the wide footer's)
    DEFAULT_CSS = """
    RunsScreen #runs-info {
        height: 1;
        padding: 0 1;
        color: $text-muted;
        display: none;
    }
    RunsScreen #filter {
        height: 1;
        border: none;
        padding: 0 1;
        display: none;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(f"genlab · runs in {self.app.source.root}", id="title")
        yield RunsTable(id="runs")
        yield Static("no runs yet: press n to start one", id="empty")
        yield Static(id="runs-info")
        yield Input(placeholder="filter: gan state=running lr=0.001 tag=best d_loss<1.3 · esc: no filter", id="filter")
        yield KeysFooter()

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
        self.describe()

    # ---- filter, sort, pin
    def describe(self, problem: str = "") -> None:
        """The line under the table: what is filtered, sorted and pinned, or what is wrong with
        the filter as typed."""
        line = self.query_one("#runs-info", Static)
        said = problem or self.query_one(RunsTable).described()
        line.update(Text(said, style="red" if problem else ""))
        line.display = bool(said)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        self.set_focus(box)  # at once: the keys typed next are the filter's, however fast they come

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        try:
            self.query_one(RunsTable).set_filter(event.value)
        except UsageError as e:  # half typed ("lr="): the last filter stays until it reads
            self.describe(str(e))
            return
        self.describe()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: back to the table, the filter kept (shown in the line under it)."""
        if event.input.id == "filter":
            event.input.display = False
            self.query_one(RunsTable).focus()

    def on_key(self, event) -> None:
        if event.key in ("down", "up") and self.query_one("#filter", Input).has_focus:  # on to the rows
            self.query_one(RunsTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(RunsTable).set_filter("")
        self.query_one(RunsTable).focus()
        self.describe()

    def action_sort(self) -> None:
        self.query_one(RunsTable).cycle_sort()
        self.describe()

    def action_reverse_sort(self) -> None:
        self.query_one(RunsTable).reverse_sort()
        self.describe()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.query_one(RunsTable).header_clicked(event.column_key.value)
        self.describe()

    def action_pin(self) -> None:
        self.query_one(RunsTable).toggle_pin()
        self.describe()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.query_one(RunsTable).sweep_trials(event.row_key.value) is not None:  # a sweep's row: its screen
            from tui.screens.sweep import SweepScreen

            self.app.push_screen(SweepScreen(event.row_key.value.removeprefix("sweep:")))
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
        listed = table.shown + [r for r in table.last_rows if r not in table.shown]  # the table's order, then the filtered out
        marked = [r["id"] for r in listed if r["id"] in table.marked]
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
