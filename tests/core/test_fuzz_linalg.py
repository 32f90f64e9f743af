"""Randomized (hypothesis) checks of ``tg.linalg`` against ``numpy.linalg`` and PyTorch's
documented semantics, on shapes the table tests (test_linalg*.py) do not reach: random
square / tall / wide sizes, batch dims that broadcast between operands, 0-sized batches
and 0 × n matrices, every flag combination (left, upper, unitriangular, adjoint, UPLO,
full_matrices, mode, driver, hermitian, keepdim, dim orders), float32 in / float32 out,
first and second derivatives against central differences (float64) on gauge-invariant
losses for the decompositions (S, U S² Vᵀ, U Uᵀ, V S Vᵀ; eigenvalues and V D Vᵀ), and the
errors PyTorch raises for singular / non-square / not positive-definite input.

Decompositions are checked by invariants, not by LAPACK's signs: Q, U, V orthonormal,
R upper triangular, A = Q R = U S Vᵀ = P L U, eigenvectors up to sign.

Run more examples with ``FUZZ_LINALG_EXAMPLES=N`` (default 4 per test, 2 per gradient
case; the file runs in a few seconds by default), and new draws with
``HYPOTHESIS_PROFILE=explore``.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_linalg import invertible, positive_definite  # the well-conditioned draws
from fuzzing import DERANDOMIZE, examples, fuzz_settings

linalg = tg.linalg
EXAMPLES = examples("FUZZ_LINALG_EXAMPLES", 4)
FUZZ = fuzz_settings(EXAMPLES)
INF = math.inf


# --- shapes and matrices ---

batches = st.lists(st.integers(1, 2), min_size=0, max_size=2).map(tuple)
batches_with_empty = st.lists(st.integers(0, 2), min_size=0, max_size=2).map(tuple)
sizes = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


def broadcast_partner(data, batch):
    """Batch dims that broadcast with ``batch``: leading dims dropped, some set to 1."""
    drop = data.draw(st.integers(0, len(batch)), label="drop")
    return tuple(1 if data.draw(st.booleans(), label="one") else size
                 for size in batch[drop:])




def orthogonal(rng, shape):
    q, r = np.linalg.qr(rng.standard_normal(shape))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def spread_symmetric(rng, shape):
    """Q diag(λ) Qᵀ with eigenvalues ≥ 0.7 apart and ≥ 0.35 from 0 (either sign)."""
    n = shape[-1]
    q = orthogonal(rng, shape)
    values = (np.arange(n) - (n - 1) / 2) * 1.4 + rng.uniform(-0.1, 0.1, shape[:-1])
    values = np.where(np.abs(values) < 0.35, 0.35 * np.sign(values + 1e-9), values)
    return (q * values[..., None, :]) @ np.swapaxes(q, -1, -2)


def gapped(rng, shape):
    """U diag(s) Vᵀ with singular values 1, 1.7, 2.4, ... (+ noise): full rank, no ties."""
    m, n = shape[-2:]
    k = min(m, n)
    u, v = orthogonal(rng, shape[:-2] + (m, m)), orthogonal(rng, shape[:-2] + (n, n))
    s = 1 + 0.7 * np.arange(k) + rng.uniform(0, 0.1, shape[:-2] + (k,))
    return (u[..., :k] * s[..., None, :]) @ np.swapaxes(v[..., :k], -1, -2)


def tensor(array, device="cpu", grad=False, dtype=tg.float64):
    return tg.tensor(np.ascontiguousarray(array), dtype=dtype, device=device,
                     requires_grad=grad)


def close(got, expected, tol=1e-9):
    got = got.numpy() if isinstance(got, tg.Tensor) else np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def T(a):
    return np.swapaxes(a, -1, -2)


def eye_like(a):
    return np.broadcast_to(np.eye(a.shape[-1]), a.shape[:-2] + (a.shape[-1],) * 2)


def solve_ref(a, b):
    """A⁻¹ B on broadcast batches, by np.linalg.solve (a matrix right-hand side)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]),
                           np.broadcast_to(b, batch + b.shape[-2:]))


# --- forward values: square functions ---

@FUZZ
@given(data=st.data())
def test_square_functions_match_numpy(device, data):
    batch, n = data.draw(batches_with_empty), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    a = invertible(rng, batch + (n, n))
    A = tensor(a, device)
    close(linalg.det(A), np.linalg.det(a))
    sign, logabsdet = linalg.slogdet(A)
    ref_sign, ref_log = np.linalg.slogdet(a)
    close(sign, ref_sign)
    close(logabsdet, ref_log)
    close(linalg.logdet(A), np.where(ref_sign > 0, ref_log, np.nan))
    close(linalg.inv(A), np.linalg.inv(a))
    inverse, info = linalg.inv_ex(A)
    close(inverse, np.linalg.inv(a))
    assert info.dtype == tg.int32 and info.shape == batch and not info.numpy().any()
    power = data.draw(st.integers(-3, 4))
    close(linalg.matrix_power(A, power), np.linalg.matrix_power(a, power), 1e-8)
    # exp(A): the Taylor series in plain NumPy (‖A‖ ≤ 1.3·√n·2 here: 60 terms are exact)
    scaled = 2 * a
    term, series = eye_like(scaled), eye_like(scaled).copy()
    for j in range(1, 60):
        term = term @ scaled / j
        series = series + term
    close(linalg.matrix_exp(tensor(scaled, device)), series, 1e-10)


