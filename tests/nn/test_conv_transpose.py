"""Transposed convolutions: values against a direct NumPy scatter written here, the
adjoint identity with conv2d, gradcheck and gradgradcheck in float64, and the modules
(shapes, output_size, PyTorch's init bounds, errors, repr, float32).

No new Function: conv_transpose2d is a composition of matmul, Col2Im and slices, so
there is no CONV_TRANSPOSE_OPS table."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


# ------------------------------------------------------- independent NumPy reference

def naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation, groups=1):
    """The scatter definition, one loop per index: each input pixel x[n, c, h, v] adds
    x·w[c, o, i, j] at full-output row h·sh + i·dh, column v·sw + j·dw; then rows
    [ph, ph + OH) and columns [pw, pw + OW) of the (zero-extended) full output are kept."""
    N, C_in, H, W = x.shape
    _, O_per_group, kh, kw = w.shape
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    OH = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    OW = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    # Big enough for every scatter target and for the output window [p, p + O).
    full = np.zeros((N, O_per_group * groups, ph + OH + (H - 1) * sh + dh * (kh - 1) + 1,
                     pw + OW + (W - 1) * sw + dw * (kw - 1) + 1))
    C_per_group = C_in // groups
    for n in range(N):
        for c in range(C_in):
            g = c // C_per_group
            for h in range(H):
                for v in range(W):
                    for o in range(O_per_group):
                        for i in range(kh):
                            for j in range(kw):
                                full[n, g * O_per_group + o, h * sh + i * dh, v * sw + j * dw] += (
                                    x[n, c, h, v] * w[c, o, i, j])
    y = full[:, :, ph:ph + OH, pw:pw + OW]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def test_the_reference_on_a_hand_computed_case():
    # x = [1 2], kernel [1 10], stride 2: the two scaled kernels sit side by side;
    # stride 1: they overlap at the middle position, 10·1 + 1·2 = 12.
    x = np.array([[[[1.0, 2.0]]]])
    w = np.array([[[[1.0, 10.0]]]])
    args = ((1, 1), (0, 0), (0, 0), (1, 1))
    np.testing.assert_array_equal(
        naive_conv_transpose2d(x, w, None, (1, 2), *args[1:]), [[[[1, 10, 2, 20]]]])
    np.testing.assert_array_equal(
        naive_conv_transpose2d(x, w, None, *args), [[[[1, 12, 20]]]])


def test_hand_computed_values(device):
    x = as_tensor([[[[1.0, 2.0]]]], device)
    w = as_tensor([[[[1.0, 10.0]]]], device)
    np.testing.assert_array_equal(F.conv_transpose2d(x, w, stride=(1, 2)).numpy(),
                                  [[[[1, 10, 2, 20]]]])
    np.testing.assert_array_equal(F.conv_transpose2d(x, w).numpy(), [[[[1, 12, 20]]]])
    # padding 1 crops one column from each end; output_padding 1 (< stride 2) keeps
    # one more at the right, which is past the scatter targets here: zero.
    y = F.conv_transpose2d(x, w, stride=(1, 2), padding=(0, 1), output_padding=(0, 1))
    np.testing.assert_array_equal(y.numpy(), [[[[10, 2, 20]]]])
    y = F.conv_transpose2d(x, w, stride=(1, 2), output_padding=(0, 1))
    np.testing.assert_array_equal(y.numpy(), [[[[1, 10, 2, 20, 0]]]])


# ------------------------------------------------------------------- values

CASES = [
    # (N, C_in, H, W), (C_out/groups, kh, kw), stride, padding, output_padding, dilation,
    # groups, bias
    ((2, 3, 4, 3), (2, 3, 3), (1, 1), (0, 0), (0, 0), (1, 1), 1, True),
    ((2, 3, 4, 3), (2, 3, 2), (2, 1), (1, 0), (1, 0), (1, 1), 1, True),
    ((1, 2, 3, 4), (3, 2, 3), (2, 3), (1, 2), (1, 2), (1, 1), 1, False),   # op = stride − 1
    ((1, 2, 3, 3), (2, 3, 2), (1, 2), (0, 1), (1, 0), (2, 1), 1, True),    # op < dilation only
    ((2, 4, 3, 3), (3, 2, 2), (2, 2), (1, 0), (1, 1), (1, 2), 2, True),    # groups
    ((1, 4, 3, 2), (1, 3, 3), (3, 2), (2, 1), (2, 1), (2, 2), 4, True),    # depthwise, all options
    ((1, 2, 2, 2), (2, 3, 3), (1, 1), (1, 1), (0, 0), (3, 3), 1, False),   # padding, dilation
    ((1, 1, 1, 1), (2, 1, 1), (1, 1), (0, 0), (0, 0), (1, 1), 1, True),    # 1×1 everything
    ((1, 2, 2, 3), (1, 2, 3), (1, 1), (2, 1), (0, 0), (3, 2), 1, True),    # padding ≥ op
    ((1, 1, 2, 2), (1, 2, 2), (1, 1), (0, 0), (2, 2), (3, 3), 1, False),   # op ≥ stride, < dil.
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding, dilation, "
                         "groups, bias", CASES)
def test_conv_transpose2d_matches_the_scatter(rng, device, x_shape, w_shape, stride, padding,
                                              output_padding, dilation, groups, bias):
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal((x_shape[1],) + w_shape)
    b = rng.standard_normal(w_shape[0] * groups) if bias else None
    expected = naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation,
                                      groups)
    y = F.conv_transpose2d(as_tensor(x, device), as_tensor(w, device),
                           None if b is None else as_tensor(b, device), stride, padding,
                           output_padding, groups, dilation)
    assert y.shape == expected.shape and y.device == device
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_conv_transpose2d_matches_the_scatter_for_drawn_options(data):
    draw = data.draw
    groups = draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    sizes = [(size - 1) * s - 2 * p + d * (k - 1) + op + 1 for size, k, s, p, op, d in
             zip((H, W), (kh, kw), stride, padding, output_padding, dilation)]
    if min(sizes) < 1:
        with pytest.raises(ValueError, match="too small"):
            F.conv_transpose2d(tg.zeros(1, groups, H, W, dtype=tg.float64),
                               tg.zeros(groups, 1, kh, kw, dtype=tg.float64), None, stride,
                               padding, output_padding, groups, dilation)
        return
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.standard_normal((2, 2 * groups, H, W))
    w = rng.standard_normal((2 * groups, 2, kh, kw))
    b = rng.standard_normal(2 * groups)
    expected = naive_conv_transpose2d(x, w, b, stride, padding, output_padding, dilation,
                                      groups)
    y = F.conv_transpose2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), stride, padding,
                           output_padding, groups, dilation)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_conv_transpose1d_matches_the_scatter(rng, device):
    x = rng.standard_normal((2, 4, 5))
    w = rng.standard_normal((4, 3, 3))
    b = rng.standard_normal(6)
    expected = naive_conv_transpose2d(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (0, 2),
                                      (1, 3), groups=2)[:, :, 0]       # op 2 ≥ s, < d
    assert expected.shape == (2, 6, (5 - 1) * 2 - 2 + 3 * 2 + 2 + 1)
    y = F.conv_transpose1d(as_tensor(x, device), as_tensor(w, device), as_tensor(b, device),
                           stride=2, padding=1, output_padding=2, groups=2, dilation=3)
    assert y.device == device
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    y = F.conv_transpose1d(as_tensor(x, device), as_tensor(w, device), None, (2,), (1,), (2,),
                           2, (3,))                                     # PyTorch's 1-tuples
    np.testing.assert_allclose(y.numpy(), expected - b.reshape(1, -1, 1), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 3), (1, 0), (1, 2), 1), ((3, 2), (2, 1), (2, 1), 2)])
def test_adjoint_of_conv2d(rng, device, stride, padding, dilation, groups):
    """⟨conv2d(x, W), y⟩ = ⟨x, conv_transpose2d(y, W)⟩, with the output_padding that
    gives back x's size (conv2d maps `stride` input sizes to one output size)."""
    x = rng.standard_normal((2, 4, 8, 7))
    w = rng.standard_normal((6, 4 // groups, 3, 2))
    forward = F.conv2d(as_tensor(x, device), as_tensor(w, device), None, stride, padding,
                       dilation, groups)
    y = rng.standard_normal(forward.shape)
    output_padding = tuple(
        size - ((o - 1) * s - 2 * p + d * (k - 1) + 1) for size, o, s, p, d, k in
        zip(x.shape[2:], forward.shape[2:], stride, padding, dilation, w.shape[2:]))
    back = F.conv_transpose2d(as_tensor(y, device), as_tensor(w, device), None, stride,
                              padding, output_padding, groups, dilation)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(forward.numpy() * y), np.sum(x * back.numpy()),
                               rtol=1e-12)


def test_input_gradient_of_conv2d_is_conv_transpose2d(rng, device):
    x = as_tensor(rng.standard_normal((1, 2, 7, 6)), device, requires_grad=True)
    w = rng.standard_normal((3, 2, 3, 3))
    y = F.conv2d(x, as_tensor(w, device), stride=2, padding=1)          # (1, 3, 4, 3)
    grad_output = rng.standard_normal(y.shape)
    y.backward(as_tensor(grad_output, device))
    expected = F.conv_transpose2d(as_tensor(grad_output, device), as_tensor(w, device),
                                  stride=2, padding=1, output_padding=(0, 1))
    np.testing.assert_allclose(x.grad.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------- gradcheck and gradgradcheck

GRAD_CASES = [
    # stride, padding, output_padding, dilation, groups, bias
    ((1, 1), (0, 0), (0, 0), (1, 1), 1, True),
    ((2, 1), (1, 0), (1, 0), (1, 2), 1, True),
    ((2, 2), (1, 1), (0, 1), (1, 1), 2, False),
    ((1, 2), (0, 1), (1, 1), (2, 1), 2, True),       # output_padding ≥ stride, < dilation
]


def _grad_inputs(rng, device, groups, bias):
    inputs = [as_tensor(rng.standard_normal((1, 2, 3, 2)), device, requires_grad=True),
              as_tensor(rng.standard_normal((2, 4 // groups, 2, 2)), device,
                        requires_grad=True)]
    if bias:
        inputs.append(as_tensor(rng.standard_normal(4), device, requires_grad=True))
    return inputs


@pytest.mark.parametrize("stride, padding, output_padding, dilation, groups, bias", GRAD_CASES)
def test_conv_transpose2d_gradcheck_and_gradgradcheck(rng, device, stride, padding,
                                                      output_padding, dilation, groups, bias):
    def fn(x, w, b=None):
        return F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)

    inputs = _grad_inputs(rng, device, groups, bias)
    assert tg.gradcheck(fn, inputs)
    assert tg.gradgradcheck(lambda *args: fn(*args) ** 2, inputs)  # a non-zero 2nd derivative


def test_conv_transpose1d_gradcheck_and_gradgradcheck(rng, device):
    x = as_tensor(rng.standard_normal((1, 2, 3)), device, requires_grad=True)
    w = as_tensor(rng.standard_normal((2, 2, 2)), device, requires_grad=True)
    b = as_tensor(rng.standard_normal(2), device, requires_grad=True)

    def fn(x, w, b):
        return F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1, dilation=2)

    assert tg.gradcheck(fn, [x, w, b])
    assert tg.gradgradcheck(lambda *args: fn(*args) ** 2, [x, w, b])


# ------------------------------------------------------------------------ modules

def test_module_matches_the_functional_form_and_shapes(rng, device):
    layer = nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2,
                               dilation=(1, 2), device=device, dtype=tg.float64)
    assert layer.weight.shape == (4, 3, 3, 2) and layer.bias.shape == (6,)
    x = rng.standard_normal((2, 4, 5, 3))
    y = layer(as_tensor(x, device))
    assert y.shape == (2, 6, (5 - 1) * 2 - 2 + 2 + 1 + 1, (3 - 1) * 2 - 2 + 2 + 1 + 1)
    expected = naive_conv_transpose2d(x, layer.weight.numpy(), layer.bias.numpy(), (2, 2),
                                      (1, 1), (1, 1), (1, 2), groups=2)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert {name for name, _ in layer.named_parameters()} == {"weight", "bias"}
    assert nn.ConvTranspose2d(4, 6, 3, bias=False).bias is None


def test_conv_transpose1d_module(rng, device):
    layer = nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1, device=device,
                               dtype=tg.float64)
    assert layer.weight.shape == (2, 3, 3)
    assert (layer.kernel_size, layer.stride, layer.padding) == ((3,), (2,), (1,))
    assert (layer.output_padding, layer.dilation) == ((1,), (1,))
    x = rng.standard_normal((2, 2, 4))
    y = layer(as_tensor(x, device))
    expected = naive_conv_transpose2d(x[:, :, None], layer.weight.numpy()[:, :, None],
                                      layer.bias.numpy(), (1, 2), (0, 1), (0, 1),
                                      (1, 1))[:, :, 0]
    assert y.shape == (2, 3, 8)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert layer(as_tensor(x, device), output_size=[7]).shape == (2, 3, 7)


