"""Learning-rate schedules against closed forms written here and PyTorch's known sequences.

Each schedule is run for 40 steps on an optimizer with two parameter groups
(different initial learning rates) and compared with its formula, written
independently in this file. PyTorch's own numbers come from its documentation
examples and from its recursive ("chainable") update rules, transcribed here.
"""

import copy
import math

import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import lr_scheduler as S

STEPS = 40
LR0 = (1.0, 0.05)


def make_optimizer(lrs=LR0):
    groups = [{"params": [tg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=lrs[0])


def run(scheduler, optimizer, steps=STEPS):
    """The learning rate of each group used at t = 0 .. steps-1."""
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


# --- closed forms, one line each, written from the formulas ---

CASES = [
    ("StepLR", lambda o: S.StepLR(o, step_size=7, gamma=0.5),
     lambda a0, t: a0 * 0.5 ** (t // 7)),
    ("MultiStepLR", lambda o: S.MultiStepLR(o, milestones=[25, 4, 12], gamma=0.3),
     lambda a0, t: a0 * 0.3 ** ((t >= 4) + (t >= 12) + (t >= 25))),
    ("ExponentialLR", lambda o: S.ExponentialLR(o, gamma=math.exp(-0.15)),
     lambda a0, t: a0 * math.exp(-0.15 * t)),
    ("InverseTimeLR", lambda o: S.InverseTimeLR(o, k=0.3),
     lambda a0, t: a0 / (1 + 0.3 * t)),
    ("CosineAnnealingLR", lambda o: S.CosineAnnealingLR(o, T_max=30, eta_min=0.001),
     lambda a0, t: 0.001 + (a0 - 0.001) * (1 + math.cos(math.pi * t / 30)) / 2),
    ("LinearLR", lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=9),
     lambda a0, t: a0 * (0.25 + 0.5 * min(t, 9) / 9)),
    ("LambdaLR", lambda o: S.LambdaLR(o, lambda t: 1 / math.sqrt(t + 1)),
     lambda a0, t: a0 / math.sqrt(t + 1)),
]


@pytest.mark.parametrize("name, make, formula", CASES, ids=[case[0] for case in CASES])
def test_schedule_matches_closed_form(name, make, formula):
    optimizer = make_optimizer()
    scheduler = make(optimizer)
    assert scheduler.last_epoch == 0
    assert [group["initial_lr"] for group in optimizer.param_groups] == list(LR0)
    expected = [[formula(a0, t) for a0 in LR0] for t in range(STEPS)]
    assert close(run(scheduler, optimizer), expected)
    assert scheduler.last_epoch == STEPS


def test_step_lr_pytorch_sequence():
    optimizer = make_optimizer([1.0])
    seen = run(S.StepLR(optimizer, step_size=3, gamma=0.1), optimizer, 10)
    assert close(seen, [[v] for v in [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001]])


def test_multistep_lr_pytorch_sequence_and_repeated_milestone():
    # PyTorch's docstring: lr 0.05, milestones [30, 80], gamma 0.1
    optimizer = make_optimizer([0.05])
    seen = run(S.MultiStepLR(optimizer, milestones=[30, 80], gamma=0.1), optimizer, 100)
    assert close(seen, [[0.05 if t < 30 else 0.005 if t < 80 else 0.0005] for t in range(100)])
    optimizer = make_optimizer([1.0])
    seen = run(S.MultiStepLR(optimizer, milestones=[2, 2, 4], gamma=0.5), optimizer, 6)
    assert close(seen, [[1], [1], [0.25], [0.25], [0.125], [0.125]])


def test_exponential_lr_is_notes_exp_decay():
    k = 0.07
    optimizer = make_optimizer([0.3])
    seen = run(S.ExponentialLR(optimizer, gamma=math.exp(-k)), optimizer, 30)
    assert close(seen, [[0.3 * math.exp(-k * t)] for t in range(30)])


def test_linear_lr_pytorch_sequence_and_recursive_form():
    # PyTorch's (1.10) docstring: lr 0.05, start_factor=0.5, total_iters=4
    optimizer = make_optimizer([0.05])
    seen = run(S.LinearLR(optimizer, start_factor=0.5, total_iters=4), optimizer, 7)
    assert close(seen, [[v] for v in [0.025, 0.03125, 0.0375, 0.04375, 0.05, 0.05, 0.05]])
    # PyTorch's chainable rule: lr_t = lr_(t-1)·(1 + (e−s)/(T·s + (t−1)·(e−s))) for 0 < t ≤ T
    s, e, T = 0.2, 0.9, 12
    optimizer = make_optimizer([0.7])
    seen = run(S.LinearLR(optimizer, start_factor=s, end_factor=e, total_iters=T), optimizer)
    lr, recursive = 0.7 * s, []
    for t in range(STEPS):
        if 0 < t <= T:
            lr = lr * (1 + (e - s) / (T * s + (t - 1) * (e - s)))
        recursive.append([lr])
    assert close(seen, recursive, 1e-12)


def test_cosine_annealing_equals_pytorch_recursive_form():
    # the values for T_max = 4 from lr 1
    optimizer = make_optimizer([1.0])
    seen = run(S.CosineAnnealingLR(optimizer, T_max=4), optimizer, 9)
    root = math.sqrt(2) / 4
    expected = [1, 0.5 + root, 0.5, 0.5 - root, 0, 0.5 - root, 0.5, 0.5 + root, 1]
    assert close(seen, [[v] for v in expected])
    # PyTorch's recursive rule (with its special case just after T_max), 40 steps
    T_max, eta_min, base = 10, 0.01, 0.4
    optimizer = make_optimizer([base])
    seen = run(S.CosineAnnealingLR(optimizer, T_max=T_max, eta_min=eta_min), optimizer)
    lr, recursive = base, []
    for t in range(STEPS):
        if t == 0:
            pass
        elif (t - 1 - T_max) % (2 * T_max) == 0:
            lr = lr + (base - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
        else:
            lr = ((1 + math.cos(math.pi * t / T_max)) / (1 + math.cos(math.pi * (t - 1) / T_max))
                  * (lr - eta_min) + eta_min)
        recursive.append([lr])
    assert close(seen, recursive, 1e-9)


def test_lambda_lr_one_function_per_group():
    optimizer = make_optimizer()
    scheduler = S.LambdaLR(optimizer, [lambda t: 0.9 ** t, lambda t: t + 1])
    expected = [[1.0 * 0.9 ** t, 0.05 * (t + 1)] for t in range(STEPS)]
    assert close(run(scheduler, optimizer), expected)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        S.LambdaLR(make_optimizer(), [lambda t: 1.0])


def test_sequential_warmup_then_exponential():
    optimizer = make_optimizer()
    warmup = S.LinearLR(optimizer, start_factor=0.1, total_iters=5)
    decay = S.ExponentialLR(optimizer, gamma=0.9)
    scheduler = S.SequentialLR(optimizer, [warmup, decay], milestones=[5])
    expected = [[a0 * (0.1 + 0.9 * t / 5) if t < 5 else a0 * 0.9 ** (t - 5) for a0 in LR0]
                for t in range(STEPS)]
    assert close(run(scheduler, optimizer), expected)


def test_sequential_pytorch_docstring_example_and_three_phases():
    # PyTorch's docstring: ConstantLR(factor=0.1, total_iters=20) then ExponentialLR(0.9),
    # milestones=[20]: 0.005 ... at epochs 0..19, 0.05 at 20, 0.045 at 21, 0.0405 at 22.
    # ConstantLR(factor f, T) is LambdaLR(lambda t: f if t < T else 1).
    optimizer = make_optimizer([0.05])
    constant = S.LambdaLR(optimizer, lambda t: 0.1 if t < 20 else 1.0)
    decay = S.ExponentialLR(optimizer, gamma=0.9)
    seen = run(S.SequentialLR(optimizer, [constant, decay], milestones=[20]), optimizer, 23)
    assert close(seen, [[0.005]] * 20 + [[0.05], [0.045], [0.0405]])

    optimizer = make_optimizer([1.0])
    phases = [S.LinearLR(optimizer, start_factor=0.5, total_iters=2),
              S.StepLR(optimizer, step_size=2, gamma=0.1),
              S.CosineAnnealingLR(optimizer, T_max=4)]
    seen = run(S.SequentialLR(optimizer, phases, milestones=[3, 8]), optimizer, 13)
    expected = [0.5, 0.75, 1.0,                       # LinearLR, t = 0, 1, 2
                1.0, 1.0, 0.1, 0.1, 0.01,             # StepLR, local t = 0 .. 4
                1.0, 0.5 + math.sqrt(2) / 4, 0.5, 0.5 - math.sqrt(2) / 4, 0.0]   # cosine
    assert close(seen, [[v] for v in expected])


def test_sequential_lr_validation():
    optimizer = make_optimizer()
    first = S.StepLR(optimizer, 2)
    second = S.ExponentialLR(optimizer, 0.9)
    with pytest.raises(ValueError, match="one more"):
        S.SequentialLR(optimizer, [first, second], milestones=[2, 4])
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(optimizer, [first, S.StepLR(make_optimizer(), 2)], milestones=[2])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(optimizer, [first, S.ReduceLROnPlateau(optimizer)], milestones=[2])


def test_construction_sets_initial_lr_once():
    optimizer = make_optimizer()
    S.StepLR(optimizer, step_size=1, gamma=0.5).step()        # lr is now 0.5 · α0
    assert [group["lr"] for group in optimizer.param_groups] == [0.5, 0.025]
    second = S.ExponentialLR(optimizer, gamma=0.5)            # keeps initial_lr = α0
    assert second.base_lrs == list(LR0)
    assert [group["initial_lr"] for group in optimizer.param_groups] == list(LR0)


def test_invalid_arguments():
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(make_optimizer(), start_factor=0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        S.LinearLR(make_optimizer(), end_factor=1.5)
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(make_optimizer(), step_size=0)
    with pytest.raises(ValueError, match="k must be"):
        S.InverseTimeLR(make_optimizer(), k=-1)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(make_optimizer(), step_size=2, last_epoch=3)


def test_scheduler_drives_the_optimizer_update(device):
    w = tg.tensor([1.0, -2.0], dtype=tg.float64, device=device, requires_grad=True)
    optimizer = optim.SGD([w], lr=0.1)
    scheduler = S.InverseTimeLR(optimizer, k=1.0)
    expected = [1.0, -2.0]
    for t in range(5):
        optimizer.zero_grad()
        (w * w).sum().backward()                       # g = 2w
        optimizer.step()
        lr = 0.1 / (1 + t)
        expected = [x - lr * 2 * x for x in expected]
        scheduler.step()
    assert close([w.tolist()], [expected])


# --- ReduceLROnPlateau: scripted metric sequences, expected lrs worked out by hand ---

def plateau_run(metrics, lrs=(1.0,), **options):
    optimizer = make_optimizer(lrs)
    scheduler = S.ReduceLROnPlateau(optimizer, **options)
    seen = []
    for metric in metrics:
        scheduler.step(metric)
        seen.append([group["lr"] for group in optimizer.param_groups])
        assert scheduler.get_last_lr() == seen[-1]
    return seen, scheduler


def test_plateau_patience():
    seen, scheduler = plateau_run([10, 9, 9, 9, 9, 8, 8, 8, 8], patience=2, factor=0.5)
    assert close(seen, [[v] for v in [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]])
    assert scheduler.best == 8 and scheduler.num_bad_epochs == 0


def test_plateau_cooldown():
    seen, _ = plateau_run([5] * 10, patience=1, cooldown=2, factor=0.1)
    assert close(seen, [[v] for v in [1, 1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01]])


def test_plateau_rel_and_abs_thresholds():
    # best 10, threshold 0.1: 'rel' needs < 10·0.9 = 9, 'abs' needs < 10 − 0.1 = 9.9
    seen, _ = plateau_run([10, 9.5], patience=0, factor=0.5, threshold=0.1,
                          threshold_mode="rel")
    assert close(seen, [[1], [0.5]])
    seen, _ = plateau_run([10, 9.5], patience=0, factor=0.5, threshold=0.1,
                          threshold_mode="abs")
    assert close(seen, [[1], [1]])
    # default rel threshold 1e-4: an improvement of 0.00005 on 1.0 is not an improvement
    seen, _ = plateau_run([1.0, 0.99995, 0.9], patience=0, factor=0.5)
    assert close(seen, [[1], [0.5], [0.5]])


def test_plateau_max_mode():
    seen, _ = plateau_run([0.5, 0.6, 0.6, 0.59], mode="max", patience=1)
    assert close(seen, [[1], [1], [1], [0.1]])
    seen, _ = plateau_run([0.5, 0.54, 0.56, 0.6], mode="max", patience=0, threshold=0.05,
                          threshold_mode="abs")
    assert close(seen, [[1], [0.1], [0.1], [0.01]])


def test_plateau_min_lr_and_eps():
    seen, _ = plateau_run([3] * 4, patience=0, factor=0.1, min_lr=0.05)
    assert close(seen, [[1], [0.1], [0.05], [0.05]])
    seen, _ = plateau_run([3] * 4, lrs=(1.0, 0.5), patience=0, factor=0.1, min_lr=[0.02, 0.1])
    assert close(seen, [[1, 0.5], [0.1, 0.1], [0.02, 0.1], [0.02, 0.1]])
    # a reduction of less than eps is skipped: 1.5e-8 → 7.5e-9 changes lr by 7.5e-9 < 1e-8
    seen, _ = plateau_run([3] * 3, lrs=(1.5e-8,), patience=0, factor=0.5)
    assert seen == [[1.5e-8]] * 3


def test_plateau_accepts_tensor_metric_and_validates(device):
    optimizer = make_optimizer([1.0])
    scheduler = S.ReduceLROnPlateau(optimizer, patience=0)
    scheduler.step(tg.tensor(2.0, device=device))
    scheduler.step(tg.tensor([3.0], device=device))
    assert scheduler.get_last_lr() == [0.1]
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(make_optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="mode middle is unknown"):
        S.ReduceLROnPlateau(make_optimizer(), mode="middle")
    with pytest.raises(ValueError, match="threshold mode"):
        S.ReduceLROnPlateau(make_optimizer(), threshold_mode="relative")
    with pytest.raises(ValueError, match="expected 2 min_lrs"):
        S.ReduceLROnPlateau(make_optimizer(), min_lr=[0.1])


# --- saving and resuming ---

def make_sequential(optimizer):
    return S.SequentialLR(optimizer, [S.LinearLR(optimizer, total_iters=4),
                                      S.CosineAnnealingLR(optimizer, T_max=10)],
                          milestones=[4])


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, step_size=3, gamma=0.5),
    lambda o: S.MultiStepLR(o, milestones=[2, 9]),
    lambda o: S.InverseTimeLR(o, k=0.5),
    lambda o: S.LambdaLR(o, lambda t: 0.8 ** t),
    make_sequential,
], ids=["StepLR", "MultiStepLR", "InverseTimeLR", "LambdaLR", "SequentialLR"])
def test_state_dict_round_trip(make):
    optimizer = make_optimizer()
    scheduler = make(optimizer)
    reference = run(scheduler, optimizer, 6)
    saved_scheduler = copy.deepcopy(scheduler.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    assert "optimizer" not in saved_scheduler
    continued = run(scheduler, optimizer, 10)

    fresh_optimizer = make_optimizer()
    fresh = make(fresh_optimizer)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved_scheduler)
    assert fresh.last_epoch == 6 and reference
    assert run(fresh, fresh_optimizer, 10) == continued


def test_plateau_state_dict_round_trip():
    metrics = [5, 4, 4, 4, 3, 3, 3, 3, 3, 3]
    optimizer = make_optimizer()
    scheduler = S.ReduceLROnPlateau(optimizer, patience=1, cooldown=1)
    for metric in metrics[:5]:
        scheduler.step(metric)
    saved = copy.deepcopy(scheduler.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    assert "optimizer" not in saved and saved["best"] == 3
    for metric in metrics[5:]:
        scheduler.step(metric)

    fresh_optimizer = make_optimizer()
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh = S.ReduceLROnPlateau(fresh_optimizer)
    fresh.load_state_dict(saved)
    for metric in metrics[5:]:
        fresh.step(metric)
    assert fresh.get_last_lr() == scheduler.get_last_lr()
    assert fresh.num_bad_epochs == scheduler.num_bad_epochs
    assert fresh.last_epoch == scheduler.last_epoch == len(metrics)
