"""Start a run: validate everything, then create the run directory, then train.

Every check that can fail on bad input (model, numbers, device, data, batch size) runs before the
run directory exists, so a refused run leaves nothing behind.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab import config as cfg
from genlab.data import Batches, load_digits
from genlab.device import resolve
from genlab.engine import Trainer
from genlab.sinks import JsonlSink, LineSink, RichSink, StatusSink
from genlab.store import create_run, new_run_id, runs_root


@dataclass
class Prepared:
    config: dict
    digits: object
    device: torch.device
    root: Path


def prepare(model: str, *, data_dir=None, runs_dir=None, name=None, **options) -> Prepared:
    """Everything a run needs, validated; nothing is written yet."""
    config = cfg.make_config(model, **options)
    device = resolve(config["device_requested"])
    digits = load_digits(data_dir, device)
    batches = Batches(len(digits.train_images), config["batch_size"], config["seed"], device)
    root = runs_root(runs_dir)
    run_id = new_run_id(config["model"], name, root)
    config = cfg.finish_config(config, run_id=run_id, device=device, data=digits.describe(),
                               steps_per_epoch=batches.steps_per_epoch)
    return Prepared(config, digits, device, root)


def train(prepared: Prepared, console=None, stream=None) -> tuple[Path, str]:
    """Create the run directory and train in this process. Returns (run directory, final state).

    ``console``: a Rich console for a progress bar; else plain lines go to ``stream`` (if any).
    Everything also goes to the run's files: events.jsonl, status.json and log.txt.
    """
    c = prepared.config
    run_dir = create_run(prepared.root, c["run_id"], c)
    log = open(run_dir / "log.txt", "a", encoding="utf-8")
    sinks = [JsonlSink(run_dir / "events.jsonl", c["metrics_every_s"]), StatusSink(run_dir / "status.json", c),
             LineSink(log, c["log_every_s"], close_stream=True)]
    if console is not None:
        sinks.append(RichSink(console, c))
    elif stream is not None:
        sinks.append(LineSink(stream, c["log_every_s"]))
    header = (f"run {c['run_id']}: {c['model']} on {c['device']}, {c['total_steps']:,} steps "
              f"(batch {c['batch_size']}, lr {c['lr']:g}, seed {c['seed']}); data: {c['data']['source']} "
              f"{c['data']['location']} ({c['data']['train']:,} train / {c['data']['test']:,} test)")
    for line in filter(None, [header, c["data"].get("notice")]):
        log.write(line + "\n")
        if console is not None:
            console.print(line, highlight=False)
        elif stream is not None:
            stream.write(line + "\n")
    trainer = Trainer(run_dir, c, prepared.digits, prepared.device, sinks)
    try:
        state = trainer.run()
    except BaseException as e:
        trainer.emit("error", message=f"{e.__class__.__name__}: {e}")
        trainer.set_state("failed", f"{e.__class__.__name__}: {e}")
        raise
    finally:
        for sink in sinks:
            sink.close()
    return run_dir, state


