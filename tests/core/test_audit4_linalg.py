"""Fourth audit of ``tg.linalg`` (beyond matmul) against PyTorch's documented rules.

Each test failed before its fix. References are NumPy formulas written here: the
pseudo-inverse solution of least squares, the Vandermonde powers x^j, the tensor
equation reshaped to a matrix solve.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from test_ops_gradcheck import host

linalg = tg.linalg


def t(values, device, requires_grad=False, dtype=tg.float64):
    return tg.tensor(np.asarray(values), dtype=dtype, device=device,
                     requires_grad=requires_grad)


def close(ours, reference, tol=1e-10):
    ours = host(ours)
    assert ours.shape == np.shape(reference)
    np.testing.assert_allclose(ours, reference, rtol=tol, atol=tol)


# --- lstsq: B has A's ndim or one fewer (PyTorch), not solve's broadcasting rule ---

@pytest.mark.parametrize("a_shape, b_shape", [((2, 4, 3), (4,)), ((4, 3), (2, 4, 2)),
                                              ((2, 2, 4, 3), (4, 1))])
def test_lstsq_rejects_b_with_other_than_as_many_dims_or_one_fewer(device, rng, a_shape,
                                                                   b_shape):
    """torch.linalg.lstsq raises unless 0 <= A.ndim - B.ndim <= 1; these were accepted
    (B broadcast as in solve)."""
    A, B = t(rng.standard_normal(a_shape), device), t(rng.standard_normal(b_shape), device)
    with pytest.raises(ValueError, match=r"lstsq: B must have as many dims as A or one "
                                         r"fewer, got A \(.*\) and B \(.*\)"):
        linalg.lstsq(A, B)


def test_lstsq_still_takes_the_shapes_pytorch_takes(device, rng):
    """B one dim shorter: a batch of vectors when it is A.shape[:-1], else a matrix whose
    batch dims broadcast (PyTorch's linalg_solve_is_vector_rhs); B of A's ndim broadcasts."""
    a = rng.standard_normal((2, 4, 3))
    pinv = np.linalg.pinv(a)                                          # (2, 3, 4)
    vectors = rng.standard_normal((2, 4))
    close(linalg.lstsq(t(a, device), t(vectors, device)).solution,
          (pinv @ vectors[..., None])[..., 0], 1e-9)
    matrix = rng.standard_normal((4, 2))                              # not A.shape[:-1]
    close(linalg.lstsq(t(a, device), t(matrix, device)).solution, pinv @ matrix, 1e-9)
    broadcast = rng.standard_normal((1, 4, 5))
    close(linalg.lstsq(t(a, device), t(broadcast, device)).solution, pinv @ broadcast, 1e-9)


# --- vander: N > 1, a 0-dim x is one point, no bool or float16 ---

@pytest.mark.parametrize("N", [0, 1])
def test_vander_needs_more_than_one_column(device, rng, N):
    """PyTorch: 'N must be greater than 1'; N = 0 and N = 1 returned (..., n, N)."""
    with pytest.raises(ValueError, match=f"vander: N must be an int greater than 1.*got {N}"):
        linalg.vander(t(rng.standard_normal((2, 3)), device), N=N)


def test_vander_of_one_point_needs_n(device):
    """x of length 1 (N = 1 by default) raises; a 0-dim x is that one point, so with N it
    gives a (1, N) matrix (PyTorch unsqueezes it); it raised for every N."""
    with pytest.raises(ValueError, match=r"vander: N must be .*got 1 for x of shape \(1,\)"):
        linalg.vander(t([2.5], device))
    close(linalg.vander(t(2.5, device), N=4), np.array([[1.0, 2.5, 2.5 ** 2, 2.5 ** 3]]))
    x = t(-1.5, device, requires_grad=True)
    linalg.vander(x, N=3).sum().backward()                           # d(1 + x + x²) = 1 + 2x
    close(x.grad, np.asarray(1 + 2 * -1.5))


def test_vander_dtypes_as_pytorch(device):
    """Integers keep their dtype (exact powers); bool and float16 raise, as PyTorch."""
    ints = linalg.vander(tg.tensor([2, -3, 5], dtype=tg.int64, device=device), N=4)
    assert ints.dtype == tg.int64
    np.testing.assert_array_equal(host(ints), np.array([2, -3, 5])[:, None] ** np.arange(4))
    for dtype in (tg.bool, tg.float16):
        with pytest.raises(TypeError, match="vander: x must be float32, float64 or an integer"):
            linalg.vander(tg.ones(3, dtype=dtype, device=device))


# --- tensorsolve: only the products of the dims must agree ---

def test_tensorsolve_needs_only_the_products_of_the_dims_to_agree(device, rng):
    """PyTorch reshapes A to (prod(B.shape), prod(A.shape[B.ndim:])): A (2, 3, 6) with B
    (3, 2) is a 6 × 6 system (A's first dims need not be B's shape); it raised."""
    a = rng.standard_normal((6, 6)) + 4 * np.eye(6)
    b = rng.standard_normal((3, 2))
    A = t(a.reshape(2, 3, 6), device, requires_grad=True)
    B = t(b, device, requires_grad=True)
    X = linalg.tensorsolve(A, B)
    close(X, np.linalg.solve(a, b.reshape(6)), 1e-10)
    # gradients: dL/dB = A⁻ᵀ G, dL/dA = −(dL/dB) Xᵀ, in the shapes of A and B
    g = rng.standard_normal(6)
    (X * t(g, device)).sum().backward()
    grad_b = np.linalg.solve(a.T, g)
    close(B.grad, grad_b.reshape(3, 2), 1e-10)
    close(A.grad, (-np.outer(grad_b, np.linalg.solve(a, b.reshape(6)))).reshape(2, 3, 6),
          1e-10)
    with pytest.raises(ValueError, match=r"tensorsolve: A \(4, 3, 6\) and B \(3, 2\): the "
                                         r"product of A's first 2 dims must equal"):
        linalg.tensorsolve(t(np.ones((4, 3, 6)), device), B)
