"""The volumetric (3-D) layers: conv3d and conv_transpose3d against direct NumPy sums and
scatters written here, their adjoint identity, the pools against window loops, the
modules (PyTorch's init bounds, state_dict names, running statistics), channel dropout
and the errors; every value test runs on cpu and strict.

``CONV3D_OPS`` is this file's op table (the lead joins it to test_two_modes.py's TABLE):
gradcheck, gradgradcheck and the two-path comparison run over it here, in float64 on
tiny shapes drawn by hypothesis. Its new Functions are Vol2Col and Col2Vol."""

import math
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.nn import conv3d as layers
from tinygrad_opt.nn import functional_conv3d as F3

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "core"))
from test_ops_gradcheck import REAL, Op, distinct  # noqa: E402
from test_two_modes import assert_the_two_paths_agree  # noqa: E402


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


# ------------------------------------------------------------ independent NumPy references

def out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def pool_out_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size: floor, or ceil without a window starting in the
    right padding."""
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil_mode:
        return span // s + 1
    out = math.ceil(span / s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def naive_conv3d(x, w, b, stride, padding, dilation, groups=1):
    """y[n,o,od,oh,ow] = b[o] + Σ_{c,a,i,j} w[o,c,a,i,j]
    · x_pad[n, first_channel(o) + c, od·sd + a·dd, oh·sh + i·dh, ow·sw + j·dw]."""
    N, C, D, H, W = x.shape
    O, Cg, kd, kh, kw = w.shape
    (sd, sh, sw), (pd, ph, pw), (dd, dh, dw) = stride, padding, dilation
    xpad = np.pad(x, ((0, 0), (0, 0), (pd, pd), (ph, ph), (pw, pw)))
    sizes = (out_size(D, kd, sd, pd, dd), out_size(H, kh, sh, ph, dh),
             out_size(W, kw, sw, pw, dw))
    y = np.zeros((N, O) + sizes)
    per_group = O // groups
    for n, o, od, oh, ow in np.ndindex(y.shape):
        first_channel = (o // per_group) * Cg
        total = 0.0 if b is None else b[o]
        for c, a, i, j in np.ndindex(Cg, kd, kh, kw):
            total += w[o, c, a, i, j] * xpad[n, first_channel + c, od * sd + a * dd,
                                             oh * sh + i * dh, ow * sw + j * dw]
        y[n, o, od, oh, ow] = total
    return y


def naive_conv_transpose3d(x, w, b, stride, padding, output_padding, dilation, groups=1):
    """The scatter: input voxel x[n, c, d, h, v] adds x·w[c, o, a, i, j] at full-output
    position (d·sd + a·dd, h·sh + i·dh, v·sw + j·dw); then [p, p + O) of each axis of the
    zero-extended full output is kept."""
    N, C_in, D, H, W = x.shape
    _, Og, kd, kh, kw = w.shape
    sizes = [(size - 1) * s - 2 * p + d * (k - 1) + op + 1 for size, k, s, p, op, d in
             zip((D, H, W), (kd, kh, kw), stride, padding, output_padding, dilation)]
    big = [p + size + (n - 1) * s + d * (k - 1) + 1 for p, size, n, s, d, k in
           zip(padding, sizes, (D, H, W), stride, dilation, (kd, kh, kw))]
    full = np.zeros((N, Og * groups, *big))
    (sd, sh, sw), (dd, dh, dw) = stride, dilation
    Cg = C_in // groups
    for n, c, d, h, v in np.ndindex(x.shape):
        g = c // Cg
        for o, a, i, j in np.ndindex(Og, kd, kh, kw):
            full[n, g * Og + o, d * sd + a * dd, h * sh + i * dh, v * sw + j * dw] += (
                x[n, c, d, h, v] * w[c, o, a, i, j])
    (pd, ph, pw), (OD, OH, OW) = padding, sizes
    y = full[:, :, pd:pd + OD, ph:ph + OH, pw:pw + OW]
    return y if b is None else y + b.reshape(1, -1, 1, 1, 1)


def naive_pool3d(x, k, s, p, reduce, d=(1, 1, 1), ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
    """Max or mean over each window, read position by position in unpadded coordinates:
    ``t = o·s + i·d − p``; positions outside [0, size) are padding (never the max, 0 in a
    sum). The mean's divisor counts positions below size + p (inside the padded input),
    or inside [0, size) only without count_include_pad."""
    N, C = x.shape[:2]
    sizes = [pool_out_size(size, *axis, ceil) for size, *axis, ceil in
             zip(x.shape[2:], k, s, p, d, [ceil_mode] * 3)]
    y = np.zeros((N, C, *sizes))
    for out in np.ndindex(*sizes):
        taps = [[o * s_ + i * d_ - p_ for i in range(k_)] for o, k_, s_, p_, d_ in
                zip(out, k, s, p, d)]
        inside = [[t for t in axis if 0 <= t < size] for axis, size in zip(taps, x.shape[2:])]
        window = x[:, :, inside[0]][:, :, :, inside[1]][:, :, :, :, inside[2]]
        window = window.reshape(N, C, -1)
        if reduce == "max":
            y[(Ellipsis, *out)] = window.max(axis=2) if window.shape[2] else -np.inf
            continue
        if divisor_override is not None:
            divisor = divisor_override
        elif count_include_pad:
            divisor = math.prod(sum(t < size + p_ for t in axis)
                                for axis, size, p_ in zip(taps, x.shape[2:], p))
        else:
            divisor = window.shape[2]
        y[(Ellipsis, *out)] = window.sum(axis=2) / divisor
    return y


def test_the_references_on_hand_computed_cases():
    x = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    w = np.ones((1, 1, 2, 2, 2))
    np.testing.assert_array_equal(naive_conv3d(x, w, None, (1,) * 3, (0,) * 3, (1,) * 3),
                                  [[[[[28.0]]]]])           # 0 + 1 + ... + 7
    # one voxel of value 2 scatters the kernel [1 10] with stride 2 along W: 2 20 . 0
    ones = np.array([[[[[2.0]]]]])
    kernel = np.array([[[[[1.0, 10.0]]]]])
    y = naive_conv_transpose3d(ones, kernel, None, (1, 1, 2), (0, 0, 0), (0, 0, 1), (1,) * 3)
    np.testing.assert_array_equal(y, [[[[[2.0, 20.0, 0.0]]]]])
    np.testing.assert_array_equal(naive_pool3d(x, (2,) * 3, (2,) * 3, (0,) * 3, "max"),
                                  [[[[[7.0]]]]])
    # padding 1, kernel 2: window (0, 0, 0) holds only x[0, 0, 0] = 0 and 7 pads
    mean = naive_pool3d(x + 1, (2,) * 3, (1,) * 3, (1,) * 3, "mean", count_include_pad=False)
    assert mean[0, 0, 0, 0, 0] == 1.0 and mean.shape == (1, 1, 3, 3, 3)
    mean = naive_pool3d(x + 1, (2,) * 3, (1,) * 3, (1,) * 3, "mean")
    assert mean[0, 0, 0, 0, 0] == 1.0 / 8


# ------------------------------------------------------------------------- convolutions

CONV_CASES = [  # x shape, w shape, stride, padding, dilation, groups, bias
    ((2, 3, 4, 4, 4), (2, 3, 3, 3, 3), 1, 0, 1, 1, True),
    ((1, 2, 5, 4, 3), (3, 2, 2, 2, 2), 2, 1, 1, 1, False),
    ((1, 2, 5, 5, 4), (2, 2, 2, 2, 2), (1, 2, 1), (1, 0, 1), (2, 1, 2), 1, True),
    ((2, 4, 3, 4, 3), (6, 2, 1, 2, 3), (2, 1, 1), (0, 1, 1), 1, 2, True),
    ((1, 3, 3, 3, 3), (3, 1, 3, 1, 2), 1, (1, 0, 1), (1, 1, 2), 3, False),   # depthwise
]


def triple(value):
    return value if isinstance(value, tuple) else (value,) * 3


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, bias",
                         CONV_CASES)
def test_conv3d_matches_direct_sums(x_shape, w_shape, stride, padding, dilation, groups, bias,
                                    device, rng):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    y = F3.conv3d(as_tensor(x, device), as_tensor(w, device),
                  None if b is None else as_tensor(b, device), stride, padding, dilation,
                  groups)
    expected = naive_conv3d(x, w, b, triple(stride), triple(padding), triple(dilation), groups)
    assert y.shape == expected.shape and y.device == device
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel, dilation", [((3, 3, 3), (1, 1, 1)), ((2, 3, 4), (1, 2, 1)),
                                              ((2, 2, 1), (3, 1, 1))])
def test_conv3d_padding_same_and_valid(kernel, dilation, device, rng):
    # 'same': d·(k − 1) added positions, half on each side and an odd one at the end.
    x, w = rng.standard_normal((1, 2, 4, 5, 5)), rng.standard_normal((3, 2) + kernel)
    totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
    padded = np.pad(x, [(0, 0), (0, 0)] + [(t // 2, t - t // 2) for t in totals])
    expected = naive_conv3d(padded, w, None, (1,) * 3, (0,) * 3, dilation)
    y = F3.conv3d(as_tensor(x, device), as_tensor(w, device), padding="same",
                  dilation=dilation)
    assert y.shape == (1, 3, 4, 5, 5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    valid = F3.conv3d(as_tensor(x, device), as_tensor(w, device), padding="valid",
                      dilation=dilation)
    np.testing.assert_allclose(valid.numpy(), naive_conv3d(x, w, None, (1,) * 3, (0,) * 3,
                                                           dilation), rtol=1e-12, atol=1e-12)


TRANSPOSE_CASES = [  # x shape, w shape, stride, padding, output_padding, dilation, groups
    ((2, 3, 2, 3, 2), (3, 2, 2, 2, 2), 1, 0, 0, 1, 1),
    ((1, 2, 3, 2, 2), (2, 3, 3, 2, 2), 2, 1, 1, 1, 1),
    ((1, 2, 2, 3, 2), (2, 1, 2, 2, 3), (2, 1, 3), (0, 1, 1), (1, 0, 2), (1, 2, 1), 1),
    ((2, 4, 2, 2, 2), (4, 1, 2, 1, 2), (1, 2, 2), 0, (0, 1, 0), 1, 2),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, dilation, groups",
                         TRANSPOSE_CASES)
def test_conv_transpose3d_matches_the_scatter(x_shape, w_shape, stride, padding,
                                              output_padding, dilation, groups, device, rng):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * groups)
    y = F3.conv_transpose3d(as_tensor(x, device), as_tensor(w, device), as_tensor(b, device),
                            stride, padding, output_padding, groups, dilation)
    expected = naive_conv_transpose3d(x, w, b, triple(stride), triple(padding),
                                      triple(output_padding), triple(dilation), groups)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), ((1, 2, 3), (1, 0, 1), (2, 1, 1), 2)])
def test_conv3d_and_conv_transpose3d_are_adjoint(stride, padding, dilation, groups, device,
                                                 rng):
    """⟨conv3d(x, W), y⟩ = ⟨x, conv_transpose3d(y, W)⟩, output_padding chosen so that the
    transposed output has x's shape."""
    x_shape, w = (2, 4, 5, 6, 7), rng.standard_normal((6, 4 // groups, 2, 3, 2))
    x = rng.standard_normal(x_shape)
    forward = F3.conv3d(as_tensor(x, device), as_tensor(w, device), None, stride, padding,
                        dilation, groups)
    y = rng.standard_normal(forward.shape)
    sizes = [(o - 1) * s - 2 * p + d * (k - 1) + 1 for o, s, p, d, k in
             zip(forward.shape[2:], triple(stride), triple(padding), triple(dilation),
                 w.shape[2:])]
    output_padding = tuple(size - low for size, low in zip(x_shape[2:], sizes))
    back = F3.conv_transpose3d(as_tensor(y, device), as_tensor(w, device), None, stride,
                               padding, output_padding, groups, dilation)
    assert back.shape == x_shape
    np.testing.assert_allclose((forward.numpy() * y).sum(), (x * back.numpy()).sum(),
                               rtol=1e-12)


def test_vol2col_layout_and_col2vol_is_its_adjoint(device, rng):
    x = rng.standard_normal((2, 3, 4, 3, 5))
    options = dict(kernel_size=(2, 1, 3), stride=(1, 2, 1), padding=(1, 0, 1),
                   dilation=(2, 1, 1))
    cols = F3.Vol2Col.apply(as_tensor(x, device), **options)
    xpad = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0), (1, 1)))
    # row (c, a, i, j) = (2, 1, 0, 2) is ((c·kd + a)·kh + i)·kw + j; column (od, oh, ow) =
    # (1, 1, 2) is (od·OH + oh)·OW + ow, with (OD, OH, OW) = (4, 2, 5)
    row, column = ((2 * 2 + 1) * 1 + 0) * 3 + 2, (1 * 2 + 1) * 5 + 2
    assert cols.shape == (2, 3 * 6, 4 * 2 * 5)
    np.testing.assert_array_equal(cols.numpy()[:, row, column],
                                  xpad[:, 2, 1 + 1 * 2, 1 * 2, 2 + 2])
    c = rng.standard_normal(cols.shape)
    back = F3.Col2Vol.apply(as_tensor(c, device), input_shape=x.shape,
                            options=tuple(options.values()))
    np.testing.assert_allclose((cols.numpy() * c).sum(), (x * back.numpy()).sum(), rtol=1e-12)