def test_output_size_picks_the_output_padding(rng, device):
    layer = nn.ConvTranspose2d(2, 3, 3, stride=(3, 2), padding=1, device=device,
                               dtype=tg.float64)
    x = as_tensor(rng.standard_normal((1, 2, 4, 5)), device)
    low = ((4 - 1) * 3 - 2 + 2 + 1, (5 - 1) * 2 - 2 + 2 + 1)          # (10, 9)
    for extra_h in range(3):
        for extra_w in range(2):
            size = (low[0] + extra_h, low[1] + extra_w)
            y = layer(x, output_size=size)
            assert y.shape == (1, 3) + size
            same = F.conv_transpose2d(x, layer.weight, layer.bias, (3, 2), 1,
                                      (extra_h, extra_w))
            np.testing.assert_array_equal(y.numpy(), same.numpy())
    assert layer(x, output_size=(1, 3, 11, 10)).shape == (1, 3, 11, 10)  # N, C may lead
    with pytest.raises(ValueError, match=r"requested an output size of \(13, 9\), but valid "
                       r"sizes range from \(10, 9\) to \(12, 10\)"):
        layer(x, output_size=(13, 9))
    with pytest.raises(ValueError, match=r"requested an output size of \(10, 8\)"):
        layer(x, output_size=(10, 8))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        layer(x, output_size=(10, 9, 9))


