"""``tg.linalg``'s decompositions (svd, svdvals, qr, pinv, matrix_rank, lstsq, cond,
matrix_exp) and the linear-algebra Tensor methods: values against NumPy and formulas
written here, first and second derivatives against finite differences, the two backward
modes against each other, and the errors.

``DECOMPOSITION_OPS`` is this module's op table (the format of test_ops_gradcheck.OPS):
with test_linalg.LINALG_OPS it reaches every Function of tinygrad_opt/linalg.py. Every
entry runs gradcheck and gradgradcheck (the SVD's double backward included). Singular
vectors are unique only up to sign, so the SVD entries differentiate what does not
depend on it: S, U diag(S) Vh, the squares of U's and Vh's entries, projections U Uᵀ.
The domains keep finite differences valid: singular values at least 0.4 apart and at
least 1 (no ties, full rank), matrices near the identity for QR and least squares (full
rank, R's diagonal signs constant nearby), symmetric matrices with eigenvalues away
from 0 for the hermitian pseudo-inverse.
"""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_linalg import (LINALG_OPS, assert_the_two_paths_agree_in_both_dtypes, invertible,
                         symmetric)
from test_ops_gradcheck import Op, each, fixed, per_input, real

linalg = tg.linalg
INF = math.inf

# --- domains: (rng, shapes) -> one float64 array per input ---


def spread_singular(rng, shape):
    """U diag(s) Vᵀ with U, V random orthonormal columns and singular values s ≥ 1, at
    least 0.4 apart (no ties, full rank)."""
    *batch, m, n = shape
    k = min(m, n)
    u, _ = np.linalg.qr(rng.standard_normal((*batch, m, k)))
    v, _ = np.linalg.qr(rng.standard_normal((*batch, n, k)))
    s = 1 + 0.6 * np.arange(k)[::-1] + rng.uniform(0, 0.2, (*batch, k))
    return (u * s[..., None, :]) @ v.swapaxes(-1, -2)


def near_identity(rng, shape):
    """The (m, n) identity plus 0.3/max(m, n) noise: full rank, well-conditioned."""
    m, n = shape[-2:]
    return np.eye(m, n) + 0.3 * rng.uniform(-1, 1, shape) / max(m, n)


def invertible_symmetric(rng, shape):
    """Q diag(λ) Qᵀ with |λ| in [0.5, 2] of either sign (far from singular)."""
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    eigenvalues = rng.uniform(0.5, 2, shape[:-1]) * rng.choice([-1.0, 1.0], shape[:-1])
    return (q * eigenvalues[..., None, :]) @ q.swapaxes(-1, -2)


# --- shapes ---

BATCH = hnp.array_shapes(min_dims=0, max_dims=1, min_side=1, max_side=2)
SIDES = st.integers(1, 3)
RECTANGLES_DRAWN = st.builds(lambda b, m, n: [b + (m, n)], BATCH, SIDES, SIDES)
SQUARES_DRAWN = st.builds(lambda b, n: [b + (n, n)], BATCH, SIDES)


def rectangles(arity):
    """One (..., m, n) shape, m and n drawn apart, 0 or 1 batch dim."""
    return RECTANGLES_DRAWN


def squares(arity):
    """One (..., n, n) shape."""
    return SQUARES_DRAWN


def wide(b, m, extra):
    return [(b, m, m + extra - 1)]                 # m ≤ n


def tall_system(b, n, extra, k):
    return [(b, n + extra, n), (b, n + extra, k)]  # m > n


def wide_system(m, extra):
    return [(m, m + extra), (m,)]                  # m < n, B a vector


# --- the losses of the table ---

def reconstruction(a):
    """U diag(S) Vh of the reduced SVD: A again, through all three outputs."""
    U, S, Vh = linalg.svd(a, full_matrices=False)
    return (U * S[..., None, :]) @ Vh


def leading_projection(a):
    """U₁ U₁ᵀ for the first k columns of the full U: the projection on A's column space."""
    U = linalg.svd(a).U[..., :min(a.shape[-2:])]
    return U @ U.transpose(-2, -1)


