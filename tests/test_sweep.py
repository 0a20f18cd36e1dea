"""Sweeps: grids and Optuna searches of ordinary runs, pruning, recovery after SIGKILL, two workers.

Every trial is tiny (a VAE or the seed's GAN for a few dozen steps). The sweep's worker and its
trials are real detached processes; each test waits for what it can see (the study's trials,
the runs' status files) and kills whatever it started before it ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.run.files import read_json
from genlab.run.sweeps import read_spec, state, workers
from genlab.sweep import study as studies

# (2,000 digits scored a quality check cost a trial of 20 steps most of its time: 200 are enough here)
SHORT = ["--max-steps", "20", "--hp", "hidden=32", "--quality-samples", "200"]


def genlab(*args, env=None, timeout=240):
    return subprocess.run([sys.executable, "-m", "genlab", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def wait_until(predicate, timeout=150.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def trials(root: Path, sweep: str) -> list:
    sweep_dir = root / sweep
    return studies.load(sweep_dir, read_spec(sweep_dir), for_search=False).get_trials(deepcopy=False)


def cli(*args) -> str:
    """A command that only reads (runs, compare, sweep show), in this process."""
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


def shown(root: Path, sweep: str) -> dict:
    return json.loads(cli("sweep", "show", sweep, "--json", "--runs-dir", root))


def sweep_state(root: Path, sweep: str) -> str:
    """What the sweep's own files say (trials.json, its workers): no Optuna, no subprocess."""
    return state(root / sweep)


@pytest.fixture(autouse=True)
def no_strays(tmp_path):
    """Whatever a test started (workers, trials) is gone when it ends."""
    yield
    for _ in range(2):
        out = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
        for pid in map(int, out):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def test_a_grid_runs_every_point_once_two_at_a_time(runs):
    p = genlab("sweep", "vae", "--grid", "lr=1e-3,2e-3", "--grid", "latent=4,8", *SHORT, "--parallel", "2",
               "--name", "g", "--wait", "--runs-dir", runs)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "grid of 4 trials" in p.stdout and "2 at a time" in p.stdout and "how each did" in p.stdout
    done = trials(runs, "g")
    assert [t.state for t in done] == [optuna.trial.TrialState.COMPLETE] * 4
    assert sorted((t.params["lr"], t.params["latent"]) for t in done) == [(1e-3, 4), (1e-3, 8), (2e-3, 4), (2e-3, 8)]
    for t in done:  # each trial is an ordinary run of its own, with its parameters and its sweep
        config = read_json(runs / t.user_attrs["run_id"] / "config.json")
        assert config["sweep"] == "g" and config["lr"] == t.params["lr"] and config["hp"]["latent"] == t.params["latent"]
        events = [json.loads(line) for line in (runs / t.user_attrs["run_id"] / "events.jsonl").read_text().splitlines()]
        assert config["quality_samples"] == 200 and {e["n"] for e in events if e.get("quality")} == {200}
        assert t.value == pytest.approx(last_quality(runs / t.user_attrs["run_id"], "test_is_nll"))
    data = shown(runs, "g")
    assert data["state"] == "finished" and data["counts"]["complete"] == 4
    values = [t["value"] for t in data["trials"]]
    assert values == sorted(values)  # best first
    # genlab runs puts the trials under their sweep
    listing = cli("runs", "--runs-dir", runs)
    assert "sweep g" in listing and listing.index("sweep g") < listing.index("g-000")
    assert [r["sweep"] for r in json.loads(cli("runs", "--json", "--runs-dir", runs))] == ["g"] * 4
    assert cli("compare", "--sweep", "g", "--runs-dir", runs).count("g-00") >= 8  # what differs, how each did


def last_quality(run_dir: Path, metric: str) -> float:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return [e[metric] for e in events if e["kind"] == "eval" and metric in e][-1]


