"""The health rules a model declares beside its view (``View.health``): plain data, written into
view.json and read back, so a torch-free reader judges a run by the rules it was recorded with.

A :class:`Rule` names a way training goes wrong, in the tutorial's terms, says when it fires (a
:class:`Cond`), which figures show it (its evidence) and what to try (its cures, genlab commands).
A condition is one of a small vocabulary, on one metric. Where a metric is a **training** metric
(one row a step) its window ``over`` counts steps; where it is a **held-out** one (the figures of
each evaluation or quality check: ``test_fld``, ``max_class_share``...) it counts checks:

- ``below`` / ``above``: the metric is below (above) ``value``: a training metric's mean over
  the last ``over`` steps; a held-out metric at each of its last ``over`` checks;
- ``rising``: a held-out metric is more than ``value`` (a fraction: 0.02 is 2 %) above its lowest
  of the last ``over`` + 1 checks, which was not the newest; with ``against``, only while that
  training metric's mean (over the 200 steps before each check) fell since that lowest check
  (the held-out loss rising while the training loss falls: overfitting);
- ``falling``: the opposite: more than ``value`` below its highest of the last ``over`` + 1 checks;
- ``flat``: a held-out metric's last ``over`` + 1 checks lie within ``value`` (a fraction) of
  their mean;
- ``spike``: a training metric's highest value since the last judgement is more than ``value``
  times its median over the ``over`` steps before, and above that median by more than ``value`` times
  their interquartile range (a loss near 0 with wide batches is not spiking), or infinite (a loss
  spike; a gradient norm exploding);
- ``swings``: a training metric's means over the tenths of its last ``over`` steps span more than
  ``value`` and turn (go up, then down, or down then up) at least twice, each move a quarter of that
  span or more: the losses swinging (a loss settling with noise turns only by small moves);
- ``all`` / ``any``: every one / at least one of the conditions ``of``.

A condition on a metric the run has not recorded (a run made before the metric existed) does not
hold, so the rule is not raised. Cures may name ``{run}``, ``{model}``, ``{lr}``, ``{lr_half}`` and
``{lr_tenth}`` (the run's id, model, learning rate, half and a tenth of it); they are filled in for the run judged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("ok", "young", "warn", "bad")  # worst last


@dataclass(frozen=True)
class Cond:
    kind: str  # below, above, rising, falling, flat, spike, swings, all, any
    metric: str = ""
    value: float = 0.0  # the threshold, fraction or factor the kind says
    over: int = 1  # the window: steps of a training metric, checks of a held-out one
    against: str = ""  # rising: the training metric that must fall meanwhile
    of: tuple[Cond, ...] = ()  # all, any: the conditions combined

    def text(self, held_out=lambda metric: metric.startswith("test_")) -> str:
        """For a person: 'grad_norm_G below 0.001 over 200 steps', 'test_fld above 300 at 2
        checks'; ``held_out(metric)`` tells a held-out metric (its window counts checks)."""
        if self.kind in ("all", "any"):
            return f" {'and' if self.kind == 'all' else 'or'} ".join(
                f"({c.text(held_out)})" if c.of else c.text(held_out) for c in self.of)
        if held_out(self.metric):
            over = f"at each of its last {self.over:,} checks" if self.over > 1 else "at its last check"
        else:
            over = f"over {self.over:,} steps" if self.over > 1 else "at its last step"
        return {
            "below": f"{self.metric} below {self.value:g} {over}",
            "above": f"{self.metric} above {self.value:g} {over}",
            "rising": f"{self.metric} {100 * self.value:g}% above its lowest of the last {self.over + 1} checks"
                      + (f" while {self.against} falls" if self.against else ""),
            "falling": f"{self.metric} {100 * self.value:g}% below its highest of the last {self.over + 1} checks",
            "flat": f"{self.metric} within {100 * self.value:g}% over the last {self.over + 1} checks",
            "spike": f"{self.metric} above {self.value:g}x its median of the {self.over:,} steps before",
            "swings": f"{self.metric} swinging by more than {self.value:g} over the last {self.over:,} steps",
        }.get(self.kind, self.kind)

    @classmethod
    def from_json(cls, raw: dict) -> Cond:
        return cls(str(raw["kind"]), str(raw.get("metric", "")), float(raw.get("value", 0.0)), int(raw.get("over", 1)),
                   str(raw.get("against", "")), tuple(cls.from_json(c) for c in raw.get("of", ())))


