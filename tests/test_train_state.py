"""The trainer's state is one object, saved and restored whole; its units take what they work on,
never the trainer; the layers import what they may (DESIGN.md, issue 24)."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import torch

import genlab
from genlab import models
from genlab.core import checkpoint
from genlab.core.data import Batches
from genlab.run.sinks import Sink
from genlab.train.emitter import Emitter
from genlab.train.resume import Checkpoints
from genlab.train.setup import make_config
from genlab.train.state import TrainState

ROOT = Path(genlab.__file__).parent


class Recorder(Sink):
    """A sink that keeps what it hears (the no-ops come from Sink)."""

    def __init__(self):
        self.events: list[dict] = []

    def event(self, e: dict) -> None:
        self.events.append(e)


def test_checkpoints_save_and_restore_the_training_state_whole(tmp_path):
    """Checkpoints works on a TrainState, a model and an emitter, with no trainer: what it saves
    and loads back is the state it had, weights and random streams included."""
    (tmp_path / "checkpoints").mkdir()  # (a run directory has it)
    config = make_config("vae", max_steps=10)
    model = models.build(config.model, config.model_hp(), torch.device("cpu"))
    state = TrainState(config=config, batches=Batches(100, 10, config.seed),
                       fixed_latent=model.latent(4, torch.Generator().manual_seed(0)))
    sink = Recorder()
    events = Emitter([sink], lambda: state.step)
    ckpts = Checkpoints(tmp_path, state, model, torch.device("cpu"), events, read_back=lambda: None)
    for _ in range(3):
        state.batches.next()
    state.step, state.trained_s = 3, 1.5
    ckpts.save()
    after_save = torch.rand(3)  # what the streams draw next, as saved
    weights = {k: v.clone() for k, v in model.networks["vae"].state_dict().items()}

    state.step, state.trained_s, state.diverged = 7, 9.0, "loss is nan at step 7"
    state.pending.append((7, time.time(), 1, {}))
    state.batches.next()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    ckpts.restore(checkpoint.load(checkpoint.path_for(tmp_path, 3)))

    assert (state.step, state.trained_s, state.diverged, state.pending) == (3, 1.5, None, [])
    assert state.batches.state()["position"] == 3 and state.epoch == 0
    assert torch.equal(torch.rand(3), after_save)
    assert torch.isfinite(next(model.parameters())).all()
    for k, v in model.networks["vae"].state_dict().items():
        assert torch.equal(v, weights[k])
    assert [e["kind"] for e in sink.events] == ["checkpoint"] and sink.events[0]["step"] == 3


def test_a_checkpoint_holds_what_it_always_held(tmp_path):
    """The file format is unchanged: the same keys, so older genlab reads new checkpoints."""
    (tmp_path / "checkpoints").mkdir()
    config = make_config("dcgan", preset="cpu", max_steps=10)
    model = models.build(config.model, config.model_hp(), torch.device("cpu"))
    state = TrainState(config=config, batches=Batches(100, 10, config.seed),
                       fixed_latent=model.latent(4, torch.Generator().manual_seed(0)))
    Checkpoints(tmp_path, state, model, torch.device("cpu"), Emitter([], lambda: 0), read_back=lambda: None).save()
    ckpt = checkpoint.load(checkpoint.path_for(tmp_path, 0))
    assert set(ckpt) == {"format", "step", "epoch", "config", "models", "optimizers", "rng", "data",
                         "fixed_latent", "trained_s"}


def test_every_sink_is_a_sink():
    """One protocol for every sink: each answers flush, heartbeat, reopen, write_in_place and
    close, so nothing asks a sink whether it has them."""
    from genlab.export import TensorBoardSink
    from genlab.run.metrics_log import MetricsBinSink
    from genlab.run.sinks import JsonlSink, LineSink, StatusSink
    from genlab.train.progress import RichSink

    for cls in (JsonlSink, StatusSink, LineSink, MetricsBinSink, TensorBoardSink, RichSink):
        assert Sink in cls.__mro__, cls
        for name in ("event", "progress", "flush", "heartbeat", "reopen", "write_in_place", "close"):
            assert callable(getattr(cls, name, None)), (cls, name)
    grep = [p for p in ROOT.rglob("*.py") if "getattr(sink" in p.read_text()]
    assert grep == []


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_the_configuration_imports_no_torch_no_models_no_trainer():
    """genlab/config.py is what a configuration is, for every reader (the cockpit too): making one
    from options, against models and devices, is the trainer's side (genlab/train/setup.py)."""
    bad = sorted(n for n in imported(ROOT / "config.py")
                 if n.split(".")[0] == "torch" or n.startswith(("genlab.models", "genlab.core", "genlab.train",
                                                                   "genlab.export")))
    assert bad == []


def test_the_run_package_imports_no_rich():
    """genlab/run/ writes and reads run directories; the Rich progress bar is the trainer's."""
    bad = {p.name: n for p in (ROOT / "run").glob("*.py") for n in imported(p) if n.split(".")[0] == "rich"}
    assert bad == {}
