"""Classification metrics, computed on the host with NumPy.

Arguments follow scikit-learn's order, ``metric(y_true, y_pred)``. Inputs may
be Tensors (on any device), device arrays, NumPy arrays or lists. A 2-D
``y_pred`` of shape ``(N, C)`` is taken as per-class scores (logits or
probabilities) and turned into labels by ``argmax`` over the classes, so
``accuracy(y, model(X))`` works directly; a 2-D ``y_true`` (one-hot rows or
class probabilities) is arg-maxed likewise, but a multi-label 0/1 indicator
(a row with no 1 or several) is refused: multi-label metrics are not
supported. Labels are integers ``0..C-1``.

For the binary counts of one class c::

    TP = #(true c, predicted c)   FP = #(true not c, predicted c)
    FN = #(true c, predicted not c)

    precision = TP / (TP + FP)    recall = TP / (TP + FN)
    F1 = 2 * precision * recall / (precision + recall) = 2 TP / (2 TP + FP + FN)

A ratio whose denominator is 0 is reported as 0 (scikit-learn's default does
the same, with a warning; ``zero_division`` chooses). For imbalanced problems
accuracy flatters a model that ignores the rare class; the F1 score of that
class, the ROC AUC and the G-mean (geometric mean of per-class recalls) do not.

Scores rather than labels: :func:`roc_curve` and :func:`precision_recall_curve`
give the rates at every threshold of a binary score (scikit-learn's semantics
and return values), :func:`auc` the area under such a curve,
:func:`average_precision` the step-wise area under the precision-recall curve, and
:func:`best_threshold` the threshold of maximum F1 or G-mean.
"""

from __future__ import annotations

import warnings

import numpy as np

from tinygrad_opt import backend

__all__ = ["accuracy", "confusion_matrix", "precision_recall_f1", "roc_auc", "g_mean",
           "roc_auc_score", "roc_curve", "precision_recall_curve", "average_precision",
           "auc", "best_threshold"]


def _host(values, name: str, metric: str) -> np.ndarray:
    """A host NumPy array from a Tensor, a device array or array-like data."""
    from tinygrad_opt.tensor import Tensor  # lazy: the package imports the core first
    if isinstance(values, Tensor):
        return values.numpy()
    array = np.asarray(backend.to_host(values))
    if array.dtype == object:
        raise TypeError(f"{metric}: {name} must be numeric, got an object array")
    return array


def _labels(values, name: str, metric: str) -> np.ndarray:
    """Integer class labels, shape (N,). A 2-D ``(N, C>1)`` array is arg-maxed (a multi-label
    ``y_true`` is refused)."""
    array = _host(values, name, metric)
    if array.ndim == 2 and array.shape[1] > 1:
        if name == "y_true" and _is_multilabel(array):
            raise ValueError(f"{metric}: y_true of shape {array.shape} is a multi-label "
                             "indicator (0/1 rows without exactly one 1), which these "
                             "metrics do not support; give one label per sample, or "
                             "one-hot rows")
        return array.argmax(axis=1).astype(np.int64)               # scores -> labels
    if array.ndim == 2 and array.shape[1] == 1:
        if np.issubdtype(array.dtype, np.floating) and name == "y_pred":
            raise ValueError(
                f"{metric}: y_pred of shape {array.shape} holds one score per sample; "
                "threshold it yourself (e.g. y_pred > 0.5) or pass (N, 2) scores")
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{metric}: {name} must be labels of shape (N,) or scores of shape "
                         f"(N, C), got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{metric}: {name} must hold integer class labels")
    elif not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
        raise TypeError(f"{metric}: {name} must hold integer class labels, got dtype {array.dtype}")
    return array.astype(np.int64)


def _is_multilabel(array: np.ndarray) -> bool:
    """Whether a 2-D array is a 0/1 indicator with some row not holding exactly one 1
    (scikit-learn's multi-label target; argmax would silently keep only its first label)."""
    return bool(np.all((array == 0) | (array == 1)) and np.any(array.sum(axis=1) != 1))


def _pair(y_true, y_pred, metric: str) -> tuple[np.ndarray, np.ndarray]:
    true = _labels(y_true, "y_true", metric)
    pred = _labels(y_pred, "y_pred", metric)
    if len(true) != len(pred):
        raise ValueError(f"{metric}: y_true has {len(true)} samples but y_pred has {len(pred)}")
    if len(true) == 0:
        raise ValueError(f"{metric}: y_true and y_pred are empty")
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.min() < 0:
            raise ValueError(f"{metric}: {name} has a negative label {labels.min()}; "
                             "labels must be 0..C-1")
    return true, pred


