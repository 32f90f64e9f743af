"""``Module._apply`` as PyTorch's: ``to``, ``cuda``, ``cpu``, ``float``, ``double``, ``half``,
``type``, ``to_empty`` and ``share_memory`` go through it, and it calls each child's
``_apply``, so a subclass that converts tensors of its own by overriding ``_apply`` (PyTorch's
extension point, e.g. a cache kept as a plain attribute) is obeyed, however deep it sits."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


class WithCache(nn.Module):
    """A layer with a tensor that is neither a parameter nor a buffer."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.cache = tg.tensor(np.arange(4.0), dtype=tg.float32)
        self.calls = 0

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        self.cache = fn(self.cache)
        self.calls += 1
        return self


@pytest.mark.parametrize("convert, dtype", [
    (lambda m: m.double(), "float64"), (lambda m: m.half(), "float16"),
    (lambda m: m.to(tg.float64), "float64"), (lambda m: m.to(dtype=tg.float16), "float16"),
    (lambda m: m.double().float(), "float32"), (lambda m: m.type(tg.float64), "float64")])
def test_an_overriding_child_deep_in_the_tree_converts_its_own_tensor(convert, dtype):
    layer = WithCache()
    model = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.ReLU(), layer))
    assert convert(model) is model
    assert layer.cache.dtype == dtype and layer.fc.weight.dtype == dtype
    np.testing.assert_array_equal(layer.cache.numpy(), np.arange(4.0))
    assert model[0].weight.dtype == dtype


def test_moving_devices_and_to_empty_reach_the_override(device):
    layer = WithCache()
    model = nn.Sequential(layer)
    model.to(device)
    assert layer.cache.device == device and layer.fc.weight.device == device
    model.to_empty(device="cpu")
    assert layer.cache.device == "cpu" and np.all(layer.cache.numpy() == 0)
    assert np.all(layer.fc.weight.numpy() == 0)


def test_a_module_met_twice_is_visited_once_and_tied_weights_converted_once():
    layer = WithCache()
    model = nn.Sequential(layer, nn.Sequential(layer))  # the same module under two names
    model.double()
    assert layer.calls == 1
    a = nn.Linear(2, 2, bias=False)
    b = nn.Linear(2, 2, bias=False)
    b.weight = a.weight  # tied
    tied = nn.Sequential(a, b)
    before = a.weight.numpy().copy()
    tied._apply(lambda t: t * 2)
    np.testing.assert_array_equal(a.weight.numpy(), before * 2)  # once, not four times
    assert b.weight is a.weight


def test_grads_are_converted_with_their_tensors_and_objects_stay():
    model = nn.Sequential(WithCache())
    weight = model[0].fc.weight
    weight.grad = tg.ones_like(weight)
    model.double()
    assert model[0].fc.weight is weight and weight.grad.dtype == "float64"


def test_apply_refuses_an_fn_that_returns_no_tensor():
    with pytest.raises(TypeError, match="fn must return a Tensor"):
        nn.Linear(2, 2)._apply(lambda t: t.numpy())


def test_a_module_that_contains_itself_is_converted_once():
    model = nn.Sequential(nn.Linear(2, 2))
    model.add_module("again", model)
    model.double()
    assert model[0].weight.dtype == "float64"
