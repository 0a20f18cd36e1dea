"""The sweep worker: asks Optuna for trials, runs each as an ordinary detached genlab run, feeds
the runs' own quality checks to the pruner and tells Optuna how each ended.

``genlab _sweep SWEEP_DIR --parallel N`` (started detached by ``genlab sweep``, ``sweep resume``
and ``sweep join``). Several workers, on one machine or several sharing the runs directory, can
work one sweep: a trial is asked of Optuna under the sweep's ``ask.lock`` (a POSIX lock, which
NFS honours), so no more trials are asked than the sweep has and no grid point is given twice;
each trial records the worker that runs it. A worker that finds a running trial whose worker is
dead (killed, its machine gone) takes it over: a live run it watches, a stopped or crashed one
it resumes from its checkpoint, a finished one it only reports; a trial is told to Optuna once.

The loop, every POLL_S: what the sweep is wanted to do (run, pause, stop); each trial's new
events (quality checks reported to the pruner) and state (told to Optuna when it ends); new
trials while there is room; the worker's heartbeat; trials.json for readers without Optuna.

A sweep with several ``--seeds`` runs each trial (one configuration) once per seed, each seed an
ordinary run (genlab.sweep.spec.trial_seeds: ``<sweep>-NNN-s<seed>``), as many runs at once as
``--parallel`` allows; the trial ends when all its runs have, and Optuna is told the mean of their
objectives (the trial's ``seeds`` attribute holds each one's). A run that fails fails its trial
(its other runs are stopped). Such a sweep is not pruned (genlab.sweep.plan refuses --prune).
A worker that takes over such a trial takes over each of its runs, and starts those not made yet.
"""

from __future__ import annotations

import fcntl
import os
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState

from genlab.errors import GenlabError
from genlab.run import control, figure_sources
from genlab.run.files import atomic_write_json
from genlab.run.follow import EventTail
from genlab.run.held import HeldDir
from genlab.run.launch import read_status, spawn, wait_until_settled
from genlab.run.lock import RunLock
from genlab.run.rundir import RunDir, SweepDir
from genlab.run.state import RunState, effective_state
from genlab.run.sweeps import SweepState, live_workers, read_spec, wanted
from genlab.sweep import study as studies
from genlab.sweep.spec import run_options, trial_seeds, worker_name
from genlab.train import warm

POLL_S = 0.5
ADOPT_EVERY_S = 10.0  # how often a worker looks for trials whose worker died
SNAPSHOT_EVERY_S = 5.0  # trials.json at least this often (at once when a trial starts or ends)
MAX_RESUMES = 2  # a trial whose run crashes more often than this fails


@dataclass
class Active:
    """A trial this worker runs."""

    number: int
    trial: optuna.Trial
    run_dir: Path
    slot: int
    seed: int | None = None  # the seed of a trial run once per seed (None: the trial's one run)
    proc: subprocess.Popen | None = None
    last: float | None = None  # the objective's newest value
    sources: figure_sources.Sources = field(default_factory=figure_sources.Sources)  # where it is read from (genlab/run/figure_sources.py)
    reported: set = field(default_factory=set)  # steps reported to the pruner
    pruned_at: int | None = None
    sent: str | None = None  # the last command this worker sent the run (pause, stop)
    resumes: int = 0
    tail: EventTail = field(init=False)  # its events.jsonl, read as it grows

    def __post_init__(self):
        self.tail = EventTail(RunDir(self.run_dir).events)


