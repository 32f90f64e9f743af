"""ops/surface_more.py and the additions to tg.linalg / tg.special: values against NumPy or
Python written out from the math, gradients by float64 central differences, PyTorch's
dtypes and errors."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import linalg, special

F64 = tg.float64


def t64(values, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


# --- igamma / igammac ---

def _upper_integer_a(a: int, x: float) -> float:
    """Q(a, x) = e^−x Σ_{k<a} x^k/k! for integer a ≥ 1."""
    return math.exp(-x) * sum(x ** k / math.factorial(k) for k in range(a))


@pytest.mark.parametrize("a,x", [(1, 0.5), (3, 2.0), (5, 9.0), (10, 3.0), (2, 40.0)])
def test_igamma_integer_orders_against_the_finite_sum(a, x, device):
    P = tg.igamma(t64([a], device), t64([x], device)).numpy()[0]
    Q = tg.igammac(t64([a], device), t64([x], device)).numpy()[0]
    assert Q == pytest.approx(_upper_integer_a(a, x), rel=1e-12)
    assert P == pytest.approx(1 - _upper_integer_a(a, x), rel=1e-12, abs=1e-300)


def test_igamma_half_order_is_erf_of_the_root():
    x = np.array([0.01, 0.3, 1.0, 2.5, 7.0])
    P = tg.special.gammainc(t64(np.full(5, 0.5)), t64(x)).numpy()
    Q = tg.special.gammaincc(t64(np.full(5, 0.5)), t64(x)).numpy()
    np.testing.assert_allclose(P, [math.erf(math.sqrt(v)) for v in x], rtol=1e-12)
    np.testing.assert_allclose(Q, [math.erfc(math.sqrt(v)) for v in x], rtol=1e-12)


def test_igamma_edges_as_pytorch():
    a = t64([-1.0, 1.0, 0.0, 0.0, 2.0, math.inf, 2.0, math.inf])
    x = t64([1.0, -1.0, 1.0, 0.0, 0.0, 3.0, math.inf, math.inf])
    P = tg.igamma(a, x).numpy()
    np.testing.assert_array_equal(P, [np.nan, np.nan, 1.0, np.nan, 0.0, 0.0, 1.0, np.nan])
    Q = tg.igammac(a, x).numpy()
    np.testing.assert_array_equal(Q, [np.nan, np.nan, 0.0, np.nan, 1.0, 1.0, 0.0, np.nan])


def test_igamma_dtypes_broadcasting_and_method():
    assert tg.igamma(tg.tensor([1, 2]), tg.tensor([1, 1])).dtype == tg.float32
    assert tg.igamma(tg.tensor([1.0], dtype=F64), 2).dtype == F64
    out = tg.tensor([[1.0], [2.0]]).igammac(tg.tensor([0.5, 1.0, 2.0]))
    assert out.shape == (2, 3)
    assert out.numpy()[0, 1] == pytest.approx(math.exp(-1.0), rel=1e-6)


def test_igamma_gradient_with_respect_to_x_and_refusal_for_a(device):
    a = t64([0.7, 2.0, 4.5], device)
    x = t64([0.4, 1.5, 6.0], device, requires_grad=True)
    assert tg.gradcheck(lambda x: tg.igamma(a, x), [x])
    assert tg.gradcheck(lambda x: tg.igammac(a, x), [x])
    a.requires_grad_(True)
    with pytest.raises(NotImplementedError, match="first argument"):
        tg.igamma(a, x).sum().backward()


# --- arithmetic, copies, shifts ---

def test_rsub_narrow_copy_and_diagonal_scatter(device):
    x = t64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device)
    np.testing.assert_array_equal(tg.rsub(x, 10, alpha=2).numpy(), 10 - 2 * x.numpy())
    copy = tg.narrow_copy(x, 1, 1, 2)
    np.testing.assert_array_equal(copy.numpy(), [[2, 3], [5, 6]])
    copy[0, 0] = 99.0
    assert x.numpy()[0, 1] == 2.0
    out = tg.diagonal_scatter(x, t64([7.0, 8.0], device), 1)
    np.testing.assert_array_equal(out.numpy(), [[1, 7, 3], [4, 5, 8]])
    out = x.diagonal_scatter(t64([9.0], device), -1)
    np.testing.assert_array_equal(out.numpy(), [[1, 2, 3], [9, 5, 6]])
    with pytest.raises(ValueError, match="src of shape"):
        tg.diagonal_scatter(x, t64([1.0, 2.0, 3.0], device))


def test_diagonal_scatter_gradient_goes_to_the_places(device):
    x = t64(np.arange(24.0).reshape(2, 3, 4), device, requires_grad=True)
    src = t64(np.ones((4, 2)), device, requires_grad=True)
    weights = t64(np.arange(24.0).reshape(2, 3, 4) + 1, device)
    assert tg.gradcheck(lambda x, s: (tg.diagonal_scatter(x, s, 0, 0, 1) * weights).sum(),
                        [x, src])
    (tg.diagonal_scatter(x, src, 0, 0, 1) * weights).sum().backward()
    expected = weights.numpy().copy()
    expected[[0, 1], [0, 1], :] = 0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_bit_shifts():
    x = tg.tensor([1, -3, 8], dtype=tg.int32)
    left = tg.bitwise_left_shift(x, 2)
    np.testing.assert_array_equal(left.numpy(), [4, -12, 32])
    assert left.dtype == tg.int32
    np.testing.assert_array_equal(x.bitwise_right_shift(tg.tensor([0, 1, 3])).numpy(),
                                  [1, -2, 1])
    with pytest.raises(TypeError, match="integer"):
        tg.bitwise_left_shift(tg.tensor([1.0]), 1)


# --- dtypes, conversion, the complex API on real tensors ---

def test_can_cast_and_promote_types():
    assert tg.can_cast(tg.float64, tg.float32) and tg.can_cast(tg.int64, tg.uint8)
    assert not tg.can_cast(tg.float32, tg.int32) and not tg.can_cast(tg.int32, tg.bool_)
    assert tg.can_cast(tg.bool_, tg.int8)
    assert tg.promote_types(tg.int64, tg.float32) == tg.float32
    assert tg.promote_types(tg.uint8, tg.int8) == tg.int16
    assert tg.promote_types(tg.float16, tg.float64) == tg.float64


def test_asarray_shares_and_copies():
    array = np.arange(3.0)
    shared = tg.asarray(array)
    array[0] = 5.0
    assert shared.numpy()[0] == 5.0
    copied = tg.asarray(array, copy=True)
    array[1] = 7.0
    assert copied.numpy()[1] == 1.0
    x = tg.tensor([1.0, 2.0])
    assert tg.asarray(x) is x
    assert tg.asarray(x, dtype=F64).dtype == F64
    with pytest.raises(ValueError, match="copy=False"):
        tg.asarray(x, dtype=F64, copy=False)
    assert tg.asarray([1, 2], requires_grad=True, dtype=tg.float32).requires_grad


def test_real_tensors_answer_the_complex_api():
    x = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert tg.conj(x) is x and x.conj_physical() is x and x.resolve_conj() is x
    assert x.resolve_neg() is x and not x.is_complex() and not tg.is_conj(x)
    np.testing.assert_array_equal(x.mH.numpy(), x.numpy().T)
    np.testing.assert_array_equal(x.H.numpy(), x.numpy().T)
    np.testing.assert_array_equal(tg.adjoint(x).numpy(), x.numpy().T)
    assert tg.zeros(2, 3, 4).mH.shape == (2, 4, 3)
    with pytest.raises(ValueError, match="matrices"):
        tg.zeros(2, 3, 4).H
    with pytest.raises(ValueError, match="matrices"):
        tg.zeros(3).adjoint()


def test_sizes_flags_and_devices():
    x = tg.zeros(2, 3, dtype=F64)
    assert x.itemsize == 8 and x.nbytes == 48 and x.ndimension() == 2
    assert x.is_signed() and not tg.zeros(2, dtype=tg.uint8).is_signed()
    assert not tg.zeros(2, dtype=tg.bool_).is_signed()
    assert not x.is_cuda and x.get_device() == -1
    assert not (x.is_sparse or x.is_quantized or x.is_meta or x.is_inference())


def test_retains_grad_and_map_():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    assert not y.retains_grad and not w.retains_grad
    y.retain_grad()
    assert y.retains_grad
    x = tg.tensor([1.0, 2.0, 3.0])
    assert x.map_(tg.tensor([10.0]), lambda a, b: a * b + 1) is x
    np.testing.assert_array_equal(x.numpy(), [11, 21, 31])
    with pytest.raises(RuntimeError, match="requires grad"):
        w.map_(w, lambda a, b: a)


# --- in place ---

@pytest.mark.parametrize("name,args,reference", [
    ("sinh_", (), np.sinh), ("log1p_", (), np.log1p), ("square_", (), np.square),
    ("atan2_", (2.0,), lambda v: np.arctan2(v, 2.0)), ("hypot_", (4.0,), lambda v: np.hypot(v, 4)),
    ("fmod_", (0.7,), lambda v: np.fmod(v, 0.7)), ("tril_", (), np.tril),
    ("cumsum_", (1,), lambda v: np.cumsum(v, 1)), ("ge_", (0.5,), lambda v: v >= 0.5),
])
def test_in_place_math_writes_the_result(name, args, reference, device):
    values = np.array([[0.25, 1.5], [2.0, 0.75]])
    x = t64(values, device)
    assert getattr(x, name)(*args) is x
    np.testing.assert_allclose(x.numpy(), reference(values), rtol=1e-14)
    assert x.dtype == F64


def test_in_place_math_keeps_the_dtype_and_the_gradient():
    counts = tg.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts.divide_(2)
    counts.eq_(2)
    np.testing.assert_array_equal(counts.numpy(), [0, 1, 0])
    assert counts.dtype == tg.int64
    leaf = t64([0.5, 1.0], requires_grad=True)
    y = leaf * 1
    y.tan_()
    y.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), 1 / np.cos([0.5, 1.0]) ** 2, rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.sinh_()


def test_float_power_in_place_needs_float64():
    x = t64([2.0, 3.0])
    np.testing.assert_array_equal(x.float_power_(2).numpy(), [4.0, 9.0])
    with pytest.raises(RuntimeError, match="float64"):
        tg.tensor([2.0]).float_power_(2)


def test_shape_in_place():
    x = tg.zeros(3, 1)
    assert x.squeeze_() is x and x.shape == (3,)
    x.unsqueeze_(0)
    assert x.shape == (1, 3)
    x.t_()
    assert x.shape == (3, 1)
    y = tg.zeros(2, 3, 4)
    y.transpose_(0, 2)
    assert y.shape == (4, 3, 2)
    with pytest.raises(RuntimeError, match="requires grad"):
        tg.zeros(2, requires_grad=True).unsqueeze_(0)


# --- windows ---

@pytest.mark.parametrize("L", [0, 1, 2, 7, 8])
def test_windows_against_their_formulas(L):
    for periodic in (True, False):
        N = L if periodic else L - 1
        n = np.arange(L)
        if L > 1:
            expected = {
                "hann_window": 0.5 - 0.5 * np.cos(2 * np.pi * n / N),
                "hamming_window": 0.54 - 0.46 * np.cos(2 * np.pi * n / N),
                "blackman_window": (0.42 - 0.5 * np.cos(2 * np.pi * n / N)
                                    + 0.08 * np.cos(4 * np.pi * n / N)),
                "bartlett_window": 1 - np.abs(2 * n / N - 1),
                "kaiser_window": np.i0(12 * np.sqrt(np.clip(1 - (2 * n / N - 1) ** 2, 0, 1)))
                / np.i0(12.0),
            }
        else:
            expected = dict.fromkeys(["hann_window", "hamming_window", "blackman_window",
                                      "bartlett_window", "kaiser_window"], np.ones(L))
        for name, values in expected.items():
            window = getattr(tg, name)(L, periodic, dtype=F64)
            np.testing.assert_allclose(window.numpy(), values, rtol=1e-12, atol=1e-15)


def test_windows_symmetric_match_numpy_and_default_dtype():
    np.testing.assert_allclose(tg.hann_window(9, False, dtype=F64).numpy(), np.hanning(9),
                               atol=1e-15)
    np.testing.assert_allclose(tg.kaiser_window(9, False, beta=5.0, dtype=F64).numpy(),
                               np.kaiser(9, 5.0), rtol=1e-12)
    assert tg.hann_window(4).dtype == tg.float32
    assert tg.hamming_window(4, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="floating"):
        tg.hann_window(4, dtype=tg.int64)
    with pytest.raises(ValueError, match="non-negative"):
        tg.bartlett_window(-1)


# --- decompositions ---

def test_qr_lu_lu_unpack_and_triangular_solve(device):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3))
    Q, R = tg.qr(t64(a, device))
    assert Q.shape == (4, 3) and R.shape == (3, 3)
    np.testing.assert_allclose(Q.numpy() @ R.numpy(), a, atol=1e-12)
    assert tg.qr(t64(a, device), some=False).Q.shape == (4, 4)
    square = rng.standard_normal((2, 3, 3))
    LU, pivots, infos = tg.lu(t64(square, device), get_infos=True)
    assert infos.numpy().tolist() == [0, 0]
    P, L, U = tg.lu_unpack(LU, pivots)
    np.testing.assert_allclose(P.numpy() @ L.numpy() @ U.numpy(), square, atol=1e-12)
    assert np.allclose(np.triu(L.numpy(), 1), 0) and np.allclose(np.diagonal(
        L.numpy(), axis1=1, axis2=2), 1)
    P, L, U = tg.lu_unpack(LU, pivots, unpack_data=False)
    assert L.shape == (0,) and P.shape == (2, 3, 3)
    A = np.triu(square[0]) + 3 * np.eye(3)
    b = rng.standard_normal((3, 2))
    X, clone = tg.triangular_solve(t64(b, device), t64(A, device))
    np.testing.assert_allclose(A @ X.numpy(), b, atol=1e-12)
    np.testing.assert_array_equal(clone.numpy(), A)
    X = t64(b, device).triangular_solve(t64(A, device), transpose=True).solution
    np.testing.assert_allclose(A.T @ X.numpy(), b, atol=1e-12)


def test_linalg_tensor_methods(device):
    rng = np.random.default_rng(1)
    m = rng.standard_normal((3, 3))
    spd = m @ m.T + 3 * np.eye(3)
    L = t64(np.linalg.cholesky(spd), device)
    b = rng.standard_normal((3, 2))
    np.testing.assert_allclose(L.cholesky_inverse().numpy(), np.linalg.inv(spd), atol=1e-12)
    np.testing.assert_allclose(t64(b, device).cholesky_solve(L).numpy(),
                               np.linalg.solve(spd, b), atol=1e-12)
    LU, pivots = tg.linalg.lu_factor(t64(m, device))
    np.testing.assert_allclose(t64(b, device).lu_solve(LU, pivots).numpy(),
                               np.linalg.solve(m, b), atol=1e-12)
    U, S, V = t64(m, device).svd()
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ V.numpy().T, m, atol=1e-12)
    x = t64(rng.standard_normal((2, 5)), device)
    np.testing.assert_allclose(x.cov().numpy(), np.cov(x.numpy()), atol=1e-12)
    np.testing.assert_allclose(x.corrcoef().numpy(), np.corrcoef(x.numpy()), atol=1e-12)
    assert x.histogram(3).hist.numpy().sum() == 10


def _householder_reference(a, tau):
    m, n = a.shape
    Q = np.eye(m)
    for i in range(len(tau)):
        v = np.zeros(m)
        v[i] = 1.0
        v[i + 1:] = a[i + 1:, i]
        Q = Q @ (np.eye(m) - tau[i] * np.outer(v, v))
    return Q[:, :n]


def test_householder_product_and_orgqr(device):
    rng = np.random.default_rng(2)
    a, tau = rng.standard_normal((5, 3)), rng.standard_normal(2)
    expected = _householder_reference(a, tau)
    got = linalg.householder_product(t64(a, device), t64(tau, device))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(t64(a, device).orgqr(t64(tau, device)).numpy(), expected,
                               atol=1e-12)
    A, T = t64(a, device, True), t64(tau, device, True)
    assert tg.gradcheck(linalg.householder_product, [A, T])
    with pytest.raises(ValueError, match="householder_product"):
        linalg.householder_product(t64(a.T, device), t64(tau, device))


def test_solve_ex_and_diagonal(device):
    A = t64([[[2.0, 1.0], [1.0, 3.0]], [[1.0, 2.0], [2.0, 4.0]]], device)
    b = t64([[1.0, 2.0], [1.0, 1.0]], device)
    X, info = linalg.solve_ex(A, b)
    assert info.numpy().tolist() == [0, 2] and info.dtype == tg.int32
    np.testing.assert_allclose(X.numpy()[0], np.linalg.solve(A.numpy()[0], [1.0, 2.0]))
    assert np.isnan(X.numpy()[1]).all()
    with pytest.raises(linalg.LinAlgError, match="singular"):
        linalg.solve_ex(A, b, check_errors=True)
    A0 = t64([[2.0, 1.0], [1.0, 3.0]], device, True)
    B0 = t64([[1.0], [2.0]], device, True)
    assert tg.gradcheck(lambda A, B: linalg.solve_ex(A, B).result, [A0, B0])
    x = t64(np.arange(12.0).reshape(2, 2, 3), device)
    np.testing.assert_array_equal(linalg.diagonal(x, offset=1).numpy(), [[1, 5], [7, 11]])


# --- special ---

def _trig_reference(kind, x, n):
    theta = np.arccos(x)
    return {"u": np.sin((n + 1) * theta) / np.sin(theta),
            "v": np.cos((n + 0.5) * theta) / np.cos(theta / 2),
            "w": np.sin((n + 0.5) * theta) / np.sin(theta / 2)}[kind]


def _unit(n):
    return [0] * n + [1]


def test_polynomials_against_numpy_and_trig_forms(device):
    x = np.array([-0.9, -0.3, 0.2, 0.75])
    P = np.polynomial
    for n in range(7):
        X = t64(x, device)
        checks = [
            (special.chebyshev_polynomial_t(X, n), P.chebyshev.chebval(x, _unit(n))),
            (special.hermite_polynomial_h(X, n), P.hermite.hermval(x, _unit(n))),
            (special.hermite_polynomial_he(X, n), P.hermite_e.hermeval(x, _unit(n))),
            (special.laguerre_polynomial_l(X, n), P.laguerre.lagval(x, _unit(n))),
            (special.legendre_polynomial_p(X, n), P.legendre.legval(x, _unit(n))),
            (special.shifted_chebyshev_polynomial_t(X, n),
             P.chebyshev.chebval(2 * x - 1, _unit(n))),
        ]
        for kind in "uvw":
            checks.append((getattr(special, f"chebyshev_polynomial_{kind}")(X, n),
                           _trig_reference(kind, x, n)))
            shifted = getattr(special, f"shifted_chebyshev_polynomial_{kind}")(t64(
                (x + 1) / 2, device), n)
            checks.append((shifted, _trig_reference(kind, x, n)))
        for got, expected in checks:
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_polynomials_take_a_tensor_of_orders_and_negative_orders_give_zero():
    x = t64([0.5, 0.5, 0.5, 0.5])
    n = tg.tensor([-1, 0, 3, 2.9])
    expected = [0.0, 1.0, 4 * 0.125 - 3 * 0.5, 2 * 0.25 - 1]
    np.testing.assert_allclose(special.chebyshev_polynomial_t(x, n).numpy(), expected)
    assert special.legendre_polynomial_p(tg.tensor([1, 2]), 2).dtype == tg.float32
    assert special.hermite_polynomial_h(tg.tensor([1.0]), tg.tensor([2.0], dtype=F64)).dtype \
        == F64
    assert special.laguerre_polynomial_l(t64([[0.0], [1.0]]), tg.tensor([0, 1, 2])).shape \
        == (2, 3)


def test_polynomial_gradients(device):
    x = t64([-0.8, 0.1, 0.6], device, requires_grad=True)
    n = tg.tensor([2, 5, 3], device=device)
    for name in ("chebyshev_polynomial_t", "chebyshev_polynomial_w", "hermite_polynomial_h",
                 "laguerre_polynomial_l", "legendre_polynomial_p"):
        assert tg.gradcheck(lambda x: getattr(special, name)(x, n), [x])
    x.grad = None
    special.chebyshev_polynomial_t(x, 3).sum().backward()                # T₃' = 12x² − 3
    np.testing.assert_allclose(x.grad.numpy(), 12 * x.numpy() ** 2 - 3, rtol=1e-12)


def test_spherical_bessel_j0_and_bessel_aliases(device):
    x = np.array([0.0, 0.5, 3.0, -7.0])
    np.testing.assert_allclose(special.spherical_bessel_j0(t64(x, device)).numpy(),
                               np.sinc(x / np.pi), rtol=1e-14)
    X = t64([0.3, 1.2], device, requires_grad=True)
    assert tg.gradcheck(special.spherical_bessel_j0, [X])
    np.testing.assert_allclose(special.modified_bessel_i0(t64([0.0, 1.0])).numpy(),
                               np.i0([0.0, 1.0]), rtol=1e-14)
    assert special.modified_bessel_i1 is special.i1
