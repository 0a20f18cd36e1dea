"""``genlab sweep``: many runs from one command (genlab/sweep.py), and the sweep's subcommands.

``genlab sweep MODEL ...`` is ``genlab sweep start MODEL ...``: the group sends whatever is not
one of its subcommands to ``start``. Pausing, resuming and stopping a sweep are the top-level
``pause``, ``resume`` and ``stop`` given a sweep id (they call :func:`control`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from genlab.cli.app import AsJson, DataDir, HelpInParagraphs, RunsDir, out
from genlab.cli.runs import print_comparison
from genlab.cli.train import Notify, NotifyWhen
from genlab.config import Cadence, default
from genlab.errors import GenlabError, UsageError


class SweepGroup(HelpInParagraphs):
    """``genlab sweep MODEL`` and ``genlab sweep --recipe ...`` go to ``start``; so ``genlab sweep
    --help`` shows start's arguments and options after the subcommands."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["start", *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter):
        super().format_help(ctx, formatter)
        start = self.get_command(ctx, "start")
        with start.make_context("start", [], parent=ctx, resilient_parsing=True) as start_ctx:
            start.format_help(start_ctx, formatter)


sweep_app = typer.Typer(
    cls=SweepGroup, no_args_is_help=True, add_completion=False,
    help="Many runs from one command, searched and pruned by Optuna: genlab sweep MODEL --grid lr=1e-4,1e-3 ... "
         "(the same as 'genlab sweep start MODEL ...'); then show, resume and join. Pause, resume or stop a "
         "whole sweep with 'genlab pause|resume|stop SWEEP'.")

SweepRef = Annotated[str, typer.Argument(help="A sweep id, or a unique prefix of one.")]
Parallel = Annotated[Optional[int], typer.Option("--parallel", help="Trials at once (default: the sweep's; 1 on a CPU).")]
StorageURL = Annotated[Optional[str], typer.Option(
    "--storage", help="Keep the Optuna study in a database: postgresql://USER@HOST[:PORT]/DB (or mysql://..., or "
                      "grpc://HOST:PORT for 'genlab sweep serve-storage'); the password from PGPASSWORD or ~/.pgpass, "
                      "never the URL. Default: a file journal in the sweep directory.")]


