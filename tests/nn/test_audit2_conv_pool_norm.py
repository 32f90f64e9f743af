"""Second audit of the convolution, pooling and normalisation layers against PyTorch's
documented behaviour. The expected values come from NumPy loops written here (a
sliding-window convolution, a scatter for the transposed one, window-by-window pooling)
or from the rule itself; each test says what PyTorch does."""

import itertools
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


def as_tensor(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def numpy_conv(x, w, b, dilation):
    """Valid cross-correlation of an already padded x (N, C, *S) with w (O, C, *K), stride 1:
    y[n, o, p] = b[o] + Σ_{c, t} w[o, c, t] · x[n, c, p + t·d]."""
    spatial = w.shape[2:]
    out = [x.shape[2 + i] - dilation[i] * (k - 1) for i, k in enumerate(spatial)]
    y = np.zeros((x.shape[0], w.shape[0]) + tuple(out))
    for taps in itertools.product(*(range(k) for k in spatial)):
        window = x[(slice(None), slice(None)) + tuple(
            slice(t * d, t * d + o) for t, d, o in zip(taps, dilation, out))]
        y += np.einsum("oc,nc...->no...", w[(slice(None), slice(None)) + taps], window)
    return y + b.reshape((1, -1) + (1,) * len(spatial))


def numpy_conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation):
    """Every input value scatters its kernel: y_full[n, g·O/G + o, p·s + t·d] += x[n, c, p] ·
    w[c, o, t]; y is y_full cropped by ``padding`` with ``output_padding`` more kept at the
    end (zeros past y_full), plus b."""
    N, C_in = x.shape[:2]
    per_group_out, kernel = w.shape[1], w.shape[2:]
    size = x.shape[2:]
    full = [(n - 1) * s + d * (k - 1) + 1 + op for n, s, d, k, op
            in zip(size, stride, dilation, kernel, output_padding)]
    y = np.zeros((N, per_group_out * groups) + tuple(full))
    per_group_in = C_in // groups
    for c in range(C_in):
        g = c // per_group_in
        for p in itertools.product(*(range(n) for n in size)):
            for t in itertools.product(*(range(k) for k in kernel)):
                at = tuple(pi * s + ti * d for pi, s, ti, d in zip(p, stride, t, dilation))
                for o in range(per_group_out):
                    y[(slice(None), g * per_group_out + o) + at] += (
                        x[(slice(None), c) + p] * w[(c, o) + t])
    crop = tuple(slice(pd, f - pd) for pd, f in zip(padding, full))
    return y[(slice(None), slice(None)) + crop] + b.reshape((1, -1) + (1,) * len(size))


# ------------------------------------------------------------------------------- max_pool3d

def test_max_pool3d_index_of_an_all_minus_inf_window_is_its_first_input_position(device):
    # PyTorch starts each window's scan at its first in-bounds position (with −inf) and moves
    # only on a greater value, so a window of −inf values and padding returns the index of its
    # first in-bounds position, and its value gets the gradient; it was −1 (the padding).
    x = np.full((1, 1, 1, 1, 6), -np.inf)
    x[..., 2] = 1.0
    t = as_tensor(x, device, requires_grad=True)
    y, indices = nn.MaxPool3d((1, 1, 3), padding=(0, 0, 1), return_indices=True)(t)
    np.testing.assert_array_equal(y.numpy().ravel(), [-np.inf, 1.0])
    np.testing.assert_array_equal(indices.numpy().ravel(), [0, 2])   # windows: pad x0 x1 | x2..
    y[..., 0].sum().backward()
    np.testing.assert_array_equal(t.grad.numpy().ravel(), [1, 0, 0, 0, 0, 0])
    # MaxUnpool3d takes these indices back (−1 was refused as an invalid index).
    back = nn.MaxUnpool3d((1, 1, 3), padding=(0, 0, 1))(as_tensor(np.ones((1, 1, 1, 1, 2)),
                                                                  device), indices)
    np.testing.assert_array_equal(back.numpy().ravel(), [1, 0, 1, 0])


