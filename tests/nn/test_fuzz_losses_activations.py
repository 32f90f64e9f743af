"""Property-based fuzzing of every loss and activation that PyTorch also has.

Each test draws shapes, options and values with hypothesis (extremes included: logits
of +-1e4, probabilities exactly 0 and 1, inputs exactly on a kink) and compares

* the forward value with an independent NumPy reference written from PyTorch's
  documented formula (never from tinygrad_opt itself);
* the gradient, in float64, with central differences of our own forward where the
  function is smooth around the drawn point, and at a kink with the value PyTorch's
  backward gives there (the source is named next to each convention);
* finiteness: where PyTorch's value is finite, ours must be too.

The examples are fixed (derandomize=True). FUZZ_LOSSES_EXAMPLES=N runs N examples
per test instead of the small default, to hunt for bugs:

    FUZZ_LOSSES_EXAMPLES=2000 python -m pytest tests/nn/test_fuzz_losses_activations.py
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

EXAMPLES = int(os.environ.get("FUZZ_LOSSES_EXAMPLES", "0"))


def fuzz(default: int):
    """hypothesis settings: ``default`` examples (FUZZ_LOSSES_EXAMPLES overrides)."""
    return settings(max_examples=EXAMPLES or default, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_TANH_BETA = math.sqrt(2 / math.pi)
GELU_TANH_KAPPA = 0.044715


# ---------------------------------------------------------------- NumPy building blocks

def np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_softplus(z):
    """log(1 + e^z), exact for every z (np.logaddexp is stable)."""
    return np.logaddexp(0.0, z)


def np_log_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


_erf = np.vectorize(math.erf, otypes=[float])


def reduce_np(loss, reduction):
    if reduction == "mean":
        return np.mean(loss)
    if reduction == "sum":
        return np.sum(loss)
    return loss


# ---------------------------------------------------------------- tinygrad helpers

def tensor(array, dtype="float64", grad=True, device="cpu"):
    return tg.tensor(np.asarray(array, dtype=dtype), requires_grad=grad, device=device)


def host(t):
    return tg.backend.to_host(t.data) if isinstance(t, tg.Tensor) else np.asarray(t)


def value_and_grads(fn, arrays, cotangent_seed=0, device="cpu"):
    """fn(*tensors) in float64; the gradient of sum(out * c) for a fixed random c."""
    tensors = [tensor(a, device=device) for a in arrays]
    out = fn(*tensors)
    c = np.random.default_rng(cotangent_seed).uniform(0.5, 1.5, size=out.shape)
    (out * tg.tensor(c, device=device)).sum().backward()
    return host(out), [host(t.grad) if t.grad is not None else np.zeros(np.shape(a))
                       for t, a in zip(tensors, arrays)], c


def numeric_grads(fn, arrays, c, eps=1e-6):
    """Central differences of sum(fn(...) * c), in float64, through our forward only."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            def at(delta):
                shifted = [b.copy() for b in arrays]
                shifted[k][idx] += delta
                with tg.no_grad():
                    out = fn(*[tg.tensor(b) for b in shifted])
                return float(np.sum(host(out) * c))
            h = eps * max(1.0, abs(a[idx]))
            g[idx] = (at(h) - at(-h)) / (2 * h)
        grads.append(g)
    return grads


def check_grads(fn, arrays, rtol=1e-5, atol=1e-6, seed=0):
    """Autograd against central differences (float64, away from kinks)."""
    _, analytic, c = value_and_grads(fn, arrays, seed)
    numeric = numeric_grads(fn, arrays, c)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=rtol, atol=atol)


def close(actual, expected, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)


# ============================================================================ activations
#
# name: (functional call, Module factory, reference value, reference derivative, kinks,
#        parameter strategy). The derivative is PyTorch's backward formula, including its
#        value at each kink; the sources, all in aten/src/ATen/native/cpu/Activation.cpp
#        unless named otherwise:
#  relu (threshold_backward, x <= 0 -> 0), leaky_relu / prelu / rrelu(eval) (x > 0 ? 1 :
#  slope), elu / selu / celu (elu_backward, is_result=false: x <= 0 -> alpha*scale*
#  input_scale*exp(x*input_scale)), hardtanh / relu6 (x <= min || x >= max -> 0),
#  hardsigmoid (-3 < x < 3 ? 1/6 : 0), hardswish (x < -3 ? 0 : x <= 3 ? x/3 + 1/2 : 1,
#  PyTorch >= 2.7; tinygrad_opt documents 0 and 1 at the kinks, the outer pieces' slopes),
#  hardshrink / softshrink (-l <= x <= l -> 0), threshold (x <= th -> 0), softplus
#  (x*beta > threshold ? 1 : sigmoid(x*beta)).

def _act(fn, module, ref, dref, kinks, params):
    return dict(fn=fn, module=module, ref=ref, dref=dref, kinks=kinks, params=params)


def _gelu_tanh(x):
    inner = GELU_TANH_BETA * (x + GELU_TANH_KAPPA * x ** 3)
    return 0.5 * x * (1 + np.tanh(inner))


def _gelu_tanh_grad(x):
    inner = GELU_TANH_BETA * (x + GELU_TANH_KAPPA * x ** 3)
    t = np.tanh(inner)
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_TANH_BETA * (1 + 3 * GELU_TANH_KAPPA * x * x)


def _mish(x):
    return x * np.tanh(np_softplus(x))


def _mish_grad(x):
    t = np.tanh(np_softplus(x))
    return t + x * np_sigmoid(x) * (1 - t * t)


NO_PARAMS = st.just({})
SLOPE = st.fixed_dictionaries({"negative_slope": st.sampled_from([0.01, 0.2, 0.0, 1.5, -0.3])})
ALPHA = st.fixed_dictionaries({"alpha": st.sampled_from([1.0, 0.5, 2.0, 0.1])})
LAMBD = st.fixed_dictionaries({"lambd": st.sampled_from([0.5, 0.0, 1.25, 3.0])})

