"""tg.distributions, the second part: transforms (inverses and log-det-Jacobians against
finite differences), TransformedDistribution (against the change of variables by hand),
biject_to / transform_to, and the families Weibull, Pareto, HalfNormal, HalfCauchy,
Kumaraswamy, VonMises, ContinuousBernoulli, NegativeBinomial, Multinomial,
LowRankMultivariateNormal and MixtureSameFamily: log_prob, moments, entropy and cdf against
formulas written here with Python's math; sampling statistics under fixed seeds; rsample
gradients; gradcheck of log_prob in float64; KL closed forms; enumerate_support. Every test
runs on the cpu and strict devices."""

import itertools
import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.distributions as D
from tinygrad_opt.distributions import constraints, transforms as T
from tinygrad_opt.distributions.constraint_registry import ConstraintRegistry

EULER = 0.5772156649015329


def t(values, device, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def host(x):
    return tg.backend.to_host(x.data)


def trapezoid(density, grid):
    return float(np.sum((density[1:] + density[:-1]) / 2 * np.diff(grid)))


def each(function, *columns):
    """``function`` applied element by element to equally long lists."""
    return np.array([function(*row) for row in zip(*columns)], dtype=np.float64)


def digamma(x: float) -> float:
    """ψ(x): ψ(x) = ψ(x + 1) − 1/x up to x ≥ 6, then the asymptotic series."""
    result = 0.0
    while x < 6:
        result -= 1 / x
        x += 1
    f = 1 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
    return result + math.log(x) - 0.5 / x - series


def bessel_i(order: int, x: float) -> float:
    """Iₙ(x) = Σₘ (x/2)^(2m+n) / (m!·(m+n)!)."""
    return sum((x / 2) ** (2 * m + order) / (math.factorial(m) * math.factorial(m + order))
               for m in range(60))


def continuous_bernoulli_log_c(lam):
    """log C(λ), C(λ) = 2·atanh(1 − 2λ)/(1 − 2λ) (2 at λ = ½)."""
    return math.log(2.0) if lam == 0.5 else math.log(2 * math.atanh(1 - 2 * lam) / (1 - 2 * lam))


def continuous_bernoulli_mean(lam):
    if lam == 0.5:
        return 0.5
    return lam / (2 * lam - 1) + 1 / (2 * math.atanh(1 - 2 * lam))


def continuous_bernoulli_variance(lam):
    if lam == 0.5:
        return 1 / 12
    return lam * (lam - 1) / (1 - 2 * lam) ** 2 + 1 / (2 * math.atanh(1 - 2 * lam)) ** 2


def continuous_bernoulli_log_prob(x, lam):
    return x * math.log(lam) + (1 - x) * math.log(1 - lam) + continuous_bernoulli_log_c(lam)


def continuous_bernoulli_entropy(lam):
    mean = continuous_bernoulli_mean(lam)
    return -(mean * math.log(lam) + (1 - mean) * math.log(1 - lam)
             + continuous_bernoulli_log_c(lam))


def kumaraswamy_moment(a, b, n):
    return b * math.exp(math.lgamma(1 + n / a) + math.lgamma(b) - math.lgamma(1 + n / a + b))


def weibull_variance(lam, k):
    return lam ** 2 * (math.gamma(1 + 2 / k) - math.gamma(1 + 1 / k) ** 2)


def pareto_variance(s, a):
    return s * s * a / ((a - 1) ** 2 * (a - 2)) if a > 2 else math.inf


# name: (make, parameters, values, log p, entropy or None, mean, variance, cdf or None)
FAMILIES = {
    "Weibull": (D.Weibull, [[1.0, 2.0, 0.5], [1.5, 0.7, 3.0]], [0.5, 3.0, 0.4],
                lambda x, lam, k: math.log(k / lam) + (k - 1) * math.log(x / lam)
                - (x / lam) ** k,
                lambda lam, k: EULER * (1 - 1 / k) + math.log(lam / k) + 1,
                lambda lam, k: lam * math.gamma(1 + 1 / k), weibull_variance,
                lambda x, lam, k: 1 - math.exp(-(x / lam) ** k)),
    "Pareto": (D.Pareto, [[1.0, 2.0, 0.5], [3.0, 0.8, 2.0]], [1.5, 3.0, 0.7],
               lambda x, s, a: math.log(a) + a * math.log(s) - (a + 1) * math.log(x),
               lambda s, a: math.log(s / a) + 1 + 1 / a,
               lambda s, a: a * s / (a - 1) if a > 1 else math.inf, pareto_variance,
               lambda x, s, a: 1 - (s / x) ** a),
    "HalfNormal": (D.HalfNormal, [[1.0, 2.0, 0.3]], [0.5, 3.0, 0.0],
                   lambda x, s: math.log(2) - math.log(s * math.sqrt(2 * math.pi))
                   - x * x / (2 * s * s),
                   lambda s: 0.5 * math.log(math.pi * s * s / 2) + 0.5,
                   lambda s: s * math.sqrt(2 / math.pi), lambda s: s * s * (1 - 2 / math.pi),
                   lambda x, s: math.erf(x / (s * math.sqrt(2)))),
    "HalfCauchy": (D.HalfCauchy, [[1.0, 2.0, 0.3]], [0.5, 3.0, 0.1],
                   lambda x, g: math.log(2 / (math.pi * g * (1 + (x / g) ** 2))),
                   lambda g: math.log(2 * math.pi * g), lambda g: math.inf,
                   lambda g: math.inf, lambda x, g: 2 / math.pi * math.atan(x / g)),
    "Kumaraswamy": (D.Kumaraswamy, [[2.0, 0.5, 5.0], [3.0, 1.5, 0.8]], [0.3, 0.6, 0.9],
                    lambda x, a, b: math.log(a * b) + (a - 1) * math.log(x)
                    + (b - 1) * math.log(1 - x ** a),
                    lambda a, b: (1 - 1 / b) + (1 - 1 / a) * (digamma(b + 1) + EULER)
                    - math.log(a * b),
                    lambda a, b: kumaraswamy_moment(a, b, 1),
                    lambda a, b: kumaraswamy_moment(a, b, 2) - kumaraswamy_moment(a, b, 1) ** 2,
                    lambda x, a, b: 1 - (1 - x ** a) ** b),
    "VonMises": (D.VonMises, [[0.5, -1.0, 3.0], [2.0, 0.1, 30.0]], [0.5, 3.0, -2.5],
                 lambda x, m, k: k * math.cos(x - m) - math.log(2 * math.pi * bessel_i(0, k)),
                 None, lambda m, k: m, lambda m, k: 1 - bessel_i(1, k) / bessel_i(0, k), None),
    "ContinuousBernoulli": (lambda p: D.ContinuousBernoulli(probs=p),
                            [[0.2, 0.5, 0.7, 0.5004, 0.9]], [0.3, 0.3, 0.9, 0.6, 0.05],
                            continuous_bernoulli_log_prob, continuous_bernoulli_entropy,
                            continuous_bernoulli_mean, continuous_bernoulli_variance,
                            lambda x, lam: x if abs(lam - 0.5) < 1e-3 else  # (PyTorch's)
                            (lam ** x * (1 - lam) ** (1 - x) + lam - 1) / (2 * lam - 1)),
    "NegativeBinomial": (lambda r, p: D.NegativeBinomial(r, probs=p),
                         [[3.0, 5.0, 0.5], [0.3, 0.6, 0.9]], [2.0, 4.0, 0.0],
                         lambda k, r, p: math.lgamma(k + r) - math.lgamma(k + 1)
                         - math.lgamma(r) + k * math.log(p) + r * math.log(1 - p),
                         None, lambda r, p: r * p / (1 - p), lambda r, p: r * p / (1 - p) ** 2,
                         None),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_log_prob_entropy_moments_and_cdf_match_math(name, device):
    make, parameters, values, log_p, entropy, mean, variance, cdf = FAMILIES[name]
    distribution = make(*(t(p, device) for p in parameters))
    x = t(values, device)
    np.testing.assert_allclose(host(distribution.log_prob(x)), each(log_p, values, *parameters),
                               rtol=1e-10, atol=1e-12)
    if entropy is not None:
        np.testing.assert_allclose(host(distribution.entropy()), each(entropy, *parameters),
                                   rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(host(distribution.mean), each(mean, *parameters), rtol=1e-10)
    np.testing.assert_allclose(host(distribution.variance), each(variance, *parameters),
                               rtol=1e-9)
    if cdf is not None:
        np.testing.assert_allclose(host(distribution.cdf(x)), each(cdf, values, *parameters),
                                   rtol=1e-9, atol=1e-12)
        inverse = host(distribution.icdf(distribution.cdf(x)))
        np.testing.assert_allclose(inverse, values, rtol=1e-7, atol=1e-9)
    assert distribution.log_prob(x).dtype == tg.float64


def test_densities_integrate_to_one(device):
    grid = np.linspace(1e-7, 1 - 1e-7, 200001)
    for distribution in (D.Kumaraswamy(t(2.0, device), t(3.0, device)),
                         D.ContinuousBernoulli(t(0.2, device)),
                         D.ContinuousBernoulli(t(0.5003, device))):
        density = np.exp(host(distribution.log_prob(t(grid, device))))
        assert trapezoid(density, grid) == pytest.approx(1.0, abs=1e-5)
    angles = np.linspace(-math.pi, math.pi, 200001)
    density = np.exp(host(D.VonMises(t(1.0, device), t(4.0, device)).log_prob(t(angles, device))))
    assert trapezoid(density, angles) == pytest.approx(1.0, rel=1e-8)
    counts = t(np.arange(200.0), device).unsqueeze(-1)
    negative_binomial = D.NegativeBinomial(t([0.5, 4.0], device), probs=t([0.3, 0.8], device))
    np.testing.assert_allclose(host(negative_binomial.log_prob(counts).exp().sum(0)), 1.0,
                               rtol=1e-10)


def test_edge_values(device):
    half = D.HalfNormal(t(1.0, device), validate_args=False)
    assert host(half.log_prob(t(-1.0, device))) == -math.inf
    with pytest.raises(ValueError, match="GreaterThanEq"):
        D.HalfNormal(t(1.0, device)).log_prob(t(-1.0, device))
    with pytest.raises(ValueError, match="GreaterThanEq"):
        D.Pareto(t(2.0, device), t(1.0, device)).log_prob(t(1.5, device))  # below the scale
    assert host(D.Pareto(t(2.0, device), t(1.0, device)).support.lower_bound) == 2.0
    # r = 0: all the mass at 0
    assert host(D.NegativeBinomial(t(0.0, device), probs=t(0.5, device)).log_prob(
        t(0.0, device))) == 0.0
    np.testing.assert_allclose(host(D.Weibull(t(2.0, device), t(3.0, device)).mode),
                               2.0 * (2 / 3) ** (1 / 3))
    kumaraswamy_mode = host(D.Kumaraswamy(t([2.0, 0.5], device), t([3.0, 2.0], device)).mode)
    assert kumaraswamy_mode[0] == pytest.approx((1 / 5) ** 0.5) and math.isnan(kumaraswamy_mode[1])
    assert host(D.NegativeBinomial(t(4.0, device), probs=t(0.6, device)).mode) == 4.0  # ⌊4.5⌋
    assert host(D.VonMises(t(0.3, device), t(1.0, device)).mode) == 0.3


# --- transforms ---

def elementwise_cases(device):
    """(transform, x values in its domain)."""
    x = [-1.5, -0.2, 0.4, 2.0]
    positive = [0.3, 1.0, 2.5, 4.0]
    return {
        "Exp": (T.ExpTransform(), x),
        "Affine": (T.AffineTransform(t(0.5, device), t(-2.0, device)), x),
        "AffineNumbers": (T.AffineTransform(1.0, 3.0), x),
        "Sigmoid": (T.SigmoidTransform(), x),
        "Tanh": (T.TanhTransform(), x),
        "Power": (T.PowerTransform(t(2.5, device)), positive),
        "PowerNegative": (T.PowerTransform(t(-0.5, device)), positive),
        "Compose": (T.ComposeTransform([T.AffineTransform(1.0, 0.5), T.ExpTransform(),
                                        T.PowerTransform(t(0.5, device))]), x),
        "InverseOfSigmoid": (T.SigmoidTransform().inv, [0.1, 0.3, 0.6, 0.95]),
    }


@pytest.mark.parametrize("name", ["Exp", "Affine", "AffineNumbers", "Sigmoid", "Tanh", "Power",
                                  "PowerNegative", "Compose", "InverseOfSigmoid"])
def test_elementwise_transform_inverse_and_log_det_against_finite_differences(name, device):
    transform, values = elementwise_cases(device)[name]
    x = t(values, device)
    y = transform(x)
    np.testing.assert_allclose(host(transform.inv(y)), values, rtol=1e-10, atol=1e-12)
    h = 1e-6
    slope = (host(transform(t(np.array(values) + h, device)))
             - host(transform(t(np.array(values) - h, device)))) / (2 * h)
    np.testing.assert_allclose(host(transform.log_abs_det_jacobian(x, y)), np.log(np.abs(slope)),
                               rtol=1e-7, atol=1e-7)
    # the inverse's log-det is the negative, at the swapped pair
    np.testing.assert_allclose(host(transform.inv.log_abs_det_jacobian(y, x)),
                               -np.log(np.abs(slope)), rtol=1e-7, atol=1e-7)
    sign = transform.sign
    sign = host(sign) if isinstance(sign, tg.Tensor) else sign
    assert np.all(np.sign(slope) == sign)
    assert transform.bijective and transform.event_dim == 0
    assert np.all(host(transform.codomain.check(y)))


def test_tanh_log_det_is_stable_for_large_inputs(device):
    x = t([-40.0, 40.0], device)
    log_det = host(T.TanhTransform().log_abs_det_jacobian(x, x.tanh()))
    np.testing.assert_allclose(log_det, 2 * (math.log(2) - 40.0 - math.log1p(math.exp(-80.0))))


def numeric_jacobian(function, x, h=1e-6):
    """J[i, j] = ∂ outᵢ/∂xⱼ by central differences (x a 1-D NumPy array)."""
    columns = []
    for j in range(len(x)):
        step = np.zeros_like(x)
        step[j] = h
        columns.append((function(x + step) - function(x - step)) / (2 * h))
    return np.stack(columns, -1)


def test_stick_breaking_maps_onto_the_simplex_with_its_jacobian(device):
    transform = T.StickBreakingTransform()
    x_values = np.array([[0.3, -1.2, 2.0], [0.0, 0.0, 0.0]])
    x = t(x_values, device)
    y = transform(x)
    assert y.shape == (2, 4) and np.all(host(constraints.simplex.check(y)))
    np.testing.assert_allclose(host(y)[1], [0.25, 0.25, 0.25, 0.25])     # x = 0: the centre
    np.testing.assert_allclose(host(transform.inv(y)), x_values, rtol=1e-9, atol=1e-12)
    for row in range(2):
        # y lives in the simplex: its first K − 1 coordinates are the free ones
        jacobian = numeric_jacobian(lambda v: host(transform(t(v, device)))[:-1], x_values[row])
        expected = math.log(abs(np.linalg.det(jacobian)))
        log_det = host(transform.log_abs_det_jacobian(x, y))[row]
        assert log_det == pytest.approx(expected, rel=1e-7)
    assert transform.forward_shape((5, 3)) == (5, 4) and transform.inverse_shape((5, 4)) == (5, 3)
    assert transform.event_dim == 1 and transform.bijective


def test_softmax_abs_and_lower_cholesky(device):
    x_values = np.array([0.5, -1.0, 2.0])
    softmax = T.SoftmaxTransform()
    y = softmax(t(x_values, device))
    expected = np.exp(x_values) / np.exp(x_values).sum()
    np.testing.assert_allclose(host(y), expected, rtol=1e-12)
    np.testing.assert_allclose(host(softmax(softmax.inv(y))), expected, rtol=1e-12)
    assert not softmax.bijective
    with pytest.raises(NotImplementedError):
        softmax.log_abs_det_jacobian(t(x_values, device), y)
    absolute = T.AbsTransform()
    np.testing.assert_allclose(host(absolute(t([-2.0, 3.0], device))), [2.0, 3.0])
    np.testing.assert_allclose(host(absolute.inv(t([2.0, 3.0], device))), [2.0, 3.0])
    assert not absolute.bijective
    matrix = np.array([[0.5, 7.0, 1.0], [-1.0, 0.0, 2.0], [3.0, 0.2, -0.4]])
    cholesky = T.LowerCholeskyTransform()
    factor = cholesky(t(matrix, device))
    expected = np.tril(matrix, -1) + np.diag(np.exp(np.diag(matrix)))
    np.testing.assert_allclose(host(factor), expected)
    assert host(constraints.lower_cholesky.check(factor))
    np.testing.assert_allclose(host(cholesky.inv(factor)), np.tril(matrix))


def test_compose_independent_cache_equality_and_errors(device):
    compose = T.ComposeTransform([T.ExpTransform(), T.AffineTransform(t(2.0, device),
                                                                       t(-3.0, device))])
    x = t([0.1, 0.7], device)
    y = compose(x)
    np.testing.assert_allclose(host(y), 2.0 - 3.0 * np.exp([0.1, 0.7]))
    np.testing.assert_allclose(host(compose.log_abs_det_jacobian(x, y)),
                               [0.1 + math.log(3), 0.7 + math.log(3)])
    assert host(compose.sign) == -1.0
    assert compose.inv.inv is compose and compose.inv(y).shape == (2,)
    assert T.identity_transform(x) is x
    assert host(T.identity_transform.log_abs_det_jacobian(x, x)).tolist() == [0.0, 0.0]
    # an elementwise transform read over a vector: the log-det sums over the last dim
    vector = T.IndependentTransform(T.ExpTransform(), 1)
    assert vector.event_dim == 1
    assert host(vector.log_abs_det_jacobian(x, vector(x))) == pytest.approx(0.8)
    affine_vector = T.AffineTransform(0.0, t([2.0, 3.0], device), event_dim=1)
    assert host(affine_vector.log_abs_det_jacobian(x, affine_vector(x))) == pytest.approx(
        math.log(6))
    # a composition whose part works on vectors sums the elementwise parts over the event
    mixed = T.ComposeTransform([T.ExpTransform(), T.SoftmaxTransform(),
                                T.IndependentTransform(T.ExpTransform(), 1)])
    assert mixed.domain.event_dim == 1 and mixed.codomain.event_dim == 1
    # cache_size=1: the inverse of the last output is the very input
    cached = T.TanhTransform(cache_size=1)
    near_one = t([20.0], device)
    assert cached.inv(cached(near_one)) is near_one
    assert host(T.TanhTransform().inv(T.TanhTransform()(near_one)))[0] != 20.0  # atanh(1) = ∞
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        T.ExpTransform(cache_size=2)
    assert T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.SigmoidTransform()
    assert T.AffineTransform(1.0, 2.0) == T.AffineTransform(1.0, 2.0)
    assert T.AffineTransform(1.0, 2.0) != T.AffineTransform(1.0, 3.0)
    assert T.PowerTransform(t(2.0, device)) == T.PowerTransform(t(2.0, device))
    assert T.ExpTransform().inv == T.ExpTransform().inv
    assert T.ExpTransform().domain is constraints.real
    assert T.ExpTransform().inv.domain is constraints.positive
    with pytest.raises(NotImplementedError):
        T.AbsTransform().sign


def test_transforms_gradcheck_in_float64(device):
    x = t([[0.3, -0.7, 1.1]], device, True)
    positive = t([[0.3, 0.7, 1.1]], device, True)
    exponent = t(1.7, device, True)
    stick = T.StickBreakingTransform()
    assert tg.gradcheck(lambda v: stick(v), [x])
    assert tg.gradcheck(lambda v: stick.log_abs_det_jacobian(v, stick(v)), [x])
    assert tg.gradcheck(lambda v: stick.inv(stick(v)), [x])
    sigmoid, tanh = T.SigmoidTransform(), T.TanhTransform()
    assert tg.gradcheck(lambda v: sigmoid.log_abs_det_jacobian(v, sigmoid(v)), [x])
    assert tg.gradcheck(lambda v: tanh.log_abs_det_jacobian(v, tanh(v)), [x])
    assert tg.gradcheck(lambda v, e: T.PowerTransform(e)(v), [positive, exponent])
    assert tg.gradcheck(lambda v, e: T.PowerTransform(e).log_abs_det_jacobian(
        v, T.PowerTransform(e)(v)), [positive, exponent])
    assert tg.gradgradcheck(lambda v: stick.log_abs_det_jacobian(v, stick(v)), [x])


# --- biject_to / transform_to ---

def test_biject_to_and_transform_to_land_in_the_constraint(device):
    rng = np.random.default_rng(1)
    vector = t(rng.normal(size=(5, 3)) * 3, device)
    cases = [
        (constraints.real, T.ComposeTransform, T.ComposeTransform),
        (constraints.positive, T.ExpTransform, T.ExpTransform),
        (constraints.nonnegative, T.ExpTransform, T.ExpTransform),
        (constraints.greater_than(2.0), T.ComposeTransform, T.ComposeTransform),
        (constraints.greater_than_eq(-1.0), T.ComposeTransform, T.ComposeTransform),
        (constraints.less_than(1.0), T.ComposeTransform, T.ComposeTransform),
        (constraints.unit_interval, T.SigmoidTransform, T.SigmoidTransform),
        (constraints.interval(-1.0, 3.0), T.ComposeTransform, T.ComposeTransform),
        (constraints.half_open_interval(0.0, 2.0), T.ComposeTransform, T.ComposeTransform),
        (constraints.simplex, T.StickBreakingTransform, T.SoftmaxTransform),
        (constraints.real_vector, T.IndependentTransform, T.IndependentTransform),
        (constraints.independent(constraints.positive, 1), T.IndependentTransform,
         T.IndependentTransform),
    ]
    for constraint, biject_type, transform_type in cases:
        bijection = D.biject_to(constraint)
        assert type(bijection) is biject_type, constraint
        assert type(D.transform_to(constraint)) is transform_type, constraint
        for transform in (bijection, D.transform_to(constraint)):
            y = transform(vector)
            assert np.all(host(constraint.check(y))), (constraint, host(y))
        if constraint.event_dim == 0:
            y = bijection(vector)
            np.testing.assert_allclose(host(bijection.inv(y)), host(vector), rtol=1e-9)
    assert bijection.bijective and bijection.event_dim == 1
    factor = D.transform_to(constraints.lower_cholesky)(t(rng.normal(size=(4, 4)), device))
    assert host(constraints.lower_cholesky.check(factor))
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
        D.biject_to(constraints.boolean)
    with pytest.raises(NotImplementedError, match="_LowerCholesky"):
        D.biject_to(constraints.lower_cholesky)


def test_constraint_registry_register(device):
    registry = ConstraintRegistry()

    @registry.register(constraints.positive)
    def _square_root(constraint):
        return T.PowerTransform(t(2.0, device))

    assert isinstance(registry(constraints.greater_than(3.0)), T.PowerTransform)
    with pytest.raises(TypeError, match="Constraint subclass"):
        registry.register(int, lambda c: None)


def test_unconstrained_optimisation_through_biject_to(device):
    # fit a positive scale by gradient descent on its unconstrained image
    unconstrained = t([0.0], device, True)
    to_positive = D.biject_to(constraints.positive)
    data = t([2.0, -3.0, 1.0, 4.0], device)
    for _ in range(300):
        scale = to_positive(unconstrained)
        loss = -D.Normal(t(0.0, device), scale).log_prob(data).sum()
        unconstrained.grad = None
        loss.backward()
        with tg.no_grad():
            unconstrained -= 0.05 * unconstrained.grad
    # the maximum-likelihood scale: √(mean x²)
    assert host(to_positive(unconstrained))[0] == pytest.approx(math.sqrt(30 / 4), rel=1e-5)


# --- TransformedDistribution ---

def test_normal_through_exp_is_the_lognormal(device):
    loc, scale = t([0.3, -1.0], device), t([0.8, 0.5], device)
    transformed = D.TransformedDistribution(D.Normal(loc, scale), [D.ExpTransform()])
    lognormal = D.LogNormal(loc, scale)
    x = t([[0.5, 2.0], [1.5, 0.1]], device)
    np.testing.assert_allclose(host(transformed.log_prob(x)), host(lognormal.log_prob(x)),
                               rtol=1e-12)
    np.testing.assert_allclose(host(transformed.cdf(x)), host(lognormal.cdf(x)), rtol=1e-12)
    q = t([0.2, 0.9], device)
    np.testing.assert_allclose(host(transformed.icdf(q)), host(lognormal.icdf(q)), rtol=1e-10)
    assert transformed.support is constraints.positive and transformed.has_rsample
    assert transformed.batch_shape == (2,) and transformed.event_shape == ()
    tg.manual_seed(3)
    first = host(transformed.sample((4,)))
    tg.manual_seed(3)
    np.testing.assert_allclose(first, host(lognormal.sample((4,))))
    expanded = transformed.expand((3, 2))
    assert expanded.batch_shape == (3, 2) and expanded.sample((5,)).shape == (5, 3, 2)
    assert expanded.log_prob(x[0]).shape == (3, 2)


def test_change_of_variables_by_hand_for_a_decreasing_chain(device):
    # Y = σ(1 − 2X), X ~ N(0.2, 0.7²): x = (1 − logit y)/2, dy/dx = −2·y(1 − y)
    chain = [D.AffineTransform(1.0, -2.0), D.SigmoidTransform()]
    distribution = D.TransformedDistribution(D.Normal(t(0.2, device), t(0.7, device)), chain)
    for y in (0.1, 0.5, 0.93):
        x = (1 - math.log(y / (1 - y))) / 2
        normal = -(x - 0.2) ** 2 / (2 * 0.49) - math.log(0.7 * math.sqrt(2 * math.pi))
        expected = normal - math.log(2 * y * (1 - y))
        assert host(distribution.log_prob(t(y, device))) == pytest.approx(expected, rel=1e-11)
        # decreasing: P(Y ≤ y) = P(X ≥ x)
        expected_cdf = 1 - 0.5 * (1 + math.erf((x - 0.2) / (0.7 * math.sqrt(2))))
        assert host(distribution.cdf(t(y, device))) == pytest.approx(expected_cdf, rel=1e-10)
    assert distribution.support == constraints.unit_interval


def test_stick_breaking_of_normals_is_a_distribution_on_the_simplex(device):
    base = D.Normal(t([0.5, -0.3], device), t([1.0, 0.7], device))
    distribution = D.TransformedDistribution(base, D.StickBreakingTransform())
    assert distribution.batch_shape == () and distribution.event_shape == (3,)
    assert isinstance(distribution.base_dist, D.Independent)
    assert distribution.support.event_dim == 1
    y = distribution.sample((3,))
    assert y.shape == (3, 3) and np.all(host(constraints.simplex.check(y)))
    # by hand: the log density of x = f⁻¹(y) minus log |det ∂y[:−1]/∂x|
    transform = D.StickBreakingTransform()
    for row in host(y):
        x = host(transform.inv(t(row, device)))
        log_normal = sum(-(v - m) ** 2 / (2 * s * s) - math.log(s * math.sqrt(2 * math.pi))
                         for v, m, s in zip(x, (0.5, -0.3), (1.0, 0.7)))
        jacobian = numeric_jacobian(lambda v: host(transform(t(v, device)))[:-1], x)
        expected = log_normal - math.log(abs(np.linalg.det(jacobian)))
        assert host(distribution.log_prob(t(row, device))) == pytest.approx(expected, rel=1e-7)


def test_transformed_validation_and_errors(device):
    base = D.Normal(t(0.0, device), t(1.0, device))
    with pytest.raises(ValueError, match="transforms must be a Transform or list"):
        D.TransformedDistribution(base, "exp")
    with pytest.raises(ValueError, match="list of Transforms"):
        D.TransformedDistribution(base, [D.ExpTransform(), 3])
    with pytest.raises(ValueError, match="base_distribution needs to have shape with size"):
        D.TransformedDistribution(base, D.StickBreakingTransform())
    distribution = D.TransformedDistribution(base, D.ExpTransform())
    with pytest.raises(ValueError, match="GreaterThan"):
        distribution.log_prob(t(-1.0, device))
    identity = D.TransformedDistribution(base, [])
    assert identity.support is constraints.real
    assert host(identity.log_prob(t(0.0, device))) == pytest.approx(-0.5 * math.log(2 * math.pi))
    # the transforms' parameters broadcast the batch
    broadcast = D.TransformedDistribution(base, D.AffineTransform(t([1.0, 2.0], device), 2.0))
    assert broadcast.batch_shape == (2,) and broadcast.sample((4,)).shape == (4, 2)


def test_rsample_of_a_transformed_distribution_carries_gradients(device):
    loc = t(0.5, device, True)
    scale = t(0.4, device, True)
    distribution = D.TransformedDistribution(D.Normal(loc, scale), [D.ExpTransform()])
    distribution.rsample((40000,)).mean().backward()
    # E = e^(μ + σ²/2): ∂/∂μ = E, ∂/∂σ = σE
    expected = math.exp(0.5 + 0.08)
    assert host(loc.grad) == pytest.approx(expected, rel=0.01)
    assert host(scale.grad) == pytest.approx(0.4 * expected, rel=0.04)


# --- sampling statistics ---

def sampling_cases(device):
    """name: (distribution, exact mean, exact variance); 40000 float64 draws."""
    return {
        "Weibull": (D.Weibull(t(2.0, device), t(1.5, device)), 2.0 * math.gamma(1 + 1 / 1.5),
                    weibull_variance(2.0, 1.5)),
        "Pareto": (D.Pareto(t(1.5, device), t(6.0, device)), 1.8, pareto_variance(1.5, 6.0)),
        "HalfNormal": (D.HalfNormal(t(2.0, device)), 2 * math.sqrt(2 / math.pi),
                       4 * (1 - 2 / math.pi)),
        "Kumaraswamy": (D.Kumaraswamy(t(2.0, device), t(3.0, device)),
                        kumaraswamy_moment(2, 3, 1),
                        kumaraswamy_moment(2, 3, 2) - kumaraswamy_moment(2, 3, 1) ** 2),
        "ContinuousBernoulli": (D.ContinuousBernoulli(t(0.2, device)),
                                continuous_bernoulli_mean(0.2),
                                continuous_bernoulli_variance(0.2)),
        "NegativeBinomial": (D.NegativeBinomial(t(3.0, device), probs=t(0.6, device)),
                             4.5, 11.25),
    }


@pytest.mark.parametrize("name", ["Weibull", "Pareto", "HalfNormal", "Kumaraswamy",
                                  "ContinuousBernoulli", "NegativeBinomial"])
def test_sample_mean_and_variance(name, device):
    distribution, mean, variance = sampling_cases(device)[name]
    samples = distribution.sample((40000,))
    assert samples.shape == (40000,) and samples.device == device
    assert not samples.requires_grad
    values = host(samples)
    assert np.all(host(distribution.support.check(samples)))
    standard_error = math.sqrt(variance / len(values))
    assert abs(values.mean() - mean) < 5 * standard_error, (values.mean(), mean)
    assert abs(values.var() - variance) < 0.08 * variance, (values.var(), variance)


def test_half_cauchy_quantiles(device):
    samples = host(D.HalfCauchy(t(2.0, device)).sample((40000,)))
    assert np.all(samples >= 0)
    assert abs(np.mean(samples < 2.0) - 0.5) < 0.01         # the median is the scale
    assert abs(np.mean(samples < 2.0 * math.tan(3 * math.pi / 8)) - 0.75) < 0.01


@pytest.mark.parametrize("concentration", [0.05, 2.0, 50.0])
def test_von_mises_samples_have_its_circular_moments(concentration, device):
    loc = 2.8                                 # near π: the samples wrap around
    samples = host(D.VonMises(t(loc, device), t(concentration, device)).sample((20000,)))
    assert samples.dtype == np.float64
    assert np.all((samples >= -math.pi) & (samples < math.pi))
    # E[cos(X − μ)] = I₁(κ)/I₀(κ), E[sin(X − μ)] = 0
    ratio = bessel_i(1, concentration) / bessel_i(0, concentration)
    assert abs(np.mean(np.cos(samples - loc)) - ratio) < 0.015
    assert abs(np.mean(np.sin(samples - loc))) < 0.015
    # the circular variance of the samples matches 1 − I₁/I₀
    assert abs(1 - np.mean(np.cos(samples - loc)) - host(D.VonMises(
        t(loc, device), t(concentration, device)).variance)) < 0.015
    # the frequencies of 16 bins agree with the density's integrals over them
    counts, edges = np.histogram(samples, bins=16, range=(-math.pi, math.pi))
    fine = np.linspace(-math.pi, math.pi, 16 * 2000 + 1)
    density = np.exp(concentration * np.cos(fine - loc)) / (2 * math.pi
                                                            * bessel_i(0, concentration))
    bins = np.array([trapezoid(density[i * 2000:(i + 1) * 2000 + 1],
                               fine[i * 2000:(i + 1) * 2000 + 1]) for i in range(16)])
    standard_errors = np.sqrt(bins * (1 - bins) / len(samples))
    assert np.all(np.abs(counts / len(samples) - bins) < 5 * standard_errors + 1e-4)


def test_multinomial_against_brute_force_enumeration(device):
    probs = [0.2, 0.3, 0.5]
    total = 4
    multinomial = D.Multinomial(total, t(probs, device))
    outcomes = [c for c in itertools.product(range(total + 1), repeat=3) if sum(c) == total]
    pmf = {c: math.factorial(total) / math.prod(math.factorial(k) for k in c)
           * math.prod(p ** k for p, k in zip(probs, c)) for c in outcomes}
    values = t(np.array(outcomes, dtype=np.float64), device)
    np.testing.assert_allclose(host(multinomial.log_prob(values)),
                               np.log([pmf[c] for c in outcomes]), rtol=1e-12)
    entropy = -sum(q * math.log(q) for q in pmf.values())
    assert host(multinomial.entropy()) == pytest.approx(entropy, rel=1e-10)
    mean = np.sum([np.array(c) * q for c, q in pmf.items()], 0)
    variance = np.sum([(np.array(c) - mean) ** 2 * q for c, q in pmf.items()], 0)
    np.testing.assert_allclose(host(multinomial.mean), mean, rtol=1e-12)
    np.testing.assert_allclose(host(multinomial.variance), variance, rtol=1e-12)
    # frequencies of the samples
    samples = host(multinomial.sample((20000,)))
    assert samples.shape == (20000, 3) and np.all(samples.sum(-1) == total)
    for outcome in ((0, 0, 4), (1, 1, 2)):
        frequency = np.mean(np.all(samples == outcome, -1))
        assert abs(frequency - pmf[outcome]) < 4 * math.sqrt(pmf[outcome] / 20000)
    # a zero probability: counts there are always 0 and log 0·0 = 0
    with_zero = D.Multinomial(3, t([[0.5, 0.0, 0.5], [0.1, 0.2, 0.7]], device))
    assert np.all(host(with_zero.sample((500,)))[:, 0, 1] == 0)
    assert host(with_zero.log_prob(t([[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]], device)))[0] == (
        pytest.approx(math.log(3 * 0.125)))
    assert with_zero.batch_shape == (2,) and with_zero.event_shape == (3,)
    with pytest.raises(NotImplementedError, match="inhomogeneous total_count"):
        D.Multinomial(t(3.0, device), t(probs, device))
    with pytest.raises(ValueError, match="Multinomial"):
        multinomial.log_prob(t([3.0, 1.0, 2.0], device))  # more than n counts


# --- LowRankMultivariateNormal ---

def low_rank_case(device):
    loc = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, 1.0]])
    factor = np.array([[1.0, 0.2], [0.5, -0.7], [-0.3, 1.1]])
    diag = np.array([1.0, 2.0, 0.5])
    return loc, factor, diag, D.LowRankMultivariateNormal(t(loc, device), t(factor, device),
                                                          t(diag, device))


