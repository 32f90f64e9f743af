"""More layers, the module forms of nn/functional_more.py: padding, distances, resampling,
channel dropout, Unflatten, Bilinear, Softmax2d, instance and local response normalisation
(and its legacy form, CrossMapLRN2d).

Each module is a thin wrapper that keeps its options and calls its ``F`` function, where
the math (and its docstring) lives. Names, arguments, defaults and reprs are PyTorch's.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable

from tinygrad_opt import backend
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.layers import _DropoutNd
from tinygrad_opt.nn.module import Module, empty_parameter
from tinygrad_opt.nn.normalization import BatchNorm1d, register_norm_state
from tinygrad_opt.ops.elementwise import floating
from tinygrad_opt.ops.shape import normalize_dim
from tinygrad_opt.tensor import Tensor

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d", "CosineSimilarity", "PairwiseDistance", "Upsample",
           "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle",
           "Dropout1d", "Dropout2d", "AlphaDropout", "Unflatten", "Bilinear", "Softmax2d",
           "InstanceNorm1d", "InstanceNorm2d", "LocalResponseNorm", "CrossMapLRN2d"]


# ------------------------------------------------------------------------------------ padding

class _PadNd(Module):
    """Base of the padding layers: ``F.pad(x, self.padding, mode, value)``.

    ``padding`` is an int (the same amount on every side) or a tuple of 2·d amounts,
    (before, after) pairs starting from the last dim, as ``F.pad``."""

    mode = "constant"
    dims = 1

    def __init__(self, padding):
        super().__init__()
        count, name = 2 * self.dims, type(self).__name__
        if isinstance(padding, numbers.Integral):
            # any integer repeats (a NumPy one too: PyTorch repeats whatever is not iterable)
            amounts = (padding,) * count
        else:
            amounts = tuple(padding) if isinstance(padding, Iterable) else (padding,)
        if not all(isinstance(amount, numbers.Integral) for amount in amounts):
            raise TypeError(f"{name}: padding must be an int or a tuple of {count} ints, "
                            f"got {padding!r}")
        if len(amounts) != count:
            raise ValueError(f"{name}: padding must be an int or a tuple of {count} ints, "
                             f"got {amounts}")
        self.padding = amounts

    def forward(self, input: Tensor) -> Tensor:
        if self.mode == "circular" and input.ndim not in (self.dims + 1, self.dims + 2):
            # (PyTorch's circular modules check this themselves, with a ValueError)
            raise ValueError(f"{type(self).__name__}: expected a {self.dims + 1}-D or "
                             f"{self.dims + 2}-D input, got shape {input.shape}")
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    """Pads with a constant ``value``; any input with at least ``dims`` dims."""

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: (*, W) → (*, W + left + right); padding
    ``(left, right)`` or an int. Negative amounts crop."""
    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``: padding ``(left, right, top, bottom)`` or an int."""
    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``: padding
    ``(left, right, top, bottom, front, back)`` or an int."""
    dims = 3


class _ZeroPadNd(_ConstantPadNd):
    """Pads with zeros: ``ConstantPad`` with value 0."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros: padding ``(left, right)`` or an int."""
    dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last two dims with zeros: padding ``(left, right, top, bottom)`` or an int."""
    dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last three dims with zeros: padding ``(left, right, top, bottom, front, back)``
    or an int."""
    dims = 3


class ReflectionPad1d(_PadNd):
    """Mirror the last dim at its edges, the edge not repeated: [a b c] → c b [a b c] b a
    for padding 2. Input (C, W) or (N, C, W); each amount below W."""
    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Mirror the last two dims at their edges (the edge not repeated); input (C, H, W) or
    (N, C, H, W), padding ``(left, right, top, bottom)`` or an int."""
    mode, dims = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Mirror the last three dims at their edges; input (C, D, H, W) or (N, C, D, H, W)."""
    mode, dims = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dim: [a b c] → a a [a b c] c c for padding 2.
    Input (C, W) or (N, C, W)."""
    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last two dims; input (C, H, W) or (N, C, H, W)."""
    mode, dims = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Repeat the edge values of the last three dims; input (C, D, H, W) or (N, C, D, H, W)."""
    mode, dims = "replicate", 3


class CircularPad1d(_PadNd):
    """Wrap the last dim around: [a b c] → b c [a b c] a b for padding 2 (periodic
    signals). Input (C, W) or (N, C, W); each amount at most W."""
    mode, dims = "circular", 1


class CircularPad2d(_PadNd):
    """Wrap the last two dims around (a torus); input (C, H, W) or (N, C, H, W)."""
    mode, dims = "circular", 2


class CircularPad3d(_PadNd):
    """Wrap the last three dims around; input (C, D, H, W) or (N, C, D, H, W)."""
    mode, dims = "circular", 3


# ----------------------------------------------------------------------------------- distances

class CosineSimilarity(Module):
    """cos(x1, x2) = Σ (x1 / max(‖x1‖₂, eps)) · (x2 / max(‖x2‖₂, eps)) along ``dim``
    (``F.cosine_similarity``): (*₁, D, *₂) twice → (*₁, *₂). PyTorch's repr shows no
    options; neither does ours."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """‖x1 − x2 + eps‖_p along the last dim (``F.pairwise_distance``): (N, D) twice → (N,).
    PyTorch's repr shows no options; neither does ours."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


