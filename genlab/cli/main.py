"""The ``genlab`` command: thin typer commands that call into the library.

Bad input ends with one line on standard error and exit code 2 (1 for other failures): every
command's GenlabError is turned into that line in one place, :class:`Commands`. Option
defaults come from the run configuration's dataclasses (genlab/config.py).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from genlab.config import Cadence, Speed, default
from genlab.errors import GenlabError, UsageError

out = Console(highlight=False, soft_wrap=True)  # plain lines never break mid-path when piped
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Commands(TyperGroup):
    """Where a command's GenlabError becomes one line on standard error and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GenlabError as e:
            err.print(f"genlab: error: {e}", soft_wrap=True, markup=False)
            raise typer.Exit(e.exit_code) from None


app = typer.Typer(
    name="genlab",
    cls=Commands,
    help="Train and watch generative models (GAN, VAE, PixelCNN) on MNIST digits from a terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

RunsDir = Annotated[Optional[Path], typer.Option(
    "--runs-dir", help="Where runs live (default: $GENLAB_RUNS_DIR, else ./runs).")]
DataDir = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="A directory with MNIST (default: $GENLAB_DATA_DIR, the cache, a download, else the bundled digits).")]
RunRef = Annotated[str, typer.Argument(help="A run id, a unique prefix of one, or 'latest'.")]
RunOrSweep = Annotated[str, typer.Argument(help="A run id, a unique prefix of one, 'latest', or a sweep id.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Ascii = Annotated[bool, typer.Option("--ascii", help="Draw digits in plain ASCII.")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")]


def print_digits(images, ascii: bool = False, png: Path | None = None, classes: int = 0) -> None:
    """Draw digits to fit the terminal: full size when they fit, else half size (half blocks only:
    ASCII digits need full size to be legible), else the first rows that fit, saying where the
    whole grid is (a grid of ``classes`` blocks shows digits across the blocks, every class).
    Not a terminal: 80 columns, at most 42 lines."""
    from genlab.render.digits import SIZES, across_classes, layout, render, should_use_ascii

    use_ascii = ascii or should_use_ascii(stream=sys.stdout) or not out.is_terminal
    sizes = SIZES[:1] if use_ascii else SIZES
    width, height = (out.width, max(14, out.height - 8)) if out.is_terminal else (80, 42)
    size, per_row = layout(len(images), width, height, sizes)
    fits = per_row * max(1, height // (size // 2))
    if fits < len(images) and classes:
        images = across_classes(images, classes)
    grid = render(images[:fits], width=width, height=height, ascii=use_ascii, sizes=sizes)
    if use_ascii:
        print(grid)
    else:
        out.print(grid)
    if fits < len(images):
        out.print(f"({fits} of {len(images)} digits shown" + (f"; all of them: {png})" if png else ")"), soft_wrap=True)


def run_view(run_dir: Path):
    """What a run declares it shows (view.json; for a run made before views, its model's)."""
    from genlab import view
    def known(path: Path):
        from genlab import models
        from genlab.run.store import read_json

        config = read_json(path / "config.json")
        try:
            return models.get(config.get("model")).view
        except (UsageError, AttributeError, TypeError):
            return None

    return view.read(run_dir, known)


# --------------------------------------------------------------------------- train


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="Model to train (see 'genlab models').")],
    epochs: Annotated[Optional[int], typer.Option(
        help=f"Epochs to train (default: {default('epochs')}, or as many as --max-steps needs).")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Stop after this many steps.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option(
        "--max-minutes", help="A time budget: finish after this many minutes of training (pauses not counted).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Batch size (default: the model's).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate (default: the model's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: weights, data order, samples.")] = default("seed"),
    device: Device = default("device_requested"),
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    name: Annotated[Optional[str], typer.Option(help="Run id to use instead of a time stamp.")] = None,
    hp: Annotated[Optional[list[str]], typer.Option("--hp", help="A model hyperparameter KEY=VALUE (repeatable).")] = None,
    preset: Annotated[Optional[str], typer.Option(help="A named set of hyperparameters (see 'genlab models'), e.g. cpu.")] = None,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the networks (CUDA graphs on a GPU); eager if it fails.")] = default("compile", Speed),
    amp: Annotated[str, typer.Option(help="Mixed precision: off or bf16 (float32 where the device has no bf16).")] = default("amp", Speed),
    sample_every: Annotated[float, typer.Option("--sample-every", help="Seconds between sample grids (kept under 10% of time).")] = default("sample_every_s", Cadence),
    checkpoint_every: Annotated[float, typer.Option("--checkpoint-every", help="Seconds between checkpoints.")] = default("checkpoint_every_s", Cadence),
    keep_checkpoints: Annotated[int, typer.Option("--keep-checkpoints", help="Checkpoints to keep.")] = default("keep_checkpoints", Cadence),
    eval_size: Annotated[int, typer.Option("--eval-size", help="Held-out digits evaluated at each epoch's end.")] = default("eval_size", Cadence),
    log_every: Annotated[float, typer.Option("--log-every", help="Seconds between plain progress lines.")] = default("log_every_s", Cadence),
    quality_every: Annotated[float, typer.Option("--quality-every", help="Seconds between live quality checks (kept under 10% of time).")] = default("quality_every_s", Cadence),
    exclude_digits: Annotated[Optional[str], typer.Option("--exclude-digits", help="Leave these digits out of training, e.g. 9 or 1,7 (for genlab anomaly).")] = None,
    tensorboard: Annotated[Optional[Path], typer.Option(
        "--tensorboard", help="Also write TensorBoard event files, live, to DIR/<run id> (pip install 'genlab[tensorboard]').")] = None,
    nproc: Annotated[int, typer.Option("--nproc", help="Processes to train on, through PyTorch's launcher (torch.distributed.run): gloo on CPUs, NCCL on GPUs; --batch-size is the global batch.")] = 1,
    sync_bn: Annotated[bool, typer.Option("--sync-bn/--no-sync-bn", help="With --nproc on GPUs: BatchNorm over the global batch (SyncBatchNorm), or each rank's own.")] = True,
    detach: Annotated[bool, typer.Option("--detach", help="Train in the background, in its own session; output to log.txt.")] = False,
    ascii: Ascii = False,
) -> None:
    """Train MODEL: in the foreground, ending with its samples and the run id, or --detach."""
    from genlab.train import distributed
    from genlab.config import parse_hp
    from genlab.train.execute import create, prepare

    def made(processes: int):
        return prepare(
            model, data_dir=data_dir, runs_dir=runs_dir, name=name, epochs=epochs, max_steps=max_steps,
            max_minutes=max_minutes, batch_size=batch_size, lr=lr, seed=seed, device=device, hp=parse_hp(hp),
            preset=preset, compile=compile, amp=amp, sample_every_s=sample_every, checkpoint_every_s=checkpoint_every,
            keep_checkpoints=keep_checkpoints, eval_size=eval_size, log_every_s=log_every,
            quality_every_s=quality_every, exclude_digits=exclude_digits, tensorboard=tensorboard, processes=processes,
            sync_bn=sync_bn,
        )

    world = distributed.from_env()
    if world.distributed:  # a rank of a job started by torchrun (on one machine or several)
        if nproc != 1 or detach:
            raise UsageError(f"under torchrun (WORLD_SIZE {world.size}) the processes are there already: "
                             "leave out --nproc and --detach")
        return train_as_rank(world, made, device, ascii)
    prepared = made(nproc)
    run_dir = create(prepared)
    if detach:
        start_detached(run_dir, nproc=nproc)
        return
    if nproc > 1:
        return train_on_processes(run_dir, nproc, ascii=ascii)
    del prepared.digits  # the trainer reads them again, as a resumed run would
    foreground(run_dir, ascii)


