"""Reductions: sum and max are primitives; mean, var, std, min and logsumexp are
compositions of them, so their gradients need no code of their own."""

from __future__ import annotations

import builtins
import math

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.elementwise import constant, floating, maximum, minimum, where
from tinygrad_opt.ops.shape import normalize_dim


class Sum(Function):
    """y = Σ x over ``dims``.   dL/dx = dL/dy copied to every summed position."""

    def forward(self, x: "Array", dims: tuple, keepdim: bool) -> "Array":
        self.input_shape, self.dims = x.shape, dims
        return x.sum(axis=dims, keepdims=keepdim)

    def backward(self, grad_output: "Grad") -> "Grads":
        kept_shape = _kept_shape(self.input_shape, self.dims)   # summed axes as size 1
        return self.xp.broadcast_to(grad_output.reshape(kept_shape), self.input_shape)


class Max(Function):
    """y = max x over ``dims`` (min x with ``smallest=True``).   dL/dx = dL/dy at the
    maxima (minima), shared equally among ties. A NaN is the maximum where it occurs
    (y is NaN there), so its dL/dy goes to the NaNs, as PyTorch's ``max()``."""

    def forward(self, x: "Array", dims: tuple, keepdim: bool, smallest=False) -> "Array":
        self.dims = dims
        return (x.min if smallest else x.max)(axis=dims, keepdims=keepdim)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), xp = self.saved_inputs, self.xp
        kept_shape = _kept_shape(x.shape, self.dims)
        is_max = (x == self.saved_output.reshape(kept_shape)) | (x != x)  # (x != x: NaN)
        ties = is_max.sum(axis=self.dims, keepdims=True).astype(grad_output.dtype)  # (kept)
        return xp.where(is_max, grad_output.reshape(kept_shape) / ties, 0)


def _kept_shape(shape, dims):
    """The shape a reduction over ``dims`` gives with keepdim=True."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if axis in dims else size for axis, size in enumerate(shape))


def _reduced_shape(shape, dims):
    if dims is None:
        return ()
    return tuple(size for axis, size in enumerate(shape) if axis not in dims)


def reduction_dims(x, dim, axis, op_name):
    """Accept PyTorch's ``dim`` or NumPy's ``axis``; return a sorted tuple or None (all).
    As in PyTorch, ``dim=()`` means every dim, and a 0-d tensor accepts dim 0 or -1."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op_name}: give dim or axis, not both")
        dim = axis
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    normalized = [normalize_dim(d, x.ndim, op_name) for d in dims]
    if len(set(normalized)) != len(normalized):
        raise RuntimeError(f"{op_name}: a dim appears more than once in {dim}")
    if not normalized or x.ndim == 0:
        return None
    return tuple(sorted(normalized))


def _keep(keepdim, keepdims):
    return bool(keepdim or keepdims)


