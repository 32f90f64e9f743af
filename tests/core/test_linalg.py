"""``tg.linalg``: values against numpy.linalg, first and second derivatives against finite
differences, the two backward modes against each other, and the errors.

``LINALG_OPS`` is this module's op table (the format of test_ops_gradcheck.OPS): every
Function of tinygrad_opt/linalg.py appears in it. Matrices come from domains that keep
finite differences valid: well-conditioned (I + 0.3·M/n, rows signed at random so that
determinants of both signs occur), symmetric positive-definite (M Mᵀ + n·I), symmetric
with eigenvalues at least 0.7 apart, and singular (two equal rows, det exactly 0).
Cholesky and eigh read one triangle of a symmetric matrix, so their table entries
symmetrize the input first ((A + Aᵀ)/2); eigenvectors are signed so that their first
entry is positive (an eigenvector's sign is arbitrary).
"""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_ops_gradcheck import Op, each, fixed, per_input, real
from test_two_modes import TOLERANCE, gradients

linalg = tg.linalg
INF = math.inf

# --- domains: (rng, shapes) -> one float64 array per input ---


def invertible(rng, shape):
    """D (I + 0.3·M/n): singular values in [0.7, 1.3], det of either sign (D = diag(±1))."""
    n = shape[-1]
    signs = rng.choice([-1.0, 1.0], size=shape[:-1] + (1,))
    return signs * (np.eye(n) + 0.3 * rng.uniform(-1, 1, shape) / n)


def positive_definite(rng, shape):
    """M Mᵀ + n·I: symmetric, eigenvalues at least n."""
    m = rng.uniform(-1, 1, shape)
    return m @ m.swapaxes(-1, -2) + shape[-1] * np.eye(shape[-1])


def spread_symmetric(rng, shape):
    """Q diag(λ) Qᵀ with eigenvalues at least 0.7 apart (no near-ties), Q orthogonal."""
    n = shape[-1]
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    eigenvalues = np.arange(n) - n / 2 + rng.uniform(0, 0.3, shape[:-1])
    return (q * eigenvalues[..., None, :]) @ q.swapaxes(-1, -2)


def singular(rng, shape):
    """A real matrix whose last row repeats its first: det is exactly 0 (n ≥ 2)."""
    a = real(rng, shape)
    a[..., -1, :] = a[..., 0, :]
    return a


def away_from_zero(rng, shape):
    """Entries of magnitude 0.3 to 2 with either sign (|x| is smooth there)."""
    return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], size=shape)


def distinct_magnitudes(rng, shape):
    """Entries whose magnitudes differ by at least 0.1 (no ties for max|x|, min|x|)."""
    size = int(np.prod(shape))
    magnitudes = 0.3 + 0.1 * rng.permutation(size) + rng.uniform(0, 0.02, size)
    return (magnitudes * rng.choice([-1.0, 1.0], size=size)).reshape(shape)


def row_sums_apart(rng, shape):
    """Matrices whose row sums and column sums of |a| differ (no ties for matrix norms)."""
    n_rows, n_columns = shape[-2:]
    rows = np.arange(n_rows).reshape(-1, 1)
    columns = np.arange(n_columns)
    magnitudes = 0.3 + 0.5 * rows + 0.7 * columns + rng.uniform(0, 0.1, shape)
    return magnitudes * rng.choice([-1.0, 1.0], size=shape)


# --- shapes: square matrices with 0 to 2 batch dims, sizes 1..3 ---

def square(min_side=1, batch_dims=(0, 2)):
    """One (..., n, n) shape."""
    batch = hnp.array_shapes(min_dims=batch_dims[0], max_dims=batch_dims[1], min_side=1,
                             max_side=2)
    sides = st.integers(min_side, 3)
    return lambda arity: st.builds(lambda b, n: [b + (n, n)], batch, sides)


def matrices(arity):
    """One (..., m, n) shape, m and n drawn apart."""
    return st.builds(lambda b, m, n: [b + (m, n)],
                     hnp.array_shapes(min_dims=0, max_dims=1, min_side=1, max_side=2),
                     st.integers(1, 3), st.integers(1, 3))


SQUARE = square()
VECTORS = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4).map(
    lambda shape: [shape])


def vectors(arity):
    return VECTORS


# --- helpers of the table ---

def symmetric(a):
    return (a + a.transpose(-1, -2)) * 0.5


def signed(vectors):
    """Eigenvectors (the columns) with their first entry made positive."""
    return vectors * vectors[..., :1, :].sign()


