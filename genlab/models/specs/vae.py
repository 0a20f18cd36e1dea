"""The VAEs' declarations: vae and conv-vae; what a VAE shows and how it goes wrong.

Their networks and steps are in genlab/models/vae.py and conv_vae.py.
"""

from __future__ import annotations

from genlab.health.rules import Rule, all_of, any_of, below, gradient_explosion, loss_spikes, rising
from genlab.models.specs import ModelSpec
from genlab.view import Metric, Pane, View

# ---- how a VAE goes wrong, in the tutorial's terms (genlab/health/rules.py says what a rule can say)
VAE_HEALTH = (
    Rule("posterior-collapse", "posterior collapse", "bad",
         "the KL term won: the latent code carries (almost) nothing about the digit, the decoder ignores it and "
         "the samples blur",
         # (measured: healthy kl 8-22 nats, 19.5-20 active units of 20; collapsed: kl 0.002-0.055, 0 active)
         any_of(below("kl", 0.1, 200),
                all_of(below("kl", 0.5, 200), any_of(below("active_units", 1, 200), below("test_active_units", 1.5, 1)))),
         ("kl", "active_units", "test_active_units"),
         ("genlab train {model} --hp free_bits=0.5", "genlab train {model} --hp beta=1",
          "genlab train {model} --hp kl_warmup=2000")),
    Rule("overfitting", "overfitting", "warn",
         "the held-out loss rises while the training loss falls: the model is learning its training digits by heart",
         rising("test_loss", 0.01, 3, against="loss"), ("test_loss", "loss"),
         ("genlab stop {run}", "genlab train {model} --hp hidden=200")),
    loss_spikes("loss", factor=2.0),
    gradient_explosion("grad_norm_encoder", "grad_norm_decoder"),
)
# beta: the KL term's weight (1: the ELBO; raised, the KL term wins and the posterior
# collapses); its cures: kl_warmup, steps over which beta ramps up from 0, and free_bits,
# nats of KL per dimension (batch mean) that cost nothing (Kingma et al. 2016)
VAE_KNOBS = {
    "beta": "the KL term's weight in the loss (default 1, the ELBO): raised, the KL term wins and the latent "
            "code collapses (no active units)",
    "kl_warmup": "steps over which the KL weight ramps from 0 up to beta (default 0: none), a cure for collapse",
    "free_bits": "nats of KL per latent dimension (batch mean) left unpenalised (default 0), a cure for collapse",
    "k": "latents drawn per digit (default 1, the ELBO); above 1 an IWAE (Burda et al. 2016), which minimises the "
         "importance-weighted bound, tighter on -log p(x), and keeps more latent units active",
}

MLP_KNOBS = {"layers": "hidden layers in the encoder and in the decoder (default 1)",
             "act": "their activation: relu (default) or tanh"}
# Burda et al. (2016)'s one-stochastic-layer model: 784-200-200-50 (tanh) and back. Their MNIST
# figures after 3,280 passes, importance-sampled with k = 5,000: 86.76 nats trained as a VAE (k = 1),
# 84.78 as an IWAE with k = 50 at batch 20 (the ``gpu`` preset); the ``cpu`` preset trains it as a VAE
# at batch 128, where a 2-core CPU gets through an epoch in seconds (README: "Likelihood models")
BURDA_NET = {"hidden": 200, "layers": 2, "latent": 50, "act": "tanh"}

# ---- what a VAE shows: the negative ELBO, its two terms, and the importance-sampled likelihood
VAE_VIEW = View(
    metrics=(
        Metric("loss", "negative ELBO per digit: reconstruction plus KL (lower is better)", "nats"),
        Metric("recon", "reconstruction: -log p(x|z) of the binarised digit", "nats"),
        Metric("kl", "KL(q(z|x) || p(z)): what the latent code costs", "nats", None, "KL"),
        Metric("active_units", "latent dimensions in use: those whose batch-mean KL is above 0.01 nats "
               "(0: posterior collapse)", "", False, "active", ".0f"),
        Metric("grad_norm_encoder", "the encoder's gradient norm (total L2, before its step)", "", None, "‖∇enc‖", ".3g"),
        Metric("grad_norm_decoder", "the decoder's gradient norm (total L2, before its step)", "", None, "‖∇dec‖", ".3g"),
        Metric("test_loss", "negative ELBO on held-out digits", "nats"),
        Metric("test_recon", "reconstruction on held-out digits", "nats"),
        Metric("test_kl", "KL on held-out digits", "nats", None),
        Metric("test_active_units", "active units on held-out digits (Burda et al.): dimensions whose posterior "
               "mean varies over the digits with variance above 0.01; the KL of each dimension is test_kl_00, ...",
               "", False, "active held-out", ".0f"),
        Metric("test_is_nll", "importance-sampled -log p(x) of held-out digits (k samples each)", "nats"),
    ),
    panes=(Pane("negative ELBO and importance-sampled NLL, nats", ("loss",), ("test_loss", "test_is_nll")),
           Pane("reconstruction and KL, nats", ("recon", "kl"), ("test_recon", "test_kl"))),
    key="loss", quality="test_is_nll", progress=("loss", "recon", "kl"), walks=True,
    health=VAE_HEALTH,
    judged_after_steps=500,
    judged_after_checks=1,
)

VAE = ModelSpec(
    name="vae", family="vae",
    description="MLP VAE, Bernoulli decoder on binarised digits (pytorch/examples)",
    implementation="genlab.models.vae:VAE",
    defaults={"batch_size": 128, "lr": 1e-3, "hidden": 400, "latent": 20, "layers": 1, "act": "relu",
              "beta": 1.0, "kl_warmup": 0, "free_bits": 0.0,
              "k": 1},  # k: latents per digit, > 1 an IWAE (genlab/models/vae.py)
    parameters={"vae": 652_824},
    presets={"cpu": BURDA_NET,
             "gpu": {**BURDA_NET, "batch_size": 20, "k": 50}},
    knobs={**VAE_KNOBS, **MLP_KNOBS},
    view=VAE_VIEW,
    measured_by="importance",  # its quality: the importance-sampled NLL of held-out digits
    encodes=True,  # net.encode: latent maps, anomaly scores, walks between encoded digits
)
CONV_VAE = ModelSpec(
    name="conv-vae", family="vae",
    description="convolutional VAE, Bernoulli decoder on binarised digits",
    implementation="genlab.models.conv_vae:ConvVAE",
    defaults={"batch_size": 128, "lr": 1e-3, "hidden": 256, "latent": 32, "beta": 1.0, "kl_warmup": 0,
              "free_bits": 0.0, "k": 1},  # beta, kl_warmup, free_bits: as vae's (VAE_KNOBS); k: as vae's
    parameters={"vae": 1_700_609},
    knobs=VAE_KNOBS,
    view=VAE_VIEW,
    measured_by="importance",
    encodes=True,
    channels_last=True,  # CPU, batch 128: 2,956 images/s against 2,646 in NCHW
)
SPECS = (VAE, CONV_VAE)
