"""Seeds as bands: runs that differ only in their seed are one group, in `genlab compare` and on
the compare screen: the mean and spread of their figures, their mean curve inside a min–max band.

Four scripted runs: three GANs alike but for their seed (each with a flat d_loss and one FLD of
its own), and one with another lr. So the seed group's mean, min and max are known exactly.
"""

from __future__ import annotations

import json
import math

import pytest
from scripted import make_run, metrics_at
from test_compare_tui import mark_and_compare
from test_tui import ScriptedSource, until
from typer.testing import CliRunner

from genlab.cli.main import app as cli_app
from genlab.run import compare
from genlab.run.seed_groups import band, grouped
from tui.app import GenlabApp
from tui.widgets.curves import CurvesPlot
from tui.widgets.ranking import RankingTable

STEPS = 400
SEEDED = {"gan-s0": (0, 1.0, 20.0), "gan-s1": (1, 1.3, 24.0), "gan-s2": (2, 1.9, 25.0)}  # seed, d_loss, test_fld
OTHER = ("gan-lr", 0, 0.8, 30.0)  # lr 1e-3


def runs(root):
    def one(name, seed, d_loss, fld, lr=2e-4):
        run = make_run(root, name, "gan", steps=STEPS, state="finished", eval_every=200,
                       metrics=lambda step: {**metrics_at("gan", step), "d_loss": d_loss},
                       evals=lambda step: {"test_fld": fld})
        config = json.loads((run / "config.json").read_text())
        config.update(seed=seed, lr=lr, hp={**config["hp"], "lr": lr})
        (run / "config.json").write_text(json.dumps(config))
        return run

    paths = [one(name, *values) for name, values in SEEDED.items()]
    return [*paths, one(*OTHER, lr=1e-3)]


def test_runs_that_differ_only_in_their_seed_are_one_group(tmp_path):
    paths = runs(tmp_path)
    configs = [json.loads((p / "config.json").read_text()) for p in paths]
    assert grouped(configs) == [[0, 1, 2], [3]]
    for incidental in ({"device": "cuda"}, {"compile": True}, {"run_id": "x", "created": 1.0, "sweep": "s"}):
        assert grouped([configs[0], {**configs[1], **incidental}]) == [[0, 1]]
    assert grouped([configs[0], {**configs[1], "batch_size": 32}]) == [[0], [1]]
    assert grouped([configs[0], configs[1], {**configs[1], "run_id": "again"}]) == [[0], [1], [2]]  # a seed twice

    side = compare.compare(paths)
    seeded, lone = side.groups  # best first: the mean FLD 23 beats 30
    assert [r.run_id for r in seeded.runs] == list(SEEDED) and seeded.seeds == [0, 1, 2]
    assert (seeded.figure.n, seeded.figure.mean, seeded.figure.low, seeded.figure.high) == (3, 23.0, 20.0, 25.0)
    assert seeded.figure.std == pytest.approx(math.sqrt(7))  # the sample standard deviation
    assert (seeded.key.mean, seeded.key.low, seeded.key.high) == (pytest.approx(1.4), 1.0, 1.9)
    assert lone.n == 1 and lone.figure.mean == 30.0 and lone.figure.std == 0.0
    assert seeded.label.text == "gan-s0 ×3 lr=0.0002" and lone.label.text == "gan-lr lr=0.001"

    b = band([compare.curve(p, "d_loss") for p in paths[:3]])
    assert len(b.x) == STEPS and b.mean == pytest.approx([1.4] * STEPS) and set(b.low) == {1.0} and set(b.high) == {1.9}
    part = band([([0, 10, 20], [1.0, 1.0, 1.0]), ([0, 10], [3.0, 5.0])])  # a run not as far along: counted where it is
    assert part.x == [0, 10, 20] and part.mean == [2.0, 3.0, 1.0] and part.high == [3.0, 5.0, 1.0]


