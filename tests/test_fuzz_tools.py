"""Property-based fuzzing of the course tools: tune (spaces, searches, results), ensemble, preprocessing.

References are written here from the definitions in plain Python / NumPy (exact
fractions where rounding matters). Objectives are table look-ups and the
"models" are tiny linear layers, so the file runs in a few seconds.
``TOOLS_FUZZ_EXAMPLES`` raises the number of examples per property;
``HYPOTHESIS_PROFILE=explore`` draws fresh ones.
"""

import itertools
import math
import os
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import ensemble as E
from tinygrad_opt import nn, tune
from tinygrad_opt.preprocessing import (PCA, NotFittedError, QuantileClipper, SimpleImputer,
                                        StabilitySelection, VarianceThreshold)
from tinygrad_opt.tune.result import SearchResult, Trial
from tinygrad_opt.tune.search import narrow_space

EXAMPLES = int(os.environ.get("TOOLS_FUZZ_EXAMPLES", "20"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=os.environ.get("HYPOTHESIS_PROFILE", "fixed") != "explore",
                suppress_health_check=list(HealthCheck))


# =============================================================================================
# tune: distributions
# =============================================================================================

@st.composite
def loguniforms(draw):
    """lo < hi anywhere in the positive floats, up to 600 decades apart."""
    a = draw(st.integers(-300, 300))
    b = draw(st.integers(a, 300))
    lo = draw(st.floats(1.0, 9.9)) * 10.0 ** a
    hi = draw(st.floats(1.0, 9.9)) * 10.0 ** b
    if not math.log(lo) < math.log(hi):              # neighbouring floats are refused
        lo, hi = min(lo, hi) / 2, max(lo, hi)
    return tune.loguniform(lo, hi)


@st.composite
def uniforms(draw):
    finite = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
    lo, hi = draw(finite), draw(finite)
    if lo == hi:
        hi = lo + 1.0 if abs(lo) < 1e15 else lo * 2 + 1
    lo, hi = min(lo, hi), max(lo, hi)
    return tune.uniform(lo, hi)


@st.composite
def randints(draw):
    lo = draw(st.integers(-10 ** 6, 10 ** 6))
    return tune.randint(lo, lo + draw(st.sampled_from([1, 2, 3, 7, 100, 2 ** 40])))


def distributions_():
    return st.one_of(loguniforms(), uniforms(), randints(),
                     st.lists(st.integers(0, 50), min_size=1, max_size=5).map(tune.choice))


def ref_from_unit(distribution, u):
    """The definition of each distribution's map from the unit interval, exactly."""
    if isinstance(distribution, tune.LogUniform):
        log_lo, log_hi = math.log(distribution.lo), math.log(distribution.hi)
        return math.exp(log_lo + u * (log_hi - log_lo))                # lo · (hi/lo)^u
    if isinstance(distribution, tune.Uniform):
        return float((1 - Fraction(u)) * Fraction(distribution.lo) + Fraction(u) *
                     Fraction(distribution.hi))
    if isinstance(distribution, tune.RandInt):
        m = distribution.hi - distribution.lo
        return distribution.lo + min(math.floor(Fraction(u) * m), m - 1)
    return distribution.options[min(math.floor(Fraction(u) * len(distribution.options)),
                                    len(distribution.options) - 1)]


def in_range(distribution, value):
    if isinstance(distribution, tune.Choice):
        return value in distribution.options
    if isinstance(distribution, tune.RandInt):
        return isinstance(value, int) and distribution.lo <= value < distribution.hi
    return isinstance(value, float) and distribution.lo <= value <= distribution.hi


@FUZZ
@given(distributions_(), st.integers(0, 2 ** 32 - 1))
def test_draws_lie_in_the_range_follow_the_definition_and_repeat_under_a_seed(distribution,
                                                                              seed):
    draws = [distribution.sample(np.random.default_rng(seed)) for _ in range(2)]
    assert draws[0] == draws[1]
    rng, again = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(20):
        value = distribution.sample(rng)
        assert in_range(distribution, value), (distribution, value)
        if not isinstance(distribution, tune.Choice):     # choice draws an index instead
            want = ref_from_unit(distribution, again.uniform())
            if isinstance(distribution, tune.RandInt):
                assert value == want
            else:
                scale = max(abs(distribution.lo), abs(distribution.hi))
                assert value == pytest.approx(want, rel=1e-9, abs=1e-12 * scale)
    for u in (0.0, 0.25, 0.5, 1.0):
        value = distribution.from_unit(u)
        assert in_range(distribution, value), (distribution, u, value)
    if isinstance(distribution, tune.LogUniform):                   # the ends exactly
        assert (distribution.from_unit(0.0), distribution.from_unit(1.0)) == \
            (distribution.lo, distribution.hi)
    if isinstance(distribution, tune.Uniform):      # lo + 1·(hi − lo) may round an ulp below
        assert distribution.from_unit(0.0) == distribution.lo
        scale = max(abs(distribution.lo), abs(distribution.hi))
        assert distribution.hi - distribution.from_unit(1.0) <= 2 * math.ulp(scale)


@FUZZ
@given(distributions_(), st.floats(0.0, 1.0))
def test_unit_coordinates_round_trip(distribution, u):
    value = distribution.from_unit(u)
    back = distribution.from_unit(distribution.to_unit(value))
    if isinstance(distribution, (tune.RandInt, tune.Choice)):
        assert back == value                              # every integer / option exactly
        assert 0 < distribution.to_unit(value) < 1
    else:
        assert back == pytest.approx(value, rel=1e-9,
                                     abs=1e-12 * max(abs(distribution.lo), abs(distribution.hi)))


def test_wide_ranges_regression():
    # loguniform: hi / lo overflowed to inf, so every draw was hi
    wide = tune.loguniform(1e-200, 1e200)
    assert wide.from_unit(0.5) == pytest.approx(1.0, rel=1e-9)
    draws = [wide.sample(np.random.default_rng(seed)) for seed in range(20)]
    assert len(set(draws)) == 20 and min(draws) < 1.0 < max(draws)
    # uniform: hi − lo overflowed to inf, every draw was hi and to_unit was 0: refused now
    with pytest.raises(ValueError, match="finite hi − lo"):
        tune.uniform(-1e308, 1e308)
    # neighbouring floats with one log: to_unit divided by zero (a narrowed coarse-to-fine range)
    with pytest.raises(ValueError, match="log lo < log hi"):
        tune.loguniform(1e270, math.nextafter(1e270, math.inf))
    tight = {"x": tune.loguniform(1e270, 1e271)}
    top = [Trial(0, {"x": 1e270})]
    for _ in range(80):                                   # narrows until it cannot
        tight = narrow_space(tight, top, shrink=0.01, margin=0.0)
    assert tight["x"].to_unit(1e270) == 0.0


# =============================================================================================
# tune: grids, searches, results
# =============================================================================================

@st.composite
def spaces(draw, max_params=3):
    names = draw(st.lists(st.sampled_from("abcde"), min_size=1, max_size=max_params,
                          unique=True))
    space = {}
    for name in names:
        kind = draw(st.sampled_from(["log", "uniform", "randint", "choice", "constant"]))
        if kind == "log":
            space[name] = tune.loguniform(10.0 ** draw(st.integers(-6, -1)), 1.0)
        elif kind == "uniform":
            space[name] = tune.uniform(draw(st.sampled_from([-1.0, 0.0])), 1.0)
        elif kind == "randint":
            space[name] = tune.randint(0, draw(st.integers(1, 5)))
        elif kind == "choice":
            space[name] = tune.choice(list(range(draw(st.integers(1, 3)))))
        else:
            space[name] = draw(st.integers(0, 9))
    return space


@FUZZ
@given(spaces(), st.integers(1, 30))
def test_grid_is_the_product_in_space_order_of_the_largest_fitting_k(space, n_trials):
    options = math.prod(len(d.options) for d in space.values() if isinstance(d, tune.Choice))
    numeric = [d for d in space.values()
               if isinstance(d, tune.Distribution) and not isinstance(d, tune.Choice)]
    if n_trials < options:
        with pytest.raises(ValueError, match="smaller than"):
            tune.grid_points(space, n_trials)
        return
    k = 1
    while numeric and options * (k + 1) ** len(numeric) <= n_trials:
        k += 1

    def axis(value):
        if isinstance(value, tune.Choice):
            return list(value.options)
        if not isinstance(value, tune.Distribution):
            return [value]
        return list(dict.fromkeys(value.from_unit((i + 0.5) / k) for i in range(k)))

    want = [dict(zip(space, values))                    # the last parameter varies fastest
            for values in itertools.product(*(axis(value) for value in space.values()))]
    points = tune.grid_points(space, n_trials)
    assert points == want
    assert len(points) <= n_trials
    result = tune.grid_search(lambda p: 0.0, space, n_trials)
    assert [trial.params for trial in result.trials] == want


VALUES = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 2.5]),               # ties likely
                   st.floats(-10, 10), st.sampled_from([math.nan, math.inf, -math.inf, "raise"]))


