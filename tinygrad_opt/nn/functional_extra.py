"""More of PyTorch's ``nn.functional``: rms_norm, power-average pooling, max pooling with
indices and its inverse (max_unpool), channel_shuffle, gumbel_softmax, embedding_bag,
the remaining adaptive poolings (with their indices), the CTC loss, 2-D and 3-D fractional
max pooling, 3-D power-average pooling and unpooling, the time-batch-channel convolution
``conv_tbc``, the in-place activations (``relu_``, ...) and the deprecated ``upsample``
aliases. PyTorch's names, arguments, defaults.

Every function is a composition of Tensor ops, so its gradient comes from the engine;
none has a backward of its own (there is no ``EXTRA_NN_OPS`` table). Where a function
needs integer bookkeeping (which input a window's maximum came from, which rows form a
bag, which label a CTC state emits) it is done on index arrays, and the Tensor part is
then an indexing, a gather or a scatter, whose backward routes the gradient back.

``nn/functional.py`` star-imports this file (``F.ctc_loss`` is ``ctc_loss`` here), so this
file imports only the parts (``functional_conv``, ``functional_loss``) and the ops, never
``nn.functional`` itself. The layers are in ``nn/layers_extra.py``.
"""

from __future__ import annotations

import itertools
import math
import numbers
import warnings

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.nn.functional_conv import (_adaptive_reduce, _adaptive_sizes,
                                             _check_adaptive_input, _is_int, _pair, _single,
                                             check_adaptive_average_dtype,
                                             adaptive_bins, adaptive_max_pool2d, avg_pool1d,
                                             avg_pool2d,
                                             conv1d, max_pool1d, max_pool2d)
from tinygrad_opt.nn.functional_conv3d import _triple, avg_pool3d, max_pool3d
from tinygrad_opt.nn.functional_loss import REDUCTIONS, _check_reduction
from tinygrad_opt.nn.functional_primitives import _renorm_rows
from tinygrad_opt.nn.functional_more import interpolate
from tinygrad_opt.nn.im2col import window_argmax
from tinygrad_opt.ops.elementwise import floating
from tinygrad_opt.ops.shape import cat, normalize_dim, stack
from tinygrad_opt.ops.statistics import computed_in_float32
from tinygrad_opt.tensor import Tensor

__all__ = ["rms_norm", "lp_pool1d", "lp_pool2d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_unpool1d", "max_unpool2d", "channel_shuffle",
           "gumbel_softmax", "embedding_bag", "adaptive_max_pool1d", "adaptive_avg_pool3d",
           "adaptive_max_pool3d", "ctc_loss", "fractional_max_pool2d",
           "fractional_max_pool2d_with_indices", "lp_pool3d", "max_unpool3d",
           "upsample", "upsample_nearest", "upsample_bilinear", "max_pool3d_with_indices",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool3d_with_indices", "fractional_max_pool3d",
           "fractional_max_pool3d_with_indices", "conv_tbc"]


def _host_xp():
    """NumPy, for integer bookkeeping on the host (from ``backend``: no import here)."""
    return backend.get_xp("cpu")


def _on_device(array, like: Tensor) -> Tensor:
    """A constant Tensor (no grad) holding a host ``array`` on ``like``'s device."""
    return Tensor(backend.to_device(array, like.device), device=like.device)


def _batched(input: Tensor, spatial: int, op_name: str) -> tuple[Tensor, bool]:
    """``(N, C, *spatial)`` as it is, ``(C, *spatial)`` with a batch of one added.

    Returns the batched input and whether a batch dim was added (to drop it again)."""
    if input.ndim == spatial + 2:
        return input, False
    if input.ndim == spatial + 1:
        return input.unsqueeze(0), True
    layout = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)",
              3: "(N, C, D, H, W) or (C, D, H, W)"}[spatial]
    raise ValueError(f"{op_name}: expected a {spatial + 2}-D or {spatial + 1}-D input {layout}, "
                     f"got shape {input.shape}")


# ------------------------------------------------------------------------------ RMS normalisation

def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """Root-mean-square normalisation (Zhang & Sennrich, 2019) over the last dims::

        RMS(x) = √(mean(x²) + eps)        y = x / RMS(x) · γ

    the mean over the trailing ``normalized_shape`` dims of each sample. Unlike
    LayerNorm nothing is subtracted and there is no bias. ``eps=None`` is the machine
    epsilon of the input's dtype (``finfo(dtype).eps``, float16's for a float16 input,
    though it is computed in float32), as PyTorch.
    Shapes: input (*, *normalized_shape), weight γ ``normalized_shape`` -> input's shape.
    """
    if isinstance(normalized_shape, numbers.Integral):   # NumPy's ints too, as PyTorch
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(size) for size in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise ValueError(f"rms_norm: input of shape {input.shape} does not end with "
                         f"normalized_shape {normalized_shape}")
    if weight is not None and tuple(weight.shape) != normalized_shape:
        raise ValueError(f"rms_norm: weight of shape {weight.shape} does not match "
                         f"normalized_shape {normalized_shape}")
    if not backend.is_floating(input.dtype):  # finfo and the division need floats
        raise TypeError(f"rms_norm: expected a floating-point input, got {input.dtype}")
    if eps is None:
        eps = float(_host_xp().finfo(input.dtype).eps)   # before float16 becomes float32
    return _rms_norm(input, k, weight, eps)


@computed_in_float32
def _rms_norm(input: Tensor, k: int, weight: Tensor | None, eps: float) -> Tensor:
    """x / √(mean(x²) + eps) · γ over the last k dims (``rms_norm``, arguments checked)."""
    dims = tuple(range(input.ndim - k, input.ndim))
    mean_square = (input * input).mean(dim=dims, keepdim=True)  # (*, 1, ..., 1)
    y = input / (mean_square + eps).sqrt()
    return y if weight is None else y * weight  # γ broadcasts over the leading dims


# ------------------------------------------------------------------------ power-average pooling

