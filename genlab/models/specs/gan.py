"""The GANs' declarations: gan, dcgan, wgan-gp and cgan; what a GAN shows and how it goes wrong.

Their networks and steps are in genlab/models/gan.py, dcgan.py, wgan_gp.py and cgan.py.
"""

from __future__ import annotations

from dataclasses import replace

from genlab.health.rules import (
    Rule,
    above,
    all_of,
    any_of,
    below,
    falling,
    flat,
    gradient_explosion,
    loss_spikes,
    rising,
    swings,
)
from genlab.models.specs import ModelSpec
from genlab.view import Metric, Pane, View

# ---- what a GAN shows: the two losses, D's beliefs, and the judge's view of fresh digits
GAN_METRICS = (
    Metric("d_loss", "discriminator loss: binary cross-entropy on real and generated digits", "nats", None),
    Metric("g_loss", "generator loss, non-saturating: -log D(G(z))", "nats", None),
    Metric("d_real", "D(x): the discriminator's mean belief that real digits are real", "", None, "D(x)"),
    Metric("d_fake", "D(G(z)): its mean belief that generated digits are real", "", None, "D(G(z))"),
    Metric("grad_norm_G", "the generator's gradient norm (total L2, before its step): near 0, it learns nothing", "",
           None, "‖∇G‖", ".3g"),
    Metric("grad_norm_D", "the discriminator's (a WGAN's critic's) gradient norm (total L2, before its step)", "",
           None, "‖∇D‖", ".3g"),
    Metric("test_d_loss", "discriminator loss on held-out digits and as many generated ones", "nats", None),
    Metric("test_d_real", "D(x) on held-out digits", "", None),
    Metric("test_d_fake", "D(G(z)) on generated digits, beside the held-out ones", "", None),
    Metric("test_fld", "Frechet distance from generated digits to the test set, in the judge's features", "",
           True, "FLD", ".1f"),
    Metric("test_confident", "share of generated digits the judge is sure of", "%", False, "sure", ".0%"),
    Metric("test_diversity", "how much generated digits differ: their mean pairwise RMS distance, pixels 0-1 "
           "(held-out digits: 0.35, all ones 0.21; near 0, one digit over and over)", "", False, "diversity", ".3f"),
    Metric("min_class_share", "share of the rarest digit among generated ones (10% when all are even)", "%", False,
           spec=".1%"),
    Metric("max_class_share", "share of the commonest digit among generated ones", "%", True, spec=".1%"),
)
# d_lr_ratio: the discriminator's learning rate as a multiple of the generator's (lr); raised,
# D wins and G's gradient vanishes (the tutorial's failure; bench/health.py)
GAN_KNOBS = {"d_lr_ratio": "the discriminator's learning rate as a multiple of lr (default 1): raised, D wins "
                          "and G's gradient vanishes; lowered, G gets more say"}
# The field's cures for an unconditional GAN (issue 30), each off at its default (today's model);
# the convolutional GANs declare them (wgan-gp: ema and sn, its critic has its own loss and
# penalty), the seed's MLP gan none: its collapse is the lesson
GAN_OPTIONS = {"ema": 0.0, "sn": 0, "loss": "bce", "r1": 0.0, "r1_every": 1, "d_norm": "batch",
               "beta2": 0.999, "g_blocks": 0}
GAN_OPTION_KNOBS = {
    "ema": "samples from an exponential moving average of G's weights with this decay, e.g. 0.999 (default 0: "
           "off; the raw G is trained and kept too): steadier digits",
    "sn": "1: spectral normalisation on each of D's layers (Miyato et al. 2018), which then has no BatchNorm "
          "(default 0: off)",
    "loss": "bce (default: non-saturating cross-entropy) or hinge (D: relu(1 - D(x)) + relu(1 + D(G(z))); "
            "G: -D(G(z)))",
    "r1": "gamma of the R1 penalty gamma/2 |grad D(x)|^2 on real digits (Mescheder et al. 2018; default 0: off)",
    "r1_every": "lazy R1 (Karras et al. 2020): the penalty on every n-th D step only, n times as strong (default 1: "
                "every step); R1's second backward makes a step about half as long again",
    "d_norm": "batch (default: BatchNorm in D's middle layer, as DCGAN's paper) or none (no normalisation in D, as "
              "R1's and spectral normalisation's papers)",
    "g_blocks": "N: that many more 3x3 convolutions (BatchNorm, ReLU) in G at 14x14, between its two upsamplings "
                "(default 0: DCGAN's generator)",
    "beta2": "Adam's second-moment decay for G and D (default 0.999; 0.99 or 0.9 adapts faster, as GANs with R1 "
             "or a gradient penalty use)",
}
CLUSTERS_KNOB = ("K: condition G and D on the training digits' own K clusters (k-means of their pixels, no label "
                 "read; genlab/models/clusters.py) as cgan's are on the digit (default 0: off, one noise for all digits)")
