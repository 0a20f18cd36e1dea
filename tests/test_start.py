"""A detached start answers at once: `genlab train --detach` checks, makes the run and starts its
worker without importing torch; bad input is refused as before (one line, exit 2, nothing left);
what only torch can tell ends the run ``failed`` with its reason; a training process imports
neither torchvision nor the compiler (torch._dynamo) unless it compiles.

Each test runs genlab in a fresh interpreter and reads its ``sys.modules``: never a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import needs_mnist

from genlab.core.device import nvidia_gpus
from genlab.run.launch import read_status
from genlab.run.state import RunState, effective_state

ROOT = Path(__file__).resolve().parents[1]

# genlab's commands, each in turn, in this interpreter: each one's exit code, its output and
# stderr, and which of the heavy packages the interpreter had imported once it answered
IN_ONE_PROCESS = r"""
import contextlib, io, json, sys
from genlab.cli.main import main

HEAVY = ("torch", "torchvision", "optuna", "textual")
answers = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code
    answers.append({"code": code, "out": out.getvalue(), "err": err.getvalue(),
                    "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY)),
                    "dynamo": "torch._dynamo" in sys.modules and type(sys.modules["torch._dynamo"]).__name__ == "module"})
print(json.dumps(answers))
"""


def genlab_in_one_process(*argvs: list[str], env: dict | None = None, timeout: float = 300) -> list[dict]:
    p = subprocess.run([sys.executable, "-c", IN_ONE_PROCESS, json.dumps(argvs)], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def wait_for_end(run_dir: Path, timeout: float = 240.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = effective_state(read_status(run_dir), run_dir)
        if not state.live:
            return state
        time.sleep(0.2)
    raise AssertionError(f"run {run_dir.name} still {state} after {timeout:.0f}s")


def test_a_detached_start_imports_no_torch_and_leaves_the_run_starting(runs):
    [started] = genlab_in_one_process(["train", "gan", "--max-steps", "3", "--eval-size", "100", "--detach", "--json",
                                       "--runs-dir", str(runs), "--name", "quick"])
    assert started["code"] == 0, started["err"]
    assert started["heavy"] == []  # the parent never imported torch (nor optuna, nor textual)
    answer = json.loads(started["out"])
    assert answer["run"] == "quick" and answer["state"] == RunState.STARTING and answer["step"] == 0
    run_dir = runs / "quick"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["device"] == "cpu" and config["total_steps"] == 3 and config["versions"]["torch"]
    assert (run_dir / "view.json").exists()
    assert read_status(run_dir)["pid"] == answer["pid"]  # its worker's, so readers see it starting
    assert effective_state(read_status(run_dir), run_dir) in (RunState.STARTING, RunState.RUNNING, RunState.FINISHED)
    assert wait_for_end(run_dir) == RunState.FINISHED
    assert read_status(run_dir)["step"] == 3


def test_the_same_run_detached_or_in_the_foreground(runs, tmp_path):
    """The torch-free start writes the configuration the foreground's (torch) start writes."""
    common = ["--max-steps", "2", "--eval-size", "100", "--exclude-digits", "9", "--hp", "d_lr_ratio=2"]
    answers = genlab_in_one_process(["train", "gan", *common, "--detach", "--runs-dir", str(runs), "--name", "away"],
                                    ["train", "gan", *common, "--runs-dir", str(runs), "--name", "here"])
    assert [a["code"] for a in answers] == [0, 0], answers
    wait_for_end(runs / "away")
    away, here = (json.loads((runs / n / "config.json").read_text()) for n in ("away", "here"))
    for c in (away, here):
        for varies in ("run_id", "created", "argv"):
            c.pop(varies)
    assert away == here


