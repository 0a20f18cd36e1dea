"""The compare screen: marking runs, opening the comparison, its keys, and how it looks."""

from __future__ import annotations

import json

import pytest
from scripted import make_run
from test_tui import ScriptedSource, until

from tui.app import GenlabApp
from tui.screens.compare import CompareScreen
from tui.screens.dashboard import Dashboard
from tui.screens.runs import RunsScreen
from tui.widgets.class_histogram import ClassHistogram
from tui.widgets.curves import CurvesPlot
from tui.widgets.pane_tabs import PaneTabs
from tui.widgets.ranking import RankingTable
from tui.widgets.runs_table import RunsTable
from tui.widgets.samples import SamplesPane


def four(root):
    make_run(root, "gan-a", "gan", steps=1500)
    make_run(root, "cgan-b", "cgan", steps=1200, state="finished")
    make_run(root, "gan-d", "gan", steps=700)
    make_run(root, "vae-c", "vae", steps=900)


SWEEP = "sweep-20261206-101500-gan"  # its trials' ids are alike but for their last three digits


def trials(root, lrs=(2e-4, 1e-3, 5e-4)) -> list[str]:
    """A sweep's trials (the sweep's own directory left out): GANs that differ in their lr."""
    ids = []
    for n, lr in enumerate(lrs):
        run = make_run(root, f"{SWEEP}-{n:03d}", "gan", steps=1500 + 200 * n)
        config = json.loads((run / "config.json").read_text())
        config.update(sweep=SWEEP, lr=lr, hp={**config["hp"], "lr": lr})
        (run / "config.json").write_text(json.dumps(config))
        ids.append(run.name)
    return ids


async def mark_and_compare(app, pilot, n: int, rows: int = 4) -> CompareScreen:
    await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == rows)
    for _ in range(n):
        await pilot.press("space")  # marks the run under the cursor and moves on
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.snapshot is not None)
    return app.screen


async def test_marking_opening_and_leaving_a_comparison(tmp_path):
    root = tmp_path / "runs"
    four(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 4)
        await pilot.press("c")  # nothing marked: said, no comparison
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("space", "space", "space")
        drawn = [" ".join(str(k.render()).split()) for k in app.screen.query("FooterKey")]
        assert "c compare 3" in drawn  # the footer counts the marks
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.snapshot is not None)
        screen = app.screen
        assert screen.run_ids == [r["id"] for r in app.screen_stack[-2].query_one(RunsTable).last_rows][:3]
        plots = list(screen.query(CurvesPlot))
        assert [p.title_text for p in plots][:2] == ["d_loss, nats", "g_loss, nats"]  # what the GANs share
        labels = screen.comparison.labels
        assert len(set(labels)) == 3 and any("model=cgan" in label for label in labels)
        await until(pilot, lambda: plots[0].snapshot is not None and "waiting" not in str(plots[0].render()))
        assert all(label.split()[0] in str(plots[0].render()) for label in labels)  # a legend entry a run
        assert len([g for g in screen.query(SamplesPane) if g.display]) == 3
        await until(pilot, lambda: all(g.images is not None for g in screen.query(SamplesPane)))
        ranking = screen.query_one(RankingTable)
        assert ranking.row_count == 3 and str(ranking.get_row_at(0)[1]).split()[0] == "cgan-b"  # none has a quality figure yet: in the order marked

        await pilot.press("x")
        assert screen.x_axis == "time" and all(p.x_label == "minutes" for p in plots)
        await pilot.press("l", "e")
        assert all(p.log_scale and p.smooth for p in plots)

        ranking.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, Dashboard))
        assert app.screen.run_id == "cgan-b"
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_runs_of_different_families_compare_what_they_share(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "gan-a", "gan", steps=300)
    make_run(root, "vae-c", "vae", steps=300)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 2)
        await pilot.press("space", "space", "c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.snapshot is not None)
        assert not list(app.screen.query(CurvesPlot)) and app.screen.query("#compare-none")
        assert app.screen.query_one(RankingTable).row_count == 2
        await until(pilot, lambda: all(g.images is not None for g in app.screen.query(SamplesPane)))


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_compare_snapshot(size, tmp_path, snap_compare):
    """A sweep's three trials compared: each named '#N lr=...' in its colour on every pane."""
    root = tmp_path / "runs"
    trials(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)

    async def compared(pilot):
        screen = await mark_and_compare(app, pilot, 3, rows=3)
        await until(pilot, lambda: all(g.images is not None for g in screen.query(SamplesPane) if g.display))
        plots = [p for p in screen.query(CurvesPlot) if p.display]
        await until(pilot, lambda: all(p.drawn is not None for p in plots))  # drawn on screen
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=compared)


