"""Attention: ``F.scaled_dot_product_attention``, ``nn.MultiheadAttention`` and the
Transformer layers built on them (Vaswani et al., 2017, "Attention is all you need").

Everything here is a composition of Tensor ops (matmul, softmax, ``masked_fill``,
dropout), so the gradients come from the engine and there is no backward code to read:
the forward *is* the math. Read in this order:

1. ``scaled_dot_product_attention``: one attention, ``softmax(Q Kᵀ · scale + mask) V``;
2. ``multi_head_attention_forward``: project, split into heads, attend, join, project;
3. ``MultiheadAttention`` (``nn/transformer.py``): the parameters (PyTorch's names and
   layout) around 2;
4. ``TransformerEncoderLayer`` / ``TransformerDecoderLayer``: attention, a feed-forward
   network, residual connections and LayerNorm; ``TransformerEncoder`` /
   ``TransformerDecoder`` stack copies of a layer; ``Transformer`` joins the two.

Two mask conventions, both PyTorch's, and opposite for booleans:

* ``scaled_dot_product_attention``: a bool mask is True where a key *takes part*;
* ``MultiheadAttention`` and the Transformer layers: a bool ``attn_mask`` or
  ``key_padding_mask`` is True where a key is *masked out* (padding, the future).

A float mask is added to the scores in both (``-inf`` masks a key out).

Imports: ``nn.functional`` star-imports this file, so the functions here use only
what does not import ``nn.functional`` back (``ops.fused.linear``, ``nn.functional_more``'s
pad and dropout draw, Tensor methods). Items 3 and 4, the layers, need Linear, Dropout,
LayerNorm and ``F.gelu``: they live in ``nn/transformer.py``, which only
``nn/__init__.py`` imports.
"""

from __future__ import annotations

import math
import warnings

from tinygrad_opt import backend
from tinygrad_opt.nn.functional_more import _check_probability, _drop_channels, pad
from tinygrad_opt.ops.fused import linear
from tinygrad_opt.ops.shape import cat
from tinygrad_opt.tensor import Tensor

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


# ------------------------------------------------------------------ one attention

def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Attention of every query over every key::

        scores  = Q Kᵀ · scale + M             scale = 1/√E unless given   (..., L, S)
        weights = softmax(scores) over S, then dropout(p = dropout_p)
        output  = weights V                                                (..., L, Ev)

    Shapes: query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``; the
    leading dims (batch, heads) broadcast. Each output row is an average of the value
    rows, weighted by how well the query matches each key; 1/√E keeps the scores of
    order 1 whatever E, so the softmax does not saturate.

    ``attn_mask`` broadcasts to ``(..., L, S)``. A bool mask is True where the key
    *takes part* (False: the score becomes −inf); a float mask is added to the scores.
    ``is_causal=True`` is the bool mask ``tril(ones(L, S))``: query i sees keys 0..i
    (aligned at the upper left when L ≠ S); giving both it and ``attn_mask`` is an error.
    A query whose every score is −inf (all its keys masked) gets weights 0 and output 0,
    not 0/0 = NaN, as PyTorch (since 2.5); its gradients are 0 too.

    Dropout is applied whenever ``dropout_p > 0``, as PyTorch: pass
    ``dropout_p=p if self.training else 0.0`` from a module. ``enable_gqa=True``
    (grouped-query attention): key and value have H heads at dim −3 and query Hq, a
    multiple of H; each key/value head serves Hq/H consecutive query heads.

    Dtypes, PyTorch's rules: query, key and value share one; a float mask is float32 or
    the query's. float16 inputs are attended in float32 and the output rounded back, as
    PyTorch's math path: a float16 softmax over a few hundred keys is off by ~16 ulps.
    """
    name = "scaled_dot_product_attention"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"{name}: query, key and value need at least 2 dims (..., L, E), got "
                         f"shapes {query.shape}, {key.shape}, {value.shape}")
    _check_dtypes(query, key, value, attn_mask, name)
    if key.shape[-1] != query.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{name}: expected query (..., L, E), key (..., S, E) and value "
                         f"(..., S, Ev), got shapes {query.shape}, {key.shape}, {value.shape}")
    if enable_gqa:
        key = _repeat_heads(key, query, name)      # (..., Hq, S, E)
        value = _repeat_heads(value, query, name)  # (..., Hq, S, Ev)
    L, S = query.shape[-2], key.shape[-2]
    dtype = query.dtype
    if dtype == backend.float16:
        query, key, value = (t.astype(backend.float32) for t in (query, key, value))
    scale_factor = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale_factor     # (..., L, S)
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(f"{name}: explicit attn_mask should not be set when "
                               "is_causal=True")
        attn_mask = _causal_mask(L, S, query.device)           # (L, S), True: takes part
    if attn_mask is not None:
        _check_broadcasts(attn_mask, scores, name)
        if attn_mask.dtype == backend.bool_:
            scores = scores.masked_fill(attn_mask.logical_not(), -math.inf)
        elif backend.is_floating(attn_mask.dtype):
            scores = scores + attn_mask.astype(scores.dtype)   # in the scores' dtype
        else:
            raise TypeError(f"{name}: attn_mask must be bool or floating, got {attn_mask.dtype}")
    weights = _safe_softmax(scores)                            # (..., L, S)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p)
    output = weights @ value                                   # (..., L, Ev)
    return output if output.dtype == dtype else output.astype(dtype)


def _dropout(x: Tensor, p: float) -> Tensor:
    """``F.dropout`` in training, which this file cannot import (see "Imports"): each element
    zeroed with probability p, the others scaled by 1/(1 − p); the same random draw."""
    _check_probability(p)
    return _drop_channels(x, p, x.shape, "dropout")  # one draw per element: plain dropout


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax over the last dim, with 0 instead of 0/0 = NaN in rows whose every score is
    −inf. Those rows are set to 0 before the softmax and to 0 after it: ``masked_fill``
    is a ``where``, so their gradient is exactly 0 on both sides."""
    fully_masked = (scores == -math.inf).all(dim=-1, keepdim=True)  # (..., L, 1)
    finite = scores.masked_fill(fully_masked, 0.0)
    return finite.softmax(-1).masked_fill(fully_masked, 0.0)       # (..., L, S)


