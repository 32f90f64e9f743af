"""Layers: Linear, BatchNorm1d, LayerNorm, Dropout, Residual, ResidualBlock, Maxout,
Flatten, Identity; values against hand-written NumPy, gradients by gradcheck."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def as_tensor(array, device, requires_grad=False):
    return tg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


# --------------------------------------------------------------------- Linear

def test_linear_layout_and_values(rng, device):
    layer = nn.Linear(4, 3, device=device)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert layer.weight.device == device and layer.weight.dtype == np.float32
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = layer(as_tensor(x, device))
    expected = x @ layer.weight.numpy().T + layer.bias.numpy()  # y = x @ W.T + b
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-6)
    batched = rng.standard_normal((2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(as_tensor(batched, device)).numpy(),
                               batched @ layer.weight.numpy().T + layer.bias.numpy(),
                               rtol=1e-5, atol=1e-6)


def test_linear_default_init_is_pytorchs():
    layer = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives exactly 1/sqrt(fan_in)
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    assert np.abs(weight).max() > 0.99 * bound
    assert weight.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)  # U(-b, b)
    assert abs(weight.mean()) < 0.01 * bound * 10
    assert bias.std() == pytest.approx(bound / np.sqrt(3), rel=0.15)


def test_linear_without_bias_and_gradcheck(rng, device):
    layer = nn.Linear(3, 2, bias=False, device=device, dtype=tg.float64)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=False)"
    x = as_tensor(rng.standard_normal((4, 3)), device, requires_grad=True)
    assert tg.gradcheck(lambda t: layer(t), [x])
    w = as_tensor(rng.standard_normal((2, 3)), device, requires_grad=True)
    b = as_tensor(rng.standard_normal(2), device, requires_grad=True)
    assert tg.gradcheck(F.linear, [x, w, b])


def test_linear_gradients_match_hand_formulas(rng, device):
    layer = nn.Linear(3, 2, device=device)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    grad_out = rng.standard_normal((4, 2)).astype(np.float32)
    layer(as_tensor(x, device)).backward(as_tensor(grad_out, device))
    np.testing.assert_allclose(layer.weight.grad.numpy(), grad_out.T @ x, rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.numpy(), grad_out.sum(0), rtol=1e-5)


def test_linear_feature_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(3, 4\)"):
        nn.Linear(4, 3)(tg.randn(2, 5))


# ------------------------------------------------------------------ BatchNorm1d

def numpy_batchnorm_run(batches, momentum, eps=1e-5, axes=(0,)):
    """Hand transcription of PyTorch's BatchNorm training: outputs and running stats."""
    channels = batches[0].shape[1]
    running_mean, running_var = np.zeros(channels), np.ones(channels)
    outputs = []
    for step, batch in enumerate(batches, start=1):
        n = batch.size // channels
        keep = tuple(1 if axis in axes else size for axis, size in enumerate(batch.shape))
        mean = batch.mean(axis=axes)
        biased = batch.var(axis=axes)
        unbiased = biased * n / (n - 1)
        factor = 1.0 / step if momentum is None else momentum
        running_mean = (1 - factor) * running_mean + factor * mean
        running_var = (1 - factor) * running_var + factor * unbiased
        outputs.append((batch - mean.reshape(keep)) / np.sqrt(biased.reshape(keep) + eps))
    return outputs, running_mean, running_var


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_running_statistics_after_several_steps(momentum, rng, device):
    batches = [rng.standard_normal((8, 3)) * [1.0, 2.0, 0.5] + [0.0, 3.0, -1.0]
               for _ in range(4)]
    bn = nn.BatchNorm1d(3, momentum=momentum).to(device).double()
    outputs = [bn(as_tensor(b, device)).numpy() for b in batches]
    expected, running_mean, running_var = numpy_batchnorm_run(batches, momentum)
    for out, ref in zip(outputs, expected):
        np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), running_mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), running_var, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 4
    assert bn.num_batches_tracked.dtype == np.int64


def test_batchnorm_eval_uses_running_statistics_and_does_not_update(rng, device):
    bn = nn.BatchNorm1d(2, momentum=0.3).to(device)
    bn.weight.data[...] = as_tensor(np.array([2.0, 0.5], np.float32), device).data
    bn.bias.data[...] = as_tensor(np.array([1.0, -1.0], np.float32), device).data
    for _ in range(3):
        bn(as_tensor(rng.standard_normal((6, 2)).astype(np.float32) + 5, device))
    bn.eval()
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    x = rng.standard_normal((4, 2)).astype(np.float32)
    y = bn(as_tensor(x, device)).numpy()
    expected = (x - mean) / np.sqrt(var + 1e-5) * [2.0, 0.5] + [1.0, -1.0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bn.running_mean.numpy(), mean)
    assert bn.num_batches_tracked.item() == 3
    train_output = bn.train()(as_tensor(x, device)).numpy()
    assert not np.allclose(train_output, y)  # training mode normalises with batch stats


