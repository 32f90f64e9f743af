"""``tg.linalg``'s triangular solves, LU, the "_ex" variants, Cholesky solves, vander and
the tensor equations: values against NumPy (and a hand-run of partial pivoting), first
and second derivatives against finite differences, the two backward modes against each
other, batches, and the errors.

``LINALG_MORE_OPS`` is this module's op table (the format of test_ops_gradcheck.OPS): it
reaches the Functions SolveTriangular and LuFactor, and every new composition. Matrices
come from domains that keep finite differences valid: well-conditioned near a signed
identity (test_linalg.invertible), and the same with its rows shuffled, so that partial
pivoting swaps rows, each pivot far ahead of the other candidates (the pivots are
constant nearby).
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from test_linalg import (SQUARE, assert_the_two_paths_agree_in_both_dtypes, draw, invertible,
                         positive_definite)
from test_ops_gradcheck import Op, each, fixed, per_input, real

linalg = tg.linalg


# --- domains ---

def shuffled(rng, shape):
    """``invertible`` with its rows in a random order: LU's pivoting undoes the shuffle."""
    a = invertible(rng, shape)
    order = rng.permutation(shape[-1])
    return a[..., order, :]


def lower_factor(rng, shape):
    """A Cholesky factor: lower triangular with a positive diagonal (and noise above it,
    which is not read)."""
    return np.abs(invertible(rng, shape))


# --- the table ---

def systems(b, n, k):
    return [(b, n, n), (b, n, k)]


SYSTEMS = fixed(systems, 3)
BROADCAST = fixed(lambda b, n, k: [(n, n), (b, 1, n, k)], 3)
RIGHT = fixed(lambda b, n, k: [(b, n, n), (b, k, n)], 3)


def lu_parts(a):
    """L + 2U: both factors of ``lu``, one output (a wrong factor shows)."""
    _, lower, upper = linalg.lu(a)
    return lower + 2 * upper


def lu_solved(a, b, **options):
    """``lu_solve`` from the factors of a."""
    LU, pivots = linalg.lu_factor(a)
    return linalg.lu_solve(LU, pivots, b, **options)


LINALG_MORE_OPS = [
    Op("solve_triangular_lower", lambda a, b: linalg.solve_triangular(a, b, upper=False), 2,
       per_input(invertible, real), SYSTEMS),
    Op("solve_triangular_upper_unit", lambda a, b: linalg.solve_triangular(
        a, b, upper=True, unitriangular=True), 2, per_input(invertible, real), SYSTEMS),
    Op("solve_triangular_right", lambda a, b: linalg.solve_triangular(
        a, b, upper=True, left=False), 2, per_input(invertible, real), RIGHT),
    Op("solve_triangular_broadcast", lambda a, b: linalg.solve_triangular(a, b, upper=False),
       2, per_input(invertible, real), BROADCAST),
    Op("solve_right", lambda a, b: linalg.solve(a, b, left=False), 2,
       per_input(invertible, real), RIGHT),
    Op("solve_right_vector", lambda a, b: linalg.solve(a, b, left=False), 2,
       per_input(invertible, real), fixed(lambda b, n: [(b, n, n), (b, n)], 2)),
    Op("cholesky_ex", lambda a: linalg.cholesky_ex((a + a.mT) * 0.5).L, 1,
       each(positive_definite), SQUARE),
    Op("inv_ex", lambda a: linalg.inv_ex(a).inverse, 1, each(invertible), SQUARE),
    Op("cholesky_solve", lambda b, l: linalg.cholesky_solve(b, l), 2,
       per_input(real, lower_factor), fixed(lambda b, n, k: [(b, n, k), (b, n, n)], 3)),
    Op("cholesky_inverse_upper", lambda l: linalg.cholesky_inverse(l.mT, upper=True), 1,
       each(lower_factor), SQUARE),
    Op("lu_factor", lambda a: linalg.lu_factor(a).LU, 1, each(shuffled), SQUARE),
    Op("lu", lu_parts, 1, each(shuffled), SQUARE),
    Op("lu_solve", lu_solved, 2, per_input(shuffled, real), SYSTEMS),
    Op("lu_solve_adjoint", lambda a, b: lu_solved(a, b, adjoint=True), 2,
       per_input(shuffled, real), SYSTEMS),
    Op("lu_solve_right", lambda a, b: lu_solved(a, b, left=False), 2,
       per_input(shuffled, real), RIGHT),
    Op("vander", lambda x: linalg.vander(x, N=4), 1,
       shapes=fixed(lambda b, n: [(b, n)], 2)),
    Op("tensorinv", lambda a: linalg.tensorinv(a.reshape(2, 2, 4), ind=2), 1,
       each(invertible), fixed(lambda: [(4, 4)], 0)),
    Op("tensorsolve", lambda a, b: linalg.tensorsolve(a.reshape(2, 2, 2, 2), b.reshape(2, 2)),
       2, per_input(invertible, real), fixed(lambda: [(4, 4), (4,)], 0)),
]

