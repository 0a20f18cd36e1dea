"""`genlab runs` over kept rows (genlab/run/row_cache.py): the same listing as reading every run
whole, worked out again when a run changes, a corrupt cache passed over; its table drawn to a
pipe as Rich draws it, and to a terminal only as far as it fits."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from scripted import T0, make_run
from typer.testing import CliRunner

import genlab.cli.runs as runs_cli
from genlab.cli.main import app
from genlab.health.judge import JUDGING
from genlab.run import row_cache, tags
from genlab.run.metrics_log import MetricsBinSink
from genlab.run.sinks import JsonlSink
from genlab.sweep.spec import SweepSpec

runner = CliRunner()
STATES = ("finished", "crashed", "failed", "stopped", "paused", "running")


def listed(root, *args) -> str:
    r = runner.invoke(app, ["runs", "--runs-dir", str(root), *args])
    assert r.exit_code == 0, r.output
    return r.output


def runs_of_every_state(root) -> None:
    """A run of each state and model, an unreadable one, tags (one Rich would read as an emoji
    code), and a sweep of two trials."""
    for i, state in enumerate(STATES):
        make_run(root, f"{state}-{i}", ("gan", "vae", "pixelcnn", "cgan")[i % 4], steps=300 + 100 * i, state=state,
                 eval_every=150)
    make_run(root, "broken", "gan", steps=50, state="finished")
    (root / "broken" / "status.json").write_text("{not json")
    tags.change(root / "finished-0", add=["best", "ok:thumbs_up:"])
    d = root / "sweep-x"
    (d / "workers").mkdir(parents=True)
    spec = SweepSpec(sweep_id="sweep-x", model=None, grid={"model": ["gan", "vae"]}, trials=2, objective="test_fld",
                     created=T0)
    (d / "sweep.json").write_text(json.dumps(spec.to_json()))
    trials = []
    for i, model in enumerate(("gan", "vae")):
        run = make_run(root, f"sweep-x-{i:03d}", model, steps=200, state="finished")
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, "sweep": "sweep-x"}))
        trials.append({"number": i, "run_id": run.name, "params": {"model": model}, "state": "complete", "value": 30.0 - i})
    (d / "trials.json").write_text(json.dumps({"trials": trials, "t": T0}))


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setattr(runs_cli, "age", lambda t: "1h ago")  # the clock moves between two listings
    root = tmp_path / "runs"
    runs_of_every_state(root)
    return root


def every_listing(root) -> list[str]:
    return [listed(root), listed(root, "--json"), listed(root, "--filter", "health=healthy"), listed(root, "--tag", "best")]


def test_kept_rows_list_what_reading_every_run_does_until_a_run_changes(root):
    whole = [listed(root, "--no-cache"), listed(root, "--no-cache", "--json"),
                                      listed(root, "--no-cache", "--filter", "health=healthy"),
                                      listed(root, "--no-cache", "--tag", "best")]
    assert not row_cache.cache_file(root).exists()  # --no-cache keeps nothing
    assert every_listing(root) == whole  # worked out, and kept
    kept = json.loads(row_cache.cache_file(root).read_text())["rows"]
    assert set(kept) == {"finished-0", "crashed-1", "failed-2", "stopped-3", "paused-4", "running-5", "sweep-x-000",
                         "sweep-x-001"}  # not the unreadable one
    assert every_listing(root) == whole  # read back

    # a run changes: a tag, a resumed run's new rows and evaluation, a status rewritten
    tags.change(root / "stopped-3", add=["again"])
    figure = next(r for r in json.loads(whole[1]) if r["id"] == "crashed-1")["ranked_by"]["name"]  # a VAE's
    sinks = [JsonlSink(root / "crashed-1" / "events.jsonl"), MetricsBinSink(root / "crashed-1")]
    for e in ({"t": T0 + 50, "step": 500, "kind": "metrics", "epoch": 1, "loss": 99.5, "recon": 80.0, "kl": 19.5},
              {"t": T0 + 50, "step": 500, "kind": "eval", "epoch": 1, "n": 10000, figure: 101.0}):
        for s in sinks:
            s.event(e)
    for s in sinks:
        s.close()
    status = json.loads((root / "failed-2" / "status.json").read_text())
    (root / "failed-2" / "status.json").write_text(json.dumps({**status, "state": "finished", "step": 777}))
    changed = [listed(root, "--no-cache"), listed(root, "--no-cache", "--json")]
    assert changed != whole[:2]
    assert every_listing(root)[:2] == changed
    rows = {r["id"]: r for r in json.loads(changed[1])}
    assert rows["stopped-3"]["tags"] == ["again"] and rows["failed-2"]["state"] == "finished"
    assert rows["crashed-1"]["ranked_by"]["latest"] == 101.0


def test_a_corrupt_or_foreign_cache_is_passed_over(root):
    whole = [listed(root, "--no-cache"), listed(root, "--no-cache", "--json")]
    path = row_cache.cache_file(root)
    path.parent.mkdir(parents=True)
    for garbage in (b"\x00garbage", b"[]", json.dumps({"format": 99, "rows": {}}).encode()):
        path.write_bytes(garbage)
        assert [listed(root), listed(root, "--json")] == whole
    raw = json.loads(path.read_text())  # rewritten whole: kept verdicts judged by older rules are judged again
    assert raw["judging"] == JUDGING
    made_up = {**raw, "judging": JUDGING - 1}
    made_up["rows"]["finished-0"]["row"]["listing"]["key_text"] = "made up"
    path.write_text(json.dumps(made_up))
    assert [listed(root), listed(root, "--json")] == whole and "made up" not in path.read_text()
    raw = json.loads(path.read_text())  # now a row torn inside, its key still right
    raw["rows"]["finished-0"]["row"] = {"info": {"status": 3}}
    raw["rows"]["stopped-3"]["row"]["listing"]["key_text"] = "made up"  # (a stale key: worked out again)
    raw["rows"]["stopped-3"]["key"][0] = [0, 0, 0]
    path.write_text(json.dumps(raw))
    assert [listed(root), listed(root, "--json")] == whole
    assert "made up" not in path.read_text()


def test_the_json_listing_is_what_it_was(root):
    """--json as it was before rows were kept: each field read from the run as it was then."""
    from genlab.health import judge_run
    from genlab.run.store import list_runs
    from genlab.run.summary import rank, summarise

    infos = list_runs(root)
    summaries = {s.run_id: s for s in rank([summarise(r.path, curves=False, known=runs_cli.known_view) for r in infos])}
    before = [{
        "id": r.run_id, "model": r.model, "state": r.state, "step": r.status.get("step", 0),
        "total_steps": r.config.get("total_steps"), "metrics": r.status.get("metrics") or {},
        "key_metric": runs_cli.run_view(r.path).key, "ranked_by": summaries[r.run_id].to_json()["ranked_by"],
        "health": judge_run(r.path, runs_cli.known_view).to_json() if judge_run(r.path, runs_cli.known_view) else None,
        "tags": tags.read(r.path).tags, "note": tags.read(r.path).note,
        "created": r.created, "path": str(r.path), "problem": r.problem, "sweep": r.config.get("sweep"),
        "forked_from": r.config.get("forked_from"),
    } for r in infos]
    expected = json.dumps(before, indent=2) + "\n"
    assert listed(root, "--json") == expected and listed(root, "--json") == expected  # worked out, then kept


def test_the_table_to_a_pipe_is_the_same_from_kept_rows(root):
    """A pipe gets every run's whole row, drawn by Rich, the same whether worked out or kept."""
    for args in ((), ("--filter", "crashed"), ("--tag", "best")):
        worked_out = listed(root, "--no-cache", *args)
        assert listed(root, *args) == listed(root, *args) == worked_out, args  # (the first fills the cache)
    drawn = listed(root)
    assert "👍" in drawn and "├" in drawn and "sweep sweep-x" in drawn


