"""RNN, LSTM, GRU, their cells and Embedding: values against a step-by-step NumPy
transcription of the gate equations written here, gradcheck through time,
PyTorch's parameter names and initialisation."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.nn import recurrent as R


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


# ------------------------------------------------- NumPy transcription of the equations

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_rnn_step(x, h, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    z = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    return np.tanh(z) if nonlinearity == "tanh" else np.maximum(z, 0)


def np_lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[-1]
    b_ih, b_hh = b_ih + np.zeros(4 * H), b_hh + np.zeros(4 * H)  # 0.0 when there is no bias
    W_ii, W_if, W_ig, W_io = (W_ih[k * H:(k + 1) * H] for k in range(4))
    W_hi, W_hf, W_hg, W_ho = (W_hh[k * H:(k + 1) * H] for k in range(4))
    b_ii, b_if, b_ig, b_io = (b_ih[k * H:(k + 1) * H] for k in range(4))
    b_hi, b_hf, b_hg, b_ho = (b_hh[k * H:(k + 1) * H] for k in range(4))
    i = sigmoid(x @ W_ii.T + b_ii + h @ W_hi.T + b_hi)
    f = sigmoid(x @ W_if.T + b_if + h @ W_hf.T + b_hf)
    g = np.tanh(x @ W_ig.T + b_ig + h @ W_hg.T + b_hg)
    o = sigmoid(x @ W_io.T + b_io + h @ W_ho.T + b_ho)
    c_new = f * c + i * g
    return o * np.tanh(c_new), c_new


def np_gru_step(x, h, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[-1]
    b_ih, b_hh = b_ih + np.zeros(3 * H), b_hh + np.zeros(3 * H)  # 0.0 when there is no bias
    W_ir, W_iz, W_in = (W_ih[k * H:(k + 1) * H] for k in range(3))
    W_hr, W_hz, W_hn = (W_hh[k * H:(k + 1) * H] for k in range(3))
    b_ir, b_iz, b_in = (b_ih[k * H:(k + 1) * H] for k in range(3))
    b_hr, b_hz, b_hn = (b_hh[k * H:(k + 1) * H] for k in range(3))
    r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = np.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    return (1 - z) * n + z * h


def np_sequence(mode, params, x, states, num_layers, bidirectional, nonlinearity="tanh"):
    """x (L, N, in); states: list of (layers*D, N, H) arrays; params: name -> array."""
    D = 2 if bidirectional else 1
    L = x.shape[0]
    layer_input = x
    finals = [np.zeros_like(s) for s in states]
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            suffix = "_reverse" if d else ""

            def p(kind):
                return params.get(f"{kind}_l{layer}{suffix}", 0.0)
            state = [s[layer * D + d] for s in states]
            out = [None] * L
            for t in (reversed(range(L)) if d else range(L)):
                args = (p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"))
                if mode == "LSTM":
                    state = list(np_lstm_step(layer_input[t], state[0], state[1], *args))
                elif mode == "GRU":
                    state = [np_gru_step(layer_input[t], state[0], *args)]
                else:
                    state = [np_rnn_step(layer_input[t], state[0], *args, nonlinearity)]
                out[t] = state[0]
            outs.append(np.stack(out))
            for k, s in enumerate(state):
                finals[k][layer * D + d] = s
        layer_input = np.concatenate(outs, axis=-1)
    return layer_input, finals


def params_of(module):
    return {name: p.numpy() for name, p in module.named_parameters()}


# ------------------------------------------------------------------------------- cells

@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_one_step(rng, device, nonlinearity):
    cell = R.RNNCell(3, 4, nonlinearity=nonlinearity, device=device, dtype=tg.float64)
    x, h = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    p = params_of(cell)
    expected = np_rnn_step(x, h, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"],
                           nonlinearity)
    got = cell(as_tensor(x, device), as_tensor(h, device))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    zero_state = np_rnn_step(x, 0 * h, p["weight_ih"], p["weight_hh"], p["bias_ih"],
                             p["bias_hh"], nonlinearity)
    np.testing.assert_allclose(cell(as_tensor(x, device)).numpy(), zero_state, rtol=1e-12)


def test_lstm_cell_one_step_and_unbatched(rng, device):
    cell = R.LSTMCell(3, 4, device=device, dtype=tg.float64)
    x, h, c = (rng.standard_normal((2, n)) for n in (3, 4, 4))
    p = params_of(cell)
    h_new, c_new = np_lstm_step(x, h, c, p["weight_ih"], p["weight_hh"], p["bias_ih"],
                                p["bias_hh"])
    got_h, got_c = cell(as_tensor(x, device), (as_tensor(h, device), as_tensor(c, device)))
    np.testing.assert_allclose(got_h.numpy(), h_new, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_c.numpy(), c_new, rtol=1e-12, atol=1e-12)
    one_h, one_c = cell(as_tensor(x[0], device), (as_tensor(h[0], device),
                                                  as_tensor(c[0], device)))
    assert one_h.shape == (4,) and one_c.shape == (4,)
    np.testing.assert_allclose(one_h.numpy(), h_new[0], rtol=1e-12, atol=1e-12)


def test_gru_cell_one_step_without_bias(rng, device):
    cell = R.GRUCell(3, 4, bias=False, device=device, dtype=tg.float64)
    assert list(cell.state_dict()) == ["weight_ih", "weight_hh"]
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    p = params_of(cell)
    expected = np_gru_step(x, h, p["weight_ih"], p["weight_hh"], 0.0, 0.0)
    got = cell(as_tensor(x, device), as_tensor(h, device))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_cell_parameter_names_and_shapes():
    assert {k: v.shape for k, v in R.LSTMCell(3, 5).state_dict().items()} == {
        "weight_ih": (20, 3), "weight_hh": (20, 5), "bias_ih": (20,), "bias_hh": (20,)}
    assert R.GRUCell(3, 5).weight_ih.shape == (15, 3)
    assert R.RNNCell(3, 5).weight_hh.shape == (5, 5)


# -------------------------------------------------------------------------- full layers

SEQUENCE_CASES = [  # mode, num_layers, bidirectional, bias, nonlinearity
    ("RNN", 1, False, True, "tanh"),
    ("RNN", 2, False, True, "relu"),
    ("LSTM", 1, False, True, None),
    ("LSTM", 2, True, True, None),
    ("GRU", 1, False, False, None),
    ("GRU", 3, False, True, None),
    ("GRU", 2, True, True, None),
]


def build(mode, input_size, hidden, num_layers, bidirectional, bias, nonlinearity,
          batch_first=False, device="cpu"):
    kwargs = dict(num_layers=num_layers, bias=bias, batch_first=batch_first,
                  bidirectional=bidirectional, device=device, dtype=tg.float64)
    if mode == "RNN":
        return R.RNN(input_size, hidden, nonlinearity=nonlinearity, **kwargs)
    return getattr(R, mode)(input_size, hidden, **kwargs)


@pytest.mark.parametrize("mode, num_layers, bidirectional, bias, nonlinearity",
                         SEQUENCE_CASES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_sequence_against_numpy(rng, device, mode, num_layers, bidirectional, bias,
                                nonlinearity, batch_first):
    L, N, I, H = 5, 3, 2, 4
    D = 2 if bidirectional else 1
    module = build(mode, I, H, num_layers, bidirectional, bias, nonlinearity, batch_first,
                   device)
    x = rng.standard_normal((L, N, I))
    states = [rng.standard_normal((num_layers * D, N, H))
              for _ in range(2 if mode == "LSTM" else 1)]
    expected_out, expected_finals = np_sequence(mode, params_of(module), x, states,
                                                num_layers, bidirectional, nonlinearity)
    x_in = x.transpose(1, 0, 2) if batch_first else x
    hx = [as_tensor(s, device) for s in states]
    output, final = module(as_tensor(x_in, device), tuple(hx) if mode == "LSTM" else hx[0])
    finals = list(final) if mode == "LSTM" else [final]
    if batch_first:
        expected_out = expected_out.transpose(1, 0, 2)
    assert output.shape == expected_out.shape
    np.testing.assert_allclose(output.numpy(), expected_out, rtol=1e-10, atol=1e-12)
    for got, want in zip(finals, expected_finals):
        assert got.shape == (num_layers * D, N, H)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_default_initial_state_is_zeros_and_unbatched_input(rng, device, mode):
    module = build(mode, 2, 3, 2, False, True, "tanh", device=device)
    x = rng.standard_normal((4, 1, 2))
    states = [np.zeros((2, 1, 3)) for _ in range(2 if mode == "LSTM" else 1)]
    expected_out, expected_finals = np_sequence(mode, params_of(module), x, states, 2, False)
    output, final = module(as_tensor(x, device))
    np.testing.assert_allclose(output.numpy(), expected_out, rtol=1e-10, atol=1e-12)
    unbatched_out, unbatched_final = module(as_tensor(x[:, 0], device))
    assert unbatched_out.shape == (4, 3)
    np.testing.assert_allclose(unbatched_out.numpy(), expected_out[:, 0], rtol=1e-10)
    h_n = unbatched_final[0] if mode == "LSTM" else unbatched_final
    assert h_n.shape == (2, 3)
    np.testing.assert_allclose(h_n.numpy(), expected_finals[0][:, 0], rtol=1e-10)


def test_last_output_equals_final_state_and_cells_agree(rng, device):
    """A one-layer LSTM is its LSTMCell applied step by step with the same weights."""
    lstm = R.LSTM(3, 4, device=device, dtype=tg.float64)
    cell = R.LSTMCell(3, 4, device=device, dtype=tg.float64)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).data[...] = getattr(lstm, name + "_l0").data
    x = as_tensor(rng.standard_normal((6, 2, 3)), device)
    output, (h_n, c_n) = lstm(x)
    h = c = as_tensor(np.zeros((2, 4)), device)
    for t in range(6):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(output[t].numpy(), h.numpy(), rtol=1e-12)
    np.testing.assert_allclose(h_n[0].numpy(), h.numpy(), rtol=1e-12)
    np.testing.assert_allclose(c_n[0].numpy(), c.numpy(), rtol=1e-12)


# ------------------------------------------------------------ gradients through time

@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_gradcheck_through_time(rng, device, mode):
    module = build(mode, 2, 3, 2, mode == "GRU", True, "tanh", device=device)
    D = 2 if mode == "GRU" else 1
    x = as_tensor(rng.standard_normal((3, 2, 2)), device, requires_grad=True)
    h0 = as_tensor(rng.standard_normal((2 * D, 2, 3)), device, requires_grad=True)
    weights = [module.weight_hh_l0, module.weight_ih_l1, module.bias_hh_l1]

    def fn(x, h0, *weights):  # the weights are the module's own tensors, perturbed in place
        if mode == "LSTM":
            output, (h_n, c_n) = module(x, (h0, h0 * 0.5))
            return tg.cat([output.flatten(), h_n.flatten(), c_n.flatten()])
        output, h_n = module(x, h0)
        return tg.cat([output.flatten(), h_n.flatten()])
    assert tg.gradcheck(fn, [x, h0, *weights])


def test_gradgradcheck_lstm_cell(rng, device):
    cell = R.LSTMCell(2, 2, device=device, dtype=tg.float64)
    x = as_tensor(rng.standard_normal((2, 2)), device, requires_grad=True)
    h = as_tensor(rng.standard_normal((2, 2)), device, requires_grad=True)
    assert tg.gradgradcheck(lambda x, h, w: tg.cat(cell(x, (h, h))), [x, h, cell.weight_hh])


def test_gradient_reaches_the_first_step(rng, device):
    """BPTT from the engine: the loss at the last step has a gradient w.r.t. x_0."""
    lstm = R.LSTM(2, 3, device=device)
    x = as_tensor(rng.standard_normal((8, 1, 2)).astype(np.float32), device,
                  requires_grad=True)
    output, _ = lstm(x)
    output[-1].sum().backward()
    grad = x.grad.numpy()
    assert np.abs(grad[0]).sum() > 0 and np.abs(grad[-1]).sum() > 0


# ---------------------------------------------------------------- names and init

def test_state_dict_keys_are_pytorchs():
    lstm = R.LSTM(3, 4, num_layers=2)
    assert list(lstm.state_dict()) == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"]
    gru = R.GRU(3, 4, bidirectional=True, bias=False)
    assert list(gru.state_dict()) == ["weight_ih_l0", "weight_hh_l0",
                                      "weight_ih_l0_reverse", "weight_hh_l0_reverse"]
    shapes = {k: v.shape for k, v in R.LSTM(3, 4, num_layers=2,
                                            bidirectional=True).state_dict().items()}
    assert shapes["weight_ih_l0"] == (16, 3) and shapes["weight_ih_l1"] == (16, 8)
    assert shapes["weight_hh_l1_reverse"] == (16, 4) and shapes["bias_ih_l1"] == (16,)
    assert R.RNN(3, 4).weight_ih_l0.shape == (4, 3)
    assert R.GRU(3, 4).weight_hh_l0.shape == (12, 4)


def test_init_is_uniform_one_over_sqrt_hidden():
    lstm = R.LSTM(10, 100)
    bound = 1 / np.sqrt(100)
    for name, p in lstm.named_parameters():
        values = p.numpy()
        assert np.abs(values).max() <= bound, name
        assert values.std() == pytest.approx(bound / np.sqrt(3), rel=0.1), name


def test_dropout_between_layers_only_in_training(rng):
    lstm = R.LSTM(2, 3, num_layers=2, dropout=0.5)
    x = tg.tensor(rng.standard_normal((4, 2, 2)).astype(np.float32))
    lstm.eval()
    first, _ = lstm(x)
    second, _ = lstm(x)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    lstm.train()
    trained = [lstm(x)[0].numpy() for _ in range(3)]
    assert any(not np.array_equal(trained[0], other) for other in trained[1:])


@pytest.mark.parametrize("call, message", [
    (lambda: R.LSTM(3, 4)(tg.zeros(5, 2, 2)), "in = 3"),
    (lambda: R.GRU(3, 4, num_layers=2)(tg.zeros(5, 2, 3), tg.zeros(1, 2, 4)), "h_0"),
    (lambda: R.LSTM(3, 4)(tg.zeros(5, 2, 3), (tg.zeros(1, 2, 4), tg.zeros(1, 3, 4))), "c_0"),
    (lambda: R.RNN(3, 4, nonlinearity="sigmoid"), "nonlinearity"),
    (lambda: R.RNNCell(3, 4)(tg.zeros(2, 4)), "RNNCell"),
])
def test_shape_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------- Embedding

def test_embedding_lookup_and_gradient(rng, device):
    emb = R.Embedding(6, 3, device=device)
    assert emb.weight.shape == (6, 3)
    idx = np.array([[1, 4, 1], [0, 5, 1]])
    y = emb(as_tensor(idx, device))
    assert y.shape == (2, 3, 3)
    np.testing.assert_array_equal(y.numpy(), emb.weight.numpy()[idx])
    grad_out = rng.standard_normal((2, 3, 3)).astype(np.float32)
    y.backward(as_tensor(grad_out, device))
    expected = np.zeros((6, 3), dtype=np.float32)
    np.add.at(expected, idx, grad_out)  # repeated rows accumulate
    np.testing.assert_allclose(emb.weight.grad.numpy(), expected, rtol=1e-6)


def test_embedding_padding_row_is_zero_and_gets_no_gradient(device):
    emb = R.Embedding(5, 2, padding_idx=-1, device=device)
    assert emb.padding_idx == 4
    np.testing.assert_array_equal(emb.weight.numpy()[4], [0, 0])
    emb.weight.data[4] = 7.0  # even a non-zero padding row is returned, but not trained
    idx = as_tensor(np.array([4, 2, 4]), device)
    y = emb(idx)
    np.testing.assert_array_equal(y.numpy()[0], [7, 7])
    y.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[4], [0, 0])
    np.testing.assert_array_equal(emb.weight.grad.numpy()[2], [1, 1])


def test_embedding_init_is_standard_normal_and_errors():
    weight = R.Embedding(1000, 50).weight.numpy()
    assert abs(weight.mean()) < 0.02 and weight.std() == pytest.approx(1.0, rel=0.02)
    emb = R.Embedding(4, 2)
    with pytest.raises(IndexError, match="out of range"):
        emb(tg.tensor(np.array([0, 4])))
    with pytest.raises(TypeError, match="integers"):
        emb(tg.tensor([0.0, 1.0]))
    assert repr(R.Embedding(4, 2, padding_idx=0)) == "Embedding(4, 2, padding_idx=0)"


def test_embedding_from_pretrained_is_frozen(device):
    table = tg.tensor(np.arange(6.0).reshape(3, 2), device=device)
    emb = R.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(as_tensor(np.array([2]), device)).numpy(), [[4, 5]])
    assert R.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