SETTINGS = settings(max_examples=3, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def test_table_names_are_unique():
    names = [op.name for op in LINALG_MORE_OPS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("op", LINALG_MORE_OPS, ids=[op.name for op in LINALG_MORE_OPS])
@SETTINGS
@given(data=st.data())
def test_gradcheck_and_gradgradcheck(op, device, data):
    inputs, _ = draw(op, device, data)
    assert tg.gradcheck(op.fn, inputs, **op.tolerance)
    assert tg.gradgradcheck(op.fn, inputs, **op.tolerance)


@pytest.mark.parametrize("op", LINALG_MORE_OPS, ids=[op.name for op in LINALG_MORE_OPS])
@settings(max_examples=1, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_array_path_equals_tensor_path(op, device, data):
    """As test_two_modes: a plain backward (arrays) and create_graph=True (Tensors) agree."""
    assert_the_two_paths_agree_in_both_dtypes(op, device, data, draw)


# --- values against NumPy ---

RNG = np.random.default_rng(11)
A = RNG.standard_normal((2, 4, 4))
B = RNG.standard_normal((2, 4, 3))


def t(array, device, grad=False):
    return tg.tensor(array, dtype=tg.float64, device=device, requires_grad=grad)


def close(tensor, expected, tol=1e-12):
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=tol, atol=tol)


def test_solve_triangular_matches_numpy_on_the_triangle(device):
    lower, upper = np.tril(A), np.triu(A)
    unit_upper = np.triu(A, 1) + np.eye(4)
    close(linalg.solve_triangular(t(A, device), t(B, device), upper=False),
          np.linalg.solve(lower, B), 1e-10)
    close(linalg.solve_triangular(t(A, device), t(B, device), upper=True),
          np.linalg.solve(upper, B), 1e-10)
    close(linalg.solve_triangular(t(A, device), t(B, device), upper=True, unitriangular=True),
          np.linalg.solve(unit_upper, B), 1e-10)
    right = B.swapaxes(-1, -2)                                         # (2, 3, 4)
    close(linalg.solve_triangular(t(A, device), t(right, device), upper=False, left=False),
          right @ np.linalg.inv(lower), 1e-10)
    one_matrix = linalg.solve_triangular(t(A[0], device), t(B, device), upper=False)
    close(one_matrix, np.linalg.solve(np.tril(A[0]), B), 1e-10)       # batch dims broadcast


def test_solve_triangular_reads_one_triangle_and_gives_it_the_gradient(device):
    a = t(A[0], device, grad=True)
    x = linalg.solve_triangular(a, t(B[0], device), upper=False)
    x.sum().backward()
    solution = np.linalg.solve(np.tril(A[0]), B[0])
    grad_b = np.linalg.solve(np.tril(A[0]).T, np.ones((4, 3)))          # T⁻ᵀ G
    close(a.grad, np.tril(-grad_b @ solution.T), 1e-10)                # 0 above the diagonal
    unit = t(A[0], device, grad=True)
    linalg.solve_triangular(unit, t(B[0], device), upper=True, unitriangular=True).sum() \
        .backward()
    assert np.all(np.tril(unit.grad.numpy()) == 0)                     # diagonal not read


def test_solve_on_the_right_matches_numpy(device):
    right = B.swapaxes(-1, -2)
    close(linalg.solve(t(A, device), t(right, device), left=False), right @ np.linalg.inv(A),
          1e-10)
    row = B[:, :, 0]                                                   # (2, 4): row vectors
    close(linalg.solve(t(A, device), t(row, device), left=False),
          np.einsum("bi,bij->bj", row, np.linalg.inv(A)), 1e-10)


def hand_run_of_partial_pivoting():
    """A 3 × 3 matrix whose partial pivoting was run by hand:
    column 0: |6| is largest → swap rows 1 and 3 → [[6, 3, 0], [2, 4, 1], [0, 1, 5]];
    l = (2/6, 0) = (1/3, 0); row 2 ← [4 − 1, 1 − 0] = [3, 1]; row 3 stays [1, 5];
    column 1: |3| ≥ |1| → no swap (pivot 2); l = 1/3; row 3 ← [5 − 1/3] = [14/3];
    column 2: pivot 3."""
    a = np.array([[0.0, 1.0, 5.0], [2.0, 4.0, 1.0], [6.0, 3.0, 0.0]])
    lu = np.array([[6.0, 3.0, 0.0], [1 / 3, 3.0, 1.0], [0.0, 1 / 3, 14 / 3]])
    return a, lu, np.array([3, 2, 3])


def test_lu_factor_matches_a_hand_run_of_partial_pivoting(device):
    a, expected_lu, expected_pivots = hand_run_of_partial_pivoting()
    LU, pivots = linalg.lu_factor(t(a, device))
    close(LU, expected_lu, 1e-15)
    assert pivots.dtype == tg.int32 and pivots.device == device
    np.testing.assert_array_equal(pivots.numpy(), expected_pivots)
    P, L, U = linalg.lu(t(a, device))
    np.testing.assert_array_equal(P.numpy(), [[0, 0, 1], [0, 1, 0], [1, 0, 0]])
    close(L, np.tril(expected_lu, -1) + np.eye(3), 1e-15)
    close(U, np.triu(expected_lu), 1e-15)


@pytest.mark.parametrize("shape", [(2, 4, 4), (3, 5), (5, 3), (2, 1, 3, 3)])
def test_lu_reconstructs_a_and_its_pieces_have_their_shapes(shape, device):
    a = RNG.standard_normal(shape)
    m, n = shape[-2:]
    k = min(m, n)
    P, L, U = linalg.lu(t(a, device))
    assert P.shape == shape[:-2] + (m, m) and L.shape == shape[:-2] + (m, k)
    assert U.shape == shape[:-2] + (k, n)
    close(P @ L @ U, a, 1e-12)
    close(L, np.tril(L.numpy()), 0)                                    # triangular
    np.testing.assert_array_equal(np.diagonal(L.numpy(), axis1=-2, axis2=-1), 1.0)
    assert np.all(np.abs(L.numpy()) <= 1 + 1e-15)                      # partial pivoting
    np.testing.assert_array_equal(P.numpy().sum(-1), 1.0)              # a permutation
    LU, pivots = linalg.lu_factor(t(a, device))
    assert pivots.shape == shape[:-2] + (k,)
    close(L, np.tril(LU.numpy(), -1)[..., :, :k] + np.eye(m, k), 0)    # LU packs L and U
    close(U, np.triu(LU.numpy())[..., :k, :], 0)


def test_lu_without_pivoting(device):
    a = invertible(RNG, (2, 3, 3))
    P, L, U = linalg.lu(t(a, device), pivot=False)
    assert P.shape == (0,)
    close(L @ U, a, 1e-12)
    LU, pivots = linalg.lu_factor(t(a, device), pivot=False)
    np.testing.assert_array_equal(pivots.numpy(), [[1, 2, 3]] * 2)


def test_lu_solve_matches_numpy(device):
    LU, pivots = linalg.lu_factor(t(A, device))
    close(linalg.lu_solve(LU, pivots, t(B, device)), np.linalg.solve(A, B), 1e-10)
    close(linalg.lu_solve(LU, pivots, t(B, device), adjoint=True),
          np.linalg.solve(A.swapaxes(-1, -2), B), 1e-10)
    right = B.swapaxes(-1, -2)
    close(linalg.lu_solve(LU, pivots, t(right, device), left=False),
          right @ np.linalg.inv(A), 1e-10)
    close(linalg.lu_solve(LU, pivots, t(right, device), left=False, adjoint=True),
          right @ np.linalg.inv(A.swapaxes(-1, -2)), 1e-10)


def test_cholesky_solve_and_inverse_match_numpy(device):
    spd = positive_definite(RNG, (2, 4, 4))
    lower = np.linalg.cholesky(spd)
    close(linalg.cholesky_solve(t(B, device), t(lower, device)), np.linalg.solve(spd, B),
          1e-10)
    close(linalg.cholesky_solve(t(B, device), t(lower.swapaxes(-1, -2), device), upper=True),
          np.linalg.solve(spd, B), 1e-10)
    close(linalg.cholesky_inverse(t(lower, device)), np.linalg.inv(spd), 1e-10)


def test_the_ex_variants_report_the_failing_index(device):
    spd = positive_definite(RNG, (3, 4, 4))
    spd[1, 2, 2] = -50.0                                # the leading 3 × 3 minor fails
    L, info = linalg.cholesky_ex(t(spd, device))
    np.testing.assert_array_equal(info.numpy(), [0, 3, 0])
    assert info.dtype == tg.int32 and info.device == device
    close(L[0], np.linalg.cholesky(spd[0]))
    assert np.isnan(L[1].numpy()).all()
    with pytest.raises(linalg.LinAlgError, match=r"order 3.*batch element \(1,\)"):
        linalg.cholesky_ex(t(spd, device), check_errors=True)
    fine = linalg.cholesky_ex(t(spd[0], device), upper=True)
    close(fine.L, np.linalg.cholesky(spd[0]).T)
    np.testing.assert_array_equal(fine.info.numpy(), 0)
    singular = np.array([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [2.0, 4.0]]])
    inverse, info = linalg.inv_ex(t(singular, device))
    np.testing.assert_array_equal(info.numpy(), [0, 2])                # u_22 = 0
    close(inverse[0], np.linalg.inv(singular[0]))
    with pytest.raises(linalg.LinAlgError, match="diagonal element 2"):
        linalg.inv_ex(t(singular, device), check_errors=True)
    np.testing.assert_array_equal(linalg.lu_factor_ex(t(singular, device)).info.numpy(),
                                  [0, 2])


def test_a_failed_matrix_of_the_ex_variants_gets_no_gradient(device):
    singular = t([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [2.0, 4.0]]], device, grad=True)
    inverse, _ = linalg.inv_ex(singular)
    inverse[0].sum().backward()
    inv = np.linalg.inv(singular.numpy()[0])
    close(singular.grad[0], -inv.T @ np.ones((2, 2)) @ inv.T)
    np.testing.assert_array_equal(singular.grad[1].numpy(), 0.0)


