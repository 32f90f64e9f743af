"""PyTorch's pooling options (ceil_mode, return_indices, count_include_pad, divisor_override)
and unbatched inputs for the convolutions and poolings: values against NumPy loops written
here, indices against np.argmax over each window, the unpooling round trip, unbatched ==
batched[0], gradcheck in float64 of the new paths, and the errors."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn.functional_conv import pool_output_size


def t(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def distinct(rng, shape, scale=0.25):
    """Distinct values (no ties: each window has one maximum, finite differences are exact)."""
    return rng.permutation(math.prod(shape)).reshape(shape) * scale - 3.0


# ----------------------------------------------------------- independent NumPy references

def reference_size(size, k, s, p, d, ceil_mode):
    """PyTorch's output size: floor or ceil of the window count, and in ceil mode no window
    may start at or past size + p (in the right padding or beyond)."""
    span = (size + 2 * p - d * (k - 1) - 1) / s
    out = (math.ceil(span) if ceil_mode else math.floor(span)) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def window_positions(o, k, s, p, d):
    """The input positions (possibly outside [0, size)) of window o along one axis."""
    return [o * s - p + i * d for i in range(k)]


def reference_max_pool2d(x, k, s, p, d, ceil_mode):
    """Max over the real positions of each window, and the flat index h·W + w of the first
    maximum (window order: row-major over the kernel), by loops."""
    N, C, H, W = x.shape
    OH = reference_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    OW = reference_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    y = np.empty((N, C, OH, OW))
    indices = np.empty((N, C, OH, OW), dtype=np.int64)
    for oh in range(OH):
        for ow in range(OW):
            real = [(h, w) for h in window_positions(oh, k[0], s[0], p[0], d[0])
                    for w in window_positions(ow, k[1], s[1], p[1], d[1])
                    if 0 <= h < H and 0 <= w < W]
            values = np.stack([x[:, :, h, w] for h, w in real], axis=-1)  # (N, C, positions)
            best = np.argmax(values, axis=-1)                            # (N, C)
            y[:, :, oh, ow] = values.max(axis=-1)
            flat = np.array([h * W + w for h, w in real])
            indices[:, :, oh, ow] = flat[best]
    return y, indices


def reference_avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, divisor_override):
    """Window sums over the real positions, divided by PyTorch's divisor: the override, or
    the window's positions inside the padded input [−p, size + p), or inside the input."""
    N, C, H, W = x.shape
    OH = reference_size(H, k[0], s[0], p[0], 1, ceil_mode)
    OW = reference_size(W, k[1], s[1], p[1], 1, ceil_mode)
    y = np.empty((N, C, OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            rows = window_positions(oh, k[0], s[0], p[0], 1)
            columns = window_positions(ow, k[1], s[1], p[1], 1)
            total = sum(x[:, :, h, w] for h in rows for w in columns
                        if 0 <= h < H and 0 <= w < W)
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = (sum(-p[0] <= h < H + p[0] for h in rows)
                           * sum(-p[1] <= w < W + p[1] for w in columns))
            else:
                divisor = (sum(0 <= h < H for h in rows) * sum(0 <= w < W for w in columns))
            y[:, :, oh, ow] = total / divisor
    return y


# ------------------------------------------------------------------------- output sizes

@pytest.mark.parametrize("size, k, s, p, d, floor, ceil", [
    (5, 2, 2, 0, 1, 2, 3),     # ceil keeps a last, partial window
    (6, 3, 2, 1, 1, 3, 4),     # ... that runs through the right padding and past it
    (5, 2, 2, 1, 1, 3, 3),     # a 4th window would start in the right padding: dropped
    (5, 1, 3, 0, 1, 2, 2),     # stride > kernel, no padding: the rule holds too
    (2, 3, 2, 0, 1, 0, 1),     # a kernel longer than the input: one window in ceil mode
    (7, 2, 3, 1, 2, 3, 3),     # dilation
])
def test_pool_output_size_follows_pytorch(size, k, s, p, d, floor, ceil):
    assert pool_output_size(size, k, s, p, d) == floor == reference_size(size, k, s, p, d, False)
    assert pool_output_size(size, k, s, p, d, True) == ceil == reference_size(size, k, s, p, d,
                                                                              True)


def test_avg_pool1d_ceil_mode_by_hand(device):
    x = t([[[1.0, 2, 3, 4, 5, 6]]], device)
    # windows start at −1, 1, 3, 5; the last one is [6, pad, beyond]
    y = F.avg_pool1d(x, 3, 2, 1, ceil_mode=True)
    np.testing.assert_allclose(y.numpy(), [[[3 / 3, 9 / 3, 15 / 3, 6 / 2]]])
    y = F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(y.numpy(), [[[3 / 2, 9 / 3, 15 / 3, 6 / 1]]])
    y = F.max_pool1d(x, 3, 2, 1, ceil_mode=True)
    np.testing.assert_array_equal(y.numpy(), [[[2.0, 4.0, 6.0, 6.0]]])
    np.testing.assert_array_equal(F.avg_pool1d(x, 3, 2, 1).numpy(), [[[1.0, 3.0, 5.0]]])


# ----------------------------------------------------------------------- max pooling

MAX_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    ((2, 2), (2, 2), (0, 0), (1, 1), True),
    ((3, 2), (2, 2), (1, 1), (1, 1), True),
    ((3, 3), (2, 3), (1, 0), (1, 1), True),
    ((2, 2), (2, 1), (1, 1), (2, 1), True),
    ((3, 2), (2, 2), (1, 1), (1, 1), False),
]


@pytest.mark.parametrize("k, s, p, d, ceil_mode", MAX_CASES)
def test_max_pool2d_values_and_indices_match_loops(k, s, p, d, ceil_mode, device, rng):
    x = distinct(rng, (2, 3, 6, 7))
    expected, expected_indices = reference_max_pool2d(x, k, s, p, d, ceil_mode)
    y = F.max_pool2d(t(x, device), k, s, p, d, ceil_mode=ceil_mode)
    np.testing.assert_array_equal(y.numpy(), expected)
    y, indices = F.max_pool2d(t(x, device), k, s, p, d, ceil_mode, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), expected)
    assert indices.dtype == tg.int64 and indices.device == device
    np.testing.assert_array_equal(indices.numpy(), expected_indices)
    module = nn.MaxPool2d(k, s, p, d, return_indices=True, ceil_mode=ceil_mode)
    y, indices = module(t(x, device))
    np.testing.assert_array_equal(indices.numpy(), expected_indices)


