"""Signature audit of the nn Modules against PyTorch: constructor arguments in PyTorch's
positional order (the losses' deprecated ``size_average``/``reduce`` keep their places),
``forward``'s PyTorch argument names, and Module's own methods (``state_dict``'s old
positional order, ``load_state_dict(assign=True)``, ``to(tensor)``, ``cuda(device)``,
``register_full_backward_hook``, ``register_forward_hook(always_call=True)``).
Expected values are written from the formulas with NumPy."""

import inspect
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


def close(tensor, expected, tol=1e-10):
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=tol, atol=tol)


def legacy(build):
    """``build()`` with PyTorch's deprecation warnings of the legacy flags silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build()


# ------------------------------------------------------------- losses: PyTorch's order

LOGITS = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [0.0, 0.2, -0.4]])
LABELS = np.array([0, 1, 2])


def numpy_nll(log_probs, labels, ignore_index, reduction):
    keep = labels != ignore_index
    picked = -log_probs[np.arange(len(labels)), labels] * keep
    return picked.sum() / keep.sum() if reduction == "mean" else picked.sum()


def numpy_log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def test_cross_entropy_loss_third_positional_is_ignore_index():
    # PyTorch: CrossEntropyLoss(weight, size_average, ignore_index, reduce, reduction, ...)
    loss = nn.CrossEntropyLoss(None, None, 1, None, "sum")
    assert loss.ignore_index == 1 and loss.reduction == "sum"
    expected = numpy_nll(numpy_log_softmax(LOGITS), LABELS, 1, "sum")
    close(loss(tg.tensor(LOGITS), tg.tensor(LABELS)), expected)


def test_nll_loss_third_positional_is_ignore_index():
    log_probs = numpy_log_softmax(LOGITS)
    loss = nn.NLLLoss(None, None, 2)
    assert loss.ignore_index == 2 and loss.reduction == "mean"
    close(loss(tg.tensor(log_probs), tg.tensor(LABELS)), numpy_nll(log_probs, LABELS, 2, "mean"))


def test_poisson_nll_loss_fourth_positional_is_eps():
    # PyTorch: PoissonNLLLoss(log_input, full, size_average, eps, reduce, reduction)
    rates = np.array([0.0, 1.5, 3.0])
    counts = np.array([1.0, 2.0, 0.0])
    loss = nn.PoissonNLLLoss(False, False, None, 0.5, None, "sum")
    assert loss.eps == 0.5 and loss.reduction == "sum"
    expected = (rates - counts * np.log(rates + 0.5)).sum()
    close(loss(tg.tensor(rates), tg.tensor(counts)), expected)


def test_triplet_margin_loss_seventh_positional_is_reduction():
    anchor, positive, negative = (np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]]),
                                  np.array([[3.0, 1.0]]))
    loss = nn.TripletMarginLoss(2.0, 2.0, 0.0, False, None, None, "none")
    assert loss.reduction == "none"
    expected = np.maximum(0.0, 2.0 + 1.0 - 3.0) * np.ones(1)
    close(loss(*(tg.tensor(a) for a in (anchor, positive, negative))), expected)


@pytest.mark.parametrize("build, reduction", [
    (lambda: nn.MSELoss(None, None, "sum"), "sum"),
    (lambda: nn.L1Loss(None, None, "none"), "none"),
    (lambda: nn.SmoothL1Loss(None, None, "sum", 0.5), "sum"),
    (lambda: nn.BCELoss(None, None, None, "sum"), "sum"),
    (lambda: nn.BCEWithLogitsLoss(None, None, None, "none"), "none"),
    (lambda: nn.KLDivLoss(None, None, "batchmean", True), "batchmean"),
    (lambda: nn.MultiMarginLoss(1, 1.0, None, None, None, "sum"), "sum"),
    (lambda: nn.MarginRankingLoss(0.5, None, None, "sum"), "sum"),
    (lambda: nn.HingeEmbeddingLoss(1.0, None, None, "sum"), "sum"),
    (lambda: nn.CosineEmbeddingLoss(0.0, None, None, "none"), "none"),
    (lambda: nn.MultiLabelSoftMarginLoss(None, None, None, "sum"), "sum"),
    (lambda: nn.SoftMarginLoss(None, None, "sum"), "sum"),
    (lambda: nn.MultiLabelMarginLoss(None, None, "sum"), "sum"),
])
def test_reduction_sits_after_the_legacy_flags(build, reduction):
    assert build().reduction == reduction


def test_legacy_flags_give_pytorchs_reduction_with_a_warning():
    error = np.array([1.0, -2.0, 3.0])
    prediction, target = tg.tensor(error), tg.tensor(np.zeros(3))
    with pytest.warns(UserWarning, match="reduction='sum'"):
        loss = nn.MSELoss(size_average=False)
    close(loss(prediction, target), (error ** 2).sum())
    assert legacy(lambda: nn.MSELoss(reduce=False)).reduction == "none"
    assert legacy(lambda: nn.MSELoss(True, True)).reduction == "mean"
    assert legacy(lambda: nn.KLDivLoss(False)).log_target is False
    assert legacy(lambda: nn.CrossEntropyLoss(None, False)).reduction == "sum"


def test_a_reduction_in_the_place_of_a_flag_is_a_type_error():
    with pytest.raises(TypeError, match="reduction="):
        nn.MSELoss("sum")
    with pytest.raises(TypeError, match="size_average"):
        nn.BCELoss(None, "mean")


# ------------------------------------------------- forward: PyTorch's argument names

FORWARD_NAMES = {
    nn.Linear: ["input"], nn.ReLU: ["input"], nn.Softmax: ["input"], nn.GELU: ["input"],
    nn.Conv1d: ["input"], nn.Conv2d: ["input"], nn.Conv3d: ["input"],
    nn.MaxPool2d: ["input"], nn.AvgPool1d: ["input"], nn.AdaptiveAvgPool2d: ["input"],
    nn.BatchNorm1d: ["input"], nn.BatchNorm2d: ["input"], nn.LayerNorm: ["input"],
    nn.GroupNorm: ["input"], nn.InstanceNorm1d: ["input"], nn.RMSNorm: ["input"],
    nn.Dropout: ["input"], nn.Dropout2d: ["input"], nn.Flatten: ["input"],
    nn.Unflatten: ["input"], nn.Identity: ["input"], nn.Sequential: ["input"],
    nn.Upsample: ["input"], nn.PixelShuffle: ["input"], nn.ZeroPad2d: ["input"],
    nn.Unfold: ["input"], nn.Fold: ["input"], nn.ChannelShuffle: ["input"],
    nn.Embedding: ["input"], nn.Bilinear: ["input1", "input2"],
    nn.CosineSimilarity: ["x1", "x2"], nn.PairwiseDistance: ["x1", "x2"],
    nn.RNNCell: ["input", "hx"], nn.LSTMCell: ["input", "hx"], nn.GRUCell: ["input", "hx"],
    nn.RNN: ["input", "hx"], nn.LSTM: ["input", "hx"], nn.GRU: ["input", "hx"],
    nn.ConvTranspose2d: ["input", "output_size"],
    nn.MSELoss: ["input", "target"], nn.PoissonNLLLoss: ["log_input", "target"],
}


@pytest.mark.parametrize("cls", list(FORWARD_NAMES), ids=lambda cls: cls.__name__)
def test_forward_takes_pytorchs_argument_names(cls):
    names = list(inspect.signature(cls.forward).parameters)[1:]
    assert names == FORWARD_NAMES[cls]


def test_forward_by_keyword():
    x = np.array([[-1.0, 2.0]])
    close(nn.ReLU()(input=tg.tensor(x)), np.maximum(x, 0))
    close(nn.Sequential(nn.Identity())(input=tg.tensor(x)), x)
    cell = nn.RNNCell(2, 3).double()
    weight_ih, weight_hh = cell.weight_ih.numpy(), cell.weight_hh.numpy()
    bias = cell.bias_ih.numpy() + cell.bias_hh.numpy()
    hidden = np.ones((1, 3))
    close(cell(input=tg.tensor(x), hx=tg.tensor(hidden)),
          np.tanh(x @ weight_ih.T + hidden @ weight_hh.T + bias))
    bilinear = nn.Bilinear(2, 2, 1, bias=False).double()
    expected = np.einsum("ni,oij,nj->no", x, bilinear.weight.numpy(), x)
    close(bilinear(input1=tg.tensor(x), input2=tg.tensor(x)), expected)


# ----------------------------------------------------------------- other constructors

def test_hardtanh_takes_the_deprecated_min_value_max_value():
    with pytest.warns(FutureWarning) as record:
        layer = nn.Hardtanh(min_value=-0.5, max_value=0.5)
    assert ["min_value" in str(w.message) for w in record] == [True, False]
    assert (layer.min_val, layer.max_val) == (-0.5, 0.5)
    close(layer(tg.tensor(np.array([-2.0, 0.25, 2.0]))), np.array([-0.5, 0.25, 0.5]))


def test_embedding_bag_from_pretrained_in_pytorchs_order():
    # PyTorch: from_pretrained(embeddings, freeze, max_norm, norm_type, scale_grad_by_freq,
    #                          mode, sparse, include_last_offset, padding_idx)
    table = np.arange(6.0).reshape(3, 2)
    bag = nn.EmbeddingBag.from_pretrained(tg.tensor(table), True, None, 2.0, False, "sum")
    assert bag.mode == "sum" and not bag.weight.requires_grad
    close(bag(tg.tensor(np.array([[0, 2]]))), table[[0, 2]].sum(axis=0, keepdims=True))


def test_rnn_flatten_parameters_is_accepted():
    lstm = nn.LSTM(2, 3)
    assert lstm.flatten_parameters() is None


# -------------------------------------------------------------------- Module methods

def test_state_dict_reads_pytorchs_old_positional_order():
    layer = nn.Linear(2, 1)
    destination = {}
    with pytest.warns(FutureWarning, match="Positional args"):
        result = layer.state_dict(destination, "head.", True)
    assert result is destination and list(destination) == ["head.weight", "head.bias"]
    assert destination["head.weight"] is layer.weight  # keep_vars=True
    assert list(layer.state_dict(prefix="p.")) == ["p.weight", "p.bias"]


def test_load_state_dict_assign_puts_the_tensors_themselves_in():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    model[0].bias.requires_grad_(False)
    source = {key: tg.tensor(np.full(value.shape, 0.5), dtype=tg.float64)
              for key, value in model.state_dict().items() if value.dtype.kind == "f"}
    source["1.num_batches_tracked"] = tg.tensor(7)
    result = model.load_state_dict(source, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    weight = model[0].weight
    assert isinstance(weight, nn.Parameter) and weight.dtype == np.float64  # the dict's dtype
    assert weight.requires_grad and not model[0].bias.requires_grad  # the module's flags
    source["0.weight"].data[0, 0] = 9.0  # shares memory with the state dict's tensor
    assert weight.numpy()[0, 0] == 9.0
    assert model[1].running_mean is source["1.running_mean"]
    assert int(model[1].num_batches_tracked.item()) == 7
    with pytest.raises(RuntimeError, match="size mismatch"):
        nn.Linear(2, 2).load_state_dict({"weight": tg.zeros(3, 2), "bias": tg.zeros(2)},
                                        assign=True)


def test_to_tensor_takes_its_device_and_dtype():
    layer = nn.Linear(2, 2)
    assert layer.to(tg.zeros(1, dtype=tg.float64, device="strict")) is layer
    assert layer.weight.dtype == np.float64 and layer.weight.device == "strict"
    with pytest.raises(TypeError, match="floating point"):
        layer.to(tg.zeros(1, dtype=tg.int64))


@pytest.mark.skipif(tg.backend.cuda_available(), reason="checks the message without a GPU")
def test_cuda_takes_a_device_index():
    with pytest.raises(RuntimeError, match="cuda:0"):
        nn.Linear(2, 2).cuda(0)


def test_full_backward_hook_sees_and_replaces_grad_input_once():
    layer = nn.Linear(3, 2).double()
    calls = []

    def hook(module, grad_input, grad_output):
        calls.append((module, grad_input, grad_output))
        return (grad_input[0] * 2,)

    handle = layer.register_full_backward_hook(hook)
    x_value = np.arange(6.0).reshape(2, 3)
    x = tg.tensor(x_value, requires_grad=True)
    layer(x).sum().backward()
    assert len(calls) == 1
    module, grad_input, grad_output = calls[0]
    weight = layer.weight.numpy()
    assert module is layer and len(grad_input) == 1 and len(grad_output) == 1
    close(grad_output[0], np.ones((2, 2)))
    close(grad_input[0], np.ones((2, 2)) @ weight)
    close(x.grad, 2 * np.ones((2, 2)) @ weight)                  # replaced for the input
    close(layer.weight.grad, np.ones((2, 2)).T @ x_value)        # the weights' as before
    handle.remove()
    x.grad = None
    layer(x).sum().backward()
    assert len(calls) == 1
    close(x.grad, np.ones((2, 2)) @ weight)


def test_full_backward_hook_with_two_inputs_and_with_inputs_without_grad():
    layer = nn.Bilinear(2, 2, 1).double()
    calls = []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    a = tg.tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    b = tg.tensor(np.array([[3.0, -1.0]]))
    layer(a, b).sum().backward()
    assert len(calls) == 1
    grad_input, _ = calls[0]
    assert grad_input[1] is None                                  # b needs no gradient
    close(grad_input[0], (layer.weight.numpy()[0] @ b.numpy().T).T)
    calls.clear()
    layer(b, b).sum().backward()                                  # nothing needs a gradient
    assert len(calls) == 1 and calls[0][0] == (None, None)
    close(calls[0][1][0], np.ones((1, 1)))


def test_full_backward_hook_replaces_the_gradients_of_two_inputs_at_once():
    layer = nn.Bilinear(2, 3, 1, bias=False).double()
    calls = []

    def hook(module, grad_input, grad_output):
        calls.append(grad_input)
        return (grad_input[0], grad_input[1] * 3)

    layer.register_full_backward_hook(hook)
    a_value, b_value = np.array([[1.0, 2.0]]), np.array([[3.0, -1.0, 0.5]])
    a = tg.tensor(a_value, requires_grad=True)
    b = tg.tensor(b_value, requires_grad=True)
    (layer(a, b) * 2).sum().backward()
    weight = layer.weight.numpy()[0]                              # (2, 3)
    assert len(calls) == 1
    close(calls[0][0], 2 * b_value @ weight.T)
    close(calls[0][1], 2 * a_value @ weight)
    close(a.grad, 2 * b_value @ weight.T)
    close(b.grad, 3 * 2 * a_value @ weight)


def test_full_backward_hook_returning_a_wrong_length_raises():
    layer = nn.Linear(2, 2)
    layer.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    x = tg.ones(1, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        layer(x).sum().backward()


def test_forward_hook_always_call_runs_when_forward_raises():
    layer = nn.Linear(2, 2)
    seen = []
    layer.register_forward_hook(lambda m, args, out: seen.append(("always", out)),
                                always_call=True)
    layer.register_forward_hook(lambda m, args, out: seen.append(("plain", out)))
    with pytest.raises(ValueError):
        layer(tg.ones(1, 5))
    assert seen == [("always", None)]
    out = layer(tg.ones(1, 2))
    assert [name for name, _ in seen[1:]] == ["always", "plain"] and seen[1][1] is out
