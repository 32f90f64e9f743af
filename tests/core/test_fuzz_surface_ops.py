"""Randomized (hypothesis) checks of the Tensor surface ops outside the core (ops/everyday.py,
rearrange.py, statistics.py, cumulative.py, einsum.py, math_ops.py, conveniences.py,
special.py) against plain-NumPy references written from each op's definition and PyTorch's
documented semantics: output dtype, keepdim, empty input, ties, NaN.

Shapes have 0-3 dims with sizes 0-3 (size-0 and size-1 dims included), dtypes float32,
float64 and int64 where the op takes integers, dims negative too. Values are drawn on a grid
of tenths (so ties happen) for forward checks, and apart from each other and from the op's
kinks for the float64 gradient checks (``tg.gradcheck``, central differences).

Run more examples with ``SURFACE_FUZZ_EXAMPLES=N`` (default 10 per test), and new draws with
``HYPOTHESIS_PROFILE=explore``.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("SURFACE_FUZZ_EXAMPLES", 10)
FUZZ = fuzz_settings(EXAMPLES)
FLOATS = (np.float32, np.float64)
ALL = (np.float32, np.float64, np.int64)


# --- draws ---

def shape_of(data, min_dims=0, max_dims=3, min_size=0, max_size=3):
    dims = data.draw(st.integers(min_dims, max_dims), label="ndim")
    return tuple(data.draw(st.integers(min_size, max_size), label="size") for _ in range(dims))


def rng_of(data):
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def grid(data, shape, dtype, low=-2, high=2, nan=False):
    """Tenths in [low, high] (ties likely), integers for an integer dtype, NaNs if asked."""
    rng = rng_of(data)
    if np.issubdtype(dtype, np.integer):
        return np.asarray(rng.integers(low, high + 1, shape), dtype)
    values = np.asarray(np.round(rng.uniform(low, high, shape), 1), dtype)
    if nan and values.size:
        values[rng.random(shape) < 0.3] = np.nan
    return values


def apart(data, shape, low=-2.0, high=2.0, gap=0.05):
    """float64 values that differ by at least ``gap`` (no ties), for gradients."""
    rng = rng_of(data)
    count = int(np.prod(shape))
    steps = np.arange(count) * gap + rng.uniform(0, gap / 3, count)
    values = low + steps * ((high - low) / max(steps.max(initial=0) + gap, high - low))
    return rng.permutation(values).reshape(shape)


def dim_of(data, ndim):
    """A dim of a tensor with ``ndim`` dims, negative half the time (ndim 0: 0 or -1)."""
    dim = data.draw(st.integers(0, max(ndim - 1, 0)), label="dim")
    return dim - max(ndim, 1) if data.draw(st.booleans(), label="negative") else dim


def t(a, grad=False):
    return tg.tensor(a, requires_grad=grad)


def host(x):
    return tg.backend.to_host(x.data)


def same(result, expected, dtype=None, rtol=1e-5, atol=1e-6, equal_nan=True):
    """``result`` (a Tensor) has ``expected``'s shape, values and dtype (or ``dtype``)."""
    got = host(result)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == (expected.dtype if dtype is None else np.dtype(dtype)), (
        got.dtype, expected.dtype if dtype is None else dtype)
    if got.dtype == np.float32:
        rtol, atol = max(rtol, 1e-5), max(atol, 1e-5)
    if got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=equal_nan)


def check_grad(function, *arrays):
    inputs = tuple(t(a, grad=True) for a in arrays)
    assert tg.gradcheck(function, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


def torch_int(dtype):
    """Integer and bool inputs run in int64 for sums and products, as in PyTorch."""
    return np.int64 if np.issubdtype(dtype, np.integer) else dtype


# --- cumulative ---

@FUZZ
@given(st.data())
def test_cumsum_cumprod_prod(data):
    dtype = data.draw(st.sampled_from(ALL + (np.int32,)))
    shape = shape_of(data)
    a = grid(data, shape, dtype)
    if data.draw(st.booleans()) and a.size:
        a.flat[data.draw(st.integers(0, a.size - 1))] = 0   # a zero for cumprod / prod
    dim = dim_of(data, a.ndim)
    out = torch_int(dtype)
    same(t(a).cumsum(dim), np.cumsum(a.reshape(a.shape or (1,)), dim).reshape(a.shape)
         .astype(out))
    same(t(a).cumprod(dim), np.cumprod(a.reshape(a.shape or (1,)), dim).reshape(a.shape)
         .astype(out))
    keepdim = data.draw(st.booleans())
    same(t(a).prod(dim, keepdim=keepdim), np.prod(a, axis=dim if a.ndim else None,
                                                    keepdims=keepdim).astype(out))
    same(tg.prod(t(a)), np.prod(a).astype(out))


def running_extreme(a, dim, larger):
    """cummax / cummin from the definition: a tie takes the later index (PyTorch's >=),
    a NaN wins and stays."""
    a = np.moveaxis(a, dim, -1)
    values, indices = np.empty_like(a), np.zeros(a.shape, np.int64)
    for row in np.ndindex(a.shape[:-1]):
        best, where = None, 0
        for i, v in enumerate(a[row]):
            if best is None or np.isnan(v) or (not np.isnan(best)
                                              and (v >= best if larger else v <= best)):
                best, where = v, i
            values[row + (i,)], indices[row + (i,)] = best, where
    return np.moveaxis(values, -1, dim), np.moveaxis(indices, -1, dim)


@FUZZ
@given(st.data())
def test_cummax_cummin_ties_and_nan(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_dims=1), dtype, low=-1, high=1,
             nan=data.draw(st.booleans()))
    dim = dim_of(data, a.ndim)
    for name, larger in (("cummax", True), ("cummin", False)):
        values, indices = getattr(t(a), name)(dim)
        expected_values, expected_indices = running_extreme(a, dim, larger)
        same(values, expected_values)
        same(indices, expected_indices)


