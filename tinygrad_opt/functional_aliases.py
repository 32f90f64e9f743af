"""PyTorch's top-level copies of ``torch.nn.functional`` (``torch.conv2d``, ``torch.dropout``,
``torch.layer_norm``, ...), their in-place forms (``torch.relu_``, ``torch.dropout_``, ...),
``torch.range``, ``torch.poisson``, ``torch.split_with_sizes`` and a few settings.

Each alias is one call into the ``F.*`` function it copies: no math of its own, so its
values and gradients are F's. What differs is the signature, which is PyTorch's top-level
one, and it sometimes differs from F's:

* ``torch.dropout(input, p, train)`` and its siblings take ``train`` positionally, with no
  defaults and no ``inplace`` (the in-place form is ``torch.dropout_``);
* ``torch.batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
  eps, cudnn_enabled)`` puts weight and bias first (``instance_norm`` likewise);
* ``torch.embedding(weight, indices, padding_idx=-1, ...)`` takes the table first, and a
  negative ``padding_idx`` means none;
* the losses take ``reduction`` as PyTorch's enum, 0 = 'none', 1 = 'mean', 2 = 'sum' (the
  F spelling, a string, is accepted too), and no ``size_average`` / ``reduce``;
* ``torch.max_pool1d(input, kernel_size, stride=[])``: an empty stride means the kernel
  size; ``torch.adaptive_max_pool1d`` returns ``(values, indices)``.

``cudnn_enable`` / ``cudnn_enabled`` are accepted and change nothing (there is no cuDNN).

This module sits above ``nn`` (it imports ``nn.functional``), so the package does not
import it: ``tg.conv2d`` and the other names are found by ``tinygrad_opt.__getattr__`` when
first named, as the subpackages are.
"""

from __future__ import annotations

import math
import os
import warnings

from tinygrad_opt import backend, tensor_str
from tinygrad_opt.autograd.grad_mode import is_grad_enabled
from tinygrad_opt.functions import store_out
from tinygrad_opt.ops.conveniences import write_back
from tinygrad_opt.tensor import Tensor

import tinygrad_opt.nn.functional as F  # (this module sits above nn: tg.* reaches it lazily)

__all__: list = [
    # convolutions
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv_tbc",
    # dropout and its in-place forms
    "dropout", "dropout_", "alpha_dropout", "alpha_dropout_", "feature_dropout",
    "feature_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_",
    # normalization
    "layer_norm", "group_norm", "batch_norm", "instance_norm", "rms_norm",
    # embeddings, pooling, reshuffles, padding, sampling grids
    "embedding", "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
    "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d", "pixel_shuffle",
    "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "constant_pad_nd",
    "grid_sampler", "affine_grid_generator", "bilinear",
    # activations and their in-place forms
    "celu", "celu_", "selu", "selu_", "rrelu", "rrelu_", "prelu", "threshold", "threshold_",
    "relu_",
    # losses and distances
    "hinge_embedding_loss", "kl_div", "margin_ranking_loss", "cosine_embedding_loss",
    "triplet_margin_loss", "poisson_nll_loss", "binary_cross_entropy_with_logits", "ctc_loss",
    "pdist", "cosine_similarity", "pairwise_distance",
    # factories, sampling, splitting
    "range", "poisson", "split_with_sizes",
    # settings
    "get_num_threads", "set_num_threads", "use_deterministic_algorithms",
    "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
    "set_deterministic_debug_mode", "get_deterministic_debug_mode", "set_printoptions",
    "is_inference_mode_enabled",
]


# --- convolutions: PyTorch's top-level signatures are F's ---

