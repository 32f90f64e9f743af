"""``tg.linalg``: linear algebra with gradients, with ``torch.linalg``'s names and rules.

Read after the core (docs/reading-order.md). Seven primitives have a backward of their
own: ``Inv``, ``Solve``, ``Det``, ``LogAbsDet``, ``Cholesky``, ``Eigh`` and
``VectorNorm``. Everything else is composed of them and of the core ops: ``slogdet``
(its sign is a constant), ``matrix_norm``, ``norm``, ``eigvalsh``, ``matrix_power``,
``multi_dot``, ``cross``, ``vecdot``, so their gradients need no code.

Matrices are the last two dims, ``(..., n, n)``: every op also takes a batch of them.
In the formulas, ``Aᵀ`` swaps the last two axes and ``G`` is dL/d(output). Each
backward uses only ``@``, ``xp.swapaxes``, ``xp.where``, arithmetic and the ops of
this file (``Inv.apply(A)`` inside a backward), so the one formula runs on arrays in
a plain backward and records a graph under ``create_graph=True``: second derivatives
(Hessians, ``gradgradcheck``) work, as for the core ops.

A singular matrix (``inv``, ``solve``) or one that is not positive-definite
(``cholesky``) raises ``tg.linalg.LinAlgError``, a RuntimeError, as PyTorch's.
"""

from __future__ import annotations

import math
from collections import namedtuple

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.elementwise import Sign, constant
from tinygrad_opt.ops.linalg import matmul
from tinygrad_opt.ops.reduce import reduction_dims
from tinygrad_opt.ops.shape import broadcast_to, normalize_dim, stack
from tinygrad_opt.tensor import Tensor

__all__ = ["LinAlgError", "inv", "solve", "det", "slogdet", "logdet", "cholesky", "eigh",
           "eigvalsh", "vector_norm", "matrix_norm", "norm", "matrix_power", "multi_dot",
           "cross", "vecdot", "matmul"]


class LinAlgError(RuntimeError):
    """A matrix the operation cannot work with: singular for ``inv`` and ``solve``, not
    positive-definite for ``cholesky`` (PyTorch's ``torch.linalg.LinAlgError``)."""


SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
SlogdetResult.__doc__ = "``(sign, logabsdet)``, as ``torch.linalg.slogdet`` returns them."

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EighResult.__doc__ = "``(eigenvalues, eigenvectors)``, as ``torch.linalg.eigh`` returns them."


# --- the primitives ---

class Inv(Function):
    """Y = A⁻¹.   dY = −Y dA Y,   so   dL/dA = −Yᵀ G Yᵀ."""

    def forward(self, a: "Array") -> "Array":
        return _checked(backend.xp_of(a).linalg.inv, a, "inv", "the matrix is singular")

    def backward(self, grad_output: "Grad") -> "Grads":
        y_t = self.xp.swapaxes(self.saved_output, -1, -2)    # (..., n, n)
        return -(y_t @ grad_output @ y_t)


class Solve(Function):
    """X = A⁻¹ B for A (..., n, n) and B (..., n, k) with the same batch dims.

    dL/dB = A⁻ᵀ G   (a solve with Aᵀ),   dL/dA = −(dL/dB) Xᵀ.
    """

    def forward(self, a: "Array", b: "Array") -> "Array":
        solve = backend.xp_of(a).linalg.solve
        return _checked(lambda a: solve(a, b), a, "solve", "the matrix A is singular")

    def backward(self, grad_output: "Grad") -> "Grads":
        xp = self.xp
        a_t = xp.swapaxes(self.saved_input(0), -1, -2)       # (..., n, n)
        grad_b = Solve.apply(a_t, grad_output)                # (..., n, k)
        grad_a = None
        if self.needs_input_grad[0]:
            grad_a = -(grad_b @ xp.swapaxes(self.saved_output, -1, -2))   # (..., n, n)
        return grad_a, grad_b if self.needs_input_grad[1] else None