def test_unbatched_inputs_give_the_batched_results_without_the_batch(device, rng):
    x, w = rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((3, 2, 2, 2, 2))
    batched = as_tensor(x[None], device)
    for function, args in [(F3.conv3d, (as_tensor(w, device), None, 1, 1)),
                           (F3.conv_transpose3d, (as_tensor(w.transpose(1, 0, 2, 3, 4)
                                                            [:2].copy(), device), None, 2)),
                           (F3.max_pool3d, (2, 1, 1)), (F3.avg_pool3d, (2, 2))]:
        one = function(as_tensor(x, device), *args)
        np.testing.assert_array_equal(one.numpy(), function(batched, *args).numpy()[0])
    values, indices = F3.max_pool3d(as_tensor(x, device), 2, return_indices=True)
    assert values.shape == indices.shape == (2, 2, 2, 1)


# -------------------------------------------------------------------------------- pooling

POOL_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False),
    (3, 1, 1, 1, False),
    ((2, 3, 2), (1, 2, 2), (1, 1, 0), (2, 1, 1), False),
    (2, 2, 0, 1, True),
    ((3, 2, 2), (2, 2, 3), (1, 0, 1), 1, True),
]


@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", POOL_CASES)
def test_max_pool3d_matches_window_loops(kernel, stride, padding, dilation, ceil_mode,
                                         device, rng):
    x = rng.standard_normal((2, 2, 5, 4, 5))
    y = F3.max_pool3d(as_tensor(x, device), kernel, stride, padding, dilation, ceil_mode)
    expected = naive_pool3d(x, triple(kernel), triple(stride or kernel), triple(padding),
                            "max", triple(dilation), ceil_mode)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    values, indices = F3.max_pool3d(as_tensor(x, device), kernel, stride, padding, dilation,
                                    ceil_mode, return_indices=True)
    np.testing.assert_array_equal(values.numpy(), expected)
    flat = x.reshape(2, 2, -1)                   # the indices point at the maxima in x
    picked = np.take_along_axis(flat, indices.numpy().reshape(2, 2, -1), axis=2)
    np.testing.assert_array_equal(picked.reshape(expected.shape), expected)


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", [
    (2, None, 0, False), (3, 1, 1, False), ((2, 3, 1), (1, 2, 2), (1, 1, 0), False),
    (2, 2, 1, True), ((3, 2, 2), (2, 2, 3), (1, 0, 1), True)])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool3d_matches_window_loops(kernel, stride, padding, ceil_mode,
                                         count_include_pad, device, rng):
    x = rng.standard_normal((2, 2, 5, 4, 5))
    y = F3.avg_pool3d(as_tensor(x, device), kernel, stride, padding, ceil_mode,
                      count_include_pad)
    expected = naive_pool3d(x, triple(kernel), triple(stride or kernel), triple(padding),
                            "mean", ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-13, atol=1e-15)


