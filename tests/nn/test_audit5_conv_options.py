"""Audit of the convolution layers' options against PyTorch's documented semantics, with
NumPy references written here from the formulas: padding_mode (F.pad first, then a
convolution without padding), padding='same' with dilation and even kernels (the odd zero
at the end), 'valid', groups (depthwise with a channel multiplier), bias=False, the
transposed layers' output_padding, output_size, dilation and groups, unbatched inputs of
every dim, empty batches, the default init bounds, the fused conv2d against its
composition, and the errors (a wrong channel count names the layer and the given shape)."""

import itertools
import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn as nn
import tinygrad_opt.nn.functional as F
from tinygrad_opt.nn import functional_conv

CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
TRANSPOSED = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
NUMPY_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}
SPATIAL = {1: (7,), 2: (5, 6), 3: (4, 5, 4)}


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def ref_conv(x, w, b, dilation, groups):
    """Direct sum, stride 1, no padding (x already padded), x (N, C, *S), W (O, C/G, *K)::

        y[n, o, t] = b[o] + Σ_{c < C/G, k} W[o, c, k] · x[n, (o // (O/G))·C/G + c, t + k·d]
    """
    nd = x.ndim - 2
    O, Cg, K = w.shape[0], w.shape[1], w.shape[2:]
    dilation = (dilation,) * nd if isinstance(dilation, int) else dilation   # one per axis
    out = [x.shape[2 + a] - dilation[a] * (K[a] - 1) for a in range(nd)]
    y = np.zeros((x.shape[0], O) + tuple(out))
    for n, o in itertools.product(range(x.shape[0]), range(O)):
        g = o // (O // groups)
        for t in itertools.product(*map(range, out)):
            total = 0.0 if b is None else b[o]
            for c in range(Cg):
                for k in itertools.product(*map(range, K)):
                    position = tuple(ti + ki * d for ti, ki, d in zip(t, k, dilation))
                    total += w[(o, c) + k] * x[(n, g * Cg + c) + position]
            y[(n, o) + t] = total
    return y


def ref_conv_transpose(x, w, b, stride, padding, output_padding, dilation, groups):
    """The scatter ``y_full[n, g·O/G + o, t·s + k·d] += x[n, c, t] · W[c, o, k]`` (c in
    group g), y_full grown by output_padding at the end, ``padding`` cropped from each end."""
    nd = x.ndim - 2
    C, Og, K, S = x.shape[1], w.shape[1], w.shape[2:], x.shape[2:]
    Cg = C // groups
    size = [(S[a] - 1) * stride + dilation * (K[a] - 1) + 1 + output_padding
            for a in range(nd)]
    y = np.zeros((x.shape[0], Og * groups) + tuple(size))
    for n, c in itertools.product(range(x.shape[0]), range(C)):
        g = c // Cg
        for t in itertools.product(*map(range, S)):
            for o in range(Og):
                for k in itertools.product(*map(range, K)):
                    position = tuple(ti * stride + ki * dilation for ti, ki in zip(t, k))
                    y[(n, g * Og + o) + position] += x[(n, c) + t] * w[(c, o) + k]
    y = y[(slice(None), slice(None)) + tuple(slice(padding, m - padding) for m in size)]
    return y + b.reshape((1, Og * groups) + (1,) * nd)


