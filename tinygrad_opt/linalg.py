"""``tg.linalg``: linear algebra with gradients, with ``torch.linalg``'s names and rules.

Read after the core (docs/reading-order.md). Thirteen primitives have a backward of their
own: ``Inv``, ``Solve``, ``Det``, ``LogAbsDet``, ``Cholesky``, ``Eigh``, ``VectorNorm``,
the decompositions ``Svd``, ``Qr``, ``Pinv`` and ``MatrixExp``, and ``SolveTriangular``
and ``LuFactor``. Everything else is composed of them and of the core ops: ``slogdet``
(its sign is a constant), ``matrix_norm``, ``norm``, ``eigvalsh``, ``svdvals``, ``lstsq``,
``cond``, ``matrix_power``, ``multi_dot``, ``cross``, ``vecdot``, ``lu``, ``lu_solve``,
``cholesky_solve``, ``cholesky_inverse``, the ``_ex`` variants, ``vander``, ``tensorinv``,
``tensorsolve``, ``diagonal``, ``householder_product``, so their gradients need no code;
``matrix_rank`` is a count (no gradient). ``ldl_factor``, ``ldl_factor_ex`` and
``ldl_solve`` (LAPACK's Bunch-Kaufman sytrf and sytrs) have no derivative, as in
PyTorch: their outputs require grad where an input does, and a backward through them
raises.

Matrices are the last two dims, ``(..., n, n)`` (``(..., m, n)`` where a function takes
rectangles): every op also takes a batch of them. In the formulas, ``Aᵀ`` swaps the last
two axes and ``G`` is dL/d(output). Each backward uses only ``@``, ``xp.swapaxes``,
``xp.where``, arithmetic and the ops of this file (``Inv.apply(A)`` inside a backward),
so the one formula runs on arrays in a plain backward and records a graph under
``create_graph=True``: second derivatives (Hessians, ``gradgradcheck``) work, as for the
core ops.

A singular matrix (``inv``, ``solve``) or one that is not positive-definite
(``cholesky``) raises ``tg.linalg.LinAlgError``, a RuntimeError, as PyTorch's; the
``_ex`` variants (``cholesky_ex``, ``inv_ex``, ``lu_factor_ex``, ``solve_ex``) return an
``info`` instead.
"""

from __future__ import annotations

import itertools
import math
from collections import namedtuple

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.autograd.grad_mode import flags, is_grad_enabled
from tinygrad_opt.ops.elementwise import Sign, constant, where
from tinygrad_opt.ops.linalg import matmul
from tinygrad_opt.ops.no_derivative import without_derivative
from tinygrad_opt.ops.reduce import reduction_dims
from tinygrad_opt.ops.shape import broadcast_to, cat, normalize_dim, same_device, stack
from tinygrad_opt.tensor import Tensor

__all__ = ["LinAlgError", "inv", "solve", "det", "slogdet", "logdet", "cholesky", "eigh",
           "eigvalsh", "vector_norm", "matrix_norm", "norm", "matrix_power", "multi_dot",
           "cross", "vecdot", "matmul", "svd", "svdvals", "qr", "pinv", "matrix_rank", "lstsq",
           "cond", "matrix_exp", "solve_triangular", "cholesky_ex", "inv_ex",
           "cholesky_solve", "cholesky_inverse", "lu_factor", "lu_factor_ex", "lu", "lu_solve",
           "vander", "tensorinv", "tensorsolve", "solve_ex", "diagonal",
           "householder_product", "ldl_factor_ex", "ldl_factor", "ldl_solve"]


class LinAlgError(RuntimeError):
    """A matrix the operation cannot work with: singular for ``inv`` and ``solve``, not
    positive-definite for ``cholesky`` (PyTorch's ``torch.linalg.LinAlgError``)."""


SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
SlogdetResult.__doc__ = "``(sign, logabsdet)``, as ``torch.linalg.slogdet`` returns them."

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EighResult.__doc__ = "``(eigenvalues, eigenvectors)``, as ``torch.linalg.eigh`` returns them."

SvdResult = namedtuple("SvdResult", ["U", "S", "Vh"])
SvdResult.__doc__ = "``(U, S, Vh)``, as ``torch.linalg.svd`` returns them."

QrResult = namedtuple("QrResult", ["Q", "R"])
QrResult.__doc__ = "``(Q, R)``, as ``torch.linalg.qr`` returns them."