@FUZZ
@given(spaces(), st.lists(VALUES, min_size=1, max_size=8), st.sampled_from(["min", "max"]),
       st.integers(0, 1000))
def test_random_search_trials_best_and_ranking(space, values, mode, seed):
    returned = iter(values)

    def objective(params):
        value = next(returned)
        if value == "raise":
            raise RuntimeError("boom")
        return {"value": value, "got": dict(params)}

    result = tune.random_search(objective, space, n_trials=len(values), seed=seed, mode=mode)
    rng = np.random.default_rng(seed)
    assert [trial.params for trial in result.trials] == \
        [tune.sample(space, rng) for _ in values]
    assert [trial.number for trial in result.trials] == list(range(len(values)))
    ok = [(v, i) for i, v in enumerate(values) if v != "raise" and math.isfinite(v)]
    assert [trial.ok for trial in result.trials] == \
        [v != "raise" and math.isfinite(v) for v in values]
    sign = 1 if mode == "min" else -1
    order = [i for _, i in sorted(ok, key=lambda pair: (sign * pair[0], pair[1]))]
    assert [trial.number for trial in result.ranked()] == order
    if not ok:
        with pytest.raises(RuntimeError, match="no successful trial"):
            result.best
        return
    assert result.best.number == order[0]           # ties: the earlier trial
    assert result.best.extras["got"] == result.best.params
    names = result.file_names()
    ranked_names = sorted(names[i] for i in order)
    assert [names[i] for i in order] == ranked_names      # `ls` lists the best first
    assert result.summary().splitlines()[2].split()[1] == str(order[0])


