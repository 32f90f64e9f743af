"""Audit of PyTorch-style custom Functions (autograd/torch_style.py), fifth pass.

Fixed here (each test below failed before the fix):
* ``ctx.mark_dirty``: a forward that changes an argument in place and returns it gives
  back the same Tensor, now the output of the Function (ops that used it before see its
  old value and graph), its version bumped; a leaf that requires grad is refused, as is a
  dirty argument that forward does not return;
* outputs of several floating dtypes (float64 and float32) that carry gradients;
* ``y.grad_fn`` reads the ctx's attributes (``saved_tensors``, what forward set), as
  PyTorch's node is the ctx; after a backward without retain_graph ``saved_tensors``
  raises PyTorch's "backward through the graph a second time".
Pinned: needs_input_grad with non-Tensor arguments, non-Tensor outputs, double backward,
once_differentiable under create_graph. References are by hand in NumPy.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd.torch_style import Function, FunctionCtx, once_differentiable


def leaf(values, device, requires_grad=True, dtype=tg.float64):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=requires_grad)


def constant(values, device, dtype=tg.float64):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device)


class MulInPlace(Function):
    """x ← k x in place (k a number)   dL/dx = k g."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.mark_dirty(x)
        ctx.k = k
        return x.mul_(k)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.k, None


class ExpInPlace(Function):
    """x ← exp(x) in place, saving the new x (an output)   dL/dx = g y."""

    @staticmethod
    def forward(ctx, x):
        x.exp_()
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y


