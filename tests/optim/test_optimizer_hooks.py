"""PyTorch's optimizer hooks (optim/hooks.py): step, state_dict and load_state_dict hooks,
the global step hooks, their order, removal, argument replacement, and the wrapping of
every class's own ``step`` (hooks run once per call, even through ``super().step()``).

Examples for the randomised order test: OPT_HOOKS_EXAMPLES (default 25).
"""

import copy
import inspect
import os
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.optim import hooks
from tinygrad_opt.optim.hooks import (register_optimizer_step_post_hook,
                                      register_optimizer_step_pre_hook)

EXAMPLES = int(os.environ.get("OPT_HOOKS_EXAMPLES", "25"))


@pytest.fixture(autouse=True)
def _no_global_hooks_left():
    """A test's global hooks (and the class-wide flag they set) end with the test."""
    pre, post = dict(hooks._global_optimizer_pre_hooks), dict(hooks._global_optimizer_post_hooks)
    flag = hooks.OptimizerHooks.__dict__["_has_hooks"]
    yield
    for registry, kept in ((hooks._global_optimizer_pre_hooks, pre),
                           (hooks._global_optimizer_post_hooks, post)):
        registry.clear()
        registry.update(kept)
    hooks.OptimizerHooks._has_hooks = flag


def make_sgd(lr=0.1, momentum=0.0):
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    p.grad = tg.tensor([0.5, -1.0])
    return tg.optim.SGD([p], lr=lr, momentum=momentum), p


def recorder(log, name, result=None):
    """A hook that appends ``name`` to ``log`` and returns ``result``."""
    def hook(*args):
        log.append(name)
        return result
    return hook


# --- step hooks ---

def test_step_hooks_run_before_and_after_the_update_with_pytorch_args():
    optimizer, p = make_sgd()
    seen = []

    def pre(opt, args, kwargs):
        seen.append(("pre", opt, args, dict(kwargs), p.data.copy()))

    def post(opt, args, kwargs):
        seen.append(("post", opt, args, dict(kwargs), p.data.copy()))

    optimizer.register_step_pre_hook(pre)
    optimizer.register_step_post_hook(post)
    closure = lambda: tg.tensor(3.0)  # noqa: E731
    loss = optimizer.step(closure)
    assert loss.item() == 3.0
    (_, opt1, args1, kwargs1, before), (_, opt2, args2, kwargs2, after) = seen
    assert opt1 is optimizer and opt2 is optimizer
    assert args1 == (optimizer, closure) == args2    # PyTorch's args: the optimizer first
    assert kwargs1 == {} == kwargs2
    np.testing.assert_allclose(before, [1.0, 2.0])
    np.testing.assert_allclose(after, [1.0 - 0.1 * 0.5, 2.0 + 0.1 * 1.0])

    seen.clear()
    optimizer.step(closure=closure)
    assert seen[0][2] == (optimizer,) and seen[0][3] == {"closure": closure}


def test_global_hooks_wrap_instance_hooks_in_pytorch_order():
    """pre: global hooks, then the optimizer's; post: the optimizer's, then global ones."""
    log = []
    optimizer, _ = make_sgd()
    register_optimizer_step_pre_hook(recorder(log, "global pre 1"))
    optimizer.register_step_pre_hook(recorder(log, "pre 1"))
    optimizer.register_step_post_hook(recorder(log, "post 1"))
    register_optimizer_step_post_hook(recorder(log, "global post 1"))
    optimizer.register_step_pre_hook(recorder(log, "pre 2"))
    register_optimizer_step_pre_hook(recorder(log, "global pre 2"))
    optimizer.register_step_post_hook(recorder(log, "post 2"))
    register_optimizer_step_post_hook(recorder(log, "global post 2"))
    optimizer.step(lambda: log.append("(step)"))  # the closure runs inside the step
    assert log == ["global pre 1", "global pre 2", "pre 1", "pre 2", "(step)",
                   "post 1", "post 2", "global post 1", "global post 2"]


