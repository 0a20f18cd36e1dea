"""Opening a long run in the cockpit: its curves are drawn with the first update (a plot does not
wait out its redraw interval for its first data), they reach the run's last step, and its
health follows at once (tui/source.py's followers judge a long history at their second poll)."""

from __future__ import annotations

from scripted import make_run
from test_pyramid import grow
from test_tui import ScriptedSource, until

from genlab.run import follow
from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.widgets.curves import CurvesPlot


async def test_a_long_run_opens_with_its_curves_drawn_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(follow, "BULK_ROWS", 2_000)  # (a long history from fewer rows: quick to write)
    monkeypatch.setattr(CurvesPlot, "MIN_INTERVAL_S", 3600.0)  # a first draw waiting for it never comes
    run = make_run(tmp_path, "long", "gan", steps=10, state="finished")
    last = follow.LONG_READ + 3_000  # more than the judge reads of a long history: its health is owed
    grow(run, 11, last)
    app = GenlabApp(ScriptedSource(tmp_path), open_run="long", load_models=False)
    async with app.run_test(size=(200, 50)) as pilot:
        def drawn() -> list:
            plots = list(app.screen.query(CurvesPlot)) if isinstance(app.screen, Dashboard) else []
            return [p.drawn for p in plots] if plots and all(p.drawn and p.drawn.curves for p in plots) else []

        await until(pilot, drawn)
        assert all(max(d.curves["d_loss"].x) == last for d in drawn())
        await until(pilot, lambda: app.screen.snapshot.health is not None)
