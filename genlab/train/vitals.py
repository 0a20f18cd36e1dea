"""The machine's vital signs, as the trainer sees them: is a slow run the machine?

Every few seconds (genlab/train/cadence.py: ``VITALS_EVERY_S``) the trainer writes a ``system`` event
with what :class:`Vitals` samples: its own process's CPU share (100 = one core busy) and resident
memory, the system's memory in use, and on an NVIDIA GPU (through NVML, nvidia-ml-py) its
utilisation, memory in use and temperature, with torch's own peak of allocated memory beside them.
On a machine without an NVIDIA GPU, or training on the CPU, nothing GPU-related is loaded or asked
(so genlab.init's scripts import no torch for it). The fields and how they are shown:
genlab.run.vitals.
"""

from __future__ import annotations

import psutil

MB = 1 << 20


class Vitals:
    def __init__(self, device):
        self.proc = psutil.Process()
        self.proc.cpu_percent(None)  # the first call only starts the count
        self.device = device
        self.gpu = self._nvml_handle(device)

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