def same_amounts(kernel, dilation):
    """PyTorch's 'same': d·(k − 1) positions, ⌊·/2⌋ before and the rest after."""
    total = dilation * (kernel - 1)
    return (total // 2, total - total // 2)


# ------------------------------------------------------------------ padding_mode and 'same'

@pytest.mark.parametrize("nd, mode, padding, kernel, dilation, groups, channels", [
    (1, "reflect", "same", 4, 1, 2, (2, 4)),        # even kernel: the odd zero at the end
    (1, "circular", "same", 2, 3, 2, (4, 2)),       # d·(k − 1) = 3, odd
    (1, "replicate", 2, 3, 2, 1, (2, 3)),
    (2, "circular", "same", 4, 1, 3, (3, 6)),       # depthwise, channel multiplier 2
    (2, "replicate", "same", 2, 2, 1, (2, 3)),
    (2, "reflect", 1, 3, 2, 2, (2, 2)),
    (2, "zeros", "same", 4, 1, 2, (4, 2)),
    (2, "zeros", "valid", 3, 2, 1, (2, 3)),
    (3, "reflect", "same", 2, 1, 2, (2, 2)),
    (3, "circular", 1, 2, 2, 1, (1, 2)),
    (3, "replicate", "same", 3, 2, 2, (2, 4)),
])
@pytest.mark.parametrize("batched", [True, False])
def test_padding_modes_and_same_match_numpy_pad_then_convolve(nd, mode, padding, kernel,
                                                              dilation, groups, channels,
                                                              batched, device, rng):
    C, O = channels
    layer = CONVS[nd](C, O, kernel, padding=padding, dilation=dilation, groups=groups,
                      padding_mode=mode, bias=mode != "zeros", device=device, dtype=tg.float64)
    assert layer.weight.shape == (O, C // groups) + (kernel,) * nd
    x = rng.standard_normal(((2,) if batched else ()) + (C,) + SPATIAL[nd])
    y = layer(as_tensor(x, device))
    if padding == "same":
        amounts = [same_amounts(kernel, dilation)] * nd
    elif padding == "valid":
        amounts = [(0, 0)] * nd
    else:
        amounts = [(padding, padding)] * nd
    batch = x if batched else x[None]
    padded = np.pad(batch, [(0, 0), (0, 0)] + amounts, mode=NUMPY_MODES[mode])
    bias = None if layer.bias is None else layer.bias.numpy()
    expected = ref_conv(padded, layer.weight.numpy(), bias, dilation, groups)
    expected = expected if batched else expected[0]
    if padding == "same":
        assert y.shape[-nd:] == SPATIAL[nd]
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Conv1d(4, 2, 4, padding="same", dilation=2, groups=2, padding_mode="circular",
                       dtype=tg.float64), (4, 6)),
    (lambda: nn.Conv3d(2, 4, (1, 2, 3), padding=(0, 1, 1), groups=2, bias=False,
                       padding_mode="replicate", dtype=tg.float64), (1, 2, 2, 3, 3)),
    (lambda: nn.Conv2d(2, 2, (2, 3), padding="same", dilation=(2, 1), groups=2,
                       padding_mode="reflect", dtype=tg.float64), (1, 2, 4, 3)),
])
def test_padding_mode_gradients_match_finite_differences(make, shape, rng):
    layer = make()
    parameters = [layer.weight] + ([] if layer.bias is None else [layer.bias])
    x = as_tensor(rng.standard_normal(shape), "cpu", requires_grad=True)
    assert tg.gradcheck(lambda x, *_: layer(x), [x] + parameters)


def test_same_is_refused_with_a_stride_and_accepted_with_stride_one_tuples():
    for nd, Layer in CONVS.items():
        with pytest.raises(ValueError, match=f"{Layer.__name__}: padding='same' is not "
                           "supported for strided"):
            Layer(2, 2, 3, stride=(1,) * (nd - 1) + (2,), padding="same")
        assert Layer(2, 2, 3, stride=(1,) * nd, padding="same").padding == "same"
    with pytest.raises(ValueError, match="conv1d: padding='same' is not supported"):
        F.conv1d(tg.zeros(1, 2, 5), tg.zeros(3, 2, 3), padding="same", stride=2)
    with pytest.raises(ValueError, match="conv3d: padding='same' is not supported"):
        F.conv3d(tg.zeros(1, 2, 3, 3, 3), tg.zeros(3, 2, 1, 1, 1), padding="same", stride=2)


def test_same_with_a_kernel_larger_than_the_input_keeps_the_size(device, rng):
    """'same' pads d·(k − 1) in all: a 5×5 kernel of ones over a 2×2 image sums all of it."""
    x = rng.standard_normal((1, 1, 2, 2))
    y = F.conv2d(as_tensor(x, device), as_tensor(np.ones((1, 1, 5, 5)), device),
                 padding="same")
    np.testing.assert_allclose(y.numpy(), np.full((1, 1, 2, 2), x.sum()), atol=1e-12)


