"""Continuous families over numbers: Normal, Uniform, Exponential, Laplace, Cauchy, LogNormal,
Gumbel, StudentT, Gamma, Beta; and Dirichlet over the simplex.

Each ``rsample`` writes the draw as a function of the parameters and of parameter-free
noise (u ~ U(0, 1) or ε ~ N(0, 1)), so the gradient reaches the parameters:

    Normal       x = μ + σ·ε
    Uniform      x = low + (high − low)·u
    Exponential  x = −log(1 − u) / λ
    Laplace      x = μ − b·sign(u)·log(1 − |u|),   u ~ U(−1, 1)
    Cauchy       x = μ + γ·tan(π(u − ½))
    Gumbel       x = μ − β·log(−log u)
    LogNormal    x = exp(μ + σ·ε)

Gamma has no such formula: its draw comes from the seeded host generator and its gradient
from implicit reparameterization (``standard_gamma``); Beta, Dirichlet and StudentT are
built from Gamma draws, so they have ``rsample`` too.
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd import forward_ad
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.distribution import (Distribution, broadcast_all,
                                                     host_draws, normal_noise, uniform_noise)
from tinygrad_opt.distributions.exp_family import ExponentialFamily
from tinygrad_opt.ops.elementwise import constant
from tinygrad_opt.tensor import Tensor

__all__ = ["Normal", "Uniform", "Exponential", "Laplace", "Cauchy", "LogNormal", "Gumbel",
           "StudentT", "Gamma", "Chi2", "Beta", "Dirichlet", "standard_gamma"]

EULER_GAMMA = 0.57721566490153286061  # γ = −ψ(1), the Euler–Mascheroni constant


def _batch_shape(*parameters) -> tuple:
    """The batch shape of broadcast parameters: () when all were numbers."""
    tensors = [p for p in parameters if isinstance(p, Tensor)]
    return backend.broadcast_shapes(*(t.shape for t in tensors)) if tensors else ()


def _full(like: Tensor, value: float) -> Tensor:
    """``value`` in ``like``'s shape, dtype and device (no gradient)."""
    return tg.full_like(like, value)


# --- the Gamma draw and its implicit gradient ---

def _gamma_sample_grad(x, alpha):
    """dx/dα for x ~ Gamma(α, 1) (arrays, float64), by implicit reparameterization:
    x is held where its CDF P(α, x) stays fixed, so

        dx/dα = −(∂P(α, x)/∂α) / p(x; α),    p(x; α) = x^(α−1) e^(−x) / Γ(α).

    With P(α, x) = Σₙ x^(α+n) e^(−x) / Γ(α+n+1) (n ≥ 0) and ∂/∂α of each term
    = term·(log x − ψ(α+n+1)), dividing by p gives

        dx/dα = −Σₙ rₙ·(log x − ψ(α+n+1)),   r₀ = x/α,   rₙ = rₙ₋₁·x/(α+n),

    summed until the terms are below 1e−16 of the total (after n passes x − α, they
    shrink geometrically). No exp or Γ is evaluated, so nothing over- or underflows."""
    xp = backend.xp_of(x)
    log_x = xp.log(x)
    psi = tg.digamma(constant(alpha)).data + 1 / alpha   # ψ(α + 1)
    r = x / alpha                                        # r₀
    total = -r * (log_x - psi)
    for n in range(1, 100_000):
        k = alpha + n
        r = r * x / k                                    # rₙ
        psi = psi + 1 / k                                # ψ(α + n + 1)
        term = -r * (log_x - psi)
        total = total + term
        if n % 32 == 0 and bool(((k > x) & (xp.abs(term) <= 1e-16 * xp.abs(total))).all()):
            break
    return total