def test_avg_pool3d_divisor_override(device, rng):
    x = rng.standard_normal((1, 2, 4, 4, 4))
    y = F3.avg_pool3d(as_tensor(x, device), 2, padding=1, divisor_override=3)
    expected = naive_pool3d(x, (2,) * 3, (2,) * 3, (1,) * 3, "mean", divisor_override=3)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-13)


def test_max_pool3d_ties_share_the_gradient_as_max_pool2d(device):
    # One 2×2×2 window of equal values: each of the 8 gets 1/8 of the gradient, as
    # max_pool2d's tied maxima share theirs. With return_indices the first one gets it all.
    x = as_tensor(np.ones((1, 1, 2, 2, 2)), device, requires_grad=True)
    F3.max_pool3d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 1, 2, 2, 2), 1 / 8))
    image = as_tensor(np.ones((1, 1, 2, 2)), device, requires_grad=True)
    tg.nn.functional.max_pool2d(image, 2).sum().backward()
    np.testing.assert_array_equal(image.grad.numpy(), np.full((1, 1, 2, 2), 1 / 4))
    x.grad = None
    values, indices = F3.max_pool3d(x, 2, return_indices=True)
    values.sum().backward()
    assert indices.numpy().item() == 0
    expected = np.zeros((1, 1, 2, 2, 2))
    expected[0, 0, 0, 0, 0] = 1.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_max_pool3d_gradient_goes_to_the_maximum_only(device):
    x = np.random.default_rng(3).permutation(27).reshape(1, 1, 3, 3, 3) * 1.0  # no ties
    t = as_tensor(x, device, requires_grad=True)
    F3.max_pool3d(t, 2, stride=1).sum().backward()
    expected = np.zeros(27)
    windows = [(d, h, w) for d in range(2) for h in range(2) for w in range(2)]
    for d, h, w in windows:
        block = x[0, 0, d:d + 2, h:h + 2, w:w + 2]
        a, i, j = np.unravel_index(block.argmax(), block.shape)  # unique maximum
        expected[(d + a) * 9 + (h + i) * 3 + (w + j)] += 1
    np.testing.assert_array_equal(t.grad.numpy().ravel(), expected)


