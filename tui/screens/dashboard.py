"""One run's dashboard: the curves its model declares, the newest samples, status and events.

A thread worker polls the run directory (genlab.run.follow) once a second and posts a snapshot
when something changed, with the curves every few seconds (as often as a plot redraws: the
cockpit shares the machine with the training it shows); the widgets only draw. Keys drive the
run through its control channel; quitting or leaving never touches the run.

Where the terminal has room for every curve pane at PANE_ROWS rows, all are shown, the class
histogram or latent map under the samples. Below that (80x24), the dashboard is compact: one
pane at a time, named in a line of tabs (tab, shift+tab and 1-9 switch), the samples beside a
curve pane, the class histogram and latent map on pages of their own; a one-line status; the
event log's two newest lines.
"""

from __future__ import annotations

import os
import threading
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import get_current_worker

from genlab import view
from genlab.run.pace import UpdatePace
from genlab.run.sinks import counted
from genlab.run.state import RunState
from tui.messages import ActionFailed, RunUpdated
from tui.screens.confirm import Confirm
from tui.screens.pane_turns import PaneTurns, pane_bindings
from tui.screens.toggles import CurveToggles
from tui.screens.verdict import VerdictDetails
from tui.widgets.class_histogram import ClassHistogram
from tui.widgets.curves import CurvesPlot
from tui.widgets.event_log import EventLog
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.latent_map import LatentMap
from tui.widgets.pane_tabs import PaneTabs
from tui.widgets.samples import SamplesPane
from tui.widgets.status_bar import StatusBar

POLL_S = 1.0  # status, samples and events: one update a second
CURVES_S = CurvesPlot.MIN_INTERVAL_S  # curves: as often as a plot may redraw

