"""Audit of optimizer state and parameter groups against torch.optim: state_dict layout,
load_state_dict (PyTorch's layout, casts, deep copy), exact resumes for every rule, the
add_param_group rules, and an lr given as a 0-d Tensor under the lr schedulers. Expected
values are written here in NumPy from PyTorch's documented rules (PyTorch is never imported).
"""

import copy
import math
import pickle

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import lr_scheduler as S


def tensor(array, **kwargs):
    return tg.tensor(np.array(array), **kwargs)


# --- an lr given as a 0-d Tensor, under a scheduler ---
#
# PyTorch (lr_scheduler._update_param_group_val): when group["lr"] is a Tensor the scheduler
# fills it in place (the Tensor the user holds, which a compiled step reads, shows each new
# rate); "initial_lr" is a clone of it, and get_last_lr() returns copies, never the Tensor.

def constant_then_exponential(t):
    return (0.5 if t < 2 else 1.0) * 0.9 ** t          # ConstantLR(0.5, 2) · ExponentialLR(0.9)


TENSOR_LR_SCHEDULES = [
    ("StepLR", lambda o: S.StepLR(o, step_size=2, gamma=0.5),
     lambda a0, t: a0 * 0.5 ** (t // 2)),
    ("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
     lambda a0, t: 0.01 + (a0 - 0.01) * (1 + math.cos(math.pi * t / 5)) / 2),
    ("CyclicLR", lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                      cycle_momentum=False),
     lambda a0, t: 0.01 + 0.09 * (1 - abs(t / 2 - 2 * math.floor(1 + t / 4) + 1))),
    ("SequentialLR", lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2),
                                                  S.ExponentialLR(o, gamma=0.9)],
                                              milestones=[3]),
     lambda a0, t: a0 * (0.5 if t < 2 else 1.0) if t < 3 else a0 * 0.9 ** (t - 3)),
    ("ChainedScheduler", lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5,
                                                                    total_iters=2),
                                                       S.ExponentialLR(o, gamma=0.9)]),
     lambda a0, t: a0 * constant_then_exponential(t)),
    ("ReduceLROnPlateau", lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=0),
     lambda a0, t: a0 * 0.5 ** max(0, t - 1)),      # the metric 1.0 never improves after t = 1
]


@pytest.mark.parametrize("name, make, expected_lr", TENSOR_LR_SCHEDULES,
                         ids=[case[0] for case in TENSOR_LR_SCHEDULES])
def test_a_scheduler_fills_a_tensor_lr_in_place(name, make, expected_lr, device):
    a0 = 0.08
    lr = tg.tensor(np.array(a0), device=device)
    p = tg.tensor(np.array([1.0, -2.0]), device=device, requires_grad=True)
    opt = optim.SGD([p], lr=lr)
    scheduler = make(opt)
    group = opt.param_groups[0]
    theta = np.array([1.0, -2.0])
    g = np.array([0.5, -1.5])
    for t in range(7):
        assert group["lr"] is lr, f"{name} replaced the Tensor lr at t = {t}"
        np.testing.assert_allclose(lr.item(), expected_lr(a0, t), rtol=1e-12)
        last = scheduler.get_last_lr()[0]
        np.testing.assert_allclose(float(last.item() if hasattr(last, "item") else last),
                                   expected_lr(a0, t), rtol=1e-12)
        assert last is not lr
        p.grad = tg.tensor(g, device=device)
        opt.step()
        theta = theta - expected_lr(a0, t) * g         # SGD: θ ← θ − α_t·g
        if name == "ReduceLROnPlateau":
            scheduler.step(1.0)
        else:
            scheduler.step()
    np.testing.assert_allclose(p.numpy(), theta, rtol=1e-12)
    if "initial_lr" in group and name != "CyclicLR":
        assert group["initial_lr"] is not lr           # a clone, as PyTorch
        np.testing.assert_allclose(float(group["initial_lr"].item()), a0, rtol=1e-15)


# --- load_state_dict: PyTorch's layout, where every state entry is a Tensor ---
#
# PyTorch saves 'step' as a float32 0-d Tensor and keeps ASGD's 'eta' and 'mu' and NAdam's
# 'mu_product' as 0-d Tensors too. On load, 'step' keeps its value; every other entry is
# cast to the parameter's dtype and moved to its device. The run then goes on from it.