FLD_PANE = Pane("FLD to the test set (lower is better)", (), ("test_fld",))
# ---- how a GAN goes wrong, in the tutorial's terms (genlab/health/rules.py says what a rule can say)
MODE_COLLAPSE = Rule(
    "mode-collapse", "mode collapse", "bad",
    "the generator covers only a few kinds of digit: the judge is sure of its digits and they fall into few "
    "classes, or the grid's digits grow alike",
    # (not a low diversity as such: a young GAN's blobs are alike before it draws any digit, and the
    # judge is sure of none of them; held-out digits: 0.35, only 1s: 0.21, a young MLP GAN's blobs: 0.03-0.06)
    any_of(all_of(above("test_confident", 0.5, 2), above("max_class_share", 0.4, 2)),
           falling("test_diversity", 0.3, 3)),
    ("max_class_share", "test_confident", "test_diversity"),
    ("genlab train cgan", "genlab train wgan-gp --preset cpu"))
NO_PROGRESS = Rule(
    "no-progress", "no progress", "warn",
    "the FLD has stopped falling (or rises) over the last quality checks: the generator is not getting better",
    any_of(rising("test_fld", 0.2, 4), all_of(above("test_fld", 100, 1), flat("test_fld", 0.03, 5))),
    ("test_fld",), ("genlab resume {run} --lr {lr_half}", "genlab train wgan-gp --preset cpu"))
GAN_HEALTH = (
    Rule("d-wins", "D winning", "bad",
         "the discriminator tells real from generated digits almost perfectly, so the generator's gradient "
         "vanishes and it stops learning",
         # (measured: healthy D(x) 0.68-0.87, D(G(z)) 0.18-0.44, ‖∇G‖ 3-16; D winning: 1.000, 1e-16, 0.005-0.17)
         all_of(above("d_real", 0.99, 200), below("d_fake", 0.01, 200), below("grad_norm_G", 0.5, 200)),
         ("grad_norm_G", "d_real", "d_fake"),
         ("genlab train wgan-gp --preset cpu", "genlab train {model} --hp d_lr_ratio=0.5", "genlab train dcgan")),
    Rule("dead", "training dead", "bad",
         "both networks' gradients are zero: the discriminator's outputs have saturated at 0 or 1 and neither "
         "network learns any more (a learning rate far too high)",
         all_of(below("grad_norm_G", 1e-9, 100), below("grad_norm_D", 1e-9, 100)),
         ("grad_norm_G", "grad_norm_D", "d_loss"),
         ("genlab train {model} --lr {lr_tenth}", "genlab train wgan-gp --preset cpu")),
    MODE_COLLAPSE,
    NO_PROGRESS,
    Rule("oscillation", "oscillating", "warn",
         "the two losses swing back and forth instead of settling: G and D chase each other (training instability)",
         any_of(swings("d_loss", 0.8, 2000), swings("g_loss", 2.0, 2000)),
         ("d_loss", "g_loss"), ("genlab resume {run} --lr {lr_half}", "genlab train wgan-gp --preset cpu")),
    loss_spikes("d_loss", "g_loss", factor=6.0),
    gradient_explosion("grad_norm_G", "grad_norm_D"),
)
GAN_VIEW = View(
    metrics=GAN_METRICS,
    panes=(Pane("G and D losses", ("d_loss", "g_loss"), ("test_d_loss",)),
           Pane("D(x) and D(G(z))", ("d_real", "d_fake"), ("test_d_real", "test_d_fake")),
           FLD_PANE),  # (gradient norms: in the health verdict's evidence, `h`; three panes fit 200x50)
    key="d_loss", quality="test_fld", progress=("d_loss", "g_loss"),
    class_histogram=("test_fld", "test_confident", "test_diversity"),
    walks=True,
    health=GAN_HEALTH,
    judged_after_steps=500,
    judged_after_checks=2,
)

# ---- a critic neither saturates nor wins as a discriminator does: collapse, stalls, explosions
WGAN_GP_HEALTH = (MODE_COLLAPSE, NO_PROGRESS, loss_spikes("gp", factor=20.0), gradient_explosion("grad_norm_G", "grad_norm_D"))
WGAN_GP_VIEW = View(
    metrics=(
        Metric("d_loss", "critic loss: E[D(G(z))] - E[D(x)] plus the penalty", "", None),
        Metric("g_loss", "generator loss: -E[D(G(z))]", "", None),
        Metric("wasserstein", "the critic's Wasserstein estimate E[D(x)] - E[D(G(z))]", "", True),
        Metric("gp", "gradient penalty: lambda (|grad D| - 1)^2 on interpolates", "", True),
        Metric("test_wasserstein", "Wasserstein estimate on held-out digits", "", True),
        *(m for m in GAN_METRICS if m.name in ("grad_norm_G", "grad_norm_D", "test_fld", "test_confident",
                                               "test_diversity", "min_class_share", "max_class_share")),
    ),
    panes=(Pane("critic and generator losses", ("d_loss", "g_loss")),
           Pane("Wasserstein estimate and gradient penalty", ("wasserstein", "gp"), ("test_wasserstein",)),
           FLD_PANE),
    key="d_loss", quality="test_fld", progress=("d_loss", "g_loss", "gp"),
    class_histogram=("test_fld", "test_confident", "test_diversity"),
    walks=True,
    health=WGAN_GP_HEALTH,
    judged_after_steps=500,
    judged_after_checks=2,
)

