"""Audit of the project's own tools: search spaces and searches, ensembles, bagging,
diagnostics, preprocessing and the data-parallel pieces (no processes started here).

Each expected value is written by hand or with plain NumPy in the test.
"""

import copy
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import diagnostics, distributed, ensemble, nn, optim, preprocessing, tune
from tinygrad_opt.data import TensorDataset
from tinygrad_opt.tune.result import Trial


# --- search spaces --------------------------------------------------------------------

def test_loguniform_is_uniform_in_log_and_stays_inside_its_bounds():
    rng = np.random.default_rng(0)
    space = tune.loguniform(1e-4, 1e-1)
    draws = np.array([space.sample(rng) for _ in range(6000)])
    per_decade = np.histogram(np.log10(draws), bins=3, range=(-4, -1))[0]
    assert np.all(np.abs(per_decade - 2000) < 150)                 # each decade a third
    # lo·(hi/lo)^1 rounds to one ulp above hi for these bounds; lo + 1·(hi − lo) too
    assert 1e-4 * (0.03 / 1e-4) > 0.03 and 0.03 + (0.3 - 0.03) > 0.3
    assert tune.loguniform(1e-4, 0.03).from_unit(1.0) == 0.03
    assert tune.uniform(0.03, 0.3).from_unit(1.0) == 0.3
    narrowed = tune.narrow_space({"x": tune.uniform(0.03, 0.3)}, [Trial(0, {"x": 0.3})])
    assert narrowed["x"].hi == 0.3


def test_randint_excludes_hi_as_documented_and_every_value_is_equally_likely():
    rng = np.random.default_rng(1)
    counts = np.bincount([tune.randint(1, 4).sample(rng) for _ in range(3000)], minlength=5)
    assert counts[0] == 0 and counts[4] == 0
    assert np.all(np.abs(counts[1:4] - 1000) < 100)


@pytest.mark.parametrize("call, error, words", [
    (lambda: tune.randint(float("nan"), 3), ValueError, "randint"),
    (lambda: tune.randint(1, float("inf")), ValueError, "randint"),
    (lambda: tune.randint(None, 3), TypeError, "lo must be a number"),
    (lambda: tune.uniform("0", 1), TypeError, "lo must be a number"),
    (lambda: tune.loguniform(1e-3, "1"), TypeError, "hi must be a number"),
    (lambda: tune.choice("relu"), TypeError, "string 'relu'"),
])
def test_bad_bounds_and_options_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_randint_keeps_large_integers_exact():
    assert tune.randint(0, 10 ** 20 + 1).hi == 10 ** 20 + 1


# --- searches ----------------------------------------------------------------------------

def objective(params):
    return (params["x"] - 0.3) ** 2


SPACE = {"x": tune.uniform(0.0, 1.0)}


@pytest.mark.parametrize("search", [tune.random_search, tune.bayes_search])
def test_a_search_without_n_trials_says_so(search):
    with pytest.raises(ValueError, match="n_trials"):
        search(objective, SPACE, n_trials=None, seed=0)


def test_an_empty_space_is_a_value_error_and_a_list_a_type_error():
    with pytest.raises(ValueError, match="search space is empty"):
        tune.random_search(objective, {}, n_trials=2, seed=0)
    with pytest.raises(TypeError, match="got list"):
        tune.random_search(objective, [("x", tune.uniform(0, 1))], n_trials=2, seed=0)


@pytest.mark.parametrize("points", [0, -1, 2.5])
def test_grid_points_per_axis_must_be_a_positive_integer(points):
    with pytest.raises(ValueError, match="points_per_axis"):
        tune.grid_search(objective, SPACE, n_trials=4, points_per_axis=points)


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_a_bad_seed_is_named(seed):
    with pytest.raises(ValueError, match="seed"):
        tune.random_search(objective, SPACE, n_trials=2, seed=seed)


def test_random_search_is_reproducible_from_its_seed_and_from_manual_seed():
    first = tune.random_search(objective, SPACE, n_trials=4, seed=7)
    second = tune.random_search(objective, SPACE, n_trials=4, seed=7)
    expected = np.random.default_rng(7).uniform(size=4)             # one draw per trial
    assert [t.params["x"] for t in first.trials] == pytest.approx(expected, abs=0)
    assert [t.params for t in first.trials] == [t.params for t in second.trials]
    tg.manual_seed(3)
    third = tune.random_search(objective, SPACE, n_trials=3)
    tg.manual_seed(3)
    fourth = tune.random_search(objective, SPACE, n_trials=3)
    assert [t.params for t in third.trials] == [t.params for t in fourth.trials]


