"""Fourth audit of the activations against PyTorch's semantics: hardtanh with an
inverted range (PyTorch's clamp: every value becomes max_val, gradient 0), RReLU with a
negative lower bound, hardsigmoid's gradient at NaN, ``inplace=True`` on an integer
tensor whose result is float (refused, as PyTorch, instead of truncated), and SiLU and
Mish of float16 computed in float32 as PyTorch's kernels. Every expected value is
computed in NumPy from the documented formula."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def _value_and_grad(function, x, device):
    t = tg.tensor(x, device=device, requires_grad=True)
    y = function(t)
    y.backward(tg.ones_like(y))
    return y.detach().numpy(), t.grad.numpy()


def np_sigmoid(x):
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


# ------------------------------------------------------- hardtanh with min_val > max_val

@pytest.mark.parametrize("min_val, max_val", [(1.0, -1.0), (2.5, 0.5), (0.5, 0.5)])
def test_hardtanh_inverted_or_empty_range_is_clamp(min_val, max_val, rng, device):
    # PyTorch's hardtanh is clamp(x, min_val, max_val) = min(max(x, min_val), max_val), with
    # no check on the order: min_val > max_val gives max_val everywhere; the backward,
    # (x <= min_val || x >= max_val) ? 0 : g, is then 0 everywhere.
    x = np.concatenate([rng.standard_normal(8) * 3, [min_val, max_val, -1e4, 1e4]])
    value, grad = _value_and_grad(lambda t: F.hardtanh(t, min_val, max_val), x, device)
    np.testing.assert_array_equal(value, np.minimum(np.maximum(x, min_val), max_val))
    np.testing.assert_array_equal(grad, np.zeros_like(x))


def test_hardtanh_inverted_range_on_integers_and_in_place(device):
    ints = np.array([-3, 0, 1, 5], dtype=np.int64)
    y = F.hardtanh(tg.tensor(ints, device=device), 2.7, -1.2)   # bounds -> int: 2, -1
    assert y.dtype == tg.int64
    np.testing.assert_array_equal(y.numpy(), np.minimum(np.maximum(ints, 2), -1))
    x = tg.tensor(np.array([-2.0, 0.0, 3.0]), device=device)
    out = F.hardtanh(x, 1.0, -0.5, inplace=True)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), [-0.5, -0.5, -0.5])


def test_hardtanh_module_still_refuses_an_inverted_range():
    # nn.Hardtanh asserts max_val > min_val at construction, as PyTorch's module does.
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(1.0, -1.0)


# ---------------------------------------------------------------- RReLU's bounds

def test_rrelu_module_accepts_a_negative_lower_bound(device):
    # PyTorch's RReLU checks nothing at construction, and at::rrelu only lower <= upper.
    x = np.array([-4.0, -1.0, 0.0, 2.0])
    module = nn.RReLU(-0.2, 0.4).eval()
    value, grad = _value_and_grad(module, x, device)
    slope = (-0.2 + 0.4) / 2                       # evaluation: the mean slope
    np.testing.assert_allclose(value, np.where(x > 0, x, slope * x), rtol=1e-15)
    np.testing.assert_allclose(grad, np.where(x > 0, 1.0, slope), rtol=1e-15)
    module.train()
    negative = -np.arange(1.0, 201.0)
    value, grad = _value_and_grad(module, negative, device)
    np.testing.assert_allclose(value, grad * negative, rtol=1e-15)  # same slope both ways
    assert np.all((grad >= -0.2) & (grad <= 0.4)) and grad.min() < 0 < grad.max()


def test_rrelu_module_still_refuses_lower_above_upper():
    with pytest.raises(ValueError, match="lower=0.5, upper=0.1"):
        nn.RReLU(0.5, 0.1)


# ---------------------------------------------------------- hardsigmoid at NaN

def test_hardsigmoid_nan_stays_nan_with_zero_gradient(device):
    # PyTorch's hardsigmoid_backward: (x > -3 && x < 3) ? g / 6 : 0, so 0 at NaN; the
    # forward, min(max(x + 3, 0), 6) / 6, propagates the NaN.
    x = np.array([np.nan, -np.inf, -3.0, -1.5, 0.0, 2.9, 3.0, np.inf])
    value, grad = _value_and_grad(F.hardsigmoid, x, device)
    inside = (x > -3) & (x < 3)
    np.testing.assert_array_equal(value, np.minimum(np.maximum(x + 3, 0), 6) / 6)
    np.testing.assert_array_equal(grad, np.where(inside, 1 / 6, 0.0))
    _, module_grad = _value_and_grad(nn.Hardsigmoid(), x, device)
    np.testing.assert_array_equal(module_grad, grad)


# ------------------------------------------- inplace=True on integer tensors

FLOAT_RESULT = {
    "leaky_relu": lambda x: F.leaky_relu(x, 0.5, inplace=True),
    "elu": lambda x: F.elu(x, inplace=True),
    "selu": lambda x: F.selu(x, inplace=True),
    "celu": lambda x: F.celu(x, 2.0, inplace=True),
    "silu": lambda x: F.silu(x, inplace=True),
    "mish": lambda x: F.mish(x, inplace=True),
    "hardsigmoid": lambda x: F.hardsigmoid(x, inplace=True),
    "hardswish": lambda x: F.hardswish(x, inplace=True),
    "rrelu": lambda x: F.rrelu(x, inplace=True),
    "elu_": F.elu_,
    "leaky_relu_": F.leaky_relu_,
    "ELU module": nn.ELU(inplace=True),
}


@pytest.mark.parametrize("name", sorted(FLOAT_RESULT))
def test_inplace_float_result_into_an_integer_tensor_is_refused(name, device):
    # PyTorch refuses (these functions have no integer kernel, and a float result cannot
    # be cast into an integer tensor); truncating it silently would be a wrong answer.
    values = np.array([-3, -1, 0, 2], dtype=np.int64)
    x = tg.tensor(values, device=device)
    with pytest.raises(RuntimeError, match="int64"):
        FLOAT_RESULT[name](x)
    np.testing.assert_array_equal(x.numpy(), values)   # x untouched
    assert x.dtype == tg.int64


def test_inplace_integer_results_still_write_into_integer_tensors(device):
    values = np.array([-3, -1, 0, 2, 9], dtype=np.int64)
    cases = [(lambda x: F.relu(x, inplace=True), np.maximum(values, 0)),
             (lambda x: F.relu6(x, inplace=True), np.clip(values, 0, 6)),
             (lambda x: F.threshold(x, 0.5, -7.9, inplace=True),   # 0.5 -> 0, -7.9 -> -7
              np.where(values > 0, values, -7))]
    for function, expected in cases:
        x = tg.tensor(values, device=device)
        assert function(x) is x and x.dtype == tg.int64
        np.testing.assert_array_equal(x.numpy(), expected)


def test_inplace_float16_and_float_results_keep_working(device):
    x = tg.tensor(np.array([-2.0, 0.5], dtype=np.float16), device=device)
    assert F.elu(x, inplace=True) is x and x.dtype == tg.float16
    np.testing.assert_allclose(x.numpy(), [np.expm1(-2.0), 0.5], rtol=1e-3)


# ------------------------------------------------------ SiLU and Mish in float16

def _float16_ulps(got, want):
    want16 = want.astype(np.float16)
    spacing = np.abs(np.spacing(want16)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want16.astype(np.float64)) / spacing


@pytest.mark.parametrize("name", ["silu", "mish"])
def test_silu_and_mish_of_float16_are_computed_in_float32(name, device):
    # PyTorch's kernels compute half in float and round once. In float16 itself σ(x) of
    # x < -10 is subnormal, with few digits left: SiLU(−17) came out 40% too large.
    x16 = np.concatenate([np.linspace(-17, -9, 33), np.linspace(-3, 3, 13)]).astype(np.float16)
    x = x16.astype(np.float64)
    s = np_sigmoid(x)
    if name == "silu":
        want, want_grad = x * s, s * (1 + x * (1 - s))
    else:
        t = np.tanh(np_softplus(x))
        want, want_grad = x * t, t + x * s * (1 - t * t)
    value, grad = _value_and_grad(getattr(F, name), x16, device)
    assert value.dtype == np.float16 and grad.dtype == np.float16
    assert _float16_ulps(value, want).max() <= 1
    assert _float16_ulps(grad, want_grad).max() <= 1
    y = tg.tensor(x16.copy(), device=device)
    assert getattr(F, name)(y, inplace=True) is y and y.dtype == tg.float16
    np.testing.assert_array_equal(y.numpy(), value)
