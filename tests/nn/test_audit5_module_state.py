"""nn.Module state, second audit: the exact error text of a strict load, the state-dict
hook that may return a new dict, the arguments of load pre-hooks, a caller's memo in
``named_modules``, ``__dir__``, the submodule accessors' names, ``zero_grad`` in place and
``copy.deepcopy`` of a model with hooks and shared weights, against PyTorch's documented
``torch.nn.Module`` behaviour (expected values written out from its algorithm, in NumPy)."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


def _array(shape, rng, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------- strict load messages

def test_a_missing_key_gives_pytorchs_exact_message():
    model = nn.Linear(3, 2)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict({"bias": np.zeros(2, np.float32)})
    assert str(error.value) == ('Error(s) in loading state_dict for Linear:\n\t'
                                'Missing key(s) in state_dict: "weight". ')


def test_a_size_mismatch_gives_pytorchs_message_with_our_shapes(rng):
    model = nn.Linear(3, 2)
    before = model.weight.numpy().copy()
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict({"weight": _array((3, 2), rng), "bias": _array((2,), rng)})
    assert str(error.value) == (
        "Error(s) in loading state_dict for Linear:\n\t"
        "size mismatch for weight: copying a param with shape (3, 2) from checkpoint, "
        "the shape in current model is (2, 3).")
    np.testing.assert_array_equal(model.weight.numpy(), before)


def test_key_messages_come_before_size_and_hook_messages(rng):
    """PyTorch appends the size and hook messages while loading, then inserts the
    missing and unexpected keys at the front: Missing, Unexpected, the rest."""
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].register_load_state_dict_pre_hook(
        lambda module, state, prefix, *rest: rest[-1].append("hook says no"))
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict({"0.weight": _array((3, 2), rng), "extra": np.zeros(1)})
    lines = str(error.value).split("\n\t")
    assert lines == ["Error(s) in loading state_dict for Sequential:",
                     'Missing key(s) in state_dict: "0.bias". ',
                     'Unexpected key(s) in state_dict: "extra". ',
                     "hook says no",
                     "size mismatch for 0.weight: copying a param with shape (3, 2) from "
                     "checkpoint, the shape in current model is (2, 2)."]


# -------------------------------------------------------------- load pre-hook arguments

def test_load_pre_hooks_get_strict_true_and_the_assign_flag(rng):
    """PyTorch's load calls each module's ``_load_from_state_dict`` with strict=True
    whatever the caller's strict, and with ``assign`` it adds
    ``'assign_to_params_buffers': True`` to the local metadata."""
    model = nn.Linear(2, 2)
    seen = []
    model.register_load_state_dict_pre_hook(
        lambda module, state, prefix, metadata, strict, *rest: seen.append((strict,
                                                                            dict(metadata))))
    state = model.state_dict()
    weight = _array((2, 2), rng)
    state["weight"] = tg.tensor(weight)
    model.load_state_dict(state, strict=False)
    model.load_state_dict(state, assign=True)
    assert seen == [(True, {"version": 1}),
                    (True, {"version": 1, "assign_to_params_buffers": True})]
    assert state._metadata[""] == {"version": 1}           # the caller's is not touched
    np.testing.assert_array_equal(model.weight.numpy(), weight)


# ------------------------------------------------------ the older state-dict post-hook

def test_the_private_state_dict_hook_may_return_a_new_dict(rng):
    """``_register_state_dict_hook``: a hook that returns a dict replaces the state dict
    (the public post-hook must return None)."""
    model = nn.Linear(2, 1)
    weight = model.weight.numpy().copy()

    def halve(module, state_dict, prefix, local_metadata):
        return OrderedDict((key + ".half", value * 0.5) for key, value in state_dict.items())

    handle = model._register_state_dict_hook(halve)
    state = model.state_dict()
    assert list(state) == ["weight.half", "bias.half"]
    np.testing.assert_allclose(state["weight.half"].numpy(), weight * 0.5)
    handle.remove()
    assert list(model.state_dict()) == ["weight", "bias"]


def test_a_childs_returned_dict_is_dropped_as_pytorchs():
    """PyTorch's parent ignores what a child's ``state_dict`` call returns, so a child's
    replacement dict is lost; only the root's counts."""
    model = nn.Sequential(nn.Linear(1, 1))
    model[0]._register_state_dict_hook(lambda module, state, prefix, meta: {"lost": 1})
    assert list(model.state_dict()) == ["0.weight", "0.bias"]


def test_a_private_hook_returning_none_keeps_its_edits():
    model = nn.Linear(1, 1)
    model._register_state_dict_hook(
        lambda module, state, prefix, meta: state.pop(prefix + "bias") and None)
    assert list(model.state_dict()) == ["weight"]


