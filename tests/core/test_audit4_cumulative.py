"""Audit of the running and calculus-like ops (cumsum, cumprod, cummax/cummin,
logcumsumexp, diff, gradient, trapezoid, cumulative_trapezoid, histc, histogram,
histogramdd, bincount, renorm): values, dtypes and gradients against plain-NumPy
references written from PyTorch's documented formulas, and PyTorch's refusals.

Fixed here: ``gradient`` of uint8 and bool inputs, ``trapezoid`` and
``cumulative_trapezoid`` of bool samples or a bool ``dx`` (PyTorch refuses them; we
computed), ``trapezoid`` over an empty dim (PyTorch's zeros keep y's dtype and skip the
check of x), ``renorm`` of integers (PyTorch's vector norm refuses them), ``bincount`` of
an empty input with weights (PyTorch gives int64 zeros), and ``histogram``/``histogramdd``
weights or edges of another dtype than the input (PyTorch refuses them)."""

import numpy as np
import pytest

import tinygrad_opt as tg


def on(device, values, dtype=None):
    return tg.tensor(np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype),
                     device=device)


def leaf(values, device="cpu"):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True, device=device)


def host(t):
    return t.numpy()


# --- fixed: gradient, trapezoid ---

def test_gradient_refuses_uint8_and_bool_inputs(device):
    with pytest.raises(TypeError, match="gradient: .*uint8"):
        tg.gradient(on(device, [1, 2, 4], np.uint8))
    with pytest.raises(TypeError, match="gradient: .*bool"):
        tg.gradient(on(device, [True, False, True]))
    # other integers are differences of int64 divided: float32, as PyTorch
    out, = tg.gradient(on(device, [1, 2, 4, 7], np.int16))
    assert out.dtype == tg.float32
    np.testing.assert_allclose(host(out), np.gradient(np.array([1.0, 2, 4, 7])))


@pytest.mark.parametrize("name", ["trapezoid", "cumulative_trapezoid"])
def test_trapezoids_refuse_bool_samples_and_a_bool_dx(device, name):
    integrate = getattr(tg, name)
    with pytest.raises(TypeError, match=f"{name}: .*bool"):
        integrate(on(device, [True, False, True]))
    with pytest.raises(TypeError, match=f"{name}: .*bool"):
        integrate(on(device, [1.0, 2.0, 3.0]), on(device, [True, False, True]))
    with pytest.raises(TypeError, match=f"{name}: dx must be a real number"):
        integrate(on(device, [1.0, 2.0, 3.0]), dx=True)


def test_trapezoid_over_an_empty_dim_is_zeros_in_y_dtype_whatever_x(device):
    ints = on(device, np.ones((2, 0), np.int32))
    out = tg.trapezoid(ints)
    assert out.dtype == tg.int32 and host(out).tolist() == [0, 0]
    assert tg.trapezoid(ints, dx=0.5).dtype == tg.int32
    # PyTorch returns before looking at x, so 5 points for 0 samples pass
    out = tg.trapezoid(on(device, np.ones((3, 0))), on(device, np.arange(5.0)))
    assert out.dtype == tg.float64 and host(out).tolist() == [0.0, 0.0, 0.0]
    flags = tg.trapezoid(on(device, np.ones((0, 2), bool)), dim=0)
    assert flags.dtype == tg.bool and host(flags).tolist() == [False, False]


# --- fixed: renorm, bincount, histogram, histogramdd ---

def test_renorm_refuses_integer_input(device):
    with pytest.raises(TypeError, match="renorm: input must be a float tensor.*int64"):
        tg.renorm(on(device, [[3, 4], [1, 0]]), 2, 0, 1.0)


def test_bincount_of_an_empty_input_is_int64_zeros_even_with_weights(device):
    empty = on(device, np.zeros(0, np.int64))
    out = tg.bincount(empty, weights=on(device, np.zeros(0)), minlength=3)
    assert out.dtype == tg.int64 and host(out).tolist() == [0, 0, 0]
    out = tg.bincount(empty, weights=on(device, np.zeros(0, np.float32)))
    assert out.dtype == tg.int64 and out.shape == (0,)
    # non-empty: float32 weights give float32, any other dtype float64
    index = on(device, [0, 2, 2, 4])
    for dtype, expected in ((np.float32, tg.float32), (np.float16, tg.float64),
                            (np.int64, tg.float64), (bool, tg.float64)):
        weights = np.array([1, 1, 0, 3]).astype(dtype)
        out = tg.bincount(index, weights=on(device, weights), minlength=6)
        assert out.dtype == expected
        np.testing.assert_array_equal(host(out), np.bincount([0, 2, 2, 4], weights, 6))


