"""Audit of the recurrent layers and packed sequences: dtype checks as PyTorch's, packing
edge cases, and option combinations checked against a NumPy transcription of the
documented equations (written here, independent of the library)."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn.utils import rnn
from test_recurrent import params_of as weights_of  # name -> array of each parameter


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_step(mode, x, state, w, nonlinearity="tanh"):
    """One step of PyTorch's documented equations; w: kind -> array (0.0 if absent)."""
    h = state[0]
    gi = x @ w["weight_ih"].T + w["bias_ih"]
    if mode == "GRU":
        gh = h @ w["weight_hh"].T + w["bias_hh"]
        i_r, i_z, i_n = np.split(gi, 3, axis=-1)
        h_r, h_z, h_n = np.split(gh, 3, axis=-1)
        r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)
        return [(1 - z) * n + z * h]
    gates = gi + h @ w["weight_hh"].T + w["bias_hh"]
    if mode == "RNN":
        return [np.tanh(gates) if nonlinearity == "tanh" else np.maximum(gates, 0)]
    i, f, g, o = np.split(gates, 4, axis=-1)
    c = sigmoid(f) * state[1] + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    if "weight_hr" in w:
        h = h @ w["weight_hr"].T
    return [h, c]


def np_run(mode, weights, x, states, layers, D, nonlinearity="tanh"):
    """x (L, N, in), states [(layers·D, N, ·)] -> output (L, N, D·out), finals."""
    L = x.shape[0]
    finals = [np.empty_like(s) for s in states]
    for layer in range(layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:D]):
            w = {kind: weights.get(f"{kind}_l{layer}{suffix}", 0.0)
                 for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            if f"weight_hr_l{layer}{suffix}" in weights:
                w["weight_hr"] = weights[f"weight_hr_l{layer}{suffix}"]
            state = [s[layer * D + d] for s in states]
            out = [None] * L
            for t in (reversed(range(L)) if d else range(L)):
                state = np_step(mode, x[t], state, w, nonlinearity)
                out[t] = state[0]
            outs.append(np.stack(out))
            for k, s in enumerate(state):
                finals[k][layer * D + d] = s
        x = np.concatenate(outs, axis=-1)
    return x, finals




# ------------------------------------------------------------------ dtype checks

@pytest.mark.parametrize("make", [lambda: nn.LSTM(3, 4), lambda: nn.GRU(3, 4, batch_first=True),
                                  lambda: nn.RNN(3, 4, nonlinearity="relu")])
def test_input_of_another_dtype_than_the_weights_is_refused(make):
    """PyTorch's RNNBase.check_input: 'input must have the type torch.float32, got type
    torch.float64' (we used to promote silently and return float64)."""
    layer = make()
    with pytest.raises(ValueError, match=r"input must have the type float32, got type float64"):
        layer(tg.zeros(2, 1, 3, dtype=tg.float64))
    packed = rnn.pack_sequence([tg.zeros(2, 3, dtype=tg.float64), tg.zeros(1, 3, dtype=tg.float64)])
    with pytest.raises(ValueError, match=r"input must have the type float32"):
        layer(packed)
    output = layer(tg.zeros(2, 1, 3))[0]                                # matching: accepted
    assert output.dtype == tg.float32


def test_initial_state_of_another_dtype_is_refused_by_name():
    """PyTorch's kernels refuse an h_0/c_0 whose dtype differs from the input's."""
    x = tg.zeros(2, 1, 3)
    with pytest.raises(RuntimeError, match=r"GRU: h_0 .*float64.*float32"):
        nn.GRU(3, 4)(x, tg.zeros(1, 1, 4, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"LSTM: c_0 .*float64.*float32"):
        nn.LSTM(3, 4)(x, (tg.zeros(1, 1, 4), tg.zeros(1, 1, 4, dtype=tg.float64)))


@pytest.mark.parametrize("make", [lambda: nn.RNNCell(3, 4), lambda: nn.GRUCell(3, 4),
                                  lambda: nn.LSTMCell(3, 4)])
def test_cells_refuse_another_dtype(make):
    cell = make()
    name = type(cell).__name__
    with pytest.raises(RuntimeError, match=rf"{name}: .*input.*float64.*float32"):
        cell(tg.zeros(2, 3, dtype=tg.float64))
    state = tg.zeros(2, 4, dtype=tg.float64)
    state = (state, state) if name == "LSTMCell" else state
    with pytest.raises(RuntimeError, match=rf"{name}: .*float64.*float32"):
        cell(tg.zeros(2, 3), state)


# ------------------------------------------------------------------ packing edge cases

def test_packing_empty_tensors_is_refused():
    """PyTorch: 'Cannot pack empty tensors.' (we used to return an empty PackedSequence
    that no RNN could run)."""
    with pytest.raises(RuntimeError, match="pack_padded_sequence: cannot pack empty"):
        rnn.pack_padded_sequence(tg.zeros(3, 0, 1), [])
    with pytest.raises(RuntimeError, match="cannot pack empty"):
        rnn.pack_padded_sequence(tg.zeros(3, 2, 0), [3, 2])


def test_pad_sequence_of_scalars_is_refused_by_name():
    with pytest.raises(ValueError, match=r"pad_sequence: .*at least 1-D.*shape \(\)"):
        rnn.pad_sequence([tg.tensor(1.0), tg.tensor(2.0)])


def test_pad_packed_round_trip_with_total_length_and_padding_value(rng, device):
    lengths = [2, 5, 1, 5]
    arrays = [rng.standard_normal((n, 2)) for n in lengths]
    tensors = [as_tensor(a, device, requires_grad=True) for a in arrays]
    packed = rnn.pack_sequence(tensors, enforce_sorted=False)
    # PyTorch's layout: stable longest-first order, time-major rows
    order = np.argsort(-np.array(lengths), kind="stable")
    rows = [arrays[b][t] for t in range(5) for b in order if lengths[b] > t]
    np.testing.assert_allclose(packed.data.numpy(), np.stack(rows))
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [4, 3, 2, 2, 2])
    padded, got_lengths = rnn.pad_packed_sequence(packed, batch_first=True,
                                                  padding_value=-7.0, total_length=6)
    expected = np.full((4, 6, 2), -7.0)
    for b, a in enumerate(arrays):
        expected[b, :len(a)] = a
    np.testing.assert_allclose(padded.numpy(), expected)
    np.testing.assert_array_equal(got_lengths.numpy(), lengths)
    (padded * as_tensor(np.arange(48.0).reshape(4, 6, 2), device)).sum().backward()
    for b, t in enumerate(tensors):
        np.testing.assert_allclose(t.grad.numpy(), np.arange(48.0).reshape(4, 6, 2)[b, :lengths[b]])


# ---------------------------------------------------------- option combinations vs NumPy

COMBOS = [  # mode, options
    ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=2, batch_first=True, bias=False)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True, bias=False)),
    ("RNN", dict(num_layers=3, nonlinearity="relu", bidirectional=True)),
]


