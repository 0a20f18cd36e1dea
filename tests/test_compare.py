"""Comparing runs on the command line; tags and notes; a time budget."""

from __future__ import annotations

import json
import threading

from scripted import make_run
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.run import tags
from genlab.run.files import read_json
from genlab.run.store import read_events
from genlab.train.execute import create, execute, prepare

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def three(root):
    make_run(root, "gan-a", "gan", steps=1500)
    make_run(root, "cgan-b", "cgan", steps=1200, state="finished")
    make_run(root, "vae-c", "vae", steps=900)


def test_compare_shows_what_differs_and_how_each_did(tmp_path):
    root = tmp_path / "runs"
    three(root)
    r = invoke("compare", "gan-a", "cgan-b", "--runs-dir", root)
    assert r.exit_code == 0, r.output
    differs, did = r.output.split("how each did")
    assert "model" in differs and "lr" in differs and "width" in differs and "seed" not in differs
    assert "d_loss 1.33" in did and "1,500/4,685" in did and "finished" in did
    data = json.loads(invoke("compare", "gan-a", "cgan-b", "vae-c", "--json", "--runs-dir", root).output)
    assert data["differs"][:2] == ["model", "batch_size"]
    by_id = {d["id"]: d for d in data["runs"]}
    assert by_id["vae-c"]["key_metric"]["name"] == "loss" and by_id["gan-a"]["key_metric"]["name"] == "d_loss"
    vae = by_id["vae-c"]["key_metric"]
    assert vae["best"] <= vae["latest"] and 1 <= vae["best_step"] <= 900
    assert by_id["cgan-b"]["label"].startswith("cgan-b model=cgan")  # its name, then what differs


def test_each_run_gets_the_shortest_label_that_tells_it_apart():
    """A sweep's trials are their numbers and what differs; long ids of one day lose the words
    they share, never cut to one prefix; each run has its own colour; a label fits any width
    with its name whole."""
    from genlab.run.compare import labels

    def config(lr=2e-4, sweep=None, **hp):
        return {"model": "gan", "lr": lr, "batch_size": 64, "hp": {"lr": lr, **hp}, "sweep": sweep}

    sweep = "sweep-20261206-101500-gan"
    trials = labels([config(lr, sweep) for lr in (2e-4, 1e-3, 5e-4)], [f"{sweep}-{n:03d}" for n in (0, 3, 12)])
    assert [t.text for t in trials] == ["#0 lr=0.0002", "#3 lr=0.001", "#12 lr=0.0005"]
    assert len({t.colour for t in trials}) == 3

    ids = ["20261206-101500-gan", "20261206-113000-gan", "20261206-113000-gan-2"]
    runs = labels([config(), config(), config()], ids)
    assert [r.text for r in runs] == ["…101500-gan", "…113000-gan", "…113000-gan-2"]  # nothing differs
    assert [r.run_id for r in runs] == ids

    short = labels([config(width=16), config(width=32)], ["gan-a", "gan-b"])
    assert [s.text for s in short] == ["gan-a width=16", "gan-b width=32"]  # one hyperparameter differs

    mixed = labels([config(sweep=sweep), config(sweep="sweep-20261207-090000-gan")],
                   [f"{sweep}-003", "sweep-20261207-090000-gan-003"])  # trials of two sweeps: their ids
    assert [m.name for m in mixed] == ["…20261206-101500-gan-003", "…20261207-090000-gan-003"]

    wide = labels([config(1e-3, sweep, width=16, beta1=0.5), config(2e-4, sweep, width=32, beta1=0.9)],
                  [f"{sweep}-001", f"{sweep}-002"])[0]
    assert [wide.fit(w) for w in (40, 16, 5, 2)] == ["#1 lr=0.001 width=16 beta1=0.5", "#1 lr=0.001…", "#1…", "#1"]


def test_compare_plots_a_metric_the_runs_share(tmp_path):
    root = tmp_path / "runs"
    three(root)
    r = invoke("compare", "gan-a", "cgan-b", "--plot", "d_loss", "--runs-dir", root)
    assert r.exit_code == 0 and "d_loss against step" in r.output and "\x1b[" not in r.output
    assert "gan-a" in r.output.split("d_loss against step")[1]  # the legend names the runs
    r = invoke("compare", "gan-a", "vae-c", "--plot", "loss", "--x", "time", "--runs-dir", root)
    assert r.exit_code == 0 and "loss against minutes" in r.output


