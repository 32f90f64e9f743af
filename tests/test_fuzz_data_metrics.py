"""Property-based fuzzing of the numbers users report and the batches they train on.

* ``tg.metrics``: accuracy, the confusion matrix, precision / recall / F1 under every
  ``average`` (scikit-learn's documented definitions, zero division reported as 0), the
  G-mean, ROC AUC (pairwise definition, ties counting one half), the ROC and PR curves'
  areas, ``best_threshold``; labels drawn with ties, classes absent from the predictions
  or from the targets, a single class, scores given as logits or as probabilities;
* ``tg.preprocessing``: PCA against the eigendecomposition of the sample covariance
  (components up to sign, the sign rule, variances, ratios, whitening, the round trip),
  ``VarianceThreshold`` on constant columns, ``SimpleImputer`` and ``QuantileClipper``
  against loops over the columns, ``data.standardize``;
* ``tg.data`` / ``tg.utils.data``: DataLoader epochs (each index exactly once, batch
  counts ``len(loader)``, last-batch sizes, seeds), the TensorDataset fast path against
  the sample-by-sample path through nested Subsets and ConcatDatasets, the samplers,
  ``batch_sampler``, ``random_split`` (counts and fractions, PyTorch's remainder rule) and
  ``default_collate`` of random nested samples.

Every expected value is recomputed here with plain Python / NumPy loops.
Examples per property: FUZZ_DATA_EXAMPLES (default 25), e.g.
FUZZ_DATA_EXAMPLES=2000 HYPOTHESIS_PROFILE=explore for a bug hunt.
"""

import math
import os
from collections import namedtuple
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import metrics
from tinygrad_opt.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                               RandomSampler, SequentialSampler, Subset, SubsetRandomSampler,
                               TensorDataset, WeightedRandomSampler, balanced_indices,
                               class_weights, default_collate, random_split, standardize)
from tinygrad_opt.preprocessing import PCA, QuantileClipper, SimpleImputer, VarianceThreshold
from tinygrad_opt.utils import data as utils_data

EXAMPLES = int(os.environ.get("FUZZ_DATA_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=os.environ.get("HYPOTHESIS_PROFILE", "fixed") != "explore",
                suppress_health_check=list(HealthCheck))


# =============================================================================================
# metrics
# =============================================================================================

@st.composite
def label_pairs(draw, min_size=1, max_classes=5):
    """(y_true, y_pred) label lists over 0..K-1: small K, so classes go missing on one side."""
    k = draw(st.integers(1, max_classes))
    n = draw(st.integers(min_size, 25))
    labels = st.integers(0, k - 1)
    y_true = draw(st.lists(labels, min_size=n, max_size=n))
    y_pred = draw(st.lists(labels, min_size=n, max_size=n))
    return y_true, y_pred


def ref_counts(y_true, y_pred, c):
    tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
    fp = sum(1 for t, p in zip(y_true, y_pred) if t != c and p == c)
    fn = sum(1 for t, p in zip(y_true, y_pred) if t == c and p != c)
    return tp, fp, fn


def ratio(a, b):
    return a / b if b else 0.0                               # zero_division=0


def ref_prf(y_true, y_pred, average, pos_label=1):
    """scikit-learn's precision_recall_fscore_support (beta=1, zero_division=0)."""
    labels = [pos_label] if average == "binary" else sorted(set(y_true) | set(y_pred))
    counts = [ref_counts(y_true, y_pred, c) for c in labels]
    if average == "micro":
        tp, fp, fn = (sum(col) for col in zip(*counts))
        counts = [(tp, fp, fn)]
    per = [(ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn))
           for tp, fp, fn in counts]
    if average is None:
        return tuple(np.array(col) for col in zip(*per))
    if average == "weighted":
        support = [sum(1 for t in y_true if t == c) for c in labels]
        return tuple(sum(w * v for w, v in zip(support, col)) / sum(support)
                     for col in zip(*per))
    return tuple(sum(col) / len(col) for col in zip(*per))  # macro; micro / binary: one


def first_argmax(row):
    best = 0
    for j, v in enumerate(row):
        if v > row[best]:
            best = j
    return best


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def ref_pairwise_auc(y, s, positive):
    pos = [v for t, v in zip(y, s) if t == positive]
    neg = [v for t, v in zip(y, s) if t != positive]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


@FUZZ
@given(label_pairs(), st.integers(0, 3))
def test_confusion_matrix_and_accuracy_against_loops(pair, extra):
    y_true, y_pred = pair
    k = max(y_true + y_pred) + 1 + extra
    cm = metrics.confusion_matrix(y_true, y_pred, num_classes=k)
    expected = [[sum(1 for t, p in zip(y_true, y_pred) if t == i and p == j) for j in range(k)]
                for i in range(k)]
    assert cm.dtype == np.int64 and cm.tolist() == expected
    if extra == 0:
        assert metrics.confusion_matrix(y_true, y_pred).tolist() == expected
    correct = sum(1 for t, p in zip(y_true, y_pred) if t == p)
    assert metrics.accuracy(y_true, y_pred) == correct / len(y_true)


