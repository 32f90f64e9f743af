"""The loss functions (the Modules that call them are in ``nn/loss.py``).

Reached as ``F.mse_loss``, ``F.cross_entropy`` and so on: ``nn/functional.py``
imports them from here. Every loss is a composition of Tensor ops, so none has
backward code of its own; the fused ``CrossEntropy`` op (ops/fused.py) runs
instead of the composition where ``cross_entropy`` says why. The one activation
used here, ``softplus``, comes from ``nn/functional_primitives.py``, never from
``nn/functional.py``, which imports this file.
"""

from __future__ import annotations

import math
import warnings

import tinygrad_opt as tg
from tinygrad_opt import backend, cuda
from tinygrad_opt.nn.functional_primitives import softplus
from tinygrad_opt.ops.elementwise import floating
from tinygrad_opt.ops.fused import CrossEntropy
from tinygrad_opt.tensor import Tensor


# --------------------------------------------------------- losses (the Modules are in nn/loss.py)

REDUCTIONS = ("mean", "sum", "none")
KL_DIV_REDUCTIONS = ("mean", "batchmean", "sum", "none")  # kl_div also takes 'batchmean'
LOG_FLOOR = -100.0  # PyTorch's BCE clamps log(p) and log(1 - p) at -100


# --------------------------------------------------------------------------
# Shared helpers: argument checks, conversions, reduction
# --------------------------------------------------------------------------

def _check_reduction(op: str, reduction: str, allowed: tuple = REDUCTIONS) -> None:
    if reduction not in allowed:
        names = ", ".join(repr(name) for name in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(f"{op}: reduction must be {names}, got {reduction!r}")


def _legacy_reduction(op: str, size_average, reduce, reduction: str) -> str:
    """``reduction``, or the one that PyTorch's deprecated flags ``size_average`` and
    ``reduce`` stand for when either is given (with PyTorch's warning; None counts as
    True): ``reduce=False`` -> 'none', else ``size_average=False`` -> 'sum', else 'mean'.

    The flags keep PyTorch's positional order (``F.nll_loss(x, y, w, None, 3)``: 3 is
    ``ignore_index``). A flag that is not a bool, such as a reduction given in the flag's
    place (``F.mse_loss(x, y, 'sum')``), is a TypeError naming the ``reduction=`` keyword.
    """
    if size_average is None and reduce is None:
        return reduction
    for flag, value in (("size_average", size_average), ("reduce", reduce)):
        if value is not None and not isinstance(value, (bool, int)):
            raise TypeError(f"{op}: {flag} must be a bool or None, got {value!r} (a deprecated "
                            f"flag; give the reduction by keyword: reduction={value!r})")
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "none" if not reduce else "mean" if size_average else "sum"
    warnings.warn(f"{op}: size_average and reduce args will be deprecated, please use "
                  f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply a reduction to per-element losses."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_tensor(op: str, what: str, value, like: Tensor, cast: bool = False) -> Tensor:
    """A target or weight as a Tensor on ``like``'s device.

    Arrays, lists and numbers are moved to the device explicitly, floats in
    ``like``'s dtype. Tensors must already live on that device; with ``cast``
    (weight vectors) a floating Tensor is converted to ``like``'s dtype too, so
    a float32 weight does not turn a float64 loss into float32 or back."""
    if isinstance(value, Tensor):
        if value.device != like.device:
            raise RuntimeError(
                f"{op}: {what} is on device '{value.device}' but input is on '{like.device}'; "
                f"move it with .to('{like.device}') (a loss module: loss_fn.to('{like.device}'))")
        if cast and backend.is_floating(value.dtype) and value.dtype != like.dtype:
            return value.astype(like.dtype)
        return value
    array = backend.to_device(value, like.device)
    if backend.is_floating(array.dtype) or array.dtype == backend.bool_:
        array = array.astype(like.dtype)
    return Tensor(array, device=like.device)


def _check_same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} "
            "differ; they must be equal")


def _check_broadcasts_to(op: str, what: str, tensor: Tensor, shape: tuple) -> None:
    """``tensor`` must broadcast to ``shape`` without changing it."""
    try:
        result = backend.broadcast_shapes(tuple(tensor.shape), tuple(shape))
    except ValueError:
        result = None
    if result != tuple(shape):
        raise ValueError(
            f"{op}: {what} of shape {tuple(tensor.shape)} does not broadcast to the input "
            f"shape {tuple(shape)}")