DECOMPOSITION_OPS = [
    # the SVD
    Op("linalg_svd_S", lambda a: linalg.svd(a).S, 1, each(spread_singular), rectangles),
    Op("linalg_svd_reconstruction", reconstruction, 1, each(spread_singular), rectangles),
    Op("linalg_svd_U_squared", lambda a: linalg.svd(a, full_matrices=False).U ** 2, 1,
       each(spread_singular), rectangles),
    Op("linalg_svd_Vh_squared", lambda a: linalg.svd(a, full_matrices=False).Vh ** 2, 1,
       each(spread_singular), rectangles),
    Op("linalg_svd_full_projection", leading_projection, 1, each(spread_singular),
       rectangles),
    Op("linalg_svdvals", linalg.svdvals, 1, each(spread_singular), rectangles),
    # QR
    Op("linalg_qr_Q", lambda a: linalg.qr(a).Q, 1, each(near_identity), rectangles),
    Op("linalg_qr_R", lambda a: linalg.qr(a).R, 1, each(near_identity), rectangles),
    Op("linalg_qr_complete_wide", lambda a: linalg.qr(a, "complete").Q * 2
       + linalg.qr(a, "complete").R.sum(-1, keepdim=True), 1, each(near_identity),
       fixed(wide, 3)),
    # the pseudo-inverse and what is built on it
    Op("linalg_pinv", linalg.pinv, 1, each(spread_singular), rectangles),
    Op("linalg_pinv_hermitian", lambda a: linalg.pinv(symmetric(a), hermitian=True), 1,
       each(invertible_symmetric), squares),
    Op("linalg_lstsq_tall", lambda a, b: linalg.lstsq(a, b).solution, 2,
       per_input(near_identity, real), fixed(tall_system, 4)),
    Op("linalg_lstsq_wide_vector", lambda a, b: linalg.lstsq(a, b).solution, 2,
       per_input(near_identity, real), fixed(wide_system, 2)),
    Op("linalg_lstsq_residuals", lambda a, b: linalg.lstsq(a, b, driver="gelsd").residuals,
       2, per_input(near_identity, real), fixed(tall_system, 4)),
    # condition numbers
    Op("linalg_cond_2", linalg.cond, 1, each(spread_singular), rectangles),
    Op("linalg_cond_minus_2", lambda a: linalg.cond(a, -2), 1, each(spread_singular),
       rectangles),
    Op("linalg_cond_fro", lambda a: linalg.cond(a, "fro"), 1, each(invertible), squares),
    Op("linalg_cond_nuc", lambda a: linalg.cond(a, "nuc"), 1, each(invertible), squares),
    # the exponential
    Op("linalg_matrix_exp", linalg.matrix_exp, 1, shapes=squares),
    Op("linalg_matrix_exp_of_symmetric", lambda a: linalg.matrix_exp(symmetric(a)), 1,
       shapes=squares),
]

