"""The digit classifier that judges samples: is this a digit, which one, how sure?

A small CNN (two 3×3 convolutions with pooling, then 128 features, then 10 classes), trained by
``genlab eval train-classifier`` and shipped with the package (``bundled/classifier.pt``, about
1.6 MB). Its 128 penultimate features are what the Fréchet distance (FLD) compares.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genlab.run.sinks import counted

WEIGHTS = Path(__file__).resolve().parents[1] / "bundled" / "classifier.pt"


class DigitClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)
        self.drop = nn.Dropout(0.25)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """128 features per digit; ``x`` is uint8 N×28×28 or float N×1×28×28 in [0, 1]."""
        if x.dtype == torch.uint8:
            x = x.float().div_(255).unsqueeze(1)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc1(self.drop(x.flatten(1))))

    def forward(self, x):
        return self.fc2(self.drop(self.features(x)))


def load(device: torch.device | str = "cpu", path: Path = WEIGHTS) -> DigitClassifier:
    model = DigitClassifier()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    return model.to(device).eval()


@torch.no_grad()
def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    right = sum(int((model(x).argmax(1) == y).sum()) for x, y in zip(images.split(1000), labels.split(1000)))
    return right / len(images)


def train(digits, epochs: int = 4, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
          device: torch.device | str = "cpu", log=print) -> tuple[DigitClassifier, float | None]:
    """Train on the training digits (random shifts of up to 2 pixels); returns (model, test
    accuracy), the accuracy measured after each epoch for ``log`` (None: not measured at all, for
    a caller that scores the model its own way)."""
    torch.manual_seed(seed)
    model = DigitClassifier().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr * 3, total_steps=epochs * (len(digits.train_images) // batch_size))
    x_all, y_all = digits.train_images.to(device), digits.train_labels.to(device)
    for epoch in range(epochs):
        model.train()
        start = time.time()
        perm = torch.randperm(len(x_all), device=device)
        for i in range(len(x_all) // batch_size):
            idx = perm[i * batch_size : (i + 1) * batch_size]
            x = x_all[idx].float().div(255).unsqueeze(1)
            dx, dy = torch.randint(-2, 3, (2,)).tolist()  # a small random shift per batch
            x = torch.roll(x, shifts=(dx, dy), dims=(2, 3))
            loss = F.cross_entropy(model(x), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = None
        if log is not None:
            acc = accuracy(model, digits.test_images.to(device), digits.test_labels.to(device))
            log(f"epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f} ({time.time() - start:.0f}s)")
    return model.eval(), acc


def save(model: DigitClassifier, test_accuracy: float, path: Path = WEIGHTS) -> None:
    import io

    from genlab.run.files import atomic_write_bytes

    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "test_accuracy": test_accuracy,
                "made_by": "genlab eval train-classifier"}, buf)
    atomic_write_bytes(path, buf.getvalue())


def train_judge(epochs: int, device, data_dir=None, log=print) -> float:
    """Train the judge (``genlab eval train-classifier``) on the digits ``data_dir`` gives and
    save it into the package (WEIGHTS); its test accuracy. ``log``: told what happens, a line
    at a time."""
    from genlab.core.data import load_digits

    digits = load_digits(data_dir, device)
    log(f"training the digit classifier on {len(digits.train_images):,} digits ({digits.source}), {counted(epochs, 'epoch')}")
    model, acc = train(digits, epochs=epochs, device=device, log=log)
    save(model.cpu(), acc)
    return acc
