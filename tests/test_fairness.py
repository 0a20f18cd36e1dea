"""Fair comparisons: the load in the vital signs, overloaded runs marked, why a set of runs is not
comparable (compare, its screen, a sweep's end), and the cures recipe's lesson in words.

Everything runs on scripted run directories (tests/scripted.py) with the events a real run
writes: no training. The cures sweep's worker is a stand-in that writes scripted trials.
"""

from __future__ import annotations

import json
import time

from scripted import T0, make_run
from test_compare_tui import mark_and_compare
from test_tui import ScriptedSource, until
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app
from genlab.run import compare, vitals
from genlab.run.follow import RunFollower
from genlab.run.sinks import JsonlSink
from genlab.run.summary import summarise
from genlab.sweep.lesson import told
from genlab.sweep.plan import RECIPES
from genlab.train import vitals as sampling

CURES = RECIPES["cures"]["lesson"]


def cli(*args) -> str:
    r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    return r.output


def append(run, events: list[dict]) -> None:
    """Events appended as the trainer appends them (events.jsonl and its index)."""
    sink = JsonlSink(run / "events.jsonl")
    for e in events:
        sink.event(e)
    sink.close()


def loads(run, values: list[float]) -> None:
    """The run's vital signs, one every 5 s, with these loads per core."""
    append(run, [{"t": T0 + 5 * i, "step": 10 * i, "kind": "system", "cpu_percent": 95.0, "rss_mb": 400.0,
                  "mem_percent": 30.0, "load": v} for i, v in enumerate(values)])


def judged_after(run, steps: int = 0, checks: int = 0) -> None:
    """The run's view, judged (and comparable) after so many steps and quality checks."""
    shows = json.loads((run / "view.json").read_text())
    (run / "view.json").write_text(json.dumps({**shows, "judged_after_steps": steps, "judged_after_checks": checks}))


# --------------------------------------------------------------------------- the load


def test_load_and_steal_are_read_from_the_kernels_text(tmp_path, monkeypatch):
    assert sampling.load_from("3.00 1.80 1.20 3/412 8812\n", cores=2) == 1.5
    assert sampling.load_from("", cores=2) is None
    stat = "cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 50 0 25 400 5 0 0 20 0 0\nintr 1 2 3\n"
    assert sampling.cpu_times(stat) == (40.0, 1000.0)
    assert sampling.cpu_times("cpu  100 0 50 800 10 0 0\n") is None  # no steal column: none reported
    later = sampling.cpu_times("cpu  200 0 100 1600 20 0 0 120 0 0\n")
    assert sampling.steal_percent((40.0, 1000.0), later) == 100 * 80 / 1040
    assert sampling.steal_percent(None, later) is None and sampling.steal_percent(later, later) is None

    # the trainer's sample: the load against the cores, steal over the interval; absent where not said
    monkeypatch.setattr(sampling, "LOADAVG", tmp_path / "loadavg")
    monkeypatch.setattr(sampling, "STAT", tmp_path / "stat")
    monkeypatch.setattr(sampling, "cores", lambda: 4)
    (tmp_path / "loadavg").write_text("6.00 5.00 4.00 9/300 123\n")
    (tmp_path / "stat").write_text(stat)
    v = sampling.Vitals("cpu")
    (tmp_path / "stat").write_text("cpu  200 0 100 1600 20 0 0 120 0 0\n")
    s = v.sample()
    assert s["load"] == 1.5 and s["steal"] == round(100 * 80 / 1040, 1)
    (tmp_path / "stat").write_text("cpu  300 0 150 2400 30 0 0\n")  # a kernel that reports no steal
    assert "steal" not in v.sample() and "steal" not in sampling.Vitals("cpu").sample()
    assert vitals.line({"cpu_percent": 187.0, "rss_mb": 812.0, "load": 2.34, "steal": 7.2}) == \
        "cpu 187% · rss 812 MB · load 2.3× · steal 7%"
    assert vitals.line({"cpu_percent": 99.0, "load": 0.84, "steal": 0.0}) == "cpu 99% · load 0.8×"  # no steal: not said


