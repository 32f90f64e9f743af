"""PyTorch's remaining everyday Tensor spellings and top-level functions (``x.mm``,
``tg.hstack``, ``tg.cov``, ...), each a composition of existing ops, outside the
reading path.

Nothing here has a backward of its own: each gradient is that of the core ops a
function calls, so it is exact and differentiable again.

* other names: ``absolute`` is ``abs``, ``multiply`` is ``*``, ``greater`` is ``>``,
  ``fix`` is ``trunc``, ``ger`` is ``outer``, ``row_stack`` is ``vstack``, ...;
* NaN-ignoring extremes: ``fmax(a, b) = where(a >= b or b is NaN, a, b)``, so the
  gradient goes wholly to the value picked (to ``a`` at ties, as PyTorch);
* products: ``addr`` is ``β·input + α·outer(v1, v2)``, ``mv``, ``vdot``, ``dist`` (the
  p-norm of the difference, ``tg.linalg.vector_norm``);
* statistics and calculus: ``cov`` and ``corrcoef`` (weighted means and a matmul),
  ``trapezoid`` / ``cumulative_trapezoid`` (sums of (y_i + y_{i+1})/2 · Δx_i) and
  ``gradient`` (central differences, one-sided at the edges);
* splitting and stacking: ``tensor_split`` (slices), ``hstack`` / ``vstack`` / ``dstack``
  / ``column_stack`` (reshapes, then ``cat``);
* writing into a copy: ``select_scatter``, ``slice_scatter``, ``index_copy``:
  ``out = input.clone(); out[place] = src``, recorded as ``SetItem``, so the
  overwritten places of ``input`` get a gradient of 0 and ``src`` the gradient of the
  places it went to.

What has no gradient (``gcd``, ``isin``, ``histogram``, ``unravel_index``, bitwise and
logical ops, the in-place random fills) returns tensors that never require grad.
Each function is ``tg.<name>(input, ...)`` where PyTorch has ``torch.<name>`` and, through
``EverydayMethods``, the Tensor method ``input.<name>(...)`` where PyTorch has one.
"""

from __future__ import annotations

import itertools
import math
import mmap
import operator
import weakref
from collections import namedtuple

from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.ops import einsum as einsum_ops
from tinygrad_opt.ops.elementwise import _promote, constant, floating, where
from tinygrad_opt.ops.linalg import matmul
from tinygrad_opt.ops.math_ops import floor_divide, trunc
from tinygrad_opt.ops.rearrange import (_along, _check_random_fill, _check_range,
                                        _check_same_dtype, _dim_of, _fill_with_samples,
                                        _in_place, _long_tensor, _sizes, _tensor,
                                        atleast_1d, atleast_2d, atleast_3d, diag)
from tinygrad_opt.ops.shape import (as_operand, broadcast_to, cat, normalize_dim, reshape,
                                     sum_to_shape)
from tinygrad_opt.ops.special import finfo, iinfo

import tinygrad_opt.tensor as tensor_module

__all__: list = [
    "absolute", "divide", "multiply", "subtract", "true_divide", "negative", "positive",
    "fix", "deg2rad", "rad2deg", "hardshrink",
    "greater", "greater_equal", "less", "less_equal", "not_equal", "logical_xor",
    "bitwise_and", "bitwise_or", "bitwise_not", "isneginf", "isposinf", "isreal",
    "is_floating_point", "is_nonzero", "isin", "fmax", "fmin", "gcd", "lcm",
    "addr", "ger", "vdot", "mv", "dist", "cov", "corrcoef", "histogram",
    "trapezoid", "trapz", "cumulative_trapezoid", "gradient",
    "tensor_split", "hsplit", "vsplit", "dsplit", "hstack", "vstack", "row_stack", "dstack",
    "column_stack", "select", "select_scatter", "slice_scatter", "index_copy", "msort",
    "diagflat", "unflatten", "t", "unravel_index", "combinations",
    "broadcast_shapes", "broadcast_tensors", "result_type", "logspace",
    "cholesky", "svd", "vmap",
]

HistogramResult = namedtuple("histogram", ["hist", "bin_edges"])
HistogramResult.__doc__ = "``(hist, bin_edges)``, as ``torch.histogram`` returns them."
SvdResult = namedtuple("svd", ["U", "S", "V"])
SvdResult.__doc__ = "``(U, S, V)`` with A = U diag(S) Vᵀ, as the deprecated ``torch.svd``."


def _functions():
    """The module ``tinygrad_opt.functions`` (mm, dot, allclose, ...), imported on first
    use: it imports ``Tensor``, which inherits this file's methods."""
    from tinygrad_opt import functions
    return functions


def _linalg():
    """The module ``tinygrad_opt.linalg``, imported on first use (as ``_functions``)."""
    from tinygrad_opt import linalg
    return linalg


def _check_broadcast(name: str, *tensors) -> tuple:
    """The shape the tensors broadcast to; a ValueError naming ``name`` if they do not."""
    try:
        return backend.broadcast_shapes(*(tensor.shape for tensor in tensors))
    except ValueError:
        shown = " and ".join(str(tensor.shape) for tensor in tensors)
        raise ValueError(f"{name}: shapes {shown} cannot be broadcast together") from None


def _operands(input, other, name: str) -> tuple:
    """``input`` (a Tensor) and ``other`` (a Tensor or a number) in one dtype, by the
    core's promotion (``elementwise._promote``), checked to broadcast."""
    input = _tensor(input, name)
    other = as_operand(other, input, name)
    _check_broadcast(name, input, other)
    if input.dtype != other.dtype:
        input, other = _promote(input, other)
    return input, other


# --- other names for arithmetic ---

def absolute(input):
    """|x|, elementwise: ``abs``."""
    return abs(_tensor(input, "absolute"))


def divide(input, other, *, rounding_mode=None):
    """``input / other`` with ``rounding_mode`` None (true division), 'trunc' (rounded
    toward 0) or 'floor' (rounded toward −∞, ``floor_divide``); integers stay integers
    when rounded. A rounded quotient is a staircase: its gradient is 0."""
    input = _tensor(input, "divide")
    if rounding_mode is None:
        return input / other
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        return _trunc_divide(input, other)
    raise ValueError(f"divide: rounding_mode must be None, 'trunc' or 'floor', got "
                     f"{rounding_mode!r}")


def _trunc_divide(input, other):
    """trunc(input / other): for floats the true quotient truncated; for integers the floor
    quotient q, plus 1 where q < 0 and the division is inexact (q·other ≠ input)."""
    other = as_operand(other, input, "divide")
    if backend.is_floating(input.dtype) or backend.is_floating(other.dtype):
        return trunc(input / other)
    quotient = floor_divide(input, other)                       # rounded toward −∞
    inexact = quotient * other != input
    return where((quotient < 0) & inexact, quotient + 1, quotient)


def multiply(input, other):
    """``input * other``, elementwise."""
    return _tensor(input, "multiply") * other


def subtract(input, other, *, alpha=1):
    """``input − alpha · other``, elementwise."""
    return _tensor(input, "subtract").sub(other, alpha=alpha)


def true_divide(input, other):
    """``input / other``, true division (integers give the default float dtype)."""
    return _tensor(input, "true_divide") / other


def negative(input):
    """−x, elementwise."""
    return -_tensor(input, "negative")


def positive(input):
    """+x: the tensor itself (PyTorch refuses bool tensors, as here)."""
    if _tensor(input, "positive").dtype == backend.bool_:
        raise RuntimeError("positive: the `+` operator, on a bool tensor is not supported "
                           "(PyTorch's rule; convert it first, e.g. .int())")
    return input


def fix(input):
    """x rounded toward 0, elementwise: ``trunc``; the gradient is 0."""
    return trunc(_tensor(input, "fix"))


def deg2rad(input):
    """Degrees to radians: y = x · π / 180 (integers become the default float dtype)."""
    return floating(_tensor(input, "deg2rad")) * (math.pi / 180.0)


def rad2deg(input):
    """Radians to degrees: y = x · 180 / π (integers become the default float dtype)."""
    return floating(_tensor(input, "rad2deg")) * (180.0 / math.pi)


def hardshrink(input, lambd: float = 0.5):
    """x where |x| > λ, else 0: ``where``, so the gradient is 1 outside [−λ, λ] and exactly
    0 inside (and at ±λ, as PyTorch). PyTorch's test, −λ ≤ x ≤ λ → 0, so a NaN (never
    inside) stays NaN, as ``F.hardshrink``."""
    x = _tensor(input, "hardshrink")
    return where((x >= -lambd) & (x <= lambd), 0, x)


# --- comparisons, logic and tests (no gradient) ---

def greater(input, other):
    """``input > other``, elementwise (a bool tensor)."""
    return _tensor(input, "greater") > other


def greater_equal(input, other):
    """``input >= other``, elementwise (a bool tensor)."""
    return _tensor(input, "greater_equal") >= other


def less(input, other):
    """``input < other``, elementwise (a bool tensor)."""
    return _tensor(input, "less") < other


def less_equal(input, other):
    """``input <= other``, elementwise (a bool tensor)."""
    return _tensor(input, "less_equal") <= other


def not_equal(input, other):
    """``input != other``, elementwise (a bool tensor)."""
    return _tensor(input, "not_equal") != other


def logical_xor(input, other):
    """True where exactly one of the two is nonzero (NaN counts as nonzero)."""
    input = _tensor(input, "logical_xor")
    other = as_operand(other, input, "logical_xor")
    _check_broadcast("logical_xor", input, other)
    return constant((input.data != 0) ^ (other.data != 0))


