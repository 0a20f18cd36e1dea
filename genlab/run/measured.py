"""What changes what a run's figures mean, read from its configuration: its settings (data,
length, cadences of measurement, versions) and, of those, what its held-out figures were
measured on.

Two runs whose figures were measured on different digits (another data source or location,
other counts, digits left out, another evaluation size, another number of digits a quality check
draws or scores) cannot be set side by side: ``genlab compare`` says so (genlab/run/compare.py)
and a list of runs ranks each run among those measured as it was (genlab/run/summary.py's
``rank``). No torch.
"""

from __future__ import annotations

# what changes what a run's figures mean besides its hyperparameters: how long it trained, how
# often it was measured, on what, and with which genlab and torch (in the order a table shows them)
SETTINGS = ("data", "data_location", "train_digits", "test_digits", "excluded", "epochs", "max_steps", "max_minutes",
            "total_steps", "eval_size", "quality_every_s", "quality_every_steps", "quality_samples", "quality_k", "processes",
            "genlab", "torch")
# of those, what makes the held-out figures measured on different digits: not comparable
MEASURED_ON = ("data", "data_location", "train_digits", "test_digits", "excluded", "eval_size", "quality_samples",
               "quality_k")


def settings(config: dict) -> dict:
    """The SETTINGS of a configuration (None where it does not say)."""
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    versions = config.get("versions") if isinstance(config.get("versions"), dict) else {}
    excluded = data.get("excluded") or config.get("exclude_digits") or None
    # (the bundled sample is the same digits wherever genlab is installed: its path says nothing)
    location = data.get("location") if data.get("source") != "bundled" else None
    out = {"data": data.get("source"), "data_location": location, "train_digits": data.get("train"),
           "test_digits": data.get("test"),
           "excluded": ",".join(map(str, excluded)) if isinstance(excluded, (list, tuple)) else excluded,
           "genlab": versions.get("genlab"), "torch": versions.get("torch")}
    return {k: out[k] if k in out else config.get(k) for k in SETTINGS}


def measured_on(config: dict) -> list:
    """What the run's held-out figures were measured on, a value per MEASURED_ON key (None where its
    configuration does not say): runs with equal lists measured theirs on the same digits."""
    these = settings(config)
    return [these[k] for k in MEASURED_ON]