LstsqResult = namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values"])
LstsqResult.__doc__ = ("``(solution, residuals, rank, singular_values)``, as "
                       "``torch.linalg.lstsq`` returns them.")


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

    Where every A is well away from singular, C = det(A) · A⁻ᵀ: one inverse. Where some
    A is singular or nearly so, A⁻¹ does not exist or is inaccurate, and C is taken from
    its definition instead: n² determinants of the (n−1) × (n−1) minors, with Det again,
    so that second derivatives work there too. "Nearly" is |det A| ≤ √ε · Π_i ‖a_i‖ (the
    rows' norms: Hadamard's bound on |det A|): a matrix singular in exact arithmetic
    (a repeated row) gets a det of rounding size, not 0, from LAPACK, and the second
    derivative of det(A) · A⁻ᵀ, a difference of terms of size 1/σ_min², loses about
    ε · Π‖a_i‖ / |det A| of its digits. The cofactors cost n⁵ work, which is why they
    wait for such a matrix (as ``Cumprod`` waits for a zero); PyTorch takes the singular
    case (|det| < 100 ε) through an SVD.
    """

    def forward(self, a: "Array") -> "Array":
        return backend.xp_of(a).linalg.det(a)

    def backward(self, grad_output: "Grad") -> "Grads":
        (a,), xp = self.saved_inputs, self.xp
        grad = grad_output.reshape(grad_output.shape + (1, 1))      # (..., 1, 1)
        if a.shape[-1] == 1:
            return grad                                              # det [a] = a
        a_array, det_array = self.inputs[0].data, self.output.data
        xp_array = backend.xp_of(a_array)
        bound = xp_array.sqrt((a_array * a_array).sum(axis=-1)).prod(axis=-1)  # Π_i ‖a_i‖
        tolerance = math.sqrt(float(xp_array.finfo(a_array.dtype).eps)) * bound
        if not backend.to_host((abs(det_array) <= tolerance).any()):      # none near singular
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
    """y = log |det A|.   dy/dA = A⁻ᵀ (the sign of det A does not change near A).

    A singular A (y = −inf) has no A⁻¹ and log |det| has no derivative there: its gradient
    is NaN, as PyTorch's is not finite (its LU solve divides by the zero pivot), instead of
    an error from the inverse. The identity stands in for it in the inverse, so that the
    other matrices of a batch keep theirs."""

    def forward(self, a: "Array") -> "Array":
        xp = backend.xp_of(a)
        sign, logabsdet = _parts(xp, xp.linalg.slogdet(a))
        return logabsdet

    def backward(self, grad_output: "Grad") -> "Grads":
        (a,), xp = self.saved_inputs, self.xp
        grad = grad_output.reshape(grad_output.shape + (1, 1))      # (..., 1, 1)
        singular = (self.output.data == -math.inf)[..., None, None]  # (..., 1, 1)
        if not backend.to_host(singular.any()):
            return grad * xp.swapaxes(Inv.apply(a), -1, -2)
        n = a.shape[-1]
        invertible = xp.where(singular, _eye(self.inputs[0].data, n, n), a)   # I where singular
        return xp.where(singular, math.nan, grad * xp.swapaxes(Inv.apply(invertible), -1, -2))


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


def _triangle_masks(array, n: int = None):
    """Boolean (n, n) masks of the strict lower triangle and of the diagonal, on the
    device of ``array`` (n: the last dim of ``array`` unless given)."""
    xp, n = backend.xp_of(array), array.shape[-1] if n is None else n
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
        if x.dtype == backend.float16:  # 300² overflows float16: PyTorch sums in float32
            return self.forward(x.astype(backend.float32), ord, dims, keepdim).astype(x.dtype)
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


# --- the decompositions: SVD, QR, pseudo-inverse, exponential ---

class Svd(Function):
    """A = U diag(S) Vᵀ, the reduced SVD of A (..., m, n), k = min(m, n): U (..., m, k) and
    V (..., n, k) with orthonormal columns, S (..., k) descending.

    One op has one output, so the three travel packed in one (..., m + 1 + n, k) array:
    rows 0..m−1 are U, row m is S, the last n rows are V (``svd`` splits it and returns
    Vh = Vᵀ). With GU, GS, GV the three parts of G, and the skew matrices
    J = UᵀGU − GUᵀU and K = VᵀGV − GVᵀV (PyTorch's formula):

        inner = diag(GS) + F,   F_ij = (J_ij S_j + S_i K_ij) / (S_j² − S_i²)   (i ≠ j)
        m = n:   dL/dA = U · inner · Vᵀ
        m > n:   dL/dA = (U · inner + (I − UUᵀ) GU diag(S)⁻¹) Vᵀ
        m < n:   dL/dA = U (inner · Vᵀ + diag(S)⁻¹ GVᵀ (I − VVᵀ))

    Tied singular values make F infinite: the singular vectors of a tie are any basis of
    their space, so a loss on them has no gradient, and it is NaN there (PyTorch: inf or
    NaN); a zero singular value does the same to the last terms. Where no gradient comes
    that way (a numerator is exactly 0, as for ``svdvals``: GU = GV = 0) the term is 0, so
    the gradient through S alone, U diag(GS) Vᵀ, stays finite at ties and zeros.
    """

    def forward(self, a: "Array") -> "Array":
        xp, self.rows = backend.xp_of(a), a.shape[-2]

        def decompose(a):
            u, s, vh = _parts(xp, xp.linalg.svd(a, full_matrices=False))
            return xp.concatenate([u, s[..., None, :], xp.swapaxes(vh, -1, -2)], axis=-2)
        return _checked(decompose, a, "svd", "the SVD did not converge")

    def backward(self, grad_output: "Grad") -> "Grads":
        packed, xp, m = self.saved_output, self.xp, self.rows
        u, s, v = packed[..., :m, :], packed[..., m, :], packed[..., m + 1:, :]
        grad_u, grad_s = grad_output[..., :m, :], grad_output[..., m, :]
        grad_v = grad_output[..., m + 1:, :]                            # (..., n, k)
        n = v.shape[-2]
        _, diagonal = _triangle_masks(self.output.data)                 # (k, k)
        u_t, v_t = xp.swapaxes(u, -1, -2), xp.swapaxes(v, -1, -2)       # (..., k, m), (..., k, n)
        skew_u = u_t @ grad_u
        skew_u = skew_u - xp.swapaxes(skew_u, -1, -2)                   # J (..., k, k)
        skew_v = v_t @ grad_v
        skew_v = skew_v - xp.swapaxes(skew_v, -1, -2)                   # K (..., k, k)
        s_j, s_i = s[..., None, :], s[..., :, None]                     # S_j (..., 1, k), S_i
        f = _ratio(xp, skew_u * s_j + s_i * skew_v, s_j * s_j - s_i * s_i)   # F, 0 on diagonal
        inner = xp.where(diagonal, grad_s[..., None, :], f)             # (..., k, k)
        if m > n:
            outside = grad_u - u @ (u_t @ grad_u)                       # (I − UUᵀ) GU (..., m, k)
            return (u @ inner + _ratio(xp, outside, s_j)) @ v_t
        if m < n:
            outside = grad_v - v @ (v_t @ grad_v)                       # (I − VVᵀ) GV (..., n, k)
            return u @ (inner @ v_t + xp.swapaxes(_ratio(xp, outside, s_j), -1, -2))
        return u @ inner @ v_t


def _ratio(xp, numerator, denominator):
    """numerator / denominator, elementwise, where 0 / anything is 0 (no gradient comes
    that way) and a nonzero number / 0 is NaN (the gradient does not exist)."""
    zero = denominator == 0
    quotient = numerator / xp.where(zero, 1, denominator)
    return xp.where(numerator == 0, 0, xp.where(zero, math.nan, quotient))


class Qr(Function):
    """A = Q R for A (..., m, n): Q (..., m, k) with orthonormal columns, R (..., k, n)
    upper triangular; k = min(m, n) (mode 'reduced' or 'r'), k = m ('complete').

    One output: the (..., k, m + n) array [Qᵀ | R] (``qr`` splits it). For m ≥ n, with
    copyltu(M) = tril(M) + tril(M, −1)ᵀ (the lower triangle mirrored up):

        M = R GRᵀ − GQᵀ Q,   dL/dA = (GQ + Q copyltu(M)) R⁻ᵀ      (a solve with R)

    For m < n, A = [X | Y] with X (m, m) and R = [U | V]: X = Q U is the square case and
    V = Qᵀ Y, so dL/dY = Q GV and dL/dX is the square case with U, GU and GQ + Y GVᵀ.
    A needs full rank (R, or U, invertible); the sign of R's diagonal is LAPACK's,
    constant near A, so Q and R are smooth functions of A. As PyTorch, the backward
    raises for mode 'r' and for mode 'complete' with m > n (Q's last m − n columns are any
    basis of what A's columns miss: no gradient).
    """

    def forward(self, a: "Array", mode: str) -> "Array":
        xp, self.mode, self.rows = backend.xp_of(a), mode, a.shape[-2]
        q, r = _parts(xp, xp.linalg.qr(a, mode="complete" if mode == "complete" else "reduced"))
        return xp.concatenate([xp.swapaxes(q, -1, -2), r], axis=-1)   # (..., k, m + n)

    def backward(self, grad_output: "Grad") -> "Grads":
        packed, xp, m = self.saved_output, self.xp, self.rows
        k, n = packed.shape[-2], packed.shape[-1] - m
        if self.mode == "r":
            raise RuntimeError("linalg.qr: the gradient of R needs Q, which mode='r' does not "
                               "return (as in PyTorch): use mode='reduced' to differentiate")
        if k > n:
            raise RuntimeError(f"linalg.qr: mode='complete' is not differentiable for A with "
                               f"more rows than columns ({m} > {n}), as in PyTorch: Q's last "
                               f"{m - n} columns are any basis; use mode='reduced'")
        q = xp.swapaxes(packed[..., :m], -1, -2)                         # (..., m, k)
        grad_q = xp.swapaxes(grad_output[..., :m], -1, -2)               # (..., m, k)
        r, grad_r = packed[..., m:], grad_output[..., m:]                # (..., k, n)
        square, grad_square = r[..., :k], grad_r[..., :k]                # U, GU (..., k, k)
        if n > k:                                                        # A = [X | Y]
            rest = self.saved_input(0)[..., k:]                          # Y (..., m, n − k)
            grad_q = grad_q + rest @ xp.swapaxes(grad_r[..., k:], -1, -2)    # GQ + Y GVᵀ
        below, diagonal = _triangle_masks(self.inputs[0].data, k)        # (k, k)
        middle = square @ xp.swapaxes(grad_square, -1, -2) - xp.swapaxes(grad_q, -1, -2) @ q
        lower = xp.where(below, middle, 0)
        mirrored = lower + xp.swapaxes(lower, -1, -2) + xp.where(diagonal, middle, 0)
        right = xp.swapaxes(grad_q + q @ mirrored, -1, -2)               # (..., k, m)
        grad_x = xp.swapaxes(Solve.apply(square, right), -1, -2)         # (...) U⁻ᵀ (..., m, k)
        if n == k:
            return grad_x
        first_columns = _eye(self.inputs[0].data, k, n)                  # [I | 0] (k, n)
        return q @ grad_r + (grad_x - q @ grad_square) @ first_columns   # [dL/dX | Q GV]


def _largest(magnitudes):
    """S_max (..., 1) of the magnitudes (..., k) ≥ 0 of singular values or eigenvalues; 0
    when k = 0 (an empty matrix has none, and its pseudo-inverse and rank are empty / 0,
    as PyTorch's): the max of the values with a 0 appended, which changes nothing else."""
    xp = backend.xp_of(magnitudes)
    zero = xp.zeros(magnitudes.shape[:-1] + (1,), dtype=magnitudes.dtype)
    return xp.concatenate([magnitudes, zero], axis=-1).max(axis=-1, keepdims=True)


def _eye(array, rows: int, columns: int, offset: int = 0):
    """The (rows, columns) matrix with ones on diagonal ``offset``, in the dtype and on the
    device of ``array``."""
    xp = backend.xp_of(array)
    return xp.eye(rows, columns, offset, dtype=array.dtype)


class Pinv(Function):
    """X = A⁺, the Moore-Penrose pseudo-inverse of A (..., m, n): with A = U diag(S) Vᵀ,
    X = V diag(S⁺) Uᵀ, S⁺ = 1/S for the singular values above the tolerance
    max(atol, rtol · S_max), 0 for the others. ``hermitian``: A = W diag(λ) Wᵀ (eigh, the
    lower triangle) and X = W diag(λ⁺) Wᵀ, |λ| against the tolerance.

    Where the rank of A does not change nearby (Golub and Pereyra):
    dX = −X dA X + X Xᵀ dAᵀ (I − A X) + (I − X A) dAᵀ Xᵀ X, so (PyTorch's formula)

        dL/dA = −Xᵀ G Xᵀ + (I − A X) Gᵀ X Xᵀ + Xᵀ X Gᵀ (I − X A),

    which needs no SVD: tied singular values are no problem.
    """

    def forward(self, a: "Array", atol: "Array", rtol: "Array", hermitian: bool) -> "Array":
        xp = backend.xp_of(a)
        if hermitian:
            values, vectors = _parts(xp, xp.linalg.eigh(a))              # (..., n), (..., n, n)
            left, right = vectors, xp.swapaxes(vectors, -1, -2)
        else:
            try:
                left, values, right = _parts(xp, xp.linalg.svd(a, full_matrices=False))
            except xp.linalg.LinAlgError:                                # (NaN or inf in A)
                raise LinAlgError(f"linalg.pinv: the SVD did not converge (input of shape "
                                  f"{a.shape})") from None
            left, right = xp.swapaxes(right, -1, -2), xp.swapaxes(left, -1, -2)   # V, Uᵀ
        magnitude = abs(values)
        kept = magnitude > xp.maximum(atol, rtol * _largest(magnitude))
        inverted = xp.where(kept, 1 / xp.where(kept, values, 1), 0)       # S⁺ (..., k)
        return (left * inverted[..., None, :]) @ right                    # (..., n, m)

    def backward(self, grad_output: "Grad") -> "Grads":
        (a,), x, xp = self.saved_inputs, self.saved_output, self.xp
        x_t, grad_t = xp.swapaxes(x, -1, -2), xp.swapaxes(grad_output, -1, -2)   # (..., m, n)
        through = -(x_t @ grad_output @ x_t)                              # −Xᵀ G Xᵀ
        rows = grad_t @ x @ x_t                                           # Gᵀ X Xᵀ
        columns = x_t @ x @ grad_t                                        # Xᵀ X Gᵀ
        return through + (rows - a @ (x @ rows)) + (columns - (columns @ x) @ a)


class MatrixExp(Function):
    """Y = exp(A) = Σ_j Aʲ / j! for A (..., n, n).

    Forward, by scaling and squaring: exp(A) = exp(A / 2ˢ)^(2ˢ), with s the smallest
    power that makes ‖A / 2ˢ‖₁ ≤ 1 for every matrix of the batch, where the Taylor
    series to degree 18 is exact to rounding (the rest is below 1/19! < 10⁻¹⁶); then s
    squarings.

    Backward: the derivative of exp at A in the direction E is the top-right block of
    exp([[A, E], [0, A]]); its adjoint is the same with Aᵀ and G:

        dL/dA = the top-right n × n block of exp([[Aᵀ, G], [0, Aᵀ]]),

    one MatrixExp of a 2n × 2n matrix, itself differentiable (second derivatives work).
    """

    def forward(self, a: "Array") -> "Array":
        xp = backend.xp_of(a)
        if a.size == 0:                                          # no matrices, or 0 × 0 ones:
            return a.copy()                                      # exp of nothing is empty
        norm = abs(a).sum(axis=-2).max()                         # the largest ‖A‖₁ (column sum)
        _, exponent = xp.frexp(norm)                             # ‖A‖₁ < 2^exponent
        squarings = max(int(backend.to_host(exponent)), 0)       # s
        scaled = a * 0.5 ** squarings                            # A / 2ˢ, exactly
        identity = _eye(a, a.shape[-1], a.shape[-1])
        result = identity
        for j in range(18, 0, -1):                               # Horner: I + X (I + X/2 (...))
            result = identity + scaled @ result / j
        for _ in range(squarings):
            result = result @ result
        return result

    def backward(self, grad_output: "Grad") -> "Grads":
        (a,), xp = self.saved_inputs, self.xp
        n = a.shape[-1]
        top = _eye(self.inputs[0].data, 2 * n, n)                # [I; 0] (2n, n)
        bottom = _eye(self.inputs[0].data, 2 * n, n, -n)         # [0; I] (2n, n)
        a_t = xp.swapaxes(a, -1, -2)
        block = top @ (a_t @ top.T + grad_output @ bottom.T) + bottom @ a_t @ bottom.T
        return MatrixExp.apply(block)[..., :n, n:]               # (..., n, n)


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
    A singular matrix raises LinAlgError, naming the first singular matrix of the batch
    and its zero pivot (as PyTorch's)."""
    _check_matrices("inv", A)
    try:
        return Inv.apply(A)
    except LinAlgError:
        _explain_singular("inv", A, "the matrix is singular")
        raise


def _explain_singular(name: str, A, problem: str) -> None:
    """Raise LinAlgError naming the first matrix of A's batch whose LU factorization has a
    zero on U's diagonal, and that pivot (PyTorch's message); return if none has one (the
    caller re-raises the backend's failure)."""
    info = _lu_info(LuFactor.apply(A.data, pivot=True)[..., :-1, :])
    _raise_first_failure(name, info, problem + ": the diagonal element {} of U is zero")


def solve(A, B, *, left: bool = True):
    """X with A X = B: A (..., n, n), B (..., n, k) or a batch of vectors (..., n) (B is a
    vector when it is 1-D or has A's shape without its last dim, as PyTorch decides);
    batch dims broadcast. dL/dB = A⁻ᵀ G, dL/dA = −(dL/dB) Xᵀ. ``left=False`` solves
    X A = B as Aᵀ Xᵀ = Bᵀ."""
    _check_matrices("solve", A)
    if not left:
        return _solve_right(A, B)
    if not isinstance(B, Tensor) or B.ndim == 0:
        raise ValueError(f"linalg.solve: B must be a Tensor with at least 1 dim, got "
                         f"{getattr(B, 'shape', type(B).__name__)}")
    same_device("linalg.solve", A, B)
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
    try:
        x = Solve.apply(A, b)
    except LinAlgError:
        _explain_singular("solve", A, "the matrix A is singular")
        raise
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
    lower triangle is read); ``upper=True`` returns U (A = Uᵀ U) and, as PyTorch's (LAPACK's
    potrf with 'U'), reads A's upper triangle instead: U = cholesky(Aᵀ)ᵀ, since the lower
    triangle of Aᵀ is the upper one of A. The gradient is the symmetric one (Cholesky's
    docstring). A matrix that is not positive-definite raises LinAlgError, naming the
    first such matrix of the batch and its leading minor that is not (as PyTorch's)."""
    _check_matrices("cholesky", A)
    read = A.transpose(-2, -1) if upper else A            # the lower triangle of this is read
    try:
        lower = Cholesky.apply(read)
    except LinAlgError:
        _raise_first_failure("cholesky", _cholesky_info(read.data), "the matrix is not "
                             "positive-definite: its leading minor of order {} is not")
        raise
    return lower.transpose(-2, -1) if upper else lower


def eigh(A, UPLO: str = "L") -> EighResult:
    """``(eigenvalues, eigenvectors)`` of a (batch of) symmetric matrices: eigenvalues
    ascending, eigenvectors the columns, A = V diag(w) Vᵀ. Only the lower triangle is
    read (the upper one with UPLO='U'; 'l' and 'u' too, as PyTorch). Tied eigenvalues: see
    Eigh's docstring."""
    _check_matrices("eigh", A)
    if not isinstance(UPLO, str) or UPLO.upper() not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    packed = Eigh.apply(A, uplo=UPLO.upper())                        # (..., n+1, n)
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
    reduced = [x.shape[d] for d in (range(x.ndim) if dims is None else dims)]
    if (ord < 0 or ord == math.inf) and 0 in reduced:
        raise RuntimeError(f"linalg.vector_norm: cannot compute the {ord} norm over an empty "
                           f"dim of the tensor of shape {x.shape}: a max, a min or a sum of "
                           "negative powers has no value for no entries (as in PyTorch)")
    return VectorNorm.apply(x, ord=float(ord), dims=dims, keepdim=keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None):
    """The ``ord``-norm of the matrices in dims ``dim`` (two dims) of A: 'fro' (√Σa²),
    1 / −1 (max / min over columns of Σ|a| down the column), inf / −inf (max / min over
    rows of Σ|a| along the row), 'nuc', 2 and −2 (the sum, max and min of the singular
    values, ``svdvals``). Composed of vector_norm, svdvals and max/min, so ties share the
    gradient."""
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
        S = svdvals(A.movedim((rows, columns), (-2, -1)))      # (..., min(m, n))
        norms = S.sum(-1) if ord == "nuc" else S.amax(-1) if ord == 2 else S.amin(-1)
        for d in sorted((rows, columns)) if keepdim else ():
            norms = norms.unsqueeze(d)
        return norms
    if isinstance(ord, str) or ord not in (1, -1, math.inf, -math.inf):
        raise ValueError(f"linalg.matrix_norm: order {ord!r} not supported: expected 'fro', "
                         "'nuc', 1, -1, 2, -2, inf or -inf")
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
    1 bit); n < 0 is (A⁻¹)^|n|. As PyTorch, the result is a tensor of its own, in A's
    graph: n = 1 is a clone of A, n = 0 the identity written into one (a zero gradient)."""
    _check_matrices("matrix_power", A)
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {n!r}")
    if n == 0:
        xp, size = backend.xp_of(A.data), A.shape[-1]
        identity = A.clone()
        identity[...] = constant(xp.eye(size, dtype=A.dtype))  # (broadcast over the batch)
        return identity
    if n == 1:
        return A.clone()
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
    vector and the last a 1-D (column) vector, as ``torch.linalg.multi_dot``. All of one
    dtype (no promotion, as PyTorch's)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"linalg.multi_dot: expected at least 2 tensors, got {len(tensors)}")
    dtypes = [str(tensor.dtype) for tensor in tensors]
    if len(set(dtypes)) > 1:
        raise TypeError(f"linalg.multi_dot: expected all tensors to have one dtype, got "
                        f"{', '.join(dtypes)}")
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
    if input.dtype != other.dtype:  # PyTorch's kernel takes one dtype (as tg.cross)
        raise TypeError(f"linalg.cross: input is {input.dtype} and other {other.dtype}; cast "
                        "one of them first")
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
    """Σ x_i y_i along ``dim`` of the broadcast shape of x and y (as PyTorch's
    ``(x * y).sum(dim)``: every dim broadcasts, ``dim`` too, e.g. x (2, 3) with y (3,) and
    dim=0, or a size 1 along ``dim``)."""
    try:
        shape = backend.broadcast_shapes(x.shape, y.shape) if x.ndim and y.ndim else None
    except ValueError:
        shape = None
    if shape is None:
        raise ValueError(f"linalg.vecdot: x {x.shape} and y {y.shape} must have one size "
                         f"along dim {dim} (or broadcast)")
    return (x * y).sum(normalize_dim(dim, len(shape), "linalg.vecdot"))


# --- the decompositions, and what is composed of them ---

def svd(A, full_matrices: bool = True, *, driver=None) -> SvdResult:
    """``(U, S, Vh)`` with A = U diag(S) Vh for a (batch of) matrices (..., m, n),
    k = min(m, n): S (..., k) descending, U and Vhᵀ with orthonormal columns. Reduced
    (``full_matrices=False``): U (..., m, k), Vh (..., k, n). Full (the default, as
    PyTorch's): U (..., m, m), Vh (..., n, n), whose extra columns (rows of Vh) are a
    constant basis of the rest of the space: as PyTorch, the gradient ignores them.

    The singular vectors are unique up to sign (each pair u_i, v_i flips together), so a
    loss should not depend on their sign; at tied singular values they are any basis of
    their space, and a loss on them gets a NaN gradient (Svd's docstring). PyTorch's
    ``driver`` (a cuSOLVER algorithm) is accepted by name and changes nothing here."""
    _check_svd_driver(driver, "svd")
    _check_matrices("svd", A, square=False)
    m, n = A.shape[-2:]
    packed = Svd.apply(A)                                         # (..., m + 1 + n, k)
    U, S, V = packed[..., :m, :], packed[..., m, :], packed[..., m + 1:, :]
    if full_matrices and m > n:
        U = cat([U, _complement(U)], -1)                          # (..., m, m)
    if full_matrices and m < n:
        V = cat([V, _complement(V)], -1)                          # (..., n, n)
    return SvdResult(U, S, V.transpose(-2, -1))


def _complement(columns):
    """A constant orthonormal basis (..., m, m − k) of what the orthonormal columns of
    ``columns`` (..., m, k) do not span: the last m − k left singular vectors of it."""
    xp = backend.xp_of(columns.data)
    basis, _, _ = _parts(xp, xp.linalg.svd(columns.data, full_matrices=True))
    return constant(basis[..., columns.shape[-1]:])


def svdvals(A, *, driver=None):
    """The singular values S (..., min(m, n)) of a (batch of) matrices, descending:
    ``svd(A).S``, whose gradient is U diag(G) Vᵀ (finite at tied singular values too).
    Without a gradient to record (nor a tangent to carry), only S is computed (no U, V),
    as in PyTorch. ``driver``: as in ``svd``."""
    _check_svd_driver(driver, "svdvals")
    _check_matrices("svdvals", A, square=False)
    if A.requires_grad and is_grad_enabled() or flags.forward_ad is not None:
        return svd(A, full_matrices=False).S
    return constant(_singular_values(A.data, hermitian=False, name="svdvals"))


def _check_svd_driver(driver, name: str) -> None:
    """PyTorch's ``driver=`` of the SVD: None or one of cuSOLVER's algorithms (which all
    give the same decomposition, so any of them is this module's one SVD)."""
    if driver not in (None, "gesvd", "gesvdj", "gesvda"):
        raise ValueError(f"linalg.{name}: driver must be None, 'gesvd', 'gesvdj' or "
                         f"'gesvda', got {driver!r}")


def _singular_values(a, hermitian: bool, name: str):
    """The singular values of the array ``a`` (..., m, n): the SVD's, or the eigenvalues'
    magnitudes when ``a`` is symmetric (``hermitian``; its lower triangle is read). An SVD
    that fails (NumPy's, on a NaN or inf entry) raises LinAlgError naming ``name``."""
    xp = backend.xp_of(a)
    if hermitian:
        return abs(xp.linalg.eigvalsh(a))
    return _checked(lambda a: xp.linalg.svd(a, compute_uv=False), a, name,
                    "the SVD did not converge")


def qr(A, mode: str = "reduced") -> QrResult:
    """``(Q, R)`` with A = Q R for a (batch of) matrices (..., m, n), k = min(m, n): Q
    with orthonormal columns, R upper triangular. ``mode``: 'reduced' (Q (..., m, k),
    R (..., k, n)), 'complete' (Q (..., m, m), R (..., m, n)) or 'r' (R alone; Q is an
    empty tensor). The gradient needs A of full rank; mode 'r', and mode 'complete' with
    m > n, raise in backward, as PyTorch (Qr's docstring)."""
    _check_matrices("qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m = A.shape[-2]
    packed = Qr.apply(A, mode=mode)                               # (..., k, m + n): [Qᵀ | R]
    Q, R = packed[..., :m].transpose(-2, -1), packed[..., m:]
    if mode == "r":
        Q = _empty(A, A.dtype)
    return QrResult(Q, R)


def _empty(A, dtype):
    """An empty (0,) tensor on A's device: PyTorch's placeholder for an output not computed."""
    return constant(backend.xp_of(A.data).zeros((0,), dtype=dtype))


def _tolerances(name: str, A, atol, rtol):
    """``(atol, rtol)`` as arrays (..., 1) on A's device, to meet singular values (..., k):
    numbers, or Tensors broadcast against A's batch dims. PyTorch's defaults: atol 0;
    rtol ε · max(m, n) (ε of A's dtype) when neither is given, and 0 where atol > 0 is given
    alone. A singular value counts when it is above max(atol, rtol · S_max)."""
    xp = backend.xp_of(A.data)
    default = float(xp.finfo(A.dtype).eps) * max(A.shape[-2:])

    def column(value, what):
        if isinstance(value, Tensor):
            return value.data.astype(A.dtype)[..., None]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"linalg.{name}: {what} must be a number or a Tensor, got "
                            f"{value!r}")
        return xp.asarray(value, dtype=A.dtype)[..., None]
    atol_column = column(0.0 if atol is None else atol, "atol")
    if rtol is not None:
        return atol_column, column(rtol, "rtol")
    if atol is None:
        return atol_column, column(default, "rtol")
    return atol_column, xp.where(atol_column > 0, 0, default).astype(A.dtype)


def pinv(A, *, atol=None, rtol=None, hermitian: bool = False):
    """A⁺, the Moore-Penrose pseudo-inverse of a (batch of) matrices (..., m, n), shape
    (..., n, m): V diag(S⁺) Uᵀ, S⁺ = 1/S for the singular values above
    max(atol, rtol · S_max) and 0 for the others. As PyTorch: atol is 0 and rtol
    ε · max(m, n) by default, rtol 0 when only atol > 0 is given; numbers, or Tensors
    broadcast against A's batch dims. ``hermitian=True``: A is symmetric (only its lower
    triangle is read) and eigh replaces the SVD. The gradient is exact where A's rank
    does not change nearby (Pinv's docstring)."""
    _check_matrices("pinv", A, square=hermitian)
    atol_column, rtol_column = _tolerances("pinv", A, atol, rtol)
    return Pinv.apply(A, atol=atol_column, rtol=rtol_column, hermitian=hermitian)


def matrix_rank(A, tol=None, hermitian: bool = False, *, atol=None, rtol=None):
    """The numerical rank of a (batch of) matrices: how many singular values (eigenvalue
    magnitudes when ``hermitian``) are above max(atol, rtol · S_max), tolerances as
    ``pinv``'s; ``tol`` is NumPy's spelling, atol=tol with rtol=0. An int64 tensor of
    A's batch shape, with no gradient."""
    _check_matrices("matrix_rank", A, square=hermitian)
    if tol is not None:
        if atol is not None or rtol is not None:
            raise ValueError("linalg.matrix_rank: give tol, or atol and rtol, not both")
        atol, rtol = tol, 0.0
    xp = backend.xp_of(A.data)
    values = _singular_values(A.data, hermitian, "matrix_rank")       # (..., k)
    atol_column, rtol_column = _tolerances("matrix_rank", A, atol, rtol)
    threshold = xp.maximum(atol_column, rtol_column * _largest(values))
    return constant((values > threshold).sum(axis=-1).astype(backend.int64))


def lstsq(A, B, rcond=None, *, driver=None) -> LstsqResult:
    """The least-squares solution X of A X ≈ B, minimizing ‖A X − B‖ (and, among those,
    ‖X‖): X = pinv(A) B with the singular values below rcond · S_max dropped (rcond
    None: ε · max(m, n)). A (..., m, n), B (..., m, k) or a batch of vectors (..., m)
    (as in ``solve``); batch dims broadcast, but B has A's ndim or one fewer (PyTorch's
    rule: a 1-D B with a batch of A raises). Its gradient is pinv's and matmul's, as
    PyTorch's (which also goes through the pseudo-inverse).

    Returns ``(solution, residuals, rank, singular_values)`` as PyTorch does on the CPU,
    by ``driver`` (a name of the LAPACK routine PyTorch would call; the numbers here come
    from the SVD whatever the driver): 'gelsy' (the default) gives the rank; 'gelsd' and
    'gelss' the rank, A's singular values, and for m > n with every A of full rank the
    residuals Σ (A X − B)² down each column (..., k); 'gels' (A assumed of full rank,
    rcond ignored) the residuals when m > n. What is not given is an empty tensor."""
    _check_matrices("lstsq", A, square=False)
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise ValueError(f"linalg.lstsq: driver must be 'gels', 'gelsy', 'gelsd' or 'gelss', "
                         f"got {driver!r}")
    if not isinstance(B, Tensor) or B.ndim == 0:
        raise ValueError(f"linalg.lstsq: B must be a Tensor with at least 1 dim, got "
                         f"{getattr(B, 'shape', type(B).__name__)}")
    if B.ndim not in (A.ndim, A.ndim - 1):      # PyTorch's rule, stricter than solve's
        raise ValueError(f"linalg.lstsq: B must have as many dims as A or one fewer, got A "
                         f"{A.shape} and B {B.shape}")
    m, n = A.shape[-2:]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    b = B.reshape(B.shape + (1,)) if vector else B                   # (..., m) → (..., m, 1)
    if b.ndim < 2 or b.shape[-2] != m:
        raise ValueError(f"linalg.lstsq: incompatible shapes of A {A.shape} and B {B.shape}: "
                         f"B needs {m} rows")
    if A.dtype != b.dtype:
        dtype = backend.result_dtype(A.dtype, b.dtype)
        A, b = A.astype(dtype), b.astype(dtype)
    rtol = 0.0 if driver == "gels" else rcond
    solution = pinv(A, rtol=rtol) @ b                                 # (..., n, k)
    rank = _empty(A, backend.int64) if driver == "gels" else matrix_rank(A, rtol=rtol)
    by_svd = driver in ("gelsd", "gelss")
    residuals = _empty(A, A.dtype)
    if m > n and (driver == "gels" or by_svd and backend.to_host((rank.data == n).all())):
        residuals = ((A @ solution - b) ** 2).sum(-2)                 # (..., k)
    singular_values = _empty(A, A.dtype)
    if by_svd:
        singular_values = constant(_singular_values(A.data, hermitian=False, name="lstsq"))
    if vector:
        solution = solution.reshape(solution.shape[:-1])
    return LstsqResult(solution, residuals, rank, singular_values)


def cond(A, p=None):
    """The condition number of a (batch of) matrices. p None or 2: S_max / S_min (from
    ``svdvals``, any (..., m, n); inf for a singular A), −2: S_min / S_max. p 'fro', 'nuc',
    1, −1, inf, −inf: ‖A‖_p · ‖A⁻¹‖_p for square A, inf where A is singular (as
    PyTorch). A without entries (a 0 × 0 matrix, or an empty batch) gives 0 for each
    matrix, as PyTorch's (NumPy has no value there). The gradient is that of the
    composition (svdvals, inv, the norms)."""
    if p not in (None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf):
        raise ValueError(f"linalg.cond: p must be None, 2, -2, 'fro', 'nuc', 1, -1, inf or "
                         f"-inf, got {p!r}")
    _check_matrices("cond", A, square=isinstance(p, str))
    xp = backend.xp_of(A.data)
    if A.data.size == 0:                         # no entries: 0 for each matrix (PyTorch's)
        return constant(xp.zeros(A.shape[:-2], dtype=A.dtype))
    if p in (None, 2, -2):
        values = svdvals(A)
        largest, smallest = values[..., 0], values[..., -1]
        return smallest / largest if p == -2 else largest / smallest
    _check_matrices("cond", A)
    n = A.shape[-1]
    sign, _ = _parts(xp, xp.linalg.slogdet(A.data))
    singular = sign == 0                                              # a zero pivot: no A⁻¹
    identity = constant(_eye(A.data, n, n))
    inverse = inv(where(singular[..., None, None], identity, A))      # I⁻¹ where A is singular
    if p == "nuc":
        product = svdvals(A).sum(-1) * svdvals(inverse).sum(-1)       # nuclear norms: Σ S
    else:
        product = matrix_norm(A, p) * matrix_norm(inverse, p)
    return where(singular, constant(xp.asarray(math.inf, dtype=A.dtype)), product)


def matrix_exp(A):
    """exp(A) = Σ_j Aʲ / j! of a (batch of) square matrices (scaling and squaring with a
    Taylor series). dL/dA = the top-right block of exp([[Aᵀ, G], [0, Aᵀ]])
    (MatrixExp's docstring)."""
    _check_matrices("matrix_exp", A)
    return MatrixExp.apply(A)


# --- triangular systems, LU, and the "_ex" variants ---

CholeskyExResult = namedtuple("CholeskyExResult", ["L", "info"])
CholeskyExResult.__doc__ = "``(L, info)``, as ``torch.linalg.cholesky_ex`` returns them."

InvExResult = namedtuple("InvExResult", ["inverse", "info"])
InvExResult.__doc__ = "``(inverse, info)``, as ``torch.linalg.inv_ex`` returns them."

LuFactorResult = namedtuple("LuFactorResult", ["LU", "pivots"])
LuFactorResult.__doc__ = "``(LU, pivots)``, as ``torch.linalg.lu_factor`` returns them."

LuFactorExResult = namedtuple("LuFactorExResult", ["LU", "pivots", "info"])
LuFactorExResult.__doc__ = ("``(LU, pivots, info)``, as ``torch.linalg.lu_factor_ex`` returns "
                            "them.")

SolveExResult = namedtuple("SolveExResult", ["result", "info"])
SolveExResult.__doc__ = "``(result, info)``, as ``torch.linalg.solve_ex`` returns them."

LuResult = namedtuple("LuResult", ["P", "L", "U"])
LuResult.__doc__ = "``(P, L, U)``, as ``torch.linalg.lu`` returns them."


class SolveTriangular(Function):
    """X = T⁻¹ B for T the triangle of A (..., n, n) that is read (the upper one with
    ``upper``, else the lower one; with ``unitriangular`` its diagonal is taken as ones
    and not read) and B (..., n, k) with the same batch dims.

    Forward is substitution, one row of X at a time: for the lower triangle
    x_i = (b_i − Σ_{j<i} a_ij x_j) / a_ii (the upper one goes from the last row up). A zero
    on the diagonal gives inf or NaN, as in PyTorch (no check).

    dL/dB = T⁻ᵀ G   (a triangular solve with Aᵀ, whose other triangle is read),
    dL/dA = −(dL/dB) Xᵀ on the entries that are read, 0 on the others.
    """

    def forward(self, a: "Array", b: "Array", upper: bool, unitriangular: bool) -> "Array":
        self.upper, self.unitriangular = upper, unitriangular
        n = a.shape[-1]
        x = backend.xp_of(b).zeros_like(b)                              # (..., n, k)
        for i in range(n - 1, -1, -1) if upper else range(n):
            known = slice(i + 1, n) if upper else slice(0, i)           # the rows solved so far
            rest = b[..., i, :] - (a[..., i:i + 1, known] @ x[..., known, :])[..., 0, :]
            x[..., i, :] = rest if unitriangular else rest / a[..., i, i:i + 1]
        return x

    def backward(self, grad_output: "Grad") -> "Grads":
        xp = self.xp
        a_t = xp.swapaxes(self.saved_input(0), -1, -2)                   # (..., n, n)
        grad_b = SolveTriangular.apply(a_t, grad_output, upper=not self.upper,
                                       unitriangular=self.unitriangular)  # T⁻ᵀ G (..., n, k)
        grad_a = None
        if self.needs_input_grad[0]:
            below, diagonal = _triangle_masks(self.inputs[0].data)       # (n, n) each
            read = below.T if self.upper else below
            if not self.unitriangular:
                read = read | diagonal
            product = grad_b @ xp.swapaxes(self.saved_output, -1, -2)    # (..., n, n)
            grad_a = xp.where(read, -product, 0)
        return grad_a, grad_b if self.needs_input_grad[1] else None


class LuFactor(Function):
    """P L U = A for A (..., m, n), k = min(m, n): L (..., m, k) lower triangular with a unit
    diagonal, U (..., k, n) upper triangular, P a permutation (partial pivoting: at step j
    the row of largest |entry| in column j, from row j down, is swapped into row j; the
    first such row at a tie, as LAPACK's getrf). ``pivot=False``: no swaps, P = I.

    One output: the (..., m + 1, n) array whose first m rows are LU, L below the diagonal
    and U on and above it (LAPACK's packed form), and whose last row holds the k pivots
    (1-based: at step j rows j+1 and pivots[j] were swapped) then zeros; ``lu_factor``
    splits it. The pivots are constant near A (no gradient). With GL (..., m, k) and
    GU (..., k, n) the parts of G below and on-or-above the diagonal (PyTorch's formulas),
    for square A:

        dL/dA = P L⁻ᵀ (tril₋₁(Lᵀ GL) + triu(GU Uᵀ)) U⁻ᵀ;

    for wide A (m < n), U = [U1 | U2] with U1 (k, k): Pᵀ dA = dL U + L dU, and
    X = L⁻¹ Pᵀ dA = dΛ U + dU with dΛ = L⁻¹ dL strictly lower, so dΛ = tril₋₁(X1 U1⁻¹)
    and dU = X − dΛ U; the loss changes by ⟨GU, X⟩ + ⟨tril₋₁(Lᵀ GL − GU Uᵀ), dΛ⟩, and

        dL/dA = P L⁻ᵀ (GU + [tril₋₁(Lᵀ GL − GU Uᵀ) U1⁻ᵀ | 0]);

    for tall A (m > n), L = [L1; L2] with L1 (k, k), the same steps on
    Y = Pᵀ dA U⁻¹ = dL + L dΓ, dΓ = dU U⁻¹ = triu(L1⁻¹ Y1) upper, give

        dL/dA = P (GL + [L1⁻ᵀ triu(GU Uᵀ − Lᵀ GL); 0]) U⁻ᵀ.

    Each is made of triangular solves (SolveTriangular, itself differentiable). A needs
    full rank: U (square, tall) or U1 (wide) invertible (L's k × k block, unit lower, always
    is). The forward is written with
    the backend's array functions (NumPy has no LU), vectorized over the batch dims, one
    Python step per column.
    """

    def forward(self, a: "Array", pivot: bool) -> "Array":
        xp = backend.xp_of(a)
        m, n = a.shape[-2:]
        k = min(m, n)
        lu = a.copy()                                                   # (..., m, n)
        rows = xp.broadcast_to(xp.arange(m).reshape(m, 1), a.shape[:-2] + (m, 1)).copy()
        pivots = xp.zeros(a.shape[:-2] + (n,), dtype=a.dtype)           # the k pivots, then 0
        for j in range(k):
            if pivot:
                largest = j + abs(lu[..., j:, j]).argmax(axis=-1)        # (...) row to swap in
            else:
                largest = xp.full(a.shape[:-2], j)                       # (...) row j: no swap
            largest = largest.astype(backend.int64)
            pivots[..., j] = largest + 1
            lu, rows = _swap_rows(lu, j, largest), _swap_rows(rows, j, largest)
            diagonal = lu[..., j, j:j + 1]                               # (..., 1): u_jj
            lu[..., j + 1:, j] /= xp.where(diagonal == 0, 1, diagonal)   # l_ij = a_ij / u_jj
            lu[..., j + 1:, j + 1:] -= lu[..., j + 1:, j:j + 1] * lu[..., j:j + 1, j + 1:]
        self.rows = rows[..., 0]                                         # (..., m): Pᵀ A = A[rows]
        return xp.concatenate([lu, pivots[..., None, :]], axis=-2)       # (..., m + 1, n)

    def backward(self, grad_output: "Grad") -> "Grads":
        xp, m = self.xp, self.rows.shape[-1]
        lu = self.saved_output[..., :m, :]                               # (..., m, n)
        grad = grad_output[..., :m, :]                                   # (..., m, n)
        a = self.inputs[0].data
        n = lu.shape[-1]
        k = min(m, n)
        below = _triangle_masks(a, max(m, n))[0][:m, :n]                 # (m, n)
        lower = xp.where(below, lu, 0)[..., :, :k] + _eye(a, m, k)      # L (..., m, k)
        upper = xp.where(below, 0, lu)[..., :k, :]                       # U (..., k, n)
        grad_lower = xp.where(below, grad, 0)[..., :, :k]               # GL (..., m, k)
        grad_upper = xp.where(below, 0, grad)[..., :k, :]               # GU (..., k, n)
        lower_part = xp.swapaxes(lower, -1, -2) @ grad_lower             # Lᵀ GL (..., k, k)
        upper_part = grad_upper @ xp.swapaxes(upper, -1, -2)             # GU Uᵀ (..., k, k)
        if m == n:
            inner = self._square_inner(lu, xp.where(below, lower_part, upper_part))
        elif m < n:
            inner = self._wide_inner(lu, grad_upper, lower_part - upper_part, below[:, :k])
        else:
            inner = self._tall_inner(lu, grad_lower, upper_part - lower_part, below[:k, :])
        return _permutation(self.rows, a.dtype) @ inner                  # P · inner

    def _square_inner(self, lu, middle):
        """L⁻ᵀ middle U⁻ᵀ, from the packed LU (..., n, n)."""
        xp = self.xp
        right = SolveTriangular.apply(lu, xp.swapaxes(middle, -1, -2), upper=True,
                                      unitriangular=False)               # (middle U⁻ᵀ)ᵀ
        return SolveTriangular.apply(xp.swapaxes(lu, -1, -2), xp.swapaxes(right, -1, -2),
                                     upper=True, unitriangular=True)     # L⁻ᵀ middle U⁻ᵀ

    def _wide_inner(self, lu, grad_upper, difference, below):
        """L⁻ᵀ (GU + [tril₋₁(difference) U1⁻ᵀ | 0]) for wide A, from the packed LU
        (..., k, n) and difference = Lᵀ GL − GU Uᵀ (..., k, k); ``below`` the (k, k) mask."""
        xp = self.xp
        k, n = lu.shape[-2:]
        square = lu[..., :, :k]                                          # L and U1 (..., k, k)
        strict = xp.swapaxes(xp.where(below, difference, 0), -1, -2)    # tril₋₁(·)ᵀ
        middle_t = SolveTriangular.apply(square, strict, upper=True,
                                         unitriangular=False)            # U1⁻¹ tril₋₁(·)ᵀ
        padded = xp.swapaxes(middle_t, -1, -2) @ _eye(self.inputs[0].data, k, n)  # [· | 0]
        return SolveTriangular.apply(xp.swapaxes(square, -1, -2), grad_upper + padded,
                                     upper=True, unitriangular=True)     # L⁻ᵀ (..., k, n)

    def _tall_inner(self, lu, grad_lower, difference, below):
        """(GL + [L1⁻ᵀ triu(difference); 0]) U⁻ᵀ for tall A, from the packed LU (..., m, k)
        and difference = GU Uᵀ − Lᵀ GL (..., k, k); ``below`` the (k, k) mask."""
        xp = self.xp
        m, k = lu.shape[-2:]
        square = lu[..., :k, :]                                          # L1 and U (..., k, k)
        top = SolveTriangular.apply(xp.swapaxes(square, -1, -2), xp.where(below, 0, difference),
                                    upper=True, unitriangular=True)      # L1⁻ᵀ triu(·)
        middle = grad_lower + _eye(self.inputs[0].data, m, k) @ top      # [·; 0] (..., m, k)
        right = SolveTriangular.apply(square, xp.swapaxes(middle, -1, -2), upper=True,
                                      unitriangular=False)               # U⁻¹ middleᵀ
        return xp.swapaxes(right, -1, -2)                                # middle U⁻ᵀ


def _swap_rows(array, j: int, rows):
    """A copy of ``array`` (..., m, c) with row j swapped with row ``rows`` (an int array of
    the batch shape: one row per matrix)."""
    xp = backend.xp_of(array)
    index = rows[..., None, None]                                       # (..., 1, 1)
    row_j = array[..., j:j + 1, :].copy()                               # (..., 1, c)
    row_other = xp.take_along_axis(array, xp.broadcast_to(index, index.shape[:-1] +
                                                          (array.shape[-1],)), axis=-2)
    at_other = xp.arange(array.shape[-2]).reshape(-1, 1) == index     # (..., m, 1)
    swapped = xp.where(at_other, row_j, array)
    swapped[..., j:j + 1, :] = row_other
    return swapped


def _permutation(rows, dtype):
    """The permutation matrix P (..., m, m) with Pᵀ A = A[rows]: P[rows[i], i] = 1."""
    xp = backend.xp_of(rows)
    m = rows.shape[-1]
    return (rows[..., None, :] == xp.arange(m).reshape(m, 1)).astype(dtype)


def _rows_of_pivots(pivots, m: int):
    """``rows`` (..., m) with Pᵀ A = A[rows], from LAPACK's 1-based pivots (..., k): the
    swaps of the pivots, done in order on 0..m−1."""
    xp = backend.xp_of(pivots)
    rows = xp.broadcast_to(xp.arange(m).reshape(m, 1), pivots.shape[:-1] + (m, 1)).copy()
    for j in range(pivots.shape[-1]):
        rows = _swap_rows(rows, j, pivots[..., j].astype(backend.int64) - 1)
    return rows[..., 0]


def _broadcast_systems(name: str, A, B):
    """A (..., n, n) and B (..., n, k), their batch dims broadcast and their dtypes promoted."""
    if not isinstance(B, Tensor) or B.ndim < 2:
        raise ValueError(f"linalg.{name}: B must be a Tensor of matrices (..., n, k), got "
                         f"{getattr(B, 'shape', type(B).__name__)}")
    same_device(f"linalg.{name}", A, B)
    if B.shape[-2] != A.shape[-1]:
        raise ValueError(f"linalg.{name}: incompatible shapes of A {A.shape} and B {B.shape}: "
                         f"B needs {A.shape[-1]} rows")
    try:
        batch = backend.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    except ValueError:
        raise ValueError(f"linalg.{name}: the batch dims of A {A.shape} and B {B.shape} "
                         "cannot be broadcast") from None
    A, B = broadcast_to(A, batch + A.shape[-2:]), broadcast_to(B, batch + B.shape[-2:])
    if A.dtype != B.dtype:
        dtype = backend.result_dtype(A.dtype, B.dtype)
        A, B = A.astype(dtype), B.astype(dtype)
    return A, B


def solve_triangular(A, B, *, upper: bool, left: bool = True, unitriangular: bool = False):
    """X with T X = B (``left``) or X T = B (``left=False``), T the upper (``upper=True``) or
    lower triangle of A (..., n, n), with ones on its diagonal if ``unitriangular`` (the
    diagonal of A is then not read); B (..., n, k) (or (..., k, n) for ``left=False``);
    batch dims broadcast. Only the entries of A that are read get a gradient:
    dL/dB = T⁻ᵀ G, dL/dA = −(dL/dB) Xᵀ on them. X T = B is Tᵀ Xᵀ = Bᵀ, the other
    triangle of Aᵀ. A zero on the diagonal gives inf or NaN, as in PyTorch."""
    _check_matrices("solve_triangular", A)
    if not left:
        if not isinstance(B, Tensor) or B.ndim < 2:
            raise ValueError(f"linalg.solve_triangular: B must be a Tensor of matrices, got "
                             f"{getattr(B, 'shape', type(B).__name__)}")
        X_t = solve_triangular(A.transpose(-2, -1), B.transpose(-2, -1), upper=not upper,
                               unitriangular=unitriangular)
        return X_t.transpose(-2, -1)
    A, B = _broadcast_systems("solve_triangular", A, B)
    return SolveTriangular.apply(A, B, upper=upper, unitriangular=unitriangular)


def _solve_right(A, B):
    """X with X A = B, by the transpose identity X A = B ⇔ Aᵀ Xᵀ = Bᵀ (``solve``'s
    ``left=False``): B (..., k, n), or a batch of row vectors (..., n)."""
    if not isinstance(B, Tensor) or B.ndim == 0:
        raise ValueError(f"linalg.solve: B must be a Tensor with at least 1 dim, got "
                         f"{getattr(B, 'shape', type(B).__name__)}")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if vector:
        return solve(A.transpose(-2, -1), B)                         # Aᵀ x = b ⇔ xᵀ A = bᵀ
    return solve(A.transpose(-2, -1), B.transpose(-2, -1)).transpose(-2, -1)


def cholesky_ex(A, *, upper: bool = False, check_errors: bool = False) -> CholeskyExResult:
    """``(L, info)``: ``cholesky`` that does not raise. ``info`` (int32, A's batch shape) is 0
    where A is positive-definite, else the order k of its first leading minor
    A[:k, :k] that is not (LAPACK's potrf). L of such a matrix is NaN (no gradient);
    ``check_errors=True`` raises LinAlgError there instead."""
    _check_matrices("cholesky_ex", A)
    xp = backend.xp_of(A.data)
    try:
        return CholeskyExResult(cholesky(A, upper=upper),
                                constant(xp.zeros(A.shape[:-2], dtype=backend.int32)))
    except LinAlgError:
        read = A.transpose(-2, -1) if upper else A                     # its lower triangle is read
        info = _cholesky_info(read.data)                               # (...) int32
    if check_errors:
        _raise_first_failure("cholesky_ex", info, "the leading minor of order {} is not "
                             "positive-definite")
    failed = constant((info != 0)[..., None, None])                    # (..., 1, 1)
    identity = constant(_eye(A.data, A.shape[-1], A.shape[-1]))
    L = Cholesky.apply(where(failed, identity, read))                  # L of I where it failed
    L = where(failed, constant(xp.asarray(math.nan, dtype=A.dtype)), L)
    return CholeskyExResult(L.transpose(-2, -1) if upper else L, constant(info))


def _cholesky_info(a):
    """LAPACK's potrf info of the array ``a`` (..., n, n) (its lower triangle): 0, or the
    first k at which l_kk² = a_kk − Σ_{j<k} l_kj² is not positive (Cholesky-Banachiewicz,
    one column at a time)."""
    xp, n = backend.xp_of(a), a.shape[-1]
    lower = xp.zeros_like(a)
    info = xp.zeros(a.shape[:-2], dtype=backend.int32)
    for k in range(n):
        square = a[..., k, k] - (lower[..., k, :k] ** 2).sum(axis=-1)    # (...) l_kk²
        positive = square > 0
        info = xp.where(~positive & (info == 0), k + 1, info).astype(backend.int32)
        root = xp.sqrt(xp.where(positive, square, 1))[..., None]       # (..., 1)
        lower[..., k, k] = root[..., 0]
        column = a[..., k + 1:, k] - (lower[..., k + 1:, :k] @ lower[..., k, :k, None])[..., 0]
        lower[..., k + 1:, k] = column / root
    return info


def _raise_first_failure(name: str, info, problem: str):
    """LinAlgError naming the first matrix of the batch whose ``info`` is not 0, if any."""
    xp = backend.xp_of(info)
    failed = backend.to_host(xp.argwhere(info != 0))
    if len(failed):
        index = tuple(int(i) for i in failed[0])
        value = int(backend.to_host(info[index]))
        where_ = f" (batch element {index})" if index else ""
        raise LinAlgError(f"linalg.{name}: {problem.format(value)}{where_}")


def inv_ex(A, *, check_errors: bool = False) -> InvExResult:
    """``(inverse, info)``: ``inv`` that does not raise. ``info`` (int32, A's batch shape) is
    0 where A is invertible, else the 1-based index i of the first zero u_ii of its LU
    factorization (LAPACK's getrf). The inverse of such a matrix is NaN (no gradient);
    ``check_errors=True`` raises LinAlgError there instead."""
    _check_matrices("inv_ex", A)
    xp = backend.xp_of(A.data)
    try:
        return InvExResult(Inv.apply(A), constant(xp.zeros(A.shape[:-2], dtype=backend.int32)))
    except LinAlgError:
        info = _lu_info(LuFactor.apply(A.data, pivot=True)[..., :-1, :])
    if check_errors:
        _raise_first_failure("inv_ex", info, "the diagonal element {} of U is zero: the "
                             "matrix is singular")
    failed = constant((info != 0)[..., None, None])                    # (..., 1, 1)
    identity = constant(_eye(A.data, A.shape[-1], A.shape[-1]))
    inverse = Inv.apply(where(failed, identity, A))                     # I⁻¹ where it failed
    inverse = where(failed, constant(xp.asarray(math.nan, dtype=A.dtype)), inverse)
    return InvExResult(inverse, constant(info))


def _lu_info(lu):
    """LAPACK's getrf info of the packed LU array (..., m, n): 0, or the 1-based index of
    the first zero on U's diagonal."""
    xp = backend.xp_of(lu)
    zero = xp.diagonal(lu, axis1=-2, axis2=-1) == 0                   # (..., k)
    if zero.shape[-1] == 0:                                           # k = 0: no pivot fails
        return xp.zeros(zero.shape[:-1], dtype=backend.int32)
    first = zero.argmax(axis=-1) + 1
    return xp.where(zero.any(axis=-1), first, 0).astype(backend.int32)


def cholesky_solve(B, L, upper: bool = False):
    """X with A X = B for A = L Lᵀ (``upper=True``: A = Uᵀ U, L given as U), from the
    Cholesky factor: two triangular solves, L Y = B then Lᵀ X = Y (PyTorch's
    ``torch.cholesky_solve``; only L's triangle is read). B (..., n, k); batch dims
    broadcast. The gradient is the solves': composed, it needs no code."""
    _check_matrices("cholesky_solve", L)
    lower = L.transpose(-2, -1) if upper else L                        # A = lower · lowerᵀ
    middle = solve_triangular(lower, B, upper=False)                   # lower · Y = B
    return solve_triangular(lower.transpose(-2, -1), middle, upper=True)   # lowerᵀ X = Y


def cholesky_inverse(L, upper: bool = False):
    """A⁻¹ for A = L Lᵀ (``upper=True``: A = Uᵀ U) from its Cholesky factor:
    ``cholesky_solve(I, L)`` (PyTorch's ``torch.cholesky_inverse``); composed."""
    _check_matrices("cholesky_inverse", L)
    identity = constant(_eye(L.data, L.shape[-1], L.shape[-1]))
    return cholesky_solve(identity, L, upper=upper)


def lu_factor(A, *, pivot: bool = True) -> LuFactorResult:
    """``(LU, pivots)`` with A = P L U for a (batch of) matrices (..., m, n), partial
    pivoting: LU (..., m, n) holds L below the diagonal (its unit diagonal not stored) and
    U on and above it; pivots (..., min(m, n)), int32, 1-based as LAPACK's: at step j,
    rows j+1 and pivots[j] were swapped. The gradient through LU is PyTorch's, for A of
    full rank, square, wide or tall (LuFactor's docstring). ``pivot=False`` (no row swaps,
    pivots 1..k) is what PyTorch does on CUDA only; it fails where a zero pivot meets a
    nonzero column."""
    LU, pivots, _ = _lu_factor(A, pivot, "lu_factor")
    return LuFactorResult(LU, pivots)


def _lu_factor(A, pivot: bool, name: str):
    """(LU, pivots, info) of ``lu_factor_ex``."""
    _check_matrices(name, A, square=False)
    m, n = A.shape[-2:]
    packed = LuFactor.apply(A, pivot=pivot)                             # (..., m + 1, n)
    LU = packed[..., :m, :]
    pivots = constant(packed.data[..., m, :min(m, n)].astype(backend.int32))
    return LU, pivots, constant(_lu_info(LU.data))


def lu_factor_ex(A, *, pivot: bool = True, check_errors: bool = False) -> LuFactorExResult:
    """``(LU, pivots, info)``: ``lu_factor`` with ``info`` (int32, A's batch shape): 0, or
    the 1-based index of the first zero on U's diagonal (the factorization is complete
    but U is singular, as LAPACK's getrf); ``check_errors=True`` raises LinAlgError there."""
    LU, pivots, info = _lu_factor(A, pivot, "lu_factor_ex")
    if check_errors:
        _raise_first_failure("lu_factor_ex", info.data, "the diagonal element {} of U is "
                             "zero")
    return LuFactorExResult(LU, pivots, info)


def lu(A, *, pivot: bool = True) -> LuResult:
    """``(P, L, U)`` with A = P L U for a (batch of) matrices (..., m, n), k = min(m, n):
    P (..., m, m) a permutation matrix (constant: no gradient), L (..., m, k) lower
    triangular with ones on its diagonal, U (..., k, n) upper triangular (partial
    pivoting, as ``lu_factor``). ``pivot=False``: no row swaps, and P is an empty tensor,
    as PyTorch's. The gradient of L and U is PyTorch's, for A of full rank, square, wide
    or tall (LuFactor's docstring)."""
    _check_matrices("lu", A, square=False)
    m, n = A.shape[-2:]
    k = min(m, n)
    packed = LuFactor.apply(A, pivot=pivot)                             # (..., m + 1, n)
    LU = packed[..., :m, :]
    unit = constant(_eye(A.data, m, k))                                 # (m, k)
    L = LU[..., :, :k].tril(-1) + unit                                  # (..., m, k)
    U = LU[..., :k, :].triu()                                           # (..., k, n)
    if not pivot:
        return LuResult(_empty(A, A.dtype), L, U)
    rows = _rows_of_pivots(packed.data[..., m, :k], m)                  # (..., m)
    return LuResult(constant(_permutation(rows, A.dtype)), L, U)


def lu_solve(LU, pivots, B, *, left: bool = True, adjoint: bool = False):
    """X with A X = B (``adjoint``: Aᵀ X = B; ``left=False``: X A = B or X Aᵀ = B) from
    ``lu_factor``'s (LU, pivots) of a square A = P L U. B (..., n, k) ((..., k, n) for
    ``left=False``); batch dims broadcast. Composed of triangular solves that read LU's
    triangles, so gradients reach LU and B (PyTorch's):

        A X = B:    X = U⁻¹ L⁻¹ Pᵀ B,      Aᵀ X = B:   X = P L⁻ᵀ U⁻ᵀ B,

    and X A = B is Aᵀ Xᵀ = Bᵀ (X Aᵀ = B likewise)."""
    _check_matrices("lu_solve", LU)
    if not isinstance(pivots, Tensor) or pivots.shape != LU.shape[:-1]:
        raise ValueError(f"linalg.lu_solve: pivots must be a Tensor of shape {LU.shape[:-1]} "
                         f"for LU of shape {LU.shape}, got "
                         f"{getattr(pivots, 'shape', type(pivots).__name__)}")
    if not isinstance(B, Tensor) or B.ndim < 2:
        raise ValueError(f"linalg.lu_solve: B must be a Tensor of matrices, got "
                         f"{getattr(B, 'shape', type(B).__name__)}")
    if not left:
        X_t = lu_solve(LU, pivots, B.transpose(-2, -1), adjoint=not adjoint)
        return X_t.transpose(-2, -1)
    n = LU.shape[-1]
    P = constant(_permutation(_rows_of_pivots(pivots.data, n), LU.dtype))    # (..., n, n)
    if not adjoint:
        Y = solve_triangular(LU, P.transpose(-2, -1) @ B, upper=False, unitriangular=True)
        return solve_triangular(LU, Y, upper=True)                       # U X = L⁻¹ Pᵀ B
    LU_t = LU.transpose(-2, -1)                                          # Uᵀ below, Lᵀ above
    Y = solve_triangular(LU_t, B, upper=False)                           # Uᵀ Y = B
    return P @ solve_triangular(LU_t, Y, upper=True, unitriangular=True)   # P Lᵀ⁻¹ Y


# --- matrices built from vectors, and tensor equations ---

def vander(x, *, N: int = None):
    """The Vandermonde matrix of x (..., n): (..., n, N) with columns x⁰, x¹, ..., x^(N−1)
    (increasing powers, as ``torch.linalg.vander``; N = n by default). As PyTorch's: N must
    be at least 2, a 0-dim x is one point (n = 1), and x is float32/float64 or an integer
    type. Each column is the previous one times x, so the gradient is the products'."""
    if not isinstance(x, Tensor):
        raise ValueError(f"linalg.vander: x must be a Tensor, got {type(x).__name__}")
    if x.dtype in (backend.bool_, backend.float16):
        raise TypeError(f"linalg.vander: x must be float32, float64 or an integer type, got "
                        f"{x.dtype}")
    if x.ndim == 0:
        x = x.reshape(1)
    N = x.shape[-1] if N is None else N
    if isinstance(N, bool) or not isinstance(N, int) or N < 2:
        raise ValueError(f"linalg.vander: N must be an int greater than 1 (N defaults to "
                         f"x.shape[-1]), got {N!r} for x of shape {x.shape}")
    xp = backend.xp_of(x.data)
    powers = [constant(xp.ones(x.shape, dtype=x.dtype))]               # x⁰
    for _ in range(N - 1):
        powers.append(powers[-1] * x)                                   # x^(j+1) = x^j · x
    return stack(powers, -1)


def tensorinv(A, ind: int = 2):
    """The inverse of A for ``tensordot(A, X, ind)``: A of shape I + J with I = A.shape[:ind]
    and prod(I) = prod(J) is reshaped to a (prod(I), prod(J)) matrix, inverted and shaped
    back to J + I (``torch.linalg.tensorinv``). Composed of ``inv``."""
    if not isinstance(ind, int) or isinstance(ind, bool) or ind <= 0:
        raise ValueError(f"linalg.tensorinv: ind must be a positive int, got {ind!r}")
    front, back = A.shape[:ind], A.shape[ind:]
    rows, columns = math.prod(front), math.prod(back)
    if rows != columns:
        raise ValueError(f"linalg.tensorinv: A of shape {A.shape} with ind={ind}: the product "
                         f"of the first {ind} dims ({rows}) must equal that of the others "
                         f"({columns})")
    return inv(A.reshape(rows, columns)).reshape(back + front)


def tensorsolve(A, B, dims=None):
    """X with ``tensordot(A, X, X.ndim) = B``: A of shape B.shape + X.shape, reshaped to a
    (prod(B.shape), prod(X.shape)) matrix and solved against B flattened
    (``torch.linalg.tensorsolve``). X.shape is A.shape[B.ndim:]; as PyTorch, A's first
    B.ndim dims need only the product of B's, not its shape. ``dims``: dims of A moved to
    the end first. Composed of ``solve``."""
    if dims is not None:
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        A = A.movedim(dims, tuple(range(A.ndim - len(dims), A.ndim)))
    unknown = A.shape[B.ndim:]
    rows, columns = math.prod(B.shape), math.prod(unknown)
    if rows != columns:
        raise ValueError(f"linalg.tensorsolve: A {A.shape} and B {B.shape}: prod(B.shape) = "
                         f"{rows} must equal the product of A's other dims ({columns})")
    if math.prod(A.shape[:B.ndim]) != rows:     # only the products must agree, as PyTorch
        raise ValueError(f"linalg.tensorsolve: A {A.shape} and B {B.shape}: the product of "
                         f"A's first {B.ndim} dims must equal prod(B.shape) = {rows}")
    return solve(A.reshape(rows, columns), B.reshape(rows)).reshape(unknown)


# --- more of torch.linalg, composed ---

def solve_ex(A, B, *, left: bool = True, check_errors: bool = False) -> SolveExResult:
    """``(X, info)``: ``solve`` that does not raise. ``info`` (int32, A's batch shape) is 0
    where A is invertible, else the 1-based index of the first zero on the diagonal of U
    in A's LU factorization (LAPACK's getrf, as ``inv_ex``). X of such a matrix is NaN (no
    gradient); ``check_errors=True`` raises LinAlgError there instead."""
    _check_matrices("solve_ex", A)
    info = inv_ex(A).info.data                                           # (...) int32
    if check_errors:
        _raise_first_failure("solve_ex", info, "the diagonal element {} of U is zero: the "
                             "matrix is singular")
    xp = backend.xp_of(A.data)
    failed = constant((info != 0)[..., None, None])                      # (..., 1, 1)
    identity = constant(_eye(A.data, A.shape[-1], A.shape[-1]))
    X = solve(where(failed, identity, A), B, left=left)                 # I⁻¹ B where it failed
    if X.ndim == A.ndim - 1:                                             # a batch of vectors
        failed = failed[..., 0]                                         # (..., 1)
    return SolveExResult(where(failed, constant(xp.asarray(math.nan, dtype=X.dtype)), X),
                         constant(info))


def diagonal(A, *, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """The diagonal ``offset`` of each matrix (by default of the last two dims), as the
    last dim: ``A.diagonal(offset, dim1, dim2)`` with ``torch.linalg``'s defaults."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.diagonal: expected a Tensor, got {type(A).__name__}")
    return A.diagonal(offset, dim1, dim2)


def householder_product(A, tau):
    """The first n columns of Q = H₁ H₂ ⋯ H_k, H_i = I − τ_i v_i v_iᵀ, from the Householder
    vectors in the columns of A (..., m, n) (m ≥ n ≥ k): v_i is 0 above row i, 1 at row i
    and A's column i below it; tau (..., k) (``torch.linalg.householder_product``, LAPACK's
    orgqr). Each reflection is applied to I[:, :n] from the left, a product of matmuls,
    so the gradient reaches A (below the diagonal) and tau."""
    _check_matrices("householder_product", A, square=False)
    m, n = A.shape[-2:]
    if not isinstance(tau, Tensor) or tau.ndim < 1 or tau.shape[:-1] != A.shape[:-2] \
            or not tau.shape[-1] <= n <= m:
        raise ValueError(f"linalg.householder_product: expected A (..., m, n) with m >= n and "
                         f"tau (..., k) with k <= n and A's batch dims, got A {A.shape} and "
                         f"tau {getattr(tau, 'shape', type(tau).__name__)}")
    V = A.tril(-1) + constant(_eye(A.data, m, n))                         # (..., m, n) the v_i
    Q = broadcast_to(constant(_eye(A.data, m, n)), A.shape)               # (..., m, n) I[:, :n]
    for i in reversed(range(tau.shape[-1])):
        v = V[..., :, i:i + 1]                                            # (..., m, 1)
        Q = Q - tau[..., i, None, None] * (v @ (v.transpose(-2, -1) @ Q))  # H_i Q
    return Q


# --- the LDLᵀ factorization of symmetric indefinite matrices (no gradient, as PyTorch) ---

LdlFactorResult = namedtuple("LdlFactorResult", ["LD", "pivots"])
LdlFactorResult.__doc__ = "``(LD, pivots)``, as ``torch.linalg.ldl_factor`` returns them."
LdlFactorExResult = namedtuple("LdlFactorExResult", ["LD", "pivots", "info"])
LdlFactorExResult.__doc__ = ("``(LD, pivots, info)``, as ``torch.linalg.ldl_factor_ex`` "
                             "returns them.")

BUNCH_KAUFMAN_ALPHA = (1 + math.sqrt(17)) / 8  # α ≈ 0.64: bounds the growth of the entries


def ldl_factor_ex(A, *, hermitian: bool = False,
                  check_errors: bool = False) -> LdlFactorExResult:
    """``(LD, pivots, info)``: A = L D Lᵀ of a (batch of) symmetric, possibly indefinite,
    matrices (..., n, n), only the lower triangle read, by LAPACK's sytrf (uplo 'L': the
    classic Bunch-Kaufman partial pivoting, ``_bunch_kaufman``), as PyTorch's.

    LD (..., n, n) holds D's 1×1 and 2×2 diagonal blocks on and just below the diagonal
    and the multipliers of L (unit diagonal not stored) below them, zeros above the
    diagonal. pivots (..., n), int32, 1-based: pivots[k] = p > 0, a 1×1 block at k after
    swapping rows and columns k and p; pivots[k] = pivots[k+1] = −p, a 2×2 block at
    (k, k+1) after swapping k+1 and p. The swaps act on the rows not yet factored only
    (L is a product of swaps and block eliminations, LAPACK's storage).
    info (int32, the batch shape): 0, or the first k (1-based) whose column was zero (D
    singular; the factorization goes on, as LAPACK's); ``check_errors=True`` raises
    LinAlgError there. ``hermitian`` changes nothing for real matrices. No gradient: a
    backward through LD raises, as PyTorch's. The work runs on the host, one matrix
    and one column (or pair) at a time: the pivot decisions depend on the values."""
    _check_matrices("ldl_factor_ex", A)
    host = backend.to_host(A.data)
    xp = backend.xp_of(host)
    LD = xp.zeros_like(host)
    pivots = xp.zeros(host.shape[:-1], dtype=backend.int32)
    info = xp.zeros(host.shape[:-2], dtype=backend.int32)
    for index in itertools.product(*map(range, host.shape[:-2])):
        LD[index], pivots[index], info[index] = _bunch_kaufman(host[index])
    info = backend.to_device(info, A.device)
    if check_errors:
        _raise_first_failure("ldl_factor_ex", info, "D is singular: its diagonal element "
                             "{} is zero")
    LD = without_derivative("linalg_ldl_factor_ex", backend.to_device(LD, A.device), A)
    return LdlFactorExResult(LD, constant(backend.to_device(pivots, A.device)),
                             constant(info))


def ldl_factor(A, *, hermitian: bool = False) -> LdlFactorResult:
    """``(LD, pivots)`` of ``ldl_factor_ex``; a singular D (a zero column met, info > 0)
    raises LinAlgError, as PyTorch's."""
    _check_matrices("ldl_factor", A)
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    _raise_first_failure("ldl_factor", info.data, "D is singular: its diagonal element {} "
                         "is zero")
    return LdlFactorResult(LD, pivots)


def _bunch_kaufman(a):
    """(LD, pivots, info) of one host matrix ``a`` (n, n), its lower triangle read: LAPACK's
    dsytf2, uplo 'L'. At column k, with λ = max_{i>k} |a_ik| (in row r) and
    σ = max_{j≠r} |a_rj| over the rows and columns not yet factored:

        |a_kk| ≥ α λ           1×1 block at k, no swap
        |a_kk| σ ≥ α λ²        1×1 block at k, no swap
        |a_rr| ≥ α σ           swap k and r, 1×1 block
        else                   swap k+1 and r, 2×2 block at (k, k+1)

    then the trailing matrix loses the block's outer product, S ← S − W D⁻¹ Wᵀ, and the
    block's columns become the multipliers L = W D⁻¹. The work matrix is kept symmetric
    (the lower triangle, mirrored); the result is its lower triangle."""
    xp, n = backend.xp_of(a), a.shape[-1]
    work = xp.tril(a) + xp.tril(a, -1).T                                 # (n, n) symmetric
    pivots = xp.zeros(n, dtype=backend.int32)
    info, k = 0, 0
    while k < n:
        step, swap = _bunch_kaufman_pivot(work, k)
        if step == 0:                                   # a zero (or NaN) column: D singular
            info = info or k + 1
            pivots[k] = k + 1
            k += 1
            continue
        _swap_symmetric(work, k, k + step - 1, swap)
        if step == 1:
            _eliminate_one(work, k)
            pivots[k] = swap + 1
        else:
            _eliminate_two(work, k)
            pivots[k:k + 2] = -(swap + 1)
        k += step
    return xp.tril(work), pivots, info


def _bunch_kaufman_pivot(work, k: int):
    """(step, row): the block size at column k (0: a zero or NaN column, nothing to do)
    and the row swapped into place (k itself for no swap), by the rule of
    ``_bunch_kaufman``; at ties the first largest entry, as LAPACK's idamax."""
    xp, n = backend.xp_of(work), work.shape[-1]
    diagonal = abs(float(work[k, k]))                                    # |a_kk|
    if k + 1 < n:
        row = k + 1 + int(abs(work[k + 1:, k]).argmax())                 # r
        largest = abs(float(work[row, k]))                               # λ
    else:
        row, largest = k, 0.0
    if max(diagonal, largest) == 0 or math.isnan(diagonal):
        return 0, k
    if diagonal >= BUNCH_KAUFMAN_ALPHA * largest:
        return 1, k
    others = xp.concatenate([work[row, k:row], work[row, row + 1:]])
    row_largest = float(abs(others).max())                               # σ
    if diagonal >= BUNCH_KAUFMAN_ALPHA * largest * (largest / row_largest):
        return 1, k
    if abs(float(work[row, row])) >= BUNCH_KAUFMAN_ALPHA * row_largest:
        return 1, row
    return 2, row


def _swap_symmetric(work, k: int, i: int, j: int) -> None:
    """Swap rows i and j and columns i and j of the trailing matrix work[k:, k:], in place
    (the factored columns before k keep their rows, LAPACK's storage)."""
    if i != j:
        work[[i, j], k:] = work[[j, i], k:]
        work[k:, [i, j]] = work[k:, [j, i]]


def _eliminate_one(work, k: int) -> None:
    """A 1×1 block d = a_kk: S ← S − w (1/d) wᵀ for the column w below it, then L's
    column w / d. Each product is LAPACK's dsyr, w_i · (−(1/d) w_j)."""
    inverse = 1 / work[k, k]
    column = work[k + 1:, k].copy()                                      # w (n − k − 1,)
    trailing = work[k + 1:, k + 1:] + column[:, None] * (-inverse * column)[None, :]
    work[k + 1:, k + 1:] = _mirrored(trailing)
    work[k + 1:, k] = inverse * column


def _eliminate_two(work, k: int) -> None:
    """A 2×2 block D = [[a, b], [b, c]] at (k, k+1): with W the two columns below it,
    L = W D⁻¹ and S ← S − L Wᵀ, as LAPACK's dsytf2 writes D⁻¹ (scaled by b to avoid
    overflow): d11 = c/b, d22 = a/b, t = 1/(d11 d22 − 1), then per row j
    l_jk = (t/b)(d11 w_jk − w_j,k+1) and l_j,k+1 = (t/b)(d22 w_j,k+1 − w_jk)."""
    b = work[k + 1, k]
    d11, d22 = work[k + 1, k + 1] / b, work[k, k] / b
    scale = (1 / (d11 * d22 - 1)) / b                                    # t / b
    first, second = work[k + 2:, k].copy(), work[k + 2:, k + 1].copy()   # W (n − k − 2,) x2
    l_first = scale * (d11 * first - second)
    l_second = scale * (d22 * second - first)
    trailing = (work[k + 2:, k + 2:] - first[:, None] * l_first[None, :]
                - second[:, None] * l_second[None, :])
    work[k + 2:, k + 2:] = _mirrored(trailing)
    work[k + 2:, k], work[k + 2:, k + 1] = l_first, l_second


def _mirrored(square):
    """The symmetric matrix of the lower triangle of ``square``."""
    xp = backend.xp_of(square)
    return xp.tril(square) + xp.tril(square, -1).T


def ldl_solve(LD, pivots, B, *, hermitian: bool = False):
    """X with A X = B from ``ldl_factor``'s (LD, pivots) of A: LD (..., n, n), pivots
    (..., n), B (..., n, k); batch dims broadcast. LAPACK's sytrs: L D Y = B by the
    blocks in order (each swap, then the block's column eliminated below it, then D's
    block solved), then Lᵀ X = Y by the blocks in reverse (the column's dot product, then
    the swap). No gradient: a backward through X raises, as PyTorch's. On the host, one
    matrix and block at a time."""
    _check_matrices("ldl_solve", LD)
    if not isinstance(pivots, Tensor) or pivots.shape[-1:] != LD.shape[-1:] \
            or pivots.dtype.kind not in "iu":
        raise ValueError(f"linalg.ldl_solve: pivots must be an integer Tensor (..., "
                         f"{LD.shape[-1]}) for LD of shape {LD.shape}, got "
                         f"{getattr(pivots, 'shape', type(pivots).__name__)}")
    if not isinstance(B, Tensor) or B.ndim < 2 or B.shape[-2] != LD.shape[-1]:
        raise ValueError(f"linalg.ldl_solve: B must be a Tensor of matrices (..., "
                         f"{LD.shape[-1]}, k) for LD of shape {LD.shape}, got "
                         f"{getattr(B, 'shape', type(B).__name__)}")
    try:
        batch = backend.broadcast_shapes(LD.shape[:-2], pivots.shape[:-1], B.shape[:-2])
    except ValueError:
        raise ValueError(f"linalg.ldl_solve: the batch dims of LD {LD.shape}, pivots "
                         f"{pivots.shape} and B {B.shape} cannot be broadcast") from None
    dtype = backend.result_dtype(LD.dtype, B.dtype)
    host = [backend.to_host(x.data) for x in (LD, pivots, B)]
    xp = backend.xp_of(host[0])
    ld = xp.broadcast_to(host[0], batch + LD.shape[-2:]).astype(dtype)
    pivot_rows = xp.broadcast_to(host[1], batch + pivots.shape[-1:])
    X = xp.broadcast_to(host[2], batch + B.shape[-2:]).astype(dtype)     # a copy, solved in place
    for index in itertools.product(*map(range, batch)):
        _ldl_solve_one(ld[index], pivot_rows[index], X[index])
    return without_derivative("linalg_ldl_solve", backend.to_device(X, LD.device), LD, B)


def _ldl_solve_one(ld, pivots, b) -> None:
    """Overwrite b (n, k) with X, A X = b, from one (LD, pivots): LAPACK's dsytrs, 'L'."""
    n, k = ld.shape[-1], 0
    while k < n:                                                         # L D Y = B
        if pivots[k] > 0:
            _swap_rows_in_place(b, k, int(pivots[k]) - 1)
            b[k + 1:] -= ld[k + 1:, k, None] * b[k]
            b[k] *= 1 / ld[k, k]
            k += 1
            continue
        _swap_rows_in_place(b, k + 1, -int(pivots[k]) - 1)
        b[k + 2:] -= ld[k + 2:, k, None] * b[k]
        b[k + 2:] -= ld[k + 2:, k + 1, None] * b[k + 1]
        off = ld[k + 1, k]                                               # D's block, scaled
        first, second = ld[k, k] / off, ld[k + 1, k + 1] / off           # by its off-diagonal
        denominator = first * second - 1
        top, bottom = b[k] / off, b[k + 1] / off
        b[k] = (second * top - bottom) / denominator
        b[k + 1] = (first * bottom - top) / denominator
        k += 2
    k = n - 1
    while k >= 0:                                                        # Lᵀ X = Y
        b[k] -= ld[k + 1:, k] @ b[k + 1:]
        if pivots[k] > 0:
            _swap_rows_in_place(b, k, int(pivots[k]) - 1)
            k -= 1
            continue
        b[k - 1] -= ld[k + 1:, k - 1] @ b[k + 1:]
        _swap_rows_in_place(b, k, -int(pivots[k]) - 1)
        k -= 2


def _swap_rows_in_place(b, i: int, j: int) -> None:
    """Rows i and j of b swapped, in place."""
    if i != j:
        b[[i, j]] = b[[j, i]]
