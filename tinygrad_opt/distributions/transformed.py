"""``TransformedDistribution``: the law of Y = f(X) for X from a base distribution and f a
chain of Transforms, and the families PyTorch builds that way (Weibull, Pareto, HalfNormal,
HalfCauchy, Kumaraswamy).

    sample     y = fₙ(...f₁(x)),  x ~ base
    log_prob   log p_Y(y) = log p_X(x) − Σₖ log |det ∂xₖ₊₁/∂xₖ|,   x = f⁻¹(y)   (walking
               the transforms backwards from y, one inverse and one log-det each)

The families, as PyTorch defines them:

    Weibull(λ, k)       X ~ Exp(1),          Y = λ·X^(1/k)
    Pareto(s, α)        X ~ Exp(α),          Y = s·eˣ
    HalfNormal(σ)       X ~ N(0, σ²),        Y = |X|
    HalfCauchy(γ)       X ~ Cauchy(0, γ),    Y = |X|
    Kumaraswamy(a, b)   U ~ U(0, 1),         Y = (1 − U^(1/b))^(1/a)
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.continuous import (EULER_GAMMA, Cauchy, Exponential, Normal,
                                                   Uniform)
from tinygrad_opt.distributions.distribution import (Distribution, broadcast_all,
                                                     sum_rightmost)
from tinygrad_opt.distributions.multivariate import Independent
from tinygrad_opt.distributions.transforms import (AbsTransform, AffineTransform,
                                                   ComposeTransform, ExpTransform,
                                                   PowerTransform, Transform)
from tinygrad_opt.tensor import Tensor

__all__ = ["TransformedDistribution", "Weibull", "Pareto", "HalfNormal", "HalfCauchy",
           "Kumaraswamy"]


class TransformedDistribution(Distribution):
    """The distribution of Y = fₙ(...f₁(X)), X ~ ``base_distribution``, for ``transforms``
    [f₁, ..., fₙ] (one Transform or a list):

        log p_Y(y) = log p_X(x) − Σₖ log |det ∂fₖ/∂x|   at the intermediate values.

    Its event has the dims of the base's event or of the transforms' events, whichever are
    more (a StickBreakingTransform makes a batch of Normals one distribution on the
    simplex); cdf and icdf exist for monotone elementwise chains (the ``sign`` of the chain
    flips the cdf where it decreases)."""

    arg_constraints: dict = {}

    def __init__(self, base_distribution: Distribution, transforms,
                 validate_args=None):
        if isinstance(transforms, Transform):
            self.transforms = [transforms]
        elif isinstance(transforms, list):
            if not all(isinstance(t, Transform) for t in transforms):
                raise ValueError("transforms must be a Transform or a list of Transforms")
            self.transforms = transforms
        else:
            raise ValueError(f"transforms must be a Transform or list, but was {transforms}")
        base_shape = base_distribution.batch_shape + base_distribution.event_shape
        base_event_dim = len(base_distribution.event_shape)
        transform = ComposeTransform(self.transforms)
        if len(base_shape) < transform.domain.event_dim:
            raise ValueError("base_distribution needs to have shape with size at least "
                             f"{transform.domain.event_dim}, but got {base_shape}.")
        forward_shape = transform.forward_shape(base_shape)
        expanded_base_shape = transform.inverse_shape(forward_shape)
        if base_shape != expanded_base_shape:       # the transforms' parameters broadcast
            base_batch_shape = expanded_base_shape[:len(expanded_base_shape) - base_event_dim]
            base_distribution = base_distribution.expand(base_batch_shape)
        reinterpreted_batch_ndims = transform.domain.event_dim - base_event_dim
        if reinterpreted_batch_ndims > 0:           # the transform couples batch dims
            base_distribution = Independent(base_distribution, reinterpreted_batch_ndims)
        self.base_dist = base_distribution
        change_in_event_dim = transform.codomain.event_dim - transform.domain.event_dim
        event_dim = max(transform.codomain.event_dim, base_event_dim + change_in_event_dim)
        cut = len(forward_shape) - event_dim
        super().__init__(forward_shape[:cut], forward_shape[cut:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """The base distribution expanded so that the result has ``batch_shape``; the same
        transforms."""
        batch_shape = tuple(batch_shape)
        new = object.__new__(type(self)) if _instance is None else _instance
        shape = batch_shape + self.event_shape
        for transform in reversed(self.transforms):
            shape = transform.inverse_shape(shape)
        base_batch_shape = shape[:len(shape) - len(self.base_dist.event_shape)]
        new.base_dist = self.base_dist.expand(base_batch_shape)
        new.transforms = self.transforms
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=False)
    def support(self):
        """The last transform's codomain (the base's support when there is none)."""
        if not self.transforms:
            return self.base_dist.support
        support = self.transforms[-1].codomain
        if len(self.event_shape) > support.event_dim:
            support = constraints.independent(support, len(self.event_shape) - support.event_dim)
        return support

    @property
    def has_rsample(self) -> bool:
        """The base distribution's."""
        return self.base_dist.has_rsample

    def sample(self, sample_shape=()):
        """fₙ(...f₁(x)), x a base sample, with no graph."""
        with tg.no_grad():
            x = self.base_dist.sample(sample_shape)
            for transform in self.transforms:
                x = transform(x)
            return x

    def rsample(self, sample_shape=()):
        """fₙ(...f₁(x)), x a reparameterized base sample: differentiable in the base's
        parameters and in the transforms'."""
        x = self.base_dist.rsample(sample_shape)
        for transform in self.transforms:
            x = transform(x)
        return x

    def log_prob(self, value):
        """log p_X(x) − Σₖ log |det ∂fₖ/∂x| (each log-det summed over the dims by which
        the distribution's event exceeds that transform's)."""
        if self._validate_args:
            self._validate_sample(value)
        event_dim = len(self.event_shape)
        log_prob = 0.0
        y = value
        for transform in reversed(self.transforms):
            x = transform.inv(y)
            event_dim += transform.domain.event_dim - transform.codomain.event_dim
            log_abs_det = transform.log_abs_det_jacobian(x, y)
            log_prob = log_prob - sum_rightmost(log_abs_det,
                                                event_dim - transform.domain.event_dim)
            y = x
        base_log_prob = self.base_dist.log_prob(y)
        return log_prob + sum_rightmost(base_log_prob,
                                        event_dim - len(self.base_dist.event_shape))

    def _monotonize_cdf(self, value):
        """value where the chain increases; 1 − value where it decreases."""
        sign = 1
        for transform in self.transforms:
            sign = sign * transform.sign
        if isinstance(sign, int) and sign == 1:
            return value
        return sign * (value - 0.5) + 0.5

    def cdf(self, value):
        """The base cdf at x = f⁻¹(y) (1 − that for a decreasing chain)."""
        for transform in self.transforms[::-1]:
            value = transform.inv(value)
        if self._validate_args:
            self.base_dist._validate_sample(value)
        return self._monotonize_cdf(self.base_dist.cdf(value))

    def icdf(self, value):
        """f(base icdf(q)) (of 1 − q for a decreasing chain)."""
        value = self.base_dist.icdf(self._monotonize_cdf(value))
        for transform in self.transforms:
            value = transform(value)
        return value

    def __repr__(self) -> str:
        if type(self) is TransformedDistribution:
            return f"TransformedDistribution({self.base_dist!r}, {self.transforms!r})"
        parts = []  # a family built on it: its own parameters (some are properties)
        for name in self.arg_constraints:
            value = getattr(self, name)
            parts.append(f"{name}: {value if value.numel() == 1 else tuple(value.shape)}")
        return f"{type(self).__name__}({', '.join(parts)})"


