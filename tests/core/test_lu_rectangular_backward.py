"""The gradient of ``tg.linalg.lu`` and ``lu_factor`` for rectangular A (PyTorch's
``linalg_lu_backward``: wide m < n with U = [U1 | U2], tall m > n with L = [L1; L2]):
first and second derivatives against finite differences, the two backward modes against
each other, a hand-worked tall case, and the square case unchanged.

Matrices are well away from pivoting ties: a scaled identity block (3 I + small noise)
whose rows are shuffled, so partial pivoting swaps rows and each pivot is far ahead of
the other candidates (the pivots are constant nearby, as finite differences need).
"""

import numpy as np
import pytest

import tinygrad_opt as tg

linalg = tg.linalg

SHAPES = [(2, 3), (3, 2), (1, 4), (4, 1), (2, 3, 5), (2, 5, 3), (3, 3), (2, 3, 3)]


def shuffled(rng, shape):
    """(..., m, n) with 3 on the diagonal of its leading k × k block, noise of size 0.3
    elsewhere, then its rows shuffled (one order per matrix, never the identity for m > 1)."""
    *batch, m, n = shape
    a = 0.3 * rng.standard_normal(shape) + 3 * np.eye(m, n)
    flat = a.reshape(-1, m, n)
    for i in range(flat.shape[0]):
        order = rng.permutation(m)
        if m > 1 and (order == np.arange(m)).all():
            order = np.roll(order, 1)
        flat[i] = flat[i][order]
    return flat.reshape(shape)


def t(array, device, grad=False):
    return tg.tensor(array, dtype=tg.float64, device=device, requires_grad=grad)


def lu_parts(a):
    """L and U as one output, each flattened (P is a constant); U weighted so a factor
    swapped with the other shows."""
    _, L, U = linalg.lu(a)
    return tg.cat([L.reshape(*L.shape[:-2], -1), 2 * U.reshape(*U.shape[:-2], -1)], dim=-1)


def lu_factor_packed(a):
    return linalg.lu_factor(a).LU


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lu_gradcheck_and_gradgradcheck(shape, device):
    rng = np.random.default_rng(sum(shape))
    a = t(shuffled(rng, shape), device, grad=True)
    assert tg.autograd.gradcheck(lu_parts, (a,))
    assert tg.autograd.gradgradcheck(lu_parts, (a,))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_lu_factor_gradcheck_and_gradgradcheck(shape, device):
    rng = np.random.default_rng(sum(shape) + 1)
    a = t(shuffled(rng, shape), device, grad=True)
    assert tg.autograd.gradcheck(lu_factor_packed, (a,))
    assert tg.autograd.gradgradcheck(lu_factor_packed, (a,))
    pivots = linalg.lu_factor(a).pivots
    assert pivots.dtype == tg.int32 and not pivots.requires_grad        # PyTorch: no grad


def test_the_rows_are_really_swapped(rng):
    """The domain exercises P: every matrix of more than one row is factored with row
    swaps."""
    for shape in [shape for shape in SHAPES if shape[-2] > 1]:
        pivots = linalg.lu_factor(t(shuffled(rng, shape), "cpu")).pivots.numpy()
        k = min(shape[-2:])
        assert (pivots != np.arange(1, k + 1)).any(axis=-1).all(), shape


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 5, 3), (1, 4), (4, 1)], ids=str)
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64], ids=str)
def test_plain_backward_equals_the_recorded_one(shape, dtype, device):
    """As test_two_modes: the formula on arrays and on Tensors (create_graph) agree."""
    rng = np.random.default_rng(7)
    a = tg.tensor(shuffled(rng, shape), dtype=dtype, device=device, requires_grad=True)
    weight = tg.tensor(rng.standard_normal(shape), dtype=dtype, device=device)
    results = []
    for create_graph in (False, True):
        (grad,) = tg.autograd.grad((lu_factor_packed(a) * weight).sum(), a,
                                   create_graph=create_graph)
        assert grad.shape == a.shape and grad.dtype == dtype and grad.device == device
        assert (grad.grad_fn is None) != create_graph
        results.append(grad.numpy())
    tolerance = 1e-5 if dtype == tg.float32 else 1e-12
    np.testing.assert_allclose(results[0], results[1], rtol=tolerance, atol=tolerance)


