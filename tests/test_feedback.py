"""Feedback for what takes time (issue 25): a run started from the form says so at once and its
dashboard opens once it is up; the command palette holds each screen's actions; a dashboard
left open as its run finishes draws every FLD point; the new-run form keeps Start in view."""

from __future__ import annotations

import json
import threading

import pytest
from scripted import T0, make_run
from test_tui import ScriptedSource, open_form, until
from textual.command import CommandPalette

from genlab.run.pace import UpdatePace
from genlab.run.sinks import JsonlSink
from tui.app import GenlabApp
from tui.commands import screen_commands
from tui.screens.dashboard import Dashboard
from tui.screens.runs import RunsScreen
from tui.widgets.curves import CurvesPlot
from tui.widgets.runs_table import RunsTable

FLD_PANE = "FLD to the test set (lower is better)"


def append(run, *events, state: str | None = None) -> None:
    """Events appended as the trainer writes them; status.json at the newest step (and state)."""
    sink = JsonlSink(run / "events.jsonl")
    for e in events:
        sink.event(e)
    sink.close()
    status = json.loads((run / "status.json").read_text())
    status["step"] = max(e["step"] for e in events)
    if state:
        status["state"] = state
    (run / "status.json").write_text(json.dumps(status))


def fld(step: int, value: float) -> dict:
    return {"t": T0 + step * 0.02, "step": step, "kind": "eval", "quality": True, "n": 500, "seconds": 0.5,
            "test_fld": value, "test_confident": 0.8}


# --------------------------------------------------------------------------- the FLD of a run that finished


def test_curves_held_back_go_out_once_due_though_nothing_changed():
    pace = UpdatePace(5.0)
    assert pace.update(True, 0.0) is True  # a first change: with curves
    assert pace.update(True, 1.0) is False  # too soon for curves: the change alone, curves owed
    assert pace.update(False, 2.0) is None  # nothing changed and curves not due: nothing to send
    assert pace.update(False, 5.0) is True  # owed curves go out once due, with no change since
    assert pace.update(False, 11.0) is None  # nothing owed, nothing changed
    assert pace.update(False, 11.5, wanted=True) is None  # wanted: with the next update, none without a change
    assert pace.update(True, 11.6, wanted=True) is True
    assert pace.update(True, 20.0, ready=False) is False  # not laid out yet: the change alone, curves owed
    assert pace.update(False, 20.5, ready=True) is True


