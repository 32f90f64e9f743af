"""Tests of ``tg.special``'s Bessel functions J₀, J₁, Y₀, Y₁, K₀, K₁ (plain and scaled) and
the Airy function Ai (tinygrad_opt/ops/bessel.py).

The references are computed here in float64 from integral representations, never from the
code under test:

* Jₙ(x) = (1/2π)·∫₀^{2π} cos(nt − x·sin t) dt, by the trapezoid rule over the whole
  period (spectrally accurate: exact up to aliasing terms of order J_N(x), N points);
* Yₙ(x) = (1/π)·∫₀^π sin(x·sin t − nt) dt − (1/π)·∫₀^∞ (e^{nt} + (−1)ⁿe^{−nt})·e^{−x·sinh t} dt,
  by composite Gauss–Legendre quadrature (``numpy.polynomial.legendre.leggauss``);
* Kᵥ(x) = ∫₀^∞ e^{−x·cosh t}·cosh(νt) dt (eˣ·Kᵥ with e^{−2x·sinh²(t/2)}), by the trapezoid
  rule, spectrally accurate for this even, analytic, fast-decaying integrand;
* Ai(x) = √(x/3)·K_{1/3}(ζ)/π, ζ = (2/3)·x^{3/2}, for x > 1, and for x ≤ 1 its Maclaurin
  series Ai(0)·F(x) + Ai′(0)·G(x) summed with Python's ``decimal`` at 100 digits (so the
  cancellation of the alternating terms at x = −30 costs nothing), Ai(0) and Ai′(0) from
  ``math.gamma``.

A first test checks the references against tabulated values (Abramowitz & Stegun). The
float64 tolerance is 1e-13 relative to max(|f(x)|, the envelope of the oscillation): 5 to
10 times the largest error seen, so that a coefficient wrong by more than the result's
rounding fails (leaving out the leading 1 of a monic denominator, as a Horner loop started
from 0 does, is an error of ~1e-7 near x = 5; 1e-12 in a leading coefficient fails too).
"""

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.special as special
from fuzzing import examples, fuzz_settings

# --- the references ---


def reference_j(order: int, x):
    """Jₙ(x): the trapezoid rule on a whole period of cos(nt − x·sin t)."""
    x = np.asarray(x, dtype=np.float64)
    points = int(2 * np.abs(x).max() + 128)
    t = 2 * np.pi * np.arange(points) / points
    return np.cos(order * t - x[:, None] * np.sin(t)).mean(axis=1)


def _gauss_legendre(low: float, high: float, panels: int, nodes: int = 32):
    """Nodes and weights of composite Gauss–Legendre quadrature on [low, high]."""
    u, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(low, high, panels + 1)
    middle, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    return (middle[:, None] + half[:, None] * u).ravel(), (half[:, None] * w).ravel()


def reference_y(order: int, x):
    """Yₙ(x) for x > 0: the two integrals of the module docstring (the second is cut
    where x·sinh t > 800, e^{−800} being far below the result)."""
    x = np.asarray(x, dtype=np.float64)
    t, w = _gauss_legendre(0.0, np.pi, 32)
    oscillating = (np.sin(x[:, None] * np.sin(t) - order * t) * w).sum(axis=1) / np.pi
    top = math.asinh(800 / x.min()) + 1
    s, v = _gauss_legendre(0.0, top, int(top / 0.05) + 1)
    weight = np.exp(order * s) + (-1) ** order * np.exp(-order * s)
    decaying = (weight * np.exp(-x[:, None] * np.sinh(s)) * v).sum(axis=1) / np.pi
    return oscillating - decaying


def reference_k(order: float, x, scaled: bool = False):
    """Kᵥ(x) (eˣ·Kᵥ(x) when ``scaled``) for x > 0: the trapezoid rule with step 0.02 on
    [0, T], T where x·(cosh t − 1) > 800."""
    x = np.asarray(x, dtype=np.float64)
    step = 0.02
    t = np.arange(0.0, math.acosh(1 + 800 / x.min()) + 1, step)
    exponent = -2 * x[:, None] * np.sinh(t / 2) ** 2  # −x·(cosh t − 1), without cancellation
    if not scaled:
        exponent = exponent - x[:, None]
    f = np.exp(exponent) * np.cosh(order * t)
    return step * (f.sum(axis=1) - f[:, 0] / 2)