def _lp_root(out: Tensor, window: int, norm_type: float) -> Tensor:
    """PyTorch's last step: ``(sign(out) · relu(|out|) · window) ^ (1/p)``.

    ``out`` is the window mean of x^p, so ``out · window`` is the window sum; the
    sign·relu(abs) factor is ``out`` itself, with a zero gradient where ``out = 0``
    (then the root's infinite slope would meet a zero, as in PyTorch)."""
    return (out.sign() * out.abs().relu() * window) ** (1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over windows of k positions::

        y[n, c, t] = (Σ_i x[n, c, t·s + i]^p)^(1/p)

    computed as PyTorch does: ``avg_pool1d(x^p, ceil_mode=...) · k``, then the p-th root
    (with ceil_mode a last, partial window is a mean over its elements times k, as in
    PyTorch). p = 1 is
    sum pooling, large p approaches max pooling (of |x| for even p). No padding;
    ``stride`` defaults to ``kernel_size``. Shapes: (N, C, L) or (C, L) -> (..., OL).
    """
    x, added = _batched(input, 1, "lp_pool1d")
    kernel = _single(kernel_size, "kernel_size", "lp_pool1d")
    out = avg_pool1d(floating(x) ** norm_type, kernel, stride, 0, ceil_mode)  # (N, C, OL)
    y = _lp_root(out, kernel, norm_type)
    return y.squeeze(0) if added else y


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over kh×kw windows::

        y[n, c, oh, ow] = (Σ_{i,j} x[n, c, oh·sh + i, ow·sw + j]^p)^(1/p)

    computed as PyTorch does: ``avg_pool2d(x^p, ceil_mode=...) · kh·kw``, then the p-th
    root. No
    padding; ``stride`` defaults to ``kernel_size``.
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW).
    """
    x, added = _batched(input, 2, "lp_pool2d")
    kh, kw = _pair(kernel_size, "kernel_size", "lp_pool2d")
    out = avg_pool2d(floating(x) ** norm_type, (kh, kw), stride, 0, ceil_mode)  # (.., OH, OW)
    y = _lp_root(out, kh * kw, norm_type)
    return y.squeeze(0) if added else y


# ----------------------------------------------------------------- max pooling with its indices

def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """Max pooling that also says where each maximum came from (PyTorch's name):
    ``F.max_pool2d(..., return_indices=True)``, whose docstring has the layout of the
    indices. Both are always returned (``return_indices`` is ignored, as in PyTorch)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode,
                      return_indices=True)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``F.max_pool1d(..., return_indices=True)`` (PyTorch's name): the maxima and the
    position in L each came from."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode,
                      return_indices=True)


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``F.max_pool3d(..., return_indices=True)`` (PyTorch's name): the maxima and the
    flat position in D·H·W each came from (``return_indices`` is ignored, as in PyTorch)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode,
                      return_indices=True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``F.adaptive_max_pool2d(..., return_indices=True)`` (PyTorch's name): the maxima
    and the flat position in H·W each came from (``return_indices`` is ignored)."""
    return adaptive_max_pool2d(input, output_size, return_indices=True)


def _unpool_output_size(input: Tensor, kernel: tuple, stride: tuple, padding: tuple,
                        output_size, op_name: str) -> tuple:
    """PyTorch's default ``(in − 1)·stride − 2·padding + kernel`` per spatial dim, or the
    given ``output_size`` (its last dims), which must lie strictly within ± stride of it."""
    spatial = len(kernel)
    default = tuple((size - 1) * s - 2 * p + k for size, k, s, p in
                    zip(input.shape[-spatial:], kernel, stride, padding))
    if output_size is None:
        return default
    if not hasattr(output_size, "__len__"):  # an int: PyTorch's len() of it fails too
        raise TypeError(f"{op_name}: output_size must be a sequence of {spatial} or "
                        f"{spatial + 2} ints, got {output_size!r}")
    output_size = tuple(output_size)
    if len(output_size) == spatial + 2 or (len(output_size) == spatial + 1
                                           and input.ndim == spatial + 1):
        output_size = output_size[-spatial:]
    if len(output_size) != spatial:
        raise ValueError(f"{op_name}: output_size must have {spatial} or {spatial + 2} "
                         f"elements, got {output_size}")
    for size, wanted, s in zip(default, output_size, stride):
        if not size - s < wanted < size + s:
            raise ValueError(f"{op_name}: invalid output_size {output_size} (the default is "
                             f"{default}; each size must be within ± stride {stride} of it)")
    return output_size


def _max_unpool(input: Tensor, indices: Tensor, out_sizes: tuple, op_name: str) -> Tensor:
    """Zeros of ``(N, C, *out_sizes)`` with each input value written at its flat index.
    As PyTorch, the indices must be int64 (what max_pool's ``return_indices`` gives)."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op_name}: indices must be an int64 tensor (from max_pool with "
                        f"return_indices), got {type(indices).__name__}")
    if indices.dtype != backend.int64:
        raise RuntimeError(f"{op_name}: elements in indices should be type int64 but got: "
                           f"{indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise ValueError(f"{op_name}: indices of shape {indices.shape} do not match the input "
                         f"of shape {input.shape}")
    plane = math.prod(out_sizes)
    if indices.data.size > 0:
        low, high = indices.data.min().item(), indices.data.max().item()
        if low < 0 or high >= plane:
            raise ValueError(f"{op_name}: found an invalid max index {low if low < 0 else high}"
                             f" (the output plane {out_sizes} has {plane} elements)")
    N, C = input.shape[:2]
    pooled = math.prod(input.shape[2:])                  # no -1: N may be 0 (PyTorch allows)
    zeros = tg.zeros((N, C, plane), dtype=input.dtype, device=input.device)
    flat = zeros.scatter(2, indices.reshape(N, C, pooled),
                         input.reshape(N, C, pooled))    # (N, C, P)
    return flat.reshape(N, C, *out_sizes)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of :func:`max_pool2d_with_indices`: each pooled value goes
    back to the place its maximum came from, every other place is 0::

        y[n, c].flat[idx[n, c, oh, ow]] = x[n, c, oh, ow]

    Output (H', W') = ``(H − 1)·stride − 2·padding + kernel`` per dim unless
    ``output_size`` is given (within ± stride of that). Gradient: each input value
    gets the output gradient at its index (a gather). ``stride`` defaults to
    ``kernel_size``. Shapes: (N, C, H, W) or (C, H, W) -> (..., H', W').
    """
    x, added = _batched(input, 2, "max_unpool2d")
    kernel = _pair(kernel_size, "kernel_size", "max_unpool2d")
    stride = kernel if stride is None else _pair(stride, "stride", "max_unpool2d")
    padding = _pair(padding, "padding", "max_unpool2d")
    sizes = _unpool_output_size(input, kernel, stride, padding, output_size, "max_unpool2d")
    if added and isinstance(indices, Tensor):
        indices = indices.unsqueeze(0)
    y = _max_unpool(x, indices, sizes, "max_unpool2d")
    return y.squeeze(0) if added else y


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of :func:`max_pool1d_with_indices`:
    ``y[n, c, idx[n, c, t]] = x[n, c, t]``, zeros elsewhere; output length
    ``(L − 1)·stride − 2·padding + kernel`` unless ``output_size`` is given.
    Shapes: (N, C, L) or (C, L) -> (..., L')."""
    x, added = _batched(input, 1, "max_unpool1d")
    kernel = (_single(kernel_size, "kernel_size", "max_unpool1d"),)
    stride = kernel if stride is None else (_single(stride, "stride", "max_unpool1d"),)
    padding = (_single(padding, "padding", "max_unpool1d"),)
    sizes = _unpool_output_size(input, kernel, stride, padding, output_size, "max_unpool1d")
    if added and isinstance(indices, Tensor):
        indices = indices.unsqueeze(0)
    y = _max_unpool(x, indices, sizes, "max_unpool1d")
    return y.squeeze(0) if added else y


# -------------------------------------------------------------------------------- adaptive pooling

def _adaptive_max_with_indices(x: Tensor, out_sizes: tuple) -> tuple[Tensor, Tensor]:
    """Each adaptive bin's maximum and its flat index in x's spatial plane: the first
    maximum, or the last NaN of a bin holding NaNs (PyTorch's kernel, ``window_argmax``).

    x ``(N, C, *sizes)``; the bins of each spatial dim are :func:`adaptive_bins`. The
    argmax is taken on the arrays (no graph), bin by bin, and the winner's index read
    from a plane that holds every position's own flat index (``l`` in 1-D,
    ``d·H·W + h·W + w`` in 3-D, as PyTorch). y is then x gathered at those indices, so
    the whole gradient of a bin goes to that element, as in PyTorch.
    Returns y and the int64 indices, both ``(N, C, *out_sizes)``.
    """
    xp = backend.xp_of(x.data)
    N, C, *sizes = x.shape
    plane = math.prod(sizes)
    positions = xp.arange(plane, dtype=backend.int64).reshape(sizes)     # flat index of each
    indices = xp.empty((N, C, *out_sizes), dtype=backend.int64)
    bins = [list(enumerate(adaptive_bins(size, out))) for size, out in zip(sizes, out_sizes)]
    for cell in itertools.product(*bins):                                # one bin per output
        out_index = tuple(i for i, _ in cell)
        box = tuple(slice(start, end) for _, (start, end) in cell)
        count = math.prod(end - start for _, (start, end) in cell)
        window = x.data[(slice(None), slice(None)) + box].reshape(N, C, count)  # (N, C, count)
        where_from = positions[box].reshape(count, 1)                   # (count, 1)
        indices[(Ellipsis,) + out_index] = window_argmax(
            window.reshape(N, C, count, 1), where_from, xp)[:, :, 0]     # (N, C)
    indices = Tensor(indices, device=x.device)
    outputs = math.prod(out_sizes)                                       # no -1: N may be 0
    y = x.reshape(N, C, plane).gather(2, indices.reshape(N, C, outputs))  # (N, C, outputs)
    return y.reshape(N, C, *out_sizes), indices


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over each of OL bins: ``y[n, c, i] = max x[n, c, floor(i·L/OL):ceil((i+1)·L/OL)]``
    (the bins of ``adaptive_avg_pool1d``; ties share the gradient).

    ``return_indices=True`` returns ``(y, indices)``, ``indices[n, c, i]`` the position l of
    the bin's first maximum or last NaN (int64, what ``F.max_unpool1d`` takes); y is then
    read from x there, so the whole gradient goes to that element, as in PyTorch.
    Shapes: (N, C, L) or (C, L) -> (..., OL), twice with indices.
    """
    (OL,) = _adaptive_sizes(input, output_size, 1, "adaptive_max_pool1d")
    if return_indices:
        x, added = _batched(input, 1, "adaptive_max_pool1d")
        y, indices = _adaptive_max_with_indices(x, (OL,))
        return (y.squeeze(0), indices.squeeze(0)) if added else (y, indices)
    return _adaptive_reduce(input, OL, -1, "max")                        # (..., OL)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``F.adaptive_max_pool1d(..., return_indices=True)`` (PyTorch's name): the maxima
    and the position in L each came from (``return_indices`` is ignored)."""
    return adaptive_max_pool1d(input, output_size, return_indices=True)


def _adaptive_sizes_3d(input: Tensor, output_size, op_name: str) -> tuple[int, int, int]:
    """``(OD, OH, OW)``: an int is repeated, None keeps the input's size in that dim
    (NumPy integers count as ints, as in PyTorch's int lists)."""
    if input.ndim not in (4, 5):
        raise ValueError(f"{op_name}: expected a 5-D or 4-D input (N, C, D, H, W) or "
                         f"(C, D, H, W), got shape {input.shape}")
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 3
    if len(sizes) != 3 or not all(
            size is None or (_is_int(size) and size > 0) for size in sizes):
        raise ValueError(f"{op_name}: output_size must be a positive int or 3 of them "
                         f"(None keeps that size), got {output_size!r}")
    _check_adaptive_input(input, 3, op_name)
    return tuple(input.shape[dim] if size is None else int(size)
                 for dim, size in zip((-3, -2, -1), sizes))


def _adaptive_pool3d(input: Tensor, output_size, reduce: str, op_name: str) -> Tensor:
    """Reduce each of OD×OH×OW bins one axis at a time (a box's mean is the mean of
    means, its max the max of maxima)."""
    y = input
    for dim, size in zip((-3, -2, -1), _adaptive_sizes_3d(input, output_size, op_name)):
        y = _adaptive_reduce(y, size, dim, reduce)
    return y                                                             # (..., OD, OH, OW)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Mean over each of OD×OH×OW bins (per dim the bins of ``adaptive_avg_pool1d``).
    ``output_size``: an int, or 3 ints (None keeps that size).
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW)."""
    check_adaptive_average_dtype(input, "adaptive_avg_pool3d")
    return _adaptive_pool3d(input, output_size, "mean", "adaptive_avg_pool3d")


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Max over each of OD×OH×OW bins (per dim the bins of ``adaptive_avg_pool1d``; ties
    share the gradient).

    ``return_indices=True`` returns ``(y, indices)``, ``indices[n, c, i, j, l] =
    d·H·W + h·W + w`` of the bin's first maximum or last NaN (int64, flat in the (D, H, W)
    volume as PyTorch; what ``F.max_unpool3d`` takes); y is then read from x there, so the
    whole gradient goes to that element, as in PyTorch.
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW), twice with indices."""
    if return_indices:
        out_sizes = _adaptive_sizes_3d(input, output_size, "adaptive_max_pool3d")
        x, added = _batched(input, 3, "adaptive_max_pool3d")
        y, indices = _adaptive_max_with_indices(x, out_sizes)
        return (y.squeeze(0), indices.squeeze(0)) if added else (y, indices)
    return _adaptive_pool3d(input, output_size, "max", "adaptive_max_pool3d")


def adaptive_max_pool3d_with_indices(input: Tensor, output_size,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``F.adaptive_max_pool3d(..., return_indices=True)`` (PyTorch's name): the maxima
    and the flat position in D·H·W each came from (``return_indices`` is ignored)."""
    return adaptive_max_pool3d(input, output_size, return_indices=True)


# -------------------------------------------------------------------------------- channel shuffle

def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle: view the C channels as a (groups, C/groups) grid and
    read it column by column::

        y[n, j·groups + g] = x[n, g·(C/groups) + j]

    A reshape, a transpose and a reshape (the gradient is the inverse permutation).
    Shapes: (N, C, *) -> (N, C, *), at least 3 dims.
    """
    if input.ndim < 3:
        raise ValueError(f"channel_shuffle: expected an input with at least 3 dims "
                         f"(N, C, *), got shape {input.shape}")
    N, C = input.shape[:2]
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"channel_shuffle: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    if C % groups != 0:
        raise ValueError(f"channel_shuffle: the {C} channels of an input of shape "
                         f"{input.shape} are not divisible by groups {groups}")
    grid = input.reshape(N, groups, C // groups, *input.shape[2:])     # (N, g, C/g, *)
    return grid.transpose(1, 2).reshape(input.shape)                   # (N, C, *)


# --------------------------------------------------------------------------------- gumbel softmax

def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """A differentiable sample from the categorical distribution ``softmax(logits)``
    (Jang et al., 2017)::

        g = −log E,   E ~ Exponential(1)      (g ~ Gumbel(0, 1), one per element)
        y = softmax((logits + g) / τ)         along ``dim``

    The noise comes from the backend's seeded generator (``tg.manual_seed``). With
    ``hard=True`` the value is the one-hot of argmax y, with y's gradient (the
    straight-through estimator): ``y_hard − y.detach() + y``. ``eps`` is unused
    (deprecated in PyTorch too).
    """
    if tau <= 0:
        raise ValueError(f"gumbel_softmax: tau must be positive, got {tau}")
    dim = normalize_dim(dim, logits.ndim, "gumbel_softmax")
    uniform = backend.random_uniform(logits.shape, backend.float64, logits.device)  # [0, 1)
    xp = backend.xp_of(uniform)
    exponential = -xp.log1p(-uniform)                   # E = −log(1 − U) ~ Exponential(1)
    gumbels = (-xp.log(exponential)).astype(logits.dtype)   # g = −log E ~ Gumbel(0, 1)
    y_soft = ((logits + Tensor(gumbels, device=logits.device)) / tau).softmax(dim)
    if not hard:
        return y_soft
    best = xp.expand_dims(y_soft.data.argmax(axis=dim), dim)             # (.., 1, ..)
    positions = xp.arange(logits.shape[dim]).reshape(
        [-1 if axis == dim else 1 for axis in range(logits.ndim)])      # along dim only
    y_hard = Tensor((positions == best).astype(logits.dtype), device=logits.device)
    return y_hard - y_soft.detach() + y_soft             # value y_hard, gradient of y_soft


# ---------------------------------------------------------------------------------- embedding bag

EMBEDDING_BAG_MODES = ("sum", "mean", "max")


def _bags(input, offsets, include_last_offset: bool) -> tuple:
    """Host-side layout of the bags: ``(rows, valid)``, both ``(B, L)``, with ``rows`` the
    indices of each bag padded to the longest, ``valid`` False at the padding, and
    ``positions`` ``(B, L)``, each entry's place in the flattened input."""
    xp = _host_xp()
    indices = backend.to_host(input.data).astype(backend.int64)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None for a 2-D input (a batch of "
                             f"bags of equal length), got offsets of type {type(offsets)}")
        B, L = indices.shape
        positions = xp.arange(B * L).reshape(B, L)
        return indices, xp.ones((B, L), dtype=bool), positions
    if input.ndim != 1:
        raise ValueError(f"embedding_bag: input must be 1-D (with offsets) or 2-D, got shape "
                         f"{input.shape}")
    if offsets is None:
        raise ValueError("embedding_bag: offsets has to be a 1-D tensor for a 1-D input, "
                         "got None")
    offsets = xp.asarray(backend.to_host(getattr(offsets, "data", offsets)))
    if offsets.size and offsets.dtype.kind not in "iu":   # (a float offset would truncate)
        raise TypeError(f"embedding_bag: offsets must hold integers, got dtype "
                        f"{offsets.dtype}")
    offsets = offsets.astype(backend.int64)
    if offsets.ndim != 1 or (include_last_offset and offsets.size == 0):
        raise ValueError(f"embedding_bag: offsets has to be a 1-D tensor, got shape "
                         f"{offsets.shape}")
    starts = offsets[:-1] if include_last_offset else offsets
    ends = offsets[1:] if include_last_offset else xp.append(offsets[1:], indices.size)
    if starts.size and (starts[0] != 0 or (xp.diff(offsets) < 0).any()
                        or offsets.max() > indices.size):
        raise ValueError(f"embedding_bag: offsets {offsets.tolist()} must start at 0, not "
                         f"decrease and stay within the {indices.size} indices")
    L = max(int((ends - starts).max(initial=0)), 1)         # at least one slot per bag
    positions = starts[:, None] + xp.arange(L)              # (B, L)
    valid = positions < ends[:, None]
    positions = xp.where(valid, positions, 0)
    rows = indices[positions] if indices.size else xp.zeros(positions.shape, dtype=backend.int64)
    return rows, valid, positions


def embedding_bag(input, weight: Tensor, offsets=None, max_norm=None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxima of bags of embeddings, without building the ``(*, D)`` rows
    of ``embedding`` first (in PyTorch; here they are gathered, then reduced)::

        y[b] = Σ_{i ∈ bag b} w_i · weight[input[i]]      mode='sum' (w = per_sample_weights, or 1)
        y[b] = mean_{i ∈ bag b} weight[input[i]]         mode='mean'
        y[b] = max_{i ∈ bag b} weight[input[i]]          mode='max' (per coordinate)

    Bags: a 2-D ``input`` (B, L) is B bags of L indices; a 1-D ``input`` is cut at
    ``offsets`` (bag b = input[offsets[b]:offsets[b+1]]; with ``include_last_offset``
    offsets has B + 1 entries, the last one the end). Entries equal to ``padding_idx``
    are left out (not counted by the mean); an empty bag gives zeros.
    Shapes: weight (num_embeddings, D) -> (B, D).

    As PyTorch: ``max`` takes, per coordinate, the first entry of the bag holding the
    largest value, and that entry alone gets the gradient (ties are not shared).
    ``max_norm`` renormalises the looked-up rows in place first, as ``embedding``'s;
    ``scale_grad_by_freq`` (sum and mean; max ignores it) divides each entry's gradient
    by the number of times its index occurs in ``input``.
    """
    if sparse:
        raise NotImplementedError("embedding_bag: sparse=True is not supported: sparse "
                                  "gradients need sparse tensors, and there are none here "
                                  "(use sparse=False)")
    if mode not in EMBEDDING_BAG_MODES:
        raise ValueError(f"embedding_bag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights is only supported for "
                                  f"mode='sum' (got mode={mode!r})")
    if not isinstance(input, Tensor):
        input = tg.tensor(backend.to_host(input), device=weight.device)
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding_bag: input must hold integer indices, got {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding_bag: weight must be 2-D (num_embeddings, D), got shape "
                         f"{weight.shape}")
    count = weight.shape[0]
    if padding_idx is not None:
        if not -count <= padding_idx < count:
            raise ValueError(f"embedding_bag: padding_idx {padding_idx} must be within "
                             f"num_embeddings {count}")
        padding_idx %= count
    rows, valid, positions = _bags(input, offsets, include_last_offset)  # (B, L) each
    if valid.any() and (rows[valid].min() < 0 or rows[valid].max() >= count):
        bad = rows[valid][(rows[valid] < 0) | (rows[valid] >= count)][0]
        raise IndexError(f"embedding_bag: index {bad} is out of range for {count} embeddings")
    looked_up = rows[valid]                                  # padding entries included
    if max_norm is not None:
        _renorm_rows(weight, _on_device(looked_up, weight), max_norm, norm_type)
    if padding_idx is not None:
        valid = valid & (rows != padding_idx)
    rows = _host_xp().where(valid, rows, 0)
    vectors = weight[_on_device(rows, weight)]                            # (B, L, D)
    keep = _on_device(valid[:, :, None], weight)                          # (B, L, 1)
    if scale_grad_by_freq and mode != "max":  # value v̄ + (v − v̄)·s = v, gradient times s
        frequency = _host_xp().bincount(looked_up, minlength=count)       # (num_embeddings,)
        scale = 1.0 / _host_xp().maximum(frequency[rows], 1)             # (B, L)
        fixed = vectors.detach()
        vectors = fixed + (vectors - fixed) * _on_device(
            scale[:, :, None].astype(weight.dtype), weight)
    if per_sample_weights is not None:
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: per_sample_weights of shape "
                             f"{per_sample_weights.shape} must have the input's shape "
                             f"{input.shape}")
        scale = per_sample_weights.reshape(-1)[_on_device(positions, weight)]  # (B, L)
        vectors = vectors * scale.unsqueeze(-1)
    sizes = valid.sum(axis=1, keepdims=True).astype(weight.dtype)          # (B, 1)
    if mode == "max":
        candidates = tg.where(keep, vectors, -math.inf)                   # (B, L, D)
        first = backend.xp_of(candidates.data).argmax(candidates.data, axis=1)  # first max
        largest = candidates.gather(1, Tensor(first[:, None, :], device=weight.device))
        return tg.where(_on_device(sizes > 0, weight), largest.squeeze(1), 0.0)  # empty: 0
    total = tg.where(keep, vectors, 0.0).sum(dim=1)                        # (B, D)
    if mode == "sum":
        return total
    return total / _on_device(_host_xp().maximum(sizes, 1), weight)       # (B, D)


# -------------------------------------------------------------------------------------- CTC loss

CTC_IMPOSSIBLE = -1e30  # log α of a state no path reaches: finite, so no −inf − (−inf)


def _host_lengths(lengths, count: int, name: str):
    """Lengths (a tensor, a list or an int) as a host int64 array of ``count`` entries."""
    lengths = backend.to_host(getattr(lengths, "data", lengths))
    lengths = _host_xp().asarray(lengths).astype(backend.int64).reshape(-1)
    if lengths.size != count:
        raise ValueError(f"ctc_loss: {name} must have one entry per batch element ({count}), "
                         f"got {lengths.size}")
    return lengths


def _ctc_labels(targets, target_lengths, N: int) -> list:
    """The label sequence of each sample, from padded (N, S) or concatenated targets."""
    targets = backend.to_host(getattr(targets, "data", targets))
    if targets.ndim == 2:
        if targets.shape[0] != N or (target_lengths > targets.shape[1]).any():
            raise ValueError(f"ctc_loss: padded targets of shape {targets.shape} need {N} "
                             f"rows and at least max(target_lengths) = "
                             f"{target_lengths.max(initial=0)} columns")
        return [targets[n, :length] for n, length in enumerate(target_lengths)]
    if targets.ndim != 1 or targets.size < target_lengths.sum():
        raise ValueError(f"ctc_loss: targets must be (N, S) padded or 1-D concatenated with "
                         f"sum(target_lengths) = {target_lengths.sum()} labels, got shape "
                         f"{targets.shape}")
    ends = target_lengths.cumsum()
    return [targets[end - length:end] for end, length in zip(ends, target_lengths)]


def _shift(alpha: Tensor, k: int) -> Tensor:
    """α moved k states to the right, ``CTC_IMPOSSIBLE`` coming in: out[:, s] = α[:, s − k]."""
    N, states = alpha.shape
    k = min(k, states)
    wall = tg.full((N, k), CTC_IMPOSSIBLE, dtype=alpha.dtype, device=alpha.device)
    return cat([wall, alpha[:, :states - k]], dim=1)                     # (N, S')


def ctc_loss(log_probs: Tensor, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss (Graves et al., 2006): −log of the
    total probability of every alignment that collapses to the target.

    The target l (length U) is extended with blanks, l' = (∅, l1, ∅, l2, …, lU, ∅) of
    length 2U + 1, and the forward variables α (log space) run over time::

        α_0(s) = log_probs[0, l'_s]                                  s ∈ {0, 1}
        α_t(s) = logsumexp(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2)) + log_probs[t, l'_s]

    where the s−2 term (skipping a blank) is allowed only when l'_s is not blank and
    l'_s ≠ l'_{s−2}. loss = −logsumexp(α_{T−1}(2U), α_{T−1}(2U − 1)). Each step is
    Tensor ops (shifts, where, stack, logsumexp), so the gradient comes from the
    engine. A state no path reaches holds ``CTC_IMPOSSIBLE`` instead of −inf, and so
    does a log-probability of −inf (or below it), so logsumexp never meets an all −inf
    column (its gradient would be NaN).

    log_probs (T, N, C) or (T, C), normally from ``log_softmax``; targets (N, S)
    padded or 1-D concatenated, holding no blank; input_lengths and target_lengths
    (N,). A target that no alignment can produce (T_n < U + number of repeated
    neighbours, or every alignment reads a log-probability of −inf) has loss inf, or 0
    with ``zero_infinity``, and gradient 0.
    reduction 'mean': each loss divided by its target length (at least 1), then
    the batch mean; 'sum'; 'none' (N,).
    """
    _check_reduction("ctc_loss", reduction, REDUCTIONS)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)                                 # (T, 1, C)
        targets = backend.to_host(getattr(targets, "data", targets)).reshape(1, -1)
    if log_probs.ndim != 3:
        raise ValueError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got shape "
                         f"{log_probs.shape}")
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise ValueError(f"ctc_loss: blank {blank} must be a class index in [0, {C})")
    input_lengths = _host_lengths(input_lengths, N, "input_lengths")
    target_lengths = _host_lengths(target_lengths, N, "target_lengths")
    if (input_lengths < 0).any() or (input_lengths > T).any() or (target_lengths < 0).any():
        raise ValueError(f"ctc_loss: input_lengths {input_lengths.tolist()} must lie in "
                         f"[0, T = {T}] and target_lengths {target_lengths.tolist()} be >= 0")
    labels = _ctc_labels(targets, target_lengths, N)
    xp = _host_xp()
    # The extended labels l' of every sample, padded with blanks: (N, 2·U_max + 1).
    states = 2 * int(target_lengths.max(initial=0)) + 1
    extended = xp.full((N, states), blank, dtype=backend.int64)
    feasible = xp.ones(N, dtype=bool)
    for n, label in enumerate(labels):
        if ((label < 0) | (label >= C) | (label == blank)).any():
            raise ValueError(f"ctc_loss: targets of sample {n} ({label.tolist()}) must be "
                             f"class indices in [0, {C}) other than the blank {blank}")
        extended[n, 1:2 * label.size + 1:2] = label
        repeats = int((label[1:] == label[:-1]).sum())    # each needs a blank in between
        feasible[n] = input_lengths[n] >= label.size + repeats
    may_skip = xp.zeros((N, states), dtype=bool)          # the s − 2 transition
    may_skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    may_skip = _on_device(may_skip, log_probs)
    # emit[t, n, s] = log_probs[t, n, l'_s]: (T, N, S')
    emit = log_probs.gather(2, _on_device(xp.broadcast_to(extended, (T, N, states)).copy(),
                                          log_probs))
    emit = tg.where(emit.data < CTC_IMPOSSIBLE, CTC_IMPOSSIBLE, emit)  # −inf: no NaN gradient
    first = _on_device(xp.arange(states) < 2, log_probs)                 # (S',)
    alpha = tg.where(first, emit[0], CTC_IMPOSSIBLE)                     # (N, S')
    alphas = [alpha]
    for t in range(1, max(int(input_lengths.max(initial=0)), 1)):
        stay = alpha                                                     # from s
        step = _shift(alpha, 1)                                          # from s − 1
        skip = tg.where(may_skip, _shift(alpha, 2), CTC_IMPOSSIBLE)      # from s − 2
        alpha = stack([stay, step, skip]).logsumexp(dim=0) + emit[t]    # (N, S')
        alphas.append(alpha)
    # α at each sample's last time step, then its two final states 2U and 2U − 1.
    last = stack(alphas)[_on_device(xp.maximum(input_lengths - 1, 0), log_probs),
                         _on_device(xp.arange(N), log_probs)]          # (N, S')
    end = last.gather(1, _on_device((2 * target_lengths)[:, None], log_probs))      # (N, 1)
    before = last.gather(1, _on_device(xp.maximum(2 * target_lengths - 1, 0)[:, None],
                                       log_probs))                                   # (N, 1)
    both = stack([end, before]).logsumexp(dim=0)
    log_likelihood = tg.where(_on_device(target_lengths[:, None] > 0, log_probs), both, end)
    loss = -log_likelihood.reshape(N)                                     # (N,)
    # T_n = 0: the empty target has probability 1 (nothing else is feasible).
    loss = tg.where(_on_device(input_lengths > 0, log_probs), loss, 0.0)
    # Impossible: too few time steps, or every alignment reads a log-probability of −inf
    # (its log-likelihood then lies at CTC_IMPOSSIBLE or below). NaN stays NaN.
    reached = ~(loss.data >= -CTC_IMPOSSIBLE / 2)
    possible = backend.to_device(feasible, log_probs.device) & reached
    loss = tg.where(possible, loss, 0.0 if zero_infinity else math.inf)
    if reduction == "mean":
        per_label = _on_device(xp.maximum(target_lengths, 1).astype(log_probs.dtype), log_probs)
        return (loss / per_label).mean()
    if reduction == "sum":
        return loss.sum()
    return loss[0] if unbatched else loss



# ------------------------------------------------------------------------ fractional max pooling

def _fractional_starts(samples, size: int, out: int, kernel: int):
    """PyTorch's pseudo-random window starts along one axis, one row per plane::

        α = (size − k) / (out − 1)
        start_i = ⌊(i + u)·α⌋ − ⌊u·α⌋        for i < out − 1
        start_{out−1} = size − k              (the last window ends at the edge)

    ``samples`` u (N, C) in [0, 1), a host array; the arithmetic runs in its dtype, as
    PyTorch's kernel runs in the input's. Returns host ints (N, C, out)."""
    xp = _host_xp()
    starts = xp.full(samples.shape + (out,), size - kernel, dtype=backend.int64)
    if out > 1:
        real = samples.dtype.type
        alpha = real(size - kernel) / real(out - 1)
        steps = xp.arange(out - 1, dtype=samples.dtype)                  # i = 0 .. out − 2
        ends = ((steps + samples[..., None]) * alpha).astype(backend.int64)  # ⌊(i + u)·α⌋
        starts[..., :-1] = ends - (samples * alpha).astype(backend.int64)[..., None]
    return starts


def _fractional_output_size(input: Tensor, output_size, output_ratio, spatial: int,
                            op_name: str) -> tuple:
    """``output_size`` as ``spatial`` ints, or ``⌊sizes·output_ratio⌋`` of the last
    ``spatial`` dims (PyTorch's int())."""
    convert = _pair if spatial == 2 else _triple
    if output_size is not None:
        return convert(output_size, "output_size", op_name)
    if output_ratio is None:
        raise ValueError(f"{op_name} requires specifying either an output_size or an "
                         "output_ratio")
    ratios = (output_ratio if isinstance(output_ratio, (tuple, list))
              else (output_ratio,) * spatial)
    if len(ratios) != spatial:
        name = "a pair" if spatial == 2 else "a triple"
        raise ValueError(f"{op_name} requires output_ratio to either be a single number or "
                         f"{name}, got {output_ratio!r}")
    sizes = input.shape[input.ndim - spatial:]
    return tuple(int(size * ratio) for size, ratio in zip(sizes, ratios))


def _fractional_samples(x: Tensor, _random_samples: Tensor | None, spatial: int,
                        op_name: str):
    """The samples u as a host array (N, C, spatial): the given ones, checked, or
    U[0, 1) draws from the seeded generator in x's dtype (as PyTorch's ``torch.rand``)."""
    N, C = x.shape[:2]
    if _random_samples is None:
        _random_samples = tg.rand(N, C, spatial, dtype=x.dtype, device=x.device)
    if tuple(_random_samples.shape) != (N, C, spatial):
        raise ValueError(f"{op_name}: _random_samples must have shape ({N}, {C}, {spatial}) "
                         f"for an input of shape {x.shape}, got "
                         f"{tuple(_random_samples.shape)}")
    return backend.to_host(_random_samples.data)                         # (N, C, spatial)


def _max_of_windows(x: Tensor, window) -> tuple[Tensor, Tensor]:
    """The maximum of each window and its flat index in x's spatial plane.

    x ``(N, C, *sizes)``; ``window`` a host int array ``(N, C, *out, K)`` of the flat
    plane indices each window reads. The argmax is taken on the values (detached), as
    PyTorch's kernel: the window's first maximum, or its last NaN when it holds NaNs
    (``window_argmax``, whose K taps are here 0 .. K − 1 of every window). y is x
    gathered at the winners, so its gradient goes to them only (a gather)."""
    N, C = x.shape[:2]
    out_sizes, K = window.shape[2:-1], window.shape[-1]
    outputs = math.prod(out_sizes)                                       # no -1: N may be 0
    window = _on_device(window, x)
    flat = x.reshape(N, C, math.prod(x.shape[2:]))                       # (N, C, plane)
    candidates = flat.detach().gather(2, window.reshape(N, C, outputs * K))
    values = candidates.data.reshape(N, C, outputs, K).swapaxes(2, 3)    # (N, C, K, outputs)
    xp = backend.xp_of(values)
    taps = xp.broadcast_to(xp.arange(K)[:, None], (K, outputs))          # tap k of each window
    best = window_argmax(values, taps, xp).reshape(N, C, *out_sizes, 1)  # (N, C, *out, 1)
    best = Tensor(best, device=x.device)
    indices = window.gather(window.ndim - 1, best).reshape(N, C, *out_sizes)  # the winners
    y = flat.gather(2, indices.reshape(N, C, outputs)).reshape(N, C, *out_sizes)
    return y, indices


def _check_fractional_fit(input: Tensor, kernel: tuple, out_sizes: tuple, names: tuple,
                          strict: bool, op_name: str) -> None:
    """Every kernel and output size positive, and ``out + k − 1 <= size`` per dim (``<``
    when ``strict``, PyTorch's 3-D check), so the last window, at size − k, fits."""
    if any(k < 1 for k in kernel):
        raise ValueError(f"{op_name}: kernel_size must be greater than 0, got {kernel}")
    if any(out < 1 for out in out_sizes):
        raise ValueError(f"{op_name}: output size {tuple(out_sizes)} must be positive "
                         f"(input of shape {input.shape})")
    sizes = input.shape[input.ndim - len(kernel):]
    for name, size, k, out in zip(names, sizes, kernel, out_sizes):
        if out + k - 1 > size or (strict and out + k - 1 == size):
            raise ValueError(f"{op_name}(): pool {name} {k} too large relative to input "
                             f"{name} {size} (output {name} {out})")


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """Fractional max pooling (Graham, 2015): kh×kw windows at pseudo-random starts, so
    that an H×W input gives exactly OH×OW maxima (a stride of H/OH "on average")::

        y[n, c, i, j] = max_{a<kh, b<kw} x[n, c, start_h[i] + a, start_w[j] + b]

    with the starts of :func:`_fractional_starts` from two samples per plane,
    ``_random_samples[n, c] = (u_w, u_h)`` (drawn U[0, 1) from the seeded generator when
    not given, as PyTorch's ``torch.rand``). The output size is ``output_size``, or
    ``⌊(H, W)·output_ratio⌋``. The first maximum of a window (its last NaN, if any) wins
    and gets the gradient (a gather). ``return_indices=True`` also returns its flat index
    ``h·W + w`` in the plane (for ``max_unpool2d``).
    Shapes: (N, C, H, W) or (C, H, W) -> (..., OH, OW).
    """
    x, added = _batched(input, 2, "fractional_max_pool2d")
    N, C, H, W = x.shape
    kh, kw = _pair(kernel_size, "kernel_size", "fractional_max_pool2d")
    OH, OW = _fractional_output_size(input, output_size, output_ratio, 2,
                                     "fractional_max_pool2d")
    _check_fractional_fit(input, (kh, kw), (OH, OW), ("height", "width"), False,
                          "fractional_max_pool2d")
    samples = _fractional_samples(x, _random_samples, 2, "fractional_max_pool2d")
    start_w = _fractional_starts(samples[..., 0], W, OW, kw)              # (N, C, OW)
    start_h = _fractional_starts(samples[..., 1], H, OH, kh)              # (N, C, OH)
    xp = _host_xp()
    rows = start_h[:, :, :, None, None, None] + xp.arange(kh)[:, None]    # (N, C, OH, 1, kh, 1)
    columns = start_w[:, :, None, :, None, None] + xp.arange(kw)          # (N, C, 1, OW, 1, kw)
    window = (rows * W + columns).reshape(N, C, OH, OW, kh * kw)          # flat plane indices
    y, indices = _max_of_windows(x, window)                               # (N, C, OH, OW)
    if added:
        y, indices = y.squeeze(0), indices.squeeze(0)
    return (y, indices) if return_indices else y


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None):
    """``fractional_max_pool2d(..., return_indices=True)`` (PyTorch's name): the maxima
    and their flat indices ``h·W + w``; ``return_indices`` is ignored."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """3-D fractional max pooling (Graham, 2015): kd×kh×kw windows at pseudo-random
    starts, so that a D×H×W input gives exactly OD×OH×OW maxima::

        y[n, c, i, j, l] = max_{a<kd, b<kh, e<kw} x[n, c, start_d[i] + a, start_h[j] + b,
                                                      start_w[l] + e]

    each dim's starts by the rule of :func:`_fractional_starts`, from three samples per
    plane in PyTorch's order ``_random_samples[n, c] = (u_d, u_h, u_w)`` (the 2-D one is
    (u_w, u_h)); drawn U[0, 1) from the seeded generator when not given. The output size
    is ``output_size``, or ``⌊(D, H, W)·output_ratio⌋``; PyTorch requires
    ``out + k − 1 < size`` in each dim (strictly, unlike its 2-D ``<=``). The first maximum
    of a window (its last NaN, if any) wins and gets the gradient (a gather).
    ``return_indices=True`` also returns its flat index ``d·H·W + h·W + w`` (for
    ``max_unpool3d``).
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW).
    """
    x, added = _batched(input, 3, "fractional_max_pool3d")
    N, C, D, H, W = x.shape
    kd, kh, kw = _triple(kernel_size, "kernel_size", "fractional_max_pool3d")
    OD, OH, OW = _fractional_output_size(input, output_size, output_ratio, 3,
                                         "fractional_max_pool3d")
    _check_fractional_fit(input, (kd, kh, kw), (OD, OH, OW), ("time", "height", "width"), True,
                          "fractional_max_pool3d")
    samples = _fractional_samples(x, _random_samples, 3, "fractional_max_pool3d")
    start_d = _fractional_starts(samples[..., 0], D, OD, kd)             # (N, C, OD)
    start_h = _fractional_starts(samples[..., 1], H, OH, kh)             # (N, C, OH)
    start_w = _fractional_starts(samples[..., 2], W, OW, kw)             # (N, C, OW)
    xp = _host_xp()
    # (N, C, OD, 1, 1, kd, 1, 1), (N, C, 1, OH, 1, 1, kh, 1) and (N, C, 1, 1, OW, 1, 1, kw):
    depths = start_d[:, :, :, None, None, None, None, None] + xp.arange(kd)[:, None, None]
    rows = start_h[:, :, None, :, None, None, None, None] + xp.arange(kh)[:, None]
    columns = start_w[:, :, None, None, :, None, None, None] + xp.arange(kw)
    window = ((depths * H + rows) * W + columns).reshape(N, C, OD, OH, OW, kd * kh * kw)
    y, indices = _max_of_windows(x, window)                              # (N, C, OD, OH, OW)
    if added:
        y, indices = y.squeeze(0), indices.squeeze(0)
    return (y, indices) if return_indices else y


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size, output_size=None,
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None):
    """``fractional_max_pool3d(..., return_indices=True)`` (PyTorch's name): the maxima
    and their flat indices ``d·H·W + h·W + w``; ``return_indices`` is ignored."""
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


# -------------------------------------------------------------- the time-batch-channel conv

def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """PyTorch's 1-D convolution in the time-batch-channel layout (fairseq's)::

        y[t, b, o] = bias[o] + Σ_k Σ_c x_pad[t + k, b, c] · weight[k, c, o]

    x_pad being x with ``pad`` zero steps before and after. It is :func:`conv1d` in
    another layout: x (T, B, C) -> (B, C, T), weight (K, C, O) -> (O, C, K), and the
    output (B, O, T') -> (T', B, O); the gradients are conv1d's and the permutes'.
    Shapes: input (T, B, C_in), weight (K, C_in, C_out), bias (C_out,)
    -> (T + 2·pad − K + 1, B, C_out).
    """
    if input.ndim != 3:
        raise ValueError(f"conv_tbc: expected a 3-D input (time, batch, in_channels), got "
                         f"shape {input.shape}")
    if weight.ndim != 3:
        raise ValueError(f"conv_tbc: expected a 3-D weight (kernel_width, in_channels, "
                         f"out_channels), got shape {weight.shape}")
    if not isinstance(bias, Tensor) or bias.ndim != 1 or bias.shape[0] != weight.shape[2]:
        raise ValueError(f"conv_tbc: expected a 1-D bias of the weight's {weight.shape[2]} "
                         f"out_channels, got {getattr(bias, 'shape', bias)}")
    if input.shape[2] != weight.shape[1]:
        raise ValueError(f"conv_tbc: input of shape {input.shape} has {input.shape[2]} "
                         f"channels, weight of shape {weight.shape} expects {weight.shape[1]}")
    if not _is_int(pad) or pad < 0:
        raise ValueError(f"conv_tbc: pad must be a non-negative int, got {pad!r}")
    length = input.shape[0] + 2 * pad - weight.shape[0] + 1
    if length < 1:
        raise ValueError(f"conv_tbc: input of shape {input.shape} is too short for a kernel "
                         f"of width {weight.shape[0]} with pad {pad} (output length {length})")
    y = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)  # (B, O, T')
    return y.permute(2, 0, 1)                                                      # (T', B, O)


# ------------------------------------------------------------------ 3-D power pooling, unpooling

def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over kd×kh×kw windows::

        y[n, c, od, oh, ow] = (Σ_{a,i,j} x[n, c, od·sd + a, oh·sh + i, ow·sw + j]^p)^(1/p)

    computed as PyTorch does: ``avg_pool3d(x^p, ceil_mode=...) · kd·kh·kw``, then the
    p-th root (as :func:`lp_pool2d`). No padding; ``stride`` defaults to ``kernel_size``.
    Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., OD, OH, OW).
    """
    kd, kh, kw = _triple(kernel_size, "kernel_size", "lp_pool3d")
    out = avg_pool3d(floating(input) ** norm_type, (kd, kh, kw), stride, 0,  # (.., OD, OH, OW)
                     ceil_mode)
    return _lp_root(out, kd * kh * kw, norm_type)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of ``F.max_pool3d(..., return_indices=True)``: each pooled
    value goes back to the place its maximum came from, every other place is 0::

        y[n, c].flat[idx[n, c, od, oh, ow]] = x[n, c, od, oh, ow]

    Output (D', H', W') = ``(D − 1)·stride − 2·padding + kernel`` per dim unless
    ``output_size`` is given (within ± stride of that). Gradient: a gather of the output
    gradient at the indices. Shapes: (N, C, D, H, W) or (C, D, H, W) -> (..., D', H', W').
    """
    x, added = _batched(input, 3, "max_unpool3d")
    kernel = _triple(kernel_size, "kernel_size", "max_unpool3d")
    stride = kernel if stride is None else _triple(stride, "stride", "max_unpool3d")
    padding = _triple(padding, "padding", "max_unpool3d")
    sizes = _unpool_output_size(input, kernel, stride, padding, output_size, "max_unpool3d")
    if added and isinstance(indices, Tensor):
        indices = indices.unsqueeze(0)
    y = _max_unpool(x, indices, sizes, "max_unpool3d")
    return y.squeeze(0) if added else y


# ------------------------------------------------------------------- deprecated upsampling names

def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated (as in PyTorch): ``F.interpolate`` with the same arguments, and a
    UserWarning saying so."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``F.interpolate(input, size, scale_factor, mode='nearest')``."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``F.interpolate(input, size, scale_factor, mode='bilinear',
    align_corners=True)`` (the corner pixels' centres line up)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