def test_max_pool3d_index_of_an_all_lowest_integer_window_is_its_first_input_position(device):
    # As above for an integer dtype, whose padding is its smallest value (PyTorch: int64 max
    # pooling keeps the dtype, the scan starts at the first in-bounds position).
    low = np.iinfo(np.int64).min
    x = np.array([low, low, 5, low], dtype=np.int64).reshape(1, 1, 1, 1, 4)
    y, indices = nn.MaxPool3d((1, 1, 2), padding=(0, 0, 1), return_indices=True)(
        as_tensor(x, device))
    np.testing.assert_array_equal(y.numpy().ravel(), [low, 5, low])
    np.testing.assert_array_equal(indices.numpy().ravel(), [0, 2, 3])


def test_max_pool3d_nan_wins_and_its_index_is_the_last_nan_of_the_window(device):
    # PyTorch moves on at every NaN (``val > maxval || isnan(val)``): the value is NaN and the
    # index that of the window's LAST NaN; the first one was returned.
    x = np.array([np.nan, 1.0, np.nan, 2.0, 3.0, 4.0, 5.0, np.nan]).reshape(1, 1, 1, 2, 4)
    y, indices = nn.MaxPool3d((1, 2, 2), return_indices=True)(as_tensor(x, device))
    np.testing.assert_array_equal(y.numpy().ravel(), [np.nan, np.nan])
    # window 0 reads flat positions 0, 1, 4, 5 (one NaN, at 0); window 1 reads 2, 3, 6, 7
    np.testing.assert_array_equal(indices.numpy().ravel(), [0, 7])
    two_nans = np.array([np.nan, 1.0, np.nan, 2.0]).reshape(1, 1, 1, 1, 4)
    y, indices = nn.MaxPool3d((1, 1, 4), return_indices=True)(as_tensor(two_nans, device))
    assert np.isnan(y.numpy()).all()
    np.testing.assert_array_equal(indices.numpy().ravel(), [2])


def test_max_pool3d_ceil_mode_drops_a_window_starting_in_the_right_padding(rng):
    # PyTorch: with ceil_mode the last window must start inside the input or the left
    # padding. L = 4, k = 2, s = 2, p = 1: ceil((4 + 2 − 2)/2) + 1 = 3 windows (starts −1,
    # 1, 3); L = 5, k = 3, s = 3, p = 1: ceil(4/3) + 1 = 3 would start at 5 = L + p: 2 kept.
    x = rng.standard_normal((1, 1, 4, 5, 4))
    y, indices = nn.MaxPool3d((2, 3, 2), (2, 3, 2), (1, 1, 1), ceil_mode=True,
                              return_indices=True)(as_tensor(x))
    assert y.shape == (1, 1, 3, 2, 3)
    expected = np.empty(y.shape)
    expected_indices = np.empty(y.shape, dtype=np.int64)
    bounds = [[(-1, 1), (1, 3), (3, 5)], [(-1, 2), (2, 5)], [(-1, 1), (1, 3), (3, 5)]]
    for a, b, c in itertools.product(range(3), range(2), range(3)):
        (d0, d1), (h0, h1), (w0, w1) = bounds[0][a], bounds[1][b], bounds[2][c]
        d0, h0, w0 = max(d0, 0), max(h0, 0), max(w0, 0)
        block = x[0, 0, d0:d1, h0:h1, w0:w1]
        i, j, k = np.unravel_index(block.argmax(), block.shape)
        expected[0, 0, a, b, c] = block.max()
        expected_indices[0, 0, a, b, c] = np.ravel_multi_index((d0 + i, h0 + j, w0 + k),
                                                               (4, 5, 4))
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)


# ------------------------------------------------------------------------------ convolutions

