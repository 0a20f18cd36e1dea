"""The fork form (`f` on a dashboard): fork a run at one of its checkpoints, with changes.

Titled with the run and the step it forks at (the checkpoint at or before the step the
dashboard's samples history shows, else the newest), it lists the checkpoints kept and offers
what `genlab fork` may change: the step, the learning rate (pre-filled with the run's), model
hyperparameters as KEY=VALUE, the length, the new run's name. Enter starts the fork detached
through the source (RunsSource.fork: a `genlab fork ... --detach` process) and closes the form
with the new run's id; genlab's one-line error (a hyperparameter that changes the weights'
shapes, a step before every checkpoint) stays in the form. Esc cancels.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from genlab.run.lineage import ForkPoint

SHOWN_STEPS = 8  # checkpoints listed by step; more are cut in the middle


def steps_text(points: list[ForkPoint]) -> str:
    """The checkpoints kept, by step: ``100, 200, …, 900`` (the oldest and newest where many)."""
    steps = [f"{p.step:,}" for p in points]
    return ", ".join(steps if len(steps) <= SHOWN_STEPS else [*steps[:3], "…", *steps[-3:]])


def fork_step(points: list[ForkPoint], shown: int | None) -> int:
    """The checkpoint a fork starts from: the newest at or before ``shown`` (the step the
    samples history shows), the newest where ``shown`` is None, the oldest where none is before it."""
    if shown is None:
        return points[-1].step
    before = [p.step for p in points if p.step <= shown]
    return before[-1] if before else points[0].step


class ForkForm(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ForkForm {
        align: center middle;
    }
    ForkForm > Vertical {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        padding: 0 1;
        background: $surface;
    }
    ForkForm .row {
        height: auto;
    }
    ForkForm .row Label {
        width: 16;
        padding: 0 1 0 0;
    }
    ForkForm .row Input {
        width: 1fr;
        background: $boost;
    }
    ForkForm .row Input:focus {
        background-tint: $primary 30%;
    }
    ForkForm #fork-error {
        color: $error;
        width: 100%;
        height: auto;
    }
    """
    BINDINGS = [("escape", "cancel", "cancel")]

    FIELDS = (("at", "at step"), ("lr", "learning rate"), ("hp", "hp KEY=VALUE"), ("max_steps", "max steps"),
              ("max_minutes", "max minutes"), ("name", "name"))

    HINTS = {"hp": "e.g. beta1=0.5 (only what keeps the weights' shapes)", "max_steps": "the run's own",
             "max_minutes": "the run's own"}

    def __init__(self, run_id: str, points: list[ForkPoint], step: int, lr: float | None):
        """``points``: the run's checkpoints (lineage.fork_points), at least one; ``step``: the
        one to fork at; ``lr``: the run's learning rate (the field's value to start with)."""
        super().__init__()
        self.run_id, self.points, self.step = run_id, points, step
        self.lr = f"{lr:g}" if isinstance(lr, (int, float)) else ""
        self.forking = False  # Enter was pressed: the fork is being started

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]fork {self.run_id} at step {self.step:,}[/b]", id="fork-title")
            yield Label(f"checkpoints kept at steps {steps_text(self.points)}", id="fork-steps")
            values = {"at": str(self.step), "lr": self.lr}
            hints = {**self.HINTS, "name": f"{self.run_id}-fork{self.step}"}
            for key, text in self.FIELDS:
                with Horizontal(classes="row"):
                    yield Label(text)
                    yield Input(values.get(key, ""), placeholder=hints.get(key, ""), id=f"fork-{key}", compact=True)
            yield Label("Enter forks (in the background) · Esc cancels", id="fork-keys")
            yield Label("", id="fork-error")

    def field(self, key: str) -> str:
        return self.query_one(f"#fork-{key}", Input).value.strip()

    def options(self) -> list[str]:
        """`genlab fork`'s options for the fields (ValueError: what is wrong, in a line)."""
        at = self.field("at")
        if not at.replace(",", "").isdigit():
            raise ValueError(f"at step: a step (0 or more), not {at!r}")
        at = at.replace(",", "")
        if not any(p.step <= int(at) for p in self.points):
            raise ValueError(f"no checkpoint at or before step {int(at):,}: the run keeps steps {steps_text(self.points)}")
        opts = ["--at", at]
        if self.field("lr") and self.field("lr") != self.lr:
            opts += ["--lr", self.field("lr")]
        for pair in self.field("hp").split():
            if "=" not in pair:
                raise ValueError(f"hp: KEY=VALUE, not {pair!r}")
            opts += ["--hp", pair]
        for key in ("max_steps", "max_minutes", "name"):
            if self.field(key):
                opts += [f"--{key.replace('_', '-')}", self.field(key)]
        return opts

    @on(Input.Submitted)
    def submit(self) -> None:
        if self.forking:
            return
        try:
            opts = self.options()
        except ValueError as e:
            self.say(str(e))
            return
        self.forking = True
        self.say(f"forking {self.run_id}: checking the changes, then starting…")
        self.start(opts)

    @work(thread=True, exclusive=True, group="fork")
    def start(self, opts: list[str]) -> None:
        try:
            new = self.app.source.fork(self.run_id, opts)
        except Exception as e:  # genlab's own one-line error, in the form
            self.app.call_from_thread(self.failed, str(e))
            return
        self.app.call_from_thread(self.dismiss, new)

    def failed(self, text: str) -> None:
        self.forking = False
        self.say(text)

    def say(self, text: str) -> None:
        self.query_one("#fork-error", Label).update(Text(text))  # (genlab's words: no markup)

    def action_cancel(self) -> None:
        self.dismiss(None)
