"""Audit of tg.special (fourth pass): what the earlier audits left out.

References are written here in plain Python: the Hurwitz zeta function by its series
(math.fsum of the terms, which fall off fast for the large orders tested), j₀(x) as
math.sin(x)/x, ψ⁽ⁿ⁾ = (−1)ⁿ⁺¹·n!·ζ(n + 1, x).
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.special as special


def t(values, device, dtype=tg.float64, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=requires_grad)


def host(x):
    return np.asarray(x.detach().cpu().numpy())


def zeta_by_its_series(s: float, q: float) -> float:
    """Σ_{k≥0} (q + k)^(−s) for q > 0 and a large s: the terms past k = 400 are below
    (400/q)^(−s) relative to the first."""
    return math.fsum((q + k) ** -s for k in range(400))


# --- zeta: a huge or infinite order ---

def test_zeta_of_an_infinite_or_huge_order(device):
    """ζ(s, q) summed its first s + 10 terms one by one: s = inf gave NaN (inf·0 in the
    Euler–Maclaurin tail) and s = 1e300 never returned. Fixed: the sum stops after 64
    terms (past q < 0) when s is that large, where the rest is below e^(−64) of it.
    Cephes (PyTorch): ζ(inf, 1) = 1, ζ(inf, q > 1) = 0, ζ(inf, q < 1) = inf."""
    values = host(special.zeta(t([math.inf] * 3, device), t([1.0, 2.0, 0.5], device)))
    assert values.tolist() == [1.0, 0.0, math.inf]
    values = host(special.zeta(t([1e300, 1e300, 1e6], device), t([1.0, 3.0, 1.0], device)))
    assert values.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("s, q", [(60.0, 0.3), (60.0, 5.0), (81.0, 0.7), (100.0, 30.5),
                                  (200.0, 3.7), (1000.0, 1.0), (70.0, 55.0)])
def test_zeta_of_large_orders_keeps_its_digits(device, s, q):
    """Where the sum is cut short (s + 10 − q > 64 terms) the value keeps every digit."""
    value = host(special.zeta(t([s], device), t([q], device)))[0]
    assert value == pytest.approx(zeta_by_its_series(s, q), rel=1e-14)


def test_polygamma_of_a_large_order(device):
    """ψ⁽⁸⁰⁾(0.7) = −80!·ζ(81, 0.7): a Hurwitz zeta whose sum is cut short."""
    value = host(special.polygamma(80, t([0.7], device)))[0]
    expected = -float(math.factorial(80)) * zeta_by_its_series(81.0, 0.7)
    assert value == pytest.approx(expected, rel=1e-14)


# --- spherical_bessel_j0 for large arguments ---

def test_spherical_bessel_j0_takes_sin_of_x_itself(device, rng):
    """j₀(x) = sin(x)/x was sinc(x/π), whose sine is of π·(x/π), a rounding away from x:
    1e-11 relative at x = 1e5, every digit lost by 1e15. PyTorch takes sin(x)/x."""
    x = np.concatenate([rng.uniform(-1e6, 1e6, 40), 10 ** rng.uniform(5, 15, 40),
                        [1e-300, -2.5e-8, 0.4, 3.0]])
    ours = host(special.spherical_bessel_j0(t(x, device)))
    expected = np.array([math.sin(v) / v for v in x])
    # sin is good to an ulp of 1 at most: 5e-16 of the envelope min(1, 1/|x|)
    assert np.all(np.abs(ours - expected) <= 5e-16 * np.maximum(np.abs(expected), 1 / np.abs(x)))
    x32 = x[:80].astype(np.float32)
    ours32 = host(special.spherical_bessel_j0(tg.tensor(x32, device=device)))
    assert ours32.dtype == np.float32
    expected32 = np.array([math.sin(v) / v for v in x32.astype(np.float64)])
    assert np.all(np.abs(ours32 - expected32) <= 3e-7 / np.abs(x32.astype(np.float64)))


def test_spherical_bessel_j0_gradient(device):
    """d/dx sin(x)/x = (cos x − sin(x)/x)/x, 0 at 0 (and at ±inf, where j₀ is 0)."""
    points = [0.0, 0.3, -2.0, 1e5 + 0.3, math.inf]
    x = t(points, device, requires_grad=True)
    special.spherical_bessel_j0(x).sum().backward()
    expected = [0.0] + [(math.cos(v) - math.sin(v) / v) / v for v in points[1:4]] + [0.0]
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-13, atol=1e-300)
    inner = t([0.3, -2.0, 7.5], device, requires_grad=True)
    assert tg.gradcheck(special.spherical_bessel_j0, [inner])


# --- a number where PyTorch takes only a Tensor ---

@pytest.mark.parametrize("name, call", [
    ("expit", lambda: special.expit(2.0)),
    ("logsumexp", lambda: special.logsumexp(2.0, 0)),
    ("softmax", lambda: special.softmax([1.0, 2.0], 0)),
    ("log_softmax", lambda: special.log_softmax(2.0, 0)),
    ("spherical_bessel_j0", lambda: special.spherical_bessel_j0(2.0)),
])
def test_a_number_for_the_tensor_is_a_type_error_naming_the_function(name, call):
    """PyTorch's torch.special functions raise a TypeError for a non-Tensor input; these
    raised an AttributeError ('float' object has no attribute ...)."""
    with pytest.raises(TypeError, match=f"^{name}: expected a Tensor"):
        call()
