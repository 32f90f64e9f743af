"""Metrics against scikit-learn's documented semantics, with plain-NumPy references:
average precision (the step-wise sum), zero_division, confusion_matrix normalize,
accuracy's normalize and sample_weight."""

import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.metrics import (accuracy, auc, average_precision, confusion_matrix,
                                  precision_recall_curve, precision_recall_f1)


# --- references -----------------------------------------------------------------------------

def reference_average_precision(y, s):
    """sum_n (R_n - R_{n-1}) P_n over the distinct thresholds in decreasing order, each point
    found by thresholding the scores directly."""
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    total, previous_recall = 0.0, 0.0
    for t in sorted(set(s.tolist()), reverse=True):
        predicted = s >= t
        tp = np.sum(predicted & (y == 1))
        precision, recall = tp / np.sum(predicted), tp / np.sum(y == 1)
        total += (recall - previous_recall) * precision
        previous_recall = recall
    return total


def reference_prf(true, pred, zero_division):
    """Per-class (precision, recall, F1) over the labels present, by loops."""
    labels = sorted(set(true.tolist()) | set(pred.tolist()))
    rows = []
    for c in labels:
        tp = int(np.sum((true == c) & (pred == c)))
        n_pred, n_true = int(np.sum(pred == c)), int(np.sum(true == c))
        rows.append((tp / n_pred if n_pred else zero_division,
                     tp / n_true if n_true else zero_division,
                     2 * tp / (n_pred + n_true) if n_pred + n_true else zero_division))
    return np.array(rows, dtype=float).T, np.array([np.sum(true == c) for c in labels])


def nan_mean(values, weights):
    keep = ~np.isnan(values)
    if not keep.any():
        return np.nan
    return float(np.sum(values[keep] * weights[keep]) / np.sum(weights[keep]))


# --- average precision ----------------------------------------------------------------------

def test_average_precision_documented_example_and_not_the_trapezoid():
    y, s = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    # precisions 1, 1/2, 2/3, 1/2 at recalls 1/2, 1/2, 1, 1: AP = 1/2 * 1 + 1/2 * 2/3
    assert average_precision(y, s) == pytest.approx(0.5 + 1 / 3)
    precision, recall, _ = precision_recall_curve(y, s)
    assert auc(recall, precision) != pytest.approx(average_precision(y, s))


def test_average_precision_against_thresholding_with_ties(device, rng):
    for _ in range(30):
        n = int(rng.integers(2, 25))
        y = rng.integers(0, 2, n)
        y[0], y[1] = 0, 1
        s = rng.integers(0, int(rng.integers(1, 6)), n).astype(np.float64) / 4
        got = average_precision(tg.tensor(y, device=device), tg.tensor(s, device=device))
        assert got == pytest.approx(reference_average_precision(y, s), abs=1e-12)


