"""Training health: a verdict on a run, in the tutorial's terms (mode collapse, a discriminator
that wins, posterior collapse, overfitting...), from the metrics it recorded.

A model declares its rules beside its code, in its View (``View.health``; genlab/health/rules.py
says what a rule can say); the rules are judged where the events are read
(genlab.run.follow.RunFollower, with a genlab/health/judge.py ``Judge``), so the cockpit,
``genlab show``, ``genlab runs`` and comparisons agree, and runs recorded before verdicts existed
are judged too. :func:`judge_run` and :func:`history` read a run through that same follower.
Torch-free, like every reader.
"""

from pathlib import Path

from genlab.health.verdict import Verdict

__all__ = ["Verdict", "judge_run", "history", "judged"]


def _followed(run_dir: Path, known=None):
    from genlab.run.follow import RunFollower

    follower = RunFollower(Path(run_dir), known=known, keep_events=1_000_000)  # every event: the whole history
    follower.poll()
    return follower


def judge_run(run_dir: Path, known=None) -> Verdict | None:
    """The run's verdict now (None for a run with no rules to judge it by). ``known``: as
    genlab.view.read's, the rules of its model for a run whose view.json declares none."""
    return _followed(run_dir, known).view.health


def history(run_dir: Path, known=None) -> list[dict]:
    """The run's ``health`` events, oldest first: when each verdict started and ended."""
    return [e for e in _followed(run_dir, known).view.events if e.get("kind") == "health"]


def judged(run_dir: Path, known=None) -> tuple[Verdict | None, list[dict]]:
    """Both at once: the verdict now and the health events over the run (one read of it)."""
    view = _followed(run_dir, known).view
    return view.health, [e for e in view.events if e.get("kind") == "health"]
