"""Runs side by side: the metrics they share overlaid, one colour a run, each run's newest
samples and (GANs) class histogram, and a table ranking them by their key metric.

A thread worker follows every run (genlab.run.follow, through tui.source.Comparison) once a
second and posts a snapshot; curves every few seconds, as on a dashboard. Enter on a run opens
its dashboard, Esc comes back; quitting never touches a run.
"""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from genlab.run import vitals
from genlab.run.follow import UpdatePace
from tui.messages import CompareUpdated
from tui.screens.toggles import CurveToggles
from tui.widgets.class_histogram import ClassHistogram
from tui.widgets.curves import CurvesPlot
from tui.widgets.ranking import RankingTable
from tui.widgets.samples import SamplesPane

POLL_S = 1.0
CURVES_S = CurvesPlot.MIN_INTERVAL_S
MAX_PANES = 3  # curve panes at most (one below COMPACT_BELOW rows)
GRID_MIN_WIDTH = 16  # a sample pane needs this many columns: fewer grids on a narrow screen


class CompareScreen(CurveToggles, Screen):
    BINDINGS = [
        ("x", "toggle_x", "step/time"),
        ("l", "toggle_log", "log scale"),
        ("e", "toggle_smooth", "smoothing"),
        Binding("v", "toggle_vitals", "vital signs", show=False),  # said in the heading: the footer is full
        ("escape", "back", "runs"),
        ("q", "app.quit", "quit (runs keep running)"),
    ]

    log_scale = reactive(False)
    smooth = reactive(False)
    x_axis = reactive("step")
    vital_signs = False  # the curve panes show the runs' vital signs instead of their metrics

    COMPACT_BELOW = 34  # rows: under this, one curve pane and no class histograms

    def __init__(self, run_ids: list[str]):
        super().__init__()
        self.run_ids = list(run_ids)
        self.snapshot = None
        self.plot_columns = 200
        self.curves_wanted = False

    def compose(self) -> ComposeResult:
        self.comparison = self.app.source.comparison(self.run_ids)
        yield Static(self.heading(), id="compare-title")
        with Horizontal(id="compare-main"):
            with Vertical(id="compare-curves"):
                yield from self.curve_panes()
            with Vertical(id="compare-side"):
                with Horizontal(id="compare-grids"):
                    for i, _ in enumerate(self.run_ids):
                        yield SamplesPane(self.comparison.views[i].sample_classes, title=self.run_ids[i], id=f"grid{i}")
                with Horizontal(id="compare-hists"):
                    for i, shows in enumerate(self.comparison.views):
                        if shows.class_histogram:
                            yield ClassHistogram((), title=self.run_ids[i], id=f"hist{i}")
        yield RankingTable(id="ranking")
        yield Footer()

    def panes(self) -> list[tuple[str, bool]]:
        """(metric or vital sign, held out) of each curve pane."""
        if self.vital_signs:
            return [(key, False) for key in self.comparison.vital_signs()[:MAX_PANES]]
        return self.comparison.metrics[:MAX_PANES]

    def curve_panes(self):
        labels = self.comparison.labels
        for i, (metric, held_out) in enumerate(self.panes()):
            yield CurvesPlot(self.pane_title(metric), [] if held_out else labels, labels if held_out else [],
                             id=f"cplot{i}")
        if not self.panes():
            yield Static("no vital signs recorded yet (a run writes them every few seconds)" if self.vital_signs else
                         "these runs share no metric: compare their samples, quality and speed", id="compare-none")

    async def action_toggle_vitals(self) -> None:
        """Swap the curve panes: the runs' metrics, or their vital signs (CPU, memory, GPU)."""
        self.vital_signs = not self.vital_signs
        box = self.query_one("#compare-curves")
        await box.remove_children()
        await box.mount_all(list(self.curve_panes()))
        for plot in box.query(CurvesPlot):
            plot.log_scale, plot.smooth = self.log_scale, self.smooth
            plot.x_label = "step" if self.x_axis == "step" else "minutes"
        self.curves_wanted = True
        self.call_after_refresh(self.on_resize)
        self.query_one("#compare-title", Static).update(self.heading())

    def heading(self) -> str:
        return (f"comparing {len(self.run_ids)} runs{' · vital signs' if self.vital_signs else ''} · "
                f"x: {'step' if self.x_axis == 'step' else 'minutes'} · Enter opens a run · v "
                + ("metrics" if self.vital_signs else "vital signs")
                + (f" · {self.comparison.not_comparable}" if self.comparison.not_comparable else ""))

    def pane_title(self, metric: str) -> str:
        vital = next((f for f in vitals.FIELDS if f[0] == metric), None)
        if self.vital_signs and vital:
            return f"{vital[1]}, {vital[2]}" + (" (100 = one core)" if metric == "cpu_percent" else "")
        m = next((v.metric(metric) for v in self.comparison.views if v.metric(metric)), None)
        unit = f", {m.unit}" if m is not None and m.unit and m.unit != "%" else ""
        better = {True: " (lower is better)", False: " (higher is better)"}.get(m.lower_is_better if m else None, "")
        return f"{metric}{unit}{better}"

    def on_mount(self) -> None:
        self.follow()

    @work(thread=True, exclusive=True, group="compare")
    def follow(self) -> None:
        worker = get_current_worker()
        first, pace = True, UpdatePace(CURVES_S)  # (curves held back go out once due: the runs' ends are drawn)
        while not worker.is_cancelled:
            changed = self.comparison.poll()
            curves = pace.update(changed or first or self.curves_wanted, time.monotonic(), wanted=self.curves_wanted)
            if curves is not None:
                if curves:
                    self.curves_wanted = False
                self.post_message(CompareUpdated(self.comparison.snapshot(
                    self.x_axis, max_buckets=self.plot_columns, curves=curves, vital_signs=self.vital_signs)))
                first = False
            time.sleep(POLL_S)

    def on_resize(self) -> None:
        compact = self.size.height < self.COMPACT_BELOW
        for i, plot in enumerate(self.query(CurvesPlot)):
            plot.display = i == 0 or not compact
        hists = list(self.query(ClassHistogram))
        for hist in hists:
            hist.display = not compact
        for box in self.query("#compare-hists"):
            box.display = bool(hists) and not compact
        side = self.query("#compare-side")
        width = side.first().size.width if side else self.size.width // 2
        room = max(1, width // GRID_MIN_WIDTH)
        for i, grid in enumerate(self.query(SamplesPane)):
            grid.display = i < room
        plots = list(self.query(CurvesPlot))
        if plots:
            self.plot_columns = max(20, plots[0].size.width)
            self.curves_wanted = True

    def on_compare_updated(self, message: CompareUpdated) -> None:
        snap = self.snapshot = message.snapshot
        self.query_one("#compare-title", Static).update(self.heading())
        if snap.overlays is not None:
            for plot, (metric, _) in zip(self.query(CurvesPlot), self.panes()):
                overlay = snap.overlays.get(metric)
                if overlay is not None:
                    plot.show(overlay)
        for i, run in enumerate(snap.runs):
            for grid in self.query(f"#grid{i}"):
                grid.show(run.sample, run.sample_step)
            for hist in self.query(f"#hist{i}"):
                if run.class_hist and run.class_hist != hist.hist:
                    title = run.run_id + (f" · {run.class_captions}" if run.class_captions else "")
                    if len(title) + 4 > hist.size.width:  # a narrow pane: the id alone, never a cut word
                        title = run.run_id
                    hist.draw(run.class_hist, title)
        self.query_one(RankingTable).show(snap.runs)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_run(event.row_key.value)

    # ---- toggles
    def action_toggle_x(self) -> None:
        self.x_axis = "time" if self.x_axis == "step" else "step"
        for plot in self.query(CurvesPlot):
            plot.x_label = "step" if self.x_axis == "step" else "minutes"
        self.curves_wanted = True
        self.query_one("#compare-title", Static).update(self.heading())

    def action_back(self) -> None:
        self.app.pop_screen()
