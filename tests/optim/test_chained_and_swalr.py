"""ChainedScheduler, SWALR and the averaging functions of swa_utils.

The learning-rate sequences are compared with values written out by hand and with
PyTorch's recursive ("chainable") rules, transcribed here one scheduler at a time and
applied one after the other as PyTorch's ChainedScheduler does; SWALR with PyTorch's
incremental rule transcribed the same way. The averaging functions are checked against
averages computed in NumPy.
"""

import copy
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, nn, optim
from tinygrad_opt.optim import lr_scheduler as S
from tinygrad_opt.optim.lr_scheduler import ChainedScheduler
from tinygrad_opt.optim.swa_utils import (SWALR, AveragedModel, get_ema_avg_fn,
                                          get_ema_multi_avg_fn, get_swa_avg_fn,
                                          get_swa_multi_avg_fn)

LR0 = (1.0, 0.05)


def make_optimizer(lrs=LR0):
    groups = [{"params": [tg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=lrs[0])


def run(scheduler, optimizer, steps):
    """The learning rate of each group at t = 0 .. steps-1 (stepping after each)."""
    seen = []
    for _ in range(steps):
        seen.append([group["lr"] for group in optimizer.param_groups])
        assert scheduler.get_last_lr() == seen[-1]
        scheduler.step()
    return seen


def close(a, b, tol=1e-12):
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=tol, abs_tol=tol)
        for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))


# --- PyTorch's chainable rules: lr_t from lr_(t−1) at the scheduler's step t ---

def step_rule(step_size, gamma):
    return lambda lr, t: lr * gamma if t > 0 and t % step_size == 0 else lr


def exponential_rule(gamma):
    return lambda lr, t: lr * gamma if t > 0 else lr


def constant_rule(factor, total_iters):
    def rule(lr, t):
        if t == 0:
            return lr * factor
        return lr * (1 / factor) if t == total_iters else lr
    return rule


def linear_rule(start, end, total_iters):
    def rule(lr, t):
        if t == 0:
            return lr * start
        if t > total_iters:
            return lr
        return lr * (1 + (end - start) / (total_iters * start + (t - 1) * (end - start)))
    return rule


def cosine_rule(T_max):    # η_min = 0, t ≤ T_max
    def rule(lr, t):
        if t == 0:
            return lr
        return (1 + math.cos(math.pi * t / T_max)) / (1 + math.cos(math.pi * (t - 1) / T_max)) * lr
    return rule


def polynomial_rule(total_iters, power):
    def rule(lr, t):
        if t == 0 or t > total_iters:
            return lr
        return lr * ((1 - t / total_iters) / (1 - (t - 1) / total_iters)) ** power
    return rule


def multistep_rule(milestones, gamma):
    return lambda lr, t: lr * gamma ** milestones.count(t) if t > 0 else lr


def multiplicative_rule(factor_of):
    return lambda lr, t: lr * factor_of(t) if t > 0 else lr


def pytorch_chain(rules, lr0, steps):
    """PyTorch's sequence: at each t every scheduler applies its rule to the current lr."""
    lr, sequence = lr0, []
    for t in range(steps):
        for rule in rules:
            lr = rule(lr, t)
        sequence.append(lr)
    return sequence


# --- ChainedScheduler ---

def test_chained_step_and_exponential_hand_values_and_pytorch_rules():
    optimizer = make_optimizer()
    chain = ChainedScheduler([S.StepLR(optimizer, step_size=3, gamma=0.5),
                              S.ExponentialLR(optimizer, gamma=0.9)])
    seen = run(chain, optimizer, 30)
    # α0 · 0.5^⌊t/3⌋ · 0.9^t, by hand for the first group (α0 = 1)
    by_hand = [1.0, 0.9, 0.81, 0.3645, 0.32805, 0.295245, 0.13286025]
    assert close([row[:1] for row in seen[:7]], [[v] for v in by_hand])
    rules = [step_rule(3, 0.5), exponential_rule(0.9)]
    expected = [list(row) for row in zip(*(pytorch_chain(rules, lr0, 30) for lr0 in LR0))]
    assert close(seen, expected)
    assert chain.optimizer is optimizer


