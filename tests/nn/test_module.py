"""The Module system: registration on assignment, walking, train/eval, state dicts,
hooks, apply, devices, containers and repr."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(tg.ones(4))
        self.not_registered = tg.ones(2)  # a plain Tensor attribute is not a parameter
        self.register_buffer("counter", tg.zeros(1))

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(4, 2)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.head(self.dropout(self.block(x).relu()))


# ------------------------------------------------------------------ registration

def test_parameters_buffers_and_modules_register_on_assignment():
    block = Block()
    assert list(block._parameters) == ["scale"]
    assert list(block._modules) == ["fc", "bn"]
    assert list(block._buffers) == ["counter"]
    assert "not_registered" not in block._parameters
    assert block.scale is block._parameters["scale"]
    names = [name for name, _ in block.named_parameters()]
    assert names == ["scale", "fc.weight", "fc.bias", "bn.weight", "bn.bias"]
    assert [name for name, _ in block.named_buffers()] == [
        "counter", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]


def test_nested_names_children_and_modules():
    net = Net()
    assert [name for name, _ in net.named_children()] == ["block", "head", "dropout"]
    assert [type(m).__name__ for m in net.children()] == ["Block", "Linear", "Dropout"]
    assert [name for name, _ in net.named_modules()] == [
        "", "block", "block.fc", "block.bn", "head", "dropout"]
    assert len(list(net.modules())) == 6
    assert "block.fc.weight" in dict(net.named_parameters())
    assert len(list(net.parameters())) == 7
    assert len(list(net.parameters(recurse=False))) == 0


def test_shared_parameter_is_listed_and_counted_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert model.num_parameters() == 6
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_reassignment_and_deletion_update_the_registries():
    block = Block()
    block.fc = nn.Parameter(tg.zeros(3))  # a module name reused for a parameter
    assert "fc" not in block._modules and "fc" in block._parameters
    block.scale = None
    assert block.scale is None and "scale" not in dict(block.named_parameters())
    with pytest.raises(TypeError, match="parameter 'fc'"):
        block.fc = tg.zeros(3)  # a plain tensor cannot replace a parameter
    with pytest.raises(TypeError, match="child module 'bn'"):
        block.bn = 3
    block.counter = tg.ones(1)  # buffers accept any Tensor
    np.testing.assert_array_equal(block.counter.numpy(), [1.0])
    del block.bn
    assert "bn" not in block._modules
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'bn'"):
        block.bn


def test_missing_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Broken()


def test_register_buffer_persistence_and_name_checks():
    module = nn.Module()
    module.register_buffer("kept", tg.ones(2))
    module.register_buffer("scratch", tg.zeros(2), persistent=False)
    assert list(module.state_dict()) == ["kept"]
    assert [name for name, _ in module.named_buffers()] == ["kept", "scratch"]
    with pytest.raises(KeyError, match="'.'"):
        module.register_buffer("a.b", tg.ones(1))
    with pytest.raises(TypeError, match="buffer"):
        module.register_buffer("bad", [1.0])
    module.plain = 3
    with pytest.raises(KeyError, match="already exists"):
        module.register_buffer("plain", tg.ones(1))
    module.register_parameter("w", nn.Parameter(tg.ones(2)))
    assert [name for name, _ in module.named_parameters()] == ["w"]


def test_registering_a_name_the_module_already_uses_raises_as_pytorch():
    """A method, a plain attribute or an entry of another kind (parameter, buffer, child)
    is not replaced silently; re-registering an entry of the same kind is allowed."""
    module = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        module.add_module("forward", nn.ReLU())
    with pytest.raises(KeyError, match="attribute 'train' already exists"):
        module.register_parameter("train", None)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        module.register_buffer("weight", tg.zeros(2))
    module.register_buffer("scale", tg.zeros(2))
    with pytest.raises(KeyError, match="attribute 'scale' already exists"):
        module.register_parameter("scale", nn.Parameter(tg.ones(2)))
    module.register_buffer("scale", tg.ones(2))                 # same kind: replaced
    module.register_parameter("weight", nn.Parameter(tg.ones(2, 2)))
    assert module.scale.numpy().tolist() == [1.0, 1.0]
    assert module.weight.numpy().tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_parameter_is_a_tensor_sharing_the_data():
    source = tg.tensor([1.0, 2.0])
    param = nn.Parameter(source)
    assert isinstance(param, tg.Tensor) and param.requires_grad and param.is_leaf
    assert param.data is source.data
    assert repr(param).startswith("Parameter containing:\ntensor([1., 2.]")
    assert not nn.Parameter(tg.ones(1), requires_grad=False).requires_grad
    (param * 3).sum().backward()
    np.testing.assert_array_equal(param.grad.numpy(), [3.0, 3.0])
    assert type(param * 3) is tg.Tensor


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(tg.ones(1))


# ----------------------------------------------------------------- containers

def test_sequential_keys_indexing_and_forward(rng):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(model) == 3 and isinstance(model[1], nn.ReLU) and model[-1] is model[2]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is model[0]
    x = tg.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    expected = model[2](model[1](model[0](x))).numpy()
    np.testing.assert_array_equal(model(x).numpy(), expected)
    model.append(nn.Sigmoid())
    assert list(model._modules) == ["0", "1", "2", "3"] and len(list(model)) == 4
    with pytest.raises(IndexError):
        model[7]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_registers_its_items():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(list(layers.parameters())) == 6
    assert list(layers.state_dict())[:2] == ["0.weight", "0.bias"]
    layers.append(nn.Linear(2, 1))
    layers.insert(0, nn.ReLU())
    assert len(layers) == 5 and isinstance(layers[0], nn.ReLU)
    assert [name for name, _ in layers.named_children()] == ["0", "1", "2", "3", "4"]
    layers[0] = nn.Tanh()
    assert isinstance(layers[0], nn.Tanh)
    del layers[0]
    assert len(layers) == 4 and layers[-1].out_features == 1
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 3
    with pytest.raises(TypeError, match="not a Module"):
        layers.append(3)

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2)])

    assert list(Holder().state_dict()) == ["layers.0.weight", "layers.0.bias"]


# ----------------------------------------------------------------- train / eval

def test_train_and_eval_propagate_to_every_descendant():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = tg.randn(4, 3)
    np.testing.assert_array_equal(net(x).numpy(), net(x).numpy())  # no dropout noise
    net.train()
    assert all(m.training for m in net.modules())
    net.block.train(False)
    assert not net.block.bn.training and net.head.training
    with pytest.raises(ValueError, match="bool"):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    layer = nn.Linear(2, 2)
    layer(tg.ones(1, 2)).sum().backward()
    grad = layer.weight.grad
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad is grad and np.all(grad.numpy() == 0)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None
    layer.requires_grad_(False)
    assert not any(p.requires_grad for p in layer.parameters())
    assert layer.num_parameters(trainable_only=True) == 0 and layer.num_parameters() == 6


# ------------------------------------------------------------------ state dict

def test_state_dict_round_trip_restores_outputs(rng):
    source, target = Net().eval(), Net().eval()
    source.block.bn.running_mean.data[...] = rng.standard_normal(4)
    x = tg.tensor(rng.standard_normal((3, 3)).astype(np.float32))
    assert not np.allclose(source(x).numpy(), target(x).numpy())
    weight = target.head.weight
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())
    assert target.head.weight is weight  # copied into the same Parameter
    state = source.state_dict()
    assert not state["head.weight"].requires_grad
    assert state["head.weight"].data is source.head.weight.data  # shares memory, as PyTorch


def test_a_module_registered_under_two_names_is_in_the_state_dict_under_both():
    """PyTorch: Sequential(l, ReLU(), l).state_dict() has 0.weight, 0.bias, 2.weight, 2.bias."""
    def shared_model():
        shared = nn.Linear(2, 2)
        return nn.Sequential(shared, nn.ReLU(), shared)
    source, target = shared_model(), shared_model()
    state = source.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert state["2.weight"].data is source[0].weight.data
    result = target.load_state_dict(state)                       # strict=True
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(target[2].weight.numpy(), source[0].weight.numpy())
    block = nn.Module()
    block.encoder = nn.Linear(1, 1)
    block.decoder = block.encoder                                 # one module, two attributes
    assert list(block.state_dict()) == ["encoder.weight", "encoder.bias",
                                        "decoder.weight", "decoder.bias"]
    assert [name for name, _ in block.named_parameters()] == ["encoder.weight", "encoder.bias"]


def test_state_dict_key_order_is_pytorchs():
    state = Net().state_dict()
    assert list(state) == ["block.scale", "block.counter", "block.fc.weight", "block.fc.bias",
                           "block.bn.weight", "block.bn.bias", "block.bn.running_mean",
                           "block.bn.running_var", "block.bn.num_batches_tracked",
                           "head.weight", "head.bias"]


def test_load_state_dict_accepts_host_arrays_and_other_devices(device, rng):
    model = nn.Linear(2, 3).to(device)
    weights = rng.standard_normal((3, 2))  # float64 NumPy: cast to the model's float32
    model.load_state_dict({"weight": weights, "bias": tg.tensor([1.0, 2.0, 3.0])})
    assert model.weight.device == device and model.weight.dtype == np.float32
    np.testing.assert_allclose(model.weight.numpy(), weights, rtol=1e-6)
    np.testing.assert_array_equal(model.bias.numpy(), [1.0, 2.0, 3.0])
    copy_on_cpu = nn.Linear(2, 3)
    copy_on_cpu.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy_on_cpu.weight.numpy(), model.weight.numpy())


def test_strict_load_lists_missing_unexpected_and_mis_shaped_keys():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = model[0].weight.numpy().copy()
    state = {"0.weight": np.zeros((3, 2)), "0.bias": np.zeros(4), "extra.weight": np.zeros(1)}
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "Missing key(s)" in message and '"1.weight"' in message and '"1.bias"' in message
    assert "Unexpected key(s)" in message and '"extra.weight"' in message
    assert "size mismatch for 0.bias" in message and "(4,)" in message and "(3,)" in message
    np.testing.assert_array_equal(model[0].weight.numpy(), before)  # nothing copied


def test_non_strict_load_reports_keys_but_still_rejects_wrong_shapes():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    result = model.load_state_dict({"0.weight": np.ones((3, 2)), "other": np.ones(2)},
                                   strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"]
    assert result.unexpected_keys == ["other"]
    np.testing.assert_array_equal(model[0].weight.numpy(), np.ones((3, 2)))
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        model.load_state_dict({"0.weight": np.ones((2, 3))}, strict=False)


def test_batchnorm_num_batches_tracked_round_trips():
    bn = nn.BatchNorm1d(2)
    for _ in range(3):
        bn(tg.randn(4, 2))
    fresh = nn.BatchNorm1d(2)
    fresh.load_state_dict(bn.state_dict())
    assert fresh.num_batches_tracked.item() == 3
    np.testing.assert_array_equal(fresh.running_var.numpy(), bn.running_var.numpy())


# ------------------------------------------------------------------ hooks, apply

def test_forward_hook_sees_inputs_and_output_and_can_be_removed():
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out)))
    x = tg.ones(1, 2)
    out = layer(x)
    assert len(seen) == 1 and seen[0][0] is layer and seen[0][1][0] is x and seen[0][2] is out
    handle.remove()
    layer(x)
    assert len(seen) == 1
    handle.remove()  # removing twice is harmless


def test_hook_can_replace_the_output():
    layer = nn.Identity()
    with layer.register_forward_hook(lambda m, inputs, out: out * 2):
        np.testing.assert_array_equal(layer(tg.ones(2)).numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(layer(tg.ones(2)).numpy(), [1.0, 1.0])


def test_hooks_on_children_collect_activation_statistics():
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
    stats = {}
    for name, module in net.named_children():
        module.register_forward_hook(
            lambda m, inputs, out, name=name: stats.__setitem__(name, out.shape))
    net(tg.randn(7, 3))
    assert stats == {"0": (7, 5), "1": (7, 5), "2": (7, 1)}


def test_apply_visits_children_first_then_self():
    net = Net()
    order = []
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Linear", "BatchNorm1d", "Block", "Linear", "Dropout", "Net"]

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    net.apply(init_weights)
    assert np.all(net.head.weight.numpy() == 0.5) and np.all(net.block.fc.weight.numpy() == 0.5)


def test_num_parameters():
    assert nn.Linear(3, 4).num_parameters() == 16
    assert nn.Linear(3, 4, bias=False).num_parameters() == 12
    assert Net().num_parameters() == (12 + 4) + (4 + 4) + 4 + (8 + 2)


# ------------------------------------------------------------------ device, dtype

def test_to_moves_in_place_and_keeps_parameter_identity(device):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(model.parameters())
    model(tg.randn(4, 2)).sum().backward()
    assert model.to(device) is model
    assert [p is q for p, q in zip(params, model.parameters())] == [True] * 4
    assert all(p.device == device for p in model.parameters())
    assert all(b.device == device for b in model.buffers())
    assert all(p.grad.device == device for p in model.parameters())
    y = model(tg.randn(4, 2, device=device))
    assert y.device == device
    model.to("cpu")
    assert model[0].weight.device == "cpu"


def test_double_casts_floats_only():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)).double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    model.to(tg.float32)
    assert model[0].weight.dtype == np.float32
    model.float()
    assert model[1].running_var.dtype == np.float32


def test_deepcopy_gives_an_independent_module():
    net = Net()
    clone = copy.deepcopy(net)
    assert clone.head.weight is not net.head.weight
    np.testing.assert_array_equal(clone.head.weight.numpy(), net.head.weight.numpy())
    clone.head.weight.data[...] = 0
    assert not np.all(net.head.weight.numpy() == 0)
    assert isinstance(clone.head.weight, nn.Parameter)


# ------------------------------------------------------------------------- repr

def test_repr_is_a_pytorch_like_tree():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1)\n"
        "  )\n"
        ")")


def test_a_replaced_child_or_parameter_keeps_its_place_as_in_pytorch():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    first = nn.Linear(2, 3)
    model[0] = first
    model.add_module("1", nn.Tanh())
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear"]
    assert model[0] is first and list(model._modules) == ["0", "1", "2"]
    layer = nn.Linear(2, 3)
    layer.weight = nn.Parameter(tg.zeros(3, 2))
    layer.register_buffer("scale", tg.ones(1))
    layer.register_buffer("scale", tg.zeros(1))
    assert list(layer.state_dict()) == ["weight", "bias", "scale"]


def test_sequential_edits_like_a_list_and_renumbers_as_pytorch():
    a, b, c, d = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.Tanh()
    model = nn.Sequential(a, b, c)
    model.insert(1, d)
    assert list(model) == [a, d, b, c] and list(model._modules) == ["0", "1", "2", "3"]
    assert model.pop(1) is d and list(model) == [a, b, c]
    del model[0]
    assert list(model) == [b, c] and list(model.state_dict()) == ["1.weight", "1.bias"]
    assert model[1] is c and model._modules["1"] is c
    model.extend([d])
    del model[0:2]
    assert list(model) == [d] and model[0] is d
    with pytest.raises(TypeError, match="not a Module"):
        model.insert(0, "relu")


def test_load_state_dict_pre_hooks_see_a_copy_with_each_module_prefix():
    calls = []
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 1)))

    def rename(module, state_dict, prefix, local_metadata, strict, missing, unexpected,
               error_msgs):
        calls.append((type(module).__name__, prefix, strict))
        if prefix + "w" in state_dict:                     # an older layout's key
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")

    handles = [model[0].register_load_state_dict_pre_hook(rename),
               model[1][0].register_load_state_dict_pre_hook(rename)]
    state = model.state_dict()
    old = {key.replace("weight", "w"): value for key, value in state.items()}
    with tg.no_grad():
        model[1][0].weight.data[...] = 0.0
    missing, unexpected = model.load_state_dict(old)
    assert missing == [] and unexpected == []
    assert calls == [("Linear", "0.", True), ("Linear", "1.0.", True)]
    np.testing.assert_array_equal(model[1][0].weight.numpy(), state["1.0.weight"].numpy())
    assert "1.0.w" in old                                  # the caller's dict is unchanged
    for handle in handles:
        handle.remove()
    with pytest.raises(RuntimeError, match="Unexpected key"):
        model.load_state_dict(old)
    assert len(calls) == 2                                 # removed: not called again


def test_load_state_dict_pre_hook_errors_and_the_older_spelling():
    model = nn.Linear(2, 1)
    seen = []
    model._register_load_state_dict_pre_hook(
        lambda state_dict, prefix, *rest: seen.append(prefix))   # without the module
    model.register_load_state_dict_pre_hook(
        lambda module, state_dict, prefix, *rest: rest[-1].append("version 0 is too old"))
    with pytest.raises(RuntimeError, match="version 0 is too old"):
        model.load_state_dict(model.state_dict(), strict=False)
    assert seen == [""]
