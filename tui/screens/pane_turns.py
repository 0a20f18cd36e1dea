"""Panes that take turns: tab, shift+tab and 1-9 on a screen with more panes than room.

The dashboard (one pane at a time at 80x24) and the compare screen (as many curve panes as its
height holds) mix this in. The panes are numbered from 0; they are shown in groups of
``panes_at_once()``, the group holding ``first_pane``. A screen provides:

- ``pane_count()``: how many panes there are;
- ``panes_at_once()``: how many the screen shows together;
- ``show_panes()``: show the group from ``first_pane`` (called after every turn);
- ``past_the_last(n)``: what a number past the last pane says ("this dashboard has 4 panes").
"""

from __future__ import annotations

from textual.binding import Binding

from genlab.run.sinks import counted


def pane_bindings(next_text: str = "next pane") -> list[Binding]:
    """The keys that turn panes: tab (in the footer as "panes"), shift+tab, 1-9 (hidden)."""
    return [
        Binding("tab", "pane(1)", "panes", tooltip=next_text, priority=True),
        Binding("shift+tab", "pane(-1)", "previous " + next_text.split(" ", 1)[1], show=False, priority=True),
        *[Binding(str(n), f"pane_at({n - 1})", f"pane {n}", show=False) for n in range(1, 10)],
    ]


class PaneTurns:
    first_pane = 0

    def pane_count(self) -> int:
        raise NotImplementedError

    def panes_at_once(self) -> int:
        raise NotImplementedError

    def show_panes(self) -> None:
        raise NotImplementedError

    def past_the_last(self, n: int) -> str:
        return f"this screen has {counted(n, 'pane')}"

    def panes_take_turns(self) -> bool:
        """Whether some pane is not shown: only then are tab and 1-9 bound (and in the footer)."""
        return self.pane_count() > self.panes_at_once()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return self.panes_take_turns() if action in ("pane", "pane_at") else True

    def action_pane(self, by: int) -> None:
        """The next (``by`` 1) or previous (-1) group of panes, round."""
        room, groups = self.panes_at_once(), -(-self.pane_count() // max(1, self.panes_at_once()))
        if groups:
            self.first_pane = (self.first_pane // room + by) % groups * room
            self.show_panes()

    def action_pane_at(self, index: int) -> None:
        """The group holding the ``index``-th pane; past the last, a warning says how many."""
        n = self.pane_count()
        if index >= n:
            self.notify(self.past_the_last(n), severity="warning")
            return
        self.first_pane = index // self.panes_at_once() * self.panes_at_once()
        self.show_panes()
