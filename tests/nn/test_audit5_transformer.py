"""Audit (fifth round) of the Transformer layers against PyTorch's documented semantics.

The reference is written here from the formulas, in float64 NumPy, one batch element
and one head at a time: in_proj_weight split in [Wq; Wk; Wv], head h the features
h·d .. h·d + d − 1, scores q kᵀ/√d plus the masks (bool True -> −inf, float added;
attn_mask (L, S) or (N·H, L, S) with row n·H + h; key_padding_mask (N, S)), a softmax
that gives 0 for a query whose keys are all masked (PyTorch's math path since 2.5),
out_proj, LayerNorm over the last dim, the feed-forward network, and the post-norm /
pre-norm residual orders of PyTorch's ``TransformerEncoderLayer`` and
``TransformerDecoderLayer``.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched:UserWarning")

TOL = dict(rtol=1e-10, atol=1e-10)


def t(array, device="cpu", requires_grad=False):
    return None if array is None else tg.tensor(np.asarray(array), device=device,
                                                requires_grad=requires_grad)


# ------------------------------------------------------------------ NumPy reference

def ref_layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)               # biased, as LayerNorm
    y = (x - mean) / np.sqrt(var + eps)
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def ref_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


ACTIVATIONS = {"relu": lambda x: np.maximum(x, 0.0), "gelu": ref_gelu}


def additive_mask(attn_mask, key_padding_mask, N, H, L, S):
    """(N, H, L, S) float to add to the scores: bool True -> −inf, float as it is."""
    def as_float(m):
        return np.where(m, -np.inf, 0.0) if m.dtype == bool else m.astype(np.float64)

    total = np.zeros((N, H, L, S))
    if attn_mask is not None:
        m = as_float(attn_mask)
        total = total + (m.reshape(N, H, L, S) if m.ndim == 3 else m)
    if key_padding_mask is not None:
        total = total + as_float(key_padding_mask)[:, None, None, :]
    return total


def ref_softmax_rows(scores):
    """Row softmax; a row of only −inf gives 0 (not 0/0)."""
    out = np.zeros_like(scores)
    for i, row in enumerate(scores):
        if row.size and np.isfinite(row).any():
            e = np.exp(row - row[np.isfinite(row)].max())
            out[i] = e / e.sum()
    return out


def ref_mha(query, key, p, prefix, H, additive):
    """Sequence first: query (L, N, E), key = value (S, N, E) -> (L, N, E)."""
    L, N, E = query.shape
    S, d = key.shape[0], E // H
    W = p[prefix + "in_proj_weight"]
    b = p.get(prefix + "in_proj_bias", np.zeros(3 * E))
    Wq, Wk, Wv = W[:E], W[E:2 * E], W[2 * E:]
    bq, bk, bv = b[:E], b[E:2 * E], b[2 * E:]
    out = np.zeros((L, N, E))
    for n in range(N):
        q, k, v = query[:, n] @ Wq.T + bq, key[:, n] @ Wk.T + bk, key[:, n] @ Wv.T + bv
        heads = []
        for h in range(H):
            cols = slice(h * d, (h + 1) * d)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(d) + additive[n, h]
            heads.append(ref_softmax_rows(scores.reshape(L, S)) @ v[:, cols])
        out[:, n] = np.concatenate(heads, axis=1) @ p[prefix + "out_proj.weight"].T + p.get(
            prefix + "out_proj.bias", 0.0)
    return out


def ref_ff(x, p, act):
    hidden = ACTIVATIONS[act](x @ p["linear1.weight"].T + p.get("linear1.bias", 0.0))
    return hidden @ p["linear2.weight"].T + p.get("linear2.bias", 0.0)


def ref_norm(x, p, i, eps):
    return ref_layer_norm(x, p[f"norm{i}.weight"], p.get(f"norm{i}.bias"), eps)


def ref_encoder_layer(x, p, H, norm_first, act, eps, additive):
    """x (S, N, E): PyTorch's TransformerEncoderLayer in eval mode."""
    def sa(y):
        return ref_mha(y, y, p, "self_attn.", H, additive)

    if norm_first:
        x = x + sa(ref_norm(x, p, 1, eps))
        return x + ref_ff(ref_norm(x, p, 2, eps), p, act)
    x = ref_norm(x + sa(x), p, 1, eps)
    return ref_norm(x + ref_ff(x, p, act), p, 2, eps)


