"""Audit of the learning-rate schedulers against PyTorch's rules, written out in NumPy.

PyTorch's MultiplicativeLR is recursive: α_t = α_(t−1)·λ(t) for t > 0 and, at t = 0,
α_0 = the group's rate as it is (``get_lr`` returns ``group["lr"]``). SequentialLR
starts a later scheduler at its milestone with ``step(0)``, so a MultiplicativeLR
there goes on from the rate the scheduler before it left, not from α0.
"""

import copy
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import lr_scheduler as S

LR0 = np.array([0.1, 0.02])


def make_sgd(lrs=LR0):
    groups = [{"params": [tg.zeros(2, requires_grad=True)], "lr": float(lr)} for lr in lrs]
    return optim.SGD(groups, lr=float(lrs[0]), momentum=0.9)


def factor(t):
    return 0.9 if t % 2 else 0.8


def rates(scheduler, optimizer, steps):
    """The rate of each group at t = 0 .. steps-1, checked against get_last_lr()."""
    rows = []
    for _ in range(steps):
        rows.append([group["lr"] for group in optimizer.param_groups])
        assert scheduler.get_last_lr() == rows[-1]
        scheduler.step()
    return np.array(rows)


def multiplicative_from(start, t0, t):
    """start · λ(1) ··· λ(t − t0): PyTorch's recursion begun at local step 0 = t0."""
    return start * np.prod([factor(j) for j in range(1, t - t0 + 1)])


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # step order: no optimizer.step here
        yield


def test_sequential_multiplicative_after_warmup_goes_on_from_the_warmup_rate():
    optimizer = make_sgd()
    warmup = S.LinearLR(optimizer, start_factor=0.1, end_factor=1.0, total_iters=5)
    decay = S.MultiplicativeLR(optimizer, factor)
    scheduler = S.SequentialLR(optimizer, [warmup, decay], milestones=[3])
    got = rates(scheduler, optimizer, 12)
    linear = [LR0 * (0.1 + 0.9 * min(t, 5) / 5) for t in range(3)]
    expected = linear + [multiplicative_from(linear[2], 3, t) for t in range(3, 12)]
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-13, atol=0)


def test_sequential_multiplicative_twice_then_exponential():
    optimizer = make_sgd()
    first = S.MultiplicativeLR(optimizer, lambda t: 0.5)
    second = S.MultiplicativeLR(optimizer, factor)
    third = S.ExponentialLR(optimizer, gamma=0.7)
    scheduler = S.SequentialLR(optimizer, [first, second, third], milestones=[2, 5])
    got = rates(scheduler, optimizer, 9)
    expected = [LR0 * 0.5 ** t for t in range(2)]
    expected += [multiplicative_from(expected[1], 2, t) for t in range(2, 5)]
    expected += [LR0 * 0.7 ** (t - 5) for t in range(5, 9)]     # closed form from α0
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-13, atol=0)


def test_sequential_with_multiplicative_resumes_after_the_milestone():
    def build(optimizer):
        warmup = S.ConstantLR(optimizer, factor=0.25, total_iters=10)
        return S.SequentialLR(optimizer, [warmup, S.MultiplicativeLR(optimizer, factor)],
                              milestones=[4])

    optimizer = make_sgd()
    scheduler = build(optimizer)
    for _ in range(6):
        scheduler.step()
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_scheduler = copy.deepcopy(scheduler.state_dict())
    fresh = make_sgd()
    resumed = build(fresh)
    fresh.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    got = rates(resumed, fresh, 5)                   # t = 6 .. 10
    expected = [multiplicative_from(LR0 * 0.25, 4, t) for t in range(6, 11)]
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-13, atol=0)


def test_multiplicative_step_zero_starts_from_the_current_rate():
    optimizer = make_sgd()
    scheduler = S.MultiplicativeLR(optimizer, factor)
    for _ in range(3):
        scheduler.step()
    np.testing.assert_allclose(scheduler.get_last_lr(), multiplicative_from(LR0, 0, 3),
                               rtol=1e-13)
    optimizer.param_groups[0]["lr"] = 0.5            # a rate written from outside
    scheduler.step(0)                                # PyTorch: α_0 = the rate as it is
    current = np.array([0.5, multiplicative_from(LR0, 0, 3)[1]])
    np.testing.assert_allclose(scheduler.get_last_lr(), current, rtol=1e-13)
    got = rates(scheduler, optimizer, 4)
    expected = [multiplicative_from(current, 0, t) for t in range(4)]
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-13, atol=0)