ACTIVATIONS = {
    "relu": _act(F.relu, lambda: nn.ReLU(), lambda x: np.maximum(x, 0),
                 lambda x: (x > 0) * 1.0, lambda p: [0.0], NO_PARAMS),
    "relu6": _act(F.relu6, lambda: nn.ReLU6(), lambda x: np.clip(x, 0, 6),
                  lambda x: ((x > 0) & (x < 6)) * 1.0, lambda p: [0.0, 6.0], NO_PARAMS),
    "leaky_relu": _act(lambda x, negative_slope: F.leaky_relu(x, negative_slope),
                       lambda negative_slope: nn.LeakyReLU(negative_slope),
                       lambda x, negative_slope: np.where(x > 0, x, x * negative_slope),
                       lambda x, negative_slope: np.where(x > 0, 1.0, negative_slope),
                       lambda p: [0.0], SLOPE),
    "rrelu_eval": _act(lambda x, lower, upper: F.rrelu(x, lower, upper, training=False),
                       lambda lower, upper: nn.RReLU(lower, upper).eval(),
                       lambda x, lower, upper: np.where(x > 0, x, x * (lower + upper) / 2),
                       lambda x, lower, upper: np.where(x > 0, 1.0, (lower + upper) / 2),
                       lambda p: [0.0],
                       st.fixed_dictionaries({"lower": st.sampled_from([0.125, 0.0, 0.3]),
                                              "upper": st.sampled_from([1 / 3, 0.5, 1.0])})),
    "elu": _act(lambda x, alpha: F.elu(x, alpha), lambda alpha: nn.ELU(alpha),
                lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
                lambda x, alpha: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))),
                lambda p: [0.0], ALPHA),
    "selu": _act(F.selu, lambda: nn.SELU(),
                 lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
                 lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))),
                 lambda p: [0.0], NO_PARAMS),
    "celu": _act(lambda x, alpha: F.celu(x, alpha), lambda alpha: nn.CELU(alpha),
                 lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)),
                 lambda x, alpha: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / alpha)),
                 lambda p: [0.0], ALPHA),
    "gelu": _act(lambda x: F.gelu(x), lambda: nn.GELU(),
                 lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
                 lambda x: 0.5 * (1 + _erf(x / math.sqrt(2)))
                 + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi),
                 lambda p: [], NO_PARAMS),
    "gelu_tanh": _act(lambda x: F.gelu(x, approximate="tanh"), lambda: nn.GELU("tanh"),
                      _gelu_tanh, _gelu_tanh_grad, lambda p: [], NO_PARAMS),
    "silu": _act(F.silu, lambda: nn.SiLU(), lambda x: x * np_sigmoid(x),
                 lambda x: np_sigmoid(x) * (1 + x * (1 - np_sigmoid(x))), lambda p: [], NO_PARAMS),
    "mish": _act(F.mish, lambda: nn.Mish(), _mish, _mish_grad, lambda p: [], NO_PARAMS),
    "softplus": _act(lambda x, beta, threshold: F.softplus(x, beta, threshold),
                     lambda beta, threshold: nn.Softplus(beta, threshold),
                     lambda x, beta, threshold: np.where(x * beta > threshold, x,
                                                         np_softplus(x * beta) / beta),
                     lambda x, beta, threshold: np.where(x * beta > threshold, 1.0,
                                                         np_sigmoid(x * beta)),
                     lambda p: [p["threshold"] / p["beta"]],
                     st.fixed_dictionaries({"beta": st.sampled_from([1.0, 2.0, 0.5, 10.0]),
                                            "threshold": st.sampled_from([20.0, 1.0, 0.0, 5.0])})),
    "softsign": _act(F.softsign, lambda: nn.Softsign(), lambda x: x / (1 + np.abs(x)),
                     lambda x: 1 / (1 + np.abs(x)) ** 2, lambda p: [], NO_PARAMS),
    "tanhshrink": _act(F.tanhshrink, lambda: nn.Tanhshrink(), lambda x: x - np.tanh(x),
                       lambda x: np.tanh(x) ** 2, lambda p: [], NO_PARAMS),
    "hardtanh": _act(lambda x, min_val, max_val: F.hardtanh(x, min_val, max_val),
                     lambda min_val, max_val: nn.Hardtanh(min_val, max_val),
                     lambda x, min_val, max_val: np.clip(x, min_val, max_val),
                     lambda x, min_val, max_val: ((x > min_val) & (x < max_val)) * 1.0,
                     lambda p: [p["min_val"], p["max_val"]],
                     st.fixed_dictionaries({"min_val": st.sampled_from([-1.0, -2.5, 0.0]),
                                            "max_val": st.sampled_from([1.0, 0.0, 4.0])})),
    "hardsigmoid": _act(F.hardsigmoid, lambda: nn.Hardsigmoid(),
                        lambda x: np.clip(x / 6 + 0.5, 0, 1),
                        lambda x: ((x > -3) & (x < 3)) / 6.0, lambda p: [-3.0, 3.0], NO_PARAMS),
    "hardswish": _act(F.hardswish, lambda: nn.Hardswish(),
                      lambda x: x * np.clip(x + 3, 0, 6) / 6,
                      lambda x: np.where(x <= -3, 0.0, np.where(x < 3, x / 3 + 0.5, 1.0)),
                      lambda p: [-3.0, 3.0], NO_PARAMS),
    "hardshrink": _act(lambda x, lambd: F.hardshrink(x, lambd), lambda lambd: nn.Hardshrink(lambd),
                       lambda x, lambd: np.where(np.abs(x) > lambd, x, 0.0),
                       lambda x, lambd: (np.abs(x) > lambd) * 1.0,
                       lambda p: [p["lambd"], -p["lambd"]], LAMBD),
    "softshrink": _act(lambda x, lambd: F.softshrink(x, lambd), lambda lambd: nn.Softshrink(lambd),
                       lambda x, lambd: np.where(x > lambd, x - lambd,
                                                 np.where(x < -lambd, x + lambd, 0.0)),
                       lambda x, lambd: (np.abs(x) > lambd) * 1.0,
                       lambda p: [p["lambd"], -p["lambd"]], LAMBD),
    "threshold": _act(lambda x, threshold, value: F.threshold(x, threshold, value),
                      lambda threshold, value: nn.Threshold(threshold, value),
                      lambda x, threshold, value: np.where(x > threshold, x, value),
                      lambda x, threshold, value: (x > threshold) * 1.0,
                      lambda p: [p["threshold"]],
                      st.fixed_dictionaries({"threshold": st.sampled_from([0.0, 0.5, -2.0]),
                                             "value": st.sampled_from([0.0, -7.0, 20.0])})),
    "logsigmoid": _act(F.logsigmoid, lambda: nn.LogSigmoid(), lambda x: -np_softplus(-x),
                       lambda x: np_sigmoid(-x), lambda p: [], NO_PARAMS),
    "sigmoid": _act(F.sigmoid, lambda: nn.Sigmoid(), np_sigmoid,
                    lambda x: np_sigmoid(x) * np_sigmoid(-x), lambda p: [], NO_PARAMS),
    "tanh": _act(F.tanh, lambda: nn.Tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2,
                 lambda p: [], NO_PARAMS),
}

SPECIAL_VALUES = [0.0, -0.0, 1e4, -1e4, 1.0, -1.0, 30.0, -30.0, 800.0, -800.0, 1e-300]


@st.composite
def activation_case(draw):
    name = draw(st.sampled_from(sorted(ACTIVATIONS)))
    spec = ACTIVATIONS[name]
    params = draw(spec["params"])
    kinks = spec["kinks"](params)
    element = st.one_of(st.floats(-40, 40, allow_nan=False),
                        st.sampled_from(SPECIAL_VALUES + kinks))
    values = draw(st.lists(element, min_size=1, max_size=12))
    shape = draw(st.sampled_from([(len(values),), (1, len(values))]))
    return name, params, np.array(values, dtype=np.float64).reshape(shape), kinks


@fuzz(60)
@given(activation_case(), st.sampled_from(["float64", "float32"]))
def test_activation_values_and_pytorch_gradients(case, dtype):
    """Forward against the formula; the gradient against PyTorch's backward formula,
    kinks included; both finite wherever PyTorch's are."""
    name, params, x, kinks = case
    spec = ACTIVATIONS[name]
    xt = tg.tensor(x.astype(dtype), requires_grad=True)
    out = spec["fn"](xt, **params)
    assert out.dtype == xt.dtype
    ref_x = x.astype(dtype).astype(np.float64)
    expected = spec["ref"](ref_x, **params)
    rtol, atol = (1e-9, 1e-12) if dtype == "float64" else (2e-5, 1e-6)
    close(host(out), expected, rtol, atol)
    out.backward(tg.ones_like(out))
    expected_grad = spec["dref"](ref_x, **params)
    assert np.all(np.isfinite(host(xt.grad))), (name, x, host(xt.grad))
    close(host(xt.grad), expected_grad, rtol, atol)
    # the Module form gives the same numbers
    module = spec["module"](**params)
    close(host(module(tg.tensor(x.astype(dtype)))), host(out), 0, 0)


@fuzz(30)
@given(activation_case(), st.integers(0, 2**16))
def test_activation_gradcheck_away_from_kinks(case, seed):
    """float64 autograd against central differences where the function is smooth."""
    name, params, x, kinks = case
    spec = ACTIVATIONS[name]
    x = np.where(np.abs(x) > 50, np.sign(x) * 7.3, x)           # stay where differences work
    for kink in kinks:                                          # at least 1e-3 from a kink
        x = np.where(np.abs(x - kink) < 1e-3, kink + 0.37, x)
    if name == "softplus":                                      # its kink is in x * beta
        z = x * params["beta"]
        x = np.where(np.abs(z - params["threshold"]) < 1e-3, x + 0.37, x)
    check_grads(lambda t: spec["fn"](t, **params), [x])


# ---- softmax family, glu, prelu

@st.composite
def logits(draw, min_dims=1, max_dims=3, extremes=True):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=min_dims, max_size=max_dims)))
    seed = draw(st.integers(0, 2**16))
    scale = draw(st.sampled_from([1.0, 10.0, 1e4] if extremes else [1.0, 3.0]))
    x = np.random.default_rng(seed).normal(size=shape) * scale
    if extremes and draw(st.booleans()):
        x.reshape(-1)[0] = draw(st.sampled_from([1e4, -1e4, 0.0]))
    return x