# ------------------------------------------------------------------- the op table

def small(build, count):
    """Shapes made by ``build`` from ``count`` sizes drawn in 1..2 (gradgradcheck in
    float64 differentiates through every element: the shapes stay tiny)."""
    sizes = st.lists(st.integers(1, 2), min_size=count, max_size=count)
    return lambda arity: sizes.map(lambda drawn: build(*drawn))


def col2vol_2x2x2(cols):
    """Col2Vol of (N, C·8, 4) windows of a 2×2×2 kernel, stride 1, into (N, C, 3, 2, 3)."""
    N, rows, _ = cols.shape
    return F3.Col2Vol.apply(cols, input_shape=(N, rows // 8, 3, 2, 3),
                            options=((2, 2, 2), (1, 1, 1), (0, 0, 0), (1, 1, 1)))


CONV3D_OPS = [
    Op("vol2col", lambda x: F3.Vol2Col.apply(x, kernel_size=(2, 1, 2), stride=(1, 2, 1),
                                             padding=(1, 0, 1), dilation=(1, 1, 2)), 1,
       shapes=small(lambda n, c, d: [(n, c, d + 1, 3, 3)], 3)),
    Op("col2vol", col2vol_2x2x2, 1, shapes=small(lambda n, c: [(n, 8 * c, 4)], 2)),
    Op("conv3d_padding_bias", lambda x, w, b: F3.conv3d(x, w, b, padding=1), 3,
       shapes=small(lambda n, c, o, d: [(n, c, d + 1, 2, 1), (o, c, 2, 2, 1), (o,)], 4)),
    Op("conv3d_stride_dilation_groups",
       lambda x, w: F3.conv3d(x, w, stride=(2, 1, 1), padding=(0, 1, 1), dilation=(1, 2, 1),
                              groups=2), 2,
       shapes=small(lambda n, c, o: [(n, 2 * c, 3, 3, 2), (2 * o, c, 2, 2, 1)], 3)),
    Op("conv3d_same_even_kernel", lambda x, w: F3.conv3d(x, w, padding="same"), 2,
       shapes=small(lambda n, c, o: [(n, c, 2, 2, 3), (o, c, 2, 1, 2)], 3)),
    Op("conv_transpose3d",
       lambda x, w, b: F3.conv_transpose3d(x, w, b, stride=(2, 1, 1), padding=(0, 1, 0),
                                           output_padding=(1, 0, 0), dilation=(1, 1, 2)), 3,
       shapes=small(lambda n, c, o: [(n, c, 2, 2, 1), (c, o, 2, 2, 2), (o,)], 3)),
    Op("conv_transpose3d_groups",
       lambda x, w: F3.conv_transpose3d(x, w, stride=2, padding=1, groups=2), 2,
       shapes=small(lambda n, c, o: [(n, 2 * c, 2, 1, 2), (2 * c, o, 2, 3, 2)], 3)),
    Op("max_pool3d_padding", lambda x: F3.max_pool3d(x, 2, stride=1, padding=1), 1, distinct,
       small(lambda n, c: [(n, c, 2, 3, 2)], 2)),
    Op("max_pool3d_ceil_dilation",
       lambda x: F3.max_pool3d(x, (2, 2, 1), stride=2, dilation=(1, 2, 1), ceil_mode=True), 1,
       distinct, small(lambda n, c: [(n, c, 3, 4, 3)], 2)),
    Op("max_pool3d_indices", lambda x: F3.max_pool3d(x, 2, return_indices=True)[0], 1,
       distinct, small(lambda n, c: [(n, c, 2, 3, 2)], 2)),
    Op("avg_pool3d_exclude_pad",
       lambda x: F3.avg_pool3d(x, 2, stride=1, padding=1, count_include_pad=False), 1, REAL,
       small(lambda n, c: [(n, c, 2, 2, 3)], 2)),
    Op("avg_pool3d_ceil", lambda x: F3.avg_pool3d(x, 2, ceil_mode=True), 1, REAL,
       small(lambda n, c: [(n, c, 3, 3, 2)], 2)),
]

SETTINGS = settings(max_examples=2, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IDS = [op.name for op in CONV3D_OPS]


def draw(op, data):
    shapes_drawn = data.draw(op.shapes(op.arity), label="shapes")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    return rng, op.domain(rng, shapes_drawn)


def leaves(arrays, device):
    return [tg.tensor(array, dtype=tg.float64, requires_grad=True, device=device)
            for array in arrays]


def test_table_names_are_unique():
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("op", CONV3D_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", CONV3D_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_gradgradcheck(op, device, data):
    _, arrays = draw(op, data)
    assert tg.gradgradcheck(op.fn, leaves(arrays, device), **op.tolerance)


@pytest.mark.parametrize("op", CONV3D_OPS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    rng, arrays = draw(op, data)
    assert_the_two_paths_agree(op, arrays, rng, device)


@settings(max_examples=1, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_the_table_runs_both_new_functions(data):
    """Vol2Col and Col2Vol each make a node of some entry's graph (forward or recorded
    backward), so the two-path comparison covers them."""
    seen, rng = set(), np.random.default_rng(0)
    for op in CONV3D_OPS:
        inputs = leaves(op.domain(rng, data.draw(op.shapes(op.arity), label=op.name)), "cpu")
        output = op.fn(*inputs)
        grads = tg.grad(output, inputs, grad_outputs=tg.ones_like(output), create_graph=True)
        pending = [output, *grads]
        while pending:
            node = pending.pop().grad_fn
            if node is not None and type(node) not in seen:
                seen.add(type(node))
                pending.extend(node.inputs)
    assert {F3.Vol2Col, F3.Col2Vol} <= seen


# -------------------------------------------------------------------------------- modules

@pytest.mark.parametrize("groups", [1, 2])
def test_conv3d_module_init_state_dict_and_values(groups, device):
    layer = layers.Conv3d(4, 6, (3, 2, 2), stride=(1, 2, 1), padding=1, groups=groups,
                          device=device, dtype=tg.float64)
    assert layer.weight.shape == (6, 4 // groups, 3, 2, 2) and layer.bias.shape == (6,)
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert layer.kernel_size == (3, 2, 2) and layer.padding == (1, 1, 1)
    bound = 1 / math.sqrt(4 // groups * 12)             # fan_in = C_in/groups · kd·kh·kw
    for parameter in (layer.weight, layer.bias):
        values = parameter.numpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.5 * bound
    x = np.random.default_rng(1).standard_normal((2, 4, 3, 4, 3))
    expected = naive_conv3d(x, layer.weight.numpy(), layer.bias.numpy(), (1, 2, 1),
                            (1, 1, 1), (1, 1, 1), groups)
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, rtol=1e-12)
    assert layers.Conv3d(2, 3, 2, bias=False).bias is None
    assert "bias=False" in repr(layers.Conv3d(2, 3, 2, bias=False))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv3d_padding_modes_pad_first(mode, device, rng):
    layer = layers.Conv3d(2, 3, 3, padding=(1, 2, 1), padding_mode=mode, device=device,
                          dtype=tg.float64)
    x = rng.standard_normal((1, 2, 3, 4, 3))
    numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2), (1, 1)), mode=numpy_mode)
    expected = naive_conv3d(padded, layer.weight.numpy(), layer.bias.numpy(), (1,) * 3,
                            (0,) * 3, (1,) * 3)
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, rtol=1e-12)


def test_conv_transpose3d_module(device, rng):
    layer = layers.ConvTranspose3d(4, 6, (2, 3, 2), stride=2, padding=(0, 1, 0), groups=2,
                                   device=device, dtype=tg.float64)
    assert layer.weight.shape == (4, 3, 2, 3, 2) and layer.stride == (2, 2, 2)
    assert list(layer.state_dict()) == ["weight", "bias"]
    bound = 1 / math.sqrt(3 * 12)                       # fan_in = C_out/groups · kd·kh·kw
    assert np.abs(layer.weight.numpy()).max() <= bound
    assert np.abs(layer.bias.numpy()).max() <= bound
    x = rng.standard_normal((1, 4, 2, 3, 2))
    y = layer(as_tensor(x, device))
    expected = naive_conv_transpose3d(x, layer.weight.numpy(), layer.bias.numpy(), (2,) * 3,
                                      (0, 1, 0), (0,) * 3, (1,) * 3, groups=2)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    assert y.shape == (1, 6, 4, 5, 4)
    wider = layer(as_tensor(x, device), output_size=(5, 6, 5))   # output_padding (1, 1, 1)
    assert wider.shape == (1, 6, 5, 6, 5)
    np.testing.assert_allclose(wider.numpy()[:, :, :4, :5, :4], expected, rtol=1e-12)
    with pytest.raises(ValueError, match="ConvTranspose3d: requested an output size"):
        layer(as_tensor(x, device), output_size=(6, 6, 5))


def test_pool_modules(device, rng):
    x = rng.standard_normal((1, 2, 4, 5, 4))
    t = as_tensor(x, device)
    np.testing.assert_array_equal(layers.MaxPool3d(2, padding=1)(t).numpy(),
                                  naive_pool3d(x, (2,) * 3, (2,) * 3, (1,) * 3, "max"))
    values, indices = layers.MaxPool3d(2, return_indices=True)(t)
    assert values.shape == indices.shape == (1, 2, 2, 2, 2)
    np.testing.assert_allclose(
        layers.AvgPool3d(2, 1, 1, count_include_pad=False)(t).numpy(),
        naive_pool3d(x, (2,) * 3, (1,) * 3, (1,) * 3, "mean", count_include_pad=False),
        rtol=1e-13)
    pooled = layers.AvgPool3d(3, ceil_mode=True, divisor_override=2)(t)
    assert pooled.shape == (1, 2, 2, 2, 2)
    assert repr(layers.MaxPool3d(2)) == ("MaxPool3d(kernel_size=2, stride=2, padding=0, "
                                         "dilation=1, ceil_mode=False)")


def test_batch_norm3d_statistics_running_estimates_and_eval(device, rng):
    x = rng.standard_normal((2, 3, 2, 3, 2)) * 2 + 1
    layer = layers.BatchNorm3d(3, momentum=0.2, device=device, dtype=tg.float64)
    assert list(layer.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                        "num_batches_tracked"]
    y = layer(as_tensor(x, device)).numpy()
    axes = (0, 2, 3, 4)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)                # biased, to normalise
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10)
    n = 2 * 2 * 3 * 2                                    # values per channel
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.2 * mean.ravel(), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(),
                               0.8 + 0.2 * var.ravel() * n / (n - 1), rtol=1e-12)  # unbiased
    assert layer.num_batches_tracked.numpy() == 1
    layer.eval()
    running_mean, running_var = layer.running_mean.numpy(), layer.running_var.numpy()
    expected = ((x - running_mean.reshape(1, 3, 1, 1, 1))
                / np.sqrt(running_var.reshape(1, 3, 1, 1, 1) + 1e-5))
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, rtol=1e-10)
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected 5D input .* \(2, 3, 3, 2\)"):
        layer(as_tensor(x[:, :, 0], device))
    with pytest.raises(ValueError, match="BatchNorm3d: input of shape .* has 2 channels"):
        layer(as_tensor(x[:, :2], device))