def test_return_indices_agrees_with_max_pool2d_with_indices(device, rng):
    x = t(distinct(rng, (2, 3, 6, 7)), device, True)
    for k, s, p, d, ceil_mode in MAX_CASES:
        if not ceil_mode:                       # F.max_pool2d_with_indices has no ceil_mode
            y, indices = F.max_pool2d(x, k, s, p, d, return_indices=True)
            y_extra, indices_extra = F.max_pool2d_with_indices(x, k, s, p, d)
            np.testing.assert_array_equal(indices.numpy(), indices_extra.numpy())
            np.testing.assert_array_equal(y.numpy(), y_extra.numpy())


@pytest.mark.parametrize("k, s, p, d, ceil_mode", [(3, 2, 1, 1, True), (2, 3, 1, 2, True),
                                                   (4, 3, 2, 1, True), (3, 2, 1, 1, False)])
def test_max_pool1d_values_and_indices_match_loops(k, s, p, d, ceil_mode, device, rng):
    x = distinct(rng, (2, 3, 10))
    expected, expected_indices = reference_max_pool2d(x[:, :, None], (1, k), (1, s), (0, p),
                                                      (1, d), ceil_mode)
    y = F.max_pool1d(t(x, device), k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(y.numpy(), expected[:, :, 0])
    y, indices = nn.MaxPool1d(k, s, p, d, return_indices=True, ceil_mode=ceil_mode)(t(x, device))
    np.testing.assert_array_equal(y.numpy(), expected[:, :, 0])
    np.testing.assert_array_equal(indices.numpy(), expected_indices[:, :, 0])


def test_max_pool_ties_give_the_first_index_and_its_gradient(device):
    x = t([[[[1.0, 3.0, 3.0], [3.0, 0.0, 2.0]]]], device, True)
    y, indices = F.max_pool2d(x, 2, ceil_mode=True, return_indices=True)  # windows 2x2, 2x1
    np.testing.assert_array_equal(indices.numpy(), [[[[1, 2]]]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]]])


