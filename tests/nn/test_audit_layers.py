"""Regression tests of the nn modules audit: each test pins a PyTorch behaviour that
tinygrad_opt once got wrong (Module API, norms, init, activations)."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


# ----------------------------------------------------------------------------- Module.to

def test_to_an_integer_dtype_raises_and_leaves_the_weights_alone():
    model = nn.Linear(2, 3)
    before = model.weight.numpy().copy()
    with pytest.raises(TypeError, match="floating point"):
        model.to(tg.int64)
    with pytest.raises(TypeError, match="floating point"):
        model.to("cpu", tg.int32)
    assert model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.weight.numpy(), before)


def test_to_accepts_non_blocking():
    model = nn.Linear(2, 3)
    assert model.to("cpu", non_blocking=True) is model
    assert model.to(tg.float64, non_blocking=True).weight.dtype == np.float64


# ------------------------------------------------------------------------ load_state_dict

def test_load_state_dict_refuses_a_non_mapping_with_type_error():
    with pytest.raises(TypeError, match="dict-like"):
        nn.Linear(2, 3).load_state_dict([("weight", tg.zeros(3, 2))])


def test_load_state_dict_names_a_value_that_is_not_a_tensor():
    model = nn.Linear(2, 3)
    state = {"weight": tg.zeros(3, 2), "bias": "zeros"}
    with pytest.raises(RuntimeError, match='parameter named "bias".*received str'):
        model.load_state_dict(state)
    assert not np.all(model.weight.numpy() == 0)  # nothing copied


def test_load_state_dict_return_value_prints_as_pytorch():
    model = nn.Linear(2, 3)
    result = model.load_state_dict(model.state_dict())
    assert repr(result) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == []
    extra = {**model.state_dict(), "extra": tg.zeros(1)}
    result = model.load_state_dict(extra, strict=False)
    assert result.unexpected_keys == ["extra"]
    assert "unexpected_keys=['extra']" in repr(result)


def test_batch_norm_state_without_num_batches_tracked_loads_strictly():
    source = nn.BatchNorm1d(3)
    source.running_mean.data[...] = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    state = {key: value for key, value in source.state_dict().items()
             if key != "num_batches_tracked"}
    target = nn.Sequential(nn.BatchNorm1d(3))
    target[0].num_batches_tracked.data[...] = 7
    result = target.load_state_dict({"0." + key: value for key, value in state.items()})
    assert result.missing_keys == []
    np.testing.assert_array_equal(target[0].running_mean.numpy(), [1.0, 2.0, 3.0])
    assert target[0].num_batches_tracked.item() == 7  # kept
    result = target.load_state_dict({"0.weight": state["weight"]}, strict=False)
    assert result.missing_keys == ["0.bias", "0.running_mean", "0.running_var"]


# ---------------------------------------------------------------------------- named_*

class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(2, 2)
        self.b = self.a


def test_named_members_remove_duplicate_false():
    model = _Shared()
    assert [name for name, _ in model.named_modules()] == ["", "a"]
    assert [name for name, _ in model.named_modules(remove_duplicate=False)] == ["", "a", "b"]
    assert [name for name, _ in model.named_parameters(remove_duplicate=False)] == [
        "a.weight", "a.bias", "b.weight", "b.bias"]
    assert len(list(model.parameters())) == 2
    bn = nn.Sequential(nn.BatchNorm1d(2))
    bn.add_module("again", bn[0])
    names = [name for name, _ in bn.named_buffers(prefix="m", remove_duplicate=False)]
    assert names == ["m.0.running_mean", "m.0.running_var", "m.0.num_batches_tracked",
                     "m.again.running_mean", "m.again.running_var",
                     "m.again.num_batches_tracked"]


def test_state_dict_destination_and_register_module():
    model = nn.Module()
    model.register_module("fc", nn.Linear(1, 2))
    destination = {}
    assert model.state_dict(destination=destination, prefix="net.") is destination
    assert list(destination) == ["net.fc.weight", "net.fc.bias"]


def test_names_that_are_not_strings_raise_type_error():
    module = nn.Module()
    with pytest.raises(TypeError, match="buffer name should be a string"):
        module.register_buffer(1, None)
    with pytest.raises(TypeError, match="parameter name should be a string"):
        module.register_parameter(2, None)
    with pytest.raises(TypeError, match="module name should be a string"):
        module.add_module(3, nn.ReLU())


# ----------------------------------------------------------------------------- hooks

def test_forward_hook_prepend_and_with_kwargs():
    calls = []

    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    module = Scale()
    module.register_forward_hook(lambda m, args, out: calls.append("first"))

    def with_kwargs(m, args, kwargs, out):
        calls.append(("kwargs", kwargs))
        return out + 1

    module.register_forward_hook(with_kwargs, with_kwargs=True)
    module.register_forward_hook(lambda m, args, out: calls.append("prepended"), prepend=True)
    out = module(tg.ones(2), factor=3.0)
    np.testing.assert_array_equal(out.numpy(), [4.0, 4.0])
    assert calls == ["prepended", "first", ("kwargs", {"factor": 3.0})]


# ------------------------------------------------------------------------ containers

def test_module_list_pop_add_iadd():
    relu, tanh, sigmoid = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    modules = nn.ModuleList([relu, tanh])
    joined = modules + nn.ModuleList([sigmoid])
    assert list(joined) == [relu, tanh, sigmoid] and len(modules) == 2
    modules += [sigmoid]
    assert list(modules) == [relu, tanh, sigmoid]
    assert modules.pop(0) is relu
    assert list(modules._modules) == ["0", "1"] and modules[0] is tanh


def test_sequential_add_iadd():
    first, second = nn.Sequential(nn.ReLU()), nn.Sequential(nn.Tanh())
    both = first + second
    assert [type(m).__name__ for m in both] == ["ReLU", "Tanh"]
    first += second
    assert list(first._modules) == ["0", "1"]
    with pytest.raises(ValueError, match="Sequential"):
        first + nn.ModuleList()


# ------------------------------------------------------------------------------ init

def test_zero_element_layers_initialise_with_a_warning():
    with pytest.warns(UserWarning, match="zero-element"):
        layer = nn.Linear(0, 5)
    assert layer.weight.shape == (5, 0)
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(5))  # bound 0 for fan_in 0
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_normal_(tg.empty(4, 0))


# ----------------------------------------------------------------------- norm layers

def test_instance_norm_has_the_norm_resets():
    norm = nn.InstanceNorm1d(3, affine=True, track_running_stats=True)
    norm.running_mean.data[...] = 5
    norm.running_var.data[...] = 5
    norm.weight.data[...] = 5
    norm.bias.data[...] = 5
    norm.reset_running_stats()
    np.testing.assert_array_equal(norm.running_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(norm.running_var.numpy(), np.ones(3))
    norm.reset_parameters()
    np.testing.assert_array_equal(norm.weight.numpy(), np.ones(3))
    np.testing.assert_array_equal(norm.bias.numpy(), np.zeros(3))
    nn.InstanceNorm2d(2).reset_parameters()  # nothing to reset: no error


def test_prelu_reset_parameters():
    prelu = nn.PReLU(2, init=0.1)
    prelu.weight.data[...] = 5
    prelu.reset_parameters()
    np.testing.assert_allclose(prelu.weight.numpy(), [0.1, 0.1])


# ----------------------------------------------------------------------- activations

@pytest.mark.parametrize("ndim, dim", [(1, 0), (2, 1), (3, 0), (4, 1)])
def test_softmax_modules_dim_none_use_the_implicit_dim(ndim, dim):
    x_np = np.random.default_rng(ndim).standard_normal((2, 3, 2, 3)[:ndim])
    x = tg.tensor(x_np)
    exp = np.exp(x_np - x_np.max(axis=dim, keepdims=True))
    expected = exp / exp.sum(axis=dim, keepdims=True)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        np.testing.assert_allclose(nn.Softmax(dim=None)(x).numpy(), expected, rtol=1e-12)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        np.testing.assert_allclose(nn.LogSoftmax(dim=None)(x).numpy(), np.log(expected),
                                   rtol=1e-12)
    exp = np.exp(-x_np - (-x_np).max(axis=dim, keepdims=True))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        np.testing.assert_allclose(nn.Softmin(dim=None)(x).numpy(),
                                   exp / exp.sum(axis=dim, keepdims=True), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Softmax()(x)  # an explicit dim (default -1) warns nothing


def test_kaiming_and_xavier_bounds_from_fans():
    weight = tg.empty(8, 3, 5, 5)  # fan_in = 75, fan_out = 200
    assert nn.init._calculate_fan_in_and_fan_out(weight) == (75, 200)
    nn.init.kaiming_uniform_(weight, mode="fan_out", nonlinearity="relu")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 200)
    assert np.abs(weight.numpy()).max() <= bound and np.abs(weight.numpy()).max() > 0.9 * bound
    nn.init.xavier_uniform_(weight, gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / 275)
    assert np.abs(weight.numpy()).max() <= bound and np.abs(weight.numpy()).max() > 0.9 * bound


# ------------------------------------------------------- init functions PyTorch has

def test_trunc_normal_matches_the_truncated_normal_moments(device):
    tg.manual_seed(0)
    samples = nn.init.trunc_normal_(tg.empty(200_000, dtype=tg.float64, device=device),
                                    mean=1.0, std=2.0, a=0.0, b=3.0)
    values = samples.numpy()
    assert values.min() >= 0.0 and values.max() <= 3.0
    # moments of N(1, 4) truncated to [0, 3] (alpha = -0.5, beta = 1), written out
    alpha, beta = -0.5, 1.0
    pdf = [math.exp(-z * z / 2) / math.sqrt(2 * math.pi) for z in (alpha, beta)]
    mass = (math.erf(beta / math.sqrt(2)) - math.erf(alpha / math.sqrt(2))) / 2
    mean = 1.0 + 2.0 * (pdf[0] - pdf[1]) / mass
    var = 4.0 * (1 + (alpha * pdf[0] - beta * pdf[1]) / mass - ((pdf[0] - pdf[1]) / mass) ** 2)
    assert abs(values.mean() - mean) < 0.01
    assert abs(values.std() - math.sqrt(var)) < 0.01


@pytest.mark.parametrize("shape", [(3, 5), (6, 2, 2)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape, device):
    weight = nn.init.orthogonal_(tg.empty(*shape, dtype=tg.float64, device=device), gain=2.0)
    flat = weight.numpy().reshape(shape[0], -1)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        nn.init.orthogonal_(tg.empty(3))


def test_eye_and_dirac(device):
    np.testing.assert_array_equal(nn.init.eye_(tg.empty(2, 3, device=device)).numpy(),
                                  np.eye(2, 3))
    weight = nn.init.dirac_(tg.empty(4, 2, 3, 3, device=device), groups=2)
    expected = np.zeros((4, 2, 3, 3))
    for out, inp in [(0, 0), (1, 1), (2, 0), (3, 1)]:
        expected[out, inp, 1, 1] = 1
    np.testing.assert_array_equal(weight.numpy(), expected)
    x = tg.randn(1, 2, 5, 5)
    y = tg.nn.functional.conv2d(x, nn.init.dirac_(tg.empty(2, 2, 3, 3)), padding=1)
    np.testing.assert_allclose(y.numpy(), x.numpy(), rtol=1e-6)  # the identity convolution
    with pytest.raises(ValueError, match="3, 4, or 5"):
        nn.init.dirac_(tg.empty(2, 2))
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.eye_(tg.empty(2, 2, 2))


def test_embedding_takes_pytorchs_arguments_in_pytorchs_order(device):
    """Embedding(num, dim, padding_idx, max_norm, norm_type, ...): a looked-up row whose
    norm exceeds max_norm is rescaled to it in place, as PyTorch (rows not looked up stay)."""
    weight = tg.tensor([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]], device=device)
    embedding = nn.Embedding(3, 2, None, 1.0, _weight=weight)
    out = embedding(tg.tensor([0, 1], device=device))
    assert np.allclose(out.tolist(), [[0.6, 0.8], [0.3, 0.4]], atol=1e-6)
    assert np.allclose(embedding.weight.tolist(), [[0.6, 0.8], [0.3, 0.4], [6.0, 8.0]],
                       atol=1e-6)
    assert "max_norm=1.0" in repr(embedding)
    frozen = nn.Embedding.from_pretrained(weight, max_norm=2.0)
    assert frozen.weight.requires_grad is False and frozen.max_norm == 2.0
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(3, 2, sparse=True)
