"""Special functions (lgamma, digamma, polygamma, erfinv, Bessel i0, ...), the other
elementwise Tensor methods PyTorch has (logaddexp, addcmul, copysign, unfold, index_put_,
...) and the random factories ``normal``, ``bernoulli``, ``multinomial``; outside the
reading path.

Read after ``ops/math_ops.py``: the ops are written the same way. Each special function
is a ``Function`` whose backward calls the next function of its family, so every
derivative is differentiable again (``gradgradcheck``, Hessians):

    lgamma ─► digamma ─► polygamma(1) ─► polygamma(2) ─► ...
    i0 ─► i1 ─► i0, i1          i0e ─► i1e ─► i0e, i1e
    erfinv, ndtr, ndtri, log_ndtr, erfc, erfcx: their derivatives are exponentials of the
    saved output (erfinv' = (√π/2)·e^(y²)), so they need no other function.

NumPy has none of these functions (and SciPy is not a dependency), so each forward is
written from its math, in float64 (a float32 input is computed in float64 and rounded
back), to about 1e-15 relative error:

* log Γ: a power series of log Γ(2 + z) for |z| ≤ ½ (its coefficients are ζ(n) − 1),
  carried to 0 < x < 8 by Γ(x + 1) = x·Γ(x), Stirling's series for x ≥ 8, and the
  reflection Γ(x)·Γ(1 − x) = π / sin(πx) for x < 0; for −30 < x < −2 that reflection
  taken relative to the zero of log |Γ| nearest x (as glibc's lgamma), so that no digit
  is lost where log |Γ(x)| vanishes;
* ψ (digamma): ψ(x + 1) = ψ(x) + 1/x up to x ≥ 10, then its asymptotic series;
  reflection ψ(1 − x) − ψ(x) = π / tan(πx) for x < 0;
* ψ⁽ⁿ⁾ = (−1)ⁿ⁺¹·n!·ζ(n + 1, x), the Hurwitz zeta function summed by Euler–Maclaurin;
* erfc beyond ½: e^(−x²) times erfcx, a Chebyshev fit up to 1.5 and a continued
  fraction beyond; erfinv and ndtri: a rough
  first guess, then Halley's method on erf (or on log Φ, so that tiny p keep their digits);
* I₀, I₁: their power series for |x| ≤ 8, Cephes's Chebyshev series for e^(−x)·√x·Iᵥ(x)
  in 32/x beyond (as PyTorch's).

The Bernoulli numbers these series need are computed exactly (fractions) at import.

The compositions (logaddexp, addcmul, renorm, float_power, ldexp, frexp, unfold,
index_put_, put_, mvlgamma) have the gradients of the ops they call.
The random factories draw from the generator that ``tg.manual_seed`` seeds, and their
samples never require grad.
"""

from __future__ import annotations

import math
from collections import namedtuple
from fractions import Fraction

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.elementwise import Sign, _promote, constant, floating, maximum, where
from tinygrad_opt.ops.indexing import IndexAdd
from tinygrad_opt.ops.math_ops import (Erf, _binary, _chebyshev, _float_input, _operand_tensors,
                                      _tensor)
from tinygrad_opt.ops.rearrange import _check_range, _in_place_math
from tinygrad_opt.ops.shape import as_operand, broadcast_operands, normalize_dim, same_device

import tinygrad_opt.tensor as tensor_module

__all__: list = [
    "lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "erfc", "i0",
    "logaddexp", "logaddexp2", "sgn", "signbit", "addcmul", "addcdiv", "renorm",
    "float_power", "copysign", "nextafter", "ldexp", "frexp",
    "index_put", "index_put_", "put",
    "normal", "bernoulli", "multinomial", "randint_like", "finfo", "iinfo",
]

EULER_GAMMA = 0.5772156649015329  # γ = −ψ(1)
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
SQRT_PI = math.sqrt(math.pi)
SQRT_2 = math.sqrt(2.0)


# --- constants of the series, computed at import ---

def _bernoulli_numbers(count: int) -> list:
    """B₀ … B_count, exact, from Σ_{k=0}^{m} C(m + 1, k)·B_k = 0 (m ≥ 1)."""
    numbers = [Fraction(1)]
    for m in range(1, count + 1):
        total = sum(math.comb(m + 1, k) * numbers[k] for k in range(m))
        numbers.append(-total / (m + 1))
    return numbers


_B = _bernoulli_numbers(30)
# log Γ(x) ~ (x − ½)·log x − x + log √(2π) + Σ_k B₂ₖ / (2k·(2k − 1)·x^(2k−1))
STIRLING = tuple(float(_B[2 * k] / (2 * k * (2 * k - 1))) for k in range(1, 11))
# ψ(x) ~ log x − 1/(2x) − Σ_k B₂ₖ / (2k·x^(2k))
DIGAMMA_ASYMPTOTIC = tuple(float(_B[2 * k] / (2 * k)) for k in range(1, 11))
# Euler–Maclaurin: the tail of Σ (q + k)^(−s) has the terms B₂ⱼ / (2j)! · (s)₂ⱼ₋₁ · a^(−s−2j+1)
EULER_MACLAURIN = tuple(float(_B[2 * j] / math.factorial(2 * j)) for j in range(1, 13))


def _polynomial(coefficients, z):
    """c₀ + c₁·z + … + cₙ·zⁿ, by Horner's rule."""
    result = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        result = result * z + c
    return result


def _hurwitz_zeta(s, q):
    """ζ(s, q) = Σ_{k≥0} (q + k)^(−s), elementwise on float64 arrays (s > 1).

    The first terms are summed until a = q + N ≥ s + 10, the rest by Euler–Maclaurin:
    a^(1−s)/(s − 1) + a^(−s)/2 + Σ_{j=1}^{12} B₂ⱼ/(2j)! · s(s+1)⋯(s+2j−2) · a^(−s−2j+1),
    whose error is below 1e-17 relative. A large s would take s terms: the sum stops at
    N = 64 + 2·max(⌈−q⌉, 0) terms and drops the rest, each below e^(−64) times a kept
    term there (ζ(1e300, q) = q^(−1e300); ζ(inf, 1) = 1, as Cephes). As Cephes (and
    PyTorch): +inf for s = 1 and at the poles q = 0, −1, −2, ...; NaN for s < 1 (and for
    q < 0 with s not whole)."""
    xp = backend.xp_of(s if backend.is_array(s) else q)
    # (q near 0, q = ±inf, 1e308: powers that overflow to the inf, or underflow to the 0,
    # that the sum should give; and inf·0 on elements the last lines replace)
    with backend.np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _hurwitz_zeta_sum(xp, s, q)


def _hurwitz_zeta_sum(xp, s, q):
    """``_hurwitz_zeta``'s work, under its errstate."""
    s, q = xp.broadcast_arrays(xp.asarray(s, dtype=backend.float64),
                               xp.asarray(q, dtype=backend.float64))
    pole = (q <= 0) & (q == xp.floor(q))
    order = xp.where(s > 1, s, 2.0)  # s ≤ 1 is answered at the end
    base = xp.where(pole, 0.5, q)
    count = xp.maximum(xp.ceil(order + 10 - base), 0)  # terms summed one by one
    # (s = 1e300 would loop forever); q < 0 counts twice its terms below 0, whose
    # mirror images above 0 may cancel them (s whole)
    limit = 64 + 2 * xp.maximum(xp.ceil(-base), 0)
    truncated = count > limit  # the Euler–Maclaurin tail is then dropped
    count = xp.where(truncated, limit, count)
    count = xp.where(xp.isfinite(count), count, 0)  # (NaN and inf give NaN below)
    total = xp.zeros(base.shape, dtype=backend.float64)
    steps = int(count.max().item()) if count.size else 0
    for k in range(steps):
        term = xp.where(k < count, base + k, 1.0)
        total = total + xp.where(k < count, term ** -order, 0.0)
    a = base + count
    order = xp.where(truncated, 2.0, order)  # (a dropped tail: no inf·0 to warn)
    tail = a ** (1 - order) / (order - 1) + a ** -order / 2
    factor = order * a ** (-order - 1)  # s·a^(−s−1), then (s)₂ⱼ₋₁·a^(−s−2j+1)
    for j, coefficient in enumerate(EULER_MACLAURIN, start=1):
        tail = tail + coefficient * factor
        factor = factor * (order + 2 * j - 1) * (order + 2 * j) / (a * a)
    total = xp.where(truncated, total, total + tail)
    total = xp.where(pole, math.inf, total)
    return xp.where(s > 1, total, xp.where(s == 1, math.inf, math.nan))  # (s NaN: NaN)


def _host_zeta_minus_one(orders) -> tuple:
    """ζ(n) − 1 = ζ(n, 2) for each n of ``orders``, as Python floats."""
    xp = backend.get_xp("cpu")
    return tuple(_hurwitz_zeta(xp.asarray(orders, dtype=backend.float64), 2.0).tolist())


# log Γ(2 + z) = (1 − γ)·z + Σ_{n≥2} (−1)ⁿ·(ζ(n) − 1)·zⁿ / n, for |z| ≤ ½ (and beyond)
LGAMMA_NEAR_TWO = (1 - EULER_GAMMA,) + tuple(
    (-1) ** n * value / n for n, value in zip(range(2, 41), _host_zeta_minus_one(range(2, 41))))

# ψ's positive zero x₀ = 1.46163214496836234126… as DIGAMMA_ROOT + DIGAMMA_ROOT_LOW (the
# second double holds the digits the first cannot), and its Taylor series there,
# ψ(x₀ + z) = Σ_{n≥1} (−1)ⁿ⁺¹·ζ(n + 1, x₀)·zⁿ (ψ⁽ⁿ⁾ = (−1)ⁿ⁺¹·n!·ζ(n + 1, ·)), used for
# |z| < ½: the nearest pole, 0, is 1.46 away, so 40 terms leave (½/1.46)⁴⁰ ≈ 2e-19
DIGAMMA_ROOT = 1.4616321449683622
DIGAMMA_ROOT_LOW = 9.549995429965697e-17
DIGAMMA_NEAR_ROOT = tuple(
    (-1) ** (n + 1) * value for n, value in enumerate(
        _hurwitz_zeta(backend.get_xp("cpu").arange(2.0, 42.0), DIGAMMA_ROOT).tolist(), start=1))