def standard_gamma(concentration: Tensor, shape: tuple) -> Tensor:
    """Samples x ~ Gamma(α, 1) of ``shape`` (α = ``concentration``, broadcast), drawn by the
    seeded host generator, with dx/dα by implicit reparameterization (``_gamma_sample_grad``):
    the result is x + (dx/dα)·(α − stop_gradient(α)), x's value with that gradient.

    Forward mode (a dual α) is refused, as PyTorch's ``_standard_gamma`` has no forward
    derivative."""
    if forward_ad._argument_tangents((concentration,)) is not None:
        raise NotImplementedError(
            "standard_gamma: Trying to use forward AD with _standard_gamma that does not "
            "support it because it has not been implemented yet (as in PyTorch)")
    alpha = concentration.expand(shape)
    draws = host_draws(lambda rng, a, size: rng.standard_gamma(a, size), (alpha,), shape, alpha)
    tiny = tg.finfo(alpha.dtype).tiny
    draws = draws.clamp(min=tiny)                  # float32 draws of a small α can round to 0
    if not (tg.is_grad_enabled() and alpha.requires_grad):
        return draws
    x = draws.data.astype(backend.float64)
    grad = _gamma_sample_grad(x, alpha.detach().data.astype(backend.float64))
    grad = constant(grad.astype(alpha.dtype))
    return draws + grad * (alpha - alpha.detach())


# --- families ---

class Normal(ExponentialFamily):
    """N(loc, scale²): p(x) = exp(−(x − μ)²/(2σ²)) / (σ√(2π)).

    mean = mode = μ, variance = σ², entropy = ½ + ½·log(2π) + log σ,
    cdf = ½(1 + erf((x − μ)/(σ√2))), icdf(q) = μ + σ√2·erfinv(2q − 1)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape(loc, scale), validate_args=validate_args)

    @property
    def mean(self):
        """μ."""
        return self.loc

    @property
    def mode(self):
        """μ."""
        return self.loc

    @property
    def stddev(self):
        """σ."""
        return self.scale

    @property
    def variance(self):
        """σ²."""
        return self.scale ** 2

    def rsample(self, sample_shape=()):
        """x = μ + σ·ε, ε ~ N(0, 1)."""
        shape = self._extended_shape(sample_shape)
        return self.loc + normal_noise(shape, self.loc) * self.scale

    def log_prob(self, value):
        """−(x − μ)²/(2σ²) − log σ − log √(2π)."""
        if self._validate_args:
            self._validate_sample(value)
        variance = self.scale ** 2
        return (-((value - self.loc) ** 2) / (2 * variance) - self.scale.log()
                - math.log(math.sqrt(2 * math.pi)))

    def cdf(self, value):
        """½(1 + erf((x − μ)/(σ√2)))."""
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + tg.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        """μ + σ√2·erfinv(2q − 1)."""
        return self.loc + self.scale * tg.erfinv(2 * value - 1) * math.sqrt(2)

    @property
    def _natural_params(self) -> tuple:
        """θ = (μ/σ², −1/(2σ²)), for t(x) = (x, x²)."""
        return self.loc / self.scale ** 2, -0.5 * self.scale ** -2

    def _log_normalizer(self, x, y):
        """F(θ) = −θ₁²/(4θ₂) + ½·log(−π/θ₂)."""
        return -0.25 * x ** 2 / y + 0.5 * (-math.pi / y).log()

    _mean_carrier_measure = 0

    def entropy(self):
        """½ + ½·log(2π) + log σ."""
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()


class Uniform(Distribution):
    """U[low, high): density 1/(high − low) on the interval.

    mean = (low + high)/2, variance = (high − low)²/12, entropy = log(high − low),
    cdf = clamp((x − low)/(high − low), 0, 1)."""

    arg_constraints = {"low": constraints.dependent(is_discrete=False, event_dim=0),
                       "high": constraints.dependent(is_discrete=False, event_dim=0)}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_all(low, high)
        super().__init__(_batch_shape(low, high), validate_args=validate_args)
        if self._validate_args and not bool((self.low < self.high).all().item()):
            raise ValueError("Uniform is not defined when low>= high")

    @constraints.dependent_property
    def support(self):
        """interval(low, high)."""
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        """(low + high)/2."""
        return (self.high + self.low) / 2

    @property
    def mode(self):
        """NaN: every point of the interval is as likely."""
        return self.high * math.nan

    @property
    def stddev(self):
        """(high − low)/√12."""
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        """(high − low)²/12."""
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        """x = low + (high − low)·u, u ~ U[0, 1)."""
        shape = self._extended_shape(sample_shape)
        return self.low + uniform_noise(shape, self.low) * (self.high - self.low)

    def log_prob(self, value):
        """−log(high − low) inside [low, high), −∞ outside."""
        if self._validate_args:
            self._validate_sample(value)
        inside = ((self.low <= value) & (self.high > value)).astype(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def cdf(self, value):
        """clamp((x − low)/(high − low), 0, 1)."""
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        """low + q·(high − low)."""
        return value * (self.high - self.low) + self.low

    def entropy(self):
        """log(high − low)."""
        return (self.high - self.low).log()


class Exponential(ExponentialFamily):
    """Exp(rate λ): p(x) = λ·e^(−λx), x ≥ 0.

    mean = 1/λ, variance = 1/λ², entropy = 1 − log λ, cdf = 1 − e^(−λx)."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(_batch_shape(rate), validate_args=validate_args)

    @property
    def mean(self):
        """1/λ."""
        return self.rate.reciprocal()

    @property
    def mode(self):
        """0."""
        return tg.zeros_like(self.rate)

    @property
    def stddev(self):
        """1/λ."""
        return self.rate.reciprocal()

    @property
    def variance(self):
        """1/λ²."""
        return self.rate ** -2

    def rsample(self, sample_shape=()):
        """x = −log(1 − u)/λ."""
        u = uniform_noise(self._extended_shape(sample_shape), self.rate)
        return -(-u).log1p() / self.rate

    def log_prob(self, value):
        """log λ − λx."""
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        """1 − e^(−λx)."""
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        """−log(1 − q)/λ."""
        return -(-value).log1p() / self.rate

    @property
    def _natural_params(self) -> tuple:
        """θ = (−λ,), for t(x) = x."""
        return (-self.rate,)

    def _log_normalizer(self, x):
        """F(θ) = −log(−θ)."""
        return -(-x).log()

    _mean_carrier_measure = 0

    def entropy(self):
        """1 − log λ."""
        return 1.0 - self.rate.log()


