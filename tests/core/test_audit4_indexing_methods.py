"""Audit of the indexing-like Tensor methods outside ops/indexing.py against PyTorch's
documented semantics: index_fill's negative indices, scatter's ``reduce='add'`` and
``'multiply'`` (src and value forms), index_put_'s error for values that do not broadcast,
and pins of what was verified right (scatter_reduce / index_reduce values and tie
gradients, gather / index_select with int32 (take / put int64 only, as PyTorch),
negative and repeated indices, nonzero / argwhere, the splits, flip / roll / rot90, and the errors PyTorch
raises). Every expected value is computed here in plain NumPy."""

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg


def host(t):
    return tg.backend.to_host(t.data)


def on(device, values, dtype=None):
    return tg.tensor(np.asarray(values), dtype=dtype, device=device)


def leaf(values, device="cpu"):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=tg.float64,
                     requires_grad=True, device=device)


def reduce_reference(x, dim, index, src, reduce, include_self):
    """PyTorch's scatter_reduce in NumPy loops: src[i][j] joins the group of
    out[index[i][j]][j] (dim 0); a place with a group is reduced over it (and over its
    own value with include_self); other places keep x."""
    out, groups = x.copy(), {}
    for position in np.ndindex(*index.shape):
        place = list(position)
        place[dim] = index[position]
        groups.setdefault(tuple(place), []).append(src[position])
    for place, members in groups.items():
        members = ([x[place]] if include_self else []) + members
        if reduce == "sum":
            out[place] = np.sum(members)
        elif reduce == "prod":
            out[place] = np.prod(members)
        elif reduce == "mean":
            out[place] = np.sum(members) / len(members)
        elif reduce == "amax":
            out[place] = np.max(members)
        else:
            out[place] = np.min(members)
    return out


# --- fixed: index_fill takes negative indices, as PyTorch's kernel (−size <= i < size) ---

def test_index_fill_takes_negative_indices_and_counts_a_slice_once(device):
    base = np.arange(12.0).reshape(3, 4)
    x = leaf(base, device)
    value = tg.tensor(2.5, dtype=tg.float64, requires_grad=True, device=device)
    out = x.index_fill(1, on(device, [-1, 3, 0, -4]), value)   # -1 is 3, -4 is 0
    expected = base.copy()
    expected[:, [3, 0]] = 2.5
    np.testing.assert_array_equal(host(out), expected)
    weights = np.arange(1.0, 13.0).reshape(3, 4)
    (out * on(device, weights)).sum().backward()
    filled = np.zeros((3, 4), dtype=bool)
    filled[:, [0, 3]] = True
    np.testing.assert_array_equal(host(x.grad), np.where(filled, 0.0, weights))
    assert value.grad.item() == weights[filled].sum()        # each slice once
    y = tg.tensor(base, device=device)
    y.index_fill_(-2, on(device, [-3]), -1.0)   # (int64: PyTorch refuses int32 here)
    np.testing.assert_array_equal(host(y), np.vstack([[-1.0] * 4, base[1:]]))
    with pytest.raises(IndexError, match=r"index_fill: index -5 is out of range for dim 1"):
        x.index_fill(1, on(device, [-5]), 0.0)
    with pytest.raises(IndexError, match="index_fill: index 4 is out of range"):
        x.index_fill(1, on(device, [4]), 0.0)


# --- fixed: scatter's reduce='add' / 'multiply' (PyTorch accepts both forms) ---

