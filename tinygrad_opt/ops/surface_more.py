"""More of PyTorch's ``torch.*`` functions and Tensor methods, outside the reading path:
the regularized incomplete gamma functions, the signal windows, the deprecated
decomposition spellings (``torch.qr``, ``torch.lu``, ``torch.triangular_solve``), the
real-tensor answers of the complex API (``conj``, ``adjoint``, ``x.mH``), bit shifts,
dtype rules, the in-place spellings ``x.<name>_()`` of the math ops, and more.

One op has a backward of its own: ``Igamma``, P(a, x) = γ(a, x)/Γ(a) and its
complement Q = 1 − P, computed by a power series or a continued fraction (no array
module has them). Everything else is a composition of existing ops, so its gradient is
theirs. What has no gradient (shifts, windows, dtype rules) returns tensors that never
require grad.

For real tensors the complex API is the identity: ``conj(x)`` is x, ``x.mH`` is
``x.mT``, ``x.is_complex()`` is False, as PyTorch answers for real tensors.
"""

from __future__ import annotations

import math
from collections import namedtuple

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.elementwise import constant
from tinygrad_opt.ops.everyday import _operands, corrcoef, cov, histogram, svd
from tinygrad_opt.ops.math_ops import _binary
from tinygrad_opt.ops.rearrange import _in_place_math, _tensor, narrow
from tinygrad_opt.ops.shape import as_operand, normalize_dim
from tinygrad_opt.ops.special import Lgamma, _lgamma, i0

import tinygrad_opt.tensor as tensor_module

__all__: list = [
    "igamma", "igammac", "rsub", "narrow_copy", "diagonal_scatter",
    "bitwise_left_shift", "bitwise_right_shift", "can_cast", "promote_types", "asarray",
    "is_complex", "is_conj", "conj", "conj_physical", "resolve_conj", "resolve_neg",
    "adjoint", "bartlett_window", "blackman_window", "hamming_window", "hann_window",
    "kaiser_window", "qr", "lu", "lu_unpack", "triangular_solve", "orgqr",
]

QrResult = namedtuple("qr", ["Q", "R"])
QrResult.__doc__ = "``(Q, R)``, as ``torch.qr`` returns them."
LuUnpackResult = namedtuple("lu_unpack", ["P", "L", "U"])
LuUnpackResult.__doc__ = "``(P, L, U)``, as ``torch.lu_unpack`` returns them."
TriangularSolveResult = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
TriangularSolveResult.__doc__ = ("``(solution, cloned_coefficient)``, as "
                                 "``torch.triangular_solve`` returns them.")


def _linalg():
    """The module ``tinygrad_opt.linalg``, imported on first use (it imports ``Tensor``,
    which inherits this file's methods)."""
    from tinygrad_opt import linalg
    return linalg


# --- the regularized incomplete gamma functions ---

def _regularized_gamma(a, x):
    """``(P, Q)``: P(a, x) = γ(a, x)/Γ(a) and Q = 1 − P of float64 arrays a, x > 0 (of one
    shape). Where x < a + 1 the series P = xᵃe⁻ˣ/Γ(a + 1) · Σₙ xⁿ/((a + 1)⋯(a + n));
    elsewhere Legendre's continued fraction for Q, evaluated by the modified Lentz method;
    the other one is 1 minus it (it is then the larger, so no digits are lost)."""
    xp = backend.xp_of(a)
    front = xp.exp(a * xp.log(x) - x - _lgamma(a))                      # xᵃe⁻ˣ/Γ(a)
    term = 1 / a
    total = term
    b = x + 1 - a                                                       # the fraction's b₀
    tiny = 1e-300
    c, d = xp.full_like(x, 1 / tiny), 1 / xp.where(b == 0, tiny, b)
    fraction = d
    for n in range(1, 10_000):
        term = term * x / (a + n)                                       # xⁿ/(a(a+1)⋯(a+n))
        total = total + term
        step = -n * (n - a)                                             # the n-th numerator
        b = b + 2
        d = step * d + b
        d = 1 / xp.where(d == 0, tiny, d)
        c = b + step / c
        c = xp.where(c == 0, tiny, c)
        fraction = fraction * d * c
        done = xp.abs(term) <= 1e-17 * xp.abs(total)
        done = xp.where(x < a + 1, done, xp.abs(d * c - 1) <= 1e-16)
        if backend.to_host(done.all()).item():
            break
    lower = xp.minimum(front * total, 1.0)
    upper = xp.minimum(front * fraction, 1.0)
    series = x < a + 1
    return xp.where(series, lower, 1 - upper), xp.where(series, 1 - lower, upper)