def test_the_cores_are_the_machines_not_a_pinned_trials_share():
    """A sweep's trial pinned to one core of several still counts the load against them all."""
    import os

    assert sampling.cores() >= len(os.sched_getaffinity(0))
    assert sampling.machine_load() is not None  # (Linux: /proc/loadavg)


def test_an_overloaded_run_is_marked_wherever_runs_are_ranked_or_compared(tmp_path):
    root = tmp_path / "runs"
    busy, calm, brief = make_run(root, "busy", "gan"), make_run(root, "calm", "gan"), make_run(root, "brief", "gan")
    for run in (busy, calm, brief):
        judged_after(run)  # old enough to compare: only the load is in question
    loads(busy, [2.3, 2.6, 0.4, 2.1, 2.3])  # median 2.3: more than half its time oversubscribed
    loads(calm, [0.5, 0.6, 3.0, 0.4, 0.5])  # a burst, not a busy machine
    loads(brief, [3.0, 3.0])  # too few samples to say
    s = summarise(busy)
    assert s.overloaded and s.load == 2.3 and s.overload_mark() == "⚠ overloaded (load 2.3×)"
    assert not summarise(calm).overloaded and summarise(calm).load_text() == "0.5×"
    assert not summarise(brief).overloaded
    follower = RunFollower(busy)
    follower.poll()  # the cockpit's summary of the same run says the same
    from genlab.run.summary import of_follower
    assert of_follower(follower.view, s.view).overload_mark() == "⚠ overloaded (load 2.3×)"

    listed = cli("runs", "--runs-dir", root)
    busy_line = next(line for line in listed.splitlines() if "busy" in line)
    assert "⚠ overloaded (load 2.3×)" in busy_line
    assert "overloaded" not in "".join(line for line in listed.splitlines() if "calm" in line or "brief" in line)

    shown = cli("compare", "busy", "calm", "--runs-dir", root)
    assert "⚠ trained on an overloaded machine: busy (load 2.3×)" in shown
    assert "⚠ overloaded (load 2.3×)" in shown and "0.5×" in shown and "(not comparable)" in shown
    data = json.loads(cli("compare", "busy", "calm", "--json", "--runs-dir", root))
    assert data["comparable"] is False and len(data["warnings"]) == 1
    assert {r["id"]: r["overloaded"] for r in data["runs"]} == {"busy": True, "calm": False}


# --------------------------------------------------------------------------- comparability


def test_comparability_says_why_runs_are_not_a_fair_comparison(tmp_path):
    root = tmp_path / "runs"
    a, b = make_run(root, "gan-a", "gan", steps=2000), make_run(root, "gan-b", "gan", steps=800)
    for run in (a, b):
        judged_after(run)
    assert compare.comparability([summarise(a), summarise(b)]) == []  # judged from the first step

    for run in (a, b):  # the views the health engine declares: judged after 1,000 steps and 2 quality checks
        judged_after(run, steps=1000, checks=2)
    assert compare.comparability([summarise(a), summarise(b)], {"gan-b": "#1"}) == [
        "too short to judge: gan-a 0 of 2 quality checks; #1 800 of 1,000 steps and 0 of 2 quality checks"]
    fld = [{"t": T0 + i, "step": 500 * i, "kind": "eval", "quality": True, "test_fld": 90.0 - i} for i in (1, 2)]
    append(a, fld)
    append(b, fld[:1])
    assert compare.comparability([summarise(a), summarise(b)]) == [
        "too short to judge: gan-b 800 of 1,000 steps and 1 of 2 quality checks"]

    config = json.loads((b / "config.json").read_text())
    config["data"] = {**config["data"], "location": "/elsewhere/fashion-mnist"}
    (b / "config.json").write_text(json.dumps(config))
    loads(b, [2.0] * 4)
    said = compare.comparability([summarise(a), summarise(b)])
    assert said[0] == "not comparable: the figures were measured on different test sets (data_location differ)"
    assert said[1].startswith("too short to judge") and said[2].startswith(
        "trained on an overloaded machine: gan-b (load 2.0×)")

    # the bundled sample is the same digits wherever genlab is installed
    for run in (a, b):
        config = json.loads((run / "config.json").read_text())
        config["data"] = {"source": "bundled", "location": f"/venv-{run.name}/genlab/data", "train": 9000, "test": 1000}
        (run / "config.json").write_text(json.dumps(config))
    assert not compare.not_comparable([summarise(a).config, summarise(b).config])