def test_instance_norm3d(device, rng):
    x = rng.standard_normal((2, 3, 2, 3, 2)) * 3 - 1
    axes = (-3, -2, -1)
    expected = ((x - x.mean(axis=axes, keepdims=True))
                / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5))
    layer = layers.InstanceNorm3d(3, device=device, dtype=tg.float64)
    assert list(layer.state_dict()) == []
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(layer(as_tensor(x[0], device)).numpy(), expected[0],
                               rtol=1e-10)                       # unbatched (C, D, H, W)
    affine = layers.InstanceNorm3d(3, affine=True, track_running_stats=True, device=device)
    assert list(affine.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                         "num_batches_tracked"]
    with pytest.raises(ValueError, match="InstanceNorm3d: expected a 4-D or 5-D input"):
        layer(as_tensor(x[:, :, 0, 0], device))


# -------------------------------------------------------------------------------- dropout

def channel_values(y, x):
    """Per (n, c) channel: the one factor y/x it was multiplied by (x has no zeros)."""
    ratios = (y / x).reshape(x.shape[0] * x.shape[1], -1)
    np.testing.assert_allclose(ratios, ratios[:, :1] * np.ones_like(ratios), rtol=1e-12)
    return ratios[:, 0]


def test_dropout3d_zeroes_whole_channels_and_scales_the_rest(device, rng):
    x = rng.uniform(0.5, 1.5, (20, 10, 2, 2, 2))
    y = F3.dropout3d(as_tensor(x, device), p=0.3).numpy()
    factors = channel_values(y, x)
    assert set(np.round(factors, 12)) == {0.0, round(1 / 0.7, 12)}
    assert 0.2 < np.mean(factors == 0) < 0.4             # about p of the 200 channels
    unbatched = F3.dropout3d(as_tensor(x[0], device), p=0.5).numpy()   # (C, D, H, W)
    factors = channel_values(unbatched[None], x[:1])
    assert set(np.round(factors, 12)) <= {0.0, 2.0} and len(set(factors)) == 2
    np.testing.assert_array_equal(F3.dropout3d(as_tensor(x, device), 1.0).numpy(), 0 * x)
    t = as_tensor(x, device)
    assert F3.dropout3d(t, 0.5, training=False) is t
    layer = layers.Dropout3d(0.25)
    assert layer(t).numpy().min() == 0
    assert layer.eval()(t) is t
    inplace = as_tensor(x, device)
    assert F3.dropout3d(inplace, 0.5, inplace=True) is inplace
    assert set(np.round(channel_values(inplace.numpy(), x), 12)) == {0.0, 2.0}