class Laplace(Distribution):
    """Laplace(loc μ, scale b): p(x) = e^(−|x − μ|/b) / (2b).

    mean = mode = μ, variance = 2b², entropy = 1 + log(2b),
    cdf = ½ − ½·sign(x − μ)·(e^(−|x − μ|/b) − 1)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape(loc, scale), validate_args=validate_args)

    @property
    def mean(self):
        """μ."""
        return self.loc

    @property
    def mode(self):
        """μ."""
        return self.loc

    @property
    def variance(self):
        """2b²."""
        return 2 * self.scale ** 2

    @property
    def stddev(self):
        """√2·b."""
        return 2 ** 0.5 * self.scale

    def rsample(self, sample_shape=()):
        """x = μ − b·sign(u)·log(1 − |u|), u ~ U(−1 + eps, 1)."""
        eps = tg.finfo(self.loc.dtype).eps
        u = uniform_noise(self._extended_shape(sample_shape), self.loc, eps - 1, 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        """−log(2b) − |x − μ|/b."""
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        """½ − ½·sign(x − μ)·expm1(−|x − μ|/b)."""
        if self._validate_args:
            self._validate_sample(value)
        difference = value - self.loc
        return 0.5 - 0.5 * difference.sign() * (-difference.abs() / self.scale).expm1()

    def icdf(self, value):
        """μ − b·sign(q − ½)·log(1 − 2|q − ½|)."""
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self):
        """1 + log(2b)."""
        return 1 + (2 * self.scale).log()


class Cauchy(Distribution):
    """Cauchy(loc μ, scale γ): p(x) = 1 / (πγ(1 + ((x − μ)/γ)²)).

    No mean or variance (NaN and ∞, as PyTorch); mode = μ, entropy = log(4πγ),
    cdf = atan((x − μ)/γ)/π + ½."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape(loc, scale), validate_args=validate_args)

    @property
    def mean(self):
        """NaN: the integral does not converge."""
        return _full(self.loc, math.nan)

    @property
    def mode(self):
        """μ."""
        return self.loc

    @property
    def variance(self):
        """∞."""
        return _full(self.loc, math.inf)

    def rsample(self, sample_shape=()):
        """x = μ + γ·tan(π(u − ½))."""
        u = uniform_noise(self._extended_shape(sample_shape), self.loc)
        return self.loc + self.scale * (math.pi * (u - 0.5)).tan()

    def log_prob(self, value):
        """−log π − log γ − log(1 + ((x − μ)/γ)²)."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (z ** 2).log1p()

    def cdf(self, value):
        """atan((x − μ)/γ)/π + ½."""
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        """μ + γ·tan(π(q − ½))."""
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        """log(4π) + log γ."""
        return math.log(4 * math.pi) + self.scale.log()


class LogNormal(Distribution):
    """X = e^Y with Y ~ N(loc μ, scale σ²): p(x) = N(log x; μ, σ) / x, x > 0.

    mean = e^(μ + σ²/2), mode = e^(μ − σ²), variance = (e^(σ²) − 1)·e^(2μ + σ²),
    entropy = H(N(μ, σ)) + μ. ``base_dist`` is the Normal of log X."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.base_dist = Normal(loc, scale, validate_args=validate_args)
        self.loc, self.scale = self.base_dist.loc, self.base_dist.scale
        super().__init__(self.base_dist.batch_shape, validate_args=validate_args)

    @property
    def mean(self):
        """e^(μ + σ²/2)."""
        return (self.loc + self.scale ** 2 / 2).exp()

    @property
    def mode(self):
        """e^(μ − σ²)."""
        return (self.loc - self.scale ** 2).exp()

    @property
    def variance(self):
        """(e^(σ²) − 1)·e^(2μ + σ²)."""
        scale_squared = self.scale ** 2
        return scale_squared.expm1() * (2 * self.loc + scale_squared).exp()

    def rsample(self, sample_shape=()):
        """x = e^(μ + σ·ε)."""
        return self.base_dist.rsample(sample_shape).exp()

    def log_prob(self, value):
        """log N(log x; μ, σ) − log x."""
        if self._validate_args:
            self._validate_sample(value)
        log_value = value.log()
        return self.base_dist.log_prob(log_value) - log_value

    def cdf(self, value):
        """Φ((log x − μ)/σ)."""
        if self._validate_args:
            self._validate_sample(value)
        return self.base_dist.cdf(value.log())

    def icdf(self, value):
        """e^(icdf of the Normal)."""
        return self.base_dist.icdf(value).exp()

    def entropy(self):
        """H(N(μ, σ)) + μ."""
        return self.base_dist.entropy() + self.loc


