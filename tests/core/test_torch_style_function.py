"""PyTorch-style custom Functions (autograd/torch_style.py): ``ctx``, static forward/backward.

The examples of PyTorch's "Extending torch.autograd" page (Exp, LinearFunction,
MulConstant, a function with two outputs), checked against hand-derived NumPy
gradients and by gradcheck/gradgradcheck in float64; the ctx methods; and the
project-style subclasses, which keep going through the core's ``apply``.
``TORCH_STYLE_OPS`` is this file's op table (the lead joins it to test_two_modes.py).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_ops_gradcheck import Op, fixed
from test_two_modes import assert_the_two_paths_agree
from tinygrad_opt.autograd.torch_style import Function, once_differentiable


def leaf(values, device, dtype=tg.float64):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


def host(tensor):
    return tensor.numpy()


# --- the examples of PyTorch's docs ---


class Exp(Function):
    """y = exp(x)   dy/dx = y (saves its output)."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y


class LinearFunction(Function):
    """y = x Wᵀ + b   dL/dx = g W   dL/dW = gᵀ x   dL/db = Σ_rows g."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save_for_backward(x, weight, bias)
        output = x @ weight.T
        if bias is not None:
            output = output + bias
        return output

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, bias = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_output @ weight
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.T @ x
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_x, grad_weight, grad_bias


class MulConstant(Function):
    """y = k x (k a Python number: its gradient is None)   dy/dx = k."""

    @staticmethod
    def forward(ctx, x, constant):
        ctx.constant = constant
        return x * constant

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.constant, None


class SinCos(Function):
    """(s, c) = (sin x, cos x)   dL/dx = g_s cos x − g_c sin x (two outputs)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx, grad_sin, grad_cos):
        (x,) = ctx.saved_tensors
        return grad_sin * x.cos() - grad_cos * x.sin()


class Sort1d(Function):
    """(values, indices) = x sorted; indices is marked non-differentiable.
    dL/dx = g scattered back: g[inverse permutation]."""

    seen = []  # the gradient of ``indices`` backward received, for the tests

    @staticmethod
    def forward(ctx, x, materialize=True):
        indices = x.argsort()
        ctx.mark_non_differentiable(indices)
        ctx.set_materialize_grads(materialize)
        ctx.save_for_backward(indices)
        return x[indices], indices

    @staticmethod
    def backward(ctx, grad_values, grad_indices):
        Sort1d.seen.append(grad_indices)
        (indices,) = ctx.saved_tensors
        return grad_values[indices.argsort()], None


def linear(x, weight, bias):
    return LinearFunction.apply(x, weight, bias)


def sin_cos_weighted(x):
    sine, cosine = SinCos.apply(x)
    return sine * 2 + cosine * 3


def exp_with_saved_tensor_hooks(x):
    """Exp whose saved output goes through saved_tensors_hooks (a copy out, a copy back):
    in a recorded backward the unpacked tensor takes its original's place (_Unpacked)."""
    with tg.autograd.graph.saved_tensors_hooks(lambda t: t.detach() * 1, lambda t: t * 1):
        return Exp.apply(x)


