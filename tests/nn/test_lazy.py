"""Lazy modules: the input size read from the first input, the parameters equal to the
ordinary class's under the same seed (so the same draws of PyTorch's initialisation),
the module turned into the ordinary class, training after the first call (with an
optimizer made before it too, as PyTorch allows), ``to`` before the first call,
state dicts of uninitialised modules, and the errors. On cpu and strict."""

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn
from tinygrad_opt.nn.lazy import UninitializedBuffer, UninitializedParameter, is_lazy


def ones(shape, device):
    return tg.ones(*shape, device=device)


def assert_same(a, b):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


# --------------------------------------------------------------------------- LazyLinear

def test_lazy_linear_before_its_first_call(device):
    module = nn.LazyLinear(10, device=device)
    assert isinstance(module.weight, UninitializedParameter)
    assert isinstance(module.bias, UninitializedParameter)
    assert module.weight.size() == (0,) and module.weight.device == device
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        module.weight.shape  # noqa: B018  (PyTorch: only size() of the placeholder)
    assert module.has_uninitialized_params()
    assert repr(module) == "LazyLinear(in_features=0, out_features=10, bias=True)"
    assert nn.LazyLinear(3, bias=False).bias is None


def test_lazy_linear_reads_in_features_and_becomes_a_linear(device):
    module = nn.LazyLinear(10, device=device)
    weight = module.weight
    x = tg.tensor(np.random.default_rng(0).standard_normal((5, 7)), dtype=tg.float32,
                  device=device)
    tg.manual_seed(3)
    y = module(x)
    assert type(module) is nn.Linear and not isinstance(module, nn.LazyLinear)
    assert module.in_features == 7 and module.out_features == 10
    assert module.weight is weight and type(weight) is nn.Parameter  # the same object
    assert module.weight.shape == (10, 7) and module.bias.shape == (10,)
    assert module.weight.device == device
    tg.manual_seed(3)
    reference = nn.Linear(7, 10, device=device)
    assert_same(module.weight, reference.weight)
    assert_same(module.bias, reference.bias)
    assert_same(y, F.linear(x, reference.weight, reference.bias))
    bound = 1 / np.sqrt(7)  # PyTorch's U(−1/√in, 1/√in), drawn for real
    assert 0 < np.abs(module.weight.numpy()).max() <= bound


def test_chained_lazy_layers(device):
    model = nn.Sequential(nn.LazyLinear(15), nn.ReLU(), nn.LazyLinear(4)).to(device)
    assert model(ones((5, 10), device)).shape == (5, 4)
    assert model[0].weight.shape == (15, 10) and model[2].weight.shape == (4, 15)
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear]


def test_to_before_the_first_call_sets_dtype_and_device(device):
    module = nn.LazyLinear(3).to(device, tg.float64)
    module(tg.ones(2, 4, dtype=tg.float64, device=device))
    assert module.weight.dtype == tg.float64 and module.weight.device == device


# ------------------------------------------------------------------------------ training

@pytest.mark.parametrize("optimizer_first", [False, True])
def test_training_after_the_first_call(device, optimizer_first):
    """PyTorch allows an optimizer made before the dry run: it holds the same
    Parameter objects, which the first call materialises in place."""
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((32, 3)), device=device)
    target = tg.tensor(x.numpy() @ np.array([[1.0], [-2.0], [0.5]]) + 0.3, device=device)
    model = nn.Sequential(nn.LazyLinear(8), nn.Tanh(), nn.LazyLinear(1)).to(device)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1) if optimizer_first else None
    model(x)  # the dry run
    if optimizer is None:
        optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    assert [p.shape for p in optimizer.param_groups[0]["params"]] == [(8, 3), (8,), (1, 8),
                                                                        (1,)]
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


# ----------------------------------------------------------------------------- LazyConv

@pytest.mark.parametrize("lazy_class, ordinary, input_shape, kernel", [
    (nn.LazyConv1d, nn.Conv1d, (2, 4, 9), (3,)),
    (nn.LazyConv1d, nn.Conv1d, (4, 9), (3,)),            # unbatched
    (nn.LazyConv2d, nn.Conv2d, (2, 4, 6, 5), (3, 3)),
    (nn.LazyConv2d, nn.Conv2d, (4, 6, 5), (3, 3)),
])
def test_lazy_conv_reads_in_channels(device, lazy_class, ordinary, input_shape, kernel):
    rng = np.random.default_rng(1)
    x = tg.tensor(rng.standard_normal(input_shape), dtype=tg.float32, device=device)
    module = lazy_class(6, 3, padding=1, groups=2, device=device)
    assert isinstance(module.weight, UninitializedParameter)
    tg.manual_seed(7)
    y = module(x)
    assert type(module) is ordinary and module.in_channels == 4
    assert module.weight.shape == (6, 2) + kernel and module.bias.shape == (6,)
    tg.manual_seed(7)
    reference = ordinary(4, 6, 3, padding=1, groups=2, device=device)
    assert_same(module.weight, reference.weight)
    assert_same(module.bias, reference.bias)
    assert_same(y, reference(x))


def test_lazy_conv_errors(device):
    with pytest.raises(ValueError, match=r"LazyConv2d: expected a 3D \(unbatched\) or 4D"):
        nn.LazyConv2d(4, 3)(ones((2, 3), device))
    with pytest.raises(ValueError, match="in_channels 3 .* divisible by groups 2"):
        nn.LazyConv1d(4, 3, groups=2)(ones((1, 3, 5), device))


# ------------------------------------------------------------------------ LazyBatchNorm