@pytest.mark.parametrize("mode, options", COMBOS, ids=[c[0] for c in COMBOS])
def test_option_combinations_match_numpy_with_given_states(rng, device, mode, options):
    L, N, I, H = 3, 2, 3, 4
    layer = getattr(nn, mode)(I, H, dtype=tg.float64, **options).to(device)
    layers, D = layer.num_layers, 2 if layer.bidirectional else 1
    P = options.get("proj_size", 0) or H
    x = rng.standard_normal((L, N, I))
    states = [rng.standard_normal((layers * D, N, P))]
    if mode == "LSTM":
        states.append(rng.standard_normal((layers * D, N, H)))
    expected, finals = np_run(mode, weights_of(layer), x, states, layers, D,
                              options.get("nonlinearity", "tanh"))
    hx = [as_tensor(s, device) for s in states]
    output, state = layer(as_tensor(x.transpose(1, 0, 2) if layer.batch_first else x, device),
                          tuple(hx) if mode == "LSTM" else hx[0])
    got_finals = list(state) if mode == "LSTM" else [state]
    if layer.batch_first:
        expected = expected.transpose(1, 0, 2)
    assert output.shape == expected.shape
    np.testing.assert_allclose(output.numpy(), expected, rtol=1e-10, atol=1e-12)
    for got, want in zip(got_finals, finals):
        assert got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    # unbatched input with unbatched states: column 0 of the batched run
    single, single_state = layer(as_tensor(x[:, 0], device),
                                 tuple(h[:, 0] for h in hx) if mode == "LSTM" else hx[0][:, 0])
    column = expected[0] if layer.batch_first else expected[:, 0]
    np.testing.assert_allclose(single.numpy(), column, rtol=1e-10, atol=1e-12)
    single_finals = list(single_state) if mode == "LSTM" else [single_state]
    for got, want in zip(single_finals, finals):
        np.testing.assert_allclose(got.numpy(), want[:, 0], rtol=1e-10, atol=1e-12)


