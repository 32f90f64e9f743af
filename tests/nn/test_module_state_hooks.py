"""Module state beyond tensors: extra state, the state-dict and load post-hooks,
``to_empty`` and ``share_memory``, against PyTorch's documented ``torch.nn.Module``
behaviour (the expected orders and keys are written out from its algorithm)."""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn


class Scheduler(nn.Module):
    """A module with a weight and extra state: a dict of numbers and strings."""

    def __init__(self, log=None):
        super().__init__()
        self.weight = nn.Parameter(tg.ones(2))
        self.state = {"step": 0, "name": "warmup", "rate": 0.5}
        self.log = log

    def get_extra_state(self):
        if self.log is not None:
            self.log.append("get_extra_state")
        return dict(self.state)

    def set_extra_state(self, state) -> None:
        self.state = dict(state)


class SavesOnly(nn.Module):
    """Overrides get_extra_state only: its extra state is saved but unexpected on load."""

    def get_extra_state(self):
        return {"kind": "saves only"}


class Collector(nn.Module):
    """Logs when its own entries are collected (``state_dict`` calls get_extra_state
    then), so a log shows where the hooks run relative to the collection."""

    def __init__(self, log, children=()):
        super().__init__()
        self.log = log
        self.weight = nn.Parameter(tg.zeros(1))
        for name, child in children:
            self.add_module(name, child)

    def get_extra_state(self):
        self.log.append(("collect", self._prefix))
        return 0

    def set_extra_state(self, state) -> None:
        pass


def nested(log=None):
    """root.a.b is the Scheduler: keys 'a.b.weight' and 'a.b._extra_state'."""
    root, middle = nn.Module(), nn.Module()
    middle.b = Scheduler(log)
    root.a = middle
    return root


def collectors(log):
    """root -> (x -> y), z, each a Collector; _prefix is the name state_dict gives."""
    y = Collector(log)
    x = Collector(log, [("y", y)])
    z = Collector(log)
    root = Collector(log, [("x", x), ("z", z)])
    for module, prefix in ((root, ""), (x, "x."), (y, "x.y."), (z, "z.")):
        module._prefix = prefix
    return root


# --------------------------------------------------------------------- extra state

def test_extra_state_is_stored_under_the_module_prefix():
    model = nested()
    model.a.b.state["step"] = 7
    state = model.state_dict()
    assert list(state) == ["a.b.weight", "a.b._extra_state"]
    assert state["a.b._extra_state"] == {"step": 7, "name": "warmup", "rate": 0.5}
    assert "_extra_state" not in "".join(nn.Linear(2, 2).state_dict())  # not overridden


def test_extra_state_round_trips_through_load_state_dict():
    source, target = nested(), nested()
    source.a.b.state = {"step": 12, "name": "cosine", "rate": 0.25}
    with tg.no_grad():
        source.a.b.weight.data[...] = np.array([3.0, -1.0], dtype=np.float32)
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target.a.b.state == {"step": 12, "name": "cosine", "rate": 0.25}
    np.testing.assert_array_equal(target.a.b.weight.numpy(), [3.0, -1.0])


def test_missing_and_unexpected_extra_state_keys():
    model = nested()
    with pytest.raises(RuntimeError, match='Missing key.*"a.b._extra_state"'):
        model.load_state_dict({"a.b.weight": np.ones(2)})
    result = model.load_state_dict({"a.b.weight": np.ones(2)}, strict=False)
    assert result.missing_keys == ["a.b._extra_state"]
    assert model.a.b.state == {"step": 0, "name": "warmup", "rate": 0.5}   # untouched
    plain = nn.Sequential(nn.Linear(1, 1))
    state = dict(plain.state_dict(), **{"0._extra_state": {"step": 1}})
    with pytest.raises(RuntimeError, match='Unexpected key.*"0._extra_state"'):
        plain.load_state_dict(state)
    assert plain.load_state_dict(state, strict=False).unexpected_keys == ["0._extra_state"]


def test_missing_keys_come_in_state_dict_order():
    """PyTorch's load visits the modules parents first: own tensors, own extra state,
    then each child."""
    model = nested()
    model.register_parameter("gain", nn.Parameter(tg.ones(1)))
    assert list(model.state_dict()) == ["gain", "a.b.weight", "a.b._extra_state"]
    result = model.load_state_dict({}, strict=False)
    assert result.missing_keys == ["gain", "a.b.weight", "a.b._extra_state"]


def test_only_an_overridden_set_extra_state_takes_the_entry():
    """PyTorch checks get_extra_state when saving and set_extra_state when loading."""
    model = nn.Sequential(SavesOnly())
    state = model.state_dict()
    assert state == {"0._extra_state": {"kind": "saves only"}}
    assert model.load_state_dict(state, strict=False).unexpected_keys == ["0._extra_state"]


