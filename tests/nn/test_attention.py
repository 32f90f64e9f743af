"""scaled_dot_product_attention, MultiheadAttention and the Transformer layers: values
against NumPy transcriptions of the math written here (one head at a time, in loops),
masks of every kind, gradcheck in float64, PyTorch's parameter names and initialisation,
dropout only in training, and a one-layer encoder that learns a task needing attention."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn, optim


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def params_of(module):
    """name -> host array of every state-dict entry."""
    return {name: tensor.numpy() for name, tensor in module.state_dict().items()}


# ------------------------------------------------------------------ NumPy references

def np_softmax(z):
    """softmax over the last axis; a row of only −inf gives NaN (0/0), as the plain formula."""
    with np.errstate(invalid="ignore"):
        shifted = z - z.max(-1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(-1, keepdims=True)


def np_attention(q, k, v, additive=0.0, scale=None):
    """softmax(q kᵀ · scale + additive) v for q (L, E), k (S, E), v (S, Ev)."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    weights = np_softmax(q @ k.T * scale + additive)
    return weights @ v, weights


def np_sdpa(query, key, value, additive=None, scale=None):
    """Batched over the leading dims (equal for q, k, v), one attention at a time."""
    lead = query.shape[:-2]
    out = np.zeros(lead + (query.shape[-2], value.shape[-1]))
    for index in np.ndindex(*lead):
        bias = 0.0 if additive is None else np.broadcast_to(
            additive, lead + (query.shape[-2], key.shape[-2]))[index]
        out[index] = np_attention(query[index], key[index], value[index], bias, scale)[0]
    return out


def np_mha(query, key, value, p, num_heads, additive=None, zero_attn=False):
    """Multi-head attention, sequence first: query (L, N, E), key (S, N, kdim), value
    (S, N, vdim); p holds Wq, Wk, Wv, bq, bk, bv, Wo, bo (and bias_k, bias_v if any);
    additive (N, H, L, S'), S' counting the appended keys. -> out (L, N, E), weights
    (N, H, L, S')."""
    L, N, E = query.shape
    d = E // num_heads
    q = query @ p["Wq"].T + p["bq"]
    k = key @ p["Wk"].T + p["bk"]
    v = value @ p["Wv"].T + p["bv"]
    if "bias_k" in p:
        k = np.concatenate([k, np.broadcast_to(p["bias_k"], (1, N, E))])
        v = np.concatenate([v, np.broadcast_to(p["bias_v"], (1, N, E))])
    out = np.zeros((L, N, E))
    weights = np.zeros((N, num_heads, L, k.shape[0] + zero_attn))
    for n in range(N):
        heads = []
        for h in range(num_heads):
            cols = slice(h * d, (h + 1) * d)
            k_h, v_h = k[:, n, cols], v[:, n, cols]
            if zero_attn:
                k_h = np.vstack([k_h, np.zeros((1, d))])
                v_h = np.vstack([v_h, np.zeros((1, d))])
            bias = 0.0 if additive is None else additive[n, h]
            head, weights[n, h] = np_attention(q[:, n, cols], k_h, v_h, bias)
            heads.append(head)
        out[:, n, :] = np.concatenate(heads, axis=1) @ p["Wo"].T + p["bo"]
    return out, weights


def mha_params(state, prefix=""):
    """The NumPy names of a MultiheadAttention's state dict (packed or separate weights)."""
    E = state[prefix + "out_proj.weight"].shape[0]
    if prefix + "in_proj_weight" in state:
        Wq, Wk, Wv = np.split(state[prefix + "in_proj_weight"], 3)
    else:
        Wq, Wk, Wv = (state[prefix + f"{x}_proj_weight"] for x in "qkv")
    biases = state.get(prefix + "in_proj_bias", np.zeros(3 * E))
    p = dict(Wq=Wq, Wk=Wk, Wv=Wv, bq=biases[:E], bk=biases[E:2 * E], bv=biases[2 * E:],
             Wo=state[prefix + "out_proj.weight"],
             bo=state.get(prefix + "out_proj.bias", np.zeros(E)))
    for name in ("bias_k", "bias_v"):
        if prefix + name in state:
            p[name] = state[prefix + name]
    return p


def np_layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def np_relu(x):
    return np.maximum(x, 0)


