"""More families with PyTorch's names: FisherSnedecor, InverseGamma, GeneralizedPareto,
LogisticNormal, OneHotCategoricalStraightThrough, and over matrices Wishart and LKJCholesky.

    FisherSnedecor(d₁, d₂)      Y = (X₁/d₁)/(X₂/d₂),  X₁ ~ χ²(d₁), X₂ ~ χ²(d₂)   (Gamma draws)
    InverseGamma(α, λ)          Y = 1/X,               X ~ Gamma(α, λ)
    GeneralizedPareto(μ, σ, ξ)  Y = μ + σ·((1 − u)^(−ξ) − 1)/ξ,  u ~ U(0, 1)     (icdf of u)
    LogisticNormal(μ, σ)        Y = stick_breaking(X), X ~ N(μ, σ²) on ℝᴷ⁻¹
    OneHotCategoricalStraightThrough(p)
                                one-hot sample s, with ∂s/∂p taken as 1: s + (p − stop_grad(p))
    Wishart(ν, Σ = L Lᵀ)        X = (L A)(L A)ᵀ, A lower triangular with Aᵢᵢ² ~ χ²(ν − i) and
                                Aᵢⱼ ~ N(0, 1) below the diagonal (the Bartlett decomposition)
    LKJCholesky(d, η)           the Cholesky factor of a correlation matrix with density
                                ∝ det(C)^(η−1), drawn row by row (the onion method)

InverseGamma and LogisticNormal are TransformedDistributions, as in PyTorch.
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt.distributions import constraints
from tinygrad_opt import backend
from tinygrad_opt.distributions.continuous import Beta, Gamma, Normal, _batch_shape, standard_gamma
from tinygrad_opt.distributions.discrete import OneHotCategorical
from tinygrad_opt.distributions.distribution import (Distribution, broadcast_all, normal_noise,
                                                     uniform_noise)
from tinygrad_opt.distributions.exp_family import ExponentialFamily
from tinygrad_opt.distributions.multivariate import (CholeskyMatrices, scale_tril_of,
                                                     square_matrices)
from tinygrad_opt.distributions.transformed import TransformedDistribution
from tinygrad_opt.distributions.transforms import PowerTransform, StickBreakingTransform
from tinygrad_opt.tensor import Tensor

__all__ = ["FisherSnedecor", "GeneralizedPareto", "InverseGamma", "LKJCholesky",
           "LogisticNormal", "OneHotCategoricalStraightThrough", "Wishart"]


class FisherSnedecor(Distribution):
    """Fisher–Snedecor F(df1 d₁, df2 d₂) on (0, ∞), with B the Beta function:

        p(x) = (d₁/d₂)^(d₁/2) · x^(d₁/2 − 1) · (1 + d₁x/d₂)^(−(d₁ + d₂)/2) / B(d₁/2, d₂/2).

    mean = d₂/(d₂ − 2) (NaN for d₂ ≤ 2), mode = (d₁ − 2)/d₁ · d₂/(d₂ + 2) (NaN for d₁ ≤ 2),
    variance = 2d₂²(d₁ + d₂ − 2)/(d₁(d₂ − 2)²(d₂ − 4)) (NaN for d₂ ≤ 4); no entropy (as
    PyTorch). ``rsample``: X₁/X₂ with X₁ ~ Gamma(d₁/2, d₁), X₂ ~ Gamma(d₂/2, d₂)."""

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1, validate_args=False)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2, validate_args=False)
        super().__init__(_batch_shape(df1, df2), validate_args=validate_args)

    @property
    def mean(self):
        """d₂/(d₂ − 2), NaN where d₂ ≤ 2."""
        df2 = tg.where(self.df2 > 2, self.df2, 3.0)              # no 0/0 on the masked side
        return tg.where(self.df2 > 2, df2 / (df2 - 2), math.nan)

    @property
    def mode(self):
        """(d₁ − 2)/d₁ · d₂/(d₂ + 2), NaN where d₁ ≤ 2."""
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return tg.where(self.df1 > 2, mode, math.nan)

    @property
    def variance(self):
        """2d₂²(d₁ + d₂ − 2)/(d₁(d₂ − 2)²(d₂ − 4)), NaN where d₂ ≤ 4."""
        df2 = tg.where(self.df2 > 4, self.df2, 5.0)              # no 0/0 on the masked side
        variance = (2 * df2 ** 2 * (self.df1 + df2 - 2)
                    / (self.df1 * (df2 - 2) ** 2 * (df2 - 4)))
        return tg.where(self.df2 > 4, variance, math.nan)

    def rsample(self, sample_shape=()):
        """X₁/X₂, X₁ ~ Gamma(d₁/2, d₁), X₂ ~ Gamma(d₂/2, d₂), both clamped to tiny above 0."""
        shape = self._extended_shape(sample_shape)
        tiny = tg.finfo(self.df1.dtype).tiny
        x1 = self._gamma1.rsample(sample_shape).reshape(shape)
        x2 = self._gamma2.rsample(sample_shape).reshape(shape).clamp(min=tiny)
        return (x1 / x2).clamp(min=tiny)

    def log_prob(self, value):
        """log Γ((d₁+d₂)/2) − log Γ(d₁/2) − log Γ(d₂/2) + (d₁/2)·log(d₁/d₂)
        + (d₁/2 − 1)·log x − ((d₁+d₂)/2)·log(1 + d₁x/d₂)."""
        if self._validate_args:
            self._validate_sample(value)
        half1, half2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        log_beta = tg.lgamma(half1) + tg.lgamma(half2) - tg.lgamma(half1 + half2)
        return (half1 * ratio.log() + (half1 - 1) * value.log()
                - (half1 + half2) * (ratio * value).log1p() - log_beta)


class InverseGamma(TransformedDistribution):
    """InverseGamma(concentration α, rate λ) on (0, ∞): 1/X for X ~ Gamma(α, λ),

        p(x) = λ^α x^(−α−1) e^(−λ/x) / Γ(α).

    mean = λ/(α − 1) (∞ for α ≤ 1), mode = λ/(α + 1), variance = λ²/((α − 1)²(α − 2))
    (∞ for α ≤ 2), entropy = α + log λ + log Γ(α) − (1 + α)·ψ(α)."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        base_dist = Gamma(concentration, rate, validate_args=validate_args)
        rate = base_dist.rate
        minus_one = tg.tensor(-1.0, dtype=rate.dtype, device=rate.device)
        super().__init__(base_dist, PowerTransform(minus_one), validate_args=validate_args)

    @property
    def concentration(self):
        """α."""
        return self.base_dist.concentration

    @property
    def rate(self):
        """λ."""
        return self.base_dist.rate

    @property
    def mean(self):
        """λ/(α − 1), ∞ where α ≤ 1."""
        alpha = tg.where(self.concentration > 1, self.concentration, 2.0)
        return tg.where(self.concentration > 1, self.rate / (alpha - 1), math.inf)

    @property
    def mode(self):
        """λ/(α + 1)."""
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        """λ²/((α − 1)²(α − 2)), ∞ where α ≤ 2."""
        alpha = tg.where(self.concentration > 2, self.concentration, 3.0)
        variance = self.rate ** 2 / ((alpha - 1) ** 2 * (alpha - 2))
        return tg.where(self.concentration > 2, variance, math.inf)

    def entropy(self):
        """α + log λ + log Γ(α) − (1 + α)·ψ(α)."""
        alpha = self.concentration
        return alpha + self.rate.log() + tg.lgamma(alpha) - (1 + alpha) * tg.digamma(alpha)


