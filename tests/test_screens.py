"""Snapshots of the cockpit's smaller screens at 80x24 and 200x50: the tags-and-note form and a
dashboard's latent walks (the dashboards, runs and compare screens and the new-run form have
theirs beside their own tests)."""

from __future__ import annotations

import pytest
from scripted import make_run
from test_keys import KeysSource
from test_tui import until

from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.screens.tags_form import TagsForm
from tui.widgets.curves import CurvesPlot
from tui.widgets.samples import SamplesPane

SIZES = pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])


@SIZES
def test_tags_form_snapshot(size, tmp_path, snap_compare):
    make_run(tmp_path / "runs", "gan-run", "gan")
    app = GenlabApp(KeysSource(tmp_path / "runs"), open_run="gan-run", load_models=False)

    async def opened(pilot):
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TagsForm))
        await pilot.press(*"baseline")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=opened)


@SIZES
def test_latent_walks_snapshot(size, tmp_path, snap_compare):
    """`i`: the walks take the samples pane across the curves' width, at either size."""
    make_run(tmp_path / "runs", "gan-run", "gan")
    app = GenlabApp(KeysSource(tmp_path / "runs"), open_run="gan-run", load_models=False)

    async def walking(pilot):
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        await pilot.press("i")
        pane = app.screen.query_one(SamplesPane)
        await until(pilot, lambda: "walks" in str(pane.border_title))
        assert not any(p.display and p.region.width for p in app.screen.query(CurvesPlot))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=walking)
