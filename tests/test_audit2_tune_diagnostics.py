"""Audit of tinygrad_opt.tune and tinygrad_opt.diagnostics against their documented promises.

Expected values are written by hand from the docstrings and docs/ pages
(docs/tuning-and-ensembles.md, docs/diagnostics.md).
"""

import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn, tune
from tinygrad_opt.diagnostics import Monitor, layer_grad_norms
from tinygrad_opt.tune import SearchResult, Trial


def log_quadratic(params):
    """Minimum 0 at lr = 10^-2.5."""
    return (math.log10(params["lr"]) + 2.5) ** 2


LR_SPACE = {"lr": tune.loguniform(1e-5, 1.0)}


def lrs(result):
    return [trial.params["lr"] for trial in result.trials]


# --- counts given as whole floats (whole_number accepts 3.0 as a count) ---------------------

def test_whole_float_trial_counts_run_like_the_integers():
    # the checks accept 3.0 as a count: it must then run as 3, not raise range()'s TypeError
    assert lrs(tune.random_search(log_quadratic, LR_SPACE, n_trials=3.0, seed=0)) == \
        lrs(tune.random_search(log_quadratic, LR_SPACE, n_trials=3, seed=0))
    as_floats = tune.bayes_search(log_quadratic, LR_SPACE, n_trials=5.0, seed=1, n_initial=2.0,
                                  n_candidates=50.0)
    as_ints = tune.bayes_search(log_quadratic, LR_SPACE, n_trials=5, seed=1, n_initial=2,
                                n_candidates=50)
    assert lrs(as_floats) == lrs(as_ints)


def test_whole_float_counts_in_coarse_to_fine():
    stages = [{"n_trials": 4.0}, {"n_trials": 2}]
    floats = tune.coarse_to_fine(log_quadratic, LR_SPACE, stages=stages, seed=0, top_k=2.0)
    ints = tune.coarse_to_fine(log_quadratic, LR_SPACE, stages=[{"n_trials": 4}, {"n_trials": 2}],
                               seed=0, top_k=2)
    assert lrs(floats) == lrs(ints)
    assert stages[0]["n_trials"] == 4.0                 # the caller's stages are not rewritten
    # default split of n_trials = 6: 1/2, 1/3, 1/6 -> stages of 3, 2, 1 trials
    split = tune.coarse_to_fine(log_quadratic, LR_SPACE, n_trials=6.0, seed=0)
    assert [trial.stage for trial in split.trials] == [0, 0, 0, 1, 1, 2]


# --- best-trial selection: NaN / inf never best ---------------------------------------------

@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_trial_value_is_never_best(mode, bad):
    # run_trial records NaN/±inf as failed; a Trial built by hand follows the same rule
    trials = [Trial(0, {"x": 0.5}, value=2.0), Trial(1, {"x": 0.5}, value=bad),
              Trial(2, {"x": 0.5}, value=1.0)]
    result = SearchResult(trials, {"x": tune.uniform(0, 1)}, mode)
    assert result.best.number == (2 if mode == "min" else 0)
    assert [trial.number for trial in result.ranked()] == ([2, 0] if mode == "min" else [0, 2])
    assert [trial.number for trial in result.failed] == [1]
    assert result.failed[0].error == f"objective returned {bad}"


def test_searches_never_rank_a_nan_objective():
    values = iter([3.0, math.nan, 1.0, math.inf, 2.0])

    def objective(params):
        return next(values)
    result = tune.random_search(objective, LR_SPACE, n_trials=5, seed=0, mode="max")
    assert result.best.number == 0                      # max of the finite 3, 1, 2
    assert [trial.number for trial in result.ranked()] == [0, 4, 2]
    assert [trial.status for trial in result.trials] == ["ok", "failed", "ok", "failed", "ok"]


def test_ties_rank_the_earlier_trial_first_in_both_modes():
    trials = [Trial(i, {"x": 0.5}, value=v) for i, v in enumerate([1.0, 0.5, 1.0, 0.5])]
    space = {"x": tune.uniform(0, 1)}
    low, high = SearchResult(trials, space, "min"), SearchResult(trials, space, "max")
    assert [t.number for t in low.ranked()] == [1, 3, 0, 2] and low.best.number == 1
    assert [t.number for t in high.ranked()] == [0, 2, 1, 3] and high.best.number == 0
    names = sorted(high.file_names().values())          # ls order = rank order
    assert [name.split("trial")[-1] for name in names] == ["000", "002", "001", "003"]


# --- spaces and grids -------------------------------------------------------------------------

def test_randint_excludes_hi_and_its_grid_gives_each_integer_once():
    rng = np.random.default_rng(0)
    draws = {tune.randint(-2, 1).sample(rng) for _ in range(200)}
    assert draws == {-2, -1, 0}                         # hi excluded, as torch.randint
    # fewer integers than points per axis: each integer exactly once, in order
    assert tune.grid_points({"n": tune.randint(0, 3)}, points_per_axis=5) == \
        [{"n": 0}, {"n": 1}, {"n": 2}]


@pytest.mark.parametrize("lo, hi", [(0.0, 1.0), (-1.0, 1.0), (1e-3, 1e-3), (1.0, 0.5)])
def test_loguniform_refuses_bounds_not_strictly_positive_and_increasing(lo, hi):
    with pytest.raises(ValueError, match="0 < lo < hi"):
        tune.loguniform(lo, hi)