def test_the_base_methods_raise():
    module = nn.Module()
    with pytest.raises(RuntimeError, match="get_extra_state"):
        module.get_extra_state()
    with pytest.raises(RuntimeError, match="set_extra_state"):
        module.set_extra_state({})
    assert module.state_dict() == {}                      # never called by state_dict


def test_extra_state_survives_tg_save_and_tg_load(tmp_path):
    source, target = nested(), nested()
    source.a.b.state = {"step": 3, "name": "warmup", "rate": 0.125}
    with tg.no_grad():
        source.a.b.weight.data[...] = np.array([0.5, 2.0], dtype=np.float32)
    path = tmp_path / "model.ckpt"
    tg.save(source.state_dict(), path)
    loaded = tg.load(path)
    assert loaded["a.b._extra_state"] == {"step": 3, "name": "warmup", "rate": 0.125}
    target.load_state_dict(loaded)
    assert target.a.b.state == {"step": 3, "name": "warmup", "rate": 0.125}
    np.testing.assert_array_equal(target.a.b.weight.numpy(), [0.5, 2.0])


# ------------------------------------------------------------------ state-dict hooks

def test_state_dict_hooks_run_around_each_modules_collection():
    """PyTorch's state_dict: pre-hooks, own entries, each child's state_dict, post-hooks."""
    log = []
    model = collectors(log)
    for module in model.modules():
        module.register_state_dict_pre_hook(
            lambda module, prefix, keep_vars: log.append(("pre", prefix)))
        module.register_state_dict_post_hook(
            lambda module, state, prefix, metadata: log.append(("post", prefix)))
    model.state_dict()
    assert log == [("pre", ""), ("collect", ""),
                   ("pre", "x."), ("collect", "x."),
                   ("pre", "x.y."), ("collect", "x.y."), ("post", "x.y."),
                   ("post", "x."),
                   ("pre", "z."), ("collect", "z."), ("post", "z."),
                   ("post", "")]


def test_a_post_hook_sees_the_entries_collected_so_far():
    log = []
    model = collectors(log)
    seen = {}

    def snapshot(module, state, prefix, local_metadata):
        seen[prefix] = list(state)

    model.x.register_state_dict_post_hook(snapshot)
    model.state_dict()
    assert seen == {"x.": ["weight", "_extra_state", "x.weight", "x._extra_state",
                           "x.y.weight", "x.y._extra_state"]}


def test_keep_vars_and_the_prefix_reach_the_pre_hook():
    calls = []
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].register_state_dict_pre_hook(
        lambda module, prefix, keep_vars: calls.append((module, prefix, keep_vars)))
    detached = model.state_dict()
    kept = model.state_dict(keep_vars=True)
    assert calls == [(model[0], "0.", False), (model[0], "0.", True)]
    assert kept["0.weight"] is model[0].weight and detached["0.weight"] is not model[0].weight
    model.state_dict(prefix="net.")
    assert calls[-1] == (model[0], "net.0.", False)


def test_a_pre_hook_runs_before_the_entries_are_read():
    model = nn.Sequential(nn.Linear(1, 1))

    def add_buffer(module, prefix, keep_vars):
        if "scale" not in module._buffers:
            module.register_buffer("scale", tg.ones(1))

    model[0].register_state_dict_pre_hook(add_buffer)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "0.scale"]


def test_post_hook_edits_are_in_the_returned_dict():
    model = nn.Sequential(nn.Linear(2, 1))

    def rename(module, state, prefix, local_metadata):
        state[prefix + "w"] = state.pop(prefix + "weight")
        state[prefix + "note"] = "renamed"

    model[0].register_state_dict_post_hook(rename)
    state = model.state_dict()
    assert list(state) == ["0.bias", "0.w", "0.note"]
    assert state["0.note"] == "renamed"
    assert state["0.w"].data is model[0].weight.data


def test_a_post_hook_that_returns_a_value_is_an_error():
    model = nn.Linear(1, 1)
    model.register_state_dict_post_hook(lambda module, state, prefix, metadata: {})
    with pytest.raises(RuntimeError, match="state_dict post-hook must return None"):
        model.state_dict()


def test_local_metadata_is_the_recorded_version():
    model = nn.Sequential(nn.Linear(1, 1))
    seen = []
    model[0].register_state_dict_post_hook(
        lambda module, state, prefix, metadata: seen.append(metadata))
    state = model.state_dict()
    assert seen == [{"version": 1}]
    assert dict(state._metadata) == {"": {"version": 1}, "0": {"version": 1}}
    assert state._metadata["0"] is seen[0]                # the same dict, as PyTorch


