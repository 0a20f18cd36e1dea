"""Which of a sweep's parameters mattered: Optuna's own PED-ANOVA evaluator over its complete trials.

PED-ANOVA (``optuna.importance.PedAnovaImportanceEvaluator``, Optuna's default) needs only
numpy; fANOVA would need scikit-learn, which genlab does not install. It measures how much each
parameter's distribution among the best trials (the top 10 %, Optuna's default; at least the best
two, so a small sweep is not judged on a single trial) differs from its distribution over all
the complete trials; the figures are normalised to sum to 1.

The answer is plain data, written into trials.json by :func:`genlab.sweep.study.snapshot` so
that readers without Optuna (the cockpit, genlab/run/sweep_report.py) show it as it is:
``{"evaluator", "trials", "params": {name: importance} (most important first), "says"}``;
``says`` is the one line shown instead of figures when there are none to give.
"""

from __future__ import annotations

import warnings

import optuna
from optuna.importance import PedAnovaImportanceEvaluator
from optuna.trial import TrialState

EVALUATOR = "PED-ANOVA"
MIN_TRIALS = 5  # complete trials below this: too few to say which of several parameters mattered
TARGET_QUANTILE = 0.1  # Optuna's default: the importance of reaching the best 10 %

_kept: dict = {}  # (study name, complete trials' numbers) -> the answer: computed once per new result


def importance(study: optuna.Study) -> dict:
    """The importance of each parameter that varies over the study's complete trials."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    key = (study.study_name, tuple(t.number for t in complete))
    if key not in _kept:
        _kept.clear()  # one study at a time is enough: a worker or a command reads one
        try:
            _kept[key] = _importance(study, complete)
        except Exception as e:  # (a worker writes this into trials.json: whatever Optuna says, it goes on)
            _kept[key] = {"evaluator": EVALUATOR, "trials": len(complete), "params": {},
                          "says": f"could not be computed: {type(e).__name__}: {e}"}
    return _kept[key]


def _importance(study: optuna.Study, complete: list) -> dict:
    n = len(complete)
    said = {"evaluator": EVALUATOR, "trials": n, "params": {}}
    varying = sorted({k for t in complete for k in t.params
                      if len({repr(u.params.get(k)) for u in complete}) > 1})
    too_few = {**said, "says": f"too few complete trials to weigh the parameters ({n}; {MIN_TRIALS} needed)"}
    if n < 2:
        return too_few
    if not varying:
        return {**said, "says": "no parameter varies over the complete trials"}
    if len(varying) == 1:
        return {**said, "params": {varying[0]: 1.0},
                "says": f"only one parameter varies ({varying[0]}): whatever differs between trials is its"}
    if n < MIN_TRIALS:
        return too_few
    quantile = min(0.5, max(TARGET_QUANTILE, 2 / n))  # the best two at least
    with warnings.catch_warnings():  # Optuna warns of small regimes: the trial count is given instead
        warnings.simplefilter("ignore")
        figures = optuna.importance.get_param_importances(
            study, evaluator=PedAnovaImportanceEvaluator(target_quantile=quantile), params=varying, normalize=False)
    total = sum(figures.values())
    if not total > 0:
        return {**said, "params": {k: 0.0 for k in varying},
                "says": "no parameter tells the best trials from the others"}
    return {**said, "params": {k: float(v) / total for k, v in sorted(figures.items(), key=lambda kv: -kv[1])}}
