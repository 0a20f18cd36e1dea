"""genlab train, and the hidden commands that run a detached run, a rank or a sweep's worker."""

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from genlab.cli.app import Ascii, DataDir, Device, RunsDir, app, err, out
from genlab.cli.runs import print_newest_grid, run_view
from genlab.config import Cadence, Speed, default
from genlab.errors import GenlabError, UsageError
from genlab.run.rundir import RunDir
from genlab.run.state import RunState

Notify = Annotated[Optional[list[str]], typer.Option(
    "--notify", metavar="URL", help="Send a message to this Apprise URL (repeatable: Slack, Discord, Telegram, ntfy, "
    "e-mail, json://HOST:PORT/PATH ...) when the run finishes, fails, diverges, is pruned or changes verdict. "
    "Not kept with the run (a URL may hold a token): give it again to genlab resume.")]
NotifyWhen = Annotated[Optional[list[str]], typer.Option(
    "--notify-when", metavar="EXPR", help="With --notify: also a message when a figure crosses a threshold, "
    "e.g. test_fld<20 or d_loss>5 (repeatable; once per crossing).")]


def alerts_for(notify: list[str] | None, notify_when: list[str] | None, model_names):
    """--notify and --notify-when, checked against the models' figures (genlab/run/notify.py)."""
    from genlab.models.catalogue import spec
    from genlab.run.notify import Alerts

    return Alerts.parse(notify, notify_when, {m: spec(m).view for m in model_names} if notify_when else None)


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
    keep_checkpoints: Annotated[int, typer.Option("--keep-checkpoints", help="Newest checkpoints to keep.")] = default("keep_checkpoints", Cadence),
    milestone_every: Annotated[float, typer.Option("--milestone-every", help="Also keep a checkpoint per this many seconds of training to fork from, fewer as they age.")] = default("milestone_every_s", Cadence),
    milestone_budget: Annotated[float, typer.Option("--milestone-budget", help="Disk (MB) the kept milestones may take; the most spread out are kept.")] = default("milestone_budget_mb", Cadence),
    eval_size: Annotated[int, typer.Option("--eval-size", help="Held-out digits evaluated at each epoch's end.")] = default("eval_size", Cadence),
    log_every: Annotated[float, typer.Option("--log-every", help="Seconds between plain progress lines.")] = default("log_every_s", Cadence),
    quality_every: Annotated[float, typer.Option("--quality-every", help="Seconds between live quality checks (kept under 10% of time).")] = default("quality_every_s", Cadence),
    quality_samples: Annotated[int, typer.Option("--quality-samples", help="Digits a live quality check generates (GANs) or scores (VAEs, PixelCNNs); fewer: quicker, noisier.")] = default("quality_samples", Cadence),
    exclude_digits: Annotated[Optional[str], typer.Option("--exclude-digits", help="Leave these digits out of training, e.g. 9 or 1,7 (for genlab anomaly).")] = None,
    tensorboard: Annotated[Optional[Path], typer.Option(
        "--tensorboard", help="Also write TensorBoard event files, live, to DIR/<run id> (pip install 'genlab\\[tensorboard]').")] = None,
    nproc: Annotated[int, typer.Option("--nproc", help="Processes to train on, through PyTorch's launcher (torch.distributed.run): gloo on CPUs, NCCL on GPUs; --batch-size is the global batch.")] = 1,
    sync_bn: Annotated[bool, typer.Option("--sync-bn/--no-sync-bn", help="With --nproc on GPUs: BatchNorm over the global batch (SyncBatchNorm), or each rank's own.")] = True,
    detach: Annotated[bool, typer.Option("--detach", help=f"Train in the background, in its own session; output to {RunDir.LOG}.")] = False,
    ascii: Ascii = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --detach: print the started run as JSON (run, run_dir, state, step, pid, log).")] = False,
    notify: Notify = None,
    notify_when: NotifyWhen = None,
) -> None:
    """Train MODEL: in the foreground, ending with its samples and the run id, or --detach."""
    from genlab.config import parse_hp
    from genlab.run.notify import handed_on
    from genlab.train.world import from_env

    options = dict(data_dir=data_dir, runs_dir=runs_dir, name=name, epochs=epochs, max_steps=max_steps,
                   max_minutes=max_minutes, batch_size=batch_size, lr=lr, seed=seed, device=device, hp=parse_hp(hp),
                   preset=preset, compile=compile, amp=amp, sample_every_s=sample_every,
                   checkpoint_every_s=checkpoint_every, keep_checkpoints=keep_checkpoints, eval_size=eval_size,
                   milestone_every_s=milestone_every, milestone_budget_mb=milestone_budget,
                   log_every_s=log_every, quality_every_s=quality_every, quality_samples=quality_samples,
                   exclude_digits=exclude_digits,
                   tensorboard=tensorboard, sync_bn=sync_bn)

    def made(processes: int):
        from genlab.train.execute import prepare

        return prepare(model, **options, processes=processes)

    if as_json and not detach:
        raise UsageError("--json is for --detach: a run in the foreground prints its progress")
    alerts = alerts_for(notify, notify_when, [model])
    world = from_env()
    if world.distributed:  # a rank of a job started by torchrun (on one machine or several)
        if nproc != 1 or detach:
            raise UsageError(f"under torchrun (WORLD_SIZE {world.size}) the processes are there already: "
                             "leave out --nproc and --detach")
        return train_as_rank(world, made, device, ascii, alerts)
    if detach:  # checked, made and handed to its worker without torch: it answers at once
        from genlab.train.start import make_run_dir, plan

        run_dir = make_run_dir(plan(model, **options, processes=nproc))
        with handed_on(alerts):  # (in the worker's environment, never on its command line)
            start_detached(run_dir, nproc=nproc, as_json=as_json, wait=False)
        return
    from genlab.train.execute import create

    prepared = made(nproc)
    run_dir = create(prepared)
    if nproc > 1:
        with handed_on(alerts):
            return train_on_processes(run_dir, nproc, ascii=ascii)
    del prepared.digits  # the trainer reads them again, as a resumed run would
    foreground(run_dir, ascii, notify=alerts)


