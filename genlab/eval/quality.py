"""Quality of a model, in numbers: what ``genlab eval`` reports.

- Sample-based models (every GAN): the Fréchet distance between the classifier's features of
  generated digits and of the test set (FLD, lower is better), the class histogram of generated
  digits (mode collapse shows as empty classes), the share classified with confidence 0.9
  or more, and their diversity (the mean pairwise distance of the digits, in pixels).
- VAEs: test negative ELBO and an importance-sampled NLL with ``k`` samples per digit.
- PixelCNNs: test NLL in nats and bits per dimension on one fixed binarisation of the test set.
"""

from __future__ import annotations

import math

import torch

from genlab.eval import classifier as clf

CONFIDENT = 0.9
DIVERSITY_DIGITS = 500  # the first this many generated digits (the same latents at every check) are compared


def diversity(images: torch.Tensor) -> float:
    """The mean distance between two different digits of ``images`` (uint8 N×28×28), each
    distance the RMS difference per pixel with pixels scaled to 0..1: 0.35 for held-out
    digits, near 0 when a generator draws the same digit over and over."""
    x = images[:DIVERSITY_DIGITS].reshape(min(len(images), DIVERSITY_DIGITS), -1).double() / 255
    n = len(x)
    if n < 2:
        return 0.0
    d = torch.cdist(x, x) / math.sqrt(x.shape[1])
    return float(d.sum() / (n * (n - 1)))  # the diagonal is 0


@torch.no_grad()
def features_and_probs(model: clf.DigitClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    feats, probs = [], []
    for x in images.split(1000):
        f = model.features(x)
        feats.append(f.double())
        probs.append(torch.softmax(model.fc2(f), dim=1))
    return torch.cat(feats), torch.cat(probs)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^½), of Gaussians fitted to rows of a and b."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = torch.cov(a.T), torch.cov(b.T)
    w, v = torch.linalg.eigh(s_a)
    root_a = (v * w.clamp(min=0).sqrt()) @ v.T
    cross = torch.linalg.eigvalsh(root_a @ s_b @ root_a).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).pow(2).sum() + torch.trace(s_a) + torch.trace(s_b) - 2 * cross)