@fuzz(40)
@given(logits(), st.data())
def test_softmax_log_softmax_softmin_any_dim(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    ls = np_log_softmax(x, dim)
    for fn, module, expected in ((F.softmax, nn.Softmax, np.exp(ls)),
                                 (F.log_softmax, nn.LogSoftmax, ls),
                                 (F.softmin, nn.Softmin, np.exp(np_log_softmax(-x, dim)))):
        xt = tensor(x)
        out = fn(xt, dim=dim)
        close(host(out), expected, 1e-9, 1e-12)
        close(host(module(dim=dim)(tensor(x, grad=False))), expected, 1e-9, 1e-12)
        c = np.random.default_rng(1).normal(size=x.shape)
        (out * tg.tensor(c)).sum().backward()
        # PyTorch's backward formulas: softmax y(c - sum(c y)); log_softmax c - e^y sum(c)
        y = host(out)
        if fn is F.softmax:
            expected_grad = y * (c - np.sum(c * y, axis=dim, keepdims=True))
        elif fn is F.log_softmax:
            expected_grad = c - np.exp(y) * np.sum(c, axis=dim, keepdims=True)
        else:
            expected_grad = -y * (c - np.sum(c * y, axis=dim, keepdims=True))
        close(host(xt.grad), expected_grad, 1e-9, 1e-10)


@fuzz(20)
@given(logits(extremes=False), st.data())
def test_softmax_family_gradcheck(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    for fn in (F.softmax, F.log_softmax, F.softmin):
        check_grads(lambda t: fn(t, dim=dim), [x])


@fuzz(30)
@given(logits(extremes=True), st.data())
def test_glu_any_dim(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    x = np.concatenate([x, x[::-1] * 0.5], axis=dim)               # an even size along dim
    a, b = np.split(x, 2, axis=dim)
    xt = tensor(x)
    out = F.glu(xt, dim)
    close(host(out), a * np_sigmoid(b))
    close(host(nn.GLU(dim)(tensor(x, grad=False))), a * np_sigmoid(b))
    out.sum().backward()
    s = np_sigmoid(b)
    close(host(xt.grad), np.concatenate([s, a * s * np_sigmoid(-b)], axis=dim), 1e-9, 1e-12)


@fuzz(30)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(0, 2), st.booleans(), st.integers(0, 2**16))
def test_prelu_values_and_gradients(n, channels, spatial, shared, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, channels) + (2,) * spatial)
    x.reshape(-1)[0] = 0.0                                         # the kink: slope (x > 0 ? 1 : a)
    w = rng.uniform(-0.5, 1.5, size=1 if shared else channels)
    slope = w.reshape((1, -1) + (1,) * spatial)
    xt, wt = tensor(x), tensor(w)
    out = F.prelu(xt, wt)
    close(host(out), np.where(x > 0, x, slope * x))
    c = rng.uniform(0.5, 1.5, size=x.shape)
    (out * tg.tensor(c)).sum().backward()
    close(host(xt.grad), c * np.where(x > 0, 1.0, slope))
    wgrad = np.where(x > 0, 0.0, x) * c                              # dL/da = x where x <= 0
    axes = tuple(i for i in range(x.ndim) if shared or i != 1)
    close(host(wt.grad), wgrad.sum(axis=axes).reshape(-1))
    module = nn.PReLU(1 if shared else channels, init=0.1, dtype=tg.float64)
    module.weight.data[...] = w
    close(host(module(tensor(x, grad=False))), host(out), 0, 0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@fuzz(4)
@given(st.data())
def test_activation_nan_stays_nan(name, data):
    """A NaN input gives NaN (PyTorch's kernels: threshold ``x <= t ? v : x``, hardshrink
    ``-l <= x <= l ? 0 : x``, softshrink ``... : x * 0`` since pytorch/pytorch#138421);
    the other entries are untouched."""
    spec = ACTIVATIONS[name]
    params = data.draw(spec["params"])
    values = data.draw(st.lists(st.sampled_from(SPECIAL_VALUES + spec["kinks"](params)),
                                min_size=1, max_size=6))
    x = np.array([np.nan] + values)
    out = host(spec["fn"](tg.tensor(x), **params))
    assert np.isnan(out[0]), (name, params, out[0])
    close(out[1:], spec["ref"](x[1:], **params))


def test_tensor_hardshrink_method_keeps_nan():
    # ops/everyday.py's tg.hardshrink / Tensor.hardshrink mapped NaN to 0, as F.hardshrink did
    out = host(tg.hardshrink(tg.tensor([np.nan, 0.25, -2.0])))
    assert np.isnan(out[0]) and out[1] == 0.0 and out[2] == -2.0
    assert np.isnan(host(tg.tensor([np.nan]).hardshrink(0.5))[0])


# ================================================================================ losses

REDUCTION = st.sampled_from(["mean", "sum", "none"])


def rng_of(seed):
    return np.random.default_rng(seed)


# ---- class-index / probability cross-entropy and nll (aten/src/ATen/native/LossNLL.cpp)

def ref_nll(logp, target, weight, ignore_index, reduction):
    """PyTorch's nll_loss_nd: l = -w[y] logp[y], 0 where ignored; 'mean' divides by the
    sum of w[y] over the kept predictions. logp (N, C, d...), target (N, d...)."""
    C = logp.shape[1]
    w = np.ones(C) if weight is None else weight
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    losses = np.where(keep, -w[safe] * picked, 0.0)
    if reduction == "mean":
        with np.errstate(invalid="ignore"):                        # all ignored: nan
            return losses.sum() / np.where(keep, w[safe], 0.0).sum()
    return reduce_np(losses, reduction)


def ref_cross_entropy(x, target, weight, ignore_index, reduction, smoothing):
    """PyTorch's cross_entropy (LossNLL.cpp, cross_entropy_loss_label_smoothing and
    cross_entropy_loss_prob_target), for (N, C, d...) logits."""
    C = x.shape[1]
    logp = np_log_softmax(x, 1)
    w = np.ones(C) if weight is None else weight
    wshape = (1, C) + (1,) * (x.ndim - 2)
    if target.dtype.kind == "f":                                  # probabilities
        q = target * (1 - smoothing) + smoothing / C
        losses = -(logp * q * w.reshape(wshape)).sum(axis=1)
        return reduce_np(losses, reduction)
    nll = ref_nll(logp, target, weight, ignore_index, reduction)
    if smoothing == 0:
        return nll
    keep = target != ignore_index
    smooth = np.where(keep, -(logp * w.reshape(wshape)).sum(axis=1), 0.0)
    if reduction == "mean":
        safe = np.where(keep, target, 0)
        with np.errstate(invalid="ignore"):
            smooth = smooth.sum() / np.where(keep, w[safe], 0.0).sum()
    else:
        smooth = reduce_np(smooth, reduction)
    return (1 - smoothing) * nll + smooth * (smoothing / C)


@st.composite
def class_problem(draw, probability_targets=None):
    """(logits, target, weight, ignore_index, unbatched) for cross_entropy / nll_loss."""
    seed = draw(st.integers(0, 2**16))
    rng = rng_of(seed)
    unbatched = draw(st.booleans()) and draw(st.booleans())
    C = draw(st.integers(1, 5))
    spatial = () if unbatched else tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    N = draw(st.integers(1, 4))
    shape = (C,) if unbatched else (N, C) + spatial
    scale = draw(st.sampled_from([1.0, 5.0, 1e4]))
    x = rng.normal(size=shape) * scale
    if draw(st.booleans()):                                        # exact extreme logits
        x.reshape(-1)[rng.integers(x.size)] = draw(st.sampled_from([1e4, -1e4]))
    probabilities = draw(st.booleans()) if probability_targets is None else probability_targets
    tshape = () if unbatched else (N,) + spatial
    ignore_index = draw(st.sampled_from([-100, 0, C - 1, 7]))
    if probabilities:
        ignore_index = -100  # (PyTorch refuses ignore_index >= 0 with probability targets)
        raw = rng.uniform(size=shape) * (rng.uniform(size=shape) < 0.7)   # exact zeros too
        axis = 0 if unbatched else 1
        target = raw / np.maximum(raw.sum(axis=axis, keepdims=True), 1e-300)
    else:
        target = rng.integers(0, C, size=tshape)
        if draw(st.booleans()):
            target = np.where(rng.uniform(size=tshape) < 0.3, ignore_index, target)
    weight = rng.uniform(0.1, 2.0, size=C) if draw(st.booleans()) else None
    return x, np.asarray(target), weight, ignore_index, unbatched


def batched(x, target, unbatched):
    if not unbatched:
        return x, target
    return x[None], target[None]


@fuzz(80)
@given(class_problem(), REDUCTION, st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]), st.booleans())
def test_cross_entropy_matches_pytorchs_formula(problem, reduction, smoothing, as_module):
    x, target, weight, ignore_index, unbatched = problem
    bx, bt = batched(x, target, unbatched)
    expected = ref_cross_entropy(bx, bt, weight, ignore_index, reduction, smoothing)
    if unbatched and reduction == "none":
        expected = expected.reshape(())
    xt = tensor(x)
    kwargs = dict(weight=None if weight is None else tg.tensor(weight),
                  ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    if as_module:
        out = nn.CrossEntropyLoss(**kwargs)(xt, tg.tensor(target))
    else:
        out = F.cross_entropy(xt, tg.tensor(target), **kwargs)
    got = host(out)
    assert got.shape == np.shape(expected)
    close(got, expected, 1e-8, 1e-9)
    # finite wherever PyTorch's value is finite (logits of +-1e4 included)
    if np.all(np.isfinite(expected)):
        (out * 1.0).sum().backward()
        assert np.all(np.isfinite(host(xt.grad)))


@fuzz(25)
@given(class_problem(), REDUCTION, st.sampled_from([0.0, 0.2]))
def test_cross_entropy_gradcheck(problem, reduction, smoothing):
    x, target, weight, ignore_index, unbatched = problem
    x = np.clip(x, -8, 8)                                          # differences need O(1) logits
    bx, bt = batched(x, target, unbatched)
    if not np.all(np.isfinite(ref_cross_entropy(bx, bt, weight, ignore_index, "sum", 0))):
        return                                                     # all ignored under 'mean'
    if reduction == "mean" and target.dtype.kind != "f" and np.all(bt == ignore_index):
        return
    w = None if weight is None else tg.tensor(weight)
    check_grads(lambda t: F.cross_entropy(t, tg.tensor(target), weight=w,
                                          ignore_index=ignore_index, reduction=reduction,
                                          label_smoothing=smoothing), [x])


@fuzz(60)
@given(class_problem(probability_targets=False), REDUCTION, st.booleans())
def test_nll_loss_matches_pytorchs_formula(problem, reduction, as_module):
    x, target, weight, ignore_index, unbatched = problem
    logp = np_log_softmax(x, 0 if unbatched else 1)
    blogp, bt = batched(logp, target, unbatched)
    expected = ref_nll(blogp, bt, weight, ignore_index, reduction)
    if unbatched and reduction == "none":
        expected = expected.reshape(())
    xt = tensor(logp)
    kwargs = dict(weight=None if weight is None else tg.tensor(weight),
                  ignore_index=ignore_index, reduction=reduction)
    fn = nn.NLLLoss(**kwargs) if as_module else (lambda a, b: F.nll_loss(a, b, **kwargs))
    out = fn(xt, tg.tensor(target))
    close(host(out), expected, 1e-9, 1e-10)
    # d/dlogp: -w[y] (times the 'mean' normaliser) at the target class, 0 elsewhere
    c = np.random.default_rng(0).uniform(0.5, 1.5, size=out.shape)
    (out * tg.tensor(c)).sum().backward()
    bx = blogp.shape
    C = bx[1]
    w = np.ones(C) if weight is None else weight
    keep = bt != ignore_index
    safe = np.where(keep, bt, 0)
    per = np.where(keep, -w[safe], 0.0) * np.broadcast_to(c, bt.shape)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            per = per / np.where(keep, w[safe], 0.0).sum()
    expected_grad = np.zeros(bx)
    np.put_along_axis(expected_grad, safe[:, None], per[:, None], axis=1)
    if np.all(np.isfinite(expected_grad)):
        close(host(xt.grad).reshape(bx), expected_grad, 1e-9, 1e-12)


# ---- binary cross-entropy (LossBCE... aten/src/ATen/native/Loss.cpp)

def broadcastable_shape(draw, shape):
    """A shape that broadcasts to ``shape`` without changing it."""
    choice = draw(st.sampled_from(["same", "last", "ones", "scalar"]))
    if choice == "same":
        return shape
    if choice == "last":
        return shape[-1:]
    if choice == "scalar":
        return ()
    return tuple(1 if draw(st.booleans()) else s for s in shape)


@st.composite
def binary_problem(draw):
    rng = rng_of(draw(st.integers(0, 2**16)))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    y = rng.uniform(size=shape)
    y = np.where(rng.uniform(size=shape) < 0.5, np.round(y), y)    # exact 0 / 1 labels too
    weight = rng.uniform(0.1, 2, size=broadcastable_shape(draw, shape)) if draw(st.booleans()) else None
    pos_weight = (rng.uniform(0.1, 3, size=broadcastable_shape(draw, shape))
                  if draw(st.booleans()) else None)
    return rng, shape, y, weight, pos_weight


@fuzz(60)
@given(binary_problem(), REDUCTION, st.sampled_from([1.0, 10.0, 1e4]), st.booleans())
def test_bce_with_logits_matches_pytorch(problem, reduction, scale, as_module):
    """l = -w [pw y log σ(x) + (1 - y) log(1 - σ(x))]; dl/dx = w [σ(x)(1 + (pw - 1) y) - pw y]
    (PyTorch's binary_cross_entropy_with_logits_backward); finite for logits of +-1e4."""
    rng, shape, y, weight, pos_weight = problem
    x = rng.normal(size=shape) * scale
    x.reshape(-1)[0] = rng.choice([0.0, 1e4, -1e4])
    w = 1.0 if weight is None else weight
    pw = 1.0 if pos_weight is None else pos_weight
    log_sig, log_one_minus = -np.logaddexp(0, -x), -np.logaddexp(0, x)
    expected = reduce_np(-w * (pw * y * log_sig + (1 - y) * log_one_minus), reduction)
    xt = tensor(x)
    kwargs = dict(weight=None if weight is None else tg.tensor(weight), reduction=reduction,
                  pos_weight=None if pos_weight is None else tg.tensor(pos_weight))
    fn = (nn.BCEWithLogitsLoss(**kwargs) if as_module
          else lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kwargs))
    out = fn(xt, tg.tensor(y))
    close(host(out), expected, 1e-9, 1e-9)
    out.backward(tg.ones_like(out))
    expected_grad = np.broadcast_to(w * (np_sigmoid(x) * (1 + (pw - 1) * y) - pw * y), shape)
    if reduction == "mean":
        expected_grad = expected_grad / x.size
    close(host(xt.grad), expected_grad, 1e-9, 1e-12)