async def test_the_compare_screen_says_why_in_one_warning_line(tmp_path):
    from tui.app import GenlabApp
    from tui.screens.compare import CompareScreen

    root = tmp_path / "runs"
    for name, steps in (("gan-a", 1500), ("gan-b", 900)):
        judged_after(make_run(root, name, "gan", steps=steps))
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await mark_and_compare(app, pilot, 2, rows=2)
        line = screen.query_one("#compare-warning")
        assert not line.display  # a fair comparison: no line
        await pilot.press("escape")
    for run in (root / "gan-a", root / "gan-b"):
        judged_after(run, steps=1000)
    loads(root / "gan-a", [1.9] * 3)
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await mark_and_compare(app, pilot, 2, rows=2)
        line = screen.query_one("#compare-warning")
        await until(pilot, lambda: line.display and "overloaded" in str(line.render()))
        text = str(line.render())
        assert text.startswith("⚠ too short to judge") and "gan-b 900 of 1,000 steps" in text
        assert "trained on an overloaded machine: gan-a (load 1.9×)" in text
        assert line.region.height == 1 and isinstance(app.screen, CompareScreen)


# --------------------------------------------------------------------------- the cures recipe's lesson

FIGURES = {  # model: (FLD, class histogram, share the judge is sure of)
    "gan": (310.2, [0.3, 0.0, 0.0, 0.25, 0.0, 0.0, 0.2, 0.25, 0.0, 0.0], 0.7),
    "dcgan": (95.1, [0.1] * 10, 0.9),
    "wgan-gp": (120.4, [0.12, 0.12, 0.1, 0.1, 0.1, 0.1, 0.12, 0.12, 0.12, 0.0], 0.8),
    "cgan": (88.0, [0.1] * 10, 0.95),
}


def cures_trials(root, sweep: str = "cures", figures: dict = FIGURES, steps: int = 1500) -> list:
    """The cures recipe's four trials, finished, each with its quality check's figures."""
    runs = []
    for n, (model, (fld, hist, sure)) in enumerate(figures.items()):
        run = make_run(root, f"{sweep}-{n:03d}", "gan", steps=steps, state="finished")
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, "model": model, "sweep": sweep}))
        (run / "view.json").write_text(json.dumps(models.get(model).view.to_json()))
        append(run, [{"t": T0 + steps * 0.02, "step": steps, "kind": "eval", "quality": True, "test_fld": fld,
                      "test_confident": sure, "class_hist": hist, "min_class_share": min(hist),
                      "max_class_share": max(hist)}])
        judged_after(run)  # old enough to compare (a test of shortness says otherwise)
        runs.append(run)
    return runs


def test_the_cures_lesson_in_words_from_the_trials_figures(tmp_path):
    runs = cures_trials(tmp_path)
    said = told(CURES, [summarise(r) for r in reversed(runs)], ["gan", "dcgan", "wgan-gp", "cgan"])  # (ranked, say)
    assert said.sure and said.text == (
        "the seed's MLP GAN covered 4 of 10 digits (FLD 310.2); DCGAN 10 (FLD 95.1), WGAN-GP 9 (FLD 120.4), "
        "cGAN 10 (FLD 88.0): the cures lowered FLD by 2.6× to 3.5× and covered more digits (9 to 10 against 4)")

    mixed = {**FIGURES, "wgan-gp": (330.0, FIGURES["gan"][1], 0.2)}  # worse, and the judge unsure of its digits
    said = told(CURES, [summarise(r) for r in cures_trials(tmp_path / "mixed", figures=mixed)])
    assert said.sure and "WGAN-GP ? (the judge unsure) (FLD 330.0)" in said.text
    assert said.text.endswith(": DCGAN and cGAN lowered FLD (by up to 3.5×); WGAN-GP did not")


