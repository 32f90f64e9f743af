"""Audit of the normalisation layers and their functional forms against PyTorch's documented
semantics: argument checks (shapes of γ, β and the running statistics, normalized_shape),
inputs PyTorch accepts (NumPy integers as sizes, GroupNorm without affine on other channel
counts, InstanceNorm of an empty spatial extent), and values and gradients of option
combinations the other tests leave out, each against a NumPy reference."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn


def t(array, device, grad=False):
    return tg.tensor(np.asarray(array, dtype=np.float64), device=device, requires_grad=grad)


def np_norm(x, axes, eps=1e-5):
    """(x − μ)/√(σ² + eps), μ and the biased σ² over ``axes``."""
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


# ------------------------------------------------------------------------------ layer_norm

def test_layer_norm_refuses_an_empty_normalized_shape(device):
    # PyTorch: "Expected normalized_shape to be at least 1-dimensional"; it returned zeros.
    x = t(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(\)"):
        F.layer_norm(x, ())
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(\)"):
        nn.LayerNorm(())(x)


@pytest.mark.parametrize("name", ["weight", "bias"])
def test_layer_norm_refuses_a_weight_or_bias_not_of_normalized_shape(device, name):
    # PyTorch: "Expected weight to be of same shape as normalized_shape"; it broadcast them.
    x = t(np.ones((2, 3, 4)), device)
    for shape in [(1,), (3, 4)]:
        kwargs = {name: t(np.ones(shape), device)}
        with pytest.raises(ValueError, match=rf"layer_norm: {name} of shape \({shape[0]},"):
            F.layer_norm(x, (4,), **kwargs)


def test_layer_norm_with_a_numpy_integer_size_and_bias_false(device, rng):
    size = np.int64(4)                       # PyTorch: any numbers.Integral is one size
    layer = nn.LayerNorm(size, bias=False, device=device, dtype=tg.float64)
    assert layer.normalized_shape == (4,) and layer.bias is None
    weight = rng.standard_normal(4)
    layer.weight.data[...] = t(weight, device).data
    x = rng.standard_normal((3, 2, 4)) * 2 + 1
    np.testing.assert_allclose(layer(t(x, device)).numpy(), np_norm(x, (-1,)) * weight,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(F.layer_norm(t(x, device), size).numpy(), np_norm(x, (-1,)),
                               rtol=1e-10, atol=1e-12)
    xt, wt = t(x[:2, :1], device, True), t(weight, device, True)
    assert tg.gradcheck(lambda a, w: F.layer_norm(a, (4,), w), [xt, wt])
    assert tg.gradgradcheck(lambda a, w: F.layer_norm(a, (4,), w), [xt, wt])


def test_rms_norm_module_takes_a_numpy_integer_size(device, rng):
    layer = nn.RMSNorm(np.int32(3), eps=1e-6, device=device, dtype=tg.float64)
    assert layer.normalized_shape == (3,)
    x = rng.standard_normal((2, 3))
    expected = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(layer(t(x, device)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(F.rms_norm(t(x, device), np.int64(3), eps=1e-6).numpy(),
                               expected, rtol=1e-12)


# ------------------------------------------------------------------------------ batch_norm

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", ["running_mean", "running_var", "weight", "bias"])
def test_batch_norm_names_a_statistic_or_parameter_of_the_wrong_size(device, training, name):
    # PyTorch: "running_mean should contain 3 elements not 2"
    arguments = {"running_mean": t(np.zeros(3), device), "running_var": t(np.ones(3), device),
                 "weight": t(np.ones(3), device), "bias": t(np.zeros(3), device)}
    arguments[name] = t(np.ones(2), device)
    with pytest.raises(ValueError, match=rf"batch_norm: {name} .*2 elements.* 3 channels"):
        F.batch_norm(t(np.ones((4, 3, 2)), device), training=training, **arguments)


def test_batch_norm_takes_parameters_of_any_shape_with_c_elements(device, rng):
    # PyTorch checks the number of elements only: a (1, C) weight normalises as a (C,) one.
    x = rng.standard_normal((5, 3, 2))
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    y = F.batch_norm(t(x, device), None, None, t(weight.reshape(1, 3), device),
                     t(bias.reshape(3, 1), device), training=True)
    expected = np_norm(x, (0, 2)) * weight[:, None] + bias[:, None]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_batch_norm_cumulative_average_then_eval_without_affine(device, rng):
    """momentum=None: the running values are the plain mean of the batch statistics
    (unbiased variance); evaluation then normalises with them, γ and β absent."""
    layer = nn.BatchNorm2d(2, momentum=None, affine=False, device=device, dtype=tg.float64)
    batches = [rng.standard_normal((3, 2, 2, 2)) * [[[[1.0]], [[3.0]]]] + 1 for _ in range(3)]
    for batch in batches:
        np.testing.assert_allclose(layer(t(batch, device)).numpy(), np_norm(batch, (0, 2, 3)),
                                   rtol=1e-10, atol=1e-12)
    means = [b.mean(axis=(0, 2, 3)) for b in batches]
    variances = [b.transpose(1, 0, 2, 3).reshape(2, -1).var(1, ddof=1) for b in batches]
    np.testing.assert_allclose(layer.running_mean.numpy(), np.mean(means, 0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(), np.mean(variances, 0), rtol=1e-12)
    assert layer.num_batches_tracked.item() == 3
    x = rng.standard_normal((2, 2, 1, 3))
    expected = (x - np.mean(means, 0)[:, None, None]) / np.sqrt(
        np.mean(variances, 0)[:, None, None] + 1e-5)
    np.testing.assert_allclose(layer.eval()(t(x, device)).numpy(), expected, rtol=1e-10)
    assert layer.num_batches_tracked.item() == 3


# ---------------------------------------------------------------------------- instance_norm

@pytest.mark.parametrize("name", ["running_mean", "running_var", "weight", "bias"])
def test_instance_norm_names_a_statistic_or_parameter_of_the_wrong_size(device, name):
    arguments = {"running_mean": t(np.zeros(3), device), "running_var": t(np.ones(3), device),
                 "weight": t(np.ones(3), device), "bias": t(np.zeros(3), device)}
    arguments[name] = t(np.ones(4), device)
    with pytest.raises(ValueError, match=rf"instance_norm: {name} .*4 elements.* 3 channels"):
        F.instance_norm(t(np.ones((2, 3, 5)), device), **arguments)


def test_instance_norm_of_an_empty_spatial_extent_is_empty(device):
    # PyTorch's check refuses exactly one spatial element; zero gives an empty output and
    # leaves the running statistics as they were.
    running_mean, running_var = t([1.0, 2.0, 3.0], device), t([4.0, 5.0, 6.0], device)
    x = t(np.zeros((2, 3, 0)), device, True)
    weight, bias = t(np.ones(3), device, True), t(np.zeros(3), device, True)
    y = F.instance_norm(x, running_mean, running_var, weight, bias, use_input_stats=True)
    assert y.shape == (2, 3, 0)
    y.sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(running_mean.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(running_var.numpy(), [4.0, 5.0, 6.0])
    layer = nn.InstanceNorm2d(3, track_running_stats=True, device=device, dtype=tg.float64)
    assert layer(t(np.zeros((3, 0, 4)), device)).shape == (3, 0, 4)
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(3))


def test_instance_norm3d_tracked_statistics_and_gradients(device, rng):
    layer = nn.InstanceNorm3d(2, momentum=0.25, affine=True, track_running_stats=True,
                              device=device, dtype=tg.float64)
    x = rng.standard_normal((3, 2, 2, 1, 3)) * 2 - 1
    np.testing.assert_allclose(layer(t(x, device)).numpy(), np_norm(x, (2, 3, 4)),
                               rtol=1e-10, atol=1e-12)
    per_instance = x.reshape(3, 2, -1)
    np.testing.assert_allclose(layer.running_mean.numpy(),
                               0.25 * per_instance.mean(2).mean(0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.numpy(),
                               0.75 + 0.25 * per_instance.var(2, ddof=1).mean(0), rtol=1e-12)
    assert layer.num_batches_tracked.item() == 0          # never counted, as PyTorch
    layer.eval()
    xt = t(x[:1], device, True)
    assert tg.gradcheck(lambda a: layer(a), [xt])
    mean, var = layer.running_mean.numpy(), layer.running_var.numpy()
    expected = (x - mean[:, None, None, None]) / np.sqrt(var[:, None, None, None] + 1e-5)
    np.testing.assert_allclose(layer(t(x, device)).numpy(), expected, rtol=1e-10)


# ------------------------------------------------------------------------------- group_norm

def test_group_norm_without_affine_takes_any_channel_count_its_groups_divide(device, rng):
    # PyTorch's GroupNorm checks the channels only through γ and β's shapes.
    x = rng.standard_normal((2, 6, 3))
    y = nn.GroupNorm(2, 4, affine=False)(t(x, device))
    expected = np_norm(x.reshape(2, 2, 9), (2,)).reshape(2, 6, 3)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="divisible by num_groups 4"):
        nn.GroupNorm(4, 4, affine=False)(t(x, device))
    with pytest.raises(ValueError, match=r"GroupNorm: input of shape \(2, 6, 3\)"):
        nn.GroupNorm(2, 4)(t(x, device))


# ------------------------------------------------------------------------ local_response_norm

@pytest.mark.parametrize("size", [0, -1])
def test_local_response_norm_refuses_a_size_below_one(device, size):
    with pytest.raises(ValueError, match=rf"local_response_norm: size must be .* got {size}"):
        F.local_response_norm(t(np.ones((1, 3, 2)), device), size)


def test_local_response_norm_of_a_5d_input_and_its_gradient(device, rng):
    x = rng.standard_normal((1, 4, 2, 1, 2))
    size, alpha, beta, k = 3, 0.3, 0.6, 1.5
    padded = np.pad(x * x, ((0, 0), (size // 2, (size - 1) // 2), (0, 0), (0, 0), (0, 0)))
    window = sum(padded[:, s:s + 4] for s in range(size))
    expected = x / (k + alpha / size * window) ** beta
    y = F.local_response_norm(t(x, device), size, alpha, beta, k)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    assert tg.gradcheck(lambda a: F.local_response_norm(a, size, alpha, beta, k),
                        [t(x, device, True)])
