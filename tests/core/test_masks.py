"""Masks select, they do not multiply: a piecewise op sends exactly 0 to the side
it masks off, even when the gradient flowing in there is inf or NaN (0 · inf
would be NaN). Checked in both backward modes: arrays (plain) and Tensors
(create_graph=True).

Expected values are hand-derived: where an input is masked its gradient is 0;
elsewhere it is slope · upstream, with the op's slope (1 for relu and clip
inside the bounds, sign(x) for abs, ...). As in PyTorch, where relu, clamp,
where, maximum/minimum, max/min reductions and std at zero spread all give 0
(``x.relu().sqrt()`` at x = [-1, 4] gives [0, 0.25]). One difference: for
``abs`` at 0 PyTorch multiplies by sgn(x) (inf · 0 = NaN); here abs selects too.
"""

from typing import Callable, NamedTuple

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F

Y, N = True, False  # masked: yes / no


class Case(NamedTuple):
    name: str
    fn: Callable
    inputs: list    # one array per input; the output has their (common) shape
    masked: list    # per input: where it gets no gradient
    slopes: list    # per input: d output / d input where it is not masked


def tensor_bounds(x, low, high):
    return x.clamp(low, high)


ELEMENTWISE = [
    Case("relu", lambda x: x.relu(), [[-1.0, 0.0, 4.0]], [[Y, Y, N]], [1.0]),
    Case("clamp_min", lambda x: x.clamp(min=0), [[-1.0, 0.0, 4.0]], [[Y, N, N]], [1.0]),
    Case("clamp_max", lambda x: x.clamp(max=0.5), [[-1.0, 0.5, 4.0]], [[N, N, Y]], [1.0]),
    Case("clip_both", lambda x: x.clip(-1.0, 1.0), [[-2.0, -1.0, 0.5, 1.0, 3.0]],
         [[Y, N, N, N, Y]], [1.0]),
    Case("clamp_tensor_bounds", tensor_bounds,
         [[-2.0, 0.5, 3.0], [-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]],
         [[Y, N, Y], [N, Y, Y], [Y, Y, N]], [1.0, 1.0, 1.0]),
    Case("where_number", lambda x: tg.where(x > 0, x, 0.0), [[-1.0, 0.0, 4.0]], [[Y, Y, N]],
         [1.0]),
    Case("where_two_tensors", lambda x, y: tg.where(x > 0, x, y),
         [[-1.0, 2.0, 4.0], [5.0, 6.0, 7.0]], [[Y, N, N], [N, Y, Y]], [1.0, 1.0]),
    Case("maximum_zero", lambda x: tg.maximum(x, 0), [[-1.0, 4.0]], [[Y, N]], [1.0]),
    Case("minimum_zero", lambda x: tg.minimum(x, 0), [[-1.0, 4.0]], [[N, Y]], [1.0]),
    Case("maximum_two_tensors", tg.maximum, [[1.0, -2.0, 3.0], [0.0, 5.0, 4.0]],
         [[N, Y, Y], [Y, N, N]], [1.0, 1.0]),
    Case("minimum_two_tensors", tg.minimum, [[1.0, -2.0, 3.0], [0.0, 5.0, 4.0]],
         [[Y, N, N], [N, Y, Y]], [1.0, 1.0]),
    Case("abs", lambda x: x.abs(), [[-2.0, 0.0, 3.0]], [[N, Y, N]], [[-1.0, 0.0, 1.0]]),
    Case("sign", lambda x: x.sign(), [[-2.0, 0.0, 3.0]], [[Y, Y, Y]], [0.0]),
    Case("hardtanh", lambda x: F.hardtanh(x), [[-2.0, -1.0, 0.5, 1.0, 3.0]],
         [[Y, Y, N, Y, Y]], [1.0]),
    Case("leaky_relu", lambda x: F.leaky_relu(x, 0.25), [[-2.0, 3.0]], [[N, N]],
         [[0.25, 1.0]]),
]

BAD = {"inf": np.inf, "minus_inf": -np.inf, "nan": np.nan}


def leaves(arrays, device):
    return [tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64, device=device,
                      requires_grad=True) for array in arrays]