# The zeros of log |Γ(x)| for −30 < x < −2, one in each half-interval −(i + 1)/2 < x ≤ −i/2
# (i = 4 … 59, in that order), as (z_hi, z_lo, ψ(1 − z)) with z = z_hi + z_lo to about 2⁻¹⁰⁶:
# made with mpmath at 400 bits (bisection in log |x − n| of log |Γ|, then findroot; the
# residue log |Γ(z)| was below 2⁻³⁰⁰). From −18 on the zeros lie within about 1/n! of the
# poles −n, below float64's resolution there, so z_hi is the pole and z_lo the distance.
LGAMMA_NEGATIVE_ZEROS = (
    (-2.4570247382208006, -3.7075610815513266e-17, 1.088858570219712),
    (-2.7476826467274127, 9.055340329338315e-17, 1.1818295596965578),
    (-3.14358088834998, -2.1818179852331714e-16, 1.2960656819990233),
    (-3.955294284858598, -1.999428391746348e-17, 1.4961741903642813),
    (-4.039361839740537, 2.1143995503980602e-16, 1.5147917672531508),
    (-4.991544640560048, 1.5174411760571722e-16, 1.7045833443534575),
    (-5.0082181683225935, -4.3926353491015815e-17, 1.7076067048145094),
    (-5.998607480080875, -3.311862478893795e-16, 1.8725704975623252),
    (-6.001385294453155, 6.415847287933042e-17, 1.8729970178070239),
    (-6.999801507890638, 1.0550130037400023e-17, 2.0156150509600494),
    (-7.000198333407325, 2.504354173632409e-16, 2.015667883125265),
    (-7.999975197095821, -5.261737128572354e-17, 2.1406385633121268),
    (-8.000024800270682, -4.354586297860107e-16, 2.140644392281141),
    (-8.999997244250977, -2.2185620509727132e-16, 2.2517522992546524),
    (-9.000002755714823, -9.491348611623208e-17, 2.2517528788751093),
    (-9.99999972442663, 4.883037618642443e-16, 2.351752562841413),
    (-10.000000275573013, -3.4909708332642057e-16, 2.3517526152919945),
    (-10.99999997494789, 1.9843998306985407e-16, 2.442661677798737),
    (-11.000000025052106, -6.850849812286175e-16, 2.442661682152887),
    (-11.999999997912324, -1.0020693920103036e-16, 2.52599501314222),
    (-12.000000002087676, 1.2222548112048185e-16, 2.5259950134760705),
    (-12.99999999983941, 6.747262033096337e-16, 2.602918090220332),
    (-13.00000000016059, -6.745919484964342e-16, 2.6029180902441125),
    (-13.99999999998853, 8.094860741926607e-16, 2.674346661660003),
    (-14.00000000001147, -8.094853704222662e-16, 2.6743466616615845),
    (-14.999999999999236, 8.82932241476868e-16, 2.741013328327411),
    (-15.000000000000764, -8.829322382710274e-16, 2.7410133283275098),
    (-15.999999999999952, -1.668613399265054e-16, 2.8035133283274574),
    (-16.000000000000046, -1.6094954994609367e-15, 2.803513328327463),
    (-16.999999999999996, -7.412564244549576e-16, 2.862336857739225),
    (-17.000000000000004, 7.412564244550028e-16, 2.8623368577392254),
    (-18.0, 1.5619206968586233e-16, 2.9178924132947808),
    (-18.0, -1.561920696858622e-16, 2.9178924132947808),
    (-19.0, 8.22063524662433e-18, 2.970523992242149),
    (-19.0, -8.22063524662433e-18, 2.970523992242149),
    (-20.0, 4.110317623312165e-19, 3.020523992242149),
    (-20.0, -4.110317623312165e-19, 3.020523992242149),
    (-21.0, 1.9572941063391263e-20, 3.0681430398611966),
    (-21.0, -1.9572941063391263e-20, 3.0681430398611966),
    (-22.0, 8.896791392450574e-22, 3.113597585315742),
    (-22.0, -8.896791392450574e-22, 3.113597585315742),
    (-23.0, 3.868170170630684e-23, 3.1570758461853075),
    (-23.0, -3.868170170630684e-23, 3.1570758461853075),
    (-24.0, 1.6117375710961184e-24, 3.198742512851974),
    (-24.0, -1.6117375710961184e-24, 3.198742512851974),
    (-25.0, 6.446950284384474e-26, 3.238742512851974),
    (-25.0, -6.446950284384474e-26, 3.238742512851974),
    (-26.0, 2.4795962632247976e-27, 3.2772040513135123),
    (-26.0, -2.4795962632247976e-27, 3.2772040513135123),
    (-27.0, 9.183689863795546e-29, 3.3142410883505495),
    (-27.0, -9.183689863795546e-29, 3.3142410883505495),
    (-28.0, 3.279889237069838e-30, 3.349955374064835),
    (-28.0, -3.279889237069838e-30, 3.349955374064835),
    (-29.0, 1.1309962886447716e-31, 3.384438132685525),
    (-29.0, -1.1309962886447716e-31, 3.384438132685525),
    (-30.0, 3.7699876288159054e-33, 3.4177714660188583),
)
# log Γ(y₀) − log Γ(y₀ − δ) = ψ(y₀)·δ − Σ_{m≥2} ζ(m, y₀)·δᵐ/m at y₀ = 1 − z: the coefficients
# ζ(m, y₀)/m, m = 2 … 25, one row per m (a column per zero); y₀ ≥ 3.45 and |δ| ≤ ½, so the
# dropped terms are below (½/3.45)²⁵ ≈ 1e-21 of the first
LGAMMA_ZERO_SERIES = tuple(
    tuple(value / m for value in _hurwitz_zeta(
        float(m), backend.get_xp("cpu").asarray([1 - row[0] for row in LGAMMA_NEGATIVE_ZEROS]))
        .tolist())
    for m in range(2, 26))
# Between −2.85 and −2.55 even those two terms cancel to a third of their size (whichever
# zero of (−3, −2) they start from), so there log |Γ| is summed as its Taylor series at a
# point c: log |Γ(c + δ)| = Σ_m c_m·δᵐ, c₀ = log |Γ(c)|, c₁ = ψ(c), c_m = (−1)ᵐ·ζ(m, c)/m
# (made with mpmath at 300 bits). For −2.85 < x ≤ −2.65, c = −2.7476826467274127 (the zero
# of (−3, −2.5) rounded) and 41 terms: the pole −3 is 0.2523 away and |δ| < 0.1023, so the
# dropped terms are below 0.41⁴¹/41 ≈ 2e-18; for −2.65 < x ≤ −2.55, c = −2.6 (near the
# minimum of |Γ|, log |Γ| ≈ −0.118 dominates the sum) and 20 terms: 0.125²⁰/20 ≈ 4e-20.
LGAMMA_NEAR_ZERO_TWO = (
    1.733509244024501e-16, -1.9143501856116005, 9.575189475709672, -20.095134916842625,
    62.6272827135138, -194.76615530344657, 646.9059997129297, -2193.1127764806292,
    7610.39798665835, -26804.578420618196, 95617.45164335004, -344497.59343483427,
    1251567.4465251055, -4578716.594581739, 16850484.270697452, -62330684.83240775,
    231593359.8035307, -863873252.9293262, 3233548126.0760775, -12140906400.86442,
    45711723541.795876, -172540549493.28778, 652740666207.5309, -2474505336668.5054,
    9398485347630.73, -35758721374667.79, 136270397145886.52, -520072613705178.9,
    1987570752795083.8, -7605635543471917.0, 2.9138361921333948e+16, -1.117577304804606e+17,
    4.290838501543084e+17, -1.6490396076366328e+18, 6.343354596689298e+18,
    -2.4422085179649122e+19, 9.410250074638236e+19, -3.628731386401491e+20,
    1.4003152812733088e+21, -5.407514558725733e+21, 2.0895616676280324e+22,
)
LGAMMA_NEAR_MINIMUM = (
    -0.11801163280539748, 0.1148975066969342, 5.2958441811951085, -3.729632763401541,
    11.814099191572323, -16.978820691785156, 44.29597214296235, -82.09827021112628,
    198.18860251544922, -412.83358851250057, 970.2168781330874, -2142.3855240922962,
    5005.338305248436, -11403.535863681462, 26700.36669528753, -61946.383845789205,
    145740.6966140342, -342050.4855315174, 808986.7572967488, -1913861.9686890268,
)
# (lower, upper, c, coefficients): the Taylor series for lower < x ≤ upper
LGAMMA_TAYLOR_PIECES = ((-2.85, -2.65, -2.7476826467274127, LGAMMA_NEAR_ZERO_TWO),
                        (-2.65, -2.55, -2.6, LGAMMA_NEAR_MINIMUM))


# --- the forwards, on float64 arrays ---

def _in_float64(function, x):
    """``function`` of x computed in float64 on a 1-D copy (NumPy turns 0-d results into
    scalars, which have no device), returned in x's shape and dtype."""
    result = function(x.reshape(-1).astype(backend.float64)).reshape(x.shape)
    if result.dtype == x.dtype:
        return result
    with backend.np.errstate(over="ignore"):  # beyond float32's range: ±inf, as PyTorch's
        return result.astype(x.dtype)  # float32 arithmetic gives (digamma(1e-45) = −inf)


def _lgamma_positive(x):
    """log Γ(x) for x > 0 (float64 array):

    * x ≥ 8: Stirling's series (x − ½)·log x − x + log √(2π) + Σ_k B₂ₖ/(2k(2k − 1)·x^(2k−1));
    * x < 8: with k = ⌊x − 1.5⌋ and z = x − (k + 2) in [−½, ½), log Γ(2 + z) by its power
      series, then Γ(x) = Γ(2 + z)·(x − 1)⋯(x − k) for k ≥ 1, Γ(2 + z)/(1 + z) for k = −1
      and Γ(2 + z)/((1 + z)·z) for k = −2 (no subtraction near the zeros at 1 and 2)."""
    xp = backend.xp_of(x)
    large = xp.maximum(x, 8.0)  # Stirling's series
    inverse = 1 / large
    stirling = ((large - 0.5) * xp.log(large) - large + LOG_SQRT_2PI
                + inverse * _polynomial(STIRLING, inverse * inverse))
    small = xp.minimum(x, 8.0)  # log Γ(2 + z), then Γ(x + 1) = x·Γ(x) k times
    k = xp.floor(small - 1.5)  # −2 … 6
    z = small - (k + 2)  # in [−½, ½)
    near_two = z * _polynomial(LGAMMA_NEAR_TWO, z)
    product = 1.0  # Γ(x) = Γ(2 + z)·(x − 1)(x − 2)⋯(x − k) for k ≥ 1
    for j in range(1, 7):
        product = product * xp.where(k >= j, small - j, 1.0)
    down_one = xp.where(k <= -1, xp.log1p(z), 0.0)  # Γ(1 + z) = Γ(2 + z) / (1 + z)
    down_two = xp.where(k <= -2, xp.log(xp.where(k <= -2, small, 1.0)), 0.0)  # Γ(z) = Γ(1+z)/z
    below = near_two + xp.log(product) - down_one - down_two
    return xp.where(x < 8, below, xp.where(x == math.inf, math.inf, stirling))