def train_as_rank(world, made, device: str, ascii: bool) -> None:
    """One rank of `torchrun ... -m genlab train MODEL ...`: rank 0 makes the run directory (in
    a runs directory every rank sees: on several machines, a shared filesystem) and tells the
    others its id; then every rank trains it (rank 0 in the foreground, writing)."""
    from genlab.train import distributed
    from genlab.core.device import resolve
    from genlab.train.execute import create, execute

    distributed.start(world, resolve(device))
    made_dir, problem = None, None
    if world.main:
        try:
            made_dir = str(create(made(world.size)))
        except GenlabError as e:
            problem = str(e)
    made_dir, problem = distributed.broadcast((made_dir, problem), world)
    if problem:
        raise UsageError(problem if world.main else f"rank 0 could not make the run: {problem}")
    if world.main:  # (a divergence on any rank pauses them all, as in a run of --nproc N)
        foreground(Path(made_dir), ascii, on_divergence="pause")
    else:
        execute(Path(made_dir))


def train_on_processes(run_dir: Path, nproc: int, options: dict | None = None, follow: bool = True,
                       ascii: bool = False) -> None:
    """``nproc`` ranks of one run through PyTorch's own launcher, on this machine (``options``:
    genlab.train.execute.execute's, e.g. a resume's). ``follow``: print rank 0's log as it grows, then
    the samples, as a run of one process does (not when this is the detached launcher, whose
    output is that log)."""
    import threading

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    from genlab.run.store import read_json

    from genlab.core.speed import cpu_threads

    out.print(f"run {run_dir.name}: {nproc} processes (torch.distributed.run); watch: genlab watch {run_dir.name}")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cpu_threads() // nproc)))  # (its ranks share the cores)
    done = threading.Event()
    tail = threading.Thread(target=follow_log, args=(run_dir / "log.txt", done), daemon=True)
    if follow:
        tail.start()
    code = 0
    try:  # this process is the launcher: its ranks die with it (genlab.train.distributed.die_with_launcher)
        torchrun(["--standalone", f"--nproc-per-node={nproc}", "-m", "genlab", "_worker", str(run_dir),
                  "--options", json.dumps(options or {})])
    except SignalException as e:  # Ctrl-C or SIGTERM: rank 0 stopped every rank with a checkpoint
        code = 128 + int(e.sigval)
    except ChildFailedError as e:
        code = 1
        err.print(f"genlab: {len(e.failures)} of the {nproc} processes failed (exit codes "
                  f"{', '.join(str(f.exitcode) for f in e.failures.values())}): see {run_dir / 'log.txt'}", markup=False)
    finally:
        done.set()
        if follow:
            tail.join(timeout=5)
    state = (read_json(run_dir / "status.json") or {}).get("state", "?")
    if follow and not code:
        return report_end(run_dir, state, ascii)
    out.print(f"run {run_dir.name} {state}: genlab show {run_dir.name}")
    if code:
        raise typer.Exit(code)


def follow_log(path: Path, done) -> None:
    """Print what is appended to ``path`` from now on, until ``done`` is set (and it is read to
    its end)."""
    try:
        offset = path.stat().st_size
    except OSError:
        offset = 0
    while True:
        finished = done.wait(0.2)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except OSError:
            chunk = b""
        whole = chunk[:chunk.rfind(b"\n") + 1]  # whole lines only
        if whole:
            offset += len(whole)
            sys.stdout.write(whole.decode(errors="replace"))
            sys.stdout.flush()
        if finished:
            return


def start_detached(run_dir: Path, options: dict | None = None, nproc: int = 1) -> None:
    """Start the worker on ``run_dir`` with ``options`` (genlab.train.execute.execute's), or the
    launcher of its ``nproc`` ranks, and wait until it has settled into a state of its own."""
    from genlab.run.launch import spawn, wait_until_settled
    from genlab.run.lock import is_locked

    if is_locked(run_dir):
        raise UsageError(f"run {run_dir.name} is held by another process ({lock_holder(run_dir)}): "
                         "it is being trained already")
    proc = spawn(run_dir, options or {}, nproc=nproc)
    try:
        status = wait_until_settled(run_dir, proc)
    except GenlabError:
        if proc.returncode is not None and is_locked(run_dir):  # another resume won the race
            raise UsageError(f"run {run_dir.name} is held by another process ({lock_holder(run_dir)}): "
                             "it was resumed elsewhere at the same moment") from None
        raise
    rid = run_dir.name
    what = f"pid {proc.pid}" if nproc == 1 else f"{nproc} processes, launcher pid {proc.pid}"
    out.print(f"run {rid} {status['state']} in the background ({what}, step {status.get('step', 0):,}); "
              f"log: {run_dir / 'log.txt'}", soft_wrap=True)
    out.print(f"  watch:   genlab watch {rid}   |   genlab tui   |   tail -f {run_dir / 'log.txt'}", soft_wrap=True)
    out.print(f"  control: genlab pause {rid}   genlab resume {rid}   genlab stop {rid}", soft_wrap=True)


def lock_holder(run_dir: Path) -> str:
    try:
        pid = (run_dir / "lock").read_text(errors="replace").strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"


def foreground(run_dir: Path, ascii: bool = False, on_divergence: str = "stop", **resume_args) -> None:
    """Train (or resume) in this process, then print the final samples and the run id."""
    from genlab.train.execute import execute

    sink = {"console": out} if out.is_terminal else {"stream": sys.stdout}
    try:
        state = execute(run_dir, on_divergence=on_divergence, **sink, **resume_args)
    except KeyboardInterrupt:
        err.print(f"genlab: aborted; resume from the last checkpoint with: genlab resume {run_dir.name}")
        raise typer.Exit(130)
    try:
        report_end(run_dir, state, ascii)
    except OSError:  # the terminal went away (a hang-up): the run's files say it all
        raise typer.Exit(129)


def report_end(run_dir: Path, state: str, ascii: bool) -> None:
    from genlab.run.store import read_json

    if state == "finished":
        print_newest_grid(run_dir, ascii, run_view(run_dir).sample_classes)
        out.print(f"run {run_dir.name} finished: genlab show {run_dir.name}")
        return
    status = read_json(run_dir / "status.json")
    reason = (status.get("reason") if isinstance(status, dict) else None) or state
    out.print(f"run {run_dir.name} {state} ({reason}); continue it with: genlab resume {run_dir.name}")
    raise typer.Exit(130 if "interrupted" in reason else 129 if "hung up" in reason else 1)


@app.command(name="_launch", hidden=True)
def launcher(
    run_dir: Path,
    nproc: Annotated[int, typer.Option(help="Ranks to start.")] = 2,
    options: Annotated[str, typer.Option(help="execute()'s options as a JSON object.")] = "{}",
) -> None:
    """The detached launcher of a run's ranks (train --nproc N --detach, and its resume)."""
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    train_on_processes(run_dir, nproc, json.loads(options), follow=False)


@app.command(name="_worker", hidden=True)
def worker(
    run_dir: Path,
    options: Annotated[str, typer.Option(help="execute()'s options as a JSON object.")] = "{}",
) -> None:
    """The detached training process (started by --detach and resume --detach)."""
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal to lose: a hang-up changes nothing
    from genlab.train.execute import execute

    state = execute(run_dir, **json.loads(options), on_divergence="pause", hangup="ignore")
    raise typer.Exit(0 if state in ("finished", "stopped") else 1)