def below(metric: str, value: float, over: int = 1) -> Cond:
    return Cond("below", metric, value, over)


def above(metric: str, value: float, over: int = 1) -> Cond:
    return Cond("above", metric, value, over)


def rising(metric: str, by: float, checks: int, against: str = "") -> Cond:
    return Cond("rising", metric, by, checks, against)


def falling(metric: str, by: float, checks: int) -> Cond:
    return Cond("falling", metric, by, checks)


def flat(metric: str, within: float, checks: int) -> Cond:
    return Cond("flat", metric, within, checks)


def spike(metric: str, factor: float, steps: int) -> Cond:
    return Cond("spike", metric, factor, steps)


def swings(metric: str, span: float, steps: int) -> Cond:
    return Cond("swings", metric, span, steps)


def all_of(*conds: Cond) -> Cond:
    return Cond("all", of=conds)


def any_of(*conds: Cond) -> Cond:
    return Cond("any", of=conds)


@dataclass(frozen=True)
class Rule:
    name: str  # "d-wins", "mode-collapse": the verdict's name
    title: str  # short, for a status line: "D winning"
    severity: str  # "warn" or "bad"
    explains: str  # one line in the tutorial's terms
    when: Cond
    evidence: tuple[str, ...] = ()  # the metrics shown beside the verdict, as the view formats them
    cures: tuple[str, ...] = ()  # genlab commands; {run}, {model}, {lr}, {lr_half}, {lr_tenth} are filled in
    any_age: bool = False  # judged even before the run is old enough for the other rules (an explosion)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> Rule:
        return cls(str(raw["name"]), str(raw["title"]), str(raw["severity"]), str(raw.get("explains", "")),
                   Cond.from_json(raw["when"]), tuple(str(e) for e in raw.get("evidence", ())),
                   tuple(str(c) for c in raw.get("cures", ())), bool(raw.get("any_age", False)))


# --------------------------------------------------------------------------- rules every model has


def loss_spikes(*losses: str, factor: float, steps: int = 500) -> Rule:
    """A loss jumping above ``factor`` times its recent median: a bad batch or a learning rate at
    the edge of diverging."""
    return Rule("loss-spike", "loss spike", "warn",
                f"a loss jumped above {factor:g}x its median of the {steps:,} steps before: the learning rate "
                "is at the edge of what the model can take",
                any_of(*(spike(m, factor, steps) for m in losses)), losses, ("genlab resume {run} --lr {lr_half}",))


def gradient_explosion(*norms: str, factor: float = 10.0, steps: int = 500) -> Rule:
    """A network's gradient norm above ``factor`` times its recent median (or infinite)."""
    return Rule("exploding-gradients", "gradients exploding", "bad",
                f"a gradient norm rose above {factor:g}x its median of the {steps:,} steps before (or is "
                "infinite): the updates are too large and training is diverging",
                any_of(*(spike(m, factor, steps) for m in norms)), norms,
                ("genlab resume {run} --lr {lr_tenth}",), any_age=True)


def rules_from_json(raw) -> tuple[Rule, ...]:
    """The rules of a view.json's "health", skipping any this genlab cannot read (a newer one's):
    a bad rule never costs a run its whole view."""
    rules = []
    for r in raw if isinstance(raw, list) else ():
        try:
            rules.append(Rule.from_json(r))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return tuple(rules)
