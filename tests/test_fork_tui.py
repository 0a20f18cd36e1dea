"""Forking in the cockpit: `f` on a dashboard (the fork form, at the step the samples history
shows) and a fork compared with its parent (its curves branch off the parent's line at the fork
step; without the parent, they include the inherited stretch). Scripted runs, a fake launch."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
from scripted import T0, make_run, metrics_at
from test_tui import ScriptedSource, until

from genlab.run.compare import curve, drawn_from
from genlab.run.filter import parse
from genlab.run.metrics_log import MetricsBinSink
from genlab.run.sinks import JsonlSink
from tui.app import GenlabApp
from tui.screens.compare import CompareScreen
from tui.screens.dashboard import Dashboard
from tui.screens.fork_form import ForkForm
from tui.widgets.event_log import EventLog
from tui.widgets.runs_table import RunsTable, arranged, fork_depths

SHAPES = "--hp width changes the shapes of the weights: a fork can change only what keeps them"


def keep_checkpoints(run, *steps: int) -> None:
    """Checkpoint files at ``steps`` (empty: the cockpit only lists them)."""
    for step in steps:
        (run / "checkpoints" / f"step-{step:08d}.pt").write_bytes(b"")


def add_grids(run, *steps: int) -> None:
    """Older sample grids, for the dashboard's samples history."""
    digits = np.load(next((run / "samples").glob("*.npy")))
    with open(run / "events.jsonl", "a") as f:
        for step in steps:
            np.save(run / "samples" / f"step-{step:08d}.npy", digits)
            f.write(json.dumps({"t": T0 + step * 0.02, "step": step, "kind": "samples", "n": 64, "seconds": 0.01,
                                "png": f"samples/step-{step:08d}.png", "npy": f"samples/step-{step:08d}.npy"}) + "\n")


def make_fork(root, name: str, parent: str, at: int, steps: int, lr: float = 1e-4):
    """A fork of ``parent`` at step ``at`` as `genlab fork` leaves it: its config.json names its
    parent and step; its own record starts after it (a lower g_loss: it branches off)."""
    run = root / name
    (run / "samples").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    config = json.loads((root / parent / "config.json").read_text())
    config.update(run_id=name, lr=lr, hp={**config["hp"], "lr": lr}, forked_from={"run": parent, "step": at})
    (run / "config.json").write_text(json.dumps(config))
    shutil.copy(root / parent / "view.json", run / "view.json")
    sinks = [JsonlSink(run / "events.jsonl"), MetricsBinSink(run)]
    for s in sinks:
        s.event({"t": T0 + at * 0.02, "step": at, "kind": "state", "state": "running"})
    for step in range(at + 1, steps + 1):
        m = {**metrics_at("gan", step), "g_loss": 0.5 + 0.1 * math.cos(step / 100)}
        for s in sinks:
            s.event({"t": T0 + step * 0.02, "step": step, "kind": "metrics", "epoch": 1, **m})
    for s in sinks:
        s.event({"t": T0 + steps * 0.02, "step": steps, "kind": "state", "state": "finished"})
        s.close()
    (run / "status.json").write_text(json.dumps({"state": "finished", "step": steps, "total_steps": 4685,
                                                  "model": "gan", "started": T0, "updated": T0 + steps * 0.02}))
    return run


class ForkingSource(ScriptedSource):
    """Records each fork asked for; a width in --hp fails as genlab fails it, else the fork is made."""

    def __init__(self, root):
        super().__init__(root)
        self.forks = []

    def fork(self, run_id, options):
        self.forks.append((run_id, options))
        if any(o.startswith("width=") for o in options):
            raise RuntimeError(SHAPES)
        at = int(options[options.index("--at") + 1])
        make_fork(self.root, f"{run_id}-fork{at}", run_id, at, at + 100)
        return f"{run_id}-fork{at}"