TORCH_STYLE_OPS = [
    Op("torch_style_exp", Exp.apply, 1),
    Op("torch_style_exp_saved_tensor_hooks", exp_with_saved_tensor_hooks, 1),
    Op("torch_style_linear", linear, 3,
       shapes=fixed(lambda n, i, o: [(n, i), (o, i), (o,)], 3)),
    Op("torch_style_mul_constant", lambda x: MulConstant.apply(x, 2.5), 1),
    Op("torch_style_two_outputs", sin_cos_weighted, 1),
]
IDS = [op.name for op in TORCH_STYLE_OPS]
SETTINGS = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.mark.parametrize("op", TORCH_STYLE_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck_gradgradcheck_and_the_two_paths(op, device, data):
    shapes = data.draw(op.shapes(op.arity), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    arrays = op.domain(rng, shapes)
    inputs = [tg.tensor(array, dtype=tg.float64, requires_grad=True, device=device)
              for array in arrays]
    assert tg.gradcheck(op.fn, inputs)
    assert tg.gradgradcheck(op.fn, inputs)
    assert_the_two_paths_agree(op, arrays, rng, device)


def test_exp_gradient_and_second_derivative_by_hand(device):
    values = np.array([-1.0, 0.5, 2.0])
    x = leaf(values, device)
    y = Exp.apply(x)
    assert y.grad_fn.name == "ExpBackward"
    np.testing.assert_allclose(host(y), np.exp(values))
    (grad,) = tg.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(host(grad), np.exp(values))
    (second,) = tg.grad(grad.sum(), x)  # through the saved output: d²/dx² exp = exp
    np.testing.assert_allclose(host(second), np.exp(values))


def test_linear_function_gradients_by_hand_with_and_without_bias(device, rng):
    x_np, w_np, b_np = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    g_np = rng.normal(size=(4, 2))
    x, w, b = leaf(x_np, device), leaf(w_np, device), leaf(b_np, device)
    y = LinearFunction.apply(x, w, b)
    np.testing.assert_allclose(host(y), x_np @ w_np.T + b_np)
    y.backward(tg.tensor(g_np, device=device))
    np.testing.assert_allclose(host(x.grad), g_np @ w_np)
    np.testing.assert_allclose(host(w.grad), g_np.T @ x_np)
    np.testing.assert_allclose(host(b.grad), g_np.sum(0))
    x, w = leaf(x_np, device), leaf(w_np, device)
    LinearFunction.apply(x, w).backward(tg.tensor(g_np, device=device))  # bias None
    np.testing.assert_allclose(host(w.grad), g_np.T @ x_np)


def test_needs_input_grad_per_argument(device):
    seen = []

    class Record(Function):
        @staticmethod
        def forward(ctx, a, k, b):
            seen.append(ctx.needs_input_grad)
            return a * b * k

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, None, None

    a = leaf([1.0], device)
    b = tg.tensor([2.0], dtype=tg.float64, device=device)
    Record.apply(a, 3, b)
    with tg.no_grad():
        assert not Record.apply(a, 3, b).requires_grad
    assert seen == [(True, False, False), (False, False, False)]


def test_mul_constant_takes_a_number_and_ctx_attributes(device):
    x = leaf([1.0, -2.0], device)
    y = MulConstant.apply(x, 3.0)
    np.testing.assert_allclose(host(y), [3.0, -6.0])
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), [3.0, 3.0])


def test_two_outputs_gradients_by_hand(device):
    values = np.array([0.3, -1.2])
    x = leaf(values, device)
    sine, cosine = SinCos.apply(x)
    np.testing.assert_allclose(host(sine), np.sin(values))
    np.testing.assert_allclose(host(cosine), np.cos(values))
    (sine * 2 + cosine * 3).sum().backward()
    np.testing.assert_allclose(host(x.grad), 2 * np.cos(values) - 3 * np.sin(values))
    x = leaf(values, device)
    SinCos.apply(x)[1].sum().backward()  # only cos used: the sine's part of the gradient is 0
    np.testing.assert_allclose(host(x.grad), -np.sin(values))


def test_saved_tensor_modified_in_place_raises(device):
    x = leaf([1.0, 2.0], device)
    y = Exp.apply(x)
    z = y * 1
    with tg.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match=r"saved tensor 0 of ExpBackward, of shape \(2,\)"):
        z.sum().backward()


def test_mark_non_differentiable_and_materialize_grads(device):
    values = np.array([3.0, 1.0, 2.0])
    x = leaf(values, device)
    sorted_values, indices = Sort1d.apply(x)
    assert host(indices).tolist() == [1, 2, 0]
    assert not indices.requires_grad and sorted_values.requires_grad
    Sort1d.seen.clear()
    (sorted_values * tg.tensor([1.0, 10.0, 100.0], dtype=tg.float64, device=device)).sum() \
        .backward()
    np.testing.assert_allclose(host(x.grad), [100.0, 1.0, 10.0])
    assert host(Sort1d.seen[0]).tolist() == [0, 0, 0]  # materialized: zeros of the indices
    x = leaf(values, device)
    Sort1d.apply(x, False)[0].sum().backward()
    assert Sort1d.seen[1] is None                      # set_materialize_grads(False)


