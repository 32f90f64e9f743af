"""More functional forms: one-hot, padding, normalisation and distances, resampling
(interpolate, affine_grid and grid_sample, pixel shuffle), channel dropout, bilinear,
instance and local response normalisation. PyTorch's names, arguments and defaults.

Every function is a composition of Tensor ops, so its gradient comes from the engine
and is exact; none has a backward of its own. Resampling and the non-constant paddings
are *gathers*: an integer index array says, for each output position along a dim,
which input position it reads (``x[..., index]``), and indexing's backward
scatter-adds the gradient back there (an input read twice gets both gradients). The
index arrays are computed on the input's device with ``backend.get_xp``; interpolation
weights that depend on a tensor (grid_sample's, on the grid) are Tensor expressions, so
the grid gets its gradient too.

``nn/functional.py`` imports this file (``F.pad`` is this ``pad``), so this file must
not import it; the two steps ``instance_norm`` shares with ``batch_norm`` are in
``nn/functional_primitives.py``. The layers are in ``nn/layers_more.py``.
"""

from __future__ import annotations

import itertools
import math
import numbers
import operator
import warnings

import tinygrad_opt as tg
from tinygrad_opt import backend, factories
from tinygrad_opt.functions import store_out
from tinygrad_opt.nn.functional_conv import _adaptive_reduce
from tinygrad_opt.nn.functional_primitives import _affine, _check_per_channel, _update_running
from tinygrad_opt.ops.conveniences import write_back
from tinygrad_opt.ops.elementwise import floating
from tinygrad_opt.ops.rearrange import _distance
from tinygrad_opt.ops.statistics import computed_in_float32
from tinygrad_opt.ops.shape import normalize_dim, same_device
from tinygrad_opt.tensor import Tensor

__all__ = ["one_hot", "pad", "normalize", "cosine_similarity", "pairwise_distance", "pdist",
           "interpolate", "affine_grid", "grid_sample", "pixel_shuffle", "pixel_unshuffle",
           "dropout1d", "dropout2d", "alpha_dropout", "bilinear", "instance_norm",
           "local_response_norm"]


def _along(axis: int, index) -> tuple:
    """The index that applies ``index`` to dim ``axis`` and keeps every dim before it."""
    return (slice(None),) * axis + (index,)


def _clamp_min(x: Tensor, low: float) -> Tensor:
    """max(x, low) with PyTorch's ``clamp_min`` gradient: 1 where x ≥ low, 0 below."""
    return tg.where(x >= low, x, low)


# ------------------------------------------------------------------------------------ one-hot

