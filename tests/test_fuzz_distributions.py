"""Property-based fuzzing of tg.distributions against PyTorch's documented semantics.

Random parameters (float64, batch shapes that broadcast, a share of each range's extreme
ends, Python numbers mixed with tensors) for every univariate family, checked against
references written here with ``math`` / NumPy (lgamma, a digamma series, Bessel series,
Gauss-Legendre quadrature): log_prob at valid values including the support's edges,
mean / variance / stddev / mode / entropy, cdf and the icdf round trip; sample shapes,
support membership and sample means; reparameterized gradients against finite differences
of the same Monte Carlo estimate under common random numbers; log_prob gradients against
central differences (gradcheck, float64); validation errors; expand(); the multivariate
families; kl_divergence against closed forms and Monte Carlo.

Examples per property: FUZZ_DISTRIBUTIONS_EXAMPLES (default 3), e.g.
FUZZ_DISTRIBUTIONS_EXAMPLES=300 HYPOTHESIS_PROFILE=explore for a bug hunt.
"""

import contextlib
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.distributions as D

EXAMPLES = int(os.environ.get("FUZZ_DISTRIBUTIONS_EXAMPLES", "3"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=os.environ.get("HYPOTHESIS_PROFILE", "fixed") != "explore",
                suppress_health_check=list(HealthCheck))
EULER = 0.5772156649015329
LOG_2PI = math.log(2 * math.pi)


# --- references (plain Python / NumPy) ---

def digamma(x):
    """ψ(x): the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 8, then the asymptotic series."""
    result = 0.0
    while x < 8:
        result -= 1 / x
        x += 1
    f = 1 / (x * x)
    return (result + math.log(x) - 0.5 / x
            - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132)))))


def log_beta(a, b):
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def bessel_i(order, x):
    """I₀ or I₁ by the power series Σ (x/2)^(2k+order) / (k!(k+order)!)."""
    term = (x / 2) ** order / math.factorial(order)
    total, k = term, 0
    while term > 1e-17 * total:
        k += 1
        term *= (x / 2) ** 2 / (k * (k + order))
        total += term
    return total


def xlogy(x, y):
    return 0.0 if x == 0 else (x * math.log(y) if y > 0 else -math.inf * np.sign(x))


def phi(z):
    return 0.5 * math.erfc(-z / math.sqrt(2))


NODES, WEIGHTS = np.polynomial.legendre.leggauss(80)


def integrate01(f):
    """∫₀¹ f by 80-point Gauss-Legendre (exact to rounding for the smooth densities here)."""
    x = (NODES + 1) / 2
    return float(np.sum(WEIGHTS / 2 * np.array([f(v) for v in x])))


def softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def cb_log_norm(lam):
    """log C(λ), C = 2·atanh(1 − 2λ)/(1 − 2λ) (2 at λ = ½)."""
    t = 1 - 2 * lam
    return math.log(2.0) if t == 0 else math.log(2 * math.atanh(t) / t)


def cb_moment(lam, g):
    """∫₀¹ g(x)·p(x) dx for ContinuousBernoulli(λ)."""
    c = cb_log_norm(lam)
    return integrate01(lambda x: g(x) * math.exp(x * math.log(lam) + (1 - x) * math.log1p(-lam)
                                                  + c))


def student_variance(nu, m, s):
    return s * s * nu / (nu - 2) if nu > 2 else (math.inf if nu > 1 else math.nan)


def gamma_log_prob(x, a, r):
    return xlogy(a, r) + xlogy(a - 1, x) - r * x - math.lgamma(a)


def gamma_entropy(a, r):
    return a - math.log(r) + math.lgamma(a) + (1 - a) * digamma(a)


def beta_mode(a, b):
    """PyTorch's Beta.mode: Dirichlet([a, b]).mode[0] (our documented rule for a, b < 1)."""
    if a < 1 and b < 1:
        return 1.0 if a >= b else 0.0
    am, bm = max(a - 1, 0.0), max(b - 1, 0.0)
    return am / (am + bm) if am + bm > 0 else math.nan


def weibull_mode(lam, k):
    """PyTorch's λ((k − 1)/k)^(1/k), also for k < 1: NaN, or real where 1/k is an integer."""
    return lam * float(np.power((k - 1) / k, 1 / k))


def kumaraswamy_mode(a, b):
    return ((a - 1) / (a * b - 1)) ** (1 / a) if a >= 1 and b >= 1 and a * b > 1 else math.nan


def kumaraswamy_moment(a, b, n):
    return b * math.exp(log_beta(1 + n / a, b))


def nb_log_prob(k, r, p):
    if r + k == 0:
        return 0.0
    return (math.lgamma(k + r) - math.lgamma(k + 1) - math.lgamma(r) + xlogy(k, p)
            + r * math.log1p(-p))


def geometric_entropy(p):
    return 0.0 if p == 1 else (-(1 - p) * math.log1p(-p) - p * math.log(p)) / p


def binomial_log_prob(k, n, logit):
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * logit
            - n * softplus(logit))


def sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


# --- the families ---

class Family:
    """A family: ``make(*tensors)``; ``params`` [(low, high, 'lin' | 'log' | 'int')];
    ``value(u, *params)`` a point of the support for u in [0, 1] (u = 0 and 1 the edges,
    where ``edges``); references as functions of the (Python float) parameters."""

    def __init__(self, make, params, value, log_prob, mean=None, variance=None, mode=None,
                 entropy=None, cdf=None, icdf=True, edges=True, discrete=False):
        self.make, self.params, self.value, self.log_prob = make, params, value, log_prob
        self.mean, self.variance, self.mode, self.entropy = mean, variance, mode, entropy
        self.cdf, self.icdf, self.edges, self.discrete = cdf, icdf, edges, discrete


def _open(u):
    return min(max(u, 1e-9), 1 - 1e-9)


