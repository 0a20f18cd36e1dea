"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders"): the deeper PixelCNN with gated activations and no blind spot.

Each layer has a vertical stack (a convolution over the rows above and the current row) and a
horizontal stack (over the pixels to the left on the current row); the vertical stack feeds the
horizontal one shifted down a row, so a pixel never sees itself or anything after it in raster
order, and no region above is hidden (the blind spot of masked 3×3 convolutions). Activations
are gated, tanh(a) ⊙ sigmoid(b); the horizontal stack is residual. Bernoulli pixels. The paper
used 15 layers of 128 (or more) channels on a GPU; genlab's defaults are sized for a CPU and
change with --hp channels=128 --hp layers=15.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models.pixelcnn import PixelCNN
from genlab.models.specs import pixelcnn as specs


def gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def down_shift(x: torch.Tensor) -> torch.Tensor:
    """Row i gets row i-1 (zeros on top): what is strictly above."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def right_shift(x: torch.Tensor) -> torch.Tensor:
    """Column j gets column j-1 (zeros on the left): what is strictly to the left."""
    return F.pad(x, (1, 0, 0, 0))[:, :, :, :-1]


class GatedLayer(nn.Module):
    def __init__(self, c_in: int, c: int, k: int = 3, first: bool = False):
        super().__init__()
        self.first, self.k = first, k
        self.vertical = nn.Conv2d(c_in, 2 * c, (k // 2 + 1, k), padding=(k // 2, k // 2))
        self.horizontal = nn.Conv2d(c_in, 2 * c, (1, k // 2 + 1), padding=(0, k // 2))
        self.v_to_h = nn.Conv2d(2 * c, 2 * c, 1)
        self.h_out = nn.Conv2d(c, c, 1)

    def forward(self, v, h):
        height, width = v.shape[-2:]
        v_pre = self.vertical(v)[:, :, :height]  # row i sees rows i-k//2 .. i
        h_pre = self.horizontal(h)[:, :, :, :width]  # column j sees columns j-k//2 .. j
        if self.first:
            h_pre = right_shift(h_pre)  # the first layer never sees the pixel itself
        out_h = self.h_out(gate(h_pre + self.v_to_h(down_shift(v_pre))))
        return gate(v_pre), out_h if self.first else out_h + h


class GatedPixelCNNNet(nn.Module):
    def __init__(self, channels: int, layers: int, k: int = 3):
        super().__init__()
        self.layers = nn.ModuleList([GatedLayer(1, channels, 7, first=True)] +
                                    [GatedLayer(channels, channels, k) for _ in range(layers - 1)])
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1))

    def forward(self, x):
        v = h = x * 2 - 1
        for layer in self.layers:
            v, h = layer(v, h)
        return self.out(h)


class GatedPixelCNN(PixelCNN):
    spec = specs.GATED_PIXELCNN

    def make_net(self) -> nn.Module:
        return GatedPixelCNNNet(int(self.hp["channels"]), int(self.hp["layers"]))
