"""More of torch.nn's Module API: ``nn.Buffer`` assignment, ``Sequential * n`` (and its
other list methods), ParameterDict's remaining dict methods, ``Module._get_name``,
``compile``, the deprecated ``register_backward_hook`` and ``_apply``.

Expected values are PyTorch's documented semantics written out by hand (which objects
are shared, which state-dict keys appear) and gradients computed with NumPy."""

import copy
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import module as module_file


def close(tensor, expected, tol=1e-12):
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=tol, atol=tol)


# ---------------------------------------------------------------------- nn.Buffer

def test_buffer_is_exported_and_is_a_tensor_type_of_its_own():
    assert nn.Buffer is module_file.Buffer
    buffer = nn.Buffer(tg.tensor([1.0, 2.0]))
    assert isinstance(buffer, tg.Tensor) and isinstance(buffer, nn.Buffer)
    assert buffer.persistent is True
    assert not isinstance(tg.tensor([1.0]), nn.Buffer)
    assert not isinstance(nn.Parameter(tg.tensor([1.0])), nn.Buffer)
    empty = nn.Buffer()                                       # PyTorch: torch.empty(0)
    assert empty.shape == (0,) and empty.dtype == np.float32


def test_buffer_is_its_data_detached_sharing_memory(device):
    source = tg.tensor(np.array([1.0, 2.0, 3.0]), device=device, requires_grad=True)
    made = source * 2                                         # a non-leaf
    buffer = nn.Buffer(made, persistent=False)
    assert buffer is not made and buffer.device == device
    assert buffer.grad_fn is None and buffer.requires_grad    # detach().requires_grad_(True)
    assert buffer.persistent is False
    with tg.no_grad():
        made.data[...] = made.data * 0 + 7.0                  # a write to the shared array
    close(buffer, [7.0, 7.0, 7.0])
    plain = nn.Buffer(tg.tensor(np.array([1, 2]), device=device))
    assert plain.requires_grad is False and plain.dtype == np.int64


def test_assigning_a_buffer_registers_it_persistent_or_not(device):
    model = nn.Linear(2, 2).to(device)
    kept = tg.tensor(np.array([1.0, 2.0]), device=device)
    scratch = tg.tensor(np.array([3.0]), device=device)
    model.kept = nn.Buffer(kept)
    model.scratch = nn.Buffer(scratch, persistent=False)
    assert list(model._buffers) == ["kept", "scratch"]
    assert [name for name, _ in model.named_buffers()] == ["kept", "scratch"]
    assert [name for name, _ in model.named_parameters()] == ["weight", "bias"]
    assert list(model.state_dict()) == ["weight", "bias", "kept"]      # scratch: not saved
    assert model.kept is model._buffers["kept"]                       # the Buffer itself
    close(model.state_dict()["kept"], [1.0, 2.0])


def test_a_non_persistent_buffer_is_neither_saved_nor_expected_by_a_load():
    source, target = nn.Module(), nn.Module()
    for module, value in ((source, 5.0), (target, -1.0)):
        module.kept = nn.Buffer(tg.tensor([value, value]))
        module.scratch = nn.Buffer(tg.tensor([value]), persistent=False)
    result = target.load_state_dict(source.state_dict())       # strict: no missing key
    assert result.missing_keys == [] and result.unexpected_keys == []
    close(target.kept, [5.0, 5.0])
    close(target.scratch, [-1.0])                               # not in the state dict


def test_assigning_a_buffer_again_takes_its_persistence_a_plain_tensor_keeps_it():
    module = nn.Module()
    module.x = nn.Buffer(tg.tensor([1.0]))
    module.x = nn.Buffer(tg.tensor([2.0]), persistent=False)   # register_buffer(.., False)
    assert "x" not in module.state_dict() and "x" in module._buffers
    module.x = tg.tensor([3.0])                                # a Tensor: stays non-persistent
    assert "x" not in module.state_dict()
    close(module.x, [3.0])
    module.x = nn.Buffer(tg.tensor([4.0]))                     # persistent again
    assert list(module.state_dict()) == ["x"]
    close(module.state_dict()["x"], [4.0])


