"""More loss modules: the Module forms of the losses in ``nn/functional_loss_more.py``.

Reached as ``nn.MarginRankingLoss``, ``nn.TripletMarginLoss`` and so on (the
names in ``__all__``; ``nn/__init__.py`` star-imports this file). As in
``nn/loss.py`` each Module stores and checks its options in ``__init__`` (so a
bad option fails when the loss is built, not at the first batch) and its
``forward`` calls the function, which has the formula in its docstring.
"""

from __future__ import annotations

import math

from tinygrad_opt.nn.functional_loss_more import (cosine_embedding_loss, gaussian_nll_loss,
                                                  hinge_embedding_loss, margin_ranking_loss,
                                                  multilabel_margin_loss,
                                                  multilabel_soft_margin_loss, poisson_nll_loss,
                                                  soft_margin_loss, triplet_margin_loss,
                                                  triplet_margin_with_distance_loss)
from tinygrad_opt.nn.loss import _Loss
from tinygrad_opt.tensor import Tensor

__all__ = [
    "MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss",
    "MultiLabelMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
    "PoissonNLLLoss", "GaussianNLLLoss", "CosineEmbeddingLoss",
]


class MarginRankingLoss(_Loss):
    """Ranking loss max(0, -y (x1 - x2) + margin), y in {1, -1}. See ``margin_ranking_loss``."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"

    def forward(self, input1: Tensor, input2: Tensor, target) -> Tensor:
        return margin_ranking_loss(input1, input2, target, self.margin,
                                   reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x where y = 1, max(0, margin - x) where y = -1. See ``hinge_embedding_loss``."""

    def __init__(self, margin: float = 1.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"

    def forward(self, input: Tensor, target) -> Tensor:
        return hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Logistic loss log(1 + exp(-y x)), y in {1, -1}, stable for any x.
    See ``soft_margin_loss``."""

    def forward(self, input: Tensor, target) -> Tensor:
        return soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """Multi-label logistic loss: binary cross-entropy on logits averaged over the C
    classes, optionally weighted per class. See ``multilabel_soft_margin_loss``."""

    def __init__(self, weight=None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self._store_vector("weight", weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return multilabel_soft_margin_loss(input, target, self.weight,
                                           reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss: every listed target class must score 1 above every other
    class; targets are class indices padded with -1. See ``multilabel_margin_loss``."""

    def forward(self, input: Tensor, target) -> Tensor:
        return multilabel_margin_loss(input, target, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)), d(x, y) = ||x - y + eps||_p.
    See ``triplet_margin_loss``."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p):
            raise ValueError(f"TripletMarginLoss: p must be a number, got {p!r}")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def extra_repr(self) -> str:
        return (f"margin={self.margin}, p={self.p}, eps={self.eps}, swap={self.swap}, "
                f"reduction={self.reduction!r}")

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps,
                                   self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """max(0, margin + d(a, p) - d(a, n)) with any distance d (Euclidean by default).
    See ``triplet_margin_with_distance_loss``."""

    def __init__(self, *, distance_function=None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(
                f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {margin}")
        self.distance_function = distance_function
        self.margin = margin
        self.swap = swap

    def extra_repr(self) -> str:
        name = getattr(self.distance_function, "__name__", repr(self.distance_function))
        return (f"distance_function={name}, margin={self.margin}, swap={self.swap}, "
                f"reduction={self.reduction!r}")

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood, exp(x) - y x on log-rates (or x - y log(x + eps) on
    rates), plus Stirling's log(y!) with ``full``. See ``poisson_nll_loss``."""

    def __init__(self, log_input: bool = True, full: bool = False,
                 size_average: bool | None = None, eps: float = 1e-8,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def extra_repr(self) -> str:
        return (f"log_input={self.log_input}, full={self.full}, eps={self.eps}, "
                f"reduction={self.reduction!r}")

    def forward(self, log_input: Tensor, target) -> Tensor:
        return poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps,
                                reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood 0.5 (log v + (x - y)² / v), v = max(var, eps).
    See ``gaussian_nll_loss``."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def extra_repr(self) -> str:
        return f"full={self.full}, eps={self.eps}, reduction={self.reduction!r}"

    def forward(self, input: Tensor, target, var) -> Tensor:
        return gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                 reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1.
    See ``cosine_embedding_loss``."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"

    def forward(self, input1: Tensor, input2: Tensor, target) -> Tensor:
        return cosine_embedding_loss(input1, input2, target, self.margin,
                                     reduction=self.reduction)