def cross_shapes(b, n):
    return [(b, 3, n), (1, 3, n)]


LINALG_OPS = [
    # inverse, solve
    Op("linalg_inv", linalg.inv, 1, each(invertible), SQUARE),
    Op("linalg_solve_matrix", linalg.solve, 2, per_input(invertible, real),
       fixed(lambda b, n, k: [(b, n, n), (b, n, k)], 3)),
    Op("linalg_solve_vector_batch", linalg.solve, 2, per_input(invertible, real),
       fixed(lambda b, n: [(b, n, n), (b, n)], 2)),
    Op("linalg_solve_vector_1d", linalg.solve, 2, per_input(invertible, real),
       fixed(lambda b, n: [(b, n, n), (n,)], 2)),
    Op("linalg_solve_broadcast", linalg.solve, 2, per_input(invertible, real),
       fixed(lambda b, n, k: [(n, n), (b, 1, n, k)], 3)),
    # determinants
    Op("linalg_det", linalg.det, 1, each(invertible), SQUARE),
    Op("linalg_det_singular", linalg.det, 1, each(singular), square(min_side=2)),
    Op("linalg_slogdet", lambda a: linalg.slogdet(a).logabsdet, 1, each(invertible), SQUARE),
    Op("linalg_logdet", linalg.logdet, 1, each(positive_definite), SQUARE),
    # factorizations of symmetric matrices
    Op("linalg_cholesky", lambda a: linalg.cholesky(symmetric(a)), 1,
       each(positive_definite), SQUARE),
    Op("linalg_cholesky_upper", lambda a: linalg.cholesky(symmetric(a), upper=True), 1,
       each(positive_definite), SQUARE),
    Op("linalg_eigh_eigenvalues", lambda a: linalg.eigh(symmetric(a)).eigenvalues, 1,
       each(spread_symmetric), SQUARE),
    Op("linalg_eigh_eigenvectors", lambda a: signed(linalg.eigh(symmetric(a)).eigenvectors),
       1, each(spread_symmetric), SQUARE),
    Op("linalg_eigh_upper", lambda a: linalg.eigh(symmetric(a), UPLO="U").eigenvalues, 1,
       each(spread_symmetric), SQUARE),
    Op("linalg_eigvalsh", lambda a: linalg.eigvalsh(symmetric(a)), 1,
       each(spread_symmetric), SQUARE),
    # vector norms
    Op("linalg_vector_norm_2", linalg.vector_norm, 1, shapes=vectors),
    Op("linalg_vector_norm_2_dim", lambda x: linalg.vector_norm(x, dim=-1, keepdim=True), 1,
       shapes=vectors),
    Op("linalg_vector_norm_1", lambda x: linalg.vector_norm(x, 1, dim=0), 1,
       each(away_from_zero), vectors),
    Op("linalg_vector_norm_inf", lambda x: linalg.vector_norm(x, INF, dim=-1), 1,
       each(distinct_magnitudes), vectors),
    Op("linalg_vector_norm_minus_inf", lambda x: linalg.vector_norm(x, -INF), 1,
       each(distinct_magnitudes), vectors),
    Op("linalg_vector_norm_0", lambda x: linalg.vector_norm(x, 0, dim=-1) * x.sum(), 1,
       shapes=vectors),
    Op("linalg_vector_norm_3", lambda x: linalg.vector_norm(x, 3, dim=(0, -1)), 1,
       shapes=matrices),
    Op("linalg_vector_norm_1_5", lambda x: linalg.vector_norm(x, 1.5), 1,
       each(away_from_zero), vectors),
    Op("linalg_vector_norm_0_5", lambda x: linalg.vector_norm(x, 0.5, dim=-1), 1,
       each(away_from_zero), vectors),
    Op("linalg_vector_norm_minus_1", lambda x: linalg.vector_norm(x, -1, dim=-1), 1,
       each(away_from_zero), vectors),
    # matrix norms and the dispatching norm
    Op("linalg_matrix_norm_fro", linalg.matrix_norm, 1, shapes=matrices),
    Op("linalg_matrix_norm_1", lambda a: linalg.matrix_norm(a, 1), 1, each(row_sums_apart),
       matrices),
    Op("linalg_matrix_norm_minus_1_keepdim", lambda a: linalg.matrix_norm(a, -1, keepdim=True),
       1, each(row_sums_apart), matrices),
    Op("linalg_matrix_norm_inf", lambda a: linalg.matrix_norm(a, INF), 1,
       each(row_sums_apart), matrices),
    Op("linalg_matrix_norm_minus_inf_dims", lambda a: linalg.matrix_norm(a, -INF, dim=(-1, 0)),
       1, each(row_sums_apart), matrices),
    Op("linalg_norm_default", linalg.norm, 1, shapes=matrices),
    Op("linalg_norm_matrix_1", lambda a: linalg.norm(a, 1, dim=(-2, -1)), 1,
       each(row_sums_apart), matrices),
    # products
    Op("linalg_matrix_power_3", lambda a: linalg.matrix_power(a, 3), 1, shapes=SQUARE),
    Op("linalg_matrix_power_minus_2", lambda a: linalg.matrix_power(a, -2), 1,
       each(invertible), SQUARE),
    Op("linalg_multi_dot", lambda a, b, c: linalg.multi_dot([a, b, c]), 3,
       shapes=fixed(lambda n, k, m: [(n,), (n, k), (k, m)], 3)),
    Op("linalg_multi_dot_vectors", lambda a, b, c, d: linalg.multi_dot([a, b, c, d]), 4,
       shapes=fixed(lambda n, k, m: [(n,), (n, k), (k, m), (m,)], 3)),
    Op("linalg_cross", lambda a, b: linalg.cross(a, b, dim=1), 2,
       shapes=fixed(cross_shapes, 2)),
    Op("linalg_vecdot", lambda x, y: linalg.vecdot(x, y, dim=0), 2,
       shapes=fixed(lambda n, m: [(n, m), (n, 1)], 2)),
]