def test_removed_hooks_are_not_called():
    calls = []
    model = nn.Linear(1, 1)
    pre = model.register_state_dict_pre_hook(lambda *args: calls.append("pre"))
    post = model.register_state_dict_post_hook(lambda *args: calls.append("post"))
    model.state_dict()
    assert calls == ["pre", "post"]
    pre.remove()
    model.state_dict()
    assert calls == ["pre", "post", "post"]
    post.remove()
    with model.register_state_dict_pre_hook(lambda *args: calls.append("with")):
        model.state_dict()
    model.state_dict()
    assert calls == ["pre", "post", "post", "with"]


def test_state_dict_hooks_keep_the_fast_call_path():
    model = nn.Linear(2, 1)
    model.register_state_dict_pre_hook(lambda *args: None)
    model.register_state_dict_post_hook(lambda *args: None)
    model.register_load_state_dict_post_hook(lambda *args: None)
    assert model._has_pre_hooks is False
    assert nn.Linear(2, 1)._state_dict_hooks == {}        # the class registry stays empty


# ------------------------------------------------------------------ load hooks

def test_load_post_hooks_run_children_first_after_the_values_are_loaded():
    model = nn.Sequential(nn.Sequential(nn.Linear(1, 1)), nn.Linear(1, 1))
    log = []
    for prefix, module in model.named_modules():
        module.register_load_state_dict_post_hook(
            lambda module, keys, prefix=prefix: log.append(
                (prefix, float(model[1].weight.numpy()[0, 0]))))
    state = {key: np.full(value.shape, 4.0) for key, value in model.state_dict().items()}
    model.load_state_dict(state)
    assert log == [("0.0", 4.0), ("0", 4.0), ("1", 4.0), ("", 4.0)]


def test_a_load_post_hook_clearing_missing_keys_lets_a_strict_load_pass():
    model = nn.Sequential(nn.Linear(2, 1))

    def forgive(module, incompatible_keys):
        incompatible_keys.missing_keys.clear()

    handle = model.register_load_state_dict_post_hook(forgive)
    result = model.load_state_dict({"0.weight": np.full((1, 2), 2.0)})
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(model[0].weight.numpy(), [[2.0, 2.0]])
    handle.remove()
    with pytest.raises(RuntimeError, match='Missing key.*"0.bias"'):
        model.load_state_dict({"0.weight": np.full((1, 2), 2.0)})


def test_a_load_post_hook_adding_an_unexpected_key_fails_a_strict_load():
    model = nn.Linear(2, 1)
    seen = []

    def complain(module, incompatible_keys):
        seen.append((list(incompatible_keys.missing_keys),
                     list(incompatible_keys.unexpected_keys)))
        incompatible_keys.unexpected_keys.append("stale")

    model.register_load_state_dict_post_hook(complain)
    state = {"weight": np.full((1, 2), 5.0), "bias": np.zeros(1)}
    with pytest.raises(RuntimeError, match='Unexpected key.*"stale"'):
        model.load_state_dict(state)
    assert seen == [([], [])]
    np.testing.assert_array_equal(model.weight.numpy(), [[5.0, 5.0]])   # loaded, as PyTorch
    result = model.load_state_dict(state, strict=False)
    assert result.unexpected_keys == ["stale"]


def test_a_load_post_hook_that_returns_a_value_is_an_error():
    model = nn.Linear(1, 1)
    model.register_load_state_dict_post_hook(lambda module, keys: keys)
    with pytest.raises(AssertionError, match="register_load_state_dict_post_hook"):
        model.load_state_dict(model.state_dict())


def test_with_post_hooks_a_wrong_shape_still_stops_the_load_first():
    model = nn.Linear(2, 1)
    calls = []
    model.register_load_state_dict_post_hook(lambda module, keys: calls.append(keys))
    before = model.weight.numpy().copy()
    with pytest.raises(RuntimeError, match="size mismatch for weight"):
        model.load_state_dict({"weight": np.ones((2, 2)), "bias": np.ones(1)})
    assert calls == []
    np.testing.assert_array_equal(model.weight.numpy(), before)


def test_load_pre_hooks_get_the_metadata_and_the_shared_key_lists():
    model = nn.Sequential(nn.Linear(1, 1))
    seen = []

    def check(module, state_dict, prefix, local_metadata, strict, missing, unexpected,
              error_msgs):
        seen.append((prefix, local_metadata))
        missing.append(prefix + "from_hook")

    model[0].register_load_state_dict_pre_hook(check)
    result = model.load_state_dict(model.state_dict(), strict=False)
    assert seen == [("0.", {"version": 1})]
    assert result.missing_keys == ["0.from_hook"]
    with pytest.raises(RuntimeError, match='Missing key.*"0.from_hook"'):
        model.load_state_dict(model.state_dict())
    model.load_state_dict(dict(model.state_dict()), strict=False)     # no _metadata
    assert seen[-1] == ("0.", {})


