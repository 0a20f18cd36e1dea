"""A sweep's spec from the command line, validated before anything is written.

Every key a grid or a range names must be one the model takes (``lr``, ``batch_size``,
``seed``, ``model``, or one of its hyperparameters); every grid point, and both ends of every
range, must make a valid run configuration (types and ranges checked as ``genlab train``
checks them); the objective must be a metric the model declares, and one that is better low or
high. Bad input is one UsageError (one line, exit 2) and no sweep directory.
"""

from __future__ import annotations

import time

from genlab import models
from genlab.errors import UsageError
from genlab.run.sweeps import SweepSpec
from genlab.sweep.lesson import Lesson
from genlab.sweep.spec import SEARCHES, TRAINING_KEYS, max_trials, run_options

DEFAULT_TRIALS = 10  # a random or TPE search's trials when --trials is not given
DEFAULT_PRUNE_EVERY = 500  # steps between the quality checks a pruned sweep's trials compare

# The tutorial's lesson in one command: the seed's GAN, and three cures for its mode collapse.
# "lesson": what the recipe shows and how its end says it (genlab/sweep/lesson.py)
RECIPES = {
    "cures": {"grid": {"model": ["gan", "dcgan", "wgan-gp", "cgan"]}, "preset": "cpu",
              "means": "the seed's MLP GAN against three cures for mode collapse (DCGAN, WGAN-GP, conditional GAN), "
                       "the same training time each",
              "lesson": Lesson(compares="model", baseline="gan", figure="test_fld", others="the cures", coverage=True,
                               names={"gan": "the seed's MLP GAN", "dcgan": "DCGAN", "wgan-gp": "WGAN-GP",
                                      "cgan": "cGAN"})},
}


def lesson_of(recipe: str | None, runs: list) -> str:
    """The end of a recipe's sweep: ``lesson: ...`` (genlab/sweep/lesson.py), or "" for a sweep
    that is no recipe or whose recipe declares none. ``runs``: its trials' summaries."""
    from genlab.sweep.lesson import told

    lesson = RECIPES.get(recipe or "", {}).get("lesson")
    if lesson is None:
        return ""
    return "lesson: " + told(lesson, runs, RECIPES[recipe]["grid"].get(lesson.compares)).text


def build(model: str | None, *, sweep_id: str, grid: dict, ranges: dict, seeds: tuple, search: str | None,
          trials: int | None, objective: str | None, prune: bool, prune_every: int | None, prune_startup: int,
          parallel: int, run: dict, yes: bool = False, recipe: str | None = None) -> SweepSpec:
    if parallel < 1:
        raise UsageError(f"--parallel must be at least 1, got {parallel}")
    names = model_names(model, grid)
    search = search or ("tpe" if ranges else "grid")
    if search not in SEARCHES:
        raise UsageError(f"unknown --search {search!r}; choose from {', '.join(SEARCHES)}")
    if search == "grid" and ranges:
        raise UsageError("a --range is searched, not gridded: add --search random or --search tpe")
    if prune and len(seeds) > 1:
        raise UsageError(f"--prune judges one run's quality checks; with --seeds {','.join(map(str, seeds))} a trial is "
                         f"{len(seeds)} runs: give one seed, or leave out --prune")
    if "seed" in grid or "seed" in ranges:
        raise UsageError("give seeds with --seeds, not as a grid or range key")
    for key in [*grid, *ranges]:
        check_key(key, names)
    if "model" in ranges:
        raise UsageError("models are a grid (--grid model=gan,dcgan), not a range")
    if search == "grid":
        if trials is not None:
            raise UsageError("--trials is for random and TPE searches: a grid runs every point once")
        points = 1
        for values in grid.values():
            points *= len(values)
        trials = points
    elif trials is None:
        trials = DEFAULT_TRIALS
    if trials < 1:
        raise UsageError(f"--trials must be at least 1, got {trials}")
    runs = trials * len(seeds)  # a trial runs once per seed
    if runs > max_trials() and not yes:
        each = f" of {len(seeds)} seeds each ({runs} runs)" if len(seeds) > 1 else ""
        raise UsageError(f"this sweep has {trials} trials{each}, more than the limit of {max_trials()} "
                         "(GENLAB_SWEEP_MAX_TRIALS); add --yes to run it")
    objective, direction = check_objective(objective, names)
    prune_every = prune_every if prune_every is not None else DEFAULT_PRUNE_EVERY
    if prune and prune_every < 1:
        raise UsageError(f"--prune-every must be at least 1 step, got {prune_every}")
    if prune_startup < 0:
        raise UsageError(f"--prune-startup must be 0 or more, got {prune_startup}")
    run = dict(run)
    if prune:
        run["quality_every_steps"] = prune_every  # every trial checks its quality at the same steps
    spec = SweepSpec(sweep_id=sweep_id, model=model and models.get(model).name, grid=grid, ranges=ranges,
                     seeds=tuple(seeds), search=search, trials=trials, objective=objective, direction=direction,
                     prune=prune, prune_every=prune_every if prune else 0, prune_startup=prune_startup,
                     parallel=parallel, run=run, recipe=recipe, created=time.time(), seeds_per_trial=True)
    check_configs(spec)
    return spec


