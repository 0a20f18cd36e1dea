"""Digits as images where the terminal draws them (Kitty graphics, Sixel: textual-image), half
blocks elsewhere: the rule behind --images auto|on|off, the cockpit's samples pane in each mode,
and `genlab show`/`sample` on a terminal."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console
from scripted import make_run
from test_tui import ScriptedSource, until
from typer.testing import CliRunner

from genlab.cli.main import app as cli
from genlab.render.images import grid_picture, image_protocol, picture_layout
from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.widgets.samples import SamplesPane

TGP = "\x1b_G"  # how a Kitty graphics protocol message starts (its APC)
PLACEHOLDER = chr(0x10EEEE)  # the cell textual-image puts where a Kitty image shows (Unicode placeholders)


def never():
    raise AssertionError("the terminal was asked when the rule needs no answer")


@pytest.mark.parametrize("mode, env, tty, answer, expected", [
    ("auto", {"TERM": "xterm-kitty"}, True, never, "kitty"),
    ("auto", {"TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"}, True, never, "kitty"),
    ("auto", {"TERM": "xterm-256color"}, True, lambda: "sixel", "sixel"),  # what textual-image detects
    ("auto", {"TERM": "xterm-256color"}, True, lambda: None, None),
    ("auto", {"TERM": "xterm-kitty"}, False, never, None),  # not a terminal (a pipe, pytest)
    ("auto", {"TERM": "dumb"}, True, never, None),
    # tmux: text unless tmux itself says it draws Sixel; the terminal outside it does not count
    ("auto", {"TERM": "tmux-256color", "TMUX": "/tmp/tmux-1/default,1,0", "KITTY_WINDOW_ID": "1"}, True,
     lambda: None, None),
    ("auto", {"TERM": "xterm-kitty", "TMUX": "/tmp/tmux-1/default,1,0"}, True, lambda: None, None),
    ("auto", {"TERM": "tmux-256color", "TMUX": "x"}, True, lambda: "kitty", None),  # never passes tmux
    ("auto", {"TERM": "tmux-256color", "TMUX": "x"}, True, lambda: "sixel", "sixel"),  # tmux 3.4 with Sixel
    ("auto", {"TERM": "screen-256color", "STY": "1.pts-0"}, True, never, None),
    ("off", {"TERM": "xterm-kitty"}, True, never, None),
    ("off", {"TERM": "xterm-256color"}, True, never, None),
    ("on", {"TERM": "xterm-kitty"}, True, never, "kitty"),
    ("on", {"TERM": "xterm-256color"}, True, lambda: None, "sixel"),  # forced: Sixel, the widest spoken
    ("on", {"TERM": "xterm-256color"}, False, never, "sixel"),
    ("on", {"TERM": "tmux-256color", "TMUX": "x", "KITTY_WINDOW_ID": "1"}, True, lambda: None, "sixel"),
])
def test_the_rule(mode, env, tty, answer, expected):
    assert image_protocol(mode, env=env, tty=tty, detect=answer) == expected


def test_the_rule_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="--images must be one of auto, on, off"):
        image_protocol("yes", env={}, tty=True, detect=never)


def test_under_pytest_auto_is_text():
    """No terminal here: auto draws half blocks, so the snapshots stay what they were."""
    assert image_protocol("auto") is None


def test_the_grid_picture_is_the_digits_at_full_resolution():
    digits = np.stack([np.full((28, 28), 10 * (i + 1), np.uint8) for i in range(5)])
    picture = grid_picture(digits, per_row=3)
    assert picture.mode == "L" and picture.size == (3 * 28 + 2 * 2, 2 * 28 + 2)
    pixels = np.asarray(picture)
    assert pixels[0, 0] == 10 and pixels[0, 30] == 20 and pixels[0, 28] == 0  # a gap between digits
    assert pixels[30, 0] == 40 and pixels[30, 30] == 50 and pixels[30, 60] == 0  # the second row, one short


def test_an_image_shows_every_digit_as_large_as_fits_else_those_that_fit_legibly():
    assert picture_layout(64, 78, 27) == (10, 64)  # the dashboard's pane at 200x50: all 64, 7+ cells wide
    assert picture_layout(16, 120, 32) == (6, 16)  # `genlab sample` in 120x40: three rows of 6, 20 cells wide
    assert picture_layout(64, 30, 11) == (5, 15)  # 80x24: all 64 would be 3 cells wide; 15 at 6
    assert picture_layout(64, 3, 2) == (1, 1)  # never nothing
    assert picture_layout(1, 10, 5) == (1, 1)


# --------------------------------------------------------------------------- the cockpit


async def test_the_samples_pane_draws_an_image_where_the_app_draws_images(tmp_path, monkeypatch):
    """images="kitty": textual-image's widget in the samples pane, fitted to it, sending the grid
    with Kitty's protocol (to the terminal, ``sys.__stdout__``) and no half blocks; `a` draws
    ASCII instead and back; images=None draws half blocks, as before."""
    from textual_image.widget import TGPImage

    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", terminal)
    make_run(tmp_path / "runs", "g", "gan")
    app = GenlabApp(ScriptedSource(tmp_path / "runs"), open_run="g", load_models=False, images="kitty")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        pane = app.screen.query_one(SamplesPane)
        await until(pilot, lambda: pane.picture is not None and pane.picture.region.area > 0)
        assert isinstance(pane.picture, TGPImage) and pane.picture.display
        assert "▀" not in str(pane.render())
        picture = pane.picture.region
        assert pane.content_region.contains_region(picture), (picture, pane.content_region)
        assert picture.width > 0.8 * pane.content_region.width or picture.height > 0.8 * pane.content_region.height
        await until(pilot, lambda: TGP in terminal.getvalue())
        assert "a=p" in terminal.getvalue()  # a placement: the image shows where its placeholders are
        assert PLACEHOLDER in app.export_screenshot()

        await pilot.press("a")
        assert not pane.picture.display and "@" in str(pane.render())
        await pilot.press("a")
        assert pane.picture.display and "▀" not in str(pane.render()) and "@" not in str(pane.render())

    app = GenlabApp(ScriptedSource(tmp_path / "runs"), open_run="g", load_models=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        pane = app.screen.query_one(SamplesPane)
        assert pane.picture is None and not pane.children and "▀" in str(pane.render())


async def test_sixel_mounts_its_widget(tmp_path, monkeypatch):
    from textual_image.widget import SixelImage

    monkeypatch.delenv("NO_COLOR", raising=False)
    make_run(tmp_path / "runs", "v", "vae")
    app = GenlabApp(ScriptedSource(tmp_path / "runs"), open_run="v", load_models=False, images="sixel")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        pane = app.screen.query_one(SamplesPane)
        await until(pilot, lambda: pane.picture is not None and pane.picture.region.area > 0)
        assert isinstance(pane.picture, SixelImage) and "▀" not in str(pane.render())
        assert pane.content_region.contains_region(pane.picture.region)


# --------------------------------------------------------------------------- genlab show and sample

runner = CliRunner()


@pytest.fixture
def terminal(monkeypatch):
    """`genlab`'s console as a colour terminal 100 columns wide (its output kept), standard output
    a terminal too, and what goes to the terminal outside Rich (Kitty's image data) kept."""
    import genlab.cli.sample as sample_cli
    import genlab.render.digits as digits

    monkeypatch.delenv("NO_COLOR", raising=False)
    screen = io.StringIO()
    monkeypatch.setattr(sample_cli, "out", Console(file=screen, width=100, height=50, force_terminal=True,
                                                   color_system="truecolor", highlight=False, soft_wrap=True))
    monkeypatch.setattr(digits, "should_use_ascii", lambda force=False, stream=None: False)
    raw = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", raw)
    return SimpleNamespace(screen=screen, raw=raw)


def test_show_draws_digits_as_an_image_only_where_asked_and_possible(tmp_path, monkeypatch, terminal):
    make_run(tmp_path / "runs", "r", "vae", steps=300)
    show = ["show", "r", "--runs-dir", str(tmp_path / "runs")]
    monkeypatch.setenv("TERM", "xterm-kitty")
    monkeypatch.delenv("TMUX", raising=False)

    assert runner.invoke(cli, [*show, "--images", "off"]).exit_code == 0
    assert terminal.screen.getvalue().count("▀") > 500 and TGP not in terminal.raw.getvalue()

    terminal.screen.truncate(0)
    assert runner.invoke(cli, show).exit_code == 0  # auto, in kitty
    assert "▀" not in terminal.screen.getvalue() and PLACEHOLDER in terminal.screen.getvalue()
    assert TGP in terminal.raw.getvalue()

    terminal.screen.truncate(0)
    monkeypatch.setenv("TMUX", "/tmp/tmux-1/default,1,0")  # auto inside tmux: half blocks
    assert runner.invoke(cli, show).exit_code == 0
    assert terminal.screen.getvalue().count("▀") > 500

    r = runner.invoke(cli, [*show, "--images", "sometimes"])
    assert r.exit_code == 2 and "--images" in r.output


def test_sample_takes_images_too(tmp_path, monkeypatch, terminal):
    import torch

    from genlab.models import trained

    run_dir = make_run(tmp_path / "runs", "r", "vae", steps=300)
    digits = torch.from_numpy(np.load(run_dir / "samples" / "step-00000300.npy"))
    fake = SimpleNamespace(model=SimpleNamespace(sample=lambda n, generator: digits[:n]), step=300, run_dir=run_dir)
    monkeypatch.setattr(trained, "newest", lambda *args, **kwargs: fake)
    monkeypatch.setenv("TERM", "xterm-kitty")
    monkeypatch.delenv("TMUX", raising=False)
    sample = ["sample", "r", "--runs-dir", str(tmp_path / "runs")]

    assert runner.invoke(cli, [*sample, "--images", "off"]).exit_code == 0
    assert terminal.screen.getvalue().count("▀") > 200 and TGP not in terminal.raw.getvalue()
    terminal.screen.truncate(0)
    assert runner.invoke(cli, [*sample, "--images", "on"]).exit_code == 0
    assert "▀" not in terminal.screen.getvalue() and TGP in terminal.raw.getvalue()
    for command in (sample, ["tui"], ["watch", "r"]):
        r = runner.invoke(cli, [*command, "--images", "maybe"])
        assert r.exit_code == 2 and "--images" in r.output, r.output


# --------------------------------------------------------------------------- a terminal that speaks Kitty's protocol


def test_the_cockpit_asks_the_terminal_before_it_starts_and_draws_with_what_it_answers(tmp_path):
    """`genlab watch` (auto) in a terminal that answers as kitty does (no Sixel in its device
    attributes, OK to a Kitty graphics query, its cell size in pixels) but names itself
    xterm-256color: textual-image's questions come before Textual takes the terminal, and the
    samples go out as a Kitty image (transmitted, placed, shown by placeholder cells), no half
    blocks."""
    import fcntl
    import os
    import pty
    import re
    import select
    import signal
    import struct
    import termios
    import time

    make_run(tmp_path / "runs", "g", "gan")
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "STY", "KITTY_WINDOW_ID", "NO_COLOR")}
    env.update(TERM="xterm-256color", COLORTERM="truecolor")
    pid, fd = pty.fork()
    if pid == 0:  # the child: genlab in the pseudo-terminal
        os.execve(sys.executable, [sys.executable, "-m", "genlab", "watch", "g", "--runs-dir", str(tmp_path / "runs")],
                  env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # 100x30, its pixels untold
    # its answers, typed ahead: textual-image reads each within 0.1 s of asking, which a busy
    # machine could miss; the Kitty query's answer names no image (textual-image reads its "OK")
    os.write(fd, b"\x1b[?62;22c" + b"\x1b_Gi=1;OK\x1b\\" + b"\x1b[6;20;10t")
    seen = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and PLACEHOLDER not in seen:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    seen += os.read(fd, 1 << 16).decode("utf-8", "replace")
                except OSError:
                    break
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    asked = [seen.find(q) for q in ("\x1b[c", "\x1b_Gi=", "\x1b[16t", "\x1b[?1049h")]  # ... then Textual starts
    assert -1 < asked[0] < asked[1] < asked[2] < asked[3], seen[:1000]
    assert re.search(r"\x1b_Gi=\d+,m=\d,f=100", seen) and "\x1b_Ga=p" in seen  # the image sent and placed
    assert PLACEHOLDER in seen and "▀" not in seen