def _bitwise(name: str, input, other):
    """``xp.<name>`` of two bool or integer operands, promoted as ``+`` promotes them."""
    input, other = _operands(input, other, name)
    for operand in (input, other):
        if backend.is_floating(operand.dtype):
            raise TypeError(f"{name}: only bool and integer tensors, got dtype {operand.dtype}")
    return constant(getattr(backend.xp_of(input.data), name)(input.data, other.data))


def bitwise_and(input, other):
    """input & other, bit by bit, for bool and integer tensors (no gradient)."""
    return _bitwise("bitwise_and", input, other)


def bitwise_or(input, other):
    """input | other, bit by bit, for bool and integer tensors (no gradient)."""
    return _bitwise("bitwise_or", input, other)


def bitwise_not(input):
    """~x, bit by bit, for integer tensors; logical not for bool tensors (no gradient)."""
    if backend.is_floating(_tensor(input, "bitwise_not").dtype):
        raise TypeError(f"bitwise_not: only bool and integer tensors, got dtype {input.dtype}")
    return constant(~input.data)


def isneginf(input):
    """True where the value is −inf (never for integers)."""
    return constant(_tensor(input, "isneginf").data == -math.inf)


def isposinf(input):
    """True where the value is +inf (never for integers)."""
    return constant(_tensor(input, "isposinf").data == math.inf)


def isreal(input):
    """True where the value is real: everywhere, as every dtype here is real."""
    x = _tensor(input, "isreal")
    return constant(backend.xp_of(x.data).ones(x.shape, dtype=backend.bool_))


def is_floating_point(input) -> bool:
    """True for a float16, float32 or float64 tensor."""
    return backend.is_floating(_tensor(input, "is_floating_point").dtype)


def is_nonzero(input) -> bool:
    """Whether the one element of ``input`` is nonzero (a tensor of one element only)."""
    x = _tensor(input, "is_nonzero")
    if x.data.size != 1:  # (PyTorch's words)
        what = "no values" if x.data.size == 0 else "more than one value"
        raise RuntimeError(f"is_nonzero: Boolean value of Tensor with {what} is ambiguous "
                           f"(shape {x.shape})")
    return bool(x.data.item() != 0)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False):
    """True where an element of ``elements`` is among ``test_elements`` (either may be a
    number), in ``elements``' shape; ``invert`` gives the opposite, ``assume_unique`` says
    both hold distinct values (a faster path). No gradient."""
    Tensor = tensor_module.Tensor
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin: expected a Tensor among elements and test_elements, got "
                        f"{type(elements).__name__} and {type(test_elements).__name__}")
    like = elements if isinstance(elements, Tensor) else test_elements
    elements, test_elements = (as_operand(value, like, "isin")
                               for value in (elements, test_elements))
    xp = backend.xp_of(elements.data)
    return constant(xp.isin(elements.data, test_elements.data, assume_unique=assume_unique,
                            invert=invert))


# --- NaN-ignoring extremes, number theory ---

def fmax(input, other):
    """The elementwise maximum that ignores NaN (NaN only where both are NaN):
    y = where(a >= b or b is NaN, a, b). The gradient goes wholly to the value picked, to
    ``input`` at ties (PyTorch's; ``tg.maximum`` shares ties half and half)."""
    return _nan_ignoring("fmax", input, other, larger=True)


def fmin(input, other):
    """The elementwise minimum that ignores NaN: y = where(a <= b or b is NaN, a, b); the
    gradient goes to the value picked, to ``input`` at ties."""
    return _nan_ignoring("fmin", input, other, larger=False)


def _nan_ignoring(name: str, input, other, larger: bool):
    input, other = _operands(input, other, name)
    beats = input >= other if larger else input <= other
    return where(beats | other.isnan(), input, other)


def _integer_function(name: str, input, other):
    """``xp.<name>`` of two integer operands, promoted as ``+`` promotes them."""
    input, other = _operands(input, other, name)
    for operand in (input, other):
        if operand.dtype.kind not in "iu":
            raise TypeError(f"{name}: only integer tensors, got dtype {operand.dtype}")
    return constant(getattr(backend.xp_of(input.data), name)(input.data, other.data))


def gcd(input, other):
    """The greatest common divisor, elementwise, ≥ 0 (gcd(0, 0) = 0); integers only."""
    return _integer_function("gcd", input, other)


def lcm(input, other):
    """The least common multiple, elementwise, ≥ 0 (0 if either is 0); integers only."""
    return _integer_function("lcm", input, other)


# --- products and distances ---

def _check_vectors(name: str, **vectors) -> None:
    for what, vector in vectors.items():
        if _tensor(vector, name).ndim != 1:
            raise ValueError(f"{name}: {what} must be 1-D, got shape {vector.shape}")


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """out = β · input + α · outer(vec1, vec2): out[i, j] = β·input[i, j] + α·v1_i·v2_j,
    input broadcast to (len(vec1), len(vec2)). With β = 0 the input is ignored."""
    _check_vectors("addr", vec1=vec1, vec2=vec2)
    outer = vec1.reshape(-1, 1) * vec2.reshape(1, -1)                  # (n, m)
    return einsum_ops._scaled_sum("addr", input, lambda product: product, (outer,), beta,
                                  alpha, widen=False)


def ger(input, vec2):
    """The outer product input_i · vec2_j of two vectors: ``outer`` (its old name)."""
    return _functions().outer(input, vec2)


def vdot(input, other):
    """Σ a_i b_i of two vectors of one length and one dtype, in that dtype: ``dot`` (no
    complex conjugate: every dtype here is real); float16 in float32, rounded once, as dot."""
    _check_vectors("vdot", input=input, other=other)
    if input.shape != other.shape:
        raise ValueError(f"vdot: expected two vectors of one length, got shapes {input.shape} "
                         f"and {other.shape}")
    einsum_ops._check_dtypes("vdot", input=input, other=other)
    return _functions().dot(input, other)


def mv(input, vec):
    """The matrix-vector product y_i = Σ_j A_ij v_j, A (n, m) and v (m,): ``matmul``."""
    if _tensor(input, "mv").ndim != 2 or _tensor(vec, "mv").ndim != 1:
        raise ValueError(f"mv: expected a matrix and a vector, got shapes {input.shape} and "
                         f"{vec.shape}")
    if input.shape[1] != vec.shape[0]:
        raise ValueError(f"mv: the matrix {input.shape} and the vector {vec.shape} cannot be "
                         f"multiplied: {input.shape[1]} columns, {vec.shape[0]} entries")
    einsum_ops._check_dtypes("mv", input=input, vec=vec)  # one dtype, as PyTorch's mv
    return matmul(input, vec)


def dist(input, other, p=2):
    """‖input − other‖_p, the p-norm of the (broadcast) difference as one vector:
    ``tg.linalg.vector_norm(input − other, p)`` (p = 2, 1, inf, −inf, 0 or any other
    number), with its gradient (0 where the distance is 0)."""
    input = _tensor(input, "dist")
    other = as_operand(other, input, "dist")
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"dist: p must be a number, got {p!r}")
    for operand in (input, other):
        if not backend.is_floating(operand.dtype):
            raise TypeError(f"dist: expected floating-point tensors, got dtype {operand.dtype}")
    _check_broadcast("dist", input, other)
    return _linalg().vector_norm(input - other, ord=p)


# --- statistics ---