def test_a_tpe_search_prunes_a_hopeless_trial(runs):
    """Three TPE trials of the learning rate, two at a time, with the pruner fed the runs' own
    quality checks (every 5 steps, the same steps in every trial)."""
    p = genlab("sweep", "vae", "--search", "tpe", "--trials", "3", "--range", "lr=1e-7:3e-3:log", "--parallel", "2",
               *SHORT, "--prune", "--prune-every", "5", "--prune-startup", "1",
               "--name", "t", "--wait", "--runs-dir", runs)
    assert p.returncode == 0, p.stdout + p.stderr
    done = trials(runs, "t")
    assert len(done) == 3 and all(t.state.is_finished() for t in done)
    assert {t.state for t in done} <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    for t in done:
        events = [json.loads(line) for line in (runs / t.user_attrs["run_id"] / "events.jsonl").read_text().splitlines()]
        steps = [e["step"] for e in events if e["kind"] == "eval" and e.get("quality")]
        assert all(s % 5 == 0 for s in steps[:-1])  # aligned, so the pruner compares like with like
        assert set(t.intermediate_values) <= set(steps)


def test_a_pruned_trial_stops_with_its_checkpoint_and_resumes_by_hand(runs):
    """A grid whose last point (in GridSampler's order, seed 0) is hopeless: far worse than the
    median of the two before it at the same step, it is pruned."""
    p = genlab("sweep", "vae", "--grid", "lr=1e-7,2e-3,3e-3", *SHORT[2:], "--max-steps", "30", "--prune",
               "--prune-every", "5", "--prune-startup", "1", "--name", "p", "--wait", "--runs-dir", runs)
    assert p.returncode == 0, p.stdout + p.stderr
    done = trials(runs, "p")
    assert done[-1].params["lr"] == 1e-7, "GridSampler's order changed: put the hopeless point last again"
    assert done[0].state == optuna.trial.TrialState.COMPLETE  # nothing to compare it with
    assert done[2].state == optuna.trial.TrialState.PRUNED, [(t.params, t.state, t.value) for t in done]
    assert 0 < max(done[2].intermediate_values) < 30  # stopped early, at a step of the grid
    run_dir = runs / done[2].user_attrs["run_id"]
    status = read_json(run_dir / "status.json")
    assert status["state"] == "stopped" and status["reason"].startswith("pruned by sweep p")
    assert any(run_dir.glob("checkpoints/step-*.pt"))
    assert "pruned" in cli("runs", "--runs-dir", runs)
    r = genlab("resume", run_dir.name, "--runs-dir", runs)
    assert r.returncode == 0 and read_json(run_dir / "status.json")["state"] == "finished", r.stdout + r.stderr


def test_pause_stop_and_a_killed_worker_lose_nothing(runs):
    """Pause a sweep, stop it, resume it; SIGKILL its worker and its trial's trainer, then
    `sweep resume`: the killed trial resumes from its checkpoint, the other runs once, every
    trial is told to Optuna once."""
    p = genlab("sweep", "gan", "--grid", "lr=1e-4,2e-4", "--max-steps", "150", "--quality-samples", "200", "--name", "k", "--runs-dir", runs)
    assert p.returncode == 0, p.stdout + p.stderr
    first = runs / "k-000"
    wait_until(lambda: (read_json(first / "status.json") or {}).get("step", 0) > 10, what="trial 0 training")
    paused = genlab("pause", "k", "--runs-dir", runs)
    assert paused.returncode == 0 and read_json(first / "status.json")["state"] == "paused", paused.stdout + paused.stderr
    stopped = genlab("stop", "k", "--runs-dir", runs)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert read_json(first / "status.json")["state"] == "stopped" and sweep_state(runs, "k") == "stopped"
    assert genlab("resume", "k", "--runs-dir", runs).returncode == 0  # a sweep with no worker gets one
    wait_until(lambda: (read_json(first / "status.json") or {}).get("state") == "running", what="trial 0 resumed")
    # SIGKILL the worker, and the trainer of the trial it runs
    live = [w for w in workers(runs / "k") if w["live"]]
    assert len(live) == 1
    os.kill(live[0]["pid"], signal.SIGKILL)
    wait_until(lambda: not [w for w in workers(runs / "k") if w["live"]], what="the worker dead")
    running = [t for t in trials(runs, "k") if t.state == optuna.trial.TrialState.RUNNING]
    assert len(running) == 1
    trainer = runs / running[0].user_attrs["run_id"]
    os.kill(read_json(trainer / "status.json")["pid"], signal.SIGKILL)
    assert shown(runs, "k")["state"] == "interrupted"
    assert genlab("sweep", "resume", "k", "--runs-dir", runs).returncode == 0
    wait_until(lambda: sweep_state(runs, "k") == "finished", timeout=240, what="the sweep finished")
    done = trials(runs, "k")
    assert len(done) == 2 and all(t.state == optuna.trial.TrialState.COMPLETE for t in done)
    assert sorted(t.user_attrs["run_id"] for t in done) == ["k-000", "k-001"]
    log = (runs / "k" / "log.txt").read_text()
    assert log.count("started: run k-000") == 1 and log.count("started: run k-001") == 1
    assert f"resuming run {trainer.name}" in log
    for t in done:
        assert read_json(runs / t.user_attrs["run_id"] / "status.json")["state"] == "finished"