@FUZZ
@given(st.data())
def test_logcumsumexp(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    a = grid(data, shape_of(data), dtype, low=-30, high=30)
    if data.draw(st.booleans()) and a.size:
        a.flat[0] = -np.inf
    dim = dim_of(data, a.ndim)
    b = a.reshape(a.shape or (1,)).astype(np.float64)
    top = np.max(b, axis=dim, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, 0)
    with np.errstate(divide="ignore"):
        expected = np.log(np.cumsum(np.exp(b - top), axis=dim)) + top
    same(tg.logcumsumexp(t(a), dim), expected.reshape(a.shape).astype(dtype), rtol=1e-5)


@FUZZ
@given(st.data())
def test_diff(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_dims=1), dtype)
    dim = dim_of(data, a.ndim)
    n = data.draw(st.integers(0, 3))
    kwargs = {}
    for side in ("prepend", "append"):
        if data.draw(st.booleans(), label=side):
            size = data.draw(st.integers(0, 2))
            other = list(a.shape)
            other[dim] = size
            kwargs[side] = grid(data, tuple(other), dtype)
    expected = np.diff(a, n=n, axis=dim, **kwargs)
    same(tg.diff(t(a), n=n, dim=dim, **{k: t(v) for k, v in kwargs.items()}), expected)


# --- statistics ---

@FUZZ
@given(st.data())
def test_var_std_mean_correction(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    a = grid(data, shape_of(data, min_dims=1, min_size=1), dtype)
    dim = dim_of(data, a.ndim)
    keepdim = data.draw(st.booleans())
    correction = data.draw(st.sampled_from([0, 1, 2]))
    count = a.shape[dim]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = a.astype(np.float64).mean(dim, keepdims=True)
        squares = ((a - mean) ** 2).sum(dim, keepdims=keepdim)
        var = squares / max(count - correction, 0)
    mean = mean if keepdim else mean.squeeze(dim)
    v, m = tg.var_mean(t(a), dim, correction=correction, keepdim=keepdim)
    same(v, var.astype(dtype))
    same(m, mean.astype(dtype))
    s, m = tg.std_mean(t(a), dim, correction=correction, keepdim=keepdim)
    same(s, np.sqrt(var).astype(dtype))
    same(m, mean.astype(dtype))


def lower_median(row, ignore_nan):
    if ignore_nan:
        row = row[~np.isnan(row)]
    elif np.isnan(row).any():
        return np.nan
    return np.sort(row)[(len(row) - 1) // 2] if len(row) else np.nan


@FUZZ
@given(st.data())
def test_median_nanmedian(data):
    dtype = data.draw(st.sampled_from(ALL))
    nan = data.draw(st.booleans()) and dtype != np.int64
    a = grid(data, shape_of(data, min_size=1), dtype, nan=nan)
    for name, ignore_nan in (("median", False), ("nanmedian", True)):
        if dtype == np.int64 and ignore_nan:
            continue
        whole = getattr(tg, name)(t(a))
        same(whole, np.asarray(lower_median(a.ravel(), ignore_nan)).astype(dtype))
        dim = dim_of(data, a.ndim)
        keepdim = data.draw(st.booleans())
        values, indices = getattr(t(a), name)(dim, keepdim=keepdim)
        b = a.reshape(a.shape or (1,))
        expected = np.apply_along_axis(lower_median, dim, b, ignore_nan).astype(dtype)
        expected = np.expand_dims(expected, dim) if keepdim else expected
        same(values, expected.reshape(values.shape) if a.ndim == 0 else expected)
        picked = np.take_along_axis(b, host(indices).reshape(expected.shape if keepdim
                                    else np.expand_dims(expected, dim).shape), dim)
        np.testing.assert_array_equal(picked.reshape(host(values).shape), host(values))


def quantile_row(row, q, interpolation, ignore_nan):
    """PyTorch's definition: rank q·(n-1) in the sorted row, computed in the input's dtype;
    nearest rounds half to even."""
    if ignore_nan:
        row = row[~np.isnan(row)]
    elif np.isnan(row).any():
        return np.nan
    if not len(row):
        return np.nan
    row = np.sort(row)
    rank = float(row.dtype.type(q) * row.dtype.type(len(row) - 1))
    below, above = int(math.floor(rank)), int(math.ceil(rank))
    if interpolation == "lower":
        return row[below]
    if interpolation == "higher":
        return row[above]
    if interpolation == "nearest":
        return row[int(np.round(rank))]
    if interpolation == "midpoint":
        return (row[below] + row[above]) / 2
    return row[below] + (rank - below) * (row[above] - row[below])


@FUZZ
@given(st.data())
def test_quantile_nanquantile(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    nan = data.draw(st.booleans())
    a = grid(data, shape_of(data, min_size=1), dtype, nan=nan)
    interpolation = data.draw(st.sampled_from(["linear", "lower", "higher", "midpoint",
                                               "nearest"]))
    qs = data.draw(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1 / 3]),
                            min_size=1, max_size=3))
    scalar = data.draw(st.booleans())
    q = qs[0] if scalar else np.array(qs, dtype)
    dim = None if data.draw(st.booleans()) else dim_of(data, a.ndim)
    keepdim = data.draw(st.booleans())
    for name, ignore_nan in (("quantile", False), ("nanquantile", True)):
        result = getattr(tg, name)(t(a), q if scalar else t(q), dim=dim, keepdim=keepdim,
                                   interpolation=interpolation)
        b = a.reshape(-1) if dim is None else a.reshape(a.shape or (1,))
        axis = 0 if dim is None else dim
        per_q = [np.apply_along_axis(quantile_row, axis, b, qq, interpolation, ignore_nan)
                 for qq in np.atleast_1d(q)]
        if a.ndim == 0:
            per_q = [p.reshape(()) for p in per_q]
        elif keepdim:
            per_q = [np.expand_dims(p, axis) for p in per_q]
            if dim is None:
                per_q = [p.reshape((1,) * a.ndim) for p in per_q]
        expected = per_q[0] if scalar else np.stack(per_q)
        same(result, expected.astype(dtype), rtol=1e-5)


