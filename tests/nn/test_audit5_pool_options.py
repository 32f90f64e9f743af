"""Pooling options, second pass: ceil_mode's last-window rule, dilation with indices, the
average's divisor, LPPool, adaptive pools with indices and NumPy-int sizes, MaxUnpool's
output_size and FractionalMaxPool2d, each against a NumPy loop over windows written here
from PyTorch's documented formulas (float64), with gradchecks and the fused twins against
their composed oracles."""

import itertools
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import functional_conv as fc


def t(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def distinct(rng, shape):
    """Distinct values (no ties, so each window has one maximum)."""
    return rng.permutation(math.prod(shape)).reshape(shape) * 0.25 - 3.0


# ----------------------------------------------------------- independent NumPy references

def out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size: in ceil mode a last window that would start in the
    right padding is dropped (every window starts inside the input or the left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def ref_max_pool(x, k, s, p, d, ceil_mode):
    """Max over each window of x (N, C, *spatial) and the flat index of its first maximum."""
    spatial = x.shape[2:]
    outs = [out_size(n, *o, ceil_mode) for n, *o in zip(spatial, k, s, p, d)]
    y = np.empty(x.shape[:2] + tuple(outs))
    idx = np.empty(y.shape, dtype=np.int64)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for o in itertools.product(*map(range, outs)):
            best, where = -np.inf, -1
            for tap in itertools.product(*map(range, k)):
                pos = [o[a] * s[a] - p[a] + tap[a] * d[a] for a in range(len(spatial))]
                if all(0 <= q < m for q, m in zip(pos, spatial)) and (
                        where < 0 or x[(n, c) + tuple(pos)] > best):
                    best, where = x[(n, c) + tuple(pos)], np.ravel_multi_index(pos, spatial)
            y[(n, c) + o], idx[(n, c) + o] = best, where
    return y, idx


def ref_avg_pool(x, k, s, p, ceil_mode, count_include_pad, divisor_override=None):
    """PyTorch's average: the window sum over the input, divided by divisor_override, or by
    the window clipped to input + padding (count_include_pad), or to the input alone."""
    spatial = x.shape[2:]
    outs = [out_size(n, ka, sa, pa, 1, ceil_mode) for n, ka, sa, pa in zip(spatial, k, s, p)]
    y = np.empty(x.shape[:2] + tuple(outs))
    for o in itertools.product(*map(range, outs)):
        start = [o[a] * s[a] - p[a] for a in range(len(spatial))]
        end = [min(start[a] + k[a], spatial[a] + p[a]) for a in range(len(spatial))]
        padded_count = math.prod(e - b for b, e in zip(start, end))
        start = [max(b, 0) for b in start]
        end = [min(e, m) for e, m in zip(end, spatial)]
        box = (slice(None), slice(None)) + tuple(slice(b, e) for b, e in zip(start, end))
        total = x[box].sum(axis=tuple(range(2, x.ndim)))
        divisor = (divisor_override or
                   (padded_count if count_include_pad else
                    math.prod(e - b for b, e in zip(start, end))))
        y[(slice(None), slice(None)) + o] = total / divisor
    return y


def bins(size, out):
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def ref_adaptive(x, outs, reduce):
    """Adaptive pooling over PyTorch's bins [floor(i·L/O), ceil((i+1)·L/O)), and the flat
    index of each bin's first maximum."""
    spatial = x.shape[2:]
    y = np.empty(x.shape[:2] + tuple(outs))
    idx = np.empty(y.shape, dtype=np.int64)
    for o in itertools.product(*map(range, outs)):
        box = [bins(n, m)[i] for n, m, i in zip(spatial, outs, o)]
        window = x[(slice(None), slice(None)) + tuple(slice(b, e) for b, e in box)]
        flat = window.reshape(x.shape[:2] + (-1,))
        plane = np.arange(math.prod(spatial)).reshape(spatial)[tuple(slice(b, e) for b, e in box)]
        y[(...,) + o] = flat.max(-1) if reduce == "max" else flat.mean(-1)
        idx[(...,) + o] = plane.reshape(-1)[flat.argmax(-1)]
    return y, idx


# ------------------------------------------------ max pooling: ceil_mode, dilation, indices

MAX_CASES = [  # size, kernel, stride, padding, dilation, ceil_mode
    (7, 3, 2, 1, 2, True),    # dilation with ceil: the last window runs past the end
    (6, 2, 2, 1, 1, True),    # the ceil window would start in the right padding: dropped
    (8, 4, 3, 2, 1, True),    # padding = kernel / 2, ceil mode
    (5, 2, 3, 0, 2, True),    # stride > effective kernel
    (9, 3, 2, 1, 3, False),
]


@pytest.mark.parametrize("n, k, s, p, d, ceil_mode", MAX_CASES)
def test_max_pool_1d_2d_3d_values_and_indices_match_window_loops(n, k, s, p, d, ceil_mode,
                                                                  device, rng):
    for dims, pool in ((1, F.max_pool1d), (2, F.max_pool2d), (3, F.max_pool3d)):
        shape = (2, 2) + (n, n - 1, n - 2)[:dims]
        x = distinct(rng, shape)
        expected, expected_indices = ref_max_pool(x, (k,) * dims, (s,) * dims, (p,) * dims,
                                                  (d,) * dims, ceil_mode)
        y, indices = pool(t(x, device), k, s, p, d, ceil_mode, return_indices=True)
        np.testing.assert_array_equal(y.numpy(), expected)
        np.testing.assert_array_equal(indices.numpy(), expected_indices)
        np.testing.assert_array_equal(pool(t(x, device), k, s, p, d, ceil_mode).numpy(),
                                      expected)


@pytest.mark.parametrize("n, k, s, p, d, ceil_mode", MAX_CASES)
def test_max_pool2d_fused_twin_matches_its_composition(n, k, s, p, d, ceil_mode, device, rng):
    x = t(rng.standard_normal((2, 2, n, n + 1)), device, requires_grad=True)
    fused = F.max_pool2d(x, k, s, p, d, ceil_mode)
    ready, options = fc._pool_input(x, k, s, p, d, ceil_mode, -math.inf, "max_pool2d")
    cols, OH, OW = fc._im2col(ready, *options, "max_pool2d", pad_value=-math.inf)
    composed = cols.reshape(2, 2, k * k, OH * OW).max(dim=2).reshape(2, 2, OH, OW)
    np.testing.assert_array_equal(fused.numpy(), composed.numpy())
    weights = t(rng.standard_normal(fused.shape), device)
    ours, = tg.grad((fused * weights).sum(), [x])
    theirs, = tg.grad((composed * weights).sum(), [x])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool_with_dilation_and_ceil_mode_gradchecks(device, rng):
    x1 = t(distinct(rng, (1, 2, 9)), device, requires_grad=True)
    x3 = t(distinct(rng, (1, 1, 5, 6, 4)), device, requires_grad=True)
    assert tg.gradcheck(lambda a: F.max_pool1d(a, 3, 2, 1, 2, True, True)[0], [x1])
    assert tg.gradcheck(lambda a: F.max_pool3d(a, 2, 2, 1, 2, True, True)[0], [x3])
    assert tg.gradcheck(lambda a: F.max_pool3d(a, 3, 2, 1, 1, True), [x3])


@pytest.mark.parametrize("pool, shape, dilation", [
    (F.max_pool1d, (1, 1, 9), 2), (F.max_pool2d, (1, 1, 9, 9), 2),
    (F.max_pool3d, (1, 1, 9, 9, 9), 2)])
def test_padding_over_half_the_kernel_is_refused_even_with_dilation(pool, shape, dilation,
                                                                    device):
    # PyTorch's shape check compares padding with kernel_size // 2, whatever the dilation
    with pytest.raises(ValueError, match=f"{pool.__name__}: pad should be at most half"):
        pool(tg.zeros(*shape, device=device), 3, 1, 2, dilation)


# --------------------------------------------------------- average pooling: the divisor

AVG_CASES = [  # size, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    (7, 3, 2, 1, True, True, None),   # the ceil window hangs over: clipped to input + padding
    (7, 3, 2, 1, True, False, None),
    (8, 4, 3, 2, True, True, None),
    (8, 4, 3, 2, True, False, None),
    (6, 2, 3, 1, True, True, None),
    (7, 3, 2, 1, True, False, 5),
    (7, 2, 2, 1, False, True, -3),
]


@pytest.mark.parametrize("n, k, s, p, ceil_mode, include, divisor", AVG_CASES)
def test_avg_pool_1d_2d_3d_divisor_matches_pytorch_rule(n, k, s, p, ceil_mode, include,
                                                       divisor, device, rng):
    for dims, pool in ((1, F.avg_pool1d), (2, F.avg_pool2d), (3, F.avg_pool3d)):
        if dims == 1 and divisor is not None:        # avg_pool1d has no divisor_override
            continue
        x = rng.standard_normal((2, 2) + (n, n + 1, n - 1)[:dims])
        expected = ref_avg_pool(x, (k,) * dims, (s,) * dims, (p,) * dims, ceil_mode, include,
                                divisor)
        extra = () if dims == 1 else (divisor,)
        y = pool(t(x, device), k, s, p, ceil_mode, include, *extra)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, k, s, p, ceil_mode, include, divisor", AVG_CASES)
def test_avg_pool2d_fused_twin_matches_its_composition(n, k, s, p, ceil_mode, include,
                                                      divisor, device, rng):
    x = t(rng.standard_normal((2, 2, n, n + 1)), device, requires_grad=True)
    fused = F.avg_pool2d(x, k, s, p, ceil_mode, include, divisor)
    ready, options = fc._pool_input(x, k, s, p, 1, ceil_mode, 0.0, "avg_pool2d")
    cols, OH, OW = fc._im2col(ready, *options, "avg_pool2d")
    sums = cols.reshape(2, 2, k * k, OH * OW).sum(dim=2)
    counts = divisor or fc._window_sizes(x, ready, options, include, "avg_pool2d")
    composed = (sums / counts).reshape(2, 2, OH, OW)
    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-12, atol=1e-12)
    weights = t(rng.standard_normal(fused.shape), device)
    ours, = tg.grad((fused * weights).sum(), [x])
    theirs, = tg.grad((composed * weights).sum(), [x])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_avg_pool_ceil_mode_and_divisor_gradcheck(device, rng):
    x2 = t(rng.standard_normal((1, 2, 7, 8)), device, requires_grad=True)
    x3 = t(rng.standard_normal((1, 1, 5, 6, 4)), device, requires_grad=True)
    assert tg.gradcheck(lambda a: F.avg_pool2d(a, (3, 2), (2, 3), 1, True, False), [x2])
    assert tg.gradcheck(lambda a: F.avg_pool3d(a, 3, 2, 1, True, True, 7), [x3])
    assert tg.gradcheck(lambda a: F.avg_pool3d(a, 2, 3, 1, True, False), [x3])


# -------------------------------------------------------------------------------------- LPPool

def ref_lp_pool(x, p, k, s, ceil_mode):
    """PyTorch's formula: avg_pool(x^p) · (window size), then sign(y)·relu(|y|) ^ (1/p), a
    NaN for a negative sum (odd p), the ceil window's mean scaled by the full kernel."""
    dims = x.ndim - 2
    y = ref_avg_pool(x ** p, (k,) * dims, (s,) * dims, (0,) * dims, ceil_mode, True)
    y = np.sign(y) * np.maximum(np.abs(y), 0) * k ** dims
    with np.errstate(invalid="ignore"):
        return y ** (1.0 / p)


@pytest.mark.parametrize("p, k, s, ceil_mode", [(2, 3, 2, True), (3, 3, 2, True),
                                                (1.5, 2, None, True), (1, 2, 1, False)])
def test_lp_pool_1d_2d_3d_and_modules_match_pytorch_formula(p, k, s, ceil_mode, device, rng):
    for dims, pool, layer in ((1, F.lp_pool1d, nn.LPPool1d), (2, F.lp_pool2d, nn.LPPool2d),
                              (3, F.lp_pool3d, nn.LPPool3d)):
        x = rng.standard_normal((2, 2) + (8, 5, 7)[:dims])
        if p == 1.5:                                 # a fractional power needs x >= 0
            x = np.abs(x)
        expected = ref_lp_pool(x, p, k, s or k, ceil_mode)
        with np.errstate(invalid="ignore"):
            y = pool(t(x, device), p, k, s, ceil_mode)
            z = layer(p, k, s, ceil_mode)(t(x, device))
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(z.numpy(), expected, rtol=1e-12, equal_nan=True)


def test_lp_pool_ceil_mode_gradchecks(device, rng):
    x = t(np.abs(rng.standard_normal((1, 2, 5, 7))) + 0.3, device, requires_grad=True)
    assert tg.gradcheck(lambda a: F.lp_pool2d(a, 3, (2, 3), 2, True), [x])
    assert tg.gradcheck(lambda a: F.lp_pool1d(a[:, :, 0], 2, 3, 2, True), [x])


# ----------------------------------------------------------------------- adaptive pooling

@pytest.mark.parametrize("sizes, outs", [((7,), (3,)), ((3,), (5,)), ((5, 4), (3, None)),
                                         ((2, 5), (4, 3)), ((4, 3, 5), (2, None, 3)),
                                         ((2, 3, 2), (3, 4, 1))])
def test_adaptive_max_with_indices_and_avg_match_bin_loops(sizes, outs, device, rng):
    dims = len(sizes)
    maxes = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
    avgs = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
    x = distinct(rng, (2, 3) + sizes)
    full = tuple(n if o is None else o for n, o in zip(sizes, outs))
    expected, expected_indices = ref_adaptive(x, full, "max")
    mean, _ = ref_adaptive(x, full, "mean")
    arg = outs[0] if dims == 1 else outs
    y, indices = maxes[dims](t(x, device), arg, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)
    np.testing.assert_allclose(avgs[dims](t(x, device), arg).numpy(), mean, rtol=1e-12)
    y, indices = maxes[dims](t(x[0], device), arg, return_indices=True)   # unbatched
    np.testing.assert_array_equal(indices.numpy(), expected_indices[0])
    xg = t(x[:1, :1], device, requires_grad=True)                       # one plane: fast
    assert tg.gradcheck(lambda a: maxes[dims](a, arg, True)[0], [xg])


def test_adaptive_pools_accept_numpy_integer_output_sizes(device, rng):
    # NumPy integers are ints to PyTorch's int-list arguments (as to every pooling here)
    x = rng.standard_normal((1, 2, 5, 6, 7))
    cases = [(F.adaptive_avg_pool1d, x[:, :, 0, 0], np.int64(3), "mean"),
             (F.adaptive_max_pool1d, x[:, :, 0, 0], (np.int32(4),), "max"),
             (F.adaptive_avg_pool2d, x[:, :, 0], (np.int64(3), None), "mean"),
             (F.adaptive_max_pool2d, x[:, :, 0], np.int64(2), "max"),
             (nn.AdaptiveAvgPool2d(np.int64(4)), x[:, :, 0], np.int64(4), "mean"),
             (F.adaptive_avg_pool3d, x, (np.int64(2), 3, None), "mean"),
             (F.adaptive_max_pool3d, x, np.int64(2), "max")]
    for pool, data, size, reduce in cases:
        dims = data.ndim - 2
        sizes = size if isinstance(size, tuple) else (size,) * dims
        full = tuple(int(n if o is None else o) for n, o in zip(data.shape[2:], sizes))
        expected, _ = ref_adaptive(data, full, reduce)
        y = pool(t(data, device)) if isinstance(pool, nn.Module) else pool(t(data, device), size)
        assert y.shape == expected.shape and all(type(n) is int for n in y.shape)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)


