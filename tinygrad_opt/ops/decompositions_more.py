"""More of PyTorch's linear algebra, outside the reading path: the QR factorization in
LAPACK's compact form (``geqrf``) and the product with its Q (``ormqr``), the randomized
low-rank SVD and PCA (``svd_lowrank``, ``pca_lowrank``) and the multidimensional
histogram (``histogramdd``). The LDLᵀ factorization is in ``tg.linalg``
(``ldl_factor``, ``ldl_solve``).

Nothing here has a backward of its own. ``ormqr``, ``svd_lowrank`` and ``pca_lowrank``
are compositions of ``householder_product``, ``qr``, ``svd`` and matmuls, so their
gradients are those ops'. ``geqrf`` has no derivative, as in PyTorch: its outputs
require grad where A does, and a backward through them raises. ``histogramdd`` counts
(no gradient).
"""

from __future__ import annotations

import math
from collections import namedtuple

from tinygrad_opt import backend, linalg
from tinygrad_opt.factories import randn
from tinygrad_opt.ops.elementwise import constant
from tinygrad_opt.ops.linalg import matmul
from tinygrad_opt.ops.no_derivative import without_derivative
from tinygrad_opt.ops.rearrange import _tensor
from tinygrad_opt.ops.shape import cat

import tinygrad_opt.tensor as tensor_module

__all__: list = ["geqrf", "ormqr", "svd_lowrank", "pca_lowrank", "histogramdd"]

GeqrfResult = namedtuple("geqrf", ["a", "tau"])
GeqrfResult.__doc__ = "``(a, tau)``, as ``torch.geqrf`` returns them."
HistogramddResult = namedtuple("histogramdd", ["hist", "bin_edges"])
HistogramddResult.__doc__ = "``(hist, bin_edges)``, as ``torch.histogramdd`` returns them."


# --- QR in LAPACK's compact form ---

def geqrf(input) -> GeqrfResult:
    """``(a, tau)``: A = Q R for a (batch of) matrices A (..., m, n), k = min(m, n), in
    LAPACK's compact form (``torch.geqrf``): R on and above the diagonal of a (..., m, n);
    below it, column i holds the Householder vector v_i (its 1 at row i not stored), and
    Q = H₁ H₂ ⋯ H_k with H_i = I − τ_i v_i v_iᵀ, tau (..., k).
    ``tg.linalg.householder_product(a, tau)`` is Q's first n columns. Householder's
    reflections as LAPACK's dgeqr2 (``_householder_qr``). No derivative, as PyTorch's: a
    backward through a or tau raises."""
    linalg._check_matrices("geqrf", input, square=False)
    a, tau = _householder_qr(input.data)
    return GeqrfResult(without_derivative("geqrf", a, input),
                       without_derivative("geqrf", tau, input))


def _householder_qr(a):
    """(a, tau) of geqrf for the array ``a`` (..., m, n), vectorized over the batch. At
    column i, with α = a_ii and x the entries below it (LAPACK's dlarfg):

        β = −sign(α) ‖(α, x)‖,   τ = (β − α)/β,   v = (1, x/(α − β)),   a_ii ← β,

    so H = I − τ v vᵀ maps (α, x) to (β, 0); then H is applied to the columns on the
    right, A ← A − τ v (vᵀ A). Where x = 0 already, τ = 0 and nothing changes. (LAPACK
    also rescales a tiny β to keep its digits; this does not.)"""
    xp = backend.xp_of(a)
    m, n = a.shape[-2:]
    a = a.copy()
    tau = xp.zeros(a.shape[:-2] + (min(m, n),), dtype=a.dtype)
    for i in range(min(m, n)):
        alpha = a[..., i, i]                                             # (...)
        below = xp.sqrt((a[..., i + 1:, i] ** 2).sum(axis=-1))           # (...) ‖x‖
        norm = xp.hypot(alpha, below)                                    # ‖(α, x)‖
        beta = xp.where(alpha >= 0, -norm, norm)                         # −sign(α) ‖(α, x)‖
        reflect = below != 0
        tau[..., i] = xp.where(reflect, (beta - alpha) / xp.where(reflect, beta, 1), 0)
        scale = 1 / xp.where(reflect, alpha - beta, 1)                   # 1/(α − β)
        a[..., i + 1:, i] *= scale[..., None]                            # v below its 1
        a[..., i, i] = xp.where(reflect, beta, alpha)
        ones = xp.ones(a.shape[:-2] + (1,), dtype=a.dtype)
        v = xp.concatenate([ones, a[..., i + 1:, i]], axis=-1)[..., :, None]  # (..., m − i, 1)
        right = a[..., i:, i + 1:]                                       # (..., m − i, n − i − 1)
        projection = xp.swapaxes(v, -1, -2) @ right                      # vᵀ A (..., 1, n − i − 1)
        a[..., i:, i + 1:] = right - tau[..., i, None, None] * (v @ projection)
    return a, tau