def ref_decoder_layer(x, memory, p, H, norm_first, act, eps, self_additive, cross_additive):
    """x (T, N, E), memory (S, N, E): PyTorch's TransformerDecoderLayer in eval mode."""
    def sa(y):
        return ref_mha(y, y, p, "self_attn.", H, self_additive)

    def ca(y):
        return ref_mha(y, memory, p, "multihead_attn.", H, cross_additive)

    if norm_first:
        x = x + sa(ref_norm(x, p, 1, eps))
        x = x + ca(ref_norm(x, p, 2, eps))
        return x + ref_ff(ref_norm(x, p, 3, eps), p, act)
    x = ref_norm(x + sa(x), p, 1, eps)
    x = ref_norm(x + ca(x), p, 2, eps)
    return ref_norm(x + ref_ff(x, p, act), p, 3, eps)


def draw_params(module, rng, device="cpu"):
    """Random values for every parameter (LayerNorm gains around 1), loaded by name."""
    params = {}
    with tg.no_grad():
        for name, parameter in module.named_parameters():
            value = rng.normal(0, 0.5, tuple(parameter.shape))
            if name.split(".")[-2].startswith("norm") and name.endswith("weight"):
                value = 1 + 0.3 * value
            parameter.copy_(t(value, device))
            params[name] = value
    return params


def sub(params, prefix):
    return {name[len(prefix):]: v for name, v in params.items() if name.startswith(prefix)}


def causal(n):
    return np.where(np.triu(np.ones((n, n), bool), 1), -np.inf, 0.0)


# ------------------------------------------------------------------ encoder layer

ENCODER_CASES = [
    # (norm_first, activation, eps, bias, batch_first, mask kind, key padding kind)
    (False, "relu", 1e-5, True, False, "bool", "bool"),
    (True, "relu", 1e-5, True, False, "float", "bool"),
    (False, "gelu", 0.1, False, True, "bool3d", "float"),
    (True, "gelu", 1e-3, False, True, "float3d", None),
    (True, "relu", 1e-5, True, False, None, "float"),
]


def draw_masks(rng, kind, kpm_kind, N, H, L, S):
    mask = kpm = None
    if kind is not None:
        shape = (N * H, L, S) if kind.endswith("3d") else (L, S)
        mask = rng.random(shape) < 0.3 if kind.startswith("bool") else rng.normal(size=shape)
    if kpm_kind is not None:
        kpm = rng.random((N, S)) < 0.3 if kpm_kind == "bool" else rng.normal(size=(N, S))
    return mask, kpm