@pytest.mark.parametrize("reduce, numpy_at", [("add", np.add.at), ("multiply", np.multiply.at)])
def test_scatter_reduce_argument_adds_or_multiplies_every_repeat(reduce, numpy_at, device,
                                                                  rng):
    base = rng.standard_normal((3, 4))
    index = np.array([[0, 0, 3], [2, 2, 2]])                  # repeats along dim 1
    src = rng.standard_normal((2, 5))                        # larger than index: a part
    expected = base.copy()
    rows = np.broadcast_to(np.arange(2)[:, None], index.shape)
    numpy_at(expected, (rows, index), src[:, :3])
    out = tg.tensor(base, device=device).scatter(1, on(device, index),
                                                  on(device, src), reduce=reduce)
    np.testing.assert_allclose(host(out), expected, rtol=1e-12)
    # the value form: the number at every place index points to, in the tensor's dtype
    expected = base.copy()
    numpy_at(expected, (rows, index), np.full(index.shape, -1.5))
    out = tg.tensor(base, device=device).scatter(-1, on(device, index, tg.int32),
                                                  value=-1.5, reduce=reduce)
    np.testing.assert_allclose(host(out), expected, rtol=1e-12)
    integers = on(device, [1, 2, 3])
    integers.scatter_(0, on(device, [0, 0, 2]), 2.7, reduce=reduce)   # 2.7 → int64 2
    wanted = np.array([1, 2, 3])
    numpy_at(wanted, [0, 0, 2], 2)
    assert integers.dtype == tg.int64 and host(integers).tolist() == wanted.tolist()


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_reduce_argument_gradcheck_with_repeats(reduce, rng):
    index = tg.tensor([[0, 0, 3], [1, 2, 1]])
    x = leaf(rng.standard_normal((2, 4)))
    src = leaf(rng.standard_normal((2, 3)))
    assert tg.gradcheck(lambda a, b: a.scatter(1, index, b, reduce=reduce), [x, src])
    assert tg.gradcheck(lambda a: a.scatter(1, index, 1.5, reduce=reduce), [x])


def test_scatter_refuses_another_reduce_by_name(device):
    x = on(device, [[1.0, 2.0]])
    with pytest.raises(ValueError, match="scatter: reduce must be 'add' or 'multiply', "
                                         "got 'sum'"):
        x.scatter(1, on(device, [[0]]), 1.0, reduce="sum")


# --- fixed: index_put_ names itself when values do not broadcast to the places ---

@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_refuses_values_that_do_not_broadcast_by_name(accumulate, device):
    x = tg.zeros(3, 4, dtype=tg.float64, device=device)
    rows = on(device, [0, 2])
    with pytest.raises(ValueError, match=r"index_put_: values of shape \(3,\) cannot be "
                                         r"broadcast to the indexed places of shape \(2, 4\)"):
        tg.index_put(x, (rows,), on(device, [1.0, 2.0, 3.0], tg.float64),
                     accumulate=accumulate)
    with pytest.raises(ValueError, match=r"values of shape \(2, 1, 4\) cannot be broadcast"):
        x.index_put_((rows,), tg.ones(2, 1, 4, dtype=tg.float64, device=device),
                     accumulate=accumulate)
    # (4,) and (2, 1) broadcast to the (2, 4) places, as in PyTorch
    row = np.arange(1.0, 5.0)
    out = tg.index_put(x, (rows,), on(device, row, tg.float64), accumulate=accumulate)
    np.testing.assert_array_equal(host(out), [row, np.zeros(4), row])
    column = np.array([[5.0], [7.0]])
    out = tg.index_put(x, (rows,), on(device, column, tg.float64), accumulate=accumulate)
    np.testing.assert_array_equal(host(out), [[5.0] * 4, [0.0] * 4, [7.0] * 4])


# --- pins: scatter_reduce / index_reduce values and gradients ---

@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_values_match_a_numpy_loop(reduce, device, rng):
    base = rng.integers(-3, 4, (3, 4)).astype(np.float64)
    src = rng.integers(-3, 4, (4, 4)).astype(np.float64)
    index = np.array([[0, 0, 2, 1], [0, 2, 2, 1], [0, 0, 0, 1]])
    for include_self in (True, False):
        out = tg.tensor(base, device=device).scatter_reduce(
            -2, on(device, index, tg.int32), on(device, src), reduce, include_self=include_self)
        np.testing.assert_allclose(host(out), reduce_reference(
            base, 0, index, src, reduce, include_self), rtol=1e-12)


