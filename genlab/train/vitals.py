"""The machine's vital signs, as the trainer sees them: is a slow run the machine?

Every few seconds (genlab/train/cadence.py: ``VITALS_EVERY_S``) the trainer writes a ``system`` event
with what :class:`Vitals` samples: its own process's CPU share (100 = one core busy) and resident
memory, the system's memory in use, and on an NVIDIA GPU (through NVML, nvidia-ml-py) its
utilisation, memory in use and temperature, with torch's own peak of allocated memory beside them.
And how busy the machine is, which says whether a run's speed (and what it reached in its time) is
its own: ``load``, the 1-minute load average against the cores it is shared by (:func:`cores`; 1.0:
as many runnable threads as cores, above 1.5 the machine is oversubscribed, genlab.run.summary
marks such a run), and ``steal``, the share of CPU time the hypervisor gave to other guests over
the interval (% of all CPU time, from /proc/stat; absent where the kernel reports none).
On a machine without an NVIDIA GPU, or training on the CPU, nothing GPU-related is loaded or asked
(so genlab.init's scripts import no torch for it). The fields and how they are shown:
genlab.run.vitals.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

MB = 1 << 20
LOADAVG = Path("/proc/loadavg")
STAT = Path("/proc/stat")


def cores() -> int:
    """The cores the load average is shared by: those this process may use (its affinity mask);
    for a process pinned to a share of them (a sweep's trial gets its slot's cores), those of the
    machine or container it shares them with (pid 1's mask): the load average counts every
    runnable thread there, so against one trial's share every parallel sweep would look
    oversubscribed."""
    try:
        mine = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
    try:
        return max(mine, len(os.sched_getaffinity(1)))
    except OSError:
        return mine


def load_from(loadavg: str, cores: int) -> float | None:
    """The 1-minute load average in /proc/loadavg's text (``2.50 1.80 1.20 3/412 8812``) per core."""
    try:
        return float(loadavg.split()[0]) / max(1, cores)
    except (IndexError, ValueError):
        return None


def cpu_times(stat: str) -> tuple[float, float] | None:
    """(steal, total) jiffies from /proc/stat's text (its ``cpu`` line: user nice system idle
    iowait irq softirq steal ...; guest time is already inside user); None where the line has no
    steal column (a kernel before 2.6.11, or not Linux)."""
    for row in stat.splitlines():
        fields = row.split()
        if fields and fields[0] == "cpu":
            try:
                values = [float(v) for v in fields[1:9]]
            except ValueError:
                return None
            return (values[7], sum(values)) if len(values) == 8 else None
    return None


def steal_percent(before: tuple[float, float] | None, now: tuple[float, float] | None) -> float | None:
    """% of all CPU time stolen between two :func:`cpu_times` readings (None without both, or
    when no time passed)."""
    if before is None or now is None or now[1] <= before[1]:
        return None
    return 100 * max(0.0, now[0] - before[0]) / (now[1] - before[1])


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def machine_load() -> float | None:
    """The load average per core now (/proc/loadavg, else the OS's getloadavg), or None."""
    text = _read(LOADAVG)
    if not text and hasattr(os, "getloadavg"):
        try:
            text = str(os.getloadavg()[0])
        except OSError:
            return None
    return load_from(text, cores())


class Vitals:
    def __init__(self, device):
        self.proc = psutil.Process()
        self.proc.cpu_percent(None)  # the first call only starts the count
        self.device = device
        self.gpu = self._nvml_handle(device)
        self.cpu_times = cpu_times(_read(STAT))  # steal is counted from here to each sample

    @staticmethod
    def _nvml_handle(device):
        """NVML's handle of the training GPU, or None (not CUDA, no NVIDIA driver, no library)."""
        if getattr(device, "type", str(device)) != "cuda":
            return None
        try:
            import pynvml
            import torch

            pynvml.nvmlInit()
            index = device.index if device.index is not None else torch.cuda.current_device()
            return pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # no driver, no library, a MIG slice NVML will not name: no GPU figures
            return None

    def sample(self) -> dict:
        with self.proc.oneshot():
            out = {"cpu_percent": round(self.proc.cpu_percent(None), 1),
                   "rss_mb": round(self.proc.memory_info().rss / MB, 1)}
        out["mem_percent"] = round(psutil.virtual_memory().percent, 1)
        load = machine_load()
        if load is not None:
            out["load"] = round(load, 2)
        now = cpu_times(_read(STAT))
        steal = steal_percent(self.cpu_times, now)
        if now is not None:
            self.cpu_times = now
        if steal is not None:
            out["steal"] = round(steal, 1)
        if self.gpu is not None:
            try:
                import pynvml
                import torch

                out["gpu_util"] = float(pynvml.nvmlDeviceGetUtilizationRates(self.gpu).gpu)
                out["gpu_mem_mb"] = round(pynvml.nvmlDeviceGetMemoryInfo(self.gpu).used / MB, 1)
                out["gpu_temp_c"] = float(pynvml.nvmlDeviceGetTemperature(self.gpu, pynvml.NVML_TEMPERATURE_GPU))
                out["torch_peak_mb"] = round(torch.cuda.max_memory_allocated(self.device) / MB, 1)
            except Exception:  # a GPU that stops answering: the CPU side still counts
                self.gpu = None
        return out