FAMILIES = {
    "Normal": Family(
        D.Normal, [(-1e3, 1e3, "lin"), (1e-3, 1e3, "log")],
        lambda u, m, s: m + s * 6 * (2 * u - 1),
        lambda x, m, s: -((x - m) / s) ** 2 / 2 - math.log(s) - LOG_2PI / 2,
        lambda m, s: m, lambda m, s: s * s, lambda m, s: m,
        lambda m, s: 0.5 + LOG_2PI / 2 + math.log(s), lambda x, m, s: phi((x - m) / s)),
    "LogNormal": Family(
        D.LogNormal, [(-3, 3, "lin"), (1e-2, 2, "log")],
        lambda u, m, s: math.exp(m + s * 5 * (2 * _open(u) - 1)),
        lambda x, m, s: (-((math.log(x) - m) / s) ** 2 / 2 - math.log(s) - LOG_2PI / 2
                         - math.log(x)),
        lambda m, s: math.exp(m + s * s / 2),
        lambda m, s: math.expm1(s * s) * math.exp(2 * m + s * s),
        lambda m, s: math.exp(m - s * s),
        lambda m, s: m + 0.5 + LOG_2PI / 2 + math.log(s),
        lambda x, m, s: phi((math.log(x) - m) / s), edges=False),
    "Uniform": Family(
        lambda lo, w, **kw: D.Uniform(lo, lo + w, **kw), [(-10, 10, "lin"), (1e-3, 1e2, "log")],
        lambda u, lo, w: lo + u * w,
        lambda x, lo, w: -math.log((lo + w) - lo) if lo <= x < lo + w else -math.inf,
        lambda lo, w: lo + ((lo + w) - lo) / 2, lambda lo, w: ((lo + w) - lo) ** 2 / 12,
        lambda lo, w: math.nan, lambda lo, w: math.log((lo + w) - lo),
        lambda x, lo, w: (x - lo) / ((lo + w) - lo)),
    "Exponential": Family(
        D.Exponential, [(1e-3, 1e3, "log")],
        lambda u, r: -math.log1p(-min(u, 1 - 1e-12)) / r,
        lambda x, r: math.log(r) - r * x, lambda r: 1 / r, lambda r: 1 / r ** 2,
        lambda r: 0.0, lambda r: 1 - math.log(r), lambda x, r: -math.expm1(-r * x)),
    "Laplace": Family(
        D.Laplace, [(-1e2, 1e2, "lin"), (1e-3, 1e2, "log")],
        lambda u, m, b: m + b * 8 * (2 * u - 1),
        lambda x, m, b: -math.log(2 * b) - abs(x - m) / b, lambda m, b: m,
        lambda m, b: 2 * b * b, lambda m, b: m, lambda m, b: 1 + math.log(2 * b),
        lambda x, m, b: (0.5 * math.exp((x - m) / b) if x < m
                         else 1 - 0.5 * math.exp(-(x - m) / b))),
    "Cauchy": Family(
        D.Cauchy, [(-1e2, 1e2, "lin"), (1e-3, 1e2, "log")],
        lambda u, m, g: m + g * math.tan(math.pi * (_open(u) - 0.5) * 0.98),
        lambda x, m, g: -math.log(math.pi * g) - math.log1p(((x - m) / g) ** 2),
        lambda m, g: math.nan, lambda m, g: math.inf, lambda m, g: m,
        lambda m, g: math.log(4 * math.pi * g),
        lambda x, m, g: 0.5 + math.atan((x - m) / g) / math.pi),
    "Gumbel": Family(
        D.Gumbel, [(-1e2, 1e2, "lin"), (1e-2, 1e2, "log")],
        lambda u, m, b: m + b * (7 * u - 2),
        lambda x, m, b: -((x - m) / b + math.exp(-(x - m) / b)) - math.log(b),
        lambda m, b: m + b * EULER, lambda m, b: (math.pi * b) ** 2 / 6, lambda m, b: m,
        lambda m, b: math.log(b) + 1 + EULER, lambda x, m, b: math.exp(-math.exp(-(x - m) / b))),
    "HalfNormal": Family(
        D.HalfNormal, [(1e-3, 1e3, "log")], lambda u, s: s * 5 * u,
        lambda x, s: math.log(2) - (x / s) ** 2 / 2 - math.log(s) - LOG_2PI / 2,
        lambda s: s * math.sqrt(2 / math.pi), lambda s: s * s * (1 - 2 / math.pi),
        lambda s: 0.0, lambda s: 0.5 * math.log(math.pi * s * s / 2) + 0.5,
        lambda x, s: math.erf(x / (s * math.sqrt(2)))),
    "HalfCauchy": Family(
        D.HalfCauchy, [(1e-3, 1e3, "log")], lambda u, g: g * math.tan(math.pi / 2 * u * 0.98),
        lambda x, g: math.log(2 / (math.pi * g)) - math.log1p((x / g) ** 2),
        lambda g: math.inf, lambda g: math.inf, lambda g: 0.0,
        lambda g: math.log(2 * math.pi * g), lambda x, g: 2 / math.pi * math.atan(x / g)),
    "StudentT": Family(
        D.StudentT, [(0.05, 1e3, "log"), (-10, 10, "lin"), (1e-2, 1e2, "log")],
        lambda u, nu, m, s: m + s * 10 * (2 * u - 1),
        lambda x, nu, m, s: (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)
                             - 0.5 * math.log(nu * math.pi) - math.log(s)
                             - (nu + 1) / 2 * math.log1p(((x - m) / s) ** 2 / nu)),
        lambda nu, m, s: m if nu > 1 else math.nan, student_variance, lambda nu, m, s: m,
        lambda nu, m, s: ((nu + 1) / 2 * (digamma((nu + 1) / 2) - digamma(nu / 2))
                          + 0.5 * math.log(nu) + log_beta(nu / 2, 0.5) + math.log(s))),
    "Gamma": Family(
        D.Gamma, [(1e-2, 1e2, "log"), (1e-2, 1e2, "log")],
        lambda u, a, r: a / r * math.exp(4 * (2 * u - 1)) if u > 0 else 0.0,
        gamma_log_prob, lambda a, r: a / r, lambda a, r: a / r ** 2,
        lambda a, r: max((a - 1) / r, 0.0), gamma_entropy),
    "Chi2": Family(
        D.Chi2, [(1e-2, 1e2, "log")], lambda u, k: k * math.exp(4 * (2 * u - 1)) if u > 0 else 0.0,
        lambda x, k: gamma_log_prob(x, k / 2, 0.5), lambda k: k, lambda k: 2 * k,
        lambda k: max(k - 2, 0.0), lambda k: gamma_entropy(k / 2, 0.5)),
    "Beta": Family(
        D.Beta, [(1e-2, 1e2, "log"), (1e-2, 1e2, "log")], lambda u, a, b: u,
        lambda x, a, b: xlogy(a - 1, x) + xlogy(b - 1, 1 - x) - log_beta(a, b),
        lambda a, b: a / (a + b), lambda a, b: a * b / ((a + b) ** 2 * (a + b + 1)), beta_mode,
        lambda a, b: (log_beta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                      + (a + b - 2) * digamma(a + b))),
    "Kumaraswamy": Family(
        D.Kumaraswamy, [(0.1, 10, "log"), (0.1, 10, "log")], lambda u, a, b: _open(u),
        lambda x, a, b: (math.log(a * b) + (a - 1) * math.log(x)
                         + (b - 1) * math.log1p(-x ** a)),
        lambda a, b: kumaraswamy_moment(a, b, 1),
        lambda a, b: kumaraswamy_moment(a, b, 2) - kumaraswamy_moment(a, b, 1) ** 2,
        kumaraswamy_mode,
        lambda a, b: ((1 - 1 / b) + (1 - 1 / a) * (digamma(b + 1) + EULER) - math.log(a * b)),
        lambda x, a, b: -math.expm1(b * math.log1p(-x ** a)), edges=False,
        icdf=False),          # the transform chain's icdf rounds 1 − u^(1/b) for b ≪ 1
    "Weibull": Family(
        D.Weibull, [(1e-2, 1e2, "log"), (0.2, 10, "log")],
        lambda u, lam, k: lam * (-math.log1p(-_open(u))) ** (1 / k),
        lambda x, lam, k: math.log(k / lam) + (k - 1) * math.log(x / lam) - (x / lam) ** k,
        lambda lam, k: lam * math.gamma(1 + 1 / k),
        lambda lam, k: lam * lam * (math.gamma(1 + 2 / k) - math.gamma(1 + 1 / k) ** 2),
        weibull_mode, lambda lam, k: EULER * (1 - 1 / k) + math.log(lam / k) + 1,
        lambda x, lam, k: -math.expm1(-(x / lam) ** k), edges=False),
    "Pareto": Family(
        D.Pareto, [(1e-2, 1e2, "log"), (0.2, 20, "log")],
        lambda u, s, a: s * math.exp(-math.log1p(-min(u, 1 - 1e-9)) / a),
        lambda x, s, a: math.log(a) + a * math.log(s) - (a + 1) * math.log(x),
        lambda s, a: a * s / (a - 1) if a > 1 else math.inf,
        lambda s, a: s * s * a / ((a - 1) ** 2 * (a - 2)) if a > 2 else math.inf,
        lambda s, a: s, lambda s, a: math.log(s / a) + 1 + 1 / a,
        lambda x, s, a: -math.expm1(a * math.log(s / x))),
    "VonMises": Family(
        D.VonMises, [(-5, 5, "lin"), (1e-3, 50, "log")], lambda u, m, k: m + 10 * (2 * u - 1),
        lambda x, m, k: k * math.cos(x - m) - LOG_2PI - math.log(bessel_i(0, k)),
        lambda m, k: m, lambda m, k: 1 - bessel_i(1, k) / bessel_i(0, k), lambda m, k: m),
    "ContinuousBernoulli": Family(
        lambda p, **kw: D.ContinuousBernoulli(probs=p, **kw), [(1e-3, 1 - 1e-3, "lin")],
        lambda u, p: u,
        lambda x, p: x * math.log(p) + (1 - x) * math.log1p(-p) + cb_log_norm(p),
        lambda p: cb_moment(p, lambda x: x),
        lambda p: cb_moment(p, lambda x: x * x) - cb_moment(p, lambda x: x) ** 2, None,
        lambda p: -cb_moment(p, lambda x: x * math.log(p) + (1 - x) * math.log1p(-p))
        - cb_log_norm(p),
        lambda x, p: (x if 0.499 < p < 0.501 else  # PyTorch: the uniform cdf near ½
                      (p ** x * (1 - p) ** (1 - x) + p - 1) / (2 * p - 1))),
    "RelaxedBernoulli": Family(
        lambda t, logit, **kw: D.RelaxedBernoulli(t, logits=logit, **kw),
        [(0.05, 5, "scalar log"), (-5, 5, "lin")], lambda u, t, logit: _open(u),
        lambda x, t, logit: (math.log(t) + (logit - t * math.log(x / (1 - x)))
                             - 2 * softplus(logit - t * math.log(x / (1 - x)))
                             - math.log(x * (1 - x))), edges=False),
    "Bernoulli": Family(
        lambda p, **kw: D.Bernoulli(probs=p, **kw), [(1e-6, 1 - 1e-6, "lin")],
        lambda u, p: float(u > 0.5),
        lambda x, p: math.log(p) if x == 1 else math.log1p(-p), lambda p: p,
        lambda p: p * (1 - p), lambda p: math.nan if p == 0.5 else float(p > 0.5),
        lambda p: -p * math.log(p) - (1 - p) * math.log1p(-p), discrete=True),
    "Bernoulli_logits": Family(
        lambda logit, **kw: D.Bernoulli(logits=logit, **kw), [(-50, 50, "lin")],
        lambda u, logit: float(u > 0.5),
        lambda x, logit: x * logit - softplus(logit), sigmoid,
        lambda logit: sigmoid(logit) * (1 - sigmoid(logit)), None,
        lambda logit: softplus(logit) - logit * sigmoid(logit), discrete=True),
    "Binomial": Family(
        lambda n, p, **kw: D.Binomial(n, probs=p, **kw), [(0, 40, "int"), (1e-4, 1 - 1e-4, "lin")],
        lambda u, n, p: math.floor(u * n),
        lambda k, n, p: binomial_log_prob(k, n, math.log(p) - math.log1p(-p)),
        lambda n, p: n * p, lambda n, p: n * p * (1 - p),
        lambda n, p: min(math.floor((n + 1) * p), n), discrete=True),
    "Binomial_logits": Family(
        lambda n, logit, **kw: D.Binomial(n, logits=logit, **kw),
        [(0, 40, "int"), (-30, 30, "lin")], lambda u, n, logit: math.floor(u * n),
        binomial_log_prob, lambda n, logit: n * sigmoid(logit),
        lambda n, logit: n * sigmoid(logit) * (1 - sigmoid(logit)), discrete=True),
    "Poisson": Family(
        D.Poisson, [(1e-3, 1e3, "log")],
        lambda u, r: max(0, math.floor(r + 4 * math.sqrt(r) * (2 * u - 1))),
        lambda k, r: xlogy(k, r) - r - math.lgamma(k + 1), lambda r: r, lambda r: r,
        lambda r: math.floor(r), discrete=True),
    "Geometric": Family(
        lambda p, **kw: D.Geometric(probs=p, **kw), [(1e-4, 1, "log")],
        lambda u, p: math.floor(u * 30) if p < 1 else 0,
        lambda k, p: (k * math.log1p(-p) if k > 0 else 0.0) + math.log(p),
        lambda p: 1 / p - 1, lambda p: (1 / p - 1) / p, lambda p: 0.0, geometric_entropy,
        discrete=True),
    "Geometric_logits": Family(
        lambda logit, **kw: D.Geometric(logits=logit, **kw), [(-10, 10, "lin")],
        lambda u, logit: math.floor(u * 30),
        lambda k, logit: -k * softplus(logit) - softplus(-logit),
        lambda logit: math.exp(-logit), lambda logit: math.exp(-logit) * (1 + math.exp(-logit)),
        lambda logit: 0.0,
        lambda logit: geometric_entropy(sigmoid(logit)), discrete=True),
    "NegativeBinomial": Family(
        lambda r, p, **kw: D.NegativeBinomial(r, probs=p, **kw),
        [(1e-2, 1e2, "log"), (1e-4, 0.99, "lin")],
        lambda u, r, p: math.floor(u * 3 * (r * p / (1 - p) + 3)), nb_log_prob,
        lambda r, p: r * p / (1 - p), lambda r, p: r * p / (1 - p) ** 2,
        lambda r, p: max(math.floor((r - 1) * p / (1 - p)), 0.0), discrete=True),
    "NegativeBinomial_logits": Family(
        lambda r, logit, **kw: D.NegativeBinomial(r, logits=logit, **kw),
        [(1e-2, 1e2, "log"), (-8, 4, "lin")],
        lambda u, r, logit: math.floor(u * 3 * (r * math.exp(logit) + 3)),
        lambda k, r, logit: (math.lgamma(k + r) - math.lgamma(k + 1) - math.lgamma(r)
                             - k * softplus(-logit) - r * softplus(logit)),
        lambda r, logit: r * math.exp(logit),
        lambda r, logit: r * math.exp(logit) * (1 + math.exp(logit)), discrete=True),
}
NAMES = sorted(FAMILIES)


