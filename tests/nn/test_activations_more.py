"""The activations added after the first set (ReLU6, Hardsigmoid, Hardswish, CELU, Mish,
LogSigmoid, Threshold, Hardshrink, Softshrink, Tanhshrink, Softmin, GLU): values and
gradients against independent NumPy formulas on random inputs and at the kinks
(PyTorch's conventions there), float64 gradcheck and gradgradcheck away from the kinks,
finite values and gradients at +-1000, exact zeros for an inf upstream gradient on the
flat sides; and PyTorch's ``inplace=True`` for every function and module that has it."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# --- independent NumPy references: (value, derivative), written from the formulas ---

def np_sigmoid(x):
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def np_relu6(x):
    return np.minimum(np.maximum(x, 0), 6), np.where((x > 0) & (x < 6), 1.0, 0.0)


def np_hardsigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1), np.where((x > -3) & (x < 3), 1 / 6, 0.0)


def np_hardswish(x):
    value = x * np.clip(x + 3, 0, 6) / 6
    return value, np.where(x <= -3, 0.0, np.where(x < 3, x / 3 + 0.5, 1.0))


def np_celu(x, alpha):
    negative = np.minimum(x, 0) / alpha
    value = np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(negative))
    return value, np.where(x > 0, 1.0, np.exp(negative))


def np_mish(x):
    t = np.tanh(np_softplus(x))
    return x * t, t + x * np_sigmoid(x) * (1 - t * t)


def np_logsigmoid(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))), np_sigmoid(-x)


def np_threshold(x, threshold, value):
    return np.where(x > threshold, x, value), np.where(x > threshold, 1.0, 0.0)


def np_hardshrink(x, lambd):
    keep = np.abs(x) > lambd
    return np.where(keep, x, 0.0), np.where(keep, 1.0, 0.0)


def np_softshrink(x, lambd):
    value = np.sign(x) * np.maximum(np.abs(x) - lambd, 0)
    return value, np.where(np.abs(x) > lambd, 1.0, 0.0)


def np_tanhshrink(x):
    return x - np.tanh(x), np.tanh(x) ** 2


# name: (function, module factory, reference, kinks)
ELEMENTWISE = {
    "relu6": (F.relu6, nn.ReLU6, np_relu6, (0.0, 6.0)),
    "hardsigmoid": (F.hardsigmoid, nn.Hardsigmoid, np_hardsigmoid, (-3.0, 3.0)),
    "hardswish": (F.hardswish, nn.Hardswish, np_hardswish, (-3.0, 3.0)),
    "celu": (F.celu, nn.CELU, lambda x: np_celu(x, 1.0), (0.0,)),
    "celu_0.5": (lambda x: F.celu(x, 0.5), lambda: nn.CELU(0.5), lambda x: np_celu(x, 0.5),
                 (0.0,)),
    "celu_2": (lambda x: F.celu(x, alpha=2.0), lambda: nn.CELU(alpha=2.0),
               lambda x: np_celu(x, 2.0), (0.0,)),
    "mish": (F.mish, nn.Mish, np_mish, ()),
    "logsigmoid": (F.logsigmoid, nn.LogSigmoid, np_logsigmoid, ()),
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda: nn.Threshold(0.5, -2.0),
                  lambda x: np_threshold(x, 0.5, -2.0), (0.5,)),
    "hardshrink": (F.hardshrink, nn.Hardshrink, lambda x: np_hardshrink(x, 0.5), (-0.5, 0.5)),
    "hardshrink_1": (lambda x: F.hardshrink(x, 1.0), lambda: nn.Hardshrink(1.0),
                     lambda x: np_hardshrink(x, 1.0), (-1.0, 1.0)),
    "softshrink": (F.softshrink, nn.Softshrink, lambda x: np_softshrink(x, 0.5), (-0.5, 0.5)),
    "softshrink_1": (lambda x: F.softshrink(x, lambd=1.0), lambda: nn.Softshrink(1.0),
                     lambda x: np_softshrink(x, 1.0), (-1.0, 1.0)),
    "tanhshrink": (F.tanhshrink, nn.Tanhshrink, np_tanhshrink, ()),
}
NAMES = sorted(ELEMENTWISE)
KINK_POINTS = [-1000.0, -6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 1000.0]


def inputs_with_kinks(rng):
    """Random values, every kink point of every function, and +-1000: shape (5, 11)."""
    random = rng.standard_normal((4, len(KINK_POINTS))) * 4
    return np.concatenate([np.array(KINK_POINTS)[None], random])


def away_from(x, kinks, margin=0.05):
    """x with every value near a kink moved 0.3 to its right."""
    for kink in kinks:
        x = np.where(np.abs(x - kink) < margin, kink + 0.3, x)
    return x


@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients_match_numpy_at_random_points_and_kinks(name, rng, device):
    function, _, reference, _ = ELEMENTWISE[name]
    x_array = inputs_with_kinks(rng)
    x = tg.tensor(x_array, device=device, requires_grad=True)
    y = function(x)
    y.sum().backward()
    expected_value, expected_derivative = reference(x_array)
    assert y.device == device
    np.testing.assert_allclose(y.detach().numpy(), expected_value, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), expected_derivative, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_float32_values_keep_their_dtype(name, rng, device):
    function, _, reference, _ = ELEMENTWISE[name]
    x_array = inputs_with_kinks(rng).astype(np.float32)
    y = function(tg.tensor(x_array, device=device))
    assert y.dtype == np.float32
    expected, _ = reference(x_array.astype(np.float64))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_and_gradgradcheck_away_from_kinks(name, rng, device):
    function, _, _, kinks = ELEMENTWISE[name]
    x = away_from(rng.standard_normal((3, 5)) * 3, kinks)
    x = tg.tensor(x, device=device, requires_grad=True)
    assert tg.gradcheck(function, [x])
    assert tg.gradgradcheck(function, [x])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_and_gradients_finite_at_huge_inputs(name, dtype, device):
    function, _, _, _ = ELEMENTWISE[name]
    x = tg.tensor(np.array([-1000.0, -50.0, 50.0, 1000.0], dtype=dtype), device=device,
                  requires_grad=True)
    y = function(x)
    y.sum().backward()
    assert np.all(np.isfinite(y.detach().numpy())), y.detach().numpy()
    assert np.all(np.isfinite(x.grad.numpy())), x.grad.numpy()


# Points where the derivative is exactly 0 (flat sides and kinks), and points on a
# selected side, where an inf upstream gradient must stay inf (never nan).
FLAT_AND_SELECTED = {
    "relu6": ([-5.0, 0.0, 6.0, 9.0], [3.0]),
    "hardsigmoid": ([-5.0, -3.0, 3.0, 5.0], [0.0]),
    "hardswish": ([-5.0, -3.0], [1.0, 3.0, 5.0]),
    "threshold": ([0.5, -1.0], [2.0]),
    "hardshrink": ([-0.5, 0.0, 0.2, 0.5], [-2.0, 2.0]),
    "softshrink": ([-0.5, 0.0, 0.2, 0.5], [-2.0, 2.0]),
}


@pytest.mark.parametrize("name", sorted(FLAT_AND_SELECTED))
def test_inf_upstream_gradient_gives_exactly_zero_on_the_flat_sides(name, device):
    function = ELEMENTWISE[name][0]
    flat, selected = FLAT_AND_SELECTED[name]
    x = tg.tensor(flat + selected, dtype=tg.float64, device=device, requires_grad=True)
    y = function(x)
    y.backward(tg.full(y.shape, np.inf, dtype=tg.float64, device=device))
    grad = x.grad.numpy()
    np.testing.assert_array_equal(grad[:len(flat)], 0.0)
    assert not np.any(np.isnan(grad[len(flat):])), grad


@pytest.mark.parametrize("function, points, expected_value, expected_grad", [
    (F.relu6, [0.0, 6.0], [0.0, 6.0], [0.0, 0.0]),
    (F.hardsigmoid, [-3.0, 3.0], [0.0, 1.0], [0.0, 0.0]),
    (F.hardswish, [-3.0, 3.0], [0.0, 3.0], [0.0, 1.0]),  # PyTorch >= 2.7
    (lambda x: F.celu(x, 0.5), [0.0], [0.0], [1.0]),
    (lambda x: F.celu(x, 3.0), [0.0], [0.0], [1.0]),
    (lambda x: F.threshold(x, 1.0, 5.0), [1.0], [5.0], [0.0]),
    (F.hardshrink, [-0.5, 0.5], [0.0, 0.0], [0.0, 0.0]),
    (F.softshrink, [-0.5, 0.5], [0.0, 0.0], [0.0, 0.0]),
    (F.logsigmoid, [0.0], [-np.log(2.0)], [0.5]),
    (F.mish, [0.0], [0.0], [np.tanh(np.log(2.0))]),
    (F.tanhshrink, [0.0], [0.0], [0.0]),
])
def test_pytorch_conventions_at_the_kinks(function, points, expected_value, expected_grad,
                                          device):
    x = tg.tensor(points, dtype=tg.float64, device=device, requires_grad=True)
    y = function(x)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), expected_value, rtol=1e-15, atol=0)
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, rtol=1e-15, atol=0)


def test_logsigmoid_keeps_tiny_values_and_has_no_softplus_threshold():
    x = tg.tensor([-25.0, 40.0, -1000.0], dtype=tg.float64)
    expected, _ = np_logsigmoid(x.numpy())
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), expected, rtol=1e-15)
    assert F.logsigmoid(x).numpy()[1] == pytest.approx(-np.exp(-40.0), rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_module_matches_functional_and_gradchecks(name, rng):
    function, make_module, _, kinks = ELEMENTWISE[name]
    module = make_module()
    x = away_from(rng.standard_normal((3, 4)) * 3, kinks)
    x32 = tg.tensor(x.astype(np.float32))
    np.testing.assert_array_equal(module(x32).numpy(), function(x32).numpy())
    x64 = tg.tensor(x, requires_grad=True)
    assert tg.gradcheck(lambda t: module(t), [x64])
    assert type(module).__doc__ and len(type(module).__doc__) > 40


# --- Softmin and GLU ---

def np_softmin(x, axis):
    z = -x - (-x).max(axis=axis, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmin_matches_numpy_and_gradchecks(dim, rng, device):
    x_array = rng.standard_normal((3, 4)) * 3
    x_array[0, :2] = [1000.0, -1000.0]
    x = tg.tensor(x_array, device=device, requires_grad=True)
    y = F.softmin(x, dim)
    np.testing.assert_allclose(y.detach().numpy(), np_softmin(x_array, dim), rtol=1e-12,
                               atol=1e-300)
    np.testing.assert_allclose(y.detach().numpy().sum(axis=dim), 1.0, rtol=1e-12)
    (y * tg.tensor(rng.standard_normal((3, 4)), device=device)).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    small = tg.tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)
    assert tg.gradcheck(lambda t: F.softmin(t, dim), [small])
    assert tg.gradgradcheck(lambda t: F.softmin(t, dim), [small])
    module = nn.Softmin(dim)
    np.testing.assert_array_equal(module(small).detach().numpy(),
                                  F.softmin(small, dim).detach().numpy())


def test_softmin_default_is_the_last_dim():
    x = tg.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]], dtype=tg.float64)
    with pytest.warns(UserWarning, match="dim"):  # F: PyTorch's implicit dim (1 for 2-D)
        np.testing.assert_allclose(F.softmin(x).numpy(), np_softmin(x.numpy(), -1), rtol=1e-14)
    np.testing.assert_allclose(nn.Softmin()(x).numpy(), np_softmin(x.numpy(), -1), rtol=1e-14)


@pytest.mark.parametrize("shape, dim", [((4, 6), -1), ((4, 6), 0), ((2, 4, 3), 1)])
def test_glu_matches_numpy_and_gradchecks(shape, dim, rng, device):
    x_array = rng.standard_normal(shape) * 2
    a, b = np.split(x_array, 2, axis=dim)
    x = tg.tensor(x_array, device=device, requires_grad=True)
    y = F.glu(x, dim)
    assert y.shape == a.shape
    np.testing.assert_allclose(y.detach().numpy(), a * np_sigmoid(b), rtol=1e-12)
    y.sum().backward()
    expected = np.concatenate([np_sigmoid(b), a * np_sigmoid(b) * (1 - np_sigmoid(b))],
                              axis=dim)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-15)
    assert tg.gradcheck(lambda t: F.glu(t, dim), [x])
    assert tg.gradgradcheck(lambda t: F.glu(t, dim), [x])
    np.testing.assert_array_equal(nn.GLU(dim)(x).detach().numpy(), y.detach().numpy())


def test_glu_finite_at_huge_inputs(device):
    x = tg.tensor([[1000.0, -1000.0, -1000.0, 1000.0]], dtype=tg.float64, device=device,
                  requires_grad=True)
    y = F.glu(x)
    y.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), [[0.0, -1000.0]])
    assert np.all(np.isfinite(x.grad.numpy()))


def test_argument_errors():
    with pytest.raises(ValueError, match="even"):
        F.glu(tg.randn(2, 5))
    with pytest.raises(ValueError, match="even"):
        nn.GLU(0)(tg.randn(3, 4))
    with pytest.raises(ValueError, match="glu"):
        F.glu(tg.tensor(1.0))
    with pytest.raises(IndexError, match="glu"):
        F.glu(tg.randn(2, 4), dim=2)
    with pytest.raises(ValueError, match="lambd"):
        F.softshrink(tg.randn(3), -0.1)
    with pytest.raises(ValueError, match="alpha"):
        F.celu(tg.randn(3), 0.0)
    with pytest.raises(ValueError, match="alpha"):
        nn.CELU(0.0)


def test_relu6_is_a_hardtanh_as_in_pytorch():
    relu6 = nn.ReLU6()
    assert isinstance(relu6, nn.Hardtanh)
    assert (relu6.min_val, relu6.max_val) == (0.0, 6.0)


# --- inplace=True ---

# name: (out-of-place, in place); the random ones are seeded before each call
INPLACE = {
    "relu": (F.relu, lambda x: F.relu(x, inplace=True)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2, True)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: F.elu(x, 0.7, inplace=True)),
    "selu": (F.selu, lambda x: F.selu(x, inplace=True)),
    "silu": (F.silu, lambda x: F.silu(x, inplace=True)),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5),
                 lambda x: F.hardtanh(x, -0.5, 1.5, inplace=True)),
    "rrelu_eval": (lambda x: F.rrelu(x, 0.1, 0.3), lambda x: F.rrelu(x, 0.1, 0.3, inplace=True)),
    "rrelu_train": (lambda x: F.rrelu(x, 0.1, 0.3, True),
                    lambda x: F.rrelu(x, 0.1, 0.3, True, inplace=True)),
    "dropout": (lambda x: F.dropout(x, 0.4), lambda x: F.dropout(x, 0.4, inplace=True)),
    "relu6": (F.relu6, lambda x: F.relu6(x, inplace=True)),
    "celu": (lambda x: F.celu(x, 0.5), lambda x: F.celu(x, 0.5, inplace=True)),
    "hardsigmoid": (F.hardsigmoid, lambda x: F.hardsigmoid(x, inplace=True)),
    "hardswish": (F.hardswish, lambda x: F.hardswish(x, inplace=True)),
    "mish": (F.mish, lambda x: F.mish(x, inplace=True)),
    "threshold": (lambda x: F.threshold(x, 0.3, -1.0),
                  lambda x: F.threshold(x, 0.3, -1.0, inplace=True)),
    # the modules pass inplace on
    "ReLU": (nn.ReLU(), nn.ReLU(inplace=True)),
    "LeakyReLU": (nn.LeakyReLU(0.1), nn.LeakyReLU(0.1, inplace=True)),
    "ELU": (nn.ELU(), nn.ELU(inplace=True)),
    "SELU": (nn.SELU(), nn.SELU(inplace=True)),
    "SiLU": (nn.SiLU(), nn.SiLU(inplace=True)),
    "Hardtanh": (nn.Hardtanh(), nn.Hardtanh(inplace=True)),
    "RReLU": (nn.RReLU(), nn.RReLU(inplace=True)),
    "Dropout": (nn.Dropout(0.3), nn.Dropout(0.3, inplace=True)),
    "ReLU6": (nn.ReLU6(), nn.ReLU6(inplace=True)),
    "CELU": (nn.CELU(2.0), nn.CELU(2.0, inplace=True)),
    "Hardsigmoid": (nn.Hardsigmoid(), nn.Hardsigmoid(inplace=True)),
    "Hardswish": (nn.Hardswish(), nn.Hardswish(inplace=True)),
    "Mish": (nn.Mish(), nn.Mish(inplace=True)),
    "Threshold": (nn.Threshold(0.1, 2.0), nn.Threshold(0.1, 2.0, inplace=True)),
}
INPLACE_NAMES = sorted(INPLACE)


def inplace_values(rng):
    """Random values spread over every function's interesting range, no kinks: (4, 6)."""
    return away_from(rng.standard_normal((4, 6)) * 4, (-3.0, -0.5, 0.0, 0.1, 0.3, 3.0, 6.0))


