"""Statistics and order statistics (ops/statistics.py): values against NumPy, hand-derived
gradients, ties, NaNs and errors; and STATISTICS_OPS, the table of its differentiable
functions (LogCumSumExp, its one op, and the compositions), run through gradcheck,
gradgradcheck and the array-path/Tensor-path comparison on shapes drawn by hypothesis."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_ops_gradcheck import NONSCALAR, Op, distinct, draw_inputs, fixed, shapes
from test_two_modes import assert_the_two_paths_agree, gradients

ROWS = shapes(min_dims=1, min_side=2)   # a last dim of at least 2 (a NaN and a number)


def with_nans(rng, shapes_drawn):
    """Distinct values with every third one (flat positions 1, 4, 7, ...) NaN: no two
    neighbours along the last dim are both NaN, so every row of 2+ keeps a number."""
    arrays = distinct(rng, shapes_drawn)
    for array in arrays:
        array.reshape(-1)[1::3] = np.nan
    return arrays


def quantile_inputs(rng, shapes_drawn):
    """Distinct x, and q in (0.05, 0.95) (q·(n − 1) stays away from whole numbers)."""
    (x,) = distinct(rng, shapes_drawn[:1])
    return [x, rng.uniform(0.05, 0.95, shapes_drawn[1])]


def q_of(x, *values):
    return tg.tensor(list(values), dtype=x.dtype, device=x.device)


def counts_index(w):
    """Bins 0, 2, 0, 3, 0, ... for bincount's weights: repeats add up."""
    return tg.tensor(np.array([0, 2, 0, 3, 0, 1])[:w.shape[0]], device=w.device)


STATISTICS_OPS = [
    # LogCumSumExp, the op with a backward of its own
    Op("logcumsumexp_last", lambda x: x.logcumsumexp(-1), 1),
    Op("logcumsumexp_dim0", lambda x: tg.logcumsumexp(x, 0), 1, shapes=NONSCALAR),
    Op("logcumsumexp_large", lambda x: (x + 1000.0).logcumsumexp(-1), 1, shapes=NONSCALAR),
    # compositions: an order statistic is a gather of the entry it selects
    Op("median_all", lambda x: x.median(), 1, distinct),
    Op("median_dim", lambda x: x.median(-1).values, 1, distinct, NONSCALAR),
    Op("nanmedian_keepdim_nans", lambda x: x.nanmedian(-1, keepdim=True).values, 1,
       with_nans, ROWS),
    Op("kthvalue_2", lambda x: x.kthvalue(2, -1).values, 1, distinct, ROWS),
    Op("mode_distinct", lambda x: tg.mode(x, 0).values, 1, distinct, NONSCALAR),
    Op("quantile_linear_dim", lambda x: x.quantile(0.3, dim=-1), 1, distinct, NONSCALAR),
    Op("quantile_vector_q_all", lambda x: tg.quantile(x, q_of(x, 0.2, 0.75)), 1, distinct),
    Op("quantile_q_gradient", lambda x, q: x.quantile(q, dim=0, keepdim=True), 2,
       quantile_inputs, fixed(lambda n, m, k: [(n + 1, m), (k,)], 3)),
    Op("quantile_midpoint", lambda x: x.quantile(0.4, 0, interpolation="midpoint"), 1,
       distinct, NONSCALAR),
    Op("quantile_nearest", lambda x: x.quantile(0.6, -1, interpolation="nearest"), 1,
       distinct, NONSCALAR),
    Op("nanquantile_nans", lambda x: x.nanquantile(q_of(x, 0.1, 0.9), -1), 1, with_nans, ROWS),
    Op("cummax_last", lambda x: x.cummax(-1).values, 1, distinct),
    Op("cummin_dim0", lambda x: tg.cummin(x, 0).values, 1, distinct, NONSCALAR),
    # NaN-skipping reductions, both extremes, mean and spread
    Op("nansum_nans", lambda x: x.nansum(-1), 1, with_nans, ROWS),
    Op("nanmean_nans", lambda x: tg.nanmean(x, -1, keepdim=True), 1, with_nans, ROWS),
    Op("aminmax_dim", lambda x: (lambda r: r.min * 2.0 + r.max)(x.aminmax(dim=-1)), 1,
       distinct, NONSCALAR),
    Op("var_mean", lambda x: (lambda r: r[0] * 2.0 + r[1])(tg.var_mean(x, -1)), 1,
       shapes=ROWS),
    Op("std_mean_biased", lambda x: (lambda r: r[0] * 2.0 + r[1])(
        tg.std_mean(x, 0, correction=0, keepdim=True)), 1, shapes=ROWS),
    Op("bincount_weights", lambda w: tg.bincount(counts_index(w), weights=w, minlength=5), 1,
       shapes=fixed(lambda n: [(n + 2,)], 1)),
]