def test_low_rank_normal_against_the_dense_numpy_formulas(device):
    loc, factor, diag, distribution = low_rank_case(device)
    covariance = factor @ factor.T + np.diag(diag)
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 2.5]])
    difference = x - loc
    quadratic = np.einsum("bi,ij,bj->b", difference, np.linalg.inv(covariance), difference)
    log_det = math.log(np.linalg.det(covariance))
    np.testing.assert_allclose(host(distribution.log_prob(t(x, device))),
                               -0.5 * (3 * math.log(2 * math.pi) + log_det + quadratic),
                               rtol=1e-12)
    np.testing.assert_allclose(host(distribution.entropy()),
                               [0.5 * (3 * (1 + math.log(2 * math.pi)) + log_det)] * 2, rtol=1e-12)
    np.testing.assert_allclose(host(distribution.covariance_matrix)[1], covariance, rtol=1e-12)
    np.testing.assert_allclose(host(distribution.precision_matrix)[0], np.linalg.inv(covariance),
                               rtol=1e-10)
    np.testing.assert_allclose(host(distribution.scale_tril)[0], np.linalg.cholesky(covariance),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(host(distribution.variance)[0], np.diag(covariance))
    assert distribution.batch_shape == (2,) and distribution.event_shape == (3,)
    tg.manual_seed(5)
    draws = host(distribution.sample((40000,)))
    np.testing.assert_allclose(draws.mean(0), loc, atol=0.04)
    np.testing.assert_allclose(np.cov(draws[:, 1].T), covariance, atol=0.06)
    with pytest.raises(ValueError, match="cov_factor must be a batch of matrices"):
        D.LowRankMultivariateNormal(t(loc, device), t(factor[:2], device), t(diag, device))
    with pytest.raises(ValueError, match="cov_diag must be a batch of vectors"):
        D.LowRankMultivariateNormal(t(loc, device), t(factor, device), t(diag[:2], device))
    with pytest.raises(ValueError, match="IndependentConstraint"):
        D.LowRankMultivariateNormal(t(loc, device), t(factor, device), t(-diag, device))


def test_low_rank_rsample_gradients(device):
    loc = t([1.0, 2.0], device, True)
    factor = t([[1.0], [-0.5]], device, True)
    diag = t([0.5, 2.0], device, True)
    x = D.LowRankMultivariateNormal(loc, factor, diag).rsample((40000,))
    (x ** 2).sum(-1).mean().backward()
    # E‖x‖² = ‖μ‖² + ‖W‖²_F + Σ dᵢ: ∂/∂μ = 2μ, ∂/∂W = 2W, ∂/∂d = 1
    np.testing.assert_allclose(host(loc.grad), [2.0, 4.0], atol=0.06)
    np.testing.assert_allclose(host(factor.grad), [[2.0], [-1.0]], atol=0.06)
    np.testing.assert_allclose(host(diag.grad), [1.0, 1.0], atol=0.06)


# --- MixtureSameFamily ---

def test_mixture_against_a_hand_mixture(device):
    weights, means, scales = [0.2, 0.5, 0.3], [-2.0, 0.0, 3.0], [0.5, 1.0, 2.0]
    mixture = D.MixtureSameFamily(D.Categorical(probs=t(weights, device)),
                                  D.Normal(t(means, device), t(scales, device)))
    assert mixture.batch_shape == () and mixture.event_shape == ()

    def density(x):
        return sum(w * math.exp(-(x - m) ** 2 / (2 * s * s)) / (s * math.sqrt(2 * math.pi))
                   for w, m, s in zip(weights, means, scales))

    values = [-2.5, 0.1, 4.0, 40.0]
    expected = [math.log(density(x)) for x in values[:3]]
    # far in the tail every density underflows; the log-sum-exp does not
    tail = max(math.log(w) - (40 - m) ** 2 / (2 * s * s) - math.log(s * math.sqrt(2 * math.pi))
               for w, m, s in zip(weights, means, scales))
    log_prob = host(mixture.log_prob(t(values, device)))
    np.testing.assert_allclose(log_prob[:3], expected, rtol=1e-12)
    assert log_prob[3] == pytest.approx(tail, rel=1e-6)
    mean = sum(w * m for w, m in zip(weights, means))
    variance = sum(w * (s * s + m * m) for w, m, s in zip(weights, means, scales)) - mean ** 2
    assert host(mixture.mean) == pytest.approx(mean, rel=1e-12)
    assert host(mixture.variance) == pytest.approx(variance, rel=1e-12)
    cdf = sum(w * 0.5 * (1 + math.erf((1.0 - m) / (s * math.sqrt(2))))
              for w, m, s in zip(weights, means, scales))
    assert host(mixture.cdf(t(1.0, device))) == pytest.approx(cdf, rel=1e-12)
    samples = host(mixture.sample((40000,)))
    assert abs(samples.mean() - mean) < 5 * math.sqrt(variance / 40000)
    assert abs(samples.var() - variance) < 0.05 * variance
    below = sum(w * 0.5 * (1 + math.erf((-1.0 - m) / (s * math.sqrt(2))))
                for w, m, s in zip(weights, means, scales))       # P(X < −1) = F(−1)
    assert abs(np.mean(samples < -1.0) - below) < 5 * math.sqrt(below * (1 - below) / 40000)


def test_mixture_of_vectors_with_a_batch(device):
    weights = np.array([[0.3, 0.7], [0.9, 0.1]])                  # batch 2, K = 2
    means = np.array([[[0.0, 1.0], [2.0, -1.0]], [[1.0, 1.0], [-3.0, 0.0]]])  # (2, 2, 2)
    components = D.Independent(D.Normal(t(means, device), t(np.ones((2, 2, 2)), device)), 1)
    mixture = D.MixtureSameFamily(D.Categorical(probs=t(weights, device)), components)
    assert mixture.batch_shape == (2,) and mixture.event_shape == (2,)
    x = np.array([0.5, 0.5])
    expected = [math.log(sum(w * math.exp(-0.5 * np.sum((x - m) ** 2)) / (2 * math.pi)
                             for w, m in zip(weights[b], means[b]))) for b in range(2)]
    np.testing.assert_allclose(host(mixture.log_prob(t(x, device))), expected, rtol=1e-12)
    np.testing.assert_allclose(host(mixture.mean), np.einsum("bk,bke->be", weights, means))
    sample = mixture.sample((3,))
    assert sample.shape == (3, 2, 2)
    assert mixture.expand((4, 2)).sample().shape == (4, 2, 2)
    # one mixture distribution shared by a batch of components
    shared = D.MixtureSameFamily(D.Categorical(probs=t([0.5, 0.5], device)),
                                 D.Normal(t(np.zeros((3, 2)), device), t(np.ones((3, 2)), device)))
    assert shared.batch_shape == (3,) and shared.sample((4,)).shape == (4, 3)
    with pytest.raises(ValueError, match="does not equal"):
        D.MixtureSameFamily(D.Categorical(probs=t([0.5, 0.5], device)),
                            D.Normal(t([0.0, 1.0, 2.0], device), t(1.0, device)))
    with pytest.raises(ValueError, match="Categorical"):
        D.MixtureSameFamily(D.Bernoulli(t(0.5, device)), D.Normal(t([0.0], device),
                                                                  t(1.0, device)))


def test_mixture_log_prob_gradients_reach_weights_and_components(device):
    logits = t([0.2, -0.4], device, True)
    means = t([-1.0, 1.5], device, True)
    x = t([0.3, -2.0, 1.0], device)

    def log_likelihood(logits, means):
        mixture = D.MixtureSameFamily(D.Categorical(logits=logits),
                                      D.Normal(means, t([1.0, 0.5], device)))
        return mixture.log_prob(x)
    assert tg.gradcheck(log_likelihood, [logits, means])


# --- rsample gradients and gradcheck ---

@pytest.mark.parametrize("name", ["Weibull", "Pareto", "HalfNormal", "Kumaraswamy",
                                  "ContinuousBernoulli"])
def test_rsample_mean_gradient(name, device):
    a = t(2.0, device, True)
    b = t(3.0, device, True)
    make, mean = {
        "Weibull": (lambda: D.Weibull(a, b), lambda a, b: a * math.gamma(1 + 1 / b)),
        "Pareto": (lambda: D.Pareto(a, b * 2), lambda a, b: 2 * b * a / (2 * b - 1)),
        "HalfNormal": (lambda: D.HalfNormal(a), lambda a, b: a * math.sqrt(2 / math.pi)),
        "Kumaraswamy": (lambda: D.Kumaraswamy(a, b), lambda a, b: kumaraswamy_moment(a, b, 1)),
        "ContinuousBernoulli": (lambda: D.ContinuousBernoulli(a / 10),
                                lambda a, b: continuous_bernoulli_mean(a / 10)),
    }[name]
    make().rsample((40000,)).mean().backward()
    h = 1e-5
    for parameter, gradient in ((a, (mean(2 + h, 3) - mean(2 - h, 3)) / (2 * h)),
                                (b, (mean(2, 3 + h) - mean(2, 3 - h)) / (2 * h))):
        if parameter.grad is not None or gradient != 0:
            assert abs(host(parameter.grad) - gradient) < 0.04 * max(abs(gradient), 0.1), (
                name, host(parameter.grad), gradient)


GRADCHECKED = {
    "Weibull": (D.Weibull, [[0.8, 3.0], [1.5, 0.6]], [0.5, 2.0]),
    "Pareto": (D.Pareto, [[0.8, 1.0], [1.5, 0.6]], [1.5, 2.0]),
    "HalfNormal": (D.HalfNormal, [[0.8, 3.0]], [0.5, 2.0]),
    "HalfCauchy": (D.HalfCauchy, [[0.8, 3.0]], [0.5, 2.0]),
    "Kumaraswamy": (D.Kumaraswamy, [[0.8, 3.0], [1.5, 0.6]], [0.3, 0.7]),
    "VonMises": (D.VonMises, [[0.2, -1.0], [0.7, 13.0]], [0.1, 2.0]),
    "ContinuousBernoulli": (lambda p, **kw: D.ContinuousBernoulli(probs=p, **kw),
                            [[0.3, 0.8]], [0.2, 0.9]),
    "ContinuousBernoulli_logits": (lambda l, **kw: D.ContinuousBernoulli(logits=l, **kw),
                                   [[-0.7, 1.4]], [0.2, 0.9]),
    "NegativeBinomial": (lambda r, p, **kw: D.NegativeBinomial(r, probs=p, **kw),
                         [[2.5, 4.0], [0.3, 0.8]], [2.0, 0.0]),
    "LowRankMultivariateNormal": (
        lambda loc, factor, diag, **kw: D.LowRankMultivariateNormal(loc, factor, diag, **kw),
        [[0.1, -0.2, 0.3], [[1.0, 0.2], [0.5, -0.7], [-0.3, 1.1]], [1.0, 2.0, 0.5]],
        [[0.3, 0.1, -1.0], [1.0, 1.0, 1.0]]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKED))
def test_gradcheck_log_prob(name, device):
    make, parameters, values = GRADCHECKED[name]
    inputs = [t(p, device, True) for p in parameters]
    x = t(values, device)
    assert tg.gradcheck(lambda *ps: make(*ps, validate_args=False).log_prob(x), inputs)
    if name not in ("VonMises", "NegativeBinomial"):
        assert tg.gradcheck(lambda *ps: make(*ps, validate_args=False).entropy(), inputs)


def test_gradcheck_multinomial_log_prob_and_entropy(device):
    logits = t([0.3, -0.8, 1.1], device, True)
    x = t([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]], device)
    assert tg.gradcheck(lambda l: D.Multinomial(3, logits=l).log_prob(x), [logits])
    assert tg.gradcheck(lambda l: D.Multinomial(3, logits=l).entropy(), [logits])