def _igamma_edges(a, x, upper: bool):
    """PyTorch's (Cephes') values where the series do not apply, NaN elsewhere to be
    filled: NaN for a < 0 or x < 0 (and for a = x = 0); P(0, x > 0) = 1; P(a, 0) = 0;
    P(inf, x) = 0 (NaN at x = inf); P(a, inf) = 1; Q = 1 − P there."""
    xp = backend.xp_of(a)
    lower = xp.full(a.shape, math.nan)
    lower = xp.where((a == 0) & (x > 0), 1.0, lower)
    lower = xp.where((x == 0) & (a > 0), 0.0, lower)
    lower = xp.where(xp.isinf(x) & (x > 0) & xp.isfinite(a) & (a > 0), 1.0, lower)
    lower = xp.where(xp.isinf(a) & (a > 0) & xp.isfinite(x) & (x > 0), 0.0, lower)
    lower = xp.where((a < 0) | (x < 0), math.nan, lower)
    return 1 - lower if upper else lower


class Igamma(Function):
    """y = P(a, x) = γ(a, x)/Γ(a) = 1/Γ(a) ∫₀ˣ tᵃ⁻¹e⁻ᵗ dt (``upper``: y = Q(a, x) = 1 − P).
    dy/dx = ±xᵃ⁻¹e⁻ˣ/Γ(a) (+ for P, − for Q); dy/da is not implemented (as PyTorch)."""

    def forward(self, a: "Array", x: "Array", upper: bool) -> "Array":
        self.upper = upper
        xp = backend.xp_of(a)
        a, x = xp.broadcast_arrays(a, x)
        a64, x64 = a.reshape(-1).astype(backend.float64), x.reshape(-1).astype(backend.float64)
        inside = (a64 > 0) & (x64 > 0) & xp.isfinite(a64) & xp.isfinite(x64)
        lower, complement = _regularized_gamma(xp.where(inside, a64, 1.0),
                                               xp.where(inside, x64, 1.0))
        values = xp.where(inside, complement if upper else lower,
                          _igamma_edges(a64, x64, upper))
        return values.reshape(a.shape).astype(a.dtype)

    def backward(self, grad_output: "Grad") -> "Grads":
        if self.needs_input_grad[0]:
            raise NotImplementedError("the derivative of igamma/igammac with respect to its "
                                      "first argument (input) is not implemented (as in "
                                      "PyTorch)")
        if not self.needs_input_grad[1]:
            return None, None
        (a, x), xp = self.saved_inputs, self.xp
        density = xp.exp((a - 1) * xp.log(x) - x - Lgamma.apply(a))     # xᵃ⁻¹e⁻ˣ/Γ(a)
        return None, (-grad_output if self.upper else grad_output) * density


def igamma(input, other):
    """P(a, x) = γ(a, x)/Γ(a) = 1/Γ(a) ∫₀ˣ tᵃ⁻¹e⁻ᵗ dt, the regularized lower incomplete
    gamma function, of a = input and x = other (a, x ≥ 0), elementwise with broadcasting
    (``tg.special.gammainc``); integers become the default float. The gradient with
    respect to x is xᵃ⁻¹e⁻ˣ/Γ(a); that with respect to a is not implemented (as PyTorch)."""
    return _binary(_Igamma(upper=False), "igamma", input, other, float_valued=True)


