"""A run's training health in the cockpit (issue 26): the verdict on the dashboard's status line
(whole at 200x50, fitted at 80x24, in full behind h), its `health` events in the event log, and
each run's verdict on the compare and runs screens; under NO_COLOR its symbol says what colour
would. The verdicts here are set on what the follower returns (HealthSource), as the health
engine (genlab/health) sets them; the tmux test at the end reads one the engine raises itself."""

from __future__ import annotations

import io
import json
import math
import time

from rich.console import Console
from scripted import T0, make_run
from test_terminal import GENLAB, session, tmux, tmux_server, wait_for  # noqa: F401 (fixtures)
from test_tui import ScriptedSource, until

from genlab.health import Verdict
from genlab.run.follow import RunFollower
from genlab.run.metrics_log import MetricsBinSink
from genlab.run.sinks import JsonlSink
from tui.app import GenlabApp
from tui.screens.compare import CompareScreen
from tui.screens.dashboard import Dashboard
from tui.screens.runs import RunsScreen
from tui.screens.verdict import VerdictDetails
from tui.widgets import verdict
from tui.widgets.event_log import EventLog
from tui.widgets.ranking import RankingTable
from tui.widgets.runs_table import RunsTable
from tui.widgets.status_bar import StatusBar

D_WINS = Verdict(
    "d-wins", "D winning", "warn",
    explains="The discriminator tells real digits from generated ones almost perfectly, so the generator's "
             "gradient vanishes and it stops learning.",
    evidence="‖∇G‖ 0.002, D(x) 0.99, D(G(z)) 0.01", since_step=1200,
    cures=("genlab train wgan-gp --preset cpu", "genlab train dcgan --preset cpu", "genlab resume gan-1 --lr 0.0001"))
HEALTHY = Verdict("healthy", "healthy", "ok")
COLLAPSE = Verdict("posterior-collapse", "posterior collapse", "bad", evidence="active units 1 of 20, KL 0.3",
                   since_step=900, cures=("genlab train vae --hp kl_warmup=2000",))


def health_event(step: int, v: Verdict, event: str) -> dict:
    return {"kind": "health", "step": step, "t": T0 + step * 0.02, "verdict": v.name, "title": v.title,
            "severity": v.severity, "evidence": v.evidence, "event": event}


class HealthSource(ScriptedSource):
    """The scripted source whose followers say what ``verdicts`` and ``events`` hold for each run,
    as the health engine's follower would (RunView.health and `health` events); changed in a test,
    the next poll carries the change."""

    def __init__(self, root):
        super().__init__(root)
        self.verdicts: dict[str, Verdict] = {}
        self.events: dict[str, list[dict]] = {}

    def follower(self, run_id):
        return JudgedFollower(self, self.root / run_id, capacity=self.capacity, clock=self.clock)

    def health(self, run_dir):
        return self.verdicts.get(run_dir.name)


class JudgedFollower(RunFollower):
    def __init__(self, source: HealthSource, *args, **kwargs):
        self.source = source
        super().__init__(*args, **kwargs)

    def poll(self):
        v = super().poll()
        health, events = self.source.verdicts.get(v.run_id), self.source.events.get(v.run_id, [])
        if health != v.health or any(e not in v.events for e in events):
            v.health = health
            v.events = [e for e in v.events if e.get("kind") != "health"] + events
            v.version += 1
        return v


