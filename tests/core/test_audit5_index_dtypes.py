"""Audit of the index dtypes the indexing functions take, against PyTorch (2.8 and
later): gather, scatter (src, value and reduce forms), scatter_add and scatter_reduce
take a non-empty index of int32 or int64 only ("gather(): Expected dtype int32/int64 for
index"; an empty index may have any dtype), and index_select, index_add and
index_reduce take int32 or int64 only, empty or not ("index_select(): Expected dtype
int32 or int64 for index"). Before, every integer dtype (int8, int16, uint8) passed.
The two accepted dtypes give the same values as a NumPy reference; the package's own
callers (pooling with indices, max_unpool, the order statistics, ctc_loss, ...) keep
working. Every expected value is computed here in plain NumPy."""

import numpy as np
import pytest

import tinygrad_opt as tg
from test_audit4_indexing_methods import host, leaf, on  # (the same helpers)


REFUSED = [tg.int8, tg.int16, tg.uint8]      # integer dtypes PyTorch refuses as an index
ACCEPTED = [tg.int32, tg.int64]


def scatter_reference(base, dim, index, src, combine):
    """out = base with combine(out[place], src[position]) at each place index points to
    along dim, in row-major order of index (PyTorch's CPU order)."""
    out = base.copy()
    for position in np.ndindex(*index.shape):
        place = list(position)
        place[dim] = index[position]
        out[tuple(place)] = combine(out[tuple(place)], src[position])
    return out


# --- fixed: gather and the scatters refuse an index that is not int32 or int64 ---

def _scatter_family_calls(x, src):
    """name -> call(index) for gather and every scatter form, on a (3, 4) tensor."""
    return {
        "gather": lambda i: x.gather(1, i),
        "scatter": lambda i: x.scatter(1, i, src),
        "scatter (value)": lambda i: x.scatter(1, i, value=2.5),
        "scatter (reduce)": lambda i: x.scatter(1, i, src, reduce="add"),
        "scatter (value, reduce)": lambda i: x.scatter(1, i, 2.0, reduce="multiply"),
        "scatter_add": lambda i: x.scatter_add(1, i, src),
        "scatter_reduce": lambda i: x.scatter_reduce(1, i, src, "amax"),
        "scatter_ (in place)": lambda i: x.clone().scatter_(1, i, src),
        "scatter_add_ (in place)": lambda i: x.clone().scatter_add_(1, i, src),
        "scatter_reduce_ (in place)": lambda i: x.clone().scatter_reduce_(1, i, src, "sum"),
        "tg.gather": lambda i: tg.gather(x, 1, i),
        "tg.scatter_add": lambda i: tg.scatter_add(x, 1, i, src),
    }


@pytest.mark.parametrize("dtype", REFUSED)
def test_gather_and_scatters_refuse_a_narrow_integer_index_by_name(dtype, device, rng):
    x = on(device, rng.standard_normal((3, 4)))
    src = on(device, rng.standard_normal((3, 4)))
    index = on(device, [[0, 3], [1, 1], [2, 0]], dtype)
    for label, call in _scatter_family_calls(x, src).items():
        name = label.split()[0].removeprefix("tg.").rstrip("_")
        with pytest.raises(TypeError, match=f"{name}: index must be an int32 or int64 "
                                            f"tensor, got {dtype}"):
            call(index)


@pytest.mark.parametrize("dtype", REFUSED)
def test_gather_and_scatters_refuse_a_narrow_0d_index_among_vectors(dtype, device):
    # the 0-d / 1-D forms (run as 1-D tensors) check the dtype too
    x = on(device, [1.0, 2.0, 3.0])
    index = on(device, 2, dtype)
    calls = {"gather": lambda: x.gather(0, index),
             "scatter": lambda: x.scatter(0, index, on(device, 7.0)),
             "scatter_add": lambda: x.scatter_add(0, index, on(device, 7.0)),
             "scatter_reduce": lambda: x.scatter_reduce(0, index, on(device, 7.0), "prod")}
    for name, call in calls.items():
        with pytest.raises(TypeError, match=f"{name}: index must be an int32 or int64"):
            call()