def f32(value):
    return tg.tensor(np.array(value, dtype=np.float32))


def ref_asgd(theta, g, s, lr, lambd=1e-4, alpha=0.75, t0=1e6):
    t = s["step"] = s["step"] + 1
    theta = theta * (1 - lambd * s["eta"]) - s["eta"] * g
    s["ax"] = theta.copy() if s["mu"] == 1 else s["ax"] + s["mu"] * (theta - s["ax"])
    s["eta"] = lr / (1 + lambd * lr * t) ** alpha
    s["mu"] = 1 / max(1, t - t0)
    return theta


def ref_rprop(theta, g, s, etas=(0.5, 1.2), step_sizes=(1e-6, 50)):
    sign = np.sign(g * s["prev"])
    factor = np.where(sign > 0, etas[1], np.where(sign < 0, etas[0], 1.0))
    s["step_size"] = np.clip(s["step_size"] * factor, *step_sizes)
    g = np.where(sign < 0, 0.0, g)
    s["prev"] = g
    return theta - np.sign(g) * s["step_size"]


def ref_nadam(theta, g, s, lr, betas=(0.9, 0.999), eps=1e-8, psi=4e-3):
    beta1, beta2 = betas
    t = s["step"] = s["step"] + 1
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    s["mu_product"] *= mu
    s["exp_avg"] = beta1 * s["exp_avg"] + (1 - beta1) * g
    s["exp_avg_sq"] = beta2 * s["exp_avg_sq"] + (1 - beta2) * g * g
    denom = np.sqrt(s["exp_avg_sq"] / (1 - beta2 ** t)) + eps
    return theta - lr * ((1 - mu) / (1 - s["mu_product"]) * g / denom
                         + mu_next / (1 - s["mu_product"] * mu_next) * s["exp_avg"] / denom)


def ref_adagrad(theta, g, s, lr, lr_decay=0.0, eps=1e-10):
    t = s["step"] = s["step"] + 1
    s["sum"] = s["sum"] + g * g
    return theta - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)


PYTORCH_LAYOUT_CASES = [
    ("ASGD", dict(lr=0.05, t0=4.0), lambda th, g, s: ref_asgd(th, g, s, 0.05, t0=4.0),
     dict(step=3.0, eta=0.03, mu=1.0, ax=[0.5, 0.25, -1.0])),
    ("Rprop", dict(lr=0.01), ref_rprop,
     dict(step=3.0, prev=[0.5, -0.5, 0.0], step_size=[0.1, 0.02, 0.05])),
    ("NAdam", dict(lr=0.02), lambda th, g, s: ref_nadam(th, g, s, 0.02),
     dict(step=3.0, mu_product=0.6, exp_avg=[0.1, -0.2, 0.3], exp_avg_sq=[0.04, 0.01, 0.2])),
    ("Adagrad", dict(lr=0.1, lr_decay=0.2),
     lambda th, g, s: ref_adagrad(th, g, s, 0.1, lr_decay=0.2),
     dict(step=3.0, sum=[0.5, 1.5, 2.5])),
]


@pytest.mark.parametrize("name, options, reference, saved_state", PYTORCH_LAYOUT_CASES,
                         ids=[case[0] for case in PYTORCH_LAYOUT_CASES])
def test_a_state_dict_of_tensors_in_pytorchs_layout_resumes_each_rule(
        name, options, reference, saved_state, device, rng):
    start = np.array([1.0, -2.0, 0.5])
    p = tg.tensor(start.copy(), device=device, requires_grad=True)
    opt = getattr(optim, name)([p], **{**options, "lr": 0.7})  # the saved lr must win
    saved = opt.state_dict()
    saved["state"] = {0: {key: f32(value) for key, value in saved_state.items()}}
    saved["param_groups"][0]["lr"] = options["lr"]
    opt.load_state_dict(saved)
    state = opt.state[p]
    assert state["step"] == 3 and not hasattr(state["step"], "shape")
    for key in saved_state:
        if key != "step":
            dtype = getattr(state[key], "dtype", np.dtype(type(state[key])))
            assert dtype == np.float64, key                          # cast to p's dtype
    expected_state = {key: np.asarray(value, dtype=np.float32).astype(np.float64)
                      for key, value in saved_state.items()}
    expected_state["step"] = 3
    theta = start.copy()
    for _ in range(4):
        g = rng.standard_normal(3)
        p.grad = tg.tensor(g, device=device)
        opt.step()
        theta = reference(theta, g, expected_state)
        np.testing.assert_allclose(p.numpy(), theta, rtol=1e-12, atol=1e-15)
    assert opt.state[p]["step"] == 7


