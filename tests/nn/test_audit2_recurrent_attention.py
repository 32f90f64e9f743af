"""Audit (second round) of the recurrent layers, attention and the Transformer layers
against PyTorch's documented semantics. Expected values are written here by hand or in
NumPy (PyTorch is never imported): the bugs found (an LSTM ``hx`` that is not a pair,
the missing ``all_weights``, reprs) and the behaviours verified right but not pinned
elsewhere (gate order and the GRU's reset gate by hand, packed LSTMs with a projection,
dropout between layers, attention over no keys, gradients into float masks)."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn
from tinygrad_opt.nn.utils import rnn


def as_tensor(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------ gate equations by hand

def test_lstm_cell_gate_order_is_i_f_g_o_by_hand(device):
    """Zero weights, a bias per gate: i = σ(ln 3) = 3/4, f = σ(0) = 1/2,
    g = tanh(atanh(1/2)) = 1/2, o = σ(−ln 3) = 1/4. PyTorch: c' = f·c + i·g, h' = o·tanh(c')."""
    cell = nn.LSTMCell(2, 1, device=device, dtype=tg.float64)
    for parameter in cell.parameters():
        parameter.data[...] = 0
    cell.bias_ih.data[...] = as_tensor([math.log(3), 0.0, math.atanh(0.5), -math.log(3)],
                                       device).data
    h, c = cell(as_tensor([[5.0, -7.0]], device), (as_tensor([[0.3]], device),
                                                    as_tensor([[1.0]], device)))
    c_expected = 0.5 * 1.0 + 0.75 * 0.5                         # 0.875
    np.testing.assert_allclose(c.numpy(), [[c_expected]], rtol=1e-14)
    np.testing.assert_allclose(h.numpy(), [[0.25 * math.tanh(c_expected)]], rtol=1e-14)


def test_gru_cell_reset_gate_multiplies_the_hidden_bias_by_hand(device):
    """PyTorch: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)). Zero weights, b_hn = 1, the
    other biases 0 and h = 0: r = z = 1/2, n = tanh(1/2), h' = (1 − z)·n = tanh(1/2)/2
    (not tanh(1)/2, which b_hn outside the reset gate would give)."""
    cell = nn.GRUCell(3, 1, device=device, dtype=tg.float64)
    for parameter in cell.parameters():
        parameter.data[...] = 0
    cell.bias_hh.data[...] = as_tensor([0.0, 0.0, 1.0], device).data   # [b_hr, b_hz, b_hn]
    h = cell(as_tensor([[1.0, 2.0, 3.0]], device))
    np.testing.assert_allclose(h.numpy(), [[0.5 * math.tanh(0.5)]], rtol=1e-14)


def test_bidirectional_final_state_layout(rng, device):
    """h_n is (num_layers·2, N, H), row 2l + d for layer l, direction d; the last layer's
    forward final state is output[-1, :, :H], its reverse one output[0, :, H:]."""
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True, device=device, dtype=tg.float64)
    output, h_n = gru(as_tensor(rng.standard_normal((5, 2, 3)), device))
    assert output.shape == (5, 2, 8) and h_n.shape == (4, 2, 4)
    np.testing.assert_array_equal(h_n.numpy()[2], output.numpy()[-1, :, :4])
    np.testing.assert_array_equal(h_n.numpy()[3], output.numpy()[0, :, 4:])


# ------------------------------------------------------------------ LSTM state and surface

@pytest.mark.parametrize("make, call", [
    (lambda: nn.LSTM(2, 3), lambda m: m(tg.zeros(4, 1, 2), tg.zeros(1, 1, 3))),
    (lambda: nn.LSTM(2, 3, num_layers=2), lambda m: m(tg.zeros(4, 1, 2), tg.zeros(2, 1, 3))),
    (lambda: nn.LSTMCell(2, 3), lambda m: m(tg.zeros(2, 2), tg.zeros(2, 2, 3))),
    (lambda: nn.LSTMCell(2, 3), lambda m: m(tg.zeros(2, 2), (tg.zeros(2, 3),))),
], ids=["lstm-tensor", "lstm-2-layers-tensor", "cell-stacked-tensor", "cell-1-tuple"])
def test_lstm_state_that_is_not_a_pair_is_refused_by_name(make, call):
    # PyTorch: hx is the tuple (h_0, c_0); a lone Tensor is refused (TypeError). Before:
    # "not enough values to unpack", or a (2, N, H) Tensor split silently into h and c.
    with pytest.raises(TypeError, match=r"hx should be a pair \(h_0, c_0\)"):
        call(make())


