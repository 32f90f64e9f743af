"""Edges of the public surface that no other test reached: the error paths, the reprs and
the rarer branches of nn.Module, pruning and parametrizations, the recurrent layers,
checkpoints, fit/evaluate, L-BFGS's line search, the data pipeline, the schedulers and
the losses. Each test checks what a PyTorch user expects there: the exception type and a
message naming what was wrong, or the right values and gradients.

Four of them found bugs, fixed with them: ``add_module`` given a class, ``len()`` of a Dataset
without ``__len__``, a pruning method without ``compute_mask``, and a missing
``num_batches_tracked`` under a child whose attribute a property shadows."""

import collections
import io
import json
import os
import stat
import struct
import warnings
import zipfile

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import cuda, nn, optim, serialization, train
from tinygrad_opt import data as tdata
from tinygrad_opt import distributed as dist
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import recurrent
from tinygrad_opt.nn.utils import clip_grads_with_norm_, parametrizations, parametrize, prune
from tinygrad_opt.optim import lr_scheduler
from tinygrad_opt.optim.lbfgs import _cubic_interpolate, _strong_wolfe
from tinygrad_opt.serialization import CheckpointError, load, save


# =============================================================== nn.Parameter / nn.Buffer

def test_parameter_without_data_is_an_empty_trainable_float_tensor():
    p = nn.Parameter()
    assert isinstance(p, nn.Parameter)
    assert p.shape == (0,) and p.dtype == np.float32 and p.requires_grad


def test_parameter_and_buffer_accept_arrays():
    p = nn.Parameter(np.arange(3, dtype=np.float32))
    assert isinstance(p, nn.Parameter) and p.requires_grad
    np.testing.assert_array_equal(p.numpy(), [0, 1, 2])
    module = nn.Module()
    module.stats = nn.Buffer(np.ones(2), persistent=False)
    assert isinstance(module.stats, nn.Buffer) and not module.stats.requires_grad
    assert module.stats.dtype == np.float64
    assert [name for name, _ in module.named_buffers()] == ["stats"]
    assert "stats" not in module.state_dict()                   # persistent=False


# =========================================================================== module hooks

def test_full_backward_hook_refuses_inputs_of_different_dtypes():
    class Add(nn.Module):
        def forward(self, a, b):
            return a + b

    module = Add()
    module.register_full_backward_hook(lambda m, grad_input, grad_output: None)
    a = tg.ones(2, requires_grad=True)
    b = tg.ones(2, dtype=tg.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"Add.*different dtypes.*float32.*float64"):
        module(a, b)


def test_always_call_forward_hooks_run_after_forward_raises_and_their_errors_become_warnings():
    class Broken(nn.Module):
        def forward(self, x):
            raise ZeroDivisionError("forward failed")

    module, seen = Broken(), []

    def replaces(m, args, output):
        seen.append(("replaces", output))
        return "replacement"

    def raises(m, args, output):
        seen.append(("raises", output))
        raise KeyError("hook broke")

    module.register_forward_hook(replaces, always_call=True)
    module.register_forward_hook(raises, always_call=True)
    module.register_forward_hook(lambda m, a, o: seen.append(("last", o)), always_call=True)
    with pytest.warns(UserWarning, match="always_call=True raised.*hook broke"):
        with pytest.raises(ZeroDivisionError, match="forward failed"):  # forward's error
            module(tg.ones(2))
    # each hook runs once; a returned value is the output the next ones see
    assert seen == [("replaces", None), ("raises", "replacement"), ("last", "replacement")]


def test_backward_pre_hook_with_prepend_runs_first():
    layer, order = nn.Linear(2, 2), []
    layer.register_full_backward_pre_hook(lambda m, grad_output: order.append("first"))
    layer.register_full_backward_pre_hook(lambda m, grad_output: order.append("prepended"),
                                          prepend=True)
    layer(tg.ones(1, 2)).sum().backward()
    assert order == ["prepended", "first"]


Pair = collections.namedtuple("Pair", "double triple")


class _Outputs(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def forward(self, x):
        if self.kind == "namedtuple":
            return Pair(x * 2, x * 3)
        if self.kind == "list":
            return [x * 2, x * 3]
        return {"double": x * 2}


@pytest.mark.parametrize("kind", ["namedtuple", "list"])
def test_backward_pre_hooks_keep_the_output_container_and_the_gradients(kind):
    module, calls = _Outputs(kind), []
    module.register_full_backward_pre_hook(lambda m, grad_output: calls.append(grad_output))
    x = tg.ones(2, requires_grad=True)
    out = module(x)
    assert type(out) is (Pair if kind == "namedtuple" else list)
    (out[0].sum() + out[1].sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])     # d(2x + 3x)/dx
    assert len(calls) == 1 and len(calls[0]) == 2              # once, both outputs (PyTorch)


def test_backward_pre_hooks_leave_an_output_without_tensors_alone():
    module, calls = _Outputs("dict"), []
    module.register_full_backward_pre_hook(lambda m, grad_output: calls.append(grad_output))
    x = tg.ones(2, requires_grad=True)
    out = module(x)
    assert type(out) is dict
    out["double"].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    assert calls == []                                          # a dict is not hooked


def test_backward_pre_hook_returning_the_wrong_number_of_gradients_raises():
    module = _Outputs("namedtuple")
    module.register_full_backward_pre_hook(lambda m, grad_output: None)      # keeps them
    module.register_full_backward_pre_hook(lambda m, grad_output: (grad_output[0],))
    out = module(tg.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="invalid number of grad_output, got 1.*expected 2"):
        out[0].sum().backward()


# ===================================================================== module registration

class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.head = nn.Linear(2, 1)
        self.register_buffer("steps", tg.zeros(()))


def test_setting_a_child_module_to_none_keeps_its_slot_and_skips_it():
    net = _Net()
    net.head = None
    assert list(net._modules) == ["fc", "head"] and net.head is None
    assert [name for name, _ in net.named_modules()] == ["", "fc"]
    assert list(net.state_dict()) == ["steps", "fc.weight", "fc.bias"]