SETTINGS = settings(max_examples=4, deadline=None, derandomize=True, database=None,
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
    names = [op.name for op in DECOMPOSITION_OPS + LINALG_OPS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("op", DECOMPOSITION_OPS, ids=[op.name for op in DECOMPOSITION_OPS])
@SETTINGS
@given(data=st.data())
def test_gradcheck_and_gradgradcheck(op, device, data):
    inputs, _ = draw(op, device, data)
    assert tg.gradcheck(op.fn, inputs, **op.tolerance)
    assert tg.gradgradcheck(op.fn, inputs, **op.tolerance)


@pytest.mark.parametrize("op", DECOMPOSITION_OPS, ids=[op.name for op in DECOMPOSITION_OPS])
@settings(max_examples=2, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    """As test_two_modes: a plain backward (arrays) and create_graph=True (Tensors) agree."""
    assert_the_two_paths_agree_in_both_dtypes(op, device, data, draw)


FIRST_SHAPES = {"linalg_lstsq_tall": [(1, 3, 2), (1, 3, 1)],
                "linalg_lstsq_residuals": [(1, 3, 2), (1, 3, 1)],
                "linalg_lstsq_wide_vector": [(2, 3), (2,)], "linalg_qr_complete_wide": [(2, 3)]}


def _functions_made(ops, first_shapes):
    """The Function objects in the graphs of the ops' outputs, on small fixed shapes."""
    rng, made = np.random.default_rng(0), set()
    for op in ops:
        arrays = op.domain(rng, first_shapes(op))
        inputs = [tg.tensor(array, dtype=tg.float64, requires_grad=True) for array in arrays]
        pending = [op.fn(*inputs)]
        while pending:
            function = pending.pop().grad_fn
            if function is not None and function not in made:
                made.add(function)
                pending.extend(function.inputs)
    return {type(function) for function in made}


def test_every_function_of_linalg_is_in_a_table():
    """This table and test_linalg.LINALG_OPS together reach every Function of
    tinygrad_opt/linalg.py but the two of test_linalg_more.LINALG_MORE_OPS (which
    test_two_modes' every-op test checks with the rest)."""
    from test_linalg import _first_shapes
    from tinygrad_opt.autograd.function import Function
    ours = {cls for cls in vars(linalg).values()
            if isinstance(cls, type) and issubclass(cls, Function) and cls is not Function}
    made = _functions_made(DECOMPOSITION_OPS, lambda op: FIRST_SHAPES.get(op.name, [(2, 2)]))
    assert {linalg.Svd, linalg.Qr, linalg.Pinv, linalg.MatrixExp} <= made
    ours -= {linalg.SolveTriangular, linalg.LuFactor}
    assert ours <= made | _functions_made(LINALG_OPS, _first_shapes)


# --- values against NumPy ---

RNG = np.random.default_rng(11)
TALL = RNG.standard_normal((2, 4, 3))
WIDE = RNG.standard_normal((2, 2, 4))
SQUARE = RNG.standard_normal((2, 3, 3))


def t(array, device, grad=False, dtype=tg.float64):
    return tg.tensor(array, dtype=dtype, device=device, requires_grad=grad)


def close(tensor, expected, tol=1e-12):
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=tol, atol=tol)


def orthonormal_columns(matrix, tol=1e-12):
    k = matrix.shape[-1]
    np.testing.assert_allclose(matrix.swapaxes(-1, -2) @ matrix, np.broadcast_to(
        np.eye(k), matrix.shape[:-2] + (k, k)), atol=tol)


@pytest.mark.parametrize("a", [TALL, WIDE, SQUARE, TALL[0, :1], WIDE[0, :, :1]],
                         ids=["tall", "wide", "square", "row", "column"])
def test_svd_reconstructs_and_matches_numpy(a, device):
    k = min(a.shape[-2:])
    U, S, Vh = linalg.svd(t(a, device), full_matrices=False)
    assert U.shape == a.shape[:-1] + (k,) and S.shape == a.shape[:-2] + (k,)
    assert Vh.shape == a.shape[:-2] + (k, a.shape[-1])
    close(S, np.linalg.svd(a, compute_uv=False))
    u, s, vh = U.numpy(), S.numpy(), Vh.numpy()
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, a, atol=1e-12)
    orthonormal_columns(u)
    orthonormal_columns(vh.swapaxes(-1, -2))
    assert (np.diff(s, axis=-1) <= 0).all()                       # descending
    U, S, Vh = linalg.svd(t(a, device))                           # full_matrices=True
    assert U.shape == a.shape[:-1] + (a.shape[-2],)
    assert Vh.shape == a.shape[:-2] + (a.shape[-1], a.shape[-1])
    orthonormal_columns(U.numpy())                                # square: orthogonal
    orthonormal_columns(Vh.numpy())
    close(U[..., :k], u)                                          # the reduced SVD inside
    close(Vh[..., :k, :], vh)
    close(linalg.svdvals(t(a, device)), np.linalg.svd(a, compute_uv=False))
    close(linalg.svdvals(t(a, device, grad=True)), np.linalg.svd(a, compute_uv=False))


def test_svd_in_float32(device):
    U, S, Vh = linalg.svd(t(SQUARE, device, dtype=tg.float32))
    assert U.dtype == S.dtype == Vh.dtype == tg.float32
    np.testing.assert_allclose(S.numpy(), np.linalg.svd(SQUARE, compute_uv=False), rtol=1e-5)
    assert linalg.svdvals(t(SQUARE, device, dtype=tg.float32)).dtype == tg.float32


def test_qr_matches_numpy_in_every_mode(device):
    for a in (TALL, WIDE, SQUARE):
        Q, R = linalg.qr(t(a, device))
        q, r = np.linalg.qr(a)
        close(Q, q)
        close(R, r)
        np.testing.assert_allclose(Q.numpy() @ R.numpy(), a, atol=1e-12)
        orthonormal_columns(Q.numpy())
        assert (np.tril(R.numpy(), -1) == 0).all()                 # upper triangular
        Q, R = linalg.qr(t(a, device), mode="complete")
        q, r = np.linalg.qr(a, mode="complete")
        assert Q.shape == a.shape[:-1] + (a.shape[-2],) and R.shape == a.shape
        close(Q, q)
        close(R, r)
        Q, R = linalg.qr(t(a, device), mode="r")
        assert Q.shape == (0,) and Q.device == device
        close(R, np.linalg.qr(a, mode="r"))
    Q, R = t(TALL, device).qr()                                    # Tensor.qr(some=True)
    close(Q @ R, TALL)
    assert t(TALL, device).qr(some=False).Q.shape == (2, 4, 4)


def test_pinv_meets_the_moore_penrose_conditions(device):
    rank_two = TALL[0] @ np.diag([1.0, 1.0, 0.0]) @ RNG.standard_normal((3, 3))   # rank 2
    for a in (TALL, WIDE, SQUARE, rank_two):
        x = linalg.pinv(t(a, device)).numpy()
        np.testing.assert_allclose(a @ x @ a, a, atol=1e-11)         # A X A = A
        np.testing.assert_allclose(x @ a @ x, x, atol=1e-11)         # X A X = X
        np.testing.assert_allclose(a @ x, (a @ x).swapaxes(-1, -2), atol=1e-11)
        np.testing.assert_allclose(x @ a, (x @ a).swapaxes(-1, -2), atol=1e-11)
        np.testing.assert_allclose(x, np.linalg.pinv(a), atol=1e-11)
    sym = (SQUARE + SQUARE.swapaxes(-1, -2)) / 2
    close(linalg.pinv(t(sym, device), hermitian=True), np.linalg.pinv(sym), 1e-10)
    lower_only = np.tril(sym[0]) + np.triu(RNG.standard_normal((3, 3)), 1)   # upper: ignored
    close(linalg.pinv(t(lower_only, device), hermitian=True), np.linalg.pinv(sym[0]), 1e-10)
    close(t(SQUARE, device).pinverse(), np.linalg.inv(SQUARE), 1e-10)


def test_pinv_tolerances_drop_the_small_singular_values(device):
    """A = 3 u₁v₁ᵀ + 10⁻³ u₂v₂ᵀ: A⁺ = v₁u₁ᵀ/3 + 10³ v₂u₂ᵀ, or v₁u₁ᵀ/3 once 10⁻³ is dropped."""
    u, _ = np.linalg.qr(RNG.standard_normal((3, 2)))
    v, _ = np.linalg.qr(RNG.standard_normal((2, 2)))
    a = 3 * np.outer(u[:, 0], v[:, 0]) + 1e-3 * np.outer(u[:, 1], v[:, 1])
    kept = np.outer(v[:, 0], u[:, 0]) / 3
    full = kept + 1e3 * np.outer(v[:, 1], u[:, 1])
    close(linalg.pinv(t(a, device)), full, 1e-8)
    close(linalg.pinv(t(a, device), rtol=5e-4), kept)             # 10⁻³ < 5·10⁻⁴ · 3
    close(linalg.pinv(t(a, device), rtol=3e-4), full, 1e-8)       # 10⁻³ > 3·10⁻⁴ · 3
    close(linalg.pinv(t(a, device), atol=0.01), kept)             # rtol becomes 0
    close(linalg.pinv(t(a, device), atol=1e-4), full, 1e-8)
    close(linalg.pinv(t(a, device), atol=1e-4, rtol=0.1), kept)   # max(atol, rtol · 3)
    close(linalg.pinv(t(a, device), rtol=t(0.01, device)), kept)  # a Tensor tolerance
    close(t(a, device).pinverse(rcond=1e-2), kept)


def test_matrix_rank_matches_numpy(device):
    a = np.stack([TALL[0], TALL[1] @ np.diag([1.0, 0.0, 1.0]), np.zeros((4, 3))])
    rank = linalg.matrix_rank(t(a, device))
    assert rank.dtype == tg.int64 and not rank.requires_grad and rank.device == device
    assert rank.numpy().tolist() == [3, 2, 0] == np.linalg.matrix_rank(a).tolist()
    small = np.diag([3.0, 1e-3])
    assert linalg.matrix_rank(t(small, device)).item() == 2
    assert linalg.matrix_rank(t(small, device), atol=0.01).item() == 1
    assert linalg.matrix_rank(t(small, device), rtol=1e-3).item() == 1   # 10⁻³ ≤ 3 · 10⁻³
    assert linalg.matrix_rank(t(small, device), 0.01).item() == 1        # tol = atol
    tiny = np.diag([3.0, 1e-16])                                  # below ε · 2 · 3: dropped
    assert linalg.matrix_rank(t(tiny, device)).item() == 1
    assert linalg.matrix_rank(t(tiny, device), atol=1e-20).item() == 2  # atol alone: rtol 0
    close(linalg.pinv(t(tiny, device), atol=1e-20), np.diag([1 / 3, 1e16]))
    assert linalg.matrix_rank(t(small, device), atol=t([0.01], device)).numpy().tolist() == [1]
    negative = np.diag([-2.0, 1e-9, 0.5])
    assert linalg.matrix_rank(t(negative, device), hermitian=True).item() == 3
    assert linalg.matrix_rank(t(negative, device), hermitian=True, atol=1e-6).item() == 2
    assert linalg.matrix_rank(t(TALL, device, grad=True)).numpy().tolist() == [3, 3]


def test_lstsq_matches_numpy(device):
    b_tall, b_wide = RNG.standard_normal((2, 4, 2)), RNG.standard_normal((2, 2, 3))
    for a, b in ((TALL, b_tall), (WIDE, b_wide), (SQUARE, b_tall[:, :3])):
        result = linalg.lstsq(t(a, device), t(b, device), driver="gelsd")
        for i in range(2):
            x, residuals, rank, values = np.linalg.lstsq(a[i], b[i], rcond=None)
            close(result.solution[i], x, 1e-10)
            close(result.residuals[i] if residuals.size else result.residuals, residuals,
                  1e-10)
            assert result.rank[i].item() == rank
            close(result.singular_values[i], values)
    default = linalg.lstsq(t(TALL, device), t(b_tall, device))      # gelsy: no residuals
    assert default.residuals.shape == (0,) and default.singular_values.shape == (0,)
    assert default.rank.numpy().tolist() == [3, 3] and default.rank.dtype == tg.int64
    gels = linalg.lstsq(t(TALL, device), t(b_tall, device), driver="gels")
    assert gels.rank.shape == (0,)
    close(gels.residuals, ((TALL @ gels.solution.numpy() - b_tall) ** 2).sum(-2), 1e-10)
    vector = RNG.standard_normal((2, 4))                             # B a batch of vectors
    solution = linalg.lstsq(t(TALL, device), t(vector, device)).solution
    assert solution.shape == (2, 3)
    close(solution, np.stack([np.linalg.lstsq(a, v, rcond=None)[0]
                              for a, v in zip(TALL, vector)]), 1e-10)


def test_lstsq_of_a_rank_deficient_matrix_is_the_minimum_norm_solution(device):
    a = TALL[0] @ np.diag([1.0, 1.0, 0.0]) @ RNG.standard_normal((3, 3))   # rank 2
    b = RNG.standard_normal((4, 1))
    result = linalg.lstsq(t(a, device), t(b, device), driver="gelss")
    x, residuals, rank, values = np.linalg.lstsq(a, b, rcond=None)
    close(result.solution, x, 1e-10)
    assert result.rank.item() == rank == 2
    assert result.residuals.shape == (0,)                        # not of full rank: none
    close(result.singular_values, values)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, INF, -INF])