def test_the_best_trial_skips_nan_and_takes_the_earliest_of_ties():
    values = iter([float("nan"), 2.0, 1.0, 1.0, float("inf")])
    result = tune.random_search(lambda params: next(values), SPACE, n_trials=5, seed=0)
    assert [t.ok for t in result.trials] == [False, True, True, True, False]
    assert result.best.number == 2 and result.best.value == 1.0
    assert [t.number for t in result.ranked()] == [2, 3, 1]


def test_grid_of_a_loguniform_is_evenly_spaced_in_log():
    points = tune.grid_points({"lr": tune.loguniform(1e-4, 1e-1)}, points_per_axis=3)
    assert np.log10([p["lr"] for p in points]) == pytest.approx([-3.5, -2.5, -1.5])


def test_the_smallest_and_largest_integer_of_a_randint_warn_as_edges():
    space = {"layers": tune.randint(1, 4)}
    assert "low edge" in tune.edge_warnings(space, {"layers": 1})[0]
    assert "high edge" in tune.edge_warnings(space, {"layers": 3})[0]
    assert tune.edge_warnings(space, {"layers": 2}) == []
    wide = {"width": tune.randint(0, 100)}                  # n's cell [n/100, (n+1)/100]
    assert tune.edge_warnings(wide, {"width": 4}) and not tune.edge_warnings(wide, {"width": 5})
    assert tune.edge_warnings(wide, {"width": 95}) and not tune.edge_warnings(wide, {"width": 94})


# --- ensembles -----------------------------------------------------------------------------