class Judge:
    """The classifier and the test set's features, computed once, for many evaluations."""

    def __init__(self, test_images: torch.Tensor, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.model = clf.load(self.device)
        self.test_features = reference_features(self.model, test_images, self.device)

    def judge(self, images: torch.Tensor) -> dict:
        """FLD, class histogram, coverage (smallest and largest class share), confident share
        and diversity."""
        feats, probs = features_and_probs(self.model, images.to(self.device))
        conf, cls = probs.max(1)
        hist = torch.bincount(cls, minlength=10).double() / len(images)
        return {
            "fld": round(frechet_distance(feats, self.test_features), 4),
            "class_hist": [round(float(h), 4) for h in hist],
            "min_class_share": round(float(hist.min()), 4),
            "max_class_share": round(float(hist.max()), 4),
            "confident": round(float((conf >= CONFIDENT).double().mean()), 4),
            "diversity": round(diversity(images), 4),
            "n": len(images),
        }


def reference_features(model: clf.DigitClassifier, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The classifier's features of the test digits: the same for every run that judges on them,
    so computed once and kept in the user's cache directory (``genlab/judge/``), keyed by the
    classifier's weights, the digits and the kind of device. A missing or unreadable cache file is
    computed again; one that cannot be written is passed over."""
    import hashlib
    import io

    import numpy as np

    from genlab.core.data import cache_dir
    from genlab.run.files import atomic_write_bytes

    key = hashlib.sha256(clf.WEIGHTS.read_bytes())
    key.update(images.cpu().numpy().tobytes())
    key.update(device.type.encode())
    path = cache_dir().parent / "judge" / f"{key.hexdigest()[:32]}.npy"
    try:
        kept = np.load(path, allow_pickle=False)
        if kept.dtype == np.float32 and kept.shape == (len(images), model.fc1.out_features):
            return torch.from_numpy(kept).double().to(device)
    except (OSError, ValueError, EOFError):
        pass
    feats, _ = features_and_probs(model, images.to(device))
    buf = io.BytesIO()
    np.save(buf, feats.float().cpu().numpy())  # float32 features, widened: kept exactly
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue(), durable=False)
    except OSError:
        pass
    return feats


def generate(model, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` fresh digits from a sample-based model, in chunks of 1,000 (chunk i seeded seed + i)."""
    return torch.cat([model.sample(min(1000, n - i), torch.Generator().manual_seed(seed + i))
                      for i in range(0, n, 1000)])


def needs_judge(model) -> bool:
    """Its quality is the judge's verdict on digits it generates (it declares "samples")."""
    return model.measured_by == "samples"


def measure(model, test_images: torch.Tensor, test_labels: torch.Tensor, *, n: int, k: int,
            judge: Judge | None = None, seed: int = 0, interrupt=None) -> dict:
    """The model's quality figures, measured as it declares (GenModel.measured_by): "samples",
    :meth:`Judge.judge` of ``n`` generated digits (GANs); "importance", the importance-sampled NLL
    (``k`` samples) of ``n`` held-out digits (VAEs); "evaluate", its own held-out evaluation of
    ``n`` digits (PixelCNNs). What `genlab eval`, live quality and bench/quality.py report."""
    if needs_judge(model):
        judge = judge or Judge(test_images, test_images.device)
        return judge.judge(generate(model, n, seed))
    if model.measured_by == "importance":
        return {"test_is_nll": vae_importance_nll(model, test_images[:n], k=k, interrupt=interrupt), "k": k}
    return model.evaluate(test_images[:n], test_labels[:n], interrupt=interrupt)


def assess(model, test_images: torch.Tensor, test_labels: torch.Tensor, *, n: int, k: int) -> dict:
    """What ``genlab eval`` reports of a model: its quality figures (:func:`measure`) on ``n``
    generated digits when they come from samples, else on the whole test set; and, where those
    figures are not its own held-out evaluation, that evaluation too (a VAE's negative ELBO
    beside its importance-sampled NLL)."""
    figures = measure(model, test_images, test_labels, n=n if needs_judge(model) else len(test_images), k=k)
    if model.measured_by == "importance":
        figures = {**model.evaluate(test_images, test_labels), **figures}
    return figures


def assess_run(run_dir, *, n: int, k: int, device, data_dir=None, on_bad=None) -> dict:
    """:func:`assess` of a run's newest good checkpoint on its own data's test set: run, model,
    step and metrics (``on_bad(path, error)``: told of each checkpoint passed over)."""
    from genlab.core.data import load_for_run
    from genlab.models import trained

    t = trained.newest(run_dir, device, on_bad=on_bad)
    digits = load_for_run(t.config.data, device, data_dir)
    metrics = assess(t.model, digits.test_images, digits.test_labels, n=n, k=k)
    return {"run": t.run_dir.name, "model": t.config.model, "step": t.step, "metrics": metrics}


def vae_importance_nll(vae, images: torch.Tensor, k: int = 1000, seed: int = 0, chunk: int = 100,
                       interrupt=None) -> float:
    """log p(x) ≈ log mean_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x); mean over digits, in nats.
    Gives way (raises Interrupted) when ``interrupt()`` says a command waits."""
    return float(vae_importance_nll_each(vae, images, k, seed, chunk, interrupt).mean())


@torch.no_grad()
def vae_importance_nll_each(vae, images: torch.Tensor, k: int = 1000, seed: int = 0, chunk: int = 100,
                            interrupt=None) -> torch.Tensor:
    """The importance-sampled -log p(x) of each digit (float64, on the CPU)."""
    from genlab.models.base import TEST_BINARIZATION_SEED, Interrupted, binarize

    net = vae.net.eval()
    x_all = binarize(images.reshape(len(images), 784), torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
    g = torch.Generator().manual_seed(seed)
    each = []
    for x in x_all.split(chunk):
        if interrupt is not None and interrupt():
            vae.net.train()
            raise Interrupted
        mu, logvar = net.encode(x)
        std = torch.exp(0.5 * logvar)
        weights = []
        for start in range(0, k, 100):  # draw the k samples in groups, to bound memory
            kk = min(100, k - start)
            eps = torch.randn((kk, *mu.shape), generator=g).to(x.device)
            z = mu + eps * std
            logits = net.dec(z.flatten(0, 1)).view(kk, len(x), 784)  # decoders take a flat batch
            log_px_z = -torch.nn.functional.binary_cross_entropy_with_logits(
                logits, x.expand_as(logits), reduction="none").sum(-1)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + math.log(2 * math.pi) + logvar).sum(-1)
            weights.append(log_px_z + log_pz - log_qz)
        w = torch.cat(weights)  # k × batch
        each.append(-(torch.logsumexp(w, 0) - math.log(k)).double().cpu())
    vae.net.train()
    return torch.cat(each)