def _divide(numerator: np.ndarray, denominator: np.ndarray, zero_division=0.0,
            what: str = "") -> np.ndarray:
    """numerator / denominator elementwise, ``zero_division`` where the denominator is 0
    (``'warn'``: 0 and a warning naming ``what``, scikit-learn's default)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    undefined = denominator == 0
    if zero_division == "warn":
        if np.any(undefined):
            warnings.warn(f"precision_recall_f1: {what} is ill-defined and set to 0.0 where "
                          "its denominator is 0; use the zero_division argument to choose "
                          "the value", UserWarning, stacklevel=3)
        zero_division = 0.0
    safe = np.where(undefined, 1.0, denominator)
    return np.where(undefined, float(zero_division), numerator / safe)


def _nan_average(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The (weighted) mean of the non-NaN values, NaN if all are NaN (scikit-learn's rule
    for ``zero_division=nan``: undefined scores leave the average, with their weights)."""
    defined = ~np.isnan(values)
    if not np.any(defined):
        return float("nan")
    if weights is None or np.sum(weights[defined]) == 0:
        return float(np.mean(values[defined]))
    return float(np.average(values[defined], weights=weights[defined]))


def accuracy(y_true, y_pred, normalize: bool = True, sample_weight=None) -> float:
    """The fraction of correct predictions: ``mean(y_pred == y_true)``.

    As scikit-learn's ``accuracy_score``: ``normalize=False`` gives the number of
    correct predictions instead; ``sample_weight`` (N,) weighs each sample, giving
    ``sum(w * correct) / sum(w)`` (or ``sum(w * correct)`` unnormalized).
    """
    true, pred = _pair(y_true, y_pred, "accuracy")
    correct = (true == pred).astype(np.float64)                             # (N,)
    if sample_weight is None:
        weights = np.ones_like(correct)
    else:
        weights = np.asarray(_host(sample_weight, "sample_weight", "accuracy"), np.float64)
        if weights.shape != correct.shape:
            raise ValueError(f"accuracy: sample_weight must have shape {correct.shape}, got "
                             f"{weights.shape}")
    if not normalize:
        return float(np.sum(weights * correct))
    if np.sum(weights) == 0:
        raise ValueError("accuracy: sample_weight sums to 0, so the weighted mean is undefined")
    return float(np.sum(weights * correct) / np.sum(weights))