# -------------------------------------------------------------- the fused conv2d twin

@pytest.mark.parametrize("kernel, dilation, groups, bias", [
    ((2, 4), (1, 1), 2, True), ((3, 2), (2, 3), 1, False), ((1, 3), (1, 2), 4, True)])
def test_fused_conv2d_agrees_with_its_composition_on_same_and_groups(kernel, dilation, groups,
                                                                     bias, device, rng):
    x = as_tensor(rng.standard_normal((2, 4, 5, 6)), device, requires_grad=True)
    w = as_tensor(rng.standard_normal((4, 4 // groups) + kernel), device, requires_grad=True)
    b = as_tensor(rng.standard_normal(4), device, requires_grad=True) if bias else None
    leaves = [x, w] + ([b] if bias else [])
    fused = F.conv2d(x, w, b, 1, "same", dilation, groups)            # the fused op
    amounts = [same_amounts(k, d) for k, d in zip(kernel, dilation)]
    padded = F.pad(x, (*amounts[1], *amounts[0]))
    composed = functional_conv.conv2d_composed(padded, w, b, (1, 1), (0, 0), dilation, groups)
    expected = ref_conv(np.pad(x.numpy(), [(0, 0), (0, 0)] + amounts), w.numpy(),
                        None if b is None else b.numpy(), dilation, groups)
    assert fused.shape == composed.shape == (2, 4, 5, 6)
    np.testing.assert_allclose(fused.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(composed.numpy(), expected, atol=1e-12)
    seed = as_tensor(rng.standard_normal(fused.shape), device)
    fused_grads = tg.autograd.grad(fused, leaves, seed)
    for a, c in zip(fused_grads, tg.autograd.grad(composed, leaves, seed)):
        np.testing.assert_allclose(a.numpy(), c.numpy(), atol=1e-12)


# ------------------------------------------------------------------- transposed layers

@pytest.mark.parametrize("nd, stride, padding, output_padding, dilation, groups, kernel", [
    (1, 3, 1, 2, 1, 2, 3),
    (1, 1, 0, 1, 2, 1, 2),          # output_padding below the dilation, not the stride
    (2, 2, 1, 1, 2, 2, 3),
    (2, 3, 0, 0, 1, 1, 2),
    (3, 2, 0, 1, 1, 2, 2),
])
@pytest.mark.parametrize("batched", [True, False])
def test_transposed_layers_match_the_scatter(nd, stride, padding, output_padding, dilation,
                                             groups, kernel, batched, device, rng):
    C, O = 2 * groups, 3 * groups
    layer = TRANSPOSED[nd](C, O, kernel, stride=stride, padding=padding,
                           output_padding=output_padding, groups=groups, dilation=dilation,
                           device=device, dtype=tg.float64)
    assert layer.weight.shape == (C, O // groups) + (kernel,) * nd
    spatial = SPATIAL[nd][:nd] if nd < 3 else (2, 3, 2)
    x = rng.standard_normal(((2,) if batched else ()) + (C,) + spatial)
    expected = ref_conv_transpose(x if batched else x[None], layer.weight.numpy(),
                                  layer.bias.numpy(), stride, padding, output_padding,
                                  dilation, groups)
    expected = expected if batched else expected[0]
    y = layer(as_tensor(x, device))
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)
    if output_padding >= stride:  # PyTorch's output_size reaches only min + stride − 1
        with pytest.raises(ValueError, match="requested an output size of"):
            layer(as_tensor(x, device), output_size=y.shape)
        return
    # output_size picks the same output_padding on a layer built without one
    bare = TRANSPOSED[nd](C, O, kernel, stride=stride, padding=padding, groups=groups,
                          dilation=dilation, device=device, dtype=tg.float64)
    bare.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(bare(as_tensor(x, device), output_size=y.shape).numpy(),
                               expected, atol=1e-12)
    np.testing.assert_allclose(bare(as_tensor(x, device), output_size=y.shape[-nd:]).numpy(),
                               expected, atol=1e-12)


def test_transposed_output_size_gradients_match_finite_differences(rng):
    layer = nn.ConvTranspose2d(4, 2, 3, stride=(2, 3), dilation=(1, 2), groups=2,
                               dtype=tg.float64)
    x = as_tensor(rng.standard_normal((4, 3, 2)), "cpu", requires_grad=True)
    assert layer(x, output_size=(8, 9)).shape == (2, 8, 9)
    assert tg.gradcheck(lambda x, w, b: layer(x, output_size=(8, 9)),
                        [x, layer.weight, layer.bias])


def test_transposed_option_errors_are_pytorchs():
    for nd, Layer in TRANSPOSED.items():
        name = Layer.__name__
        with pytest.raises(ValueError, match="output padding must be smaller than either "
                           "stride or dilation"):
            Layer(2, 2, 3, stride=2, dilation=2, output_padding=2)(tg.zeros((1, 2) + (3,) * nd))
        with pytest.raises(TypeError, match=f"{name}: padding must be an int"):
            Layer(2, 2, 3, padding="same")
        with pytest.raises(ValueError, match=f'Only "zeros" padding mode is supported for '
                           f"{name}"):
            Layer(2, 2, 3, padding_mode="circular")
        with pytest.raises(ValueError, match=f"{name}: requested an output size of "
                           rf"\({', '.join(['8'] * nd)},?\), but valid sizes range from "
                           rf"\({', '.join(['5'] * nd)},?\) to \({', '.join(['6'] * nd)},?\)"):
            Layer(2, 2, 3, stride=2)(tg.zeros((1, 2) + (2,) * nd), output_size=(8,) * nd)


# ------------------------------------------------ init, empty batches and errors

@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Conv1d(6, 4, 5, groups=2), 3 * 5),
    (lambda: nn.Conv2d(4, 6, (3, 2), groups=2), 2 * 6),
    (lambda: nn.Conv3d(4, 8, (2, 3, 1), groups=4), 1 * 6),
    (lambda: nn.ConvTranspose1d(6, 4, 5, groups=2), 2 * 5),     # weight.shape[1] = out/groups
    (lambda: nn.ConvTranspose2d(4, 6, 3, groups=2), 3 * 9),
    (lambda: nn.ConvTranspose3d(4, 8, (2, 3, 1), groups=4), 2 * 6),
])
def test_init_bounds_are_one_over_root_fan_in(make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    for parameter in (layer.weight, layer.bias):
        values = parameter.numpy()
        assert parameter.dtype == tg.float32
        assert np.all(np.abs(values) <= bound)
    weights = layer.weight.numpy()
    assert np.abs(weights).max() > 0.8 * bound      # spread over the bound, not a smaller one


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_an_empty_batch_gives_an_empty_batch(nd, device):
    x = tg.zeros((0, 2) + (4,) * nd, dtype=tg.float64, device=device)
    conv = CONVS[nd](2, 3, 3, padding=1, padding_mode="reflect", device=device,
                     dtype=tg.float64)
    transposed = TRANSPOSED[nd](2, 3, 3, stride=2, device=device, dtype=tg.float64)
    assert conv(x).shape == (0, 3) + (4,) * nd
    assert transposed(x).shape == (0, 3) + (9,) * nd


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular"])
def test_a_wrong_channel_count_names_the_layer_and_the_given_shape(nd, mode):
    """PyTorch checks the channels after padding_mode's F.pad; the check here comes first,
    so the message names the layer, its in_channels and the shape the caller gave."""
    layer = CONVS[nd](2, 3, 3, padding=1, padding_mode=mode, dtype=tg.float64)
    name = CONVS[nd].__name__
    for shape in [(1, 5) + (4,) * nd, (5,) + (4,) * nd]:
        given = str(shape).replace("(", r"\(").replace(")", r"\)")
        with pytest.raises(ValueError, match=rf"{name}: expected an input .* with "
                           rf"in_channels=2 channels, got shape {given}"):
            layer(tg.zeros(shape, dtype=tg.float64))
    wrong_rank = (1, 1, 2) + (4,) * nd
    with pytest.raises(ValueError, match=rf"{name}: expected an input \(N, 2, "):
        layer(tg.zeros(wrong_rank, dtype=tg.float64))
