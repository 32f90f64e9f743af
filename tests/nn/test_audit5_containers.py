"""Audit of the containers (Sequential, ModuleList, ParameterList, ParameterDict), the
norm layers' state-dict version and the global forward hooks, against PyTorch 2.x.

Every expected value is computed here in NumPy from the documented behaviour."""

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import module as module_api


def linear_reference(layer, x):
    """``x @ W.T + b`` of a Linear, in NumPy."""
    return x @ layer.weight.numpy().T + layer.bias.numpy()


# ------------------------------------------------------------------ ParameterList


def test_parameter_list_keeps_objects_as_they_are(rng):
    a, b = rng.standard_normal(3), rng.standard_normal((2, 2))
    marker = object()
    params = nn.ParameterList([tg.tensor(a), 7, "text", None, nn.Parameter(tg.tensor(b))])
    params.append(np.ones(2))                               # an array is an object here
    assert len(params) == 6
    assert params[1] == 7 and params[2] == "text" and params[3] is None
    assert isinstance(params[5], np.ndarray)
    assert isinstance(params[0], nn.Parameter) and params[0].requires_grad
    np.testing.assert_array_equal(params[0].numpy(), a)
    np.testing.assert_array_equal(params[4].numpy(), b)
    assert [name for name, _ in params.named_parameters()] == ["0", "4"]  # objects are not
    state = params.state_dict()
    assert list(state) == ["0", "4"]
    np.testing.assert_array_equal(state["4"].numpy(), b)
    params[2] = marker                                      # an object replaces an object
    assert params[2] is marker
    params[1] = tg.tensor(b)                                # a Tensor becomes a Parameter
    assert isinstance(params[1], nn.Parameter)
    assert sorted(name for name, _ in params.named_parameters()) == ["0", "1", "4"]
    middle = params[1:4]
    assert type(middle) is nn.ParameterList and len(middle) == 3
    assert middle[0] is params[1] and middle[1] is marker and middle[2] is None
    assert [p is q for p, q in zip(params, [params[i] for i in range(6)])] == [True] * 6


def test_parameter_list_refuses_an_object_in_place_of_a_parameter():
    params = nn.ParameterList([tg.ones(2)])
    with pytest.raises(TypeError, match="cannot assign int as parameter '0'"):
        params[0] = 3                                       # PyTorch: the same TypeError
    assert isinstance(params[0], nn.Parameter) and len(params) == 1


def test_parameter_list_repr_names_the_type_of_an_object():
    params = nn.ParameterList([tg.ones(2, 3), 5])
    assert repr(params) == ("ParameterList(\n"
                            "  (0): Parameter containing: [float32 of size 2x3]\n"
                            "  (1): Object of type: int\n"
                            ")")


# ------------------------------------------------------------------ ParameterDict


def test_parameter_dict_keeps_objects_as_they_are(rng):
    a = rng.standard_normal((2, 3))
    params = nn.ParameterDict(OrderedDict([("w", tg.tensor(a)), ("tag", "x"), ("n", 4)]))
    assert list(params) == ["w", "tag", "n"] and len(params) == 3
    assert params["tag"] == "x" and params["n"] == 4
    np.testing.assert_array_equal(params["w"].numpy(), a)
    assert [name for name, _ in params.named_parameters()] == ["w"]
    assert list(params.state_dict()) == ["w"]
    assert list(params.values())[1:] == ["x", 4]
    assert list(params.items())[2] == ("n", 4)
    assert params.setdefault("none") is None and "none" in params   # None is stored
    made = params.fromkeys(["p", "q"])
    assert list(made) == ["p", "q"] and made["p"] is None
    assert params.pop("tag") == "x" and "tag" not in params
    assert params.get("tag", 1.5) == 1.5
    del params["n"]
    assert list(params) == ["w", "none"]
    assert params.popitem() == ("none", None)
    with pytest.raises(TypeError, match="cannot assign str as parameter 'w'"):
        params["w"] = "no"
    with pytest.raises(KeyError):
        params["absent"]
    assert repr(nn.ParameterDict(OrderedDict(k=3))) == "ParameterDict((k): Object of type: int)"