@pytest.mark.parametrize("case", ENCODER_CASES)
def test_encoder_layer_matches_the_reference(device, rng, case):
    norm_first, act, eps, bias, batch_first, kind, kpm_kind = case
    S, N, E, H = 4, 2, 4, 2
    layer = nn.TransformerEncoderLayer(E, H, 5, dropout=0.3, activation=act, layer_norm_eps=eps,
                                       batch_first=batch_first, norm_first=norm_first,
                                       bias=bias, dtype=tg.float64, device=device)
    layer.eval()                                             # dropout 0.3 is off
    p = draw_params(layer, rng, device)
    x = rng.normal(size=(S, N, E))
    mask, kpm = draw_masks(rng, kind, kpm_kind, N, H, S, S)
    if mask is not None and mask.dtype == bool:
        mask[..., 0] = False                                 # keep every row finite
    src = x.transpose(1, 0, 2) if batch_first else x
    out = layer(t(src, device), src_mask=t(mask, device), src_key_padding_mask=t(kpm, device))
    expected = ref_encoder_layer(x, p, H, norm_first, act, eps,
                                 additive_mask(mask, kpm, N, H, S, S))
    assert out.dtype == tg.float64 and out.device == device
    np.testing.assert_allclose(out.numpy(), expected.transpose(1, 0, 2) if batch_first
                               else expected, **TOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_unbatched_with_3d_mask_and_1d_padding(device, rng, norm_first):
    # PyTorch: src (S, E), src_key_padding_mask (S,), src_mask (S, S) or (H, S, S).
    S, E, H = 3, 4, 2
    layer = nn.TransformerEncoderLayer(E, H, 6, dropout=0.0, norm_first=norm_first,
                                       batch_first=True, dtype=tg.float64, device=device)
    p = draw_params(layer, rng, device)
    x = rng.normal(size=(S, E))
    mask = rng.normal(size=(H, S, S))
    kpm = np.array([False, False, True])
    out = layer(t(x, device), src_mask=t(mask, device), src_key_padding_mask=t(kpm, device))
    expected = ref_encoder_layer(x[:, None], p, H, norm_first, "relu", 1e-5,
                                 additive_mask(mask, kpm[None], 1, H, S, S))[:, 0]
    assert out.shape == (S, E)
    np.testing.assert_allclose(out.numpy(), expected, **TOL)


def test_encoder_layer_fully_padded_query_rows_give_zero_attention(device, rng):
    # Through the layers (need_weights=False) a query whose keys are all masked attends
    # to nothing: its attention output is out_proj.bias, not NaN (PyTorch >= 2.5).
    S, N, E, H = 3, 2, 4, 2
    layer = nn.TransformerEncoderLayer(E, H, 6, dropout=0.0, dtype=tg.float64, device=device)
    p = draw_params(layer, rng, device)
    x = rng.normal(size=(S, N, E))
    mask = np.zeros((S, S), bool)
    mask[1] = True                                           # query 1 sees no key
    out = layer(t(x, device), src_mask=t(mask, device))
    expected = ref_encoder_layer(x, p, H, False, "relu", 1e-5,
                                 additive_mask(mask, None, N, H, S, S))
    assert np.isfinite(out.numpy()).all()
    np.testing.assert_allclose(out.numpy(), expected, **TOL)


def test_encoder_layer_callable_activation_and_module(device, rng):
    S, N, E, H = 3, 2, 4, 2
    x = rng.normal(size=(S, N, E))
    for activation, name in ((F.relu, "relu"), (nn.GELU(), "gelu"), (lambda y: F.gelu(y),
                                                                     "gelu")):
        layer = nn.TransformerEncoderLayer(E, H, 6, dropout=0.0, activation=activation,
                                           dtype=tg.float64, device=device)
        p = draw_params(layer, rng, device)
        out = layer(t(x, device))
        expected = ref_encoder_layer(x, p, H, False, name, 1e-5, np.zeros((N, H, S, S)))
        np.testing.assert_allclose(out.numpy(), expected, **TOL)


def test_encoder_layer_is_causal_with_the_causal_mask(device, rng):
    # is_causal=True with the causal mask: the same values as the mask alone; with a key
    # padding mask as well the merged mask is used.
    S, N, E, H = 4, 2, 4, 2
    layer = nn.TransformerEncoderLayer(E, H, 6, dropout=0.0, dtype=tg.float64, device=device)
    p = draw_params(layer, rng, device)
    x = rng.normal(size=(S, N, E))
    kpm = np.array([[False] * 4, [False, False, True, True]])
    mask = t(causal(S), device)
    for padding in (None, kpm):
        out = layer(t(x, device), src_mask=mask, src_key_padding_mask=t(padding, device),
                    is_causal=True)
        expected = ref_encoder_layer(x, p, H, False, "relu", 1e-5,
                                     additive_mask(causal(S), padding, N, H, S, S))
        np.testing.assert_allclose(out.numpy(), expected, **TOL)
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        layer(t(x, device), is_causal=True)


def test_encoder_layer_gradcheck(rng):
    S, N, E, H = 3, 2, 2, 1
    for norm_first in (False, True):
        layer = nn.TransformerEncoderLayer(E, H, 3, dropout=0.0, norm_first=norm_first,
                                           activation="gelu", layer_norm_eps=0.5,
                                           dtype=tg.float64)
        draw_params(layer, rng)
        x = t(rng.normal(size=(S, N, E)), requires_grad=True)
        mask = t(rng.normal(size=(S, S)), requires_grad=True)
        kpm = t(np.array([[False, False, True], [False, False, False]]))
        params = list(layer.parameters())

        def f(src, m, *_):                                   # parameters move in place
            return layer(src, src_mask=m, src_key_padding_mask=kpm)

        assert tg.gradcheck(f, (x, mask, *params))


# ------------------------------------------------------------------ decoder layer

DECODER_CASES = [
    # (norm_first, activation, eps, bias, batch_first, tgt mask, tgt kpm, mem mask, mem kpm)
    (False, "relu", 1e-5, True, False, "causal", "bool", "float", "bool"),
    (True, "gelu", 0.1, True, True, "bool3d", "float", "bool3d", None),
    (False, "gelu", 1e-3, False, True, "float", None, None, "float"),
    (True, "relu", 1e-5, False, False, None, "bool", "bool", "float"),
]


@pytest.mark.parametrize("case", DECODER_CASES)
def test_decoder_layer_matches_the_reference(device, rng, case):
    norm_first, act, eps, bias, batch_first, tk, tkpm, mk, mkpm = case
    T, S, N, E, H = 3, 4, 2, 4, 2
    layer = nn.TransformerDecoderLayer(E, H, 5, dropout=0.2, activation=act, layer_norm_eps=eps,
                                       batch_first=batch_first, norm_first=norm_first,
                                       bias=bias, dtype=tg.float64, device=device)
    layer.eval()
    p = draw_params(layer, rng, device)
    x, memory = rng.normal(size=(T, N, E)), rng.normal(size=(S, N, E))
    if tk == "causal":
        tgt_mask, tgt_kpm = causal(T), draw_masks(rng, None, tkpm, N, H, T, T)[1]
    else:
        tgt_mask, tgt_kpm = draw_masks(rng, tk, tkpm, N, H, T, T)
    mem_mask, mem_kpm = draw_masks(rng, mk, mkpm, N, H, T, S)
    for m in (tgt_mask, tgt_kpm, mem_mask, mem_kpm):
        if m is not None and m.dtype == bool:
            m[..., 0] = False
    if batch_first:
        tgt, mem = x.transpose(1, 0, 2), memory.transpose(1, 0, 2)
    else:
        tgt, mem = x, memory
    out = layer(t(tgt, device), t(mem, device), tgt_mask=t(tgt_mask, device),
                memory_mask=t(mem_mask, device), tgt_key_padding_mask=t(tgt_kpm, device),
                memory_key_padding_mask=t(mem_kpm, device), tgt_is_causal=tk == "causal")
    expected = ref_decoder_layer(x, memory, p, H, norm_first, act, eps,
                                 additive_mask(tgt_mask, tgt_kpm, N, H, T, T),
                                 additive_mask(mem_mask, mem_kpm, N, H, T, S))
    np.testing.assert_allclose(out.numpy(), expected.transpose(1, 0, 2) if batch_first
                               else expected, **TOL)


def test_decoder_layer_unbatched_and_empty_memory(device, rng):
    T, S, E, H = 3, 2, 4, 2
    layer = nn.TransformerDecoderLayer(E, H, 6, dropout=0.0, norm_first=True,
                                       dtype=tg.float64, device=device)
    p = draw_params(layer, rng, device)
    x, memory = rng.normal(size=(T, E)), rng.normal(size=(S, E))
    mem_kpm = np.array([False, True])
    out = layer(t(x, device), t(memory, device), tgt_mask=t(causal(T), device),
                memory_key_padding_mask=t(mem_kpm, device))
    expected = ref_decoder_layer(x[:, None], memory[:, None], p, H, True, "relu", 1e-5,
                                 additive_mask(causal(T), None, 1, H, T, T),
                                 additive_mask(None, mem_kpm[None], 1, H, T, S))[:, 0]
    assert out.shape == (T, E)
    np.testing.assert_allclose(out.numpy(), expected, **TOL)
    # no memory at all: the cross-attention has no key, its output is out_proj.bias
    empty = np.zeros((0, 1, E))
    out = layer(t(x[:, None], device), t(empty, device))
    expected = ref_decoder_layer(x[:, None], empty, p, H, True, "relu", 1e-5,
                                 np.zeros((1, H, T, T)), np.zeros((1, H, T, 0)))
    np.testing.assert_allclose(out.numpy(), expected, **TOL)


def test_decoder_layer_gradcheck(rng):
    T, S, N, E, H = 2, 3, 1, 2, 1
    layer = nn.TransformerDecoderLayer(E, H, 3, dropout=0.0, layer_norm_eps=0.5,
                                       dtype=tg.float64)
    draw_params(layer, rng)
    x = t(rng.normal(size=(T, N, E)), requires_grad=True)
    memory = t(rng.normal(size=(S, N, E)), requires_grad=True)
    tgt_mask = t(causal(T))
    mem_kpm = t(np.array([[False, True, False]]))
    params = list(layer.parameters())

    def f(tgt, mem, *_):
        return layer(tgt, mem, tgt_mask=tgt_mask, memory_key_padding_mask=mem_kpm)

    assert tg.gradcheck(f, (x, memory, *params))


# ------------------------------------------------------------------ stacks and Transformer

def test_encoder_stack_detects_nothing_and_matches_the_reference(device, rng):
    # is_causal=None with the causal mask (PyTorch detects it: a speed hint only) and a
    # final norm.
    S, N, E, H = 4, 2, 4, 2
    layer = nn.TransformerEncoderLayer(E, H, 5, dropout=0.0, norm_first=True,
                                       dtype=tg.float64, device=device)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E, eps=0.01, dtype=tg.float64,
                                                                device=device),
                                    enable_nested_tensor=False, mask_check=False)
    p = draw_params(encoder, rng, device)
    x = rng.normal(size=(S, N, E))
    kpm = np.array([[False] * 4, [False, False, False, True]])
    out = encoder(t(x, device), mask=t(causal(S), device), src_key_padding_mask=t(kpm, device))
    additive = additive_mask(causal(S), kpm, N, H, S, S)
    y = x
    for i in range(2):
        y = ref_encoder_layer(y, sub(p, f"layers.{i}."), H, True, "relu", 1e-5, additive)
    np.testing.assert_allclose(out.numpy(), ref_layer_norm(y, p["norm.weight"], p["norm.bias"],
                                                           0.01), **TOL)