# ---------------------------------------------------------------------------------- resampling

class Upsample(Module):
    """Resample (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size`` or by ``scale_factor``
    with ``mode`` nearest, nearest-exact, linear, bilinear, bicubic, trilinear or area
    (``F.interpolate``: its docstring has the coordinate rules of each ``mode``)."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None):
        super().__init__()
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            return f"scale_factor={self.scale_factor!r}, mode={self.mode!r}"
        return f"size={self.size!r}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` for (N, C, H, W)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` for (N, C, H, W):
    the corner pixels of input and output line up."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r) with r = ``upscale_factor`` (``F.pixel_shuffle``):
    a convolution to C·r² channels followed by this upsamples without checkerboard
    artefacts (sub-pixel convolution, Shi et al., 2016)."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W) with r = ``downscale_factor``, the inverse of
    ``PixelShuffle`` (``F.pixel_unshuffle``)."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


# ------------------------------------------------------------------------------------- dropout

class Dropout1d(_DropoutNd):
    """Channel dropout for (N, C, L) or (C, L): in training each channel is zeroed as a whole
    with probability ``p`` and the others scaled by 1/(1 − p); identity in evaluation
    (``F.dropout1d``). Neighbouring values of a feature map are correlated, so dropping
    them one by one regularises little; dropping the whole channel does."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Channel dropout for (N, C, H, W): whole channel maps zeroed with probability ``p``,
    the others scaled by 1/(1 − p); identity in evaluation (``F.dropout2d``)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps the zero mean and unit variance of SELU networks: dropped values
    are set to SELU's negative limit and an affine map restores the statistics
    (``F.alpha_dropout``); identity in evaluation. ``inplace`` is kept and printed but, as
    in PyTorch's module, not passed on: the input is never overwritten."""

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


# ----------------------------------------------------------------------------------- structure