def test_cond_matches_numpy(p, device):
    close(linalg.cond(t(SQUARE, device), p), np.linalg.cond(SQUARE, p), 1e-10)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])                 # S_min is 0 up to rounding
    batch = t(np.stack([SQUARE[0][:2, :2], singular]), device)    # one of each
    regular, of_singular = linalg.cond(batch, p).numpy()
    assert regular == pytest.approx(np.linalg.cond(SQUARE[0][:2, :2], p), rel=1e-10)
    if p in (None, 2):
        assert of_singular > 1e15
    elif p == -2:
        assert of_singular < 1e-15
    else:
        assert of_singular == INF                                 # no inverse: inf, as PyTorch


def test_cond_of_rectangles(device):
    for a in (TALL, WIDE):
        close(linalg.cond(t(a, device)), np.linalg.cond(a), 1e-10)
        close(linalg.cond(t(a, device), -2), np.linalg.cond(a, -2), 1e-10)


# --- matrix_exp against series and closed forms written here ---

def taylor_exp(a, terms=60):
    """Σ_{j<terms} Aʲ / j!, term by term (for small ‖A‖)."""
    result, term = np.broadcast_to(np.eye(a.shape[-1]), a.shape).copy(), np.broadcast_to(
        np.eye(a.shape[-1]), a.shape).copy()
    for j in range(1, terms):
        term = term @ a / j
        result = result + term
    return result