@pytest.mark.parametrize("k, s, p, ceil_mode", [(2, 2, 0, True), (3, 2, 1, True),
                                                (3, 3, 1, True), (2, 2, 0, False)])
def test_unpool_round_trip(k, s, p, ceil_mode, device, rng):
    x = distinct(rng, (2, 2, 7, 8)) + 10.0                 # positive: a zero never wins
    y, indices = F.max_pool2d(t(x, device), k, s, p, ceil_mode=ceil_mode, return_indices=True)
    unpooled = F.max_unpool2d(y, indices, k, s, p, output_size=x.shape[2:])
    _, expected_indices = reference_max_pool2d(x, (k, k), (s, s), (p, p), (1, 1), ceil_mode)
    expected = np.zeros((2, 2, 7 * 8))                     # each window's max where it was
    np.put_along_axis(expected, expected_indices.reshape(2, 2, -1),
                      np.take_along_axis(x.reshape(2, 2, -1), expected_indices.reshape(2, 2, -1),
                                         -1), -1)
    np.testing.assert_array_equal(unpooled.numpy(), expected.reshape(x.shape))
    again = F.max_pool2d(unpooled, k, s, p, ceil_mode=ceil_mode)   # the maxima are all kept
    np.testing.assert_array_equal(again.numpy(), y.numpy())
    y1, i1 = F.max_pool1d(t(x[:, :, 0], device), k, s, p, ceil_mode=ceil_mode,
                          return_indices=True)
    back = nn.MaxUnpool1d(k, s, p)(y1, i1, output_size=(8,))
    np.testing.assert_array_equal(F.max_pool1d(back, k, s, p, ceil_mode=ceil_mode).numpy(),
                                  y1.numpy())


# ---------------------------------------------------------------------- average pooling

AVG_CASES = [  # kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    ((2, 2), (2, 2), (0, 0), True, True, None),
    ((3, 3), (2, 2), (1, 1), True, True, None),
    ((3, 3), (2, 2), (1, 1), True, False, None),
    ((3, 2), (2, 3), (1, 1), True, True, 5),
    ((3, 2), (2, 2), (1, 0), False, False, None),
    ((2, 3), (1, 2), (1, 1), False, True, -3),
    ((4, 4), (3, 3), (2, 2), True, False, None),
]