def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``y[..., c] = 1 if tensor[...] == c else 0``: integer class indices ``(*)`` to an int64
    tensor ``(*, num_classes)``. ``num_classes=-1``: one more than the largest index.
    No gradient (the result is a function of integers)."""
    if not isinstance(tensor, Tensor) or tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer index tensor, got "
                        f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
    if num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    data = tensor.data
    if data.size == 0:
        if num_classes <= 0:                               # PyTorch refuses 0 here too
            raise ValueError("one_hot: cannot infer the number of classes from an empty tensor; "
                             f"give a positive num_classes (got {num_classes})")
    else:
        low, high = data.min().item(), data.max().item()
        if low < 0:
            raise ValueError(f"one_hot: class values must be non-negative, got {low}")
        if num_classes == -1:
            num_classes = high + 1
        elif high >= num_classes:
            raise ValueError(f"one_hot: class values must be smaller than num_classes "
                             f"({num_classes}), got {high}")
    classes = backend.xp_of(data).arange(num_classes)                      # (num_classes,)
    hits = (data[..., None] == classes).astype(backend.int64)              # (*, num_classes)
    return Tensor(hits, device=tensor.device)


# ------------------------------------------------------------------------------------ padding

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or, with negative amounts, crop) the last ``len(pad) // 2`` dims.

    ``pad`` lists (before, after) amounts starting from the *last* dim, as PyTorch:
    ``(left, right)`` pads the last dim, ``(left, right, top, bottom)`` the last two.
    For an input position p = j − before of output index j along a dim of size n:

    * ``constant``: ``value`` (default 0) where p is outside [0, n), any number of dims;
    * ``reflect``:  p → |p|, then p → 2(n − 1) − p past the end (the edge is not repeated:
      [a b c] padded by 2 → c b [a b c] b a); needs before, after < n;
    * ``replicate``: p → min(max(p, 0), n − 1) (the edge value repeated);
    * ``circular``: p → p mod n (wraps around); needs before, after ≤ n.

    Negative amounts crop: reflect and replicate still mirror or repeat the edges of
    the whole input, circular wraps the cropped input (as PyTorch's kernels do).

    The last three pad the last 1, 2 or 3 dims of an input with one or two more dims
    ((C, W) or (N, C, W) for 1 dim), as PyTorch. They are gathers, so an input value
    read several times gets the sum of their gradients.
    """
    pad = tuple(operator.index(amount) for amount in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: the pad tuple must have an even length, got {pad}")
    dims = len(pad) // 2
    if dims > input.ndim:
        raise ValueError(f"pad: pad {pad} covers {dims} dims, but the input of shape "
                         f"{input.shape} has {input.ndim}")
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    if mode == "constant":
        return _constant_pad(input, pad, 0 if value is None else value)
    if value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no value argument, got value={value}")
    if not 1 <= dims <= 3 or input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(
            f"pad: mode {mode!r} pads the last 1, 2 or 3 dims of a 2-D to 5-D input (one or two "
            f"dims more than padded); got pad {pad} for an input of shape {input.shape}")
    for k in range(dims):
        axis = input.ndim - 1 - k
        source = _source_positions(mode, input, axis, pad[2 * k], pad[2 * k + 1])
        input = input[_along(axis, source)]
    return input


def _source_positions(mode: str, x: Tensor, axis: int, before: int, after: int):
    """For each output index j along ``axis``, the input position it reads (an int array).

    As PyTorch: reflect and replicate pad the whole input and then crop (a negative
    amount), circular crops first and then wraps what is left."""
    size = x.shape[axis]
    out = size + before + after
    if out < 1 or size < 1:
        raise ValueError(f"pad: padding ({before}, {after}) of dim {axis} of the input of shape "
                         f"{x.shape} gives an output size of {out}")
    if mode == "reflect" and (before >= size or after >= size):
        raise ValueError(f"pad: reflect padding ({before}, {after}) must be smaller than the "
                         f"size {size} of dim {axis} of the input of shape {x.shape}")
    kept_start = max(-before, 0)                                  # circular: crop, then wrap
    kept = size - kept_start - max(-after, 0)
    if mode == "circular" and (before > kept or after > kept):
        raise ValueError(f"pad: circular padding ({before}, {after}) wraps around more than "
                         f"once the size {kept} of dim {axis} of the input of shape {x.shape}")
    xp = backend.get_xp(x.device)
    position = xp.arange(out) - before                            # may lie outside [0, size)
    if mode == "reflect":
        position = xp.abs(position)                               # mirror at 0
        return xp.where(position > size - 1, 2 * (size - 1) - position, position)  # at n − 1
    if mode == "replicate":
        return xp.clip(position, 0, size - 1)
    return kept_start + (position - kept_start) % kept            # circular


def _constant_pad(x: Tensor, pad: tuple, value) -> Tensor:
    """Crop the negative amounts (a slice), then join blocks of ``value`` on each side."""
    for k in range(len(pad) // 2):
        axis = x.ndim - 1 - k
        before, after = pad[2 * k], pad[2 * k + 1]
        size = x.shape[axis]
        if size + before + after < 0:
            raise ValueError(f"pad: padding ({before}, {after}) of dim {axis} of the input of "
                             f"shape {x.shape} gives a negative size {size + before + after}")
        start, stop = max(-before, 0), size - max(-after, 0)
        if (start, stop) != (0, size):
            x = x[_along(axis, slice(start, stop))]               # negative pads crop
        pieces = [x]
        if before > 0:
            pieces.insert(0, _block(x, axis, before, value))
        if after > 0:
            pieces.append(_block(x, axis, after, value))
        if len(pieces) > 1:
            x = tg.cat(pieces, axis)
    return x


def _block(x: Tensor, axis: int, amount: int, value) -> Tensor:
    """A tensor of ``value`` shaped as x but ``amount`` long along ``axis`` (no gradient)."""
    shape = x.shape[:axis] + (amount,) + x.shape[axis + 1:]
    return factories.full(shape, value, dtype=x.dtype, device=x.device)


# ----------------------------------------------------------------- normalisation and distances

def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """v / max(‖v‖_p, eps) for each vector v along ``dim``: unit p-norm vectors.

    ``eps`` keeps a (near-)zero vector finite (it is divided by eps instead). The
    gradient of the clamp is PyTorch's: through the norm where ‖v‖_p ≥ eps, 0 below.
    ``out``: PyTorch's, the result written into that Tensor (outside autograd).
    """
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)        # (PyTorch takes both)
    dim = tuple(normalize_dim(d, input.ndim, "normalize") for d in dims)
    norm = input.norm(p, dim, keepdim=True)                       # (..., 1, ...)
    return store_out(input / _clamp_min(norm, eps), out, "normalize")


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """cos(x1, x2) = Σ (x1 / max(‖x1‖₂, eps)) · (x2 / max(‖x2‖₂, eps)) along ``dim``.

    The formula of PyTorch's current ``F.cosine_similarity`` documentation: each norm is
    clamped by eps *separately* (older releases clamped the product ‖x1‖·‖x2‖), and each
    input is divided by its norm before the product, which keeps the result in [−1, 1].
    x1 and x2 broadcast to a common shape; ``dim`` is taken in it and removed.
    """
    shape = backend.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    dim = normalize_dim(dim, len(shape), "cosine_similarity")
    unit1 = x1 / _clamp_min(x1.norm(2, dim, keepdim=True), eps)
    unit2 = x2 / _clamp_min(x2.norm(2, dim, keepdim=True), eps)
    return (unit1 * unit2).sum(dim)


def _check_p(p, op_name: str, lowest: float = -math.inf) -> None:
    """p a number ≥ ``lowest`` (inf and −inf included), not NaN."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not p >= lowest:
        bound = "" if lowest == -math.inf else f" >= {lowest:g}"
        raise ValueError(f"{op_name}: p must be a number{bound}, got {p!r}")


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """d = ‖x1 − x2 + eps‖_p along the last dim (of the broadcast shape), as PyTorch.

    ``eps`` is added to every difference (not to the norm): it keeps the distance of
    equal vectors away from the norm's kink at 0. ``p`` is any number, as PyTorch's:
    0 < p < 1 and p < 0 give (Σ|d|^p)^(1/p), 0 the count of d ≠ 0, −inf min|d|.
    """
    _check_p(p, "pairwise_distance")
    return (floating(x1) - floating(x2) + eps).norm(p, -1, keepdim)  # (ints: as floats)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distance between every pair of rows i < j of an ``(N, M)`` input, in the
    order (0, 1), (0, 2), ..., (1, 2), ...: a vector of N(N − 1)/2 distances.
    The gradient at a zero distance is 0, as PyTorch's. p = inf: PyTorch's kernel (cdist's)
    gives every coordinate where |x_i − x_j| is the largest the whole gradient, not a share."""
    _check_p(p, "pdist", lowest=0)  # (PyTorch's: "pdist only supports non-negative p")
    if input.ndim != 2:
        raise ValueError(f"pdist: expected a 2-D input (N, M), got shape {input.shape}")
    first, second = backend.get_xp(input.device).triu_indices(input.shape[0], 1)  # i < j
    input = floating(input)  # ints: the default float first (a difference could wrap)
    difference = input[first] - input[second]                     # (N(N − 1)/2, M)
    if p == math.inf:
        return _distance(difference, math.inf)                    # cdist's p = inf
    return difference.norm(p, -1)


# ---------------------------------------------------------------------------------- resampling

INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear",
                     "area")
