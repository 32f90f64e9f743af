"""Audit of nn.Module's backward hooks against PyTorch's documented semantics:
``register_full_backward_hook``, ``register_full_backward_pre_hook``, the deprecated
``register_backward_hook`` and the global ``register_module_full_backward_(pre_)hook``.
Every expected gradient is derived by hand in NumPy."""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.nn import module as module_api


def close(tensor, expected):
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=1e-12, atol=1e-12)


def leaf(value, device="cpu"):
    return tg.tensor(np.asarray(value, dtype=np.float64), requires_grad=True, device=device)


class Two(nn.Module):
    """(a, b) = (x·w, x + x²): da/dx = w, db/dx = 1 + 2x."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(tg.tensor(np.asarray(w, dtype=np.float64)))

    def forward(self, x):
        return x * self.w, x + x * x


class Cube(nn.Module):
    def forward(self, x):
        return x * x * x


# ----------------------------------------------------------------- values on devices

def test_linear_hooks_see_the_chain_rule_and_replace_grad_input(device, rng):
    layer = nn.Linear(3, 2).double().to(device)
    x_value, r = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    W, b = layer.weight.numpy().copy(), layer.bias.numpy().copy()
    seen = []

    def pre(module, grad_output):
        seen.append(("pre", grad_output))
        return (grad_output[0] * 0.5,)

    def full(module, grad_input, grad_output):
        seen.append(("full", grad_input, grad_output))
        return (grad_input[0] * -3.0,)

    layer.register_full_backward_pre_hook(pre)
    layer.register_full_backward_hook(full)
    x = leaf(x_value, device)
    (layer(x) * tg.tensor(r, device=device)).sum().backward()
    assert [entry[0] for entry in seen] == ["pre", "full"]
    close(seen[0][1][0], r)
    close(seen[1][2][0], 0.5 * r)                       # after the pre-hook
    close(seen[1][1][0], 0.5 * r @ W)
    close(x.grad, -3.0 * 0.5 * r @ W)
    close(layer.weight.grad, 0.5 * r.T @ x_value)       # parameters: the pre-hook's only
    close(layer.bias.grad, 0.5 * r.sum(0))
    assert b.shape == (2,)


def test_pre_hook_runs_once_with_every_output_gradient(device):
    w, x_value = np.array([2.0, -1.0, 0.5]), np.array([1.0, 3.0, -2.0])
    module = Two(w).to(device)
    pre_calls, full_calls = [], []

    def pre(m, grad_output):
        pre_calls.append(grad_output)
        return (grad_output[0] * 10.0, grad_output[1])

    module.register_full_backward_pre_hook(pre)
    module.register_full_backward_hook(lambda m, gi, go: full_calls.append((gi, go)))
    x = leaf(x_value, device)
    a, b = module(x)
    (a.sum() + 2 * b.sum()).backward()
    assert len(pre_calls) == 1 and len(pre_calls[0]) == 2   # PyTorch: one call, both
    close(pre_calls[0][0], np.ones(3))
    close(pre_calls[0][1], 2 * np.ones(3))
    (grad_input,), grad_output = full_calls[0]
    close(grad_output[0], 10 * np.ones(3))
    close(grad_input, 10 * w + 2 * (1 + 2 * x_value))
    close(x.grad, 10 * w + 2 * (1 + 2 * x_value))
    close(module.w.grad, 10 * x_value)


def test_pre_hook_sees_none_for_an_output_not_reached(device):
    module = Two([1.0, 2.0]).to(device)
    calls = []
    module.register_full_backward_pre_hook(lambda m, grad_output: calls.append(grad_output))
    x = leaf([3.0, -1.0], device)
    _, b = module(x)
    (b * 3).sum().backward()
    assert len(calls) == 1 and calls[0][0] is None
    close(calls[0][1], [3.0, 3.0])
    close(x.grad, 3 * (1 + 2 * np.array([3.0, -1.0])))


def test_module_called_twice_fires_twice_and_an_output_used_twice_once(device):
    w = np.array([2.0, -0.5])
    module = Two(w).to(device)
    calls = []
    module.register_full_backward_hook(
        lambda m, gi, go: calls.append((gi[0].numpy().copy(), go[0].numpy().copy())))
    x = leaf([1.0, 4.0], device)
    a1, _ = module(x)
    a2, _ = module(a1)
    (a2 * 2 + a2 * 3).sum().backward()                  # a2 used twice: one call for it
    assert len(calls) == 2
    close(tg.tensor(calls[0][1]), 5 * np.ones(2))       # the second call's backward first
    close(tg.tensor(calls[0][0]), 5 * w)
    close(tg.tensor(calls[1][1]), 5 * w)
    close(tg.tensor(calls[1][0]), 5 * w * w)
    close(x.grad, 5 * w * w)


def test_identity_module_input_is_output(device):
    class Identity(nn.Module):
        def forward(self, x):
            return x

    module, calls = Identity(), []
    module.register_full_backward_hook(
        lambda m, gi, go: calls.append((gi, go)) or (gi[0] * 3,))
    x = leaf([1.0, -2.0], device)
    (module(x) * tg.tensor([2.0, 5.0], device=device)).sum().backward()
    assert len(calls) == 1
    close(calls[0][0][0], [2.0, 5.0])
    close(calls[0][1][0], [2.0, 5.0])
    close(x.grad, [6.0, 15.0])


def test_frozen_parameters_and_kwargs_inputs(device, rng):
    class Mix(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 2).double()

        def forward(self, x, scale, *, z):
            return self.linear(x) * scale + z

    module = Mix().to(device).requires_grad_(False)
    W = module.linear.weight.numpy().copy()
    calls = []
    module.register_full_backward_hook(lambda m, gi, go: calls.append(gi))
    x_value, r = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    x, z = leaf(x_value, device), leaf(np.zeros((3, 2)), device)
    (module(x, 2.0, z=z) * tg.tensor(r, device=device)).sum().backward()
    (grad_x, grad_scale), = calls                       # kwargs: no entry
    assert grad_scale is None
    close(grad_x, 2.0 * r @ W)
    close(x.grad, 2.0 * r @ W)
    close(z.grad, r)
    assert module.linear.weight.grad is None


# ------------------------------------------------------- no input that needs a gradient

def test_full_hook_without_input_gradients_runs_once_for_two_outputs():
    class Params(nn.Module):
        """(x·w, w²): the outputs need a gradient through w only."""

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(tg.tensor([2.0, 3.0], dtype=tg.float64))

        def forward(self, x):
            return x * self.w, self.w * self.w

    module, calls = Params(), []
    module.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go)))
    a, b = module(tg.tensor([1.0, -1.0], dtype=tg.float64))
    (a * 4 + b).sum().backward()
    assert len(calls) == 1 and calls[0][0] == (None,)        # PyTorch: once, both outputs
    close(calls[0][1][0], [4.0, 4.0])
    close(calls[0][1][1], [1.0, 1.0])
    close(module.w.grad, [4.0 + 4.0, -4.0 + 6.0])            # 4x + 2w
    calls.clear()
    a, _ = module(tg.tensor([1.0, -1.0], dtype=tg.float64))
    a.sum().backward()                                       # b not reached: None
    assert len(calls) == 1 and calls[0][1][1] is None
    close(calls[0][1][0], [1.0, 1.0])


def test_full_hook_without_input_gradients_must_return_none():
    module = Two([1.0, 1.0])
    module.register_full_backward_hook(lambda m, gi, go: (None,))   # all None: accepted
    module.register_full_backward_hook(lambda m, gi, go: (go[0],))
    a, _ = module(tg.tensor([1.0, 2.0], dtype=tg.float64))
    with pytest.raises(RuntimeError, match="no input requires gradient should always return"):
        a.sum().backward()


# ----------------------------------------------------------------------- in place

def test_inplace_write_into_the_input_inside_forward_raises():
    class Scale(nn.Module):
        def forward(self, x):
            x.mul_(3)
            return x * 2

    for module in (Scale(), nn.ReLU(inplace=True)):
        module.register_full_backward_hook(lambda m, gi, go: None)
        x = leaf([1.0, -2.0])
        with pytest.raises(RuntimeError, match="modified one of its inputs in place"):
            module(x * 1)
    # without a hook the write is fine: d(6x)/dx = 6
    x = leaf([1.0, -2.0])
    Scale()(x * 1).sum().backward()
    close(x.grad, [6.0, 6.0])


def test_inplace_write_into_an_output_raises_at_backward():
    layer = nn.Linear(2, 2).double()
    layer.register_full_backward_hook(lambda m, gi, go: None)
    x = leaf([[1.0, 2.0]])
    out = layer(x)
    out.mul_(3)
    with pytest.raises(RuntimeError, match="was modified in place"):
        out.sum().backward()
    out = layer(x).clone()                              # the fix the message gives
    out.mul_(3)
    out.sum().backward()
    close(x.grad, 3 * np.ones((1, 2)) @ layer.weight.numpy())


# ------------------------------------------------------------------- other outputs

def test_dict_output_warns_and_its_hooks_are_not_called():
    class Dict(nn.Module):
        def forward(self, x):
            return {"double": x * 2}

    module, calls = Dict(), []
    module.register_full_backward_hook(lambda m, gi, go: calls.append(gi) or (gi[0] * 0,))
    x = leaf([1.0, 2.0])
    with pytest.warns(UserWarning, match="module output should be a Tensor or a tuple"):
        out = module(x)
    out["double"].sum().backward()
    assert calls == []
    close(x.grad, [2.0, 2.0])                          # untouched by the hook


def test_double_backward_calls_the_hook_in_the_first_pass_only():
    module, calls = Cube(), []
    module.register_full_backward_hook(lambda m, gi, go: calls.append(1) or (gi[0] * 2,))
    x_value = np.array([1.0, -2.0, 0.5])
    x = leaf(x_value)
    (g,) = tg.autograd.grad(module(x).sum(), x, create_graph=True)
    close(g, 2 * 3 * x_value ** 2)
    assert len(calls) == 1
    g.sum().backward()                                  # d(6x²)/dx = 12x
    assert len(calls) == 1
    close(x.grad, 12 * x_value)


def test_retain_graph_backward_twice_calls_the_hook_each_time():
    module, calls = Cube(), []
    module.register_full_backward_hook(
        lambda m, gi, go: calls.append(go[0].numpy().copy()))
    x = leaf([2.0])
    y = module(x)
    y.sum().backward(retain_graph=True)
    (y * 5).sum().backward()
    assert len(calls) == 2
    np.testing.assert_allclose(calls, [[1.0], [5.0]])
    close(x.grad, 6 * 3 * np.array([4.0]))


# ------------------------------------------------------------------- ordering, errors

def test_full_hooks_prepend_and_chain_their_replacements():
    module, order = Cube(), []

    def hook(name, factor):
        def run(m, gi, go):
            order.append((name, float(gi[0].numpy()[0])))
            return (gi[0] * factor,)
        return run

    module.register_full_backward_hook(hook("first", 2.0))
    module.register_full_backward_hook(hook("prepended", 10.0), prepend=True)
    x = leaf([1.0])
    module(x).sum().backward()
    assert order == [("prepended", 3.0), ("first", 30.0)]
    close(x.grad, [60.0])


def test_wrong_number_of_grad_input_raises_pytorchs_error():
    module = Cube()
    module.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError,
                       match="Backward hook returned an invalid number of grad_input, got 2, "
                             "but expected 1"):
        module(leaf([1.0])).sum().backward()


def test_handle_remove_and_context_manager():
    module, calls = Cube(), []
    with module.register_full_backward_hook(lambda m, gi, go: calls.append("full")), \
            module.register_full_backward_pre_hook(lambda m, go: calls.append("pre")):
        module(leaf([1.0])).sum().backward()
    module(leaf([1.0])).sum().backward()
    assert calls == ["pre", "full"]


# ------------------------------------------------------------------------ global hooks

def test_global_backward_hooks_run_for_every_module_before_its_own():
    inner, outer = nn.Linear(2, 2).double(), nn.Linear(2, 1).double()
    model = nn.Sequential(inner, outer)
    order = []
    outer.register_full_backward_hook(lambda m, gi, go: order.append(("own", m)))
    x_value = np.array([[1.0, -1.0]])
    try:
        pre = module_api.register_module_full_backward_pre_hook(
            lambda m, go: order.append(("global pre", m)))
        full = module_api.register_module_full_backward_hook(
            lambda m, gi, go: order.append(("global", m)) or (
                (gi[0] * 2,) if m is inner else None))
        x = leaf(x_value)
        model(x).sum().backward()
    finally:
        pre.remove()
        full.remove()
    assert order == [("global pre", model), ("global pre", outer), ("global", outer),
                     ("own", outer), ("global pre", inner), ("global", inner),
                     ("global", model)]
    W1, W2 = inner.weight.numpy(), outer.weight.numpy()
    close(x.grad, 2 * np.ones((1, 1)) @ W2 @ W1)
    assert nn.Module._has_pre_hooks is False           # the fast path is back
    order.clear()
    model(leaf(x_value)).sum().backward()
    assert order == [("own", outer)]


def test_global_backward_hook_kinds_cannot_be_mixed():
    noop = lambda m, gi, go: None  # noqa: E731
    saved = module_api._global_is_full_backward_hook
    try:
        module_api._global_is_full_backward_hook = None
        with module_api.register_module_full_backward_hook(noop):
            pass
        with pytest.warns(FutureWarning), pytest.raises(RuntimeError, match="global Module"):
            module_api.register_module_backward_hook(noop)
        module_api._global_is_full_backward_hook = None
        calls = []
        with pytest.warns(FutureWarning, match="register_module_full_backward_hook"):
            handle = module_api.register_module_backward_hook(
                lambda m, gi, go: calls.append(gi))
        with handle:
            x = leaf([2.0])
            Cube()(x).sum().backward()
        close(calls[0][0], [12.0])
        with pytest.raises(RuntimeError, match="global Module"):
            module_api.register_module_full_backward_hook(noop)
    finally:
        module_api._global_is_full_backward_hook = saved
    assert not module_api._global_backward_hooks


def test_deprecated_register_backward_hook_has_the_full_semantics():
    module = Two([1.0, 2.0])
    with pytest.warns(FutureWarning):
        module.register_backward_hook(lambda m, gi, go: (gi[0] * 2,))
    x = leaf([1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = module(x)
        (a + b).sum().backward()
    close(x.grad, 2 * (np.array([1.0, 2.0]) + 3.0))
