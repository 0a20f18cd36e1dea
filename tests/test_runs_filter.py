"""The runs table a user can work with: the one filter of runs (genlab/run/filter.py) in
`genlab runs --filter` and the cockpit's `/`; sorting by any column, pinning, a sweep's trials
kept under it; the table at 80x24 (the state and key metric in view, the rest sideways)."""

from __future__ import annotations

import json

import pytest
from scripted import T0, make_run
from test_tui import ScriptedSource, until
from typer.testing import CliRunner

from genlab.cli.main import app as cli
from genlab.errors import UsageError
from genlab.run import tags
from genlab.run.filter import parse
from genlab.sweep.spec import SweepSpec
from tui.app import GenlabApp
from tui.screens.runs import RunsScreen
from tui.widgets.runs_table import RunsTable

SWEEP = "sweep-x"


def runs_and_a_sweep(root):
    """Five runs and a sweep of three trials (gan, cgan, vae) over the models."""
    make_run(root, "gan-a", "gan", steps=1500)
    make_run(root, "vae-b", "vae", steps=900, state="finished")
    make_run(root, "pix-c", "pixelcnn", steps=1000, state="finished")  # a test NLL: ranked #2
    make_run(root, "pix-d", "pixelcnn", steps=2000)  # ranked #1
    make_run(root, "cgan-e", "cgan", steps=1200, state="crashed")
    tags.change(root / "gan-a", add=["best"])
    tags.change(root / "pix-d", add=["best", "long"])
    d = root / SWEEP
    (d / "workers").mkdir(parents=True)
    spec = SweepSpec(sweep_id=SWEEP, model=None, grid={"model": ["gan", "cgan", "vae"]}, trials=3,
                     objective="test_fld", created=T0)
    (d / "sweep.json").write_text(json.dumps(spec.to_json()))
    (d / "wanted.json").write_text(json.dumps({"want": "run", "t": T0}))
    trials = []
    for i, (model, steps, state) in enumerate((("gan", 800, "finished"), ("cgan", 1000, "finished"), ("vae", 600, "running"))):
        run = make_run(root, f"{SWEEP}-{i:03d}", model, steps=steps, state=state)
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, "sweep": SWEEP}))
        trials.append({"number": i, "run_id": run.name, "params": {"model": model},
                       "state": "complete" if state == "finished" else "running", "value": 30.0 - i if state == "finished" else None})
    (d / "trials.json").write_text(json.dumps({"trials": trials, "t": T0}))
    (d / "log.txt").touch()


# --------------------------------------------------------------------------- the filter


def test_a_filter_matches_words_fields_configuration_and_metrics():
    run = {"id": "gan-live", "model": "gan", "state": "running", "tags": ["best", "lr=0.1"],
           "config": {"lr": 0.001, "hp": {"latent": 20}, "data": {"source": "data-dir"}}, "metrics": {"d_loss": 1.2}}
    matching = ["", "gan", "GAN live", "runn", "bes", "model=gan", "state=running", "tag=best", "id=gan",
                "lr=0.001", "lr=1e-3", "lr<0.01", "lr>=0.001", "latent=20", "data.source=DATA-DIR", "d_loss<1.3",
                "model!=vae", "lr=0.1"]  # the last: a tag that reads like a comparison
    failing = ["vae", "model=cgan", "state=paused", "tag=worst", "tag!=best", "id=live", "lr=0.002", "lr>0.01",
               "nope=3", "d_loss>2", "gan crashed", "latent<10"]
    assert [f for f in matching if not parse(f).matches(run)] == []
    assert [f for f in failing if parse(f).matches(run)] == []
    assert parse("state=unreadable").matches({**run, "state": "unreadable: status.json is not JSON"})
    assert parse("  gan   lr=0.001 ").text == "gan lr=0.001" and not parse(" ")
    for bad, says in (("=3", "a key before '='"), ("lr=", "a value after '='"), ("lr<abc", "compares numbers"),
                      ("a/b=3", "a key is letters")):
        with pytest.raises(UsageError, match=says):
            parse(bad)
    sweep = {"id": f"sweep:{SWEEP}", "model": "gan,cgan", "state": "running", "tags": []}
    assert parse("").keeps_sweep(sweep, 0) and parse("vae").keeps_sweep(sweep, 1) and not parse("vae").keeps_sweep(sweep, 0)


