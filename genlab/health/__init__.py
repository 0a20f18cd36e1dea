"""Training health: a verdict on a run, in the tutorial's terms (mode collapse, a discriminator
that wins, posterior collapse, overfitting...), from the metrics it recorded.

A model declares its rules beside its code, in its View (``View.health``); the rules are judged
where the events are read (genlab.run.follow.RunFollower), so the cockpit, ``genlab show``,
``genlab runs`` and comparisons agree, and runs recorded before verdicts existed are judged too.
Torch-free, like every reader.
"""

from genlab.health.verdict import Verdict

__all__ = ["Verdict"]