@pytest.mark.parametrize("name", INPLACE_NAMES)
def test_inplace_on_a_non_leaf_gives_the_out_of_place_result_and_gradient(name, rng, device):
    out_of_place, in_place = INPLACE[name]
    x_array = inplace_values(rng)
    weights = tg.tensor(rng.standard_normal(x_array.shape), device=device)

    leaf = tg.tensor(x_array, device=device, requires_grad=True)
    x = leaf * 1.5                                  # a non-leaf that requires grad
    tg.manual_seed(7)
    expected = out_of_place(x)
    assert expected is not x
    np.testing.assert_array_equal(x.detach().numpy(), x_array * 1.5)  # x left alone
    (expected * weights).sum().backward()
    expected_grad = leaf.grad.numpy().copy()

    leaf.grad = None
    x = leaf * 1.5
    tg.manual_seed(7)
    result = in_place(x)
    assert result is x
    np.testing.assert_array_equal(x.detach().numpy(), expected.detach().numpy())
    (result * weights).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), expected_grad)
    assert np.any(expected_grad != 1.5 * weights.numpy())  # the function was in the gradient


@pytest.mark.parametrize("name", INPLACE_NAMES)
def test_inplace_refuses_a_leaf_that_requires_grad(name, rng, device):
    _, in_place = INPLACE[name]
    leaf = tg.tensor(inplace_values(rng), device=device, requires_grad=True)
    before = leaf.detach().numpy().copy()
    with pytest.raises(RuntimeError, match="leaf"):
        in_place(leaf)
    np.testing.assert_array_equal(leaf.detach().numpy(), before)