def _check_dtypes(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None,
                  name: str) -> None:
    """PyTorch's dtype rules: no silent promotion between query, key and value, and a float
    mask of float32 or the query's dtype (an integer mask is refused later)."""
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(f"{name}: expected query, key and value to have the same dtype, got "
                           f"{query.dtype}, {key.dtype} and {value.dtype}")
    if mask is not None and backend.is_floating(mask.dtype) and \
            mask.dtype not in (backend.float32, query.dtype):
        raise RuntimeError(f"{name}: attn_mask must be bool, float32 or the query's dtype, got "
                           f"{mask.dtype} for a {query.dtype} query")


def _causal_mask(L: int, S: int, device) -> Tensor:
    """``(L, S)`` bool, True on and below the diagonal: query i sees keys j ≤ i."""
    xp = backend.get_xp(device)
    return Tensor(xp.tril(xp.ones((L, S), dtype=backend.bool_)), device=device)


def _check_broadcasts(mask: Tensor, scores: Tensor, name: str) -> None:
    """A mask must broadcast to the scores' shape (never make them bigger)."""
    try:
        grown = backend.broadcast_shapes(mask.shape, scores.shape)
    except ValueError:
        grown = None
    if grown != tuple(scores.shape):
        raise RuntimeError(f"{name}: attn_mask of shape {mask.shape} does not broadcast to the "
                           f"attention scores' shape {scores.shape} (..., L, S)")


def _repeat_heads(x: Tensor, query: Tensor, name: str) -> Tensor:
    """``(..., H, S, D) -> (..., Hq, S, D)``: each head repeated Hq/H times in a row
    (PyTorch's ``repeat_interleave(Hq // H, dim=-3)``)."""
    if x.ndim < 3 or query.ndim < 3 or query.shape[-3] % x.shape[-3]:
        raise ValueError(f"{name}: enable_gqa needs heads at dim -3 with the query's a multiple "
                         f"of the key's and value's, got shapes {query.shape} and {x.shape}")
    heads, groups = x.shape[-3], query.shape[-3] // x.shape[-3]
    grouped = x.unsqueeze(-3).expand(*x.shape[:-2], groups, *x.shape[-2:])  # (..., H, g, S, D)
    return grouped.reshape(*x.shape[:-3], heads * groups, *x.shape[-2:])   # (..., H·g, S, D)


# ------------------------------------------------------------------ multi-head attention