def draw_parameters(family, rng, shape, extremes=True, inner=False):
    """One array per parameter, each of a shape that broadcasts to ``shape`` (or a Python
    number), with a share of the values at the ends of the range."""
    arrays = []
    for low, high, kind in family.params:
        own = tuple(d if rng.random() < 0.6 else 1 for d in shape)
        own = own[int(rng.integers(0, len(own) + 1)):] if rng.random() < 0.3 else own
        if kind.startswith("scalar "):               # a parameter PyTorch does not broadcast
            own, kind = (), kind[len("scalar "):]
        w = rng.random(own)
        if inner:                                    # the middle 60% of the range
            w = 0.2 + 0.6 * w
        if extremes:
            ends = rng.random(own) < 0.2
            w = np.where(ends, rng.integers(0, 2, own), w)
        if kind == "log":
            value = low * (high / low) ** w
        elif kind == "int":
            value = np.floor(low + w * (high - low) + 0.5)
        else:
            value = low + w * (high - low)
        arrays.append(np.asarray(value, dtype=np.float64))
    return arrays


@contextlib.contextmanager
def float64_default():
    """Python-number parameters become tensors of the default float: float64 here, so that
    they are compared at the precision of the references."""
    previous = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    try:
        yield
    finally:
        tg.set_default_dtype(previous)


def as_inputs(arrays, device, rng, allow_numbers=True):
    inputs = []
    for a in arrays:
        if allow_numbers and a.ndim == 0 and rng.random() < 0.5:
            inputs.append(float(a))
        else:
            inputs.append(tg.tensor(a, device=device))
    return inputs


def reference(function, *arrays):
    """``function`` element by element over the broadcast arrays."""
    arrays = np.broadcast_arrays(*arrays)
    out = np.empty(arrays[0].shape, dtype=np.float64)
    for index in np.ndindex(out.shape):
        out[index] = function(*(float(a[index]) for a in arrays))
    return out


def host(x):
    return tg.backend.to_host(x.detach().data)


def close(actual, expected, rtol=1e-8, atol=1e-10, what=""):
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=what)


shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


# --- log_prob, moments, entropy, cdf/icdf ---

@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), batch=shapes, sample=st.sampled_from([(), (2,)]))
def test_log_prob_moments_entropy_cdf_against_math(name, seed, batch, sample):
    family = FAMILIES[name]
    rng = np.random.default_rng(seed)
    arrays = draw_parameters(family, rng, batch)
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    with float64_default():
        distribution = family.make(*as_inputs(arrays, "cpu", rng))
    assert distribution.batch_shape == shape and distribution.event_shape == ()
    u = rng.random(sample + shape)
    if family.edges:
        u = np.where(rng.random(u.shape) < 0.25, rng.integers(0, 2, u.shape), u)
    x = reference(lambda uu, *p: family.value(uu, *p), u, *arrays)
    expected = reference(family.log_prob, x, *arrays)
    actual = distribution.log_prob(tg.tensor(x))
    close(host(actual), expected, rtol=1e-8, atol=1e-9, what="log_prob")
    for prop in ("mean", "variance", "mode"):
        formula = getattr(family, prop)
        if formula is not None:
            close(host(getattr(distribution, prop)), reference(formula, *arrays)
                  * np.ones(shape), rtol=1e-8, atol=1e-12, what=prop)
    if family.variance is not None:
        close(host(distribution.stddev), np.sqrt(reference(family.variance, *arrays))
              * np.ones(shape), rtol=1e-8, atol=1e-12, what="stddev")
    if family.entropy is not None:
        close(host(distribution.entropy()), reference(family.entropy, *arrays)
              * np.ones(shape), rtol=1e-8, atol=1e-9, what="entropy")
    if family.cdf is not None:
        cdf = distribution.cdf(tg.tensor(x))
        close(host(cdf), reference(family.cdf, x, *arrays), rtol=1e-7, atol=1e-10, what="cdf")
        if family.icdf:
            q = np.clip(rng.random(sample + shape), 1e-6, 1 - 1e-6)
            back = distribution.cdf(distribution.icdf(tg.tensor(q)))
            close(host(back), q, rtol=1e-5, atol=1e-8, what="cdf(icdf(q))")