def np_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def np_encoder_layer(x, s, prefix, num_heads, norm_first, activation=np_relu, additive=None):
    """Post-norm (the paper) or pre-norm encoder layer, sequence first: x (S, N, E)."""
    mha = mha_params(s, prefix + "self_attn.")

    def norm(y, i):
        return np_layer_norm(y, s[f"{prefix}norm{i}.weight"], s[f"{prefix}norm{i}.bias"])

    def self_attention(y):
        return np_mha(y, y, y, mha, num_heads, additive)[0]

    def feed_forward(y):
        hidden = activation(y @ s[prefix + "linear1.weight"].T + s[prefix + "linear1.bias"])
        return hidden @ s[prefix + "linear2.weight"].T + s[prefix + "linear2.bias"]

    if norm_first:
        x = x + self_attention(norm(x, 1))
        return x + feed_forward(norm(x, 2))
    x = norm(x + self_attention(x), 1)
    return norm(x + feed_forward(x), 2)


def np_decoder_layer(x, memory, s, num_heads, norm_first, tgt_additive, memory_additive):
    """Decoder layer, sequence first: x (T, N, E), memory (S, N, E)."""
    self_p, cross_p = mha_params(s, "self_attn."), mha_params(s, "multihead_attn.")

    def norm(y, i):
        return np_layer_norm(y, s[f"norm{i}.weight"], s[f"norm{i}.bias"])

    def self_attention(y):
        return np_mha(y, y, y, self_p, num_heads, tgt_additive)[0]

    def cross_attention(y):
        return np_mha(y, memory, memory, cross_p, num_heads, memory_additive)[0]

    def feed_forward(y):
        hidden = np_relu(y @ s["linear1.weight"].T + s["linear1.bias"])
        return hidden @ s["linear2.weight"].T + s["linear2.bias"]

    if norm_first:
        x = x + self_attention(norm(x, 1))
        x = x + cross_attention(norm(x, 2))
        return x + feed_forward(norm(x, 3))
    x = norm(x + self_attention(x), 1)
    x = norm(x + cross_attention(x), 2)
    return norm(x + feed_forward(x), 3)


def padding_additive(key_padding_mask, num_heads, L):
    """(N, S) bool, True = padding -> (N, H, L, S) additive: −inf on the padded keys."""
    N, S = key_padding_mask.shape
    additive = np.where(key_padding_mask, -np.inf, 0.0)[:, None, None, :]
    return np.broadcast_to(additive, (N, num_heads, L, S))


# ------------------------------------------------------------------ scaled_dot_product_attention

def test_sdpa_matches_numpy_with_broadcast_batch_dims_and_scale(device, rng):
    q, k, v = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 6, 5)), rng.normal(
        size=(2, 3, 6, 7))
    out = F.scaled_dot_product_attention(as_tensor(q, device), as_tensor(k, device),
                                         as_tensor(v, device))
    assert out.shape == (2, 3, 4, 7) and out.device == device
    np.testing.assert_allclose(out.numpy(), np_sdpa(q, k, v), rtol=1e-10, atol=1e-12)
    scaled = F.scaled_dot_product_attention(as_tensor(q, device), as_tensor(k, device),
                                            as_tensor(v, device), scale=0.3)
    np.testing.assert_allclose(scaled.numpy(), np_sdpa(q, k, v, scale=0.3), rtol=1e-10)
    # a key and value shared by every head (dim 1 of size 1) broadcasts as in matmul
    shared = F.scaled_dot_product_attention(as_tensor(q, device), as_tensor(k[:, :1], device),
                                            as_tensor(v[:, :1], device))
    expected = np_sdpa(q, np.repeat(k[:, :1], 3, 1), np.repeat(v[:, :1], 3, 1))
    np.testing.assert_allclose(shared.numpy(), expected, rtol=1e-10)


def test_sdpa_boolean_mask_true_takes_part_and_float_mask_is_added(device, rng):
    q, k, v = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 5, 2))
    takes_part = rng.random((4, 5)) < 0.6
    takes_part[:, 0] = True                                   # no row fully masked here
    out = F.scaled_dot_product_attention(as_tensor(q, device), as_tensor(k, device),
                                         as_tensor(v, device), attn_mask=as_tensor(takes_part,
                                                                                   device))
    additive = np.where(takes_part, 0.0, -np.inf)
    np.testing.assert_allclose(out.numpy(), np_sdpa(q, k, v, additive), rtol=1e-10)
    # the same mask as a float mask, and an arbitrary float bias (N, L, S)
    bias = rng.normal(size=(2, 4, 5))
    float_out = F.scaled_dot_product_attention(as_tensor(q, device), as_tensor(k, device),
                                               as_tensor(v, device), as_tensor(bias, device))
    np.testing.assert_allclose(float_out.numpy(), np_sdpa(q, k, v, bias), rtol=1e-10)