@pytest.mark.parametrize("k, s, p, ceil_mode, count_include_pad, divisor", AVG_CASES)
def test_avg_pool2d_matches_loops(k, s, p, ceil_mode, count_include_pad, divisor, device, rng):
    x = rng.standard_normal((2, 3, 6, 7))
    expected = reference_avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, divisor)
    y = F.avg_pool2d(t(x, device), k, s, p, ceil_mode, count_include_pad, divisor)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-14)
    module = nn.AvgPool2d(k, s, p, ceil_mode, count_include_pad, divisor)
    assert (module.ceil_mode, module.count_include_pad, module.divisor_override) == (
        ceil_mode, count_include_pad, divisor)
    np.testing.assert_allclose(module(t(x, device)).numpy(), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("k, s, p, ceil_mode, count_include_pad", [
    (3, 2, 1, True, True), (3, 2, 1, True, False), (4, 3, 2, True, False), (2, 3, 0, True, True),
    (3, 2, 1, False, False)])
def test_avg_pool1d_matches_loops(k, s, p, ceil_mode, count_include_pad, device, rng):
    x = rng.standard_normal((2, 3, 10))
    expected = reference_avg_pool2d(x[:, :, None], (1, k), (1, s), (0, p), ceil_mode,
                                    count_include_pad, None)[:, :, 0]
    y = F.avg_pool1d(t(x, device), k, s, p, ceil_mode, count_include_pad)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-14)
    module = nn.AvgPool1d(k, s, p, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    np.testing.assert_allclose(module(t(x, device)).numpy(), expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- adaptive max pool indices

@pytest.mark.parametrize("output_size", [(2, 3), (4, 4), 3, (None, 2)])
def test_adaptive_max_pool2d_indices(output_size, device, rng):
    x = distinct(rng, (2, 3, 5, 7))
    y, indices = F.adaptive_max_pool2d(t(x, device), output_size, return_indices=True)
    OH, OW = (output_size, output_size) if isinstance(output_size, int) else output_size
    OH = 5 if OH is None else OH
    assert y.shape == indices.shape == (2, 3, OH, OW) and indices.dtype == tg.int64
    for i in range(OH):
        for j in range(OW):
            h0, h1 = i * 5 // OH, -(-(i + 1) * 5 // OH)
            w0, w1 = j * 7 // OW, -(-(j + 1) * 7 // OW)
            window = x[:, :, h0:h1, w0:w1].reshape(2, 3, -1)
            best = window.argmax(-1)
            np.testing.assert_array_equal(y.numpy()[:, :, i, j], window.max(-1))
            np.testing.assert_array_equal(indices.numpy()[:, :, i, j],
                                          (h0 + best // (w1 - w0)) * 7 + w0 + best % (w1 - w0))
    np.testing.assert_array_equal(y.numpy(), F.adaptive_max_pool2d(t(x, device),
                                                                   output_size).numpy())
    module = nn.AdaptiveMaxPool2d(output_size, return_indices=True)
    np.testing.assert_array_equal(module(t(x, device))[1].numpy(), indices.numpy())
    y0, i0 = module(t(x[0], device))                              # unbatched (C, H, W)
    np.testing.assert_array_equal(i0.numpy(), indices.numpy()[0])
    np.testing.assert_array_equal(y0.numpy(), y.numpy()[0])


# -------------------------------------------------------------------- unbatched inputs

def unbatched_cases(rng):
    """(name, function, batched input, extra tensors): function(x, *extra)."""
    image, sequence = rng.standard_normal((2, 4, 6, 7)), rng.standard_normal((2, 4, 9))
    w2, w1 = rng.standard_normal((6, 2, 3, 2)), rng.standard_normal((6, 2, 3))
    wt2, wt1 = rng.standard_normal((4, 3, 2, 3)), rng.standard_normal((4, 3, 2))
    bias = rng.standard_normal(6)
    return [
        ("conv2d", lambda x, w, b: F.conv2d(x, w, b, 2, 1, 1, 2), image, [w2, bias]),
        ("conv1d", lambda x, w, b: F.conv1d(x, w, b, 2, 1, 2, 2), sequence, [w1, bias]),
        ("conv_transpose2d", lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1, 2), image,
         [wt2]),
        ("conv_transpose1d", lambda x, w: F.conv_transpose1d(x, w, None, 2, 1, 1, 2), sequence,
         [wt1]),
        ("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), image, []),
        ("max_pool1d", lambda x: F.max_pool1d(x, 2, 2, ceil_mode=True), sequence, []),
        ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, True, False), image, []),
        ("avg_pool1d", lambda x: F.avg_pool1d(x, 4, 3, 2, True, False), sequence, []),
        ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), image, []),
        ("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (4, 3)), image, []),
        ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 4), sequence, []),
    ]


@pytest.mark.parametrize("index", range(11))
def test_unbatched_equals_batched_first_and_gradchecks(index, device):
    rng = np.random.default_rng(index)
    name, function, x, extra = unbatched_cases(rng)[index]
    tensors = [t(e, device) for e in extra]
    batched = function(t(x, device), *tensors)
    one = function(t(x[0], device), *tensors)
    assert one.shape == batched.shape[1:], name
    np.testing.assert_allclose(one.numpy(), batched.numpy()[0], rtol=1e-12, atol=1e-14)
    inputs = [t(distinct(rng, x[0].shape), device, True)] + [t(e, device, True) for e in extra]
    assert tg.gradcheck(function, inputs), name


