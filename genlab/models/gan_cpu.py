"""The seed GAN's training step on the CPU, with its gradients written out by hand.

The maths is GAN.step's (gan.py) to the last detail: D on the real and the fake half, its BCE
loss, Adam; then G's BCE loss through the updated D, with fresh dropout masks. Tests check the
gradients against autograd's and a run of steps against the autograd step. It is faster on the
CPU for three reasons, each measured here (bench/speed.py; 2-core AMD EPYC, MKL):

- Activations are kept feature-major (features × batch), so in every matmul the long side (256
  to 1,024 features) is the rows of the result. MKL runs ``W @ x.T`` at about 190 GFLOPS here
  and the usual ``x @ W.T`` at about 130, for the same product.
- No autograd graph: a layer's backward is two matmuls (weight and input gradient) and one
  fused ``leaky_relu_backward``; nothing is recorded, nothing is freed.
- The three dropout masks of a D pass come from one random draw, already in that layout.

Together, one step of batch 64 took 16.6 ms against 19.9 ms for the autograd step (best of 10
alternating rounds of 60 steps). Other devices, ``--compile`` and ``--amp`` use the autograd
step (StepRunner turns this one off), where the compiler or autocast sees the networks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

aten = torch.ops.aten
SLOPE = 0.2  # LeakyReLU's, in both networks


def linears(net: nn.Sequential) -> list[nn.Linear]:
    return [m for m in net if isinstance(m, nn.Linear)]


def dropout_p(net: nn.Sequential) -> float:
    return next((m.p for m in net if isinstance(m, nn.Dropout)), 0.0)


def keep_mask(numel: int, p: float) -> torch.Tensor:
    """A flat dropout mask of ``numel`` elements: 0 where dropped, 1/(1-p) where kept, as
    nn.Dropout scales. torch's CPU Bernoulli draws one random number per element and costs about
    as much as a 1024-wide matmul here; this takes 16 random bits per element (four per 64-bit
    draw) and drops an element when they fall below p·65536, so p is kept to 1 part in 65,536."""
    words = torch.empty((numel + 3) // 4, dtype=torch.int64).random_(-(2**63), 2**63 - 1)
    bits = words.view(torch.int16)[:numel]
    return (bits >= int(p * 65536) - 32768).float().mul_(1 / (1 - p))


def dropout_masks(n: int, widths: list[int], p: float) -> list[torch.Tensor] | None:
    """Masks for ``n`` rows of layers ``widths`` wide, each ``width × n``, from one draw."""
    if p == 0:
        return None
    keep = keep_mask(n * sum(widths), p)
    return [m.view(w, n) for m, w in zip(keep.split([n * w for w in widths]), widths)]


def forward(layers: list[nn.Linear], x: torch.Tensor, masks: list[torch.Tensor] | None = None):
    """An MLP of ``layers`` with LeakyReLU (then dropout) between them, feature-major.

    ``x`` is ``features × batch``. Returns the last layer's pre-activation, every layer's input
    and every hidden pre-activation: what :func:`backward` needs."""
    inputs, pre = [x], []
    h = x
    for i, lin in enumerate(layers):
        h = torch.addmm(lin.bias[:, None], lin.weight, h)
        if i < len(layers) - 1:
            pre.append(h)
            h = F.leaky_relu(h, SLOPE)
            if masks is not None:
                h.mul_(masks[i])
            inputs.append(h)
    return h, inputs, pre


def backward(layers: list[nn.Linear], g: torch.Tensor, inputs, pre, masks=None, *,
             weights: bool = True, input_grad: bool = False) -> torch.Tensor | None:
    """From ``g`` (the gradient at the last pre-activation) back through :func:`forward`:
    sets each layer's ``weight.grad`` and ``bias.grad`` when ``weights``, and returns the
    gradient at the input when ``input_grad``."""
    for i in reversed(range(len(layers))):
        lin = layers[i]
        if weights:
            lin.weight.grad = g.mm(inputs[i].t())
            lin.bias.grad = g.sum(1)
        if i == 0 and not input_grad:
            return None
        g = lin.weight.t().mm(g)
        if i > 0:
            if masks is not None:
                g.mul_(masks[i - 1])
            g = aten.leaky_relu_backward(g, pre[i - 1], SLOPE, False)
    return g


def bce_grad(out: torch.Tensor, target: torch.Tensor, scale: float) -> torch.Tensor:
    """Gradient of ``scale ×`` the summed BCE at the logit under a sigmoid ``out``, computed as
    torch's BCE backward (its 1e-12 floor included) followed by the sigmoid's backward."""
    g = (out - target).div_(((1 - out) * out).clamp_(min=1e-12)).mul_(scale)
    return aten.sigmoid_backward(g, out)


@torch.no_grad()
def step(model, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """One step of the seed's GAN (a gan.GAN on the CPU); metrics as GAN.step gives them."""
    from genlab.models.gan import LATENT, scale

    b = len(images)
    G, D = linears(model.G), linears(model.D)
    widths, p = [lin.out_features for lin in D[:-1]], dropout_p(model.D)
    target = model.targets(b).t()  # 1 × 2b: ones for the real half, zeros for the fake
    z = model.noise(b, LATENT).t()  # (a rank's rows of the whole batch's noise)

    # ---- G(z), kept for G's backward
    h, g_inputs, g_pre = forward(G, z)
    fake = torch.tanh(h)  # 784 × b

    # ---- discriminator: BCE(D(x), 1) + BCE(D(G(z)), 0), the mean over each half
    masks = dropout_masks(2 * b, widths, p)
    h, inputs, pre = forward(D, torch.cat([scale(images).t(), fake], 1), masks)
    out = torch.sigmoid(h)
    d_loss = 2 * F.binary_cross_entropy(out, target)
    backward(D, bce_grad(out, target, 1 / b), inputs, pre, masks)
    model.optimizers["D"].step()

    # ---- generator: BCE(D(G(z)), 1) through the updated D, fresh masks; D's weights untouched
    masks = dropout_masks(b, widths, p)
    h, inputs, pre = forward(D, fake, masks)
    out_g = torch.sigmoid(h)
    ones = target[:, :b]
    g_loss = F.binary_cross_entropy(out_g, ones)
    g = backward(D, bce_grad(out_g, ones, 1 / b), inputs, pre, masks, weights=False, input_grad=True)
    backward(G, aten.tanh_backward(g, fake), g_inputs, g_pre)
    model.optimizers["G"].step()

    return {"d_loss": d_loss, "g_loss": g_loss, "d_real": out[0, :b].mean(), "d_fake": out[0, b:].mean(),
            **model.grad_norms()}
