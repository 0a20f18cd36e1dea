"""Forking a run (genlab/train/fork.py, `genlab fork`): the same seed and no changes repeat the
parent's continuation bit for bit; a new learning rate diverges only after the fork step, as
every reader sees the spliced history (genlab/run/lineage.py); bad input is one line, exit 2,
nothing written; `genlab runs` shows the child under its parent; `genlab show` lists the
checkpoints kept."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import built_once
from test_control import flatten, metrics_rows

from genlab.cli.main import main as cli_main
from genlab.core import checkpoint
from genlab.run.compare import curve
from genlab.run.follow import RunFollower
from genlab.run.lineage import Ancestry, fork_points, history
from genlab.train.execute import create, execute, prepare
from genlab.train.fork import fork

STEPS, AT = 40, 20
VAE_SMALL = {"hidden": 50, "latent": 5}


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    """A small finished VAE run with a checkpoint at every step."""
    def build(root):
        run_dir = create(prepare("vae", runs_dir=root, name="parent", max_steps=STEPS, hp=VAE_SMALL,
                                 checkpoint_every_s=1e-6, keep_checkpoints=1000, eval_size=200))
        assert execute(run_dir) == "finished"

    return built_once(tmp_path_factory, "fork-parent", build) / "parent"


def run_cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        cli_main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def final(run_dir):
    return torch.load(checkpoint.list_checkpoints(run_dir)[-1], weights_only=True)


def test_a_fork_with_no_changes_repeats_its_parent_bit_for_bit(parent, capsys):
    root = parent.parent
    code, out, err = run_cli(capsys, "fork", "parent", "--at", AT, "--name", "same", "--runs-dir", root)
    assert code == 0, out + err
    assert f"forked parent at step {AT} as same: no changes" in out
    child = root / "same"
    config = json.loads((child / "config.json").read_text())
    assert config["forked_from"] == {"run": "parent", "step": AT} and config["run_id"] == "same"
    a, b = final(parent), final(child)
    assert a["step"] == b["step"] == STEPS
    for part in ("models", "optimizers"):
        flat_a, flat_b = flatten(a[part]), flatten(b[part])
        assert flat_a.keys() == flat_b.keys()
        for key in flat_a:
            same = torch.equal(flat_a[key], flat_b[key]) if isinstance(flat_a[key], torch.Tensor) else flat_a[key] == flat_b[key]
            assert same, f"{part}.{key} differs"
    own = metrics_rows(child)
    assert [r["step"] for r in own] == list(range(AT + 1, STEPS + 1))  # its own record starts at the fork
    assert own == metrics_rows(parent)[AT:]


def test_a_fork_with_a_new_lr_diverges_only_after_the_fork_step(parent):
    child, plan = fork(parent, AT + 3, lr=0.01, name="faster")  # (at or before: a checkpoint a step)
    assert plan.step == AT + 3 and plan.changed == ["lr 0.001 -> 0.01"]
    assert execute(child, resume=True, lr=plan.lr) == "finished"
    cols, mine, problem = history(child)
    _, theirs, _ = history(parent)
    assert problem is None and mine[:, 0].tolist() == list(range(1, STEPS + 1))
    loss = cols.index("loss")
    k = AT + 3
    assert np.array_equal(mine[:k, loss], theirs[:k, loss])  # the shared stretch: the parent's own rows
    assert not np.array_equal(mine[k:, loss], theirs[k:, loss])
    view = RunFollower(child).poll()  # the cockpit's reader: the whole curve from step 1
    assert view.series["loss"].centres()[0] == 1 and view.series["loss"].last_step == STEPS
    assert not view.problem
    xs, ys = curve(child, "loss")  # genlab compare's reader
    assert xs[:k] == list(range(1, k + 1)) and ys[:k] == theirs[:k, loss].tolist()
    # its parent gone: its own history, and a note that says so
    moved = parent.parent / "moved-away"
    shutil.move(parent, moved)
    try:
        cols, alone, problem = history(child)
        assert alone[:, 0].tolist() == list(range(k + 1, STEPS + 1)) and "parent" in problem and "gone" in problem
        assert RunFollower(child).poll().series["loss"].centres()[0] == k + 1
    finally:
        shutil.move(moved, parent)


def test_a_loop_of_forks_is_cut(tmp_path):
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"model": "vae", "forked_from": {"run": other, "step": 5}}))
    ancestry = Ancestry(tmp_path / "a", json.loads((tmp_path / "a" / "config.json").read_text()))
    assert [a.path.name for a in ancestry.ancestors] == ["b"] and "loop" in ancestry.problem


@pytest.mark.parametrize("args, message", [
    (["parent", "--at", "3"], "no checkpoint at or before step 3; it keeps steps 10, 11, 12, ..., 38, 39, 40"),
    (["parent", "--hp", "hidden=60"], "--hp hidden changes the shapes of the weights"),
    (["parent", "--hp", "nope=1"], "has no hyperparameter nope"),
    (["parent", "--hp", "batch_size=64"], "keeps its parent's batch size"),
    (["nobody"], "no run"),
    (["parent", "--name", "parent"], "already exists"),
    (["parent", "--at", "40"], "is where run parent ends"),
    (["parent", "--max-steps", "12"], "ask for more steps than that"),
])
def test_bad_fork_input_is_one_line_and_writes_nothing(parent, capsys, args, message):
    root = parent.parent
    for p in checkpoint.list_checkpoints(parent):  # as retention leaves it: the first kept is step 10
        if int(p.stem.split("-")[1]) < 10:
            p.unlink()
    before = sorted(p.name for p in root.iterdir())
    code, out, err = run_cli(capsys, "fork", *args, "--runs-dir", root)
    assert code == 2, out + err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in root.iterdir()) == before


def test_show_lists_the_checkpoints_and_runs_show_a_fork_under_its_parent(parent, capsys):
    root = parent.parent
    points = fork_points(parent)
    assert points[0].step <= 10 and points[-1].step == STEPS and all(p.bytes > 0 for p in points)
    child, _ = fork(parent, AT, name="kid")
    code, out, _ = run_cli(capsys, "show", "parent", "--runs-dir", root, "--ascii")
    assert code in (0, None) and "checkpoints kept" in out and f"{STEPS}" in out
    code, out, _ = run_cli(capsys, "show", "kid", "--runs-dir", root, "--ascii")
    assert f"forked from parent at step {AT}" in out
    code, _, err = run_cli(capsys, "fork", "kid", "--at", 5, "--runs-dir", root)
    assert code == 2 and "it keeps steps 20 (before step 20 it is run parent's: fork that)" in err
    code, out, _ = run_cli(capsys, "runs", "--runs-dir", root)
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if " parent " in f" {line} ")
    forks = [line for line in lines[at + 1:at + 4] if "└ " in line]  # its forks: same, faster, kid
    assert any("└ kid @20 " in line for line in forks), out


def test_what_a_fork_may_change_is_what_keeps_every_weight():
    """Built both ways on the meta device: a GAN's loss or Adam's beta may change; its width, a
    spectral norm or a moving average of its generator (weights it did not have) may not."""
    from genlab.errors import UsageError
    from genlab.train.fork import changed_config
    from genlab.train.setup import make_config

    config = make_config("dcgan", max_steps=10)
    new, changed = changed_config(config, lr=1e-3, hp={"loss": "hinge", "beta1": 0.9})
    assert (new.lr, new.hp["loss"], new.hp["beta1"]) == (1e-3, "hinge", 0.9)
    assert changed == ["lr 0.0002 -> 0.001", "beta1 0.5 -> 0.9", "loss bce -> hinge"]
    for hp in ({"width": 40}, {"sn": 1}, {"ema": 0.999}, {"d_norm": "none"}):
        with pytest.raises(UsageError, match=f"--hp {next(iter(hp))} changes the shapes of the weights"):
            changed_config(config, lr=None, hp=hp)
