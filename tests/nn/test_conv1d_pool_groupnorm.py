"""1-D convolution and pooling, adaptive pooling and group normalisation: values against
direct loops written here, gradcheck in float64 on every device, the modules' parameters
and state dicts as PyTorch's, and the errors."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import conv
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import functional_conv
from tinygrad_opt.nn.normalization import GroupNorm


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


# ------------------------------------------------------- independent NumPy references

def out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def naive_conv1d(x, w, b, stride, padding, dilation, groups=1):
    """y[n,o,t] = b[o] + Σ_{c,i} w[o,c,i]·xpad[n, first_channel(o) + c, t·s + i·d]."""
    N, C, L = x.shape
    O, Cg, k = w.shape
    xpad = np.zeros((N, C, L + 2 * padding))
    xpad[:, :, padding:padding + L] = x
    OL = out_size(L, k, stride, padding, dilation)
    y = np.zeros((N, O, OL))
    per_group = O // groups
    for n in range(N):
        for o in range(O):
            first_channel = (o // per_group) * Cg
            for t in range(OL):
                total = 0.0 if b is None else b[o]
                for c in range(Cg):
                    for i in range(k):
                        total += w[o, c, i] * xpad[n, first_channel + c, t * stride + i * dilation]
                y[n, o, t] = total
    return y


def naive_pool1d(x, k, s, p, reduce, d=1, count_include_pad=True):
    N, C, L = x.shape
    pad_value = -np.inf if reduce == "max" else 0.0
    xpad = np.full((N, C, L + 2 * p), pad_value)
    xpad[:, :, p:p + L] = x
    OL = out_size(L, k, s, p, d)
    y = np.zeros((N, C, OL))
    for n in range(N):
        for c in range(C):
            for t in range(OL):
                taps = [t * s + i * d for i in range(k)]
                window = xpad[n, c, taps]
                if reduce == "max":
                    y[n, c, t] = window.max()
                elif count_include_pad:
                    y[n, c, t] = window.sum() / k
                else:
                    real = sum(1 for tap in taps if p <= tap < p + L)
                    y[n, c, t] = window.sum() / real
    return y


def bins(size, out):
    """PyTorch's rule, with floats: [floor(i·size/out), ceil((i+1)·size/out))."""
    return [(math.floor(i * size / out), math.ceil((i + 1) * size / out)) for i in range(out)]


def naive_adaptive_2d(x, OH, OW, reduce):
    """Every output cell: the mean or max of its whole rectangle, in one go."""
    H, W = x.shape[-2:]
    y = np.zeros(x.shape[:-2] + (OH, OW))
    for i, (h0, h1) in enumerate(bins(H, OH)):
        for j, (w0, w1) in enumerate(bins(W, OW)):
            block = x[..., h0:h1, w0:w1]
            y[..., i, j] = block.max(axis=(-2, -1)) if reduce == "max" else block.mean(
                axis=(-2, -1))
    return y


def naive_group_norm(x, G, gamma=None, beta=None, eps=1e-5):
    """Loop over samples and groups; statistics over the group's channels and all positions."""
    N, C = x.shape[:2]
    y = np.empty_like(x)
    per_group = C // G
    for n in range(N):
        for g in range(G):
            part = x[n, g * per_group:(g + 1) * per_group]
            mean = part.sum() / part.size
            var = ((part - mean) ** 2).sum() / part.size          # biased
            y[n, g * per_group:(g + 1) * per_group] = (part - mean) / np.sqrt(var + eps)
    shape = (1, C) + (1,) * (x.ndim - 2)
    if gamma is not None:
        y = y * np.asarray(gamma).reshape(shape)
    if beta is not None:
        y = y + np.asarray(beta).reshape(shape)
    return y


# ------------------------------------------------------------------------ conv1d values

CONV1D_CASES = [
    # (N, C, L), (O, k), stride, padding, dilation, bias, groups
    ((2, 3, 9), (4, 3), 1, 0, 1, True, 1),
    ((2, 3, 10), (4, 2), 2, 1, 1, True, 1),
    ((1, 2, 11), (3, 3), 1, 2, 2, False, 1),
    ((2, 1, 5), (2, 5), 1, 0, 1, True, 1),       # kernel = whole sequence
    ((1, 3, 13), (5, 3), 3, 1, 2, True, 1),      # everything at once
    ((2, 4, 7), (6, 3), 1, 1, 1, True, 2),       # groups
    ((1, 3, 6), (3, 3), 1, 1, 1, False, 3),      # depthwise
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, bias, groups",
                         CONV1D_CASES)