@FUZZ
@given(st.data())
def test_mode(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_size=1), dtype, low=-1, high=1)
    if np.issubdtype(dtype, np.floating):
        a = np.round(a * 2) / 2     # few values: frequent ties in count
    dim = dim_of(data, a.ndim)
    keepdim = data.draw(st.booleans())
    values, indices = tg.mode(t(a), dim, keepdim=keepdim)
    b = np.moveaxis(a.reshape(a.shape or (1,)), dim, -1)
    expected = np.empty(b.shape[:-1], dtype)
    for row in np.ndindex(b.shape[:-1]):
        distinct, counts = np.unique(b[row], return_counts=True)
        expected[row] = distinct[np.argmax(counts)]   # most frequent; the smallest of ties
    if keepdim:
        expected = np.expand_dims(expected, dim)
    same(values, expected.reshape(host(values).shape) if a.ndim == 0 else expected)
    picked = np.take_along_axis(np.moveaxis(b, -1, dim), np.expand_dims(
        host(indices).reshape(np.squeeze(expected, dim).shape if keepdim and a.ndim
                              else b.shape[:-1]), dim), dim)
    np.testing.assert_array_equal(picked.reshape(host(values).shape), host(values))


@FUZZ
@given(st.data())
def test_histc(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    a = grid(data, shape_of(data), dtype)
    bins = data.draw(st.integers(1, 6))
    low, high = data.draw(st.sampled_from([(0, 0), (-1, 1), (-1.5, 0.5), (0.3, 0.3)]))
    result = tg.histc(t(a), bins=bins, min=low, max=high)
    if low == high and a.size:   # PyTorch's code: any min = max takes the data's range
        low, high = float(a.min()), float(a.max())
    if low == high:                     # and widens an empty range by 1 each side
        low, high = low - 1, high + 1
    edges = np.linspace(low, high, bins + 1)
    assume(not np.isclose(a.astype(np.float64)[..., None], edges[1:-1], atol=1e-4).any())
    expected, _ = np.histogram(a, bins=bins, range=(low, high))
    same(result, expected.astype(dtype))


@FUZZ
@given(st.data())
def test_bincount(data):
    a = grid(data, shape_of(data, min_dims=1, max_dims=1, max_size=6), np.int64, low=0,
             high=4)
    minlength = data.draw(st.integers(0, 7))
    weighted = data.draw(st.sampled_from([None, np.float32, np.float64, np.int64]))
    weights = None if weighted is None else grid(data, a.shape, weighted)
    expected = np.bincount(a, weights, minlength=minlength)
    out = np.int64 if weighted is None or a.size == 0 else (   # (PyTorch: empty -> int64)
        np.float32 if weighted == np.float32 else np.float64)
    same(tg.bincount(t(a), None if weights is None else t(weights), minlength=minlength),
         expected.astype(out))


@FUZZ
@given(st.data())
def test_cov_corrcoef(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    shape = shape_of(data, min_dims=1, max_dims=2, min_size=1, max_size=4)
    a = grid(data, shape, dtype)
    observations = shape[-1]
    correction = data.draw(st.integers(0, 2))
    fweights = (grid(data, (observations,), np.int64, low=0, high=3)
                if data.draw(st.booleans()) else None)
    aweights = (grid(data, (observations,), np.float64, low=0, high=2) ** 2
                if data.draw(st.booleans()) else None)
    w = np.ones(observations) if fweights is None else fweights.astype(np.float64)
    w = w if aweights is None else w * aweights
    x = np.atleast_2d(a).astype(np.float64)
    total = w.sum()
    mean = (x * w).sum(1, keepdims=True) / total
    centered = x - mean
    one_weight = (fweights is None) != (aweights is None)
    if observations == 1 and one_weight:   # PyTorch: x − μ is exactly 0
        centered = np.zeros_like(x)
    if aweights is None:
        norm = total - correction
    elif fweights is None and observations == 1 and correction == 1:
        norm = 0.0                           # PyTorch: a − a·a/a is exactly 0
    else:
        norm = total - correction * (w * aweights).sum() / total
        assume(dtype == np.float64 or abs(norm) > 1e-3)   # float32 rounds a 0 to ±1e-7
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = (centered * w) @ centered.T / max(norm, 0)
    expected = expected.squeeze() if a.ndim == 1 or shape[0] == 1 else expected
    result = tg.cov(t(a), correction=correction,
                    fweights=None if fweights is None else t(fweights),
                    aweights=None if aweights is None else t(aweights.astype(dtype)))
    if norm > 0:
        same(result, expected.astype(dtype), rtol=1e-4, atol=1e-5)
    else:  # divided by 0: inf or NaN as x − μ rounds (μ = Σ w·x / Σ w is seldom exact)
        assert result.shape == expected.shape and not np.isfinite(host(result)).any()
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.cov(x)
        c = np.atleast_2d(c)
        d = np.sqrt(np.diag(c))
        r = np.clip(c / d[:, None] / d[None, :], -1, 1)
    r = r.squeeze() if a.ndim == 1 or shape[0] == 1 else r
    same(tg.corrcoef(t(a)), r.astype(dtype), rtol=1e-4, atol=1e-5)


@FUZZ
@given(st.data())
def test_aminmax(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_size=1), dtype)
    keepdim = data.draw(st.booleans())
    if data.draw(st.booleans()):
        low, high = tg.aminmax(t(a), keepdim=keepdim)
        shape = (1,) * a.ndim if keepdim else ()
        same(low, a.min().reshape(shape))
        same(high, a.max().reshape(shape))
    else:
        dim = dim_of(data, a.ndim)
        low, high = tg.aminmax(t(a), dim=dim, keepdim=keepdim)
        b = a.reshape(a.shape or (1,))
        shape = (np.amin(b, dim, keepdims=True).shape if keepdim and a.ndim
                 else a.shape if keepdim else np.amin(b, dim).shape if a.ndim else ())
        same(low, np.amin(b, dim).reshape(shape))
        same(high, np.amax(b, dim).reshape(shape))


# --- rearranging ---

@FUZZ
@given(st.data())
def test_flip_roll_rot90(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data), dtype)
    dims = data.draw(st.lists(st.integers(0, max(a.ndim - 1, 0)), unique=True, max_size=3)) \
        if a.ndim else []
    same(tg.flip(t(a), dims), np.flip(a, tuple(dims)) if dims else a)
    shifts = data.draw(st.integers(-4, 4))
    if data.draw(st.booleans()) or not a.ndim:
        same(tg.roll(t(a), shifts), np.roll(a, shifts))
    else:
        dims2 = data.draw(st.lists(st.integers(-a.ndim, a.ndim - 1), min_size=1, max_size=2))
        shift_list = [data.draw(st.integers(-4, 4)) for _ in dims2]
        same(tg.roll(t(a), shift_list, dims2), np.roll(a, shift_list, dims2))
    if a.ndim >= 2:
        k = data.draw(st.integers(-5, 5))
        pair = data.draw(st.permutations(range(-a.ndim, 0)))[:2]
        same(tg.rot90(t(a), k, pair), np.rot90(a, k, tuple(pair)))