def test_vander_and_the_tensor_equations_match_numpy(device):
    x = RNG.standard_normal((2, 3))
    close(linalg.vander(t(x, device)), np.stack([np.vander(row, increasing=True)
                                                  for row in x]))
    close(linalg.vander(t(x[0], device), N=5), np.vander(x[0], 5, increasing=True))
    close(linalg.vander(t(x, device), N=2), np.stack([x ** 0, x], -1))
    a = invertible(RNG, (6, 6)).reshape(6, 2, 3)
    close(linalg.tensorinv(t(a, device), ind=1), np.linalg.tensorinv(a, ind=1), 1e-10)
    a = invertible(RNG, (6, 6)).reshape(2, 3, 6)
    b = RNG.standard_normal((2, 3))
    close(linalg.tensorsolve(t(a, device), t(b, device)), np.linalg.tensorsolve(a, b), 1e-10)
    moved = np.moveaxis(a, 2, 0)                                       # (6, 2, 3)
    close(linalg.tensorsolve(t(moved, device), t(b, device), dims=(0,)),
          np.linalg.tensorsolve(moved, b, axes=(0,)), 1e-10)


def test_lu_of_a_rectangular_matrix_has_a_gradient(device):
    """Wide and tall A (PyTorch's linalg_lu_backward; formerly NotImplementedError): first
    and second derivatives match finite differences (more in test_lu_rectangular_backward)."""
    rng = np.random.default_rng(5)
    for shape in [(3, 5), (5, 3)]:
        a = t(rng.standard_normal(shape), device, grad=True)
        assert tg.gradcheck(lu_parts_flat, (a,))
        assert tg.gradgradcheck(lu_parts_flat, (a,))


