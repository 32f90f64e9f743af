"""ROC and precision-recall curves, threshold selection: hand-worked cases with ties,
scikit-learn's printed values, and an independent brute-force NumPy reference.

The reference below recomputes every point by thresholding the scores directly
(``score >= t`` for each distinct score t, one comparison per sample), where the
library sorts once and takes cumulative sums, and it applies scikit-learn's
drop-intermediate rules written as a loop over neighbouring points.
"""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.metrics import (auc, best_threshold, precision_recall_curve, roc_auc,
                                  roc_auc_score, roc_curve)


# --- the independent reference -------------------------------------------------------------

def reference_counts(y, s):
    """(thresholds decreasing, FP, TP): for each distinct score t, the counts of score >= t."""
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    thresholds = sorted(set(s.tolist()), reverse=True)
    fp = [int(np.sum((s >= t) & (y != 1))) for t in thresholds]
    tp = [int(np.sum((s >= t) & (y == 1))) for t in thresholds]
    return thresholds, fp, tp


def reference_roc(y, s, drop_intermediate):
    thresholds, fp, tp = reference_counts(y, s)
    keep = list(range(len(fp)))
    if drop_intermediate and len(fp) > 2:
        # scikit-learn: an inner point goes when the steps into it and out of it are equal
        keep = [0] + [i for i in range(1, len(fp) - 1)
                      if (fp[i] - fp[i - 1], tp[i] - tp[i - 1]) != (fp[i + 1] - fp[i],
                                                                    tp[i + 1] - tp[i])]
        keep.append(len(fp) - 1)
    n_negative, n_positive = fp[-1], tp[-1]
    fpr = [0.0] + [fp[i] / n_negative for i in keep]
    tpr = [0.0] + [tp[i] / n_positive for i in keep]
    return fpr, tpr, [math.inf] + [thresholds[i] for i in keep]


def reference_pr(y, s, drop_intermediate):
    thresholds, fp, tp = reference_counts(y, s)
    keep = list(range(len(fp)))
    if drop_intermediate and len(fp) > 2:
        # scikit-learn: of a run of equal TP counts keep only its first and last point
        keep = [0] + [i for i in range(1, len(fp) - 1)
                      if not tp[i - 1] == tp[i] == tp[i + 1]]
        keep.append(len(fp) - 1)
    precision = [tp[i] / (tp[i] + fp[i]) for i in keep]
    recall = [tp[i] / tp[-1] for i in keep]
    return precision[::-1] + [1.0], recall[::-1] + [0.0], [thresholds[i] for i in keep][::-1]


# --- hand-worked cases ---------------------------------------------------------------------

# Scores with ties. Going down the distinct scores (TP, FP of score >= t):
#   0.9 (one pos, one neg)  -> (1, 1)     0.7 (one pos, one neg) -> (2, 2)
#   0.5 (pos)               -> (3, 2)     0.3 (two neg)          -> (3, 4)
#   0.1 (pos)               -> (4, 4)     4 positives, 4 negatives
Y_TIES = [0, 1, 0, 1, 1, 0, 0, 1]
S_TIES = [0.9, 0.9, 0.7, 0.7, 0.5, 0.3, 0.3, 0.1]


def test_roc_curve_by_hand_with_ties():
    fpr, tpr, thresholds = roc_curve(Y_TIES, S_TIES)
    # no three consecutive points have equal steps, so nothing is dropped
    np.testing.assert_allclose(fpr, [0, 0.25, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(tpr, [0, 0.25, 0.5, 0.75, 0.75, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.7, 0.5, 0.3, 0.1])
    # trapezoids: 0.25·0.125 + 0.25·0.375 + 0 + 0.5·0.75 + 0 = 0.5, the Mann-Whitney value
    assert auc(fpr, tpr) == pytest.approx(0.5)
    assert roc_auc(Y_TIES, S_TIES) == pytest.approx(0.5)


def test_roc_curve_drop_intermediate_by_hand():
    # points (FP, TP): (0, 1) (0, 2) (1, 2) (2, 2); (1, 2) lies between equal steps
    y, s = [1, 1, 0, 0], [0.9, 0.8, 0.7, 0.6]
    fpr, tpr, thresholds = roc_curve(y, s)
    np.testing.assert_allclose(fpr, [0, 0, 0, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.6])
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, [0, 0, 0, 0.5, 1])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.8, 0.7, 0.6])


def test_precision_recall_curve_by_hand_with_ties():
    precision, recall, thresholds = precision_recall_curve(Y_TIES, S_TIES)
    # increasing thresholds 0.1 .. 0.9: TP/(TP+FP) = 4/8, 3/7, 3/5, 2/4, 1/2, then the end point
    np.testing.assert_allclose(precision, [0.5, 3 / 7, 0.6, 0.5, 0.5, 1])
    np.testing.assert_allclose(recall, [1, 0.75, 0.75, 0.5, 0.25, 0])
    np.testing.assert_array_equal(thresholds, [0.1, 0.3, 0.5, 0.7, 0.9])


