"""Accuracy of lgamma (gammaln) for negative x in float64, as the C library's lgamma that
PyTorch calls (glibc keeps a few ulp there).

The reflection formula log |Γ(x)| = log(π/|sin πx|) − log Γ(1 − x) subtracts two numbers
of size up to 75 where log |Γ(x)| vanishes (two zeros in each (−n − 1, −n), n ≥ 2):
lgamma(−3.1439999) was off by 1473 ulp, and at the doubles next to a zero all digits
were lost. The reference here is independent of the code under test: log |Γ(x)| to 60
digits with Python's ``decimal``, by Γ(x) = Γ(x + N)/(x(x + 1)⋯(x + N − 1)) and Stirling's
series at x + N ≥ 40 (no reflection formula, no sine)."""

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest

import tinygrad_opt as tg
from test_ops_gradcheck import host
from test_audit5_special_accuracy import bernoulli_numbers  # B_0 ... B_count, exact

# π to 60 digits
PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")


_B = bernoulli_numbers(40)
_STIRLING = [Fraction(_B[2 * k], 2 * k * (2 * k - 1)) for k in range(1, 21)]


def reference_lgamma(x: float) -> Decimal:
    """log |Γ(x)| to about 1e-50 absolute (x not a pole): Stirling's series
    (y − ½)·log y − y + ½·log 2π + Σ_{k≤20} B₂ₖ/(2k(2k − 1)·y^(2k−1)) at y = x + N ≥ 40
    (the first dropped term is below 1e-48), minus log |x(x + 1)⋯(x + N − 1)|."""
    with localcontext() as context:
        context.prec = 60
        shift = max(0, math.ceil(40 - x))
        value = Decimal(x)  # exact
        product = Decimal(1)
        for j in range(shift):
            product *= value + j
        y = value + shift
        series = (y - Decimal("0.5")) * y.ln() - y + (2 * PI).ln() / 2
        power = y
        for coefficient in _STIRLING:
            series += Decimal(coefficient.numerator) / Decimal(coefficient.denominator) / power
            power *= y * y
        return series - abs(product).ln()


def ulps(ours, x):
    """|ours − log |Γ(x)|| in units of the last place of the true value, per element."""
    errors = []
    for value, point in zip(np.asarray(ours).tolist(), np.asarray(x).tolist()):
        true = reference_lgamma(point)
        errors.append(float(abs(Decimal(value) - true)) / np.spacing(abs(float(true))))
    return np.array(errors)


# the first ten zeros of log |Γ| on the negative axis, rounded to float64: as printed by the
# reference above with a bisection (they are also lgamma's; the grids below do not need
# them exact, only near)
FIRST_ZEROS = [-2.4570247382208006, -2.7476826467274127, -3.14358088834998,
               -3.955294284858598, -4.039361839740537, -4.991544640560048,
               -5.0082181683225935, -5.998607480080875, -6.001385294453155,
               -6.999801507890638]


def grid_around(zero, rng):
    """The 17 doubles nearest the zero, and points at distances 1e-12 … 1e-2 from it."""
    steps = np.arange(-8, 9) * np.spacing(zero)
    near = [zero + width * rng.uniform(-1, 1, 4) for width in (1e-12, 1e-9, 1e-6, 1e-4, 1e-2)]
    points = np.concatenate([zero + steps] + near)
    return points[points != np.round(points)]


@pytest.mark.parametrize("zero", FIRST_ZEROS)
def test_lgamma_keeps_a_few_ulp_around_the_negative_zeros(device, rng, zero):
    """Max error over a dense grid around each zero: at most 4 ulp (it was up to 1e16 ulp:
    at the doubles next to a zero the reflection formula returned noise of size 1e-15)."""
    x = grid_around(zero, rng)
    ours = host(tg.lgamma(tg.tensor(x, dtype=tg.float64, device=device)))
    assert ulps(ours, x).max() <= 4