def test_genlab_runs_filter(tmp_path):
    root = tmp_path / "runs"
    runs_and_a_sweep(root)
    runner = CliRunner()

    def runs(*args):
        r = runner.invoke(cli, ["runs", "--runs-dir", str(root), *args])
        return r.exit_code, r.output

    code, said = runs("--filter", "lr=0.001 state=finished")
    assert code == 0, said
    title = " ".join(said.split())  # (a long temporary path wraps the title)
    assert "3 of 8 runs in" in title and "match 'lr=0.001 state=finished'" in title
    assert "vae-b" in said and "pix-c" in said and "gan-a" not in said and "pix-d" not in said
    lines = said.splitlines()  # a sweep's matching trial is under its sweep's row, the others are not
    head = next(i for i, line in enumerate(lines) if f"sweep {SWEEP}" in line)
    assert f"{SWEEP}-001" in lines[head + 1] and f"{SWEEP}-000" not in said and f"{SWEEP}-002" not in said
    code, said = runs("--filter", "tag=best", "--json")
    assert code == 0 and [r["id"] for r in json.loads(said)] == ["gan-a", "pix-d"]
    code, said = runs("--filter", "nothing-like-this")
    assert code == 0 and "no runs match 'nothing-like-this'" in said
    code, said = runs("--filter", "lr<fast")
    assert code == 2 and said.strip().count("\n") == 0 and "'<' compares numbers" in said


# --------------------------------------------------------------------------- the cockpit


def shown(table: RunsTable) -> list[str]:
    return [str(k.value) for k in table.rows]


async def test_the_cockpit_filters_as_you_type_sorts_and_pins(tmp_path):
    root = tmp_path / "runs"
    runs_and_a_sweep(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 9)
        screen, table = app.screen, app.screen.query_one(RunsTable)
        info = screen.query_one("#runs-info")
        assert shown(table) == ["cgan-e", "gan-a", "pix-c", "pix-d", "vae-b", f"sweep:{SWEEP}", *(f"{SWEEP}-00{i}" for i in range(3))]

        await pilot.press("slash", *"lr=0.001")
        await until(pilot, lambda: table.row_count == 7)  # as typed: "lr=0.001" so far
        await pilot.press("space", *"state=finished")
        await until(pilot, lambda: shown(table) == ["pix-c", "vae-b", f"sweep:{SWEEP}", f"{SWEEP}-001"])
        assert "3 of 8 runs match 'lr=0.001 state=finished'" in str(info.render())
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace")
        assert "a value after '='" in str(info.render()) and table.row_count == 0  # half typed: said; 'state=f' still holds
        await pilot.press("escape")  # cleared and closed
        await until(pilot, lambda: table.row_count == 9)
        assert not screen.query_one("#filter").display and not info.display

        await pilot.press("f", *"model=pixelcnn", "enter")  # f too; Enter keeps the filter, back on the table
        await until(pilot, lambda: shown(table) == ["pix-c", "pix-d"])
        assert table.has_focus and not screen.query_one("#filter").display
        for _ in range(6):  # o: by run, model, status, health, progress, key metric
            await pilot.press("o")
        assert shown(table) == ["pix-d", "pix-c"]  # bpd: lower is better, best first
        assert "sorted by key metric, best first" in str(info.render()) and "key metric ▲" in str(table.columns["key metric"].label)
        await pilot.press("O")
        assert shown(table) == ["pix-c", "pix-d"] and "worst first" in str(info.render())
        await pilot.press("escape")

        await pilot.press("o")  # by quality: by rank, #1 first, the unranked after in their order
        assert shown(table)[:2] == ["pix-d", "pix-c"] and "quality" in str(info.render())
        x = sum(c.get_render_width(table) for c in table.ordered_columns[:1]) + 2
        await pilot.click(RunsTable, offset=(x, 0))  # the model column's header
        await until(pilot, lambda: table.sort_column == "model")
        assert shown(table) == ["cgan-e", "gan-a", f"sweep:{SWEEP}", f"{SWEEP}-001", f"{SWEEP}-000", f"{SWEEP}-002",
                                "pix-c", "pix-d", "vae-b"]  # the sweep ("gan,cgan,vae") with its trials, sorted among themselves
        await pilot.click(RunsTable, offset=(x, 0))  # again: the other way (ties as listed)
        await until(pilot, lambda: table.descending)
        assert shown(table) == ["vae-b", "pix-c", "pix-d", f"sweep:{SWEEP}", f"{SWEEP}-002", f"{SWEEP}-000", f"{SWEEP}-001",
                                "gan-a", "cgan-e"]

        table.move_cursor(row=table.get_row_index("pix-c"))
        await pilot.press("P")  # pinned to the top, with its mark
        assert shown(table)[0] == "pix-c" and str(table.get_cell("pix-c", "run")).startswith("★")
        assert "1 pinned" in str(info.render()) and table.selected_run() == "pix-c"
        table.move_cursor(row=table.get_row_index(f"{SWEEP}-002"))
        await pilot.press("P")  # a trial: pinned to the top of its sweep
        assert shown(table)[3:7] == [f"sweep:{SWEEP}", f"{SWEEP}-002", f"{SWEEP}-000", f"{SWEEP}-001"]
        await pilot.press("space")  # marks survive sorting; c compares in the table's order
        table.move_cursor(row=table.get_row_index("pix-c"))
        await pilot.press("P", "space", "c")
        await until(pilot, lambda: not isinstance(app.screen, RunsScreen))
        assert app.screen.run_ids == ["pix-c", f"{SWEEP}-002"]