def test_dropout3d_gradient_is_the_same_mask(device, rng):
    x = as_tensor(rng.uniform(0.5, 1.5, (4, 5, 1, 2, 2)), device, requires_grad=True)
    y = F3.dropout3d(x, p=0.5)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy() / x.numpy(), rtol=1e-12)


def test_feature_alpha_dropout(device, rng):
    x = rng.uniform(0.5, 1.5, (20, 10, 2, 3))
    p = 0.2
    alpha = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717
    a = 1 / math.sqrt((alpha ** 2 * p + 1) * (1 - p))
    b = a * alpha * p
    y = F3.feature_alpha_dropout(as_tensor(x, device), p, training=True).numpy()
    kept = np.isclose(y, a * x + b, rtol=1e-12)
    dropped = np.isclose(y, -a * alpha + b, rtol=1e-12)
    assert np.all(kept | dropped)
    per_channel = kept.reshape(200, -1)                  # whole channels kept or dropped
    assert np.all(per_channel.all(axis=1) | ~per_channel.any(axis=1))
    assert 0.1 < np.mean(~per_channel[:, 0]) < 0.3
    t = as_tensor(x, device)
    assert F3.feature_alpha_dropout(t, p) is t             # training=False by default
    np.testing.assert_array_equal(F3.feature_alpha_dropout(t, 1.0, True).numpy(), 0 * x)
    layer = layers.FeatureAlphaDropout(p)
    out = layer(t).numpy()
    assert np.all(np.isclose(out, a * x + b) | np.isclose(out, -a * alpha + b))
    assert layer.eval()(t) is t
    assert repr(layers.FeatureAlphaDropout(0.2)) == "FeatureAlphaDropout(p=0.2)"


