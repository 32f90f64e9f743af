"""Audit of metrics, data (samplers, datasets, random_split, collate) and ensembles against
scikit-learn's and PyTorch's documented semantics: the bugs found and a few pinned behaviours.

Expected values are written by hand or in plain NumPy from the documented definitions.
"""

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import nn
from tinygrad_opt.data import (DataLoader, Subset, TensorDataset, default_collate, random_split)
from tinygrad_opt.ensemble import Ensemble
from tinygrad_opt.metrics import (accuracy, auc, best_threshold, confusion_matrix,
                                  precision_recall_curve, precision_recall_f1, roc_auc, roc_curve)


# --- metrics: multi-label y_true is refused, not silently arg-maxed ------------------------

def test_multilabel_y_true_is_refused_not_argmaxed():
    # scikit-learn reads a 0/1 (N, C) y_true with several 1s per row as multi-label (subset
    # accuracy 0.5 here); argmax kept only each row's first label and reported 1.0
    y_true = np.array([[1, 0, 1], [0, 1, 0]])
    y_pred = np.array([[1, 0, 1], [0, 1, 1]])
    for metric in (accuracy, confusion_matrix, lambda t, p: precision_recall_f1(t, p, "macro")):
        with pytest.raises(ValueError, match="multi-label"):
            metric(y_true, y_pred)
    with pytest.raises(ValueError, match="multi-label"):           # a row with no label at all
        accuracy(np.array([[0, 0, 0], [0, 1, 0]]), [0, 1])


def test_one_hot_and_probability_y_true_are_still_argmaxed(device):
    one_hot = tg.tensor(np.eye(3)[[2, 0, 1, 1]], device=device)         # labels 2, 0, 1, 1
    assert accuracy(one_hot, [2, 0, 1, 0]) == 0.75
    soft = np.array([[0.1, 0.9], [0.7, 0.3], [0.5, 0.5]])               # label smoothing / mixup
    assert confusion_matrix(soft, [1, 1, 0]).tolist() == [[1, 1], [0, 1]]


# --- metrics: non-finite input to the curves and auc --------------------------------------

@pytest.mark.parametrize("function", [roc_curve, precision_recall_curve, best_threshold])
def test_curves_refuse_nan_in_y_true(function):
    # scikit-learn's input check raises on NaN; np.unique kept [1, nan] as two classes and
    # roc_curve returned tpr = [nan, nan, nan] (pos_label nan matches nothing)
    with pytest.raises(ValueError, match="y_true contains NaN"):
        function(np.array([1.0, np.nan, np.nan, 1.0]), np.array([0.1, 0.2, 0.3, 0.4]))


@pytest.mark.parametrize("x, y", [([0.0, np.nan, 1.0], [0.0, 1.0, 1.0]),
                                  ([0.0, np.inf], [0.0, 1.0]),
                                  ([0.0, 1.0], [0.0, np.inf])])
def test_auc_refuses_non_finite_points(x, y):
    # scikit-learn raises on NaN or inf; we returned inf, or blamed the monotonicity for NaN
    with pytest.raises(ValueError, match="finite"):
        auc(x, y)


# --- metrics: pinned, verified right ----------------------------------------------------

def test_macro_and_weighted_count_a_class_seen_only_in_y_pred():
    # classes {0, 1, 2} (union of y_true and y_pred); per class (P, R, F1):
    # 0: TP 1 FP 0 FN 1 -> (1, 1/2, 2/3); 1: TP 1 FP 1 FN 1 -> (1/2, 1/2, 1/2);
    # 2: TP 0 FP 1 FN 0 -> (0, 0 (0/0), 0), support 0 so no weight in 'weighted'
    y_true, y_pred = [0, 1, 1, 0], [0, 1, 2, 1]
    assert precision_recall_f1(y_true, y_pred, "macro") == pytest.approx((0.5, 1 / 3, 7 / 18))
    assert precision_recall_f1(y_true, y_pred, "weighted") == pytest.approx((0.75, 0.5, 7 / 12))
    assert precision_recall_f1(y_true, y_pred, "micro") == pytest.approx((0.5, 0.5, 0.5))