def test_init_is_pytorchs_kaiming_uniform_with_fan_in_from_weight_dim_1():
    # fan_in = weight.shape[1] · kh · kw = out_channels/groups · k · k (not in_channels).
    layer = nn.ConvTranspose2d(64, 6, 3, groups=2)                     # weight (64, 3, 3, 3)
    bound = 1 / math.sqrt(3 * 3 * 3)
    w = np.abs(layer.weight.numpy())
    assert w.max() <= bound and w.max() > 0.99 * bound
    assert abs(w.mean() - bound / 2) < 0.05 * bound                    # uniform: E|w| = b/2
    layer = nn.ConvTranspose2d(8, 400, 1, groups=2)                    # weight (8, 200, 1, 1)
    bound = 1 / math.sqrt(200)
    b = np.abs(layer.bias.numpy())
    assert b.max() <= bound and b.max() > 0.98 * bound
    assert np.abs(layer.weight.numpy()).max() <= bound
    layer = nn.ConvTranspose1d(3, 500, 2)                              # weight (3, 500, 2)
    bound = 1 / math.sqrt(500 * 2)
    w = np.abs(layer.weight.numpy())
    assert w.max() <= bound and w.max() > 0.99 * bound


def test_reset_parameters_draws_again():
    layer = nn.ConvTranspose2d(2, 3, 2)
    before = layer.weight.numpy().copy()
    layer.reset_parameters()
    assert not np.array_equal(before, layer.weight.numpy())


