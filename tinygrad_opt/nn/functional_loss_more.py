"""More losses as functions: margins and ranking, embeddings, likelihoods.

Reached as ``F.margin_ranking_loss``, ``F.triplet_margin_loss`` and so on (the
names in ``__all__``; ``nn/functional.py`` star-imports this file, so this file
never imports it). The Modules that call them are in ``nn/loss_more.py``.

As in ``nn/functional_loss.py`` every loss is a composition of Tensor ops and
has no backward code of its own; they share that file's helpers (reduction
checks, targets as Tensors). Each docstring states PyTorch's formula; the code
follows it one line per term. Three families:

* margins: ``margin_ranking_loss``, ``hinge_embedding_loss``,
  ``soft_margin_loss``, ``multilabel_soft_margin_loss``,
  ``multilabel_margin_loss``, ``cosine_embedding_loss``: a sample pays only
  while it is on the wrong side of a margin (the soft ones: a smooth version);
* triplets: ``triplet_margin_loss``, ``triplet_margin_with_distance_loss``: an
  anchor must be closer to its positive than to its negative, by a margin;
* likelihoods: ``poisson_nll_loss``, ``gaussian_nll_loss``.

The targets that PyTorch documents as 1 or -1 (ranking, hinge embedding, soft
margin, cosine embedding) are checked, reading them once on the host, so a 0/1
label is a clear error instead of a silently different loss.
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.nn.functional_loss import (_as_tensor, _check_broadcasts_to, _check_reduction,
                                             _check_same_shape, _legacy_reduction, _reduce)
from tinygrad_opt.nn.functional_primitives import softplus
from tinygrad_opt.ops.elementwise import floating
from tinygrad_opt.tensor import Tensor

__all__ = [
    "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multilabel_margin_loss",
    "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
]

COSINE_EPSILON = 1e-12  # PyTorch's cosine_embedding_loss adds it to each squared norm


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def _float_target(op: str, target, like: Tensor) -> Tensor:
    """The target as a Tensor on ``like``'s device, in ``like``'s dtype if it holds integers
    (labels such as -1 and 1 are often written as ints)."""
    target = _as_tensor(op, "target", target, like)
    if not backend.is_floating(target.dtype):
        target = target.astype(like.dtype)
    return target


def _check_signs(op: str, target: Tensor) -> None:
    """Every target must be 1 or -1 (read once on the host)."""
    host = backend.to_host(target.data)
    bad = (host != 1) & (host != -1)
    if bad.any():
        raise ValueError(f"{op}: target values must be 1 or -1, got {host[bad][0].item()}")


def _clamp_min_0(x: Tensor) -> Tensor:
    """max(x, 0) with PyTorch's ``clamp_min`` gradient: 1 where x >= 0, so at x = 0 exactly
    (tied scores with margin 0, say) the gradient still flows; relu's is 0 there. These
    losses use clamp_min in PyTorch; multilabel_margin_loss uses z > 0, as relu does."""
    return x.clip(min=0.0)


def _pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6) -> Tensor:
    """PyTorch's ``pairwise_distance``: ||x1 - x2 + eps||_p over the last dim.

    eps is added to the difference (not to the norm), so two equal vectors are
    eps·D^(1/p) apart rather than 0, where the gradient of a norm is undefined."""
    return (x1 - x2 + eps).norm(p, dim=-1)


def _check_same_ndim(op: str, anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(
            f"{op}: anchor, positive and negative must have the same number of dimensions, "
            f"got anchor {anchor.ndim}D {tuple(anchor.shape)}, positive {positive.ndim}D "
            f"{tuple(positive.shape)} and negative {negative.ndim}D {tuple(negative.shape)}")
    if anchor.ndim == 0:
        raise ValueError(f"{op}: inputs must be (D,) or (N, D) embeddings, got scalars")


def _triplet(dist_pos: Tensor, dist_neg: Tensor, dist_swap, margin: float,
             reduction: str) -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), d(a, n) replaced by min(d(a, n), d(p, n)) with swap."""
    if dist_swap is not None:
        dist_neg = dist_neg.minimum(dist_swap)                     # the harder negative distance
    return _reduce(_clamp_min_0(margin + dist_pos - dist_neg), reduction)


# --------------------------------------------------------------------------
# Margins and ranking
# --------------------------------------------------------------------------