class Dashboard(PaneTurns, CurveToggles, Screen):
    BINDINGS = [  # description: the footer's short form; tooltip: its long one, on a wide terminal
        Binding("p", "pause_resume", "pause", tooltip="pause/resume"),
        ("s", "stop_run", "stop"),
        ("r", "resume_run", "resume"),
        ("n", "app.new_run", "new run"),
        *pane_bindings("next pane"),  # while the panes take turns (tui/screens/pane_turns.py)
        Binding("l", "toggle_log", "log", tooltip="log scale"),
        Binding("e", "toggle_smooth", "smooth", tooltip="smoothing"),
        Binding("a", "toggle_ascii", "ascii", tooltip="ASCII"),
        ("t", "edit_tags", "tags"),
        ("f", "fork", "fork"),  # at the step the samples history shows (tui/screens/fork_form.py)
        Binding("h", "health", "health", tooltip="training health"),  # the whole verdict the status line sums up
        # the samples' history and walks (in README's keys table and the samples pane's
        # subtitle; kept out of a full footer)
        Binding("left", "history('back')", "older samples", show=False, priority=True),
        Binding("right", "history('on')", "newer samples", show=False, priority=True),
        Binding("home", "history('first')", "first samples", show=False, priority=True),
        Binding("end", "history('newest')", "newest samples", show=False, priority=True),
        Binding("i", "walks", "latent walks", show=False),  # said in the samples pane's subtitle
        ("escape", "back", "runs"),
        Binding("q", "app.quit", "quit", tooltip="quit (runs keep running)"),
    ]
    NARROW_KEYS = {"p", "s", "r", "tab", "l", "e", "escape", "q"}  # the footer's keys under 120 columns

    log_scale = reactive(False)
    smooth = reactive(False)
    ascii = reactive(False)

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id
        self.snapshot = None
        self.newest = None  # the newest update's snapshot (``snapshot`` once its panes show it)
        self.plot_columns = 0  # read by the worker: curves need no more buckets than columns (set on mount)
        self.browsing: int | None = None  # the index of the sample grid shown, when not the newest
        self.curves_wanted = False  # set to have the worker send curves with its next update
        self.walking = False  # latent walks are in the samples pane (until a history key)
        self.walk_seed = 0  # each `i` draws new walks
        self.compact = False  # one pane at a time (see the module's docstring)
        self.first_pane = 0  # the pane shown when compact
        self.curves_drawn = threading.Event()  # set once the first curves are on screen (the worker waits)

    def compose(self) -> ComposeResult:
        shows = self.shows = view.read(self.app.source.root / self.run_id)  # what the run's model declares
        # arranged for the terminal before the panes are styled (a class set later styles them all again)
        self.compact = self.too_small(self.app.size.height, len(shows.panes))
        self.set_class(self.compact, "-compact", update=False)
        self.add_class("-arranged", update=False)
        yield StatusBar(id="status")
        yield PaneTabs(id="tabs")
        with Horizontal(id="main"):
            with Vertical(id="curves"):
                for i, pane in enumerate(shows.panes):
                    yield CurvesPlot(pane.title, list(pane.train), list(pane.held_out), id=f"plot{i}")
            with Vertical(id="samples-column"):
                keys = "← → history" + (" · i latent walks" if shows.walks else "")
                yield SamplesPane(shows.sample_classes, hint=keys, id="samples")
                if shows.class_histogram:
                    captions = tuple(filter(None, map(shows.metric, shows.class_histogram)))
                    yield ClassHistogram(captions, id="classes")
        yield EventLog(id="events")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.ascii = "NO_COLOR" in os.environ
        self.plot_columns = self.app.size.width  # (known before any layout: the first curves fit)
        self.place_panes()
        self.follow()

    @work(thread=True, exclusive=True, group="follow")
    def follow(self) -> None:
        worker = get_current_worker()
        source = self.app.source
        follower = source.follower(self.run_id)
        seen, pace = -1, UpdatePace(CURVES_S)  # (curves held back go out once due: a run's end is drawn)
        while not worker.is_cancelled:
            view = follower.poll()  # never raises: whatever a broken directory holds, the cockpit carries on
            # (wanted: after a resize, curves of the new width, even for a run that no longer changes)
            curves = pace.update(view.version != seen or self.curves_wanted, time.monotonic(), wanted=self.curves_wanted)
            if curves is not None:
                seen = view.version
                if curves:
                    self.curves_wanted = False
                self.post_message(RunUpdated(source.snapshot(follower, max_buckets=self.plot_columns, curves=curves)))
            if follower.owed is not None:  # a long run just opened: its health once its curves are on screen
                self.curves_drawn.wait(POLL_S)
            else:
                time.sleep(POLL_S)

    # ---- the panes: all of them where there is room, else one at a time
    PANE_ROWS = 13  # a curve pane's least height shown with others: 8 plot rows, title, frame, axis
    CHROME_ROWS = 10  # a full dashboard's status (3: state, figures, verdict), event log (6) and footer (1)

    def pages(self) -> list[Widget]:
        """The panes a compact dashboard shows one at a time: the curve panes, then the samples
        column's others (a GAN's class histogram, a VAE's latent map)."""
        return [*self.query(CurvesPlot), *self.query(ClassHistogram), *self.query(LatentMap)]

    def place_panes(self) -> None:
        """Show every pane, or (compact) the current page's: a curve pane beside the samples, or
        a page of the samples column across the width. Latent walks keep the samples pane."""
        if not self.query(SamplesPane):  # (the screen can mount before its nested panes on a loaded
            self.call_after_refresh(self.place_panes)  # machine: placed once they are)
            return
        pages = self.pages()
        self.first_pane %= max(1, len(pages))
        current = pages[self.first_pane] if pages else None
        side = self.compact and not self.walking and not isinstance(current, CurvesPlot)
        for pane in pages:
            pane.display = not self.compact or pane is current
        self.query_one(SamplesPane).display = not side
        self.set_class(side, "-side-page")
        self.set_class(self.compact, "-compact")
        self.query_one(StatusBar).set_compact(self.compact)
        tabs = self.query_one(PaneTabs)
        tabs.display = self.compact
        tabs.show([self.pane_title(p) for p in pages], self.first_pane)

    @staticmethod
    def pane_title(pane: Widget) -> str:
        return pane.title_text if isinstance(pane, CurvesPlot) else str(pane.border_title or "").split(" · ")[0]

    def pane_count(self) -> int:
        return len(self.pages())

    def panes_at_once(self) -> int:
        return 1 if self.compact else self.pane_count()

    def past_the_last(self, n: int) -> str:
        return f"this dashboard has {counted(n, 'pane')}"

    def show_panes(self) -> None:
        self.stop_walking()  # (places the panes)
        self.curves_wanted = True  # the pane shown may have missed updates while hidden

    def too_small(self, height: int, panes: int) -> bool:
        """Whether ``panes`` curve panes do not all fit in ``height`` rows (compact: one at a time)."""
        return height - self.CHROME_ROWS < self.PANE_ROWS * panes

    def on_resize(self) -> None:
        if not self.is_mounted:  # (a resize before its panes are mounted: on_mount places them)
            return
        compact = self.too_small(self.size.height, len(self.query(CurvesPlot)))
        if compact != self.compact or not self.has_class("-arranged"):
            self.compact = compact
            self.add_class("-arranged")
            self.place_panes()
            self.refresh_bindings()
        if self.size.width != self.plot_columns:  # curves of as many buckets as the terminal has columns
            self.plot_columns = self.size.width  # (a plot is narrower; its braille has two dots a column)
            self.curves_wanted = True

    async def on_run_updated(self, message: RunUpdated) -> None:
        snap = self.newest = message.snapshot
        self.query_one(StatusBar).show(snap)
        if snap.curves is not None:
            for plot in self.query(CurvesPlot):
                plot.show(snap)
            if not self.curves_drawn.is_set():  # the first curves: on screen first, the other panes just after
                self.call_after_refresh(self.curves_drawn.set)
                self.call_after_refresh(self.show_others, snap)
                return
        await self.show_others(snap)

    async def show_others(self, snap) -> None:
        """The snapshot's samples, class histogram, latent map and events; then it is the
        dashboard's ``snapshot`` (what its keys act on)."""
        if snap is not self.newest:
            return  # (a newer one came first: it shows them)
        self.snapshot = snap
        if snap.latent is not None:  # a VAE's latent map: its pane appears with the first one
            maps = list(self.query(LatentMap))
            if not maps:
                maps = [LatentMap(id="latent")]
                await self.query_one("#samples-column").mount(maps[0])
                self.place_panes()  # a page of its own when compact
            maps[0].show(snap.latent)
        if self.browsing is None and not self.walking:  # an older grid or walks stay until End
            self.query_one(SamplesPane).show(snap.sample, snap.sample_step)
            for hist in self.query(ClassHistogram):
                hist.show(snap.class_hist, snap.evals)
        for hist in self.query(ClassHistogram):
            hist.show_cas(snap.cas)
        self.query_one(EventLog).show(snap.events)

    # ---- the samples' history: Left/Right step through the saved grids, Home/End jump
    def action_history(self, where: str) -> None:
        self.stop_walking()
        grids = sorted(self.snapshot.grids) if self.snapshot else []
        if not grids:
            self.notify("no sample grid saved yet", severity="warning")
            return
        last = len(grids) - 1
        at = last if self.browsing is None else self.browsing
        at = {"back": at - 1, "on": at + 1, "first": 0, "newest": last}[where]
        at = max(0, min(last, at))
        self.browsing = None if at == last else at
        step, npy = grids[at]
        images = self.snapshot.sample if at == last and self.snapshot.sample is not None else self.app.source.grid(self.run_id, npy)
        if images is None:
            self.notify(f"the grid of step {step:,} cannot be read", severity="warning")
            return
        self.query_one(SamplesPane).show(images, step, "" if at == last else f"{at + 1} of {len(grids)}")
        hists = self.snapshot.class_hists
        for pane in self.query(ClassHistogram):  # the quality check nearest that grid
            if hists:
                hist_step, hist = min(hists, key=lambda h: abs(h[0] - step))
                evals = {k: [(s, v) for s, v in pts if s <= hist_step] or pts[:1] for k, pts in self.snapshot.evals.items()}
                pane.hist = None
                pane.show(hist, evals)

    # ---- latent walks: `i` draws rows that walk between random latent points (GANs, VAEs)
    def action_walks(self) -> None:
        if self.has_class("-side-page"):  # the walks take the samples pane, beside no curves
            self.first_pane = 0
        if not self.shows.walks:
            model = (self.snapshot.config.get("model") if self.snapshot else None) or "this model"
            self.say(f"{model} has no latent space to walk: GANs and VAEs have")
            return
        self.walking = True
        self.add_class("-walking")
        self.place_panes()  # the pane takes the curves' width (its border aside)
        rows, steps = self.query_one(SamplesPane).walk_shape(width=self.query_one("#main").size.width - 2)
        self.say(f"drawing {rows} latent walks of {steps} digits from the newest checkpoint…")
        self.draw_walks(rows, steps, self.walk_seed)
        self.walk_seed += 1

    @work(thread=True, exclusive=True, group="walks")
    def draw_walks(self, rows: int, steps: int, seed: int) -> None:
        try:
            images, step = self.app.source.walks(self.run_id, rows, steps, seed)
        except Exception as e:  # report, never crash the cockpit
            self.post_message(ActionFailed(f"latent walks failed: {e}"))
            self.app.call_from_thread(self.stop_walking)
            return
        self.app.call_from_thread(self.show_walks, images, step, steps, seed)

    def stop_walking(self) -> None:
        self.walking = False
        self.remove_class("-walking")
        self.place_panes()

    def show_walks(self, images, step: int | None, steps: int, seed: int) -> None:
        if not self.walking:  # a history key came first: the samples stay
            return
        self.browsing = None
        self.query_one(SamplesPane).show_walks(images, step, steps, f"spherical, seed {seed}")

    def on_action_failed(self, message: ActionFailed) -> None:
        message.stop()
        self.query_one(EventLog).note(f"⚠ {message.text}")
        self.notify(message.text, severity="error")

    # ---- toggles
    def action_toggle_ascii(self) -> None:
        self.ascii = not self.ascii

    def watch_ascii(self, value: bool) -> None:
        for pane in self.query(SamplesPane):  # (none while the run has no view yet: a run starting)
            pane.ascii = value

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_edit_tags(self) -> None:
        self.app.edit_tags(self.run_id)

    def action_fork(self) -> None:
        """The fork form, at the checkpoint at or before the samples shown (else the newest)."""
        from tui.screens.fork_form import ForkForm, fork_step

        points = self.app.source.fork_points(self.run_id)
        config = self.snapshot.config if self.snapshot else {}
        if not points:
            every = config.get("checkpoint_every_s")
            minutes = f"{every / 60:g} minutes" if isinstance(every, (int, float)) else "few minutes"
            self.say(f"no checkpoint kept yet: a run keeps one every {minutes}")
            return
        grids = sorted(self.snapshot.grids) if self.snapshot else []
        shown = grids[self.browsing][0] if self.browsing is not None and self.browsing < len(grids) else None

        def forked(run_id: str | None) -> None:
            if run_id:
                self.app.notify(f"forked {self.run_id} as {run_id}")
                self.app.open_run(run_id)

        self.app.push_screen(ForkForm(self.run_id, points, fork_step(points, shown), config.get("lr")), forked)

    def action_health(self) -> None:
        """The run's verdict in full: its explanation, evidence and every cure."""
        health = self.snapshot.health if self.snapshot else None
        if health is None:
            self.say("the run's health is not judged yet")
        else:
            self.app.push_screen(VerdictDetails(self.run_id, health))

    # ---- run control
    @property
    def state(self) -> str:
        return self.snapshot.state if self.snapshot else "unknown"

    def say(self, text: str) -> None:
        self.query_one(EventLog).note(text)
        self.notify(text)

    def action_pause_resume(self) -> None:
        state = RunState.of(self.state)  # what each state allows: genlab.run.state, as for genlab pause|resume|stop
        if state.can_pause:
            self.app.source.send(self.run_id, "pause")
            self.say("pause requested: the run pauses at its next step")
        elif state.resumes_in_place:
            self.app.source.send(self.run_id, "resume")
            self.say("resume requested")
        else:
            self.say(f"the run is {self.state}: nothing to pause" + ("; r resumes it" if state.can_resume else ""))

    def action_stop_run(self) -> None:
        if not RunState.of(self.state).can_stop:
            self.say(f"the run is {self.state}: nothing to stop")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.source.send(self.run_id, "stop")
                self.say("stop requested: the run writes a checkpoint and exits")

        self.app.push_screen(Confirm(f"Stop run {self.run_id}? It can be resumed later."), answered)

    def action_resume_run(self) -> None:
        state = RunState.of(self.state)
        if state.resumes_in_place:
            self.action_pause_resume()
        elif state.resumes_from_checkpoint:  # (a finished run only to a longer length: genlab resume says so)
            self.say("resuming from the newest good checkpoint…")
            self.resume_detached()
        else:
            self.say(f"the run is {self.state}: r resumes paused, stopped, crashed or failed runs")

    @work(thread=True, group="resume")
    def resume_detached(self) -> None:
        try:
            line = self.app.source.resume(self.run_id)
        except Exception as e:  # report, never crash the cockpit
            self.post_message(ActionFailed(f"resume failed: {e}"))
            return
        self.app.call_from_thread(self.say, line)