class Det(Function):
    """y = det A.   dy/dA = C, the cofactor matrix: C_ij = (−1)^(i+j) det(A without row i
    and column j) (C = adj(A)ᵀ). So dL/dA = G · C.

    Where every det ≠ 0, C = det(A) · A⁻ᵀ: one inverse. Where some det is 0, A⁻¹ does
    not exist, and C is taken from its definition instead: n² determinants of the
    (n−1) × (n−1) minors, with Det again, so that second derivatives work there too.
    That costs n⁵ work, which is why it waits for a singular matrix (as ``Cumprod``
    waits for a zero); PyTorch takes the singular case through an SVD.
    """

    def forward(self, a: "Array") -> "Array":
        return backend.xp_of(a).linalg.det(a)

    def backward(self, grad_output: "Grad") -> "Grads":
        (a,), xp = self.saved_inputs, self.xp
        grad = grad_output.reshape(grad_output.shape + (1, 1))      # (..., 1, 1)
        if a.shape[-1] == 1:
            return grad                                              # det [a] = a
        if not backend.to_host((self.output.data == 0).any()):
            det = self.saved_output.reshape(grad.shape)              # (..., 1, 1)
            return grad * det * xp.swapaxes(Inv.apply(a), -1, -2)    # G · det(A) · A⁻ᵀ
        return grad * _cofactors(a, self.inputs[0].data)


def _cofactors(a, a_array):
    """C_ij = (−1)^(i+j) det(minor_ij) of A (..., n, n), an array or a Tensor; the index
    arrays are made on the device of ``a_array`` (A's own array)."""
    xp, n = backend.xp_of(a_array), a.shape[-1]
    i = xp.arange(n).reshape(n, 1)
    k = xp.arange(n - 1).reshape(1, n - 1)
    kept = k + (k >= i)                                      # (n, n−1): row i is 0..n−1 without i
    rows = kept.reshape(n, 1, n - 1, 1)
    columns = kept.reshape(1, n, 1, n - 1)
    minors = a[..., rows, columns]                           # (..., n, n, n−1, n−1)
    signs = 1 - 2 * ((i + i.reshape(1, n)) % 2)              # (n, n): (−1)^(i+j)
    return Det.apply(minors) * signs.astype(a_array.dtype)


class LogAbsDet(Function):
    """y = log |det A|.   dy/dA = A⁻ᵀ (the sign of det A does not change near A)."""

    def forward(self, a: "Array") -> "Array":
        xp = backend.xp_of(a)
        sign, logabsdet = _parts(xp, xp.linalg.slogdet(a))
        return logabsdet

    def backward(self, grad_output: "Grad") -> "Grads":
        (a,) = self.saved_inputs
        grad = grad_output.reshape(grad_output.shape + (1, 1))      # (..., 1, 1)
        return grad * self.xp.swapaxes(Inv.apply(a), -1, -2)


class Cholesky(Function):
    """L = cholesky(A), lower triangular with A = L Lᵀ (A symmetric positive-definite;
    only its lower triangle is read).

    dL/dA = L⁻ᵀ · ½(Φ + Φᵀ) · L⁻¹,   Φ = Φ(Lᵀ G): the lower triangle of Lᵀ G with its
    diagonal halved. As PyTorch's, this gradient is symmetric: it is the one for a
    symmetric change of A (the only kind that keeps A a valid input).
    """

    def forward(self, a: "Array") -> "Array":
        return _checked(backend.xp_of(a).linalg.cholesky, a, "cholesky",
                        "the matrix is not positive-definite")

    def backward(self, grad_output: "Grad") -> "Grads":
        lower, xp = self.saved_output, self.xp
        below, diagonal = _triangle_masks(self.inputs[0].data)          # (n, n) each
        product = xp.swapaxes(lower, -1, -2) @ grad_output              # Lᵀ G (..., n, n)
        phi = xp.where(below, product, xp.where(diagonal, product * 0.5, 0))
        middle = (phi + xp.swapaxes(phi, -1, -2)) * 0.5                 # ½(Φ + Φᵀ)
        lower_inv = Inv.apply(lower)                                    # L⁻¹
        return xp.swapaxes(lower_inv, -1, -2) @ middle @ lower_inv


