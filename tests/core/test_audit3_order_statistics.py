"""Audit of the order statistics and sorting (sort, argsort, msort, topk, kthvalue, median,
nanmedian, mode, cummax/cummin, unique, unique_consecutive, searchsorted, bucketize,
quantile/nanquantile): values against plain-NumPy references written from PyTorch's
documented behaviour, ties, NaN, errors, and float64 gradchecks on inputs without ties.

Two bugs fixed: median()/nanmedian() without a dim sent the whole gradient to one of
several equal entries (PyTorch shares it equally: evenly_distribute_backward), and an
N-D searchsorted put a NaN value first (PyTorch's binary search puts it last)."""

import numpy as np
import pytest

import tinygrad_opt as tg

NAN = np.nan


def host(t):
    return t.numpy()


def leaf(values, device="cpu"):
    return tg.tensor(np.array(values, dtype=np.float64), dtype=tg.float64,
                     requires_grad=True, device=device)


def distinct(shape, seed=0):
    """float64 values without ties (gradients of order statistics are defined there)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 + rng.uniform(0, 0.1)


# --- fixed bugs ---

def test_median_of_all_entries_shares_the_gradient_among_equal_entries(device):
    x = leaf([1.0, 2.0, 2.0, 3.0], device)                  # median 2, twice
    (x.median() * 4.0).backward()
    assert host(x.grad).tolist() == [0.0, 2.0, 2.0, 0.0]
    y = leaf([1.0, NAN, 2.0, NAN], device)                  # NaN: shared by the NaNs
    y.median().backward()
    assert host(y.grad).tolist() == [0.0, 0.5, 0.0, 0.5]
    z = leaf([1.0, NAN, 2.0, 2.0, 5.0], device)             # numbers 1 2 2 5: lower middle 2
    z.nanmedian().backward()
    assert host(z.grad).tolist() == [0.0, 0.0, 0.5, 0.5, 0.0]
    w = leaf([NAN, NAN], device)
    w.nanmedian().backward()
    assert host(w.grad).tolist() == [0.5, 0.5]
    # with a dim, the selected index alone takes it (value_selecting_reduction_backward)
    v = leaf([[1.0, 2.0, 2.0, 3.0]], device)
    v.median(1).values.sum().backward()
    assert host(v.grad).sum() == 1.0 and host(v.grad).max() == 1.0


def test_median_of_all_entries_keeps_the_exact_value():
    big = tg.tensor([1e308, 1e308, 1e308, -1.0, 2e308 / 2], dtype=tg.float64)
    assert host(big.median()) == 1e308
    assert host(tg.tensor([[3, 1], [2, 2]]).median()) == 2
    assert np.isnan(host(tg.tensor([1.0, NAN]).median()))
    assert host(tg.tensor([1.0, NAN, 3.0, 4.0]).nanmedian()) == 3.0
    assert np.isnan(host(tg.tensor(np.ones(0)).median()))


def test_nd_searchsorted_puts_nan_values_last_as_the_1d_one(device):
    seq = tg.tensor([1.0, 2.0, 3.0], device=device)
    values = tg.tensor([2.0, NAN, 0.5], device=device)
    for right in (False, True):
        one = host(tg.searchsorted(seq, values, right=right))
        rows = host(tg.searchsorted(seq.reshape(1, 3), values.reshape(1, 3), right=right))
        assert one.tolist() == [2 if right else 1, 3, 0]
        assert rows.tolist() == [one.tolist()]


# --- sort, argsort, msort, topk ---

def test_sort_nan_is_largest_and_ties_keep_their_order(device):
    x = tg.tensor([3.0, NAN, 1.0, 2.0, NAN, 1.0], device=device)
    up = x.sort()
    assert host(up.indices).tolist() == [2, 5, 3, 0, 1, 4]
    down = tg.sort(x, descending=True, stable=True)
    assert host(down.indices).tolist() == [1, 4, 0, 3, 2, 5]
    assert np.isnan(host(down.values)[:2]).all() and host(down.values)[2:].tolist() == [3, 2, 1, 1]
    ints = tg.tensor([2, 1, 2, 1], device=device)
    assert host(tg.argsort(ints, descending=True, stable=True)).tolist() == [0, 2, 1, 3]
    np.testing.assert_array_equal(host(tg.msort(tg.tensor([[3.0, 1.0], [1.0, 2.0]]))),
                                  [[1.0, 1.0], [3.0, 2.0]])


def test_topk_nan_is_largest_k_zero_and_errors(device):
    x = tg.tensor([3.0, NAN, 1.0, 2.0], device=device)
    top = x.topk(2)
    assert np.isnan(host(top.values)[0]) and host(top.indices).tolist() == [1, 0]
    low = tg.topk(x, 3, largest=False)
    assert host(low.values).tolist() == [1.0, 2.0, 3.0] and host(low.indices).tolist() == [2, 3, 0]
    assert x.topk(0).values.shape == (0,)
    with pytest.raises(ValueError):
        x.topk(5)


def test_sort_topk_msort_gradchecks():
    a = distinct((3, 5))
    x = tg.tensor(a, dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda t: t.sort(1, descending=True).values, [x])
    assert tg.gradcheck(lambda t: t.topk(2, 0, largest=False).values, [x])
    assert tg.gradcheck(lambda t: tg.msort(t), [x])


# --- kthvalue, median, nanmedian, mode ---

def test_kthvalue_median_mode_values(device):
    a = distinct((3, 6), seed=1)
    x = tg.tensor(a, device=device)
    for k in (1, 4, 6):
        r = x.kthvalue(k, 1)
        np.testing.assert_array_equal(host(r.values), np.sort(a, 1)[:, k - 1])
        np.testing.assert_array_equal(host(r.indices), np.argsort(a, 1)[:, k - 1])
    assert x.kthvalue(2, 0, keepdim=True).values.shape == (1, 6)
    with pytest.raises(IndexError):
        x.kthvalue(7)
    m = x.median(1)                                         # 6 per row: the 3rd smallest
    np.testing.assert_array_equal(host(m.values), np.sort(a, 1)[:, 2])
    nans = tg.tensor([[1.0, NAN, 3.0, NAN], [4.0, 2.0, 3.0, 1.0]], device=device).median(1)
    assert np.isnan(host(nans.values)[0]) and host(nans.indices).tolist() == [1, 1]
    mode = tg.tensor([[1.0, 3.0, 2.0, 3.0, 2.0]], device=device).mode()
    assert host(mode.values).tolist() == [2.0] and host(mode.indices).tolist() == [4]


def test_selection_gradchecks():
    x = tg.tensor(distinct((3, 5), seed=2), dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda t: t.kthvalue(2, 1).values, [x])
    assert tg.gradcheck(lambda t: t.median(0).values, [x])
    assert tg.gradcheck(lambda t: t.median(), [x])
    assert tg.gradcheck(lambda t: t.nanmedian(1, keepdim=True).values, [x])
    assert tg.gradcheck(lambda t: t.nanmedian(), [x])
    assert tg.gradcheck(lambda t: t.mode(1).values, [x])


# --- cummax, cummin ---

def test_cummax_cummin_ties_take_the_last_index_and_nan_sticks(device):
    v, i = tg.tensor([1.0, 3.0, 3.0, NAN, 2.0, NAN], device=device).cummax(0)
    assert host(i).tolist() == [0, 1, 2, 3, 3, 5]
    assert host(v)[:3].tolist() == [1.0, 3.0, 3.0] and np.isnan(host(v)[3:]).all()
    v, i = tg.cummin(tg.tensor([3.0, 1.0, 1.0, 0.5], device=device), 0)
    assert host(v).tolist() == [3.0, 1.0, 1.0, 0.5] and host(i).tolist() == [0, 1, 2, 3]
    x = tg.tensor(distinct((4, 3), seed=3), dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda t: t.cummax(0).values, [x])
    assert tg.gradcheck(lambda t: tg.cummin(t, 1).values, [x])


# --- unique, unique_consecutive ---

def test_unique_and_unique_consecutive(device):
    x = tg.tensor([3, 1, 2, 1, 3], device=device)
    values, inverse, counts = tg.unique(x, return_inverse=True, return_counts=True)
    assert host(values).tolist() == [1, 2, 3]
    assert host(inverse).tolist() == [2, 0, 1, 0, 2] and host(counts).tolist() == [2, 1, 2]
    rows = tg.tensor([[1, 2], [0, 1], [1, 2]], device=device)
    values, inverse, counts = tg.unique(rows, dim=0, return_inverse=True, return_counts=True)
    assert host(values).tolist() == [[0, 1], [1, 2]]
    assert host(inverse).tolist() == [1, 0, 1] and host(counts).tolist() == [1, 2]
    values, inverse, counts = tg.unique_consecutive(tg.tensor([1, 1, 2, 2, 1], device=device),
                                                    return_inverse=True, return_counts=True)
    assert host(values).tolist() == [1, 2, 1]
    assert host(inverse).tolist() == [0, 0, 1, 1, 2] and host(counts).tolist() == [2, 2, 1]


# --- searchsorted, bucketize ---

def test_searchsorted_sides_sorter_and_bucketize(device):
    seq = tg.tensor([[1, 3, 5], [2, 4, 6]], device=device)
    values = tg.tensor([[3, 6], [1, 4]], device=device)
    assert host(tg.searchsorted(seq, values)).tolist() == [[1, 3], [0, 1]]
    assert host(tg.searchsorted(seq, values, side="right")).tolist() == [[2, 3], [0, 2]]
    assert tg.searchsorted(seq, values, out_int32=True).dtype == tg.int32
    shuffled = tg.tensor([[5, 1, 3], [6, 4, 2]], device=device)
    sorter = tg.tensor([[1, 2, 0], [2, 1, 0]], device=device)
    assert host(tg.searchsorted(shuffled, values, sorter=sorter)).tolist() == [[1, 3], [0, 1]]
    with pytest.raises(ValueError):
        tg.searchsorted(seq, values, side="left", right=True)
    bounds = tg.tensor([1.0, 2.0, 3.0], device=device)
    points = tg.tensor([1.0, 2.0, 5.0, 0.0], device=device)
    assert host(tg.bucketize(points, bounds)).tolist() == [0, 1, 3, 0]
    assert host(tg.bucketize(points, bounds, right=True)).tolist() == [1, 2, 3, 0]


# --- quantile, nanquantile ---

def quantile_reference(row, q, method):
    """PyTorch's quantile of one row, by its documented formula: sorted v, rank q·(n − 1);
    nearest rounds half to even (np.round); a row with a NaN gives NaN."""
    if np.isnan(row).any():
        return NAN
    v, rank = np.sort(row), q * (len(row) - 1)
    below, above = v[int(np.floor(rank))], v[int(np.ceil(rank))]
    return {"linear": below + (above - below) * (rank - np.floor(rank)), "lower": below,
            "higher": above, "midpoint": (below + above) / 2,
            "nearest": v[int(np.round(rank))]}[method]


@pytest.mark.parametrize("method", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_and_nanquantile_match_the_formula(method, device):
    a = distinct((3, 5), seed=4)
    a[2, 1] = NAN
    qs = np.array([0.0, 0.125, 0.375, 0.5, 0.9, 1.0])
    x, q = tg.tensor(a, device=device), tg.tensor(qs, dtype=tg.float64, device=device)
    got = host(x.quantile(q, dim=1, interpolation=method))                     # (Q, 3)
    expected = [[quantile_reference(row, p, method) for row in a] for p in qs]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    got = host(tg.nanquantile(x, q, dim=1, keepdim=True, interpolation=method))  # (Q, 3, 1)
    expected = [[[quantile_reference(row[~np.isnan(row)], p, method)] for row in a] for p in qs]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert x.quantile(0.5, interpolation=method).shape == ()
    assert x.quantile(0.5, keepdim=True).shape == (1, 1)


def test_quantile_nearest_rounds_half_to_even_and_q_errors():
    x = tg.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=tg.float64)     # rank 4q: .5 1.5 2.5 3.5
    q = tg.tensor([0.125, 0.375, 0.625, 0.875], dtype=tg.float64)
    assert host(x.quantile(q, interpolation="nearest")).tolist() == [0.0, 2.0, 2.0, 4.0]
    with pytest.raises(ValueError):
        x.quantile(1.5)
    with pytest.raises(ValueError):
        x.nanquantile(tg.tensor([0.5, -0.1], dtype=tg.float64))
    assert np.isnan(host(tg.tensor([NAN, NAN], dtype=tg.float64).nanquantile(0.5)))


def test_quantile_gradients():
    x = leaf([4.0, 1.0, 3.0, 2.0])
    q = leaf(0.5)                                                # rank 1.5: 2 and 3, w = 0.5
    x.quantile(q).backward()
    assert host(x.grad).tolist() == [0.0, 0.0, 0.5, 0.5] and host(q.grad) == 3.0
    a = tg.tensor(distinct((5, 2), seed=5), dtype=tg.float64, requires_grad=True)
    qs = tg.tensor([0.3, 0.55], dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda t, p: t.quantile(p, dim=0), [a, qs])
    assert tg.gradcheck(lambda t: t.nanquantile(0.4, dim=1, interpolation="midpoint"), [a])
