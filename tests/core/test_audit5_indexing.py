"""Audit of the indexing methods outside the reading path (gather, the scatters, unique,
index_put_ / put_, index_fill / index_copy / take / take_along_dim) against PyTorch:
an empty index of any rank for gather and the scatters, a 0-d tensor taken as a 1-D one
there, the dtype of index_put_'s and put_'s values, the int64 index that index_fill,
index_copy, take, put_ and take_along_dim require (index_select and index_add also take
int32), and NaNs in unique, each one distinct as in PyTorch's CPU kernel (equal_nan
off). Every expected value is computed here in plain NumPy."""

import numpy as np
import pytest

import tinygrad_opt as tg
from test_audit4_indexing_methods import host, leaf, on  # (the same helpers)


def empty_index(shape, device, dtype=np.int64):
    return on(device, np.zeros(shape, dtype=dtype))


# --- gather and the scatters: an empty index of any rank, a 0-d tensor as 1-D ---

@pytest.mark.parametrize("shape", [(0,), (0, 2, 2), (3, 0, 1, 1)])
def test_gather_takes_an_empty_index_of_any_rank(shape, device, rng):
    # PyTorch's gather returns an empty tensor of the index's shape before any check of
    # its rank (before: "gather: index has 1 dims, the tensor 2")
    base = rng.standard_normal((2, 3))
    x = leaf(base, device)
    out = x.gather(1, empty_index(shape, device))
    assert out.shape == shape and out.dtype == tg.float64
    (out.sum() + (x * 1.0).sum()).backward()
    np.testing.assert_array_equal(host(x.grad), np.ones_like(base))
    with pytest.raises(IndexError, match="gather: dim 2"):
        x.gather(2, empty_index(shape, device))


def test_scatters_take_an_empty_index_of_any_rank(device, rng):
    base = rng.standard_normal((2, 3))
    x = on(device, base)
    src = on(device, rng.standard_normal((4, 5, 6)))
    index = empty_index((0, 5, 6), device)
    for out in (tg.scatter(x, 1, index, src), tg.scatter(x, 0, index, value=2.5),
                tg.scatter(x, 1, empty_index((0,), device), src, reduce="add"),
                tg.scatter_add(x, -1, index, src),
                tg.scatter_reduce(x, 0, index, src, "amax", include_self=False)):
        assert out.shape == (2, 3)
        np.testing.assert_array_equal(host(out), base)
    with pytest.raises(TypeError, match="scatter: src has dtype float32"):
        tg.scatter(x, 1, index, src.float())


def test_gather_takes_a_0d_tensor_as_a_1d_one(device):
    # PyTorch counts a 0-d tensor as one of 1 dim in gather (ensure_nonempty_dim)
    x = leaf(2.5, device)
    out = x.gather(0, on(device, [0, 0, 0]))
    np.testing.assert_array_equal(host(out), np.full(3, 2.5))
    out.sum().backward()
    assert host(x.grad).tolist() == 3.0
    assert x.gather(-1, empty_index((0,), device)).shape == (0,)
    v = np.array([4.0, -1.0, 7.0])
    picked = on(device, v).gather(0, on(device, 2))
    assert picked.shape == () and host(picked).tolist() == v[2]
    with pytest.raises(IndexError, match="gather: index out of range: index 1"):
        x.gather(0, on(device, [0, 1]))
    with pytest.raises(ValueError, match="gather: index has 2 dims"):
        x.gather(0, on(device, [[0]]))


def test_scatters_take_a_0d_tensor_as_a_1d_one(device):
    x = on(device, 2.5)
    out = tg.scatter(x, 0, on(device, [0]), on(device, [7.0, 8.0]))
    assert out.shape == () and host(out).tolist() == 7.0
    assert host(tg.scatter(x, 0, on(device, [0]), value=-1.5)).tolist() == -1.5
    added = tg.scatter_add(x, 0, on(device, [0, 0]), on(device, [1.0, 2.0]))
    assert added.shape == () and host(added).tolist() == 2.5 + 3.0
    v = np.array([4.0, -1.0, 7.0])
    written = tg.scatter(on(device, v), 0, on(device, 1), on(device, 9.0))
    np.testing.assert_array_equal(host(written), [4.0, 9.0, 7.0])
    expected = v.copy()
    expected[2] *= 3.0
    product = tg.scatter_reduce(on(device, v), 0, on(device, 2), on(device, 3.0), "prod")
    np.testing.assert_array_equal(host(product), expected)
    with pytest.raises(ValueError, match="scatter: index has 2 dims"):
        tg.scatter(x, 0, on(device, [[0]]), on(device, [[1.0]]))
    with pytest.raises(ValueError, match="scatter_reduce: index has 2 dims"):
        tg.scatter_reduce(x, 0, on(device, [[0]]), on(device, [[1.0]]), "sum")