def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
        bias_k: Tensor | None, bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
        out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention, sequence first (``MultiheadAttention`` documents the options)::

        q = query Wqᵀ + bq     k = key Wkᵀ + bk     v = value Wvᵀ + bv        (L|S, N, E)
        head_h = softmax(q_h k_hᵀ / √d + M) v_h    for h = 1..H, d = E/H      (N, H, L, d)
        output = concat(head_1..head_H) Woᵀ + bo                              (L, N, E)

    q_h is the h-th slice of d features of q (features h·d to h·d + d − 1). Shapes:
    query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)``, or the same
    without N (unbatched). Returns ``(output, weights)``: weights ``(N, L, S)``
    averaged over the heads (``(N, H, L, S)`` with ``average_attn_weights=False``,
    after dropout), or None when ``need_weights=False``.

    ``need_weights=True`` takes the plain softmax, so a query whose every key is
    masked gets NaN; ``need_weights=False`` goes through ``scaled_dot_product_attention``,
    which gives 0 there. Both as PyTorch.
    """
    name = "multi_head_attention_forward"
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:  # a batch of one, squeezed out at the end
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)   # (1, S)
    L, N, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise ValueError(f"{name}: was expecting embedding dimension of {embed_dim_to_check}, "
                         f"but got {embed_dim} (query of shape {query.shape})")
    if embed_dim % num_heads:
        raise ValueError(f"{name}: embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    if use_separate_proj_weight:  # keys and values may differ in width (kdim, vdim)
        matched = key.shape[:-1] == value.shape[:-1]
    else:
        matched = key.shape == value.shape
    if not matched:
        raise ValueError(f"{name}: key of shape {key.shape} does not match value of shape "
                         f"{value.shape}")
    if key.shape[1] != N:  # else the heads' matmul would broadcast a batch of 1 silently
        raise ValueError(f"{name}: query of shape {query.shape} and key of shape {key.shape} "
                         "differ in batch size N (sequence first: (L, N, E), (S, N, kdim))")

    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", attn_mask,
                                       "attn_mask", query.dtype)      # (N, S), −inf: masked
    if is_causal and attn_mask is None:
        raise RuntimeError(f"{name}: need attn_mask if specifying the is_causal hint; "
                           "Transformer.generate_square_subsequent_mask makes one")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None       # the hint alone: scaled_dot_product_attention's causal mask
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype)
        is_causal = False      # a key padding mask makes the merged mask not causal

    # in-projection: one Linear each for q, k and v
    if use_separate_proj_weight:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
        for weight, weight_name in ((w_q, "q"), (w_k, "k"), (w_v, "v")):
            if weight is None:
                raise ValueError(f"{name}: use_separate_proj_weight is True but "
                                 f"{weight_name}_proj_weight is None")
    elif in_proj_weight is None:
        raise ValueError(f"{name}: in_proj_weight is None (pass it, or q_proj_weight, "
                         "k_proj_weight and v_proj_weight with use_separate_proj_weight=True)")
    else:
        w_q, w_k, w_v = in_proj_weight.chunk(3)                   # (E, E) each
    b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
    q = linear(query, w_q, b_q)                                    # (L, N, E)
    k = linear(key, w_k, b_k)                                      # (S, N, E)
    v = linear(value, w_v, b_v)                                    # (S, N, E)

    if attn_mask is not None:
        attn_mask = _heads_attn_mask(attn_mask, L, k.shape[0], N, num_heads)  # (1|N, 1|H, L, S)
    if bias_k is not None and bias_v is not None:  # one more key and value, learned
        for static, static_name in ((static_k, "static_k"), (static_v, "static_v")):
            if static is not None:  # the given keys would replace the one appended here
                raise ValueError(f"{name}: bias cannot be added to {static_name} "
                                 "(bias_k and bias_v need static_k = static_v = None)")
        k = cat([k, bias_k.expand(1, N, embed_dim)])               # (S + 1, N, E)
        v = cat([v, bias_v.expand(1, N, embed_dim)])               # (S + 1, N, E)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))

    q = _split_heads(q, num_heads)                                 # (N, H, L, d)
    k = _split_heads(k, num_heads)                                 # (N, H, S, d)
    v = _split_heads(v, num_heads)                                 # (N, H, S, d)
    if static_k is not None:  # keys given per head, used as they are
        k = _static_heads(static_k, N, num_heads, head_dim, "static_k")
    if static_v is not None:
        v = _static_heads(static_v, N, num_heads, head_dim, "static_v")
    if add_zero_attn:  # one more key and value, all zeros
        zeros = Tensor(backend.get_xp(k.device).zeros((N, num_heads, 1, head_dim), k.dtype),
                       device=k.device)
        k = cat([k, zeros], 2)                                     # (N, H, S + 1, d)
        v = cat([v, zeros], 2)                                     # (N, H, S + 1, d)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    S = k.shape[2]

    if key_padding_mask is not None:  # merged into attn_mask: −inf on the padded keys
        if tuple(key_padding_mask.shape) != (N, S):
            raise ValueError(f"{name}: expected key_padding_mask of shape {(N, S)} (N, S), got "
                             f"{key_padding_mask.shape}")
        padding = key_padding_mask.reshape(N, 1, 1, S)             # (N, 1, 1, S)
        attn_mask = padding if attn_mask is None else attn_mask + padding
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(head_dim))  # (N, H, L, S)
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = scores.softmax(-1)                               # (N, H, L, S)
        if dropout_p > 0.0:
            weights = _dropout(weights, dropout_p)
        heads = weights @ v                                        # (N, H, L, d)
    else:
        weights = None
        heads = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    joined = heads.permute(2, 0, 1, 3).reshape(L, N, embed_dim)    # (L, N, H·d)
    output = linear(joined, out_proj_weight, out_proj_bias)        # (L, N, E)

    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)                              # (N, L, S)
    if not is_batched:
        output = output.squeeze(1)                                 # (L, E)
        weights = None if weights is None else weights.squeeze(0)  # (L, S) or (H, L, S)
    return output, weights


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    """True for batched input (3-D query), False for unbatched (2-D); else an error."""
    name = "multi_head_attention_forward"
    if query.ndim not in (2, 3):
        raise ValueError(f"{name}: query should be unbatched 2D or batched 3D, got a "
                         f"{query.ndim}-D query of shape {query.shape}")
    is_batched = query.ndim == 3
    kind = "batched (3-D)" if is_batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"{name}: for {kind} query, expected key and value to be "
                         f"{query.ndim}-D, got shapes {key.shape} and {value.shape}")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise ValueError(f"{name}: for {kind} query, expected key_padding_mask to be None or "
                         f"{query.ndim - 1}-D, got shape {key_padding_mask.shape}")
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise ValueError(f"{name}: expected attn_mask to be None, 2-D or 3-D, got shape "
                         f"{attn_mask.shape}")
    if not is_batched and attn_mask is not None and attn_mask.ndim == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if tuple(attn_mask.shape) != expected:
            raise RuntimeError(f"{name}: expected attn_mask of shape {expected} "
                               f"(num_heads, L, S), got {attn_mask.shape}")
    return is_batched


def _canonical_mask(mask, mask_name: str, other, other_name: str, dtype):
    """A float mask to add to the scores: a bool mask (True: masked) becomes −inf where
    True and 0 elsewhere; a float mask is kept, in the query's dtype."""
    if mask is None:
        return None
    if mask.dtype != backend.bool_ and not backend.is_floating(mask.dtype):
        raise TypeError(f"multi_head_attention_forward: only bool and floating types of "
                        f"{mask_name} are supported, got {mask.dtype}")
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. "
                      "Use same type for both instead.")
    if mask.dtype != backend.bool_:
        return mask if mask.dtype == dtype else mask.astype(dtype)
    zeros = Tensor(backend.get_xp(mask.device).zeros(mask.shape, dtype), device=mask.device)
    return zeros.masked_fill(mask, -math.inf)