# -------------------------------------------------------------------- named_modules

def test_named_modules_skips_the_modules_of_a_callers_memo():
    """PyTorch's memo holds the modules themselves: a module given in it is skipped with
    its subtree, and the caller's memo is filled with modules."""
    inner = nn.Sequential(nn.Linear(1, 1))
    model = nn.Sequential(inner, nn.ReLU())
    assert [name for name, _ in model.named_modules(memo={inner})] == ["", "1"]
    memo = set()
    names = [name for name, _ in model.named_modules(memo=memo)]
    assert names == ["", "0", "0.0", "1"]
    assert memo == {model, inner, inner[0], model[1]}


# ------------------------------------------------------------------------- __dir__

def test_dir_lists_registry_names_but_no_name_starting_with_a_digit():
    model = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    model.register_buffer("scale", tg.ones(1))
    model.gain = nn.Parameter(tg.ones(1))
    names = dir(model)
    assert names == sorted(names)
    assert {"scale", "gain", "forward", "training", "state_dict"} <= set(names)
    assert [name for name in names if name[0].isdigit()] == []
    assert len(names) == len(set(names))


# ------------------------------------------------------------- submodule accessors

class Renamed(nn.Linear):
    def _get_name(self) -> str:
        return "Dense"


@pytest.mark.parametrize("call", [
    lambda m: m.get_submodule("0.missing"),
    lambda m: m.get_parameter("0.missing"),
    lambda m: m.get_buffer("0.missing"),
    lambda m: m.set_submodule("0.missing", nn.ReLU(), strict=True),
])
def test_accessor_errors_name_the_module_by_get_name(call):
    """PyTorch writes ``mod._get_name() + " has no attribute `x`"``."""
    model = nn.Sequential(Renamed(1, 1))
    with pytest.raises(AttributeError, match=r"^Dense has no attribute `missing`$"):
        call(model)


# ------------------------------------------------------------------------ zero_grad

def test_zero_grad_keeps_a_create_graph_gradient_object_and_zeroes_it(rng):
    """PyTorch's ``zero_grad(set_to_none=False)`` calls ``p.grad.detach_()`` then
    ``zero_()``: the same tensor object, now a leaf of zeros."""
    model = nn.Linear(3, 1).double()
    x = tg.tensor(_array((4, 3), rng, np.float64))
    (model(x) ** 2).sum().backward(create_graph=True)
    grad = model.weight.grad
    assert grad.grad_fn is not None
    model.zero_grad(set_to_none=False)
    assert model.weight.grad is grad
    assert grad.grad_fn is None and not grad.requires_grad
    np.testing.assert_array_equal(grad.numpy(), np.zeros((1, 3)))


# ------------------------------------------------------------------------- deepcopy

class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(3, 2, bias=False)
        self.decoder = nn.Linear(2, 3, bias=False)
        self.decoder.weight = nn.Parameter(self.encoder.weight.T.detach())
        self.head = nn.Linear(3, 2, bias=False)
        self.head.weight = self.encoder.weight          # shared by two layers

    def forward(self, x):
        return self.head(x) + self.encoder(x)


def test_deepcopy_keeps_sharing_and_hooks_and_copies_values(device, rng):
    model = Tied().to(device)
    calls = []
    model.register_forward_hook(lambda module, args, output: calls.append(module))
    model.register_load_state_dict_post_hook(lambda module, keys: calls.append("post"))
    grad = _array((2, 3), rng)
    model.encoder.weight.grad = tg.tensor(grad, device=device)
    clone = copy.deepcopy(model)
    assert clone.head.weight is clone.encoder.weight
    assert clone.encoder.weight.grad is not model.encoder.weight.grad
    np.testing.assert_array_equal(clone.encoder.weight.grad.numpy(), grad)
    assert clone.encoder.weight is not model.encoder.weight
    assert len(list(clone.parameters())) == 2
    x_np = _array((4, 3), rng)
    w = model.encoder.weight.numpy()
    out = clone(tg.tensor(x_np, device=device))
    np.testing.assert_allclose(out.numpy(), 2 * x_np @ w.T, rtol=1e-5, atol=1e-6)
    assert calls == [clone]                              # the copy's hook sees the copy
    with tg.no_grad():
        clone.encoder.weight.data[...] = 0
    np.testing.assert_array_equal(model.encoder.weight.numpy(), w)   # independent
    clone.load_state_dict(model.state_dict())
    assert calls[-1] == "post"
    np.testing.assert_array_equal(clone.head.weight.numpy(), w)