def test_global_hooks_run_for_every_optimizer_and_class():
    calls = []
    register_optimizer_step_pre_hook(lambda opt, args, kwargs: calls.append(type(opt).__name__))
    first, _ = make_sgd()
    p = tg.tensor([1.0], requires_grad=True)
    p.grad = tg.tensor([1.0])
    second = tg.optim.Adam([p])

    class Later(tg.optim.SGD):  # a class made after the hook was registered
        pass

    third = Later([tg.tensor([1.0], requires_grad=True)], lr=0.1)
    for optimizer in (first, second, third):
        optimizer.step()
    assert calls == ["SGD", "Adam", "Later"]


def test_handles_remove_every_kind_of_hook():
    optimizer, _ = make_sgd()
    log = []
    handles = [
        register_optimizer_step_pre_hook(recorder(log, "global pre")),
        register_optimizer_step_post_hook(recorder(log, "global post")),
        optimizer.register_step_pre_hook(recorder(log, "pre")),
        optimizer.register_step_post_hook(recorder(log, "post")),
        optimizer.register_state_dict_pre_hook(recorder(log, "sd pre")),
        optimizer.register_state_dict_post_hook(recorder(log, "sd post")),
        optimizer.register_load_state_dict_pre_hook(recorder(log, "load pre")),
        optimizer.register_load_state_dict_post_hook(recorder(log, "load post")),
    ]

    def run():
        log.clear()
        optimizer.step()
        optimizer.load_state_dict(optimizer.state_dict())
        return list(log)

    everything = ["global pre", "pre", "post", "global post", "sd pre", "sd post",
                  "load pre", "load post"]
    names_in_handle_order = ["global pre", "global post", "pre", "post", "sd pre", "sd post",
                             "load pre", "load post"]
    assert run() == everything
    for number, handle in enumerate(handles):
        handle.remove()
        handle.remove()  # a second remove does nothing, as in PyTorch
        removed = set(names_in_handle_order[:number + 1])
        assert run() == [name for name in everything if name not in removed]
    assert run() == []


def test_handle_is_a_context_manager():
    optimizer, _ = make_sgd()
    log = []
    with optimizer.register_step_pre_hook(recorder(log, "pre")):
        optimizer.step()
    optimizer.step()
    assert log == ["pre"]


def test_pre_hook_replaces_the_arguments_for_the_step_and_later_hooks():
    optimizer, _ = make_sgd()
    replacement = lambda: tg.tensor(7.0)  # noqa: E731
    seen = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: ((opt,), {"closure": replacement}))
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: seen.append(("pre", args, kwargs)))
    optimizer.register_step_post_hook(lambda opt, args, kwargs: seen.append(("post", args, kwargs)))
    loss = optimizer.step(lambda: tg.tensor(1.0))
    assert loss.item() == 7.0
    assert seen == [("pre", (optimizer,), {"closure": replacement}),
                    ("post", (optimizer,), {"closure": replacement})]


@pytest.mark.parametrize("result", [5, "args", (1, 2, 3), ((),), [(), {}]],
                         ids=["int", "str", "3-tuple", "1-tuple", "list"])
def test_pre_hook_returning_anything_else_raises_and_skips_the_step(result):
    optimizer, p = make_sgd()
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: result)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args, new_kw"):
        optimizer.step()
    np.testing.assert_array_equal(p.data, [1.0, 2.0])


def test_a_hook_that_raises_leaves_the_next_step_hooked():
    optimizer, _ = make_sgd()
    calls = []

    def flaky(opt, args, kwargs):
        calls.append(len(calls))
        if len(calls) == 1:
            raise ValueError("first call fails")

    optimizer.register_step_pre_hook(flaky)
    with pytest.raises(ValueError, match="first call fails"):
        optimizer.step()
    optimizer.step()
    assert calls == [0, 1]


# --- the wrapping of subclasses' own step ---

class SuperCallingSGD(tg.optim.SGD):
    """A user optimizer whose step adds work around Optimizer's (PyTorch's usual pattern)."""

    def step(self, closure=None):
        """Count, then step as SGD."""
        self.calls = getattr(self, "calls", 0) + 1
        return super().step(closure)


class DeeperSGD(SuperCallingSGD):
    def step(self, closure=None):
        return super().step(closure)