# --- KL divergence ---

def test_kl_closed_forms_against_hand_formulas(device):
    kl = D.kl_divergence(D.Pareto(t([1.0, 0.5], device), t([2.0, 2.0], device)),
                         D.Pareto(t([0.5, 1.0], device), t([3.0, 3.0], device)))
    # ∫ p log(p/q) for Pareto(s₁, α₁), Pareto(s₂, α₂), s₁ ≥ s₂:
    # log(α₁/α₂) + α₂·log(s₁/s₂) + α₂/α₁ − 1
    expected = math.log(2 / 3) + 3 * math.log(2.0) + 1.5 - 1
    assert host(kl)[0] == pytest.approx(expected, rel=1e-12)
    assert host(kl)[1] == math.inf                   # p reaches below q's support
    kl = D.kl_divergence(D.HalfNormal(t(1.0, device)), D.HalfNormal(t(2.0, device)))
    assert host(kl) == pytest.approx(math.log(2.0) + 1 / 8 - 0.5, rel=1e-12)
    # Kumaraswamy pairs with the same transforms but different parameters: no formula
    with pytest.raises(NotImplementedError, match="different transforms"):
        D.kl_divergence(D.Weibull(t(1.0, device), t(2.0, device)),
                        D.Weibull(t(1.0, device), t(3.0, device)))
    # equal transforms: the base KL (here two Normals pushed through exp)
    p = D.TransformedDistribution(D.Normal(t(0.5, device), t(1.5, device)), D.ExpTransform())
    q = D.TransformedDistribution(D.Normal(t(0.0, device), t(1.0, device)), D.ExpTransform())
    expected = math.log(1 / 1.5) + (1.5 ** 2 + 0.25) / 2 - 0.5
    assert host(D.kl_divergence(p, q)) == pytest.approx(expected, rel=1e-12)