def _lgamma_near_negative_zeros(x):
    """log |Γ(x)| for −30 < x < −2 (float64 array; other entries give a finite value to
    discard), to a few ulp also near the zeros of log |Γ|, where the reflection formula
    subtracts two logarithms of size up to 75 (as glibc's lgamma_neg).

    In the half-interval −(i + 1)/2 < x ≤ −i/2, with its zero z (``LGAMMA_NEGATIVE_ZEROS``),
    its integer end n, a = |x − n|, a₀ = |z − n| and δ = x − z, the reflection formula at x
    minus the one at z (where log |Γ| = 0) gives two terms that vanish with δ:

        log |Γ(x)| = log(sin πa₀ / sin πa) + (log Γ(1 − z) − log Γ(1 − x))

    * sin πa₀ / sin πa = 1 + 2s·(c·cot πa − s), s = sin(πd/2), c = cos(πd/2), d = a₀ − a
      (= ±δ), taken by log1p; by log itself when a₀ < a/2 (the ratio is then below ~½);
    * log Γ(y₀) − log Γ(y₀ − δ) = ψ(y₀)·δ − Σ_{m=2}^{25} ζ(m, y₀)·δᵐ/m, y₀ = 1 − z
      (``LGAMMA_ZERO_SERIES``).

    For −2.85 < x ≤ −2.55, where even these two terms cancel, log |Γ| is its own Taylor
    series at a point c (``LGAMMA_TAYLOR_PIECES``)."""
    xp = backend.xp_of(x)
    x = xp.where((x > -30) & (x < -2), x, -2.25)
    # i = 4 … 59; but −2.55 < x ≤ −2.5 takes the zero in (−2.5, −2) (i = 4): with the
    # one in (−3, −2.5) the two terms there cancel to a tenth of their size
    half_interval = xp.where((x > -2.55) & (x <= -2.5), 4.0, xp.floor(-2 * x))
    index = half_interval.astype(backend.int64) - 4
    zeros = xp.asarray(LGAMMA_NEGATIVE_ZEROS)
    high, low, digamma = zeros[:, 0][index], zeros[:, 1][index], zeros[:, 2][index]
    end = -xp.ceil(half_interval / 2)  # n: x ≤ n for i even, x > n for i odd
    delta = (x - high) - low  # x − high is exact (Sterbenz)
    a = abs(x - end)  # in (0, 0.55]
    a = xp.where(a == 0, 0.5, a)  # (the poles: the caller's)
    a_zero = abs((high - end) + low)
    d = xp.where(half_interval % 2 == 0, delta, -delta)
    s, c = xp.sin(math.pi / 2 * d), xp.cos(math.pi / 2 * d)
    # cot πa = tan(π(½ − a)) for a > ¼ (½ − a exact): tan near π/2 would lose its digits
    cotangent = xp.where(a > 0.25, xp.tan(math.pi * (0.5 - a)),
                         1 / xp.tan(math.pi * xp.minimum(a, 0.25)))
    direct = a_zero < a / 2
    sines = xp.where(direct, xp.log(xp.sin(math.pi * a_zero) / xp.sin(math.pi * a)),
                     xp.log1p(xp.where(direct, 0.0, 2 * s * (c * cotangent - s))))
    series = xp.asarray(LGAMMA_ZERO_SERIES)
    total = series[-1][index]
    for row in range(len(LGAMMA_ZERO_SERIES) - 2, -1, -1):
        total = total * delta + series[row][index]
    result = sines + delta * (digamma - delta * total)
    for lower, upper, center, coefficients in LGAMMA_TAYLOR_PIECES:
        piece = (x > lower) & (x <= upper)
        taylor = _polynomial(coefficients, xp.where(piece, x - center, 0.0))  # (x − c exact)
        result = xp.where(piece, taylor, result)
    return result


def _lgamma(x):
    """log |Γ(x)| for every x (float64 array); for −30 < x < −2 by
    ``_lgamma_near_negative_zeros``, as the reflection formula below loses the digits of
    the values near the zeros of log |Γ| there (−2.4570…: all of them)."""
    # ±inf, the poles and 1e308 pass through inf·0, log 0 and overflow on their way to
    # the values the last line picks (PyTorch's, given silently): no NumPy warning
    with backend.np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        xp = backend.xp_of(x)
        positive = x > 0
        # x ≤ 0: log Γ(x) = log(π / |sin πx|) − log Γ(1 − x)
        reflected = _lgamma_positive(xp.where(positive, x, 1 - xp.where(positive, 0.0, x)))
        offset = x - xp.round(x)  # |sin πx| = |sin πr|, r = x − round(x) in [−½, ½]: exact,
        sine = abs(xp.sin(math.pi * offset))  # so no digit is lost near the poles (x = −1e-10)
        pole = (x == xp.floor(x)) | xp.isinf(x)  # 0, −1, −2, …, −inf
        negative = xp.log(math.pi / xp.where(pole, 1.0, sine)) - reflected
        zeros = (x > -30) & (x < -2)
        if backend.to_host(zeros.any()).item():  # (skipped for the usual x > 0)
            negative = xp.where(zeros, _lgamma_near_negative_zeros(x), negative)
        return xp.where(positive, reflected, xp.where(pole & ~xp.isnan(x), math.inf, negative))


def _digamma(x):
    """ψ(x) for every x (float64 array), with PyTorch's values at the poles: −inf at +0,
    +inf at −0, NaN at the negative integers.

    Within ½ of the positive zero x₀ the Taylor series ``DIGAMMA_NEAR_ROOT`` in
    z = (x − DIGAMMA_ROOT) − DIGAMMA_ROOT_LOW (the first difference exact) keeps the
    relative accuracy as ψ(x) → 0: the recurrence below subtracts sums of size 2 and
    keeps only their absolute accuracy (ψ(1.4616321449683622) ≈ −9.2e-17 came out 7e-16)."""
    # 1/x overflows at the subnormals (to the −inf PyTorch gives), and ±inf pass through
    # inf − inf and tan(inf) on their way to the values the last lines pick: no warning
    with backend.np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _digamma_values(x)


def _digamma_values(x):
    """``_digamma``'s work, under its errstate."""
    xp = backend.xp_of(x)
    negative = x < 0
    y = xp.where(negative, 1 - x, x)  # ψ(x) = ψ(1 − x) − π / tan(πx) for x < 0
    y = xp.where(y == 0, 1.0, y)
    z = (y - DIGAMMA_ROOT) - DIGAMMA_ROOT_LOW
    near_root = xp.abs(z) < 0.5
    root_series = z * _polynomial(DIGAMMA_NEAR_ROOT, xp.where(near_root, z, 0.0))
    result = 0.0
    for _ in range(10):  # ψ(y) = ψ(y + 1) − 1/y until y ≥ 10
        below = y < 10
        result = result - xp.where(below, 1 / y, 0.0)
        y = xp.where(below, y + 1, y)
    inverse_square = 1 / (y * y)
    result = (result + xp.log(y) - 0.5 / y
              - inverse_square * _polynomial(DIGAMMA_ASYMPTOTIC, inverse_square))
    result = xp.where(near_root, root_series, result)
    # tan(πx) = tan(π·fraction), fraction = x − round(x) in [−½, ½] (exact): π·x itself
    # would lose the digits of x next to a pole (x = −0.999999: 6e-12 relative)
    fraction = x - xp.round(x)
    tangent = xp.tan(math.pi * xp.where(fraction == 0, 0.5, fraction))
    result = xp.where(negative, result - math.pi / tangent, result)
    result = xp.where(negative & (fraction == 0), math.nan, result)
    return xp.where(x == 0, xp.copysign(math.inf, -x), result)


def _polygamma(n: int, x):
    """ψ⁽ⁿ⁾(x) = (−1)ⁿ⁺¹·n!·ζ(n + 1, x) for n ≥ 1 (float64 array)."""
    factorial = float(math.factorial(n)) if n <= 170 else math.inf  # (171! overflows)
    result = (-1) ** (n + 1) * factorial * _hurwitz_zeta(n + 1.0, x)
    # PyTorch's trigamma (its own series, n = 1) is NaN at −inf, where ψ⁽¹⁾ has no limit;
    # its n ≥ 2 go through ζ, whose pole rule (q = ⌊q⌋ ≤ 0) gives ±inf there, as here
    return backend.xp_of(result).where(x == -math.inf, math.nan, result) if n == 1 else result


def _exp_minus_square(x, scale: float = 1.0):
    """e^(−scale·x²) (scale 1 or ½; −1 for e^(x²)) without the rounding error of x²:
    x = m + f with m a multiple of 1/128 (so m² is exact) and x² = m² + (2m + f)·f."""
    xp = backend.xp_of(x)
    m = xp.floor(x * 128) / 128
    f = x - m
    return xp.exp(-scale * m * m) * xp.exp(-scale * (2 * m + f) * f)


def _erfcx_continued_fraction(x):
    """e^(x²)·erfc(x) = 1 / (√π·(x + ½/(x + 1/(x + (3/2)/(x + 2/(x + …)))))) for x ≥ 1.5,
    evaluated from the 100th term back (1e-16 at x = 1.5, faster for larger x)."""
    denominator = x
    for k in range(100, 0, -1):
        denominator = x + (k / 2) / denominator
    return 1 / (SQRT_PI * denominator)