def _triangle_masks(array):
    """Boolean (n, n) masks of the strict lower triangle and of the diagonal, on the
    device of ``array`` (..., n, n)."""
    xp, n = backend.xp_of(array), array.shape[-1]
    i = xp.arange(n)
    return i.reshape(n, 1) > i, i.reshape(n, 1) == i


class Eigh(Function):
    """A = V diag(w) Vᵀ for A symmetric (only its lower triangle is read, or the upper
    one with UPLO='U'), eigenvalues w ascending, eigenvectors V orthonormal columns.

    One op has one output, so w and V travel packed in one (..., n+1, n) array: row 0
    is w, rows 1..n are V (``eigh`` splits it). With Gw, GV the two parts of G:

        dL/dA = V (diag(Gw) + F ∘ skew(Vᵀ GV)) Vᵀ,   F_ij = 1 / (w_j − w_i) (i ≠ j),

    skew(M) = (M − Mᵀ)/2. As PyTorch's, this is the gradient for a symmetric change of A
    (a symmetric matrix). Tied eigenvalues make F infinite: the eigenvectors of a tie
    are any basis of its eigenspace, so a gradient through them is undefined, and it is
    NaN there (PyTorch gives inf or NaN). Where no gradient comes through the
    eigenvectors (skew(Vᵀ GV) = 0, as for ``eigvalsh``) that term is 0 even at a tie,
    so the gradient through the eigenvalues alone stays finite.
    """

    def forward(self, a: "Array", uplo: str) -> "Array":
        xp = backend.xp_of(a)
        w, v = _parts(xp, xp.linalg.eigh(a, UPLO=uplo))
        return xp.concatenate([w[..., None, :], v], axis=-2)        # (..., n+1, n)

    def backward(self, grad_output: "Grad") -> "Grads":
        packed, xp = self.saved_output, self.xp
        w, v = packed[..., 0, :], packed[..., 1:, :]                  # (..., n), (..., n, n)
        grad_w, grad_v = grad_output[..., 0, :], grad_output[..., 1:, :]
        _, diagonal = _triangle_masks(self.inputs[0].data)            # (n, n)
        gaps = w[..., None, :] - w[..., :, None]                      # E_ij = w_j − w_i
        ties = gaps == 0                                              # the diagonal, and ties
        projected = xp.swapaxes(v, -1, -2) @ grad_v                   # Vᵀ GV (..., n, n)
        skew = (projected - xp.swapaxes(projected, -1, -2)) * 0.5
        ratio = skew / xp.where(ties, 1, gaps)                        # F ∘ skew(Vᵀ GV)
        off_diagonal = xp.where(skew == 0, 0, xp.where(ties, math.nan, ratio))  # 0 · F = 0
        middle = xp.where(diagonal, grad_w[..., None, :], off_diagonal)
        return v @ middle @ xp.swapaxes(v, -1, -2)