def test_scatter_reduce_amax_shares_the_gradient_among_ties(device):
    # PyTorch: grad / N to every member equal to the result (N counts the ties)
    x = leaf([3.0, 1.0, 2.0], device)
    src = leaf([3.0, 0.0, 3.0, 1.0], device)
    out = x.scatter_reduce(0, on(device, [0, 0, 0, 1]), src, "amax")
    assert host(out).tolist() == [3.0, 1.0, 2.0]
    (out * on(device, [6.0, 10.0, 100.0], tg.float64)).sum().backward()
    assert host(x.grad).tolist() == [2.0, 5.0, 100.0]
    assert host(src.grad).tolist() == [2.0, 0.0, 2.0, 5.0]
    # without self, a unique maximum gets all of it (x takes no part where written)
    x, src = leaf([3.0, 5.0], device), leaf([3.0, 1.0], device)
    x.scatter_reduce(0, on(device, [0, 0]), src, "amax", include_self=False).sum().backward()
    assert host(src.grad).tolist() == [1.0, 0.0] and host(x.grad).tolist() == [0.0, 1.0]


def test_index_reduce_matches_a_numpy_loop(device, rng):
    base = rng.standard_normal((3, 4))
    source = rng.standard_normal((3, 3))
    index = np.array([2, 0, 2])
    for reduce, include_self in itertools.product(("prod", "mean", "amax", "amin"),
                                                  (True, False)):
        out = tg.tensor(base, device=device).index_reduce(
            1, on(device, index, tg.int32), on(device, source), reduce,
            include_self=include_self)
        full = np.broadcast_to(index, source.shape)
        np.testing.assert_allclose(host(out), reduce_reference(
            base, 1, full, source, reduce, include_self), rtol=1e-12)


# --- pins: gathering with int32, repeated and negative indices ---

def test_gather_and_take_along_dim_with_int32_and_repeats(device, rng):
    base = rng.standard_normal((3, 4))
    index = np.array([[3, 3, 0], [1, 1, 1], [0, 2, 3]])
    x = leaf(base, device)
    out = x.gather(1, on(device, index, tg.int32))
    np.testing.assert_array_equal(host(out), np.take_along_axis(base, index, 1))
    weights = rng.standard_normal(index.shape)
    (out * on(device, weights)).sum().backward()
    expected = np.zeros_like(base)
    np.add.at(expected, (np.arange(3)[:, None].repeat(3, 1), index), weights)
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-12)
    # take_along_dim broadcasts outside dim, as np.take_along_axis after broadcast_to
    picks = np.array([[2, 0]])
    out = x.take_along_dim(on(device, picks), dim=-1)
    np.testing.assert_array_equal(host(out), np.take_along_axis(
        base, np.broadcast_to(picks, (3, 2)), 1))
    np.testing.assert_array_equal(host(x.take_along_dim(on(device, [5, 5, 0]))),
                                  base.ravel()[[5, 5, 0]])


def test_take_put_and_index_select_follow_pytorchs_index_rules(device, rng):
    base = rng.standard_normal((3, 4))
    x = tg.tensor(base, device=device)
    flat = [[0, -1], [11, -12]]
    # take and put take int64 indices only (PyTorch), index_select int32 too
    np.testing.assert_array_equal(host(x.take(on(device, flat, tg.int64))),
                                  base.ravel()[np.array(flat)])
    source = np.array([1.0, 2.0, 4.0])
    expected = base.ravel().copy()
    np.add.at(expected, [0, -1, 0], source)
    out = x.put(on(device, [0, -1, 0], tg.int64), on(device, source), accumulate=True)
    np.testing.assert_allclose(host(out), expected.reshape(3, 4), rtol=1e-12)
    np.testing.assert_array_equal(host(x.index_select(1, on(device, [3, 3, 0], tg.int32))),
                                  base[:, [3, 3, 0]])
    assert x.index_select(0, on(device, np.zeros(0, np.int64))).shape == (0, 4)
    # PyTorch refuses negative indices here (gather, index_select, index_add, index_copy)
    for call, name in [(lambda: x.gather(1, on(device, [[-1]] * 3)), "gather"),
                       (lambda: x.index_select(1, on(device, [-1])), "index_select"),
                       (lambda: x.index_add(0, on(device, [-1]), x[:1]), "index_add"),
                       (lambda: x.index_copy(0, on(device, [-1]), x[:1]), "index_copy")]:
        with pytest.raises(IndexError, match=f"{name}: index .*-1"):
            call()
    # and float indices everywhere
    for call, name in [(lambda: x.gather(1, on(device, [[0.0]] * 3)), "gather"),
                       (lambda: x.take(on(device, [0.0])), "take"),
                       (lambda: x.index_fill(0, on(device, [0.0]), 1.0), "index_fill"),
                       (lambda: x.scatter(0, on(device, [[0.0]]), 1.0), "scatter")]:
        with pytest.raises(TypeError, match=f"{name}: index must be an integer tensor"):
            call()