def igammac(input, other):
    """Q(a, x) = 1 − P(a, x) = Γ(a, x)/Γ(a), the regularized upper incomplete gamma
    function (``tg.special.gammaincc``), as ``igamma``; accurate where Q is tiny. The
    gradient with respect to x is −xᵃ⁻¹e⁻ˣ/Γ(a)."""
    return _binary(_Igamma(upper=True), "igammac", input, other, float_valued=True)


class _Igamma:
    """``Igamma`` with ``upper`` bound, in the shape ``_binary`` calls: ``op.apply(a, x)``."""

    def __init__(self, upper: bool):
        self.upper = upper

    def apply(self, a, x):
        return Igamma.apply(a, x, upper=self.upper)


# --- arithmetic and copies ---

def rsub(input, other, *, alpha=1):
    """other − alpha·input, elementwise with broadcasting (``sub`` with the operands
    swapped); the gradient is −alpha for input and 1 for other."""
    input = _tensor(input, "rsub")
    scaled = input if alpha == 1 else input * alpha
    return -scaled + other


def narrow_copy(input, dim: int, start: int, length: int):
    """A copy of ``narrow(input, dim, start, length)`` (not a view)."""
    return narrow(input, dim, start, length).clone()


def diagonal_scatter(input, src, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """``input`` with its diagonal ``offset`` in dims ``dim1``, ``dim2`` replaced by
    ``src`` (of ``input.diagonal(offset, dim1, dim2)``'s shape): ``out = input.clone();
    out.diagonal(...)[...] = src``. The overwritten places of input get a gradient of 0,
    src the gradient of the places it went to."""
    x = _tensor(input, "diagonal_scatter")
    wanted = x.diagonal(offset, dim1, dim2).shape
    src = _tensor(src, "diagonal_scatter")
    if src.shape != wanted:
        raise ValueError(f"diagonal_scatter: src of shape {src.shape} for a diagonal of "
                         f"shape {wanted} in the input of shape {x.shape}")
    dim1, dim2 = normalize_dim(dim1, x.ndim, "diagonal_scatter"), normalize_dim(
        dim2, x.ndim, "diagonal_scatter")
    moved = x.movedim((dim1, dim2), (-2, -1)).clone()                  # (..., rows, columns)
    xp, k = backend.xp_of(x.data), wanted[-1]
    rows, columns = xp.arange(k) + max(-offset, 0), xp.arange(k) + max(offset, 0)
    moved[..., rows, columns] = src                                     # (..., k) ← src
    return moved.movedim((-2, -1), (dim1, dim2))


def _shift(name: str, input, other):
    """``xp.<name>`` of two integer operands, promoted as ``+`` promotes them."""
    input, other = _operands(input, other, name)
    if input.dtype.kind not in "iu":
        raise TypeError(f"{name}: only integer tensors, got dtype {input.dtype}")
    xp = backend.xp_of(input.data)
    return constant(getattr(xp, name)(input.data, other.data).astype(input.dtype))


def bitwise_left_shift(input, other):
    """input · 2^other for integers, bit by bit: input << other (no gradient)."""
    return _shift("left_shift", input, other)


def bitwise_right_shift(input, other):
    """⌊input / 2^other⌋ for integers: input >> other, arithmetic (the sign kept) for
    signed dtypes (no gradient)."""
    return _shift("right_shift", input, other)


# --- dtypes and conversion ---

def can_cast(from_, to) -> bool:
    """True unless the cast goes down a category, as ``torch.can_cast`` (which ``type_as``
    and the in-place ops follow): a float to an integer or bool, an integer to bool."""
    from_, to = backend.as_dtype(from_), backend.as_dtype(to)
    if backend.is_floating(from_) and not backend.is_floating(to):
        return False
    return not (from_ != backend.bool_ and to == backend.bool_)


def promote_types(type1, type2):
    """The dtype two tensors of these dtypes (each with dims) meet at, by PyTorch's
    categories bool < integer < float: the float one if one is a float, else the
    wider one (uint8 and int8 meet at int16)."""
    type1, type2 = backend.as_dtype(type1), backend.as_dtype(type2)
    if backend.is_floating(type1) != backend.is_floating(type2):
        return type1 if backend.is_floating(type1) else type2
    return backend.result_dtype(type1, type2)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad: bool = False):
    """``obj`` (a tensor, a NumPy array, nested sequences or a number) as a tensor,
    sharing memory where it can, as ``torch.asarray``: ``copy=None`` copies only when a
    dtype or device change needs it, ``copy=True`` always, ``copy=False`` never (a
    ValueError when it would have to). A tensor returned itself keeps its graph; with
    ``requires_grad=True`` a tensor keeps its history (a copy is a ``clone``, in the graph)
    and a leaf given back itself is set to require grad, as in PyTorch."""
    from tinygrad_opt import functions
    Tensor = tensor_module.Tensor
    if copy:
        keep_graph = requires_grad or not isinstance(obj, Tensor)
        source = obj if keep_graph else obj.detach()
        result = functions.as_tensor(source, dtype, device)
        result = result.clone() if result is source or _shares(result, source) else result
    else:
        result = functions.as_tensor(obj, dtype, device)
        if copy is False and not (result is obj or _shares(result, obj)):
            raise ValueError("asarray: copy=False, but the data can not be shared (a dtype "
                             "or device change, or not an array)")
    if requires_grad and not result.requires_grad:  # (a tensor with a history has it)
        result.requires_grad_(True)
    return result