def test_compare_refuses_bad_input_in_one_line(tmp_path):
    root = tmp_path / "runs"
    three(root)
    make_run(root, "gan-a2", "gan", steps=10)
    for args, message in ((["gan-a"], "two runs or more"), (["gan-a", "nosuch"], "no run matches 'nosuch'"),
                          (["gan-", "vae-c"], "matches"), (["gan-a", "vae-c", "--plot", "nope"], "none of these runs has a metric 'nope'"),
                          (["gan-a", "vae-c", "--x", "epochs"], "--x must be step or time"),
                          (["--tag", "a/b"], "no spaces or slashes")):
        r = invoke("compare", *args, "--runs-dir", root)
        assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, (args, r.output)


def test_tags_and_notes_are_kept_shown_and_filtered(tmp_path):
    root = tmp_path / "runs"
    three(root)
    assert invoke("tag", "gan-a", "baseline", "sweep", "--runs-dir", root).exit_code == 0
    assert invoke("tag", "cgan-b", "sweep", "--runs-dir", root).exit_code == 0
    assert invoke("note", "cgan-b", "the conditional one", "--runs-dir", root).exit_code == 0
    r = invoke("runs", "--tag", "sweep", "--runs-dir", root)
    assert "gan-a" in r.output and "cgan-b" in r.output and "vae-c" not in r.output and "baseline sweep" in r.output
    assert "note: the conditional one" in invoke("show", "cgan-b", "--runs-dir", root).output
    r = invoke("compare", "--tag", "sweep", "--json", "--runs-dir", root)
    assert {d["id"] for d in json.loads(r.output)["runs"]} == {"gan-a", "cgan-b"}
    assert invoke("untag", "gan-a", "sweep", "--runs-dir", root).exit_code == 0
    assert tags.read(root / "gan-a").tags == ["baseline"]
    for bad in ("two words", "a/b", ""):
        r = invoke("tag", "gan-a", bad, "--runs-dir", root)
        assert r.exit_code == 2 and "no spaces or slashes" in r.output


def test_tag_changes_at_once_all_land(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "r", "vae", steps=10)
    threads = [threading.Thread(target=tags.change, args=(root / "r",), kwargs={"add": [f"t{i}"]}) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(tags.read(root / "r").tags) == sorted(f"t{i}" for i in range(20))


def test_a_time_budget_finishes_the_run_and_resume_extends_it(runs):
    run_dir = create(prepare("vae", runs_dir=runs, name="timed", max_steps=10**7, max_minutes=0.02,
                             hp={"hidden": 32, "latent": 4}, eval_size=100))
    assert execute(run_dir) == "finished"
    status = read_json(run_dir / "status.json")
    assert "time budget" in status["reason"] and 0 < status["step"] < 10**7
    events, _ = read_events(run_dir / "events.jsonl")
    assert events[-1]["kind"] == "state" and any(e["kind"] == "checkpoint" and e["step"] == status["step"] for e in events)
    r = invoke("resume", "timed", "--runs-dir", runs)
    assert r.exit_code == 2 and "extend it with --max-minutes" in r.output
    assert execute(run_dir, resume=True, max_minutes=0.04) == "finished"
    later = read_json(run_dir / "status.json")
    assert later["step"] > status["step"] and "0.04 minutes" in later["reason"]


def test_a_run_older_than_an_option_has_its_default():
    """A run made before a model had an option (no ``ema`` in its config.json) is not told apart
    from a new run with the option at its default, which is what the model did before; a new
    run with the option on is, and runs differing only in their seed are one group."""
    from genlab.run.compare import differing
    from genlab.run.seed_groups import grouped

    old = {"model": "dcgan", "seed": 0, "hp": {"beta1": 0.5, "latent": 100, "width": 64, "d_lr_ratio": 1.0}}
    new = {"model": "dcgan", "seed": 1, "hp": {**old["hp"], "ema": 0.0, "sn": 0, "loss": "bce", "r1": 0.0}}
    on = {**new, "hp": {**new["hp"], "ema": 0.999}}
    assert differing([old, new]) == ["seed"]
    assert differing([old, on]) == ["seed", "ema"]
    assert grouped([old, new, on]) == [[0, 1], [2]]
    fork = {**new, "seed": 0, "forked_from": {"run": "p", "step": 100}}  # a fork with no changes: a branch, not a seed
    assert grouped([old, new, fork]) == [[0, 1], [2]]
