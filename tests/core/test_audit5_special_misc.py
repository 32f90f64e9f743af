"""Audit: the accuracy of erfc, erfcx, ndtr, log_ndtr and the Bessel functions at their
edges (in units in the last place, against references written here from the math
module and ``decimal``), ``tg.manual_seed``'s return value, and norm degrees 0 < p < 1
(and p < 0) in pairwise_distance, pdist and triplet_margin_loss."""

import decimal
import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
import tinygrad_opt.special as special

SQRT_PI = math.sqrt(math.pi)


def t(values, device, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype=tg.float64, device=device,
                     requires_grad=requires_grad)


def host(x):
    return np.asarray(x.detach().cpu().numpy())


def ulps(ours, expected):
    """|ours − expected| in units in the last place of expected."""
    ours, expected = np.asarray(ours), np.asarray(expected)
    return np.abs(ours - expected) / np.spacing(np.abs(expected))


def exp_of_square(x: float, sign: int = 1) -> float:
    """e^(±x²) with x² exact (decimal): math.exp(x*x) would be off by x²·1e-16 relative."""
    with decimal.localcontext() as context:
        context.prec = 40
        square = decimal.Decimal(x) ** 2
        return float((square if sign > 0 else -square).exp())


def erfcx_reference(x: float) -> float:
    """e^(x²)·erfc(x): e^(x²) from decimal times math.erfc (a product of two ~1 ulp
    factors, computed in decimal)."""
    with decimal.localcontext() as context:
        context.prec = 40
        grown = (decimal.Decimal(x) ** 2).exp()
        return float(grown * decimal.Decimal(math.erfc(x)))


def ndtr_reference(x: float) -> float:
    """Φ(x) = erfc(t)/2 at t = −x/√2 exactly: math.erfc at the rounded t_f, plus the first
    order correction −(2/√π)·e^(−t_f²)·(t − t_f) (the second order is x²·1e-32 relative)."""
    with decimal.localcontext() as context:
        context.prec = 40
        exact = -decimal.Decimal(x) / decimal.Decimal(2).sqrt()
        rounded = float(exact)
        offset = float(exact - decimal.Decimal(rounded))
    return 0.5 * (math.erfc(rounded) - 2 / SQRT_PI * math.exp(-rounded * rounded) * offset)


# --- erfc, erfcx: a few units in the last place everywhere ---

def test_erfc_between_a_half_and_one_and_a_half(device):
    """1 − erf(x) lost up to 20 ulp there (erfc(1.45) ≈ 0.04 from erf ≈ 0.96)."""
    x = np.linspace(0.5, 1.5, 2001)
    expected = [math.erfc(v) for v in x]
    assert ulps(host(special.erfc(t(x, device))), expected).max() <= 4
    assert ulps(host(t(x, device).erfc()), expected).max() <= 4
    wide = np.concatenate([np.linspace(-6, 27, 3301), [1e-300, -1e-300, 0.0]])
    assert ulps(host(special.erfc(t(wide, device))), [math.erfc(v) for v in wide]).max() <= 4
    assert host(special.erfc(t([math.inf, -math.inf, math.nan], device))).tolist()[:2] == [0, 2]


def test_erfcx_for_negative_x_and_the_middle_range(device):
    """erfcx(x) = 2e^(x²) − erfcx(−x) for x < 0 took e^(x²) of the rounded x² (490 ulp
    at x = −23); 0.5 ≤ x < 1.5 went through the inaccurate erfc (24 ulp)."""
    x = np.concatenate([np.linspace(-26.5, -0.01, 1500), np.linspace(0.5, 1.5, 501),
                        np.linspace(1.6, 20, 200)])
    expected = [erfcx_reference(v) for v in x]
    assert ulps(host(special.erfcx(t(x, device))), expected).max() <= 4
    edges = host(special.erfcx(t([-math.inf, -30.0, math.inf, 0.0, math.nan], device)))
    assert edges[:4].tolist() == [math.inf, math.inf, 0.0, 1.0] and math.isnan(edges[4])


