"""tg.distributions: log_prob, entropy, moments and cdf against formulas written here with
Python's math, element by element; sampling statistics under fixed seeds; reparameterized
gradients; gradcheck of log_prob; KL closed forms against hand formulas and Monte Carlo;
shapes; PyTorch's validation errors. Every test runs on the cpu and strict devices."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.distributions as D
from tinygrad_opt.distributions import constraints

EULER = 0.5772156649015329


def t(values, device, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def host(x):
    return tg.backend.to_host(x.data)


def digamma(x: float) -> float:
    """ψ(x) = d/dx log Γ(x): ψ(x) = ψ(x + 1) − 1/x up to x ≥ 6, then the asymptotic series."""
    result = 0.0
    while x < 6:
        result -= 1 / x
        x += 1
    f = 1 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
    return result + math.log(x) - 0.5 / x - series


def log_beta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def trapezoid(density, grid):
    return float(np.sum((density[1:] + density[:-1]) / 2 * np.diff(grid)))


def each(function, *columns):
    """``function`` applied element by element to equally long lists."""
    return np.array([function(*row) for row in zip(*columns)], dtype=np.float64)


def normal_cdf(x, m, s):
    return 0.5 * (1 + math.erf((x - m) / (s * math.sqrt(2))))


def student_variance(nu, m, s):
    if nu > 2:
        return s * s * nu / (nu - 2)
    return math.inf if nu > 1 else math.nan


# name: (make, parameters, values, log p, entropy, mean, variance, cdf or None)
FAMILIES = {
    "Normal": (D.Normal, [[0.0, 1.5, -2.0], [1.0, 0.5, 3.0]], [0.3, 1.0, -5.0],
               lambda x, m, s: -(x - m) ** 2 / (2 * s * s) - math.log(s)
               - 0.5 * math.log(2 * math.pi),
               lambda m, s: 0.5 * math.log(2 * math.pi * math.e * s * s),
               lambda m, s: m, lambda m, s: s * s, normal_cdf),
    "Uniform": (D.Uniform, [[0.0, -1.0, 2.0], [1.0, 3.0, 2.5]], [0.5, 0.0, 2.2],
                lambda x, lo, hi: -math.log(hi - lo), lambda lo, hi: math.log(hi - lo),
                lambda lo, hi: (lo + hi) / 2, lambda lo, hi: (hi - lo) ** 2 / 12,
                lambda x, lo, hi: (x - lo) / (hi - lo)),
    "Exponential": (D.Exponential, [[0.5, 1.0, 3.0]], [0.1, 2.0, 0.7],
                    lambda x, r: math.log(r) - r * x, lambda r: 1 - math.log(r),
                    lambda r: 1 / r, lambda r: 1 / r ** 2, lambda x, r: 1 - math.exp(-r * x)),
    "Laplace": (D.Laplace, [[0.0, 1.0, -1.0], [1.0, 0.5, 2.0]], [0.5, -1.0, -1.5],
                lambda x, m, b: -math.log(2 * b) - abs(x - m) / b,
                lambda m, b: 1 + math.log(2 * b), lambda m, b: m, lambda m, b: 2 * b * b,
                lambda x, m, b: 0.5 * math.exp((x - m) / b) if x < m
                else 1 - 0.5 * math.exp(-(x - m) / b)),
    "Cauchy": (D.Cauchy, [[0.0, 2.0, -1.0], [1.0, 0.5, 3.0]], [0.5, 4.0, -1.0],
               lambda x, m, g: -math.log(math.pi * g * (1 + ((x - m) / g) ** 2)),
               lambda m, g: math.log(4 * math.pi * g), lambda m, g: math.nan,
               lambda m, g: math.inf, lambda x, m, g: 0.5 + math.atan((x - m) / g) / math.pi),
    "LogNormal": (D.LogNormal, [[0.0, 1.0, -0.5], [1.0, 0.5, 0.25]], [0.5, 3.0, 0.7],
                  lambda x, m, s: -math.log(x * s * math.sqrt(2 * math.pi))
                  - (math.log(x) - m) ** 2 / (2 * s * s),
                  lambda m, s: m + 0.5 + 0.5 * math.log(2 * math.pi * s * s),
                  lambda m, s: math.exp(m + s * s / 2),
                  lambda m, s: (math.exp(s * s) - 1) * math.exp(2 * m + s * s),
                  lambda x, m, s: normal_cdf(math.log(x), m, s)),
    "Gumbel": (D.Gumbel, [[0.0, 1.0, -2.0], [1.0, 2.0, 0.5]], [0.5, -1.0, 3.0],
               lambda x, m, b: -math.log(b) - ((x - m) / b + math.exp(-(x - m) / b)),
               lambda m, b: math.log(b) + 1 + EULER, lambda m, b: m + b * EULER,
               lambda m, b: (math.pi * b) ** 2 / 6,
               lambda x, m, b: math.exp(-math.exp(-(x - m) / b))),
    "StudentT": (D.StudentT, [[1.5, 3.0, 10.0], [0.0, 1.0, -1.0], [1.0, 2.0, 0.5]],
                 [0.5, -2.0, 0.0],
                 lambda x, nu, m, s: math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)
                 - 0.5 * math.log(nu * math.pi) - math.log(s)
                 - (nu + 1) / 2 * math.log1p(((x - m) / s) ** 2 / nu),
                 lambda nu, m, s: (nu + 1) / 2 * (digamma((nu + 1) / 2) - digamma(nu / 2))
                 + 0.5 * math.log(nu) + log_beta(nu / 2, 0.5) + math.log(s),
                 lambda nu, m, s: m if nu > 1 else math.nan, student_variance, None),
    "Gamma": (D.Gamma, [[0.5, 2.0, 7.0], [1.0, 0.5, 3.0]], [0.3, 5.0, 2.0],
              lambda x, a, r: a * math.log(r) + (a - 1) * math.log(x) - r * x - math.lgamma(a),
              lambda a, r: a - math.log(r) + math.lgamma(a) + (1 - a) * digamma(a),
              lambda a, r: a / r, lambda a, r: a / r ** 2, None),
    "Chi2": (D.Chi2, [[1.0, 3.0, 8.0]], [0.5, 2.0, 9.0],
             lambda x, k: (k / 2 - 1) * math.log(x) - x / 2 - k / 2 * math.log(2)
             - math.lgamma(k / 2),
             lambda k: k / 2 + math.log(2) + math.lgamma(k / 2) + (1 - k / 2) * digamma(k / 2),
             lambda k: k, lambda k: 2 * k, None),
    "Beta": (D.Beta, [[0.5, 2.0, 5.0], [0.7, 3.0, 1.0]], [0.2, 0.5, 0.9],
             lambda x, a, b: (a - 1) * math.log(x) + (b - 1) * math.log(1 - x) - log_beta(a, b),
             lambda a, b: log_beta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
             + (a + b - 2) * digamma(a + b),
             lambda a, b: a / (a + b), lambda a, b: a * b / ((a + b) ** 2 * (a + b + 1)), None),
    "Bernoulli": (lambda p: D.Bernoulli(probs=p), [[0.1, 0.5, 0.9]], [1.0, 0.0, 1.0],
                  lambda x, p: x * math.log(p) + (1 - x) * math.log(1 - p),
                  lambda p: -p * math.log(p) - (1 - p) * math.log(1 - p),
                  lambda p: p, lambda p: p * (1 - p), None),
    "Bernoulli_logits": (lambda logit: D.Bernoulli(logits=logit), [[-30.0, 0.3, 40.0]],
                         [1.0, 0.0, 0.0],
                         lambda x, logit: x * logit - math.log1p(math.exp(logit)),
                         lambda logit: math.log1p(math.exp(logit))
                         - logit / (1 + math.exp(-logit)),
                         lambda logit: 1 / (1 + math.exp(-logit)),
                         lambda logit: 1 / (1 + math.exp(-logit)) / (1 + math.exp(logit)), None),
    "Binomial": (lambda n, p: D.Binomial(n, probs=p), [[5.0, 10.0, 3.0], [0.2, 0.5, 0.9]],
                 [1.0, 10.0, 2.0],
                 lambda k, n, p: math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                 + k * math.log(p) + (n - k) * math.log(1 - p),
                 None, lambda n, p: n * p, lambda n, p: n * p * (1 - p), None),
    "Poisson": (D.Poisson, [[0.5, 3.0, 10.0]], [0.0, 4.0, 12.0],
                lambda k, r: k * math.log(r) - r - math.lgamma(k + 1),
                None, lambda r: r, lambda r: r, None),
    "Geometric": (lambda p: D.Geometric(probs=p), [[0.2, 0.5, 0.9]], [3.0, 0.0, 1.0],
                  lambda k, p: k * math.log(1 - p) + math.log(p),
                  lambda p: (-(1 - p) * math.log(1 - p) - p * math.log(p)) / p,
                  lambda p: (1 - p) / p, lambda p: (1 - p) / p ** 2, None),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_log_prob_entropy_moments_and_cdf_match_math(name, device):
    make, parameters, values, log_p, entropy, mean, variance, cdf = FAMILIES[name]
    distribution = make(*(t(p, device) for p in parameters))
    x = t(values, device)
    np.testing.assert_allclose(host(distribution.log_prob(x)), each(log_p, values, *parameters),
                               rtol=1e-9, atol=1e-12)
    if entropy is not None:
        np.testing.assert_allclose(host(distribution.entropy()), each(entropy, *parameters),
                                   rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(host(distribution.mean), each(mean, *parameters), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(host(distribution.variance), each(variance, *parameters),
                               rtol=1e-12, atol=1e-15)
    if cdf is not None:
        np.testing.assert_allclose(host(distribution.cdf(x)), each(cdf, values, *parameters),
                                   rtol=1e-9, atol=1e-12)
        inverse = host(distribution.icdf(distribution.cdf(x)))
        np.testing.assert_allclose(inverse, values, rtol=1e-7, atol=1e-9)
    assert distribution.log_prob(x).dtype == tg.float64


# name: (distribution, exact mean, exact variance); float64 parameters, 40000 draws
def sampling_cases(device):
    return {
        "Normal": (D.Normal(t(1.5, device), t(2.0, device)), 1.5, 4.0),
        "Uniform": (D.Uniform(t(-1.0, device), t(3.0, device)), 1.0, 16 / 12),
        "Exponential": (D.Exponential(t(2.0, device)), 0.5, 0.25),
        "Laplace": (D.Laplace(t(1.0, device), t(0.5, device)), 1.0, 0.5),
        "LogNormal": (D.LogNormal(t(0.2, device), t(0.3, device)), math.exp(0.245),
                      (math.exp(0.09) - 1) * math.exp(0.49)),
        "Gumbel": (D.Gumbel(t(1.0, device), t(2.0, device)), 1 + 2 * EULER,
                   (2 * math.pi) ** 2 / 6),
        "StudentT": (D.StudentT(t(8.0, device), t(1.0, device), t(2.0, device)), 1.0, 4 * 8 / 6),
        "Gamma": (D.Gamma(t(3.0, device), t(2.0, device)), 1.5, 0.75),
        "Gamma_small": (D.Gamma(t(0.3, device), t(1.0, device)), 0.3, 0.3),
        "Chi2": (D.Chi2(t(4.0, device)), 4.0, 8.0),
        "Beta": (D.Beta(t(2.0, device), t(5.0, device)), 2 / 7, 10 / (49 * 8)),
        "Bernoulli": (D.Bernoulli(t(0.3, device)), 0.3, 0.21),
        "Binomial": (D.Binomial(t(12.0, device), t(0.25, device)), 3.0, 2.25),
        "Poisson": (D.Poisson(t(4.5, device)), 4.5, 4.5),
        "Geometric": (D.Geometric(t(0.4, device)), 1.5, 0.6 / 0.16),
    }


@pytest.mark.parametrize("name", ["Normal", "Uniform", "Exponential", "Laplace", "LogNormal",
                                  "Gumbel", "StudentT", "Gamma", "Gamma_small", "Chi2", "Beta",
                                  "Bernoulli", "Binomial", "Poisson", "Geometric"])
def test_sample_mean_and_variance(name, device):
    distribution, mean, variance = sampling_cases(device)[name]
    samples = distribution.sample((40000,))
    assert samples.shape == (40000,) and samples.device == device
    assert not samples.requires_grad
    values = host(samples)
    assert np.all(host(distribution.support.check(samples)))
    standard_error = math.sqrt(variance / len(values))
    assert abs(values.mean() - mean) < 5 * standard_error, (values.mean(), mean)
    assert abs(values.var() - variance) < 0.06 * variance, (values.var(), variance)


def test_cauchy_samples_have_the_quantiles_of_its_cdf(device):
    samples = host(D.Cauchy(t(1.0, device), t(2.0, device)).sample((40000,)))
    assert abs(np.mean(samples < 1.0) - 0.5) < 0.01       # the median is the loc
    assert abs(np.mean(samples < 3.0) - 0.75) < 0.01      # loc + scale is the 3rd quartile


def test_categorical_frequencies_and_onehot(device):
    probs = t([[0.1, 0.2, 0.7], [0.5, 0.0, 0.5]], device)
    samples = D.Categorical(probs=probs).sample((20000,))
    assert samples.shape == (20000, 2) and samples.dtype == tg.int64
    values = host(samples)
    for row, expected in enumerate(host(probs)):
        frequencies = np.bincount(values[:, row], minlength=3) / len(values)
        np.testing.assert_allclose(frequencies, expected, atol=0.015)
    assert np.sum(values[:, 1] == 1) == 0                 # a zero-probability category never
    one_hot = D.OneHotCategorical(probs=probs).sample((5000,))
    assert one_hot.shape == (5000, 2, 3)
    assert np.all(host(one_hot).sum(-1) == 1)
    np.testing.assert_allclose(host(one_hot).mean(0), host(probs), atol=0.03)


def test_dirichlet_and_multivariate_normal_sample_moments(device):
    alpha = [1.0, 2.0, 5.0]
    samples = host(D.Dirichlet(t(alpha, device)).sample((20000,)))
    np.testing.assert_allclose(samples.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(samples.mean(0), np.array(alpha) / 8, atol=0.005)
    covariance = np.array([[2.0, 0.6], [0.6, 1.0]])
    mvn = D.MultivariateNormal(t([1.0, -1.0], device), covariance_matrix=t(covariance, device))
    draws = host(mvn.sample((40000,)))
    np.testing.assert_allclose(draws.mean(0), [1.0, -1.0], atol=0.03)
    np.testing.assert_allclose(np.cov(draws.T), covariance, atol=0.05)


def test_manual_seed_makes_sampling_reproducible(device):
    distribution = D.Gamma(t([0.5, 3.0], device), t(1.0, device))
    tg.manual_seed(7)
    first = host(distribution.sample((5,)))
    tg.manual_seed(7)
    np.testing.assert_array_equal(host(distribution.sample((5,))), first)
    tg.manual_seed(7)
    normal_first = host(D.Normal(t(0.0, device), t(1.0, device)).sample((5,)))
    tg.manual_seed(7)
    assert np.array_equal(host(D.Normal(t(0.0, device), t(1.0, device)).sample((5,))),
                          normal_first)


# --- reparameterized gradients ---

def test_normal_rsample_gradients(device):
    mu, sigma = t(0.5, device, True), t(2.0, device, True)
    x = D.Normal(mu, sigma).rsample((20000,))
    (x.mean() + (x ** 2).mean()).backward()
    # d/dμ E[x + x²] = 1 + 2μ = 2;  d/dσ E[x + x²] = 2σ = 4 (estimated: ε mean and ε² mean)
    assert abs(host(mu.grad) - 2.0) < 0.05
    assert abs(host(sigma.grad) - 4.0) < 0.15


@pytest.mark.parametrize("name", ["Uniform", "Exponential", "Laplace", "Gumbel", "LogNormal",
                                  "Cauchy"])
def test_rsample_gradient_of_the_location_or_rate(name, device):
    a, b = t(1.0, device, True), t(2.0, device, True)
    make, expected = {
        "Uniform": (lambda: D.Uniform(a, b + 1.0), (0.5, 0.5)),          # E = (a + b + 1)/2
        "Exponential": (lambda: D.Exponential(b), (None, -0.25)),        # E = 1/λ
        "Laplace": (lambda: D.Laplace(a, b), (1.0, 0.0)),
        "Gumbel": (lambda: D.Gumbel(a, b), (1.0, EULER)),                # E = μ + βγ
        "LogNormal": (lambda: D.LogNormal(a, b * 0.25), (math.exp(1.125), 0.125 * math.exp(1.125))),
        "Cauchy": (lambda: D.Cauchy(a, b), (1.0, None)),
    }[name]
    x = make().rsample((40000,))
    if name == "Cauchy":
        x = x.clamp(-1e6, 1e6)  # the mean does not exist; the gradient of the loc is still 1
    x.mean().backward()
    for parameter, value in zip((a, b), expected):
        if value is not None:
            assert abs(host(parameter.grad) - value) < 0.03 * max(1.0, abs(value)), name


def regularized_gamma_p(alpha: float, x: float) -> float:
    """P(α, x) = Σₙ x^(α+n) e^(−x) / Γ(α + n + 1)."""
    total, n = 0.0, 0
    while True:
        term = math.exp((alpha + n) * math.log(x) - x - math.lgamma(alpha + n + 1))
        total += term
        n += 1
        if n > x and term < 1e-18 * total:
            return total


def test_gamma_rsample_gradient_is_the_implicit_one(device):
    alpha = t([0.3, 1.0, 4.0, 30.0], device, True)
    x = D.Gamma(alpha, t(1.0, device)).rsample()
    x.sum().backward()
    for a, sample, gradient in zip(host(alpha), host(x), host(alpha.grad)):
        h = 1e-5
        d_cdf = (regularized_gamma_p(a + h, sample) - regularized_gamma_p(a - h, sample)) / (2 * h)
        density = math.exp((a - 1) * math.log(sample) - sample - math.lgamma(a))
        assert gradient == pytest.approx(-d_cdf / density, rel=1e-5)


def test_gamma_beta_dirichlet_studentt_rsample_mean_gradients(device):
    concentration, rate = t(2.0, device, True), t(0.5, device, True)
    D.Gamma(concentration, rate).rsample((40000,)).mean().backward()
    assert abs(host(concentration.grad) - 2.0) < 0.03      # E = α/λ: ∂/∂α = 1/λ
    assert abs(host(rate.grad) + 8.0) < 0.2                # ∂/∂λ = −α/λ²
    a, b = t(2.0, device, True), t(3.0, device, True)
    D.Beta(a, b).rsample((40000,)).mean().backward()       # E = a/(a + b)
    assert abs(host(a.grad) - 3 / 25) < 0.006 and abs(host(b.grad) + 2 / 25) < 0.006
    alpha = t([1.0, 2.0, 3.0], device, True)
    D.Dirichlet(alpha).rsample((40000,))[:, 0].mean().backward()  # E[x₀] = α₀/Σα
    np.testing.assert_allclose(host(alpha.grad), [5 / 36, -1 / 36, -1 / 36], atol=0.006)
    df, loc = t(5.0, device, True), t(1.0, device, True)
    x = D.StudentT(df, loc, 2.0).rsample((40000,))
    ((x - loc.detach()) ** 2).mean().backward()            # E = 4·ν/(ν − 2): ∂/∂ν = −8/(ν−2)²
    assert abs(host(loc.grad)) < 0.1
    assert abs(host(df.grad) + 8 / 9) < 0.2


def test_mvn_and_relaxed_rsample_have_gradients(device):
    loc = t([1.0, 2.0], device, True)
    lower = t([[1.0, 0.0], [0.5, 2.0]], device, True)
    x = D.MultivariateNormal(loc, scale_tril=lower).rsample((30000,))
    (x ** 2).sum(-1).mean().backward()
    # E‖x‖² = ‖μ‖² + ‖L‖²_F: ∂/∂μ = 2μ, ∂/∂L = 2L
    np.testing.assert_allclose(host(loc.grad), [2.0, 4.0], atol=0.06)
    np.testing.assert_allclose(np.tril(host(lower.grad)), 2 * host(lower), atol=0.12)
    logits = t([0.5, -0.5], device, True)
    relaxed = D.RelaxedOneHotCategorical(t(0.5, device), logits=logits).rsample((100,))
    relaxed[:, 0].mean().backward()
    assert host(logits.grad)[0] > 0 > host(logits.grad)[1]  # more weight on 0 → more x₀
    p = t([0.3], device, True)
    D.RelaxedBernoulli(t(0.2, device), probs=p).rsample((200,)).mean().backward()
    assert host(p.grad)[0] > 0


def test_discrete_families_have_no_rsample(device):
    for distribution in (D.Bernoulli(t(0.3, device)), D.Poisson(t(2.0, device)),
                         D.Categorical(probs=t([0.5, 0.5], device))):
        assert not distribution.has_rsample
        with pytest.raises(NotImplementedError):
            distribution.rsample()


GRADCHECKED = {
    "Normal": (D.Normal, [[0.2, -1.0], [0.7, 1.3]], [0.1, 0.4]),
    "Laplace": (D.Laplace, [[0.2, -1.0], [0.7, 1.3]], [0.1, 0.4]),
    "Cauchy": (D.Cauchy, [[0.2, -1.0], [0.7, 1.3]], [0.1, 0.4]),
    "Gumbel": (D.Gumbel, [[0.2, -1.0], [0.7, 1.3]], [0.1, 0.4]),
    "LogNormal": (D.LogNormal, [[0.2, -1.0], [0.7, 1.3]], [0.5, 2.0]),
    "StudentT": (D.StudentT, [[2.5, 7.0], [0.2, -1.0], [0.7, 1.3]], [0.1, 0.4]),
    "Gamma": (D.Gamma, [[0.8, 3.0], [1.5, 0.6]], [0.5, 2.0]),
    "Beta": (D.Beta, [[0.8, 3.0], [1.5, 0.6]], [0.3, 0.7]),
    "Exponential": (D.Exponential, [[0.8, 3.0]], [0.5, 2.0]),
    "Bernoulli": (lambda logits, **kw: D.Bernoulli(logits=logits, **kw), [[0.8, -3.0]], [1.0, 0.0]),
    "Binomial": (lambda p, **kw: D.Binomial(5, probs=p, **kw), [[0.3, 0.8]], [1.0, 4.0]),
    "Poisson": (D.Poisson, [[0.8, 3.0]], [2.0, 1.0]),
    "Geometric": (lambda p, **kw: D.Geometric(probs=p, **kw), [[0.3, 0.8]], [2.0, 1.0]),
    "Categorical": (lambda logits, **kw: D.Categorical(logits=logits, **kw),
                    [[0.3, -0.8, 1.1]], [2.0, 0.0]),
    "Dirichlet": (D.Dirichlet, [[0.8, 3.0, 1.4]], [0.2, 0.5, 0.3]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECKED))
def test_gradcheck_log_prob_and_entropy(name, device):
    make, parameters, values = GRADCHECKED[name]
    inputs = [t(p, device, True) for p in parameters]
    x = t(values, device)
    assert tg.gradcheck(lambda *ps: make(*ps, validate_args=False).log_prob(x), inputs)
    if name not in ("Binomial", "Poisson"):
        assert tg.gradcheck(lambda *ps: make(*ps, validate_args=False).entropy(), inputs)


def test_gradcheck_multivariate_normal_log_prob(device):
    lower_values = np.array([[1.2, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.4, 0.2, 1.5]])
    mask = t(np.tril(np.ones((3, 3))), device)
    x = t([[0.3, -0.2, 1.0], [1.0, 0.5, -0.7]], device)

    def log_prob(loc, free):
        return D.MultivariateNormal(loc, scale_tril=free * mask, validate_args=False).log_prob(x)
    inputs = [t([0.1, 0.2, -0.3], device, True), t(lower_values, device, True)]
    assert tg.gradcheck(log_prob, inputs)


# --- values of the multivariate and relaxed families ---

def test_multivariate_normal_log_prob_and_entropy_against_numpy(device):
    covariance = np.array([[2.0, 0.6, 0.1], [0.6, 1.0, -0.2], [0.1, -0.2, 0.5]])
    loc = np.array([0.5, -1.0, 2.0])
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 2.5]])
    difference = x - loc
    quadratic = np.einsum("bi,ij,bj->b", difference, np.linalg.inv(covariance), difference)
    log_det = math.log(np.linalg.det(covariance))
    expected = -0.5 * (3 * math.log(2 * math.pi) + log_det + quadratic)
    entropy = 0.5 * (3 * (1 + math.log(2 * math.pi)) + log_det)
    for key, matrix in (("covariance_matrix", covariance),
                        ("precision_matrix", np.linalg.inv(covariance)),
                        ("scale_tril", np.linalg.cholesky(covariance))):
        mvn = D.MultivariateNormal(t(loc, device), **{key: t(matrix, device)})
        np.testing.assert_allclose(host(mvn.log_prob(t(x, device))), expected, rtol=1e-10)
        np.testing.assert_allclose(host(mvn.entropy()), entropy, rtol=1e-10)
        np.testing.assert_allclose(host(mvn.covariance_matrix), covariance, rtol=1e-10,
                                   atol=1e-14)
        np.testing.assert_allclose(host(mvn.variance), np.diag(covariance), rtol=1e-10)
        np.testing.assert_allclose(host(mvn.precision_matrix), np.linalg.inv(covariance),
                                   rtol=1e-9)


def test_categorical_onehot_and_dirichlet_values(device):
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    categorical = D.Categorical(probs=t(probs * 3, device))   # normalised inside
    values = t([2, 1], device).astype(tg.int64)
    np.testing.assert_allclose(host(categorical.log_prob(values)), np.log([0.5, 0.4]))
    entropy = [-sum(p * math.log(p) for p in row if p > 0) for row in probs]
    np.testing.assert_allclose(host(categorical.entropy()), entropy, rtol=1e-12)
    assert host(categorical.mode).tolist() == [2, 0]
    one_hot = D.OneHotCategorical(logits=t(np.log([0.2, 0.3, 0.5]), device))
    np.testing.assert_allclose(host(one_hot.log_prob(t([0.0, 1.0, 0.0], device))), math.log(0.3))
    np.testing.assert_allclose(host(one_hot.variance), [0.16, 0.21, 0.25], rtol=1e-12)
    alpha, x = [0.8, 3.0, 1.4], [0.2, 0.5, 0.3]
    dirichlet = D.Dirichlet(t(alpha, device))
    expected = (math.lgamma(sum(alpha)) - sum(math.lgamma(a) for a in alpha)
                + sum((a - 1) * math.log(v) for a, v in zip(alpha, x)))
    assert host(dirichlet.log_prob(t(x, device))) == pytest.approx(expected, rel=1e-12)
    total = sum(alpha)
    entropy = (sum(math.lgamma(a) for a in alpha) - math.lgamma(total)
               - (3 - total) * digamma(total) - sum((a - 1) * digamma(a) for a in alpha))
    assert host(dirichlet.entropy()) == pytest.approx(entropy, rel=1e-10)
    np.testing.assert_allclose(host(dirichlet.variance),
                               [a * (total - a) / (total ** 2 * (total + 1)) for a in alpha])


def test_binomial_entropy_and_pmfs_sum_to_one(device):
    binomial = D.Binomial(6, probs=t([0.3, 0.5], device))
    pmf = [[math.comb(6, k) * p ** k * (1 - p) ** (6 - k) for k in range(7)] for p in (0.3, 0.5)]
    entropy = [-sum(q * math.log(q) for q in row) for row in pmf]
    np.testing.assert_allclose(host(binomial.entropy()), entropy, rtol=1e-10)
    support = binomial.enumerate_support()
    assert support.shape == (7, 2)
    np.testing.assert_allclose(host(binomial.log_prob(support).exp().sum(0)), 1.0, rtol=1e-12)
    with pytest.raises(NotImplementedError, match="Inhomogeneous total count"):
        D.Binomial(t([2.0, 3.0], device), probs=t([0.5, 0.5], device)).entropy()
    counts = t(np.arange(80.0), device).unsqueeze(-1)
    poisson = D.Poisson(t([0.5, 7.0], device)).log_prob(counts).exp().sum(0)
    np.testing.assert_allclose(host(poisson), 1.0, rtol=1e-10)
    geometric = D.Geometric(t([0.3, 0.9], device)).log_prob(counts).exp().sum(0)
    np.testing.assert_allclose(host(geometric), 1.0, rtol=1e-10)


def test_relaxed_densities_integrate_to_one(device):
    grid = np.linspace(1e-6, 1 - 1e-6, 200001)
    for probs in (0.3, 0.8):
        relaxed = D.RelaxedBernoulli(t(0.7, device), probs=t(probs, device))
        density = np.exp(host(relaxed.log_prob(t(grid, device))))
        assert trapezoid(density, grid) == pytest.approx(1.0, abs=2e-3)
    # K = 2: x = (s, 1 − s); the density on the simplex is a density in s times √2 / √2
    relaxed = D.RelaxedOneHotCategorical(t(0.7, device), probs=t([0.3, 0.7], device))
    points = t(np.stack([grid, 1 - grid], -1), device)
    density = np.exp(host(relaxed.log_prob(points)))
    assert trapezoid(density, grid) == pytest.approx(1.0, abs=2e-3)
    # the relaxed Bernoulli's (logit) density in closed form at one point
    x, temperature, logit = 0.4, 0.7, math.log(0.3 / 0.7)
    y = math.log(x / (1 - x))
    d = logit - temperature * y
    expected = math.log(temperature) + d - 2 * math.log1p(math.exp(d)) - math.log(x * (1 - x))
    relaxed = D.RelaxedBernoulli(t(temperature, device), probs=t(0.3, device))
    assert host(relaxed.log_prob(t(x, device))) == pytest.approx(expected, rel=1e-9)


def test_modes(device):
    assert host(D.Gamma(t([3.0, 0.5], device), t(2.0, device)).mode).tolist() == [1.0, 0.0]
    assert host(D.Beta(t(3.0, device), t(2.0, device)).mode) == pytest.approx(2 / 3)
    assert host(D.LogNormal(t(1.0, device), t(0.5, device)).mode) == pytest.approx(
        math.exp(0.75))
    bernoulli_mode = host(D.Bernoulli(t([0.2, 0.5, 0.7], device)).mode)
    assert bernoulli_mode[0] == 0 and math.isnan(bernoulli_mode[1]) and bernoulli_mode[2] == 1
    assert host(D.Binomial(10, probs=t(0.33, device)).mode) == 3.0
    assert host(D.Poisson(t(3.7, device)).mode) == 3.0
    np.testing.assert_allclose(host(D.Dirichlet(t([2.0, 3.0, 4.0], device)).mode),
                               [1 / 6, 2 / 6, 3 / 6])
    np.testing.assert_allclose(host(D.Dirichlet(t([0.5, 0.9, 0.2], device)).mode), [0, 1, 0])


# --- KL divergence ---

def test_kl_closed_forms_against_hand_formulas(device):
    kl = D.kl_divergence(D.Normal(t(1.0, device), t(2.0, device)),
                         D.Normal(t(-0.5, device), t(0.5, device)))
    expected = math.log(0.5 / 2.0) + (4.0 + 1.5 ** 2) / (2 * 0.25) - 0.5
    assert host(kl) == pytest.approx(expected, rel=1e-12)
    p, q = 0.3, 0.8
    kl = D.kl_divergence(D.Bernoulli(t(p, device)), D.Bernoulli(logits=t(math.log(4.0), device)))
    expected = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    assert host(kl) == pytest.approx(expected, rel=1e-9)
    p_probs, q_probs = np.array([0.2, 0.3, 0.5]), np.array([0.4, 0.4, 0.2])
    kl = D.kl_divergence(D.Categorical(probs=t(p_probs, device)),
                         D.Categorical(probs=t(q_probs, device)))
    assert host(kl) == pytest.approx(np.sum(p_probs * np.log(p_probs / q_probs)), rel=1e-12)
    covariance_p = np.array([[2.0, 0.3], [0.3, 1.0]])
    covariance_q = np.array([[1.0, -0.2], [-0.2, 0.5]])
    mu_p, mu_q = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    q_inverse = np.linalg.inv(covariance_q)
    expected = 0.5 * (np.trace(q_inverse @ covariance_p) + (mu_q - mu_p) @ q_inverse @ (mu_q - mu_p)
                      - 2 + math.log(np.linalg.det(covariance_q) / np.linalg.det(covariance_p)))
    kl = D.kl_divergence(D.MultivariateNormal(t(mu_p, device), t(covariance_p, device)),
                         D.MultivariateNormal(t(mu_q, device), t(covariance_q, device)))
    assert host(kl) == pytest.approx(expected, rel=1e-10)
    kl = D.kl_divergence(D.Poisson(t(2.0, device)), D.Poisson(t(5.0, device)))
    assert host(kl) == pytest.approx(2 * math.log(2 / 5) - 2 + 5, rel=1e-12)
    kl = D.kl_divergence(D.Uniform(t([0.0, 0.0], device), t([1.0, 1.0], device)),
                         D.Uniform(t([-1.0, 0.5], device), t([2.0, 3.0], device)))
    assert host(kl)[0] == pytest.approx(math.log(3.0)) and host(kl)[1] == math.inf


def test_kl_infinities_and_zeros(device):
    kl = D.kl_divergence(D.Bernoulli(t([0.0, 0.5, 1.0], device)),
                         D.Bernoulli(t([0.3, 0.0, 1.0], device)))
    assert host(kl)[0] == pytest.approx(-math.log(0.7)) and host(kl)[1] == math.inf
    assert host(kl)[2] == 0.0
    kl = D.kl_divergence(D.Categorical(probs=t([0.5, 0.5, 0.0], device)),
                         D.Categorical(probs=t([0.5, 0.0, 0.5], device)))
    assert host(kl) == math.inf
    kl = D.kl_divergence(D.Categorical(probs=t([0.5, 0.0, 0.5], device)),
                         D.Categorical(probs=t([0.25, 0.5, 0.25], device)))
    assert host(kl) == pytest.approx(math.log(2.0))


def kl_pairs(device):
    return {
        "Normal": (D.Normal(t(0.5, device), t(1.5, device)), D.Normal(t(0.0, device),
                                                                      t(1.0, device))),
        "LogNormal": (D.LogNormal(t(0.5, device), t(0.5, device)),
                      D.LogNormal(t(0.0, device), t(1.0, device))),
        "Exponential": (D.Exponential(t(2.0, device)), D.Exponential(t(0.7, device))),
        "Laplace": (D.Laplace(t(0.5, device), t(1.5, device)),
                    D.Laplace(t(-0.5, device), t(1.0, device))),
        "Cauchy": (D.Cauchy(t(0.5, device), t(1.5, device)),
                   D.Cauchy(t(-0.5, device), t(1.0, device))),
        "Gumbel": (D.Gumbel(t(0.5, device), t(1.5, device)),
                   D.Gumbel(t(-0.5, device), t(1.0, device))),
        "Gamma": (D.Gamma(t(3.0, device), t(2.0, device)), D.Gamma(t(1.5, device),
                                                                  t(0.8, device))),
        "Beta": (D.Beta(t(2.0, device), t(3.0, device)), D.Beta(t(1.2, device), t(0.8, device))),
        "Dirichlet": (D.Dirichlet(t([1.0, 2.0, 3.0], device)),
                      D.Dirichlet(t([2.0, 2.0, 0.7], device))),
        "Uniform": (D.Uniform(t(0.2, device), t(0.9, device)),
                    D.Uniform(t(0.0, device), t(1.5, device))),
        "Bernoulli": (D.Bernoulli(t(0.3, device)), D.Bernoulli(t(0.6, device))),
        "Binomial": (D.Binomial(8, t(0.3, device)), D.Binomial(8, t(0.6, device))),
        "Geometric": (D.Geometric(t(0.3, device)), D.Geometric(t(0.6, device))),
        "Poisson": (D.Poisson(t(3.0, device)), D.Poisson(t(5.0, device))),
        "OneHotCategorical": (D.OneHotCategorical(t([0.2, 0.3, 0.5], device)),
                              D.OneHotCategorical(t([0.5, 0.3, 0.2], device))),
        "MultivariateNormal": (
            D.MultivariateNormal(t([0.5, 0.0], device), t([[1.0, 0.3], [0.3, 2.0]], device)),
            D.MultivariateNormal(t([0.0, 1.0], device), scale_tril=t([[1.5, 0.0], [-0.3, 0.7]],
                                                                       device))),
        "Independent": (D.Independent(D.Normal(t([0.5, 1.0], device), t([1.0, 0.5], device)), 1),
                        D.Independent(D.Normal(t([0.0, 0.0], device), t([2.0, 1.0], device)), 1)),
    }


@pytest.mark.parametrize("name", ["Normal", "LogNormal", "Exponential", "Laplace", "Cauchy",
                                  "Gumbel", "Gamma", "Beta", "Dirichlet", "Uniform", "Bernoulli",
                                  "Binomial", "Geometric", "Poisson", "OneHotCategorical",
                                  "MultivariateNormal", "Independent"])
def test_kl_closed_form_matches_monte_carlo(name, device):
    p, q = kl_pairs(device)[name]
    x = p.sample((40000,))
    log_ratio = host(p.log_prob(x) - q.log_prob(x))
    standard_error = log_ratio.std() / math.sqrt(len(log_ratio))
    closed_form = host(D.kl_divergence(p, q))
    assert closed_form.shape == ()
    assert abs(log_ratio.mean() - closed_form) < 5 * standard_error + 1e-12, (
        log_ratio.mean(), closed_form)


def test_kl_dispatch_register_and_missing_pairs(device):
    normal, cauchy = D.Normal(t(0.0, device), t(1.0, device)), D.Cauchy(t(0.0, device),
                                                                         t(1.0, device))
    with pytest.raises(NotImplementedError):  # (a pair PyTorch has no formula for either)
        D.kl_divergence(cauchy, normal)
    gamma = D.Gamma(t(1.0, device), t(1.0, device))
    assert host(D.kl_divergence(normal, gamma)) == float("inf")  # (R against (0, ∞))

    class Shifted(D.Normal):
        """A Normal subclass: the Normal-Normal form applies unless a closer one exists."""

    shifted = Shifted(t(1.0, device), t(1.0, device))
    assert host(D.kl_divergence(shifted, normal)) == pytest.approx(0.5)

    @D.register_kl(Shifted, D.Normal)
    def _kl_shifted_normal(p, q):
        return tg.zeros_like(p.loc) + 42.0

    assert host(D.kl_divergence(shifted, normal)) == 42.0
    assert host(D.kl_divergence(normal, shifted)) == pytest.approx(0.5)
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims"):
        base = D.Normal(t([[0.0]], device), t([[1.0]], device))
        D.kl_divergence(D.Independent(base, 1), D.Independent(base, 2))


def test_kl_gradients_flow_to_both_sides(device):
    mu_p, sigma_q = t(1.0, device, True), t(2.0, device, True)
    kl = D.kl_divergence(D.Normal(mu_p, t(1.0, device)), D.Normal(t(0.0, device), sigma_q))
    kl.backward()
    # KL = log σq + (1 + μp²)/(2σq²) − ½:  ∂/∂μp = μp/σq², ∂/∂σq = 1/σq − (1 + μp²)/σq³
    assert host(mu_p.grad) == pytest.approx(0.25)
    assert host(sigma_q.grad) == pytest.approx(0.5 - 2 / 8)


# --- shapes ---

def shape_cases(device):
    b = t(np.full((2, 3), 0.5), device)
    matrix = t(np.eye(4), device)
    return [
        (D.Normal(b, b), (2, 3), ()),
        (D.Gamma(b, 1.0), (2, 3), ()),
        (D.Beta(b, b), (2, 3), ()),
        (D.StudentT(b + 2), (2, 3), ()),
        (D.Bernoulli(logits=b), (2, 3), ()),
        (D.Binomial(4, probs=b), (2, 3), ()),
        (D.Poisson(b), (2, 3), ()),
        (D.Geometric(b), (2, 3), ()),
        (D.Categorical(logits=b), (2,), ()),
        (D.OneHotCategorical(logits=b), (2,), (3,)),
        (D.Dirichlet(b), (2,), (3,)),
        (D.RelaxedOneHotCategorical(t(0.5, device), logits=b), (2,), (3,)),
        (D.RelaxedBernoulli(t(0.5, device), logits=b), (2, 3), ()),
        (D.MultivariateNormal(t(np.zeros((5, 4)), device), matrix), (5,), (4,)),
        (D.Independent(D.Normal(b, b), 2), (), (2, 3)),
    ]


def test_batch_event_and_sample_shapes(device):
    for distribution, batch_shape, event_shape in shape_cases(device):
        name = type(distribution).__name__
        assert distribution.batch_shape == batch_shape, name
        assert distribution.event_shape == event_shape, name
        sample = distribution.sample((4, 1))
        assert sample.shape == (4, 1) + batch_shape + event_shape, name
        assert sample.device == device
        assert distribution.log_prob(sample).shape == (4, 1) + batch_shape, name
        no_entropy = (D.RelaxedBernoulli, D.RelaxedOneHotCategorical, D.Poisson)  # (PyTorch's)
        if not isinstance(distribution, no_entropy):
            assert distribution.entropy().shape == batch_shape, name
        expanded = distribution.expand((7,) + batch_shape)
        assert expanded.batch_shape == (7,) + batch_shape, name
        assert expanded.sample().shape == (7,) + batch_shape + event_shape, name
        assert expanded.log_prob(sample).shape == (4, 7) + batch_shape, name


def test_number_parameters_give_an_empty_batch_and_the_default_float():
    normal = D.Normal(0.0, 1.0)
    assert normal.batch_shape == () and normal.loc.dtype == tg.float32
    assert normal.sample((3,)).shape == (3,)
    mixed = D.Normal(t([0.0, 1.0], "cpu"), 2.0)
    assert mixed.scale.dtype == tg.float64 and mixed.scale.shape == (2,)


def test_expand_keeps_the_gradient_path(device):
    loc = t([0.0, 1.0], device, True)
    expanded = D.Normal(loc, t(1.0, device)).expand((3, 2))
    expanded.log_prob(t(np.zeros((3, 2)), device)).sum().backward()
    np.testing.assert_allclose(host(loc.grad), [0.0, -3.0])


def test_independent_sums_the_reinterpreted_dims(device):
    base = D.Normal(t(np.zeros((2, 3)), device), t(np.ones((2, 3)), device))
    independent = D.Independent(base, 1)
    x = t(np.arange(6.0).reshape(2, 3) / 6, device)
    np.testing.assert_allclose(host(independent.log_prob(x)), host(base.log_prob(x)).sum(-1))
    np.testing.assert_allclose(host(independent.entropy()), 3 * (0.5 + 0.5 * math.log(2 * math.pi)))
    assert independent.has_rsample and repr(independent).startswith("Independent(Normal(")
    kl = D.kl_divergence(independent, D.Independent(D.Normal(t(np.ones((2, 3)), device),
                                                             t(np.ones((2, 3)), device)), 1))
    np.testing.assert_allclose(host(kl), [1.5, 1.5])


def test_enumerate_support(device):
    assert host(D.Bernoulli(t([0.2, 0.4], device)).enumerate_support()).tolist() == [[0, 0],
                                                                                      [1, 1]]
    categorical = D.Categorical(probs=t([[0.5, 0.5, 0.0]], device))
    assert categorical.enumerate_support(expand=False).shape == (3, 1)
    assert D.OneHotCategorical(t([0.5, 0.5], device)).enumerate_support().shape == (2, 2)


# --- validation ---

def test_parameter_validation_messages(device):
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(2,\)\) "
                       r"of distribution Normal\(loc: \(2,\), scale: \(2,\)\) to satisfy the "
                       r"constraint GreaterThan\(lower_bound=0.0\), but found invalid values"):
        D.Normal(t([0.0, 0.0], device), t([1.0, -1.0], device))
    with pytest.raises(ValueError, match="constraint Interval"):
        D.Bernoulli(probs=t(1.5, device))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified"):
        D.Bernoulli(probs=t(0.5, device), logits=t(0.0, device))
    with pytest.raises(ValueError, match="Uniform is not defined when low>= high"):
        D.Uniform(t(1.0, device), t(1.0, device))
    with pytest.raises(ValueError, match="constraint Simplex"):
        D.Categorical(probs=t([0.5, -0.5, 1.0], device))
    with pytest.raises(ValueError, match="IndependentConstraint"):
        D.Dirichlet(t([1.0, 0.0], device))
    with pytest.raises(ValueError, match="to be positive"):
        D.Geometric(probs=t(0.0, device))
    with pytest.raises(ValueError, match="IntegerGreaterThan"):
        D.Binomial(t(2.5, device), probs=t(0.5, device))
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix"):
        D.MultivariateNormal(t([0.0, 0.0], device))
    with pytest.raises(ValueError, match="PositiveDefinite"):
        D.MultivariateNormal(t([0.0, 0.0], device), t([[1.0, 2.0], [2.0, 1.0]], device))
    with pytest.raises(ValueError, match="LowerCholesky"):
        D.MultivariateNormal(t([0.0, 0.0], device), scale_tril=t([[1.0, 1.0], [0.0, 1.0]],
                                                                   device))
    with pytest.raises(ValueError, match="loc must be at least one-dimensional"):
        D.MultivariateNormal(t(0.0, device), t([[1.0]], device))
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims <= "):
        D.Independent(D.Normal(t([0.0], device), t([1.0], device)), 2)
    # off: no check, as PyTorch's validate_args=False
    assert D.Normal(t(0.0, device), t(-1.0, device), validate_args=False).scale.shape == ()


def test_sample_validation_messages(device):
    exponential = D.Exponential(t(1.0, device))
    with pytest.raises(ValueError, match=r"Expected value argument \(Tensor of shape \(2,\)\) "
                       r"to be within the support \(GreaterThanEq\(lower_bound=0.0\)\) of the "
                       r"distribution Exponential\(rate: "):
        exponential.log_prob(t([1.0, -1.0], device))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        exponential.log_prob(1.0)
    with pytest.raises(ValueError, match="Value is not broadcastable"):
        D.Normal(t([0.0, 1.0], device), t(1.0, device)).log_prob(t([1.0, 2.0, 3.0], device))
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        D.Dirichlet(t([1.0, 1.0, 1.0], device)).log_prob(t([0.5, 0.5], device))
    with pytest.raises(ValueError, match="IntegerInterval"):
        D.Categorical(probs=t([0.5, 0.5], device)).log_prob(t(2.0, device))
    with pytest.raises(ValueError, match="Boolean"):
        D.Bernoulli(t(0.5, device)).log_prob(t(0.5, device))
    with pytest.raises(ValueError, match="Simplex"):
        D.Dirichlet(t([1.0, 1.0], device)).log_prob(t([0.7, 0.7], device))
    quiet = D.Exponential(t(1.0, device), validate_args=False)
    assert host(quiet.log_prob(t(-1.0, device))) == 1.0  # the formula, unchecked
    D.Distribution.set_default_validate_args(False)
    try:
        assert host(D.Exponential(t(1.0, device)).log_prob(t(-1.0, device))) == 1.0
    finally:
        D.Distribution.set_default_validate_args(True)


def test_constraints_check_values(device):
    x = t([-1.0, 0.0, 0.5, 1.0, 2.0], device)
    assert host(constraints.positive.check(x)).tolist() == [False, False, True, True, True]
    assert host(constraints.unit_interval.check(x)).tolist() == [False, True, True, True, False]
    assert host(constraints.nonnegative_integer.check(x)).tolist() == [False, True, False, True,
                                                                       True]
    assert host(constraints.half_open_interval(0.0, 1.0).check(x)).tolist() == [
        False, True, True, False, False]
    assert host(constraints.simplex.check(t([[0.3, 0.7], [0.6, 0.6]], device))).tolist() == [
        True, False]
    assert constraints.is_dependent(constraints.dependent)
    assert not constraints.is_dependent(constraints.real)
    assert repr(constraints.real_vector) == "IndependentConstraint(Real(), 1)"


def test_repr_and_properties(device):
    normal = D.Normal(t(0.0, device), t(2.0, device))
    assert repr(normal).startswith("Normal(loc: ") and "scale: " in repr(normal)
    assert host(normal.stddev) == 2.0
    assert normal.has_rsample and not D.Bernoulli(t(0.5, device)).has_rsample
    assert host(normal.perplexity()) == pytest.approx(math.exp(0.5 + 0.5 * math.log(8 * math.pi)))
    bernoulli = D.Bernoulli(probs=t(0.25, device))
    assert host(bernoulli.logits) == pytest.approx(math.log(1 / 3))
    assert host(D.Bernoulli(logits=t(0.0, device)).probs) == 0.5
    cauchy = D.Cauchy(t(0.0, device), t(1.0, device))
    assert math.isnan(host(cauchy.mean)) and host(cauchy.variance) == math.inf
    assert D.Uniform(t(0.0, device), t(2.0, device)).support.upper_bound is not None
