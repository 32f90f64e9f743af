"""More of PyTorch's layers, the module forms of nn/functional_extra.py (and of F.fold,
F.unfold): RMSNorm, Fold/Unfold, LPPool, MaxUnpool, ChannelShuffle, EmbeddingBag, the
remaining adaptive poolings and CTCLoss.

Each module keeps its options and calls its ``F`` function, where the math (and its
docstring) lives. Names, arguments, defaults, parameter names and reprs are PyTorch's.
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.functional_conv import _pair, _single
from tinygrad_opt.nn.functional_extra import EMBEDDING_BAG_MODES
from tinygrad_opt.nn.functional_loss import _check_reduction
from tinygrad_opt.nn.module import Module, Parameter, empty_parameter
from tinygrad_opt.tensor import Tensor

__all__ = ["RMSNorm", "Fold", "Unfold", "LPPool1d", "LPPool2d", "MaxUnpool1d", "MaxUnpool2d",
           "ChannelShuffle", "EmbeddingBag", "AdaptiveMaxPool1d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool3d", "CTCLoss"]


class RMSNorm(Module):
    """Root-mean-square normalisation over the last dims ``normalized_shape``::

        y = x / √(mean(x²) + eps) · γ

    (see :func:`F.rms_norm`). γ (``weight``, ones) has shape ``normalized_shape`` when
    ``elementwise_affine``; there is no bias. ``eps=None``: the input dtype's machine
    epsilon, as PyTorch.
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        if elementwise_affine:
            self.weight = empty_parameter(self.normalized_shape, device, dtype)
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


# ------------------------------------------------------------------------------- fold / unfold

class Unfold(Module):
    """im2col as a layer: every sliding window as a column (see :func:`F.unfold`).
    Shapes: (N, C, H, W) -> (N, C·kh·kw, L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """col2im as a layer: columns summed back into an image of ``output_size``, where
    windows overlap (see :func:`F.fold`, the adjoint of unfold).
    Shapes: (N, C·kh·kw, L) -> (N, C, H, W)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


# ------------------------------------------------------------------------- power-average pooling

class _LPPool(Module):
    """What LPPool1d and LPPool2d share: ``norm_type`` p and the window options."""

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    """Power-average pooling ``(Σ_window x^p)^(1/p)`` over windows of k positions (see
    :func:`F.lp_pool1d`). Shapes: (N, C, L) or (C, L) -> (..., OL)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.lp_pool1d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPool):
    """Power-average pooling ``(Σ_window x^p)^(1/p)`` over kh×kw windows (see
    :func:`F.lp_pool2d`). Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.lp_pool2d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


# ------------------------------------------------------------------------------------ unpooling

class MaxUnpool1d(Module):
    """Each pooled value back at the position its maximum came from, zeros elsewhere
    (see :func:`F.max_unpool1d`); ``forward(input, indices, output_size=None)`` with the
    indices of ``F.max_pool1d_with_indices``. Shapes: (N, C, L) -> (N, C, L')."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = (_single(kernel_size, "kernel_size", "MaxUnpool1d"),)
        self.stride = self.kernel_size if stride is None else (
            _single(stride, "stride", "MaxUnpool1d"),)
        self.padding = (_single(padding, "padding", "MaxUnpool1d"),)

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool2d(MaxUnpool1d):
    """Each pooled value back at the place its maximum came from, zeros elsewhere (see
    :func:`F.max_unpool2d`); ``forward(input, indices, output_size=None)`` with the
    indices of ``F.max_pool2d_with_indices``. Shapes: (N, C, H, W) -> (N, C, H', W')."""

    def __init__(self, kernel_size, stride=None, padding=0):
        Module.__init__(self)
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxUnpool2d")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride",
                                                                    "MaxUnpool2d")
        self.padding = _pair(padding, "padding", "MaxUnpool2d")

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


# ---------------------------------------------------------------------------- adaptive pooling

class _AdaptivePool(Module):
    """What the adaptive poolings share: the ``output_size`` they are asked for, and
    (for the max ones) ``return_indices``, which is not supported."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        if return_indices:
            raise NotImplementedError(f"{type(self).__name__}: return_indices=True is not "
                                      "supported")
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max over OL bins sized from the input (see :func:`F.adaptive_max_pool1d`).
    Shapes: (N, C, L) or (C, L) -> (..., OL)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_max_pool1d(x, self.output_size)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Mean over an OD×OH×OW grid of bins sized from the input (see
    :func:`F.adaptive_avg_pool3d`). Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW).
    """

    def __init__(self, output_size):
        super().__init__(output_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool3d(x, self.output_size)


class AdaptiveMaxPool3d(_AdaptivePool):
    """Max over an OD×OH×OW grid of bins sized from the input (see
    :func:`F.adaptive_max_pool3d`). Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW).
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_max_pool3d(x, self.output_size)