def test_float32_stays_float32(rng, device):
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, device=device)
    assert layer.weight.dtype == np.float32
    x = rng.standard_normal((1, 2, 3, 3)).astype(np.float32)
    y = layer(as_tensor(x, device))
    assert y.dtype == np.float32 and y.device == device
    expected = naive_conv_transpose2d(x.astype(np.float64), layer.weight.numpy(),
                                      layer.bias.numpy(), (2, 2), (0, 0), (0, 0), (1, 1))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)
    y.sum().backward()
    assert layer.weight.grad.dtype == np.float32 and layer.weight.grad.shape == (2, 3, 3, 3)


def test_extra_repr():
    assert repr(nn.ConvTranspose2d(4, 6, 3)) == (
        "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(1, 1))")
    assert repr(nn.ConvTranspose2d(4, 6, (3, 2), 2, 1, 1, 2, False, 2)) == (
        "ConvTranspose2d(4, 6, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), "
        "dilation=(2, 2), output_padding=(1, 1), groups=2, bias=False)")
    assert repr(nn.ConvTranspose1d(2, 3, 3, stride=2)) == (
        "ConvTranspose1d(2, 3, kernel_size=(3,), stride=(2,))")


# ------------------------------------------------------------------------- errors

def test_functional_errors(device):
    x = tg.zeros(1, 4, 3, 3, dtype=tg.float64, device=device)
    w = tg.zeros(4, 2, 2, 2, dtype=tg.float64, device=device)
    with pytest.raises(ValueError, match=r"conv_transpose2d: weight of shape \(4, 2, 2, 2\) "
                       r"expects an input with 4 channels.*\(1, 5, 3, 3\)"):
        F.conv_transpose2d(tg.zeros(1, 5, 3, 3, dtype=tg.float64, device=device), w)
    with pytest.raises(ValueError, match="output padding must be smaller than either stride "
                       r"or dilation, but got output_padding \(2, 0\), stride \(2, 2\)"):
        F.conv_transpose2d(x, w, stride=2, output_padding=(2, 0))
    with pytest.raises(ValueError, match=r"output padding .* output_padding \(0, 1\)"):
        F.conv_transpose2d(x, w, output_padding=(0, 1))                # stride 1, dilation 1
    with pytest.raises(ValueError, match="conv_transpose2d: expected a 4-D input"):
        F.conv_transpose2d(tg.zeros(4, 3, dtype=tg.float64, device=device), w)  # 2-D
    with pytest.raises(ValueError, match="conv_transpose2d: expected a 4-D weight"):
        F.conv_transpose2d(x, tg.zeros(4, 2, 2, dtype=tg.float64, device=device))
    with pytest.raises(ValueError, match="groups must be a positive integer dividing"):
        F.conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match=r"gives an output of -1x-1, too small"):
        F.conv_transpose2d(tg.zeros(1, 4, 1, 1, dtype=tg.float64, device=device),
                           tg.zeros(4, 1, 1, 1, dtype=tg.float64, device=device), padding=1)
    with pytest.raises(ValueError, match="must be non-negative"):
        F.conv_transpose2d(x, w, padding=-1)
    with pytest.raises(ValueError, match="must be positive"):
        F.conv_transpose2d(x, w, stride=0)
    with pytest.raises(TypeError, match="conv_transpose2d: padding must be an int or a pair"):
        F.conv_transpose2d(x, w, padding="same")
    with pytest.raises(ValueError, match=r"conv_transpose1d: output padding .* "
                       r"output_padding \(2,\), stride \(2,\) and dilation \(1,\)"):
        F.conv_transpose1d(tg.zeros(1, 4, 3, dtype=tg.float64),
                           tg.zeros(4, 1, 2, dtype=tg.float64), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="conv_transpose1d: expected a 3-D input"):
        F.conv_transpose1d(tg.zeros(4, dtype=tg.float64), tg.zeros(4, 1, 2, dtype=tg.float64))