def cov(input, *, correction: int = 1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (V, N), N
    observations in the columns (one variable, a 1-D input or V = 1, gives a 0-d result):

        w = fweights · aweights (each 1 when not given)
        μ_i = Σ_k w_k x_ik / Σw
        cov_ij = Σ_k w_k (x_ik − μ_i)(x_jk − μ_j) / (Σw − correction · Σ(w·aweights) / Σw)

    without aweights the denominator is Σw − correction (N − 1 by default, as NumPy's
    ``np.cov(ddof=correction)``). fweights are integer repeat counts, aweights float
    importances, both ≥ 0. A denominator ≤ 0 is taken as 0 (inf or NaN results), as
    PyTorch. Integer inputs become the default float dtype."""
    x = _tensor(input, "cov")
    if x.ndim > 2:
        raise ValueError(f"cov: expected a tensor with two or fewer dims, got shape {x.shape}")
    observations = floating(x).reshape(1, -1) if x.ndim < 2 else floating(x)   # (V, N)
    count = observations.shape[1]
    frequency = _weights(fweights, count, "fweights", x)
    importance = _weights(aweights, count, "aweights", x)
    if frequency is None and importance is None:
        mean = observations.mean(1, keepdim=True)                             # (V, 1)
        centered = observations - mean                                        # (V, N)
        product = matmul(centered, centered.transpose(0, 1))                  # (V, V)
        return _squeezed(product / max(count - correction, 0))
    if frequency is None:
        weights = importance
    else:
        weights = frequency if importance is None else frequency * importance  # (N,)
    total = weights.sum()                                                     # Σw
    mean = (observations * weights).sum(1, keepdim=True) / total             # (V, 1)
    centered = observations - mean                                            # (V, N)
    if count == 1 and (frequency is None) != (importance is None):
        # one observation, one kind of weight: x − μ is 0, which rounding can miss (PyTorch)
        centered = constant(backend.xp_of(observations.data).zeros_like(observations.data))
    product = matmul(centered * weights, centered.transpose(0, 1))           # (V, V)
    if importance is None:
        denominator = total - correction
    elif frequency is None and count == 1 and correction == 1:
        denominator = total * 0   # a − a·a/a, exactly 0 (rounding can miss it), as PyTorch
    else:
        denominator = total - correction * (weights * importance).sum() / total
    return _squeezed(product / where(denominator > 0, denominator, 0))


def _weights(weights, count: int, what: str, x):
    """fweights (integers) or aweights (floats): None, or a 1-D tensor of ``count``
    entries ≥ 0 on ``x``'s device (the check reads one bool: a host copy)."""
    if weights is None:
        return None
    if not isinstance(weights, tensor_module.Tensor) or weights.ndim != 1:
        raise ValueError(f"cov: {what} must be a 1-D tensor, got "
                         f"{getattr(weights, 'shape', type(weights).__name__)}")
    if what == "fweights" and weights.dtype.kind not in "iu":
        raise TypeError(f"cov: fweights must have an integer dtype, got {weights.dtype}")
    if what == "aweights" and not backend.is_floating(weights.dtype):
        raise TypeError(f"cov: aweights must have a floating-point dtype, got {weights.dtype}")
    if weights.device != x.device:
        raise RuntimeError(f"cov: {what} is on '{weights.device}' but the input is on "
                           f"'{x.device}'")
    if weights.shape[0] != count:
        raise ValueError(f"cov: {what} has {weights.shape[0]} entries but there are {count} "
                         f"observations (input of shape {x.shape})")
    if count and backend.to_host((weights.data < 0).any()).item():
        raise ValueError(f"cov: {what} cannot be negative")
    return weights


def _squeezed(result):
    """Size-1 dims dropped, as PyTorch: a 1-D (or 0-d) input, or a single variable (1, N),
    gives a 0-d covariance."""
    return result.reshape(()) if result.numel() == 1 else result


def corrcoef(input):
    """Pearson's correlation coefficients of the rows of ``input`` (V, N):
    r_ij = cov_ij / √(cov_ii · cov_jj), clipped to [−1, 1] as PyTorch (rounding can step
    past them); a 1-D input gives cov / cov (1, or NaN for a constant row)."""
    covariance = cov(input)
    if covariance.ndim == 0:
        return covariance / covariance
    spread = diag(covariance).sqrt()                                          # (V,)
    r = covariance / spread.reshape(-1, 1) / spread.reshape(1, -1)            # (V, V)
    return r.clip(-1.0, 1.0)


def histogram(input, bins=100, *, range=None, weight=None, density: bool = False):
    """``(hist, bin_edges)``: the counts (or summed ``weight``s) of the elements of
    ``input`` in ``bins`` equal bins over ``range`` (min and max of the input by
    default; a single value v gives [v − 0.5, v + 0.5], as NumPy), or in the bins
    between the edges of the 1-D tensor ``bins``. Each bin holds [left, right) but the
    last [left, right]; values outside are dropped. ``density``: counts / (total ·
    width), so the histogram integrates to 1. Edges and ``weight`` given as tensors must
    have input's dtype (as PyTorch). Both results in input's dtype, no gradient. The
    counting is the array module's ``histogram`` (NumPy's or CuPy's)."""
    x = _tensor(input, "histogram")
    if not backend.is_floating(x.dtype):
        raise TypeError(f"histogram: expected a floating-point tensor, got {x.dtype}")
    xp = backend.xp_of(x.data)
    if isinstance(bins, tensor_module.Tensor):
        if range is not None:
            raise TypeError("histogram: range is only for a number of bins; edges given as "
                            "a tensor set the range themselves")
        if bins.ndim != 1 or bins.shape[0] < 2 or bins.device != x.device:
            raise ValueError(f"histogram: bin edges must be a 1-D tensor of at least 2 edges "
                             f"on '{x.device}', got shape {bins.shape} on '{bins.device}'")
        if bins.dtype != x.dtype:
            raise TypeError(f"histogram: bin edges of dtype {bins.dtype} for input of dtype "
                            f"{x.dtype}; they must be the same")
        edges = bins.data
    elif isinstance(bins, int) and not isinstance(bins, bool) and bins > 0:
        edges = bins
    else:
        raise ValueError(f"histogram: bins must be an int > 0 or a tensor of edges, got "
                         f"{bins!r}")
    if range is not None:
        low, high = (float(bound) for bound in range)
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(f"histogram: range must be finite with min <= max, got {range}")
        range = (low, high)
    weights = None
    if weight is not None:
        if not isinstance(weight, tensor_module.Tensor) or weight.shape != x.shape:
            raise ValueError(f"histogram: weight must be a tensor of the input's shape "
                             f"{x.shape}, got {getattr(weight, 'shape', weight)}")
        if weight.dtype != x.dtype:
            raise TypeError(f"histogram: weight of dtype {weight.dtype} for input of dtype "
                            f"{x.dtype}; they must be the same")
        weights = weight.data.reshape(-1)
    try:
        hist, edges = xp.histogram(x.data.reshape(-1), bins=edges, range=range,
                                   weights=weights, density=density)
    except ValueError as error:  # e.g. NaN or inf in the input, with no range
        raise ValueError(f"histogram: {error}") from None
    return HistogramResult(constant(hist.astype(x.dtype)), constant(edges.astype(x.dtype)))


# --- calculus on samples ---

def trapezoid(y, x=None, *, dx=None, dim: int = -1):
    """∫ y along ``dim`` by the trapezoidal rule: Σ_i (y_i + y_{i+1}) / 2 · Δx_i, with
    Δx_i = x_{i+1} − x_i for sample points ``x`` (a 1-D tensor of one point per sample, or
    a tensor that broadcasts with y), else the constant spacing ``dx`` (1 by default).
    Computed as PyTorch does, so float32 and float16 round alike: Σ_i (y_i + y_{i+1})·Δx_i
    / 2, and for a constant spacing (Σ y − (y_0 + y_{n−1}) / 2)·dx (a float16 sum is
    accumulated in float32). Fewer than two samples integrate to 0: no samples give zeros
    in y's dtype, before x is looked at (PyTorch's order). bool y, x or dx are refused.
    Gradients reach y and x."""
    return _trapezoids("trapezoid", y, x, dx, dim, running=False)


trapz = trapezoid  # (PyTorch's older name)


def cumulative_trapezoid(y, x=None, *, dx=None, dim: int = -1):
    """The running trapezoidal integral along ``dim``: out_k = Σ_{i ≤ k} (y_i + y_{i+1})
    / 2 · Δx_i, one entry fewer than y along ``dim`` (x and dx as in ``trapezoid``;
    computed as PyTorch: the running sum of (y_i + y_{i+1})·Δx_i, halved, or of
    dx / 2 · (y_i + y_{i+1}))."""
    return _trapezoids("cumulative_trapezoid", y, x, dx, dim, running=True)


def _trapezoids(name: str, y, x, dx, dim: int, running: bool):
    y = _tensor(y, name)
    if x is not None and dx is not None:
        raise TypeError(f"{name}: give the sample points x or the spacing dx, not both")
    if y.ndim == 0:
        raise ValueError(f"{name}: expected y with at least one dim, got a 0-d tensor")
    dim = normalize_dim(dim, y.ndim, name)
    if not running and y.shape[dim] == 0:  # PyTorch's zeros come first: y's dtype, x unread
        return y.sum(dim).astype(y.dtype)
    x_dtype = x.dtype if isinstance(x, tensor_module.Tensor) else None
    if backend.bool_ in (y.dtype, x_dtype):
        raise TypeError(f"{name}: bool samples are not supported, got y of dtype {y.dtype}"
                        + ("" if x_dtype is None else f" and x of dtype {x_dtype}"))
    if isinstance(dx, bool):
        raise TypeError(f"{name}: dx must be a real number, got {dx!r}")
    y = floating(y)  # ints: the default float first (y_i + y_i+1 could wrap)
    left, right = (y[_along(dim, part, y.ndim)] for part in (slice(None, -1), slice(1, None)))
    pairs = left + right                                      # (..., n − 1, ...) along dim
    if x is not None:                   # PyTorch's order of operations, in each of the cases
        doubled = pairs * _steps(x, y, dim, name)
        return (doubled.cumsum(dim) if running else doubled.sum(dim)) / 2
    dx = 1.0 if dx is None else dx
    if running:
        return (pairs * (dx / 2)).cumsum(dim)
    ends = y[_along(dim, 0, y.ndim)] + y[_along(dim, -1, y.ndim)]
    return (y.sum(dim) - ends * 0.5) * dx                    # Σ y − (y_0 + y_{n−1}) / 2


def _steps(x, y, dim: int, name: str):
    """Δx along ``dim`` from the sample points ``x``: a 1-D x is laid along ``dim``; an x
    with fewer dims than y gets leading 1s (as PyTorch)."""
    if not isinstance(x, tensor_module.Tensor):
        raise TypeError(f"{name}: x must be a tensor of sample points, got "
                        f"{type(x).__name__}; a constant spacing is dx=")
    if x.ndim == 1:
        if x.shape[0] != y.shape[dim]:
            raise ValueError(f"{name}: there must be one x per sample: x has {x.shape[0]}, y "
                             f"has {y.shape[dim]} along dim {dim}")
        x = x.reshape(tuple(x.shape[0] if axis == dim else 1 for axis in range(y.ndim)))
    elif x.ndim < y.ndim:
        x = x.reshape((1,) * (y.ndim - x.ndim) + x.shape)
    if x.ndim != y.ndim:
        raise ValueError(f"{name}: x of shape {x.shape} has more dims than y {y.shape}")
    x = floating(x)  # (a difference of small ints could wrap)
    return x[_along(dim, slice(1, None), x.ndim)] - x[_along(dim, slice(None, -1), x.ndim)]


def gradient(input, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """The derivative of the samples ``input`` along each of ``dim`` (all dims by
    default), one tensor per dim, as ``np.gradient``. Inside, a second-order central
    difference; with steps h_l = x_i − x_{i−1}, h_r = x_{i+1} − x_i:

        g_i = (h_l² f_{i+1} − h_r² f_{i−1} + (h_r² − h_l²) f_i) / (h_l h_r (h_l + h_r))

    which is (f_{i+1} − f_{i−1}) / 2h for an even step h. At the two edges a one-sided
    difference of order ``edge_order`` (1: (f_1 − f_0) / h_0; 2: through three points).
    ``spacing``: a number (the step of every dim), a list of numbers (one step per dim)
    or a list of 1-D tensors (the coordinates along each dim). Each dim needs at least
    edge_order + 1 samples. Gradients reach input and coordinate tensors. bool and uint8
    inputs are refused, as PyTorch (bools do not subtract; uint8 differences would wrap)."""
    f = _tensor(input, "gradient")
    if f.dtype == backend.bool_ or f.dtype == "uint8":
        raise TypeError(f"gradient: input of dtype {f.dtype} is not supported; convert it "
                        f"to a float or signed integer dtype first")
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order!r}")
    if f.ndim == 0:
        raise ValueError("gradient: expected a tensor with at least one dim, got a 0-d one")
    dims = range(f.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
    dims = [normalize_dim(d, f.ndim, "gradient") for d in dims]
    if len(set(dims)) != len(dims):
        raise ValueError(f"gradient: dim {dim} repeats a dim")
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise ValueError(f"gradient: {len(spacing)} spacings for {len(dims)} dims {dims}")
        steps = list(spacing)
    else:
        steps = [spacing] * len(dims)
    f = floating(f)
    return tuple(_derivative(f, d, step, edge_order) for d, step in zip(dims, steps))


def _derivative(f, dim: int, step, edge_order: int):
    """``gradient`` along one dim, ``step`` a number or a 1-D tensor of coordinates."""
    n = f.shape[dim]
    if n < edge_order + 1:
        raise ValueError(f"gradient: each dim needs at least edge_order + 1 = {edge_order + 1}"
                         f" samples, dim {dim} of shape {f.shape} has {n}")

    def at(tensor, start, stop=None):     # tensor[..., start:stop, ...] along dim
        return tensor[_along(dim, slice(start, stop), tensor.ndim)]

    if isinstance(step, tensor_module.Tensor):
        if step.ndim != 1 or step.shape[0] != n:
            raise ValueError(f"gradient: the coordinates along dim {dim} must be a 1-D tensor "
                             f"of {n} points, got shape {step.shape}")
        h = (step[1:] - step[:-1]).reshape(tuple(n - 1 if a == dim else 1
                                                 for a in range(f.ndim)))  # (.., n − 1, ..)
    elif isinstance(step, (int, float)) and not isinstance(step, bool):
        h = None
    else:
        raise TypeError(f"gradient: a spacing must be a number or a 1-D tensor, got {step!r}")
    if h is None:  # an even step: the formulas above with h_l = h_r = step
        inside = (at(f, 2) - at(f, 0, -2)) / (2 * step)
        if edge_order == 1:
            first = (at(f, 1, 2) - at(f, 0, 1)) / step
            last = (at(f, -1) - at(f, -2, -1)) / step
        else:
            first = (-1.5 * at(f, 0, 1) + 2 * at(f, 1, 2) - 0.5 * at(f, 2, 3)) / step
            last = (0.5 * at(f, -3, -2) - 2 * at(f, -2, -1) + 1.5 * at(f, -1)) / step
        return cat([first, inside, last], dim)
    left, right = at(h, 0, -1), at(h, 1)                             # h_l, h_r inside
    inside = (left ** 2 * at(f, 2) - right ** 2 * at(f, 0, -2)
              + (right ** 2 - left ** 2) * at(f, 1, -1)) / (left * right * (left + right))
    if edge_order == 1:
        first = (at(f, 1, 2) - at(f, 0, 1)) / at(h, 0, 1)
        last = (at(f, -1) - at(f, -2, -1)) / at(h, -1)
    else:  # through three points: (f_0, f_1, f_2) and (f_{n−3}, f_{n−2}, f_{n−1})
        h1, h2 = at(h, 0, 1), at(h, 1, 2)
        first = (-(2 * h1 + h2) / (h1 * (h1 + h2)) * at(f, 0, 1)
                 + (h1 + h2) / (h1 * h2) * at(f, 1, 2)
                 - h1 / (h2 * (h1 + h2)) * at(f, 2, 3))
        h1, h2 = at(h, -2, -1), at(h, -1)
        last = (h2 / (h1 * (h1 + h2)) * at(f, -3, -2)
                - (h1 + h2) / (h1 * h2) * at(f, -2, -1)
                + (2 * h2 + h1) / (h2 * (h1 + h2)) * at(f, -1))
    return cat([first, inside, last], dim)


# --- splitting and stacking ---

def _int(value, name: str, what: str) -> int:
    """``value`` as a Python int: an int, a NumPy integer or a one-element integer tensor, as
    PyTorch's int arguments take them (a bool or a float is refused)."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: {what} must be an int, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int, got {value!r}") from None


def tensor_split(input, indices_or_sections, dim: int = 0) -> tuple:
    """``input`` cut along ``dim`` into views: ``n`` sections (an int; the first size % n
    of them one longer than the others) or at the listed indices (``[2, 5]``: [:2],
    [2:5], [5:], Python's slicing rules, so an index past the end gives empty pieces).
    A 0-d integer tensor counts as sections, a 1-D one as indices (read on the host)."""
    x = _tensor(input, "tensor_split")
    if x.ndim == 0:
        raise ValueError("tensor_split: expected a tensor with at least one dim, got a 0-d one")
    dim = normalize_dim(dim, x.ndim, "tensor_split")
    spec = indices_or_sections
    if isinstance(spec, tensor_module.Tensor):
        if spec.dtype.kind not in "iu" or spec.ndim > 1:
            raise TypeError(f"tensor_split: a tensor of indices_or_sections must be a 0-d or "
                            f"1-D integer tensor, got {spec.dtype} of shape {spec.shape}")
        spec = spec.item() if spec.ndim == 0 else spec.tolist()
    if isinstance(spec, (int, backend.np.integer)) and not isinstance(spec, bool):
        spec = int(spec)
        if spec <= 0:
            raise ValueError(f"tensor_split: the number of sections must be > 0, got {spec}")
        small, extra = divmod(x.shape[dim], spec)
        sizes = [small + 1] * extra + [small] * (spec - extra)
        bounds = list(itertools.accumulate(sizes))[:-1]
    elif not isinstance(spec, (list, tuple)):
        raise TypeError(f"tensor_split: indices_or_sections must be an int, a list or tuple "
                        f"of ints or an integer tensor, got {spec!r}")
    else:
        try:
            bounds = [_int(bound, "tensor_split", "each index") for bound in spec]
        except TypeError:
            raise TypeError(f"tensor_split: indices must be ints, got {spec!r}") from None
    starts, stops = [0] + bounds, bounds + [None]
    return tuple(x[_along(dim, slice(start, stop), x.ndim)] for start, stop in zip(starts, stops))


def _split_along(name: str, input, indices_or_sections, dim: int, min_dims: int) -> tuple:
    """hsplit/vsplit/dsplit: ``tensor_split`` along ``dim``; a number of sections must
    divide the size of that dim."""
    x = _tensor(input, name)
    if x.ndim < min_dims:
        raise ValueError(f"{name}: expected a tensor with at least {min_dims} dims, got shape "
                         f"{x.shape}")
    spec = indices_or_sections
    if isinstance(spec, int) and not isinstance(spec, bool) and spec > 0 \
            and x.shape[dim] % spec:
        raise ValueError(f"{name}: dim {dim} of size {x.shape[dim]} (shape {x.shape}) does "
                         f"not split into {spec} equal sections")
    return tensor_split(x, spec, dim)


def hsplit(input, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 1 (dim 0 of a 1-D tensor), as ``np.hsplit``; a number of
    sections must divide that dim."""
    dim = 0 if getattr(input, "ndim", 0) == 1 else 1
    return _split_along("hsplit", input, indices_or_sections, dim, 1)


def vsplit(input, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 0 of a tensor with at least 2 dims, as ``np.vsplit``."""
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 2 of a tensor with at least 3 dims, as ``np.dsplit``."""
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def _sequence(tensors, name: str) -> list:
    if isinstance(tensors, tensor_module.Tensor) or not isinstance(tensors, (list, tuple)) \
            or not tensors:
        raise TypeError(f"{name}: expected a non-empty list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    return [_tensor(tensor, name) for tensor in tensors]


def hstack(tensors):
    """The tensors side by side: ``cat`` along dim 1, or along dim 0 when they are 1-D
    (0-d ones count as 1-D), as ``np.hstack``."""
    tensors = [atleast_1d(tensor) for tensor in _sequence(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """The tensors on top of each other: ``cat`` along dim 0 after ``atleast_2d`` (a 1-D
    tensor is a row), as ``np.vstack``."""
    return cat([atleast_2d(tensor) for tensor in _sequence(tensors, "vstack")], 0)


row_stack = vstack  # (PyTorch's other name)


def dstack(tensors):
    """The tensors in depth: ``cat`` along dim 2 after ``atleast_3d``, as ``np.dstack``."""
    return cat([atleast_3d(tensor) for tensor in _sequence(tensors, "dstack")], 2)


def column_stack(tensors):
    """The tensors as columns: 0-d and 1-D ones become columns (n, 1), then ``cat`` along
    dim 1, as ``np.column_stack``."""
    tensors = _sequence(tensors, "column_stack")
    return cat([tensor.reshape(-1, 1) if tensor.ndim <= 1 else tensor for tensor in tensors], 1)


# --- selecting and writing into a copy ---

def _position(x, dim: int, index, name: str) -> tuple:
    """``(dim, index)`` normalised, the index in [0, size) (negative ones count from the
    end), or an IndexError naming ``name``."""
    if x.ndim == 0:
        raise IndexError(f"{name}: cannot be applied to a 0-d tensor")
    dim = normalize_dim(dim, x.ndim, name)
    index = _int(index, name, "index")
    size = x.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"{name}: index {index} is out of range for {_dim_of(x, dim)}")
    return dim, index % size


def select(input, dim: int, index: int):
    """The slice at ``index`` of dim ``dim``, that dim dropped: ``x[:, ..., index]``; the
    gradient goes back to that slice."""
    x = _tensor(input, "select")
    dim, index = _position(x, dim, index, "select")
    return x[_along(dim, index, x.ndim)]


def select_scatter(input, src, dim: int, index: int):
    """``input`` with the slice at ``index`` of dim ``dim`` replaced by ``src`` (input's
    shape without that dim): ``out = input.clone(); out[..., index, ...] = src``."""
    x = _tensor(input, "select_scatter")
    dim, index = _position(x, dim, index, "select_scatter")
    wanted = x.shape[:dim] + x.shape[dim + 1:]
    return _write_into_copy(x, _along(dim, index, x.ndim), wanted, src, "select_scatter")


def slice_scatter(input, src, dim: int = 0, start=None, end=None, step: int = 1):
    """``input`` with ``input[..., start:end:step, ...]`` (along ``dim``) replaced by
    ``src``, of that slice's shape: ``out = input.clone(); out[slice] = src``."""
    x = _tensor(input, "slice_scatter")
    if x.ndim == 0:
        raise IndexError("slice_scatter: cannot be applied to a 0-d tensor")
    if not isinstance(step, int) or step <= 0:
        raise ValueError(f"slice_scatter: step must be a positive int, got {step!r}")
    dim = normalize_dim(dim, x.ndim, "slice_scatter")
    part = slice(start, end, step)
    length = len(range(x.shape[dim])[part])                     # the slice's size along dim
    wanted = x.shape[:dim] + (length,) + x.shape[dim + 1:]
    return _write_into_copy(x, _along(dim, part, x.ndim), wanted, src, "slice_scatter")


def _write_into_copy(x, place: tuple, wanted: tuple, src, name: str):
    """``out = x.clone(); out[place] = src``, src checked to have the place's shape."""
    src = _tensor(src, name)
    if src.shape != wanted:
        raise ValueError(f"{name}: src of shape {src.shape} for a place of shape {wanted} in "
                         f"the input of shape {x.shape}")
    out = x.clone()
    out[place] = src
    return out


def index_copy(input, dim: int, index, source):
    """``input`` with ``source[..., i, ...]`` copied to ``input[..., index[i], ...]`` along
    ``dim``: ``out = input.clone(); out[..., index, ...] = source`` (source has input's
    shape with ``len(index)`` along ``dim`` and input's dtype; ``index`` is int64, as
    PyTorch requires). An index that repeats leaves one of its slices, as PyTorch (which
    does not say which)."""
    x = _tensor(input, "index_copy")
    index = _long_tensor(index, x, "index_copy")
    if index.ndim > 1:
        raise ValueError(f"index_copy: index must be 0-d or 1-D, got shape {index.shape}")
    _check_same_dtype(x, _tensor(source, "index_copy"), "index_copy", "source")
    if x.ndim == 0:  # as one element along dim 0
        return index_copy(x.reshape(1), dim, index, source.reshape(-1)).reshape(())
    dim = normalize_dim(dim, x.ndim, "index_copy")
    wanted = x.shape[:dim] + (index.data.size,) + x.shape[dim + 1:]
    if source.shape != wanted and not (source.ndim == 0 and wanted == (1,)):
        raise ValueError(f"index_copy: source of shape {source.shape} for index of shape "
                         f"{index.shape} into shape {x.shape} along dim {dim}: expected "
                         f"{wanted}")
    _check_range(index.data, x.shape[dim], "index_copy", _dim_of(x, dim))
    out = x.clone()
    out[_along(dim, index.data.reshape(-1), x.ndim)] = source.reshape(wanted)
    return out


def msort(input):
    """``input`` sorted along dim 0 (the values of ``sort(0)``); each value's gradient goes
    back to where it came from."""
    return _tensor(input, "msort").sort(0).values


def diagflat(input, offset: int = 0):
    """The square matrix with the flattened ``input`` on diagonal ``offset`` (0 elsewhere):
    ``diag(input.reshape(-1), offset)``."""
    return diag(_tensor(input, "diagflat").reshape(-1), offset)


def unflatten(input, dim: int, sizes):
    """Dim ``dim`` of ``input`` reshaped into ``sizes`` (one of them may be −1, inferred):
    (2, 12) with ``unflatten(1, (3, 4))`` is (2, 3, 4)."""
    x = _tensor(input, "unflatten")
    if x.ndim == 0:
        raise IndexError("unflatten: a 0-d tensor has no dim to unflatten")
    dim = normalize_dim(dim, x.ndim, "unflatten")
    sizes = tuple(_int(s, "unflatten", "each size") for s in sizes)
    if not sizes:
        raise ValueError("unflatten: sizes must be a non-empty sequence of ints, got ()")
    size = x.shape[dim]
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
        raise ValueError(f"unflatten: sizes {sizes} may hold one −1 and sizes >= 0 only")
    if -1 in sizes and not known:  # 0 · k = 0 for every k: −1 cannot be inferred
        raise ValueError(f"unflatten: sizes {sizes} leave the −1 ambiguous for dim {dim} of "
                         f"size {size} (shape {x.shape})")
    if -1 in sizes and size % known == 0:
        sizes = tuple(size // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != size:
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to the size {size} of dim "
                         f"{dim} (shape {x.shape})")
    return x.reshape(x.shape[:dim] + sizes + x.shape[dim + 1:])


def t(input):
    """The transpose of a matrix (a 0-d or 1-D tensor as it is): ``input.t()``."""
    return _tensor(input, "t").t()


def unravel_index(indices, shape) -> tuple:
    """The coordinates in ``shape`` of the flat (row-major) ``indices``, an integer tensor:
    a tuple of int64 tensors of indices' shape, one per dim, as ``np.unravel_index``.
    Negative indices count from the end; indices outside [−N, N) raise (N = prod(shape))."""
    if not isinstance(indices, tensor_module.Tensor) or indices.dtype.kind not in "iu":
        raise TypeError(f"unravel_index: indices must be an integer tensor, got "
                        f"{getattr(indices, 'dtype', type(indices).__name__)}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ValueError(f"unravel_index: shape must hold ints >= 0, got {shape}")
    total = math.prod(shape)
    _check_range(indices.data, total, "unravel_index", f"shape {shape} of {total} elements",
                 negative=True)
    flat = indices.data.astype(backend.int64) % max(total, 1)      # negatives from the end
    coordinates = []
    for size in reversed(shape):
        coordinates.append(flat % max(size, 1))
        flat = flat // max(size, 1)
    return tuple(constant(c) for c in reversed(coordinates))


def combinations(input, r: int = 2, with_replacement: bool = False):
    """The length-``r`` combinations of the elements of the 1-D ``input``, one per row
    (C, r), in ``itertools.combinations`` order (``combinations_with_replacement`` with
    ``with_replacement``): an indexing ``input[rows]``, so each element's gradient sums
    over the rows it appears in. ``r = 0`` gives an empty 1-D tensor, as PyTorch."""
    x = _tensor(input, "combinations")
    if x.ndim != 1:
        raise ValueError(f"combinations: expected a 1-D tensor, got shape {x.shape}")
    if isinstance(r, bool) or not isinstance(r, int) or r < 0:
        raise ValueError(f"combinations: r must be an int >= 0, got {r!r}")
    if r == 0:
        return x[:0]
    choose = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = [index for row in choose(range(x.shape[0]), r) for index in row]
    positions = backend.xp_of(x.data).asarray(rows, dtype=backend.int64).reshape(-1, r)
    return x[positions]                                             # (C, r)


# --- broadcasting, promotion, factories ---

def broadcast_shapes(*shapes) -> tuple:
    """The shape that tensors of ``shapes`` (each a tuple, or an int for 1-D) broadcast to:
    ``broadcast_shapes((2, 1), (3,))`` is (2, 3)."""
    shapes = [(shape,) if isinstance(shape, int) else tuple(shape) for shape in shapes]
    if any(size < 0 for shape in shapes for size in shape):
        raise ValueError(f"broadcast_shapes: sizes must be >= 0, got {shapes}")
    try:
        return backend.broadcast_shapes(*shapes) if shapes else ()
    except ValueError:
        raise ValueError(f"broadcast_shapes: shapes {shapes} cannot be broadcast "
                         "together") from None


def broadcast_tensors(*tensors) -> tuple:
    """The tensors broadcast to their common shape (``broadcast_to`` each): the gradient of
    a broadcast tensor sums back to its shape."""
    tensors = [_tensor(tensor, "broadcast_tensors") for tensor in tensors]
    shape = _check_broadcast("broadcast_tensors", *tensors)
    return tuple(broadcast_to(tensor, shape) for tensor in tensors)


def result_type(tensor1, tensor2):
    """The dtype of ``tensor1 + tensor2`` (each a tensor or a number) under the core's
    promotion (``elementwise._promote``): bool < integer < float, the wider dtype within
    a category, a 0-d tensor or a number only counting from a higher category. Only a
    number's type counts, not its value: ``result_type(uint8 tensor, -1)`` is uint8."""
    Tensor = tensor_module.Tensor
    if isinstance(tensor1, complex) or isinstance(tensor2, complex):
        raise TypeError("result_type: complex numbers are not supported (there are no "
                        "complex dtypes here)")
    tensor1, tensor2 = (type(value)(0) if isinstance(value, (bool, int, float)) else value
                        for value in (tensor1, tensor2))  # (so -1 meets uint8 unclipped)
    if not isinstance(tensor1, Tensor) and not isinstance(tensor2, Tensor):
        tensor1 = tensor_module.tensor(tensor1)   # a Python number: int64, float32 or bool
    like = tensor1 if isinstance(tensor1, Tensor) else tensor2
    first, second = (as_operand(value, like, "result_type") for value in (tensor1, tensor2))
    with no_grad():
        first, second = _promote(first, second)
    if first.dtype == second.dtype:
        return first.dtype
    return backend.result_dtype(first.dtype, second.dtype)  # bool meeting an integer


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False):
    """``steps`` values base^e for e evenly spaced from ``start`` to ``end`` (both included):
    base ** linspace(start, end, steps), computed in float64, then in ``dtype`` (the
    default float dtype unless given)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"logspace: steps must be an int >= 0, got {steps!r}")
    dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
    xp = backend.get_xp(backend.check_device(device))
    values = base ** xp.linspace(start, end, steps, dtype=backend.float64)
    return tensor_module.Tensor._make(values.astype(dtype)).requires_grad_(requires_grad)


# --- linear algebra and transforms under their top-level names ---

def cholesky(input, upper: bool = False):
    """L with A = L Lᵀ (or U = Lᵀ with ``upper=True``) for a (batch of) symmetric
    positive-definite A: ``tg.linalg.cholesky`` (``torch.cholesky``, deprecated there)."""
    return _linalg().cholesky(input, upper=upper)


def svd(input, some: bool = True, compute_uv: bool = True) -> SvdResult:
    """``(U, S, V)`` with A = U diag(S) Vᵀ, the deprecated ``torch.svd`` convention: V,
    not Vh = Vᵀ as ``tg.linalg.svd`` returns. ``some=True``: U (..., m, k), V (..., n, k),
    k = min(m, n); ``some=False``: U (..., m, m), V (..., n, n). ``compute_uv=False``:
    only S, with U and V zero-filled (..., m, m) and (..., n, n), as PyTorch."""
    linalg = _linalg()
    if not compute_uv:
        values = linalg.svdvals(input)
        m, n = input.shape[-2:]
        xp = backend.xp_of(input.data)
        zeros = [constant(xp.zeros(input.shape[:-2] + (size, size), dtype=input.dtype))
                 for size in (m, n)]
        return SvdResult(zeros[0], values, zeros[1])
    U, S, Vh = linalg.svd(input, full_matrices=not some)
    return SvdResult(U, S, Vh.transpose(-2, -1))


def vmap(func, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None):
    """``func`` mapped over a dim of its inputs: ``tinygrad_opt.func.vmap`` (a loop; see
    there), as ``torch.vmap``."""
    from tinygrad_opt.func import vmap as mapped
    return mapped(func, in_dims, out_dims, randomness, chunk_size=chunk_size)


# --- Tensor methods that only exist as methods ---

# PyTorch's legacy type of each dtype (torch.FloatTensor holds float32): the names of
# ``type()`` and of tg.FloatTensor, ... (tinygrad_opt.legacy_types)
TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
              "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
              "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
_TYPE_DTYPES = {name: dtype for dtype, name in TYPE_NAMES.items()}
_TYPE_DEVICES = {"torch": ("", "cuda"), "tinygrad_opt": ("", "cuda", "strict")}


def parse_type_name(name: str, function: str):
    """``(device, dtype)`` of a legacy type's name: 'torch.DoubleTensor' or
    'tinygrad_opt.DoubleTensor' -> ('cpu', float64), 'torch.cuda.FloatTensor' ->
    ('cuda', float32), 'tinygrad_opt.strict.LongTensor' -> ('strict', int64);
    'torch.Tensor' / 'tinygrad_opt.Tensor': the default dtype on the default device.
    ValueError naming ``function`` for any other name, as PyTorch's 'invalid type'."""
    if name in ("torch.Tensor", "tinygrad_opt.Tensor"):
        return backend.default_device, backend.default_float
    head, _, leaf = name.rpartition(".")
    package, _, device = head.partition(".")
    if device not in _TYPE_DEVICES.get(package, ()) or leaf not in _TYPE_DTYPES:
        raise ValueError(f"{function}: invalid type {name!r}: expected a name such as "
                         "'tinygrad_opt.DoubleTensor', 'torch.DoubleTensor' or "
                         "'torch.cuda.FloatTensor'")
    return device or "cpu", backend.as_dtype(_TYPE_DTYPES[leaf])


def _random_top(dtype) -> int:
    """The largest value ``random_()`` draws by default: 2^mantissa digits for floats
    (every integer up to it is exact), the largest value for integers, 1 for bool."""
    if backend.is_floating(dtype):
        return 2 ** (round(-math.log2(finfo(dtype).eps)) + 1)
    return 1 if dtype == backend.bool_ else iinfo(dtype).max


def _float64_uniform(x, generator=None):
    """Uniform samples on [0, 1) in float64, of x's shape, on x's device (from
    ``generator``, a ``tg.Generator``, when given)."""
    return backend.random_uniform(x.shape, backend.float64, x.device,
                                  rng=generator and generator.numpy_rng)


def _in_shared_memory(array) -> bool:
    """True when a host array's memory is a shared mapping (``share_memory_`` made it):
    the chain of bases ends in an ``mmap``, which a forked process shares."""
    owner = array
    while isinstance(owner, backend.np.ndarray):
        owner = owner.base
    return isinstance(getattr(owner, "obj", owner), mmap.mmap)  # (frombuffer: a memoryview)


def _storage_from(array):
    """PyTorch's storage as ``resize_`` reads it: the memory ``array`` looks into, from its
    first element to the end of the block, flat, whatever ``array``'s strides (a transpose
    gives its elements in memory order, a slice the ones between and after them). An
    array whose memory is no plain block of its dtype gives its own elements, row-major."""
    owner = backend.memory_owner(array)
    raw = array._array if type(array).__name__ == "StrictArray" else array
    if type(owner) is type(raw) and owner.dtype == raw.dtype and owner.flags.c_contiguous:
        if backend.np_types[0] is type(raw):
            offset = raw.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
        else:  # CuPy: by device pointer
            offset = raw.data.ptr - owner.data.ptr
        start, rest = divmod(offset, raw.dtype.itemsize)
        if rest == 0 and 0 <= start <= owner.size:
            return owner.reshape(-1)[start:]
    return raw.reshape(-1)  # (a view when raw is one block, else a row-major copy)


_streams_in_use: list = []  # (event, array): memory held until the stream's work is done


def _hold_until_done(array, stream) -> None:
    """At a tensor's end: keep its array until the work queued on ``stream`` by now has run
    (``record_stream``); arrays whose work has finished are let go."""
    _streams_in_use[:] = [(event, held) for event, held in _streams_in_use if not event.done]
    _streams_in_use.append((stream.record(), array))


def _check_dim_order(name: str, ambiguity_check) -> None:
    """``ambiguity_check`` is a bool here: PyTorch's other form, a list of memory formats,
    has nothing to name (every tensor here is row-major)."""
    if not isinstance(ambiguity_check, bool):
        raise TypeError(f"{name}: the ambiguity_check argument must be a bool (there are no "
                        f"memory formats here), got {ambiguity_check!r}")


def _dense_in_order(shape: tuple, strides: tuple, inner_to_outer) -> bool:
    """PyTorch's contiguity test: along ``inner_to_outer``, each dim of size > 1 steps by
    the number of elements of the dims inside it (size-1 dims are skipped; an empty
    tensor is contiguous only in the row-major test)."""
    expected = 1
    for dim in inner_to_outer:
        if shape[dim] != 1:
            if strides[dim] != expected:
                return False
            expected *= shape[dim]
    return True


def _stride_order(shape: tuple, strides: tuple, ambiguity_check: bool) -> tuple:
    """The dims from outermost to innermost, as PyTorch's
    ``compute_elementwise_output_logical_to_physical_perm``: the row-major and the
    channels-last layouts (4-D) by their test, any other by an insertion sort on the
    strides (larger first; a stride of 0 compares with nothing; equal strides: the
    larger dim outside). Also whether, with ``ambiguity_check``, some neighbours were
    not strictly ordered."""
    ndim = len(shape)
    if ndim < 2:
        return tuple(range(ndim)), False
    row_major = math.prod(shape) == 0 or _dense_in_order(shape, strides, range(ndim - 1, -1, -1))
    channels_last = ndim == 4 and _dense_in_order(shape, strides, (1, 3, 2, 0))
    if row_major and not channels_last:
        return tuple(range(ndim)), False
    if channels_last and not row_major:
        return (0, *range(2, ndim), 1), False

    def order(a: int, b: int) -> int:  # 1: a is inside b, −1: a is outside b, 0: no order
        if strides[a] == 0 or strides[b] == 0:
            return 0
        if strides[a] == strides[b]:
            return 1 if shape[a] > shape[b] else 0
        return -1 if strides[b] > strides[a] else 1

    inner_first = list(reversed(range(ndim)))
    for i in range(1, ndim):
        at = i
        for before in reversed(range(i)):
            comparison = order(inner_first[before], inner_first[at])
            if comparison > 0:
                inner_first[before], inner_first[at] = inner_first[at], inner_first[before]
                at = before
            elif comparison < 0:
                break
    ambiguous = ambiguity_check and any(order(a, b) != -1
                                        for a, b in zip(inner_first, inner_first[1:]))
    return tuple(reversed(inner_first)), ambiguous


class EverydayMethods:
    """Tensor methods of this file, inherited by ``Tensor`` through ``Conveniences``.
    Most are the function of the same name: ``x.fmax(y)`` is ``fmax(x, y)``."""

    __slots__ = ()

    absolute, divide, multiply, subtract, true_divide = (
        absolute, divide, multiply, subtract, true_divide)
    negative, positive, fix, deg2rad, rad2deg, hardshrink = (
        negative, positive, fix, deg2rad, rad2deg, hardshrink)
    greater, greater_equal, less, less_equal, not_equal = (
        greater, greater_equal, less, less_equal, not_equal)
    logical_xor, bitwise_and, bitwise_or, bitwise_not = (
        logical_xor, bitwise_and, bitwise_or, bitwise_not)
    __and__, __or__, __invert__ = bitwise_and, bitwise_or, bitwise_not  # x & y, x | y, ~x
    isneginf, isposinf, isreal, is_floating_point = isneginf, isposinf, isreal, is_floating_point
    fmax, fmin, gcd, lcm = fmax, fmin, gcd, lcm
    addr, ger, vdot, mv, dist = addr, ger, vdot, mv, dist
    addmm, addmv, addbmm, baddbmm = (einsum_ops.addmm, einsum_ops.addmv, einsum_ops.addbmm,
                                     einsum_ops.baddbmm)
    kron, inner = einsum_ops.kron, einsum_ops.inner
    tensor_split, hsplit, vsplit, dsplit = tensor_split, hsplit, vsplit, dsplit
    select, select_scatter, slice_scatter, index_copy = (
        select, select_scatter, slice_scatter, index_copy)
    index_copy_ = _in_place(index_copy)
    msort, diagflat, unflatten = msort, diagflat, unflatten

    # --- products that tinygrad_opt/functions.py has as functions ---
    def mm(self, mat2):
        """The matrix product (n, k) @ (k, m) of two 2-D tensors: ``tg.mm``."""
        return _functions().mm(self, mat2)

    def bmm(self, batch2):
        """Batched matrix products (B, n, k) @ (B, k, m): ``tg.bmm``."""
        return _functions().bmm(self, batch2)

    def dot(self, other):
        """Σ a_i b_i of two vectors of one length: ``tg.dot``."""
        return _functions().dot(self, other)

    def outer(self, vec2):
        """The matrix a_i b_j of two vectors: ``tg.outer``."""
        return _functions().outer(self, vec2)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:
        """True when |self − other| <= atol + rtol·|other| everywhere: ``tg.allclose``."""
        return _functions().allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other) -> bool:
        """True when both have one shape and the same elements: ``tg.equal``."""
        return _functions().equal(self, other)

    # --- sizes and layout (byte, char, short: Conveniences, which Tensor reads first) ---
    def nelement(self) -> int:
        """The number of elements: ``numel()``."""
        return self.data.size

    def _view_as_dtype(self, dtype):
        """``x.view(dtype)``: the same bytes read as ``dtype``, as PyTorch's. Of the same
        element size, the same shape; else the last dim is scaled by the ratio of the sizes
        (it must be contiguous and divisible by it). The result shares this tensor's memory
        and version counter and has no gradient (PyTorch's is not differentiable either);
        ``view`` to the tensor's own dtype is a view in the graph."""
        dtype = backend.as_dtype(dtype)
        if dtype == self.dtype:
            return self.view(self.shape)
        size, new = self.dtype.itemsize, dtype.itemsize
        if size != new and (self.ndim == 0 or (self.shape[-1] * size) % new
                            or self.data.strides[-1] != size):
            raise RuntimeError(
                f"view: a tensor of shape {self.shape} and dtype {self.dtype} cannot be read as "
                f"{dtype}: with another element size ({size} -> {new} bytes) its last dim "
                "must be contiguous, and its bytes divisible by the new size")
        array = self.data.view(dtype)
        view = tensor_module.Tensor._make(array)  # (no graph: not differentiable)
        # linked to this tensor's memory as Function.apply links every view it makes
        view._versions, view._made, view._base = self._versions, len(self._versions), self
        return view

    def element_size(self) -> int:
        """The size of one element in bytes (4 for float32)."""
        return self.dtype.itemsize

    def is_contiguous(self, memory_format=None) -> bool:
        """True when the elements lie in memory in row-major order (NumPy's C-contiguous,
        where dims of size 1 do not count), as PyTorch's default ``memory_format``: a
        transpose or a slice with a step is not (``stride()`` shows the layout), and only
        a contiguous tensor can take any ``view``. Other memory formats are not told apart
        here (every tensor made here is row-major): for them, True."""
        return memory_format is not None or bool(self.data.flags.c_contiguous)

    def stride(self, dim=None):
        """The step in elements between neighbours along each dim (NumPy's byte strides /
        element size), a tuple, or that of dim ``dim``: (3, 1) for a fresh (2, 3) tensor,
        (1, 3) for its transpose (a view), 0 along a broadcast dim."""
        strides = tuple(step // self.dtype.itemsize for step in self.data.strides)
        return strides if dim is None else strides[normalize_dim(dim, self.ndim, "stride")]

    def data_ptr(self) -> int:
        """The address of the first element in memory, an int (device memory on a GPU): two
        tensors that share it look at the same memory."""
        if self.device == "cuda":
            return self.data.data.ptr                       # a CuPy array's memory pointer
        return self.data.ctypes.data

    def pin_memory(self, device=None):
        """Itself: host memory needs no pinning for the copies here (PyTorch pins it for
        faster asynchronous copies to a GPU)."""
        return self

    def type(self, dtype=None, non_blocking: bool = False):
        """With no argument the type's name, as PyTorch's ('torch.FloatTensor' there):
        'tinygrad_opt.FloatTensor' for float32 ('tinygrad_opt.cuda.FloatTensor' on
        'cuda', the dtype's name where PyTorch has no such type). With a dtype:
        ``astype(dtype)``, on this device. With a legacy type (``tg.DoubleTensor``,
        ``tg.cuda.FloatTensor``, ``tg.Tensor``: the default type) or its name
        ('torch.DoubleTensor', 'tinygrad_opt.cuda.FloatTensor'): ``to(device, dtype)``
        with the type's device, as PyTorch's (a CPU type brings a GPU tensor to the host)."""
        if dtype is None:
            prefix = "tinygrad_opt." if self.device == "cpu" else f"tinygrad_opt.{self.device}."
            return prefix + TYPE_NAMES.get(self.dtype.name, self.dtype.name)
        if isinstance(dtype, type):  # (PyTorch reads a type by its name)
            dtype = ("tinygrad_opt.Tensor" if issubclass(dtype, tensor_module.Tensor)
                     else f"{dtype.__module__}.{dtype.__qualname__}")
        if isinstance(dtype, str):
            device, dtype = parse_type_name(dtype, "type")
            return self.to(device, dtype)
        if not isinstance(dtype, backend.np.dtype):
            raise TypeError(f"type: dtype must be a type, a str or a dtype, got {dtype!r}")
        return self.astype(dtype)

    def sum_to_size(self, *size):
        """The sum down to ``size``, a shape this tensor broadcasts from (``x.sum_to_size(1,
        3)`` for x of shape (2, 3)): the sum over the dims broadcasting would add or
        stretch, as the backward of a broadcast."""
        size = _sizes(size, "sum_to_size")
        try:
            fits = backend.broadcast_shapes(size, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"sum_to_size: size {size} is not expandable to the tensor's "
                             f"shape {self.shape}")
        return sum_to_shape(self, size)

    # --- in place ---
    def fill_diagonal_(self, fill_value, wrap: bool = False):
        """Set the main diagonal (x[i, i, ..., i]) to ``fill_value``, in place; a tensor of
        3 dims or more must have all dims equal. ``wrap``: in a tall matrix (rows > columns
        + 1), start again below it every columns + 1 rows, as NumPy's ``fill_diagonal``.
        A write ``x[diagonal] = value``, recorded when a gradient must flow."""
        if self.ndim < 2:
            raise ValueError(f"fill_diagonal_: expected at least 2 dims, got shape {self.shape}")
        if self.ndim > 2 and len(set(self.shape)) != 1:
            raise ValueError(f"fill_diagonal_: all dims must be of equal size for a tensor of "
                             f"more than 2 dims, got shape {self.shape}")
        xp = backend.xp_of(self.data)
        if self.ndim == 2 and wrap:
            rows, columns = self.shape
            flat = xp.arange(0, rows * columns, columns + 1)        # every (columns + 1)th
            index = (flat // columns, flat % columns)
        else:
            index = (xp.arange(min(self.shape)),) * self.ndim
        self[index] = fill_value
        return self

    def exponential_(self, lambd: float = 1.0, *, generator=None):
        """Fill with samples of the exponential distribution of rate λ (density
        λe^(−λx), mean 1/λ), in place: −log(1 − u) / λ for u uniform on [0, 1)."""
        _check_random_fill(self, "exponential_")
        if not lambd > 0:
            raise ValueError(f"exponential_: expects lambd > 0, got lambd={lambd}")
        xp = backend.xp_of(self.data)
        samples = -xp.log1p(-_float64_uniform(self, generator)) / lambd
        return _fill_with_samples(self, samples.astype(self.dtype))

    def geometric_(self, p: float, *, generator=None):
        """Fill with samples of the geometric distribution, the number of Bernoulli(p)
        trials up to the first success: P(k) = (1 − p)^(k−1) p for k = 1, 2, ..., in
        place: ⌊log(1 − u) / log(1 − p)⌋ + 1 for u uniform on [0, 1). Float or integer
        tensors."""
        _check_random_fill(self, "geometric_", floats_only=False)
        if self.dtype == backend.bool_ or not 0 < p < 1:
            raise ValueError(f"geometric_: expects 0 < p < 1 and a number dtype, got p={p} "
                             f"and {self.dtype}")
        xp = backend.xp_of(self.data)
        samples = xp.floor(xp.log1p(-_float64_uniform(self, generator)) / math.log1p(-p)) + 1
        return _fill_with_samples(self, samples.astype(self.dtype))

    def log_normal_(self, mean: float = 1.0, std: float = 2.0, *, generator=None):
        """Fill with samples of the log-normal distribution, exp(z) for z ~ N(mean, std²)
        (``mean`` and ``std`` are those of the log), in place."""
        _check_random_fill(self, "log_normal_")
        if not std > 0:
            raise ValueError(f"log_normal_: expects std > 0, got std={std}")
        xp = backend.xp_of(self.data)
        normal = backend.random_normal(self.shape, backend.float64, self.device, mean, std,
                                      rng=generator and generator.numpy_rng)
        return _fill_with_samples(self, xp.exp(normal).astype(self.dtype))

    def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *, generator=None):
        """Fill with samples of the Cauchy distribution, density
        σ / (π ((x − median)² + σ²)), in place: median + σ tan(π (u − ½)) for u uniform on
        [0, 1), the inverse of its CDF ½ + atan((x − median) / σ) / π, as PyTorch draws it."""
        _check_random_fill(self, "cauchy_")
        if not sigma > 0:
            raise ValueError(f"cauchy_: expects sigma > 0, got sigma={sigma}")
        xp = backend.xp_of(self.data)
        samples = median + sigma * xp.tan(math.pi * (_float64_uniform(self, generator) - 0.5))
        return _fill_with_samples(self, samples.astype(self.dtype))

    def random_(self, *bounds, generator=None):
        """Fill with integers drawn uniformly, in place: ``random_()`` from [0, top]
        (top = 2^24 for float32, 2^53 for float64, the dtype's largest value for
        integers, 1 for bool), ``random_(to)`` from [0, to), ``random_(from, to)`` from
        [from, to) (``to=None``: [from, top]). As PyTorch, bounds outside an integer
        dtype refuse (``from=-1000`` for int8 would otherwise wrap around)."""
        _check_random_fill(self, "random_", floats_only=False)
        if len(bounds) > 2:
            raise TypeError(f"random_: takes (), (to) or (from, to), got {bounds}")
        low, high = bounds if len(bounds) == 2 else (0, bounds[0] if bounds else None)
        top = _random_top(self.dtype)
        bottom = -math.inf if backend.is_floating(self.dtype) else (
            0 if self.dtype == backend.bool_ else iinfo(self.dtype).min)
        high = top + 1 if high is None else high
        if not low < high or high - 1 > top or low < bottom:
            raise ValueError(f"random_: expects from < to within the range of {self.dtype} "
                             f"([{bottom}, {top}]), got from={low}, to={high}")
        high = min(high, 2 ** 63 - 1)              # (int64 draws: its largest value excluded)
        samples = backend.random_integers(low, high, self.shape, self.device,
                                          rng=generator and generator.numpy_rng)
        return _fill_with_samples(self, samples.astype(self.dtype))

    def apply_(self, callable):
        """Call ``callable`` on each element (a Python number) and write the results back,
        in place, as PyTorch: CPU tensors only, not one that requires grad, and slow (a
        Python loop)."""
        if self.device != "cpu":
            raise RuntimeError(f"apply_: only for CPU tensors, this one is on '{self.device}'")
        if self.requires_grad:
            raise RuntimeError("apply_: can't call apply_() on a tensor that requires grad; "
                               "use x.detach().apply_(f)")
        values = [callable(value) for value in self.data.ravel().tolist()]
        xp = backend.get_xp("cpu")
        self.data[...] = xp.asarray(values, dtype=self.dtype).reshape(self.shape)
        self._version += 1  # an op that saved this tensor will refuse to backward
        return self

    # --- memory: size, sharing, layout ---
    def resize_(self, *sizes, memory_format=None):
        """This tensor given the shape ``sizes``, in place, as PyTorch: its storage (the
        memory from its first element on, ``_storage_from``) read as a row-major block,
        whatever its strides; the same shape leaves it as it is. More elements than the
        storage holds: a new block that keeps the old elements first and zeros after
        (PyTorch leaves them unspecified). A tensor that requires grad refuses; one in
        shared memory cannot grow. Tensors that shared the memory (views, ``detach()``)
        keep the old block when it grows (PyTorch swaps the storage under all of them).
        ``memory_format`` changes nothing: every tensor here is row-major."""
        sizes = _sizes(sizes, "resize_")
        if self.requires_grad:
            raise RuntimeError(f"resize_: cannot resize variables that require grad (shape "
                               f"{self.shape}); resize a tensor that does not")
        if any(size < 0 for size in sizes):
            raise ValueError(f"resize_: sizes must be non-negative, got {sizes}")
        if sizes != self.shape:
            count, storage = math.prod(sizes), _storage_from(self.data)
            if count > storage.size:
                if self.device == "cpu" and _in_shared_memory(self.data):
                    raise RuntimeError(f"resize_: Trying to resize storage that is not "
                                       f"resizable: the tensor (shape {self.shape}) is in "
                                       f"shared memory and cannot grow to {sizes}")
                grown = backend.xp_of(storage).zeros(count, dtype=storage.dtype)
                grown[:storage.size] = storage
                storage = grown
                for link in ("_base", "_made"):  # it no longer views another tensor's memory
                    if hasattr(self, link):
                        delattr(self, link)
            resized = storage[:count].reshape(sizes)
            self.data = type(self.data)(resized) if type(self.data) is not type(resized) \
                else resized  # (the strict device's wrapper around a NumPy array)
        self._version += 1  # an op that saved this tensor will refuse to backward
        return self

    def resize_as_(self, the_template, memory_format=None):
        """``resize_(the_template.shape)``: this tensor given another's shape, in place
        (``memory_format`` changes nothing, as in ``resize_``)."""
        if not isinstance(the_template, tensor_module.Tensor):
            raise TypeError(f"resize_as_: the_template must be a Tensor, got "
                            f"{type(the_template).__name__}")
        return self.resize_(the_template.shape)

    def share_memory_(self):
        """Move the elements into shared memory (an anonymous ``mmap``, which a forked
        process shares) and return this tensor; nothing to do on a GPU or when already
        there, as PyTorch. Other tensors that shared the old memory (views, ``detach()``)
        keep it (PyTorch moves the storage under all of them)."""
        if self.device != "cpu" or _in_shared_memory(self.data):
            return self
        block = mmap.mmap(-1, max(self.data.nbytes, 1))  # (an empty mapping is refused)
        shared = backend.np.frombuffer(block, self.dtype, self.data.size).reshape(self.shape)
        shared[...] = self.data
        self.data = shared
        return self

    def is_shared(self) -> bool:
        """True when the memory is shared between processes: after ``share_memory_()`` on
        the CPU, always on a GPU device, as PyTorch (CUDA memory is shared by handle)."""
        return self.device != "cpu" or _in_shared_memory(self.data)

    def dim_order(self, ambiguity_check=False) -> tuple:
        """The dims from the outermost in memory to the innermost, by their strides: (0, 1,
        2, 3) for a fresh tensor, (0, 2, 1, 3) after ``transpose(1, 2)``, as PyTorch.
        ``ambiguity_check=True``: a RuntimeError when another order fits too (a size-1 dim,
        two neighbouring dims with one stride, dims not strictly ordered)."""
        _check_dim_order("dim_order", ambiguity_check)
        shape, strides = self.shape, self.stride()
        if ambiguity_check and (1 in shape or any(a == b for a, b in zip(strides, strides[1:]))):
            raise RuntimeError(f"dim_order: the tensor (shape {shape}, strides {strides}) does "
                               "not have unique dim order, or cannot map to exact one of the "
                               "given memory formats.")
        order, ambiguous = _stride_order(shape, strides, ambiguity_check)
        if ambiguous:
            raise RuntimeError(f"dim_order: the tensor (shape {shape}, strides {strides}) does "
                               "not have unique dim order.")
        return order

    def as_subclass(self, cls):
        """A ``cls`` instance (a subclass of Tensor) with this tensor's memory that stays in
        its graph, as PyTorch: a view of this tensor (its gradient flows back here; writes
        to either show in both), made without calling ``cls.__init__``."""
        if not isinstance(cls, type) or not issubclass(cls, tensor_module.Tensor):
            raise TypeError(f"as_subclass: cls must be a subclass of Tensor, got {cls!r}")
        alias = reshape(self, self.shape)  # (a view of its own in the graph)
        result = object.__new__(cls)
        for name in tensor_module.Tensor.__slots__:
            if name != "__weakref__" and hasattr(alias, name):  # (_made, _base: views only)
                setattr(result, name, getattr(alias, name))
        if result.grad_fn is not None:  # the graph's node must lead to the new object
            result.grad_fn.output_ref = weakref.ref(result)
        return result

    def record_stream(self, stream):
        """Mark the memory as used by ``stream`` (a CUDA stream), so that once this tensor
        is freed its memory is not handed out again before the work queued on ``stream``
        by then has run. CUDA tensors only, as PyTorch (a CPU tensor: NotImplementedError).
        CuPy's memory pool keeps no such record, so the array itself is held until an
        event recorded on ``stream`` at the tensor's end has completed."""
        if self.device != "cuda":
            raise NotImplementedError(f"record_stream: only for CUDA tensors (streams are "
                                      f"CUDA's), this one is on '{self.device}'")
        if not callable(getattr(stream, "record", None)):
            raise TypeError(f"record_stream: stream must be a CUDA stream, got {stream!r}")
        weakref.finalize(self, _hold_until_done, self.data, stream)
