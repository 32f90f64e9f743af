"""``tg.geqrf``, ``tg.ormqr``, ``tg.linalg.ldl_factor(_ex)`` / ``ldl_solve``,
``tg.svd_lowrank``, ``tg.pca_lowrank`` and ``tg.histogramdd``: values against NumPy and
against the algorithms written out here step by step from LAPACK's reference (dgeqr2 /
dlarfg for QR, dsytf2 for Bunch-Kaufman, on LAPACK's lower-triangle storage), gradients
against finite differences, and the errors.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
from fuzzing import examples, fuzz_settings

linalg = tg.linalg
RNG = np.random.default_rng(5)


def t(array, device="cpu", grad=False, dtype=tg.float64):
    return tg.tensor(array, dtype=dtype, device=device, requires_grad=grad)


def close(tensor, expected, tol=1e-12):
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=tol, atol=tol)


# --- geqrf: Householder QR, written out as LAPACK's dgeqr2 ---

def householder_qr(a):
    """(a, tau) of one matrix by LAPACK's rule, one column at a time: α = a_ii, x below
    it, β = −sign(α)·‖(α, x)‖, τ = (β − α)/β, v = x/(α − β), then H = I − τ v vᵀ (v with
    its 1) applied to the columns on the right."""
    a = np.array(a, dtype=float)
    m, n = a.shape
    tau = np.zeros(min(m, n))
    for i in range(min(m, n)):
        alpha, x = a[i, i], a[i + 1:, i]
        if np.linalg.norm(x) == 0:
            continue
        beta = -math.copysign(1.0, alpha) * math.sqrt(alpha ** 2 + x @ x)
        tau[i] = (beta - alpha) / beta
        a[i + 1:, i] = x / (alpha - beta)
        a[i, i] = beta
        v = np.concatenate([[1.0], a[i + 1:, i]])
        a[i:, i + 1:] -= tau[i] * np.outer(v, v @ a[i:, i + 1:])
    return a, tau


def q_of(a, tau):
    """The full (m, m) Q = H₁ ⋯ H_k of one compact (a, tau)."""
    m = a.shape[0]
    q = np.eye(m)
    for i, tau_i in enumerate(tau):
        v = np.zeros(m)
        v[i], v[i + 1:] = 1.0, a[i + 1:, i]
        q = q @ (np.eye(m) - tau_i * np.outer(v, v))
    return q


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 3, 3), (1, 1)])
def test_geqrf_equals_the_householder_qr_written_out(shape, device):
    A = RNG.standard_normal(shape)
    a, tau = tg.geqrf(t(A, device))
    assert a.shape == shape and tau.shape == shape[:-2] + (min(shape[-2:]),)
    for index in np.ndindex(shape[:-2]):
        expected_a, expected_tau = householder_qr(A[index])
        close(a[index] if index else a, expected_a)
        close(tau[index] if index else tau, expected_tau)


@pytest.mark.parametrize("shape", [(6, 4), (4, 4), (4, 6)])
def test_geqrf_reflectors_and_r_rebuild_a(shape, device):
    A = RNG.standard_normal(shape)
    a, tau = (x.numpy() for x in tg.geqrf(t(A, device)))
    k = min(shape)
    q, r = q_of(a, tau), np.triu(a)[:k]
    np.testing.assert_allclose(q.T @ q, np.eye(shape[0]), atol=1e-13)  # orthogonal
    np.testing.assert_allclose(q[:, :k] @ r, A, atol=1e-13)              # Q R = A
    assert np.diag(r)[0] == pytest.approx(-np.sign(A[0, 0]) * np.linalg.norm(A[:, 0]))


def test_geqrf_round_trips_through_householder_product_and_orgqr(device):
    A = RNG.standard_normal((2, 5, 3))
    a, tau = tg.geqrf(t(A, device))
    Q = linalg.householder_product(a, tau)
    R = a.triu()[..., :3, :]
    close(Q @ R, A)
    close(tg.orgqr(a, tau), Q.numpy())
    np.testing.assert_allclose(abs(R.numpy()), abs(np.linalg.qr(A)[1]), atol=1e-12)  # ± rows


def test_geqrf_leaves_a_column_that_is_already_reduced():
    A = np.array([[2.0, 1.0], [0.0, 3.0], [0.0, 4.0]])                  # column 0: x = 0
    a, tau = tg.geqrf(t(A))
    assert tau.numpy()[0] == 0 and a.numpy()[0, 0] == 2.0
    close(a, householder_qr(A)[0])


def test_geqrf_has_no_derivative(device):
    A = t(RNG.standard_normal((4, 3)), device, grad=True)
    a, tau = tg.geqrf(A)
    assert a.requires_grad and tau.requires_grad
    with pytest.raises(RuntimeError, match="derivative for 'geqrf' is not implemented"):
        a.sum().backward()
    with pytest.raises(RuntimeError, match="derivative for 'geqrf' is not implemented"):
        tg.grad(tau.sum(), [A])
    with tg.no_grad():
        assert not tg.geqrf(A).a.requires_grad


def test_geqrf_checks_its_input():
    with pytest.raises(ValueError, match="geqrf"):
        tg.geqrf(t(np.ones(3)))
    with pytest.raises(TypeError, match="geqrf"):
        tg.geqrf(tg.tensor([[1, 2], [3, 4]]))


# --- ormqr ---

@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [True, False])
def test_ormqr_multiplies_by_the_q_built_by_hand(left, transpose, device):
    A = RNG.standard_normal((5, 3))
    a, tau = householder_qr(A)
    q = q_of(a, tau)                                                     # (5, 5)
    op = q.T if transpose else q
    other = RNG.standard_normal((5, 2)) if left else RNG.standard_normal((2, 5))
    expected = op @ other if left else other @ op
    close(tg.ormqr(t(a, device), t(tau, device), t(other, device), left=left,
                   transpose=transpose), expected)


def test_ormqr_on_a_batch_and_from_geqrf(device):
    A = RNG.standard_normal((2, 4, 4))
    other = RNG.standard_normal((2, 4, 3))
    a, tau = tg.geqrf(t(A, device))
    R = a.triu()
    close(tg.ormqr(a, tau, R), A)                                       # Q R = A
    close(tg.ormqr(a, tau, t(A, device), transpose=True), R.numpy())   # Qᵀ A = R
    expected = np.stack([q_of(*householder_qr(A[i])) @ other[i] for i in range(2)])
    close(tg.ormqr(a, tau, t(other, device)), expected)


@pytest.mark.parametrize("left,transpose", [(True, False), (True, True), (False, False),
                                            (False, True)])
def test_ormqr_gradcheck(left, transpose):
    a, tau = householder_qr(RNG.standard_normal((4, 2)))
    other = RNG.standard_normal((4, 3)) if left else RNG.standard_normal((3, 4))
    inputs = [t(a, grad=True), t(tau, grad=True), t(other, grad=True)]
    assert tg.gradcheck(lambda x, y, z: tg.ormqr(x, y, z, left=left, transpose=transpose),
                        inputs)


def test_ormqr_reads_only_below_the_diagonal():
    a, tau = householder_qr(RNG.standard_normal((4, 3)))
    x = t(a, grad=True)
    tg.ormqr(x, t(tau), t(RNG.standard_normal((4, 2)))).sum().backward()
    assert np.all(np.triu(x.grad.numpy()) == 0)


def test_ormqr_checks_shapes():
    a, tau = t(np.ones((4, 3))), t(np.ones(3))
    with pytest.raises(ValueError, match="ormqr"):
        tg.ormqr(a, tau, t(np.ones((5, 2))))
    with pytest.raises(ValueError, match="ormqr"):
        tg.ormqr(a, tau, t(np.ones((2, 5))), left=False)
    with pytest.raises(ValueError, match="ormqr"):
        tg.ormqr(t(np.ones((3, 4))), tau, t(np.ones((3, 2))))


# --- LDLᵀ: LAPACK's dsytf2 (lower) written out on its lower-triangle storage ---

ALPHA = (1 + math.sqrt(17)) / 8


def dsytf2_lower(a):
    """(LD, pivots, info) as LAPACK's dsytf2 with uplo 'L', loop for loop: only the lower
    triangle is read and written; the swaps exchange stored entries as dswap does."""
    a = np.tril(np.array(a, dtype=float))
    n = len(a)
    ipiv = np.zeros(n, dtype=int)
    info, k = 0, 0
    while k < n:
        step, absakk = 1, abs(a[k, k])
        imax, colmax = k, 0.0
        if k < n - 1:
            imax = k + 1 + int(np.argmax(np.abs(a[k + 1:, k])))
            colmax = abs(a[imax, k])
        if max(absakk, colmax) == 0 or math.isnan(absakk):
            info = info or k + 1
            ipiv[k] = k + 1
            k += 1
            continue
        if absakk >= ALPHA * colmax:
            kp = k
        else:
            rowmax = max(abs(a[imax, j]) for j in range(k, imax))        # row imax, left
            if imax < n - 1:
                rowmax = max(rowmax, np.abs(a[imax + 1:, imax]).max())   # column imax, below
            if absakk >= ALPHA * colmax * (colmax / rowmax):
                kp = k
            elif abs(a[imax, imax]) >= ALPHA * rowmax:
                kp = imax
            else:
                kp, step = imax, 2
        kk = k + step - 1
        if kp != kk:
            for i in range(kp + 1, n):
                a[i, kk], a[i, kp] = a[i, kp], a[i, kk]
            for j in range(kk + 1, kp):
                a[j, kk], a[kp, j] = a[kp, j], a[j, kk]
            a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]
            if step == 2:
                a[k + 1, k], a[kp, k] = a[kp, k], a[k + 1, k]
        if step == 1:
            d11 = 1 / a[k, k]
            for j in range(k + 1, n):
                for i in range(j, n):
                    a[i, j] -= d11 * a[i, k] * a[j, k]
            a[k + 1:, k] *= d11
            ipiv[k] = kp + 1
        else:
            d21 = a[k + 1, k]
            d11, d22 = a[k + 1, k + 1] / d21, a[k, k] / d21
            d21 = (1 / (d11 * d22 - 1)) / d21
            for j in range(k + 2, n):
                wk = d21 * (d11 * a[j, k] - a[j, k + 1])
                wkp1 = d21 * (d22 * a[j, k + 1] - a[j, k])
                for i in range(j, n):
                    a[i, j] -= a[i, k] * wk + a[i, k + 1] * wkp1
                a[j, k], a[j, k + 1] = wk, wkp1
            ipiv[k] = ipiv[k + 1] = -(kp + 1)
        k += step
    return a, ipiv, info


def rebuild(ld, pivots):
    """A = L D Lᵀ from LAPACK's storage: L = P₁ L₁ P₂ L₂ ⋯, each P_k the swap of the block
    at k and L_k the identity with the block's multipliers below it; D block diagonal."""
    n = len(ld)
    L, D, k = np.eye(n), np.zeros((n, n)), 0
    while k < n:
        step = 1 if pivots[k] > 0 else 2
        swap = abs(pivots[k]) - 1
        P = np.eye(n)
        P[[k + step - 1, swap]] = P[[swap, k + step - 1]]
        block = np.eye(n)
        block[k + step:, k:k + step] = ld[k + step:, k:k + step]
        D[k:k + step, k:k + step] = np.tril(ld[k:k + step, k:k + step])
        D[k, k + step - 1] = D[k + step - 1, k]
        L = L @ P @ block
        k += step
    return L @ D @ L.T