def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """torch.conv1d: ``F.conv1d``, the same arguments."""
    return F.conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """torch.conv2d: ``F.conv2d``, the same arguments."""
    return F.conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """torch.conv3d: ``F.conv3d``, the same arguments."""
    return F.conv3d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """torch.conv_transpose1d: ``F.conv_transpose1d``, the same arguments."""
    return F.conv_transpose1d(input, weight, bias, stride, padding, output_padding,
                                          groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """torch.conv_transpose2d: ``F.conv_transpose2d``, the same arguments."""
    return F.conv_transpose2d(input, weight, bias, stride, padding, output_padding,
                                          groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """torch.conv_transpose3d: ``F.conv_transpose3d``, the same arguments."""
    return F.conv_transpose3d(input, weight, bias, stride, padding, output_padding,
                                          groups, dilation)


def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """torch.conv_tbc: ``F.conv_tbc``, a 1-D convolution of a (time, batch, channel) input."""
    return F.conv_tbc(input, weight, bias, pad)


# --- dropout: (input, p, train), all three required; ``name_`` writes into input ---

def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.dropout: ``F.dropout(input, p, training=train)``."""
    return F.dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.dropout_: ``F.dropout(input, p, train, inplace=True)``; returns input."""
    return F.dropout(input, p, train, inplace=True)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.alpha_dropout: ``F.alpha_dropout(input, p, training=train)``."""
    return F.alpha_dropout(input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.alpha_dropout_: ``F.alpha_dropout(input, p, train, inplace=True)``."""
    return F.alpha_dropout(input, p, train, inplace=True)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.feature_dropout: dropout of whole channels of an ``(N, C, *)`` input, one draw
    per (n, c), the kept channels scaled by 1/(1 − p). It is ``F.dropout2d`` of the input
    seen as ``(N, C, L, 1)``, L the product of the trailing sizes (1 for a 2-D input)."""
    if input.ndim < 2:
        raise RuntimeError(f"feature_dropout: feature dropout requires at least 2 dimensions "
                           f"(N, C, *) in the input, got shape {input.shape}")
    length = math.prod(input.shape[2:])
    as_maps = input.reshape(input.shape[0], input.shape[1], length, 1)   # (N, C, L, 1)
    return F.dropout2d(as_maps, p, train).reshape(input.shape)


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.feature_dropout_: ``feature_dropout`` written into input; returns input."""
    if not train:
        return input
    return write_back(input, feature_dropout, p, train)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.feature_alpha_dropout: ``F.feature_alpha_dropout(input, p, training=train)``."""
    return F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.feature_alpha_dropout_: ``F.feature_alpha_dropout(..., inplace=True)``."""
    return F.feature_alpha_dropout(input, p, train, inplace=True)


# --- normalization: weight and bias come before the running statistics ---

def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5,
               cudnn_enable: bool = True) -> Tensor:
    """torch.layer_norm: ``F.layer_norm`` (``cudnn_enable`` changes nothing)."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5,
               cudnn_enabled: bool = True) -> Tensor:
    """torch.group_norm: ``F.group_norm`` (``cudnn_enabled`` changes nothing)."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
               running_mean: Tensor | None, running_var: Tensor | None, training: bool,
               momentum: float, eps: float, cudnn_enabled: bool) -> Tensor:
    """torch.batch_norm: ``F.batch_norm(input, running_mean, running_var, weight, bias,
    training, momentum, eps)``, every argument required, as PyTorch's."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training,
                                    momentum, eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                  running_mean: Tensor | None, running_var: Tensor | None,
                  use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool) -> Tensor:
    """torch.instance_norm: ``F.instance_norm(input, running_mean, running_var, weight,
    bias, use_input_stats, momentum, eps)``, every argument required, as PyTorch's."""
    return F.instance_norm(input, running_mean, running_var, weight, bias,
                                       use_input_stats, momentum, eps)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """torch.rms_norm: ``F.rms_norm``, the same arguments."""
    return F.rms_norm(input, normalized_shape, weight, eps)


# --- embeddings, pooling, reshuffles, padding, sampling grids ---

def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """torch.embedding: ``F.embedding(indices, weight, ...)``, the table FIRST; a negative
    ``padding_idx`` (the default −1) means no padding row, as in PyTorch's."""
    padding = None if padding_idx < 0 else padding_idx
    return F.embedding(indices, weight, padding, None, 2.0, scale_grad_by_freq,
                                   sparse)


def _stride(stride):
    """PyTorch's empty default stride (``[]``) is None to F: the kernel size."""
    return None if isinstance(stride, (tuple, list)) and len(stride) == 0 else stride