@fuzz(60)
@given(binary_problem(), REDUCTION, st.booleans())
def test_bce_matches_pytorch_clamped_logs(problem, reduction, as_module):
    """l = -w [y max(log p, -100) + (1 - y) max(log(1 - p), -100)], probabilities exactly 0
    and 1 included; dl/dp = w (p - y) / (p (1 - p)) where p (1 - p) >= 1e-12 (PyTorch's
    binary_cross_entropy_backward, EPSILON = 1e-12). At exactly 0 or 1 docs/deviations.md:
    the clamped term gives 0, the other its exact derivative."""
    rng, shape, y, weight, _ = problem
    p = rng.uniform(size=shape)
    p = np.where(rng.uniform(size=shape) < 0.3, np.round(p), p)    # exact 0 / 1
    w = 1.0 if weight is None else weight
    with np.errstate(divide="ignore"):
        lp, l1p = np.maximum(np.log(p), -100), np.maximum(np.log1p(-p), -100)
    expected = reduce_np(-w * (y * lp + (1 - y) * l1p), reduction)
    pt = tensor(p)
    kwargs = dict(weight=None if weight is None else tg.tensor(weight), reduction=reduction)
    fn = nn.BCELoss(**kwargs) if as_module else lambda a, b: F.binary_cross_entropy(a, b, **kwargs)
    out = fn(pt, tg.tensor(y))
    close(host(out), expected, 1e-9, 1e-9)
    out.backward(tg.ones_like(out))
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (p - y) / (p * (1 - p))
    at_zero = (1 - y)                         # p = 0: only -(1 - y) log(1 - p) has a slope
    at_one = -y                               # p = 1: only -y log p
    expected_grad = np.broadcast_to(w * np.where(p == 0, at_zero, np.where(p == 1, at_one, inner)),
                                    shape)
    if reduction == "mean":
        expected_grad = expected_grad / p.size
    close(host(pt.grad), expected_grad, 1e-9, 1e-12)