SETTINGS = settings(max_examples=4, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IDS = [op.name for op in STATISTICS_OPS]


def leaf(values, device, dtype=tg.float64):
    return tg.tensor(np.array(values, dtype=np.float64), dtype=dtype, requires_grad=True,
                     device=device)


def host(t):
    return t.numpy()


def test_table_names_are_unique():
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("op", STATISTICS_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck(op, device, data):
    assert tg.gradcheck(op.fn, draw_inputs(op, device, data), **op.tolerance)


@pytest.mark.parametrize("op", STATISTICS_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradgradcheck(op, device, data):
    assert tg.gradgradcheck(op.fn, draw_inputs(op, device, data), **op.tolerance)


@pytest.mark.parametrize("op", STATISTICS_OPS, ids=IDS)
@settings(SETTINGS, max_examples=2)
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    shapes_drawn = data.draw(op.shapes(op.arity), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    assert_the_two_paths_agree(op, op.domain(rng, shapes_drawn), rng, device)


def test_every_name_is_a_tg_function_and_pytorch_s_tensor_methods_exist():
    from tinygrad_opt.ops import statistics
    for name in statistics.__all__:
        assert getattr(tg, name) is getattr(statistics, name)
    methods = ["median", "nanmedian", "quantile", "nanquantile", "kthvalue", "mode", "cummax",
               "cummin", "logcumsumexp", "nansum", "nanmean", "aminmax", "count_nonzero",
               "isclose", "bincount", "histc"]
    for name in methods:
        assert name in statistics.StatisticsMethods.__dict__ and hasattr(tg.Tensor, name)


# --- var_mean, std_mean ---

def test_var_mean_and_std_mean_match_numpy(device):
    a = np.random.default_rng(0).uniform(-2, 2, (3, 4))
    x = tg.tensor(a, device=device)
    variance, mean = tg.var_mean(x, 1)
    np.testing.assert_allclose(host(variance), a.var(1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(host(mean), a.mean(1), rtol=1e-12)
    spread, mean = tg.std_mean(x, dim=0, correction=0, keepdim=True)
    np.testing.assert_allclose(host(spread), a.std(0, keepdims=True), rtol=1e-12)
    assert mean.shape == (1, 4)
    variance, mean = tg.var_mean(x)
    np.testing.assert_allclose([host(variance), host(mean)], [a.var(ddof=1), a.mean()],
                               rtol=1e-12)


# --- median, nanmedian, kthvalue ---

def test_median_is_the_lower_middle_value_as_pytorch(device):
    a = np.random.default_rng(1).permutation(24).astype(np.float64).reshape(4, 6)
    x = tg.tensor(a, device=device)
    assert host(x.median()) == np.sort(a.ravel())[11]           # 24 values: the 12th
    result = x.median(1)
    np.testing.assert_array_equal(host(result.values), np.sort(a, 1)[:, 2])
    np.testing.assert_array_equal(a[np.arange(4), host(result.indices)], host(result.values))
    odd = a[:3]                                                 # 3 rows: np.median exact
    np.testing.assert_array_equal(host(tg.median(tg.tensor(odd, device=device), 0).values),
                                  np.median(odd, 0))
    assert result.indices.dtype == tg.int64 and not result.indices.requires_grad
    assert x.median(0, keepdim=True).values.shape == (1, 6)


def test_median_with_ties_takes_the_first_equal_entry(device):
    x = tg.tensor([2.0, 1.0, 2.0, 3.0], device=device)     # sorted 1, 2, 2, 3: position 1
    result = x.median(0)
    assert host(result.values) == 2.0 and host(result.indices) == 0


def test_median_gradient_goes_to_the_selected_entry(device):
    x = leaf([[3.0, 1.0, 2.0, 5.0], [0.0, -1.0, 4.0, 2.0]], device)
    x.median(1).values.sum().backward()
    assert host(x.grad).tolist() == [[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    y = leaf([4.0, 8.0, 6.0], device)
    (y.median() * 3.0).backward()
    assert host(y.grad).tolist() == [0.0, 0.0, 3.0]


def test_median_of_a_row_with_nan_is_nan_and_nanmedian_skips_it(device):
    x = tg.tensor([[1.0, np.nan, 3.0, np.nan], [np.nan] * 4, [4.0, 2.0, 3.0, 1.0]],
                  device=device)
    result = x.median(1)
    assert np.isnan(host(result.values)[:2]).all() and host(result.values)[2] == 2.0
    assert host(result.indices).tolist() == [1, 0, 1]           # the first NaN; 2 at 1
    numbers = tg.nanmedian(x, 1)
    assert np.isnan(host(numbers.values)[1])
    np.testing.assert_array_equal(host(numbers.values)[[0, 2]], [1.0, 2.0])
    assert host(numbers.indices).tolist() == [0, 0, 1]
    assert np.isnan(host(x.median())) and host(x.nanmedian()) == 2.0
    assert np.isnan(host(tg.tensor(np.ones(0), device=device).median()))


def test_kthvalue_matches_a_sort(device):
    a = np.random.default_rng(2).standard_normal((3, 5))
    x = tg.tensor(a, device=device)
    for k in (1, 3, 5):
        result = x.kthvalue(k)
        np.testing.assert_array_equal(host(result.values), np.sort(a, -1)[:, k - 1])
        np.testing.assert_array_equal(host(result.indices), np.argsort(a, -1)[:, k - 1])
    result = tg.kthvalue(x, 2, 0, keepdim=True)
    np.testing.assert_array_equal(host(result.values), np.sort(a, 0)[1:2])
    scalar = tg.tensor(7.0, device=device).kthvalue(1)
    assert host(scalar.values) == 7.0 and host(scalar.indices) == 0
    nan_last = tg.tensor([np.nan, 2.0, 1.0], device=device).kthvalue(3)
    assert np.isnan(host(nan_last.values)) and host(nan_last.indices) == 0


# --- mode ---

def mode_reference(row):
    """The smallest most frequent value and the index of its last occurrence."""
    values, counts = np.unique(row, return_counts=True)
    value = values[np.argmax(counts)]
    return value, np.flatnonzero(row == value)[-1]


def test_mode_takes_the_smallest_most_frequent_value_and_its_last_index(device):
    x = tg.tensor([[1.0, 3.0, 2.0, 3.0, 2.0], [5.0, 5.0, 4.0, 4.0, 7.0]], device=device)
    result = x.mode()
    assert host(result.values).tolist() == [2.0, 4.0]
    assert host(result.indices).tolist() == [4, 3]
    a = np.random.default_rng(3).integers(0, 4, (6, 7))
    result = tg.mode(tg.tensor(a, device=device), 1)
    expected = [mode_reference(row) for row in a]
    assert host(result.values).tolist() == [value for value, _ in expected]
    assert host(result.indices).tolist() == [index for _, index in expected]
    kept = tg.tensor(a, device=device).mode(0, keepdim=True)
    assert kept.values.shape == (1, 7)
    np.testing.assert_array_equal(host(kept.values)[0], [mode_reference(c)[0] for c in a.T])


def test_mode_gradient_goes_to_the_returned_index(device):
    x = leaf([1.0, 3.0, 3.0, 2.0], device)
    x.mode().values.backward()
    assert host(x.grad).tolist() == [0.0, 0.0, 1.0, 0.0]


# --- quantile, nanquantile ---

METHODS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("interpolation", METHODS)
def test_quantile_matches_numpy(interpolation, device):
    a = np.random.default_rng(4).standard_normal((3, 5, 4))
    x = tg.tensor(a, device=device)
    qs = np.array([0.0, 0.125, 0.3, 0.5, 0.875, 1.0])
    for dim in (None, 0, 1, -1):
        for keepdim in (False, True):
            for q in (0.3, 0.875, tg.tensor(qs, device=device)):
                ours = x.quantile(q, dim, keepdim, interpolation=interpolation)
                q_host = qs if isinstance(q, tg.Tensor) else q
                expected = np.quantile(a, q_host, axis=dim, keepdims=keepdim,
                                       method=interpolation)
                assert ours.shape == expected.shape
                np.testing.assert_allclose(host(ours), expected, rtol=1e-12, atol=1e-14)


def test_quantile_nearest_rounds_half_to_even(device):
    x = tg.tensor([0.0, 10.0, 20.0, 30.0, 40.0], device=device)   # rank = 4q
    q = tg.tensor([0.125, 0.375, 0.625, 0.875], dtype=tg.float32, device=device)
    # ranks 0.5, 1.5, 2.5, 3.5 round to 0, 2, 2, 4
    assert host(x.quantile(q, interpolation="nearest")).tolist() == [0.0, 20.0, 20.0, 40.0]


def test_quantile_gradients_by_hand(device):
    # sorted 1, 2, 3, 4 (at 1, 3, 2, 0); q = 0.5: rank 1.5 between 2 (index 3) and 3 (index 2)
    expected = {"linear": [0, 0, 0.5, 0.5], "midpoint": [0, 0, 0.5, 0.5],
                "lower": [0, 0, 0, 1], "higher": [0, 0, 1, 0], "nearest": [0, 0, 1, 0]}
    for interpolation, gradient in expected.items():
        x = leaf([4.0, 1.0, 3.0, 2.0], device)
        x.quantile(0.5, interpolation=interpolation).backward()
        assert host(x.grad).tolist() == gradient, interpolation
    x = leaf([4.0, 1.0, 3.0, 2.0], device)
    q = leaf([0.5, 0.25], device)                 # ranks 1.5 and 0.75
    value = x.quantile(q)
    np.testing.assert_allclose(host(value), [2.5, 1.75], rtol=1e-15)
    value.sum().backward()
    # dq: (v_above − v_below)·(n − 1) = 1·3; dx: 0.5 to 2 and 3, then 0.25 to 1, 0.75 to 2
    assert host(q.grad).tolist() == [3.0, 3.0]
    assert host(x.grad).tolist() == [0.0, 0.25, 0.5, 1.25]


def test_quantile_of_a_row_with_nan_is_nan_and_nanquantile_skips_it(device):
    a = np.array([[1.0, np.nan, 3.0, 2.0, 7.0], [np.nan] * 5, [4.0, 2.0, 3.0, 1.0, 0.5]])
    x = tg.tensor(a, device=device)
    q = tg.tensor([0.2, 0.5, 0.9], dtype=tg.float64, device=device)
    values = host(x.quantile(q, dim=1))
    assert np.isnan(values[:, :2]).all()
    np.testing.assert_allclose(values[:, 2], np.quantile(a[2], [0.2, 0.5, 0.9]), rtol=1e-14)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):  # NumPy: an all-NaN row
        expected = np.nanquantile(a, [0.2, 0.5, 0.9], axis=1)
    np.testing.assert_allclose(host(x.nanquantile(q, dim=1)), expected, rtol=1e-14)
    x = leaf([1.0, np.nan, 3.0], device)
    x.nanquantile(0.5).backward()
    assert host(x.grad).tolist() == [0.5, 0.0, 0.5]


def test_quantile_errors_name_the_function(device):
    x = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, device=device)
    with pytest.raises(TypeError, match="quantile: input must be a float tensor"):
        tg.quantile(tg.tensor([1, 2], device=device), 0.5)
    with pytest.raises(ValueError, match=r"quantile: q values must be in the range \[0, 1\]"):
        x.quantile(1.5)
    with pytest.raises(ValueError, match="nanquantile: q values"):
        x.nanquantile(tg.tensor([0.5, -0.1], dtype=tg.float64, device=device))
    with pytest.raises(TypeError, match="quantile: q must have the input's dtype"):
        x.quantile(tg.tensor([0.5], dtype=tg.float32, device=device))
    with pytest.raises(ValueError, match="quantile: q must be a number or a 0-D or 1-D"):
        x.quantile(tg.tensor([[0.5]], dtype=tg.float64, device=device))
    with pytest.raises(ValueError, match="quantile: interpolation must be one of"):
        x.quantile(0.5, interpolation="cubic")
    with pytest.raises(ValueError, match="quantile: input tensor must be non-empty"):
        tg.tensor(np.ones(0), device=device).quantile(0.5)
    with pytest.raises(IndexError, match="quantile: dim 1"):
        x.quantile(0.5, dim=1)


# --- cummax, cummin ---

def running_reference(row, larger):
    """PyTorch's loop: a later entry takes over when it is NaN, or when the running value
    is not NaN and the entry is >= (cummax) / <= (cummin) it."""
    values, indices, best, where = [], [], row[0], 0
    for i, v in enumerate(row):
        if np.isnan(v) or (not np.isnan(best) and (v >= best if larger else v <= best)):
            best, where = v, i
        values.append(best)
        indices.append(where)
    return values, indices


def test_cummax_and_cummin_match_numpy_and_pytorch_s_loop(device):
    a = np.random.default_rng(5).integers(0, 4, (4, 9)).astype(np.float64)   # many ties
    a[1, 3], a[2, 0], a[2, 5] = np.nan, np.nan, np.nan
    x = tg.tensor(a, device=device)
    np.testing.assert_array_equal(host(x.cummax(1).values[[0, 3]]),
                                  np.maximum.accumulate(a[[0, 3]], 1))
    np.testing.assert_array_equal(host(tg.cummin(x, 1).values[[0, 3]]),
                                  np.minimum.accumulate(a[[0, 3]], 1))
    for larger, result in ((True, x.cummax(-1)), (False, x.cummin(-1))):
        for row, values, indices in zip(a, host(result.values), host(result.indices)):
            expected_values, expected_indices = running_reference(row, larger)
            np.testing.assert_array_equal(values, expected_values)
            assert indices.tolist() == expected_indices
    along_0 = x.cummax(0)
    np.testing.assert_array_equal(host(along_0.indices)[:, 4],
                                  running_reference(a[:, 4], True)[1])


def test_cummax_ties_take_the_later_index_and_nan_sticks(device):
    x = tg.tensor([1.0, 3.0, 3.0, 2.0, 3.0], device=device)
    assert host(x.cummax(0).indices).tolist() == [0, 1, 2, 2, 4]   # torch's own output
    assert host(x.cummin(0).indices).tolist() == [0, 0, 0, 0, 0]
    y = tg.tensor([1.0, np.nan, 2.0, np.nan, 0.0], device=device)
    result = y.cummax(0)
    assert host(result.indices).tolist() == [0, 1, 1, 3, 3]
    assert host(result.values)[0] == 1.0 and np.isnan(host(result.values)[1:]).all()
    scalar = tg.tensor(2.0, device=device).cummin(0)
    assert host(scalar.values) == 2.0 and scalar.indices.shape == ()


def test_cummax_gradient_goes_to_the_running_argmax(device):
    x = leaf([1.0, 3.0, 3.0, 2.0, 3.0], device)       # indices 0, 1, 2, 2, 4
    x.cummax(0).values.sum().backward()
    assert host(x.grad).tolist() == [1.0, 1.0, 2.0, 0.0, 1.0]


# --- logcumsumexp ---

def test_logcumsumexp_matches_numpy(device):
    a = np.random.default_rng(6).uniform(-3, 3, (3, 7))
    x = tg.tensor(a, device=device)
    for dim in (0, 1, -1):
        np.testing.assert_allclose(host(x.logcumsumexp(dim)), np.logaddexp.accumulate(a, dim),
                                   rtol=1e-13)


def test_logcumsumexp_is_stable_at_large_and_tiny_values(device):
    x = leaf([1000.0, 1000.0, 999.0], device)
    y = leaf([-1000.0, 0.0, -1000.0], device)
    with np.errstate(over="raise", under="ignore", invalid="raise", divide="raise"):
        big, small = x.logcumsumexp(0), y.logcumsumexp(0)
        (big.sum() + small.sum()).backward()
    np.testing.assert_allclose(host(big), [1000.0, 1000.0 + np.log(2.0),
                                           1000.0 + np.log(2.0 + np.exp(-1.0))], rtol=1e-15)
    assert host(small).tolist() == [-1000.0, 0.0, 0.0]
    # dΣy/dx_j = Σ_{i≥j} exp(x_j − y_i), each pair computed on its own in NumPy
    for tensor, values in ((x, host(big)), (y, host(small))):
        data = host(tensor)
        expected = [sum(np.exp(data[j] - values[i]) for i in range(j, 3)) for j in range(3)]
        np.testing.assert_allclose(host(tensor.grad), expected, rtol=1e-12)  # (ulps of 1000)


def test_logcumsumexp_of_integers_is_refused(device):
    with pytest.raises(TypeError, match="logcumsumexp: input must be a float tensor"):
        tg.tensor([1, 2], device=device).logcumsumexp(0)
    with pytest.raises(TypeError, match="logcumsumexp: dim must be an int"):
        tg.tensor([1.0, 2.0], device=device).logcumsumexp(None)


# --- nansum, nanmean, aminmax ---

def test_nansum_and_nanmean_skip_nan_with_gradient_zero_there(device):
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, 4.0, -1.0]])
    x = tg.tensor(a, requires_grad=True, device=device)
    np.testing.assert_array_equal(host(x.nansum(1)), np.nansum(a, 1))
    assert host(tg.nansum(x)) == np.nansum(a)
    with np.errstate(invalid="ignore"):
        means = x.nanmean(1, keepdim=True)
    with pytest.warns(RuntimeWarning):
        np.testing.assert_allclose(host(means), np.nanmean(a, 1, keepdims=True), rtol=1e-15)
    with np.errstate(invalid="ignore"):        # 0/0 in the all-NaN row's discarded gradient
        (means[[0, 2]].sum() + x.nansum()).backward()
    assert host(x.grad).tolist() == [[1.5, 0.0, 1.5], [0.0, 0.0, 0.0], [4 / 3, 4 / 3, 4 / 3]]
    ints = tg.tensor([1, 2, 3], device=device)
    assert ints.nansum().dtype == tg.int64 and host(ints.nansum()) == 6
    with pytest.raises(TypeError, match="nanmean: input must be a float tensor"):
        ints.nanmean()


def test_aminmax_values_and_tied_gradients(device):
    a = np.random.default_rng(7).standard_normal((3, 4))
    x = tg.tensor(a, device=device)
    result = x.aminmax(dim=1, keepdim=True)
    np.testing.assert_array_equal(host(result.min), a.min(1, keepdims=True))
    np.testing.assert_array_equal(host(result.max), a.max(1, keepdims=True))
    assert [host(v) for v in tg.aminmax(x)] == [a.min(), a.max()]
    y = leaf([2.0, 5.0, 5.0, 2.0, 3.0], device)
    low, high = y.aminmax()
    (low * 10.0 + high).backward()
    assert host(y.grad).tolist() == [5.0, 0.5, 0.5, 5.0, 0.0]
    with pytest.raises(ValueError, match="aminmax: cannot take"):
        tg.tensor(np.ones((2, 0)), device=device).aminmax()


# --- count_nonzero, isclose ---

def test_count_nonzero_matches_numpy(device):
    a = np.random.default_rng(8).integers(-1, 2, (3, 4, 2))
    x = tg.tensor(a, device=device)
    assert host(x.count_nonzero()) == np.count_nonzero(a)
    for dim in (0, -1, (0, 2)):
        result = tg.count_nonzero(x, dim)
        assert result.dtype == tg.int64
        np.testing.assert_array_equal(host(result), np.count_nonzero(a, axis=dim))


def test_isclose_matches_numpy(device):
    a = np.array([1.0, 1.0 + 1e-6, 1.1, np.inf, np.inf, np.nan, 0.0, -np.inf])
    b = np.array([1.0, 1.0, 1.0, np.inf, -np.inf, np.nan, 1e-9, 1.0])
    x, y = tg.tensor(a, device=device), tg.tensor(b, device=device)
    for equal_nan in (False, True):
        np.testing.assert_array_equal(host(x.isclose(y, equal_nan=equal_nan)),
                                      np.isclose(a, b, equal_nan=equal_nan))
    np.testing.assert_array_equal(host(tg.isclose(x, y, rtol=0.2, atol=0.0)),
                                  np.isclose(a, b, rtol=0.2, atol=0.0))
    assert host(x.isclose(1.0)).tolist() == np.isclose(a, 1.0).tolist()
    ints = tg.tensor([1, 2, 100], device=device)
    assert host(ints.isclose(tg.tensor([1, 3, 101], device=device), rtol=0.01)).tolist() == \
        [True, False, True]
    with pytest.raises(TypeError, match="isclose: both inputs must have one dtype"):
        x.isclose(tg.tensor([1.0], dtype=tg.float32, device=device))
    with pytest.raises(ValueError, match="isclose: rtol and atol must be >= 0"):
        x.isclose(y, rtol=-1.0)


# --- bincount, histc ---

def test_bincount_matches_numpy_and_its_weights_get_gradients(device):
    a = np.array([0, 3, 1, 3, 3, 7])
    x = tg.tensor(a, device=device)
    counts = x.bincount()
    assert counts.dtype == tg.int64 and host(counts).tolist() == np.bincount(a).tolist()
    assert host(tg.bincount(x, minlength=10)).tolist() == np.bincount(a, minlength=10).tolist()
    assert host(tg.bincount(tg.tensor(np.zeros(0, np.int64), device=device), minlength=3)) \
        .tolist() == [0, 0, 0]
    w = np.array([0.5, 1.0, 2.0, -1.0, 0.25, 3.0])
    weights = tg.tensor(w, dtype=tg.float32, requires_grad=True, device=device)
    weighted = x.bincount(weights)
    assert weighted.dtype == tg.float32
    np.testing.assert_allclose(host(weighted), np.bincount(a, w), rtol=1e-6)
    c = np.arange(8.0) + 1.0
    (weighted * tg.tensor(c, dtype=tg.float32, device=device)).sum().backward()
    assert host(weights.grad).tolist() == c[a].tolist()          # dL/dw_i = c[x_i]
    ints = tg.bincount(x, weights=tg.tensor([1, 1, 1, 1, 1, 1], device=device))
    assert ints.dtype == tg.float64


def test_bincount_errors_name_the_function(device):
    with pytest.raises(ValueError, match="bincount: entries must be non-negative"):
        tg.bincount(tg.tensor([1, -2], device=device))
    with pytest.raises(TypeError, match="bincount: expected a 1-D tensor of integers"):
        tg.bincount(tg.tensor([1.0, 2.0], device=device))
    with pytest.raises(TypeError, match=r"bincount: .* shape \(1, 2\)"):
        tg.bincount(tg.tensor([[1, 2]], device=device))
    with pytest.raises(ValueError, match="bincount: weights of shape"):
        tg.bincount(tg.tensor([1, 2], device=device), tg.tensor([1.0], device=device))


def test_histc_matches_numpy_histogram(device):
    a = np.random.default_rng(9).uniform(-3, 3, 200)
    x = tg.tensor(a, device=device)
    counts = x.histc(bins=7, min=-2, max=2.5)
    assert counts.dtype == tg.float64 and not counts.requires_grad
    np.testing.assert_array_equal(host(counts), np.histogram(a, 7, range=(-2, 2.5))[0])
    np.testing.assert_array_equal(host(tg.histc(x, bins=5)),            # the data's range
                                  np.histogram(a, 5, range=(a.min(), a.max()))[0])
    edges = tg.tensor([0.0, 1.0, 2.0, 3.0, np.nan, 4.0], dtype=tg.float32, device=device)
    assert host(edges.histc(bins=3, min=0, max=3)).tolist() == [1.0, 1.0, 2.0]  # 3: last bin
    same = tg.tensor([2.0, 2.0], device=device)
    assert host(same.histc(bins=4)).tolist() == [0.0, 0.0, 2.0, 0.0]   # range [1, 3]
    with pytest.raises(TypeError, match="histc: input must be a float tensor"):
        tg.tensor([1, 2], device=device).histc()
    with pytest.raises(ValueError, match="histc: max must be larger than min"):
        x.histc(min=1, max=0)
    with pytest.raises(ValueError, match="histc: bins must be an int > 0"):
        x.histc(bins=0)


# --- searchsorted, bucketize ---

def test_searchsorted_matches_numpy(device):
    boundaries = np.array([1.0, 3.0, 3.0, 5.0, 7.0])
    values = np.array([[0.0, 3.0, 4.0], [7.0, 8.0, 3.0]])
    s, v = tg.tensor(boundaries, device=device), tg.tensor(values, device=device)
    for right in (False, True):
        side = "right" if right else "left"
        result = tg.searchsorted(s, v, right=right)
        assert result.dtype == tg.int64 and not result.requires_grad
        assert host(result).tolist() == np.searchsorted(boundaries, values, side).tolist()
        assert host(tg.searchsorted(s, v, side=side)).tolist() == host(result).tolist()
    assert host(tg.searchsorted(s, 3.0)) == 1 and tg.searchsorted(s, 3.0).shape == ()
    assert tg.searchsorted(s, v, out_int32=True).dtype == tg.int32
    shuffled = np.array([5.0, 1.0, 7.0, 3.0])
    sorter = tg.tensor(np.argsort(shuffled), device=device)
    assert host(tg.searchsorted(tg.tensor(shuffled, device=device), v, sorter=sorter)) \
        .tolist() == np.searchsorted(shuffled, values, sorter=np.argsort(shuffled)).tolist()


def test_searchsorted_searches_each_row_of_an_nd_sequence(device):
    rows = np.array([[1.0, 3.0, 5.0, 7.0], [2.0, 4.0, 6.0, 8.0]])
    values = np.array([[3.0, 6.0, 9.0], [3.0, 6.0, 9.0]])
    s, v = tg.tensor(rows, device=device), tg.tensor(values, device=device)
    for right in (False, True):
        side = "right" if right else "left"
        expected = [np.searchsorted(r, w, side).tolist() for r, w in zip(rows, values)]
        assert host(tg.searchsorted(s, v, right=right)).tolist() == expected
    with pytest.raises(ValueError, match="searchsorted: the sequence of shape"):
        tg.searchsorted(s, tg.tensor(values[:1], device=device))
    with pytest.raises(ValueError, match="searchsorted: side='left' and right=True"):
        tg.searchsorted(s, v, side="left", right=True)
    with pytest.raises(ValueError, match="searchsorted: a number as values needs a 1-D"):
        tg.searchsorted(s, 3.0)


def test_bucketize_as_pytorch_s_example(device):
    boundaries = tg.tensor([1, 3, 5, 7, 9], device=device)
    x = tg.tensor([[1, 3, 9], [5, 7, 4]], device=device)
    assert host(tg.bucketize(x, boundaries)).tolist() == [[0, 1, 4], [2, 3, 2]]
    assert host(tg.bucketize(x, boundaries, right=True)).tolist() == [[1, 2, 5], [3, 4, 2]]
    assert tg.bucketize(x, boundaries, out_int32=True).dtype == tg.int32
    with pytest.raises(ValueError, match="bucketize: boundaries must be 1-D"):
        tg.bucketize(x, x)


# --- errors of the order statistics ---

def test_order_statistic_errors_name_the_function(device):
    x = tg.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(IndexError, match="kthvalue: k=4 is out of range"):
        x.kthvalue(4)
    with pytest.raises(IndexError, match="kthvalue: k=0"):
        x.kthvalue(0)
    with pytest.raises(IndexError, match="median: dim 2"):
        x.median(2)
    with pytest.raises(IndexError, match="mode: dim 1 of shape \\(2, 0\\) is empty"):
        tg.tensor(np.ones((2, 0)), device=device).mode()
    with pytest.raises(IndexError, match="nanmedian: dim 0 of shape \\(0,\\) is empty"):
        tg.tensor(np.ones(0), device=device).nanmedian(0)
    with pytest.raises(TypeError, match="cummax: dim must be an int"):
        x.cummax(None)
    with pytest.raises(IndexError, match="cummin: dim -3"):
        x.cummin(-3)