# e^(x²)·erfc(x) for ½ ≤ x ≤ 1.5, in powers of s = 2x − 2 ∈ [−1, 1]: a Chebyshev fit (made
# with mpmath, 20 terms, 1.5e-16 relative); the coefficients alternate and sum to
# erfcx(½) ≈ 0.62 in absolute value, so Horner's rule loses nothing
ERFCX_MIDDLE = (
    0.427583576155807, -0.13660600739194928, 0.03859289034297711, -0.009903371117665843,
    0.0023482685134556683, -0.0005206834090754457, 0.00010890847460885351,
    -2.1633318561315765e-05, 4.102614842094541e-06, -7.46004937359614e-07,
    1.3053025133622078e-07, -2.2042929676504424e-08, 3.6018429179225167e-09,
    -5.707384852790472e-10, 8.78797088728598e-11, -1.3168083141765532e-11,
    1.9151601750676396e-12, -2.729886900075499e-13, 4.183458346599813e-14,
    -5.705089010403712e-15)


def _erfc(x):
    """erfc(x) = 1 − erf(x), to a few units in the last place (float64 array):

    * x < ½:        1 − erf(x)   (erfc(½) ≈ 0.48: the subtraction loses at most a bit)
    * ½ ≤ x < 1.5:  e^(−x²)·erfcx(x), erfcx by its fit ``ERFCX_MIDDLE`` (1 − erf(x) would
      lose 20 units in the last place at x = 1.4, where erfc(x) ≈ 0.05)
    * x ≥ 1.5:      e^(−x²)·erfcx(x), erfcx by its continued fraction."""
    xp = backend.xp_of(x)
    far = xp.clip(x, 1.5, 40.0)  # above 40, e^(−x²) is 0 in float64 (and x = inf would
    tail = _exp_minus_square(far) * _erfcx_continued_fraction(far)  # give inf − inf)
    middle = xp.clip(x, 0.5, 1.5)
    middle = _exp_minus_square(middle) * _polynomial(ERFCX_MIDDLE, 2 * middle - 2)
    near = 1 - Erf.apply(xp.minimum(x, 0.5))
    return xp.where(x < 0.5, near, xp.where(x < 1.5, middle, tail))


def _erfcx(x):
    """e^(x²)·erfc(x) (float64 array): e^(x²)·(1 − erf(x)) for 0 ≤ x < ½, the fit
    ``ERFCX_MIDDLE`` up to 1.5, the continued fraction beyond; for x < 0,
    2·e^(x²) − erfcx(−x), e^(x²) taken without the rounding error of x² (which would
    cost x²·1e-16 relative: 500 units in the last place at x = −23)."""
    xp = backend.xp_of(x)
    size = xp.abs(x)
    far = _erfcx_continued_fraction(xp.maximum(size, 1.5))
    middle = _polynomial(ERFCX_MIDDLE, 2 * xp.clip(size, 0.5, 1.5) - 2)
    small = xp.minimum(size, 0.5)
    near = xp.exp(small * small) * (1 - Erf.apply(small))
    positive = xp.where(size < 0.5, near, xp.where(size < 1.5, middle, far))
    # e^(x²) (or 2·e^(x²)) overflows to inf beyond x ≈ −26.6, the value erfcx has there
    # in float64 (and x = −inf must give): min(|x|, 27) keeps it from inf·0 alone
    with backend.np.errstate(over="ignore"):
        grown = _exp_minus_square(xp.minimum(size, 27.0), -1.0)
        return xp.where(x >= 0, positive, 2 * grown - positive)


def _ndtr(x):
    """Φ(x), the standard normal distribution function (float64 array), with Φ(x) =
    erfc(−x/√2)/2:

    * x ≥ 0:  1 − erfc(x/√2)/2 = (1 + erf(x/√2))/2   (no digit lost: Φ(x) ≥ ½)
    * x < 0:  e^(−x²/2)·erfcx(−x/√2)/2

    The second line takes x² from x itself: erfc of the rounded x/√2 would be off by
    about x²·1e-16 relative (2000 units in the last place at x = −37)."""
    xp = backend.xp_of(x)
    below = xp.clip(x, -40.0, 0.0)  # (Φ(−40) ≈ 4e-350 is 0 in float64)
    lower = _exp_minus_square(below, 0.5) * _erfcx(-below / SQRT_2) / 2
    upper = _erfc(-xp.maximum(x, 0.0) / SQRT_2) / 2
    return xp.where(x < 0, lower, upper)


def _log_ndtr(x):
    """log Φ(x), Φ the standard normal distribution function, stable for very negative x
    (float64 array). With Φ(x) = erfc(−x/√2)/2 = e^(−x²/2)·erfcx(−x/√2)/2:

    * x ≤ 0:  log Φ(x) = −x²/2 + log(erfcx(−x/√2)/2)   (erfc would underflow)
    * x > 0:  log Φ(x) = log1p(−Φ(−x)), Φ(−x) = e^(−x²/2)·erfcx(x/√2)/2

    Both take x² from x itself: erfc of the rounded x/√2 would be off by about
    x²·1e-16 relative; erfcx varies slowly, so its rounded argument costs nothing."""
    xp = backend.xp_of(x)
    size = xp.abs(x)
    scaled = _erfcx(size / SQRT_2)
    with backend.np.errstate(over="ignore", divide="ignore"):  # x = −inf, −1e308: −inf
        lower = -size * size / 2 + xp.log(scaled / 2)  # (all negative: no cancellation)
    # (e^(−x²/2) is 0 beyond 40, and x = inf would give inf − inf in the splitting)
    upper = xp.log1p(-_exp_minus_square(xp.minimum(size, 40.0), 0.5) * scaled / 2)
    return xp.where(x <= 0, lower, upper)


def _ndtri_tail(q):
    """Φ⁻¹(q) for 0 < q ≤ ¼: Abramowitz & Stegun 26.2.23 (error < 4.5e-4) as the first
    guess, then three steps of Halley's method on g(x) = log Φ(x) − log q, with
    g' = r = φ/Φ and g'' = −r·(x + r) (working with log Φ keeps q = 1e-300 exact)."""
    xp = backend.xp_of(q)
    t = xp.sqrt(-2 * xp.log(q))
    x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t)
          / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
    for _ in range(3):
        log_phi = _log_ndtr(x)
        g = log_phi - xp.log(q)
        r = xp.exp(-x * x / 2 - LOG_SQRT_2PI - log_phi)
        x = x - g / (r + g * (x + r) / 2)
    return x


def _erfinv_center(y):
    """erfinv(y) for |y| ≤ ½: four terms of its Maclaurin series
    (√π/2)·(y + πy³/12 + 7π²y⁵/480 + 127π³y⁷/40320), error < 2e-4, then two steps of
    Halley's method on f(x) = erf(x) − y: x ← x − f / (f' + x·f), f' = (2/√π)·e^(−x²)."""
    xp = backend.xp_of(y)
    square = y * y
    x = SQRT_PI / 2 * y * (1 + square * (math.pi / 12 + square * (
        7 * math.pi ** 2 / 480 + square * 127 * math.pi ** 3 / 40320)))
    for _ in range(2):
        f = Erf.apply(x) - y
        x = x - f / (2 / SQRT_PI * xp.exp(-x * x) + x * f)
    return x


def _erfinv(y):
    """erfinv(y) for every y (float64 array): ±inf at ±1, NaN outside [−1, 1].
    For |y| > ½, erfinv(y) = −sign(y)·Φ⁻¹((1 − |y|)/2)/√2, where 1 − |y| is exact."""
    xp = backend.xp_of(y)
    size = xp.abs(y)
    center = _erfinv_center(xp.clip(y, -0.5, 0.5))
    q = (1 - xp.clip(size, 0.5, 1.0)) / 2
    tail = -xp.sign(y) * _ndtri_tail(xp.where(q > 0, q, 0.25)) / SQRT_2
    result = xp.where(size <= 0.5, center, xp.where(size < 1, tail, xp.copysign(math.inf, y)))
    return xp.where(size <= 1, result, math.nan)  # (NaN fails every comparison)


def _ndtri(p):
    """Φ⁻¹(p) for every p (float64 array): −inf at 0, +inf at 1, NaN outside [0, 1].
    √2·erfinv(2p − 1) for ¼ ≤ p ≤ ¾ (2p − 1 is exact there), the lower tail below ¼,
    and −Φ⁻¹(1 − p) above ¾."""
    xp = backend.xp_of(p)
    center = SQRT_2 * _erfinv_center(2 * xp.clip(p, 0.25, 0.75) - 1)
    q = xp.where(p < 0.5, p, 1 - p)
    tail = _ndtri_tail(xp.clip(q, 5e-324, 0.25))  # (q = 0 is answered below)
    tail = xp.where(q > 0, tail, -math.inf)
    result = xp.where(p < 0.25, tail, xp.where(p <= 0.75, center, -tail))
    return xp.where((p >= 0) & (p <= 1), result, math.nan)


# Cephes's Chebyshev coefficients (S. L. Moshier; PyTorch's calc_i0, calc_i1 have the
# same) of e^(−x)·√x·I₀(x) and e^(−x)·√x·I₁(x) for x > 8, in 32/x − 2, highest order
# first, for Cephes's chbevl (``_chebyshev``)
I0E_FAR = (
    -7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
    3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
    1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
    -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
    7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
    -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
    3.39623202570838634515e-09, 2.26666899049817806459e-08, 2.04891858946906374183e-07,
    2.89137052083475648297e-06, 6.88975834691682398426e-05, 3.36911647825569408990e-03,
    8.04490411014108831608e-01)
I1E_FAR = (
    7.51729631084210481353e-18, 4.41434832307170791151e-18, -4.65030536848935832153e-17,
    -3.20952592199342395980e-17, 2.96262899764595013876e-16, 3.30820231092092828324e-16,
    -1.88035477551078244854e-15, -3.81440307243700780478e-15, 1.04202769841288027642e-14,
    4.27244001671195135429e-14, -2.10154184277266431302e-14, -4.08355111109219731823e-13,
    -7.19855177624590851209e-13, 2.03562854414708950722e-12, 1.41258074366137813316e-11,
    3.25260358301548823856e-11, -1.89749581235054123450e-11, -5.58974346219658380687e-10,
    -3.83538038596423702205e-09, -2.63146884688951950684e-08, -2.51223623787020892529e-07,
    -3.88256480887769039346e-06, -1.10588938762623716291e-04, -9.76109749136146840777e-03,
    7.78576235018280120474e-01)