class Gumbel(Distribution):
    """Gumbel(loc μ, scale β): with z = (x − μ)/β, p(x) = e^(−(z + e^(−z)))/β.

    mean = μ + βγ (γ Euler's constant), mode = μ, variance = (πβ)²/6,
    entropy = log β + 1 + γ, cdf = e^(−e^(−z))."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape(loc, scale), validate_args=validate_args)

    @property
    def mean(self):
        """μ + βγ."""
        return self.loc + self.scale * EULER_GAMMA

    @property
    def mode(self):
        """μ."""
        return self.loc

    @property
    def stddev(self):
        """πβ/√6."""
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        """(πβ)²/6."""
        return self.stddev ** 2

    def rsample(self, sample_shape=()):
        """x = μ − β·log(−log u), u in (tiny, 1 − eps)."""
        finfo = tg.finfo(self.loc.dtype)
        u = uniform_noise(self._extended_shape(sample_shape), self.loc)
        u = u.clamp(min=finfo.tiny, max=1 - finfo.eps)
        return self.loc - self.scale * (-u.log()).log()

    def log_prob(self, value):
        """−(z + e^(−z)) − log β."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -(z + (-z).exp()) - self.scale.log()

    def cdf(self, value):
        """e^(−e^(−z))."""
        if self._validate_args:
            self._validate_sample(value)
        return (-(-(value - self.loc) / self.scale).exp()).exp()

    def icdf(self, value):
        """μ − β·log(−log q)."""
        return self.loc - self.scale * (-value.log()).log()

    def entropy(self):
        """log β + 1 + γ."""
        return self.scale.log() + (1 + EULER_GAMMA)