def test_low_rank_kl_against_the_dense_formula(device):
    _, factor, diag, _ = low_rank_case(device)
    p = D.LowRankMultivariateNormal(t([0.5, -1.0, 2.0], device), t(factor, device),
                                    t(diag, device))
    covariance_q = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 0.7]])
    q = D.MultivariateNormal(t([0.0, 1.0, 0.0], device), t(covariance_q, device))

    def dense_kl(mu_p, cov_p, mu_q, cov_q):
        inverse = np.linalg.inv(cov_q)
        difference = mu_q - mu_p
        return 0.5 * (np.trace(inverse @ cov_p) + difference @ inverse @ difference - 3
                      + math.log(np.linalg.det(cov_q) / np.linalg.det(cov_p)))

    covariance_p = factor @ factor.T + np.diag(diag)
    mu_p, mu_q = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0, 0.0])
    assert host(D.kl_divergence(p, q)) == pytest.approx(
        dense_kl(mu_p, covariance_p, mu_q, covariance_q), rel=1e-10)
    assert host(D.kl_divergence(q, p)) == pytest.approx(
        dense_kl(mu_q, covariance_q, mu_p, covariance_p), rel=1e-10)
    assert host(D.kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-12)


def kl_pairs(device):
    return {
        "Pareto": (D.Pareto(t(1.0, device), t(2.5, device)),
                   D.Pareto(t(0.7, device), t(1.5, device))),
        "HalfNormal": (D.HalfNormal(t(1.5, device)), D.HalfNormal(t(0.8, device))),
        "ContinuousBernoulli": (D.ContinuousBernoulli(t(0.2, device)),
                                D.ContinuousBernoulli(t(0.7, device))),
        "Transformed": (D.TransformedDistribution(D.Gamma(t(2.0, device), t(1.0, device)),
                                                  [D.ExpTransform()]),
                        D.TransformedDistribution(D.Gamma(t(3.0, device), t(2.0, device)),
                                                  [D.ExpTransform()])),
        "LowRank": (D.LowRankMultivariateNormal(t([0.0, 1.0], device), t([[1.0], [0.5]], device),
                                                t([0.5, 1.0], device)),
                    D.LowRankMultivariateNormal(t([0.5, 0.0], device),
                                                t([[0.3], [-0.5]], device),
                                                t([1.0, 0.7], device))),
    }


