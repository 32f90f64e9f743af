"""Convolution and pooling: values against direct loops written here, im2col/col2im
as adjoints, gradcheck and gradgradcheck in float64, BatchNorm2d against NumPy."""

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.nn import conv
from tinygrad_opt.nn.module import Module


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


# ------------------------------------------------------- independent NumPy references

def out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def naive_conv2d(x, w, b, stride, padding, dilation, groups=1):
    """Direct seven-loop cross-correlation: y[n,o,i,j] = b[o] + Σ w[o,c,a,e]·xpad[...]."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xpad = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    xpad[:, :, ph:ph + H, pw:pw + W] = x
    OH, OW = out_size(H, kh, sh, ph, dh), out_size(W, kw, sw, pw, dw)
    y = np.zeros((N, O, OH, OW))
    per_group = O // groups
    for n in range(N):
        for o in range(O):
            first_channel = (o // per_group) * Cg
            for i in range(OH):
                for j in range(OW):
                    total = 0.0 if b is None else b[o]
                    for c in range(Cg):
                        for a in range(kh):
                            for e in range(kw):
                                total += (w[o, c, a, e]
                                          * xpad[n, first_channel + c, i * sh + a * dh,
                                                 j * sw + e * dw])
                    y[n, o, i, j] = total
    return y


def naive_pool(x, k, s, p, reduce, pad_value, d=1, count_include_pad=True):
    N, C, H, W = x.shape
    xpad = np.full((N, C, H + 2 * p, W + 2 * p), pad_value)
    xpad[:, :, p:p + H, p:p + W] = x
    real = np.zeros_like(xpad)
    real[:, :, p:p + H, p:p + W] = 1
    OH, OW = out_size(H, k, s, p, d), out_size(W, k, s, p, d)
    y = np.zeros((N, C, OH, OW))
    for n, c, i, j in itertools.product(range(N), range(C), range(OH), range(OW)):
        rows = [i * s + a * d for a in range(k)]
        cols = [j * s + e * d for e in range(k)]
        window = xpad[n, c][np.ix_(rows, cols)]
        if reduce == "max":
            y[n, c, i, j] = window.max()
        elif count_include_pad:
            y[n, c, i, j] = window.mean()
        else:
            y[n, c, i, j] = window.sum() / real[n, c][np.ix_(rows, cols)].sum()
    return y


# ------------------------------------------------------------------------ conv2d values

CONV_CASES = [
    # (N, C, H, W), (O, kh, kw), stride, padding, dilation, bias, groups
    ((2, 3, 7, 6), (4, 3, 3), (1, 1), (0, 0), (1, 1), True, 1),
    ((2, 3, 7, 6), (4, 3, 2), (2, 1), (1, 0), (1, 1), True, 1),
    ((1, 2, 9, 8), (3, 3, 3), (1, 1), (2, 2), (2, 2), False, 1),
    ((2, 1, 5, 5), (2, 5, 5), (1, 1), (0, 0), (1, 1), True, 1),     # kernel = whole image
    ((1, 2, 6, 7), (2, 1, 1), (2, 3), (0, 1), (1, 1), True, 1),     # 1x1 kernel, strides
    ((1, 3, 8, 7), (5, 3, 3), (3, 2), (1, 2), (2, 1), True, 1),     # odd sizes, everything
    ((2, 4, 5, 5), (6, 3, 3), (1, 1), (1, 1), (1, 1), True, 2),     # groups
    ((1, 3, 5, 4), (3, 3, 3), (1, 1), (1, 1), (1, 1), False, 3),    # depthwise
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, bias, groups",
                         CONV_CASES)
def test_conv2d_matches_direct_loops(rng, device, x_shape, w_shape, stride, padding,
                                     dilation, bias, groups):
    O, kh, kw = w_shape
    C = x_shape[1]
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((O, C // groups, kh, kw))
    b = rng.standard_normal(O) if bias else None
    y = conv.conv2d(as_tensor(x, device), as_tensor(w, device),
                    None if b is None else as_tensor(b, device), stride, padding, dilation,
                    groups)
    expected = naive_conv2d(x, w, b, stride, padding, dilation, groups)
    assert y.shape == expected.shape
    assert y.device == device
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("H, W, k, s, p, d", [
    (7, 7, 3, 2, 1, 1), (8, 5, 3, 3, 0, 1), (9, 11, 2, 2, 1, 3), (5, 6, 4, 1, 2, 1),
    (1, 1, 1, 1, 0, 1), (3, 10, 3, 5, 1, 1),
])
def test_conv2d_output_shapes_for_odd_sizes(H, W, k, s, p, d):
    layer = conv.Conv2d(2, 3, k, stride=s, padding=p, dilation=d)
    y = layer(tg.zeros(1, 2, H, W))
    assert y.shape == (1, 3, out_size(H, k, s, p, d), out_size(W, k, s, p, d))


def test_conv2d_float32_stays_float32(rng, device):
    layer = conv.Conv2d(2, 3, 3, padding=1, device=device)
    y = layer(as_tensor(rng.standard_normal((2, 2, 5, 5)).astype(np.float32), device))
    assert y.dtype == np.float32 and y.device == device
    w, b = layer.weight.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    expected = naive_conv2d(x.astype(np.float64), w, b, (1, 1), (1, 1), (1, 1))
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, rtol=1e-4,
                               atol=1e-5)


def test_same_and_valid_padding(rng):
    x = tg.tensor(rng.standard_normal((1, 2, 6, 5)))
    w = tg.tensor(rng.standard_normal((3, 2, 3, 3)))
    assert conv.conv2d(x, w, padding="same").shape == (1, 3, 6, 5)
    assert conv.conv2d(x, w, padding="same", dilation=2).shape == (1, 3, 6, 5)
    np.testing.assert_allclose(conv.conv2d(x, w, padding="valid").numpy(),
                               conv.conv2d(x, w).numpy())
    # An even kernel needs uneven padding: PyTorch puts the extra zero at the end.
    even = tg.tensor(rng.standard_normal((3, 2, 2, 2)))
    padded = tg.tensor(np.pad(x.numpy(), ((0, 0), (0, 0), (0, 1), (0, 1))))
    np.testing.assert_allclose(conv.conv2d(x, even, padding="same").numpy(),
                               conv.conv2d(padded, even).numpy())


# ------------------------------------------------------------------- gradients (float64)

GRAD_CASES = [  # stride, padding, dilation, bias
    (1, 0, 1, True), (2, 1, 1, False), (1, 2, 2, True), ((2, 1), (1, 0), (1, 2), True),
]


@pytest.mark.parametrize("stride, padding, dilation, bias", GRAD_CASES)
def test_conv2d_gradcheck(rng, device, stride, padding, dilation, bias):
    x = as_tensor(rng.standard_normal((2, 2, 5, 6)), device, requires_grad=True)
    w = as_tensor(rng.standard_normal((3, 2, 3, 2)), device, requires_grad=True)
    inputs = [x, w]
    if bias:
        inputs.append(as_tensor(rng.standard_normal(3), device, requires_grad=True))

    def fn(x, w, b=None):
        return conv.conv2d(x, w, b, stride, padding, dilation)
    assert tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("stride, padding, dilation, bias", GRAD_CASES[:3])
def test_conv2d_gradgradcheck(rng, device, stride, padding, dilation, bias):
    x = as_tensor(rng.standard_normal((1, 2, 5, 4)), device, requires_grad=True)
    w = as_tensor(rng.standard_normal((2, 2, 2, 2)), device, requires_grad=True)
    inputs = [x, w]
    if bias:
        inputs.append(as_tensor(rng.standard_normal(2), device, requires_grad=True))
    assert tg.gradgradcheck(lambda x, w, b=None: conv.conv2d(x, w, b, stride, padding,
                                                             dilation), inputs)


def test_grouped_conv_gradcheck(rng, device):
    x = as_tensor(rng.standard_normal((1, 4, 4, 4)), device, requires_grad=True)
    w = as_tensor(rng.standard_normal((4, 2, 2, 2)), device, requires_grad=True)
    assert tg.gradcheck(lambda x, w: conv.conv2d(x, w, groups=2, padding=1), [x, w])


def test_im2col_and_col2im_are_adjoint(rng, device):
    """<im2col(x), c> = <x, col2im(c)>: col2im is the transpose map, so it is backward."""
    x = rng.standard_normal((2, 3, 6, 5))
    options = dict(kernel_size=(3, 2), dilation=(1, 2), padding=(1, 1), stride=(2, 1))
    cols = conv.unfold(as_tensor(x, device), **options)
    c = rng.standard_normal(cols.shape)
    back = conv.fold(as_tensor(c, device), (6, 5), **options)
    assert back.shape == x.shape
    lhs = (cols.numpy() * c).sum()
    rhs = (x * back.numpy()).sum()
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_unfold_layout_is_pytorchs(rng):
    """cols[n, (c, i, j), (oh, ow)] = x[n, c, oh*s + i, ow*s + j] (c slowest)."""
    x = rng.standard_normal((1, 2, 4, 5))
    cols = conv.unfold(tg.tensor(x), kernel_size=2, stride=1).numpy()
    assert cols.shape == (1, 2 * 2 * 2, 3 * 4)
    for c, i, j, oh, ow in itertools.product(range(2), range(2), range(2), range(3), range(4)):
        assert cols[0, c * 4 + i * 2 + j, oh * 4 + ow] == x[0, c, oh + i, ow + j]


def test_fold_sums_overlaps(device):
    ones = tg.ones(1, 4, 9, device=device, dtype=tg.float64)  # 2x2 windows of a 4x4 image
    counts = conv.fold(ones, (4, 4), kernel_size=2).numpy()[0, 0]
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    np.testing.assert_array_equal(counts, expected)


# ------------------------------------------------------------------------------ pooling

POOL_CASES = [  # kernel, stride, padding, (H, W)
    (2, None, 0, (6, 6)), (3, 2, 1, (7, 6)), (3, 1, 0, (5, 7)), (2, 3, 1, (7, 7)),
    (4, 2, 2, (5, 5)),
]


@pytest.mark.parametrize("k, s, p, size", POOL_CASES)
def test_max_pool2d_matches_loops(rng, device, k, s, p, size):
    x = rng.standard_normal((2, 3) + size) - 3.0  # negative values: padding must be -inf
    y = conv.max_pool2d(as_tensor(x, device), k, s, p)
    expected = naive_pool(x, k, k if s is None else s, p, "max", -np.inf)
    np.testing.assert_array_equal(y.numpy(), expected)
    module = conv.MaxPool2d(k, s, p)
    np.testing.assert_array_equal(module(as_tensor(x, device)).numpy(), expected)


def test_max_pool2d_dilation(rng, device):
    x = rng.standard_normal((1, 2, 7, 7))
    y = conv.max_pool2d(as_tensor(x, device), 2, 1, 0, dilation=2)
    np.testing.assert_array_equal(y.numpy(), naive_pool(x, 2, 1, 0, "max", -np.inf, d=2))


@pytest.mark.parametrize("k, s, p, size", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_loops(rng, device, k, s, p, size, count_include_pad):
    x = rng.standard_normal((2, 3) + size)
    y = conv.avg_pool2d(as_tensor(x, device), k, s, p, count_include_pad=count_include_pad)
    expected = naive_pool(x, k, k if s is None else s, p, "avg", 0.0,
                          count_include_pad=count_include_pad)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    module = conv.AvgPool2d(k, s, p, count_include_pad=count_include_pad)
    np.testing.assert_allclose(module(as_tensor(x, device)).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 2, 1), (3, 1, 1)])
def test_pool_gradcheck_and_gradgradcheck(rng, device, k, s, p):
    x = as_tensor(rng.standard_normal((1, 2, 5, 6)), device, requires_grad=True)  # no ties
    assert tg.gradcheck(lambda x: conv.max_pool2d(x, k, s, p), [x])
    assert tg.gradcheck(lambda x: conv.avg_pool2d(x, k, s, p), [x])
    assert tg.gradcheck(lambda x: conv.avg_pool2d(x, k, s, p, count_include_pad=False), [x])
    assert tg.gradgradcheck(lambda x: conv.avg_pool2d(x, k, s, p), [x])
    # max is piecewise linear: its second derivative is 0, which gradgradcheck must confirm
    assert tg.gradgradcheck(lambda x: conv.max_pool2d(x, k, s, p) ** 2, [x])


def test_max_pool_gradient_goes_to_the_maximum_and_ties_share(device):
    x = as_tensor(np.array([[[[1.0, 5.0], [2.0, 3.0]]]]), device, requires_grad=True)
    conv.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 1], [0, 0]]]])
    tied = as_tensor(np.array([[[[4.0, 4.0], [2.0, 4.0]]]]), device, requires_grad=True)
    conv.max_pool2d(tied, 2).sum().backward()
    np.testing.assert_allclose(tied.grad.numpy(), [[[[1 / 3, 1 / 3], [0, 1 / 3]]]])


def test_overlapping_max_pool_accumulates_gradient(device):
    """A pixel that is the maximum of two overlapping windows gets both gradients."""
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 9.0
    x[0, 0] += np.arange(9).reshape(3, 3) * 0.01
    xt = as_tensor(x, device, requires_grad=True)
    conv.max_pool2d(xt, 2, stride=1).sum().backward()  # 4 windows, all contain the centre
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 4.0
    np.testing.assert_array_equal(xt.grad.numpy(), expected)


# ---------------------------------------------------------------------- Conv2d module

def test_conv2d_module_layout_init_and_names(device):
    layer = conv.Conv2d(4, 6, (3, 2), device=device)
    assert layer.weight.shape == (6, 4, 3, 2) and layer.bias.shape == (6,)
    assert isinstance(layer, Module) and layer.weight.device == device
    assert list(layer.state_dict()) == ["weight", "bias"]
    bound = 1 / np.sqrt(4 * 3 * 2)  # PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(weight).max() > 0.8 * bound
    assert repr(layer) == "Conv2d(4, 6, kernel_size=(3, 2), stride=(1, 1))"
    no_bias = conv.Conv2d(2, 2, 3, padding=1, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    assert "padding=(1, 1)" in repr(no_bias) and "bias=False" in repr(no_bias)


def test_conv2d_module_trains_its_weights(rng, device):
    layer = conv.Conv2d(1, 2, 3, padding=1, device=device)
    x = as_tensor(rng.standard_normal((3, 1, 4, 4)).astype(np.float32), device)
    (layer(x) ** 2).mean().backward()
    assert layer.weight.grad.shape == layer.weight.shape
    assert layer.bias.grad.shape == (2,)
    assert np.abs(layer.weight.grad.numpy()).sum() > 0


@pytest.mark.parametrize("call, message", [
    (lambda: conv.conv2d(tg.zeros(2, 3, 4), tg.zeros(1, 3, 2, 2)), "4-D input"),
    (lambda: conv.conv2d(tg.zeros(1, 3, 4, 4), tg.zeros(1, 2, 2, 2)), "groups"),
    (lambda: conv.conv2d(tg.zeros(1, 1, 2, 2), tg.zeros(1, 1, 3, 3)), "too small"),
    (lambda: conv.max_pool2d(tg.zeros(1, 1, 4, 4), 2, padding=2), "half"),
    (lambda: conv.Conv2d(3, 4, 3, groups=2), "divisible"),
    (lambda: conv.conv2d(tg.zeros(1, 1, 4, 4), tg.zeros(1, 1, 3, 3), stride=0), "positive"),
])
def test_errors_name_the_op_and_shapes(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# ------------------------------------------------------------------------- BatchNorm2d

def test_batchnorm2d_training_eval_and_running_stats(rng, device):
    bn = conv.BatchNorm2d(3, momentum=0.1, device=device, dtype=tg.float64)
    bn.weight.data[...] = as_tensor([1.0, 2.0, 0.5], device).data
    bn.bias.data[...] = as_tensor([0.0, -1.0, 3.0], device).data
    x = rng.standard_normal((4, 3, 5, 2)) * 2 + 1
    y = bn(as_tensor(x, device))
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)  # biased, for normalising
    gamma = np.array([1.0, 2.0, 0.5]).reshape(1, 3, 1, 1)
    beta = np.array([0.0, -1.0, 3.0]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(y.numpy(), (x - mean) / np.sqrt(var + 1e-5) * gamma + beta,
                               rtol=1e-10, atol=1e-12)
    n = 4 * 5 * 2
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean.ravel(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * var.ravel() * n / (n - 1),
                               rtol=1e-12)  # unbiased variance in the running estimate
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    x2 = rng.standard_normal((2, 3, 5, 2))
    running_mean = bn.running_mean.numpy().reshape(1, 3, 1, 1)
    running_var = bn.running_var.numpy().reshape(1, 3, 1, 1)
    np.testing.assert_allclose(bn(as_tensor(x2, device)).numpy(),
                               (x2 - running_mean) / np.sqrt(running_var + 1e-5) * gamma + beta,
                               rtol=1e-10, atol=1e-12)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]


def test_batchnorm2d_gradcheck_and_shape_errors(rng, device):
    bn = conv.BatchNorm2d(2, device=device, dtype=tg.float64)
    x = as_tensor(rng.standard_normal((3, 2, 2, 3)), device, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D"):
        bn(tg.zeros(3, 2, device=device, dtype=tg.float64))
    with pytest.raises(ValueError, match="channels"):
        bn(tg.zeros(3, 4, 2, 2, device=device, dtype=tg.float64))