def test_two_workers_share_one_sweep_and_each_trial_runs_once_per_seed(runs):
    """A grid of two configurations with --seeds 0,1, worked by two workers: each trial is one
    configuration run once per seed (runs j-NNN-s0 and j-NNN-s1), every run started once, and
    Optuna told the mean of the trial's runs' objectives; `sweep show` gives the spread."""
    p = genlab("sweep", "vae", "--grid", "lr=1e-3,2e-3", "--seeds", "0,1", *SHORT[:1], "10", *SHORT[2:], "--name", "j",
               "--runs-dir", runs)
    assert p.returncode == 0, p.stdout + p.stderr
    j = genlab("sweep", "join", "j", "--runs-dir", runs)
    assert j.returncode == 0, j.stdout + j.stderr
    wait_until(lambda: sweep_state(runs, "j") == "finished", timeout=240, what="the sweep finished")
    done = trials(runs, "j")
    assert len(done) == 2 and all(t.state == optuna.trial.TrialState.COMPLETE for t in done)
    assert sorted(t.params["lr"] for t in done) == [1e-3, 2e-3] and all("seed" not in t.params for t in done)
    objective = read_spec(runs / "j").objective
    for t in done:
        ids = {seed: f"j-{t.number:03d}-s{seed}" for seed in (0, 1)}
        assert t.user_attrs["run_ids"] == {str(seed): rid for seed, rid in ids.items()}
        finals = {}
        for seed, rid in ids.items():
            assert read_json(runs / rid / "config.json")["seed"] == seed
            events = [json.loads(line) for line in (runs / rid / "events.jsonl").read_text().splitlines()]
            finals[seed] = [e[objective] for e in events if isinstance(e.get(objective), (int, float))][-1]
        assert t.user_attrs["seeds"] == {str(seed): pytest.approx(v) for seed, v in finals.items()}
        assert t.value == pytest.approx(sum(finals.values()) / 2)  # Optuna's value: the mean over the seeds
    log = (runs / "j" / "log.txt").read_text()
    started = [line.split(" started: run ")[1].split()[0] for line in log.splitlines() if " started: run " in line]
    assert sorted(started) == [f"j-{n:03d}-s{seed}" for n in (0, 1) for seed in (0, 1)]  # every seed's run once
    assert len(workers(runs / "j")) == 2
    rows = shown(runs, "j")["trials"]
    assert all(r["spread"]["n"] == 2 and len(r["run_ids"]) == 2 for r in rows)
    assert "over seeds" in cli("sweep", "show", "j", "--runs-dir", runs)