def screen_lines(app) -> list[str]:
    """The screen as plain text, a line a row (as export_screenshot draws it, without the SVG)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False).splitlines()


def log_lines(log: EventLog) -> list[str]:
    return [strip.text for strip in log.lines]


# --------------------------------------------------------------------------- the line, fitted


def test_the_verdict_fits_a_width_cutting_the_evidence_before_the_title():
    assert verdict.fitted(D_WINS, 200).plain == D_WINS.line() == (
        "▲ D winning since step 1,200: ‖∇G‖ 0.002, D(x) 0.99, D(G(z)) 0.01 — try: genlab train wgan-gp --preset cpu")
    assert verdict.fitted(D_WINS, 90).plain == "▲ D winning since step 1,200: ‖∇G‖ 0.002, … — try: genlab train wgan-gp --preset cpu"
    assert verdict.fitted(D_WINS, 78).plain == "▲ D winning: ‖∇G‖ 0.002, D(x) 0.99, … — try: genlab train wgan-gp --preset cpu"
    assert verdict.fitted(D_WINS, 66).plain == "▲ D winning — try: genlab train wgan-gp --preset cpu"
    assert verdict.fitted(D_WINS, 50).plain == "▲ D winning — try: genlab train wgan-gp --preset …"
    assert verdict.fitted(D_WINS, 30).plain == "▲ D winning — try: genlab tra…"
    assert verdict.fitted(D_WINS, 8).plain == "▲ D win…"
    for width in range(1, 120):
        assert verdict.fitted(D_WINS, width).cell_len <= width
    assert verdict.fitted(HEALTHY, 78).plain == "✓ healthy"
    assert [verdict.fitted(v, 80).style for v in (HEALTHY, D_WINS, COLLAPSE)] == ["green", "yellow", "red"]
    young = Verdict("young", "too young: judged from step 500 and 2 quality checks", "young", label="young")
    assert verdict.fitted(young, 80).style == "dim"
    assert verdict.short(young).plain == "… young" and verdict.short(None).plain == ""


# --------------------------------------------------------------------------- the dashboard


async def test_the_dashboard_shows_the_verdict_its_events_and_its_details(tmp_path, monkeypatch):
    """At 200x50 the status line carries the verdict whole, in its colour; the event log says when
    it started and ended; h shows it all. At 80x24 it is cut to one line that keeps "try:"."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    root = tmp_path / "runs"
    make_run(root, "gan-1", "gan")
    source = HealthSource(root)
    app = GenlabApp(source, open_run="gan-1", load_models=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        bar = app.screen.query_one(StatusBar)
        assert "D winning" not in bar.render().plain  # not judged yet: nothing said
        await pilot.press("h")
        await until(pilot, lambda: "not judged yet" in "\n".join(log_lines(app.screen.query_one(EventLog))))
        assert not isinstance(app.screen, VerdictDetails)

        source.verdicts["gan-1"] = D_WINS
        source.events["gan-1"] = [health_event(1200, D_WINS, "start")]
        await until(pilot, lambda: D_WINS.line() in bar.render().plain)
        line = next(line for line in bar.render().split() if "D winning" in line.plain)
        assert line.plain == D_WINS.line() and {str(span.style) for span in line.spans} == {"yellow"}
        shown = "\n".join(screen_lines(app))
        assert D_WINS.line() in shown  # whole on the screen
        log = app.screen.query_one(EventLog)
        await until(pilot, lambda: any("step 1,200 ▲ D winning: ‖∇G‖ 0.002, D(x) 0.99, D(G(z)) 0.01" in line
                                       for line in log_lines(log)))

        await pilot.press("h")  # the whole verdict: what it means, its evidence, every cure
        await until(pilot, lambda: isinstance(app.screen, VerdictDetails)
                    and any("training health · gan-1" in line for line in screen_lines(app)))
        shown = "\n".join(screen_lines(app))
        for said in ("training health · gan-1", "▲ D winning since step 1,200", "stops learning",
                     "evidence: ‖∇G‖ 0.002", *D_WINS.cures):
            assert said in shown, said
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, Dashboard))

        await pilot.resize_terminal(80, 24)  # compact: the state line, then the verdict cut to fit
        await until(pilot, lambda: app.screen.compact)
        await pilot.pause(0.2)
        lines = screen_lines(app)
        assert lines[0].lstrip().startswith("● running")
        assert lines[1].strip() == "▲ D winning: ‖∇G‖ 0.002, D(x) 0.99, … — try: genlab train wgan-gp --preset cpu"
        assert "tab ▸" in lines[2]  # the panes' tabs under it

        source.verdicts["gan-1"] = HEALTHY  # it recovers: the log says the verdict ended
        source.events["gan-1"] = [health_event(1200, D_WINS, "start"), health_event(1900, D_WINS, "end")]
        await until(pilot, lambda: any("step 1,900 ✓ D winning ended" in line for line in log_lines(log)))
        await until(pilot, lambda: screen_lines(app)[1].strip() == "✓ healthy")
        ended = next(s for s in log.lines if "ended" in s.text)
        assert any(seg.style and seg.style.color and seg.style.color.name == "green" for seg in ended)


