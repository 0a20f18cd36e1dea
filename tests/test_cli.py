"""The CLI through typer's CliRunner, and as the real `genlab` command in a subprocess."""

import json
import os
import subprocess
import sys

import numpy as np
from conftest import needs_mnist
from PIL import Image
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.run.files import read_json

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result


def train_vae(runs, name="v1", steps=30):
    r = invoke("train", "vae", "--max-steps", str(steps), "--runs-dir", str(runs), "--name", name)
    assert r.exit_code == 0, r.output
    return r


def test_models_lists_every_model_with_counts():
    r = invoke("models", "--json")
    assert r.exit_code == 0
    rows = {m["name"]: m for m in json.loads(r.output)}
    assert set(rows) >= {"gan", "vae", "pixelcnn"}
    assert rows["gan"]["parameters"] == {"G": 1_486_352, "D": 1_460_225}
    assert rows["gan"]["defaults"] == {"batch_size": 64, "lr": 0.0002, "d_lr_ratio": 1.0}
    table = invoke("models").output
    assert "1,486,352" in table and "autoregressive" in table
    assert "--hp d_lr_ratio: the discriminator's learning rate" in table and "--hp free_bits: nats of KL" in table


def test_train_prints_samples_and_run_id(runs):
    r = train_vae(runs)
    assert "run v1 finished" in r.output
    assert "samples at step 30" in r.output
    grid = r.output.split("samples at step 30")[1].split("of 64 digits shown")[0].splitlines()[1:-1]
    assert len(grid) >= 7 and set("".join(grid)) <= set(" .:-=+*#%@")  # ASCII: not a terminal here
    assert any(c in "".join(grid) for c in "-=+*#%@")  # strokes, not a blank grid
    assert "state finished at step 30" in r.output  # plain progress lines, not a progress bar


def test_runs_show_and_json(runs):
    train_vae(runs, "first")
    train_vae(runs, "second", steps=10)
    listing = invoke("runs", "--runs-dir", str(runs)).output
    assert "first" in listing and "second" in listing and "finished" in listing and "10/10" in listing
    rows = json.loads(invoke("runs", "--runs-dir", str(runs), "--json").output)
    assert [r["id"] for r in rows] == ["first", "second"] and rows[0]["metrics"]["loss"] > 0

    shown = invoke("show", "sec", "--runs-dir", str(runs))
    assert shown.exit_code == 0
    assert "second" in shown.output and "hidden=400" in shown.output and "test_loss" in shown.output
    data = json.loads(invoke("show", "latest", "--runs-dir", str(runs), "--json").output)
    assert data["id"] == "second" and data["state"] == "finished" and data["config"]["model"] == "vae"
    assert data["latest"]["test_loss"] > 0 and data["samples"].endswith(".png")


def test_sample_prints_and_saves(runs, tmp_path):
    train_vae(runs)
    r = invoke("sample", "v1", "-n", "6", "--runs-dir", str(runs))
    assert r.exit_code == 0 and "6 digits from v1" in r.output

    npy = tmp_path / "d.npy"
    assert invoke("sample", "v1", "-n", "5", "--seed", "3", "--out", str(npy), "--runs-dir", str(runs)).exit_code == 0
    a = np.load(npy)
    assert a.dtype == np.uint8 and a.shape == (5, 28, 28)
    invoke("sample", "v1", "-n", "5", "--seed", "3", "--out", str(npy), "--runs-dir", str(runs))
    assert np.array_equal(a, np.load(npy))  # same seed, same digits

    png = tmp_path / "d.png"
    assert invoke("sample", "latest", "-n", "10", "--out", str(png), "--runs-dir", str(runs)).exit_code == 0
    img = Image.open(png)
    assert img.size == (10 * 30 + 2, 32)  # torchvision grid: 10 a row, 2 px padding


