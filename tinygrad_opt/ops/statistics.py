"""Statistics and order statistics: PyTorch's functions beyond the core's reductions.

Almost everything here is a composition of core ops, so no gradient code is new:

* an order statistic (median, kthvalue, mode, quantile, cummax) finds *which* entry
  to take without a gradient (a stable argsort, a running max over positions), then
  takes it with ``x.gather(dim, indices)``, whose backward sends the gradient to that
  entry alone (median and nanmedian of all entries share it among the entries equal to
  it, as PyTorch's); quantile's linear interpolation is PyTorch's ``lerp``, in value
  ``below + (above − below)·w``, so the two entries get 1 − w and w (and q, if a
  tensor, gets (above − below)·(n − 1));
* the NaN-ignoring reductions replace NaN by 0 with ``where`` before summing, so the
  gradient there is exactly 0;
* counts, comparisons and bins (count_nonzero, isclose, bincount, histc,
  searchsorted, bucketize) return tensors that never require grad, except
  ``bincount``'s weighted count, a scatter-add (``IndexAdd``) of the weights.

``LogCumSumExp`` is the one op with a backward of its own: a running log-add-exp is
the stable way to compute it, and its gradient is stable only when written with the
same running log-add-exp (see its docstring).

Running maxima and log-add-exps use ``_scan``: ⌈log₂ n⌉ elementwise steps, because
CuPy's ufuncs have no ``accumulate`` except for add and multiply.
"""

from __future__ import annotations

import builtins
import functools
from collections import namedtuple

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.elementwise import constant, where
from tinygrad_opt.ops.indexing import IndexAdd
from tinygrad_opt.ops.reduce import reduction_dims
from tinygrad_opt.ops.shape import as_operand, normalize_dim, same_device

import tinygrad_opt.tensor as tensor_module

__all__: list = ["var_mean", "std_mean", "median", "nanmedian", "quantile", "nanquantile",
                 "kthvalue", "mode", "cummax", "cummin", "logcumsumexp", "nansum", "nanmean",
                 "aminmax", "count_nonzero", "isclose", "bincount", "histc", "searchsorted",
                 "bucketize"]

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = ("``(values, indices)``, as PyTorch's median, kthvalue, mode, cummax "
                         "and cummin return them.")
MinMax = namedtuple("MinMax", ["min", "max"])
MinMax.__doc__ = "``(min, max)``, as PyTorch's ``aminmax`` returns them."

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


# --- the one op with a backward of its own ---

class LogCumSumExp(Function):
    """y_i = log Σ_{j≤i} exp(x_j) along ``dim``, as a running log-add-exp:
    y_i = logaddexp(y_{i−1}, x_i), so no exp overflows (x = 1000) and no term is lost
    next to a larger one (x = −1000 beside 0).

    dL/dx_j = Σ_{i≥j} g_i · exp(x_j − y_i), with g = dL/dy. Split g = g⁺ − g⁻ (both ≥ 0):
    Σ_{i≥j} g⁺_i · exp(x_j − y_i) = exp(x_j + log Σ_{i≥j} exp(log g⁺_i − y_i)), where the
    log-sum is a LogCumSumExp taken from the far end, R. So

        dL/dx = exp(x + R(log g⁺ − y)) − exp(x + R(log g⁻ − y)),

    with every exponent ≤ log Σ|g| (as y_i ≥ x_j): stable like the forward, and made of
    LogCumSumExp, exp and ``where``, so it differentiates again. (A −inf input gives a
    NaN gradient, as PyTorch's formula does.)

    The backward is linear in g, so its derivative in g_i is exp(x_j − y_i), also at
    g_i = 0, where neither log g⁺ nor log g⁻ exists. There g_i goes into both parts
    with a constant c > 0 added: g⁺_i = g_i + c and g⁻_i = c, whose terms cancel in the
    value and give the slope 1 in g_i (a Hessian through a zero cotangent, the jvp by
    the double-vjp trick at u = 0). c = 2⁻⁶⁰·max|g| along ``dim`` (1 when that is 0 or
    not finite): small enough that the cancelled terms lose nothing next to the others.
    """

    def forward(self, x: "Array", dim: int) -> "Array":
        self.dim = dim
        return _scan(backend.xp_of(x).logaddexp, x, dim)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), y, xp, dim = self.saved_inputs, self.saved_output, self.xp, self.dim
        g, zero = grad_output, grad_output == 0
        c = _zero_offset(g, dim)
        positive = _log_part(xp, xp.where(zero, g + c, g), g >= 0, y)   # log g⁺ − y
        negative = _log_part(xp, xp.where(zero, c, -g), g <= 0, y)      # log g⁻ − y
        from_positive = xp.exp(x + _from_the_end(positive, dim))
        from_negative = xp.exp(x + _from_the_end(negative, dim))
        return from_positive - from_negative


