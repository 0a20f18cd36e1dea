"""The new-run form: model, its key hyperparameters pre-filled with its defaults, length,
device and seed. Invalid values are flagged as they are typed, and Start stays disabled until
every field is valid. The fields are one line each and scroll between a fixed title and a fixed
bar of Start and Cancel, so Start is in view at 80x24 and below. Start hands the run to the app
(GenlabApp.start_run: a detached launch, from a worker), and says at once that it is starting."""

from __future__ import annotations

from types import SimpleNamespace

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Function, Integer, ValidationResult, Validator
from textual.widgets import Button, Input, Label, Select, Static

from genlab.config import parse_hp
from genlab.errors import UsageError
from genlab.models.catalogue import SPECS, checked
from genlab.models.specs import LIMITS
from tui.messages import ActionFailed

DEVICES = ("auto", "cpu", "cuda", "mps")


NO_PRESET = ("none (the paper's settings)", "none")


class Hyperparameter(Validator):
    """A model's hyperparameter as `genlab train --hp` takes it: of its default's type, in the range
    the model declares (genlab/models/catalogue.py checked): ema 0 (off), beta1 0, loss=hinge."""

    def __init__(self, model: str, key: str, defaults: dict):
        super().__init__()
        self.model, self.key = model, key
        known = SPECS.get(model)
        # (a model this genlab does not declare: its defaults, with the usual ranges)
        self.declared = known if known is not None and key in known.defaults else SimpleNamespace(
            defaults=defaults, limits=LIMITS)

    def validate(self, value: str) -> ValidationResult:
        try:
            checked(self.model, self.key, parse_hp([f"{self.key}={value.strip()}"])[self.key], self.declared)
        except UsageError as e:
            return self.failure(str(e))
        return self.success()