INTERPOLATING_DIMS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}  # input dims
CUBIC_A = -0.75  # the cubic convolution's free parameter (PyTorch's and OpenCV's choice)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample the spatial dims of ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` to
    ``size``, or to ``floor(in · scale_factor)``. PyTorch's coordinate rules, one spatial
    dim at a time, with ``s = 1/scale_factor`` when a scale factor is given (and not
    ``recompute_scale_factor``), else ``s = in/out``:

    * ``nearest`` (3-D to 5-D): y[j] = x[min(floor(j·s), in − 1)] (s rounded to float32,
      as PyTorch's CPU kernel, which also copies when out = in and takes j // 2 when
      out = 2·in);
    * ``nearest-exact`` (3-D to 5-D): y[j] = x[min(floor((j + ½)·s), in − 1)];
    * ``linear`` (3-D), ``bilinear`` (4-D), ``trilinear`` (5-D): linear along each dim in
      turn. Source position u = s·(j + ½) − ½ clamped at 0 (``align_corners=False``, the
      default), or u = j·(in − 1)/(out − 1) (``align_corners=True``: the corner pixels'
      centres line up); i = floor(u), λ = u − i,
      y[j] = (1 − λ)·x[i] + λ·x[min(i + 1, in − 1)]; a dim whose size does not change
      is copied (PyTorch's kernel, whatever the scale factor);
    * ``bicubic`` (4-D): u as above but not clamped, i = min(floor(u), in − 1),
      t = clamp(u − i, 0, 1); four taps i − 1 … i + 2, each clamped into [0, in − 1]
      (the edge pixel repeated), with Keys' cubic convolution weights (A = −0.75)::

          y[j] = w(t + 1)·x[i − 1] + w(t)·x[i] + w(1 − t)·x[i + 1] + w(2 − t)·x[i + 2]
          w(s) = (A + 2)|s|³ − (A + 3)|s|² + 1        for |s| ≤ 1
          w(s) = A|s|³ − 5A|s|² + 8A|s| − 4A          for 1 < |s| < 2

      (the weights sum to 1; the result may overshoot the input's range);
    * ``area`` (3-D to 5-D): adaptive average pooling to the output size.

    Gathers and weighted sums, so the gradients are exact: each input position gets
    the sum of the weights with which outputs read it. ``antialias=True`` is not
    supported.
    """
    if mode not in INTERPOLATE_MODES:
        raise NotImplementedError(f"interpolate: unknown mode {mode!r}; supported modes: "
                                  f"{INTERPOLATE_MODES}")
    interpolating = mode in INTERPOLATING_DIMS
    if align_corners is not None and not interpolating:
        raise ValueError("interpolate: align_corners can only be set with the interpolating "
                         f"modes linear, bilinear, bicubic and trilinear, got mode {mode!r}")
    if antialias:
        if mode in ("bilinear", "bicubic") and input.ndim == 4:
            raise NotImplementedError(f"interpolate: antialias=True (mode {mode!r}) is not "
                                      "supported")
        raise ValueError("interpolate: antialias is restricted to the bilinear and bicubic "
                         f"modes and a 4-D input, got mode {mode!r} and shape {input.shape}")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"interpolate: expected a 3-D (N, C, L), 4-D (N, C, H, W) or "
                                  f"5-D (N, C, D, H, W) input, got shape {input.shape}")
    if interpolating and not backend.is_floating(input.dtype):  # (weights would truncate)
        raise TypeError(f"interpolate: mode {mode!r} needs a floating-point input, got "
                        f"{input.dtype} (PyTorch refuses it too)")
    needed = INTERPOLATING_DIMS.get(mode, input.ndim)
    if needed != input.ndim:
        raise NotImplementedError(f"interpolate: got a {input.ndim}-D input, but {mode} mode "
                                  f"needs a {needed}-D input")
    out_sizes, scales = _output_sizes(input, size, scale_factor, recompute_scale_factor)
    for axis, out_size, scale in zip(range(2, input.ndim), out_sizes, scales):
        if mode == "area":
            input = _adaptive_reduce(input, out_size, axis - input.ndim, "mean")
        elif mode == "bicubic":
            input = _cubic_along(input, axis, out_size, scale, bool(align_corners))
        elif interpolating:
            input = _linear_along(input, axis, out_size, scale, bool(align_corners))
        else:
            input = input[_along(axis, _nearest_index(input, axis, out_size, scale, mode))]
    return input


def _output_sizes(x: Tensor, size, scale_factor, recompute_scale_factor) -> tuple:
    """(the output sizes, the scale factors the coordinates use: None means in/out)."""
    spatial = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor, got "
                         f"size={size} and scale_factor={scale_factor}")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an "
                             "explicit size")
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * spatial
        sizes = tuple(operator.index(n) for n in sizes)  # (NumPy integers too, as PyTorch)
        if len(sizes) != spatial:
            raise ValueError(f"interpolate: size {size} has {len(sizes)} entries, the input of "
                             f"shape {x.shape} has {spatial} spatial dims")
        scales = (None,) * spatial
    else:
        factors = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) \
            else (scale_factor,) * spatial
        if len(factors) != spatial:
            raise ValueError(f"interpolate: scale_factor {scale_factor} has {len(factors)} "
                             f"entries, the input of shape {x.shape} has {spatial} spatial dims")
        sizes = tuple(math.floor(n * float(f)) for n, f in zip(x.shape[2:], factors))
        scales = (None,) * spatial if recompute_scale_factor else tuple(map(float, factors))
    if any(n < 1 for n in sizes) or any(n < 1 for n in x.shape[2:]):
        raise ValueError(f"interpolate: input and output sizes must be greater than 0, got "
                         f"input {x.shape[2:]} and output {sizes}")
    return tuple(int(n) for n in sizes), scales


def _nearest_index(x: Tensor, axis: int, out_size: int, scale_factor, mode: str):
    """The input index each output index reads along ``axis`` (PyTorch's CPU rule)."""
    in_size = x.shape[axis]
    xp = backend.get_xp(x.device)
    destination = xp.arange(out_size)
    if mode == "nearest" and out_size == in_size:
        return destination                                        # a copy
    if mode == "nearest" and out_size == 2 * in_size:
        return destination // 2
    float32 = backend.float32.type                                # PyTorch: float arithmetic
    step = float32(1 / scale_factor) if scale_factor else float32(in_size) / float32(out_size)
    position = destination.astype(backend.float32)
    if mode == "nearest-exact":
        position = position + float32(0.5)
    source = xp.floor(position * step).astype(backend.int64)
    return xp.minimum(source, in_size - 1)


def _source_coordinates(x: Tensor, axis: int, out_size: int, scale_factor,
                        align_corners: bool):
    """The source position u of each output index j along ``axis`` (in x's dtype):
    u = j·(in − 1)/(out − 1) with ``align_corners`` (0 when out = 1), else u = s·(j + ½) − ½
    with s = 1/scale_factor if given, else in/out."""
    in_size = x.shape[axis]
    destination = backend.get_xp(x.device).arange(out_size).astype(x.dtype)
    if align_corners:
        step = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        return destination * step                                 # u = j·(in − 1)/(out − 1)
    step = 1 / scale_factor if scale_factor else in_size / out_size
    return (destination + 0.5) * step - 0.5                       # u = s(j + ½) − ½


def _linear_along(x: Tensor, axis: int, out_size: int, scale_factor,
                  align_corners: bool) -> Tensor:
    """Linear interpolation along ``axis``: y[j] = (1 − λ_j)·x[i_j] + λ_j·x[i_j + 1]."""
    in_size = x.shape[axis]
    if out_size == in_size:
        return x                                                  # PyTorch copies this dim
    xp = backend.get_xp(x.device)
    source = _source_coordinates(x, axis, out_size, scale_factor, align_corners)
    source = xp.maximum(source, 0.0)                              # u ≥ 0
    low = xp.floor(source).astype(backend.int64)                  # i
    high = xp.minimum(low + 1, in_size - 1)                       # i + 1, kept inside
    weight = (source - low).astype(x.dtype)                       # λ = u − i
    weight = Tensor(weight.reshape((out_size,) + (1,) * (x.ndim - 1 - axis)), device=x.device)
    return x[_along(axis, low)] * (1 - weight) + x[_along(axis, high)] * weight


def _cubic_weights(t) -> tuple:
    """Keys' cubic convolution weights of the taps i − 1, i, i + 1, i + 2 at t = u − i
    (PyTorch's ``get_cubic_upsample_coefficients``, term by term)."""
    def near(s):                                                  # |s| ≤ 1
        return ((CUBIC_A + 2) * s - (CUBIC_A + 3)) * s * s + 1

    def far(s):                                                   # 1 < |s| < 2
        return ((CUBIC_A * s - 5 * CUBIC_A) * s + 8 * CUBIC_A) * s - 4 * CUBIC_A

    return far(t + 1), near(t), near(1 - t), far((1 - t) + 1)


def _cubic_along(x: Tensor, axis: int, out_size: int, scale_factor,
                 align_corners: bool) -> Tensor:
    """Cubic convolution along ``axis``: y[j] = Σ_k w_k(t_j)·x[clamp(i_j − 1 + k)], k = 0..3."""
    in_size = x.shape[axis]
    xp = backend.get_xp(x.device)
    source = _source_coordinates(x, axis, out_size, scale_factor, align_corners)  # u, maybe < 0
    low = xp.minimum(xp.floor(source), in_size - 1)               # i = min(floor(u), in − 1)
    t = xp.clip(source - low, 0, 1)                               # t = u − i, within [0, 1]
    low = low.astype(backend.int64)
    shape = (out_size,) + (1,) * (x.ndim - 1 - axis)              # broadcasts along axis
    y = None
    for offset, weight in zip((-1, 0, 1, 2), _cubic_weights(t)):
        tap = xp.clip(low + offset, 0, in_size - 1)               # the edge pixel repeated
        term = x[_along(axis, tap)] * Tensor(weight.reshape(shape), device=x.device)
        y = term if y is None else y + term
    return y


# ------------------------------------------------------------------------------ grid sampling

GRID_SAMPLE_MODES = ("bilinear", "nearest", "bicubic")
GRID_SAMPLE_PADDING_MODES = ("zeros", "border", "reflection")
INT32_RANGE = (-2.0 ** 31, 2.0 ** 31 - 2)  # PyTorch's guard: a point beyond it reads as outside


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of a batch of affine maps, for :func:`grid_sample` (spatial
    transformer networks, Jaderberg et al., 2015)::

        theta (N, 2, 3), size (N, C, H, W)     → grid (N, H, W, 2)
        grid[n, i, j] = theta[n] @ (x_j, y_i, 1)

    where (x_j, y_i) are the normalised coordinates ([−1, 1]) of output pixel (i, j)::

        x_j = −1 + 2j/(W − 1)                  align_corners=True: ±1 are the corner centres
        x_j = (−1 + 2j/(W − 1))·(W − 1)/W      align_corners=False (the default):
            = (2j + 1)/W − 1                   ±1 are the image's outer edges

    (0 along a dim of size 1; y_i likewise with H). 5-D: theta (N, 3, 4) and size
    (N, C, D, H, W) give (N, D, H, W, 3), points (x, y, z, 1). The identity theta
    ``[[1, 0, 0], [0, 1, 0]]`` makes ``grid_sample`` (same align_corners) return its input.
    One matrix product, so the gradient to theta is exact:
    dL/dtheta[n] = Σ_ij g_nij (x_j, y_i, 1)ᵀ.
    ``align_corners=None`` means False (PyTorch also warns).
    """
    size = tuple(operator.index(n) for n in size)
    if theta.dtype.kind != "f":
        raise ValueError(f"affine_grid: expected theta to have a floating point dtype, got "
                         f"{theta.dtype}")
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid: only 4-D (N, C, H, W) and 5-D (N, C, D, H, W) "
                                  f"sizes are supported, got size {size}")
    spatial = size[2:]
    dims = len(spatial)                                           # 2 or 3
    if theta.shape != (size[0], dims, dims + 1):
        raise ValueError(f"affine_grid: expected a batch of {dims}-D affine matrices of shape "
                         f"({size[0]}, {dims}, {dims + 1}) for size {size}, got theta of shape "
                         f"{theta.shape}")
    if min(size) <= 0:
        raise ValueError(f"affine_grid: expected a positive output size, got {size}")
    xp = backend.get_xp(theta.device)
    lines = [_normalised_positions(n, bool(align_corners), xp, theta.dtype) for n in spatial]
    mesh = xp.meshgrid(*lines, indexing="ij")                     # (D,) H, W: one per dim
    ones = xp.ones(spatial, dtype=theta.dtype)
    points = xp.stack([*mesh[::-1], ones], axis=-1)               # (*spatial, dims + 1)
    points = Tensor(points.reshape(-1, dims + 1), device=theta.device)  # (P, dims + 1)
    grid = points @ theta.transpose(1, 2)                         # (N, P, dims)
    return grid.reshape(size[0], *spatial, dims)


def _normalised_positions(n: int, align_corners: bool, xp, dtype):
    """The normalised coordinates of n pixel centres: linspace(−1, 1, n), times (n − 1)/n
    without align_corners; a single pixel sits at 0."""
    if n == 1:
        return xp.zeros(1, dtype=dtype)
    line = xp.linspace(-1, 1, n, dtype=dtype)
    return line if align_corners else line * (n - 1) / n


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` (N, C, H, W) at the points of ``grid`` (N, Ho, Wo, 2) → (N, C, Ho, Wo),
    or a volume (N, C, D, H, W) at the points of (N, Do, Ho, Wo, 3) → (N, C, Do, Ho, Wo).

    ``grid[n, i, j] = (x, y)`` (``(x, y, z)`` for a volume) in normalised coordinates:
    x = −1 is the left of the image, x = 1 its right, y = −1 its top, z = −1 its front
    (x runs along W, y along H, z along D). The pixel coordinate along a dim of size n::

        u = (x + 1)/2 · (n − 1)        align_corners=True: ±1 are the corner pixels' centres
        u = ((x + 1)·n − 1)/2          align_corners=False (the default): ±1 are the outer edges

    ``padding_mode``, for points outside the image:

    * ``zeros``: every tap that falls outside reads 0;
    * ``border``: u clamped to [0, n − 1] (the edge pixels repeated);
    * ``reflection``: u mirrored at the borders (at 0 and n − 1 with align_corners, at −½
      and n − ½ without) until it falls inside, then clamped.

    ``mode``, with i = floor(u), λ = u − i along x and k = floor(v), μ = v − k along y:

    * ``bilinear``: y = (1 − λ)(1 − μ)·x[k, i] + λ(1 − μ)·x[k, i + 1]
                      + (1 − λ)μ·x[k + 1, i] + λμ·x[k + 1, i + 1];
      on a volume it is trilinear, the 8 corners around the point, each weighted by the
      product over the three dims of λ_d (the far side) or 1 − λ_d (the near side);
    * ``nearest``: x[round(v), round(u)], halves rounded to even (as PyTorch's nearbyint);
    * ``bicubic`` (4-D only): Keys' cubic convolution (A = −0.75) over the 4 × 4 taps
      k − 1..k + 2, i − 1..i + 2, first along x then along y::

          y = Σ_a w_a(μ) · Σ_b w_b(λ) · x[k − 1 + a, i − 1 + b]

      with u, v not folded: the padding folds each integer tap instead (zeros: a tap
      outside reads 0; border: the tap index clamped; reflection: the tap index mirrored,
      then clamped), as PyTorch's ``get_value_bounded``.

    Gradients: to the input, each pixel gets the weights of the taps that read it
    (gathers); to the grid (bilinear), dy/du = (1 − μ)(x[k, i + 1] − x[k, i]) +
    μ(x[k + 1, i + 1] − x[k + 1, i]) times du/dx = (n − 1)/2 or n/2, times the padding's
    slope: 0 where clamped (borders included, as PyTorch), ±1 where mirrored; (bicubic)
    dy/du = Σ_a w_a(μ) Σ_b w_b'(λ) x[..] times du/dx, the taps' folds having slope 0.
    ``nearest`` gives the grid a zero gradient (as PyTorch: zeros, not none). Non-finite
    points read as outside (0 with zeros padding; 0 in every padding mode for bicubic).
    """
    _check_grid_sample(input, grid, mode, padding_mode)
    same_device("grid_sample", input, grid)
    align_corners = bool(align_corners)
    sizes = input.shape[2:]                                       # (H, W) or (D, H, W)
    dims = len(sizes)
    pixels = input.permute(0, *range(2, 2 + dims), 1)             # (N, *spatial, C)
    # grid[..., 0] is x (along the last dim, W), grid[..., 1] y (H), grid[..., 2] z (D)
    normalised = [grid[..., dims - 1 - axis] for axis in range(dims)]  # along D, H, W
    if mode == "bicubic":
        sampled = _bicubic_sample(pixels, normalised, padding_mode, align_corners)
    else:
        u = [_pixel_coordinates(coordinate, size, padding_mode, align_corners)
             for coordinate, size in zip(normalised, sizes)]      # each (N, *out)
        xp = backend.get_xp(input.device)
        if mode == "nearest":
            sampled = _read_pixels(pixels, [xp.rint(p.data) for p in u])  # (N, *out, C)
            if grid.requires_grad:  # PyTorch's grid gets a zero gradient, not none: link it
                sampled = tg.where(True, sampled, grid.sum())
        else:
            sampled = _linear_sample(pixels, u)                   # (N, *out, C)
    return sampled.permute(0, dims + 1, *range(1, dims + 1))      # (N, C, *out)


def _linear_sample(pixels: Tensor, u: list) -> Tensor:
    """Bi- or trilinear: the 2^dims corners around each point, corner c weighted by
    Π_d (λ_d if c_d = 1 else 1 − λ_d), λ_d = u_d − floor(u_d)."""
    xp = backend.get_xp(pixels.device)
    lows = [xp.floor(p.data) for p in u]                          # i along each dim
    far = [(p - low)[..., None] for p, low in zip(u, lows)]       # λ: (N, *out, 1)
    sampled = None
    for corner in itertools.product((0, 1), repeat=len(u)):     # (0, 0), (0, 1), ...
        term = _read_pixels(pixels, [low + c for low, c in zip(lows, corner)])
        for axis in reversed(range(len(u))):                      # the x weight first
            term = term * (far[axis] if corner[axis] else 1 - far[axis])
        sampled = term if sampled is None else sampled + term
    return sampled


def _bicubic_sample(pixels: Tensor, normalised: list, padding_mode: str,
                    align_corners: bool) -> Tensor:
    """Cubic convolution over the 4 × 4 taps around each point (PyTorch's bicubic
    grid sampler): one cubic along x for each of the 4 rows, then one along y."""
    height, width = pixels.shape[1:3]
    xp = backend.get_xp(pixels.device)
    v = _unnormalize(normalised[0], height, align_corners)        # (N, Ho, Wo)
    u = _unnormalize(normalised[1], width, align_corners)
    finite = xp.isfinite(u.data) & xp.isfinite(v.data)
    u, v = tg.where(finite, u, 0.0), tg.where(finite, v, 0.0)     # read 0 below
    left, top = xp.floor(u.data), xp.floor(v.data)               # i, k
    column_weights = _cubic_weights(u - left)                     # w_b(λ), 4 × (N, Ho, Wo)
    row_weights = _cubic_weights(v - top)                         # w_a(μ)
    sampled = None
    for a, row_weight in enumerate(row_weights):
        rows = _fold_taps(top - 1 + a, height, padding_mode, align_corners)
        line = None                                               # the cubic along x
        for b, column_weight in enumerate(column_weights):
            columns = _fold_taps(left - 1 + b, width, padding_mode, align_corners)
            term = _read_pixels(pixels, [rows, columns]) * column_weight[..., None]
            line = term if line is None else line + term          # (N, Ho, Wo, C)
        term = line * row_weight[..., None]
        sampled = term if sampled is None else sampled + term
    return tg.where(finite[..., None], sampled, 0.0)


def _fold_taps(index, size: int, padding_mode: str, align_corners: bool):
    """PyTorch's ``compute_coordinates`` on integer tap positions (an array, no
    gradient): zeros keeps them (outside reads 0), border clamps them, reflection
    mirrors them into the image, then clamps."""
    if padding_mode == "zeros":
        return index
    tap = Tensor(index, device=backend.device_of(index))
    return _fold(tap, size, padding_mode, align_corners).data


def _check_grid_sample(input: Tensor, grid: Tensor, mode: str, padding_mode: str) -> None:
    if mode not in GRID_SAMPLE_MODES:
        raise ValueError(f"grid_sample: expected mode to be one of {GRID_SAMPLE_MODES}, got "
                         f"{mode!r}")
    if padding_mode not in GRID_SAMPLE_PADDING_MODES:
        raise ValueError(f"grid_sample: expected padding_mode to be one of "
                         f"{GRID_SAMPLE_PADDING_MODES}, got {padding_mode!r}")
    if input.ndim == 5 and mode == "bicubic":
        raise ValueError(f"grid_sample: mode 'bicubic' supports only 4-D inputs "
                         f"(N, C, H, W), got shape {input.shape}")
    if input.ndim == 4 and (grid.ndim != 4 or grid.shape[-1] != 2):
        raise ValueError(f"grid_sample: expected a 4-D input (N, C, H, W) and a grid "
                         f"(N, Ho, Wo, 2), got shapes {input.shape} and {grid.shape}")
    if input.ndim == 5 and (grid.ndim != 5 or grid.shape[-1] != 3):
        raise ValueError(f"grid_sample: expected a 5-D input (N, C, D, H, W) and a grid "
                         f"(N, Do, Ho, Wo, 3), got shapes {input.shape} and {grid.shape}")
    if input.ndim not in (4, 5):
        raise ValueError(f"grid_sample: expected a 4-D input (N, C, H, W) or a 5-D input "
                         f"(N, C, D, H, W), got shape {input.shape}")
    if grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid_sample: the grid's batch size {grid.shape[0]} differs from the "
                         f"input's {input.shape[0]} (shapes {grid.shape} and {input.shape})")
    if min(input.shape[2:]) == 0:
        raise ValueError(f"grid_sample: the input of shape {input.shape} has an empty "
                         "spatial dim")
    if not backend.is_floating(grid.dtype):
        raise TypeError(f"grid_sample: expected a floating-point grid, got {grid.dtype}")
    if input.dtype != grid.dtype:
        raise ValueError(f"grid_sample: expected input and grid to have the same dtype, got "
                         f"{input.dtype} and {grid.dtype}")


def _unnormalize(coordinate: Tensor, size: int, align_corners: bool) -> Tensor:
    """PyTorch's ``grid_sampler_unnormalize``: normalised → pixel coordinates."""
    if align_corners:
        return (coordinate + 1) / 2 * (size - 1)                  # −1 → 0, 1 → n − 1
    return ((coordinate + 1) * size - 1) / 2                      # −1 → −½, 1 → n − ½


def _fold(u: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    """PyTorch's ``compute_coordinates``: the padding's fold of u into the image."""
    if padding_mode == "reflection":
        u = _reflect(u, 0, 2 * (size - 1)) if align_corners else _reflect(u, -1, 2 * size - 1)
    if padding_mode != "zeros":
        u = _clip_coordinates(u, size)
    return u


def _pixel_coordinates(coordinate: Tensor, size: int, padding_mode: str,
                       align_corners: bool) -> Tensor:
    """PyTorch's ``grid_sampler_compute_source_index``: normalised → pixel coordinates,
    then the padding's fold into the image."""
    u = _fold(_unnormalize(coordinate, size, align_corners), size, padding_mode,
              align_corners)
    xp = backend.get_xp(u.device)
    usable = xp.isfinite(u.data) & (u.data >= INT32_RANGE[0]) & (u.data <= INT32_RANGE[1])
    return tg.where(usable, u, -100.0)                            # far outside: reads as outside


def _clip_coordinates(u: Tensor, size: int) -> Tensor:
    """min(max(u, 0), n − 1) with PyTorch's gradient: 1 strictly inside, 0 at and beyond
    the borders."""
    clipped = tg.where(u.data <= 0, 0.0, u)
    return tg.where(u.data >= size - 1, float(size - 1), clipped)


def _reflect(u: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Mirror u at low and high until it lies in [low, high] (the bounds are passed doubled,
    as PyTorch, so that −½ is an integer). With span = high − low::

        d = |u − low|     k = floor(d/span)     e = d − k·span   (= fmod(d, span))
        u' = low + e          for even k
        u' = low + span − e   for odd k

    so the slope is ±1 (+1 at d = 0, as PyTorch). A single pixel (low = high) maps to 0."""
    if twice_low == twice_high:
        return tg.where(True, 0.0, u)                             # 0, with gradient 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    xp = backend.get_xp(u.device)
    shifted = u - low
    sign = xp.where(shifted.data < 0, -1, 1).astype(u.dtype)
    distance = shifted * sign                                     # d = |u − low|
    flips = xp.floor(distance.data / span)                        # k
    extra = distance - flips * span                               # e
    return tg.where(flips % 2 == 0, extra + low, span - extra + low)


def _read_pixels(pixels: Tensor, positions: list) -> Tensor:
    """pixels[n, p_0, p_1, ...] for (N, *spatial, C) pixels and one (N, *out) float
    position array per spatial dim: (N, *out, C), 0 where a position lies outside."""
    batch, *sizes, _ = pixels.shape
    xp = backend.get_xp(pixels.device)
    inside = True
    for position, size in zip(positions, sizes):
        inside = inside & (position >= 0) & (position <= size - 1)
    n = xp.arange(batch).reshape((batch,) + (1,) * (positions[0].ndim - 1))  # (N, 1, ...)
    index = tuple(xp.clip(position, 0, size - 1).astype(backend.int64)   # safe to gather
                  for position, size in zip(positions, sizes))
    return tg.where(inside[..., None], pixels[(n,) + index], 0.0)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) → (*, C, H·r, W·r) with r = ``upscale_factor``:
    ``y[..., c, h·r + i, w·r + j] = x[..., c·r² + i·r + j, h, w]`` (sub-pixel convolution,
    Shi et al., 2016). A reshape and a permute, so the gradient is the inverse shuffle."""
    r = _check_factor(upscale_factor, "pixel_shuffle", "upscale_factor")
    if input.ndim < 3:
        raise ValueError(f"pixel_shuffle: expected an input (*, C, H, W), got shape {input.shape}")
    *batch, channels, height, width = input.shape
    if channels % (r * r):
        raise ValueError(f"pixel_shuffle: the channel dim ({channels}) of the input of shape "
                         f"{input.shape} is not divisible by upscale_factor² = {r * r}")
    b = len(batch)
    x = input.reshape(*batch, channels // (r * r), r, r, height, width)  # (*, C, r, r, H, W)
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)              # (*, C, H, r, W, r)
    return x.reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) → (*, C·r², H, W), the inverse of ``pixel_shuffle``:
    ``y[..., c·r² + i·r + j, h, w] = x[..., c, h·r + i, w·r + j]``."""
    r = _check_factor(downscale_factor, "pixel_unshuffle", "downscale_factor")
    if input.ndim < 3:
        raise ValueError(f"pixel_unshuffle: expected an input (*, C, H, W), got shape "
                         f"{input.shape}")
    *batch, channels, height, width = input.shape
    if height % r or width % r:
        raise ValueError(f"pixel_unshuffle: height {height} and width {width} of the input of "
                         f"shape {input.shape} must be divisible by downscale_factor {r}")
    b = len(batch)
    x = input.reshape(*batch, channels, height // r, r, width // r, r)  # (*, C, H, r, W, r)
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)             # (*, C, r, r, H, W)
    return x.reshape(*batch, channels * r * r, height // r, width // r)


def _check_factor(factor, op_name: str, name: str) -> int:
    """A positive integer (a NumPy integer too, as PyTorch takes any integer) as an int."""
    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral) or factor < 1:
        raise ValueError(f"{op_name}: {name} must be a positive integer, got {factor!r}")
    return int(factor)


# ------------------------------------------------------------------------------------- dropout

def _check_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _check_floating(input: Tensor, op_name: str) -> None:
    """A random mask or slope is drawn in the input's dtype: for an integer or bool input it
    would truncate to 0 (and ``/ (1 − p)`` would make floats), so it is refused, as PyTorch."""
    if not backend.is_floating(input.dtype):
        raise TypeError(f"{op_name}: expected a floating-point input, got {input.dtype}")


def _drop_channels(x: Tensor, p: float, mask_shape: tuple, op_name: str) -> Tensor:
    """x · mask / (1 − p), one keep-or-drop draw per entry of ``mask_shape`` (size 1 on the
    spatial dims, so a whole channel is kept or zeroed together)."""
    _check_floating(x, op_name)
    if p == 1.0:
        return x * 0.0
    keep = backend.random_uniform(mask_shape, x.dtype, x.device) >= p  # (N, C, 1, ...)
    mask = keep.astype(x.dtype) / (1 - p)
    return x * Tensor(mask, device=x.device)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout for ``(N, C, L)`` or unbatched ``(C, L)``: each channel is zeroed as a
    whole with probability p, the others scaled by 1/(1 − p) (E[y] = x); evaluation is the
    identity. For feature maps whose neighbours are correlated, where dropping single
    elements regularises little (Tompson et al., 2015). ``inplace``: as ``F.dropout``."""
    _check_probability(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got "
                           f"shape {input.shape}")
    if not training or p == 0.0:
        return input
    if inplace:
        return write_back(input, dropout1d, p, training)
    return _drop_channels(input, p, input.shape[:-1] + (1,), "dropout1d")  # (N, C, 1) or (C, 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout for ``(N, C, H, W)``: each channel map zeroed as a whole with
    probability p, the others scaled by 1/(1 − p); evaluation is the identity.

    A 3-D input is read as ``(N, C, L)`` (channel-wise 1-D dropout) with a warning, as
    PyTorch does today. Any other number of dims is accepted with PyTorch's deprecation
    warning: one draw per entry of the first two dims, as for 4-D (a 2-D (N, C) input is
    then element-wise dropout). ``inplace``: as ``F.dropout``."""
    _check_probability(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: received a {input.ndim}-D input, which PyTorch deprecates "
                      "(dropout2d is channel dropout of a 3-D or 4-D input); each entry of "
                      "its first two dims is dropped whole; use dropout instead", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input and assuming channel-wise 1-D dropout: "
                      "the input is read as (N, C, L); use dropout1d for that", stacklevel=2)
    if not training or p == 0.0:
        return input
    return _feature_dropout(input, p, input.shape[:2] + (1,) * (input.ndim - 2), input.ndim,
                            inplace, "dropout2d")                       # (N, C, 1, 1)


def _feature_dropout(x: Tensor, p: float, mask_shape: tuple, ndim: int, inplace: bool,
                     op_name: str) -> Tensor:
    """``_drop_channels`` in or out of place, with PyTorch's feature-dropout rules: an
    empty input comes back as it is and p = 1 gives zeros before the (N, C) dims are asked
    for; otherwise the input, as PyTorch sees it (``ndim`` dims), needs at least 2 dims."""
    if x.numel() == 0:
        return x
    if ndim < 2 and p < 1.0:
        raise RuntimeError(f"{op_name}: feature dropout needs at least 2 dims (N, C, *) in "
                           f"the input, got shape {x.shape}")
    if inplace:
        return write_back(x, _drop_channels, p, mask_shape, op_name)
    return _drop_channels(x, p, mask_shape, op_name)


SELU_NEGATIVE_LIMIT = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for SELU networks (Klambauer et al., 2017): keeps zero mean and unit
    variance. A dropped element is set to SELU's negative limit −α' (α' = λα ≈ 1.7581),
    not 0, and everything is then mapped by the affine y ↦ a·y + b that restores the
    mean and variance of a standardised input::

        a = 1 / √((α'²·p + 1)(1 − p))        b = a·α'·p
        y = a·x + b where kept,   y = −a·α' + b where dropped

    Note ``training=False`` by default, as PyTorch's ``F.alpha_dropout``. Evaluation is
    the identity; p = 1 gives zeros (as PyTorch). ``inplace``: as ``F.dropout``.
    """
    _check_probability(p)
    if not training or p == 0.0:
        return input
    _check_floating(input, "alpha_dropout")
    if inplace:
        return write_back(input, alpha_dropout, p, training)
    if p == 1.0:
        return input * 0.0
    alpha = SELU_NEGATIVE_LIMIT
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    b = a * alpha * p
    keep = backend.random_uniform(input.shape, input.dtype, input.device) >= p
    kept_or_limit = tg.where(Tensor(keep, device=input.device), input, -alpha)
    return a * kept_or_limit + b


# --------------------------------------------------------------------------- bilinear, norms

def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None
             ) -> Tensor:
    """y_k = x1ᵀ W_k x2 + b_k = Σ_ij x1_i W_kij x2_j + b_k.

    Shapes: x1 ``(*, in1)``, x2 ``(*, in2)`` with the same leading dims, W
    ``(out, in1, in2)``, b ``(out,)`` → y ``(*, out)``. Computed as one matrix product
    (x1 times W laid out as in1 × (out·in2)) and a sum against x2.
    """
    if weight.ndim != 3:
        raise ValueError(f"bilinear: weight must be 3-D (out, in1, in2), got {weight.shape}")
    out_features, in1, in2 = weight.shape
    if input1.ndim < 1 or input2.ndim < 1 or input1.shape[-1] != in1 \
            or input2.shape[-1] != in2 or input1.shape[:-1] != input2.shape[:-1]:
        raise ValueError(f"bilinear: inputs (*, {in1}) and (*, {in2}) with the same leading "
                         f"dims expected for a weight of shape {weight.shape}, got "
                         f"{input1.shape} and {input2.shape}")
    if bias is not None and bias.shape != (out_features,):
        raise ValueError(f"bilinear: bias must have shape ({out_features},), got {bias.shape}")
    batch = input1.shape[:-1]
    count = math.prod(batch)
    x1 = input1.reshape(count, in1)                                            # (B, in1)
    x2 = input2.reshape(count, 1, in2)                                         # (B, 1, in2)
    weight_matrix = weight.permute(1, 0, 2).reshape(in1, out_features * in2)   # (in1, out·in2)
    mixed = (x1 @ weight_matrix).reshape(count, out_features, in2)  # Σ_i x1_i W_kij: (B, out, in2)
    y = (mixed * x2).sum(-1)                                                   # (B, out)
    if bias is not None:
        y = y + bias
    return y.reshape(*batch, out_features)


@computed_in_float32
def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its spatial dims: ``(N, C, *)``::

        μ_nc = mean(x_nc)    σ²_nc = mean((x_nc − μ_nc)²)    (biased, over the * dims)
        y = (x − μ_nc) / √(σ²_nc + eps) · γ_c + β_c

    Style transfer's normalisation (Ulyanov et al., 2016): each image's contrast is
    removed on its own. With running buffers and ``use_input_stats``, they are updated
    in place with the statistics averaged over the batch, as PyTorch::

        running_mean ← (1 − momentum)·running_mean + momentum·mean_n(μ_nc)
        running_var  ← (1 − momentum)·running_var  + momentum·mean_n(σ²_nc·m/(m − 1))

    (m values per channel); ``use_input_stats=False`` normalises with the running ones.
    """
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input (N, C, *) with spatial dims, got "
                         f"shape {input.shape}")
    _check_per_channel("instance_norm", input, running_mean=running_mean,
                       running_var=running_var, weight=weight, bias=bias)
    channels = input.shape[1]
    stat_shape = (1, channels) + (1,) * (input.ndim - 2)           # (1, C, 1, ...)
    if use_input_stats:
        count = math.prod(input.shape[2:])
        if count == 1:  # PyTorch's _verify_spatial_size: one value has no spread
            raise ValueError(f"instance_norm: expected more than 1 spatial element when "
                             f"training, got input of shape {input.shape}")
        if count == 0:  # as PyTorch: empty output (joined to γ, β), statistics kept
            return _affine(input, weight, bias, stat_shape)
        dims = tuple(range(2, input.ndim))
        mean = input.mean(dim=dims, keepdim=True)                   # (N, C, 1, ...)
        centered = input - mean
        var = (centered * centered).mean(dim=dims, keepdim=True)   # biased
        if running_mean is not None:
            _update_running(running_mean, mean.detach().mean(0), momentum)
        if running_var is not None:
            unbiased = var.detach() * (count / (count - 1))
            _update_running(running_var, unbiased.mean(0), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: running_mean and running_var are needed when "
                             "use_input_stats=False")
        mean = running_mean.reshape(stat_shape)
        var = running_var.reshape(stat_shape)
        centered = input - mean
    x_hat = centered / (var + eps).sqrt()
    return _affine(x_hat, weight, bias, stat_shape)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Local response normalisation across channels (AlexNet, Krizhevsky et al., 2012)::

        y_c = x_c / (k + α/n · Σ_{c' = c − ⌊n/2⌋}^{c + ⌊(n − 1)/2⌋} x_{c'}²)^β

    with n = ``size``; channels outside [0, C) count as 0 (the sum is still divided by
    n, as PyTorch's average pooling over zero padding). Input ``(N, C, *)``.
    """
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected a 3-D or higher input (N, C, *), got "
                         f"shape {input.shape}")
    if size < 1:  # (PyTorch's pooling window refuses it too)
        raise ValueError(f"local_response_norm: size must be a positive number of channels, "
                         f"got {size}")
    if input.data.size == 0:
        return input
    channels, input = input.shape[1], floating(input)  # (ints: a square could wrap)
    squares = input * input                                                # (N, C, *)
    padding = (0, 0) * (input.ndim - 2) + (size // 2, (size - 1) // 2)
    padded = pad(squares, padding)                                         # (N, C + n − 1, *)
    window = padded[:, 0:channels]
    for shift in range(1, size):
        window = window + padded[:, shift:shift + channels]                # Σ over n channels
    return input / (k + alpha / size * window) ** beta
