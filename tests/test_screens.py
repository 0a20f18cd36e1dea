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


async def drawn(app, pilot) -> None:
    """Until the dashboard is up and every plot shown has drawn its newest data."""
    await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
    await until(pilot, lambda: all(p.drawn is p.snapshot is not None for p in app.screen.query(CurvesPlot) if p.display))


@SIZES
def test_tags_form_snapshot(size, tmp_path, snap_compare):
    """Opened from the runs screen (a dashboard behind it redraws on its own time)."""
    from textual.widgets import Input

    from tui.screens.runs import RunsScreen
    from tui.widgets.runs_table import RunsTable

    make_run(tmp_path / "runs", "gan-run", "gan")
    app = GenlabApp(KeysSource(tmp_path / "runs"), load_models=False)

    async def opened(pilot):
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count)
        app.screen.query_one("#title").update("genlab · runs in runs")  # not the test's own temporary path
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TagsForm) and app.screen.focused is not None)
        await pilot.press(*"baseline")
        await until(pilot, lambda: app.screen.query(Input).first().value == "baseline")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=opened)


@SIZES
def test_latent_walks_snapshot(size, tmp_path, snap_compare):
    """`i`: the walks take the samples pane across the curves' width, at either size."""
    make_run(tmp_path / "runs", "gan-run", "gan")
    app = GenlabApp(KeysSource(tmp_path / "runs"), open_run="gan-run", load_models=False)

    async def walking(pilot):
        await drawn(app, pilot)
        await pilot.press("i")
        pane = app.screen.query_one(SamplesPane)
        await until(pilot, lambda: "walks" in str(pane.border_title))
        assert not any(p.display and p.region.width for p in app.screen.query(CurvesPlot))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=walking)


async def test_a_compact_dashboard_shows_one_pane_at_a_time(tmp_path):
    """At 80x24 the panes take turns (tab, shift+tab, 1-9), the class histogram and latent map
    on pages of their own; at 200x50 every pane shows and tab is not bound."""
    import numpy as np

    from tui.widgets.class_histogram import ClassHistogram
    from tui.widgets.latent_map import LatentMap
    from tui.widgets.pane_tabs import PaneTabs

    root = tmp_path / "runs"
    make_run(root, "gan-run", "gan")
    vae = make_run(root, "vae-run", "vae")
    labels = np.arange(200) % 10
    np.savez(vae / "latent.npz", points=np.stack([labels, labels * 0.5], 1).astype(float), labels=labels, step=2000, how="pca")
    app = GenlabApp(KeysSource(root), open_run="gan-run", load_models=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        dash = app.screen
        plots = list(dash.query(CurvesPlot))
        shown = lambda: [w for w in dash.pages() if w.display]  # noqa: E731
        assert dash.compact and dash.query_one(PaneTabs).display and shown() == [plots[0]]
        assert dash.query_one(PaneTabs).titles == ["G and D losses", "D(x) and D(G(z))",
                                                   "FLD to the test set (lower is better)", "classes of generated digits"]
        await pilot.press("tab")
        assert shown() == [plots[1]] and dash.query_one(SamplesPane).display
        await pilot.press("4")  # the class histogram, across the width: no curves, no samples
        hist = dash.query_one(ClassHistogram)
        await until(pilot, lambda: hist.region.width == 80)
        assert shown() == [hist] and not dash.query_one(SamplesPane).display
        await pilot.press("tab")  # round to the first
        assert shown() == [plots[0]]
        await pilot.press("shift+tab")
        assert shown() == [hist]
        await pilot.press("9")  # no ninth pane: it says so
        assert shown() == [hist] and any("4 panes" in n.message for n in app._notifications)

        await pilot.resize_terminal(200, 50)  # room for all: every pane, no tabs, tab not bound
        await until(pilot, lambda: not dash.compact)
        assert shown() == dash.pages() and not dash.query_one(PaneTabs).display
        page = dash.first_pane
        await pilot.press("tab")
        assert shown() == dash.pages() and dash.first_pane == page

        app.open_run("vae-run")  # a VAE's latent map: a page of its own when compact
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.run_id == "vae-run"
                    and app.screen.query(LatentMap))
        dash = app.screen
        latent = dash.query_one(LatentMap)
        await until(pilot, lambda: dash.compact and not latent.display)
        await pilot.press("3")
        assert [w for w in dash.pages() if w.display] == [latent] and not dash.query_one(SamplesPane).display
