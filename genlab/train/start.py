"""A run started at once: its options checked, its configuration finished and its directory
made without importing torch, so that `genlab train --detach` (and the cockpit's Start, which
runs it) answers before the training process has loaded anything.

What only torch can tell (a model too large for the device, a torch without CUDA, digits that
differ from their headers) the training process checks as it starts, and a run refused then
ends ``failed`` with its reason (genlab.train.execute.record_failed_start).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import genlab
from genlab.config import RunConfig
from genlab.core.data import Batches, survey
from genlab.core.device import foreseen
from genlab.models.catalogue import spec
from genlab.run.rundir import RunDir
from genlab.run.store import create_run, new_run_id, runs_root
from genlab.train.setup import finish_config, make_config


@dataclass
class Planned:
    """A run's finished configuration, and the runs directory it will be made in."""

    config: RunConfig
    root: Path


def plan(model: str, *, data_dir=None, runs_dir=None, name=None, **options) -> Planned:
    """Everything a run needs, checked without torch; nothing is written yet. ``options``:
    make_config's."""
    config = make_config(model, **options)
    data = survey(data_dir, config.exclude_digits)
    return finished(config, foreseen(config.device_requested), data, runs_root(runs_dir), name)


def finished(config: RunConfig, device: str, data: dict, root: Path, name: str | None) -> Planned:
    """``config`` completed for the device and the digits it trains on (``data``: what
    Digits.describe says of them), with its run id."""
    Batches.check(data["train"], config.batch_size)
    run_id = new_run_id(config.model, name, root)
    config = finish_config(config, run_id=run_id, device=device, data=data,
                           steps_per_epoch=data["train"] // config.batch_size,
                           versions={"genlab": genlab.__version__, "torch": torch_version()})
    return Planned(config, root)


def make_run_dir(planned: Planned) -> Path:
    """The run directory, with its configuration and its model's view (what screens draw)."""
    config = planned.config
    return create_run(planned.root, config.run_id, config.to_json(),
                      {RunDir.VIEW: spec(config.model).view.to_json()})


def torch_version() -> str:
    """``torch.__version__``, read from the installed package's version.py without importing it
    (the package's metadata drops the local part, e.g. "+cu130")."""
    found = importlib.util.find_spec("torch")
    if found is None or not found.submodule_search_locations:
        return "not installed"
    try:
        text = (Path(next(iter(found.submodule_search_locations))) / "version.py").read_text()
    except OSError:
        text = ""
    match = re.search(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", text, re.M)
    if match:
        return match.group(1)
    from importlib.metadata import version

    return version("torch")
