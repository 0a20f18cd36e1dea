"""Verdicts raised by real training runs made to fail (issue 26's proof), at the size that fits
the suite: a VAE whose KL weight wins collapses its posterior, and free bits cure it. The GAN
and PixelCNN proof runs take minutes each on a CPU: bench/health.py."""

from __future__ import annotations

import os

from genlab import health
from genlab.train import execute as train

CHECKS = dict(quality_every_steps=100, quality_samples=500, quality_k=10, eval_size=1000,
              sample_every_s=60.0, checkpoint_every_s=1e9)


def trained(root, name: str, hp: dict, steps: int = 600):
    prepared = train.prepare("vae", max_steps=steps, seed=0, runs_dir=root, name=name, device="cpu", hp=hp,
                             data_dir=os.environ.get("GENLAB_DATA_DIR"), **CHECKS)
    run_dir = train.create(prepared)
    assert train.execute(run_dir) == "finished"
    return run_dir


def test_a_vae_whose_kl_term_wins_is_told_posterior_collapse_and_free_bits_cure_it(tmp_path):
    collapsed = trained(tmp_path, "collapse", {"beta": 30.0})
    verdict, history = health.judged(collapsed)
    assert verdict.name == "posterior-collapse" and verdict.severity == "bad", verdict
    assert "active 0" in verdict.evidence and "free_bits" in verdict.cures[0]
    assert [(e["verdict"], e["event"]) for e in history] == [("posterior-collapse", "start")]
    assert history[0]["step"] == 500  # judged from step 500 (the view's judged_after_steps): at once

    cured = trained(tmp_path, "cured", {"beta": 30.0, "free_bits": 0.5})
    verdict, history = health.judged(cured)
    assert verdict.name == "healthy" and not history, (verdict, history)
