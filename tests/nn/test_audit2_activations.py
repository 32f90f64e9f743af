"""Audit of the activations, dropout, linear and embedding against PyTorch's semantics:
integer inputs where PyTorch keeps the integer dtype (hardtanh, relu6, threshold),
gradients at ±inf and NaN where PyTorch's kernels define them, a 0-d PReLU weight,
argument checks with clear errors, and a few verified behaviours pinned. Expected
values are written by hand or in NumPy from PyTorch's documented formulas."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _value_and_grad(function, points, device="cpu"):
    x = tg.tensor(np.array(points, dtype=np.float64), device=device, requires_grad=True)
    y = function(x)
    y.backward(tg.ones_like(y))
    return y.detach().numpy(), x.grad.numpy()


# ------------------------------------------- integer inputs: hardtanh, relu6, threshold

def test_hardtanh_of_integers_stays_integer_with_truncated_bounds(device):
    # PyTorch's hardtanh_out: integer input -> bounds min.toLong(), max.toLong() (2.5 -> 2,
    # -1.5 -> -1), clamp in the input's dtype.
    x = tg.tensor(np.array([-3, -1, 0, 2, 3], dtype=np.int64), device=device)
    y = F.hardtanh(x, -1.5, 2.5)
    assert y.dtype == tg.int64
    np.testing.assert_array_equal(y.numpy(), [-1, -1, 0, 2, 2])
    six = F.relu6(tg.tensor(np.array([-4, 3, 9], dtype=np.int32), device=device))
    assert six.dtype == tg.int32                      # relu6 is hardtanh(x, 0, 6)
    np.testing.assert_array_equal(six.numpy(), [0, 3, 6])
    module = nn.ReLU6()(tg.tensor(np.array([7, 1], dtype=np.uint8), device=device))
    assert module.dtype == tg.uint8
    np.testing.assert_array_equal(module.numpy(), [6, 1])


def test_hardtanh_in_place_on_integers_keeps_the_truncated_bounds():
    x = tg.tensor(np.array([-5, 0, 5], dtype=np.int64))
    out = F.hardtanh_(x, -2.7, 3.9)                    # bounds -2 and 3, as PyTorch
    assert out is x and x.dtype == tg.int64
    np.testing.assert_array_equal(x.numpy(), [-2, 0, 3])


def test_hardtanh_refuses_bool_and_negative_limits_on_uint8():
    # PyTorch: "Bool inputs not supported for hardtanh"; "cannot do hardtanh on an
    # unsigned type with negative limits" (uint8 with the default bounds -1, 1).
    with pytest.raises(RuntimeError, match="hardtanh.*Bool"):
        F.hardtanh(tg.tensor(np.array([True, False])))
    with pytest.raises(RuntimeError, match="unsigned type with negative limits"):
        F.hardtanh(tg.tensor(np.array([1, 2], dtype=np.uint8)))


def test_threshold_of_integers_casts_threshold_and_value_to_the_dtype(device):
    # PyTorch's threshold kernel: threshold.to<int64>() = int(-0.5) = 0 and value 9.7 -> 9,
    # so x = 0 becomes 9 (0 <= 0), and the result stays int64.
    x = tg.tensor(np.array([-1, 0, 1, 2], dtype=np.int64), device=device)
    y = F.threshold(x, -0.5, 9.7)
    assert y.dtype == tg.int64
    np.testing.assert_array_equal(y.numpy(), [9, 9, 1, 2])
    with pytest.raises(RuntimeError, match="threshold.*Boolean"):
        F.threshold(tg.tensor(np.array([True])), 0, 1)


# ------------------------------------------------------- gradients at ±inf and NaN

def test_hardswish_gradient_at_infinities_is_the_outer_slopes(device):
    # PyTorch's hardswish_backward: 0 for x <= -3, 1 for x >= 3 (so 0 at -inf, 1 at +inf);
    # before, the unused middle piece x(x + 3)/6 made 0·inf = nan there.
    _, grad = _value_and_grad(F.hardswish, [-np.inf, np.inf], device)
    np.testing.assert_array_equal(grad, [0.0, 1.0])
    value, _ = _value_and_grad(F.hardswish, [np.inf, 1.0], device)
    np.testing.assert_allclose(value, [np.inf, 2.0 / 3.0], rtol=1e-15)


def test_hardswish_nan_stays_nan_with_the_upper_piece_gradient():
    # PyTorch: not x <= -3, not x < 3 -> the last branch, grad_output itself.
    value, grad = _value_and_grad(F.hardswish, [np.nan])
    assert np.isnan(value[0]) and grad[0] == 1.0


@pytest.mark.parametrize("function, slope", [
    (F.elu, 1.0), (lambda x: F.elu(x, 0.5), 1.0), (F.celu, 1.0), (F.selu, SELU_SCALE)])
def test_elu_family_nan_takes_the_identity_piece(function, slope):
    # PyTorch's elu kernels test x <= 0 for the exponential piece: a NaN takes the
    # x·scale piece, value nan and gradient scale (before: nan from the exp piece).
    value, grad = _value_and_grad(function, [np.nan, -np.inf, np.inf])
    assert np.isnan(value[0])
    np.testing.assert_allclose(grad, [slope, 0.0, slope], rtol=1e-15)


def test_rrelu_training_nan_has_slope_one():
    # PyTorch's rrelu_with_noise: input <= 0 draws a slope, anything else (NaN included)
    # gets noise 1.
    x = tg.tensor([np.nan, -2.0, 3.0], dtype=tg.float64, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    y.sum().backward()
    grad = x.grad.numpy()
    assert np.isnan(y.detach().numpy()[0])
    assert grad[0] == 1.0 and 0.1 <= grad[1] <= 0.3 and grad[2] == 1.0


@pytest.mark.parametrize("function, points, value, grad", [
    # PyTorch's kernels: relu/clamp and hardtanh propagate NaN; the gradients at ±inf
    # are those of the outer pieces.
    (F.hardtanh, [np.nan, -np.inf, np.inf], [np.nan, -1.0, 1.0], [1.0, 0.0, 0.0]),
    (F.leaky_relu, [np.nan, -np.inf, np.inf], [np.nan, -np.inf, np.inf], [0.01, 0.01, 1.0]),
    (F.softplus, [-np.inf, np.inf], [0.0, np.inf], [0.0, 1.0]),
    (F.logsigmoid, [-np.inf, np.inf], [-np.inf, 0.0], [1.0, 0.0]),
    (F.sigmoid, [-np.inf, np.inf], [0.0, 1.0], [0.0, 0.0]),
    (F.hardsigmoid, [-np.inf, np.inf, np.nan], [0.0, 1.0, np.nan], None),
    (F.softshrink, [np.nan, -np.inf], [np.nan, -np.inf], [1.0, 1.0]),
    (F.hardshrink, [np.nan, np.inf], [np.nan, np.inf], [1.0, 1.0]),
    (lambda x: F.threshold(x, 0.5, -2.0), [np.nan, -np.inf], [np.nan, -2.0], [1.0, 0.0]),
    (F.tanhshrink, [np.inf, -np.inf], [np.inf, -np.inf], [1.0, 1.0]),
])
def test_values_and_gradients_at_infinities_and_nan(function, points, value, grad):
    got_value, got_grad = _value_and_grad(function, points)
    np.testing.assert_array_equal(got_value, value)
    if grad is not None:
        np.testing.assert_array_equal(got_grad, grad)


# ------------------------------------------------------------------------------ prelu

def test_prelu_accepts_a_0d_weight(device):
    # PyTorch's prelu: weight.dim() <= 1; a 0-d weight is one shared slope.
    x = tg.tensor([[-2.0, 3.0], [4.0, -1.0]], dtype=tg.float64, device=device,
                  requires_grad=True)
    weight = tg.tensor(0.25, dtype=tg.float64, device=device, requires_grad=True)
    y = F.prelu(x, weight)
    np.testing.assert_allclose(y.detach().numpy(), [[-0.5, 3.0], [4.0, -0.25]], rtol=1e-15)
    y.sum().backward()
    assert weight.grad.shape == ()
    np.testing.assert_allclose(weight.grad.numpy(), -3.0, rtol=1e-15)   # sum of x <= 0
    np.testing.assert_allclose(x.grad.numpy(), [[0.25, 1.0], [1.0, 0.25]], rtol=1e-15)
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(x, tg.ones(1, 1, dtype=tg.float64))


def test_prelu_1d_input_has_no_channel_dim():
    # PyTorch: for an input of fewer than 2 dims the channel count is 1, so C slopes refuse.
    with pytest.raises(ValueError, match="prelu"):
        F.prelu(tg.tensor([-1.0, 2.0]), tg.tensor([0.1, 0.2]))
    np.testing.assert_allclose(F.prelu(tg.tensor([-1.0, 2.0]), tg.tensor([0.1])).numpy(),
                               [-0.1, 2.0], rtol=1e-6)


# -------------------------------------------------------------------- softplus, softmax

def test_softplus_threshold_is_on_beta_x_and_beta_may_be_negative():
    # PyTorch: x·β > threshold ? x : log1p(exp(x·β))/β.
    x = np.array([0.4, 0.6, -1.0, 30.0])
    got = F.softplus(tg.tensor(x[:2]), beta=2.0, threshold=1.0).numpy()
    np.testing.assert_allclose(got, [np.log1p(np.exp(0.8)) / 2, 0.6], rtol=1e-12)
    got = F.softplus(tg.tensor(x[2:]), beta=-1.0).numpy()
    np.testing.assert_allclose(got, -np.log1p(np.exp(-x[2:])), rtol=1e-12)


def test_softmax_dtype_casts_first_and_the_gradient_keeps_the_input_dtype():
    # PyTorch: softmax(x, dim, dtype=float64) casts x before the op; x.grad is float32.
    values = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    x = tg.tensor(values, requires_grad=True)
    y = F.softmax(x, 0, dtype=tg.float64)
    assert y.dtype == tg.float64
    expected = np.exp(values.astype(np.float64)) / np.exp(values.astype(np.float64)).sum()
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-14)
    y[0].backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_allclose(x.grad.numpy(), expected[0] * ((np.arange(3) == 0) - expected),
                               rtol=1e-6)


# ---------------------------------------------------------------- dropout, linear, embedding

@pytest.mark.parametrize("function", [F.dropout, F.alpha_dropout, F.feature_alpha_dropout,
                                      F.dropout1d])
def test_dropout_p_one_zeroes_and_eval_returns_the_input(function):
    # PyTorch's _dropout_impl: p == 1 -> input * 0 (a NaN stays NaN); training=False -> input.
    x = tg.tensor(np.array([[1.0, np.nan, -2.0], [3.0, 4.0, 5.0]]))
    y = function(x, 1.0, True).numpy()
    np.testing.assert_array_equal(y, [[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]])
    assert function(x, 0.5, False) is x


def test_linear_with_1d_weight_or_input_and_a_bias_that_does_not_fit():
    w = np.arange(6.0).reshape(2, 3)
    # PyTorch: a 1-D input gives (out,); a 1-D weight gives (...,); a 0-d or (1,) bias
    # broadcasts.
    np.testing.assert_allclose(F.linear(tg.tensor([1.0, 1.0, 1.0]), tg.tensor(w),
                                        tg.tensor([1.0, 2.0])).numpy(), [4.0, 14.0])
    np.testing.assert_allclose(F.linear(tg.ones(4, 3, dtype=tg.float64),
                                        tg.tensor([1.0, 2.0, 3.0]), tg.tensor(1.0)).numpy(),
                               [7.0] * 4)
    assert F.linear(tg.ones(4, 3), tg.tensor(w, dtype=tg.float32), tg.ones(1)).shape == (4, 2)
    with pytest.raises(ValueError, match="linear: bias of shape"):
        F.linear(tg.ones(4, 3), tg.tensor(w, dtype=tg.float32), tg.ones(3))


def test_embedding_refuses_a_weight_that_is_not_2d():
    # PyTorch: "'weight' must be 2-D" (before: a 1-D table gave a silent (*) lookup).
    with pytest.raises(ValueError, match="weight' must be 2-D"):
        F.embedding(tg.tensor([0, 3]), tg.tensor([1.0, 2.0, 3.0, 4.0]))


def test_embedding_max_norm_with_norm_type_one():
    # PyTorch's embedding_renorm_: rows looked up with ‖w‖_p > max_norm are scaled by
    # max_norm / (‖w‖_p + 1e-7), in place; the others are left alone.
    weight = tg.tensor([[3.0, 4.0], [1.0, 0.5], [6.0, 8.0]], dtype=tg.float64)
    out = F.embedding(tg.tensor([0, 1, 0]), weight, max_norm=2.0, norm_type=1.0)
    scaled = np.array([3.0, 4.0]) * 2.0 / (7.0 + 1e-7)
    np.testing.assert_allclose(out.numpy(), [scaled, [1.0, 0.5], scaled], rtol=1e-15)
    np.testing.assert_allclose(weight.numpy(), [scaled, [1.0, 0.5], [6.0, 8.0]], rtol=1e-15)


# ------------------------------------------------- float16: computed in float, as PyTorch

def _ulps_from_float64(got, reference):
    """|got − reference rounded to float16| in float16 ulps of the reference."""
    rounded = reference.astype(np.float16)
    spacing = np.spacing(np.abs(rounded)).astype(np.float64)
    return np.abs(got.astype(np.float64) - rounded.astype(np.float64)) / spacing


def test_gelu_float16_in_the_left_tail_is_accurate():
    # PyTorch's CPU and CUDA kernels compute half precision in float and round once; in
    # float16 itself 1 + erf(x/√2) for x < −3 kept nothing (2,000 ulps off at −3.83).
    from math import erf
    points = np.linspace(-6.0, 2.0, 801).astype(np.float16)
    x = points.astype(np.float64)
    reference = 0.5 * x * (1 + np.array([erf(v / np.sqrt(2)) for v in x]))
    y = F.gelu(tg.tensor(points))
    assert y.dtype == tg.float16
    assert _ulps_from_float64(y.numpy(), reference).max() <= 2


def test_softmax_family_float16_is_accurate_and_stays_float16(rng):
    # PyTorch accumulates half-precision softmax in float: about 1 ulp; in float16 itself
    # the sum of 300 terms and exp(log p) were up to 15 ulps off.
    values = (rng.normal(size=(20, 300)) * 4).astype(np.float16)
    x = values.astype(np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    tensor = tg.tensor(values, requires_grad=True)
    for function, reference in ((lambda t: F.log_softmax(t, 1), log_p),
                                (lambda t: F.softmax(t, 1), np.exp(log_p)),
                                (lambda t: F.softmin(-t, 1), np.exp(log_p))):
        y = function(tensor)
        assert y.dtype == tg.float16
        assert _ulps_from_float64(y.detach().numpy(), reference).max() <= 2
    F.softmax(tensor, 1)[0, 0].backward()
    assert tensor.grad.dtype == tg.float16
    assert F.softmax(tg.tensor(values), 1, dtype=tg.float32).dtype == tg.float32