@sweep_app.command()
def start(
    model: Annotated[Optional[str], typer.Argument(metavar="MODEL", help="The model (or --grid model=a,b, or --recipe).")] = None,
    grid: Annotated[Optional[list[str]], typer.Option("--grid", help="KEY=V1,V2,... every value tried (repeatable): lr, batch_size, model, a hyperparameter.")] = None,
    seeds: Annotated[Optional[str], typer.Option("--seeds", help="Seeds, e.g. 0,1,2: every trial (a configuration) runs once per seed; Optuna is told the mean.")] = None,
    search: Annotated[Optional[str], typer.Option("--search", help="grid, random or tpe (default: grid; tpe with --range).")] = None,
    trials: Annotated[Optional[int], typer.Option("--trials", help="Trials of a random or TPE search (default 10).")] = None,
    range_: Annotated[Optional[list[str]], typer.Option("--range", help="KEY=LOW:HIGH[:log|int|log-int] searched (repeatable), e.g. lr=1e-4:1e-2:log.")] = None,
    objective: Annotated[Optional[str], typer.Option("--objective", help="The metric to optimise (default: the model's key quality figure: FLD, IS-NLL, test NLL).")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Stop trials whose quality is worse than the median of earlier trials at the same step.")] = False,
    prune_every: Annotated[Optional[int], typer.Option("--prune-every", help="Steps between the quality checks the pruner compares (default 500).")] = None,
    prune_startup: Annotated[int, typer.Option("--prune-startup", help="Trials that must finish before the pruner stops another.")] = 2,
    parallel: Annotated[int, typer.Option("--parallel", help="Trials at once (each gets its share of the CPU's cores).")] = 1,
    preset: Annotated[Optional[str], typer.Option(help="A preset every trial starts from (with a grid of models: where the model has it).")] = None,
    hp: Annotated[Optional[list[str]], typer.Option("--hp", help="A hyperparameter every trial shares, KEY=VALUE (repeatable).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Each trial's epochs.")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Each trial's steps.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option("--max-minutes", help="Each trial's time budget in minutes of training.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    amp: Annotated[str, typer.Option(help="Mixed precision for every trial: off or bf16.")] = "off",
    quality_every: Annotated[Optional[float], typer.Option("--quality-every", help="Seconds between each trial's live quality checks.")] = None,
    quality_samples: Annotated[Optional[int], typer.Option("--quality-samples", help=f"Digits each trial's quality check generates or scores (default {default('quality_samples', Cadence):,}; fewer: quicker, noisier).")] = None,
    recipe: Annotated[Optional[str], typer.Option("--recipe", help="A ready-made sweep: cures (gan, dcgan, wgan-gp, cgan for the same time).")] = None,
    name: Annotated[Optional[str], typer.Option(help="The sweep id (default: sweep-<time>-<model>).")] = None,
    storage: StorageURL = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Start no worker here: workers join with 'genlab sweep join' (e.g. a batch job's).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Run a sweep of more trials than the limit (50; GENLAB_SWEEP_MAX_TRIALS).")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Stay until the sweep ends, then print the comparison (a recipe always does).")] = False,
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    notify: Notify = None,
    notify_when: NotifyWhen = None,
) -> None:
    """Start a sweep: print its id and its trials, start its worker detached, and return.
    'genlab sweep MODEL ...' is short for 'genlab sweep start MODEL ...'."""
    from genlab.config import parse_hp
    from genlab.run.notify import Alerts, handed_on
    from genlab.run.store import runs_root
    from genlab.sweep import plan as sweep_plan
    from genlab.sweep.spec import create_sweep, new_sweep_id, parse_grid, parse_range, parse_seeds

    grid_ = parse_grid(grid)
    if no_worker and (wait or recipe):
        raise UsageError("--no-worker: nothing would run while this command waits; join workers, then genlab sweep show")
    if storage is not None:
        from genlab.sweep.storage import parse

        storage = parse(storage)  # (a password in it refused before anything else)
    if recipe is not None:
        if recipe not in sweep_plan.RECIPES:
            raise UsageError(f"unknown --recipe {recipe!r}; choose from {', '.join(sweep_plan.RECIPES)}")
        if model is not None or grid_:
            raise UsageError(f"--recipe {recipe} chooses its models: give no MODEL and no --grid")
        if max_minutes is None and max_steps is None and epochs is None:
            raise UsageError(f"--recipe {recipe} trains each model for the same time: give --max-minutes M")
        grid_ = dict(sweep_plan.RECIPES[recipe]["grid"])
        preset = preset or (sweep_plan.RECIPES[recipe]["preset"] if resolved_device(device) == "cpu" else None)
        wait = True
    if max_minutes is not None and epochs is None and max_steps is None:
        epochs = 1000  # a time budget alone: the time decides, not the default epochs
    root = runs_root(runs_dir)
    label = recipe or model or "models"
    run = {"hp": parse_hp(hp), "preset": preset, "epochs": epochs, "max_steps": max_steps,
           "max_minutes": max_minutes, "device": device, "amp": amp,
           "data_dir": str(data_dir) if data_dir else None}
    if quality_every is not None:
        run["quality_every_s"] = quality_every
    if quality_samples is not None:
        run["quality_samples"] = quality_samples
    spec = sweep_plan.build(
        model, sweep_id=new_sweep_id(label, name, root), grid=grid_, ranges=parse_range(range_),
        seeds=parse_seeds(seeds), search=search, trials=trials, objective=objective, prune=prune,
        prune_every=prune_every, prune_startup=prune_startup, parallel=parallel, run=run, yes=yes, recipe=recipe)
    alerts = Alerts.parse(notify, notify_when, views_of(spec) if notify_when else None)
    if storage is not None:  # reached, and its study's name free, before anything is written
        from dataclasses import replace

        from genlab.sweep.storage import check

        check(storage, spec.sweep_id)
        spec = replace(spec, storage=storage)
    sweep_dir = create_sweep(root, spec)
    describe(spec)
    if no_worker:
        out.print(f"sweep {spec.sweep_id}: no worker yet: add them with genlab sweep join {spec.sweep_id} "
                  "[--foreground]", soft_wrap=True)
    else:
        with handed_on(alerts):  # each trial tells its end; the worker the sweep's
            start_worker(sweep_dir, parallel)
    if wait:
        follow(root, sweep_dir)


def views_of(spec) -> dict:
    """Each model of a sweep's trials, to its view (the figures a --notify-when may name)."""
    from genlab import models

    return {m: models.get(m).view for m in ([spec.model] if spec.model else spec.grid.get("model", []))}


def sweep_models(sweep_dir: Path) -> dict:
    from genlab.run.sweeps import read_spec

    return views_of(read_spec(sweep_dir))


def resolved_device(device: str) -> str:
    from genlab.core.device import resolve

    return resolve(device).type


def describe(spec) -> None:
    what = f"{spec.search} search of {spec.trials} trials" if spec.search != "grid" else f"grid of {spec.trials} trials"
    if spec.seeds_per_trial and len(spec.seeds) > 1:  # (a trial: one configuration, run once per seed)
        what += f", each run with seeds {','.join(map(str, spec.seeds))} (Optuna told their mean)"
    lengths = ("max_minutes",) if spec.run.get("max_minutes") else ("epochs", "max_steps")  # a budget decides alone
    length = ", ".join(f"{k.replace('_', ' ')} {spec.run[k]:g}" for k in lengths if spec.run.get(k) is not None)
    out.print(f"sweep {spec.sweep_id}: {spec.model or 'models ' + ','.join(map(str, spec.grid['model']))}, {what}"
              f"{', ' + length if length else ''}, {spec.parallel} at a time; objective {spec.objective} "
              f"({'lower' if spec.direction == 'minimize' else 'higher'} is better)"
              + (f", pruned at the median every {spec.prune_every:,} steps" if spec.prune else ""), soft_wrap=True)
    if spec.search == "grid":
        for point in spec.grid_points()[:20]:  # Optuna's GridSampler runs them in an order of its own
            out.print("  " + " ".join(f"{k}={v}" for k, v in point.items()), soft_wrap=True)
        if spec.trials > 20:
            out.print(f"  ... and {spec.trials - 20} more")
    else:
        for key, values in spec.grid.items():
            out.print(f"  {key}: one of {', '.join(map(str, values))}")
        for key, r in spec.ranges.items():
            out.print(f"  {key}: {r.low:g} to {r.high:g}{' (log)' if r.log else ''}{' (whole numbers)' if r.integer else ''}")


def start_worker(sweep_dir: Path, parallel: int):
    """Start a worker detached and wait until it reports (or dies). A sweep whose journal cannot
    be read is refused first, in one line (the worker would only fail on it)."""
    from genlab.run.rundir import SweepDir
    from genlab.run.sweeps import read_spec
    from genlab.sweep import study
    from genlab.sweep.worker import spawn_worker

    study.load(sweep_dir, read_spec(sweep_dir), for_search=False)  # UsageError when unreadable
    proc = spawn_worker(sweep_dir, parallel)
    status = SweepDir(sweep_dir).worker_status(f"{__import__('socket').gethostname()}-{proc.pid}")
    deadline = time.monotonic() + 120
    while not status.exists():
        if proc.poll() is not None:
            tail = SweepDir(sweep_dir).log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise GenlabError(f"the sweep worker exited with code {proc.returncode}: {tail[0]}")
        if time.monotonic() > deadline:
            raise GenlabError(f"the sweep worker (pid {proc.pid}) has not started after 120s; see {SweepDir(sweep_dir).log}")
        time.sleep(0.1)
    sid = sweep_dir.name
    out.print(f"sweep {sid}: worker pid {proc.pid} in the background; log: {SweepDir(sweep_dir).log}", soft_wrap=True)
    out.print(f"  watch:   genlab sweep show {sid}   |   genlab runs   |   genlab tui", soft_wrap=True)
    out.print(f"  control: genlab pause {sid}   genlab resume {sid}   genlab stop {sid}   genlab sweep join {sid}", soft_wrap=True)
    return proc


def follow(root: Path, sweep_dir: Path) -> None:
    """Print each trial as it ends, until the sweep does; then the comparison of its runs."""
    from genlab.run import compare as cmp
    from genlab.run.summary import rank, summarise
    from genlab.run.sweeps import read_spec, read_trials, state

    spec, said = read_spec(sweep_dir), {}
    try:
        while True:
            trials = read_trials(sweep_dir)
            for t in trials:
                if said.get(t["number"]) != t.get("state") and t.get("state") != "waiting":
                    said[t["number"]] = t.get("state")
                    value = f" {spec.objective} {t['value']:.4g}" if t.get("value") is not None else ""
                    out.print(time.strftime("%H:%M:%S ") + f"trial {t['number']} {t.get('state')}{value} "
                              f"(run {t.get('run_id')})", soft_wrap=True)
            now = state(sweep_dir, spec, trials)
            if not now.live:
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        out.print(f"\nthe sweep goes on in the background: genlab sweep show {sweep_dir.name}")
        raise typer.Exit(130)
    out.print(f"sweep {sweep_dir.name} {now}")
    from genlab.run.sweeps import trial_runs

    paths = trial_runs(root, sweep_dir)
    compared = None
    if len(paths) > 1:
        print_comparison(compared := cmp.compare(paths))  # (with why its trials are not comparable, if so)
    elif paths:  # a sweep of one trial: nothing to compare it with, its own figures
        print_comparison(compared := cmp.SideBySide([], rank([summarise(paths[0])])))
    print_trials(sweep_dir)
    print_lesson(spec, compared.runs if compared else [])


def print_lesson(spec, runs: list) -> None:
    """A recipe's lesson, in words (genlab/sweep/lesson.py), from its trials' summaries."""
    if spec.recipe:
        from genlab.sweep.plan import lesson_of

        said = lesson_of(spec.recipe, runs)
        if said:
            out.print(Text(said, style="bold"), soft_wrap=True)


@sweep_app.command()
def show(sweep: SweepRef, runs_dir: RunsDir = None, as_json: AsJson = False) -> None:
    """A sweep's trials, best first (a running trial by its newest objective), the best so far,
    which parameters mattered, its history and its parallel coordinates; and its workers."""
    from genlab.run.resolve import resolve_sweep
    from genlab.run.store import runs_root
    from genlab.run.sweep_report import report

    root = runs_root(runs_dir)
    sweep_dir = resolve_sweep(root, sweep)
    refresh(sweep_dir)
    said = report(root, sweep_dir)
    if as_json:
        from genlab.run.sweeps import workers

        print(json.dumps({**said, "workers": workers(sweep_dir)}, indent=2))
        return
    print_trials(sweep_dir, said)
    print_reading(said)
    from genlab.run import compare as cmp
    from genlab.run.sweeps import read_spec, state, trial_runs

    paths = trial_runs(root, sweep_dir)
    if len(paths) > 1:  # why its trials are not a fair comparison, and a recipe's lesson
        compared = cmp.compare(paths)
        for warning in compared.warnings:
            out.print(Text(f"⚠ {warning}", style="bold red"), soft_wrap=True)
        spec = read_spec(sweep_dir)
        if not state(sweep_dir, spec).live:  # (a lesson once every trial has ended)
            print_lesson(spec, compared.runs)


def refresh(sweep_dir: Path) -> None:
    """trials.json from the study itself, when no worker keeps it (after a kill)."""
    from genlab.run.sweeps import live_workers, read_spec

    if not live_workers(sweep_dir):
        from genlab.sweep import study
        study.snapshot(sweep_dir, study.load(sweep_dir, read_spec(sweep_dir), for_search=False))


def print_trials(sweep_dir: Path, said: dict | None = None) -> None:
    """The sweep's line, its best so far and its trials ranked (genlab/run/sweep_report.py's ``said``)."""
    from genlab.run.sinks import fmt_duration
    from genlab.run.sweep_report import report
    from genlab.run.sweeps import read_spec, workers

    spec = read_spec(sweep_dir)
    said = said or report(sweep_dir.parent, sweep_dir)
    trials, c = said["trials"], said["counts"]
    out.print(f"[bold]sweep {spec.sweep_id}[/]  {said['model']}  {spec.search}  [bold]{said['state']}[/]  "
              f"{c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed, {c['running']} running of {spec.trials}; "
              f"objective {spec.objective} ({'lower' if spec.direction == 'minimize' else 'higher'} is better)",
              soft_wrap=True)
    best = said["best"]
    out.print(f"best so far: trial {best['number']}, {spec.objective} {best['objective']:.4g} "
              f"({' '.join(f'{k}={fmt_param(v)}' for k, v in best.get('params', {}).items())}; run {best.get('run_id')})"
              if best else "best so far: no trial has completed yet", soft_wrap=True, highlight=False)
    keys = list(dict.fromkeys(k for t in trials for k in t.get("params", {})))
    table = trials_table(spec, trials, keys, with_run=True)
    if out.is_terminal and Console(width=100_000).measure(table).maximum > out.width:  # narrow: no run ids, no parameter all share
        shared = {k: fmt_param(trials[0]["params"].get(k)) for k in keys
                  if len({fmt_param(t.get("params", {}).get(k)) for t in trials}) == 1}
        table = trials_table(spec, trials, [k for k in keys if k not in shared], with_run=False)
        out.print(f"each trial's run: {spec.sweep_id}-NNN (NNN: its number)"
                  + "".join(f"; {k}={v} in all" for k, v in shared.items()), soft_wrap=True, highlight=False)
    if out.is_terminal:
        out.print(table)
    else:  # a pipe or a file: whole values, however wide (Rich would cut the table to 80 columns)
        wide = Console(file=out.file, width=100_000, highlight=False, no_color=True)
        wide.print(table, width=wide.measure(table).maximum, soft_wrap=False)
    for w in workers(sweep_dir):
        wall = max(1e-9, (w.get("heartbeat") or time.time()) - (w.get("started") or time.time()))
        out.print(f"  worker {w['name']}: {w.get('state')}{'' if w['live'] else ' (gone)'}, "
                  f"{w.get('parallel', 1)} at a time, its own CPU {w.get('cpu_s', 0):.1f} s in {fmt_duration(wall)} "
                  f"({100 * w.get('cpu_s', 0) / wall:.1f}% of a core)", soft_wrap=True)
        if w.get("warning") and w["live"]:  # its study's database is unreachable: it waits
            out.print(Text(f"    ⚠ {w['warning']}", style="bold red"), soft_wrap=True)


def trials_table(spec, trials: list[dict], keys: list[str], with_run: bool) -> Table:
    """The trials ranked: a trial not ended by its run's newest objective, with its step."""
    table = Table(title_justify="left")
    seeded = any(t.get("spread") for t in trials)  # trials run once per seed: the spread of their objectives
    for col in ("trial", *(["run"] if with_run else []), "state", *keys, spec.objective,
                *(["over seeds"] if seeded else []), "note"):
        table.add_column(col, no_wrap=col != "note", justify="right" if col == "trial" else "left")
    for t in trials:
        params, spread = t.get("params", {}), t.get("spread")
        value = t.get("objective")
        note = t.get("reason") or (f"newest, at step {t['newest_step']:,}" if t.get("value") is None and value is not None else "")
        table.add_row(str(t.get("number")), *([t.get("run_id") or "-"] if with_run else []), t.get("state", "?"),
                      *(fmt_param(params.get(k)) for k in keys),
                      f"{value:.4g}" if isinstance(value, (int, float)) else "-",
                      *([f"± {spread['std']:.2g} ({spread['min']:.4g}–{spread['max']:.4g}), {spread['n']} seeds"
                         if spread else "-"] if seeded else []), note)
    return table


def print_reading(said: dict) -> None:
    """Which parameters mattered, the history and the parallel coordinates, drawn as text
    (genlab/render/sweep_plots.py) as wide as the terminal (100 columns at most; 80 in a pipe)."""
    import os

    from genlab.render import sweep_plots

    colour = out.is_terminal and "NO_COLOR" not in os.environ
    width = min(out.width, 100) if out.is_terminal else 80
    out.print("")
    for line in sweep_plots.importance_lines(said["importance"], width):
        out.print(line, soft_wrap=True, highlight=False, markup=False)
    out.print("")
    if said["history"]:
        print(sweep_plots.history(said, width, 14, colour))
    else:
        out.print("history: no trial has completed yet")
    if len(said["coordinates"]["lines"]) > 1:
        print(sweep_plots.coordinates(said, width, 16, colour))
        for line in sweep_plots.axes_lines(said):
            out.print(line, soft_wrap=True, highlight=False, markup=False)
    else:
        out.print("parallel coordinates: two trials with an objective are needed")


def fmt_param(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


@sweep_app.command(name="resume")
def resume_sweep(sweep: SweepRef, parallel: Parallel = None, runs_dir: RunsDir = None, notify: Notify = None,
                 notify_when: NotifyWhen = None) -> None:
    """Continue a sweep whose worker was stopped or killed.

    Finished trials are not run again; interrupted ones resume from their checkpoints."""
    from genlab.run.notify import Alerts, handed_on
    from genlab.run.resolve import resolve_sweep
    from genlab.run.store import runs_root

    sweep_dir = resolve_sweep(runs_root(runs_dir), sweep)
    with handed_on(Alerts.parse(notify, notify_when, sweep_models(sweep_dir) if notify_when else None)):
        control(sweep_dir, "resume", parallel=parallel)


@sweep_app.command()
def join(sweep: SweepRef, parallel: Parallel = None, runs_dir: RunsDir = None, notify: Notify = None,
         notify_when: NotifyWhen = None,
         foreground: Annotated[bool, typer.Option(
             "--foreground", help="Stay until this worker ends (the sweep done or stopped), as a batch job's step "
                                  "must: a scheduler ends what a job leaves behind.")] = False) -> None:
    """Start another worker on a sweep, here or on another machine sharing the runs directory.

    Optuna's storage gives each worker different trials."""
    from genlab.run.notify import Alerts, handed_on
    from genlab.run.resolve import resolve_sweep
    from genlab.run.store import runs_root
    from genlab.run.sweeps import SweepState, read_spec, state

    sweep_dir = resolve_sweep(runs_root(runs_dir), sweep)
    spec = read_spec(sweep_dir)
    if parallel is not None and parallel < 1:
        raise UsageError(f"--parallel must be at least 1, got {parallel}")
    if state(sweep_dir, spec) is SweepState.FINISHED:
        raise UsageError(f"sweep {sweep_dir.name} is finished: every trial has run")
    with handed_on(Alerts.parse(notify, notify_when, views_of(spec) if notify_when else None)):
        proc = start_worker(sweep_dir, parallel or spec.parallel)
    if foreground:
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            out.print(f"\nthe worker goes on in the background: genlab stop {sweep_dir.name} stops the sweep")
            raise typer.Exit(130)
        out.print(f"sweep {sweep_dir.name}: this worker has ended (exit {code}); the sweep is {state(sweep_dir, spec)}")
        if code:
            raise typer.Exit(code)


@sweep_app.command(name="serve-storage")
def serve_storage(
    storage: Annotated[str, typer.Option("--storage", help="The database: postgresql://USER@HOST[:PORT]/DB or mysql://...")],
    host: Annotated[str, typer.Option(help="The address to listen on (0.0.0.0: every interface).")] = "localhost",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 13000,
) -> None:
    """Serve a database's studies through Optuna's gRPC storage proxy, for very many workers: sweeps
    started with --storage grpc://HOST:PORT reach the database through it. Runs until Ctrl-C."""
    from genlab.sweep import storage as remote

    url = remote.parse(storage)
    if remote.scheme(url) == remote.GRPC_SCHEME:
        raise UsageError("--storage: the proxy serves a database: give its postgresql:// or mysql:// URL")
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {port}")
    remote.check(url)
    out.print(f"serving the studies of {url} at grpc://{host}:{port}: sweeps use it with "
              f"--storage grpc://{host}:{port}; Ctrl-C stops", soft_wrap=True)
    try:
        remote.serve(url, host, port, say=lambda line: out.print(time.strftime("%H:%M:%S ") + line, soft_wrap=True))
    except KeyboardInterrupt:
        out.print("stopped")


def control(sweep_dir: Path, command: str, parallel: int | None = None, wait: float = 120.0) -> None:
    """``genlab pause|resume|stop SWEEP``: what the sweep is wanted to do, which its workers pass
    on to every trial they run; a resume with no live worker starts one."""
    from genlab.run.sweeps import SweepState, live_workers, read_spec, set_wanted, state

    spec = read_spec(sweep_dir)
    if parallel is not None and parallel < 1:
        raise UsageError(f"--parallel must be at least 1, got {parallel}")
    now = state(sweep_dir, spec)
    if now is SweepState.FINISHED:
        raise UsageError(f"sweep {sweep_dir.name} is finished: nothing to {command}")
    set_wanted(sweep_dir, {"pause": "pause", "stop": "stop", "resume": "run"}[command])
    if command == "resume":
        if live_workers(sweep_dir):
            out.print(f"sweep {sweep_dir.name} running (its workers resume its paused trials)")
        else:
            start_worker(sweep_dir, parallel or spec.parallel)
        return
    if not live_workers(sweep_dir):
        out.print(f"sweep {sweep_dir.name} {SweepState.STOPPED if command == 'stop' else 'has no live worker'}: "
                  f"continue it with genlab sweep resume {sweep_dir.name}")
        return
    goal = SweepState.PAUSED if command == "pause" else SweepState.STOPPED
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if command == "stop" and not live_workers(sweep_dir):
            break
        if command == "pause" and all_paused(sweep_dir):
            break
        time.sleep(0.2)
    else:
        raise GenlabError(f"sweep {sweep_dir.name} has not confirmed the {command} after {wait:g}s")
    out.print(f"sweep {sweep_dir.name} {goal}: continue it with genlab resume {sweep_dir.name}")


def all_paused(sweep_dir: Path) -> bool:
    """Every trial the live workers run is paused (or ended): none still moving."""
    from genlab.run.launch import read_status
    from genlab.run.state import RunState, effective_state
    from genlab.run.sweeps import live_workers, read_trials

    numbers = {n for w in live_workers(sweep_dir) for n in w.get("trials", [])}
    runs = {t["number"]: t.get("run_id") for t in read_trials(sweep_dir)}
    for n in numbers:
        run_dir = sweep_dir.parent / (runs.get(n) or "")
        if runs.get(n) and effective_state(read_status(run_dir), run_dir) in (RunState.RUNNING, RunState.STARTING):
            return False
    return True