# ------------------------------------------------------------------ MaxUnpool's output_size

@pytest.mark.parametrize("dims, k, s, p", [(1, 3, 2, 1), (2, 2, 3, 1), (3, 2, 2, 0)])
def test_max_unpool_output_size_within_a_stride_of_the_default(dims, k, s, p, device, rng):
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[dims]
    unpool = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}[dims]
    layer = {1: nn.MaxUnpool1d, 2: nn.MaxUnpool2d, 3: nn.MaxUnpool3d}[dims]
    x = distinct(rng, (2, 2) + (7, 6, 5)[:dims])
    y, indices = pool(t(x, device), k, s, p, return_indices=True)
    default = [(n - 1) * s - 2 * p + k for n in y.shape[2:]]
    values, where = y.numpy().reshape(2, 2, -1), indices.numpy().reshape(2, 2, -1)
    for delta in range(1 - s, s):
        size = [n + delta for n in default]
        if math.prod(size) <= where.max():
            continue
        expected = np.zeros((2, 2, math.prod(size)))
        for n, c in itertools.product(range(2), range(2)):
            expected[n, c, where[n, c]] = values[n, c]
        expected = expected.reshape((2, 2) + tuple(size))
        np.testing.assert_array_equal(unpool(y, indices, k, s, p, size).numpy(), expected)
        np.testing.assert_array_equal(
            layer(k, s, p)(y, indices, output_size=[2, 2] + size).numpy(), expected)
    for delta in (-s, s):                            # a full stride off: PyTorch refuses
        with pytest.raises(ValueError, match=f"max_unpool{dims}d: invalid output_size"):
            unpool(y, indices, k, s, p, [n + delta for n in default])
    with pytest.raises(ValueError, match=f"max_unpool{dims}d: output_size must have"):
        unpool(y, indices, k, s, p, [1] + default)


