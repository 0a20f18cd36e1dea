"""What a model declares of itself, torch-free: a :class:`ModelSpec` per model.

A spec is everything about a model that is not its networks: its name and family, what it is
for a person, its hyperparameters (defaults, presets, ranges), the knobs that make or cure a
failure, its :class:`~genlab.view.View` (metrics, panes, key metric, health rules), how its
quality is measured, and its parameter counts at the defaults. Each family declares its models
in one module here (gan.py, vae.py, pixelcnn.py); genlab/models/catalogue.py lists them all.
The model's class (in a torch module beside this package) reads its spec: ``spec = specs.GAN``
gives the class its name, defaults, view... (GenModel.__init_subclass__), so no value is
written twice, and `genlab models`, the cockpit and argument checks read the specs without
importing torch. A new model: its spec in its family's module here, its class with ``spec =``,
and the spec in that module's ``SPECS``.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields

from genlab.view import View

# hyperparameter -> (low, high, low allowed), or for a word the words it may be; unlisted:
# integers >= 1, numbers > 0
LIMITS: dict[str, tuple] = {"beta1": (0.0, 1.0, True), "beta2": (0.0, 1.0, True),
                            "penalty": (0.0, math.inf, True),
                            "d_lr_ratio": (0.0, 1000.0, False), "beta": (0.0, 1000.0, True),
                            "kl_warmup": (0, math.inf, True), "free_bits": (0.0, 100.0, True),
                            "ema": (0.0, 1.0, True), "sn": (0, 2, True), "loss": ("bce", "hinge"),
                            "r1": (0.0, math.inf, True), "act": ("relu", "tanh"),
                            "d_norm": ("batch", "none"), "clusters": (0, 1001, True),
                            "g_blocks": (0, 9, True)}


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    name: str
    family: str  # "gan", "vae" or "autoregressive"
    description: str
    # where its class lives, "module:Class" (genlab.models imports it only when a model is built)
    implementation: str
    defaults: dict  # every hyperparameter, batch_size and lr included
    # its networks' parameter counts at the defaults, e.g. {"G": 1486352, "D": 1460225}
    # (tests/test_models.py checks them against the built model)
    parameters: dict[str, int]
    view: View  # its metrics, curve panes, key metric and health rules, for every screen (genlab/view.py)
    presets: dict[str, dict] = field(default_factory=dict)  # named hyperparameter sets over the defaults (--preset)
    limits: dict[str, tuple] = field(default_factory=lambda: LIMITS)  # the ranges :func:`checked` enforces
    knobs: dict[str, str] = field(default_factory=dict)  # what the hyperparameters that make or cure a failure do
    sample_count: int = 64  # digits in a fixed-latent grid
    # What evaluation it needs (genlab/eval/quality.py measure and assess): its quality figures come
    # from "samples" (the judge's FLD, class histogram and confident share of digits it generates),
    # "importance" (the importance-sampled NLL of held-out digits) or "evaluate" (its own held-out
    # evaluation, e.g. a PixelCNN's exact test NLL)
    measured_by: str = "evaluate"
    # it has an encoder (``net.encode`` gives a digit's posterior mean and log-variance): latent maps,
    # anomaly scores and walks between encoded digits need one (genlab/eval/latent.py, anomaly.py)
    encodes: bool = False
    channels_last: bool = False  # convolutions in NHWC on the CPU, where measured to pay

    # what the model's class takes from its spec as class attributes (GenModel.__init_subclass__)
    CLASS_ATTRIBUTES = ("name", "family", "description", "defaults", "presets", "limits", "knobs", "view",
                        "sample_count", "measured_by", "encodes", "channels_last")

    def to_json(self) -> dict:
        """What `genlab models --json` says of it, and the cockpit's new-run form reads."""
        return {"name": self.name, "family": self.family, "parameters": self.parameters, "defaults": self.defaults,
                "presets": self.presets, "description": self.description, "knobs": self.knobs,
                "view": self.view.to_json()}

    @classmethod
    def optional(cls) -> dict:
        """The class attributes a spec need not give, at their defaults: those of a model class
        without a spec (a test's toy model) that it does not set itself."""
        return {f.name: f.default if f.default_factory is MISSING else f.default_factory()
                for f in fields(cls) if f.name in cls.CLASS_ATTRIBUTES
                and (f.default is not MISSING or f.default_factory is not MISSING)}