def test_device_mismatch_is_an_error():
    x = tg.zeros(1, 2, 3, 3, dtype=tg.float64, device="strict")
    w = tg.zeros(2, 1, 2, 2, dtype=tg.float64, device="cpu")
    with pytest.raises(RuntimeError, match="conv_transpose2d: input is on device 'strict'"):
        F.conv_transpose2d(x, w)


def test_module_errors():
    with pytest.raises(ValueError, match="in_channels 3 and out_channels 4 must be divisible "
                       "by groups 2"):
        nn.ConvTranspose2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.ConvTranspose1d(3, 4, 3, groups=0)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for '
                       "ConvTranspose2d"):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    layer = nn.ConvTranspose2d(3, 4, 3, dtype=tg.float64)
    with pytest.raises(ValueError, match=r"expects an input with 3 channels.*\(1, 2, 5, 5\)"):
        layer(tg.zeros(1, 2, 5, 5, dtype=tg.float64))
    # as PyTorch, output_padding is checked when used: output_size replaces it
    layer = nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=3, dtype=tg.float64)
    x = tg.zeros(1, 3, 2, 2, dtype=tg.float64)
    with pytest.raises(ValueError, match="output padding must be smaller"):
        layer(x)
    assert layer(x, output_size=(6, 5)).shape == (1, 4, 6, 5)