@pytest.mark.parametrize("spatial", [1, 2])
def test_unbatched_layers(spatial, device, rng):
    if spatial == 2:
        x = rng.standard_normal((2, 3, 6, 5))
        layers = [nn.Conv2d(3, 4, 3, padding=1, dtype=tg.float64, device=device),
                  nn.ConvTranspose2d(3, 2, 3, stride=2, dtype=tg.float64, device=device),
                  nn.MaxPool2d(2, ceil_mode=True), nn.AvgPool2d(3, 2, 1, True, False, None),
                  nn.AdaptiveAvgPool2d(2), nn.AdaptiveMaxPool2d(3)]
    else:
        x = rng.standard_normal((2, 3, 7))
        layers = [nn.Conv1d(3, 4, 3, padding=1, dtype=tg.float64, device=device),
                  nn.ConvTranspose1d(3, 2, 3, stride=2, dtype=tg.float64, device=device),
                  nn.MaxPool1d(2, ceil_mode=True), nn.AvgPool1d(3, 2, 1, True, False),
                  nn.AdaptiveAvgPool1d(2)]
    for layer in layers:
        one = layer(t(x[0], device)).numpy()
        np.testing.assert_allclose(one, layer(t(x, device)).numpy()[0], rtol=1e-12, atol=1e-14)
    upsample = layers[1]
    wanted = upsample(t(x, device)).shape[2:]
    grown = tuple(size + 1 for size in wanted)
    assert upsample(t(x[0], device), output_size=grown).shape == (2,) + grown