class GeneralizedPareto(Distribution):
    """GeneralizedPareto(loc μ, scale σ, concentration ξ): with z = (x − μ)/σ,

        p(x) = (1 + ξz)^(−(1/ξ + 1)) / σ        (ξ ≠ 0),      e^(−z)/σ        (ξ = 0),

    on [μ, ∞) for ξ ≥ 0 and [μ, μ − σ/ξ] for ξ < 0. ξ counts as 0 where |ξ| ≤ 1e-8 (as
    PyTorch's ``isclose``). mean = μ + σ/(1 − ξ) (NaN for ξ ≥ 1), mode = μ,
    variance = σ²/((1 − ξ)²(1 − 2ξ)) (NaN for ξ ≥ ½), entropy = log σ + ξ + 1,
    icdf(q) = μ + σ·expm1(−ξ·log(1 − q))/ξ; ``rsample`` is icdf(u), u ~ U(0, 1)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        batch_shape = _batch_shape(loc, scale, concentration)
        super().__init__(batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        """interval(μ, μ − σ/ξ) where ξ < 0, interval(μ, ∞) elsewhere."""
        negative = self.concentration < 0
        safe = tg.where(negative, self.concentration, -1.0)
        upper = tg.where(negative, self.loc - self.scale / safe, math.inf)
        return constraints.interval(self.loc, upper)

    def _safe_concentration(self):
        """(ξ ≈ 0, ξ with 1 put where ξ ≈ 0): divide by it without 0/0."""
        is_zero = self.concentration.abs() <= 1e-8
        return is_zero, tg.where(is_zero, 1.0, self.concentration)

    @property
    def mean(self):
        """μ + σ/(1 − ξ), NaN where ξ ≥ 1."""
        valid = self.concentration < 1
        concentration = tg.where(valid, self.concentration, 0.5)
        return tg.where(valid, self.loc + self.scale / (1 - concentration), math.nan)

    @property
    def mode(self):
        """μ."""
        return self.loc

    @property
    def variance(self):
        """σ²/((1 − ξ)²(1 − 2ξ)), NaN where ξ ≥ ½."""
        valid = self.concentration < 0.5
        concentration = tg.where(valid, self.concentration, 0.25)
        variance = self.scale ** 2 / ((1 - concentration) ** 2 * (1 - 2 * concentration))
        return tg.where(valid, variance, math.nan)

    def rsample(self, sample_shape=()):
        """icdf(u), u ~ U(0, 1)."""
        u = uniform_noise(self._extended_shape(sample_shape), self.loc)
        return self.icdf(u)

    def log_prob(self, value):
        """−log σ − (1/ξ + 1)·log(1 + ξz) (ξ ≠ 0), −log σ − z (ξ = 0)."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        is_zero, concentration = self._safe_concentration()
        power = 1 / concentration + 1                            # 0 at ξ = −1: density 1/σ
        nonzero = tg.where(power == 0, 0.0, power * (concentration * z).log1p())
        return -self.scale.log() - tg.where(is_zero, z, nonzero)

    def log_survival_function(self, value):
        """log P(X > x) = −log(1 + ξz)/ξ (ξ ≠ 0), −z (ξ = 0)."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        is_zero, concentration = self._safe_concentration()
        return tg.where(is_zero, -z, -(concentration * z).log1p() / concentration)

    def log_cdf(self, value):
        """log(1 − P(X > x))."""
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        """1 − P(X > x)."""
        return self.log_cdf(value).exp()

    def icdf(self, value):
        """μ + σ·expm1(−ξ·log(1 − q))/ξ (ξ ≠ 0), μ − σ·log(1 − q) (ξ = 0)."""
        is_zero, concentration = self._safe_concentration()
        log_survival = (-value).log1p()
        nonzero = self.loc + self.scale / concentration * (-concentration * log_survival).expm1()
        return tg.where(is_zero, self.loc - self.scale * log_survival, nonzero)

    def entropy(self):
        """log σ + ξ + 1."""
        entropy = self.scale.log() + self.concentration + 1
        return entropy.expand(self._batch_shape)


class LogisticNormal(TransformedDistribution):
    """LogisticNormal(loc μ, scale σ) on the K-simplex: the stick-breaking image of
    X ~ N(μ, σ²) on ℝᴷ⁻¹ (μ, σ of last dim K − 1): with the inverse map
    xₖ = log(yₖ/(1 − Σⱼ₌₀..ₖ yⱼ)) + log(K − 1 − k),

        log p(y) = Σₖ log N(xₖ; μₖ, σₖ) − log |det ∂y/∂x|   (the change of variables).

    A () batch is made (1,), as PyTorch does. No mean, variance or entropy (as PyTorch)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base_dist = Normal(loc, scale, validate_args=validate_args)
        if not base_dist.batch_shape:
            base_dist = base_dist.expand([1])
        super().__init__(base_dist, StickBreakingTransform(), validate_args=validate_args)

    @property
    def loc(self):
        """μ."""
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        """σ."""
        return self.base_dist.base_dist.scale


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical with the straight-through gradient estimator (Bengio et al., 2013):
    ``rsample`` returns the one-hot sample s (its value) whose gradient is that of p,

        s + (p − stop_gradient(p)),

    a biased but useful gradient for discrete samples."""

    has_rsample = True

    def rsample(self, sample_shape=()):
        """s + (p − p.detach()), s a one-hot sample."""
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())


def _multivariate_digamma(x, p: int):
    """ψ_p(x) = Σᵢ₌₀..ₚ₋₁ ψ(x − i/2), the derivative of log Γ_p(x)."""
    halves = tg.arange(p, dtype=x.dtype, device=x.device) / 2                # (p,)
    return tg.digamma(x.unsqueeze(-1) - halves).sum(-1)


class Wishart(CholeskyMatrices, ExponentialFamily):
    """Wishart(df ν, Σ) over p × p positive definite matrices, Σ given by exactly one of
    ``covariance_matrix``, ``precision_matrix`` (Σ⁻¹) or ``scale_tril`` (L, Σ = L Lᵀ);
    ν > p − 1. With Γ_p the multivariate gamma function and ψ_p its log-derivative:

        log p(X) = −(ν/2)(p·log 2 + log det Σ) − log Γ_p(ν/2)
                   + ((ν − p − 1)/2)·log det X − ½·tr(Σ⁻¹X).

    mean = νΣ, mode = (ν − p − 1)Σ (NaN for ν ≤ p + 1), variance = ν(Σᵢⱼ² + ΣᵢᵢΣⱼⱼ),
    entropy = ((p + 1)/2)(p·log 2 + log det Σ) + log Γ_p(ν/2) − ((ν − p − 1)/2)·ψ_p(ν/2)
    + νp/2. ``rsample``: the Bartlett decomposition, its χ² draws Gamma's (so differentiable
    in ν by implicit reparameterization)."""

    support = constraints.positive_definite
    has_rsample = True

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [(name, m) for name, m in (("covariance_matrix", covariance_matrix),
                                            ("precision_matrix", precision_matrix),
                                            ("scale_tril", scale_tril)) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        name, matrix = given[0]
        square_matrices(matrix, name)
        size = matrix.shape[-1]
        if not isinstance(df, Tensor):
            df = tg.tensor(df, dtype=matrix.dtype, device=matrix.device)
        batch_shape = backend.broadcast_shapes(matrix.shape[:-2], df.shape)
        self.df = df.expand(batch_shape)
        if not bool((self.df > size - 1).all().item()):
            raise ValueError(f"Value of df={df} expected to be greater than "
                             f"ndim - 1 = {size - 1}.")
        self.__dict__[name] = matrix.expand(batch_shape + matrix.shape[-2:])
        self.arg_constraints = {"covariance_matrix": constraints.positive_definite,
                                "precision_matrix": constraints.positive_definite,
                                "scale_tril": constraints.lower_cholesky,
                                "df": constraints.greater_than(size - 1)}
        super().__init__(batch_shape, matrix.shape[-2:], validate_args=validate_args)
        self._unbroadcasted_scale_tril = scale_tril_of(covariance_matrix, precision_matrix,
                                                       scale_tril)

    def _matrix_shape(self) -> tuple:
        return self._batch_shape + self._event_shape

    def expand(self, batch_shape, _instance=None):
        """The same Σ with ν broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        lower = self._unbroadcasted_scale_tril
        new = Wishart(self.df.expand(batch_shape),
                      scale_tril=lower.expand(batch_shape + self._event_shape),
                      validate_args=False)
        new._unbroadcasted_scale_tril = lower
        new._validate_args = self._validate_args
        return new

    def _df_matrix(self):
        """ν as (..., 1, 1), to scale matrices."""
        return self.df.reshape(self._batch_shape + (1, 1))

    @property
    def mean(self):
        """νΣ."""
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self):
        """(ν − p − 1)Σ, NaN where ν ≤ p + 1."""
        factor = self.df - self._event_shape[-1] - 1
        factor = tg.where(factor > 0, factor, math.nan)
        return factor.reshape(self._batch_shape + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        """ν(Σᵢⱼ² + ΣᵢᵢΣⱼⱼ)."""
        covariance = self.covariance_matrix
        diagonal = covariance.diagonal(dim1=-2, dim2=-1)                   # (..., p)
        outer = diagonal.unsqueeze(-1) * diagonal.unsqueeze(-2)            # (..., p, p)
        return self._df_matrix() * (covariance ** 2 + outer)

    def rsample(self, sample_shape=()):
        """(L A)(L A)ᵀ, Aᵢᵢ = √cᵢ with cᵢ = 2·Gamma((ν − i)/2, 1) ~ χ²(ν − i),
        Aᵢⱼ ~ N(0, 1) for i > j, 0 above the diagonal."""
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        size = self._event_shape[-1]
        shape = tuple(sample_shape) + self._batch_shape + (size,)
        steps = tg.arange(size, dtype=self.df.dtype, device=self.df.device)         # (p,)
        chi2 = 2 * standard_gamma((self.df.unsqueeze(-1) - steps) / 2, shape)       # (..., p)
        noise = normal_noise(self._extended_shape(sample_shape), self.df).tril(-1)  # (..., p, p)
        bartlett = chi2.sqrt().diag_embed() + noise
        factor = self._unbroadcasted_scale_tril @ bartlett
        return factor @ factor.transpose(-2, -1)

    def log_prob(self, value):
        """−(ν/2)(p·log 2 + 2Σᵢ log Lᵢᵢ) − log Γ_p(ν/2) + ((ν − p − 1)/2)·log det X
        − ½·tr(Σ⁻¹X)."""
        if self._validate_args:
            self._validate_sample(value)
        size = self._event_shape[-1]
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        solved = tg.linalg.cholesky_solve(value, self._unbroadcasted_scale_tril)  # Σ⁻¹X
        trace = solved.diagonal(dim1=-2, dim2=-1).sum(-1)
        return (-self.df * (size * math.log(2) / 2 + half_log_det)
                - tg.mvlgamma(self.df / 2, size)
                + (self.df - size - 1) / 2 * tg.linalg.slogdet(value).logabsdet
                - trace / 2)

    @property
    def _natural_params(self) -> tuple:
        """θ = (−Σ⁻¹/2, (ν − p − 1)/2), for t(X) = (X, log det X)."""
        size = self._event_shape[-1]
        return -self.precision_matrix / 2, (self.df - size - 1) / 2

    def _log_normalizer(self, x, y):
        """F(θ) = (θ₂ + (p + 1)/2)(p·log 2 − log det(−2θ₁)) + log Γ_p(θ₂ + (p + 1)/2)."""
        size = self._event_shape[-1]
        shape = y + (size + 1) / 2                                     # ν/2
        return (shape * (size * math.log(2) - tg.linalg.slogdet(-2 * x).logabsdet)
                + tg.mvlgamma(shape, size))

    _mean_carrier_measure = 0

    def entropy(self):
        """((p + 1)/2)(p·log 2 + log det Σ) + log Γ_p(ν/2) − ((ν − p − 1)/2)·ψ_p(ν/2)
        + νp/2."""
        size = self._event_shape[-1]
        half_log_det = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return ((size + 1) * (size * math.log(2) / 2 + half_log_det)
                + tg.mvlgamma(self.df / 2, size)
                - (self.df - size - 1) / 2 * _multivariate_digamma(self.df / 2, size)
                + self.df * size / 2)


class LKJCholesky(Distribution):
    """LKJCholesky(dim d, concentration η): the lower Cholesky factor L of a d × d
    correlation matrix C = L Lᵀ whose density is ∝ det(C)^(η−1) (Lewandowski, Kurowicka and
    Joe, 2009). With the Jacobian Πᵢ Lᵢᵢ^(d−i) of C ↦ L (i = 1..d),

        log p(L) = Σᵢ₌₂..d (2(η − 1) + d − i)·log Lᵢᵢ − log c,
        log c = ½(d − 1)·log π + log Γ_(d−1)(η + (d − 2)/2) − (d − 1)·log Γ(η + (d − 1)/2).

    ``sample`` (the onion method, vectorized as PyTorch): row i of L is √yᵢ·uᵢ on its
    first i entries and √(1 − yᵢ) on the diagonal, yᵢ ~ Beta(i/2, η + (d − 1 − i)/2) and uᵢ
    uniform on the unit sphere. (PyTorch draws yᵢ ~ Beta(i − ½, ...), which agrees for
    i = 1 only, so that its rows i ≥ 2 do not follow its log_prob; here they do: every
    correlation Cᵢⱼ has (Cᵢⱼ + 1)/2 ~ Beta(η − 1 + d/2, η − 1 + d/2).) No rsample, mean or
    entropy (as PyTorch)."""

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim: int, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError("Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        marginal = self.concentration + 0.5 * (dim - 2)
        offset = tg.arange(dim - 1, dtype=self.concentration.dtype,
                           device=self.concentration.device)
        offset = tg.cat([tg.zeros_like(offset[:1]), offset])  # (d,): 0, 0, 1, ..., d − 2
        self._beta = Beta(0.5 * offset + 0.5, marginal.unsqueeze(-1) - 0.5 * offset,
                          validate_args=False)                # row i: Beta(i/2, η + (d − 1 − i)/2)
        super().__init__(self.concentration.shape, (dim, dim), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """LKJCholesky with η broadcast to ``batch_shape``."""
        new = LKJCholesky(self.dim, self.concentration.expand(tuple(batch_shape)),
                          validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        """L with row i = √yᵢ·uᵢ (first i entries) and √(1 − ‖√yᵢ·uᵢ‖²) on the diagonal;
        row 0 is (1, 0, ..., 0)."""
        with tg.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)               # (..., d, 1)
            u = normal_noise(self._extended_shape(sample_shape), y).tril(-1)  # (..., d, d)
            norm = u.norm(dim=-1, keepdim=True)
            u_sphere = u / tg.where(norm > 0, norm, 1.0)                   # row 0 stays 0
            w = y.sqrt() * u_sphere
            tiny = tg.finfo(w.dtype).tiny
            diagonal = (1 - (w ** 2).sum(-1)).clamp(min=tiny).sqrt()       # (..., d)
            return w + diagonal.diag_embed()

    def log_prob(self, value):
        """Σᵢ₌₂..d (2(η − 1) + d − i)·log Lᵢᵢ − log c."""
        if self._validate_args:
            self._validate_sample(value)
        diagonal = value.diagonal(dim1=-2, dim2=-1)[..., 1:]               # (..., d − 1)
        i = tg.arange(2, self.dim + 1, dtype=value.dtype, device=value.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - i
        unnormalized = (order * diagonal.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        log_normalizer = (0.5 * dm1 * math.log(math.pi) + tg.mvlgamma(alpha - 0.5, dm1)
                          - dm1 * tg.lgamma(alpha))
        return unnormalized - log_normalizer