def test_bench_json():
    r = invoke("bench", "vae", "--steps", "5", "--device", "cpu", "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["model"] == "vae" and result["images_per_s"] > 0 and result["batch_size"] == 128


@needs_mnist
def test_data_command():
    r = invoke("data")
    assert r.exit_code == 0
    assert "60,000 training digits, 10,000 held-out digits" in r.output
    assert "original MNIST test images" in r.output


def run_genlab(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "genlab", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_real_command_trains_headless(runs):
    p = run_genlab("train", "gan", "--max-steps", "50", "--runs-dir", str(runs), "--name", "sub")
    assert p.returncode == 0, p.stderr
    assert "run sub finished" in p.stdout and "step 50/50" in p.stdout
    assert (runs / "sub" / "checkpoints" / "step-00000050.pt").exists()
    p = run_genlab("runs", "--runs-dir", str(runs))
    assert "sub" in p.stdout and "gan" in p.stdout


def test_real_command_usage_error_is_one_line(runs):
    p = run_genlab("train", "gan", "--batch-size", "zero")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "genlab: error:" in p.stderr and "batch-size" in p.stderr
    p = run_genlab("show", "nothing-like-this", "--runs-dir", str(runs))
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0


def main_says(capsys, monkeypatch, *args, columns=400):
    """``genlab ARGS`` through the real entry point (its usage errors and hints): exit code,
    standard output, standard error."""
    import pytest

    from genlab.cli.main import main

    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit) as e:
        main(list(args))
    said = capsys.readouterr()
    return e.value.code, said.out, said.err


def test_a_usage_error_names_the_command_as_typed_and_its_help_exists(capsys, monkeypatch):
    for args, command in ((["sweep", "gan", "--bogus"], "genlab sweep start"),
                          (["sweep", "show", "--bogus"], "genlab sweep show"),
                          (["eval", "train-classifier", "--bogus"], "genlab eval"),
                          (["train", "gan", "--bogus"], "genlab train"),
                          (["bogus"], "genlab")):
        code, _, err = main_says(capsys, monkeypatch, *args)
        assert code == 2 and err.strip().endswith(f"(see '{command} --help')"), (args, err)
        code, out, _ = main_says(capsys, monkeypatch, *command.split()[1:], "--help")
        assert code == 0 and "Usage: " + command in out, (command, out)


def help_paragraphs(command) -> list[str]:
    import inspect

    return [" ".join(line.strip() for line in block.splitlines())
            for block in inspect.cleandoc(command.help or "").split("\n\n")]


def test_help_texts_never_break_mid_sentence(capsys, monkeypatch):
    """Each command's help, in `genlab --help` and its own --help, is whole paragraphs: at 400
    columns every paragraph is on one line (a docstring's wrapping shows as no break)."""
    import typer

    group = typer.main.get_command(app)
    _, listed, _ = main_says(capsys, monkeypatch, "--help")
    for name, command in [(n, group.get_command(None, n)) for n in group.list_commands(None)]:
        if command.hidden:
            continue
        first = help_paragraphs(command)[0]
        assert any(first in line for line in listed.splitlines()), (name, first)
        subcommands = [[name, sub] for sub in getattr(command, "commands", {})]
        for path in [[name], *subcommands]:
            shown = command if len(path) == 1 else command.get_command(None, path[1])
            _, text, _ = main_says(capsys, monkeypatch, *path, "--help")
            lines = text.splitlines()
            for paragraph in help_paragraphs(shown):
                assert any(paragraph in line for line in lines), (path, paragraph)


def test_a_detached_run_answers_json(runs):
    """`genlab train --detach --json`: the started run as one JSON object (what the cockpit
    reads); --json without --detach is refused in one line."""
    p = run_genlab("train", "vae", "--detach", "--json", "--name", "bg", "--max-steps", "100000", "--hp", "hidden=32",
                   "--runs-dir", str(runs))
    try:
        assert p.returncode == 0, p.stderr
        started = json.loads(p.stdout)
        assert started["run"] == "bg" and started["run_dir"] == str(runs / "bg") and started["processes"] == 1
        assert started["state"] in ("starting", "running") and started["pid"] > 0
        assert started["log"] == str(runs / "bg" / "log.txt")
    finally:
        run_genlab("stop", "bg", "--runs-dir", str(runs))
    r = invoke("train", "vae", "--json", "--runs-dir", str(runs))
    assert r.exit_code == 2 and "--json is for --detach" in r.output


def test_a_resumed_run_answers_json(runs):
    """`genlab resume --json` (what the cockpit's r reads): a paused run resumed in place, and a
    stopped one in the background with --detach; --json of a foreground resume is refused."""
    started = json.loads(run_genlab("train", "vae", "--detach", "--json", "--name", "rj", "--max-steps", "100000",
                                    "--hp", "hidden=32", "--runs-dir", str(runs)).stdout)
    try:
        assert run_genlab("pause", "rj", "--runs-dir", str(runs)).returncode == 0
        paused_at = read_json(runs / "rj" / "status.json")["step"]
        p = run_genlab("resume", "rj", "--json", "--runs-dir", str(runs))
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == {"run": "rj", "run_dir": started["run_dir"], "state": "running",
                                        "step": paused_at, "in_place": True}
        assert run_genlab("stop", "rj", "--runs-dir", str(runs)).returncode == 0
        r = invoke("resume", "rj", "--json", "--runs-dir", str(runs))
        assert r.exit_code == 2 and "add --detach" in r.output
        p = run_genlab("resume", "rj", "--detach", "--json", "--runs-dir", str(runs))
        assert p.returncode == 0, p.stderr
        again = json.loads(p.stdout)
        assert again["run"] == "rj" and again["state"] in ("starting", "running") and again["pid"] > 0
    finally:
        run_genlab("stop", "rj", "--runs-dir", str(runs))


def test_help_keeps_square_brackets():
    """Help texts are Rich markup to typer: `pip install 'genlab[tensorboard]'` must not lose its
    extra as if it were a style."""
    p = run_genlab("train", "--help", env={"COLUMNS": "200"})
    assert p.returncode == 0 and "pip install 'genlab[tensorboard]'" in p.stdout, p.stdout


def test_a_time_budget_is_told_in_time_and_elapsed_is_training_time_across_resumes(runs):
    """A run whose length is --max-minutes shows its steps and its training time of the budget,
    never a step total it will not reach ("253/4,685 5%"), and its elapsed time goes on from where
    a resume took it up, not from 0."""
    from genlab.run.sinks import progress_text

    assert progress_text(3333, 468000, 65.0, 120.0) == "3,333 steps, 1m05s/2m00s"
    assert progress_text(3333, 468000, 65.0, 120.0, percent=True) == "3,333 steps, 1m05s/2m00s  54%"
    assert progress_text(40, 4685, words=True) == "step 40/4,685"
    # (epochs enough that the budget ends it: a fast CPU trains 5 epochs of this small VAE in under 6 s)
    p = run_genlab("train", "vae", "--max-minutes", "0.05", "--epochs", "1000", "--hp", "hidden=32", "--name", "budget",
                   "--runs-dir", str(runs))
    assert p.returncode == 0, p.stderr
    status = read_json(runs / "budget" / "status.json")
    assert status["state"] == "finished" and status["budget_s"] == 3.0 and 2.5 <= status["elapsed_s"] <= 10, status
    listed = run_genlab("runs", "--runs-dir", str(runs)).stdout
    assert f"{status['step']:,} steps, " in listed and "/3s" in listed and "/4,685" not in listed, listed
    p = run_genlab("resume", "budget", "--max-minutes", "0.1", "--runs-dir", str(runs))
    assert p.returncode == 0, p.stderr
    again = read_json(runs / "budget" / "status.json")
    assert again["state"] == "finished" and again["budget_s"] == 6.0 and again["elapsed_s"] >= 5.5, again
