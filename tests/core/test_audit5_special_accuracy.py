"""Audit of the float64 accuracy of digamma near its positive zero, sinc's argument
reduction and I₀, I₁, I₀ₑ, I₁ₑ for 15 < |x| ≤ 20 (fifth pass).

The references are computed here in Python's ``decimal`` at 40 digits from each
function's textbook formula, at the exact binary value of each float64 point:

* ψ(x) = ψ(x + N) − Σ_{k<N} 1/(x + k) with x + N ≥ 40, and ψ(y) = log y − 1/(2y) −
  Σ_{k=1}^{12} B₂ₖ/(2k·y^(2k)) (the Bernoulli numbers exact, by fractions);
* sin(πx) = (−1)ⁿ·sin(πr), n = round(x), r = x − n (exact), sin by its Maclaurin series;
* Iᵥ(x) = Σₖ (x/2)^(2k+ν) / (k!·(k + ν)!), all terms positive, and e^(−|x|) by Decimal.exp.

The errors are counted in units in the last place (ulp) of the reference rounded to
float64. The bounds are those the fixed code meets on these grids, each several times
below what the old code reached there.
"""

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.special as special
from test_audit5_special_misc import host, t  # float64 tensors; their host values

DIGITS = 40
PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")


def ulps(ours, reference):
    """|ours − reference| in units in the last place of the reference (Decimals)."""
    errors = []
    for value, exact in zip(np.asarray(ours, dtype=np.float64).tolist(), reference):
        rounded = float(exact)
        spacing = float(np.spacing(abs(rounded))) if rounded != 0 else 5e-324
        errors.append(float(abs(Decimal(value) - exact) / Decimal(spacing)))
    return np.array(errors)


def bernoulli_numbers(count):
    """B₀ … B_count from Σ_{k=0}^{m} C(m + 1, k)·B_k = 0."""
    numbers = [Fraction(1)]
    for m in range(1, count + 1):
        numbers.append(-sum(math.comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))
    return numbers


B = bernoulli_numbers(24)


def digamma_reference(x: float) -> Decimal:
    with localcontext() as context:
        context.prec = DIGITS
        y, total = Decimal(x), Decimal(0)
        while y < 40:
            total -= 1 / y
            y += 1
        series = sum(Decimal(B[2 * k].numerator) / Decimal(B[2 * k].denominator)
                     / (2 * k * y ** (2 * k)) for k in range(1, 13))
        return +(total + y.ln() - 1 / (2 * y) - series)


def sine_of_pi_times(x: float) -> Decimal:
    """sin(πx), reduced by the exact r = x − round(x)."""
    with localcontext() as context:
        context.prec = DIGITS + 5
        n = round(x)
        angle = PI * (Decimal(x) - n)
        term, total, k = angle, angle, 1
        while abs(term) > Decimal(10) ** -(DIGITS + 5):
            term = -term * angle * angle / ((2 * k) * (2 * k + 1))
            total += term
            k += 1
        return total if n % 2 == 0 else -total


def sinc_reference(x: float) -> Decimal:
    with localcontext() as context:
        context.prec = DIGITS
        return Decimal(1) if x == 0 else +(sine_of_pi_times(x) / (PI * Decimal(x)))


def bessel_reference(order: int, x: float, scaled: bool) -> Decimal:
    with localcontext() as context:
        context.prec = DIGITS + 5
        half = abs(Decimal(x)) / 2
        term = half ** order / math.factorial(order)
        total, k = term, 0
        while term > total * Decimal(10) ** -(DIGITS + 5):
            k += 1
            term = term * half * half / (k * (k + order))
            total += term
        if scaled:
            total *= (-abs(Decimal(x))).exp()
        total = -total if (order == 1 and x < 0) else total
        context.prec = DIGITS
        return +total


# --- digamma near its positive zero x₀ = 1.4616321449683623… ---

ROOT = 1.4616321449683622