def gradients(y, inputs, upstream, create_graph):
    """The gradients for ``y.backward(gradient=upstream)``, by the array or the Tensor path."""
    upstream = tg.tensor(upstream, dtype=y.dtype, device=y.device)
    with np.errstate(divide="ignore", invalid="ignore"):
        grads = tg.grad(y, inputs, grad_outputs=upstream, create_graph=create_graph)
    return [grad.numpy() for grad in grads]


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("case", ELEMENTWISE, ids=[case.name for case in ELEMENTWISE])
def test_masked_side_gets_zero_from_an_inf_or_nan_upstream(case, bad, create_graph, device):
    inputs = leaves(case.inputs, device)
    masked = [np.array(mask) for mask in case.masked]
    upstream = np.where(np.logical_or.reduce(masked), bad, 1.5)  # bad where any side is masked
    grads = gradients(case.fn(*inputs), inputs, upstream, create_graph)
    for grad, mask, slope in zip(grads, masked, case.slopes):
        with np.errstate(invalid="ignore"):  # slope 0 · inf where masked: discarded
            expected = np.where(mask, 0.0, np.asarray(slope) * upstream)
        np.testing.assert_array_equal(grad, expected)  # (NaN equals NaN here)


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
def test_backward_with_a_custom_gradient_argument(create_graph, device):
    x = leaves([[-1.0, 4.0]], device)[0]
    y = x.relu()
    gradient = tg.tensor([np.nan, 2.0], dtype=tg.float64, device=device)
    y.backward(gradient=gradient, create_graph=create_graph)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0])


# --- smooth activations built from branches: the unselected one never leaks NaN ---

SMOOTH = {"elu": F.elu, "selu": F.selu, "softplus": F.softplus, "silu": F.silu,
          "gelu": F.gelu, "sigmoid": F.sigmoid, "tanh": F.tanh, "erf": F.erf,
          "softsign": F.softsign, "prelu": lambda x: F.prelu(x, tg.tensor(
              [0.25], dtype=tg.float64, device=x.device)),
          "rrelu_eval": lambda x: F.rrelu(x, training=False)}


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
@pytest.mark.parametrize("name", SMOOTH)
def test_smooth_activations_have_finite_gradients_far_out(name, create_graph, device):
    """exp(1000) overflows in a branch that where does not select (ELU's negative side
    at x = 1000, softplus's log1p(exp(x))): the selected side's gradient must stay
    finite, and the limits must be the true slopes (0 or 1, or PReLU's 0.25)."""
    (x,) = leaves([[-1000.0, -30.0, 30.0, 1000.0]], device)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        (grad,) = gradients(SMOOTH[name](x), [x], np.ones(4), create_graph)
    assert np.isfinite(grad).all(), grad
    assert abs(grad[-1] - {"selu": 1.0507009873554805, "sigmoid": 0.0, "tanh": 0.0,
                           "erf": 0.0, "softsign": 0.0}.get(name, 1.0)) < 1e-6
    assert abs(grad[0] - {"prelu": 0.25, "rrelu_eval": (1 / 8 + 1 / 3) / 2}.get(name, 0.0)) < 1e-6


# --- the compositions of the issue: sqrt at 0 sends back an infinite slope ---

SQRT_OF_MASKED = {
    "relu": lambda x: x.relu(),
    "clamp_min": lambda x: x.clamp(min=0),
    "clip_both": lambda x: x.clip(0.0, 10.0),
    "where": lambda x: tg.where(x > 0, x, 0.0),
    "maximum": lambda x: tg.maximum(x, 0),
    "minimum_mirror": lambda x: -tg.minimum(-x, 0),
    "hardtanh": lambda x: F.hardtanh(x, 0.0, 10.0),
}


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
@pytest.mark.parametrize("name", SQRT_OF_MASKED)
def test_sqrt_of_a_masked_op_at_x_minus_one_and_four(name, create_graph, device):
    (x,) = leaves([[-1.0, 4.0]], device)
    y = SQRT_OF_MASKED[name](x).sqrt().sum()
    grads = gradients(y, [x], np.array(1.0), create_graph)
    np.testing.assert_array_equal(grads[0], [0.0, 0.25])  # d√x/dx = 1/(2√4) at 4


# --- reductions: only the selected entries get the row's gradient ---

