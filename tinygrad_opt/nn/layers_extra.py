"""More of PyTorch's layers, the module forms of nn/functional_extra.py (and of F.fold,
F.unfold): RMSNorm, Fold/Unfold, LPPool, MaxUnpool, ChannelShuffle, EmbeddingBag, the
remaining adaptive poolings, CTCLoss, FractionalMaxPool2d/3d; and AdaptiveLogSoftmaxWithLoss,
SyncBatchNorm (one process), RNNBase and LazyConv3d.

Each module keeps its options and calls its ``F`` function, where the math (and its
docstring) lives. Names, arguments, defaults, parameter names and reprs are PyTorch's.
"""

from __future__ import annotations

import numbers
from collections import namedtuple

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt._checks import whole_number
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.conv3d import Conv3d
from tinygrad_opt.nn.functional_conv import _pair, _single
from tinygrad_opt.nn.functional_conv3d import _triple
from tinygrad_opt.nn.functional_extra import EMBEDDING_BAG_MODES, _on_device
from tinygrad_opt.nn.functional_loss import _check_reduction
from tinygrad_opt.nn.layers import Linear
from tinygrad_opt.nn.lazy import _LazyConvMixin
from tinygrad_opt.nn.module import Module, ModuleList, Parameter, Sequential, empty_parameter
from tinygrad_opt.nn.normalization import _BatchNorm
from tinygrad_opt.nn.recurrent import _RNNBase
from tinygrad_opt.tensor import Tensor

__all__ = ["RMSNorm", "Fold", "Unfold", "LPPool1d", "LPPool2d", "MaxUnpool1d", "MaxUnpool2d",
           "ChannelShuffle", "EmbeddingBag", "AdaptiveMaxPool1d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool3d", "CTCLoss", "FractionalMaxPool2d", "FractionalMaxPool3d",
           "LPPool3d", "MaxUnpool3d",
           "AdaptiveLogSoftmaxWithLoss", "SyncBatchNorm", "RNNBase", "LazyConv3d"]


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
        if isinstance(normalized_shape, numbers.Integral):  # NumPy's ints too, as PyTorch
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(size) for size in normalized_shape)
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

    def forward(self, input: Tensor) -> Tensor:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


# ------------------------------------------------------------------------------- fold / unfold

class Unfold(Module):
    """im2col as a layer: every sliding window as a column (see :func:`F.unfold`).
    Shapes: (N, C, H, W) -> (N, C·kh·kw, L), or unbatched (C, H, W) -> (C·kh·kw, L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """col2im as a layer: columns summed back into an image of ``output_size``, where
    windows overlap (see :func:`F.fold`, the adjoint of unfold).
    Shapes: (N, C·kh·kw, L) -> (N, C, H, W), or unbatched (C·kh·kw, L) -> (C, H, W)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
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

    def forward(self, input: Tensor) -> Tensor:
        return F.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool2d(_LPPool):
    """Power-average pooling ``(Σ_window x^p)^(1/p)`` over kh×kw windows (see
    :func:`F.lp_pool2d`). Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


# ------------------------------------------------------------------------------------ unpooling

class _MaxUnpoolNd(Module):
    """What the unpoolings share (PyTorch's ``_MaxUnpoolNd``: the 1d, 2d and 3d ones are
    siblings, none a kind of another): their ``extra_repr``."""

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
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


class MaxUnpool2d(_MaxUnpoolNd):
    """Each pooled value back at the place its maximum came from, zeros elsewhere (see
    :func:`F.max_unpool2d`); ``forward(input, indices, output_size=None)`` with the
    indices of ``F.max_pool2d_with_indices``. Shapes: (N, C, H, W) -> (N, C, H', W')."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
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
    (for the max ones) ``return_indices``."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max over OL bins sized from the input (see :func:`F.adaptive_max_pool1d`); with
    ``return_indices=True`` the layer returns ``(y, indices)``, positions in L.
    Shapes: (N, C, L) or (C, L) -> (..., OL)."""

    def forward(self, input: Tensor):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Mean over an OD×OH×OW grid of bins sized from the input (see
    :func:`F.adaptive_avg_pool3d`). Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW).
    """

    def __init__(self, output_size):
        super().__init__(output_size)

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(_AdaptivePool):
    """Max over an OD×OH×OW grid of bins sized from the input (see
    :func:`F.adaptive_max_pool3d`); with ``return_indices=True`` the layer returns
    ``(y, indices)``, flat positions d·H·W + h·W + w in each (D, H, W) volume.
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW)."""

    def forward(self, input: Tensor):
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