@pytest.mark.parametrize("dtype", REFUSED + [tg.float32, tg.bool])
def test_gather_and_scatters_take_an_empty_index_of_any_dtype(dtype, device, rng):
    # PyTorch checks the dtype of a non-empty index only
    base = rng.standard_normal((3, 4))
    x = on(device, base)
    empty = on(device, np.zeros((0, 2)), dtype)
    assert x.gather(1, empty).shape == (0, 2)
    src = on(device, rng.standard_normal((3, 4)))
    for out in (x.scatter(1, empty, src), x.scatter(1, empty, value=1.0),
                x.scatter_add(1, empty, src), x.scatter_reduce(1, empty, src, "amin")):
        np.testing.assert_array_equal(host(out), base)


# --- fixed: index_select, index_add and index_reduce refuse all but int32 and int64 ---

@pytest.mark.parametrize("dtype", REFUSED)
@pytest.mark.parametrize("empty", [False, True])
def test_index_functions_refuse_a_narrow_integer_index_by_name(dtype, empty, device, rng):
    # unlike the scatters, PyTorch checks the dtype of an empty index too
    x = on(device, rng.standard_normal((3, 4)))
    positions = [] if empty else [2, 0]
    index = on(device, np.array(positions, dtype=np.int64), dtype)
    source = on(device, rng.standard_normal((3, len(positions))))
    calls = {"index_select": lambda: x.index_select(1, index),
             "index_add": lambda: x.index_add(1, index, source),
             "index_reduce": lambda: x.index_reduce(1, index, source, "mean"),
             "index_add_": lambda: x.clone().index_add_(1, index, source),
             "index_reduce_": lambda: x.clone().index_reduce_(1, index, source, "prod")}
    for label, call in calls.items():
        name = label.rstrip("_")
        with pytest.raises(TypeError, match=f"{name}: index must be an int32 or int64 "
                                            f"tensor, got {dtype}"):
            call()
    for call in (lambda: tg.index_select(x, 1, index),            # the functions as well
                 lambda: tg.index_add(x, 1, index, source)):
        with pytest.raises(TypeError, match="must be an int32 or int64 tensor"):
            call()


def test_index_functions_still_refuse_a_float_index_as_before(device):
    x = on(device, [[1.0, 2.0]])
    with pytest.raises(TypeError, match="index_select: index must be an integer tensor, "
                                        "got float64"):
        x.index_select(1, on(device, [0.0]))
    with pytest.raises(TypeError, match="gather: index must be an integer tensor"):
        x.gather(1, on(device, [[0.0]]))


# --- pins: int32 and int64 both work, with the same values and gradients ---

@pytest.mark.parametrize("dtype", ACCEPTED)
def test_gather_and_scatters_match_numpy_with_int32_and_int64(dtype, device, rng):
    base = rng.standard_normal((3, 4))
    src = rng.standard_normal((3, 4))
    index = np.array([[3, 0, 3], [1, 1, 2], [0, 2, 1]])
    x, s, i = on(device, base), on(device, src), on(device, index, dtype)
    np.testing.assert_array_equal(host(x.gather(1, i)), np.take_along_axis(base, index, 1))
    np.testing.assert_array_equal(host(x.scatter(1, i, s)), scatter_reference(
        base, 1, index, src, lambda old, new: new))
    np.testing.assert_array_equal(host(x.scatter(1, i, value=-2.0)), scatter_reference(
        base, 1, index, np.full(index.shape, -2.0), lambda old, new: new))
    np.testing.assert_allclose(host(x.scatter_add(1, i, s)), scatter_reference(
        base, 1, index, src, np.add), rtol=1e-12)
    np.testing.assert_allclose(host(x.scatter(1, i, s, reduce="multiply")),
                               scatter_reference(base, 1, index, src, np.multiply),
                               rtol=1e-12)
    np.testing.assert_array_equal(host(x.scatter_reduce(1, i, s, "amax")), scatter_reference(
        base, 1, index, src, max))
    # a 0-d index among 0-d / 1-D tensors
    vector = rng.standard_normal(4)
    assert host(on(device, vector).gather(0, on(device, 2, dtype))) == vector[2]