def test_grid_is_every_combination_exactly_once():
    space = {"a": tune.uniform(0.0, 1.0), "b": tune.choice(["x", "y", "z"]), "k": 5,
             "c": tune.loguniform(1e-4, 1.0)}
    points = tune.grid_points(space, n_trials=12)       # 3 options · 2² = 12 <= 12 < 3 · 3²
    keys = [(p["a"], p["b"], p["c"]) for p in points]
    a_values, c_values = [0.25, 0.75], [1e-4 * 1e4 ** 0.25, 1e-4 * 1e4 ** 0.75]
    assert len(keys) == len(set(keys)) == 12
    assert all(p["k"] == 5 for p in points)
    for a, b, c in keys:
        assert b in "xyz"
        assert any(math.isclose(a, e) for e in a_values)
        assert any(math.isclose(c, e) for e in c_values)


def test_narrow_space_for_randint_follows_the_documented_rule():
    # units 0.85, 0.95 (cell centres of 8, 9 in 10 cells); ± margin 0.1 -> [0.75, 1.05],
    # width 0.3 <= shrink; shifted inside [0, 1] -> [0.7, 1.0] -> integers 7..9
    top = [Trial(0, {"n": 9}, value=0.0), Trial(1, {"n": 8}, value=1.0)]
    assert tune.narrow_space({"n": tune.randint(0, 10)}, top) == {"n": tune.randint(7, 10)}
    # a single best 0 (unit 0.05): hull [−0.05, 0.15], shifted to [0, 0.2] -> integers 0..2
    assert tune.narrow_space({"n": tune.randint(0, 10)}, [Trial(0, {"n": 0})]) == \
        {"n": tune.randint(0, 3)}
    # margin 0 and one trial: a point, widened to the shrink window [−0.2, 0.3] -> [0, 0.5]
    assert tune.narrow_space({"n": tune.randint(0, 10)}, [Trial(0, {"n": 0})], margin=0.0) == \
        {"n": tune.randint(0, 6)}


# --- Bayesian search: the documented claim on a 1-D quadratic --------------------------------

def test_bayes_reaches_a_tenth_of_a_decade_in_ten_trials_for_more_seeds():
    # docs: within 0.1 decades of the optimum (value < 0.01) in 10 trials for every seed
    # tried, and better than random search with the same budget
    bayes, random = [], []
    for seed in range(4, 14):
        bayes.append(tune.bayes_search(log_quadratic, LR_SPACE, n_trials=10, seed=seed).best.value)
        random.append(tune.random_search(log_quadratic, LR_SPACE, n_trials=10,
                                         seed=seed).best.value)
    assert max(bayes) < 0.01
    assert np.mean(bayes) < np.mean(random) / 10


# --- diagnostics -------------------------------------------------------------------------------

def set_weights(linear, weight, bias, device):
    linear.weight.data = tg.tensor(np.asarray(weight, np.float32), device=device).data
    linear.bias.data = tg.tensor(np.asarray(bias, np.float32), device=device).data


def test_empty_batch_records_nan_statistics_not_all_dead(device):
    # an empty batch has no statistics ("a value that does not apply is NaN"); before, the
    # dead fraction read 1.0 (every unit dead) and NumPy warned "Mean of empty slice"
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sigmoid()).to(device)
    monitor = Monitor(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(tg.zeros(0, 3, device=device))
        monitor.record()
    for field in ("activation_means", "activation_stds", "saturated_fractions",
                  "dead_fractions"):
        assert np.isnan(getattr(monitor, field)).all(), field


def test_dead_fraction_counts_units_with_pre_activation_at_most_zero_everywhere(device):
    # docs: dead = pre-activation <= 0 for every sample; NaN is not <= 0, so a NaN unit is
    # not counted dead (column 0: NaN; column 1: 0 and −1: dead; column 2: 2 > 0: alive)
    model = nn.Sequential(nn.ReLU())
    monitor = Monitor(model)
    pre = np.array([[np.nan, -0.0, 2.0], [np.nan, -1.0, -1.0]], np.float32)
    model(tg.tensor(pre, device=device))
    monitor.record()
    assert monitor.dead_fractions[0, 0] == pytest.approx(1 / 3)


def test_grad_norms_by_hand_with_an_unused_layer_and_a_nan_gradient(device):
    first, unused = nn.Linear(2, 2), nn.Linear(2, 2)
    set_weights(first, [[1.0, -1.0], [2.0, 0.5]], [0.0, -10.0], device)
    model = nn.Sequential(first, nn.ReLU(), unused).to(device)
    monitor = Monitor(model)
    x = tg.tensor(np.array([[1.0, 2.0], [3.0, 1.0]], np.float32), device=device)
    hidden = model[1](model[0](x))                       # the unused layer never runs
    hidden.sum().backward()
    monitor.record()
    # pre = [[-1, -6], [2, -3.5]]: unit 1 is <= 0 on both samples: dead 1/2
    # dL/dW[i, j] = Σ_n 1[pre_ni > 0] x_nj: row 0 = [3, 1] (sample 1 only), row 1 = 0
    assert monitor.grad_norms[0, 0] == pytest.approx(math.sqrt(10.0))
    assert np.isnan(monitor.grad_norms[0, 1])            # grad None -> NaN, documented
    assert monitor.dead_fractions[0, 0] == pytest.approx(0.5)
    out = np.array([[0.0, 0.0], [2.0, 0.0]])
    assert monitor.activation_means[0, 0] == pytest.approx(out.mean())
    assert monitor.activation_stds[0, 0] == pytest.approx(out.std())   # population std
    first.weight.grad = tg.tensor(np.array([[np.nan, 0.0], [0.0, 0.0]], np.float32),
                                  device=device)
    assert math.isnan(layer_grad_norms(model)["0.weight"])
