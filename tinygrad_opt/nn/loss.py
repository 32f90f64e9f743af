"""Loss functions: how wrong a prediction is, as one number to minimise.

Each loss comes twice, as in PyTorch: a function (``mse_loss``) and a Module
(``MSELoss``) that stores the options and calls the function. The functions
live in ``nn/functional_loss.py`` (``F.mse_loss``); this file holds the Modules
and imports the functions from there.

Every loss here is a *composition* of Tensor ops (log-softmax, integer-array
gathering ``x[rows, target]``, ``where``, ``relu``, ``abs`` ...). Autograd
differentiates the composition, so no loss has backward code of its own, and
second derivatives (``create_graph=True``, Newton's method) work for all of
them. Two fused ops (ops/fused.py) run instead of a composition, for speed:
log-softmax (the ``LogSoftmax`` op, twin of ``x - logsumexp(x)``), and the
plainest ``cross_entropy`` (logits (N, C), class indices, no weight, no
smoothing) as the ``CrossEntropy`` op, whose composed twin is its oracle in
the tests.

Reductions. A loss first computes one value ``l`` per element (regression,
binary losses) or per prediction (class losses), then

    'none'  returns l, one value per element / prediction
    'sum'   returns sum(l)
    'mean'  returns mean(l); class losses with per-class weights w return the
            weighted mean sum(w[y] * l) / sum(w[y]), as PyTorch does.
    'batchmean' (kl_div only) returns sum(l) / batch size.

Stability. The losses that take *logits* (scores before the sigmoid or the
softmax) never exponentiate a large positive number: ``cross_entropy`` runs
the fused ``LogSoftmax`` op (ops/fused.py), which subtracts the largest logit
before exponentiating (its composed twin ``x - logsumexp(x)`` is the oracle in
the tests), and ``binary_cross_entropy_with_logits``
uses ``softplus(z) = logsumexp([0, z])``; both stay finite, with finite
gradients, for logits of +-1e4. Prefer them to a softmax/sigmoid followed by a
log. ``binary_cross_entropy`` takes probabilities and clamps each log at -100,
as PyTorch does, so a probability of exactly 0 or 1 costs 100, not infinity.

Checks. Every loss validates ``reduction`` and the shapes of input and target
(naming both). Class-index targets are read once on the host (one small copy)
to report an out-of-range class with its value and the number of classes.
"""

from __future__ import annotations

import tinygrad_opt as tg
from tinygrad_opt.nn.functional_loss import (KL_DIV_REDUCTIONS, REDUCTIONS, _check_reduction,
                                             _legacy_reduction,
                                             binary_cross_entropy,
                                             binary_cross_entropy_with_logits, cross_entropy,
                                             focal_loss, hinge_loss, huber_loss, kl_div, l1_loss,
                                             mse_loss, multi_margin_loss, nll_loss,
                                             sigmoid_focal_loss, smooth_l1_loss)
from tinygrad_opt.nn.module import Module
from tinygrad_opt.tensor import Tensor

__all__ = [
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "nll_loss", "multi_margin_loss", "hinge_loss",
    "sigmoid_focal_loss", "focal_loss", "kl_div",
    "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
    "CrossEntropyLoss", "NLLLoss", "MultiMarginLoss", "HingeLoss", "FocalLoss", "KLDivLoss",
]

# --------------------------------------------------------------------------
# Modules: hold the options, call the function
# --------------------------------------------------------------------------

