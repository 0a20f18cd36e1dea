"""A sweep's Optuna study: its storage, sampler and pruner, and the trials as genlab shows them.

The storage is Optuna's file journal in the sweep directory (``JournalFileBackend`` with its
default lock, which works on NFS), so workers on several machines that share the runs directory
join one study with no server; or, where the spec names one (``--storage URL``), a database or
Optuna's gRPC proxy in front of one (genlab/sweep/storage.py). Optuna does the searching:
``GridSampler`` for a grid (trial ``n`` is grid point ``n``), ``RandomSampler``, ``TPESampler``
(with a constant liar, so workers running at once do not all try one point), and ``MedianPruner``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from genlab.errors import UsageError
from genlab.run.files import atomic_write_json
from genlab.run.rundir import SweepDir
from genlab.run.sweeps import SweepSpec, read_spec

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

STATES = {TrialState.RUNNING: "running", TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned",
          TrialState.FAIL: "fail", TrialState.WAITING: "waiting"}


def storage(sweep_dir: Path, spec: SweepSpec | None = None, outage=None) -> optuna.storages.BaseStorage:
    """The study's storage: the journal in the sweep directory, or the spec's database or proxy;
    with ``outage`` (a worker's: see genlab.sweep.storage.Retrying) calls wait out an outage."""
    url = (spec or read_spec(sweep_dir)).storage
    if not url:
        return JournalStorage(JournalFileBackend(str(SweepDir(sweep_dir).study)))
    from genlab.sweep import storage as remote

    try:
        inner = remote.open_storage(url)
    except Exception as e:
        raise UsageError(f"sweep {sweep_dir.name}: cannot reach its study at {url}: {remote.reason(e)}") from None
    return remote.Retrying(inner, url, outage) if outage else inner


def over_grpc(spec: SweepSpec) -> bool:
    """The study is reached through Optuna's gRPC proxy (``--storage grpc://``)."""
    return bool(spec.storage) and spec.storage.lower().startswith("grpc:")


def where(spec: SweepSpec) -> str:
    """Where the study is, in an error message: its journal file, or its storage URL."""
    return f"study at {spec.storage}" if spec.storage else SweepDir.STUDY


def create(sweep_dir: Path, spec: SweepSpec) -> optuna.Study:
    return optuna.create_study(storage=storage(sweep_dir, spec), study_name=spec.sweep_id, direction=spec.direction)


def sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    if spec.search == "grid":
        return optuna.samplers.GridSampler(spec.search_space(), seed=0)
    if spec.search == "random":
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler(n_startup_trials=max(2, min(10, spec.trials // 3)), constant_liar=True)


def pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    if not spec.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=spec.prune_startup, n_warmup_steps=0)


def load(sweep_dir: Path, spec: SweepSpec, for_search: bool = True, store=None) -> optuna.Study:
    """The sweep's study (in ``store``, else its storage); UsageError (one line) when its journal
    cannot be read, as a broken run's files are reported: garbage in it (Optuna's
    JSONDecodeError) or no study (an empty journal, or a database without it: Optuna's
    KeyError), rather than Optuna's traceback."""
    search = {"sampler": sampler(spec), "pruner": pruner(spec)} if for_search else {}
    try:
        return optuna.load_study(study_name=spec.sweep_id, storage=store if store is not None else storage(sweep_dir, spec), **search)
    except KeyError:
        raise UsageError(f"sweep {sweep_dir.name} is unreadable: its {where(spec)} holds no study {spec.sweep_id!r}") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError: lines that are not Optuna's
        raise UsageError(f"sweep {sweep_dir.name} is unreadable: its {SweepDir.STUDY} is not an Optuna journal ({e})") from None
    except Exception as e:  # a database or proxy that went away
        from genlab.sweep import storage as remote

        if not (spec.storage and remote.is_outage(e)):
            raise
        raise UsageError(f"sweep {sweep_dir.name}: cannot reach its study at {spec.storage}: {remote.reason(e)}") from None


def suggest(trial: optuna.Trial, spec: SweepSpec) -> dict:
    """The trial's parameters, asked of Optuna: grid keys (and a grid's seeds) as categorical
    choices, ranges as floats or ints (log-scaled when asked)."""
    for key, values in spec.search_space().items():
        trial.suggest_categorical(key, values)
    for key, r in spec.ranges.items():
        if r.integer:
            trial.suggest_int(key, int(r.low), int(r.high), log=r.log)
        else:
            trial.suggest_float(key, r.low, r.high, log=r.log)
    return dict(trial.params)


def trials(study: optuna.Study) -> list[dict]:
    """Every trial as genlab shows it: number, run id, params, state, value, pruned step, why.
    A trial run once per seed (genlab/sweep/worker.py) has its runs' ids (``run_ids``), each
    finished seed's objective (``seeds``: seed to value; its ``value`` is their mean) and their
    ``spread`` (genlab.run.seed_groups.Spread: n, mean, std, min, max; None for fewer than two)."""
    from genlab.run.seed_groups import Spread

    out = []
    for t in study.get_trials(deepcopy=False):
        seeds = t.user_attrs.get("seeds") or None
        spread = Spread.of(seeds.values()) if seeds and len(seeds) > 1 else None
        run_ids = t.user_attrs.get("run_ids")
        out.append({
            "number": t.number, "run_id": t.user_attrs.get("run_id"), "params": dict(t.params),
            "run_ids": list(run_ids.values()) if isinstance(run_ids, dict) else None,
            "seeds": seeds, "spread": spread.to_json() if spread else None,
            "state": STATES.get(t.state, t.state.name.lower()), "value": t.value,
            "steps": max(t.intermediate_values) if t.intermediate_values else None,
            "reason": t.user_attrs.get("reason"), "worker": t.user_attrs.get("worker"),
            "started": t.datetime_start.timestamp() if t.datetime_start else None,
            "finished": t.datetime_complete.timestamp() if t.datetime_complete else None,
        })
    return out


def snapshot(sweep_dir: Path, study: optuna.Study) -> list[dict]:
    """Write trials.json (for readers without Optuna: the cockpit, ``genlab runs``), with the
    parameters' importance (genlab/sweep/importance.py)."""
    import time

    from genlab.sweep.importance import importance

    rows = trials(study)
    atomic_write_json(SweepDir(sweep_dir).trials, {"trials": rows, "importance": importance(study), "t": time.time()},
                      durable=False)
    return rows