def test_lgamma_keeps_a_few_ulp_on_the_whole_negative_axis_to_minus_30(device, rng):
    """Away from the zeros too, in (−30, −2): at most 4 ulp (up to 53 before, at
    lgamma(−2.5043…) ≈ −0.061, where the two terms are of size 1.2; lgamma(−3.1439999)
    and lgamma(−2.459) were 309 and 319 ulp off); −2.85 … −2.55, between the two zeros of
    (−3, −2), is the hardest stretch."""
    x = np.concatenate([rng.uniform(-30, -2, 150), rng.uniform(-2.9, -2.5, 80),
                        [-3.1439999, -2.459, -2.85, -2.65, -2.55, -2.5, -29.5, -17.5]])
    ours = host(tg.special.gammaln(tg.tensor(x, dtype=tg.float64, device=device)))
    assert ulps(ours, x).max() <= 4
    # the Tensor method too; mpmath at 200 bits: −0.00325617334417551766235…
    value = host(tg.tensor([-3.1439999], dtype=tg.float64, device=device).lgamma())[0]
    assert abs(value - -0.0032561733441755176623543878) <= 2 * np.spacing(3.3e-3)


def test_lgamma_near_the_poles_of_the_negative_axis(device):
    """Within 1e-14 … 1e-3 of the poles −2 … −29, on both sides (the expansions around
    the zeros meet the poles there): a few ulp, and +inf at the poles themselves."""
    poles = -np.arange(2.0, 30.0)
    offsets = np.array([1e-14, 1e-10, 1e-6, 1e-3])
    x = (poles[:, None] + np.concatenate([offsets, -offsets])[None, :]).ravel()
    x = x[(x > -30) & (x < -2)]
    ours = host(tg.lgamma(tg.tensor(x, dtype=tg.float64, device=device)))
    assert ulps(ours, x).max() <= 4
    at_poles = host(tg.lgamma(tg.tensor(poles, dtype=tg.float64, device=device)))
    np.testing.assert_array_equal(at_poles, np.full(poles.shape, np.inf))


def test_lgamma_elsewhere_keeps_its_accuracy(device, rng):
    """No change outside (−30, −2): x > 0, (−2, 0) and x < −30 stay within 4 ulp (the
    reflection formula has no cancellation there), NaN passes through."""
    x = np.concatenate([rng.uniform(1e-3, 50, 60), rng.uniform(-2, 0, 40),
                        rng.uniform(-60, -30, 30), [0.5, 1.5, 2.5, -0.5, -1.5]])
    x = x[x != np.round(x)]
    ours = host(tg.lgamma(tg.tensor(x, dtype=tg.float64, device=device)))
    assert ulps(ours, x).max() <= 4
    assert np.isnan(host(tg.lgamma(tg.tensor([np.nan, -2.5], device=device)))[0])


def test_lgamma_float32_near_a_zero_is_the_float64_value_rounded(device):
    """A float32 input is computed in float64 and rounded: the float32 result is within
    one float32 ulp of the true value (the value itself is 1e-8 … 1e-7 here)."""
    x32 = np.array([-2.457025, -3.1435809, -4.0393620, -5.9986076], dtype=np.float32)
    ours = host(tg.lgamma(tg.tensor(x32, device=device)))
    assert ours.dtype == np.float32
    true = np.array([float(reference_lgamma(float(v))) for v in x32])
    assert (np.abs(ours - true) <= np.spacing(np.abs(true).astype(np.float32))).all()


def test_lgamma_gradient_is_still_digamma_near_the_zeros(device):
    """The gradient is ψ(x), unchanged: gradcheck passes next to the zeros, and the
    backward equals digamma."""
    x = tg.tensor([-2.4570247, -2.7476826, -3.1435809, -6.9998015], dtype=tg.float64,
                  device=device, requires_grad=True)
    assert tg.gradcheck(tg.lgamma, (x,), eps=1e-7, atol=1e-6, rtol=1e-6)
    tg.lgamma(x).sum().backward()
    np.testing.assert_array_equal(host(x.grad), host(tg.digamma(x.detach())))