class Gamma(ExponentialFamily):
    """Gamma(concentration α, rate λ): p(x) = λ^α x^(α−1) e^(−λx) / Γ(α), x ≥ 0.

    mean = α/λ, mode = max((α − 1)/λ, 0), variance = α/λ²,
    entropy = α − log λ + log Γ(α) + (1 − α)·ψ(α), cdf = P(α, λx) (regularized lower
    incomplete gamma).
    ``rsample`` draws x/λ with x ~ Gamma(α, 1) from ``standard_gamma``."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(_batch_shape(concentration, rate), validate_args=validate_args)

    @property
    def mean(self):
        """α/λ."""
        return self.concentration / self.rate

    @property
    def mode(self):
        """max((α − 1)/λ, 0)."""
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        """α/λ²."""
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=()):
        """x/λ, x ~ Gamma(α, 1), clamped to the dtype's tiny above 0."""
        shape = self._extended_shape(sample_shape)
        value = standard_gamma(self.concentration, shape) / self.rate.expand(shape)
        return value.clamp(min=tg.finfo(value.dtype).tiny)

    def log_prob(self, value):
        """α·log λ + (α − 1)·log x − λx − log Γ(α). ``value`` is first made a tensor of
        λ's dtype (numbers too, as PyTorch's ``torch.as_tensor``), then validated."""
        if not isinstance(value, Tensor):
            value = tg.tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        elif value.dtype != self.rate.dtype:
            value = value.astype(self.rate.dtype)
        if self._validate_args:
            self._validate_sample(value)
        return (tg.xlogy(self.concentration, self.rate)
                + tg.xlogy(self.concentration - 1, value)
                - self.rate * value - tg.lgamma(self.concentration))

    def cdf(self, value):
        """P(α, λx), the regularized lower incomplete gamma function."""
        if self._validate_args:
            self._validate_sample(value)
        return tg.special.gammainc(self.concentration, self.rate * value)

    @property
    def _natural_params(self) -> tuple:
        """θ = (α − 1, −λ), for t(x) = (log x, x)."""
        return self.concentration - 1, -self.rate

    def _log_normalizer(self, x, y):
        """F(θ) = log Γ(θ₁ + 1) − (θ₁ + 1)·log(−θ₂)."""
        return (x + 1).lgamma() - (x + 1) * (-y).log()

    _mean_carrier_measure = 0

    def entropy(self):
        """α − log λ + log Γ(α) + (1 − α)·ψ(α)."""
        return (self.concentration - self.rate.log() + tg.lgamma(self.concentration)
                + (1.0 - self.concentration) * tg.digamma(self.concentration))


