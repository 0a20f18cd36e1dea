"""Speed switches: bf16 autocast, torch.compile's fallback, thread settings, model presets."""

import json
import math
import os

import torch
from typer.testing import CliRunner

from genlab import models
from genlab.cli.main import app
from genlab.core import speed
from genlab.run.store import read_events

runner = CliRunner()


def test_bf16_autocast_trains_and_is_recorded(runs):
    r = runner.invoke(app, ["train", "vae", "--max-steps", "20", "--amp", "bf16", "--device", "cpu",
                            "--runs-dir", str(runs), "--name", "b"])
    assert r.exit_code == 0, r.output
    config = json.loads((runs / "b" / "config.json").read_text())
    assert config["amp"] == "bf16" and config["compile"] is False
    events, _ = read_events(runs / "b" / "events.jsonl")
    losses = [e["loss"] for e in events if e["kind"] == "metrics"]
    assert len(losses) == 20 and all(torch.isfinite(torch.tensor(losses)))


def test_bf16_really_runs_matmuls_in_bf16():
    m = models.build("gan")
    seen = []
    m.G[0].register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    step = speed.StepRunner(m, torch.device("cpu"), amp="bf16", notice=seen.append)
    step(torch.zeros(8, 28, 28, dtype=torch.uint8), torch.zeros(8, dtype=torch.long))
    assert seen[0] == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in m.G.parameters())  # weights and Adam state stay float32


def test_bf16_forward_after_an_update_in_the_same_step_sees_the_new_weights():
    """wgan-gp updates its critic five times inside one step. Autocast caches the bf16 copy of
    a weight for as long as its context lasts, so with one context around the whole step the
    critic's later passes would use the weights of the first (the cast is stale)."""

    class TwoUpdates:
        def __init__(self):
            self.net = torch.nn.Linear(4, 1)
            self.networks = {"net": self.net}
            self.opt = torch.optim.SGD(self.net.parameters(), lr=1.0)

        def step(self, images, labels):
            x = images.float()
            outs = []
            for _ in range(2):
                out = self.net(x)
                outs.append(out.detach())
                self.opt.zero_grad()
                out.float().sum().backward()
                self.opt.step()
            return outs

    m = TwoUpdates()
    x = torch.ones(3, 4)
    first, second = speed.StepRunner(m, torch.device("cpu"), amp="bf16")(x, None)
    assert first.dtype == torch.bfloat16
    assert not torch.equal(first, second)  # the update between the passes shows in the second


def test_failed_compile_falls_back_to_eager_with_a_notice(monkeypatch):
    """A compile that fails at the first step: one notice, the networks back to eager, and the
    step applied once (from the weights as they were, not on top of a half-applied update)."""

    def broken_compile(fn, **kwargs):
        def call(*a, **k):
            raise RuntimeError("inductor: no working C++ compiler found\nmore detail")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    torch.manual_seed(0)
    m = models.build("gan")
    twin = models.build("gan")
    twin.load_state(m.state())
    notices = []
    step = speed.StepRunner(m, torch.device("cpu"), compile=True, notice=notices.append)
    x, y = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8), torch.zeros(16, dtype=torch.long)
    torch.manual_seed(1)
    step(x, y)
    torch.manual_seed(1)
    twin.step(x, y)
    assert len(notices) == 1 and notices[0].startswith("--compile failed (RuntimeError: inductor: no working C++")
    assert step.compiled is False
    for a, b in zip(m.G.parameters(), twin.G.parameters()):
        assert torch.equal(a, b)
    step(x, y)  # later steps run eagerly, without another notice
    assert len(notices) == 1


def test_threads_follow_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    before = torch.get_num_threads()
    try:
        speed.configure_threads(torch.device("cpu"))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_preset_is_recorded_in_the_run(runs):
    r = runner.invoke(app, ["train", "cgan", "--preset", "cpu", "--max-steps", "3", "--runs-dir", str(runs), "--name", "c"])
    assert r.exit_code == 0, r.output
    config = json.loads((runs / "c" / "config.json").read_text())
    assert config["preset"] == "cpu"
    assert config["hp"]["width"] == 22 and config["lr"] == 1.2e-3 and config["batch_size"] == 64
    assert "lr" not in config["hp"] and "batch_size" not in config["hp"]  # hp: the model's own only


def test_every_preset_builds_and_trains_a_step(digits):
    for name, cls in models.MODELS.items():
        for preset in cls.presets:
            m = models.build(name, preset=preset)
            # (a gpu preset is a paper's network: a step of 4 digits shows it trains, on a CPU in seconds)
            b = min(int(m.hp["batch_size"]), 4 if preset == "gpu" else 4096)
            metrics = m.train_step(digits.train_images[:b], digits.train_labels[:b])
            assert all(math.isfinite(v) for v in metrics.values()), (name, preset)
