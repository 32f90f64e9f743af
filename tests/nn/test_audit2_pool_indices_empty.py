"""Max pooling's choice of element (indices and gradient) for windows of −inf or NaN, the
NaN rule of adaptive and fractional max pooling, and convolution / batch norm of an empty
batch, against PyTorch's documented kernels. The expected values are written by hand or
come from a NumPy loop that scans each window as PyTorch's CPU kernel does: it starts at
the window's first in-bounds position with −inf and moves to a later position whose value
is greater, or NaN."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import functional_conv as fc

NAN, INF = math.nan, math.inf


def as_tensor(array, device="cpu", requires_grad=False, dtype=None):
    return tg.tensor(np.asarray(array, dtype=dtype), device=device, requires_grad=requires_grad)


def numpy_max_pool2d(x, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's CPU max-pool loop on x (N, C, H, W): values and flat indices h·W + w."""
    N, C, H, W = x.shape

    def out_size(size, k, s, p, d):
        span = size + 2 * p - d * (k - 1) - 1
        out = (-(-span // s) if ceil_mode else span // s) + 1
        return out - 1 if ceil_mode and (out - 1) * s >= size + p else out

    OH, OW = (out_size(n, k, s, p, d) for n, k, s, p, d in
              zip((H, W), kernel, stride, padding, dilation))
    values = np.full((N, C, OH, OW), -INF)
    indices = np.zeros((N, C, OH, OW), dtype=np.int64)
    for n, c, oh, ow in np.ndindex(N, C, OH, OW):
        h0, w0 = oh * stride[0] - padding[0], ow * stride[1] - padding[1]
        h1 = min(h0 + (kernel[0] - 1) * dilation[0] + 1, H)
        w1 = min(w0 + (kernel[1] - 1) * dilation[1] + 1, W)
        while h0 < 0:
            h0 += dilation[0]
        while w0 < 0:
            w0 += dilation[1]
        best, where = -INF, h0 * W + w0
        for h in range(h0, h1, dilation[0]):
            for w in range(w0, w1, dilation[1]):
                value = x[n, c, h, w]
                if value > best or np.isnan(value):
                    best, where = value, h * W + w
        values[n, c, oh, ow], indices[n, c, oh, ow] = best, where
    return values, indices


# ------------------------------------------------------------ max pooling: −inf and NaN windows

def test_max_pool2d_all_minus_inf_window_picks_its_first_in_bounds_position(device):
    # PyTorch: window [pad, −inf] starts at x[0] with −inf and never moves: index 0, value −inf,
    # and x[0] gets the gradient (we gave index −1, which max_unpool2d refused)
    x = as_tensor([[[[-INF, -INF, 1.0, -INF]]]], device, requires_grad=True)
    y, indices = F.max_pool2d(x, (1, 2), padding=(0, 1), return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), [[[[0, 2, 3]]]])
    np.testing.assert_array_equal(y.numpy(), [[[[-INF, 1.0, -INF]]]])
    y.backward(tg.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1.0, 0.0, 1.0, 1.0]]]])
    unpooled = F.max_unpool2d(y, indices, (1, 2), padding=(0, 1), output_size=(1, 4))
    np.testing.assert_array_equal(unpooled.numpy(), [[[[-INF, 0.0, 1.0, -INF]]]])


def test_max_pool2d_without_indices_sends_an_all_minus_inf_window_to_its_first_element(device):
    # the fused op: the same element as the index (we shared it with the padding, and among
    # the −inf elements); a window of two −inf and no padding: all of it to the first
    x = as_tensor([[[[-INF, -INF, 1.0, -INF], [-INF, -INF, 2.0, 3.0]]]], device,
                  requires_grad=True)
    y = F.max_pool2d(x, 2, padding=1, stride=1)                     # 3x5 windows
    y.backward(tg.ones_like(y))
    # the windows of only −inf (and padding) give all to their first element in x: windows
    # (0, 0), (0, 1), (1, 0), (1, 1) to x[0, 0], (0, 4) to x[0, 3], (2, 0), (2, 1) to x[1, 0]
    expected = [[4.0, 0.0, 2.0, 1.0], [2.0, 0.0, 2.0, 4.0]]
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)
    _, indices = F.max_pool2d(x.detach(), 2, padding=1, stride=1, return_indices=True)
    counts = np.bincount(indices.numpy().ravel(), minlength=8).reshape(2, 4)
    np.testing.assert_array_equal(counts, expected)