# --- ndtr, log_ndtr: the lower tail keeps its digits ---

def test_ndtr_in_the_lower_tail(device):
    """erfc(−x/√2)/2 of the rounded x/√2 was off by x²·1e-16 relative (1900 ulp at −37)."""
    x = np.concatenate([np.linspace(-37.5, -0.01, 2000), np.linspace(0, 8, 200)])
    expected = [ndtr_reference(v) for v in x]
    assert ulps(host(special.ndtr(t(x, device))), expected).max() <= 6
    edges = host(special.ndtr(t([-math.inf, -40.0, 0.0, math.inf], device)))
    assert edges.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert np.isnan(host(special.ndtr(t([math.nan], device)))).all()
    x32 = tg.tensor(np.array([-3.0, 0.5], dtype=np.float32), device=device)
    assert special.ndtr(x32).dtype == tg.float32


def test_ndtr_gradient(device):
    """dΦ/dx = e^(−x²/2)/√(2π), first and second derivatives (finite differences)."""
    x = t([-8.0, -2.5, -0.3, 0.0, 1.7], device, requires_grad=True)
    special.ndtr(x).sum().backward()
    expected = [math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v in host(x)]
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-13)
    inner = t([-2.5, -0.3, 1.7], device, requires_grad=True)
    assert tg.gradcheck(special.ndtr, [inner])
    assert tg.gradgradcheck(special.ndtr, [inner])


def test_log_ndtr_between_minus_three_and_forty(device):
    """log1p(−erfc(x/√2)/2) for 0 < x ≤ 3 was 20 ulp off (erfc's middle range and the
    rounded x/√2); log(erfc(−x/√2)/2) for −3 ≤ x ≤ 0 was 5 ulp off."""
    x = np.concatenate([np.linspace(-30, -0.01, 1000), np.linspace(0.01, 37, 1500)])
    expected = [math.log(ndtr_reference(v)) if v <= 0 else math.log1p(-ndtr_reference(-v))
                for v in x]
    # (6: the reference's own Φ(−x) is math.erfc's 1 ulp plus its correction's)
    assert ulps(host(special.log_ndtr(t(x, device))), expected).max() <= 6


# --- I₀, I₁: at infinity and just below overflow ---

def test_bessel_i0_i1_at_infinity_and_near_overflow(device):
    """e^x/√(2πx)·Σ overflowed at x ≥ 709.8 (I₀ is finite up to 713.9) and gave 0·inf =
    NaN at x = ±inf, where PyTorch gives I₀ = inf, I₁ = ±inf."""
    edges = t([math.inf, -math.inf], device)
    assert host(special.i0(edges)).tolist() == [math.inf, math.inf]
    assert host(special.i1(edges)).tolist() == [math.inf, -math.inf]
    assert host(special.i0e(edges)).tolist() == [0.0, 0.0]
    x = np.array([712.0, -713.5])
    terms = {0: [1.0], 1: [1.0]}  # the asymptotic series Σ (−1)ᵏ·aₖ/xᵏ, aₖ as in DLMF 10.40.1
    for order, series in terms.items():
        for k in range(1, 6):
            series.append(series[-1] * (4 * order ** 2 - (2 * k - 1) ** 2) / (8 * k))
    for order, function in ((0, special.i0), (1, special.i1)):
        expected = []
        for v in np.abs(x):
            with decimal.localcontext() as context:
                context.prec = 40
                grown = decimal.Decimal(float(v)).exp() / (2 * decimal.Decimal(math.pi)
                                                          * decimal.Decimal(float(v))).sqrt()
                total = sum((-1) ** k * a / v ** k for k, a in enumerate(terms[order]))
                expected.append(float(grown * decimal.Decimal(total)))
        expected = np.array(expected) * (np.sign(x) if order == 1 else 1)
        np.testing.assert_allclose(host(function(t(x, device))), expected, rtol=1e-14)


# --- tg.manual_seed returns the default generator ---