@pytest.mark.parametrize("cls", [SuperCallingSGD, DeeperSGD])
def test_subclass_step_calling_super_runs_hooks_once(cls):
    p = tg.tensor([1.0], requires_grad=True)
    p.grad = tg.tensor([2.0])
    optimizer = cls([p], lr=0.5)
    log = []
    register_optimizer_step_pre_hook(recorder(log, "global pre"))
    register_optimizer_step_post_hook(recorder(log, "global post"))
    optimizer.register_step_pre_hook(recorder(log, "pre"))
    optimizer.register_step_post_hook(recorder(log, "post"))
    optimizer.step()
    optimizer.step()
    assert log == ["global pre", "pre", "post", "global post"] * 2
    assert optimizer.calls == 2
    np.testing.assert_allclose(p.data, [1.0 - 2 * 0.5 * 2.0])


def test_wrapping_keeps_names_docstrings_and_signatures():
    for cls in (tg.optim.Optimizer, tg.optim.LBFGS, tg.optim.Newton, tg.optim.CoordinateDescent,
                SuperCallingSGD):
        step = cls.__dict__["step"]
        assert step.runs_hooks and step.__name__ == "step"
        assert step.__doc__ == step.__wrapped__.__doc__ and step.__doc__
        assert inspect.signature(step) == inspect.signature(step.__wrapped__)
        assert not hasattr(step.__wrapped__, "__wrapped__")  # wrapped once only
    for name in ("state_dict", "load_state_dict"):
        method = tg.optim.Optimizer.__dict__[name]
        assert method.runs_hooks and "state" in method.__doc__
    assert "step" not in tg.optim.SGD.__dict__  # SGD inherits Optimizer's (wrapped) step
    assert list(inspect.signature(tg.optim.SGD.step).parameters) == ["self", "closure"]


def quadratic(device_dtype=tg.float64):
    x = tg.tensor([3.0, -2.0], dtype=device_dtype, requires_grad=True)
    target = tg.tensor([1.0, 1.0], dtype=device_dtype)
    return x, lambda: ((x - target) ** 2).sum()


@pytest.mark.parametrize("name", ["LBFGS", "Newton", "CoordinateDescent"])
def test_closure_optimizers_run_hooks_once_per_step(name):
    """Their own step is wrapped: one pre and one post call per step, however often
    the closure runs, and the closure in ``args`` is the one the step uses."""
    x, loss_of = quadratic()
    optimizer = getattr(tg.optim, name)([x])
    evaluations = []

    def closure():
        evaluations.append(1)
        if name == "LBFGS":
            optimizer.zero_grad()
            loss = loss_of()
            loss.backward()
            return loss
        return loss_of()

    log = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: log.append(("pre", args)))
    optimizer.register_step_post_hook(lambda opt, args, kwargs: log.append(("post", args)))
    register_optimizer_step_post_hook(recorder(log, "global post"))
    loss = optimizer.step(closure)
    assert log == [("pre", (optimizer, closure)), ("post", (optimizer, closure)), "global post"]
    assert evaluations
    assert loss.item() == pytest.approx(13.0)  # f at the start: 2² + 3²
    np.testing.assert_allclose(x.data, [1.0, 1.0], atol=1e-6)
    assert optimizer._opt_called


def test_lbfgs_pre_hook_may_swap_the_closure():
    x, loss_of = quadratic()
    optimizer = tg.optim.LBFGS([x], max_iter=50)

    def real_closure():
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    optimizer.register_step_pre_hook(lambda opt, args, kwargs: ((opt, real_closure), kwargs))
    optimizer.step(None)  # the hook supplies the closure LBFGS requires
    np.testing.assert_allclose(x.data, [1.0, 1.0], atol=1e-6)


# --- copies and pickles drop the hooks (Optimizer.__getstate__) ---

@pytest.mark.parametrize("copier", [copy.deepcopy, lambda opt: pickle.loads(pickle.dumps(opt))],
                         ids=["deepcopy", "pickle"])
