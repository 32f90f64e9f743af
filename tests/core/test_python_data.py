"""``tg.tensor`` of Python data (tinygrad_opt/python_data.py) reads dtypes as ``torch.tensor``
does, and the factories read NumPy numbers as PyTorch reads Python ones.

The expected dtypes follow PyTorch's rules (``infer_scalar_type`` in
torch/csrc/utils/tensor_new.cpp, and ``promote_types``), written out here by hand: a
Python float is the default float, an int int64, a bool bool, a NumPy scalar or array (or
a Tensor) keeps its dtype, and the elements of a list meet over bool < integer < float.
"""

import numpy as np
import pytest

import tinygrad_opt as tg

F32, F64, F16 = np.dtype("float32"), np.dtype("float64"), np.dtype("float16")
I64, I32, I16, B = np.dtype("int64"), np.dtype("int32"), np.dtype("int16"), np.dtype("bool")

CASES = [
    (3.0, F32), (3, I64), (True, B), ([1, 2.5], F32), ([True, 2], I64), ([True, 2.5], F32),
    ([[1, 2], [3, 4]], I64), ((1, 2), I64), ([], F32), ([[], []], F32),
    (np.float64(2.0), F64), (np.int32(2), I32),
    ([np.float64(1.0)], F64),            # NumPy scalars keep their dtype (was float32)
    ([np.float64(1.0), 2.0], F64),       # float64 meets the default float32: float64
    ([np.float32(1.0), 2.0], F32),       # NumPy: float64
    ([np.float16(1.0), 2], F16),         # an integer meets a float: the float's (NumPy: float64)
    ([np.float16(1.0), np.int16(2)], F16),  # NumPy: float32
    ([np.int32(1), 2], I64), ([np.uint8(3), np.int8(-1)], I16),
    ([np.array([1.0, 2.0]), np.array([3.0, 4.0])], F64),
    ([[np.float64(1.0), 2.0], [3.0, 4.0]], F64),  # found in a nested list too
]


@pytest.mark.parametrize("data, dtype", CASES, ids=[repr(c[0])[:30] for c in CASES])
def test_dtype_as_torch_tensor_infers_it(data, dtype):
    t = tg.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=dtype))


def test_tensors_in_a_list_keep_their_dtype():
    assert tg.tensor([tg.tensor(1.0), tg.tensor(2.0)]).dtype == F32
    assert tg.tensor([tg.tensor(1.0, dtype=tg.float64), 1.0]).dtype == F64


def test_the_default_float_follows_set_default_dtype():
    previous = tg.get_default_dtype()
    try:
        tg.set_default_dtype(tg.float64)
        assert tg.tensor([1.0, 2]).dtype == F64
        assert tg.tensor([np.float32(1.0), 2.0]).dtype == F64  # float32 meets float64
    finally:
        tg.set_default_dtype(previous)
    assert tg.tensor(1.0).dtype == F32


@pytest.mark.parametrize("data, error, words", [
    (None, RuntimeError, "could not infer the dtype of NoneType"),
    ([1, None], RuntimeError, "NoneType"),
    ("abc", TypeError, "invalid data type 'str'"),
    ([1, "a"], TypeError, "invalid data type 'str'"),
    (1 + 2j, TypeError, "complex"),
    (2 ** 63, RuntimeError, "does not fit in int64"),      # NumPy: uint64
    ([1, 2 ** 64], RuntimeError, "does not fit in int64"),  # NumPy: object
    ([[1, 2], [3]], ValueError, "one shape"),
    (object(), RuntimeError, "could not infer the dtype of object"),
])
def test_data_that_is_no_tensor_is_an_error_naming_it(data, error, words):
    with pytest.raises(error, match=words):
        tg.tensor(data)


def test_a_given_dtype_stores_the_values_in_it():
    assert tg.tensor(2 ** 63, dtype=np.uint64).numpy() == np.uint64(2 ** 63)
    assert tg.tensor([1, 2], dtype=tg.float64).dtype == F64
    assert tg.tensor([np.float64(0.1)], dtype=tg.float32).numpy()[0] == np.float32(0.1)
    with pytest.raises(RuntimeError, match="could not infer"):
        tg.tensor([1.0, None], dtype=tg.float32)  # (NumPy would store NaN)


@pytest.mark.parametrize("value, dtype", [
    (True, B), (2, I64), (2.5, F32), (np.int32(2), I64), (np.uint8(3), I64),
    (np.int64(7), I64), (np.bool_(True), B), (np.float64(1.5), F32)])
def test_full_reads_numpy_numbers_as_pytorch_reads_scalars(value, dtype):
    """torch.full takes a Scalar: its category decides (np.float64 gives the default float)."""
    t = tg.full((2,), value)
    assert t.dtype == dtype
    assert t.numpy().tolist() == [dtype.type(value)] * 2


def test_arange_of_numpy_integers_is_int64():
    for args in [(np.int64(5),), (np.int32(1), 5), (0, np.int64(6), np.int16(2))]:
        t = tg.arange(*args)
        assert t.dtype == I64
        np.testing.assert_array_equal(t.numpy(), np.arange(*[int(a) for a in args]))
    assert tg.arange(np.float64(2.0)).dtype == F32


def test_retain_grad_on_a_tensor_that_needs_no_grad_raises():
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        tg.tensor([1.0]).retain_grad()
    x = tg.tensor([1.0], requires_grad=True)
    x.retain_grad()  # a leaf: nothing to change, no error (as PyTorch)
    y = x * 2
    y.retain_grad()
    y.sum().backward()
    assert y.grad.numpy().tolist() == [1.0]