# ------------------------------------------------------------------------------ channel shuffle

class ChannelShuffle(Module):
    """ShuffleNet's channel shuffle in ``groups`` (see :func:`F.channel_shuffle`).
    Shapes: (N, C, *) -> (N, C, *)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        return F.channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


# -------------------------------------------------------------------------------- embedding bag

class EmbeddingBag(Module):
    """A lookup table whose ``forward(input, offsets=None, per_sample_weights=None)``
    returns one reduced vector per bag of indices: the sum, mean (default) or max of
    their rows (see :func:`F.embedding_bag`). ``weight`` (num_embeddings, D) is
    initialised N(0, 1), as PyTorch; the row ``padding_idx`` starts at zero and its
    entries are left out of every bag. ``max_norm``, ``scale_grad_by_freq`` and
    ``sparse`` are not supported.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Tensor | None = None,
                 include_last_offset: bool = False, padding_idx: int | None = None,
                 device=None, dtype=None):
        super().__init__()
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("EmbeddingBag: max_norm, scale_grad_by_freq and sparse "
                                      "are not supported")
        if mode not in EMBEDDING_BAG_MODES:
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"EmbeddingBag: padding_idx {padding_idx} must be within "
                                 f"num_embeddings {num_embeddings}")
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = empty_parameter((num_embeddings, embedding_dim), device, dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: weight of shape {_weight.shape} does not "
                                 f"match ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight.detach())

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0
            self.weight._version += 1

    def forward(self, input, offsets=None, per_sample_weights: Tensor | None = None) -> Tensor:
        return F.embedding_bag(input, self.weight, offsets, mode=self.mode,
                               per_sample_weights=per_sample_weights,
                               include_last_offset=self.include_last_offset,
                               padding_idx=self.padding_idx)                 # (B, D)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, mode: str = "mean",
                        include_last_offset: bool = False,
                        padding_idx: int | None = None) -> "EmbeddingBag":
        """An EmbeddingBag whose weight is ``embeddings`` (N, D); frozen unless
        ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: expected a 2-D tensor, got shape "
                             f"{embeddings.shape}")
        module = cls(embeddings.shape[0], embeddings.shape[1], mode=mode, _weight=embeddings,
                     include_last_offset=include_last_offset, padding_idx=padding_idx)
        module.weight.requires_grad_(not freeze)
        return module

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text


# -------------------------------------------------------------------------------------- CTC loss

class CTCLoss(Module):
    """Connectionist temporal classification loss (see :func:`F.ctc_loss`):
    ``forward(log_probs, targets, input_lengths, target_lengths)``, log_probs (T, N, C)
    from log_softmax. ``reduction='mean'`` divides each loss by its target length
    before averaging over the batch, as PyTorch."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__()
        _check_reduction("CTCLoss", reduction)
        self.blank = blank
        self.reduction = reduction
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Tensor, targets, input_lengths, target_lengths) -> Tensor:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)

    def extra_repr(self) -> str:
        return (f"blank={self.blank}, reduction={self.reduction!r}, "
                f"zero_infinity={self.zero_infinity}")
