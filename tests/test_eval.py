"""Evaluation: the shipped classifier, the Fréchet distance, the VAE's importance-sampled NLL,
and `genlab eval` on real runs."""

import json

import torch
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app
from genlab.eval import classifier
from genlab.eval import quality as evaluate


def test_shipped_classifier_is_at_least_99_percent_accurate(digits):
    model = classifier.load()
    assert classifier.WEIGHTS.stat().st_size < 3_000_000  # small enough to ship
    assert classifier.accuracy(model, digits.test_images, digits.test_labels) >= 0.99


def test_frechet_distance_of_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20_000, 4, generator=g, dtype=torch.float64)
    b = torch.randn(20_000, 4, generator=g, dtype=torch.float64)
    assert evaluate.frechet_distance(a, b) < 0.01
    shifted = b + torch.tensor([3.0, 0, 0, 0], dtype=torch.float64)
    assert abs(evaluate.frechet_distance(a, shifted) - 9.0) < 0.1
    scaled = b * 2  # N(0, 4I) against N(0, I): trace term 4 * (1 + 4 - 2*2) = 4
    assert abs(evaluate.frechet_distance(a, scaled) - 4.0) < 0.2


def test_judge_tells_real_digits_from_mode_collapse(digits):
    judge = evaluate.Judge(digits.test_images)
    real = judge.judge(digits.train_images[:5000])
    assert real["fld"] < 5.0 and real["confident"] > 0.95
    assert 0.07 < real["min_class_share"] and real["max_class_share"] < 0.13
    sevens = digits.train_images[digits.train_labels == 7][:5000]
    collapsed = judge.judge(sevens)
    assert collapsed["fld"] > 10 * real["fld"]
    assert collapsed["class_hist"][7] > 0.95 and collapsed["min_class_share"] == 0.0


def test_importance_sampled_nll_is_a_tighter_bound_than_the_elbo(digits):
    torch.manual_seed(0)
    vae = models.build("vae")
    for i in range(200):
        idx = torch.randint(0, len(digits.train_images), (128,))
        vae.train_step(digits.train_images[idx], None)
    test = digits.test_images[:200]
    elbo = vae.evaluate(test, None)["test_loss"]
    nll = evaluate.vae_importance_nll(vae, test, k=100)
    assert nll < elbo and nll > elbo - 30


def test_genlab_eval_on_runs(runs):
    runner = CliRunner()
    for model in ("gan", "vae"):
        r = runner.invoke(app, ["train", model, "--max-steps", "30", "--name", model, "--runs-dir", str(runs)])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["eval", "gan", "-n", "2000", "--json", "--runs-dir", str(runs)])
    assert r.exit_code == 0, r.output
    gan = json.loads(r.output)["metrics"]
    assert gan["n"] == 2000 and len(gan["class_hist"]) == 10 and gan["fld"] > 0
    assert abs(sum(gan["class_hist"]) - 1) < 1e-3
    r = runner.invoke(app, ["eval", "vae", "-k", "20", "--json", "--runs-dir", str(runs)])
    vae = json.loads(r.output)["metrics"]
    assert vae["k"] == 20 and vae["test_is_nll"] < vae["test_loss"]
    r = runner.invoke(app, ["eval", "nothing", "--runs-dir", str(runs)])
    assert r.exit_code == 2 and "no run matches" in r.output


def test_the_test_sets_features_are_computed_once_and_kept(digits, monkeypatch, tmp_path):
    """A second judge of the same digits reads the features the first kept in the cache directory
    (the same numbers, torch.equal); a cache file that is garbage is computed again."""
    from genlab.core.data import cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "own-cache"))  # not the session's judge cache

    first = evaluate.Judge(digits.test_images[:500])
    [kept] = list((cache_dir().parent / "judge").glob("*.npy"))
    calls = []
    real = evaluate.features_and_probs
    monkeypatch.setattr(evaluate, "features_and_probs", lambda *a: calls.append(1) or real(*a))
    assert torch.equal(evaluate.Judge(digits.test_images[:500]).test_features, first.test_features)
    assert calls == []  # read, not computed
    kept.write_bytes(b"garbage")
    assert torch.equal(evaluate.Judge(digits.test_images[:500]).test_features, first.test_features)
    assert calls == [1] and kept.stat().st_size > 100_000  # computed again, and kept again
    evaluate.Judge(digits.test_images[:400])  # other digits: another file
    assert len(list(kept.parent.glob("*.npy"))) == 2


def test_each_model_declares_its_evaluation_and_no_code_outside_models_branches_on_family():
    """What evaluation a model needs is its own declaration (GenModel.measured_by, encodes, its
    view's walks), read by genlab/eval: nothing outside genlab/models compares a model family."""
    import re
    from pathlib import Path

    from genlab import models

    for name, cls in models.MODELS.items():
        assert cls.measured_by in ("samples", "importance", "evaluate"), name
        assert cls.encodes == (cls.measured_by == "importance"), name  # (today the VAEs, both ways)
    assert models.MODELS["gan"].measured_by == "samples" and models.MODELS["pixelcnn"].measured_by == "evaluate"
    root = Path(__file__).resolve().parents[1]
    branch = re.compile(r"\bfamily\s*(==|!=|\bin\b|\bnot in\b)|\bFAMILY\b")
    found = [f"{path.relative_to(root)}:{n}" for folder in ("genlab", "tui") for path in (root / folder).rglob("*.py")
             if "models" not in path.relative_to(root).parts
             for n, line in enumerate(path.read_text().splitlines(), 1) if branch.search(line)]
    assert found == []
