"""A subclass's own ``_load_from_state_dict`` (PyTorch's per-module load step) is called by
``load_state_dict``, so the usual override, renaming the keys of an older layout before
``super()`` reads them, works as in PyTorch."""

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


class Renamed(nn.Module):
    """Saved as 'w' and 'b' by an older version; 'weight' and 'bias' now."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(tg.zeros(2, 3))
        self.bias = nn.Parameter(tg.zeros(2))
        self.calls = []

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        self.calls.append((prefix, dict(local_metadata), strict))
        for old, new in (("w", "weight"), ("b", "bias")):
            if prefix + old in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)


def test_an_override_renames_old_keys_before_they_are_read():
    model = nn.Sequential(nn.Linear(3, 3), Renamed())
    old = {"0.weight": tg.ones(3, 3), "0.bias": tg.ones(3),
           "1.w": tg.full((2, 3), 2.0), "1.b": tg.full((2,), 3.0)}
    result = model.load_state_dict(old)  # strict: no missing, no unexpected key
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(model[1].weight.numpy(), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(model[1].bias.numpy(), [3.0, 3.0])
    assert model[1].calls == [("1.", {}, True)]  # its prefix, no metadata, strict as PyTorch
    assert set(old) == {"0.weight", "0.bias", "1.w", "1.b"}  # the caller's dict is not edited


def test_it_gets_its_metadata_and_runs_once_per_name_parents_first():
    order = []

    class Noting(nn.Module):
        def __init__(self, child=None):
            super().__init__()
            self.child = child

        def _load_from_state_dict(self, state_dict, prefix, *rest):
            order.append(prefix)
            super()._load_from_state_dict(state_dict, prefix, *rest)
    inner = Noting()
    model = Noting(Noting(inner))
    model.other = inner  # the same module under a second name
    saved = model.state_dict()
    assert saved._metadata["child.child"] == {"version": 1}
    model.load_state_dict(saved)
    assert order == ["", "child.", "child.child.", "other."]


def test_what_an_override_reports_is_reported_and_an_error_loads_nothing():
    class Picky(Renamed):
        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                                  missing_keys, unexpected_keys, error_msgs):
            if prefix + "w" in state_dict:
                error_msgs.append("the old layout of 2019 is not supported")
            unexpected_keys.append(prefix + "legacy")
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys, error_msgs)
    model = Picky()
    with pytest.raises(RuntimeError, match="(?s)legacy.*the old layout of 2019"):
        model.load_state_dict({"w": tg.ones(2, 3), "b": tg.ones(2)})
    np.testing.assert_array_equal(model.weight.numpy(), np.zeros((2, 3)))  # nothing copied
    result = model.load_state_dict({"weight": tg.ones(2, 3), "bias": tg.ones(2)}, strict=False)
    assert result.unexpected_keys == ["legacy"]
    np.testing.assert_array_equal(model.weight.numpy(), np.ones((2, 3)))


def test_the_base_step_runs_the_pre_hooks_and_an_override_without_super_skips_them():
    seen = []

    class NoSuper(Renamed):
        def _load_from_state_dict(self, state_dict, *rest):
            seen.append("override")
    for cls, expected in ((Renamed, ["hook"]), (NoSuper, ["override"])):
        seen.clear()
        module = cls()
        module.register_load_state_dict_pre_hook(lambda *args: seen.append("hook"))
        module.load_state_dict(OrderedDict(weight=tg.ones(2, 3), bias=tg.ones(2)))
        assert seen == expected
        np.testing.assert_array_equal(module.bias.numpy(), [1.0, 1.0])  # loaded either way