def _bessel(order: int, x, scaled: bool):
    """I₀(x) or I₁(x) (``order``), times e^(−|x|) when ``scaled`` (float64 array):

    * |x| ≤ 8: Iᵥ(x) = Σₖ (x/2)^(2k+ν) / (k!·(k + ν)!), 30 terms (all positive);
    * |x| > 8: e^(−|x|)·Iᵥ(x) = Cᵥ(32/|x| − 2) / √|x|, Cᵥ Cephes's Chebyshev series
      ``I0E_FAR``, ``I1E_FAR``;

    times sign(x) for I₁ (odd). Both stay within 6 units in the last place. The power
    series beyond 8 would lose 10 (near x = 20): the rounding of x²/4 is raised to the
    power of its largest terms, k ≈ x/2. Cephes's series for |x| ≤ 8 would lose 14 for
    I₁ near x = 7."""
    xp = backend.xp_of(x)
    size = xp.abs(x)
    near = xp.minimum(size, 8.0)
    quarter_square = near * near / 4
    term = (near / 2) ** order  # k = 0
    series = term
    for k in range(1, 30):
        term = term * quarter_square / (k * (k + order))
        series = series + term
    far = xp.maximum(size, 8.0)  # (x = ±inf gives 0 here, before e^|x|)
    chebyshev = _chebyshev(I0E_FAR if order == 0 else I1E_FAR, 32 / far - 2) / xp.sqrt(far)
    if scaled:
        result = xp.where(size <= 8, series * xp.exp(-near), chebyshev)
    else:  # e^|x| whole up to 700 (in halves each rounding counts twice); in two halves
        # beyond: e^|x| overflows from 709.8, Iᵥ(x) only from 713.987
        whole = xp.exp(xp.minimum(far, 700.0)) * chebyshev
        half = xp.exp(xp.minimum(far, 713.99) / 2)  # (no 0·inf at x = ±inf)
        grown = xp.where(size > 713.99, math.inf, half * chebyshev * half)
        result = xp.where(size <= 8, series, xp.where(size <= 700, whole, grown))
    return result if order == 0 else xp.where(x < 0, -result, result)


# --- the ops ---

class Lgamma(Function):
    """y = log |Γ(x)|, +inf at the poles x = 0, −1, −2, ….   dy/dx = ψ(x) (digamma)."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(_lgamma, x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * Digamma.apply(x)


class Digamma(Function):
    """y = ψ(x) = d/dx log Γ(x).   dy/dx = ψ⁽¹⁾(x) (trigamma)."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(_digamma, x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * Polygamma.apply(x, n=1)