def test_gather_and_scatter_of_a_0d_tensor_gradcheck():
    x, s = leaf(1.5), leaf([0.5, -2.0])
    index = tg.tensor([0, 0])
    assert tg.gradcheck(lambda a: a.gather(0, index) * tg.tensor([2.0, 3.0], dtype=tg.float64),
                        (x,))
    assert tg.gradcheck(lambda a, b: tg.scatter_add(a, 0, index, b) * 1.5, (x, s))


# --- index_put_ and put_: values in the tensor's dtype ---

def test_index_put_and_put_refuse_values_of_another_dtype(device):
    # PyTorch: "Index put requires the source and destination dtypes match" and
    # "put_(): self and source expected to have the same dtype" (before: cast silently)
    x = tg.zeros(2, 3, device=device)                                 # float32
    rows = on(device, [1, 0])
    with pytest.raises(TypeError, match="index_put_: values have dtype float64 but the "
                                        "tensor has float32"):
        x.index_put_((rows,), on(device, [1.0, 2.0, 3.0], tg.float64))
    with pytest.raises(TypeError, match="index_put_: values have dtype int64"):
        tg.index_put(x, (rows, rows), on(device, [1, 2]), accumulate=True)
    with pytest.raises(TypeError, match="put_: source has dtype float64 but the tensor has "
                                        "float32"):
        x.put_(on(device, [0, 5]), on(device, [1.0, 2.0], tg.float64))
    with pytest.raises(TypeError, match="put_: source has dtype float64"):
        tg.put(x, on(device, [0]), on(device, [1.0], tg.float64), accumulate=True)
    assert not host(x).any()
    # Python numbers still take the tensor's dtype
    expected = np.zeros((2, 3), np.float32)
    expected[[1, 0]] = 4.0
    x.index_put_((rows,), 4.0)
    np.testing.assert_array_equal(host(x), expected)
    expected.ravel()[5] = 2.0
    x.put_(on(device, [5]), 2)
    assert x.dtype == tg.float32
    np.testing.assert_array_equal(host(x), expected)


def test_index_put_casts_one_value_under_a_mask_as_pytorchs_masked_fill(device):
    # PyTorch runs index_put_ with one bool mask, one value on the CPU and no accumulate
    # as masked_fill_(mask, value.item()), which casts; elsewhere the dtypes must match
    base = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    mask = np.array([True, False])
    value = tg.tensor(-2.0, dtype=tg.float64)                 # on the CPU
    expected = base.copy()
    expected[mask] = -2.0
    out = tg.index_put(tg.tensor(base), (tg.tensor(mask),), value)
    assert out.dtype == tg.float32
    np.testing.assert_array_equal(host(out), expected)
    x = on(device, base)
    with pytest.raises(TypeError, match="index_put_: values have dtype float64"):
        x.index_put_((on(device, mask),), value.to(device), accumulate=True)
    with pytest.raises(TypeError, match="index_put_: values have dtype float64"):
        x.index_put_((on(device, mask), on(device, [0])), value.to(device))
    if device != "cpu":  # a value on the tensor's device, not the CPU: no masked_fill_
        with pytest.raises(TypeError, match="index_put_: values have dtype float64"):
            x.index_put_((on(device, mask),), value.to(device))


# --- the index dtype: int64 only for index_fill, index_copy, take, put_, take_along_dim ---