# ---- regression losses (aten/src/ATen/native/Loss.cpp, PointwiseOps)

@st.composite
def regression_problem(draw):
    rng = rng_of(draw(st.integers(0, 2**16)))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    # multiples of 1/4 hit the kinks |x - y| = 0, beta, delta exactly
    grid = draw(st.booleans())
    x = rng.integers(-8, 9, size=shape) / 4 if grid else rng.normal(size=shape) * 3
    y = rng.integers(-8, 9, size=shape) / 4 if grid else rng.normal(size=shape) * 3
    return np.asarray(x, float), np.asarray(y, float), grid


def ref_regression(name, d, beta):
    """(loss, dloss/dx) per element, PyTorch's forward and backward formulas."""
    a = np.abs(d)
    if name == "mse":
        return d * d, 2 * d
    if name == "l1" or (name == "smooth_l1" and beta == 0):
        return a, np.sign(d)
    if name == "smooth_l1":                   # smooth_l1_backward: x <= -b ? -1 : x >= b ? 1 : x/b
        return (np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta),
                np.where(d <= -beta, -1.0, np.where(d >= beta, 1.0, d / beta)))
    # huber_backward: x <= -delta ? -delta : x >= delta ? delta : x
    return (np.where(a < beta, 0.5 * d * d, beta * (a - 0.5 * beta)),
            np.where(d <= -beta, -beta, np.where(d >= beta, beta, d)))


@fuzz(80)
@given(regression_problem(), st.sampled_from(["mse", "l1", "smooth_l1", "huber"]), REDUCTION,
       st.sampled_from([1.0, 0.5, 0.0, 2.0, 0.25]), st.booleans())
def test_regression_losses_values_and_gradients_at_kinks(problem, name, reduction, beta, as_module):
    x, y, grid = problem
    if name == "huber" and beta == 0:
        beta = 1.5                                                 # delta must be > 0
    loss, grad = ref_regression(name, x - y, beta)
    expected = reduce_np(loss, reduction)
    modules = {"mse": lambda: nn.MSELoss(reduction=reduction),
               "l1": lambda: nn.L1Loss(reduction=reduction),
               "smooth_l1": lambda: nn.SmoothL1Loss(reduction=reduction, beta=beta),
               "huber": lambda: nn.HuberLoss(reduction=reduction, delta=beta)}
    functions = {"mse": lambda a, b: F.mse_loss(a, b, reduction=reduction),
                 "l1": lambda a, b: F.l1_loss(a, b, reduction=reduction),
                 "smooth_l1": lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                 "huber": lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=beta)}
    fn = modules[name]() if as_module else functions[name]
    xt, yt = tensor(x), tensor(y)
    out = fn(xt, yt)
    close(host(out), expected)
    out.backward(tg.ones_like(out))
    scale = 1 / max(x.size, 1) if reduction == "mean" else 1.0
    close(host(xt.grad), grad * scale)
    close(host(yt.grad), -grad * scale)


# ---- kl_div, poisson_nll_loss, gaussian_nll_loss