def margin_ranking_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Ranking loss on two scores and a label y in {1, -1}::

        l = max(0, -y * (x1 - x2) + margin)

    y = 1: x1 should rank above x2 by at least ``margin``; y = -1: below.
    input1, input2 and target have the same number of dims and broadcast
    together, as in PyTorch ('none' gives the broadcast shape).
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "margin_ranking_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    input2 = _as_tensor(op, "input2", input2, input1)
    target = _float_target(op, target, input1)
    shapes = tuple(tuple(t.shape) for t in (input1, input2, target))
    if not input1.ndim == input2.ndim == target.ndim:
        raise ValueError(f"{op}: input1, input2 and target must have the same number of dims, "
                         f"got shapes {shapes[0]}, {shapes[1]} and {shapes[2]}")
    try:
        backend.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{op}: shapes {shapes[0]}, {shapes[1]} and {shapes[2]} of input1, "
                         "input2 and target do not broadcast together") from None
    _check_signs(op, target)
    return _reduce(_clamp_min_0(-target * (input1 - input2) + margin), reduction)


def hinge_embedding_loss(input: Tensor, target, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """Hinge embedding loss, for a distance x between two embeddings and y in {1, -1}::

        l = x                      if y = 1     (similar pair: pull together)
        l = max(0, margin - x)     if y = -1    (dissimilar: push to at least margin)

    Each side is chosen with ``where``, so the other side's gradient is exactly 0.
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "hinge_embedding_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    target = _float_target(op, target, input)
    _check_same_shape(op, input, target)
    _check_signs(op, target)
    return _reduce(tg.where(target == 1, input, _clamp_min_0(margin - input)), reduction)


def soft_margin_loss(input: Tensor, target, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Two-class logistic loss on scores x with labels y in {1, -1}::

        l = log(1 + exp(-y x)) = softplus(-y x)

    computed as the stable softplus max(z, 0) + log1p(exp(-|z|)), so scores of
    +-1e4 give finite values and gradients ('mean' averages over all elements).
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "soft_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    target = _float_target(op, target, input)
    _check_same_shape(op, input, target)
    _check_signs(op, target)
    return _reduce(softplus(-target * input, threshold=math.inf), reduction)


def multilabel_soft_margin_loss(input: Tensor, target, weight=None, size_average=None,
                                reduce=None, reduction: str = "mean") -> Tensor:
    """Multi-label one-versus-all logistic loss, on logits x (N, C) and targets y in {0, 1}::

        l_n = -(1/C) sum_c w_c [y_nc log sigmoid(x_nc) + (1 - y_nc) log(1 - sigmoid(x_nc))]

    one value per sample (the mean over the classes, the last dim). Each term is
    binary cross-entropy on logits, computed in its stable form from
    -log sigmoid(x) = softplus(-x) and -log(1 - sigmoid(x)) = x + softplus(-x)::

        l_nc = w_c [(1 - y_nc) x_nc + softplus(-x_nc)]

    ``weight`` (w, usually of shape (C,)) broadcasts to the input's shape.
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "multilabel_soft_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must be (N, C) or (C,), got a scalar")
    target = _float_target(op, target, input)
    _check_same_shape(op, input, target)
    input = floating(input)  # ints: the default float first (−x of a uint8 would wrap)
    loss = (1 - target) * input + softplus(-input, threshold=math.inf)     # (N, C)
    if weight is not None:
        weight = _as_tensor(op, "weight", weight, input, cast=True)
        _check_broadcasts_to(op, "weight", weight, input.shape)
        loss = weight * loss
    num_classes = input.shape[-1]
    return _reduce(loss.sum(dim=-1) / num_classes, reduction)               # (N,)