async def test_every_run_has_its_label_and_colour_on_every_pane(tmp_path):
    """At 200x50 the trials of a sweep (ids alike but for their last digits) are told apart by
    every title, legend and ranking row, each in the run's own colour; at 80x24 one curve pane
    shows at a time, named in a line of tabs, tab turns to the next, the footer is whole and the
    ranking scrolls sideways."""
    from textual.color import Color

    root = tmp_path / "runs"
    ids = trials(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 3)
        app.open_comparison(ids)
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.snapshot is not None)
        screen = app.screen
        names = ["#0 lr=0.0002", "#1 lr=0.001", "#2 lr=0.0005"]
        colours = [Color(*label.colour) for label in screen.comparison.named]
        assert len(set(colours)) == 3
        grids = list(screen.query(SamplesPane))
        hists = list(screen.query(ClassHistogram))
        await until(pilot, lambda: [g.border_title.split(" · ")[0] for g in grids] == names)
        assert [h.border_title for h in hists] == names
        for pane, colour in [*zip(grids, colours), *zip(hists, colours)]:
            assert len(pane.border_title) + 6 <= pane.outer_size.width  # whole, never cut by its border
            assert pane.styles.border_title_color == colour
        plots = [p for p in screen.query(CurvesPlot) if p.display]
        assert len(plots) == 3 and plots[0].metrics == names
        assert [Color(*plots[0].colours[n]) for n in names] == colours  # each curve in its run's colour
        await until(pilot, lambda: all(n in str(plots[0].render()) for n in names))  # the legend
        ranking = screen.query_one(RankingTable)
        await until(pilot, lambda: ranking.row_count == 3)
        rows = {str(ranking.get_row_at(i)[-1]): ranking.get_row_at(i)[1] for i in range(3)}  # id: label cell
        assert [str(rows[i]) for i in ids] == names
        assert [Color.parse(rows[i].style.split()[-1]) for i in ids] == colours
        heading = str(screen.query_one("#compare-title").render())
        assert "differ: lr" in heading and f"panes 1-3 of {len(screen.all_panes())} (tab: more)" in heading

        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: len([p for p in screen.query(CurvesPlot) if p.display]) == 1)
        first = screen.query(CurvesPlot).first()
        assert first.title_text == "d_loss, nats" and first.size.height >= 10
        tabs = screen.query_one(PaneTabs)
        assert tabs.display and "1 d_loss" in str(tabs.render())
        await pilot.press("tab")
        await until(pilot, lambda: first.title_text == "g_loss, nats" and "g_loss" in str(first.render()))
        assert tabs.current == 1
        await pilot.press("4")
        await until(pilot, lambda: first.title_text == "d_fake")
        await until(pilot, lambda: all(g.border_title.startswith(f"#{i}") and len(g.border_title) + 6 <= g.outer_size.width
                                       for i, g in enumerate(grids[:2])))  # narrow grids: their names, whole
        keys = [k for k in screen.query("FooterKey") if k.display]
        assert {"x", "l", "e", "tab", "v", "escape", "q"} <= {k.key for k in keys}
        assert all(k.region.right <= 80 for k in keys)  # the footer whole at 80 columns
        assert max(k.region.right for k in keys) > 60  # (laid out, not all at 0)
        ranking.focus()
        await pilot.press(*["right"] * 8)
        await until(pilot, lambda: ranking.scroll_x > 0)  # the columns past the screen's edge are a key away


async def test_c_with_one_run_marked_compares_it_with_the_run_under_the_cursor(tmp_path):
    root = tmp_path / "runs"
    four(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 4)
        runs, table = app.screen, app.screen.query_one(RunsTable)
        order = [r["id"] for r in table.last_rows]
        await pilot.press("space", "c")  # the first marked, the cursor on the second
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert app.screen.run_ids == order[:2]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is runs)
        await pilot.press("up", "space")  # the first unmarked
        await pilot.press("down", "down", "space", "c")  # only the last marked, the cursor on it
        await pilot.pause()
        assert app.screen is runs and table.marked == {order[-1]}
        assert any("mark one more run" in n.message for n in app._notifications)


async def test_tags_and_note_are_edited_in_the_cockpit(tmp_path):
    from genlab.run import tags
    from tui.screens.tags_form import TagsForm

    root = tmp_path / "runs"
    four(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 4)
        first = app.screen.query_one(RunsTable).selected_run()
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TagsForm))
        form = app.screen
        form.query_one("#tags-input").value = "bad/tag"
        await pilot.press("enter")
        assert isinstance(app.screen, TagsForm) and "no spaces or slashes" in str(form.query_one("#tags-error").render())
        form.query_one("#tags-input").value = "baseline penalty"
        form.query_one("#note-input").value = "the first one"
        form.query_one("#tags-input").focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert tags.read(root / first).tags == ["baseline", "penalty"] and tags.read(root / first).note == "the first one"
        await until(pilot, lambda: "baseline penalty" in str(app.screen.query_one(RunsTable).get_cell(first, "tags")))