def indefinite(rng, n, diagonal=0.05):
    """A symmetric matrix with a small diagonal: Bunch-Kaufman takes 2×2 blocks."""
    a = rng.standard_normal((n, n))
    a = a + a.T
    a[np.diag_indices(n)] = diagonal * rng.standard_normal(n)
    return a


MATRICES = {
    "swap_2x2": np.array([[0.0, 1.0], [1.0, 0.0]]),
    "definite": np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]),
    "swap_1x1": np.array([[0.1, 1.0, 0.0], [1.0, 5.0, 0.0], [0.0, 0.0, 1.0]]),
    "indefinite_6": indefinite(np.random.default_rng(1), 6),
    "indefinite_9": indefinite(np.random.default_rng(2), 9),
}


@pytest.mark.parametrize("name", sorted(MATRICES))
def test_ldl_factor_equals_dsytf2_written_out(name, device):
    A = MATRICES[name]
    noise_above = A + np.triu(RNG.standard_normal(A.shape), 1)           # not read
    LD, pivots, info = linalg.ldl_factor_ex(t(noise_above, device))
    expected_ld, expected_pivots, expected_info = dsytf2_lower(A)
    close(LD, expected_ld, 1e-12)
    assert pivots.dtype == tg.int32 and info.dtype == tg.int32
    np.testing.assert_array_equal(pivots.numpy(), expected_pivots)
    assert int(info.numpy()) == expected_info == 0
    np.testing.assert_allclose(rebuild(LD.numpy(), pivots.numpy()), A, atol=1e-12)