def test_conv1d_matches_direct_loops(rng, device, x_shape, w_shape, stride, padding,
                                     dilation, bias, groups):
    O, k = w_shape
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((O, x_shape[1] // groups, k))
    b = rng.standard_normal(O) if bias else None
    y = F.conv1d(as_tensor(x, device), as_tensor(w, device),
                 None if b is None else as_tensor(b, device), stride, padding, dilation, groups)
    expected = naive_conv1d(x, w, b, stride, padding, dilation, groups)
    assert y.shape == expected.shape and y.device == device
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_conv1d_same_and_valid_padding(rng, device):
    x = rng.standard_normal((1, 2, 8))
    w = rng.standard_normal((3, 2, 5))
    y = F.conv1d(as_tensor(x, device), as_tensor(w, device), padding="same", dilation=2)
    assert y.shape == (1, 3, 8)
    np.testing.assert_allclose(y.numpy(), naive_conv1d(x, w, None, 1, 4, 2), rtol=1e-10,
                               atol=1e-12)
    valid = F.conv1d(as_tensor(x, device), as_tensor(w, device), padding="valid")
    np.testing.assert_allclose(valid.numpy(), naive_conv1d(x, w, None, 1, 0, 1), rtol=1e-10,
                               atol=1e-12)
    # An even kernel needs uneven padding: PyTorch puts the extra zero at the end.
    even = rng.standard_normal((3, 2, 4))
    y = F.conv1d(as_tensor(x, device), as_tensor(even, device), padding="same")
    right = naive_conv1d(np.pad(x, ((0, 0), (0, 0), (0, 1))), even, None, 1, 1, 1)
    np.testing.assert_allclose(y.numpy(), right, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="strided"):
        F.conv1d(as_tensor(x, device), as_tensor(w, device), stride=2, padding="same")


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (1, 1, 1, 2)])
def test_conv1d_gradcheck(rng, device, stride, padding, dilation, groups):
    x = as_tensor(rng.standard_normal((2, 4, 7)), device, requires_grad=True)
    w = as_tensor(rng.standard_normal((2, 4 // groups, 3)), device, requires_grad=True)
    b = as_tensor(rng.standard_normal(2), device, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride, padding, dilation, groups),
                        [x, w, b])


# ---------------------------------------------------------------------- Conv1d module

def test_conv1d_module_layout_init_and_names(rng, device):
    layer = nn.Conv1d(4, 6, 3, device=device)
    assert layer.weight.shape == (6, 4, 3) and layer.bias.shape == (6,)
    assert layer.weight.device == device
    assert list(layer.state_dict()) == ["weight", "bias"]
    bound = 1 / np.sqrt(4 * 3)  # PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(weight).max() > 0.8 * bound
    assert repr(layer) == "Conv1d(4, 6, kernel_size=(3,), stride=(1,))"
    grouped = nn.Conv1d(4, 6, 5, stride=2, padding=1, dilation=2, groups=2, bias=False)
    assert grouped.weight.shape == (6, 2, 5) and grouped.bias is None
    assert list(grouped.state_dict()) == ["weight"]
    assert np.abs(grouped.weight.numpy()).max() <= 1 / np.sqrt(2 * 5)  # fan_in = in/groups·k
    assert repr(grouped) == ("Conv1d(4, 6, kernel_size=(5,), stride=(2,), padding=(1,), "
                             "dilation=(2,), groups=2, bias=False)")


def test_conv1d_module_forward_and_gradients(rng, device):
    layer = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2, device=device, dtype=tg.float64)
    x = rng.standard_normal((2, 4, 9))
    y = layer(as_tensor(x, device))
    expected = naive_conv1d(x, layer.weight.numpy(), layer.bias.numpy(), 2, 1, 1, 2)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    (y ** 2).mean().backward()
    assert layer.weight.grad.shape == (6, 2, 3) and layer.bias.grad.shape == (6,)
    same = nn.Conv1d(2, 3, 3, padding="same", device=device)
    assert same(tg.zeros(1, 2, 7, device=device)).shape == (1, 3, 7)


# ---------------------------------------------------------------------- 1-D pooling

POOL1D_CASES = [  # kernel, stride, padding, L
    (2, None, 0, 8), (3, 2, 1, 7), (3, 1, 0, 6), (2, 3, 1, 9), (4, 2, 2, 5),
]


@pytest.mark.parametrize("k, s, p, L", POOL1D_CASES)
def test_max_pool1d_matches_loops(rng, device, k, s, p, L):
    x = rng.standard_normal((2, 3, L)) - 3.0  # negative values: padding must be -inf
    expected = naive_pool1d(x, k, k if s is None else s, p, "max")
    np.testing.assert_array_equal(F.max_pool1d(as_tensor(x, device), k, s, p).numpy(),
                                  expected)
    np.testing.assert_array_equal(nn.MaxPool1d(k, s, p)(as_tensor(x, device)).numpy(),
                                  expected)


def test_max_pool1d_dilation(rng, device):
    x = rng.standard_normal((1, 2, 9))
    y = F.max_pool1d(as_tensor(x, device), 3, 1, 1, dilation=2)
    np.testing.assert_array_equal(y.numpy(), naive_pool1d(x, 3, 1, 1, "max", d=2))


@pytest.mark.parametrize("k, s, p, L", POOL1D_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool1d_matches_loops(rng, device, k, s, p, L, count_include_pad):
    x = rng.standard_normal((2, 3, L))
    expected = naive_pool1d(x, k, k if s is None else s, p, "avg",
                            count_include_pad=count_include_pad)
    y = F.avg_pool1d(as_tensor(x, device), k, s, p, count_include_pad=count_include_pad)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    module = nn.AvgPool1d(k, s, p, count_include_pad=count_include_pad)
    np.testing.assert_allclose(module(as_tensor(x, device)).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("k, s, p", [(2, None, 0), (3, 2, 1)])
def test_pool1d_gradcheck(rng, device, k, s, p):
    x = as_tensor(rng.standard_normal((2, 2, 7)), device, requires_grad=True)  # no ties
    assert tg.gradcheck(lambda x: F.max_pool1d(x, k, s, p), [x])
    assert tg.gradcheck(lambda x: F.avg_pool1d(x, k, s, p), [x])
    assert tg.gradcheck(lambda x: F.avg_pool1d(x, k, s, p, count_include_pad=False), [x])


def test_pool1d_modules_store_ints_as_pytorch():
    assert repr(nn.MaxPool1d(3)) == "MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1)"
    assert repr(nn.AvgPool1d((4,), 2, 1)) == "AvgPool1d(kernel_size=4, stride=2, padding=1)"
    assert list(nn.MaxPool1d(2).state_dict()) == []


# ----------------------------------------------------------------- adaptive pooling

def test_adaptive_bins_are_pytorchs_rule():
    assert functional_conv.adaptive_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]  # the docstring's
    for size in range(1, 12):
        for out in range(1, 14):
            assert functional_conv.adaptive_bins(size, out) == bins(size, out)


ADAPTIVE_CASES = [  # input shape, output_size, resolved (OH, OW)
    ((2, 3, 6, 6), 3, (3, 3)),                 # divisible: plain pooling windows
    ((2, 3, 7, 5), (3, 2), (3, 2)),            # neither divides: bins of two sizes, overlaps
    ((1, 2, 5, 7), (4, None), (4, 7)),         # None keeps the width
    ((1, 2, 5, 4), (None, 3), (5, 3)),
    ((2, 2, 3, 2), (5, 4), (5, 4)),            # larger than the input: bins repeat pixels
    ((3, 5, 7), (2, 3), (2, 3)),               # unbatched (C, H, W)
    ((1, 2, 4, 6), 1, (1, 1)),                 # global pooling
]


@pytest.mark.parametrize("shape, output_size, resolved", ADAPTIVE_CASES)
def test_adaptive_pool2d_matches_loops(rng, device, shape, output_size, resolved):
    x = rng.standard_normal(shape)
    for function, module, reduce in ((F.adaptive_avg_pool2d, nn.AdaptiveAvgPool2d, "avg"),
                                     (F.adaptive_max_pool2d, nn.AdaptiveMaxPool2d, "max")):
        expected = naive_adaptive_2d(x, *resolved, reduce)
        y = function(as_tensor(x, device), output_size)
        assert y.shape == expected.shape and y.device == device
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(module(output_size)(as_tensor(x, device)).numpy(), expected,
                                   rtol=1e-12, atol=1e-14)


def test_adaptive_avg_pool2d_is_avg_pool2d_when_sizes_divide(rng, device):
    x = as_tensor(rng.standard_normal((2, 3, 8, 6)), device)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, (4, 2)).numpy(),
                               F.avg_pool2d(x, (2, 3)).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(F.adaptive_max_pool2d(x, (4, 2)).numpy(),
                                  F.max_pool2d(x, (2, 3)).numpy())


@pytest.mark.parametrize("shape, output_size", [
    ((2, 3, 7), 3), ((2, 3, 7), (4,)), ((1, 2, 5), 5), ((1, 2, 3), 5), ((3, 10), 4)])
def test_adaptive_avg_pool1d_matches_loops(rng, device, shape, output_size):
    x = rng.standard_normal(shape)
    OL = output_size if isinstance(output_size, int) else output_size[0]
    expected = np.stack([x[..., start:end].mean(axis=-1) for start, end in bins(shape[-1], OL)],
                        axis=-1)
    y = F.adaptive_avg_pool1d(as_tensor(x, device), output_size)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(nn.AdaptiveAvgPool1d(output_size)(as_tensor(x, device)).numpy(),
                               expected, rtol=1e-12)


@pytest.mark.parametrize("shape, output_size", [
    ((1, 2, 5, 7), (3, 4)), ((1, 1, 4, 3), (None, 2)), ((1, 1, 2, 3), (3, 4))])
def test_adaptive_pool_gradcheck(rng, device, shape, output_size):
    x = as_tensor(rng.standard_normal(shape), device, requires_grad=True)  # no ties
    assert tg.gradcheck(lambda x: F.adaptive_avg_pool2d(x, output_size), [x])
    assert tg.gradcheck(lambda x: F.adaptive_max_pool2d(x, output_size), [x])
    sequence = as_tensor(rng.standard_normal((2, 2, 7)), device, requires_grad=True)
    assert tg.gradcheck(lambda x: F.adaptive_avg_pool1d(x, 3), [sequence])


def test_adaptive_modules_have_no_state_and_show_their_size():
    assert repr(nn.AdaptiveAvgPool2d((5, None))) == "AdaptiveAvgPool2d(output_size=(5, None))"
    assert repr(nn.AdaptiveMaxPool2d(2)) == "AdaptiveMaxPool2d(output_size=2)"
    assert repr(nn.AdaptiveAvgPool1d(3)) == "AdaptiveAvgPool1d(output_size=3)"
    assert list(nn.AdaptiveAvgPool2d(1).state_dict()) == []


# ------------------------------------------------------------------- group normalisation

@pytest.mark.parametrize("shape, G", [
    ((2, 6, 3, 4), 1), ((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((2, 6, 3, 4), 6),
    ((3, 4, 5), 2), ((4, 6), 3)])
def test_group_norm_matches_loops(rng, device, shape, G):
    x = rng.standard_normal(shape) * 3 + 1
    C = shape[1]
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    y = F.group_norm(as_tensor(x, device), G, as_tensor(gamma, device), as_tensor(beta, device))
    np.testing.assert_allclose(y.numpy(), naive_group_norm(x, G, gamma, beta), rtol=1e-10,
                               atol=1e-12)
    plain = F.group_norm(as_tensor(x, device), G, eps=0.1)
    np.testing.assert_allclose(plain.numpy(), naive_group_norm(x, G, eps=0.1), rtol=1e-10,
                               atol=1e-12)


def test_group_norm_one_group_is_layer_norm_and_C_groups_is_instance_norm(rng, device):
    x = rng.standard_normal((3, 4, 5, 2)) * 2 - 1
    one = F.group_norm(as_tensor(x, device), 1).numpy()
    mean = x.mean(axis=(1, 2, 3), keepdims=True)       # LayerNorm over (C, H, W)
    var = x.var(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(one, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
    layer_norm = F.layer_norm(as_tensor(x, device), (4, 5, 2)).numpy()
    np.testing.assert_allclose(one, layer_norm, rtol=1e-10, atol=1e-12)
    every = F.group_norm(as_tensor(x, device), 4).numpy()
    mean = x.mean(axis=(2, 3), keepdims=True)          # InstanceNorm: per sample and channel
    var = x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(every, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("G", [1, 2, 4])
def test_group_norm_gradcheck(rng, device, G):
    x = as_tensor(rng.standard_normal((2, 4, 3)), device, requires_grad=True)
    w = as_tensor(rng.standard_normal(4), device, requires_grad=True)
    b = as_tensor(rng.standard_normal(4), device, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: F.group_norm(x, G, w, b), [x, w, b])


def test_group_norm_module_parameters_state_and_values(rng, device):
    layer = nn.GroupNorm(2, 6, device=device, dtype=tg.float64)
    assert layer.weight.shape == (6,) and layer.bias.shape == (6,)
    assert list(layer.state_dict()) == ["weight", "bias"]
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones(6))
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(6))
    layer.weight.data[...] = as_tensor(rng.standard_normal(6), device).data
    layer.bias.data[...] = as_tensor(rng.standard_normal(6), device).data
    x = rng.standard_normal((2, 6, 4))
    expected = naive_group_norm(x, 2, layer.weight.numpy(), layer.bias.numpy())
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, rtol=1e-10,
                               atol=1e-12)
    layer.eval()  # statistics are per sample: evaluation computes the same
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, rtol=1e-10,
                               atol=1e-12)
    assert repr(layer) == "GroupNorm(2, 6, eps=1e-05, affine=True)"
    plain = nn.GroupNorm(3, 3, eps=1e-3, affine=False)
    assert plain.weight is None and plain.bias is None and list(plain.state_dict()) == []
    assert nn.GroupNorm is GroupNorm


# --------------------------------------------------------------------------- exports

def test_functions_and_modules_are_exported():
    for name in ("conv1d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool2d",
                 "adaptive_max_pool2d", "adaptive_avg_pool1d", "group_norm"):
        assert getattr(F, name) is getattr(functional_conv, name)
    for name in ("Conv1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
                 "AdaptiveAvgPool1d"):
        assert getattr(nn, name) is getattr(conv, name)


# ---------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv1d(tg.zeros(1, 2, 3, 4), tg.zeros(1, 2, 2)), ValueError,
     r"conv1d: expected a 3-D input \(N, C, L\), got shape \(1, 2, 3, 4\)"),
    (lambda: F.conv1d(tg.zeros(1, 2, 4), tg.zeros(1, 2, 2, 2)), ValueError,
     r"conv1d: expected a 3-D weight .* \(1, 2, 2, 2\)"),
    (lambda: F.conv1d(tg.zeros(1, 3, 4), tg.zeros(1, 2, 2)), ValueError,
     r"conv1d: input of shape \(1, 3, 4\) .* \(1, 2, 2\) .* groups=1"),
    (lambda: F.conv1d(tg.zeros(1, 1, 2), tg.zeros(1, 1, 3)), ValueError,
     r"conv1d: input of shape \(1, 1, 2\) is too small for kernel_size 3"),
    (lambda: F.conv1d(tg.zeros(1, 1, 4), tg.zeros(1, 1, 3), stride=0), ValueError, "positive"),
    (lambda: F.conv1d(tg.zeros(1, 1, 4), tg.zeros(1, 1, 3), stride=(1, 1)), TypeError,
     "conv1d: stride must be an int"),
    (lambda: nn.Conv1d(3, 4, 3, groups=2), ValueError, "Conv1d: .* divisible by groups 2"),
    (lambda: nn.Conv1d(3, 4, 3, padding="full"), ValueError, "Conv1d: padding"),
    (lambda: F.max_pool1d(tg.zeros(1, 1, 4), 2, padding=2), ValueError,
     "max_pool1d: pad should be at most half"),
    (lambda: F.avg_pool1d(tg.zeros(1, 4, 4, 4), 2), ValueError,
     r"avg_pool1d: expected a 3-D input .* \(1, 4, 4, 4\)"),
    (lambda: F.max_pool1d(tg.zeros(1, 1, 2), 3, padding=1, dilation=2), ValueError,
     "too small"),
    (lambda: nn.AvgPool1d(2, padding=3), ValueError, "AvgPool1d: pad should be at most half"),
    (lambda: F.adaptive_avg_pool2d(tg.zeros(2, 3), 2), ValueError,
     r"adaptive_avg_pool2d: expected a 4-D or 3-D input .* \(2, 3\)"),
    (lambda: F.adaptive_max_pool2d(tg.zeros(1, 1, 4, 4), (2, 2, 2)), ValueError,
     r"adaptive_max_pool2d: output_size .* \(2, 2, 2\)"),
    (lambda: F.adaptive_avg_pool2d(tg.zeros(1, 1, 4, 4), 0), ValueError, "positive"),
    (lambda: F.adaptive_avg_pool1d(tg.zeros(1, 1, 4, 4), 2), ValueError,
     r"adaptive_avg_pool1d: expected a 3-D or 2-D input"),
    (lambda: F.group_norm(tg.zeros(2, 6, 3), 4), ValueError,
     r"group_norm: num_channels 6 .*\(2, 6, 3\).* divisible by num_groups 4"),
    (lambda: F.group_norm(tg.zeros(2, 6, 3), 2, tg.ones(4)), ValueError,
     r"group_norm: weight of shape \(4,\)"),
    (lambda: nn.GroupNorm(4, 6), ValueError,
     "GroupNorm: num_channels 6 must be divisible by num_groups 4"),
    (lambda: nn.GroupNorm(2, 6)(tg.zeros(2, 4, 3)), ValueError,
     r"GroupNorm: input of shape \(2, 4, 3\) .* 6 channels"),
])
def test_errors_name_the_op_and_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()