def test_lstm_state_as_a_list_still_works(rng):
    lstm = nn.LSTM(2, 3, dtype=tg.float64)
    x = as_tensor(rng.standard_normal((4, 1, 2)))
    h0, c0 = as_tensor(rng.standard_normal((1, 1, 3))), as_tensor(rng.standard_normal((1, 1, 3)))
    np.testing.assert_array_equal(lstm(x, [h0, c0])[0].numpy(), lstm(x, (h0, c0))[0].numpy())


def test_all_weights_lists_each_layer_and_direction_in_pytorchs_order():
    # PyTorch's RNNBase.all_weights / _all_weights / _flat_weights_names (used e.g. to set
    # the forget-gate bias): per layer, forward then reverse, [w_ih, w_hh, b_ih, b_hh, w_hr].
    lstm = nn.LSTM(2, 4, num_layers=2, bidirectional=True, proj_size=3)
    assert lstm._all_weights[0] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                    "bias_hh_l0", "weight_hr_l0"]
    assert [names[0] for names in lstm._all_weights] == [
        "weight_ih_l0", "weight_ih_l0_reverse", "weight_ih_l1", "weight_ih_l1_reverse"]
    assert lstm._flat_weights_names == [name for name, _ in lstm.named_parameters()]
    assert lstm.all_weights[3][0] is lstm.weight_ih_l1_reverse
    assert [[tuple(p.shape) for p in group] for group in lstm.all_weights][2] == [
        (16, 6), (16, 3), (16,), (16,), (3, 4)]
    assert nn.GRU(2, 3, bias=False)._all_weights == [["weight_ih_l0", "weight_hh_l0"]]


def test_reprs_follow_pytorchs_order():
    # PyTorch's RNNBase.extra_repr: proj_size right after the sizes; Embedding shows a
    # norm_type other than 2.
    assert repr(nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)) == \
        "LSTM(3, 4, proj_size=2, num_layers=2, bidirectional=True)"
    assert repr(nn.Embedding(5, 3, max_norm=1.0, norm_type=1.0)) == \
        "Embedding(5, 3, max_norm=1.0, norm_type=1.0)"
    assert repr(nn.Embedding(5, 3, padding_idx=-1)) == "Embedding(5, 3, padding_idx=4)"


def test_embedding_keeps_pytorchs_attributes():
    embedding = nn.Embedding(4, 2)
    assert (embedding.sparse, embedding.scale_grad_by_freq) == (False, False)
    pretrained = nn.Embedding.from_pretrained(tg.ones(3, 2), padding_idx=1)
    assert pretrained.sparse is False
    np.testing.assert_array_equal(pretrained.weight.numpy(), np.ones((3, 2)))  # not zeroed


# ------------------------------------------------------------------ packed, projected LSTM