def test_ldl_pivots_signs():
    assert linalg.ldl_factor(t(MATRICES["swap_2x2"])).pivots.numpy().tolist() == [-2, -2]
    assert linalg.ldl_factor(t(MATRICES["definite"])).pivots.numpy().tolist() == [1, 2, 3]
    assert linalg.ldl_factor(t(MATRICES["swap_1x1"])).pivots.numpy().tolist() == [2, 2, 3]
    pivots = linalg.ldl_factor(t(MATRICES["indefinite_9"])).pivots.numpy()
    assert (pivots < 0).any()                                            # 2×2 blocks met
    negative = np.flatnonzero(pivots < 0)
    assert len(negative) % 2 == 0 and np.all(pivots[negative[::2]] == pivots[negative[1::2]])


def test_ldl_factor_matches_pytorchs_documented_example():
    A = np.array([[7.2079, 4.2414, 1.9428], [4.2414, 3.4554, 0.3264],
                  [1.9428, 0.3264, 1.3823]])
    LD, pivots = linalg.ldl_factor(t(A))
    expected = [[7.2079, 0, 0], [0.5884, 0.9595, 0], [0.2695, -0.8513, 0.1633]]
    np.testing.assert_allclose(LD.numpy(), expected, atol=2e-4)
    assert pivots.numpy().tolist() == [1, 2, 3]


