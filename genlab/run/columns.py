"""The columns of a runs table (`genlab runs`, the cockpit's runs screen) and how they give way
when a terminal is too narrow for all of them.

The run's id, its state, its progress and its key metric never give way: they say whether a run
is alive and moving. The others give way in :data:`GIVES_WAY`'s order (`genlab runs` drops them;
the cockpit moves them to the right, where the table scrolls sideways to them); the health
verdict's symbol stays beside the state when its column gives way. A sweep's list of models
("gan,dcgan,wgan-gp,cgan") narrows to a count first (:func:`models_text`).
"""

from __future__ import annotations

# the first gives way first; the quality figure ranks, so it stays longest (the health verdict's
# symbol stays beside the state)
GIVES_WAY = ("tags", "age", "model", "health", "quality")


def narrow_order(columns) -> list[str]:
    """``columns`` with those that give way moved to the end, the last to give way first."""
    return [c for c in columns if c not in GIVES_WAY] + [c for c in reversed(GIVES_WAY) if c in columns]


def models_text(model: str, narrow: bool) -> str:
    """A run's model, or a sweep's models ("gan,cgan,vae"), as "3 models" when ``narrow``."""
    models = [m for m in str(model or "").split(",") if m]
    return f"{len(models)} models" if narrow and len(models) > 1 else str(model or "")