# ------------------------------------------------------------------------------ channel shuffle

class ChannelShuffle(Module):
    """ShuffleNet's channel shuffle in ``groups`` (see :func:`F.channel_shuffle`).
    Shapes: (N, C, *) -> (N, C, *)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


# -------------------------------------------------------------------------------- embedding bag

class EmbeddingBag(Module):
    """A lookup table whose ``forward(input, offsets=None, per_sample_weights=None)``
    returns one reduced vector per bag of indices: the sum, mean (default) or max of
    their rows (see :func:`F.embedding_bag`). ``weight`` (num_embeddings, D) is
    initialised N(0, 1), as PyTorch; the row ``padding_idx`` starts at zero and its
    entries are left out of every bag. ``max_norm`` and ``scale_grad_by_freq`` are
    ``F.embedding_bag``'s; ``sparse`` is not supported.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Tensor | None = None,
                 include_last_offset: bool = False, padding_idx: int | None = None,
                 device=None, dtype=None):
        super().__init__()
        if sparse:
            raise NotImplementedError("EmbeddingBag: sparse=True is not supported: sparse "
                                      "gradients need sparse tensors, and there are none "
                                      "here (use sparse=False)")
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
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode,
                               per_sample_weights=per_sample_weights,
                               include_last_offset=self.include_last_offset,
                               padding_idx=self.padding_idx)                 # (B, D)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False,
                        padding_idx: int | None = None) -> "EmbeddingBag":
        """An EmbeddingBag whose weight is ``embeddings`` (N, D); frozen unless
        ``freeze=False``. The options are the constructor's, in PyTorch's order."""
        if embeddings.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: expected a 2-D tensor, got shape "
                             f"{embeddings.shape}")
        module = cls(embeddings.shape[0], embeddings.shape[1], max_norm=max_norm,
                     norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, mode=mode,
                     sparse=sparse, _weight=embeddings,
                     include_last_offset=include_last_offset, padding_idx=padding_idx)
        module.weight.requires_grad_(not freeze)
        return module

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq}"
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


# -------------------------------------------------------------- fractional and 3-D pooling

class _FractionalMaxPoolNd(Module):
    """What FractionalMaxPool2d and 3d share: the checked options, ``_random_samples`` as
    a buffer (as PyTorch), and the repr. ``dims`` and ``function`` are set by each."""

    dims = 2
    function = None

    def __init__(self, kernel_size, output_size=None, output_ratio=None,
                 return_indices: bool = False, _random_samples: Tensor | None = None):
        super().__init__()
        name = type(self).__name__
        convert = _pair if self.dims == 2 else _triple
        self.kernel_size = convert(kernel_size, "kernel_size", name)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = (None if output_size is None
                            else convert(output_size, "output_size", name))
        if output_ratio is not None and not isinstance(output_ratio, (tuple, list)):
            output_ratio = (output_ratio,) * self.dims                # one ratio for every dim
        self.output_ratio = None if output_ratio is None else tuple(output_ratio)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a "
                             "pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input: Tensor):
        return self.function(input, self.kernel_size, self.output_size,
                             self.output_ratio, self.return_indices,
                             _random_samples=self._random_samples)

    def extra_repr(self) -> str:
        size = (f"output_size={self.output_size}" if self.output_size is not None
                else f"output_ratio={self.output_ratio}")
        return f"kernel_size={self.kernel_size}, {size}"


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Max over kh×kw windows at pseudo-random starts, so that the output is exactly
    ``output_size`` (or ``⌊(H, W)·output_ratio⌋``) (see :func:`F.fractional_max_pool2d`).
    New samples are drawn at every call unless ``_random_samples`` (N, C, 2) is given (a
    buffer, as PyTorch). Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW)."""

    dims = 2
    function = staticmethod(F.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Max over kd×kh×kw windows at pseudo-random starts, so that the output is exactly
    ``output_size`` (or ``⌊(D, H, W)·output_ratio⌋``) (see :func:`F.fractional_max_pool3d`).
    New samples are drawn at every call unless ``_random_samples`` (N, C, 3) is given (a
    buffer, as PyTorch). Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW)."""

    dims = 3
    function = staticmethod(F.fractional_max_pool3d)