def _airy_series(x: float) -> float:
    """Ai(x) = Ai(0)·Σ aₖ + Ai′(0)·Σ bₖ, a₀ = 1, aₖ = aₖ₋₁·x³/((3k − 1)·3k), b₀ = x,
    bₖ = bₖ₋₁·x³/(3k·(3k + 1)), in 100-digit decimals."""
    at_zero = 1 / (3 ** (2 / 3) * math.gamma(2 / 3))
    slope_at_zero = -1 / (3 ** (1 / 3) * math.gamma(1 / 3))
    with localcontext() as context:
        context.prec = 100
        value = Decimal(x)
        cube = value ** 3
        term_f, term_g = Decimal(1), value
        sum_f, sum_g = Decimal(0), Decimal(0)
        k = 0
        while k < 5 or abs(term_f) + abs(term_g) > Decimal(10) ** -40:
            sum_f, sum_g = sum_f + term_f, sum_g + term_g
            k += 1
            term_f = term_f * cube / ((3 * k - 1) * 3 * k)
            term_g = term_g * cube / (3 * k * (3 * k + 1))
        return at_zero * float(sum_f) + slope_at_zero * float(sum_g)


def reference_ai(x):
    """Ai(x): through K_{1/3} for x > 1, by its series for x ≤ 1."""
    x = np.asarray(x, dtype=np.float64)
    result = np.array([_airy_series(value) for value in np.minimum(x, 1.0)])
    right = x > 1
    if right.any():
        zeta = 2 / 3 * x[right] ** 1.5
        result[right] = np.sqrt(x[right] / 3) / np.pi * reference_k(1 / 3, zeta)
    return result


# --- helpers ---

def host(t):
    """A tensor's values as a host array (an explicit copy on any device)."""
    return tg.backend.to_host(t.data)


def evaluate(function, x, device, dtype=tg.float64):
    return host(function(tg.tensor(np.asarray(x), dtype=dtype, device=device)))


def assert_close(values, expected, envelope, rtol=1e-13):
    """|values − expected| ≤ rtol·max(|expected|, envelope), elementwise."""
    scale = np.maximum(np.abs(expected), envelope)
    error = np.abs(values - expected) / scale
    worst = int(np.argmax(error))
    assert error[worst] <= rtol, (f"error {error[worst]:.3g} (relative to {scale[worst]:.3g}) "
                                  f"at element {worst}: {values[worst]!r} vs {expected[worst]!r}")


def oscillation(x):
    """The envelope of J and Y: √(2/(π|x|)), at most 1."""
    return np.minimum(1.0, np.sqrt(2 / (np.pi * np.maximum(np.abs(x), 1e-300))))


def airy_envelope(x):
    """The envelope of Ai for x < 0: |x|^(−1/4)/√π (0 for x ≥ 0: relative there)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0, np.abs(np.minimum(x, -1e-300)) ** -0.25 / math.sqrt(math.pi), 0.0)


# The points: every range of the approximations, their boundaries, both signs where
# the function is defined there.
NEAR_ZERO = np.array([1e-300, 1e-12, 3e-6, 9.9e-6, 1e-5, 1e-3, 0.1])
J_POINTS = np.concatenate([NEAR_ZERO, np.linspace(0.2, 5.0, 25), [4.999999, 5.000001],
                           np.linspace(5.1, 60.0, 30), [99.5, 150.25, 200.0]])
K_POINTS = np.concatenate([NEAR_ZERO[1:], np.geomspace(0.15, 2.0, 15), [1.999999, 2.000001],
                           np.linspace(2.1, 30.0, 15), [80.0, 300.0, 650.0]])
AI_POINTS = np.concatenate([np.linspace(-30.0, -2.1, 25), [-2.0900001, -2.09, -2.0899999],
                            np.linspace(-2.0, 2.0, 11), [2.0899999, 2.09, 2.0900001],
                            np.linspace(2.2, 8.3, 8), [8.32, 8.33], np.linspace(9.0, 100.0, 8)])

CASES = {  # name: (the function, its reference, the points, the envelope)
    "bessel_j0": (special.bessel_j0, lambda x: reference_j(0, x),
                  np.concatenate([J_POINTS, -J_POINTS[::7], [0.0]]), oscillation),
    "bessel_j1": (special.bessel_j1, lambda x: reference_j(1, x),
                  np.concatenate([J_POINTS, -J_POINTS[::7], [0.0]]), oscillation),
    "bessel_y0": (special.bessel_y0, lambda x: reference_y(0, x), J_POINTS[1:], oscillation),
    "bessel_y1": (special.bessel_y1, lambda x: reference_y(1, x), J_POINTS[1:], oscillation),
    "modified_bessel_k0": (special.modified_bessel_k0, lambda x: reference_k(0, x),
                           K_POINTS, 0.0),
    "modified_bessel_k1": (special.modified_bessel_k1, lambda x: reference_k(1, x),
                           K_POINTS, 0.0),
    "scaled_modified_bessel_k0": (special.scaled_modified_bessel_k0,
                                  lambda x: reference_k(0, x, scaled=True), K_POINTS, 0.0),
    "scaled_modified_bessel_k1": (special.scaled_modified_bessel_k1,
                                  lambda x: reference_k(1, x, scaled=True), K_POINTS, 0.0),
    "airy_ai": (special.airy_ai, reference_ai, AI_POINTS, airy_envelope),
}
NAMES = sorted(CASES)
_REFERENCES = {}


def reference(name: str):
    """(points, reference values, envelope) of a case, computed once."""
    if name not in _REFERENCES:
        _, function, points, envelope = CASES[name]
        scale = envelope(points) if callable(envelope) else np.full(points.shape, envelope)
        _REFERENCES[name] = points, function(points), scale
    return _REFERENCES[name]


# --- the references themselves ---

def test_the_references_reproduce_tabulated_values():
    """Abramowitz & Stegun's tables (to 15 digits) at x = 1, and Ai at 0 and ±1."""
    one = np.array([1.0])
    assert reference_j(0, one)[0] == pytest.approx(0.765197686557966551, rel=1e-15)
    assert reference_j(1, one)[0] == pytest.approx(0.440050585744933516, rel=1e-15)
    assert reference_y(0, one)[0] == pytest.approx(0.088256964215676957, rel=1e-14)
    assert reference_y(1, one)[0] == pytest.approx(-0.781212821300288717, rel=1e-15)
    assert reference_k(0, one)[0] == pytest.approx(0.421024438240708333, rel=1e-15)
    assert reference_k(1, one)[0] == pytest.approx(0.601907230197234575, rel=1e-15)
    assert reference_k(1, one, scaled=True)[0] == pytest.approx(0.601907230197234575 * math.e,
                                                                rel=1e-15)
    airy = reference_ai(np.array([0.0, 1.0, -1.0, 2.0]))
    np.testing.assert_allclose(airy, [0.355028053887817239, 0.135292416312881416,
                                      0.535560883292352119, 0.034924130423274379], rtol=1e-15)