def test_max_unpool_output_size_that_is_not_a_sequence_names_the_argument(device):
    x = tg.zeros(1, 2, 3, device=device)
    indices = tg.zeros(1, 2, 3, dtype="int64", device=device)
    with pytest.raises(TypeError, match=r"max_unpool1d: output_size must be a sequence .*got 7"):
        F.max_unpool1d(x, indices, 2, output_size=7)
    with pytest.raises(TypeError, match=r"max_unpool2d: output_size must be a sequence"):
        F.max_unpool2d(x.unsqueeze(3), indices.unsqueeze(3), 2, output_size=6)


def test_max_unpool_with_output_size_gradchecks(device, rng):
    y, indices = F.max_pool2d(t(distinct(rng, (1, 2, 5, 4)), device), 2, 2, return_indices=True)
    leaf = t(y.numpy(), device, requires_grad=True)
    assert tg.gradcheck(lambda a: F.max_unpool2d(a, indices, 2, 2, 0, (5, 5)), [leaf])


# ------------------------------------------------------------------- FractionalMaxPool2d

def ref_starts(u, size, out, k):
    """PyTorch's generate_intervals: ⌊(i + u)·α⌋ − ⌊u·α⌋, α = (size − k)/(out − 1), and
    the last window at size − k."""
    starts = [size - k] * out
    if out > 1:
        alpha = (size - k) / (out - 1)
        starts[:-1] = [int((i + u) * alpha) - int(u * alpha) for i in range(out - 1)]
    return starts