@pytest.mark.parametrize("args, message", [
    (["vae", "--grid", "nosuch=1,2"], "unknown key 'nosuch' for vae"),
    (["vae", "--grid", "latent=big,small"], "--hp latent must be an integer"),
    (["vae", "--grid", "lr="], "--grid lr= is empty"),
    (["vae", "--search", "tpe", "--range", "lr=1e-2:1e-4:log"], "its low 1e-2 is above its high 1e-4"),
    (["vae", "--grid", "lr=1e-3", "--parallel", "0"], "--parallel must be at least 1, got 0"),
    (["vae", "--search", "tpe", "--range", "lr=1e-4:1e-2", "--trials", "0"], "--trials must be at least 1"),
    (["vae", "--grid", "lr=1e-3", "--objective", "test_fld"], "vae does not report 'test_fld'"),
    (["vae", "--grid", "lr=1e-3,2e-3", "--grid", "latent=2,3"], "more than the limit of 3"),
    (["vae", "--range", "lr=1e-4:1e-2", "--search", "grid"], "add --search random or --search tpe"),
    (["nosuch", "--grid", "lr=1"], "unknown model"),
    (["--recipe", "cures"], "give --max-minutes M"),
    (["vae", "--grid", "lr=1e-3", "--seeds", "1,99999999999999999999"], "--seeds: a seed must be a whole number"),
    (["vae", "--search", "tpe", "--range", "lr=1e-4:1e-2", "--seeds", "0,1", "--prune"], "--prune judges one run's"),
    # every grid value and both ends of a range are checked as `genlab train` checks them
    (["vae", "--grid", "batch_size=64,100000"], "batch size 100,000 is larger than the data set"),
    (["vae", "--grid", "latent=99999999999"], "training needs about"),
    (["vae", "--search", "tpe", "--trials", "2", "--range", "latent=2:99999999999:int"], "training needs about"),
    (["vae", "--grid", "lr=1e-3", "--name", "latest"], "sweep name 'latest' is reserved"),
])
def test_bad_sweeps_are_one_line_and_leave_nothing(runs, args, message, monkeypatch):
    monkeypatch.setenv("GENLAB_SWEEP_MAX_TRIALS", "3")
    r = CliRunner().invoke(app, ["sweep", *args, "--runs-dir", str(runs)])
    assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, (args, r.output)
    assert not runs.exists() or not any(runs.iterdir())


def test_the_cures_recipe_gives_each_gan_its_cpu_preset_where_it_has_one():
    from genlab import models
    from genlab.sweep import plan as sweep_plan
    from genlab.sweep.spec import run_options

    recipe = sweep_plan.RECIPES["cures"]
    spec = sweep_plan.build(None, sweep_id="c", grid=dict(recipe["grid"]), ranges={}, seeds=(0,), search=None,
                            trials=None, objective=None, prune=False, prune_every=None, prune_startup=2, parallel=1,
                            run={"preset": recipe["preset"], "max_minutes": 3, "epochs": 1000})
    assert spec.trials == 4 and spec.objective == "test_fld" and spec.direction == "minimize"
    for point in spec.grid_points():
        options = run_options(spec, point)
        has = "cpu" in models.get(point["model"]).presets
        assert options["model"] == point["model"] and options["preset"] == ("cpu" if has else None)
        assert options["max_minutes"] == 3 and options["sweep"] == "c"


@pytest.mark.parametrize("journal, reason", [(b"garbage\n{{{\n", "is not an Optuna journal"),
                                             (b"", "holds no study 'broken'")])
def test_a_sweep_whose_journal_is_unreadable_is_reported_as_such(runs, journal, reason):
    """A study.journal holding garbage, or nothing: `sweep show` says the sweep is unreadable in one
    line (exit 2), and `genlab runs` still lists it (it reads the sweep's own files, not Optuna's)."""
    from genlab.run.sweeps import SweepSpec
    from genlab.sweep.spec import create_sweep

    spec = SweepSpec(sweep_id="broken", model="vae", grid={"lr": [1e-3]}, trials=1, objective="test_is_nll",
                     created=time.time())
    (create_sweep(runs, spec) / "study.journal").write_bytes(journal)
    for json_flag in ([], ["--json"]):
        r = CliRunner().invoke(app, ["sweep", "show", "broken", *json_flag, "--runs-dir", str(runs)])
        assert r.exit_code == 2, r.output
        assert r.output.startswith("genlab: error: sweep broken is unreadable: its study.journal " + reason)
        assert r.output.strip().count("\n") == 0
    for command in (["sweep", "resume", "broken"], ["sweep", "join", "broken"]):  # refused before a worker starts
        r = CliRunner().invoke(app, [*command, "--runs-dir", str(runs)])
        assert r.exit_code == 2 and "is unreadable" in r.output, r.output
        assert not (runs / "broken" / "workers").exists() or not any((runs / "broken" / "workers").iterdir())
    assert "sweep broken" in cli("runs", "--runs-dir", runs)
