"""Forking a run: a new run that starts from one of another run's checkpoints, with changes.

``genlab fork RUN --at STEP --lr X`` answers "what if I had lowered the learning rate at step
5,000?" without losing the original continuation. :func:`plan_fork` checks everything and
writes nothing (a refusal is one UsageError); :func:`make_fork` makes the new run directory
whole: its config.json (the checkpoint's configuration, with the changes, a new id and
``"forked_from": {"run", "step"}``) and its ``checkpoints/`` seeded with the parent's
checkpoint; then it trains as a resume does (``execute(run_dir, resume=True, ...)``), from the
checkpoint's exact training state: with no changes it reproduces the parent's continuation bit
for bit. Its record starts at the fork step; readers splice in the parent's history before it
(genlab/run/lineage.py).

What may change: the learning rate, the length (--epochs, --max-steps, --max-minutes), and the
model's hyperparameters that leave every weight's shape as it is (built both ways on the meta
device and compared; an optimiser's settings are taken from the new configuration). The batch
size may not: the data order and the step count stand on it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from genlab.config import RunConfig
from genlab.core import checkpoint
from genlab.errors import GenlabError, UsageError
from genlab.models.catalogue import hyperparameters
from genlab.run.lineage import FORKED_FROM, fork_points, parent_of
from genlab.run.notify import redacted_argv
from genlab.run.rundir import RunDir
from genlab.run.store import NAME_RE, create_run, load_run, new_run_id, unique_name
from genlab.validate import new_total, positive

NOT_SETTINGS = ("params", "foreach", "fused", "capturable", "differentiable")  # an optimiser group's, not hyperparameters


@dataclass
class ForkPlan:
    """A fork, checked: the parent, the step it starts from, its checkpoint (loaded, with the
    changes applied) and the new run's configuration."""

    parent: str
    step: int
    ckpt: dict
    config: RunConfig
    lr: float | None  # a new learning rate (the trainer records it as an ``lr`` event)
    changed: list[str]  # what differs from the parent, in words


def plan_fork(parent_dir: Path, at: int | None = None, *, lr: float | None = None, hp: dict | None = None,
              epochs: int | None = None, max_steps: int | None = None, max_minutes: float | None = None,
              name: str | None = None) -> ForkPlan:
    """The fork of ``parent_dir`` at the checkpoint at or before step ``at`` (the newest if
    None), with the changes asked for; UsageError for anything it cannot be. Nothing is written."""
    info = load_run(parent_dir)
    if info.problem:
        raise UsageError(f"run {info.run_id} is unreadable: {info.problem}")
    if at is not None and (isinstance(at, bool) or not isinstance(at, int) or at < 0):
        raise UsageError(f"--at must be a step (0 or more), got {at!r}")
    if name is not None:
        new_run_id(info.model, name, parent_dir.parent)  # (checks the name: UsageError if taken or bad)
    points = fork_points(parent_dir)
    if not points:
        raise UsageError(f"run {info.run_id} has no checkpoint to fork from")
    steps = [f"{p.step:,}" for p in points]
    kept = ", ".join(steps if len(steps) <= 8 else [*steps[:3], "...", *steps[-3:]])
    chosen = [p for p in points if at is None or p.step <= at]
    if not chosen:
        before = parent_of(info.config)
        hint = f" (before step {before[1]:,} it is run {before[0]}'s: fork that)" if before and at <= before[1] else ""
        raise UsageError(f"run {info.run_id} has no checkpoint at or before step {at:,}; it keeps steps {kept}{hint}")
    step = chosen[-1].step
    try:
        ckpt = checkpoint.load(checkpoint.path_for(parent_dir, step))
    except GenlabError as e:
        raise UsageError(f"cannot fork from step {step:,}: {e}") from None
    old = checkpoint.config_of(ckpt)
    config, changed = changed_config(old, lr=lr, hp=hp or {})
    if max_minutes is not None:
        positive("max minutes", max_minutes, float)
        trained = float(ckpt.get("trained_s", 0.0))
        if max_minutes * 60 <= trained:
            raise UsageError(f"run {info.run_id} had trained {trained / 60:.1f} minutes by step {step:,}; "
                             "ask for more than that")
        config = config.with_max_minutes(max_minutes)
    total = new_total(config.steps_per_epoch, epochs, max_steps)
    if total is not None:
        if total <= step:
            raise UsageError(f"the fork starts at step {step:,}: ask for more steps than that")
        config = config.with_total_steps(total)
    elif step >= config.total_steps:
        raise UsageError(f"step {step:,} is where run {info.run_id} ends: give the fork --max-steps or --epochs beyond it")
    if name is None:
        name = unique_name(f"{info.run_id[:52]}-fork{step}", parent_dir.parent)
        if not NAME_RE.fullmatch(name):
            name = new_run_id(config.model, None, parent_dir.parent)
    config = replace(config, run_id=name, created=time.time(), argv=redacted_argv(sys.argv), sweep=None,
                     forked_from={"run": info.run_id, "step": step})  # (a trial's fork is no trial of its sweep)
    if changed:
        fresh_optimizer_settings(ckpt, config)
    ckpt = {**ckpt, "config": config.to_json()}
    return ForkPlan(info.run_id, step, ckpt, config, lr, changed)