def test_max_pool2d_of_integers_with_an_all_lowest_window_picks_its_first_position(device):
    # PyTorch: for an integer dtype the smallest value plays −inf: index 0, not −1
    low = np.iinfo(np.int64).min
    x = as_tensor([[[[low, low, 1, low]]]], device, dtype=np.int64)
    y, indices = F.max_pool2d(x, (1, 2), padding=(0, 1), return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), [[[[0, 2, 3]]]])
    np.testing.assert_array_equal(y.numpy(), [[[[low, 1, low]]]])


def test_max_pool_nan_window_index_value_and_gradient_are_its_last_nan(device):
    # PyTorch moves on at every NaN: window [nan, 1, nan, 2] -> value NaN, index 2, and x[2]
    # gets the gradient, with or without return_indices (we gave index 0 / no gradient)
    data = [[[[NAN, 1.0, NAN, 2.0]]]]
    x = as_tensor(data, device, requires_grad=True)
    y, indices = F.max_pool2d(x, (1, 4), return_indices=True)
    assert np.isnan(y.numpy()).all()
    np.testing.assert_array_equal(indices.numpy(), [[[[2]]]])
    y.backward(tg.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 0.0, 1.0, 0.0]]]])
    fused_x = as_tensor(data, device, requires_grad=True)
    F.max_pool2d(fused_x, (1, 4)).sum().backward()
    np.testing.assert_array_equal(fused_x.grad.numpy(), [[[[0.0, 0.0, 1.0, 0.0]]]])
    y1, indices1 = F.max_pool1d(as_tensor(data[0], device), 4, return_indices=True)
    assert np.isnan(y1.numpy()).all() and indices1.numpy().tolist() == [[[2]]]


def test_max_pool2d_fused_gradient_goes_where_the_index_points(device):
    # every combination of padding, dilation and ceil mode, on data with NaNs and −infs:
    # the indices and values are PyTorch's loop's, and the fused op (no indices) sends each
    # window's gradient to the element the index names (distinct finite values: no ties)
    rng = np.random.default_rng(0)
    data = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0
    data[rng.random(data.shape) < 0.15] = NAN
    data[rng.random(data.shape) < 0.3] = -INF
    for kernel, stride, padding, dilation, ceil_mode in [
            ((2, 2), (1, 1), (1, 1), (1, 1), False), ((3, 2), (2, 1), (1, 0), (1, 2), True),
            ((2, 3), (2, 2), (1, 1), (2, 1), True), ((2, 2), (3, 3), (0, 1), (1, 1), True)]:
        options = (kernel, stride, padding, dilation, ceil_mode)
        values, where = numpy_max_pool2d(data, *options)
        x = as_tensor(data, device, requires_grad=True)
        y, indices = F.max_pool2d(x, *options, return_indices=True)
        np.testing.assert_array_equal(indices.numpy(), where)
        np.testing.assert_array_equal(y.numpy(), values)
        upstream = rng.standard_normal(values.shape)
        expected = np.zeros((2, 2, 30))
        for n, c in np.ndindex(2, 2):
            np.add.at(expected[n, c], where[n, c].ravel(), upstream[n, c].ravel())
        fused_x = as_tensor(data, device, requires_grad=True)
        F.max_pool2d(fused_x, *options).backward(as_tensor(upstream, device))
        np.testing.assert_allclose(fused_x.grad.numpy(), expected.reshape(data.shape),
                                   rtol=1e-12, atol=0)
        y.backward(as_tensor(upstream, device))
        np.testing.assert_allclose(x.grad.numpy(), expected.reshape(data.shape),
                                   rtol=1e-12, atol=0)