def _shares(result, source) -> bool:
    """True when the tensor ``result`` uses the memory of ``source`` (a tensor or array)."""
    data = source.data if isinstance(source, tensor_module.Tensor) else source
    return backend.is_array(data) and backend.memory_owner(result.data) is \
        backend.memory_owner(data)


# --- the complex API on real tensors ---

def is_complex(input) -> bool:
    """False: no dtype here is complex."""
    _tensor(input, "is_complex")
    return False


def is_conj(input) -> bool:
    """False: a real tensor never carries PyTorch's lazy conjugation bit."""
    _tensor(input, "is_conj")
    return False


def conj(input):
    """The complex conjugate; for a real tensor the tensor itself (as PyTorch)."""
    return _tensor(input, "conj")


def conj_physical(input):
    """The complex conjugate, computed; for a real tensor the tensor itself (as PyTorch)."""
    return _tensor(input, "conj_physical")


def resolve_conj(input):
    """The tensor itself: a real tensor has no conjugation bit to resolve."""
    return _tensor(input, "resolve_conj")


def resolve_neg(input):
    """The tensor itself: no tensor here carries PyTorch's lazy negation bit."""
    return _tensor(input, "resolve_neg")


def adjoint(input):
    """The conjugate transpose of the last two dims, for real tensors ``x.mT`` (a view)."""
    x = _tensor(input, "adjoint")
    if x.ndim < 2:
        raise ValueError(f"adjoint: only supported on matrices or batches of matrices, got "
                         f"shape {x.shape}")
    return x.transpose(-2, -1)


# --- signal windows (constants: no gradient unless requires_grad=True asks for one) ---

