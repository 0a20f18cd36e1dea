"""Which commands import torch (issue 27): a command that needs no model answers without it.

Each command line of TABLE runs through the typer app in a process of its own, forked from one
fresh interpreter that has imported genlab.cli.main (itself torch-free), over scripted runs and a
sweep. Each reports the torch modules it loaded (sys.modules, never a clock) and how it ended.
The commands that load a model (sample, latent, anomaly, eval, train, bench) may import torch
and are not run here: they need a trained run, and their tests are elsewhere.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from scripted import make_run

from genlab.sweep.spec import SweepSpec

ROOT = Path(__file__).resolve().parents[1]

# (command line, may it import torch, how it ends: None for success, else its error's words)
NOT_CONFIRMED = "has not confirmed"  # (no process holds the scripted runs: nothing confirms a command)
TABLE = [
    ("--help", False, None),
    ("models", False, None),
    ("models --json", False, None),
    ("runs", False, None),
    ("runs --json", False, None),
    ("show gan-a", False, None),
    ("show gan-a --json", False, None),
    ("show old", False, None),  # a run made before views: its model's view from the catalogue
    ("compare gan-a vae-b", False, None),
    ("tag gan-a best", False, None),
    ("untag gan-a best", False, None),
    ("note gan-a good", False, None),
    ("pause live --wait 0", False, NOT_CONFIRMED),
    ("stop live --wait 0", False, NOT_CONFIRMED),
    ("resume paused", False, NOT_CONFIRMED),  # in place: a command to its process
    ("sweep show sw", False, None),
    ("sweep show sw --json", False, None),
    ("export gan-a vae-b --csv {tmp}/runs.csv", False, None),
    ("report gan-a vae-b --out {tmp}/report.html", False, None),
    ("data", False, None),
    ("tui", False, None),  # the cockpit, built (not run: there is no terminal here)
    ("watch gan-a", False, None),
    *((f"{command} --help", False, None) for command in ("train", "sample", "latent", "anomaly", "eval", "bench")),
]

RUNNER = r"""
import json, os, sys, tempfile

def torch_modules():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision"))

from genlab.cli.main import main
import genlab.cli.cockpit, genlab.run.launch
genlab.cli.cockpit.run_app = lambda app: None  # the cockpit is built, not run: no terminal here
genlab.run.launch.wait_for_state = lambda run_dir, states, timeout=60.0: None  # nothing confirms a command
answers = {"(genlab.cli.main)": {"torch": torch_modules(), "error": None}}
for line in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the command, in a copy of this interpreter, as `genlab` runs it
        os.close(read)
        said = tempfile.TemporaryFile("w+")
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.dup2(said.fileno(), 2)
        error = None
        try:
            main(line)
        except SystemExit as e:
            sys.stderr.flush()
            said.seek(0)
            error = None if e.code in (None, 0) else f"exit {e.code}: {said.read().strip()}"
        except BaseException as e:
            error = f"{type(e).__name__}: {e}"
        os.write(write, json.dumps({"torch": torch_modules(), "error": error}).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        answers[" ".join(line)] = json.loads(answer.read())
    os.waitpid(pid, 0)
print(json.dumps(answers))
"""


def scripted(root: Path) -> None:
    """Runs in each state the table needs, and a sweep of two finished trials."""
    from genlab.sweep import study as studies
    from genlab.sweep.spec import create_sweep

    make_run(root, "gan-a", "gan", steps=1500, state="finished")
    make_run(root, "vae-b", "vae", steps=900, state="finished")
    old = make_run(root, "old", "pixelcnn", steps=300, state="finished")
    (old / "view.json").unlink()
    far = time.time() + 3600  # another host's heartbeat: live for the next hour
    make_run(root, "live", "gan", steps=300, state="running", heartbeat=far)
    make_run(root, "paused", "vae", steps=300, state="paused", heartbeat=far)

    spec = SweepSpec(sweep_id="sw", model="gan", grid={"lr": [1e-4, 2e-4]}, trials=2, objective="test_fld",
                     created=time.time())
    sweep_dir = create_sweep(root, spec)
    study = studies.load(sweep_dir, spec, for_search=False)
    for number, fld in enumerate((40.0, 55.0)):
        trial = study.ask()
        trial.set_user_attr("run_id", f"sw-{number:03d}")
        run = make_run(root, f"sw-{number:03d}", "gan", steps=600, state="finished")
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**config, "sweep": "sw"}))
        study.tell(trial, fld)
    studies.snapshot(sweep_dir, study)


def test_commands_that_need_no_model_import_no_torch(tmp_path):
    root = tmp_path / "runs"
    scripted(root)
    lines = [line.format(tmp=tmp_path).split() for line, _, _ in TABLE]
    env = {**os.environ, "GENLAB_RUNS_DIR": str(root), "GENLAB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(lines)], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    answers = json.loads(p.stdout)
    assert answers.pop("(genlab.cli.main)") == {"torch": [], "error": None}
    wrong = {}
    for (line, may_import_torch, ends), command in zip(TABLE, lines):
        answer = answers[" ".join(command)]
        if answer["torch"] and not may_import_torch:
            wrong[line] = f"imports {', '.join(answer['torch'][:3])}..."
        if (ends is None) != (answer["error"] is None) or (ends and ends not in answer["error"]):
            wrong[line] = f"ended with {answer['error']!r}, not {ends!r}"
    assert wrong == {}
