"""Reading a sweep: ``genlab sweep show`` (and --json) and the cockpit's sweep screen over a
scripted sweep whose answer is known: a grid over ``lr`` (the objective depends strongly on it)
and ``beta1`` (no effect at all). Its study is written through genlab's own study module with
known values, its trials are scripted run directories: no training, seconds in all."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from scripted import T0, make_run
from test_tui import ScriptedSource, until
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.run.sweeps import SweepSpec
from genlab.sweep import study as studies
from genlab.sweep.spec import create_sweep
from tui.app import GenlabApp
from tui.screens.compare import CompareScreen
from tui.screens.dashboard import Dashboard
from tui.screens.runs import RunsScreen
from tui.screens.sweep import SweepScreen
from tui.widgets.runs_table import RunsTable
from tui.widgets.sweep_trials import SweepTrials
from tui.widgets.text_plot import TextPlot

SWEEP = "sweep-20261118-120000-gan"
LRS = (1e-4, 3e-4, 1e-3, 3e-3)
BETAS = (0.5, 0.9)


def fld_of(lr: float) -> float:
    """The known answer: the FLD is lowest at lr=1e-3 and grows fast away from it; beta1 does nothing."""
    return 20 + 60 * abs(math.log10(lr) + 3)


def make_sweep(root: Path, running: int | None = 7, name: str = SWEEP, count: int = 8) -> Path:
    """A finished grid of 8 trials (lr x beta1), but trial ``running`` (None: none), which is
    still running with two quality checks in its log and nothing told to Optuna yet. ``count``:
    the trials made (0: a sweep none of whose trials has started)."""
    spec = SweepSpec(sweep_id=name, model="gan", grid={"lr": list(LRS), "beta1": list(BETAS)}, search="grid",
                     trials=len(LRS) * len(BETAS), objective="test_fld", direction="minimize",
                     run={"max_steps": 300}, created=T0)
    sweep_dir = create_sweep(root, spec)
    study = studies.load(sweep_dir, spec)
    for n in range(count):
        trial = study.ask()
        params = studies.suggest(trial, spec)
        final = fld_of(params["lr"])
        run_id = f"{name}-{n:03d}"
        trial.set_user_attr("run_id", run_id)
        live = n == running
        run = make_run(root, run_id, "gan", steps=100 if live else 300, total=300, heartbeat=time.time() + 10**7 if live else None,
                       state="running" if live else "finished", eval_every=50,
                       evals=lambda s, f=final: {"quality": True, "test_fld": f * (1 + (300 - s) / 300)})
        config = json.loads((run / "config.json").read_text())
        config.update(sweep=name, lr=params["lr"], hp={**config["hp"], "lr": params["lr"], "beta1": params["beta1"]})
        (run / "config.json").write_text(json.dumps(config))
        if not live:
            try:
                study.tell(trial, final)
            except RuntimeError:  # the grid's last point: GridSampler asks the study to stop
                pass
    studies.snapshot(sweep_dir, study)
    return sweep_dir


def cli(*args) -> str:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


def shown(root: Path) -> dict:
    return json.loads(cli("sweep", "show", SWEEP[:12], "--json", "--runs-dir", root))


def test_show_ranks_a_running_trial_by_its_newest_objective_and_says_which_parameter_mattered(tmp_path):
    """A finished grid over lr (which decides the FLD) and beta1 (which does nothing), one trial
    still running: its newest FLD (two quality checks in its log) is its objective, not "-";
    importance puts lr first by a wide margin, over the 7 complete trials; the history's best so
    far only improves and ends at the best trial; the parallel coordinates have an axis a
    parameter that varies, then the objective, and a line a trial."""
    root = tmp_path / "runs"
    make_sweep(root)
    said = shown(root)
    by_number = {t["number"]: t for t in said["trials"]}
    live = by_number[7]
    assert live["state"] == "running" and live["value"] is None
    assert live["newest"] == live["objective"] == fld_of(live["params"]["lr"]) * (1 + 200 / 300)
    assert live["newest_step"] == 100
    objectives = [t["objective"] for t in said["trials"]]
    assert objectives == sorted(objectives)  # best first, the running trial among them by its newest
    assert said["best"]["params"]["lr"] == 1e-3 and said["best"]["objective"] == 20.0

    importance = said["importance"]
    assert importance["evaluator"] == "PED-ANOVA" and importance["trials"] == 7
    assert list(importance["params"]) == ["lr", "beta1"]
    assert importance["params"]["lr"] > 0.8 > 0.2 > importance["params"]["beta1"]

    history = said["history"]
    assert [h["number"] for h in history] == sorted(t["number"] for t in said["trials"] if t["state"] == "complete")
    bests = [h["best"] for h in history]
    assert bests == sorted(bests, reverse=True) and bests[-1] == said["best"]["objective"] == min(h["value"] for h in history)

    coords = said["coordinates"]
    assert [a["name"] for a in coords["axes"]] == ["lr", "beta1", "test_fld"]  # (the one seed says nothing)
    assert [a["kind"] for a in coords["axes"]] == ["categorical", "categorical", "objective"]
    lines = {ln["number"]: ln for ln in coords["lines"]}
    assert len(lines) == 8 and {ln["band"] for ln in lines.values()} == {0, 1, 2}
    assert lines[said["best"]["number"]]["positions"][2] == 1.0  # the best on top of the objective's axis
    assert lines[7]["positions"][:2] == [0.0, 1.0] and lines[7]["positions"][2] == 0.0  # lr=1e-4, beta1=0.9, the worst

    text = cli("sweep", "show", SWEEP, "--runs-dir", root)
    row = next(line for line in text.splitlines() if f"{SWEEP}-007" in line)
    assert "running" in row and f"{live['newest']:.4g}" in row and "newest, at step 100" in row
    assert "best so far: trial" in text and "test_fld 20 (lr=0.001" in text
    assert "importance (PED-ANOVA over 7 complete trials)" in text
    assert "history: test_fld by trial number" in text and "parallel coordinates: 8 trials; @ best third, + middle" in text
    assert "  lr: 0.0001, 0.0003, 0.001, 0.003 (bottom to top)" in text
    drawn = text[text.index("importance ("):text.index("⚠") if "⚠" in text else None]
    assert max(len(line) for line in drawn.splitlines()) <= 80  # a pipe: 80 columns, plain text
    assert "\x1b[" not in text


def test_importance_says_when_it_cannot_be_told():
    """Too few complete trials, or only one parameter that varies: one line that says so."""
    import optuna

    from genlab.sweep.importance import importance

    def study(values: list[tuple[dict, float]]):
        s = optuna.create_study()
        for params, value in values:
            s.enqueue_trial(params)  # (asked next: these values)
            t = s.ask()
            for k, v in params.items():
                t.suggest_categorical(k, [v] if k == "seed" else [1, 2, 3])
            s.tell(t, value)
        return s

    few = importance(study([({"a": 1, "b": 1}, 1.0), ({"a": 2, "b": 2}, 2.0)]))
    assert few["params"] == {} and few["trials"] == 2 and few["says"].startswith("too few complete trials")
    one = importance(study([({"a": v, "seed": 0}, float(v)) for v in (1, 2, 3)]))
    assert one["params"] == {"a": 1.0} and one["says"].startswith("only one parameter varies (a)")
    none = importance(study([({"a": 1}, float(v)) for v in (1, 2, 3)]))
    assert none["params"] == {} and none["says"] == "no parameter varies over the complete trials"


# --------------------------------------------------------------------------- the cockpit's sweep screen


async def open_sweep(app, pilot, rows: int = 9) -> SweepScreen:
    """Enter on the sweep's row of the runs screen: its screen, once it has read the sweep."""
    await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == rows)
    table = app.screen.query_one(RunsTable)
    table.move_cursor(row=table.get_row_index(f"sweep:{SWEEP}"))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.report is not None)
    return app.screen


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).content)