def ormqr(input, tau, other, left: bool = True, transpose: bool = False):
    """op(Q) C (``left``) or C op(Q) (``left=False``), op(Q) = Qᵀ if ``transpose`` else Q,
    for C = ``other`` (..., m, n) and Q = H₁ ⋯ H_k the (mn, mn) product of the
    reflections stored in ``input`` (..., mn, k) and ``tau`` (..., k), mn = m (``left``) or
    n: ``geqrf``'s compact form (``torch.ormqr``, LAPACK's ormqr). Composed: Q is
    ``householder_product`` of ``input`` padded with zero columns to (mn, mn), then one
    matmul, so gradients reach ``input`` (below its diagonal), ``tau`` and ``other``."""
    input, other = _tensor(input, "ormqr"), _tensor(other, "ormqr")
    if other.ndim < 2 or input.ndim != other.ndim or input.shape[:-2] != other.shape[:-2]:
        raise ValueError(f"ormqr: expected input (..., mn, k) and other (..., m, n) with the "
                         f"same batch dims, got input {input.shape} and other {other.shape}")
    size = other.shape[-2] if left else other.shape[-1]
    if input.shape[-2] != size or input.shape[-1] > size:
        side = "rows (left=True)" if left else "columns (left=False)"
        raise ValueError(f"ormqr: input {input.shape} must have as many rows as other "
                         f"{other.shape} has {side}, {size}, and at most that many columns")
    xp = backend.xp_of(input.data)
    padding = xp.zeros(input.shape[:-1] + (size - input.shape[-1],), dtype=input.dtype)
    square = cat([input, constant(padding)], dim=-1)                     # (..., mn, mn)
    Q = linalg.householder_product(square, tau)                          # (..., mn, mn)
    if transpose:
        Q = Q.transpose(-2, -1)
    return matmul(Q, other) if left else matmul(other, Q)


# --- randomized low-rank SVD and PCA (Halko, Martinsson and Tropp, 2009) ---

def svd_lowrank(A, q: int = 6, niter: int = 2, M=None):
    """``(U, S, V)`` with A − M ≈ U diag(S) Vᵀ of rank q for A (..., m, n) (M: an optional
    mean, broadcast to A; ``torch.svd_lowrank``). Halko et al.'s Algorithm 5.1: Q, an
    orthonormal basis of the range of A − M (``_approximate_basis``), B = Qᵀ (A − M)
    (q, n), B = Û S Vᵀ, U = Q Û. A wide A is worked on as Aᵀ (U and V swap). Exact
    when rank(A − M) ≤ q. Random: seeded by ``tg.manual_seed``. Composed of matmul,
    ``linalg.qr`` and ``linalg.svd``, so gradients flow through it."""
    A = _tensor(A, "svd_lowrank")
    linalg._check_matrices("svd_lowrank", A, square=False)
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = _tensor(M, "svd_lowrank").broadcast_to(A.shape)
    if m < n:                                                           # work on the tall Aᵀ
        A = A.transpose(-2, -1)
        M = None if M is None else M.transpose(-2, -1)
    Q = _approximate_basis(A, q, niter, M)                               # (..., m, q)
    B = matmul(Q.transpose(-2, -1), A)                                   # (..., q, n)
    if M is not None:
        B = B - matmul(Q.transpose(-2, -1), M)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    U, V = matmul(Q, U), Vh.transpose(-2, -1)
    return (V, S, U) if m < n else (U, S, V)


def _approximate_basis(A, q: int, niter: int, M=None):
    """Q (..., m, q) with orthonormal columns whose span approximates the range of A − M:
    Halko et al.'s randomized range finder with ``niter`` subspace iterations
    (Algorithm 4.4). Y = (A − M) Ω for a Gaussian Ω (n, q), Q = qr(Y).Q; then ``niter``
    times Q = qr((A − M)ᵀ Q).Q, Q = qr((A − M) Q).Q: each pass sharpens the gap between
    the singular values kept and those dropped."""

    def times(X, transposed: bool = False):
        """(A − M) X, or (A − M)ᵀ X."""
        matrix = A.transpose(-2, -1) if transposed else A
        product = matmul(matrix, X)
        if M is not None:
            product = product - matmul(M.transpose(-2, -1) if transposed else M, X)
        return product

    omega = randn(A.shape[-1], q, dtype=A.dtype, device=A.device)        # Ω (n, q)
    Q = linalg.qr(times(omega)).Q
    for _ in range(niter):
        Q = linalg.qr(times(Q, transposed=True)).Q
        Q = linalg.qr(times(Q)).Q
    return Q


