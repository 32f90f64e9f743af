"""nn.ModuleDict, nn.ParameterList and nn.ParameterDict: registration, order, the dict
and list operations, state dicts (and a save/load round trip), optimizers, errors, repr."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


class Model(nn.Module):
    """One of each container, and a Parameter held twice (in the list and in the dict)."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleDict({"encoder": nn.Linear(3, 4), "decoder": nn.Linear(4, 3)})
        self.shared = nn.Parameter(tg.randn(4))
        self.weights = nn.ParameterList([tg.randn(2, 3), self.shared])
        self.scales = nn.ParameterDict([("alpha", tg.randn(1)), ("beta", self.shared)])

    def forward(self, x):
        hidden = self.blocks["encoder"](x) * self.scales["beta"]
        return self.blocks["decoder"](hidden) * self.scales["alpha"] + x * self.weights[0]


# ------------------------------------------------------------------ ModuleDict

def test_module_dict_from_a_dict_or_pairs_keeps_the_key_order():
    first, second, third = nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2)
    from_dict = nn.ModuleDict({"z": first, "a": second, "m": third})
    from_pairs = nn.ModuleDict([("z", first), ("a", second), ("m", third)])
    for modules in (from_dict, from_pairs):
        assert list(modules) == ["z", "a", "m"]           # insertion order, not sorted
        assert list(modules.keys()) == ["z", "a", "m"]
        assert list(modules.values()) == [first, second, third]
        assert list(modules.items()) == [("z", first), ("a", second), ("m", third)]
        assert len(modules) == 3
        assert modules["a"] is second
        assert "m" in modules and "b" not in modules
        assert [name for name, _ in modules.named_children()] == ["z", "a", "m"]


def test_module_dict_set_replace_delete_pop_update_clear():
    modules = nn.ModuleDict()
    assert len(modules) == 0 and list(modules) == []
    a, b, c, d = nn.Linear(1, 1), nn.Linear(1, 2), nn.Linear(2, 1), nn.Tanh()
    modules["a"] = a
    modules["b"] = b
    modules["c"] = c
    modules["a"] = d                                    # replaced where it stands
    assert list(modules.items()) == [("a", d), ("b", b), ("c", c)]
    del modules["b"]
    assert list(modules) == ["a", "c"] and "b" not in modules
    assert not any(param is b.weight for param in modules.parameters())
    assert modules.pop("c") is c
    assert list(modules) == ["a"]
    modules.update([("x", a), ("y", b)])
    modules.update({"a": c, "z": nn.ReLU()})
    modules.update(nn.ModuleDict({"w": d}))
    assert list(modules) == ["a", "x", "y", "z", "w"]
    assert modules["a"] is c
    modules.clear()
    assert len(modules) == 0 and list(modules.parameters()) == []
    with pytest.raises(KeyError):
        modules["a"]
    with pytest.raises(KeyError):
        del modules["a"]
    with pytest.raises(KeyError):
        modules.pop("a")


def test_module_dict_registers_its_modules_in_the_owner():
    model = Model()
    names = [name for name, _ in model.named_parameters()]
    assert names[1:5] == ["blocks.encoder.weight", "blocks.encoder.bias",
                         "blocks.decoder.weight", "blocks.decoder.bias"]
    assert model.blocks["encoder"] in list(model.modules())
    model.eval()
    assert not model.blocks["decoder"].training             # train/eval reaches the entries
    del model.blocks["encoder"]
    assert "blocks.encoder.weight" not in model.state_dict()


def test_module_dict_errors_name_the_key_and_the_value():
    modules = nn.ModuleDict()
    with pytest.raises(TypeError, match=r"ModuleDict: keys must be strings, got 3 of type int"):
        modules[3] = nn.ReLU()
    with pytest.raises(TypeError, match=r"value for key 'fc' is a ndarray, not a Module"):
        modules["fc"] = np.zeros(3)
    with pytest.raises(TypeError, match=r"value for key 'fc' is a NoneType"):
        nn.ModuleDict({"fc": None})
    with pytest.raises(TypeError, match=r"keys must be strings, got \(1, 2\)"):
        nn.ModuleDict({(1, 2): nn.ReLU()})
    with pytest.raises(KeyError, match="'keys' is the name of a ModuleDict attribute"):
        modules["keys"] = nn.ReLU()                         # would hide the method
    with pytest.raises(KeyError, match="already exists"):
        modules["training"] = nn.ReLU()                     # an instance attribute
    with pytest.raises(KeyError, match="without '.'"):
        modules["a.b"] = nn.ReLU()
    with pytest.raises(TypeError, match=r"ModuleDict.update expects a mapping .* got a int"):
        modules.update(5)
    with pytest.raises(TypeError, match=r"element #1 is a ReLU, not a \(key, value\) pair"):
        modules.update([("a", nn.ReLU()), nn.ReLU()])
    with pytest.raises(ValueError, match=r"element #0 has length 3"):
        modules.update([("a", nn.ReLU(), "extra")])
    assert len(modules) == 0 and callable(modules.keys)     # nothing half-registered