BAD_DETACHED = [
    (["train", "gna"], "unknown model 'gna'"),
    (["train", "gan", "--batch-size", "0"], "batch size must be positive"),
    (["train", "gan", "--lr", "nan"], "learning rate must be positive"),
    (["train", "gan", "--max-steps", "0"], "max steps must be positive"),
    (["train", "gan", "--device", "tpu"], "unknown device 'tpu'"),
    (["train", "gan", "--device", "cuda:x"], "unknown device 'cuda:x'"),
    (["train", "gan", "--data-dir", "/no/such/dir"], "does not exist"),
    (["train", "vae", "--hp", "depth=3"], "no hyperparameter depth"),
    (["train", "vae", "--hp", "hidden=2.5"], "--hp hidden must be an integer, got 2.5"),
    (["train", "conv-vae", "--preset", "cpu"], "model 'conv-vae' has no preset 'cpu'; it has none"),
    (["train", "gan", "--amp", "fp8"], "unknown --amp 'fp8'; choose from off, bf16"),
    (["train", "gan", "--exclude-digits", "11"], "--exclude-digits takes digits 0 to 9"),
    (["train", "vae", "--name", "latest"], "run name 'latest' is reserved"),
    (["train", "gan", "--notify-when", "nonsense<1", "--notify", "json://localhost:1/x"], "nonsense"),
]


def test_bad_input_to_a_detached_start_is_refused_without_torch(runs, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [*BAD_DETACHED, (["train", "gan", "--data-dir", str(empty)], "holds no MNIST")]
    if not nvidia_gpus():  # told without torch (NVML): no NVIDIA GPU here
        cases.append((["train", "gan", "--device", "cuda"], "no CUDA GPU is available"))
    if os.environ.get("GENLAB_DATA_DIR"):
        cases.append((["train", "gan", "--batch-size", "60001"], "larger than the data set (60,000 digits)"))
    answers = genlab_in_one_process(*[[*args, "--detach", "--runs-dir", str(runs)] for args, _ in cases])
    for (args, message), a in zip(cases, answers):
        assert a["code"] == 2, (args, a)
        assert message in a["err"] and a["err"].strip().count("\n") == 0, (args, a["err"])
        assert a["heavy"] == [], (args, a["heavy"])
    assert not runs.exists() or not any(runs.iterdir())  # nothing left behind


@needs_mnist
def test_a_corrupt_data_file_is_named_before_a_detached_start(runs, tmp_path):
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    src = Path(os.environ["GENLAB_DATA_DIR"]) / "MNIST" / "raw"
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).symlink_to(src / name)
    (raw / "train-images-idx3-ubyte").write_bytes((src / "train-images-idx3-ubyte").read_bytes()[:1000])
    [a] = genlab_in_one_process(["train", "gan", "--data-dir", str(tmp_path / "mnist"), "--detach", "--runs-dir", str(runs)])
    assert a["code"] == 1 and "train-images-idx3-ubyte: truncated" in a["err"] and a["heavy"] == []
    assert not runs.exists() or not any(runs.iterdir())


def test_what_only_torch_can_tell_ends_the_run_failed_with_its_reason(runs):
    """A model too large for the machine is counted on torch's meta device: the worker refuses
    it, and the run says why in status.json, log.txt, `genlab runs` and `genlab show`."""
    [started] = genlab_in_one_process(["train", "vae", "--hp", "hidden=2000000", "--detach", "--runs-dir", str(runs),
                                       "--name", "huge"])
    assert started["code"] == 0 and started["heavy"] == [], started
    run_dir = runs / "huge"
    assert wait_for_end(run_dir) == RunState.FAILED
    reason = read_status(run_dir)["reason"]
    assert "training needs about" in reason and "\n" not in reason
    assert f"failed: {reason}" in (run_dir / "log.txt").read_text()
    listed, shown = genlab_in_one_process(["runs", "--runs-dir", str(runs)], ["show", "huge", "--runs-dir", str(runs)])
    assert "failed" in listed["out"]
    assert "failed" in shown["out"] and "training needs about" in shown["out"]


