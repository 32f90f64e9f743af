"""Audit of tensor creation and conversion against PyTorch: ``Tensor.to``'s positional
``non_blocking``/``copy`` and ``memory_format=``, ``copy_``'s ``non_blocking``, and pins
for the ``new_*``/``*_like`` factories, ``full``/``arange``/``linspace``/``logspace``/``eye``
dtypes, index grids, ``from_numpy``/``numpy``/``detach`` memory sharing, ``copy_`` casts
and the promotion of mixed-dtype operators (every reference written in NumPy)."""

import itertools
import operator

import numpy as np
import pytest

import tinygrad_opt as tg


def on(device, data, dtype=None):
    return tg.tensor(data, dtype=dtype, device=device)


# --- Tensor.to and copy_: PyTorch's positional and keyword spellings ---

def test_to_takes_non_blocking_and_copy_positionally(device, rng):
    # PyTorch: to(dtype, non_blocking, copy), to(device, dtype, non_blocking, copy) and
    # to(other, non_blocking, copy); we refused a third positional argument ("got 3")
    # and read a bool after a tensor as a dtype ("not a dtype: True")
    values = rng.standard_normal(3).astype(np.float32)
    x = on(device, values)
    same = x.to(tg.float32, False, True)              # copy=True: a new tensor
    assert same is not x and same.dtype == tg.float32
    same[0] = 100.0
    assert x.numpy()[0] == values[0]                  # its own memory
    assert x.to(tg.float32, True) is x                # non_blocking only: x itself
    doubled = x.to(device, tg.float64, False, False)
    assert doubled.dtype == tg.float64 and doubled.device == device
    np.testing.assert_array_equal(doubled.numpy(), values.astype(np.float64))
    other = on(device, [1, 2])
    as_other = x.to(other, True, True)
    assert as_other.dtype == tg.int64
    np.testing.assert_array_equal(as_other.numpy(), values.astype(np.int64))
    assert x.to(on(device, [1.0]), False, True) is not x


def test_to_accepts_memory_format_and_refuses_a_stray_positional(device):
    # PyTorch: memory_format= is a keyword of every to() form; we raised on it
    x = on(device, [1.5, -2.5])
    moved = x.to(tg.float64, memory_format=None)
    assert moved.dtype == tg.float64 and moved.tolist() == [1.5, -2.5]
    assert x.to(device, memory_format=None) is x
    with pytest.raises(TypeError, match="to"):
        x.to(tg.float64, False, True, 7)              # nothing comes after copy


@pytest.mark.parametrize("method, dtype", [("float", "float32"), ("double", "float64"),
                                           ("half", "float16"), ("long", "int64"),
                                           ("int", "int32"), ("short", "int16"),
                                           ("char", "int8"), ("byte", "uint8"),
                                           ("bool", "bool")])
def test_conversions_accept_memory_format(method, dtype, device):
    # PyTorch: x.double(memory_format=torch.preserve_format) and so on; we refused it
    values = [2.75, 1.5, 0.0]                         # (exact in float16 too)
    expected = {"b": [True, True, False], "f": values}.get(np.dtype(dtype).kind, [2, 1, 0])
    converted = getattr(on(device, values, tg.float64), method)(memory_format=None)
    assert converted.dtype == np.dtype(dtype) and converted.tolist() == expected


def test_copy_accepts_non_blocking(device, rng):
    # PyTorch: Tensor.copy_(src, non_blocking=False); we refused the keyword
    values = rng.standard_normal((2, 3))
    x = tg.zeros(2, 3, device=device)
    assert x.copy_(on(device, values), non_blocking=True) is x
    np.testing.assert_array_equal(x.numpy(), values.astype(np.float32))
    x.copy_(on(device, values[0]), True)               # positionally as well, broadcast
    np.testing.assert_array_equal(x.numpy(), np.broadcast_to(values[0], (2, 3)).astype("f4"))


# --- pins: new_* and *_like take this tensor's dtype and device unless told ---

