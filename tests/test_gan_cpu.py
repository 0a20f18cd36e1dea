"""The seed GAN's hand-written CPU step (genlab/models/gan_cpu.py) against autograd."""

import torch
import torch.nn.functional as F

from genlab import models
from genlab.core import speed
from genlab.models import gan_cpu

aten = torch.ops.aten


def autograd_mlp(layers, x, masks, last):
    """The same network through nn.Linear and autograd, batch-major, with the given masks."""
    h = x
    for i, lin in enumerate(layers):
        h = lin(h)
        if i < len(layers) - 1:
            h = F.leaky_relu(h, 0.2)
            if masks is not None:
                h = h * masks[i].t()
    return last(h)


def grads(layers):
    return [p.grad for lin in layers for p in (lin.weight, lin.bias)]


def test_hand_gradients_equal_autograds():
    torch.manual_seed(0)
    m = models.build("gan")
    G, D = gan_cpu.linears(m.G), gan_cpu.linears(m.D)
    widths = [1024, 512, 256]
    x, z = torch.rand(12, 784) * 2 - 1, torch.randn(6, 100)
    target = torch.cat([torch.ones(6), torch.zeros(6)])[:, None]

    # ---- D's loss, 2 x BCE over the real and fake rows, by autograd and by hand
    masks = gan_cpu.dropout_masks(12, widths, 0.3)
    (2 * F.binary_cross_entropy(autograd_mlp(D, x, masks, torch.sigmoid), target)).backward()
    want = [g.clone() for g in grads(D)]
    m.D.zero_grad(set_to_none=True)
    h, inputs, pre = gan_cpu.forward(D, x.t(), masks)
    gan_cpu.backward(D, gan_cpu.bce_grad(torch.sigmoid(h), target.t(), 1 / 6), inputs, pre, masks)
    for got, w in zip(grads(D), want, strict=True):
        torch.testing.assert_close(got, w)

    # ---- G's loss through a frozen D: G's gradients, and none for D
    m.D.zero_grad(set_to_none=True)
    m.D.requires_grad_(False)
    masks = gan_cpu.dropout_masks(6, widths, 0.3)
    fake = autograd_mlp(G, z, None, torch.tanh)
    F.binary_cross_entropy(autograd_mlp(D, fake, masks, torch.sigmoid), torch.ones(6, 1)).backward()
    want = [g.clone() for g in grads(G)]
    m.G.zero_grad(set_to_none=True)
    m.D.requires_grad_(True)
    h, g_inputs, g_pre = gan_cpu.forward(G, z.t())
    fake_t = torch.tanh(h)
    h, inputs, pre = gan_cpu.forward(D, fake_t, masks)
    g = gan_cpu.backward(D, gan_cpu.bce_grad(torch.sigmoid(h), torch.ones(1, 6), 1 / 6), inputs, pre, masks,
                         weights=False, input_grad=True)
    gan_cpu.backward(G, aten.tanh_backward(g, fake_t), g_inputs, g_pre)
    for got, w in zip(grads(G), want, strict=True):
        torch.testing.assert_close(got, w)
    assert all(p.grad is None for p in m.D.parameters())


def test_hand_step_trains_as_the_autograd_step():
    """Without dropout the two steps draw the same noise: ten steps of each, the same model."""
    torch.manual_seed(0)
    hand, auto = models.build("gan"), models.build("gan")
    auto.load_state(hand.state())
    assert hand.hand_step
    auto.hand_step = False
    for m in (hand, auto):
        for layer in m.D:
            if isinstance(layer, torch.nn.Dropout):
                layer.p = 0.0
    x = torch.randint(0, 256, (32, 28, 28), dtype=torch.uint8)
    out = {}
    for m in (hand, auto):
        torch.manual_seed(1)
        out[m] = [m.train_step(x, None) for _ in range(10)]
    for a, b in zip(out[hand], out[auto]):
        assert a.keys() == b.keys()
        for k in a:
            assert abs(a[k] - b[k]) < 1e-4, (k, a[k], b[k])
    for name in ("G", "D"):
        for p, q in zip(hand.networks[name].parameters(), auto.networks[name].parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_dropout_masks_drop_p_and_scale_the_rest():
    masks = gan_cpu.dropout_masks(1000, [1024, 8], 0.3)
    assert [tuple(m.shape) for m in masks] == [(1024, 1000), (8, 1000)]
    values = torch.unique(masks[0])
    torch.testing.assert_close(values, torch.tensor([0.0, 1 / 0.7]))
    assert abs(float((masks[0] == 0).float().mean()) - 0.3) < 0.005
    assert gan_cpu.dropout_masks(10, [4], 0.0) is None


def test_compile_and_amp_use_the_autograd_step():
    for kwargs in ({"amp": "bf16"}, {"compile": True}):
        m = models.build("gan")
        speed.StepRunner(m, torch.device("cpu"), notice=lambda text: None, **kwargs)
        assert m.hand_step is False, kwargs
    m = models.build("gan")
    speed.StepRunner(m, torch.device("cpu"))
    assert m.hand_step is True