class _Loss(Module):
    """Base of the loss modules: stores and checks ``reduction`` (one of ``reductions``).

    ``size_average`` and ``reduce`` are PyTorch's deprecated flags, kept so that PyTorch's
    positional order holds (``NLLLoss(weight, size_average, ignore_index, ...)``); when
    either is given it decides the reduction (``_legacy_reduction``), with a warning.
    """

    reductions = REDUCTIONS

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__()
        name = type(self).__name__
        reduction = _legacy_reduction(name, size_average, reduce, reduction)
        _check_reduction(name, reduction, self.reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def _store_vector(self, name: str, value) -> None:
        """Keep an optional weight vector as a buffer (so ``to(device)`` moves it and
        ``state_dict`` holds it). None is registered too, as PyTorch does: a vector
        assigned later (``loss_fn.weight = w``) is then a buffer as well."""
        if value is not None and not isinstance(value, Tensor):
            value = tg.tensor(value)  # float lists become float32; arrays keep their device
        self.register_buffer(name, value)


class MSELoss(_Loss):
    """Mean squared error, l = (x - y)^2. See ``mse_loss``."""

    def forward(self, input: Tensor, target) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, l = |x - y|. See ``l1_loss``."""

    def forward(self, input: Tensor, target) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Huber loss: 0.5 d^2 for |d| < delta, delta (|d| - delta/2) beyond. See ``huber_loss``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, delta={self.delta}"

    def forward(self, input: Tensor, target) -> Tensor:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Smooth L1: 0.5 d^2 / beta for |d| < beta, |d| - beta/2 beyond. See ``smooth_l1_loss``."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, beta={self.beta}"

    def forward(self, input: Tensor, target) -> Tensor:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities, -w [y log p + (1-y) log(1-p)].
    See ``binary_cross_entropy``."""

    def __init__(self, weight=None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self._store_vector("weight", weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, stable for any logit size.
    See ``binary_cross_entropy_with_logits``."""

    def __init__(self, weight=None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self._store_vector("weight", weight)
        self._store_vector("pos_weight", pos_weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.weight,
                                                reduction=self.reduction,
                                                pos_weight=self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits, with class indices or class probabilities as
    targets, optional class weights, ignore_index and label smoothing.
    See ``cross_entropy``."""

    def __init__(self, weight=None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self._store_vector("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def extra_repr(self) -> str:
        return (f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}")

    def forward(self, input: Tensor, target) -> Tensor:
        return cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood on log-probabilities, -w[y] log p[y]. See ``nll_loss``."""

    def __init__(self, weight=None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self._store_vector("weight", weight)
        self.ignore_index = ignore_index

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}"

    def forward(self, input: Tensor, target) -> Tensor:
        return nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                        reduction=self.reduction)


class MultiMarginLoss(_Loss):
    """Multiclass hinge (SVM) loss,
    w[y]/C * sum_{i != y} max(0, margin - x[y] + x[i])^p. See ``multi_margin_loss``."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None,
                 size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got {p}")
        self.p = p
        self.margin = margin
        self._store_vector("weight", weight)

    def extra_repr(self) -> str:
        return f"p={self.p}, margin={self.margin}, reduction={self.reduction!r}"

    def forward(self, input: Tensor, target) -> Tensor:
        return multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                 reduction=self.reduction)


class HingeLoss(_Loss):
    """Binary hinge loss for labels in {-1, +1}, max(0, margin - y s). See ``hinge_loss``."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.margin = margin

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"

    def forward(self, input: Tensor, target) -> Tensor:
        return hinge_loss(input, target, self.margin, reduction=self.reduction)


class FocalLoss(_Loss):
    """Multiclass focal loss on logits, -alpha[y] (1 - p_y)^gamma log p_y.
    See ``focal_loss``."""

    def __init__(self, gamma: float = 2.0, alpha=None, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if gamma < 0:
            raise ValueError(f"FocalLoss: gamma must be non-negative, got {gamma}")
        self.gamma = gamma
        if isinstance(alpha, (int, float)):
            self.alpha = alpha
        else:
            self._store_vector("alpha", alpha)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, reduction={self.reduction!r}"

    def forward(self, input: Tensor, target) -> Tensor:
        return focal_loss(input, target, self.gamma, self.alpha, reduction=self.reduction)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence on log-probabilities, p (log p - log q), 0 where p == 0;
    exp(t) (t - log q) with log_target=True. 'batchmean' divides the sum by the batch
    size (the KL divergence per sample). See ``kl_div``."""

    reductions = KL_DIV_REDUCTIONS

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"

    def forward(self, input: Tensor, target) -> Tensor:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
