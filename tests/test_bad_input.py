"""Bad input: one clear line, exit code 2, and no run directory left behind."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import needs_mnist
from scripted import make_run
from typer.testing import CliRunner

from genlab.cli.main import app

runner = CliRunner()

BAD_TRAIN = [
    (["train", "gna"], "unknown model 'gna'"),
    (["train", "gan", "--batch-size", "0"], "batch size must be positive"),
    (["train", "gan", "--batch-size", "-5"], "batch size must be positive"),
    (["train", "gan", "--lr", "0"], "learning rate must be positive"),
    (["train", "gan", "--lr", "-0.1"], "learning rate must be positive"),
    (["train", "gan", "--lr", "nan"], "learning rate must be positive"),
    (["train", "gan", "--epochs", "0"], "epochs must be positive"),
    (["train", "gan", "--max-steps", "0"], "max steps must be positive"),
    (["train", "vae", "--quality-samples", "0"], "quality samples must be positive"),
    (["sweep", "vae", "--grid", "lr=1e-3", "--quality-samples", "-1"], "quality samples must be positive"),
    pytest.param(["train", "gan", "--batch-size", "60001"], "larger than the data set (60,000 digits)",
                 marks=needs_mnist),
    (["train", "gan", "--device", "tpu"], "unknown device 'tpu'"),
    (["train", "gan", "--data-dir", "/no/such/dir"], "does not exist"),
    (["train", "vae", "--hp", "depth=3"], "no hyperparameter depth"),
    (["train", "vae", "--hp", "nonsense"], "KEY=VALUE"),
    (["train", "conv-vae", "--preset", "cpu"], "model 'conv-vae' has no preset 'cpu'; it has none"),
    (["train", "dcgan", "--preset", "fast"], "no preset 'fast'; it has cpu"),
    (["train", "gan", "--amp", "fp8"], "unknown --amp 'fp8'; choose from off, bf16"),
    # every hyperparameter has a type and a range, checked before a directory is made
    (["train", "vae", "--hp", "hidden=abc"], "--hp hidden must be an integer, got 'abc'"),
    (["train", "vae", "--hp", "hidden=-5"], "--hp hidden for vae must be >= 1, got -5"),
    (["train", "vae", "--hp", "latent=-1"], "--hp latent for vae must be >= 1, got -1"),
    (["train", "vae", "--hp", "hidden=0"], "--hp hidden for vae must be >= 1, got 0"),
    (["train", "vae", "--hp", "hidden=2.5"], "--hp hidden must be an integer, got 2.5"),
    (["train", "vae", "--hp", "lr=abc"], "--hp lr must be a number, got 'abc'"),
    (["train", "vae", "--hp", "batch_size=abc"], "--hp batch_size must be an integer, got 'abc'"),
    (["train", "wgan-gp", "--hp", "beta1=1"], "--hp beta1 for wgan-gp must be >= 0 and < 1, got 1"),
    (["train", "vae", "--hp", "hidden=2000000"], "training needs about"),  # refused with its size
    (["train", "vae", "--name", "trail\n"], "run name 'trail\\n' must be"),
    # seeds have a range (torch's, less what genlab derives from them): not a traceback
    (["train", "vae", "--seed", "99999999999999999999"], "seed must be a whole number from 0 to 4,294,967,295"),
    (["train", "vae", "--seed", "-1"], "seed must be a whole number from 0 to 4,294,967,295, got -1"),
    (["train", "vae", "--name", "latest"], "run name 'latest' is reserved"),  # RUN 'latest' is the newest run
]


@pytest.mark.parametrize("args, message", BAD_TRAIN,
                         ids=[" ".join(getattr(b, "values", b)[0][1:]) for b in BAD_TRAIN])
def test_bad_training_input(args, message, runs):
    r = runner.invoke(app, args + ["--runs-dir", str(runs)])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert r.output.strip().count("\n") == 0
    assert not runs.exists() or not any(runs.iterdir())


def test_cuda_without_a_gpu(runs, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = runner.invoke(app, ["train", "gan", "--device", "cuda", "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "no CUDA GPU is available" in r.output
    assert not runs.exists()


def test_unreadable_data_directory(runs, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["train", "gan", "--data-dir", str(empty), "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "holds no MNIST" in r.output
    (tmp_path / "afile").write_text("x")
    r = runner.invoke(app, ["train", "gan", "--data-dir", str(tmp_path / "afile"), "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "not a directory" in r.output
    assert not runs.exists()


@needs_mnist
def test_corrupt_data_file_is_named(runs, tmp_path):
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    src = os.path.join(os.environ["GENLAB_DATA_DIR"], "MNIST", "raw")
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        os.symlink(os.path.join(src, name), raw / name)
    with open(os.path.join(src, "train-images-idx3-ubyte"), "rb") as f:
        (raw / "train-images-idx3-ubyte").write_bytes(f.read(1000))
    r = runner.invoke(app, ["train", "gan", "--data-dir", str(tmp_path / "mnist"), "--runs-dir", str(runs)])
    assert r.exit_code == 1
    assert "train-images-idx3-ubyte: truncated" in r.output
    assert not runs.exists() or not any(runs.iterdir())
    r = runner.invoke(app, ["data", "--data-dir", str(tmp_path / "mnist")])
    assert r.exit_code == 1 and "truncated" in r.output


def make_runs(runs, *names):
    """Finished runs to name (scripted: these commands refuse before any model is loaded)."""
    for name in names:
        make_run(runs, name, "vae", steps=20, state="finished")


@pytest.mark.parametrize("command", [["show"], ["sample"]])
def test_run_that_matches_nothing_or_several(command, runs):
    make_runs(runs, "exp-a", "exp-b")
    r = runner.invoke(app, command + ["zzz", "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "no run matches 'zzz'" in r.output
    r = runner.invoke(app, command + ["exp", "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "'exp' matches 2 runs (exp-a, exp-b)" in r.output


def test_sample_bad_options(runs):
    make_runs(runs, "one")
    r = runner.invoke(app, ["sample", "one", "-n", "0", "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "-n must be positive" in r.output
    r = runner.invoke(app, ["sample", "one", "--out", "x.jpg", "--runs-dir", str(runs)])
    assert r.exit_code == 2 and ".png or .npy" in r.output
    r = runner.invoke(app, ["sample", "one", "--seed", str(2**64), "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "--seed must be a whole number from 0" in r.output


def test_duplicate_name(runs):
    make_runs(runs, "same")
    r = runner.invoke(app, ["train", "vae", "--name", "same", "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "already exists" in r.output


def test_real_command_bad_model_one_line(runs):
    p = subprocess.run([sys.executable, "-m", "genlab", "train", "gna", "--runs-dir", str(runs)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    from genlab.models import MODELS

    assert p.stderr == f"genlab: error: unknown model 'gna'; choose from {', '.join(MODELS)}\n"
    assert not runs.exists()


def test_show_with_a_garbage_sample_file(runs):
    """A garbage samples/*.npy: `show` shows the run, says that grid is unreadable and draws the
    newest one it can read (a run built by hand: nothing trained)."""
    import numpy as np

    from genlab.run.store import create_run

    run_dir = create_run(runs, "grid", {"model": "vae", "family": "vae", "total_steps": 3})
    (run_dir / "samples" / "step-00000003.npy").write_bytes(b"garbage, not a grid\n")
    r = runner.invoke(app, ["show", "grid", "--ascii", "--runs-dir", str(runs)])
    assert r.exit_code == 0 and r.exception is None, r.output
    assert "step-00000003.npy is unreadable (not a grid of digits)" in r.output
    np.save(run_dir / "samples" / "step-00000001.npy", np.zeros((4, 28, 28), np.uint8))
    r = runner.invoke(app, ["show", "grid", "--ascii", "--runs-dir", str(runs)])
    assert r.exit_code == 0 and "is unreadable" in r.output and "samples at step 1:" in r.output, r.output
    np.save(run_dir / "samples" / "step-abc.npy", np.zeros((4, 28, 28), np.uint8))  # a stray name is no grid
    r = runner.invoke(app, ["show", "grid", "--ascii", "--runs-dir", str(runs)])
    assert r.exit_code == 0 and "samples at step 1:" in r.output, r.output