def max_pool1d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """torch.max_pool1d: ``F.max_pool1d`` (no ``return_indices``)."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation,
                                    ceil_mode)


def max_pool2d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """torch.max_pool2d: ``F.max_pool2d`` (no ``return_indices``)."""
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation,
                                    ceil_mode)


def max_pool3d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
               ceil_mode: bool = False) -> Tensor:
    """torch.max_pool3d: ``F.max_pool3d`` (no ``return_indices``)."""
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation,
                                    ceil_mode)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode: bool = False) -> tuple:
    """torch.max_pool1d_with_indices: ``(values, indices)`` of ``F.max_pool1d``."""
    return F.max_pool1d_with_indices(input, kernel_size, _stride(stride), padding,
                                                 dilation, ceil_mode)


def avg_pool1d(input: Tensor, kernel_size, stride=(), padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """torch.avg_pool1d: ``F.avg_pool1d``, the same arguments."""
    return F.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode,
                                    count_include_pad)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """torch.adaptive_avg_pool1d: ``F.adaptive_avg_pool1d``."""
    return F.adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input: Tensor, output_size) -> tuple:
    """torch.adaptive_max_pool1d: ``(values, indices)``, always both, as PyTorch's
    top-level one (``F.adaptive_max_pool1d(..., return_indices=True)``)."""
    return F.adaptive_max_pool1d(input, output_size, True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """torch.pixel_shuffle: ``F.pixel_shuffle``."""
    return F.pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """torch.pixel_unshuffle: ``F.pixel_unshuffle``."""
    return F.pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """torch.channel_shuffle: ``F.channel_shuffle``."""
    return F.channel_shuffle(input, groups)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """torch.native_channel_shuffle: ``F.native_channel_shuffle``."""
    return F.native_channel_shuffle(input, groups)


def constant_pad_nd(input: Tensor, pad, value: float = 0) -> Tensor:
    """torch.constant_pad_nd: ``F.pad(input, pad, 'constant', value)``."""
    return F.pad(input, pad, "constant", value)


_INTERPOLATION_MODES = ("bilinear", "nearest", "bicubic")   # PyTorch's GridSamplerInterpolation
_PADDING_MODES = ("zeros", "border", "reflection")          # and GridSamplerPadding


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,
                 align_corners: bool) -> Tensor:
    """torch.grid_sampler: ``F.grid_sample`` with the modes as PyTorch's enums:
    interpolation 0 bilinear, 1 nearest, 2 bicubic; padding 0 zeros, 1 border,
    2 reflection."""
    if interpolation_mode not in (0, 1, 2) or padding_mode not in (0, 1, 2):
        raise ValueError(f"grid_sampler: interpolation_mode and padding_mode must be 0, 1 or 2, "
                         f"got {interpolation_mode!r} and {padding_mode!r}")
    return F.grid_sample(input, grid, _INTERPOLATION_MODES[interpolation_mode],
                                      _PADDING_MODES[padding_mode], align_corners)


def affine_grid_generator(theta: Tensor, size, align_corners: bool) -> Tensor:
    """torch.affine_grid_generator: ``F.affine_grid(theta, size, align_corners)``."""
    return F.affine_grid(theta, size, align_corners)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """torch.bilinear: ``F.bilinear``, y = x₁ᵀ A x₂ + b."""
    return F.bilinear(input1, input2, weight, bias)


# --- activations: no ``inplace``; the in-place form is ``name_`` ---

def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """torch.celu: ``F.celu``."""
    return F.celu(input, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """torch.celu_: ``F.celu_``, written into input."""
    return F.celu_(input, alpha)


def selu(input: Tensor) -> Tensor:
    """torch.selu: ``F.selu``."""
    return F.selu(input)


def selu_(input: Tensor) -> Tensor:
    """torch.selu_: ``F.selu_``, written into input."""
    return F.selu_(input)


def rrelu(input: Tensor, lower: float = 1 / 8, upper: float = 1 / 3,
          training: bool = False) -> Tensor:
    """torch.rrelu: ``F.rrelu`` (the slopes come from ``tg.manual_seed``'s generator:
    PyTorch's ``generator=`` is not taken)."""
    return F.rrelu(input, lower, upper, training)


def rrelu_(input: Tensor, lower: float = 1 / 8, upper: float = 1 / 3,
           training: bool = False) -> Tensor:
    """torch.rrelu_: ``F.rrelu_``, written into input."""
    return F.rrelu_(input, lower, upper, training)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """torch.prelu: ``F.prelu``."""
    return F.prelu(input, weight)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """torch.threshold: ``F.threshold``, y = x where x > threshold, else value."""
    return F.threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """torch.threshold_: ``F.threshold_``, written into input."""
    return F.threshold_(input, threshold, value)


def relu_(input: Tensor) -> Tensor:
    """torch.relu_: ``F.relu_``, max(x, 0) written into input."""
    return F.relu_(input)


# --- losses: ``reduction`` is PyTorch's enum, no size_average / reduce ---

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}   # at::Reduction