@FUZZ
@given(data=st.data())
def test_matrix_exp_of_symmetric_and_skew_matrices(device, data):
    """exp(Q Λ Qᵀ) = Q e^Λ Qᵀ at norms up to ~40 (many squarings); exp(skew) is orthogonal."""
    batch, n = data.draw(batches), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    scale = data.draw(st.floats(1e-3, 20.0))
    m = rng.standard_normal(batch + (n, n)) * scale / math.sqrt(n)
    sym = m + T(m)
    w, v = np.linalg.eigh(sym)
    expected = (v * np.exp(w)[..., None, :]) @ T(v)
    got = linalg.matrix_exp(tensor(sym, device)).numpy()
    assert np.abs(got - expected).max() <= 1e-11 * np.abs(expected).max()
    rotation = linalg.matrix_exp(tensor(m - T(m), device)).numpy()
    close(rotation @ T(rotation), eye_like(rotation), 1e-10)


# --- forward values: systems of equations ---

@FUZZ
@given(data=st.data())
def test_solve_with_broadcast_batches_and_vectors(device, data):
    batch, n, k = data.draw(batches_with_empty), data.draw(sizes), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    a_batch, b_batch = batch, broadcast_partner(data, batch)
    if data.draw(st.booleans(), label="swap"):
        a_batch, b_batch = b_batch, a_batch
    a = invertible(rng, a_batch + (n, n))
    A = tensor(a, device)
    b = rng.standard_normal(b_batch + (n, k))
    if b.ndim == a.ndim - 1 and b.shape == a.shape[:-1]:     # PyTorch reads it as vectors
        close(linalg.solve(A, tensor(b, device)), solve_ref(a, b[..., None])[..., 0])
    else:
        close(linalg.solve(A, tensor(b, device)), solve_ref(a, b))
    # X A = B  <=>  Aᵀ Xᵀ = Bᵀ (B a matrix (..., k, n) that PyTorch does not read as vectors)
    b_right = rng.standard_normal(b_batch + (k, n))
    is_vector = b_right.ndim == a.ndim - 1 and b_right.shape == a.shape[:-1]
    if not is_vector:
        close(linalg.solve(A, tensor(b_right, device), left=False),
              T(solve_ref(T(a), T(b_right))))
    # vectors: B 1-D, or B of A's shape without its last dim (PyTorch's rule)
    vector = rng.standard_normal((n,))
    close(linalg.solve(A, tensor(vector, device)), solve_ref(a, vector[:, None])[..., 0])
    vectors = rng.standard_normal(a.shape[:-1])
    close(linalg.solve(A, tensor(vectors, device)), solve_ref(a, vectors[..., None])[..., 0])


@FUZZ
@given(data=st.data())
def test_triangular_and_factored_solves(device, data):
    batch, n, k = data.draw(batches_with_empty), data.draw(sizes), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    b_batch = broadcast_partner(data, batch)
    a = invertible(rng, batch + (n, n)) + rng.uniform(-1, 1, batch + (n, n))  # noise off-diag
    a = a - np.eye(n) * a + np.eye(n) * invertible(rng, batch + (n, n))       # |diag| ≥ 0.7
    A = tensor(a, device)
    for upper, left, unit in itertools.product([False, True], repeat=3):
        tri = np.triu(a) if upper else np.tril(a)
        if unit:
            tri = tri - tri * np.eye(n) + np.eye(n)
        b = rng.standard_normal(b_batch + ((n, k) if left else (k, n)))
        got = linalg.solve_triangular(A, tensor(b, device), upper=upper, left=left,
                                      unitriangular=unit)
        close(got, solve_ref(tri, b) if left else T(solve_ref(T(tri), T(b))), 1e-8)
    # LU: P L U = A, then lu_solve in its four modes
    LU, pivots = linalg.lu_factor(A)
    assert pivots.dtype == tg.int32 and pivots.shape == batch + (n,)
    for left, adjoint in itertools.product([True, False], repeat=2):
        b = rng.standard_normal(b_batch + ((n, k) if left else (k, n)))
        op = T(a) if adjoint else a
        expected = solve_ref(op, b) if left else T(solve_ref(T(op), T(b)))
        close(linalg.lu_solve(LU, pivots, tensor(b, device), left=left, adjoint=adjoint),
              expected, 1e-8)
    # Cholesky factor: cholesky_solve, cholesky_inverse, both triangles
    spd = positive_definite(rng, batch + (n, n))
    lower = np.linalg.cholesky(spd)
    b = rng.standard_normal(b_batch + (n, k))
    for upper in (False, True):
        factor = tensor(T(lower) if upper else lower, device)
        close(linalg.cholesky_solve(tensor(b, device), factor, upper=upper), solve_ref(spd, b))
        close(linalg.cholesky_inverse(factor, upper=upper), np.linalg.inv(spd))


# --- forward values: decompositions, by their invariants ---