def _pointwise_arguments(op: str, input: Tensor, target, reduction: str) -> Tensor:
    """Checks shared by the elementwise losses; returns target as a Tensor."""
    _check_reduction(op, reduction)
    target = _as_tensor(op, "target", target, input)
    _check_same_shape(op, input, target)
    return target


def _clamped_log(p: Tensor, complement: bool = False) -> Tensor:
    """max(log(p), -100), PyTorch's clamp in binary cross-entropy; with
    ``complement``, max(log(1 - p), -100), computed as log1p(-p) as PyTorch
    does (1 - p would round a tiny p away: 1 - 1e-8 is 1 in float32).

    log(0) is never evaluated: where the argument is 0 the log is taken of 1
    instead and the result replaced by -100. So the value is finite and the
    gradient there is 0 rather than 0 * inf = nan."""
    positive = p < 1 if complement else p > 0                 # log's argument > 0
    safe_p = tg.where(positive, p, 0 if complement else 1)    # its log is 0 there
    log = (-safe_p).log1p() if complement else safe_p.log()
    floor = tg.full(tuple(p.shape), LOG_FLOOR, dtype=p.dtype, device=p.device)
    return tg.where(positive, log, floor).clip(min=LOG_FLOOR)


def _log_softmax(x: Tensor, dim: int = 1) -> Tensor:
    """log softmax(x) = x - logsumexp(x), run as the fused LogSoftmax op (ops/fused.py):
    the largest logit is subtracted first, so +-1e4 logits give finite log-probabilities."""
    return x.log_softmax(dim)


def _class_weight(op: str, weight, input: Tensor, num_classes: int):
    """A per-class weight vector of shape (C,) as a Tensor, or None."""
    if weight is None:
        return None
    weight = _as_tensor(op, "weight", weight, input, cast=True)
    if tuple(weight.shape) != (num_classes,):
        raise ValueError(
            f"{op}: weight must have shape ({num_classes},), one entry per class, "
            f"got {tuple(weight.shape)}")
    return weight


def _classes_last(x: Tensor) -> Tensor:
    """(N, C, d1, ..., dk) -> (N*d1*...*dk, C): one row of class scores per prediction."""
    if x.ndim == 2:
        return x
    num_classes = x.shape[1]
    dims = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(*dims).reshape(-1, num_classes)


def _class_broadcast(vector: Tensor, ndim: int) -> Tensor:
    """A (C,) vector reshaped to (1, C, 1, ..., 1) to broadcast along the class dim."""
    return vector.reshape(1, -1, *([1] * (ndim - 2)))


def _class_targets(op: str, input: Tensor, target, ignore_index=None, op_checks: bool = False):
    """Check integer class targets for scores of shape (N, C, d1, ...).

    Returns the targets as an int64 Tensor on the input's device, of shape
    (N, d1, ...), and how many equal ``ignore_index``. The Tensor is ``target``
    itself when it already is one (so that an op that keeps it sees a later write
    to it through its version); anything else is copied (a NumPy array too, as
    ``Tensor`` copies it). Raises on a float target, a wrong shape, or a class
    outside 0..C-1 (``ignore_index`` excepted), reading the targets once on the host.
    ``op_checks``: the fused CrossEntropy op comes next, which checks the classes itself
    on NumPy's devices (ops/fused.py); there the host read is left to it (the caller
    calls again without ``op_checks`` when the op finds a class outside 0..C-1: wrong,
    or a negative ``ignore_index``), unless ``ignore_index`` is a class to count first."""
    if isinstance(target, Tensor):
        if type(target.data) is not type(input.data) and target.device != input.device:
            raise RuntimeError(
                f"{op}: target is on device '{target.device}' but input is on '{input.device}'")
        classes = target
    else:
        array = backend.to_device(target, input.device)
        classes = Tensor._make(array.copy() if array is target else array)
    array = classes.data
    dtype = array.dtype
    if dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index targets must be integers, got dtype {array.dtype} "
            f"of shape {tuple(array.shape)} (class probabilities need the input's shape "
            f"{tuple(input.shape)})")
    if dtype != backend.int64:
        classes = Tensor._make(array.astype(backend.int64))
        array = classes.data
    shape = input.data.shape
    expected = shape[:1] + shape[2:]  # (shapes are tuples on every backend)
    if array.shape != expected:
        raise ValueError(
            f"{op}: input shape {tuple(input.shape)} needs class-index targets of shape "
            f"{expected}, got target shape {tuple(array.shape)}")
    num_classes = shape[1]
    if cuda.capturing():  # a CUDA graph cannot read the targets on the host: check each
        cuda.before_each_replay(lambda: _replayed_targets(op, input, target, ignore_index))
        return classes, 0  # replay's new ones instead (the captured step assumes none ignored)
    ignorable = ignore_index is not None and 0 <= ignore_index < num_classes
    if op_checks and not ignorable and backend.device_of(array) != "cuda":
        return classes, 0
    host = backend.to_host(array)
    if not ignorable and (host.size == 0 or host.view("uint64").max() < num_classes):
        return classes, 0  # the usual case, one reduction: a negative class read unsigned is huge
    out_of_range = (host < 0) | (host >= num_classes)
    num_ignored = 0
    if ignore_index is not None:
        ignored = host == ignore_index
        num_ignored = int(ignored.sum())
        out_of_range &= ~ignored
    if out_of_range.any():
        bad = host[out_of_range].reshape(-1)[0].item()
        allowed = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
        raise IndexError(
            f"{op}: target value {bad} is out of range for {num_classes} classes: "
            f"expected 0..{num_classes - 1}{allowed}")
    return classes, num_ignored