@pytest.mark.parametrize("L, S", [(4, 4), (3, 5), (5, 3)])
def test_sdpa_is_causal_is_the_upper_left_lower_triangle(device, rng, L, S):
    q, k, v = rng.normal(size=(2, L, 3)), rng.normal(size=(2, S, 3)), rng.normal(size=(2, S, 3))
    out = F.scaled_dot_product_attention(as_tensor(q, device), as_tensor(k, device),
                                         as_tensor(v, device), is_causal=True)
    sees = np.array([[j <= i for j in range(S)] for i in range(L)])  # query i: keys 0..i
    np.testing.assert_allclose(out.numpy(), np_sdpa(q, k, v, np.where(sees, 0.0, -np.inf)),
                               rtol=1e-10)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_row_gives_zero_output_and_zero_gradients(device, rng, kind):
    q = as_tensor(rng.normal(size=(3, 2)), device, requires_grad=True)
    k = as_tensor(rng.normal(size=(4, 2)), device, requires_grad=True)
    v = as_tensor(rng.normal(size=(4, 2)), device, requires_grad=True)
    takes_part = np.ones((3, 4), dtype=bool)
    takes_part[1] = False                                     # query 1 sees no key
    takes_part[2, 3] = False
    mask = takes_part if kind == "bool" else np.where(takes_part, 0.0, -np.inf)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=as_tensor(mask, device))
    expected = np_sdpa(q.numpy(), k.numpy(), v.numpy(), np.where(takes_part, 0.0, -np.inf))
    expected[1] = 0.0                                         # PyTorch's "safe softmax"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-15)
    out.sum().backward()
    for tensor in (q, k, v):
        assert np.isfinite(tensor.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[1], 0.0)   # the masked query learns nothing


def test_sdpa_gradcheck_and_gradgradcheck_with_masks(device, rng):
    q = as_tensor(rng.normal(size=(2, 3, 2)), device, requires_grad=True)
    k = as_tensor(rng.normal(size=(2, 4, 2)), device, requires_grad=True)
    v = as_tensor(rng.normal(size=(2, 4, 3)), device, requires_grad=True)
    bias = as_tensor(rng.normal(size=(3, 4)), device, requires_grad=True)
    takes_part = as_tensor(np.array([[1, 0, 1, 1], [1, 1, 0, 0], [0, 1, 1, 1]], bool), device)
    assert tg.gradcheck(lambda *xs: F.scaled_dot_product_attention(*xs), (q, k, v, bias))
    assert tg.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(
        a, b, c, attn_mask=takes_part, scale=0.7), (q, k, v))
    assert tg.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(
        a, b, c, is_causal=True), (q, k, v))
    assert tg.gradgradcheck(lambda *xs: F.scaled_dot_product_attention(*xs), (q, k, v, bias))


def test_sdpa_dropout_zeroes_weights_or_scales_them_and_follows_the_seed(device, rng):
    q, k = as_tensor(rng.normal(size=(6, 3)), device), as_tensor(rng.normal(size=(5, 3)), device)
    identity = as_tensor(np.eye(5), device)                   # output = the attention weights
    weights = np_sdpa(q.numpy(), k.numpy(), np.eye(5))
    tg.manual_seed(7)
    dropped = F.scaled_dot_product_attention(q, k, identity, dropout_p=0.5).numpy()
    kept = dropped != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(dropped[kept], weights[kept] / 0.5, rtol=1e-10)
    tg.manual_seed(7)
    again = F.scaled_dot_product_attention(q, k, identity, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(again, dropped)


def test_sdpa_grouped_query_attention_repeats_each_key_head(device, rng):
    q, k, v = rng.normal(size=(1, 4, 3, 2)), rng.normal(size=(1, 2, 5, 2)), rng.normal(
        size=(1, 2, 5, 2))
    out = F.scaled_dot_product_attention(as_tensor(q, device), as_tensor(k, device),
                                         as_tensor(v, device), enable_gqa=True)
    expected = np_sdpa(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))  # heads 0,0,1,1
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)


def test_sdpa_errors_name_the_problem(device, rng):
    q, k = as_tensor(rng.normal(size=(3, 2)), device), as_tensor(rng.normal(size=(4, 2)), device)
    causal = as_tensor(np.ones((3, 4), bool), device)
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=causal, is_causal=True)
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(3, 3\)"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=as_tensor(np.ones((3, 3), bool),
                                                                     device))
    with pytest.raises(TypeError, match="bool or floating"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=as_tensor(np.ones((3, 4), int),
                                                                     device))
    with pytest.raises(ValueError, match=r"\(3, 2\), \(4, 3\)"):
        F.scaled_dot_product_attention(q, as_tensor(rng.normal(size=(4, 3)), device), k)