# --- sampling: shapes, support, moments ---

SAMPLE_MEAN_RANGES = {  # narrower ranges where a sample mean converges quickly
    "Pareto": [(1e-1, 10, "log"), (5, 20, "log")], "StudentT": [(5, 100, "log"), (-5, 5, "lin"),
                                                                (0.1, 10, "log")],
    "Weibull": [(0.1, 10, "log"), (0.5, 5, "log")], "LogNormal": [(-1, 1, "lin"), (0.05, 1, "log")],
}


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), batch=shapes,
       sample_shape=st.sampled_from([(), (3,), (2, 1)]))
def test_sample_shapes_support_and_mean(name, seed, batch, sample_shape, device):
    family = FAMILIES[name]
    rng = np.random.default_rng(seed)
    if name in SAMPLE_MEAN_RANGES:
        family = Family(family.make, SAMPLE_MEAN_RANGES[name], family.value, family.log_prob,
                        family.mean, family.variance)
    arrays = draw_parameters(family, rng, batch, extremes=False)
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    inputs = [tg.tensor(a, device=device) for a in arrays]
    distribution = family.make(*inputs)
    tg.manual_seed(seed % 1000)
    x = distribution.sample(sample_shape)
    assert x.shape == tuple(sample_shape) + shape and x.device == device
    assert not x.requires_grad
    assert bool(host(distribution.support.check(x)).all()), name
    if distribution.has_rsample:
        assert distribution.rsample(sample_shape).shape == tuple(sample_shape) + shape
    distribution.log_prob(x)                               # samples pass validation
    n = 4000
    draws = host(distribution.sample((n,)))
    if name == "VonMises":                            # circular: E[cos(X − μ)] = I₁(κ)/I₀(κ)
        loc, kappa = np.broadcast_arrays(*arrays)
        resultant = np.cos(draws - loc).mean(0)
        expected = 1 - reference(family.variance, *arrays)
        assert np.all(np.abs(resultant - expected) <= 6 / math.sqrt(n)), (resultant, expected)
        return
    if family.mean is None:
        return
    mean = reference(family.mean, *arrays) * np.ones(shape)
    variance = reference(family.variance, *arrays) * np.ones(shape)
    finite = np.isfinite(mean) & np.isfinite(variance)
    error = np.abs(draws.mean(0) - mean)[finite]
    rare = 3 / n if family.discrete else 0.0          # a count seen once in n draws
    assert np.all(error <= 6 * np.sqrt(variance[finite] / n) + rare + 1e-9), (name, error)


# --- reparameterized gradients: the pathwise gradient of a Monte Carlo estimate against
# finite differences of that same estimate under the same noise (common random numbers) ---

def _f(x):
    """Smooth with bounded first and second derivatives, so differences converge."""
    return (x / (1 + x * x) + (1 + x * x).log()).sum()


CRN_FAMILIES = ["Normal", "LogNormal", "Uniform", "Exponential", "Laplace", "Cauchy", "Gumbel",
                "HalfNormal", "HalfCauchy", "Kumaraswamy", "Weibull", "Pareto",
                "ContinuousBernoulli", "RelaxedBernoulli"]


@pytest.mark.parametrize("name", CRN_FAMILIES)
@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_rsample_gradient_matches_common_random_number_differences(name, seed):
    family = FAMILIES[name]
    rng = np.random.default_rng(seed)
    arrays = draw_parameters(family, rng, (2,), extremes=False, inner=True)
    if name == "ContinuousBernoulli":                # away from the Taylor region's seam
        arrays = [np.where(np.abs(a - 0.5) < 0.01, a + 0.02, a) for a in arrays]

    def estimate(values, grad=False):
        params = [tg.tensor(v, requires_grad=grad) for v in values]
        tg.manual_seed(seed % 997)
        return _f(family.make(*params, validate_args=False).rsample((50,))), params

    value, params = estimate(arrays, grad=True)
    value.backward()
    h = 1e-6
    for i, a in enumerate(arrays):
        analytic = host(params[i].grad) if params[i].grad is not None else np.zeros(a.shape)
        for index in np.ndindex(a.shape):
            step = h * max(1e-3, abs(float(a[index])))
            plus, minus = [b.copy() for b in arrays], [b.copy() for b in arrays]
            plus[i][index] += step
            minus[i][index] -= step
            numeric = (estimate(plus)[0].item() - estimate(minus)[0].item()) / (2 * step)
            assert abs(analytic[index] - numeric) <= 1e-5 + 1e-4 * abs(numeric), (
                name, i, index, analytic[index], numeric)


# Gamma-based draws are not smooth in α under a fixed seed: their reparameterized gradient
# is checked in expectation, d/dθ E[x] against the derivative of the closed-form mean.
IMPLICIT = {
    "Gamma": (lambda a, r: D.Gamma(a, r), [3.0, 0.7], lambda a, r: [1 / r, -a / r ** 2]),
    "Beta": (lambda a, b: D.Beta(a, b), [0.6, 2.5],
             lambda a, b: [b / (a + b) ** 2, -a / (a + b) ** 2]),
    "StudentT": (lambda nu, m, s: D.StudentT(nu, m, s), [4.0, 0.5, 2.0],
                 lambda nu, m, s: [0.0, 1.0, 0.0]),
    "Chi2": (lambda k: D.Chi2(k), [2.5], lambda k: [1.0]),
}


@pytest.mark.parametrize("name", sorted(IMPLICIT))
def test_implicit_rsample_gradient_of_the_mean(name):
    make, values, gradient = IMPLICIT[name]
    params = [tg.tensor(v, dtype=tg.float64, requires_grad=True) for v in values]
    n = 40000
    make(*params).rsample((n,)).mean().backward()
    for param, expected in zip(params, gradient(*values)):
        assert abs(param.grad.item() - expected) < 0.05 * max(1.0, abs(expected)), (
            name, param.grad.item(), expected)


def test_second_moment_gradient_of_student_t_scale():
    """d/dσ E[x²] = 2σν/(ν − 2) (μ = 0): the scale's pathwise gradient, in expectation."""
    nu, sigma = 6.0, 1.5
    scale = tg.tensor(sigma, dtype=tg.float64, requires_grad=True)
    x = D.StudentT(tg.tensor(nu, dtype=tg.float64), 0.0, scale).rsample((80000,))
    (x * x).mean().backward()
    expected = 2 * sigma * nu / (nu - 2)
    assert abs(scale.grad.item() - expected) < 0.08 * expected


# --- log_prob gradients: gradcheck (central differences, float64) ---

GRADCHECK_SKIP = {"Binomial": (0,), "Binomial_logits": (0,)}    # n is an integer


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_log_prob_cdf_entropy_gradcheck(name, seed):
    family = FAMILIES[name]
    rng = np.random.default_rng(seed)
    arrays = draw_parameters(family, rng, (2,), extremes=False, inner=True)
    skip = GRADCHECK_SKIP.get(name, ())
    if name == "ContinuousBernoulli":
        arrays = [np.where(np.abs(a - 0.5) < 0.01, a + 0.02, a) for a in arrays]
    u = np.clip(rng.random((2,)), 0.05, 0.95)
    x = tg.tensor(reference(lambda uu, *p: family.value(uu, *p), u, *arrays))
    inputs = [tg.tensor(a, requires_grad=i not in skip) for i, a in enumerate(arrays)]

    def outputs(*params):
        d = family.make(*params, validate_args=False)
        out = [d.log_prob(x)]
        if family.cdf is not None:
            out.append(d.cdf(x))
        if family.entropy is not None:
            out.append(d.entropy())
        if family.mean is not None and name not in ("Cauchy", "HalfCauchy"):
            out += [d.mean, d.variance]
        return tuple(o for o in out if np.all(np.isfinite(host(o))))

    assert tg.gradcheck(outputs, tuple(inputs), eps=1e-6, atol=1e-6, rtol=1e-4)


