"""Anomaly detection with a VAE trained without some digits: scores, AUROC, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import built_once
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.eval import anomaly as an
from genlab.run.files import read_json
from genlab.run.store import read_events

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_auroc_has_the_known_answers():
    assert an.auroc(torch.tensor([3.0, 4.0]), torch.tensor([1.0, 2.0])) == 1.0
    assert an.auroc(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])) == 0.0
    assert an.auroc(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0, 1.0])) == 0.5  # all ties
    # pairs (pos, neg): 2>1, 2<3, 4>1, 4>3 -> 3 of 4
    assert an.auroc(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 3.0])) == 0.75
    # with a tie: (2 vs 2) counts a half -> (1 + 0.5) / 2
    assert an.auroc(torch.tensor([2.0]), torch.tensor([1.0, 2.0])) == 0.75


@pytest.fixture(scope="module")
def left_out_ones(tmp_path_factory):
    def build(root):
        r = invoke("train", "vae", "--max-steps", "40", "--exclude-digits", "1", "--name", "no1", "--runs-dir", root)
        assert r.exit_code == 0, r.output
        r = invoke("train", "gan", "--max-steps", "5", "--name", "g", "--runs-dir", root)
        assert r.exit_code == 0, r.output

    return built_once(tmp_path_factory, "anomaly-runs", build)


def test_a_vae_without_a_digit_finds_it_or_says_how_badly(left_out_ones, digits):
    run = left_out_ones / "no1"
    config = read_json(run / "config.json")
    assert config["exclude_digits"] == [1] and config["data"]["excluded"] == [1]
    assert config["data"]["train"] == int((digits.train_labels != 1).sum())
    evals = [e for e in read_events(run / "events.jsonl")[0] if e["kind"] == "eval" and not e.get("quality")]
    assert evals and all("test_loss_excluded" in e and "test_loss" in e for e in evals)  # both kinds reported
    r = invoke("anomaly", "no1", "--json", "--runs-dir", left_out_ones)
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    ones = int((digits.test_labels == 1).sum())
    assert report["n_excluded"] == ones and report["n_learnt"] == len(digits.test_labels) - ones
    assert 0 <= report["auroc"] <= 1 and report["auroc_by_digit"] == {"1": report["auroc"]}
    text = invoke("anomaly", "no1", "--score", "recon", "--runs-dir", left_out_ones)
    assert text.exit_code == 0 and "AUROC" in text.output and "left-out digits" in text.output
    # a resume finds the same digits (the training set without its 1s)
    assert invoke("resume", "no1", "--max-steps", "50", "--runs-dir", left_out_ones).exit_code == 0


def test_scoring_ones_own_images(left_out_ones, digits, tmp_path):
    path = tmp_path / "five.npy"
    np.save(path, digits.test_images[:5].cpu().numpy())
    r = invoke("anomaly", "no1", "--images", path, "--score", "is-nll", "-k", "5", "--json", "--runs-dir", left_out_ones)
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert len(report["scores"]) == 5 and all(0 <= p <= 1 for p in report["percentiles"])


@pytest.mark.parametrize("args, message", [
    (["train", "vae", "--exclude-digits", "0,1,2,3,4,5,6,7,8,9"], "cannot leave out all ten digits"),
    (["train", "vae", "--exclude-digits", "10"], "takes digits 0 to 9, got 10"),
    (["train", "vae", "--exclude-digits", "nine"], "expects digits 0-9 separated by commas"),
    (["anomaly", "g"], "run g is a gan: anomaly detection needs a VAE"),
    (["anomaly", "no1", "--score", "loud"], "unknown --score 'loud'"),
])
def test_bad_anomaly_input_is_one_line(left_out_ones, args, message):
    r = invoke(*args, "--runs-dir", left_out_ones)
    assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, (args, r.output)


def test_an_images_file_of_the_wrong_kind_is_one_line(left_out_ones, tmp_path):
    for array, what in ((np.zeros((3, 28, 28), np.float32), "float32 3×28×28"), (np.zeros((3, 7), np.uint8), "uint8 3×7")):
        path = tmp_path / "bad.npy"
        np.save(path, array)
        r = invoke("anomaly", "no1", "--images", path, "--runs-dir", left_out_ones)
        assert r.exit_code == 2 and what in r.output and "wants uint8 N×28×28" in r.output, r.output
