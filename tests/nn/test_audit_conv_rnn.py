"""Audit of the convolution, pooling and recurrent layers against PyTorch's documented
behaviour: each test pins one difference that was found and fixed, with values from a
NumPy reference written here (``np.pad`` for the padding modes, a sliding-window
convolution) or from the rule itself."""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import functional as F


def as_tensor(array, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def numpy_conv(x, w, b=None, dilation=(1, 1)):
    """Valid cross-correlation of an already padded x (N, C, H, W) with w (O, C, kh, kw)::

        y[n, o, i, j] = b[o] + Σ_{c,a,e} w[o, c, a, e] · x[n, c, i + a·dh, j + e·dw]
    """
    O, C, kh, kw = w.shape
    dh, dw = dilation
    OH = x.shape[2] - dh * (kh - 1)
    OW = x.shape[3] - dw * (kw - 1)
    y = np.zeros((x.shape[0], O, OH, OW))
    for a in range(kh):
        for e in range(kw):
            window = x[:, :, a * dh:a * dh + OH, e * dw:e * dw + OW]   # (N, C, OH, OW)
            y += np.einsum("oc,nchw->nohw", w[:, :, a, e], window)
    return y if b is None else y + b.reshape(1, O, 1, 1)


NUMPY_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}


# --------------------------------------------------- padding_mode on Conv1d and Conv2d

@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv2d_padding_mode_pads_the_input_as_numpy_does(rng, device, mode):
    layer = nn.Conv2d(2, 3, (3, 2), padding=(1, 2), padding_mode=mode, dtype=tg.float64)
    layer.to(device)
    x = rng.standard_normal((2, 2, 5, 6))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=NUMPY_MODES[mode])
    expected = numpy_conv(padded, layer.weight.numpy(), layer.bias.numpy())
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, atol=1e-12)
    unbatched = layer(as_tensor(x[0], device))                   # (C, H, W) too, as PyTorch
    np.testing.assert_allclose(unbatched.numpy(), expected[0], atol=1e-12)
    assert layer.padding_mode == mode
    assert repr(layer).endswith(f"padding_mode={mode})")


def test_conv1d_padding_mode_and_same_with_an_even_kernel(rng):
    layer = nn.Conv1d(2, 3, 4, padding="same", padding_mode="circular", dtype=tg.float64)
    x = rng.standard_normal((2, 2, 7))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 2)), mode="wrap")  # d·(k − 1) = 3: 1 before, 2 after
    expected = numpy_conv(padded[:, :, None], layer.weight.numpy()[:, :, None],
                          layer.bias.numpy())[:, :, 0]
    np.testing.assert_allclose(layer(as_tensor(x)).numpy(), expected, atol=1e-12)


def test_padding_mode_is_the_ninth_positional_argument_as_in_pytorch():
    layer = nn.Conv2d(2, 3, 3, 1, 1, 1, 1, True, "replicate")
    assert layer.padding_mode == "replicate"
    assert nn.Conv1d(2, 3, 3, 1, 1, 1, 1, False, "reflect").padding_mode == "reflect"
    assert nn.Conv2d(2, 3, 3).padding_mode == "zeros"


def test_conv2d_padding_mode_gradcheck(rng):
    layer = nn.Conv2d(1, 2, 3, padding=2, padding_mode="reflect", dtype=tg.float64)
    x = as_tensor(rng.standard_normal((1, 1, 4, 4)), requires_grad=True)
    assert tg.gradcheck(lambda x, w: F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), w),
                        (x, layer.weight))
    assert tg.gradcheck(lambda x: layer(x), (x,))


# ------------------------------------------------- padding='same' with an uneven total

@pytest.mark.parametrize("kernel, dilation", [((2, 4), (1, 1)), ((3, 2), (1, 3)),
                                              ((4, 3), (1, 2))])
