"""What every genlab model provides to the engine, the CLI and the checkpoint.

A model owns its networks and optimisers. The engine calls :meth:`GenModel.step` once per batch
and never looks inside; checkpoints hold :meth:`state` (plain dicts of state_dicts).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from genlab.models.specs import ModelSpec
from genlab.view import View


class Interrupted(Exception):
    """A long side job (sampling, evaluation) gave way to a waiting command."""


def adam(params, lr: float, betas=(0.9, 0.999)) -> torch.optim.Optimizer:
    """Adam with the fastest implementation this torch offers (fused, else foreach)."""
    params = list(params)
    for kind in ("fused", "foreach"):
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, **{kind: True})
        except (RuntimeError, TypeError, ValueError):
            continue
    return torch.optim.Adam(params, lr=lr, betas=betas)


def grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    """The total L2 norm of ``params``' gradients, as ``torch.nn.utils.clip_grad_norm_`` computes
    it but without clipping: a detached 0-d tensor on their device, read back with the step's
    other metrics (no host synchronisation here). The gradients are only read. Parameters
    without a gradient count as zero; none at all gives 0."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros((), device=params[0].device if params else None)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).detach()


def to_uint8(x: torch.Tensor, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Map values in [low, high] to ``uint8`` grey levels 0-255, shape N×28×28."""
    x = (x.float() - low) * (255.0 / (high - low))
    return x.round().clamp_(0, 255).to(torch.uint8).reshape(-1, 28, 28).cpu()


class GenModel:
    """Base class: subclasses declare themselves with ``spec`` (genlab/models/specs: a
    ModelSpec) and build networks in ``__init__``."""

    spec: ClassVar[ModelSpec]
    # What the model declares (ModelSpec says what each is), taken from its spec when the class is
    # made: a class without a spec (a test's toy) sets them itself, and the optional ones default
    # as a spec's do (below the class)
    name: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str]
    defaults: ClassVar[dict]
    view: ClassVar[View]
    sample_count: ClassVar[int]
    presets: ClassVar[dict[str, dict]]
    limits: ClassVar[dict[str, tuple]]
    knobs: ClassVar[dict[str, str]]
    measured_by: ClassVar[str]
    encodes: ClassVar[bool]
    channels_last: ClassVar[bool]

    # A model may have a faster step of its own for eager float32 on this device (gan on the CPU:
    # gan_cpu.py). StepRunner turns it off under --compile and --amp, which need the networks.
    hand_step: bool = False
    # (rank, ranks) of a run on several processes (genlab/distributed.py): each rank trains on
    # its rows of every global batch and draws the noise of the whole batch, keeping its rows, so
    # its random stream and its rows' noise are those of one process with the global batch
    shard: tuple[int, int] = (0, 1)
    # optimiser name -> its learning rate as a multiple of ``lr`` (unlisted: 1), for :meth:`set_lr`
    lr_scales: dict[str, float] = {}
    # name -> a moving average of a network's weights (genlab/models/ema.py: a GAN's "G_ema" with
    # --hp ema), never trained; kept in the checkpoint beside the networks, so a resume is exact
    averages: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("spec")
        if declared is not None:
            for attribute in ModelSpec.CLASS_ATTRIBUTES:
                setattr(cls, attribute, getattr(declared, attribute))

    def __init__(self, hp: dict, device: torch.device):
        self.hp = {**self.defaults, **hp}
        self.device = torch.device(device)
        self.networks: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    # ---- training
    def rows(self, local: int) -> tuple[slice, int]:
        """This rank's rows of a global batch whose local part has ``local`` rows, and its size."""
        rank, ranks = self.shard
        return slice(rank * local, (rank + 1) * local), local * ranks

    def noise(self, local: int, *shape: int, draw=torch.randn) -> torch.Tensor:
        """Noise for this rank's ``local`` rows (standard normal, or ``draw``'s, e.g. torch.rand):
        the whole batch's drawn, this rank's rows kept. On one process, ``draw(local, *shape)``."""
        rows, n = self.rows(local)
        return draw(n, *shape, device=self.device)[rows]

    def binarize_rows(self, images: torch.Tensor) -> torch.Tensor:
        """:func:`binarize` of this rank's rows, from the uniform draws of the whole batch."""
        p = images.float().reshape(len(images), -1) / 255
        return (self.noise(len(images), p.shape[1], draw=torch.rand) < p).float()

    def prepare(self, train_images: torch.Tensor) -> None:
        """What the model learns of the training digits (``uint8`` N×28×28) before its first step,
        kept in :meth:`state` (dcgan's clusters); nothing by default. The engine calls it on every
        start, a resume's checkpoint then loading over it."""

    def step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step on a ``uint8`` batch; metrics as detached 0-d tensors."""
        raise NotImplementedError

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """:meth:`step` with its metrics read back as floats."""
        return {k: float(v) for k, v in self.step(images, labels).items()}

    # ---- sampling
    def latent(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """The random input that fully determines ``n`` samples (drawn on the CPU)."""
        raise NotImplementedError

    def decode(self, latent: torch.Tensor, interrupt=None) -> torch.Tensor:
        """Digits for a latent batch, ``uint8`` N×28×28 on the CPU.

        Slow decoders call ``interrupt()`` now and then and raise :class:`Interrupted` if true."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        generator = generator or torch.Generator().manual_seed(0)
        return self.decode(self.latent(n, generator))

    # ---- evaluation
    def evaluate(self, images: torch.Tensor, labels: torch.Tensor, interrupt=None) -> dict[str, float]:
        """Metrics on held-out digits (``uint8``), prefixed ``test_``; ``interrupt`` as in decode."""
        raise NotImplementedError

    def quality_fields(self, figures: dict) -> dict:
        """A live quality event's fields from evaluate.measure's figures."""
        return {key: round(v, 5) if isinstance(v, float) else v for key, v in figures.items()}

    # ---- parameters and state
    def parameters(self):
        for m in self.networks.values():
            yield from m.parameters()

    def set_lr(self, lr: float) -> None:
        """Every optimiser's learning rate to ``lr`` times its scale (``lr_scales``: e.g. a GAN's
        discriminator at ``d_lr_ratio`` times the generator's), as a resume with --lr asks."""
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = lr * self.lr_scales.get(name, 1.0)

    def parameter_counts(self) -> dict[str, int]:
        return {k: sum(p.numel() for p in m.parameters()) for k, m in self.networks.items()}

    def train(self, mode: bool = True) -> None:
        for m in self.networks.values():
            m.train(mode)

    def state(self) -> dict:
        return {
            "models": {**{k: m.state_dict() for k, m in self.networks.items()},
                       **{k: a.net.state_dict() for k, a in self.averages.items()}},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
        }

    def load_state(self, state: dict) -> None:
        for k, m in self.networks.items():
            m.load_state_dict(state["models"][k])
        for k, a in self.averages.items():
            a.net.load_state_dict(state["models"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])


for _attribute, _default in ModelSpec.optional().items():
    setattr(GenModel, _attribute, _default)


def binarize(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarisation: each pixel is 1 with probability grey/255 (float 0/1).

    With ``generator`` (a CPU generator) the draw is repeatable: that is the fixed binarisation
    of the test set used for evaluation, so likelihoods compare across runs.
    """
    p = images.float() / 255
    if generator is None:
        return torch.bernoulli(p)
    return torch.bernoulli(p.cpu(), generator=generator).to(images.device)


TEST_BINARIZATION_SEED = 20161
