"""The genlab cockpit: a Textual app over run directories.

    genlab tui [--runs-dir DIR]     the runs screen
    genlab watch RUN                straight to one run's dashboard

The app is a view and a remote control: it reads runs through genlab.run.follow, controls them
through their control channel, and starts them as detached processes. Quitting never stops a run.
What takes time (starting a run, exporting one) is said at once and done in a worker. The command
palette (ctrl+p) holds the screen's actions (tui/commands.py) beside Textual's own. When a run the
cockpit shows (on any screen) ends, pauses or changes verdict, it rings the terminal's bell and
says so in a toast (genlab.run.notify.Changes decides what is worth it).
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import App

from genlab.run.notify import Changes
from genlab.run.sinks import counted
from tui.commands import ScreenActions
from tui.messages import ActionFailed, CompareUpdated, ModelsLoaded, RunsListed, RunStarted, RunUpdated
from tui.screens.dashboard import Dashboard
from tui.screens.new_run import NewRunForm
from tui.screens.runs import RunsScreen
from tui.source import RunsSource
from tui.widgets.samples import prepare_pictures


class GenlabApp(App):
    TITLE = "genlab"
    CSS_PATH = "app.tcss"
    BINDINGS = [("q", "quit", "quit (runs keep running)")]
    COMMANDS = App.COMMANDS | {ScreenActions}

    def __init__(self, source: RunsSource | None = None, open_run: str | None = None, load_models: bool = True,
                 images: str | None = None):
        """``images``: the graphics protocol the samples panes draw digits with ("kitty" or
        "sixel", from genlab.render.images.image_protocol), or None: text."""
        super().__init__()
        self.source = source or RunsSource()
        self.open_run_id = open_run
        self.images = prepare_pictures(images)
        self.models: list[dict] | None = None
        self.load_models_on_start = load_models
        self.changes = Changes()  # what each run shown was last seen as: its state and verdict

    def on_mount(self) -> None:
        self.push_screen(RunsScreen())
        if self.open_run_id:
            self.open_run(self.open_run_id)
        if self.load_models_on_start:
            self.load_models()

    @work(thread=True, exclusive=True, group="models")
    def load_models(self) -> None:
        try:
            self.post_message(ModelsLoaded(self.source.models()))
        except Exception as e:
            self.post_message(ActionFailed(f"cannot list models: {e}"))

    def on_models_loaded(self, message: ModelsLoaded) -> None:
        self.models = message.models
        if isinstance(self.screen, NewRunForm) and not self.screen.models:
            self.pop_screen()
            self.push_screen(NewRunForm(self.models))

    # ---- a run shown changed: the bell and a toast (the screens' updates bubble up to here)
    def on_run_updated(self, message: RunUpdated) -> None:
        snap = message.snapshot
        self.tell_change(snap.run_id, snap.state, snap.health)

    def on_runs_listed(self, message: RunsListed) -> None:
        for row in message.rows:
            self.tell_change(str(row.get("id")), str(row.get("state")), row.get("health"))

    def on_compare_updated(self, message: CompareUpdated) -> None:
        for run in message.snapshot.runs:
            self.tell_change(run.run_id, run.state, getattr(run, "health", None))

    def tell_change(self, run_id: str, state: str, health) -> None:
        said = self.changes.see(run_id, state, health)
        if said:
            self.bell()
            self.notify(said, title="run changed", timeout=8)

    def on_action_failed(self, message: ActionFailed) -> None:
        self.notify(message.text, severity="error")

    def open_run(self, run_id: str) -> None:
        if isinstance(self.screen, Dashboard):
            self.pop_screen()
        self.push_screen(Dashboard(run_id))

    def open_comparison(self, run_ids: list[str]) -> None:
        from tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(run_ids))

    def edit_tags(self, run_id: str) -> None:
        """The tags-and-note form of a run; saved straight into its tags.json."""
        from tui.screens.tags_form import TagsForm

        self.push_screen(TagsForm(self.source.root / run_id),
                         lambda saved: saved and self.notify(f"tags and note of {run_id} saved"))

    def action_new_run(self) -> None:
        if not isinstance(self.screen, NewRunForm):
            self.push_screen(NewRunForm(self.models))

    def start_run(self, model: str, options: list[str]) -> None:
        """Launch a run: a detached `genlab train`, which checks the options and data without torch
        and answers within a second with the run `starting`; said at once all the same, and the
        run's dashboard opens once the run has a state."""
        self.notify(f"starting {model}… its dashboard opens once it runs", timeout=3)
        self.launch(model, options)

    @work(thread=True, group="launch")
    def launch(self, model: str, options: list[str]) -> None:
        try:
            run_id = self.source.launch(model, options)
        except Exception as e:  # genlab's own one-line error
            self.call_from_thread(self.launch_failed, str(e))
            return
        self.post_message(RunStarted(run_id))

    def launch_failed(self, text: str) -> None:
        """Said in the form that started it (Start is offered again), or else in a toast."""
        if isinstance(self.screen, NewRunForm):
            self.screen.post_message(ActionFailed(text))
        else:
            self.notify(f"the run did not start: {text}", severity="error")

    def export_run(self, run_id: str) -> None:
        """The run's metrics to ./<run id>.csv, by a `genlab export` process; said when written."""
        csv = Path.cwd() / f"{run_id}.csv"
        self.notify(f"exporting {run_id} to {csv}…", timeout=3)
        self.export(run_id, csv)

    @work(thread=True, group="export")
    def export(self, run_id: str, csv: Path) -> None:
        try:
            line = self.source.export(run_id, csv)
        except Exception as e:  # genlab's own one-line error
            self.post_message(ActionFailed(f"export of {run_id} failed: {e}"))
            return
        self.call_from_thread(self.notify, line)

    def on_run_started(self, message: RunStarted) -> None:
        if isinstance(self.screen, NewRunForm):
            self.pop_screen()
        self.open_run(message.run_id)

    def action_quit(self) -> None:
        self.exit(message=self.quit_message())  # printed by Textual once the screen is restored

    def quit_message(self) -> str:
        """What the shell shows after the cockpit: which runs go on training without it, if any."""
        try:
            live = self.source.live_runs()
        except Exception:  # an unreadable runs root: say nothing of them rather than fail to quit
            return "genlab cockpit closed"
        if not live:
            return "genlab cockpit closed; no run is training"
        return (f"genlab cockpit closed; runs keep running in the background: {counted(live, 'run')} "
                "('genlab runs' lists them)")