def test_hooks_of_a_module_under_two_names_run_once_per_name():
    """PyTorch walks a shared module under each of its names, in state_dict and load."""
    shared = nn.Linear(1, 1)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    log = []
    shared.register_state_dict_pre_hook(lambda module, prefix, keep: log.append(prefix))
    shared.register_load_state_dict_pre_hook(lambda module, state, prefix, *rest:
                                             log.append("load " + prefix))
    shared.register_load_state_dict_post_hook(lambda module, keys: log.append("post"))
    model.load_state_dict(model.state_dict())
    assert log == ["0.", "2.", "load 0.", "load 2.", "post", "post"]


# ------------------------------------------------------------- to_empty, share_memory

class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)
        self.fc.bias.requires_grad_(False)


def test_to_empty_moves_and_zeroes_every_tensor(device):
    model = Frozen()
    model.bn(tg.randn(4, 2))                                # running stats move off zero
    model.fc.weight.grad = tg.ones(2, 3)
    before = {name: (type(t), t.shape, t.dtype, t.requires_grad)
              for name, t in model.state_dict(keep_vars=True).items()}
    objects = dict(model.state_dict(keep_vars=True))
    assert model.to_empty(device=device) is model
    after = model.state_dict(keep_vars=True)
    for name, tensor in after.items():
        assert tensor is objects[name]                      # the same objects
        assert (type(tensor), tensor.shape, tensor.dtype, tensor.requires_grad) == before[name]
        assert tensor.device == device
        np.testing.assert_array_equal(tensor.numpy(), np.zeros(tensor.shape))
    assert isinstance(model.fc.weight, nn.Parameter) and model.fc.bias.requires_grad is False
    assert model.bn.num_batches_tracked.dtype == np.int64
    assert model.fc.weight.grad.device == device
    np.testing.assert_array_equal(model.fc.weight.grad.numpy(), np.zeros((2, 3)))


def test_to_empty_without_recursion_moves_only_its_own_tensors(device):
    model = nn.Sequential(nn.Linear(1, 1))
    model.register_parameter("gain", nn.Parameter(tg.ones(3)))
    model.to_empty(device=device, recurse=False)
    assert model.gain.device == device
    np.testing.assert_array_equal(model.gain.numpy(), np.zeros(3))
    assert model[0].weight.device == "cpu"
    assert model[0].weight.numpy()[0, 0] != 0.0


def test_to_empty_then_load_fills_the_model(device):
    source = nn.Linear(2, 2)
    target = nn.Linear(2, 2).to_empty(device=device)
    target.load_state_dict(source.state_dict())
    np.testing.assert_array_equal(target.weight.numpy(), source.weight.numpy())
    assert target.weight.device == device


def test_share_memory_returns_self_and_keeps_the_parameters_and_their_values():
    model = nn.Linear(2, 2)
    params = list(model.parameters())
    values = [p.numpy().copy() for p in params]
    assert model.share_memory() is model
    assert all(p is q for p, q in zip(model.parameters(), params))  # the same objects
    for p, value in zip(params, values):
        assert p.is_shared()                                         # in shared memory now
        np.testing.assert_array_equal(p.numpy(), value)


class _Counted(nn.Linear):
    """A layer with extra state: a dict the training tools must copy and give back."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen = {"batches": 0, "tag": "start"}

    def get_extra_state(self):
        return self.seen

    def set_extra_state(self, state):
        self.seen = dict(state)


def test_snapshots_of_the_training_tools_keep_extra_state():
    """EarlyStopping(restore_best), lr_range_test and the ensemble snapshots copy a state
    dict to restore it later: the extra state is deep-copied with the weights."""
    from tinygrad_opt.nn.module import snapshot
    from tinygrad_opt.train import EarlyStopping
    model = _Counted(2, 1)
    saved = snapshot(model)
    model.seen["batches"] = 9
    model.weight.data[...] = 5.0
    assert saved["_extra_state"] == {"batches": 0, "tag": "start"}
    model.load_state_dict(saved)
    assert model.seen == {"batches": 0, "tag": "start"} and (model.weight.numpy() != 5).all()
    stopper = EarlyStopping(patience=1, restore_best=True)
    stopper.step(1.0, model)                       # the best epoch: weights and extra state kept
    best_weight = model.weight.numpy().copy()
    model.seen["batches"], model.weight.data[...] = 3, 2.0
    stopper.step(2.0, model)                       # worse: stop
    assert stopper.restore(model)
    assert model.seen == {"batches": 0, "tag": "start"}
    np.testing.assert_array_equal(model.weight.numpy(), best_weight)
    tensors = snapshot(model, lambda tensor: tg.Tensor(tensor.data.copy()))
    assert isinstance(tensors["weight"], tg.Tensor) and tensors["_extra_state"]["tag"] == "start"