@FUZZ
@given(st.data())
def test_triangles_and_diagonals(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_dims=2, max_dims=4), dtype)
    k = data.draw(st.integers(-4, 4))
    same(t(a).tril(k), np.tril(a, k))
    same(t(a).triu(k), np.triu(a, k))
    d1, d2 = data.draw(st.permutations(range(a.ndim)))[:2]
    d1 -= a.ndim * data.draw(st.booleans())
    same(tg.diagonal(t(a), k, d1, d2), np.diagonal(a, k, d1, d2))
    v = grid(data, shape_of(data, min_dims=1, max_dims=2), dtype)
    e1, e2 = data.draw(st.permutations(range(v.ndim + 1)))[:2]
    expected_embed = np.zeros(v.shape[:-1] + (v.shape[-1] + abs(k),) * 2, dtype)
    for i in range(v.shape[-1]):
        expected_embed[..., i + max(-k, 0), i + max(k, 0)] = v[..., i]
    rest = [d for d in range(v.ndim + 1) if d not in (e1, e2)]
    order = np.empty(v.ndim + 1, int)
    order[rest] = np.arange(v.ndim - 1)
    order[[e1, e2]] = [v.ndim - 1, v.ndim]
    expected_embed = np.transpose(expected_embed, order)
    same(tg.diag_embed(t(v), k, e1 - (v.ndim + 1) * data.draw(st.booleans()), e2),
         expected_embed)
    same(tg.diagflat(t(v), k), np.diagflat(v, k))
    if v.ndim == 1:
        same(tg.diag(t(v), k), np.diag(v, k))
    matrix = a.reshape((-1,) + a.shape[-2:])[:1].reshape(a.shape[-2:]) if a.size else \
        np.zeros(a.shape[-2:], dtype)
    same(tg.diag(t(matrix), k), np.diag(matrix, k))


@FUZZ
@given(st.data())
def test_movedim_unfold(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_dims=1), dtype)
    count = data.draw(st.integers(1, a.ndim))
    source = data.draw(st.permutations(range(a.ndim)))[:count]
    destination = data.draw(st.permutations(range(a.ndim)))[:count]
    source = [s - a.ndim * data.draw(st.booleans()) for s in source]
    same(tg.movedim(t(a), source, destination), np.moveaxis(a, source, destination))
    dim = dim_of(data, a.ndim)
    size = data.draw(st.integers(0, a.shape[dim]))
    step = data.draw(st.integers(1, 3))
    windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=dim)
    index = [slice(None)] * a.ndim
    index[dim] = slice(None, None, step)
    same(t(a).unfold(dim, size, step), windows[tuple(index)])


@FUZZ
@given(st.data())
def test_repeat_interleave(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data), dtype)
    dim = None if data.draw(st.booleans()) or not a.ndim else dim_of(data, a.ndim)
    length = a.size if dim is None else a.shape[dim]
    if data.draw(st.booleans()):
        repeats = data.draw(st.integers(0, 3))
        same(tg.repeat_interleave(t(a), repeats, dim=dim), np.repeat(a, repeats, axis=dim))
    else:
        repeats = grid(data, (length,), np.int64, low=0, high=3)
        same(tg.repeat_interleave(t(a), t(repeats), dim=dim), np.repeat(a, repeats, axis=dim))
    counts = grid(data, shape_of(data, 1, 1), np.int64, low=0, high=3)
    same(tg.repeat_interleave(t(counts)), np.repeat(np.arange(len(counts)), counts))


@FUZZ
@given(st.data())
def test_take_along_dim_gather(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_dims=1, min_size=1), dtype)
    dim = dim_of(data, a.ndim)
    index_shape = tuple(data.draw(st.integers(0, s)) for s in a.shape)
    index_shape = tuple(data.draw(st.integers(0, 3)) if d == dim % a.ndim else s
                        for d, s in enumerate(index_shape))
    index = rng_of(data).integers(-a.shape[dim], a.shape[dim], index_shape)
    positive = index % a.shape[dim]
    picked = np.take_along_axis(a[tuple(slice(0, s) for s in index_shape[:dim % a.ndim]) +
                                  (slice(None),) +
                                  tuple(slice(0, s) for s in index_shape[dim % a.ndim + 1:])],
                                positive, dim)
    same(tg.gather(t(a), dim, t(positive)), picked)
    full = rng_of(data).integers(0, a.shape[dim], a.shape[:dim % a.ndim] + (2,) +
                                 a.shape[dim % a.ndim + 1:])
    same(tg.take_along_dim(t(a), t(full), dim), np.take_along_axis(a, full, dim))
    flat = rng_of(data).integers(0, a.size, (3,))
    same(tg.take_along_dim(t(a), t(flat)), np.take(a.ravel(), flat))


def scatter_reference(a, dim, index, src, reduce, include_self):
    out = a.copy()
    groups = {}
    for position in np.ndindex(index.shape):
        target = list(position)
        target[dim] = index[position]
        groups.setdefault(tuple(target), []).append(src[position])
    for target, values in groups.items():
        values = ([a[target]] if include_self else []) + values
        if reduce == "sum":
            out[target] = np.sum(values)
        elif reduce == "prod":
            out[target] = np.prod(values)
        elif reduce == "amax":
            out[target] = np.max(values)
        elif reduce == "amin":
            out[target] = np.min(values)
        elif reduce == "mean":
            mean = np.sum(values, dtype=np.float64) / len(values)
            out[target] = math.floor(mean) if a.dtype.kind == "i" else mean
        else:   # scatter: one value per target
            out[target] = values[-1]
    return out


