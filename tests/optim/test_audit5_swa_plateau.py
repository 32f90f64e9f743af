"""swa_utils and the plateau/cyclic/one-cycle/polynomial/linear/constant schedules, step by
step against plain-Python references written from PyTorch's formulas (its get_lr code)."""

import itertools
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, nn
from tinygrad_opt.optim import lr_scheduler as S
from tinygrad_opt.optim.swa_utils import (AveragedModel, SWALR, get_ema_avg_fn,
                                          get_ema_multi_avg_fn, get_swa_avg_fn,
                                          get_swa_multi_avg_fn, update_bn)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def host(tensor):
    return backend.to_host(tensor.data).copy()


def two_groups(kind="sgd"):
    params = [tg.zeros(2, requires_grad=True) for _ in range(2)]
    groups = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)]
    if kind == "sgd":
        return tg.optim.SGD(groups, lr=0.1, momentum=0.9)
    return tg.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99))


def momenta(optimizer, kind):
    return [g["betas"][0] if kind == "adam" else g["momentum"] for g in optimizer.param_groups]


# --- update_bn ---

class DictNet(nn.Module):
    """BatchNorm two modules deep, fed by a dict (PyTorch hands a dict batch to the model)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.BatchNorm1d(4)))
        self.head = nn.BatchNorm1d(4, momentum=0.3)

    def forward(self, batch):
        x = batch["x"] if isinstance(batch, dict) else batch
        return self.head(self.body(x))


def cumulative_bn_reference(net, batches):
    """Running mean/var of both BatchNorms after update_bn: the plain means over the batches
    of the batch means and the unbiased batch variances (momentum None)."""
    W, b = host(net.body[0].weight), host(net.body[0].bias)
    hidden = [x @ W.T + b for x in batches]
    gamma, beta = host(net.body[1][0].weight), host(net.body[1][0].bias)
    normed = [gamma * (h - h.mean(0)) / np.sqrt(h.var(0) + 1e-5) + beta for h in hidden]
    stats = []
    for outs in (hidden, normed):
        stats.append((np.mean([o.mean(0) for o in outs], 0),
                      np.mean([o.var(0, ddof=1) for o in outs], 0)))
    return stats


@pytest.mark.parametrize("form", ["dict", "dict_in_tuple", "dict_with_device"])
def test_update_bn_passes_dict_batches_to_the_model(form, device, rng):
    net = DictNet()
    net.to(device=device, dtype=tg.float64)
    net.eval()
    batches = [rng.normal(size=(6, 3)) for _ in range(5)]
    on_host = [{"x": tg.tensor(x, dtype=tg.float64)} for x in batches]
    on_device = [{"x": tg.tensor(x, dtype=tg.float64, device=device)} for x in batches]
    if form == "dict":
        loader, kwargs = on_device, {}
    elif form == "dict_in_tuple":
        loader, kwargs = [(batch, 0) for batch in on_device], {}
    else:
        loader, kwargs = on_host, {"device": device}
    update_bn(loader, net, **kwargs)
    layers = [net.body[1][0], net.head]
    for layer, (mean, var) in zip(layers, cumulative_bn_reference(net, batches)):
        np.testing.assert_allclose(host(layer.running_mean), mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(host(layer.running_var), var, rtol=1e-12, atol=1e-12)
        assert layer.num_batches_tracked.item() == 5
    assert net.body[1][0].momentum == 0.1 and net.head.momentum == 0.3
    assert net.training is False


@pytest.mark.parametrize("form", ["array", "tuple", "list_of_tensors"])
def test_update_bn_cumulative_average_over_nested_batchnorms(form, device, rng):
    net = DictNet()
    net.to(device=device, dtype=tg.float64)
    for layer in (net.body[1][0], net.head):        # stale statistics, to be reset
        layer.running_mean.data[...] = 7.0
        layer.running_var.data[...] = 3.0
    batches = [rng.normal(size=(4 + k, 3)) for k in range(6)]
    loader = {"array": batches,
              "tuple": [(x, np.zeros(len(x))) for x in batches],
              "list_of_tensors": [[tg.tensor(x, device=device), None] for x in batches]}[form]
    update_bn(loader, net)
    layers = [net.body[1][0], net.head]
    for layer, (mean, var) in zip(layers, cumulative_bn_reference(net, batches)):
        np.testing.assert_allclose(host(layer.running_mean), mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(host(layer.running_var), var, rtol=1e-12, atol=1e-12)
    assert net.training is True


# --- AveragedModel ---

RULES = {
    "swa_default": (dict(), lambda avg, w, n: avg + (w - avg) / (n + 1)),
    "ema_mode": (dict(mode="ema", decay=0.9), lambda avg, w, n: 0.9 * avg + 0.1 * w),
    "avg_fn_swa": (dict(avg_fn=get_swa_avg_fn()), lambda avg, w, n: avg + (w - avg) / (n + 1)),
    "avg_fn_ema": (dict(avg_fn=get_ema_avg_fn(0.8)), lambda avg, w, n: 0.8 * avg + 0.2 * w),
    "multi_swa": (dict(multi_avg_fn=get_swa_multi_avg_fn()),
                  lambda avg, w, n: avg + (w - avg) / (n + 1)),
    "multi_ema": (dict(multi_avg_fn=get_ema_multi_avg_fn(0.7)),
                  lambda avg, w, n: avg + 0.3 * (w - avg)),     # lerp(avg, w, 1 − decay)
}
# integer buffers (num_batches_tracked) are averaged too, as in PyTorch: the rule in float32
# (the default dtype), truncated back to int64; get_ema_multi_avg_fn's integer form is
# δ·w̄ + (1−δ)·w
INT_RULES = {**{name: rule for name, (_, rule) in RULES.items()},
             "multi_ema": lambda avg, w, n: 0.7 * avg + 0.3 * w}


def int_update(rule, avg, w, n):
    value = INT_RULES[rule](avg.astype(np.float32), w.astype(np.float32), n)
    return np.trunc(value).astype(np.int64)


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("rule", list(RULES))
def test_averaged_model_30_updates_against_numpy(rule, use_buffers, device, rng):
    options, update = RULES[rule]
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model.to(device=device, dtype=tg.float64)
    swa = AveragedModel(model, use_buffers=use_buffers, **options)

    def tensors(m):
        return list(m.parameters()) + (list(m.buffers()) if use_buffers else [])

    reference = None
    for n in range(30):
        for p in model.parameters():
            p.data[...] = backend.to_device(rng.normal(size=p.shape), p.device)
        model(tg.tensor(rng.normal(size=(5, 3)), device=device))   # moves BN statistics
        current = [host(t) for t in tensors(model)]
        if reference is None:
            reference = current                                   # the first update copies
        else:
            reference = [update(avg, w, n) if np.issubdtype(w.dtype, np.floating)
                         else int_update(rule, avg, w, n) for avg, w in zip(reference, current)]
        swa.update_parameters(model)
        for got, expected in zip(tensors(swa.module), reference):
            np.testing.assert_allclose(host(got), expected, rtol=1e-12, atol=1e-13)
        if not use_buffers:                                       # buffers follow the model
            for mine, theirs in zip(swa.module.buffers(), model.buffers()):
                np.testing.assert_array_equal(host(mine), host(theirs))
        assert swa.n_averaged.item() == n + 1
    # n_averaged is a buffer: saved and restored with the weights
    state = swa.state_dict()
    assert int(backend.to_host(state["n_averaged"].data)) == 30
    restored = AveragedModel(model, use_buffers=use_buffers, **options)
    restored.load_state_dict(state)
    assert restored.n_averaged.item() == 30
    w = [host(t) for t in tensors(model)]
    restored.update_parameters(model)
    expected = [update(avg, x, 30) if np.issubdtype(x.dtype, np.floating)
                else int_update(rule, avg, x, 30) for avg, x in zip(reference, w)]
    for got, value in zip(tensors(restored.module), expected):
        np.testing.assert_allclose(host(got), value, rtol=1e-12, atol=1e-13)


# --- SWALR ---

def swalr_reference(lrs, swa_lrs, E, strategy, steps):
    """PyTorch's SWALR.get_lr, step by step (α_start recovered from the current lr)."""
    anneal = (lambda x: (1 - math.cos(math.pi * x)) / 2) if strategy == "cos" else (lambda x: x)
    lrs, out = list(lrs), []
    for s in range(steps):
        step = max(1, s) if E == 0 else s
        a_prev = anneal(max(0, min(1, (step - 1) / max(1, E))))
        a_now = anneal(max(0, min(1, step / max(1, E))))
        starts = [swa if a_prev == 1 else (lr - a_prev * swa) / (1 - a_prev)
                  for lr, swa in zip(lrs, swa_lrs)]
        lrs = [swa * a_now + start * (1 - a_now) for swa, start in zip(swa_lrs, starts)]
        out.append(lrs)
    return out