def test_histogram_weight_and_edges_must_have_the_input_dtype(device):
    x = on(device, [0.5, 1.5, 2.5])
    with pytest.raises(TypeError, match="histogram: weight .*float32.*float64"):
        tg.histogram(x, 3, weight=on(device, [1.0, 2.0, 3.0], np.float32))
    with pytest.raises(TypeError, match="histogram: bin edges .*int64.*float64"):
        tg.histogram(x, on(device, [0, 1, 3]))
    hist, edges = tg.histogram(x, on(device, [0.0, 1.0, 3.0]), weight=on(device, [1.0, 2.0, 4.0]))
    np.testing.assert_array_equal(host(hist), [1.0, 6.0])
    points = on(device, [[0.5, 0.5], [1.5, 2.5]])
    with pytest.raises(TypeError, match="histogramdd: weight .*float32.*float64"):
        tg.histogramdd(points, 2, weight=on(device, [1.0, 2.0], np.float32))
    with pytest.raises(TypeError, match="histogramdd: bin edges .*dim 1.*float32.*float64"):
        tg.histogramdd(points, [on(device, [0.0, 1.0, 3.0]), on(device, [0.0, 3.0], np.float32)])
    hist, _ = tg.histogramdd(points, [on(device, [0.0, 1.0, 3.0]), on(device, [0.0, 3.0])])
    np.testing.assert_array_equal(host(hist), [[1.0], [1.0]])


# --- checked: cumsum, cumprod ---

def np_cumprod_grad(x, g, dim):
    """dL/dx_j = Σ_{i≥j} g_i · Π_{k≤i, k≠j} x_k, by brute force (zeros need no care)."""
    x, g = np.moveaxis(x, dim, -1), np.moveaxis(g, dim, -1)
    out, n = np.zeros_like(x), x.shape[-1]
    for j in range(n):
        without_j = x.copy()
        without_j[..., j] = 1.0
        products = np.cumprod(without_j, axis=-1)
        out[..., j] = (g[..., j:] * products[..., j:]).sum(-1)
    return np.moveaxis(out, -1, dim)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod_gradient_with_several_zeros_matches_the_product_formula(device, rng, dim):
    a = rng.uniform(-2, 2, (3, 4, 5))
    a[a > 0.8] = 0.0                                     # several zeros per row
    g = rng.standard_normal(a.shape)
    x = leaf(a, device)
    x.cumprod(dim).backward(on(device, g))
    np.testing.assert_allclose(host(x.grad), np_cumprod_grad(a, g, dim), rtol=1e-12, atol=1e-12)
    assert tg.gradgradcheck(lambda t: t.cumprod(dim), [leaf(a[:2, :3, :3], device)])


def test_cumsum_cumprod_dtype_argument_and_integer_inputs(device):
    small = on(device, [200, 100, 2], np.uint8)
    out = small.cumsum(0)
    assert out.dtype == tg.int64 and host(out).tolist() == [200, 300, 302]   # no wrap
    assert host(tg.cumprod(small, 0)).tolist() == [200, 20000, 40000]
    ints = on(device, [3, -2, 5], np.int32)
    assert ints.cumsum(0, dtype=tg.int32).dtype == tg.int32
    out = tg.cumprod(ints, 0, dtype=tg.float64)
    assert out.dtype == tg.float64 and host(out).tolist() == [3.0, -6.0, -30.0]
    x = leaf([2.0, 0.0, 3.0], device)
    y = x.cumprod(0, dtype=tg.float32)            # the cast is in the graph
    assert y.dtype == tg.float32
    y.sum().backward()
    assert x.grad.dtype == tg.float64 and host(x.grad).tolist() == [1.0, 8.0, 0.0]


# --- checked: cummax, cummin, logcumsumexp ---