@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv3d_same_padding_with_an_even_dilated_kernel_pads_the_extra_at_the_end(mode, rng):
    # PyTorch: 'same' pads ⌊d·(k − 1)/2⌋ before and the rest after, in the padding_mode;
    # kernel (4, 2, 3) with dilation (1, 3, 2): totals 3, 3, 4 -> (1, 2), (1, 2), (2, 2).
    layer = nn.Conv3d(4, 2, (4, 2, 3), padding="same", dilation=(1, 3, 2), groups=2,
                      padding_mode=mode, dtype=tg.float64)
    x = rng.standard_normal((2, 4, 5, 6, 5))
    numpy_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
                  "circular": "wrap"}[mode]
    padded = np.pad(x, [(0, 0), (0, 0), (1, 2), (1, 2), (2, 2)], mode=numpy_mode)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    expected = np.concatenate(
        [numpy_conv(padded[:, 2 * g:2 * g + 2], w[g:g + 1], b[g:g + 1], (1, 3, 2))
         for g in range(2)], axis=1)
    y = layer(as_tensor(x))
    assert y.shape == x.shape[:1] + (2,) + x.shape[2:]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_conv_transpose3d_output_size_with_groups_and_dilation(rng):
    # PyTorch: output_size picks output_padding = size − ((D − 1)·s − 2p + d(k − 1) + 1),
    # within [0, s − 1]; N and C may lead output_size.
    layer = nn.ConvTranspose3d(4, 6, (2, 3, 2), stride=(3, 2, 2), padding=(1, 1, 0),
                               groups=2, dilation=(2, 1, 3), dtype=tg.float64)
    x = rng.standard_normal((2, 4, 2, 3, 2))
    # (D − 1)·s − 2p + d·(k − 1) + 1 per axis: 3 − 2 + 2 + 1, 4 − 2 + 2 + 1, 2 − 0 + 3 + 1
    smallest = (4, 5, 6)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    for extra in [(0, 0, 0), (2, 1, 1)]:
        size = tuple(s + e for s, e in zip(smallest, extra))
        expected = numpy_conv_transpose(x, w, b, (3, 2, 2), (1, 1, 0), extra, 2, (2, 1, 3))
        y = layer(as_tensor(x), output_size=(2, 6) + size)
        assert y.shape == (2, 6) + size
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="valid sizes range"):
        layer(as_tensor(x), output_size=(7, 5, 6))       # 7 > 4 + (3 − 1) on the first axis


def test_conv_transpose1d_output_padding_below_the_dilation_but_not_the_stride(rng):
    # PyTorch accepts output_padding < stride OR < dilation: stride 1, dilation 2 and
    # output_padding 1 give one more position at the end, which only the bias reaches.
    layer = nn.ConvTranspose1d(2, 3, 3, stride=1, dilation=2, output_padding=1,
                               dtype=tg.float64)
    x = rng.standard_normal((1, 2, 4))
    y = layer(as_tensor(x)).numpy()
    expected = numpy_conv_transpose(x, layer.weight.numpy(), layer.bias.numpy(), (1,), (0,),
                                    (1,), 1, (2,))
    assert y.shape == (1, 3, 9)                             # (4 − 1) + 2·2 + 1 + 1
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y[0, :, -1], layer.bias.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------- normalisation

def test_batch_norm3d_momentum_none_is_the_plain_mean_of_the_batch_statistics(rng):
    # PyTorch: momentum=None uses 1/num_batches_tracked, so the running values are the mean
    # of every batch's mean and UNBIASED variance; evaluation normalises with them.
    layer = nn.BatchNorm3d(2, momentum=None, affine=False, dtype=tg.float64)
    batches = [rng.standard_normal((3, 2, 2, 2, 1)) * scale + shift
               for scale, shift in [(1.0, 0.0), (2.0, 1.0), (0.5, -3.0)]]
    for x in batches:
        layer(as_tensor(x))
    axes = (0, 2, 3, 4)
    mean = np.mean([x.mean(axis=axes) for x in batches], axis=0)
    var = np.mean([x.var(axis=axes, ddof=1) for x in batches], axis=0)
    np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(), var, rtol=1e-12)
    assert int(layer.num_batches_tracked.item()) == 3
    layer.eval()
    x = batches[0]
    expected = (x - mean.reshape(1, 2, 1, 1, 1)) / np.sqrt(var.reshape(1, 2, 1, 1, 1) + 1e-5)
    np.testing.assert_allclose(layer(as_tensor(x)).numpy(), expected, rtol=1e-12)


def test_instance_norm_momentum_none_never_moves_the_running_statistics(rng):
    # PyTorch's InstanceNorm passes momentum 0.0 when momentum is None (no cumulative
    # average, unlike BatchNorm) and never counts num_batches_tracked.
    layer = nn.InstanceNorm2d(3, momentum=None, track_running_stats=True, dtype=tg.float64)
    for _ in range(2):
        layer(as_tensor(rng.standard_normal((2, 3, 4, 4)) * 3 + 2))
    np.testing.assert_array_equal(layer.running_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(3))
    assert int(layer.num_batches_tracked.item()) == 0