def test_digamma_keeps_its_relative_accuracy_at_its_positive_zero(device):
    """ψ(x) as ψ(x + 10) − Σ 1/(x + k): an absolute error of ~1e-16 on values that go to
    0 at x₀ (ψ(1.4616321449683622) ≈ −9.24e-17 came out 7e-16, i.e. 10¹⁶ ulp; 5000 ulp
    at x = 1.4613). Fixed: the Taylor series at x₀ (x₀ in two doubles) for |x − x₀| < ½."""
    steps = np.arange(-40, 41)
    points = np.concatenate([
        ROOT + steps * np.spacing(ROOT),                      # the doubles next to x₀
        ROOT + np.sign(steps) * 10.0 ** (-abs(steps) / 5.0),  # 1e-16 … 1 away
        np.linspace(ROOT - 0.4999, ROOT + 0.4999, 121)])     # the whole series range
    points = points[np.abs(points - ROOT) < 0.5]
    reference = [digamma_reference(x) for x in points.tolist()]
    errors = ulps(host(tg.digamma(t(points, device))), reference)
    assert errors.max() <= 4, (points[errors.argmax()], errors.max())


def test_digamma_near_its_positive_zero_through_the_reflection(device):
    """x < 0 takes ψ(1 − x) − π/tan(πx): ψ(1 − x) is the series there; the two sides of
    the range |1 − x − x₀| < ½ agree with the reference to a few ulp of ψ(1 − x)."""
    points = np.array([-0.45, -0.4616321449683622, -0.5 + 1e-9, -0.03, 0.04, 0.0390, 0.97])
    reference = [digamma_reference(x) for x in points.tolist()]
    ours = host(tg.digamma(t(points, device)))
    scale = np.array([abs(float(r)) for r in reference]) + 1.0  # absolute near ψ's
    assert np.all(np.abs(ours - np.array([float(r) for r in reference]))  # negative zero
                  <= 8 * np.spacing(scale))


def test_digamma_gradient_across_the_series_boundary(device):
    """The series meets the recurrence at |x − x₀| = ½ without a step: the finite
    differences there agree with the analytic derivative ψ′ (trigamma)."""
    for boundary in (ROOT - 0.5, ROOT + 0.5):
        x = t([boundary - 1e-7, boundary, boundary + 1e-7, ROOT], device, requires_grad=True)
        assert tg.gradcheck(tg.digamma, [x])
    x = t([ROOT, 1.2, 1.9], device, requires_grad=True)
    assert tg.gradgradcheck(tg.digamma, [x])


# --- sinc: exact argument reduction ---

def test_sinc_reduces_its_argument_exactly(device, rng):
    """sin(π·x) with π·x rounded loses the digits of x next to every integer n (the
    zeros): 11 000 ulp at x = 18.001, and sinc(1) = 3.9e-17 instead of 0. Fixed:
    (−1)ⁿ·sin(πr) with r = x − n exact."""
    grid = np.linspace(-20, 20, 801) + 0.001
    near_integers = (np.arange(-30, 31)[:, None] + np.array([1e-9, -1e-6, 1e-3, 0.25])).ravel()
    points = np.concatenate([grid, near_integers, rng.uniform(-1e4, 1e4, 100)])
    reference = [sinc_reference(x) for x in points.tolist()]
    errors = ulps(host(tg.sinc(t(points, device))), reference)
    assert errors.max() <= 4, (points[errors.argmax()], errors.max())


def test_sinc_at_the_integers_and_special_points(device):
    """sinc(0) = sinc(−0) = 1, sinc(n) = 0 for whole n ≠ 0 (also past 2⁵³, where π·x
    would overflow to inf from 5.7e307), NaN at ±inf and NaN (as PyTorch)."""
    points = [0.0, -0.0, 1.0, -3.0, 1e20, -2.0 ** 60, 1.7e308, math.inf, -math.inf, math.nan]
    values = host(tg.sinc(t(points, device)))
    assert values[:7].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert np.isnan(values[7:]).all()
    x32 = tg.tensor(np.array([0.0, 2.0, 0.5, 9.25], dtype=np.float32), device=device)
    values32 = host(tg.sinc(x32))
    assert values32.dtype == np.float32
    expected = [1.0, 0.0, float(sinc_reference(0.5)), float(sinc_reference(9.25))]
    np.testing.assert_allclose(values32, expected, rtol=2e-7, atol=0)