# --- validation ---

INVALID = {  # name: (make, bad parameter sets)
    "Normal": (D.Normal, [(0.0, 0.0), (0.0, -1.0), (math.nan, 1.0)]),
    "LogNormal": (D.LogNormal, [(0.0, -1.0)]),
    "Uniform": (D.Uniform, [(1.0, 1.0), (2.0, 1.0)]),
    "Exponential": (D.Exponential, [(0.0,), (-1.0,)]),
    "Gamma": (D.Gamma, [(0.0, 1.0), (1.0, -2.0)]),
    "Chi2": (D.Chi2, [(-1.0,)]),
    "Beta": (D.Beta, [(0.0, 1.0), (1.0, -1.0)]),
    "Laplace": (D.Laplace, [(0.0, 0.0)]),
    "Cauchy": (D.Cauchy, [(0.0, -1.0)]),
    "HalfNormal": (D.HalfNormal, [(0.0,)]),
    "HalfCauchy": (D.HalfCauchy, [(-1.0,)]),
    "StudentT": (D.StudentT, [(0.0, 0.0, 1.0), (1.0, 0.0, 0.0)]),
    "Gumbel": (D.Gumbel, [(0.0, 0.0)]),
    "Weibull": (D.Weibull, [(0.0, 1.0), (1.0, 0.0)]),
    "Pareto": (D.Pareto, [(0.0, 1.0), (1.0, -1.0)]),
    "VonMises": (D.VonMises, [(0.0, 0.0)]),
    "Kumaraswamy": (D.Kumaraswamy, [(0.0, 1.0), (1.0, 0.0)]),
    "Bernoulli": (lambda p: D.Bernoulli(probs=p), [(1.5,), (-0.1,)]),
    "Binomial": (lambda n, p: D.Binomial(n, probs=p), [(2.5, 0.5), (-1.0, 0.5), (3.0, 1.1)]),
    "Poisson": (D.Poisson, [(-0.5,)]),
    "Geometric": (lambda p: D.Geometric(probs=p), [(0.0,), (1.5,)]),
    "NegativeBinomial": (lambda r, p: D.NegativeBinomial(r, probs=p), [(-1.0, 0.5), (2.0, 1.0)]),
    "ContinuousBernoulli": (lambda p: D.ContinuousBernoulli(probs=p), [(1.5,)]),
    "RelaxedBernoulli": (lambda t, p: D.RelaxedBernoulli(t, probs=p), [(1.0, 1.5)]),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_parameters_raise_value_error(name, device):
    make, bad = INVALID[name]
    for values in bad:
        with pytest.raises(ValueError):
            make(*(tg.tensor([v, v], dtype=tg.float64, device=device) for v in values))


OUTSIDE = {  # name: values outside the support (and, with validate_args=False, no error)
    "Exponential": [-1e-9], "Gamma": [-1.0], "Beta": [1.0 + 1e-9, -1e-12], "LogNormal": [0.0],
    "HalfNormal": [-1e-9], "HalfCauchy": [-3.0], "Weibull": [0.0], "Pareto": [0.5],
    "Kumaraswamy": [1.5], "ContinuousBernoulli": [1.01], "RelaxedBernoulli": [-0.1],
    "Bernoulli": [0.5, 2.0], "Binomial": [1.5, 41.0, -1.0], "Poisson": [0.5, -1.0],
    "Geometric": [-1.0, 2.5], "NegativeBinomial": [0.3], "Uniform": [-10.5, 1e4],
    "Normal": [math.nan],
}


@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_values_outside_the_support_raise_value_error(name, device):
    family = FAMILIES[name]
    arrays = [np.asarray(lo if kind == "lin" else (high if kind == "int" else math.sqrt(lo * high)),
                         dtype=np.float64) for lo, high, kind in family.params]
    distribution = family.make(*(tg.tensor(a, device=device) for a in arrays))
    for v in OUTSIDE[name]:
        with pytest.raises(ValueError):
            distribution.log_prob(tg.tensor([v], dtype=tg.float64, device=device))
    unchecked = family.make(*(tg.tensor(a, device=device) for a in arrays), validate_args=False)
    unchecked.log_prob(tg.tensor([OUTSIDE[name][0]], dtype=tg.float64, device=device))


# --- expand ---

@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), lead=st.sampled_from([(2,), (3, 1), (1, 2)]))
def test_expand_broadcasts_parameters_and_keeps_the_law(name, seed, lead):
    family = FAMILIES[name]
    rng = np.random.default_rng(seed)
    arrays = [a.reshape(1) if a.ndim == 0 else a
              for a in draw_parameters(family, rng, (2,), extremes=False)]
    arrays = [np.broadcast_to(a, (2,)).copy() for a in arrays]
    for validate in (True, False):
        d = family.make(*(tg.tensor(a) for a in arrays), validate_args=validate)
        new_shape = tuple(lead) + (2,)
        e = d.expand(new_shape)
        assert type(e) is type(d) and e.batch_shape == new_shape and e.event_shape == ()
        assert e._validate_args == validate
        u = np.clip(rng.random(new_shape), 0.05, 0.95)
        x = reference(lambda uu, *p: family.value(uu, *p), u,
                      *(np.broadcast_to(a, new_shape) for a in arrays))
        close(host(e.log_prob(tg.tensor(x))), reference(family.log_prob, x, *arrays),
              what="expanded log_prob")
        assert e.sample((4,)).shape == (4,) + new_shape
        if family.mean is not None:
            close(host(e.mean), np.broadcast_to(reference(family.mean, *arrays), new_shape),
                  what="expanded mean")


# --- the multivariate families ---

def _spd(rng, n, batch=()):
    a = rng.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(n)


def _mvn_log_prob(x, mu, cov):
    d = x - mu
    sign, logdet = np.linalg.slogdet(cov)
    quad = np.einsum("...i,...i->...", d, np.linalg.solve(cov, d[..., None])[..., 0])
    return -0.5 * (mu.shape[-1] * LOG_2PI + logdet + quad)


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 4),
       which=st.sampled_from(["covariance_matrix", "precision_matrix", "scale_tril"]),
       loc_batch=st.sampled_from([(), (2,), (3, 1)]), cov_batch=st.sampled_from([(), (1,), (2,)]))
def test_multivariate_normal_parameterizations(seed, n, which, loc_batch, cov_batch):
    rng = np.random.default_rng(seed)
    cov = _spd(rng, n, cov_batch)
    mu = rng.normal(size=loc_batch + (n,))
    matrix = {"covariance_matrix": cov, "precision_matrix": np.linalg.inv(cov),
              "scale_tril": np.linalg.cholesky(cov)}[which]
    d = D.MultivariateNormal(tg.tensor(mu), **{which: tg.tensor(matrix)})
    batch = np.broadcast_shapes(loc_batch, cov_batch)
    assert d.batch_shape == batch and d.event_shape == (n,)
    x = rng.normal(size=(2,) + batch + (n,)) * 2
    close(host(d.log_prob(tg.tensor(x))), _mvn_log_prob(x, mu, cov), rtol=1e-8, atol=1e-9)
    entropy = 0.5 * n * (1 + LOG_2PI) + 0.5 * np.linalg.slogdet(cov)[1]
    close(host(d.entropy()), np.broadcast_to(entropy, batch), rtol=1e-9, atol=1e-10)
    for name, expected in (("covariance_matrix", cov), ("precision_matrix", np.linalg.inv(cov)),
                           ("scale_tril", np.linalg.cholesky(cov))):
        close(host(getattr(d, name)), np.broadcast_to(expected, batch + (n, n)), rtol=1e-8,
              atol=1e-10, what=name)
    close(host(d.variance), np.broadcast_to(np.diagonal(cov, 0, -2, -1), batch + (n,)),
          rtol=1e-9)
    close(host(d.mean), np.broadcast_to(mu, batch + (n,)), rtol=0)
    e = d.expand((2,) + batch)
    close(host(e.log_prob(tg.tensor(x))), _mvn_log_prob(x, mu, cov), rtol=1e-8, atol=1e-9)
    tg.manual_seed(seed % 1000)
    draws = host(d.sample((3000,)))
    assert draws.shape == (3000,) + batch + (n,)
    sd = np.sqrt(np.diagonal(cov, 0, -2, -1))
    assert np.all(np.abs(draws.mean(0) - mu) <= 6 * sd / math.sqrt(3000))


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 4), rank=st.integers(1, 3),
       batch=st.sampled_from([(), (2,)]))