def test_manual_seed_returns_the_default_generator():
    """As torch.manual_seed, which returns torch.default_generator."""
    generator = tg.manual_seed(11)
    assert generator is tg.default_generator and isinstance(generator, tg.Generator)
    assert generator.initial_seed() == 11 == tg.initial_seed()
    first = tg.randn(6).numpy()
    assert tg.random.manual_seed(11) is tg.default_generator
    np.testing.assert_array_equal(tg.randn(6, generator=tg.default_generator).numpy(), first)
    assert tg.default_generator.manual_seed(11) is tg.default_generator
    np.testing.assert_array_equal(tg.randn(6).numpy(), first)
    state = tg.default_generator.get_state()
    later = tg.rand(4).numpy()
    tg.default_generator.set_state(state)
    np.testing.assert_array_equal(tg.rand(4).numpy(), later)
    assert tg.manual_seed(-1).initial_seed() == 2 ** 64 - 1   # (wraps around, as PyTorch)


# --- norm degrees below 1 ---

def p_norm(difference, p):
    """(Σ|d|^p)^(1/p) over the last dim; p = 0: the count of d ≠ 0."""
    size = np.abs(difference)
    if p == 0:
        return (size != 0).sum(-1).astype(np.float64)
    return (size ** p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("p", [0.5, 0.25, 0.0, -1.0, -2.5])
def test_pairwise_distance_of_any_degree(device, rng, p):
    """PyTorch's pairwise_distance takes any p ("can be negative"): it refused p < 1."""
    x1, x2 = rng.standard_normal((2, 4, 3))
    expected = p_norm(x1 - x2 + 1e-6, p)
    np.testing.assert_allclose(host(F.pairwise_distance(t(x1, device), t(x2, device), p)),
                               expected, rtol=1e-12)
    np.testing.assert_allclose(host(tg.nn.PairwiseDistance(p)(t(x1, device), t(x2, device))),
                               expected, rtol=1e-12)
    if p != 0:
        a, b = t(x1, device, True), t(x2, device, True)
        assert tg.gradcheck(lambda u, v: F.pairwise_distance(u, v, p), [a, b])


@pytest.mark.parametrize("p", [0.5, -1.0])
def test_triplet_margin_loss_of_any_degree(device, rng, p):
    anchor, positive, negative = rng.standard_normal((3, 5, 4))
    d_pos = p_norm(anchor - positive + 1e-6, p)
    d_neg = np.minimum(p_norm(anchor - negative + 1e-6, p), p_norm(positive - negative + 1e-6, p))
    expected = np.maximum(0.0, 1.5 + d_pos - d_neg).mean()
    tensors = [t(v, device, True) for v in (anchor, positive, negative)]
    loss = F.triplet_margin_loss(*tensors, margin=1.5, p=p, swap=True)
    np.testing.assert_allclose(host(loss), expected, rtol=1e-12)
    module = tg.nn.TripletMarginLoss(margin=1.5, p=p, swap=True)
    np.testing.assert_allclose(host(module(*tensors)), expected, rtol=1e-12)
    assert tg.gradcheck(lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=1.5, p=p,
                                                              swap=True), tensors)
    with pytest.raises(ValueError, match="triplet_margin_loss: p must be a number, got nan"):
        F.triplet_margin_loss(*tensors, p=math.nan)


def test_pdist_of_a_degree_below_one(device, rng):
    """PyTorch's pdist takes any p >= 0; it refused 0 <= p < 1."""
    rows = rng.standard_normal((4, 3))
    first, second = np.triu_indices(4, 1)
    for p in (0.5, 0.0):
        np.testing.assert_allclose(host(F.pdist(t(rows, device), p)),
                                   p_norm(rows[first] - rows[second], p), rtol=1e-12)
    assert tg.gradcheck(lambda x: F.pdist(x, 0.5), [t(rows, device, True)])
    with pytest.raises(ValueError, match="pdist: p must be a number >= 0, got -1"):
        F.pdist(t(rows, device), -1)