def multilabel_margin_loss(input: Tensor, target, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss, PyTorch's definition, for scores x (N, C) or (C,)::

        l_n = (1/C) sum_j sum_{i not a target} max(0, 1 - (x[n, y[n, j]] - x[n, i]))

    ``target`` holds class indices, the same shape as the input: each row lists
    its target classes first, then -1 (any negative value ends the list and the
    entries after it are ignored). So every target class must score at least 1
    above every non-target class. 'none' gives (N,) (a scalar for a (C,) input).
    Computed for all (j, i) pairs at once, (N, C, C) values, and the pairs that
    do not count are dropped with ``where``.
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "multilabel_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if input.ndim not in (1, 2):
        raise ValueError(f"{op}: input must be (N, C) or (C,), got shape {tuple(input.shape)}")
    target = _label_lists(op, input, _as_tensor(op, "target", target, input))  # int64
    unbatched = input.ndim == 1
    if unbatched:
        input, target = input.unsqueeze(0), target[None]                      # a batch of one
    num_classes = input.shape[1]
    xp = backend.get_xp(input.device)
    listed = xp.cumsum(target < 0, axis=1) == 0              # (N, C) j before the first -1
    classes = xp.where(listed, target, 0)                    # (N, C) unlisted: 0, masked below
    is_class = classes[:, :, None] == xp.arange(num_classes)  # (N, C_j, C_i) y[n, j] == i
    is_target = (is_class & listed[:, :, None]).any(axis=1)  # (N, C_i) i is a target of row n
    counted = listed[:, :, None] & ~is_target[:, None, :]    # (N, C_j, C_i)
    target_score = input.gather(1, Tensor(classes, device=input.device))      # (N, C_j)
    hinge = (1 - target_score.unsqueeze(2) + input.unsqueeze(1)).relu()       # (N, C_j, C_i)
    hinge = tg.where(Tensor(counted, device=input.device), hinge, 0)
    losses = hinge.sum(dim=(1, 2)) / num_classes                              # (N,)
    return _reduce(losses.reshape(()) if unbatched else losses, reduction)


def _label_lists(op: str, input: Tensor, target: Tensor):
    """Check multilabel_margin_loss's targets and return them as an int64 array.

    Integers of the input's shape, (N, C) or (C,); the listed classes (before the
    first negative value) must lie in 0..C-1. Read once on the host."""
    array = target.data
    if array.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {array.dtype}")
    if tuple(array.shape) != tuple(input.shape):
        raise ValueError(f"{op}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(array.shape)} differ; they must be equal")
    array = array.astype(backend.int64)
    num_classes = input.shape[-1]
    host = backend.to_host(array)
    listed = (host < 0).cumsum(axis=-1) == 0                 # before the first negative
    too_big = listed & (host >= num_classes)
    if too_big.any():
        raise IndexError(f"{op}: target value {host[too_big][0].item()} is out of range for "
                         f"{num_classes} classes: expected 0..{num_classes - 1}, "
                         "then -1 to end the list")
    return array


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Cosine embedding loss on pairs of embeddings with y in {1, -1}::

        cos = x1·x2 / sqrt((|x1|² + 1e-12)(|x2|² + 1e-12))
        l   = 1 - cos                  if y = 1    (similar: align them)
        l   = max(0, cos - margin)     if y = -1   (dissimilar: cosine at most margin)

    input1, input2 (N, D) with target (N,), or (D,) with a scalar target. The
    1e-12 is PyTorch's: a zero vector gives cos = 0 and finite gradients.
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "cosine_embedding_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    input2 = _as_tensor(op, "input2", input2, input1)
    target = _float_target(op, target, input1)
    if target.ndim not in (0, 1):
        raise ValueError(f"{op}: target must be (N,) or a scalar, got shape "
                         f"{tuple(target.shape)}")
    shapes = f"{tuple(input1.shape)} and {tuple(input2.shape)}"
    if input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise ValueError(f"{op}: a {target.ndim}D target needs {target.ndim + 1}D inputs, "
                         f"got input shapes {shapes}")
    if tuple(input1.shape) != tuple(input2.shape) or input1.shape[:-1] != target.shape:
        raise ValueError(f"{op}: input shapes {shapes} and target shape "
                         f"{tuple(target.shape)} must be (N, D), (N, D), (N,) or (D,), (D,), ()")
    _check_signs(op, target)
    dot = (input1 * input2).sum(dim=-1)                                        # (N,)
    squared_norm1 = (input1 * input1).sum(dim=-1) + COSINE_EPSILON             # (N,)
    squared_norm2 = (input2 * input2).sum(dim=-1) + COSINE_EPSILON             # (N,)
    cos = dot / (squared_norm1 * squared_norm2).sqrt()                         # (N,)
    loss = tg.where(target == 1, 1 - cos, _clamp_min_0(cos - margin))
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------
# Triplets
# --------------------------------------------------------------------------

def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Triplet loss: the anchor must be nearer its positive than its negative, by ``margin``::

        d(x, y) = ||x - y + eps||_p                 (over the last dim, PyTorch's
                                                     pairwise_distance)
        l       = max(0, margin + d(a, p) - d(a, n))

    With ``swap`` (Balntas et al. 2016) d(a, n) becomes min(d(a, n), d(p, n)),
    the harder of the two negatives. Inputs (N, D) or (D,), of the same number of
    dims (broadcast); ``p`` any number, as PyTorch's (its pairwise_distance's: 0 < p < 1
    and p < 0 too).
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``)."""
    op = "triplet_margin_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p):
        raise ValueError(f"{op}: p must be a number, got {p!r}")
    _check_same_ndim(op, anchor, positive, negative)
    dist_pos = _pairwise_distance(anchor, positive, p, eps)                    # (N,)
    dist_neg = _pairwise_distance(anchor, negative, p, eps)                    # (N,)
    dist_swap = _pairwise_distance(positive, negative, p, eps) if swap else None
    return _triplet(dist_pos, dist_neg, dist_swap, margin, reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """The triplet loss with a distance of your choice::

        l = max(0, margin + d(a, p) - d(a, n))

    ``distance_function(x, y)`` returns one non-negative distance per sample
    (e.g. ``lambda x, y: 1 - F.cosine_similarity(x, y)``); None means the
    Euclidean ``pairwise_distance`` ||x - y + 1e-6||_2. ``swap`` as in
    ``triplet_margin_loss``; margin must be positive (PyTorch's check)."""
    op = "triplet_margin_with_distance_loss"
    _check_reduction(op, reduction)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    _check_same_ndim(op, anchor, positive, negative)
    distance = _pairwise_distance if distance_function is None else distance_function
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    dist_swap = distance(positive, negative) if swap else None
    return _triplet(dist_pos, dist_neg, dist_swap, margin, reduction)


# --------------------------------------------------------------------------
# Likelihoods
# --------------------------------------------------------------------------

def poisson_nll_loss(input: Tensor, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of counts y under a Poisson distribution of rate λ::

        l = exp(x) - y x              log_input=True:  x = log λ (PyTorch's default)
        l = x - y log(x + eps)        log_input=False: x = λ

    dropping the constant log(y!). With ``full`` it is approximated by Stirling's
    formula and added where y > 1 (log(y!) is 0 for y = 0 and 1)::

        log(y!) ≈ y log y - y + 0.5 log(2π y)

    The Stirling term is a ``where`` that takes its logs of 1 where y <= 1, so a
    target of 0 gives no log(0) and a finite gradient.
    ``size_average``, ``reduce``: PyTorch's deprecated flags (``_legacy_reduction``).
    (PyTorch's order: ``size_average`` comes before ``eps``.)"""
    op = "poisson_nll_loss"
    reduction = _legacy_reduction(op, size_average, reduce, reduction)
    _check_reduction(op, reduction)
    target = _float_target(op, target, input)
    _check_same_shape(op, input, target)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        large = target > 1
        safe_target = tg.where(large, target, 1.0)                 # y, or 1 where y <= 1
        stirling = (safe_target * safe_target.log() - safe_target
                    + 0.5 * (2 * math.pi * safe_target).log())
        loss = loss + tg.where(large, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of y under a Gaussian of mean x and variance v::

        l = 0.5 (log max(v, eps) + (x - y)² / max(v, eps))   (+ 0.5 log(2π) with full)

    ``var`` has the input's shape (one variance per prediction), or the input's
    shape without its last dim, or with a last dim of 1 (one variance per row:
    homoscedastic), or is a number; ``target`` broadcasts to the input's shape.
    Negative variances raise. As in PyTorch the clamp max(v, eps) has no gradient
    of its own: below eps the gradient is that of the formula at eps, passed to v
    unchanged (PyTorch clamps a clone in place under no_grad)."""
    op = "gaussian_nll_loss"
    _check_reduction(op, reduction)
    target = _float_target(op, target, input)
    _check_broadcasts_to(op, "target", target, input.shape)
    var = _variance(op, var, input)
    if (var.data < 0).any().item():
        raise ValueError(f"{op}: var has negative entries; variances must be >= 0")
    clamped = var.detach().clip(min=eps)                   # max(v, eps), a constant
    var = clamped + (var - var.detach())                   # that value, with dl/dv passed on
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _variance(op: str, var, input: Tensor) -> Tensor:
    """gaussian_nll_loss's ``var`` as a Tensor that broadcasts to the input (PyTorch's rules)."""
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var has negative entries; variances must be >= 0")
        return tg.full(tuple(input.shape), float(var), dtype=input.dtype, device=input.device)
    var = _as_tensor(op, "var", var, input, cast=True)
    input_shape, var_shape = tuple(input.shape), tuple(var.shape)
    if var_shape == input_shape:
        return var                                         # one variance per prediction
    if var_shape == input_shape[:-1]:
        return var.unsqueeze(-1)                           # (N,) for input (N, D): (N, 1)
    if var_shape[:-1] == input_shape[:-1] and var_shape[-1:] == (1,):
        return var                                         # (N, 1) broadcasts along D
    raise ValueError(
        f"{op}: var of shape {var_shape} does not fit the input shape {input_shape}: it must "
        f"be {input_shape}, {input_shape[:-1]} or {input_shape[:-1] + (1,)}")
