"""A recipe's lesson: what its trials measured, in words, or why it cannot tell.

A recipe (genlab/sweep/plan.py ``RECIPES``) exists to show one thing; ``genlab sweep --recipe
cures`` shows that DCGAN, a gradient penalty and conditioning on the label cure the seed's GAN of
mode collapse. Its :class:`Lesson` declares what its trials are told apart by (a configuration
key: ``model``), which of them is the baseline the others are measured against, what each is
called, and the quality figure compared. :func:`told` reads the trials' summaries
(genlab/run/summary.py) and says, e.g.:

    the seed's MLP GAN covered 4 of 10 digits (FLD 310.2); DCGAN 10 (FLD 95.1), WGAN-GP 9 (FLD
    120.4), cGAN 10 (FLD 88.0): the cures lowered FLD by 2.6× to 3.5× and covered every digit

or why it cannot tell: a trial failed or has no figure, the comparison is not fair
(genlab.run.compare.comparability: trials too short, an overloaded machine, different data), or
the figures are too close to call. Nothing here knows a model family: a recipe declares its
lesson's data. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from genlab.run.compare import comparability, described
from genlab.run.summary import Summary

CLEAR = 1.15  # a figure must differ from the baseline's by this factor to count: closer is too close to call
COVERED = 0.02  # a digit is covered when at least this share of generated digits is judged to be it (even: 10%)
SURE = 0.5  # the class histogram says which digits are covered only where the judge is sure of this share


@dataclass(frozen=True)
class Lesson:
    compares: str  # the configuration key the trials differ by (genlab.run.compare.described's names)
    baseline: str  # its value in the trial the others are measured against
    names: dict = field(default_factory=dict)  # a value -> how the lesson calls it
    figure: str = ""  # the quality figure compared (lower is better)
    others: str = "the others"  # what the lesson calls the trials that are not the baseline ("the cures")
    coverage: bool = False  # count the digits each trial's generated digits cover (its class histogram)


@dataclass(frozen=True)
class Told:
    text: str
    sure: bool  # False: the text says why the lesson cannot be told


def told(lesson: Lesson, runs: list[Summary], expected: list | None = None) -> Told:
    """The lesson of these trials' newest figures. ``expected``: the values of ``lesson.compares``
    the recipe ran (a value with no trial is a trial that never started)."""
    def value(s: Summary):
        return described(s.config).get(lesson.compares)

    def name(v) -> str:
        return str(lesson.names.get(v, v))

    by = {value(s): s for s in runs}
    if expected:  # (in the recipe's order, not the ranking's)
        by = {v: by[v] for v in sorted(by, key=lambda v: expected.index(v) if v in expected else len(expected))}
    missing = [v for v in expected or [] if v not in by]
    failed = [v for v, s in by.items() if s.state in ("failed", "crashed")]
    if missing or failed:
        parts = [f"{name(v)} never ran" for v in missing] + [f"{name(v)} {by[v].state}" for v in failed]
        return Told(f"cannot tell: {', '.join(parts)}", False)
    if lesson.baseline not in by:
        return Told(f"cannot tell: no trial of {name(lesson.baseline)}, the baseline", False)
    unfair = comparability(runs, {s.run_id: name(value(s)) for s in runs})
    if unfair:
        return Told("cannot tell: " + "; ".join(unfair), False)
    figures = {v: _figure(s, lesson.figure) for v, s in by.items()}
    lacking = [v for v, f in figures.items() if f is None]
    if lacking:
        return Told(f"cannot tell: no {lesson.figure} yet from {', '.join(map(name, lacking))}", False)
    base = figures[lesson.baseline]
    label = _label(runs, lesson.figure)
    measured = "; ".join([_measured(lesson, name(lesson.baseline), by[lesson.baseline], base, label, True),
                          ", ".join(_measured(lesson, name(v), by[v], f, label, False)
                                    for v, f in figures.items() if v != lesson.baseline)])
    ratios = {v: base / f if f > 0 else float("inf") for v, f in figures.items() if v != lesson.baseline}
    better = [v for v, r in ratios.items() if r >= CLEAR]
    worse = [v for v, r in ratios.items() if r <= 1 / CLEAR]
    if not better and not worse:
        return Told(f"{measured}: cannot tell, the figures are too close to call ({label} within "
                    f"{CLEAR:.2f}× of each other)", False)
    if len(better) == len(ratios):
        low, high = min(ratios.values()), max(ratios.values())
        by_how = f"{low:.1f}×" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}× to {high:.1f}×"
        verdict = f"{lesson.others} lowered {label} by {by_how}{_covering(lesson, by)}"
    elif not better:
        verdict = f"none of {lesson.others} lowered {label} in this time"
    else:
        verdict = (f"{_and([name(v) for v in better])} lowered {label} (by up to {max(ratios[v] for v in better):.1f}×); "
                   f"{_and([name(v) for v in ratios if v not in better])} did not")
    return Told(f"{measured}: {verdict}", True)


def _figure(s: Summary, name: str) -> float | None:
    """A trial's newest value of figure ``name``: its quality figure's, or its newest check's."""
    if s.figure == name and s.figure_latest is not None:
        return s.figure_latest
    v = s.quality.get(name, s.held_out.get(name))
    return float(v) if isinstance(v, (int, float)) else None


def _label(runs: list[Summary], figure: str) -> str:
    """The figure's short name (``FLD``) as its metric declares it, else its name."""
    metric = next((s.view.metric(figure) for s in runs if s.view.metric(figure)), None)
    return (metric.label or metric.name) if metric else figure


def _digits(s: Summary) -> int | None:
    """How many digits the trial's generated digits cover, where the judge was sure enough to say."""
    sure = s.quality.get("test_confident")
    if not s.class_hist or (isinstance(sure, (int, float)) and sure < SURE):
        return None
    return sum(share >= COVERED for share in s.class_hist)


def _measured(lesson: Lesson, name: str, s: Summary, figure: float, label: str, first: bool) -> str:
    """``the seed's MLP GAN covered 4 of 10 digits (FLD 310.2)``; the others ``DCGAN 10 (FLD 95.1)``."""
    shown = s.formatted(lesson.figure, figure)
    if not lesson.coverage:
        return f"{name} reached {label} {shown}" if first else f"{name} {shown}"
    digits, total = _digits(s), len(s.class_hist or ()) or 10
    if digits is None:
        covered = "covered digits the judge could not tell apart" if first else "? (the judge unsure)"
    else:
        covered = f"covered {digits} of {total} digits" if first else str(digits)
    return f"{name} {covered} ({label} {shown})"


def _covering(lesson: Lesson, by: dict) -> str:
    """`` and covered every digit`` (or how many, against the baseline's), when the lesson counts
    them and the judge could count them in every trial."""
    if not lesson.coverage:
        return ""
    digits = {v: _digits(s) for v, s in by.items()}
    base = digits.pop(lesson.baseline)
    known = list(digits.values())
    if base is None or not known or None in known:
        return ""
    total = len(by[lesson.baseline].class_hist or ()) or 10
    if min(known) == total and base < total:
        return " and covered every digit"
    if min(known) > base:
        return f" and covered more digits ({min(known)} to {max(known)} against {base})"
    return ""


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
