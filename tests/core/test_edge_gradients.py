"""Edge cases PyTorch defines and we follow: x**0 at 0, 0**b, clip with Tensor
bounds, bare ``@tg.no_grad``, comparisons of 0-d tensors."""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg


def backward_quietly(y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's 0**-1 = inf, masked away
        y.sum().backward()


@pytest.mark.parametrize("exponent", [0, 0.0, "tensor"])
def test_power_zero_has_zero_gradient_even_at_zero(device, exponent):
    x = tg.tensor([0.0, 2.0, -3.0], dtype="float64", device=device, requires_grad=True)
    b = tg.zeros(3, dtype="float64", device=device) if exponent == "tensor" else exponent
    y = x ** b
    np.testing.assert_array_equal(y.numpy(), [1.0, 1.0, 1.0])
    backward_quietly(y)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])  # PyTorch: 0, not nan


def test_exponent_gradient_at_zero_base(device):
    a = tg.tensor([0.0, 0.0, 2.0], dtype="float64", device=device)
    b = tg.tensor([0.0, 1.5, 3.0], dtype="float64", device=device, requires_grad=True)
    backward_quietly(a ** b)
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 0.0, 8.0 * np.log(2.0)])


def test_power_gradients_elsewhere_unchanged(device):
    x = tg.tensor([0.5, 2.0], dtype="float64", device=device, requires_grad=True)
    b = tg.tensor([3.0, -1.5], dtype="float64", device=device, requires_grad=True)
    assert tg.gradcheck(lambda p, q: p ** q, [x, b])
    assert tg.gradgradcheck(lambda p, q: p ** q, [x, b])


def test_clip_with_tensor_bounds(device, rng):
    values = rng.normal(size=(4, 3))
    low = rng.normal(size=(3,)) - 0.5
    high = low + 1.0
    x = tg.tensor(values, device=device, requires_grad=True)
    low_t = tg.tensor(low, device=device, requires_grad=True)
    high_t = tg.tensor(high, device=device, requires_grad=True)
    y = x.clamp(low_t, high_t)
    np.testing.assert_allclose(y.numpy(), np.clip(values, low, high))
    y.sum().backward()
    inside = (values > low) & (values < high)
    np.testing.assert_array_equal(x.grad.numpy(), inside.astype(float))
    np.testing.assert_array_equal(low_t.grad.numpy(), (values < low).sum(axis=0))
    np.testing.assert_array_equal(high_t.grad.numpy(), (values > high).sum(axis=0))
    only_low = x.clip(min=low_t)
    np.testing.assert_allclose(only_low.numpy(), np.maximum(values, low))
    mixed = x.clip(low_t, 0.25)
    np.testing.assert_allclose(mixed.numpy(), np.minimum(np.maximum(values, low), 0.25))


def test_bare_decorators():
    x = tg.ones(2, requires_grad=True)

    @tg.no_grad
    def doubled():
        """Doc."""
        return x * 2

    assert doubled().grad_fn is None and tg.is_grad_enabled()
    assert doubled.__name__ == "doubled" and doubled.__doc__ == "Doc."

    @tg.enable_grad
    def recorded():
        return x * 2

    with tg.no_grad():
        assert recorded().grad_fn is not None
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_zero_dim_comparisons_give_tensors():
    result = tg.tensor(3.0) == 3.0
    assert isinstance(result, tg.Tensor) and result.shape == () and bool(result)
    assert bool(tg.tensor(2.0, device="strict") < 3.0)


@pytest.mark.parametrize("reduce", ["max", "min", "amax", "amin"])
def test_a_nan_is_the_extreme_and_takes_the_gradient_without_a_warning(reduce, device):
    """PyTorch's max(): the result is NaN and its gradient is shared among the NaNs (before,
    every share was 0 after a division by zero ties, with NumPy's RuntimeWarning)."""
    x = tg.tensor([[1.0, np.nan, 3.0, np.nan], [2.0, 5.0, 5.0, 0.0]], dtype=tg.float64,
                  requires_grad=True, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(x, reduce)().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0, 0.5], [0, 0, 0, 0]])
        x.grad = None
        getattr(x, reduce)(1).sum().backward()
    second_row = [0, 0.5, 0.5, 0] if reduce in ("max", "amax") else [0, 0, 0, 1]  # (ties share)
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0, 0.5], second_row])