def test_compare_shows_a_group_with_its_spread_and_by_run_on_request(tmp_path):
    runs(tmp_path)
    ids = [*SEEDED, OTHER[0]]

    def cli(*args):
        r = CliRunner().invoke(cli_app, ["compare", *ids, "--runs-dir", str(tmp_path), *args])
        assert r.exit_code == 0, r.output
        return r.output

    shown = cli("--plot", "d_loss")
    assert "how each group did, best first" in shown
    assert "test_fld 23.0 ± 2.6 (20.0–25.0)" in shown and "d_loss 1.4 ± 0.4583 (1–1.9)" in shown
    assert "gan-s0 gan-s1 gan-s2" in shown and "(mean of the seeds, min–max band)" in shown
    assert "·" in shown.split("min–max band")[1]  # the band's dotted lines
    groups = json.loads(cli("--json"))["groups"]
    assert [g["runs"] for g in groups] == [list(SEEDED), [OTHER[0]]]
    assert groups[0]["ranked_by"]["mean"] == 23.0 and groups[0]["key_metric"]["max"] == 1.9
    by_run = cli("--by-run")
    assert "how each did, best first" in by_run and "group" not in by_run


async def test_the_compare_screen_draws_a_group_as_a_band(tmp_path):
    """Two groups, two curves: the seed group's mean between its min and max; one ranking row a
    group with its mean ± spread and seeds; smoothing, log scale and the time axis keep the band."""
    runs(tmp_path)
    app = GenlabApp(ScriptedSource(tmp_path), load_models=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await mark_and_compare(app, pilot, 4)
        await until(pilot, lambda: screen.overlays is not None)
        curves = screen.overlays["d_loss"].curves
        assert sorted(curves) == ["gan-lr lr=0.001", "gan-s0 ×3 lr=0.0002"]  # (in the order marked)
        group = curves["gan-s0 ×3 lr=0.0002"]
        n = len(group.y)
        assert (group.y, *group.band) == (pytest.approx([1.4] * n), pytest.approx([1.0] * n), pytest.approx([1.9] * n))
        assert group.smoothed_band is not None and curves["gan-lr lr=0.001"].band is None
        fld = screen.overlays["test_fld"]
        assert fld.evals["gan-s0 ×3 lr=0.0002"] == [(200, 23.0), (400, 23.0)]
        assert fld.eval_bands["gan-s0 ×3 lr=0.0002"] == ([200, 400], [20.0, 20.0], [25.0, 25.0])
        assert "in 2 seed groups" in str(screen.query_one("#compare-title").render())
        table = screen.query_one(RankingTable)
        await until(pilot, lambda: table.row_count == 2)
        first = [str(cell) for cell in table.get_row_at(0)]
        assert first[1] == "gan-s0 ×3 lr=0.0002" and first[5] == "test_fld 23.0 ± 2.6 (20.0–25.0) · 3 seeds"
        assert first[6] == "d_loss 1.4 ± 0.4583 (1–1.9)"
        plot = next(p for p in screen.query(CurvesPlot) if p.display)
        for key in ("e", "l", "x"):
            await pilot.press(key)
        assert plot.smooth and plot.log_scale and screen.x_axis == "time"
        await until(pilot, lambda: screen.snapshot.x == "time" and screen.snapshot.overlays is not None)
        timed = screen.overlays["d_loss"].curves["gan-s0 ×3 lr=0.0002"]
        assert max(timed.x) == pytest.approx((STEPS - 1) * 0.02 / 60, rel=0.05)
        assert timed.band[1] == pytest.approx([1.9] * len(timed.x))
        drawn = str(plot.render())  # as it is drawn: smoothed, on a log axis, against minutes
        assert "· log · EMA" in drawn and drawn.count(CurvesPlot.BAND_MARKER) > 20  # the band's dots


def test_a_band_on_the_compare_screen(tmp_path, snap_compare):
    """The seed group's mean line between the dotted lines of its min–max band, at 80x24."""
    runs(tmp_path)
    app = GenlabApp(ScriptedSource(tmp_path), load_models=False)

    async def compared(pilot):
        screen = await mark_and_compare(app, pilot, 4)
        plots = [p for p in screen.query(CurvesPlot) if p.display]
        await until(pilot, lambda: all(p.drawn is not None for p in plots))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=compared)
