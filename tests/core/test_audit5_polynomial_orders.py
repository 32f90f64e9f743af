"""Audit of tg.special's orthogonal polynomials at large orders against PyTorch's choice of
method (aten/src/ATen/native/Math.h): the Chebyshev closed forms in theta = arccos y for
n above PyTorch's thresholds and |y| < 1, the exact values at y = +-1 (x = 0 for
Laguerre), Hermite's NaN above its order limit, and the recurrence's stop at NaN outside
[-1, 1]. References: the closed forms with Python's math module, numpy.polynomial for
moderate n and for the derivatives at the edges.
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import special
from test_audit5_polynomials_bessel import _u_series  # U_n in the T basis

P = np.polynomial
F64 = tg.float64


def _t(values, device, dtype=F64, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=requires_grad)


def _closed(kind, y, n):
    """PyTorch's closed form of each Chebyshev kind at |y| < 1, by Python's math."""
    theta = math.acos(y)
    if kind == "t":
        return math.cos(n * theta)
    if kind == "u":
        return math.sin((n + 1) * theta) / math.sin(theta)
    if kind == "v":
        return math.cos((n + 0.5) * theta) / math.cos(theta / 2)
    return math.sin((n + 0.5) * theta) / math.sin(theta / 2)


def _chebyshev(kind, n):
    """The Chebyshev series of T_n, U_n, V_n = U_n - U_{n-1} or W_n = U_n + U_{n-1}."""
    if kind == "t":
        return P.Chebyshev([0] * n + [1])
    u, before = P.Chebyshev(_u_series(n)), P.Chebyshev(_u_series(n - 1))
    return {"u": u, "v": u - before, "w": u + before}[kind]


THRESHOLD = {("t", False): 6, ("u", False): 8, ("v", False): 8, ("w", False): 8,
             ("t", True): 6, ("u", True): 6, ("v", True): 6, ("w", True): 4}


@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("kind", "tuvw")
def test_huge_chebyshev_orders_take_the_closed_form_elementwise(kind, shifted, device, rng):
    """n = 1e9 and 123456789 beside small orders in one tensor: the huge ones are
    PyTorch's closed form (a recurrence of 1e9 steps would never finish), the small
    ones the polynomial itself (numpy's chebval), with n broadcast against x."""
    name = f"{'shifted_' if shifted else ''}chebyshev_polynomial_{kind}"
    y = rng.uniform(-0.98, 0.98, 4)
    x = (y + 1) / 2 if shifted else y
    y = 2 * x - 1 if shifted else x
    n = np.array([1e9, 123456789.0, 3.0, 12.0, 40.0])
    got = getattr(special, name)(_t(x[:, None], device), _t(n, device))
    assert got.shape == (4, 5) and got.dtype == F64
    got = got.numpy()
    for i, yi in enumerate(y):
        theta = math.acos(yi)
        # n = 1e9 makes the closed form ill-conditioned: one ulp of theta (NumPy's arccos
        # and the C library's differ by that) moves n*theta by n*ulp, over the denominator
        denominator = {"t": 1.0, "u": math.sin(theta), "v": math.cos(theta / 2),
                       "w": math.sin(theta / 2)}[kind]
        for j, nj in enumerate(n):
            if nj > THRESHOLD[kind, shifted]:
                expected = _closed(kind, yi, int(nj))
                tolerance = 1e-12 + 4 * (nj + 1) * math.ulp(theta) / abs(denominator)
            else:
                expected = _chebyshev(kind, int(nj))(yi)
                tolerance = 1e-12
            if nj < 100:   # (and the polynomial itself, by numpy)
                assert expected == pytest.approx(_chebyshev(kind, int(nj))(yi), abs=1e-9)
            assert abs(got[i, j] - expected) <= tolerance, (name, yi, nj)


@pytest.mark.parametrize("kind", "tuvw")
def test_closed_form_agrees_with_chebval_just_above_the_threshold(kind, device, rng):
    """Where PyTorch switches from the recurrence to the closed form (n = threshold + 1
    and a little beyond), both are the same polynomial."""
    x = np.concatenate([rng.uniform(-0.999, 0.999, 5), [0.0, -0.5]])
    for n in range(THRESHOLD[kind, False], THRESHOLD[kind, False] + 4):
        got = getattr(special, f"chebyshev_polynomial_{kind}")(_t(x, device), n).numpy()
        np.testing.assert_allclose(got, _chebyshev(kind, n)(x), rtol=1e-10, atol=1e-11)


def test_closed_form_in_float32_is_computed_in_float32(device):
    """PyTorch's float32 kernel takes cos(float(n) * acos(x)) in float32: the same here."""
    x = np.array([0.3, -0.7, 0.05], dtype=np.float32)
    got = special.chebyshev_polynomial_t(_t(x, device, tg.float32), 1000)
    assert got.dtype == tg.float32
    expected = np.cos(np.float32(1000) * np.arccos(x))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", "tuvw")
def test_gradients_of_the_closed_forms_match_finite_differences(kind, device):
    """The closed form's gradient is that of the polynomial: float64 finite differences
    at n = 25, and d/dx cos(n acos x) = n sin(n acos x) / sqrt(1 - x^2) at n = 1e6."""
    x = _t([-0.83, -0.2, 0.41, 0.9], device, requires_grad=True)
    n = _t([25.0, 11.0, 30.0, 17.0], device)
    function = getattr(special, f"chebyshev_polynomial_{kind}")
    assert tg.gradcheck(lambda x: function(x, n), [x])
    shifted = getattr(special, f"shifted_chebyshev_polynomial_{kind}")
    z = _t([0.1, 0.45, 0.8], device, requires_grad=True)
    assert tg.gradcheck(lambda z: shifted(z, 21), [z])
    if kind == "t":
        x = _t([0.3, -0.6], device, requires_grad=True)
        special.chebyshev_polynomial_t(x, 1e6).sum().backward()
        theta = np.arccos([0.3, -0.6])
        np.testing.assert_allclose(x.grad.numpy(),
                                   1e6 * np.sin(1e6 * theta) / np.sin(theta), rtol=1e-8)


def test_an_element_past_its_order_gives_no_nan_gradient(device):
    """x = 3 with n = 2 beside x = 0.5 with n = 1000: the first element's recurrence must
    not run on to overflow (0 * inf in its gradient); T_2' = 4x = 12 there."""
    x = _t([3.0, 0.5, -4.0], device, requires_grad=True)
    n = _t([2.0, 1000.0, 3.0], device)
    y = special.chebyshev_polynomial_t(x, n)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [17.0, math.cos(1000 * math.acos(0.5)), -244.0],
                               atol=1e-9)
    expected = [12.0, 1000 * math.sin(1000 * math.acos(0.5)) / math.sqrt(0.75),
                12 * 16.0 - 3]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-9)
    # the same through Legendre's recurrence (no closed form): P_2'(3) = 3x = 9
    x.grad = None
    n = _t([2.0, 400.0, 1.0], device)
    special.legendre_polynomial_p(x, n).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy()[[0, 2]], [9.0, 1.0])