@pytest.mark.parametrize("E, strategy", [(0, "cos"), (1, "linear"), (7, "cos"), (12, "linear")])
def test_swalr_per_group_32_steps(E, strategy):
    optimizer = two_groups()
    scheduler = SWALR(optimizer, swa_lr=[0.01, 0.05], anneal_epochs=E, anneal_strategy=strategy)
    seen = [scheduler.get_last_lr()]
    for _ in range(31):
        scheduler.step()
        seen.append(scheduler.get_last_lr())
        assert [g["lr"] for g in optimizer.param_groups] == seen[-1]
    np.testing.assert_allclose(seen, swalr_reference([0.1, 0.2], [0.01, 0.05], E, strategy, 32),
                               rtol=1e-13, atol=1e-15)


# --- ReduceLROnPlateau ---

class PlateauReference:
    """PyTorch's ReduceLROnPlateau.step and _reduce_lr."""

    def __init__(self, lrs, mode, factor, patience, threshold, threshold_mode, cooldown,
                 min_lrs, eps):
        self.lrs, self.mode, self.factor, self.patience = list(lrs), mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lrs, self.eps = min_lrs, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = self.num_bad_epochs = 0

    def better(self, a):
        if self.mode == "min":
            bar = (self.best * (1 - self.threshold) if self.threshold_mode == "rel"
                   else self.best - self.threshold)
            return a < bar
        bar = (self.best * (1 + self.threshold) if self.threshold_mode == "rel"
               else self.best + self.threshold)
        return a > bar

    def step(self, metric):
        if self.better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for i, lr in enumerate(self.lrs):
                new = max(lr * self.factor, self.min_lrs[i])
                if lr - new > self.eps:
                    self.lrs[i] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0


