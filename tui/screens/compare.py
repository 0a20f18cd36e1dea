"""Runs side by side: the metrics they share overlaid, each run's newest samples and (GANs)
class histogram, and a table ranking them by their quality figure.

Each run is named by its label (genlab/run/labels.py: ``#3 lr=0.001``) and drawn in its colour
on every pane: its curves and legend, its grid's and histogram's titles, its ranking row. Runs
that differ only in their seed are one group (genlab/run/seed_groups.py), in one colour: one
curve, the mean of theirs between the dotted lines of its min–max band (smoothing, ``e``,
smooths each run before the mean; log scale, ``l``, and the x axis, ``x``, apply to the band as to
the line), and one ranking row with the mean ± std (min–max) of its figures and how many seeds. As
many curve panes as the screen holds (one under COMPACT_BELOW rows, named in a line of tabs as on
a dashboard, else up to MAX_PANES); tab, shift+tab and 1-9 turn to the others when the runs share
more metrics than that.

A thread worker follows every run (genlab.run.follow, through tui.source.Comparison) once a
second and posts a snapshot; curves every few seconds, as on a dashboard. Enter on a run opens
its dashboard, Esc comes back; quitting never touches a run.
"""

from __future__ import annotations

import threading
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from genlab.run import compare, vitals
from genlab.run.pace import UpdatePace
from genlab.run.sinks import counted
from tui.messages import CompareUpdated
from tui.screens.pane_turns import PaneTurns, pane_bindings
from tui.screens.toggles import CurveToggles
from tui.widgets.class_histogram import ClassHistogram
from tui.widgets.curves import CurvesPlot
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.pane_tabs import PaneTabs
from tui.widgets.ranking import RankingTable
from tui.widgets.samples import SamplesPane

POLL_S = 1.0
CURVES_S = CurvesPlot.MIN_INTERVAL_S
MAX_PANES = 3  # curve panes at most (one below COMPACT_BELOW rows)
GRID_MIN_WIDTH = 16  # a sample pane needs this many columns: fewer grids on a narrow screen