@FUZZ
@given(label_pairs(), st.sampled_from(["macro", "micro", "weighted", None]),
       st.sampled_from(["list", "int32", "float", "tensor"]))
def test_precision_recall_f1_averages_against_scikit_learns_definitions(pair, average, kind):
    y_true, y_pred = pair
    convert = {"list": list, "int32": lambda v: np.array(v, dtype=np.int32),
               "float": lambda v: np.array(v, dtype=np.float64),
               "tensor": lambda v: tg.tensor(np.array(v, dtype=np.int64))}[kind]
    got = metrics.precision_recall_f1(convert(y_true), convert(y_pred), average=average)
    want = ref_prf(y_true, y_pred, average)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
    if average == "micro":                     # one label per sample: all three = accuracy
        acc = metrics.accuracy(y_true, y_pred)
        np.testing.assert_allclose(got, [acc] * 3, rtol=1e-12)


@FUZZ
@given(label_pairs(max_classes=2), st.integers(0, 1), st.integers(0, 3))
def test_precision_recall_f1_binary_and_its_errors(pair, pos_label, shift):
    y_true = [t + shift for t in pair[0]]         # labels {s, s+1}: pos_label may be absent
    y_pred = [p + shift for p in pair[1]]
    present = set(y_true) | set(y_pred)
    if len(present) == 2 and pos_label not in present:
        with pytest.raises(ValueError, match="pos_label"):
            metrics.precision_recall_f1(y_true, y_pred, pos_label=pos_label)
        return
    got = metrics.precision_recall_f1(y_true, y_pred, pos_label=pos_label)
    np.testing.assert_allclose(got, ref_prf(y_true, y_pred, "binary", pos_label), rtol=1e-12)
    if len(present) == 2:
        with pytest.raises(ValueError, match="two classes"):
            metrics.precision_recall_f1(y_true + [max(present) + 1],
                                        y_pred + [min(present)], average="binary")


@FUZZ
@given(st.data())
def test_scores_as_logits_or_probabilities_give_the_argmax_labels(data):
    n = data.draw(st.integers(1, 20))
    k = data.draw(st.integers(2, 5))
    logits = np.array(data.draw(st.lists(st.lists(st.integers(-8, 8), min_size=k, max_size=k),
                                         min_size=n, max_size=n)), dtype=np.float64) / 4
    y_true = data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    labels = [first_argmax(row) for row in logits.tolist()]     # ties: the first class
    probabilities = softmax(logits)
    for scores in (logits, probabilities, logits.astype(np.float32), tg.tensor(logits)):
        assert metrics.accuracy(y_true, scores) == metrics.accuracy(y_true, labels)
        assert metrics.confusion_matrix(y_true, scores, num_classes=k).tolist() == \
            metrics.confusion_matrix(y_true, labels, num_classes=k).tolist()
        np.testing.assert_array_equal(metrics.precision_recall_f1(y_true, scores, "macro"),
                                      ref_prf(y_true, labels, "macro"))


@FUZZ
@given(label_pairs())
def test_g_mean_against_the_recalls_of_the_true_classes(pair):
    y_true, y_pred = pair
    classes = sorted(set(y_true))
    recalls = [sum(1 for t, p in zip(y_true, y_pred) if t == c == p) / y_true.count(c)
               for c in classes]
    want = math.prod(recalls) ** (1 / len(classes))
    assert metrics.g_mean(y_true, y_pred) == pytest.approx(want, rel=1e-12, abs=1e-15)


@st.composite
def binary_scores(draw):
    """(0/1 labels with both classes, scores from a few levels: many ties)."""
    n = draw(st.integers(2, 25))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    y[draw(st.integers(0, n - 1))] = 0
    y[(y.index(0) + 1 + draw(st.integers(0, n - 2))) % n] = 1
    levels = draw(st.integers(1, 8))
    s = draw(st.lists(st.integers(-levels, levels), min_size=n, max_size=n))
    return y, [v / 2 for v in s]


@FUZZ
@given(binary_scores(), st.sampled_from(["01", "pm1", "37", "two_columns", "tensor",
                                         "sigmoid"]))