@FUZZ
@given(st.integers(1, 12), st.integers(0, 100))
def test_coarse_to_fine_runs_exactly_n_trials(n_trials, seed):
    space = {"x": tune.uniform(0.0, 1.0), "y": tune.loguniform(1e-3, 1.0)}
    result = tune.coarse_to_fine(lambda p: (p["x"] - 0.3) ** 2, space, n_trials=n_trials,
                                 seed=seed)
    assert len(result.trials) == n_trials
    stages = [trial.stage for trial in result.trials]
    assert stages == sorted(stages) and len(result.spaces) == len(set(stages))


def test_coarse_to_fine_of_one_trial_regression():
    calls = []
    result = tune.coarse_to_fine(lambda p: calls.append(p) or 0.0,
                                 {"x": tune.uniform(0.0, 1.0)}, n_trials=1, seed=0)
    assert len(calls) == 1 and len(result.trials) == 1      # was 2: stages [1, 1]


@FUZZ
@given(st.data(), st.floats(0.05, 1.0), st.floats(0.0, 0.3))
def test_narrowed_ranges_shrink_and_keep_the_best(data, shrink, margin):
    space = {"lr": tune.loguniform(1e-5, 1.0), "p": tune.uniform(-1.0, 1.0),
             "n": tune.randint(0, 20), "act": tune.choice(["a", "b", "c"]), "k": 3}
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    top = [Trial(i, tune.sample(space, rng), value=float(i))
           for i in range(data.draw(st.integers(1, 4)))]
    new = narrow_space(space, top, shrink, margin)
    assert new["k"] == 3
    assert new["act"].options == [o for o in ["a", "b", "c"] if any(t.params["act"] == o
                                                                    for t in top)]
    for name in ("lr", "p", "n"):
        old, narrowed = space[name], new[name]
        assert old.lo <= narrowed.lo and narrowed.hi <= old.hi
        best = top[0].params[name]
        if isinstance(old, tune.RandInt):               # whole cells: both end cells
            assert narrowed.lo <= best < narrowed.hi
            assert (narrowed.hi - narrowed.lo) / 20 <= shrink + 2 / 20 + 1e-9
        else:
            low, high = old.to_unit(narrowed.lo), old.to_unit(narrowed.hi)
            assert high - low <= shrink + 1e-9
            assert low - 1e-9 <= old.to_unit(best) <= high + 1e-9