@FUZZ
@given(data=st.data())
def test_rectangular_decompositions_by_invariants(device, data):
    batch = data.draw(batches_with_empty)
    m, n = data.draw(st.integers(0, 4)), data.draw(st.integers(0, 4))
    k = min(m, n)
    rng = np.random.default_rng(data.draw(seeds))
    a = rng.standard_normal(batch + (m, n))
    A = tensor(a, device)
    values = np.linalg.svd(a, compute_uv=False) if a.size else np.zeros(batch + (k,))
    for full in (True, False):
        U, S, Vh = (x.numpy() for x in linalg.svd(A, full_matrices=full))
        assert U.shape == batch + (m, m if full else k)
        assert Vh.shape == batch + (n if full else k, n)
        close(S, values)
        close(T(U) @ U, eye_like(T(U) @ U))
        close(Vh @ T(Vh), eye_like(Vh @ T(Vh)))
        close((U[..., :k] * S[..., None, :]) @ Vh[..., :k, :], a)
    close(linalg.svdvals(A), values)
    for mode in ("reduced", "complete", "r"):
        Q, R = linalg.qr(A, mode=mode)
        rows = m if mode == "complete" else k
        assert R.shape == batch + (rows, n)
        close(R, np.triu(R.numpy()), 0)
        if mode == "r":
            assert Q.shape == (0,)
            continue
        q = Q.numpy()
        assert q.shape == batch + (m, rows)
        close(T(q) @ q, eye_like(T(q) @ q))
        close(q @ R.numpy(), a)
    P, L, Uf = (x.numpy() for x in linalg.lu(A))
    assert P.shape == batch + (m, m) and L.shape == batch + (m, k) and Uf.shape == batch + (k, n)
    close(L, np.tril(L), 0)
    close(np.diagonal(L, axis1=-2, axis2=-1), np.ones(batch + (k,)), 0)
    close(Uf, np.triu(Uf), 0)
    close(P @ L @ Uf, a)
    close(np.abs(L), np.minimum(np.abs(L), 1))                 # partial pivoting: |l_ij| ≤ 1
    LU, pivots, info = linalg.lu_factor_ex(A)
    assert LU.shape == a.shape and pivots.shape == batch + (k,) and info.shape == batch
    # pseudo-inverse and rank, rank made deficient in some matrices
    deficient = a.copy()
    if m >= 2 and n >= 1:
        deficient[..., -1, :] = 2 * deficient[..., 0, :]
    D = tensor(deficient, device)
    pinv = linalg.pinv(D).numpy()
    assert pinv.shape == batch + (n, m)
    close(deficient @ pinv @ deficient, deficient, 1e-8)          # Moore-Penrose conditions
    close(pinv @ deficient @ pinv, pinv, 1e-8)
    close(T(deficient @ pinv), deficient @ pinv, 1e-8)
    close(T(pinv @ deficient), pinv @ deficient, 1e-8)
    if a.size:
        close(pinv, np.linalg.pinv(deficient), 1e-8)
    ref_rank = (np.linalg.matrix_rank(deficient) if deficient.size
                else np.zeros(batch, dtype=np.int64))
    rank = linalg.matrix_rank(D)
    assert rank.dtype == tg.int64
    close(rank, ref_rank, 0)


@FUZZ
@given(data=st.data())
def test_lstsq_shapes_drivers_and_values(device, data):
    batch = data.draw(batches)
    m, n, k = data.draw(st.integers(0, 5)), data.draw(st.integers(0, 4)), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    a = gapped(rng, batch + (m, n)) if m and n else np.zeros(batch + (m, n))
    # PyTorch's rule: B one dim shorter than A is a batch of vectors, with A's batch dims
    # exactly; B of A's ndim is (..., m, k), batch dims broadcast
    vector = data.draw(st.booleans(), label="vector")
    b_batch = broadcast_partner(data, batch)
    b_batch = batch if vector else (1,) * (len(batch) - len(b_batch)) + b_batch
    b = rng.standard_normal(b_batch + ((m,) if vector else (m, k)))
    driver = data.draw(st.sampled_from([None, "gels", "gelsy", "gelsd", "gelss"]))
    assume(driver != "gels" or m >= n)                 # gels assumes A of full rank
    result = linalg.lstsq(tensor(a, device), tensor(b, device), driver=driver)
    bm = b[..., None] if vector else b
    solution = np.linalg.pinv(a) @ bm if a.size else np.zeros(
        np.broadcast_shapes(batch, b_batch) + (n, bm.shape[-1]))
    close(result.solution, solution[..., 0] if vector else solution, 1e-8)
    # as PyTorch on the CPU: which outputs each driver fills
    by_svd = driver in ("gelsd", "gelss")
    if by_svd or driver in (None, "gelsy"):
        close(result.rank, np.full(batch, min(m, n)), 0)
    else:
        assert result.rank.shape == (0,)
    if m > n and (driver == "gels" or by_svd):
        close(result.residuals, ((a @ solution - bm) ** 2).sum(-2), 1e-8)
    else:
        assert result.residuals.shape == (0,)
    if by_svd:
        close(result.singular_values, np.linalg.svd(a, compute_uv=False) if a.size
              else np.zeros(batch + (0,)))
    else:
        assert result.singular_values.shape == (0,)


@FUZZ
@given(data=st.data())
def test_symmetric_decompositions(device, data):
    batch, n = data.draw(batches_with_empty), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    spd = positive_definite(rng, batch + (n, n))
    noise = np.triu(rng.standard_normal(spd.shape), 1)       # strictly upper: never read
    ref = np.linalg.cholesky(spd)
    for upper in (False, True):
        # as PyTorch (potrf 'L' / 'U'): upper=False reads the lower triangle, upper=True
        # the upper one; the other triangle may hold anything
        read = np.triu(spd) + T(noise) if upper else np.tril(spd) + noise
        close(linalg.cholesky(tensor(read, device), upper=upper), T(ref) if upper else ref)
        L, info = linalg.cholesky_ex(tensor(read, device), upper=upper)
        close(L, T(ref) if upper else ref)
        close(info, np.zeros(batch, dtype=np.int32), 0)
    sym = spread_symmetric(rng, batch + (n, n))
    values = np.linalg.eigvalsh(sym) if sym.size else np.zeros(batch + (n,))
    for uplo in ("L", "U", "l", "u"):
        read = np.triu(sym) + T(noise) if uplo in "Uu" else np.tril(sym) + noise
        w, v = linalg.eigh(tensor(read, device), UPLO=uplo)
        close(w, values)
        v = v.numpy()
        close(T(v) @ v, eye_like(v))
        close((v * w.numpy()[..., None, :]) @ T(v), sym)
        close(linalg.eigvalsh(tensor(read, device), UPLO=uplo), values)
    # hermitian=True: eigh of the lower triangle (PyTorch's pinv and matrix_rank)
    lower_read = tensor(np.tril(sym) + noise, device)
    close(linalg.pinv(lower_read, hermitian=True), np.linalg.inv(sym), 1e-8)
    close(linalg.matrix_rank(lower_read, hermitian=True), np.full(batch, n), 0)
    w_all, v_all = np.linalg.eigh(sym)                            # one eigenvalue set to 0
    w_all[..., 0] = 0.0
    singular = (v_all * w_all[..., None, :]) @ T(v_all)
    kept = np.where(np.arange(n) == 0, 0.0, 1 / np.where(np.arange(n) == 0, 1, w_all))
    close(linalg.pinv(tensor(singular, device), hermitian=True),
          (v_all * kept[..., None, :]) @ T(v_all), 1e-8)
    close(linalg.matrix_rank(tensor(singular, device), hermitian=True),
          np.full(batch, n - 1), 0)