def _reduction(reduction, name: str) -> str:
    """F's reduction string of PyTorch's enum (0 none, 1 mean, 2 sum); a string as is."""
    if isinstance(reduction, str):
        return reduction
    if isinstance(reduction, bool) or reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 0 (none), 1 (mean) or 2 (sum), "
                         f"got {reduction!r}")
    return _REDUCTIONS[reduction]


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         reduction=1) -> Tensor:
    """torch.hinge_embedding_loss: ``F.hinge_embedding_loss``."""
    return F.hinge_embedding_loss(
        input, target, margin, reduction=_reduction(reduction, "hinge_embedding_loss"))


def kl_div(input: Tensor, target: Tensor, reduction=1, *, log_target: bool = False) -> Tensor:
    """torch.kl_div: ``F.kl_div`` (``log_target`` keyword-only, as PyTorch's)."""
    return F.kl_div(input, target, reduction=_reduction(reduction, "kl_div"),
                                log_target=log_target)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction=1) -> Tensor:
    """torch.margin_ranking_loss: ``F.margin_ranking_loss``."""
    return F.margin_ranking_loss(
        input1, input2, target, margin, reduction=_reduction(reduction, "margin_ranking_loss"))


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor,
                          margin: float = 0.0, reduction=1) -> Tensor:
    """torch.cosine_embedding_loss: ``F.cosine_embedding_loss``."""
    return F.cosine_embedding_loss(
        input1, input2, target, margin,
        reduction=_reduction(reduction, "cosine_embedding_loss"))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, reduction=1) -> Tensor:
    """torch.triplet_margin_loss: ``F.triplet_margin_loss``."""
    return F.triplet_margin_loss(
        anchor, positive, negative, margin, p, eps, swap,
        reduction=_reduction(reduction, "triplet_margin_loss"))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction) -> Tensor:
    """torch.poisson_nll_loss: ``F.poisson_nll_loss``, every argument required (eps
    before reduction), as PyTorch's."""
    return F.poisson_nll_loss(
        input, target, log_input, full, eps=eps,
        reduction=_reduction(reduction, "poisson_nll_loss"))


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None,
                                     reduction=1) -> Tensor:
    """torch.binary_cross_entropy_with_logits: ``F.binary_cross_entropy_with_logits``,
    with ``pos_weight`` before ``reduction``."""
    return F.binary_cross_entropy_with_logits(
        input, target, weight, pos_weight=pos_weight,
        reduction=_reduction(reduction, "binary_cross_entropy_with_logits"))


def ctc_loss(log_probs: Tensor, targets, input_lengths, target_lengths, blank: int = 0,
             reduction=1, zero_infinity: bool = False) -> Tensor:
    """torch.ctc_loss: ``F.ctc_loss``."""
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                                  _reduction(reduction, "ctc_loss"), zero_infinity)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """torch.pdist: ``F.pdist``, the p-norm distances between the rows, i < j."""
    return F.pdist(input, p)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """torch.cosine_similarity: ``F.cosine_similarity``."""
    return F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """torch.pairwise_distance: ``F.pairwise_distance``, ‖x₁ − x₂ + eps‖_p."""
    return F.pairwise_distance(x1, x2, p, eps, keepdim)


# --- factories, sampling, splitting ---