@pytest.mark.parametrize("mode, threshold_mode", list(itertools.product(["min", "max"],
                                                                         ["rel", "abs"])))
def test_plateau_40_steps_with_state_dict_round_trip(mode, threshold_mode, rng):
    for trial in range(12):
        factor = float(rng.uniform(0.1, 0.9))
        patience, cooldown = int(rng.integers(0, 4)), int(rng.integers(0, 3))
        threshold = float(rng.choice([0.0, 1e-4, 0.05, 0.5]))
        eps = float(rng.choice([1e-8, 1e-3]))
        min_lr = [0.01, 0.0] if trial % 2 else 0.02
        min_lrs = min_lr if isinstance(min_lr, list) else [min_lr, min_lr]
        optimizer = two_groups()
        options = dict(mode=mode, factor=factor, patience=patience, threshold=threshold,
                       threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr, eps=eps)
        scheduler = S.ReduceLROnPlateau(optimizer, **options)
        reference = PlateauReference([0.1, 0.2], mode, factor, patience, threshold,
                                     threshold_mode, cooldown, min_lrs, eps)
        metrics = np.cumsum(rng.normal(0, 1, size=40)) * 0.1 + rng.integers(0, 3, size=40)
        for k, metric in enumerate(metrics):
            if k == 20:          # resume: a fresh scheduler with default options takes the state
                fresh = two_groups()
                for mine, old in zip(fresh.param_groups, optimizer.param_groups):
                    mine["lr"] = old["lr"]
                state = scheduler.state_dict()
                optimizer, scheduler = fresh, S.ReduceLROnPlateau(fresh)
                scheduler.load_state_dict(state)
            scheduler.step(tg.tensor(float(metric), dtype=tg.float64) if k % 3 == 0
                           else float(metric))
            reference.step(float(metric))
            assert scheduler.get_last_lr() == reference.lrs
            assert [g["lr"] for g in optimizer.param_groups] == reference.lrs
            assert (scheduler.best, scheduler.num_bad_epochs, scheduler.cooldown_counter,
                    scheduler.last_epoch) == (reference.best, reference.num_bad_epochs,
                                              reference.cooldown_counter, k + 1)


def test_plateau_group_added_later_takes_the_default_min_lr_or_raises():
    optimizer = two_groups()
    scheduler = S.ReduceLROnPlateau(optimizer, patience=0, min_lr=0.05)
    optimizer.add_param_group({"params": [tg.zeros(1, requires_grad=True)], "lr": 0.3})
    for metric in (1.0, 2.0, 3.0):
        scheduler.step(metric)
    # 0.1 → max(0.01, 0.05), 0.2 → 0.05 (two reductions), 0.3 → 0.03 → 0.05 floor
    assert scheduler.get_last_lr() == pytest.approx([0.05, 0.05, 0.05])
    assert scheduler.min_lrs == [0.05, 0.05, 0.05]
    optimizer = two_groups()
    scheduler = S.ReduceLROnPlateau(optimizer, patience=0, min_lr=[0.0, 0.0])
    optimizer.add_param_group({"params": [tg.zeros(1, requires_grad=True)], "lr": 0.3})
    scheduler.step(1.0)
    with pytest.raises(RuntimeError, match="min_lr"):
        scheduler.step(2.0)


