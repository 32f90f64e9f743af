"""Audit of the convolutions (conv1d/2d/3d, conv_transpose1d/2d/3d and their layers) against
PyTorch's documented semantics: values and gradients against N-d NumPy references written
here from the formulas, the ``groups`` argument's types, and the errors of the 1-D
transposed convolution naming itself and the shapes it was given."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn as nn
import tinygrad_opt.nn.functional as F


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


# ------------------------------------------------- independent N-d references, one loop per tap

def ref_conv(x, w, b, stride, padding, dilation, groups):
    """y[n, o, t] = b[o] + Σ_{c, k} W[o, c, k] · x_pad[n, g·C/G + c, t·s + k·d] (k, t, s, d
    multi-indices; padding per axis as (before, after)); x (N, C, *S), W (O, C/G, *K)."""
    nd = x.ndim - 2
    O, Cg, K = w.shape[0], w.shape[1], w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + list(padding))
    out = [(xp.shape[2 + a] - dilation[a] * (K[a] - 1) - 1) // stride[a] + 1 for a in range(nd)]
    y = np.zeros((x.shape[0], O) + tuple(out))
    Og = O // groups
    for tap in itertools.product(*map(range, K)):
        window = tuple(slice(k * d, k * d + s * (o - 1) + 1, s)
                       for k, d, s, o in zip(tap, dilation, stride, out))
        view = xp[(slice(None), slice(None)) + window]                      # (N, C, *out)
        for g in range(groups):
            w_tap = w[(slice(g * Og, (g + 1) * Og), slice(None)) + tap]     # (O/G, C/G)
            y[:, g * Og:(g + 1) * Og] += np.einsum("oc,nc...->no...", w_tap,
                                                   view[:, g * Cg:(g + 1) * Cg])
    return y if b is None else y + b.reshape((1, O) + (1,) * nd)


def ref_conv_transpose(x, w, b, stride, padding, output_padding, dilation, groups):
    """The scatter, c in group g's C/G input channels and o in its O/G outputs::

        y_full[n, g·O/G + o, t·s + k·d] += x[n, c, t] · W[c, o, k]

    y_full extended by output_padding at the end, then ``padding`` cropped from each end."""
    nd = x.ndim - 2
    C, Og, K, S = x.shape[1], w.shape[1], w.shape[2:], x.shape[2:]
    Cg = C // groups
    size = [(S[a] - 1) * stride[a] + dilation[a] * (K[a] - 1) + 1 + output_padding[a]
            for a in range(nd)]
    y = np.zeros((x.shape[0], Og * groups) + tuple(size))
    for tap in itertools.product(*map(range, K)):
        window = tuple(slice(k * d, k * d + s * (length - 1) + 1, s)
                       for k, d, s, length in zip(tap, dilation, stride, S))
        for g in range(groups):
            w_tap = w[(slice(g * Cg, (g + 1) * Cg), slice(None)) + tap]     # (C/G, O/G)
            y[(slice(None), slice(g * Og, (g + 1) * Og)) + window] += np.einsum(
                "co,nc...->no...", w_tap, x[:, g * Cg:(g + 1) * Cg])
    y = y[(slice(None), slice(None)) + tuple(slice(p, n - p) for p, n in zip(padding, size))]
    return y if b is None else y + b.reshape((1, Og * groups) + (1,) * nd)


def test_the_references_on_hand_computed_cases():
    x = np.arange(1.0, 5.0).reshape(1, 1, 4)                                 # [1, 2, 3, 4]
    w = np.array([1.0, -1.0]).reshape(1, 1, 2)
    np.testing.assert_array_equal(ref_conv(x, w, None, (1,), [(0, 0)], (1,), 1),
                                  [[[-1.0, -1.0, -1.0]]])
    np.testing.assert_array_equal(ref_conv(x, w, np.array([10.0]), (2,), [(1, 1)], (1,), 1),
                                  [[[9.0, 9.0, 14.0]]])                     # [0 1 2 3 4 0]
    # each input value scatters [x, −x] at stride 2: [1, −1, 2, −2, 3, −3, 4, −4]
    np.testing.assert_array_equal(ref_conv_transpose(x, w, None, (2,), (1,), (0,), (1,), 1),
                                  [[[-1.0, 2.0, -2.0, 3.0, -3.0, 4.0]]])


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_every_convolution_matches_the_reference_for_drawn_options(data):
    nd = data.draw(st.integers(1, 3))
    groups = data.draw(st.sampled_from([1, 2]))
    ints = lambda low, high: tuple(data.draw(st.lists(st.integers(low, high), min_size=nd,
                                                      max_size=nd)))
    K, stride, dilation, padding = ints(1, 3), ints(1, 2), ints(1, 2), ints(0, 2)
    size = tuple(d * (k - 1) + 1 + extra for d, k, extra in zip(dilation, K, ints(0, 2)))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    bias = rng.standard_normal(2 * groups) if data.draw(st.booleans()) else None
    batched = data.draw(st.booleans())
    b = None if bias is None else as_tensor(bias, "cpu")
    one = (lambda t: t[0]) if nd == 1 else (lambda t: t)

    x = rng.standard_normal((2, 2 * groups) + size)
    w = rng.standard_normal((2 * groups, 2) + K)
    y = CONV[nd](as_tensor(x if batched else x[0], "cpu"), as_tensor(w, "cpu"), b,
                 one(stride), one(padding), one(dilation), groups)
    expected = ref_conv(x, w, bias, stride, [(p, p) for p in padding], dilation, groups)
    np.testing.assert_allclose(y.numpy(), expected if batched else expected[0], atol=1e-12)

    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1))
                           for s, d in zip(stride, dilation))
    crop = tuple(min(p, (k - 1) * d // 2) for p, k, d in zip(padding, K, dilation))
    x = rng.standard_normal((2, 2 * groups) + ints(1, 3))
    w = rng.standard_normal((2 * groups, 2) + K)
    y = CONV_T[nd](as_tensor(x if batched else x[0], "cpu"), as_tensor(w, "cpu"), b,
                   one(stride), one(crop), one(output_padding), groups, one(dilation))
    expected = ref_conv_transpose(x, w, bias, stride, crop, output_padding, dilation, groups)
    np.testing.assert_allclose(y.numpy(), expected if batched else expected[0], atol=1e-12)


# ------------------------------------------------------------------------- gradients

GRADIENT_CASES = {
    "conv1d 'same' even dilated kernel, groups": (
        lambda x, w, b: F.conv1d(x, w, b, 1, "same", 3, 2), (2, 4, 7), (4, 2, 4), 4),
    "conv2d unbatched depthwise, stride and dilation": (
        lambda x, w, b: F.conv2d(x, w, b, (2, 1), (1, 2), (1, 2), 3), (3, 5, 6), (3, 1, 2, 3),
        3),
    "conv3d groups, strides, asymmetric padding": (
        lambda x, w, b: F.conv3d(x, w, b, (1, 2, 1), (1, 0, 1), (2, 1, 1), 2),
        (1, 4, 5, 4, 3), (2, 2, 2, 2, 2), 2),
    "conv_transpose1d unbatched, groups, output_padding below the dilation": (
        lambda x, w, b: F.conv_transpose1d(x, w, b, 1, 1, 1, 2, 2), (4, 3), (4, 1, 3), 2),
    "conv_transpose2d groups, output_padding, dilation": (
        lambda x, w, b: F.conv_transpose2d(x, w, b, (2, 1), (1, 0), (1, 0), 2, (1, 2)),
        (1, 4, 3, 3), (4, 2, 2, 3), 4),
    "conv_transpose3d stride, padding, output_padding": (
        lambda x, w, b: F.conv_transpose3d(x, w, b, 2, 1, 1, 1, 1), (1, 2, 2, 2, 2),
        (2, 1, 2, 2, 2), 1),
}


@pytest.mark.parametrize("name", list(GRADIENT_CASES))
def test_gradients_wrt_input_weight_and_bias_match_finite_differences(name, device, rng):
    fn, x_shape, w_shape, out_channels = GRADIENT_CASES[name]
    inputs = [as_tensor(rng.standard_normal(shape), device, requires_grad=True)
              for shape in (x_shape, w_shape, (out_channels,))]
    assert tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("mode, numpy_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                              ("circular", "wrap")])
def test_padding_modes_of_an_unbatched_input_and_their_gradient(mode, numpy_mode, device, rng):
    layer = nn.Conv2d(2, 3, (2, 3), padding="same", padding_mode=mode, dtype=tg.float64,
                      device=device)
    x = rng.standard_normal((2, 4, 5))
    y = layer(as_tensor(x, device))
    # 'same' for a (2, 3) kernel: rows (0 before, 1 after), columns (1, 1), as PyTorch
    padded = np.pad(x, [(0, 0), (0, 1), (1, 1)], mode=numpy_mode)[None]
    expected = ref_conv(padded, layer.weight.numpy(), layer.bias.numpy(), (1, 1),
                        [(0, 0), (0, 0)], (1, 1), 1)[0]
    assert y.shape == (3, 4, 5)
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)
    assert tg.gradcheck(lambda x: layer(x), [as_tensor(x, device, requires_grad=True)])


def test_float32_stays_float32_in_values_and_gradients(device, rng):
    x = tg.tensor(rng.standard_normal((1, 2, 4)), dtype=tg.float32, device=device,
                  requires_grad=True)
    for layer in (nn.Conv1d(2, 4, 3, groups=2, device=device),
                  nn.ConvTranspose1d(2, 4, 3, stride=2, output_padding=1, device=device)):
        x.grad = None
        y = layer(x)
        y.sum().backward()
        assert y.dtype == x.grad.dtype == layer.weight.grad.dtype == tg.float32
        assert layer.bias.grad.dtype == tg.float32
        np.testing.assert_allclose(layer.bias.grad.numpy(), np.full(4, y.shape[-1]))


# --------------------------------------------------------- groups: an integer, as PyTorch's

@pytest.mark.parametrize("nd", [1, 2, 3])
def test_groups_may_be_a_numpy_integer_in_every_convolution(nd, device, rng):
    x = rng.standard_normal((1, 4) + (4,) * nd)
    w = rng.standard_normal((4, 2) + (2,) * nd)
    y = CONV[nd](as_tensor(x, device), as_tensor(w, device), groups=np.int64(2))
    np.testing.assert_allclose(y.numpy(), ref_conv(x, w, None, (1,) * nd, [(0, 0)] * nd,
                                                   (1,) * nd, 2), atol=1e-12)
    y = CONV_T[nd](as_tensor(x, device), as_tensor(w, device), groups=np.int64(2))
    np.testing.assert_allclose(y.numpy(), ref_conv_transpose(x, w, None, (1,) * nd, (0,) * nd,
                                                             (0,) * nd, (1,) * nd, 2),
                               atol=1e-12)


@pytest.mark.parametrize("layer", [nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                                   nn.ConvTranspose2d, nn.ConvTranspose3d])
def test_layers_take_a_numpy_integer_groups(layer, rng):
    module = layer(4, 2, 1, groups=np.int64(2), dtype=tg.float64)
    nd = module.weight.ndim - 2
    x = rng.standard_normal((1, 4) + (3,) * nd)
    w, b = module.weight.numpy(), module.bias.numpy()
    if layer.__name__.startswith("ConvTranspose"):
        expected = ref_conv_transpose(x, w, b, (1,) * nd, (0,) * nd, (0,) * nd, (1,) * nd, 2)
    else:
        expected = ref_conv(x, w, b, (1,) * nd, [(0, 0)] * nd, (1,) * nd, 2)
    np.testing.assert_allclose(module(as_tensor(x, "cpu")).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("groups", [True, 2.0, "2"])
def test_groups_that_is_not_an_integer_is_a_type_error_naming_groups(nd, groups):
    x, w = tg.ones(*(1, 2) + (3,) * nd), tg.ones(*(2, 1) + (2,) * nd)
    for function in (CONV[nd], CONV_T[nd]):
        with pytest.raises(TypeError, match=f"{function.__name__}: groups must be an int, "
                                            f"got {groups!r}"):
            function(x, w, groups=groups)


def test_transposed_layers_refuse_a_bool_groups_as_the_other_layers():
    for layer in (nn.Conv2d, nn.ConvTranspose2d):
        with pytest.raises(ValueError, match=f"{layer.__name__}: groups must be a positive "
                                             "integer, got True"):
            layer(2, 2, 3, groups=True)


# ------------------------------------------- conv_transpose1d: its own name and its own shapes

@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv_transpose1d(tg.ones(1, 2, 3), tg.ones(3, 1, 2)), ValueError,
     r"conv_transpose1d: weight of shape \(3, 1, 2\) expects an input with 3 channels, got "
     r"an input of shape \(1, 2, 3\) \(2 channels\)"),
    (lambda: F.conv_transpose1d(tg.ones(4, 3), tg.ones(4, 1, 2), groups=3), ValueError,
     r"conv_transpose1d: groups must be a positive integer dividing the 4 input channels of "
     r"an input of shape \(4, 3\), got 3"),
    (lambda: F.conv_transpose1d(tg.ones(1, 4, 3), tg.ones(4, 1, 2), groups=0), ValueError,
     "conv_transpose1d: groups must be a positive integer, got 0"),
    (lambda: F.conv_transpose1d(tg.ones(1, 4, 3), tg.ones(4, 1, 2), tg.ones(3), groups=2),
     ValueError, r"conv_transpose1d: bias of shape \(3,\) does not match the 2 out channels "
                 r"of a weight of shape \(4, 1, 2\)"),
    (lambda: F.conv_transpose1d(tg.ones(1, 1, 1), tg.ones(1, 1, 1), padding=1), ValueError,
     r"conv_transpose1d: input of shape \(1, 1, 1\) with kernel_size \(1,\), stride \(1,\), "
     r"padding \(1,\), output_padding \(0,\) and dilation \(1,\) gives an output of -1, "
     "too small"),
    (lambda: F.conv_transpose1d(tg.ones(1, 4, 3), tg.ones(4, 1, 2, device="strict")),
     RuntimeError, "conv_transpose1d: input is on device 'cpu', weight on 'strict'"),
    (lambda: F.conv1d(tg.ones(1, 4, 3), tg.ones(4, 4, 2, device="strict")),
     RuntimeError, "conv1d: input is on device 'cpu', weight on 'strict'"),
])
def test_one_dimensional_errors_name_the_op_and_the_shapes_given(call, error, message):
    with pytest.raises(error, match=message):
        call()