def range(start, end, step=1, *, out=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """torch.range (deprecated, and warns so): start + i·step for i = 0, …,
    ⌊(end − start)/step⌋, so ``end`` is INCLUDED when it is on the grid, unlike ``arange``
    and Python's ``range``. The default float dtype unless ``dtype``."""
    warnings.warn("tg.range is deprecated and will be removed in a future release because its "
                  "behavior is inconsistent with Python's range builtin. Instead, use "
                  "tg.arange, which produces values in [start, end).", UserWarning, stacklevel=2)
    if step == 0:
        raise RuntimeError("range: step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError(f"range: upper bound and lower bound inconsistent with step sign "
                           f"(start {start}, end {end}, step {step})")
    count = math.floor((end - start) / step) + 1
    dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
    xp = backend.get_xp(backend.check_device(device))
    values = xp.arange(count, dtype=backend.float64) * step + start     # (count,)
    result = Tensor._make(values.astype(dtype)).requires_grad_(requires_grad)
    return store_out(result, out, "range")


def poisson(input: Tensor, generator=None) -> Tensor:
    """torch.poisson: one sample of Poisson(λ) per element, λ = input (rates ≥ 0), in
    input's float dtype: P(k) = λᵏ e^(−λ) / k!. Drawn on the host by NumPy's Poisson
    sampler from ``tg.manual_seed``'s generator, or from ``generator`` (a ``tg.Generator``),
    then copied to input's device. No gradient (PyTorch attaches a zero one)."""
    if not isinstance(input, Tensor) or not backend.is_floating(input.dtype):
        raise TypeError(f"poisson: expected a floating-point Tensor of rates, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    rates = backend.to_host(input.data)
    if not (rates >= 0).all():
        raise ValueError("poisson: the rates must be non-negative and not NaN")
    rng = backend.host_rng() if generator is None else generator.numpy_rng
    counts = rng.poisson(rates).astype(input.dtype)                     # input's shape
    return Tensor._make(backend.to_device(counts, input.device))


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    """torch.split_with_sizes: input cut along ``dim`` into pieces of the listed sizes,
    which must add up to the dim's size (``input.split(list(split_sizes), dim)``)."""
    if not isinstance(split_sizes, (tuple, list)):
        raise TypeError(f"split_with_sizes: split_sizes must be a list of ints, got "
                        f"{type(split_sizes).__name__}")
    return input.split(list(split_sizes), dim)


# --- settings ---

_settings = {"num_threads": os.cpu_count() or 1, "deterministic": False, "warn_only": False}


def get_num_threads() -> int:
    """torch.get_num_threads: the number last given to ``set_num_threads`` (the CPU count
    at first). Only a record: NumPy's BLAS thread pool is not changed by it (set
    OMP_NUM_THREADS / OPENBLAS_NUM_THREADS before NumPy is imported for that)."""
    return _settings["num_threads"]


def set_num_threads(num: int) -> None:
    """torch.set_num_threads: record ``num`` (a positive int) for ``get_num_threads``.
    NumPy's BLAS threads are NOT changed (see ``get_num_threads``)."""
    if isinstance(num, bool) or not isinstance(num, int):
        raise TypeError(f"set_num_threads: expected an int, got {type(num).__name__}")
    if num <= 0:
        raise RuntimeError(f"set_num_threads: expects a positive integer, got {num}")
    _settings["num_threads"] = num


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """torch.use_deterministic_algorithms: record the flag. Every op here is already
    deterministic (given the seed), so nothing warns or raises either way."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {mode!r}")
    _settings["deterministic"] = mode
    _settings["warn_only"] = bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    """torch.are_deterministic_algorithms_enabled: the flag last set."""
    return _settings["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """torch.is_deterministic_algorithms_warn_only_enabled: the ``warn_only`` last set."""
    return _settings["warn_only"]


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode) -> None:
    """torch.set_deterministic_debug_mode: 0 / 'default' = off, 1 / 'warn' = on with
    ``warn_only``, 2 / 'error' = on (``use_deterministic_algorithms``)."""
    level = _DEBUG_MODES.get(debug_mode, debug_mode)
    if isinstance(level, bool) or level not in (0, 1, 2):
        raise RuntimeError(f"set_deterministic_debug_mode: invalid mode {debug_mode!r}, expected "
                           f"one of 0, 1, 2 or 'default', 'warn', 'error'")
    use_deterministic_algorithms(level > 0, warn_only=level == 1)


def get_deterministic_debug_mode() -> int:
    """torch.get_deterministic_debug_mode: 0 off, 1 warn only, 2 on."""
    if not _settings["deterministic"]:
        return 0
    return 1 if _settings["warn_only"] else 2


_PRINT_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
                   "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
                   "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """torch.set_printoptions: how Tensors print (tinygrad_opt/tensor_str.py; NumPy's own
    print options are left alone). ``profile`` 'default', 'short' or 'full' sets
    PyTorch's values first; the other arguments given then override. ``sci_mode``: True
    always scientific, False never, None (the default, and what every call without it
    goes back to) chosen from the values."""
    if profile is not None and profile not in _PRINT_PROFILES:
        raise ValueError(f"set_printoptions: unknown profile {profile!r}: expected 'default', "
                         f"'short' or 'full'")
    options = dict(_PRINT_PROFILES[profile]) if profile is not None else {}
    given = dict(precision=precision, threshold=threshold, edgeitems=edgeitems,
                 linewidth=linewidth)
    options.update({key: value for key, value in given.items() if value is not None})
    for key, value in options.items():
        setattr(tensor_str.PRINT_OPTS, key, value)
    tensor_str.PRINT_OPTS.sci_mode = sci_mode


def is_inference_mode_enabled() -> bool:
    """torch.is_inference_mode_enabled: True inside ``tg.inference_mode()``. That is
    ``tg.no_grad`` here, so this is also True inside ``no_grad`` (PyTorch's is not)."""
    return not is_grad_enabled()