def test_copies_drop_hooks_and_the_stepped_flag(copier):
    optimizer, _ = make_sgd(momentum=0.9)
    log = []
    optimizer.register_step_pre_hook(recorder(log, "pre"))
    optimizer.register_state_dict_post_hook(recorder(log, "sd post"))
    optimizer.step()
    assert optimizer._opt_called
    duplicate = copier(optimizer)
    assert not duplicate._opt_called and not duplicate._has_hooks
    log.clear()
    duplicate.step()
    duplicate.state_dict()
    assert log == []
    assert duplicate.register_step_post_hook(recorder(log, "copy post")) is not None
    duplicate.step()
    optimizer.step()
    assert log == ["copy post", "pre"]  # each keeps its own registries


def test_step_sets_pytorchs_opt_called_flag():
    optimizer, _ = make_sgd()
    assert optimizer._opt_called is False
    optimizer.step()
    assert optimizer._opt_called is True
    assert "_opt_called" not in make_sgd()[0].__dict__  # per optimizer, not per class


# --- state_dict and load_state_dict hooks ---

def test_state_dict_hooks_see_and_may_replace_the_dict():
    optimizer, _ = make_sgd(momentum=0.9)
    optimizer.step()
    log = []
    optimizer.register_state_dict_pre_hook(lambda opt: log.append(("pre", opt is optimizer)))

    def add_entry(opt, state_dict):
        log.append(("post 1", sorted(state_dict)))
        state_dict["note"] = "added in place"

    def replace(opt, state_dict):
        log.append(("post 2", state_dict["note"]))
        return {**state_dict, "replaced": True}

    optimizer.register_state_dict_post_hook(add_entry)
    optimizer.register_state_dict_post_hook(replace)
    saved = optimizer.state_dict()
    assert log == [("pre", True), ("post 1", ["param_groups", "state"]),
                   ("post 2", "added in place")]
    assert saved["note"] == "added in place" and saved["replaced"] is True
    assert saved["param_groups"][0]["momentum"] == 0.9
    assert "momentum_buffer" in saved["state"][0]


def test_load_state_dict_pre_hook_gets_a_shallow_copy_and_may_replace_it():
    optimizer, p = make_sgd(lr=0.1)
    saved = optimizer.state_dict()
    saved["param_groups"][0] = {**saved["param_groups"][0], "lr": 0.25}
    log = []

    def mark(opt, state_dict):
        state_dict["marked"] = True           # on the copy: the caller's dict keeps no mark
        log.append(("pre 1", state_dict is saved))

    def halve_lr(opt, state_dict):
        group = {**state_dict["param_groups"][0]}
        group["lr"] /= 2
        return {"state": state_dict["state"], "param_groups": [group]}

    optimizer.register_load_state_dict_pre_hook(mark)
    optimizer.register_load_state_dict_pre_hook(halve_lr)
    optimizer.register_load_state_dict_post_hook(
        lambda opt: log.append(("post", opt.param_groups[0]["lr"])))
    optimizer.load_state_dict(saved)
    assert log == [("pre 1", False), ("post", 0.125)]
    assert "marked" not in saved and saved["param_groups"][0]["lr"] == 0.25
    assert optimizer.param_groups[0]["params"] == [p]


@pytest.mark.parametrize("kind", ["state_dict_pre", "state_dict_post",
                                  "load_state_dict_pre", "load_state_dict_post"])
def test_prepend_puts_a_hook_first(kind):
    optimizer, _ = make_sgd()
    register = getattr(optimizer, f"register_{kind}_hook")
    log = []
    register(recorder(log, "a"))
    register(recorder(log, "b"), prepend=True)
    register(recorder(log, "c"))
    register(recorder(log, "d"), prepend=True)
    if kind.startswith("load"):
        optimizer.load_state_dict(optimizer.state_dict())
    else:
        optimizer.state_dict()
    assert log == ["d", "b", "a", "c"]


