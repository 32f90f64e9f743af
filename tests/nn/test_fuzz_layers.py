"""Randomised (hypothesis) checks of the nn layers with weights or structure.

Each test draws a layer configuration and shapes, builds the layer in float64, and
compares (1) its forward with an independent NumPy reference written from PyTorch's
documented formula, (2) the gradient of L = Σ y·R (R random) with respect to the input
and every parameter with central differences of that reference. Covered: Conv1d/2d/3d
(stride, padding ints/'same'/'valid', dilation, groups, bias, the four padding modes),
ConvTranspose1d/2d (output_padding, groups, dilation), Max/AvgPool1d/2d (ceil_mode,
count_include_pad, divisor_override, padding, indices), adaptive pools, BatchNorm1d/2d
(train/eval, running statistics over several steps, momentum=None, no tracking, no
affine), LayerNorm, GroupNorm, InstanceNorm1d/2d, Embedding (padding_idx, max_norm) and
RNN/LSTM/GRU (layers, directions, batch_first, initial states, relu, no bias, unbatched,
proj_size).

By default each test draws a few examples (derandomised, so CI is deterministic);
``FUZZ_LAYERS_EXAMPLES=N`` draws N per test (with ``HYPOTHESIS_PROFILE=explore`` new ones).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import nn
from fuzzing import examples, fuzz_settings

EXAMPLES = examples("FUZZ_LAYERS_EXAMPLES", 4)
fuzz = fuzz_settings(EXAMPLES)

EPS = 1e-6                       # central-difference step (float64)
RTOL, ATOL = 1e-5, 1e-7


# ----------------------------------------------------------------------------- machinery

def _flat(value) -> list:
    """Tensors / arrays of a (nested) tuple or list output, in order."""
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def _numeric(f, array: np.ndarray) -> np.ndarray:
    """Central differences of the scalar f() with respect to ``array`` (changed in place)."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        array[i] = old + EPS
        plus = f()
        array[i] = old - EPS
        minus = f()
        array[i] = old
        grad[i] = (plus - minus) / (2 * EPS)
    return grad


def check_layer(module, inputs: dict, call, ref, device, seed=0, grad_inputs=None,
                rtol=RTOL, atol=ATOL):
    """Forward and gradients of ``module`` (float64, on the CPU) against ``ref``.

    ``inputs``: name -> array; ``call(module, tensors)`` runs the layer on the tensors;
    ``ref(arrays, params)`` is the NumPy reference, params name -> array. Gradients of
    L = Σ_k Σ y_k·R_k are compared, for every float input in ``grad_inputs`` (default:
    all of them) and every parameter, with central differences of the reference.
    Returns the module's outputs (as NumPy arrays).
    """
    rng = np.random.default_rng(seed)
    params = {name: p.numpy().copy() for name, p in module.named_parameters()}
    module.to(device)
    grad_inputs = list(inputs) if grad_inputs is None else grad_inputs
    tensors = {name: tg.tensor(value, device=device, requires_grad=name in grad_inputs)
               for name, value in inputs.items()}
    outputs = _flat(call(module, tensors))
    expected = [np.asarray(e, dtype=np.float64) for e in _flat(ref(inputs, params))]
    assert len(outputs) == len(expected)
    for out, exp in zip(outputs, expected):
        assert tuple(out.shape) == exp.shape, (out.shape, exp.shape)
        np.testing.assert_allclose(out.numpy(), exp, rtol=rtol, atol=atol)
    # A max-pool window wholly in the padding gives −inf (PyTorch): left out of L.
    weights = [np.where(np.isfinite(e), rng.standard_normal(e.shape), 0.0) for e in expected]
    loss = None
    for out, w in zip(outputs, weights):
        term = (out * tg.tensor(w, device=device)).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    def objective():
        return sum(float(np.where(w != 0, np.asarray(y) * w, 0.0).sum())
                   for y, w in zip(_flat(ref(inputs, params)), weights))

    for name in grad_inputs:
        got = tensors[name].grad
        assert got is not None, f"no gradient for input {name}"
        np.testing.assert_allclose(got.numpy(), _numeric(objective, inputs[name]),
                                   rtol=rtol, atol=1e-6, err_msg=f"input {name}")
    for name, p in module.named_parameters():
        assert p.grad is not None, f"no gradient for parameter {name}"
        np.testing.assert_allclose(p.grad.numpy(), _numeric(objective, params[name]),
                                   rtol=rtol, atol=1e-6, err_msg=f"parameter {name}")
    return [out.numpy() for out in outputs]


def randn(rng, shape):
    return rng.standard_normal(shape)


# ----------------------------------------------------------------------- NumPy references

NP_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}