def _zero_offset(g, dim):
    """A constant (no graph) 2⁻⁶⁰·max|g| along ``dim`` (1 where that is 0 or not finite):
    the c of LogCumSumExp's backward at entries where g = 0."""
    g = g.data if isinstance(g, tensor_module.Tensor) else g
    xp = backend.xp_of(g)
    scale = xp.abs(g).max(axis=dim, keepdims=True)
    return xp.where(xp.isfinite(scale) & (scale > 0), scale, 1.0) * 2.0 ** -60


def _log_part(xp, g, mask, y):
    """log g − y where ``mask``, the lowest finite number elsewhere (a term that adds
    nothing to a log-sum; as PyTorch's formula, not −inf: a log-sum over −inf alone has
    the derivative exp(−inf + inf) = NaN, which a second derivative would meet). Both
    ``where``s route: no gradient reaches the masked entries."""
    lowest = float(backend.np.finfo(g.dtype).min)
    return xp.where(mask, xp.log(xp.where(mask, g, 1)) - y, lowest)


def _from_the_end(a, dim):
    """LogCumSumExp along ``dim`` from the last entry back to the first."""
    reverse = (slice(None),) * dim + (slice(None, None, -1),)
    return LogCumSumExp.apply(a[reverse], dim=dim)[reverse]


# --- helpers on arrays: which entries to take (no gradient) ---

def _scan(combine, a, dim):
    """Entry i becomes combine(a_0, ..., a_i) along ``dim``, for an associative
    ``combine`` (maximum, logaddexp): after the step with shift s, each entry holds the
    combination of the 2s entries that end at it (a Hillis–Steele scan)."""
    xp, shift = backend.xp_of(a), 1
    while shift < a.shape[dim]:
        head = a[_along(dim, slice(None, shift))]                       # nothing before them
        rest = combine(a[_along(dim, slice(shift, None))], a[_along(dim, slice(None, -shift))])
        a = xp.concatenate([head, rest], axis=dim)
        shift *= 2
    return a


def _along(dim, part):
    """The index that applies ``part`` (a slice) to axis ``dim``."""
    return (slice(None),) * dim + (part,)


def _positions(xp, a, dim):
    """0, 1, ..., n−1 along axis ``dim`` of ``a``, shaped to broadcast against it."""
    n = a.shape[dim]
    return xp.arange(n).reshape((n,) + (1,) * (a.ndim - dim - 1))


def _isnan(data):
    """Where ``data`` is NaN (nowhere in an integer or bool array)."""
    xp = backend.xp_of(data)
    return xp.isnan(data) if backend.is_floating(data.dtype) else xp.zeros(data.shape, bool)


def _stable_order(data, dim):
    """The indices that sort ``data`` along ``dim``: NaN last, equal values in their order."""
    return backend.xp_of(data).argsort(data, axis=dim, kind="stable")


def _check_dim(dim, name):
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")


# --- mean and spread together ---

def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim`` (all dims by default): var = Σ(x − mean)² / (n − c),
    c = ``correction`` (1 by default; 0 with PyTorch's older ``unbiased=False``, which
    may also come alone: ``var_mean(x, False)``)."""
    if isinstance(dim, bool):  # var_mean(input, unbiased), PyTorch's other overload
        dim, unbiased = None, dim
    variance = input.var(dim, unbiased, keepdim, correction=correction)
    return variance, input.mean(dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim`` (all dims by default): std = √var, with var_mean's
    arguments."""
    if isinstance(dim, bool):  # std_mean(input, unbiased), PyTorch's other overload
        dim, unbiased = None, dim
    return input.std(dim, unbiased, keepdim, correction=correction), input.mean(dim, keepdim)


# --- order statistics ---