@pytest.mark.parametrize("name", INPLACE_NAMES)
def test_inplace_writes_into_a_tensor_without_grad(name, rng, device):
    out_of_place, in_place = INPLACE[name]
    x_array = inplace_values(rng)
    tg.manual_seed(7)
    expected = out_of_place(tg.tensor(x_array, device=device)).numpy()
    assert not np.array_equal(expected, x_array)  # the function changes these values
    x = tg.tensor(x_array, device=device)
    tg.manual_seed(7)
    assert in_place(x) is x
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x.grad_fn is None and not x.requires_grad
    leaf = tg.tensor(x_array, device=device, requires_grad=True)
    with tg.no_grad():  # as PyTorch: under no_grad even a leaf may be overwritten
        tg.manual_seed(7)
        assert in_place(leaf) is leaf
    np.testing.assert_array_equal(leaf.detach().numpy(), expected)
    assert leaf.is_leaf and leaf.grad_fn is None


def test_inplace_dropout_in_eval_or_with_p_zero_leaves_the_input_untouched():
    leaf = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    assert F.dropout(leaf, 0.5, training=False, inplace=True) is leaf  # no write, no error
    assert F.dropout(leaf, 0.0, training=True, inplace=True) is leaf
    assert nn.Dropout(0.5, inplace=True).eval()(leaf) is leaf
    np.testing.assert_array_equal(leaf.detach().numpy(), [1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match="probability"):
        F.dropout(tg.tensor([1.0]), 1.5, inplace=True)


def test_inplace_keeps_the_dtype():
    x = tg.tensor([-1.0, 2.0, 7.0], dtype=tg.float32)
    F.relu6(x, inplace=True)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0, 6.0])