class Weibull(TransformedDistribution):
    """Weibull(scale λ, concentration k) on (0, ∞): p(x) = (k/λ)(x/λ)^(k−1) e^(−(x/λ)^k);
    built as λ·X^(1/k), X ~ Exp(1).

    mean = λ·Γ(1 + 1/k), mode = λ((k − 1)/k)^(1/k),
    variance = λ²(Γ(1 + 2/k) − Γ(1 + 1/k)²), entropy = γ(1 − 1/k) + log(λ/k) + 1."""

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args=None):
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base_dist = Exponential(tg.ones_like(self.scale), validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration_reciprocal),
                      AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """Weibull with λ and k broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        new = Weibull(self.scale.expand(batch_shape), self.concentration.expand(batch_shape),
                      validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        """λ·Γ(1 + 1/k)."""
        return self.scale * tg.lgamma(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self):
        """λ((k − 1)/k)^(1/k), PyTorch's formula also for k < 1, where it is no mode: NaN,
        or a real number where 1/k is an integer (k = 0.2: −1024·λ), as PyTorch gives."""
        ratio = (self.concentration - 1) / self.concentration
        return self.scale * ratio ** self.concentration_reciprocal

    @property
    def variance(self):
        """λ²(Γ(1 + 2/k) − Γ(1 + 1/k)²)."""
        second = tg.lgamma(1 + 2 * self.concentration_reciprocal).exp()
        first_squared = (2 * tg.lgamma(1 + self.concentration_reciprocal)).exp()
        return self.scale ** 2 * (second - first_squared)

    def entropy(self):
        """γ(1 − 1/k) + log(λ/k) + 1."""
        return (EULER_GAMMA * (1 - self.concentration_reciprocal)
                + (self.scale * self.concentration_reciprocal).log() + 1)


class Pareto(TransformedDistribution):
    """Pareto(scale s, alpha α) on [s, ∞): p(x) = α·s^α / x^(α+1); built as s·e^X, X ~ Exp(α).

    mean = αs/(α − 1) (∞ for α ≤ 1), mode = s, variance = s²α/((α − 1)²(α − 2))
    (∞ for α ≤ 2), entropy = log(s/α) + 1 + 1/α."""

    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base_dist = Exponential(self.alpha, validate_args=validate_args)
        transforms = [ExpTransform(), AffineTransform(loc=0, scale=self.scale)]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """Pareto with s and α broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        new = Pareto(self.scale.expand(batch_shape), self.alpha.expand(batch_shape),
                     validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=False)
    def support(self):
        """greater_than_eq(s)."""
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self):
        """αs/(α − 1), ∞ where α ≤ 1."""
        alpha = tg.where(self.alpha > 1, self.alpha, 2.0)         # no 0/0 on the masked side
        return tg.where(self.alpha > 1, alpha * self.scale / (alpha - 1), math.inf)

    @property
    def mode(self):
        """s."""
        return self.scale

    @property
    def variance(self):
        """s²α/((α − 1)²(α − 2)), ∞ where α ≤ 2."""
        alpha = tg.where(self.alpha > 2, self.alpha, 3.0)         # no 0/0 on the masked side
        finite = self.scale ** 2 * alpha / ((alpha - 1) ** 2 * (alpha - 2))
        return tg.where(self.alpha > 2, finite, math.inf)

    def entropy(self):
        """log(s/α) + 1 + 1/α."""
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())


