"""Audit of known optimizer gaps against torch.optim (PyTorch 2.6+): parameters given as
``model.named_parameters()`` (``'param_names'``), a parameter repeated within a group (a
warning, and two updates a step), PyTorch's load_state_dict messages, LinearLR and
PolynomialLR with ``total_iters=0``, SWALR with a Tensor lr, and AveragedModel averaging
integer buffers. Expected values are written here in NumPy from PyTorch's documented rules
(PyTorch is never imported).
"""

import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn as nn
from tinygrad_opt import backend, optim
from tinygrad_opt.optim import lr_scheduler as S
from tinygrad_opt.optim.swa_utils import (SWALR, AveragedModel, get_ema_avg_fn,
                                          get_ema_multi_avg_fn, get_swa_avg_fn,
                                          get_swa_multi_avg_fn)


def host(tensor):
    return backend.to_host(tensor.data)


def leaf(values, device):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True, device=device)


def sgd_momentum_reference(x, grads, lr, momentum):
    """PyTorch's SGD with momentum, one update per gradient: b ← μ·b + g (b = g at first);
    θ ← θ − γ·b."""
    x, buf = x.copy(), None
    for g in grads:
        buf = g.copy() if buf is None else momentum * buf + g
        x = x - lr * buf
    return x


# --- named parameters ---