def test_a_buffer_assignment_in_the_place_of_something_else_is_refused():
    model = nn.Sequential(nn.Linear(1, 1))
    buffer = nn.Buffer(tg.tensor([1.0]))
    with pytest.raises(TypeError, match="as parameter 'weight'"):
        model[0].weight = buffer                               # PyTorch: a parameter's name
    with pytest.raises(TypeError, match="as child module '0'"):
        setattr(model, "0", buffer)
    model.note = 3
    with pytest.raises(KeyError, match="attribute 'note' already exists"):
        model.note = buffer                                    # register_buffer's check
    assert "note" not in model._buffers and model.note == 3


def test_a_buffer_moves_and_copies_with_its_module():
    module = nn.Module()
    module.x = nn.Buffer(tg.tensor([1.5, 2.5]), persistent=False)
    twin = copy.deepcopy(module)
    assert twin.x is not module.x and isinstance(twin.x, nn.Buffer)
    assert twin.x.persistent is False and twin._non_persistent_buffers == {"x"}
    close(twin.x, [1.5, 2.5])
    same = module.x
    module.double()
    assert module.x is same and module.x.dtype == np.float64


# ----------------------------------------------------------------- Sequential * n

def three_modules():
    return nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)


def test_sequential_times_n_repeats_the_same_objects_in_a_new_sequential():
    a, b, c = three_modules()
    base = nn.Sequential(a, b, c)
    for repeated in (base * 2, 2 * base):
        assert repeated is not base and type(repeated) is nn.Sequential
        assert list(repeated._modules) == ["0", "1", "2", "3", "4", "5"]
        assert list(repeated) == [a, b, c, a, b, c]
        assert repeated[3] is a and repeated[5] is c
    assert list(base._modules) == ["0", "1", "2"]              # unchanged
    once = base * 1
    assert once is not base and list(once) == [a, b, c]


def test_sequential_times_n_renumbers_named_children():
    a, b, _ = three_modules()
    named = nn.Sequential(OrderedDict(fc=a, act=b))
    repeated = named * 2
    assert list(repeated._modules) == ["0", "1", "2", "3"]
    assert list(repeated) == [a, b, a, b]


def test_sequential_times_equals_n_extends_in_place():
    a, b, c = three_modules()
    base = nn.Sequential(a, b, c)
    result = base.__imul__(3)
    assert result is base
    base = nn.Sequential(a, b)
    base *= 3
    assert list(base._modules) == ["0", "1", "2", "3", "4", "5"]
    assert list(base) == [a, b, a, b, a, b]
    # a module under several names: state_dict lists it under each, parameters once
    assert list(base.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                       "4.weight", "4.bias"]
    assert [name for name, _ in base.named_parameters()] == ["0.weight", "0.bias"]
    assert base.state_dict()["4.weight"].data is a.weight.data


def test_sequential_repeated_forward_applies_the_shared_layer_each_time():
    layer = nn.Linear(2, 2).double()
    weight, bias = layer.weight.numpy(), layer.bias.numpy()
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    expected = x
    for _ in range(3):
        expected = np.maximum(expected @ weight.T + bias, 0.0)   # relu(x W^T + b)
    close((nn.Sequential(layer, nn.ReLU()) * 3)(tg.tensor(x)), expected)
    stacked = nn.Sequential(layer, nn.ReLU())
    stacked *= 3
    close(stacked(tg.tensor(x)), expected)


def test_sequential_times_equals_of_an_empty_or_single_repeat():
    empty = nn.Sequential()
    empty *= 4
    assert len(empty) == 0 and len(nn.Sequential() * 2) == 0
    a, _, _ = three_modules()
    single = nn.Sequential(a)
    single *= 1
    assert list(single) == [a]