def test_errors_name_the_scheduler_argument_and_value():
    with pytest.raises(ValueError, match=r"LinearLR: Starting multiplicative factor.*"
                                         r"start_factor=1\.5"):
        S.LinearLR(two_groups(), start_factor=1.5)
    with pytest.raises(ValueError, match=r"LinearLR: Ending multiplicative factor.*"
                                         r"end_factor=-0\.5"):
        S.LinearLR(two_groups(), end_factor=-0.5)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: Factor should be < 1\.0.*"
                                         r"factor=1\.5"):
        S.ReduceLROnPlateau(two_groups(), factor=1.5)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: mode middle is unknown.*'min'"):
        S.ReduceLROnPlateau(two_groups(), mode="middle")
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: threshold mode pct is unknown"
                                         r".*threshold_mode"):
        S.ReduceLROnPlateau(two_groups(), threshold_mode="pct")
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: expected 2 min_lrs.*"
                                         r"min_lr=\[0\.1\]"):
        S.ReduceLROnPlateau(two_groups(), min_lr=[0.1])


# --- CyclicLR and OneCycleLR ---

def cyclic_reference(t, base, top, up, down, mode, gamma, scale_fn, scale_mode, bm, mm):
    """PyTorch's CyclicLR.get_lr at last_epoch t: (lrs, momenta)."""
    down = up if down is None else down
    total = float(up + down)
    ratio = up / total
    if scale_fn is None:
        scale_fn, scale_mode = {"triangular": (lambda c: 1.0, "cycle"),
                                "triangular2": (lambda c: 1 / (2.0 ** (c - 1)), "cycle"),
                                "exp_range": (lambda c: gamma ** c, "iterations")}[mode]
    cycle = math.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    height = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    scale = scale_fn(cycle) if scale_mode == "cycle" else scale_fn(t)
    return ([b + (m - b) * height * scale for b, m in zip(base, top)],
            [M - (M - B) * height * scale for B, M in zip(bm, mm)])


CYCLIC = list(itertools.product(["sgd", "adam"], ["triangular", "triangular2", "exp_range"],
                                [None, "cycle", "iterations"], [(3, None), (4, 2), (3, 0)]))