# --- forward values: norms, condition numbers, products ---

VECTOR_ORDS = [2, 1, INF, -INF, 0, 3, 0.5, -1, -2.5, 1.5, 4]
MATRIX_ORDS = ["fro", "nuc", 2, -2, 1, -1, INF, -INF]


def vector_norm_ref(x, p, dims, keepdim):
    magnitude = np.abs(x)
    if p == INF:
        return magnitude.max(axis=dims, keepdims=keepdim)
    if p == -INF:
        return magnitude.min(axis=dims, keepdims=keepdim)
    if p == 0:
        return (x != 0).sum(axis=dims, keepdims=keepdim).astype(x.dtype)
    with np.errstate(divide="ignore"):
        return (magnitude ** p).sum(axis=dims, keepdims=keepdim) ** (1 / p)


def matrix_norm_ref(a, p, dims, keepdim):
    """From the definitions (not np.linalg.norm): singular values or abs-sums."""
    rows, columns = (d % a.ndim for d in dims)
    moved = np.moveaxis(a, (rows, columns), (-2, -1))
    if p == "fro":
        out = np.sqrt((moved ** 2).sum((-2, -1)))
    elif p in ("nuc", 2, -2):
        s = np.linalg.svd(moved, compute_uv=False)
        out = s.sum(-1) if p == "nuc" else s.max(-1) if p == 2 else s.min(-1)
    else:
        sums = np.abs(moved).sum(-2 if abs(p) == 1 else -1)   # column sums / row sums
        out = sums.max(-1) if p > 0 else sums.min(-1)
    if keepdim:
        out = np.expand_dims(out, tuple(sorted((rows, columns))))
    return out


@FUZZ
@given(data=st.data())
def test_vector_and_matrix_norms(device, data):
    batch = data.draw(batches)
    m, n = data.draw(sizes), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    x = rng.standard_normal(batch + (m, n))
    x[rng.uniform(size=x.shape) < 0.1] = 0.0
    X = tensor(x, device)
    ndim = x.ndim
    p = data.draw(st.sampled_from(VECTOR_ORDS))
    keepdim = data.draw(st.booleans())
    dim = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                              st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                       unique=True).map(tuple)))
    dims = dim if dim is None or isinstance(dim, tuple) else (dim,)
    dims = None if dims is None else tuple(d % ndim for d in dims)
    expected = vector_norm_ref(x, p, dims, keepdim)
    close(linalg.vector_norm(X, p, dim, keepdim), expected, 1e-10)
    if dim is not None and len(dims) == 1:
        close(linalg.norm(X, p, dim, keepdim), expected, 1e-10)
    close(linalg.vector_norm(tensor(x, device, dtype=tg.float32), p, dim, keepdim,
                             dtype=tg.float64), vector_norm_ref(x.astype(np.float32)
                                                                .astype(np.float64), p,
                                                                dims, keepdim), 1e-10)
    q = data.draw(st.sampled_from(MATRIX_ORDS))
    pair = tuple(data.draw(st.permutations(range(-ndim, 0)))[:2])
    close(linalg.matrix_norm(X, q, pair, keepdim), matrix_norm_ref(x, q, pair, keepdim),
          1e-10)
    close(linalg.norm(X, q, pair, keepdim), matrix_norm_ref(x, q, pair, keepdim), 1e-10)
    close(linalg.norm(X, None, pair, keepdim),
          vector_norm_ref(x, 2, tuple(d % ndim for d in pair), keepdim), 1e-10)
    if ndim == 2:
        close(linalg.norm(X, q), matrix_norm_ref(x, q, (0, 1), False), 1e-10)
    close(linalg.norm(X), np.sqrt((x ** 2).sum()), 1e-10)


@FUZZ
@given(data=st.data())
def test_condition_numbers(device, data):
    batch, n = data.draw(batches_with_empty), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    a = invertible(rng, batch + (n, n)) * rng.uniform(0.5, 3, batch + (n, 1))
    A = tensor(a, device)
    inverse = np.linalg.inv(a)
    for p in (None, 2, -2, "fro", "nuc", 1, -1, INF, -INF):
        q = 2 if p is None else p
        if q in (2, -2):
            s = np.linalg.svd(a, compute_uv=False) if a.size else np.zeros(batch + (n,))
            expected = s[..., 0] / s[..., -1] if q == 2 else s[..., -1] / s[..., 0]
        else:
            expected = (matrix_norm_ref(a, q, (-2, -1), False) *
                        matrix_norm_ref(inverse, q, (-2, -1), False)) if a.size else \
                np.zeros(batch)
        close(linalg.cond(A, p), expected, 1e-9)
    if n >= 2:                                                    # singular: inf (PyTorch)
        a[..., -1, :] = 0.0                                       # an exactly zero pivot
        for p in ("fro", "nuc", 1, -1, INF, -INF):
            assert np.isinf(linalg.cond(tensor(a, device), p).numpy()).all()