@app.command(name="_sweep", hidden=True)
def sweep_worker(sweep_dir: Path, parallel: Annotated[int, typer.Option(help="Trials at once.")] = 1) -> None:
    """A sweep's worker (started by genlab sweep, sweep resume and sweep join)."""
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from genlab.sweep.worker import main as work

    work(sweep_dir, parallel)


# --------------------------------------------------------------------------- run control


def live_run(run: str, runs_dir: Path | None, broken_ok: bool = False):
    """The run to control: refused if it is a link or another user's (only the owner controls a
    run), or if it is unreadable (unless ``broken_ok``: resume repairs what it can)."""
    from genlab.run.store import check_controllable, load_run, resolve_run, runs_root

    info = load_run(resolve_run(runs_root(runs_dir), run))
    check_controllable(info.path)
    if info.problem and not broken_ok:
        raise UsageError(f"run {info.run_id} is unreadable: {info.problem}")
    return info


def command_and_wait(info, command: str, states: tuple[str, ...], wait: float, **args) -> dict:
    """Send ``command`` through the run's control channel; its status once in one of ``states``."""
    from genlab.run import control
    from genlab.run.launch import wait_for_state

    control.send(info.path, command, **args)
    status = wait_for_state(info.path, states, wait)
    if status is None:
        raise GenlabError(f"run {info.run_id} has not confirmed the {command} after {wait:g}s")
    return status


@app.command()
def pause(run: RunOrSweep, runs_dir: RunsDir = None,
          wait: Annotated[float, typer.Option(help="Seconds to wait for the run to confirm.")] = 30.0) -> None:
    """Pause a running run at its next step boundary (after a checkpoint); it stays in memory.

    Given a sweep: its workers start no trial and pause every trial they run."""
    from genlab.cli.sweep import control, run_or_sweep

    if (sweep := run_or_sweep(run, runs_dir)) is not None:
        return control(sweep, "pause", wait=wait * 4)
    info = live_run(run, runs_dir)
    if info.state == "paused":
        out.print(f"run {info.run_id} is already paused at step {info.status.get('step', 0):,}")
        return
    if info.state not in ("running", "starting", "stalled"):
        raise UsageError(f"run {info.run_id} is {info.state}, not running: nothing to pause")
    status = command_and_wait(info, "pause", ("paused", "stopped", "finished"), wait)
    out.print(f"run {info.run_id} {status['state']} at step {status.get('step', 0):,}")


@app.command()
def stop(run: RunOrSweep, runs_dir: RunsDir = None,
         wait: Annotated[float, typer.Option(help="Seconds to wait for the run to confirm.")] = 60.0) -> None:
    """Stop a run: it writes a checkpoint, records 'stopped' and exits (resume continues it).

    Given a sweep: every trial it runs stops so, then its workers exit."""
    from genlab.cli.sweep import control, run_or_sweep

    if (sweep := run_or_sweep(run, runs_dir)) is not None:
        return control(sweep, "stop", wait=wait * 2)
    info = live_run(run, runs_dir)
    if info.state not in ("running", "paused", "starting", "stalled"):
        raise UsageError(f"run {info.run_id} is {info.state}, not running: nothing to stop")
    status = command_and_wait(info, "stop", ("stopped", "finished"), wait)
    out.print(f"run {info.run_id} {status['state']} at step {status.get('step', 0):,}")