def test_max_pool2d_finite_ties_still_share_the_gradient():
    # docs/deviations.md: tied finite maxima share dL/dy equally without return_indices
    x = as_tensor([[[[2.0, 2.0, -INF, NAN]]]], requires_grad=True)
    F.max_pool2d(x, (1, 2)).backward(as_tensor([[[[4.0, 6.0]]]]))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[2.0, 2.0, 0.0, 6.0]]]])


# ------------------------------------------------------- adaptive and fractional: the last NaN

def test_adaptive_max_pool_nan_bins_index_the_last_nan(device):
    # PyTorch's adaptive kernels: ``val > maxval || isnan(val)``, so the last NaN of a bin
    row = [NAN, 1.0, NAN, 2.0, 5.0, NAN, 3.0, -INF]
    x = as_tensor([[row]], device, requires_grad=True)
    y, indices = F.adaptive_max_pool1d(x, 2, return_indices=True)      # bins [0, 4), [4, 8)
    np.testing.assert_array_equal(indices.numpy(), [[[2, 5]]])
    assert np.isnan(y.numpy()).all()
    y.backward(tg.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [0, 0, 1, 0, 0, 1, 0, 0])
    plane = np.array(row).reshape(1, 1, 2, 4)                          # 2x2 bins of 1x2
    y2, indices2 = F.adaptive_max_pool2d(as_tensor(plane, device), (1, 2), return_indices=True)
    np.testing.assert_array_equal(indices2.numpy(), [[[[5, 2]]]])      # bins {0,1,4,5}, {2,3,6,7}
    assert np.isnan(y2.numpy()).all()
    volume = np.array(row).reshape(1, 1, 2, 2, 2)
    y3, indices3 = F.adaptive_max_pool3d(as_tensor(volume, device), (1, 1, 2),
                                         return_indices=True)          # w = 0 and w = 1
    np.testing.assert_array_equal(indices3.numpy().ravel(), [2, 5])    # {0,2,4,6}, {1,3,5,7}
    assert np.isnan(y3.numpy()).all()
    _, layer_indices = nn.AdaptiveMaxPool2d((1, 2), return_indices=True)(
        as_tensor(plane, device))
    np.testing.assert_array_equal(layer_indices.numpy(), [[[[5, 2]]]])


def test_adaptive_max_pool_all_minus_inf_bin_picks_its_first_position(device):
    # starts at the bin's first position with −inf and never moves
    x = as_tensor([[[1.0, -INF, -INF, -INF]]], device)
    y, indices = F.adaptive_max_pool1d(x, 2, return_indices=True)
    np.testing.assert_array_equal(indices.numpy(), [[[0, 2]]])
    np.testing.assert_array_equal(y.numpy(), [[[1.0, -INF]]])


def test_fractional_max_pool_nan_windows_index_the_last_nan(device):
    # PyTorch's fractional kernels scan h then w and move on at every NaN; u = 0 puts the
    # three 2x2 windows of a 2x4 plane at columns 0, 1, 2
    plane = np.array([[NAN, 1.0, NAN, 2.0], [0.0, NAN, 3.0, 4.0]]).reshape(1, 1, 2, 4)
    x = as_tensor(plane, device, requires_grad=True)
    y, indices = F.fractional_max_pool2d(x, 2, output_size=(1, 3), return_indices=True,
                                         _random_samples=tg.zeros(1, 1, 2, device=device,
                                                                  dtype="float64"))
    np.testing.assert_array_equal(indices.numpy(), [[[[5, 5, 2]]]])
    assert np.isnan(y.numpy()).all()
    y.backward(tg.ones_like(y))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 0, 1, 0], [0, 2, 0, 0]])
    volume = np.zeros((1, 1, 3, 3, 3))
    volume[0, 0, 1, 1, 2] = volume[0, 0, 2, 1, 1] = NAN                # NaNs at 14 and 22
    volume[0, 0, 2, 2, 2] = 5.0
    y3, indices3 = F.fractional_max_pool3d(
        as_tensor(volume, device), 2, output_size=(1, 1, 1), return_indices=True,
        _random_samples=tg.zeros(1, 1, 3, device=device, dtype="float64"))
    # one window at d, h, w in {1, 2} (start size − k), scanned d, h, w: the last NaN, 22
    np.testing.assert_array_equal(indices3.numpy().ravel(), [2 * 9 + 1 * 3 + 1])
    assert np.isnan(y3.numpy()).all()