def test_matrix_exp_matches_the_taylor_series(device):
    a = 0.7 * SQUARE                                              # ‖A‖ small: the series works
    close(linalg.matrix_exp(t(a, device)), taylor_exp(a), 1e-12)
    close(t(a, device).matrix_exp(), taylor_exp(a), 1e-12)
    one = RNG.standard_normal((1, 1))
    close(linalg.matrix_exp(t(one, device)), np.exp(one))
    close(linalg.matrix_exp(t(np.zeros((2, 2)), device)), np.eye(2))
    float32 = linalg.matrix_exp(t(a, device, dtype=tg.float32))
    assert float32.dtype == tg.float32
    np.testing.assert_allclose(float32.numpy(), taylor_exp(a), rtol=1e-5, atol=1e-5)


def test_matrix_exp_of_large_matrices_against_closed_forms(device):
    sym = 3 * (SQUARE + SQUARE.swapaxes(-1, -2))                 # norms up to 20: squarings
    w, v = np.linalg.eigh(sym)
    close(linalg.matrix_exp(t(sym, device)), (v * np.exp(w)[..., None, :]) @ v.swapaxes(-1, -2),
          1e-10 * np.exp(w).max())
    angle = 30.0                                                 # exp of a rotation generator
    generator = np.array([[0.0, -angle], [angle, 0.0]])
    rotation = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    close(linalg.matrix_exp(t(generator, device)), rotation, 1e-11)
    nilpotent = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    close(linalg.matrix_exp(t(nilpotent, device)), np.eye(3) + nilpotent
          + nilpotent @ nilpotent / 2)                            # N³ = 0


