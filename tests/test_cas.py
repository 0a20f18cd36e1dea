"""Labelled digits from a conditional model, and the Classification Accuracy Score."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import built_once
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app
from genlab.eval import cas

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs_with_a_cgan(tmp_path_factory):
    def build(root):
        for model, extra in (("cgan", ["--preset", "cpu"]), ("gan", [])):
            r = invoke("train", model, *extra, "--max-steps", "20", "--name", model, "--runs-dir", root)
            assert r.exit_code == 0, r.output

    return built_once(tmp_path_factory, "cas-runs", build)


def test_labelled_digits_are_balanced_and_saved_with_their_labels(runs_with_a_cgan, tmp_path):
    images, labels = cas.labelled(models.build("cgan", preset="cpu"), 25)
    assert images.shape == (25, 28, 28) and images.dtype == torch.uint8
    assert np.bincount(labels.numpy(), minlength=10).tolist() == [3] * 5 + [2] * 5
    out = tmp_path / "aug.npz"
    r = invoke("sample", "cgan", "-n", "40", "--labels", "--out", out, "--runs-dir", runs_with_a_cgan)
    assert r.exit_code == 0, r.output
    saved = np.load(out)
    assert saved["images"].shape == (40, 28, 28) and saved["images"].dtype == np.uint8
    assert np.bincount(saved["labels"], minlength=10).tolist() == [4] * 10


def test_cas_of_real_digits_passed_off_as_generated_is_the_real_accuracy(digits, monkeypatch):
    """A 'generator' that returns real training digits (others than the real classifier's)
    teaches as well as real data: CAS within a few points of the real score."""
    def real_ones(model, n, seed=0):
        pick = torch.randperm(len(digits.train_images), generator=torch.Generator().manual_seed(99))[:n]
        return digits.train_images[pick].cpu(), digits.train_labels[pick].cpu()

    monkeypatch.setattr(cas, "labelled", real_ones)
    result = cas.score(None, digits, n=3000, epochs=2)
    assert result["real"] > 0.75 and abs(result["gap"]) < 0.04, result
    assert len(result["cas_by_class"]) == 10 and all(0 <= v <= 1 for v in result["cas_by_class"])


def test_cas_from_the_command_line_and_its_bad_input(runs_with_a_cgan):
    r = invoke("eval", "cgan", "--cas", "-n", "256", "--epochs", "1", "--json", "--runs-dir", runs_with_a_cgan)
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["n"] == 256 and 0 <= result["cas"] <= 1 and len(result["real_by_class"]) == 10
    assert json.loads((runs_with_a_cgan / "cgan" / "cas.json").read_text())["cas"] == result["cas"]
    for args, message in ((["eval", "gan", "--cas"], "not a conditional model: --cas needs one"),
                          (["sample", "gan", "--labels", "--out", "x.npz"], "--labels needs one"),
                          (["sample", "cgan", "--labels", "--out", "x.npy"], "give --out FILE.npz"),
                          (["eval", "cgan", "--cas", "-n", "10"], "at least 128")):
        r = invoke(*args, "--runs-dir", runs_with_a_cgan)
        assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, (args, r.output)
