"""Special functions at the edges of the float range: PyTorch's values, with no NumPy warning.

Fixed here (each case below warned, or had another value, before the fix):
* digamma, polygamma(0/1), log1p, expm1, exp2, entr, logit (eps too), ndtr, ndtri, log_ndtr,
  erfcx, bessel_y1, the K Bessel functions, xlogy, xlog1py, zeta: no RuntimeWarning at
  ±inf, NaN, ±0, −1, ±1e308, 5e-324 (PyTorch gives its values silently);
* polygamma(1, −inf) is NaN (PyTorch's trigamma: ψ⁽¹⁾ has no limit there), was +inf;
* ndtri(5e-324) = −38.4674…, was Φ⁻¹(1e-320) = −38.2691… (the tail clipped p to 1e-320);
* K₀(5e-324) = −log(x/2) − γ ≈ 744.556 and K₁(5e-324) = inf (≈ 1/x), were inf and NaN
  (x/2 underflowed to 0 inside the log).
Every expected value is written from the function's formula or limit, in plain NumPy.
"""

import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg

S = tg.special
INF, NAN, TINY, HUGE = math.inf, math.nan, 5e-324, 1e308
POINTS = [INF, -INF, NAN, 0.0, -0.0, -1.0, HUGE, -HUGE, TINY, 1.0, 0.25]
EULER_GAMMA = 0.5772156649015329


def _ndtri_far_left(log_p):
    """Φ⁻¹(p) for tiny p by Newton on log Φ(x) = −x²/2 − log(−x) − log √(2π) +
    log(1 − 1/x² + 3/x⁴ − 15/x⁶ + 105/x⁸ − 945/x¹⁰), Φ's asymptotic series (|x| ≈ 38:
    the dropped terms are below 1e-19)."""
    def log_phi(x):
        z = 1 / (x * x)
        series = 1 - z + 3 * z**2 - 15 * z**3 + 105 * z**4 - 945 * z**5
        return -x * x / 2 - math.log(-x) - 0.5 * math.log(2 * math.pi) + math.log(series)
    x = -math.sqrt(-2 * log_p)
    for _ in range(30):
        slope = -x - 1 / x  # d/dx log Φ to 1e-6 relative: Newton still converges
        x -= (log_phi(x) - log_p) / slope
    return x


def _far_bessel(x, phase):
    """√(2/(πx))·sin(x − phase): Hankel's form with P = 1, Q = 0, exact at 25/x² = 0."""
    return math.sqrt(2 / math.pi) / math.sqrt(x) * math.sin(x - phase)


def _small_bessel(x):
    """(Y₀, Y₁, K₀, K₁)(x) by their power series (A&S 9.1.13, 9.1.11, 9.6.13, 9.6.11),
    with q = x²/4, Hₖ the harmonic numbers and ψ(n + 1) = −γ + Hₙ; 40 terms for x ≤ 1."""
    q, f = x * x / 4, math.factorial
    harmonic = [sum(1 / j for j in range(1, k + 1)) for k in range(42)]
    psi = [-EULER_GAMMA + harmonic[n - 1] if n else 0.0 for n in range(42)]
    j0 = sum((-q) ** k / f(k) ** 2 for k in range(40))
    j1 = x / 2 * sum((-q) ** k / (f(k) * f(k + 1)) for k in range(40))
    i0 = sum(q**k / f(k) ** 2 for k in range(40))
    i1 = x / 2 * sum(q**k / (f(k) * f(k + 1)) for k in range(40))
    log_half = math.log(x / 2)
    y0 = 2 / math.pi * ((log_half + EULER_GAMMA) * j0 + sum(
        (-1) ** (k + 1) * harmonic[k] * q**k / f(k) ** 2 for k in range(1, 40)))
    y1 = (-2 / (math.pi * x) + 2 / math.pi * log_half * j1 - x / (2 * math.pi) * sum(
        (psi[k + 1] + psi[k + 2]) * (-q) ** k / (f(k) * f(k + 1)) for k in range(40)))
    k0 = -(log_half + EULER_GAMMA) * i0 + sum(harmonic[k] * q**k / f(k) ** 2
                                              for k in range(1, 40))
    k1 = 1 / x + log_half * i1 - x / 4 * sum(
        (psi[k + 1] + psi[k + 2]) * q**k / (f(k) * f(k + 1)) for k in range(40))
    return y0, y1, k0, k1


