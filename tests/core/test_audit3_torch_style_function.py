"""Audit of PyTorch-style custom Functions (autograd/torch_style.py) against PyTorch's rules.

Fixed here (each test below failed before the fix):
* a gradient for a non-Tensor argument must be None (PyTorch raises, naming the position);
* a gradient whose shape the input broadcasts to is summed back to the input's shape, one
  of another dtype is cast to the input's (PyTorch's ``validate_outputs``); any other shape
  raises PyTorch's "invalid gradient at index i" error;
* a Tensor passed by keyword is an input (it gets its gradient); a ``setup_context``
  Function sees the defaults of forward in ``inputs``, as PyTorch's ``apply`` binds them;
* the outputs of a several-output Function have their own versions: a write in place to one
  does not flag another that backward saved.
Pinned: identity forward, trailing Nones, inputs that need no gradient, double backward.
References are by hand in NumPy.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.autograd.torch_style import Function


def leaf(values, device, requires_grad=True):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=tg.float64, device=device,
                     requires_grad=requires_grad)


class ScaleBy(Function):
    """y = x * w, w of shape (n,) broadcast over x (m, n); backward returns w's gradient
    unreduced, of x's shape: the engine must sum it back to (n,) (PyTorch's sum_to)."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        return grad_output * w, grad_output * x  # the second is (m, n), w is (n,)


def custom(name, forward, backward):
    """A ctx-style Function ``name`` with these static forward and backward (the tests'
    backwards return a wrong gradient on purpose)."""
    return type(name, (Function,), {"forward": staticmethod(forward),
                                    "backward": staticmethod(backward)})


def test_gradient_for_a_non_tensor_argument_must_be_none(device):
    Scale = custom("Scale", lambda ctx, x, k: x * k,  # k is a number: PyTorch raises
                   lambda ctx, grad_output: (grad_output * 2, grad_output))
    with pytest.raises(RuntimeError, match=r"function ScaleBackward returned a gradient "
                                           r"different than None at position 2, but the "
                                           r"corresponding forward input was not a Variable"):
        Scale.apply(leaf([1.0, 2.0], device), 2.0).sum().backward()


def test_broadcast_gradient_is_summed_to_the_input_shape(device, rng):
    x_np, w_np, g_np = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(4, 3))
    x, w = leaf(x_np, device), leaf(w_np, device)
    ScaleBy.apply(x, w).backward(tg.tensor(g_np, device=device))
    np.testing.assert_allclose(x.grad.numpy(), g_np * w_np)
    np.testing.assert_allclose(w.grad.numpy(), (g_np * x_np).sum(0))
    assert w.grad.shape == (3,)
    assert tg.gradcheck(ScaleBy.apply, [leaf(x_np, device), leaf(w_np, device)])
    assert tg.gradgradcheck(ScaleBy.apply, [leaf(x_np, device), leaf(w_np, device)])


def test_incompatible_gradient_shape_raises_pytorchs_error(device):
    Cut = custom("Cut", lambda ctx, x: x * 2, lambda ctx, grad_output: grad_output[:1])
    with pytest.raises(RuntimeError, match=r"Function CutBackward returned an invalid gradient "
                                           r"at index 0 - got \[1\] but expected shape "
                                           r"compatible with \[3\]"):
        Cut.apply(leaf([1.0, 2.0, 3.0], device)).sum().backward()


def test_gradient_of_another_dtype_is_cast_to_the_inputs(device):
    Half = custom("Half", lambda ctx, x: x * 2,
                  lambda ctx, grad_output: (grad_output * 2).float())
    x = leaf([1.0, 2.0], device)
    Half.apply(x).sum().backward()
    assert x.grad.dtype == tg.float64
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_tensor_passed_by_keyword_gets_its_gradient(device):
    x_np, w_np = np.array([1.0, -2.0]), np.array([3.0, 0.5])
    x, w = leaf(x_np, device), leaf(w_np, device)
    seen = []

    class Weighted(Function):
        @staticmethod
        def forward(ctx, x, w=None):
            seen.append(ctx.needs_input_grad)
            return ScaleBy.forward(ctx, x, w)

        backward = staticmethod(ScaleBy.backward)

    Weighted.apply(x, w=w).sum().backward()
    assert seen == [(True, True)]
    np.testing.assert_allclose(x.grad.numpy(), w_np)
    np.testing.assert_allclose(w.grad.numpy(), x_np)


def test_setup_context_inputs_hold_forwards_defaults(device):
    class MulConstant(Function):
        @staticmethod
        def forward(x, constant=2.5):
            return x * constant

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, ctx.constant = inputs  # PyTorch binds the defaults: inputs == (x, 2.5)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.constant, None

    x = leaf([1.0, -2.0], device)
    y = MulConstant.apply(x)
    np.testing.assert_allclose(y.numpy(), [2.5, -5.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.5, 2.5])


class SinCosSavesCos(Function):
    """(s, c) = (sin x, cos x), saving the output c   dL/dx = g_s c − g_c sin x."""

    @staticmethod
    def forward(ctx, x):
        sine, cosine = x.sin(), x.cos()
        ctx.save_for_backward(x, cosine)
        return sine, cosine

    @staticmethod
    def backward(ctx, grad_sine, grad_cosine):
        x, cosine = ctx.saved_tensors
        return grad_sine * cosine - grad_cosine * x.sin()


def test_write_in_place_to_one_output_leaves_another_saved_output_valid(device):
    values = np.array([0.4, -1.1])
    x = leaf(values, device)
    sine, cosine = SinCosSavesCos.apply(x)
    sine.mul_(3)  # PyTorch: fine, the sine is not saved (its gradient is 3 g)
    (sine.sum() + cosine.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.cos(values) - np.sin(values))
    x = leaf(values, device)
    sine, cosine = SinCosSavesCos.apply(x)
    with tg.no_grad():
        cosine.add_(1)  # the saved output itself: still refused
    with pytest.raises(RuntimeError, match="saved tensor 1 of SinCosSavesCosBackward"):
        sine.sum().backward()
    assert tg.gradcheck(lambda t: SinCosSavesCos.apply(t)[0] * 2 + SinCosSavesCos.apply(t)[1],
                        [leaf(values, device)])


# --- pinned: correct already ---


def test_identity_forward_trailing_nones_and_inputs_without_grad(device):
    class Identity(Function):
        @staticmethod
        def forward(ctx, x, other):
            return x  # returned as is: still one op, its backward is used

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 3, grad_output[:1], None  # other needs none; extra None ok

    x = leaf([1.0, 2.0], device)
    other = leaf([5.0, 6.0], device, requires_grad=False)
    y = Identity.apply(x, other)
    assert y is not x and y.grad_fn.name == "IdentityBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])

    class ExtraGradient(Function):
        forward = staticmethod(Identity.forward)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, None, grad_output

    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 2, got 3\)"):
        ExtraGradient.apply(leaf([1.0], device), other[:1]).sum().backward()