def median(input, dim=None, keepdim=False):
    """The median: with no ``dim``, of all entries (a 0-d tensor, NaN when there are none);
    with a ``dim``, ``(values, indices)`` along it. Of an even count it is the lower of the
    two middle values (no averaging, as PyTorch), and a row with a NaN has median NaN.
    The gradient goes to the selected entry only; with no ``dim`` it is shared equally by
    every entry equal to the median, as PyTorch's (see ``_of_all``)."""
    if dim is None:
        return _of_all(input, _middle, "median")
    return _select(input, dim, keepdim, _middle, "median")


def nanmedian(input, dim=None, keepdim=False):
    """``median`` of the entries that are not NaN (NaN only where every entry is NaN)."""
    if dim is None:
        return _of_all(input, _middle_of_numbers, "nanmedian")
    return _select(input, dim, keepdim, _middle_of_numbers, "nanmedian")


def _of_all(x, position_of, name):
    """The order statistic of all of ``x``'s entries, a 0-d tensor (NaN when there are
    none). Its gradient is shared equally by every entry equal to it (by every NaN when
    it is NaN), as PyTorch's median() and nanmedian() without a dim (their
    ``evenly_distribute_backward``): those entries are gathered, all equal, and their
    ``max`` taken, whose backward shares among ties."""
    flat = x.reshape(-1)
    if flat.numel() == 0:
        return flat.sum() + float("nan")
    value = _select(flat, 0, False, position_of, name).values.data
    xp, data = backend.xp_of(flat.data), flat.data
    equal = (data == value) | (_isnan(data) & _isnan(value))
    return flat.gather(0, constant(xp.flatnonzero(equal).astype(backend.int64))).max()


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """``(values, indices)`` of the ``k``-th smallest entry (k = 1 is the minimum) along
    ``dim``; NaN counts as larger than every number. The gradient goes to that entry."""
    size = input.shape[normalize_dim(dim, input.ndim, "kthvalue")] if input.ndim else 1
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= size:
        raise IndexError(f"kthvalue: k={k!r} is out of range for dim {dim} of size {size}")
    return _select(input, dim, keepdim, lambda xp, n, nans: xp.full_like(nans, k - 1), "kthvalue")