def test_ldl_factor_on_a_batch_and_in_float32(device):
    A = np.stack([MATRICES["indefinite_6"], indefinite(np.random.default_rng(3), 6)])
    LD, pivots = linalg.ldl_factor(t(A, device, dtype=tg.float32))
    assert LD.dtype == tg.float32 and LD.shape == (2, 6, 6) and pivots.shape == (2, 6)
    for i in range(2):
        expected_ld, expected_pivots, _ = dsytf2_lower(A[i].astype(np.float32))
        np.testing.assert_array_equal(pivots.numpy()[i], expected_pivots)
        np.testing.assert_allclose(LD.numpy()[i], expected_ld, atol=1e-4)


@pytest.mark.parametrize("name", sorted(MATRICES))
def test_ldl_solve_matches_numpy(name, device):
    A = MATRICES[name]
    B = RNG.standard_normal((len(A), 3))
    LD, pivots = linalg.ldl_factor(t(A, device))
    close(linalg.ldl_solve(LD, pivots, t(B, device)), np.linalg.solve(A, B), 1e-10)


def test_ldl_solve_broadcasts_batch_dims(device):
    A = np.stack([indefinite(np.random.default_rng(i), 5) for i in range(3)])
    B = RNG.standard_normal((5, 2))
    LD, pivots = linalg.ldl_factor(t(A, device))
    X = linalg.ldl_solve(LD, pivots, t(B, device))
    assert X.shape == (3, 5, 2)
    close(X, np.linalg.solve(A, B), 1e-10)


@fuzz_settings(examples("LDL_FUZZ_EXAMPLES", 20))
@given(n=st.integers(1, 7), seed=st.integers(0, 2**32 - 1),
       diagonal=st.sampled_from([0.0, 0.05, 1.0, 5.0]))
def test_ldl_rebuilds_and_solves_random_symmetric_matrices(n, seed, diagonal):
    rng = np.random.default_rng(seed)
    A = indefinite(rng, n, diagonal)
    if abs(np.linalg.det(A)) < 1e-6:
        return
    LD, pivots = linalg.ldl_factor(t(A))
    expected_ld, expected_pivots, _ = dsytf2_lower(A)
    np.testing.assert_array_equal(pivots.numpy(), expected_pivots)
    np.testing.assert_allclose(LD.numpy(), expected_ld, atol=1e-9)
    np.testing.assert_allclose(rebuild(LD.numpy(), pivots.numpy()), A, atol=1e-9)
    B = rng.standard_normal((n, 2))
    np.testing.assert_allclose(linalg.ldl_solve(LD, pivots, t(B)).numpy(),
                               np.linalg.solve(A, B), rtol=1e-6, atol=1e-6)


