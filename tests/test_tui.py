"""The cockpit, driven with Textual's Pilot: keys, the form's validation, run control against a
real detached run, resilience to broken run directories, and snapshots of each dashboard."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from scripted import T0, clock, make_run

from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.screens.new_run import NewRunForm
from tui.screens.runs import RunsScreen
from tui.source import RunsSource
from tui.widgets.curves import CurvesPlot
from tui.widgets.event_log import EventLog
from tui.widgets.runs_table import RunsTable
from tui.widgets.samples import SamplesPane
from tui.widgets.status_bar import StatusBar

CATALOGUE = [
    {"name": "gan", "family": "gan", "defaults": {"batch_size": 64, "lr": 0.0002},
     "presets": {"large-batch": {"batch_size": 4096, "lr": 0.0016}}},
    {"name": "vae", "family": "vae", "defaults": {"batch_size": 128, "lr": 0.001, "hidden": 400, "latent": 20}},
    {"name": "cgan", "family": "gan", "defaults": {"batch_size": 128, "lr": 0.0002, "width": 64},
     "presets": {"cpu": {"batch_size": 64, "lr": 0.001, "width": 16}}},
]


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("NO_COLOR", raising=False)
    time.tzset()


class ScriptedSource(RunsSource):
    """The real source over a scripted runs root, with a fixed clock and a canned model list."""

    def __init__(self, root, clock=clock):
        super().__init__(root, clock=clock)
        self.launched = []

    def models(self):
        return CATALOGUE

    def launch(self, model, options):
        self.launched.append((model, options))
        make_run(self.root, "launched", model, steps=50)
        return "launched"


async def until(pilot, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("timed out")


def screen_text(app) -> str:
    return app.export_screenshot()


# --------------------------------------------------------------------------- keys and screens


async def test_runs_screen_then_dashboard_and_its_keys(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "gan-1", "gan")
    make_run(root, "vae-1", "vae", state="finished")
    app = GenlabApp(ScriptedSource(root), load_models=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 2)
        table = app.screen.query_one(RunsTable)
        assert [str(table.get_cell("gan-1", c)) for c in ("run", "model", "status")] == ["gan-1", "gan", "running"]
        assert str(table.get_cell("vae-1", "status")) == "finished"

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        dash = app.screen
        assert dash.run_id == "gan-1" and dash.snapshot.state == "running"
        plots = list(dash.query(CurvesPlot))
        assert [p.title_text for p in plots] == ["G and D losses", "D(x) and D(G(z))",
                                                 "FLD to the test set (lower is better)"]
        status = str(dash.query_one(StatusBar).render())
        assert "running" in status and "step 2,000/4,685" in status and "3,200 img/s" in status

        samples = dash.query_one(SamplesPane)
        assert "▀" in str(samples.render())
        await pilot.press("l", "e", "a")
        assert all(p.log_scale and p.smooth for p in plots)
        assert samples.ascii and "▀" not in str(samples.render()) and "@" in str(samples.render())
        await pilot.press("l", "e", "a")
        assert not any(p.log_scale or p.smooth for p in plots) and not samples.ascii

        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_no_color_draws_ascii_digits(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    make_run(tmp_path / "runs", "plain", "vae")
    app = GenlabApp(ScriptedSource(tmp_path / "runs"), open_run="plain", load_models=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        drawn = str(app.screen.query_one(SamplesPane).render())
        assert "▀" not in drawn and "@" in drawn


async def test_the_footer_shows_every_key(tmp_path):
    """The footer as drawn: each key with what it does (quitting says the runs keep running;
    the line printed after the cockpit exits is read from a real terminal in test_terminal.py)."""
    make_run(tmp_path / "runs", "keys", "vae")
    app = GenlabApp(ScriptedSource(tmp_path / "runs"), open_run="keys", load_models=False)
    async with app.run_test(size=(220, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.query("FooterKey"))
        drawn = [" ".join(str(k.render()).split()) for k in app.screen.query("FooterKey")]
        expected = ["p pause/resume", "s stop", "r resume", "n new run", "l log scale", "e smoothing",
                    "a ASCII", "t tags", "f fork", "h training health", "esc runs", "q quit (runs keep running)"]
        assert sorted(d for d in drawn if d != "^p palette") == sorted(expected)  # and Textual's own palette

        await pilot.resize_terminal(80, 24)  # narrow: the keys that matter, in short, whole on one line
        await until(pilot, lambda: app.screen.query_one("KeysFooter").compact and
                    len(app.screen.query("FooterKey")) == 9)
        drawn = [" ".join(str(k.render()).split()) for k in app.screen.query("FooterKey")]
        assert sorted(drawn) == sorted(["p pause", "s stop", "r resume", "tab panes", "l log", "e smooth", "esc runs",
                                        "q quit", "^p palette"])
        keys = app.screen.query("FooterKey")
        assert max(k.region.right for k in keys) <= 80 and len({k.region.y for k in keys}) == 1
        await pilot.press("q")
    assert app.return_code == 0


# --------------------------------------------------------------------------- the new-run form


async def open_form(app, pilot) -> NewRunForm:
    """Press n once the model list is in; the form, its hyperparameters filled in."""
    await until(pilot, lambda: app.models is not None)
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, NewRunForm) and app.screen.query("#hp-lr"))
    return app.screen


async def test_form_flags_invalid_values_before_anything_starts(tmp_path):
    source = ScriptedSource(tmp_path / "runs")
    app = GenlabApp(source)
    async with app.run_test(size=(100, 40)) as pilot:
        form = await open_form(app, pilot)
        start = form.query_one("#start")
        assert form.query_one("#hp-batch_size").value == "64" and form.query_one("#hp-lr").value == "0.0002"
        assert not start.disabled

        for field, bad, message in (("#epochs", "0", "epochs"), ("#hp-lr", "-1", "lr"),
                                    ("#hp-batch_size", "many", "batch size"), ("#max_steps", "1.5", "max steps")):
            good = form.query_one(field).value
            form.query_one(field).value = bad
            await pilot.pause()
            assert start.disabled and message in str(form.query_one("#error").render())
            await pilot.press("enter")  # refused: nothing launches
            assert source.launched == []
            form.query_one(field).value = good
            await pilot.pause()
            assert not start.disabled

        # the hyperparameters follow the model
        form.query_one("#model").value = "vae"
        await until(pilot, lambda: form.query("#hp-hidden"))
        assert form.query_one("#hp-hidden").value == "400"
        form.query_one("#hp-hidden").value = "256"
        form.query_one("#epochs").value = "3"
        await pilot.pause()
        await pilot.click("#start")
        await until(pilot, lambda: isinstance(app.screen, Dashboard))
        model, options = source.launched[0]
        assert model == "vae" and options[:2] == ["--epochs", "3"] and "hidden=256" in options
        assert app.screen.run_id == "launched"


async def test_form_preset_fills_in_its_values_and_is_passed_on(tmp_path):
    source = ScriptedSource(tmp_path / "runs")
    app = GenlabApp(source)
    async with app.run_test(size=(100, 40)) as pilot:
        form = await open_form(app, pilot)
        form.query_one("#model").value = "vae"
        await until(pilot, lambda: form.query("#hp-hidden"))
        assert not form.query_one("#preset-row").display  # vae has no presets: no choice shown
        form.query_one("#model").value = "cgan"
        await until(pilot, lambda: form.query("#hp-width") and form.query_one("#preset-row").display)
        assert form.query_one("#hp-width").value == "64"
        form.query_one("#preset").value = "cpu"
        await until(pilot, lambda: form.query_one("#hp-width").value == "16")
        assert form.query_one("#hp-lr").value == "0.001" and form.query_one("#hp-batch_size").value == "64"
        form.query_one("#hp-lr").value = "0.0005"  # an edit on top of the preset
        form.query_one("#hp-lr").focus()
        await pilot.pause()
        assert not form.query_one("#start").disabled
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, Dashboard))
        model, options = source.launched[0]
        assert model == "cgan"
        assert options[options.index("--preset") + 1] == "cpu"
        assert [options[i + 1] for i, o in enumerate(options) if o == "--hp"] == ["lr=0.0005"]


# --------------------------------------------------------------------------- a real detached run


def genlab(*args, runs):
    return subprocess.run([sys.executable, "-m", "genlab", *map(str, args), "--runs-dir", str(runs)],
                          capture_output=True, text=True, timeout=180)


def status(run_dir):
    try:
        return json.loads((run_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}


async def test_pause_resume_stop_through_the_cockpit(runs):
    p = genlab("train", "vae", "--detach", "--name", "live", "--max-steps", "100000", runs=runs)
    assert p.returncode == 0, p.stderr
    run_dir = runs / "live"
    pid = status(run_dir)["pid"]
    try:
        app = GenlabApp(RunsSource(runs), open_run="live", load_models=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot
                        and app.screen.snapshot.state == "running")
            await pilot.press("p")
            await until(pilot, lambda: status(run_dir).get("state") == "paused")
            await until(pilot, lambda: app.screen.snapshot.state == "paused")
            assert "paused" in str(app.screen.query_one(StatusBar).render())
            await pilot.press("p")
            await until(pilot, lambda: status(run_dir).get("state") == "running")
            await pilot.press("s")
            await pilot.pause(0.3)
            assert status(run_dir).get("state") == "running"  # s asks first
            await pilot.press("y")
            await until(pilot, lambda: status(run_dir).get("state") == "stopped")
            stopped_at = status(run_dir)["step"]
            await until(pilot, lambda: app.screen.snapshot.state == "stopped")  # as the user sees it
            await pilot.press("r")  # resume a stopped run: a new detached process
            await until(pilot, lambda: status(run_dir).get("state") == "running"
                        and status(run_dir).get("pid") != pid, timeout=90)
            pid = status(run_dir)["pid"]
            await until(pilot, lambda: status(run_dir).get("step", 0) > stopped_at)
            await pilot.press("q")
        # quitting the cockpit left the run alone
        time.sleep(0.5)
        assert status(run_dir)["state"] == "running"
        assert genlab("stop", "live", runs=runs).returncode == 0
    finally:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# --------------------------------------------------------------------------- broken run directories


async def test_keeps_working_when_a_run_breaks(tmp_path):
    root = tmp_path / "runs"
    run = make_run(root, "fragile", "vae")
    source = ScriptedSource(root)
    app = GenlabApp(source, open_run="fragile", load_models=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        dash = app.screen

        # a torn last line is left for later, then read once whole: the whole line written with
        # it shows that the follower has read past it
        with open(run / "events.jsonl", "a") as f:
            f.write('{"t":%f,"step":2000,"kind":"warning","message":"a whole line"}\n' % (T0 - 1))
            f.write('{"t":%f,"step":2000,"kind":"warning","message":"half a' % T0)
        await until(pilot, lambda: any("a whole line" in str(line) for line in dash.query_one(EventLog).lines))
        assert "half a line" not in str(dash.query_one(EventLog).lines)
        with open(run / "events.jsonl", "a") as f:
            f.write(' line"}\n')
        await until(pilot, lambda: any("half a line" in str(line) for line in dash.query_one(EventLog).lines))

        # an unreadable status file: say so, keep the last good status
        (run / "status.json").write_text("{garbage")
        await until(pilot, lambda: dash.snapshot.problem and "status.json is unreadable" in dash.snapshot.problem)
        assert "status.json is unreadable" in str(dash.query_one(StatusBar).render())

        # a crashed process on this host: a dead pid and nobody holding the lock
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        st = {"state": "running", "pid": dead.pid, "host": socket.gethostname(), "step": 2000,
              "heartbeat": clock(), "total_steps": 4685}
        (run / "status.json").write_text(json.dumps(st))
        await until(pilot, lambda: dash.snapshot.state == "crashed")
        assert "crashed" in str(dash.query_one(StatusBar).render())

        # the directory disappears
        shutil.rmtree(run)
        await until(pilot, lambda: dash.snapshot.problem == "the run directory was deleted")
        assert "deleted" in str(dash.query_one(StatusBar).render())
        await pilot.press("p")  # nothing to pause: said, not crashed
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


# --------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
@pytest.mark.parametrize("model", ["gan", "vae", "pixelcnn"])
def test_dashboard_snapshot(model, size, tmp_path, snap_compare):
    root = tmp_path / "runs"
    make_run(root, f"{model}-run", model)
    app = GenlabApp(ScriptedSource(root), open_run=f"{model}-run", load_models=False)

    async def loaded(pilot):
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        await until(pilot, lambda: all(p.drawn is p.snapshot is not None for p in app.screen.query(CurvesPlot) if p.display))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=loaded)


async def test_the_samples_history_steps_back_and_forth(tmp_path):
    """Left/Right step through a run's saved grids, Home/End jump; the class histogram follows
    the quality check nearest the grid shown."""
    import numpy as np

    from tui.widgets.class_histogram import ClassHistogram

    root = tmp_path / "runs"
    run = make_run(root, "h", "cgan", steps=2000)
    digits = np.load(run / "samples" / "step-00002000.npy")
    lines = []
    for step, first, fld in ((2500, 0.55, 50.0), (3000, 0.1, 20.0)):
        npy = f"samples/step-{step:08d}.npy"
        np.save(run / npy, digits[::-1].copy())
        lines.append({"t": T0 + step * 0.02, "step": step, "kind": "samples", "png": npy.replace(".npy", ".png"),
                      "npy": npy, "n": 64, "seconds": 0.01})
        lines.append({"t": T0 + step * 0.02, "step": step, "kind": "eval", "quality": True, "n": 2000,
                      "test_fld": fld, "test_confident": 0.5, "class_hist": [first] + [(1 - first) / 9] * 9})
    with open(run / "events.jsonl", "a") as f:
        f.writelines(json.dumps(e) + "\n" for e in lines)
    app = GenlabApp(ScriptedSource(root), open_run="h", load_models=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None
                    and len(app.screen.snapshot.grids) == 3)
        pane, hist = app.screen.query_one(SamplesPane), app.screen.query_one(ClassHistogram)
        assert pane.step == 3000 and " of " not in pane.border_title and "FLD 20.0" in hist.border_title
        await pilot.press("left")
        assert pane.step == 2500 and "2 of 3" in pane.border_title and "FLD 50.0" in hist.border_title
        assert hist.hist[0] == 0.55
        await pilot.press("home")  # the grid of step 2000: the nearest quality check is 2500's
        assert pane.step == 2000 and "1 of 3" in pane.border_title and hist.hist[0] == 0.55
        await pilot.press("left")  # the first stays the first
        assert pane.step == 2000
        await pilot.press("right", "right")
        assert pane.step == 3000 and pane.where == "" and app.screen.browsing is None  # the newest: live again
        assert hist.hist[0] == 0.1
        await pilot.press("home", "end")
        assert pane.step == 3000 and app.screen.browsing is None


async def test_walks_on_a_key_and_the_newest_cas(tmp_path):
    """`i` puts rows of latent walks (as many as the pane holds, whole walks) in the samples
    pane until End; a cgan's class pane shows the newest CAS from cas.json; a model without a
    latent says so."""

    from genlab.core.data import read_bundled
    from tui.widgets.class_histogram import ClassHistogram

    class WalkingSource(ScriptedSource):
        asked = []

        def walks(self, run_id, rows, steps, seed=0):
            self.asked.append((run_id, rows, steps, seed))
            return read_bundled().test_images[: rows * steps].numpy(), 2000

    root = tmp_path / "runs"
    run = make_run(root, "c", "cgan", steps=2000)
    make_run(root, "p", "pixelcnn", steps=500)
    cas = {"run": "c", "step": 2000, "n": 10000, "epochs": 4, "cas": 0.955, "real": 0.98, "gap": 0.025}
    (run / "cas.json").write_text(json.dumps(cas))
    app = GenlabApp(WalkingSource(root), open_run="c", load_models=False)
    async with app.run_test(size=(160, 50)) as pilot:
        dash = app.screen
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and dash.snapshot is not None)
        hist, pane = dash.query_one(ClassHistogram), dash.query_one(SamplesPane)
        await until(pilot, lambda: "CAS 95.5% · real 98.0%" in str(hist.border_subtitle))
        (run / "cas.json").write_text(json.dumps({**cas, "step": 2400, "cas": 0.961}))
        os.utime(run / "cas.json", ns=(1, 10**9 * 2 + 7))  # a new mtime, whatever the clock's grain
        await until(pilot, lambda: "CAS 96.1%" in str(hist.border_subtitle) and "step 2,400" in str(hist.border_subtitle))

        await pilot.press("i")
        await until(pilot, lambda: pane.per_row is not None)
        (_, rows, steps, seed), = WalkingSource.asked
        assert (rows, steps) == pane.walk_shape() and seed == 0  # the shape the pane has now
        curves = dash.query_one("#curves")
        assert not curves.display and steps == 10  # the walks take the curves' width: ten digits a walk
        assert pane.border_title.startswith("latent walks · step 2,000 · spherical, seed 0")
        lines = str(pane.render()).splitlines()
        assert max(len(line.rstrip()) for line in lines) <= pane.content_size.width  # whole walks, none cut
        await pilot.press("i")
        await until(pilot, lambda: "seed 1" in pane.border_title)
        await pilot.press("end")
        assert pane.per_row is None and pane.border_title.startswith("samples · step 2,000") and not dash.walking
        assert curves.display

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
    app = GenlabApp(WalkingSource(root), open_run="p", load_models=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        await pilot.press("i")
        await until(pilot, lambda: any("no latent space to walk" in str(line) for line in app.screen.query_one(EventLog).lines))
        assert len(WalkingSource.asked) == 2  # no process for a model that cannot walk


async def test_a_vae_dashboard_draws_its_latent_map(tmp_path):
    """The trainer's latent.npz (a VAE's map at each evaluation) appears as a pane of its own."""
    import numpy as np

    from tui.widgets.latent_map import LatentMap

    root = tmp_path / "runs"
    run = make_run(root, "v", "vae", steps=900)
    g = np.random.default_rng(0)
    labels = np.arange(500) % 10
    points = np.stack([np.cos(labels), np.sin(labels)], 1) * 5 + g.normal(0, 0.2, (500, 2))
    np.savez(run / "latent.npz", points=points.astype(np.float32), labels=labels.astype(np.uint8),
             step=np.int64(900), how=np.str_("its first two principal components (61% of the variance)"))
    app = GenlabApp(ScriptedSource(root), open_run="v", load_models=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and list(app.screen.query(LatentMap)))
        pane = app.screen.query_one(LatentMap)
        await until(pilot, lambda: pane.step == 900)
        await pilot.pause(0.2)
        drawn = str(pane.render())
        assert pane.border_title == "latent map · step 900" and "principal components" in pane.border_subtitle
        assert sum(drawn.count(str(d)) > 5 for d in range(10)) >= 8  # the digits themselves are the markers


def test_quitting_says_which_runs_go_on_training(tmp_path):
    """'runs keep running in the background' only when some do: otherwise the cockpit says none is."""
    root = tmp_path / "runs"
    make_run(root, "done", "vae", state="finished")
    app = GenlabApp(ScriptedSource(root), load_models=False)
    assert app.quit_message() == "genlab cockpit closed; no run is training"
    make_run(root, "gan-1", "gan")
    assert app.quit_message() == ("genlab cockpit closed; runs keep running in the background: 1 run "
                                  "('genlab runs' lists them)")