def test_transformer_matches_the_reference(device, rng):
    S, T, N, E, H = 3, 2, 2, 4, 2
    model = nn.Transformer(E, H, 1, 2, 5, dropout=0.0, activation="gelu", layer_norm_eps=0.01,
                           batch_first=True, dtype=tg.float64, device=device)
    p = draw_params(model, rng, device)
    src, tgt = rng.normal(size=(N, S, E)), rng.normal(size=(N, T, E))
    src_kpm = np.array([[False, False, True], [False, False, False]])
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(T, device, tg.float64)
    out = model(t(src, device), t(tgt, device), tgt_mask=tgt_mask,
                src_key_padding_mask=t(src_kpm, device),
                memory_key_padding_mask=t(src_kpm, device))
    memory = ref_encoder_layer(src.transpose(1, 0, 2), sub(p, "encoder.layers.0."), H, False,
                               "gelu", 0.01, additive_mask(None, src_kpm, N, H, S, S))
    memory = ref_layer_norm(memory, p["encoder.norm.weight"], p["encoder.norm.bias"], 0.01)
    y = tgt.transpose(1, 0, 2)
    for i in range(2):
        y = ref_decoder_layer(y, memory, sub(p, f"decoder.layers.{i}."), H, False, "gelu", 0.01,
                              additive_mask(causal(T), None, N, H, T, T),
                              additive_mask(None, src_kpm, N, H, T, S))
    y = ref_layer_norm(y, p["decoder.norm.weight"], p["decoder.norm.bias"], 0.01)
    assert out.shape == (N, T, E)
    np.testing.assert_allclose(out.numpy(), y.transpose(1, 0, 2), **TOL)


