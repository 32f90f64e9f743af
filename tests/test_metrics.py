"""Metrics against small cases worked out by hand."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt.metrics import accuracy, confusion_matrix, g_mean, precision_recall_f1, roc_auc

# A 3-class example. The pairs (true, predicted) are
#   (0,0) (0,1) (0,0) (1,1) (1,2) (2,2) (2,2) (2,0) (2,2) (2,1)
# so, by hand:
#   class 0: TP=2 FP=1 FN=1 -> P=2/3 R=2/3 F1=2*2/(4+1+1)=2/3   support 3
#   class 1: TP=1 FP=2 FN=1 -> P=1/3 R=1/2 F1=2*1/(2+2+1)=2/5   support 2
#   class 2: TP=3 FP=1 FN=2 -> P=3/4 R=3/5 F1=2*3/(6+1+2)=2/3   support 5
TRUE_3 = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
PRED_3 = [0, 1, 0, 1, 2, 2, 2, 0, 2, 1]

# A binary example: TP=2 (rows 0, 2), FP=1 (row 3), FN=2 (rows 1, 7), TN=3
TRUE_2 = [1, 1, 1, 0, 0, 0, 0, 1]
PRED_2 = [1, 0, 1, 1, 0, 0, 0, 0]


def test_confusion_matrix_by_hand():
    expected = [[2, 1, 0],
                [0, 1, 1],
                [1, 1, 3]]
    matrix = confusion_matrix(TRUE_3, PRED_3)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, expected)


def test_confusion_matrix_num_classes_and_errors():
    matrix = confusion_matrix([0, 1], [1, 1], num_classes=4)
    np.testing.assert_array_equal(matrix, [[0, 1, 0, 0], [0, 1, 0, 0], [0] * 4, [0] * 4])
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix([0, 5], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="3 samples but y_pred has 2"):
        confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="negative"):
        confusion_matrix([0, -1], [0, 1])


def test_accuracy_from_labels_and_scores(device):
    assert accuracy(TRUE_3, PRED_3) == pytest.approx(6 / 10)
    scores = np.array([[2.0, 1.0, 0.1],      # -> 0
                       [0.1, 0.2, 3.0],      # -> 2
                       [-1.0, 5.0, 4.0],     # -> 1
                       [0.0, 0.0, 1.0]])     # -> 2
    y = np.array([0, 2, 2, 1])
    assert accuracy(y, scores) == pytest.approx(2 / 4)
    assert accuracy(tg.tensor(y, device=device), tg.tensor(scores, device=device)) == \
        pytest.approx(0.5)
    with pytest.raises(ValueError, match="4 samples but y_pred has 3"):
        accuracy(y, scores[:3])


def test_precision_recall_f1_binary_by_hand():
    p, r, f = precision_recall_f1(TRUE_2, PRED_2)
    assert (p, r, f) == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    # class 0 as the positive class: TP=3, FP=2, FN=1
    p, r, f = precision_recall_f1(TRUE_2, PRED_2, pos_label=0)
    assert (p, r, f) == pytest.approx((3 / 5, 3 / 4, 2 / 3))
    assert all(isinstance(v, float) for v in (p, r, f))


def test_precision_recall_f1_zero_division_is_zero():
    assert precision_recall_f1([1, 0, 1], [0, 0, 0]) == (0.0, 0.0, 0.0)
    # precision defined (1/1), recall 1/2
    assert precision_recall_f1([1, 1, 0], [1, 0, 0]) == pytest.approx((1.0, 0.5, 2 / 3))


def test_precision_recall_f1_macro_by_hand():
    p, r, f = precision_recall_f1(TRUE_3, PRED_3, average="macro")
    assert p == pytest.approx((2 / 3 + 1 / 3 + 3 / 4) / 3)        # 7/12
    assert r == pytest.approx((2 / 3 + 1 / 2 + 3 / 5) / 3)        # 53/90
    assert f == pytest.approx((2 / 3 + 2 / 5 + 2 / 3) / 3)        # 26/45


def test_precision_recall_f1_weighted_by_hand():
    p, r, f = precision_recall_f1(TRUE_3, PRED_3, average="weighted")
    assert p == pytest.approx((3 * 2 / 3 + 2 * 1 / 3 + 5 * 3 / 4) / 10)
    assert r == pytest.approx((3 * 2 / 3 + 2 * 1 / 2 + 5 * 3 / 5) / 10)  # = accuracy 0.6
    assert f == pytest.approx((3 * 2 / 3 + 2 * 2 / 5 + 5 * 2 / 3) / 10)


def test_precision_recall_f1_micro_by_hand():
    # summed counts: TP = 2+1+3 = 6, FP = 1+2+1 = 4, FN = 1+1+2 = 4
    assert precision_recall_f1(TRUE_3, PRED_3, average="micro") == pytest.approx((0.6, 0.6, 0.6))


def test_precision_recall_f1_per_class():
    p, r, f = precision_recall_f1(TRUE_3, PRED_3, average=None)
    np.testing.assert_allclose(p, [2 / 3, 1 / 3, 3 / 4])
    np.testing.assert_allclose(r, [2 / 3, 1 / 2, 3 / 5])
    np.testing.assert_allclose(f, [2 / 3, 2 / 5, 2 / 3])


def test_precision_recall_f1_errors():
    with pytest.raises(ValueError, match="binary"):
        precision_recall_f1(TRUE_3, PRED_3)                       # 3 classes, average='binary'
    with pytest.raises(ValueError, match="pos_label"):
        precision_recall_f1([0, 2, 2], [0, 0, 2])
    with pytest.raises(ValueError, match="average"):
        precision_recall_f1(TRUE_3, PRED_3, average="samples")


def test_scores_are_argmaxed_and_single_score_column_refused():
    logits = np.eye(3)[PRED_3] * 5.0 - 1.0                       # (10, 3), argmax = PRED_3
    assert precision_recall_f1(TRUE_3, logits, average="macro") == \
        pytest.approx(precision_recall_f1(TRUE_3, PRED_3, average="macro"))
    with pytest.raises(ValueError, match="threshold"):
        accuracy([0, 1], np.array([[0.2], [0.9]]))


def test_roc_auc_with_ties():
    # ranks: 0.1 -> 1, 0.4 and 0.4 -> 2.5 each, 0.8 -> 4; positives' rank sum 6.5
    # AUC = (6.5 - 2*3/2) / (2*2) = 0.875
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.8]) == pytest.approx(0.875)


def test_roc_auc_extremes_and_inputs(device):
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    assert roc_auc([0, 0, 1, 1], probabilities) == pytest.approx(0.75)   # column 1
    y = tg.tensor(np.array([0, 0, 1, 1]), device=device)
    s = tg.tensor(np.array([0.1, 0.4, 0.4, 0.8]), device=device)
    assert roc_auc(y, s) == pytest.approx(0.875)
    assert roc_auc([-1, -1, 1, 1], [0.1, 0.4, 0.4, 0.8]) == pytest.approx(0.875)


@settings(max_examples=40, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 4)), min_size=2, max_size=30))
def test_roc_auc_equals_pairwise_probability(data):
    labels = np.array([label for label, _ in data])
    scores = np.array([score for _, score in data], dtype=np.float64) / 4  # few values: ties
    if len(np.unique(labels)) < 2:
        return
    positives, negatives = scores[labels == 1], scores[labels == 0]
    wins = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    expected = (wins + 0.5 * ties) / (len(positives) * len(negatives))
    assert roc_auc(labels, scores) == pytest.approx(expected)


def test_roc_auc_errors():
    with pytest.raises(ValueError, match="one class"):
        roc_auc([1, 1, 1], [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="3 samples but y_score has 2"):
        roc_auc([0, 1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1], [0.2, float("nan")])


def test_g_mean_by_hand():
    # binary: recall of class 1 = 2/4, recall of class 0 (specificity) = 3/4
    assert g_mean(TRUE_2, PRED_2) == pytest.approx(math.sqrt(1 / 2 * 3 / 4))
    # 3 classes: recalls 2/3, 1/2, 3/5
    assert g_mean(TRUE_3, PRED_3) == pytest.approx((2 / 3 * 1 / 2 * 3 / 5) ** (1 / 3))
    # ignoring the rare class: accuracy 0.9, G-mean 0
    y = [0] * 9 + [1]
    assert accuracy(y, [0] * 10) == pytest.approx(0.9)
    assert g_mean(y, [0] * 10) == 0.0
    assert g_mean(y, y) == 1.0