class SinCosSeen(Function):
    """(sin x, cos x), with materialize_grads as given; backward records what it got."""

    seen = []

    @staticmethod
    def forward(ctx, x, materialize):
        ctx.set_materialize_grads(materialize)
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx, grad_sin, grad_cos):
        SinCosSeen.seen.append((grad_sin, grad_cos))
        (x,) = ctx.saved_tensors
        grad = 0
        if grad_sin is not None:
            grad = grad + grad_sin * x.cos()
        if grad_cos is not None:
            grad = grad - grad_cos * x.sin()
        return grad, None


@pytest.mark.parametrize("materialize", [True, False])
def test_an_output_the_pass_does_not_reach_gets_none_without_materialize_grads(
        device, materialize):
    """PyTorch: under set_materialize_grads(False), backward receives None for an output
    whose gradient the pass did not compute; with it (the default), zeros. Each pass
    decides anew (retain_graph, then another output)."""
    values = np.array([0.3, -1.2])
    x = leaf(values, device)
    sine, cosine = SinCosSeen.apply(x, materialize)
    SinCosSeen.seen.clear()
    (sine * 2).sum().backward(retain_graph=True)
    grad_sin, grad_cos = SinCosSeen.seen[0]
    assert host(grad_sin).tolist() == [2.0, 2.0]
    if materialize:
        assert host(grad_cos).tolist() == [0.0, 0.0]
    else:
        assert grad_cos is None
    np.testing.assert_allclose(host(x.grad), 2 * np.cos(values))
    (cosine * 3).sum().backward()               # the other output, in a second pass
    grad_sin, grad_cos = SinCosSeen.seen[1]
    assert host(grad_cos).tolist() == [3.0, 3.0]
    assert (grad_sin is None) is not materialize
    np.testing.assert_allclose(host(x.grad), 2 * np.cos(values) - 3 * np.sin(values))
    y = leaf(values, device)
    first, second = SinCosSeen.apply(y, materialize)
    (first + second).sum().backward()           # both reached: both given
    assert all(grad is not None for grad in SinCosSeen.seen[2])


def test_wrong_number_of_gradients_raises_pytorchs_message(device):
    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 2

    with pytest.raises(RuntimeError, match=r"function TooFewBackward returned an incorrect "
                                           r"number of gradients \(expected 2, got 1\)"):
        TooFew.apply(leaf([1.0], device), 2).sum().backward()


def test_mark_dirty_of_a_leaf_that_requires_grad_raises(device):
    class Dirty(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    with pytest.raises(RuntimeError, match="DirtyBackward: a leaf Variable that requires grad"):
        Dirty.apply(leaf([1.0], device))  # (mark_dirty itself: test_audit5_torch_style.py)


def test_once_differentiable_runs_once_and_refuses_a_second_derivative(device):
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x * x

    x = leaf([1.0, -2.0], device)
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(host(x.grad), [3.0, 12.0])
    weights = tg.tensor([1.0, 1.0], dtype=tg.float64, device=device, requires_grad=True)
    (grad,) = tg.grad(Cube.apply(x), x, grad_outputs=weights, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad.sum().backward()


def test_vjp_is_backward_and_a_second_backward_needs_retain_graph(device):
    x = leaf([0.0], device)
    y = Exp.apply(x)
    grad = Exp.vjp(y.grad_fn.ctx, tg.tensor([2.0], dtype=tg.float64, device=device))
    assert host(grad).tolist() == [2.0]
    y.sum().backward()
    with pytest.raises(RuntimeError, match="ExpBackward"):
        y.sum().backward()


class Square(Function):
    """y = x²   dy/dx = 2x, written the project's way (forward on arrays)."""

    def forward(self, x):
        return x * x

    def backward(self, grad_output):
        (x,) = self.saved_inputs
        return grad_output * 2 * x


def test_project_style_subclasses_still_use_the_core_apply(device):
    x = leaf([1.5, -2.0], device)
    y = Square.apply(x)
    assert type(y.grad_fn) is Square
    (grad,) = tg.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(host(grad), [3.0, -4.0])
    (second,) = tg.grad(grad.sum(), x)
    np.testing.assert_allclose(host(second), [2.0, 2.0])
