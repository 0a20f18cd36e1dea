"""Small checks on user input, free of torch so the control commands start fast."""

from __future__ import annotations

import math

from genlab.errors import UsageError

# Seeds are 0 to 2**32 - 1 (NumPy's range too). torch takes up to 2**64 - 1, but genlab derives
# seeds from the run's (the data order of epoch e is seeded with seed * 100_003 + e), and those
# must stay within torch's range as well.
MAX_SEED = 2**32 - 1


def positive(name: str, value, kind=float):
    """``value`` as ``kind`` if it is a positive finite number; UsageError otherwise (None passes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a positive number, got {value!r}")
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise UsageError(f"{name} must be a whole number, got {value}")
    if isinstance(value, float) and not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name} must be positive, got {value}")
    return kind(value)


def check_seed(name: str, value) -> int | None:
    """``value`` as a seed: a whole number from 0 to MAX_SEED; UsageError otherwise (None passes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise UsageError(f"{name} must be a whole number from 0 to {MAX_SEED:,}, got {value!r}")
    return value


def new_total(steps_per_epoch: int, epochs: int | None, max_steps: int | None) -> int | None:
    """A run's new length from ``--epochs`` / ``--max-steps`` (the smaller), or None if neither."""
    if epochs is None and max_steps is None:
        return None
    totals = []
    if epochs is not None:
        totals.append(positive("epochs", epochs, int) * steps_per_epoch)
    if max_steps is not None:
        totals.append(positive("max steps", max_steps, int))
    return min(totals)