async def test_at_80_columns_the_state_and_key_metric_stay_in_view(tmp_path):
    root = tmp_path / "runs"
    runs_and_a_sweep(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 9)
        table = app.screen.query_one(RunsTable)
        keys = [c.key.value for c in table.ordered_columns]
        assert keys[:4] == ["run", "status", "progress", "key metric"]  # the rest sideways
        assert sum(c.get_render_width(table) for c in table.ordered_columns[:4]) <= 80
        assert str(table.get_cell(f"sweep:{SWEEP}", "model")) == "3 models" and str(table.get_cell("pix-d", "progress")) == "43%"
        footer = [" ".join(str(k.render()).split()) for k in app.screen.query("FooterKey")]
        assert {"/ filter", "o/O sort", "P pin", "q quit"} <= set(footer)
        assert sum(k.size.width for k in app.screen.query("FooterKey")) <= 80
        for _ in range(12):
            await pilot.press("right")
        await until(pilot, lambda: table.scroll_x > 0)
        scrolled = table.scroll_x
        table.show([dict(r) for r in table.last_rows])  # the runs listed again: the table stays where it is
        await pilot.pause()
        assert table.scroll_x == scrolled
        table.show(table.last_rows[1:])  # a run fewer: redrawn, still there
        await until(pilot, lambda: table.row_count == 8)
        await pilot.pause()
        assert table.scroll_x == scrolled

        (root / "gan-a" / "status.json").write_text('{"state": "runn')  # unreadable: the word, not its reason
        await until(pilot, lambda: "gan-a" in table.rows and str(table.get_cell("gan-a", "status")) == "unreadable")
        assert sum(c.get_render_width(table) for c in table.ordered_columns[:4]) <= 80


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_runs_screen_snapshot(size, tmp_path, snap_compare):
    root = tmp_path / "runs"
    runs_and_a_sweep(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)

    async def listed(pilot):
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 9)
        app.screen.query_one("#title").update("genlab · runs in runs")  # not the test's own temporary path
        await pilot.press("o", "o", "o", "o", "o", "o", "down", "P")  # by key metric, one run pinned
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=listed)


def test_genlab_runs_at_80_columns_keeps_the_state_and_key_metric(tmp_path, monkeypatch):
    """On an 80-column terminal the columns give way in their order (genlab/run/columns.py):
    a sweep's models are counted, the tags, age and model go; the id, state, steps and key
    metric stay."""
    import io
    import re

    from rich.console import Console

    import genlab.cli.runs

    root = tmp_path / "runs"
    runs_and_a_sweep(root)
    screen = io.StringIO()
    monkeypatch.setattr(genlab.cli.runs, "out", Console(file=screen, width=80, force_terminal=True, no_color=True))
    r = CliRunner().invoke(cli, ["runs", "--runs-dir", str(root)])
    assert r.exit_code == 0, r.output
    lines = re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue()).splitlines()  # as seen: no styles
    header = next(line for line in lines if "status" in line)
    assert all(col in header for col in ("id", "status", "step", "key metric")) and "age" not in header
    assert max(len(line) for line in lines) <= 80
    assert any("crashed" in line and "d_loss 1.093" in line for line in lines)
    assert any(f"{SWEEP}-002" in line and "loss 120.7" in line for line in lines)
    assert "gan,cgan,vae" not in "\n".join(lines)