def _heads_attn_mask(attn_mask: Tensor, L: int, S: int, N: int, num_heads: int) -> Tensor:
    """``(L, S) -> (1, 1, L, S)`` (every batch and head) or ``(N·H, L, S) -> (N, H, L, S)``
    (PyTorch's 3-D layout: row n·H + h is batch n, head h)."""
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (L, S):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should "
                               f"be {(L, S)}.")
        return attn_mask.reshape(1, 1, L, S)
    if tuple(attn_mask.shape) != (N * num_heads, L, S):
        raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                           f"{(N * num_heads, L, S)}.")
    return attn_mask.reshape(N, num_heads, L, S)


def _split_heads(x: Tensor, num_heads: int) -> Tensor:
    """``(T, N, E) -> (N, H, T, E/H)``: head h holds features h·d to h·d + d − 1."""
    T, N, E = x.shape
    return x.reshape(T, N, num_heads, E // num_heads).permute(1, 2, 0, 3)


def _static_heads(static: Tensor, N: int, num_heads: int, head_dim: int, name: str) -> Tensor:
    """A given key or value ``(N·H, S, d)`` (no in-projection) as ``(N, H, S, d)``."""
    if static.ndim != 3 or static.shape[0] != N * num_heads or static.shape[2] != head_dim:
        raise ValueError(f"multi_head_attention_forward: expected {name} of shape "
                         f"({N * num_heads}, S, {head_dim}), got {static.shape}")
    return static.reshape(N, num_heads, static.shape[1], head_dim)
