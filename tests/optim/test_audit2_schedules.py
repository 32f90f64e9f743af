"""Second audit of the schedules, SWA utilities, LBFGS and the rarer first-order rules.

Every expected value is written here from PyTorch's documented semantics (its algorithm
boxes and the code of ``torch.optim``), in plain NumPy or by hand, never by calling the
package under test.
"""

import copy
import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, optim
from tinygrad_opt.optim import lr_scheduler as S
from tinygrad_opt.optim import swa_utils


def sgd(lrs=(1.0,), momentum=0.9):
    params = [tg.tensor(np.zeros(2), requires_grad=True) for _ in lrs]
    return optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)],
                     momentum=momentum)


# --- a parameter group added after the scheduler was made ---

LATE_GROUP_SCHEDULES = {
    # name: (make, α_t of the first group for t = 0, 1, ...)
    "StepLR": (lambda o: S.StepLR(o, 2, 0.5), lambda t: 0.5 ** (t // 2)),
    "ChainedScheduler": (lambda o: S.ChainedScheduler([S.StepLR(o, 2, 0.5),
                                                       S.ExponentialLR(o, 0.9)]),
                         lambda t: 0.5 ** (t // 2) * 0.9 ** t),
    "nested ChainedScheduler": (
        lambda o: S.ChainedScheduler([S.ChainedScheduler([S.ExponentialLR(o, 0.9)]),
                                      S.ConstantLR(o, 0.5, 3)]),
        lambda t: 0.9 ** t * (0.5 if t < 3 else 1.0)),
    "SequentialLR": (lambda o: S.SequentialLR(o, [S.ConstantLR(o, 0.1, 2),
                                                  S.ExponentialLR(o, 0.9)], [3]),
                     lambda t: (0.1 if t < 2 else 1.0) if t < 3 else 0.9 ** (t - 3)),
    "MultiplicativeLR": (lambda o: S.MultiplicativeLR(o, lambda t: 0.8), lambda t: 0.8 ** t),
    "CosineAnnealingWarmRestarts": (lambda o: S.CosineAnnealingWarmRestarts(o, 3),
                                    lambda t: (1 + math.cos(math.pi * (t % 3) / 3)) / 2),
}


@pytest.mark.parametrize("name", list(LATE_GROUP_SCHEDULES))
def test_a_group_added_after_the_scheduler_keeps_its_rate(name):
    """PyTorch's schedulers write only the groups the optimizer had when they were made
    (their base_lrs); get_last_lr() lists every group. ChainedScheduler used to raise
    KeyError('initial_lr') at its next step."""
    make, alpha = LATE_GROUP_SCHEDULES[name]
    optimizer = sgd()
    scheduler = make(optimizer)
    optimizer.add_param_group({"params": [tg.tensor(np.zeros(3), requires_grad=True)],
                               "lr": 0.3})
    for t in range(1, 9):
        scheduler.step()
        np.testing.assert_allclose(scheduler.get_last_lr(), [alpha(t), 0.3], rtol=1e-12,
                                   err_msg=f"t={t}")
        assert [group["lr"] for group in optimizer.param_groups] == scheduler.get_last_lr()
    assert "initial_lr" not in optimizer.param_groups[1]


def test_chained_scheduler_with_a_scheduler_made_after_the_group_was_added():
    """Each scheduler of a chain writes the groups it knows: the late group gets the
    factor of the schedulers made after it was added, and only theirs (PyTorch multiplies
    the rate of that group by their ratios only)."""
    optimizer = sgd()
    first = S.StepLR(optimizer, 2, 0.5)                       # knows group 0 only
    optimizer.add_param_group({"params": [tg.tensor(np.zeros(1), requires_grad=True)],
                               "lr": 0.3})
    second = S.ExponentialLR(optimizer, 0.9)                  # knows both groups
    chain = S.ChainedScheduler([first, second])
    for t in range(1, 7):
        chain.step()
        np.testing.assert_allclose(chain.get_last_lr(),
                                   [0.5 ** (t // 2) * 0.9 ** t, 0.3 * 0.9 ** t], rtol=1e-12)


# --- update_bn resets BatchNorm only ---

def test_update_bn_leaves_instance_norm_statistics_to_its_own_momentum():
    """PyTorch's update_bn resets the running statistics of its _BatchNorm modules only.
    An InstanceNorm tracking statistics is not one: during the pass it updates them with
    its own momentum, r ← (1 − m)·r + m·(mean over the batch of each instance's mean,
    or unbiased variance). They used to be reset to 0 and 1 and then left there."""
    norm = nn.InstanceNorm1d(2, momentum=0.25, track_running_stats=True)
    batch_norm = nn.BatchNorm1d(2, momentum=0.3)
    model = nn.Sequential(norm, batch_norm).to(dtype=tg.float64)
    model.eval()
    norm.running_mean.data[...] = 5.0
    norm.running_var.data[...] = 4.0
    batch_norm.running_mean.data[...] = 100.0                  # stale: reset and recomputed
    rng = np.random.default_rng(3)
    batches = [rng.normal(1.0, 2.0, size=(3, 2, 6)) for _ in range(2)]

    swa_utils.update_bn(batches, model)

    mean, var = np.full(2, 5.0), np.full(2, 4.0)
    for x in batches:
        mean = 0.75 * mean + 0.25 * x.mean(axis=2).mean(axis=0)
        var = 0.75 * var + 0.25 * x.var(axis=2, ddof=1).mean(axis=0)
    np.testing.assert_allclose(norm.running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(norm.running_var.numpy(), var, rtol=1e-12)
    assert norm.momentum == 0.25
    # the BatchNorm was reset: the cumulative mean of its two batch means (about 0, as
    # its inputs are instance-normalised), not anywhere near the stale 100
    assert batch_norm.num_batches_tracked.item() == 2
    assert np.abs(batch_norm.running_mean.numpy()).max() < 1e-12
    assert batch_norm.momentum == 0.3 and not model.training


# --- Rprop: a NaN sign ---

def test_rprop_nan_sign_makes_the_step_size_nan_as_pytorch():
    """PyTorch sets η from sign(g·g_prev) by replacing the positives, negatives and zeros,
    so a NaN sign (NaN gradient, or inf·0 on the first step) stays NaN: Δ and θ become
    NaN. The infinite gradient used to take a finite step of −Δ instead."""
    p = tg.tensor(np.array([1.0, 2.0, 3.0, 4.0]), requires_grad=True)
    optimizer = optim.Rprop([p], lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # NumPy's inf·0
        p.grad = tg.tensor(np.array([np.inf, 1.0, np.nan, -1.0]))
        optimizer.step()
        np.testing.assert_array_equal(p.numpy(), [np.nan, 1.9, np.nan, 4.1])
        np.testing.assert_array_equal(optimizer.state[p]["step_size"], [np.nan, 0.1, np.nan, 0.1])
        np.testing.assert_array_equal(optimizer.state[p]["prev"], [np.inf, 1.0, np.nan, -1.0])
        p.grad = tg.tensor(np.array([1.0, 1.0, 1.0, 1.0]))   # the second and the last flip
        optimizer.step()
    np.testing.assert_allclose(p.numpy(), [np.nan, 1.9 - 0.12, np.nan, 4.1], rtol=1e-15)
    np.testing.assert_allclose(optimizer.state[p]["step_size"], [np.nan, 0.12, np.nan, 0.05],
                               rtol=1e-15)
    np.testing.assert_array_equal(optimizer.state[p]["prev"], [1.0, 1.0, 1.0, 0.0])


def test_update_bn_still_recomputes_batchnorm2d_and_syncbatchnorm():
    """Every BatchNorm kind is reset and recomputed as a cumulative average over the pass:
    running mean = the mean of the batch means, running var = the mean of the unbiased
    batch variances (PyTorch's momentum=None), over (N, H, W) per channel."""
    first, second = nn.BatchNorm2d(2, momentum=0.2), nn.SyncBatchNorm(2, momentum=0.4)
    model = nn.Sequential(first, second).to(dtype=tg.float64)
    for layer in (first, second):
        layer.running_mean.data[...] = 50.0
        layer.running_var.data[...] = 9.0
    rng = np.random.default_rng(4)
    batches = [rng.normal(3.0, 2.0, size=(4, 2, 3, 2)) for _ in range(3)]

    swa_utils.update_bn(batches, model)

    def statistics(xs):
        means = [x.mean(axis=(0, 2, 3)) for x in xs]
        variances = [x.var(axis=(0, 2, 3), ddof=1) for x in xs]
        return np.mean(means, axis=0), np.mean(variances, axis=0)

    def normalised(x):                        # the first layer's output in train mode
        mean = x.mean(axis=(0, 2, 3), keepdims=True)
        return (x - mean) / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + 1e-5)

    for layer, inputs in ((first, batches), (second, [normalised(x) for x in batches])):
        mean, var = statistics(inputs)
        np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(layer.running_var.numpy(), var, rtol=1e-10)
        assert layer.num_batches_tracked.item() == 3
    assert (first.momentum, second.momentum) == (0.2, 0.4)


# --- CyclicLR: a custom scale_fn of the iteration count, with the momentum ---

def test_cyclic_custom_scale_fn_of_iterations_scales_lr_and_momentum():
    """With scale_fn and scale_mode='iterations', PyTorch evaluates scale_fn(t) (t the
    step count, not the cycle; mode is ignored) for both the rate and the momentum:
    α_t = base + (max − base)·h(t)·s(t), m_t = m_max − (m_max − m_base)·h(t)·s(t)."""
    optimizer = sgd((0.5, 0.5))
    scale = lambda t: 1 / (1 + 0.1 * t)                         # noqa: E731
    scheduler = S.CyclicLR(optimizer, [0.01, 0.02], [0.1, 0.3], step_size_up=2,
                           step_size_down=3, mode="triangular2", scale_fn=scale,
                           scale_mode="iterations", base_momentum=0.7, max_momentum=0.95)
    heights = [0, 0.5, 1, 2 / 3, 1 / 3]                         # one cycle of 2 up, 3 down
    for t in range(16):
        if t:
            scheduler.step()
        h = heights[t % 5] * scale(t)
        np.testing.assert_allclose(scheduler.get_last_lr(),
                                   [0.01 + 0.09 * h, 0.02 + 0.28 * h], rtol=1e-12, atol=1e-15)
        for group in optimizer.param_groups:
            assert group["momentum"] == pytest.approx(0.95 - 0.25 * h, rel=1e-12)


# --- LBFGS on Rosenbrock against an independent NumPy L-BFGS (PyTorch's algorithm) ---

def rosenbrock(x):
    """f = Σ 100·(x_(i+1) − x_i²)² + (1 − x_i)², and its gradient."""
    a, b = x[:-1], x[1:]
    f = np.sum(100 * (b - a * a) ** 2 + (1 - a) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400 * a * (b - a * a) - 2 * (1 - a)
    g[1:] += 200 * (b - a * a)
    return f, g


def cubic_minimum(x1, f1, g1, x2, f2, g2, low, high):
    """Where the cubic through (x1, f1, g1), (x2, f2, g2) is lowest, clipped to [low, high]
    (the middle if it has no real minimiser)."""
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1 * d1 - g1 * g2
    if square < 0:
        return (low + high) / 2
    d2 = math.sqrt(square)
    if x1 <= x2:
        x = x2 - (x2 - x1) * (g2 + d2 - d1) / (g2 - g1 + 2 * d2)
    else:
        x = x1 - (x1 - x2) * (g1 + d2 - d1) / (g1 - g2 + 2 * d2)
    return min(max(x, low), high)


def wolfe_step(fg, x, t, d, f, g, c1=1e-4, c2=0.9, max_ls=25):
    """A strong-Wolfe step length along d: bracket, then zoom (Nocedal & Wright 3.5, 3.6),
    with PyTorch's rules (1e-9 bracket tolerance, 10 % safeguard). Returns f, g, t, evals."""
    slope = g @ d
    points = [(0.0, f, g, slope)]                      # (t, f, g, slope) of the bracket
    f_t, g_t = fg(x + t * d)
    evals, tries, found = 1, 0, None
    while tries < max_ls:
        s_t = g_t @ d
        previous = points[-1]
        too_far = f_t > f + c1 * t * slope or (tries > 1 and f_t >= previous[1])
        if not too_far and abs(s_t) <= -c2 * slope:
            found = (f_t, g_t, t)                      # both conditions hold at t
            break
        if too_far or s_t >= 0:                        # a minimum lies in [previous, t]
            points = [previous, (t, f_t, g_t, s_t)]
            break
        new_t = cubic_minimum(previous[0], previous[1], previous[3], t, f_t, s_t,
                              t + 0.01 * (t - previous[0]), 10 * t)
        points = [(t, f_t, g_t, s_t)]
        t = new_t
        f_t, g_t = fg(x + t * d)
        evals, tries = evals + 1, tries + 1
    if found is not None:
        return (*found, evals)
    if tries == max_ls:
        points = [(0.0, f, g, slope), (t, f_t, g_t, None)]
    low = 0 if points[0][1] <= points[1][1] else 1
    stuck = False
    while tries < max_ls and abs(points[1][0] - points[0][0]) * np.abs(d).max() >= 1e-9:
        (a, fa, _, sa), (b, fb, _, sb) = points
        left, right = min(a, b), max(a, b)
        t = cubic_minimum(a, fa, sa, b, fb, sb, left, right)
        margin = 0.1 * (right - left)
        if min(right - t, t - left) < margin:
            if stuck or t >= right or t <= left:
                t = right - margin if abs(t - right) < abs(t - left) else left + margin
                stuck = False
            else:
                stuck = True
        else:
            stuck = False
        f_t, g_t = fg(x + t * d)
        evals, tries = evals + 1, tries + 1
        s_t = g_t @ d
        if f_t > f + c1 * t * slope or f_t >= points[low][1]:
            points[1 - low] = (t, f_t, g_t, s_t)
            low = 0 if points[0][1] <= points[1][1] else 1
            continue
        if abs(s_t) <= -c2 * slope:
            return f_t, g_t, t, evals
        if s_t * (points[1 - low][0] - points[low][0]) >= 0:
            points[1 - low] = points[low]
        points[low] = (t, f_t, g_t, s_t)
    t, f_t, g_t, _ = points[low]
    return f_t, g_t, t, evals


def lbfgs_reference(fg, x, calls, lr=1.0, max_iter=6, history=3, tol_grad=1e-7,
                    tol_change=1e-9):
    """PyTorch's LBFGS.step with line_search_fn='strong_wolfe', ``calls`` times."""
    max_eval = max_iter * 5 // 4
    memory, state = [], {"iterations": 0}
    for _ in range(calls):
        f, g = fg(x)
        evals = 1
        if np.abs(g).max() <= tol_grad:
            continue
        for k in range(1, max_iter + 1):
            state["iterations"] += 1
            if state["iterations"] == 1:
                d, gamma = -g, 1.0
            else:
                y, s = g - state["g"], state["t"] * state["d"]
                if y @ s > 1e-10:
                    memory = (memory + [(s, y, 1 / (y @ s))])[-history:]
                    gamma = (y @ s) / (y @ y)
                else:
                    gamma = state["gamma"]
                q, alphas = -g, []
                for s_i, y_i, rho_i in reversed(memory):
                    alphas.append(rho_i * (s_i @ q))
                    q = q - alphas[-1] * y_i
                d = gamma * q
                for (s_i, y_i, rho_i), alpha in zip(memory, reversed(alphas)):
                    d = d + (alpha - rho_i * (y_i @ d)) * s_i
            state.update(g=g.copy(), d=d, gamma=gamma)
            t = min(1.0, 1.0 / np.abs(g).sum()) * lr if state["iterations"] == 1 else lr
            if g @ d > -tol_change:
                break
            f_before = f
            f, g, t, used = wolfe_step(fg, x, t, d, f, g)
            x = x + t * d
            state["t"] = t
            evals += used
            if (k == max_iter or evals >= max_eval or np.abs(g).max() <= tol_grad
                    or np.abs(t * d).max() <= tol_change or abs(f - f_before) < tol_change):
                break
    return x


def test_lbfgs_strong_wolfe_on_rosenbrock_matches_an_independent_numpy_lbfgs():
    """Three step() calls of 6 iterations, history 3, from (−1.2, 1, −0.5, 1.5): the
    iterates agree with a NumPy L-BFGS written from PyTorch's algorithm."""
    start = np.array([-1.2, 1.0, -0.5, 1.5])
    x = tg.tensor(start.copy(), requires_grad=True)
    optimizer = optim.LBFGS([x], max_iter=6, history_size=3, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        a, b = x[:-1], x[1:]
        loss = (100 * (b - a * a) ** 2 + (1 - a) ** 2).sum()
        loss.backward()
        return loss

    for calls in (1, 2, 3):
        optimizer.step(closure)
        expected = lbfgs_reference(rosenbrock, start.copy(), calls)
        np.testing.assert_allclose(x.numpy(), expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"after {calls} step() calls")
    assert rosenbrock(x.numpy())[0] < rosenbrock(start)[0] / 10


def test_lbfgs_deepcopy_steps_like_the_original():
    """Optimizer.__getstate__ keeps defaults, state and groups: LBFGS's parameter list is read
    from its group, so a copy (and a pickle) can step (it raised AttributeError '_params')."""
    w = tg.tensor(np.array([1.5, -0.5]), requires_grad=True)
    original = optim.LBFGS([w], lr=1.0, max_iter=3)
    twin = copy.deepcopy(original)
    copied = twin.param_groups[0]["params"][0]

    def closure_of(p, opt):
        def closure():
            opt.zero_grad()
            loss = ((p - tg.tensor(np.array([1.0, 2.0]))) ** 2).sum()
            loss.backward()
            return loss
        return closure

    original.step(closure_of(w, original))
    twin.step(closure_of(copied, twin))
    np.testing.assert_array_equal(copied.numpy(), w.numpy())