def test_chained_pytorch_docstring_example():
    # PyTorch's ChainedScheduler docstring: ConstantLR(factor=0.1, total_iters=20) then
    # ExponentialLR(gamma=0.9); its numbers (0.05, 0.0450, 0.0405, ..., 0.00675 at 19,
    # 0.06078 at 20, 0.05470 at 21) are those of lr = 0.5.
    optimizer = make_optimizer([0.5])
    chain = ChainedScheduler([S.ConstantLR(optimizer, factor=0.1, total_iters=20),
                              S.ExponentialLR(optimizer, gamma=0.9)], optimizer=optimizer)
    seen = [row[0] for row in run(chain, optimizer, 22)]
    documented = {0: 0.05, 1: 0.0450, 2: 0.0405, 19: 0.00675, 20: 0.06078, 21: 0.05470}
    for t, value in documented.items():
        assert 0 <= seen[t] - value < 1e-5, (t, seen[t], value)   # truncated there
    rules = [constant_rule(0.1, 20), exponential_rule(0.9)]
    assert close([[v] for v in seen], [[v] for v in pytorch_chain(rules, 0.5, 22)])


def test_chained_warmup_cosine_multistep_polynomial_multiplicative_as_pytorch():
    optimizer = make_optimizer()
    schedulers = [S.LinearLR(optimizer, start_factor=0.25, end_factor=1.0, total_iters=4),
                  S.CosineAnnealingLR(optimizer, T_max=16),
                  S.MultiStepLR(optimizer, milestones=[5, 9, 9], gamma=0.5),
                  S.PolynomialLR(optimizer, total_iters=20, power=2.0),
                  S.MultiplicativeLR(optimizer, lambda t: 0.99)]
    chain = ChainedScheduler(schedulers)
    seen = run(chain, optimizer, 17)
    rules = [linear_rule(0.25, 1.0, 4), cosine_rule(16), multistep_rule([5, 9, 9], 0.5),
             polynomial_rule(20, 2.0), multiplicative_rule(lambda t: 0.99)]
    expected = [list(row) for row in zip(*(pytorch_chain(rules, lr0, 17) for lr0 in LR0))]
    assert close(seen, expected)
    assert seen[0] == [0.25, 0.0125]          # the product of the initial steps, no step taken
    assert [s.last_epoch for s in schedulers] == [17] * 5