def _window(name: str, window_length: int, periodic: bool, dtype, device, requires_grad,
            formula):
    """The window w[n] = formula(n, N), n = 0, ..., L − 1, N = L − 1 (``periodic``: the
    symmetric window of L + 1 points without its last, N = L); L = 1 gives [1]."""
    if isinstance(window_length, bool) or not isinstance(window_length, int) \
            or window_length < 0:
        raise ValueError(f"{name}: window_length must be a non-negative int, got "
                         f"{window_length!r}")
    dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
    if not backend.is_floating(dtype):
        raise TypeError(f"{name}: expected a floating-point dtype, got {dtype}")
    xp = backend.get_xp(backend.check_device(device or "cpu"))
    if window_length <= 1:
        values = xp.ones(window_length, dtype=dtype)
    else:
        n = xp.arange(window_length, dtype=backend.float64)
        values = formula(xp, n, window_length if periodic else window_length - 1)
    result = constant(values.astype(dtype))
    return result.requires_grad_(True) if requires_grad else result


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                device=None, requires_grad: bool = False):
    """The Hann window w[n] = ½ − ½ cos(2πn/N) (N = L − 1, or L when ``periodic``)."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda xp, n, N: 0.5 - 0.5 * xp.cos(2 * math.pi * n / N))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype=None, layout=None, device=None,
                   requires_grad: bool = False):
    """The Hamming window w[n] = α − β cos(2πn/N) (N = L − 1, or L when ``periodic``)."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda xp, n, N: alpha - beta * xp.cos(2 * math.pi * n / N))


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False):
    """The Blackman window w[n] = 0.42 − ½ cos(2πn/N) + 0.08 cos(4πn/N)."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda xp, n, N: (0.42 - 0.5 * xp.cos(2 * math.pi * n / N)
                                     + 0.08 * xp.cos(4 * math.pi * n / N)))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False):
    """The Bartlett (triangular) window w[n] = 1 − |2n/N − 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda xp, n, N: 1 - xp.abs(2 * n / N - 1))


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype=None, layout=None, device=None, requires_grad: bool = False):
    """The Kaiser window w[n] = I₀(β √(1 − (2n/N − 1)²)) / I₀(β), I₀ the modified Bessel
    function of order 0 (N = L − 1, or L when ``periodic``)."""

    def formula(xp, n, N):
        argument = beta * xp.sqrt(xp.maximum(1 - (2 * n / N - 1) ** 2, 0))
        return i0(constant(argument)).data / i0(constant(xp.asarray([beta * 1.0]))).data

    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   formula)


# --- the deprecated decomposition spellings ---

def qr(input, some: bool = True):
    """``(Q, R)`` with A = Q R (the deprecated ``torch.qr``): ``tg.linalg.qr`` with mode
    'reduced' (``some=True``) or 'complete'."""
    return QrResult(*_linalg().qr(input, "reduced" if some else "complete"))


def lu(A, pivot: bool = True, get_infos: bool = False):
    """``(LU, pivots)``, or ``(LU, pivots, infos)`` with ``get_infos``, of A = P L U (the
    deprecated ``torch.lu``): ``tg.linalg.lu_factor_ex``."""
    LU, pivots, infos = _linalg().lu_factor_ex(A, pivot=pivot)
    return (LU, pivots, infos) if get_infos else (LU, pivots)


def lu_unpack(LU_data, LU_pivots, unpack_data: bool = True,
              unpack_pivots: bool = True) -> LuUnpackResult:
    """``(P, L, U)`` from ``lu_factor``'s packed (LU, pivots) of (..., m, n), k = min(m, n):
    P (..., m, m) the permutation (constant), L (..., m, k) the part below the diagonal
    with a unit diagonal added, U (..., k, n) the part on and above it. What is not
    unpacked (``unpack_data``, ``unpack_pivots`` False) is an empty tensor, as PyTorch."""
    linalg = _linalg()
    linalg._check_matrices("lu_unpack", LU_data, square=False)
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = linalg._empty(LU_data, LU_data.dtype)
    L = U = P = empty
    if unpack_data:
        L = LU_data[..., :, :k].tril(-1) + constant(linalg._eye(LU_data.data, m, k))
        U = LU_data[..., :k, :].triu()
    if unpack_pivots:
        if not isinstance(LU_pivots, tensor_module.Tensor) or LU_pivots.dtype.kind not in "iu" \
                or LU_pivots.shape != LU_data.shape[:-2] + (k,):
            got = (f"a {LU_pivots.dtype} Tensor of shape {LU_pivots.shape}"
                   if isinstance(LU_pivots, tensor_module.Tensor) else type(LU_pivots).__name__)
            raise ValueError(f"lu_unpack: LU_pivots must be an integer Tensor of shape "
                             f"{LU_data.shape[:-2] + (k,)}, got {got}")
        rows = linalg._rows_of_pivots(LU_pivots.data, m)                  # (..., m)
        P = constant(linalg._permutation(rows, LU_data.dtype))
    return LuUnpackResult(P, L, U)


