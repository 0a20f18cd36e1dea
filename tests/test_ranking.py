"""Runs are ranked by their quality figure everywhere (runs, compare, the cockpit), and compare names
every difference that changes what the figures mean."""

from __future__ import annotations

import json

from scripted import T0, make_run
from test_tui import ScriptedSource, until
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.run.sinks import JsonlSink
from genlab.run.summary import NO_FIGURE
from tui.app import GenlabApp
from tui.screens.compare import CompareScreen
from tui.screens.runs import RunsScreen
from tui.widgets.ranking import RankingTable
from tui.widgets.runs_table import RunsTable

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def checked(run, figures: list[tuple[int, dict]]) -> None:
    """Live quality checks, as genlab writes them: ``eval`` events with ``quality: true``."""
    sink = JsonlSink(run / "events.jsonl")
    for step, values in figures:
        sink.event({"t": T0 + step * 0.02, "step": step, "kind": "eval", "quality": True, "n": 2000, **values})
    sink.close()


def gans(root):
    """cgan-b has the lowest d_loss (it ranked first by it); gan-a the best FLD; gan-d none yet."""
    checked(make_run(root, "gan-a", "gan", steps=1500), [(500, {"test_fld": 30.0}), (1400, {"test_fld": 12.5})])
    checked(make_run(root, "cgan-b", "cgan", steps=1200, state="finished"),
            [(500, {"test_fld": 20.0}), (1100, {"test_fld": 41.0})])
    make_run(root, "gan-d", "gan", steps=700)


def test_compare_ranks_by_the_quality_figure_not_the_loss(tmp_path):
    root = tmp_path / "runs"
    gans(root)
    data = json.loads(invoke("compare", "cgan-b", "gan-d", "gan-a", "--json", "--runs-dir", root).output)
    assert [r["id"] for r in data["runs"]] == ["gan-a", "cgan-b", "gan-d"]
    by_id = {r["id"]: r["ranked_by"] for r in data["runs"]}
    assert by_id["gan-a"] == {"name": "test_fld", "lower_is_better": True, "latest": 12.5, "best": 12.5,
                              "best_step": 1400, "rank": 1}
    assert by_id["cgan-b"]["latest"] == 41.0 and by_id["cgan-b"]["best"] == 20.0 and by_id["cgan-b"]["rank"] == 2
    assert by_id["gan-d"]["rank"] is None and by_id["gan-d"]["says"] == NO_FIGURE
    assert data["runs"][1]["key_metric"]["name"] == "d_loss"  # the training loss is still given
    did = invoke("compare", "cgan-b", "gan-d", "gan-a", "--runs-dir", root).output.split("how each did")[1]
    lines = [line for line in did.splitlines() if any(r in line for r in ("gan-a", "cgan-b", "gan-d"))]
    assert [line.replace("│", " ").split()[1] for line in lines] == ["gan-a", "cgan-b", "gan-d"]
    assert "test_fld 12.5" in lines[0] and NO_FIGURE in lines[2]


def test_a_vae_is_ranked_by_its_importance_sampled_nll(tmp_path):
    root = tmp_path / "runs"
    checked(make_run(root, "long", "vae", steps=900), [(800, {"test_is_nll": 96.0})])  # the lower loss
    checked(make_run(root, "short", "vae", steps=300), [(200, {"test_is_nll": 91.0})])
    data = json.loads(invoke("compare", "long", "short", "--json", "--runs-dir", root).output)
    assert [r["id"] for r in data["runs"]] == ["short", "long"]
    assert data["runs"][0]["key_metric"]["latest"] > data["runs"][1]["key_metric"]["latest"]


def test_runs_gives_each_run_its_quality_figure_and_rank(tmp_path):
    root = tmp_path / "runs"
    gans(root)
    rows = json.loads(invoke("runs", "--json", "--runs-dir", root).output)
    assert {r["id"]: r["ranked_by"]["rank"] for r in rows} == {"gan-a": 1, "cgan-b": 2, "gan-d": None}
    listing = invoke("runs", "--runs-dir", root).output
    row = {run: next(line for line in listing.splitlines() if f" {run} " in line) for run in ("gan-a", "cgan-b", "gan-d")}
    assert "#1 test_fld 12.5" in row["gan-a"] and "#2 test_fld 41" in row["cgan-b"] and NO_FIGURE in row["gan-d"]


async def test_the_cockpit_ranks_as_compare_does(tmp_path):
    root = tmp_path / "runs"
    gans(root)
    app_ = GenlabApp(ScriptedSource(root), load_models=False)
    async with app_.run_test(size=(180, 48)) as pilot:
        await until(pilot, lambda: isinstance(app_.screen, RunsScreen) and app_.screen.query_one(RunsTable).row_count == 3)
        table = app_.screen.query_one(RunsTable)
        await pilot.press("space", "space", "space", "c")
        await until(pilot, lambda: isinstance(app_.screen, CompareScreen) and app_.screen.snapshot is not None)
        ranking = app_.screen.query_one(RankingTable)
        await until(pilot, lambda: ranking.row_count == 3)
        assert [str(ranking.get_row_at(i)[1]).split()[0] for i in range(3)] == ["gan-a", "cgan-b", "gan-d"]  # labels
        quality = [str(cell) for cell in ranking.get_column("quality")]
        assert quality[0] == "test_fld 12.5" and quality[2] == NO_FIGURE
        assert [str(cell) for cell in ranking.get_column("#")] == ["1", "2", "-"]  # its rank: gan-d has none
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app_.screen, RunsScreen))
        assert str(table.get_cell("gan-a", "quality")) == "#1 test_fld 12.5"  # as `genlab runs` gives it


