"""Labelled digits from a conditional generator, and what they are worth: the Classification
Accuracy Score (Ravuri and Vinyals 2019).

CAS trains the evaluation classifier's architecture (genlab/classifier.py) on N generated
digits only and tests it on the real test set, per class and overall, beside the same
classifier trained on N real training digits: a generator whose digits teach as well as real
ones is good for augmentation; the gap says how far it is.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

from genlab.errors import UsageError
from genlab.run.sinks import counted

MIN_N = 128  # one batch of the classifier's training


def check_conditional(model, run_id: str, what: str) -> None:
    if not getattr(model, "conditional", False):
        raise UsageError(f"run {run_id} is a {model.name}, not a conditional model: {what} needs one (cgan)")


@torch.no_grad()
def labelled(model, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` generated digits (``uint8`` N×28×28) with their labels, the ten classes as even as
    ``n`` allows (0, 1, ..., 9, 0, 1, ...)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    images = []
    for chunk in labels.split(1000):
        z = model.latent(len(chunk), g)
        z[:, -1] = chunk.float()  # the label column: these digits
        images.append(model.decode(z).cpu())
    return torch.cat(images), labels


def per_class(model, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, list[float]]:
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x).argmax(1).cpu() for x in images.split(1000)])
    right = predicted == labels.cpu()
    return float(right.double().mean()), [float(right[labels.cpu() == c].double().mean()) for c in range(10)]


def score(model, digits, n: int = 10_000, epochs: int = 4, seed: int = 0, device="cpu") -> dict:
    """CAS of ``model``'s digits, and the same classifier trained on ``n`` real digits."""
    from genlab.eval import classifier
    if n < MIN_N:
        raise UsageError(f"-n must be at least {MIN_N} (one batch of the classifier) for --cas, got {n}")
    fake_x, fake_y = labelled(model, n, seed)
    test = {"test_images": digits.test_images.to(device), "test_labels": digits.test_labels.to(device)}
    on_fake, _ = classifier.train(SimpleNamespace(train_images=fake_x, train_labels=fake_y, **test),
                                  epochs=epochs, seed=seed, device=device, log=None)
    pick = torch.randperm(len(digits.train_images), generator=torch.Generator().manual_seed(seed))[:n]
    on_real, _ = classifier.train(SimpleNamespace(train_images=digits.train_images[pick.to(digits.train_images.device)],
                                                  train_labels=digits.train_labels[pick.to(digits.train_labels.device)], **test),
                                  epochs=epochs, seed=seed, device=device, log=None)
    cas, cas_classes = per_class(on_fake, test["test_images"], test["test_labels"])
    real, real_classes = per_class(on_real, test["test_images"], test["test_labels"])
    return {"n": n, "epochs": epochs, "cas": cas, "cas_by_class": cas_classes, "real": real,
            "real_by_class": real_classes, "gap": real - cas}


def score_run(run_dir, n: int = 10_000, epochs: int = 4, device="cpu", data_dir=None, on_bad=None,
              log=None) -> dict:
    """:func:`score` of a conditional run's newest good checkpoint on its own data, kept as the
    run's ``cas.json`` (the newest CAS, for the cockpit and ``genlab show``): run, step and the
    figures. ``log``: told, before the classifiers train, what is about to take a while."""
    from genlab.core.data import load_for_run
    from genlab.models import trained
    from genlab.run.files import atomic_write_json
    from genlab.run.rundir import RunDir

    if epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {epochs}")
    if n < MIN_N:
        raise UsageError(f"-n must be at least {MIN_N} (one batch of the classifier) for --cas, got {n}")
    t = trained.newest(run_dir, device, on_bad=on_bad)
    check_conditional(t.model, t.run_dir.name, "--cas")
    digits = load_for_run(t.config.data, device, data_dir)
    if log is not None:
        log(f"training the digit classifier twice ({counted(epochs, 'epoch')}): on {n:,} digits from {t.run_dir.name} "
            f"(step {t.step:,}), and on {n:,} real ones")
    result = {"run": t.run_dir.name, "step": t.step, "n_test": len(digits.test_images),
              **score(t.model, digits, n, epochs, device=device)}
    atomic_write_json(RunDir(t.run_dir).cas, result)
    return result
