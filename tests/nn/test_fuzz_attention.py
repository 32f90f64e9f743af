"""Randomised (hypothesis) checks of attention and the Transformer family.

Each test draws sizes and options, builds the layer in float64 with parameters drawn
here (loaded into the module by name, PyTorch's state-dict names), and compares (1) its
forward, and the attention weights it returns, with an independent NumPy reference
transcribed from PyTorch's documented equations and from the steps of
``F.multi_head_attention_forward`` (q, k, v stacked in ``in_proj_weight``; the
``(N·H, L, d)`` head layout, row n·H + h; bool masks −inf where True, float masks added;
bias_k / add_zero_attn append a key and pad the masks with 0), and (2) the gradient of
L = Σ y·R (R random) with respect to every float input and every parameter with central
differences of that reference. Covered: ``F.scaled_dot_product_attention`` (bool / float
masks broadcast over batch and heads, ``is_causal`` with L ≠ S, ``scale``,
``enable_gqa``, fully masked queries), ``nn.MultiheadAttention`` (batch_first,
kdim/vdim, bias, add_bias_kv, add_zero_attn, key_padding_mask bool/float, attn_mask 2-D
and 3-D, both masks at once, need_weights with average_attn_weights True/False,
unbatched inputs, the is_causal hint, a fully masked query: NaN with weights, 0 without,
see docs/deviations.md), ``nn.TransformerEncoderLayer`` / ``DecoderLayer`` (norm_first,
relu / gelu / a callable, layer_norm_eps, bias, batch_first, unbatched, masks),
``nn.TransformerEncoder`` / ``Decoder`` (num_layers, final norm), ``nn.Transformer`` and
``generate_square_subsequent_mask``.

By default each test draws a few examples (derandomised, so CI is deterministic);
``FUZZ_ATTENTION_EXAMPLES=N`` draws N per test (with ``HYPOTHESIS_PROFILE=explore`` new
ones).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

EXAMPLES = int(os.environ.get("FUZZ_ATTENTION_EXAMPLES", "3"))
DERANDOMIZE = os.environ.get("HYPOTHESIS_PROFILE", "fixed") != "explore"
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
                suppress_health_check=list(HealthCheck))

# Masks of two types warn, as PyTorch ("Support for mismatched ... is deprecated").
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched:UserWarning")

EPS = 1e-6                       # central-difference step (float64)
RTOL, ATOL = 1e-5, 1e-6
FWD_RTOL, FWD_ATOL = 1e-9, 1e-10


# ----------------------------------------------------------------------------- machinery

def _flat(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def _numeric(f, array: np.ndarray) -> np.ndarray:
    """Central differences of the scalar f() with respect to ``array`` (changed in place),
    the five-point stencil (f(x−2h) − 8f(x−h) + 8f(x+h) − f(x+2h)) / 12h: error O(h⁴),
    where the plain (f(x+h) − f(x−h)) / 2h (error O(h²)) is too coarse for a LayerNorm
    over two features with a small variance (gradients ~100, curvature ~1e5)."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        values = []
        for step in (-2, -1, 1, 2):
            array[i] = old + step * EPS
            values.append(f())
        array[i] = old
        grad[i] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * EPS)
    return grad


def load_params(module, rng, scale=0.6) -> dict:
    """Draw every parameter (normal · scale; LayerNorm weights around 1), load them into
    ``module`` by name and return name -> array (the reference's copy)."""
    params = {}
    for name, p in module.named_parameters():
        value = rng.standard_normal(tuple(p.shape)) * scale
        parts = name.split(".")
        if len(parts) >= 2 and parts[-2].startswith("norm") and parts[-1] == "weight":
            value = 1.0 + 0.3 * value                         # a LayerNorm's gain
        params[name] = value
    module.load_state_dict({name: tg.tensor(value.copy()) for name, value in params.items()},
                           strict=False)
    for name, p in module.named_parameters():   # the load really took
        np.testing.assert_array_equal(p.numpy(), params[name])
    return params


def check(module, inputs: dict, call, ref, device, seed=0, grad_inputs=None, params=None,
          rtol=RTOL):
    """Forward (all outputs) and gradients of ``call(module, tensors)`` against
    ``ref(inputs, params)``. Non-float inputs (masks) are passed as they are; gradients of
    L = Σ y·R over the finite outputs, for ``grad_inputs`` (default: every float input) and
    every parameter, against central differences of the reference."""
    rng = np.random.default_rng(seed)
    params = {} if params is None else params
    if module is not None:
        module.to(device)
    if grad_inputs is None:
        grad_inputs = [n for n, v in inputs.items()
                       if isinstance(v, np.ndarray) and v.dtype == np.float64]
    tensors = {name: (tg.tensor(value, device=device, requires_grad=name in grad_inputs)
                      if isinstance(value, np.ndarray) else value)
               for name, value in inputs.items()}
    outputs = _flat(call(module, tensors))
    expected = [None if e is None else np.asarray(e, dtype=np.float64)
                for e in _flat(ref(inputs, params))]
    assert len(outputs) == len(expected)
    for out, exp in zip(outputs, expected):
        if exp is None:
            assert out is None
            continue
        assert tuple(out.shape) == exp.shape, (out.shape, exp.shape)
        np.testing.assert_allclose(out.numpy(), exp, rtol=FWD_RTOL, atol=FWD_ATOL)
    pairs = [(o, e) for o, e in zip(outputs, expected) if e is not None]
    weights = [np.where(np.isfinite(e), rng.standard_normal(e.shape), 0.0) for _, e in pairs]
    if not grad_inputs and not params:
        return [o.numpy() for o, _ in pairs]
    loss = None
    for (out, exp), w in zip(pairs, weights):
        finite = tg.tensor(np.isfinite(exp), device=device)
        term = (out.masked_fill(finite.logical_not(), 0.0) * tg.tensor(w, device=device)).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    def objective():
        ys = [y for y in _flat(ref(inputs, params)) if y is not None]
        return sum(float(np.where(w != 0, np.asarray(y) * w, 0.0).sum())
                   for y, w in zip(ys, weights))

    for name in grad_inputs:
        got = tensors[name].grad
        assert got is not None, f"no gradient for input {name}"
        np.testing.assert_allclose(got.numpy(), _numeric(objective, inputs[name]),
                                   rtol=rtol, atol=ATOL, err_msg=f"input {name}")
    if module is not None:
        for name, p in module.named_parameters():
            assert p.grad is not None, f"no gradient for parameter {name}"
            np.testing.assert_allclose(p.grad.numpy(), _numeric(objective, params[name]),
                                       rtol=rtol, atol=ATOL, err_msg=f"parameter {name}")
    return [o.numpy() for o, _ in pairs]


