"""Drive the real `genlab` command in a real terminal (tmux) and look at the screen."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import needs_mnist

TMUX = shutil.which("tmux")
# each test process its own tmux server: a session that ends on one xdist worker (and takes its
# server down with it) never races another worker's new session
SOCKET = ["-L", f"genlab-test-{os.getpid()}", "-f", "/dev/null"]
GENLAB = Path(sys.executable).with_name("genlab")


def data_env() -> str:
    """The test run's data for the command in the terminal: GENLAB_DATA_DIR if set, else none
    (the bundled digits)."""
    data = os.environ.get("GENLAB_DATA_DIR")
    return f"GENLAB_DATA_DIR={data}" if data else "env -u GENLAB_DATA_DIR"


def tmux(*args):
    return subprocess.run([TMUX, *SOCKET, *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module", autouse=True)
def tmux_server():
    """One tmux server for this test process, kept up by a session of its own: a test's session
    ending never takes the server down under the next test's new session."""
    if TMUX:
        subprocess.run([TMUX, *SOCKET, "new-session", "-d", "-s", "keeper"], capture_output=True)
    yield
    if TMUX:
        subprocess.run([TMUX, *SOCKET, "kill-server"], capture_output=True)


@pytest.fixture
def session():
    if not TMUX:
        pytest.fail("tmux is not installed: apt-get install -y tmux (.ci/run does)")
    name = f"genlab-test-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "60")
    yield name
    subprocess.run([TMUX, *SOCKET, "kill-session", "-t", name], capture_output=True)


def wait_for(session, pattern, timeout=120.0):
    deadline = time.time() + timeout
    screen = ""
    while time.time() < deadline:
        screen = tmux("capture-pane", "-p", "-S", "-", "-t", session)  # with the scrollback
        if re.search(pattern, screen):
            return screen
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{screen}")


@needs_mnist
def test_train_in_a_terminal_shows_progress_then_digits(session, runs):
    env = data_env() + " GENLAB_OFFLINE=1 TERM=xterm-256color"
    cmd = f"env -u NO_COLOR {env} {GENLAB} train vae --epochs 1 --runs-dir {runs} --name tty; echo exit-code-$?"
    tmux("send-keys", "-t", session, cmd, "Enter")
    screen = wait_for(session, r"exit-code-\d")
    assert "exit-code-0" in screen
    assert "run tty finished" in screen
    assert "step 468/468" in screen and "img/s" in screen  # the Rich progress bar, completed
    assert screen.count("▀") > 500  # digits drawn in half blocks, not ASCII
    # the ANSI colours really vary: grey levels of actual strokes
    colours = tmux("capture-pane", "-p", "-e", "-t", session)
    assert "48;2;" in colours or "48;5;" in colours


BRAILLE = re.compile("[\u2801-\u28ff]")


