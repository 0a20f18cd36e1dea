"""The genlab cockpit: a Textual app over run directories.

    genlab tui [--runs-dir DIR]     the runs screen
    genlab watch RUN                straight to one run's dashboard

The app is a view and a remote control: it reads runs through genlab.run.follow, controls them
through their control channel, and starts them as detached processes. Quitting never stops a run.
"""

from __future__ import annotations

from textual import work
from textual.app import App

from genlab.run.sinks import counted
from tui.messages import ActionFailed, ModelsLoaded, RunStarted
from tui.screens.dashboard import Dashboard
from tui.screens.new_run import NewRunForm
from tui.screens.runs import RunsScreen
from tui.source import RunsSource
from tui.widgets.samples import prepare_pictures


class GenlabApp(App):
    TITLE = "genlab"
    CSS_PATH = "app.tcss"
    BINDINGS = [("q", "quit", "quit (runs keep running)")]

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
