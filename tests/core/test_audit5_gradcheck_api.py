"""gradcheck / gradgradcheck against torch.autograd.gradcheck's documented behaviour:
the failure message (which output, which input, both Jacobians), float32 inputs (a
warning, as PyTorch's), no differentiable input (PyTorch's ValueError), empty inputs.

Each check is made to fail by a custom Function with a deliberately wrong backward; the
Jacobians in the message are compared with NumPy references written here."""

import re

import numpy as np
import pytest

import tinygrad_opt as tg

D = tg.float64


def _leaf(values, device, dtype=D):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


def _jacobians(message):
    """The numerical and analytical matrices printed in a mismatch message."""
    match = re.search(r"numerical:(.*)\nanalytical:(.*)\n\(", message, re.S)
    assert match, message
    return [np.array([float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", block)])
            for block in match.groups()]


class _ProductWrongForB(tg.autograd.Function):
    """y = a·b (elementwise), with ∂y/∂b returned 10% too large (∂y/∂a is right)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * a * 1.1


def test_mismatch_names_the_output_and_the_input_and_prints_both_jacobians(device, rng):
    # PyTorch: "Jacobian mismatch for output 1 with respect to input 1,\nnumerical:...
    # \nanalytical:..." with J[i, j] = ∂y_j/∂x_i; here input 0 is a plain float
    a, b = rng.uniform(0.5, 1.5, 3), rng.uniform(-1.5, -0.5, 3)
    ta, tb = _leaf(a, device), _leaf(b, device)

    def fn(k, x, y):
        return x.sin() * k, _ProductWrongForB.apply(x, y)
    with pytest.raises(tg.GradcheckError) as failure:
        tg.gradcheck(fn, (2.0, ta, tb))
    message = str(failure.value)
    assert message.startswith("gradcheck: Jacobian mismatch for output 1 with respect to "
                              "input 2,\nnumerical:")
    numerical, analytical = _jacobians(message)
    np.testing.assert_allclose(numerical, np.diag(a).ravel(), atol=1e-6)
    np.testing.assert_allclose(analytical, np.diag(1.1 * a).ravel(), atol=1e-6)
    assert tg.gradcheck(fn, (2.0, ta, tb), raise_exception=False) is False
    # the right input passes alone
    assert tg.gradcheck(fn, (2.0, ta, tb.detach()))


def test_fast_mode_failure_prints_the_slow_jacobians(device, rng):
    a, b = rng.uniform(0.5, 1.5, 2), rng.uniform(0.5, 1.5, 2)
    with pytest.raises(tg.GradcheckError, match="along a random direction") as failure:
        tg.gradcheck(_ProductWrongForB.apply, (_leaf(a, device), _leaf(b, device)),
                     fast_mode=True)
    assert "Jacobian mismatch for output 0 with respect to input 1," in str(failure.value)
    numerical, analytical = _jacobians(str(failure.value))
    np.testing.assert_allclose(numerical, np.diag(a).ravel(), atol=1e-6)
    np.testing.assert_allclose(analytical, np.diag(1.1 * a).ravel(), atol=1e-6)


def test_forward_mode_mismatch_prints_the_jvp_jacobian(device, rng):
    class WrongJvp(tg.autograd.Function):
        """y = x², with a jvp 3x·t (2x·t is right) and a right backward."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x

        @staticmethod
        def jvp(ctx, tangent):
            (x,) = ctx.saved_tensors
            return tangent * 3 * x

    x = rng.uniform(0.5, 1.5, (2, 2))
    with pytest.raises(tg.GradcheckError, match="forward") as failure:
        tg.gradcheck(WrongJvp.apply, _leaf(x, device), check_forward_ad=True,
                     check_backward_ad=False)
    assert "Jacobian mismatch for output 0 with respect to input 0," in str(failure.value)
    numerical, analytical = _jacobians(str(failure.value))
    np.testing.assert_allclose(numerical, np.diag(2 * x.ravel()).ravel(), atol=1e-6)
    np.testing.assert_allclose(analytical, np.diag(3 * x.ravel()).ravel(), atol=1e-6)


def test_gradgradcheck_mismatch_message(device, rng):
    class DetachedCube(tg.autograd.Function):
        """y = x³, backward 3x²·g with x² detached: its own derivative in x is lost."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x.detach() ** 2

    x = rng.uniform(0.5, 1.5, 3)
    v = tg.tensor(rng.uniform(0.5, 1.5, 3), dtype=D, device=device)
    with pytest.raises(tg.GradcheckError) as failure:
        tg.gradgradcheck(DetachedCube.apply, (_leaf(x, device),), v)
    message = str(failure.value)
    assert message.startswith("gradgradcheck: Jacobian mismatch for output 0 with respect "
                              "to input 0,\nnumerical:")
    numerical, analytical = _jacobians(message)
    # the checked function is x ↦ Σ 3x²·v·u (u random): numeric 6x·v·u, analytic 0
    assert numerical.shape == (3,) and np.all(np.abs(numerical) > 1e-3)
    np.testing.assert_array_equal(analytical, np.zeros(3))


def test_no_input_requiring_grad_raises_pytorchs_value_error(device):
    x = tg.tensor([1.0, 2.0], dtype=D, device=device)
    for check in (tg.gradcheck, tg.gradgradcheck):
        with pytest.raises(ValueError, match="gradcheck expects at least one input tensor "
                                             "to require gradient"):
            check(lambda a: a * 2, (x, 3.0))


def test_float32_input_warns_and_is_checked(device, rng):
    # PyTorch: a UserWarning "Input #0 requires gradient and is not a double precision
    # floating point", then the check runs; with float32-sized eps and tolerances it works
    x = _leaf(rng.uniform(0.5, 1.5, 4), device, dtype=tg.float32)
    loose = dict(eps=1e-3, atol=1e-3, rtol=1e-2)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double"):
        assert tg.gradcheck(lambda a: a.sin() * a, x, **loose)

    class ExpWrongBy5Percent(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a.exp()

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * a.exp() * 1.05

    with pytest.warns(UserWarning, match="not a double precision"):
        assert tg.gradcheck(ExpWrongBy5Percent.apply, x, raise_exception=False,
                            **loose) is False
    with pytest.warns(UserWarning, match="Input #1"):
        assert tg.gradcheck(lambda a, b: a * b, (_leaf([1.0, 2.0], device),
                                                 _leaf([3.0, 4.0], device, tg.float32)),
                            **loose)


def test_empty_input_is_checked_beside_a_wrong_one(device, rng):
    empty = _leaf(np.zeros((0, 3)), device)
    a, b = rng.uniform(0.5, 1.5, 3), rng.uniform(0.5, 1.5, 3)

    def fn(e, x, y):
        return e.sum(axis=0) + _ProductWrongForB.apply(x, y)
    assert tg.gradcheck(lambda e, x: e.sum(axis=0) + x.sin(), (empty, _leaf(a, device)))
    with pytest.raises(tg.GradcheckError, match="output 0 with respect to input 2,"):
        tg.gradcheck(fn, (empty, _leaf(a, device), _leaf(b, device)))