def test_ldl_info_and_errors_for_a_singular_d(device):
    A = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    LD, pivots, info = linalg.ldl_factor_ex(t(A, device))
    expected_ld, expected_pivots, expected_info = dsytf2_lower(A)
    assert int(info.numpy()) == expected_info == 2
    np.testing.assert_array_equal(pivots.numpy(), expected_pivots)
    close(LD, expected_ld)
    with pytest.raises(linalg.LinAlgError, match="element 2"):
        linalg.ldl_factor_ex(t(A, device), check_errors=True)
    with pytest.raises(linalg.LinAlgError, match="ldl_factor"):
        linalg.ldl_factor(t(A, device))


def test_ldl_has_no_derivative(device):
    A = t(MATRICES["indefinite_6"], device, grad=True)
    LD, pivots = linalg.ldl_factor(A)
    assert LD.requires_grad and not pivots.requires_grad
    with pytest.raises(RuntimeError, match="derivative for 'linalg_ldl_factor_ex'"):
        LD.sum().backward()
    B = t(RNG.standard_normal((6, 2)), device, grad=True)
    X = linalg.ldl_solve(LD.detach(), pivots, B)
    with pytest.raises(RuntimeError, match="derivative for 'linalg_ldl_solve'"):
        X.sum().backward()


def test_ldl_checks_its_inputs():
    with pytest.raises(ValueError, match="ldl_factor"):
        linalg.ldl_factor(t(np.ones((2, 3))))
    LD, pivots = linalg.ldl_factor(t(MATRICES["definite"]))
    with pytest.raises(ValueError, match="pivots"):
        linalg.ldl_solve(LD, pivots[:2], t(np.ones((3, 1))))
    with pytest.raises(ValueError, match="B must"):
        linalg.ldl_solve(LD, pivots, t(np.ones((2, 1))))


# --- randomized low-rank SVD and PCA ---

def low_rank(rng, shape, rank):
    return rng.standard_normal(shape[:-1] + (rank,)) @ rng.standard_normal(
        shape[:-2] + (rank, shape[-1]))


@pytest.mark.parametrize("shape,rank,q", [((10, 6), 3, 4), ((6, 10), 2, 2), ((2, 8, 5), 3, 3),
                                          ((7, 7), 5, 6)])
def test_svd_lowrank_is_exact_for_a_matrix_of_rank_at_most_q(shape, rank, q, device):
    A = low_rank(RNG, shape, rank)
    U, S, V = tg.svd_lowrank(t(A, device), q=q)
    assert U.shape == shape[:-1] + (q,) and V.shape == shape[:-2] + (shape[-1], q)
    rebuilt = (U.numpy() * S.numpy()[..., None, :]) @ V.numpy().swapaxes(-1, -2)
    np.testing.assert_allclose(rebuilt, A, atol=1e-10)
    expected = np.linalg.svd(A, compute_uv=False)[..., :q]
    np.testing.assert_allclose(S.numpy(), expected, atol=1e-10)
    np.testing.assert_allclose(U.numpy().swapaxes(-1, -2) @ U.numpy(), np.eye(q)
                               * np.ones(shape[:-2] + (1, 1)), atol=1e-10)


def test_svd_lowrank_subtracts_m_and_is_seeded(device):
    A = low_rank(RNG, (9, 6), 2)
    mean = RNG.standard_normal((1, 6))
    U, S, V = tg.svd_lowrank(t(A + mean, device), q=2, M=t(mean, device))
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ V.numpy().T, A, atol=1e-10)
    full = RNG.standard_normal((9, 6))
    tg.manual_seed(3)
    first = tg.svd_lowrank(t(full, device), q=2, niter=0)[1].numpy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.svd_lowrank(t(full, device), q=2, niter=0)[1].numpy(), first)
    assert np.all(first <= np.linalg.svd(full, compute_uv=False)[:2] + 1e-12)


@pytest.mark.parametrize("niter", [0, 1, 3])
def test_svd_lowrank_follows_halkos_algorithm_written_out(niter, device):
    """Halko et al.'s Algorithms 4.4 and 5.1 in NumPy, from the same Gaussian Ω (n, q)
    (the first draw after ``tg.manual_seed``), on a full-rank matrix: S is approximate
    and depends on every subspace iteration."""
    A = RNG.standard_normal((8, 5)) * np.array([3.0, 2.0, 1.0, 0.9, 0.8])
    tg.manual_seed(7)
    omega = tg.randn(5, 2, dtype=tg.float64).numpy()
    Q = np.linalg.qr(A @ omega)[0]
    for _ in range(niter):
        Q = np.linalg.qr(A.T @ Q)[0]
        Q = np.linalg.qr(A @ Q)[0]
    expected = np.linalg.svd(Q.T @ A, compute_uv=False)
    tg.manual_seed(7)
    U, S, V = tg.svd_lowrank(t(A, device), q=2, niter=niter)
    np.testing.assert_allclose(S.numpy(), expected, rtol=1e-10)
    if niter == 0:                      # one pass only approximates the top singular values
        assert not np.allclose(S.numpy(), np.linalg.svd(A, compute_uv=False)[:2])


