"""The runs root as ``genlab runs`` and the cockpit's runs screen list it: each sweep (its one-line
summary) with its trials' runs, apart from the runs of no sweep. No torch, no Optuna."""

from __future__ import annotations

from pathlib import Path

from genlab.errors import GenlabError
from genlab.sweep.spec import summary, sweep_dirs


def sweep_groups(root: Path, infos: list) -> dict:
    """Each sweep in ``root`` (id to its summary and its trials' runs among ``infos``)."""
    groups = {}
    for d in sweep_dirs(root):
        try:
            groups[d.name] = (summary(d), [r for r in infos if r.config.get("sweep") == d.name])
        except GenlabError:
            continue  # an unreadable sweep: its trials are listed as plain runs
    return groups


def ungrouped(infos: list, groups: dict) -> list:
    """The runs of ``infos`` that no sweep of ``groups`` lists."""
    return [r for r in infos if r.config.get("sweep") not in groups]