async def test_under_no_color_the_symbol_carries_the_verdict(tmp_path):
    """NO_COLOR (set for every test): no colour on screen, and each verdict still reads by its
    symbol, on the dashboard, in the event log and on the runs screen."""
    root = tmp_path / "runs"
    make_run(root, "vae-1", "vae")
    source = HealthSource(root)
    source.verdicts["vae-1"] = COLLAPSE
    source.events["vae-1"] = [health_event(900, COLLAPSE, "start")]
    app = GenlabApp(source, open_run="vae-1", load_models=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard)
                    and any("✖ posterior collapse" in line for line in screen_lines(app)))
        assert app.no_color
        lines = screen_lines(app)
        assert lines[1].strip() == "✖ posterior collapse — try: genlab train vae --hp kl_warmup=2000"
        await until(pilot, lambda: any("✖ posterior collapse: active units 1 of 20" in line for line in screen_lines(app)))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 1)
        # at 80 columns its column gives way (to the right, where the table scrolls): symbol and title
        table = app.screen.query_one(RunsTable)
        await until(pilot, lambda: str(table.get_cell("vae-1", "health")) == "✖ posterior collapse")


# --------------------------------------------------------------------------- runs and compare screens


async def test_the_runs_and_compare_screens_show_each_runs_verdict(tmp_path):
    """The runs screen's health column (symbol and title; it gives way, to the right, when the
    screen is narrow), sorted worst first by o; the compare screen's ranking, beside each state."""
    root = tmp_path / "runs"
    make_run(root, "gan-1", "gan")
    make_run(root, "gan-2", "gan", state="finished")
    make_run(root, "gan-3", "gan", steps=100)  # not judged
    source = HealthSource(root)
    source.verdicts.update({"gan-1": HEALTHY, "gan-2": D_WINS})
    app = GenlabApp(source, load_models=False)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).row_count == 3)
        table = app.screen.query_one(RunsTable)
        assert [c for c, _ in table.drawn_columns][:4] == ["run", "model", "status", "health"]
        assert [str(table.get_cell(r, "health")) for r in ("gan-1", "gan-2", "gan-3")] == ["✓ healthy", "▲ D winning", ""]
        table.sort_by("health")  # worst first; a run not judged last
        assert [r["id"] for r in table.shown] == ["gan-2", "gan-1", "gan-3"]
        assert "sorted by health, worst first" in table.described()
        table.sort_by(None)

        await pilot.resize_terminal(80, 24)  # narrow: the health column moves right, among those that give way
        await until(pilot, lambda: [c for c, _ in table.drawn_columns][3] != "health")
        columns = [c for c, _ in table.drawn_columns]
        assert columns.index("health") > columns.index("key metric")
        assert str(table.get_cell("gan-2", "health")) == "▲ D winning"

        table.focus()
        await pilot.press("space", "space", "c")  # gan-1 and gan-2 marked, compared
        await until(pilot, lambda: isinstance(app.screen, CompareScreen)
                    and app.screen.query_one(RankingTable).row_count == 2)
        ranking = app.screen.query_one(RankingTable)
        await until(pilot, lambda: {str(ranking.get_cell(r, "health")) for r in ("gan-1", "gan-2")}
                    == {"✓ healthy", "▲ D winning"})
        await pilot.resize_terminal(200, 50)
        await until(pilot, lambda: any("▲ D winning" in line and "✓" not in line for line in screen_lines(app)))
        assert any("✓ healthy" in line for line in screen_lines(app))