@FUZZ
@given(data=st.data())
def test_products(device, data):
    batch = data.draw(batches_with_empty)
    rng = np.random.default_rng(data.draw(seeds))
    dim = data.draw(st.integers(0, len(batch)))
    shape = batch[:dim] + (3,) + batch[dim:]
    other = tuple(1 if s != 3 and data.draw(st.booleans()) else s for s in shape)
    other = other[:dim] + (3,) + other[dim + 1:]
    x, y = rng.standard_normal(shape), rng.standard_normal(other)
    close(linalg.cross(tensor(x, device), tensor(y, device), dim=dim),
          np.cross(x, y, axis=dim), 1e-12)
    # vecdot broadcasts every dim, ``dim`` too (PyTorch: (x * y).sum(dim))
    z = rng.standard_normal(other[:dim] + (1,) + other[dim + 1:])
    close(linalg.vecdot(tensor(x, device), tensor(z, device), dim=dim),
          (x * z).sum(dim), 1e-12)
    close(linalg.vecdot(tensor(x, device), tensor(y, device), dim=dim - len(shape)),
          (x * y).sum(dim), 1e-12)
    # multi_dot: a chain with a vector at either end
    sizes_ = [data.draw(sizes) for _ in range(data.draw(st.integers(3, 5)))]
    chain = [rng.standard_normal((p, q)) for p, q in zip(sizes_, sizes_[1:])]
    first_vector, last_vector = data.draw(st.booleans()), data.draw(st.booleans())
    if first_vector:
        chain[0] = chain[0][0]
    if last_vector:
        chain[-1] = chain[-1][:, 0]
    expected = chain[0]
    for c in chain[1:]:
        expected = expected @ c
    close(linalg.multi_dot([tensor(c, device) for c in chain]), expected, 1e-12)
    v = rng.standard_normal(batch + (data.draw(sizes),))
    N = data.draw(st.integers(2, 5))                  # PyTorch: N must be greater than 1
    close(linalg.vander(tensor(v, device), N=N), v[..., None] ** np.arange(N), 1e-12)
    # tensorinv / tensorsolve: a 6 × 6 invertible matrix seen as (2, 3, 6) / (6, 3, 2) etc.
    a = invertible(rng, (6, 6))
    close(linalg.tensorinv(tensor(a.reshape(2, 3, 6), device), ind=2),
          np.linalg.inv(a).reshape(6, 2, 3), 1e-10)
    b = rng.standard_normal((2, 3))
    close(linalg.tensorsolve(tensor(a.reshape(2, 3, 3, 2), device), tensor(b, device)),
          np.linalg.solve(a, b.ravel()).reshape(3, 2), 1e-10)


def test_vecdot_broadcasts_along_dim_as_pytorch(device):
    # PyTorch: linalg.vecdot(x, y, dim) = (x * y).sum(dim) after broadcasting; we raised.
    x = np.arange(6.0).reshape(2, 3)
    close(linalg.vecdot(tensor(x, device), tensor(np.array([1.0, 2, 3]), device), dim=0),
          x.sum(0) * np.array([1.0, 2, 3]), 0)
    close(linalg.vecdot(tensor(x, device), tensor(np.array([[2.0], [3.0]]), device)),
          np.array([6.0, 36.0]), 0)
    with pytest.raises(ValueError, match="linalg.vecdot"):
        linalg.vecdot(tensor(x, device), tensor(np.ones((2, 2)), device))


def test_empty_matrices_give_empty_results_as_pytorch(device):
    # These crashed with NumPy's "zero-size array to reduction" (matrix_exp, pinv,
    # matrix_rank, lstsq) or "argmax of an empty sequence" (lu_factor).
    for shape in [(0, 3, 3), (2, 0, 0)]:
        A = tensor(np.zeros(shape), device, grad=True)
        Y = linalg.matrix_exp(A)
        assert Y.shape == shape
        Y.sum().backward()
        assert A.grad.shape == shape
    for shape in [(2, 3, 0), (2, 0, 3), (2, 0, 0)]:
        A = tensor(np.zeros(shape), device)
        assert linalg.pinv(A).shape == shape[:-2] + shape[:-3:-1]
        close(linalg.matrix_rank(A), np.zeros(2, dtype=np.int64), 0)
        LU, pivots, info = linalg.lu_factor_ex(A)
        assert LU.shape == shape and pivots.shape == (2, 0) and info.shape == (2,)
    assert linalg.pinv(tensor(np.zeros((2, 0, 0)), device), hermitian=True).shape == (2, 0, 0)
    result = linalg.lstsq(tensor(np.zeros((0, 3)), device), tensor(np.zeros((0, 2)), device))
    close(result.solution, np.zeros((3, 2)), 0)                 # m = 0: X = 0, as PyTorch
    result = linalg.lstsq(tensor(np.zeros((4, 0)), device), tensor(np.ones((4, 2)), device),
                          driver="gelsd")
    assert result.solution.shape == (0, 2)
    close(result.residuals, np.full(2, 4.0), 0)                # ‖B‖² down each column


# --- dtypes and errors ---

FLOAT32_CASES = {
    "det": lambda a, s, r: linalg.det(a), "slogdet": lambda a, s, r: linalg.slogdet(a),
    "inv": lambda a, s, r: linalg.inv(a), "solve": lambda a, s, r: linalg.solve(a, s),
    "solve_triangular": lambda a, s, r: linalg.solve_triangular(a, s, upper=True),
    "cholesky": lambda a, s, r: linalg.cholesky(s), "eigh": lambda a, s, r: linalg.eigh(s),
    "svd": lambda a, s, r: linalg.svd(r), "qr": lambda a, s, r: linalg.qr(r),
    "pinv": lambda a, s, r: linalg.pinv(r), "lstsq": lambda a, s, r: linalg.lstsq(r, r),
    "lu": lambda a, s, r: linalg.lu(a), "lu_factor": lambda a, s, r: linalg.lu_factor(a)[:1],
    "matrix_exp": lambda a, s, r: linalg.matrix_exp(a), "cond": lambda a, s, r: linalg.cond(a),
    "norm_nuc": lambda a, s, r: linalg.matrix_norm(r, "nuc"),
    "vector_norm": lambda a, s, r: linalg.vector_norm(r, 3.5),
    "cholesky_ex": lambda a, s, r: linalg.cholesky_ex(s)[:1],
    "inv_ex": lambda a, s, r: linalg.inv_ex(a)[:1],
}