def test_chained_of_one_and_nested_chains():
    optimizer = make_optimizer()
    alone = run(ChainedScheduler([S.StepLR(optimizer, step_size=2, gamma=0.3)]), optimizer, 8)
    assert close(alone, [[lr0 * 0.3 ** (t // 2) for lr0 in LR0] for t in range(8)])

    optimizer = make_optimizer()
    inner = ChainedScheduler([S.ExponentialLR(optimizer, gamma=0.8),
                              S.LinearLR(optimizer, start_factor=0.5, total_iters=2)])
    outer = ChainedScheduler([inner, S.StepLR(optimizer, step_size=3, gamma=0.1)])
    seen = run(outer, optimizer, 8)
    expected = [[lr0 * 0.8 ** t * (0.5 + 0.5 * min(t, 2) / 2) * 0.1 ** (t // 3) for lr0 in LR0]
                for t in range(8)]
    assert close(seen, expected)


def test_chained_state_dict_round_trip():
    def make(optimizer):
        return ChainedScheduler([S.MultiStepLR(optimizer, milestones=[3, 7], gamma=0.5),
                                 S.ExponentialLR(optimizer, gamma=0.95)])
    optimizer = make_optimizer()
    chain = make(optimizer)
    run(chain, optimizer, 6)
    saved = copy.deepcopy(chain.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    assert set(saved) == {"_last_lr", "_schedulers"} and len(saved["_schedulers"]) == 2
    assert saved["_schedulers"][0]["last_epoch"] == 6 and "optimizer" not in saved
    continued = run(chain, optimizer, 10)

    fresh_optimizer = make_optimizer()
    fresh = make(fresh_optimizer)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved)
    assert set(saved) == {"_last_lr", "_schedulers"}        # the dict given is left as it was
    assert run(fresh, fresh_optimizer, 10) == continued
    assert close(continued, [[lr0 * 0.5 ** ((t >= 3) + (t >= 7)) * 0.95 ** t for lr0 in LR0]
                             for t in range(6, 16)])


def test_chained_errors():
    optimizer, other = make_optimizer(), make_optimizer()
    with pytest.raises(ValueError, match="at least one scheduler"):
        ChainedScheduler([])
    with pytest.raises(ValueError, match="belong to the same optimizer.*ExponentialLR at index 1"):
        ChainedScheduler([S.StepLR(optimizer, step_size=2), S.ExponentialLR(other, gamma=0.9)])
    with pytest.raises(ValueError, match="belong to the same optimizer.*StepLR at index 0"):
        ChainedScheduler([S.StepLR(optimizer, step_size=2)], optimizer=other)
    with pytest.raises(TypeError, match="index 0 should have `optimizer`"):
        ChainedScheduler([object()])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        ChainedScheduler([S.ReduceLROnPlateau(optimizer)])
    refused = [S.LambdaLR(optimizer, lambda t: 1.0),
               S.CosineAnnealingLR(optimizer, T_max=5, eta_min=0.01),
               S.CyclicLR(optimizer, 0.01, 0.1, cycle_momentum=False),
               SWALR(optimizer, swa_lr=0.1)]
    for scheduler in refused:
        name = type(scheduler).__name__
        with pytest.raises(ValueError, match=f"index 1, {name}, is not of the form"):
            ChainedScheduler([S.StepLR(optimizer, step_size=2), scheduler])


def test_chained_drives_the_optimizer_update(device):
    p = tg.tensor(np.array([1.0]), device=device, requires_grad=True)
    optimizer = optim.SGD([p], lr=1.0)
    chain = ChainedScheduler([S.StepLR(optimizer, step_size=2, gamma=0.5),
                              S.ExponentialLR(optimizer, gamma=0.9)])
    expected = 1.0
    for t in range(5):
        p.grad = tg.tensor(np.array([1.0]), device=device)
        optimizer.step()
        expected -= 0.5 ** (t // 2) * 0.9 ** t            # θ ← θ − α_t·g with g = 1
        chain.step()
    np.testing.assert_allclose(p.numpy(), [expected], rtol=1e-13)


# --- SWALR ---

def cos_anneal(x):
    return (1 - math.cos(math.pi * x)) / 2


def pytorch_swalr(lr, swa_lr, anneal_epochs, anneal, steps):
    """PyTorch's SWALR.get_lr transcribed: the rate after each of ``steps`` step() calls,
    starting from the construction (s = 0); ``lr`` is the group's rate before it."""
    sequence = []
    for s in range(steps):
        step = max(1, s) if anneal_epochs == 0 else s
        prev_alpha = anneal(max(0, min(1, (step - 1) / max(1, anneal_epochs))))
        start = swa_lr if prev_alpha == 1 else (lr - prev_alpha * swa_lr) / (1 - prev_alpha)
        alpha = anneal(max(0, min(1, step / max(1, anneal_epochs))))
        lr = swa_lr * alpha + start * (1 - alpha)
        sequence.append(lr)
    return sequence


def test_swalr_hand_values_both_strategies():
    optimizer = make_optimizer([1.0])
    linear = run(SWALR(optimizer, swa_lr=0.1, anneal_epochs=4, anneal_strategy="linear"),
                 optimizer, 7)
    assert close(linear, [[v] for v in [1.0, 0.775, 0.55, 0.325, 0.1, 0.1, 0.1]])

    optimizer = make_optimizer([1.0])
    cosine = run(SWALR(optimizer, swa_lr=0.1, anneal_epochs=4), optimizer, 7)   # 'cos'
    c = math.cos(math.pi / 4)                  # a(1/4) = (1 − c)/2, a(3/4) = (1 + c)/2
    by_hand = [1.0, 0.1 * (1 - c) / 2 + (1 + c) / 2, 0.55, 0.1 * (1 + c) / 2 + (1 - c) / 2,
               0.1, 0.1, 0.1]
    assert close(cosine, [[v] for v in by_hand])
    assert abs(cosine[1][0] - 0.8681980515) < 1e-9


@pytest.mark.parametrize("anneal_epochs", [0, 1, 3, 10])
@pytest.mark.parametrize("strategy, anneal", [("cos", cos_anneal), ("linear", lambda x: x)])
def test_swalr_matches_pytorch_rule_and_closed_form(anneal_epochs, strategy, anneal):
    optimizer = make_optimizer()
    swa_lrs = [0.2, 0.01]                      # one per group
    seen = run(SWALR(optimizer, swa_lr=swa_lrs, anneal_epochs=anneal_epochs,
                     anneal_strategy=strategy), optimizer, 14)
    assert [group["swa_lr"] for group in optimizer.param_groups] == swa_lrs
    expected = [list(row) for row in zip(*(pytorch_swalr(lr0, swa_lr, anneal_epochs, anneal, 14)
                                           for lr0, swa_lr in zip(LR0, swa_lrs)))]
    assert close(seen, expected)
    for s, row in enumerate(seen):             # the closed form α_s = a·swa_lr + (1 − a)·α0
        x = 1.0 if anneal_epochs == 0 else min(1.0, s / anneal_epochs)
        closed = [anneal(x) * swa_lr + (1 - anneal(x)) * lr0 for lr0, swa_lr in zip(LR0, swa_lrs)]
        assert close([row], [closed], 1e-12)
    assert seen[-1] == swa_lrs


def test_swalr_starts_from_the_rate_another_scheduler_left():
    # PyTorch's usage: SWALR made at the start, another schedule until swa_start, then SWALR
    optimizer = make_optimizer([1.0])
    decay = S.ExponentialLR(optimizer, gamma=0.5)
    swa_scheduler = SWALR(optimizer, swa_lr=0.05, anneal_epochs=2, anneal_strategy="linear")
    assert optimizer.param_groups[0]["lr"] == 1.0          # its initial step changes nothing
    for _ in range(3):
        decay.step()                                        # 0.5, 0.25, 0.125
    seen = []
    for _ in range(4):
        swa_scheduler.step()
        seen.append(optimizer.param_groups[0]["lr"])
    assert close([seen], [[0.5 * 0.05 + 0.5 * 0.125, 0.05, 0.05, 0.05]])
    assert close([seen], [pytorch_swalr(0.125, 0.05, 2, lambda x: x, 5)[1:]])


def test_swalr_state_dict_round_trip():
    def make(optimizer):
        return SWALR(optimizer, swa_lr=[0.3, 0.02], anneal_epochs=6)
    optimizer = make_optimizer()
    scheduler = make(optimizer)
    run(scheduler, optimizer, 3)
    saved = copy.deepcopy(scheduler.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    assert saved["_anneal_strategy"] == "cos" and saved["_step_count"] == 4
    assert "optimizer" not in saved
    continued = run(scheduler, optimizer, 6)

    fresh_optimizer = make_optimizer([7.0, 7.0])
    fresh = SWALR(fresh_optimizer, swa_lr=9.0, anneal_epochs=1, anneal_strategy="linear")
    fresh_optimizer.load_state_dict(saved_optimizer)          # lr and swa_lr of each group
    fresh.load_state_dict(saved)
    assert run(fresh, fresh_optimizer, 6) == continued
    assert continued[-1] == [0.3, 0.02]


def test_swalr_errors_leave_the_optimizer_unchanged():
    optimizer = make_optimizer()
    with pytest.raises(ValueError, match="swa_lr must have the same length as "
                                         "optimizer.param_groups. swa_lr has 3 values"):
        SWALR(optimizer, swa_lr=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', "
                                         "instead got 'exp'"):
        SWALR(optimizer, swa_lr=0.1, anneal_strategy="exp")
    for bad in (-1, 2.5):
        with pytest.raises(ValueError, match=f"anneal_epochs must be equal or greater than 0, "
                                             f"got {bad}"):
            SWALR(optimizer, swa_lr=0.1, anneal_epochs=bad)
    with pytest.raises(TypeError, match="not an Optimizer"):
        SWALR(object(), swa_lr=0.1)
    assert all("swa_lr" not in group for group in optimizer.param_groups)
    assert [group["lr"] for group in optimizer.param_groups] == list(LR0)


# --- the averaging functions and AveragedModel's avg_fn / multi_avg_fn ---

def host(tensor):
    return backend.to_host(tensor.data).copy()


def test_avg_fns_on_tensors(device):
    rng = np.random.default_rng(0)
    a, w = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    averaged, current = tg.tensor(a, device=device), tg.tensor(w, device=device)
    swa = get_swa_avg_fn()(averaged, current, 3)
    np.testing.assert_allclose(host(swa), a + (w - a) / 4, rtol=1e-14)
    ema = get_ema_avg_fn(0.7)(averaged, current, 3)
    np.testing.assert_allclose(host(ema), 0.7 * a + 0.3 * w, rtol=1e-14)
    np.testing.assert_array_equal(host(averaged), a)          # not written

    lists = [tg.tensor(a.copy(), device=device), tg.tensor(a[0].copy(), device=device)]
    get_swa_multi_avg_fn()(lists, [current, tg.tensor(w[0], device=device)], 3)
    np.testing.assert_allclose(host(lists[0]), a + (w - a) / 4, rtol=1e-14)
    np.testing.assert_allclose(host(lists[1]), a[0] + (w[0] - a[0]) / 4, rtol=1e-14)
    lists = [tg.tensor(a.copy(), device=device)]
    get_ema_multi_avg_fn(0.7)(lists, [current], 3)
    np.testing.assert_allclose(host(lists[0]), 0.7 * a + 0.3 * w, rtol=1e-14)

    for make in (get_ema_avg_fn, get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match="Invalid decay value 1.5 provided"):
            make(1.5)


def weight_sequence(model, count, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=p.shape) for p in model.parameters()] for _ in range(count)]


def set_weights(model, weights):
    for p, value in zip(model.parameters(), weights):
        p.data[...] = backend.to_device(value, p.device)


@pytest.mark.parametrize("options, rule", [
    ({"avg_fn": get_ema_avg_fn(0.8)}, "ema"),
    ({"multi_avg_fn": get_ema_multi_avg_fn(0.8)}, "ema"),
    ({"avg_fn": get_swa_avg_fn()}, "mean"),
    ({"multi_avg_fn": get_swa_multi_avg_fn()}, "mean"),
    ({"mode": "ema", "decay": 0.8}, "ema"),
], ids=["avg_fn-ema", "multi-ema", "avg_fn-swa", "multi-swa", "mode-ema"])
def test_averaged_model_with_the_functions(options, rule, device):
    model = nn.Linear(3, 2)
    model.to(device=device, dtype=tg.float64)
    averaged = AveragedModel(model, **options)
    sequence = weight_sequence(model, 5, seed=1)
    expected = None
    for n, weights in enumerate(sequence):
        set_weights(model, weights)
        averaged.update_parameters(model)
        if expected is None:
            expected = [w.copy() for w in weights]                        # the first call copies
        elif rule == "ema":
            expected = [0.8 * e + 0.2 * w for e, w in zip(expected, weights)]
        else:
            expected = [e + (w - e) / (n + 1) for e, w in zip(expected, weights)]
        for p, value in zip(averaged.module.parameters(), expected):
            np.testing.assert_allclose(host(p), value, rtol=1e-13, atol=1e-14)
    assert averaged.n_averaged.item() == 5


def test_multi_avg_fn_gets_every_tensor_once_per_update_with_buffers(device):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model.to(device=device, dtype=tg.float64)
    calls = []
    ema = get_ema_multi_avg_fn(0.5)

    def recording(averaged_list, current_list, n):
        calls.append((len(averaged_list), n))
        ema(averaged_list, current_list, n)

    averaged = AveragedModel(model, multi_avg_fn=recording, use_buffers=True)
    for value in (1.0, 3.0, 5.0):
        model[1].running_mean.data[...] = value
        model[1].num_batches_tracked.data[...] = int(value)
        averaged.update_parameters(model)
    # weight, bias, BatchNorm weight and bias, running_mean, running_var; then the int64
    # num_batches_tracked, a (device, dtype) group of its own, averaged too as in PyTorch
    assert calls == [(6, 1), (1, 1), (6, 2), (1, 2)]
    np.testing.assert_allclose(host(averaged.module[1].running_mean), [3.5, 3.5])  # 1→2→3.5
    assert averaged.module[1].num_batches_tracked.item() == 3   # 1→2→trunc(3.5)


def test_averaged_model_argument_errors():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="only one of avg_fn and multi_avg_fn"):
        AveragedModel(model, avg_fn=get_swa_avg_fn(), multi_avg_fn=get_swa_multi_avg_fn())
    # PyTorch's order: the second positional argument is the device
    assert AveragedModel(model, "cpu").module.weight.device == "cpu"
    with pytest.raises(TypeError):
        AveragedModel(model, "cpu", None, None, False, "ema")  # mode is keyword only