def scatter_case(data, dtype, unique):
    a = grid(data, shape_of(data, min_dims=1, min_size=1), dtype)
    dim = dim_of(data, a.ndim)
    d = dim % a.ndim
    index_shape = tuple(data.draw(st.integers(0, s)) for s in a.shape)
    if unique:
        index_shape = tuple(min(s, a.shape[d]) if i == d else s for i, s in enumerate(index_shape))
        rng = rng_of(data)
        index = np.zeros(index_shape, np.int64)
        moved = np.moveaxis(index, d, -1)   # a view: each row along dim without repeats
        for row in np.ndindex(moved.shape[:-1]):
            moved[row] = rng.permutation(a.shape[d])[:moved.shape[-1]]
    else:
        index = rng_of(data).integers(0, a.shape[d], index_shape)
    src_shape = tuple(s + data.draw(st.integers(0, 1)) for s in index_shape)
    src = grid(data, src_shape, dtype)
    return a, dim, index, src


@FUZZ
@given(st.data())
def test_scatter_family(data):
    dtype = data.draw(st.sampled_from(ALL))
    a, dim, index, src = scatter_case(data, dtype, unique=True)
    d = dim % a.ndim
    cut = src[tuple(slice(0, s) for s in index.shape)]
    same(tg.scatter(t(a), dim, t(index), t(src)),
         scatter_reference(a, d, index, cut, None, False))
    same(tg.scatter(t(a), dim, t(index), value=3),
         scatter_reference(a, d, index, np.full(index.shape, 3, dtype), None, False))
    a, dim, index, src = scatter_case(data, dtype, unique=False)
    d = dim % a.ndim
    cut = src[tuple(slice(0, s) for s in index.shape)]
    same(tg.scatter_add(t(a), dim, t(index), t(src)),
         scatter_reference(a, d, index, cut, "sum", True))
    reduce = data.draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin"]))
    include_self = data.draw(st.booleans())
    same(tg.scatter_reduce(t(a), dim, t(index), t(src), reduce, include_self=include_self),
         scatter_reference(a, d, index, cut, reduce, include_self))


@FUZZ
@given(st.data())
def test_index_add_copy_fill(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_dims=1, min_size=1), dtype)
    dim = dim_of(data, a.ndim)
    d = dim % a.ndim
    count = data.draw(st.integers(0, 4))
    index = rng_of(data).integers(0, a.shape[d], count)
    source = grid(data, a.shape[:d] + (count,) + a.shape[d + 1:], dtype)
    alpha = data.draw(st.sampled_from([1, 2, -1]))
    expected = a.copy()
    for i, target in enumerate(index):
        np.moveaxis(expected, d, 0)[target] += alpha * np.moveaxis(source, d, 0)[i]
    same(tg.index_add(t(a), dim, t(index), t(source), alpha=alpha), expected)
    distinct = rng_of(data).permutation(a.shape[d])[:count]
    expected = a.copy()
    np.moveaxis(expected, d, 0)[distinct] = np.moveaxis(source[tuple(
        slice(0, len(distinct)) if i == d else slice(None) for i in range(a.ndim))], d, 0)
    same(tg.index_copy(t(a), dim, t(distinct), t(source[tuple(
        slice(0, len(distinct)) if i == d else slice(None) for i in range(a.ndim))])),
        expected)
    expected = a.copy()
    np.moveaxis(expected, d, 0)[index] = -7
    same(tg.index_fill(t(a), dim, t(index), -7), expected)


@FUZZ
@given(st.data())
def test_masked_scatter(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data), dtype)
    mask_shape = tuple(s if data.draw(st.booleans()) else 1 for s in a.shape)
    mask_shape = mask_shape[data.draw(st.integers(0, len(mask_shape))):]
    mask = rng_of(data).random(mask_shape) < 0.5
    full_mask = np.broadcast_to(mask, a.shape)
    source = grid(data, (int(full_mask.sum()) + data.draw(st.integers(0, 2)),), dtype)
    expected = a.copy()
    expected[full_mask] = source[:int(full_mask.sum())]
    same(tg.masked_scatter(t(a), t(mask), t(source)), expected)


@FUZZ
@given(st.data())
def test_unique(data):
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data), dtype, low=-1, high=1)
    if dtype != np.int64:
        a = np.round(a * 2) / 2
    if data.draw(st.booleans()) or not a.ndim:
        values, inverse, counts = tg.unique(t(a), return_inverse=True, return_counts=True)
        expected, e_inverse, e_counts = np.unique(a, return_inverse=True, return_counts=True)
        same(values, expected)
        same(inverse, e_inverse.reshape(a.shape))
        same(counts, e_counts)
    else:
        dim = dim_of(data, a.ndim)
        assume(a.size > 0)   # NumPy cannot take unique slices of an empty array
        values, inverse, counts = tg.unique(t(a), return_inverse=True, return_counts=True,
                                            dim=dim)
        expected, e_inverse, e_counts = np.unique(a, return_inverse=True, return_counts=True,
                                                  axis=dim)
        same(values, expected)
        same(inverse, e_inverse.reshape(a.shape[dim]))
        same(counts, e_counts)


@FUZZ
@given(st.data())
def test_searchsorted_bucketize(data):
    dtype = data.draw(st.sampled_from(ALL))
    right = data.draw(st.booleans())
    boundaries = np.sort(grid(data, shape_of(data, 1, 1), dtype))
    values = grid(data, shape_of(data), dtype)
    side = "right" if right else "left"
    out_int32 = data.draw(st.booleans())
    out = np.int32 if out_int32 else np.int64
    same(tg.bucketize(t(values), t(boundaries), right=right, out_int32=out_int32),
         np.searchsorted(boundaries, values, side=side).astype(out))
    rows = grid(data, shape_of(data, 1, 1) + boundaries.shape, dtype)
    rows = np.sort(rows, -1)
    queries = grid(data, rows.shape[:-1] + (data.draw(st.integers(0, 3)),), dtype)
    expected = np.stack([np.searchsorted(r, q, side=side) for r, q in zip(rows, queries)]) \
        if len(rows) else np.zeros(queries.shape, np.int64)
    same(tg.searchsorted(t(rows), t(queries), right=right), expected.astype(np.int64))
    same(tg.searchsorted(t(boundaries), t(values), side=side),
         np.searchsorted(boundaries, values, side=side).astype(np.int64))