def test_named_parameters_give_param_names_and_resume_exactly(device, rng):
    model = nn.Linear(3, 2)
    model.to(device=device, dtype=tg.float64)
    start = {name: host(p).copy() for name, p in model.named_parameters()}
    grads = [{name: rng.normal(size=p.shape) for name, p in model.named_parameters()}
             for _ in range(4)]

    def step(opt, g):
        for name, p in model.named_parameters():
            p.grad = tg.tensor(g[name], device=device)
        opt.step()

    opt = optim.SGD(model.named_parameters(), lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert [p for p in opt.param_groups[0]["params"]] == [model.weight, model.bias]
    for g in grads[:2]:
        step(opt, g)
    saved = opt.state_dict()
    assert saved["param_groups"][0]["param_names"] == ["weight", "bias"]
    assert saved["param_groups"][0]["params"] == [0, 1]

    resumed = optim.SGD(model.named_parameters(), lr=0.1, momentum=0.9)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["param_names"] == ["weight", "bias"]
    for g in grads[2:]:
        step(resumed, g)
    for name, p in model.named_parameters():
        expected = sgd_momentum_reference(start[name], [g[name] for g in grads], 0.1, 0.9)
        np.testing.assert_allclose(host(p), expected, rtol=1e-13, atol=1e-14)


def test_named_groups_and_pytorch_errors_for_mixing_names(device):
    a, b, c = leaf([1.0, 2.0], device), leaf([3.0], device), leaf([4.0], device)
    opt = optim.SGD([{"params": [("a", a)]}, {"params": [("b", b)], "lr": 0.5}], lr=0.1)
    assert [g["param_names"] for g in opt.param_groups] == [["a"], ["b"]]
    groups = opt.state_dict()["param_groups"]
    assert [g["param_names"] for g in groups] == [["a"], ["b"]]
    assert [g["params"] for g in groups] == [[0], [1]]
    with pytest.raises(ValueError, match="all optimizer param groups should be with/without "
                                         "names. cannot add param group without names"):
        opt.add_param_group({"params": [c]})
    with pytest.raises(ValueError, match="cannot add param group with names"):
        optim.SGD([{"params": [a]}, {"params": [("b", b)]}], lr=0.1)
    with pytest.raises(ValueError, match="all optimizer params should be with/without names. "
                                         "Some param names are missing"):
        optim.SGD([("a", a), b], lr=0.1)
    assert len(opt.param_groups) == 2
    opt.add_param_group({"params": [("c", c)], "lr": 2.0})
    a.grad, b.grad, c.grad = (tg.tensor(np.ones(n), device=device) for n in (2, 1, 1))
    opt.step()
    np.testing.assert_allclose(host(a), [0.9, 1.9])
    np.testing.assert_allclose(host(b), [2.5])
    np.testing.assert_allclose(host(c), [2.0])


def test_load_state_dict_names_replace_or_stay(device):
    a, b = leaf([1.0], device), leaf([2.0], device)
    named = optim.SGD([("x", a), ("y", b)], lr=0.1)
    saved = optim.SGD([("p", a), ("q", b)], lr=0.3).state_dict()
    named.load_state_dict(saved)                     # saved names replace the group's
    assert named.param_groups[0]["param_names"] == ["p", "q"]
    assert named.param_groups[0]["lr"] == 0.3
    unnamed = optim.SGD([a, b], lr=0.2).state_dict()
    named.load_state_dict(unnamed)                   # none saved: the group keeps its own
    assert named.param_groups[0]["param_names"] == ["p", "q"]
    assert named.param_groups[0]["lr"] == 0.2
    plain = optim.SGD([a, b], lr=0.1)
    plain.load_state_dict(saved)                     # and an unnamed optimizer takes them
    assert plain.param_groups[0]["param_names"] == ["p", "q"]


# --- a parameter listed twice in a group; a parameter in two groups ---

@pytest.mark.parametrize("size", [3, 70_000])  # 70 000: the compiled CPU twin's size
def test_duplicate_parameter_warns_and_is_updated_twice(size, device, rng):
    x0 = rng.normal(size=size)
    grads = [rng.normal(size=size) for _ in range(3)]
    w = leaf(x0, device)
    with pytest.warns(UserWarning, match="optimizer contains a parameter group with "
                                         "duplicate parameters; in future, this will cause"):
        opt = optim.SGD([w, w], lr=0.1, momentum=0.9)
    for g in grads:
        w.grad = tg.tensor(g, device=device)
        opt.step()
    # PyTorch's loop visits w twice a step, each time with the same gradient and state
    expected = sgd_momentum_reference(x0, [g for g in grads for _ in range(2)], 0.1, 0.9)
    np.testing.assert_allclose(host(w), expected, rtol=1e-12, atol=1e-12)


def test_duplicate_parameter_adam_compiled_twin_matches_the_readable_rule(rng):
    # fused=None on a large cpu group picks the compiled twin (when Numba is installed)
    x0, g = rng.normal(size=70_000), rng.normal(size=70_000)
    results = []
    for choice in (False, None):
        w = leaf(x0, "cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            opt = optim.Adam([w, w], lr=0.1, fused=choice)
        for _ in range(2):
            w.grad = tg.tensor(g)
            opt.step()
        results.append(host(w).copy())
        assert opt.state[w]["step"] == 4
    # four Adam steps of the same g: m̂ = g, v̂ = g², each moves θ by lr·g/(|g| + ε)
    expected = x0 - 4 * 0.1 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(results[0], expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(results[1], expected, rtol=1e-10, atol=1e-10)


def test_duplicate_parameter_state_dict_numbers_by_place(device):
    a, b, c = leaf([1.0], device), leaf([2.0], device), leaf([3.0], device)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        opt = optim.SGD([{"params": [a, b, a]}, {"params": [c]}], lr=0.1, momentum=0.5)
    for p in (a, b, c):
        p.grad = tg.tensor(np.ones(1), device=device)
    opt.step()
    saved = opt.state_dict()
    # PyTorch numbers by place: the repeated a takes its last place, 2; c is 3, not 2
    assert [g["params"] for g in saved["param_groups"]] == [[2, 1, 2], [3]]
    assert sorted(saved["state"]) == [1, 2, 3]
    with pytest.warns(UserWarning, match="duplicate parameters"):
        fresh = optim.SGD([{"params": [a, b, a]}, {"params": [c]}], lr=0.1, momentum=0.5)
    fresh.load_state_dict(saved)
    # a was visited twice: b ← 1, then b ← 0.5·1 + 1
    np.testing.assert_allclose(backend.to_host(fresh.state[a]["momentum_buffer"]), [1.5])
    np.testing.assert_allclose(backend.to_host(fresh.state[c]["momentum_buffer"]), [1.0])


def test_parameter_in_two_groups_raises(device):
    a, b = leaf([1.0], device), leaf([2.0], device)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        optim.SGD([{"params": [a, b]}, {"params": [b]}], lr=0.1)
    opt = optim.SGD([("a", a)], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one"):
        opt.add_param_group({"params": [("again", a)]})
    assert len(opt.param_groups) == 1


# --- load_state_dict's two errors, in PyTorch's words ---

def test_load_state_dict_mismatch_messages(device):
    a, b = leaf([1.0], device), leaf([2.0], device)
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="loaded state dict has a different number of "
                                         "parameter groups"):
        optim.SGD([a, b], lr=0.1).load_state_dict(two_groups)
    sizes = optim.SGD([{"params": [a, b]}, {"params": []}], lr=0.1)
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that "
                                         "doesn't match the size of optimizer's group"):
        sizes.load_state_dict(two_groups)


# --- LinearLR and PolynomialLR with total_iters = 0 ---

def pytorch_chainable(kind, lr0, steps, total_iters, start=1 / 3, end=1.0, power=1.0):
    """PyTorch's get_lr, step by step (its chainable form), from the rate α0."""
    lr, lrs = lr0, []
    for t in range(steps):
        if kind == "linear":
            if t == 0:
                lr = lr * start
            elif t <= total_iters:
                lr = lr * (1 + (end - start) / (total_iters * start + (t - 1) * (end - start)))
        elif 0 < t <= total_iters:
            lr = lr * ((1 - t / total_iters) / (1 - (t - 1) / total_iters)) ** power
        lrs.append(lr)
    return lrs


@pytest.mark.parametrize("total_iters", [0, 1, 3])
@pytest.mark.parametrize("kind", ["linear", "polynomial"])
def test_linear_and_polynomial_lr_total_iters(kind, total_iters):
    w = tg.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=2.0)
    if kind == "linear":
        scheduler = S.LinearLR(opt, start_factor=0.25, end_factor=0.75, total_iters=total_iters)
        expected = pytorch_chainable(kind, 2.0, 6, total_iters, start=0.25, end=0.75)
    else:
        scheduler = S.PolynomialLR(opt, total_iters=total_iters, power=2.0)
        expected = pytorch_chainable(kind, 2.0, 6, total_iters, power=2.0)
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(5):
        opt.step()
        scheduler.step()
        seen.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(seen, expected, rtol=1e-12, atol=1e-15)


def test_linear_and_polynomial_lr_refuse_negative_total_iters():
    opt = optim.SGD([tg.tensor([1.0], requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match="LinearLR: total_iters must be a non-negative "
                                         "integer, got -1"):
        S.LinearLR(opt, total_iters=-1)
    with pytest.raises(ValueError, match="PolynomialLR: total_iters must be a non-negative"):
        S.PolynomialLR(opt, total_iters=-2)


# --- SWALR with an lr given as a one-element Tensor ---

@pytest.mark.parametrize("shape", [(), (1,)])
def test_swalr_fills_a_tensor_lr_in_place(shape, device):
    w = tg.tensor([1.0], requires_grad=True, device=device)
    lr = tg.tensor(np.full(shape, 1.0), device=device)
    opt = optim.SGD([w], lr=lr)
    scheduler = SWALR(opt, swa_lr=0.1, anneal_epochs=4, anneal_strategy="linear")
    seen = [float(host(lr).reshape(-1)[0])]
    for _ in range(5):
        opt.step()
        scheduler.step()
        assert opt.param_groups[0]["lr"] is lr
        seen.append(float(host(lr).reshape(-1)[0]))
    # lr 1 → 0.1 linearly over 4 steps, then held
    np.testing.assert_allclose(seen, [1.0, 0.775, 0.55, 0.325, 0.1, 0.1], rtol=1e-6)


# --- AveragedModel(use_buffers=True): integer buffers are averaged, as in PyTorch ---

INTEGER_RULES = {   # PyTorch's rule on an int64 tensor: computed in float32, truncated back
    "mean": (dict(), lambda avg, w, n: avg + (w - avg) / (n + 1)),
    "avg_fn": (dict(avg_fn=get_swa_avg_fn()), lambda avg, w, n: avg + (w - avg) / (n + 1)),
    "avg_fn_ema": (dict(avg_fn=get_ema_avg_fn(0.75)), lambda avg, w, n: 0.75 * avg + 0.25 * w),
    "multi_swa": (dict(multi_avg_fn=get_swa_multi_avg_fn()),
                  lambda avg, w, n: avg + (w - avg) / (n + 1)),
    "multi_ema": (dict(multi_avg_fn=get_ema_multi_avg_fn(0.5)),
                  lambda avg, w, n: avg * 0.5 + w * 0.5),
    "ema_mode": (dict(mode="ema", decay=0.5), lambda avg, w, n: 0.5 * avg + 0.5 * w),
}


@pytest.mark.parametrize("rule", list(INTEGER_RULES))
def test_averaged_model_averages_integer_buffers(rule, device):
    options, update = INTEGER_RULES[rule]
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    model.to(device=device, dtype=tg.float64)
    averaged = AveragedModel(model, use_buffers=True, **options)
    reference = None
    for n, count in enumerate([1, 4, 6, 13, 20]):
        model[1].num_batches_tracked.data[...] = count
        averaged.update_parameters(model)
        w = np.int64(count)
        reference = w if reference is None else np.int64(np.trunc(
            update(np.float32(reference), np.float32(w), n)))
        got = averaged.module[1].num_batches_tracked
        assert got.dtype == tg.int64
        assert int(host(got)) == int(reference), (n, int(host(got)), int(reference))
    # the counts 1, 4, 6, 13, 20 do not stay at the model's last count (the old copy)
    assert int(host(averaged.module[1].num_batches_tracked)) != 20


def test_multi_avg_fn_receives_the_integer_group(device):
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    model.to(device=device, dtype=tg.float64)
    seen = []

    def recording(averages, currents, n):
        seen.append([str(t.dtype) for t in averages])
        get_swa_multi_avg_fn()(averages, currents, n)

    averaged = AveragedModel(model, multi_avg_fn=recording, use_buffers=True)
    for count in (2, 5):
        model[1].num_batches_tracked.data[...] = count
        averaged.update_parameters(model)
    # grouped by (device, dtype) as PyTorch: the six float64 tensors, then the int64 one
    assert len(seen) == 2
    assert len(seen[0]) == 6 and set(seen[0]) == {str(tg.float64)}
    assert seen[1] == [str(tg.int64)]
    assert int(host(averaged.module[1].num_batches_tracked)) == math.trunc(2 + (5 - 2) / 2)