def test_cummax_cummin_gradient_with_ties_adds_up_at_the_later_index(device):
    x = leaf([1.0, 3.0, 3.0, 2.0, 3.0], device)
    values, indices = x.cummax(0)
    values.backward(on(device, [1.0, 10.0, 100.0, 1000.0, 10000.0]))
    assert host(indices).tolist() == [0, 1, 2, 2, 4]
    assert host(x.grad).tolist() == [1.0, 10.0, 1100.0, 0.0, 10000.0]
    values, indices = tg.cummin(on(device, [[2, 1, 1, 0]], np.int16), 1)
    assert values.dtype == tg.int16 and indices.dtype == tg.int64
    assert host(values).tolist() == [[2, 1, 1, 0]] and host(indices).tolist() == [[0, 1, 2, 3]]
    values, indices = on(device, np.zeros((0, 3))).cummax(0)
    assert values.shape == indices.shape == (0, 3) and indices.dtype == tg.int64


def np_logcumsumexp_grad(x, y, g):
    """PyTorch's logcumsumexp_backward in 1-D: exp(x + R(log g⁺ − y)) − exp(x + R(log g⁻ − y)),
    R the log-cum-sum-exp from the far end, log 0 taken as the dtype's lowest number."""
    lowest = np.finfo(x.dtype).min
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        parts = []
        for sign in (1.0, -1.0):
            log_g = np.where(sign * g > 0, np.log(np.abs(g)), lowest)
            from_end = np.logaddexp.accumulate((log_g - y)[::-1])[::-1]
            parts.append(np.exp(from_end + x))
        return parts[0] - parts[1]


@pytest.mark.parametrize("values", [[-np.inf, -np.inf, 0.0, -np.inf, 1.0],
                                    [0.5, np.inf, -1.0, np.inf],
                                    [2.0, -np.inf, -3.0, 0.0]])
def test_logcumsumexp_with_infinities_values_and_pytorchs_gradient(device, values):
    a = np.array(values)
    g = np.array([1.0, -2.0, 0.5, 3.0, -1.0])[:a.size]
    x = leaf(a, device)
    y = x.logcumsumexp(0)
    with np.errstate(invalid="ignore"):
        expected = np.logaddexp.accumulate(a)
        np.testing.assert_array_equal(host(y), expected)
        y.backward(on(device, g))
    np.testing.assert_allclose(host(x.grad), np_logcumsumexp_grad(a, expected, g),
                               rtol=1e-12, atol=1e-15)


# --- checked: diff, gradient ---

def test_diff_n_dim_prepend_append_and_bool(device, rng):
    a, before, after = rng.integers(-9, 9, (3, 4)), rng.integers(-9, 9, (2, 4)), \
        rng.integers(-9, 9, (1, 4))
    for n in (0, 1, 2, 3, 7):
        out = tg.diff(on(device, a), n, 0, prepend=on(device, before), append=on(device, after))
        reference = a if n == 0 else np.diff(a, n, 0, prepend=before, append=after)
        assert out.dtype == tg.int64
        np.testing.assert_array_equal(host(out), reference)
    flags = np.array([[True, False, False, True, True]])
    np.testing.assert_array_equal(host(tg.diff(on(device, flags), 2)), np.diff(flags, 2))
    x = leaf(rng.standard_normal((2, 5)), device)
    assert tg.gradcheck(lambda t: tg.diff(t, 2, -1, append=t[:, :1] * 3.0), [x])


def test_gradient_with_coordinate_tensors_for_two_dims_and_both_edge_orders(device, rng):
    a = rng.standard_normal((4, 5))
    rows, cols = np.cumsum(rng.uniform(0.2, 1.0, 4)), np.cumsum(rng.uniform(0.2, 1.0, 5))
    for edge_order in (1, 2):
        out = tg.gradient(on(device, a), spacing=[on(device, rows), on(device, cols)],
                          edge_order=edge_order)
        for got, expected in zip(out, np.gradient(a, rows, cols, edge_order=edge_order)):
            np.testing.assert_allclose(host(got), expected, rtol=1e-12, atol=1e-12)
        out = tg.gradient(on(device, a), spacing=[2.0, 0.5], dim=(1, 0), edge_order=edge_order)
        for got, expected in zip(out, np.gradient(a, 2.0, 0.5, axis=(1, 0), edge_order=edge_order)):
            np.testing.assert_allclose(host(got), expected, rtol=1e-12, atol=1e-12)
    coordinates = leaf(cols, device)
    assert tg.gradcheck(lambda f, c: tg.gradient(f, spacing=[c], dim=1, edge_order=2)[0],
                        (leaf(a, device), coordinates))