@app.command()
def resume(
    run: RunOrSweep,
    epochs: Annotated[Optional[int], typer.Option(help="Extend the run to this many epochs in all.")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Extend the run to this many steps in all.")] = None,
    max_minutes: Annotated[Optional[float], typer.Option(
        "--max-minutes", help="Extend its time budget to this many minutes of training in all.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Continue with this learning rate (recorded in the events).")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Continue in the background.")] = False,
    data_dir: DataDir = None,
    device: Annotated[Optional[str], typer.Option(help="Train on another device than the run's.")] = None,
    runs_dir: RunsDir = None,
    ascii: Ascii = False,
) -> None:
    """Resume a paused run in place, or a stopped, crashed or finished one from its newest good
    checkpoint (same steps, data order and random streams).

    Given a sweep: its paused trials
    go on, and a sweep with no live worker gets one (as 'genlab sweep resume')."""
    from genlab.cli.sweep import control, run_or_sweep
    from genlab.validate import new_total, positive

    if (sweep := run_or_sweep(run, runs_dir)) is not None:
        return control(sweep, "resume")

    info = live_run(run, runs_dir, broken_ok=True)
    if info.config.get("source") == "script" and info.state not in ("paused", "running", "starting", "stalled"):
        raise UsageError(f"run {info.run_id} was made by a script (genlab.init) and is {info.state}: "
                         "genlab can resume it only while the script is paused; run the script again")
    if info.problem:
        from genlab.run.lock import is_locked

        if is_locked(info.path):
            raise GenlabError(f"run {info.run_id} is unreadable ({info.problem}) and a process holds it")
        info.state = "crashed"  # nobody trains it: a new process starts from its newest good checkpoint
    if lr is not None:
        positive("learning rate", lr, float)
    if max_minutes is not None:
        positive("max minutes", max_minutes, float)
    if info.state == "stalled":
        raise UsageError(f"run {info.run_id} is stalled: process {info.status.get('pid')} holds it but has not "
                         "beaten its heartbeat for over a minute; stop it (or kill it) first")
    if info.state in ("running", "starting"):
        raise UsageError(f"run {info.run_id} is already running (pid {info.status.get('pid')}); "
                         "pause or stop it first")
    if info.state == "paused":
        args = {}
        if lr is not None:
            args["lr"] = lr
        total = new_total(info.config.get("steps_per_epoch") or 1, epochs, max_steps)
        if total is not None:
            args["total_steps"] = total
        if max_minutes is not None:
            args["max_minutes"] = max_minutes
        status = command_and_wait(info, "resume", ("running", "finished", "stopped"), 30.0, **args)
        if status["state"] == "running":  # from where it paused: by the time it says so, it may be steps further
            out.print(f"run {info.run_id} running from step {info.status.get('step', 0):,}")
        else:
            out.print(f"run {info.run_id} {status['state']} at step {status.get('step', 0):,}")
        return
    options = {"resume": True, "lr": lr, "epochs": epochs, "max_steps": max_steps, "max_minutes": max_minutes,
               "data_dir": str(data_dir) if data_dir else None, "device": device}
    processes = int(info.config.get("processes") or 1)
    if processes > 1:  # refused here, not by rank 0 once launched: its other ranks would wait for it in vain
        from genlab.train.execute import check_resumable

        check_resumable(info.path, epochs=epochs, max_steps=max_steps, lr=lr, max_minutes=max_minutes)
    if detach:  # (on as many ranks as it trained on: the same run, step for step)
        start_detached(info.path, options, nproc=processes)
    elif processes > 1:
        train_on_processes(info.path, processes, options, ascii=ascii)
    else:
        foreground(info.path, ascii, **options)


# --------------------------------------------------------------------------- runs, show


def key_metric(info) -> str:
    """The run's key metric (as its view declares) at its latest step, or "-"."""
    metrics = info.status.get("metrics") or {}
    key = run_view(info.path).key
    value = metrics.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{key} {value:.4g}"
    return "-"


def age(t: float) -> str:
    from genlab.run.sinks import fmt_duration

    return fmt_duration(max(0.0, time.time() - t)) + " ago"


TagOption = Annotated[Optional[list[str]], typer.Option("--tag", help="Only runs with this tag (repeatable: all of them).")]


def tagged(infos: list, wanted: list[str] | None) -> list:
    """The runs that carry every tag in ``wanted`` (all of them when it is empty)."""
    from genlab.run import tags
    for tag in wanted or []:
        tags.check_tag(tag)
    return [r for r in infos if set(wanted or []) <= set(tags.read(r.path).tags)]


@app.command()
def runs(runs_dir: RunsDir = None, tag: TagOption = None, as_json: AsJson = False) -> None:
    """List runs: id, model, status, progress, key metric, age and tags."""
    from genlab.run import tags
    from genlab.run.store import list_runs, runs_root

    root = runs_root(runs_dir)
    infos = tagged(list_runs(root), tag)
    if as_json:
        print(json.dumps([{
            "id": r.run_id, "model": r.model, "state": r.state, "step": r.status.get("step", 0),
            "total_steps": r.config.get("total_steps"), "metrics": r.status.get("metrics") or {},
            "key_metric": run_view(r.path).key, "tags": tags.read(r.path).tags, "note": tags.read(r.path).note,
            "created": r.created, "path": str(r.path), "problem": r.problem, "sweep": r.config.get("sweep"),
        } for r in infos], indent=2))
        return
    from genlab.sweep.spec import sweep_dirs

    if not infos and (tag or not sweep_dirs(root)):
        out.print(f"no runs tagged {', '.join(tag)} in {root}" if tag else
                  f"no runs in {root} yet: start one with 'genlab train gan'")
        return
    table = Table(title=f"runs in {root}", title_justify="left")
    # ids and steps are never cut; a long status (an unreadable run's reason) gives way first
    widest = {"id": max([len(r.run_id) + 2 for r in infos] + [8 + len(d.name) for d in sweep_dirs(root)]),
              "status": 8, "key metric": 10, "age": 9,
              "step": max([len(f"{r.status.get('step', 0):,}/{r.config.get('total_steps') or 0:,}") for r in infos] + [4])}
    piped = not out.is_terminal  # a pipe or a file: whole values, however wide
    labels = {r.run_id: " ".join(tags.read(r.path).tags) for r in infos}
    columns = ("id", "model", "status", "step", "key metric", "age") + (("tags",) if any(labels.values()) else ())
    for col in columns:
        table.add_column(col, justify="right" if col == "step" else "left", no_wrap=True,
                         overflow="fold" if piped else "ellipsis",
                         min_width=max(len(col), min(widest.get(col, 0), 40)),
                         max_width=30 if col == "status" and not piped else None)
    colours = {"running": "green", "paused": "yellow", "finished": "blue", "crashed": "red", "failed": "red",
               "stalled": "red", "unreadable": "red"}
    def add(r, indent=""):
        total = r.config.get("total_steps") or 0
        step = r.status.get("step", 0)
        table.add_row(indent + r.run_id, r.model, Text(r.shown_state, style=colours.get(r.shown_state, colours.get(r.state, "white"))),
                      f"{step:,}/{total:,}", key_metric(r), age(r.created), *([labels[r.run_id]] if len(columns) > 6 else []))

    groups = {k: v for k, v in sweep_groups(root, infos).items() if v[1] or not tag}
    for r in infos:
        if r.config.get("sweep") not in groups:
            add(r)
    for sweep_id, (head, members) in groups.items():  # a sweep: one line of its own, then its trials
        table.add_section()
        c = head["counts"]
        best = head["best"]
        table.add_row(Text(f"sweep {sweep_id}", style="bold"), head["model"], Text(head["state"], style="bold"),
                      f"{c['complete'] + c['pruned'] + c['fail']}/{head['trials']} trials",
                      f"best {head['objective']} {best['value']:.4g}" if best else "-", age(head["created"]),
                      *([""] if len(columns) > 6 else []))
        for r in members:
            add(r, "  ")
    if piped:  # as wide as the table needs: Rich would cut it to 80 columns
        wide = out.measure(table, options=out.options.update(width=100_000)).maximum
        Console(file=out.file, width=wide, highlight=False, no_color=True).print(table, soft_wrap=False)
    else:
        out.print(table, soft_wrap=False)


def sweep_groups(root: Path, infos: list) -> dict:
    """Each sweep in ``root`` (id to its summary and its trials' runs among ``infos``)."""
    from genlab.sweep.spec import summary, sweep_dirs

    groups = {}
    for d in sweep_dirs(root):
        try:
            groups[d.name] = (summary(d), [r for r in infos if r.config.get("sweep") == d.name])
        except GenlabError:
            continue  # an unreadable sweep: its trials are listed as plain runs
    return groups


@app.command()
def show(run: RunRef, runs_dir: RunsDir = None, as_json: AsJson = False, ascii: Ascii = False) -> None:
    """A run's configuration, latest metrics and latest samples."""
    from genlab.run.store import latest_metrics, load_run, resolve_run, runs_root, samples

    info = load_run(resolve_run(runs_root(runs_dir), run))
    if info.problem and not as_json:
        raise UsageError(f"run {info.run_id} is unreadable: {info.problem}")
    from genlab.run import tags
    latest = latest_metrics(info.path)
    grids = samples(info.path)
    view = run_view(info.path)
    marks = tags.read(info.path)
    if as_json:
        print(json.dumps({
            "id": info.run_id, "path": str(info.path), "state": info.state, "problem": info.problem,
            "status": info.status, "config": info.config, "latest": latest, "view": view.to_json(),
            "tags": marks.tags, "note": marks.note,
            "samples": str(grids[-1].with_suffix(".png")) if grids else None,
        }, indent=2))
        return
    c = info.config
    hp = ", ".join(f"{k}={v}" for k, v in {**c.get("hp", {}), "batch_size": c.get("batch_size"),
                                          "lr": c.get("lr")}.items())
    data = c.get("data", {})
    out.print(f"[bold]{info.run_id}[/]  {c.get('model')} ({c.get('family')})  [bold]{info.state}[/]  "
              f"step {info.status.get('step', 0):,}/{c.get('total_steps', 0):,}")
    out.print(f"  hyperparameters: {hp}")
    made = time.strftime('%Y-%m-%d %H:%M', time.localtime(info.created))
    if c.get("source") == "script":  # genlab.init: the script knows its data and device
        out.print(f"  made by a script (genlab.init): {' '.join(c.get('argv') or [])}  created {made}", markup=False)
    else:
        out.print(f"  seed {c.get('seed')}  device {c.get('device')}  created {made}")
        out.print(f"  data: {data.get('source')} {data.get('location')} ({data.get('train', 0):,} train / {data.get('test', 0):,} test)")
    out.print(f"  directory: {info.path}")
    if marks.tags:
        out.print(f"  tags: {' '.join(marks.tags)}", markup=False)
    if marks.note:
        out.print(f"  note: {marks.note}", markup=False)
    shown = [(m, latest[m.name]) for m in view.metrics
             if isinstance(latest.get(m.name), (int, float)) and not isinstance(latest.get(m.name), bool)]
    if shown:
        out.print("  latest: " + "  ".join(f"{m.name} {m.format(v)}" + (f" {m.unit}" if m.unit not in ("", "%") else "")
                                           for m, v in shown))
    world = info.status.get("world")
    if isinstance(world, dict) and isinstance(world.get("ranks"), list):
        from genlab.run.store import rank_trouble

        ranks = ", ".join(f"rank {r.get('rank')} on {r.get('host')} (pid {r.get('pid')}, step {r.get('step', 0):,}"
                          + (f", {r['busy_ms']:.1f} ms/step of work" if isinstance(r.get("busy_ms"), (int, float)) else "")
                          + (", done" if r.get("done") is True else "")
                          + ")" for r in world["ranks"] if isinstance(r, dict))
        out.print(f"  {world.get('size')} processes: {ranks}", markup=False)
        trouble = rank_trouble(info.status, time.time(), run_dir=info.path) if info.state == "crashed" else None
        if trouble:
            out.print(f"  [bold red]{trouble}[/]")
    if isinstance(info.status.get("system"), dict):
        from genlab.run.vitals import line

        when = "" if info.state in ("running", "paused") else " (its last, while it ran)"
        out.print(f"  vital signs{when}: {line(info.status['system'])}", markup=False)
    if not print_newest_grid(info.path, ascii, view.sample_classes):
        out.print("no samples yet")


def print_newest_grid(run_dir: Path, ascii: bool, classes: int) -> bool:
    """Draw the run's newest sample grid that can be read, saying so in one line when a newer one
    cannot (a garbage .npy); False when the run has no grid file."""
    from genlab.run.store import read_grid, samples

    grids = samples(run_dir)
    for path in reversed(grids):
        images = read_grid(path)
        if images is None:
            if path == grids[-1]:
                out.print(f"samples: {path} is unreadable (not a grid of digits)", soft_wrap=True, markup=False)
            continue
        out.print(f"samples at step {int(path.stem.split('-')[1]):,}:")
        print_digits(images, ascii, png=path.with_suffix(".png"), classes=classes)
        break
    return bool(grids)


# --------------------------------------------------------------------------- tags, notes, compare


def own_run(run: str, runs_dir: Path | None):
    """A run whose tags and note this user may change: its own (a link or another's is refused)."""
    from genlab.run.store import check_controllable, resolve_run, runs_root

    path = resolve_run(runs_root(runs_dir), run)
    check_controllable(path)
    return path


@app.command()
def tag(run: RunRef, tags_: Annotated[list[str], typer.Argument(metavar="TAG...", help="Tags to add.")],
        runs_dir: RunsDir = None) -> None:
    """Tag a run (letters, digits and . _ + = : -); safe while it trains."""
    from genlab.run import tags
    path = own_run(run, runs_dir)
    out.print(f"run {path.name} tags: {' '.join(tags.change(path, add=tags_).tags)}", markup=False)


@app.command()
def untag(run: RunRef, tags_: Annotated[list[str], typer.Argument(metavar="TAG...", help="Tags to remove.")],
          runs_dir: RunsDir = None) -> None:
    """Remove tags from a run."""
    from genlab.run import tags
    path = own_run(run, runs_dir)
    left = tags.change(path, remove=tags_).tags
    out.print(f"run {path.name} tags: {' '.join(left) or '(none)'}", markup=False)


@app.command()
def note(run: RunRef, text: Annotated[str, typer.Argument(help="The note; \"\" removes it.")],
         runs_dir: RunsDir = None) -> None:
    """Set a run's note (shown by runs, show, compare and the cockpit)."""
    from genlab.run import tags
    path = own_run(run, runs_dir)
    kept = tags.change(path, note=text).note
    out.print(f"run {path.name} note: {kept}" if kept else f"run {path.name}: note removed", markup=False)


@app.command()
def compare(
    runs_: Annotated[Optional[list[str]], typer.Argument(metavar="RUN...", help="Runs: ids, unique prefixes or 'latest'.")] = None,
    tag: TagOption = None,
    sweep: Annotated[Optional[str], typer.Option("--sweep", help="Every trial of this sweep.")] = None,
    plot: Annotated[Optional[str], typer.Option(help="Overlay the runs' curves of this metric.")] = None,
    x: Annotated[str, typer.Option(help="The plot's x axis: step or time (minutes).")] = "step",
    runs_dir: RunsDir = None,
    as_json: AsJson = False,
) -> None:
    """Runs side by side: what differs in their configurations, then each run's state, steps,
    time, speed, key metric (newest and best) and quality figures."""
    from genlab.run import compare as cmp
    paths = chosen_runs(runs_, tag, sweep, runs_dir)
    if x not in ("step", "time"):
        raise UsageError(f"--x must be step or time, got {x!r}")
    keys, summaries = cmp.compare(paths)
    if plot is not None and not any(cmp.has_metric(p, plot) for p in paths):
        raise UsageError(f"none of these runs has a metric {plot!r}")
    if as_json:
        print(json.dumps({"differs": keys, "runs": [s.to_json() for s in summaries]}, indent=2))
        return
    print_comparison(keys, summaries)
    if plot is not None:
        print_plot(summaries, plot, x)


def chosen_runs(refs: list[str] | None, tag: list[str] | None, sweep: str | None, runs_dir) -> list[Path]:
    """The run directories named, tagged (all of ``tag``) and of ``sweep``, each once, in that order."""
    from genlab.run.store import list_runs, resolve_run, runs_root

    root = runs_root(runs_dir)
    paths = [resolve_run(root, ref) for ref in refs or []]
    if tag:
        paths += [r.path for r in tagged(list_runs(root), tag)]
    if sweep:
        from genlab.sweep.spec import resolve_sweep, trial_runs

        paths += trial_runs(root, resolve_sweep(root, sweep))
    return list(dict.fromkeys(paths))


def print_comparison(keys: list[str], summaries) -> None:
    from genlab.run.compare import flat, fmt
    from genlab.run.sinks import fmt_duration

    piped = not out.is_terminal
    wide = Console(file=out.file, width=100_000, highlight=False, no_color=True) if piped else out
    if keys:
        differs = Table(title="what differs", title_justify="left")
        differs.add_column("run", no_wrap=True)
        for k in keys:
            differs.add_column(k, no_wrap=True)
        for s in summaries:
            f = flat(s.config)
            differs.add_row(s.run_id, *(fmt(f.get(k)) for k in keys))
        wide.print(differs, soft_wrap=False, width=wide.measure(differs).maximum if piped else None)
    elif len(summaries) > 1:
        out.print("the runs' configurations are the same")
    quality_keys = list(dict.fromkeys(k for s in summaries for k in s.quality))
    table = Table(title="how each did", title_justify="left")
    for col in ("run", "state", "step", "time", "img/s", "key metric", "best (step)", *quality_keys):
        table.add_column(col, no_wrap=True, justify="left" if col in ("run", "state", "key metric") else "right")
    for s in summaries:
        metric = s.view.metric(s.key)
        show = metric.format if metric else fmt

        def q(k, s=s):
            m = s.view.metric(k)
            return (m.format(s.quality[k]) if m else fmt(s.quality[k])) if k in s.quality else "-"

        table.add_row(s.run_id, s.state, f"{s.step:,}/{s.total:,}", fmt_duration(s.wall_s) if s.wall_s else "-",
                      f"{s.images_per_s:,.0f}" if s.images_per_s else "-",
                      f"{s.key} {show(s.key_latest)}" if s.key_latest is not None else "-",
                      f"{show(s.key_best)} ({s.key_best_step:,})" if s.key_best is not None else "-",
                      *(q(k) for k in quality_keys))
    wide.print(table, soft_wrap=False, width=wide.measure(table).maximum if piped else None)


def print_plot(summaries, metric: str, x: str) -> None:
    """The runs' curves of ``metric`` overlaid, drawn by plotext as text."""
    import os

    import plotext as plt

    from genlab.run.compare import curve

    plt.clear_figure()
    width, height = (out.width, max(15, min(out.height - 4, 30))) if out.is_terminal else (100, 25)
    plt.plotsize(width, height)
    if not out.is_terminal or "NO_COLOR" in os.environ:
        plt.theme("clear")
    for s in summaries:
        xs, ys = curve(s.path, metric, x)
        if xs:
            plt.plot(xs, ys, label=f"{s.run_id} {s.label}" if s.label != s.run_id else s.run_id, marker="braille")
    plt.title(f"{metric} against {'step' if x == 'step' else 'minutes'}")
    plt.xlabel("step" if x == "step" else "minutes")
    drawn = plt.build()
    if not out.is_terminal:  # plain text for a pipe or a file
        import re

        drawn = re.sub(r"\x1b\[[0-9;]*m", "", drawn)
    print(drawn)


# --------------------------------------------------------------------------- sample


@app.command()
def sample(
    run: RunRef,
    n: Annotated[int, typer.Option("-n", "--n", help="How many digits.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of the latent draw.")] = 0,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Save to FILE.png (a grid) or FILE.npy (uint8 N×28×28).")] = None,
    interpolate: Annotated[bool, typer.Option("--interpolate", help="Rows that walk between pairs of latent points (GANs, VAEs).")] = False,
    rows: Annotated[int, typer.Option(help="--interpolate: how many walks.")] = 4,
    steps: Annotated[int, typer.Option(help="--interpolate: digits a walk, its two ends included.")] = 8,
    linear: Annotated[bool, typer.Option("--linear", help="--interpolate along straight lines (default: spherical, for Gaussian latents).")] = False,
    between: Annotated[Optional[tuple[int, int]], typer.Option(help="--interpolate a VAE between test digits I and J (their encodings).")] = None,
    labels: Annotated[bool, typer.Option("--labels", help="Labelled digits from a conditional model, classes balanced: --out FILE.npz (images, labels).")] = False,
    device: Device = "cpu",
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    ascii: Ascii = False,
) -> None:
    """New digits from a run's newest good checkpoint: printed as text, or saved as PNG or NPY;
    --interpolate walks between latent points instead."""
    import numpy as np
    import torch
    from torchvision.utils import save_image

    from genlab.core import trained
    from genlab.core.device import resolve
    from genlab.run.store import atomic_write_bytes, resolve_run, runs_root

    from genlab.validate import check_seed

    if n <= 0:
        raise UsageError(f"-n must be positive, got {n}")
    check_seed("--seed", seed)
    if labels and (out_file is None or out_file.suffix.lower() != ".npz"):
        raise UsageError("--labels writes images with their labels: give --out FILE.npz")
    if not labels and out_file is not None and out_file.suffix.lower() not in (".png", ".npy"):
        raise UsageError(f"--out must end in .png or .npy, got {out_file.name!r}")
    if interpolate and (rows < 1 or steps < 2):
        raise UsageError(f"--rows must be at least 1 and --steps at least 2, got {rows} and {steps}")
    if between is not None and not interpolate:
        raise UsageError("--between is for --interpolate")
    run_dir = resolve_run(runs_root(runs_dir), run)
    t = trained.newest(run_dir, resolve(device), on_bad=warn_skipped)
    per_row = min(n, 10)
    if labels:
        from genlab.eval import cas
        cas.check_conditional(t.model, run_dir.name, "--labels")
        images, classes = cas.labelled(t.model, n, seed)
        buf = io.BytesIO()
        np.savez(buf, images=images.numpy(), labels=classes.numpy())
        try:
            atomic_write_bytes(out_file, buf.getvalue())
        except OSError as e:
            raise UsageError(f"cannot write {out_file}: {e.strerror}") from None
        out.print(f"saved {n} labelled digits from {run_dir.name} (step {t.step:,}), {n // 10:,} or more of each, to {out_file}")
        return
    if interpolate:
        images, what = walk(t, rows, steps, seed, linear, between, data_dir)
        n, per_row = len(images), steps
    else:
        images, what = t.model.sample(n, torch.Generator().manual_seed(seed)), f"{n} digits"
    if out_file is None:
        out.print(f"{what} from {run_dir.name} at step {t.step:,} (seed {seed}):", soft_wrap=True)
        print_digits(images, ascii)
        return
    buf = io.BytesIO()
    if out_file.suffix.lower() == ".npy":
        np.save(buf, images.numpy())
    else:
        save_image(images.unsqueeze(1).float() / 255, buf, format="png", nrow=per_row, padding=2)
    try:
        atomic_write_bytes(out_file, buf.getvalue())
    except OSError as e:
        raise UsageError(f"cannot write {out_file}: {e.strerror}") from None
    out.print(f"saved {n} digits from {run_dir.name} (step {t.step:,}) to {out_file}")


@app.command()
def latent(
    run: RunRef,
    n: Annotated[int, typer.Option("-n", help="Held-out digits to place (default: all of them).")] = 0,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Save the map as FILE.png.")] = None,
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    as_json: AsJson = False,
) -> None:
    """A VAE's latent map: the held-out digits where its encoder puts them, one colour (and
    character) a digit, and how well the map separates them (k-NN accuracy on the 2-D points)."""
    from genlab.eval import latent as lat
    from genlab.core import trained
    from genlab.core.data import load_for_run
    from genlab.core.device import resolve
    from genlab.render.latent import latent_png, latent_text
    from genlab.run.store import atomic_write_bytes, resolve_run, runs_root

    if n < 0:
        raise UsageError(f"-n must be positive, got {n}")
    if out_file is not None and out_file.suffix.lower() != ".png":
        raise UsageError(f"--out must end in .png, got {out_file.name!r}")
    dev = resolve("cpu")
    run_dir = resolve_run(runs_root(runs_dir), run)
    t = trained.newest(run_dir, dev, on_bad=warn_skipped)
    lat.check_vae(t.model, run_dir.name, "a latent map")
    digits = load_for_run(t.config.data, dev, data_dir)
    images, labels = digits.test_images, digits.test_labels
    if n:
        images, labels = images[:n], labels[:n]
    m = lat.project(lat.encode(t.model, images))
    accuracy = lat.knn_accuracy(m.points, labels.cpu())
    if out_file is not None:
        try:
            atomic_write_bytes(out_file, latent_png(m.points, labels.cpu(), f"{run_dir.name} step {t.step:,}: {m.how}"))
        except OSError as e:
            raise UsageError(f"cannot write {out_file}: {e.strerror}") from None
    if as_json:
        print(json.dumps({"run": run_dir.name, "step": t.step, "dims": m.dims, "how": m.how, "knn_accuracy": accuracy,
                          "k": 5, "n": len(labels), "png": str(out_file) if out_file else None,
                          "points": [[round(float(x), 4), round(float(y), 4), int(c)]
                                     for (x, y), c in zip(m.points.tolist(), labels.tolist())]}))
        return
    width, height = (out.width, max(16, out.height - 6)) if out.is_terminal else (80, 30)
    out.print(f"{run_dir.name} at step {t.step:,}: {len(labels):,} held-out digits in its {m.dims}-d latent, "
              f"drawn as {m.how}; 5-NN accuracy on the map {accuracy:.1%}", soft_wrap=True)
    print(latent_text(m.points, labels.cpu(), width, height, colour=out.is_terminal and not out.no_color))
    if out_file is not None:
        out.print(f"saved the map to {out_file}")


@app.command()
def anomaly(
    run: RunRef,
    images: Annotated[Optional[Path], typer.Option("--images", help="Score these images (.npy, uint8 N×28×28) instead of the test set.")] = None,
    score: Annotated[str, typer.Option(help="elbo (negative ELBO), recon (reconstruction) or is-nll (importance-sampled).")] = "elbo",
    k: Annotated[int, typer.Option("-k", help="Importance samples per image for --score is-nll.")] = 100,
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    as_json: AsJson = False,
) -> None:
    """Anomaly scores from a VAE (higher = more unusual). On the test set of a run trained with
    --exclude-digits: the AUROC of the left-out digits against the learnt ones, and both
    score histograms."""
    import torch

    from genlab.eval import anomaly as an

    from genlab.eval import latent as lat

    from genlab.core import trained
    from genlab.core.data import load_for_run
    from genlab.core.device import resolve
    from genlab.run.store import resolve_run, runs_root

    if score not in an.SCORES:
        raise UsageError(f"unknown --score {score!r}; choose from {', '.join(an.SCORES)}")
    if k < 1:
        raise UsageError(f"-k must be positive, got {k}")
    given = an.read_images(images) if images is not None else None
    dev = resolve("cpu")
    run_dir = resolve_run(runs_root(runs_dir), run)
    t = trained.newest(run_dir, dev, on_bad=warn_skipped)
    lat.check_vae(t.model, run_dir.name, "anomaly detection")
    excluded = tuple(t.config.exclude_digits)
    digits = load_for_run(t.config.data, dev, data_dir)
    learnt = ~torch.isin(digits.test_labels, torch.tensor(excluded, dtype=digits.test_labels.dtype))
    base = an.scores(t.model, digits.test_images[learnt], score, k)  # the learnt test digits
    report = {"run": run_dir.name, "step": t.step, "score": score, "excluded": list(excluded)}
    if given is not None:
        mine = an.scores(t.model, given, score, k)
        pct = torch.searchsorted(base.sort().values, mine).double() / len(base)
        report.update(n=len(mine), scores=[round(float(v), 4) for v in mine],
                      percentiles=[round(float(p), 4) for p in pct])
    elif excluded:
        other = an.scores(t.model, digits.test_images[~learnt], score, k)
        per_digit = {int(d): an.auroc(other[digits.test_labels[~learnt] == d], base) for d in excluded}
        report.update(n_learnt=len(base), n_excluded=len(other), auroc=an.auroc(other, base), auroc_by_digit=per_digit,
                      mean_learnt=float(base.mean()), mean_excluded=float(other.mean()))
    else:
        raise UsageError(f"run {run_dir.name} left out no digits: train with --exclude-digits D to measure "
                         "how well it finds them, or score your own with --images FILE.npy")
    if as_json:
        print(json.dumps(report))
        return
    head = f"{run_dir.name} at step {t.step:,}, score {score} (higher = more unusual)"
    if given is not None:
        out.print(f"{head}: {len(mine):,} images from {images}; mean {float(mine.mean()):.4g}, "
                  f"median percentile among the learnt test digits {float(pct.median()):.0%}", soft_wrap=True)
        for i, (v, p) in enumerate(zip(mine[:10].tolist(), pct[:10].tolist())):
            out.print(f"  image {i}: {v:.4g}  (above {p:.0%} of the learnt test digits)")
        return
    out.print(f"{head}: left out {','.join(map(str, excluded))}; AUROC {report['auroc']:.3f} "
              f"({len(other):,} left-out against {len(base):,} learnt test digits)", soft_wrap=True)
    if len(excluded) > 1:
        out.print("  by digit: " + "  ".join(f"{d}: {a:.3f}" for d, a in per_digit.items()))
    print(score_histograms(base, other, score, out.width if out.is_terminal else 80, colour=out.is_terminal and not out.no_color))


def score_histograms(learnt, left_out, score: str, width: int, colour: bool) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, 18)
    plt.theme("pro" if colour else "clear")
    plt.hist(learnt.tolist(), bins=40, label="learnt digits", marker="░" if not colour else "sd")
    plt.hist(left_out.tolist(), bins=40, label="left-out digits", marker="█" if not colour else "hd")
    plt.title(f"{score} of the test digits")
    drawn = plt.build()
    return drawn if colour else plt.uncolorize(drawn)


def walk(t, rows: int, steps: int, seed: int, linear: bool, between, data_dir) -> tuple:
    """The digits of ``rows`` latent walks of ``steps`` each, and what they are, in words."""
    import torch

    from genlab.eval import latent as lat
    lat.check_latent(t.model, t.run_dir.name)
    ends = None
    if between is not None:
        from genlab.core.data import load_for_run

        lat.check_vae(t.model, t.run_dir.name, "--between (walking between encoded digits)")
        digits = load_for_run(t.config.data, torch.device("cpu"), data_dir)
        i, j = between
        if not (0 <= i < len(digits.test_images) and 0 <= j < len(digits.test_images)):
            raise UsageError(f"--between takes test digits 0 to {len(digits.test_images) - 1}, got {i} and {j}")
        z = lat.encode(t.model, digits.test_images[[i, j]])
        ends = (z[0], z[1])
        rows = 1
    latents = lat.walks(t.model, rows, steps, torch.Generator().manual_seed(seed), linear=linear, ends=ends)
    how = "straight" if linear else "spherical"
    where = f"between test digits {between[0]} and {between[1]}" if between else "between random latent points"
    return t.model.decode(latents), f"{rows} {how} walk{'s' if rows > 1 else ''} of {steps} {where}"


def warn_skipped(path: Path, error: str) -> None:
    err.print(f"genlab: warning: skipping {error}", markup=False)


# --------------------------------------------------------------------------- bench, models, data


@app.command()
def bench(
    model: Annotated[str, typer.Argument(help="Model to time.")],
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Batch size (default: the model's).")] = None,
    steps: Annotated[int, typer.Option(help="Timed steps (after 10 warm-up steps).")] = 100,
    device: Device = "auto",
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the networks; eager if it fails.")] = False,
    amp: Annotated[str, typer.Option(help="Mixed precision: off or bf16.")] = "off",
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Training throughput of MODEL in images per second."""
    from genlab.train.bench import throughput

    result = throughput(model, batch_size, steps, device, data_dir, compile=compile, amp=amp)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        out.print(f"{result['model']}: {result['images_per_s']:,.0f} images/s (batch {result['batch_size']}, "
                  f"{result['steps']} steps in {result['seconds']:.2f}s on {result['device']}, {result['threads']} threads)")


@app.command(name="models")
def list_models(as_json: AsJson = False) -> None:
    """Every model with its family, parameter count per network and defaults."""
    from genlab import models
    rows = []
    for name, cls in models.MODELS.items():
        m = models.build(name, device="cpu")
        rows.append({"name": name, "family": cls.family, "parameters": m.parameter_counts(),
                     "defaults": cls.defaults, "presets": cls.presets, "description": cls.description})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    def pairs(d: dict) -> str:
        return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())

    # a block per model rather than a table: six columns do not fit 80 of them
    for r in rows:
        out.print(f"[bold]{r['name']}[/] ({r['family']}): {r['description']}")
        out.print("  parameters: " + ", ".join(f"{k} {v:,}" for k, v in r["parameters"].items()))
        out.print(f"  defaults:   {pairs(r['defaults'])}")
        for p, v in r["presets"].items():
            out.print(f"  --preset {p}: {pairs(v)}")


@app.command()
def data(data_dir: DataDir = None, as_json: AsJson = False,
         download: Annotated[bool, typer.Option(help="Try a download when nothing is found.")] = False) -> None:
    """Where the digits come from, how many, and whether the files check out."""
    from genlab.core.data import check_files

    report = check_files(data_dir, download=download)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        out.print(f"source: {report['source']} ({report['location']})")
        if report.get("notice"):
            out.print(report["notice"])
        for f in report["files"]:
            if f["ok"]:
                out.print(f"  [green]ok[/]   {f['file']}: {f['count']:,} items, {f['bytes']:,} bytes; {f['known']}")
            else:
                out.print(f"  bad  {f['error']}", markup=False)
        if report["ok"]:
            out.print(f"{report['train']:,} training digits, {report['test']:,} held-out digits")
    if not report["ok"]:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- evaluation


@app.command(name="eval")
def evaluate(
    run: Annotated[str, typer.Argument(help="A run id, prefix or 'latest'; or 'train-classifier' to train the judge.")],
    n: Annotated[int, typer.Option("-n", help="Digits to generate for sample-based models.")] = 10_000,
    k: Annotated[int, typer.Option("-k", help="Importance samples per digit for VAEs.")] = 1_000,
    epochs: Annotated[int, typer.Option(help="train-classifier and --cas: the classifier's epochs.")] = 4,
    cas: Annotated[bool, typer.Option("--cas", help="Classification Accuracy Score: a classifier trained on N generated digits (a conditional model's), tested on real ones, beside one trained on N real digits.")] = False,
    device: Device = "auto",
    data_dir: DataDir = None,
    runs_dir: RunsDir = None,
    as_json: AsJson = False,
) -> None:
    """Quality of a run's newest good checkpoint: FLD, class histogram and confident share
    (GANs), importance-sampled NLL (VAEs), test NLL (PixelCNNs). 'genlab eval train-classifier'
    trains the classifier these use and saves it into the package."""
    from genlab.core.device import resolve

    dev = resolve(device)
    if n <= 0 or k <= 0:
        raise UsageError("-n and -k must be positive")
    if run == "train-classifier":
        train_judge(epochs, dev, data_dir)
        return
    if cas:
        return classification_accuracy_score(run, n, epochs, dev, data_dir, runs_dir, as_json)
    result = evaluate_run(run, n, k, dev, data_dir, runs_dir)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    out.print(f"[bold]{result['run']}[/] ({result['model']}, step {result['step']:,}):")
    for key, value in result["metrics"].items():
        shown = " ".join(f"{v:.3f}" for v in value) if isinstance(value, list) else f"{value:.4g}"
        out.print(f"  {key:16} {shown}")


def classification_accuracy_score(run: str, n: int, epochs: int, dev, data_dir, runs_dir, as_json: bool) -> None:
    from genlab.eval import cas as cas_
    from genlab.core import trained
    from genlab.core.data import load_for_run
    from genlab.run.store import atomic_write_json, resolve_run, runs_root

    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    if n < cas_.MIN_N:
        raise UsageError(f"-n must be at least {cas_.MIN_N} (one batch of the classifier) for --cas, got {n}")
    t = trained.newest(resolve_run(runs_root(runs_dir), run), dev, on_bad=warn_skipped)
    cas_.check_conditional(t.model, t.run_dir.name, "--cas")
    digits = load_for_run(t.config.data, dev, data_dir)
    if not as_json:
        out.print(f"training the digit classifier twice ({epochs} epochs): on {n:,} digits from {t.run_dir.name} "
                  f"(step {t.step:,}), and on {n:,} real ones")
    result = {"run": t.run_dir.name, "step": t.step, **cas_.score(t.model, digits, n, epochs, device=dev)}
    atomic_write_json(t.run_dir / "cas.json", result)  # the newest CAS, for the cockpit and show
    if as_json:
        print(json.dumps(result, indent=2))
        return
    table = Table(title=f"classification accuracy on the {len(digits.test_images):,} real test digits", title_justify="left")
    for col in ("trained on", "all", *map(str, range(10))):
        table.add_column(col, justify="left" if col == "trained on" else "right", no_wrap=True)
    table.add_row(f"{n:,} generated (CAS)", f"{result['cas']:.1%}", *(f"{v:.0%}" for v in result["cas_by_class"]))
    table.add_row(f"{n:,} real", f"{result['real']:.1%}", *(f"{v:.0%}" for v in result["real_by_class"]))
    if out.is_terminal:
        out.print(table)
    else:  # a pipe or a file: the whole table (Rich would cut it to 80 columns)
        wide = Console(file=out.file, width=100_000, highlight=False, no_color=True)
        wide.print(table, width=wide.measure(table).maximum)
    out.print(f"gap: {100 * result['gap']:.1f} points (real minus generated)")


def train_judge(epochs: int, dev, data_dir) -> None:
    from genlab.eval import classifier
    from genlab.core.data import load_digits

    digits = load_digits(data_dir, dev)
    out.print(f"training the digit classifier on {len(digits.train_images):,} digits ({digits.source}), {epochs} epochs")
    model, acc = classifier.train(digits, epochs=epochs, device=dev, log=out.print)
    classifier.save(model.cpu(), acc)
    out.print(f"saved {classifier.WEIGHTS} (test accuracy {acc:.4f})")


def evaluate_run(run: str, n: int, k: int, dev, data_dir, runs_dir) -> dict:
    from genlab.eval import quality as evaluate
    from genlab.core import trained
    from genlab.core.data import load_for_run
    from genlab.run.store import resolve_run, runs_root

    t = trained.newest(resolve_run(runs_root(runs_dir), run), dev, on_bad=warn_skipped)
    digits = load_for_run(t.config.data, dev, data_dir)
    gan = t.model.family == "gan"
    metrics = evaluate.measure(t.model, digits.test_images, digits.test_labels,
                               n=n if gan else len(digits.test_images), k=k)
    if t.model.family == "vae":  # the test negative ELBO too
        metrics = {**t.model.evaluate(digits.test_images, digits.test_labels), **metrics}
    return {"run": t.run_dir.name, "model": t.config.model, "step": t.step, "metrics": metrics}


# --------------------------------------------------------------------------- the cockpit


@app.command()
def tui(runs_dir: RunsDir = None) -> None:
    """Open the cockpit: every run, live; n starts a new one. Quitting never stops a run.

    The cockpit runs at a lower priority (nice +10) than the runs it starts and watches."""
    from tui.app import GenlabApp
    from tui.priority import yield_to_training
    from tui.source import RunsSource

    yield_to_training()
    run_app(GenlabApp(RunsSource(runs_dir)))


def run_app(app) -> None:
    """Run the cockpit; if it failed (Textual printed why), exit non-zero."""
    app.run()
    if app.return_code:
        raise typer.Exit(app.return_code)


@app.command()
def watch(run: RunRef, runs_dir: RunsDir = None) -> None:
    """Open the cockpit on one run's dashboard (at a lower priority than training, as tui)."""
    from genlab.run.store import resolve_run, runs_root
    from tui.app import GenlabApp
    from tui.priority import yield_to_training
    from tui.source import RunsSource

    run_dir = resolve_run(runs_root(runs_dir), run)
    yield_to_training()
    run_app(GenlabApp(RunsSource(runs_dir), open_run=run_dir.name))


from genlab.cli.sweep import sweep_app  # noqa: E402  (it uses the helpers above)
from genlab.cli import export as cli_export  # noqa: E402,F401  (genlab export; it uses the helpers above)

app.add_typer(sweep_app, name="sweep")


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage errors become one line on standard error and exit 2.

    Typer's own handler draws a multi-line box; in non-standalone mode its exceptions reach us
    instead (click's or the copy typer vendors: both carry ``exit_code`` and ``format_message``).
    """
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="genlab", standalone_mode=False)
    except typer.Abort:
        err.print("genlab: aborted")
        sys.exit(130)
    except OSError as e:  # a full disk, a vanished directory: one line, never a traceback
        from genlab.errors import os_error_message

        err.print(f"genlab: error: {os_error_message(e, e.filename or 'the run directory')}", markup=False)
        sys.exit(1)
    except Exception as e:
        if not (hasattr(e, "exit_code") and hasattr(e, "format_message")):
            raise
        if type(e).__name__ == "NoArgsIsHelpError":  # bare `genlab`: the help is the message
            print(e.format_message())
            sys.exit(0)
        ctx = getattr(e, "ctx", None)
        hint = ""
        if e.exit_code == 2:
            hint = f" (see 'genlab {ctx.info_name} --help')" if ctx is not None and ctx.parent else " (see 'genlab --help')"
        err.print(f"genlab: error: {e.format_message()}{hint}", soft_wrap=True, markup=False)
        sys.exit(e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
