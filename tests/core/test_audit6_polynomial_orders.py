"""Audit of tg.special's orthogonal polynomials at huge orders: the recurrence of each kind
runs compiled per element (ops/polynomials.py: Recurrence, with Numba, on the CPU and
strict devices), as PyTorch's C loop in aten/src/ATen/native/Math.h, so that n = 1e6 takes
milliseconds instead of minutes. References: the readable recurrence (forced by
COMPILED_FROM_ORDER), PyTorch's loops written out in plain Python/NumPy, and closed forms
(P_n(0), cosh/sinh forms of T_n and U_n outside [-1, 1]).
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import special
from tinygrad_opt.ops import polynomials

pytest.importorskip("numba")   # the compiled path is the `fast` extra's

NAMES = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
         "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
         "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
         "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
         "laguerre_polynomial_l", "legendre_polynomial_p"]
DTYPES = {"float32": tg.float32, "float64": tg.float64}


def _t(values, device, dtype=tg.float64, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=requires_grad)


def _both_paths(monkeypatch, function):
    """function() by the readable recurrence, then by the compiled one."""
    monkeypatch.setattr(polynomials, "COMPILED_FROM_ORDER", 10 ** 12)
    readable = function()
    monkeypatch.setattr(polynomials, "COMPILED_FROM_ORDER", 0)
    return readable, function()


def _inputs(name, rng):
    x = rng.uniform(-1.3, 1.3, (5, 1))
    if name.startswith("shifted"):
        x = (x + 1) / 2
    if name.startswith("laguerre"):
        x = rng.uniform(-2.0, 6.0, (5, 1))
    n = np.concatenate([[0, 1, 2, 3], rng.integers(4, 201, 4)]).astype(np.float64)
    return x, n


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_compiled_recurrence_equals_the_readable_one(name, dtype, device, rng, monkeypatch):
    """Random x (inside and outside [-1, 1], where the recurrence runs to overflow and NaN)
    against n up to 200 broadcast: the compiled loop takes PyTorch's operations in its
    order, so its values are the readable recurrence's, in float32 and float64."""
    x, n = _inputs(name, rng)
    function = getattr(special, name)
    readable, compiled = _both_paths(
        monkeypatch,
        lambda: function(_t(x, device, DTYPES[dtype]), _t(n, device, DTYPES[dtype])).numpy())
    assert compiled.shape == (5, 8) and compiled.dtype == np.dtype(dtype)
    rtol = 1e-13 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(compiled, readable, rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", ["legendre_polynomial_p", "laguerre_polynomial_l",
                                  "hermite_polynomial_he", "chebyshev_polynomial_t",
                                  "shifted_chebyshev_polynomial_w"])
def test_compiled_gradients_equal_the_readable_ones(name, device, rng, monkeypatch):
    """The gradient with respect to x (ours; PyTorch's x is non_differentiable) is the
    recurrence's derivative on both paths, and the compiled one passes float64 finite
    differences to second order (backward runs the kernel for P_n'' and so on)."""
    x = {"laguerre_polynomial_l": [0.5, 2.0, 4.5], "shifted_chebyshev_polynomial_w":
         [0.1, 0.45, 0.8]}.get(name, [-0.83, 0.41, 0.9]) + rng.uniform(-0.01, 0.01, 3)
    n = np.array([4.0, 7.0, 10.0])
    function = getattr(special, name)

    def gradient():
        xt = _t(x, device, requires_grad=True)
        function(xt, _t(n, device)).sum().backward()
        return xt.grad.numpy()

    readable, compiled = _both_paths(monkeypatch, gradient)
    np.testing.assert_allclose(compiled, readable, rtol=1e-10, atol=1e-12)
    xt = _t(x, device, requires_grad=True)   # (COMPILED_FROM_ORDER is 0 here)
    assert tg.gradcheck(lambda v: function(v, _t(n, device)), [xt])
    assert tg.gradgradcheck(lambda v: function(v, _t(n, device)), [xt])


