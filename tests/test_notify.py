"""Alerts away from the terminal (genlab/run/notify.py): --notify through Apprise to a JSON webhook
this test serves on 127.0.0.1, thresholds, an undeliverable message, verdict changes, and the
cockpit's bell and toast."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from scripted import make_run
from typer.testing import CliRunner

from genlab.cli.main import app as cli
from genlab.health import Verdict
from genlab.run.follow import RunView
from genlab.run.notify import Alerts, Changes, Notifier, Threshold, shown_url, state_news
from genlab.run.store import parse_events

runner = CliRunner()


@pytest.fixture
def webhook():
    """A JSON webhook on 127.0.0.1: (its Apprise URL, the messages it received, as dicts)."""
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append({**json.loads(body), "path": self.path})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def events_of(run_dir):
    return parse_events((run_dir / "events.jsonl").read_bytes())


def test_a_run_tells_its_end_and_a_threshold_crossed_and_keeps_its_url_secret(runs, webhook, monkeypatch):
    host, received = webhook
    url = f"json://user:s3cret-pass@{host}/hook-t0ken"  # a password and a path that must not be written anywhere
    args = ["train", "gan", "--max-steps", "20", "--eval-size", "256", "--runs-dir", str(runs), "--name", "n1",
            "--notify", url, "--notify-when", "test_fld>0", "--notify-when", "d_loss>1000"]
    monkeypatch.setattr(sys, "argv", ["genlab", *args])  # (recorded in config.json and its checkpoints)
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    wait_for(lambda: any("finished" in m["title"] for m in received))
    assert {m["path"] for m in received} == {"/hook-t0ken"}
    finished = [m for m in received if "finished" in m["title"]]
    crossed = [m for m in received if "test_fld" in m["message"]]
    assert len(finished) == 1 and len(crossed) == 1, received  # once per crossing, whatever the checks
    assert finished[0]["message"] == "run n1 (gan) at step 20: finished\nlook: genlab show n1"
    assert finished[0]["type"] == "success"
    assert "crossed > 0" in crossed[0]["message"] and "run n1 (gan)" in crossed[0]["message"]
    assert not any("d_loss" in m["message"] for m in received)  # a threshold never crossed says nothing
    log = (runs / "n1" / "log.txt").read_text()
    assert f"notifying json://{host}/…" in log and "test_fld>0" in log
    for path in (runs / "n1").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"s3cret" not in data and b"t0ken" not in data, path
    assert f"json://{host}/…" in json.loads((runs / "n1" / "config.json").read_text())["argv"]
    assert not any(e["kind"] == "warning" and "notif" in e.get("message", "") for e in events_of(runs / "n1"))


def test_an_undeliverable_message_is_a_warning_and_the_other_url_still_hears(runs, webhook):
    """Two URLs: one a port nobody listens on (a warning event, the run unharmed), one the
    webhook, which hears of the end."""
    host, received = webhook
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = runner.invoke(cli, ["train", "vae", "--max-steps", "10", "--eval-size", "256", "--runs-dir", str(runs),
                            "--name", "n2", "--notify", f"json://127.0.0.1:{port}/", "--notify", f"json://{host}/"])
    assert r.exit_code == 0 and "run n2 finished" in r.output, r.output
    wait_for(lambda: received)
    ends = [m["message"].splitlines()[0] for m in received if "finished" in m["title"]]
    assert ends == ["run n2 (vae) at step 10: finished"], received
    events = events_of(runs / "n2")
    assert [e["state"] for e in events if e["kind"] == "state"][-1] == "finished"
    warnings = [e["message"] for e in events if e["kind"] == "warning"]
    assert any(w.startswith(f"notification to json://127.0.0.1:{port}/… not delivered") for w in warnings), warnings


@pytest.mark.parametrize("args, said", [
    (["--notify-when", "test_fld<20"], "--notify-when needs --notify URL"),
    (["--notify", "json://127.0.0.1:9/", "--notify-when", "test_fld=20"], "write METRIC<NUMBER"),
    (["--notify", "json://127.0.0.1:9/", "--notify-when", "test_fid<20"], "gan records no 'test_fid'"),
    (["--notify", "nonsense://s3cret/x"], "--notify nonsense://…: not a URL Apprise can send to"),
])
def test_bad_notify_options_are_one_line_and_exit_2_before_anything_starts(runs, args, said):
    r = runner.invoke(cli, ["train", "gan", "--max-steps", "5", "--runs-dir", str(runs), *args])
    assert r.exit_code == 2
    assert said in r.output and len(r.output.strip().splitlines()) == 1 and "s3cret" not in r.output, r.output
    assert not runs.exists() or not any(runs.iterdir())  # no run made


def test_shown_urls_keep_scheme_and_host_only():
    assert shown_url("json://127.0.0.1:8080/some/path?token=x") == "json://127.0.0.1:8080/…"
    assert shown_url("json://user:pw@example.com/hook") == "json://example.com/…"
    assert "abcdefg" not in shown_url("tgram://123456789:abcdefg_hijklmnop/12315544/")
    assert Threshold.parse(" test_fld <= 20 ") == Threshold("test_fld", "<=", 20.0)


class Kept:
    """A delivery that keeps what it is given."""

    def __init__(self):
        self.sent = []

    def send(self, title, body, kind="info"):
        self.sent.append((title, body, kind))
        return []


def test_the_notifier_tells_changes_of_verdict_state_and_thresholds(tmp_path):
    run = make_run(tmp_path, "g1", "gan", steps=50)
    notifier = Notifier(run, Alerts(("json://127.0.0.1:9/",), (Threshold("test_fld", "<", 20),)), print,
                        delivery=Kept())
    view = RunView("g1", run, config={"model": "gan"}, status={"step": 50})
    notifier.follower.poll = lambda: view
    notifier.check()  # the first look: what is there is not news
    young = Verdict("young", "too young to judge", "young")
    healthy = Verdict("healthy", "healthy")
    d_wins = Verdict("d-wins", "D winning", "warn", evidence="‖∇G‖ 0.002", since_step=3200,
                     cures=("genlab train wgan-gp",))

    def said(**changes):
        for k, v in changes.items():
            setattr(view, k, v)
        return [body for _, body, _ in notifier.check()]

    assert said(health=young) == [] and said(health=healthy) == []  # a young run becoming healthy is not news
    view.status = {"step": 3300}
    assert said(health=d_wins) == ["run g1 (gan) at step 3,300: health: ▲ D winning since step 3,200: ‖∇G‖ 0.002 "
                                   "— try: genlab train wgan-gp\nlook: genlab show g1"]
    assert said() == []  # the same verdict again: said once
    assert said(health=healthy) == ["run g1 (gan) at step 3,300: health: ✓ healthy (was: D winning)\n"
                                    "look: genlab show g1"]
    crossed = said(evals={"test_fld": [(1000, 25.0), (2000, 18.5), (3000, 17.0)]})
    assert crossed == ["run g1 (gan) at step 2,000: test_fld 18.5 crossed < 20\nlook: genlab show g1"]
    view.evals["test_fld"] += [(4000, 22.0), (5000, 19.0)]  # out, then in again: a second crossing
    assert said() == ["run g1 (gan) at step 5,000: test_fld 19 crossed < 20\nlook: genlab show g1"]
    view.events = [{"t": 0.5, "step": 4990, "kind": "warning", "message": "divergence: d_loss is nan at step 4,990"},
                   {"t": 1.0, "step": 5000, "kind": "state", "state": "paused", "reason": "diverged: d_loss is nan"}]
    assert said() == ["run g1 (gan) at step 5,000: paused by divergence (d_loss is nan); a resume rolls back to its "
                      "last good checkpoint\nlook: genlab show g1"]
    view.events = view.events + [{"t": 2.0, "step": 5000, "kind": "state", "state": "paused", "reason": "paused by request"}]
    assert said() == []  # a pause asked for is not news
    view.events = view.events + [{"t": 3.0, "step": 5000, "kind": "state", "state": "stopped",
                                  "reason": "diverged: d_loss is nan at step 4,990"}]
    assert said() == ["run g1 (gan) at step 5,000: diverged and stopped (d_loss is nan at step 4,990)\n"
                      "look: genlab show g1"]
    assert notifier.delivery.sent == []  # (check() says what to send; the notifier's thread sends it)


def test_what_each_end_says():
    assert state_news("finished", None) == ("finished", "success")
    assert state_news("failed", "RuntimeError: boom") == ("failed: RuntimeError: boom", "failure")
    assert state_news("stopped", "diverged: g_loss is inf at step 7")[0] == "diverged and stopped (g_loss is inf at step 7)"
    assert state_news("stopped", "pruned by sweep s: test_fld 90 at step 500 is worse than the median")[0].startswith("pruned")
    assert state_news("running", None) is None and state_news("paused", "paused by request") is None


def test_the_notifier_thread_sends_the_runs_end_before_it_closes(tmp_path):
    run = make_run(tmp_path, "v1", "vae", steps=30)
    kept = Kept()
    warned = []
    notifier = Notifier(run, Alerts(("json://127.0.0.1:9/",)), warned.append, every_s=60.0, delivery=kept).start()
    with open(run / "events.jsonl", "a") as f:  # the run ends after the notifier's first look
        f.write(json.dumps({"t": 2.0e9, "step": 30, "kind": "state", "state": "finished"}) + "\n")
    notifier.close()  # (its poll is every 60 s: only its last look can have seen the end)
    assert [(title, kind) for title, _, kind in kept.sent] == [("genlab: v1 finished", "success")] and not warned


def test_the_cockpits_changes_worth_a_bell():
    changes = Changes()
    d_wins = Verdict("d-wins", "D winning", "warn")
    assert changes.see("r", "running") is None  # first sight: noted
    assert changes.see("r", "running") is None
    assert changes.see("r", "running", d_wins) == "r health: ▲ D winning"
    assert changes.see("r", "finished", d_wins) == "r finished"
    assert changes.see("r", "running", d_wins) is None  # resumed: the person did it


async def test_the_cockpit_rings_and_toasts_when_a_run_it_shows_ends(tmp_path, monkeypatch):
    from test_tui import ScriptedSource, until

    from tui.app import GenlabApp
    from tui.screens.dashboard import Dashboard
    from tui.screens.runs import RunsScreen
    from tui.widgets.runs_table import RunsTable

    root = tmp_path / "runs"
    make_run(root, "gan-1", "gan")
    make_run(root, "vae-1", "vae", state="finished")
    app = GenlabApp(ScriptedSource(root), load_models=False)
    rung = []
    monkeypatch.setattr(app, "bell", lambda: rung.append(True))

    def end(name, state):
        status = json.loads((root / name / "status.json").read_text())
        (root / name / "status.json").write_text(json.dumps({**status, "state": state}))

    def toasts():
        return [n.message for n in app._notifications]

    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 2)
        assert not rung and not toasts()  # what was there at the start is not news
        end("gan-1", "failed")  # on the runs screen
        await until(pilot, lambda: "gan-1 failed" in toasts())
        assert len(rung) == 1
        app.open_run("vae-1")
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        end("vae-1", "stopped")  # on its dashboard
        await until(pilot, lambda: "vae-1 stopped" in toasts())
        assert len(rung) == 2 and toasts().count("gan-1 failed") == 1


def test_a_script_run_notifies_through_genlab_init(runs, webhook):
    import genlab

    host, received = webhook
    run = genlab.init(name="script-1", runs_dir=runs, notify=f"json://{host}/", notify_when="test_acc>0.5")
    for step in range(1, 4):
        run.log({"loss": 1.0 / step, **({"test_acc": 0.2 * step} if step > 1 else {})}, step=step)
    run.finish()
    wait_for(lambda: any("finished" in m["title"] for m in received))
    bodies = [m["message"].splitlines()[0] for m in received]
    assert bodies == ["run script-1 (script-1) at step 3: test_acc 0.6 crossed > 0.5", "run script-1 (script-1) at step 3: finished"]


def test_a_sweeps_end_is_one_message_with_its_best_trial(tmp_path):
    from genlab.run.notify import sweep_ended

    sweep = tmp_path / "sw1"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({
        "sweep_id": "sw1", "model": "gan", "grid": {"lr": [1e-4, 2e-4]}, "ranges": {}, "seeds": [0], "search": "grid",
        "trials": 2, "objective": "test_fld", "direction": "minimize", "prune": True, "prune_every": 500,
        "prune_startup": 1, "parallel": 1, "run": {"max_steps": 1000}, "recipe": None, "created": 0.0}))
    (sweep / "trials.json").write_text(json.dumps({"trials": [
        {"number": 0, "run_id": "sw1-000", "params": {"lr": 2e-4}, "state": "complete", "value": 64.25},
        {"number": 1, "run_id": "sw1-001", "params": {"lr": 1e-4}, "state": "pruned", "value": 90.0}]}))
    kept = Kept()
    assert sweep_ended(sweep, "finished", Alerts(("json://127.0.0.1:9/",)), delivery=kept) == []
    assert kept.sent == [("genlab: sweep sw1 finished",
                          "sweep sw1 (gan) finished: 1 complete, 1 pruned, 0 failed of 2; best: trial 0 (run sw1-000) "
                          "test_fld 64.25\nlook: genlab sweep show sw1", "success")]


def test_what_a_plugin_says_of_a_url_is_told_without_its_secrets():
    from genlab.run.notify import secrets_of

    assert set(secrets_of("json://user:s3cret@127.0.0.1:8080/hook-t0ken?k=v4lue")) == {"user", "s3cret", "hook-t0ken", "v4lue"}
    assert "123456789" in secrets_of("tgram://123456789:abcdefg_hijklmnop/12315544/")  # a token as the host