def test_roc_auc_is_the_pairwise_probability_with_ties_as_one_half(pair, form):
    y, s = pair
    want = ref_pairwise_auc(y, s, 1)
    y_arg, s_arg = y, s
    if form == "pm1":
        y_arg = [2 * t - 1 for t in y]                        # {-1, +1}: +1 is positive
    elif form == "37":
        y_arg = [3 + 4 * t for t in y]                        # {3, 7}: the larger positive
    elif form == "two_columns":
        s_arg = np.column_stack([-np.array(s), np.array(s)])  # (N, 2): column 1
    elif form == "tensor":
        y_arg, s_arg = tg.tensor(np.array(y)), tg.tensor(np.array(s))
    elif form == "sigmoid":                                   # probabilities: same order
        s_arg = 1 / (1 + np.exp(-np.array(s)))
    assert metrics.roc_auc(y_arg, s_arg) == pytest.approx(want, abs=1e-12)
    assert metrics.roc_auc_score(y_arg, s_arg) == pytest.approx(want, abs=1e-12)
    for drop in (True, False):
        fpr, tpr, thresholds = metrics.roc_curve(y, s, drop_intermediate=drop)
        assert metrics.auc(fpr, tpr) == pytest.approx(want, abs=1e-12)
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
        assert thresholds[0] == np.inf and np.all(np.diff(thresholds) < 0)


@FUZZ
@given(binary_scores(), st.booleans())
def test_precision_recall_curve_points_against_direct_thresholding(pair, drop):
    y, s = pair
    precision, recall, thresholds = metrics.precision_recall_curve(y, s, drop_intermediate=drop)
    assert len(precision) == len(recall) == len(thresholds) + 1
    assert precision[-1] == 1.0 and recall[-1] == 0.0
    assert set(thresholds.tolist()) <= set(s) and np.all(np.diff(thresholds) > 0)
    if not drop:
        assert thresholds.tolist() == sorted(set(s))
    for t, p, r in zip(thresholds, precision, recall):
        tp = sum(1 for a, b in zip(y, s) if b >= t and a == 1)
        fp = sum(1 for a, b in zip(y, s) if b >= t and a == 0)
        assert p == pytest.approx(tp / (tp + fp), abs=1e-15)
        assert r == pytest.approx(tp / sum(y), abs=1e-15)


@FUZZ
@given(binary_scores(), st.sampled_from(["f1", "g_mean"]))
def test_best_threshold_is_the_brute_force_maximum(pair, by):
    y, s = pair
    n_pos, n_neg = sum(y), len(y) - sum(y)
    best = None
    for t in sorted(set(s), reverse=True):                    # ties: the highest threshold
        tp = sum(1 for a, b in zip(y, s) if b >= t and a == 1)
        fp = sum(1 for a, b in zip(y, s) if b >= t and a == 0)
        if by == "f1":
            value = Fraction(2 * tp, 2 * tp + fp + (n_pos - tp))
        else:                                                 # compare g_mean² exactly
            value = Fraction(tp * (n_neg - fp), n_pos * n_neg)
        if best is None or value > best[1]:
            best = (t, value)
    threshold, value = metrics.best_threshold(y, s, by=by)
    assert threshold == best[0]
    want = float(best[1]) if by == "f1" else math.sqrt(best[1])
    assert value == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_metric_errors_are_clear(device):
    empty = tg.tensor(np.zeros(0, dtype=np.int64), device=device)
    for metric in (metrics.accuracy, metrics.confusion_matrix, metrics.g_mean,
                   metrics.precision_recall_f1):
        with pytest.raises(ValueError, match="empty"):
            metric([], [])
        with pytest.raises(ValueError, match="empty"):
            metric(empty, empty)
        with pytest.raises(ValueError, match="3 samples but y_pred has 2"):
            metric([0, 1, 1], [0, 1])
        with pytest.raises(ValueError, match="negative label"):
            metric([0, -1], [0, 1])
        with pytest.raises(ValueError, match="integer class labels"):
            metric([0, 1.5], [0, 1])
    for metric in (metrics.roc_auc, metrics.roc_curve, metrics.precision_recall_curve,
                   metrics.best_threshold):
        with pytest.raises(ValueError, match="two classes"):
            metric([1, 1, 1], [0.1, 0.2, 0.3])                # one class: no curve, no AUC
        with pytest.raises(ValueError, match="two classes"):
            metric([], [])
        with pytest.raises(ValueError, match="NaN or inf"):
            metric([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="one score per sample"):
        metrics.accuracy([0, 1], np.array([[0.2], [0.9]]))


# =============================================================================================
# preprocessing
# =============================================================================================

@st.composite
def matrices(draw, min_rows=2, max_rows=12, max_cols=6, constant=True):
    """Float64 (N, D) data: normal columns, some constant (any value), some duplicated."""
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, max_cols))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    X = rng.normal(size=(n, d)) * rng.choice([0.01, 1.0, 100.0], size=d)
    for j in range(d):
        kind = draw(st.sampled_from(["normal"] * 3 + (["constant", "copy"] if constant else [])))
        if kind == "constant":
            X[:, j] = draw(st.sampled_from([0.1, 0.3, 0.7, 1.1, -2.2, 1e3 / 3]))
        elif kind == "copy" and j > 0:
            X[:, j] = 2 * X[:, 0]
    return X