def triangular_solve(b, A, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False) -> TriangularSolveResult:
    """``(X, A.clone())`` with T X = b (``transpose``: Tᵀ X = b), T the upper (default) or
    lower triangle of A (the deprecated ``torch.triangular_solve``; note b comes first):
    ``tg.linalg.solve_triangular``. Batch dims broadcast."""
    linalg = _linalg()
    linalg._check_matrices("triangular_solve", A)
    T = A.transpose(-2, -1) if transpose else A
    X = linalg.solve_triangular(T, b, upper=upper != transpose, unitriangular=unitriangular)
    return TriangularSolveResult(X, A.clone())


def orgqr(input, tau):
    """The first n columns of the product of the Householder reflections stored in
    ``input`` (..., m, n) and ``tau``: ``tg.linalg.householder_product``."""
    return _linalg().householder_product(input, tau)


# --- Tensor methods ---

def _float64_only_float_power(self, exponent):
    """``x = x.float_power(exponent)`` in place: PyTorch computes in float64 and refuses any
    other dtype of x."""
    if self.dtype != backend.float64:
        raise RuntimeError(f"float_power_: the base has dtype {self.dtype} but the "
                           "operation's result requires dtype float64")
    return _in_place_math("float_power")(self, exponent)


def _shape_in_place(name: str):
    """``x.<name>_(...)``: x takes the shape of ``x.<name>(...)`` (the same memory). Only
    for a tensor outside any graph (PyTorch records it as a view op; here it refuses when
    x requires grad). As any in-place op it bumps x's version."""

    def method(self, *args, **kwargs):
        if self.requires_grad:
            raise RuntimeError(f"{name}_: changing the shape in place of a tensor that "
                               f"requires grad is not supported here; use x = x.{name}(...)")
        self.data = getattr(self, name)(*args, **kwargs).data
        self._version += 1  # as PyTorch: an op that saved x (of the old shape) refuses
        return self

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = (f"x takes the shape of ``x.{name}(...)``, in place (the same memory); "
                      "refused for a tensor that requires grad.")
    return method