class Polygamma(Function):
    """y = ψ⁽ⁿ⁾(x) = (−1)ⁿ⁺¹·n!·ζ(n + 1, x), n ≥ 1.   dy/dx = ψ⁽ⁿ⁺¹⁾(x)."""

    def forward(self, x: "Array", n: int) -> "Array":
        self.n = n
        return _in_float64(lambda x64: _polygamma(n, x64), x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * Polygamma.apply(x, n=self.n + 1)


class Erfinv(Function):
    """y = erf⁻¹(x), for −1 ≤ x ≤ 1.   dy/dx = 1 / erf'(y) = (√π/2)·e^(y²)."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(_erfinv, x)

    def backward(self, grad_output: "Grad") -> "Grads":
        y = self.saved_output
        return grad_output * (SQRT_PI / 2) * self.xp.exp(y * y)


class Erfc(Function):
    """y = erfc(x) = 1 − erf(x), with every digit in the tail (where 1 − erf(x) would
    keep none: erfc(10) ≈ 2e-45).   dy/dx = −(2/√π)·e^(−x²)."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(_erfc, x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return -grad_output * (2 / SQRT_PI) * self.xp.exp(-x * x)


class Erfcx(Function):
    """y = e^(x²)·erfc(x), the scaled complementary error function.
    dy/dx = 2x·y − 2/√π."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(_erfcx, x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), y = self.saved_inputs, self.saved_output
        return grad_output * (2 * x * y - 2 / SQRT_PI)


class LogNdtr(Function):
    """y = log Φ(x), Φ(x) = ½·erfc(−x/√2) the standard normal distribution function;
    stable for very negative x (log Φ(−40) ≈ −804.6, where Φ itself underflows).
    dy/dx = φ(x)/Φ(x), computed as

    * x < 0:  √(2/π) / erfcx(−x/√2)   (e^(−x²/2 − y) would subtract two huge numbers)
    * x ≥ 0:  e^(−x²/2 − log √(2π) − y)

    ``where`` selects; the erfcx side sees min(x, 0), so that it never overflows."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(_log_ndtr, x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), y, xp = self.saved_inputs, self.saved_output, self.xp
        below = math.sqrt(2 / math.pi) / Erfcx.apply(-xp.where(x < 0, x, 0) / SQRT_2)
        above = xp.exp(-x * x / 2 - LOG_SQRT_2PI - y)
        return grad_output * xp.where(x < 0, below, above)


class Ndtr(Function):
    """y = Φ(x), the standard normal distribution function.   dy/dx = φ(x) = e^(−x²/2)/√(2π)."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(_ndtr, x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * self.xp.exp(-x * x / 2 - LOG_SQRT_2PI)


class Ndtri(Function):
    """y = Φ⁻¹(p), the inverse of the standard normal distribution function.
    dy/dp = 1 / φ(y) = √(2π)·e^(y²/2)."""

    def forward(self, p: "Array") -> "Array":
        return _in_float64(_ndtri, p)

    def backward(self, grad_output: "Grad") -> "Grads":
        y = self.saved_output
        return grad_output * self.xp.exp(y * y / 2 + LOG_SQRT_2PI)


class I0(Function):
    """y = I₀(x), the modified Bessel function of the first kind of order 0.
    dy/dx = I₁(x)."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(lambda x64: _bessel(0, x64, scaled=False), x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * I1.apply(x)


class I1(Function):
    """y = I₁(x), of order 1.   dy/dx = I₀(x) − y/x, and ½ at x = 0.

    x = 0 is replaced by 1 before the division (``where`` then selects ½), so that the
    unselected side is never 0/0."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(lambda x64: _bessel(1, x64, scaled=False), x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), y, xp = self.saved_inputs, self.saved_output, self.xp
        at_zero = x == 0
        slope = I0.apply(x) - y / xp.where(at_zero, 1, x)
        return xp.where(at_zero, grad_output * 0.5, grad_output * slope)


class I0e(Function):
    """y = e^(−|x|)·I₀(x), without overflow for large |x|.
    dy/dx = I₁ₑ(x) − sign(x)·y."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(lambda x64: _bessel(0, x64, scaled=True), x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), y = self.saved_inputs, self.saved_output
        return grad_output * (I1e.apply(x) - Sign.apply(x) * y)


class I1e(Function):
    """y = e^(−|x|)·I₁(x).   dy/dx = I₀ₑ(x) − y·(sign(x) + 1/x), and ½ at x = 0."""

    def forward(self, x: "Array") -> "Array":
        return _in_float64(lambda x64: _bessel(1, x64, scaled=True), x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), y, xp = self.saved_inputs, self.saved_output, self.xp
        at_zero = x == 0
        slope = I0e.apply(x) - y * (Sign.apply(x) + 1 / xp.where(at_zero, 1, x))
        return xp.where(at_zero, grad_output * 0.5, grad_output * slope)


class Zeta(Function):
    """y = ζ(s, q) = Σ_{k≥0} (q + k)^(−s), the Hurwitz zeta function (s > 1).
    dy/dq = −s·ζ(s + 1, q); dy/ds is not implemented (as in PyTorch)."""

    def forward(self, s: "Array", q: "Array") -> "Array":
        shape = backend.broadcast_shapes(s.shape, q.shape)  # (a 0-d operand is not broadcast)
        return _hurwitz_zeta(s.reshape(-1), q.reshape(-1)).reshape(shape).astype(q.dtype)

    def backward(self, grad_output: "Grad") -> "Grads":
        if self.needs_input_grad[0]:
            raise NotImplementedError("the derivative of zeta with respect to its first "
                                      "argument (s) is not implemented (as in PyTorch)")
        if not self.needs_input_grad[1]:
            return None, None
        s, q = self.saved_inputs
        return None, -grad_output * s * Zeta.apply(s + 1, q)


class Xlog1py(Function):
    """y = a·log(1 + b), and 0 where a = 0 (unless b is NaN).
    dy/da = log(1 + b), but 0 where a = 0 and b ≤ −1;   dy/db = a / (1 + b)
    (PyTorch's conventions, as ``Xlogy``'s)."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        xp = backend.xp_of(a)
        zero = (a == 0) & ~xp.isnan(b)
        with backend.np.errstate(divide="ignore", invalid="ignore"):  # b = −1: −inf; b < −1: NaN
            return xp.where(zero, 0, a * xp.log1p(xp.where(zero, 0, b)))

    def backward(self, grad_output: "Grad") -> "Grads":
        (a, b), xp = self.saved_inputs, self.xp
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            masked = (a == 0) & (b <= -1)
            grad_a = xp.where(masked, 0, Xlog1py.apply(grad_output, xp.where(masked, 0, b)))
        if self.needs_input_grad[1]:
            grad_b = grad_output * a / (1 + b)
        return grad_a, grad_b


class Entr(Function):
    """y = −x·log x for x > 0, 0 at x = 0, −inf for x < 0, NaN at NaN.
    dy/dx = −(1 + log x)   (PyTorch's: +inf at x = 0, NaN below)."""

    def forward(self, x: "Array") -> "Array":
        xp = backend.xp_of(x)
        positive = x > 0
        safe = xp.where(positive, x, 1)  # (x = −inf: no −inf·0 on the unselected side)
        with backend.np.errstate(over="ignore"):  # x log x overflows to −inf from 1e307 on
            entropy = -safe * xp.log(safe)
        below = xp.where(x == 0, 0, xp.where(x < 0, -math.inf, math.nan))   # 0, −inf or NaN
        return xp.where(positive, entropy, below).astype(x.dtype)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return -grad_output * (1 + self.xp.log(x))


class Copysign(Function):
    """y = |a| with the sign of b (−0.0 counts as negative).
    dy/da = ±1: +1 where a and b have one sign, −1 where not, and 0 at a = 0 (PyTorch's);
    dy/db = 0."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return backend.xp_of(a).copysign(a, b)

    def backward(self, grad_output: "Grad") -> "Grads":
        (a, b), xp = self.saved_inputs, self.xp
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            same = (a < 0) == _negative(b)
            grad_a = xp.where(a == 0, 0, xp.where(same, grad_output, -grad_output))
        if self.needs_input_grad[1]:
            grad_b = xp.zeros_like(grad_output)
        return grad_a, grad_b


def _negative(b):
    """True where b's sign bit is set (b < 0, and −0.0): a mask, on arrays or Tensors."""
    data = b.data if isinstance(b, tensor_module.Tensor) else b
    negative = backend.xp_of(data).signbit(data)
    return constant(negative) if isinstance(b, tensor_module.Tensor) else negative


# --- the special functions (Tensor methods too, through SpecialMethods) ---

def lgamma(input):
    """log |Γ(x)|, elementwise (+inf at 0, −1, −2, …); the gradient is digamma(x)."""
    return Lgamma.apply(_float_input(input, "lgamma"))


def digamma(input):
    """ψ(x) = d/dx log Γ(x), elementwise (PyTorch's values: −inf at 0, NaN at the negative
    integers); the gradient is polygamma(1, x)."""
    return Digamma.apply(_float_input(input, "digamma"))


def polygamma(n: int, input):
    """ψ⁽ⁿ⁾(x), the n-th derivative of digamma (n ≥ 0; n = 0 is digamma), elementwise;
    the gradient is polygamma(n + 1, x)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"polygamma: n must be an int >= 0, got {n!r}")
    x = _float_input(input, "polygamma")
    return Digamma.apply(x) if n == 0 else Polygamma.apply(x, n=n)


def mvlgamma(input, p: int):
    """The multivariate log-gamma function of dimension p, elementwise:
    log Γ_p(x) = p(p − 1)/4·log π + Σ_{i=0}^{p−1} log Γ(x − i/2), for x > (p − 1)/2
    (a composition of ``lgamma``: its gradient is Σ ψ(x − i/2))."""
    if not isinstance(p, int) or isinstance(p, bool) or p < 1:
        raise ValueError(f"mvlgamma: p must be an int >= 1, got {p!r}")
    x = _float_input(input, "mvlgamma")
    if x.data.size and backend.to_host((x.data <= (p - 1) / 2).any()).item():
        raise ValueError(f"mvlgamma: all elements must be greater than (p-1)/2 = "
                         f"{(p - 1) / 2} for p={p}")
    total = lgamma(x)
    for i in range(1, p):
        total = total + lgamma(x - i / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)


def erfinv(input):
    """erf⁻¹(x), elementwise (±inf at ±1, NaN outside [−1, 1]); the gradient is
    (√π/2)·e^(erfinv(x)²)."""
    return Erfinv.apply(_float_input(input, "erfinv"))


def i0(input):
    """I₀(x), the modified Bessel function of the first kind of order 0, elementwise; the
    gradient is I₁(x)."""
    return I0.apply(_float_input(input, "i0"))


def i0e(input):
    """e^(−|x|)·I₀(x), elementwise (``tg.special.i0e``); the gradient is
    I₁ₑ(x) − sign(x)·i0e(x)."""
    return I0e.apply(_float_input(input, "i0e"))


def i1(input):
    """I₁(x), of order 1, elementwise (``tg.special.i1``); the gradient is I₀(x) − I₁(x)/x
    (½ at 0)."""
    return I1.apply(_float_input(input, "i1"))


def i1e(input):
    """e^(−|x|)·I₁(x), elementwise (``tg.special.i1e``); the gradient is
    I₀ₑ(x) − i1e(x)·(sign(x) + 1/x) (½ at 0)."""
    return I1e.apply(_float_input(input, "i1e"))


def erfc(input):
    """erfc(x) = 1 − erf(x), elementwise, accurate in the tail (``tg.erfc``, ``x.erfc()``,
    ``tg.special.erfc``); the gradient is −(2/√π)·e^(−x²)."""
    return Erfc.apply(_float_input(input, "erfc"))


def erfcx(input):
    """e^(x²)·erfc(x), elementwise (``tg.special.erfcx``); the gradient is
    2x·erfcx(x) − 2/√π."""
    return Erfcx.apply(_float_input(input, "erfcx"))


def ndtr(input):
    """Φ(x) = ½·erfc(−x/√2), the standard normal distribution function, elementwise
    (``tg.special.ndtr``; every digit in the lower tail: Φ(−30) ≈ 4.9e-198); the gradient
    is φ(x) = e^(−x²/2)/√(2π)."""
    return Ndtr.apply(_float_input(input, "ndtr"))


def log_ndtr(input):
    """log Φ(x), elementwise, stable for very negative x (``tg.special.log_ndtr``); the
    gradient is φ(x)/Φ(x)."""
    return LogNdtr.apply(_float_input(input, "log_ndtr"))


def ndtri(input):
    """Φ⁻¹(p), the quantile of the standard normal distribution, elementwise (−inf at 0,
    +inf at 1, NaN outside [0, 1]; ``tg.special.ndtri``); the gradient is √(2π)·e^(y²/2)."""
    return Ndtri.apply(_float_input(input, "ndtri"))


def zeta(input, other):
    """ζ(x, q) = Σ_{k≥0} (q + k)^(−x), the Hurwitz zeta function, elementwise with
    broadcasting (``tg.special.zeta``; either may be a number); the gradient with respect
    to q is −x·ζ(x + 1, q), that with respect to x is not implemented (as PyTorch)."""
    return _binary(Zeta, "zeta", input, other, float_valued=True)


def xlog1py(input, other):
    """input·log(1 + other), elementwise with broadcasting, 0 where input = 0 (unless other
    is NaN) (``tg.special.xlog1py``). Gradients as PyTorch's: log(1 + other), 0 where
    input = 0 and other ≤ −1; input / (1 + other)."""
    return _binary(Xlog1py, "xlog1py", input, other, float_valued=True)


def entr(input):
    """−x·log x, elementwise: 0 at x = 0, −inf for x < 0, NaN at NaN
    (``tg.special.entr``); the gradient is −(1 + log x)."""
    return Entr.apply(_float_input(input, "entr"))


# --- more elementwise functions, composed ---

def _operands(input, other, name: str):
    """Two operands as the binary operators make them: Tensors of one float dtype (a
    number takes the other's dtype; an integer meeting a float is promoted to it, two
    integers become the default float, as PyTorch)."""
    input, other = _operand_tensors(input, other, name, float_valued=True)
    return _promote(input, other) if input.dtype != other.dtype else (input, other)


def logaddexp(input, other):
    """log(eᵃ + eᵇ), elementwise with broadcasting, stable (composed):
    max(a, b) + log1p(e^(−|a − b|)). At a = b the gap is taken as 0 (so that two equal
    infinities give ±inf, not NaN), and the gradient is ½ each, as PyTorch's
    eᵃ/(eᵃ + eᵇ); elsewhere it is σ(a − b) and σ(b − a)."""
    a, b = _operands(input, other, "logaddexp")
    gap = where(a == b, 0.0, -(a - b).abs())
    return maximum(a, b) + gap.exp().log1p()


def logaddexp2(input, other):
    """log₂(2ᵃ + 2ᵇ), elementwise with broadcasting, stable:
    logaddexp(a·ln 2, b·ln 2) / ln 2."""
    a, b = _operands(input, other, "logaddexp2")
    return logaddexp(a * math.log(2.0), b * math.log(2.0)) / math.log(2.0)


def sgn(input):
    """The sign of x (−1, 0 or 1), elementwise: for real tensors ``sign``; the gradient is 0."""
    return _tensor(input, "sgn").sign()


def signbit(input):
    """True where x's sign bit is set (x < 0, and −0.0), elementwise; no gradient."""
    x = _tensor(input, "signbit")
    if backend.is_floating(x.dtype):
        return constant(backend.xp_of(x.data).signbit(x.data))
    return constant(x.data < 0)


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value·tensor1·tensor2, elementwise with broadcasting (composed)."""
    product = tensor1 * tensor2
    return input + (product if value == 1 else product * value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value·tensor1/tensor2, elementwise with broadcasting (composed). As
    PyTorch, two integer tensors are refused (their division would be ambiguous)."""
    if not backend.is_floating(tensor1.dtype) and not backend.is_floating(tensor2.dtype):
        raise RuntimeError(f"addcdiv: integer division of tensor1 ({tensor1.dtype}) by "
                           f"tensor2 ({tensor2.dtype}) is not supported; use floats")
    quotient = tensor1 / tensor2
    return input + (quotient if value == 1 else quotient * value)


def renorm(input, p, dim: int, maxnorm):
    """Each slice of ``input`` along ``dim`` (``input.select(dim, i)``) whose p-norm
    exceeds ``maxnorm`` scaled down to norm ``maxnorm``, the others kept (as PyTorch:
    x·maxnorm/(‖x‖ + 1e-7) where ‖x‖ > maxnorm; float input only). Composed, so the
    gradient includes the norm's."""
    x = _tensor(input, "renorm")
    if not backend.is_floating(x.dtype):   # (PyTorch's vector norm takes no integers)
        raise TypeError(f"renorm: input must be a float tensor, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"renorm: input needs at least 2 dims, got shape {x.shape}")
    if not p > 0:
        raise ValueError(f"renorm: p must be > 0, got {p}")
    if not maxnorm >= 0:
        raise ValueError(f"renorm: maxnorm must be >= 0, got {maxnorm}")
    dim = normalize_dim(dim, x.ndim, "renorm")
    others = tuple(d for d in range(x.ndim) if d != dim)
    if p >= 1:
        norm = x.norm(p, dim=others, keepdim=True)
    else:
        norm = (x.abs() ** p).sum(others, keepdim=True) ** (1 / p)
    factor = where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    return x * factor


def float_power(input, exponent):
    """input ** exponent computed in float64 (both operands made float64 first, as
    PyTorch); the gradient is that of ``**``."""
    Tensor = tensor_module.Tensor
    if not isinstance(input, Tensor):
        return float(input) ** _tensor(exponent, "float_power").astype(backend.float64)
    if isinstance(exponent, Tensor):
        exponent = exponent.astype(backend.float64)
    return input.astype(backend.float64) ** exponent


def copysign(input, other):
    """|input| with the sign of ``other`` (−0.0 is negative), elementwise with broadcasting;
    integers become float32. Gradients as PyTorch's: ±1 for input (0 where input = 0),
    0 for other."""
    return _binary(Copysign, "copysign", input, other, float_valued=True)


def nextafter(input, other):
    """The next float after ``input`` in the direction of ``other``, elementwise with
    broadcasting (float tensors); no gradient (the result never requires grad)."""
    a = _tensor(input, "nextafter")
    b = as_operand(other, a, "nextafter")
    if not (backend.is_floating(a.dtype) and backend.is_floating(b.dtype)):
        raise TypeError(f"nextafter: expects float tensors, got {a.dtype} and {b.dtype}")
    broadcast_operands("nextafter", a, b)  # (raises naming the shapes if they clash)
    dtype = backend.result_dtype(a.dtype, b.dtype)
    xp = backend.xp_of(a.data)
    return constant(xp.nextafter(a.data.astype(dtype), b.data.astype(dtype)))


def ldexp(input, other):
    """input·2^other, elementwise with broadcasting (composed: float results, and the
    gradients of a product and of a power)."""
    return floating(_tensor(input, "ldexp")) * (2.0 ** as_operand(other, input, "ldexp"))


FrexpResult = namedtuple("FrexpResult", ["mantissa", "exponent"])
FrexpResult.__doc__ = "``(mantissa, exponent)``, as PyTorch's ``frexp`` returns them."


def frexp(input) -> FrexpResult:
    """``(mantissa, exponent)`` with input = mantissa·2^exponent, |mantissa| in [½, 1)
    (0 for 0) and exponent int32. mantissa = input·2^(−exponent), composed (its gradient
    is 2^(−exponent), PyTorch's), the power applied in two halves so that neither factor
    overflows at subnormal inputs."""
    x = _tensor(input, "frexp")
    if not backend.is_floating(x.dtype):
        raise TypeError(f"frexp: only floating-point tensors, got dtype {x.dtype}")
    xp = backend.xp_of(x.data)
    _, exponent = xp.frexp(x.data)
    half = exponent // 2
    first = constant(xp.ldexp(xp.ones_like(x.data), -half))
    second = constant(xp.ldexp(xp.ones_like(x.data), half - exponent))
    return FrexpResult(x * first * second, constant(exponent.astype(backend.int32)))


# --- windows and indexed writes ---

def unfold(self, dimension: int, size: int, step: int):
    """Every window of ``size`` elements along ``dimension``, ``step`` apart, as a new last
    dim: shape (…, (L − size)//step + 1, …, size) for a dim of length L. An indexing
    ``x[..., [[0, 1, …], [step, step + 1, …], …], ...]``, so the gradient of an element in
    several (overlapping) windows is the sum of their gradients."""
    x = _tensor(self, "unfold")
    if x.ndim == 0:  # as PyTorch: one element, so one window of size 1 (or 0): shape (size,)
        normalize_dim(dimension, 0, "unfold")
        if not 0 <= size <= 1 or step <= 0:
            raise ValueError(f"unfold: a 0-d tensor has windows of size at most 1 and a "
                             f"positive step, got size {size} and step {step}")
        return x.reshape(1)[:size]
    dim = normalize_dim(dimension, x.ndim, "unfold")
    length = x.shape[dim]
    if not 0 <= size <= length:
        raise ValueError(f"unfold: maximum size for dimension {dim} (of length {length}) is "
                         f"{length}, got size {size}")
    if step <= 0:
        raise ValueError(f"unfold: step must be > 0, got {step}")
    xp = backend.xp_of(x.data)
    count = (length - size) // step + 1
    windows = xp.arange(count)[:, None] * step + xp.arange(size)  # (count, size)
    picked = x[(slice(None),) * dim + (windows,)]  # (…, count, size, …)
    return picked.movedim(dim + 1, -1)


def _index_arrays(x, indices, name: str) -> tuple:
    """PyTorch's ``indices`` (a tuple of integer or bool tensors, or None for a whole dim,
    one per leading dim) as integer arrays on x's device (None as ``:``): a bool mask
    (of the shape of the dims it covers) becomes the positions of its True entries; an
    integer index must lie in [-size, size) of its dim."""
    Tensor = tensor_module.Tensor
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{name}: indices must be a tuple of tensors, got "
                        f"{type(indices).__name__}")
    arrays = []
    for index in indices:
        if index is None:  # (PyTorch's Tensor?[]: None takes the whole dim, as ``:``)
            arrays.append(slice(None))
            continue
        if not isinstance(index, Tensor) or index.dtype.kind not in "iub":
            raise TypeError(f"{name}: each index must be an integer or bool tensor, got "
                            f"{getattr(index, 'dtype', type(index).__name__)}")
        if index.device not in (x.device, "cpu"):  # a CPU index fits every device (PyTorch)
            raise RuntimeError(f"{name}: an index is on '{index.device}', the tensor on "
                               f"'{x.device}': indices must be on the CPU or on its device")
        if index.dtype == "uint8":  # as GetItem: PyTorch's legacy reading is a mask
            raise IndexError(f"{name}: uint8 indices are refused (PyTorch reads them as a "
                             "mask); give .bool() or .long()")
        data = backend.to_device(index.data, x.device)
        dim = len(arrays)                 # the dim this index starts at
        if index.dtype.kind == "b":
            if index.shape != x.shape[dim:dim + index.ndim]:  # (else it would fit silently)
                raise IndexError(f"{name}: the mask of shape {index.shape} does not match "
                                 f"the tensor's shape {x.shape} at dim {dim}")
            arrays.extend(backend.xp_of(data).nonzero(data))
            continue
        if dim < x.ndim:               # (CuPy would wrap a position out of range around)
            _check_range(data, x.shape[dim], name, f"dim {dim} of size {x.shape[dim]} "
                         f"(shape {x.shape})", negative=True)
        arrays.append(data.copy())
    if len(arrays) > x.ndim:
        raise IndexError(f"{name}: too many indices ({len(arrays)}) for a tensor of shape "
                         f"{x.shape}")
    return tuple(arrays)


def _write(x, index: tuple, values, accumulate: bool, name: str):
    """``x[index] = values``, or with ``accumulate`` ``x[index] += values`` where repeated
    places all add up (``x + IndexAdd``), in place; returns x."""
    values = as_operand(values, x, name)
    if values.dtype != x.dtype:
        values = values.astype(x.dtype)
    slot_shape = x.data[index].shape  # the shape x[index] has
    try:   # values broadcast one way only, to the places (as PyTorch's index_put_)
        fits = backend.broadcast_shapes(values.shape, slot_shape) == slot_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: values of shape {values.shape} cannot be broadcast to the "
                         f"indexed places of shape {slot_shape}")
    if not accumulate:
        x[index] = values
        return x
    if values.shape != slot_shape:
        values = values.broadcast_to(slot_shape)
    added = IndexAdd.apply(values, index=index, shape=x.shape)
    x[...] = x.clone() + added
    return x


def index_put_(self, indices, values, accumulate: bool = False):
    """``x[indices] = values`` in place (``indices`` a tuple of integer or bool tensors,
    ``values`` broadcast); with ``accumulate=True``, ``x[indices] += values`` where
    repeated indices all add up (without it, one write wins: the last on the CPU, any on
    a GPU; PyTorch leaves it open). Recorded as SetItem when a gradient must flow (a leaf
    that requires grad refuses, as PyTorch); returns x. A tensor of ``values`` has x's
    dtype (a Python number takes it), as PyTorch requires, but where PyTorch writes by
    ``masked_fill_`` (see ``_fills_by_mask``), which casts its one value."""
    x = _tensor(self, "index_put_")
    arrays = _index_arrays(x, indices, "index_put_")
    if isinstance(values, tensor_module.Tensor) and values.dtype != x.dtype and \
            not _fills_by_mask(x, indices, values, accumulate):
        raise TypeError(f"index_put_: values have dtype {values.dtype} but the tensor has "
                        f"{x.dtype}; cast them first")
    return _write(x, arrays, values, accumulate, "index_put_")


def _fills_by_mask(x, indices, values, accumulate: bool) -> bool:
    """Whether PyTorch's index_put_ runs as ``masked_fill_(mask, values.item())``: without
    ``accumulate``, for one value on the CPU and one bool mask on x's device as the only
    index given (the others None)."""
    given = [index for index in indices if index is not None]
    return not accumulate and values.data.size == 1 and values.device == "cpu" and \
        len(given) == 1 and given[0].dtype == backend.bool_ and given[0].device == x.device


def index_put(input, indices, values, accumulate: bool = False):
    """``index_put_`` on a clone of ``input``: the gradient of input is 0 at the written
    places (without ``accumulate``), that of ``values`` gathered from them."""
    return index_put_(_tensor(input, "index_put").clone(), indices, values, accumulate)


def put_(self, index, source, accumulate: bool = False):
    """``x.flatten()[index] = source`` in place (``index`` an int64 tensor, negative
    entries counted from the end, ``source`` with as many elements, in x's dtype as
    PyTorch requires; a Python number takes it); with ``accumulate=True`` repeated places
    add up (without it, one write wins: the last on the CPU, any on a GPU; PyTorch leaves
    it open). Returns x."""
    x = _tensor(self, "put_")
    if not isinstance(index, tensor_module.Tensor) or index.dtype.kind not in "iu":
        raise TypeError(f"put_: index must be an integer tensor, got "
                        f"{getattr(index, 'dtype', type(index).__name__)}")
    if index.dtype != backend.int64:
        raise TypeError(f"put_: index must be an int64 tensor, got {index.dtype}")
    same_device("put_", x, index)
    if isinstance(source, tensor_module.Tensor) and source.dtype != x.dtype:
        raise TypeError(f"put_: source has dtype {source.dtype} but the tensor has "
                        f"{x.dtype}; cast it first")
    source = as_operand(source, x, "put_")
    if source.data.size != index.data.size:
        raise ValueError(f"put_: source ({source.data.size} elements) and index "
                         f"({index.data.size} elements) must have as many elements")
    count = x.data.size
    positions = index.data.reshape(-1)
    if positions.size:
        low, high = positions.min().item(), positions.max().item()
        if low < -count or high >= count:
            raise IndexError(f"put_: index out of range [{-count}, {count}) for a tensor of "
                             f"{count} elements: got values in [{low}, {high}]")
    if x.ndim == 0:  # its one element, as PyTorch: the last value, or all of them added
        if not positions.size:
            return x
        values = source.reshape(-1)
        return _write(x, (), x.clone() + values.sum() if accumulate else values[-1], False,
                      "put_")
    xp = backend.xp_of(x.data)
    places = xp.unravel_index(positions % count, x.shape)
    return _write(x, tuple(places), source.reshape(-1), accumulate, "put_")


def put(input, index, source, accumulate: bool = False):
    """``put_`` on a clone of ``input``."""
    return put_(_tensor(input, "put").clone(), index, source, accumulate)


# --- random factories: the generator tg.manual_seed seeds (or generator=, a tg.Generator);
# --- samples never require grad


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False):
    """Samples of N(mean, std²), as ``torch.normal``'s overloads:
    ``normal(mean_tensor, std_tensor)`` (broadcast), ``normal(mean_tensor, std=1.0)``,
    ``normal(mean, std_tensor)`` (a sample per element, in the tensor's dtype and device)
    and ``normal(mean, std, size)`` (numbers: ``dtype``, ``device``, ``requires_grad`` as
    the factories). std must be ≥ 0. Tensor-argument samples never require grad."""
    rng = generator and generator.numpy_rng
    Tensor = tensor_module.Tensor
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal: with a number mean and std, give size (a tuple)")
        if not std >= 0:
            raise ValueError(f"normal: expects std >= 0, got std={std}")
        dtype = backend.default_float if dtype is None else backend.as_dtype(dtype)
        if not backend.is_floating(dtype):
            raise TypeError(f"normal: draws floats; dtype {dtype} is not one")
        size = (size,) if isinstance(size, int) else tuple(size)
        samples = backend.random_normal(size, dtype, backend.check_device(device), mean, std,
                                        rng=rng)
        return Tensor._make(samples).requires_grad_(requires_grad)
    if size is not None:
        raise TypeError("normal: size is only for a number mean and std; with a tensor "
                        "the samples take its shape")
    like = mean if isinstance(mean, Tensor) else std
    mean, std = (as_operand(value, like, "normal") for value in (mean, std))
    for what, tensor in (("mean", mean), ("std", std)):
        if not backend.is_floating(tensor.dtype):
            raise TypeError(f"normal: expects a floating-point {what}, got {tensor.dtype}")
    if mean.device != std.device:
        raise RuntimeError(f"normal: mean is on '{mean.device}', std on '{std.device}'")
    try:
        shape = backend.broadcast_shapes(mean.shape, std.shape)
    except ValueError:
        raise ValueError(f"normal: mean of shape {mean.shape} and std of shape {std.shape} "
                         "cannot be broadcast together") from None
    if std.data.size and not backend.to_host((std.data >= 0).all()).item():
        raise ValueError("normal: expects all elements of std >= 0")
    dtype = backend.result_dtype(mean.dtype, std.dtype)
    noise = backend.random_normal(shape, dtype, mean.device, rng=rng)
    return constant(mean.data + std.data * noise)  # (the arrays broadcast by themselves)