def test_precision_recall_drop_intermediate_by_hand():
    # TP counts going down the scores 0.9, 0.8, 0.7, 0.6: 1, 1, 1, 2; 0.8 is inside a run
    y, s = [1, 0, 0, 1], [0.9, 0.8, 0.7, 0.6]
    precision, recall, thresholds = precision_recall_curve(y, s, drop_intermediate=True)
    np.testing.assert_array_equal(thresholds, [0.6, 0.7, 0.9])
    np.testing.assert_allclose(precision, [0.5, 1 / 3, 1, 1])
    np.testing.assert_allclose(recall, [1, 0.5, 0.5, 0])
    _, _, thresholds = precision_recall_curve(y, s)
    np.testing.assert_array_equal(thresholds, [0.6, 0.7, 0.8, 0.9])


def test_best_threshold_by_hand():
    # F1 going down the scores: 1/3, 1/2, 2/3 (t = 0.5), 6/11, 2/3 (t = 0.1): the tie goes
    # to the higher threshold
    threshold, f1 = best_threshold(Y_TIES, S_TIES, "f1")
    assert threshold == 0.5 and f1 == pytest.approx(2 / 3)
    # G-mean sqrt(TPR (1 - FPR)): sqrt(.25·.75), sqrt(.5·.5), sqrt(.75·.5), 0, 0
    threshold, gmean = best_threshold(Y_TIES, S_TIES, "g_mean")
    assert threshold == 0.5 and gmean == pytest.approx(math.sqrt(0.375))
    # the threshold means "positive when score >= threshold": a perfect ranking gets 1
    assert best_threshold([0, 0, 1, 1], [0.1, 0.2, 0.6, 0.7], "f1") == (0.6, 1.0)
    assert best_threshold([0, 0, 1, 1], [0.1, 0.2, 0.6, 0.7], by="g_mean") == (0.6, 1.0)


# --- scikit-learn's values -----------------------------------------------------------------

# Printed by scikit-learn 1.9.1 (NumPy 2.4.6) on 2026-12-04 for these 24 samples (many ties):
# sklearn.metrics.roc_curve / precision_recall_curve with both drop_intermediate settings.
Y_SK = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0]
S_SK = [0.5, 0.7, 0.7, 0.7, 1.1, 0.9, 0.8, 0.8, 0.2, 0.1, 0.5, 0.3, 0.3, 0.4, 0.4, 1.0, 0.5,
        0.7, 0.4, 0.2, 0.3, 0.2, 0.6, 0.2]
SK_ROC = {
    True: ([0, 0, 0, 1 / 12, 1 / 12, 2 / 12, 4 / 12, 7 / 12, 7 / 12, 11 / 12, 1],
           [0, 1 / 12, 3 / 12, 4 / 12, 8 / 12, 8 / 12, 9 / 12, 9 / 12, 1, 1, 1],
           [np.inf, 1.1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]),
    False: ([0, 0, 0, 0, 1 / 12, 1 / 12, 2 / 12, 4 / 12, 7 / 12, 7 / 12, 11 / 12, 1],
            [0, 1 / 12, 2 / 12, 3 / 12, 4 / 12, 8 / 12, 8 / 12, 9 / 12, 9 / 12, 1, 1, 1],
            [np.inf, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]),
}
SK_PR = {
    False: ([0.5, 0.5217391304347826, 0.631578947368421, 0.5625, 0.6923076923076923, 0.8,
             0.8888888888888888, 0.8, 1.0, 1.0, 1.0, 1.0],
            [1, 1, 1, 0.75, 0.75, 8 / 12, 8 / 12, 4 / 12, 3 / 12, 2 / 12, 1 / 12, 0],
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]),
    True: ([0.5, 0.631578947368421, 0.5625, 0.6923076923076923, 0.8, 0.8888888888888888,
            0.8, 1.0, 1.0, 1.0, 1.0],
           [1, 1, 0.75, 0.75, 8 / 12, 8 / 12, 4 / 12, 3 / 12, 2 / 12, 1 / 12, 0],
           [0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]),
}
SK_AUC = 0.8020833333333334