def test_the_cures_lesson_says_why_it_cannot_tell(tmp_path):
    close = {m: (300.0 + 10 * i, h, s) for i, (m, (_, h, s)) in enumerate(FIGURES.items())}
    said = told(CURES, [summarise(r) for r in cures_trials(tmp_path / "close", figures=close)])
    assert not said.sure and said.text.endswith("cannot tell, the figures are too close to call (FLD within 1.15× of each other)")

    runs = cures_trials(tmp_path / "short", steps=300)
    for run in runs:
        judged_after(run, steps=1000)
    said = told(CURES, [summarise(r) for r in runs])
    assert not said.sure and said.text.startswith("cannot tell: too short to judge")
    assert "the seed's MLP GAN 300 of 1,000 steps; DCGAN 300" in said.text

    runs = cures_trials(tmp_path / "busy")
    loads(runs[2], [2.5] * 5)
    said = told(CURES, [summarise(r) for r in runs])
    assert said.text.startswith("cannot tell: trained on an overloaded machine: WGAN-GP (load 2.5×)")

    status = json.loads((runs[1] / "status.json").read_text())
    (runs[1] / "status.json").write_text(json.dumps({**status, "state": "failed"}))
    said = told(CURES, [summarise(r) for r in runs[:3]], ["gan", "dcgan", "wgan-gp", "cgan"])
    assert said.text == "cannot tell: cGAN never ran, DCGAN failed"


def test_the_cures_sweep_ends_with_its_lesson(tmp_path, monkeypatch):
    """`genlab sweep --recipe cures --max-minutes M`: its end compares the trials, says why they
    are not comparable if so, and gives the lesson. (The worker is a stand-in that writes the
    four trials, finished: what is tested is the sweep's end.)"""
    import genlab.cli.sweep
    from genlab.run.files import atomic_write_json
    from genlab.run.rundir import SweepDir

    root = tmp_path / "runs"

    def worker(sweep_dir, parallel):
        runs = cures_trials(root, sweep_dir.name)
        loads(runs[0], [1.9] * 3)
        atomic_write_json(SweepDir(sweep_dir).trials, {"trials": [
            {"number": n, "run_id": r.name, "params": {"model": m}, "state": "complete", "value": FIGURES[m][0]}
            for n, (r, m) in enumerate(zip(runs, FIGURES))], "t": time.time()})

    monkeypatch.setattr(genlab.cli.sweep, "start_worker", worker)
    output = cli("sweep", "--recipe", "cures", "--max-minutes", "1", "--name", "cures", "--runs-dir", root)
    assert "how each did" in output and "⚠ trained on an overloaded machine: #0 (load 1.9×)" in output
    assert output.rstrip().splitlines()[-1].startswith("lesson: cannot tell: trained on an overloaded machine: "
                                                       "the seed's MLP GAN (load 1.9×)")
    monkeypatch.setattr(genlab.cli.sweep, "refresh", lambda sweep_dir: None)  # (the stand-in's study is empty)
    shown = cli("sweep", "show", "cures", "--runs-dir", root)  # and again when asked
    assert "⚠ trained on an overloaded machine" in shown and "lesson: cannot tell" in shown

    from types import SimpleNamespace

    from genlab.run.sweeps import read_spec
    from genlab.sweep.worker import Worker

    logged = []  # a detached sweep's log ends the same way
    Worker.fairness(SimpleNamespace(root=root, dir=root / "cures", spec=read_spec(root / "cures"), say=logged.append))
    assert logged == ["not a fair comparison: trained on an overloaded machine: #0 (load 1.9×)",
                      "lesson: cannot tell: trained on an overloaded machine: the seed's MLP GAN (load 1.9×)"]