class FixedLogits(nn.Module):
    """A 'model' that returns the same logits whatever its input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = tg.tensor(logits)
        self.scale = nn.Parameter(tg.ones(1, dtype=self.logits.dtype))

    def forward(self, x):
        return self.logits * self.scale


Z1 = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
Z2 = np.array([[0.0, 3.0, 0.0], [1.0, 0.0, 0.0]])


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_ensemble_averages_probabilities_or_logits_as_documented():
    members = [FixedLogits(Z1), FixedLogits(Z2)]
    proba = ensemble.Ensemble(members, weights=[3, 1]).predict_proba(None, temperature=2.0)
    np.testing.assert_allclose(proba.numpy(), 0.75 * softmax(Z1 / 2) + 0.25 * softmax(Z2 / 2))
    logits = ensemble.Ensemble(members, combine="logits").predict_proba(None)
    np.testing.assert_allclose(logits.numpy(), softmax((Z1 + Z2) / 2))


def test_vote_keeps_the_members_dtype_and_ties_go_to_the_lowest_class():
    vote = ensemble.Ensemble([FixedLogits(Z1), FixedLogits(Z2)], combine="vote")
    proba = vote.predict_proba(None)
    assert proba.dtype == tg.float64
    np.testing.assert_array_equal(proba.numpy(), [[0.5, 0.5, 0.0], [0.5, 0.0, 0.5]])
    assert vote.predict(None).numpy().tolist() == [0, 0]
    assert vote(None).dtype == tg.float64


@pytest.mark.parametrize("weights", [[math.inf, 1.0], [math.nan, 1.0], [-1.0, 2.0]])
def test_ensemble_weights_must_be_finite_and_non_negative(weights):
    with pytest.raises(ValueError, match="finite non-negative weight"):
        ensemble.Ensemble([FixedLogits(Z1), FixedLogits(Z2)], weights=weights)


def test_bagging_draws_with_replacement_and_keeps_the_out_of_bag_rest():
    dataset = TensorDataset(np.arange(10.0, dtype=np.float32)[:, None], np.arange(10))
    seen = []
    bag = ensemble.bagging(lambda: nn.Linear(1, 2), lambda model, subset: seen.append(
        list(subset.indices)), dataset, n_models=3, seed=4)
    rng = np.random.default_rng(4)
    for member in range(3):
        drawn = rng.integers(0, 10, size=10)                       # uniform, with replacement
        assert seen[member] == drawn.tolist()
        assert bag.bootstrap_indices[member].tolist() == drawn.tolist()
        assert bag.out_of_bag[member].tolist() == sorted(set(range(10)) - set(drawn.tolist()))
    with pytest.raises(TypeError, match="seed must be an integer"):
        ensemble.bagging(lambda: nn.Linear(1, 2), lambda model, subset: None, dataset,
                         seed=None)


# --- diagnostics ------------------------------------------------------------------------------

def test_monitor_statistics_match_a_hand_computation():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sigmoid()).double()
    with tg.no_grad():
        model[0].weight[:, 0] = 0.0                    # unit 0 of the ReLU layer: always off
        model[0].bias[0] = -5.0
    W1, b1 = model[0].weight.numpy().copy(), model[0].bias.numpy().copy()
    W2, b2 = model[2].weight.numpy().copy(), model[2].bias.numpy().copy()
    X = np.random.default_rng(0).normal(size=(5, 3))
    monitor = diagnostics.Monitor(model)
    (model(tg.tensor(X)) ** 2).sum().backward()
    monitor.step(optim.SGD(model.parameters(), lr=0.1))
    z1 = X @ W1.T + b1                                              # (5, 4)
    h = np.maximum(z1, 0)
    s = 1 / (1 + np.exp(-(h @ W2.T + b2)))                         # (5, 2)
    grad_z2 = 2 * s * s * (1 - s)                                   # d(s²)/dz2
    grad_W2 = grad_z2.T @ h
    grad_W1 = ((grad_z2 @ W2) * (z1 > 0)).T @ X
    np.testing.assert_allclose(monitor.grad_norms[0],
                               [np.linalg.norm(grad_W1), np.linalg.norm(grad_W2)])
    np.testing.assert_allclose(monitor.update_ratios[0, 0],
                               0.1 * np.linalg.norm(grad_W1) / np.linalg.norm(W1))
    assert monitor.dead_fractions[0, 0] == 1 - (z1 > 0).any(axis=0).mean()
    assert monitor.dead_fractions[0, 0] >= 0.25
    np.testing.assert_allclose(monitor.activation_means[0], [h.mean(), s.mean()])
    np.testing.assert_allclose(monitor.activation_stds[0], [h.std(), s.std()])


def scripted_loss(values):
    """A loss function that returns the next of ``values`` (with a zero-gradient link)."""
    values = iter(values)
    return lambda output, target: output.sum() * 0 + next(values)


def test_lr_range_test_smooths_with_bias_correction_and_stops_at_divergence():
    raw = [1.0, 0.9, 0.5, 0.4, 3.0, 50.0, 100.0, 1000.0]
    loader = [(tg.ones(1, 1), tg.ones(1))]
    lrs, losses, suggested = diagnostics.lr_range_test(
        nn.Linear(1, 1), scripted_loss(raw), optim.SGD, loader, lr_min=1e-3, lr_max=10.0,
        steps=8, smoothing=0.5)
    expected, average, best = [], 0.0, math.inf
    for step, value in enumerate(raw):
        average = 0.5 * average + 0.5 * value
        smoothed = average / (1 - 0.5 ** (step + 1))
        expected.append(smoothed)
        if smoothed > 4 * best:
            break
        best = min(best, smoothed)
    assert losses == pytest.approx(expected, rel=1e-6)             # 6 steps: 26.3 > 4 · 0.53
    assert len(lrs) == 6 and lrs[0] == pytest.approx(1e-3)
    assert lrs[1] == pytest.approx(1e-3 * (1e4) ** (1 / 7))
    assert suggested == pytest.approx(lrs[3] / 10)                 # minimum at step 3


@pytest.mark.parametrize("options, words", [
    ({"smoothing": 1.0}, "smoothing"), ({"smoothing": -0.1}, "smoothing"),
    ({"steps": 2.5}, "steps"), ({"divergence": 0.5}, "divergence"),
    ({"lr_max": math.inf}, "lr_max"),
])
def test_lr_range_test_names_bad_options(options, words):
    loader = [(tg.ones(1, 1), tg.ones(1))]
    with pytest.raises(ValueError, match=words):
        diagnostics.lr_range_test(nn.Linear(1, 1), scripted_loss([1.0] * 10), optim.SGD,
                                  loader, **options)


def test_lr_range_test_names_an_empty_loader_and_empty_curves_are_refused():
    with pytest.raises(ValueError, match="no batch"):
        diagnostics.lr_range_test(nn.Linear(1, 1), scripted_loss([1.0]), optim.SGD, [])
    with pytest.raises(ValueError, match="empty"):
        diagnostics.check_learning_curves([])


# --- preprocessing ----------------------------------------------------------------------------

def test_pca_fraction_on_constant_data_keeps_at_most_min_n_d_components():
    pca = preprocessing.PCA(0.5).fit(np.ones((5, 3)))
    assert pca.n_components_ == 3 == pca.components_.shape[0]


def test_pca_inverse_transform_takes_a_tensor_on_any_device(device):
    X = np.random.default_rng(0).normal(size=(10, 3))
    pca = preprocessing.PCA().fit(X)
    scores = tg.tensor(pca.transform(X), device=device)
    np.testing.assert_allclose(pca.inverse_transform(scores), X, atol=1e-12)


# --- data parallel -------------------------------------------------------------------------------

class FakeCommunicator:
    """Two ranks in one process: Allreduce adds the other rank's recorded buffer."""

    def __init__(self, other_buffer=None):
        self.other_buffer = other_buffer
        self.buffer = None

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 2

    def Allreduce(self, send, buffer, op):
        self.buffer = buffer.copy()
        if self.other_buffer is not None:
            buffer += self.other_buffer


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.unused = nn.Linear(2, 2)          # no rank uses it: its grad stays None
        self.b = nn.Linear(3, 2)               # only rank 1 uses it

    def forward(self, x, use_b):
        return self.a(x).sum() + (self.b(x).sum() if use_b else 0.0)


