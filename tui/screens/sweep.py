"""A sweep's screen: what ``genlab sweep show`` says of it, kept up to date while it runs.

Its trials ranked by the objective (best first; a trial not ended by its run's newest value), the
best so far, which parameters mattered (Optuna's PED-ANOVA, as the study last computed it), the
optimisation history, the parallel coordinates and every trial's objective curve overlaid, all
from one read of the sweep (genlab/run/sweep_report.py, through tui.source.RunsSource.sweep)
drawn as ``genlab sweep show`` draws them (genlab/render/sweep_plots.py).

Wide (WIDE columns and more): the trials, the importance and the curves on the left, the
history and the parallel coordinates on the right; narrower, one column that scrolls (the page
keys). Enter on a trial opens its dashboard, c compares the trials'
curves (the compare screen), Esc goes back to the runs.
"""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from genlab.errors import GenlabError
from genlab.render import sweep_plots
from tui.messages import SweepRead
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.sweep_trials import SweepTrials
from tui.widgets.text_plot import TextPlot

POLL_S = 1.0
WIDE = 140  # columns: from here, two columns


class SweepScreen(Screen):
    BINDINGS = [
        Binding("c", "compare", "compare", tooltip="compare the trials' curves"),
        # the page keys scroll the screen, not the table of trials (which shows them all, or nearly)
        Binding("pagedown", "page(1)", "scroll", key_display="pgdn/pgup", priority=True),
        Binding("pageup", "page(-1)", "scroll up", show=False, priority=True),
        ("escape", "back", "runs"),
        Binding("q", "app.quit", "quit", tooltip="quit (runs keep running)"),
    ]
    DEFAULT_CSS = """
    SweepScreen #sweep-best {
        height: auto;
        padding: 0 1;
    }
    SweepScreen #sweep-body {
        height: 1fr;
    }
    SweepScreen.-wide #sweep-body {
        layout: horizontal;
        overflow-y: hidden;
    }
    SweepScreen #sweep-left, SweepScreen #sweep-plots {
        height: auto;
    }
    SweepScreen.-wide #sweep-left {
        width: 2fr;
        height: 1fr;
    }
    SweepScreen.-wide #sweep-plots {
        width: 3fr;
        height: 1fr;
        padding-left: 2;
    }
    SweepScreen #sweep-importance {
        height: auto;
        padding: 1 1;
    }
    SweepScreen #sweep-history {
        height: 14;
    }
    SweepScreen.-wide TextPlot {
        height: 1fr;
        min-height: 12;
    }
    """

    def __init__(self, sweep_id: str):
        super().__init__()
        self.sweep_id = sweep_id
        self.report: dict | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"sweep {self.sweep_id}", id="title")
        yield Static("reading the sweep ...", id="sweep-best", markup=False)
        with VerticalScroll(id="sweep-body"):
            with Vertical(id="sweep-left"):
                yield SweepTrials(id="sweep-trials")
                yield Static("", id="sweep-importance", markup=False)
                yield TextPlot(id="sweep-curves")
            with Vertical(id="sweep-plots"):
                yield TextPlot(id="sweep-history")
                yield TextPlot(id="sweep-coordinates")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.set_class(self.app.size.width >= WIDE, "-wide")
        self.follow()

    def on_resize(self) -> None:
        self.set_class(self.app.size.width >= WIDE, "-wide")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The page keys only where the screen scrolls (narrower than WIDE)."""
        return not (action == "page" and self.has_class("-wide"))

    @work(thread=True, exclusive=True, group="sweep")
    def follow(self) -> None:
        """Read the sweep once a second while the screen is seen; post it when it changed."""
        worker = get_current_worker()
        last = None
        while not worker.is_cancelled:
            if self.is_active or last is None:
                try:
                    said = self.app.source.sweep(self.sweep_id)
                except (OSError, ValueError, GenlabError) as e:  # (a sweep deleted or half written: said, read again)
                    said = {"error": str(e)}
                if said != last:
                    last = said
                    self.post_message(SweepRead(said))
            time.sleep(POLL_S)

    def on_sweep_read(self, message: SweepRead) -> None:
        said = self.report = message.report
        if "error" in said:
            self.query_one("#sweep-best", Static).update(f"this sweep cannot be read: {said['error']}")
            return
        self.query_one("#title", Static).update(self.heading(said))
        self.query_one("#sweep-best", Static).update(self.best_line(said))
        self.query_one(SweepTrials).show(said)
        self.query_one("#sweep-importance", Static).update("\n".join(sweep_plots.importance_lines(said["importance"],
                                                                                                  self.size.width or 80)))
        self.query_one("#sweep-history", TextPlot).show(
            (lambda w, h: sweep_plots.history(said, w, h, True)) if said["history"] else
            (lambda w, h: "history: no trial has completed yet"))
        self.query_one("#sweep-coordinates", TextPlot).show(
            (lambda w, h: sweep_plots.coordinates(said, w, h, True)) if len(said["coordinates"]["lines"]) > 1 else
            (lambda w, h: "parallel coordinates: two trials with an objective are needed"))
        self.query_one("#sweep-curves", TextPlot).show(
            (lambda w, h: sweep_plots.objective_curves(said, w, h, True)) if any(c["steps"] for c in said["curves"].values())
            else (lambda w, h: f"no trial has reported {said['objective']} yet"))

    def heading(self, said: dict) -> str:
        """The sweep in one line, as much as the width holds: the parts in order of importance."""
        c = said["counts"]
        better = "lower" if said["direction"] == "minimize" else "higher"
        done = c["complete"] + c["pruned"] + c["fail"]
        parts = [(0, f"sweep {said['id']}"), (1, str(said["state"])),
                 (2, f"{done} of {said['spec']['trials']} done, {c['running']} running"),
                 (3, f"objective {said['objective']} ({better} is better)"), (5, said["model"]), (6, said["search"]),
                 (4, f"{c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed")]
        room = (self.app.size.width or 200) - 2
        kept = []
        for priority, text in sorted(parts):
            if len(" · ".join(t for _, t in [*kept, (priority, text)])) <= room or not kept:
                kept.append((priority, text))
        order = [text for _, text in parts]
        return " · ".join(sorted((t for _, t in kept), key=order.index))

    @staticmethod
    def best_line(said: dict) -> str:
        best = said["best"]
        if best is None:
            return "best so far: no trial has completed yet"
        params = " ".join(f"{k}={sweep_plots.fmt(v)}" for k, v in best.get("params", {}).items())
        return f"best so far: trial {best['number']}, {said['objective']} {best['objective']:.4g} ({params})"

    def trial_runs(self) -> list[str]:
        """The trials' runs that exist, in trial order."""
        curves = (self.report or {}).get("curves", {})
        return sorted(curves, key=lambda run_id: curves[run_id]["number"])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        run_id = event.row_key.value
        if run_id in self.trial_runs():
            self.app.open_run(run_id)

    def action_compare(self) -> None:
        runs = self.trial_runs()
        if len(runs) < 2:
            self.notify("this sweep has fewer than two trials to compare yet", severity="warning")
            return
        self.app.open_comparison(runs)

    def action_page(self, way: int) -> None:
        body = self.query_one("#sweep-body", VerticalScroll)
        (body.scroll_page_down if way > 0 else body.scroll_page_up)(animate=False)  # (wide: all of it in view)

    def action_back(self) -> None:
        self.app.pop_screen()
