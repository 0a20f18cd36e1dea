"""The training digits' own clusters: labels for an unconditional GAN without reading a label
(``--hp clusters=K`` of dcgan).

A conditional GAN is far better than an unconditional one at the same cost (genlab's cgan reaches an
FLD near 10 where dcgan stays near 30, README), because G need not map one continuous noise onto ten
separate kinds of digit. Unsupervised, the same help comes from clusters of the data (Lucic et al.
2019, "High-fidelity image generation with fewer labels"; Liu et al. 2020, "Diverse image generation
via self-conditioned GANs"): G and D are conditioned on a digit's cluster as cgan's are on its
label. Here the clusters are k-means of the training digits' pixels, fitted once before the first
step and kept in the checkpoint; a real digit's label is its nearest centre, a generated digit's is
drawn with each cluster's share of the training digits.

k-means runs on the CPU from centres drawn by a generator of its own (seed 0: the clusters are the
data's, not the run's, and the training's random streams are left alone). Distances are taken in
float64, in fitting and in labelling a batch, so that no rounding of a matrix product (which differs
with the number of threads and the device) moves a digit to another cluster: the same digits give
the same clusters and labels, and so the same run.
"""

from __future__ import annotations

import torch

from genlab.errors import GenlabError

ITERATIONS = 20  # Lloyd's; on MNIST the assignments have almost settled by then
FIT_DIGITS = 10_000  # k-means of this many of the training digits (drawn); the shares count them all
CHUNK = 8192  # digits a distance matrix at a time


class Clusters:
    """``k`` clusters of 28×28 digits: their centres (k×784, pixels 0..1) and shares of the
    training digits (k, summing to 1); empty (all zero) until :meth:`fit` or :meth:`load_state`."""

    def __init__(self, k: int, device: torch.device):
        self.k = k
        self.centres = torch.zeros(k, 28 * 28, device=device, dtype=torch.float64)
        self.shares = torch.zeros(k, device=device)

    @staticmethod
    def pixels(images: torch.Tensor) -> torch.Tensor:
        return images.reshape(len(images), -1).double() / 255

    def fit(self, images: torch.Tensor) -> None:
        """k-means of ``images`` (uint8 N×28×28, N >= k; at most FIT_DIGITS of them, drawn), on
        the CPU; the shares are those of all of them."""
        if len(images) < self.k:
            raise GenlabError(f"--hp clusters={self.k} needs at least {self.k} training digits; "
                              f"there are {len(images)}")
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
        x = self.pixels(images.cpu()[order[:FIT_DIGITS]])
        centres = x[:self.k].clone()
        for _ in range(ITERATIONS):
            of = nearest(x, centres)
            counts = torch.bincount(of, minlength=self.k).to(x.dtype)
            sums = torch.zeros_like(centres).index_add_(0, of, x)
            filled = counts > 0  # (an emptied cluster keeps its centre)
            centres[filled] = sums[filled] / counts[filled, None]
        counts = torch.bincount(nearest(self.pixels(images.cpu()), centres), minlength=self.k).to(x.dtype)
        self.centres = centres.to(self.centres.device)
        self.shares = (counts / counts.sum()).float().to(self.shares.device)

    def of(self, images: torch.Tensor) -> torch.Tensor:
        """Each digit's cluster: its nearest centre (long, on the digits' device)."""
        return nearest(self.pixels(images), self.centres)

    def drawn(self, u: torch.Tensor) -> torch.Tensor:
        """Clusters for uniform draws ``u`` in [0, 1): cluster c for a share of them equal to its
        share of the training digits (the inverse of their cumulative shares)."""
        edges = torch.cumsum(self.shares.to(u.device, torch.float64), 0)
        return torch.searchsorted(edges, u.double(), right=True).clamp_(max=self.k - 1)

    def state(self) -> dict:
        return {"centres": self.centres, "shares": self.shares}

    def load_state(self, state: dict) -> None:
        self.centres = state["centres"].to(self.centres.device, torch.float64)
        self.shares = state["shares"].to(self.shares.device, torch.float32)


def nearest(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """The index of each row of ``x``'s nearest row of ``centres`` (squared Euclidean distance)."""
    norms = centres.pow(2).sum(1)
    return torch.cat([(norms - 2 * chunk @ centres.T).argmin(1) for chunk in x.split(CHUNK)])
