"""Audit of ensemble.py and preprocessing.py against their documented promises.

References are plain NumPy formulas written here (scikit-learn semantics where the
docstrings cite it: its PCA, SimpleImputer, VarianceThreshold; Hinton et al. for
distillation).
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import ensemble as E
from tinygrad_opt import nn
from tinygrad_opt.preprocessing import (PCA, QuantileClipper, SimpleImputer,
                                        VarianceThreshold)

NAN = np.nan


def np_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def logits_of(models, x):
    with tg.no_grad():
        return [model(x).numpy().astype(np.float64) for model in models]


# --- Ensemble -------------------------------------------------------------------------------

@pytest.mark.parametrize("combine", ["proba", "logits", "vote"])
def test_members_with_different_class_counts_are_refused(device, rng, combine):
    # (N, 1) and (N, 4) logits used to broadcast: 'proba' rows summed to 2.5, not 1
    tg.manual_seed(0)
    models = [nn.Linear(3, 1).to(device), nn.Linear(3, 4).to(device)]
    x = tg.tensor(rng.normal(size=(5, 3)).astype(np.float32), device=device)
    ensemble = E.Ensemble(models, combine=combine)
    with pytest.raises(ValueError, match=r"differ in shape \[\(5, 1\), \(5, 4\)\]"):
        ensemble.predict_proba(x)
    with pytest.raises(ValueError, match="differ in shape"):
        ensemble(x)


def test_members_of_different_sizes_and_weighted_logit_averaging(device, rng):
    # members may differ in architecture; 'logits' is softmax(Σ w_m z_m / T), weights normalised
    tg.manual_seed(1)
    models = [nn.Linear(3, 4), nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 4))]
    models = [model.to(device) for model in models]
    x = tg.tensor(rng.normal(size=(6, 3)).astype(np.float32), device=device)
    z = logits_of(models, x)
    ensemble = E.Ensemble(models, weights=[3.0, 1.0], combine="logits")
    average = 0.75 * z[0] + 0.25 * z[1]
    np.testing.assert_allclose(ensemble.predict_proba(x, temperature=2.0).numpy(),
                               np_softmax(average / 2.0), rtol=1e-5, atol=1e-7)
    ensemble.eval()
    np.testing.assert_allclose(ensemble(x).numpy(), average, rtol=1e-5, atol=1e-6)
    # and 'proba' averages in probability space: not the same numbers
    proba = E.Ensemble(models, weights=[3.0, 1.0]).predict_proba(x, temperature=2.0).numpy()
    np.testing.assert_allclose(proba, 0.75 * np_softmax(z[0] / 2) + 0.25 * np_softmax(z[1] / 2),
                               rtol=1e-5, atol=1e-7)


# --- snapshots --------------------------------------------------------------------------------

def test_snapshot_collector_accepts_whole_float_counts_and_refuses_fractional_epochs():
    model = nn.Linear(2, 2)
    collector = E.SnapshotCollector(model, last=2.0)     # passed the check, then deque raised
    for epoch in range(4):
        collector.on_epoch_end(epoch)
    assert collector.snapshot_epochs == [2, 3]
    collector = E.SnapshotCollector(model, every=2.0)
    for epoch in range(4):
        collector.on_epoch_end(epoch)
    assert collector.snapshot_epochs == [1, 3]
    for bad in ([1.5], [-1], [True]):                      # 1.5 was silently read as epoch 1
        with pytest.raises(ValueError, match="epochs must be whole numbers"):
            E.SnapshotCollector(model, epochs=bad)


def test_snapshots_copy_batchnorm_buffers_and_members_carry_them(rng):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    collector = E.SnapshotCollector(model, epochs=[0, 2])
    x = tg.tensor(rng.normal(size=(8, 3)).astype(np.float32))
    means = []
    for epoch in range(3):
        model.train()
        model(x)
        means.append(model[1].running_mean.numpy().copy())
        collector.on_epoch_end(epoch)
    members = collector.ensemble().members
    np.testing.assert_array_equal(members[0][1].running_mean.numpy(), means[0])
    np.testing.assert_array_equal(members[1][1].running_mean.numpy(), means[2])
    assert [int(m[1].num_batches_tracked.item()) for m in members] == [1, 3]
    assert not np.array_equal(means[0], means[2])         # the copies did not follow the model


# --- distillation ----------------------------------------------------------------------------

def test_distillation_soft_gradient_is_temperature_free_at_high_temperature(rng):
    # Hinton et al.: with T², for large T the soft term's gradient → (s − t) / (C·N)
    # for zero-mean logits, independent of T (without T² it would shrink as 1/T²)
    N, C = 4, 5
    s = rng.normal(size=(N, C))
    t = rng.normal(size=(N, C))
    s, t = s - s.mean(axis=1, keepdims=True), t - t.mean(axis=1, keepdims=True)
    expected = (s - t) / (C * N)
    for T in (200.0, 400.0):
        student = tg.tensor(s, requires_grad=True)
        teacher = tg.tensor(np_softmax(t / T))
        E.distillation_loss(student, teacher, temperature=T, alpha=1.0).backward()
        np.testing.assert_allclose(student.grad.numpy(), expected, rtol=0, atol=3e-4)   # O(1/T)


# --- preprocessing ---------------------------------------------------------------------------

@pytest.mark.parametrize("step", [SimpleImputer, QuantileClipper, VarianceThreshold, PCA])
def test_zero_features_are_refused_clearly(step):
    # scikit-learn: "Found array with 0 feature(s)"; VarianceThreshold and PCA raised NumPy's
    # "zero-size array" / "argmax of an empty sequence", the others returned (5, 0)
    with pytest.raises(ValueError, match=r"X has no features \(shape \(5, 0\)\)"):
        step().fit(np.zeros((5, 0)))


def test_pca_failed_refit_keeps_the_previous_fit(rng):
    X = rng.normal(size=(10, 5))
    pca = PCA(3).fit(X)
    before = pca.transform(X)
    with pytest.raises(ValueError, match="exceeds min"):
        pca.fit(rng.normal(size=(2, 5)) + 100.0)           # used to overwrite mean_ first
    np.testing.assert_array_equal(pca.transform(X), before)


def test_pca_whiten_inverse_transform_round_trip(rng):
    X = rng.normal(size=(30, 4)) @ np.diag([5.0, 2.0, 1.0, 0.1]) + 3.0
    full = PCA(whiten=True).fit(X)
    Z = full.transform(X)
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(full.inverse_transform(Z), X, rtol=1e-10, atol=1e-10)
    # k < D: back to the projection onto the first k directions (scikit-learn's inverse)
    part = PCA(2, whiten=True).fit(X)
    V, mean = part.components_, X.mean(axis=0)
    np.testing.assert_allclose(part.inverse_transform(part.transform(X)),
                               (X - mean) @ V.T @ V + mean, rtol=1e-10, atol=1e-10)


def test_imputer_columns_with_one_or_no_observed_value():
    X = np.array([[1.0, NAN, NAN], [NAN, NAN, 4.0], [3.0, 2.0, NAN]], dtype=np.float32)
    # column 1 is constant apart from NaN: every strategy but 'constant' fills 2
    for strategy, column_0 in (("mean", 2.0), ("median", 2.0), ("most_frequent", 1.0)):
        imputer = SimpleImputer(strategy, add_indicator=True).fit(X)
        out = imputer.transform(X.astype(np.float64))       # fitted on float32, used on float64
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out[:, :3], [[1, 2, 4], [column_0, 2, 4], [3, 2, 4]])
        np.testing.assert_array_equal(out[:, 3:], np.isnan(X).astype(float))
    # an all-NaN column: only 'constant' has a value for it, and it keeps its indicator
    empty = np.full((2, 1), NAN)
    with pytest.raises(ValueError, match=r"columns \[0\] have no observed value"):
        SimpleImputer("median").fit(empty)
    out = SimpleImputer("constant", add_indicator=True, fill_value=7).fit_transform(empty)
    np.testing.assert_array_equal(out, [[7.0, 1.0], [7.0, 1.0]])


def test_fit_transform_equals_fit_then_transform(rng):
    X = rng.normal(size=(12, 4)) * [1.0, 2.0, 0.1, 3.0]
    X[[1, 5], [0, 2]] = NAN
    filled = SimpleImputer("median").fit_transform(X)
    for step, data in ((SimpleImputer("median", add_indicator=True), X),
                       (QuantileClipper(0.1, 0.9), X),
                       (VarianceThreshold(0.5), filled), (PCA(2, whiten=True), filled)):
        np.testing.assert_array_equal(step.fit_transform(data), step.fit(data).transform(data))


def test_quantile_clipper_constant_except_nan_and_dtype_of_transform(rng):
    out = QuantileClipper(0.1, 0.9).fit_transform(np.array([[5.0], [NAN], [5.0]]))
    np.testing.assert_array_equal(out, [[5.0], [NAN], [5.0]])
    clipper = QuantileClipper(0.25, 0.75).fit(rng.normal(size=(20, 2)))
    out = clipper.transform(np.array([[10.0, -10.0]], dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[np.float32(clipper.upper_[0]),
                                         np.float32(clipper.lower_[1])]])


def test_distillation_with_one_hot_teacher_counts_zero_log_zero_as_zero():
    # KL(p_t ‖ p_s) with p_t one-hot is −log p_s[y] (0·log 0 = 0): finite value and gradient
    s = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    student = tg.tensor(s, requires_grad=True)
    loss = E.distillation_loss(student, tg.tensor(np.eye(3)[[0, 2]]), temperature=2.0, alpha=1.0)
    log_p = np.log(np_softmax(s / 2.0))
    assert loss.item() == pytest.approx(4.0 * np.mean(-log_p[[0, 1], [0, 2]]), rel=1e-12)
    loss.backward()
    expected = 4.0 * (np_softmax(s / 2.0) - np.eye(3)[[0, 2]]) / 2.0 / 2   # T²·(p_s − p_t)/T/N
    np.testing.assert_allclose(student.grad.numpy(), expected, rtol=1e-12)