def test_new_factories_keep_dtype_and_device_unless_given(device):
    x = on(device, [1, 2], tg.int32)
    full = x.new_full((2, 2), 2.7)                     # the value truncated into int32
    assert full.dtype == tg.int32 and full.device == device and full.tolist() == [[2, 2]] * 2
    assert x.new_zeros(2, 3).dtype == tg.int32 and x.new_zeros((2, 3)).shape == (2, 3)
    ones = x.new_ones(2, dtype=tg.float64)
    assert ones.dtype == tg.float64 and ones.device == device and ones.tolist() == [1.0, 1.0]
    assert x.new_empty(0).shape == (0,) and x.new_zeros(()).shape == ()
    data = x.new_tensor(np.array([1.9, -1.9]))         # a copy in int32, truncated
    assert data.dtype == tg.int32 and data.tolist() == [1, -1]
    floats = on(device, [0.0], tg.float64)
    made = floats.new_tensor([1, 2], requires_grad=True)
    assert made.dtype == tg.float64 and made.requires_grad and made.is_leaf


def test_like_factories_dtype_and_device(device):
    x = on(device, [[1, 2, 3]], tg.int32)
    assert tg.zeros_like(x).dtype == tg.int32 and tg.zeros_like(x).device == device
    assert tg.ones_like(x, dtype=tg.float64).tolist() == [[1.0, 1.0, 1.0]]
    assert tg.full_like(x, 2.9).tolist() == [[2, 2, 2]]          # x's dtype: truncated
    assert tg.full_like(x, 2.5, dtype=tg.float32).tolist() == [[2.5, 2.5, 2.5]]
    assert tg.empty_like(x, dtype=tg.float16).dtype == tg.float16
    with pytest.raises(TypeError, match="rand"):                  # PyTorch: no int samples
        tg.rand_like(x)
    assert tg.randn_like(x, dtype=tg.float64).dtype == tg.float64
    drawn = tg.randint_like(x, 3, 5)
    assert drawn.dtype == tg.int32 and drawn.device == device
    assert set(drawn.numpy().ravel().tolist()) <= {3, 4}


# --- pins: factories' dtypes and values ---

def test_full_dtype_follows_the_fill_value(device):
    assert tg.full((2,), True, device=device).dtype == tg.bool_
    assert tg.full((2,), 3, device=device).dtype == tg.int64
    assert tg.full((2,), 3.5, device=device).dtype == tg.get_default_dtype()
    assert tg.full([2, 1], 3, dtype=tg.float64, device=device).tolist() == [[3.0], [3.0]]


@pytest.mark.parametrize("start, end, step", [(1, -1, -0.5), (0, 1, 0.1), (-3, 4, 2),
                                              (1, 2.0000001, 0.5)])
def test_arange_counts_and_values_as_pytorch(start, end, step, device):
    # PyTorch: ceil((end − start) / step) values start + i·step, computed in double
    count = int(np.ceil((end - start) / step))
    reference = start + np.arange(count) * float(step)
    x = tg.arange(start, end, step, device=device)
    integral = all(isinstance(v, int) for v in (start, end, step))
    assert x.dtype == (tg.int64 if integral else tg.float32)
    np.testing.assert_array_equal(x.numpy(), reference.astype(x.dtype))


def test_linspace_logspace_and_eye_edges(device):
    assert tg.linspace(0, 1, 0, device=device).shape == (0,)
    assert tg.linspace(2, 5, 1, device=device).tolist() == [2.0]
    assert tg.logspace(0, 3, 4, base=2, dtype=tg.float64, device=device).tolist() == [
        1.0, 2.0, 4.0, 8.0]
    assert tg.logspace(2, 3, 1, device=device).tolist() == [100.0]
    eye = tg.eye(2, 3, dtype=tg.int64, device=device)
    np.testing.assert_array_equal(eye.numpy(), np.eye(2, 3, dtype=np.int64))


def test_meshgrid_cartesian_prod_and_combinations(device):
    a, b, c = on(device, [1, 2, 3]), on(device, [4, 5]), on(device, [6, 7, 8, 9])
    for indexing in ("ij", "xy"):
        grids = tg.meshgrid(a, b, c, indexing=indexing)
        reference = np.meshgrid([1, 2, 3], [4, 5], [6, 7, 8, 9], indexing=indexing)
        for grid, expected in zip(grids, reference):
            np.testing.assert_array_equal(grid.numpy(), expected)
    product = tg.cartesian_prod(a, b)
    assert product.tolist() == [list(p) for p in itertools.product([1, 2, 3], [4, 5])]
    for r, replace in [(1, False), (2, True), (3, False), (5, False)]:
        choose = itertools.combinations_with_replacement if replace else itertools.combinations
        rows = [list(p) for p in choose([6, 7, 8, 9], r)]
        got = tg.combinations(c, r, with_replacement=replace)
        assert got.shape == (len(rows), r) and got.tolist() == rows