def nice(pid: int) -> int:
    """A process's nice value (its main thread's), from /proc/PID/stat."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@needs_mnist
def test_cockpit_in_a_terminal_starts_watches_pauses_and_leaves_the_run(session, runs):
    """Start a run from the form, see digits and curves, pause it, quit; the CLI finds it paused."""
    env = data_env() + " GENLAB_OFFLINE=1 TERM=xterm-256color"
    tmux("send-keys", "-t", session, f"env -u NO_COLOR {env} {GENLAB} tui --runs-dir {runs}; echo exit-code-$?", "Enter")
    wait_for(session, "no runs yet")
    tmux("send-keys", "-t", session, "n")
    wait_for(session, "batch_size")  # the form, with the first model's hyperparameters (gan)
    tmux("send-keys", "-t", session, "Tab", "Tab")  # from the model, past the preset, to batch size
    tmux("send-keys", "-t", session, "Enter")  # Enter in a field starts the run
    screen = wait_for(session, r"● running", timeout=90)
    screen = wait_for(session, r"samples · step \d", timeout=60)
    assert "G and D losses" in screen and "D(x) and D(G(z))" in screen
    assert screen.count("▀") > 200  # digits in half blocks
    assert len(BRAILLE.findall(screen)) > 20  # curves drawn
    tmux("send-keys", "-t", session, "p")
    wait_for(session, r"● paused")
    # the cockpit gave way to training (nice +10); the run it started kept our priority
    (run_dir,) = runs.iterdir()
    trainer = json.loads((run_dir / "status.json").read_text())["pid"]
    cockpit = int(subprocess.run(["pgrep", "-f", f"genlab tui --runs-dir {runs}"], capture_output=True, text=True).stdout.split()[0])
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert (nice(trainer), nice(cockpit)) == (ours, min(ours + 10, 19))
    tmux("send-keys", "-t", session, "q")
    screen = wait_for(session, r"exit-code-\d")
    assert "exit-code-0" in screen and "runs keep running" in screen

    listed = subprocess.run([str(GENLAB), "runs", "--json", "--runs-dir", str(runs)], capture_output=True, text=True)
    (run,) = json.loads(listed.stdout)
    assert run["model"] == "gan" and run["state"] == "paused"
    resumed = subprocess.run([str(GENLAB), "resume", run["id"], "--runs-dir", str(runs)], capture_output=True, text=True)
    assert resumed.returncode == 0 and "running from step" in resumed.stdout
    stopped = subprocess.run([str(GENLAB), "stop", run["id"], "--runs-dir", str(runs)], capture_output=True, text=True)
    assert stopped.returncode == 0 and "stopped at step" in stopped.stdout


def test_comparing_four_real_runs_in_the_cockpit(runs):
    """Four small real runs (two models, two learning rates; 60 steps, finished) marked on the
    runs screen and compared: four legend entries and four sample grids on the screen."""
    name = f"genlab-cmp-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", name, "-x", "170", "-y", "50")
    from genlab.train.execute import create, execute, prepare

    started = []
    try:
        for rid, model, lr in (("g1", "gan", 2e-4), ("g2", "gan", 1e-3), ("c1", "cgan", 1e-3), ("c2", "cgan", 5e-4)):
            # cgan's cpu preset at the gan's batch size: the legends differ by model and lr (and width).
            # Trained here, in the test's process (a process of its own each would only add start-ups)
            extra = {"preset": "cpu", "batch_size": 64} if model == "cgan" else {}
            # (the end's evaluation and quality check on 500 digits: what is on screen needs no more)
            run_dir = create(prepare(model, runs_dir=runs, name=rid, lr=lr, max_steps=60, sample_every_s=1,
                                     eval_size=500, quality_samples=500, **extra))
            assert execute(run_dir) == "finished"
            started.append(rid)
        tmux("send-keys", "-t", name, f"env -u NO_COLOR TERM=xterm-256color {GENLAB} tui --runs-dir {runs}", "Enter")
        wait_for(name, r"g1 .*finished")
        for _ in started:
            tmux("send-keys", "-t", name, "Space")
        wait_for(name, "compare 4")
        tmux("send-keys", "-t", name, "c")
        screen = wait_for(name, r"comparing 4 runs")
        screen = wait_for(name, r"(?s)(⢕⢕.*){4}", timeout=60)  # a legend entry a run, in the first pane
        legend = [line for line in screen.splitlines() if "⢕⢕" in line]
        assert sum("lr=0.0002" in line for line in legend) >= 1 and sum("lr=0.001" in line for line in legend) >= 2
        screen = wait_for(name, r"(?s)(╭─ [gc][12][ …].*){4}", timeout=60)  # four sample grids, titled by run
        assert all(re.search(f"╭─ {rid}[ …]", screen) for rid in started)
        tmux("send-keys", "-t", name, "q")
    finally:
        subprocess.run([TMUX, *SOCKET, "kill-session", "-t", name], capture_output=True)


def test_a_sweep_is_a_group_on_the_runs_screen_and_opens_as_a_comparison(session, runs):
    """A finished 2-trial sweep: the runs screen shows its row over its trials (indented); Enter
    on that row opens the sweep's screen (its best so far), and c there compares the trials."""
    env = {**os.environ, "GENLAB_OFFLINE": "1"}
    p = subprocess.run([str(GENLAB), "sweep", "vae", "--grid", "lr=1e-3,2e-3", "--max-steps", "20", "--hp", "hidden=32",
                        "--name", "sw", "--wait", "--runs-dir", str(runs)], capture_output=True, text=True, env=env, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    tmux("send-keys", "-t", session, f"env -u NO_COLOR TERM=xterm-256color {GENLAB} tui --runs-dir {runs}", "Enter")
    screen = wait_for(session, r"▾ sweep sw .*finished .*2/2 trials .*best test_is_nll")
    lines = screen.splitlines()
    head = next(i for i, line in enumerate(lines) if "▾ sweep sw" in line)
    assert all(re.match(r"^ {3,}sw-00[01] ", lines[head + k]) for k in (1, 2)), "\n".join(lines[head:head + 3])
    tmux("send-keys", "-t", session, "Enter")
    wait_for(session, r"sweep sw · finished")
    wait_for(session, r"best so far: trial \d, test_is_nll")
    tmux("send-keys", "-t", session, "c")
    screen = wait_for(session, r"comparing 2 runs")
    # both trials' grids, each titled by its trial number and what differs
    wait_for(session, r"(?s)(╭─ #0 lr=.*╭─ #1 lr=|╭─ #1 lr=.*╭─ #0 lr=)", timeout=60)
    tmux("send-keys", "-t", session, "q")


def test_the_samples_history_in_a_terminal(session, runs):
    """A finished run with several saved grids: Left shows an older one ("k of n" in the pane's
    title), Home the first, End the newest again."""
    from genlab.train.execute import create, execute, prepare

    # (the end's evaluation and quality check on 500 digits: what is on screen needs no more)
    assert execute(create(prepare("gan", runs_dir=runs, name="hist", max_steps=200, sample_every_s=0.15,
                                  eval_size=500, quality_samples=500))) == "finished"
    grids = sorted(int(path.stem.split("-")[1]) for path in (runs / "hist" / "samples").glob("step-*.npy"))
    assert len(grids) >= 3, grids
    tmux("send-keys", "-t", session, f"env -u NO_COLOR TERM=xterm-256color {GENLAB} watch hist --runs-dir {runs}", "Enter")
    wait_for(session, rf"samples · step {grids[-1]:,}")
    tmux("send-keys", "-t", session, "Left")
    wait_for(session, rf"samples · step {grids[-2]:,} · {len(grids) - 1} of {len(grids)}")
    tmux("send-keys", "-t", session, "Home")
    wait_for(session, rf"samples · step {grids[0]:,} · 1 of {len(grids)}")
    tmux("send-keys", "-t", session, "End")
    wait_for(session, rf"samples · step {grids[-1]:,} ─")  # the newest, with no "k of n": live again
    tmux("send-keys", "-t", session, "q")


def test_a_run_of_two_processes_in_the_cockpit(session, runs):
    """`train --nproc 2 --detach` with rank 1's weights poisoned at step 30, watched: every rank
    pauses on the divergence; `resume` rolls them all back (a rank left with NaN weights would
    diverge again at once) and the status bar shows the two processes and the rank the other
    waits for; `p` in the cockpit pauses both; a stop from the CLI ends the launcher and its
    ranks, with one checkpoint at the step they all stopped at."""
    from genlab.core import checkpoint
    from genlab.run.state import pid_alive
    from genlab.run.store import read_events

    env = {**os.environ, "GENLAB_OFFLINE": "1", "GENLAB_FAULT_NAN_STEP": "30", "GENLAB_FAULT_RANK": "1"}
    p = subprocess.run([str(GENLAB), "train", "vae", "--nproc", "2", "--detach", "--max-steps", "100000", "--hp", "hidden=64",
                        "--batch-size", "64", "--checkpoint-every", "1000", "--name", "ddp", "--runs-dir", str(runs)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0 and "2 processes, launcher pid" in p.stdout, p.stdout + p.stderr
    launcher = int(p.stdout.split("launcher pid ")[1].split(",")[0])
    status = lambda: json.loads((runs / "ddp" / "status.json").read_text())  # noqa: E731
    cli = lambda *args: subprocess.run([str(GENLAB), *args, "ddp", "--runs-dir", str(runs)],  # noqa: E731
                                       capture_output=True, text=True, env=env, timeout=120)
    try:
        tmux("send-keys", "-t", session, f"env -u NO_COLOR TERM=xterm-256color {GENLAB} watch ddp --runs-dir {runs}", "Enter")
        wait_for(session, r"● paused")
        deadline = time.time() + 60
        while len((st := status()).get("world", {}).get("ranks", [])) < 2:  # (each rank's beat, gathered each second)
            assert time.time() < deadline, st
            time.sleep(0.2)
        assert st["reason"].startswith("diverged: loss is nan at step 30"), st
        ranks = [r["pid"] for r in st["world"]["ranks"]]
        resumed = cli("resume")
        assert resumed.returncode == 0 and "running from step" in resumed.stdout, resumed.stdout
        wait_for(session, r"● running .*2 processes · slowest rank [01] \(\d+\.\d")  # (its ms/step)
        tmux("send-keys", "-t", session, "p")
        wait_for(session, r"● paused")
        assert status()["state"] == "paused" and status()["reason"] == "paused by request"
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0 and "stopped at step" in stopped.stdout, stopped.stdout + stopped.stderr
    wait_for(session, r"● stopped")
    tmux("send-keys", "-t", session, "q")
    deadline = time.time() + 60
    while any(pid_alive(pid) for pid in (launcher, *ranks)):
        assert time.time() < deadline, "the launcher or a rank outlived the stop"
        time.sleep(0.1)
    events, _ = read_events(runs / "ddp" / "events.jsonl")
    (rollback,) = [e for e in events if e["kind"] == "rollback"]  # the ranks agreed again: no second divergence
    assert rollback["checkpoint"] == "checkpoints/step-00000000.pt"
    assert [e["state"] for e in events if e["kind"] == "state"][-3:] == ["running", "paused", "stopped"]
    rows = [e for e in events if e["kind"] == "metrics"]
    assert [e["step"] for e in rows] == list(range(1, len(rows) + 1)) and all(e["loss"] < 1e4 for e in rows)
    step = status()["step"]
    assert torch_step(checkpoint.list_checkpoints(runs / "ddp")[-1]) == step == len(rows)  # the stop's checkpoint


def torch_step(path) -> int:
    import torch

    return int(torch.load(path, weights_only=True)["step"])


def test_a_gan_dashboard_reads_at_80x24(session, runs):
    """At 80x24 a GAN's dashboard shows one curve pane at a time with its legend and at least 8
    plot rows, a one-line status and the whole footer; the FLD pane and the class histogram are
    a key away."""
    from scripted import make_run

    make_run(runs, "gan-80", "gan", heartbeat=time.time() + 3600)
    tmux("resize-window", "-t", session, "-x", "80", "-y", "24")
    tmux("send-keys", "-t", session, f"env -u NO_COLOR TERM=xterm-256color {GENLAB} watch gan-80 --runs-dir {runs}", "Enter")
    screen = wait_for(session, r"d_loss[\s\S]*└", timeout=60)
    lines = tmux("capture-pane", "-p", "-t", session).splitlines()
    assert len(lines) == 24 and lines[0].lstrip().startswith("● running")
    assert lines[1].strip() == "✓ healthy"  # one status line, the verdict, then the panes' tabs
    assert "tab ▸ 1 G and D losses" in lines[2]
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    plot_rows = lines[top + 1:bottom]
    assert len(plot_rows) >= 8, screen
    legend = "\n".join(plot_rows[:3])
    assert "d_loss" in legend and "g_loss" in legend
    assert "q quit" in lines[-1] and "p pause" in lines[-1] and "palette" in lines[-1]  # the footer, whole

    tmux("send-keys", "-t", session, "3")  # the FLD pane, in place of the losses
    wait_for(session, r"FLD to the test set \(lower is better\) ·")  # its pane's own title (the tabs name it too)
    tmux("send-keys", "-t", session, "Tab")  # the class histogram, across the width
    wait_for(session, r"classes of generated digits")
    tmux("send-keys", "-t", session, "q")
    wait_for(session, r"cockpit closed")
