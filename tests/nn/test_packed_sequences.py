"""nn.utils.rnn: padding and packing sequences of different lengths, and RNN/LSTM/GRU on a
PackedSequence, against hand-derived layouts and against running each sequence alone."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn.utils import rnn


def sequences_of(lengths, rng, features=2, device="cpu"):
    """One (L_i, features) float64 array and Tensor (requires grad) per length."""
    arrays = [rng.standard_normal((length, features)) for length in lengths]
    tensors = [tg.tensor(a, device=device, requires_grad=True) for a in arrays]
    return arrays, tensors


def padded_numpy(arrays, value=0.0):
    """(max L, B, F) with ``value`` after each sequence's end."""
    longest = max(len(a) for a in arrays)
    out = np.full((longest, len(arrays), arrays[0].shape[1]), value)
    for b, a in enumerate(arrays):
        out[:len(a), b] = a
    return out


# ------------------------------------------------------------------------ padding

@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_right_and_left(rng, device, batch_first):
    arrays, tensors = sequences_of([3, 1, 2], rng, device=device)
    padded = rnn.pad_sequence(tensors, batch_first=batch_first, padding_value=-1.0)
    expected = padded_numpy(arrays, -1.0)
    if batch_first:
        expected = expected.transpose(1, 0, 2)
    np.testing.assert_array_equal(padded.numpy(), expected)
    left = rnn.pad_sequence(tensors, padding_side="left").numpy()   # (3, 3, 2)
    np.testing.assert_array_equal(left[:, 1], np.vstack([np.zeros((2, 2)), arrays[1]]))
    with pytest.raises(ValueError, match="padding_side"):
        rnn.pad_sequence(tensors, padding_side="middle")


def test_pack_padded_sequence_layout_by_hand(device):
    # three sequences a (4 steps), b (2), c (1); step t of sequence s holds 10·s + t
    padded = np.array([[[0.0], [10.0], [20.0]],
                       [[1.0], [11.0], [0.0]],
                       [[2.0], [0.0], [0.0]],
                       [[3.0], [0.0], [0.0]]])                      # (L=4, B=3, 1)
    packed = rnn.pack_padded_sequence(tg.tensor(padded, device=device), [4, 2, 1])
    assert packed.data.device == device
    assert packed.batch_sizes.numpy().tolist() == [3, 2, 1, 1]
    assert packed.batch_sizes.device == "cpu" and packed.batch_sizes.dtype == tg.int64
    assert packed.data.numpy().ravel().tolist() == [0, 10, 20, 1, 11, 2, 3]
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    assert isinstance(packed, tuple) and packed[0] is packed.data  # a namedtuple, as PyTorch


@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_pack_pad_round_trip_unsorted(rng, device, batch_first):
    lengths = [2, 5, 1, 3]
    arrays, tensors = sequences_of(lengths, rng, device=device)
    padded = rnn.pad_sequence(tensors, batch_first=batch_first)
    packed = rnn.pack_padded_sequence(padded, tg.tensor(lengths), batch_first=batch_first,
                                      enforce_sorted=False)
    assert packed.sorted_indices.numpy().tolist() == [1, 3, 0, 2]    # longest first
    assert packed.unsorted_indices.numpy().tolist() == [2, 0, 3, 1]  # the inverse
    assert packed.batch_sizes.numpy().tolist() == [4, 3, 2, 1, 1]
    unpacked, out_lengths = rnn.pad_packed_sequence(packed, batch_first=batch_first,
                                                    padding_value=7.0, total_length=6)
    assert out_lengths.numpy().tolist() == lengths and out_lengths.device == "cpu"
    expected = np.full((6, 4, 2), 7.0)
    expected[:5] = padded_numpy(arrays, 7.0)
    if batch_first:
        expected = expected.transpose(1, 0, 2)
    np.testing.assert_array_equal(unpacked.numpy(), expected)


def test_pack_and_unpack_sequence_round_trip(rng, device):
    arrays, tensors = sequences_of([3, 4, 1], rng, device=device)
    packed = rnn.pack_sequence(tensors, enforce_sorted=False)
    assert packed.data.shape == (8, 2)
    back = rnn.unpack_sequence(packed)
    assert [b.shape for b in back] == [(3, 2), (4, 2), (1, 2)]
    for b, a in zip(back, arrays):
        np.testing.assert_array_equal(b.numpy(), a)
    padded = rnn.pad_sequence(tensors, batch_first=True)
    for b, a in zip(rnn.unpad_sequence(padded, [3, 4, 1], batch_first=True), arrays):
        np.testing.assert_array_equal(b.numpy(), a)


def test_gradient_flows_through_pack_and_pad_but_not_from_padding(rng, device):
    x_np = rng.standard_normal((4, 3, 2))
    weights = rng.standard_normal((4, 3, 2))
    x = tg.tensor(x_np, device=device, requires_grad=True)
    packed = rnn.pack_padded_sequence(x, [1, 4, 2], enforce_sorted=False)
    padded, _ = rnn.pad_packed_sequence(packed, padding_value=5.0)
    (padded * tg.tensor(weights, device=device)).sum().backward()
    real = np.zeros((4, 3, 1))
    for b, length in enumerate([1, 4, 2]):
        real[:length, b] = 1.0
    np.testing.assert_allclose(x.grad.numpy(), weights * real)      # padding: zero gradient


