"""A float16 tensor meeting a Python number is computed in float32 and rounded once, as
PyTorch computes it (its "opmath" type, ops/elementwise.py: in_float32).

Made float16 first, the number itself rounds: 1e5 and 65536 overflow to inf (so
0 * 1e5 gave NaN and 60000 / 1e5 gave 0), 1e-7 becomes 1.19e-7 (19% off). The
reference here is NumPy in float32 rounded to float16, written out per operator.
"""

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
from fuzzing import examples, fuzz_settings

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "**": operator.pow}
IN_PLACE = {"+": operator.iadd, "-": operator.isub, "*": operator.imul, "/": operator.itruediv}


def reference(values, number, symbol, reflected=False):
    """float16 ⊕ number by PyTorch's rule: both in float32, the result rounded to float16."""
    x, v = np.asarray(values, np.float16).astype(np.float32), np.float32(number)
    with np.errstate(all="ignore"):
        result = OPERATORS[symbol](v, x) if reflected else OPERATORS[symbol](x, v)
    return result.astype(np.float16)


CASES = [([0.0, 1.0], 1e5, "*"),          # 1e5 as float16 is inf: 0 · inf was NaN
         ([60000.0, 1.0], 1e5, "/"),      # x / inf was 0
         ([1000.0, 3.0], 1e-7, "*"),      # 1e-7 as float16 is 1.19e-7
         ([0.5, -0.25], 65536.0, "*"),    # a loss scale of 2^16 overflows float16
         ([1.0, 2.0], 1e-4, "+"),
         ([60000.0, 1.0], 1e5, "-"),
         ([2.0, 3.0], 2.5, "**")]


@pytest.mark.parametrize("values, number, symbol", CASES)
def test_operators_compute_in_float32(values, number, symbol, device):
    x = tg.tensor(np.asarray(values, np.float16), device=device)
    got = OPERATORS[symbol](x, number)
    assert got.dtype == tg.float16 and got.device == device
    np.testing.assert_array_equal(got.numpy(), reference(values, number, symbol))
    if symbol != "**":
        flipped = OPERATORS[symbol](number, x)
        np.testing.assert_array_equal(flipped.numpy(),
                                      reference(values, number, symbol, reflected=True))


@pytest.mark.parametrize("values, number, symbol", [c for c in CASES if c[2] in IN_PLACE])
def test_in_place_operators_too(values, number, symbol, device):
    x = tg.tensor(np.asarray(values, np.float16), device=device)
    before = x
    x = IN_PLACE[symbol](x, number)
    assert x is before and x.dtype == tg.float16 and x._version == 1
    np.testing.assert_array_equal(x.numpy(), reference(values, number, symbol))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_the_gradient_is_the_float32_derivative_rounded():
    """d(x · 1e-7)/dx = 1e-7 in float16 (1.19e-7, its nearest float16), for each x."""
    x = tg.tensor([2.0, 3.0], dtype=tg.float16, requires_grad=True)
    (x * 1e-7).sum().backward()
    assert x.grad.dtype == tg.float16
    np.testing.assert_array_equal(x.grad.numpy(), np.full(2, np.float16(1e-7)))
    y = tg.tensor([0.0, 1.0], dtype=tg.float16, requires_grad=True)
    (y * 1e5).sum().backward()             # a finite product, an infinite derivative
    np.testing.assert_array_equal(y.grad.numpy(), [np.inf, np.inf])  # (as PyTorch's)


def test_other_dtypes_are_unchanged():
    """float32 and float64 keep one op; an integer tensor meets a Python float as float32."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert (x * 1e-7).grad_fn.name == "Mul"
    assert (tg.tensor([3]) / 2).dtype == tg.float32
    assert (tg.tensor([1.0], dtype=tg.float16) * tg.tensor([2.0], dtype=tg.float16)).grad_fn \
        is None  # (tensors with tensors: NumPy's float16 loops already round once)


@fuzz_settings(examples("FLOAT16_SCALAR_FUZZ_EXAMPLES", 40))
@given(values=st.lists(st.floats(-6e4, 6e4, width=16), min_size=1, max_size=5),
       number=st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.integers(-10**6, 10**6)),
       symbol=st.sampled_from(["+", "-", "*", "/"]), reflected=st.booleans())
def test_any_number_any_operator(values, number, symbol, reflected):
    x = tg.tensor(np.asarray(values, np.float16))
    with np.errstate(all="ignore"):
        got = OPERATORS[symbol](number, x) if reflected else OPERATORS[symbol](x, number)
    np.testing.assert_array_equal(got.numpy(), reference(values, number, symbol, reflected))


def test_round_with_decimals_scales_in_float32(device):
    """round(x, decimals) scales, rounds and scales back in float32, as PyTorch's kernel,
    then rounds to float16 once: x · 100 rounded to float16 first lost the last digit
    above 20.48 (float16 is 2 apart above 2048)."""
    values = np.float16([30.27, 123.46, -7.125, 0.333, 655.35])
    got = tg.round(tg.tensor(values, device=device), decimals=2)
    expected = (np.round(values.astype(np.float32) * np.float32(100)) / np.float32(100))
    assert got.dtype == tg.float16
    np.testing.assert_array_equal(got.numpy(), expected.astype(np.float16))
    tens = tg.round(tg.tensor(values, device=device), decimals=-1)
    expected = np.round(values.astype(np.float32) / np.float32(10)) * np.float32(10)
    np.testing.assert_array_equal(tens.numpy(), expected.astype(np.float16))