def test_averaged_gradients_equal_the_full_batch_gradient(monkeypatch):
    pytest.importorskip("mpi4py")
    X = np.random.default_rng(0).normal(size=(6, 3))
    base = TwoHeads().double()
    rank0, rank1, single = (copy.deepcopy(base) for _ in range(3))
    (rank1(tg.tensor(X[3:]), True) / 3).backward()                  # mean over its 3
    monkeypatch.setattr(distributed, "_communicator", FakeCommunicator())
    distributed.all_reduce_gradients(rank1)
    rank1_buffer = distributed._communicator.buffer
    (rank0(tg.tensor(X[:3]), False) / 3).backward()
    monkeypatch.setattr(distributed, "_communicator", FakeCommunicator(rank1_buffer))
    distributed.all_reduce_gradients(rank0)
    (single(tg.tensor(X[:3]), False) / 6 + single(tg.tensor(X[3:]), True) / 6).backward()
    for (name, p), (_, q) in zip(rank0.named_parameters(), single.named_parameters()):
        if name.startswith("unused"):
            assert p.grad is None and q.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("n, replicas", [(10, 3), (7, 4), (2, 5), (12, 4)])
def test_shards_cover_every_index_once_padded_as_pytorch(n, replicas):
    parts = [list(distributed.DistributedSampler(range(n), num_replicas=replicas, rank=r,
                                                 shuffle=False)) for r in range(replicas)]
    size = math.ceil(n / replicas)
    padded = (list(range(n)) * replicas)[:size * replicas]    # the first indices again
    for r in range(replicas):
        assert parts[r] == padded[r::replicas]
    assert sorted(set(sum(parts, []))) == list(range(n))


def test_set_epoch_reshuffles_and_every_epoch_covers_every_index():
    samplers = [distributed.DistributedSampler(range(9), num_replicas=3, rank=r, seed=1)
                for r in range(3)]
    orders = []
    for epoch in (0, 1, 0):
        for sampler in samplers:
            sampler.set_epoch(epoch)
        parts = [list(sampler) for sampler in samplers]
        assert sorted(sum(parts, [])) == list(range(9))
        orders.append(parts)
    assert orders[0] != orders[1] and orders[0] == orders[2]


# --- pictures ---------------------------------------------------------------------------------

def test_decision_boundary_plot_puts_every_sub_module_back_in_its_mode(tmp_path):
    pytest.importorskip("matplotlib")
    from tinygrad_opt import viz
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model.train()
    model[1].eval()                                      # a frozen BatchNorm in a training model
    X = np.random.default_rng(0).normal(size=(6, 2))
    viz.plot_decision_boundary(model, X, np.array([0, 1] * 3), str(tmp_path / "b.png"),
                               resolution=5)
    assert model.training and model[0].training and not model[1].training