def test_assigning_the_wrong_type_to_a_registered_name_raises_type_error():
    net = _Net()
    with pytest.raises(TypeError, match="cannot assign int as child module 'fc'"):
        net.fc = 3
    with pytest.raises(TypeError, match="cannot assign ndarray as buffer 'steps'"):
        net.steps = np.zeros(())
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'w'.*nn.Parameter"):
        net.register_parameter("w", tg.ones(2))
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        net.add_module("extra", 3)


def test_add_module_given_a_class_names_it():
    with pytest.raises(TypeError, match="ReLU"):
        _Net().add_module("act", nn.ReLU)


def test_an_entry_written_into_a_registry_directly_is_an_attribute():
    net = _Net()
    extra = nn.Parameter(tg.ones(1))
    net._parameters["extra"] = extra                     # what some PyTorch code does
    assert net.extra is extra
    assert "extra" in dict(net.named_parameters())


@pytest.mark.parametrize("register", [
    lambda self: self.register_buffer("b", tg.ones(1)),
    lambda self: self.register_parameter("w", None),
    lambda self: self.add_module("child", None),
], ids=["buffer", "parameter", "module"])
def test_registering_before_module_init_raises_attribute_error(register):
    class Early(nn.Module):
        def __init__(self):
            register(self)                              # no super().__init__() first

    with pytest.raises(AttributeError, match=r"cannot register \w+ '\w+' before "
                                             r"Module.__init__\(\) call"):
        Early()


def test_get_buffer_names_the_missing_attribute():
    net = _Net()
    with pytest.raises(AttributeError, match="Linear has no attribute `nothing`"):
        net.get_buffer("fc.nothing")
    with pytest.raises(AttributeError, match="`weight` is not a buffer"):
        net.get_buffer("fc.weight")
    assert net.get_buffer("steps") is net.steps


def test_cpu_moves_every_parameter_and_buffer_to_the_host(device):
    net = _Net().to(device)
    assert net.cpu() is net
    assert {t.device for t in list(net.parameters()) + list(net.buffers())} == {"cpu"}


def test_state_dict_refuses_more_than_three_positional_arguments():
    with pytest.raises(TypeError, match="at most 3 positional arguments.*got 4"):
        _Net().state_dict(None, "", False, True)


def test_sequential_iadd_refuses_what_is_not_a_sequential():
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(ValueError, match="only objects of Sequential class.*list"):
        seq += [nn.ReLU()]
    seq += nn.Sequential(nn.Tanh())
    assert [type(m) for m in seq] == [nn.ReLU, nn.Tanh]


# ================================================================ module state dict loading

def test_a_module_that_contains_itself_has_a_finite_state_dict_and_loads():
    net = nn.Sequential(nn.Linear(2, 2))
    net.add_module("me", net)
    state = net.state_dict()
    assert list(state) == ["0.weight", "0.bias"]
    assert net.load_state_dict(state).missing_keys == []
    result = net.load_state_dict({**state, "me.0.weight": tg.zeros(2, 2)}, strict=False)
    assert result.unexpected_keys == ["me.0.weight"]
    with pytest.raises(RuntimeError, match='Unexpected key.*"me.0.weight"'):
        net.load_state_dict({**state, "me.0.weight": tg.zeros(2, 2)})


def test_load_state_dict_assign_takes_parameters_arrays_and_numbers():
    bn = nn.BatchNorm1d(2)
    bn.weight.requires_grad_(False)
    weight = nn.Parameter(tg.full((2,), 3.0))
    result = bn.load_state_dict({"weight": weight, "bias": np.array([1.0, 2.0]),
                                 "running_mean": tg.zeros(2), "num_batches_tracked": 7},
                                strict=False, assign=True)
    assert result.missing_keys == ["running_var"]               # skipped, kept as it was
    assert bn.weight is weight and not bn.weight.requires_grad  # the replaced one's flag
    assert isinstance(bn.bias, nn.Parameter) and bn.bias.requires_grad
    assert bn.bias.dtype == np.float64                          # assign keeps the dtype
    np.testing.assert_array_equal(bn.bias.numpy(), [1.0, 2.0])
    assert bn.num_batches_tracked.item() == 7 and bn.num_batches_tracked.dtype == np.int64
    np.testing.assert_array_equal(bn.running_var.numpy(), [1.0, 1.0])


class _Shadowed(nn.Module):
    """A child registered in ``_modules`` whose attribute a property shadows."""

    def __init__(self):
        super().__init__()
        self._modules["block"] = nn.BatchNorm1d(2)

    @property
    def block(self):
        return "a description of the block"


def test_missing_num_batches_tracked_is_tolerated_under_a_shadowed_child():
    module = _Shadowed()
    state = {k: v for k, v in module.state_dict().items() if "num_batches" not in k}
    assert module.load_state_dict(state).missing_keys == []


# ========================================================================= clip / pruning

def test_clip_grads_with_norm_without_gradients_does_nothing():
    layer = nn.Linear(3, 2)
    assert clip_grads_with_norm_(layer.parameters(), 1.0, tg.tensor(5.0)) is None
    assert all(p.grad is None for p in layer.parameters())