@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track_running_stats", [True, False])
@pytest.mark.parametrize("lazy_class, ordinary, input_shape", [
    (nn.LazyBatchNorm1d, nn.BatchNorm1d, (8, 3)),
    (nn.LazyBatchNorm1d, nn.BatchNorm1d, (8, 3, 5)),
    (nn.LazyBatchNorm2d, nn.BatchNorm2d, (4, 3, 2, 5)),
])
def test_lazy_batch_norm_equals_the_ordinary_one(device, lazy_class, ordinary, input_shape,
                                                  affine, track_running_stats):
    x = tg.tensor(np.random.default_rng(2).standard_normal(input_shape), dtype=tg.float32,
                  device=device)
    module = lazy_class(affine=affine, track_running_stats=track_running_stats,
                        device=device)
    assert isinstance(module.weight, UninitializedParameter) == affine
    assert isinstance(module.running_mean, UninitializedBuffer) == track_running_stats
    reference = ordinary(3, affine=affine, track_running_stats=track_running_stats,
                         device=device)
    assert_same(module(x), reference(x))
    assert type(module) is ordinary and module.num_features == 3
    for name, tensor in reference.state_dict().items():
        assert type(module.state_dict()[name]) is tg.Tensor
        assert_same(module.state_dict()[name], tensor)
    module.eval()
    reference.eval()
    assert_same(module(x), reference(x))


def test_lazy_batch_norm_needs_a_channel_axis(device):
    with pytest.raises(ValueError, match=r"LazyBatchNorm1d: expected an input \(N, C, ...\)"):
        nn.LazyBatchNorm1d()(ones((4,), device))


# ------------------------------------------------------------------- state dicts, errors

def test_the_state_dict_of_an_uninitialised_module_lists_the_uninitialised_tensors():
    state = nn.LazyBatchNorm1d().state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var",
                           "num_batches_tracked"]
    assert isinstance(state["weight"], UninitializedParameter)
    assert isinstance(state["running_var"], UninitializedBuffer)
    assert all(is_lazy(state[name]) for name in ("weight", "bias", "running_mean"))
    assert state["num_batches_tracked"].tolist() == 0


def test_loading_real_values_initialises_a_lazy_module(device):
    source = nn.Linear(5, 3, device=device)
    module = nn.LazyLinear(3, device=device)
    module.load_state_dict(source.state_dict())
    assert type(module) is nn.Linear and module.in_features == 5
    assert_same(module.weight, source.weight)
    x = ones((2, 5), device)
    assert_same(module(x), source(x))
    conv = nn.LazyConv2d(4, 3, groups=2, device=device)
    conv.load_state_dict(nn.Conv2d(6, 4, 3, groups=2, device=device).state_dict())
    assert type(conv) is nn.Conv2d and conv.in_channels == 6
    norm = nn.LazyBatchNorm2d(device=device)
    norm.load_state_dict(nn.BatchNorm2d(7, device=device).state_dict())
    assert type(norm) is nn.BatchNorm2d and norm.num_features == 7


def test_loading_uninitialised_values(device):
    module = nn.LazyLinear(3, device=device)
    module.load_state_dict(nn.LazyLinear(3).state_dict())  # uninitialised into uninitialised
    assert type(module) is nn.LazyLinear and module.has_uninitialized_params()
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        nn.Linear(5, 3, device=device).load_state_dict(nn.LazyLinear(3).state_dict())


def test_forward_hooks_of_a_lazy_module_still_run(device):
    module = nn.LazyLinear(2, device=device)
    seen = []
    module.register_forward_hook(lambda m, args, output: seen.append(output.shape))
    module(ones((3, 4), device))
    module(ones((1, 4), device))
    assert seen == [(3, 2), (1, 2)]


def test_errors_of_lazy_linear(device):
    with pytest.raises(ValueError, match="LazyLinear: a 0-d input"):
        nn.LazyLinear(3)(tg.tensor(1.0, device=device))
    module = nn.LazyLinear(3)
    module(ones((2, 4), "cpu"))
    with pytest.raises(ValueError):
        module(ones((2, 5), "cpu"))  # now a Linear of in_features 4


def test_materialize_of_an_uninitialised_parameter():
    param = UninitializedParameter(dtype=tg.float64)
    param.materialize(4)
    assert type(param) is nn.Parameter and param.shape == (4,) and param.dtype == tg.float64
    assert param.requires_grad and param.tolist() == [0.0] * 4
    buffer = UninitializedBuffer()
    buffer.materialize((2, 3))
    assert type(buffer) is tg.Tensor and buffer.shape == (2, 3)
    assert not buffer.requires_grad


def test_pickle_and_deepcopy_keep_the_lazy_state():
    import copy
    import pickle
    module = nn.LazyLinear(3)
    for clone in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
        assert type(clone) is nn.LazyLinear and isinstance(clone.weight, UninitializedParameter)
        clone(tg.ones(2, 4))
        assert type(clone) is nn.Linear and clone.weight.shape == (3, 4)
    assert module.has_uninitialized_params()  # the original is untouched
    module(tg.ones(1, 6))
    restored = pickle.loads(pickle.dumps(module))
    assert type(restored) is nn.Linear and type(restored.weight) is nn.Parameter
    assert_same(restored.weight, module.weight)


def test_a_parent_with_lazy_children_loads_their_state():
    tg.manual_seed(0)
    trained = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    fresh.load_state_dict(trained.state_dict())
    x = tg.randn(5, 3)
    np.testing.assert_allclose(fresh(x).numpy(), trained(x).numpy())
    assert type(fresh[0]) is nn.Linear and fresh[0].in_features == 3