def test_roc_curve_of_tied_scores_is_one_diagonal_step_and_auc_agrees(rng):
    # all four scores tied: one threshold, the curve goes (0, 0) -> (1, 1) in one step
    fpr, tpr, thresholds = roc_curve([0, 1, 1, 0], [0.3, 0.3, 0.3, 0.3])
    assert fpr.tolist() == [0.0, 1.0] and tpr.tolist() == [0.0, 1.0]
    assert thresholds.tolist() == [np.inf, 0.3]
    labels = rng.integers(0, 2, 40)
    labels[:2] = [0, 1]
    scores = rng.integers(0, 5, 40) / 4.0                                 # many ties
    for drop in (True, False):
        fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=drop)
        assert auc(fpr, tpr) == pytest.approx(roc_auc(labels, scores), abs=1e-12)


# --- data: Subset slices, collate keeps the mapping type ----------------------------------

def test_subset_slice_reads_a_list_of_its_indices():
    # PyTorch: Subset.__getitem__ with a slice gives dataset[indices[a:b]] (a list), a batch;
    # we raised a TypeError from int() of the sliced index array
    X = np.arange(10) * 7
    subset = Subset(TensorDataset(X), [3, 1, 4, 1, 5])
    (rows,) = subset[1:4]
    assert rows.tolist() == [7, 28, 7]
    (rows,) = subset[::-2]
    assert rows.tolist() == [35, 28, 21]
    (rows,) = subset[2:3]                                  # a slice of one: still a batch
    assert rows.tolist() == [28]
    train, _ = random_split(TensorDataset(X), [6, 4], seed=0)
    (rows,) = train[:3]
    assert rows.tolist() == [int(train[i][0]) for i in range(3)]


def test_default_collate_keeps_the_mapping_type():
    # PyTorch rebuilds the sample's own mapping type (elem_type({...})); we gave a plain dict
    batch = default_collate([OrderedDict(b=1, a=2.5), OrderedDict(b=3, a=4.5)])
    assert type(batch) is OrderedDict and list(batch) == ["b", "a"]
    assert batch["b"].numpy().tolist() == [1, 3]
    assert batch["a"].numpy().tolist() == [2.5, 4.5]


def test_loader_over_subsets_with_negative_indices_matches_reading_one_by_one():
    # PyTorch: Subset indices index the dataset as a list does, -1 the last sample
    dataset = TensorDataset(np.arange(5) * 10)
    nested = Subset(Subset(dataset, [-1, 0, 2]), [-1, 0, -2])             # rows 2, 4, 0
    fast = [batch[0].numpy().tolist() for batch in DataLoader(nested, batch_size=2)]
    assert fast == [[20, 40], [0]]
    assert [int(nested[i][0]) for i in range(3)] == [20, 40, 0]


# --- ensembles: hard voting ties go to the smallest label (scikit-learn) -------------------

class _Fixed(nn.Module):
    """A member that outputs the same logits for any input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = tg.tensor(np.asarray(logits, dtype=np.float64))

    def forward(self, x):
        return self.logits


def test_vote_ties_go_to_the_smallest_label_and_weights_break_them():
    # sklearn's VotingClassifier(voting='hard'): argmax(bincount(votes, weights)), so a tie
    # between classes 0 and 2 gives 0; weights [1, 3] make the second member win
    first = _Fixed([[0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])                  # votes 2, 0
    second = _Fixed([[5.0, 0.0, 0.0], [0.0, 1.0, 0.0]])                 # votes 0, 1
    assert Ensemble([first, second], combine="vote").predict(None).numpy().tolist() == [0, 0]
    weighted = Ensemble([first, second], weights=[1, 3], combine="vote")
    assert weighted.predict(None).numpy().tolist() == [0, 1]
    np.testing.assert_allclose(weighted.predict_proba(None).numpy(),
                               [[0.75, 0.0, 0.25], [0.25, 0.75, 0.0]])