def test_pruning_method_prune_masks_a_tensor_and_its_gradient():
    t = tg.tensor([[1.0, -3.0], [0.5, 2.0]], requires_grad=True)
    method = prune.L1Unstructured(amount=2)
    out = method.prune(t)                                  # the 2 smallest |t| go
    np.testing.assert_array_equal(out.numpy(), [[0, -3], [0, 2]])
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[0, 1], [0, 1]])
    masked = method.prune(t, default_mask=tg.tensor([[1.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_array_equal(masked.numpy(), [[0, -3], [0, 0]])
    scored = method.prune(t, importance_scores=tg.tensor([[9.0, 9.0], [0.1, 0.2]]))
    np.testing.assert_array_equal(scored.numpy(), [[1, -3], [0, 0]])


def test_a_pruning_method_without_compute_mask_names_it():
    class Forgetful(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

    with pytest.raises((TypeError, NotImplementedError), match="compute_mask"):
        Forgetful.apply(nn.Linear(2, 2), "weight")


def test_pruning_errors_name_the_problem():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        prune.L1Unstructured(amount=1).remove(layer)
    with pytest.raises(ValueError, match=r"importance_scores of shape \(3,\).*weight.*\(2, 3\)"):
        prune.l1_unstructured(layer, "weight", amount=1, importance_scores=tg.ones(3))
    assert not prune.is_pruned(layer)                     # nothing changed
    with pytest.raises(ValueError, match="n must be a number.*'nuc'"):
        prune.LnStructured(amount=1, n="nuc", dim=0)
    with pytest.raises(ValueError, match=r"mask of shape \(3,\).*shape \(2, 2\)"):
        prune.CustomFromMask(tg.ones(3)).compute_mask(tg.ones(2, 2), tg.ones(2, 2))


def _named(method, name):
    method._tensor_name = name
    return method


def test_pruning_container_is_a_sequence_of_methods_on_one_parameter():
    first = _named(prune.L1Unstructured(amount=1), "weight")
    container = prune.PruningContainer([first])            # an iterable of methods
    assert len(container) == 1 and list(container) == [first] and container[0] is first
    container.add_pruning_method(None)                     # ignored
    assert len(container) == 1
    with pytest.raises(TypeError, match="str.*is not a BasePruningMethod subclass"):
        container.add_pruning_method("l1")
    with pytest.raises(ValueError, match="parameter named 'weight'.*Found 'bias'"):
        container.add_pruning_method(_named(prune.L1Unstructured(amount=1), "bias"))


@pytest.mark.parametrize("pruning_type, error, message", [
    ("structured", AttributeError, "PRUNING_TYPE 'structured' need to have the attribute `dim`"),
    ("sideways", ValueError, "Unrecognized PRUNING_TYPE sideways"),
])
def test_pruning_container_checks_the_last_methods_type(pruning_type, error, message):
    class Custom(prune.BasePruningMethod):
        PRUNING_TYPE = pruning_type

        def compute_mask(self, t, default_mask):
            return default_mask

    container = prune.PruningContainer(_named(prune.L1Unstructured(amount=1), "weight"),
                                       _named(Custom(), "weight"))
    with pytest.raises(error, match=message):
        container.compute_mask(tg.ones(2, 2), tg.ones(2, 2))


def test_random_unstructured_of_nothing_keeps_the_mask():
    mask = tg.tensor([1.0, 0.0, 1.0])
    kept = prune.RandomUnstructured(amount=0).compute_mask(tg.ones(3), mask)
    np.testing.assert_array_equal(kept.numpy(), [1, 0, 1])
    assert kept is not mask                                # a copy


def test_ln_structured_fro_is_the_two_norm():
    weights = tg.tensor([[3.0, 4.0], [1.0, 1.0], [0.0, 6.0]])  # row norms 5, 1.41, 6
    fro, two = nn.Linear(2, 3), nn.Linear(2, 3)
    for layer in (fro, two):
        with tg.no_grad():
            layer.weight.copy_(weights)
    prune.ln_structured(fro, "weight", amount=1, n="fro", dim=0)
    prune.ln_structured(two, "weight", amount=1, n=2, dim=0)
    np.testing.assert_array_equal(fro.weight_mask.numpy(), [[1, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(fro.weight_mask.numpy(), two.weight_mask.numpy())


# ======================================================================== parametrizations

class _NoInverse(nn.Module):
    def forward(self, X):
        return X * 2

    def right_inverse(self, X):
        raise NotImplementedError


class _RightInverse(nn.Module):
    """Identity forward; ``right_inverse`` is whatever the test sets."""

    def __init__(self, inverse=lambda X: X):
        super().__init__()
        self.inverse = inverse

    def forward(self, X):
        return X

    def right_inverse(self, X):
        return self.inverse(X)


class _Split(nn.Module):
    def forward(self, a, b):
        return a + b

    def right_inverse(self, X):
        return X * 0.5, X * 0.5


def test_a_right_inverse_that_is_not_implemented_is_the_identity():
    layer = nn.Linear(2, 2)
    before = layer.weight.numpy().copy()
    parametrize.register_parametrization(layer, "weight", _NoInverse())
    np.testing.assert_allclose(layer.parametrizations.weight.original.numpy(), before)
    np.testing.assert_allclose(layer.weight.numpy(), 2 * before)
    parametrize.register_parametrization(layer, "weight", _NoInverse())      # a second one
    np.testing.assert_allclose(layer.weight.numpy(), 4 * before)
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    assert parametrize.type_before_parametrizations(nn.Linear(2, 2)) is nn.Linear


@pytest.mark.parametrize("inverse, message", [
    (lambda X: 3, "'right_inverse' must return a Tensor or a Sequence.*Got int"),
    (lambda X: X.double(), "(?s)may not change the dtype.*float32.*float64"),
    (lambda X: (X, 3), "Got element 1 of the sequence with type int"),
], ids=["int", "dtype", "element"])
def test_registering_checks_what_right_inverse_returns(inverse, message):
    layer = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=message):
        parametrize.register_parametrization(layer, "weight", _RightInverse(inverse))
    assert not parametrize.is_parametrized(layer)


class _ReturnsList(nn.Module):
    def forward(self, X):
        return [X]


class _Double(nn.Module):
    def forward(self, X):
        return X.double()


@pytest.mark.parametrize("first", [False, True], ids=["first", "second"])
def test_registering_checks_what_the_parametrization_returns(first):
    layer = nn.Linear(2, 2)
    if first:
        parametrize.register_parametrization(layer, "weight", _RightInverse())
    with pytest.raises(ValueError, match="must return a tensor.*Got list"):
        parametrize.register_parametrization(layer, "weight", _ReturnsList())
    with pytest.raises(ValueError, match="(?s)may not change the dtype.*float32.*float64"):
        parametrize.register_parametrization(layer, "weight", _Double())


def test_assigning_checks_what_right_inverse_returns():
    layer, parametrization = nn.Linear(2, 2), _RightInverse()
    parametrize.register_parametrization(layer, "weight", parametrization)
    parametrization.inverse = lambda X: "nope"
    with pytest.raises(ValueError, match="`right_inverse` should return a tensor. Got str"):
        layer.weight = tg.ones(2, 2)
    parametrization.inverse = lambda X: X.double()
    with pytest.raises(ValueError, match="dtype float64 while `original` has dtype float32"):
        layer.weight = tg.ones(2, 2)


def test_a_parametrization_of_several_originals_is_assigned_through_right_inverse():
    layer, split = nn.Linear(2, 2), _Split()
    parametrize.register_parametrization(layer, "weight", split)
    originals = layer.parametrizations.weight
    layer.weight = tg.full((2, 2), 4.0)
    np.testing.assert_array_equal(originals.original0.numpy(), np.full((2, 2), 2.0))
    np.testing.assert_array_equal(originals.original1.numpy(), np.full((2, 2), 2.0))
    np.testing.assert_array_equal(layer.weight.numpy(), np.full((2, 2), 4.0))
    for inverse, message in [(lambda X: X, "must return a sequence of 2 tensors"),
                             (lambda X: (X,), "must return a sequence of 2 tensors"),
                             (lambda X: (X, X.double()), "Tensor 1 .* dtype float32, got float64"),
                             (lambda X: (X, "x"), "Tensor 1 .* dtype float32, got str")]:
        split.right_inverse = inverse
        with pytest.raises(ValueError, match=message):
            layer.weight = tg.ones(2, 2)


def test_weight_norm_of_a_vector_with_dim_0_is_the_sign_times_g():
    layer = nn.Linear(3, 4)
    bias = layer.bias.numpy().copy()
    parametrizations.weight_norm(layer, name="bias", dim=0)
    g, v = layer.parametrizations.bias.original0, layer.parametrizations.bias.original1
    np.testing.assert_allclose(g.numpy(), np.abs(bias), rtol=1e-6)  # ‖v_i‖ of each entry
    np.testing.assert_allclose(layer.bias.numpy(), bias, rtol=1e-6)
    layer.bias.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), np.sign(bias))     # d(g·v/|v|)/dg
    np.testing.assert_allclose(v.grad.numpy(), 0.0, atol=1e-6)


def test_orthogonal_without_trivialization_is_orthogonal_but_not_assignable():
    layer = nn.Linear(3, 3)
    parametrizations.orthogonal(layer, orthogonal_map="cayley", use_trivialization=False)
    W = layer.weight.numpy()
    np.testing.assert_allclose(W.T @ W, np.eye(3), atol=1e-5)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        layer.weight = tg.eye(3)


def test_orthogonal_errors_name_the_problem():
    with pytest.raises(ValueError, match="orthogonal_map has to be one of.*Got: qr"):
        parametrizations.orthogonal(nn.Linear(3, 2), orthogonal_map="qr")
    with pytest.raises(ValueError, match="no parameter or buffer with name 'nothing'"):
        parametrizations.orthogonal(nn.Linear(3, 2), name="nothing")


# ========================================================================== recurrent layers

def test_rnn_cell_checks_the_state_shape_and_the_nonlinearity():
    cell = nn.RNNCell(3, 4)
    with pytest.raises(ValueError, match=r"RNNCell: .*needs a state of shape \(2, 4\), "
                                         r"got \(3, 4\)"):
        cell(tg.ones(2, 3), tg.zeros(3, 4))
    with pytest.raises(ValueError, match="unknown nonlinearity 'sigmoid'.*'tanh' or 'relu'"):
        nn.RNNCell(3, 4, nonlinearity="sigmoid")
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert repr(nn.RNNCell(3, 4)) == "RNNCell(3, 4)"


@pytest.mark.parametrize("make, message", [
    (lambda: nn.LSTM(3, 4, num_layers=0), "LSTM: num_layers must be a positive int, got 0"),
    (lambda: nn.GRU(3, 4, num_layers=1.5), "GRU: num_layers must be a positive int, got 1.5"),
    (lambda: nn.LSTM(3, 4, proj_size=-1), "LSTM: proj_size should be a positive integer or zero"),
], ids=["zero-layers", "float-layers", "negative-proj"])
def test_recurrent_layers_check_their_sizes(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_recurrent_layer_repr_shows_every_non_default_option():
    text = repr(nn.RNN(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5,
                       bidirectional=True, nonlinearity="relu"))
    assert text.startswith("RNN(3, 4, ")
    for part in ("num_layers=2", "bias=False", "batch_first=True", "dropout=0.5",
                 "bidirectional=True", "nonlinearity=relu"):
        assert part in text
    assert repr(nn.LSTM(3, 4)) == "LSTM(3, 4)"


def test_a_recurrent_base_without_a_step_is_abstract():
    class NoStep(recurrent._RNNBase):
        def __init__(self):
            super().__init__("RNN_TANH", 3, 4)

        def forward(self, x):
            return self._forward(x, [None])

    with pytest.raises(NotImplementedError):
        NoStep()(tg.ones(5, 2, 3))


def test_embedding_checks_padding_idx_and_weights():
    with pytest.raises(ValueError, match="padding_idx 5 must be within num_embeddings 5"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="padding_idx -6 must be within"):
        nn.Embedding(5, 2, padding_idx=-6)
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match=r"weight of shape \(4, 2\) does not match \(5, 2\)"):
        nn.Embedding(5, 2, _weight=tg.ones(4, 2))
    with pytest.raises(ValueError, match=r"from_pretrained: expected a 2-D tensor.*\(5,\)"):
        nn.Embedding.from_pretrained(tg.ones(5))


def test_sequence_helpers_refuse_malformed_input():
    with pytest.raises(TypeError, match="PackedSequence: batch_sizes is required"):
        nn.utils.rnn.PackedSequence(tg.ones(3))
    with pytest.raises(ValueError, match=r"expected a 1-D list of lengths, got shape \(1, 2\)"):
        nn.utils.rnn.pack_padded_sequence(tg.ones(3, 2, 1), [[3, 2]])
    with pytest.raises(RuntimeError, match="pad_sequence: received an empty list"):
        nn.utils.rnn.pad_sequence([])


# =============================================================================== checkpoints

def _npy(array, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


def _archive(path, members=(), tree=None, header=None, structure=None):
    """A zip written by hand: ``members`` [(file name, bytes)] and a structure entry."""
    if header is None:
        header = {"format": "tinygrad_opt.checkpoint", "version": 2, "tree": tree}
    if structure is None:
        structure = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # zipfile: "Duplicate name"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            for name, data in members:
                archive.writestr(name, data)
            archive.writestr("__structure__.npy", _npy(structure))
    return path


def test_npy_format_2_members_load(tmp_path):
    path = _archive(tmp_path / "v2.ckpt", [("a0.npy", _npy(np.arange(3.0), version=(2, 0)))],
                    {"array": "a0"})
    np.testing.assert_array_equal(load(path), [0.0, 1.0, 2.0])


def _format_3(array):
    data = bytearray(_npy(array, version=(2, 0)))
    data[6] = 3                                             # the major version byte
    return bytes(data)


@pytest.mark.parametrize("members, tree, message", [
    ([("a0.npy", _format_3(np.ones(2)))], {"array": "a0"}, "'a0.npy' has .npy format version"),
    ([("a0.txt", _npy(np.ones(2)))], {"array": "a0"}, "'a0.txt' is not a top-level .npy"),
    ([("sub/a0.npy", _npy(np.ones(2)))], {"array": "a0"}, "'sub/a0.npy' is not a top-level"),
    ([("a0.npy", _npy(np.ones(2)))] * 2, {"array": "a0"}, "'a0.npy' appears twice"),
    ([("a0.npy", _npy(np.ones(2)))], {"scalar": "a0"}, "obj: a scalar entry must be 0-d"),
    ([], {"dict": [["a", 1, 2]]}, r"obj: malformed dict item \['a', 1, 2\]"),
    ([], {"dict": [[True, 1]]}, r"obj: malformed dict item \[True, 1\]"),
    ([], {"dict": [[1.5, 1]]}, r"obj: malformed dict item \[1.5, 1\]"),
], ids=["npy-3.0", "not-npy", "subfolder", "twice", "scalar", "dict-3", "bool-key",
        "float-key"])
def test_tampered_members_and_nodes_are_refused(tmp_path, members, tree, message):
    path = _archive(tmp_path / "bad.ckpt", members, tree)
    with pytest.raises(CheckpointError, match="bad.ckpt.*" + message):
        load(path)


@pytest.mark.parametrize("header, structure, message", [
    (None, np.ones(3), r"'__structure__' entry has dtype float64 and shape \(3,\)"),
    ({"format": "tinygrad_opt.checkpoint", "version": 0, "tree": None}, None,
     "invalid checkpoint version 0"),
    ({"format": "tinygrad_opt.checkpoint", "version": "2", "tree": None}, None,
     "invalid checkpoint version '2'"),
    ({"format": "tinygrad_opt.checkpoint", "version": True, "tree": None}, None,
     "invalid checkpoint version True"),
    ({"format": "tinygrad_opt.checkpoint", "version": 2}, None, "the structure has no 'tree'"),
], ids=["float-structure", "version-0", "version-str", "version-bool", "no-tree"])
def test_malformed_headers_are_refused(tmp_path, header, structure, message):
    path = _archive(tmp_path / "header.ckpt", header=header or {}, structure=structure)
    with pytest.raises(CheckpointError, match="header.ckpt.*" + message):
        load(path)


def test_a_structure_nested_too_deeply_is_a_checkpoint_error(tmp_path):
    depth = 100_000
    text = '{"format":"tinygrad_opt.checkpoint","version":2,"tree":' \
        + '{"list":[' * depth + "null" + "]}" * depth + "}"
    path = _archive(tmp_path / "deep.ckpt",
                    structure=np.frombuffer(text.encode(), dtype=np.uint8))
    with pytest.raises(CheckpointError, match="deep.ckpt.*nested too deeply"):
        load(path)


def test_a_member_whose_sizes_disagree_is_refused(tmp_path):
    path = _archive(tmp_path / "sizes.ckpt", [("a0.npy", _npy(np.ones(2)))], {"array": "a0"})
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")                       # a0's central directory entry
    size = struct.unpack_from("<I", data, entry + 24)[0]    # its uncompressed size
    struct.pack_into("<I", data, entry + 24, size + 8)
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sizes.ckpt.*'a0.npy' declares.*corrupt"):
        load(path)


def test_load_refuses_a_weights_only_that_is_not_a_bool(tmp_path):
    path = tmp_path / "ok.ckpt"
    save({"x": tg.ones(2)}, path)
    with pytest.raises(TypeError, match="weights_only must be a bool, got 'yes'"):
        load(path, weights_only="yes")
    assert load(path, weights_only=True)["x"].shape == (2,)


def test_a_failing_temporary_file_is_reported_under_the_checkpoint_name(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(serialization.os, "open", refuse)  # creating the temporary file
    with pytest.raises(PermissionError, match="cannot write the checkpoint '.*run.ckpt'.*"
                                              "Permission denied"):
        save({"x": tg.ones(2)}, tmp_path / "run.ckpt")
    assert not (tmp_path / "run.ckpt").exists()


def test_the_write_error_is_raised_even_if_the_temporary_file_cannot_be_removed(
        tmp_path, monkeypatch):
    def crash(source, target):
        raise OSError(28, "No space left on device")

    def stuck(path):
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(serialization.os, "replace", crash)
    monkeypatch.setattr(serialization.os, "unlink", stuck)
    with pytest.raises(OSError, match="No space left"):
        save({"x": tg.ones(2)}, tmp_path / "run.ckpt")


def test_a_directory_that_cannot_be_opened_or_synced_does_not_fail_the_save(
        tmp_path, monkeypatch):
    real_open, real_fsync = os.open, os.fsync

    def no_directories(path, flags, *args, **kwargs):
        if os.path.isdir(path):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    def no_directory_sync(descriptor):
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(22, "Invalid argument")
        return real_fsync(descriptor)

    monkeypatch.setattr(serialization.os, "open", no_directories)
    save({"x": tg.ones(2)}, tmp_path / "a.ckpt")
    monkeypatch.setattr(serialization.os, "open", real_open)
    monkeypatch.setattr(serialization.os, "fsync", no_directory_sync)
    save({"x": tg.full((2,), 3.0)}, tmp_path / "b.ckpt")
    monkeypatch.undo()
    np.testing.assert_array_equal(load(tmp_path / "a.ckpt")["x"].numpy(), [1, 1])
    np.testing.assert_array_equal(load(tmp_path / "b.ckpt")["x"].numpy(), [3, 3])


# ========================================================================== fit / evaluate

@pytest.mark.parametrize("name, expected", [
    ("precision", 2 / 3), ("recall", 2 / 3), ("precision_macro", (1 / 2 + 2 / 3) / 2),
    ("recall_weighted", (2 * 1 / 2 + 3 * 2 / 3) / 5), ("roc_auc", 3.5 / 6),
])
def test_metrics_by_name(name, expected):
    y_true = np.array([0, 1, 1, 0, 1])
    outputs = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0], [0.2, 0.9]])
    metric_name, function = train.get_metric(name)          # predictions [0, 1, 0, 1, 1]
    assert metric_name == name
    assert function(y_true, outputs) == pytest.approx(expected)


def test_roc_auc_by_name_reads_tensors_and_single_score_columns():
    y_true = np.array([0, 1, 1, 0, 1])
    scores = np.array([1.0, 3.0, 0.0, 1.0, 0.9])
    roc_auc = train.get_metric("roc_auc")[1]
    assert roc_auc(y_true, tg.tensor(scores[:, None])) == pytest.approx(2 / 6)
    assert roc_auc(y_true, scores) == pytest.approx(2 / 6)


def test_eval_mode_restores_an_object_without_modules_through_train():
    class Duck:
        def __init__(self):
            self.training, self.calls = True, []

        def train(self, mode=True):
            self.training = mode
            self.calls.append(mode)

        def eval(self):
            self.training = False
            self.calls.append("eval")

    duck = Duck()
    with train.eval_mode(duck) as inside:
        assert inside is duck and not duck.training
    assert duck.training and duck.calls == ["eval", True]


def test_empty_loaders_are_value_errors():
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="evaluate: the loader yielded no samples"):
        train.evaluate(model, [], loss_fn=nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="fit: the training loader yielded no samples"):
        train.fit(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), [],
                  progress=False)


def test_early_stopping_on_a_key_the_logs_lack_names_it():
    model = nn.Linear(3, 2)
    batches = [(tg.randn(4, 3), tg.tensor([0, 1, 0, 1]))]
    with pytest.raises(KeyError, match="monitors 'f1', but the logs have only epoch, "
                                       "train_loss, train_accuracy, lr"):
        train.fit(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                  batches, progress=False, early_stopping=train.EarlyStopping(monitor="f1"))


def test_history_items_and_early_stopping_repr():
    history = train.History()
    history.append({"epoch": 0, "train_loss": 0.5})
    assert list(history.items()) == [("epoch", [0]), ("train_loss", [0.5])]
    stopping = train.EarlyStopping(patience=2, min_delta=0.1, mode="max", monitor="val_accuracy")
    stopping.step(0.5)
    stopping.step(0.55)                                     # not better by min_delta
    assert repr(stopping) == ("EarlyStopping(monitor='val_accuracy', mode='max', patience=2, "
                              "min_delta=0.1, best=0.5, best_epoch=0, num_bad_epochs=1)")


class _OneRank:
    """An MPI communicator of a job of one that records the collectives."""

    def __init__(self):
        self.calls = []

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def bcast(self, value, root=0):
        self.calls.append(("bcast", type(value).__name__))
        return value

    def allgather(self, value):
        self.calls.append(("allgather", type(value).__name__))
        return [value]


def test_distributed_fit_on_one_rank_is_plain_fit(monkeypatch, rng):
    X = rng.normal(size=(12, 3)).astype(np.float32)
    dataset = tdata.TensorDataset(X, (X[:, 0] > 0).astype(np.int64))

    def run(distributed):
        tg.manual_seed(0)
        model = nn.Linear(3, 2)
        sampler = dist.DistributedSampler(dataset, num_replicas=1, rank=0, seed=3)
        history = train.fit(model, optim.SGD(model.parameters(), lr=0.5),
                            nn.CrossEntropyLoss(),
                            tdata.DataLoader(dataset, batch_size=4, sampler=sampler), epochs=2,
                            progress=False, distributed=distributed)
        return history, model

    communicator = _OneRank()
    monkeypatch.setattr(dist, "_communicator", communicator)
    history, model = run(True)
    monkeypatch.undo()
    plain_history, plain_model = run(False)
    assert history.as_dict() == plain_history.as_dict()
    np.testing.assert_allclose(model.weight.numpy(), plain_model.weight.numpy())
    # rank 0's weights, then per epoch: the gathered epoch, rank 0's logs, the stop decision
    assert communicator.calls == [("bcast", "dict")] + [
        ("allgather", "tuple"), ("bcast", "dict"), ("bcast", "bool")] * 2


# ==================================================================== L-BFGS and its search

def test_cubic_interpolate_edge_cases():
    # f = x^3 - 3x through x = 0 and 2: the cubic itself, minimum at 1, in either order
    assert _cubic_interpolate(0, 0, -3, 2, 2, 9) == pytest.approx(1.0)
    assert _cubic_interpolate(2, 2, 9, 0, 0, -3) == pytest.approx(1.0)
    # a flat cubic (no interior minimiser) and one with no real minimiser: the middle
    assert _cubic_interpolate(0, 0, 0, 1, 0, 0) == 0.5
    assert _cubic_interpolate(0, 0, 1, 1, 2 / 3, 1) == pytest.approx(0.5)
    assert _cubic_interpolate(0, 0, 1, 1, 2 / 3, 1, bounds=(0.2, 0.4)) == pytest.approx(0.3)


def _search(f, g, t0):
    """_strong_wolfe along d = +1 from x = 0; also returns f(0), f'(0)."""
    def obj_func(t):
        return float(f(t)), np.array([float(g(t))])

    f0, g0 = float(f(0.0)), float(g(0.0))
    return (*_strong_wolfe(obj_func, t0, np.array([1.0]), f0, np.array([g0]), g0), f0, g0)


def test_strong_wolfe_without_a_bracket_stops_after_max_ls_at_the_lowest_value():
    f_new, g_new, t, evaluations, f0, g0 = _search(lambda x: -x, lambda x: -1.0, 0.01)
    assert evaluations == 26                                # the first trial + max_ls = 25
    assert t > 1e10 and f_new == -t and g_new[0] == -1.0    # the furthest (lowest) point


@pytest.mark.parametrize("f, g, t0", [
    (lambda x: abs(x - 1), lambda x: np.sign(x - 1), 0.01),
    (lambda x: (x - 0.5) ** 2 + 0.1 * np.sin(8 * x),
     lambda x: 2 * (x - 0.5) + 0.8 * np.cos(8 * x), 5.0),
    (lambda x: (x - 0.5) ** 2 + 0.1 * np.sin(8 * x),
     lambda x: 2 * (x - 0.5) + 0.8 * np.cos(8 * x), 2.0),
    (lambda x: (x - 8) ** 2 + np.sin(15 * x), lambda x: 2 * (x - 8) + 15 * np.cos(15 * x), 2.0),
], ids=["kink", "overshoot", "slope-back", "wiggly"])
def test_strong_wolfe_zoom_returns_a_point_of_sufficient_decrease(f, g, t0):
    f_new, g_new, t, evaluations, f0, g0 = _search(f, g, t0)
    assert f_new == pytest.approx(f(t)) and g_new[0] == pytest.approx(g(t))
    assert f_new <= f0 + 1e-4 * t * g0                     # sufficient decrease
    assert 1 <= evaluations <= 26
    if t0 != 0.01:                                          # (the kink has no curvature point)
        assert abs(g_new[0]) <= 0.9 * abs(g0)               # strong curvature condition
    else:
        assert t == pytest.approx(1.0) and f_new == pytest.approx(0.0, abs=1e-8)


def test_lbfgs_needs_one_device_and_a_closure():
    a = tg.ones(2, requires_grad=True)
    b = tg.ones(2, device="strict", requires_grad=True)
    with pytest.raises(ValueError, match=r"all parameters must be on one device.*cpu.*strict"):
        optim.LBFGS([a, b])
    with pytest.raises(RuntimeError, match="LBFGS.step needs a closure"):
        optim.LBFGS([a]).step(None)


# ==================================================================================== data

class _Empty(tdata.Dataset):
    pass


def test_dataset_base_says_what_a_subclass_must_define():
    with pytest.raises(NotImplementedError, match="_Empty must define __getitem__"):
        _Empty()[0]


def test_len_of_a_dataset_without_len_is_a_type_error():
    with pytest.raises(TypeError, match="_Empty"):
        len(_Empty())


def test_iterable_dataset_and_sampler_bases_say_what_to_define():
    class Stream(tdata.IterableDataset):
        pass

    class Indices(tdata.Sampler):
        pass

    with pytest.raises(NotImplementedError, match="Stream must define __iter__"):
        iter(Stream())
    with pytest.raises(NotImplementedError, match="Indices must define __iter__"):
        iter(Indices(data_source=[1, 2]))


def test_tensor_dataset_refuses_a_0d_array():
    with pytest.raises(ValueError, match="array 1 is 0-d; each array needs a first dimension"):
        tdata.TensorDataset(np.ones(3), np.array(1.0))


def test_dataset_and_loader_reprs():
    dataset = tdata.TensorDataset(np.arange(6.0).reshape(3, 2), np.arange(3))
    assert repr(tdata.Subset(dataset, [0, 2])) == "Subset(TensorDataset((3, 2), (3,)), 2 samples)"
    assert repr(tdata.ConcatDataset([dataset, dataset])) == "ConcatDataset(2 data sets, 6 samples)"
    assert repr(tdata.DataLoader(dataset, batch_size=2)) == (
        "DataLoader(TensorDataset((3, 2), (3,)), batch_size=2, shuffle=False, "
        "drop_last=False, device='cpu')")
    assert repr(tdata.RandomShiftRotate(max_shift=2, max_degrees=10, image_shape=(8, 8))) == \
        "RandomShiftRotate(max_shift=2.0, max_degrees=10.0)"


def test_random_sampler_over_a_source_emptied_later_raises():
    source = [1, 2, 3]
    sampler = tdata.RandomSampler(source)
    source.clear()
    with pytest.raises(ValueError, match="RandomSampler: the data source is empty"):
        list(sampler)


def test_loader_options_that_conflict_or_lack_a_length():
    dataset = tdata.TensorDataset(np.arange(6.0).reshape(3, 2), np.arange(3))
    with pytest.raises(ValueError, match="give seed= or generator=, not both"):
        tdata.DataLoader(dataset, seed=1, generator=tg.Generator())

    class NoLength(tdata.Sampler):
        def __iter__(self):
            return iter([2, 0, 1])

    loader = tdata.DataLoader(dataset, batch_size=2, sampler=NoLength())
    with pytest.raises(TypeError, match="len\\(DataLoader\\): the sampler has no len\\(\\)"):
        len(loader)
    assert [batch[1].numpy().tolist() for batch in loader] == [[2, 0], [1]]


def test_default_convert_falls_back_to_plain_containers():
    class KeywordMapping(collections.abc.Mapping):
        def __init__(self, *, items):
            self._items = dict(items)

        def __getitem__(self, key):
            return self._items[key]

        def __iter__(self):
            return iter(self._items)

        def __len__(self):
            return len(self._items)

    class KeywordSequence(collections.abc.Sequence):
        def __init__(self, *, items):
            self._items = list(items)

        def __getitem__(self, index):
            return self._items[index]

        def __len__(self):
            return len(self._items)

    mapping = tdata.default_convert(KeywordMapping(items={"x": np.ones(2)}))
    assert type(mapping) is dict and isinstance(mapping["x"], tg.Tensor)
    sequence = tdata.default_convert(KeywordSequence(items=[np.ones(2), 3]))
    assert type(sequence) is list and isinstance(sequence[0], tg.Tensor) and sequence[1] == 3


def test_balanced_indices_of_no_labels_raises():
    with pytest.raises(ValueError, match="balanced_indices: labels is empty"):
        tdata.balanced_indices([])


# ============================================================================== schedulers

def _optimizer(lr=0.1):
    return optim.SGD([tg.ones(2, requires_grad=True)], lr=lr)


def test_scheduler_base_and_reprs():
    with pytest.raises(NotImplementedError, match="LRScheduler must implement get_lr"):
        lr_scheduler.LRScheduler(_optimizer())
    assert repr(lr_scheduler.StepLR(_optimizer(), 2)) == "StepLR(last_epoch=0, last_lr=[0.1])"
    optimizer = _optimizer(1.0)
    chained = lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(optimizer, 1, gamma=0.5),
                                             lr_scheduler.ExponentialLR(optimizer, 0.9)])
    optimizer.step()
    chained.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.45)
    assert repr(chained).startswith("ChainedScheduler([StepLR, ExponentialLR], last_lr=[0.45")