def test_state_dict_hooks_run_once_through_a_subclass_override():
    class Saving(tg.optim.SGD):
        def state_dict(self):
            saved = super().state_dict()
            saved["extra"] = 1
            return saved

        def load_state_dict(self, state_dict):
            state_dict = {key: value for key, value in state_dict.items() if key != "extra"}
            super().load_state_dict(state_dict)

    optimizer = Saving([tg.tensor([1.0], requires_grad=True)], lr=0.1)
    log = []
    optimizer.register_state_dict_pre_hook(recorder(log, "sd pre"))
    optimizer.register_state_dict_post_hook(lambda opt, sd: log.append(sorted(sd)))
    optimizer.register_load_state_dict_pre_hook(recorder(log, "load pre"))
    optimizer.register_load_state_dict_post_hook(recorder(log, "load post"))
    optimizer.load_state_dict(optimizer.state_dict())
    assert log == ["sd pre", ["extra", "param_groups", "state"], "load pre", "load post"]


# --- the order of any mix of registrations, prepends and removals ---

REGISTRIES = ["global pre", "global post", "pre", "post", "sd pre", "sd post", "load pre",
              "load post"]
PHASES = [("global pre", "pre", "post", "global post"), ("sd pre", "sd post"),
          ("load pre", "load post")]


def register(optimizer, registry, hook, prepend):
    if registry == "global pre":
        return register_optimizer_step_pre_hook(hook)
    if registry == "global post":
        return register_optimizer_step_post_hook(hook)
    if registry in ("pre", "post"):
        return getattr(optimizer, f"register_step_{registry}_hook")(hook)
    method = {"sd pre": "state_dict_pre", "sd post": "state_dict_post",
              "load pre": "load_state_dict_pre", "load post": "load_state_dict_post"}[registry]
    return getattr(optimizer, f"register_{method}_hook")(hook, prepend=prepend)


operation = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(REGISTRIES), st.booleans()),
    st.tuples(st.just("remove"), st.integers(0, 30), st.just(False)))


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(st.lists(operation, max_size=25))
def test_any_mix_of_registrations_runs_in_the_modelled_order(operations):
    """A plain-list model: each registry is a list, appended to (or prepended with
    ``prepend`` where it exists); a removed handle's hook leaves its list."""
    hooks._global_optimizer_pre_hooks.clear()
    hooks._global_optimizer_post_hooks.clear()
    optimizer, _ = make_sgd()
    model = {registry: [] for registry in REGISTRIES}
    handles = []
    log = []
    for number, (action, argument, prepend) in enumerate(operations):
        if action == "add":
            registry = argument
            handles.append((registry, number, register(optimizer, registry,
                                                       recorder(log, number), prepend)))
            if prepend and registry.startswith(("sd", "load")):
                model[registry].insert(0, number)
            else:
                model[registry].append(number)
        elif handles:
            registry, name, handle = handles[argument % len(handles)]
            handle.remove()
            if name in model[registry]:
                model[registry].remove(name)
    optimizer.step()
    optimizer.load_state_dict(optimizer.state_dict())
    assert log == [name for phase in PHASES for registry in phase for name in model[registry]]


# --- where PyTorch keeps the global registration functions ---

def test_global_registration_is_importable_from_optim_optimizer():
    from tinygrad_opt.optim import optimizer
    assert optimizer.register_optimizer_step_pre_hook is register_optimizer_step_pre_hook
    assert optimizer.register_optimizer_step_post_hook is register_optimizer_step_post_hook


def test_global_registration_lives_in_optim_hooks():
    assert tg.optim.hooks.register_optimizer_step_pre_hook is register_optimizer_step_pre_hook
    assert set(hooks.__all__) >= {"register_optimizer_step_pre_hook",
                                  "register_optimizer_step_post_hook"}


# --- PyTorch's warning of a scheduler step before the first optimizer step ---

def _sgd_and_schedule():
    p = tg.tensor([1.0], requires_grad=True)
    p.grad = tg.tensor([1.0])
    optimizer = tg.optim.SGD([p], lr=0.1)
    return optimizer, tg.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)


def test_a_scheduler_step_before_the_first_optimizer_step_warns_once():
    optimizer, schedule = _sgd_and_schedule()
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        schedule.step()  # the first value (lr 0.1) is skipped: the warning says so
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schedule.step()  # only the first scheduler step is checked, as in PyTorch


def test_the_right_order_does_not_warn():
    optimizer, schedule = _sgd_and_schedule()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            optimizer.step()
            schedule.step()