class LPPool3d(_LPPool):
    """Power-average pooling ``(Σ_window x^p)^(1/p)`` over kd×kh×kw windows (see
    :func:`F.lp_pool3d`). Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.lp_pool3d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class MaxUnpool3d(_MaxUnpoolNd):
    """Each pooled value back at the place its maximum came from, zeros elsewhere (see
    :func:`F.max_unpool3d`); ``forward(input, indices, output_size=None)`` with the
    indices of ``F.max_pool3d(..., return_indices=True)``.
    Shapes: (N, C, D, H, W) -> (N, C, D', H', W')."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _triple(kernel_size, "kernel_size", "MaxUnpool3d")
        self.stride = self.kernel_size if stride is None else _triple(stride, "stride",
                                                                      "MaxUnpool3d")
        self.padding = _triple(padding, "padding", "MaxUnpool3d")

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


# ----------------------------------------------------------------- adaptive log-softmax

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Efficient softmax approximation (Grave et al., 2017) for many classes.

    The classes are cut at ``cutoffs`` c_1 < ... < c_m into a shortlist [0, c_1) and
    clusters [c_i, c_{i+1}) (c_{m+1} = n_classes). The ``head`` (a Linear
    in_features -> c_1 + m) scores the shortlist classes and one entry per cluster;
    cluster i has its own ``tail[i]``, a Linear in_features -> in_features // div^(i+1)
    then a Linear to its c_{i+1} − c_i classes (no biases)::

        log p(y) = log softmax(head(x))[y]                                   y < c_1
        log p(y) = log softmax(head(x))[c_1 + i] + log softmax(tail_i(x))[y − c_i]

    ``forward(input, target)`` returns ``(output, loss)``: output[n] = log p(target[n])
    and loss = −mean(output); only the rows whose target is in a cluster go through its
    tail. ``log_prob(input)`` gives every class's log p (N, n_classes), ``predict(input)``
    its argmax. Shapes: input (N, in_features) or (in_features,), target (N,) or ().
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0,
                 head_bias: bool = False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (not all(whole_number(c) for c in cutoffs) or cutoffs != sorted(cutoffs)
                or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             f"n_classes-1 (got {cutoffs} for n_classes={n_classes})")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = [int(c) for c in cutoffs] + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            cluster_size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(
                Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                Linear(hidden, cluster_size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for projection in self.tail:
            for linear in projection:
                linear.reset_parameters()

    def forward(self, input: Tensor, target: Tensor) -> _ASMoutput:
        if target.ndim == 1:
            if input.ndim != 2:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: a 1-D target expects a 2-D "
                                   f"input, got an input of shape {input.shape}")
            if input.shape[0] != target.shape[0]:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: input of shape {input.shape} "
                                   f"and target of shape {target.shape} should have the same "
                                   "size in the batch dimension")
        elif target.ndim == 0:
            if input.ndim != 1:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: a 0-D target expects a 1-D "
                                   f"input, got an input of shape {input.shape}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target.ndim > 0
        x = input if batched else input.unsqueeze(0)                    # (N, in_features)
        targets = backend.to_host(target.data).reshape(-1).astype(backend.int64)  # (N,) host
        N = targets.shape[0]
        if N and (targets.min() < 0 or targets.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{targets.min()}, {targets.max()}] were found.")
        head_column = targets.copy()     # the head entry each row reads: its class or cluster
        output = tg.zeros(N, dtype=x.dtype, device=x.device)            # (N,)
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            in_cluster = (targets >= low) & (targets < high)
            if not in_cluster.any():
                continue
            head_column[in_cluster] = self.shortlist_size + i
            rows = _on_device(in_cluster.nonzero()[0], x)               # (R,)
            relative = _on_device(targets[in_cluster] - low, x)         # (R,)
            cluster_logprob = F.log_softmax(self.tail[i](x.index_select(0, rows)), dim=1)
            local = cluster_logprob.gather(1, relative.unsqueeze(1)).squeeze(1)  # (R,)
            output = output.index_add(0, rows, local)
        head_logprob = F.log_softmax(self.head(x), dim=1)               # (N, head_size)
        head_column = _on_device(head_column, x)
        output = output + head_logprob.gather(1, head_column.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _get_full_log_prob(self, x: Tensor, head_output: Tensor) -> Tensor:
        """log p of every class: the shortlist's from the head, each cluster's as its head
        entry plus the tail's log-softmax. (N, n_classes)."""
        head_logprob = F.log_softmax(head_output, dim=1)                # (N, head_size)
        pieces = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = F.log_softmax(self.tail[i](x), dim=1)     # (N, c_{i+1} − c_i)
            cluster_column = self.shortlist_size + i
            pieces.append(cluster_logprob + head_logprob[:, cluster_column:cluster_column + 1])
        return tg.cat(pieces, dim=1)

    def _batched(self, input: Tensor, method: str) -> tuple[Tensor, bool]:
        if input.ndim not in (1, 2) or input.shape[-1] != self.in_features:
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss.{method}: expected an input of shape "
                             f"(N, {self.in_features}) or ({self.in_features},), got "
                             f"{input.shape}")
        return (input, True) if input.ndim == 2 else (input.unsqueeze(0), False)

    def log_prob(self, input: Tensor) -> Tensor:
        """log p(c | x) for every class c: (N, n_classes), or (n_classes,) unbatched."""
        x, batched = self._batched(input, "log_prob")
        out = self._get_full_log_prob(x, self.head(x))
        return out if batched else out.squeeze(0)

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class, ``argmax_c log p(c | x)``: (N,), or () unbatched. A row
        whose head argmax is a shortlist class needs no tail (no tail class can beat it)."""
        x, batched = self._batched(input, "predict")
        with no_grad():
            head_output = self.head(x)
            output = head_output.argmax(dim=1)                          # (N,)
            in_tail = backend.to_host((output >= self.shortlist_size).data)
            if in_tail.any():
                rows = _on_device(in_tail.nonzero()[0], x)
                log_prob = self._get_full_log_prob(x.index_select(0, rows),
                                                   head_output.index_select(0, rows))
                output[rows] = log_prob.argmax(dim=1)                   # the tail rows
        return output if batched else output.squeeze(0)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, n_classes={self.n_classes}, "
                f"cutoffs={self.cutoffs[:-1]}, div_value={self.div_value}, "
                f"head_bias={self.head_bias}")


# -------------------------------------------------------------------------- SyncBatchNorm

class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over any ``(N, C, *)`` input, statistics per channel c over
    N and every other dim (the formula of ``_BatchNorm``)::

        y = (x − μ_c) / √(σ²_c + eps) · γ_c + β_c

    In PyTorch the statistics are also reduced across the processes of
    ``process_group``; here there is one process, so it is BatchNorm over any number of
    dims (``process_group`` is kept and unused). ``convert_sync_batchnorm`` swaps every
    BatchNorm of a model for one.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None,
                 device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        self.process_group = process_group

    def _check_input(self, x: Tensor) -> None:
        if x.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {x.ndim}D input "
                             f"of shape {x.shape})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: input of shape {x.shape} has {x.shape[1]} "
                             f"channels, the layer was built for {self.num_features}")

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every BatchNorm (1d/2d/3d, in any sub-module) replaced by a
        SyncBatchNorm holding the same Parameters, running statistics and mode; a
        BatchNorm ``module`` itself is returned replaced."""
        converted = module
        if isinstance(module, _BatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            if module.affine:
                converted.weight = module.weight
                converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
        for name, child in list(module.named_children()):
            # replaced where it stands (add_module would move it last: state_dict order)
            converted._set_entry("_modules", name,
                                 cls.convert_sync_batchnorm(child, process_group))
        return converted


# -------------------------------------------------------------------- RNNBase, LazyConv3d

RNNBase = _RNNBase  # PyTorch's name for the common base of RNN, LSTM and GRU


class LazyConv3d(_LazyConvMixin, Conv3d):
    """``nn.Conv3d`` whose ``in_channels`` is read from the first input
    ``(N, C, D, H, W)`` or ``(C, D, H, W)``; after the first call it is a Conv3d,
    initialised as Conv3d."""

    cls_to_become = Conv3d
    spatial_dims = 3

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)