def test_sinc_gradients(device):
    """dy/dx = (cos(πx) − y)/x, 0 at x = 0; checked by finite differences (first and
    second order) next to integers, where the forward now keeps its digits."""
    x = t([0.0], device, requires_grad=True)
    tg.sinc(x).sum().backward()
    assert host(x.grad).tolist() == [0.0]
    points = [0.3, -1.7, 2.0 + 1e-4, -5.0 - 1e-3, 9.001, 1.0, 40.5]
    x = t(points, device, requires_grad=True)
    assert tg.gradcheck(tg.sinc, [x])
    assert tg.gradgradcheck(tg.sinc, [t(points, device, requires_grad=True)])


# --- I₀, I₁, I₀ₑ, I₁ₑ ---

BESSEL = [("i0", 0, False), ("i1", 1, False), ("i0e", 0, True), ("i1e", 1, True)]


@pytest.mark.parametrize("name, order, scaled", BESSEL)
def test_bessel_i_between_15_and_20(device, name, order, scaled):
    """The power series up to |x| = 20 lost 10 to 12 ulp near x = 16 (the rounding of
    x²/4 raised to the power of the largest terms, k ≈ x/2). Fixed: Cephes's Chebyshev
    series of e^(−x)·√x·Iᵥ(x) beyond 8 (PyTorch's)."""
    points = np.concatenate([np.linspace(15.0, 20.0, 161), -np.linspace(15.01, 19.99, 40)])
    reference = [bessel_reference(order, x, scaled) for x in points.tolist()]
    errors = ulps(host(getattr(special, name)(t(points, device))), reference)
    assert errors.max() <= 4, (points[errors.argmax()], errors.max())


@pytest.mark.parametrize("name, order, scaled", BESSEL)
def test_bessel_i_elsewhere(device, name, order, scaled):
    """The power series stays for |x| ≤ 8 (Cephes's series there lost 14 ulp for I₁ near
    x = 7); beyond, up to 40, the Chebyshev series."""
    points = np.concatenate([np.linspace(0.01, 8.0, 60), np.linspace(8.0001, 40.0, 60), [-7.3]])
    reference = [bessel_reference(order, x, scaled) for x in points.tolist()]
    errors = ulps(host(getattr(special, name)(t(points, device))), reference)
    assert errors.max() <= 6, (points[errors.argmax()], errors.max())


def test_bessel_i_edges(device):
    """I₀(0) = 1, I₁(0) = 0, I₀ₑ(±inf) = I₁ₑ(inf) = 0, I₀(±inf) = inf, I₁ odd; I₀ finite up
    to 713.98 (e^x alone overflows from 709.8) and inf beyond."""
    x = t([0.0, math.inf, -math.inf, 713.98, -713.98], device)
    assert host(special.i0(x))[:3].tolist() == [1.0, math.inf, math.inf]
    assert host(special.i1(x))[:3].tolist() == [0.0, math.inf, -math.inf]
    assert host(special.i0e(x))[:3].tolist() == [1.0, 0.0, 0.0]
    assert host(special.i1e(x))[:3].tolist() == [0.0, 0.0, -0.0]
    big = host(special.i0(x))[3:]
    expected = float(bessel_reference(0, 713.98, False))
    np.testing.assert_allclose(big, [expected, expected], rtol=1e-14)
    big1 = host(special.i1(x))[3:]
    expected1 = float(bessel_reference(1, 713.98, False))
    np.testing.assert_allclose(big1, [expected1, -expected1], rtol=1e-14)


@pytest.mark.parametrize("name", ["i0", "i1", "i0e", "i1e"])
def test_bessel_i_gradients_across_8(device, name):
    """The two ranges meet at |x| = 8 without a step: finite differences there and in
    15 … 20 agree with the analytic derivatives (I₀′ = I₁, I₁′ = I₀ − I₁/x, ...)."""
    function = getattr(special, name)
    points = [8.0 - 1e-6, 8.0, 8.0 + 1e-6, -8.0, 16.3, -19.7]
    assert tg.gradcheck(function, [t(points, device, requires_grad=True)])
    assert tg.gradgradcheck(function, [t([8.0, -16.3], device, requires_grad=True)])