(Y0_1, Y1_1, K0_1, K1_1), (Y0_Q, Y1_Q, K0_Q, K1_Q) = _small_bessel(1.0), _small_bessel(0.25)
CATALAN = 0.915965594177219015
LOG1P_HUGE, LOG_TINY = math.log1p(HUGE), math.log(TINY)
ERFC_RT = math.erfc(1 / math.sqrt(2))  # 2·Φ(−1)
LOGIT_EPS = math.log((1 - 1e-6) / 1e-6)
# name: (function of a float64 tensor, the expected values at POINTS)
CASES = {
    # ψ(¼) = −γ − π/2 − 3 log 2
    # ψ: log x − 1/(2x) for large x, −1/x near 0 (−inf at the subnormal), ±inf at ∓0, NaN
    # at the negative integers and at −inf (an integer), PyTorch's calc_digamma
    "digamma": (S.digamma, [INF, NAN, NAN, -INF, INF, NAN, math.log(HUGE), NAN, -INF,
                            -EULER_GAMMA, -EULER_GAMMA - math.pi / 2 - 3 * math.log(2)]),
    "polygamma0": (lambda t: S.polygamma(0, t),
                   [INF, NAN, NAN, -INF, INF, NAN, math.log(HUGE), NAN, -INF,
                    -EULER_GAMMA, -EULER_GAMMA - math.pi / 2 - 3 * math.log(2)]),
    # ψ⁽¹⁾ = Σ 1/(x + k)²: 1/x for large x, +inf at the poles and near 0; NaN at −inf
    "polygamma1": (lambda t: S.polygamma(1, t),
                   [0.0, NAN, NAN, INF, INF, INF, 1 / HUGE, INF, INF,
                    math.pi**2 / 6, math.pi**2 + 8 * CATALAN]),  # ψ⁽¹⁾(¼) = π² + 8G
    "log1p": (S.log1p, [INF, NAN, NAN, 0.0, -0.0, -INF, LOG1P_HUGE, NAN, TINY,
                        math.log(2), math.log1p(0.25)]),
    "expm1": (S.expm1, [INF, -1.0, NAN, 0.0, -0.0, math.expm1(-1), INF, -1.0, TINY,
                        math.expm1(1), math.expm1(0.25)]),
    "exp2": (S.exp2, [INF, 0.0, NAN, 1.0, 1.0, 0.5, INF, 0.0, 1.0, 2.0, 2**0.25]),
    # −x log x: −inf beyond 1e307 (overflow) and for x < 0, 0 at 0
    "entr": (S.entr, [-INF, -INF, NAN, 0.0, 0.0, -INF, -INF, -INF, -TINY * LOG_TINY,
                      0.0, 0.25 * math.log(4)]),
    # log(x/(1 − x)): NaN outside [0, 1] (inf/−inf too), −inf at 0, +inf at 1
    "logit": (S.logit, [NAN, NAN, NAN, -INF, -INF, NAN, NAN, NAN, LOG_TINY,
                        INF, -math.log(3)]),
    "logit_eps": (lambda t: S.logit(t, eps=1e-6),
                  [LOGIT_EPS, -LOGIT_EPS, NAN, -LOGIT_EPS, -LOGIT_EPS, -LOGIT_EPS,
                   LOGIT_EPS, -LOGIT_EPS, -LOGIT_EPS, LOGIT_EPS, -math.log(3)]),
    "logit_eps0": (lambda t: S.logit(t, eps=0.0),
                   [INF, -INF, NAN, -INF, -INF, -INF, INF, -INF, LOG_TINY, INF, -math.log(3)]),
    # Φ(x) = erfc(−x/√2)/2
    "ndtr": (S.ndtr, [1.0, 0.0, NAN, 0.5, 0.5, ERFC_RT / 2, 1.0, 0.0, 0.5,
                      1 - ERFC_RT / 2, math.erfc(-0.25 / math.sqrt(2)) / 2]),
    # Φ⁻¹: −inf at 0, +inf at 1, NaN outside [0, 1]; Φ⁻¹(¼) is minus the quartile 0.6744…
    "ndtri": (S.ndtri, [NAN, NAN, NAN, -INF, -INF, NAN, NAN, NAN, _ndtri_far_left(LOG_TINY),
                        INF, -0.6744897501960817]),
    "log_ndtr": (S.log_ndtr, [0.0, -INF, NAN, -math.log(2), -math.log(2),
                              math.log(ERFC_RT / 2), 0.0, -INF, -math.log(2),
                              math.log1p(-ERFC_RT / 2),
                              math.log(math.erfc(-0.25 / math.sqrt(2)) / 2)]),
    # e^(x²)·erfc(x): 1/(√π·x) for large x, inf for very negative x
    "erfcx": (S.erfcx, [0.0, INF, NAN, 1.0, 1.0, math.e * math.erfc(-1),
                        1 / (math.sqrt(math.pi) * HUGE), INF, 1.0, math.e * math.erfc(1),
                        math.exp(1 / 16) * math.erfc(0.25)]),
    # Y: −inf at 0 (and ≈ (2/π)·log x, −2/(πx) at the subnormal), NaN for x < 0 and at inf
    "bessel_y0": (S.bessel_y0, [NAN, NAN, NAN, -INF, -INF, NAN, _far_bessel(HUGE, math.pi / 4),
                                NAN, 2 / math.pi * (LOG_TINY - math.log(2) + EULER_GAMMA),
                                Y0_1, Y0_Q]),
    "bessel_y1": (S.bessel_y1, [NAN, NAN, NAN, -INF, -INF, NAN,
                                _far_bessel(HUGE, 3 * math.pi / 4), NAN, -INF,
                                Y1_1, Y1_Q]),
    # K: +inf at 0, 0 at inf; K₀ ≈ −log(x/2) − γ and K₁ ≈ 1/x (inf) at the subnormal
    "modified_bessel_k0": (S.modified_bessel_k0,
                           [0.0, NAN, NAN, INF, INF, NAN, 0.0, NAN,
                            -(LOG_TINY - math.log(2)) - EULER_GAMMA,
                            K0_1, K0_Q]),
    "modified_bessel_k1": (S.modified_bessel_k1,
                           [0.0, NAN, NAN, INF, INF, NAN, 0.0, NAN, INF,
                            K1_1, K1_Q]),
    # eˣ·K: √(π/(2x)) for large x
    "scaled_modified_bessel_k0": (S.scaled_modified_bessel_k0,
                                  [0.0, NAN, NAN, INF, INF, NAN, math.sqrt(math.pi / 2) / math.sqrt(HUGE),
                                   NAN, -(LOG_TINY - math.log(2)) - EULER_GAMMA,
                                   K0_1 * math.e, K0_Q * math.exp(0.25)]),
    "scaled_modified_bessel_k1": (S.scaled_modified_bessel_k1,
                                  [0.0, NAN, NAN, INF, INF, NAN, math.sqrt(math.pi / 2) / math.sqrt(HUGE),
                                   NAN, INF, K1_1 * math.e, K1_Q * math.exp(0.25)]),
    # 2·log y: −inf at 0, NaN below
    "xlogy": (lambda t: S.xlogy(2.0, t),
              [INF, NAN, NAN, -INF, -INF, NAN, 2 * math.log(HUGE), NAN, 2 * LOG_TINY,
               0.0, 2 * math.log(0.25)]),
    "xlog1py": (lambda t: S.xlog1py(2.0, t),
                [INF, NAN, NAN, 0.0, -0.0, -INF, 2 * LOG1P_HUGE, NAN, 2 * TINY,
                 2 * math.log(2), 2 * math.log1p(0.25)]),
    # ζ(2, q) = Σ 1/(q + k)²: 0 at inf, ≈ 1/q for large q, +inf at q = 0, −1, … (−inf,
    # −1e308 are integers) and near 0
    "zeta_q": (lambda t: S.zeta(2.0, t),
               [0.0, INF, NAN, INF, INF, INF, 1 / HUGE, INF, INF,
                math.pi**2 / 6, math.pi**2 + 8 * CATALAN]),
    # ζ(x, 2) = Σ_{k≥2} k^(−x): NaN for x < 1 (PyTorch's domain), 0 at x = inf and 1e308
    "zeta_x": (lambda t: S.zeta(t, 2.0),
               [0.0, NAN, NAN, NAN, NAN, NAN, 0.0, NAN, NAN, INF, NAN]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_special_edge_values_without_warnings(device, name):
    function, expected = CASES[name]
    x = tg.tensor(np.array(POINTS), device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = function(x).numpy()
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=0)


# PyTorch's Tensor methods of the same names give the same values (in place too)
METHODS = {
    "digamma": lambda t: t.digamma(), "polygamma0": lambda t: t.polygamma(0),
    "polygamma1": lambda t: t.polygamma(1), "log1p": lambda t: t.log1p(),
    "expm1": lambda t: t.expm1(), "exp2": lambda t: t.exp2(), "logit": lambda t: t.logit(),
    "logit_eps": lambda t: t.logit(1e-6),
    "xlogy": lambda t: tg.tensor(np.full(len(POINTS), 2.0), device=t.device).xlogy(t),
}
IN_PLACE = {"digamma": "digamma_", "log1p": "log1p_", "expm1": "expm1_", "exp2": "exp2_",
            "logit": "logit_"}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_tensor_methods_at_the_edges(device, name):
    expected = CASES[name][1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = METHODS[name](tg.tensor(np.array(POINTS), device=device)).numpy()
        if name in IN_PLACE:
            x = tg.tensor(np.array(POINTS), device=device)
            getattr(x, IN_PLACE[name])()
            np.testing.assert_allclose(x.numpy(), expected, rtol=1e-10, atol=0)
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=0)


UNARY = ["digamma", "polygamma0", "polygamma1", "log1p", "expm1", "exp2", "entr", "logit",
         "ndtr", "ndtri", "log_ndtr", "erfcx", "bessel_y0", "bessel_y1", "modified_bessel_k0",
         "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1"]


@pytest.mark.parametrize("name", UNARY)
def test_float32_edges_without_warnings(device, name):
    """float32: the points float32 holds as they are (±inf, NaN, ±0, −1, 1, ¼) give the
    float64 table's values, rounded; float32's own extremes warn no more."""
    function, expected = CASES[name]
    keep = [0, 1, 2, 3, 4, 5, 9, 10]
    extremes = np.array([3.4028235e38, -3.4028235e38, 1e-45], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = function(tg.tensor(np.array(POINTS)[keep].astype(np.float32),
                                    device=device)).numpy()
        function(tg.tensor(extremes, device=device)).numpy()
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, np.array(expected)[keep].astype(np.float32), rtol=2e-6)


def test_gradients_at_ordinary_points_are_unchanged(device, rng):
    """The derivatives of the ops whose forwards changed, against their formulas."""
    values = rng.uniform(0.2, 0.8, size=4)
    x = tg.tensor(values, device=device, requires_grad=True)
    total = (S.log1p(x) + S.expm1(x) + S.exp2(x) + S.logit(x) + S.entr(x)
             + S.xlogy(x, x + 1) + S.xlog1py(x, x) + S.digamma(x)).sum()
    total.backward()
    terms = np.arange(200000.0)[:, None] + values  # ψ⁽¹⁾ = Σ 1/(x + k)², tail ≈ 1/(x + N)
    trigamma = (1 / terms**2).sum(axis=0) + 1 / (values + 200000)
    expected = (1 / (1 + values) + np.exp(values) + np.exp2(values) * math.log(2)
                + 1 / (values * (1 - values)) - (1 + np.log(values))
                + np.log(values + 1) + values / (values + 1)
                + np.log1p(values) + values / (1 + values) + trigamma)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-9)