class SurfaceMoreMethods:
    """Tensor methods of this file, inherited by ``Tensor`` through ``Conveniences``:
    ``x.igamma(y)`` is ``igamma(x, y)``, ``x.sinh_()`` is ``x[...] = x.sinh()``, ..."""

    __slots__ = ()

    igamma, igammac, narrow_copy, diagonal_scatter = (
        igamma, igammac, narrow_copy, diagonal_scatter)
    bitwise_left_shift, bitwise_right_shift = bitwise_left_shift, bitwise_right_shift
    is_complex, is_conj, conj, conj_physical = is_complex, is_conj, conj, conj_physical
    resolve_conj, resolve_neg, adjoint = resolve_conj, resolve_neg, adjoint
    cov, corrcoef, histogram, svd, lu, triangular_solve, orgqr = (
        cov, corrcoef, histogram, svd, lu, triangular_solve, orgqr)
    # --- in place: x[...] = x.<name>(...) (rearrange._in_place_math) ---
    absolute_, negative_, sign_, square_, rsqrt_, fix_, frac_ = map(
        _in_place_math, ("absolute", "negative", "sign", "square", "rsqrt", "fix", "frac"))
    acos_, acosh_, asin_, asinh_, atan_, atanh_, atan2_ = map(
        _in_place_math, ("acos", "acosh", "asin", "asinh", "atan", "atanh", "atan2"))
    arccos_, arccosh_, arcsin_, arcsinh_ = map(
        _in_place_math, ("arccos", "arccosh", "arcsin", "arcsinh"))
    arctan_, arctanh_, arctan2_ = map(_in_place_math, ("arctan", "arctanh", "arctan2"))
    cosh_, sinh_, tan_, sinc_, erf_, erfc_, logit_ = map(
        _in_place_math, ("cosh", "sinh", "tan", "sinc", "erf", "erfc", "logit"))
    exp2_, expm1_, log10_, log1p_, log2_, nan_to_num_ = map(
        _in_place_math, ("exp2", "expm1", "log10", "log1p", "log2", "nan_to_num"))
    divide_, true_divide_, multiply_, subtract_ = map(
        _in_place_math, ("divide", "true_divide", "multiply", "subtract"))
    floor_divide_, fmod_, remainder_ = map(_in_place_math, ("floor_divide", "fmod", "remainder"))
    hypot_, heaviside_, nextafter_, xlogy_, lerp_, gcd_, lcm_ = map(
        _in_place_math, ("hypot", "heaviside", "nextafter", "xlogy", "lerp", "gcd", "lcm"))
    igamma_, igammac_, cumsum_, cumprod_, tril_, triu_ = map(
        _in_place_math, ("igamma", "igammac", "cumsum", "cumprod", "tril", "triu"))
    addbmm_, addmm_, addmv_, addr_, baddbmm_ = map(
        _in_place_math, ("addbmm", "addmm", "addmv", "addr", "baddbmm"))
    eq_, ne_, not_equal_, ge_, gt_, le_, lt_ = map(
        _in_place_math, ("eq", "ne", "not_equal", "ge", "gt", "le", "lt"))
    greater_, greater_equal_, less_, less_equal_ = map(
        _in_place_math, ("greater", "greater_equal", "less", "less_equal"))
    logical_and_, logical_or_, logical_xor_, logical_not_ = map(
        _in_place_math, ("logical_and", "logical_or", "logical_xor", "logical_not"))
    bitwise_and_, bitwise_or_, bitwise_xor_, bitwise_not_ = map(
        _in_place_math, ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"))
    bitwise_left_shift_, bitwise_right_shift_ = map(
        _in_place_math, ("bitwise_left_shift", "bitwise_right_shift"))
    float_power_ = _float64_only_float_power
    squeeze_, unsqueeze_, t_, transpose_, swapaxes_, swapdims_ = (
        _shape_in_place(name) for name in ("squeeze", "unsqueeze", "t", "transpose",
                                           "swapaxes", "swapdims"))

    # --- Python's operator protocol, as torch.Tensor's ---
    # x op= v runs in place, as in PyTorch (without these Python would rebind x to x op v,
    # a new tensor, and another name for x would keep the old values)
    __ipow__, __imod__, __ifloordiv__ = map(
        _in_place_math, ("pow", "remainder", "floor_divide"))
    __iand__, __ior__, __ixor__, __ilshift__, __irshift__ = map(
        _in_place_math, ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                         "bitwise_right_shift"))
    __lshift__, __rshift__ = bitwise_left_shift, bitwise_right_shift

    def __rlshift__(self, other):
        """``other << x``."""
        return bitwise_left_shift(as_operand(other, self, "left_shift"), self)

    def __rrshift__(self, other):
        """``other >> x``."""
        return bitwise_right_shift(as_operand(other, self, "right_shift"), self)

    def __rand__(self, other):
        """``other & x`` (= ``x & other``)."""
        return self & other

    def __ror__(self, other):
        """``other | x`` (= ``x | other``)."""
        return self | other

    def __index__(self) -> int:
        """``operator.index(x)`` (``items[x]``, slices) of a one-element integer tensor; a
        bool counts as an integer here, as in PyTorch (``items[tg.tensor(True)]`` is
        ``items[1]``)."""
        if self.dtype.kind not in "biu" or self.data.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to "
                            f"an index, got dtype {self.dtype} and shape {self.shape}")
        return int(self.item())

    def split_with_sizes(self, split_sizes, dim: int = 0):
        """The pieces of ``split_sizes`` entries along ``dim`` (they must add up to its
        size): ``x.split(list(split_sizes), dim)``, as PyTorch's; views of x."""
        sizes = list(split_sizes)
        if sum(sizes) != self.shape[normalize_dim(dim, self.ndim, "split_with_sizes")]:
            raise ValueError(f"split_with_sizes: the sizes {sizes} do not add up to dim {dim}"
                             f" of shape {self.shape}")
        return self.split(sizes, dim)

    def __reversed__(self):
        """``reversed(x)``: x flipped along dim 0 (a 0-d tensor is itself), as PyTorch."""
        return self if self.ndim == 0 else self.flip(0)

    def __complex__(self) -> complex:
        """``complex(x)`` of a one-element tensor."""
        return complex(self.item())

    @property
    def mH(self):
        """The conjugate transpose of the last two dims; for real tensors ``x.mT``."""
        return adjoint(self)

    @property
    def H(self):
        """The conjugate transpose of a matrix (or a 0-d tensor itself); for real tensors
        ``x.T`` of a 2-D tensor."""
        if self.ndim not in (0, 2):
            raise ValueError(f"H: only supported on matrices (2-D tensors), got shape "
                             f"{self.shape}; use x.mH for batches of matrices")
        return self if self.ndim == 0 else self.transpose(0, 1)

    def cholesky_inverse(self, upper: bool = False):
        """A⁻¹ from this Cholesky factor L of A = L Lᵀ: ``tg.cholesky_inverse``."""
        return _linalg().cholesky_inverse(self, upper)

    def cholesky_solve(self, input2, upper: bool = False):
        """X with A X = self for A = L Lᵀ, L = input2: ``tg.cholesky_solve(self, input2)``."""
        return _linalg().cholesky_solve(self, input2, upper)

    def lu_solve(self, LU_data, LU_pivots):
        """X with A X = self, from ``lu_factor``'s (LU_data, LU_pivots) of A:
        ``tg.lu_solve(self, LU_data, LU_pivots)``."""
        return _linalg().lu_solve(LU_data, LU_pivots, self)

    # --- sizes, devices and flags ---
    @property
    def itemsize(self) -> int:
        """The size of one element in bytes (4 for float32): ``element_size()``."""
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        """The bytes the elements take: ``numel() · itemsize``."""
        return self.data.size * self.dtype.itemsize

    def ndimension(self) -> int:
        """The number of dims: ``ndim``."""
        return self.ndim

    def is_signed(self) -> bool:
        """True for the signed dtypes: floats and signed integers (not uint8, not bool)."""
        return self.dtype.kind in "fi"

    @property
    def is_cuda(self) -> bool:
        """True when the tensor is on the GPU."""
        return self.device == "cuda"

    def get_device(self) -> int:
        """The GPU's index (0) for a tensor on 'cuda', −1 on the CPU, as PyTorch."""
        return 0 if self.device == "cuda" else -1

    @property
    def is_sparse(self) -> bool:
        """False: every tensor here is dense."""
        return False

    @property
    def is_quantized(self) -> bool:
        """False: no tensor here is quantized."""
        return False

    @property
    def is_meta(self) -> bool:
        """False: every tensor here holds its values."""
        return False

    def is_inference(self) -> bool:
        """False: ``tg.inference_mode`` is ``no_grad`` and marks no tensor."""
        return False

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor whose ``.grad`` ``retain_grad()`` asked to keep."""
        return bool(self._retains_grad) and not self.is_leaf

    def map_(self, tensor, callable):
        """``self[i] = callable(self[i], tensor[i])`` for every element (``tensor``
        broadcast to self's shape; Python numbers), in place: CPU tensors only, not one
        that requires grad, and slow (a Python loop), as ``apply_``."""
        if self.device != "cpu":
            raise RuntimeError(f"map_: only for CPU tensors, this one is on '{self.device}'")
        if self.requires_grad:
            raise RuntimeError("map_: can't call map_() on a tensor that requires grad")
        xp = backend.get_xp("cpu")
        others = xp.broadcast_to(_tensor(tensor, "map_").data, self.shape).ravel().tolist()
        values = [callable(a, b) for a, b in zip(self.data.ravel().tolist(), others)]
        self.data[...] = xp.asarray(values, dtype=self.dtype).reshape(self.shape)
        self._version += 1  # an op that saved this tensor will refuse to backward
        return self