# --- gradients by hand ---

def test_svdvals_gradient_at_tied_singular_values_is_finite(device):
    """An orthogonal A = A · I · I has every singular value 1 (a full tie, up to rounding);
    the gradient of Σ S is U Vᵀ = A, finite although U, V are not unique. A loss on U at an
    exact tie has no gradient: NaN marks it."""
    q, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    a = t(q, device, grad=True)
    linalg.svdvals(a).sum().backward()
    close(a.grad, q)
    b = t(q, device, grad=True)
    linalg.svd(b).S.sum().backward()
    close(b.grad, q)
    c = t(np.diag([2.0, 2.0, 1.0]), device, grad=True)           # an exact tie: S = (2, 2, 1)
    (linalg.svd(c).U * t(RNG.standard_normal((3, 3)), device)).sum().backward()
    assert np.isnan(c.grad.numpy()).any()                         # through U at a tie: none


def test_svdvals_gradient_of_a_singular_matrix(device):
    """rank one A = 5 u vᵀ: S = (5, 0), and dS₁/dA = u vᵀ (finite, no 1/0)."""
    u, v = np.array([0.6, 0.8]), np.array([0.0, 1.0, 0.0])
    a = t(5 * np.outer(u, v), device, grad=True)
    linalg.svdvals(a)[0].backward()
    close(a.grad, np.outer(u, v))