def test_batchnorm_three_dimensional_input(rng, device):
    batches = [rng.standard_normal((4, 3, 5)) + np.arange(3)[None, :, None] for _ in range(2)]
    bn = nn.BatchNorm1d(3).to(device).double()
    outputs = [bn(as_tensor(b, device)).numpy() for b in batches]
    expected, running_mean, running_var = numpy_batchnorm_run(batches, 0.1, axes=(0, 2))
    np.testing.assert_allclose(outputs[1], expected[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), running_mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), running_var, rtol=1e-12)


def test_batchnorm_gradcheck_through_batch_statistics(rng, device):
    x = as_tensor(rng.standard_normal((5, 3)), device, requires_grad=True)
    w = as_tensor(rng.standard_normal(3), device, requires_grad=True)
    b = as_tensor(rng.standard_normal(3), device, requires_grad=True)
    assert tg.gradcheck(lambda t, g, c: F.batch_norm(t, None, None, g, c, training=True),
                        [x, w, b])
    x3 = as_tensor(rng.standard_normal((3, 2, 4)), device, requires_grad=True)
    bn = nn.BatchNorm1d(2).to(device).double()
    assert tg.gradcheck(lambda t: bn(t), [x3])
    assert tg.gradgradcheck(lambda t: F.batch_norm(t, None, None, training=True), [x])


def test_batchnorm_training_gradient_sums_to_zero_per_channel(rng):
    # y = x_hat is invariant to shifting a channel, so dL/dx sums to 0 over the batch
    x = tg.tensor(rng.standard_normal((6, 2)), requires_grad=True)
    (F.batch_norm(x, None, None, training=True) * tg.tensor(rng.standard_normal((6, 2)))
     ).sum().backward()
    np.testing.assert_allclose(x.grad.numpy().sum(axis=0), 0.0, atol=1e-12)


def test_batchnorm_without_running_stats_and_without_affine(rng, device):
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False).to(device)
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    assert bn.running_mean is None
    x = rng.standard_normal((5, 2)).astype(np.float32)
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(bn.eval()(as_tensor(x, device)).numpy(), expected,
                               rtol=1e-4, atol=1e-5)  # batch statistics, even in eval


def test_batchnorm_state_and_errors():
    bn = nn.BatchNorm1d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    np.testing.assert_array_equal(bn.running_var.numpy(), [1, 1, 1])
    assert repr(bn) == ("BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, "
                        "track_running_stats=True)")
    with pytest.raises(ValueError, match=r"\(4, 2\).*3"):
        bn(tg.randn(4, 2))
    with pytest.raises(ValueError, match="more than 1 value"):
        bn(tg.randn(1, 3))
    with pytest.raises(ValueError, match="2D"):
        bn(tg.randn(2, 3, 4, 5))


# -------------------------------------------------------------------- LayerNorm

@pytest.mark.parametrize("shape, normalized", [((4, 5), 5), ((2, 3, 4), (3, 4))])
def test_layernorm_values_and_gradcheck(shape, normalized, rng, device):
    x = rng.standard_normal(shape) * 3 + 1
    ln = nn.LayerNorm(normalized).to(device).double()
    axes = (-2, -1) if isinstance(normalized, tuple) else (-1,)
    weight = rng.standard_normal(ln.weight.shape)
    bias = rng.standard_normal(ln.bias.shape)
    ln.weight.data[...] = as_tensor(weight, device).data
    ln.bias.data[...] = as_tensor(bias, device).data
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * weight + bias
    np.testing.assert_allclose(ln(as_tensor(x, device)).numpy(), expected, rtol=1e-10)
    xt = as_tensor(x, device, requires_grad=True)
    w = as_tensor(weight, device, requires_grad=True)
    b = as_tensor(bias, device, requires_grad=True)
    assert tg.gradcheck(lambda t, g, c: F.layer_norm(t, normalized, g, c), [xt, w, b])


def test_layernorm_parameters_and_errors():
    ln = nn.LayerNorm(4)
    assert [name for name, _ in ln.named_parameters()] == ["weight", "bias"]
    assert repr(ln) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True)"
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)"):
        ln(tg.randn(2, 3))