async def test_f_forks_at_the_samples_shown(tmp_path):
    root = tmp_path / "runs"
    parent = make_run(root, "p", "gan", steps=2000)
    keep_checkpoints(parent, 500, 1500, 2000)
    add_grids(parent, 800, 1600)
    make_run(root, "bare", "gan", steps=300)  # no checkpoint kept
    source = ForkingSource(root)
    app = GenlabApp(source, open_run="bare", load_models=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        await pilot.press("f")  # no checkpoint: said, no form
        await until(pilot, lambda: "no checkpoint kept yet: a run keeps one every" in
                    " ".join(s.text for s in app.screen.query_one(EventLog).lines))
        assert not isinstance(app.screen, ForkForm)

        app.open_run("p")
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.run_id == "p"
                    and app.screen.snapshot is not None and len(app.screen.snapshot.grids) == 3)
        dash = app.screen
        await pilot.press("f")  # the newest samples: the newest checkpoint
        await until(pilot, lambda: isinstance(app.screen, ForkForm))
        assert app.screen.step == 2000
        await pilot.press("escape")  # cancelled: nothing launched
        await until(pilot, lambda: app.screen is dash)
        assert source.forks == []

        await pilot.press("left", "f")  # the grid of step 1,600: the checkpoint at 1,500
        await until(pilot, lambda: isinstance(app.screen, ForkForm))
        form = app.screen
        title = str(form.query_one("#fork-title").render())
        assert "fork p at step 1,500" in title, title
        assert "500, 1,500, 2,000" in str(form.query_one("#fork-steps").render())
        assert form.field("lr") == "0.0002" and form.field("at") == "1500"

        def error() -> str:
            return str(form.query_one("#fork-error").render())

        form.query_one("#fork-at").value = "100"  # before every checkpoint: said in the form, nothing launched
        await pilot.press("enter")
        await until(pilot, lambda: "no checkpoint at or before step 100" in error())
        assert source.forks == []

        form.query_one("#fork-at").value = "1500"
        form.query_one("#fork-hp").value = "width=32"  # genlab's refusal, in the form
        await pilot.press("enter")
        await until(pilot, lambda: SHAPES in error())
        assert app.screen is form

        form.query_one("#fork-hp").value = ""
        form.query_one("#fork-lr").value = "0.0001"
        form.query_one("#fork-max_steps").value = "3000"
        await pilot.press("enter")  # the fork starts and its dashboard opens
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.run_id == "p-fork1500")
        assert source.forks[-1] == ("p", ["--at", "1500", "--lr", "0.0001", "--max-steps", "3000"])
        assert app.screen_stack.count(dash) == 0  # (the fork's dashboard in place of its parent's)

        # the runs table: the fork under its parent
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.query(RunsTable) and app.screen.query_one(RunsTable).row_count == 3)
        table = app.screen.query_one(RunsTable)
        ids = [r["id"] for r in table.shown]
        assert ids.index("p-fork1500") == ids.index("p") + 1
        assert str(table.run_cell(table.shown[ids.index("p-fork1500")])).startswith("└ ")

        # compared with its parent: its curves start at the fork step, labelled as a fork
        app.open_comparison(["p", "p-fork1500"])
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.snapshot is not None
                    and app.screen.snapshot.overlays is not None)
        curves = app.screen.snapshot.overlays["g_loss"].curves
        (parent_label, parent_curve), (fork_label, fork_curve) = curves.items()
        assert "⑂@1,500" in fork_label and "⑂" not in parent_label
        assert fork_curve.x[0] == 1500 and parent_curve.x[0] < 100


def test_a_fork_compared_without_its_parent_draws_the_inherited_stretch(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "p", "gan", steps=2000, state="finished")
    make_run(root, "q", "gan", steps=2000, state="finished")
    make_fork(root, "k", "p", 1000, 2000)
    make_fork(root, "kk", "k", 1500, 2000)  # a fork of the fork

    def first_steps(ids):
        comparison = ScriptedSource(root).comparison(ids)
        comparison.poll()
        snap = comparison.snapshot(max_buckets=200)
        return {label.split()[0]: (c.x[0], c.smoothed_x[0]) for label, c in snap.overlays["g_loss"].curves.items()}

    alone = first_steps(["q", "k"])  # its parent is not compared: the inherited stretch is drawn
    assert alone["k"][0] < 100 and alone["k"][1] < 100
    with_parent = first_steps(["p", "k", "kk"])  # each branches off the nearest ancestor compared
    assert with_parent["p"][0] < 100 and with_parent["k"] == (1000, 1000) and with_parent["kk"] == (1500, 1500)
    grandparent = first_steps(["p", "kk"])  # its parent is not, its grandparent is: where the line left the grandparent's
    assert grandparent["kk"][0] == 1000

    # the runs table: each fork under its parent, a fork of a fork deeper
    rows = ScriptedSource(root).rows()
    assert fork_depths(rows) == {"k": (1, 1000), "kk": (2, 1500)}
    assert [r["id"] for r in arranged(rows, parse(""), None, False, set())] == ["p", "k", "kk", "q"]

    # `genlab compare --plot`'s curves: the same
    runs = [root / "p", root / "k", root / "q"]
    starts = drawn_from(runs, [json.loads((r / "config.json").read_text()) for r in runs])
    assert starts == [None, 1000, None]
    assert curve(root / "k", "g_loss", since=starts[1])[0][0] == 1000 and curve(root / "k", "g_loss")[0][0] == 1

    # the ranking's figures of a fork are its own (as `genlab compare` gives them), not its parent's stretch
    make_fork(root, "late", "p", 1800, 2000)
    comparison = ScriptedSource(root).comparison(["p", "late"])
    comparison.poll()
    ranked = {s.run_id: s for s in comparison.snapshot(max_buckets=200).runs}
    assert ranked["p"].key_best_step < 1800 < ranked["late"].key_best_step
