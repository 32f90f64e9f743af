"""arange's and linspace's arguments by PyTorch's rules (tinygrad_opt/range_rules.py), and
Python ints out of an integer tensor's range, which wrap into it as PyTorch's C cast does.

The expected values are PyTorch's, written out here: arange's checks
(RangeFactories.cpp: "step must be nonzero", "upper bound and larger bound inconsistent
with step sign", "unsupported range"), linspace's integer values (each half counted
from its own end in float64, then truncated toward zero), and uint8/int8 arithmetic
modulo 2⁸.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg


def torch_linspace(start, end, steps, integer):
    """PyTorch's CPU linspace kernel, in Python: the first half from start, the second
    from end, step in float64; integers truncated toward zero (bounds first)."""
    if integer:
        start, end = math.trunc(start), math.trunc(end)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    values = [start + step * i if i < steps // 2 else end - step * (steps - 1 - i)
              for i in range(steps)]
    return [math.trunc(v) for v in values] if integer else values


@pytest.mark.parametrize("start, end, steps", [(-10, 10, 4), (-10, 10, 5), (2.7, -3.9, 3),
                                               (0, 7, 4), (5, 5, 3), (-1, 2, 1), (3, 9, 0),
                                               (-7.5, 7.5, 6)])
@pytest.mark.parametrize("dtype", [tg.int64, tg.int32, tg.int16])
def test_linspace_with_an_integer_dtype_truncates_as_pytorch(device, start, end, steps, dtype):
    """NumPy floors (−3.33 → −4); PyTorch truncates (→ −3) and counts the second half
    from the end."""
    x = tg.linspace(start, end, steps, dtype=dtype, device=device)
    assert x.dtype == dtype and x.tolist() == torch_linspace(start, end, steps, True)


def test_linspace_floats_and_tensor_bounds(device):
    np.testing.assert_allclose(tg.linspace(-1.3, 2.7, 7, device=device).numpy(),
                               torch_linspace(-1.3, 2.7, 7, False), rtol=1e-6)
    x = tg.linspace(tg.tensor(1.0), tg.tensor(2.0), 3, device=device)
    assert x.tolist() == [1.0, 1.5, 2.0]
    with pytest.raises(ValueError, match="linspace: steps must be a non-negative int"):
        tg.linspace(0, 1, -1)
    with pytest.raises(ValueError, match="linspace: expected a number or a one-element"):
        tg.linspace(tg.ones(2), 1, 3)


@pytest.mark.parametrize("arguments, message", [
    ((0, 5, 0), "step must be nonzero"), ((0, 5, -1), "inconsistent with step sign"),
    ((5, 0, 1), "inconsistent with step sign"), ((0, float("inf")), "unsupported range"),
    ((float("nan"), 3), "unsupported range"), ((0.0, 1.0, 0.0), "step must be nonzero")])
def test_arange_refuses_what_pytorch_refuses(arguments, message):
    with pytest.raises(RuntimeError, match=f"arange: .*{message}"):
        tg.arange(*arguments)


def test_arange_end_by_keyword_and_tensor_arguments(device):
    assert tg.arange(end=4, device=device).tolist() == [0, 1, 2, 3]
    assert tg.arange(2, 2).shape == (0,) and tg.arange(5, 0, -2).tolist() == [5, 3, 1]
    counted = tg.arange(tg.tensor(3), device=device)         # an int tensor counts as an int
    assert counted.dtype == tg.int64 and counted.tolist() == [0, 1, 2]
    halves = tg.arange(tg.tensor(0.0), 1, tg.tensor(0.5))
    assert halves.dtype == tg.float32 and halves.tolist() == [0.0, 0.5]
    with pytest.raises(ValueError, match="arange: expected a number or a one-element"):
        tg.arange(tg.ones(2))


def test_an_out_of_range_python_int_wraps_into_an_integer_tensor(device):
    """PyTorch keeps the tensor's dtype (an int scalar does not promote an integer tensor)
    and casts the scalar with C's modular conversion: uint8 3 + (−1) = 2, 200 + 300 = 244."""
    u8 = tg.tensor(np.array([3, 200], np.uint8), device=device)
    assert (u8 + (-1)).dtype == tg.uint8 and (u8 + (-1)).tolist() == [2, 199]
    assert (u8 + 300).tolist() == [(3 + 300) % 256, (200 + 300) % 256]
    assert (u8 * 257).tolist() == [3, 200]                         # 257 ≡ 1 (mod 256)
    i8 = tg.tensor(np.array([100, -100], np.int8), device=device)
    assert (i8 + 200).tolist() == [np.int8(np.int64(300).astype(np.int8)),
                                   np.int8(np.int64(100).astype(np.int8))]
    assert (tg.tensor([1, 2]) + 5).tolist() == [6, 7]              # in range: unchanged
    with pytest.raises(OverflowError):                             # beyond int64: refused
        tg.tensor([1]) + 2**70