# ------------------------------------------------------------------ MultiheadAttention

def test_mha_state_dict_keys_and_shapes_are_pytorchs():
    def keys(module):
        return {name: tuple(t.shape) for name, t in module.state_dict().items()}
    assert keys(nn.MultiheadAttention(8, 2)) == {
        "in_proj_weight": (24, 8), "in_proj_bias": (24,),
        "out_proj.weight": (8, 8), "out_proj.bias": (8,)}
    assert list(keys(nn.MultiheadAttention(8, 2, kdim=3, vdim=5))) == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
        "out_proj.weight", "out_proj.bias"]
    assert keys(nn.MultiheadAttention(8, 2, kdim=3, vdim=5))["v_proj_weight"] == (8, 5)
    assert list(keys(nn.MultiheadAttention(8, 2, add_bias_kv=True))) == [
        "in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight",
        "out_proj.bias"]
    assert list(keys(nn.MultiheadAttention(8, 2, bias=False))) == [
        "in_proj_weight", "out_proj.weight"]
    mha = nn.MultiheadAttention(8, 2)
    assert mha.head_dim == 4 and mha._qkv_same_embed_dim and mha.bias_k is None
    assert mha.q_proj_weight is None and isinstance(mha.out_proj, nn.Linear)


def test_mha_initialisation_is_xavier_uniform_with_zero_biases():
    mha = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    weight = mha.in_proj_weight.numpy()
    bound = math.sqrt(6 / (64 + 3 * 64))                     # fan_in E, fan_out 3E
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.95 * bound
    assert abs(weight.std() - bound / math.sqrt(3)) < 0.05 * bound
    np.testing.assert_array_equal(mha.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(mha.out_proj.bias.numpy(), 0.0)
    out_bound = 1 / math.sqrt(64)                             # Linear's default
    assert np.abs(mha.out_proj.weight.numpy()).max() <= out_bound
    bias_k = mha.bias_k.numpy()                               # xavier normal: std √(2/(E+E))
    assert 0.5 / math.sqrt(64) < bias_k.std() < 1.5 / math.sqrt(64)
    separate = nn.MultiheadAttention(8, 2, kdim=4)
    k_bound = math.sqrt(6 / (4 + 8))
    assert np.abs(separate.k_proj_weight.numpy()).max() <= k_bound


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_matches_numpy_heads(device, rng, batch_first):
    E, H, L, S, N = 6, 3, 4, 5, 2
    mha = nn.MultiheadAttention(E, H, batch_first=batch_first, dtype=tg.float64, device=device)
    with tg.no_grad():
        mha.in_proj_bias.copy_(as_tensor(rng.normal(size=3 * E), device))  # non-zero biases
        mha.out_proj.bias.copy_(as_tensor(rng.normal(size=E), device))
    query, key, value = rng.normal(size=(L, N, E)), rng.normal(size=(S, N, E)), rng.normal(
        size=(S, N, E))
    expected, expected_weights = np_mha(query, key, value, mha_params(params_of(mha)), H)

    def arranged(x):  # (T, N, E) in the layout the module expects
        return as_tensor(x.transpose(1, 0, 2) if batch_first else x, device)

    out, weights = mha(arranged(query), arranged(key), arranged(value))
    got = out.numpy().transpose(1, 0, 2) if batch_first else out.numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), expected_weights.mean(1), rtol=1e-10)
    _, per_head = mha(arranged(query), arranged(key), arranged(value),
                      average_attn_weights=False)
    np.testing.assert_allclose(per_head.numpy(), expected_weights, rtol=1e-10)
    out_fast, none = mha(arranged(query), arranged(key), arranged(value), need_weights=False)
    assert none is None
    np.testing.assert_allclose(out_fast.numpy(), out.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # bool and float masks
def test_mha_unbatched_equals_a_batch_of_one(device, rng):
    mha = nn.MultiheadAttention(4, 2, dtype=tg.float64, device=device)
    query, key = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    padding = np.array([False, True, False, False, True])
    per_head = np.zeros((2, 3, 5))
    per_head[1, 0, 2] = -np.inf                               # (H, L, S): head 1 only
    out, weights = mha(as_tensor(query, device), as_tensor(key, device), as_tensor(key, device),
                       key_padding_mask=as_tensor(padding, device),
                       attn_mask=as_tensor(per_head, device), average_attn_weights=False)
    assert out.shape == (3, 4) and weights.shape == (2, 3, 5)
    additive = padding_additive(padding[None], 2, 3) + per_head[None]
    expected, expected_weights = np_mha(query[:, None], key[:, None], key[:, None],
                                        mha_params(params_of(mha)), 2, additive)
    np.testing.assert_allclose(out.numpy(), expected[:, 0], rtol=1e-10)
    np.testing.assert_allclose(weights.numpy(), expected_weights[0], rtol=1e-10)


def test_mha_masks_bool_true_is_masked_out_float_is_added(device, rng):
    E, H, L, S, N = 4, 2, 3, 4, 2
    mha = nn.MultiheadAttention(E, H, dtype=tg.float64, device=device)
    query, key = rng.normal(size=(L, N, E)), rng.normal(size=(S, N, E))
    padding = np.array([[False, False, True, False], [False, False, False, True]])
    future = np.triu(np.ones((L, S), bool), 1)               # (L, S), True above the diagonal
    p = mha_params(params_of(mha))
    q, k = as_tensor(query, device), as_tensor(key, device)
    for need_weights in (True, False):
        out, _ = mha(q, k, k, key_padding_mask=as_tensor(padding, device),
                     attn_mask=as_tensor(future, device), need_weights=need_weights)
        additive = padding_additive(padding, H, L) + np.where(future, -np.inf, 0.0)
        np.testing.assert_allclose(out.numpy(), np_mha(query, key, key, p, H, additive)[0],
                                   rtol=1e-10)
    bias = rng.normal(size=(N * H, L, S))                      # 3-D float: row n·H + h
    float_padding = np.where(padding, -1e9, 0.0)
    out, weights = mha(q, k, k, key_padding_mask=as_tensor(float_padding, device),
                       attn_mask=as_tensor(bias, device), average_attn_weights=False)
    additive = bias.reshape(N, H, L, S) + float_padding[:, None, None, :]
    expected, expected_weights = np_mha(query, key, key, p, H, additive)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-10)
    assert weights.numpy()[0, :, :, 2].max() < 1e-12         # padded key 2 of batch 0


