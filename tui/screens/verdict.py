"""A run's training health in full (the dashboard's h, or "Training health" in the command
palette): the verdict, since when, what it means in the tutorial's terms, the figures that raised
it and every cure, as genlab commands. The status line shows one line of it; Esc (or h) closes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from genlab.health import Verdict
from tui.widgets import verdict


class VerdictDetails(ModalScreen[None]):
    DEFAULT_CSS = """
    VerdictDetails {
        align: center middle;
    }
    VerdictDetails > VerticalScroll {
        width: 90%;
        max-width: 100;
        height: auto;
        max-height: 90%;
        border: thick $primary;
        border-title-align: left;
        padding: 0 1;
        background: $surface;
    }
    VerdictDetails Label {
        margin-top: 1;
        color: $text-muted;
    }
    """
    BINDINGS = [("escape,h", "close", "close")]

    def __init__(self, run_id: str, health: Verdict):
        super().__init__()
        self.run_id, self.health = run_id, health

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"training health · {self.run_id}"
            yield Static(verdict.details(self.health), id="verdict")
            yield Label("esc closes")

    def action_close(self) -> None:
        self.dismiss(None)
