"""Training health (genlab/health): the rules on scripted histories that fail each way, the
follower's verdict and health events (live, poll by poll, as read whole), young and old runs, and
what `genlab show` and `genlab runs` say. No training: tests/scripted.py writes the runs."""

import json
import shutil
import time

import pytest
from scripted import HISTORIES, make_history, make_run
from typer.testing import CliRunner

from genlab import health, models
from genlab.cli.main import app
from genlab.cli.runs import known_view
from genlab.run.follow import RunFollower
from genlab.run.rundir import RunDir
from genlab.view import View

# each failing history: (its verdict at its end, the step its verdict started at)
EXPECTED = {
    "healthy": ("healthy", None),
    "d-wins": ("d-wins", 1200),
    "mode-collapse": ("mode-collapse", 1800),
    "no-progress": ("no-progress", 1800),
    "oscillation": ("oscillation", 1900),
    "settling": ("healthy", None),  # a falling loss's small turns are no swings
    "hinge-noise": ("healthy", None),  # a loss near 0 is not spiking for being 6x its median
    "loss-spike": ("healthy", None),  # a spike at step 1,550: raised at 1,600, over at 1,700
    "dead": ("dead", 900),
    "exploding-gradients": ("exploding-gradients", 700),  # raised before the run is old enough for the others
    "posterior-collapse": ("posterior-collapse", 900),
    "overfitting": ("overfitting", 1500),
    "plateau": ("plateau", 2100),
}


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    root = tmp_path_factory.mktemp("histories")
    for name in HISTORIES:
        make_history(root, name)
    return root


def test_every_model_declares_rules_that_survive_view_json():
    for name, cls in models.MODELS.items():
        shows = cls.view
        assert shows.health and shows.judged_after_steps > 0 and shows.judged_after_checks > 0, name
        assert View.from_json(json.loads(json.dumps(shows.to_json()))) == shows, name
        for rule in shows.health:
            assert rule.severity in ("warn", "bad") and rule.explains and rule.cures and rule.when.text(), (name, rule)


def test_each_failing_history_raises_its_verdict(histories):
    for name, (final, since) in EXPECTED.items():
        verdict, events = health.judged(histories / name)
        assert (verdict.name, verdict.since_step) == (final, since), (name, verdict)
        if final != "healthy":
            assert verdict.evidence and verdict.cures and verdict.explains, verdict
            assert all("{" not in c for c in verdict.cures), verdict.cures  # the run's id and lr filled in
            assert events[-1]["event"] == "start" and events[-1]["verdict"] == final and events[-1]["step"] == since
        else:
            assert verdict.severity == "ok"
    assert health.judge_run(histories / "no-progress").cures[0] == "genlab resume no-progress --lr 0.0001"
    spikes = health.history(histories / "loss-spike")
    assert [(e["step"], e["verdict"], e["event"]) for e in spikes] == [(1600, "loss-spike", "start"),
                                                                       (1700, "loss-spike", "end")]
    assert "g_loss 12" in spikes[0]["evidence"]  # a spike's evidence is its height
    assert set(spikes[0]) == {"kind", "step", "t", "verdict", "title", "severity", "evidence", "event"}
    assert health.history(histories / "healthy") == []
    # the rule in words counts a held-out figure's window in checks, a training metric's in steps
    collapse = health.judge_run(histories / "mode-collapse").rule
    assert "max_class_share above 0.4 at each of its last 2 checks" in collapse, collapse
    assert "over 200 steps" in health.judge_run(histories / "d-wins").rule


def test_healthy_scripted_runs_of_each_model_stay_healthy(tmp_path):
    for model in ("gan", "vae", "pixelcnn", "cgan"):
        run = make_run(tmp_path, model, model, steps=2000, state="finished")
        verdict, events = health.judged(run)
        assert verdict.name == "healthy" and events == [], (model, verdict, events)


def test_a_young_run_says_when_it_will_be_judged(tmp_path):
    run = make_run(tmp_path, "young", "gan", steps=300, heartbeat=time.time())  # (alive: it beats now)
    verdict = health.judge_run(run)
    assert verdict.severity == "young" and verdict.symbol == "…"
    assert verdict.title == "too young: judged from step 500 and 2 quality checks" and verdict.short() == "… young"
    ended = make_run(tmp_path, "ended", "gan", steps=300, state="finished")
    assert health.judge_run(ended).title == "too short to judge (judged from step 500 and 2 quality checks)"