class VectorNorm(Function):
    """y = ‖x‖_p over ``dims``, with dy/dx as PyTorch's (N = y, sign(0) = 0):

        p = 2      y = √Σx²               dy/dx = x / N
        p = 1      y = Σ|x|               dy/dx = sign(x)
        p = ±inf   y = max|x| or min|x|   dy/dx = sign(x) at the extremes, shared among ties
        p = 0      y = #{x ≠ 0}           dy/dx = 0
        other p    y = (Σ|x|^p)^(1/p)     dy/dx = sign(x) |x|^(p−1) / N^(p−1)

    At N = 0 the gradient is 0 (not 0/0). For p < 1 the factor |x|^(p−1) is 0 where
    x = 0, and for p ≥ 2 it is written x |x|^(p−2), whose derivative is right at 0.
    """

    def forward(self, x: "Array", ord: float, dims, keepdim: bool) -> "Array":
        self.ord, self.dims = ord, dims
        self.kept_shape = tuple(1 if dims is None or axis in dims else size
                                for axis, size in enumerate(x.shape))
        xp = backend.xp_of(x)
        magnitude = xp.abs(x)
        if ord == math.inf:
            return magnitude.max(axis=dims, keepdims=keepdim)
        if ord == -math.inf:
            return magnitude.min(axis=dims, keepdims=keepdim)
        if ord == 0:
            return (x != 0).sum(axis=dims, keepdims=keepdim).astype(x.dtype)
        if ord == 1:
            return magnitude.sum(axis=dims, keepdims=keepdim)
        if ord == 2:
            return xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
        return (magnitude ** ord).sum(axis=dims, keepdims=keepdim) ** (1.0 / ord)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), xp, p = self.saved_inputs, self.xp, self.ord
        grad = grad_output.reshape(self.kept_shape)                  # summed axes as size 1
        norm = self.saved_output.reshape(self.kept_shape)
        if p == 0:
            return xp.zeros_like(x)
        sign = Sign.apply(x)
        if p == 1:
            return sign * grad
        if p in (math.inf, -math.inf):
            is_extreme = abs(x) == norm
            ties = is_extreme.sum(axis=self.dims, keepdims=True).astype(grad.dtype)
            return xp.where(is_extreme, sign * grad / ties, 0)
        if p == 2:
            scaled = x                                               # x |x|^(p−2)
        elif p > 2:
            scaled = x * abs(x) ** (p - 2)
        else:
            scaled = sign * xp.where(x == 0, 1, abs(x)) ** (p - 1)   # sign(x) |x|^(p−1)
        safe_norm = xp.where(norm == 0, 1, norm)                     # no 1/0 on the 0 side
        return scaled * xp.where(norm == 0, 0, grad / safe_norm ** (p - 1))


def _checked(compute, a, name: str, problem: str):
    """``compute(a)``, with the backend's failure turned into LinAlgError naming ``name``.
    NumPy raises its LinAlgError; CuPy returns NaN or inf instead, so a result that is
    not finite from a finite input is the same failure."""
    xp = backend.xp_of(a)
    try:
        result = compute(a)
    except xp.linalg.LinAlgError:
        result = None
    if result is None or (not backend.to_host(xp.isfinite(result).all())
                          and backend.to_host(xp.isfinite(a).all())):
        raise LinAlgError(f"linalg.{name}: {problem} (input of shape {a.shape})")
    return result


def _parts(xp, result):
    """The arrays of a tuple that ``xp.linalg`` returns. NumPy 2 returns a named tuple,
    whose parts the strict test device does not wrap again: ``xp.asarray`` does (on
    NumPy and CuPy it returns the array itself)."""
    return tuple(xp.asarray(part) for part in result)


# --- the functions: checks, then a primitive or a composition ---

def _check_matrices(name: str, a, square: bool = True):
    """Raise unless ``a`` is a float32/float64 Tensor of (square) matrices (..., n, n)."""
    if not isinstance(a, Tensor):
        raise TypeError(f"linalg.{name}: expected a Tensor, got {type(a).__name__}")
    if a.ndim < 2 or (square and a.shape[-1] != a.shape[-2]):
        kind = "square matrices (..., n, n)" if square else "matrices (..., m, n)"
        raise ValueError(f"linalg.{name}: A must be a batch of {kind}, got shape {a.shape}")
    if a.dtype not in (backend.float32, backend.float64):
        raise TypeError(f"linalg.{name}: expected a float32 or float64 tensor, got {a.dtype}")


