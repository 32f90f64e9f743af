"""The schedules PyTorch has beside the classic ones: MultiplicativeLR, ConstantLR,
PolynomialLR, CosineAnnealingWarmRestarts, OneCycleLR and CyclicLR.

Each is run for 45 steps on an SGD with two parameter groups and compared with its
formula from PyTorch's documentation, written again here without looking at ours.
PyTorch's own numbers come from its docstring examples and from values worked out
by hand (the first, peak and last learning rates of OneCycleLR, CyclicLR's triangle).
"""

import bisect
import copy
import math

import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import lr_scheduler as S

STEPS = 45
LR0 = (1.0, 0.05)


def make_optimizer(lrs=LR0, **options):
    groups = [{"params": [tg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=lrs[0], **options)


def make_adam(lrs=LR0):
    groups = [{"params": [tg.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.Adam(groups, lr=lrs[0], betas=(0.9, 0.999))


def run(scheduler, optimizer, steps=STEPS):
    """The learning rate of each group used at t = 0 .. steps-1."""
    seen = []
    for _ in range(steps):
        seen.append([group["lr"] for group in optimizer.param_groups])
        assert scheduler.get_last_lr() == seen[-1]
        scheduler.step()
    return seen


def momenta(optimizer):
    return [group["betas"][0] if "betas" in group else group["momentum"]
            for group in optimizer.param_groups]


def run_momentum(scheduler, optimizer, steps=STEPS):
    """(learning rates, momenta) of each group at t = 0 .. steps-1."""
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append([group["lr"] for group in optimizer.param_groups])
        moms.append(momenta(optimizer))
        scheduler.step()
    return lrs, moms


def close(a, b, tol=1e-12):
    return len(a) == len(b) and all(
        len(row_a) == len(row_b) and all(math.isclose(x, y, rel_tol=tol, abs_tol=tol)
                                         for x, y in zip(row_a, row_b))
        for row_a, row_b in zip(a, b))


# --- PyTorch's documented formulas, written here independently ---

def warm_restarts(a0, t, T_0, T_mult, eta_min):
    """SGDR: restarts at 0, T_0, T_0 + T_0·T_mult, ...; cosine from a0 to eta_min in each."""
    restarts, length = [0], T_0
    while restarts[-1] <= t:
        restarts.append(restarts[-1] + length)
        length *= T_mult
    cycle = bisect.bisect_right(restarts, t) - 1
    T_cur, T_i = t - restarts[cycle], restarts[cycle + 1] - restarts[cycle]
    return eta_min + 0.5 * (a0 - eta_min) * (1 + math.cos(T_cur / T_i * math.pi))


def one_cycle(max_lr, t, total, pct=0.3, div=25.0, final=1e4, linear=False, three=False,
              m_low=0.85, m_high=0.95):
    """(lr, momentum) of the 1cycle policy at step t (PyTorch's phase table)."""
    start_lr = max_lr / div
    end_lr = start_lr / final

    def go(a, b, x):
        return a + x * (b - a) if linear else a + (b - a) * (1 - math.cos(math.pi * x)) / 2

    up = pct * total - 1
    if three:
        phases = [(0.0, up, start_lr, max_lr, m_high, m_low),
                  (up, 2 * pct * total - 2, max_lr, start_lr, m_low, m_high),
                  (2 * pct * total - 2, total - 1, start_lr, end_lr, m_high, m_high)]
    else:
        phases = [(0.0, up, start_lr, max_lr, m_high, m_low),
                  (up, total - 1, max_lr, end_lr, m_low, m_high)]
    for number, (s, e, a, b, c, d) in enumerate(phases):
        if t <= e or number == len(phases) - 1:
            x = (t - s) / (e - s)
            return go(a, b, x), go(c, d, x)


def triangle(t, up, down):
    """The triangle wave h(t): 0 at each cycle's start, 1 after `up` steps, 0 after `down` more."""
    position = t % (up + down)
    return position / up if position <= up else (up + down - position) / down


def cyclic(low, high, t, up, down, scale=lambda cycle, t: 1.0):
    return low + (high - low) * triangle(t, up, down) * scale(t // (up + down) + 1, t)


class Halving:
    """A callable object with state, as LambdaLR saves it: λ(t) = factor."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, t):
        return self.factor


CASES = [
    ("ConstantLR", lambda o: S.ConstantLR(o, factor=0.25, total_iters=7),
     lambda a0, t: a0 * (0.25 if t < 7 else 1.0)),
    ("PolynomialLR", lambda o: S.PolynomialLR(o, total_iters=30, power=2.0),
     lambda a0, t: a0 * (1 - min(t, 30) / 30) ** 2),
    ("PolynomialLR-sqrt", lambda o: S.PolynomialLR(o, total_iters=44, power=0.5),
     lambda a0, t: a0 * math.sqrt(1 - t / 44)),
    ("MultiplicativeLR", lambda o: S.MultiplicativeLR(o, lambda t: 0.9 if t % 3 else 1.05),
     lambda a0, t: a0 * math.prod(0.9 if s % 3 else 1.05 for s in range(1, t + 1))),
    ("CosineAnnealingWarmRestarts",
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.001),
     lambda a0, t: warm_restarts(a0, t, 7, 1, 0.001)),
    ("CosineAnnealingWarmRestarts-Tmult",
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.002),
     lambda a0, t: warm_restarts(a0, t, 3, 2, 0.002)),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, max_lr=list(LR0), total_steps=STEPS),
     lambda a0, t: one_cycle(a0, t, STEPS)[0]),
    ("OneCycleLR-linear-three-phase",
     lambda o: S.OneCycleLR(o, max_lr=list(LR0), total_steps=50, pct_start=0.25,
                            anneal_strategy="linear", three_phase=True, div_factor=10.0,
                            final_div_factor=100.0),
     lambda a0, t: one_cycle(a0, t, 50, pct=0.25, div=10.0, final=100.0, linear=True,
                             three=True)[0]),
    ("CyclicLR", lambda o: S.CyclicLR(o, base_lr=[a0 / 10 for a0 in LR0], max_lr=list(LR0),
                                      step_size_up=4, step_size_down=7),
     lambda a0, t: cyclic(a0 / 10, a0, t, 4, 7)),
    ("CyclicLR-triangular2",
     lambda o: S.CyclicLR(o, base_lr=[a0 / 10 for a0 in LR0], max_lr=list(LR0),
                          step_size_up=5, mode="triangular2"),
     lambda a0, t: cyclic(a0 / 10, a0, t, 5, 5, lambda cycle, t: 0.5 ** (cycle - 1))),
    ("CyclicLR-exp_range",
     lambda o: S.CyclicLR(o, base_lr=[a0 / 10 for a0 in LR0], max_lr=list(LR0),
                          step_size_up=3, step_size_down=6, mode="exp_range", gamma=0.97),
     lambda a0, t: cyclic(a0 / 10, a0, t, 3, 6, lambda cycle, t: 0.97 ** t)),
    ("CyclicLR-scale_fn",
     lambda o: S.CyclicLR(o, base_lr=[a0 / 10 for a0 in LR0], max_lr=list(LR0),
                          step_size_up=6, scale_fn=lambda c: 1 / c, mode="ignored"),
     lambda a0, t: cyclic(a0 / 10, a0, t, 6, 6, lambda cycle, t: 1 / cycle)),
]


@pytest.mark.parametrize("name, make, formula", CASES, ids=[case[0] for case in CASES])
def test_schedule_matches_closed_form(name, make, formula):
    optimizer = make_optimizer()
    scheduler = make(optimizer)
    assert scheduler.last_epoch == 0
    expected = [[formula(a0, t) for a0 in LR0] for t in range(STEPS)]
    assert close(run(scheduler, optimizer), expected)
    assert scheduler.last_epoch == STEPS


# --- PyTorch's documented sequences, and values worked out by hand ---

def test_constant_lr_pytorch_sequence():
    # PyTorch's docstring: lr 0.05, factor=0.5, total_iters=4
    optimizer = make_optimizer([0.05])
    seen = run(S.ConstantLR(optimizer, factor=0.5, total_iters=4), optimizer, 7)
    assert close(seen, [[0.025]] * 4 + [[0.05]] * 3)
    optimizer = make_optimizer([0.3])
    seen = run(S.ConstantLR(optimizer, total_iters=0), optimizer, 3)   # no constant phase
    assert close(seen, [[0.3]] * 3)


def test_polynomial_lr_pytorch_sequence():
    # PyTorch's docstring: lr 0.001, total_iters=4, power=1.0
    optimizer = make_optimizer([0.001])
    seen = run(S.PolynomialLR(optimizer, total_iters=4, power=1.0), optimizer, 7)
    assert close(seen, [[v] for v in [0.001, 0.00075, 0.0005, 0.00025, 0.0, 0.0, 0.0]])


def test_multiplicative_lr_pytorch_example_and_lambda_calls():
    # PyTorch's docstring: lmbda = lambda epoch: 0.95
    optimizer = make_optimizer()
    seen = run(S.MultiplicativeLR(optimizer, lambda epoch: 0.95), optimizer)
    assert close(seen, [[a0 * 0.95 ** t for a0 in LR0] for t in range(STEPS)])
    # each λ(s) is called once per step, in order, from s = 1 (as PyTorch's recursion does)
    calls = []
    optimizer = make_optimizer()
    scheduler = S.MultiplicativeLR(optimizer, [lambda t: calls.append(t) or 0.5, lambda t: 2.0])
    run(scheduler, optimizer, 5)
    assert calls == [1, 2, 3, 4, 5]
    assert close([scheduler.get_last_lr()], [[0.5 ** 5, 0.05 * 2.0 ** 5]])
    # step(epoch) back to an earlier t gives that t's value again
    scheduler.step(2)
    assert close([scheduler.get_last_lr()], [[0.25, 0.2]])
    scheduler.step()
    assert close([scheduler.get_last_lr()], [[0.125, 0.4]])


def test_warm_restarts_hand_values():
    optimizer = make_optimizer([1.0])
    seen = run(S.CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2), optimizer, 15)
    half, root = 0.5, math.sqrt(2) / 4
    # restarts at t = 0, 2, 6, 14 (cycles of 2, 4, 8)
    expected = [1, half, 1, 0.5 + root, 0.5, 0.5 - root, 1] + [
        (1 + math.cos(math.pi * k / 8)) / 2 for k in range(1, 8)] + [1]
    assert close(seen, [[v] for v in expected])


def test_warm_restarts_fractional_epochs():
    # PyTorch's usage: scheduler.step(epoch + i / iters) after batch i of each epoch
    T_0, T_mult, iters = 3, 2, 4
    optimizer = make_optimizer()
    scheduler = S.CosineAnnealingWarmRestarts(optimizer, T_0=T_0, T_mult=T_mult)
    for epoch in range(12):
        for i in range(iters):
            t = epoch + i / iters
            scheduler.step(t)
            assert scheduler.last_epoch == math.floor(t)
            expected = [warm_restarts(a0, t, T_0, T_mult, 0.0) for a0 in LR0]
            assert close([scheduler.get_last_lr()], [expected])
    # PyTorch's interleaved example: step(26) then step() is step(27)
    scheduler.step(26)
    scheduler.step()
    assert scheduler.last_epoch == 27 and (scheduler.T_cur, scheduler.T_i) == (6, 24)
    # a fraction survives a plain step(): T_cur 0.5 → 1.5
    scheduler.step(0.5)
    scheduler.step()
    assert scheduler.last_epoch == 1 and scheduler.T_cur == 1.5 and scheduler.T_i == 3


def test_warm_restarts_jump_lands_on_the_sequence_of_steps():
    # T_0 = 1, T_mult = 10: restarts at 0, 1, 11, 111, 1111; step(111) is a restart (α0)
    optimizer = make_optimizer([1.0])
    stepped = S.CosineAnnealingWarmRestarts(optimizer, T_0=1, T_mult=10)
    for _ in range(111):
        stepped.step()
    jumped = S.CosineAnnealingWarmRestarts(make_optimizer([1.0]), T_0=1, T_mult=10)
    jumped.step(111)
    assert stepped.get_last_lr() == jumped.get_last_lr() == [1.0]
    assert (jumped.T_cur, jumped.T_i) == (0, 1000)


def test_one_cycle_first_peak_and_final_lr():
    # max_lr 1, total_steps 20, pct_start 0.3: phase 1 ends at 0.3·20 − 1 = 5
    for strategy in ("cos", "linear"):
        optimizer = make_optimizer([0.7], momentum=0.9)
        scheduler = S.OneCycleLR(optimizer, max_lr=1.0, total_steps=20,
                                 anneal_strategy=strategy)
        lrs, moms = run_momentum(scheduler, optimizer, 20)          # t = 0 .. 19, then t = T
        assert math.isclose(lrs[0][0], 1.0 / 25) and moms[0] == [0.95]  # α0 = max_lr / 25
        assert math.isclose(lrs[5][0], 1.0) and math.isclose(moms[5][0], 0.85)  # the peak
        assert math.isclose(lrs[19][0], 0.04 / 1e4) and math.isclose(moms[19][0], 0.95)
        x = 1 / 5                                                     # t = 1 of phase 1
        up = 0.04 + 0.96 * (x if strategy == "linear" else (1 - math.cos(math.pi * x)) / 2)
        assert math.isclose(lrs[1][0], up)
    group = optimizer.param_groups[0]
    assert group["initial_lr"] == 0.04 and group["max_lr"] == 1.0
    assert math.isclose(group["min_lr"], 4e-6)
    assert (group["max_momentum"], group["base_momentum"]) == (0.95, 0.85)
    assert scheduler.last_epoch == 20                  # PyTorch allows t = T ...
    with pytest.raises(ValueError, match="tried to step 21 times.*total_steps is 20"):
        scheduler.step()                               # ... but not t = T + 1


def test_one_cycle_three_phase_hand_values_and_epochs():
    # total 20, pct_start 0.3: phase ends 5, 10, 19
    optimizer = make_optimizer([1.0], momentum=0.9)
    scheduler = S.OneCycleLR(optimizer, max_lr=2.0, epochs=4, steps_per_epoch=5,
                             three_phase=True)
    assert scheduler.total_steps == 20
    lrs, moms = run_momentum(scheduler, optimizer, 20)
    expected = {0: (0.08, 0.95), 5: (2.0, 0.85), 10: (0.08, 0.95), 15: (None, 0.95),
                19: (0.08 / 1e4, 0.95)}
    for t, (lr, momentum) in expected.items():
        assert lr is None or math.isclose(lrs[t][0], lr)
        assert math.isclose(moms[t][0], momentum)
    assert math.isclose(lrs[15][0], 0.08 / 1e4 + (0.08 - 0.08 / 1e4) * (1 + math.cos(
        math.pi * 5 / 9)) / 2)


def test_one_cycle_sets_initial_lr_even_if_one_is_there():
    optimizer = make_optimizer()
    S.StepLR(optimizer, step_size=3)                  # writes initial_lr = LR0
    S.OneCycleLR(optimizer, max_lr=[0.5, 0.25], total_steps=10)
    assert [group["initial_lr"] for group in optimizer.param_groups] == [0.02, 0.01]
    assert close([[group["lr"] for group in optimizer.param_groups]], [[0.02, 0.01]])


def test_cyclic_triangular_values_and_initial_lr():
    # base 0.1, max 1.0, step_size_up 2 (down = up): 0.1, 0.55, 1.0, 0.55, 0.1, ...
    optimizer = make_optimizer([0.7], momentum=0.9)
    scheduler = S.CyclicLR(optimizer, base_lr=0.1, max_lr=1.0, step_size_up=2)
    assert optimizer.param_groups[0]["initial_lr"] == 0.1
    lrs, moms = run_momentum(scheduler, optimizer, 9)
    assert close(lrs, [[v] for v in [0.1, 0.55, 1.0, 0.55, 0.1, 0.55, 1.0, 0.55, 0.1]])
    assert close(moms, [[v] for v in [0.9, 0.85, 0.8, 0.85, 0.9, 0.85, 0.8, 0.85, 0.9]])
    # triangular2 halves the height each cycle: peaks 1.0, 0.55, 0.325
    optimizer = make_optimizer([0.7])
    seen = run(S.CyclicLR(optimizer, 0.1, 1.0, step_size_up=2, mode="triangular2"),
               optimizer, 11)
    assert close([seen[2], seen[6], seen[10]], [[1.0], [0.55], [0.325]])
    # exp_range scales by γ^t: at t = 2, 0.1 + 0.9·0.81
    optimizer = make_optimizer([0.7])
    seen = run(S.CyclicLR(optimizer, 0.1, 1.0, step_size_up=2, mode="exp_range", gamma=0.9),
               optimizer, 3)
    assert close(seen, [[0.1], [0.1 + 0.45 * 0.9], [0.1 + 0.9 * 0.81]])


def test_cyclic_keeps_an_earlier_initial_lr_at_step_zero_as_pytorch():
    # PyTorch's order: group lr ← base_lr, initial_lr only if missing, the step to t = 0
    # (computed from initial_lr), then base_lrs ← base_lr for the steps after it
    optimizer = make_optimizer([1.0])
    S.StepLR(optimizer, step_size=5)                  # initial_lr = 1.0
    scheduler = S.CyclicLR(optimizer, base_lr=0.1, max_lr=0.5, step_size_up=2,
                           cycle_momentum=False)
    assert optimizer.param_groups[0]["initial_lr"] == 1.0
    assert close(run(scheduler, optimizer, 3), [[1.0], [0.3], [0.5]])


# --- momentum cycling: SGD's momentum, Adam's β1 ---

MOMENTUM_CASES = [
    ("OneCycleLR",
     lambda o: S.OneCycleLR(o, max_lr=list(LR0), total_steps=STEPS, base_momentum=[0.8, 0.7],
                            max_momentum=0.9),
     lambda t: [one_cycle(a0, t, STEPS, m_low=low, m_high=0.9) for a0, low in
                zip(LR0, (0.8, 0.7))]),
    ("CyclicLR",
     lambda o: S.CyclicLR(o, base_lr=[a0 / 10 for a0 in LR0], max_lr=list(LR0),
                          step_size_up=5, step_size_down=8, base_momentum=0.75,
                          max_momentum=[0.95, 0.9]),
     lambda t: [(cyclic(a0 / 10, a0, t, 5, 8), high - (high - 0.75) * triangle(t, 5, 8))
                for a0, high in zip(LR0, (0.95, 0.9))]),
]


@pytest.mark.parametrize("adam", [False, True], ids=["SGD", "Adam"])
@pytest.mark.parametrize("name, make, formula", MOMENTUM_CASES,
                         ids=[case[0] for case in MOMENTUM_CASES])
def test_momentum_cycles_inversely(name, make, formula, adam):
    optimizer = make_adam() if adam else make_optimizer(momentum=0.9)
    scheduler = make(optimizer)
    lrs, moms = run_momentum(scheduler, optimizer)
    expected = [formula(t) for t in range(STEPS)]
    assert close(lrs, [[lr for lr, _ in row] for row in expected])
    assert close(moms, [[momentum for _, momentum in row] for row in expected])
    assert max(row[0] for row in moms) - min(row[0] for row in moms) > 0.09
    if adam:
        assert all(group["betas"][1] == 0.999 and isinstance(group["betas"], tuple)
                   for group in optimizer.param_groups)
        assert all("momentum" not in group for group in optimizer.param_groups)
    else:
        assert all("betas" not in group for group in optimizer.param_groups)


@pytest.mark.parametrize("make", [
    lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, cycle_momentum=False),
    lambda o: S.CyclicLR(o, 0.1, 1.0, step_size_up=2, cycle_momentum=False),
], ids=["OneCycleLR", "CyclicLR"])
def test_no_momentum_cycling_leaves_momentum_alone(make):
    optimizer = make_optimizer(momentum=0.5)
    scheduler = make(optimizer)
    _, moms = run_momentum(scheduler, optimizer, 8)
    assert moms == [[0.5, 0.5]] * 8
    adagrad = optim.Adagrad([tg.zeros(2, requires_grad=True)], lr=0.1)
    make(adagrad).step()                               # no momentum needed


def test_cycled_momentum_drives_the_sgd_update():
    w = tg.tensor([1.0], dtype=tg.float64, requires_grad=True)
    optimizer = optim.SGD([w], lr=0.1, momentum=0.0)
    scheduler = S.CyclicLR(optimizer, base_lr=0.1, max_lr=0.3, step_size_up=2,
                           base_momentum=0.5, max_momentum=0.9)
    x, buffer = 1.0, None
    for t in range(5):
        lr, mu = optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]
        optimizer.zero_grad()
        (w * w).sum().backward()                       # g = 2w
        optimizer.step()
        g = 2 * x
        buffer = g if buffer is None else mu * buffer + g
        x = x - lr * buffer
        scheduler.step()
    assert math.isclose(w.tolist()[0], x, rel_tol=1e-12)


# --- errors ---

ERRORS = [
    (lambda: S.ConstantLR(make_optimizer(), factor=1.5), "ConstantLR: factor"),
    (lambda: S.ConstantLR(make_optimizer(), factor=-0.1), "ConstantLR: factor"),
    (lambda: S.ConstantLR(make_optimizer(), total_iters=-1), "ConstantLR: total_iters"),
    (lambda: S.PolynomialLR(make_optimizer(), total_iters=-1), "PolynomialLR: total_iters"),
    (lambda: S.CosineAnnealingWarmRestarts(make_optimizer(), T_0=0), "T_0"),
    (lambda: S.CosineAnnealingWarmRestarts(make_optimizer(), T_0=2.5), "T_0"),
    (lambda: S.CosineAnnealingWarmRestarts(make_optimizer(), T_0=2, T_mult=0), "T_mult"),
    (lambda: S.CosineAnnealingWarmRestarts(make_optimizer(), T_0=2, T_mult=1.5), "T_mult"),
    (lambda: S.CosineAnnealingWarmRestarts(make_optimizer(), T_0=2, eta_min="0"), "eta_min"),
    (lambda: S.CosineAnnealingWarmRestarts(make_optimizer(), T_0=2).step(-1), "epoch"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=0), "total_steps"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=2.5), "total_steps"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0), "total_steps, or both epochs"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, epochs=3), "total_steps, or both"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, epochs=0, steps_per_epoch=3),
     "epochs"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, epochs=2, steps_per_epoch=-3),
     "steps_per_epoch"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=9, pct_start=1.2),
     "pct_start"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=9, pct_start=-0.1),
     "pct_start"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=9, anneal_strategy="exp"),
     "anneal_strategy"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=[1.0], total_steps=9), "max_lr"),
    (lambda: S.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=9,
                          base_momentum=[0.8, 0.8, 0.8]), "base_momentum"),
    (lambda: S.OneCycleLR(optim.Adagrad([tg.zeros(1, requires_grad=True)]), max_lr=1.0,
                          total_steps=9), "cycle_momentum.*Adagrad"),
    (lambda: S.CyclicLR(make_optimizer(), 0.1, 1.0, mode="sawtooth"), "mode"),
    (lambda: S.CyclicLR(make_optimizer(), 0.1, 1.0, scale_mode="epochs"), "scale_mode"),
    (lambda: S.CyclicLR(make_optimizer(), 0.1, 1.0, step_size_up=0), "step_size_up"),
    (lambda: S.CyclicLR(make_optimizer(), 0.1, 1.0, step_size_down=-1), "step_size_down"),
    (lambda: S.CyclicLR(make_optimizer(), [0.1, 0.1, 0.1], 1.0), "base_lr"),
    (lambda: S.CyclicLR(make_optimizer(), 0.1, [1.0]), "max_lr"),
    (lambda: S.CyclicLR(make_optimizer(), 0.1, 1.0, max_momentum=[0.9]), "max_momentum"),
    (lambda: S.CyclicLR(optim.Adagrad([tg.zeros(1, requires_grad=True)]), 0.1, 1.0),
     "cycle_momentum.*Adagrad"),
    (lambda: S.MultiplicativeLR(make_optimizer(), [lambda t: 1.0]), "Expected 2 lr_lambdas"),
]


@pytest.mark.parametrize("make, match", ERRORS, ids=[str(n) for n in range(len(ERRORS))])
def test_bad_arguments_raise_value_error_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_failed_construction_leaves_the_optimizer_unchanged():
    optimizer = make_optimizer(momentum=0.3)
    before = copy.deepcopy([{k: v for k, v in group.items() if k != "params"}
                            for group in optimizer.param_groups])
    with pytest.raises(ValueError):
        S.OneCycleLR(optimizer, max_lr=1.0, total_steps=9, base_momentum=[0.8])
    with pytest.raises(ValueError):
        S.CyclicLR(optimizer, 0.1, 1.0, max_momentum=[0.9])
    assert [{k: v for k, v in group.items() if k != "params"}
            for group in optimizer.param_groups] == before


def test_errors_of_the_type_kind():
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.OneCycleLR(object(), max_lr=1.0, total_steps=3)
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.CyclicLR(object(), 0.1, 1.0)
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        S.MultiplicativeLR(make_optimizer(), 0.5)


# --- with SequentialLR ---

def test_sequential_pytorch_docstring_example_with_constant_lr():
    # PyTorch's SequentialLR docstring: ConstantLR(factor=0.1, total_iters=20), then
    # ExponentialLR(gamma=0.9) from milestone 20: 0.005 ×20, 0.05, 0.045, 0.0405
    optimizer = make_optimizer([0.05])
    constant = S.ConstantLR(optimizer, factor=0.1, total_iters=20)
    decay = S.ExponentialLR(optimizer, gamma=0.9)
    seen = run(S.SequentialLR(optimizer, [constant, decay], milestones=[20]), optimizer, 23)
    assert close(seen, [[0.005]] * 20 + [[0.05], [0.045], [0.0405]])


def test_sequential_with_warm_restarts_and_multiplicative_first():
    optimizer = make_optimizer()
    restarts = S.CosineAnnealingWarmRestarts(optimizer, T_0=4)
    warmup = S.MultiplicativeLR(optimizer, lambda t: 0.5)
    seen = run(S.SequentialLR(optimizer, [warmup, restarts], milestones=[3]), optimizer, 12)
    expected = [[a0 * 0.5 ** t if t < 3 else warm_restarts(a0, t - 3, 4, 1, 0.0)
                 for a0 in LR0] for t in range(12)]
    assert close(seen, expected)
    optimizer = make_optimizer()
    restarts = S.CosineAnnealingWarmRestarts(optimizer, T_0=4, T_mult=2)
    decay = S.PolynomialLR(optimizer, total_iters=4)
    seen = run(S.SequentialLR(optimizer, [restarts, decay], milestones=[6]), optimizer, 10)
    expected = [[warm_restarts(a0, t, 4, 2, 0.0) if t < 6 else a0 * (1 - (t - 6) / 4)
                 for a0 in LR0] for t in range(10)]
    assert close(seen, expected)


# --- saving and resuming ---

class Power:
    """A scale_fn object with state: scale(c) = base^(c − 1)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, cycle):
        return self.base ** (cycle - 1)


def no_change(scheduler):
    pass


def set_factor(scheduler):
    scheduler.lr_lambdas[0].factor = 0.6           # saved state the fresh object must get back


def set_base(scheduler):
    scheduler._scale_fn_custom.base = 0.3


def fractional_step(scheduler):
    scheduler.step(6.25)                           # a fraction for step() to carry on


ROUND_TRIPS = [
    ("ConstantLR", lambda o: S.ConstantLR(o, factor=0.5, total_iters=8), {}, no_change),
    ("PolynomialLR", lambda o: S.PolynomialLR(o, total_iters=12, power=1.5), {}, no_change),
    ("MultiplicativeLR-function", lambda o: S.MultiplicativeLR(o, lambda t: 0.9), {},
     no_change),
    ("MultiplicativeLR-object", lambda o: S.MultiplicativeLR(o, Halving(0.8)), {}, set_factor),
    ("CosineAnnealingWarmRestarts",
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01), {},
     fractional_step),
    ("OneCycleLR", lambda o: S.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=16),
     {"momentum": 0.9}, no_change),
    ("OneCycleLR-Adam", lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=16, three_phase=True),
     "adam", no_change),
    ("CyclicLR", lambda o: S.CyclicLR(o, 0.01, [0.5, 0.2], step_size_up=3, mode="exp_range",
                                      gamma=0.95), {"momentum": 0.9}, no_change),
    ("CyclicLR-scale_fn", lambda o: S.CyclicLR(o, 0.01, 0.5, step_size_up=2,
                                               scale_fn=Power(0.5)), "adam", set_base),
]


@pytest.mark.parametrize("name, make, options, change", ROUND_TRIPS,
                         ids=[case[0] for case in ROUND_TRIPS])
def test_state_dict_round_trip(name, make, options, change):
    def fresh_optimizer():
        return make_adam() if options == "adam" else make_optimizer(**options)

    optimizer = fresh_optimizer()
    scheduler = make(optimizer)
    run(scheduler, optimizer, 6)
    change(scheduler)
    saved_scheduler = copy.deepcopy(scheduler.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    assert "optimizer" not in saved_scheduler
    continued = run_momentum(scheduler, optimizer, 10)

    resumed_optimizer = fresh_optimizer()
    resumed = make(resumed_optimizer)
    assert run_momentum(resumed, resumed_optimizer, 10) != continued   # not equal by chance
    resumed_optimizer.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    assert resumed.last_epoch == scheduler.last_epoch - 10
    assert run_momentum(resumed, resumed_optimizer, 10) == continued


def test_state_dict_does_not_hold_plain_functions():
    for scheduler in (S.MultiplicativeLR(make_optimizer(), lambda t: 0.9),
                      S.CyclicLR(make_optimizer(), 0.1, 1.0, scale_fn=lambda c: 1.0)):
        state = scheduler.state_dict()
        held = state.get("lr_lambdas", [state.get("_scale_fn_custom")])
        assert all(item is None for item in held)
        assert not any(callable(value) for value in state.values())