# ----------------------------------------------------------------------- NumPy references

def np_softmax(z, safe):
    """softmax over the last axis. A row of only −inf: NaN (0/0, the plain formula) or,
    ``safe``, 0 (PyTorch's SDPA since 2.5)."""
    with np.errstate(invalid="ignore"):
        e = np.exp(z - z.max(-1, keepdims=True))
        w = e / e.sum(-1, keepdims=True)
    if safe:
        w = np.where(np.isneginf(z).all(-1, keepdims=True), 0.0, w)
    return w


def ref_sdpa(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """PyTorch's documented reference for scaled_dot_product_attention (dropout_p = 0)."""
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    bias = np.zeros((L, S))
    if is_causal:
        bias = np.where(np.tril(np.ones((L, S), bool)), bias, -np.inf)
    if attn_mask is not None:
        if attn_mask.dtype == bool:
            bias = np.where(attn_mask, bias, -np.inf)
        else:
            bias = attn_mask + bias
    if enable_gqa:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    scores = q @ np.swapaxes(k, -1, -2) * scale + bias
    return np_softmax(scores, safe=True) @ v


def canonical(mask):
    """bool (True: masked out) -> −inf / 0; float kept."""
    if mask is None:
        return None
    return np.where(mask, -np.inf, 0.0) if mask.dtype == bool else mask


def ref_mha(P, H, query, key, value, kpm=None, attn_mask=None, need_weights=True,
            average=True, add_zero_attn=False, batch_first=False, prefix=""):
    """``F.multi_head_attention_forward`` step by step (dropout 0), from the parameters
    ``P`` by PyTorch's names (``prefix`` + name). -> (output, weights or None)."""
    batched = query.ndim == 3
    if batched and batch_first:
        query, key, value = (np.swapaxes(x, 0, 1) for x in (query, key, value))
    if not batched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        kpm = None if kpm is None else kpm[None]
    L, N, E = query.shape
    d = E // H
    if prefix + "in_proj_weight" in P:
        Wq, Wk, Wv = np.split(P[prefix + "in_proj_weight"], 3)
    else:
        Wq, Wk, Wv = (P[prefix + f"{c}_proj_weight"] for c in "qkv")
    b = P.get(prefix + "in_proj_bias", np.zeros(3 * E))
    q = query @ Wq.T + b[:E]
    k = key @ Wk.T + b[E:2 * E]
    v = value @ Wv.T + b[2 * E:]
    am, kp = canonical(attn_mask), canonical(kpm)
    if am is not None and am.ndim == 2:
        am = am[None]                                         # (1, L, S)

    def pad1(m):
        return None if m is None else np.concatenate([m, np.zeros(m.shape[:-1] + (1,))], -1)

    if prefix + "bias_k" in P:
        k = np.concatenate([k, np.broadcast_to(P[prefix + "bias_k"], (1, N, E))])
        v = np.concatenate([v, np.broadcast_to(P[prefix + "bias_v"], (1, N, E))])
        am, kp = pad1(am), pad1(kp)
    q = q.reshape(L, N * H, d).transpose(1, 0, 2)             # (N·H, L, d), row n·H + h
    k = k.reshape(k.shape[0], N * H, d).transpose(1, 0, 2)
    v = v.reshape(v.shape[0], N * H, d).transpose(1, 0, 2)
    if add_zero_attn:
        k = np.concatenate([k, np.zeros((N * H, 1, d))], 1)
        v = np.concatenate([v, np.zeros((N * H, 1, d))], 1)
        am, kp = pad1(am), pad1(kp)
    S = k.shape[1]
    if kp is not None:
        kp = np.broadcast_to(kp[:, None, None, :], (N, H, 1, S)).reshape(N * H, 1, S)
        am = kp if am is None else am + kp
    scores = (q * math.sqrt(1.0 / d)) @ k.transpose(0, 2, 1)
    if am is not None:
        scores = scores + am
    w = np_softmax(scores, safe=not need_weights)           # (N·H, L, S)
    heads = w @ v                                           # (N·H, L, d)
    out = heads.transpose(1, 0, 2).reshape(L, N, E) @ P[prefix + "out_proj.weight"].T
    out = out + P.get(prefix + "out_proj.bias", np.zeros(E))
    w = w.reshape(N, H, L, S)
    if average:
        w = w.mean(1)
    if batched and batch_first:
        out = np.swapaxes(out, 0, 1)
    if not batched:
        out, w = out[:, 0], w[0]
    return out, (w if need_weights else None)


def np_layer_norm(x, P, name, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps) * P[name + ".weight"]
    return y + P[name + ".bias"] if name + ".bias" in P else y


def np_linear(x, P, name):
    y = x @ P[name + ".weight"].T
    return y + P[name + ".bias"] if name + ".bias" in P else y


NP_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "tanh": np.tanh,
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                  * (x + 0.044715 * x ** 3))),
}