def test_bayes_search_stays_in_the_space_and_repeats_under_a_seed():
    space = {"lr": tune.loguniform(1e-4, 1e-1), "n": tune.randint(1, 4),
             "act": tune.choice(["relu", "tanh"])}

    def objective(params):
        return (math.log10(params["lr"]) + 2) ** 2 + params["n"] + (params["act"] == "relu")

    runs = [tune.bayes_search(objective, space, n_trials=6, seed=3, n_candidates=50)
            for _ in range(2)]
    assert [t.params for t in runs[0].trials] == [t.params for t in runs[1].trials]
    for trial in runs[0].trials:
        assert all(in_range(space[name], trial.params[name]) for name in space)


# =============================================================================================
# ensemble
# =============================================================================================

class Fixed(nn.Module):
    """A "model" that returns given logits whatever the input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = np.asarray(logits, dtype=np.float64)

    def forward(self, x):
        return tg.tensor(self.logits)


def np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@FUZZ
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 4), st.integers(0, 1000),
       st.sampled_from(["proba", "logits", "vote"]), st.floats(0.25, 4.0), st.booleans())
def test_ensemble_probabilities_are_the_weighted_mean_of_the_members(m, n, c, seed, combine,
                                                                    temperature, weighted):
    rng = np.random.default_rng(seed)
    logits = [rng.integers(-2, 3, size=(n, c)).astype(np.float64) for _ in range(m)]  # ties
    weights = list(rng.integers(0, 4, size=m) + 0.0) if weighted else None
    if weights is not None and sum(weights) == 0:
        weights[0] = 1.0
    ensemble = E.Ensemble([Fixed(z) for z in logits], weights, combine)
    w = np.ones(m) / m if weights is None else np.array(weights) / sum(weights)
    if combine == "proba":
        want = sum(wi * np_softmax(z / temperature) for wi, z in zip(w, logits))
    elif combine == "logits":
        want = np_softmax(sum(wi * z for wi, z in zip(w, logits)) / temperature)
    else:                                     # a member's vote: its first largest logit
        want = sum(wi * np.eye(c)[[list(row).index(max(row)) for row in z]]
                   for wi, z in zip(w, logits))
    proba = ensemble.predict_proba(None, temperature).numpy()
    np.testing.assert_allclose(proba, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # labels: argmax of p̄, ties to the lowest class (as torch.argmax: the first maximum)
    p = ensemble.predict_proba(None).numpy()
    assert ensemble.predict(None).numpy().tolist() == [list(row).index(max(row)) for row in p]
    scores = ensemble(None).numpy()
    if combine == "logits":
        np.testing.assert_allclose(scores, sum(wi * z for wi, z in zip(w, logits)), rtol=1e-12,
                                   atol=1e-12)
    else:
        np.testing.assert_allclose(scores, np.log(np.clip(p, E.TINY, None)), rtol=1e-12)


def test_huge_ensemble_weights_regression():
    # the sum 2e308 overflowed: every weight became 0 and p̄ = 0
    ensemble = E.Ensemble([Fixed([[0.0, 1.0]]), Fixed([[1.0, 0.0]])], weights=[1e308, 1e308])
    assert ensemble.weights == [0.5, 0.5]
    np.testing.assert_allclose(ensemble.predict_proba(None).numpy(), [[0.5, 0.5]])


@FUZZ
@given(st.integers(1, 30), st.integers(1, 4), st.integers(0, 2 ** 31), st.floats(0.01, 1.0),
       st.booleans())
def test_bagging_draws_the_documented_reproducible_samples(n, n_models, seed, max_samples,
                                                           bootstrap):
    dataset = [(float(i), i % 2) for i in range(n)]
    seen = []

    def train_fn(model, subset):
        seen.append([subset[j][0] for j in range(len(subset))])
        return len(subset)

    bag = E.bagging(lambda: nn.Linear(1, 2), train_fn, dataset, n_models, seed,
                    max_samples=max_samples, bootstrap=bootstrap)
    rng = np.random.default_rng(seed)
    size = max(1, int(round(max_samples * n)))
    for member in range(n_models):
        want = rng.integers(0, n, size=size) if bootstrap else rng.permutation(n)[:size]
        np.testing.assert_array_equal(bag.bootstrap_indices[member], want)
        assert seen[member] == [float(i) for i in want]
        assert sorted(set(bag.out_of_bag[member]) | set(want)) == list(range(n))
        assert not set(bag.out_of_bag[member]) & set(want)
        if not bootstrap:
            assert len(set(want)) == size
    assert bag.histories == [size] * n_models


@FUZZ
@given(st.integers(1, 5), st.integers(2, 5), st.integers(0, 1000), st.floats(0.5, 8.0),
       st.sampled_from([0.0, 0.3, 1.0]))
def test_distillation_loss_against_numpy(n, c, seed, temperature, alpha):
    rng = np.random.default_rng(seed)
    student = rng.normal(size=(n, c)) * 3
    teacher = np_softmax(rng.normal(size=(n, c)) * 3)
    teacher[0] = np.eye(c)[0]                                      # zeros: 0·log 0 = 0
    y = rng.integers(0, c, size=n)
    log_ps = np.log(np_softmax(student / temperature))
    kl = np.mean(np.sum(np.where(teacher > 0, teacher * (np.log(np.clip(teacher, 1e-12, None))
                                                         - log_ps), 0.0), axis=1))
    ce = -np.mean(np.log(np_softmax(student))[np.arange(n), y])
    want = alpha * temperature ** 2 * kl + (1 - alpha) * ce
    got = E.distillation_loss(tg.tensor(student), tg.tensor(teacher), tg.tensor(y),
                              temperature, alpha).item()
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


@FUZZ
@given(st.integers(1, 12), st.integers(1, 6), st.sampled_from(["epochs", "every", "last"]),
       st.integers(0, 1000))
def test_snapshot_epochs_and_cyclic_cosine(epochs, k, option, seed):
    rng = np.random.default_rng(seed)
    model = nn.Linear(1, 1)
    chosen = sorted(set(rng.integers(0, epochs + 2, size=k).tolist()))
    argument = {"epochs": chosen, "every": k, "last": k}[option]
    collector = E.SnapshotCollector(model, **{option: argument})
    for epoch in range(epochs):
        with tg.no_grad():
            model.weight.fill_(float(epoch))
        collector.on_epoch_end(epoch)
    want = {"epochs": [e for e in range(epochs) if e in chosen],
            "every": [e for e in range(epochs) if (e + 1) % k == 0],
            "last": list(range(epochs))[-k:]}[option]
    assert collector.snapshot_epochs == want
    assert [s["weight"].item() for s in collector.snapshots] == [float(e) for e in want]
    factor = E.cyclic_cosine(k)
    for t in range(epochs):
        assert factor(t) == pytest.approx(0.5 * (1 + math.cos(math.pi * (t % k) / k)))


# =============================================================================================
# preprocessing (PCA / imputer / clipper / threshold values are fuzzed in
# test_fuzz_data_metrics.py; here: input kinds, new data, StabilitySelection's bookkeeping)
# =============================================================================================

STEPS = [lambda: SimpleImputer("median"), lambda: QuantileClipper(0.1, 0.9),
         lambda: VarianceThreshold(), lambda: PCA(), lambda: PCA(1, whiten=True)]


@FUZZ
@given(st.integers(2, 8), st.integers(1, 4), st.integers(0, 1000), st.integers(0, 4),
       st.sampled_from(["int64", "bool", "float32", "float16", "list", "tensor"]))
def test_every_input_kind_gives_the_float64_answer(n, d, seed, step, kind):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2 if kind == "bool" else 5, size=(n, d))
    X[0, :] = 1 - X[1, :] if kind == "bool" else X[1, :] + 1       # no all-constant data
    X_new = rng.integers(0, 2 if kind == "bool" else 5, size=(3, d))
    convert = {"int64": lambda a: a, "bool": lambda a: a.astype(bool),
               "float32": lambda a: a.astype(np.float32), "float16": lambda a: a.astype(np.float16),
               "list": lambda a: a.tolist(), "tensor": lambda a: tg.tensor(a.astype(np.float32))}
    want = STEPS[step]().fit(X.astype(np.float64)).transform(X_new.astype(np.float64))
    got = STEPS[step]().fit(convert[kind](X)).transform(convert[kind](X_new))
    assert got.dtype == {"float32": np.float32, "float16": np.float16,
                         "tensor": np.float32}.get(kind, np.float64)
    tol = {"float16": 2e-3, "float32": 1e-5, "tensor": 1e-5}.get(kind, 1e-12)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)
    with pytest.raises(ValueError, match="features"):
        STEPS[step]().fit(X).transform(X[:, :0] if d == 1 else X[:, 1:])
    with pytest.raises(NotFittedError):
        STEPS[step]().transform(X)


@pytest.mark.parametrize("make", STEPS)
def test_complex_input_is_refused_regression(make):
    X = np.array([[1 + 2j, 3.0], [2.0, 5j], [3.0, 1.0]])   # was cast silently to its real part
    with pytest.raises(TypeError, match="numeric"):
        make().fit(X)


def test_imputer_statistics_of_float16_do_not_overflow_regression():
    X = np.array([[60000.0], [60000.0], [np.nan]], dtype=np.float16)   # the float16 sum was inf
    imputer = SimpleImputer().fit(X)
    assert imputer.statistics_.tolist() == [60000.0]
    assert imputer.transform(X)[2, 0] == np.float16(60000.0)


@FUZZ
@given(st.integers(3, 8), st.integers(1, 4), st.integers(0, 1000), st.integers(1, 4))
def test_pca_on_new_rows_and_its_integer_components(n, d, seed, k):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.choice([0.1, 1, 10], size=d)
    X_new = rng.normal(size=(2, d))
    full = PCA(whiten=True).fit(X)
    k = min(k, n, d)
    part = PCA(k).fit(X)
    np.testing.assert_allclose(part.components_, full.components_[:k], atol=1e-12)
    np.testing.assert_allclose(part.transform(X_new), (X_new - X.mean(axis=0)) @
                               full.components_[:k].T, atol=1e-9)
    assert part.explained_variance_ratio_.sum() <= 1 + 1e-12
    if n > d:                                   # full rank: whitened round trip is exact
        np.testing.assert_allclose(full.inverse_transform(full.transform(X_new)), X_new,
                                   atol=1e-8)
        assert full.explained_variance_ratio_.sum() == pytest.approx(1.0, rel=1e-12)
    again = PCA(whiten=True).fit(X.copy())
    np.testing.assert_array_equal(again.components_, full.components_)   # deterministic sign


@FUZZ
@given(st.integers(2, 10), st.integers(1, 4), st.integers(0, 1000), st.floats(0.3, 1.0),
       st.floats(0.1, 1.0), st.booleans())
def test_stability_selection_bookkeeping(n, d, seed, fraction, threshold, binary):
    rng = np.random.default_rng(seed)
    X = (rng.integers(0, 2, size=(n, d)) if binary else rng.normal(size=(n, d))).astype(float)
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    make = lambda: StabilitySelection(l1=0.01, n_resamples=4, threshold=threshold,  # noqa: E731
                                      sample_fraction=fraction, max_sweeps=5, seed=seed)
    selector = make().fit(X, y)
    half = max(2, int(round(fraction * n)))
    rows = np.random.default_rng(seed)
    for subset in selector.subsets_:
        np.testing.assert_array_equal(subset, np.sort(rows.choice(n, size=half, replace=False)))
    for r, subset in enumerate(selector.subsets_):
        constant = np.ptp(X[subset], axis=0) == 0
        assert not selector.selections_[r][constant].any()      # never a constant feature
    np.testing.assert_array_equal(selector.frequencies_, selector.selections_.mean(axis=0))
    np.testing.assert_array_equal(selector.get_support(), selector.frequencies_ >= threshold)
    np.testing.assert_array_equal(selector.transform(X), X[:, selector.get_support()])
    np.testing.assert_array_equal(make().fit(X, y).selections_, selector.selections_)


def test_stability_selection_on_a_half_with_only_constant_features_regression():
    X = np.ones((4, 2))                                   # crashed: max of an empty array
    selector = StabilitySelection(n_resamples=3, max_sweeps=3, seed=1).fit(X, np.arange(4.0))
    assert selector.frequencies_.tolist() == [0.0, 0.0] and selector.sweeps_ == [0, 0, 0]
