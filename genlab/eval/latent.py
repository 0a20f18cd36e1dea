"""What a model's latent space is for: a VAE's map of the test digits, and walks between points.

- :func:`encode` gives a VAE's posterior means of digits; :func:`project` brings them to two
  dimensions (the latent itself when it has two, else its first two principal components);
  :func:`knn_accuracy` says in one number how well the map separates the digits (a
  k-nearest-neighbour classifier on the 2-D points, fitted on one half, scored on the other).
- :func:`slerp` walks between two Gaussian latents along the great circle, as White (2016,
  "Sampling generative networks") recommends, since a straight line passes through the
  improbable middle of a high-dimensional Gaussian; :func:`walks` makes rows of such walks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genlab.errors import UsageError

VAE_FAMILY = "vae"


def check_vae(model, run_id: str, what: str) -> None:
    if model.family != VAE_FAMILY:
        raise UsageError(f"run {run_id} is a {model.name}: {what} needs a VAE (vae, conv-vae)")


def check_latent(model, run_id: str) -> None:
    if not hasattr(model, "latent") or model.family not in ("vae", "gan"):
        raise UsageError(f"run {run_id} is a {model.name}: it has no latent space to walk (GANs and VAEs have)")


@torch.no_grad()
def encode(model, images: torch.Tensor, chunk: int = 2000) -> torch.Tensor:
    """The posterior means of ``images`` (``uint8``, N×28×28), on the CPU."""
    net = model.net.eval()
    out = []
    for x in images.split(chunk):
        mu, _ = net.encode(x.reshape(len(x), 784).float().div(255).to(model.device))
        out.append(mu.float().cpu())
    net.train()
    return torch.cat(out)


@dataclass
class Map:
    points: torch.Tensor  # N×2
    how: str  # "the latent itself" or "its first two principal components (X% of the variance)"
    dims: int  # the latent's dimensions


def project(z: torch.Tensor) -> Map:
    """``z`` (N×D) to two dimensions: itself when D is 2, else its first two principal components."""
    dims = z.shape[1]
    if dims <= 2:
        return Map(z[:, :2].clone(), "the latent itself", dims)
    centred = z - z.mean(0)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    share = float((s[:2] ** 2).sum() / (s ** 2).sum())
    return Map(centred @ v[:2].T, f"its first two principal components ({share:.0%} of the variance)", dims)


def knn_accuracy(points: torch.Tensor, labels: torch.Tensor, k: int = 5) -> float:
    """Accuracy of a k-NN classifier fitted on a random half of the points (seeded), scored on
    the other half."""
    order = torch.randperm(len(points), generator=torch.Generator().manual_seed(0))
    half = len(points) // 2
    fit, fit_labels = points[order[:half]], labels[order[:half]]
    test, test_labels = points[order[half:]], labels[order[half:]]
    hits = 0
    for chunk, truth in zip(test.split(1000), test_labels.split(1000)):
        nearest = torch.cdist(chunk, fit).topk(k, largest=False).indices
        votes = torch.nn.functional.one_hot(fit_labels[nearest].long(), 10).sum(1)
        hits += int((votes.argmax(1) == truth.long()).sum())
    return hits / max(1, len(test))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from ``a`` (t = 0) to ``b`` (t = 1), row-wise; linear where the
    two are (nearly) parallel."""
    a, b, t = a.float(), b.float(), t.float().reshape(-1, 1)
    cos = (a / a.norm()).dot(b / b.norm()).clamp(-1, 1)
    omega = torch.arccos(cos)
    if float(omega.sin().abs()) < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / omega.sin()


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t.float().reshape(-1, 1)
    return (1 - t) * a.float() + t * b.float()


def walks(model, rows: int, steps: int, generator: torch.Generator, linear: bool = False,
          ends: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """``rows`` walks of ``steps`` latents each (rows × steps, in order), from random pairs of the
    model's latents, or between ``ends`` (two latents: every row the same walk). A conditional
    model's label column stays that of the row's start (its digit), only the noise walks."""
    between = lerp if linear else slerp
    t = torch.linspace(0, 1, steps)
    out = []
    for r in range(rows):
        if ends is not None:
            a, b = ends
        else:
            a, b = model.latent(2, generator)
        if getattr(model, "conditional", False):
            label = a[-1:].clone() if ends is not None else torch.tensor([float(r % 10)])
            noise = between(a[:-1], b[:-1], t)
            out.append(torch.cat([noise, label.expand(steps, 1)], 1))
        else:
            out.append(between(a, b, t))
    return torch.cat(out)
