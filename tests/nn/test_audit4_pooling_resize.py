"""Audit of pooling (max, average, power, adaptive, unpooling) against PyTorch's documented
rules, every reference written here in plain NumPy, one window at a time.

The regressions pinned here: the poolings refused an option given as a 1-tuple
(``kernel_size=(3,)`` for 3 in every spatial dim) and an empty ``stride`` (``()`` or
``[]``: the kernel size), which PyTorch's pooling kernels take; and the adaptive poolings
of an input with an empty spatial dim gave NaNs (average) or an error from inside ``max``,
where PyTorch refuses the input, naming the pooling.
"""

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


# ------------------------------------------------------------------------ NumPy references

def pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling_output_shape along one dim."""
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def np_max_pool(x, k, s, p, d, ceil_mode=False):
    """(values, first-maximum flat indices) of an N-d max pooling of x (N, C, *sizes)."""
    sizes = x.shape[2:]
    outs = [pool_out(*args, ceil_mode) for args in zip(sizes, k, s, p, d)]
    y = np.empty(x.shape[:2] + tuple(outs))
    where_from = np.empty(y.shape, dtype=np.int64)
    for o in itertools.product(*map(range, outs)):
        best = index = None
        for tap in itertools.product(*map(range, k)):
            pos = [oo * ss - pp + tt * dd for oo, ss, pp, tt, dd in zip(o, s, p, tap, d)]
            if all(0 <= q < n for q, n in zip(pos, sizes)):
                value = x[(Ellipsis,) + tuple(pos)]
                flat = np.ravel_multi_index(pos, sizes)
                if best is None:
                    best, index = value.copy(), np.full(value.shape, flat)
                else:
                    index = np.where(value > best, flat, index)
                    best = np.maximum(best, value)
        y[(Ellipsis,) + o], where_from[(Ellipsis,) + o] = best, index
    return y, where_from


def np_avg_pool(x, k, s, p, ceil_mode=False, count_include_pad=True, divisor=None):
    """An N-d average pooling of x (N, C, *sizes) with PyTorch's divisor."""
    sizes = x.shape[2:]
    outs = [pool_out(n, kk, ss, pp, 1, ceil_mode) for n, kk, ss, pp in zip(sizes, k, s, p)]
    y = np.empty(x.shape[:2] + tuple(outs))
    for o in itertools.product(*map(range, outs)):
        total, padded, inside = 0.0, 1, 1
        for a, n in enumerate(sizes):
            start = o[a] * s[a] - p[a]
            end = min(start + k[a], n + p[a])
            padded *= end - start
            inside *= min(end, n) - max(start, 0)
        for tap in itertools.product(*map(range, k)):
            pos = [oo * ss - pp + tt for oo, ss, pp, tt in zip(o, s, p, tap)]
            if all(0 <= q < n for q, n in zip(pos, sizes)):
                total = total + x[(Ellipsis,) + tuple(pos)]
        y[(Ellipsis,) + o] = total / (divisor or (padded if count_include_pad else inside))
    return y


def t(array, device="cpu"):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64, device=device)


# ------------------------------------------------ options as 1-tuples, an empty stride (PyTorch's)

def test_pool2d_takes_one_tuple_options_and_an_empty_stride(device, rng):
    x = rng.standard_normal((2, 3, 7, 6))
    y, where_from = np_max_pool(x, (3, 3), (3, 3), (1, 1), (1, 1))
    for stride in ((), [], None):
        got, indices = F.max_pool2d(t(x, device), (3,), stride, (1,), (1,), return_indices=True)
        np.testing.assert_array_equal(got.numpy(), y)
        np.testing.assert_array_equal(indices.numpy(), where_from)
    y, _ = np_max_pool(x, (2, 2), (1, 1), (1, 1), (2, 2), ceil_mode=True)
    got = F.max_pool2d(t(x, device), [2], [1], [1], [2], ceil_mode=True)
    np.testing.assert_array_equal(got.numpy(), y)
    np.testing.assert_allclose(F.avg_pool2d(t(x, device), (3,), (), (1,), True, False).numpy(),
                               np_avg_pool(x, (3, 3), (3, 3), (1, 1), True, False), atol=1e-12)
    np.testing.assert_allclose(nn.AvgPool2d((2,), (1,))(t(x, device)).numpy(),
                               np_avg_pool(x, (2, 2), (1, 1), (0, 0)), atol=1e-12)
    layer = nn.MaxPool2d((3,), (), (1,))
    np.testing.assert_array_equal(layer(t(x, device)).numpy(),
                                  np_max_pool(x, (3, 3), (3, 3), (1, 1), (1, 1))[0])