# --- values in float64, every range ---

@pytest.mark.parametrize("name", NAMES)
def test_values_match_the_integral_references(name, device):
    points, expected, envelope = reference(name)
    values = evaluate(CASES[name][0], points, device)
    assert values.dtype == np.float64 and values.shape == points.shape
    assert_close(values, expected, envelope)


def test_j_is_even_and_odd():
    x = np.linspace(-40.0, 40.0, 81)
    j0 = evaluate(special.bessel_j0, x, "cpu")
    j1 = evaluate(special.bessel_j1, x, "cpu")
    np.testing.assert_array_equal(j0, j0[::-1])
    np.testing.assert_array_equal(j1, -j1[::-1])


@fuzz_settings(examples("BESSEL_FUZZ_EXAMPLES", 20))
@given(x=st.lists(st.floats(0.01, 150.0), min_size=1, max_size=16))
def test_the_wronskians_hold(x):
    """J₁Y₀ − J₀Y₁ = 2/(πx) and I₀K₁ + I₁K₀ = 1/x (also with the scaled I and K, whose
    factors e^{±x} cancel), whatever range each function's x falls in."""
    x = np.array(x)
    j0, j1, y0, y1 = (evaluate(f, x, "cpu") for f in (special.bessel_j0, special.bessel_j1,
                                                      special.bessel_y0, special.bessel_y1))
    np.testing.assert_allclose(j1 * y0 - j0 * y1, 2 / (np.pi * x), rtol=1e-13)
    i0e, i1e, k0e, k1e = (evaluate(f, x, "cpu") for f in (
        special.i0e, special.i1e, special.scaled_modified_bessel_k0,
        special.scaled_modified_bessel_k1))
    np.testing.assert_allclose(i0e * k1e + i1e * k0e, 1 / x, rtol=1e-13)
    small = x[x < 50]
    i0, i1, k0, k1 = (evaluate(f, small, "cpu") for f in (
        special.i0, special.i1, special.modified_bessel_k0, special.modified_bessel_k1))
    np.testing.assert_allclose(i0 * k1 + i1 * k0, 1 / small, rtol=1e-13)


# --- PyTorch's values at the edges ---

EDGES = [0.0, -0.0, -2.5, math.inf, -math.inf, math.nan]
NAN = math.nan
EDGE_VALUES = {  # at 0, −0, −2.5, +inf, −inf, NaN
    "bessel_j0": [1.0, 1.0, reference_j(0, [-2.5])[0], NAN, NAN, NAN],
    "bessel_j1": [0.0, 0.0, reference_j(1, [-2.5])[0], NAN, NAN, NAN],
    "bessel_y0": [-math.inf, -math.inf, NAN, NAN, NAN, NAN],
    "bessel_y1": [-math.inf, -math.inf, NAN, NAN, NAN, NAN],
    "modified_bessel_k0": [math.inf, math.inf, NAN, 0.0, NAN, NAN],
    "modified_bessel_k1": [math.inf, math.inf, NAN, 0.0, NAN, NAN],
    "scaled_modified_bessel_k0": [math.inf, math.inf, NAN, 0.0, NAN, NAN],
    "scaled_modified_bessel_k1": [math.inf, math.inf, NAN, 0.0, NAN, NAN],
    "airy_ai": [0.355028053887817239, 0.355028053887817239, reference_ai([-2.5])[0], NAN, NAN,
                NAN],
}