def _replayed_targets(op: str, input: Tensor, target, ignore_index) -> None:
    """The class-index check of a captured step, on a replay's targets (cuda.capture)."""
    if _class_targets(op, input, target, ignore_index)[1]:
        raise cuda.CaptureError(
            f"{op}: this batch has targets equal to ignore_index={ignore_index}; the step "
            "was captured assuming none (a graph cannot change its path at replay): run "
            "such batches eagerly")


def _one_prediction_as_batch(op: str, input: Tensor, target, probabilities: bool = False):
    """An unbatched prediction (C,) with a scalar target becomes a batch of one:
    input (1, C), target (1,) (or (1, C) for probability targets, which only
    ``cross_entropy`` takes: ``probabilities``). Another target shape raises,
    naming the shapes as given."""
    if not isinstance(target, Tensor):
        target = backend.to_device(target, input.device)
    allowed = ((), tuple(input.shape)) if probabilities else ((),)
    if tuple(target.shape) not in allowed:
        kinds = "a 0-d class index" + (f" or probabilities of shape {tuple(input.shape)}"
                                       if probabilities else "")
        raise ValueError(f"{op}: an unbatched input of shape {tuple(input.shape)} takes "
                         f"{kinds} as target, got target shape {tuple(target.shape)}")
    if isinstance(target, Tensor):
        return input.unsqueeze(0), target.unsqueeze(0)
    return input.unsqueeze(0), target.reshape((1,) + tuple(target.shape))


def _is_probability_target(input: Tensor, target) -> bool:
    """PyTorch's rule: a floating target of the input's own shape holds class probabilities."""
    if not isinstance(target, Tensor) and not backend.is_array(target):
        target = backend.to_host(target)  # lists and numbers: a host NumPy array
    return backend.is_floating(target.dtype) and tuple(target.shape) == tuple(input.shape)


# --------------------------------------------------------------------------
# Regression losses
# --------------------------------------------------------------------------

def _elementwise_weight(op: str, weight, input: Tensor):
    """The optional per-element ``weight`` of mse_loss, l1_loss and huber_loss (PyTorch 2.6):
    a Tensor of exactly the input's shape, or None."""
    if weight is None:
        return None
    weight = _as_tensor(op, "weight", weight, input, cast=True)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: weight of shape {tuple(weight.shape)} must have the input's "
                         f"shape {tuple(input.shape)}")
    return weight