def test_scheduler_arguments_are_checked():
    optimizer = _optimizer()
    with pytest.raises(ValueError, match="SequentialLR expects at least one scheduler"):
        lr_scheduler.SequentialLR(optimizer, [], milestones=[])
    with pytest.raises(TypeError, match="SequentialLR at index 0 should have `optimizer`"):
        lr_scheduler.SequentialLR(optimizer, [object()], milestones=[])
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.ReduceLROnPlateau(list(optimizer.param_groups[0]["params"]))


def test_reduce_on_plateau_after_a_new_param_group():
    optimizer = _optimizer(1.0)
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, min_lr=0.05)
    plateau.step(1.0)
    optimizer.add_param_group({"params": [tg.ones(1, requires_grad=True)], "lr": 1.0})
    plateau.step(2.0)                                       # worse: both groups reduced
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([0.1, 0.1])
    assert plateau.min_lrs == [0.05, 0.05] and plateau.get_lr() == pytest.approx([0.1, 0.1])
    assert repr(plateau) == ("ReduceLROnPlateau(mode='min', factor=0.1, patience=0, best=1.0, "
                             f"num_bad_epochs=0, last_lr={plateau.get_last_lr()})")
    per_group = _optimizer(1.0)
    plateau = lr_scheduler.ReduceLROnPlateau(per_group, patience=0, min_lr=[0.05])
    plateau.step(1.0)
    per_group.add_param_group({"params": [tg.ones(1, requires_grad=True)], "lr": 1.0})
    with pytest.raises(RuntimeError, match="now has 2 param groups but min_lr was given for 1"):
        plateau.step(2.0)