class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: ``Unflatten(1, (C, H, W))`` maps
    (N, C·H·W) → (N, C, H, W), undoing ``Flatten``. One size may be -1 (inferred)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"Unflatten: dim must be an int, got {dim!r}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(size, int) and not isinstance(size, bool)
                for size in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple or list of ints, got "
                            f"{unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        dim = normalize_dim(self.dim, input.ndim, "Unflatten")
        sizes = tuple(self.unflattened_size)
        known = math.prod(size for size in sizes if size != -1)
        length = input.shape[dim]
        fits = known == length if -1 not in sizes else known and length % known == 0
        if not fits or sizes.count(-1) > 1:
            raise ValueError(f"Unflatten: sizes {sizes} do not multiply up to the size "
                             f"{input.shape[dim]} of dim {dim} of the input of shape {input.shape}")
        return input.reshape(*input.shape[:dim], *sizes, *input.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Bilinear(Module):
    """y_k = x1ᵀ W_k x2 + b_k (``F.bilinear``): (*, in1) and (*, in2) → (*, out).

    W is ``(out_features, in1_features, in2_features)``, b is ``(out_features,)``;
    both start as U(−1/√in1, 1/√in1), PyTorch's initialisation. Every output is a
    weighted sum of the products x1_i·x2_j: a layer for two inputs that interact.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = empty_parameter((out_features, in1_features, in2_features), device, dtype)
        self.register_parameter("bias", empty_parameter((out_features,), device, dtype)
                                if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Softmax2d(Module):
    """Softmax over the channels at every spatial position: y = softmax(x, dim=−3) for
    (N, C, H, W) or (C, H, W). Per-pixel class probabilities in segmentation."""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                             f"got shape {input.shape}")
        return F.softmax(input, -3)


# ----------------------------------------------------------------------------- normalisation

class _InstanceNorm(Module):
    """Base of InstanceNorm1d/2d: each channel of each sample normalised over its spatial
    dims (``F.instance_norm``). ``affine=True`` learns γ (ones) and β (zeros) per channel;
    ``track_running_stats=True`` keeps running statistics (updated in training, used in
    evaluation), as PyTorch. Both default to False."""

    spatial = 1
    _version = BatchNorm1d._version  # the state-dict layout of PyTorch's norm layers
    _state_kept_when_missing = BatchNorm1d._state_kept_when_missing

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None):
        super().__init__()
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        register_norm_state(self, num_features, eps, momentum, affine, track_running_stats,
                            device, dtype)
        self.reset_parameters()  # (num_batches_tracked is kept, never counted: PyTorch)

    # BatchNorm's resets: running_mean = 0, running_var = 1, num_batches_tracked = 0 (when
    # tracked); γ = 1, β = 0 (when affine).
    reset_running_stats = BatchNorm1d.reset_running_stats
    reset_parameters = BatchNorm1d.reset_parameters

    def forward(self, input: Tensor) -> Tensor:
        name = type(self).__name__
        if input.ndim not in (self.spatial + 1, self.spatial + 2):
            raise ValueError(f"{name}: expected a {self.spatial + 1}-D or {self.spatial + 2}-D "
                             f"input, got shape {input.shape}")
        unbatched = input.ndim == self.spatial + 1
        channel_dim = 0 if unbatched else 1
        if input.shape[channel_dim] != self.num_features:
            message = (f"{name}: expected input's size at dim={channel_dim} to match "
                       f"num_features ({self.num_features}), but got: {input.shape[channel_dim]}")
            if self.affine:
                raise ValueError(message)
            warnings.warn(message + " (num_features is not used because affine=False)",
                          stacklevel=2)
        if unbatched:
            input = input.unsqueeze(0)                                   # (1, C, *)
        y = F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            0.0 if self.momentum is None else self.momentum, self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L) (Ulyanov et al., 2016)::

        y = (x − μ_nc) / √(σ²_nc + eps) · γ_c + β_c

    with the mean and biased variance of each sample's channel over L.
    """
    spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W): each image's channel
    normalised over H and W (``InstanceNorm1d`` has the formula). Style transfer's
    normalisation: it removes each image's own contrast."""
    spatial = 2


class LocalResponseNorm(Module):
    """y_c = x_c / (k + α/n · Σ_{n neighbouring channels c'} x_{c'}²)^β across channels
    (``F.local_response_norm``, AlexNet's lateral inhibition); input (N, C, *)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(Module):
    """PyTorch's legacy cross-channel LRN (Lua torch's SpatialCrossMapLRN), 4-D input only::

        y_c = x_c / (k + α/n · S_c)^β
        S_c = Σ_{c' = c − P + 1}^{c + P − 1} x_{c'}² + [c ≥ P]·x_0²    P = ⌊(n + 1)/2⌋

    with n = ``size`` and channels outside [0, C) counting as 0: a window of 2P − 1
    channels centred on c (n for an odd n, n − 1 for an even one). The ``[c ≥ P]·x_0²``
    term is what PyTorch's forward computes: its running sum adds channel c + P − 1 at
    each step but starts removing channel c − P only at c = P + 1, so channel 0 stays
    in every later sum. The values are PyTorch's; the gradient is the engine's, the
    exact derivative of these values (PyTorch's hand-written backward leaves that term
    out). ``LocalResponseNorm`` is the modern form (window c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋).
    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: expected a 4-D input (N, C, H, W), got shape "
                             f"{input.shape} ({input.ndim}-D)")
        channels, input = input.shape[1], floating(input)
        half = (self.size + 1) // 2 - 1                      # P − 1 channels on each side
        squares = input * input                                              # (N, C, H, W)
        padded = F.pad(squares, (0, 0, 0, 0, half, half))        # (N, C + 2·half, H, W)
        window = padded[:, 0:channels]
        for shift in range(1, 2 * half + 1):
            window = window + padded[:, shift:shift + channels]  # Σ over the 2P − 1 channels
        xp = backend.get_xp(input.device)
        late = xp.arange(channels).reshape(1, channels, 1, 1) >= half + 1    # c ≥ P
        stale = squares[:, 0:1] * Tensor(late.astype(input.dtype), device=input.device)
        return input / (self.k + self.alpha / self.size * (window + stale)) ** self.beta

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