def test_low_rank_normal_against_the_dense_formula(seed, n, rank, batch):
    rng = np.random.default_rng(seed)
    mu, w = rng.normal(size=batch + (n,)), rng.normal(size=(n, rank))
    diag = np.exp(rng.normal(size=(n,)))
    cov = w @ w.T + np.diag(diag)
    d = D.LowRankMultivariateNormal(tg.tensor(mu), tg.tensor(w), tg.tensor(diag))
    x = rng.normal(size=(3,) + batch + (n,))
    close(host(d.log_prob(tg.tensor(x))), _mvn_log_prob(x, mu, cov), rtol=1e-8, atol=1e-9)
    close(host(d.entropy()), np.broadcast_to(0.5 * n * (1 + LOG_2PI)
                                             + 0.5 * np.linalg.slogdet(cov)[1], batch))
    for name, expected in (("covariance_matrix", cov), ("precision_matrix", np.linalg.inv(cov)),
                           ("scale_tril", np.linalg.cholesky(cov))):
        close(host(getattr(d, name)), np.broadcast_to(expected, batch + (n, n)), rtol=1e-8,
              atol=1e-10, what=name)
    close(host(d.variance), np.broadcast_to(np.diag(cov), batch + (n,)))


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 5), batch=shapes,
       use_probs=st.booleans())
def test_categorical_onehot_multinomial(seed, k, batch, use_probs):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=batch + (k,)) * 3
    if use_probs:
        probs = np.exp(logits) * rng.uniform(0.5, 2)          # unnormalised: rescaled by sum
        kwargs = {"probs": tg.tensor(probs)}
        log_p = np.log(probs / probs.sum(-1, keepdims=True))
    else:
        kwargs = {"logits": tg.tensor(logits)}
        log_p = _log_softmax(logits)
    p = np.exp(log_p)
    c = D.Categorical(**kwargs)
    assert c.batch_shape == batch and c.event_shape == ()
    idx = rng.integers(0, k, size=(2,) + batch)
    close(host(c.log_prob(tg.tensor(idx))), np.take_along_axis(
        np.broadcast_to(log_p, (2,) + batch + (k,)), idx[..., None], -1)[..., 0])
    close(host(c.entropy()), -(p * log_p).sum(-1), atol=1e-10)
    close(host(c.probs), p, rtol=1e-9, atol=1e-12)
    assert np.array_equal(host(c.mode), p.argmax(-1))
    s = c.sample((5,))
    assert s.shape == (5,) + batch and s.dtype == tg.int64
    assert np.all((host(s) >= 0) & (host(s) < k))
    o = D.OneHotCategorical(**kwargs)
    assert o.batch_shape == batch and o.event_shape == (k,)
    one_hot = np.eye(k)[idx]
    close(host(o.log_prob(tg.tensor(one_hot))), host(c.log_prob(tg.tensor(idx))))
    close(host(o.variance), p * (1 - p), atol=1e-12)
    samples = host(o.sample((3,)))
    assert samples.shape == (3,) + batch + (k,) and np.all(samples.sum(-1) == 1)
    total = int(rng.integers(0, 6))
    m = D.Multinomial(total, **kwargs)
    counts = rng.multinomial(total, np.full(k, 1 / k), size=(2,) + batch).astype(np.float64)
    expected = (np.vectorize(math.lgamma)(counts.sum(-1) + 1)
                - np.vectorize(math.lgamma)(counts + 1).sum(-1)
                + np.where(counts == 0, 0.0, counts * log_p).sum(-1))
    close(host(m.log_prob(tg.tensor(counts))), expected, atol=1e-9)
    close(host(m.mean), total * p, atol=1e-12)
    close(host(m.variance), total * p * (1 - p), atol=1e-12)
    draws = host(m.sample((4,)))
    assert draws.shape == (4,) + batch + (k,) and np.all(draws.sum(-1) == total)
    # the entropy by brute force over every count vector (small n and k)
    if k <= 3 and total <= 4 and batch == ():
        from itertools import product
        h = 0.0
        for xs in product(range(total + 1), repeat=k):
            if sum(xs) == total:
                lp = (math.lgamma(total + 1) - sum(math.lgamma(v + 1) for v in xs)
                      + sum(v * log_p[i] for i, v in enumerate(xs) if v))
                h -= math.exp(lp) * lp
        close(host(m.entropy()), np.asarray(h), atol=1e-9)


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(2, 5), batch=shapes)
def test_dirichlet_log_prob_moments_entropy(seed, k, batch):
    rng = np.random.default_rng(seed)
    alpha = np.exp(rng.uniform(-3, 3, size=batch + (k,)))
    d = D.Dirichlet(tg.tensor(alpha))
    assert d.batch_shape == batch and d.event_shape == (k,)
    x = rng.dirichlet(np.ones(k), size=(2,) + batch)
    total = alpha.sum(-1)
    lg = np.vectorize(math.lgamma)
    dg = np.vectorize(digamma)
    expected = ((alpha - 1) * np.log(x)).sum(-1) + lg(total) - lg(alpha).sum(-1)
    close(host(d.log_prob(tg.tensor(x))), expected, atol=1e-9)
    close(host(d.mean), alpha / total[..., None])
    close(host(d.variance), alpha * (total[..., None] - alpha)
          / (total[..., None] ** 2 * (total[..., None] + 1)))
    entropy = (lg(alpha).sum(-1) - lg(total) - (k - total) * dg(total)
               - ((alpha - 1) * dg(alpha)).sum(-1))
    close(host(d.entropy()), entropy, atol=1e-9)
    samples = d.sample((3,))
    assert samples.shape == (3,) + batch + (k,)
    assert bool(host(d.support.check(samples)).all())


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(2, 4), batch=shapes)
def test_relaxed_one_hot_log_prob(seed, k, batch):
    rng = np.random.default_rng(seed)
    logits, t = rng.normal(size=batch + (k,)), math.exp(rng.uniform(-2, 1))
    d = D.RelaxedOneHotCategorical(tg.tensor(t, dtype=tg.float64), logits=tg.tensor(logits))
    x = rng.dirichlet(np.ones(k), size=(2,) + batch)
    # ExpConcrete density of y = log x, then the Jacobian of exp: −Σ yₖ
    y = np.log(x)
    score = _log_softmax(logits) - t * y
    expected = (math.lgamma(k) + (k - 1) * math.log(t)
                + (score - np.log(np.exp(score).sum(-1, keepdims=True))).sum(-1) - y.sum(-1))
    close(host(d.log_prob(tg.tensor(x))), expected, atol=1e-9)
    s = d.rsample((3,))
    assert s.shape == (3,) + batch + (k,) and bool(host(d.support.check(s)).all())


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), k=st.integers(1, 4), batch=st.sampled_from([(), (2,)]))
def test_mixture_same_family_against_a_hand_mixture(seed, k, batch):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=batch + (k,))
    mu, sigma = rng.normal(size=batch + (k,)) * 3, np.exp(rng.normal(size=batch + (k,)))
    mix = D.MixtureSameFamily(D.Categorical(logits=tg.tensor(w)),
                              D.Normal(tg.tensor(mu), tg.tensor(sigma)))
    assert mix.batch_shape == batch and mix.event_shape == ()
    x = rng.normal(size=(3,) + batch) * 3
    p = np.exp(_log_softmax(w))
    terms = (np.log(p) - ((x[..., None] - mu) / sigma) ** 2 / 2 - np.log(sigma) - LOG_2PI / 2)
    top = terms.max(-1)
    log_density = top + np.log(np.exp(terms - top[..., None]).sum(-1))
    close(host(mix.log_prob(tg.tensor(x))), log_density, atol=1e-9)
    mean = (p * mu).sum(-1)
    close(host(mix.mean), mean)
    close(host(mix.variance), (p * (sigma ** 2 + mu ** 2)).sum(-1) - mean ** 2, atol=1e-9)
    cdf = (p * np.vectorize(phi)((x[..., None] - mu) / sigma)).sum(-1)
    close(host(mix.cdf(tg.tensor(x))), cdf, atol=1e-10)
    assert mix.sample((4,)).shape == (4,) + batch
    e = mix.expand((3,) + batch)
    close(host(e.log_prob(tg.tensor(x))), log_density, atol=1e-9)


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), ndims=st.integers(0, 2))
def test_independent_sums_and_reinterprets(seed, ndims):
    rng = np.random.default_rng(seed)
    mu, sigma = rng.normal(size=(2, 3, 4)), np.exp(rng.normal(size=(3, 4)))
    d = D.Independent(D.Normal(tg.tensor(mu), tg.tensor(sigma)), ndims)
    shape = (2, 3, 4)
    assert d.batch_shape == shape[:3 - ndims] and d.event_shape == shape[3 - ndims:]
    x = rng.normal(size=shape)
    lp = -((x - mu) / sigma) ** 2 / 2 - np.log(sigma) - LOG_2PI / 2
    expected = lp.sum(tuple(range(3 - ndims, 3))) if ndims else lp
    close(host(d.log_prob(tg.tensor(x))), expected)
    e = d.expand((5,) + d.batch_shape)
    assert e.batch_shape == (5,) + d.batch_shape and e.event_shape == d.event_shape
    close(host(e.log_prob(tg.tensor(x))), np.broadcast_to(expected, (5,) + expected.shape))
    assert d.sample((2,)).shape == (2,) + shape