# ---------------------------------------------------------------------- Dropout

def test_dropout_scales_survivors_and_zeros_a_fraction_p(device):
    x = tg.ones(200, 500, device=device)
    y = nn.Dropout(0.3)(x).numpy()
    zero_fraction = np.mean(y == 0)
    assert zero_fraction == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the mean


def test_dropout_eval_identity_and_extremes(device):
    x = tg.randn(10, 10, device=device)
    dropout = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(dropout(x).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.0, training=True).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 1.0, training=True).numpy(), 0.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


def test_dropout_gradient_is_the_mask(rng, device):
    x = as_tensor(rng.standard_normal((20, 20)) + 3, device, requires_grad=True)
    y = F.dropout(x, 0.4, training=True)
    y.sum().backward()
    mask = y.detach().numpy() / x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), mask, rtol=1e-10)
    assert set(np.round(np.unique(mask), 10)) == {0.0, round(1 / 0.6, 10)}


# --------------------------------------------------------------- Residual blocks

def test_residual_adds_the_input(rng, device):
    inner = nn.Linear(3, 3, device=device, dtype=tg.float64)
    block = nn.Residual(inner)
    x = as_tensor(rng.standard_normal((2, 3)), device, requires_grad=True)
    np.testing.assert_allclose(block(x).detach().numpy(),
                               x.detach().numpy() + inner(x).detach().numpy())
    assert [name for name, _ in block.named_parameters()] == ["module.weight", "module.bias"]
    assert tg.gradcheck(lambda t: block(t), [x])


def test_residual_block_structure_and_forward(rng, device):
    block = nn.ResidualBlock(4, hidden=6).to(device)
    assert [name for name, _ in block.named_parameters()] == [
        "fc1.weight", "fc1.bias", "norm.weight", "norm.bias", "fc2.weight", "fc2.bias"]
    assert block.fc1.weight.shape == (6, 4) and block.fc2.weight.shape == (4, 6)
    x = as_tensor(rng.standard_normal((5, 4)).astype(np.float32), device)
    hidden = block.fc1(x).numpy()
    normed = (hidden - hidden.mean(0)) / np.sqrt(hidden.var(0) + 1e-5)
    expected = x.numpy() + np.maximum(normed, 0) @ block.fc2.weight.numpy().T \
        + block.fc2.bias.numpy()
    np.testing.assert_allclose(block(x).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_residual_block_options_and_gradcheck(rng):
    block = nn.ResidualBlock(3, activation=nn.Tanh, norm=False).double()
    assert isinstance(block.norm, nn.Identity) and isinstance(block.activation, nn.Tanh)
    assert block.fc1.weight.shape == (3, 3)
    x = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert tg.gradcheck(lambda t: block(t), [x])
    shared = nn.LeakyReLU(0.2)
    assert nn.ResidualBlock(3, activation=shared).activation is shared


# ------------------------------------------------------------------------ Maxout

def test_maxout_is_max_over_pieces(rng, device):
    layer = nn.Maxout(4, 3, pieces=2).to(device)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    z = x @ layer.linear.weight.numpy().T + layer.linear.bias.numpy()  # (5, 6)
    expected = z.reshape(5, 3, 2).max(axis=-1)
    np.testing.assert_allclose(layer(as_tensor(x, device)).numpy(), expected, rtol=1e-5)
    assert layer.linear.weight.shape == (6, 4)
    assert repr(layer).startswith("Maxout(\n  in_features=4, out_features=3, pieces=2")


def test_maxout_gradcheck(rng):
    layer = nn.Maxout(3, 2, pieces=3).double()
    x = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert tg.gradcheck(lambda t: layer(t), [x])


def test_functional_maxout_takes_the_max_of_consecutive_groups(rng, device):
    x = rng.standard_normal((2, 3, 6))
    out = F.maxout(as_tensor(x, device), 3)                        # groups [0:3], [3:6]
    np.testing.assert_array_equal(out.numpy(), np.stack([x[..., :3].max(-1),
                                                         x[..., 3:].max(-1)], axis=-1))
    leaf = tg.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    assert tg.gradcheck(lambda t: F.maxout(t, 2), [leaf])
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="pieces must be a positive integer"):
            F.maxout(leaf, bad)
    with pytest.raises(ValueError, match="must be a multiple of pieces=4"):
        F.maxout(leaf, 4)


# -------------------------------------------------------------- Flatten, Identity

def test_flatten_and_identity(device):
    x = tg.randn(2, 3, 4, device=device)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Identity(54, unused=1)(x) is x
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