class AddInPlace(Function):
    """x ← x + w in place   dL/dx = g   dL/dw = g."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.mark_dirty(x)
        x.add_(w)
        return x

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, grad_output


# --- mark_dirty ---


def test_mark_dirty_returns_the_argument_rebound_to_the_function(device, rng):
    a_np, w_np = rng.normal(size=3), rng.normal(size=3)
    a = leaf(a_np, device)
    x = a * 1
    before = x * 3  # used x before the in-place call: its gradient goes to the old x
    version = x._version
    y = MulInPlace.apply(x, 2.0)
    assert y is x and x._version > version and x.requires_grad and not x.is_leaf
    np.testing.assert_allclose(x.numpy(), 2 * a_np)
    np.testing.assert_allclose(before.numpy(), 3 * a_np)
    ((y * constant(w_np, device)).sum() + before.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * w_np + 3)


def test_mark_dirty_saved_output_double_backward_and_gradcheck(device):
    a_np = np.array([0.5, -1.0])
    a = leaf(a_np, device)
    y = ExpInPlace.apply(a.clone())
    (grad,) = tg.grad((y * y).sum(), a, create_graph=True)  # d/da e^{2a} = 2 e^{2a}
    np.testing.assert_allclose(grad.numpy(), 2 * np.exp(2 * a_np))
    (second,) = tg.grad(grad.sum(), a)
    np.testing.assert_allclose(second.numpy(), 4 * np.exp(2 * a_np))
    assert tg.gradcheck(lambda t: ExpInPlace.apply(t.clone()) * 2, [leaf([0.3, 0.7], device)])
    assert tg.gradgradcheck(lambda t: ExpInPlace.apply(t * 1), [leaf([0.3, 0.7], device)])


def test_mark_dirty_argument_without_grad_takes_the_other_inputs_gradient(device):
    x = leaf([1.0, 2.0], device, requires_grad=False)
    w = leaf([3.0, 4.0], device)
    y = AddInPlace.apply(x, w)
    assert y is x and x.requires_grad
    np.testing.assert_allclose(x.numpy(), [4.0, 6.0])
    (x * constant([5.0, 7.0], device)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [5.0, 7.0])


def test_mark_dirty_of_a_view_writes_into_its_base(device):
    weights = np.arange(6.0).reshape(2, 3)
    a = leaf(np.ones((2, 3)), device)
    base = a * 1
    row = base[0]
    assert MulInPlace.apply(row, 3.0) is row
    np.testing.assert_allclose(base.numpy(), [[3.0, 3.0, 3.0], [1.0, 1.0, 1.0]])
    (base * constant(weights, device)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), weights * [[3.0], [1.0]])


def test_mark_dirty_refusals(device):
    with pytest.raises(RuntimeError, match=r"MulInPlaceBackward: a leaf Variable that "
                                           r"requires grad has been used in an in-place"):
        MulInPlace.apply(leaf([1.0], device), 2.0)

    class Forgets(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x * 2

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 2

    with pytest.raises(RuntimeError, match=r"ForgetsBackward: some elements marked as dirty"):
        Forgets.apply(leaf([1.0], device) * 1)
    with pytest.raises(TypeError, match=r"mark_dirty takes Tensors, got a float"):
        FunctionCtx(MulInPlace, "MulInPlaceBackward", (False, False)).mark_dirty(1.5)
    with tg.no_grad():  # nothing is recorded: a leaf may change in place, as in PyTorch
        x = leaf([1.0, 2.0], device)
        assert MulInPlace.apply(x, 2.0) is x
    np.testing.assert_allclose(x.numpy(), [2.0, 4.0])


def test_a_write_after_the_call_to_a_saved_dirty_output_raises(device):
    x = leaf([0.5], device) * 1
    y = ExpInPlace.apply(x)
    with tg.no_grad():
        x.add_(1)
    with pytest.raises(RuntimeError, match="saved tensor 0 of ExpInPlaceBackward"):
        y.sum().backward()


# --- outputs of several dtypes ---


class TwoPrecisions(Function):
    """(2x in float64, 3x in float32)   dL/dx = 2 g₁ + 3 g₂ (g₂ back in float64)."""

    seen = []

    @staticmethod
    def forward(ctx, x, materialize=True):
        ctx.set_materialize_grads(materialize)
        return x * 2, (x * 3).float()

    @staticmethod
    def backward(ctx, grad_double, grad_single):
        TwoPrecisions.seen.append((grad_double, grad_single))
        grad = grad_double * 2 if grad_double is not None else 0
        if grad_single is not None:
            grad = grad + grad_single.double() * 3
        return grad, None


def test_outputs_of_two_float_dtypes(device, rng):
    x_np, g1, g2 = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    x = leaf(x_np, device)
    double, single = TwoPrecisions.apply(x)
    assert double.dtype == tg.float64 and single.dtype == tg.float32
    np.testing.assert_allclose(double.numpy(), 2 * x_np)
    np.testing.assert_allclose(single.numpy(), (3 * x_np).astype(np.float32))
    TwoPrecisions.seen.clear()
    ((double * constant(g1, device)).sum()
     + (single * constant(g2, device, tg.float32)).sum()).backward()
    grad_double, grad_single = TwoPrecisions.seen[0]
    assert grad_double.dtype == tg.float64 and grad_single.dtype == tg.float32
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1 + 3 * g2.astype(np.float32), rtol=1e-6)
    x = leaf(x_np, device)
    TwoPrecisions.apply(x, False)[1].sum().backward()  # only the float32 one is reached
    assert TwoPrecisions.seen[1][0] is None
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 3.0))


# --- grad_fn is the ctx ---


def test_grad_fn_reads_the_ctx_and_saved_tensors_are_freed_by_backward(device):
    x = leaf([0.0, 1.0], device)
    y = ExpLike.apply(x, 4)
    assert y.grad_fn.k == 4
    (saved,) = y.grad_fn.saved_tensors
    np.testing.assert_allclose(saved.numpy(), np.exp([0.0, 1.0]))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]))
    assert y.grad_fn.k == 4
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.saved_tensors
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        y.grad_fn.missing


class ExpLike(Function):
    """y = exp(x), with a number k kept on ctx   dy/dx = y."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y, None


# --- pinned: correct already ---


def test_needs_input_grad_non_tensor_arguments_and_outputs(device):
    seen = []

    class Affine(Function):
        @staticmethod
        def forward(ctx, x, k, b):
            seen.append(ctx.needs_input_grad)
            ctx.k = k
            return x * k + b, k, "label"

        @staticmethod
        def backward(ctx, grad_output, grad_k, grad_label):
            seen.append((grad_k, grad_label))
            return grad_output * ctx.k, None, grad_output

    x, b = leaf([1.0, -2.0], device), leaf([0.5, 0.5], device, requires_grad=False)
    y, k, label = Affine.apply(x, 3.0, b)
    assert (k, label) == (3.0, "label")
    np.testing.assert_allclose(y.numpy(), [3.5, -5.5])
    y.sum().backward()
    assert seen == [(True, False, False), (None, None)]
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_once_differentiable_under_create_graph_gives_a_plain_first_gradient(device):
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
    (grad,) = tg.grad(Cube.apply(x).sum(), x, create_graph=True)  # (grad_outputs: no grad)
    np.testing.assert_allclose(grad.numpy(), [3.0, 12.0])
    assert not grad.requires_grad  # as PyTorch: nothing to differentiate it through