def test_svd_lowrank_gradcheck():
    A = t(RNG.standard_normal((6, 4)), grad=True)

    def seeded(a):
        tg.manual_seed(1)
        U, S, V = tg.svd_lowrank(a, q=2, niter=1)
        return (U * S) @ V.T                                             # sign-free

    assert tg.gradcheck(seeded, [A])


def test_pca_lowrank_centers_the_columns(device):
    A = low_rank(RNG, (12, 5), 3) + RNG.standard_normal((1, 5)) * 10
    centered = A - A.mean(axis=0, keepdims=True)
    U, S, V = tg.pca_lowrank(t(A, device), q=3)
    np.testing.assert_allclose(S.numpy(), np.linalg.svd(centered, compute_uv=False)[:3],
                               atol=1e-9)
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ V.numpy().T, centered, atol=1e-9)
    S_raw = tg.pca_lowrank(t(A, device), q=4, center=False)[1]
    np.testing.assert_allclose(S_raw.numpy(), np.linalg.svd(A, compute_uv=False)[:4],
                               atol=1e-9)
    assert tg.pca_lowrank(t(A, device))[1].shape == (5,)                # q = min(6, m, n)


def test_pca_lowrank_checks_q_and_niter():
    with pytest.raises(ValueError, match="q"):
        tg.pca_lowrank(t(np.ones((4, 3))), q=4)
    with pytest.raises(ValueError, match="niter"):
        tg.pca_lowrank(t(np.ones((4, 3))), niter=-1)


# --- histogramdd ---

def test_histogramdd_matches_numpy(device):
    points = RNG.standard_normal((50, 3))
    hist, edges = tg.histogramdd(t(points, device), bins=[2, 3, 4])
    expected, expected_edges = np.histogramdd(points, bins=[2, 3, 4])
    close(hist, expected)
    assert len(edges) == 3
    for edge, expected_edge in zip(edges, expected_edges):
        close(edge, expected_edge)
    assert not hist.requires_grad


def test_histogramdd_with_range_weights_density_and_edges(device):
    points = RNG.uniform(-1, 2, (4, 10, 2))                              # (..., D)
    flat = points.reshape(-1, 2)
    weight = RNG.uniform(0, 1, (4, 10))
    hist, _ = tg.histogramdd(t(points, device), 3, range=[0.0, 1.0, -1.0, 1.0],
                             weight=t(weight, device), density=True)
    expected, _ = np.histogramdd(flat, bins=3, range=[(0, 1), (-1, 1)],
                                 weights=weight.reshape(-1), density=True)
    close(hist, expected)
    bins = [np.array([-1.0, 0.0, 0.5, 2.0]), np.array([-1.0, 2.0])]
    hist, edges = tg.histogramdd(t(points, device), [t(b, device) for b in bins])
    close(hist, np.histogramdd(flat, bins=bins)[0])
    close(edges[0], bins[0])


def test_histogramdd_float32_and_a_single_value():
    hist, edges = tg.histogramdd(t(np.full((3, 2), 2.0), dtype=tg.float32), 2)
    assert hist.dtype == tg.float32 and edges[0].dtype == tg.float32
    close(edges[0], [1.5, 2.0, 2.5])
    close(hist, [[0, 0], [0, 3]])


def test_histogramdd_checks_its_arguments():
    points = t(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="bins"):
        tg.histogramdd(points, [2, 2, 2])
    with pytest.raises(ValueError, match="range"):
        tg.histogramdd(points, 2, range=[0, 1])
    with pytest.raises(ValueError, match="weight"):
        tg.histogramdd(points, 2, weight=t(np.ones(3)))
    with pytest.raises(TypeError, match="histogramdd"):
        tg.histogramdd(t(np.zeros(4)), 2)
