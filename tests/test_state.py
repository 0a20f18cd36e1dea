"""One run state, one resolver: the CLI and the cockpit allow the same actions in the same states,
every command names runs and sweeps by the same rules (ids, unique prefixes, 'latest'), and a
sweep's trials have the state their runs have wherever they are shown. Scripted run directories
(tests/scripted.py), no training."""

from __future__ import annotations

import json
import time

import pytest
from scripted import make_run
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.errors import UsageError
from genlab.run.resolve import resolve_run, resolve_sweep, resolve_target
from genlab.run.state import RunState
from genlab.run.sweeps import SweepSpec, read_trials
from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.source import RunsSource

OTHER_HOST = "scripted-host"  # liveness by the heartbeat alone


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def live_run(root, name, state):
    """A scripted run on another host whose heartbeat is fresh now: believed as written."""
    run = make_run(root, name, "vae", steps=50, state=state)
    status = json.loads((run / "status.json").read_text())
    (run / "status.json").write_text(json.dumps({**status, "heartbeat": time.time(), "updated": time.time()}))
    return run


def make_sweep(root, sweep_id, trials=1):
    """A sweep's directory as `genlab sweep` writes it (spec, wanted, trials.json), no worker."""
    d = root / sweep_id
    (d / "workers").mkdir(parents=True)
    spec = SweepSpec(sweep_id=sweep_id, model="vae", grid={"lr": [1e-3]}, trials=trials, objective="test_is_nll",
                     created=time.time())
    (d / "sweep.json").write_text(json.dumps(spec.to_json()))
    (d / "wanted.json").write_text(json.dumps({"want": "run", "t": time.time()}))
    (d / "trials.json").write_text(json.dumps({"trials": [], "t": time.time()}))
    (d / "log.txt").touch()
    return d


# --------------------------------------------------------------------------- what each state allows


def test_what_each_state_allows():
    allowed = {s: (s.can_pause, s.can_stop, s.can_resume, s.live) for s in RunState}
    assert allowed == {
        RunState.STARTING: (True, True, False, True),
        RunState.RUNNING: (True, True, False, True),
        RunState.STALLED: (True, True, False, True),
        RunState.PAUSED: (False, True, True, True),
        RunState.STOPPED: (False, False, True, False),
        RunState.FINISHED: (False, False, True, False),
        RunState.FAILED: (False, False, True, False),
        RunState.CRASHED: (False, False, True, False),
        RunState.UNKNOWN: (False, False, False, False),
        RunState.UNREADABLE: (False, False, False, False),
    }
    assert RunState.of("running") is RunState.RUNNING and RunState.of("from a newer genlab") is RunState.UNKNOWN
    assert json.dumps({"state": RunState.PAUSED}) == '{"state": "paused"}' and f"{RunState.PAUSED}" == "paused"


class RecordingSource(RunsSource):
    """The real source, its commands recorded instead of sent."""

    def __init__(self, root):
        super().__init__(root)
        self.sent = []

    def send(self, run_id, command):
        self.sent.append(command)


async def cockpit_sends(root, run_id, keys) -> list[str]:
    source = RecordingSource(root)
    app = GenlabApp(source, open_run=run_id, load_models=False)
    async with app.run_test(size=(100, 30)) as pilot:
        deadline = time.monotonic() + 20
        while not (isinstance(app.screen, Dashboard) and app.screen.snapshot is not None):
            assert time.monotonic() < deadline, "the dashboard never loaded"
            await pilot.pause(0.05)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
    return source.sent


@pytest.mark.parametrize("state", ["starting", "running", "paused", "stopped", "finished"])
async def test_the_cli_and_the_cockpit_pause_and_stop_the_same_runs(tmp_path, state):
    """`genlab pause` took a starting run the cockpit's p refused: both now ask RunState."""
    root = tmp_path / "runs"
    live_run(root, "r", state)
    r = cli("pause", "r", "--wait", "0.1", "--runs-dir", root)
    cli_pauses = r.exit_code != 2 and "already paused" not in r.output  # 1: sent, not confirmed in 0.1 s
    assert (await cockpit_sends(root, "r", ["p"]) == ["pause"]) == cli_pauses, r.output
    assert cli_pauses == (state in ("starting", "running"))

    cli_stops = cli("stop", "r", "--wait", "0.1", "--runs-dir", root).exit_code != 2
    assert (await cockpit_sends(root, "r", ["s", "y"]) == ["stop"]) == cli_stops
    assert cli_stops == (state in ("starting", "running", "paused"))