def confusion_matrix(y_true, y_pred, num_classes: int | None = None,
                     normalize: str | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class i predicted as class j.

    Rows are true classes, columns predicted classes (scikit-learn's layout), so
    the diagonal holds the correct predictions and row sums the class sizes.
    The matrix is ``(K, K)`` with ``K = num_classes``, or one more than the
    largest label seen. Returns an int64 NumPy array, or with ``normalize``
    (scikit-learn's) a float64 one: ``'true'`` divides each row by its sum (row i
    holds the fractions of class i's samples, the diagonal the recalls), ``'pred'``
    each column (the diagonal holds the precisions), ``'all'`` the whole matrix;
    an empty row or column stays 0 (as scikit-learn's, where the division is 0/0).
    Unlike scikit-learn, whose default matrix has one row per label present,
    the rows are the labels ``0..K-1`` (a label absent everywhere gives a zero row).
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"confusion_matrix: normalize must be 'true', 'pred', 'all' or None, "
                         f"got {normalize!r}")
    if num_classes is not None and (isinstance(num_classes, bool)
                                    or not isinstance(num_classes, (int, np.integer))
                                    or num_classes < 1):
        raise ValueError(f"confusion_matrix: num_classes must be a positive int, got "
                         f"{num_classes!r}")
    true, pred = _pair(y_true, y_pred, "confusion_matrix")
    largest = int(max(true.max(), pred.max()))
    if num_classes is None:
        num_classes = largest + 1
    elif largest >= num_classes:
        raise ValueError(
            f"confusion_matrix: label {largest} does not fit num_classes={num_classes}")
    counts = np.bincount(true * num_classes + pred, minlength=num_classes * num_classes)
    matrix = counts.reshape(num_classes, num_classes).astype(np.int64)      # (K, K)
    if normalize is None:
        return matrix
    total = {"true": matrix.sum(axis=1, keepdims=True), "pred": matrix.sum(axis=0, keepdims=True),
             "all": matrix.sum(keepdims=True)}[normalize]
    return _divide(matrix, np.broadcast_to(total, matrix.shape))


def precision_recall_f1(y_true, y_pred, average: str | None = "binary",
                        pos_label: int = 1, zero_division=0.0) -> tuple:
    """Precision, recall and F1 score, returned as ``(precision, recall, f1)``.

    ``average`` (scikit-learn's meanings):

    * ``'binary'``: the scores of class ``pos_label`` only (two classes at most);
    * ``'macro'``: the plain mean of the per-class scores (every class counts
      the same, so rare classes weigh as much as common ones);
    * ``'weighted'``: the mean of the per-class scores weighted by each class's
      support (its number of true samples);
    * ``'micro'``: scores of the summed counts ``TP = sum_c TP_c`` etc.; with
      one label per sample all three equal the accuracy;
    * ``None``: the per-class scores as three arrays.

    The classes are those that appear in ``y_true`` or ``y_pred``. Per class,
    ``F1 = 2 TP / (2 TP + FP + FN)``. The macro and weighted F1 average the
    per-class F1 (not the F1 of the averaged precision and recall), as
    scikit-learn does.

    ``zero_division`` is the value of a score whose denominator is 0 (no
    predicted samples for precision, no true samples for recall, neither for
    F1): ``0`` (the default), ``1``, ``nan`` (such scores then leave the macro
    and weighted averages, with their weights; NaN if none is left) or
    ``'warn'`` (0 with a warning). scikit-learn's default is ``'warn'``; ours
    is a silent 0.
    """
    metric = "precision_recall_f1"
    true, pred = _pair(y_true, y_pred, metric)
    present = np.union1d(true, pred)                                        # sorted labels
    if average == "binary":
        if len(present) > 2:
            raise ValueError(f"{metric}: average='binary' needs two classes, found "
                             f"{len(present)} ({present.tolist()}); choose average='macro', "
                             "'micro', 'weighted' or None")
        if len(present) == 2 and pos_label not in present:
            raise ValueError(f"{metric}: pos_label={pos_label} is not a label; the labels are "
                             f"{present.tolist()}")
        classes = np.array([pos_label])
    elif average in ("macro", "micro", "weighted", None):
        classes = present
    else:
        raise ValueError(f"{metric}: average must be 'binary', 'macro', 'micro', 'weighted' "
                         f"or None, got {average!r}")
    if not (zero_division == "warn" or (isinstance(zero_division, (int, float, np.floating))
                                        and not isinstance(zero_division, bool)
                                        and (zero_division in (0, 1)
                                             or np.isnan(zero_division)))):
        raise ValueError(f"{metric}: zero_division must be 0, 1, nan or 'warn', got "
                         f"{zero_division!r}")

    predicted_c = pred[:, None] == classes[None, :]                         # (N, K)
    true_c = true[:, None] == classes[None, :]                              # (N, K)
    tp = np.sum(predicted_c & true_c, axis=0)                               # (K,)
    fp = np.sum(predicted_c & ~true_c, axis=0)                              # (K,)
    fn = np.sum(~predicted_c & true_c, axis=0)                              # (K,)

    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    precision = _divide(tp, tp + fp, zero_division, "precision")
    recall = _divide(tp, tp + fn, zero_division, "recall")
    f1 = _divide(2 * tp, 2 * tp + fp + fn, zero_division, "F1")
    if average is None:
        return precision, recall, f1
    if average == "macro":
        return _nan_average(precision), _nan_average(recall), _nan_average(f1)
    if average == "weighted":
        support = (tp + fn).astype(np.float64)                              # (K,) true counts
        return (_nan_average(precision, support), _nan_average(recall, support),
                _nan_average(f1, support))
    return float(np.sum(precision)), float(np.sum(recall)), float(np.sum(f1))  # one value each


def _positive_scores(y_score, n_samples: int, metric: str) -> np.ndarray:
    """``y_score`` of a binary problem as float64 (N,), checked: one score per sample (an
    ``(N, 2)`` score gives column 1, the positive class's; ``(N, 1)`` its only column)."""
    score = _host(y_score, "y_score", metric)
    if score.ndim == 2 and score.shape[1] in (1, 2):
        score = score[:, -1]                                                # positive column
    if score.ndim != 1:
        raise ValueError(f"{metric}: y_score must have shape (N,) or (N, 2), got {score.shape}")
    if n_samples != len(score):
        raise ValueError(f"{metric}: y_true has {n_samples} samples but y_score has {len(score)}")
    score = score.astype(np.float64)
    if not np.all(np.isfinite(score)):
        raise ValueError(f"{metric}: y_score contains NaN or inf")
    return score


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve of a binary problem.

    The AUC is the probability that a random positive scores above a random
    negative, counting ties as one half. It is computed exactly from ranks
    (the Mann-Whitney U statistic)::

        AUC = (sum of the ranks of the positives - P (P + 1) / 2) / (P * N)

    with ranks 1..P+N of all scores in increasing order, tied scores sharing
    their average rank, P positives and N negatives. The positive class is the
    larger of the two labels in ``y_true`` (so {0, 1} and {-1, +1} both work).
    ``y_score`` holds one score per sample (a probability, a logit: any
    increasing function gives the same AUC); a 2-D ``(N, 2)`` score takes
    column 1, the positive class's, and ``(N, 1)`` its only column.
    """
    metric = "roc_auc"
    true = _labels(y_true, "y_true", metric)
    score = _positive_scores(y_score, len(true), metric)
    classes = np.unique(true)
    if len(classes) != 2:
        raise ValueError(f"{metric}: y_true must contain exactly two classes, found "
                         f"{len(classes)} ({classes.tolist()}); ROC AUC is not defined "
                         "with only one class")
    positive = true == classes[1]
    n_positive = int(positive.sum())
    n_negative = len(true) - n_positive
    # average ranks: the tied group occupying sorted positions s+1..s+c gets s + (c+1)/2
    _, group_of, group_size = np.unique(score, return_inverse=True, return_counts=True)
    group_end = np.cumsum(group_size)                                       # last rank per group
    group_rank = group_end - (group_size - 1) / 2.0                         # average rank per group
    ranks = group_rank[group_of]                                            # (N,)
    u_statistic = ranks[positive].sum() - n_positive * (n_positive + 1) / 2.0
    return float(u_statistic / (n_positive * n_negative))


def g_mean(y_true, y_pred) -> float:
    """Geometric mean of the per-class recalls: ``(prod_c recall_c) ** (1 / K)``.

    ``recall_c`` is the fraction of class c's samples predicted as c, over the K
    classes present in ``y_true``. For a binary problem it is
    ``sqrt(sensitivity * specificity)``. It is 0 as soon as one class is never
    recognised, so unlike accuracy it cannot be won by ignoring a rare class.
    """
    true, pred = _pair(y_true, y_pred, "g_mean")
    classes = np.unique(true)
    recalls = np.array([np.mean(pred[true == c] == c) for c in classes])    # (K,)
    return float(np.prod(recalls) ** (1.0 / len(classes)))


# --- curves over every threshold (scikit-learn's semantics) ------------------------------

def roc_auc_score(y_true, y_score) -> float:
    """scikit-learn's name for :func:`roc_auc` (binary problems): the same number."""
    return roc_auc(y_true, y_score)


def _binary_scores(y_true, y_score, pos_label, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(is_positive bool (N,), score float64 (N,)) of a binary problem, checked."""
    true = _host(y_true, "y_true", metric)
    if true.ndim == 2 and true.shape[1] == 1:
        true = true[:, 0]
    if true.ndim != 1:
        raise ValueError(f"{metric}: y_true must have shape (N,), got {true.shape}")
    score = _positive_scores(y_score, len(true), metric)
    if np.issubdtype(true.dtype, np.floating) and not np.all(np.isfinite(true)):
        raise ValueError(f"{metric}: y_true contains NaN or inf")
    classes = np.unique(true)
    if pos_label is None:
        if len(classes) != 2:
            raise ValueError(f"{metric}: y_true must contain exactly two classes, found "
                             f"{len(classes)} ({classes.tolist()})")
        pos_label = classes[1]                                              # the larger label
    elif pos_label not in classes or len(classes) != 2:
        raise ValueError(f"{metric}: y_true must contain exactly two classes, pos_label "
                         f"{pos_label!r} among them; found {classes.tolist()}")
    return true == pos_label, score


def _counts_at_thresholds(positive: np.ndarray, score: np.ndarray):
    """(false positives, true positives, thresholds), one entry per distinct score.

    Samples sorted by decreasing score (stably); entry i counts the samples
    with ``score >= thresholds[i]``, the thresholds decreasing. Tied scores
    enter together: a threshold cannot split them.
    """
    order = np.argsort(-score, kind="stable")                               # decreasing score
    score, positive = score[order], positive[order]
    last_of_tie = np.flatnonzero(np.diff(score))                            # score changes after
    last_of_tie = np.append(last_of_tie, len(score) - 1)
    tps = np.cumsum(positive)[last_of_tie].astype(np.float64)               # (T,)
    fps = (last_of_tie + 1) - tps                                           # (T,)
    return fps, tps, score[last_of_tie]


def roc_curve(y_true, y_score, pos_label=None,
              drop_intermediate: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve of a binary problem: ``(fpr, tpr, thresholds)``, as scikit-learn's.

    Predicting "positive" when ``score >= thresholds[i]`` gives the false
    positive rate ``fpr[i] = FP / (FP + TN)`` and the true positive rate (the
    recall) ``tpr[i] = TP / (TP + FN)``. The thresholds are the distinct
    scores in decreasing order, preceded by ``thresholds[0] = inf`` (nothing
    predicted positive: the point (0, 0)); the last one, the lowest score,
    gives (1, 1). Tied scores move the curve diagonally in one step.

    ``drop_intermediate=True`` (the default, as scikit-learn's) drops the
    thresholds whose point lies on a straight line between its neighbours
    (exactly scikit-learn's rule: a point is kept where the second difference
    of the FP or the TP counts is non-zero, and the first and last are always
    kept), which leaves the curve and its area unchanged. ``False`` keeps one
    point per distinct score.

    ``pos_label`` names the positive class; by default it is the larger of
    the two labels of ``y_true`` (scikit-learn's default for {0, 1} and
    {-1, 1}; for other labels scikit-learn asks for ``pos_label``).
    ``y_score`` is any score that grows with the positive class (a
    probability, a logit); an ``(N, 2)`` array uses column 1. Unlike
    scikit-learn, which returns NaN rates with a warning, a ``y_true`` with
    one class only raises an error. Returns float64 NumPy arrays.
    """
    positive, score = _binary_scores(y_true, y_score, pos_label, "roc_curve")
    fps, tps, thresholds = _counts_at_thresholds(positive, score)
    if drop_intermediate and len(fps) > 2:
        corner = np.logical_or(np.diff(fps, 2) != 0, np.diff(tps, 2) != 0)  # slope changes
        keep = np.flatnonzero(np.concatenate([[True], corner, [True]]))
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps = np.concatenate([[0.0], fps])                                      # start at (0, 0)
    tps = np.concatenate([[0.0], tps])
    thresholds = np.concatenate([[np.inf], thresholds])
    return fps / fps[-1], tps / tps[-1], thresholds


def precision_recall_curve(y_true, y_score, pos_label=None, drop_intermediate: bool = False
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every threshold: ``(precision, recall, thresholds)``.

    scikit-learn's semantics and layout: ``thresholds`` are the distinct
    scores in *increasing* order; ``precision[i]`` and ``recall[i]`` are those
    of predicting "positive" when ``score >= thresholds[i]``, so recall
    decreases along the arrays. One last point is appended with no threshold:
    ``precision = 1, recall = 0`` (nothing predicted positive), so
    ``len(precision) == len(recall) == len(thresholds) + 1``. A threshold
    with no predicted positive cannot occur (it is a score of some sample),
    so precision is always TP / (TP + FP) with a positive denominator.

    ``drop_intermediate=False`` is the default, as in scikit-learn; ``True``
    applies scikit-learn's rule: of a run of thresholds with the same number of
    true positives (the same recall) only the first and the last are kept.
    ``pos_label`` and ``y_score`` as in :func:`roc_curve`; a ``y_true`` with one
    class only raises an error. Returns float64 NumPy arrays.
    """
    positive, score = _binary_scores(y_true, y_score, pos_label, "precision_recall_curve")
    fps, tps, thresholds = _counts_at_thresholds(positive, score)
    if drop_intermediate and len(fps) > 2:
        recall_moves = np.logical_or(np.diff(tps[:-1]) != 0, np.diff(tps[1:]) != 0)
        keep = np.flatnonzero(np.concatenate([[True], recall_moves, [True]]))
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    precision = tps / (tps + fps)                                           # TP + FP >= 1
    recall = tps / tps[-1]
    return (np.concatenate([precision[::-1], [1.0]]), np.concatenate([recall[::-1], [0.0]]),
            thresholds[::-1])


def average_precision(y_true, y_score, pos_label=None) -> float:
    """Average precision (scikit-learn's ``average_precision_score``, binary problems)::

        AP = sum_n (R_n - R_{n-1}) P_n

    over the thresholds of :func:`precision_recall_curve` in decreasing order,
    ``P_n`` and ``R_n`` the precision and recall at the n-th one (``R_0 = 0``):
    the mean of the precisions reached as each new positive is recalled. It
    is a step-wise sum, not the trapezoid of ``auc(recall, precision)``, which
    interpolates linearly between points and is too optimistic. Tied scores
    enter together (one step). ``pos_label`` and ``y_score`` as in
    :func:`roc_curve`; a ``y_true`` with one class only raises an error.
    """
    positive, score = _binary_scores(y_true, y_score, pos_label, "average_precision")
    fps, tps, _ = _counts_at_thresholds(positive, score)                    # decreasing t
    precision = tps / (tps + fps)                                           # TP + FP >= 1
    recall_steps = np.diff(tps, prepend=0.0) / tps[-1]                      # R_n - R_{n-1}
    return float(np.sum(recall_steps * precision))


def auc(x, y) -> float:
    """Area under a curve through the points ``(x[i], y[i])`` by the trapezoidal rule.

    ``x`` must be monotonic (increasing or decreasing: a decreasing ``x``, as
    the recall of :func:`precision_recall_curve`, gives a positive area).
    ``auc(*roc_curve(y, s)[:2])`` equals ``roc_auc(y, s)``. NaN or inf is an error
    (as scikit-learn's input check).
    """
    x = np.asarray(_host(x, "x", "auc"), dtype=np.float64)
    y = np.asarray(_host(y, "y", "auc"), dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError(f"auc: x and y must be 1-D of the same length >= 2, got shapes "
                         f"{x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("auc: x and y must be finite, got NaN or inf")
    steps = np.diff(x)
    if np.all(steps >= 0):
        direction = 1.0
    elif np.all(steps <= 0):
        direction = -1.0
    else:
        raise ValueError("auc: x is neither increasing nor decreasing")
    return float(direction * np.sum(steps * (y[1:] + y[:-1]) / 2.0))


def best_threshold(y_true, y_score, by: str = "f1", pos_label=None) -> tuple[float, float]:
    """The decision threshold that maximises F1 or the G-mean on ``(y_true, y_score)``.

    Returns ``(threshold, value)``: predicting "positive" when
    ``score >= threshold`` reaches the best ``value`` of the criterion ``by`` on
    these samples. The candidates are the distinct scores (each gives a different
    set of predicted positives):

    * ``'f1'``: ``F1 = 2·P·R / (P + R) = 2 TP / (2 TP + FP + FN)``, the best
      point of :func:`precision_recall_curve`;
    * ``'g_mean'``: ``sqrt(TPR · (1 − FPR))`` (the G-mean of the two recalls,
      sensitivity and specificity), the best point of :func:`roc_curve`.

    A tie for the best value goes to the highest threshold (the fewest
    predicted positives). The threshold is tuned on the data given: choose it
    on training or validation data and apply it to the test set, or the test
    score is optimistic.
    """
    metric = "best_threshold"
    if by not in ("f1", "g_mean"):
        raise ValueError(f"{metric}: by must be 'f1' or 'g_mean', got {by!r}")
    positive, score = _binary_scores(y_true, y_score, pos_label, metric)
    fps, tps, thresholds = _counts_at_thresholds(positive, score)          # decreasing t
    n_positive, n_negative = tps[-1], fps[-1]
    # from the integer counts, so that equal values tie exactly (no rounding in between)
    if by == "f1":
        values = 2 * tps / (2 * tps + fps + (n_positive - tps))             # 2TP/(2TP+FP+FN)
    else:
        values = np.sqrt(tps * (n_negative - fps) / (n_positive * n_negative))  # √(TPR·TNR)
    best = int(np.argmax(values))                                           # first: highest t
    return float(thresholds[best]), float(values[best])