@fuzz(50)
@given(st.integers(0, 2**16), st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.sampled_from(["mean", "sum", "none", "batchmean"]), st.booleans(), st.booleans())
def test_kl_div(seed, shape, reduction, log_target, as_module):
    """l = t (log t - x) (0 where t = 0), or e^t (t - x) with log_target; dl/dx = -t or -e^t;
    dl/dt = log t + 1 - x where t > 0, (t - x + 1) e^t with log_target."""
    rng = rng_of(seed)
    x = np_log_softmax(rng.normal(size=shape) * 3, -1)
    t = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    t = np.where(rng.uniform(size=shape) < 0.2, 0.0, t)
    if log_target:
        t = np.log(t + 1e-3)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.exp(t) * (t - x) if log_target else np.where(t > 0, t * (np.log(t) - x), 0.0)
    expected = loss.sum() / shape[0] if reduction == "batchmean" else reduce_np(loss, reduction)
    xt, tt = tensor(x), tensor(t)
    fn = (nn.KLDivLoss(reduction=reduction, log_target=log_target) if as_module
          else lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target))
    out = fn(xt, tt)
    close(host(out), expected)
    out.backward(tg.ones_like(out))
    scale = {"mean": 1 / x.size, "batchmean": 1 / shape[0]}.get(reduction, 1.0)
    gx = -np.exp(t) if log_target else -t
    close(host(xt.grad), gx * scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        gt = np.exp(t) * (t - x + 1) if log_target else np.where(t > 0, np.log(t) + 1 - x, 0.0)
    positive = np.ones(shape, bool) if log_target else t > 0
    close(host(tt.grad)[positive], (gt * scale)[positive])


@fuzz(60)
@given(st.integers(0, 2**16), st.lists(st.integers(1, 4), max_size=3), st.booleans(),
       st.booleans(), st.sampled_from([1e-8, 1e-3, 0.5]), REDUCTION, st.booleans())
def test_poisson_nll_loss(seed, shape, log_input, full, eps, reduction, as_module):
    """l = e^x - y x (log_input) or x - y log(x + eps), + Stirling's y log y - y +
    0.5 log(2π y) where y > 1 with full (torch.nn.functional.poisson_nll_loss)."""
    rng = rng_of(seed)
    shape = tuple(shape)
    x = rng.normal(size=shape) * 2 if log_input else rng.uniform(0, 5, size=shape)
    if not log_input:
        x = np.where(rng.uniform(size=shape) < 0.2, 0.0, x)           # a rate of exactly 0
    y = rng.integers(0, 6, size=shape).astype(float)                  # counts: 0 and 1 included
    loss = np.exp(x) - y * x if log_input else x - y * np.log(x + eps)
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = y * np.log(y) - y + 0.5 * np.log(2 * np.pi * y)
        loss = loss + np.where(y > 1, stirling, 0.0)
    expected = reduce_np(loss, reduction)
    xt = tensor(x)
    fn = (nn.PoissonNLLLoss(log_input=log_input, full=full, eps=eps, reduction=reduction)
          if as_module else lambda a, b: F.poisson_nll_loss(a, b, log_input=log_input, full=full,
                                                            eps=eps, reduction=reduction))
    out = fn(xt, tg.tensor(y))
    close(host(out), expected, 1e-9, 1e-9)
    out.backward(tg.ones_like(out))
    grad = np.exp(x) - y if log_input else 1 - y / (x + eps)
    scale = 1 / max(x.size, 1) if reduction == "mean" else 1.0
    close(host(xt.grad), grad * scale, 1e-9, 1e-9)


@fuzz(60)
@given(st.integers(0, 2**16), st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.sampled_from(["same", "drop_last", "last_one", "number"]),
       st.booleans(), st.sampled_from([1e-6, 0.1]), REDUCTION, st.booleans())
def test_gaussian_nll_loss(seed, shape, var_form, full, eps, reduction, as_module):
    """l = 0.5 (log max(v, eps) + (x - y)^2 / max(v, eps)) (+ 0.5 log 2π); the clamp has no
    gradient of its own (torch.nn.functional.gaussian_nll_loss clamps under no_grad)."""
    rng = rng_of(seed)
    shape = tuple(shape)
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    vshape = {"same": shape, "drop_last": shape[:-1], "last_one": shape[:-1] + (1,),
              "number": None}[var_form]
    if var_form == "number":
        var = float(rng.choice([0.0, 1e-9, 0.7]))
        v = np.full(shape, var)
    else:
        v = rng.uniform(0, 2, size=vshape)
        v = np.where(rng.uniform(size=vshape) < 0.3, rng.choice([0.0, 1e-9]), v)  # below eps
        var = v
        if var_form == "drop_last":
            v = v[..., None]
        v = np.broadcast_to(v, shape)
    vc = np.maximum(v, eps)
    loss = 0.5 * (np.log(vc) + (x - y) ** 2 / vc) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    expected = reduce_np(loss, reduction)
    xt = tensor(x)
    vt = var if var_form == "number" else tensor(var)
    fn = (nn.GaussianNLLLoss(full=full, eps=eps, reduction=reduction) if as_module
          else lambda a, b, c: F.gaussian_nll_loss(a, b, c, full=full, eps=eps,
                                                    reduction=reduction))
    out = fn(xt, tg.tensor(y), vt)
    close(host(out), expected)
    out.backward(tg.ones_like(out))
    scale = 1 / x.size if reduction == "mean" else 1.0
    close(host(xt.grad), (x - y) / vc * scale)
    if var_form != "number":
        gv = 0.5 * (1 / vc - (x - y) ** 2 / vc ** 2) * scale
        summed = gv.sum(axis=-1, keepdims=True) if var_form != "same" else gv
        close(host(vt.grad), summed.reshape(np.shape(var)))


# ---- margin losses. Values on a grid of quarters, so the margins are hit exactly; at
# a hit, PyTorch's clamp_min passes the gradient (clamp_min backward: grad * (x >= min)),
# while multi_margin / multilabel_margin count a term only where z > 0 (their kernels in
# aten/src/ATen/native/LossMultiMargin.cpp, LossMultiLabelMargin.cpp).

def quarters(rng, shape, low=-8, high=8):
    return rng.integers(low, high + 1, size=shape) / 4.0


@fuzz(60)
@given(st.integers(0, 2**16), st.lists(st.integers(1, 4), max_size=2),
       st.sampled_from([0.0, 0.5, 1.0, -0.25]), REDUCTION, st.booleans())
def test_margin_ranking_loss(seed, shape, margin, reduction, as_module):
    rng = rng_of(seed)
    shape = tuple(shape)
    x1, x2 = quarters(rng, shape), quarters(rng, shape)
    y = rng.choice([-1.0, 1.0], size=shape)
    z = -y * (x1 - x2) + margin
    expected = reduce_np(np.maximum(z, 0), reduction)
    a, b = tensor(x1), tensor(x2)
    fn = (nn.MarginRankingLoss(margin, reduction=reduction) if as_module
          else lambda p, q, t: F.margin_ranking_loss(p, q, t, margin, reduction=reduction))
    out = fn(a, b, tg.tensor(y))
    close(host(out), expected)
    out.backward(tg.ones_like(out))
    scale = 1 / max(x1.size, 1) if reduction == "mean" else 1.0
    close(host(a.grad), -y * (z >= 0) * scale)
    close(host(b.grad), y * (z >= 0) * scale)


@fuzz(60)
@given(st.integers(0, 2**16), st.lists(st.integers(1, 4), max_size=3),
       st.sampled_from([1.0, 0.5, 0.0, 2.0]), REDUCTION, st.booleans())
def test_hinge_embedding_loss(seed, shape, margin, reduction, as_module):
    rng = rng_of(seed)
    shape = tuple(shape)
    x = quarters(rng, shape, -4, 12)
    y = rng.choice([-1.0, 1.0], size=shape)
    expected = reduce_np(np.where(y == 1, x, np.maximum(margin - x, 0)), reduction)
    xt = tensor(x)
    fn = (nn.HingeEmbeddingLoss(margin, reduction=reduction) if as_module
          else lambda p, t: F.hinge_embedding_loss(p, t, margin, reduction=reduction))
    out = fn(xt, tg.tensor(y))
    close(host(out), expected)
    out.backward(tg.ones_like(out))
    scale = 1 / max(x.size, 1) if reduction == "mean" else 1.0
    close(host(xt.grad), np.where(y == 1, 1.0, -1.0 * (margin - x >= 0)) * scale)


@fuzz(50)
@given(st.integers(0, 2**16), st.lists(st.integers(1, 4), min_size=1, max_size=2),
       st.sampled_from([1.0, 10.0, 1e4]), REDUCTION, st.booleans(), st.booleans())
def test_soft_margin_and_multilabel_soft_margin(seed, shape, scale, reduction, weighted, as_module):
    """soft_margin: log(1 + e^(-y x)), gradient -y σ(-y x) (finite at +-1e4, where PyTorch's
    log1p(exp(.)) overflows to inf); multilabel_soft_margin: the mean over the last dim of
    -w [y log σ(x) + (1 - y) log σ(-x)]."""
    rng = rng_of(seed)
    shape = tuple(shape)
    x = rng.normal(size=shape) * scale
    x.reshape(-1)[0] = rng.choice([1e4, -1e4, 0.0])
    y = rng.choice([-1.0, 1.0], size=shape)
    xt = tensor(x)
    fn = (nn.SoftMarginLoss(reduction=reduction) if as_module
          else lambda p, t: F.soft_margin_loss(p, t, reduction=reduction))
    out = fn(xt, tg.tensor(y))
    close(host(out), reduce_np(np.logaddexp(0, -y * x), reduction))
    out.backward(tg.ones_like(out))
    norm = 1 / x.size if reduction == "mean" else 1.0
    close(host(xt.grad), -y * np_sigmoid(-y * x) * norm)

    labels = (y > 0).astype(float)
    w = rng.uniform(0.2, 2, size=shape[-1:]) if weighted else None
    xt = tensor(x)
    fn = (nn.MultiLabelSoftMarginLoss(weight=None if w is None else tg.tensor(w),
                                      reduction=reduction) if as_module
          else lambda p, t: F.multilabel_soft_margin_loss(
              p, t, weight=None if w is None else tg.tensor(w), reduction=reduction))
    out = fn(xt, tg.tensor(labels))
    ww = 1.0 if w is None else w
    per = -ww * (labels * -np.logaddexp(0, -x) + (1 - labels) * -np.logaddexp(0, x))
    close(host(out), reduce_np(per.mean(axis=-1), reduction))
    out.backward(tg.ones_like(out))
    rows = per.mean(axis=-1).size
    norm = 1 / rows if reduction == "mean" else 1.0
    close(host(xt.grad), ww * (np_sigmoid(x) - labels) / shape[-1] * norm)


@fuzz(60)
@given(st.integers(0, 2**16), st.integers(1, 4), st.integers(1, 5), st.sampled_from([1, 2]),
       st.sampled_from([1.0, 0.5, 0.0, 2.0]), st.booleans(), REDUCTION, st.booleans(),
       st.booleans())
def test_multi_margin_loss(seed, n, c, p, margin, weighted, reduction, unbatched, as_module):
    """l_n = sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C; a term counts where z > 0."""
    rng = rng_of(seed)
    x = quarters(rng, (n, c))
    y = rng.integers(0, c, size=n)
    w = rng.uniform(0.2, 2, size=c) if weighted else None
    if unbatched:
        x, y = x[:1], y[:1]
    z = margin - x[np.arange(len(y)), y][:, None] + x
    others = np.arange(c)[None, :] != y[:, None]
    wy = np.ones(len(y)) if w is None else w[y]
    h = np.where(others & (z > 0), z ** p, 0.0)
    losses = wy * h.sum(axis=1) / c
    expected = reduce_np(losses, reduction)
    dz = np.where(others & (z > 0), p * z ** (p - 1), 0.0) * wy[:, None] / c
    gx = dz.copy()
    gx[np.arange(len(y)), y] -= dz.sum(axis=1)
    if reduction == "mean":
        gx = gx / len(y)
    xin, yin = (x[0], y[0]) if unbatched else (x, y)
    if unbatched and reduction == "none":
        expected = expected.reshape(())
    xt = tensor(xin)
    kwargs = dict(p=p, margin=margin, weight=None if w is None else tg.tensor(w),
                  reduction=reduction)
    fn = nn.MultiMarginLoss(**kwargs) if as_module else lambda a, b: F.multi_margin_loss(a, b, **kwargs)
    out = fn(xt, tg.tensor(np.asarray(yin)))
    assert host(out).shape == np.shape(expected)
    close(host(out), expected)
    out.backward(tg.ones_like(out))
    close(host(xt.grad), gx.reshape(np.shape(xin)))


@fuzz(60)
@given(st.integers(0, 2**16), st.integers(1, 3), st.integers(1, 5), REDUCTION, st.booleans())
def test_multilabel_margin_loss(seed, n, c, reduction, unbatched):
    """l_n = sum_j sum_{i not a target} max(0, 1 - (x[y_j] - x[i])) / C, targets listed before
    the first -1 (a repeated target counts twice, as the kernel loops over j)."""
    rng = rng_of(seed)
    x = quarters(rng, (n, c), -6, 6)
    target = np.full((n, c), -1)
    for row in range(n):
        k = rng.integers(0, c + 1)
        target[row, :k] = rng.integers(0, c, size=k)                  # repeats allowed
        target[row, k:] = rng.integers(-3, c, size=c - k) if k < c else target[row, k:]
        if k < c:
            target[row, k] = -1
    losses, gx = np.zeros(n), np.zeros((n, c))
    for row in range(n):
        listed = []
        for value in target[row]:
            if value < 0:
                break
            listed.append(value)
        is_target = np.isin(np.arange(c), listed)
        for j in listed:
            for i in range(c):
                if is_target[i]:
                    continue
                z = 1 - (x[row, j] - x[row, i])
                if z > 0:
                    losses[row] += z / c
                    gx[row, i] += 1 / c
                    gx[row, j] -= 1 / c
    expected = reduce_np(losses, reduction)
    if reduction == "mean":
        gx = gx / n
    if unbatched:
        x, target, gx = x[0], target[0], gx[0]
        expected = reduce_np(losses[:1], reduction).reshape(()) if reduction == "none" else \
            reduce_np(losses[:1], reduction)
        gx = gx * (n if reduction == "mean" else 1)
    xt = tensor(x)
    out = F.multilabel_margin_loss(xt, tg.tensor(target), reduction=reduction)
    close(host(out), expected)
    out.backward(tg.ones_like(out))
    close(host(xt.grad), gx)
    close(host(nn.MultiLabelMarginLoss(reduction=reduction)(tensor(x), tg.tensor(target))),
          expected)


@fuzz(50)
@given(st.integers(0, 2**16), st.integers(1, 4), st.integers(1, 5),
       st.sampled_from([0.0, 0.5, -0.5]), REDUCTION, st.booleans(), st.booleans())
def test_cosine_embedding_loss(seed, n, d, margin, reduction, unbatched, zero_vector):
    """cos = x1·x2 / sqrt((|x1|² + 1e-12)(|x2|² + 1e-12)); 1 - cos (y = 1) or
    max(0, cos - margin) (y = -1); a zero vector gives cos = 0 (aten Loss.cpp)."""
    rng = rng_of(seed)
    x1, x2 = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    if zero_vector:
        x1[0] = 0.0
    y = rng.choice([-1.0, 1.0], size=n)
    cos = (x1 * x2).sum(1) / np.sqrt(((x1 * x1).sum(1) + 1e-12) * ((x2 * x2).sum(1) + 1e-12))
    losses = np.where(y == 1, 1 - cos, np.maximum(cos - margin, 0))
    expected = reduce_np(losses, reduction)
    if unbatched:
        x1, x2, y = x1[0], x2[0], y[0]
        expected = reduce_np(losses[:1], reduction)
        expected = expected.reshape(()) if reduction == "none" else expected
    out = F.cosine_embedding_loss(tensor(x1), tensor(x2), tg.tensor(np.asarray(y)), margin,
                                  reduction=reduction)
    close(host(out), expected, 1e-9, 1e-12)
    close(host(nn.CosineEmbeddingLoss(margin, reduction=reduction)(
        tensor(x1), tensor(x2), tg.tensor(np.asarray(y)))), expected, 1e-9, 1e-12)
    if not zero_vector and np.all(np.abs(cos - margin) > 1e-4):
        yt = tg.tensor(np.asarray(y))
        check_grads(lambda a, b: F.cosine_embedding_loss(a, b, yt, margin, reduction=reduction),
                    [x1, x2])


def ref_pairwise(a, b, p, eps):
    diff = np.abs(a - b + eps)
    if p == math.inf:
        return diff.max(axis=-1)
    return (diff ** p).sum(axis=-1) ** (1 / p)


@fuzz(50)
@given(st.integers(0, 2**16), st.integers(1, 4), st.integers(1, 5),
       st.sampled_from([1, 2, 3, 1.5, math.inf]), st.sampled_from([1.0, 0.0, 0.3]),
       st.sampled_from([1e-6, 0.0, 0.1]), st.booleans(), REDUCTION, st.booleans())
def test_triplet_margin_loss(seed, n, d, p, margin, eps, swap, reduction, unbatched):
    """max(0, margin + d(a, p) - d(a, n)), d(x, y) = ||x - y + eps||_p, d(a, n) replaced by
    min(d(a, n), d(p, n)) with swap (torch.nn.functional.triplet_margin_loss)."""
    rng = rng_of(seed)
    a, pos, neg = (rng.normal(size=(n, d)) for _ in range(3))
    if unbatched:
        a, pos, neg = a[0], pos[0], neg[0]
    dp, dn = ref_pairwise(a, pos, p, eps), ref_pairwise(a, neg, p, eps)
    if swap:
        dn = np.minimum(dn, ref_pairwise(pos, neg, p, eps))
    loss = np.maximum(margin + dp - dn, 0)
    expected = reduce_np(loss, reduction)
    out = F.triplet_margin_loss(tensor(a), tensor(pos), tensor(neg), margin, p, eps, swap,
                                reduction=reduction)
    close(host(out), expected, 1e-9, 1e-12)
    module = nn.TripletMarginLoss(margin, p, eps, swap, reduction=reduction)
    close(host(module(tensor(a), tensor(pos), tensor(neg))), expected, 1e-9, 1e-12)
    smooth = np.all(np.abs(margin + dp - dn) > 1e-4) and eps > 0
    if smooth and p != math.inf:
        check_grads(lambda x, y, z: F.triplet_margin_loss(x, y, z, margin, p, eps, swap,
                                                          reduction=reduction), [a, pos, neg])


@fuzz(30)
@given(st.integers(0, 2**16), st.integers(1, 4), st.integers(1, 5), st.sampled_from([1.0, 0.2]),
       st.booleans(), REDUCTION, st.booleans())
def test_triplet_margin_with_distance_loss(seed, n, d, margin, swap, reduction, cosine):
    rng = rng_of(seed)
    a, pos, neg = (rng.normal(size=(n, d)) for _ in range(3))

    def ref_distance(x, y):
        if cosine:
            return 1 - (x * y).sum(-1) / np.maximum(np.linalg.norm(x, axis=-1), 1e-8) / \
                np.maximum(np.linalg.norm(y, axis=-1), 1e-8)
        return ref_pairwise(x, y, 2, 1e-6)

    dp, dn = ref_distance(a, pos), ref_distance(a, neg)
    if swap:
        dn = np.minimum(dn, ref_distance(pos, neg))
    expected = reduce_np(np.maximum(margin + dp - dn, 0), reduction)
    distance = (lambda x, y: 1 - F.cosine_similarity(x, y, dim=-1)) if cosine else None
    out = F.triplet_margin_with_distance_loss(tensor(a), tensor(pos), tensor(neg),
                                              distance_function=distance, margin=margin,
                                              swap=swap, reduction=reduction)
    close(host(out), expected, 1e-9, 1e-12)
    module = nn.TripletMarginWithDistanceLoss(distance_function=distance, margin=margin,
                                              swap=swap, reduction=reduction)
    close(host(module(tensor(a), tensor(pos), tensor(neg))), expected, 1e-9, 1e-12)


# ---- sigmoid focal loss (torchvision.ops.sigmoid_focal_loss)

@fuzz(50)
@given(binary_problem(), st.sampled_from([0.25, -1.0, 0.0, 1.0]), st.sampled_from([2.0, 0.0, 1.0, 3.5]),
       REDUCTION, st.sampled_from([1.0, 10.0, 1e4]))
def test_sigmoid_focal_loss(problem, alpha, gamma, reduction, scale):
    """ce = bce_with_logits(x, y); p_t = p y + (1 - p)(1 - y); l = alpha_t (1 - p_t)^gamma ce,
    alpha_t = alpha y + (1 - alpha)(1 - y) unless alpha < 0 (torchvision's formula)."""
    rng, shape, y, _, _ = problem
    x = rng.normal(size=shape) * scale
    p = np_sigmoid(x)
    ce = (1 - y) * x + np.logaddexp(0, -x)
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    expected = reduce_np(loss, reduction)
    xt = tensor(x)
    out = F.sigmoid_focal_loss(xt, tg.tensor(y), alpha=alpha, gamma=gamma, reduction=reduction)
    close(host(out), expected, 1e-9, 1e-12)
    out.backward(tg.ones_like(out))
    assert np.all(np.isfinite(host(xt.grad)))
    if scale == 1.0:
        yt = tg.tensor(y)
        check_grads(lambda t: F.sigmoid_focal_loss(t, yt, alpha=alpha, gamma=gamma,
                                                   reduction=reduction), [x])


# ---- ctc_loss: brute force over every alignment

def ref_ctc(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
    """-log sum over all paths pi of length T_n that collapse (merge repeats, drop blanks)
    to the target of prod_t p[t, pi_t]; 'mean' divides each by max(U_n, 1), then averages."""
    import itertools
    T, N, C = log_probs.shape
    losses = []
    for n in range(N):
        label = tuple(targets[n][:target_lengths[n]])
        total = -math.inf
        for path in itertools.product(range(C), repeat=int(input_lengths[n])):
            collapsed = [k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k)]
            if tuple(collapsed) == label:
                score = sum(log_probs[t, n, k] for t, k in enumerate(path))
                total = np.logaddexp(total, score)
        loss = -total
        if zero_infinity and math.isinf(loss):
            loss = 0.0
        losses.append(loss)
    losses = np.array(losses)
    if reduction == "mean":
        return np.mean(losses / np.maximum(np.asarray(target_lengths), 1))
    return reduce_np(losses, reduction)


@fuzz(30)
@given(st.integers(0, 2**16), st.integers(1, 5), st.integers(1, 3), st.integers(2, 3),
       st.integers(0, 2), REDUCTION, st.booleans(), st.booleans())
def test_ctc_loss_against_every_alignment(seed, T, N, C, blank, reduction, zero_infinity, padded):
    rng = rng_of(seed)
    blank = blank % C
    log_probs = np_log_softmax(rng.normal(size=(T, N, C)) * 2, -1)
    labels = [k for k in range(C) if k != blank]
    input_lengths = rng.integers(0, T + 1, size=N)
    target_lengths = rng.integers(0, 4, size=N)
    targets = rng.choice(labels, size=(N, 4))
    expected = ref_ctc(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                       zero_infinity)
    given_targets = targets if padded else np.concatenate(
        [targets[n, :target_lengths[n]] for n in range(N)]).astype(np.int64)
    lp = tensor(log_probs)
    out = F.ctc_loss(lp, tg.tensor(given_targets), tg.tensor(input_lengths),
                     tg.tensor(target_lengths), blank=blank, reduction=reduction,
                     zero_infinity=zero_infinity)
    close(host(out), expected, 1e-9, 1e-12)
    module = nn.CTCLoss(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    close(host(module(tensor(log_probs), tg.tensor(given_targets), tg.tensor(input_lengths),
                      tg.tensor(target_lengths))), expected, 1e-9, 1e-12)
    if np.all(np.isfinite(expected)):
        # docs/deviations.md: our gradient is the true derivative in log_probs
        check_grads(lambda t: F.ctc_loss(t, tg.tensor(given_targets), tg.tensor(input_lengths),
                                         tg.tensor(target_lengths), blank=blank,
                                         reduction=reduction, zero_infinity=zero_infinity),
                    [log_probs])


# ---- second derivatives and the strict device

SMOOTH_LOSSES = {
    "cross_entropy": lambda x, t, w: F.cross_entropy(x, t["classes"], weight=w, label_smoothing=0.1),
    "cross_entropy_fused": lambda x, t, w: F.cross_entropy(x.reshape(x.shape[0], -1)[:, :3],
                                                           t["classes2d"]),
    "cross_entropy_prob": lambda x, t, w: F.cross_entropy(x, t["probs"], weight=w),
    "nll": lambda x, t, w: F.nll_loss(F.log_softmax(x, dim=1), t["classes"], weight=w),
    "bce_logits": lambda x, t, w: F.binary_cross_entropy_with_logits(x, t["probs"],
                                                                     pos_weight=t["pos"]),
    "bce": lambda x, t, w: F.binary_cross_entropy(x.sigmoid(), t["probs"]),
    "mse": lambda x, t, w: F.mse_loss(x, t["probs"]),
    "kl_div": lambda x, t, w: F.kl_div(F.log_softmax(x, dim=1), t["probs"], reduction="batchmean"),
    "poisson": lambda x, t, w: F.poisson_nll_loss(x, t["counts"], full=True),
    "gaussian": lambda x, t, w: F.gaussian_nll_loss(x, t["probs"], x.exp()),
    "soft_margin": lambda x, t, w: F.soft_margin_loss(x, t["signs"]),
    "multilabel_soft_margin": lambda x, t, w: F.multilabel_soft_margin_loss(x, t["labels"]),
    "focal": lambda x, t, w: F.sigmoid_focal_loss(x, t["labels"], gamma=2.0),
}


def loss_targets(rng, shape, device="cpu"):
    C = shape[1]
    spatial = shape[2:]
    probs = rng.dirichlet(np.ones(C), size=(shape[0],) + spatial)
    probs = np.moveaxis(probs, -1, 1)
    return {
        "classes": tg.tensor(rng.integers(0, C, size=(shape[0],) + spatial), device=device),
        "classes2d": tg.tensor(rng.integers(0, 3, size=shape[0]), device=device),
        "probs": tg.tensor(probs, device=device),
        "pos": tg.tensor(rng.uniform(0.5, 2, size=shape[-1:]), device=device),
        "counts": tg.tensor(rng.integers(0, 5, size=shape).astype(float), device=device),
        "signs": tg.tensor(rng.choice([-1.0, 1.0], size=shape), device=device),
        "labels": tg.tensor(rng.integers(0, 2, size=shape).astype(float), device=device),
    }


@st.composite
def smooth_case(draw):
    name = draw(st.sampled_from(sorted(SMOOTH_LOSSES)))
    shape = (draw(st.integers(1, 3)), 3) + tuple(draw(st.lists(st.integers(1, 2), max_size=1)))
    return name, shape, draw(st.integers(0, 2**16)), draw(st.booleans())


@fuzz(20)
@given(smooth_case())
def test_second_derivatives_of_smooth_losses(case):
    name, shape, seed, weighted = case
    rng = rng_of(seed)
    x = tg.tensor(rng.normal(size=shape), requires_grad=True)
    targets = loss_targets(rng, shape)
    w = tg.tensor(rng.uniform(0.5, 2, size=3)) if weighted else None
    assert tg.gradgradcheck(lambda t: SMOOTH_LOSSES[name](t, targets, w), (x,))


@fuzz(15)
@given(smooth_case())
def test_strict_device_gives_the_cpu_numbers(case):
    """The 'strict' backend (refuses implicit host conversion, as CuPy) gives the host's
    values and gradients."""
    name, shape, seed, weighted = case
    results = []
    for device in ("cpu", "strict"):
        rng = rng_of(seed)
        x = tg.tensor(rng.normal(size=shape), requires_grad=True, device=device)
        targets = loss_targets(rng, shape, device)
        w = tg.tensor(rng.uniform(0.5, 2, size=3), device=device) if weighted else None
        out = SMOOTH_LOSSES[name](x, targets, w)
        out.backward()
        results.append((host(out), host(x.grad)))
    close(results[1][0], results[0][0], 1e-12, 1e-14)
    close(results[1][1], results[0][1], 1e-12, 1e-14)


@pytest.mark.parametrize("training", [False, True])
def test_rrelu_refuses_lower_above_upper(training):
    """at::rrelu checks lower <= upper in both modes (training would otherwise draw slopes
    from an inverted interval, and eval use their mean, silently)."""
    with pytest.raises(ValueError, match="lower"):
        F.rrelu(tg.tensor([-1.0]), 0.5, 0.1, training=training)