def test_instance_norm1d_running_var_is_the_batch_mean_of_unbiased_instance_variances(rng):
    # PyTorch runs instance_norm as batch_norm over (1, N·C, L): the running values move
    # by momentum towards the mean over N of each instance's mean and unbiased variance.
    layer = nn.InstanceNorm1d(2, momentum=0.25, track_running_stats=True, affine=True,
                              dtype=tg.float64)
    x = rng.standard_normal((3, 2, 5)) * 2 + 1
    y = layer(as_tensor(x)).numpy()
    np.testing.assert_allclose(y, (x - x.mean(2, keepdims=True))
                               / np.sqrt(x.var(2, keepdims=True) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.25 * x.mean(2).mean(0),
                               rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(),
                               0.75 + 0.25 * x.var(2, ddof=1).mean(0), rtol=1e-12)


# ---------------------------------------------------------------------------- other layers

def test_fractional_max_pool3d_intervals_follow_pytorch_sample_order(rng):
    # PyTorch: sample u of axis i (T, H, W for samples 0, 1, 2) starts window j at
    # ⌊(j + u)·α⌋ − ⌊u·α⌋, α = (size − k)/(out − 1), the last one at size − k.
    def starts(u, size, out, k):
        alpha = (size - k) / (out - 1)
        return [int((j + u) * alpha) - int(u * alpha) for j in range(out - 1)] + [size - k]

    x = rng.standard_normal((1, 2, 7, 8, 9))
    samples = rng.random((1, 2, 3))
    kernel, out = (2, 3, 2), (3, 4, 5)
    y, indices = nn.FractionalMaxPool3d(kernel, output_size=out, return_indices=True,
                                        _random_samples=as_tensor(samples))(as_tensor(x))
    for c in range(2):
        t0, h0, w0 = (starts(samples[0, c, i], x.shape[2 + i], out[i], kernel[i])
                      for i in range(3))
        for a, b, e in itertools.product(range(3), range(4), range(5)):
            block = x[0, c, t0[a]:t0[a] + 2, h0[b]:h0[b] + 3, w0[e]:w0[e] + 2]
            i, j, k = np.unravel_index(block.argmax(), block.shape)
            assert y.numpy()[0, c, a, b, e] == block.max()
            assert indices.numpy()[0, c, a, b, e] == np.ravel_multi_index(
                (t0[a] + i, h0[b] + j, w0[e] + k), (7, 8, 9))


def test_dropout2d_on_a_3d_input_drops_channels_of_n_c_l(rng):
    # PyTorch warns and reads a 3-D input to dropout2d as (N, C, L) (1-D channel dropout):
    # each (n, c) row is zeroed whole or scaled by 1/(1 − p).
    tg.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = nn.Dropout2d(0.5)(tg.ones(30, 40, 6)).numpy()
    assert any("dropout2d" in str(w.message) for w in caught)
    rows = y.reshape(30 * 40, 6)
    assert np.all((rows == 0).all(axis=1) | (rows == 2).all(axis=1))
    assert 0.4 < (rows[:, 0] == 0).mean() < 0.6


def test_lp_pool3d_with_ceil_mode_scales_a_partial_window_by_k_over_its_count(rng):
    # PyTorch: lp_pool3d = (avg_pool3d(x^p, ceil_mode) · kd·kh·kw)^(1/p); avg_pool3d divides a
    # partial last window by its in-bounds count, so that window's sum is scaled by k/count.
    x = np.abs(rng.standard_normal((1, 1, 3, 2, 2))) + 0.1
    y = nn.LPPool3d(2, (2, 2, 2), ceil_mode=True)(as_tensor(x)).numpy()
    full = np.sqrt((x[0, 0, :2] ** 2).sum())
    partial = np.sqrt((x[0, 0, 2:] ** 2).sum() * 8 / 4)    # window of 4 in-bounds voxels
    np.testing.assert_allclose(y.ravel(), [full, partial], rtol=1e-6)