def test_parameter_dict_update_sorts_the_keys_of_a_plain_dict(rng):
    values = {key: rng.standard_normal(2) for key in ("z", "a", "m")}
    from_dict = nn.ParameterDict({key: tg.tensor(v) for key, v in values.items()})
    assert list(from_dict) == sorted(values)                  # PyTorch: sorted(items())
    assert list(from_dict.state_dict()) == ["a", "m", "z"]
    for key in values:
        np.testing.assert_array_equal(from_dict[key].numpy(), values[key])
    ordered = nn.ParameterDict(OrderedDict((k, tg.tensor(v)) for k, v in values.items()))
    assert list(ordered) == ["z", "a", "m"]                   # an OrderedDict keeps its order
    pairs = nn.ParameterDict([(k, tg.tensor(v)) for k, v in values.items()])
    assert list(pairs) == ["z", "a", "m"]                     # pairs too
    pairs.update({"y": tg.ones(1), "b": tg.ones(1)})
    assert list(pairs) == ["z", "a", "m", "b", "y"]
    pairs.update(ordered)                                     # a ParameterDict: its order
    assert list(pairs) == ["z", "a", "m", "b", "y"]
    assert list(ordered.copy()) == ["z", "a", "m"]


def test_parameter_dict_refuses_a_key_that_is_an_attribute_of_the_instance():
    params = nn.ParameterDict()
    with pytest.raises(KeyError, match="training"):
        params["training"] = tg.ones(1)
    assert params.training is True and len(params) == 0


# ------------------------------------------------------------------ Sequential, ModuleList


def test_sequential_unpacks_only_an_ordered_dict(rng):
    with pytest.raises(TypeError, match="dict is not a Module subclass"):
        nn.Sequential({"fc": nn.Linear(2, 2)})
    layer = nn.Linear(3, 2)
    model = nn.Sequential(OrderedDict(fc=layer, act=nn.Tanh()))
    assert [name for name, _ in model.named_children()] == ["fc", "act"]
    x = rng.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(model(tg.tensor(x)).numpy(), np.tanh(linear_reference(layer, x)),
                               rtol=1e-5, atol=1e-6)


class Stack(nn.Sequential):
    pass


class Blocks(nn.ModuleList):
    pass


def test_slices_keep_the_container_subclass_and_the_names():
    relu, tanh, sigmoid = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    stack = Stack(OrderedDict(a=relu, b=tanh, c=sigmoid))
    part = stack[1:]
    assert type(part) is Stack and list(part._modules) == ["b", "c"]
    assert part[0] is tanh and part[1] is sigmoid
    blocks = Blocks([relu, tanh, sigmoid])
    assert type(blocks[::2]) is Blocks and list(blocks[::2]) == [relu, sigmoid]