def ref_pca(X):
    """(eigenvalues desc, eigenvectors as rows) of the sample covariance, ddof=1."""
    Xc = X - X.mean(axis=0)
    values, vectors = np.linalg.eigh(Xc.T @ Xc / (len(X) - 1))
    order = np.argsort(values)[::-1]
    return np.clip(values[order], 0, None), vectors[:, order].T


@FUZZ
@given(matrices(), st.booleans())
def test_pca_against_the_covariance_eigendecomposition(X, whiten):
    n, d = X.shape
    pca = PCA(whiten=whiten).fit(X)
    r = min(n, d)
    values, vectors = ref_pca(X)
    # variances below (1e-6 · max|X|)² are rounding residues (constant data centred by a
    # rounded mean): no direction to check there
    floor = (1e-6 * max(np.abs(X).max(), 1e-300)) ** 2
    scale = max(values[0], floor)
    assert pca.n_components_ == r and pca.components_.shape == (r, d)
    np.testing.assert_allclose(pca.explained_variance_, values[:r], atol=1e-9 * scale)
    np.testing.assert_allclose(pca.mean_, X.mean(axis=0), rtol=1e-12, atol=1e-12)
    total = values.sum()
    if total > 1e-20 * max(1.0, np.abs(X).max()) ** 2:
        np.testing.assert_allclose(pca.explained_variance_ratio_, values[:r] / total,
                                   atol=1e-9)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(r), atol=1e-9)
    for i in range(r):
        gap = min([abs(values[i] - values[j]) for j in range(d) if j != i] or [scale])
        if values[i] < floor or gap < 1e-6 * scale:
            continue                                # a direction the data does not fix
        v = vectors[i]
        top = np.sort(np.abs(v))[::-1]
        if len(top) > 1 and top[0] - top[1] < 1e-6:
            continue                                # the sign rule is itself a tie
        v = v * np.sign(v[np.argmax(np.abs(v))])    # largest |entry| positive
        np.testing.assert_allclose(pca.components_[i], v, atol=1e-6)
    Z = pca.transform(X)
    np.testing.assert_allclose(pca.inverse_transform(Z), X, atol=1e-9 * max(1, np.abs(X).max()))
    if whiten:
        kept = pca.explained_variance_ > floor
        np.testing.assert_allclose(Z[:, kept].var(axis=0, ddof=1), 1.0, rtol=1e-6)
    else:
        np.testing.assert_allclose(Z, (X - X.mean(axis=0)) @ pca.components_.T,
                                   atol=1e-9 * max(1, np.abs(X).max()))


@FUZZ
@given(matrices(min_rows=3), st.floats(0.05, 0.95))
def test_pca_fraction_keeps_the_fewest_components_above_it(X, fraction):
    values, _ = ref_pca(X)
    total = values.sum()
    if total <= 1e-12 * max(1.0, np.abs(X).max()) ** 2:
        return
    cumulative = np.cumsum(values[:min(X.shape)]) / total
    if np.min(np.abs(cumulative - fraction)) < 1e-9:
        return                                      # on the edge: rounding decides
    want = next((k + 1 for k, c in enumerate(cumulative) if c > fraction), len(cumulative))
    pca = PCA(fraction).fit(X)
    assert pca.n_components_ == want
    assert pca.transform(X).shape == (len(X), want)


@FUZZ
@given(matrices(min_rows=1), st.sampled_from([0.0, 0.0, 0.5, 2.0]))
def test_variance_threshold_removes_exactly_the_constant_columns(X, threshold):
    variances = X.var(axis=0)
    constant = np.ptp(X, axis=0) == 0
    want = ~constant & (variances > threshold)
    if not want.any():
        with pytest.raises(ValueError, match="no feature has a variance above"):
            VarianceThreshold(threshold).fit(X)
        return
    if np.min(np.abs(variances[~constant] - threshold)) < 1e-9 * max(1, threshold):
        return
    selector = VarianceThreshold(threshold).fit(X)
    np.testing.assert_array_equal(selector.get_support(), want)
    assert np.all(selector.variances_[constant] == 0)      # a constant column: variance 0
    np.testing.assert_allclose(selector.variances_[~constant], variances[~constant],
                               rtol=1e-12)
    np.testing.assert_array_equal(selector.transform(X), X[:, want])


def test_variance_threshold_constant_column_regression():
    # ten copies of 0.1: NumPy's var is 1.9e-34 (the mean rounds), yet the column is constant
    X = np.column_stack([np.full(10, 0.1), np.arange(10.0)])
    selector = VarianceThreshold().fit(X)
    assert selector.get_support().tolist() == [False, True]
    assert selector.transform(X).shape == (10, 1)


