"""PyTorch's model tutorials, ported (DCGAN, VAE, spatial transformer, char-RNNs, seq2seq,
the nn.Transformer language model): the gaps they met. MaxPool then ReLU(inplace=True)
(the spatial transformer's localisation net) trains, as PyTorch's max pooling reads saved
indices, not its output; ``nn.init`` fills a parameter's ``.data`` array (DCGAN's
``weights_init``); StepLR takes a float step_size (the language-model tutorial's 1.0).
References are NumPy loops written here from PyTorch's documented formulas."""

import itertools
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim


def ref_max_pool_relu_grad(x, w, k, s, p):
    """y = relu(max over each window of x padded with −inf), and dL/dx for L = Σ w·y: each
    window's w goes to its (unique) maximum when that maximum is > 0 (overlapping windows
    add up). x: (N, C, *spatial) with distinct values."""
    spatial = x.shape[2:]
    outs = [(n + 2 * pp - kk) // ss + 1 for n, kk, ss, pp in zip(spatial, k, s, p)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    grad = np.zeros_like(x)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for o in itertools.product(*(range(m) for m in outs)):
            best, where = -np.inf, None
            for tap in itertools.product(*(range(kk) for kk in k)):
                at = tuple(oo * ss - pp + t for oo, ss, pp, t in zip(o, s, p, tap))
                if all(0 <= a < m for a, m in zip(at, spatial)) and x[(n, c) + at] > best:
                    best, where = x[(n, c) + at], at
            y[(n, c) + o] = max(best, 0.0)
            if best > 0:
                grad[(n, c) + where] += w[(n, c) + o]
    return y, grad


@pytest.mark.parametrize("dims, k, s, p", [(2, 2, 2, 0), (2, 3, 2, 1), (1, 3, 2, 1),
                                           (3, 2, 2, 0)])
def test_max_pool_then_inplace_relu_trains(device, rng, dims, k, s, p):
    """The spatial transformer's ``nn.Sequential(..., nn.MaxPool2d(2, stride=2),
    nn.ReLU(True))``: PyTorch's max pooling backward reads the input and its argmax, so
    the in-place ReLU on y is allowed; it used to raise 'modified by an in-place
    operation'."""
    pools = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
    shape = (2, 3) + (7, 6, 5)[:dims] if dims < 3 else (1, 2, 4, 5, 4)
    x_np = rng.permutation(np.prod(shape)).reshape(shape) / 10.0 - 3.0   # distinct values
    x = tg.tensor(x_np, device=device, requires_grad=True)
    net = nn.Sequential(pools[dims](k, stride=s, padding=p), nn.ReLU(inplace=True))
    y = net(x)
    w_np = rng.normal(size=y.shape)
    (y * tg.tensor(w_np, device=device)).sum().backward()
    y_ref, grad_ref = ref_max_pool_relu_grad(x_np, w_np, (k,) * dims, (s,) * dims, (p,) * dims)
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), grad_ref, rtol=1e-12, atol=1e-15)


def test_max_pool2d_output_written_in_place_recorded_backward(device, rng):
    """A recorded backward (create_graph=True) after an in-place write to y: dL/dx is
    the same routing as above (each window's weight to its maximum)."""
    x_np = rng.permutation(2 * 2 * 4 * 4).reshape(2, 2, 4, 4) / 7.0 - 2.0
    x = tg.tensor(x_np, device=device, requires_grad=True)
    y = nn.functional.max_pool2d(x, 2)
    y.mul_(3.0)
    w_np = rng.normal(size=y.shape)
    (gx,) = tg.autograd.grad((y * tg.tensor(w_np, device=device)).sum(), x, create_graph=True)
    _, grad_ref = ref_max_pool_relu_grad(x_np + 100.0, w_np, (2, 2), (2, 2), (0, 0))
    np.testing.assert_allclose(gx.numpy(), 3.0 * grad_ref, rtol=1e-12)


def test_max_pool_input_written_in_place_still_raises(device, rng):
    """Only a write to y is allowed: PyTorch's backward reads x, so writing x raises."""
    x = tg.tensor(rng.normal(size=(1, 1, 4, 4)), device=device, requires_grad=True)
    h = x * 1.0
    y = nn.functional.max_pool2d(h, 2)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_init_fills_a_parameters_data_array(device):
    """DCGAN's weights_init: ``nn.init.normal_(m.weight.data, 0.0, 0.02)`` and
    ``nn.init.constant_(m.bias.data, 0)``. Here ``.data`` is the backend array: the fill
    writes the parameter's memory and returns that array (it used to fail with
    'memoryview: invalid slice key')."""
    conv = nn.ConvTranspose2d(64, 32, 4, bias=False).to(device)
    bn = nn.BatchNorm2d(32).to(device)
    lin = nn.Linear(5, 3).to(device)
    array = conv.weight.data
    assert nn.init.normal_(conv.weight.data, 0.0, 0.02) is array
    assert conv.weight.data is array and conv.weight.is_leaf and conv.weight.requires_grad
    drawn = conv.weight.numpy()
    assert abs(drawn.std() - 0.02) < 0.001 and abs(drawn.mean()) < 0.001   # 32768 draws
    assert nn.init.constant_(bn.bias.data, 0.25) is bn.bias.data
    np.testing.assert_array_equal(bn.bias.numpy(), np.full(32, 0.25, dtype=np.float32))
    nn.init.eye_(lin.weight.data)
    np.testing.assert_array_equal(lin.weight.numpy(), np.eye(3, 5, dtype=np.float32))
    nn.init.zeros_(lin.bias.data)
    np.testing.assert_array_equal(lin.bias.numpy(), np.zeros(3, dtype=np.float32))
    nn.init.xavier_uniform_(lin.weight.data, gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / (5 + 3))
    assert np.all(np.abs(lin.weight.numpy()) <= bound) and lin.weight.numpy().std() > 0


def test_init_of_an_array_draws_what_the_tensor_form_draws(device):
    """The array form is the same fill: the same seed gives the same numbers."""
    weight = nn.Linear(6, 4).to(device).weight
    tg.manual_seed(3)
    nn.init.kaiming_normal_(weight.data, mode="fan_out")
    from_array = weight.numpy().copy()
    tg.manual_seed(3)
    nn.init.kaiming_normal_(weight, mode="fan_out")
    np.testing.assert_array_equal(weight.numpy(), from_array)
    assert abs(from_array.std() - math.sqrt(2.0 / 4)) < 0.5     # std = √2/√fan_out


@pytest.mark.parametrize("step_size", [1.0, 1.5, 2.0])
def test_step_lr_takes_a_float_step_size(step_size):
    """The Transformer tutorial's ``StepLR(optimizer, 1.0, gamma=0.95)``: PyTorch does not
    type-check step_size; α_t = α0·γ^⌊t / step_size⌋ (Python's //). It used to raise
    'step_size must be a positive integer'."""
    w = tg.zeros(2, requires_grad=True)
    optimizer = optim.SGD([w], lr=5.0)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size, gamma=0.95)
    seen = []
    for _ in range(7):
        seen.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    expected = [5.0 * 0.95 ** (t // step_size) for t in range(7)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5.0 * 0.95 ** (7 // step_size))


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, True, "1", float("nan")])
def test_step_lr_still_refuses_a_step_size_that_is_not_positive(bad):
    optimizer = optim.SGD([tg.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match="StepLR: step_size"):
        optim.lr_scheduler.StepLR(optimizer, bad)
