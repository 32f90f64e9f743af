"""Audit of attention: scaled_dot_product_attention's dtype rules (PyTorch's
validate_sdpa_input and its math path, which keeps half inputs in float32),
multi_head_attention_forward's argument checks and generate_square_subsequent_mask's
size check. References are NumPy transcriptions of the documented formulas."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def as_tensor(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def np_sdpa(q, k, v, additive=0.0, scale=None):
    """softmax(q kᵀ · scale + additive) v over the last two axes, in q's dtype."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale + additive
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


# ------------------------------------------------------------------ scaled_dot_product_attention

def test_sdpa_refuses_query_key_value_of_different_dtypes(device, rng):
    # PyTorch: "Expected query, key, and value to have the same dtype"; no silent promotion.
    q = as_tensor(rng.standard_normal((2, 3, 4)).astype(np.float32), device)
    k = as_tensor(rng.standard_normal((2, 5, 4)), device)
    v = as_tensor(rng.standard_normal((2, 5, 6)), device)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention.*same dtype.*"
                                           r"float32.*float64.*float64"):
        F.scaled_dot_product_attention(q, k, v)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(k.astype(tg.float32)[:, :3], k.astype(tg.float32), v)


def test_sdpa_float_mask_must_be_float32_or_the_querys_dtype(device, rng):
    # PyTorch accepts a bool mask, a float32 mask or one of the query's dtype, and refuses
    # any other float mask (float64 over a float32 query).
    q, k = (rng.standard_normal((2, n, 4)) for n in (3, 5))
    v = rng.standard_normal((2, 5, 6))
    mask = rng.standard_normal((3, 5))
    q32, k32, v32 = (as_tensor(a.astype(np.float32), device) for a in (q, k, v))
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: attn_mask.*float64"
                                           r".*float32"):
        F.scaled_dot_product_attention(q32, k32, v32, attn_mask=as_tensor(mask, device))
    # a float32 mask over float64 inputs is accepted, and added in float64
    out = F.scaled_dot_product_attention(as_tensor(q, device), as_tensor(k, device),
                                         as_tensor(v, device),
                                         attn_mask=as_tensor(mask.astype(np.float32), device))
    assert out.dtype == tg.float64
    np.testing.assert_allclose(out.numpy(), np_sdpa(q, k, v, mask.astype(np.float32)),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_half_inputs_are_computed_in_float32(device, rng, causal):
    # PyTorch's math path casts float16 query, key and value to float32, attends there and
    # rounds the output back to float16: a long softmax in float16 would lose ~16 ulps.
    q, k, v = (rng.standard_normal(s).astype(np.float16) * 3
               for s in ((2, 48, 32), (2, 200, 32), (2, 200, 32)))
    additive = np.where(np.tril(np.ones((48, 200), bool)), 0.0, -np.inf) if causal else 0.0
    expected = np_sdpa(*(a.astype(np.float32) for a in (q, k, v)), additive).astype(np.float16)
    tq, tk, tv = (as_tensor(a, device, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    assert out.dtype == tg.float16
    np.testing.assert_allclose(out.numpy().astype(np.float32), expected.astype(np.float32),
                               rtol=2 ** -10, atol=2 ** -13)   # 1 float16 ulp
    out.sum().backward()
    assert tq.grad.dtype == tk.grad.dtype == tv.grad.dtype == tg.float16
    # d(sum out)/dv = column sums of the weights, computed in float32
    s = q.astype(np.float32) @ k.astype(np.float32).swapaxes(-1, -2) / math.sqrt(32) + additive
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    grad_v = np.broadcast_to(w.sum(1)[..., None], v.shape)
    np.testing.assert_allclose(tv.grad.numpy().astype(np.float32), grad_v, rtol=2 ** -10,
                               atol=2 ** -12)


# ------------------------------------------------------------------ multi_head_attention_forward

def _mha_args(rng, E=4):
    x = as_tensor(rng.standard_normal((3, 2, E)))
    weight = as_tensor(rng.standard_normal((3 * E, E)))
    out_weight = as_tensor(rng.standard_normal((E, E)))
    return x, weight, out_weight


def test_mha_forward_refuses_bias_kv_with_static_keys(rng):
    # PyTorch: "bias cannot be added to static key." (and value); here the appended bias
    # key would not line up with the given keys.
    x, weight, out_weight = _mha_args(rng)
    bias = as_tensor(rng.standard_normal((1, 1, 4)))
    static = as_tensor(rng.standard_normal((4, 3, 2)))   # (N·H, S, d)
    for name in ("static_k", "static_v"):
        with pytest.raises(ValueError, match=f"multi_head_attention_forward: bias cannot be "
                                              f"added to {name}"):
            F.multi_head_attention_forward(x, x, x, 4, 2, weight, None, bias, bias, False, 0.0,
                                           out_weight, None, **{name: static})


def test_mha_forward_names_a_missing_projection_weight(rng):
    x, weight, out_weight = _mha_args(rng)
    with pytest.raises(ValueError, match="multi_head_attention_forward: in_proj_weight is None"):
        F.multi_head_attention_forward(x, x, x, 4, 2, None, None, None, None, False, 0.0,
                                       out_weight, None)
    w = as_tensor(rng.standard_normal((4, 4)))
    for missing in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
        given = {name: None if name == missing else w
                 for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight")}
        with pytest.raises(ValueError, match=f"use_separate_proj_weight.*{missing} is None"):
            F.multi_head_attention_forward(x, x, x, 4, 2, None, None, None, None, False, 0.0,
                                           out_weight, None, use_separate_proj_weight=True,
                                           **given)


# ------------------------------------------------------------------ generate_square_subsequent_mask

def test_square_subsequent_mask_refuses_a_negative_or_fractional_size():
    with pytest.raises(RuntimeError, match=r"generate_square_subsequent_mask: sz.*-1"):
        nn.Transformer.generate_square_subsequent_mask(-1)
    with pytest.raises(TypeError, match=r"generate_square_subsequent_mask: sz.*2\.0"):
        nn.Transformer.generate_square_subsequent_mask(2.0)
    # a NumPy integer is an int (PyTorch takes any index)
    mask = nn.Transformer.generate_square_subsequent_mask(np.int64(2))
    np.testing.assert_array_equal(mask.numpy(), [[0.0, -np.inf], [0.0, 0.0]])
