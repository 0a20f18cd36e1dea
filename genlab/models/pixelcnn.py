"""PixelCNN (van den Oord et al. 2016): an autoregressive model of binarised digits.

One 7×7 mask-A convolution (a pixel never sees itself), then residual blocks of 3×3 mask-B
convolutions (a pixel sees itself in deeper layers, never what comes after it in raster order),
then two 1×1 convolutions to one Bernoulli logit per pixel. The NLL is reported in nats per image
and in bits per dimension. Sampling draws the 784 pixels one at a time, in raster order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models.base import TEST_BINARIZATION_SEED, GenModel, Interrupted, adam, binarize, grad_norm, to_uint8
from genlab.models.specs import pixelcnn as specs


class MaskedConv2d(nn.Conv2d):
    """A convolution that only sees pixels above, and to the left on the same row.

    Mask ``A`` also hides the centre pixel (first layer); mask ``B`` lets it through.
    """

    def __init__(self, mask: str, c_in: int, c_out: int, k: int):
        super().__init__(c_in, c_out, k, padding=k // 2)
        m = torch.ones_like(self.weight)
        m[:, :, k // 2, k // 2 + (mask == "B"):] = 0
        m[:, :, k // 2 + 1:] = 0
        self.register_buffer("mask", m)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ResidualB(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = MaskedConv2d("B", c, c, 3)

    def forward(self, x):
        return x + self.conv(F.relu(x))


class PixelCNNNet(nn.Module):
    def __init__(self, channels: int, layers: int):
        super().__init__()
        self.net = nn.Sequential(
            MaskedConv2d("A", 1, channels, 7),
            *[ResidualB(channels) for _ in range(layers)],
            nn.ReLU(), nn.Conv2d(channels, channels, 1),
            nn.ReLU(), nn.Conv2d(channels, 1, 1),
        )

    def forward(self, x):  # x: N×1×H×28 in {0, 1}
        return self.net(x * 2 - 1)


def nll_per_image(logits, x):
    """Bernoulli negative log-likelihood in nats, summed over the pixels of each image."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


NATS_TO_BPD = 1 / (784 * math.log(2))


class PixelCNN(GenModel):
    spec = specs.PIXELCNN

    def __init__(self, hp: dict, device: torch.device):
        super().__init__(hp, device)
        self.net = self.make_net().to(self.device)
        self.networks = {"pixelcnn": self.net}
        self.optimizers = {"pixelcnn": adam(self.net.parameters(), self.hp["lr"])}
        self.weights = list(self.net.parameters())  # for its gradient norm

    def make_net(self) -> nn.Module:
        return PixelCNNNet(int(self.hp["channels"]), int(self.hp["layers"]))

    def step(self, images, labels):
        x = binarize(images.unsqueeze(1))
        nll = nll_per_image(self.net(x), x).mean()
        self.optimizers["pixelcnn"].zero_grad(set_to_none=True)
        nll.backward()
        self.optimizers["pixelcnn"].step()
        nll = nll.detach()
        return {"nll": nll, "bpd": nll * NATS_TO_BPD, "grad_norm": grad_norm(self.weights)}

    def latent(self, n, generator):
        """One uniform number per pixel: pixel (i, j) is on when its number is below p(i, j)."""
        return torch.rand(n, 28, 28, generator=generator)

    @torch.no_grad()
    def decode(self, latent, interrupt=None):
        """Raster-order sampling. At row i only rows 0..i matter (the masks hide the rest), so
        the network runs on that crop: about half the work of running on whole images."""
        self.train(False)
        u = latent.to(self.device)
        x = torch.zeros(len(u), 1, 28, 28, device=self.device)
        for i in range(28):
            if interrupt is not None and interrupt():
                self.train(True)
                raise Interrupted
            for j in range(28):
                p = torch.sigmoid(self.net(x[:, :, : i + 1])[:, 0, i, j])
                x[:, 0, i, j] = (u[:, i, j] < p).float()
        self.train(True)
        return to_uint8(x)

    @torch.no_grad()
    def evaluate(self, images, labels, interrupt=None):
        """NLL on one fixed stochastic binarisation of the held-out digits."""
        self.train(False)
        x_all = binarize(images.unsqueeze(1), torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
        total = 0.0
        # small chunks: on a CPU, 32 images a pass ran twice as fast as 500 (cache-sized activations)
        for i, x in enumerate(x_all.split(32)):
            if interrupt is not None and i % 16 == 0 and interrupt():
                self.train(True)
                raise Interrupted
            total += float(nll_per_image(self.net(x), x).sum())
        self.train(True)
        nll = total / len(images)
        return {"test_nll": nll, "test_bpd": nll * NATS_TO_BPD}