def sum(x, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    dims = reduction_dims(x, dim, axis, "Sum")
    if dtype is not None or x.dtype.kind in "bu":  # dtype=: x cast first, as PyTorch; bool
        x = x.astype(backend.int64 if dtype is None else dtype)  # and unsigned sum as int64
    total = Sum.apply(x, dims=dims, keepdim=_keep(keepdim, keepdims))
    return total if dtype is None else total.astype(dtype)  # (NumPy sums int32 as int64)


def _count(x, dims):
    """How many entries each sum over ``dims`` adds up (all of x's when dims is None)."""
    return math.prod(x.shape[axis] for axis in (range(x.ndim) if dims is None else dims))


def mean(x, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """mean = Σx / n. A float16 x is summed in float32, as PyTorch (Σx may overflow float16
    where the mean does not: 40,000 twos have mean 2, not inf)."""
    dims = reduction_dims(x, dim, axis, "Mean")
    if dtype is not None or not backend.is_floating(x.dtype):
        x = x.astype(backend.default_float if dtype is None else dtype)
    if x.dtype == backend.float16:
        return mean(x.float(), dims, _keep(keepdim, keepdims)).half()
    return Sum.apply(x, dims=dims, keepdim=_keep(keepdim, keepdims)) / _count(x, dims)


def var(x, dim=None, keepdim=False, *, correction=None, unbiased=None, axis=None,
        keepdims=False):
    """var = Σ(x − mean)² / (n − correction); correction=1 (unbiased) by default."""
    if isinstance(dim, bool):  # x.var(False): PyTorch's var(unbiased) overload, over all
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    dims = reduction_dims(x, dim, axis, "Var")
    if x.dtype == backend.float16:  # its squares overflow past 256: float32 inside, as PyTorch
        return var(x.float(), dims, _keep(keepdim, keepdims), correction=correction).half()
    centered = x - mean(x, dims, keepdim=True)
    squares = Sum.apply(centered * centered, dims=dims, keepdim=_keep(keepdim, keepdims))
    return squares / builtins.max(_count(x, dims) - correction, 0)


def std(x, dim=None, keepdim=False, *, correction=None, unbiased=None, axis=None,
        keepdims=False):
    """std = √var. Where var = 0 (all values equal) the gradient is 0, as in PyTorch:
    the square root's slope there is infinite, so ``where`` keeps those entries away
    from the square root (a slope times 0 would be NaN, see elementwise.Relu)."""
    wide = x.float() if x.dtype == backend.float16 else x  # (as var; √ before the cast back)
    variance = var(wide, dim, keepdim, correction=correction, unbiased=unbiased, axis=axis,
                   keepdims=keepdims)
    spread = variance != 0  # (NaN stays NaN, as in PyTorch)
    deviation = where(spread, where(spread, variance, 1).sqrt(), 0)
    return deviation.half() if wide is not x else deviation


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=False, smallest=False):
    name = "Min" if smallest else "Max"
    if isinstance(dim, type(x)):  # max(a, b): elementwise, as torch.max(input, other)
        return (minimum if smallest else maximum)(x, dim)
    dims = reduction_dims(x, dim, axis, name)
    if 0 in [x.shape[axis] for axis in (range(x.ndim) if dims is None else dims)]:
        raise ValueError(f"{name}: cannot take the {name.lower()} over an empty dim of shape "
                         f"{x.shape}")
    return Max.apply(x, dims=dims, keepdim=_keep(keepdim, keepdims), smallest=smallest)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """min x: the Max op with ``smallest=True`` (so each gradient is +0 or the share)."""
    return max(x, dim, keepdim, axis=axis, keepdims=keepdims, smallest=True)


def logsumexp(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """log Σ exp(x) = m + log Σ exp(x − m) with m = max x, so exp never overflows.

    m is a constant (detached): the identity holds for any m, so the gradient,
    softmax(x), is the same, and double backward stays exact.
    """
    dims, x = reduction_dims(x, dim, axis, "LogSumExp"), floating(x)  # ints: default float
    if x.data.size == 0:  # log of a sum over nothing: log 0 = −inf
        return Sum.apply(x, dims=dims, keepdim=_keep(keepdim, keepdims)) - float("inf")
    xp = backend.xp_of(x.data)
    largest = x.data.max(axis=dims, keepdims=True)
    largest = xp.where(xp.isfinite(largest), largest, 0)  # all −inf: log Σ = −inf
    shift = constant(largest)
    out = (x - shift).exp().sum(dims, keepdim=True).log() + shift
    return out if _keep(keepdim, keepdims) else out.reshape(_reduced_shape(x.shape, dims))


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    return _arg(x, "argmax", dim, axis, _keep(keepdim, keepdims))


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    return _arg(x, "argmin", dim, axis, _keep(keepdim, keepdims))


def _arg(x, name, dim, axis, keepdim):
    """Index of the largest/smallest value (flattened when no dim): no gradient."""
    dims = reduction_dims(x, dim, axis, name)
    if dims is not None and len(dims) != 1:
        raise ValueError(f"{name}: takes a single dim, got {dim}")
    axis = None if dims is None else dims[0]
    if 0 in (x.shape if axis is None else x.shape[axis:axis + 1]):  # (PyTorch's words)
        what = "to be specified for input.numel() == 0" if axis is None else \
            f"{axis} to have non-zero size"
        raise IndexError(f"{name}(): Expected reduction dim {what}.")
    index = getattr(x.data, name)(axis=axis)
    if keepdim:
        index = index.reshape(_kept_shape(x.shape, dims))
    return constant(backend.as_array(index).astype(backend.int64))
