"""The PixelCNNs' declarations: pixelcnn and gated-pixelcnn; what an autoregressive model shows
and how it goes wrong. Their networks and steps are in genlab/models/pixelcnn.py and gated_pixelcnn.py.
"""

from __future__ import annotations

from genlab.health.rules import Rule, flat, gradient_explosion, loss_spikes, rising
from genlab.models.specs import ModelSpec
from genlab.view import Metric, Pane, View

# ---- how a PixelCNN goes wrong: like any likelihood model (genlab/health/rules.py says what a rule can say)
PIXELCNN_HEALTH = (
    Rule("overfitting", "overfitting", "warn",
         "the held-out NLL rises while the training NLL falls: the model is learning its training digits by heart",
         rising("test_nll", 0.01, 2, against="nll"), ("test_nll", "nll"),
         ("genlab stop {run}", "genlab train {model} --hp channels=16")),
    Rule("plateau", "plateau", "warn",
         "the held-out NLL has stopped improving over the last checks: more steps at this learning rate will not help",
         flat("test_nll", 0.002, 3), ("test_nll",),
         ("genlab resume {run} --lr {lr_half}", "genlab train gated-pixelcnn")),
    loss_spikes("nll", factor=2.0),
    gradient_explosion("grad_norm"),
)
# ---- what a PixelCNN shows: its exact likelihood, in bits per dimension as papers give it
PIXELCNN_VIEW = View(
    metrics=(
        Metric("nll", "-log p(x) of a binarised training digit", "nats"),
        Metric("bpd", "the same in bits per dimension: nll / (784 ln 2)", "bits/dim"),
        Metric("grad_norm", "the network's gradient norm (total L2, before its step)", "", None, "‖∇‖", ".3g"),
        Metric("test_nll", "-log p(x) of held-out digits (one fixed binarisation)", "nats"),
        Metric("test_bpd", "held-out bits per dimension", "bits/dim"),
    ),
    panes=(Pane("NLL, bits per dimension", ("bpd",), ("test_bpd",)),),
    key="bpd", quality="test_nll", progress=("nll", "bpd"),
    health=PIXELCNN_HEALTH,
    judged_after_steps=500,
    judged_after_checks=2,
)

PIXELCNN = ModelSpec(
    name="pixelcnn", family="autoregressive",
    description="masked-convolution PixelCNN, Bernoulli pixels, sampled pixel by pixel",
    implementation="genlab.models.pixelcnn:PixelCNN",
    defaults={"batch_size": 64, "lr": 1e-3, "channels": 32, "layers": 5},
    parameters={"pixelcnn": 48_929},
    # 89.79 nats after 10 minutes on a 2-core CPU, against 90.27 at the defaults
    # (bench/results/quality-cpu-pixelcnn-10min.txt; the grid that favoured lr 2e-3: sweep-pixelcnn-cpu.txt)
    presets={"cpu": {"channels": 48, "lr": 2e-3}},
    view=PIXELCNN_VIEW,
    sample_count=16,  # 784 sequential forward passes per grid: keep it small
)
GATED_PIXELCNN = ModelSpec(
    name="gated-pixelcnn", family="autoregressive",
    description="gated PixelCNN with vertical and horizontal stacks (van den Oord et al. 2016)",
    implementation="genlab.models.gated_pixelcnn:GatedPixelCNN",
    defaults={"batch_size": 64, "lr": 1e-3, "channels": 32, "layers": 6},
    parameters={"pixelcnn": 117_121},
    # the size of van den Oord et al.'s gated PixelCNNs, for a GPU (README: "Likelihood models")
    presets={"gpu": {"channels": 128, "layers": 15}},
    view=PIXELCNN_VIEW,
    sample_count=16,
)
SPECS = (PIXELCNN, GATED_PIXELCNN)