def test_packed_projected_lstm_matches_numpy_per_sequence(rng, device):
    """Each packed sequence runs alone from its own column of h_0/c_0; the reverse
    direction starts at the sequence's own last step."""
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=1,
                   dtype=tg.float64).to(device)
    lengths = [1, 3, 2]
    arrays = [rng.standard_normal((n, 2)) for n in lengths]
    h0, c0 = rng.standard_normal((4, 3, 1)), rng.standard_normal((4, 3, 3))
    packed = rnn.pack_sequence([as_tensor(a, device) for a in arrays], enforce_sorted=False)
    output, (h_n, c_n) = lstm(packed, (as_tensor(h0, device), as_tensor(c0, device)))
    padded, _ = rnn.pad_packed_sequence(output)
    weights = weights_of(lstm)
    for b, a in enumerate(arrays):
        expected, (h_b, c_b) = np_run("LSTM", weights, a[:, None], [h0[:, b:b + 1], c0[:, b:b + 1]],
                                      2, 2)
        np.testing.assert_allclose(padded.numpy()[:lengths[b], b], expected[:, 0], atol=1e-12)
        np.testing.assert_allclose(padded.numpy()[lengths[b]:, b], 0.0)
        np.testing.assert_allclose(h_n.numpy()[:, b], h_b[:, 0], atol=1e-12)
        np.testing.assert_allclose(c_n.numpy()[:, b], c_b[:, 0], atol=1e-12)


@pytest.mark.parametrize("make", [lambda: nn.RNNCell(2, 3, bias=False, nonlinearity="relu"),
                                  lambda: nn.GRUCell(2, 3, bias=False)])
def test_cells_without_bias_gradcheck_and_unbatched(rng, device, make):
    cell = make().double().to(device)
    x = as_tensor(rng.standard_normal((2, 2)), device, requires_grad=True)
    h = as_tensor(rng.standard_normal((2, 3)), device, requires_grad=True)
    assert tg.gradcheck(lambda x, h: cell(x, h), (x, h))
    mode = "GRU" if isinstance(cell, nn.GRUCell) else "RNN"
    w = {"weight_ih": cell.weight_ih.numpy(), "weight_hh": cell.weight_hh.numpy(),
         "bias_ih": 0.0, "bias_hh": 0.0}
    expected = np_step(mode, x.numpy()[0], [h.numpy()[0]], w, "relu")[0]
    np.testing.assert_allclose(cell(x[0].detach(), h[0].detach()).numpy(), expected, atol=1e-12)


def test_gradcheck_packed_bidirectional_gru_through_time(rng, device):
    gru = nn.GRU(2, 2, bidirectional=True, dtype=tg.float64).to(device)
    a = as_tensor(rng.standard_normal((3, 2)), device, requires_grad=True)
    b = as_tensor(rng.standard_normal((1, 2)), device, requires_grad=True)
    h0 = as_tensor(rng.standard_normal((2, 2, 2)), device, requires_grad=True)

    def fn(a, b, h0):
        output, h_n = gru(rnn.pack_sequence([b, a], enforce_sorted=False), h0)
        return tg.cat([output.data.flatten(), h_n.flatten()])
    assert tg.gradcheck(fn, (a, b, h0))
