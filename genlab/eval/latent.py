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


def check_vae(model, run_id: str, what: str) -> None:
    """UsageError unless the model has an encoder (it declares ``encodes``: the VAEs)."""
    if not model.encodes:
        raise UsageError(f"run {run_id} is a {model.name}: {what} needs a VAE (vae, conv-vae)")


def check_latent(model, run_id: str) -> None:
    """UsageError unless the model has a latent space to walk (its view declares ``walks``)."""
    if not model.view.walks:
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
    model's label column stays that of the row's start (its digit), only the noise walks; so does a
    clustered GAN's draw of its cluster (dcgan --hp clusters)."""
    between = lerp if linear else slerp
    t = torch.linspace(0, 1, steps)
    out = []
    for r in range(rows):
        if ends is not None:
            a, b = ends
        else:
            a, b = model.latent(2, generator)
        conditional = getattr(model, "conditional", False)
        if conditional or getattr(model, "clusters", None) is not None:
            label = torch.tensor([float(r % 10)]) if conditional and ends is None else a[-1:].clone()
            noise = between(a[:-1], b[:-1], t)
            out.append(torch.cat([noise, label.expand(steps, 1)], 1))
        else:
            out.append(between(a, b, t))
    return torch.cat(out)


def walk(t, rows: int, steps: int, seed: int = 0, linear: bool = False, between: tuple[int, int] | None = None,
         data_dir=None) -> tuple[torch.Tensor, str]:
    """The digits (``uint8``, rows × steps of them, in order) of ``rows`` latent walks of ``steps``
    each from a trained run ``t`` (genlab.models.trained.Trained), and what they are, in words:
    between random latent points, or (``between``: two test digits' indices, a VAE) between the
    encodings of two test digits of the run's own data (one walk)."""
    ends = None
    check_latent(t.model, t.run_dir.name)
    if between is not None:
        from genlab.core.data import load_for_run

        check_vae(t.model, t.run_dir.name, "--between (walking between encoded digits)")
        digits = load_for_run(t.config.data, torch.device("cpu"), data_dir)
        i, j = between
        if not (0 <= i < len(digits.test_images) and 0 <= j < len(digits.test_images)):
            raise UsageError(f"--between takes test digits 0 to {len(digits.test_images) - 1}, got {i} and {j}")
        z = encode(t.model, digits.test_images[[i, j]])
        ends, rows = (z[0], z[1]), 1  # one walk: every row would be the same
    latents = walks(t.model, rows, steps, torch.Generator().manual_seed(seed), linear=linear, ends=ends)
    how = "straight" if linear else "spherical"
    where = f"between test digits {between[0]} and {between[1]}" if between else "between random latent points"
    return t.model.decode(latents), f"{rows} {how} walk{'s' if rows > 1 else ''} of {steps} {where}"


@dataclass
class LatentReport:
    """A run's latent map of held-out digits: where they lie, how, and how well apart."""
    run: str
    step: int
    map: Map
    labels: torch.Tensor
    knn_accuracy: float
    k: int = 5

    def to_json(self) -> dict:
        return {"run": self.run, "step": self.step, "dims": self.map.dims, "how": self.map.how,
                "knn_accuracy": self.knn_accuracy, "k": self.k, "n": len(self.labels),
                "points": [[round(float(x), 4), round(float(y), 4), int(c)]
                           for (x, y), c in zip(self.map.points.tolist(), self.labels.tolist())]}


def map_run(run_dir, n: int = 0, data_dir=None, on_bad=None) -> LatentReport:
    """The latent map of a VAE run's newest good checkpoint: its first ``n`` test digits (0: all)."""
    from genlab.core.data import load_for_run
    from genlab.models import trained

    dev = torch.device("cpu")
    t = trained.newest(run_dir, dev, on_bad=on_bad)
    check_vae(t.model, t.run_dir.name, "a latent map")
    digits = load_for_run(t.config.data, dev, data_dir)
    images, labels = digits.test_images, digits.test_labels
    if n:
        images, labels = images[:n], labels[:n]
    m = project(encode(t.model, images))
    labels = labels.cpu()
    return LatentReport(t.run_dir.name, t.step, m, labels, knn_accuracy(m.points, labels))