def np_lstm_projected(params, suffix, x, h, c, reverse):
    """One direction of one layer of a projected LSTM over one sequence x (T, in)."""
    w = {kind: params[f"{kind}_l0{suffix}"] for kind in
         ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
    outputs = [None] * x.shape[0]
    for t in (reversed(range(x.shape[0])) if reverse else range(x.shape[0])):
        gates = x[t] @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"]
        i, f, g, o = np.split(gates, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = (sigmoid(o) * np.tanh(c)) @ w["weight_hr"].T
        outputs[t] = h
    return np.stack(outputs), h, c


def test_packed_bidirectional_projected_lstm_against_numpy(rng, device):
    """Each sequence stops at its own length (the reverse direction starts at its last real
    step); h_n (2, B, P) and c_n (2, B, H) are each sequence's, in the caller's order."""
    H, P, lengths = 4, 2, [2, 5, 3]
    lstm = nn.LSTM(3, H, bidirectional=True, proj_size=P, device=device, dtype=tg.float64)
    params = {name: p.numpy() for name, p in lstm.named_parameters()}
    xs = [rng.standard_normal((n, 3)) for n in lengths]
    h0, c0 = rng.standard_normal((2, 3, P)), rng.standard_normal((2, 3, H))
    packed = rnn.pack_sequence([as_tensor(x, device) for x in xs], enforce_sorted=False)
    output, (h_n, c_n) = lstm(packed, (as_tensor(h0, device), as_tensor(c0, device)))
    padded, got_lengths = rnn.pad_packed_sequence(output, batch_first=True)
    assert padded.shape == (3, 5, 2 * P) and got_lengths.tolist() == lengths
    for b, x in enumerate(xs):
        forward, h_f, c_f = np_lstm_projected(params, "", x, h0[0, b], c0[0, b], False)
        backward, h_r, c_r = np_lstm_projected(params, "_reverse", x, h0[1, b], c0[1, b], True)
        np.testing.assert_allclose(padded.numpy()[b, :lengths[b]],
                                   np.concatenate([forward, backward], -1), atol=1e-12)
        np.testing.assert_array_equal(padded.numpy()[b, lengths[b]:], 0.0)
        np.testing.assert_allclose(h_n.numpy()[:, b], np.stack([h_f, h_r]), atol=1e-12)
        np.testing.assert_allclose(c_n.numpy()[:, b], np.stack([c_f, c_r]), atol=1e-12)


def test_dropout_between_layers_zeroes_the_next_layers_input_only(rng):
    """PyTorch drops the outputs of every layer but the last, in training. With p = 1 the
    second layer reads zeros at every step: the output is that layer run on zeros."""
    gru = nn.GRU(2, 3, num_layers=2, dropout=1.0, dtype=tg.float64)
    x = as_tensor(rng.standard_normal((4, 2, 2)))
    output, h_n = gru(x)
    cell = nn.GRUCell(3, 3, dtype=tg.float64)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).data[...] = getattr(gru, name + "_l1").data
    h = as_tensor(np.zeros((2, 3)))
    for t in range(4):
        h = cell(as_tensor(np.zeros((2, 3))), h)
        np.testing.assert_allclose(output.numpy()[t], h.numpy(), rtol=1e-13)  # not dropped
    np.testing.assert_allclose(h_n.numpy()[1], h.numpy(), rtol=1e-13)
    gru.eval()
    assert not np.allclose(gru(x)[0].numpy(), output.numpy())        # eval: no dropout


# ------------------------------------------------------------------------------- attention

def test_sdpa_over_no_keys_gives_zeros(device, rng):
    # PyTorch: softmax over an empty dim is empty, and (L, 0) @ (0, Ev) is zeros.
    q = as_tensor(rng.standard_normal((2, 3, 4)), device)
    out = F.scaled_dot_product_attention(q, as_tensor(np.zeros((2, 0, 4)), device),
                                         as_tensor(np.zeros((2, 0, 5)), device))
    assert out.shape == (2, 3, 5)
    np.testing.assert_array_equal(out.numpy(), 0.0)


def test_sdpa_scale_zero_averages_the_values(device, rng):
    # scale = 0: every score is 0, the weights uniform 1/S; the output is the mean of V.
    q, k = (as_tensor(rng.standard_normal((2, 3, 4)), device) for _ in range(2))
    v = rng.standard_normal((2, 3, 2))
    out = F.scaled_dot_product_attention(q, k, as_tensor(v, device), scale=0.0)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(v.mean(1, keepdims=True), out.shape),
                               rtol=1e-13)


def test_gradients_reach_float_masks(rng):
    # A float mask is added to the scores, so PyTorch differentiates through it.
    q, k = as_tensor(rng.standard_normal((2, 3, 4))), as_tensor(rng.standard_normal((2, 5, 4)))
    v = as_tensor(rng.standard_normal((2, 5, 2)))
    mask = as_tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert tg.gradcheck(lambda m: F.scaled_dot_product_attention(q, k, v, attn_mask=m,
                                                                 scale=0.7), (mask,))
    mha = nn.MultiheadAttention(4, 2, dtype=tg.float64)
    padding = as_tensor(rng.standard_normal((2, 5)), requires_grad=True)
    query, key = q.transpose(0, 1), k.transpose(0, 1)               # (L, N, E), (S, N, E)
    for need_weights in (False, True):
        def run(m, p):
            out, weights = mha(query, key, key, attn_mask=m, key_padding_mask=p,
                               need_weights=need_weights)
            return out if weights is None else (out, weights)
        assert tg.gradcheck(run, (mask, padding))


def test_square_subsequent_mask_is_float32_on_cpu_whatever_the_default_dtype():
    # PyTorch (2.2+): device None -> cpu and dtype None -> float32, not the default dtype.
    previous = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    try:
        mask = nn.Transformer.generate_square_subsequent_mask(3)
    finally:
        tg.set_default_dtype(previous)
    assert mask.dtype == tg.float32 and mask.device == "cpu"
    np.testing.assert_array_equal(mask.numpy(), np.triu(np.full((3, 3), -np.inf), 1))
