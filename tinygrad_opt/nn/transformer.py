"""The Transformer layers: ``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer`` /
``nn.TransformerDecoderLayer``, the stacks ``nn.TransformerEncoder`` / ``nn.TransformerDecoder``
and ``nn.Transformer`` (Vaswani et al., 2017), around the functions of ``nn/attention.py``
(read that file first: its docstring has the math and the two mask conventions).

Only ``nn/__init__.py`` imports this file; ``nn.functional`` imports ``nn/attention.py``,
which holds no Module, so neither import runs in a circle.
"""

from __future__ import annotations

import copy
import math
import operator

from tinygrad_opt import backend
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.attention import multi_head_attention_forward
from tinygrad_opt.nn.layers import Dropout, Linear
from tinygrad_opt.nn.module import Module, ModuleList, empty_parameter
from tinygrad_opt.nn.normalization import LayerNorm
from tinygrad_opt.tensor import Tensor

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
           "TransformerDecoderLayer", "TransformerDecoder", "Transformer"]


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017), PyTorch's ``nn.MultiheadAttention``::

        head_h = softmax((query Wq_hᵀ + bq_h)(key Wk_hᵀ + bk_h)ᵀ / √d + M)(value Wv_hᵀ + bv_h)
        output = concat(head_1, ..., head_H) Woᵀ + bo          d = embed_dim / num_heads

    H heads attend in parallel, each in its own d-dimensional projection, so one
    query can look for several things at once at the cost of one full-width attention.

    Parameters, PyTorch's names and layout (state dicts load from PyTorch):
    ``in_proj_weight`` ``(3E, E)`` = [Wq; Wk; Wv] when kdim = vdim = E, else
    ``q_proj_weight`` ``(E, E)``, ``k_proj_weight`` ``(E, kdim)``, ``v_proj_weight``
    ``(E, vdim)``; ``in_proj_bias`` ``(3E,)`` = [bq; bk; bv]; ``out_proj`` a Linear(E, E);
    with ``add_bias_kv``, ``bias_k`` and ``bias_v`` ``(1, 1, E)``, a learned key and
    value appended to every sequence. ``add_zero_attn`` appends a key and value of zeros.
    Initialisation as PyTorch: Xavier uniform for the in-projection, zero biases, Xavier
    normal for bias_k and bias_v, Linear's default for ``out_proj.weight``.

    ``forward(query, key, value)``: ``(L, N, E)``, ``(S, N, kdim)``, ``(S, N, vdim)``
    (``(N, L, E)``... with ``batch_first=True``; ``(L, E)``... unbatched) -> ``(output,
    weights)``, output shaped as query, weights ``(N, L, S)`` averaged over heads,
    ``(N, H, L, S)`` with ``average_attn_weights=False``, None if ``need_weights=False``.
    Masks: ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N·H, L, S)``;
    bool True = masked out, float = added to the scores. ``dropout`` drops attention
    weights in training only. ``is_causal=True`` is a hint that ``attn_mask`` is the
    causal mask, which must still be given.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than "
                             f"0, got embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty_parameter((3 * embed_dim, embed_dim), device, dtype)
            for unused in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(unused, None)
        else:
            self.q_proj_weight = empty_parameter((embed_dim, embed_dim), device, dtype)
            self.k_proj_weight = empty_parameter((embed_dim, self.kdim), device, dtype)
            self.v_proj_weight = empty_parameter((embed_dim, self.vdim), device, dtype)
            self.register_parameter("in_proj_weight", None)
        self.register_parameter("in_proj_bias", empty_parameter((3 * embed_dim,), device, dtype)
                                if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        if add_bias_kv:
            self.bias_k = empty_parameter((1, 1, embed_dim), device, dtype)
            self.bias_v = empty_parameter((1, 1, embed_dim), device, dtype)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)  # fan_in E, fan_out 3E, as PyTorch
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        is_batched = query.ndim == 3
        if self.batch_first and is_batched:  # (N, L, E) -> (L, N, E)
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        output, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads,
            self.in_proj_weight, self.in_proj_bias, self.bias_k, self.bias_v,
            self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and is_batched:
            output = output.transpose(0, 1)  # (L, N, E) -> (N, L, E)
        return output, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"


# ------------------------------------------------------------------ Transformer layers

