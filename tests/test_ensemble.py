"""tinygrad_opt.ensemble: probability averaging, seeds, snapshots, top-k of a search, distillation.

Reference values are plain NumPy formulas written here.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import ensemble as E
from tinygrad_opt import nn, optim, tune
from tinygrad_opt.data import DataLoader, TensorDataset
from tinygrad_opt.datasets import spiral
from tinygrad_opt.optim.lr_scheduler import LambdaLR
from tinygrad_opt.train import fit


def np_softmax(z, axis=1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(z, axis=1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def small_models(count, device, in_features=5, classes=4):
    models = []
    for seed in range(count):
        tg.manual_seed(seed)
        models.append(nn.Sequential(nn.Linear(in_features, 8), nn.Tanh(),
                                    nn.Linear(8, classes)).to(device))
    return models


def member_logits(models, x):
    with tg.no_grad():
        return [model(x).numpy().astype(np.float64) for model in models]


# --- averaging ------------------------------------------------------------------------------

def test_ensemble_averages_probabilities_exactly(device, rng):
    models = small_models(3, device)
    x = tg.tensor(rng.normal(size=(6, 5)).astype(np.float32), device=device)
    logits = member_logits(models, x)
    ensemble = E.Ensemble(models)
    expected = np.mean([np_softmax(z) for z in logits], axis=0)           # (6, 4)
    np.testing.assert_allclose(ensemble.predict_proba(x).numpy(), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(ensemble.predict(x).numpy(), expected.argmax(axis=1))
    ensemble.eval()
    np.testing.assert_allclose(ensemble(x).numpy(), np.log(expected), rtol=1e-5, atol=1e-6)
    # temperature: the average of softmax(z / T)
    tempered = np.mean([np_softmax(z / 3.0) for z in logits], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(x, temperature=3.0).numpy(), tempered,
                               rtol=1e-5, atol=1e-7)
    # weights are normalised
    weighted = E.Ensemble(models, weights=[2.0, 1.0, 1.0])
    expected_weighted = (0.5 * np_softmax(logits[0]) + 0.25 * np_softmax(logits[1])
                         + 0.25 * np_softmax(logits[2]))
    np.testing.assert_allclose(weighted.predict_proba(x).numpy(), expected_weighted,
                               rtol=1e-5, atol=1e-7)


def test_ensemble_logits_and_vote(device, rng):
    models = small_models(3, device)
    x = tg.tensor(rng.normal(size=(10, 5)).astype(np.float32), device=device)
    logits = member_logits(models, x)
    by_logits = E.Ensemble(models, combine="logits").eval()
    mean_logits = np.mean(logits, axis=0)
    np.testing.assert_allclose(by_logits(x).numpy(), mean_logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(by_logits.predict_proba(x).numpy(), np_softmax(mean_logits),
                               rtol=1e-5, atol=1e-7)
    votes = np.zeros((10, 4))
    for z in logits:
        votes[np.arange(10), z.argmax(axis=1)] += 1 / 3
    by_vote = E.Ensemble(models, combine="vote")
    np.testing.assert_allclose(by_vote.predict_proba(x).numpy(), votes, atol=1e-6)


def test_ensemble_is_a_module_that_restores_modes_and_backpropagates(device, rng):
    models = small_models(2, device)
    ensemble = E.Ensemble(models)
    assert len(ensemble) == 2 and ensemble[1] is models[1]
    assert len(list(ensemble.parameters())) == 8
    x = tg.tensor(rng.normal(size=(4, 5)).astype(np.float32), device=device)
    ensemble.train()
    ensemble.predict_proba(x)
    assert all(module.training for module in ensemble.modules())   # mode put back
    y = tg.tensor(np.array([0, 1, 2, 3]), device=device)
    loss = nn.CrossEntropyLoss()(ensemble(x), y)                        # NLL of the ensemble
    loss.backward()
    assert all(p.grad is not None for p in ensemble.parameters())
    with pytest.raises(ValueError, match="combine"):
        E.Ensemble(models, combine="median")
    with pytest.raises(ValueError, match="weight"):
        E.Ensemble(models, weights=[1.0])


def _mixed_modes(device):
    """Two members in different modes, one with a BatchNorm frozen in eval mode inside it."""
    frozen = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 4))
    frozen.train()
    frozen[1].eval()                                     # a frozen BatchNorm, as in fine-tuning
    evaluated = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.5), nn.Linear(8, 4)).eval()
    return [frozen.to(device), evaluated.to(device)]


def _modes(module):
    return [(name, sub.training) for name, sub in module.named_modules()]


@pytest.mark.parametrize("ensemble_mode", [True, False])
def test_predict_proba_and_soft_targets_restore_each_modules_own_mode(device, rng,
                                                                      ensemble_mode):
    members = _mixed_modes(device)
    ensemble = E.Ensemble(members)
    ensemble.training = ensemble_mode                    # the ensemble's flag alone
    before = _modes(ensemble)
    x = tg.tensor(rng.normal(size=(6, 5)).astype(np.float32), device=device)
    first = ensemble.predict_proba(x).numpy()
    assert _modes(ensemble) == before
    np.testing.assert_array_equal(ensemble.predict_proba(x).numpy(), first)   # eval: no dropout
    E.soft_targets(ensemble, x, 2.0)
    assert _modes(ensemble) == before
    teacher = members[0]
    teacher_modes = _modes(teacher)
    E.soft_targets(teacher, x, 2.0)
    assert _modes(teacher) == teacher_modes
    assert teacher.training and not teacher[1].training  # still frozen


# --- training members ------------------------------------------------------------------------

def spiral_data():
    X, y = spiral(n_per_class=100, n_classes=3, seed=0)
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:200], order[200:]
    return X[train], y[train], X[test], y[test]


def make_spiral_model():
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))


def accuracy(model, X, y):
    with tg.no_grad():
        model.eval()
        return float(np.mean(model(tg.tensor(X)).numpy().argmax(axis=1) == y))


def test_train_seeds_ensemble_at_least_as_accurate_as_the_mean_member():
    X, y, X_test, y_test = spiral_data()
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
    ensemble = E.train_seeds(make_spiral_model, lambda params: optim.Adam(params, lr=2e-2),
                             nn.CrossEntropyLoss(), loader, seeds=[0, 1, 2, 3], epochs=15)
    assert len(ensemble) == 4 and len(ensemble.histories) == 4
    assert all(len(history) == 15 for history in ensemble.histories)
    members = [accuracy(model, X_test, y_test) for model in ensemble]
    assert len({tuple(p.numpy().ravel()[:5]) for p in
                (next(iter(model.parameters())) for model in ensemble)}) == 4   # different inits
    ensemble_accuracy = float(np.mean(ensemble.predict(tg.tensor(X_test)).numpy() == y_test))
    assert ensemble_accuracy >= np.mean(members)
    assert ensemble_accuracy > 0.8


# --- snapshots ---------------------------------------------------------------------------------

class WeightRecorder:
    """Keeps a NumPy copy of the first weight after every epoch (the independent reference)."""

    def __init__(self, model):
        self.model, self.weights = model, []

    def on_epoch_end(self, epoch, logs):
        self.weights.append(next(iter(self.model.parameters())).numpy().copy())


@pytest.mark.parametrize("option, expected_epochs", [({"last": 3}, [3, 4, 5]),
                                                     ({"every": 2}, [1, 3, 5]),
                                                     ({"epochs": [0, 4]}, [0, 4])])
def test_snapshot_collector_keeps_copies_at_chosen_epochs(option, expected_epochs):
    X, y, X_test, _ = spiral_data()
    loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True, seed=0)
    model = make_spiral_model()
    collector = E.SnapshotCollector(model, **option)
    recorder = WeightRecorder(model)
    fit(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), loader, epochs=6,
        callbacks=[recorder, collector], progress=False)
    assert collector.snapshot_epochs == expected_epochs
    for epoch, state in zip(collector.snapshot_epochs, collector.snapshots):
        np.testing.assert_array_equal(state["0.weight"].numpy(), recorder.weights[epoch])
    ensemble = collector.ensemble()
    assert len(ensemble) == len(expected_epochs)
    x = tg.tensor(X_test[:7])
    logits = member_logits(list(ensemble), x)
    for member_output, epoch in zip(logits, expected_epochs):   # member m has snapshot m
        reference = make_spiral_model()
        reference.load_state_dict(collector.snapshots[expected_epochs.index(epoch)])
        np.testing.assert_allclose(member_output, member_logits([reference], x)[0], rtol=1e-6)
    np.testing.assert_allclose(ensemble.predict_proba(x).numpy(),
                               np.mean([np_softmax(z) for z in logits], axis=0), rtol=1e-5)


def test_cyclic_cosine_restarts_and_drives_snapshot_epochs():
    factor = E.cyclic_cosine(4)
    expected = [0.5 * (1 + math.cos(math.pi * (t % 4) / 4)) for t in range(12)]
    assert [factor(t) for t in range(12)] == pytest.approx(expected)
    X, y, _, _ = spiral_data()
    loader = DataLoader(TensorDataset(X, y), batch_size=100, shuffle=True, seed=0)
    model = make_spiral_model()
    optimizer = optim.SGD(model.parameters(), lr=0.2)
    collector = E.SnapshotCollector(model, every=4)
    history = fit(model, optimizer, nn.CrossEntropyLoss(), loader, epochs=8,
                  scheduler=LambdaLR(optimizer, factor), callbacks=[collector], progress=False)
    assert history["lr"] == pytest.approx([0.2 * f for f in expected[:8]])
    assert collector.snapshot_epochs == [3, 7]          # the ends of the two cycles (lowest lr)


# --- top-k of a search ---------------------------------------------------------------------------

def seeded_linear(params):
    tg.manual_seed(params["init_seed"])
    return nn.Linear(2, 3)


def state_objective(params):
    model = seeded_linear(params)
    return {"value": (params["x"] - 0.5) ** 2,
            "state_dict": {name: t.numpy() for name, t in model.state_dict().items()}}


def test_from_search_builds_the_top_k_models():
    space = {"x": tune.uniform(0.0, 1.0), "init_seed": tune.randint(0, 10 ** 6)}
    result = tune.random_search(state_objective, space, n_trials=6, seed=0)
    ensemble = E.from_search(result, k=3, make_model=seeded_linear)
    assert len(ensemble) == 3
    for member, trial in zip(ensemble, result.ranked()[:3]):
        np.testing.assert_array_equal(member.weight.numpy(), trial.extras["state_dict"]["weight"])
    # the model itself in the extras works too; ranking follows mode='max'
    models = {}

    def model_objective(params):
        models[params["x"]] = seeded_linear(params)
        return {"value": params["x"], "model": models[params["x"]]}
    best_first = tune.random_search(model_objective, space, n_trials=5, seed=1, mode="max")
    ensemble = E.from_search(best_first, k=2)
    top = sorted(models, reverse=True)[:2]
    assert [member is models[x] for member, x in zip(ensemble, top)] == [True, True]
    with pytest.raises(ValueError, match="make_model"):
        E.from_search(result, k=2)


# --- distillation ------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_distillation_loss_matches_numpy(device, rng, alpha):
    student = rng.normal(size=(5, 4)) * 3
    teacher = rng.normal(size=(5, 4)) * 3
    target = rng.integers(0, 4, size=5)
    T = 2.5
    p_teacher = np_softmax(teacher / T)
    kl = np.mean(np.sum(p_teacher * (np.log(p_teacher) - np_log_softmax(student / T)), axis=1))
    ce = -np.mean(np_log_softmax(student)[np.arange(5), target])
    expected = alpha * T ** 2 * kl + (1 - alpha) * ce
    loss = E.distillation_loss(tg.tensor(student, device=device),
                               tg.tensor(p_teacher, device=device),
                               tg.tensor(target, device=device), temperature=T, alpha=alpha)
    assert loss.item() == pytest.approx(expected, rel=1e-9)
    # gradient with respect to the student's logits
    s = tg.tensor(student, requires_grad=True, device=device)
    assert tg.gradcheck(lambda logits: E.distillation_loss(
        logits, tg.tensor(p_teacher, device=device), tg.tensor(target, device=device), T, alpha),
        [s])


def test_soft_targets_of_a_model_and_of_an_ensemble(device, rng):
    models = small_models(2, device)
    x = tg.tensor(rng.normal(size=(3, 5)).astype(np.float32), device=device)
    logits = member_logits(models, x)
    np.testing.assert_allclose(E.soft_targets(models[0], x, 4.0).numpy(),
                               np_softmax(logits[0] / 4.0), rtol=1e-5)
    np.testing.assert_allclose(E.soft_targets(E.Ensemble(models), x, 4.0).numpy(),
                               np.mean([np_softmax(z / 4.0) for z in logits], axis=0), rtol=1e-5)
    assert not E.soft_targets(models[0], x, 4.0).requires_grad


def test_distill_trains_a_small_student():
    X, y, X_test, y_test = spiral_data()
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, seed=0)
    teacher = E.train_seeds(make_spiral_model, lambda params: optim.Adam(params, lr=2e-2),
                            nn.CrossEntropyLoss(), loader, seeds=[0, 1, 2], epochs=15)
    teacher_accuracy = float(np.mean(teacher.predict(tg.tensor(X_test)).numpy() == y_test))
    tg.manual_seed(7)
    student = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    before = accuracy(student, X_test, y_test)
    val_loader = DataLoader(TensorDataset(X_test, y_test), batch_size=100)
    history = E.distill(teacher, student, loader, temperature=2.0, alpha=0.5,
                        optimizer=optim.Adam(student.parameters(), lr=3e-2), epochs=30,
                        val_loader=val_loader)
    assert len(history["train_loss"]) == 30
    assert history["train_loss"][-1] < history["train_loss"][0]
    after = accuracy(student, X_test, y_test)
    assert history["val_accuracy"][-1] == pytest.approx(after)
    assert after > max(before, 0.8)
    assert after >= teacher_accuracy - 0.1