@pytest.mark.parametrize("count, error, message", [
    (2.0, TypeError, "unsupported operand"),
    ("2", TypeError, "unsupported operand"),
    (np.float64(2), TypeError, "unsupported operand"),
    (0, ValueError, "Non-positive multiplication factor 0"),
    (-1, ValueError, "Non-positive multiplication factor -1"),
])
def test_sequential_times_a_bad_count_raises_as_pytorch(count, error, message):
    base = nn.Sequential(nn.ReLU())
    with pytest.raises(error, match=message):
        base * count
    with pytest.raises(error, match=message):
        base.__rmul__(count)
    with pytest.raises(error, match=message):
        base *= count
    assert len(base) == 1


def test_sequential_times_equals_needs_numbered_children():
    a, b, _ = three_modules()
    named = nn.Sequential(OrderedDict(fc=a, act=b))
    with pytest.raises(KeyError, match="no child named '0'"):
        named *= 2                                             # PyTorch: KeyError '0'
    assert list(named._modules) == ["fc", "act"]                # nothing was added


def test_sequential_list_methods_follow_pytorch():
    a, b, c = three_modules()
    d = nn.Tanh()
    model = nn.Sequential(a)
    assert model.append(b) is model and model.extend([c]) is model
    assert list(model._modules) == ["0", "1", "2"] and list(model) == [a, b, c]
    assert model.insert(1, d) is model and list(model) == [a, d, b, c]
    assert list(model._modules) == ["0", "1", "2", "3"]
    assert model.pop(1) is d and list(model) == [a, b, c]
    assert list(model._modules) == ["0", "1", "2"]
    joined = model + nn.Sequential(d)
    assert joined is not model and list(joined) == [a, b, c, d] and len(model) == 3
    model += nn.Sequential(d)
    assert list(model) == [a, b, c, d] and list(model._modules) == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="only objects of Sequential class"):
        model + [d]
    with pytest.raises(IndexError):
        model.insert(9, d)


# ------------------------------------------------------------------ ParameterDict

def parameter_dict():
    alpha, beta = nn.Parameter(tg.tensor([1.0])), nn.Parameter(tg.tensor([2.0, 3.0]))
    return nn.ParameterDict([("alpha", alpha), ("beta", beta)]), alpha, beta


def test_parameter_dict_copy_is_shallow_and_separate():
    params, alpha, beta = parameter_dict()
    twin = params.copy()
    assert type(twin) is nn.ParameterDict and twin is not params
    assert list(twin.items()) == [("alpha", alpha), ("beta", beta)]   # the same objects
    twin["gamma"] = tg.tensor([0.0])
    del twin["alpha"]
    assert list(params) == ["alpha", "beta"] and list(twin) == ["beta", "gamma"]


def test_parameter_dict_setdefault():
    params, alpha, _ = parameter_dict()
    assert params.setdefault("alpha", tg.tensor([9.0])) is alpha      # present: unchanged
    close(params["alpha"], [1.0])
    value = tg.tensor([4.0, 5.0])
    added = params.setdefault("gamma", value)
    assert isinstance(added, nn.Parameter) and added is params["gamma"]
    assert added is not value and added.requires_grad
    value.data[0] = 6.0                                          # the array is shared
    close(added, [6.0, 5.0])
    assert list(params) == ["alpha", "beta", "gamma"]
    assert params.setdefault("delta") is None                    # None is held, as PyTorch
    assert "delta" in params and list(params.parameters()) == [alpha, params["beta"], added]


def test_parameter_dict_popitem_takes_the_last_inserted():
    params, alpha, beta = parameter_dict()
    params["alpha"] = alpha                                       # replaced in place
    assert params.popitem() == ("beta", beta)
    assert params.popitem() == ("alpha", alpha)
    assert len(params) == 0 and list(params.parameters()) == []
    with pytest.raises(KeyError, match="empty"):
        params.popitem()


