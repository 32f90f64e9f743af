"""tg.distributions, the families of families_more.py and relaxed.py's logit laws:
FisherSnedecor, InverseGamma, GeneralizedPareto, LogisticNormal, LogitRelaxedBernoulli,
ExpRelaxedCategorical, OneHotCategoricalStraightThrough, Wishart, LKJCholesky; and the
constraints square,
symmetric, positive_semidefinite, corr_cholesky, cat and stack.

log_prob, moments and entropy against the densities written out here with Python's math
(entropy also against −∫ p log p by the trapezoid rule); sampling statistics under fixed
seeds; rsample gradients (gradcheck in float64 where the noise is a fixed function of the
parameters, the gradient of a Monte Carlo mean against the derivative of the closed-form
mean where the draw is Gamma's); validation errors; shapes and expand; constraints on
hand-made matrices. Every device test runs on the cpu and strict devices."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.distributions as D
from tinygrad_opt.distributions import constraints
from test_distributions import digamma, host, t  # the shared helpers


def each(function, *columns):
    """``function`` applied element by element to equally long lists."""
    return np.array([function(*row) for row in zip(*columns)], dtype=np.float64)


def trapezoid(values, grid):
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(grid)))


# --- the densities, written out ---

def fisher_log_p(x, d1, d2):
    """log of (d₁/d₂)^(d₁/2) x^(d₁/2 − 1) (1 + d₁x/d₂)^(−(d₁+d₂)/2) / B(d₁/2, d₂/2)."""
    log_beta = math.lgamma(d1 / 2) + math.lgamma(d2 / 2) - math.lgamma((d1 + d2) / 2)
    return (d1 / 2 * math.log(d1 / d2) + (d1 / 2 - 1) * math.log(x)
            - (d1 + d2) / 2 * math.log(1 + d1 * x / d2) - log_beta)


def inverse_gamma_log_p(x, a, b):
    """log of b^a x^(−a−1) e^(−b/x) / Γ(a)."""
    return a * math.log(b) - math.lgamma(a) - (a + 1) * math.log(x) - b / x


def pareto_log_p(x, mu, sigma, xi):
    """log of (1 + ξz)^(−1/ξ − 1)/σ, e^(−z)/σ at ξ = 0."""
    z = (x - mu) / sigma
    if xi == 0:
        return -math.log(sigma) - z
    return -math.log(sigma) - (1 / xi + 1) * math.log(1 + xi * z)


def pareto_cdf(x, mu, sigma, xi):
    z = (x - mu) / sigma
    return 1 - math.exp(-z) if xi == 0 else 1 - (1 + xi * z) ** (-1 / xi)


def logistic_log_p(y, temperature, p):
    """The logistic density of location l/λ, scale 1/λ: λ e^(−λ(y − l/λ)) / (1 + ...)²."""
    logit = math.log(p / (1 - p))
    d = logit - temperature * y
    return math.log(temperature) + d - 2 * math.log1p(math.exp(d))


def exp_concrete_log_p(y, temperature, p):
    """log Concrete(x = eʸ) + Σ yₖ (Maddison et al. 2017, eq. 12):
    Concrete(x) = (K − 1)! λ^(K−1) Πₖ pₖ xₖ^(−λ−1) / (Σᵢ pᵢ xᵢ^(−λ))^K."""
    k = len(p)
    p = np.asarray(p) / np.sum(p)
    x = np.exp(y)
    log_concrete = (math.lgamma(k) + (k - 1) * math.log(temperature)
                    + np.sum(np.log(p) - (temperature + 1) * np.log(x))
                    - k * math.log(np.sum(p * x ** -temperature)))
    return log_concrete + np.sum(y)


def stick_breaking(x):
    """y from x (K − 1 → K): zₖ = σ(xₖ − log(K − 1 − k)), yₖ = zₖ Πⱼ<ₖ (1 − zⱼ)."""
    k = len(x) + 1
    z = 1 / (1 + np.exp(-(x - np.log(k - 1 - np.arange(k - 1)))))
    y, left = [], 1.0
    for zk in z:
        y.append(zk * left)
        left *= 1 - zk
    return np.array(y + [left])


def logistic_normal_log_p(y, mu, sigma):
    """Σ log N(xₖ; μₖ, σₖ) − log |det ∂y₍:K−1₎/∂x| with x found by solving stick_breaking(x) = y
    (Newton on a numeric Jacobian) and the Jacobian by central differences."""
    x = np.zeros(len(mu))
    for _ in range(50):
        jacobian = numeric_jacobian(lambda v: stick_breaking(v)[:-1], x)
        x = x - np.linalg.solve(jacobian, stick_breaking(x)[:-1] - y[:-1])
    jacobian = numeric_jacobian(lambda v: stick_breaking(v)[:-1], x)
    normal = -((x - mu) ** 2) / (2 * sigma ** 2) - np.log(sigma) - 0.5 * math.log(2 * math.pi)
    return float(np.sum(normal) - np.log(abs(np.linalg.det(jacobian))))


def numeric_jacobian(function, x, h=1e-6):
    columns = []
    for i in range(len(x)):
        step = np.zeros(len(x))
        step[i] = h
        columns.append((function(x + step) - function(x - step)) / (2 * h))
    return np.stack(columns, -1)


# --- log_prob, moments, entropy ---

def test_fisher_snedecor_log_prob_and_moments(device):
    d1, d2 = [1.0, 3.0, 7.5, 12.0], [1.5, 5.0, 4.0, 30.0]
    x = [0.3, 1.2, 2.5, 0.9]
    f = D.FisherSnedecor(t(d1, device), t(d2, device))
    np.testing.assert_allclose(host(f.log_prob(t(x, device))), each(fisher_log_p, x, d1, d2),
                               rtol=1e-12)
    mean = each(lambda a, b: b / (b - 2) if b > 2 else math.nan, d1, d2)
    mode = each(lambda a, b: (a - 2) / a * b / (b + 2) if a > 2 else math.nan, d1, d2)
    variance = each(lambda a, b: 2 * b * b * (a + b - 2) / (a * (b - 2) ** 2 * (b - 4))
                    if b > 4 else math.nan, d1, d2)
    np.testing.assert_allclose(host(f.mean), mean, rtol=1e-12)
    np.testing.assert_allclose(host(f.mode), mode, rtol=1e-12)
    np.testing.assert_allclose(host(f.variance), variance, rtol=1e-12)
    # a (2, 1) × (3,) batch broadcasts to (2, 3)
    d1_column, d2_row = [[2.0], [6.0]], [3.0, 8.0, 20.0]
    wide = D.FisherSnedecor(t(d1_column, device), t(d2_row, device))
    assert wide.batch_shape == (2, 3) and wide.event_shape == ()
    expected = [[fisher_log_p(1.5, a[0], b) for b in d2_row] for a in d1_column]
    np.testing.assert_allclose(host(wide.log_prob(t(1.5, device))), expected, rtol=1e-12)


def test_inverse_gamma_log_prob_moments_and_entropy(device):
    a, b = [0.7, 1.5, 2.5, 6.0], [2.0, 0.5, 3.0, 1.0]
    x = [0.4, 2.0, 1.1, 0.2]
    gamma = D.InverseGamma(t(a, device), t(b, device))
    np.testing.assert_allclose(host(gamma.log_prob(t(x, device))),
                               each(inverse_gamma_log_p, x, a, b), rtol=1e-12)
    np.testing.assert_allclose(host(gamma.mean),
                               each(lambda a, b: b / (a - 1) if a > 1 else math.inf, a, b),
                               rtol=1e-12)
    np.testing.assert_allclose(host(gamma.mode), each(lambda a, b: b / (a + 1), a, b),
                               rtol=1e-12)
    variance = each(lambda a, b: b * b / ((a - 1) ** 2 * (a - 2)) if a > 2 else math.inf, a, b)
    np.testing.assert_allclose(host(gamma.variance), variance, rtol=1e-12)
    entropy = each(lambda a, b: a + math.log(b) + math.lgamma(a) - (1 + a) * digamma(a), a, b)
    np.testing.assert_allclose(host(gamma.entropy()), entropy, rtol=1e-10)
    # the closed form against −∫ p log p
    grid = np.geomspace(1e-4, 1e5, 400001)
    log_p = np.array([inverse_gamma_log_p(v, 2.5, 3.0) for v in grid])
    assert abs(trapezoid(-np.exp(log_p) * log_p, grid) - entropy[2]) < 1e-6
    assert gamma.concentration is gamma.base_dist.concentration
    assert isinstance(gamma, D.TransformedDistribution)


def test_generalized_pareto_log_prob_moments_entropy_cdf(device):
    mu, sigma, xi = [0.0, 1.0, -2.0, 0.5, 0.0], [1.0, 2.0, 0.5, 1.5, 3.0], \
        [0.0, 0.3, -0.4, 0.7, -1.0]
    x = [0.7, 2.5, -1.6, 4.0, 2.2]
    pareto = D.GeneralizedPareto(t(mu, device), t(sigma, device), t(xi, device))
    np.testing.assert_allclose(host(pareto.log_prob(t(x, device))),
                               each(pareto_log_p, x, mu, sigma, xi), rtol=1e-12)
    np.testing.assert_allclose(host(pareto.cdf(t(x, device))),
                               each(pareto_cdf, x, mu, sigma, xi), rtol=1e-10)
    np.testing.assert_allclose(host(pareto.icdf(pareto.cdf(t(x, device)))), x, rtol=1e-9)
    mean = each(lambda m, s, k: m + s / (1 - k) if k < 1 else math.nan, mu, sigma, xi)
    variance = each(lambda m, s, k: s * s / ((1 - k) ** 2 * (1 - 2 * k)) if k < 0.5
                    else math.nan, mu, sigma, xi)
    entropy = each(lambda m, s, k: math.log(s) + k + 1, mu, sigma, xi)
    np.testing.assert_allclose(host(pareto.mean), mean, rtol=1e-12)
    np.testing.assert_allclose(host(pareto.variance), variance, rtol=1e-12)
    np.testing.assert_allclose(host(pareto.entropy()), entropy, rtol=1e-12)
    np.testing.assert_allclose(host(pareto.mode), mu)
    # −∫ p log p for ξ = 0.3 and ξ = −0.4 (bounded support [μ, μ + σ/0.4])
    for m, s, k, upper in ((1.0, 2.0, 0.3, 1e7), (-2.0, 0.5, -0.4, -2.0 + 0.5 / 0.4)):
        grid = m + np.geomspace(1e-9, upper - m, 400001) - 1e-9
        log_p = np.array([pareto_log_p(v, m, s, k) for v in grid[:-1]])
        integral = trapezoid(-np.exp(log_p) * log_p, grid[:-1])
        assert abs(integral - (math.log(s) + k + 1)) < 1e-4
    upper = host(pareto.support.upper_bound)
    assert upper[2] == pytest.approx(-2.0 + 0.5 / 0.4) and upper[0] == math.inf
    assert host(pareto.entropy()).shape == (5,)


def test_logistic_normal_log_prob_against_the_change_of_variables(device):
    mu, sigma = np.array([[0.3, -0.5, 1.0], [0.0, 0.0, 0.0]]), np.array([[1.0, 0.5, 2.0]])
    x = np.array([[0.2, -0.1, 0.4], [-1.0, 0.5, 0.3]])
    y = np.stack([stick_breaking(row) for row in x])
    distribution = D.LogisticNormal(t(mu, device), t(sigma, device))
    assert distribution.batch_shape == (2,) and distribution.event_shape == (4,)
    expected = [logistic_normal_log_p(y[i], mu[i], sigma[0]) for i in range(2)]
    np.testing.assert_allclose(host(distribution.log_prob(t(y, device))), expected, rtol=1e-7)
    scalar = D.LogisticNormal(t([0.5], device), t([2.0], device))   # K = 2: a logistic law
    assert scalar.batch_shape == () and scalar.event_shape == (2,)
    value = np.array([0.3, 0.7])
    np.testing.assert_allclose(host(scalar.log_prob(t(value, device))),
                               logistic_normal_log_p(value, np.array([0.5]),
                                                     np.array([2.0])), rtol=1e-7)
    with pytest.raises(NotImplementedError):
        distribution.mean  # noqa: B018  (PyTorch has none)


def test_logit_relaxed_bernoulli_log_prob(device):
    temperature, p = [0.5, 1.0, 2.0], [0.2, 0.5, 0.9]
    y = [1.3, -0.4, 0.2]
    for distribution in (D.LogitRelaxedBernoulli(t(0.5, device), probs=t(p, device)),
                         D.LogitRelaxedBernoulli(t(0.5, device),
                                                 logits=t(np.log(p) - np.log1p(-np.array(p)),
                                                          device))):
        np.testing.assert_allclose(host(distribution.log_prob(t(y, device))),
                                   each(lambda v, q: logistic_log_p(v, 0.5, q), y, p),
                                   rtol=1e-10)
    per_entry = D.LogitRelaxedBernoulli(t(temperature, device), probs=t(p, device))
    np.testing.assert_allclose(host(per_entry.log_prob(t(y, device))),
                               each(logistic_log_p, y, temperature, p), rtol=1e-10)
    # the density integrates to one
    grid = np.linspace(-150, 150, 300001)
    density = np.exp(host(D.LogitRelaxedBernoulli(t(0.3, device), probs=t(0.8, device))
                          .log_prob(t(grid, device))))
    assert abs(trapezoid(density, grid) - 1) < 1e-8


def test_exp_relaxed_categorical_log_prob(device):
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    y = np.log(np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]]))
    for temperature in (0.4, 1.0, 3.0):
        distribution = D.ExpRelaxedCategorical(t(temperature, device), probs=t(p, device))
        assert distribution.batch_shape == (2,) and distribution.event_shape == (3,)
        expected = [exp_concrete_log_p(y[i], temperature, p[i]) for i in range(2)]
        np.testing.assert_allclose(host(distribution.log_prob(t(y, device))), expected,
                                   rtol=1e-10)
        by_logits = D.ExpRelaxedCategorical(t(temperature, device), logits=t(np.log(p) + 2,
                                                                            device))
        np.testing.assert_allclose(host(by_logits.log_prob(t(y, device))), expected,
                                   rtol=1e-10)


# --- sampling statistics ---

def test_sample_moments_match_the_closed_forms(device):
    n = 200_000
    cases = [(D.FisherSnedecor(t(5.0, device), t(10.0, device)), 1.25, 2600 / 1920),
             (D.InverseGamma(t(5.0, device), t(2.0, device)), 0.5, 4 / (16 * 3)),
             (D.GeneralizedPareto(t(1.0, device), t(2.0, device), t(0.1, device)),
              1 + 2 / 0.9, 4 / (0.81 * 0.8)),
             (D.GeneralizedPareto(t(-1.0, device), t(2.0, device), t(-0.5, device)),
              -1 + 2 / 1.5, 4 / (2.25 * 2))]
    for distribution, mean, variance in cases:
        samples = host(distribution.sample((n,)))
        assert samples.shape == (n,)
        assert abs(samples.mean() - mean) < 0.02 * math.sqrt(variance) * 4
        assert abs(samples.var() / variance - 1) < 0.06
        assert distribution.support.check(t(samples, device)).all().item()


def test_generalized_pareto_samples_follow_the_cdf(device):
    samples = host(D.GeneralizedPareto(t(0.5, device), t(1.5, device), t(0.4, device))
                   .sample((100_000,)))
    for x in (0.7, 1.5, 4.0, 20.0):
        assert abs(np.mean(samples <= x) - pareto_cdf(x, 0.5, 1.5, 0.4)) < 0.006


def test_relaxed_logit_laws_sample_as_their_discrete_limits(device):
    p = np.array([0.2, 0.5, 0.3])
    logits = D.ExpRelaxedCategorical(t(0.7, device), probs=t(p, device)).sample((50_000,))
    y = host(logits)
    assert y.shape == (50_000, 3)
    np.testing.assert_allclose(np.log(np.exp(y).sum(-1)), 0, atol=1e-12)  # log of the simplex
    frequencies = np.bincount(y.argmax(-1), minlength=3) / 50_000          # Gumbel-max
    np.testing.assert_allclose(frequencies, p, atol=0.01)
    bernoulli = D.LogitRelaxedBernoulli(t([0.5, 2.0], device), probs=t([0.3, 0.8], device))
    draws = host(bernoulli.sample((50_000,)))
    np.testing.assert_allclose(np.mean(draws > 0, 0), [0.3, 0.8], atol=0.01)  # P(y > 0) = p
    # logistic(l/λ, 1/λ): mean l/λ, variance π²/(3λ²)
    np.testing.assert_allclose(draws.mean(0), [math.log(0.3 / 0.7) / 0.5,
                                               math.log(0.8 / 0.2) / 2.0], atol=0.05)
    np.testing.assert_allclose(draws.var(0), [math.pi ** 2 / 0.75, math.pi ** 2 / 12],
                               rtol=0.04)


def test_logistic_normal_samples_lie_on_the_simplex(device):
    distribution = D.LogisticNormal(t([[0.0, 1.0], [0.5, -0.5]], device), t(0.3, device))
    samples = distribution.sample((1000,))
    assert samples.shape == (1000, 2, 3)
    assert distribution.support.check(samples).all().item()
    # the stick breaks at σ(x₀ − log 2) with x₀ ~ N(μ₀, 0.3²): its median is σ(μ₀ − log 2)
    median = np.median(host(samples)[:, :, 0], 0)
    np.testing.assert_allclose(median, 1 / (1 + np.exp(-(np.array([0.0, 0.5]) - math.log(2)))),
                               atol=0.01)


def test_one_hot_straight_through_samples_and_gradient(device):
    raw = t([1.0, 3.0, 2.0, 2.0], device, requires_grad=True)
    distribution = D.OneHotCategoricalStraightThrough(probs=raw)
    assert distribution.has_rsample
    samples = distribution.rsample((20_000,))
    values = host(samples)
    assert ((values == 0) | (values == 1)).all() and (values.sum(-1) == 1).all()
    np.testing.assert_allclose(values.mean(0), [0.125, 0.375, 0.25, 0.25], atol=0.01)
    weights = np.array([1.0, -2.0, 0.5, 3.0])
    (samples * t(weights, device)).sum().backward()
    # p = raw/S, so ∂(Σₖ wₖpₖ)/∂rawⱼ = (wⱼ − Σₖ wₖpₖ)/S, once per sample
    p = np.array([1.0, 3.0, 2.0, 2.0]) / 8
    np.testing.assert_allclose(host(raw.grad), 20_000 * (weights - weights @ p) / 8, rtol=1e-9)


# --- gradients ---

def test_log_prob_gradcheck_in_float64(device):
    def check(make, parameters, value):
        inputs = [t(p, device, True) for p in parameters] + [t(value, device, True)]
        assert tg.gradcheck(lambda *a: make(*a[:-1]).log_prob(a[-1]), inputs)

    check(D.FisherSnedecor, [[2.0, 7.0], [3.0, 11.0]], [0.4, 1.7])
    check(D.InverseGamma, [[0.8, 3.0], [2.0, 0.5]], [0.4, 1.7])
    check(D.GeneralizedPareto, [[0.0, -1.0], [1.0, 2.0], [0.3, -0.2]], [0.4, 1.7])
    check(lambda temperature, p: D.LogitRelaxedBernoulli(temperature, probs=p),
          [[0.5, 2.0], [0.3, 0.6]], [0.4, -1.7])
    check(lambda temperature, logits: D.ExpRelaxedCategorical(temperature, logits=logits),
          [0.7, [0.1, -0.3, 0.9]], np.log([0.2, 0.3, 0.5]))
    check(lambda loc, scale: D.LogisticNormal(loc, scale, validate_args=False),  # off the
          [[0.1, -0.3], [1.0, 0.6]], [0.2, 0.3, 0.5])                 # simplex by ±eps


def test_rsample_gradcheck_where_the_noise_is_fixed(device):
    def seeded(make):
        def sample(*parameters):
            tg.manual_seed(3)
            return make(*parameters).rsample((4,))
        return sample

    inputs = [t([0.0, 1.0], device, True), t([1.0, 2.0], device, True),
              t([0.3, -0.2], device, True)]
    assert tg.gradcheck(seeded(D.GeneralizedPareto), inputs)
    assert tg.gradcheck(seeded(lambda temperature, p: D.LogitRelaxedBernoulli(temperature,
                                                                               probs=p)),
                        [t([0.5, 2.0], device, True), t([0.3, 0.6], device, True)])
    assert tg.gradcheck(seeded(lambda temperature, logits: D.ExpRelaxedCategorical(
        temperature, logits=logits)), [t(0.7, device, True), t([0.1, -0.3, 0.9], device, True)])
    assert tg.gradcheck(seeded(D.LogisticNormal),
                        [t([0.1, -0.3], device, True), t([1.0, 0.6], device, True)])


def test_gamma_based_rsample_gradients_match_the_mean_derivatives(device):
    """d/dθ of the Monte Carlo mean of rsample ≈ d/dθ of the closed-form mean."""
    n = 200_000
    a, b = t(4.0, device, True), t(3.0, device, True)
    D.InverseGamma(a, b).rsample((n,)).mean().backward()
    assert host(a.grad) == pytest.approx(-3.0 / 9.0, rel=0.03)          # −b/(a − 1)²
    assert host(b.grad) == pytest.approx(1.0 / 3.0, rel=0.03)           # 1/(a − 1)
    d1, d2 = t(8.0, device, True), t(12.0, device, True)
    D.FisherSnedecor(d1, d2).rsample((n,)).mean().backward()
    assert host(d2.grad) == pytest.approx(-2.0 / 100.0, rel=0.1)        # −2/(d₂ − 2)²
    assert abs(host(d1.grad)) < 0.004                                   # the mean has no d₁


# --- validation, shapes, expand ---

def test_validation_errors(device):
    with pytest.raises(ValueError, match="df1"):
        D.FisherSnedecor(t([-1.0], device), t([2.0], device))
    with pytest.raises(ValueError, match="support"):
        D.FisherSnedecor(t(2.0, device), t(3.0, device)).log_prob(t(-0.5, device))
    with pytest.raises(ValueError, match="rate"):
        D.InverseGamma(t(1.0, device), t(0.0, device))
    with pytest.raises(ValueError, match="support"):
        D.InverseGamma(t(1.0, device), t(1.0, device)).log_prob(t(-0.5, device))
    pareto = D.GeneralizedPareto(t(1.0, device), t(2.0, device), t(-0.5, device))
    for outside in (0.5, 5.5):                                          # support [1, 5]
        with pytest.raises(ValueError, match="support"):
            pareto.log_prob(t(outside, device))
    with pytest.raises(ValueError, match="scale"):
        D.GeneralizedPareto(t(1.0, device), t(-2.0, device), t(0.5, device))
    with pytest.raises(ValueError, match="support"):
        D.LogisticNormal(t([0.0], device), t([1.0], device)).log_prob(t([0.5, 0.6], device))
    with pytest.raises(ValueError, match="probs"):
        D.LogitRelaxedBernoulli(t(1.0, device), probs=t(1.5, device))
    with pytest.raises(ValueError, match="Either"):
        D.ExpRelaxedCategorical(t(1.0, device))
    with pytest.raises(ValueError, match="support"):
        D.OneHotCategoricalStraightThrough(t([0.5, 0.5], device)).log_prob(t([1.0, 1.0],
                                                                             device))
    lenient = D.InverseGamma(t(2.0, device), t(1.0, device), validate_args=False)
    with np.errstate(invalid="ignore"):
        assert math.isnan(host(lenient.log_prob(t(-0.5, device))))  # log of a negative x


def test_shapes_and_expand(device):
    cases = [D.FisherSnedecor(t([2.0, 3.0], device), t(4.0, device)),
             D.InverseGamma(t([2.0, 3.0], device), t(4.0, device)),
             D.GeneralizedPareto(t([0.0, 1.0], device), t(2.0, device), t(0.1, device)),
             D.LogitRelaxedBernoulli(t(0.5, device), probs=t([0.2, 0.7], device)),
             D.LogisticNormal(t([[0.0, 1.0], [0.5, 0.5]], device), t(1.0, device)),
             D.ExpRelaxedCategorical(t(0.5, device), probs=t([[0.2, 0.8], [0.5, 0.5]], device)),
             D.OneHotCategoricalStraightThrough(t([[0.2, 0.8], [0.5, 0.5]], device)),
             D.Wishart(t([4.0, 6.0], device), covariance_matrix=t(np.eye(2) + 0.5, device)),
             D.LKJCholesky(3, t([0.5, 2.0], device))]
    for distribution in cases:
        event = distribution.event_shape
        assert distribution.batch_shape == (2,)
        assert distribution.sample((5,)).shape == (5, 2) + event
        wide = distribution.expand((3, 2))
        assert type(wide) is type(distribution) and wide.batch_shape == (3, 2)
        value = distribution.sample()
        assert wide.sample((4,)).shape == (4, 3, 2) + event
        np.testing.assert_allclose(host(wide.log_prob(value)),
                                   np.broadcast_to(host(distribution.log_prob(value)), (3, 2)),
                                   rtol=1e-12)
    assert D.FisherSnedecor(2.0, 3.0).batch_shape == ()
    assert D.GeneralizedPareto(0.0, 1.0, 0.0).sample((3,)).shape == (3,)


# --- Wishart and LKJCholesky ---

def log_multivariate_gamma(a, p):
    """log Γ_p(a) = p(p − 1)/4·log π + Σⱼ₌₁..ₚ log Γ(a + (1 − j)/2)."""
    return p * (p - 1) / 4 * math.log(math.pi) + sum(math.lgamma(a + (1 - j) / 2)
                                                     for j in range(1, p + 1))


def wishart_log_p(x, df, covariance):
    """((ν − p − 1)/2)·log det X − tr(Σ⁻¹X)/2 − (νp/2)·log 2 − (ν/2)·log det Σ − log Γ_p(ν/2)."""
    p = len(x)
    return ((df - p - 1) / 2 * np.linalg.slogdet(x)[1]
            - np.trace(np.linalg.solve(covariance, x)) / 2 - df * p / 2 * math.log(2)
            - df / 2 * np.linalg.slogdet(covariance)[1] - log_multivariate_gamma(df / 2, p))


def wishart_entropy(df, covariance):
    p = len(covariance)
    multivariate_digamma = sum(digamma(df / 2 + (1 - j) / 2) for j in range(1, p + 1))
    return ((p + 1) / 2 * np.linalg.slogdet(covariance)[1] + p * (p + 1) / 2 * math.log(2)
            + log_multivariate_gamma(df / 2, p) - (df - p - 1) / 2 * multivariate_digamma
            + df * p / 2)


COVARIANCES = [np.array([[2.0, 0.3], [0.3, 1.0]]),
               np.array([[1.0, 0.5, 0.2], [0.5, 2.0, -0.4], [0.2, -0.4, 1.5]])]


@pytest.mark.parametrize("covariance", COVARIANCES, ids=["p2", "p3"])
def test_wishart_log_prob_moments_entropy(covariance, device):
    p = len(covariance)
    df = np.array([p - 0.5, p + 1.0, p + 4.5])               # ν ≤ p + 1 has no mode
    rng = np.random.default_rng(1)
    factors = rng.normal(size=(3, p, p))
    x = factors @ factors.transpose(0, 2, 1) + np.eye(p)     # (3, p, p) positive definite
    lower = np.linalg.cholesky(covariance)
    for parameter in ({"covariance_matrix": t(covariance, device)},
                      {"precision_matrix": t(np.linalg.inv(covariance), device)},
                      {"scale_tril": t(lower, device)}):
        wishart = D.Wishart(t(df, device), **parameter)
        assert wishart.batch_shape == (3,) and wishart.event_shape == (p, p)
        np.testing.assert_allclose(host(wishart.log_prob(t(x, device))),
                                   [wishart_log_p(x[i], df[i], covariance) for i in range(3)],
                                   rtol=1e-10)
    np.testing.assert_allclose(host(wishart.entropy()),
                               [wishart_entropy(v, covariance) for v in df], rtol=1e-10)
    np.testing.assert_allclose(host(wishart.mean), df[:, None, None] * covariance, rtol=1e-12)
    mode = [(v - p - 1) * covariance if v > p + 1 else np.full((p, p), np.nan) for v in df]
    np.testing.assert_allclose(host(wishart.mode), mode, rtol=1e-12)
    diagonal = np.diag(covariance)
    variance = df[:, None, None] * (covariance ** 2 + np.outer(diagonal, diagonal))
    np.testing.assert_allclose(host(wishart.variance), variance, rtol=1e-12)


def test_wishart_samples_match_moments_and_entropy(device):
    covariance, df, n = COVARIANCES[1], 6.0, 40_000
    wishart = D.Wishart(t(df, device), covariance_matrix=t(covariance, device))
    samples = host(wishart.sample((n,)))
    assert samples.shape == (n, 3, 3)
    assert wishart.support.check(t(samples[:100], device)).all().item()
    diagonal = np.diag(covariance)
    variance = df * (covariance ** 2 + np.outer(diagonal, diagonal))
    np.testing.assert_allclose(samples.mean(0), df * covariance,
                               atol=4 * np.sqrt(variance / n).max())
    np.testing.assert_allclose(samples.var(0), variance, rtol=0.06)
    log_p = np.array([wishart_log_p(sample, df, covariance) for sample in samples[:20_000]])
    assert abs(-log_p.mean() - wishart_entropy(df, covariance)) < 4 * log_p.std() / 140


def test_wishart_rsample_gradients(device):
    lower = t(np.linalg.cholesky(COVARIANCES[1]), device, True)

    def sample(scale_tril):
        tg.manual_seed(5)
        return D.Wishart(t(5.0, device), scale_tril=scale_tril, validate_args=False).rsample((2,))

    assert tg.gradcheck(sample, [lower])
    df = t(5.0, device, True)
    weights = np.array([[1.0, 0.5, 0.0], [0.5, -1.0, 2.0], [0.0, 2.0, 0.3]])
    samples = D.Wishart(df, covariance_matrix=t(COVARIANCES[1], device)).rsample((40_000,))
    (samples.mean(0) * t(weights, device)).sum().backward()
    # d/dν Σᵢⱼ Wᵢⱼ E[Xᵢⱼ] = Σᵢⱼ Wᵢⱼ Σᵢⱼ
    assert host(df.grad) == pytest.approx(np.sum(weights * COVARIANCES[1]), rel=0.05)


def test_wishart_validation(device):
    eye = t(np.eye(3), device)
    with pytest.raises(ValueError, match="greater than ndim - 1 = 2"):
        D.Wishart(t(2.0, device), covariance_matrix=eye)
    with pytest.raises(ValueError, match="Exactly one"):
        D.Wishart(t(4.0, device), covariance_matrix=eye, scale_tril=eye)
    with pytest.raises(ValueError, match="covariance_matrix"):
        D.Wishart(t(4.0, device), covariance_matrix=t(np.diag([1.0, -1.0, 1.0]), device))
    with pytest.raises(ValueError, match="support"):
        D.Wishart(t(4.0, device), covariance_matrix=eye).log_prob(t(np.diag([1.0, 0.0, 2.0]),
                                                                      device))


def lkj_log_p(lower, eta):
    """Σₖ₌₂..d (d − k + 2η − 2)·log Lₖₖ (Stan's cholesky LKJ) minus log c_d, the
    normalizer of det(C)^(η−1) (Lewandowski, Kurowicka and Joe 2009, eq. 16):
    c_d = 2^(Σₖ₌₁..d₋₁ (2η − 2 + d − k)(d − k)) · Πₖ₌₁..d₋₁ B(η + (d − k − 1)/2, same)^(d − k)."""
    d = len(lower)
    unnormalized = sum((d - k + 2 * eta - 2) * math.log(lower[k - 1, k - 1])
                       for k in range(2, d + 1))
    log_c = 0.0
    for k in range(1, d):
        b = eta + (d - k - 1) / 2
        log_beta = 2 * math.lgamma(b) - math.lgamma(2 * b)
        log_c += (2 * eta - 2 + d - k) * (d - k) * math.log(2) + (d - k) * log_beta
    return unnormalized - log_c


def random_corr_cholesky(d, rng):
    factor = rng.normal(size=(d, d))
    covariance = factor @ factor.T + np.eye(d)
    scale = 1 / np.sqrt(np.diag(covariance))
    return np.linalg.cholesky(covariance * np.outer(scale, scale))


@pytest.mark.parametrize("d", [2, 3, 5])
def test_lkj_cholesky_log_prob(d, device):
    rng = np.random.default_rng(d)
    lower = np.stack([random_corr_cholesky(d, rng) for _ in range(3)])
    eta = [0.5, 1.0, 3.7]
    lkj = D.LKJCholesky(d, t(eta, device))
    assert lkj.batch_shape == (3,) and lkj.event_shape == (d, d)
    np.testing.assert_allclose(host(lkj.log_prob(t(lower, device))),
                               [lkj_log_p(lower[i], eta[i]) for i in range(3)], rtol=1e-10)
    if d == 2:  # L = [[1, 0], [r, √(1 − r²)]]: r has density (1 − r²)^(η−1)/B(½, η)
        r = lower[:, 1, 0]
        expected = [(e - 1) * math.log(1 - v * v) - (math.lgamma(0.5) + math.lgamma(e)
                                                     - math.lgamma(e + 0.5))
                    for v, e in zip(r, eta)]
        np.testing.assert_allclose(host(lkj.log_prob(t(lower, device))), expected, rtol=1e-10)
    values = t(lower[0], device)
    assert tg.gradcheck(lambda e: D.LKJCholesky(d, e).log_prob(values), [t(eta, device, True)])


def test_lkj_cholesky_samples(device):
    d, eta, n = 4, 2.0, 20_000
    samples = D.LKJCholesky(d, t(eta, device)).sample((n,))
    assert samples.shape == (n, d, d)
    assert constraints.corr_cholesky.check(samples).all().item()
    correlation = host(samples @ samples.transpose(-2, -1))
    np.testing.assert_allclose(np.diagonal(correlation, axis1=-2, axis2=-1), 1, atol=1e-12)
    # each correlation Cᵢⱼ: (C + 1)/2 ~ Beta(η − 1 + d/2, same): mean 0, var 1/(2η + d − 1)
    off_diagonal = correlation[:, np.tril_indices(d, -1)[0], np.tril_indices(d, -1)[1]]
    np.testing.assert_allclose(off_diagonal.mean(0), 0, atol=0.015)
    np.testing.assert_allclose(off_diagonal.var(0), 1 / (2 * eta + d - 1), rtol=0.05)
    with pytest.raises(ValueError, match="dim"):
        D.LKJCholesky(1, t(1.0, device))
    with pytest.raises(ValueError, match="concentration"):
        D.LKJCholesky(3, t(-1.0, device))
    with pytest.raises(ValueError, match="support"):
        D.LKJCholesky(2, t(1.0, device)).log_prob(t([[1.0, 0.0], [0.5, 0.5]], device))


# --- constraints ---

def test_square_symmetric_and_positive_semidefinite(device):
    psd = np.array([[2.0, 1.0], [1.0, 0.5]])                    # eigenvalues 2.5 and 0
    indefinite = np.array([[1.0, 2.0], [2.0, 1.0]])             # eigenvalues 3 and −1
    asymmetric = np.array([[1.0, 0.1], [0.0, 1.0]])
    batch = t(np.stack([psd, indefinite, asymmetric, np.eye(2)]), device)
    assert host(constraints.square.check(batch)).tolist() == [True] * 4
    assert host(constraints.square.check(t(np.zeros((3, 2, 3)), device))).tolist() == \
        [False] * 3
    assert host(constraints.symmetric.check(batch)).tolist() == [True, True, False, True]
    nearly = t(psd + np.array([[0.0, 5e-7], [0.0, 0.0]]), device)  # within isclose's 1e-6
    assert host(constraints.symmetric.check(nearly))
    # a non-symmetric matrix makes positive_semidefinite return symmetric's check
    assert host(constraints.positive_semidefinite.check(batch)).tolist() == \
        [True, True, False, True]
    symmetric_batch = t(np.stack([psd, indefinite, np.eye(2), -np.eye(2)]), device)
    assert host(constraints.positive_semidefinite.check(symmetric_batch)).tolist() == \
        [True, False, True, False]
    for constraint in (constraints.square, constraints.symmetric,
                       constraints.positive_semidefinite, constraints.corr_cholesky):
        assert constraint.event_dim == 2 and not constraint.is_discrete


def test_corr_cholesky(device):
    correlation = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.5], [-0.2, 0.5, 1.0]])
    factor = np.linalg.cholesky(correlation)              # rows of norm 1
    covariance_factor = np.linalg.cholesky(correlation * 4)
    upper = factor.T
    negative_diagonal = factor * np.array([1.0, -1.0, 1.0])
    batch = t(np.stack([factor, covariance_factor, upper, negative_diagonal, np.eye(3)]),
              device)
    assert host(constraints.corr_cholesky.check(batch)).tolist() == \
        [True, False, False, False, True]


def test_cat_and_stack(device):
    value = t([[0.5, -1.0, 2.0, 3.0], [0.2, 1.0, -2.0, 0.0]], device)
    cat = constraints.cat([constraints.unit_interval, constraints.positive], 1, [1, 3])
    expected = [[True, False, True, True], [True, True, False, False]]
    assert host(cat.check(value)).tolist() == expected
    stack = constraints.stack([constraints.unit_interval, constraints.real,
                               constraints.positive, constraints.nonnegative], 1)
    assert host(stack.check(value)).tolist() == [[True, True, True, True],
                                                 [True, True, False, True]]
    rows = constraints.cat([constraints.positive, constraints.real])  # dim 0, lengths 1
    assert host(rows.check(value)).tolist() == [[True, False, True, True], [True] * 4]
    simplex_rows = constraints.stack([constraints.simplex, constraints.simplex], 0)
    assert simplex_rows.event_dim == 1
    assert host(simplex_rows.check(t([[0.3, 0.7], [0.6, 0.6]], device))).tolist() == \
        [True, False]
    assert constraints.stack([constraints.simplex], -2).event_dim == 2
    assert constraints.stack([constraints.simplex], -1).event_dim == 1
    assert constraints.cat([constraints.real, constraints.simplex]).event_dim == 1
    assert constraints.cat([constraints.boolean, constraints.real]).is_discrete
    assert not stack.is_discrete
    with pytest.raises(ValueError, match="dim 2"):
        constraints.stack([constraints.real], 2).check(value)
    with pytest.raises(ValueError, match="lengths"):
        constraints.cat([constraints.real], 0, [1, 2])