def grow(source, target, fraction: float) -> None:
    """``target`` as ``source`` was when ``fraction`` of its metric rows and of its events were written
    (each stream cut on its own: the rows run ahead of the events or behind them)."""
    if not target.exists():
        target.mkdir()
        for name in ("config.json", "view.json", "metrics.json"):
            shutil.copy(source / name, target / name)
    status = json.loads((source / "status.json").read_text())
    if fraction < 1:  # live until it is all written
        status.update(state="running", heartbeat=time.time())
    (target / "status.json").write_text(json.dumps(status))
    rows = (source / "metrics.bin").read_bytes()
    width = 8 * len(json.loads((source / "metrics.json").read_text())["columns"])
    cut = int(len(rows) // width * fraction) * width
    (target / "metrics.bin").write_bytes(rows[:cut])
    lines = (source / "events.jsonl").read_bytes().splitlines(keepends=True)
    events = RunDir(target).events
    events.write_bytes(b"".join(lines[:int(len(lines) * min(1.0, fraction * 1.1))]))


def test_a_run_followed_live_is_judged_as_when_read_whole(histories, tmp_path):
    for name in ("d-wins", "loss-spike", "overfitting", "mode-collapse"):
        live = tmp_path / name
        follower, seen = RunFollower(live, keep_events=10_000), []
        for fraction in (0.05, 0.13, 0.3, 0.31, 0.5, 0.62, 0.8, 0.97, 1.0):
            grow(histories / name, live, fraction)
            view = follower.poll()
            seen.append(view.health.name if view.health else None)
        assert [e for e in view.events if e["kind"] == "health"] == health.history(histories / name), name
        assert view.health == health.judge_run(histories / name), name
    assert seen[0] in (None, "young") and seen[-1] == "mode-collapse" and "healthy" in seen


def test_runs_recorded_before_verdicts(histories, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(histories / "d-wins", old)
    raw = json.loads((old / "view.json").read_text())
    del raw["health"], raw["judged_after_steps"], raw["judged_after_checks"]
    (old / "view.json").write_text(json.dumps(raw))
    assert RunFollower(old).poll().health is None  # no rules of its own
    assert health.judge_run(old, known_view).name == "d-wins"  # the CLI's: its model's rules

    from tui.source import RunsSource

    source = RunsSource(tmp_path)  # the cockpit's: its model's rules from the catalogue (torch-free)
    assert source.follower("old").poll().health.name == "d-wins"
    declared = models.get("gan").view.health
    raw["health"] = [{"name": "from-a-newer-genlab"}, *(r.to_json() for r in declared)]
    assert View.from_json(raw).health == declared  # a rule it cannot read is skipped, the view is kept
    (old / "view.json").unlink()
    assert health.judge_run(old, known_view).name == "d-wins"
    # a run without a rule's metric: that rule is not raised
    lacking = make_run(tmp_path, "no-norms", "gan", steps=2400, state="finished", eval_every=300,
                       metrics=lambda s: {k: v for k, v in HISTORIES["d-wins"][2](s).items() if not k.startswith("grad")},
                       evals=HISTORIES["d-wins"][3])
    assert health.judge_run(lacking).name == "healthy"


def test_show_and_runs_say_the_verdict(histories):
    runner = CliRunner()
    shown = runner.invoke(app, ["show", "d-wins", "--runs-dir", str(histories), "--images", "off"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "health: ✖ D winning since step 1,200: ‖∇G‖ 0.01, D(x) 0.9958, D(G(z)) 0.004243" in text
    assert "try: genlab train wgan-gp --preset cpu" in text and "history: D winning from step 1,200" in text
    spiky = " ".join(runner.invoke(app, ["show", "loss-spike", "--runs-dir", str(histories), "--images", "off"]).output.split())
    assert "health: ✓ healthy" in spiky and "history: loss spike at steps 1,600-1,700" in spiky
    data = json.loads(runner.invoke(app, ["show", "plateau", "--runs-dir", str(histories), "--json"]).output)
    assert data["health"]["name"] == "plateau" and data["health"]["symbol"] == "▲"
    assert data["health"]["history"][0]["event"] == "start"

    listing = runner.invoke(app, ["runs", "--runs-dir", str(histories)]).output
    assert "✖ D winning" in listing and "▲ plateau" in listing and "✓ healthy" in listing
    rows = {r["id"]: r for r in json.loads(runner.invoke(app, ["runs", "--runs-dir", str(histories), "--json"]).output)}
    assert rows["mode-collapse"]["health"]["name"] == "mode-collapse" and rows["healthy"]["health"]["severity"] == "ok"
    kept = runner.invoke(app, ["runs", "--runs-dir", str(histories), "--filter", "health=overfitting", "--json"]).output
    assert [r["id"] for r in json.loads(kept)] == ["overfitting"]


def test_a_long_history_read_at_once_is_judged_over_its_newest_rows(histories, monkeypatch):
    from genlab.health import judge

    monkeypatch.setattr(judge, "LONG_READ", 1000)  # d-wins: 2,400 rows, D winning from step 1,000
    verdict, events = health.judged(histories / "d-wins")
    assert verdict.name == "d-wins" and verdict.since_step >= 1400 and events[0]["step"] >= 1400


def test_at_80_columns_the_verdict_s_symbol_stays_beside_the_state(histories, monkeypatch):
    import io
    import re

    from rich.console import Console

    import genlab.cli.runs

    screen = io.StringIO()
    monkeypatch.setattr(genlab.cli.runs, "out", Console(file=screen, width=80, force_terminal=True, no_color=True))
    r = CliRunner().invoke(app, ["runs", "--runs-dir", str(histories)])
    assert r.exit_code == 0, r.output
    lines = re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue()).splitlines()  # as seen: no styles
    assert max(len(line) for line in lines) <= 80 and "health" not in next(line for line in lines if "status" in line)
    assert any("d-wins" in line and "finished ✖" in line for line in lines)
    assert any("plateau" in line and "finished ▲" in line for line in lines)
    assert any(" healthy " in line and "finished ✓" in line for line in lines)


def test_a_resume_that_cut_the_history_judges_it_again(histories, tmp_path):
    from genlab.run.store import cut_events

    run = tmp_path / "d-wins"
    shutil.copytree(histories / "d-wins", run)
    follower = RunFollower(run)
    assert follower.poll().health.name == "d-wins"
    cut_events(run, 1100)  # back to before D won
    view = follower.poll()
    assert view.health.name == "healthy" and not [e for e in view.events if e["kind"] == "health"]


def test_a_metric_missing_from_some_rows_raises_nothing_and_an_infinite_norm_explodes(tmp_path):
    from scripted import gan_checks, gan_metrics

    def sparse(step):  # grad_norm_D recorded at every 10th step only: NaN in the others' rows
        m = gan_metrics(step)
        return m if step % 10 == 0 else {k: v for k, v in m.items() if k != "grad_norm_D"}

    run = make_run(tmp_path, "sparse", "gan", steps=1500, state="finished", eval_every=300, metrics=sparse,
                   evals=gan_checks)
    assert health.judge_run(run).name == "healthy"
    run = make_run(tmp_path, "inf", "gan", steps=1500, state="finished", eval_every=300, evals=gan_checks,
                   metrics=lambda s: gan_metrics(s, grad_norm_g=float("inf") if s > 1450 else 1.0))
    assert health.judge_run(run).line().startswith("✖ gradients exploding since step 1,500: ‖∇G‖ inf")


def test_norms_growing_from_their_start_are_no_explosion(tmp_path):
    """A young run's gradient norms grow many times over from their values at initialisation (the
    seed's GAN at step 200): no explosion is judged before a whole window of history."""
    from scripted import gan_checks, gan_metrics

    run = make_run(tmp_path, "warming", "gan", steps=1200, state="finished", eval_every=300, evals=gan_checks,
                   metrics=lambda s: gan_metrics(s, grad_norm_g=0.05 if s <= 100 else 8.0))
    verdict, events = health.judged(run)
    assert verdict.name == "healthy" and not [e for e in events if e["verdict"] == "exploding-gradients"]