def _get_activation_fn(activation):
    """``'relu'`` -> F.relu, ``'gelu'`` -> F.gelu; a callable (or Module) is kept."""
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward network, each with a residual connection and
    LayerNorm (PyTorch's ``nn.TransformerEncoderLayer``)::

        SA(x) = dropout1(self_attn(x, x, x, src_mask, src_key_padding_mask))
        FF(x) = dropout2(linear2(dropout(activation(linear1(x)))))
        norm_first=False (post-norm, the paper):  x = norm1(x + SA(x));  y = norm2(x + FF(x))
        norm_first=True  (pre-norm):              x = x + SA(norm1(x));  y = x + FF(norm2(x))

    linear1: d_model -> dim_feedforward, linear2: back to d_model. Pre-norm keeps an
    identity path from input to output, so deep stacks train without warm-up.
    ``activation``: 'relu', 'gelu' or a callable. Input ``(S, N, E)``, ``(N, S, E)``
    with ``batch_first``, or ``(S, E)``; masks as in ``MultiheadAttention`` (bool True =
    masked out). Submodule names are PyTorch's, so state dicts match.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _get_activation_fn(activation)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's output (``memory``), then a
    feed-forward network, each with a residual connection and LayerNorm (PyTorch's
    ``nn.TransformerDecoderLayer``)::

        SA(x)    = dropout1(self_attn(x, x, x, tgt_mask, tgt_key_padding_mask))
        MHA(x)   = dropout2(multihead_attn(x, memory, memory, memory_mask,
                                           memory_key_padding_mask))
        FF(x)    = dropout3(linear2(dropout(activation(linear1(x)))))
        post-norm: x = norm1(x + SA(x));  x = norm2(x + MHA(x));  y = norm3(x + FF(x))
        pre-norm:  x = x + SA(norm1(x));  x = x + MHA(norm2(x));  y = x + FF(norm3(x))

    tgt ``(T, N, E)`` and memory ``(S, N, E)`` (``batch_first``: N first; or unbatched);
    ``tgt_mask`` is usually the causal mask, so position t only sees targets up to t.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        options = dict(dropout=dropout, bias=bias, batch_first=batch_first, device=device,
                       dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, **options)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **options)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation_fn(activation)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _check_has_layers(stack: Module) -> None:
    """A stack of no layers is refused when run, as PyTorch (its forward reads
    ``self.layers[0]``) rather than silently returning its input."""
    if len(stack.layers) == 0:
        raise IndexError(f"{type(stack).__name__}: num_layers is 0, there is no layer to run "
                         "(give num_layers >= 1)")


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn (each trains its
    own weights), then ``norm`` if given: ``y = norm(layer_n(...layer_1(src)))``.
    State-dict keys ``layers.0.self_attn.in_proj_weight``, ... as PyTorch.
    ``enable_nested_tensor`` and ``mask_check`` are kept as attributes, as PyTorch, and
    change nothing (there are no nested tensors here). ``is_causal=None`` means
    False: PyTorch would compare ``mask`` with the causal mask to set this speed hint,
    which never changes the result."""

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        _check_has_layers(self)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        return output if self.norm is None else self.norm(output)


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer``, each given the same ``memory``
    and masks, then ``norm`` if given (PyTorch's ``nn.TransformerDecoder``)."""

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        _check_has_layers(self)
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """The encoder-decoder Transformer (PyTorch's ``nn.Transformer``)::

        memory = encoder(src, src_mask, src_key_padding_mask)
        output = decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                         memory_key_padding_mask)

    ``encoder``: ``num_encoder_layers`` TransformerEncoderLayers and a final LayerNorm;
    ``decoder``: ``num_decoder_layers`` TransformerDecoderLayers and a final LayerNorm
    (or ``custom_encoder`` / ``custom_decoder``). Every parameter with more than one dim
    is then re-drawn Xavier uniform, as PyTorch. src ``(S, N, E)``, tgt ``(T, N, E)``
    (N first with ``batch_first``) -> ``(T, N, E)``. It has no embedding or output layer.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        options = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                       layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                       norm_first=norm_first, bias=bias, device=device, dtype=dtype)
        norm_options = dict(eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **options)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, **norm_options))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **options)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, **norm_options))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        for parameter in self.parameters():
            if parameter.ndim > 1:
                init.xavier_uniform_(parameter)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError(f"the batch number of src and tgt must be equal, got shapes "
                               f"{src.shape} and {tgt.shape}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model "
                               f"{self.d_model}, got shapes {src.shape} and {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """The causal float mask ``(sz, sz)``: −inf above the diagonal (the future), 0 on and
        below it; pass it as ``tgt_mask`` (or ``src_mask``)."""
        name = "Transformer.generate_square_subsequent_mask"
        try:
            sz = operator.index(sz)
        except TypeError:
            raise TypeError(f"{name}: sz must be an int, got {sz!r}") from None
        if sz < 0:
            raise RuntimeError(f"{name}: sz must be non-negative, got {sz}")
        xp = backend.get_xp(device or "cpu")
        dtype = backend.float32 if dtype is None else backend.as_dtype(dtype)
        if dtype.kind in "iu":  # −inf has no integer value (PyTorch: overflow error)
            raise RuntimeError(f"{name}: dtype must be floating or bool (−inf fills the "
                               f"masked entries), got {dtype}")
        future = xp.triu(xp.ones((sz, sz), dtype=backend.bool_), 1)   # True above the diagonal
        mask = xp.where(future, -math.inf, 0.0).astype(dtype)
        return Tensor(mask, device=device or "cpu")