# ------------------------------------------------------------------ generate_square_subsequent_mask

@pytest.mark.parametrize("dtype", [tg.float16, tg.float64, tg.bool])
def test_square_subsequent_mask_dtype_and_device(device, dtype):
    # PyTorch: triu(full((sz, sz), −inf, dtype), 1); in bool −inf is True.
    mask = nn.Transformer.generate_square_subsequent_mask(4, device=device, dtype=dtype)
    expected = np.triu(np.full((4, 4), -np.inf), 1).astype(np.dtype(dtype))
    assert mask.dtype == dtype and mask.device == device
    np.testing.assert_array_equal(mask.numpy(), expected)


@pytest.mark.parametrize("dtype", [tg.int64, tg.int32, tg.uint8])
def test_square_subsequent_mask_refuses_an_integer_dtype(dtype):
    # PyTorch: full(..., −inf, dtype=int64) raises "value cannot be converted to type
    # int64_t without overflow"; −inf cast to an integer is not a mask.
    with pytest.raises(RuntimeError, match=r"generate_square_subsequent_mask: dtype.*u?int"):
        nn.Transformer.generate_square_subsequent_mask(3, dtype=dtype)
    # the float and bool dtypes still work
    np.testing.assert_array_equal(
        nn.Transformer.generate_square_subsequent_mask(2, dtype=tg.bool).numpy(),
        [[False, True], [False, False]])


