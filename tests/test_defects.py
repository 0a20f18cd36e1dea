"""Small claims, each checked: bf16 asked of the CPU, log lines that fit the model, one last
progress line, the hint a detached run prints, a conditional grid's every class, whole values
when piped, evaluation that gives way, and no control command that nothing sends."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from scripted import make_run
from test_control import SMALL_HP, genlab, status
from test_tui import until
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app
from genlab.core import speed
from genlab.eval import quality as evaluate
from genlab.models.base import Interrupted
from genlab.render.digits import across_classes
from genlab.run import control
from genlab.run.sinks import LineSink, Progress, event_line
from tui.app import GenlabApp
from tui.screens.dashboard import Dashboard
from tui.source import RunsSource
from tui.widgets.samples import SamplesPane


def test_bf16_is_asked_of_the_cpu(monkeypatch):
    caps = torch.cpu.get_capabilities()
    assert speed.bf16_supported(torch.device("cpu"))[0] == bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx2": True, "avx512_bf16": False, "amx_bf16": False})
    notes = []
    runner = speed.StepRunner(models.build("gan"), torch.device("cpu"), amp="bf16", notice=notes.append)
    assert runner.amp == "off" and "no bfloat16 units" in notes[0] and "training in float32" in notes[0]


def test_a_vae_quality_line_names_held_out_digits_and_no_classes():
    vae = {"t": 0, "step": 50, "kind": "eval", "quality": True, "n": 2000, "test_is_nll": 98.7, "k": 100}
    line = event_line(vae)
    assert "2,000 held-out digits" in line and "classes" not in line and "test_is_nll 98.7" in line
    gan = {"t": 0, "step": 50, "kind": "eval", "quality": True, "n": 2000, "test_fld": 12.5,
           "class_hist": [0.1] * 10}
    assert "2,000 generated digits" in event_line(gan) and "classes 0-9: 10%" in event_line(gan)


def test_the_last_progress_line_is_written_once():
    out = io.StringIO()
    sink = LineSink(out, every_s=0.0)
    p = Progress(step=40, total_steps=40, epoch=1, epochs=1, images_per_s=100.0, elapsed_s=1.0, eta_s=0.0,
                 metrics={"loss": 1.0}, key_metrics=("loss",))
    sink.progress(p)
    sink.close()
    assert out.getvalue().count("step 40/40") == 1
    out = io.StringIO()
    sink = LineSink(out, every_s=3600.0)  # the first line is written, the newer one only at close
    sink.progress(p)
    sink.progress(Progress(**{**p.__dict__, "step": 41, "total_steps": 41}))
    sink.close()
    assert out.getvalue().count("step 40/40") == 1 and out.getvalue().count("step 41/41") == 1


def test_a_detached_run_names_watch_and_the_cockpit(runs):
    p = genlab("train", "vae", "--detach", "--name", "hint", "--max-steps", "30", "--runs-dir", runs, *SMALL_HP["vae"])
    assert p.returncode == 0, p.stderr
    assert "genlab watch hint" in p.stdout and "genlab tui" in p.stdout and "genlab show" not in p.stdout
    genlab("stop", "hint", "--runs-dir", runs)
    assert status(runs / "hint")["state"] in ("stopped", "finished")


def test_a_conditional_grid_shows_every_class_when_cut():
    grid = np.repeat(np.arange(10, dtype=np.uint8), 8)[:, None, None] * np.ones((1, 28, 28), np.uint8)  # 8 of each
    shown = across_classes(grid, 10)
    assert sorted(shown[:10, 0, 0].tolist()) == list(range(10)) and sorted(shown[:, 0, 0].tolist()) == sorted(grid[:, 0, 0].tolist())


async def test_the_cgan_pane_is_told_its_classes(tmp_path):
    make_run(tmp_path / "runs", "c", "cgan", steps=50)
    app = GenlabApp(RunsSource(tmp_path / "runs"), open_run="c", load_models=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, Dashboard) and app.screen.snapshot is not None)
        assert app.screen.query_one(SamplesPane).class_blocks == 10


def test_piped_runs_keep_whole_values(tmp_path):
    root = tmp_path / "runs"
    long_id = "a-rather-long-run-name-that-would-not-fit-in-eighty-columns-" + "x" * 20
    make_run(root, long_id, "vae", steps=4680, total=4685)
    r = CliRunner().invoke(app, ["runs", "--runs-dir", str(root)])
    assert r.exit_code == 0 and long_id in r.output and "4,680/4,685" in r.output and "…" not in r.output


def test_vae_evaluation_gives_way_to_a_waiting_command(digits):
    vae = models.build("vae", {"hidden": 32, "latent": 4})
    with pytest.raises(Interrupted):
        vae.evaluate(digits.test_images[:2000], digits.test_labels[:2000], interrupt=lambda: True)
    with pytest.raises(Interrupted):
        evaluate.vae_importance_nll(vae, digits.test_images[:200], k=10, interrupt=lambda: True)
    assert vae.net.training  # left as it was found


def test_no_sample_command_is_accepted(tmp_path):
    control.send(tmp_path, "sample")
    commands, warnings = control.Inbox(tmp_path).poll()
    assert commands == [] and warnings


def test_counts_are_told_in_words_with_the_right_plural():
    """'1 minute', '1 epoch', not '1 minutes', '1 epochs' (time budgets, the judge's training)."""
    from genlab.run.sinks import counted

    assert [counted(1, "minute"), counted(2.5, "minute"), counted(1, "epoch"), counted(3, "epoch"),
            counted(1000, "step"), counted(1.0, "minute")] == \
        ["1 minute", "2.5 minutes", "1 epoch", "3 epochs", "1,000 steps", "1 minute"]