def pca_lowrank(A, q: int = None, center: bool = True, niter: int = 2):
    """``(U, S, V)``: the principal components of the rows of A (..., m, n)
    (``torch.pca_lowrank``): ``svd_lowrank`` of A − C, C the mean of the rows (the
    column means) when ``center``, else of A. q (the rank; min(6, m, n) by default) must
    be in [0, min(m, n)]. The variances along the components are S² / (m − 1)."""
    A = _tensor(A, "pca_lowrank")
    linalg._check_matrices("pca_lowrank", A, square=False)
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not 0 <= q <= min(m, n):
        raise ValueError(f"pca_lowrank: q(={q}) must be non-negative integer and not greater "
                         f"than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"pca_lowrank: niter(={niter}) must be non-negative integer")
    if center:
        A = A - A.mean(dim=-2, keepdim=True)                            # (..., m, n) centred
    return svd_lowrank(A, q, niter=niter)


# --- the multidimensional histogram ---

def histogramdd(input, bins, *, range=None, weight=None, density: bool = False):
    """``(hist, bin_edges)``: the counts (or summed ``weight``s) of the N points of ``input``
    (..., D) (its last dim the D coordinates) in a D-dimensional grid of bins
    (``torch.histogramdd``). ``bins``: an int (that many equal bins along each dim), D
    ints, or D 1-D tensors of increasing edges. ``range``: 2·D floats [low₀, high₀, low₁,
    ...] for counted bins (the data's min and max by default; a single value v gives
    [v − 0.5, v + 0.5], as NumPy). Each bin holds [left, right), the last of each dim
    [left, right]; points outside are dropped. ``weight`` (...): one per point. Edge
    tensors and ``weight`` must have input's dtype (as PyTorch).
    ``density``: counts / (total · bin volume). hist (D dims) and the D edge tensors in
    input's dtype, no gradient. The counting is the array module's ``histogramdd``."""
    x = _tensor(input, "histogramdd")
    if not backend.is_floating(x.dtype) or x.ndim < 2:
        raise TypeError(f"histogramdd: expected a floating-point tensor of at least 2 dims "
                        f"(..., D), got {x.dtype} of shape {x.shape}")
    dims = x.shape[-1]
    points = x.data.reshape(-1, dims)                                   # (N, D)
    edges = _histogramdd_bins(bins, dims, x)
    ranges = _histogramdd_ranges(range, dims)
    weights = None
    if weight is not None:
        if not isinstance(weight, tensor_module.Tensor) or weight.shape != x.shape[:-1]:
            raise ValueError(f"histogramdd: weight must be a tensor of shape {x.shape[:-1]} "
                             f"(one per point), got {getattr(weight, 'shape', weight)}")
        if weight.dtype != x.dtype:
            raise TypeError(f"histogramdd: weight of dtype {weight.dtype} for input of dtype "
                            f"{x.dtype}; they must be the same")
        weights = weight.data.reshape(-1)
    xp = backend.xp_of(x.data)
    try:
        hist, edges = xp.histogramdd(points, bins=edges, range=ranges, weights=weights,
                                     density=density)
    except ValueError as error:  # e.g. NaN or inf among the points, with no range
        raise ValueError(f"histogramdd: {error}") from None
    return HistogramddResult(constant(hist.astype(x.dtype)),
                             [constant(edge.astype(x.dtype)) for edge in edges])


def _histogramdd_bins(bins, dims: int, x):
    """``bins`` as the array module's histogramdd takes them: D ints or D edge arrays."""
    if isinstance(bins, int) and not isinstance(bins, bool):
        bins = [bins] * dims
    if not isinstance(bins, (list, tuple)) or len(bins) != dims:
        raise ValueError(f"histogramdd: bins must be an int, {dims} ints or {dims} tensors of "
                         f"edges (one per dim of the points), got {bins!r}")
    if all(isinstance(count, int) and not isinstance(count, bool) and count > 0
           for count in bins):
        return list(bins)
    for edge in bins:
        if not isinstance(edge, tensor_module.Tensor) or edge.ndim != 1 or edge.shape[0] < 2 \
                or edge.device != x.device:
            raise ValueError(f"histogramdd: bins must be ints > 0 or 1-D tensors of at least 2 "
                             f"edges on '{x.device}', got {bins!r}")
    for dim, edge in enumerate(bins):
        if edge.dtype != x.dtype:
            raise TypeError(f"histogramdd: bin edges for dim {dim} of dtype {edge.dtype} for "
                            f"input of dtype {x.dtype}; they must be the same")
    return [edge.data for edge in bins]


def _histogramdd_ranges(range, dims: int):
    """PyTorch's flat ``range`` [low₀, high₀, low₁, high₁, ...] as D (low, high) pairs."""
    if range is None:
        return None
    bounds = [float(bound) for bound in range]
    if len(bounds) != 2 * dims:
        raise ValueError(f"histogramdd: range must hold 2 numbers per dim ({2 * dims}), "
                         f"got {range!r}")
    pairs = list(zip(bounds[::2], bounds[1::2]))
    for low, high in pairs:
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(f"histogramdd: each range must be finite with min <= max, got "
                             f"{range!r}")
    return pairs