# --- an exact resume through pickle, and a loaded dict that is not shared afterwards ---

RULES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01)),
    ("Adadelta", dict(lr=1.0)),
    ("ASGD", dict(lr=0.05, t0=3)),
    ("Rprop", dict(lr=0.01)),
]


def sgd_momentum_trajectory(start, grads, lr=0.05, mu=0.9, wd=0.1):
    """NumPy: torch.optim.SGD(nesterov=True, weight_decay=wd)."""
    theta, b = start.copy(), None
    for g in grads:
        g = g + wd * theta
        b = g.copy() if b is None else mu * b + g
        theta = theta - lr * (g + mu * b)
    return theta


@pytest.mark.parametrize("name, options", RULES, ids=[case[0] for case in RULES])
def test_a_pickled_state_dict_resumes_bit_for_bit_and_is_not_shared(name, options):
    # PyTorch: a checkpoint (torch.save of state_dict()) loaded into a fresh optimizer
    # continues exactly; the loaded state is the optimizer's own, so a later change to
    # the dict that was loaded (reused for a second run, say) does not reach it.
    rng = np.random.default_rng(3)
    start = rng.standard_normal((2, 3))
    grads = [rng.standard_normal((2, 3)) for _ in range(8)]
    straight = tg.tensor(start.copy(), requires_grad=True)
    opt = getattr(optim, name)([straight], **options)
    for g in grads:
        straight.grad = tg.tensor(g)
        opt.step()

    resumed = tg.tensor(start.copy(), requires_grad=True)
    first = getattr(optim, name)([resumed], **options)
    for g in grads[:4]:
        resumed.grad = tg.tensor(g)
        first.step()
    checkpoint = pickle.loads(pickle.dumps(first.state_dict()))
    second = getattr(optim, name)([resumed], **{**options, "lr": 123.0})
    second.load_state_dict(checkpoint)
    for param_state in checkpoint["state"].values():   # scribble over the loaded dict
        for value in param_state.values():
            if isinstance(value, np.ndarray):
                value.fill(1e3)
    checkpoint["param_groups"][0]["lr"] = 123.0
    for g in grads[4:]:
        resumed.grad = tg.tensor(g)
        second.step()
    np.testing.assert_array_equal(resumed.numpy(), straight.numpy())
    if name == "SGD":
        np.testing.assert_allclose(resumed.numpy(), sgd_momentum_trajectory(start, grads),
                                   rtol=1e-13)


# --- construction and add_param_group: PyTorch's refusals ---

def test_add_param_group_refusals_and_a_dict_with_one_tensor():
    a, b = tensor([1.0], requires_grad=True), tensor([2.0], requires_grad=True)
    opt = optim.Adam([a], lr=0.1, betas=(0.5, 0.6))
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {b}})
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        opt.add_param_group({"params": [b, np.array([1.0])]})
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        opt.add_param_group({"params": [b, a]})
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        opt.add_param_group({"params": [b * 2]})
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.Adam(b, lr=0.1)
    assert len(opt.param_groups) == 1
    opt.add_param_group({"params": b, "lr": 0.2})          # one Tensor: made a list
    group = opt.param_groups[1]
    assert group["params"] == [b] and group["betas"] == (0.5, 0.6) and group["lr"] == 0.2
    b.grad = tensor([3.0])
    opt.step()                                  # Adam's first step: m̂/(√v̂ + ε) = g/(|g| + ε)
    np.testing.assert_allclose(b.numpy(), [2.0 - 0.2 * 3.0 / (3.0 + 1e-8)], rtol=1e-14)
    assert opt.state_dict()["param_groups"][1]["params"] == [1]


def test_load_state_dict_refuses_other_group_counts_and_sizes():
    a, b = tensor([1.0], requires_grad=True), tensor([2.0], requires_grad=True)
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict()
    one_group = optim.SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match="parameter groups"):
        one_group.load_state_dict(two_groups)
    sizes = optim.SGD([{"params": [a, b]}, {"params": []}], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        sizes.load_state_dict(two_groups)
    assert sizes.param_groups[0]["params"] == [a, b]        # left as it was
