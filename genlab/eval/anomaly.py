"""Anomaly detection with a VAE: a digit the model explains poorly is unusual.

A VAE trained without some digits (``genlab train vae --exclude-digits 9``) scores each image
(higher = more anomalous): ``elbo``, its negative ELBO (one z a digit, on one fixed
binarisation); ``recon``, the reconstruction term alone; ``is-nll``, the importance-sampled
-log p(x). How well a score tells the left-out digits from the others is the AUROC: the chance
that a left-out digit scores higher than a learnt one (1: always, 0.5: chance, below 0.5: the
wrong way round, as digit 1 famously is, being simple to explain whether seen or not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class Report:
    """What ``genlab anomaly`` finds: the learnt test digits' scores, and either the given images'
    scores with their percentiles among those, or the left-out digits' with the AUROC."""
    run: str
    step: int
    score: str
    excluded: list[int]
    learnt: torch.Tensor  # the scores of the test digits of the learnt classes
    given: torch.Tensor | None = None  # the scores of the images given (--images)
    percentiles: torch.Tensor | None = None  # each given image's among the learnt test digits'
    left_out: torch.Tensor | None = None  # the scores of the test digits of the left-out classes
    auroc: float | None = None
    auroc_by_digit: dict[int, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        fields = {"run": self.run, "step": self.step, "score": self.score, "excluded": self.excluded}
        if self.given is not None:
            fields.update(n=len(self.given), scores=[round(float(v), 4) for v in self.given],
                          percentiles=[round(float(p), 4) for p in self.percentiles])
        else:
            fields.update(n_learnt=len(self.learnt), n_excluded=len(self.left_out), auroc=self.auroc,
                          auroc_by_digit=self.auroc_by_digit, mean_learnt=float(self.learnt.mean()),
                          mean_excluded=float(self.left_out.mean()))
        return fields


def report(run_dir, score: str = "elbo", k: int = 100, images=None, data_dir=None, on_bad=None) -> Report:
    """Anomaly scores from a VAE run's newest good checkpoint (on the CPU): of the ``images`` file
    (:func:`read_images`) against the learnt test digits, or, with none, how well the scores tell the
    digits the run left out (``--exclude-digits``) from the learnt ones. UsageError for a run
    that is no VAE, or that left out nothing when no images are given."""
    from genlab.core.data import load_for_run
    from genlab.eval.latent import check_vae
    from genlab.models import trained

    if score not in SCORES:
        raise UsageError(f"unknown --score {score!r}; choose from {', '.join(SCORES)}")
    if k < 1:
        raise UsageError(f"-k must be positive, got {k}")
    given = read_images(images) if images is not None else None
    dev = torch.device("cpu")
    t = trained.newest(run_dir, dev, on_bad=on_bad)
    check_vae(t.model, t.run_dir.name, "anomaly detection")
    excluded = tuple(t.config.exclude_digits)
    if given is None and not excluded:
        raise UsageError(f"run {t.run_dir.name} left out no digits: train with --exclude-digits D to measure "
                         "how well it finds them, or score your own with --images FILE.npy")
    digits = load_for_run(t.config.data, dev, data_dir)
    learnt = ~torch.isin(digits.test_labels, torch.tensor(excluded, dtype=digits.test_labels.dtype))
    base = scores(t.model, digits.test_images[learnt], score, k)
    found = Report(t.run_dir.name, t.step, score, list(excluded), base)
    if given is not None:
        found.given = scores(t.model, given, score, k)
        found.percentiles = torch.searchsorted(base.sort().values, found.given).double() / len(base)
    else:
        other = scores(t.model, digits.test_images[~learnt], score, k)
        found.left_out, found.auroc = other, auroc(other, base)
        found.auroc_by_digit = {int(d): auroc(other[digits.test_labels[~learnt] == d], base) for d in excluded}
    return found