# --- pins: memory sharing and conversions ---

def test_from_numpy_numpy_and_detach_share_memory():
    array = np.zeros(3)
    x = tg.from_numpy(array)
    x.numpy()[0] = 1.0
    detached = x.detach()
    detached[1] = 2.0
    assert array.tolist() == [1.0, 2.0, 0.0]
    assert detached._version == x._version == 1       # one counter for one memory
    y = tg.tensor([1.0, 2.0], requires_grad=True) * 2
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


@pytest.mark.parametrize("dtype, kind", [(tg.float16, float), (tg.int32, int),
                                         (tg.uint8, int), (tg.bool_, bool)])
def test_item_and_tolist_give_python_numbers(dtype, kind, device):
    x = on(device, [1, 0], dtype)
    assert type(x[0].item()) is kind and all(type(v) is kind for v in x.tolist())


def test_copy_casts_and_broadcasts(device):
    x = tg.zeros(2, 2, dtype=tg.int64, device=device)
    x.copy_(on(device, [1.7, -2.7]))                   # float into int64: toward zero
    assert x.tolist() == [[1, -2], [1, -2]]
    flags = tg.zeros(2, dtype=tg.bool_, device=device).copy_(on(device, [0.5, 0.0]))
    assert flags.tolist() == [True, False]
    with pytest.raises(ValueError, match="copy_"):
        tg.zeros(2, device=device).copy_(on(device, [1.0, 2.0, 3.0]))


# --- pins: promotion of mixed-dtype operators (torch.result_type's rules) ---

_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _category(dtype):
    return {"b": 0, "u": 1, "i": 1, "f": 2}[np.dtype(dtype).kind]


def _promote_types(a, b):
    """torch.promote_types: the higher category wins; within one the wider, and uint8
    meeting int8 is int16."""
    a, b = np.dtype(a), np.dtype(b)
    if _category(a) != _category(b):
        return a if _category(a) > _category(b) else b
    if a.kind != b.kind and _category(a) == 1:
        signed = a if a.kind == "i" else b
        return signed if signed.itemsize > 1 else np.dtype("int16")
    return a if a.itemsize >= b.itemsize else b


def _reference(a, a_dims, b, b_dims):
    """torch.result_type of a tensor with dims and a 0-d one: the 0-d one only counts
    from a higher category."""
    if a_dims == b_dims:
        return _promote_types(a, b)
    dims, zero = (a, b) if a_dims else (b, a)
    return np.dtype(zero) if _category(zero) > _category(dims) else np.dtype(dims)


@pytest.mark.parametrize("first", _DTYPES)
def test_mixed_dtype_operators_follow_result_type(first, device):
    for second, (first_dims, second_dims) in itertools.product(
            _DTYPES, [(True, True), (True, False), (False, True)]):
        a = on(device, np.ones((2,) if first_dims else (), dtype=first))
        b = on(device, np.ones((2,) if second_dims else (), dtype=second))
        expected = _reference(first, first_dims, second, second_dims)
        assert (a + b).dtype == expected, (first, second, first_dims, second_dims)
        assert (b * a).dtype == expected
        floats = expected if expected.kind == "f" else tg.get_default_dtype()
        assert (a / b).dtype == floats                # true division: a float


@pytest.mark.parametrize("dtype", _DTYPES)
def test_python_numbers_only_promote_from_a_higher_category(dtype, device):
    x = on(device, np.ones(2, dtype=dtype))
    for number, category in [(True, 0), (2, 1), (2.5, 2)]:
        if category > _category(dtype):
            expected = tg.int64 if category == 1 else tg.get_default_dtype()
        else:
            expected = np.dtype(dtype)
        assert (x + number).dtype == expected and (number * x).dtype == expected
    if _category(dtype) < 2:                          # PyTorch: a float can't go in
        with pytest.raises(RuntimeError, match="can't be cast"):
            x += 1.5