def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (elementwise; or ``p``, a number, for every element),
    else 0, in input's dtype and shape: a uniform draw u gives 1 where u < probability.
    The samples never require grad."""
    x = _tensor(input, "bernoulli")
    probability = x.data if p is None else p
    if p is None:
        if not backend.is_floating(x.dtype):
            raise TypeError(f"bernoulli: probabilities must be floats, got dtype {x.dtype}")
        inside = x.data.size == 0 or backend.to_host(
            ((x.data >= 0) & (x.data <= 1)).all()).item()
    else:
        inside = 0 <= p <= 1
    if not inside:
        raise ValueError("bernoulli: expects all probabilities in [0, 1]")
    draws = backend.random_uniform(x.shape, backend.float64, x.device,
                                   rng=generator and generator.numpy_rng)
    return constant((draws < probability).astype(x.dtype))


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None):
    """Indices of categories drawn with probabilities proportional to the weights in each
    row of ``input`` (1-D: one row; 2-D: a row per draw), int64 of shape
    (rows, num_samples) (or (num_samples,)).

    With ``replacement``: inverse transform, index = #{j : cdf_j ≤ u}, u uniform on
    [0, 1), the cdf divided by its own last entry so that this is exactly 1 (divided by
    a separately summed total it could round below 1, and a u past it would pick a zero
    weight or an index out of range). Without: the first ``num_samples`` categories of
    an exponential race, keys eⱼ/wⱼ with eⱼ ~ Exp(1) in increasing order, which is
    drawing one category after another proportionally to the weights left; a category
    is never drawn twice, and zero weights never. The keys are compared as log eⱼ − log wⱼ: eⱼ/wⱼ overflows to
    inf for a tiny (subnormal) weight and would tie with the zero weights' inf."""
    rng = generator and generator.numpy_rng
    x = _tensor(input, "multinomial")
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"multinomial: expects a 1-D or 2-D tensor of weights with at least "
                         f"one category, got shape {x.shape}")
    if not isinstance(num_samples, int) or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be an int > 0, got {num_samples!r}")
    categories = x.shape[-1]
    if not replacement and num_samples > categories:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement "
                         f"from {categories} categories")
    xp = backend.xp_of(x.data)
    weights = x.data.reshape(-1, categories).astype(backend.float64)  # (rows, C)
    valid = xp.isfinite(weights).all() & (weights >= 0).all()
    if not backend.to_host(valid).item():
        raise ValueError("multinomial: the weights must be finite and >= 0")
    if not backend.to_host((weights.sum(axis=1) > 0).all()).item():
        raise ValueError("multinomial: every row of weights must have a positive sum")
    rows = weights.shape[0]
    if replacement:
        cumulative = weights.cumsum(axis=1)                                  # (rows, C)
        cdf = cumulative / cumulative[:, -1:]                                # last: exactly 1
        u = backend.random_uniform((rows, num_samples), backend.float64, x.device, rng=rng)
        picks = (cdf[:, None, :] <= u[:, :, None]).sum(axis=2)  # (rows, num_samples)
    else:
        positive = (weights > 0).sum(axis=1).min().item()
        if num_samples > positive:
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without "
                             f"replacement from a row with {positive} positive weights")
        u = backend.random_uniform((rows, categories), backend.float64, x.device, rng=rng)
        keys = xp.log(-xp.log1p(-u)) - xp.log(xp.where(weights > 0, weights, 1.0))
        keys = xp.where(weights > 0, keys, math.inf)                 # log(Exp(1) / w)
        picks = keys.argsort(axis=1)[:, :num_samples]
    picks = picks.astype(backend.int64)
    return constant(picks if x.ndim == 2 else picks.reshape(num_samples))