# ------------------------------------------------------------------ an empty batch

@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_and_conv1d_of_an_empty_batch(device, groups):
    # PyTorch: an (0, C, H, W) input gives an empty (0, O, OH, OW) output; backward gives the
    # weight and the bias zero gradients (we crashed reshaping with -1)
    conv = nn.Conv2d(4, 6, 3, padding=1, stride=2, groups=groups).to(device)
    x = tg.zeros(0, 4, 5, 7, device=device, requires_grad=True)
    y = conv(x)
    assert y.shape == (0, 6, 3, 4)
    y.sum().backward()
    np.testing.assert_array_equal(conv.weight.grad.numpy(), np.zeros((6, 4 // groups, 3, 3)))
    np.testing.assert_array_equal(conv.bias.grad.numpy(), np.zeros(6))
    assert x.grad.shape == (0, 4, 5, 7)
    (grad_x,) = tg.grad(conv(x).sum(), [x], create_graph=True)         # recorded backward
    assert grad_x.shape == (0, 4, 5, 7)
    conv1 = nn.Conv1d(4, 6, 3, groups=groups).to(device)
    y1 = conv1(tg.zeros(0, 4, 9, device=device))
    assert y1.shape == (0, 6, 7)
    y1.sum().backward()
    np.testing.assert_array_equal(conv1.bias.grad.numpy(), np.zeros(6))


def test_conv2d_composed_and_integer_conv_of_an_empty_batch():
    x = tg.zeros(0, 4, 5, 5, dtype="float64", requires_grad=True)
    w = tg.ones(6, 2, 3, 3, dtype="float64", requires_grad=True)
    y = fc.conv2d_composed(x, w, None, (1, 1), (0, 0), (1, 1), 2)
    assert y.shape == (0, 6, 3, 3)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((6, 2, 3, 3)))
    integer = F.conv2d(tg.zeros(0, 4, 5, 5, dtype="int64"), tg.ones(6, 4, 3, 3, dtype="int64"))
    assert integer.shape == (0, 6, 3, 3) and integer.dtype == tg.int64


def test_batch_norm_training_on_an_empty_batch_returns_it_and_keeps_the_running_stats(device):
    # PyTorch (Normalization.cpp): numel() == 0 returns x·γ[0] + β[0] (empty, in the graph)
    # before any statistic; only exactly one value per channel raises in training
    x = tg.zeros(0, 3, 4, 4, device=device, requires_grad=True)
    running_mean = as_tensor([1.0, 2.0, 3.0], device, dtype=np.float32)
    running_var = as_tensor([4.0, 5.0, 6.0], device, dtype=np.float32)
    weight = tg.ones(3, device=device, requires_grad=True)
    bias = tg.zeros(3, device=device, requires_grad=True)
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training=True)
    assert y.shape == (0, 3, 4, 4) and y.dtype == x.dtype
    y.sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(bias.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(running_mean.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(running_var.numpy(), [4.0, 5.0, 6.0])
    layer = nn.BatchNorm1d(3).to(device)
    assert layer(tg.zeros(0, 3, device=device)).shape == (0, 3)
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(tg.zeros(1, 3, 1, device=device), None, None, training=True)