def inv(A):
    """A⁻¹ of a (batch of) square matrices (..., n, n).   dL/dA = −A⁻ᵀ G A⁻ᵀ.
    A singular matrix raises LinAlgError."""
    _check_matrices("inv", A)
    return Inv.apply(A)


def solve(A, B, *, left: bool = True):
    """X with A X = B: A (..., n, n), B (..., n, k) or a batch of vectors (..., n) (B is a
    vector when it is 1-D or has A's shape without its last dim, as PyTorch decides);
    batch dims broadcast. dL/dB = A⁻ᵀ G, dL/dA = −(dL/dB) Xᵀ. Only ``left=True``."""
    if not left:
        raise NotImplementedError("linalg.solve: left=False (X A = B) is not supported; "
                                  "solve Aᵀ Xᵀ = Bᵀ instead")
    _check_matrices("solve", A)
    if not isinstance(B, Tensor) or B.ndim == 0:
        raise ValueError(f"linalg.solve: B must be a Tensor with at least 1 dim, got "
                         f"{getattr(B, 'shape', type(B).__name__)}")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    b = B.reshape(B.shape + (1,)) if vector else B                   # (..., n) → (..., n, 1)
    if b.ndim < 2 or b.shape[-2] != A.shape[-1]:
        raise ValueError(f"linalg.solve: incompatible shapes of A {A.shape} and B {B.shape} "
                         f"for A X = B: B needs {A.shape[-1]} rows")
    try:
        batch = backend.broadcast_shapes(A.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"linalg.solve: the batch dims of A {A.shape} and B {B.shape} "
                         "cannot be broadcast") from None
    A, b = broadcast_to(A, batch + A.shape[-2:]), broadcast_to(b, batch + b.shape[-2:])
    if A.dtype != b.dtype:
        dtype = backend.result_dtype(A.dtype, b.dtype)
        A, b = A.astype(dtype), b.astype(dtype)
    x = Solve.apply(A, b)
    return x.reshape(x.shape[:-1]) if vector else x


def det(A):
    """det A of a (batch of) square matrices.   dL/dA = G · C, C the cofactor matrix
    (det(A)·A⁻ᵀ where A is invertible); exact for singular matrices too."""
    _check_matrices("det", A)
    return Det.apply(A)


def slogdet(A) -> SlogdetResult:
    """``(sign, logabsdet)`` with det A = sign · exp(logabsdet) (sign 0 and logabsdet −inf
    for a singular A). The gradient flows through logabsdet: d/dA log|det A| = A⁻ᵀ;
    sign is a constant."""
    _check_matrices("slogdet", A)
    xp = backend.xp_of(A.data)
    sign, logabsdet = _parts(xp, xp.linalg.slogdet(A.data))
    return SlogdetResult(constant(sign), LogAbsDet.apply(A))


def logdet(A):
    """log det A (NaN where det A < 0, −inf where it is 0): PyTorch's ``torch.logdet``
    (torch.linalg has no logdet; this is the function for a top-level ``tg.logdet``)."""
    sign, logabsdet = slogdet(A)
    nan = backend.xp_of(A.data).asarray(math.nan, dtype=A.dtype)
    return logabsdet.where(sign >= 0, constant(nan))


def cholesky(A, *, upper: bool = False):
    """L, lower triangular, with A = L Lᵀ, for A symmetric positive-definite (only its
    lower triangle is read); ``upper=True`` returns U = Lᵀ (A = Uᵀ U). The gradient is
    the symmetric one (Cholesky's docstring). A matrix that is not positive-definite
    raises LinAlgError."""
    _check_matrices("cholesky", A)
    lower = Cholesky.apply(A)
    return lower.transpose(-2, -1) if upper else lower