def test_mha_fully_masked_query_nan_with_weights_bias_without(device, rng):
    """As PyTorch: the need_weights path takes a plain softmax (0/0 = NaN), the other one
    goes through scaled_dot_product_attention (weights 0, so the output is out_proj's bias)."""
    mha = nn.MultiheadAttention(4, 2, dtype=tg.float64, device=device)
    with tg.no_grad():
        mha.out_proj.bias.copy_(as_tensor([1.0, 2.0, 3.0, 4.0], device))
    x = as_tensor(rng.normal(size=(3, 1, 4)), device)
    blocked = np.zeros((3, 3), bool)
    blocked[1] = True                                          # query 1 sees no key
    out, _ = mha(x, x, x, attn_mask=as_tensor(blocked, device), need_weights=False)
    np.testing.assert_allclose(out.numpy()[1, 0], [1.0, 2.0, 3.0, 4.0], rtol=1e-12)
    assert np.isfinite(out.numpy()[[0, 2]]).all()
    with np.errstate(divide="ignore", invalid="ignore"):     # the 0/0 of the plain softmax
        out, weights = mha(x, x, x, attn_mask=as_tensor(blocked, device))
    assert np.isnan(out.numpy()[1]).all() and np.isnan(weights.numpy()[0, 1]).all()
    assert np.isfinite(out.numpy()[[0, 2]]).all()


def test_mha_is_causal_is_a_hint_that_needs_the_mask(device, rng):
    mha = nn.MultiheadAttention(4, 2, dtype=tg.float64, device=device)
    x = as_tensor(rng.normal(size=(4, 2, 4)), device)
    causal = nn.Transformer.generate_square_subsequent_mask(4, device=device, dtype=tg.float64)
    with_mask, _ = mha(x, x, x, attn_mask=causal, need_weights=False)
    hinted, _ = mha(x, x, x, attn_mask=causal, need_weights=False, is_causal=True)
    np.testing.assert_allclose(hinted.numpy(), with_mask.numpy(), rtol=1e-10)
    expected = np_mha(x.numpy(), x.numpy(), x.numpy(), mha_params(params_of(mha)), 2,
                      np.broadcast_to(causal.numpy(), (2, 2, 4, 4)))[0]
    np.testing.assert_allclose(hinted.numpy(), expected, rtol=1e-10)
    with pytest.raises(RuntimeError, match="need attn_mask"):
        mha(x, x, x, is_causal=True)


