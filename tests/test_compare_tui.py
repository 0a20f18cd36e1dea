"""The compare screen: marking runs, opening the comparison, its keys, and how it looks."""

from __future__ import annotations

import pytest
from scripted import make_run
from test_tui import ScriptedSource, until

from tui.app import GenlabApp
from tui.screens.compare import CompareScreen
from tui.screens.dashboard import Dashboard
from tui.screens.runs import RunsScreen
from tui.widgets.curves import CurvesPlot
from tui.widgets.ranking import RankingTable
from tui.widgets.runs_table import RunsTable
from tui.widgets.samples import SamplesPane


def four(root):
    make_run(root, "gan-a", "gan", steps=1500)
    make_run(root, "cgan-b", "cgan", steps=1200, state="finished")
    make_run(root, "gan-d", "gan", steps=700)
    make_run(root, "vae-c", "vae", steps=900)


async def mark_and_compare(app, pilot, n: int) -> CompareScreen:
    await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 4)
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
        assert ranking.row_count == 3 and str(ranking.get_row_at(0)[1]) == "cgan-b"  # none has a quality figure yet: in the order marked

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


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_compare_snapshot(size, tmp_path, snap_compare):
    root = tmp_path / "runs"
    four(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)

    async def compared(pilot):
        screen = await mark_and_compare(app, pilot, 3)
        await until(pilot, lambda: all(g.images is not None for g in screen.query(SamplesPane) if g.display))
        plots = [p for p in screen.query(CurvesPlot) if p.display]
        await until(pilot, lambda: all("waiting" not in str(p.render()) for p in plots))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=compared)


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