def tg_activation(name):
    """PyTorch's string, a function, or a Module (a callable too)."""
    if name == "tanh":
        return tg.Tensor.tanh
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    return name


def ref_encoder_layer(P, prefix, x, H, norm_first, act, eps, mask, kpm, batch_first):
    def sa(y):
        return ref_mha(P, H, y, y, y, kpm, mask, need_weights=False,
                       batch_first=batch_first, prefix=prefix + "self_attn.")[0]

    def ff(y):
        hidden = NP_ACTIVATIONS[act](np_linear(y, P, prefix + "linear1"))
        return np_linear(hidden, P, prefix + "linear2")

    def norm(y, i):
        return np_layer_norm(y, P, f"{prefix}norm{i}", eps)

    if norm_first:
        x = x + sa(norm(x, 1))
        return x + ff(norm(x, 2))
    x = norm(x + sa(x), 1)
    return norm(x + ff(x), 2)


def ref_decoder_layer(P, prefix, x, memory, H, norm_first, act, eps, tgt_mask, memory_mask,
                      tgt_kpm, memory_kpm, batch_first):
    def sa(y):
        return ref_mha(P, H, y, y, y, tgt_kpm, tgt_mask, need_weights=False,
                       batch_first=batch_first, prefix=prefix + "self_attn.")[0]

    def ca(y):
        return ref_mha(P, H, y, memory, memory, memory_kpm, memory_mask, need_weights=False,
                       batch_first=batch_first, prefix=prefix + "multihead_attn.")[0]

    def ff(y):
        hidden = NP_ACTIVATIONS[act](np_linear(y, P, prefix + "linear1"))
        return np_linear(hidden, P, prefix + "linear2")

    def norm(y, i):
        return np_layer_norm(y, P, f"{prefix}norm{i}", eps)

    if norm_first:
        x = x + sa(norm(x, 1))
        x = x + ca(norm(x, 2))
        return x + ff(norm(x, 3))
    x = norm(x + sa(x), 1)
    x = norm(x + ca(x), 2)
    return norm(x + ff(x), 3)


# ----------------------------------------------------------------------- drawing helpers

def draw_bool_mask(rng, shape, p_masked, keep_rows=True):
    """True = masked out. ``keep_rows``: every row (last axis) keeps its first unmasked
    key somewhere, so no query is fully masked."""
    m = rng.random(shape) < p_masked
    if keep_rows and shape[-1]:
        cols = rng.integers(0, shape[-1], size=shape[:-1])
        np.put_along_axis(m, cols[..., None], False, axis=-1)
    return m


def draw_mask(rng, shape, kind, keep_rows=True):
    """A mask of ``kind`` 'bool' (True: masked), 'float' (random values, some −inf) or
    'finite' (random values)."""
    masked = draw_bool_mask(rng, shape, 0.35, keep_rows)
    if kind == "bool":
        return masked
    if kind == "finite":
        return rng.standard_normal(shape)
    return np.where(masked, -np.inf, rng.standard_normal(shape))


def kpm_mask(rng, N, S, kind, unbatched):
    m = draw_mask(rng, (N, S), kind)
    return m[0] if unbatched else m


# ----------------------------------------------------------------------- SDPA

@st.composite
def sdpa_configs(draw):
    c = {"gqa": draw(st.booleans())}
    if c["gqa"]:
        Hk = draw(st.integers(1, 2))
        c["lead"] = (draw(st.integers(1, 2)), Hk * draw(st.integers(1, 3)))
        c["lead_k"] = (c["lead"][0], Hk)
    else:
        c["lead"] = c["lead_k"] = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    c["L"], c["S"] = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    c["E"], c["Ev"] = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    c["mode"] = draw(st.sampled_from(["none", "bool", "float", "finite", "causal"]))
    c["scale"] = draw(st.one_of(st.none(), st.floats(0.1, 2.0)))
    # a mask shape that broadcasts to (..., L, S): leading dims dropped or set to 1
    keep = draw(st.integers(0, len(c["lead"])))
    c["mask_shape"] = tuple(1 if draw(st.booleans()) else n
                            for n in c["lead"][len(c["lead"]) - keep:])
    c["mask_shape"] += (draw(st.sampled_from([1, c["L"]])), c["S"])
    return c


RICH_SDPA = [
    dict(gqa=True, lead=(2, 4), lead_k=(2, 2), L=3, S=4, E=3, Ev=2, mode="causal", scale=None,
         mask_shape=(3, 4)),
    dict(gqa=False, lead=(2, 3), lead_k=(2, 3), L=3, S=4, E=2, Ev=3, mode="bool", scale=0.7,
         mask_shape=(3, 1, 4)),
    dict(gqa=True, lead=(1, 2), lead_k=(1, 1), L=4, S=2, E=2, Ev=2, mode="finite", scale=1.3,
         mask_shape=(2, 4, 2)),
]