def _legendre_at_zero(n):
    """P_n(0) = (-1)^(n/2) C(n, n/2) / 2^n for even n, 0 for odd n."""
    if n % 2:
        return 0.0
    log = math.lgamma(n + 1) - 2 * math.lgamma(n / 2 + 1) - n * math.log(2)
    return (-1) ** (n // 2) * math.exp(log)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_legendre_at_a_million_finishes_with_known_values(dtype, device):
    """n = 1e6 and 1e6 + 1 against x = 0, +-1 and 0.5, with n a tensor broadcast against
    x: P_n(0) by its closed form, P_n(+-1) = (+-1)^n, and small orders beside (n < 0: 0,
    n = 7 by numpy's legval). The readable recurrence took minutes here."""
    x = np.array([[0.0], [1.0], [-1.0], [0.5]])
    n = np.array([1e6, 1e6 + 1, 7.0, -3.0])
    got = special.legendre_polynomial_p(_t(x, device, DTYPES[dtype]),
                                        _t(n, device, DTYPES[dtype]))
    assert got.shape == (4, 4) and got.dtype == DTYPES[dtype]
    got = got.numpy().astype(np.float64)
    seven = np.polynomial.legendre.legval(x[:, 0], [0] * 7 + [1])
    expected = np.array([[_legendre_at_zero(10 ** 6), 0.0, seven[0], 0.0],
                         [1.0, 1.0, 1.0, 0.0], [1.0, -1.0, -1.0, 0.0],
                         [np.nan, np.nan, seven[3], 0.0]])
    known = ~np.isnan(expected)
    tolerance = 1e-9 if dtype == "float64" else 2e-3
    np.testing.assert_allclose(got[known], expected[known], rtol=tolerance, atol=1e-12)
    assert abs(got[3, 0]) < math.sqrt(2 / (math.pi * 1e6 * math.sin(math.pi / 3))) * 1.01


@pytest.mark.parametrize("kind", ["t", "u"])
def test_chebyshev_just_outside_the_interval_at_a_million(kind, device):
    """|x| = 1 + 2^-23 takes the recurrence (PyTorch's closed form needs |x| < 1), which
    overflows only after ~1.4e6 steps: n = 1e6 and 1e6 + 1 agree with T_n(x) = cosh(n t),
    U_n(x) = sinh((n+1) t) / sinh t, t = arccosh x, and their parity at -x. (The
    recurrence's own rounding grows to about n eps / t = 2e-7 relative here.)"""
    x = 1 + 2.0 ** -23
    n = np.array([1e6, 1e6 + 1])
    got = getattr(special, f"chebyshev_polynomial_{kind}")(
        _t([[x], [-x]], device), _t(n, device)).numpy()
    t = math.acosh(x)
    value = (lambda m: math.cosh(m * t)) if kind == "t" else (
        lambda m: math.sinh((m + 1) * t) / math.sinh(t))
    expected = np.array([[value(1e6), value(1e6 + 1)], [value(1e6), -value(1e6 + 1)]])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_laguerre_at_a_million_is_pytorchs_loop(device):
    """L_n(0.3), n = 1e6 (no closed form): PyTorch's loop written out in Python floats,
    ((2k + (1 - x)) L_k - k L_{k-1}) / (k + 1); and L_n(0) = 1 beside it."""
    x, n = 0.3, 10 ** 6
    before, now = 1.0, 1.0 - x
    for k in range(1, n):
        before, now = now, ((2 * k + (1.0 - x)) * now - k * before) / (k + 1)
    got = special.laguerre_polynomial_l(_t([x, 0.0], device), _t([n, n], device)).numpy()
    np.testing.assert_allclose(got, [now, 1.0], rtol=1e-12)


def test_laguerre_readable_recurrence_rounds_as_pytorch(device, rng, monkeypatch):
    """The readable recurrence groups (2k + (1 - x)) as PyTorch does: float32 values are
    PyTorch's to the last bit (2k + 1 - x rounds differently for a few x in a hundred)."""
    monkeypatch.setattr(polynomials, "COMPILED_FROM_ORDER", 10 ** 12)
    x = rng.uniform(0, 5, 400).astype(np.float32)
    before, now = np.ones_like(x), np.float32(1) - x
    for k in range(1, 30):
        before, now = now, ((np.float32(2 * k) + (np.float32(1) - x)) * now
                            - np.float32(k) * before) / np.float32(k + 1)
    got = special.laguerre_polynomial_l(_t(x, device, tg.float32), 30).numpy()
    np.testing.assert_array_equal(got, now)


def test_overflow_outside_stops_with_nan_and_a_huge_hermite_is_nan(device):
    """x = 3 at n = 1e6: the recurrence overflows to inf, then inf - inf = NaN, where
    PyTorch's loop stops (Chebyshev V, Legendre, Laguerre at x = -3); Hermite above its
    order limit is NaN without a loop; an order below the overflow is finite."""
    x = _t([3.0], device)
    for name, at in [("chebyshev_polynomial_v", 3.0), ("legendre_polynomial_p", 3.0),
                     ("laguerre_polynomial_l", -3.0), ("hermite_polynomial_he", 3.0)]:
        got = getattr(special, name)(_t([at], device), _t([1e6, 300.0], device)).numpy()
        assert np.isnan(got[0]) and np.isfinite(got[1]) and abs(got[1]) > 1e20, name
    assert np.isnan(special.hermite_polynomial_h(x, 1e6).numpy()).all()
