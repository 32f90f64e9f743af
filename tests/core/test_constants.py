"""Python numbers in arithmetic become cached 0-d constants (ops/shape.py _constant).

The cache is an optimisation only: every result must be what an uncached
constant gives, for each dtype, device, sign of zero and NaN.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.ops import shape


def test_the_same_number_is_built_once_per_dtype_and_device(device):
    x32 = tg.ones(3, device=device)
    x64 = tg.ones(3, dtype="float64", device=device)
    first = shape.as_operand(0.25, x32, "Mul")
    assert shape.as_operand(0.25, x32, "Mul") is first
    other_dtype = shape.as_operand(0.25, x64, "Mul")
    assert other_dtype is not first and other_dtype.dtype == np.float64
    assert first.dtype == np.float32 and first.device == device
    assert not first.requires_grad and first.shape == ()


def test_int_and_float_of_equal_value_do_not_share(device):
    counts = tg.tensor(np.array([1, 2, 3]), device=device)
    assert (counts * 2).dtype == np.int64
    assert (counts * 2.0).dtype == np.float32  # a float meeting ints gives float32
    assert (counts * 2).dtype == np.int64      # and the int constant is still int
    np.testing.assert_array_equal((counts * 2.0).numpy(), [2.0, 4.0, 6.0])


def test_cpu_and_strict_constants_are_kept_apart():
    on_cpu = tg.ones(2) * 3.0
    on_strict = tg.ones(2, device="strict") * 3.0
    assert on_cpu.device == "cpu" and on_strict.device == "strict"
    np.testing.assert_array_equal(on_strict.numpy(), [3.0, 3.0])


def test_negative_zero_keeps_its_sign():
    x = tg.tensor([1.0, 2.0])
    assert math.copysign(1.0, (x * 0.0).numpy()[0]) == 1.0
    assert math.copysign(1.0, (x * -0.0).numpy()[0]) == -1.0
    assert math.copysign(1.0, (x * 0.0).numpy()[0]) == 1.0


def test_nan_constants_work_and_the_cache_stays_bounded():
    x = tg.tensor([1.0])
    for _ in range(3000):
        assert np.isnan((x + float("nan")).numpy()[0])
    for i in range(3000):
        assert (x * (i + 0.5)).item() == i + 0.5
    assert len(shape._constants) <= 1024


def test_constants_carry_gradients_through_every_operator(device):
    x = tg.tensor([1.5, -2.0], dtype="float64", device=device, requires_grad=True)
    y = (2.0 * x - 1.0) / 4.0 + x ** 2.0 - (3.0 - x) * 0.5
    y.sum().backward()
    # dy/dx = 2/4 + 2x + 0.5
    np.testing.assert_allclose(x.grad.numpy(), [0.5 + 3.0 + 0.5, 0.5 - 4.0 + 0.5])


@pytest.mark.parametrize("value", [True, False])
def test_bools_still_behave_as_numbers(value):
    x = tg.tensor([2.0, 3.0])
    np.testing.assert_array_equal((x * value).numpy(), [2.0 * value, 3.0 * value])