def legend_width(columns: int) -> int:
    """Characters of a run's label in a legend on a screen this wide: what its curve pane (three
    fifths of the screen, less the axis) holds beside the legend's marks, 28 at 80 columns."""
    return max(20, min(60, columns * 3 // 5 - 20))


class CompareScreen(PaneTurns, CurveToggles, Screen):
    BINDINGS = [  # description: the footer's short form; tooltip: its long one, on a wide terminal
        ("x", "toggle_x", "step/time"),
        Binding("l", "toggle_log", "log", tooltip="log scale"),
        Binding("e", "toggle_smooth", "smooth", tooltip="smoothing"),
        # the panes' keys, as on a dashboard: bound only while some metric has no pane
        *pane_bindings("next panes"),
        Binding("v", "toggle_vitals", "vitals", tooltip="vital signs"),
        ("escape", "back", "runs"),
        Binding("q", "app.quit", "quit", tooltip="quit (runs keep running)"),
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
        self.plot_columns = 0  # the curve panes' width, once laid out: no curves built before
        self.curves_wanted = False
        self.first_pane = 0  # the metric (or vital sign) in the first curve pane
        self.overlays = None  # the newest overlays drawn, for panes that change what they show
        self.curves_drawn = threading.Event()  # set once the first curves are on screen (the worker waits)

    def compose(self) -> ComposeResult:
        self.comparison = self.app.source.comparison(self.run_ids, legend_width(self.app.size.width))
        yield Static(self.heading(), id="compare-title")
        yield Static("", id="compare-warning", markup=False)  # why the comparison is not fair (one line)
        with Horizontal(id="compare-main"):
            with Vertical(id="compare-curves"):
                yield PaneTabs(id="compare-tabs")
                yield from self.curve_panes()
            with Vertical(id="compare-side"):
                room = self.grid_room(self.app.size.width * 2 // 5)  # (laid out: on_resize says again)
                with Horizontal(id="compare-grids"):
                    for i, label in enumerate(self.comparison.named):
                        grid = SamplesPane(self.comparison.views[i].sample_classes, title=label.name, id=f"grid{i}")
                        grid.display = i < room
                        yield grid
                with Horizontal(id="compare-hists"):
                    for i, shows in enumerate(self.comparison.views):
                        if shows.class_histogram:
                            hist = ClassHistogram((), title=self.comparison.named[i].name, id=f"hist{i}")
                            hist.display = i < room
                            yield hist
        yield RankingTable(self.comparison.group_named, id="ranking")  # (a run's own where no seed groups)
        yield KeysFooter()

    def all_panes(self) -> list[tuple[str, bool]]:
        """(metric or vital sign, held out) of every curve pane there is to show."""
        if self.vital_signs:
            return [(key, False) for key in self.comparison.vital_signs()]
        return self.comparison.metrics

    def room(self) -> int:
        """How many curve panes the screen shows at once."""
        return 1 if self.size.height and self.size.height < self.COMPACT_BELOW else MAX_PANES

    def panes(self) -> list[tuple[str, bool]]:
        """(metric or vital sign, held out) of each curve pane shown, in order."""
        return self.all_panes()[self.first_pane:self.first_pane + self.room()]

    def curve_panes(self):
        labels, colours = self.comparison.labels, self.comparison.colours
        for i, (metric, held_out) in enumerate(self.all_panes()[:MAX_PANES]):
            yield CurvesPlot(self.pane_title(metric), [] if held_out else labels, labels if held_out else [],
                             colours=colours, id=f"cplot{i}")
        if not self.all_panes():
            yield Static("no vital signs recorded yet (a run writes them every few seconds)" if self.vital_signs else
                         "these runs share no metric: compare their samples, quality and speed", id="compare-none")

    async def action_toggle_vitals(self) -> None:
        """Swap the curve panes: the runs' metrics, or their vital signs (CPU, memory, GPU)."""
        self.vital_signs = not self.vital_signs
        self.first_pane, self.overlays = 0, None
        box = self.query_one("#compare-curves")
        await box.remove_children(CurvesPlot)
        await box.remove_children("#compare-none")
        await box.mount_all(list(self.curve_panes()))
        for plot in box.query(CurvesPlot):
            plot.log_scale, plot.smooth = self.log_scale, self.smooth
            plot.x_label = "step" if self.x_axis == "step" else "minutes"
        self.curves_wanted = True
        self.call_after_refresh(self.on_resize)
        self.query_one("#compare-title", Static).update(self.heading())

    def pane_count(self) -> int:
        return len(self.all_panes()) if hasattr(self, "comparison") else 0

    def panes_at_once(self) -> int:
        return self.room()

    def past_the_last(self, n: int) -> str:
        return (f"these runs have {counted(n, 'vital sign')} recorded" if self.vital_signs else
                f"these runs share {counted(n, 'metric')}")

    def show_panes(self) -> None:
        self.assign_panes()

    def assign_panes(self) -> None:
        """Each curve pane shown its metric (from the first, ``first_pane``), the others hidden;
        a pane that changes metric draws at once from the newest overlays."""
        shown = self.panes()
        for i, plot in enumerate(self.query(CurvesPlot)):
            plot.display = i < len(shown)
            if i >= len(shown):
                continue
            metric, held_out = shown[i]
            title = self.pane_title(metric)
            if plot.title_text != title:
                plot.title_text = title
                labels = self.comparison.labels
                plot.metrics, plot.eval_metrics = ([], list(labels)) if held_out else (list(labels), [])
                plot.snapshot, plot.next_draw = None, 0.0
                overlay = (self.overlays or {}).get(metric)
                if overlay is not None:
                    plot.show(overlay)
                else:
                    plot.replot()
        tabs = self.query_one(PaneTabs)
        tabs.display = self.room() == 1 and len(self.all_panes()) > 1
        tabs.show([self.pane_title(metric) for metric, _ in self.all_panes()], self.first_pane)
        self.query_one("#compare-title", Static).update(self.heading())
        self.refresh_bindings()

    def heading(self) -> str:
        """What is compared, as much as the width holds: the parts in order of importance."""
        c = self.comparison
        n, shown = len(self.all_panes()), len(self.panes())
        groups = f" in {counted(len(c.groups), 'seed group')}" if c.seeded else ""  # (a group: runs differing only in their seed)
        parts = [(0, f"comparing {len(self.run_ids)} runs{groups}" + (" · vital signs" if self.vital_signs else ""))]
        if n > shown > 1:  # (one at a time: named in the line of tabs)
            last = self.first_pane + shown
            parts.append((2, f"panes {self.first_pane + 1}-{last} of {n} (tab: more)"))
        if c.differs:
            parts.append((3, "differ: " + ", ".join(c.differs)))
        parts.append((4, f"x: {'step' if self.x_axis == 'step' else 'minutes'}"))
        parts.append((5, "Enter opens a run"))
        room = (self.size.width or 200) - 2
        kept = []
        for priority, text in sorted(parts):
            if len(" · ".join(t for _, t in sorted([*kept, (priority, text)]))) <= room or not kept:
                kept.append((priority, text))
        order = [text for _, text in parts]
        return " · ".join(sorted((t for _, t in kept), key=order.index))

    def pane_title(self, metric: str) -> str:
        vital = next((f for f in vitals.FIELDS if f[0] == metric), None)
        if self.vital_signs and vital:
            return f"{vital[1]}, {vital[2]}" + (" (100 = one core)" if metric == "cpu_percent" else "")
        m = next((v.metric(metric) for v in self.comparison.views if v.metric(metric)), None)
        unit = f", {m.unit}" if m is not None and m.unit and m.unit != "%" else ""
        better = {True: " (lower is better)", False: " (higher is better)"}.get(m.lower_is_better if m else None, "")
        return f"{metric}{unit}{better}"

    def on_mount(self) -> None:
        self.warn([self.comparison.not_comparable] if self.comparison.not_comparable else [])
        self.follow()

    def warn(self, warnings: list[str]) -> None:
        """The warning line: why these runs are not a fair comparison (genlab.run.compare.comparability)."""
        line = self.query_one("#compare-warning", Static)
        line.update("⚠ " + " · ".join(warnings) if warnings else "")
        line.display, line.tooltip = bool(warnings), "\n".join(warnings) or None  # (whole, where the line is cut)

    @work(thread=True, exclusive=True, group="compare")
    def follow(self) -> None:
        worker = get_current_worker()
        first, pace = True, UpdatePace(CURVES_S)  # (curves held back go out once due: the runs' ends are drawn)
        patience = time.monotonic() + 5 * POLL_S  # long runs just opened: their curves first, then their health
        while not worker.is_cancelled:
            curves_first = self.comparison.owed and not self.curves_drawn.is_set() and time.monotonic() < patience
            changed = False if curves_first else self.comparison.poll()  # (a poll now would judge their health)
            curves = pace.update(changed or first or self.curves_wanted, time.monotonic(), wanted=self.curves_wanted,
                                 ready=self.plot_columns > 0)  # (no curves before the panes are laid out)
            if curves is not None:
                if curves:
                    self.curves_wanted = False
                self.post_message(CompareUpdated(self.comparison.snapshot(
                    self.x_axis, max_buckets=self.plot_columns, curves=curves, vital_signs=self.vital_signs)))
                first = False
            if self.comparison.owed:  # (their curves sent once laid out; their health once those are on screen)
                self.curves_drawn.wait(0.02)
            else:
                time.sleep(POLL_S)

    def on_resize(self) -> None:
        compact = self.size.height < self.COMPACT_BELOW
        self.first_pane -= self.first_pane % self.room()
        self.assign_panes()
        side = self.query("#compare-side")
        room = self.grid_room(side.first().size.width if side else self.size.width // 2)
        for i, grid in enumerate(self.query(SamplesPane)):
            grid.display = i < room
        hists = list(self.query(ClassHistogram))
        for hist in hists:  # (a run's histogram under its grid: as many as there are grids)
            hist.display = not compact and int(hist.id.removeprefix("hist")) < room
        for box in self.query("#compare-hists"):
            box.display = bool(hists) and not compact
        self.call_after_refresh(self.laid_out)

    @staticmethod
    def grid_room(width: int) -> int:
        """How many runs' sample grids (and class histograms) a side column this wide shows."""
        return max(1, width // GRID_MIN_WIDTH)

    def laid_out(self) -> None:
        """Once the panes have their sizes: curves built as wide as their panes, titles fitted."""
        plots = [p for p in self.query(CurvesPlot) if p.display]
        self.plot_columns = max(20, plots[0].size.width) if plots else 200
        self.curves_wanted = True
        self.fit_titles()

    def run_panes(self, i: int) -> list:
        """Run ``i``'s sample grid and class histogram (the one it has)."""
        if not hasattr(self, "_run_panes"):  # (found once: a query a run, each update, adds up over 16 runs)
            panes: dict = {}
            for pane in [*self.query(SamplesPane), *self.query(ClassHistogram)]:
                panes.setdefault(int(pane.id.removeprefix("grid").removeprefix("hist")), []).append(pane)
            self._run_panes = panes
        return self._run_panes.get(i, [])

    def fit_titles(self) -> None:
        """Each grid's and histogram's title: its run's label in the room its pane has, in the
        run's colour."""
        for i, label in enumerate(self.comparison.named):
            for pane in self.run_panes(i):
                if not pane.display:
                    continue
                pane.styles.border_title_color = Color(*label.colour)
                if isinstance(pane, SamplesPane):
                    title = label.fit(max(2, pane.outer_size.width - 6))  # (corners, dashes and spaces)
                    if pane.title != title:
                        pane.title = title
                        pane.redraw()
                else:
                    pane.border_title = self.hist_title(i, pane)

    def hist_title(self, i: int, hist: ClassHistogram) -> str:
        """The run's name and its class histogram's figures, else as much of its label as fits."""
        label, room = self.comparison.named[i], max(2, hist.outer_size.width - 6)
        run = self.snapshot.runs[i] if self.snapshot is not None and i < len(self.snapshot.runs) else None
        title = f"{label.name} · {run.class_captions}" if run is not None and run.class_captions else label.text
        return title if len(title) <= room else label.fit(room)

    def on_compare_updated(self, message: CompareUpdated) -> None:
        snap = self.snapshot = message.snapshot
        self.query_one("#compare-title", Static).update(self.heading())
        self.warn(compare.comparability(snap.runs, {label.run_id: label.name for label in self.comparison.named}))
        if snap.overlays is not None:
            self.overlays = snap.overlays
            for plot, (metric, _) in zip(self.query(CurvesPlot), self.panes()):
                overlay = snap.overlays.get(metric)
                if overlay is not None:
                    if plot.snapshot is None:
                        plot.next_draw = 0.0  # its first curves: drawn at once, not paced
                    plot.show(overlay)
            if not self.curves_drawn.is_set():
                self.call_after_refresh(self.curves_on_screen)
        for i, run in enumerate(snap.runs):
            for pane in self.run_panes(i):
                if isinstance(pane, SamplesPane):
                    pane.show(run.sample, run.sample_step)
                elif run.class_hist and run.class_hist != pane.hist:
                    pane.draw(run.class_hist, self.hist_title(i, pane))
        self.query_one(RankingTable).show(self.comparison.ranking_rows(snap.runs))
        self.fit_titles()  # (the panes have their sizes by now)

    def curves_on_screen(self) -> None:
        """Tell the worker once every curve pane shown has drawn its first curves (then it polls
        again, judging the runs' health)."""
        if all(p.drawn is not None for p in self.query(CurvesPlot) if p.display):
            self.curves_drawn.set()
        else:
            self.set_timer(0.02, self.curves_on_screen)

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
