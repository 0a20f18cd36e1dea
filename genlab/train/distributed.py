"""One run on several processes: torchrun's environment, the process group, and what the ranks share.

genlab does not launch processes itself: ``genlab train --nproc N`` runs PyTorch's own launcher
(``torch.distributed.run``), and a job started with ``torchrun ... -m genlab ...`` works the same.
Each rank reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; the process group is gloo on CPUs
and NCCL on GPUs, one device a local rank.

What keeps the ranks one run:

- every rank builds the same model from the same seed, and every optimiser step averages the
  gradients over the ranks first (:func:`average_gradients`, a pre-step hook on each optimiser;
  what DistributedDataParallel does, for any model's own step), so the weights stay equal;
- each rank trains on its rows of the global batch and draws the noise of the whole batch,
  keeping its rows (``GenModel.shard``), so its random stream is the single process's;
- metrics are averaged over the ranks before rank 0 writes them (:func:`mean`);
- rank 0 alone writes the run directory.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist

from genlab.run.files import atomic_write_json, read_json
from genlab.run.rundir import RunDir
from genlab.train.world import World, from_env  # noqa: F401  (torch-free: a detached start reads it)


def die_with_launcher() -> None:
    """On Linux, this rank is killed when its launcher dies (even by SIGKILL): no rank is left
    training on its own."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the launcher died before the line above
            os.kill(os.getpid(), signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group (gloo on a CPU, NCCL on CUDA, one GPU a local rank); this rank's
    device. More ranks on a machine than it has GPUs share them round-robin, over gloo (NCCL
    puts no two ranks of a group on one GPU): a way to measure the machinery on one GPU."""
    die_with_launcher()
    backend = "gloo"
    if device.type == "cuda":
        gpus = max(1, torch.cuda.device_count())
        device = torch.device("cuda", world.local_rank % gpus)
        torch.cuda.set_device(device)
        backend = "nccl" if world.local_size <= gpus else "gloo"
    else:  # the machine's cores shared out between its ranks
        from genlab.core.speed import cpu_threads

        torch.set_num_threads(max(1, cpu_threads() // max(1, world.local_size)))
    if not dist.is_initialized():  # a pause of rank 0 holds the others in a collective: no timeout then
        dist.init_process_group(backend, rank=world.rank, world_size=world.size, timeout=datetime.timedelta(days=30))
    return device


class Waits:
    """The seconds this process has spent in collectives: waiting for the other ranks and
    exchanging with them. A step's time less its waits is the rank's own work (on a GPU, as
    the host sees it), and the rank with the most of it is the one the others wait for."""

    def __init__(self):
        self.s = 0.0

    @contextmanager
    def timing(self):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.s += time.perf_counter() - start


WAITS = Waits()


def average_gradients(optimizers, world: World) -> None:
    """Before each of these optimisers steps, its gradients are averaged over the ranks (one
    all-reduce of them all, flattened). Every rank steps the same optimisers in the same order."""
    if not world.distributed:
        return

    def hook(optimizer, args, kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        with WAITS.timing():
            dist.all_reduce(flat)
        flat /= world.size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    for optimizer in optimizers:
        optimizer.register_step_pre_hook(hook)


def sync_batchnorm(networks: dict, world: World, device: torch.device, wanted: bool) -> str | None:
    """On GPUs, every BatchNorm of ``networks`` becomes a SyncBatchNorm (statistics of the global
    batch, as one process computes them), in place: the optimisers keep their parameters. On
    CPUs, PyTorch has no SyncBatchNorm: a notice that each rank's BatchNorm sees its own rows."""
    if not (world.distributed and wanted):
        return None
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for net in networks.values() for m in net.modules()):
        return None
    if device.type != "cuda":
        return ("BatchNorm stays each rank's own (PyTorch's SyncBatchNorm needs GPUs): its statistics are those "
                f"of a rank's rows, 1/{world.size} of the batch")
    for name, net in networks.items():
        synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        assert synced is net  # a network is never a bare BatchNorm: its children were replaced in place
    return None


def mean(values: torch.Tensor, world: World) -> torch.Tensor:
    """``values`` averaged over the ranks."""
    if world.distributed:
        values = values.clone()
        with WAITS.timing():
            dist.all_reduce(values)
        values /= world.size
    return values


def broadcast_tensor(values: torch.Tensor, world: World) -> None:
    """Rank 0's ``values`` into every rank's (in place)."""
    if world.distributed:
        dist.broadcast(values, src=0)


def broadcast(obj, world: World):
    """Rank 0's ``obj`` on every rank (a small picklable object: a decision, a run id)."""
    if not world.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def finish(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


BEAT_S = 1.0


class RankBeat:
    """This rank's heartbeat, ``ranks/rank-N.json`` (host, pid, step, time, and ``busy_ms``: its
    own work a step over the last beat), every second from a thread of its own, so a rank held in
    a collective (while rank 0 pauses, evaluates or writes a checkpoint) still says it is alive.
    On rank 0 it also gathers every rank's beat and hands them to ``on_world`` (the status sink:
    status.json's ``world``). ``trainer``: a genlab.train.trainer.Trainer (its step and busy time).

    A rank whose part ends (its loop returned: finished, or stopped with rank 0) beats once more
    with ``"done": true`` before its process exits: readers (genlab.run.store.rank_trouble) then take
    its silence while rank 0 still evaluates and writes for the run as done, not dead."""

    def __init__(self, run_dir: Path, world: World, trainer, on_world=None):
        self.dir, self.world, self.trainer, self.on_world = RunDir(run_dir).ranks, world, trainer, on_world
        self.dir.mkdir(exist_ok=True)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="rank-beat", daemon=True)
        self.last, self.busy_ms = (0.0, 0), None

    def __enter__(self) -> RankBeat:
        self.thread.start()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        if exc_type is None:  # its part is over; an exception (a failed collective) is no end of it
            self._beat_once(done=True)

    def pace(self) -> float | None:
        """Milliseconds of this rank's own work a step, over the steps since the last beat."""
        now = (self.trainer.busy_s, self.trainer.busy_steps)
        if now[1] > self.last[1]:
            self.busy_ms = round(1000 * (now[0] - self.last[0]) / (now[1] - self.last[1]), 2)
        self.last = now
        return self.busy_ms

    def _beat(self) -> None:
        while True:
            self._beat_once()
            if self.done.wait(BEAT_S):
                return

    def _beat_once(self, done: bool = False) -> None:
        beat = {"rank": self.world.rank, "host": socket.gethostname(), "pid": os.getpid(),
                "step": int(self.trainer.step), "busy_ms": self.pace(), "beat": round(time.time(), 3)}
        if done:
            beat["done"] = True
        try:
            atomic_write_json(self.dir / RunDir.rank_name(self.world.rank), beat, durable=False)
            if self.on_world is not None:
                ranks = [read_json(self.dir / RunDir.rank_name(r)) for r in range(self.world.size)]
                self.on_world({"size": self.world.size, "ranks": [r for r in ranks if isinstance(r, dict)]})
        except OSError:
            pass  # a full disk: the run's own writes will say so