async def test_a_dashboard_left_open_as_its_run_finishes_draws_every_fld_point(tmp_path, monkeypatch):
    """The defect: the final FLD arrived in an update without curves (they go out every few
    seconds) and nothing changed after the run finished, so the FLD pane kept its older points."""
    import tui.screens.dashboard as dashboard

    monkeypatch.setattr(dashboard, "CURVES_S", 2.0)
    root = tmp_path / "runs"
    run = make_run(root, "gan-end", "gan", steps=100, total=140, heartbeat=T0 + 10_000)
    app = GenlabApp(ScriptedSource(root), open_run="gan-end", load_models=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        dash = app.screen
        plot = next(p for p in dash.query(CurvesPlot) if p.title_text == FLD_PANE)

        def drawn() -> list:
            return (plot.snapshot.evals.get("test_fld") or []) if plot.snapshot else []

        append(run, fld(110, 40.0))  # live: one FLD point, then another at the end, as the run finishes
        await until(pilot, lambda: [p[0] for p in drawn()] == [110])
        append(run, fld(140, 30.0), {"t": T0 + 3, "step": 140, "kind": "state", "state": "finished"}, state="finished")
        await until(pilot, lambda: dash.snapshot.state == "finished")
        await until(pilot, lambda: drawn() == [(110, 40.0), (140, 30.0)])


# --------------------------------------------------------------------------- starting a run


class SlowLaunch(ScriptedSource):
    """A launch that takes as long as the test says (a real one imports torch: seconds), or fails."""

    def __init__(self, root, fail: str | None = None):
        super().__init__(root)
        self.go, self.fail = threading.Event(), fail

    def launch(self, model, options):
        assert self.go.wait(20)
        if self.fail:
            raise RuntimeError(self.fail)
        return super().launch(model, options)


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_start_says_at_once_that_the_run_is_starting_and_opens_its_dashboard_once_up(tmp_path):
    source = SlowLaunch(tmp_path / "runs")
    app = GenlabApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await pilot.click("#start")
        start = form.query_one("#start")
        assert start.disabled and str(start.label) == "starting…"  # at once, the launch still under way
        assert any(t.startswith("starting gan…") for t in toasts(app))
        assert "starting gan" in str(form.query_one("#error").render())
        form.query_one("#epochs").focus()
        await pilot.press("enter")  # Enter again while starting: nothing more
        await pilot.press("escape")  # the form may go: the run starts all the same
        assert isinstance(app.screen, RunsScreen)
        source.go.set()
        await until(pilot, lambda: isinstance(app.screen, Dashboard))
        assert app.screen.run_id == "launched" and [m for m, _ in source.launched] == ["gan"]


async def test_a_start_that_fails_says_why_in_the_form_and_offers_start_again(tmp_path):
    source = SlowLaunch(tmp_path / "runs", fail="no digits: set GENLAB_DATA_DIR")
    app = GenlabApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        await pilot.click("#start")
        source.go.set()
        start = form.query_one("#start")
        await until(pilot, lambda: not start.disabled)
        assert str(start.label) == "Start" and app.screen is form
        assert "no digits" in str(form.query_one("#error").render())


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_new_run_form_snapshot(size, tmp_path, snap_compare, monkeypatch):
    """Every field on one line, Start and Cancel in view in a bar at the form's foot."""
    monkeypatch.chdir(tmp_path)  # the runs screen's title names the runs root: the same in every test run
    app = GenlabApp(ScriptedSource("runs"))

    async def opened(pilot):
        await open_form(app, pilot)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=opened)


async def test_start_stays_in_view_in_a_short_terminal(tmp_path):
    app = GenlabApp(ScriptedSource(tmp_path / "runs"))
    async with app.run_test(size=(80, 14)) as pilot:
        form = await open_form(app, pilot)
        form.query_one("#model").value = "vae"  # the most fields
        await until(pilot, lambda: form.query("#hp-hidden"))
        await pilot.pause()
        start = form.query_one("#start")
        assert start.region.bottom <= 14 and app.screen.get_widget_at(*start.region.offset)[0] is start


# --------------------------------------------------------------------------- the command palette


def commands(screen) -> list[str]:
    return [c.name for c in screen_commands(screen)]


async def test_the_palette_holds_the_screens_actions_as_the_runs_state_allows(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    run = make_run(root, "gan-live", "gan", steps=100, heartbeat=T0 + 10_000)
    make_run(root, "vae-done", "vae", steps=100, state="finished")
    monkeypatch.chdir(tmp_path)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.screen.query(RunsTable) and app.screen.query_one(RunsTable).row_count == 2)
        listed = commands(app.screen)
        assert {"New run", "Mark", "Compare", "Tags", "Export"} <= set(listed)
        assert not {"Quit (runs keep running)", "Focus Next"} & set(listed)  # Textual's own

        app.open_run("vae-done")
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        finished = commands(app.screen)
        assert "Resume" in finished and "Pause/resume" not in finished and "Stop" not in finished

        app.pop_screen()
        app.open_run("gan-live")
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        live = commands(app.screen)
        assert {"Pause/resume", "Stop", "New run", "Tags", "Log scale", "Export"} <= set(live) and "Resume" not in live

        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"pause")
        await pilot.pause(0.5)  # (the palette gathers its hits in a worker)
        await pilot.press("enter")
        await until(pilot, lambda: sent(run) == ["pause"])
        assert isinstance(app.screen, Dashboard)

        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"export")
        await pilot.pause(0.5)
        await pilot.press("enter")
        csv = tmp_path / "gan-live.csv"
        await until(pilot, lambda: any("gan-live.csv" in t and t.startswith("wrote") for t in toasts(app)), timeout=60)
        assert csv.read_text().startswith("run,step")


def sent(run) -> list[str]:
    """The commands waiting in the run's control channel."""
    return [json.loads(f.read_text())["command"] for f in sorted((run / "control").glob("*.json"))]
