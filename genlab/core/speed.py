"""How a model's step runs fast: threads, bf16 autocast and torch.compile, each with a fallback.

The training loop itself (digits resident on the device, metrics read back in batches) lives in
engine.py and bench.py; this module holds the per-run switches:

- threads: on the CPU, one intra-op thread per core this process may use (its affinity mask,
  which respects taskset and container limits) and one inter-op thread.
- ``amp="bf16"``: the step runs under ``torch.autocast`` in bfloat16 (matmuls and convolutions
  in bf16, losses and optimiser state in float32; bf16 needs no loss scaling). Where the device
  cannot do bf16, the run goes on in float32 with a notice.
- ``compile=True``: every network is compiled in place with ``torch.compile`` (its state dict,
  and so checkpoints, unchanged); on a CUDA GPU with ``mode="reduce-overhead"``, which captures
  the step's kernels in CUDA graphs. If compiling fails (no compiler, an unsupported platform),
  the networks go back to eager mode with a notice and the step is run again.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from contextlib import nullcontext

import torch

from genlab.config import AMP_CHOICES, check_amp  # noqa: F401  (--amp's check lives with Speed)


def cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(device: torch.device) -> None:
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads())
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set, or parallel work has started: keep what is there
            pass


def bf16_supported(device: torch.device) -> tuple[bool, str]:
    if device.type == "cuda":
        return (torch.cuda.is_bf16_supported(), "this GPU has no bfloat16 support")
    if device.type == "cpu":
        return cpu_bf16()
    return (False, f"bfloat16 autocast is not offered on {device.type}")


def cpu_bf16() -> tuple[bool, str]:
    """Whether this CPU has bfloat16 units (AVX-512 BF16 or AMX), as torch detected them; without
    them bf16 autocast is emulated, slower than float32."""
    caps = getattr(torch.cpu, "get_capabilities", dict)()
    if caps:
        ok = bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))
    else:  # an older torch: its own test
        ok = bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
    return ok, "this CPU has no bfloat16 units (AVX-512 BF16 or AMX)"


class StepRunner:
    """Calls ``model.step`` under the run's speed settings; ``notice(text)`` reports fallbacks."""

    def __init__(self, model, device: torch.device, *, compile: bool = False, amp: str = "off",
                 notice: Callable[[str], None] = print):
        self.model, self.device, self.notice = model, torch.device(device), notice
        self.amp = amp = check_amp(amp)
        if amp == "bf16":
            ok, why = bf16_supported(self.device)
            if not ok:
                notice(f"--amp bf16 unavailable ({why}); training in float32")
                self.amp = "off"
        self.compiled = False
        self.hand_step = getattr(model, "hand_step", False)
        if compile:
            self.compiled = self._compile()
        if self.compiled or self.amp != "off":
            model.hand_step = False  # the compiler and autocast work on the networks' own forward
        self.proven = not self.compiled  # set once a compiled step has gone through

    def _compile(self) -> bool:
        if not hasattr(torch, "compile"):
            self.notice("--compile unavailable in this torch; running eagerly")
            return False
        mode = "reduce-overhead" if self.device.type == "cuda" else None
        for net in self.model.networks.values():
            net.compile(mode=mode)
        return True

    def _eager(self) -> None:
        for net in self.model.networks.values():
            net._compiled_call_impl = None  # what nn.Module.compile set: back to the plain forward

    def _rng(self, restore: tuple | None = None) -> tuple:
        """The random state a step draws from (the CPU's, and the GPU's on CUDA); or restore it."""
        cuda = self.device.type == "cuda"
        if restore is not None:
            torch.random.set_rng_state(restore[0])
            if cuda:
                torch.cuda.set_rng_state(restore[1], self.device)
            return restore
        return (torch.random.get_rng_state(), torch.cuda.get_rng_state(self.device) if cuda else None)

    def autocast(self):
        if self.amp == "bf16":
            # No cast cache: a step updates weights in place between forward passes (the GAN's
            # D then G, wgan-gp's five critic updates), and a cached bf16 copy would be stale.
            return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False)
        return nullcontext()

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> dict:
        if self.proven:
            with self.autocast():
                return self.model.step(images, labels)
        # the first compiled step: a failure must not leave a half-applied update behind
        state, rng = copy.deepcopy(self.model.state()), self._rng()
        try:
            with self.autocast():
                out = self.model.step(images, labels)
        except Exception as e:  # noqa: BLE001 - any failure to compile falls back, once
            self.compiled, self.proven = False, True
            self._eager()
            self.model.hand_step = self.hand_step and self.amp == "off"
            self.model.load_state(state)
            self._rng(rng)
            self.notice(f"--compile failed ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}); running eagerly")
            with self.autocast():
                return self.model.step(images, labels)
        self.proven = True
        return out