class HalfNormal(TransformedDistribution):
    """|X| for X ~ N(0, σ²), on [0, ∞): p(x) = 2·N(x; 0, σ).

    mean = σ√(2/π), mode = 0, variance = σ²(1 − 2/π), entropy = H(N(0, σ)) − log 2,
    cdf = 2Φ(x/σ) − 1."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        base_dist = Normal(0, scale, validate_args=False)
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """HalfNormal with σ broadcast to ``batch_shape``."""
        new = HalfNormal(self.scale.expand(tuple(batch_shape)), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def scale(self):
        """σ."""
        return self.base_dist.scale

    @property
    def mean(self):
        """σ√(2/π)."""
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self):
        """0."""
        return tg.zeros_like(self.scale)

    @property
    def variance(self):
        """σ²(1 − 2/π)."""
        return self.scale ** 2 * (1 - 2 / math.pi)

    def log_prob(self, value):
        """log N(x; 0, σ) + log 2 for x ≥ 0, −∞ below."""
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.base_dist.log_prob(value) + math.log(2)
        return tg.where(value >= 0, log_prob, -math.inf)

    def cdf(self, value):
        """2Φ(x/σ) − 1."""
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        """σ·Φ⁻¹((q + 1)/2)."""
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        """H(N(0, σ)) − log 2."""
        return self.base_dist.entropy() - math.log(2)


class HalfCauchy(TransformedDistribution):
    """|X| for X ~ Cauchy(0, γ), on [0, ∞): p(x) = 2/(πγ(1 + (x/γ)²)).

    mean = variance = ∞, mode = 0, entropy = log(4πγ) − log 2, cdf = (2/π)·atan(x/γ)."""

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale, validate_args=None):
        base_dist = Cauchy(0, scale, validate_args=False)
        super().__init__(base_dist, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """HalfCauchy with γ broadcast to ``batch_shape``."""
        new = HalfCauchy(self.scale.expand(tuple(batch_shape)), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def scale(self):
        """γ."""
        return self.base_dist.scale

    @property
    def mean(self):
        """∞."""
        return tg.full_like(self.scale, math.inf)

    @property
    def mode(self):
        """0."""
        return tg.zeros_like(self.scale)

    @property
    def variance(self):
        """∞."""
        return tg.full_like(self.scale, math.inf)

    def log_prob(self, value):
        """log Cauchy(x; 0, γ) + log 2 for x ≥ 0, −∞ below."""
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.base_dist.log_prob(value) + math.log(2)
        return tg.where(value >= 0, log_prob, -math.inf)

    def cdf(self, value):
        """2·F_Cauchy(x) − 1."""
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        """F_Cauchy⁻¹((q + 1)/2)."""
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        """log(4πγ) − log 2."""
        return self.base_dist.entropy() - math.log(2)


def _kumaraswamy_moment(a: Tensor, b: Tensor, n: int) -> Tensor:
    """E[Xⁿ] = b·B(1 + n/a, b) = b·Γ(1 + n/a)Γ(b)/Γ(1 + n/a + b)."""
    arg = 1 + n / a
    log_value = tg.lgamma(arg) + tg.lgamma(b) - tg.lgamma(arg + b)
    return b * log_value.exp()


class Kumaraswamy(TransformedDistribution):
    """Kumaraswamy(concentration1 a, concentration0 b) on [0, 1]:
    p(x) = ab·x^(a−1)(1 − xᵃ)^(b−1), cdf = 1 − (1 − xᵃ)ᵇ; built as (1 − U^(1/b))^(1/a).

    E[Xⁿ] = b·B(1 + n/a, b), mode = ((a − 1)/(ab − 1))^(1/a) (a, b ≥ 1),
    entropy = (1 − 1/b) + (1 − 1/a)(ψ(b + 1) + γ) − log a − log b."""

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1, concentration0)
        base_dist = Uniform(tg.zeros_like(self.concentration0),
                            tg.ones_like(self.concentration0), validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()),
                      AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base_dist, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """Kumaraswamy with a and b broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        new = Kumaraswamy(self.concentration1.expand(batch_shape),
                          self.concentration0.expand(batch_shape), validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        """b·B(1 + 1/a, b)."""
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        """((a − 1)/(ab − 1))^(1/a) where a ≥ 1 and b ≥ 1, NaN elsewhere."""
        a, b = self.concentration1, self.concentration0
        defined = (a >= 1) & (b >= 1) & (a * b > 1)
        safe_a, safe_b = tg.where(defined, a, 2.0), tg.where(defined, b, 2.0)
        mode = ((safe_a - 1) / (safe_a * safe_b - 1)) ** safe_a.reciprocal()
        return tg.where(defined, mode, math.nan)

    @property
    def variance(self):
        """E[X²] − E[X]²."""
        second = _kumaraswamy_moment(self.concentration1, self.concentration0, 2)
        return second - self.mean ** 2

    def log_prob(self, value):
        """log a + log b + (a − 1)·log x + (b − 1)·log(1 − xᵃ), written out: through the
        chain of transforms 1 − xᵃ rounds to 1 where xᵃ < eps/2 (x = 0.01, a = 10), and
        the Uniform base gives −∞ at 1 (as PyTorch's chain does) for a density of e^−37.7."""
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return (a.log() + b.log() + tg.xlogy(a - 1, value)
                + tg.special.xlog1py(b - 1, -(value ** a)))

    def entropy(self):
        """(1 − 1/b) + (1 − 1/a)(ψ(b + 1) + γ) − log a − log b."""
        t1 = 1 - self.concentration1.reciprocal()
        t0 = 1 - self.concentration0.reciprocal()
        harmonic = tg.digamma(self.concentration0 + 1) + EULER_GAMMA
        return t0 + t1 * harmonic - self.concentration1.log() - self.concentration0.log()