def test_mha_kdim_vdim_bias_kv_and_zero_attn_match_numpy(device, rng):
    E, H, L, S, N = 4, 2, 3, 5, 2
    mha = nn.MultiheadAttention(E, H, kdim=3, vdim=6, add_bias_kv=True, add_zero_attn=True,
                                dtype=tg.float64, device=device)
    query, key, value = rng.normal(size=(L, N, E)), rng.normal(size=(S, N, 3)), rng.normal(
        size=(S, N, 6))
    padding = np.zeros((N, S), bool)
    padding[1, 0] = True
    out, weights = mha(as_tensor(query, device), as_tensor(key, device),
                       as_tensor(value, device), key_padding_mask=as_tensor(padding, device),
                       average_attn_weights=False)
    assert weights.shape == (N, H, L, S + 2)                   # + bias_k + the zero key
    padded = np.concatenate([padding, np.zeros((N, 2), bool)], axis=1)  # appended: never masked
    expected, expected_weights = np_mha(query, key, value, mha_params(params_of(mha)), H,
                                        padding_additive(padded, H, L), zero_attn=True)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-10)


def test_mha_forward_static_key_and_value_replace_the_projections(device, rng):
    """static_k / static_v ``(N·H, S, d)`` are used as the heads' keys and values as given."""
    E, H, L, S, N = 4, 2, 3, 5, 2
    mha = nn.MultiheadAttention(E, H, dtype=tg.float64, device=device)
    p = mha_params(params_of(mha))
    query, key = rng.normal(size=(L, N, E)), rng.normal(size=(S, N, E))
    static_k, static_v = rng.normal(size=(N * H, S, 2)), rng.normal(size=(N * H, S, 2))
    out, weights = F.multi_head_attention_forward(
        as_tensor(query, device), as_tensor(key, device), as_tensor(key, device), E, H,
        mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0, mha.out_proj.weight,
        mha.out_proj.bias, static_k=as_tensor(static_k, device),
        static_v=as_tensor(static_v, device), average_attn_weights=False)
    q = query @ p["Wq"].T + p["bq"]
    for n in range(N):
        heads = []
        for h in range(H):
            head, head_weights = np_attention(q[:, n, 2 * h:2 * h + 2], static_k[n * H + h],
                                              static_v[n * H + h])
            np.testing.assert_allclose(weights.numpy()[n, h], head_weights, rtol=1e-10)
            heads.append(head)
        expected = np.concatenate(heads, axis=1) @ p["Wo"].T + p["bo"]
        np.testing.assert_allclose(out.numpy()[:, n], expected, rtol=1e-10)


def test_mha_gradcheck_of_every_parameter_and_the_input(device, rng):
    mha = nn.MultiheadAttention(4, 2, add_bias_kv=True, dtype=tg.float64, device=device)
    x = as_tensor(rng.normal(size=(3, 1, 4)), device, requires_grad=True)
    padding = as_tensor(np.array([[False, True, False]]), device)
    parameters = list(mha.parameters())
    assert len(parameters) == 6

    def output(*inputs):  # gradcheck perturbs the parameters in place
        return mha(x, x, x, key_padding_mask=padding)[0]

    assert tg.gradcheck(output, parameters + [x])
    assert tg.gradcheck(lambda *inputs: mha(x, x, x, need_weights=False)[0], parameters + [x])


def test_mha_dropout_only_in_training_and_seeded(device, rng):
    mha = nn.MultiheadAttention(4, 2, dropout=0.5, dtype=tg.float64, device=device)
    x = as_tensor(rng.normal(size=(5, 1, 4)), device)
    mha.eval()
    _, clean = mha(x, x, x, average_attn_weights=False)
    expected = np_mha(x.numpy(), x.numpy(), x.numpy(), mha_params(params_of(mha)), 2)[1]
    np.testing.assert_allclose(clean.numpy(), expected, rtol=1e-10)
    mha.train()
    tg.manual_seed(3)
    _, dropped = mha(x, x, x, average_attn_weights=False)
    dropped = dropped.numpy()
    kept = dropped != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(dropped[kept], expected[kept] * 2, rtol=1e-10)
    tg.manual_seed(3)
    np.testing.assert_array_equal(mha(x, x, x, average_attn_weights=False)[1].numpy(), dropped)