# --- checked: trapezoid, cumulative_trapezoid ---

def test_cumulative_trapezoid_with_broadcast_x_and_gradients(device, rng):
    y, x = rng.standard_normal((2, 3, 4)), np.cumsum(rng.uniform(0.1, 1, (3, 4)), axis=-1)
    steps = np.diff(x, axis=-1)
    expected = np.cumsum((y[..., 1:] + y[..., :-1]) * steps, axis=-1) / 2
    out = tg.cumulative_trapezoid(on(device, y), on(device, x))
    np.testing.assert_allclose(host(out), expected, rtol=1e-12)
    out = tg.cumulative_trapezoid(on(device, y), on(device, x[0, :3]), dim=1)
    expected = np.cumsum((y[:, 1:] + y[:, :-1]) * np.diff(x[0, :3])[:, None], axis=1) / 2
    np.testing.assert_allclose(host(out), expected, rtol=1e-12)
    assert tg.cumulative_trapezoid(on(device, np.ones((2, 1))), dx=3.0).shape == (2, 0)
    assert tg.gradcheck(lambda a, b: tg.cumulative_trapezoid(a, b), (leaf(y, device),
                                                                     leaf(x, device)))
    assert tg.gradcheck(lambda a, b: tg.trapezoid(a, b, dim=-1), (leaf(y, device),
                                                                  leaf(x, device)))


# --- checked: histc ---

def np_histc(a, bins, low, high):
    """PyTorch's histc: bin ⌊(v − low)·bins / (high − low)⌋ in a's dtype, v = high in the
    last bin, values outside [low, high] (and NaN) dropped; low == high: the data's range."""
    a = a.reshape(-1)
    if low == high and a.size:
        low, high = a.min(), a.max()
    if low == high:
        low, high = low - 1, high + 1
    low, high = a.dtype.type(low), a.dtype.type(high)
    counts = np.zeros(bins, a.dtype)
    for v in a:
        if low <= v <= high:
            counts[min(int((v - low) * bins / (high - low)), bins - 1)] += 1
    return counts


def test_histc_out_of_range_values_the_upper_edge_and_the_data_range(device, rng):
    a = np.concatenate([rng.uniform(-3, 3, 40), [1.0, -1.0, np.nan, 7.0]]).astype(np.float32)
    for bins, low, high in ((5, -1.0, 1.0), (3, 0, 0), (4, 2.5, 2.5), (7, -2, 2)):
        out = tg.histc(on(device, a.reshape(4, 11)), bins=bins, min=low, max=high) \
            if low != high else tg.histc(on(device, a[~np.isnan(a)]), bins=bins, min=low, max=high)
        data = a if low != high else a[~np.isnan(a)]
        assert out.dtype == tg.float32
        np.testing.assert_array_equal(host(out), np_histc(data, bins, low, high))
    same = tg.histc(on(device, [2.0, 2.0, 2.0]), bins=4)           # range [1, 3]
    np.testing.assert_array_equal(host(same), [0.0, 0.0, 3.0, 0.0])
    with pytest.raises(ValueError, match="histc: range of .* is not finite"):
        tg.histc(on(device, [1.0, np.nan]))


# --- checked: renorm ---

def np_renorm(a, p, dim, maxnorm):
    """PyTorch's renorm: slices along dim with norm > maxnorm times maxnorm / (norm + 1e-7)."""
    others = tuple(d for d in range(a.ndim) if d != dim % a.ndim)
    if np.isinf(p):
        norm = np.abs(a).max(axis=others, keepdims=True)
    else:
        norm = (np.abs(a) ** p).sum(axis=others, keepdims=True) ** (1 / p)
    return a * np.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)


@pytest.mark.parametrize("p", [0.5, 1, 2, 3.5, np.inf])
def test_renorm_values_and_gradients_for_each_p(device, rng, p):
    a = rng.standard_normal((3, 2, 4))
    a[0, 0, 1] = 0.0                       # a zero inside a slice that is scaled
    for dim in (0, 1, -1):
        np.testing.assert_allclose(host(tg.renorm(on(device, a), p, dim, 1.5)),
                                   np_renorm(a, p, dim, 1.5), rtol=1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert tg.gradcheck(lambda t: tg.renorm(t, p, 0, 1.5), [leaf(a, device)])