def _middle(xp, n, nans):
    """median's sorted position in each row: the lower middle one, or the first NaN."""
    return xp.where(nans > 0, n - nans, (n - 1) // 2)


def _middle_of_numbers(xp, n, nans):
    """nanmedian's: the lower middle of the numbers (the first NaN if there are none)."""
    count = n - nans
    return xp.where(count > 0, (count - 1) // 2, 0)


def _select(x, dim, keepdim, position_of, name):
    """``(values, indices)`` of the entry at sorted position ``position_of(xp, n, nans)``
    in each row along ``dim`` (nans: each row's NaN count, with the dim kept). The sort
    is stable, so equal values keep their order; values is ``x.gather(dim, indices)``."""
    _check_dim(dim, name)
    dim = normalize_dim(dim, x.ndim, name)
    if x.ndim == 0:
        return _select(x.reshape(1), 0, False, position_of, name)
    if x.shape[dim] == 0:
        raise IndexError(f"{name}: dim {dim} of shape {x.shape} is empty")
    xp, data = backend.xp_of(x.data), x.data
    nans = _isnan(data).sum(axis=dim, keepdims=True)                 # (kept shape)
    position = position_of(xp, x.shape[dim], nans)                   # (kept shape)
    indices = xp.take_along_axis(_stable_order(data, dim), position, axis=dim)
    values = x.gather(dim, constant(indices))
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return ValuesIndices(values, constant(indices.astype(backend.int64)))


def mode(input, dim: int = -1, keepdim: bool = False):
    """``(values, indices)`` of the most frequent value along ``dim``: the smallest one
    when several are as frequent (as PyTorch), and the index of its last occurrence.
    Each NaN counts as a value of its own. The gradient goes to that entry.

    In a stable sort equal values form runs; a run's length, at its last entry, is its
    position minus the run's start (a running max of the starts) plus one."""
    _check_dim(dim, "mode")
    dim = normalize_dim(dim, input.ndim, "mode")
    if input.ndim == 0:
        return mode(input.reshape(1), 0)
    if input.shape[dim] == 0:
        raise IndexError(f"mode: dim {dim} of shape {input.shape} is empty")
    xp = backend.xp_of(input.data)
    order = _stable_order(input.data, dim)
    ordered = xp.take_along_axis(input.data, order, axis=dim)
    position = _positions(xp, ordered, dim)
    changes = ordered[_along(dim, slice(1, None))] != ordered[_along(dim, slice(None, -1))]
    edge = xp.ones(ordered[_along(dim, slice(None, 1))].shape, bool)    # the row's ends
    starts = xp.concatenate([edge, changes], axis=dim)               # a run begins here
    ends = xp.concatenate([changes, edge], axis=dim)                 # a run ends here
    run_start = _scan(xp.maximum, xp.where(starts, position, 0), dim)
    run_length = xp.where(ends, position - run_start + 1, 0)
    longest = xp.expand_dims(run_length.argmax(axis=dim), dim)       # the first: smallest value
    indices = xp.take_along_axis(order, longest, axis=dim)
    values = input.gather(dim, constant(indices))
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return ValuesIndices(values, constant(indices.astype(backend.int64)))


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles of ``x`` along ``dim`` (of all entries by default); ``q`` is a
    number or a 0-D/1-D tensor in [0, 1] (a 1-D q puts its axis first in the result).

    Sorted rows v_0 ≤ ... ≤ v_{n−1}; rank r = q·(n − 1), below = ⌊r⌋, above = ⌈r⌉:

        linear    v_below + (v_above − v_below)·(r − below)
        lower     v_below          higher   v_above
        midpoint  (v_below + v_above) / 2
        nearest   v_round(r)       (ties to the even position, as PyTorch's round)

    linear and midpoint are computed as PyTorch's ``lerp`` (from v_above when the weight
    is ≥ 0.5), so the last bit and infinities come out as PyTorch's. A row with a NaN
    gives NaN. Gradients: the selected entries, weighted as above; a tensor q gets
    (v_above − v_below)·(n − 1) (linear)."""
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` of the entries that are not NaN: n counts the numbers of each row
    (NaN only where a row has no number)."""
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


def _quantile(x, q, dim, keepdim, interpolation, ignore_nan, name):
    if not backend.is_floating(x.dtype):
        raise TypeError(f"{name}: input must be a float tensor, got dtype {x.dtype}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{name}: interpolation must be one of {_INTERPOLATIONS}, "
                         f"got {interpolation!r}")
    if x.numel() == 0:
        raise ValueError(f"{name}: input tensor must be non-empty, got shape {x.shape}")
    q_row, q_is_scalar = _quantile_row(q, x, name)                  # (Q,)
    if dim is None:
        rows, out_shape = x.reshape(-1), ((1,) * x.ndim if keepdim else ())
    else:
        _check_dim(dim, name)
        dim = normalize_dim(dim, x.ndim, name)
        others = [d for d in range(x.ndim) if d != dim]
        rows = x.permute(*others, dim) if x.ndim else x.reshape(1)  # (..., n): dim last
        kept = x.shape[:dim] + (1,) + x.shape[dim + 1:] if x.ndim else ()
        out_shape = kept if keepdim else tuple(x.shape[d] for d in others)
    xp, n = backend.xp_of(x.data), rows.shape[-1]
    nans = _isnan(rows.data).sum(axis=-1, keepdims=True)            # (..., 1)
    count = n - nans if ignore_nan else xp.full_like(nans, n)
    rank = q_row * constant((count - 1).astype(x.dtype))            # (..., Q)
    if ignore_nan:
        rank = where(constant(count > 0), rank, 0)                  # no numbers: a NaN
    else:
        rank = where(constant(nans > 0), n - 1, rank)               # the last entry, a NaN
    order = _stable_order(rows.data, -1)
    below = xp.floor(rank.data)
    if interpolation == "nearest":
        result = _sorted_entries(rows, order, xp.round(rank.data))
    elif interpolation == "lower":
        result = _sorted_entries(rows, order, below)
    elif interpolation == "higher":
        result = _sorted_entries(rows, order, xp.ceil(rank.data))
    else:
        low = _sorted_entries(rows, order, below)
        high = _sorted_entries(rows, order, xp.ceil(rank.data))
        weight = rank - constant(below) if interpolation == "linear" else 0.5
        result = _lerp(low, high, weight)                           # (..., Q)
    if q_is_scalar:
        return result.reshape(out_shape)
    result = result.permute(result.ndim - 1, *range(result.ndim - 1))   # (Q, ...)
    return result.reshape((q_row.shape[0],) + out_shape)


def _lerp(low, high, weight):
    """PyTorch's ``lerp``, which its quantile calls: low + (high − low)·w for w < 0.5, else
    high − (high − low)·(1 − w). The two agree except in the last bit and at infinities:
    quantile([1, inf], 0.5) is inf − inf·0.5 = NaN, as PyTorch's (not 1 + inf·0.5 = inf)."""
    difference = high - low
    if not isinstance(weight, tensor_module.Tensor):                # midpoint: w = 0.5
        return high - difference * (1 - weight)
    return where(weight < 0.5, low + difference * weight, high - difference * (1 - weight))


def _sorted_entries(rows, order, positions):
    """The entries of ``rows`` at sorted ``positions`` (floats holding whole numbers, one
    set per row): a gather, so the gradient reaches the entries taken."""
    xp = backend.xp_of(order)
    indices = xp.take_along_axis(order, positions.astype(backend.int64), axis=-1)
    return rows.gather(-1, constant(indices))


def _quantile_row(q, x, name):
    """``(q as a 1-D tensor in x's dtype and device, whether q was a number or 0-d)``,
    after checking that every q is in [0, 1]."""
    Tensor = tensor_module.Tensor
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise ValueError(f"{name}: q must be a number or a 0-D or 1-D tensor, got shape "
                             f"{q.shape}")
        if q.dtype != x.dtype:
            raise TypeError(f"{name}: q must have the input's dtype {x.dtype}, got {q.dtype}")
        host, row = backend.to_host(q.data), q.reshape(-1)
    elif isinstance(q, (int, float)) and not isinstance(q, bool):
        host = backend.to_host([q])
        row = constant(backend.xp_of(x.data).asarray([q], dtype=x.dtype))
    else:
        raise TypeError(f"{name}: q must be a number or a tensor, got {type(q).__name__}")
    if not ((host >= 0) & (host <= 1)).all():
        raise ValueError(f"{name}: q values must be in the range [0, 1], got {host.tolist()}")
    return row, not isinstance(q, Tensor) or q.ndim == 0


# --- running maxima, minima and log-sum-exps ---

def cummax(input, dim: int):
    """``(values, indices)``: the running maximum along ``dim``, y_i = max(x_0, ..., x_i),
    and where it was attained. As PyTorch: on a tie the later index wins, and once a NaN
    appears the values stay NaN, each later NaN taking over the index. values is
    ``x.gather(dim, indices)``: the gradient goes to the running arg-max positions."""
    return _running_extreme(input, dim, "cummax", larger=True)


def cummin(input, dim: int):
    """``(values, indices)``: the running minimum along ``dim`` (ties and NaN as cummax)."""
    return _running_extreme(input, dim, "cummin", larger=False)


def _running_extreme(x, dim, name, larger):
    _check_dim(dim, name)
    dim = normalize_dim(dim, x.ndim, name)
    if x.ndim == 0:
        values, indices = _running_extreme(x.reshape(1), 0, name, larger)
        return ValuesIndices(values.reshape(()), indices.reshape(()))
    xp, data = backend.xp_of(x.data), x.data
    extreme = _scan(xp.maximum if larger else xp.minimum, data, dim)   # NaN propagates
    takes_over = (data == extreme) | _isnan(data)     # entry i is (again) the running extreme
    positions = xp.where(takes_over, _positions(xp, data, dim), 0)
    indices = _scan(xp.maximum, positions, dim).astype(backend.int64)   # the latest one
    return ValuesIndices(x.gather(dim, constant(indices)), constant(indices))


def computed_in_float32(function):
    """``function`` of a float16 input computed in float32, its result cast back, as
    PyTorch's kernels compute half precision in float. The normalisations: PyTorch's CPU
    kernels accumulate half-precision statistics in float, and a float16 square overflows
    past 256, so the variance of activations of a few hundred would be inf and every output
    0 (the parameters, float16, meet the float32 input by promotion; running statistics are
    written back into their float16 buffers). ``round(x, decimals)``: x · 10^decimals is
    rounded once, not first to float16."""
    @functools.wraps(function)
    def in_float32(input, *args, **kwargs):
        if input.dtype != backend.float16:
            return function(input, *args, **kwargs)
        return function(input.astype(backend.float32), *args, **kwargs).astype(backend.float16)
    return in_float32


@computed_in_float32
def logcumsumexp(input, dim: int):
    """y_i = log Σ_{j≤i} exp(x_j) along ``dim``, computed stably (see ``LogCumSumExp``).
    float16 is accumulated in float32 and each entry rounded once, as PyTorch's kernel."""
    _check_dim(dim, "logcumsumexp")
    if not backend.is_floating(input.dtype):
        raise TypeError(f"logcumsumexp: input must be a float tensor, got dtype {input.dtype}")
    dim = normalize_dim(dim, input.ndim, "logcumsumexp")
    if input.ndim == 0:
        return LogCumSumExp.apply(input.reshape(1), dim=0).reshape(())
    return LogCumSumExp.apply(input, dim=dim)


# --- reductions that skip NaN, and both extremes at once ---

def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Σ x over ``dim`` (all dims by default) with NaN entries counted as 0; their
    gradient is exactly 0 (``where`` routes it)."""
    if dtype is not None:
        input = input.astype(dtype)
    if backend.is_floating(input.dtype):
        input = where(input.isnan(), 0, input)
    return input.sum(dim, keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the entries that are not NaN: nansum / (number of non-NaN entries);
    NaN where a row has none. NaN entries get gradient 0."""
    if dtype is not None:
        input = input.astype(dtype)
    if not backend.is_floating(input.dtype):
        raise TypeError(f"nanmean: input must be a float tensor, got dtype {input.dtype}")
    numbers = (~input.isnan()).sum(dim, keepdim)
    return nansum(input, dim, keepdim) / numbers.astype(input.dtype)


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` over ``dim`` (all dims by default), as ``amin`` and ``amax``: tied
    extremes share the gradient equally. Over an empty dim (or all of an empty tensor) it
    raises; along a full dim of an empty tensor the results are empty, as PyTorch's."""
    if input.numel() == 0 and (dim is None or  # (an empty tensor has dims)
                               input.shape[normalize_dim(dim, input.ndim, "aminmax")] == 0):
        raise ValueError(f"aminmax: cannot take the min and max of an empty tensor of shape "
                         f"{input.shape}" + ("" if dim is None else f" over dim {dim}"))
    return MinMax(input.amin(dim, keepdim), input.amax(dim, keepdim))


# --- counts, comparisons and bins (no gradient, except bincount's weights) ---

def count_nonzero(input, dim=None):
    """The number of nonzero entries over ``dim`` (an int, a tuple, or all dims), int64."""
    dims = reduction_dims(input, dim, None, "count_nonzero")
    return constant((input.data != 0).sum(axis=dims).astype(backend.int64))


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """True where |x − other| ≤ atol + rtol·|other| (both finite), or x == other (equal
    infinities), or, with ``equal_nan``, both are NaN. The dtypes must match (a Python
    number takes x's)."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    other = as_operand(other, input, "isclose")
    if other.dtype != input.dtype:
        raise TypeError(f"isclose: both inputs must have one dtype, got {input.dtype} and "
                        f"{other.dtype}")
    xp, a, b = backend.xp_of(input.data), input.data, other.data
    close = a == b
    if equal_nan:
        close = close | (_isnan(a) & _isnan(b))
    if not backend.is_floating(a.dtype):
        a, b = a.astype(backend.float64), b.astype(backend.float64)
    finite = xp.isfinite(a) & xp.isfinite(b)       # (inf − inf would be NaN: keep it out)
    a, b = xp.where(finite, a, 0), xp.where(finite, b, 0)
    error = abs(a - b)
    close = close | (finite & xp.isfinite(error) & (error <= atol + abs(rtol * b)))
    return constant(close)


def bincount(input, weights=None, minlength: int = 0):
    """How often each of 0, 1, ..., max(x) occurs in ``x``, a 1-D tensor of non-negative
    integers (at least ``minlength`` bins). With ``weights`` (x's shape), bin b holds
    Σ weights[x == b]: a scatter-add, whose gradient is weights' gradient, picked back at
    x (float32 weights give float32, others float64, as PyTorch; an empty x gives int64
    zeros, weights or not, as PyTorch's early return)."""
    if input.ndim != 1 or input.dtype.kind not in "iu":
        raise TypeError(f"bincount: expected a 1-D tensor of integers, got shape {input.shape} "
                        f"of dtype {input.dtype}")
    if isinstance(minlength, bool) or not isinstance(minlength, int) or minlength < 0:
        raise ValueError(f"bincount: minlength must be an int >= 0, got {minlength!r}")
    xp, data = backend.xp_of(input.data), input.data
    largest = backend.to_host(data.max()).item() if data.size else -1
    if data.size and backend.to_host(data.min()).item() < 0:
        raise ValueError(f"bincount: entries must be non-negative, got a minimum of "
                         f"{backend.to_host(data.min()).item()}")
    length = builtins.max(largest + 1, minlength)
    if not data.size:   # PyTorch returns before reading weights: int64 zeros either way
        return constant(xp.zeros(length, dtype=backend.int64))
    if weights is None:
        return constant(xp.bincount(data, minlength=length).astype(backend.int64))
    if weights.shape != input.shape:
        raise ValueError(f"bincount: weights of shape {weights.shape} for input of shape "
                         f"{input.shape}; they must be the same")
    dtype = backend.float32 if weights.dtype == backend.float32 else backend.float64
    return IndexAdd.apply(weights.astype(dtype), index=(data.copy(),), shape=(length,))


def histc(input, bins: int = 100, min=0, max=0):
    """A histogram of ``bins`` equal bins over [min, max], in x's (float) dtype; entries
    outside (and NaN) are not counted, an entry equal to max falls in the last bin.
    min == max means the data's own range (widened by 1 each side if all are equal).
    Entry v falls in bin ⌊(v − min)·bins / (max − min)⌋, as PyTorch, all in x's dtype
    (min and max rounded to it first, as PyTorch's edges are). No gradient."""
    if not backend.is_floating(input.dtype):
        raise TypeError(f"histc: input must be a float tensor, got dtype {input.dtype}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins <= 0:
        raise ValueError(f"histc: bins must be an int > 0, got {bins!r}")
    low, high = float(min), float(max)
    if low > high:
        raise ValueError(f"histc: max must be larger than min, got min={low}, max={high}")
    xp, data = backend.xp_of(input.data), input.data.reshape(-1)
    if low == high and data.size:
        low, high = backend.to_host(data.min()).item(), backend.to_host(data.max()).item()
    if not (abs(low) < float("inf") and abs(high) < float("inf")):
        raise ValueError(f"histc: range of [{low}, {high}] is not finite")
    if low == high:
        low, high = low - 1, high + 1
    low, high = data.dtype.type(low), data.dtype.type(high)        # as PyTorch's bin edges
    inside = (data >= low) & (data <= high)
    scaled = (xp.where(inside, data, low) - low) * bins / (high - low)
    index = xp.minimum(scaled.astype(backend.int64), bins - 1)      # max: the last bin
    index = xp.where(inside, index, bins)                           # outside: a spare bin
    counts = xp.bincount(index, minlength=bins + 1)[:bins]
    return constant(counts.astype(input.dtype))


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """For each value, the index where it would go in ``sorted_sequence`` (along its last
    dim) to keep it sorted: the first i with s[i] ≥ v (left), or with s[i] > v (right, or
    ``side='right'``). An N-D sequence searches row by row, its leading dims matching the
    values'; ``sorter`` (indices that sort the sequence) replaces the sorting. int64
    (int32 with ``out_int32``), no gradient."""
    if side not in (None, "left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if side == "left" and right:
        raise ValueError("searchsorted: side='left' and right=True contradict each other")
    right = right or side == "right"
    same_device("searchsorted", *[t for t in (sorted_sequence, values, sorter)
                                  if isinstance(t, tensor_module.Tensor)])
    if sorted_sequence.ndim == 0:
        raise ValueError("searchsorted: the sorted sequence must have at least 1 dim, got a "
                         "0-d tensor")
    xp, boundaries = backend.xp_of(sorted_sequence.data), sorted_sequence.data
    if sorter is not None:
        _check_sorter(sorter, sorted_sequence)
        boundaries = xp.take_along_axis(boundaries, sorter.data, axis=-1)
    Tensor = tensor_module.Tensor
    if not isinstance(values, Tensor) and boundaries.ndim != 1:
        raise ValueError(f"searchsorted: a number as values needs a 1-D sequence, got shape "
                         f"{boundaries.shape}")
    points = values.data if isinstance(values, Tensor) else xp.asarray(values)
    if boundaries.ndim == 1:
        index = xp.searchsorted(boundaries, points, side="right" if right else "left")
    elif boundaries.shape[:-1] != points.shape[:-1]:
        raise ValueError(f"searchsorted: the sequence of shape {boundaries.shape} and the "
                         f"values of shape {points.shape} differ in their leading dims")
    else:   # the index is how many entries of the row come before v: not (s ≥ v), not
        # (s > v) as PyTorch's binary search tests, so a NaN v goes last (n), as in 1-D
        row, point = boundaries[..., None, :], points[..., :, None]
        index = (~((row > point) if right else (row >= point))).sum(axis=-1)
    return constant(backend.as_array(index).astype(backend.int32 if out_int32
                                                   else backend.int64))


def _check_sorter(sorter, sequence):
    """As PyTorch's checks: ``sorter`` is an integer tensor of the sequence's shape whose
    entries index the sequence's last dim."""
    if not isinstance(sorter, tensor_module.Tensor) or sorter.dtype.kind not in "iu":
        raise TypeError(f"searchsorted: sorter must be an integer tensor, got "
                        f"{getattr(sorter, 'dtype', type(sorter).__name__)}")
    if sorter.shape != sequence.shape:
        raise ValueError(f"searchsorted: sorter of shape {sorter.shape} for a sequence of "
                         f"shape {sequence.shape}; they must be the same")
    size = sequence.shape[-1]
    if sorter.numel() and not backend.to_host(((sorter.data >= 0) & (sorter.data < size)).all()):
        raise IndexError(f"searchsorted: sorter index out of range [0, {size})")


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each entry of ``x`` among the sorted 1-D ``boundaries``: i such that
    b[i−1] < v ≤ b[i] (right=False) or b[i−1] ≤ v < b[i] (right=True); that is
    ``searchsorted(boundaries, x, right=right)``."""
    if boundaries.ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {boundaries.shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


class StatisticsMethods:
    """Tensor methods of this module (``Tensor`` inherits them through ``Conveniences``),
    those that PyTorch's Tensor has; ``tg.var_mean``, ``tg.std_mean``, ``tg.searchsorted``
    and ``tg.bucketize`` are functions only, as in PyTorch."""

    __slots__ = ()

    def median(self, dim=None, keepdim=False):
        """The median (the lower middle value), of all entries or ``(values, indices)``
        along ``dim``: ``tg.median``."""
        return median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim=False):
        """The median of the entries that are not NaN: ``tg.nanmedian``."""
        return nanmedian(self, dim, keepdim)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """The ``q``-quantiles along ``dim`` (all entries by default): ``tg.quantile``."""
        return quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """The ``q``-quantiles of the entries that are not NaN: ``tg.nanquantile``."""
        return nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def kthvalue(self, k, dim=-1, keepdim=False):
        """``(values, indices)`` of the k-th smallest along ``dim``: ``tg.kthvalue``."""
        return kthvalue(self, k, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        """``(values, indices)`` of the most frequent value along ``dim``: ``tg.mode``."""
        return mode(self, dim, keepdim)

    def cummax(self, dim):
        """``(values, indices)`` of the running maximum along ``dim``: ``tg.cummax``."""
        return cummax(self, dim)

    def cummin(self, dim):
        """``(values, indices)`` of the running minimum along ``dim``: ``tg.cummin``."""
        return cummin(self, dim)

    def logcumsumexp(self, dim):
        """log Σ_{j≤i} exp(x_j) along ``dim``, stable: ``tg.logcumsumexp``."""
        return logcumsumexp(self, dim)

    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        """Σ over ``dim`` with NaN counted as 0: ``tg.nansum``."""
        return nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim=None, keepdim=False, *, dtype=None):
        """The mean over ``dim`` of the entries that are not NaN: ``tg.nanmean``."""
        return nanmean(self, dim, keepdim, dtype=dtype)

    def aminmax(self, *, dim=None, keepdim=False):
        """``(min, max)`` over ``dim`` (all dims by default): ``tg.aminmax``."""
        return aminmax(self, dim=dim, keepdim=keepdim)

    def count_nonzero(self, dim=None):
        """The number of nonzero entries over ``dim``: ``tg.count_nonzero``."""
        return count_nonzero(self, dim)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True where |self − other| ≤ atol + rtol·|other|: ``tg.isclose``."""
        return isclose(self, other, rtol, atol, equal_nan)

    def bincount(self, weights=None, minlength=0):
        """Counts (or summed weights) of each non-negative integer: ``tg.bincount``."""
        return bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):
        """A histogram of ``bins`` equal bins over [min, max]: ``tg.histc``."""
        return histc(self, bins, min, max)