def test_mha_errors_name_the_problem(device, rng):
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(0, 1)
    mha = nn.MultiheadAttention(4, 2, device=device)
    x = as_tensor(rng.normal(size=(3, 2, 4)).astype(np.float32), device)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(3, 4\), but should be \(3, 3\)"):
        mha(x, x, x, attn_mask=as_tensor(np.zeros((3, 4), bool), device))
    with pytest.raises(RuntimeError, match=r"3D attn_mask is \(2, 3, 3\), but should be "
                                           r"\(4, 3, 3\)"):
        mha(x, x, x, attn_mask=as_tensor(np.zeros((2, 3, 3), bool), device))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 3\)"):
        mha(x, x, x, key_padding_mask=as_tensor(np.zeros((3, 2), bool), device))
    with pytest.raises(ValueError, match="2D or batched 3D"):
        mha(x[None], x[None], x[None])
    with pytest.raises(ValueError, match="expecting embedding dimension of 4"):
        y = as_tensor(np.zeros((3, 2, 6), np.float32), device)
        mha(y, y, y)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        mha(x, x, x, key_padding_mask=as_tensor(np.zeros((2, 3), bool), device),
            attn_mask=as_tensor(np.zeros((3, 3), np.float32), device))


# ------------------------------------------------------------------ Transformer layers

@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_post_and_pre_norm_match_numpy(device, rng, norm_first):
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, norm_first=norm_first,
                                       dtype=tg.float64, device=device)
    layer.eval()                                               # dropout 0.1 is off
    with tg.no_grad():  # non-trivial LayerNorm parameters
        for name in ("norm1", "norm2"):
            getattr(layer, name).weight.copy_(as_tensor(rng.uniform(0.5, 1.5, 4), device))
            getattr(layer, name).bias.copy_(as_tensor(rng.normal(size=4), device))
    src = rng.normal(size=(5, 2, 4))
    padding = np.array([[False] * 5, [False, False, False, True, True]])
    out = layer(as_tensor(src, device), src_key_padding_mask=as_tensor(padding, device))
    expected = np_encoder_layer(src, params_of(layer), "", 2, norm_first,
                                additive=padding_additive(padding, 2, 5))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_encoder_layer_gelu_callable_batch_first_and_bad_activation(device, rng):
    src = rng.normal(size=(2, 3, 4))                           # (N, S, E)
    for activation, np_activation in (("gelu", np_gelu), (F.gelu, np_gelu), (nn.ReLU(), np_relu)):
        layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, activation=activation,
                                           batch_first=True, dtype=tg.float64, device=device)
        out = layer(as_tensor(src, device))
        expected = np_encoder_layer(src.transpose(1, 0, 2), params_of(layer), "", 2, False,
                                    np_activation).transpose(1, 0, 2)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-12)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")


def test_encoder_layer_state_dict_keys_are_pytorchs():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert list(layer.state_dict()) == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
        "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
        "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
    assert layer.linear1.weight.shape == (16, 8) and layer.dropout.p == 0.1
    assert list(nn.TransformerEncoderLayer(8, 2, 16, bias=False).state_dict()) == [
        "self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight",
        "linear2.weight", "norm1.weight", "norm2.weight"]