def test_module_dict_has_no_forward():
    with pytest.raises(NotImplementedError, match="ModuleDict has no forward"):
        nn.ModuleDict({"a": nn.ReLU()})(tg.ones(2))


# ------------------------------------------------------------------ ParameterList

def test_parameter_list_wraps_tensors_and_keeps_parameters():
    parameter = nn.Parameter(tg.ones(3))
    plain = tg.tensor(np.arange(4.0))                       # requires_grad=False
    params = nn.ParameterList([parameter, plain])
    assert params[0] is parameter                           # a Parameter is kept as is
    assert isinstance(params[1], nn.Parameter) and params[1].requires_grad
    assert params[1].data is plain.data                     # wrapped, sharing the array
    assert len(params) == 2
    assert list(params) == [params[0], params[1]]
    assert params[-1] is params[1]
    assert [name for name, _ in params.named_parameters()] == ["0", "1"]


def test_parameter_list_append_extend_setitem_slice():
    a, b, c, d = (nn.Parameter(tg.full((2,), float(i))) for i in range(4))
    params = nn.ParameterList()
    assert params.append(a) is params
    assert params.extend([b, c]) is params
    params += [tg.zeros(1)]
    assert len(params) == 4 and isinstance(params[3], nn.Parameter)
    params[-1] = d
    params[1] = tg.ones(5)                                  # a Tensor is wrapped here too
    assert params[3] is d and isinstance(params[1], nn.Parameter)
    assert tuple(params[1].shape) == (5,)
    assert list(params.parameters()) == list(params)
    middle = params[1:3]
    assert isinstance(middle, nn.ParameterList)
    assert list(middle) == [params[1], c]                   # the same Parameter objects
    assert list(params[::-1]) == [d, c, params[1], a]


def test_parameter_list_errors():
    params = nn.ParameterList([tg.ones(1)])
    with pytest.raises(IndexError, match="index 1 is out of range for 1 parameters"):
        params[1]
    with pytest.raises(IndexError, match="index -2 is out of range"):
        params[-2] = tg.ones(1)
    with pytest.raises(TypeError, match="cannot assign ndarray as parameter '0'"):
        params[0] = np.ones(2)                              # other objects: a new entry only
    with pytest.raises(TypeError, match="extend expects an iterable of Parameters, got a Tensor"):
        params.extend(tg.ones(3))                           # not unpacked row by row
    with pytest.raises(TypeError, match="got a int"):
        params.extend(3)
    with pytest.raises(TypeError):
        params["0"]
    assert len(params) == 1


# ------------------------------------------------------------------ ParameterDict

def test_parameter_dict_operations_keep_order_and_wrap_tensors():
    alpha = nn.Parameter(tg.ones(1))
    params = nn.ParameterDict([("z", alpha), ("a", tg.zeros(2, 2))])
    assert list(params) == ["z", "a"]                        # pairs keep their order
    assert params["z"] is alpha
    assert isinstance(params["a"], nn.Parameter) and params["a"].requires_grad
    assert "a" in params and "b" not in params and len(params) == 2
    params["m"] = tg.ones(3)
    params["z"] = tg.full((1,), 5.0)                         # replaced where it stands
    assert list(params.keys()) == ["z", "a", "m"]
    assert params["z"].item() == 5.0
    assert list(params.values()) == [params["z"], params["a"], params["m"]]
    assert [key for key, _ in params.items()] == ["z", "a", "m"]
    assert params.get("m") is params["m"] and params.get("q") is None
    assert params.get("q", alpha) is alpha
    del params["a"]
    assert list(params) == ["z", "m"]
    assert [name for name, _ in params.named_parameters()] == ["z", "m"]
    popped = params.pop("m")
    assert isinstance(popped, nn.Parameter) and list(params) == ["z"]
    params.update([("b", alpha), ("c", tg.ones(1))])
    params.update(nn.ParameterDict({"d": alpha}))
    assert list(params) == ["z", "b", "c", "d"]
    assert len(list(params.parameters())) == 3               # alpha under two keys: once
    params.clear()
    assert len(params) == 0 and list(params.parameters()) == []