# ================================================================================== losses

@pytest.mark.parametrize("call, message", [
    (lambda: F.huber_loss(tg.ones(3), tg.zeros(3), delta=0), "huber_loss: delta must be positive"),
    (lambda: F.smooth_l1_loss(tg.ones(3), tg.zeros(3), beta=-1),
     "smooth_l1_loss: beta must be non-negative"),
    (lambda: F.sigmoid_focal_loss(tg.ones(3), tg.zeros(3), gamma=-1),
     "sigmoid_focal_loss: gamma must be non-negative"),
    (lambda: F.nll_loss(tg.tensor(1.0), tg.tensor(0)), "nll_loss: input must have a class dim"),
    (lambda: F.cross_entropy(tg.ones(3, 4), tg.tensor([0, 1, 2]), label_smoothing=1.5),
     r"label_smoothing must be in \[0, 1\], got 1.5"),
    (lambda: F.cross_entropy(tg.tensor(1.0), tg.tensor(0)),
     "cross_entropy: input must have a class dimension"),
    (lambda: F.multi_margin_loss(tg.ones(3, 4), tg.tensor([0, 1, 2]), p=3),
     "only p == 1 and p == 2 are supported, got 3"),
    (lambda: F.multi_margin_loss(tg.ones(2, 3, 4), tg.zeros(2, 4, dtype=tg.int64)),
     r"multi_margin_loss: input must be \(N, C\) or \(C,\), got shape \(2, 3, 4\)"),
    (lambda: F.focal_loss(tg.ones(3, 4), tg.tensor([0, 1, 2]), gamma=-0.5),
     "focal_loss: gamma must be non-negative"),
    (lambda: F.focal_loss(tg.ones(4), tg.tensor(1)), r"focal_loss: input must be \(N, C\)"),
], ids=["huber-delta", "smooth-l1-beta", "sigmoid-focal-gamma", "nll-scalar", "ce-smoothing",
        "ce-scalar", "margin-p", "margin-3d", "focal-gamma", "focal-1d"])
def test_loss_arguments_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


class _Recording:
    """What ``cuda.capture`` is while it records: the host checks to run at each replay."""

    def __init__(self):
        self.checks = []


def test_captured_cross_entropy_checks_each_replays_targets(monkeypatch):
    """The class-index check of a captured step runs before each replay on its targets (a
    CUDA capture simulated on the host: the recording state, then replays that overwrite
    the captured target buffer in place)."""
    recording = _Recording()
    logits, targets = tg.randn(3, 4), tg.tensor([0, 2, 3])
    monkeypatch.setattr(cuda, "_active", recording)
    F.cross_entropy(logits, targets, ignore_index=1)
    monkeypatch.setattr(cuda, "_active", None)              # the capture has ended
    assert len(recording.checks) == 1
    recording.checks[0]()                                   # no target is ignored: passes
    targets.data[...] = np.array([0, 1, 3])                 # a replay whose batch has one
    with pytest.raises(cuda.CaptureError, match="cross_entropy: this batch has targets equal "
                                                "to ignore_index=1.*run such batches eagerly"):
        recording.checks[0]()