class NewRunForm(ModalScreen):
    DEFAULT_CSS = """
    NewRunForm {
        align: center middle;
    }
    NewRunForm > VerticalScroll {
        width: 64;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    NewRunForm .row {
        height: auto;
    }
    NewRunForm .row Label {
        width: 14;
        padding: 0 1 0 0;
    }
    NewRunForm #heading {
        dock: top;
    }
    NewRunForm #bar {
        dock: bottom;
        height: auto;
    }
    NewRunForm .row Input, NewRunForm .row Select {
        width: 1fr;
    }
    /* one-line fields: a background tells them from their labels, a tint which has the focus */
    NewRunForm .row Input, NewRunForm .row SelectCurrent {
        background: $boost;
    }
    NewRunForm .row Input:focus, NewRunForm .row Select:focus > SelectCurrent {
        background-tint: $primary 30%;
    }
    NewRunForm #error {
        color: $error;
        height: auto;
    }
    NewRunForm #buttons {
        height: auto;
        align-horizontal: right;
    }
    """
    BINDINGS = [("escape", "cancel", "cancel")]

    def __init__(self, models: list[dict] | None):
        super().__init__()
        self.models = {m["name"]: m for m in models or []}

    def compose(self) -> ComposeResult:
        with VerticalScroll(can_focus=False):
            yield Static("[b]new run[/b]  (Tab moves, Enter starts, Esc cancels)", id="heading")
            if not self.models:
                yield Label("loading the model list… (genlab models)", id="loading")
            else:
                first = next(iter(self.models))
                with Horizontal(classes="row"):
                    yield Label("model")
                    yield Select([(n, n) for n in self.models], value=first, allow_blank=False, id="model", compact=True)
                # one Select for every model (options swapped on a model change): a Select mounted later
                # into a new container can miss its own overlay
                with Horizontal(classes="row", id="preset-row"):
                    yield Label("preset")
                    yield Select([NO_PRESET], value="none", allow_blank=False, id="preset", compact=True)
                yield Vertical(id="hp", classes="row")
                for name, default, validator in (("epochs", "5", Integer(minimum=1)),
                                                 ("max steps", "", Function(lambda t: not t or t.isdigit() and int(t) > 0, "a positive whole number, or empty")),
                                                 ("seed", "0", Integer())):
                    with Horizontal(classes="row"):
                        yield Label(name)
                        yield Input(default, id=name.replace(" ", "_"), validators=[validator], valid_empty=name == "max steps",
                                    compact=True)
                with Horizontal(classes="row"):
                    yield Label("device")
                    yield Select([(d, d) for d in DEVICES], value="auto", allow_blank=False, id="device", compact=True)
                with Vertical(id="bar"):
                    yield Label("", id="error")
                    with Horizontal(id="buttons"):
                        yield Button("Start", variant="primary", id="start")
                        yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if self.models:
            self.fill_hyperparameters(next(iter(self.models)))
            self.query_one("#model", Select).focus()

    def fill_hyperparameters(self, model: str) -> None:
        box = self.query_one("#hp")
        box.remove_children()
        rows = []
        presets = self.models[model].get("presets") or {}
        choice = self.query_one("#preset", Select)
        with choice.prevent(Select.Changed):
            choice.set_options([NO_PRESET] + [(p, p) for p in presets])
            choice.value = "none"
        self.query_one("#preset-row").display = bool(presets)
        for key, default in self.models[model]["defaults"].items():
            validator = Hyperparameter(model, key, self.models[model]["defaults"])
            rows.append(Horizontal(Label(key), Input(str(default), id=f"hp-{key}", validators=[validator], compact=True),
                                   classes="row"))
        box.mount_all(rows)
        self.call_after_refresh(self.validate_form)

    @on(Select.Changed, "#model")
    def model_changed(self, event: Select.Changed) -> None:
        self.fill_hyperparameters(str(event.value))

    def preset(self) -> str:
        if not self.query_one("#preset-row").display:
            return "none"
        return str(self.query_one("#preset", Select).value)

    def base_hyperparameters(self, model: str) -> dict:
        """The values the model trains with before any edit: its defaults, then its preset's."""
        m = self.models[model]
        return {**m["defaults"], **(m.get("presets") or {}).get(self.preset(), {})}

    @on(Select.Changed, "#preset")
    def preset_changed(self, event: Select.Changed) -> None:
        model = str(self.query_one("#model", Select).value)
        for key, value in self.base_hyperparameters(model).items():
            for field in self.query(f"#hp-{key}").results(Input):  # (absent while a model change mounts them)
                field.value = str(value)

    @on(Input.Changed)
    def input_changed(self) -> None:
        self.validate_form()

    def problems(self) -> list[str]:
        out = []
        for field in self.query(Input):
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                name = (field.id or "").removeprefix("hp-").replace("_", " ")
                out.append(f"{name}: {result.failure_descriptions[0] if result.failure_descriptions else 'invalid'}")
        return out

    starting = False  # Start was pressed: the run is being launched

    def validate_form(self) -> bool:
        problems = self.problems()
        if not self.starting:
            self.query_one("#error", Label).update("\n".join(problems))
            self.query_one("#start", Button).disabled = bool(problems)
        return not problems

    def options(self) -> tuple[str, list[str]]:
        model = str(self.query_one("#model", Select).value)
        opts = ["--epochs", self.query_one("#epochs", Input).value.strip(),
                "--seed", self.query_one("#seed", Input).value.strip(),
                "--device", str(self.query_one("#device", Select).value)]
        max_steps = self.query_one("#max_steps", Input).value.strip()
        if max_steps:
            opts += ["--max-steps", max_steps]
        if self.preset() != "none":
            opts += ["--preset", self.preset()]
        for key, default in self.base_hyperparameters(model).items():
            value = self.query_one(f"#hp-{key}", Input).value.strip()
            if str(value) != str(default):
                opts += ["--hp", f"{key}={value}"]
        return model, opts

    @on(Input.Submitted)
    @on(Button.Pressed, "#start")
    def start(self) -> None:
        if not self.models or self.starting or not self.validate_form():
            return
        model, opts = self.options()
        self.show_starting(True)
        self.query_one("#error", Label).update(f"starting {model}: checking the data, then launching…")
        self.app.start_run(model, opts)

    def show_starting(self, starting: bool) -> None:
        self.starting = starting
        start = self.query_one("#start", Button)
        start.label, start.disabled = ("starting…", True) if starting else ("Start", False)

    def on_action_failed(self, message: ActionFailed) -> None:
        """The launch failed: genlab's one-line error, in the form; Start again."""
        message.stop()
        self.show_starting(False)
        self.query_one("#error", Label).update(message.text)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