def randint_like(input, low: int = 0, high=None, *, dtype=None, device=None,
                 requires_grad: bool = False):
    """Random integers in [low, high) (``randint_like(x, high)`` means low = 0) in the shape
    of ``input``, with its dtype and device unless given (a float input gives whole-valued
    floats, as PyTorch)."""
    x = _tensor(input, "randint_like")
    if high is None:
        low, high = 0, low
    device = backend.check_device(x.device if device is None else device)  # (an empty
    # range: random_integers raises PyTorch's "random_ expects 'from' to be less than 'to'")
    samples = backend.random_integers(low, high, x.shape, device)
    dtype = x.dtype if dtype is None else backend.as_dtype(dtype)
    return tensor_module.Tensor._make(samples.astype(dtype)).requires_grad_(requires_grad)


class finfo:
    """The limits of a float dtype, as ``torch.finfo`` (the default float dtype when none
    is given): ``bits``, ``eps`` (the gap between 1 and the next float), ``max``, ``min``
    (= −max), ``tiny`` = ``smallest_normal`` (the smallest positive normal number),
    ``resolution`` (10^−precision) and ``dtype`` (its name)."""

    def __init__(self, type=None):
        dtype = backend.default_float if type is None else backend.as_dtype(type)
        if not backend.is_floating(dtype):
            raise TypeError(f"finfo: expects a floating-point dtype, got {dtype}")
        info = backend.np.finfo(dtype)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = dtype.name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.tiny}, tiny={self.tiny}, "
                f"dtype={self.dtype})")


class iinfo:
    """The limits of an integer dtype, as ``torch.iinfo``: ``bits``, ``max``, ``min`` and
    ``dtype`` (its name)."""

    def __init__(self, type):
        dtype = backend.as_dtype(type)
        if dtype.kind not in "iu":
            raise TypeError(f"iinfo: expects an integer dtype, got {dtype}")
        info = backend.np.iinfo(dtype)
        self.bits, self.max, self.min = int(info.bits), int(info.max), int(info.min)
        self.dtype = dtype.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# --- Tensor methods ---

def _polygamma_method(self, n: int):
    """``polygamma(n, self)``: ψ⁽ⁿ⁾ elementwise."""
    return polygamma(n, self)


def _bernoulli_method(self, p=None, *, generator=None):
    """``bernoulli(self, p)``: 1 with probability self (or ``p``), else 0."""
    return bernoulli(self, p, generator=generator)


class SpecialMethods:
    """Tensor methods of this file, inherited by ``Tensor`` through ``Conveniences``.
    Each is the function of the same name (``x.lgamma()`` is ``lgamma(x)``), except
    ``x.polygamma(n)``, which is ``polygamma(n, x)``."""

    __slots__ = ()

    lgamma, digamma, mvlgamma, erfinv, erfc, i0 = lgamma, digamma, mvlgamma, erfinv, erfc, i0
    polygamma = _polygamma_method
    logaddexp, logaddexp2, sgn, signbit = logaddexp, logaddexp2, sgn, signbit
    addcmul, addcdiv, renorm, float_power = addcmul, addcdiv, renorm, float_power
    copysign, nextafter, ldexp, frexp = copysign, nextafter, ldexp, frexp
    unfold, index_put_, index_put, put_, put = unfold, index_put_, index_put, put_, put
    bernoulli, multinomial = _bernoulli_method, multinomial
    lgamma_, digamma_, polygamma_ = (_in_place_math("lgamma"), _in_place_math("digamma"),
                                     _in_place_math("polygamma"))
    mvlgamma_, erfinv_, i0_ = (_in_place_math("mvlgamma"), _in_place_math("erfinv"),
                               _in_place_math("i0"))
    addcmul_, addcdiv_, renorm_ = (_in_place_math("addcmul"), _in_place_math("addcdiv"),
                                   _in_place_math("renorm"))
    copysign_, sgn_, ldexp_ = (_in_place_math("copysign"), _in_place_math("sgn"),
                               _in_place_math("ldexp"))
