"""Edit a run's tags and note: two fields, Enter saves, Esc leaves them as they were."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from genlab.errors import GenlabError
from genlab.run import tags


class TagsForm(ModalScreen[bool]):
    DEFAULT_CSS = """
    TagsForm {
        align: center middle;
    }
    TagsForm > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        border: thick $primary;
        padding: 1 2;
        background: $surface;
    }
    TagsForm #tags-error {
        color: $error;
    }
    """
    BINDINGS = [("escape", "cancel", "cancel")]

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir
        self.before = tags.read(run_dir)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"tags and note of {self.run_dir.name} (Enter saves, Esc cancels)")
            yield Label("tags, separated by spaces:")
            yield Input(" ".join(self.before.tags), id="tags-input")
            yield Label("note:")
            yield Input(self.before.note, id="note-input")
            yield Label("", id="tags-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        wanted = self.query_one("#tags-input", Input).value.split()
        note = self.query_one("#note-input", Input).value
        try:
            for tag in wanted:
                tags.check_tag(tag)
            tags.change(self.run_dir, add=[t for t in wanted if t not in self.before.tags],
                        remove=[t for t in self.before.tags if t not in wanted], note=note)
        except (GenlabError, OSError) as e:
            self.query_one("#tags-error", Label).update(str(e))
            return
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