# --- KL divergence: closed forms and Monte Carlo ---

KL_PAIRS = {  # name: (make p, make q, parameter ranges (shared by p and q), closed form)
    "Normal": (D.Normal, [(-3, 3, "lin"), (0.2, 5, "log")],
               lambda m1, s1, m2, s2: math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2)
               / (2 * s2 ** 2) - 0.5),
    "LogNormal": (D.LogNormal, [(-1, 1, "lin"), (0.2, 2, "log")],
                  lambda m1, s1, m2, s2: math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2)
                  / (2 * s2 ** 2) - 0.5),
    "Exponential": (D.Exponential, [(0.2, 5, "log")],
                    lambda r1, r2: math.log(r1 / r2) + r2 / r1 - 1),
    "Gamma": (D.Gamma, [(0.5, 10, "log"), (0.2, 5, "log")],
              lambda a1, b1, a2, b2: ((a1 - a2) * digamma(a1) - math.lgamma(a1) + math.lgamma(a2)
                                      + a2 * (math.log(b1) - math.log(b2)) + a1 * (b2 - b1) / b1)),
    "Beta": (D.Beta, [(0.5, 10, "log"), (0.5, 10, "log")],
             lambda a1, b1, a2, b2: (log_beta(a2, b2) - log_beta(a1, b1)
                                     + (a1 - a2) * digamma(a1) + (b1 - b2) * digamma(b1)
                                     + (a2 - a1 + b2 - b1) * digamma(a1 + b1))),
    "Laplace": (D.Laplace, [(-2, 2, "lin"), (0.3, 3, "log")],
                lambda m1, b1, m2, b2: (math.log(b2 / b1) + abs(m1 - m2) / b2
                                        + b1 / b2 * math.exp(-abs(m1 - m2) / b1) - 1)),
    "Cauchy": (D.Cauchy, [(-2, 2, "lin"), (0.3, 3, "log")],
               lambda m1, g1, m2, g2: math.log(((g1 + g2) ** 2 + (m1 - m2) ** 2) / (4 * g1 * g2))),
    "Gumbel": (D.Gumbel, [(-2, 2, "lin"), (0.3, 3, "log")],
               lambda m1, b1, m2, b2: (math.log(b2 / b1) + (m1 - m2) / b2 + EULER * (b1 / b2 - 1)
                                       + math.exp((m2 - m1) / b2) * math.gamma(1 + b1 / b2) - 1)),
    "HalfNormal": (D.HalfNormal, [(0.2, 5, "log")],
                   lambda s1, s2: math.log(s2 / s1) + s1 ** 2 / (2 * s2 ** 2) - 0.5),
    "Pareto": (D.Pareto, [(0.5, 2, "log"), (1.5, 6, "log")],
               lambda s1, a1, s2, a2: (math.inf if s1 < s2 else
                                       math.log(a1 / a2) + a2 * math.log(s1 / s2) + a2 / a1 - 1)),
    "Uniform": (lambda lo, w, **kw: D.Uniform(lo, lo + w, **kw), [(-1, 1, "lin"), (0.5, 3, "log")],
                lambda l1, w1, l2, w2: (math.log(w2 / w1) if l2 <= l1 and l1 + w1 <= l2 + w2
                                        else math.inf)),
    "Bernoulli": (lambda p, **kw: D.Bernoulli(probs=p, **kw), [(0.05, 0.95, "lin")],
                  lambda p, q: p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))),
    "Geometric": (lambda p, **kw: D.Geometric(probs=p, **kw), [(0.1, 0.9, "lin")],
                  lambda p, q: math.log(p / q) + (1 - p) / p * math.log((1 - p) / (1 - q))),
    "Poisson": (D.Poisson, [(0.2, 10, "log")],
                lambda a, b: a * math.log(a / b) - a + b),
    "Binomial": (lambda n, p, **kw: D.Binomial(n, probs=p, **kw), [(5, 5, "int"), (0.1, 0.9, "lin")],
                 lambda n1, p1, n2, p2: n1 * (p1 * math.log(p1 / p2)
                                              + (1 - p1) * math.log((1 - p1) / (1 - p2)))),
    "ContinuousBernoulli": (lambda p, **kw: D.ContinuousBernoulli(probs=p, **kw),
                            [(0.05, 0.95, "lin")],
                            lambda p, q: cb_moment(p, lambda x: x * math.log(p / q) + (1 - x)
                                                   * math.log((1 - p) / (1 - q)))
                            + cb_log_norm(p) - cb_log_norm(q)),
    "Chi2": (D.Chi2, [(0.5, 10, "log")],
             lambda k1, k2: ((k1 - k2) / 2 * digamma(k1 / 2) - math.lgamma(k1 / 2)
                             + math.lgamma(k2 / 2))),
}