def test_parameter_dict_fromkeys_is_a_new_dict():
    params, _, _ = parameter_dict()
    value = tg.tensor([1.0, 2.0])
    made = params.fromkeys(["x", "y"], value)
    assert type(made) is nn.ParameterDict and list(params) == ["alpha", "beta"]
    assert list(made) == ["x", "y"] and made["x"] is not made["y"]    # one Parameter per key
    value.data[1] = 8.0
    close(made["y"], [1.0, 8.0])                                  # each shares the array
    shared = nn.Parameter(tg.tensor([3.0]))
    both = params.fromkeys(("p", "q"), shared)
    assert both["p"] is shared and both["q"] is shared
    assert [name for name, _ in both.named_parameters()] == ["p"]     # once
    assert list(both.state_dict()) == ["p", "q"]
    assert params.fromkeys(["z"])["z"] is None                   # None is held, as PyTorch
    assert len(params.fromkeys([])) == 0


def test_parameter_dict_reversed():
    params, _, _ = parameter_dict()
    params["gamma"] = tg.tensor([0.0])
    assert list(reversed(params)) == ["gamma", "beta", "alpha"]


def test_parameter_dict_union_operators():
    params, alpha, beta = parameter_dict()
    gamma, other_alpha = nn.Parameter(tg.tensor([7.0])), nn.Parameter(tg.tensor([8.0]))
    right = nn.ParameterDict([("gamma", gamma), ("alpha", other_alpha)])
    merged = params | right
    assert type(merged) is nn.ParameterDict and merged is not params
    assert list(merged.items()) == [("alpha", other_alpha), ("beta", beta), ("gamma", gamma)]
    assert list(params.items()) == [("alpha", alpha), ("beta", beta)]   # untouched
    merged = params | {"beta": gamma}
    assert list(merged.items()) == [("alpha", alpha), ("beta", gamma)]
    plain = {"beta": gamma, "zeta": other_alpha} | params          # other.copy(), updated
    assert type(plain) is dict
    assert list(plain.items()) == [("beta", beta), ("zeta", other_alpha), ("alpha", alpha)]
    same = params
    params |= right
    assert params is same
    assert list(params.items()) == [("alpha", other_alpha), ("beta", beta), ("gamma", gamma)]
    with pytest.raises(TypeError):
        params | 3


# -------------------------------------------------------- _get_name, compile, repr

class Renamed(nn.Module):
    def _get_name(self):
        return "Shown"


def test_get_name_is_the_class_name_and_repr_prints_it():
    assert nn.Linear(1, 1)._get_name() == "Linear"
    assert nn.Sequential()._get_name() == "Sequential"
    assert repr(Renamed()) == "Shown()"
    nested = Renamed()
    nested.inner = Renamed()
    assert repr(nested) == "Shown(\n  (inner): Shown()\n)"
    assert repr(nn.Sequential(nn.ReLU()) * 2) == "Sequential(\n  (0): ReLU()\n  (1): ReLU()\n)"


def test_compile_returns_none_and_leaves_the_module_as_it_is():
    model = nn.Linear(2, 1).double()
    weight, bias = model.weight, model.bias
    x = np.array([[1.0, -2.0]])
    before = model(tg.tensor(x)).numpy()
    assert model.compile() is None
    assert model.compile(fullgraph=True, mode="max-autotune") is None
    assert model.weight is weight and model.bias is bias
    assert type(model).forward is nn.Linear.forward and "forward" not in vars(model)
    close(model(tg.tensor(x)), before)
    close(model(tg.tensor(x)), x @ weight.numpy().T + bias.numpy())


# ------------------------------------------------------ register_backward_hook