@FUZZ
@given(name=st.sampled_from(sorted(FLOAT32_CASES)), data=st.data())
def test_float32_in_float32_out_and_gradients(name, data):
    batch, n, m = data.draw(batches), data.draw(sizes), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    inputs = [tensor(x, grad=True, dtype=tg.float32) for x in
              (invertible(rng, batch + (n, n)), positive_definite(rng, batch + (n, n)),
               gapped(rng, batch + (n + m, n)))]
    outputs = FLOAT32_CASES[name](*inputs)
    outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
    floats = [o for o in outputs if o.dtype != tg.int64]
    assert all(o.dtype == tg.float32 for o in floats), [o.dtype for o in outputs]
    loss = sum((o * o).sum() for o in floats if o.requires_grad)
    loss.backward()
    for x in inputs:
        assert x.grad is None or x.grad.dtype == tg.float32


def _singular(rng, shape):
    """Rows mixed at random, one row zero: LU meets an exactly zero pivot (a repeated row
    may leave a rounding error in LAPACK's pivot instead), at the last step."""
    a = invertible(rng, shape)
    a[..., -1, :] = 0.0
    return a[..., rng.permutation(shape[-1]), :]


@FUZZ
@given(data=st.data())
def test_errors_where_pytorch_raises(device, data):
    batch, n = data.draw(batches), data.draw(st.integers(2, 4))
    rng = np.random.default_rng(data.draw(seeds))
    good = invertible(rng, batch + (n, n))
    bad = good.copy()
    index = tuple(data.draw(st.integers(0, s - 1)) for s in batch)
    bad[index] = _singular(rng, (n, n))                          # one singular matrix
    B = tensor(rng.standard_normal(batch + (n, 1)), device)
    for call in (lambda a: linalg.inv(a), lambda a: linalg.solve(a, B),
                 lambda a: linalg.matrix_power(a, -2), lambda a: linalg.inv_ex(a,
                                                                             check_errors=True)):
        with pytest.raises(linalg.LinAlgError, match="linalg.(inv|solve|inv_ex)"):
            call(tensor(bad, device))
    inverse, info = linalg.inv_ex(tensor(bad, device))
    expected_info = np.zeros(batch, dtype=np.int32)
    expected_info[index] = n                                     # U's last pivot is 0
    close(info, expected_info, 0)
    assert np.isnan(inverse.numpy()[index]).all()
    with pytest.raises(linalg.LinAlgError, match="lu_factor_ex"):
        linalg.lu_factor_ex(tensor(bad, device), check_errors=True)
    # not positive-definite: the leading minor of order j fails
    spd = positive_definite(rng, batch + (n, n))
    j = data.draw(st.integers(1, n))
    spd[index + (j - 1, j - 1)] = -1.0
    spd[index][j - 1, :j - 1] = 0.0
    spd[index][:j - 1, j - 1] = 0.0
    with pytest.raises(linalg.LinAlgError, match="linalg.cholesky"):
        linalg.cholesky(tensor(spd, device))
    with pytest.raises(linalg.LinAlgError, match="cholesky_ex"):
        linalg.cholesky_ex(tensor(spd, device), check_errors=True)
    expected_info[index] = j
    close(linalg.cholesky_ex(tensor(spd, device)).info, expected_info, 0)
    # non-square where a square matrix is needed
    rect = tensor(rng.standard_normal(batch + (n, n + 1)), device)
    for fn in (linalg.inv, linalg.det, linalg.slogdet, linalg.cholesky, linalg.eigh,
               linalg.matrix_exp, linalg.inv_ex, linalg.cholesky_ex,
               lambda a: linalg.pinv(a, hermitian=True), lambda a: linalg.cond(a, 1),
               lambda a: linalg.matrix_power(a, 2), lambda a: linalg.solve(a, B),
               lambda a: linalg.solve_triangular(a, B, upper=True)):
        with pytest.raises(ValueError, match="square"):
            fn(rect)
    # det / slogdet of the singular matrix: 0 and (0, -inf), no error
    close(linalg.det(tensor(bad, device)).numpy()[index], 0.0, 1e-12)
    sign, logabsdet = linalg.slogdet(tensor(bad, device))
    assert sign.numpy()[index] == 0 and logabsdet.numpy()[index] == -INF


# --- gradients: central differences (float64), first and second order ---

def sym(a):
    return (a + a.transpose(-2, -1)) * 0.5


def svd_invariants(full):
    """S, U S² Vᵀ... and U Uᵀ, V S Vᵀ: unchanged when a pair (u_i, v_i) flips sign."""
    def f(a):
        U, S, Vh = linalg.svd(a, full_matrices=full)
        k = S.shape[-1]
        u, vh = U[..., :k], Vh[..., :k, :]
        return S, (u * (S * S).unsqueeze(-2)) @ vh, u @ u.transpose(-2, -1), \
            vh.transpose(-2, -1) @ (vh * S.unsqueeze(-1))
    return f


def eigh_invariants(uplo):
    def f(a):
        w, v = linalg.eigh(a, UPLO=uplo)
        weights = tg.tensor(np.linspace(0.5, 1.5, w.shape[-1]), dtype=a.dtype)
        return w, (v * weights) @ v.transpose(-2, -1), (v * v).sum(-2)
    return f