@pytest.mark.parametrize("name", NAMES)
def test_pytorchs_values_at_the_edges(name, device):
    values = evaluate(CASES[name][0], EDGES, device)
    np.testing.assert_allclose(values, EDGE_VALUES[name], rtol=1e-11)  # (NaN matches NaN)


def test_airy_ai_is_zero_beyond_103_892_and_tiny_before():
    values = evaluate(special.airy_ai, [103.8, 103.9, 200.0, 1e300], "cpu")
    assert 0 < values[0] < 1e-300
    np.testing.assert_array_equal(values[1:], 0.0)


def test_k_underflows_to_zero_where_the_scaled_k_does_not():
    x = [800.0, 1e10]
    np.testing.assert_array_equal(evaluate(special.modified_bessel_k0, x, "cpu"), 0.0)
    scaled = evaluate(special.scaled_modified_bessel_k1, x, "cpu")
    np.testing.assert_allclose(scaled, np.sqrt(np.pi / (2 * np.array(x))), rtol=1e-3)


# --- dtypes ---

@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out_rounded_from_float64(name, device):
    points, _, _ = reference(name)
    points32 = points.astype(np.float32)
    points32 = points32[points32 != 0]  # (1e-300 rounds to 0: the edges are tested below)
    values = evaluate(CASES[name][0], points32, device, dtype=tg.float32)
    assert values.dtype == np.float32
    expected = CASES[name][1](points32.astype(np.float64))
    envelope = CASES[name][3]
    scale = envelope(points32) if callable(envelope) else np.zeros(points32.shape)
    inside = (np.abs(expected) < 1e38) & (np.abs(expected) > 1e-37)  # (float32's range)
    assert_close(values[inside].astype(np.float64), expected[inside], scale[inside],
                 rtol=6e-8)


@pytest.mark.parametrize("name", NAMES)
def test_integers_become_the_default_float_and_float16_stays(name, device):
    function = CASES[name][0]
    integers = tg.tensor([1, 2, 3], device=device)
    result = function(integers)
    assert result.dtype == tg.float32 and result.device == device
    expected = CASES[name][1](np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(host(result), expected, rtol=1e-6)
    half = function(tg.tensor([1.0, 2.0, 3.0], dtype=tg.float16, device=device))
    assert half.dtype == tg.float16
    np.testing.assert_allclose(host(half).astype(np.float64), expected, rtol=1e-3)
    tg.set_default_dtype(tg.float64)
    try:
        assert function(integers).dtype == tg.float64
    finally:
        tg.set_default_dtype(tg.float32)


def test_shapes_are_kept():
    x = tg.tensor(np.linspace(0.5, 9.0, 24).reshape(2, 3, 4))
    for name in NAMES:
        assert CASES[name][0](x).shape == (2, 3, 4)
        assert CASES[name][0](tg.tensor(1.5)).shape == ()


# --- no gradient ---

@pytest.mark.parametrize("name", NAMES)
def test_a_backward_through_them_raises_naming_the_function(name, device):
    function = CASES[name][0]
    x = tg.tensor([0.5, 1.5, 3.0], dtype=tg.float64, requires_grad=True, device=device)
    y = function(x)
    np.testing.assert_array_equal(host(y), evaluate(function, [0.5, 1.5, 3.0], device))
    with pytest.raises(NotImplementedError, match=f"^the derivative for .{name}. is not implemented"):
        (y * 2 + x).sum().backward()
    with pytest.raises(RuntimeError, match=name):  # (NotImplementedError is one)
        tg.grad(function(x), [x], grad_outputs=tg.ones(3, dtype=tg.float64, device=device))
    with pytest.raises(NotImplementedError, match=name):
        tg.grad(function(x).sum(), [x], create_graph=True)


@pytest.mark.parametrize("name", NAMES)
def test_a_detached_input_or_no_grad_gives_constants(name, device):
    function = CASES[name][0]
    x = tg.tensor([0.5, 1.5, 3.0], dtype=tg.float64, requires_grad=True, device=device)
    (function(x.detach()) * x).sum().backward()  # the values are constants in the graph
    np.testing.assert_allclose(host(x.grad), evaluate(function, [0.5, 1.5, 3.0], device),
                               rtol=1e-15)
    with tg.no_grad():
        assert not function(x).requires_grad
    out = tg.zeros(3, dtype=tg.float64, device=device)
    assert function(x, out=out) is out and not out.requires_grad  # (as PyTorch: no refusal)
    np.testing.assert_array_equal(host(out), host(function(x.detach())))