def ref_conv(x, w, b, stride, pads, dilation, groups, mode="zeros"):
    """y[n, o, p] = b[o] + Σ_{c, t} w[o, c, t] · x_pad[n, g·C/G + c, p·s + t·d] (PyTorch's
    Conv formula), for any number of spatial dims; ``pads`` = [(before, after)] per axis."""
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + list(pads), mode=NP_PAD_MODE[mode])
    N, C = x.shape[:2]
    O, cg = w.shape[:2]
    kernel = w.shape[2:]
    og = O // groups
    outs = [(x.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
            for i in range(nd)]
    y = np.zeros((N, O) + tuple(outs))
    for n, o in itertools.product(range(N), range(O)):
        g = o // og
        for pos in itertools.product(*[range(s) for s in outs]):
            total = 0.0 if b is None else b[o]
            for c in range(cg):
                for tap in itertools.product(*[range(k) for k in kernel]):
                    idx = tuple(pos[i] * stride[i] + tap[i] * dilation[i] for i in range(nd))
                    total += w[(o, c) + tap] * x[(n, g * cg + c) + idx]
            y[(n, o) + pos] = total
    return y


def ref_conv_transpose(x, w, b, stride, padding, output_padding, dilation, groups):
    """The adjoint of the convolution: each x[n, ci, p] adds x·w[ci, o, t] at output
    position p·s + t·d − padding (PyTorch's ConvTranspose); out size
    (L − 1)·s − 2p + d·(k − 1) + output_padding + 1."""
    nd = x.ndim - 2
    N, C = x.shape[:2]
    cg_out = w.shape[1]
    kernel = w.shape[2:]
    cg_in = C // groups
    outs = [(x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1)
            + output_padding[i] + 1 for i in range(nd)]
    y = np.zeros((N, cg_out * groups) + tuple(outs))
    for n, ci in itertools.product(range(N), range(C)):
        g = ci // cg_in
        for pos in itertools.product(*[range(s) for s in x.shape[2:]]):
            for oc in range(cg_out):
                for tap in itertools.product(*[range(k) for k in kernel]):
                    idx = tuple(pos[i] * stride[i] + tap[i] * dilation[i] - padding[i]
                                for i in range(nd))
                    if all(0 <= idx[i] < outs[i] for i in range(nd)):
                        y[(n, g * cg_out + oc) + idx] += x[(n, ci) + pos] * w[(ci, oc) + tap]
    if b is not None:
        y += b.reshape((1, -1) + (1,) * nd)
    return y


def pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size (a last ceil-mode window must start inside the input
    or the left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def ref_max_pool(x, k, s, p, d, ceil_mode):
    """y = max over the window's positions inside x (padding never wins); indices = flat
    position (in the spatial plane) of the first maximum, in scan order."""
    nd = x.ndim - 2
    sizes = x.shape[2:]
    outs = [pool_out(sizes[i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    index = np.zeros(y.shape, dtype=np.int64)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*[range(o) for o in outs]):
            best, where = -np.inf, -1
            for tap in itertools.product(*[range(kk) for kk in k]):
                idx = tuple(pos[i] * s[i] - p[i] + tap[i] * d[i] for i in range(nd))
                if all(0 <= idx[i] < sizes[i] for i in range(nd)):
                    if x[(n, c) + idx] > best:
                        best = x[(n, c) + idx]
                        where = int(np.ravel_multi_index(idx, sizes))
            y[(n, c) + pos] = best
            index[(n, c) + pos] = where
    return y, index


def ref_avg_pool(x, k, s, p, ceil_mode, count_include_pad, divisor_override):
    """PyTorch's avg pooling: the sum over the window's positions inside x, divided by
    divisor_override, else the window's size clipped to the padded input
    (count_include_pad) or the number of positions inside x."""
    nd = x.ndim - 2
    sizes = x.shape[2:]
    outs = [pool_out(sizes[i], k[i], s[i], p[i], 1, ceil_mode) for i in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*[range(o) for o in outs]):
            starts = [pos[i] * s[i] - p[i] for i in range(nd)]
            ends = [min(starts[i] + k[i], sizes[i] + p[i]) for i in range(nd)]
            padded_count = math.prod(ends[i] - starts[i] for i in range(nd))
            lo = [max(starts[i], 0) for i in range(nd)]
            hi = [min(ends[i], sizes[i]) for i in range(nd)]
            inside = math.prod(hi[i] - lo[i] for i in range(nd))
            window = x[(n, c) + tuple(slice(lo[i], hi[i]) for i in range(nd))]
            divisor = (divisor_override if divisor_override
                       else padded_count if count_include_pad else inside)
            y[(n, c) + pos] = window.sum() / divisor
    return y


def adaptive_bins(size, out):
    return [(math.floor(i * size / out), math.ceil((i + 1) * size / out)) for i in range(out)]


def ref_adaptive(x, outs, reduce):
    nd = x.ndim - 2
    bins = [adaptive_bins(x.shape[2 + i], outs[i]) for i in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    for pos in itertools.product(*[range(o) for o in outs]):
        window = x[(slice(None), slice(None)) + tuple(slice(*bins[i][pos[i]])
                                                      for i in range(nd))]
        flat = window.reshape(x.shape[0], x.shape[1], -1)
        y[(slice(None), slice(None)) + pos] = flat.mean(-1) if reduce == "avg" else flat.max(-1)
    return y


def ref_normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def channel_shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --------------------------------------------------------------------------- strategies

def _unbatch(batched: bool, x: np.ndarray) -> np.ndarray:
    return x if batched else x[0]


@st.composite
def conv_config(draw, nd, max_kernel=3, channels=2):
    groups = draw(st.integers(1, 2))
    cin = groups * draw(st.integers(1, channels))
    cout = groups * draw(st.integers(1, channels))
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = draw(st.sampled_from(["ints", "same", "valid"]))
    stride = (tuple(draw(st.integers(1, 2)) for _ in range(nd)) if padding != "same"
              else (1,) * nd)
    if padding == "ints":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    # Sizes large enough for one output (and for reflect padding: pad < size).
    sizes = tuple(draw(st.integers(max(3, dilation[i] * (kernel[i] - 1) + 1),
                                   max(3, dilation[i] * (kernel[i] - 1) + 1) + 2))
                  for i in range(nd))
    return dict(groups=groups, cin=cin, cout=cout, kernel=kernel, dilation=dilation,
                padding=padding, stride=stride, mode=mode, sizes=sizes,
                bias=draw(st.booleans()), batch=draw(st.integers(1, 2)),
                batched=draw(st.booleans()))


def _pads(config):
    padding, kernel, dilation = config["padding"], config["kernel"], config["dilation"]
    if padding == "valid":
        return [(0, 0)] * len(kernel)
    if padding == "same":
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return [(t // 2, t - t // 2) for t in totals]
    return [(p, p) for p in padding]


CONV_CLASSES = {1: nn.Conv1d, 2: nn.Conv2d}


def _run_conv(nd, config, device, module_class=None):
    if module_class is None:
        module_class = CONV_CLASSES[nd] if nd < 3 else tg.nn.Conv3d
    c = config
    pads = _pads(c)
    if c["mode"] == "reflect":
        assume(all(max(pd) < size for pd, size in zip(pads, c["sizes"])))
    tg.manual_seed(len(str(config)))
    layer = module_class(c["cin"], c["cout"], c["kernel"] if nd > 1 else c["kernel"][0],
                         stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
                         groups=c["groups"], bias=c["bias"], padding_mode=c["mode"],
                         dtype=tg.float64)
    rng = np.random.default_rng(len(str(config)))
    x = randn(rng, (c["batch"], c["cin"]) + c["sizes"])

    def ref(inputs, params):
        xb = inputs["x"] if c["batched"] else inputs["x"][None]
        y = ref_conv(xb, params["weight"], params.get("bias"), c["stride"], pads,
                     c["dilation"], c["groups"], c["mode"])
        return _unbatch(c["batched"], y)

    check_layer(layer, {"x": _unbatch(c["batched"], x)}, lambda m, t: m(t["x"]), ref, device)


@fuzz
@given(config=conv_config(1))
def test_conv1d_matches_reference(device, config):
    _run_conv(1, config, device)


@fuzz
@given(config=conv_config(2))
def test_conv2d_matches_reference(device, config):
    _run_conv(2, config, device)


@settings(fuzz, max_examples=max(1, EXAMPLES // 2))
@given(config=conv_config(3, max_kernel=2, channels=1))
def test_conv3d_matches_reference(config):
    _run_conv(3, config, "cpu")


@st.composite
def conv_transpose_config(draw, nd):
    groups = draw(st.integers(1, 2))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    # output_padding must be smaller than stride or dilation (PyTorch's rule).
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    sizes = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    return dict(groups=groups, cin=groups * draw(st.integers(1, 2)),
                cout=groups * draw(st.integers(1, 2)), stride=stride, dilation=dilation,
                kernel=kernel, output_padding=output_padding, padding=padding, sizes=sizes,
                bias=draw(st.booleans()), batched=draw(st.booleans()),
                use_output_size=draw(st.booleans()))


def _run_conv_transpose(nd, config, device):
    c = config
    outs = [(c["sizes"][i] - 1) * c["stride"][i] - 2 * c["padding"][i]
            + c["dilation"][i] * (c["kernel"][i] - 1) + c["output_padding"][i] + 1
            for i in range(nd)]
    assume(all(o >= 1 for o in outs))
    layer_class = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: tg.nn.ConvTranspose3d}[nd]
    tg.manual_seed(len(str(config)))
    use_size = c["use_output_size"] and all(op < s for op, s in zip(c["output_padding"],
                                                                   c["stride"]))
    # With output_size, the layer derives output_padding from it (PyTorch's rule).
    layer = layer_class(c["cin"], c["cout"], c["kernel"], c["stride"], c["padding"],
                        0 if use_size else c["output_padding"], c["groups"], c["bias"],
                        c["dilation"], dtype=tg.float64)
    rng = np.random.default_rng(len(str(config)))
    x = _unbatch(c["batched"], randn(rng, (2, c["cin"]) + c["sizes"]))

    def call(m, t):
        return m(t["x"], output_size=outs) if use_size else m(t["x"])

    def ref(inputs, params):
        xb = inputs["x"] if c["batched"] else inputs["x"][None]
        y = ref_conv_transpose(xb, params["weight"], params.get("bias"), c["stride"],
                               c["padding"], c["output_padding"], c["dilation"], c["groups"])
        return _unbatch(c["batched"], y)

    check_layer(layer, {"x": x}, call, ref, device)


@fuzz
@given(config=conv_transpose_config(1))
def test_conv_transpose1d_matches_reference(device, config):
    _run_conv_transpose(1, config, device)


@fuzz
@given(config=conv_transpose_config(2))
def test_conv_transpose2d_matches_reference(device, config):
    _run_conv_transpose(2, config, device)


@settings(fuzz, max_examples=max(1, EXAMPLES // 2))
@given(config=conv_transpose_config(3))
def test_conv_transpose3d_matches_reference(config):
    config = dict(config, kernel=tuple(min(k, 2) for k in config["kernel"]),
                  sizes=tuple(min(s, 2) for s in config["sizes"]), cin=config["groups"])
    _run_conv_transpose(3, config, "cpu")


# ------------------------------------------------------------------------------- pooling

@st.composite
def pool_config(draw, nd):
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = (None if draw(st.booleans())
              else tuple(draw(st.integers(1, 3)) for _ in range(nd)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    sizes = tuple(draw(st.integers(1, 6)) for _ in range(nd))
    return dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, sizes=sizes,
                ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
                divisor=draw(st.sampled_from([None, None, 1, 3])),
                batched=draw(st.booleans()), indices=draw(st.booleans()))


def _pool_arg(nd, value):
    return value if nd > 1 or value is None else value[0]


def _run_pool(nd, kind, config, device):
    c = config
    stride = c["kernel"] if c["stride"] is None else c["stride"]
    dilation = c["dilation"] if kind == "max" else (1,) * nd
    outs = [pool_out(c["sizes"][i], c["kernel"][i], stride[i], c["padding"][i], dilation[i],
                     c["ceil_mode"]) for i in range(nd)]
    assume(all(o >= 1 for o in outs))
    arg = lambda v: _pool_arg(nd, v)  # noqa: E731
    if kind == "max":
        layer_class = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: tg.nn.MaxPool3d}[nd]
        layer = layer_class(arg(c["kernel"]), arg(c["stride"]), arg(c["padding"]),
                            arg(c["dilation"]), return_indices=c["indices"],
                            ceil_mode=c["ceil_mode"])
    elif nd == 1:
        layer = nn.AvgPool1d(c["kernel"][0], arg(c["stride"]), c["padding"][0], c["ceil_mode"],
                             c["count_include_pad"])
    else:
        layer = (nn.AvgPool2d if nd == 2 else tg.nn.AvgPool3d)(
            c["kernel"], c["stride"], c["padding"], c["ceil_mode"], c["count_include_pad"],
            c["divisor"])
    divisor = c["divisor"] if nd >= 2 else None
    rng = np.random.default_rng(len(str(config)))
    x = _unbatch(c["batched"], randn(rng, (2, 2) + c["sizes"]))

    def ref(inputs, params):
        xb = inputs["x"] if c["batched"] else inputs["x"][None]
        if kind == "max":
            y, _ = ref_max_pool(xb, c["kernel"], stride, c["padding"], dilation, c["ceil_mode"])
        else:
            y = ref_avg_pool(xb, c["kernel"], stride, c["padding"], c["ceil_mode"],
                             c["count_include_pad"], divisor)
        return _unbatch(c["batched"], y)

    def call(m, t):
        out = m(t["x"])
        if kind == "max" and c["indices"]:
            y, index = out
            xb = x if c["batched"] else x[None]
            _, expected = ref_max_pool(xb, c["kernel"], stride, c["padding"], dilation,
                                       c["ceil_mode"])
            np.testing.assert_array_equal(index.numpy(), _unbatch(c["batched"], expected))
            return y
        return out

    check_layer(layer, {"x": x}, call, ref, device)


@fuzz
@given(config=pool_config(1), kind=st.sampled_from(["max", "avg"]))
def test_pool1d_matches_reference(device, config, kind):
    _run_pool(1, kind, config, device)


@fuzz
@given(config=pool_config(2), kind=st.sampled_from(["max", "avg"]))
def test_pool2d_matches_reference(device, config, kind):
    _run_pool(2, kind, config, device)


@settings(fuzz, max_examples=max(1, EXAMPLES // 2))
@given(config=pool_config(3), kind=st.sampled_from(["max", "avg"]))
def test_pool3d_matches_reference(config, kind):
    config = dict(config, sizes=tuple(min(s, 3) for s in config["sizes"]))
    _run_pool(3, kind, config, "cpu")


@fuzz
@given(nd=st.integers(1, 2), kind=st.sampled_from(["avg", "max"]), data=st.data())
def test_adaptive_pool_matches_reference(device, nd, kind, data):
    sizes = tuple(data.draw(st.integers(1, 7)) for _ in range(nd))
    outs = tuple(data.draw(st.integers(1, 5)) for _ in range(nd))
    keep = data.draw(st.booleans()) and nd == 2       # (None, OW): keep H
    batched = data.draw(st.booleans())
    arg = (None, outs[1]) if keep else (outs if nd == 2 else outs[0])
    real_outs = (sizes[0], outs[1]) if keep else outs
    layer_class = {("avg", 1): nn.AdaptiveAvgPool1d, ("avg", 2): nn.AdaptiveAvgPool2d,
                   ("max", 1): tg.nn.AdaptiveMaxPool1d, ("max", 2): nn.AdaptiveMaxPool2d}
    indices = kind == "max" and nd == 2 and data.draw(st.booleans())
    layer_type = layer_class[kind, nd]
    layer = layer_type(arg, return_indices=True) if indices else layer_type(arg)
    x = _unbatch(batched, randn(np.random.default_rng(sum(sizes)), (2, 3) + sizes))

    def ref(inputs, params):
        xb = inputs["x"] if batched else inputs["x"][None]
        return _unbatch(batched, ref_adaptive(xb, real_outs, kind))

    def call(m, t):
        if not indices:
            return m(t["x"])
        y, index = m(t["x"])      # flat h·W + w of each bin's maximum
        xb = x if batched else x[None]
        bins = [adaptive_bins(xb.shape[2 + i], real_outs[i]) for i in range(2)]
        expected = np.zeros(xb.shape[:2] + tuple(real_outs), dtype=np.int64)
        for n, c, i, j in np.ndindex(expected.shape):
            (h0, h1), (w0, w1) = bins[0][i], bins[1][j]
            h, w = np.unravel_index(np.argmax(xb[n, c, h0:h1, w0:w1]), (h1 - h0, w1 - w0))
            expected[n, c, i, j] = (h0 + h) * xb.shape[3] + w0 + w
        np.testing.assert_array_equal(index.numpy(), _unbatch(batched, expected))
        return y

    check_layer(layer, {"x": x}, call, ref, device)


# ------------------------------------------------------------------------- normalisation

@fuzz
@given(data=st.data())
def test_batchnorm_forward_gradients_and_running_stats(device, data):
    """Several training steps: the output and gradients use the batch statistics; the
    running estimates follow r ← (1 − m)·r + m·stat with the unbiased variance (m =
    1/num_batches_tracked for momentum=None); then evaluation uses them."""
    spatial = data.draw(st.sampled_from([0, 1, 2, 3]))    # BatchNorm1d (N, C), (N, C, L), 2d, 3d
    channels = data.draw(st.integers(1, 3))
    batch = data.draw(st.integers(1, 3))
    sizes = tuple(data.draw(st.integers(1, 3)) for _ in range(spatial))
    assume(batch * math.prod(sizes) > 1)
    momentum = data.draw(st.sampled_from([0.1, 0.5, None, 1.0]))
    affine = data.draw(st.booleans())
    track = data.draw(st.booleans())
    eps = data.draw(st.sampled_from([1e-5, 0.1]))
    steps = data.draw(st.integers(1, 3))
    layer_class = {2: nn.BatchNorm2d, 3: tg.nn.BatchNorm3d}.get(spatial, nn.BatchNorm1d)
    layer = layer_class(channels, eps=eps, momentum=momentum, affine=affine,
                        track_running_stats=track, dtype=tg.float64)
    rng = np.random.default_rng(channels * 10 + batch)
    if affine:   # not the trivial γ = 1, β = 0
        with tg.no_grad():
            layer.weight.copy_(tg.tensor(rng.uniform(0.5, 1.5, channels)))
            layer.bias.copy_(tg.tensor(rng.standard_normal(channels)))
    axes = (0,) + tuple(range(2, 2 + spatial))
    running_mean, running_var = np.zeros(channels), np.ones(channels)

    def train_ref(inputs, params):
        x = inputs["x"]
        y = ref_normalize(x, axes, eps)
        if affine:
            y = y * params["weight"].reshape(channel_shape(x)) + params["bias"].reshape(
                channel_shape(x))
        return y

    for step in range(1, steps + 1):
        x = randn(rng, (batch, channels) + sizes) * 2 + 1
        layer.train()
        check_layer(layer, {"x": x}, lambda m, t: m(t["x"]), train_ref, device, seed=step)
        layer.zero_grad()
        if track:
            m = 1.0 / step if momentum is None else momentum
            count = x.size // channels
            mean = x.mean(axis=axes)
            var = x.var(axis=axes) * count / (count - 1)
            running_mean = (1 - m) * running_mean + m * mean
            running_var = (1 - m) * running_var + m * var
            np.testing.assert_allclose(layer.running_mean.numpy(), running_mean, rtol=1e-12)
            np.testing.assert_allclose(layer.running_var.numpy(), running_var, rtol=1e-12)
            assert int(layer.num_batches_tracked.item()) == step
        else:
            assert layer.running_mean is None and layer.num_batches_tracked is None
    layer.eval()
    x = randn(rng, (batch, channels) + sizes)

    def eval_ref(inputs, params):
        xin = inputs["x"]
        if track:
            shape = channel_shape(xin)
            y = (xin - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + eps)
        else:
            y = ref_normalize(xin, axes, eps)
        if affine:
            y = y * params["weight"].reshape(channel_shape(xin)) + params["bias"].reshape(
                channel_shape(xin))
        return y

    check_layer(layer, {"x": x}, lambda m, t: m(t["x"]), eval_ref, device, seed=99)
    if track:   # evaluation leaves the running statistics alone
        np.testing.assert_allclose(layer.running_mean.numpy(), running_mean, rtol=1e-12)
        assert int(layer.num_batches_tracked.item()) == steps


@fuzz
@given(data=st.data())
def test_layer_norm_matches_reference(device, data):
    dims = data.draw(st.integers(1, 3))
    normalized = tuple(data.draw(st.integers(1, 3)) for _ in range(dims))
    assume(math.prod(normalized) > 1 or data.draw(st.booleans()))
    lead = tuple(data.draw(st.integers(1, 2)) for _ in range(data.draw(st.integers(0, 2))))
    affine = data.draw(st.booleans())
    bias = data.draw(st.booleans())
    eps = data.draw(st.sampled_from([1e-5, 0.5]))
    layer = nn.LayerNorm(normalized if dims > 1 or data.draw(st.booleans()) else normalized[0],
                         eps=eps, elementwise_affine=affine, bias=bias, dtype=tg.float64)
    rng = np.random.default_rng(dims + len(lead))
    if affine:
        with tg.no_grad():
            layer.weight.copy_(tg.tensor(rng.uniform(0.5, 1.5, normalized)))
            if bias:
                layer.bias.copy_(tg.tensor(rng.standard_normal(normalized)))
    x = randn(rng, lead + normalized)

    def ref(inputs, params):
        y = ref_normalize(inputs["x"], tuple(range(len(lead), len(lead) + dims)), eps)
        if "weight" in params:
            y = y * params["weight"]
        if "bias" in params:
            y = y + params["bias"]
        return y

    check_layer(layer, {"x": x}, lambda m, t: m(t["x"]), ref, device)


@fuzz
@given(data=st.data())
def test_group_norm_matches_reference(device, data):
    groups = data.draw(st.integers(1, 3))
    channels = groups * data.draw(st.integers(1, 2))
    sizes = tuple(data.draw(st.integers(1, 3)) for _ in range(data.draw(st.integers(0, 2))))
    batch = data.draw(st.integers(1, 2))
    assume(batch * channels // groups * math.prod(sizes) > 1)  # else an error (below)
    affine = data.draw(st.booleans())
    eps = data.draw(st.sampled_from([1e-5, 0.5]))
    layer = nn.GroupNorm(groups, channels, eps=eps, affine=affine, dtype=tg.float64)
    rng = np.random.default_rng(channels + len(sizes))
    if affine:
        with tg.no_grad():
            layer.weight.copy_(tg.tensor(rng.uniform(0.5, 1.5, channels)))
            layer.bias.copy_(tg.tensor(rng.standard_normal(channels)))
    x = randn(rng, (batch, channels) + sizes)

    def ref(inputs, params):
        xin = inputs["x"]
        grouped = xin.reshape(batch, groups, -1)
        y = ref_normalize(grouped, (2,), eps).reshape(xin.shape)
        if affine:
            y = y * params["weight"].reshape(channel_shape(xin)) + params["bias"].reshape(
                channel_shape(xin))
        return y

    check_layer(layer, {"x": x}, lambda m, t: m(t["x"]), ref, device)


@fuzz
@given(data=st.data())
def test_instance_norm_matches_reference(device, data):
    spatial = data.draw(st.integers(1, 3))
    channels = data.draw(st.integers(1, 3))
    sizes = tuple(data.draw(st.integers(1, 3 if spatial < 3 else 2)) for _ in range(spatial))
    assume(math.prod(sizes) > 1)
    batch = data.draw(st.integers(1, 3))
    batched = data.draw(st.booleans())
    affine = data.draw(st.booleans())
    track = data.draw(st.booleans())
    momentum = data.draw(st.sampled_from([0.1, 0.7, None]))   # None: 0, PyTorch's rule
    eps = 1e-5
    layer_class = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: tg.nn.InstanceNorm3d}[spatial]
    layer = layer_class(channels, eps=eps, momentum=momentum, affine=affine,
                        track_running_stats=track, dtype=tg.float64)
    rng = np.random.default_rng(channels + 7 * batch)
    if affine:
        with tg.no_grad():
            layer.weight.copy_(tg.tensor(rng.uniform(0.5, 1.5, channels)))
            layer.bias.copy_(tg.tensor(rng.standard_normal(channels)))
    axes = tuple(range(2, 2 + spatial))
    x = randn(rng, (batch, channels) + sizes) * 3 - 1
    if not batched:
        x = x[:1]

    def ref(inputs, params):
        xin = inputs["x"] if batched else inputs["x"][None]
        y = ref_normalize(xin, axes, eps)
        if affine:
            y = y * params["weight"].reshape(channel_shape(xin)) + params["bias"].reshape(
                channel_shape(xin))
        return _unbatch(batched, y)

    xin = _unbatch(batched, x)
    check_layer(layer, {"x": xin}, lambda m, t: m(t["x"]), ref, device)
    if not track:
        return
    # Running statistics: the batch average of the per-instance mean and unbiased variance.
    count = math.prod(sizes)
    m = momentum or 0.0
    running_mean = m * x.mean(axis=axes).mean(0)
    running_var = (1 - m) + m * (x.var(axis=axes) * count / (count - 1)).mean(0)
    np.testing.assert_allclose(layer.running_mean.numpy(), running_mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.running_var.numpy(), running_var, rtol=1e-12)
    layer.eval()
    x2 = _unbatch(batched, randn(rng, (1 if not batched else batch, channels) + sizes))

    def eval_ref(inputs, params):
        xe = inputs["x"] if batched else inputs["x"][None]
        shape = channel_shape(xe)
        y = (xe - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + eps)
        if affine:
            y = y * params["weight"].reshape(shape) + params["bias"].reshape(shape)
        return _unbatch(batched, y)

    layer.zero_grad()
    check_layer(layer, {"x": x2}, lambda m, t: m(t["x"]), eval_ref, device, seed=5)


# ----------------------------------------------------------------------------- embedding

@fuzz
@given(data=st.data())
def test_embedding_matches_reference(device, data):
    """Lookup, padding_idx (no gradient, starts at 0), max_norm (looked-up rows with a
    norm above it are rescaled in place by max_norm / (norm + 1e-7) before the lookup)."""
    count = data.draw(st.integers(1, 6))
    dim = data.draw(st.integers(1, 4))
    padding_idx = data.draw(st.one_of(st.none(), st.integers(-count, count - 1)))
    max_norm = data.draw(st.sampled_from([None, 0.5, 1.0, 2.5]))
    norm_type = data.draw(st.sampled_from([1.0, 2.0, 3.0]))
    shape = tuple(data.draw(st.integers(0, 3)) for _ in range(data.draw(st.integers(0, 2))))
    rng = np.random.default_rng(count * 10 + dim)
    indices = rng.integers(0, count, size=shape)
    layer = nn.Embedding(count, dim, padding_idx=padding_idx, max_norm=max_norm,
                         norm_type=norm_type, dtype=tg.float64)
    weight = layer.weight.numpy().copy()
    if padding_idx is not None:
        assert np.all(weight[padding_idx % count] == 0)
        weight[padding_idx % count] = rng.standard_normal(dim)     # a row that is not 0
        with tg.no_grad():
            layer.weight.copy_(tg.tensor(weight))
    layer.to(device)
    y = layer(tg.tensor(indices, device=device))
    renormed = weight.copy()
    if max_norm is not None:
        for row in np.unique(indices):
            norm = np.sum(np.abs(weight[row]) ** norm_type) ** (1 / norm_type)
            if norm > max_norm:
                renormed[row] = weight[row] * (max_norm / (norm + 1e-7))
    np.testing.assert_allclose(y.numpy(), renormed[indices], rtol=1e-12)
    np.testing.assert_allclose(layer.weight.numpy(), renormed, rtol=1e-12)
    upstream = rng.standard_normal(indices.shape + (dim,))
    (y * tg.tensor(upstream, device=device)).sum().backward()
    expected = np.zeros_like(weight)
    for position in np.ndindex(indices.shape):
        if padding_idx is None or indices[position] != padding_idx % count:
            expected[indices[position]] += upstream[position]
    np.testing.assert_allclose(layer.weight.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- recurrent

def ref_rnn(mode, x, states, params, num_layers, bidirectional, nonlinearity, proj_size):
    """PyTorch's RNN/LSTM/GRU equations over (L, N, in); states (layers·D, N, H) each.
    Returns (output (L, N, D·H_out), final states)."""
    directions = 2 if bidirectional else 1
    length = x.shape[0]
    finals = [[] for _ in states]
    layer_input = x
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            sfx = f"_l{layer}" + ("_reverse" if direction else "")
            w_ih, w_hh = params["weight_ih" + sfx], params["weight_hh" + sfx]
            b_ih = params.get("bias_ih" + sfx, 0.0)
            b_hh = params.get("bias_hh" + sfx, 0.0)
            h = states[0][layer * directions + direction]
            c = states[1][layer * directions + direction] if mode == "LSTM" else None
            out = [None] * length
            for t in (range(length - 1, -1, -1) if direction else range(length)):
                xt = layer_input[t]
                gi = xt @ w_ih.T + b_ih
                gh = h @ w_hh.T + b_hh
                if mode == "RNN":
                    z = gi + gh
                    h = np.tanh(z) if nonlinearity == "tanh" else np.maximum(z, 0)
                elif mode == "GRU":
                    H = w_hh.shape[1]
                    r = sigmoid(gi[:, :H] + gh[:, :H])
                    u = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
                    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
                    h = (1 - u) * n + u * h
                else:
                    H = c.shape[1]
                    g = gi + gh
                    i, f = sigmoid(g[:, :H]), sigmoid(g[:, H:2 * H])
                    cand, o = np.tanh(g[:, 2 * H:3 * H]), sigmoid(g[:, 3 * H:])
                    c = f * c + i * cand
                    h = o * np.tanh(c)
                    if proj_size:
                        h = h @ params["weight_hr" + sfx].T
                out[t] = h
            outputs.append(np.stack(out))
            finals[0].append(h)
            if mode == "LSTM":
                finals[1].append(c)
        layer_input = np.concatenate(outputs, axis=-1)
    return layer_input, [np.stack(f) for f in finals]


@fuzz
@given(data=st.data())
def test_recurrent_layers_match_reference(device, data):
    mode = data.draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    input_size = data.draw(st.integers(1, 3))
    hidden = data.draw(st.integers(1, 3))
    num_layers = data.draw(st.integers(1, 2))
    bidirectional = data.draw(st.booleans())
    batch_first = data.draw(st.booleans())
    bias = data.draw(st.booleans())
    batched = data.draw(st.booleans())
    give_state = data.draw(st.booleans())
    nonlinearity = data.draw(st.sampled_from(["tanh", "relu"])) if mode == "RNN" else "tanh"
    proj_size = data.draw(st.integers(0, hidden - 1)) if mode == "LSTM" else 0
    length = data.draw(st.integers(1, 3))
    batch = data.draw(st.integers(1, 2)) if batched else 1
    kwargs = dict(num_layers=num_layers, bias=bias, batch_first=batch_first,
                  bidirectional=bidirectional, dtype=tg.float64)
    if mode == "RNN":
        kwargs["nonlinearity"] = nonlinearity
    if proj_size:
        kwargs["proj_size"] = proj_size
    tg.manual_seed(input_size * 100 + hidden * 10 + length)
    layer = getattr(nn, mode)(input_size, hidden, **kwargs)
    rng = np.random.default_rng(hidden * 7 + length)
    directions = 2 if bidirectional else 1
    x = randn(rng, (length, batch, input_size))          # reference layout (L, N, in)
    h_size = proj_size or hidden
    h0 = randn(rng, (num_layers * directions, batch, h_size)) * 0.5
    c0 = randn(rng, (num_layers * directions, batch, hidden)) * 0.5

    def to_layer(xs):                                     # (L, N, in) -> the layer's layout
        if not batched:
            return xs[:, 0]
        return xs.transpose(1, 0, 2) if batch_first else xs

    def state_layout(s):
        return s if batched else s[:, 0]

    inputs = {"x": to_layer(x)}
    if give_state:
        inputs["h0"] = state_layout(h0)
        if mode == "LSTM":
            inputs["c0"] = state_layout(c0)

    def call(m, t):
        if not give_state:
            return m(t["x"])
        if mode == "LSTM":
            return m(t["x"], (t["h0"], t["c0"]))
        return m(t["x"], t["h0"])

    def ref(arrays, params):
        xs = arrays["x"]
        if not batched:
            xs = xs[:, None]
        elif batch_first:
            xs = xs.transpose(1, 0, 2)
        if give_state:
            states = [arrays["h0"] if batched else arrays["h0"][:, None]]
            if mode == "LSTM":
                states.append(arrays["c0"] if batched else arrays["c0"][:, None])
        else:
            states = [np.zeros_like(h0), np.zeros_like(c0)][:2 if mode == "LSTM" else 1]
        out, finals = ref_rnn(mode, xs, states, params, num_layers, bidirectional,
                              nonlinearity, proj_size)
        if not batched:
            out, finals = out[:, 0], [f[:, 0] for f in finals]
        elif batch_first:
            out = out.transpose(1, 0, 2)
        return [out] + finals

    check_layer(layer, inputs, call, ref, device)


def test_group_norm_empty_batch_and_single_value(device):
    """An empty batch normalises to an empty output (it crashed in a reshape); one value
    per group in all (N·C/G·spatial = 1) is refused, as PyTorch's _verify_batch_size."""
    layer = nn.GroupNorm(3, 6).to(device)
    x = tg.zeros(0, 6, 2, 2, device=device, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 6, 2, 2)
    y.sum().backward()
    assert x.grad.shape == (0, 6, 2, 2)
    with pytest.raises(ValueError, match="more than 1 value"):
        nn.GroupNorm(2, 2).to(device)(tg.ones(1, 2, device=device))
    with pytest.raises(ValueError, match="more than 1 value"):
        tg.nn.functional.group_norm(tg.ones(1, 3, 1, 1, device=device), 3)
    y = nn.GroupNorm(2, 2).to(device)(tg.tensor([[1.0, 2.0], [3.0, 5.0]], device=device))
    np.testing.assert_array_equal(y.numpy(), np.zeros((2, 2)))   # (x − x)/√eps = 0


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_empty_sequence_is_refused(mode, batch_first):
    """L = 0 has no final state: a clear error, as PyTorch (it was "stack: expected a
    non-empty list"). An empty batch (N = 0) still runs."""
    layer = getattr(nn, mode)(2, 3, batch_first=batch_first)
    empty_time = (1, 0, 2) if batch_first else (0, 1, 2)
    with pytest.raises(ValueError, match="sequence length"):
        layer(tg.zeros(*empty_time))
    with pytest.raises(ValueError, match="sequence length"):
        layer(tg.zeros(0, 2))
    empty_batch = (0, 4, 2) if batch_first else (4, 0, 2)
    output = layer(tg.zeros(*empty_batch))[0]
    assert output.shape == ((0, 4, 3) if batch_first else (4, 0, 3))


@fuzz
@given(data=st.data())
def test_recurrent_cells_match_reference(device, data):
    """RNNCell (tanh/relu), LSTMCell, GRUCell: one step of the equations above, batched or
    unbatched, with or without a given state and bias."""
    mode = data.draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    input_size, hidden = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    bias, batched, give_state = (data.draw(st.booleans()) for _ in range(3))
    nonlinearity = data.draw(st.sampled_from(["tanh", "relu"])) if mode == "RNN" else "tanh"
    batch = data.draw(st.integers(1, 3)) if batched else 1
    kwargs = dict(bias=bias, dtype=tg.float64)
    if mode == "RNN":
        kwargs["nonlinearity"] = nonlinearity
    layer = getattr(nn, mode + "Cell")(input_size, hidden, **kwargs)
    rng = np.random.default_rng(input_size * 9 + hidden)
    x, h0, c0 = (randn(rng, (batch, n)) for n in (input_size, hidden, hidden))
    lay = (lambda a: a) if batched else (lambda a: a[0])
    inputs = {"x": lay(x)}
    if give_state:
        inputs["h0"] = lay(h0)
        if mode == "LSTM":
            inputs["c0"] = lay(c0)

    def call(m, t):
        if not give_state:
            return m(t["x"])
        return m(t["x"], (t["h0"], t["c0"])) if mode == "LSTM" else m(t["x"], t["h0"])

    def ref(arrays, params):
        one = (lambda a: a) if batched else (lambda a: a[None])
        renamed = {name + "_l0": value for name, value in params.items()}
        states = [one(arrays["h0"]) if give_state else np.zeros_like(h0)]
        if mode == "LSTM":
            states.append(one(arrays["c0"]) if give_state else np.zeros_like(c0))
        _, finals = ref_rnn(mode, one(arrays["x"])[None], [s[None] for s in states], renamed,
                            1, False, nonlinearity, 0)
        finals = [f[0] if batched else f[0, 0] for f in finals]
        return finals if mode == "LSTM" else finals[0]

    check_layer(layer, inputs, call, ref, device)