# --- reprs ---

@pytest.mark.parametrize("module, text", [
    (nn.ReLU(), "ReLU()"),
    (nn.ReLU(inplace=True), "ReLU(inplace=True)"),
    (nn.LeakyReLU(0.2, inplace=True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
    (nn.ELU(inplace=True), "ELU(alpha=1.0, inplace=True)"),
    (nn.SELU(inplace=True), "SELU(inplace=True)"),
    (nn.SELU(), "SELU()"),
    (nn.SiLU(inplace=True), "SiLU(inplace=True)"),
    (nn.Hardtanh(-2.0, 2.0, True), "Hardtanh(min_val=-2.0, max_val=2.0, inplace=True)"),
    (nn.RReLU(0.1, 0.3, inplace=True), "RReLU(lower=0.1, upper=0.3, inplace=True)"),
    (nn.Dropout(0.25, inplace=True), "Dropout(p=0.25, inplace=True)"),
    (nn.Dropout(0.25), "Dropout(p=0.25)"),
    (nn.ReLU6(), "ReLU6()"),
    (nn.ReLU6(inplace=True), "ReLU6(inplace=True)"),
    (nn.CELU(), "CELU(alpha=1.0)"),
    (nn.CELU(0.5, inplace=True), "CELU(alpha=0.5, inplace=True)"),
    (nn.Hardsigmoid(inplace=True), "Hardsigmoid()"),   # PyTorch shows no inplace here
    (nn.Hardswish(inplace=True), "Hardswish()"),
    (nn.Mish(), "Mish()"),
    (nn.Mish(inplace=True), "Mish(inplace=True)"),
    (nn.LogSigmoid(), "LogSigmoid()"),
    (nn.Softmin(dim=1), "Softmin(dim=1)"),
    (nn.Threshold(0.1, 20.0), "Threshold(threshold=0.1, value=20.0)"),
    (nn.Threshold(0.1, 20.0, True), "Threshold(threshold=0.1, value=20.0, inplace=True)"),
    (nn.Hardshrink(), "Hardshrink(0.5)"),
    (nn.Softshrink(0.25), "Softshrink(0.25)"),
    (nn.Tanhshrink(), "Tanhshrink()"),
    (nn.GLU(), "GLU(dim=-1)"),
])
def test_reprs_as_pytorch(module, text):
    assert repr(module) == text


@pytest.mark.parametrize("name", ["elu", "selu", "celu"])
def test_elu_family_keeps_its_digits_for_tiny_negative_inputs(name):
    """α(e^x − 1) as ``expm1``: in float32, ``exp(x) − 1`` at x = −2e-6 lost 1% (e^x rounds
    to a float32 near 1 first); now float32 agrees with float64 to float32's precision."""
    x = -np.array([2e-6, 3e-5, 1e-7, 4e-4], np.float32)
    function = getattr(F, name)
    single = function(tg.tensor(x)).numpy().astype(np.float64)
    double = function(tg.tensor(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(single, double, rtol=1e-6)
    exact = (np.expm1(x.astype(np.float64)) * (1.0507009873554805 * 1.6732632423543772
                                                 if name == "selu" else 1.0))
    np.testing.assert_allclose(double, exact, rtol=1e-12)