def qr_parts(mode):
    def f(a):
        Q, R = linalg.qr(a, mode=mode)
        signs = tg.tensor(np.sign(np.diagonal(R.numpy(), axis1=-2, axis2=-1)), dtype=a.dtype)
        return Q * signs.unsqueeze(-2), R * signs.unsqueeze(-1)  # LAPACK's signs, kept fixed
    return f


def lu_solve_fn(left, adjoint):
    def f(a, b):
        LU, pivots = linalg.lu_factor(a)
        return linalg.lu_solve(LU, pivots, b, left=left, adjoint=adjoint)
    return f


SQUARE = "square"
# name: (domain of the first input, the function, shape of a second input, gradgradcheck?)
GRADIENT_CASES = {
    "det": (invertible, linalg.det, None, True),
    "slogdet": (invertible, lambda a: linalg.slogdet(a).logabsdet, None, True),
    "logdet": (positive_definite, linalg.logdet, None, True),
    "inv": (invertible, linalg.inv, None, True),
    "inv_ex": (invertible, lambda a: linalg.inv_ex(a).inverse, None, True),
    "solve": (invertible, linalg.solve, "rhs", True),
    "solve_vector": (invertible, linalg.solve, "vector", True),
    "solve_right": (invertible, lambda a, b: linalg.solve(a, b, left=False), "lhs", True),
    "cholesky": (positive_definite, lambda a: linalg.cholesky(sym(a)), None, True),
    "cholesky_upper": (positive_definite, lambda a: linalg.cholesky(sym(a), upper=True),
                       None, True),
    "cholesky_ex": (positive_definite, lambda a: linalg.cholesky_ex(sym(a)).L, None, True),
    "eigh_L": (spread_symmetric, lambda a: eigh_invariants("L")(sym(a)), None, True),
    "eigh_U": (spread_symmetric, lambda a: eigh_invariants("U")(sym(a)), None, True),
    "eigvalsh": (spread_symmetric, lambda a: linalg.eigvalsh(sym(a)), None, True),
    "svd_full": (gapped, svd_invariants(True), None, True),
    "svd_reduced": (gapped, svd_invariants(False), None, True),
    "svdvals": (gapped, linalg.svdvals, None, True),
    "qr_reduced": (gapped, qr_parts("reduced"), None, True),
    "pinv": (gapped, linalg.pinv, None, True),
    "pinv_hermitian": (spread_symmetric, lambda a: linalg.pinv(sym(a), hermitian=True),
                       None, True),
    "lstsq": (gapped, lambda a, b: linalg.lstsq(a, b).solution, "rows", True),
    "lstsq_gelsd_residuals": (gapped, lambda a, b: linalg.lstsq(
        a, b, driver="gelsd").residuals, "rows", True),
    "cond_2": (gapped, linalg.cond, None, False),
    "matrix_exp": (invertible, linalg.matrix_exp, None, True),
    "matrix_power": (invertible, lambda a: linalg.matrix_power(a, -3), None, True),
    "lu": (invertible, lambda a: [x for x in linalg.lu(a)[1:]], None, True),
    "lu_solve": (invertible, lu_solve_fn(True, False), "rhs", True),
    "lu_solve_adjoint_right": (invertible, lu_solve_fn(False, True), "lhs", True),
    "norm_nuc": (gapped, lambda a: linalg.matrix_norm(a, "nuc", keepdim=True), None, False),
    "norm_2": (gapped, lambda a: linalg.matrix_norm(a, 2, dim=(-1, -2)), None, False),
    "norm_-2": (gapped, lambda a: linalg.norm(a, -2, dim=(-2, -1)), None, False),
}
for _upper, _left, _unit in itertools.product([False, True], repeat=3):
    GRADIENT_CASES[f"solve_triangular_{_upper:d}{_left:d}{_unit:d}"] = (
        invertible, lambda a, b, u=_upper, le=_left, un=_unit: linalg.solve_triangular(
            a, b, upper=u, left=le, unitriangular=un), "rhs" if _left else "lhs", True)


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
@settings(max_examples=max(1, EXAMPLES // 2), deadline=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_gradients_on_random_shapes(name, data):
    domain, fn, second, second_order = GRADIENT_CASES[name]
    batch = data.draw(batches)
    n = data.draw(st.integers(1, 3))
    m = data.draw(st.integers(1, 4)) if domain is gapped else n
    if name == "lstsq_gelsd_residuals":
        m = n + data.draw(st.integers(1, 2))                  # residuals need m > n
    k = data.draw(st.integers(1, 2))
    rng = np.random.default_rng(data.draw(seeds))
    inputs = [tensor(domain(rng, batch + (m, n)), grad=True)]
    other = broadcast_partner(data, batch)
    if second == "rhs":
        inputs.append(tensor(rng.standard_normal(other + (n, k)), grad=True))
    elif second == "lhs":
        inputs.append(tensor(rng.standard_normal(other + (k, n)), grad=True))
    elif second == "vector":
        inputs.append(tensor(rng.standard_normal((n,)), grad=True))
    elif second == "rows":
        inputs.append(tensor(rng.standard_normal(batch + (m, k)), grad=True))
    assert tg.gradcheck(fn, tuple(inputs), eps=1e-6, atol=1e-6, rtol=1e-5)
    if second_order:
        assert tg.gradgradcheck(fn, tuple(inputs), eps=1e-6, atol=1e-5, rtol=1e-4)


@FUZZ
@given(data=st.data())
def test_vector_and_entry_norm_gradients(data):
    batch = data.draw(batches)
    m, n = data.draw(sizes), data.draw(sizes)
    rng = np.random.default_rng(data.draw(seeds))
    shape = batch + (m, n)
    # magnitudes 0.3..: distinct (no ties for max / min), away from 0 (|x| is smooth)
    size = int(np.prod(shape))
    x = ((0.3 + 0.1 * rng.permutation(size) + rng.uniform(0, 0.02, size))
         * rng.choice([-1.0, 1.0], size)).reshape(shape)
    p = data.draw(st.sampled_from([q for q in VECTOR_ORDS if q != 0]))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keepdim = data.draw(st.booleans())
    X = tensor(x, grad=True)
    assert tg.gradcheck(lambda t: linalg.vector_norm(t, p, dim, keepdim), (X,), eps=1e-6,
                        atol=1e-6, rtol=1e-5)
    if p not in (INF, -INF, 1):
        assert tg.gradgradcheck(lambda t: linalg.vector_norm(t, p, dim, keepdim), (X,),
                                eps=1e-6, atol=1e-5, rtol=1e-4)
    for q in ("fro", 1, -1, INF, -INF):                          # abs-sums: distinct here
        pair = (-1, -2) if data.draw(st.booleans()) else (-2, -1)
        assert tg.gradcheck(lambda t: linalg.matrix_norm(t, q, pair, keepdim), (X,),
                            eps=1e-6, atol=1e-6, rtol=1e-5)
    if m == n:
        a = invertible(rng, batch + (n, n))
        for q in ("fro", 1, INF, "nuc"):
            assert tg.gradcheck(lambda t: linalg.cond(t, q), (tensor(a, grad=True),),
                                eps=1e-6, atol=1e-6, rtol=1e-5)


@FUZZ
@given(data=st.data())
def test_product_gradients_with_broadcasting(data):
    batch = data.draw(batches)
    rng = np.random.default_rng(data.draw(seeds))
    other = broadcast_partner(data, batch)
    other = (1,) * (len(batch) - len(other)) + other             # cross: one ndim
    x = tensor(rng.standard_normal(batch + (3,)), grad=True)
    y = tensor(rng.standard_normal(other + (3,)), grad=True)
    assert tg.gradcheck(lambda a, b: linalg.cross(a, b), (x, y))
    assert tg.gradgradcheck(lambda a, b: linalg.cross(a, b), (x, y))
    z = tensor(rng.standard_normal(other + (1,)), grad=True)
    assert tg.gradcheck(lambda a, b: linalg.vecdot(a, b), (x, z))
    chain = [tensor(rng.standard_normal(s), grad=True) for s in [(3,), (3, 2), (2, 4), (4,)]]
    assert tg.gradgradcheck(lambda *c: linalg.multi_dot(list(c)), tuple(chain))
    v = tensor(rng.uniform(0.5, 1.5, batch + (3,)), grad=True)
    assert tg.gradgradcheck(lambda t: linalg.vander(t, N=4), (v,))
    a = tensor(invertible(rng, (6, 6)).reshape(2, 3, 6), grad=True)
    assert tg.gradcheck(lambda t: linalg.tensorinv(t, ind=2), (a,))


def test_cholesky_upper_reads_the_upper_triangle_as_pytorch(device):
    # PyTorch (linalg_cholesky_ex_out on the CPU: triu(A), then potrf with uplo 'U') reads
    # A's upper triangle when upper=True; we read the lower one, silently.
    spd = np.array([[4.0, 2.0, 0.4], [2.0, 3.0, 0.5], [0.4, 0.5, 2.0]])
    upper_only = np.triu(spd) + np.tril(np.full((3, 3), 7.0), -1)     # garbage below
    U = linalg.cholesky(tensor(upper_only, device), upper=True).numpy()
    close(U, np.linalg.cholesky(spd).T)
    close(T(U) @ U, spd)
    # and cholesky_ex's info comes from the triangle read
    not_pd = np.tril(spd) + np.triu(np.full((3, 3), 9.0), 1)          # upper: not PD
    L, info = linalg.cholesky_ex(tensor(not_pd, device))
    assert int(info.numpy()) == 0
    U, info = linalg.cholesky_ex(tensor(not_pd, device), upper=True)
    assert int(info.numpy()) == 2 and np.isnan(U.numpy()).all()
    with pytest.raises(linalg.LinAlgError, match="order 2"):
        linalg.cholesky_ex(tensor(not_pd, device), upper=True, check_errors=True)
    # the gradient stays the symmetric one (a symmetric input: upper and lower agree)
    a = tensor(spd, grad=True)
    assert tg.gradcheck(lambda t: linalg.cholesky(sym(t), upper=True), (a,))


@FUZZ
@given(data=st.data())
def test_det_derivatives_at_singular_matrices(data):
    # A repeated row makes A singular, but LAPACK's LU leaves a det of rounding size
    # (~1e-17), not 0: det(A)·A⁻ᵀ then gave second derivatives off by O(1) (-8 for 0.74).
    batch, n = data.draw(batches), data.draw(st.integers(2, 4))
    rng = np.random.default_rng(data.draw(seeds))
    a = rng.uniform(-1, 1, batch + (n, n))
    row, other = data.draw(st.integers(0, n - 1)), data.draw(st.integers(1, n - 1))
    kind = data.draw(st.sampled_from(["row", "column", "zero", "none"]))
    if kind == "row":
        a[..., row, :] = a[..., (row + other) % n, :]
    elif kind == "column":
        a[..., :, row] = a[..., :, (row + other) % n]
    elif kind == "zero":
        a[..., row, :] = 0.0
    A = tensor(a, grad=True)
    assert tg.gradcheck(linalg.det, (A,), eps=1e-6, atol=1e-6, rtol=1e-5)
    assert tg.gradgradcheck(linalg.det, (A,), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_det_second_derivative_with_a_repeated_row():
    rng = np.random.default_rng(5)
    for n in (3, 4):
        for _ in range(4):
            a = rng.uniform(-1, 1, (n, n))
            a[-1] = a[0]                                  # singular: det of rounding size
            assert tg.gradgradcheck(linalg.det, (tensor(a, grad=True),), eps=1e-6,
                                    atol=1e-6, rtol=1e-5)