@pytest.mark.parametrize("name", ["Pareto", "HalfNormal", "ContinuousBernoulli", "Transformed",
                                  "LowRank"])
def test_kl_closed_form_matches_monte_carlo(name, device):
    p, q = kl_pairs(device)[name]
    x = p.sample((40000,))
    log_ratio = host(p.log_prob(x) - q.log_prob(x))
    standard_error = log_ratio.std() / math.sqrt(len(log_ratio))
    closed_form = host(D.kl_divergence(p, q))
    assert closed_form.shape == ()
    assert abs(log_ratio.mean() - closed_form) < 5 * standard_error, (
        log_ratio.mean(), closed_form)


# --- enumerate_support ---

def test_enumerate_support_of_the_discrete_families(device):
    bernoulli = D.Bernoulli(t(np.full((2, 3), 0.3), device))
    support = bernoulli.enumerate_support()
    assert support.shape == (2, 2, 3) and bernoulli.has_enumerate_support
    assert host(support)[:, 0, 0].tolist() == [0.0, 1.0] and support.dtype == tg.float64
    assert bernoulli.enumerate_support(expand=False).shape == (2, 1, 1)
    np.testing.assert_allclose(host(bernoulli.log_prob(support).exp().sum(0)), 1.0)
    categorical = D.Categorical(logits=t(np.zeros((2, 4)), device))
    support = categorical.enumerate_support()
    assert support.shape == (4, 2) and support.dtype == tg.int64
    assert host(support)[:, 1].tolist() == [0, 1, 2, 3]
    assert categorical.enumerate_support(expand=False).shape == (4, 1)
    np.testing.assert_allclose(host(categorical.log_prob(support).exp().sum(0)), 1.0)
    one_hot = D.OneHotCategorical(probs=t([[0.2, 0.8], [0.5, 0.5]], device))
    support = one_hot.enumerate_support()
    assert support.shape == (2, 2, 2)
    assert host(support)[:, 0].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert one_hot.enumerate_support(expand=False).shape == (2, 1, 2)
    np.testing.assert_allclose(host(one_hot.log_prob(support).exp()), [[0.2, 0.5], [0.8, 0.5]])
    binomial = D.Binomial(3, probs=t([0.1, 0.6], device))
    support = binomial.enumerate_support()
    assert support.shape == (4, 2) and host(support)[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    np.testing.assert_allclose(host(binomial.log_prob(support).exp())[:, 1],
                               [math.comb(3, k) * 0.6 ** k * 0.4 ** (3 - k) for k in range(4)])
    for distribution in (D.Poisson(t(1.0, device)), D.Normal(t(0.0, device), t(1.0, device)),
                         D.Multinomial(2, t([0.5, 0.5], device))):
        assert not distribution.has_enumerate_support
        with pytest.raises(NotImplementedError, match="cannot enumerate its support"):
            distribution.enumerate_support()


# --- shapes ---

def test_batch_event_and_sample_shapes(device):
    b = t(np.full((2, 3), 0.5), device)
    cases = [
        (D.Weibull(b + 1, b + 1), (2, 3), ()),
        (D.Pareto(b + 1, b + 2), (2, 3), ()),
        (D.HalfNormal(b), (2, 3), ()),
        (D.HalfCauchy(b), (2, 3), ()),
        (D.Kumaraswamy(b + 1, b + 1), (2, 3), ()),
        (D.VonMises(b, b + 1), (2, 3), ()),
        (D.ContinuousBernoulli(b * 0.5), (2, 3), ()),
        (D.NegativeBinomial(b + 2, probs=b), (2, 3), ()),
        (D.Multinomial(4, b), (2,), (3,)),
        (D.LowRankMultivariateNormal(b, t(np.ones((3, 1)), device), b + 1), (2,), (3,)),
        (D.MixtureSameFamily(D.Categorical(b), D.Normal(b, b + 1)), (2,), ()),
    ]
    for distribution, batch_shape, event_shape in cases:
        name = type(distribution).__name__
        assert distribution.batch_shape == batch_shape, name
        assert distribution.event_shape == event_shape, name
        sample = distribution.sample((4, 1))
        assert sample.shape == (4, 1) + batch_shape + event_shape, name
        assert sample.device == device
        assert distribution.log_prob(sample).shape == (4, 1) + batch_shape, name
        expanded = distribution.expand((7,) + batch_shape)
        assert type(expanded) is type(distribution), name
        assert expanded.batch_shape == (7,) + batch_shape, name
        assert expanded.sample().shape == (7,) + batch_shape + event_shape, name
        assert expanded.log_prob(sample).shape == (4, 7) + batch_shape, name


def test_parameter_validation(device):
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        D.Weibull(t(1.0, device), t(-1.0, device))
    with pytest.raises(ValueError, match="Expected parameter rate"):   # the base Exponential's
        D.Pareto(t(1.0, device), t(0.0, device))
    with pytest.raises(ValueError, match="Expected parameter scale"):
        D.Pareto(t(-1.0, device), t(1.0, device))
    with pytest.raises(ValueError, match=r"of distribution HalfNormal\(scale: "):
        D.HalfNormal(t(-1.0, device))
    assert repr(D.Weibull(t([1.0, 2.0], device), t(1.0, device))) == (
        "Weibull(scale: (2,), concentration: (2,))")
    with pytest.raises(ValueError, match="The parameter probs has invalid values"):
        D.ContinuousBernoulli(t(1.5, device))
    with pytest.raises(ValueError, match="Expected parameter total_count"):
        D.NegativeBinomial(t(-1.0, device), probs=t(0.5, device))
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.ContinuousBernoulli()
    with pytest.raises(ValueError, match="Expected parameter concentration"):
        D.VonMises(t(0.0, device), t(0.0, device))


@pytest.mark.parametrize("name, words", [("covariance_matrix", "covariance_matrix must"),
                                         ("precision_matrix", "precision_matrix must"),
                                         ("scale_tril", "scale_tril matrix must")])
def test_multivariate_normal_names_a_matrix_of_one_dim_in_pytorchs_words(name, words):
    with pytest.raises(ValueError, match=f"^{words} be at least two-dimensional"):
        D.MultivariateNormal(tg.zeros(2), **{name: tg.ones(2)})