def test_long_only_index_functions_refuse_int32(device, rng):
    # PyTorch: "index_fill_(): Expected dtype int64 for index.", "index_copy_(): Expected a
    # long tensor for index", "take(): Expected a long tensor for index", "put_(): ...",
    # "torch.take_along_dim(): dtype of indices should be Long" (before: all accepted)
    base = rng.standard_normal((3, 4))
    x = on(device, base)
    int32 = [1, 0]
    calls = {
        "index_fill": lambda i: x.index_fill(0, i, -1.0),
        "index_copy": lambda i: x.index_copy(0, i, x[:2]),
        "take": lambda i: x.take(i),
        "put_": lambda i: x.clone().put_(i, x[0, :2]),
        "take_along_dim": lambda i: x.take_along_dim(i),
    }
    for name, call in calls.items():
        what = "indices" if name == "take_along_dim" else "index"
        with pytest.raises(TypeError, match=f"{name}: {what} must be an int64 tensor, got "
                                            "int32"):
            call(on(device, int32, tg.int32))
    with pytest.raises(TypeError, match="take_along_dim: indices must be an int64 tensor"):
        x.take_along_dim(on(device, [[1], [0], [2]], tg.int32), dim=1)
    with pytest.raises(TypeError, match="take: index must be an int64 tensor, got uint8"):
        x.take(on(device, [1], tg.uint8))
    assert not host(x.take(empty_index((0,), device))).size
    # int64 works, and index_select / index_add take int32 as PyTorch does
    long = on(device, int32)
    filled, copied = base.copy(), base.copy()
    filled[int32] = -1.0
    copied[int32] = base[:2]
    np.testing.assert_array_equal(host(calls["index_fill"](long)), filled)
    np.testing.assert_array_equal(host(calls["index_copy"](long)), copied)
    np.testing.assert_array_equal(host(calls["take"](long)), base.ravel()[int32])
    np.testing.assert_array_equal(host(calls["take_along_dim"](long)), base.ravel()[int32])
    np.testing.assert_array_equal(host(x.index_select(1, on(device, int32, tg.int32))),
                                  base[:, int32])
    added = base.copy()
    np.add.at(added, [1, 0], base[:2])
    np.testing.assert_allclose(host(x.index_add(0, on(device, int32, tg.int32), x[:2])),
                               added, rtol=1e-12)


# --- unique: each NaN is its own value, in both paths ---

def test_unique_keeps_each_nan_apart_in_both_paths(device):
    # PyTorch's CPU unique sorts and compares neighbours with != (equal_nan is off), so
    # every NaN is a value of its own, last; the dim path compares slices the same way
    # (before: the flat path merged the NaNs, as NumPy's default equal_nan=True)
    data = np.array([2.0, np.nan, 1.0, 2.0, np.nan, -0.5], dtype=np.float32)
    values, inverse, counts = np.unique(data, return_inverse=True, return_counts=True,
                                        equal_nan=False)
    assert np.isnan(values).sum() == 2
    x = on(device, data)
    for got in (tg.unique(x, return_inverse=True, return_counts=True),
                tg.unique(x, return_inverse=True, return_counts=True, dim=0)):
        np.testing.assert_array_equal(host(got[0]), values)
        np.testing.assert_array_equal(host(got[1]), inverse)
        np.testing.assert_array_equal(host(got[2]), counts)
        assert got[0].dtype == tg.float32 and got[1].dtype == tg.int64
    grid = data.reshape(2, 3)
    flat = tg.unique(on(device, grid), return_inverse=True)
    np.testing.assert_array_equal(host(flat[0]), values)
    np.testing.assert_array_equal(host(flat[1]), inverse.reshape(2, 3))
    rows = np.array([[np.nan, 1.0], [np.nan, 1.0], [0.0, 2.0]])
    got = tg.unique(on(device, rows), dim=0, return_counts=True)
    np.testing.assert_array_equal(host(got[0]), rows[[2, 0, 1]])
    np.testing.assert_array_equal(host(got[1]), [1, 1, 1])
    assert host(tg.unique(on(device, np.float64("nan")))).shape == (1,)


@pytest.mark.parametrize("scatter", [lambda x, i, s: tg.scatter(x, 0, i, s),
                                     lambda x, i, s: tg.scatter_add(x, 0, i, s),
                                     lambda x, i, s: tg.scatter_reduce(x, 0, i, s, "amax")])
def test_an_empty_index_gives_src_a_gradient_of_zeros(scatter, device):
    """PyTorch keeps src in the graph of a scatter that writes nothing: its gradient is 0
    (and a max_unpool of an empty batch can be differentiated)."""
    x = tg.zeros(3, dtype=tg.float64, device=device)
    src = tg.tensor([np.nan, 2.0], dtype=tg.float64, requires_grad=True, device=device)
    out = scatter(x, tg.zeros(0, dtype=tg.int64, device=device), src)
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, 0.0])  # (src's NaN not read)
    out.sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [0.0, 0.0])