@fuzz
@given(c=sdpa_configs(), seed=st.integers(0, 2 ** 31 - 1))
@example(c=RICH_SDPA[0], seed=1)
@example(c=RICH_SDPA[1], seed=2)
@example(c=RICH_SDPA[2], seed=3)
def test_sdpa_masks_scale_causal_gqa_and_gradients(device, c, seed):
    rng = np.random.default_rng(seed)
    mode, scale, gqa = c["mode"], c["scale"], c["gqa"]
    inputs = dict(q=rng.standard_normal(c["lead"] + (c["L"], c["E"])),
                  k=rng.standard_normal(c["lead_k"] + (c["S"], c["E"])),
                  v=rng.standard_normal(c["lead_k"] + (c["S"], c["Ev"])))
    mask = None
    if mode == "bool":      # True takes part in SDPA: the opposite of the "masked" draw
        mask = ~draw_mask(rng, c["mask_shape"], "bool")
    elif mode in ("float", "finite"):
        mask = draw_mask(rng, c["mask_shape"], mode)
        inputs["mask"] = mask   # its gradient checked too (the entries at −inf get 0)

    def call(_, t):
        m = t.get("mask", None if mask is None else tg.tensor(mask, device=device))
        return F.scaled_dot_product_attention(t["q"], t["k"], t["v"], attn_mask=m,
                                              dropout_p=0.0, is_causal=mode == "causal",
                                              scale=scale, enable_gqa=gqa)

    def ref(a, _):
        return ref_sdpa(a["q"], a["k"], a["v"], a.get("mask", mask), mode == "causal", scale,
                        gqa)

    check(None, inputs, call, ref, device, seed=seed)


@fuzz
@given(data=st.data())
def test_sdpa_fully_masked_queries_give_zero_and_zero_gradient(device, data):
    """Queries with every key masked (bool False everywhere, or float −inf everywhere)
    give output 0 and no gradient through them (PyTorch ≥ 2.5's safe softmax), while the
    other queries are unchanged."""
    draw = data.draw
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    N, L, S, E = (draw(st.integers(1, 3)) for _ in range(4))
    kind = draw(st.sampled_from(["bool", "float"]))
    masked = draw_bool_mask(rng, (N, L, S), 0.4, keep_rows=False)
    dead = rng.random((N, L)) < 0.5
    masked[dead] = True
    mask = ~masked if kind == "bool" else np.where(masked, -np.inf, rng.standard_normal(
        (N, L, S)))
    q, k, v = (rng.standard_normal(s) for s in ((N, L, E), (N, S, E), (N, S, E)))

    def call(_, t):
        return F.scaled_dot_product_attention(t["q"], t["k"], t["v"],
                                              attn_mask=tg.tensor(mask, device=device))

    def ref(a, _):
        return ref_sdpa(a["q"], a["k"], a["v"], mask)

    out = check(None, dict(q=q, k=k, v=v), call, ref, device, seed=seed)[0]
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[masked.all(-1)], 0.0)


# ----------------------------------------------------------------------- MultiheadAttention

@st.composite
def mha_configs(draw):
    c = {}
    c["H"] = draw(st.integers(1, 3))
    c["E"] = c["H"] * draw(st.integers(1, 2))
    c["kdim"] = draw(st.one_of(st.none(), st.integers(1, 4)))
    c["vdim"] = draw(st.one_of(st.none(), st.integers(1, 4)))
    c["bias"] = draw(st.booleans())
    c["add_bias_kv"] = draw(st.booleans())
    c["add_zero_attn"] = draw(st.booleans())
    c["batch_first"] = draw(st.booleans())
    c["unbatched"] = draw(st.booleans())
    c["N"] = 1 if c["unbatched"] else draw(st.integers(1, 3))
    c["L"], c["S"] = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    c["self"] = c["kdim"] is None and c["vdim"] is None and draw(st.booleans())
    c["kpm"] = draw(st.sampled_from([None, "bool", "float", "finite"]))
    c["attn"] = draw(st.sampled_from([None, "bool", "float", "finite"]))
    c["attn_3d"] = draw(st.booleans())
    c["need_weights"] = draw(st.booleans())
    c["average"] = draw(st.booleans())
    return c


def build_mha(c, rng, device=None):
    mha = nn.MultiheadAttention(c["E"], c["H"], bias=c["bias"], add_bias_kv=c["add_bias_kv"],
                                add_zero_attn=c["add_zero_attn"], kdim=c["kdim"],
                                vdim=c["vdim"], batch_first=c["batch_first"],
                                dtype=tg.float64)
    return mha, load_params(mha, rng)


