"""Activations: values against independent NumPy formulas, stability at +-1000,
PyTorch's derivative conventions at the kinks, gradcheck in float64 (functional
and module forms), and the layer-specific behaviour of PReLU, RReLU, GELU."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
np_erf = np.vectorize(math.erf)


# --- independent NumPy references (written from the formulas, stable where needed) ---

def np_sigmoid(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))),
                    np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    stable = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
    return np.where(z > threshold, x, stable)


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def np_log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# name: (functional form, module factory, NumPy reference)
ACTIVATIONS = {
    "sigmoid": (F.sigmoid, nn.Sigmoid, np_sigmoid),
    "tanh": (F.tanh, nn.Tanh, np.tanh),
    "relu": (F.relu, nn.ReLU, lambda x: np.maximum(x, 0)),
    "leaky_relu": (F.leaky_relu, nn.LeakyReLU, lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), lambda: nn.LeakyReLU(0.2),
                       lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (F.elu, nn.ELU, np_elu),
    "elu_0.5": (lambda x: F.elu(x, 0.5), lambda: nn.ELU(0.5), lambda x: np_elu(x, 0.5)),
    "selu": (F.selu, nn.SELU, lambda x: SELU_SCALE * np_elu(x, SELU_ALPHA)),
    "gelu": (F.gelu, nn.GELU, lambda x: 0.5 * x * (1 + np_erf(x / np.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda: nn.GELU("tanh"),
                  np_gelu_tanh),
    "silu": (F.silu, nn.SiLU, lambda x: x * np_sigmoid(x)),
    "softplus": (F.softplus, nn.Softplus, np_softplus),
    "softplus_beta2": (lambda x: F.softplus(x, beta=2.0, threshold=5.0),
                       lambda: nn.Softplus(beta=2.0, threshold=5.0),
                       lambda x: np_softplus(x, 2.0, 5.0)),
    "softsign": (F.softsign, nn.Softsign, lambda x: x / (1 + np.abs(x))),
    "hardtanh": (F.hardtanh, nn.Hardtanh, lambda x: np.clip(x, -1, 1)),
    "hardtanh_custom": (lambda x: F.hardtanh(x, -2.0, 0.5), lambda: nn.Hardtanh(-2.0, 0.5),
                        lambda x: np.clip(x, -2.0, 0.5)),
    "rrelu_eval": (lambda x: F.rrelu(x, 0.1, 0.3, training=False),
                   lambda: nn.RReLU(0.1, 0.3).eval(), lambda x: np.where(x > 0, x, 0.2 * x)),
    "prelu_default": (lambda x: F.prelu(x, tg.tensor([0.25], dtype=x.dtype, device=x.device)),
                      nn.PReLU, lambda x: np.where(x > 0, x, 0.25 * x)),
    "softmax": (lambda x: F.softmax(x, -1), lambda: nn.Softmax(-1),
                lambda x: np.exp(np_log_softmax(x))),
    "log_softmax": (lambda x: F.log_softmax(x, -1), lambda: nn.LogSoftmax(-1),
                    np_log_softmax),
}
NAMES = sorted(ACTIVATIONS)
KINKS = {"relu", "leaky_relu", "leaky_relu_0.2", "elu", "elu_0.5", "selu", "rrelu_eval",
         "prelu_default", "softsign"}  # not differentiable at 0
EDGES = {"hardtanh": (-1.0, 1.0), "hardtanh_custom": (-2.0, 0.5)}
MODULE_ONLY_PARAMS = {"prelu_default"}  # a module with a float32 weight


def values(dtype):
    """Ordinary values, exact zeros, and huge magnitudes, as a (3, 8) matrix."""
    x = np.array([[-1000.0, -30.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 0.0],
                  [1e-3, 0.25, 0.5, 1.0, 2.0, 3.0, 30.0, 1000.0],
                  [-2.0, -0.75, -0.1, 0.1, 0.75, 1.5, 4.5, -7.0]])
    return x.astype(dtype)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_numpy_and_stay_finite(name, dtype, device):
    function, _, reference = ACTIVATIONS[name]
    x = values(dtype)
    y = function(tg.tensor(x, device=device))
    assert y.dtype == dtype
    assert y.device == device
    out = y.numpy()
    assert np.all(np.isfinite(out)), f"{name} produced {out}"
    expected = reference(x.astype(np.float64))
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12,
                                                                            atol=1e-14)
    np.testing.assert_allclose(out, expected, **tolerance)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_finite_at_huge_inputs(name, device):
    function, _, _ = ACTIVATIONS[name]
    x = tg.tensor(values(np.float64), device=device, requires_grad=True)
    function(x).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy())), f"{name}: {x.grad.numpy()}"


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_functional(name, rng, device):
    function, _, _ = ACTIVATIONS[name]
    x = rng.standard_normal((4, 5)) * 2
    if name in KINKS:
        x = np.where(np.abs(x) < 0.05, 0.3, x)
    if name in EDGES:
        for edge in EDGES[name]:
            x = np.where(np.abs(x - edge) < 0.05, edge + 0.3, x)
    x = tg.tensor(x, device=device, requires_grad=True)
    assert tg.gradcheck(function, [x])


@pytest.mark.parametrize("name", NAMES)
def test_module_matches_functional_and_gradchecks(name, rng):
    function, make_module, _ = ACTIVATIONS[name]
    module = make_module()
    x = rng.standard_normal((3, 4)) + 0.3
    x = np.where(np.abs(x) < 0.05, 0.4, x)
    x = np.where(np.abs(np.abs(x) - 1) < 0.05, 0.4, x)  # keep away from hardtanh's edges
    x32 = tg.tensor(x.astype(np.float32))
    np.testing.assert_allclose(module(x32).numpy(), function(x32).numpy(), rtol=1e-6)
    module.double()
    x64 = tg.tensor(x, requires_grad=True)
    assert tg.gradcheck(lambda t: module(t), [x64])
    assert module.__doc__ and len(module.__doc__) > 40


# --- PyTorch's derivative conventions at the kinks (exact zeros) ---

@pytest.mark.parametrize("function, expected", [
    (F.relu, 0.0),
    (lambda x: F.leaky_relu(x, 0.1), 0.1),
    (lambda x: F.elu(x, 0.7), 0.7),
    (F.selu, SELU_SCALE * SELU_ALPHA),
    (F.softplus, 0.5),
    (F.softsign, 1.0),
    (F.sigmoid, 0.25),
    (F.tanh, 1.0),
    (F.silu, 0.5),
    (F.gelu, 0.5),
    (lambda x: F.gelu(x, "tanh"), 0.5),
    (lambda x: F.rrelu(x, 0.1, 0.3), 0.2),
])
def test_derivative_at_zero(function, expected, device):
    x = tg.tensor([0.0], dtype=tg.float64, device=device, requires_grad=True)
    function(x).sum().backward()
    assert x.grad.numpy()[0] == pytest.approx(expected, rel=1e-12)


def test_hardtanh_gradient_zero_on_the_edges_and_outside(device):
    x = tg.tensor([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], dtype=tg.float64, device=device,
                  requires_grad=True)
    F.hardtanh(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 1, 1, 0, 0])


def test_hardtanh_rejects_inverted_range():
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(1.0, -1.0)


# --- GELU ---

def test_gelu_modes_differ_slightly_and_reject_unknown():
    x = tg.tensor(np.linspace(-4, 4, 81))
    exact = F.gelu(x).numpy()
    approx = F.gelu(x, approximate="tanh").numpy()
    assert 1e-5 < np.max(np.abs(exact - approx)) < 1e-3
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, approximate="sigmoid")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"


def test_erf_is_accurate_to_a_few_ulp_in_float64(device):
    x = np.concatenate([np.linspace(-7, 7, 2001), [-1e-300, 0.0, 1e-300, 1e-8, 5.99, 6.0]])
    out = F.erf(tg.tensor(x, device=device)).numpy()
    np.testing.assert_allclose(out, np_erf(x), rtol=4e-16, atol=1e-300)


def test_erf_float32_and_float16(device):
    x = np.linspace(-7, 7, 2001).astype(np.float32)
    out = F.erf(tg.tensor(x, device=device))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), np_erf(x.astype(np.float64)), rtol=0, atol=2e-7)
    half = F.erf(tg.tensor(np.array([-0.5, 3.0], dtype=np.float16), device=device))
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.numpy(), [math.erf(-0.5), math.erf(3.0)], rtol=1e-3)


def test_erf_gradgradcheck(rng):
    x = tg.tensor(rng.standard_normal(6) * 2, requires_grad=True)
    assert tg.gradcheck(F.erf, [x])
    assert tg.gradgradcheck(F.erf, [x])


# --- PReLU ---

def test_prelu_per_channel_values_and_weight_gradient(rng, device):
    x = rng.standard_normal((4, 3, 5))
    prelu = nn.PReLU(num_parameters=3, init=0.1).to(device)
    prelu.weight.data[...] = tg.tensor([0.1, 0.2, 0.3], device=device).data
    y = prelu(tg.tensor(x, device=device, dtype=tg.float32))
    slope = np.array([0.1, 0.2, 0.3])[None, :, None]
    np.testing.assert_allclose(y.numpy(), np.where(x > 0, x, slope * x), rtol=1e-6)
    y.sum().backward()
    expected_grad = np.where(x > 0, 0.0, x).sum(axis=(0, 2))  # dy/da = x where x <= 0
    np.testing.assert_allclose(prelu.weight.grad.numpy(), expected_grad, rtol=1e-5)
    assert prelu.weight.grad.shape == (3,)


def test_prelu_gradcheck_wrt_input_and_weight(rng, device):
    x = tg.tensor(rng.standard_normal((3, 2, 4)) + 0.1, device=device, requires_grad=True)
    weight = tg.tensor([0.25, -0.5], dtype=tg.float64, device=device, requires_grad=True)
    assert tg.gradcheck(F.prelu, [x, weight])
    shared = tg.tensor([0.3], dtype=tg.float64, device=device, requires_grad=True)
    assert tg.gradcheck(F.prelu, [x, shared])


def test_prelu_parameters_and_shape_error():
    prelu = nn.PReLU(4, init=0.5)
    assert [name for name, _ in prelu.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(prelu.weight.numpy(), [0.5] * 4)
    with pytest.raises(ValueError, match="prelu"):
        prelu(tg.randn(2, 3))


# --- RReLU ---

def test_rrelu_training_draws_a_slope_per_element_in_range(device):
    x = -tg.ones(200, 50, device=device)
    rrelu = nn.RReLU(0.1, 0.3)
    y = rrelu(x).numpy()
    slopes = -y
    assert np.all(slopes >= 0.1) and np.all(slopes <= 0.3)
    assert slopes.std() > 0.05  # really random per element, U(0.1, 0.3) has std 0.058
    assert abs(slopes.mean() - 0.2) < 0.005
    positive = tg.tensor([0.5, 2.0], device=device)
    np.testing.assert_array_equal(rrelu(positive).numpy(), [0.5, 2.0])


def test_rrelu_eval_uses_mean_slope_and_training_gradient_is_the_drawn_slope(device):
    rrelu = nn.RReLU(0.1, 0.3)
    x = tg.tensor(-np.ones(100), dtype=tg.float64, device=device, requires_grad=True)
    y = rrelu(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -y.detach().numpy())
    rrelu.eval()
    np.testing.assert_allclose(rrelu(x).detach().numpy(), -0.2 * np.ones(100))


def test_rrelu_is_reproducible_under_manual_seed():
    x = -tg.ones(10)
    tg.manual_seed(3)
    first = F.rrelu(x, training=True).numpy()
    tg.manual_seed(3)
    second = F.rrelu(x, training=True).numpy()
    np.testing.assert_array_equal(first, second)


# --- softmax family ---

def test_softmax_rows_sum_to_one_along_dim_with_huge_logits(device):
    x = tg.tensor([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]], device=device)
    p = F.softmax(x, dim=1).numpy()
    np.testing.assert_allclose(p.sum(axis=1), [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0])
    column = F.softmax(x, dim=0).numpy()
    np.testing.assert_allclose(column.sum(axis=0), [1.0, 1.0, 1.0], rtol=1e-6)
    log_p = F.log_softmax(x, dim=1).numpy()
    np.testing.assert_allclose(log_p[0], [0.0, -1000.0, -2000.0])


def test_softmax_gradcheck_other_dims(rng, device):
    x = tg.tensor(rng.standard_normal((2, 3, 4)), device=device, requires_grad=True)
    assert tg.gradcheck(lambda t: F.softmax(t, dim=1), [x])
    assert tg.gradcheck(lambda t: F.log_softmax(t, dim=0), [x])
    assert tg.gradgradcheck(lambda t: F.log_softmax(t, dim=-1), [x])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=6))
def test_softplus_and_log_softmax_never_overflow(values_list):
    x = tg.tensor(np.array(values_list, dtype=np.float32), requires_grad=True)
    (F.softplus(x).sum() + F.log_softmax(x, 0).sum() + F.elu(x).sum()).backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(F.softplus(x).detach().numpy(),
                               np_softplus(np.array(values_list)), rtol=1e-5, atol=1e-6)


def test_softplus_keeps_tiny_values():
    # log1p keeps e^-50 ≈ 2e-22 (log(1 + e^-50) would round to 0)
    y = F.softplus(tg.tensor([-50.0], dtype=tg.float64)).numpy()
    np.testing.assert_allclose(y, np.exp(-50.0), rtol=1e-12)


def test_activation_reprs():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.PReLU(3)) == "PReLU(num_parameters=3)"