def changed_config(old: RunConfig, lr: float | None, hp: dict) -> tuple[RunConfig, list[str]]:
    """``old`` with the new learning rate and hyperparameters, and what changed in words;
    UsageError for one the model lacks, a bad value, or one that changes a weight's shape."""
    hp = dict(hp)
    if "batch_size" in hp:
        raise UsageError("a fork keeps its parent's batch size: its data order and steps stand on it")
    if "lr" in hp:
        lr = hp.pop("lr") if lr is None else lr
    merged = hyperparameters(old.model, {**old.hp, **hp, "batch_size": old.batch_size,
                                         "lr": old.lr if lr is None else lr})
    new = replace(old, hp={k: v for k, v in merged.items() if k not in ("batch_size", "lr")},
                  lr=float(merged["lr"]))
    changed = [f"lr {old.lr:g} -> {new.lr:g}"] if new.lr != old.lr else []
    changed += [f"{k} {old.hp.get(k)} -> {v}" for k, v in new.hp.items() if old.hp.get(k) != v]
    reshaped = sorted(k for k in hp if old.hp.get(k) != new.hp.get(k) and shapes(old, {k: new.hp[k]}) != shapes(old))
    if reshaped:
        raise UsageError(f"--hp {', '.join(reshaped)} changes the shapes of the weights (or which weights there are): "
                         "a fork can change only what keeps them (the learning rate, the length, and such hyperparameters)")
    return new, changed


def shapes(config: RunConfig, hp: dict | None = None) -> dict:
    """Every weight's shape of ``config``'s model (with ``hp`` changed), built on the meta device:
    its networks' and moving averages' (as its checkpoint holds them), and how many tensors each
    optimiser's groups hold."""
    from genlab import models

    with torch.device("meta"):
        model = models.get(config.model)({**config.model_hp(), **(hp or {})}, torch.device("meta"))
    state = model.state()
    out: dict = {(net, name): tuple(t.shape) for net, weights in state["models"].items() for name, t in weights.items()}
    out.update({("optimizer", name): tuple(len(g["params"]) for g in opt["param_groups"])
                for name, opt in state["optimizers"].items()})
    return out


def fresh_optimizer_settings(ckpt: dict, config: RunConfig) -> None:
    """The checkpoint's optimisers set as ``config`` builds them (betas, weight decay, the
    learning rate with its scales): loading an optimiser's state brings back its old settings."""
    from genlab import models

    with torch.device("meta"):
        model = models.get(config.model)(config.model_hp(), torch.device("meta"))
    for name, opt in model.optimizers.items():
        saved = ckpt["optimizers"].get(name)
        groups = opt.state_dict()["param_groups"]
        if saved is None or len(saved["param_groups"]) != len(groups):
            continue
        saved["param_groups"] = [{**old, **{k: v for k, v in new.items() if k not in NOT_SETTINGS}}
                                 for old, new in zip(saved["param_groups"], groups)]


def make_fork(plan: ForkPlan, root: Path) -> Path:
    """The new run's directory, made whole: its configuration, its parent's view, and its
    checkpoint at the fork step (so a resume starts there)."""
    from genlab.models.catalogue import spec

    def seed(tmp: Path) -> None:
        checkpoint.save(tmp, plan.ckpt, keep=0)

    return create_run(root, plan.config.run_id, plan.config.to_json(),
                      {RunDir.VIEW: spec(plan.config.model).view.to_json()}, then=seed)


def fork(parent_dir: Path, at: int | None = None, **changes) -> tuple[Path, ForkPlan]:
    """Plan and make the fork of ``parent_dir`` (:func:`plan_fork`'s arguments); its directory,
    ready to train with ``execute(run_dir, resume=True, lr=plan.lr)``."""
    plan = plan_fork(parent_dir, at, **changes)
    return make_fork(plan, parent_dir.parent), plan


__all__ = ["FORKED_FROM", "ForkPlan", "fork", "make_fork", "plan_fork"]
