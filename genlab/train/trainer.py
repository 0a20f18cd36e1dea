"""The training loop. It emits events; sinks decide what becomes of them (genlab/run/sinks.py).

One step: draw a batch by index from the digits on the device, ``model.step`` it, keep its
metrics as tensors. Every ``metrics_every_s`` the buffered metrics are read back in one go,
checked for NaN and infinity, and emitted, one ``metrics`` event per step. Around the steps, on
their own clocks (genlab/train/cadence.py): the sample grid, live quality, the held-out
evaluation at each epoch's end and checkpoints (genlab/train/side_jobs.py, genlab/train/resume.py),
the machine's vital signs (genlab/run/vitals.py), and the control channel, read at step boundaries
(genlab/train/steering.py). Each of those units is handed what it works on (the training state,
the model, the emitter, the run directory), never the trainer.

What training carries from step to step is one object, :class:`~genlab.train.state.TrainState`
(step, data order, fixed latent, training time, pending metrics, divergence). A run that is
resumed restores it whole from its checkpoint, with the weights and optimiser states, so it is
the same run.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch

from genlab import models
from genlab.config import RunConfig
from genlab.core.data import Batches, Digits
from genlab.core.device import synchronize
from genlab.core.speed import StepRunner, configure_threads
from genlab.run import held, record
from genlab.run.files import atomic_write_json
from genlab.run.record import RecordBudget, aggregate
from genlab.run.rundir import RunDir
from genlab.run.sinks import Progress, Sink, counted
from genlab.run.state import RunState
from genlab.run.store import newest_events
from genlab.train import distributed
from genlab.train.cadence import Clocks
from genlab.train.distributed import World
from genlab.train.emitter import Emitter
from genlab.train.resume import Checkpoints
from genlab.train.side_jobs import SideJobs
from genlab.train.state import TrainState
from genlab.train.steering import Steering
from genlab.train.vitals import Vitals

FAULT_NAN_STEP = "GENLAB_FAULT_NAN_STEP"  # testing the divergence guard: poison the weights at this step
FAULT_RANK = "GENLAB_FAULT_RANK"  # ... on this rank only (several processes; default: every rank)


class Trainer:
    """One process's training of a run: :meth:`run`'s loop over ``state`` (a TrainState), its
    units (steering, checkpoints, side jobs) and its events (an Emitter over the sinks)."""

    def __init__(self, run_dir: Path, config: RunConfig, digits: Digits, device: torch.device, sinks: list[Sink],
                 on_divergence: str = "pause", world: World = World()):
        self.run_dir, self.digits, self.device = run_dir, digits, device
        self.world = world  # one process, or this rank of several (genlab/distributed.py): rank 0 writes
        self.held = held.holding(run_dir)  # the directory held open, whose path it checks (genlab/held.py)
        self.on_divergence = on_divergence  # "pause" (detached runs) or "stop" (foreground runs)
        torch.manual_seed(config.seed)
        if not world.distributed:  # (several ranks share the cores out: distributed.start)
            configure_threads(device)
        self.model = models.build(config.model, config.model_hp(), device)
        self.model.prepare(digits.train_images)  # (a resume's checkpoint loads over what it learns)
        self.model.shard = (world.rank, world.size)  # its rows of each global batch
        distributed.average_gradients(self.model.optimizers.values(), world)
        self.bn_notice = distributed.sync_batchnorm(self.model.networks, world, device, config.sync_bn)
        self.view = type(self.model).view
        self.run_step: StepRunner | None = None  # model.step under the run's speed settings, from run()
        self.state = TrainState(  # what a checkpoint saves and a resume restores, whole
            config=config,
            batches=Batches(len(digits.train_images), config.batch_size, config.seed, device),
            fixed_latent=self.model.latent(config.sample_count, torch.Generator().manual_seed(config.seed)))
        self.events = Emitter(sinks, lambda: self.state.step)  # every sink, each event stamped
        self.record = RecordBudget(record.ROWS_PER_S, record.BURST_ROWS)  # metric rows it may write
        self.latest: dict = {}
        self.stop_request: str | None = None  # set by a signal handler: the reason to stop
        self.tick, self.time_up = time.monotonic(), False  # for --max-minutes (state.trained_s)
        self.steering = Steering(run_dir, self.events, stopping=lambda: bool(self.stop_request))
        self.checkpoints = Checkpoints(run_dir, self.state, self.model, device, self.events,
                                       read_back=self.flush_metrics)
        self.jobs = SideJobs(run_dir, self.state, self.model, digits, device, self.events,
                             interrupt=self.steering.waiting)
        self.vitals = Vitals(device)
        self.clocks: Clocks | None = None
        fault, fault_rank = os.environ.get(FAULT_NAN_STEP), os.environ.get(FAULT_RANK, str(world.rank))
        self.fault_step = int(fault) if fault and fault.isdigit() and fault_rank == str(world.rank) else None
        self.rolled_back_to = -1  # the step a divergence's rollback returned to, for the other ranks
        self.busy_s, self.busy_steps = 0.0, 0  # this rank's own work in its steps (its waits for the others left out)

    @property
    def config(self) -> RunConfig:
        return self.state.config

    @property
    def step(self) -> int:
        """Steps trained (what genlab/train/distributed.py's RankBeat reports)."""
        return self.state.step

    # ------------------------------------------------------------------ the loop

    def run(self) -> str:
        """Train to ``total_steps``; returns the final state: ``finished`` or ``stopped``."""
        # ---- the start: state running, the step runner, a checkpoint of step 0
        self.begin()
        while True:
            # ---- requests from outside: a signal, then the control channel (which may pause);
            #      on several processes rank 0 decides for them all, at the same step
            go_on = self.state.step < self.config.total_steps and not self.time_up
            # (a divergence read back at the last step's flush stops the run too: never "finished")
            diverged = self.stop_request == "diverged"
            go_on, reason = self.agree(go_on, self.requests() if go_on or diverged else None)
            if reason:
                return self.stop(reason)
            if not go_on:
                break
            # ---- one optimisation step
            self.train_one_step()
            # ---- bookkeeping, each on its clock: metrics (every one of them after the last
            #      step), evaluation, samples, quality, checkpoint
            self.bookkeeping()
            # ---- the divergence guard: stop, or pause until resumed from the last good checkpoint
            #      (a stop goes through the next round's agreement, so every rank stops)
            if self.state.diverged and self.guard() == "stop":
                self.stop_request = "diverged"
        # ---- the end: final evaluation, quality check, samples and checkpoint
        return self.end(f"its time budget is spent: {counted(self.config.max_minutes, 'minute')} of training"
                        if self.time_up else None)

    def agree(self, go_on: bool, reason: str | None) -> tuple[bool, str | None]:
        """On several processes: rank 0's decision (train on, stop, the end) with its learning
        rate, length and any rollback after a divergence, on every rank; one small broadcast a
        step."""
        if not self.world.distributed:
            return go_on, reason
        decision = torch.tensor([float(go_on), float(reason is not None), self.config.lr, float(self.config.total_steps),
                                 float(self.rolled_back_to)], dtype=torch.float64, device=self.device)
        self.rolled_back_to = -1
        distributed.broadcast_tensor(decision, self.world)
        go_on, stop, lr, total, rolled_back_to = decision.tolist()
        if not self.world.main:  # a resume command on rank 0 may have changed these
            if rolled_back_to >= 0:  # rank 0 rolled back to its last good checkpoint: so does this rank
                self.checkpoints.restore_step(int(rolled_back_to))
            if lr != self.config.lr:
                self.model.set_lr(lr)
                self.state.config = self.config.with_lr(lr)
            if int(total) != self.config.total_steps:
                self.state.config = self.config.with_total_steps(int(total))
            reason = "stopped with rank 0" if stop else None
        return bool(go_on), reason

    def begin(self) -> None:
        self.started = time.monotonic()
        self.reset_rate()
        self.clocks = Clocks.start(self.config.cadence, self.started)
        self.set_state(RunState.RUNNING)
        if self.run_step is None:
            speed = self.config.speed
            self.run_step = StepRunner(self.model, self.device, compile=speed.compile, amp=speed.amp, notice=self.warn)
        if self.bn_notice and self.world.main:
            self.warn(self.bn_notice)
            self.bn_notice = None
        if self.state.step == 0 and self.world.main:
            self.checkpoints.save()  # a good checkpoint to return to from the first step on

    def requests(self) -> str | None:
        """Why the run must stop now, if it must: a signal's reason, or a stop command (rank 0
        reads them for every rank)."""
        if not self.world.main:
            return None
        if self.stop_request:
            return self.stop_request
        now = time.monotonic()
        if self.clocks.poll.due(now):
            self.clocks.poll.done(now=now)
            if self.held is not None and self.held.moved():
                return self.directory_moved()
            if self.obey() == "stop":
                return self.steering.stop_reason or "stopped by request"
        return None

    def directory_moved(self) -> str:
        """The run's path no longer names the directory this process holds (renamed away, or
        replaced by a link or another directory): say so through the descriptor, then stop; the
        run is whole where its directory now is, and resumes from there."""
        self.events.emit("error", message=f"{self.held.path} no longer names this run's directory (it was moved or "
                                          "replaced): stopping; nothing was written anywhere else")
        return "its directory was moved or replaced"

    def train_one_step(self) -> None:
        s = self.state
        if self.fault_step is not None and s.step + 1 == self.fault_step:
            self.fault_step = None  # the documented fault injection: poison the weights, once
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        started, waited = time.perf_counter(), distributed.WAITS.s
        idx = s.batches.next()
        if self.world.distributed:  # this rank's rows of the global batch
            idx = idx[self.model.rows(len(idx) // self.world.size)[0]]
        metrics = self.run_step(self.digits.train_images[idx], self.digits.train_labels[idx])
        if self.world.distributed:  # the global batch's metrics: the mean of the ranks'
            keys = list(metrics)
            mean = distributed.mean(torch.stack([metrics[k].float() for k in keys]), self.world)
            metrics = dict(zip(keys, mean.unbind()))
            self.busy_s += time.perf_counter() - started - (distributed.WAITS.s - waited)
            self.busy_steps += 1
        s.step += 1
        s.pending.append((s.step, time.time(), s.batches.epoch + 1, metrics))

    def bookkeeping(self) -> None:
        """The side jobs that are due after a step. A divergence found when the metrics are
        read back skips the rest: the guard decides first."""
        s = self.state
        if not self.world.main:  # rank 0 writes, evaluates, samples and checkpoints for all
            s.pending.clear()
            return
        clocks, now = self.clocks, time.monotonic()
        end_of_epoch = s.batches.position == s.batches.steps_per_epoch
        last = s.step >= self.config.total_steps or self.out_of_time()
        if clocks.flush.due(now) or end_of_epoch or last:
            if last:
                synchronize(self.device)
            self.flush_metrics()
            self.report_progress()
            clocks.flush.done(now=now)
            if s.diverged:
                return
        if end_of_epoch or self.jobs.eval_pending:
            self.jobs.evaluate()
        if clocks.sample.due(now):
            clocks.sample.done(self.jobs.samples())
        every = self.config.cadence.quality_every_steps  # a sweep's trials: at the same steps
        if every:
            if s.step % every == 0 and not last:  # (the end checks quality anyway)
                self.jobs.quality()
        elif clocks.quality.due(now):
            clocks.quality.done(self.jobs.quality())
        if clocks.checkpoint.due(now):
            self.checkpoints.save()
            clocks.checkpoint.done()
        if clocks.vitals.due(now):  # is a slow run the machine? CPU, memory, GPU
            self.events.emit("system", **self.vitals.sample())
            clocks.vitals.done(now=now)

    def out_of_time(self) -> bool:
        """Whether the time budget (``max_minutes``) is spent: training time, pauses not counted
        (the clock restarts whenever the run is running again)."""
        self.count_training_time()
        budget = self.config.max_minutes
        self.time_up = budget is not None and self.state.trained_s >= budget * 60
        return self.time_up

    def count_training_time(self, stop: bool = False) -> None:
        """Add the training time since the last count to the state's; ``stop``: the training is
        over, and what follows (the end's evaluation, quality check and samples) is not counted."""
        now = time.monotonic()
        if self.tick is not None:
            self.state.trained_s += now - self.tick
        self.tick = None if stop else now

    def end(self, reason: str | None = None) -> str:
        self.count_training_time(stop=True)
        if not self.world.main:
            return RunState.FINISHED
        if self.jobs.last_eval_step != self.state.step:
            self.jobs.evaluate()
        self.jobs.quality()
        self.jobs.samples()
        self.checkpoints.save()
        self.report_progress()
        self.set_state(RunState.FINISHED, reason)
        return RunState.FINISHED

    def finish(self) -> str:
        """A run killed after its final checkpoint: no training, only the end's evaluation,
        quality check and samples that its events lack, then ``finished``."""
        self.started = time.monotonic()
        self.reset_rate()
        events = newest_events(self.run_dir)
        step = self.state.step
        done = {e["kind"] + ("-quality" if e.get("quality") else "") for e in events if e["step"] == step}
        if "eval" not in done:
            self.jobs.evaluate()
        if "eval-quality" not in done:
            self.jobs.quality()
        if "samples" not in done:
            self.jobs.samples()
        self.report_progress()
        self.set_state(RunState.FINISHED)
        return RunState.FINISHED

    # ------------------------------------------------------------------ ending, pausing, diverging

    def settle(self) -> None:
        """Every step's metrics read back and written, a checkpoint (unless diverged), progress."""
        synchronize(self.device)
        self.flush_metrics()
        self.checkpoints.save()  # skipped when diverged: the last good one stays
        self.report_progress()

    def stop(self, reason: str) -> str:
        self.count_training_time(stop=True)
        if not self.world.main:
            return RunState.STOPPED
        self.settle()
        diverged = self.state.diverged
        self.set_state(RunState.STOPPED, f"diverged: {diverged}" if diverged else reason)
        return RunState.STOPPED

    def guard(self) -> str:
        """After a divergence: a foreground run stops; a detached one pauses until told what to
        do (and on resume rolls back to the last good checkpoint). "stop" or "resume"."""
        if self.on_divergence == "stop":
            return "stop"
        return self.pause("diverged")

    # ------------------------------------------------------------------ the control channel's commands

    def obey(self) -> str | None:
        """Apply the waiting commands (genlab/train/steering.py) while running, each in turn: a
        pause waits here for its resume or stop; a resume brings its changes. "stop" when the
        run must stop."""
        while (cmd := self.steering.next_command()) is not None:
            kind = cmd["command"]
            if kind == "stop":
                return "stop"
            if kind == "pause" and self.pause("paused by request") == "stop":
                return "stop"
            if kind == "resume":
                self.apply(cmd)  # already running: a new learning rate or length still applies
        return None

    def pause(self, reason: str) -> str:
        """Checkpoint, then wait for a resume or a stop; returns "resume" or "stop". A diverged
        run rolls back to its last good checkpoint when it resumes."""
        self.settle()
        diverged = self.state.diverged
        self.set_state(RunState.PAUSED, f"diverged: {diverged}" if diverged else reason)
        cmd = self.steering.wait()
        if cmd is None or cmd["command"] == "stop":
            return "stop"
        if self.state.diverged:
            self.checkpoints.rollback()
            self.rolled_back_to = self.state.step  # the other ranks of a run of several processes follow (agree)
        self.apply(cmd)
        self.reset_rate()
        self.set_state(RunState.RUNNING)
        return "resume"

    # ------------------------------------------------------------------ changes while it runs

    def restore(self, ckpt: dict) -> None:
        self.checkpoints.restore(ckpt)

    def apply(self, cmd: dict) -> None:
        """A resume command's changes: a new learning rate, a new length."""
        if "lr" in cmd:
            self.set_lr(float(cmd["lr"]))
        if "total_steps" in cmd:
            self.set_total_steps(int(cmd["total_steps"]))
        if "max_minutes" in cmd:
            self.set_max_minutes(float(cmd["max_minutes"]))

    def set_lr(self, lr: float) -> None:
        previous = self.config.lr
        self.model.set_lr(lr)
        self.state.config = self.config.with_lr(lr)
        self.save_config()
        self.events.emit("lr", lr=lr, previous=previous)

    def set_total_steps(self, total: int) -> None:
        previous = self.config.total_steps
        self.state.config = self.config.with_total_steps(total)
        self.save_config()
        self.events.emit("extend", total_steps=total, previous=previous)

    def set_max_minutes(self, minutes: float) -> None:
        previous = self.config.max_minutes
        self.state.config = self.config.with_max_minutes(minutes)
        self.time_up = False
        self.save_config()
        self.events.emit("extend", max_minutes=minutes, previous_minutes=previous,
                         trained_minutes=round(self.state.trained_s / 60, 3))

    def save_config(self) -> None:
        atomic_write_json(RunDir(self.run_dir).config, self.config.to_json())

    # ------------------------------------------------------------------ events

    def set_state(self, state: str, reason: str | None = None) -> None:
        if state == RunState.RUNNING:
            self.tick = time.monotonic()  # a pause is not training time
        self.events.emit("state", state=state, **({"reason": reason} if reason else {}))

    def warn(self, message: str) -> None:
        self.events.warn(message)

    def record_failure(self, reason: str) -> None:
        """An ``error`` event and state ``failed``, as far as the disk allows."""
        self.events.record_failure(reason)

    def flush_metrics(self) -> None:
        """Read back every buffered step's metrics with one synchronisation and emit them.

        The first non-finite value marks the run as diverged: the rows before it are emitted,
        the rest (trained on poisoned weights) are dropped.
        """
        pending = self.state.pending
        if not pending:
            return
        keys = list(pending[0][3])
        values = torch.stack([torch.stack([m[k] for k in keys]) for *_, m in pending]).tolist()
        good, problem = [], None
        for (step, t, epoch, _), row in zip(pending, values):
            bad = [k for k, v in zip(keys, row) if not math.isfinite(v)]
            if bad:
                problem = f"{bad[0]} is {row[keys.index(bad[0])]} at step {step:,}"
                break
            good.append((step, t, epoch, dict(zip(keys, row))))
        pending.clear()
        # every step its own row while the record's budget allows; else k steps to a row
        for event in aggregate(good, self.record.group_size(len(good)) if good else 1):
            self.events.send(event)
        if good:
            self.latest = good[-1][3]
        if problem:
            self.state.diverged = problem
            self.warn(f"divergence: {problem}; the last good checkpoint is kept")

    def report_progress(self) -> None:
        now, step = time.monotonic(), self.state.step
        done = step - self._rate_step
        dt = now - self._rate_time
        if dt > 0 and done > 0:
            self.images_per_s = done * self.config.batch_size / dt
        if dt >= 2.0:  # a moving window of a few seconds
            self._rate_step, self._rate_time = step, now
        total = self.config.total_steps
        eta = (total - step) * self.config.batch_size / self.images_per_s if self.images_per_s else None
        trained = self.state.trained_s + (max(0.0, now - self.tick) if self.tick is not None else 0.0)  # across resumes
        budget = self.config.max_minutes * 60 if self.config.max_minutes else None
        if budget is not None:  # the run ends when its budget is spent, if its steps do not end it first
            eta = max(0.0, budget - trained) if eta is None else min(eta, max(0.0, budget - trained))
        self.events.progress(Progress(
            step=step, total_steps=total, epoch=self.epoch_number(), epochs=self.epochs_total(),
            images_per_s=self.images_per_s, elapsed_s=trained, eta_s=eta, budget_s=budget,
            metrics={k: round(v, 5) for k, v in self.latest.items()}, key_metrics=self.view.shown_in_progress(),
        ))

    def reset_rate(self) -> None:
        self._rate_step, self._rate_time, self.images_per_s = self.state.step, time.monotonic(), 0.0

    def epoch_number(self) -> int:
        return min(self.state.step // self.config.steps_per_epoch + 1, self.epochs_total())

    def epochs_total(self) -> int:
        return -(-self.config.total_steps // self.config.steps_per_epoch)