def test_conv2d_same_puts_the_odd_zero_at_the_end(rng, device, kernel, dilation):
    x = rng.standard_normal((2, 2, 5, 6))
    w = rng.standard_normal((3, 2) + kernel)
    totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
    widths = [(t // 2, t - t // 2) for t in totals]             # PyTorch: the extra one after
    expected = numpy_conv(np.pad(x, ((0, 0), (0, 0), *widths)), w, dilation=dilation)
    y = F.conv2d(as_tensor(x, device), as_tensor(w, device), padding="same", dilation=dilation)
    assert y.shape == (2, 3, 5, 6)
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-12)


def test_conv1d_same_with_an_even_kernel_matches_right_padding(rng, device):
    x = rng.standard_normal((1, 2, 6))
    w = rng.standard_normal((3, 2, 2))
    y = F.conv1d(as_tensor(x, device), as_tensor(w, device), padding="same")
    expected = numpy_conv(np.pad(x, ((0, 0), (0, 0), (0, 1)))[:, :, None], w[:, :, None])
    np.testing.assert_allclose(y.numpy(), expected[:, :, 0], atol=1e-12)


def test_same_padding_gradcheck_with_an_even_kernel(rng):
    x = as_tensor(rng.standard_normal((1, 2, 4, 3)), requires_grad=True)
    w = as_tensor(rng.standard_normal((2, 2, 2, 2)), requires_grad=True)
    assert tg.gradcheck(lambda x, w: F.conv2d(x, w, padding="same"), (x, w))
    assert tg.gradgradcheck(lambda x, w: F.conv2d(x, w, padding="same"), (x, w))


# ---------------------------------------------------------------- the layers' checks

@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(2, 2, 3, groups=0), "Conv2d: groups must be a positive integer"),
    (lambda: nn.Conv1d(2, 2, 3, groups=-1), "Conv1d: groups must be a positive integer"),
    (lambda: nn.Conv2d(2, 2, 3, stride=2, padding="same"),
     "Conv2d: padding='same' is not supported for strided"),
    (lambda: nn.Conv1d(2, 2, 3, stride=2, padding="same"),
     "Conv1d: padding='same' is not supported for strided"),
    (lambda: nn.Conv2d(2, 2, 3, padding_mode="mirror"), "Conv2d: padding_mode must be one of"),
    (lambda: nn.Conv3d(2, 2, 3, groups=0), "Conv3d: groups must be a positive integer"),
])
def test_conv_layers_check_their_options_when_built(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(tg.ones(1, 2, 4, 4), tg.ones(3, 2, 3, 3), tg.ones(4)),
     r"conv2d: bias of shape \(4,\) does not match the 3 out channels"),
    (lambda: F.conv1d(tg.ones(1, 2, 4), tg.ones(3, 2, 3), tg.ones(2)),
     r"conv1d: bias of shape \(2,\) does not match the 3 out channels"),
    (lambda: F.conv_transpose2d(tg.ones(1, 2, 4, 4), tg.ones(2, 3, 3, 3), tg.ones(4)),
     r"conv_transpose2d: bias of shape \(4,\) does not match the 3 out channels"),
    (lambda: F.conv2d(tg.ones(1, 2, 4, 4), tg.ones(3, 2, 3, 3), padding="full"),
     "conv2d: padding must be an int, a pair, 'valid' or 'same', got 'full'"),
])
def test_functional_convolutions_name_a_wrong_bias_or_padding(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_numpy_integers_are_accepted_as_window_options():
    x = tg.ones(1, 2, 6, 6)
    y = F.conv2d(x, tg.ones(3, 2, 3, 3), stride=(np.int64(2), 1), padding=np.int32(1))
    assert y.shape == (1, 3, 3, 6)
    assert F.max_pool2d(x, np.int64(2)).shape == (1, 2, 3, 3)
    assert F.conv1d(tg.ones(1, 2, 6), tg.ones(3, 2, 3), stride=np.int64(2)).shape == (1, 3, 2)
    assert F.avg_pool3d(tg.ones(1, 1, 4, 4, 4), np.int64(2)).shape == (1, 1, 2, 2, 2)


# -------------------------------------------------------------------- an empty batch

@pytest.mark.parametrize("pool, shape, expected", [
    (lambda x: F.max_pool2d(x, 2), (0, 2, 4, 4), (0, 2, 2, 2)),
    (lambda x: F.max_pool2d(x, 2, return_indices=True)[1], (0, 2, 4, 4), (0, 2, 2, 2)),
    (lambda x: F.avg_pool2d(x, 2), (0, 2, 4, 5), (0, 2, 2, 2)),
    (lambda x: F.max_pool1d(x, 2), (0, 3, 5), (0, 3, 2)),
    (lambda x: F.adaptive_max_pool2d(x, 2, return_indices=True)[0], (0, 2, 5, 5), (0, 2, 2, 2)),
    (lambda x: F.max_pool3d(x, 2), (0, 1, 4, 4, 4), (0, 1, 2, 2, 2)),
    (lambda x: F.avg_pool3d(x, 2), (0, 1, 4, 4, 4), (0, 1, 2, 2, 2)),
])
def test_poolings_take_an_empty_batch_as_pytorch(pool, shape, expected):
    assert pool(tg.zeros(*shape)).shape == expected


# ------------------------------------------------------------------ recurrent layers

@pytest.mark.parametrize("make, message", [
    (lambda: nn.GRU(3, 4, num_layers=2, dropout=True), "dropout should be a number in range"),
    (lambda: nn.LSTM(3, 4, num_layers=2, dropout="0.5"), "dropout should be a number in range"),
    (lambda: nn.RNN(3, 0), "RNN: hidden_size must be a positive int"),
])
def test_recurrent_layers_check_dropout_and_hidden_size(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_dropout_with_one_layer_warns_as_pytorch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(3, 4, num_layers=2, dropout=0.2)                # no warning with two layers


def test_initial_state_of_the_wrong_rank_is_named():
    lstm = nn.LSTM(2, 3)
    with pytest.raises(ValueError, match=r"unbatched 2-D input, h_0 should also be 2-D, got "
                                         r"shape \(1, 1, 3\)"):
        lstm(tg.ones(4, 2), (tg.ones(1, 1, 3), tg.ones(1, 1, 3)))
    with pytest.raises(ValueError, match=r"batched 3-D input, h_0 should also be 3-D"):
        nn.GRU(2, 3)(tg.ones(4, 1, 2), tg.ones(1, 3))
    with pytest.raises(ValueError, match=r"batched 3-D input, c_0 should also be 3-D"):
        lstm(tg.ones(4, 1, 2), (tg.ones(1, 1, 3), tg.ones(1, 3)))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_proj_size_projects_h_as_pytorch(rng, device, bidirectional):
    """h_t = W_hr (o ⊙ tanh(c_t)): h and the outputs have P features, c keeps H."""
    L, N, I, H, P, layers = 3, 2, 3, 4, 2, 2
    D = 2 if bidirectional else 1
    lstm = nn.LSTM(I, H, num_layers=layers, bidirectional=bidirectional, proj_size=P,
                   dtype=tg.float64).to(device)
    weights = {name: value.numpy() for name, value in lstm.state_dict().items()}
    assert weights["weight_hh_l0"].shape == (4 * H, P)
    assert weights["weight_hr_l0"].shape == (P, H)
    assert weights["weight_ih_l1"].shape == (4 * H, D * P)
    x = rng.standard_normal((L, N, I))
    h0 = rng.standard_normal((layers * D, N, P))
    c0 = rng.standard_normal((layers * D, N, H))
    output, (h_n, c_n) = lstm(as_tensor(x, device), (as_tensor(h0, device),
                                                     as_tensor(c0, device)))
    inputs, h_last, c_last = x, [], []
    for layer in range(layers):
        outputs = []
        for direction, suffix in enumerate(["", "_reverse"][:D]):
            w = {kind: weights[f"{kind}_l{layer}{suffix}"] for kind in
                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
            h, c, steps = h0[layer * D + direction], c0[layer * D + direction], [None] * L
            for t in (reversed(range(L)) if direction else range(L)):
                gates = inputs[t] @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T \
                    + w["bias_hh"]
                i, f, g, o = np.split(gates, 4, axis=-1)
                c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                h = (sigmoid(o) * np.tanh(c)) @ w["weight_hr"].T
                steps[t] = h
            outputs.append(np.stack(steps))
            h_last.append(h)
            c_last.append(c)
        inputs = np.concatenate(outputs, axis=-1)
    assert output.shape == (L, N, D * P) and h_n.shape == (layers * D, N, P)
    assert c_n.shape == (layers * D, N, H)
    np.testing.assert_allclose(output.numpy(), inputs, atol=1e-12)
    np.testing.assert_allclose(h_n.numpy(), np.stack(h_last), atol=1e-12)
    np.testing.assert_allclose(c_n.numpy(), np.stack(c_last), atol=1e-12)


def test_lstm_proj_size_checks_init_and_gradients(rng):
    lstm = nn.LSTM(3, 100, proj_size=10)
    assert max(np.abs(p.numpy()).max() for p in lstm.parameters()) <= 0.1  # U(±1/√H), all
    assert repr(lstm) == "LSTM(3, 100, proj_size=10)"
    with pytest.raises(ValueError, match="proj_size 4 has to be smaller than hidden_size 4"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.RNNBase("GRU", 3, 4, proj_size=2)
    small = nn.LSTM(2, 3, proj_size=1, dtype=tg.float64)
    x = as_tensor(rng.standard_normal((3, 2)), requires_grad=True)      # unbatched
    output, (h_n, c_n) = small(x)
    assert (output.shape, h_n.shape, c_n.shape) == ((3, 1), (1, 1), (1, 3))
    assert tg.gradcheck(lambda x: small(x)[0], (x,))