def test_average_precision_pos_label_two_columns_and_errors():
    y = np.array([3, 7, 7, 3, 7])
    s = np.array([0.2, 0.9, 0.4, 0.6, 0.6])
    expected = reference_average_precision(y == 7, s)
    assert average_precision(y, s) == pytest.approx(expected)
    assert average_precision(y, np.stack([1 - s, s], 1), pos_label=7) == pytest.approx(expected)
    # the other class as positive: its score is the negated one
    assert average_precision(y, -s, pos_label=3) == pytest.approx(
        reference_average_precision(y == 3, -s))
    with pytest.raises(ValueError, match="average_precision.*two classes"):
        average_precision([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="average_precision.*NaN"):
        average_precision([0, 1], [0.1, np.nan])


# --- zero_division --------------------------------------------------------------------------

@pytest.mark.parametrize("zero_division", [0, 1, np.nan])
def test_zero_division_values_and_averages(zero_division, rng):
    for _ in range(20):
        true = rng.integers(0, 3, 8)
        pred = rng.integers(0, 5, 8)            # classes 3, 4 only predicted: recall undefined
        (p_ref, r_ref, f_ref), support = reference_prf(true, pred, zero_division)
        p, r, f = precision_recall_f1(true, pred, average=None, zero_division=zero_division)
        np.testing.assert_allclose(np.stack([p, r, f]), np.stack([p_ref, r_ref, f_ref]))
        ones = np.ones_like(p_ref)
        macro = precision_recall_f1(true, pred, average="macro", zero_division=zero_division)
        np.testing.assert_allclose(macro, [nan_mean(v, ones) for v in (p_ref, r_ref, f_ref)])
        weighted = precision_recall_f1(true, pred, average="weighted",
                                       zero_division=zero_division)
        np.testing.assert_allclose(weighted, [nan_mean(v, support.astype(float))
                                              for v in (p_ref, r_ref, f_ref)])


def test_zero_division_binary_micro_warn_and_errors():
    # nothing predicted positive and no true positive: all three ill-defined
    assert precision_recall_f1([0, 0], [0, 0], zero_division=1) == (1.0, 1.0, 1.0)
    assert all(np.isnan(precision_recall_f1([0, 0], [0, 0], zero_division=np.nan)))
    assert precision_recall_f1([0, 1], [0, 0], zero_division=1) == (1.0, 0.0, 0.0)
    with pytest.warns(UserWarning, match="precision is ill-defined"):
        assert precision_recall_f1([0, 1], [0, 0], zero_division="warn") == (0.0, 0.0, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # defined scores: no warning
        assert precision_recall_f1([0, 1], [0, 1], zero_division="warn") == (1.0, 1.0, 1.0)
        assert precision_recall_f1([0, 1], [0, 0]) == (0.0, 0.0, 0.0)   # default: silent 0
    for bad in (2, 0.5, "zero", None, True):
        with pytest.raises(ValueError, match="zero_division"):
            precision_recall_f1([0, 1], [0, 1], zero_division=bad)


# --- confusion matrix normalize, accuracy options -------------------------------------------

def test_confusion_matrix_normalize_against_loops(device, rng):
    true = rng.integers(0, 4, 30)
    pred = rng.integers(0, 4, 30)
    true[true == 2] = 1                          # class 2 never true: its row is empty
    counts = np.zeros((5, 5))
    for t, p in zip(true, pred):
        counts[t, p] += 1
    rows = counts.sum(1, keepdims=True)
    cols = counts.sum(0, keepdims=True)
    expected = {"true": np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0),
                "pred": np.divide(counts, cols, out=np.zeros_like(counts), where=cols > 0),
                "all": counts / counts.sum()}
    yt, yp = tg.tensor(true, device=device), tg.tensor(pred, device=device)
    for normalize, reference in expected.items():
        got = confusion_matrix(yt, yp, num_classes=5, normalize=normalize)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, reference)
    np.testing.assert_array_equal(confusion_matrix(yt, yp, num_classes=5), counts)
    with pytest.raises(ValueError, match="confusion_matrix: normalize"):
        confusion_matrix(true, pred, normalize="rows")


def test_accuracy_normalize_and_sample_weight(device, rng):
    true = rng.integers(0, 3, 20)
    pred = rng.integers(0, 3, 20)
    w = rng.random(20)
    correct = (true == pred).astype(float)
    yt, yp = tg.tensor(true, device=device), tg.tensor(pred, device=device)
    assert accuracy(yt, yp, normalize=False) == correct.sum()
    assert accuracy(yt, yp, sample_weight=tg.tensor(w, device=device)) == pytest.approx(
        np.sum(w * correct) / np.sum(w))
    assert accuracy(yt, yp, normalize=False, sample_weight=w) == pytest.approx(
        np.sum(w * correct))
    with pytest.raises(ValueError, match="accuracy: sample_weight must have shape"):
        accuracy(true, pred, sample_weight=w[:5])
    with pytest.raises(ValueError, match="accuracy: sample_weight sums to 0"):
        accuracy(true, pred, sample_weight=np.zeros(20))