def _weighted_reduce(loss: Tensor, weight, reduction: str) -> Tensor:
    """mse_loss's and l1_loss's reduction of w * l: 'mean' is the weighted mean
    sum(w l) / sum(w), as PyTorch."""
    if weight is None:
        return _reduce(loss, reduction)
    loss = weight * loss
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
             weight=None) -> Tensor:
    """Mean squared error (the square loss):  l = (x - y)^2.

    dl/dx = 2 (x - y): the pull grows with the error, so outliers dominate.
    ``weight`` (the input's shape) gives w * l, and 'mean' becomes sum(w l) / sum(w).
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    reduction = _legacy_reduction("mse_loss", size_average, reduce, reduction)
    target = _pointwise_arguments("mse_loss", input, target, reduction)
    weight = _elementwise_weight("mse_loss", weight, input)
    difference = input - target
    return _weighted_reduce(difference * difference, weight, reduction)


def l1_loss(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
            weight=None) -> Tensor:
    """Mean absolute error:  l = |x - y|.

    dl/dx = sign(x - y) (0 at x = y, as PyTorch): every error pulls equally hard.
    ``weight`` (the input's shape) gives w * l, and 'mean' becomes sum(w l) / sum(w).
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    reduction = _legacy_reduction("l1_loss", size_average, reduce, reduction)
    target = _pointwise_arguments("l1_loss", input, target, reduction)
    weight = _elementwise_weight("l1_loss", weight, input)
    return _weighted_reduce((input - target).abs(), weight, reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    """Huber loss: square near the target, absolute beyond ``delta``::

        d = x - y
        l = 0.5 d^2                  if |d| < delta
        l = delta (|d| - 0.5 delta)  otherwise

    The two pieces meet with equal value and slope at |d| = delta. ``weight`` (the
    input's shape) gives w * l; unlike mse_loss, 'mean' stays the plain mean of w * l
    (PyTorch's rule)."""
    target = _pointwise_arguments("huber_loss", input, target, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    weight = _elementwise_weight("huber_loss", weight, input)
    difference = input - target
    size = difference.abs()
    quadratic = 0.5 * difference * difference
    linear = delta * (size - 0.5 * delta)
    loss = tg.where(size < delta, quadratic, linear)
    return _reduce(loss if weight is None else weight * loss, reduction)


def smooth_l1_loss(input: Tensor, target, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1 loss: Huber loss divided by beta, so the linear part has slope 1::

        d = x - y
        l = 0.5 d^2 / beta   if |d| < beta
        l = |d| - 0.5 beta   otherwise

    beta = 0 gives the L1 loss, as in PyTorch. ``size_average``, ``reduce``: PyTorch's
    deprecated flags (``_legacy_reduction``)."""
    reduction = _legacy_reduction("smooth_l1_loss", size_average, reduce, reduction)
    target = _pointwise_arguments("smooth_l1_loss", input, target, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    difference = input - target
    size = difference.abs()
    quadratic = 0.5 * difference * difference / beta
    linear = size - 0.5 * beta
    return _reduce(tg.where(size < beta, quadratic, linear), reduction)


# --------------------------------------------------------------------------
# Binary classification
# --------------------------------------------------------------------------

def binary_cross_entropy(input: Tensor, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on probabilities p = input in [0, 1]::

        l = -w * [y log(p) + (1 - y) log(1 - p)]

    each log clamped below at -100 as PyTorch does, so p = 0 or 1 gives a
    finite loss; log(1 - p) is computed as log1p(-p), exact for a tiny p.
    The gradient is the derivative of this formula as computed: 0 for a
    clamped log. At p exactly 0 or 1 that differs from PyTorch, whose
    hand-written gradient is (p - y) / max(p(1 - p), 1e-12); on logits,
    binary_cross_entropy_with_logits is exact and stable everywhere.
    ``weight`` broadcasts to the input shape.
    Raises, as PyTorch, if some p or some target y lies outside [0, 1] (or is nan).
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "binary_cross_entropy"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    target = _pointwise_arguments(op, input, target, reduction)
    input = floating(input)  # ints: the default float first (1 − p of a uint8 would wrap)
    for what, values in (("input", input), ("target", target)):
        inside = (values.data >= 0) & (values.data <= 1)
        if not inside.all().item():
            raise ValueError(f"{op}: all elements of {what} must be probabilities in [0, 1]")
    log_p, log_1_minus_p = _clamped_log(input), _clamped_log(input, complement=True)
    loss = -(target * log_p + (1 - target) * log_1_minus_p)
    if weight is not None:
        weight = _as_tensor(op, "weight", weight, input, cast=True)
        _check_broadcasts_to(op, "weight", weight, input.shape)
        loss = weight * loss
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy on logits x (p = sigmoid(x)), with weights::

        l = -w * [pw * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x))]

    computed in the form that never overflows, from log sigmoid(x) = -softplus(-x)
    and log(1 - sigmoid(x)) = -x - softplus(-x)::

        l = w * [(1 - y) x + (1 + (pw - 1) y) softplus(-x)]

    ``pos_weight`` (pw) multiplies the loss of positives: a vector of shape (C,)
    weights each class (last dim), pw > 1 raises recall. ``weight`` (w) broadcasts
    to the input shape. ``size_average``, ``reduce``: PyTorch's deprecated flags
    (``_legacy_reduction``)."""
    op = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    target = _pointwise_arguments(op, input, target, reduction)
    input = floating(input)  # ints: the default float first (−x of a uint8 would wrap)
    softplus_minus_x = softplus(-input, threshold=math.inf)  # exact for every x
    if pos_weight is None:
        loss = (1 - target) * input + softplus_minus_x
    else:
        pos_weight = _as_tensor(op, "pos_weight", pos_weight, input, cast=True)
        _check_broadcasts_to(op, "pos_weight", pos_weight, input.shape)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_minus_x
    if weight is not None:
        weight = _as_tensor(op, "weight", weight, input, cast=True)
        _check_broadcasts_to(op, "weight", weight, input.shape)
        loss = weight * loss
    return _reduce(loss, reduction)


def hinge_loss(input: Tensor, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Binary hinge loss (the SVM loss) on scores s with labels y in {-1, +1}::

        l = max(0, margin - y * s)

    Zero once a sample is on the right side with room ``margin`` to spare; a
    label of 0 (the 0/1 convention) is rejected, since it would silently give
    a constant loss."""
    op = "hinge_loss"
    target = _pointwise_arguments(op, input, target, reduction)
    host = backend.to_host(target.data)
    if not ((host == 1) | (host == -1)).all():
        bad = host[(host != 1) & (host != -1)].reshape(-1)[0].item()
        raise ValueError(f"{op}: targets must be -1 or +1, got {bad}")
    return _reduce((margin - target * input).relu(), reduction)


def sigmoid_focal_loss(logits: Tensor, targets, alpha: float = 0.25, gamma: float = 2.0,
                       reduction: str = "mean") -> Tensor:
    """Binary focal loss on logits (Lin et al. 2017, as torchvision computes it)::

        p     = sigmoid(x)
        ce    = binary_cross_entropy_with_logits(x, y)            per element
        p_t   = p y + (1 - p)(1 - y)          probability of the true label
        l     = alpha_t * (1 - p_t)^gamma * ce
        alpha_t = alpha y + (1 - alpha)(1 - y)   (left out when alpha < 0)

    (1 - p_t)^gamma shrinks the loss of easy, well-classified samples, so the
    many easy negatives of an imbalanced problem stop dominating the gradient.
    gamma = 0 and alpha < 0 give binary_cross_entropy_with_logits. The arguments are
    named as in API.md (torchvision calls them ``inputs``, ``targets``)."""
    op = "sigmoid_focal_loss"
    input, target = floating(logits), _pointwise_arguments(op, logits, targets, reduction)
    if gamma < 0:
        raise ValueError(f"{op}: gamma must be non-negative, got {gamma}")
    loss = binary_cross_entropy_with_logits(input, target, reduction="none")
    if gamma != 0:  # (1 - p_t)^0 = 1; skipping it also avoids 0 * 0^-1 in its gradient
        p = input.sigmoid()
        p_t = p * target + (1 - p) * (1 - target)
        loss = loss * (1 - p_t) ** gamma
    if alpha >= 0:
        alpha_t = alpha * target + (1 - alpha) * (1 - target)
        loss = alpha_t * loss
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------
# Multiclass classification
# --------------------------------------------------------------------------

def nll_loss(input: Tensor, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the true class, on log-probabilities::

        l_n = -w[y_n] * input[n, y_n]        (0 where y_n == ignore_index)
        'mean' = sum_n l_n / sum_n w[y_n]    over the non-ignored n

    input (N, C) or (N, C, d1, ...) of log-probabilities (e.g. log_softmax
    output), target (N,) or (N, d1, ...) of integer classes; an unbatched
    input (C,) takes a scalar target. With no weight, w = 1 and 'mean' is the
    mean over the non-ignored predictions (nan if all are ignored, as PyTorch).
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "nll_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a scalar")
    if input.ndim == 1:
        batch_input, batch_target = _one_prediction_as_batch(op, input, target)
        loss = nll_loss(batch_input, batch_target, weight, ignore_index=ignore_index,
                        reduction=reduction)
        return loss.reshape(()) if reduction == "none" else loss
    classes, num_ignored = _class_targets(op, input, target, ignore_index)
    weight = _class_weight(op, weight, input, input.shape[1])
    losses, keep, total_weight = _picked_nll(input, classes.data, weight, ignore_index,
                                             num_ignored)
    if reduction == "mean":
        return losses.sum() / total_weight
    if reduction == "sum":
        return losses.sum()
    return losses


def _picked_nll(log_probs: Tensor, target, weight, ignore_index: int, num_ignored: int):
    """Per-prediction losses l_n = -w[y_n] log p[n, y_n], 0 where y_n is ignored.

    log_probs (N, C, d...), target an int64 array (N, d...). Returns the losses
    (a Tensor of the target's shape), the keep mask (a boolean Tensor, True where
    kept; None when nothing is ignored) and the 'mean' denominator sum_n w[y_n]
    over the kept n (a Tensor, or a Python count when there is no weight). An
    ignored prediction is selected away, not multiplied by 0, so a -inf or NaN in
    its log-probabilities leaves the loss and every gradient finite."""
    xp = backend.get_xp(log_probs.device)
    flat_target = target.reshape(-1)                                # (M,)
    num_predictions = flat_target.shape[0]
    keep = None
    if num_ignored:
        kept = flat_target != ignore_index                          # (M,) bool
        flat_target = xp.where(kept, flat_target, 0)                # ignored read class 0 ...
        keep = Tensor(kept, device=log_probs.device)                # ... and are set to 0
    rows = xp.arange(num_predictions)                               # (M,)
    picked = _classes_last(log_probs)[rows, flat_target]            # (M,) log p[n, y_n]
    if keep is not None:
        picked = tg.where(keep, picked, 0)                          # (selected: 0 · inf is NaN)
    if weight is None:
        sample_weight = None                                        # w = 1
        total_weight = num_predictions - num_ignored
    else:
        sample_weight = weight[flat_target]                         # (M,) w[y_n]
        if keep is not None:
            sample_weight = tg.where(keep, sample_weight, 0)
        total_weight = sample_weight.sum()
    losses = -picked if sample_weight is None else -(sample_weight * picked)  # (M,)
    if keep is not None:
        keep = keep.reshape(*target.shape)
    return losses.reshape(*target.shape), keep, total_weight


ENABLED = True  # cross_entropy's short path; False: every call takes the general one


def cross_entropy(input: Tensor, target, weight=None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy on logits, PyTorch's ``F.cross_entropy``.

    input: logits (N, C), (N, C, d1, ...) or an unbatched (C,). With
    log p = log_softmax(input, dim=1) = input - logsumexp(input) (finite for
    logits of +-1e4), two kinds of target:

    Class indices, integers of shape (N, d1, ...)::

        l_n = -w[y_n] log p[n, y_n]            (0 where y_n == ignore_index)
        'mean' = sum_n l_n / sum_n w[y_n]      over the non-ignored n

      With label smoothing eps the true class gets 1 - eps and every class eps/C;
      as in PyTorch the result is::

        (1 - eps) * nll + (eps / C) * smooth,   smooth_n = -sum_c w[c] log p[n, c]

      where smooth is reduced like nll (ignored n dropped, 'mean' divided by
      the same sum_n w[y_n]).

    Class probabilities, floats of the input's shape (soft labels)::

        q = (1 - eps) target + eps / C
        l_n = -sum_c w[c] q[n, c] log p[n, c]
        'mean' = sum_n l_n / (number of predictions)   (weights do not normalise)

      ignore_index must stay negative (the default) with probability targets, as PyTorch.

    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``).
    """
    # Every classification step calls this, nearly always as ``cross_entropy(logits, y)``
    # with int64 class indices: that call goes to the fused op at once, with the checks the
    # general path below makes for it (which it still runs for every other call). It
    # skipped about 200 Python bytecodes, 2 us of a 64-64-10 MLP's SGD step (2026-12-08);
    # tests/nn/test_cross_entropy_paths.py runs both paths on the same calls.
    if (type(target) is Tensor and weight is None and reduction == "mean" and label_smoothing == 0
            and size_average is None and reduce is None and ENABLED):
        logits, classes = input.data, target.data
        shape = logits.shape
        if (len(shape) == 2 and classes.shape == shape[:1] and shape[0] > 0
                and type(classes) is type(logits) and classes.dtype == backend.int64
                and logits.dtype.kind == "f" and ignore_index is not None
                and not 0 <= ignore_index < shape[1]
                and backend.device_of(logits) != "cuda" and not cuda.capturing()):
            try:
                return CrossEntropy.apply(input, target, scale=1 / shape[0])
            except ValueError:  # a class outside 0..C-1 (or ignore_index): the path below
                pass            # raises its error or counts the ignored targets
    return _cross_entropy(input, target, weight, size_average, ignore_index, reduce, reduction,
                          label_smoothing)


def _cross_entropy(input: Tensor, target, weight, size_average, ignore_index: int, reduce,
                   reduction: str, label_smoothing: float) -> Tensor:
    """``cross_entropy``'s general path: every check, then the fused op or the composition."""
    op = "cross_entropy"
    # (each check below is called only where it can act: every classification step runs this)
    if size_average is not None or reduce is not None:  # PyTorch's deprecated flags
        reduction = _legacy_reduction(op, size_average, reduce, reduction)
    if reduction not in REDUCTIONS:
        _check_reduction(op, reduction)  # raises, naming the allowed ones
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    shape = input.data.shape
    if len(shape) == 0:
        raise ValueError(f"{op}: input must have a class dimension, got a scalar")
    if len(shape) == 1:
        batch_input, batch_target = _one_prediction_as_batch(op, input, target,
                                                             probabilities=True)
        loss = cross_entropy(batch_input, batch_target, weight, ignore_index=ignore_index,
                             reduction=reduction, label_smoothing=label_smoothing)
        return loss.reshape(()) if reduction == "none" else loss
    num_classes = shape[1]
    if weight is not None:
        weight = _class_weight(op, weight, input, num_classes)
    if _is_probability_target(input, target):
        if ignore_index >= 0:  # (as PyTorch: only class indices can be ignored)
            raise ValueError(f"{op}: ignore_index={ignore_index} is not supported for "
                             "probability (floating point) targets")
        return _soft_cross_entropy(_log_softmax(input, dim=1),
                                   _as_tensor(op, "target", target, input),
                                   weight, reduction, label_smoothing)
    fused = (len(shape) == 2 and weight is None and label_smoothing == 0
             and reduction != "none" and shape[0] > 0)
    classes, num_ignored = _class_targets(op, input, target, ignore_index, op_checks=fused)
    if fused and num_ignored == 0:
        scale = 1 / shape[0] if reduction == "mean" else 1
        try:
            return CrossEntropy.apply(floating(input), classes, scale=scale)  # the fused op
        except ValueError:  # its class check: a class outside 0..C-1, wrong or ignored
            # (raises for a wrong class; for ignored ones, counts them for the path below)
            classes, num_ignored = _class_targets(op, input, target, ignore_index)
    log_probs = _log_softmax(input, dim=1)                        # (N, C, d...)
    losses, keep, total_weight = _picked_nll(log_probs, classes.data, weight, ignore_index,
                                             num_ignored)                     # (N, d...)
    if label_smoothing > 0:
        class_weight = 1 if weight is None else _class_broadcast(weight, input.ndim)
        smooth = -(log_probs * class_weight).sum(dim=1)                       # (N, d...)
        if keep is not None:
            smooth = tg.where(keep, smooth, 0)                                # ignored: 0
        losses = (1 - label_smoothing) * losses + (label_smoothing / num_classes) * smooth
    if reduction == "mean":
        return losses.sum() / total_weight
    if reduction == "sum":
        return losses.sum()
    return losses


def _soft_cross_entropy(log_probs: Tensor, target: Tensor, weight, reduction: str,
                        label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities: l_n = -sum_c w[c] q[n, c] log p[n, c]."""
    _check_same_shape("cross_entropy", log_probs, target)
    num_classes = log_probs.shape[1]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / num_classes
    weighted = log_probs * target                                   # (N, C, d...)
    if weight is not None:
        weighted = weighted * _class_broadcast(weight, log_probs.ndim)
    losses = -weighted.sum(dim=1)                                   # (N, d...)
    return _reduce(losses, reduction)


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Multiclass hinge loss (the multiclass SVM loss), PyTorch's definition::

        l_n = w[y_n] / C * sum_{i != y_n} max(0, margin - x[n, y_n] + x[n, i])^p

    Each wrong class i pays only if its score comes within ``margin`` of the
    true class's score. p is 1 or 2; input (N, C) or an unbatched (C,).
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "multi_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    if input.ndim == 1:
        batch_input, batch_target = _one_prediction_as_batch(op, input, target)
        loss = multi_margin_loss(batch_input, batch_target, p, margin, weight,
                                 reduction=reduction)
        return loss.reshape(()) if reduction == "none" else loss
    if input.ndim != 2:
        raise ValueError(f"{op}: input must be (N, C) or (C,), got shape {tuple(input.shape)}")
    num_samples, num_classes = input.shape
    target = _class_targets(op, input, target)[0].data
    weight = _class_weight(op, weight, input, num_classes)
    xp = backend.get_xp(input.device)
    rows = xp.arange(num_samples)
    true_score = input[rows, target].reshape(num_samples, 1)                # (N, 1)
    violation = (margin - true_score + input).relu()                         # (N, C)
    if p == 2:
        violation = violation * violation
    wrong_class = xp.arange(num_classes).reshape(1, -1) != target.reshape(-1, 1)  # (N, C)
    violation = violation * Tensor(wrong_class.astype(input.dtype), device=input.device)  # i ≠ y_n
    losses = violation.sum(dim=1) / num_classes                              # (N,)
    if weight is not None:
        losses = losses * weight[target]
    return _reduce(losses, reduction)


def focal_loss(input: Tensor, target, gamma: float = 2.0, alpha=None,
               reduction: str = "mean") -> Tensor:
    """Multiclass focal loss on logits::

        log p_y = log_softmax(x)[y]     (stable for large logits)
        l_n     = -alpha[y_n] * (1 - p_y)^gamma * log p_y

    input (N, C) or (N, C, d1, ...), integer targets (N, d1, ...). ``alpha``
    is a per-class weight vector of shape (C,), a number (the same for every
    class) or None (1). 'mean' is the plain mean over predictions (not divided
    by the alpha weights). gamma = 0 with alpha None is cross_entropy."""
    op = "focal_loss"
    _check_reduction(op, reduction)
    if gamma < 0:
        raise ValueError(f"{op}: gamma must be non-negative, got {gamma}")
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C) or (N, C, d1, ...), "
                         f"got shape {tuple(input.shape)}")
    target = _class_targets(op, input, target)[0].data
    xp = backend.get_xp(input.device)
    flat_target = target.reshape(-1)                                        # (M,)
    rows = xp.arange(flat_target.shape[0])
    log_p = _classes_last(_log_softmax(input, dim=1))[rows, flat_target]    # (M,) log p_y
    losses = -log_p
    if gamma != 0:  # (1 - p_y)^0 = 1; skipping it also avoids 0 * 0^-1 in its gradient
        losses = (1 - log_p.exp()) ** gamma * losses
    if alpha is not None:
        if isinstance(alpha, (int, float)):
            losses = alpha * losses
        else:
            alpha = _class_weight(op, alpha, input, input.shape[1])
            losses = alpha[flat_target] * losses                            # (M,) alpha[y]
    return _reduce(losses.reshape(*target.shape), reduction)


# --------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------

def kl_div(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of a target distribution p from q, PyTorch's ``F.kl_div``.

    ``input`` holds log-probabilities log q (e.g. log_softmax output); ``target``
    holds probabilities p, or log p with ``log_target=True``::

        l = p * (log p - log q)          0 where p == 0 (0 log 0 = 0)
        l = exp(t) * (t - log q)         log_target=True, t = log p

    Summed over a distribution's entries, l gives KL(p || q) = sum_c p_c log(p_c / q_c).
    Reductions: 'none', 'sum', 'mean' (the mean over *all* elements, PyTorch's
    default, which is not the KL divergence) and 'batchmean' (the sum divided
    by the batch size input.shape[0]: the KL divergence per sample, as in the
    maths). input and target have the same shape; the target may require grad.

    The 0 log 0 case is a ``where``, not a product: log is taken of 1 where
    p == 0 and the term is set to 0 there, so no log(0) = -inf reaches backward
    (0 * inf = nan). Where p == 0 both gradients are 0; elsewhere
    dl/dlog q = -p and dl/dp = log p + 1 - log q. ``size_average``, ``reduce``: PyTorch's
    deprecated flags (``_legacy_reduction``; their 'mean' is over all elements)."""
    op = "kl_div"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction, KL_DIV_REDUCTIONS)
    target = _as_tensor(op, "target", target, input)
    _check_same_shape(op, input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        zero = target == 0                                          # where 0 log 0 = 0
        safe_target = tg.where(zero, tg.ones_like(target), target)  # log(1) = 0 there
        loss = tg.where(zero, 0, target * (safe_target.log() - input))
    if reduction == "batchmean":
        batch_size = input.shape[0] if input.ndim > 0 else 1       # a scalar: the sum
        return loss.sum() / batch_size
    return _reduce(loss, reduction)