def test_svd_full_matrices_ignores_the_extra_columns(device):
    """As PyTorch: U's last m − n columns are a basis chosen at random, their gradient is
    dropped (0), and the first n columns get the reduced SVD's gradient."""
    a = t(TALL[0], device, grad=True)
    U = linalg.svd(a).U
    U[:, 3:].sum().backward()
    close(a.grad, np.zeros((4, 3)))
    b, c = t(TALL[0], device, grad=True), t(TALL[0], device, grad=True)
    (linalg.svd(b).U[:, :3] ** 2).sum().backward()
    (linalg.svd(c, full_matrices=False).U ** 2).sum().backward()
    close(b.grad, c.grad.numpy())


def test_svd_reconstruction_gradient_is_the_identity_map(device):
    """U diag(S) Vh = A, so d(Σ W ∘ (U diag(S) Vh))/dA = W, through all three outputs."""
    for a in (TALL, WIDE, SQUARE):
        weights = RNG.standard_normal(a.shape)
        x = t(a, device, grad=True)
        (reconstruction(x) * t(weights, device)).sum().backward()
        close(x.grad, weights, 1e-10)


def test_pinv_gradient_of_an_invertible_matrix_is_inv_gradient(device):
    weights = RNG.standard_normal((3, 3))
    x = t(SQUARE[0], device, grad=True)
    (linalg.pinv(x) * t(weights, device)).sum().backward()
    inverse_t = np.linalg.inv(SQUARE[0]).T
    close(x.grad, -inverse_t @ weights @ inverse_t, 1e-10)       # −A⁻ᵀ G A⁻ᵀ


def test_matrix_exp_gradient_of_the_trace(device):
    """d tr exp(A) = tr(exp(A) dA), so d tr exp(A)/dA = exp(A)ᵀ; and for a diagonal A,
    d exp(A)_ii / dA_ii = exp(a_ii)."""
    x = t(SQUARE[0], device, grad=True)
    expm = linalg.matrix_exp(x)
    (expm[0, 0] + expm[1, 1] + expm[2, 2]).backward()
    close(x.grad, expm.numpy().T, 1e-12)
    d = t(np.diag([0.5, -1.0]), device, grad=True)
    linalg.matrix_exp(d)[1, 1].backward()
    close(d.grad, [[0.0, 0.0], [0.0, np.exp(-1.0)]])


def test_lstsq_gradient_of_a_square_system_is_solve_gradient(device):
    weights = RNG.standard_normal((3, 2))
    b_values = RNG.standard_normal((3, 2))
    a, b = t(SQUARE[0], device, grad=True), t(b_values, device, grad=True)
    (linalg.lstsq(a, b).solution * t(weights, device)).sum().backward()
    grad_b = np.linalg.inv(SQUARE[0]).T @ weights                   # A⁻ᵀ G
    close(b.grad, grad_b, 1e-10)
    close(a.grad, -grad_b @ np.linalg.solve(SQUARE[0], b_values).T, 1e-10)


# --- the Tensor methods ---

def test_tensor_methods_call_linalg(device):
    spd = SQUARE[0] @ SQUARE[0].T + 3 * np.eye(3)
    x = t(SQUARE, device)
    close(x.det(), np.linalg.det(SQUARE))
    sign, logabsdet = x.slogdet()
    close(sign, np.sign(np.linalg.det(SQUARE)))
    close(logabsdet, np.log(np.abs(np.linalg.det(SQUARE))))
    close(t(spd, device).logdet(), np.log(np.linalg.det(spd)))
    close(x.inverse(), np.linalg.inv(SQUARE), 1e-10)
    close(x.matrix_power(3), np.linalg.matrix_power(SQUARE, 3))
    close(x.matrix_power(-1), np.linalg.inv(SQUARE), 1e-10)
    close(t(spd, device).cholesky(), np.linalg.cholesky(spd))
    close(t(spd, device).cholesky(upper=True), np.linalg.cholesky(spd).T)
    close(x.pinverse(), np.linalg.pinv(SQUARE), 1e-10)
    close(x.matrix_exp(), linalg.matrix_exp(x).numpy())