X = [[1.0, 5.0, 2.0], [7.0, 3.0, 4.0]]
REDUCTIONS = [
    # name, fn, upstream (as a function of bad), expected gradient
    ("max_dim1", lambda x: x.max(dim=1), lambda b: [b, 2.0],
     lambda b: [[0.0, b, 0.0], [2.0, 0.0, 0.0]]),
    ("min_dim1", lambda x: x.min(dim=1), lambda b: [b, 2.0],
     lambda b: [[b, 0.0, 0.0], [0.0, 2.0, 0.0]]),
    ("max_dim0_keepdim", lambda x: x.max(dim=0, keepdim=True), lambda b: [[b, 2.0, b]],
     lambda b: [[0.0, 2.0, 0.0], [b, 0.0, b]]),
    ("max_all", lambda x: x.max(), lambda b: b,
     lambda b: [[0.0, 0.0, 0.0], [b, 0.0, 0.0]]),
    ("min_all", lambda x: x.min(), lambda b: b,
     lambda b: [[b, 0.0, 0.0], [0.0, 0.0, 0.0]]),
    ("max_pool2d", lambda x: F.max_pool2d(x.reshape(1, 1, 2, 3), (2, 3)).reshape(()),
     lambda b: b, lambda b: [[0.0, 0.0, 0.0], [b, 0.0, 0.0]]),
]


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("name, fn, upstream, expected", REDUCTIONS,
                         ids=[line[0] for line in REDUCTIONS])
def test_max_and_min_send_zero_to_the_entries_not_selected(name, fn, upstream, expected, bad,
                                                           create_graph, device):
    (x,) = leaves([X], device)
    grads = gradients(fn(x), [x], np.array(upstream(bad)), create_graph)
    np.testing.assert_array_equal(grads[0], np.array(expected(bad)))


# --- std at zero spread: gradient 0, as PyTorch ---

@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
@pytest.mark.parametrize("bad", [1.0, np.inf, np.nan], ids=["one", "inf", "nan"])
def test_std_over_equal_values_has_zero_gradient(bad, create_graph, device):
    values = np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 4.0]])  # column 0: zero spread
    (x,) = leaves([values], device)
    y = x.std(0)
    np.testing.assert_allclose(y.numpy(), [0.0, np.sqrt(7 / 3)], rtol=1e-15)
    (grad,) = gradients(y, [x], np.array([bad, 1.0]), create_graph)
    np.testing.assert_array_equal(grad[:, 0], [0.0, 0.0, 0.0])
    # column 1: d std / d x_i = (x_i − mean) / ((n − 1) · std), mean 7/3, n = 3
    deviations = np.array([1.0, 2.0, 4.0]) - 7 / 3
    np.testing.assert_allclose(grad[:, 1], deviations / (2 * np.sqrt(7 / 3)), rtol=1e-14)


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
@pytest.mark.parametrize("bad", [1.0, np.inf, np.nan], ids=["one", "inf", "nan"])
def test_var_over_equal_values_has_zero_gradient(bad, create_graph, device):
    (x,) = leaves([[[1.0, 1.0], [1.0, 2.0], [1.0, 4.0]]], device)
    y = x.var(0)
    np.testing.assert_allclose(y.numpy(), [0.0, 7 / 3], rtol=1e-15)
    (grad,) = gradients(y, [x], np.array([1.0, bad]), create_graph)
    # d var / d x_i = 2 (x_i − mean) / (n − 1): 0 for equal values, whatever the upstream
    np.testing.assert_array_equal(grad[:, 0], [0.0, 0.0, 0.0])


def test_std_keeps_nan_and_undefined_spreads_as_pytorch(device):
    """Selecting away zero spread must not hide a NaN: std([1, nan]) is NaN, and so is
    the unbiased std of one value (0 / 0), as in PyTorch; the biased one is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(tg.tensor([1.0, np.nan], device=device).std().item())
        assert np.isnan(tg.tensor([2.0], device=device).std().item())
        assert np.isnan(tg.tensor([[1.0, np.nan], [2.0, 3.0]], device=device).std(1).numpy()[0])
    assert tg.tensor([2.0], device=device).std(correction=0).item() == 0.0


@pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])
def test_std_of_all_equal_values_and_its_second_derivative(create_graph, device):
    (x,) = leaves([[2.0, 2.0, 2.0]], device)
    (grad,) = gradients(x.std(), [x], np.array(1.0), create_graph)
    np.testing.assert_array_equal(grad, [0.0, 0.0, 0.0])
    (first,) = tg.grad(x.std(), x, create_graph=True)
    (second,) = tg.grad(first.sum(), x, allow_unused=True)
    assert second is None or np.array_equal(second.numpy(), [0.0, 0.0, 0.0])