@FUZZ
@given(st.data())
def test_sort_argsort_topk_kthvalue(data):
    """NaN sorts as the largest value (PyTorch); stable sorts keep ties in input order."""
    dtype = data.draw(st.sampled_from(ALL))
    a = grid(data, shape_of(data, min_dims=1), dtype, low=-1, high=1,
             nan=dtype != np.int64 and data.draw(st.booleans()))
    dim = dim_of(data, a.ndim)
    d = dim % a.ndim
    key = np.where(np.isnan(a), 10, a) if dtype != np.int64 else a   # NaN above all
    descending = data.draw(st.booleans())
    order = np.argsort(-key if descending else key, axis=dim, kind="stable")
    values, indices = t(a).sort(dim, descending=descending, stable=True)
    same(indices, order)
    same(values, np.take_along_axis(a, order, dim))
    same(tg.argsort(t(a), dim, descending=descending, stable=True), order)
    ascending = np.take_along_axis(a, np.argsort(key, axis=dim, kind="stable"), dim)
    along = [-1 if i == d else 1 for i in range(a.ndim)]
    k = data.draw(st.integers(0, a.shape[dim]))
    largest = data.draw(st.booleans())
    top_values, top_indices = t(a).topk(k, dim, largest=largest, sorted=True)
    picks = (np.arange(a.shape[dim] - 1, a.shape[dim] - 1 - k, -1) if largest
             else np.arange(k)).reshape(along)
    expected = np.take_along_axis(ascending, picks, dim)
    same(top_values, expected)
    np.testing.assert_array_equal(np.take_along_axis(a, host(top_indices), dim), expected)
    if a.shape[dim] and k:
        keepdim = data.draw(st.booleans())
        kth, where = tg.kthvalue(t(a), k, dim, keepdim=keepdim)
        expected = np.take(ascending, [k - 1], dim)
        same(kth, expected if keepdim else expected.squeeze(dim))
        np.testing.assert_array_equal(
            np.take_along_axis(a, host(where) if keepdim else np.expand_dims(host(where), dim),
                               dim), expected)


# --- einsum ---