def ref_quantile(values, q):
    """NumPy's default 'linear' quantile: h = (n - 1) q between the sorted neighbours."""
    v = sorted(values)
    h = (len(v) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (h - lo) * (v[hi] - v[lo])


@FUZZ
@given(matrices(min_rows=1), st.data())
def test_imputer_and_clipper_against_column_loops(X, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    X = X.copy()
    X[rng.random(X.shape) < 0.3] = np.nan
    X[0, np.isnan(X).all(axis=0)] = 0.25                    # every column observed once
    X2 = X[::-1].copy()
    X2[rng.random(X2.shape) < 0.3] = np.nan
    strategy = data.draw(st.sampled_from(["mean", "median", "most_frequent", "constant"]))
    imputer = SimpleImputer(strategy, add_indicator=True, fill_value=-7.0).fit(X)
    fills = []
    for column in X.T:
        seen = [v for v in column.tolist() if not math.isnan(v)]
        if strategy == "mean":
            fills.append(sum(seen) / len(seen))
        elif strategy == "median":
            fills.append(ref_quantile(seen, 0.5))
        elif strategy == "most_frequent":
            fills.append(min(seen, key=lambda v: (-seen.count(v), v)))
        else:
            fills.append(-7.0)
    np.testing.assert_allclose(imputer.statistics_, fills, rtol=1e-12, atol=1e-12)
    out = imputer.transform(X2)
    missing_in_fit = [j for j in range(X.shape[1]) if np.isnan(X[:, j]).any()]
    want = np.where(np.isnan(X2), np.array(fills), X2)
    want = np.concatenate([want, np.isnan(X2[:, missing_in_fit]).astype(float)], axis=1)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)

    low = data.draw(st.sampled_from([0.0, 0.1, 0.25]))
    high = data.draw(st.sampled_from([0.75, 0.9, 1.0]))
    clipper = QuantileClipper(low, high).fit(X)
    for j, column in enumerate(X.T):
        seen = [v for v in column.tolist() if not math.isnan(v)]
        lo, hi = ref_quantile(seen, low), ref_quantile(seen, high)
        assert clipper.lower_[j] == pytest.approx(lo, rel=1e-12, abs=1e-12)
        assert clipper.upper_[j] == pytest.approx(hi, rel=1e-12, abs=1e-12)
    clipped = clipper.transform(X2)
    np.testing.assert_array_equal(np.isnan(clipped), np.isnan(X2))
    observed = ~np.isnan(X2)
    want = np.minimum(np.maximum(X2, clipper.lower_), clipper.upper_)
    np.testing.assert_array_equal(clipped[observed], want[observed])


@FUZZ
@given(matrices(min_rows=1), st.booleans())
def test_standardize_against_numpy(X, integers):
    if integers:
        X = np.round(X).astype(np.int64)
    X_val = X[::-1] + 1
    train, val, (mean, std) = standardize(X, X_val)
    Xf = X.astype(np.float64)
    ref_mean = Xf.mean(axis=0)
    ref_std = Xf.std(axis=0)
    ref_std[np.ptp(Xf, axis=0) == 0] = 1.0                  # constant column: std 1
    assert train.dtype == (np.float32 if integers else np.float64)
    tol = dict(rtol=1e-5, atol=1e-5) if integers else dict(rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mean, ref_mean, **tol)
    np.testing.assert_allclose(std, ref_std, **tol)
    np.testing.assert_allclose(train, (Xf - ref_mean) / ref_std, **tol)
    np.testing.assert_allclose(val, (X_val - ref_mean) / ref_std, **tol)


def test_standardize_refuses_an_empty_training_set(device):
    # it returned NaN means (with RuntimeWarnings) that turned every array into NaN
    empty = tg.tensor(np.zeros((0, 3)), device=device)
    for train in (np.zeros((0, 3)), empty, np.float64(2.0)):
        with pytest.raises(ValueError, match="no samples"):
            standardize(train, np.ones((2, 3)))


# =============================================================================================
# data
# =============================================================================================

class Rows(Dataset):
    """Map-style data set read one sample at a time: (features row, label)."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], int(self.y[i])


def epoch_rows(loader):
    return [batch[1].numpy().tolist() for batch in loader]


@FUZZ
@given(st.integers(0, 40), st.integers(1, 12), st.booleans(), st.booleans(),
       st.integers(0, 10 ** 6))
def test_loader_epochs_visit_each_index_once_in_len_batches(n, batch_size, drop_last,
                                                            shuffle, seed):
    labels = np.arange(n, dtype=np.int64)
    dataset = TensorDataset(np.arange(2 * n, dtype=np.float32).reshape(n, 2), labels)
    if shuffle and n == 0:                    # PyTorch's RandomSampler refuses 0 samples
        with pytest.raises(ValueError, match="num_samples"):
            DataLoader(dataset, batch_size, shuffle, drop_last=drop_last, seed=seed)
        return
    loader = DataLoader(dataset, batch_size, shuffle, drop_last=drop_last, seed=seed)
    full, rest = divmod(n, batch_size)
    n_batches = full + (1 if rest and not drop_last else 0)
    assert len(loader) == n_batches
    for _ in range(2):                                       # two epochs
        batches = epoch_rows(loader)
        assert len(batches) == n_batches
        sizes = [len(b) for b in batches]
        assert sizes == [batch_size] * full + ([rest] if rest and not drop_last else [])
        flat = [i for b in batches for i in b]
        assert len(set(flat)) == len(flat)
        if drop_last:
            assert len(flat) == full * batch_size
        else:
            assert sorted(flat) == list(range(n))
        if not shuffle:
            assert flat == list(range(len(flat)))
    single = DataLoader(dataset, None, shuffle, seed=seed)       # batching off
    assert len(single) == n
    assert sorted(int(sample[1].numpy()) for sample in single) == list(range(n))
    twin = DataLoader(dataset, batch_size, shuffle, drop_last=drop_last, generator=seed)
    assert epoch_rows(twin) == epoch_rows(DataLoader(dataset, batch_size, shuffle,
                                                     drop_last=drop_last, seed=seed))
    if shuffle:                                              # no seed: tg.manual_seed's
        plain = DataLoader(dataset, batch_size, True, drop_last=drop_last)
        tg.manual_seed(seed)
        first = epoch_rows(plain)
        tg.manual_seed(seed)
        assert epoch_rows(plain) == first
        generator = tg.Generator().manual_seed(seed)
        a = epoch_rows(DataLoader(dataset, batch_size, True, drop_last=drop_last,
                                  generator=generator))
        generator.manual_seed(seed)
        b = epoch_rows(DataLoader(dataset, batch_size, True, drop_last=drop_last,
                                  generator=generator))
        assert a == b


@FUZZ
@given(st.data())
def test_fast_path_equals_sample_by_sample_through_subsets_and_concats(data):
    sizes = data.draw(st.lists(st.integers(0, 6), min_size=1, max_size=4))
    if sum(sizes) == 0:
        sizes[0] = 1
    n = sum(sizes)
    X = np.arange(3 * n, dtype=np.float64).reshape(n, 3) / 4
    y = np.arange(n, dtype=np.int64) * 10
    inner = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=12))
    outer = data.draw(st.lists(st.integers(0, len(inner) - 1), min_size=1, max_size=12))
    rows = [inner[o] for o in outer]                          # Subset(Subset(ds, inner), outer)
    batch_size = data.draw(st.integers(1, 5))
    device = data.draw(st.sampled_from(["cpu", "strict"]))
    fast = Subset(Subset(TensorDataset(X, y), inner), outer)
    slow = Subset(Subset(Rows(X, y), inner), outer)
    starts = np.cumsum([0] + sizes)
    parts = [TensorDataset(X[a:b], y[a:b]) for a, b in zip(starts[:-1], starts[1:])]
    concat = Subset(Subset(ConcatDataset(parts), inner), outer)
    got = [list(DataLoader(ds, batch_size, device=device)) for ds in (fast, slow, concat)]
    for batches in got:
        assert len(batches) == math.ceil(len(rows) / batch_size)
        features = np.concatenate([b[0].numpy() for b in batches])
        labels = np.concatenate([b[1].numpy() for b in batches])
        assert all(b[0].device == device for b in batches)
        np.testing.assert_array_equal(features, X[rows])
        np.testing.assert_array_equal(labels, y[rows])
        assert labels.dtype == np.int64 and features.dtype == np.float64
    flat = [x for part in parts for x in range(len(part))]
    cd = ConcatDataset(parts)
    for i in range(-n, n):                                    # negative: from the end
        assert int(cd[i][1]) == y[i]
    assert len(flat) == len(cd) == n
    with pytest.raises(IndexError):
        cd[n]


@FUZZ
@given(st.integers(1, 12), st.integers(1, 40), st.booleans(), st.integers(0, 10 ** 6))
def test_random_sampler_counts(n, num_samples, replacement, seed):
    sampler = RandomSampler(range(n), replacement, num_samples, generator=seed)
    first = list(sampler)
    assert len(sampler) == len(first) == num_samples
    assert all(isinstance(i, int) and 0 <= i < n for i in first)
    if not replacement:                      # whole permutations, the last one cut short
        for start in range(0, num_samples - num_samples % n, n):
            assert sorted(first[start:start + n]) == list(range(n))
        counts = np.bincount(first, minlength=n)
        assert counts.min() >= num_samples // n and counts.max() <= -(-num_samples // n)
        assert len(set(first[num_samples - num_samples % n:])) == num_samples % n
    again = RandomSampler(range(n), replacement, num_samples, generator=seed)
    assert list(again) == first


@FUZZ
@given(st.lists(st.integers(-5, 30), max_size=15), st.integers(0, 10 ** 6))
def test_subset_random_sampler_is_a_permutation_of_its_indices(indices, seed):
    sampler = SubsetRandomSampler(indices, generator=seed)
    for _ in range(2):
        drawn = list(sampler)
        assert sorted(drawn) == sorted(indices) and len(sampler) == len(indices)


@FUZZ
@given(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0, 1e-3, 1e308]), min_size=1, max_size=10),
       st.booleans(), st.integers(1, 12), st.integers(0, 10 ** 6))
def test_weighted_sampler_draws_only_positive_weights(weights, replacement, num_samples,
                                                      seed):
    positive = [i for i, w in enumerate(weights) if w > 0]
    if not positive or (not replacement and num_samples > len(positive)):
        with pytest.raises(ValueError):
            WeightedRandomSampler(weights, num_samples, replacement)
        return
    sampler = WeightedRandomSampler(weights, num_samples, replacement, generator=seed)
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == num_samples
    assert set(drawn) <= set(positive)
    if not replacement:
        assert len(set(drawn)) == num_samples


def test_weighted_sampler_huge_weights_regression():
    # Σ w overflowed to inf, so p = w / Σ w was 0 and NumPy refused ("do not sum to 1")
    drawn = list(WeightedRandomSampler([1e308, 1e308, 0.0], 2, replacement=False, seed=0))
    assert sorted(drawn) == [0, 1]


@FUZZ
@given(st.lists(st.integers(0, 4), min_size=1, max_size=30), st.integers(0, 10 ** 6))
def test_class_weights_and_balanced_indices(labels, seed):
    counts = [labels.count(c) for c in range(max(labels) + 1)]
    if 0 in counts:
        with pytest.raises(ValueError, match="no sample"):
            class_weights(labels)
    else:
        want = [len(labels) / (len(counts) * c) for c in counts]       # N / (C · n_c)
        np.testing.assert_allclose(class_weights(labels), want, rtol=1e-6)
    present = sorted(set(labels))
    over = balanced_indices(labels, "over", seed=seed).tolist()
    under = balanced_indices(labels, "under", seed=seed).tolist()
    big, small = max(labels.count(c) for c in present), min(labels.count(c) for c in present)
    assert sorted(set(over)) == list(range(len(labels)))             # every sample kept
    assert len(set(under)) == len(under)                             # no repeats
    for c in present:
        assert sum(1 for i in over if labels[i] == c) == big
        assert sum(1 for i in under if labels[i] == c) == small
    assert balanced_indices(labels, "over", seed=seed).tolist() == over


@FUZZ
@given(st.lists(st.integers(0, 9), min_size=1, max_size=10), st.data())
def test_subset_reads_positions_and_lists_of_positions(indices, data):
    X = np.arange(10) * 7
    subset = Subset(TensorDataset(X), indices)
    positions = data.draw(st.lists(st.integers(-len(indices), len(indices) - 1), max_size=6))
    for i in positions:
        assert int(subset[i][0]) == X[indices[i]]
    (rows,) = subset[positions]                                  # a list: PyTorch's batch read
    assert rows.tolist() == [X[indices[i]] for i in positions]


@FUZZ
@given(st.lists(st.integers(0, 9), max_size=30), st.integers(1, 7), st.booleans())
def test_batch_sampler_and_the_loaders_batch_sampler(order, batch_size, drop_last):
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if drop_last and chunks and len(chunks[-1]) < batch_size:
        chunks.pop()
    sampler = BatchSampler(order, batch_size, drop_last)
    assert list(sampler) == chunks and len(sampler) == len(chunks)
    dataset = TensorDataset(np.arange(10) * 3)
    by_batches = DataLoader(dataset, batch_sampler=sampler)
    by_options = DataLoader(dataset, batch_size, sampler=order, drop_last=drop_last)
    assert len(by_batches) == len(by_options) == len(chunks)
    want = [[3 * i for i in chunk] for chunk in chunks]
    assert [b[0].numpy().tolist() for b in by_batches] == want
    assert [b[0].numpy().tolist() for b in by_options] == want
    for bad in (dict(batch_size=2), dict(shuffle=True), dict(sampler=order),
                dict(drop_last=True)):
        with pytest.raises(ValueError, match="mutually exclusive"):
            DataLoader(dataset, batch_sampler=sampler, **bad)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(dataset, sampler=SequentialSampler(dataset), shuffle=True)


def ref_split_counts(n, lengths):
    """PyTorch's random_split: fractions floor(n·f), the remainder one each, round robin."""
    if math.isclose(sum(lengths), 1) and sum(lengths) <= n:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    return list(lengths)


@FUZZ
@given(st.integers(0, 30), st.data())
def test_random_split_counts_fractions_and_cover(n, data):
    if data.draw(st.booleans()) or n == 0:
        k = data.draw(st.integers(1, 4))
        cuts = sorted(data.draw(st.lists(st.integers(0, n), min_size=k - 1, max_size=k - 1)))
        lengths = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    else:
        weights = data.draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
        if sum(weights) == 0:
            weights[0] = 1
        lengths = [w / sum(weights) for w in weights]
    if not math.isclose(sum(lengths), 1) and abs(sum(lengths) - 1) < 1e-6:
        return
    seed = data.draw(st.integers(0, 10 ** 6))
    parts = random_split(range(n), lengths, generator=seed)
    want = ref_split_counts(n, lengths)
    assert [len(p) for p in parts] == want
    flat = [p[i] for p in parts for i in range(len(p))]
    assert sorted(flat) == list(range(n))
    again = utils_data.random_split(range(n), lengths, seed=seed)
    assert [list(p.indices) for p in again] == [list(p.indices) for p in parts]
    generator = tg.Generator().manual_seed(seed)
    by_generator = random_split(range(n), lengths, generator)
    generator.manual_seed(seed)
    assert [list(p.indices) for p in random_split(range(n), lengths, generator)] == \
        [list(p.indices) for p in by_generator]


Pair = namedtuple("Pair", ["a", "b"])


@st.composite
def structures(draw, depth=0):
    """A sample template: a leaf kind or a container of templates."""
    leaves = st.sampled_from(["int", "float", "bool", "str", "array32", "array64i",
                              "scalar64", "tensor"])
    if depth >= 2:
        return draw(leaves)
    kind = draw(st.sampled_from(["leaf", "leaf", "dict", "tuple", "list", "named"]))
    if kind == "leaf":
        return draw(leaves)
    if kind == "named":
        return ("named", [draw(structures(depth + 1)), draw(structures(depth + 1))])
    size = draw(st.integers(1, 3))
    children = [draw(structures(depth + 1)) for _ in range(size)]
    return (kind, children)


def make_sample(template, i, rng):
    if isinstance(template, tuple):
        kind, children = template
        values = [make_sample(c, i, rng) for c in children]
        if kind == "dict":
            return {f"k{j}": v for j, v in enumerate(values)}
        if kind == "named":
            return Pair(*values)
        return tuple(values) if kind == "tuple" else list(values)
    return {"int": lambda: int(rng.integers(-5, 5)), "float": lambda: float(rng.normal()),
            "bool": lambda: bool(rng.integers(0, 2)), "str": lambda: f"s{i}",
            "array32": lambda: rng.normal(size=(2, 3)).astype(np.float32),
            "array64i": lambda: rng.integers(0, 9, size=(3,)),
            "scalar64": lambda: np.float64(rng.normal()),
            "tensor": lambda: tg.tensor(rng.normal(size=(2,)))}[template]()


def check_collated(template, samples, got, device):
    if isinstance(template, tuple):
        kind, children = template
        if kind == "dict":
            assert isinstance(got, dict) and list(got) == [f"k{j}" for j in range(len(children))]
            for j, child in enumerate(children):
                check_collated(child, [s[f"k{j}"] for s in samples], got[f"k{j}"], device)
            return
        assert type(got) is (Pair if kind == "named" else list)   # PyTorch: tuple -> list
        assert len(got) == len(children)
        for j, child in enumerate(children):
            check_collated(child, [s[j] for s in samples], got[j], device)
        return
    if template == "str":
        assert got == samples
        return
    assert got.device == device
    values = [s.numpy() if isinstance(s, tg.Tensor) else np.asarray(s) for s in samples]
    want = np.stack(values)
    want_dtype = {"int": np.int64, "float": np.float32, "bool": np.bool_}.get(template,
                                                                             want.dtype)
    assert got.dtype == want_dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.numpy(), want.astype(want_dtype))


@FUZZ
@given(structures(), st.integers(1, 4), st.integers(0, 1000), st.booleans())
def test_default_collate_of_random_nested_samples(template, batch, seed, through_loader):
    rng = np.random.default_rng(seed)
    samples = [make_sample(template, i, rng) for i in range(batch)]
    device = ["cpu", "strict"][seed % 2]
    if through_loader:
        class Listed(Dataset):
            def __len__(self):
                return batch

            def __getitem__(self, i):
                return samples[i]

        (got,) = list(DataLoader(Listed(), batch_size=batch, device=device))
    else:
        got = default_collate(samples, device=device)
    check_collated(template, samples, got, device)