def test_tensor_methods_carry_gradients(device):
    x = t(SQUARE[0], device, grad=True)
    x.det().backward()
    close(x.grad, np.linalg.det(SQUARE[0]) * np.linalg.inv(SQUARE[0]).T, 1e-10)


# --- errors ---

def test_errors_name_the_function_and_the_problem(device):
    vector = t(np.ones(3), device)
    for name in ("svd", "svdvals", "qr", "pinv", "matrix_rank", "matrix_exp", "cond"):
        with pytest.raises(ValueError, match=rf"linalg\.{name}: A must be a batch of .*"
                                             r"\(3,\)"):
            getattr(linalg, name)(vector)
    rectangle = t(np.ones((2, 3)), device)
    for function in (linalg.matrix_exp, lambda a: linalg.cond(a, "fro"),
                     lambda a: linalg.pinv(a, hermitian=True)):
        with pytest.raises(ValueError, match=r"square matrices .*\(2, 3\)"):
            function(rectangle)
    with pytest.raises(TypeError, match="linalg.svd: expected a float32 or float64 tensor"):
        linalg.svd(tg.tensor(np.eye(2, dtype=np.int64), device=device))
    with pytest.raises(ValueError, match="linalg.qr: mode must be 'reduced', 'complete' or "
                                         "'r', got 'full'"):
        linalg.qr(rectangle, mode="full")
    with pytest.raises(ValueError, match="linalg.cond: p must be .*got 3"):
        linalg.cond(t(np.eye(2), device), 3)
    with pytest.raises(ValueError, match="linalg.matrix_rank: give tol, or atol and rtol"):
        linalg.matrix_rank(rectangle, 0.1, atol=0.1)
    with pytest.raises(TypeError, match="linalg.pinv: rtol must be a number or a Tensor"):
        linalg.pinv(rectangle, rtol="small")


def test_lstsq_errors(device):
    a = t(np.ones((3, 2)), device)
    with pytest.raises(ValueError, match=r"linalg.lstsq: incompatible shapes of A \(3, 2\) "
                                         r"and B \(4, 1\): B needs 3 rows"):
        linalg.lstsq(a, t(np.ones((4, 1)), device))
    with pytest.raises(ValueError, match="linalg.lstsq: driver must be 'gels', 'gelsy', "
                                         "'gelsd' or 'gelss', got 'gesvd'"):
        linalg.lstsq(a, t(np.ones((3, 1)), device), driver="gesvd")
    with pytest.raises(ValueError, match="linalg.lstsq: B must be a Tensor with at least 1"):
        linalg.lstsq(a, 1.0)


def test_qr_backward_raises_where_pytorch_cannot_differentiate(device):
    x = t(TALL[0], device, grad=True)
    with pytest.raises(RuntimeError, match="linalg.qr: the gradient of R needs Q, which "
                                           "mode='r' does not return"):
        linalg.qr(x, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match=r"linalg.qr: mode='complete' is not "
                                           r"differentiable .*\(4 > 3\)"):
        linalg.qr(x, mode="complete").Q.sum().backward()
    y = t(WIDE[0], device, grad=True)                             # m ≤ n: complete is reduced
    linalg.qr(y, mode="complete").R.sum().backward()
    assert np.isfinite(y.grad.numpy()).all()


def test_svd_of_nan_raises_linalg_error(device):
    with pytest.raises(linalg.LinAlgError, match="linalg.svd: the SVD did not converge"):
        linalg.svd(t(np.full((2, 2), np.nan), device))


def test_top_level_aliases_are_the_linalg_functions():
    a = tg.tensor(np.random.default_rng(5).standard_normal((3, 2)))
    np.testing.assert_allclose(tg.pinverse(a).numpy(), np.linalg.pinv(a.numpy()), atol=1e-12)
    np.testing.assert_allclose(tg.pinverse(a, rcond=0.99).numpy(),
                               a.pinverse(0.99).numpy())
    m = tg.tensor([[0.0, 1.0], [-1.0, 0.0]])                    # exp: rotation by 1 rad
    np.testing.assert_allclose(tg.matrix_exp(m).numpy(),
                               [[np.cos(1), np.sin(1)], [-np.sin(1), np.cos(1)]], atol=1e-6)