class Worker:
    def __init__(self, sweep_dir: Path, parallel: int, held: HeldDir | None = None):
        # the sweep's files through the directory held open (genlab/held.py); its trials beside it
        self.held = held
        self.dir, self.root = (held.root if held else sweep_dir), sweep_dir.parent
        self.spec = read_spec(self.dir)
        self.parallel = parallel
        self.name = worker_name()
        self.home = SweepDir(self.dir).worker_home(self.name)
        self.active: dict[str, Active] = {}  # by run id: each run of the trials this worker runs
        self.waiting: list[tuple] = []  # (trial, params, run id, seed): a trial's runs not started yet
        self.objectives: dict[int, dict] = {}  # trial number -> seed -> its run's objective, as its runs end
        self.started = time.time()
        self.cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.next_adopt = self.next_snapshot = 0.0
        self.changed = True  # trials.json is behind the study
        self.done_here = 0
        self.warning = None  # the study's database is unreachable: why (genlab.sweep.storage.Retrying)
        self.beating = SweepState.RUNNING  # the state last beaten
        # gRPC does not survive a fork (the child aborts in its poller): behind the proxy, trials are spawned
        self.forks = warm.available() and not studies.over_grpc(self.spec)

    # ------------------------------------------------------------------ the loop

    def run(self) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        lock = RunLock(self.home)
        if not lock.acquire():
            raise GenlabError(f"worker {self.name} is running already")
        try:
            self.storage = studies.storage(self.dir, self.spec, outage=self.outage if self.spec.storage else None)
            self.study = studies.load(self.dir, self.spec, store=self.storage)
            self.study_id = self.storage.get_study_id_from_name(self.spec.sweep_id)
            self.say(f"worker {self.name} on sweep {self.spec.sweep_id}: {self.parallel} trial(s) at once")
            if self.forks:  # torch and the engine once, for every trial this worker forks
                warm.warm_up(self.implementations())
            self.beat(SweepState.RUNNING)
            end = self.loop()
            self.snapshot()
            if end == SweepState.FINISHED:
                self.fairness()
            self.beat(end)
            self.say(f"worker {self.name} {end}: {self.done_here} trial(s) ended here; "
                     f"CPU {self.cpu_s():.1f} s in {time.time() - self.started:.0f} s")
            return end
        finally:
            lock.release()

    def loop(self) -> str:
        while True:
            if self.held is not None and self.held.moved():
                self.say(f"{self.held.path} no longer names this sweep's directory (moved or replaced): this worker "
                         "stops here, its trials go on; `genlab sweep join` where the sweep now is takes them over")
                return SweepState.STOPPED
            want = wanted(self.dir)
            if time.monotonic() >= self.next_adopt:
                self.next_adopt = time.monotonic() + ADOPT_EVERY_S
                self.adopt()
            for a in list(self.active.values()):
                if self.active.get(a.run_dir.name) is a:  # (not ended with another run of its trial)
                    self.watch(a, want)
            if want == "stop" and not self.active:
                return SweepState.STOPPED
            if want == "run":
                self.fill()
                if not self.active and not self.waiting and self.remaining() == 0:
                    return SweepState.FINISHED
            if self.changed or time.monotonic() >= self.next_snapshot:
                self.snapshot()
            self.beat({"run": SweepState.RUNNING, "pause": SweepState.PAUSED, "stop": SweepState.STOPPING}[want])
            time.sleep(POLL_S)

    # ------------------------------------------------------------------ new trials

    @contextmanager
    def ask_lock(self):
        with open(SweepDir(self.dir).ask_lock, "a+") as f:
            fcntl.lockf(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(f, fcntl.LOCK_UN)

    def implementations(self) -> list[str]:
        """Where the sweep's models' classes live ("module:Class")."""
        from genlab.models.catalogue import spec

        names = [self.spec.model] if self.spec.model else list(self.spec.grid.get("model", []))
        return [spec(name).implementation for name in names if name]

    def remaining(self) -> int:
        return max(0, self.spec.trials - len(self.study.get_trials(deepcopy=False)))

    def numbers(self) -> set[int]:
        """The trials this worker runs (a run of theirs going, or waiting to start)."""
        return {a.number for a in self.active.values()} | {w[0].number for w in self.waiting}

    def fill(self) -> None:
        while len(self.active) < self.parallel:
            if self.waiting:  # a trial's next seed
                self.start(*self.waiting.pop(0))
                continue
            with self.ask_lock():
                if self.remaining() == 0:
                    return
                trial = self.study.ask()
                trial.set_user_attr("worker", self.name)
                runs = trial_seeds(self.spec, trial.number)
                trial.set_user_attr("run_id", next(iter(runs.values())))
                if len(runs) > 1:
                    trial.set_user_attr("run_ids", {str(seed): run_id for seed, run_id in runs.items()})
                params = studies.suggest(trial, self.spec)
            self.waiting += [(trial, params, run_id, seed) for seed, run_id in runs.items()]

    def start(self, trial: optuna.Trial, params: dict, run_id: str, seed: int | None = None) -> None:
        """Create a run of the trial (torch-free: genlab.train.start) and start its training
        process; a trial whose run is refused fails."""
        from genlab.train.start import make_run_dir, plan

        options = run_options(self.spec, params, seed)
        model, data_dir = options.pop("model"), options.pop("data_dir", None)
        try:
            run_dir = make_run_dir(plan(model, data_dir=data_dir, runs_dir=self.root, name=run_id, **options))
        except GenlabError as e:
            self.fail(trial.number, f"its run was refused: {e}")
            return
        a = Active(trial.number, trial, run_dir, self.free_slot(), seed=seed)
        a.proc = self.launch(run_dir, {}, a.slot)
        self.active[run_id] = a
        seeded = f" (seed {seed})" if seed is not None else ""
        self.say(f"trial {trial.number} started: run {run_id}{seeded} " + " ".join(f"{k}={v}" for k, v in params.items()))

    def launch(self, run_dir: Path, options: dict, slot: int):
        """The training process of a trial's run (``options``: genlab.train.execute.execute's):
        forked from this warm worker where it can be (genlab/train/warm.py), else spawned."""
        if self.forks:
            return warm.fork_trial(run_dir, options, cpus=self.slot_cpus(slot))
        return spawn(run_dir, options, cpus=self.slot_cpus(slot))

    def free_slot(self) -> int:
        used = {a.slot for a in self.active.values()}
        return next(s for s in range(len(self.active) + 1) if s not in used)

    def slot_cpus(self, slot: int) -> set[int] | None:
        """Trials at once on a CPU share its cores: slot ``s`` gets every ``parallel``-th core
        (one thread a core each); one trial at a time gets them all."""
        if self.parallel <= 1 or not self.cpus or self.spec.run.get("device") not in (None, "auto", "cpu"):
            return None
        mine = self.cpus[slot % self.parallel::self.parallel] or [self.cpus[slot % len(self.cpus)]]
        return set(mine)

    # ------------------------------------------------------------------ trials whose worker died

    def adopt(self) -> None:
        with self.ask_lock():
            # (read under the lock: a worker beats before it asks for a trial, and asks under this
            # lock, so every trial seen here has a worker that was live when it was asked; read
            # before, a worker that started meanwhile looked dead and its new trial was taken)
            live = {w["name"] for w in live_workers(self.dir)} | {self.name}
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if t.number in self.numbers() or t.user_attrs.get("worker") in live:
                    continue
                trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, t.number)
                before = t.user_attrs.get("worker") or "a dead worker"
                trial = optuna.Trial(self.study, trial_id)
                trial.set_user_attr("worker", self.name)
                runs = trial_seeds(self.spec, t.number)
                if None in runs:  # (the trial's one run, by the id it was given)
                    runs = {None: t.user_attrs.get("run_id") or runs[None]}
                for seed, run_id in runs.items():
                    self.take_over(t, trial, before, run_id, seed)

    def take_over(self, t, trial: optuna.Trial, before: str, run_id: str, seed: int | None) -> None:
        """Watch a run of trial ``t`` whose worker died, resuming it if it was stopped or crashed;
        make and start it if its worker died before it was made."""
        run_dir = self.root / run_id
        if not RunDir(run_dir).config.exists():
            expected = set(self.spec.search_space()) | set(self.spec.ranges)
            if set(t.params) != expected:
                if seed is None or seed == self.spec.seeds[0]:  # (the trial fails once)
                    self.fail(t.number, "its worker died before its parameters were chosen")
                return
            trial.set_user_attr("run_id", t.user_attrs.get("run_id") or run_id)
            self.say(f"trial {t.number}: its worker died before its run {run_id} was made; making it now")
            self.waiting.append((trial, dict(t.params), run_id, seed))
            return
        a = Active(t.number, trial, run_dir, self.free_slot(), seed=seed, reported=set(t.intermediate_values),
                   pruned_at=t.user_attrs.get("pruned_at"))
        self.active[run_id] = a
        self.say(f"trial {t.number}: taken over from {before} (run {run_id})")
        state = effective_state(read_status(run_dir), run_dir)
        if a.pruned_at is None and state in (RunState.STOPPED, RunState.CRASHED):
            self.resume(a)  # the sweep was stopped, or its worker died: the trial goes on

    # ------------------------------------------------------------------ watching a trial

    def watch(self, a: Active, want: str) -> None:
        if a.proc is not None:
            a.proc.poll()  # reap it when it exits
        self.read_events(a)
        status = read_status(a.run_dir)
        state = effective_state(status, a.run_dir)
        if state is RunState.FINISHED:
            if a.last is None:
                self.fail(a.number, f"its run {a.run_dir.name} finished without reporting {self.spec.objective}")
            else:
                self.completed(a)
        elif state is RunState.FAILED:
            self.fail(a.number, f"its run {a.run_dir.name} failed: {status.get('reason') or 'see its log'}")
        elif a.pruned_at is not None and state in (RunState.STOPPED, RunState.CRASHED):
            self.tell(a, TrialState.PRUNED, None, f"pruned at step {a.pruned_at:,}")
        elif state is RunState.STOPPED and (want == "stop" or a.sent != "stop"):
            # stopped for the sweep, or by hand: it stays unfinished; `genlab sweep resume` continues it
            self.active.pop(a.run_dir.name)
            self.say(f"trial {a.number} stopped at step {status.get('step', 0):,} (run {a.run_dir.name})")
        elif state in (RunState.CRASHED, RunState.STOPPED):
            self.resume(a)
        elif state.live:
            self.steer(a, want, state)

    def read_events(self, a: Active) -> None:
        change = a.tail.look()
        if change is None:
            return
        if change == EventTail.REWRITTEN:  # a resume cut it at its checkpoint
            a.last, a.sources = None, figure_sources.Sources()
        events = a.tail.events()
        objective, every = self.spec.objective, self.spec.prune_every
        for e in events:
            if e["kind"] == "eval":
                a.sources.see(e)
                if not a.sources.counts(e, objective):  # (a PixelCNN's test_nll of an epoch's end, once checked)
                    continue
            value = e.get(objective)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
                continue
            a.last = float(value)
            on_grid = e["kind"] == "eval" or (every and e["step"] % every == 0)
            if self.spec.prune and on_grid and e["step"] > 0 and e["step"] not in a.reported and a.pruned_at is None:
                a.trial.report(float(value), e["step"])
                a.reported.add(e["step"])
                if a.trial.should_prune():
                    self.prune(a, e["step"], float(value))

    def prune(self, a: Active, step: int, value: float) -> None:
        a.pruned_at = step
        a.trial.set_user_attr("pruned_at", step)
        reason = f"pruned by sweep {self.spec.sweep_id}: {self.spec.objective} {value:.4g} at step {step:,} is worse than the median of earlier trials"
        a.trial.set_user_attr("reason", reason)
        control.send(a.run_dir, "stop", reason=reason)
        a.sent = "stop"
        self.say(f"trial {a.number}: {reason}")

    def steer(self, a: Active, want: str, state: RunState) -> None:
        """Make the run do what the sweep is wanted to do; each command sent once."""
        if want == "stop" and a.sent != "stop":
            control.send(a.run_dir, "stop")
            a.sent = "stop"
        elif want == "pause" and state.can_pause and a.sent is None:
            control.send(a.run_dir, "pause")
            a.sent = "pause"
        elif want == "run" and a.sent == "pause" and state.resumes_in_place:
            control.send(a.run_dir, "resume")
            a.sent = None

    def resume(self, a: Active) -> None:
        if a.resumes >= MAX_RESUMES:
            self.fail(a.number, f"its run crashed {a.resumes + 1} times")
            return
        a.resumes += 1
        a.sent = None
        self.say(f"trial {a.number}: resuming run {a.run_dir.name} from its newest checkpoint")
        a.proc = self.launch(a.run_dir, {"resume": True}, a.slot)
        try:
            wait_until_settled(a.run_dir, a.proc)  # until it reports a state of its own
        except GenlabError as e:  # it died or hangs: the next look at its state decides
            self.say(f"trial {a.number}: {e}")

    # ------------------------------------------------------------------ telling Optuna

    def told(self, number: int, value: float | None, state: TrialState) -> bool:
        """Tell Optuna once; False when another worker told the trial first. GridSampler calls
        ``study.stop()`` when its grid is done, which only works inside ``optimize``; the trial
        is stored by then, and the worker stops asking by its own count."""
        try:
            self.study.tell(number, value, state=state, skip_if_finished=True)
        except optuna.exceptions.UpdateFinishedTrialError:
            # (skip_if_finished reads the state, then writes: two workers that saw the same run
            # finish can both pass the read; the database refuses the second write)
            return False
        except RuntimeError as e:
            if "Study.stop" not in str(e):
                raise
        return True

    def completed(self, a: Active) -> None:
        """A run of the trial finished: the trial is told its objective, or once every seed's run
        has finished, the mean of theirs (each one's kept in its ``seeds`` attribute)."""
        if a.seed is None:
            self.tell(a, TrialState.COMPLETE, a.last, f"{self.spec.objective} {a.last:.4g}")
            return
        self.active.pop(a.run_dir.name, None)
        values = self.objectives.setdefault(a.number, {})
        values[a.seed] = a.last
        a.trial.set_user_attr("seeds", {str(seed): value for seed, value in values.items()})
        self.say(f"trial {a.number}: run {a.run_dir.name} (seed {a.seed}) finished, {self.spec.objective} {a.last:.4g}")
        if len(values) == len(self.spec.seeds):
            mean = sum(values.values()) / len(values)
            self.tell(a, TrialState.COMPLETE, mean, f"{self.spec.objective} {mean:.4g}, the mean of {len(values)} seeds")

    def drop(self, number: int) -> None:
        """Forget the trial's runs (going or waiting): it has ended."""
        for run_id in [k for k, a in self.active.items() if a.number == number]:
            self.active.pop(run_id)
        self.waiting = [w for w in self.waiting if w[0].number != number]
        self.objectives.pop(number, None)

    def tell(self, a: Active, state: TrialState, value: float | None, what: str) -> None:
        first = self.told(a.number, value, state)
        self.drop(a.number)
        if not first:
            self.say(f"trial {a.number}: another worker told it first")
            return
        self.done_here += 1
        runs = "runs " + ", ".join(sorted(trial_seeds(self.spec, a.number).values())) if a.seed is not None else f"run {a.run_dir.name}"
        self.say(f"trial {a.number} {studies.STATES[state]}: {what} ({runs})")

    def fail(self, number: int, reason: str) -> None:
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)
        self.storage.set_trial_user_attr(trial_id, "reason", reason)
        self.told(number, None, TrialState.FAIL)
        for a in self.active.values():  # its other seeds' runs, still going
            if a.number == number and a.sent != "stop" and effective_state(read_status(a.run_dir), a.run_dir).live:
                control.send(a.run_dir, "stop", reason=f"trial {number} failed: {reason}")
        self.drop(number)
        self.done_here += 1
        self.say(f"trial {number} failed: {reason}")

    # ------------------------------------------------------------------ being seen

    def snapshot(self) -> None:
        studies.snapshot(self.dir, self.study)
        self.changed, self.next_snapshot = False, time.monotonic() + SNAPSHOT_EVERY_S

    def cpu_s(self) -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def outage(self, warning: str | None) -> None:
        """The study's database or proxy is unreachable (``warning``) or back (None): said in the
        log, kept in the worker's status (``sweep show``), and beaten while the call waits."""
        if warning != self.warning:
            self.say(f"warning: {warning}" if warning else "the study's storage answers again: carrying on")
        self.warning = warning
        self.beat(self.beating)

    def beat(self, state: str) -> None:
        now = time.time()
        self.beating = state
        atomic_write_json(SweepDir(self.dir).worker_status(self.name), {
            "state": state, "pid": os.getpid(), "host": self.name.rsplit("-", 1)[0], "heartbeat": now,
            "updated": now, "started": self.started, "parallel": self.parallel,
            "trials": sorted(self.numbers()), "cpu_s": round(self.cpu_s(), 2), "warning": self.warning}, durable=False)

    def fairness(self) -> None:
        """The log of a finished sweep ends as `genlab sweep --wait` does: why its trials are not a
        fair comparison (genlab.run.compare.comparability), and a recipe's lesson."""
        from genlab.run.compare import compare
        from genlab.run.sweeps import trial_runs
        from genlab.sweep.plan import lesson_of

        paths = trial_runs(self.root, self.dir)
        if len(paths) > 1:
            compared = compare(paths)
            for warning in compared.warnings:
                self.say(f"not a fair comparison: {warning}")
            said = lesson_of(self.spec.recipe, compared.runs)
            if said:
                self.say(said)

    def say(self, line: str) -> None:
        self.changed = True  # everything worth a line changes a trial
        print(time.strftime("%H:%M:%S ") + line, flush=True)


def main(sweep_dir: Path, parallel: int) -> str:
    try:
        held = HeldDir(sweep_dir)
    except OSError as e:
        raise GenlabError(f"sweep {sweep_dir.name}: cannot open its directory ({e.strerror})") from None
    with held:
        return Worker(sweep_dir, parallel, held).run()


def spawn_worker(sweep_dir: Path, parallel: int) -> subprocess.Popen:
    """The worker as a detached process (its own session), output appended to the sweep's log."""
    from genlab.run.files import open_append

    with open_append(SweepDir(sweep_dir).log, binary=True) as log:
        return subprocess.Popen(
            [sys.executable, "-m", "genlab", "_sweep", str(sweep_dir.resolve()), "--parallel", str(parallel)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