@pytest.mark.parametrize("kind", "tuvw")
def test_edges_at_a_huge_order_are_pytorchs_exact_values(kind, device):
    """|x| = 1 (and x = 0, 1 for the shifted kinds) at n = 1e9 and 1e9 + 1: PyTorch's
    exact values (T: 1, +-1; U: n+1, +-(n+1); V: 1, +-(2n+1); W: 2n+1, +-1)."""
    n = np.array([1e9, 1e9 + 1])
    value = {"t": lambda m: (1.0, (-1.0) ** m), "u": lambda m: (m + 1, (-1.0) ** m * (m + 1)),
             "v": lambda m: (1.0, (-1.0) ** m * (2 * m + 1)),
             "w": lambda m: (2 * m + 1, (-1.0) ** m)}[kind]
    expected = np.array([[value(int(m))[0] for m in n], [value(int(m))[1] for m in n]])
    got = getattr(special, f"chebyshev_polynomial_{kind}")(
        _t([[1.0], [-1.0]], device), _t(n, device))
    np.testing.assert_array_equal(got.numpy(), expected)
    got = getattr(special, f"shifted_chebyshev_polynomial_{kind}")(
        _t([[1.0], [0.0]], device), _t(n, device))
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("name", ["chebyshev_polynomial_t", "chebyshev_polynomial_u",
                                  "chebyshev_polynomial_v", "chebyshev_polynomial_w",
                                  "legendre_polynomial_p", "laguerre_polynomial_l"])
def test_gradients_at_the_edges_are_the_polynomials_derivatives(name, device):
    """At y = +-1 (x = 0 for Laguerre) the value is PyTorch's constant, and the gradient
    still P_n'(x) (numpy's polyder), for orders on both sides of the closed form's."""
    edges = [0.0] if name.startswith("laguerre") else [1.0, -1.0]
    for n in (1, 2, 5, 9, 14):
        if name.startswith("chebyshev"):
            series = _chebyshev(name[-1], n)
        elif name.startswith("legendre"):
            series = P.Legendre([0] * n + [1])
        else:
            series = P.Laguerre([0] * n + [1])
        x = _t(edges, device, requires_grad=True)
        y = getattr(special, name)(x, n)
        y.sum().backward()
        np.testing.assert_allclose(y.numpy(), series(np.array(edges)), rtol=1e-13)
        np.testing.assert_allclose(x.grad.numpy(), series.deriv()(np.array(edges)),
                                   rtol=1e-12, atol=1e-12, err_msg=f"{name} n={n}")