def lu_parts_flat(a):
    """L and 2U flattened into one output (L (m, k) and U (k, n) differ in shape)."""
    _, lower, upper = linalg.lu(a)
    return tg.cat([lower.reshape(-1), 2 * upper.reshape(-1)])


def test_errors_name_the_function_and_the_shapes(device):
    a, b = t(A, device), t(B, device)
    with pytest.raises(TypeError, match="upper"):
        linalg.solve_triangular(a, b)                                  # upper is required
    with pytest.raises(ValueError, match=r"solve_triangular.*\(2, 4, 3\).*\(2, 3, 4\)|"
                                         r"solve_triangular.*rows"):
        linalg.solve_triangular(a, b.mT, upper=True)
    with pytest.raises(ValueError, match="solve_triangular: B must be"):
        linalg.solve_triangular(a, b[0, :, 0], upper=True)             # no vectors
    with pytest.raises(ValueError, match="lu_solve: pivots"):
        linalg.lu_solve(a, t(np.ones(4), device), b)
    with pytest.raises(ValueError, match=r"lu: A must be a batch of matrices"):
        linalg.lu(t(np.ones(3), device))
    with pytest.raises(ValueError, match="vander: N must be"):
        linalg.vander(t(np.ones(3), device), N=-1)
    with pytest.raises(ValueError, match=r"tensorinv.*\(2, 3\)"):
        linalg.tensorinv(t(np.ones((2, 3)), device), ind=1)
    with pytest.raises(ValueError, match="tensorsolve"):
        linalg.tensorsolve(t(np.ones((2, 3)), device), t(np.ones(3), device))
    with pytest.raises(TypeError, match="inv_ex: expected a float32 or float64"):
        linalg.inv_ex(tg.tensor([[1, 2], [3, 4]], device=device))