@pytest.mark.parametrize("name", sorted(KL_PAIRS))
@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_kl_divergence_closed_form_and_monte_carlo(name, seed):
    make, ranges, closed = KL_PAIRS[name]
    family = Family(make, ranges, None, None)
    rng = np.random.default_rng(seed)
    p_arrays = [np.broadcast_to(a, (3,)).copy() for a in draw_parameters(family, rng, (3,))]
    q_arrays = [np.broadcast_to(a, (3,)).copy() for a in draw_parameters(family, rng, (3,))]
    p = make(*(tg.tensor(a) for a in p_arrays))
    q = make(*(tg.tensor(a) for a in q_arrays))
    kl = host(D.kl_divergence(p, q))
    expected = reference(closed, *p_arrays, *q_arrays)
    close(kl, expected, rtol=1e-7, atol=1e-9, what="closed form")
    tg.manual_seed(seed % 1000)
    n = 20000
    x = p.sample((n,))
    q_unchecked = make(*(tg.tensor(a) for a in q_arrays), validate_args=False)
    ratio = host(p.log_prob(x)) - host(q_unchecked.log_prob(x))
    finite = np.isfinite(expected) & (expected < 20)  # past that the log-ratio's tails
    estimate = ratio.mean(0)                            # make Monte Carlo unreliable
    spread = ratio.std(0) / math.sqrt(n)
    # so do heavy tails below 20 (Gumbel with scales 3 and 0.36: a sample 100 standard
    # deviations out, the mean of 20,000 off by 8 of them); light-tailed families stay
    # within 17 here, so the largest sample's distance tells which components to check
    finite &= np.abs(ratio - estimate).max(0) <= 25 * ratio.std(0)
    assert np.all(np.abs(estimate - expected)[finite]
                  <= 6 * spread[finite] + 1e-3 * (1 + np.abs(expected[finite]))), (
        name, estimate, expected)


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 3), k=st.integers(2, 4))
def test_kl_multivariate_families(seed, n, k):
    rng = np.random.default_rng(seed)
    c1, c2 = _spd(rng, n), _spd(rng, n)
    m1, m2 = rng.normal(size=n), rng.normal(size=n)
    p = D.MultivariateNormal(tg.tensor(m1), covariance_matrix=tg.tensor(c1))
    q = D.MultivariateNormal(tg.tensor(m2), scale_tril=tg.tensor(np.linalg.cholesky(c2)))
    inv2 = np.linalg.inv(c2)
    expected = 0.5 * (np.trace(inv2 @ c1) + (m2 - m1) @ inv2 @ (m2 - m1) - n
                      + np.linalg.slogdet(c2)[1] - np.linalg.slogdet(c1)[1])
    close(host(D.kl_divergence(p, q)), np.asarray(expected), atol=1e-9)
    w = rng.normal(size=(n, 1))
    diag = np.exp(rng.normal(size=n))
    low = D.LowRankMultivariateNormal(tg.tensor(m2), tg.tensor(w), tg.tensor(diag))
    c3 = w @ w.T + np.diag(diag)
    inv3 = np.linalg.inv(c3)
    expected = 0.5 * (np.trace(inv3 @ c1) + (m2 - m1) @ inv3 @ (m2 - m1) - n
                      + np.linalg.slogdet(c3)[1] - np.linalg.slogdet(c1)[1])
    close(host(D.kl_divergence(p, low)), np.asarray(expected), atol=1e-9)
    a1, a2 = np.exp(rng.normal(size=k)), np.exp(rng.normal(size=k))
    s1 = a1.sum()
    expected = (math.lgamma(s1) - math.lgamma(a2.sum())
                - sum(math.lgamma(v) - math.lgamma(u) for v, u in zip(a1, a2))
                + sum((v - u) * (digamma(v) - digamma(s1)) for v, u in zip(a1, a2)))
    close(host(D.kl_divergence(D.Dirichlet(tg.tensor(a1)), D.Dirichlet(tg.tensor(a2)))),
          np.asarray(expected), atol=1e-9)
    l1, l2 = rng.normal(size=k), rng.normal(size=k)
    p1, p2 = np.exp(_log_softmax(l1)), np.exp(_log_softmax(l2))
    expected = float((p1 * (np.log(p1) - np.log(p2))).sum())
    close(host(D.kl_divergence(D.Categorical(logits=tg.tensor(l1)),
                               D.Categorical(probs=tg.tensor(p2)))), np.asarray(expected),
          atol=1e-10)
    close(host(D.kl_divergence(D.OneHotCategorical(logits=tg.tensor(l1)),
                               D.OneHotCategorical(logits=tg.tensor(l2)))), np.asarray(expected),
          atol=1e-10)
    ind = D.kl_divergence(D.Independent(D.Normal(tg.tensor(m1), tg.tensor(diag)), 1),
                          D.Independent(D.Normal(tg.tensor(m2), tg.tensor(diag * 2)), 1))
    expected = sum(math.log(2) + (d * d + (a - b) ** 2) / (2 * 4 * d * d) - 0.5
                   for a, b, d in zip(m1, m2, diag))
    close(host(ind), np.asarray(expected), atol=1e-10)


# --- TransformedDistribution over random monotone chains ---

def _chain(rng, length):
    """Random transforms with NumPy forward maps and log |dy/dx|: (tg transform, forward,
    log_det, sign). Power only acts on positive values (after Exp or Sigmoid)."""
    chain, positive = [], False
    for _ in range(length):
        kinds = ["affine", "exp", "sigmoid", "tanh"] + (["power"] if positive else [])
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "affine":
            loc, scale = float(rng.normal()), float(rng.choice([-1, 1]) * math.exp(rng.normal()))
            chain.append((D.AffineTransform(loc, scale), lambda x, a=loc, b=scale: a + b * x,
                          lambda x, b=scale: np.full_like(x, math.log(abs(b))), np.sign(scale)))
            positive = positive and scale > 0 and loc >= 0
        elif kind == "exp":
            chain.append((D.ExpTransform(), np.exp, lambda x: x, 1))
            positive = True
        elif kind == "sigmoid":
            chain.append((D.SigmoidTransform(), lambda x: 1 / (1 + np.exp(-x)),
                          lambda x: -np.logaddexp(0, -x) - np.logaddexp(0, x), 1))
            positive = True
        elif kind == "tanh":
            chain.append((D.TanhTransform(), np.tanh, lambda x: np.log1p(-np.tanh(x) ** 2), 1))
            positive = False
        else:
            e = float(rng.choice([-1, 1]) * math.exp(rng.uniform(-1, 1)))
            chain.append((D.PowerTransform(tg.tensor(e, dtype=tg.float64)),
                          lambda x, e=e: x ** e,
                          lambda x, e=e: np.log(abs(e)) + (e - 1) * np.log(x), np.sign(e)))
    return chain


@FUZZ
@given(seed=st.integers(0, 2 ** 32 - 1), length=st.integers(1, 3))
def test_transformed_distribution_of_random_chains(seed, length):
    rng = np.random.default_rng(seed)
    mu, sigma = rng.normal(size=(2,)) * 0.5, np.exp(rng.uniform(-1, 0, size=(2,)))
    chain = _chain(rng, length)
    d = D.TransformedDistribution(D.Normal(tg.tensor(mu), tg.tensor(sigma)),
                                  [t for t, *_ in chain])
    assert d.batch_shape == (2,) and d.event_shape == ()
    x = mu + sigma * np.clip(rng.normal(size=(3, 2)), -2, 2)
    base_lp = -((x - mu) / sigma) ** 2 / 2 - np.log(sigma) - LOG_2PI / 2
    y, log_det, sign = x, np.zeros_like(x), 1
    margin = 1.0
    for transform, forward, jacobian, s in chain:
        log_det = log_det + jacobian(y)
        y, sign = forward(y), sign * s
        if isinstance(transform, (D.TanhTransform, D.SigmoidTransform)):
            margin = min(margin, float(np.min(1 - np.abs(y))), float(np.min(np.abs(y))))
    if margin < 1e-4:                 # the inverse (atanh, logit) there loses > 4 digits
        return
    # a chain ending in σ or tanh can round y onto its bounds: such draws are skipped
    if not (np.all(np.isfinite(base_lp - log_det)) and np.all(np.abs(y) < 1e12)):
        return
    close(host(d.log_prob(tg.tensor(y))), base_lp - log_det, rtol=1e-6, atol=1e-6,
          what="log_prob")
    cdf = np.vectorize(phi)((x - mu) / sigma)
    close(host(d.cdf(tg.tensor(y))), cdf if sign > 0 else 1 - cdf, rtol=1e-6, atol=1e-9,
          what="cdf")
    q = rng.uniform(0.1, 0.9, size=(2,))
    close(host(d.cdf(d.icdf(tg.tensor(q)))), q, rtol=1e-6, atol=1e-9, what="cdf(icdf)")
    s = d.rsample((4,))
    assert s.shape == (4, 2) and bool(host(d.support.check(s)).all())


def test_beta_mode_is_the_first_coordinate_of_the_dirichlet_mode():
    """PyTorch's Beta.mode is Dirichlet([a, b]).mode[..., 0]: never outside [0, 1]
    ((a − 1)/(a + b − 2) gave 2 at a = 2, b = ½ and −1 at a = ½, b = 2)."""
    a = tg.tensor([2.0, 0.5, 3.0, 1.0, 2.0], dtype=tg.float64)
    b = tg.tensor([0.5, 2.0, 5.0, 1.0, 1.0], dtype=tg.float64)
    close(host(D.Beta(a, b).mode), np.array([1.0, 0.0, 2 / 6, math.nan, 1.0]), rtol=1e-12)


def test_kumaraswamy_log_prob_where_one_minus_x_to_the_a_rounds_to_one():
    """x = 0.01, a = 10, b = 2: xᵃ = 1e−20, so the transform chain's 1 − xᵃ is 1 and its
    Uniform base said −∞; the density is ab·x^(a−1)(1 − xᵃ)^(b−1)."""
    d = D.Kumaraswamy(tg.tensor([10.0], dtype=tg.float64), tg.tensor([2.0], dtype=tg.float64))
    expected = math.log(20) + 9 * math.log(0.01) + math.log1p(-1e-20)
    close(host(d.log_prob(tg.tensor([0.01], dtype=tg.float64))), np.array([expected]),
          rtol=1e-12)