# --------------------------------------------------------------------------------- errors

def _x(*shape):
    return tg.zeros(*shape, dtype=tg.float64)


ERRORS = [
    (lambda: F3.conv3d(_x(1, 2, 3, 3), _x(2, 2, 1, 1, 1)), ValueError,
     r"conv3d: .* \(3, 3\)|conv3d: .*shape"),
    (lambda: F3.conv3d(_x(1, 2, 3), _x(2, 2, 1, 1, 1)), ValueError,
     r"conv3d: expected a 5-D input \(N, C, D, H, W\), got shape \(1, 2, 3\)"),
    (lambda: F3.conv3d(_x(1, 2, 3, 3, 3), _x(2, 2, 1, 1)), ValueError,
     r"conv3d: expected a 5-D weight .* got shape \(2, 2, 1, 1\)"),
    (lambda: F3.conv3d(_x(1, 3, 3, 3, 3), _x(2, 2, 1, 1, 1)), ValueError,
     r"conv3d: input of shape \(1, 3, 3, 3, 3\) \(C=3\) and weight of shape"),
    (lambda: F3.conv3d(_x(1, 4, 3, 3, 3), _x(3, 2, 1, 1, 1), groups=2), ValueError,
     "groups=2"),
    (lambda: F3.conv3d(_x(1, 2, 3, 3, 3), _x(2, 2, 1, 1, 1), _x(3)), ValueError,
     r"conv3d: bias of shape \(3,\)"),
    (lambda: F3.conv3d(_x(1, 2, 2, 3, 3), _x(2, 2, 3, 1, 1)), ValueError,
     r"conv3d: input of shape \(1, 2, 2, 3, 3\) is too small .* \(output would be 0x3x3\)"),
    (lambda: F3.conv3d(_x(1, 2, 3, 3, 3), _x(2, 2, 1, 1, 1), stride=(1, 2)), TypeError,
     "conv3d: stride must be an int or a triple of ints, got"),
    (lambda: F3.conv3d(_x(1, 2, 3, 3, 3), _x(2, 2, 1, 1, 1), stride=0), ValueError,
     "conv3d: kernel_size .* must be positive"),
    (lambda: F3.conv3d(_x(1, 2, 3, 3, 3), _x(2, 2, 1, 1, 1), stride=2, padding="same"),
     ValueError, "conv3d: padding='same' is not supported for strided convolutions"),
    (lambda: F3.conv3d(_x(1, 2, 3, 3, 3), _x(2, 2, 1, 1, 1), padding="full"), ValueError,
     "conv3d: padding must be an int, a triple, 'valid' or 'same'"),
    (lambda: F3.conv_transpose3d(_x(1, 2, 2, 2, 2), _x(2, 1, 2, 2, 2), stride=2,
                                 output_padding=2), ValueError,
     "conv_transpose3d: output padding must be smaller than either stride or dilation"),
    (lambda: F3.conv_transpose3d(_x(1, 3, 2, 2, 2), _x(2, 1, 2, 2, 2)), ValueError,
     r"conv_transpose3d: weight of shape \(2, 1, 2, 2, 2\) expects an input with 2 channels"),
    (lambda: F3.conv_transpose3d(_x(1, 2, 2, 2, 2), _x(2, 1, 2, 2)), ValueError,
     "conv_transpose3d: expected a 5-D weight"),
    (lambda: F3.conv_transpose3d(_x(1, 2, 1, 1, 1), _x(2, 1, 1, 1, 1), padding=1), ValueError,
     "conv_transpose3d: .* gives an output of -1x-1x-1, too small"),
    (lambda: F3.max_pool3d(_x(1, 1, 4, 4, 4), 2, padding=2), ValueError,
     r"max_pool3d: pad should be at most half of effective kernel size, but got padding "
     r"\(2, 2, 2\) and kernel_size \(2, 2, 2\)"),
    (lambda: F3.max_pool3d(_x(1, 4, 4), 2), ValueError,
     r"max_pool3d: expected a 5-D input .* got shape \(1, 4, 4\) \(or a 4-D \(C, D, H, W\)"),
    (lambda: F3.avg_pool3d(_x(1, 1, 1, 4, 4), 2), ValueError,
     r"avg_pool3d: input of shape \(1, 1, 1, 4, 4\) is too small .* "
     r"\(output would be 0x2x2\)"),
    (lambda: F3.avg_pool3d(_x(1, 1, 4, 4, 4), 2, divisor_override=0), ValueError,
     "avg_pool3d: divisor_override must be a non-zero int"),
    (lambda: F3.dropout3d(_x(), 0.5), RuntimeError,   # (a 3-D input: deprecated, not refused)
     r"dropout3d: feature dropout needs at least 2 dims .* got shape \(\)"),
    (lambda: F3.dropout3d(_x(1, 2, 3, 3, 3), 1.5), ValueError,
     "dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F3.feature_alpha_dropout(_x(3), 0.5, True), RuntimeError,
     r"feature_alpha_dropout: .* at least 2 dimensions .* got shape \(3,\)"),
    (lambda: layers.Conv3d(3, 4, 2, groups=2), ValueError,
     "Conv3d: in_channels 3 and out_channels 4 must be divisible by groups 2"),
    (lambda: layers.Conv3d(2, 4, 2, padding_mode="mirror"), ValueError,
     "Conv3d: padding_mode must be one of"),
    (lambda: layers.Conv3d(2, 4, 3, stride=2, padding="same"), ValueError,
     "Conv3d: padding='same' is not supported for strided convolutions"),
    (lambda: layers.ConvTranspose3d(2, 4, 2, padding_mode="reflect"), ValueError,
     'Only "zeros" padding mode is supported for ConvTranspose3d'),
    (lambda: layers.Dropout3d(-0.1), ValueError, "dropout probability has to be between"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors_name_the_op_and_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_conv3d_refuses_tensors_on_two_devices():
    with pytest.raises(RuntimeError, match="conv3d: input is on device 'cpu', weight on "
                                           "'strict'"):
        F3.conv3d(_x(1, 1, 2, 2, 2), tg.zeros(1, 1, 1, 1, 1, device="strict"))


def test_float32_stays_float32(device, rng):
    x = tg.tensor(rng.standard_normal((1, 2, 3, 3, 3)), dtype=tg.float32, device=device)
    for layer in (layers.Conv3d(2, 2, 2, device=device),
                  layers.ConvTranspose3d(2, 2, 2, device=device),
                  layers.MaxPool3d(2), layers.AvgPool3d(2, ceil_mode=True),
                  layers.BatchNorm3d(2, device=device)):
        assert layer(x).dtype == tg.float32
