"""An exponential moving average of a network's weights: what a GAN draws its digits from with
``--hp ema`` (its raw generator is the one trained).

Averaging the generator's weights over the last steps smooths out the oscillation of the GAN
game: the average draws steadier, better digits than the generator of any one step (Yazıcı et
al. 2019; Karras et al. 2018). Each update moves the average towards the network's weights by
1 - decay, with the decay ramped up over the first updates as TensorFlow's
ExponentialMovingAverage does, min(decay, (1 + n) / (10 + n)) after n updates, so that the
average of a young network is not mostly its initial weights. Floating buffers (BatchNorm's
running statistics) are averaged too; the others (its count of batches) are copied.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """The moving average of ``net``'s weights (``self.net``, a copy of it, never trained)."""

    def __init__(self, net: nn.Module, decay: float):
        self.decay = float(decay)
        self.net = copy.deepcopy(net).requires_grad_(False).eval()

    @staticmethod
    def tensors(net: nn.Module) -> list[torch.Tensor]:
        return [*net.parameters(), *net.buffers()]

    @torch.no_grad()
    def update(self, net: nn.Module, updates: torch.Tensor) -> None:
        """Move the average towards ``net``'s weights. ``updates``: how many updates ``net`` has
        had, a tensor (its optimiser's step count: read on the device, no host synchronisation;
        a resumed run goes on where it was)."""
        updates = updates.to(device=next(self.net.parameters()).device, dtype=torch.float32)
        weight = 1 - torch.clamp((1 + updates) / (10 + updates), max=self.decay)
        floats, others = [], []
        for mine, theirs in zip(self.tensors(self.net), self.tensors(net)):
            (floats if mine.is_floating_point() else others).append((mine, theirs))
        if floats:
            torch._foreach_lerp_([m for m, _ in floats], [t for _, t in floats], weight)
        for mine, theirs in others:
            mine.copy_(theirs)
