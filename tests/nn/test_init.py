"""nn.init: gains, fans, and the statistics of every initialiser (on every device)."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import init


def test_calculate_gain_table():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "big")


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(tg.empty(3, 5)) == (5, 3)
    assert init._calculate_fan_in_and_fan_out(tg.empty(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tg.empty(4))


def big(device, shape=(400, 500)):
    return nn.Parameter(tg.zeros(*shape, device=device))


def test_uniform_and_normal_statistics_in_place(device):
    weight = big(device)
    array = weight.data
    assert init.uniform_(weight, -2.0, 3.0) is weight
    assert weight.data is array and weight.device == device  # in place, same device
    assert weight.grad_fn is None and weight.requires_grad
    values = weight.numpy()
    assert values.min() >= -2.0 and values.max() < 3.0
    assert values.mean() == pytest.approx(0.5, abs=0.02)
    assert values.std() == pytest.approx(5 / math.sqrt(12), rel=0.01)
    init.normal_(weight, mean=1.0, std=0.5)
    assert weight.numpy().mean() == pytest.approx(1.0, abs=0.005)
    assert weight.numpy().std() == pytest.approx(0.5, rel=0.01)
    assert weight.dtype == np.float32


def test_constant_fills(device):
    weight = big(device, (3, 4))
    np.testing.assert_array_equal(init.zeros_(weight).numpy(), 0.0)
    np.testing.assert_array_equal(init.ones_(weight).numpy(), 1.0)
    np.testing.assert_array_equal(init.constant_(weight, 0.3).numpy(), np.float32(0.3))


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(gain, device):
    weight = big(device)
    fan_in, fan_out = 500, 400
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    values = init.xavier_uniform_(weight, gain=gain).numpy()
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert values.std() == pytest.approx(gain * math.sqrt(2 / (fan_in + fan_out)), rel=0.01)
    values = init.xavier_normal_(weight, gain=gain).numpy()
    assert values.std() == pytest.approx(gain * math.sqrt(2 / (fan_in + fan_out)), rel=0.01)
    assert abs(values.mean()) < 0.002


@pytest.mark.parametrize("mode, fan", [("fan_in", 500), ("fan_out", 400)])
def test_kaiming(mode, fan, device):
    weight = big(device)
    values = init.kaiming_uniform_(weight, mode=mode, nonlinearity="relu").numpy()
    bound = math.sqrt(2) * math.sqrt(3 / fan)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    values = init.kaiming_normal_(weight, mode=mode, nonlinearity="relu").numpy()
    assert values.std() == pytest.approx(math.sqrt(2 / fan), rel=0.01)
    values = init.kaiming_normal_(weight, a=0.3, mode=mode).numpy()  # leaky_relu by default
    assert values.std() == pytest.approx(math.sqrt(2 / (1 + 0.09)) / math.sqrt(fan), rel=0.01)


def test_kaiming_with_sqrt5_is_linears_default_bound():
    weight = big("cpu", (30, 50))
    values = init.kaiming_uniform_(weight, a=math.sqrt(5)).numpy()
    assert np.abs(values).max() <= 1 / math.sqrt(50)
    assert np.abs(values).max() > 0.95 / math.sqrt(50)


def test_kaiming_rejects_bad_mode():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(big("cpu", (2, 2)), mode="fan_avg")


def test_initialisers_follow_manual_seed():
    tg.manual_seed(7)
    first = init.normal_(big("cpu", (5, 5))).numpy()
    tg.manual_seed(7)
    second = init.normal_(big("cpu", (5, 5))).numpy()
    np.testing.assert_array_equal(first, second)
    tg.manual_seed(11)
    a = nn.Linear(5, 5).weight.numpy()
    tg.manual_seed(11)
    b = nn.Linear(5, 5).weight.numpy()
    np.testing.assert_array_equal(a, b)


def test_layer_defaults_take_fan_in_from_the_weight_grouped_conv_included():
    # Conv2d(8, 6, 3, groups=2): weight (6, 4, 3, 3), fan_in = 4·3·3 = 36, as PyTorch
    conv = nn.Conv2d(8, 6, 3, groups=2)
    linear = nn.Linear(50, 400)
    for layer, fan_in in ((conv, 36), (linear, 50)):
        bound = 1 / math.sqrt(fan_in)
        for parameter in (layer.weight, layer.bias):
            values = np.abs(parameter.numpy())
            assert values.max() <= bound and values.max() > 0.8 * bound
    assert nn.Linear(3, 2, bias=False).bias is None