class ScaleShift(nn.Module):
    """y = x·w + z²  (elementwise): dL/dx = g·w, dL/dz = 2·z·g for dL/dy = g."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(tg.tensor(weight))

    def forward(self, x, z):
        return x * self.weight + z * z


WEIGHT = np.array([0.5, -2.0, 3.0])
X = np.array([1.0, 2.0, -1.0])
Z = np.array([0.25, -1.5, 2.0])
G = np.array([1.0, -0.5, 2.0])  # dL/dy for L = sum(y·G)


def test_register_backward_hook_warns_and_sees_the_full_gradients():
    module = ScaleShift(WEIGHT)
    seen = []
    with pytest.warns(FutureWarning, match="register_full_backward_hook"):
        handle = module.register_backward_hook(
            lambda mod, grad_input, grad_output: seen.append((mod, grad_input, grad_output)))
    x, z = tg.tensor(X, requires_grad=True), tg.tensor(Z, requires_grad=True)
    (module(x, z) * tg.tensor(G)).sum().backward()
    assert len(seen) == 1 and seen[0][0] is module
    _, grad_input, grad_output = seen[0]
    assert len(grad_input) == 2 and len(grad_output) == 1
    close(grad_output[0], G)
    close(grad_input[0], G * WEIGHT)
    close(grad_input[1], 2 * Z * G)
    close(x.grad, G * WEIGHT)
    close(z.grad, 2 * Z * G)
    close(module.weight.grad, G * X)
    handle.remove()
    module.weight.grad = None
    (module(tg.tensor(X, requires_grad=True), z) * tg.tensor(G)).sum().backward()
    assert len(seen) == 1                                         # removed


def test_register_backward_hook_can_replace_the_input_gradients():
    module = ScaleShift(WEIGHT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        module.register_backward_hook(
            lambda mod, grad_input, grad_output: (grad_input[0] * 10.0, None))
    x, z = tg.tensor(X, requires_grad=True), tg.tensor(Z, requires_grad=True)
    (module(x, z) * tg.tensor(G)).sum().backward()
    close(x.grad, 10.0 * G * WEIGHT)
    assert z.grad is None                                         # None: no gradient, as PyTorch
    close(module.weight.grad, G * X)                              # the parameter: untouched


def test_a_module_cannot_mix_the_two_kinds_of_backward_hook():
    noop = lambda mod, grad_input, grad_output: None  # noqa: E731
    old = ScaleShift(WEIGHT)
    with pytest.warns(FutureWarning):
        handle = old.register_backward_hook(noop)
    handle.remove()                                               # the kind stays, as PyTorch
    with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks"):
        old.register_full_backward_hook(noop)
    full = ScaleShift(WEIGHT)
    full.register_full_backward_hook(noop)
    with pytest.warns(FutureWarning), pytest.raises(RuntimeError, match="Cannot use both"):
        full.register_backward_hook(noop)
    with pytest.warns(FutureWarning):
        old.register_backward_hook(noop)                          # the same kind again: fine


# ---------------------------------------------------------------------- _apply

def test_apply_maps_every_parameter_buffer_and_grad_in_place(device):
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)).to(device)
    model.counts = nn.Buffer(tg.tensor(np.array([1, 2]), device=device))
    model[0].weight.grad = tg.tensor(np.ones((2, 2), np.float32), device=device)
    objects = list(model.parameters()) + list(model.buffers())
    before = [tensor.numpy().copy() for tensor in objects]
    assert model._apply(lambda tensor: tensor * 2) is model
    assert list(model.parameters()) + list(model.buffers()) == objects  # same objects
    for tensor, old in zip(objects, before):
        close(tensor, old * 2)
        assert tensor.device == device and tensor.grad_fn is None
    close(model[0].weight.grad, np.full((2, 2), 2.0))
    assert model.counts.dtype == np.int64 and model[0].weight.requires_grad


def test_apply_maps_a_shared_tensor_once_and_recurse_false_only_own():
    shared = nn.Linear(1, 1)
    model = nn.Sequential(shared, shared)
    model.own = nn.Buffer(tg.tensor([3.0]))
    weight = shared.weight.numpy().copy()
    model._apply(lambda tensor: tensor + 1.0)
    close(shared.weight, weight + 1.0)                             # once, not twice
    close(model.own, [4.0])
    model._apply(lambda tensor: tensor * 0.0, recurse=False)
    close(model.own, [0.0])
    close(shared.weight, weight + 1.0)
    model._apply(lambda tensor: tensor.double())
    assert shared.weight.dtype == np.float64 and model.own.dtype == np.float64
    with pytest.raises(TypeError, match="fn must return a Tensor, got ndarray"):
        model._apply(lambda tensor: tensor.numpy())