# ------------------------------------------------------------------ errors

def test_layers_name_the_bad_mask(device, rng):
    E, H = 4, 2
    enc = nn.TransformerEncoderLayer(E, H, 6, device=device)
    dec = nn.TransformerDecoderLayer(E, H, 6, device=device)
    x = t(rng.normal(size=(3, 2, E)).astype(np.float32), device)
    memory = t(rng.normal(size=(5, 2, E)).astype(np.float32), device)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(3, 4\), but should be \(3, 3\)"):
        enc(x, src_mask=t(np.zeros((3, 4), bool), device))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 3\)"):
        enc(x, src_key_padding_mask=t(np.zeros((3, 2), bool), device))
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask.*int64"):
        enc(x, src_mask=t(np.zeros((3, 3), np.int64), device))
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(3, 3\), but should be \(3, 5\)"):
        dec(x, memory, memory_mask=t(np.zeros((3, 3), bool), device))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 5\)"):
        dec(x, memory, memory_key_padding_mask=t(np.zeros((2, 3), bool), device))
    with pytest.raises(RuntimeError, match="need attn_mask"):
        dec(x, memory, memory_is_causal=True)


def test_stacks_of_zero_layers_refuse_to_run(rng):
    # PyTorch builds them but its forward reads self.layers[0]: IndexError.
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0)
    x = t(rng.normal(size=(3, 2, 4)).astype(np.float32))
    with pytest.raises(IndexError, match="TransformerEncoder: num_layers is 0"):
        nn.TransformerEncoder(layer, 0)(x)
    with pytest.raises(IndexError, match="TransformerDecoder: num_layers is 0"):
        nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 6), 0)(x, x)
    # one layer runs, and equals the layer itself (no norm)
    encoder = nn.TransformerEncoder(layer, 1)
    np.testing.assert_array_equal(encoder(x).numpy(), encoder.layers[0](x).numpy())


def test_encoder_keeps_enable_nested_tensor_and_mask_check():
    # PyTorch stores both arguments as attributes of the same names.
    layer = nn.TransformerEncoderLayer(4, 2, 6)
    encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False, mask_check=False)
    assert encoder.enable_nested_tensor is False and encoder.mask_check is False
    encoder = nn.TransformerEncoder(layer, 1)
    assert encoder.enable_nested_tensor is True and encoder.mask_check is True