async def test_the_sweep_screen_ranks_the_trials_and_follows_the_sweep(tmp_path):
    """Enter on a sweep's row opens its screen: the trials ranked by the objective (the running
    one by its newest value), the best so far, the importance, the history, the parallel
    coordinates and every trial's objective curve; a new quality check in the running trial's
    log moves it up; c compares the trials' curves, Enter on a trial opens its dashboard, Esc
    comes back."""
    root = tmp_path / "runs"
    make_sweep(root)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_sweep(app, pilot)
        table = screen.query_one(SweepTrials)
        live = f"{SWEEP}-007"
        order = [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]
        assert len(order) == 8 and order[-1] == live and str(table.get_cell(live, "test_fld")) == "133.3 (step 100)"
        assert text_of(screen, "#sweep-best").startswith("best so far: trial ") and "test_fld 20 (lr=0.001" in text_of(
            screen, "#sweep-best")
        assert text_of(screen, "#sweep-importance").splitlines()[:2] == [
            "importance (PED-ANOVA over 7 complete trials)", text_of(screen, "#sweep-importance").splitlines()[1]]
        assert text_of(screen, "#sweep-importance").splitlines()[1].lstrip().startswith("lr ")
        await until(pilot, lambda: all(p.drawn_for is not None for p in screen.query(TextPlot)))
        assert "history: test_fld by trial number" in text_of(screen, "#sweep-history")
        assert "parallel coordinates: 8 trials" in text_of(screen, "#sweep-coordinates")
        assert "test_fld of each trial" in text_of(screen, "#sweep-curves") and "#7" in text_of(screen, "#sweep-curves")

        with open(root / live / "events.jsonl", "a") as f:  # the running trial's next quality check: the best yet
            f.write(json.dumps({"t": T0 + 10, "step": 150, "kind": "eval", "quality": True, "test_fld": 10.0}) + "\n")
        await until(pilot, lambda: table.row_count and str(table.get_row_at(0)[-1]) == live)
        assert str(table.get_cell(live, "test_fld")) == "10 (step 150)"
        assert text_of(screen, "#sweep-best").startswith("best so far: trial ")  # the best complete trial still

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert sorted(app.screen.run_ids) == [f"{SWEEP}-{n:03d}" for n in range(8)]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")  # on a trial: its dashboard
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.run_id == live)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_sweep_screen_snapshot(size, tmp_path, snap_compare):
    """A finished grid's screen: at 200x50 the trials and importance beside the plots, at 80x24
    one column that scrolls."""
    root = tmp_path / "runs"
    make_sweep(root, running=None)
    app = GenlabApp(ScriptedSource(root), load_models=False)

    async def opened(pilot):
        screen = await open_sweep(app, pilot)
        await until(pilot, lambda: all(p.drawn_for is not None for p in screen.query(TextPlot) if p.region.height))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=opened)
