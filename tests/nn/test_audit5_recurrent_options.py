"""Recurrent layers' options against an independent NumPy reference of PyTorch's cell
equations (float64): LSTM proj_size, bidirectional multi-layer packed runs with given
initial states, dropout between layers, unbatched input, the cells, and the state
arguments PyTorch refuses."""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn.utils import rnn


def as_tensor(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


# ------------------------------------------------------------------ NumPy reference

def np_cell(mode, w, x, h, c):
    """One step of PyTorch's documented equations; w holds weight_ih, weight_hh, bias_ih,
    bias_hh (None without bias) and weight_hr (None without projection)."""
    gi = x @ w["weight_ih"].T + (0 if w["bias_ih"] is None else w["bias_ih"])
    gh = h @ w["weight_hh"].T + (0 if w["bias_hh"] is None else w["bias_hh"])
    if mode in ("tanh", "relu"):
        pre = gi + gh
        return (np.tanh(pre) if mode == "tanh" else np.maximum(pre, 0.0)), None
    if mode == "GRU":
        i_r, i_z, i_n = np.split(gi, 3, axis=-1)
        h_r, h_z, h_n = np.split(gh, 3, axis=-1)
        r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)                     # r gates (W_hn h + b_hn)
        return (1 - z) * n + z * h, None
    i, f, g, o = np.split(gi + gh, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h = sigmoid(o) * np.tanh(c)
    if w["weight_hr"] is not None:
        h = h @ w["weight_hr"].T
    return h, c


def np_sequence(mode, layer, x, h0, c0, drop_between=False):
    """One sequence x (L, in), unbatched, through every layer and direction of ``layer``;
    h0, c0 (layers·D, ·). ``drop_between``: dropout p = 1 zeroes each inner layer's output.
    Returns the output (L, D·H_out) and the final h, c (layers·D, ·)."""
    params = {name: p.numpy() for name, p in layer.named_parameters()}
    directions = 2 if layer.bidirectional else 1
    finals_h, finals_c = [], []
    for k in range(layer.num_layers):
        outs = []
        for d in range(directions):
            suffix = "_reverse" if d else ""
            w = {kind: params.get(f"{kind}_l{k}{suffix}")
                 for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
            h, c = h0[k * directions + d], None if c0 is None else c0[k * directions + d]
            out = [None] * len(x)
            for t in (reversed(range(len(x))) if d else range(len(x))):
                h, c = np_cell(mode, w, x[t], h, c)
                out[t] = h
            outs.append(np.stack(out))
            finals_h.append(h)
            finals_c.append(c)
        x = np.concatenate(outs, axis=-1)
        if drop_between and k < layer.num_layers - 1:
            x = np.zeros_like(x)
    return x, np.stack(finals_h), (None if c0 is None else np.stack(finals_c))


MODES = {  # name: (constructor, reference mode, has a cell state, output features)
    "LSTM-proj": (lambda **kw: nn.LSTM(3, 4, proj_size=2, **kw), "LSTM", True, 2),
    "LSTM": (lambda **kw: nn.LSTM(3, 4, **kw), "LSTM", True, 4),
    "GRU": (lambda **kw: nn.GRU(3, 4, **kw), "GRU", False, 4),
    "RNN-relu": (lambda **kw: nn.RNN(3, 4, nonlinearity="relu", **kw), "relu", False, 4),
}


def random_states(rng, layer, batch, has_c, out_size):
    states = layer.num_layers * (2 if layer.bidirectional else 1)
    h0 = rng.standard_normal((states, batch, out_size))
    c0 = rng.standard_normal((states, batch, layer.hidden_size)) if has_c else None
    return h0, c0


# ------------------------------------------------------------------ values

@pytest.mark.parametrize("mode", list(MODES))
def test_packed_bidirectional_two_layers_with_initial_state_against_numpy(rng, device,
                                                                          mode):
    """Two bidirectional layers over unsorted packed sequences with given h_0 (and c_0):
    each direction of each layer starts at each sequence's own first/last step; batch_first
    is ignored for packed input."""
    make, ref_mode, has_c, out_size = MODES[mode]
    layer = make(num_layers=2, bidirectional=True, batch_first=True,
                 dtype=tg.float64, device=device)
    lengths = [2, 4, 3]
    xs = [rng.standard_normal((n, 3)) for n in lengths]
    h0, c0 = random_states(rng, layer, 3, has_c, out_size)
    packed = rnn.pack_sequence([as_tensor(x, device) for x in xs], enforce_sorted=False)
    hx = (as_tensor(h0, device), as_tensor(c0, device)) if has_c else as_tensor(h0, device)
    output, state = layer(packed, hx)
    h_n, c_n = state if has_c else (state, None)
    assert h_n.shape == (4, 3, out_size) and (not has_c or c_n.shape == (4, 3, 4))
    padded, got = rnn.pad_packed_sequence(output)
    assert padded.shape == (4, 3, 2 * out_size) and got.tolist() == lengths
    for b, x in enumerate(xs):
        out, hb, cb = np_sequence(ref_mode, layer, x, h0[:, b], None if c0 is None else c0[:, b])
        np.testing.assert_allclose(padded.numpy()[:lengths[b], b], out, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(h_n.numpy()[:, b], hb, rtol=1e-10, atol=1e-12)
        if has_c:
            np.testing.assert_allclose(c_n.numpy()[:, b], cb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_input_with_and_without_initial_state(rng, device, mode, with_state):
    """(L, in) input: output (L, D·H_out), h_n (layers·D, H_out), c_n (layers·D, H); the
    layer's batch_first does not apply to unbatched input."""
    make, ref_mode, has_c, out_size = MODES[mode]
    layer = make(num_layers=2, bidirectional=True, batch_first=True, bias=False,
                 dtype=tg.float64, device=device)
    x = rng.standard_normal((5, 3))
    h0, c0 = random_states(rng, layer, 1, has_c, out_size)
    h0, c0 = h0[:, 0], (None if c0 is None else c0[:, 0])
    if not with_state:
        h0, c0 = np.zeros_like(h0), (None if c0 is None else np.zeros_like(c0))
        hx = None
    else:
        hx = (as_tensor(h0, device), as_tensor(c0, device)) if has_c else as_tensor(h0, device)
    output, state = layer(as_tensor(x, device), hx)
    h_n, c_n = state if has_c else (state, None)
    out, hb, cb = np_sequence(ref_mode, layer, x, h0, c0)
    assert output.shape == (5, 2 * out_size) and h_n.shape == (4, out_size)
    np.testing.assert_allclose(output.numpy(), out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.numpy(), hb, rtol=1e-10, atol=1e-12)
    if has_c:
        assert c_n.shape == (4, 4)
        np.testing.assert_allclose(c_n.numpy(), cb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM-proj", "GRU"])
def test_dropout_between_layers_of_a_packed_run(rng, mode):
    """Training with p = 1: every inner layer's output (both directions) is zeroed before
    the next layer, the last layer's output and every h_n are not; eval: no dropout."""
    make, ref_mode, has_c, out_size = MODES[mode]
    layer = make(num_layers=3, bidirectional=True, dropout=1.0, dtype=tg.float64)
    lengths = [3, 1, 2]
    xs = [rng.standard_normal((n, 3)) for n in lengths]
    h0, c0 = random_states(rng, layer, 3, has_c, out_size)
    hx = (as_tensor(h0), as_tensor(c0)) if has_c else as_tensor(h0)
    packed = rnn.pack_sequence([as_tensor(x) for x in xs], enforce_sorted=False)
    for training in (True, False):
        layer.train(training)
        output, state = layer(packed, hx)
        h_n = state[0] if has_c else state
        outputs = rnn.unpack_sequence(output)
        for b, x in enumerate(xs):
            out, hb, _ = np_sequence(ref_mode, layer, x, h0[:, b],
                                     None if c0 is None else c0[:, b], drop_between=training)
            np.testing.assert_allclose(outputs[b].numpy(), out, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(h_n.numpy()[:, b], hb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["tanh", "relu", "LSTM", "GRU"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_unbatched_with_hx_none_against_numpy(rng, device, kind, bias):
    """A 1-D input and hx None: the state starts at zeros, the result is 1-D."""
    if kind in ("tanh", "relu"):
        cell = nn.RNNCell(3, 4, bias=bias, nonlinearity=kind, dtype=tg.float64, device=device)
    else:
        cell = getattr(nn, kind + "Cell")(3, 4, bias=bias, dtype=tg.float64, device=device)
    w = {name: (None if p is None else p.numpy()) for name, p in
         (("weight_ih", cell.weight_ih), ("weight_hh", cell.weight_hh),
          ("bias_ih", cell.bias_ih), ("bias_hh", cell.bias_hh))}
    w["weight_hr"] = None
    x = rng.standard_normal(3)
    h, c = np_cell(kind, w, x, np.zeros(4), np.zeros(4))
    got = cell(as_tensor(x, device))
    if kind == "LSTM":
        assert got[0].shape == (4,) and got[1].shape == (4,)
        np.testing.assert_allclose(got[0].numpy(), h, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[1].numpy(), c, rtol=1e-12, atol=1e-14)
    else:
        assert got.shape == (4,)
        np.testing.assert_allclose(got.numpy(), h, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ gradients

def test_gradcheck_packed_bidirectional_projected_two_layer_lstm(rng, device):
    """Gradients through both layers, both directions, the projection and the packing, to
    the data and to h_0, c_0."""
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=1, dtype=tg.float64,
                   device=device)
    a = as_tensor(rng.standard_normal((2, 2)), device, requires_grad=True)
    b = as_tensor(rng.standard_normal((1, 2)), device, requires_grad=True)
    h0 = as_tensor(rng.standard_normal((4, 2, 1)), device, requires_grad=True)
    c0 = as_tensor(rng.standard_normal((4, 2, 3)), device, requires_grad=True)

    def fn(a, b, h0, c0):
        packed = rnn.pack_sequence([b, a], enforce_sorted=False)
        output, (h_n, c_n) = lstm(packed, (h0, c0))
        return output.data, h_n, c_n

    assert tg.gradcheck(fn, (a, b, h0, c0))


# ------------------------------------------------------------------ names and state args

def test_flat_weights_are_the_parameters_in_flat_weights_names_order():
    """PyTorch's ``_flat_weights``: the parameters in ``_flat_weights_names``' order."""
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, bias=False, proj_size=2)
    expected = [f"{kind}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
                for kind in ("weight_ih", "weight_hh", "weight_hr")]
    assert lstm._flat_weights_names == expected
    assert [id(p) for p in lstm._flat_weights] == [id(getattr(lstm, n)) for n in expected]
    gru = nn.GRU(3, 4)
    assert [p.shape for p in gru._flat_weights] == [(12, 3), (12, 4), (12,), (12,)]


@pytest.mark.parametrize("make", [lambda: nn.GRU(3, 4, dtype=tg.float64),
                                  lambda: nn.RNN(3, 4, dtype=tg.float64)])
def test_a_tuple_as_hx_of_rnn_or_gru_is_refused_by_name(make, rng):
    """PyTorch's RNN and GRU take one Tensor as hx; a tuple is a slip (LSTM's pair)."""
    layer = make()
    x = as_tensor(rng.standard_normal((2, 1, 3)))
    h0 = as_tensor(np.zeros((1, 1, 4)))
    with pytest.raises(TypeError, match="hx should be a Tensor"):
        layer(x, (h0,))
    with pytest.raises(TypeError, match="hx should be a Tensor"):
        layer(rnn.pack_sequence([x[:, 0]]), (h0,))
    output, h_n = layer(x, h0)                         # a Tensor works, as the reference
    _, hb, _ = np_sequence("tanh" if isinstance(layer, nn.RNN) else "GRU", layer,
                           x.numpy()[:, 0], h0.numpy()[:, 0], None)
    np.testing.assert_allclose(h_n.numpy()[:, 0], hb, rtol=1e-12)


def test_a_tuple_as_hx_of_a_cell_is_refused_by_name():
    cell = nn.GRUCell(3, 4, dtype=tg.float64)
    with pytest.raises(TypeError, match="GRUCell: hx should be a Tensor"):
        cell(as_tensor(np.zeros((1, 3))), (as_tensor(np.zeros((1, 4))),))


@pytest.mark.parametrize("make", [lambda: nn.LSTM(3, 4, dtype=tg.float64),
                                  lambda: nn.LSTMCell(3, 4, dtype=tg.float64)])
def test_an_lstm_pair_with_a_missing_state_is_refused(make, rng):
    """PyTorch reads both states of (h_0, c_0): None in the pair is refused, not zeros."""
    layer = make()
    batched = isinstance(layer, nn.LSTM)
    x = as_tensor(rng.standard_normal((2, 1, 3) if batched else (1, 3)))
    h = as_tensor(np.zeros((1, 1, 4) if batched else (1, 4)))
    name = type(layer).__name__
    with pytest.raises(TypeError, match=f"{name}: hx should be a pair of Tensors"):
        layer(x, (h, None))
    with pytest.raises(TypeError, match=f"{name}: hx should be a pair of Tensors"):
        layer(x, (None, h))


def test_dropout_with_one_layer_still_warns_and_changes_nothing(rng):
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        gru = nn.GRU(3, 4, dropout=0.5, dtype=tg.float64)
    x = rng.standard_normal((3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output, _ = gru(as_tensor(x))                  # training: nothing to drop
    out, _, _ = np_sequence("GRU", gru, x, np.zeros((1, 4)), None)
    np.testing.assert_allclose(output.numpy(), out, rtol=1e-12)