def test_tall_column_by_hand(device):
    """A = (2, 4, 1)ᵀ: pivot 4, U = [[4]], L = (1, 1/2, 1/4)ᵀ, so L.sum() = 1 + (a₀ + a₂)/a₁:
    d/da₀ = d/da₂ = 1/4, d/da₁ = −3/16; U.sum() = a₁: gradient (0, 1, 0)."""
    a = t([[2.0], [4.0], [1.0]], device, grad=True)
    _, L, U = linalg.lu(a)
    np.testing.assert_allclose(L.numpy(), [[1.0], [0.5], [0.25]], rtol=1e-15)
    (L.sum() + 10 * U.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), [[0.25], [-3 / 16 + 10], [0.25]], rtol=1e-14)


def test_wide_row_by_hand(device):
    """A (1, n): L = [[1]], U = A, so dL/dA = G_U (and L has no gradient)."""
    a = t([[2.0, -1.0, 5.0]], device, grad=True)
    _, L, U = linalg.lu(a)
    (3 * L.sum() + (U * t([[1.0, 2.0, 3.0]], device)).sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), [[1.0, 2.0, 3.0]], rtol=1e-15)


def test_wide_gradient_matches_the_formula_in_numpy(device):
    """A (2, 3) = P L [U1 | U2]: dL/dA = P L⁻ᵀ (GU + [tril₋₁(Lᵀ GL − GU Uᵀ) U1⁻ᵀ | 0]),
    PyTorch's formula, evaluated in NumPy from the factors."""
    rng = np.random.default_rng(3)
    array = shuffled(rng, (2, 3))
    a = t(array, device, grad=True)
    P, L, U = linalg.lu(a)
    grad_l = np.tril(rng.standard_normal((2, 2)), -1)
    grad_u = np.triu(rng.standard_normal((2, 3)))
    ((L * t(grad_l, device)).sum() + (U * t(grad_u, device)).sum()).backward()
    p, lower, upper = P.numpy(), L.numpy(), U.numpy()
    np.testing.assert_allclose(p @ lower @ upper, array, rtol=1e-14)
    middle = np.tril(lower.T @ grad_l - grad_u @ upper.T, -1) @ np.linalg.inv(upper[:, :2]).T
    expected = p @ np.linalg.inv(lower).T @ (grad_u + np.pad(middle, ((0, 0), (0, 1))))
    np.testing.assert_allclose(a.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_square_gradient_matches_the_formula_in_numpy(device):
    """Square A: dL/dA = P L⁻ᵀ (tril₋₁(Lᵀ GL) + triu(GU Uᵀ)) U⁻ᵀ (unchanged)."""
    rng = np.random.default_rng(4)
    a = t(shuffled(rng, (3, 3)), device, grad=True)
    P, L, U = linalg.lu(a)
    grad_l = np.tril(rng.standard_normal((3, 3)), -1)
    grad_u = np.triu(rng.standard_normal((3, 3)))
    ((L * t(grad_l, device)).sum() + (U * t(grad_u, device)).sum()).backward()
    p, lower, upper = P.numpy(), L.numpy(), U.numpy()
    middle = np.tril(lower.T @ grad_l, -1) + np.triu(grad_u @ upper.T)
    expected = p @ np.linalg.inv(lower).T @ middle @ np.linalg.inv(upper).T
    np.testing.assert_allclose(a.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 4), (4, 2), (2, 2, 3), (2, 3, 2)], ids=str)
def test_without_pivoting(shape, device):
    """pivot=False (PyTorch on CUDA): P = I, the same formulas."""
    rng = np.random.default_rng(9)
    a = t(0.3 * rng.standard_normal(shape) + 3 * np.eye(*shape[-2:]), device, grad=True)

    def parts(x):
        _, L, U = linalg.lu(x, pivot=False)
        return tg.cat([L.reshape(*L.shape[:-2], -1), U.reshape(*U.shape[:-2], -1)], dim=-1)

    assert tg.autograd.gradcheck(parts, (a,))
    assert tg.autograd.gradgradcheck(parts, (a,))


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 3), (2, 3, 0)], ids=str)
def test_empty_matrices_have_an_empty_gradient(shape, device):
    """k = 0 (PyTorch: an empty gradient of A's shape, no error)."""
    a = t(np.zeros(shape), device, grad=True)
    _, L, U = linalg.lu(a)
    (L.sum() + U.sum() + linalg.lu_factor(a).LU.sum()).backward()
    assert a.grad.shape == a.shape