class Chi2(Gamma):
    """χ²(df) = Gamma(df/2, ½): the sum of df squared standard normals. mean = df,
    variance = 2·df."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        (self.df,) = broadcast_all(df)
        super().__init__(0.5 * self.df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """Chi2 with df broadcast to ``batch_shape`` (and this one's validation setting)."""
        new = Chi2(self.df.expand(tuple(batch_shape)), validate_args=False)
        new._validate_args = self._validate_args
        return new


class Beta(ExponentialFamily):
    """Beta(concentration1 a, concentration0 b) on [0, 1]:
    p(x) = x^(a−1)(1 − x)^(b−1) / B(a, b),   log B(a, b) = log Γ(a) + log Γ(b) − log Γ(a + b).

    mean = a/(a + b), mode = (a − 1)/(a + b − 2), variance = ab/((a + b)²(a + b + 1)),
    entropy = log B(a, b) − (a − 1)ψ(a) − (b − 1)ψ(b) + (a + b − 2)ψ(a + b).
    ``rsample``: X/(X + Y) with X ~ Gamma(a, 1), Y ~ Gamma(b, 1)."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        batch_shape = _batch_shape(concentration1, concentration0)
        super().__init__(batch_shape, validate_args=validate_args)

    def _log_beta(self):
        a, b = self.concentration1, self.concentration0
        return tg.lgamma(a) + tg.lgamma(b) - tg.lgamma(a + b)

    @property
    def mean(self):
        """a/(a + b)."""
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        """The first coordinate of Dirichlet([a, b]).mode, as PyTorch: (a − 1)/(a + b − 2)
        where a, b ≥ 1 (NaN at a = b = 1); 1 where b < 1 ≤ a and 0 where a < 1 ≤ b (the end
        where the density grows without bound); where a, b < 1, the end of the larger."""
        pair = tg.stack([self.concentration1, self.concentration0], -1)
        return Dirichlet(pair, validate_args=False).mode[..., 0]

    @property
    def variance(self):
        """ab/((a + b)²(a + b + 1))."""
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        """X/(X + Y), X ~ Gamma(a, 1), Y ~ Gamma(b, 1)."""
        shape = self._extended_shape(sample_shape)
        x = standard_gamma(self.concentration1, shape)
        y = standard_gamma(self.concentration0, shape)
        return x / (x + y)

    def log_prob(self, value):
        """(a − 1)·log x + (b − 1)·log(1 − x) − log B(a, b)."""
        if self._validate_args:
            self._validate_sample(value)
        return (tg.xlogy(self.concentration1 - 1, value)
                + tg.xlogy(self.concentration0 - 1, 1 - value) - self._log_beta())

    @property
    def _natural_params(self) -> tuple:
        """θ = (a, b), for t(x) = (log x, log(1 − x)) (the carrier −log x(1 − x) is left out,
        as PyTorch: Bregman gives the KL, not the entropy)."""
        return self.concentration1, self.concentration0

    def _log_normalizer(self, x, y):
        """F(θ) = log B(θ₁, θ₂) = log Γ(θ₁) + log Γ(θ₂) − log Γ(θ₁ + θ₂)."""
        return x.lgamma() + y.lgamma() - (x + y).lgamma()

    def entropy(self):
        """log B(a, b) − (a − 1)ψ(a) − (b − 1)ψ(b) + (a + b − 2)ψ(a + b)."""
        a, b = self.concentration1, self.concentration0
        return (self._log_beta() - (a - 1) * tg.digamma(a) - (b - 1) * tg.digamma(b)
                + (a + b - 2) * tg.digamma(a + b))


class Dirichlet(ExponentialFamily):
    """Dirichlet(concentration α) on the simplex (event shape (K,)), α₀ = Σ αᵢ:
    p(x) = Γ(α₀)/Πᵢ Γ(αᵢ) · Πᵢ xᵢ^(αᵢ−1).

    mean = α/α₀, variance = α(α₀ − α)/(α₀²(α₀ + 1)),
    entropy = Σ log Γ(αᵢ) − log Γ(α₀) − (K − α₀)ψ(α₀) − Σ (αᵢ − 1)ψ(αᵢ).
    ``rsample``: Gamma draws gᵢ ~ Gamma(αᵢ, 1) normalised, g / Σ g."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if not isinstance(concentration, Tensor) or concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    @property
    def mean(self):
        """α/α₀."""
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        """(α − 1)⁺ normalised; where every αᵢ < 1, a vertex (the largest αᵢ); NaN where
        no αᵢ exceeds 1 but some equals 1 (0/0: no single most likely point, as PyTorch)."""
        alpha_minus_one = (self.concentration - 1).clamp(min=0.0)
        total = alpha_minus_one.sum(-1, keepdim=True)
        mode = alpha_minus_one / tg.where(total > 0, total, 1.0)     # (0 where all αᵢ ≤ 1)
        mode = tg.where(total > 0, mode, math.nan)
        vertex = tg.nn.functional.one_hot(self.concentration.argmax(-1),
                                          self.concentration.shape[-1])
        all_below_one = (self.concentration < 1).all(-1, keepdim=True)
        return tg.where(all_below_one, vertex.astype(mode.dtype), mode)

    @property
    def variance(self):
        """α(α₀ − α)/(α₀²(α₀ + 1))."""
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        """g / Σ g, gᵢ ~ Gamma(αᵢ, 1)."""
        gammas = standard_gamma(self.concentration, self._extended_shape(sample_shape))
        return gammas / gammas.sum(-1, keepdim=True)

    def log_prob(self, value):
        """Σ (αᵢ − 1)·log xᵢ + log Γ(α₀) − Σ log Γ(αᵢ)."""
        if self._validate_args:
            self._validate_sample(value)
        return (tg.xlogy(self.concentration - 1.0, value).sum(-1)
                + tg.lgamma(self.concentration.sum(-1)) - tg.lgamma(self.concentration).sum(-1))

    @property
    def _natural_params(self) -> tuple:
        """θ = (α,), for t(x) = log x (the carrier −Σ log xᵢ left out, as PyTorch)."""
        return (self.concentration,)

    def _log_normalizer(self, x):
        """F(θ) = Σ log Γ(θᵢ) − log Γ(Σ θᵢ)."""
        return x.lgamma().sum(-1) - x.sum(-1).lgamma()

    def entropy(self):
        """Σ log Γ(αᵢ) − log Γ(α₀) − (K − α₀)ψ(α₀) − Σ (αᵢ − 1)ψ(αᵢ)."""
        k = self.concentration.shape[-1]
        total = self.concentration.sum(-1)
        return (tg.lgamma(self.concentration).sum(-1) - tg.lgamma(total)
                - (k - total) * tg.digamma(total)
                - ((self.concentration - 1.0) * tg.digamma(self.concentration)).sum(-1))


class StudentT(Distribution):
    """Student's t(df ν, loc μ, scale σ): with y = (x − μ)/σ,
    p(x) = Γ((ν+1)/2) / (Γ(ν/2)·√(νπ)·σ) · (1 + y²/ν)^(−(ν+1)/2).

    mean = μ (NaN for ν ≤ 1), mode = μ, variance = σ²ν/(ν − 2) (∞ for 1 < ν ≤ 2, NaN
    for ν ≤ 1). ``rsample``: μ + σ·ε/√(Z/ν), ε ~ N(0, 1), Z ~ χ²(ν)."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        super().__init__(_batch_shape(df, loc, scale), validate_args=validate_args)

    @property
    def mean(self):
        """μ, NaN where ν ≤ 1."""
        return tg.where(self.df > 1, self.loc, math.nan)

    @property
    def mode(self):
        """μ."""
        return self.loc

    @property
    def variance(self):
        """σ²ν/(ν − 2) for ν > 2, ∞ for 1 < ν ≤ 2, NaN for ν ≤ 1."""
        safe_df = tg.where(self.df > 2, self.df, 3.0)            # no 0/0 on the masked side
        finite = self.scale ** 2 * safe_df / (safe_df - 2)
        infinite_or_nan = tg.where(self.df > 1, _full(finite, math.inf), math.nan)
        return tg.where(self.df > 2, finite, infinite_or_nan)

    def rsample(self, sample_shape=()):
        """μ + σ·ε·√(ν/Z), ε ~ N(0, 1), Z = 2·Gamma(ν/2, 1) ~ χ²(ν)."""
        shape = self._extended_shape(sample_shape)
        epsilon = normal_noise(shape, self.loc)
        chi2 = 2 * standard_gamma(0.5 * self.df, shape)
        return self.loc + self.scale * epsilon * (chi2 / self.df).rsqrt()

    def log_prob(self, value):
        """−((ν+1)/2)·log(1 + y²/ν) − log σ − ½log ν − ½log π − log Γ(ν/2) + log Γ((ν+1)/2)."""
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        normalizer = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi)
                      + tg.lgamma(0.5 * self.df) - tg.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * (y ** 2 / self.df).log1p() - normalizer

    def entropy(self):
        """log σ + ((ν+1)/2)(ψ((ν+1)/2) − ψ(ν/2)) + ½log ν + log B(ν/2, ½)."""
        log_beta = (tg.lgamma(0.5 * self.df) + math.lgamma(0.5)
                    - tg.lgamma(0.5 * (self.df + 1)))
        return (self.scale.log()
                + 0.5 * (self.df + 1) * (tg.digamma(0.5 * (self.df + 1))
                                         - tg.digamma(0.5 * self.df))
                + 0.5 * self.df.log() + log_beta)