def test_pool1d_and_3d_take_an_empty_stride_and_one_tuples(device, rng):
    x = rng.standard_normal((2, 3, 9))
    y, where_from = np_max_pool(x, (3,), (3,), (1,), (1,))
    got, indices = F.max_pool1d(t(x, device), 3, (), 1, return_indices=True)
    np.testing.assert_array_equal(got.numpy(), y)
    np.testing.assert_array_equal(indices.numpy(), where_from)
    np.testing.assert_array_equal(nn.MaxPool1d(3, [], 1)(t(x, device)).numpy(), y)
    np.testing.assert_allclose(F.avg_pool1d(t(x, device), (2,), [], 1, False, False).numpy(),
                               np_avg_pool(x, (2,), (2,), (1,), False, False), atol=1e-12)
    volume = rng.standard_normal((1, 2, 4, 5, 3))
    y, where_from = np_max_pool(volume, (2, 2, 2), (2, 2, 2), (1, 1, 1), (1, 1, 1), True)
    got, indices = F.max_pool3d(t(volume, device), (2,), (), (1,), (1,), True, True)
    np.testing.assert_array_equal(got.numpy(), y)
    np.testing.assert_array_equal(indices.numpy(), where_from)
    np.testing.assert_allclose(
        F.avg_pool3d(t(volume, device), (3,), (), (1,), True, False, None).numpy(),
        np_avg_pool(volume, (3, 3, 3), (3, 3, 3), (1, 1, 1), True, False), atol=1e-12)
    np.testing.assert_allclose(nn.AvgPool3d((2,), (1,))(t(volume, device)).numpy(),
                               np_avg_pool(volume, (2, 2, 2), (1, 1, 1), (0, 0, 0)), atol=1e-12)


def test_lp_pool_with_an_empty_stride_pools_with_stride_kernel_size(device, rng):
    x = np.abs(rng.standard_normal((2, 3, 5, 7))) + 0.1
    expected = np_avg_pool(x ** 3, (2, 3), (2, 3), (0, 0), True) * 6
    got = F.lp_pool2d(t(x, device), 3, (2, 3), (), ceil_mode=True)
    np.testing.assert_allclose(got.numpy(), expected ** (1 / 3), rtol=1e-12)


def test_pool_options_still_refuse_wrong_lengths():
    x = t(np.zeros((1, 1, 6, 6)))
    with pytest.raises(TypeError, match="max_pool2d: kernel_size"):
        F.max_pool2d(x, (2, 2, 2))
    with pytest.raises(TypeError, match="avg_pool2d: stride"):
        F.avg_pool2d(x, 2, (1, 1, 1))
    with pytest.raises(TypeError, match="max_pool3d: padding"):
        F.max_pool3d(t(np.zeros((1, 1, 4, 4, 4))), 2, None, (1, 1))
    with pytest.raises(ValueError, match="max_pool2d: pad should be at most half"):
        F.max_pool2d(x, (2,), padding=(2,))


# --------------------------------------------------------- adaptive pooling of an empty dim

@pytest.mark.parametrize("name, shape", [
    ("adaptive_avg_pool1d", (2, 3, 0)), ("adaptive_max_pool1d", (2, 3, 0)),
    ("adaptive_avg_pool2d", (2, 3, 0, 4)), ("adaptive_max_pool2d", (2, 3, 4, 0)),
    ("adaptive_avg_pool2d", (3, 0, 4)), ("adaptive_avg_pool3d", (1, 2, 3, 0, 2)),
    ("adaptive_max_pool3d", (1, 2, 0, 3, 2))])
def test_adaptive_pooling_refuses_an_empty_spatial_dim(name, shape):
    with pytest.raises(ValueError, match=f"{name}: .*non-zero size"):
        getattr(F, name)(t(np.zeros(shape)), 2)


def test_adaptive_pooling_of_an_empty_batch_or_channel_dim_is_empty(rng):
    for shape in [(0, 3, 5, 4), (2, 0, 5, 4)]:
        y, indices = F.adaptive_max_pool2d(t(np.zeros(shape)), (2, 3), return_indices=True)
        assert y.shape == indices.shape == shape[:2] + (2, 3)
        assert F.adaptive_avg_pool2d(t(np.zeros(shape)), 3).shape == shape[:2] + (3, 3)