def test_compare_names_every_difference_that_changes_what_the_figures_mean(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "full", "vae", steps=300)
    bundled = make_run(root, "bundled", "vae", steps=300)
    config = json.loads((bundled / "config.json").read_text())
    config["data"] = {"source": "bundled", "location": "genlab/bundled", "train": 8000, "test": 2000, "notice": None}
    config.update(max_minutes=5.0, quality_every_s=10.0, amp="bf16", versions={"genlab": "0.9", "torch": "2.5"})
    (bundled / "config.json").write_text(json.dumps(config))
    data = json.loads(invoke("compare", "full", "bundled", "--json", "--runs-dir", root).output)
    assert {"data", "train_digits", "test_digits", "max_minutes", "quality_every_s", "amp", "genlab", "torch"} <= set(
        data["differs"])
    assert data["comparable"] is False and "different test sets" in data["not_comparable"]
    r = invoke("compare", "full", "bundled", "--runs-dir", root)
    assert "configurations are the same" not in r.output and "not comparable" in r.output and "data-dir" in r.output

    make_run(root, "twin", "vae", steps=300)
    for run in ("full", "twin"):  # old enough to compare (the models declare 500 steps): only settings in question
        shows = json.loads((root / run / "view.json").read_text())
        (root / run / "view.json").write_text(json.dumps({**shows, "judged_after_steps": 0, "judged_after_checks": 0}))
    same = json.loads(invoke("compare", "full", "twin", "--json", "--runs-dir", root).output)
    assert same["differs"] == [] and same["comparable"] is True and same["not_comparable"] is None


def test_every_model_declares_the_quality_figure_it_is_ranked_by():
    from genlab import models

    expected = {"gan": "test_fld", "vae": "test_is_nll", "autoregressive": "test_nll"}
    for name, cls in models.MODELS.items():
        figure, lower = cls.view.ranks_by()
        assert cls.view.metric(figure) is not None and cls.view.metric(figure).lower_is_better is True, name
        assert lower and figure == expected[cls.family], name


async def test_the_cockpit_says_figures_on_different_test_sets_are_not_comparable(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "full", "vae", steps=300)
    bundled = make_run(root, "small", "vae", steps=300)
    config = json.loads((bundled / "config.json").read_text())
    config["data"] = {"source": "bundled", "location": "genlab/bundled", "train": 8000, "test": 2000, "notice": None}
    (bundled / "config.json").write_text(json.dumps(config))
    app_ = GenlabApp(ScriptedSource(root), load_models=False)
    async with app_.run_test(size=(180, 48)) as pilot:
        await until(pilot, lambda: isinstance(app_.screen, RunsScreen) and app_.screen.query_one(RunsTable).row_count == 2)
        await pilot.press("space", "space", "c")
        await until(pilot, lambda: isinstance(app_.screen, CompareScreen) and app_.screen.snapshot is not None)
        warning = str(app_.screen.query_one("#compare-warning").render())  # (the warning line under the title)
        assert "not comparable" in warning and "different test sets" in warning


def test_runs_and_compare_fit_an_80_column_terminal(tmp_path, monkeypatch):
    """On an 80-column terminal `genlab runs` keeps every run's id, status, key metric and quality
    (tags, age and model give way: genlab/run/columns.py), and `compare` turns its table on its
    side: no line is cut."""
    import io

    from rich.console import Console
    from rich.text import Text

    import genlab.cli.runs as runs_cli

    root = tmp_path / "runs"
    gans(root)
    for command in (["runs"], ["compare", "gan-a", "cgan-b", "gan-d"]):
        screen = io.StringIO()
        monkeypatch.setattr(runs_cli, "out", Console(file=screen, width=80, force_terminal=True, highlight=False,
                                                     soft_wrap=True))
        assert invoke(*command, "--runs-dir", root).exit_code == 0
        lines = Text.from_ansi(screen.getvalue()).plain.splitlines()
        table = [line for line in lines if line[:1] in "┏┃┡│└"]
        assert table and all(len(line) <= 80 and line.rstrip()[-1] in "┓┃┩│┘" for line in table), "\n".join(lines)
        text = "\n".join(lines)
        assert all(run in text for run in ("gan-a", "cgan-b", "gan-d")) and "test_fld 12.5" in text, text
        assert command != ["runs"] or "d_loss 1.33 " in text, text  # the key metric is whole


def test_runs_are_ranked_among_those_measured_on_the_same_digits(tmp_path):
    """A figure scored on 500 digits is not ranked against figures scored on 2,000 (compare calls them
    not comparable): each run has its place among the runs measured as it was, in `genlab runs`,
    `genlab compare` and the cockpit alike."""
    root = tmp_path / "runs"
    checked(make_run(root, "wide", "gan", steps=900), [(800, {"test_fld": 12.5})])
    checked(make_run(root, "small", "gan", steps=900), [(800, {"test_fld": 10.0})])
    checked(make_run(root, "worse", "gan", steps=900), [(800, {"test_fld": 20.0})])
    config = json.loads((root / "small" / "config.json").read_text())
    (root / "small" / "config.json").write_text(json.dumps({**config, "quality_samples": 500}))
    expected = {"wide": 1, "worse": 2, "small": 1}
    rows = json.loads(invoke("runs", "--json", "--runs-dir", root).output)
    assert {r["id"]: r["ranked_by"]["rank"] for r in rows} == expected
    data = json.loads(invoke("compare", "wide", "small", "worse", "--json", "--runs-dir", root).output)
    assert {r["id"]: r["ranked_by"]["rank"] for r in data["runs"]} == expected
    assert "quality_samples" in data["not_comparable"]
    listing = invoke("runs", "--runs-dir", root).output
    assert "#1 test_fld 10" in next(line for line in listing.splitlines() if " small " in line)