@pytest.mark.parametrize("drop_intermediate", [True, False])
def test_roc_curve_matches_scikit_learn(drop_intermediate):
    for ours, theirs in zip(roc_curve(Y_SK, S_SK, drop_intermediate=drop_intermediate),
                            SK_ROC[drop_intermediate]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert roc_auc_score(Y_SK, S_SK) == pytest.approx(SK_AUC, rel=1e-12)


@pytest.mark.parametrize("drop_intermediate", [True, False])
def test_precision_recall_curve_matches_scikit_learn(drop_intermediate):
    for ours, theirs in zip(precision_recall_curve(Y_SK, S_SK,
                                                   drop_intermediate=drop_intermediate),
                            SK_PR[drop_intermediate]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# --- the brute-force reference on random data with ties ----------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.integers(2, 40), st.integers(1, 6), st.integers(0, 2 ** 31), st.booleans())
@example(n=29, levels=4, seed=10804, drop_intermediate=False)  # an exact G-mean tie
def test_curves_match_the_reference(n, levels, seed, drop_intermediate):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]                                           # both classes present
    s = rng.integers(0, levels, n) / levels                  # few levels: many ties
    for ours, theirs in zip(roc_curve(y, s, drop_intermediate=drop_intermediate),
                            reference_roc(y, s, drop_intermediate)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    for ours, theirs in zip(precision_recall_curve(y, s, drop_intermediate=drop_intermediate),
                            reference_pr(y, s, drop_intermediate)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    # the area under either ROC curve is the rank AUC
    assert auc(*roc_curve(y, s, drop_intermediate=drop_intermediate)[:2]) == \
        pytest.approx(roc_auc(y, s), abs=1e-12)
    # best thresholds: brute force over the distinct scores, ties to the higher threshold
    thresholds, fp, tp = reference_counts(y, s)
    f1 = [2 * t / (2 * t + f + (tp[-1] - t)) for f, t in zip(fp, tp)]
    # √(TPR·TNR) from one quotient of integers, so that equal values tie exactly:
    # t/P·(1−f/N) rounds twice, and 9/15·(1−6/14), 12/15·(1−8/14) came out one ulp apart
    gmean = [math.sqrt(t * (fp[-1] - f) / (tp[-1] * fp[-1])) for f, t in zip(fp, tp)]
    for criterion, values in (("f1", f1), ("g_mean", gmean)):
        best = int(np.argmax(values))
        threshold, value = best_threshold(y, s, criterion)
        assert threshold == thresholds[best] and value == pytest.approx(values[best])


# --- inputs and errors ---------------------------------------------------------------------------

def test_labels_scores_and_inputs(device):
    # labels {-1, 1}, pos_label, (N, 2) scores and Tensors give the same curve
    expected = roc_curve(Y_TIES, S_TIES)
    minus_plus = [2 * label - 1 for label in Y_TIES]
    two_columns = np.stack([1 - np.array(S_TIES), S_TIES], axis=1)
    for y, s, options in ((minus_plus, S_TIES, {}),
                          ([label + 3 for label in Y_TIES], S_TIES, {"pos_label": 4}),
                          (Y_TIES, two_columns, {}),
                          (tg.tensor(Y_TIES, device=device), tg.tensor(S_TIES, device=device),
                           {})):
        for ours, theirs in zip(roc_curve(y, s, **options), expected):
            np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    # pos_label 0: class 0 is the positive one, as if the labels were swapped
    swapped = [1 - label for label in Y_TIES]
    for ours, theirs in zip(roc_curve(Y_TIES, S_TIES, pos_label=0), roc_curve(swapped, S_TIES)):
        np.testing.assert_array_equal(ours, theirs)
    # by hand, class 0 positive: (FP, TP) = (1, 1) (2, 2) (3, 2) (3, 4) (4, 4) down the scores
    fpr, tpr, _ = roc_curve(Y_TIES, S_TIES, pos_label=0)
    assert fpr.tolist() == [0, 0.25, 0.5, 0.75, 0.75, 1]
    assert tpr.tolist() == [0, 0.25, 0.5, 0.5, 1, 1]


@pytest.mark.parametrize("function", [roc_curve, precision_recall_curve])
def test_curve_errors(function):
    with pytest.raises(ValueError, match="exactly two classes"):
        function([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="exactly two classes"):
        function([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="pos_label 5"):
        function([0, 1, 1], [0.1, 0.2, 0.3], pos_label=5)
    with pytest.raises(ValueError, match="3 samples but y_score has 2"):
        function([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN or inf"):
        function([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, 2\)"):
        function([0, 1, 1], np.zeros((3, 3)))


def test_auc_and_best_threshold_errors():
    assert auc([1.0, 0.5, 0.0], [0.0, 0.5, 1.0]) == pytest.approx(0.5)   # decreasing x
    with pytest.raises(ValueError, match="neither increasing nor decreasing"):
        auc([0.0, 1.0, 0.5], [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="same length >= 2"):
        auc([0.0, 1.0], [0.0])
    with pytest.raises(ValueError, match="by must be 'f1' or 'g_mean'"):
        best_threshold(Y_TIES, S_TIES, by="accuracy")