def model_names(model: str | None, grid: dict) -> list[str]:
    if model is not None and "model" in grid:
        raise UsageError(f"give the model once: {model!r} and --grid model=... both name one")
    if model is None and "model" not in grid:
        raise UsageError("which model? give MODEL (e.g. genlab sweep dcgan) or --grid model=gan,dcgan")
    names = [model] if model is not None else [str(m) for m in grid["model"]]
    return [models.get(n).name for n in names]  # an unknown model is one line


def check_key(key: str, names: list[str]) -> None:
    for name in names:
        cls = models.get(name)
        if key not in TRAINING_KEYS and key not in cls.defaults:
            have = ", ".join([*TRAINING_KEYS[1:], *(k for k in cls.defaults if k not in TRAINING_KEYS)])
            raise UsageError(f"unknown key {key!r} for {name}; a sweep can vary {have}")


def check_objective(objective: str | None, names: list[str]) -> tuple[str, str]:
    views = [models.get(n).view for n in names]
    objective = objective or views[0].quality or views[0].key
    directions = set()
    for name, view in zip(names, views):
        metric = view.metric(objective)
        if metric is None:
            have = ", ".join(m.name for m in view.metrics if m.lower_is_better is not None)
            raise UsageError(f"{name} does not report {objective!r}; objectives it reports: {have}")
        if metric.lower_is_better is None:
            raise UsageError(f"{objective!r} is a diagnostic, neither better low nor high: it cannot be an objective")
        directions.add("minimize" if metric.lower_is_better else "maximize")
    return objective, directions.pop()


def check_configs(spec: SweepSpec) -> None:
    """Every trial the sweep can make must be a run ``genlab train`` would start: each grid point,
    and a range's ends, checked by train.prepare itself (the numbers, the device, whether the model
    fits in its memory, the batch size against the data set), on one load of the data."""
    from genlab.core.data import load_digits
    from genlab.train.execute import prepare

    points = spec.grid_points() or [{}]
    ends = [{}]
    for key, r in spec.ranges.items():
        cast = int if r.integer else float
        ends = [{**e, key: cast(v)} for e in ends for v in (r.low, r.high)]
    digits = None
    seen = 0
    for point in points:
        for end in ends:
            options = run_options(spec, {**point, **end})
            model, data_dir = options.pop("model"), options.pop("data_dir", None)
            if digits is None:
                digits = load_digits(data_dir)  # on the CPU: only their count is checked
            prepare(model, data_dir=data_dir, digits=digits, **options)
            seen += 1
            if seen >= 4096:  # a huge grid: its keys and values were checked once each already
                return