def test_packing_errors():
    x = tg.zeros(3, 2, 1)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        rnn.pack_padded_sequence(x, [1, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        rnn.pack_padded_sequence(x, [3, 0])
    with pytest.raises(RuntimeError, match="longer than"):
        rnn.pack_padded_sequence(x, [4, 1])
    with pytest.raises(ValueError, match="2 lengths"):
        rnn.pack_padded_sequence(x, [3, 2], batch_first=True)
    packed = rnn.pack_padded_sequence(x, [3, 1])
    with pytest.raises(ValueError, match="total_length=2 and max sequence length being 3"):
        rnn.pad_packed_sequence(packed, total_length=2)


def test_torch_spelled_imports_reach_the_same_objects():
    from tinygrad_opt.nn.utils.rnn import PackedSequence, pack_padded_sequence
    assert PackedSequence is nn.utils.rnn.PackedSequence
    assert pack_padded_sequence is nn.recurrent.pack_padded_sequence


# ------------------------------------------------------------- recurrent layers

LAYERS = [
    ("LSTM", dict(num_layers=1)),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(num_layers=2)),
    ("RNN", dict(bidirectional=True, nonlinearity="relu")),
]


def make_layer(kind, options, device):
    layer = getattr(nn, kind)(2, 3, **options).double()
    return layer.to(device)


def states_of(kind, layer, batch, rng, device):
    """Random initial states (layers·D, B, H) in the caller's batch order."""
    shape = (layer.num_layers * (2 if layer.bidirectional else 1), batch, 3)
    h0 = tg.tensor(rng.standard_normal(shape), device=device, requires_grad=True)
    if kind != "LSTM":
        return h0, [h0]
    c0 = tg.tensor(rng.standard_normal(shape), device=device, requires_grad=True)
    return (h0, c0), [h0, c0]


def finals_of(kind, state):
    return list(state) if kind == "LSTM" else [state]


def alone(kind, hx, b):
    """The initial state of sequence b alone: column b of each state."""
    if kind == "LSTM":
        return tuple(s[:, b:b + 1] for s in hx)
    return hx[:, b:b + 1]


@pytest.mark.parametrize("kind, options", LAYERS, ids=[f"{k}-{o}" for k, o in LAYERS])
def test_packed_run_equals_each_sequence_alone(rng, device, kind, options):
    lengths = [2, 4, 1]
    arrays, tensors = sequences_of(lengths, rng, device=device)
    layer = make_layer(kind, options, device)
    hx, _ = states_of(kind, layer, 3, rng, device)
    packed = rnn.pack_sequence(tensors, enforce_sorted=False)
    output, state = layer(packed, hx)
    assert isinstance(output, rnn.PackedSequence)
    assert output.batch_sizes is packed.batch_sizes
    assert output.sorted_indices is packed.sorted_indices
    outputs = rnn.unpack_sequence(output)
    finals = finals_of(kind, state)
    for b, x in enumerate(tensors):
        single_output, single_state = layer(x.unsqueeze(1), alone(kind, hx, b))  # (L_b, 1, ·)
        np.testing.assert_allclose(outputs[b].numpy(), single_output.numpy()[:, 0],
                                   rtol=1e-12, atol=1e-12)
        for final, single_final in zip(finals, finals_of(kind, single_state)):
            np.testing.assert_allclose(final.numpy()[:, b], single_final.numpy()[:, 0],
                                       rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind, options", LAYERS[1:3], ids=["LSTM-bi", "GRU-2"])
def test_packed_gradients_equal_per_sequence_gradients(rng, device, kind, options):
    lengths = [3, 1, 2]
    layer = make_layer(kind, options, device)
    weights = [rng.standard_normal((length, layer.hidden_size * (2 if layer.bidirectional
                                                                 else 1)))
               for length in lengths]
    state_weight = rng.standard_normal(3)

    def gradients(packed_run: bool):
        tg.manual_seed(0)
        local = np.random.default_rng(1)
        _, tensors = sequences_of(lengths, local, device=device)
        hx, leaves = states_of(kind, layer, 3, local, device)
        layer.zero_grad()
        loss = 0
        if packed_run:
            output, state = layer(rnn.pack_sequence(tensors, enforce_sorted=False), hx)
            outputs = rnn.unpack_sequence(output)
            finals = finals_of(kind, state)
        for b, x in enumerate(tensors):
            if not packed_run:
                single_output, single_state = layer(x.unsqueeze(1), alone(kind, hx, b))
                out_b = single_output[:, 0]
                finals_b = [f[:, 0] for f in finals_of(kind, single_state)]
            else:
                out_b = outputs[b]
                finals_b = [f[:, b] for f in finals]
            loss = loss + (out_b * tg.tensor(weights[b], device=device)).sum()
            for final in finals_b:
                loss = loss + state_weight[b] * final.sum()
        loss.backward()
        grads = [p.grad.numpy() for p in layer.parameters()]
        return grads + [t.grad.numpy() for t in tensors + leaves]

    for packed, single in zip(gradients(True), gradients(False)):
        np.testing.assert_allclose(packed, single, rtol=1e-10, atol=1e-12)


def test_packed_input_shape_error():
    layer = nn.LSTM(2, 3)
    packed = rnn.pack_sequence([tg.zeros(2, 5), tg.zeros(1, 5)])
    with pytest.raises(ValueError, match=r"LSTM: expected packed data \(Σ lengths, 2\)"):
        layer(packed)