@pytest.mark.parametrize("H, W, kernel, output_size, output_ratio", [
    (9, 8, 2, (4, 5), None), (10, 7, (3, 2), None, (0.5, 0.6)), (7, 9, 2, (1, 1), None),
    (8, 8, 3, None, 0.75)])
def test_fractional_max_pool2d_matches_pytorch_intervals(H, W, kernel, output_size,
                                                         output_ratio, device, rng):
    x = distinct(rng, (2, 3, H, W))
    samples = rng.random((2, 3, 2))                  # (u_w, u_h) per plane
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    ratio = (output_ratio, output_ratio) if isinstance(output_ratio, float) else output_ratio
    OH, OW = output_size or (int(H * ratio[0]), int(W * ratio[1]))
    expected = np.empty((2, 3, OH, OW))
    expected_indices = np.empty((2, 3, OH, OW), dtype=np.int64)
    for n, c in itertools.product(range(2), range(3)):
        rows = ref_starts(samples[n, c, 1], H, OH, kh)
        columns = ref_starts(samples[n, c, 0], W, OW, kw)
        for i, j in itertools.product(range(OH), range(OW)):
            window = x[n, c, rows[i]:rows[i] + kh, columns[j]:columns[j] + kw]
            h, w = np.unravel_index(window.argmax(), window.shape)
            expected[n, c, i, j] = window[h, w]
            expected_indices[n, c, i, j] = (rows[i] + h) * W + columns[j] + w
    y, indices = F.fractional_max_pool2d(t(x, device), kernel, output_size, output_ratio, True,
                                         _random_samples=t(samples, device))
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)
    layer = nn.FractionalMaxPool2d(kernel, output_size, output_ratio, return_indices=True,
                                   _random_samples=t(samples, device))
    np.testing.assert_array_equal(layer(t(x, device))[1].numpy(), expected_indices)
    if output_size == (4, 5):                        # one gradcheck, on one plane: fast
        leaf = t(x[:1, :1], device, requires_grad=True)
        assert tg.gradcheck(lambda a: F.fractional_max_pool2d(
            a, kernel, output_size, _random_samples=t(samples[:1, :1], device)), [leaf])
