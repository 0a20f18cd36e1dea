import torch
from rich.console import Console

from genlab.render import digits as render


def digits(n=4):
    imgs = torch.zeros(n, 28, 28, dtype=torch.uint8)
    imgs[:, 4:24, 12:16] = 255  # a vertical bar: a "1"
    return imgs


def test_ascii_grid_fits_width_and_draws_strokes():
    text = render.to_ascii(digits(4), width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "@" in text and set(text) <= set(render.RAMP + "\n")
    # 28 px wide at full size: two digits a row at width 80, 14 text lines a row of digits
    assert render.layout(4, 80) == (28, 2)
    assert len(lines) == 2 * 14 - 1 or len(lines) == 2 * 14  # blank trailing rows are trimmed


def test_halfblock_cells_carry_both_pixels():
    text = render.to_halfblock(digits(1), width=40)
    plain = text.plain.splitlines()
    assert len(plain) == 14 and all(len(line) == 28 for line in plain)
    assert set(text.plain) <= {"▀", "\n"}
    console = Console(record=True, width=40, color_system="truecolor", force_terminal=True)
    console.print(text)
    ansi = console.export_text(styles=True)
    assert "38;2;255;255;255" in ansi and "48;2;255;255;255" in ansi and "48;2;0;0;0" in ansi


def test_half_size_when_the_grid_is_too_tall():
    size, per_row = render.layout(64, 80, height=40)
    assert size == 14 and per_row == 5
    text = render.to_ascii(torch.zeros(64, 28, 28, dtype=torch.uint8) + 200, width=80, height=40)
    assert max(len(line) for line in text.splitlines()) == 5 * 14 + 4


def test_ascii_when_no_color_or_not_a_terminal(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert render.should_use_ascii(stream=Tty()) is False
    assert render.should_use_ascii(force=True, stream=Tty()) is True
    assert render.should_use_ascii(stream=object()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert render.should_use_ascii(stream=Tty()) is True


def test_plots_without_colour_give_each_line_its_own_marker_and_steps_whole_ticks():
    """`genlab compare --plot` piped or under NO_COLOR: each run's line (and its legend entry) has
    a marker of its own; steps are ticked in whole numbers, never "1.5 48.4 95.2"."""
    import re

    from genlab.render.plots import MARKERS, curves

    xs = [3, 17, 40, 95]
    drawn = curves([("a", xs, [1.0, 2.0, 3.0, 4.0]), ("b", xs, [4.0, 3.0, 2.0, 1.0])], "loss", "step", 60, 15,
                   colour=False)
    assert "⠀" not in drawn and not any("⠁" <= ch <= "⣿" for ch in drawn)  # no braille: it needs colour to tell lines
    assert f"{MARKERS[0]}{MARKERS[0]} a" in drawn and f"{MARKERS[1]}{MARKERS[1]} b" in drawn, drawn
    ticks = drawn.splitlines()[-2]  # the x axis' tick labels, above "step"
    assert re.findall(r"\d+\.\d", ticks) == [] and "3" in ticks and "95" in ticks, ticks


def test_a_label_too_wide_for_the_plot_is_cut_and_the_legend_stays():
    """plotext drops the whole legend when one label is wider than the plot: a comparison of runs
    that differ in many hyperparameters lost every run's name. A label is cut to fit instead."""
    from genlab.render.plots import curves

    xs = [1, 2, 3]
    long = "cgan-b model=cgan lr=0.001 beta1=0.5 latent=100 width=16 ema=0 sn=0 loss=bce r1=0 r1_every=1 d_norm=batch"
    for width in (60, 100):
        drawn = curves([("gan-a model=gan", xs, [1.0, 2.0, 3.0]), (long, xs, [3.0, 2.0, 1.0])], "d_loss", "step",
                       width, 15, colour=False)
        assert "gan-a model=gan" in drawn and "cgan-b model=cgan lr=0.001" in drawn and long not in drawn, drawn
        assert "…" in drawn