@pytest.mark.parametrize("kind, mode, custom, sizes", CYCLIC)
def test_cyclic_lr_and_momentum_35_steps(kind, mode, custom, sizes):
    scale_fn = None if custom is None else (lambda c: 0.5 * (1 + math.sin(c)))
    scale_mode = custom or "cycle"
    optimizer = two_groups(kind)
    base, top, bm, mm = [0.01, 0.02], [0.1, 0.3], [0.8, 0.7], [0.9, 0.95]
    scheduler = S.CyclicLR(optimizer, base_lr=base, max_lr=top, step_size_up=sizes[0],
                           step_size_down=sizes[1], mode=mode, gamma=0.9, scale_fn=scale_fn,
                           scale_mode=scale_mode, base_momentum=bm, max_momentum=mm)
    for t in range(35):
        if t:
            scheduler.step()
        lrs, ms = cyclic_reference(t, base, top, *sizes, mode, 0.9, scale_fn, scale_mode, bm, mm)
        np.testing.assert_allclose(scheduler.get_last_lr(), lrs, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(momenta(optimizer, kind), ms, rtol=1e-14, atol=1e-15)
        if kind == "adam":
            assert all(g["betas"][1] == 0.99 for g in optimizer.param_groups)


def one_cycle_reference(total, max_lrs, pct, strategy, bm, mm, div, final_div, three):
    """PyTorch's OneCycleLR.get_lr for t = 0..total: [(lrs, momenta)]."""
    initial = [m / div for m in max_lrs]
    low = [i / final_div for i in initial]
    if three:
        phases = [(float(pct * total) - 1, initial, max_lrs, mm, bm),
                  (float(2 * pct * total) - 2, max_lrs, initial, bm, mm),
                  (total - 1, initial, low, mm, mm)]
    else:
        phases = [(float(pct * total) - 1, initial, max_lrs, mm, bm),
                  (total - 1, max_lrs, low, bm, mm)]
    if strategy == "cos":
        def anneal(a, b, p):
            return b + (a - b) / 2.0 * (math.cos(math.pi * p) + 1)
    else:
        def anneal(a, b, p):
            return (b - a) * p + a
    out = []
    for t in range(total + 1):
        start = 0.0
        for i, (end, a, b, c, d) in enumerate(phases):
            if t <= end or i == len(phases) - 1:
                p = (t - start) / (end - start)
                out.append(([anneal(a[g], b[g], p) for g in range(2)],
                            [anneal(c[g], d[g], p) for g in range(2)]))
                break
            start = end
    return out


ONE_CYCLE = list(itertools.product(["sgd", "adam"], ["cos", "linear"], [False, True],
                                   [(31, 0.3, None), (40, 0.25, (8, 5))]))


@pytest.mark.parametrize("kind, strategy, three, shape", ONE_CYCLE)
def test_one_cycle_lr_and_momentum_every_step_then_the_error(kind, strategy, three, shape):
    total, pct, epochs = shape
    optimizer = two_groups(kind)
    length = dict(total_steps=total) if epochs is None else dict(epochs=epochs[0],
                                                                  steps_per_epoch=epochs[1])
    scheduler = S.OneCycleLR(optimizer, max_lr=[0.5, 1.0], pct_start=pct,
                             anneal_strategy=strategy, base_momentum=[0.85, 0.8],
                             max_momentum=[0.95, 0.9], div_factor=10.0, final_div_factor=100.0,
                             three_phase=three, **length)
    reference = one_cycle_reference(total, [0.5, 1.0], pct, strategy, [0.85, 0.8], [0.95, 0.9],
                                    10.0, 100.0, three)
    for t in range(total + 1):
        if t:
            scheduler.step()
        np.testing.assert_allclose(scheduler.get_last_lr(), reference[t][0],
                                   rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(momenta(optimizer, kind), reference[t][1],
                                   rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match=f"total_steps is {total}"):
        scheduler.step()


# --- LinearLR, ConstantLR, PolynomialLR: PyTorch's recursive rule, and resuming ---

def recursive_rule(name, t, lr):
    """PyTorch's chainable get_lr of each schedule (lr = the group's rate at t − 1)."""
    if name == "linear":                                # start 0.2, end 0.9, T 7
        s, e, T = 0.2, 0.9, 7
        if t == 0:
            return lr * s
        if t > T:
            return lr
        return lr * (1.0 + (e - s) / (T * s + (t - 1) * (e - s)))
    if name == "constant":                              # factor 0.3, T 6
        if t == 0:
            return lr * 0.3
        return lr * (1 / 0.3) if t == 6 else lr
    if t == 0 or t > 9:                                 # polynomial: T 9, power 2.5
        return lr
    return lr * ((1.0 - t / 9) / (1.0 - (t - 1) / 9)) ** 2.5


FACTOR_MAKERS = {
    "linear": lambda o, last=-1: S.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=7,
                                            last_epoch=last),
    "constant": lambda o, last=-1: S.ConstantLR(o, factor=0.3, total_iters=6, last_epoch=last),
    "polynomial": lambda o, last=-1: S.PolynomialLR(o, total_iters=9, power=2.5,
                                                    last_epoch=last),
}


@pytest.mark.parametrize("name", list(FACTOR_MAKERS))
@pytest.mark.parametrize("resume_at", [None, 4, 8])
def test_factor_schedules_32_steps_and_last_epoch_resumption(name, resume_at):
    optimizer = two_groups()
    scheduler = FACTOR_MAKERS[name](optimizer)
    lrs = [recursive_rule(name, 0, lr) for lr in (0.1, 0.2)]
    assert scheduler.get_last_lr() == pytest.approx(lrs, rel=1e-13)
    for t in range(1, 32):
        if t - 1 == resume_at:     # a new scheduler on a new optimizer holding the saved groups
            fresh = two_groups()
            for mine, old in zip(fresh.param_groups, optimizer.param_groups):
                mine["lr"], mine["initial_lr"] = old["lr"], old["initial_lr"]
            optimizer = fresh
            scheduler = FACTOR_MAKERS[name](optimizer, resume_at)    # its first step: t
        else:
            scheduler.step()
        lrs = [recursive_rule(name, t, lr) for lr in lrs]
        assert scheduler.last_epoch == t
        np.testing.assert_allclose(scheduler.get_last_lr(), lrs, rtol=1e-12, atol=1e-16)
        np.testing.assert_allclose([g["lr"] for g in optimizer.param_groups], lrs,
                                   rtol=1e-12, atol=1e-16)