def test_a_training_process_imports_neither_torchvision_nor_the_compiler(runs):
    """A plain run (no --compile) to its end: samples, evaluation and quality check included."""
    [trained] = genlab_in_one_process(["train", "gan", "--max-steps", "2", "--eval-size", "100",
                                       "--runs-dir", str(runs), "--name", "plain"])
    assert trained["code"] == 0, trained["err"]
    assert "torch" in trained["heavy"] and "torchvision" not in trained["heavy"], trained["heavy"]
    assert not trained["dynamo"]
    assert "optuna" not in trained["heavy"] and "textual" not in trained["heavy"]
    assert list((runs / "plain" / "samples").glob("*.png"))


def test_a_sweeps_trial_trains_the_weights_a_run_of_its_own_would(runs):
    """A sweep's worker forks its trials from itself, warm (genlab/train/warm.py): a trial's
    weights are still, bit for bit, those of the same run started on its own."""
    import torch

    from genlab.core import checkpoint

    short = ["--max-steps", "4", "--hp", "hidden=32"]
    p = subprocess.run([sys.executable, "-m", "genlab", "sweep", "vae", "--grid", "lr=2e-3", *short, "--seeds", "3", "--name", "s",
                        "--wait", "--runs-dir", str(runs)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    [solo] = genlab_in_one_process(["train", "vae", "--lr", "2e-3", *short, "--seed", "3", "--name", "solo",
                                    "--runs-dir", str(runs)])
    assert solo["code"] == 0, solo["err"]
    trial, alone = (checkpoint.load(checkpoint.list_checkpoints(runs / name)[-1]) for name in ("s-000", "solo"))
    assert trial["step"] == alone["step"] == 4

    def same(a, b) -> bool:
        if isinstance(a, torch.Tensor):
            return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return a == b

    for key in ("models", "optimizers", "fixed_latent", "data"):
        assert same(trial[key], alone[key]), key
    assert same(trial["rng"]["torch"], alone["rng"]["torch"])  # (Python's and NumPy's are nobody's seed)


def test_the_device_is_foreseen_without_torch(monkeypatch):
    import genlab.core.device as device
    from genlab.errors import UsageError

    monkeypatch.setattr(device, "nvidia_gpus", lambda: 2)
    assert [device.foreseen(d) for d in ("auto", "cpu", "cuda", "cuda:1", "CUDA:0")] == \
        ["cuda", "cpu", "cuda", "cuda:1", "cuda:0"]
    with pytest.raises(UsageError, match="no CUDA GPU is available"):
        device.foreseen("cuda:2")
    monkeypatch.setattr(device, "nvidia_gpus", lambda: 0)
    assert device.foreseen("auto") in ("cpu", "mps")
    for bad in ("tpu", "cuda:x", "cuda:"):
        with pytest.raises(UsageError, match="unknown device"):
            device.foreseen(bad)
    monkeypatch.undo()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert device.nvidia_gpus() == 0  # hidden from this process: none, whatever the driver has


def test_a_gpu_the_driver_names_but_torch_cannot_use_trains_on_the_cpu(runs, monkeypatch):
    """`auto` foreseen as CUDA (NVML names a GPU) where torch cannot use it: the run trains on
    the CPU, as `auto` always did, and its configuration and log say so."""
    import torch

    import genlab.core.device as device
    from genlab.train.execute import execute
    from genlab.train.start import make_run_dir, plan

    monkeypatch.setattr(device, "nvidia_gpus", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run_dir = make_run_dir(plan("vae", runs_dir=runs, name="g", max_steps=2, hp={"hidden": 32}, eval_size=100))
    assert json.loads((run_dir / "config.json").read_text())["device"] == "cuda"
    assert execute(run_dir) == RunState.FINISHED
    assert json.loads((run_dir / "config.json").read_text())["device"] == "cpu"
    assert "training on cpu, not cuda" in (run_dir / "log.txt").read_text()