@pytest.mark.parametrize("dtype", ACCEPTED)
def test_index_functions_match_numpy_with_int32_and_int64(dtype, device, rng):
    base = rng.standard_normal((3, 4))
    positions = np.array([3, 0, 3])
    source = rng.standard_normal((3, 3))
    x, i, s = on(device, base), on(device, positions, dtype), on(device, source)
    np.testing.assert_array_equal(host(x.index_select(1, i)), base[:, positions])
    expected = base.copy()
    np.add.at(expected, (slice(None), positions), 0.5 * source)
    np.testing.assert_allclose(host(x.index_add(1, i, s, alpha=0.5)), expected, rtol=1e-12)
    expected = base.copy()
    expected[:, 3] = np.maximum(np.maximum(base[:, 3], source[:, 0]), source[:, 2])
    expected[:, 0] = np.maximum(base[:, 0], source[:, 1])
    np.testing.assert_array_equal(host(x.index_reduce(1, i, s, "amax")), expected)
    assert x.index_select(0, on(device, np.zeros(0, np.int64), dtype)).shape == (0, 4)


@pytest.mark.parametrize("dtype", ACCEPTED)
def test_gradients_with_int32_and_int64_indices(dtype, rng):
    index = tg.tensor(np.array([[2, 0, 2], [1, 1, 0]]), dtype=dtype)
    rows = tg.tensor(np.array([2, 0, 2]), dtype=dtype)
    x = leaf(rng.standard_normal((2, 3)))
    src = leaf(rng.standard_normal((2, 3)))
    source = leaf(rng.standard_normal((2, 3)))
    assert tg.gradcheck(lambda a: a.gather(1, index), [x])
    assert tg.gradcheck(lambda a, b: a.scatter_add(1, index, b), [x, src])
    assert tg.gradcheck(lambda a, b: a.scatter_reduce(1, index, b, "prod"), [x, src])
    assert tg.gradcheck(lambda a: a.index_select(1, rows), [x])
    assert tg.gradcheck(lambda a, b: a.index_add(1, rows, b), [x, source])
    # and the gradient of a gather is the scatter-add of dL/dy into the picks
    weights = rng.standard_normal((2, 3))
    (x.gather(1, index) * tg.tensor(weights)).sum().backward()
    expected = np.zeros((2, 3))
    np.add.at(expected, (np.arange(2)[:, None].repeat(3, 1), index.numpy()), weights)
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-12)


# --- the package's own callers still pass an index these functions take ---

def test_max_unpool_takes_its_indices_to_an_int64_scatter(device, rng):
    # max_unpool2d scatters with the indices it is given; pooled ones are int64
    base = rng.standard_normal((1, 2, 4, 4))
    x = on(device, base)
    pooled, indices = tg.nn.functional.max_pool2d(x, 2, return_indices=True)
    assert indices.dtype == tg.int64
    out = tg.nn.functional.max_unpool2d(pooled, indices, 2)
    expected = np.zeros((1, 2, 16))
    flat = host(indices).reshape(1, 2, -1)
    np.put_along_axis(expected, flat, host(pooled).reshape(1, 2, -1), 2)
    np.testing.assert_array_equal(host(out), expected.reshape(1, 2, 4, 4))


def test_order_statistics_gather_with_their_own_indices(device, rng):
    base = rng.standard_normal((3, 5))
    x = on(device, base)
    ordered = np.sort(base, axis=1)
    np.testing.assert_array_equal(host(x.median(1).values), ordered[:, 2])
    np.testing.assert_array_equal(host(x.kthvalue(2, 1).values), ordered[:, 1])
    np.testing.assert_array_equal(host(x.sort(1).values), ordered)
    np.testing.assert_array_equal(host(x.cummax(1).values), np.maximum.accumulate(base, 1))
    np.testing.assert_allclose(host(x.quantile(0.5, dim=1)), np.quantile(base, 0.5, axis=1),
                               rtol=1e-12)
