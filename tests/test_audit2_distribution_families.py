"""tg.distributions families, second audit against PyTorch's semantics: the fixes made
(Gamma.cdf, Gamma.log_prob's value conversion, MultivariateNormal/Wishart matrix-size
checks) and pins of behaviours verified right but untested before (parametrizations,
boundaries, moments where undefined, implicit reparameterization, sampling statistics).
Reference values are written by hand or computed in NumPy; the few taken from SciPy are
literal constants, marked so."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.distributions as D


def t(values, device="cpu", requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), device=device,
                     requires_grad=requires_grad)


def host(x):
    return np.asarray(tg.backend.to_host(x.data))


# --- Gamma.cdf: P(α, λx), the regularized lower incomplete gamma (PyTorch has it) ---

def test_gamma_cdf_is_the_regularized_incomplete_gamma(device):
    # PyTorch: Gamma.cdf(x) = torch.special.gammainc(α, λx); values from scipy.stats.gamma.cdf
    gamma = D.Gamma(t([0.5, 2.0, 3.5], device), t([1.0, 2.0, 0.5], device))
    expected = [0.5614219739190003, 0.8531576121745652, 0.24352526926229198]
    np.testing.assert_allclose(host(gamma.cdf(t([0.3, 1.7, 4.2], device))), expected,
                               rtol=1e-10)


def test_gamma_cdf_closed_form_for_integer_shape_and_its_limits(device):
    # α = 2: P(2, y) = 1 − (1 + y)e^(−y), y = λx; cdf(0) = 0, cdf(∞) = 1
    rate = 1.5
    x = np.array([0.0, 0.4, 2.0, np.inf])
    y = rate * x[:3]
    expected = np.append(1 - (1 + y) * np.exp(-y), 1.0)
    got = host(D.Gamma(t(2.0, device), t(rate, device)).cdf(t(x, device)))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_chi2_and_inverse_gamma_cdf_come_from_gamma_cdf(device):
    # Chi2 inherits Gamma.cdf; InverseGamma's cdf is 1 − Gamma.cdf(1/x) (transformed)
    # values from scipy.stats.chi2.cdf and scipy.stats.invgamma.cdf
    chi2 = D.Chi2(t([1.0, 3.0, 4.0], device))
    np.testing.assert_allclose(host(chi2.cdf(t([0.5, 2.0, 9.0], device))),
                               [0.5204998778130466, 0.42759329552912023, 0.9389005190396673],
                               rtol=1e-10)
    inverse = D.InverseGamma(t([2.5, 3.5], device), t([0.5, 3.0], device))
    np.testing.assert_allclose(host(inverse.cdf(t([1.2, 3.4], device))),
                               [0.9748586976330175, 0.9717093980098224], rtol=1e-10)


def test_gamma_cdf_gradient_in_value_is_the_density():
    value = t([0.3, 1.7], requires_grad=True)
    gamma = D.Gamma(t([0.5, 2.5]), t([1.0, 2.0]))
    (grad,) = tg.autograd.grad(gamma.cdf(value).sum(), value)
    np.testing.assert_allclose(host(grad), np.exp(host(gamma.log_prob(value.detach()))),
                               rtol=1e-10)


def test_gamma_cdf_validates_its_value():
    with pytest.raises(ValueError, match="support"):
        D.Gamma(2.0, 1.0).cdf(tg.tensor([-1.0]))


# --- Gamma.log_prob converts its value first (torch.as_tensor), then validates ---

def test_gamma_log_prob_takes_a_number_with_validation_on():
    # PyTorch: value = torch.as_tensor(value, dtype=rate.dtype) before _validate_sample, so
    # Gamma(2., 1.).log_prob(1.5) works: log p = log 1.5 − 1.5 − log Γ(2)
    log_prob = D.Gamma(2.0, 1.0).log_prob(1.5)
    assert log_prob.dtype == tg.float32
    assert host(log_prob) == pytest.approx(math.log(1.5) - 1.5, rel=1e-6)
    assert host(D.Chi2(3.0).log_prob(2)) == pytest.approx(
        0.5 * math.log(2) - 1 - 1.5 * math.log(2) - math.lgamma(1.5), rel=1e-6)
    with pytest.raises(ValueError, match="support"):
        D.Gamma(2.0, 1.0).log_prob(-1.0)


def test_gamma_log_prob_is_in_the_rate_dtype():
    # torch.as_tensor(value, dtype=rate.dtype): a float64 or int value gives float32 here
    gamma = D.Gamma(tg.tensor([2.0]), 1.0)
    assert gamma.log_prob(t([1.5])).dtype == tg.float32
    got = gamma.log_prob(tg.tensor([1, 2]))
    assert got.dtype == tg.float32
    np.testing.assert_allclose(host(got), [-1.0, math.log(2) - 2], rtol=1e-6)


# --- MultivariateNormal / Wishart: a matrix of the wrong size is a clear error ---

def test_multivariate_normal_rejects_a_matrix_not_matching_loc():
    # (PyTorch fails later, inside a matmul; entropy would silently use the wrong n)
    with pytest.raises(ValueError, match="covariance_matrix must be a batch of 3 x 3"):
        D.MultivariateNormal(tg.zeros(3), tg.eye(2))
    with pytest.raises(ValueError, match="scale_tril matrix must be a batch of 3 x 3"):
        D.MultivariateNormal(tg.zeros(3), scale_tril=tg.eye(2), validate_args=False)
    with pytest.raises(ValueError, match="precision_matrix must be a batch of 2 x 2"):
        D.MultivariateNormal(tg.zeros(2), precision_matrix=tg.ones(2, 3))


def test_wishart_rejects_a_non_square_matrix():
    with pytest.raises(ValueError, match="covariance_matrix must be a batch of square"):
        D.Wishart(3.0, tg.ones(2, 3))


def test_multivariate_normal_broadcasts_loc_batch_against_matrix_batch(rng):
    # loc (4, 1, 2) with precision (3, 2, 2): batch (4, 3); log p per entry as NumPy's
    a = rng.normal(size=(3, 2, 2))
    precision = a @ a.transpose(0, 2, 1) + np.eye(2)
    loc = rng.normal(size=(4, 1, 2))
    x = rng.normal(size=2)
    mvn = D.MultivariateNormal(t(loc), precision_matrix=t(precision))
    assert mvn.batch_shape == (4, 3) and mvn.event_shape == (2,)
    diff = x - loc                                                       # (4, 1, 2)
    mahalanobis = np.einsum("...i,...ij,...j->...", diff, precision, diff)
    _, log_det_precision = np.linalg.slogdet(precision)                   # (3,)
    expected = -0.5 * (2 * math.log(2 * math.pi) + mahalanobis) + 0.5 * log_det_precision
    np.testing.assert_allclose(host(mvn.log_prob(t(x))), expected, rtol=1e-10)


# --- discrete parametrizations, as PyTorch's ---

def test_negative_binomial_counts_successes_before_total_count_failures():
    # P(k) = Γ(k + r)/(k! Γ(r)) p^k (1 − p)^r; mean r·p/(1 − p), variance mean/(1 − p)
    r, p = np.array([2.5, 2.5, 4.0]), np.array([0.3, 0.3, 0.6])
    k = np.array([0.0, 2.0, 5.0])
    expected = np.array([math.lgamma(kk + rr) - math.lgamma(kk + 1) - math.lgamma(rr)
                         for kk, rr in zip(k, r)]) + k * np.log(p) + r * np.log1p(-p)
    for nb in (D.NegativeBinomial(t(r), probs=t(p)),
               D.NegativeBinomial(t(r), logits=t(np.log(p / (1 - p))))):
        np.testing.assert_allclose(host(nb.log_prob(t(k))), expected, rtol=1e-10)
        np.testing.assert_allclose(host(nb.mean), r * p / (1 - p), rtol=1e-10)
        np.testing.assert_allclose(host(nb.variance), r * p / (1 - p) ** 2, rtol=1e-10)
    # (scipy.stats.nbinom.logpmf(k, r, 1 − p), the same law counted from the other side)
    np.testing.assert_allclose(expected, [-0.8916873598468311, -1.8237264486891251,
                                          -2.1939393555914237], rtol=1e-12)


def test_geometric_counts_failures_from_zero():
    # P(k) = (1 − p)^k p for k = 0, 1, ...; mean (1 − p)/p; entropy −(q log q + p log p)/p
    p = np.array([0.2, 0.7])
    geometric = D.Geometric(t(p))
    np.testing.assert_allclose(host(geometric.log_prob(t([0.0, 3.0]))),
                               [math.log(0.2), 3 * math.log(0.3) + math.log(0.7)], rtol=1e-12)
    np.testing.assert_allclose(host(geometric.mean), (1 - p) / p, rtol=1e-12)
    np.testing.assert_allclose(host(geometric.entropy()),
                               -((1 - p) * np.log1p(-p) + p * np.log(p)) / p, rtol=1e-10)
    samples = host(D.Geometric(t(0.5)).sample((2000,)))
    assert samples.min() == 0.0 and np.all(samples == np.floor(samples))


def test_poisson_log_prob_of_non_integers_without_validation():
    # PyTorch: k·log λ − λ − lgamma(k + 1) for any k (no rounding) when not validated
    got = host(D.Poisson(t(2.0), validate_args=False).log_prob(t([1.5, 0.5])))
    expected = [1.5 * math.log(2) - 2 - math.lgamma(2.5), 0.5 * math.log(2) - 2 - math.lgamma(1.5)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="support"):
        D.Poisson(t(2.0)).log_prob(t([1.5]))


def test_binomial_total_count_as_an_integer_tensor():
    # an int64 total_count becomes p's dtype; log p = log C(n, k) + k log p + (n − k) log q
    binomial = D.Binomial(tg.tensor([3, 5]), t([0.3, 0.4]))
    assert binomial.total_count.dtype == tg.float64
    expected = [math.log(3) + math.log(0.3) + 2 * math.log(0.7),
                math.log(10) + 2 * math.log(0.4) + 3 * math.log(0.6)]
    np.testing.assert_allclose(host(binomial.log_prob(t([1.0, 2.0]))), expected, rtol=1e-10)
    np.testing.assert_allclose(host(binomial.mean), [0.9, 2.0], rtol=1e-12)


def test_multinomial_log_prob_has_the_multinomial_coefficient():
    # log(4!/(1!0!3!)) + log 0.2 + 3 log 0.5 = log(4·0.2·0.125) = log 0.1
    # (scipy.stats.multinomial.logpmf: -2.3025850929940455)
    multinomial = D.Multinomial(4, t([0.2, 0.3, 0.5]))
    assert host(multinomial.log_prob(t([1.0, 0.0, 3.0]))) == pytest.approx(math.log(0.1),
                                                                          rel=1e-12)
    # the count of a zero-probability category may be 0 (0·log 0 = 0)
    zero = D.Multinomial(3, t([0.0, 0.5, 0.5]))
    assert host(zero.log_prob(t([0.0, 1.0, 2.0]))) == pytest.approx(math.log(3 * 0.125))


# --- boundaries and undefined moments ---

def test_uniform_log_prob_low_inclusive_high_exclusive():
    # PyTorch: log(low <= x) + log(high > x) − log(high − low); x = high passes validation
    # (interval is closed) and gives −inf
    uniform = D.Uniform(t(0.0), t(2.0))
    got = host(uniform.log_prob(t([0.0, 1.0, 2.0])))
    np.testing.assert_allclose(got, [-math.log(2), -math.log(2), -np.inf])
    loose = D.Uniform(t(0.0), t(2.0), validate_args=False)
    assert np.all(host(loose.log_prob(t([-0.1, 2.5]))) == -np.inf)
    np.testing.assert_allclose(host(loose.cdf(t([-1.0, 3.0]))), [0.0, 1.0])


def test_moments_where_pytorch_gives_nan_or_inf():
    # StudentT: mean NaN for ν ≤ 1; variance NaN (ν ≤ 1), ∞ (1 < ν ≤ 2), σ²ν/(ν − 2)
    student = D.StudentT(t([0.5, 1.5, 4.0]), t(1.0), t(2.0))
    np.testing.assert_array_equal(host(student.mean), [np.nan, 1.0, 1.0])
    np.testing.assert_array_equal(host(student.variance), [np.nan, np.inf, 8.0])
    # Cauchy: mean NaN, variance ∞
    cauchy = D.Cauchy(t([0.0, 1.0]), t(1.0))
    np.testing.assert_array_equal(host(cauchy.mean), [np.nan, np.nan])
    np.testing.assert_array_equal(host(cauchy.variance), [np.inf, np.inf])
    # FisherSnedecor: mean NaN for d₂ ≤ 2, variance NaN for d₂ ≤ 4, mode NaN for d₁ ≤ 2
    fisher = D.FisherSnedecor(t([1.0, 5.0, 8.0]), t([2.0, 3.0, 10.0]))
    np.testing.assert_allclose(host(fisher.mean), [np.nan, 3.0, 1.25])
    np.testing.assert_allclose(host(fisher.variance),
                               [np.nan, np.nan, 2 * 100 * 16 / (8 * 64 * 6)])
    np.testing.assert_allclose(host(fisher.mode), [np.nan, 0.6 * 3 / 5, 0.75 * 10 / 12])


def test_fisher_snedecor_log_prob():
    # log p = (d₁/2)log(d₁/d₂) + (d₁/2 − 1)log x − ((d₁+d₂)/2)log(1 + d₁x/d₂) − log B(d₁/2, d₂/2)
    d1, d2, x = np.array([3.0, 7.0]), np.array([5.0, 9.0]), np.array([0.5, 2.0])
    log_beta = np.array([math.lgamma(a / 2) + math.lgamma(b / 2) - math.lgamma((a + b) / 2)
                         for a, b in zip(d1, d2)])
    expected = (d1 / 2 * np.log(d1 / d2) + (d1 / 2 - 1) * np.log(x)
                - (d1 + d2) / 2 * np.log1p(d1 * x / d2) - log_beta)
    got = host(D.FisherSnedecor(t(d1), t(d2)).log_prob(t(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # (scipy.stats.f.logpdf)
    np.testing.assert_allclose(got, [-0.5344102474085419, -1.7824384684508523], rtol=1e-12)


def test_lkj_cholesky_two_by_two_is_a_scaled_beta_in_the_correlation():
    # d = 2: L = [[1, 0], [r, √(1 − r²)]], and (r + 1)/2 ~ Beta(η, η), so
    # log p(r) = (η − 1)·log(1 − r²) − (2η − 1)·log 2 − log B(η, η)
    r = np.array([-0.3, 0.1, 0.8])
    lower = np.zeros((3, 2, 2))
    lower[:, 0, 0], lower[:, 1, 0], lower[:, 1, 1] = 1.0, r, np.sqrt(1 - r ** 2)
    for eta in (0.5, 1.0, 2.5):
        log_beta = 2 * math.lgamma(eta) - math.lgamma(2 * eta)
        expected = (eta - 1) * np.log(1 - r ** 2) - (2 * eta - 1) * math.log(2) - log_beta
        got = host(D.LKJCholesky(2, t(eta)).log_prob(t(lower)))
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


# --- implicit reparameterization of Gamma, Beta, Dirichlet ---

def test_gamma_rsample_gradient_is_the_implicit_cdf_derivative():
    # x ~ Gamma(α, 1) held where P(α, x) is fixed: dx/dα = −(∂P/∂α)(α, x) / p(x; α),
    # ∂P/∂α by central differences of gammainc, p from log_prob
    for alpha_value in (0.05, 0.7, 3.0, 40.0):
        alpha = t([alpha_value] * 5, requires_grad=True)
        x = D.Gamma(alpha, t(1.0)).rsample()
        (grad,) = tg.autograd.grad(x.sum(), alpha)
        h = 1e-6 * alpha_value
        xs = x.detach()
        dp_dalpha = (host(tg.special.gammainc(t(alpha_value + h), xs))
                     - host(tg.special.gammainc(t(alpha_value - h), xs))) / (2 * h)
        density = np.exp(host(D.Gamma(t(alpha_value), t(1.0)).log_prob(xs)))
        np.testing.assert_allclose(host(grad), -dp_dalpha / density, rtol=1e-5)


def _within_standard_errors(per_draw, expected, k=5.0):
    """The mean of per-draw derivatives (rows) within k standard errors of ``expected``."""
    mean = per_draw.mean(0)
    standard_error = per_draw.std(0) / math.sqrt(per_draw.shape[0])
    assert np.all(np.abs(mean - expected) < k * standard_error), (mean, expected)


def test_reparameterized_mean_derivatives_by_monte_carlo():
    # one parameter entry per draw, so the gradient holds each draw's dx/dθ; their mean
    # estimates dE[x]/dθ. Gamma: dE/dα = 1/λ, dE/dλ = −α/λ²; Beta: dE/da = b/(a + b)²,
    # dE/db = −a/(a + b)²
    n = 20_000
    alpha_value, rate_value = np.array([0.4, 3.0]), np.array([2.0, 0.5])
    alpha = t(np.tile(alpha_value, (n, 1)), requires_grad=True)
    rate = t(np.tile(rate_value, (n, 1)), requires_grad=True)
    d_alpha, d_rate = tg.autograd.grad(D.Gamma(alpha, rate).rsample().sum(), [alpha, rate])
    _within_standard_errors(host(d_alpha), 1 / rate_value)
    _within_standard_errors(host(d_rate), -alpha_value / rate_value ** 2)
    a = t(np.tile(alpha_value, (n, 1)), requires_grad=True)
    b = t(np.tile(rate_value, (n, 1)), requires_grad=True)
    d_a, d_b = tg.autograd.grad(D.Beta(a, b).rsample().sum(), [a, b])
    total = alpha_value + rate_value
    _within_standard_errors(host(d_a), rate_value / total ** 2)
    _within_standard_errors(host(d_b), -alpha_value / total ** 2)


def test_dirichlet_rsample_mean_jacobian_by_monte_carlo():
    # E[x] = α/α₀, so d(w·E[x])/dαⱼ = (wⱼα₀ − w·α)/α₀² (one concentration row per draw)
    n = 20_000
    c, w = np.array([0.5, 2.0, 1.0]), np.array([1.0, 2.0, 3.0])
    concentration = t(np.tile(c, (n, 1)), requires_grad=True)
    x = D.Dirichlet(concentration).rsample()
    (per_draw,) = tg.autograd.grad((x * t(w)).sum(), concentration)
    _within_standard_errors(host(per_draw), (w * c.sum() - w @ c) / c.sum() ** 2)


# --- sampling statistics: 20,000 draws, mean and variance within 5 standard errors ---

SAMPLED = [
    ("gamma", lambda: D.Gamma(t([0.3, 4.0]), t([2.0, 0.5]))),
    ("beta", lambda: D.Beta(t([0.3, 4.0]), t([2.0, 0.5]))),
    ("student_t", lambda: D.StudentT(t([5.0, 9.0]), t([1.0, 2.0]), t([0.5, 2.0]))),
    ("fisher", lambda: D.FisherSnedecor(t([5.0, 9.0]), t([11.0, 12.0]))),
    ("chi2", lambda: D.Chi2(t([0.7, 5.0]))),
    ("laplace", lambda: D.Laplace(t([1.0, -2.0]), t([0.5, 3.0]))),
    ("gumbel", lambda: D.Gumbel(t([1.0, -2.0]), t([0.5, 3.0]))),
    ("geometric", lambda: D.Geometric(t([0.3, 0.8]))),
    ("negative_binomial", lambda: D.NegativeBinomial(t([2.5, 7.0]), t([0.3, 0.6]))),
    ("binomial", lambda: D.Binomial(t([5.0, 12.0]), t([0.3, 0.6]))),
    ("poisson", lambda: D.Poisson(t([0.3, 7.0]))),
    ("dirichlet", lambda: D.Dirichlet(t([[0.3, 2.0, 1.0], [4.0, 0.5, 1.0]]))),
    ("multinomial", lambda: D.Multinomial(5, t([0.3, 0.5, 0.2]))),
    ("low_rank_mvn", lambda: D.LowRankMultivariateNormal(t([1.0, 2.0]), t([[1.0], [0.5]]),
                                                         t([1.0, 0.5]))),
    ("wishart", lambda: D.Wishart(t(4.0), t([[2.0, 0.5], [0.5, 1.0]]))),
]


@pytest.mark.parametrize("name,make", SAMPLED, ids=[name for name, _ in SAMPLED])
def test_sample_mean_and_variance_match_the_moments(name, make):
    n = 20_000
    distribution = make()
    samples = host(distribution.sample((n,)))
    assert samples.shape == (n,) + distribution.batch_shape + distribution.event_shape
    mean, variance = host(distribution.mean), host(distribution.variance)
    z_mean = (samples.mean(0) - mean) / np.sqrt(variance / n)
    centred = samples - samples.mean(0)
    fourth = (centred ** 4).mean(0)
    sample_variance = samples.var(0)
    z_variance = (sample_variance - variance) / np.sqrt((fourth - sample_variance ** 2) / n)
    assert np.abs(z_mean).max() < 5, z_mean
    assert np.abs(z_variance).max() < 5, z_variance


# --- lazy properties are computed with gradients on (PyTorch's lazy_property) ---

def test_negative_binomial_log_prob_keeps_its_gradient_after_sample():
    # sample() first reads the lazy logits under no_grad; PyTorch's lazy_property computes
    # them under enable_grad, so a later log_prob still reaches probs:
    # d/dp [r·log(1 − p) + k·log p] = −r/(1 − p) + k/p
    probs = t([0.2, 0.6], requires_grad=True)
    negative_binomial = D.NegativeBinomial(t(3.0), probs=probs)
    negative_binomial.sample((2,))
    k = np.array([1.0, 4.0])
    log_prob = negative_binomial.log_prob(t(k))
    assert log_prob.requires_grad
    (grad,) = tg.autograd.grad(log_prob.sum(), probs)
    p = np.array([0.2, 0.6])
    np.testing.assert_allclose(host(grad), -3.0 / (1 - p) + k / p, rtol=1e-6)


def test_bernoulli_entropy_gradient_after_reading_the_mean_under_no_grad():
    # H(l) = softplus(l) − l·σ(l), dH/dl = −l·σ(l)(1 − σ(l)); the lazy probs first made
    # under no_grad must still carry the gradient
    logits = t([0.2, -1.3], requires_grad=True)
    bernoulli = D.Bernoulli(logits=logits)
    with tg.no_grad():
        bernoulli.mean
    (grad,) = tg.autograd.grad(bernoulli.entropy().sum(), logits)
    l = np.array([0.2, -1.3])
    sigma = 1 / (1 + np.exp(-l))
    np.testing.assert_allclose(host(grad), -l * sigma * (1 - sigma), rtol=1e-10)


# --- relaxed, continuous Bernoulli and von Mises families: verified values, pinned ---

def test_continuous_bernoulli_log_prob_across_one_half():
    # log p = x·log λ + (1 − x)·log(1 − λ) + log C(λ), C = 2·atanh(1 − 2λ)/(1 − 2λ) (2 at ½);
    # PyTorch uses a Taylor expansion of log C inside (0.499, 0.501). Values from mpmath.
    probs = t([0.4995, 0.5, 0.5004, 0.1])
    got = host(D.ContinuousBernoulli(probs).log_prob(t([0.2, 0.9, 0.6, 0.3])))
    expected = [0.00059983353322789821, 0.0, 0.00015989336742342656, 0.24581067063216199]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


def test_relaxed_one_hot_categorical_log_prob():
    # ExpRelaxedCategorical: log Γ(K) + (K − 1)·log τ + Σₖ (lₖ − τ·vₖ − logsumexp(l − τ·v));
    # RelaxedOneHotCategorical(y) = that at v = log y, minus Σ log y (the exp transform)
    tau, p, y = 0.7, np.array([0.2, 0.3, 0.5]), np.array([0.1, 0.6, 0.3])
    score = np.log(p) - tau * np.log(y)
    m = score.max()
    log_sum_exp = m + math.log(np.exp(score - m).sum())
    exp_relaxed = math.lgamma(3) + 2 * math.log(tau) + (score - log_sum_exp).sum()
    got = host(D.RelaxedOneHotCategorical(t(tau), probs=t(p)).log_prob(t(y)))
    assert got == pytest.approx(exp_relaxed - np.log(y).sum(), rel=1e-12)


def test_relaxed_bernoulli_log_prob():
    # LogitRelaxedBernoulli(x): log τ + d − 2·softplus(d), d = l − τ·x; RelaxedBernoulli(y) is
    # it at x = logit(y) minus log(y(1 − y))
    tau, p, y = 0.7, np.array([0.2, 0.6]), np.array([0.3, 0.95])
    d = np.log(p / (1 - p)) - tau * np.log(y / (1 - y))
    logit_relaxed = math.log(tau) + d - 2 * np.logaddexp(0, d)
    got = host(D.RelaxedBernoulli(t(tau), probs=t(p)).log_prob(t(y)))
    np.testing.assert_allclose(got, logit_relaxed - np.log(y * (1 - y)), rtol=1e-12)


def test_von_mises_log_prob_and_samples_in_minus_pi_to_pi():
    # log p = κ·cos(x − μ) − log(2π·I₀(κ)); samples lie in [−π, π)
    loc, kappa, x = np.array([0.5, 3.0]), np.array([0.5, 4.0]), np.array([1.0, -3.0])
    von_mises = D.VonMises(t(loc), t(kappa))
    expected = kappa * np.cos(x - loc) - np.log(2 * np.pi * np.i0(kappa))
    np.testing.assert_allclose(host(von_mises.log_prob(t(x))), expected, rtol=1e-12)
    samples = host(von_mises.sample((5000,)))
    assert samples.min() >= -np.pi and samples.max() < np.pi
    # the circular mean of the draws is μ (κ = 4: within 0.05 rad at 5000 draws)
    circular_mean = np.angle(np.exp(1j * samples).mean(0))
    assert abs(circular_mean[1] - 3.0) < 0.05
