"""The run configuration: one typed place for defaults, config.json in and out, old files open."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
import typer

from genlab.cli.main import app
from genlab.config import Cadence, RunConfig, Speed, default
from genlab.errors import UsageError
from genlab.train.setup import make_config


def test_a_configuration_survives_json_and_keeps_hp_the_models_own():
    config = make_config("dcgan", preset="cpu", epochs=2, amp="bf16", sample_every_s=3.0)
    assert config.hp == {"beta1": 0.5, "latent": 100, "width": 22, "d_lr_ratio": 0.55, "ema": 0.99, "sn": 0,
                         "loss": "hinge", "r1": 0.0, "r1_every": 1, "d_norm": "batch", "beta2": 0.999,
                         "g_blocks": 1, "clusters": 100} \
        and (config.batch_size, config.lr) == (64, 1.2e-3)
    raw = json.loads(json.dumps(config.to_json()))
    assert raw["format"] == 2 and raw["amp"] == "bf16" and raw["sample_every_s"] == 3.0  # one flat object
    back, notes = RunConfig.from_json(raw)
    assert back == config and notes == []


def test_an_older_config_opens_and_unknown_keys_are_reported():
    old = {"model": "vae", "family": "vae", "hp": {"batch_size": 128, "lr": 1e-3, "hidden": 400, "latent": 20},
           "batch_size": 128, "lr": 1e-3, "seed": 0, "epochs": 5, "max_steps": None, "steps_per_epoch": 468,
           "total_steps": 2340, "metrics_every_s": 0.5, "compile": False, "amp": "off", "colour": "blue"}
    config, notes = RunConfig.from_json(old)
    assert config.hp == {"hidden": 400, "latent": 20} and config.model_hp()["lr"] == 1e-3
    assert config.cadence.metrics_every_s == 0.5 and config.speed == Speed()
    assert notes == ["config.json: unknown key 'colour' ignored"]
    with pytest.raises(UsageError, match="format 9"):
        RunConfig.from_json({**old, "format": 9})
    with pytest.raises(UsageError, match="not a run configuration"):
        RunConfig.from_json({"model": "vae"})


def test_the_cli_defaults_are_the_dataclasses():
    train = typer.main.get_command(app).commands["train"]
    given = {p.name: p.default for p in train.params}
    option = {"sample_every": "sample_every_s", "checkpoint_every": "checkpoint_every_s", "log_every": "log_every_s",
              "quality_every": "quality_every_s", "keep_checkpoints": "keep_checkpoints", "eval_size": "eval_size",
              "milestone_every": "milestone_every_s", "milestone_budget": "milestone_budget_mb"}
    for name, field in option.items():
        assert given[name] == default(field, Cadence), name
    assert given["compile"] == default("compile", Speed) and given["amp"] == default("amp", Speed)
    assert given["seed"] == default("seed") and given["device"] == default("device_requested")
    assert {f.name for f in fields(Cadence)} - set(option.values()) == {"metrics_every_s", "quality_samples", "quality_k", "quality_every_steps"}