# --------------------------------------------------------------------------- one resolver


def test_runs_and_sweeps_resolve_by_the_same_rules(tmp_path):
    root = tmp_path / "runs"
    make_sweep(root, "sweep-abc")
    make_run(root, "sweep-abc-000", "vae", steps=10)
    make_run(root, "sweep-abc-001", "vae", steps=10)
    make_run(root, "alpha", "vae", steps=10)
    assert resolve_target(root, "sweep-a").path.name == "sweep-abc"  # the sweep, not one of its trials
    assert resolve_target(root, "sweep-a").is_sweep
    assert resolve_target(root, "sweep-abc-000").path.name == "sweep-abc-000"
    assert resolve_target(root, "al").path.name == "alpha" and not resolve_target(root, "al").is_sweep
    assert resolve_sweep(root, "sw").name == "sweep-abc"
    assert resolve_run(root, "sweep-abc-000").name == "sweep-abc-000"
    with pytest.raises(UsageError, match=r"'sweep-abc-0' matches 2 runs \(sweep-abc-000, sweep-abc-001\)"):
        resolve_run(root, "sweep-abc-0")
    with pytest.raises(UsageError, match="no sweep matches 'al'"):
        resolve_sweep(root, "al")


@pytest.mark.parametrize("command", ["pause", "stop"])
def test_pause_and_stop_take_a_sweep_by_prefix(tmp_path, command):
    """`sweep show` took a prefix; `pause|resume|stop SWEEP` only an exact id."""
    root = tmp_path / "runs"
    make_sweep(root, "sweep-abc")
    make_run(root, "sweep-abc-000", "vae", steps=10, state="stopped")
    r = cli(command, "sweep-a", "--runs-dir", root)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("sweep sweep-abc ")
    assert json.loads((root / "sweep-abc" / "wanted.json").read_text())["want"] == command


@pytest.mark.parametrize("command", ["pause", "stop", "resume"])
def test_a_prefix_of_a_run_and_a_sweep_is_one_line_and_exit_2(tmp_path, command):
    root = tmp_path / "runs"
    make_sweep(root, "exp-sweep")
    make_run(root, "exp-run", "vae", steps=10, state="stopped")
    r = cli(command, "exp", "--runs-dir", root)
    assert r.exit_code == 2, r.output
    assert r.output.strip() == "genlab: error: 'exp' matches 1 run and 1 sweep (exp-sweep, exp-run); give more of the id"
    r = cli(command, "nothing", "--runs-dir", root)
    assert r.exit_code == 2 and "no run or sweep matches 'nothing'" in r.output


# --------------------------------------------------------------------------- a trial's one state


def test_a_trial_stopped_with_its_sweep_is_stopped_in_sweep_show(tmp_path):
    """After `genlab stop SWEEP` the study still counts the trial running (it is not ended: a
    resume continues it); `sweep show` said `running` while `genlab runs` said `stopped`."""
    from genlab.sweep import study as studies
    from genlab.sweep.spec import create_sweep

    root = tmp_path / "runs"
    spec = SweepSpec(sweep_id="sw", model="vae", grid={"lr": [1e-3, 1e-2]}, trials=2, objective="test_is_nll",
                     created=time.time())
    sweep_dir = create_sweep(root, spec)
    study = studies.load(sweep_dir, spec)
    for number in range(2):
        trial = study.ask()
        trial.set_user_attr("run_id", f"sw-{number:03d}")
    make_run(root, "sw-000", "vae", steps=10, state="stopped")  # stopped with the sweep
    studies.snapshot(sweep_dir, study)  # what the worker last wrote: both trials running

    shown = json.loads(cli("sweep", "show", "sw", "--json", "--runs-dir", root).output)
    states = {t["run_id"]: t["state"] for t in shown["trials"]}
    assert states == {"sw-000": "stopped", "sw-001": "running"}  # sw-001's run not made yet: the study's word
    assert shown["counts"]["running"] == 1
    assert {t["run_id"]: t["state"] for t in read_trials(sweep_dir)} == states
    listed = cli("sweep", "show", "sw", "--runs-dir", root).output
    assert "stopped" in listed