GAN = ModelSpec(
    name="gan", family="gan",
    description="the seed's MLP GAN (BCE, Adam 2e-4): the reference point",
    implementation="genlab.models.gan:GAN",
    defaults={"batch_size": 64, "lr": 2e-4, "d_lr_ratio": 1.0},
    parameters={"G": 1_486_352, "D": 1_460_225},
    presets={"large-batch": {"batch_size": 4096, "lr": 1.6e-3}},
    knobs=GAN_KNOBS,
    view=GAN_VIEW,
    measured_by="samples",  # its quality: the judge's figures of digits it generates
)
DCGAN = ModelSpec(
    name="dcgan", family="gan",
    description="convolutional GAN (Radford et al. 2016): Adam 2e-4, beta1 0.5, batch 128",
    implementation="genlab.models.dcgan:DCGAN",
    defaults={"batch_size": 128, "lr": 2e-4, "beta1": 0.5, "latent": 100, "width": 64, "d_lr_ratio": 1.0,
              **GAN_OPTIONS, "clusters": 0},
    parameters={"G": 778_305, "D": 138_817},
    # cgan's cpu preset, conditioned on 100 clusters of the digits instead of their labels: a grid over
    # the clusters and the width on a 2-core CPU (bench/results/sweep-dcgan-clusters-cpu.txt). Unclustered,
    # the best found was width 34, lr 2.8e-3, D's lr 0.86, EMA 0.99, hinge, R1 10 every 4th D step
    # (sweep-dcgan-options-cpu.txt, sweep-dcgan-lazy-r1-cpu.txt)
    # (and one more convolution in G, g_blocks 1: FLD 7.75 without, 6.63 with; quality-cpu-g-blocks-5min.txt)
    presets={"cpu": {"batch_size": 64, "lr": 1.2e-3, "width": 22, "d_lr_ratio": 0.55, "ema": 0.99, "loss": "hinge",
                     "clusters": 100, "g_blocks": 1}},
    knobs={**GAN_KNOBS, **GAN_OPTION_KNOBS, "clusters": CLUSTERS_KNOB},
    view=GAN_VIEW,
    measured_by="samples",
    channels_last=True,  # CPU, batch 128: 769 images/s against 588 in NCHW (dcgan; cgan, wgan-gp alike)
)
WGAN_GP = ModelSpec(
    name="wgan-gp", family="gan",
    description="Wasserstein GAN with gradient penalty (Gulrajani et al. 2017): lambda 10, 5 critic steps",
    implementation="genlab.models.wgan_gp:WGANGP",
    defaults={"batch_size": 64, "lr": 1e-4, "beta1": 0.0, "beta2": 0.9, "latent": 100, "width": 64,
              "critic_iters": 5, "penalty": 10.0, "d_lr_ratio": 1.0, "ema": 0.0, "sn": 0},
    parameters={"G": 778_305, "D": 138_561},
    # found by a TPE search with pruning over EMA and the knobs on a 2-core CPU (bench/results/sweep-wgan-gp-options-cpu.txt)
    presets={"cpu": {"batch_size": 128, "lr": 2.25e-3, "width": 25, "critic_iters": 3, "d_lr_ratio": 0.79,
                     "ema": 0.999}},
    knobs={**GAN_KNOBS, "ema": GAN_OPTION_KNOBS["ema"], "sn": GAN_OPTION_KNOBS["sn"]},
    view=WGAN_GP_VIEW,
    measured_by="samples",
    channels_last=True,
)
CGAN = ModelSpec(
    name="cgan", family="gan",
    description="conditional DCGAN (Mirza & Osindero 2014), projection D: samples in rows of 0 to 9",
    implementation="genlab.models.cgan:CGAN",
    defaults={key: value for key, value in DCGAN.defaults.items() if key != "clusters"},  # (it has the labels)
    parameters={"G": 841_025, "D": 201_537},
    # the options: bench/results/sweep-cgan-options-cpu.txt; width, lr and D's: sweep-cgan-tpe-cpu.txt; one more
    # convolution in G (g_blocks 1): FLD 8.50 without, 6.69 with (quality-cpu-g-blocks-5min.txt)
    presets={"cpu": {"batch_size": 64, "lr": 1.2e-3, "width": 22, "d_lr_ratio": 0.55, "ema": 0.99, "loss": "hinge",
                     "g_blocks": 1}},
    knobs={**GAN_KNOBS, **GAN_OPTION_KNOBS},
    view=replace(GAN_VIEW, sample_classes=10),  # a pane too small for the grid shows every digit
    sample_count=80,  # 8 of each digit: the grid's rows are 0 to 9
    measured_by="samples",
    channels_last=True,
)
SPECS = (GAN, DCGAN, WGAN_GP, CGAN)