def test_unbatched_pool_with_indices(device, rng):
    x = distinct(rng, (2, 3, 5, 7))
    y, indices = F.max_pool2d(t(x, device), 3, 2, 1, ceil_mode=True, return_indices=True)
    y0, i0 = F.max_pool2d(t(x[0], device), 3, 2, 1, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(i0.numpy(), indices.numpy()[0])
    np.testing.assert_array_equal(y0.numpy(), y.numpy()[0])
    back = F.max_unpool2d(y0, i0, 3, 2, 1, output_size=(5, 7))
    assert back.shape == (3, 5, 7)
    y1, i1 = F.max_pool1d(t(x[0, :, 0], device), 2, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(i1.numpy(), [[0 + np.argmax(x[0, c, 0, 2 * o:2 * o + 2]) + 2 * o
                                                for o in range(4)] for c in range(3)])


# --------------------------------------------------------------------------- gradients

GRADIENT_CASES = [
    ("max_pool2d ceil", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    ("max_pool2d ceil dilation", lambda x: F.max_pool2d(x, 2, (2, 1), 1, 2, ceil_mode=True)),
    ("max_pool2d indices", lambda x: F.max_pool2d(x, 3, 2, 1, 1, True, True)[0]),
    ("max_pool1d indices", lambda x: F.max_pool1d(x[0], 3, 2, 1, 1, True, True)[0]),
    ("avg_pool2d ceil", lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True)),
    ("avg_pool2d no pad count", lambda x: F.avg_pool2d(x, 3, 2, 1, True, False)),
    ("avg_pool2d divisor", lambda x: F.avg_pool2d(x, 2, 1, 1, divisor_override=3)),
    ("avg_pool1d ceil", lambda x: F.avg_pool1d(x[0], 4, 3, 2, True, False)),
    ("adaptive_max_pool2d indices", lambda x: F.adaptive_max_pool2d(x, (2, 3), True)[0]),
]


@pytest.mark.parametrize("name, function", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_gradcheck_and_gradgradcheck(name, function, device, rng):
    x = t(distinct(rng, (1, 2, 5, 6), 0.1), device, True)
    assert tg.gradcheck(function, [x])
    assert tg.gradgradcheck(lambda a: function(a) ** 2, [x])


def test_ceil_mode_gradient_lands_on_the_input_only(device):
    x = t(np.arange(5.0).reshape(1, 1, 5), device, True)
    F.max_pool1d(x, 2, ceil_mode=True).sum().backward()     # windows [0 1] [2 3] [4 -]
    np.testing.assert_array_equal(x.grad.numpy(), [[[0.0, 1.0, 0.0, 1.0, 1.0]]])
    x.grad = None
    F.avg_pool1d(x, 2, ceil_mode=True).sum().backward()     # the last window's divisor is 1
    np.testing.assert_array_equal(x.grad.numpy(), [[[0.5, 0.5, 0.5, 0.5, 1.0]]])


# ------------------------------------------------------------------- modules and errors

def test_module_arguments_follow_pytorch_order():
    pool = nn.MaxPool2d(3, 2, 1, 1, True, True)            # ..., return_indices, ceil_mode
    assert (pool.return_indices, pool.ceil_mode) == (True, True)
    assert repr(pool) == ("MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, "
                          "ceil_mode=True)")
    assert repr(nn.MaxPool1d(2, ceil_mode=True)) == (
        "MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=True)")
    avg = nn.AvgPool2d(3, 2, 1, True, False, 4)            # ..., ceil_mode, count, divisor
    assert (avg.ceil_mode, avg.count_include_pad, avg.divisor_override) == (True, False, 4)
    avg1 = nn.AvgPool1d(3, 2, 1, True, False)
    assert (avg1.ceil_mode, avg1.count_include_pad) == (True, False)
    assert nn.AdaptiveMaxPool2d(2, True).return_indices is True
    assert list(nn.MaxPool2d(2, return_indices=True).state_dict()) == []


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.avg_pool2d(tg.zeros(1, 1, 4, 4), 2, divisor_override=0), ValueError,
     r"avg_pool2d: divisor must be not zero"),
    (lambda: F.avg_pool2d(tg.zeros(1, 1, 4, 4), 2, divisor_override=1.5), TypeError,
     r"avg_pool2d: divisor_override must be an int or None, got 1.5"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), ValueError, "AvgPool2d: divisor must be"),
    (lambda: F.conv2d(tg.zeros(3, 4), tg.zeros(1, 3, 2, 2)), ValueError,
     r"conv2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 4\) \(or a 3-D \(C, H, W\)"),
    (lambda: F.conv2d(tg.zeros(2, 5, 5), tg.zeros(1, 3, 2, 2)), ValueError,
     r"conv2d: input of shape \(2, 5, 5\) \(C=2\) .* one unbatched image \(C, H, W\)"),
    (lambda: F.conv1d(tg.zeros(2, 5), tg.zeros(1, 3, 2)), ValueError,
     r"conv1d: input of shape \(2, 5\) \(C=2\) .* one unbatched sequence \(C, L\)"),
    (lambda: F.conv_transpose1d(tg.zeros(5), tg.zeros(1, 3, 2)), ValueError,
     r"conv_transpose1d: expected a 3-D input \(N, C, L\), got shape \(5,\)"),
    (lambda: F.max_pool2d(tg.zeros(1, 1, 1, 4, 4), 2), ValueError,
     r"max_pool2d: expected a 4-D input .* \(1, 1, 1, 4, 4\)"),
    (lambda: F.avg_pool1d(tg.zeros(4), 2), ValueError, r"avg_pool1d: expected a 3-D input"),
    (lambda: F.max_pool2d(tg.zeros(1, 1, 2, 2), 3, 1, ceil_mode=True), ValueError,
     r"max_pool2d: input of shape \(1, 1, 2, 2\) is too small .*output would be 0x0"),
    (lambda: F.max_pool1d(tg.zeros(1, 1, 2), 3, 1, ceil_mode=True), ValueError,
     r"max_pool1d: input of shape \(1, 1, 2\) is too small .* length would be 0"),
    (lambda: F.avg_pool2d(tg.zeros(1, 1, 2, 2), 3, 2), ValueError, "too small"),
    (lambda: F.max_pool2d(tg.zeros(1, 1, 4, 4), 2, padding=2, ceil_mode=True), ValueError,
     "max_pool2d: pad should be at most half"),
    (lambda: F.adaptive_max_pool2d(tg.zeros(4, 4), 2, return_indices=True), ValueError,
     r"adaptive_max_pool2d: expected a 4-D or 3-D input"),
])
def test_errors_name_the_op_and_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_ceil_mode_lets_a_kernel_longer_than_the_input_pool_once(device):
    x = t([[[[1.0, 5.0], [3.0, 2.0]]]], device)
    np.testing.assert_array_equal(F.max_pool2d(x, 3, 2, ceil_mode=True).numpy(), [[[[5.0]]]])
    np.testing.assert_allclose(F.avg_pool2d(x, 3, 2, ceil_mode=True).numpy(), [[[[11 / 4]]]])