def eigh(A, UPLO: str = "L") -> EighResult:
    """``(eigenvalues, eigenvectors)`` of a (batch of) symmetric matrices: eigenvalues
    ascending, eigenvectors the columns, A = V diag(w) Vᵀ. Only the lower triangle is
    read (the upper one with UPLO='U'). Tied eigenvalues: see Eigh's docstring."""
    _check_matrices("eigh", A)
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    packed = Eigh.apply(A, uplo=UPLO)                                # (..., n+1, n)
    return EighResult(packed[..., 0, :], packed[..., 1:, :])


def eigvalsh(A, UPLO: str = "L"):
    """The eigenvalues of a (batch of) symmetric matrices, ascending:
    ``eigh(A).eigenvalues``.   dL/dA = V diag(G) Vᵀ."""
    return eigh(A, UPLO).eigenvalues


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None):
    """The ``ord``-norm of x over ``dim`` (an int, a tuple, or None: all entries as one
    vector): ord 2 (√Σx²), 1, inf (max|x|), −inf (min|x|), 0 (the count of x ≠ 0) or any
    other p ((Σ|x|^p)^(1/p)). ``dtype`` casts x first. The gradient is PyTorch's, 0 at
    a zero norm (VectorNorm's docstring)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.vector_norm: expected a Tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.astype(dtype)
    if not backend.is_floating(x.dtype):
        raise TypeError(f"linalg.vector_norm: expected a floating-point tensor, got {x.dtype}"
                        " (pass dtype= to cast it)")
    if isinstance(ord, bool) or not isinstance(ord, (int, float)) or math.isnan(ord):
        raise ValueError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    dims = reduction_dims(x, dim, None, "linalg.vector_norm")
    return VectorNorm.apply(x, ord=float(ord), dims=dims, keepdim=keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None):
    """The ``ord``-norm of the matrices in dims ``dim`` (two dims) of A: 'fro' (√Σa²),
    1 / −1 (max / min over columns of Σ|a| down the column), inf / −inf (max / min over
    rows of Σ|a| along the row). Composed of vector_norm and max/min, so ties share the
    gradient. 'nuc', 2 and −2 need singular values: NotImplementedError."""
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise ValueError(f"linalg.matrix_norm: A must be a Tensor with at least 2 dims, got "
                         f"{getattr(A, 'shape', type(A).__name__)}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise ValueError(f"linalg.matrix_norm: dim must be a 2-tuple of ints, got {dim!r}")
    rows, columns = (normalize_dim(d, A.ndim, "linalg.matrix_norm") for d in dim)
    if rows == columns:
        raise ValueError(f"linalg.matrix_norm: dims must be different, got {dim!r}")
    if dtype is not None:
        A = A.astype(dtype)
    if ord == "fro":
        return vector_norm(A, 2, (rows, columns), keepdim)
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs singular values, "
                                  "which tg.linalg does not compute")
    if isinstance(ord, str) or ord not in (1, -1, math.inf, -math.inf):
        raise ValueError(f"linalg.matrix_norm: order {ord!r} not supported: expected 'fro', "
                         "1, -1, inf or -inf")
    if abs(ord) == math.inf:
        rows, columns = columns, rows            # inf sums along each row: the other dim
    sums = vector_norm(A, 1, rows, keepdim)      # Σ|a| along ``rows``
    if not keepdim and rows < columns:
        columns -= 1                             # ``rows`` is gone
    return sums.max(columns, keepdim) if ord > 0 else sums.min(columns, keepdim)


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None):
    """PyTorch's ``torch.linalg.norm``: a vector norm or a matrix norm, by ``dim`` and A.

    ``ord`` None: the 2-norm of the entries over ``dim`` (all of them by default, the
    Frobenius norm of a matrix). Otherwise ``dim`` of 2 dims (or no ``dim`` and a 2-D A)
    gives ``matrix_norm``, 1 dim (or no ``dim`` and a 1-D A) ``vector_norm``."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) not in (1, 2):
        raise ValueError(f"linalg.norm: dim must have 1 or 2 dims, got {dim!r}")
    if ord is not None and dim is None and A.ndim not in (1, 2):
        raise ValueError(f"linalg.norm: without dim, ord needs a 1-D or 2-D input, got "
                         f"{A.ndim}-D (shape {A.shape})")
    if isinstance(ord, str):
        return matrix_norm(A, ord, (0, 1) if dim is None else dim, keepdim, dtype=dtype)
    if ord is not None and (len(dim) == 2 if dim is not None else A.ndim == 2):
        return matrix_norm(A, ord, (0, 1) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def matrix_power(A, n: int):
    """Aⁿ for an integer n: repeated squaring (A, A², A⁴, ... multiplied where n has a
    1 bit); n < 0 is (A⁻¹)^|n|, and n = 0 the identity (a constant: no gradient)."""
    _check_matrices("matrix_power", A)
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {n!r}")
    if n == 0:
        xp, size = backend.xp_of(A.data), A.shape[-1]
        return constant(xp.broadcast_to(xp.eye(size, dtype=A.dtype), A.shape).copy())
    if n < 0:
        A, n = inv(A), -n
    result, power = None, A
    while n:
        if n & 1:
            result = power if result is None else result @ power
        n >>= 1
        if n:
            power = power @ power                # A^(2^k)
    return result


def multi_dot(tensors):
    """The product of a chain of matrices, left to right; the first may be a 1-D (row)
    vector and the last a 1-D (column) vector, as ``torch.linalg.multi_dot``."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"linalg.multi_dot: expected at least 2 tensors, got {len(tensors)}")
    for index, tensor in enumerate(tensors):
        allowed = (1, 2) if index in (0, len(tensors) - 1) else (2,)
        if tensor.ndim not in allowed:
            where = {0: "the first tensor", len(tensors) - 1: "the last tensor"}.get(
                index, f"tensor {index}")
            raise ValueError(f"linalg.multi_dot: {where} must be "
                             f"{' or '.join(f'{d}-D' for d in allowed)}, got shape "
                             f"{tensor.shape}")
    result = tensors[0]
    for index, tensor in enumerate(tensors[1:], start=1):
        if result.shape[-1] != tensor.shape[0]:
            raise ValueError(f"linalg.multi_dot: tensors {index - 1} and {index} cannot be "
                             f"multiplied: shapes {tensors[index - 1].shape} and "
                             f"{tensor.shape}")
        result = result @ tensor
    return result


def cross(input, other, dim: int = -1):
    """The cross product of 3-vectors along ``dim`` (both inputs of one ndim, size 3 there;
    the other dims broadcast): c = (a₁b₂ − a₂b₁, a₂b₀ − a₀b₂, a₀b₁ − a₁b₀)."""
    if input.ndim != other.ndim:
        raise ValueError(f"linalg.cross: inputs must have the same number of dims, got "
                         f"shapes {input.shape} and {other.shape}")
    dim = normalize_dim(dim, input.ndim, "linalg.cross")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise ValueError(f"linalg.cross: dim {dim} must have size 3, got shapes "
                         f"{input.shape} and {other.shape}")
    a = [input[(slice(None),) * dim + (k,)] for k in range(3)]
    b = [other[(slice(None),) * dim + (k,)] for k in range(3)]
    return stack([a[1] * b[2] - a[2] * b[1],
                  a[2] * b[0] - a[0] * b[2],
                  a[0] * b[1] - a[1] * b[0]], dim)


def vecdot(x, y, *, dim: int = -1):
    """Σ x_i y_i along ``dim`` (other dims broadcast): ``(x * y).sum(dim)``."""
    if x.ndim == 0 or y.ndim == 0 or x.shape[dim] != y.shape[dim]:
        raise ValueError(f"linalg.vecdot: x {x.shape} and y {y.shape} must have one size "
                         f"along dim {dim}")
    return (x * y).sum(dim)
