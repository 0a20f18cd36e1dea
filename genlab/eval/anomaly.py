"""Anomaly detection with a VAE: a digit the model explains poorly is unusual.

A VAE trained without some digits (``genlab train vae --exclude-digits 9``) scores each image
(higher = more anomalous): ``elbo``, its negative ELBO (one z a digit, on one fixed
binarisation); ``recon``, the reconstruction term alone; ``is-nll``, the importance-sampled
-log p(x). How well a score tells the left-out digits from the others is the AUROC: the chance
that a left-out digit scores higher than a learnt one (1: always, 0.5: chance, below 0.5: the
wrong way round, as digit 1 famously is, being simple to explain whether seen or not).
"""

from __future__ import annotations

import torch

from genlab.errors import UsageError

SCORES = ("elbo", "recon", "is-nll")


@torch.no_grad()
def scores(model, images: torch.Tensor, score: str = "elbo", k: int = 100) -> torch.Tensor:
    """A score per image (``uint8`` N×28×28), float64 on the CPU."""
    from genlab.eval.quality import vae_importance_nll_each
    from genlab.models.base import TEST_BINARIZATION_SEED, binarize
    from genlab.models.vae import vae_loss

    if score not in SCORES:
        raise UsageError(f"unknown --score {score!r}; choose from {', '.join(SCORES)}")
    images = images.to(model.device)
    if score == "is-nll":
        return vae_importance_nll_each(model, images, k=k)
    net = model.net.eval()
    x_all = binarize(images.reshape(len(images), 784), torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
    g = torch.Generator().manual_seed(0)
    out = []
    for x in x_all.split(1000):
        mu, logvar = net.encode(x)
        eps = torch.randn(mu.shape, generator=g).to(x.device)
        recon, kl = vae_loss(net.dec(mu + eps * torch.exp(0.5 * logvar)), x, mu, logvar)
        out.append((recon if score == "recon" else recon + kl).double().cpu())
    net.train()
    return torch.cat(out)


def auroc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """P(a positive scores above a negative), ties counting a half (the Mann-Whitney U over
    the product of the counts), from the ranks of all the scores together."""
    if not len(positive) or not len(negative):
        raise UsageError("an AUROC needs scores of both kinds")
    both = torch.cat([positive.double(), negative.double()])
    values, inverse, counts = torch.unique(both, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    mid_ranks = ends - (counts.double() - 1) / 2  # the mean rank of each run of ties (1-based)
    ranks = mid_ranks[inverse]
    n_pos, n_neg = len(positive), len(negative)
    u = float(ranks[:n_pos].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def read_images(path) -> torch.Tensor:
    """An images file for scoring: ``.npy`` of ``uint8``, N×28×28; UsageError otherwise."""
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path} as .npy: {e}") from None
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[1:] != (28, 28) or not len(array):
        raise UsageError(f"{path} holds {array.dtype} {'×'.join(map(str, array.shape))}; "
                         "genlab anomaly wants uint8 N×28×28 (as genlab sample --out FILE.npy writes)")
    return torch.from_numpy(array.copy())