def test_a_sweep_of_one_trial_ends_with_that_trials_figures(runs, monkeypatch):
    """`genlab sweep vae --grid lr=1e-3 --wait`: one trial, nothing to compare it with; the sweep
    ends with its figures and exit 0. (The worker is a stand-in that finishes the trial's run
    by hand: what is tested is the end of --wait.)"""
    import genlab.cli.sweep
    from genlab.run.files import atomic_write_json
    from genlab.run.rundir import SweepDir
    from genlab.sweep.spec import trial_run_id
    from genlab.train.execute import create, prepare

    def worker(sweep_dir, parallel):
        run_id = trial_run_id(sweep_dir.name, 0)
        run_dir = create(prepare("vae", runs_dir=runs, name=run_id, max_steps=5, lr=1e-3, sweep=sweep_dir.name))
        atomic_write_json(run_dir / "status.json", {**read_json(run_dir / "status.json"), "state": "finished",
                                                    "step": 5})
        atomic_write_json(SweepDir(sweep_dir).trials, {"trials": [{"number": 0, "run_id": run_id, "params": {"lr": 1e-3},
                                                           "state": "complete", "value": 123.4}], "t": time.time()})

    monkeypatch.setattr(genlab.cli.sweep, "start_worker", worker)
    r = CliRunner().invoke(app, ["sweep", "vae", "--grid", "lr=1e-3", "--max-steps", "5", "--wait", "--name", "one",
                                 "--runs-dir", str(runs)])
    assert r.exit_code == 0, r.output
    assert "sweep one finished" in r.output and "how each did" in r.output and "one-000" in r.output
    assert "compare needs" not in r.output and "configurations are the same" not in r.output


def test_sweep_help_shows_how_to_start_one():
    """`genlab sweep --help` lists the subcommands and start's own arguments and options (a sweep
    starts with `genlab sweep MODEL ...`, whose options would otherwise hide under `start`)."""
    r = CliRunner().invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for shown in ("show", "join", "resume", "genlab sweep start [OPTIONS] [MODEL]", "--grid", "--range", "--recipe",
                  "--max-minutes", "--parallel", "--prune", "'genlab sweep MODEL ...' is short for"):
        assert shown in r.output, shown


def test_a_trial_another_worker_told_first_is_not_told_twice_nor_counted_here():
    """Two workers that saw the same run finish can both pass Optuna's skip_if_finished check; the
    database refuses the second write (UpdateFinishedTrialError, seen with PostgreSQL). The second
    worker says so, drops the trial and does not count it as ended here; other errors still rise."""
    from types import SimpleNamespace

    from optuna.trial import TrialState

    from genlab.sweep.worker import Worker

    class Study:
        def __init__(self, error):
            self.error = error

        def tell(self, *args, **kwargs):
            raise self.error

    said = []
    worker = SimpleNamespace(study=Study(optuna.exceptions.UpdateFinishedTrialError("Trial#0 has already finished")),
                             done_here=0, active={}, waiting=[], objectives={}, say=said.append, spec=None)
    worker.told = Worker.told.__get__(worker)
    worker.drop = Worker.drop.__get__(worker)
    active = SimpleNamespace(number=0, seed=None, run_dir=Path("j-000"))
    Worker.tell(worker, active, TrialState.COMPLETE, 1.0, "test_fld 1")
    assert worker.done_here == 0 and said == ["trial 0: another worker told it first"]
    worker.study = Study(ValueError("something else"))
    with pytest.raises(ValueError):
        Worker.told(worker, 0, 1.0, TrialState.COMPLETE)