def test_module_list_repr_compresses_repeated_entries():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU(), nn.ReLU(),
                                                                   nn.Tanh()])
    line = "Linear(in_features=2, out_features=2, bias=True)"
    assert repr(blocks) == ("ModuleList(\n"
                            f"  (0-2): 3 x {line}\n"
                            "  (3-4): 2 x ReLU()\n"
                            "  (5): Tanh()\n"
                            ")")
    nested = nn.ModuleList([nn.Sequential(nn.ReLU()), nn.Sequential(nn.ReLU())])
    assert repr(nested) == ("ModuleList(\n"
                            "  (0-1): 2 x Sequential(\n"
                            "    (0): ReLU()\n"
                            "  )\n"
                            ")")
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_container_list_operations_follow_python_lists(rng):
    layers = [nn.Linear(2, 2) for _ in range(4)]
    seq = nn.Sequential(*layers[:2])
    seq.insert(-1, layers[2])                               # before the last one
    assert list(seq) == [layers[0], layers[2], layers[1]]
    seq.extend([layers[3]])
    del seq[1:3]
    assert list(seq) == [layers[0], layers[3]] and list(seq._modules) == ["0", "1"]
    assert seq.pop(0) is layers[0] and list(seq._modules) == ["0"]
    combined = nn.Sequential(layers[0]) + nn.Sequential(layers[1], layers[2])
    assert list(combined) == layers[:3]
    x = rng.standard_normal((3, 2)).astype(np.float32)
    expected = x
    for layer in layers[:3]:
        expected = linear_reference(layer, expected)
    np.testing.assert_allclose(combined(tg.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)
    modules = nn.ModuleList(layers)
    modules.insert(-1, nn.ReLU())
    assert [type(m).__name__ for m in modules] == ["Linear"] * 3 + ["ReLU", "Linear"]
    assert list(modules._modules) == ["0", "1", "2", "3", "4"]
    del modules[::2]
    assert list(modules) == [layers[1], modules[1]] and list(modules._modules) == ["0", "1"]
    modules += [layers[0]]
    assert modules[-1] is layers[0] and len(modules + nn.ModuleList([layers[3]])) == 4


# ------------------------------------------------------------------ norm state-dict version


NORMS = [lambda: nn.BatchNorm1d(3), lambda: nn.BatchNorm2d(3),
         lambda: nn.InstanceNorm1d(3, track_running_stats=True)]


@pytest.mark.parametrize("make", NORMS)
def test_norm_layers_record_state_dict_version_2(make):
    model = nn.Sequential(nn.Linear(3, 3), make())
    metadata = model.state_dict()._metadata
    assert metadata["1"] == {"version": 2}
    assert metadata["0"] == {"version": 1} and metadata[""] == {"version": 1}


def trained_batch_norm(rng, steps):
    layer = nn.BatchNorm1d(3)
    for _ in range(steps):
        layer(tg.tensor(rng.standard_normal((5, 3)).astype(np.float32)))
    return layer


def test_a_version_2_state_dict_without_num_batches_tracked_misses_it(rng):
    layer = trained_batch_norm(rng, 2)
    state = layer.state_dict()
    del state["num_batches_tracked"]
    with pytest.raises(RuntimeError, match='Missing key.*"num_batches_tracked"'):
        layer.load_state_dict(state)
    result = layer.load_state_dict(state, strict=False)
    assert result.missing_keys == ["num_batches_tracked"]
    assert layer.num_batches_tracked.item() == 2


@pytest.mark.parametrize("version", [None, 1])
def test_an_older_state_dict_without_num_batches_tracked_keeps_the_count(rng, version):
    layer = trained_batch_norm(rng, 3)
    mean = rng.standard_normal(3).astype(np.float32)
    state = OrderedDict(weight=tg.ones(3), bias=tg.zeros(3), running_mean=tg.tensor(mean),
                        running_var=tg.ones(3))
    if version is not None:
        state._metadata = OrderedDict({"": {"version": version}})
    result = layer.load_state_dict(state)           # PyTorch 2.x: the layer's own count
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert layer.num_batches_tracked.item() == 3
    np.testing.assert_array_equal(layer.running_mean.numpy(), mean)


# ------------------------------------------------------------------ global forward hooks


def test_global_forward_pre_hook_runs_first_and_can_replace_the_input(device, rng):
    layer = nn.Linear(3, 2).to(device)
    calls = []
    layer.register_forward_pre_hook(lambda m, args: calls.append(("own", args[0].shape)))

    def double(module, args):
        calls.append(("global", type(module).__name__))
        return args[0] * 2                                  # one value: wrapped in a tuple

    x = rng.standard_normal((4, 3)).astype(np.float32)
    with module_api.register_module_forward_pre_hook(double):
        out = layer(tg.tensor(x, device=device))
    assert calls == [("global", "Linear"), ("own", (4, 3))]
    np.testing.assert_allclose(out.numpy(), linear_reference(layer, 2 * x), rtol=1e-5,
                               atol=1e-6)
    calls.clear()
    out = layer(tg.tensor(x, device=device))                # removed: not called any more
    assert calls == [("own", (4, 3))]
    np.testing.assert_allclose(out.numpy(), linear_reference(layer, x), rtol=1e-5, atol=1e-6)


def test_global_forward_hook_runs_before_the_modules_own_and_sees_every_module(device, rng):
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh()).to(device)
    order = []
    model[1].register_forward_hook(lambda m, args, out: order.append("own Tanh"))

    def record(module, args, output):
        order.append(type(module).__name__)

    handle = module_api.register_module_forward_hook(record)
    try:
        x = rng.standard_normal((2, 3)).astype(np.float32)
        out = model(tg.tensor(x, device=device))
    finally:
        handle.remove()
    assert order == ["Linear", "Tanh", "own Tanh", "Sequential"]
    np.testing.assert_allclose(out.numpy(), np.tanh(linear_reference(model[0], x)),
                               rtol=1e-5, atol=1e-6)
    order.clear()
    model(tg.tensor(x, device=device))
    assert order == ["own Tanh"]


def test_global_forward_hook_replaces_the_output_and_takes_kwargs(rng):
    class Scale(nn.Module):
        def forward(self, x, *, factor=1.0):
            return x * factor

    seen = []

    def plus_one(module, args, kwargs, output):
        seen.append(dict(kwargs))
        return output + 1

    x = rng.standard_normal(5)
    with module_api.register_module_forward_hook(plus_one, with_kwargs=True):
        out = Scale()(tg.tensor(x), factor=3.0)
    assert seen == [{"factor": 3.0}]
    np.testing.assert_allclose(out.numpy(), 3 * x + 1, rtol=1e-12)


def test_global_always_call_forward_hook_runs_when_forward_fails():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("broken forward")

    calls = []
    with module_api.register_module_forward_hook(
            lambda m, args, out: calls.append((type(m).__name__, out)), always_call=True):
        with pytest.raises(ValueError, match="broken forward"):
            Broken()(tg.ones(1))
    assert calls == [("Broken", None)]
    assert nn.Module._has_pre_hooks is False                # the fast path is back
