"""Checkpoints: one plain dict, written atomically with a checksum, read with ``weights_only=True``.

    {"format": 1, "step", "epoch", "config", "rng": genlab.core.streams.state(),
     "data": Batches.state(), "fixed_latent": tensor, "trained_s",   <- TrainState.state_dict()
     "models": {name: state_dict}, "optimizers": {name: state_dict}}  <- the model's state()

(``models`` also holds a GAN's moving average, ``G_ema``, and dcgan's ``clusters`` where it has them.)

(genlab/train/state.py; ``trained_s`` is missing from checkpoints older than time budgets.)

``checkpoints/step-XXXXXXXX.pt`` sits beside ``step-XXXXXXXX.pt.sha256``; the newest ``keep`` are
kept, and milestones spread over the run to fork from (genlab/core/retention.py).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from genlab.config import Cadence, RunConfig
from genlab.core.retention import which_to_keep
from genlab.errors import GenlabError
from genlab.run.files import atomic_write_bytes
from genlab.run.rundir import RunDir, step_of

FORMAT = 1


def path_for(run_dir: Path, step: int) -> Path:
    return RunDir(run_dir).checkpoint_path(step)


# --------------------------------------------------------------------------- files


def save(run_dir: Path, ckpt: dict, keep: int = 3, cadence: Cadence | None = None) -> Path:
    """Write ``ckpt`` atomically with its SHA-256 beside it, then drop all but the newest ``keep``
    and the milestones ``cadence`` asks for (genlab/core/retention.py; none without one)."""
    step = int(ckpt["step"])
    path = path_for(run_dir, step)
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    atomic_write_bytes(path.with_name(path.name + ".sha256"), (hashlib.sha256(data).hexdigest() + "\n").encode())
    if keep <= 0:
        return path  # (keep them all)
    listed = list_checkpoints(run_dir)
    if cadence is None or step <= 0:
        wanted = {step_of(p) for p in listed[-keep:]}
    else:
        per_step = float(ckpt.get("trained_s", 0.0)) / step  # (older ones: in proportion to their step)
        wanted = which_to_keep([(s, s * per_step, size) for s, size in sizes(listed)], keep,
                               cadence.milestone_every_s, cadence.milestone_budget_mb * 1e6)
    for old in listed:
        if step_of(old) not in wanted and old != path:
            old.unlink(missing_ok=True)
            old.with_name(old.name + ".sha256").unlink(missing_ok=True)
    return path


def sizes(paths: list[Path]) -> list[tuple[int, int]]:
    """(step, bytes) of each checkpoint file that is still there."""
    out = []
    for p in paths:
        try:
            out.append((step_of(p), p.stat().st_size))
        except OSError:
            continue
    return out


def list_checkpoints(run_dir: Path) -> list[Path]:
    return RunDir(run_dir).checkpoint_files()


def load(path: Path, map_location="cpu") -> dict:
    """Verify the checksum, then load with ``weights_only=True``; GenlabError if anything is off."""
    import pickle
    import warnings

    try:
        data = path.read_bytes()
    except OSError as e:
        raise GenlabError(f"{path}: cannot read ({e.strerror})") from None
    sums = path.with_name(path.name + ".sha256")
    try:
        expected = sums.read_bytes()[:200].decode("ascii", errors="replace").strip()
    except FileNotFoundError:
        expected = None  # killed between writing the checkpoint and its sum: the rename made it whole
    except OSError as e:
        raise GenlabError(f"{sums}: cannot read ({e.strerror})") from None
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise GenlabError(f"{path}: checksum mismatch (truncated or corrupt)")
    try:
        with warnings.catch_warnings():  # (torch warns of a pickle protocol it may not read: the error says it all)
            warnings.simplefilter("ignore")
            ckpt = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:  # what weights_only refuses (code, objects) and garbage: torch's page of text, in a line
        raise GenlabError(f"{path}: not a genlab checkpoint (it holds more than tensors and plain data; "
                          "nothing in it was run)") from None
    except Exception as e:  # a torn zip archive raises RuntimeError: its first sentence says what
        first = (str(e).strip().splitlines() or [""])[0].split(". ")[0][:200]
        raise GenlabError(f"{path}: cannot load ({e.__class__.__name__}: {first})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GenlabError(f"{path}: not a genlab checkpoint (format {FORMAT})")
    return ckpt


def newest_good(run_dir: Path, map_location="cpu", on_bad=None) -> tuple[Path, dict] | None:
    """The newest checkpoint that verifies and loads; ``on_bad(path, error)`` hears of the others."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return path, load(path, map_location)
        except GenlabError as e:
            if on_bad:
                on_bad(path, str(e))
    return None


def config_of(ckpt: dict) -> RunConfig:
    """The configuration that produced a checkpoint's weights (any format genlab wrote)."""
    return RunConfig.from_json(ckpt["config"])[0]
