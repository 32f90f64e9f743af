"""Audit of the Module API: registries written directly, dtype casts of complex tensors."""

import copy
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


def _host(tensor) -> np.ndarray:
    return np.asarray(tensor.detach().cpu().numpy())


# ------------------------------------------------------------------ registries written directly

def test_a_parameter_written_into_the_registry_replaces_the_attribute(device, rng):
    # PyTorch code replaces entries in place (module._parameters[name] = p): the attribute
    # and forward must see the new Parameter, as ``module.weight`` reads the registry there
    layer = nn.Linear(3, 2).to(device)
    weight = rng.standard_normal((2, 3))
    replacement = nn.Parameter(tg.tensor(weight, dtype=tg.float32, device=device))
    layer._parameters["weight"] = replacement
    assert layer.weight is replacement
    assert layer.get_parameter("weight") is replacement
    x = rng.standard_normal((4, 3))
    expected = x @ weight.T + _host(layer.bias)
    out = layer(tg.tensor(x, dtype=tg.float32, device=device))
    np.testing.assert_allclose(_host(out), expected, rtol=1e-5, atol=1e-6)


def test_an_entry_deleted_from_the_registry_is_no_attribute_any_more(device):
    layer = nn.Linear(3, 2).to(device)
    del layer._parameters["bias"]
    assert not hasattr(layer, "bias")
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    norm = nn.BatchNorm1d(2).to(device)
    running_var = norm._buffers.pop("running_var")
    assert running_var.shape == (2,)
    assert not hasattr(norm, "running_var")
    assert norm._buffers.pop("running_var", None) is None
    with pytest.raises(KeyError):
        norm._buffers.pop("running_var")
    norm._buffers.clear()
    assert not hasattr(norm, "running_mean") and not hasattr(norm, "num_batches_tracked")


def test_a_module_written_into_the_registry_is_the_child_everywhere(device, rng):
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU()).to(device)
    scale = rng.standard_normal((2, 2))
    replacement = nn.Linear(2, 2, bias=False).to(device)
    replacement.weight = nn.Parameter(tg.tensor(scale, dtype=tg.float32, device=device))
    model._modules["0"] = replacement
    assert getattr(model, "0") is replacement
    assert model.get_submodule("0") is replacement
    assert model.get_parameter("0.weight") is replacement.weight
    x = rng.standard_normal((3, 2))
    np.testing.assert_allclose(_host(model(tg.tensor(x, dtype=tg.float32, device=device))),
                               np.maximum(x @ scale.T, 0), rtol=1e-5, atol=1e-6)
    name, popped = model._modules.popitem()
    assert name == "1" and isinstance(popped, nn.ReLU) and not hasattr(model, "1")


def test_assigning_a_whole_registry_renames_the_children_as_pytorch():
    # PyTorch's own Sequential.__delitem__ renumbers with ``self._modules = OrderedDict(...)``
    first, second = nn.Linear(2, 2), nn.Tanh()
    model = nn.Sequential(OrderedDict(a=first, b=second))
    model._modules = OrderedDict([("0", second), ("1", first)])
    assert not hasattr(model, "a") and not hasattr(model, "b")
    assert getattr(model, "0") is second and getattr(model, "1") is first
    assert list(model.state_dict()) == ["1.weight", "1.bias"]
    model._modules = model._modules                  # the same entries: nothing is lost
    assert getattr(model, "1") is first


def test_a_plain_attribute_of_the_same_name_is_not_overwritten():
    layer = nn.Linear(2, 2)
    layer.__dict__["note"] = "kept"
    layer._buffers["note"] = tg.zeros(1)             # PyTorch: the plain attribute wins
    assert layer.note == "kept"
    del layer._buffers["note"]
    assert layer.note == "kept"


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],
                         ids=["deepcopy", "pickle"])
def test_a_copied_module_writes_its_own_registry_into_its_own_attributes(clone, rng):
    layer = nn.Linear(2, 2)
    twin = clone(layer)
    assert twin.weight is twin._parameters["weight"]
    replacement = nn.Parameter(tg.tensor(rng.standard_normal((2, 2)), dtype=tg.float32))
    twin._parameters["weight"] = replacement
    assert twin.weight is replacement
    assert layer.weight is layer._parameters["weight"] and layer.weight is not replacement
    assert layer._parameters.copy() == OrderedDict(layer._parameters)
    assert repr(nn.Linear(1, 1, bias=False)._buffers) == "OrderedDict()"


# ------------------------------------------------------------------ dtype casts

def _complex_model(rng):
    model = nn.Linear(2, 2)
    values = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    model.register_buffer("phase", tg.tensor(values.astype(np.complex64)))
    model.register_buffer("steps", tg.tensor(np.array([3, 4], dtype=np.int64)))
    return model, values


def test_to_a_complex_dtype_casts_complex_and_floating_tensors(rng):
    # PyTorch: to(dtype) casts every floating-point or complex tensor, no integer one
    model, values = _complex_model(rng)
    weight = _host(model.weight).astype(np.complex128)
    model.to(np.complex128)
    assert model.phase.dtype == np.complex128 and model.weight.dtype == np.complex128
    assert model.steps.dtype == np.int64
    np.testing.assert_allclose(_host(model.phase), values.astype(np.complex64))
    np.testing.assert_array_equal(_host(model.weight), weight)


def test_to_a_real_dtype_drops_the_imaginary_part_with_a_warning(rng):
    model, values = _complex_model(rng)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        model.to(tg.float64)
    assert model.phase.dtype == np.float64
    np.testing.assert_allclose(_host(model.phase), values.real.astype(np.complex64).real)
    np.testing.assert_array_equal(_host(model.steps), [3, 4])


@pytest.mark.parametrize("cast, dtype", [("double", np.float64), ("float", np.float32),
                                         ("half", np.float16)])
def test_double_float_half_cast_floating_tensors_only(cast, dtype, rng):
    model, values = _complex_model(rng)
    weight = _host(model.weight)
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # no complex tensor is touched
        getattr(model, cast)()
    assert model.weight.dtype == dtype and model.bias.dtype == dtype
    assert model.phase.dtype == np.complex64 and model.steps.dtype == np.int64
    np.testing.assert_array_equal(_host(model.weight), weight.astype(dtype))
    np.testing.assert_allclose(_host(model.phase), values.astype(np.complex64))