def test_parameter_dict_errors():
    params = nn.ParameterDict()
    with pytest.raises(TypeError, match="ParameterDict: keys must be strings, got 0 of type int"):
        params[0] = tg.ones(1)
    params["w"] = tg.ones(1)
    with pytest.raises(TypeError, match=r"cannot assign list as parameter 'w'"):
        params["w"] = [1.0, 2.0]                            # other objects: a new key only
    del params["w"]
    with pytest.raises(KeyError, match="'items' is the name of a ParameterDict attribute"):
        params["items"] = tg.ones(1)
    with pytest.raises(KeyError, match="without '.'"):
        params[""] = tg.ones(1)
    with pytest.raises(TypeError, match="ParameterDict.update expects a mapping"):
        params.update(tg.ones(2))
    with pytest.raises(KeyError):
        del params["w"]
    assert len(params) == 0


# ------------------------------------------------------------------ state dicts, optimizers

STATE_KEYS = ["shared", "blocks.encoder.weight", "blocks.encoder.bias",
              "blocks.decoder.weight", "blocks.decoder.bias", "weights.0", "weights.1",
              "scales.alpha", "scales.beta"]


def test_state_dict_keys_follow_the_containers():
    assert list(Model().state_dict()) == STATE_KEYS


def test_state_dict_round_trip_through_save_and_load(tmp_path):
    tg.manual_seed(1)
    source = Model()
    tg.save(source.state_dict(), tmp_path / "model.tgo")
    tg.manual_seed(2)
    target = Model()
    assert not np.array_equal(target.weights[0].numpy(), source.weights[0].numpy())
    parameters_before = list(target.parameters())
    result = target.load_state_dict(tg.load(tmp_path / "model.tgo"))
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key].numpy(), value.numpy())
    assert all(a is b for a, b in zip(parameters_before, target.parameters()))  # in place
    assert target.weights[1] is target.scales["beta"] is target.shared  # still one tensor


def test_load_state_dict_reports_a_missing_container_entry():
    model = Model()
    state = model.state_dict()
    del state["scales.alpha"]
    with pytest.raises(RuntimeError, match='Missing key.*"scales.alpha"'):
        model.load_state_dict(state)


def test_optimizer_sees_each_parameter_once_and_updates_it_once():
    model = Model()
    params = list(model.parameters())
    assert len(params) == 7                                 # 9 state-dict keys, shared 3x
    assert len({id(p) for p in params}) == len(params)
    assert sum(p is model.shared for p in params) == 1
    optimizer = tg.optim.SGD(model.parameters(), lr=0.5)
    assert len(optimizer.param_groups[0]["params"]) == 7
    before = {id(p): p.numpy().copy() for p in params}
    loss = model(tg.ones(2, 3)).sum()
    loss.backward()
    grads = {id(p): p.grad.numpy().copy() for p in params}
    assert all(np.all(grads[id(p)] != 0) for p in params)
    optimizer.step()
    for p in params:
        np.testing.assert_allclose(p.numpy(), before[id(p)] - 0.5 * grads[id(p)], rtol=1e-6)


def test_to_double_and_deepcopy_keep_the_containers_working():
    model = Model()
    held = model.weights[0]
    model.double()
    assert model.weights[0] is held and held.dtype == tg.float64
    assert model.scales["alpha"].dtype == tg.float64
    assert model(tg.ones(2, 3, dtype=tg.float64)).dtype == tg.float64
    clone = copy.deepcopy(model)
    assert list(clone.state_dict()) == STATE_KEYS
    assert clone.weights[1] is clone.scales["beta"]          # sharing survives the copy
    assert clone.weights[0] is not model.weights[0]


# ------------------------------------------------------------------ repr

def test_repr_lists_each_entry():
    modules = nn.ModuleDict(OrderedDict(act=nn.ReLU(), fc=nn.Linear(2, 3)))
    assert repr(modules) == ("ModuleDict(\n"
                             "  (act): ReLU()\n"
                             "  (fc): Linear(in_features=2, out_features=3, bias=True)\n"
                             ")")
    params = nn.ParameterList([tg.ones(2, 3), tg.ones(4, dtype=tg.float64)])
    assert repr(params) == ("ParameterList(\n"
                            "  (0): Parameter containing: [float32 of size 2x3]\n"
                            "  (1): Parameter containing: [float64 of size 4]\n"
                            ")")
    scales = nn.ParameterDict({"alpha": tg.ones(1)})
    assert repr(scales) == "ParameterDict((alpha): Parameter containing: [float32 of size 1])"
    assert repr(nn.ParameterDict()) == "ParameterDict()"
    model_text = repr(Model())
    assert "  (weights): ParameterList(\n    (0): Parameter containing:" in model_text
    assert "  (blocks): ModuleDict(\n    (encoder): Linear(" in model_text
