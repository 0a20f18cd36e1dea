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
        await until(pilot, lambda: app.screen.snapshot is not None and app.screen.snapshot.health is not None)


async def test_a_dashboard_draws_each_plot_once_as_it_opens(tmp_path, monkeypatch):
    """Its first frame has no empty plotext frames to draw again: each curve pane is built once,
    with its data; the footer's keys are composed once; the health is judged once the curves are
    on screen, and the samples and events follow them."""
    from textual.widget import Widget

    from tui.widgets.keys_footer import KeysFooter
    from tui.widgets.samples import SamplesPane

    builds, footers = [], []
    build, recompose = CurvesPlot._build, Widget.recompose

    def counted_build(plot, *args, **kwargs):
        builds.append(plot.id)
        return build(plot, *args, **kwargs)

    async def counted_recompose(widget):
        if isinstance(widget, KeysFooter) and isinstance(widget.screen, Dashboard):
            footers.append(widget)
        return await recompose(widget)

    monkeypatch.setattr(CurvesPlot, "_build", counted_build)
    monkeypatch.setattr(Widget, "recompose", counted_recompose)
    make_run(tmp_path, "run", "gan", steps=3_000)
    app = GenlabApp(ScriptedSource(tmp_path), open_run="run", load_models=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None
                    and app.screen.snapshot.health is not None)
        plots = list(app.screen.query(CurvesPlot))
        await until(pilot, lambda: all(p.drawn is not None and p.drawn.curves for p in plots))
        await pilot.pause(0.3)
        assert sorted(builds) == sorted(p.id for p in plots), builds  # once each, with data
        assert len(footers) == 1
        assert app.screen.query_one(SamplesPane).step == 3_000


async def test_a_dashboard_follows_a_run_whose_events_were_cut(tmp_path):
    """A resume cuts events.jsonl: the follower starts its view over (its versions from 0 again)
    and the dashboard shows what it reads from then on."""
    import json
    import os

    run = make_run(tmp_path, "run", "gan", steps=3_000)
    app = GenlabApp(ScriptedSource(tmp_path), open_run="run", load_models=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None
                    and app.screen.snapshot.health is not None)
        dash = app.screen
        status = json.loads((run / "status.json").read_text())
        for step in (3_001, 3_002, 3_003):  # (updates: the view's version grows)
            (run / "status.json").write_text(json.dumps({**status, "step": step}))
            await until(pilot, lambda: dash.snapshot.status.get("step") == step)
        lines = (run / "events.jsonl").read_bytes().splitlines(keepends=True)
        cut = run / "events.cut"
        cut.write_bytes(b"".join(lines[: len(lines) // 2]))
        os.replace(cut, run / "events.jsonl")  # (a new file, shorter: rewritten)
        (run / "events.idx").unlink(missing_ok=True)
        await pilot.pause(2.5)  # (the follower reads it again from the start)
        (run / "status.json").write_text(json.dumps({**status, "step": 1_500}))
        await until(pilot, lambda: dash.snapshot.status.get("step") == 1_500)