# --- pins: positions, splits, flips ---

def test_nonzero_argwhere_match_numpy(device):
    data = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    x = tg.tensor(data, device=device)
    found = x.nonzero()
    assert found.dtype == tg.int64
    np.testing.assert_array_equal(host(found), np.argwhere(data))
    np.testing.assert_array_equal(host(tg.argwhere(x)), np.argwhere(data))
    for ours, theirs in zip(x.nonzero(as_tuple=True), np.nonzero(data)):
        np.testing.assert_array_equal(host(ours), theirs)
    assert x[x.nonzero(as_tuple=True)].tolist() == data[np.nonzero(data)].tolist()
    # a 0-d tensor is one element at position 0 (PyTorch's special case)
    assert tg.tensor(3.0, device=device).nonzero().shape == (1, 0)
    assert [host(t).tolist() for t in tg.tensor(0.0, device=device).nonzero(as_tuple=True)] \
        == [[]]


def test_splits_match_numpy(device):
    data = np.arange(21.0).reshape(3, 7)
    x = tg.tensor(data, device=device)
    for spec in (3, 7, 8, [2, 5], [-2], [5, 1], (0, 9)):
        ours = x.tensor_split(spec, dim=-1)
        theirs = np.array_split(data, spec, axis=1) if isinstance(spec, int) else \
            [data[:, start:stop] for start, stop in zip([0, *spec], [*spec, None])]
        assert [host(piece).tolist() for piece in ours] == [p.tolist() for p in theirs]
    sizes = [host(piece).shape[1] for piece in x.chunk(4, 1)]        # ceil(7 / 4) = 2
    assert sizes == [2, 2, 2, 1]
    assert [host(piece).shape[1] for piece in x.split(3, -1)] == [3, 3, 1]
    assert [host(piece).shape[1] for piece in x.split([0, 7], 1)] == [0, 7]
    assert [host(t).tolist() for t in x.unbind(-1)] == data.T.tolist()
    np.testing.assert_array_equal(host(x.narrow(1, -3, 2)), data[:, 4:6])
    np.testing.assert_array_equal(host(tg.narrow_copy(x, 0, 1, 2)), data[1:3])
    np.testing.assert_array_equal(host(x.select(-1, -1)), data[:, -1])


def test_flip_roll_rot90_match_numpy_with_gradients(device, rng):
    data = rng.standard_normal((3, 4, 2))
    x = leaf(data, device)
    cases = [(lambda t: t.flip(0, -1), lambda a: np.flip(a, (0, 2))),
             (lambda t: t.roll((1, -5), (0, 1)), lambda a: np.roll(a, (1, -5), (0, 1))),
             (lambda t: t.roll(7), lambda a: np.roll(a, 7)),
             (lambda t: t.rot90(1, (0, 1)), lambda a: np.rot90(a, 1, (0, 1))),
             (lambda t: t.rot90(-5, (2, 0)), lambda a: np.rot90(a, -5, (2, 0))),
             (lambda t: t.rot90(2, (-1, 1)), lambda a: np.rot90(a, 2, (2, 1)))]
    for ours, theirs in cases:
        out = ours(x)
        np.testing.assert_array_equal(host(out), theirs(data))
        # a permutation: the gradient of w · f(x) is w sent back to where it came from
        weights = rng.standard_normal(out.shape)
        x.grad = None
        (out * on(device, weights)).sum().backward()
        marked = theirs(np.arange(data.size).reshape(data.shape))
        expected = np.zeros(data.size)
        expected[marked.ravel()] = weights.ravel()
        np.testing.assert_array_equal(host(x.grad), expected.reshape(data.shape))