@FUZZ
@given(st.data())
def test_einsum_random_equations(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    letters = "abcd"
    sizes = {c: data.draw(st.integers(0 if data.draw(st.booleans()) else 1, 3)) for c in letters}
    ellipsis = data.draw(st.booleans())
    batch = shape_of(data, max_dims=2, min_size=1) if ellipsis else ()
    operands, terms = [], []
    for _ in range(data.draw(st.integers(1, 3))):
        labels = "".join(data.draw(st.lists(st.sampled_from(letters), max_size=3)))
        dots = ellipsis and data.draw(st.booleans())
        where = data.draw(st.integers(0, len(labels)))
        own = batch[data.draw(st.integers(0, len(batch))):] if dots else ()
        own = tuple(1 if data.draw(st.booleans()) else s for s in own)
        term = labels[:where] + ("..." if dots else "") + labels[where:]
        shape = (tuple(sizes[c] for c in labels[:where]) + own
                 + tuple(sizes[c] for c in labels[where:]))
        terms.append(term)
        operands.append(grid(data, shape, dtype))
    used = sorted(set("".join(terms)) - {"."})
    if data.draw(st.booleans()):
        output = "".join(data.draw(st.permutations(used))[:data.draw(st.integers(0, len(used)))])
        if any("..." in term for term in terms):
            where = data.draw(st.integers(0, len(output)))
            output = output[:where] + "..." + output[where:]
        equation = ",".join(terms) + "->" + output
    else:
        equation = ",".join(terms)
    expected = np.einsum(equation, *[o.astype(np.float64) for o in operands])
    same(tg.einsum(equation, *[t(o) for o in operands]), np.asarray(expected).astype(dtype),
         rtol=1e-5)
    gradients = [apart(data, o.shape) for o in operands]
    check_grad(lambda *xs: tg.einsum(equation, *xs), *gradients)


# --- math ---

@FUZZ
@given(st.data())
def test_clamp_lerp_hypot_atan2(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    shape = shape_of(data)
    a, low, high = (grid(data, shape, dtype) for _ in range(3))
    same(tg.clamp(t(a), t(low), t(high)), np.minimum(np.maximum(a, low), high))
    same(tg.clamp(t(a), min=t(low)), np.maximum(a, low))
    same(tg.clamp(t(a), max=t(high)), np.minimum(a, high))
    weight = grid(data, shape, dtype, low=-1, high=2)
    same(tg.lerp(t(a), t(low), t(weight)), a + weight * (low - a))
    same(tg.lerp(t(a), t(low), 0.3), (a + 0.3 * (low - a)).astype(dtype))
    same(tg.hypot(t(a), t(low)), np.hypot(a, low))
    same(tg.atan2(t(a), t(low)), np.arctan2(a, low))


@FUZZ
@given(st.data())
def test_fmod_remainder_signs(data):
    dtype = data.draw(st.sampled_from(ALL))
    shape = shape_of(data)
    a = grid(data, shape, dtype, low=-5, high=5)
    b = grid(data, shape, dtype, low=-3, high=3)
    if dtype == np.int64:
        b[b == 0] = 2
    with np.errstate(invalid="ignore", divide="ignore"):
        same(tg.fmod(t(a), t(b)), np.fmod(a, b))
        same(tg.remainder(t(a), t(b)), np.remainder(a, b))
    scalar = data.draw(st.sampled_from([-3, 2, 1.5, -0.7]))
    if dtype == np.int64 and isinstance(scalar, float):
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        same(tg.fmod(t(a), scalar), np.fmod(a, np.asarray(scalar, dtype)))
        same(tg.remainder(t(a), scalar), np.remainder(a, np.asarray(scalar, dtype)))


@FUZZ
@given(st.data())
def test_logaddexp_xlogy_sinc_nan_to_num(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    shape = shape_of(data)
    special = np.array([0.0, -np.inf, np.inf, np.nan, 1.0, -1.0, 0.5], dtype)
    rng = rng_of(data)
    a, b = (special[rng.integers(0, len(special), shape)] for _ in range(2))
    with np.errstate(all="ignore"):
        same(tg.logaddexp(t(a), t(b)), np.logaddexp(a, b))
        expected = np.where(np.isnan(b), np.nan, np.where(a == 0, 0.0, a * np.log(b)))
        same(tg.xlogy(t(a), t(b)), expected.astype(dtype))
        same(tg.sinc(t(a)), np.sinc(a))
    same(tg.nan_to_num(t(a)), np.nan_to_num(a))
    same(tg.nan_to_num(t(a), nan=2.0, posinf=3.0, neginf=-4.0),
         np.nan_to_num(a, nan=2.0, posinf=3.0, neginf=-4.0))
    c = grid(data, shape, dtype, low=-3, high=3) + np.asarray(0.05, dtype)
    same(tg.trunc(t(c)), np.trunc(c))
    same(tg.frac(t(c)), c - np.trunc(c))


@FUZZ
@given(st.data())
def test_cross_cdist(data):
    dtype = data.draw(st.sampled_from(FLOATS))
    batch = shape_of(data, max_dims=2)
    dim = data.draw(st.integers(0, len(batch)))
    shape = batch[:dim] + (3,) + batch[dim:]
    a, b = grid(data, shape, dtype), grid(data, shape, dtype)
    same(tg.cross(t(a), t(b), dim=dim - len(shape) * data.draw(st.booleans())),
         np.cross(a, b, axis=dim))
    rows, columns, features = (data.draw(st.integers(0, 3)) for _ in range(3))
    x1 = grid(data, batch + (rows, features), dtype)
    x2 = grid(data, batch + (columns, features), dtype)
    p = data.draw(st.sampled_from([0.0, 1.0, 2.0, 3.0, math.inf]))
    difference = np.abs(x1[..., :, None, :].astype(np.float64) - x2[..., None, :, :])
    if p == 0:
        expected = (difference != 0).sum(-1).astype(np.float64)
    elif p == math.inf:
        expected = difference.max(-1, initial=0.0)
    else:
        expected = (difference ** p).sum(-1) ** (1 / p)
    same(tg.cdist(t(x1), t(x2), p=p), expected.astype(dtype), rtol=1e-4, atol=1e-5)


# --- float64 gradients (central differences) ---

def _smooth_cases():
    """(name, function of Tensors and drawn options, number of inputs, minimum dims)."""
    return {
        "cumsum": (lambda x, dim: x.cumsum(dim), 1),
        "cumprod": (lambda x, dim: x.cumprod(dim), 1),
        "prod": (lambda x, dim: x.prod(dim), 1),
        "prod_all": (lambda x, dim: tg.prod(x), 1),
        "cummax": (lambda x, dim: tg.cummax(x, dim).values, 1),
        "cummin": (lambda x, dim: tg.cummin(x, dim).values, 1),
        "logcumsumexp": (lambda x, dim: tg.logcumsumexp(x, dim), 1),
        "diff": (lambda x, dim: tg.diff(x, n=2, dim=dim), 1),
        "var": (lambda x, dim: tg.var_mean(x, dim, correction=0)[0], 1),
        "std_mean": (lambda x, dim: tg.std_mean(x, dim)[0] + tg.std_mean(x, dim)[1], 1),
        "median": (lambda x, dim: tg.median(x, dim).values, 1),
        "nanmedian": (lambda x, dim: tg.nanmedian(x, dim).values, 1),
        "quantile": (lambda x, dim: tg.quantile(x, 0.3, dim), 1),
        "quantile_mid": (lambda x, dim: tg.quantile(x, 0.3, dim, interpolation="midpoint"), 1),
        "quantile_each": (lambda x, dim: tg.cat([tg.quantile(
            x, tg.tensor(np.array([0.2, 0.7])), dim, keepdim=True, interpolation=how)
            for how in ("linear", "lower", "higher", "midpoint", "nearest")]), 1),
        "nanquantile": (lambda x, dim: tg.nanquantile(tg.where(x > 1.5, math.nan, x), 0.6,
                                                      dim), 1),
        "nanmedian_nan": (lambda x, dim: tg.nanmedian(tg.where(x > 1.5, math.nan, x), dim)
                          .values, 1),
        "scatter_mean_noself": (lambda x, y, dim: tg.scatter_reduce(
            x, dim, tg.zeros_like(y).long(), y, "mean", include_self=False), 2),
        "index_copy": (lambda x, y, dim: tg.index_copy(
            x, dim, tg.tensor(np.arange(x.shape[dim])[::-1].copy()), y), 2),
        "cumprod_two_zeros": (lambda x, dim: tg.where(x.abs() < 0.6, 0.0, x).cumprod(dim), 1),
        "kthvalue": (lambda x, dim: tg.kthvalue(x, 1, dim).values, 1),
        "sort": (lambda x, dim: x.sort(dim).values, 1),
        "topk": (lambda x, dim: x.topk(1, dim).values, 1),
        "aminmax": (lambda x, dim: tg.aminmax(x, dim=dim).max, 1),
        "mode": (lambda x, dim: tg.mode(x, dim).values, 1),
        "flip": (lambda x, dim: tg.flip(x, [dim]), 1),
        "roll": (lambda x, dim: tg.roll(x, 2, dim), 1),
        "movedim": (lambda x, dim: tg.movedim(x, dim, 0), 1),
        "unfold": (lambda x, dim: x.unfold(dim, 1, 2), 1),
        "repeat_interleave": (lambda x, dim: tg.repeat_interleave(x, 2, dim), 1),
        "cov": (lambda x, dim: tg.cov(x.reshape(-1, x.shape[-1])), 1),
        "corrcoef": (lambda x, dim: tg.corrcoef(x.reshape(-1, x.shape[-1])), 1),
        "logaddexp": (lambda x, y, dim: tg.logaddexp(x, y), 2),
        "hypot": (lambda x, y, dim: tg.hypot(x, y), 2),
        "atan2": (lambda x, y, dim: tg.atan2(x, y), 2),
        "lerp": (lambda x, y, dim: tg.lerp(x, y, 0.3), 2),
        "lerp_tensor": (lambda x, y, dim: tg.lerp(x, y, y * x), 2),
        "xlogy": (lambda x, y, dim: tg.xlogy(x, y.abs() + 0.1), 2),
        "clamp_tensor": (lambda x, y, dim: tg.clamp(x, min=y - 1.0, max=y + 0.3), 2),
        "fmod": (lambda x, y, dim: tg.fmod(x, y.abs() + 3.0), 2),
        "remainder": (lambda x, y, dim: tg.remainder(x, -(y.abs() + 3.0)), 2),
        "sinc": (lambda x, dim: tg.sinc(x), 1),
        "frac": (lambda x, dim: tg.frac(x), 1),
        "cdist1": (lambda x, y, dim: tg.cdist(x.reshape(-1, 1), y.reshape(-1, 1) + 5.0, p=1.0),
                   2),
        "cdist2": (lambda x, y, dim: tg.cdist(x.reshape(1, -1), y.reshape(1, -1), p=2.0), 2),
        "cdist3": (lambda x, y, dim: tg.cdist(x.reshape(1, -1), y.reshape(1, -1), p=3.0), 2),
        "cdist_inf": (lambda x, y, dim: tg.cdist(x.reshape(1, -1), y.reshape(1, -1) + 5.0,
                                                p=math.inf), 2),
        "take_along_dim": (lambda x, dim: tg.take_along_dim(
            x, tg.zeros_like(x).long(), dim), 1),
        "gather": (lambda x, dim: tg.gather(x, dim, tg.zeros_like(x).long()), 1),
        "scatter_add": (lambda x, y, dim: tg.scatter_add(x, dim, tg.zeros_like(y).long(), y),
                        2),
        "scatter_amax": (lambda x, y, dim: tg.scatter_reduce(
            x, dim, tg.zeros_like(y).long(), y, "amax", include_self=False), 2),
        "scatter_mean": (lambda x, y, dim: tg.scatter_reduce(
            x, dim, tg.zeros_like(y).long(), y, "mean"), 2),
        "scatter_prod": (lambda x, y, dim: tg.scatter_reduce(
            x, dim, tg.zeros_like(y).long(), y, "prod", include_self=False), 2),
        "masked_scatter": (lambda x, y, dim: tg.masked_scatter(x, x > 0, y.reshape(-1)), 2),
        "index_add": (lambda x, y, dim: tg.index_add(
            x, dim, tg.zeros(y.shape[dim % y.ndim], dtype=tg.int64), y, alpha=2), 2),
        "tril": (lambda x, dim: x.reshape(x.shape[0], -1).tril(-1), 1),
        "diagonal": (lambda x, dim: tg.diagonal(x.reshape(x.shape[0], -1), 1), 1),
        "diag_embed": (lambda x, dim: tg.diag_embed(x, -1, 0, -1), 1),
        "rot90": (lambda x, dim: tg.rot90(x.reshape(x.shape[0], -1), 3), 1),
    }


SMOOTH = _smooth_cases()


@FUZZ
@pytest.mark.parametrize("name", sorted(SMOOTH))
@given(data=st.data())
def test_gradients(name, data):
    function, inputs = SMOOTH[name]
    needs_two = name in ("std_mean", "cov", "corrcoef")   # one sample: NaN, as PyTorch
    shape = shape_of(data, min_dims=1, min_size=2 if needs_two else 1)
    dim = dim_of(data, len(shape))
    arrays = list(apart(data, (inputs,) + shape))   # no ties within or across inputs
    if name in ("cumprod", "prod", "prod_all") and data.draw(st.booleans()):
        arrays[0].flat[data.draw(st.integers(0, arrays[0].size - 1))] = 0.0
    if name in ("sinc",):
        arrays[0] = arrays[0] + 0.5 * (arrays[0] >= 0) - 0.5 * (arrays[0] < 0)
    if name == "clamp_tensor":   # away from the bounds y - 1 and y + 0.3 (kinks)
        assume(np.abs(arrays[0] - arrays[1] + 1.0).min() > 1e-3)
        assume(np.abs(arrays[0] - arrays[1] - 0.3).min() > 1e-3)
    if name == "remainder":      # away from x = 0, where it jumps
        assume(np.abs(arrays[0]).min() > 1e-3)
    if name == "frac":
        arrays[0] = np.round(arrays[0], 0) + apart(data, shape, 0.1, 0.9)
    check_grad(lambda *xs: function(*xs, dim), *arrays)


# --- the bugs the fuzzer found, pinned ---

def test_cov_of_one_variable_is_0d():
    """PyTorch squeezes cov's result: one variable in a (1, N) input gives a 0-d tensor
    (it gave (1, 1)), and corrcoef of it is cov / cov."""
    x = np.array([[0.5, -1.0, 2.0]])
    result = tg.cov(t(x))
    same(result, np.asarray(np.var(x, ddof=1)))
    same(tg.corrcoef(t(x)), np.asarray(1.0))


def test_cov_one_observation_one_weight_kind():
    """One observation with aweights only and correction=1: PyTorch's denominator is exactly
    0, so the result is NaN (a − a·a/a rounded to a tiny positive gave 0)."""
    for a in (0.09, 0.36, 1.44):   # a − a·a/a rounds to a tiny positive in float32
        x = t(np.array([0.5], np.float32))
        same(tg.cov(x, aweights=t(np.array([a], np.float32))), np.asarray(np.nan, np.float32))
    exact = tg.cov(t(np.array([[0.1], [0.7]])), fweights=t(np.array([3])), correction=0)
    np.testing.assert_array_equal(host(exact), np.zeros((2, 2)))   # not 0.1·3/3 − 0.1


def test_diff_n0_ignores_prepend_and_append():
    """torch.diff with n=0 returns the input; prepend and append are not joined on."""
    a = np.array([1.0, 4.0])
    same(tg.diff(t(a), n=0, prepend=t(np.array([7.0])), append=t(np.array([2.0, 3.0]))), a)
    x = t(a)
    y = tg.diff(x, n=0)
    y += 1  # a tensor of its own: the input is untouched
    same(x, a)