def mha_inputs(c, rng):
    L, S, N, E, H = c["L"], c["S"], c["N"], c["E"], c["H"]
    if c["self"]:
        S = L
    kdim = E if c["kdim"] is None else c["kdim"]
    vdim = E if c["vdim"] is None else c["vdim"]

    def shape(T, width):
        if c["unbatched"]:
            return (T, width)
        return (N, T, width) if c["batch_first"] else (T, N, width)

    inputs = {"query": rng.standard_normal(shape(L, E))}
    if not c["self"]:
        inputs["key"] = rng.standard_normal(shape(S, kdim))
        inputs["value"] = rng.standard_normal(shape(S, vdim))
    masks = {}
    if c["kpm"]:
        masks["kpm"] = kpm_mask(rng, N, S, c["kpm"], c["unbatched"])
    if c["attn"]:
        shape3 = (N * H, L, S) if c["attn_3d"] else (L, S)
        masks["attn"] = draw_mask(rng, shape3, c["attn"])
    # with two masks a query could still lose every key: keep one key of each row open
    if "kpm" in masks and "attn" in masks:
        first_open = np.argmax(~np.isneginf(canonical(masks["kpm"])), axis=-1)  # (N,) | ()
        am = masks["attn"]
        fill = False if am.dtype == bool else 0.0
        if am.ndim == 2:
            if c["unbatched"] or N == 1:
                am[:, int(np.ravel(first_open)[0])] = fill
            else:   # every batch element: open the keys each one leaves open
                for n in range(N):
                    am[:, int(first_open[n])] = fill
        else:
            for row in range(N * H):
                am[row, :, int(np.ravel(first_open)[row // H if not c["unbatched"] else 0])] \
                    = fill
    return inputs, masks


def run_mha(mha, t, c, masks, device):
    """The module on the tensors ``t``; a mask in ``t`` (float, its gradient checked) is
    used as it is, the others (``masks``) are made tensors here."""
    q = t["query"]
    k = t.get("key", q)
    v = t.get("value", q)

    def mask(name):
        if name in t:
            return t[name]
        return None if masks.get(name) is None else tg.tensor(masks[name], device=device)

    return mha(q, k, v, key_padding_mask=mask("kpm"), need_weights=c["need_weights"],
               attn_mask=mask("attn"), average_attn_weights=c["average"])


def ref_mha_call(a, P, c, masks):
    q = a["query"]
    return ref_mha(P, c["H"], q, a.get("key", q), a.get("value", q), a.get("kpm", masks.get(
        "kpm")), a.get("attn", masks.get("attn")), c["need_weights"], c["average"],
        c["add_zero_attn"], c["batch_first"])


RICH_MHA = [
    dict(H=2, E=4, kdim=None, vdim=None, bias=True, add_bias_kv=False, add_zero_attn=False,
         batch_first=False, unbatched=False, N=2, L=3, S=4, self=False, kpm="float",
         attn="bool", attn_3d=True, need_weights=True, average=False),
    dict(H=2, E=4, kdim=3, vdim=2, bias=True, add_bias_kv=True, add_zero_attn=True,
         batch_first=True, unbatched=False, N=2, L=2, S=3, self=False, kpm="bool",
         attn="finite", attn_3d=False, need_weights=True, average=True),
    dict(H=3, E=3, kdim=None, vdim=None, bias=False, add_bias_kv=True, add_zero_attn=False,
         batch_first=True, unbatched=True, N=1, L=3, S=3, self=True, kpm="finite",
         attn="float", attn_3d=True, need_weights=False, average=True),
]


@fuzz
@given(c=mha_configs(), seed=st.integers(0, 2 ** 31 - 1))
@example(c=RICH_MHA[0], seed=1)
@example(c=RICH_MHA[1], seed=2)
@example(c=RICH_MHA[2], seed=3)
def test_mha_every_option_forward_weights_and_gradients(device, c, seed):
    rng = np.random.default_rng(seed)
    mha, P = build_mha(c, rng)
    inputs, masks = mha_inputs(c, rng)
    for name, m in masks.items():   # float masks: their gradients are checked too
        if m.dtype == np.float64:
            inputs[name] = m
    check(mha, inputs, lambda m, t: run_mha(m, t, c, masks, device),
          lambda a, p: ref_mha_call(a, p, c, masks), device, seed=seed, params=P)


@fuzz
@given(c=mha_configs(), seed=st.integers(0, 2 ** 31 - 1), N=st.integers(1, 3),
       how=st.sampled_from(["kpm", "attn", "both"]), kind=st.sampled_from(["bool", "float"]))
@example(c=RICH_MHA[0], seed=1, N=2, how="both", kind="bool")
@example(c=dict(RICH_MHA[1], need_weights=False), seed=2, N=2, how="kpm", kind="float")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NumPy's 0/0 in the NaN rows
def test_mha_fully_masked_query_nan_with_weights_zero_without(c, seed, N, how, kind):
    """A query whose keys are all masked (by key_padding_mask, attn_mask or both):
    NaN output and weights with need_weights=True, 0 attention (out = out_proj bias)
    without, with finite gradients (docs/deviations.md: as PyTorch); the other queries
    are exact."""
    c = dict(c, add_bias_kv=False, add_zero_attn=False, unbatched=False, N=N)  # no extra key
    rng = np.random.default_rng(seed)
    mha, P = build_mha(c, rng)
    inputs, masks = mha_inputs(c, rng)
    L, S, N, H = c["L"], (c["L"] if c["self"] else c["S"]), c["N"], c["H"]
    masked_value = True if kind == "bool" else -np.inf
    if how in ("kpm", "both"):   # batch element 0 pads every key
        kpm = draw_mask(rng, (N, S), kind)
        kpm[0] = masked_value
        masks["kpm"] = kpm
    if how in ("attn", "both"):  # query L-1 sees no key
        am = draw_mask(rng, (L, S), kind)
        am[L - 1] = masked_value
        masks["attn"] = am
    if how == "attn":
        masks.pop("kpm", None)
    if how == "kpm":
        masks.pop("attn", None)
    out, weights = run_mha(mha.to("cpu"), {k: tg.tensor(v) for k, v in inputs.items()}, c,
                           masks, "cpu")
    exp_out, exp_w = ref_mha_call(inputs, P, c, masks)
    np.testing.assert_allclose(out.numpy(), exp_out, rtol=FWD_RTOL, atol=FWD_ATOL)
    if c["need_weights"]:
        assert np.isnan(out.numpy()).any()
        np.testing.assert_allclose(weights.numpy(), exp_w, rtol=FWD_RTOL, atol=FWD_ATOL)
    else:   # finite, and the gradients (none through the dead queries) match too
        assert np.isfinite(out.numpy()).all() and weights is None
        mha.zero_grad()
        check(mha, inputs, lambda m, t: run_mha(m, t, c, masks, "cpu"),
              lambda a, p: ref_mha_call(a, p, c, masks), "cpu", seed=seed, params=P)


@fuzz
@given(c=mha_configs(), seed=st.integers(0, 2 ** 31 - 1), kind=st.sampled_from(["bool",
                                                                              "float"]))
@example(c=dict(RICH_MHA[0], need_weights=False, kpm=None, L=4), seed=1, kind="bool")
@example(c=dict(RICH_MHA[1], L=3), seed=2, kind="float")
def test_mha_is_causal_hint_equals_the_causal_mask(device, c, seed, kind):
    """``is_causal=True`` with the causal mask gives what the mask alone gives, with or
    without weights and a key padding mask (which switch PyTorch to the mask path)."""
    c = dict(c, self=True, kdim=None, vdim=None, add_bias_kv=False, add_zero_attn=False,
             attn=None)
    rng = np.random.default_rng(seed)
    mha, P = build_mha(c, rng)
    inputs, masks = mha_inputs(c, rng)
    L = c["L"]
    causal = np.triu(np.ones((L, L), bool), 1)
    masks["attn"] = causal if kind == "bool" else np.where(causal, -np.inf, 0.0)
    if masks.get("kpm") is not None:    # keep key 0 open: every query still sees a key
        masks["kpm"][..., 0] = False if masks["kpm"].dtype == bool else 0.0
    x = tg.tensor(inputs["query"], device=device, requires_grad=True)
    mha.to(device)

    def as_t(m):
        return None if m is None else tg.tensor(m, device=device)

    out, w = mha(x, x, x, key_padding_mask=as_t(masks.get("kpm")),
                 need_weights=c["need_weights"], attn_mask=as_t(masks["attn"]),
                 average_attn_weights=c["average"], is_causal=True)
    exp_out, exp_w = ref_mha_call(inputs, P, c, masks)
    np.testing.assert_allclose(out.numpy(), exp_out, rtol=FWD_RTOL, atol=FWD_ATOL)
    if c["need_weights"]:
        np.testing.assert_allclose(w.numpy(), exp_w, rtol=FWD_RTOL, atol=FWD_ATOL)
    out.sum().backward()
    inputs_q = inputs["query"]
    numeric = _numeric(lambda: float(ref_mha_call({"query": inputs_q}, P, c, masks)[0].sum()),
                       inputs_q)
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=RTOL, atol=ATOL)


@fuzz
@given(c=mha_configs(), seed=st.integers(0, 2 ** 31 - 1), other_n=st.integers(1, 3))
@example(c=dict(RICH_MHA[0], N=2), seed=1, other_n=1)
def test_mha_refuses_query_and_key_of_different_batch_sizes(c, seed, other_n):
    """PyTorch fails to view key (S, N', E) as (S, N·H, d) when N' ≠ N; a key batch of 1
    must not broadcast silently over the query's batch (nor the other way round)."""
    c = dict(c, unbatched=False, self=False)
    if other_n == c["N"]:
        other_n = c["N"] + 1
    mha, _ = build_mha(c, np.random.default_rng(seed))
    inputs, _ = mha_inputs(dict(c, N=other_n), np.random.default_rng(seed))
    query = mha_inputs(c, np.random.default_rng(seed))[0]["query"]
    with pytest.raises(ValueError, match="batch size"):
        mha(tg.tensor(query), tg.tensor(inputs["key"]), tg.tensor(inputs["value"]))


# ----------------------------------------------------------------------- Transformer layers

@st.composite
def layer_configs(draw):
    c = {}
    c["H"] = draw(st.integers(1, 2))
    c["E"] = c["H"] * draw(st.integers(1, 2)) + (0 if draw(st.booleans()) else c["H"])
    c["ff"] = draw(st.integers(1, 4))
    c["norm_first"] = draw(st.booleans())
    c["act"] = draw(st.sampled_from(["relu", "gelu", "tanh", "gelu_tanh"]))
    c["eps"] = draw(st.sampled_from([1e-5, 1e-3, 0.1]))
    c["bias"] = draw(st.booleans())
    c["batch_first"] = draw(st.booleans())
    c["unbatched"] = draw(st.booleans())
    c["N"] = 1 if c["unbatched"] else draw(st.integers(1, 2))
    c["S"], c["T"] = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    c["mask"] = draw(st.sampled_from([None, "bool", "float", "causal"]))
    c["mask_3d"] = draw(st.booleans())
    c["kpm"] = draw(st.sampled_from([None, "bool", "float"]))
    c["mem_mask"] = draw(st.sampled_from([None, "bool", "float"]))
    c["mem_kpm"] = draw(st.sampled_from([None, "bool", "float"]))
    return c


RICH_LAYER = [
    dict(H=2, E=4, ff=3, norm_first=True, act="gelu", eps=0.1, bias=True, batch_first=True,
         unbatched=False, N=2, S=3, T=2, mask="bool", mask_3d=True, kpm="float",
         mem_mask="float", mem_kpm="bool"),
    dict(H=2, E=2, ff=2, norm_first=False, act="tanh", eps=1e-3, bias=False,
         batch_first=False, unbatched=False, N=2, S=2, T=3, mask="causal", mask_3d=False,
         kpm="bool", mem_mask="bool", mem_kpm=None),
    dict(H=1, E=3, ff=4, norm_first=False, act="relu", eps=1e-5, bias=True,
         batch_first=True, unbatched=True, N=1, S=3, T=3, mask="float", mask_3d=True,
         kpm=None, mem_mask=None, mem_kpm="float"),
]


def seq(c, rng, T):
    E, N = c["E"], c["N"]
    if c["unbatched"]:
        return rng.standard_normal((T, E))
    return rng.standard_normal((N, T, E) if c["batch_first"] else (T, N, E))


def self_masks(c, rng, T, mask_key, kpm_key):
    """(attn mask, key padding mask) for a self-attention over T positions; position 0
    is never masked, so no query loses every key."""
    N, H = c["N"], c["H"]
    mask = kpm = None
    if c[mask_key] == "causal":
        mask = np.where(np.triu(np.ones((T, T), bool), 1), -np.inf, 0.0)
    elif c[mask_key]:
        shape = (N * H, T, T) if c.get("mask_3d") else (T, T)
        mask = draw_mask(rng, shape, c[mask_key])
        mask[..., 0] = False if mask.dtype == bool else rng.standard_normal(mask.shape[:-1])
    if c[kpm_key]:
        kpm = kpm_mask(rng, N, T, c[kpm_key], c["unbatched"])
        kpm[..., 0] = False if kpm.dtype == bool else 0.0
    return mask, kpm


def cross_masks(c, rng, T, S):
    N = c["N"]
    mask = kpm = None
    if c["mem_mask"]:
        mask = draw_mask(rng, (T, S), c["mem_mask"])
        mask[..., 0] = False if mask.dtype == bool else 0.0
    if c["mem_kpm"]:
        kpm = kpm_mask(rng, N, S, c["mem_kpm"], c["unbatched"])
        kpm[..., 0] = False if kpm.dtype == bool else 0.0
    return mask, kpm


def layer_kwargs(c):
    return dict(dim_feedforward=c["ff"], dropout=0.0, activation=tg_activation(c["act"]),
                layer_norm_eps=c["eps"], batch_first=c["batch_first"],
                norm_first=c["norm_first"], bias=c["bias"], dtype=tg.float64)


def as_t(m, device):
    return None if m is None else tg.tensor(m, device=device)


@fuzz
@given(c=layer_configs(), layers=st.integers(0, 2), final_norm=st.booleans(),
       seed=st.integers(0, 2 ** 31 - 1))
@example(c=RICH_LAYER[0], layers=2, final_norm=True, seed=1)
@example(c=RICH_LAYER[1], layers=0, final_norm=False, seed=2)
@example(c=RICH_LAYER[2], layers=1, final_norm=True, seed=3)
def test_encoder_layer_and_stack_options_forward_and_gradients(device, c, layers, final_norm,
                                                               seed):
    """layers = 0: the bare layer; else a TransformerEncoder of that many copies."""
    rng = np.random.default_rng(seed)
    layer = nn.TransformerEncoderLayer(c["E"], c["H"], **layer_kwargs(c))
    if layers:
        norm = nn.LayerNorm(c["E"], eps=c["eps"], dtype=tg.float64) if final_norm else None
        module = nn.TransformerEncoder(layer, layers, norm=norm, enable_nested_tensor=False)
    else:
        module = layer
    P = load_params(module, rng)
    src = seq(c, rng, c["S"])
    mask, kpm = self_masks(c, rng, c["S"], "mask", "kpm")
    causal = c["mask"] == "causal"

    def call(m, t):
        if layers:
            return m(t["src"], mask=as_t(mask, device),
                     src_key_padding_mask=as_t(kpm, device), is_causal=causal or None)
        return m(t["src"], src_mask=as_t(mask, device),
                 src_key_padding_mask=as_t(kpm, device), is_causal=causal)

    def ref(a, p):
        x = a["src"]
        for i in range(max(layers, 1)):
            prefix = f"layers.{i}." if layers else ""
            x = ref_encoder_layer(p, prefix, x, c["H"], c["norm_first"], c["act"], c["eps"],
                                  mask, kpm, c["batch_first"])
        if layers and final_norm:
            x = np_layer_norm(x, p, "norm", c["eps"])
        return x

    check(module, {"src": src}, call, ref, device, seed=seed, params=P)


@fuzz
@given(c=layer_configs(), layers=st.integers(0, 2), final_norm=st.booleans(),
       seed=st.integers(0, 2 ** 31 - 1))
@example(c=RICH_LAYER[0], layers=2, final_norm=True, seed=1)
@example(c=RICH_LAYER[1], layers=0, final_norm=False, seed=2)
@example(c=RICH_LAYER[2], layers=1, final_norm=True, seed=3)
def test_decoder_layer_and_stack_options_forward_and_gradients(device, c, layers, final_norm,
                                                               seed):
    """layers = 0: the bare layer; else a TransformerDecoder of that many copies."""
    rng = np.random.default_rng(seed)
    layer = nn.TransformerDecoderLayer(c["E"], c["H"], **layer_kwargs(c))
    if layers:
        norm = nn.LayerNorm(c["E"], eps=c["eps"], dtype=tg.float64) if final_norm else None
        module = nn.TransformerDecoder(layer, layers, norm=norm)
    else:
        module = layer
    P = load_params(module, rng)
    tgt, memory = seq(c, rng, c["T"]), seq(c, rng, c["S"])
    tgt_mask, tgt_kpm = self_masks(c, rng, c["T"], "mask", "kpm")
    mem_mask, mem_kpm = cross_masks(c, rng, c["T"], c["S"])
    causal = c["mask"] == "causal"

    def call(m, t):
        return m(t["tgt"], t["memory"], tgt_mask=as_t(tgt_mask, device),
                 memory_mask=as_t(mem_mask, device),
                 tgt_key_padding_mask=as_t(tgt_kpm, device),
                 memory_key_padding_mask=as_t(mem_kpm, device), tgt_is_causal=causal)

    def ref(a, p):
        x = a["tgt"]
        for i in range(max(layers, 1)):
            prefix = f"layers.{i}." if layers else ""
            x = ref_decoder_layer(p, prefix, x, a["memory"], c["H"], c["norm_first"],
                                  c["act"], c["eps"], tgt_mask, mem_mask, tgt_kpm, mem_kpm,
                                  c["batch_first"])
        if layers and final_norm:
            x = np_layer_norm(x, p, "norm", c["eps"])
        return x

    check(module, {"tgt": tgt, "memory": memory}, call, ref, device, seed=seed, params=P)


@fuzz
@given(c=layer_configs(), n_enc=st.integers(1, 2), n_dec=st.integers(1, 2),
       causal_tgt=st.booleans(), seed=st.integers(0, 2 ** 31 - 1))
@example(c=RICH_LAYER[0], n_enc=2, n_dec=1, causal_tgt=True, seed=1)
def test_transformer_forward_and_gradients(c, n_enc, n_dec, causal_tgt, seed):
    c = dict(c, mask_3d=False)
    rng = np.random.default_rng(seed)
    kwargs = layer_kwargs(c)
    model = nn.Transformer(c["E"], c["H"], num_encoder_layers=n_enc, num_decoder_layers=n_dec,
                           **kwargs)
    P = load_params(model, rng)
    src, tgt = seq(c, rng, c["S"]), seq(c, rng, c["T"])
    src_mask, src_kpm = self_masks(c, rng, c["S"], "mask", "kpm")
    c2 = dict(c, mask="causal" if causal_tgt else c["mask"])
    tgt_mask, tgt_kpm = self_masks(c2, rng, c["T"], "mask", "kpm")
    mem_mask, mem_kpm = cross_masks(c, rng, c["T"], c["S"])

    def call(m, t):
        d = "cpu"
        return m(t["src"], t["tgt"], src_mask=as_t(src_mask, d), tgt_mask=as_t(tgt_mask, d),
                 memory_mask=as_t(mem_mask, d), src_key_padding_mask=as_t(src_kpm, d),
                 tgt_key_padding_mask=as_t(tgt_kpm, d),
                 memory_key_padding_mask=as_t(mem_kpm, d))

    def ref(a, p):
        x = a["src"]
        for i in range(n_enc):
            x = ref_encoder_layer(p, f"encoder.layers.{i}.", x, c["H"], c["norm_first"],
                                  c["act"], c["eps"], src_mask, src_kpm, c["batch_first"])
        memory = np_layer_norm(x, p, "encoder.norm", c["eps"])
        y = a["tgt"]
        for i in range(n_dec):
            y = ref_decoder_layer(p, f"decoder.layers.{i}.", y, memory, c["H"],
                                  c["norm_first"], c["act"], c["eps"], tgt_mask, mem_mask,
                                  tgt_kpm, mem_kpm, c["batch_first"])
        return np_layer_norm(y, p, "decoder.norm", c["eps"])

    check(model, {"src": src, "tgt": tgt}, call, ref, "cpu", seed=seed, params=P)


# ----------------------------------------------------------------------- second derivatives

@settings(fuzz, max_examples=max(1, EXAMPLES // 3))
@given(c=mha_configs(), seed=st.integers(0, 2 ** 31 - 1))
@example(c=dict(RICH_MHA[1], N=1, L=2, S=2), seed=2)
def test_mha_second_derivatives_gradgradcheck(c, seed):
    """Double backward through MultiheadAttention (every parameter and input, masks and
    options as drawn), against finite differences of its gradient."""
    c = dict(c, N=1, L=min(c["L"], 2), S=min(c["S"], 2))    # small: O(n²) differences
    rng = np.random.default_rng(seed)
    mha, _ = build_mha(c, rng)
    inputs, masks = mha_inputs(c, rng)
    names = list(inputs)
    tensors = [tg.tensor(inputs[n], requires_grad=True) for n in names]
    params = list(mha.parameters())

    def f(*xs):   # parameters are perturbed in place by the check
        return run_mha(mha, dict(zip(names, xs[:len(names)])), c, masks, "cpu")

    assert tg.gradgradcheck(f, tensors + params, fast_mode=True)


@pytest.mark.parametrize("dtype", [None, "float64"])
@given(sz=st.integers(0, 6))
@fuzz
def test_generate_square_subsequent_mask(device, sz, dtype):
    got = nn.Transformer.generate_square_subsequent_mask(
        sz, device=device, dtype=None if dtype is None else getattr(tg, dtype))
    assert got.device == device
    expected = np.triu(np.full((sz, sz), -np.inf), 1)     # PyTorch: triu(full(-inf), 1)
    assert tuple(got.shape) == (sz, sz)
    # PyTorch: float32 when dtype is None (not the default dtype)
    assert got.dtype == (tg.float32 if dtype is None else getattr(tg, dtype))
    np.testing.assert_array_equal(got.numpy(), expected)
