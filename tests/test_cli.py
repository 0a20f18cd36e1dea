"""The CLI through typer's CliRunner, and as the real `genlab` command in a subprocess."""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from genlab.cli.main import app
from conftest import needs_mnist

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
    assert rows["gan"]["defaults"] == {"batch_size": 64, "lr": 0.0002}
    table = invoke("models").output
    assert "1,486,352" in table and "autoregressive" in table


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
