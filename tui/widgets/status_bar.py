"""One run's state at a glance: state, step of total, epoch, images/s, ETA, elapsed, device, data,
and while it runs the machine's vital signs (its CPU share and memory; on a GPU its use); under
that, once the run is judged, its training health: the verdict, its evidence and first cure."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widget import Widget

from genlab.run.sinks import fmt_duration, fmt_metrics, progress_text
from genlab.run.state import RunState, rank_trouble, slowest_rank
from genlab.run.vitals import line as vitals_line
from tui.widgets import verdict

COLOURS = {RunState.RUNNING: "green", RunState.PAUSED: "yellow", RunState.STOPPED: "cyan", RunState.FINISHED: "blue",
           RunState.CRASHED: "red", RunState.FAILED: "red", "deleted": "red", RunState.STARTING: "magenta",
           RunState.STALLED: "red", RunState.UNREADABLE: "red"}


class StatusBar(Widget):
    """Two lines (three with a verdict), more on a narrow terminal or with a problem to report;
    ``compact`` (a dashboard at 80x24) keeps the first line and the verdict, each cut to the
    width (the verdict as verdict.fitted cuts it), and the problems. It updates a few times a
    second, so it repaints only when its text changes, and asks for a new layout only when the
    number of lines it needs does."""

    DEFAULT_CSS = """
    StatusBar {
        height: 2;
        background: $boost;
        padding: 0 1;
    }
    """

    text = Text("starting…")
    head = Text("starting…")  # the first line: state, run, progress, speed, ETA
    alerts = Text()  # problems, each on a line of its own
    health = None  # the run's verdict (genlab.health.Verdict), once judged
    compact = False

    def render(self) -> Text:
        if not self.compact:
            return self.text
        head = self.head.copy()
        head.truncate(max(10, self.size.width - 2), overflow="ellipsis")
        if self.health is not None:  # (size: the content's, inside the padding)
            head += Text("\n") + verdict.fitted(self.health, max(10, self.size.width))
        return head + self.alerts

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.fit()
            self.refresh()

    def show(self, snap) -> None:
        st, cfg = snap.status, snap.config
        state = snap.state
        text = Text()
        text.append(f"● {state}", style=f"bold {COLOURS.get(state, 'white')}")
        total = cfg.get("total_steps") or st.get("total_steps") or 0
        script = cfg.get("source") == "script"  # genlab.init: no epochs, data or device of genlab's
        budget = cfg.get("max_minutes") * 60 if isinstance(cfg.get("max_minutes"), (int, float)) else None
        shown = progress_text(st.get("step", 0), total, st.get("elapsed_s"), budget, words=True) if total or budget \
            else f"step {st.get('step', 0):,}"
        text.append(f"  {snap.run_id}  {cfg.get('model', '?')}  {shown}")
        if state == RunState.RUNNING and st.get("images_per_s"):
            text.append(f"  {st.get('images_per_s', 0):,.0f} img/s  eta {fmt_duration(st.get('eta_s'))}")
        elif state == RunState.RUNNING and st.get("steps_per_s"):
            text.append(f"  {st['steps_per_s']:,.1f} steps/s" + (f"  eta {fmt_duration(st.get('eta_s'))}" if total else ""))
        elif state == RunState.RUNNING:
            text.append("  0 img/s  eta ?")
        if not script:  # (after the ETA: a compact status cuts here first)
            text.append(f"  epoch {st.get('epoch', '?')}/{st.get('epochs') or cfg.get('epochs') or '?'}")
        world = st.get("world") if isinstance(st.get("world"), dict) else None
        if world:  # a run of several processes
            slowest = slowest_rank(st) if state == RunState.RUNNING else None
            text.append(f"  {world.get('size', '?')} processes" + (f" · {slowest}" if slowest else ""))
        if state in (RunState.RUNNING, RunState.PAUSED, RunState.STALLED) and isinstance(st.get("system"), dict):
            text.append(f"  {vitals_line(st['system'])}", style="cyan")
        data = cfg.get("data", {})
        head = text.copy()
        if snap.health is not None:  # the verdict: a line of its own, under the run's state
            text += Text("\n") + verdict.whole(snap.health)
        text.append(f"\nelapsed {fmt_duration(st.get('elapsed_s'))}  " + (
            "made by a script (genlab.init)  " if script else f"{cfg.get('device', '?')}  data: {data.get('source', '?')}  "))
        if st.get("reason") and state in (RunState.PAUSED, RunState.STOPPED, RunState.FAILED):
            text.append(f"({st['reason']})  ", style="italic")
        text.append(fmt_metrics(snap.latest, list(snap.latest)), style="dim")
        trouble = rank_trouble(st, time.time(), run_dir=snap.path) if world and state == RunState.CRASHED else None
        alerts = Text()
        for problem in filter(None, (trouble, snap.problem)):
            alerts.append(f"\n⚠ {problem}", style="bold red")
        text += alerts
        if text == self.text:
            return
        self.text, self.head, self.alerts, self.health = text, head, alerts, snap.health
        self.fit()
        self.refresh()

    def fit(self) -> None:
        """Height for the text at this width, at most 4 lines: a new layout only when it changes."""
        width = max(10, self.size.width - 2) if self.size.width else 200
        if self.compact:
            height = min(4, len(self.alerts.wrap(self.app.console, width))) if self.alerts else 1  # (alerts begin with a new line)
            height = min(4, height + (self.health is not None))
        else:
            height = min(4, len(self.text.wrap(self.app.console, width)))
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height

    def on_resize(self) -> None:
        self.fit()
