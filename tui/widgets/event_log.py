"""The run's notable events (state changes, checkpoints, evaluations, warnings, and each verdict
on its health as it starts and ends, in its severity's colour), newest last."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import RichLog

from genlab.run.sinks import event_line
from tui.widgets import verdict


class EventLog(RichLog):
    DEFAULT_CSS = """
    EventLog {
        height: 6;
        border: round $primary-darken-2;
        border-title-align: left;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(max_lines=500, wrap=False, markup=False, highlight=False, **kwargs)
        self.border_title = "events"
        self.seen: set[tuple] = set()

    def show(self, events: list[dict]) -> None:
        lines = []
        for e in events:
            key = (e.get("t"), e.get("kind"), e.get("step"), e.get("verdict"), e.get("event"))
            if key in self.seen:
                continue
            self.seen.add(key)
            line = verdict.event_text(e) if e.get("kind") == "health" else event_line(e)
            if line:
                stamp = time.strftime("%H:%M:%S ", time.localtime(e.get("t", 0)))
                lines.append(Text(stamp) + line if isinstance(line, Text) else Text(stamp + line))
        if lines:  # written at once: a long run opened has hundreds (one write each costs as much as all)
            self.write(Text("\n").join(lines))

    def note(self, text: str) -> None:
        """A line of the cockpit's own, at the time of the app's clock (a test's is fixed)."""
        clock = getattr(getattr(self.app, "source", None), "clock", time.time)
        self.write(time.strftime("%H:%M:%S ", time.localtime(clock())) + text)