# --------------------------------------------------------------------------- in a terminal, judged by genlab


def make_failing_gan(root, name: str, healthy_steps: int = 1000, failing_steps: int = 2000):
    """A GAN whose discriminator wins from step ``healthy_steps``: D(x) 0.997, D(G(z)) 0.003 and
    the generator's gradient norm 0.002 (each ±0.0005) at every step after, while its quality checks (every 250
    steps) still improve (FLD falling, most digits sure, classes balanced): only the
    discriminator's win is wrong with it."""
    run = make_run(root, name, "gan", steps=healthy_steps, heartbeat=time.time() + 3600)
    sinks = [JsonlSink(run / "events.jsonl"), MetricsBinSink(run)]
    end = healthy_steps + failing_steps
    for step in range(healthy_steps + 1, end + 1):
        wobble = 0.002 * math.sin(step)
        e = {"t": T0 + step * 0.02, "step": step, "kind": "metrics", "epoch": step // 937 + 1,
             "d_loss": 0.006 + wobble, "g_loss": 5.8 + wobble, "d_real": 0.997 + wobble / 4, "d_fake": 0.003 + wobble / 4,
             "grad_norm_G": 0.002 + wobble / 4, "grad_norm_D": 0.5 + wobble}
        for s in sinks:
            s.event(e)
        if step % 250 == 0:
            k = (step - healthy_steps) // 250
            check = {"t": T0 + step * 0.02, "step": step, "kind": "eval", "quality": True, "n": 1000,
                     "test_fld": 120.0 - 8 * k, "test_confident": 0.8, "test_diversity": 0.3,
                     "class_hist": [0.1] * 10}
            for s in sinks:
                s.event(check)
    for s in sinks:
        s.close()
    status = json.loads((run / "status.json").read_text())
    status.update(step=end, epoch=end // 937 + 1, updated=T0 + end * 0.02, elapsed_s=end * 0.02,
                  metrics={"d_loss": 0.006, "g_loss": 5.8, "d_real": 0.997, "d_fake": 0.003})
    (run / "status.json").write_text(json.dumps(status))
    return run


def test_a_failing_gan_shows_its_verdict_and_cure_in_a_terminal(session, runs):
    """`genlab watch` on a GAN whose discriminator wins: at 80x24 the line under the state names
    the verdict and a cure ("try: genlab …"); h shows every cure; the runs screen's health column
    says it too. Judged by genlab itself (the health engine in the follower), not set by the test."""
    make_failing_gan(runs, "gan-fails")
    tmux("resize-window", "-t", session, "-x", "80", "-y", "24")
    tmux("send-keys", "-t", session, f"env -u NO_COLOR TERM=xterm-256color {GENLAB} watch gan-fails --runs-dir {runs}", "Enter")
    screen = wait_for(session, r"[▲✖] D winning.*try: genlab", timeout=60)
    lines = tmux("capture-pane", "-p", "-t", session).splitlines()
    assert lines[0].lstrip().startswith("● running"), screen
    assert "D winning" in lines[1] and "try: genlab" in lines[1], screen
    tmux("send-keys", "-t", session, "h")
    wait_for(session, r"training health · gan-fails[\s\S]*try:[\s\S]*genlab ")
    tmux("send-keys", "-t", session, "Escape")  # the verdict closed
    tmux("send-keys", "-t", session, "Escape")  # the runs screen: the run's health in its column
    wait_for(session, r"gan-fails .*running .*[▲✖] D winning")
    tmux("send-keys", "-t", session, "q")
    wait_for(session, r"cockpit closed")
