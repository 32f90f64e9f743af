"""Audit of tg.special's orthogonal polynomials and Bessel functions and of tg.lobpcg
against PyTorch's semantics, each reference written in NumPy from its formula:
numpy.polynomial's chebval, hermval, hermeval, lagval and legval for the polynomials;
the Hankel asymptotics (e^x K_nu(x) ~ sqrt(pi/(2x)), J_0(x)^2 + Y_0(x)^2 ~ 2/(pi x), the
envelope |Ai(x)| <= |x|^(-1/4)/sqrt(pi)) for the Bessel and Airy functions at huge x;
numpy.linalg.eigh for lobpcg.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import special
from tinygrad_opt.lobpcg import lobpcg

P = np.polynomial
POLYNOMIALS = {   # name: NumPy's value of P_n(x), n a whole number >= 0
    "chebyshev_polynomial_t": lambda x, n: P.chebyshev.chebval(x, [0] * n + [1]),
    "chebyshev_polynomial_u": lambda x, n: P.chebyshev.chebval(x, _u_series(n)),
    "chebyshev_polynomial_v": lambda x, n: (P.chebyshev.chebval(x, _u_series(n))
                                            - P.chebyshev.chebval(x, _u_series(n - 1))),
    "chebyshev_polynomial_w": lambda x, n: (P.chebyshev.chebval(x, _u_series(n))
                                            + P.chebyshev.chebval(x, _u_series(n - 1))),
    "hermite_polynomial_h": lambda x, n: P.hermite.hermval(x, [0] * n + [1]),
    "hermite_polynomial_he": lambda x, n: P.hermite_e.hermeval(x, [0] * n + [1]),
    "laguerre_polynomial_l": lambda x, n: P.laguerre.lagval(x, [0] * n + [1]),
    "legendre_polynomial_p": lambda x, n: P.legendre.legval(x, [0] * n + [1]),
}


def _u_series(n):
    """U_n in the T basis: U_n = 2 (T_n + T_{n-2} + ...), minus T_0 when n is even
    (U_{-1} = 0); V_n = U_n - U_{n-1} and W_n = U_n + U_{n-1}."""
    if n < 0:
        return [0]
    coefficients = [0.0] * (n + 1)
    for k in range(n, -1, -2):
        coefficients[k] = 2.0
    if n % 2 == 0:
        coefficients[0] = 1.0
    return coefficients


def _expected(name, x, n):
    """P_n(x) elementwise by NumPy (x, n broadcast arrays, n truncated, 0 for n < 0)."""
    shifted = name.startswith("shifted_")
    base = POLYNOMIALS[name.replace("shifted_", "")]
    x = 2 * x - 1 if shifted else x
    out = np.zeros(np.broadcast(x, n).shape)
    for index in np.ndindex(out.shape):
        xi = np.broadcast_to(x, out.shape)[index]
        ni = float(np.broadcast_to(n, out.shape)[index])
        order = math.trunc(ni) if np.isfinite(ni) and abs(ni) < 2.0 ** 63 else -1
        out[index] = base(xi, order) if order >= 0 else 0.0
    return out


ALL = sorted(POLYNOMIALS) + [f"shifted_chebyshev_polynomial_{kind}" for kind in "tuvw"]


# --- the polynomials ---

@pytest.mark.parametrize("name", ALL)
def test_orders_no_int64_holds_give_zero_as_pytorchs_cast(name, device):
    """PyTorch casts n to int64; NaN, ±inf and |n| >= 2^63 become -2^63 (n < 0: P = 0).
    The finite orders of the same tensor keep their values."""
    x = np.array([[0.3], [-0.7], [1.5]])
    n = np.array([math.nan, math.inf, -math.inf, 1e30, 3.0, 2.7, -1.0])
    got = getattr(special, name)(tg.tensor(x, dtype=tg.float64, device=device),
                                 tg.tensor(n, dtype=tg.float64, device=device))
    assert got.shape == (3, 7) and got.dtype == tg.float64
    np.testing.assert_allclose(got.numpy(), _expected(name, x, n), rtol=1e-12, atol=1e-12)
    assert (got.numpy()[:, :4] == 0).all()


@pytest.mark.parametrize("kind", "tuvw")
def test_shifted_chebyshev_checks_its_operands_under_its_own_name(kind):
    name = f"shifted_chebyshev_polynomial_{kind}"
    with pytest.raises(TypeError, match=name):
        getattr(special, name)([0.25, 0.5], 3)
    # a number x with a Tensor n, as PyTorch's (Scalar x, Tensor n) overload
    n = np.array([0, 1, 4, 7])
    got = getattr(special, name)(0.3, tg.tensor(n))
    assert got.dtype == tg.float32
    np.testing.assert_allclose(got.numpy(), _expected(name, np.array(0.3), n), rtol=1e-5)


def test_values_at_and_outside_the_edges_broadcast_against_numpy(device, rng):
    """|x| = 1 (PyTorch's special cases), |x| > 1, x = 0 for Laguerre, and a (3, 1) x
    against a (5,) n with negative and fractional orders, in float64."""
    x = np.concatenate([[-1.0, 1.0, 0.0, -2.5, 3.0], rng.uniform(-1, 1, 3)])[:, None]
    n = np.array([-2.0, 0.0, 1.0, 6.9, 11.0])
    for name in ALL:
        got = getattr(special, name)(tg.tensor(x, dtype=tg.float64, device=device),
                                     tg.tensor(n, dtype=tg.float64, device=device))
        expected = _expected(name, x, n)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-11,
                                   atol=1e-11 * np.abs(expected).max(), err_msg=name)


# --- the Bessel and Airy functions at huge arguments ---

def test_scaled_k_uses_the_argument_itself_up_to_the_largest_double(device):
    """e^x K_nu(x) = sqrt(pi/(2x)) (1 + (4 nu^2 - 1)/(8x) + ...): to the last digit for
    every x from 1e250 up to the largest double."""
    x = np.array([1e250, 1e305, 1.7e308])
    for name in ("scaled_modified_bessel_k0", "scaled_modified_bessel_k1"):
        got = getattr(special, name)(tg.tensor(x, dtype=tg.float64, device=device))
        np.testing.assert_allclose(got.numpy(), np.sqrt(np.pi / 2) / np.sqrt(x), rtol=1e-14)


def test_j_and_y_keep_their_envelope_at_huge_x(device):
    """J_nu(x)^2 + Y_nu(x)^2 = 2/(pi x) (1 + O(1/x^2)): whatever the phase (x's rounding
    makes it arbitrary there), the modulus is that of x itself."""
    x = np.array([1e303, 1e305, 1e307])
    for order in (0, 1):
        t = tg.tensor(x, dtype=tg.float64, device=device)
        j = getattr(special, f"bessel_j{order}")(t).numpy()
        y = getattr(special, f"bessel_y{order}")(t).numpy()
        np.testing.assert_allclose(j * j + y * y, 2 / (np.pi * x), rtol=1e-12)


def test_airy_ai_is_nan_where_its_phase_overflows_and_bounded_before(device):
    """PyTorch's Ai for x < -2.09 takes sin and cos of (-2x)·sqrt(-x)/3 + pi/4: inf, so
    NaN, once 2|x|^(3/2) passes the largest double (x < -2.0066e205); before that the
    value stays within its envelope pi^(-1/2)·|x|^(-1/4) (1 + 1e-12)."""
    x = np.array([-1e300, -3e205, -1.9e205, -1e203, -1e150])
    got = special.airy_ai(tg.tensor(x, dtype=tg.float64, device=device)).numpy()
    assert np.isnan(got[:2]).all()
    envelope = np.abs(x[2:]) ** -0.25 / np.sqrt(np.pi)
    assert np.isfinite(got[2:]).all() and (np.abs(got[2:]) <= envelope * (1 + 1e-12)).all()


# --- lobpcg ---

def _spd(rng, m, batch=()):
    q, _ = np.linalg.qr(rng.standard_normal(batch + (m, m)))
    w = 1 + np.cumsum(rng.uniform(0.5, 1.5, batch + (m,)), axis=-1)
    a = (q * w[..., None, :]) @ q.swapaxes(-1, -2)
    return (a + a.swapaxes(-1, -2)) / 2


def test_lobpcg_of_an_empty_batch_is_empty(device, rng):
    """A (0, m, m) gives E (0, k) and X (0, m, k), as PyTorch's loop over no matrices;
    a backward through them gives zero gradients of A's shape."""
    A = tg.tensor(np.zeros((0, 12, 12)), device=device, requires_grad=True)
    E, X = lobpcg(A, k=2)
    assert E.shape == (0, 2) and X.shape == (0, 12, 2) and E.dtype == tg.float64
    (E.sum() + X.sum()).backward()
    assert A.grad.shape == (0, 12, 12)
    guess = tg.tensor(np.zeros((2, 0, 12, 3)), dtype=tg.float32, device=device)
    E, X = lobpcg(tg.tensor(np.zeros((2, 0, 12, 12)), dtype=tg.float32, device=device),
                  X=guess)
    assert E.shape == (2, 0, 3) and X.shape == (2, 0, 12, 3) and X.dtype == tg.float32
    # a non-empty batch beside it still matches eigh
    a = _spd(rng, 12, (2,))
    E, X = lobpcg(tg.tensor(a, device=device), k=2, largest=False, method="basic")
    np.testing.assert_allclose(E.numpy(), np.linalg.eigvalsh(a)[:, :2], rtol=1e-10)