def test_v_and_w_just_inside_the_edge_take_pytorchs_limits(device):
    """Where sin(theta/2) (V) or cos(theta/2) (W) rounds to 1, PyTorch returns the limit
    +-(2n+1) (V near -1) and 2n+1 (W near 1); also V* at x = 2^-54 (y = -1 + 2^-53)."""
    n = np.array([20.0, 21.0])
    near = -1 + 2.0 ** -53
    got = special.chebyshev_polynomial_v(_t([near], device), _t(n, device)).numpy()
    np.testing.assert_array_equal(got, [41.0, -43.0])
    got = special.chebyshev_polynomial_w(_t([1 - 2.0 ** -53], device), _t(n, device)).numpy()
    np.testing.assert_array_equal(got, [41.0, 43.0])
    got = special.shifted_chebyshev_polynomial_v(_t([2.0 ** -54], device),
                                                 _t(n, device)).numpy()
    np.testing.assert_array_equal(got, [41.0, -43.0])


def test_hermite_is_nan_above_pytorchs_order_limit(device):
    """PyTorch's getHermitianLimit: NaN for n > 128 (float32) or n > 512 (float64), for
    H and He, at once even for n = 1e9; orders at the limit still recur."""
    x64 = _t([0.3, -2.0], device)
    for name in ("hermite_polynomial_h", "hermite_polynomial_he"):
        function = getattr(special, name)
        got = function(x64, _t([513.0, 1e9], device)).numpy()
        assert np.isnan(got).all()
        got = function(_t([1e-3], device, tg.float32), _t([129.0], device, tg.float32))
        assert got.dtype == tg.float32 and np.isnan(got.numpy()).all()
    # below the limit: the polynomial (H_20, He_20 by numpy) in one call with a huge order
    got = special.hermite_polynomial_he(_t([[0.3], [-1.1]], device), _t([20.0, 1e9], device))
    expected = P.hermite_e.hermeval(np.array([0.3, -1.1]), [0] * 20 + [1])
    np.testing.assert_allclose(got.numpy()[:, 0], expected, rtol=1e-12)
    assert np.isnan(got.numpy()[:, 1]).all()
    got = special.hermite_polynomial_he(_t([0.3], device), 150).numpy()
    assert got[0] == pytest.approx(P.hermite_e.hermeval(0.3, [0] * 150 + [1]), rel=1e-10)


def test_laguerre_is_one_at_zero_and_legendre_at_its_edges_for_huge_orders(device):
    """PyTorch returns L_n(0) = 1 and P_n(+-1) = +-1 without recurring: n = 1e9 too."""
    got = special.laguerre_polynomial_l(_t([0.0, -0.0], device), 1e9).numpy()
    np.testing.assert_array_equal(got, [1.0, 1.0])
    got = special.legendre_polynomial_p(_t([[1.0], [-1.0]], device),
                                        _t([1e9, 1e9 + 1], device)).numpy()
    np.testing.assert_array_equal(got, [[1.0, 1.0], [1.0, -1.0]])


def test_outside_the_interval_a_huge_order_stops_at_nan(device):
    """|y| > 1 recurs (no closed form in PyTorch) until the value overflows to NaN
    (inf - inf), where PyTorch's loop stops: NaN for n = 1e9, at once; moderate orders
    before the overflow keep the polynomial's value (chebval)."""
    x = np.array([1.5, -2.0, 1.0001])
    n = np.array([1e9, 1e9, 40.0])
    for name in ("chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
                 "legendre_polynomial_p"):
        got = getattr(special, name)(_t(x, device), _t(n, device)).numpy()
        assert np.isnan(got[:2]).all(), name
    got = special.chebyshev_polynomial_t(_t(x, device), _t(n, device)).numpy()
    assert got[2] == pytest.approx(P.chebyshev.chebval(1.0001, [0] * 40 + [1]), rel=1e-11)
    got = special.laguerre_polynomial_l(_t([-300.0, 2.0], device), _t([1e9, 30.0], device))
    assert np.isnan(got.numpy()[0])
    assert got.numpy()[1] == pytest.approx(P.laguerre.lagval(2.0, [0] * 30 + [1]), rel=1e-11)
