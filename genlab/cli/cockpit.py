"""genlab tui and watch: open the cockpit."""


import typer

from genlab.cli.app import Images, RunRef, RunsDir, app


@app.command()
def tui(runs_dir: RunsDir = None, image_mode: Images = "auto") -> None:
    """Open the cockpit: every run, live; n starts a new one. Quitting never stops a run.

    The cockpit runs at a lower priority (nice +10) than the runs it starts and watches."""
    from genlab.render.images import image_protocol
    from tui.app import GenlabApp
    from tui.images import detected
    from tui.priority import yield_to_training
    from tui.source import RunsSource

    yield_to_training()
    run_app(GenlabApp(RunsSource(runs_dir), images=image_protocol(image_mode, detect=detected)))


def run_app(app) -> None:
    """Run the cockpit; if it failed (Textual printed why), exit non-zero."""
    app.run()
    if app.return_code:
        raise typer.Exit(app.return_code)


@app.command()
def watch(run: RunRef, runs_dir: RunsDir = None, image_mode: Images = "auto") -> None:
    """Open the cockpit on one run's dashboard (at a lower priority than training, as tui)."""
    from genlab.render.images import image_protocol
    from genlab.run.resolve import resolve_run
    from genlab.run.store import runs_root
    from tui.app import GenlabApp
    from tui.images import detected
    from tui.priority import yield_to_training
    from tui.source import RunsSource

    run_dir = resolve_run(runs_root(runs_dir), run)
    yield_to_training()
    run_app(GenlabApp(RunsSource(runs_dir), open_run=run_dir.name, images=image_protocol(image_mode, detect=detected)))
