"""Feedback for what takes time (issue 25): a run started from the form says so at once and its
dashboard opens once it is up; the command palette holds each screen's actions; a dashboard
left open as its run finishes draws every FLD point; the new-run form keeps Start in view."""

from __future__ import annotations

import json

from scripted import T0, make_run
from test_tui import ScriptedSource, until

from genlab.run.follow import UpdatePace
from genlab.run.sinks import JsonlSink
from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.widgets.curves import CurvesPlot

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
    assert pace.update(False, 11.5, wanted=True) is True  # a resize wants them now


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
        await until(pilot, lambda: drawn() == [(110, 40.0), (140, 30.0)], timeout=6)
