"""Every model genlab has, as it declares itself, torch-free: ``SPECS`` (name -> ModelSpec, in
the order `genlab models` lists them), :func:`spec`, and the hyperparameter checks
(:func:`hyperparameters`, :func:`checked`) that a command runs before anything is built.

`genlab models`, the cockpit and argument checks read this and never import torch; building a
model (genlab.models.build) imports its class, which takes its attributes from its spec.
"""

from __future__ import annotations

import math

from genlab.errors import UsageError
from genlab.models.specs import ModelSpec, gan, pixelcnn, vae

__all__ = ["ModelSpec", "SPECS", "spec", "hyperparameters", "checked", "OPTIONS"]

SPECS: dict[str, ModelSpec] = {s.name: s for s in (*gan.SPECS, *vae.SPECS, *pixelcnn.SPECS)}


def spec(name: str) -> ModelSpec:
    """The declaration of model ``name``; UsageError naming the models there are if none."""
    try:
        return SPECS[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; choose from {', '.join(SPECS)}") from None


def hyperparameters(name: str, hp: dict | None = None, preset: str | None = None, declared=None) -> dict:
    """Every hyperparameter of ``name``: its defaults, then the preset's, then ``hp``'s, each
    :func:`checked`. ``declared``: what declares its defaults, presets and limits (its spec, by
    default; genlab.models passes the class, so a model a test registers there is checked too)."""
    declared = declared or spec(name)
    unknown = set(hp or {}) - set(declared.defaults)
    if unknown:
        raise UsageError(
            f"model {name!r} has no hyperparameter {', '.join(sorted(unknown))}; "
            f"it has {', '.join(declared.defaults)}"
        )
    if preset is not None and preset not in declared.presets:
        have = f"it has {', '.join(declared.presets)}" if declared.presets else "it has none"
        raise UsageError(f"model {name!r} has no preset {preset!r}; {have}")
    merged = {**declared.defaults, **(declared.presets.get(preset, {}) if preset else {}), **(hp or {})}
    return {key: checked(name, key, value, declared) for key, value in merged.items()}


OPTIONS = {"batch_size": "batch size", "lr": "learning rate"}


def checked(model: str, key: str, value, declared):
    """``value`` as the type of the default (an integer stays an integer: 2.5 layers is an error)
    and within the hyperparameter's range (``declared.limits``, a ModelSpec's or a model class's;
    else: positive), or, for a word (a default that is a string), one of the words its limits
    list; UsageError if not."""
    default = declared.defaults[key]
    if isinstance(default, str):  # a word: one of those its limits list (e.g. a GAN's loss)
        choices = declared.limits.get(key, (default,))
        if value not in choices:
            raise UsageError(f"--hp {key} for {model} must be one of {', '.join(choices)}, got {value!r}")
        return value
    kind = "an integer" if isinstance(default, int) else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"--hp {key} must be {kind}, got {value!r}")
    if key in OPTIONS and not (math.isfinite(value) and value > 0):  # also given as --batch-size, --lr
        raise UsageError(f"{OPTIONS[key]} must be positive, got {value}")
    if isinstance(default, int):
        if isinstance(value, float) and not value.is_integer():
            raise UsageError(f"--hp {key} must be an integer, got {value!r}")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise UsageError(f"--hp {key} must be a finite number, got {value!r}")
    low, high, closed = declared.limits.get(key, (1 if isinstance(default, int) else 0.0, math.inf, isinstance(default, int)))
    if value < low or (value == low and not closed) or value >= high:
        low_word = f">= {low:g}" if closed else f"> {low:g}"
        range_text = low_word if high == math.inf else f"{low_word} and < {high:g}"
        raise UsageError(f"--hp {key} for {model} must be {range_text}, got {value:g}")
    return value