SETTINGS = settings(max_examples=5, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def draw(op, device, data, dtype=tg.float64):
    shapes_drawn = data.draw(op.shapes(op.arity), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    arrays = op.domain(rng, shapes_drawn)
    inputs = [tg.tensor(array, dtype=dtype, requires_grad=True, device=device)
              for array in arrays]
    return inputs, rng


def test_table_names_are_unique():
    names = [op.name for op in LINALG_OPS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("op", LINALG_OPS, ids=[op.name for op in LINALG_OPS])
@SETTINGS
@given(data=st.data())
def test_gradcheck_and_gradgradcheck(op, device, data):
    inputs, _ = draw(op, device, data)
    assert tg.gradcheck(op.fn, inputs, **op.tolerance)
    assert tg.gradgradcheck(op.fn, inputs, **op.tolerance)


@pytest.mark.parametrize("op", LINALG_OPS, ids=[op.name for op in LINALG_OPS])
@settings(max_examples=2, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    """As test_two_modes: a plain backward (arrays) and create_graph=True (Tensors) agree."""
    assert_the_two_paths_agree_in_both_dtypes(op, device, data, draw)


def assert_the_two_paths_agree_in_both_dtypes(op, device, data, draw):
    """test_two_modes' check, with inputs drawn per dtype by ``draw`` (this file's, or
    test_linalg_decompositions')."""
    for dtype in (tg.float32, tg.float64):
        inputs, rng = draw(op, device, data, dtype)
        with tg.no_grad():
            output = op.fn(*inputs)
        grad_output = tg.tensor(rng.standard_normal(output.shape), dtype=output.dtype,
                                device=device)
        plain = gradients(op, inputs, grad_output, create_graph=False)
        recorded = gradients(op, inputs, grad_output, create_graph=True)
        for x, from_arrays, from_tensors in zip(inputs, plain, recorded):
            assert from_arrays.shape == from_tensors.shape == x.shape
            assert from_arrays.dtype == from_tensors.dtype == dtype
            assert from_arrays.device == from_tensors.device == device
            assert from_arrays.grad_fn is None  # a plain backward records nothing
            np.testing.assert_allclose(from_arrays.numpy(), from_tensors.numpy(),
                                       **TOLERANCE[dtype])


def _first_shapes(op):
    """A small shape list for ``op``, without hypothesis: 2 × 2 matrices, 3-vectors."""
    table = {"linalg_cross": [(1, 3, 2), (1, 3, 2)], "linalg_vecdot": [(2, 2), (2, 1)],
             "linalg_solve_matrix": [(1, 2, 2), (1, 2, 3)],
             "linalg_solve_vector_batch": [(1, 2, 2), (1, 2)],
             "linalg_solve_vector_1d": [(1, 2, 2), (2,)],
             "linalg_solve_broadcast": [(2, 2), (1, 1, 2, 3)],
             "linalg_multi_dot": [(2,), (2, 3), (3, 2)],
             "linalg_multi_dot_vectors": [(2,), (2, 3), (3, 2), (2,)]}
    return table.get(op.name, [(2, 2)])


# --- values against numpy.linalg ---

RNG = np.random.default_rng(7)
A = invertible(RNG, (2, 3, 3))
SPD = positive_definite(RNG, (2, 3, 3))
SYM = spread_symmetric(RNG, (3, 3))
B = RNG.standard_normal((2, 3, 2))
X = RNG.standard_normal((2, 3, 4))


def t(array, device, grad=False):
    return tg.tensor(array, dtype=tg.float64, device=device, requires_grad=grad)


def close(tensor, expected, tol=1e-12):
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=tol, atol=tol)


def test_inverse_solve_and_determinants_match_numpy(device):
    close(linalg.inv(t(A, device)), np.linalg.inv(A))
    close(linalg.solve(t(A, device), t(B, device)), np.linalg.solve(A, B))
    vectors = B[..., 0]                                   # (2, 3): a batch of vectors
    close(linalg.solve(t(A, device), t(vectors, device)),
          np.einsum("bij,bj->bi", np.linalg.inv(A), vectors))
    one_vector = B[0, :, 0]                               # (3,): broadcast over A's batch
    close(linalg.solve(t(A, device), t(one_vector, device)), np.linalg.inv(A) @ one_vector)
    close(linalg.det(t(A, device)), np.linalg.det(A))
    sign, logabsdet = linalg.slogdet(t(A, device))
    close(sign, np.sign(np.linalg.det(A)))
    close(logabsdet, np.log(np.abs(np.linalg.det(A))))
    assert linalg.slogdet(t(A, device)).sign.device == device
    with np.errstate(invalid="ignore"):
        close(linalg.logdet(t(A, device)), np.log(np.linalg.det(A)))   # NaN where det < 0


def test_slogdet_and_det_of_a_singular_matrix(device):
    zero = t([[1.0, 2.0], [2.0, 4.0]], device)
    close(linalg.det(zero), 0.0)
    sign, logabsdet = linalg.slogdet(zero)
    assert sign.item() == 0.0 and logabsdet.item() == -INF


def test_cholesky_and_eigh_match_numpy(device):
    close(linalg.cholesky(t(SPD, device)), np.linalg.cholesky(SPD))
    close(linalg.cholesky(t(SPD, device), upper=True),
          np.linalg.cholesky(SPD).swapaxes(-1, -2))
    eigenvalues, eigenvectors = linalg.eigh(t(SYM, device))
    close(eigenvalues, np.linalg.eigvalsh(SYM))
    v = eigenvectors.numpy()
    np.testing.assert_allclose(SYM @ v, v * np.linalg.eigvalsh(SYM), atol=1e-12)
    np.testing.assert_allclose(v.T @ v, np.eye(3), atol=1e-12)
    close(linalg.eigvalsh(t(SPD, device)), np.linalg.eigvalsh(SPD))
    lower_only = np.tril(SYM) + np.triu(RNG.standard_normal((3, 3)), 1)   # upper: ignored
    close(linalg.eigvalsh(t(lower_only, device)), np.linalg.eigvalsh(SYM))
    upper_only = lower_only.T
    close(linalg.eigvalsh(t(upper_only, device), UPLO="U"), np.linalg.eigvalsh(SYM))


VECTOR_NORMS = [2, 1, INF, -INF, 0, 3, 1.5, 0.5, -1]


@pytest.mark.parametrize("ord", VECTOR_NORMS)
def test_vector_norm_matches_a_numpy_formula(ord, device):
    x = X.copy()
    x[0, 0, 0] = 0.0
    magnitude = np.abs(x)
    expected = {2: np.sqrt((x ** 2).sum(-1)), 1: magnitude.sum(-1), INF: magnitude.max(-1),
                -INF: magnitude.min(-1), 0: (x != 0).sum(-1)}.get(ord)
    if expected is None:
        with np.errstate(divide="ignore"):
            expected = (magnitude ** ord).sum(-1) ** (1 / ord)
    close(linalg.vector_norm(t(x, device), ord, dim=-1), expected)
    kept = linalg.vector_norm(t(x, device), ord, dim=(0, 2), keepdim=True)
    assert kept.shape == (1, 3, 1)
    close(linalg.vector_norm(t(x, device), ord), np.linalg.norm(x.ravel(), ord))


@pytest.mark.parametrize("ord", ["fro", 1, -1, INF, -INF, "nuc", 2, -2])
def test_matrix_norm_matches_numpy(ord, device):
    close(linalg.matrix_norm(t(X, device), ord), np.linalg.norm(X, ord, axis=(-2, -1)))
    close(linalg.matrix_norm(t(X, device), ord, dim=(0, 2)), np.linalg.norm(X, ord, axis=(0, 2)))
    kept = linalg.matrix_norm(t(X, device), ord, dim=(2, 0), keepdim=True)
    close(kept, np.linalg.norm(X, ord, axis=(2, 0), keepdims=True))


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_the_singular_value_norms_have_the_gradients_of_their_formulas(ord):
    """d‖A‖_nuc/dA = U·Vᵀ; d‖A‖₂/dA = u₁v₁ᵀ (the top singular pair), −2: the bottom one."""
    A = np.random.default_rng(3).standard_normal((4, 3))
    x = tg.tensor(A, requires_grad=True)
    linalg.matrix_norm(x, ord).backward()
    U, S, Vh = np.linalg.svd(A, full_matrices=False)
    pick = {"nuc": slice(None), 2: slice(0, 1), -2: slice(2, 3)}[ord]
    np.testing.assert_allclose(x.grad.numpy(), U[:, pick] @ Vh[pick], rtol=1e-10, atol=1e-12)
    assert tg.gradcheck(lambda a: linalg.matrix_norm(a, ord), [tg.tensor(A, requires_grad=True)])


def test_norm_dispatches_as_pytorch(device):
    x = t(X, device)
    close(linalg.norm(x), np.sqrt((X ** 2).sum()))                      # all entries, 2-norm
    close(linalg.norm(x[0], 1), np.linalg.norm(X[0], 1))               # 2-D: matrix 1-norm
    close(linalg.norm(x[0, 0], 1), np.abs(X[0, 0]).sum())              # 1-D: vector 1-norm
    close(linalg.norm(x, INF, dim=(1, 2)), np.linalg.norm(X, INF, axis=(1, 2)))
    close(linalg.norm(x, 3, dim=1), (np.abs(X) ** 3).sum(1) ** (1 / 3))
    close(linalg.norm(x, dim=(0, 1)), np.sqrt((X ** 2).sum((0, 1))))
    close(linalg.norm(x[0], "fro"), np.linalg.norm(X[0], "fro"))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        linalg.norm(x, 1)
    with pytest.raises(ValueError, match="1 or 2 dims"):
        linalg.norm(x, dim=(0, 1, 2))


def test_products_match_numpy(device):
    for n in (0, 1, 2, 3, 5, -1, -3):
        close(linalg.matrix_power(t(A, device), n), np.linalg.matrix_power(A, n), 1e-10)
    pieces = [RNG.standard_normal(shape) for shape in [(3,), (3, 4), (4, 2), (2,)]]
    close(linalg.multi_dot([t(p, device) for p in pieces]), np.linalg.multi_dot(pieces))
    close(linalg.multi_dot([t(p, device) for p in pieces[1:3]]), pieces[1] @ pieces[2])
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((1, 3, 4))
    close(linalg.cross(t(a, device), t(b, device), dim=1), np.cross(a, b, axis=1))
    close(linalg.cross(t(a[..., 0], device), t(b[..., 0], device)), np.cross(a[..., 0],
                                                                          b[..., 0]))
    close(linalg.vecdot(t(a, device), t(b, device), dim=1), np.einsum("bij,bij->bj", a,
                                                                      b + 0 * a))
    close(linalg.matmul(t(a, device)[0].T, t(b, device)[0]), a[0].T @ b[0])


# --- gradients at the special points, against hand-derived values ---

def test_det_gradient_of_a_singular_matrix_is_the_cofactor_matrix(device):
    a = t([[1.0, 2.0], [2.0, 4.0]], device, grad=True)
    linalg.det(a).backward()
    close(a.grad, [[4.0, -2.0], [-2.0, 1.0]])          # C = [[d, −c], [−b, a]]
    rank_one = np.outer([1.0, -2.0, 0.5], [3.0, 1.0, -1.0])    # rank 1: every 2×2 minor is 0
    b = t(rank_one, device, grad=True)
    linalg.det(b).backward()
    close(b.grad, np.zeros((3, 3)))
    m = RNG.standard_normal((3, 3))
    m[1] = m[2]
    c = t(m, device, grad=True)
    linalg.det(c).backward()
    cofactors = [[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(m, i, 0), j, 1))
                  for j in range(3)] for i in range(3)]
    close(c.grad, cofactors)
    one = t([[0.0]], device, grad=True)
    linalg.det(one).backward()
    close(one.grad, [[1.0]])


def test_det_hessian_at_a_singular_matrix(device):
    """det [[a, b], [c, d]] = ad − bc: d²/da dd = 1, d²/db dc = −1, at a singular point too."""
    a = t([[1.0, 2.0], [2.0, 4.0]], device, grad=True)
    (first,) = tg.grad(linalg.det(a), a, create_graph=True)
    (second,) = tg.grad(first[0, 0], a, retain_graph=True)   # ∂(d)/∂A
    close(second, [[0.0, 0.0], [0.0, 1.0]])
    (second,) = tg.grad(first[0, 1], a)                      # ∂(−c)/∂A
    close(second, [[0.0, 0.0], [-1.0, 0.0]])


@pytest.mark.parametrize("ord", VECTOR_NORMS)
def test_vector_norm_gradient_is_zero_at_a_zero_norm(ord, device):
    x = t(np.zeros((2, 3)), device, grad=True)
    (grad,) = tg.grad(linalg.vector_norm(x, ord, dim=-1).sum(), x)
    close(grad, np.zeros((2, 3)))
    (first,) = tg.grad(linalg.vector_norm(x, ord, dim=-1).sum(), x, create_graph=True)
    close(first, np.zeros((2, 3)))


def test_vector_norm_gradients_by_hand(device):
    x = t([3.0, -4.0, 0.0], device, grad=True)
    close(tg.grad(linalg.vector_norm(x), x)[0], [0.6, -0.8, 0.0])        # x / ‖x‖
    close(tg.grad(linalg.vector_norm(x, 1), x)[0], [1.0, -1.0, 0.0])     # sign(x)
    close(tg.grad(linalg.vector_norm(x, INF), x)[0], [0.0, -1.0, 0.0])
    ties = t([2.0, -2.0, 1.0], device, grad=True)
    close(tg.grad(linalg.vector_norm(ties, INF), ties)[0], [0.5, -0.5, 0.0])  # shared
    close(tg.grad(linalg.vector_norm(ties, -INF), ties)[0], [0.0, 0.0, 1.0])
    # Hessian of ‖x‖ at x = (3, −4, 0): (I − x xᵀ/‖x‖²)/‖x‖, right at the zero entry too
    (first,) = tg.grad(linalg.vector_norm(x), x, create_graph=True)
    hessian = np.stack([tg.grad(first[i], x, retain_graph=True)[0].numpy() for i in range(3)])
    u = np.array([3.0, -4.0, 0.0]) / 5
    np.testing.assert_allclose(hessian, (np.eye(3) - np.outer(u, u)) / 5, atol=1e-12)


@pytest.mark.parametrize("ord", [2, 3, 1])
def test_float16_vector_norm_sums_in_float32(ord, device):
    # 300² = 90000 is past float16's largest value (65504), ‖(300, 400)‖ = 500 is not: as
    # PyTorch, the sum runs in float32 and only the norm is rounded to float16
    x = tg.tensor([300.0, 400.0], dtype=tg.float16, device=device, requires_grad=True)
    norm = linalg.vector_norm(x, ord)
    assert norm.dtype == tg.float16
    expected = (300.0 ** ord + 400.0 ** ord) ** (1 / ord)
    np.testing.assert_allclose(float(norm.item()), expected, rtol=1e-3)
    if ord == 2:
        (grad,) = tg.grad(norm, x)
        np.testing.assert_allclose(grad.numpy().astype(np.float64), [0.6, 0.8], rtol=1e-3)
    parameter = tg.nn.Parameter(tg.zeros(2, dtype=tg.float16, device=device))
    parameter.grad = tg.tensor([300.0, 400.0], dtype=tg.float16, device=device)
    total = tg.nn.utils.clip_grad_norm_([parameter], 1.0)
    np.testing.assert_allclose(float(total.item()), 500.0, rtol=1e-3)
    np.testing.assert_allclose(parameter.grad.numpy().astype(np.float64), [0.6, 0.8],
                               rtol=1e-3)


def test_eigvalsh_gradient_at_tied_eigenvalues_is_finite(device):
    """d(Σ w_i · c_i)/dA = V diag(c) Vᵀ; at A = 2I (a triple tie) with c = 1 it is I."""
    a = t(2 * np.eye(3), device, grad=True)
    linalg.eigvalsh(a).sum().backward()
    close(a.grad, np.eye(3))
    s = t(SYM, device, grad=True)
    w, v = np.linalg.eigh(SYM)
    linalg.eigvalsh(s)[2].backward()                       # the largest: v₂ v₂ᵀ
    close(s.grad, np.outer(v[:, 2], v[:, 2]), 1e-10)


def test_solve_gradients_by_hand(device):
    a, b = t(A[0], device, grad=True), t(B[0], device, grad=True)
    weights = RNG.standard_normal((3, 2))
    (linalg.solve(a, b) * t(weights, device)).sum().backward()
    grad_b = np.linalg.inv(A[0]).T @ weights                 # A⁻ᵀ G
    close(b.grad, grad_b, 1e-10)
    close(a.grad, -grad_b @ np.linalg.solve(A[0], B[0]).T, 1e-10)   # −A⁻ᵀ G Xᵀ


# --- errors ---

def test_errors_name_the_function_and_the_problem(device):
    rectangular = t(np.ones((2, 3)), device)
    for function in (linalg.inv, linalg.det, linalg.slogdet, linalg.cholesky, linalg.eigh):
        with pytest.raises(ValueError, match=r"linalg\.\w+: A must be a batch of square "
                                             r"matrices .*\(2, 3\)"):
            function(rectangular)
    with pytest.raises(ValueError, match=r"linalg.inv: .*\(3,\)"):
        linalg.inv(t(np.ones(3), device))
    with pytest.raises(TypeError, match="linalg.det: expected a float32 or float64 tensor"):
        linalg.det(tg.tensor(np.eye(2, dtype=np.int64), device=device))
    singular_matrix = t([[1.0, 2.0], [2.0, 4.0]], device)
    with pytest.raises(linalg.LinAlgError, match="linalg.inv: the matrix is singular"):
        linalg.inv(singular_matrix)
    with pytest.raises(RuntimeError, match="linalg.solve: the matrix A is singular"):
        linalg.solve(singular_matrix, t(np.ones(2), device))
    with pytest.raises(linalg.LinAlgError, match="linalg.cholesky: .*not positive-definite"):
        linalg.cholesky(t([[1.0, 2.0], [2.0, 1.0]], device))
    with pytest.raises(linalg.LinAlgError, match="linalg.inv: the matrix is singular"):
        linalg.matrix_power(singular_matrix, -1)


def test_solve_shape_errors(device):
    a = t(np.eye(3), device)
    with pytest.raises(ValueError, match=r"linalg.solve: incompatible shapes .*\(3, 3\).*"
                                         r"\(4, 2\)"):
        linalg.solve(a, t(np.ones((4, 2)), device))
    with pytest.raises(ValueError, match="linalg.solve: the batch dims"):
        linalg.solve(t(np.ones((2, 3, 3)), device), t(np.ones((5, 3, 1)), device))


def test_norm_errors(device):
    x = t(X, device)
    with pytest.raises(TypeError, match="linalg.vector_norm: expected a floating-point"):
        linalg.vector_norm(tg.tensor([1, 2], device=device))
    close(linalg.vector_norm(tg.tensor([3, 4], device=device), dtype=tg.float64), 5.0)
    with pytest.raises(ValueError, match="linalg.vector_norm: ord must be a number"):
        linalg.vector_norm(x, "fro")
    with pytest.raises(ValueError, match="linalg.matrix_norm: order 3 not supported"):
        linalg.matrix_norm(x, 3)
    with pytest.raises(ValueError, match="linalg.matrix_norm: A must be a Tensor with at "
                                         r"least 2 dims, got \(3,\)"):
        linalg.matrix_norm(x[0, 0, :3])
    with pytest.raises(ValueError, match="linalg.matrix_norm: dims must be different"):
        linalg.matrix_norm(x, dim=(1, -2))


def test_product_errors(device):
    a = t(np.ones((2, 2)), device)
    with pytest.raises(ValueError, match="linalg.multi_dot: expected at least 2 tensors, "
                                         "got 1"):
        linalg.multi_dot([a])
    with pytest.raises(ValueError, match=r"linalg.multi_dot: tensor 1 must be 2-D, got "
                                         r"shape \(2,\)"):
        linalg.multi_dot([a, a[0], a])
    with pytest.raises(ValueError, match=r"linalg.multi_dot: tensors 0 and 1 cannot be "
                                         r"multiplied: shapes \(2, 2\) and \(3, 2\)"):
        linalg.multi_dot([a, t(np.ones((3, 2)), device)])
    with pytest.raises(ValueError, match="linalg.cross: dim 1 must have size 3"):
        linalg.cross(a, a)
    with pytest.raises(ValueError, match="linalg.cross: inputs must have the same number"):
        linalg.cross(t(np.ones((2, 3)), device), t(np.ones(3), device))
    with pytest.raises(ValueError, match="linalg.vecdot: x .* must have one size"):
        linalg.vecdot(a, t(np.ones((2, 3)), device))
    with pytest.raises(TypeError, match="linalg.matrix_power: n must be an int"):
        linalg.matrix_power(a, 1.5)
    with pytest.raises(ValueError, match="linalg.eigh: UPLO must be"):
        linalg.eigh(a, UPLO="X")


def test_matrix_power_zero_and_one_are_tensors_of_their_own_in_the_graph(device):
    # As PyTorch (linalg_matrix_power_impl: "clone input to include result in the autograd
    # graph"): n = 0 is the identity written into a clone of A (a zero gradient), n = 1 a
    # clone of A, never A itself (its hooks, retain_grad and in-place writes are its own).
    a = t(A, device, grad=True)
    identity = linalg.matrix_power(a, 0)
    assert identity.requires_grad and identity.shape == A.shape
    close(identity, np.broadcast_to(np.eye(3), A.shape))
    same = linalg.matrix_power(a, 1)
    assert same is not a and same.requires_grad
    close(same, A)
    (identity * 5).sum().backward()
    close(a.grad, np.zeros(A.shape))
    with tg.no_grad():
        same[...] = 0.0  # its own memory: A is unchanged
    close(a, A)
    assert not linalg.matrix_power(t(A, device), 0).requires_grad  # no graph without one


def test_eigh_gradient_through_tied_eigenvectors_is_nan(device):
    """At A = diag(2, 2, 5) the first two eigenvectors are any orthonormal basis of a plane:
    a loss on them has no gradient (NaN marks it). The third has one: for L = c · v₃,
    dv₃ = Σ_{i<2} e_i (e_iᵀ dA v₃) / (5 − 2), so dL/dA_i2 = dL/dA_2i = ±c_i / 6."""
    a = t(np.diag([2.0, 2.0, 5.0]), device, grad=True)
    c = t([1.0, 2.0, 3.0], device)
    (linalg.eigh(a).eigenvectors[:, 0] * c).sum().backward()
    assert np.isnan(a.grad.numpy()).any()
    b = t(np.diag([2.0, 2.0, 5.0]), device, grad=True)
    eigenvectors = linalg.eigh(b).eigenvectors
    (eigenvectors[:, 2] * c).sum().backward()
    sign = np.sign(eigenvectors.numpy()[2, 2])
    expected = sign * np.array([[0, 0, 1], [0, 0, 2], [1, 2, 0]]) / 6
    close(b.grad, expected)


def test_cholesky_and_eigh_gradients_are_symmetric_as_pytorch(device):
    """Both read one triangle, so the gradient is a convention: PyTorch's (and ours) is the
    symmetric matrix that gives the right dL for every symmetric change of A."""
    weights = t(RNG.standard_normal((3, 3)), device)
    for function in (lambda a: linalg.cholesky(a), lambda a: linalg.eigh(a).eigenvectors,
                     lambda a: linalg.eigh(a).eigenvalues * weights[0]):
        a = t(SPD[0], device, grad=True)
        output = function(a)
        (output * weights[:output.shape[0]] if output.ndim == 2 else output).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), a.grad.numpy().T, atol=1e-12)
        assert np.abs(a.grad.numpy() - np.diag(np.diag(a.grad.numpy()))).max() > 1e-3


def test_the_top_level_aliases_are_the_linalg_functions(device):
    a = tg.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=tg.float64, device=device)
    assert tg.det(a).item() == pytest.approx(5.0)
    assert tg.logdet(a).item() == pytest.approx(np.log(5.0))
    assert tg.slogdet(a).logabsdet.item() == pytest.approx(np.log(5.0))
    np.testing.assert_allclose(tg.backend.to_host((tg.inverse(a) @ a).data), np.eye(2),
                               atol=1e-12)
    np.testing.assert_allclose(tg.backend.to_host(tg.matrix_power(a, 2).data),
                               [[5.0, 5.0], [5.0, 10.0]])