def test_a_terminal_shows_the_newest_runs_that_fit_and_says_how_many_more(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for i in range(16):
        make_run(root, f"run-{i:02d}", "vae", steps=30, state="finished")
    screen, piped = io.StringIO(), runs_cli.out
    monkeypatch.setattr(runs_cli, "out", Console(file=screen, width=200, height=20, force_terminal=True, no_color=True))
    listed(root)
    text = screen.getvalue()
    assert "run-15" in text and "run-03" in text and "run-02" not in text and "run-00" not in text, text
    assert "3 older runs not shown; every run: genlab runs | less" in text, text
    assert len(text.splitlines()) <= 20
    monkeypatch.setattr(runs_cli, "out", piped)
    assert all(f"run-{i:02d}" in listed(root) for i in range(16))  # a pipe: every run


def test_a_live_runs_kept_row_stands_for_a_while_with_its_status_read_afresh(root, monkeypatch):
    """A live run's files change all the time: its kept verdict and figures stand for LIVE_FOR_S,
    its state and step are always read now; a run that ended, or older rows, are worked out."""
    run = root / "running-5"

    def grow(step: int, state: str = "running") -> None:
        sinks = [JsonlSink(run / "events.jsonl"), MetricsBinSink(run)]
        for s in sinks:
            s.event({"t": T0 + step, "step": step, "kind": "metrics", "epoch": 1, "loss": 99.5, "recon": 80.0,
                     "kl": 19.5})
            s.event({"t": T0 + step, "step": step, "kind": "eval", "epoch": 1, "n": 10000, figure: float(step)})
            s.close()
        status = json.loads((run / "status.json").read_text())
        (run / "status.json").write_text(json.dumps({**status, "state": state, "step": step}))

    def row() -> dict:
        return next(r for r in json.loads(listed(root, "--json")) if r["id"] == "running-5")

    first = row()
    figure = first["ranked_by"]["name"]
    clock = [row_cache.time.time()]
    monkeypatch.setattr(row_cache.time, "time", lambda: clock[0])
    grow(first["step"] + 7)
    again = row()
    assert again["step"] == first["step"] + 7  # its status, read now
    assert again == {**first, "step": first["step"] + 7}  # the rest kept
    assert row() == again

    clock[0] += row_cache.LIVE_FOR_S + 1  # older than that: worked out whole
    worked = next(r for r in json.loads(listed(root, "--no-cache", "--json")) if r["id"] == "running-5")
    assert worked["ranked_by"]["latest"] == first["step"] + 7 != again["ranked_by"]["latest"]
    assert row() == worked

    grow(first["step"] + 9, state="finished")  # it ended: worked out at once
    ended = row()
    assert ended["state"] == "finished" and ended["step"] == first["step"] + 9
    assert ended == next(r for r in json.loads(listed(root, "--no-cache", "--json")) if r["id"] == "running-5")