def test_encoder_layer_dropout_only_in_training(device, rng):
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.5, device=device)
    src = as_tensor(rng.normal(size=(3, 2, 4)).astype(np.float32), device)
    tg.manual_seed(1)
    first = layer(src).numpy()
    tg.manual_seed(1)
    np.testing.assert_array_equal(layer(src).numpy(), first)       # seeded
    assert not np.allclose(layer(src).numpy(), first)              # a fresh draw differs
    layer.eval()
    expected = np_encoder_layer(src.numpy().astype(np.float64), params_of(layer), "", 2, False)
    np.testing.assert_allclose(layer(src).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_encoder_stacks_deep_copies_then_the_norm(device, rng):
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype=tg.float64, device=device)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(4, dtype=tg.float64,
                                                                device=device))
    first, second = encoder.layers
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.numpy(), layer.linear1.weight.numpy())
    with tg.no_grad():  # the copies are independent: change the second one only
        second.linear1.weight.copy_(as_tensor(rng.normal(size=(6, 4)), device))
    assert not np.allclose(first.linear1.weight.numpy(), second.linear1.weight.numpy())
    keys = list(encoder.state_dict())
    assert keys[0] == "layers.0.self_attn.in_proj_weight" and keys[-2:] == ["norm.weight",
                                                                           "norm.bias"]
    assert len(keys) == 2 * 12 + 2
    src = rng.normal(size=(4, 2, 4))
    causal = nn.Transformer.generate_square_subsequent_mask(4, device, tg.float64)
    out = encoder(as_tensor(src, device), mask=causal, is_causal=True)
    s = params_of(encoder)
    additive = np.broadcast_to(causal.numpy(), (2, 2, 4, 4))
    x = np_encoder_layer(src, s, "layers.0.", 2, False, additive=additive)
    x = np_encoder_layer(x, s, "layers.1.", 2, False, additive=additive)
    np.testing.assert_allclose(out.numpy(), np_layer_norm(x, s["norm.weight"], s["norm.bias"]),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # bool and float masks
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_numpy_with_all_masks(device, rng, norm_first):
    T, S, N, E, H = 3, 4, 2, 4, 2
    layer = nn.TransformerDecoderLayer(E, H, 6, dropout=0.0, norm_first=norm_first,
                                       dtype=tg.float64, device=device)
    tgt, memory = rng.normal(size=(T, N, E)), rng.normal(size=(S, N, E))
    tgt_padding = np.array([[False, False, False], [False, False, True]])
    memory_padding = np.array([[False, True, False, False], [False, False, False, False]])
    memory_mask = rng.normal(size=(T, S))
    causal = nn.Transformer.generate_square_subsequent_mask(T, device, tg.float64)
    out = layer(as_tensor(tgt, device), as_tensor(memory, device), tgt_mask=causal,
                memory_mask=as_tensor(memory_mask, device),
                tgt_key_padding_mask=as_tensor(tgt_padding, device),
                memory_key_padding_mask=as_tensor(memory_padding, device))
    tgt_additive = padding_additive(tgt_padding, H, T) + causal.numpy()
    memory_additive = padding_additive(memory_padding, H, T) + memory_mask
    expected = np_decoder_layer(tgt, memory, params_of(layer), H, norm_first, tgt_additive,
                                memory_additive)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-12)
    assert list(layer.state_dict())[4:8] == [
        "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
        "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias"]
    assert list(layer.state_dict())[-2:] == ["norm3.weight", "norm3.bias"]


def test_transformer_is_encoder_then_decoder_with_xavier_weights(device, rng):
    model = nn.Transformer(d_model=4, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                           dim_feedforward=6, dropout=0.0, batch_first=True, dtype=tg.float64,
                           device=device)
    bound = math.sqrt(6 / (4 + 12))                           # in_proj_weight (12, 4)
    assert np.abs(model.encoder.layers[0].self_attn.in_proj_weight.numpy()).max() <= bound
    ff_bound = math.sqrt(6 / (4 + 6))                         # linear1.weight (6, 4), re-drawn
    weight = model.decoder.layers[0].linear1.weight.numpy()
    assert np.abs(weight).max() <= ff_bound and np.abs(weight).max() > 1 / math.sqrt(4)
    src, tgt = as_tensor(rng.normal(size=(2, 5, 4)), device), as_tensor(
        rng.normal(size=(2, 3, 4)), device)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(3, device, tg.float64)
    out = model(src, tgt, tgt_mask=tgt_mask)
    manual = model.decoder(tgt, model.encoder(src), tgt_mask=tgt_mask)
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out.numpy(), manual.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        model(src, tgt[:1])
    with pytest.raises(RuntimeError, match="feature number"):
        model(src, as_tensor(np.zeros((2, 3, 5)), device))


def test_generate_square_subsequent_mask_values():
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    expected = np.array([[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]], np.float32)
    np.testing.assert_array_equal(mask.numpy(), expected)
    assert mask.dtype == tg.float32 and mask.device == "cpu"


# ------------------------------------------------------------------ end to end

def test_one_layer_encoder_learns_which_values_are_above_their_sequence_mean():
    """Each position must say whether its value is above its own sequence's mean. The
    sequences have random offsets (σ = 3, the spread within a sequence is σ = 1), so one
    position alone is right about half the time: the answer needs attention."""
    rng = np.random.default_rng(0)
    length, width = 6, 16

    def batch(n):
        x = rng.normal(0, 3, (n, 1, 1)) + rng.normal(0, 1, (n, length, 1))
        above = x[..., 0] > x.mean(1)
        return tg.tensor(x.astype(np.float32)), tg.tensor(above.astype(np.float32))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(1, width)
            layer = nn.TransformerEncoderLayer(width, 2, 32, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 1)
            self.head = nn.Linear(width, 1)

        def forward(self, x):                                  # (N, L, 1) -> (N, L)
            return self.head(self.encoder(self.embed(x)))[..., 0]

    model = Model()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(150):
        x, y = batch(64)
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    x, y = batch(500)
    accuracy = ((model(x).numpy() > 0) == (y.numpy() > 0.5)).mean()
    assert accuracy > 0.9, accuracy