def train_as_rank(world, made, device: str, ascii: bool, alerts=None) -> None:
    """One rank of `torchrun ... -m genlab train MODEL ...`: rank 0 makes the run directory (in
    a runs directory every rank sees: on several machines, a shared filesystem) and tells the
    others its id; then every rank trains it (rank 0 in the foreground, writing)."""
    from genlab.core.device import resolve
    from genlab.train import distributed
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
        foreground(Path(made_dir), ascii, on_divergence="pause", notify=alerts)
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

    from genlab.core.speed import cpu_threads
    from genlab.run.files import read_json
    from genlab.train.execute import record_lost_ranks

    out.print(f"run {run_dir.name}: {nproc} processes (torch.distributed.run); watch: genlab watch {run_dir.name}")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cpu_threads() // nproc)))  # (its ranks share the cores)
    done = threading.Event()
    tail = threading.Thread(target=follow_log, args=(RunDir(run_dir).log, done), daemon=True)
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
        record_lost_ranks(run_dir, {rank: (f.pid, f.exitcode, f.timestamp) for rank, f in e.failures.items()})
        err.print(f"genlab: {len(e.failures)} of the {nproc} processes failed (exit codes "
                  f"{', '.join(str(f.exitcode) for f in e.failures.values())}): see {RunDir(run_dir).log}", markup=False)
    finally:
        done.set()
        if follow:
            tail.join(timeout=5)
    state = (read_json(RunDir(run_dir).status) or {}).get("state", "?")
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


def start_detached(run_dir: Path, options: dict | None = None, nproc: int = 1, as_json: bool = False,
                   wait: bool = True) -> dict:
    """Start the worker on ``run_dir`` with ``options`` (genlab.train.execute.execute's), or the
    launcher of its ``nproc`` ranks, and (``wait``) wait until it has settled into a state of its
    own: a resume, whose checks the worker makes. A new run, checked already, is left
    ``starting`` at once (``wait=False``). Says so in words, or (``as_json``) as the JSON object
    it returns: run, run_dir, state, step, pid, processes, log."""
    from genlab.run.launch import read_status, spawn, wait_until_settled
    from genlab.run.lock import is_locked

    if is_locked(run_dir):
        raise UsageError(f"run {run_dir.name} is held by another process ({lock_holder(run_dir)}): "
                         "it is being trained already")
    proc = spawn(run_dir, options or {}, nproc=nproc)
    try:
        status = wait_until_settled(run_dir, proc) if wait else read_status(run_dir)
    except GenlabError:
        if proc.returncode is not None and is_locked(run_dir):  # another resume won the race
            raise UsageError(f"run {run_dir.name} is held by another process ({lock_holder(run_dir)}): "
                             "it was resumed elsewhere at the same moment") from None
        raise
    rid = run_dir.name
    started = {"run": rid, "run_dir": str(run_dir), "state": status["state"], "step": status.get("step", 0),
               "pid": proc.pid, "processes": nproc, "log": str(RunDir(run_dir).log)}
    if as_json:
        print(json.dumps(started))
        return started
    what = f"pid {proc.pid}" if nproc == 1 else f"{nproc} processes, launcher pid {proc.pid}"
    out.print(f"run {rid} {status['state']} in the background ({what}, step {status.get('step', 0):,}); "
              f"log: {RunDir(run_dir).log}", soft_wrap=True)
    out.print(f"  watch:   genlab watch {rid}   |   genlab tui   |   tail -f {RunDir(run_dir).log}", soft_wrap=True)
    out.print(f"  control: genlab pause {rid}   genlab resume {rid}   genlab stop {rid}", soft_wrap=True)
    return started


def lock_holder(run_dir: Path) -> str:
    try:
        pid = RunDir(run_dir).lock.read_text(errors="replace").strip()
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
    from genlab.run.files import read_json

    if state == RunState.FINISHED:
        print_newest_grid(run_dir, ascii, run_view(run_dir).sample_classes)
        out.print(f"run {run_dir.name} finished: genlab show {run_dir.name}")
        return
    status = read_json(RunDir(run_dir).status)
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
    from genlab.train.detached import train_detached

    raise typer.Exit(train_detached(run_dir, json.loads(options)))


@app.command(name="_sweep", hidden=True)
def sweep_worker(sweep_dir: Path, parallel: Annotated[int, typer.Option(help="Trials at once.")] = 1) -> None:
    """A sweep's worker (started by genlab sweep, sweep resume and sweep join)."""
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from genlab.run.notify import Alerts, sweep_ended
    from genlab.sweep.worker import main as work

    end = work(sweep_dir, parallel)
    if (alerts := Alerts.from_env()) is not None:  # (genlab sweep --notify: its trials tell their own ends)
        for problem in sweep_ended(sweep_dir, end, alerts):
            print(f"warning: {problem}", flush=True)


# --------------------------------------------------------------------------- run control
