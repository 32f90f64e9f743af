"""``kl_divergence(p, q)`` = KL(p ‖ q) = E_p[log p(X) − log q(X)], by closed forms registered
per pair of families with ``register_kl``.

The most specific registered pair wins (the one whose classes come first in the method
resolution orders of type(p) and type(q)), as PyTorch; a pair with no formula raises
NotImplementedError. Where q gives zero probability to something p can produce, the
divergence is +∞ (Uniform outside the support, Bernoulli and Categorical with q = 0).
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.distributions.continuous import (EULER_GAMMA, Beta, Cauchy, Dirichlet,
                                                   Exponential, Gamma, Gumbel, Laplace,
                                                   LogNormal, Normal, Uniform)
from tinygrad_opt.distributions.discrete import (Bernoulli, Binomial, Categorical, Geometric,
                                                 OneHotCategorical, Poisson)
from tinygrad_opt.distributions.continuous_bernoulli import ContinuousBernoulli
from tinygrad_opt.distributions.distribution import Distribution, sum_rightmost
from tinygrad_opt.distributions.multivariate import (Independent, LowRankMultivariateNormal,
                                                     MultivariateNormal)
from tinygrad_opt.distributions.transformed import HalfNormal, Pareto, TransformedDistribution
from tinygrad_opt.nn.functional_primitives import softplus

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY: dict = {}


def register_kl(type_p: type, type_q: type):
    """Decorator: register ``function(p, q)`` as KL(p ‖ q) for p an instance of ``type_p``
    and q of ``type_q`` (subclasses included, unless a more specific pair is registered)::

        @register_kl(Normal, Normal)
        def kl_normal_normal(p, q): ...
    """
    if not (isinstance(type_p, type) and issubclass(type_p, Distribution)):
        raise TypeError(f"Expected type_p to be a Distribution subclass but got {type_p}")
    if not (isinstance(type_q, type) and issubclass(type_q, Distribution)):
        raise TypeError(f"Expected type_q to be a Distribution subclass but got {type_q}")

    def decorator(function):
        _KL_REGISTRY[type_p, type_q] = function
        return function

    return decorator


def _dispatch_kl(type_p: type, type_q: type):
    """The function of the most specific registered pair (super_p, super_q) of the types'
    bases: the smallest (position of super_p in type_p's MRO, position of super_q in
    type_q's MRO)."""
    matches = [(type_p.__mro__.index(super_p), type_q.__mro__.index(super_q), function)
               for (super_p, super_q), function in _KL_REGISTRY.items()
               if issubclass(type_p, super_p) and issubclass(type_q, super_q)]
    if not matches:
        return None
    return min(matches, key=lambda match: match[:2])[2]


def kl_divergence(p: Distribution, q: Distribution):
    """KL(p ‖ q) = E_p[log p(X) − log q(X)], of shape batch_shape, by the closed form
    registered for the pair (NotImplementedError when there is none)."""
    function = _dispatch_kl(type(p), type(q))
    if function is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    return function(p, q)


def _infinite_where(condition, value):
    """``value`` with +∞ where ``condition`` holds."""
    return tg.where(condition, tg.full_like(value, math.inf), value)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    """½(σp²/σq² + (μp − μq)²/σq² − 1 − log(σp²/σq²))."""
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p, q):
    """KL of the Normals of log X (the change of variables cancels)."""
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    """p·(log p − log q) + (1 − p)·(log(1 − p) − log(1 − q)), in softplus form:
    log σ(l) = −softplus(−l), log(1 − σ(l)) = −softplus(l); ∞ where q excludes what p
    can give, 0·log 0 = 0."""
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = _infinite_where(q.probs == 0, t1)
    t1 = tg.where(p.probs == 0, 0.0, t1)
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = _infinite_where(q.probs == 1, t2)
    t2 = tg.where(p.probs == 1, 0.0, t2)
    return t1 + t2


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    """n·(p·(log p − log q) + log(1 − p) − log(1 − q)); ∞ where np > nq (no formula for
    np < nq, as PyTorch)."""
    if bool((p.total_count < q.total_count).any().item()):
        raise NotImplementedError("KL between Binomials where q.total_count > "
                                  "p.total_count is not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p()
                          - (-q.probs).log1p())
    return _infinite_where(p.total_count > q.total_count, kl)


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    """Σₖ pₖ·(log pₖ − log qₖ): ∞ where qₖ = 0 < pₖ, 0 where pₖ = 0."""
    t = p.probs * (p.logits - q.logits)
    t = _infinite_where((q.probs == 0).broadcast_to(t.shape), t)
    t = tg.where((p.probs == 0).broadcast_to(t.shape), 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    """The Categorical KL."""
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    """−H(p) − log(1 − q)/p − logit q: E_p[k]·log(1 − q) + log q against p's entropy."""
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    """λp·(log λp − log λq) − (λp − λq)."""
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariatenormal_multivariatenormal(p, q):
    """½(tr(Σq⁻¹Σp) + (μq − μp)ᵀΣq⁻¹(μq − μp) − n + log det Σq − log det Σp), with
    tr(Σq⁻¹Σp) = ‖Lq⁻¹Lp‖²_F and the quadratic form = ‖Lq⁻¹(μq − μp)‖²."""
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different "
                         "event shapes cannot be computed")
    lower_p, lower_q = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_term1 = (lower_q.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                  - lower_p.diagonal(dim1=-2, dim2=-1).log().sum(-1))
    batch = backend.broadcast_shapes(lower_p.shape[:-2], lower_q.shape[:-2])
    n = p.event_shape[0]
    lower_p = lower_p.broadcast_to(batch + (n, n))
    term2 = (tg.linalg.solve(lower_q, lower_p) ** 2).sum((-2, -1))         # ‖Lq⁻¹Lp‖²
    difference = (q.loc - p.loc).unsqueeze(-1)                             # (..., n, 1)
    term3 = (tg.linalg.solve(lower_q, difference) ** 2).sum((-2, -1))      # ‖Lq⁻¹(μq − μp)‖²
    return half_term1 + 0.5 * (term2 + term3 - n)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    """λq/λp − log(λq/λp) − 1."""
    rate_ratio = q.rate / p.rate
    return rate_ratio - rate_ratio.log() - 1


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    """αq·log(λp/λq) + log Γ(αq) − log Γ(αp) + (αp − αq)·ψ(αp) + (λq − λp)·αp/λp."""
    t1 = q.concentration * (p.rate / q.rate).log()
    t2 = tg.lgamma(q.concentration) - tg.lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * tg.digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    """log B(aq, bq) − log B(ap, bp) + (ap − aq)ψ(ap) + (bp − bq)ψ(bp)
    + (aq + bq − ap − bp)ψ(ap + bp)."""
    sum_p = p.concentration1 + p.concentration0
    sum_q = q.concentration1 + q.concentration0
    t1 = tg.lgamma(q.concentration1) + tg.lgamma(q.concentration0) + tg.lgamma(sum_p)
    t2 = tg.lgamma(p.concentration1) + tg.lgamma(p.concentration0) + tg.lgamma(sum_q)
    t3 = (p.concentration1 - q.concentration1) * tg.digamma(p.concentration1)
    t4 = (p.concentration0 - q.concentration0) * tg.digamma(p.concentration0)
    t5 = (sum_q - sum_p) * tg.digamma(sum_p)
    return t1 - t2 + t3 + t4 + t5


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    """log Γ(α₀p) − log Γ(α₀q) − Σ (log Γ(αp) − log Γ(αq)) + Σ (αp − αq)(ψ(αp) − ψ(α₀p))."""
    sum_p = p.concentration.sum(-1)
    sum_q = q.concentration.sum(-1)
    t1 = tg.lgamma(sum_p) - tg.lgamma(sum_q)
    t2 = (tg.lgamma(p.concentration) - tg.lgamma(q.concentration)).sum(-1)
    t3 = p.concentration - q.concentration
    t4 = tg.digamma(p.concentration) - tg.digamma(sum_p).unsqueeze(-1)
    return t1 - t2 + (t3 * t4).sum(-1)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    """−log(bp/bq) + |μp − μq|/bq + (bp/bq)·e^(−|μp − μq|/bp) − 1."""
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    t1 = -scale_ratio.log()
    t2 = loc_abs_diff / q.scale
    t3 = scale_ratio * (-loc_abs_diff / p.scale).exp()
    return t1 + t2 + t3 - 1


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    """log(((γp + γq)² + (μp − μq)²) / (4γpγq))."""
    t1 = ((p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2).log()
    t2 = (4 * p.scale * q.scale).log()
    return t1 - t2


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    """With c = βp/βq: −log c − μq/βq + μp/βq + cγ + e^(μq/βq + log Γ(1 + c) − μp/βq)
    − (1 + γ)."""
    ct1 = p.scale / q.scale
    ct2 = q.loc / q.scale
    ct3 = p.loc / q.scale
    t1 = -ct1.log() - ct2 + ct3
    t2 = ct1 * EULER_GAMMA
    t3 = (ct2 + tg.lgamma(1 + ct1) - ct3).exp()
    return t1 + t2 + t3 - (1 + EULER_GAMMA)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    """log((hq − lq)/(hp − lp)) when [lp, hp] ⊂ [lq, hq], else ∞."""
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _infinite_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    """The base KL summed over the reinterpreted dims (the same number of them)."""
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different "
                                  "reinterpreted_batch_ndims is not implemented")
    result = kl_divergence(p.base_dist, q.base_dist)
    return sum_rightmost(result, p.reinterpreted_batch_ndims)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    """The Normal KL of the folded Normals (folding both at 0 keeps the log-ratio)."""
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    """αq·log(sp/sq) − log(αq/αp) + αq/αp − 1; ∞ where sp < sq (p reaches below q's
    support)."""
    scale_ratio = p.scale / q.scale
    alpha_ratio = q.alpha / p.alpha
    t1 = q.alpha * scale_ratio.log()
    t2 = -alpha_ratio.log()
    result = t1 + t2 + alpha_ratio - 1
    return _infinite_where(p.scale < q.scale, result)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    """The base KL (summed over the event dims), when both push their bases through equal
    transforms: a bijection leaves the KL unchanged."""
    if p.transforms != q.transforms:
        raise NotImplementedError("KL between TransformedDistributions with different "
                                  "transforms is not implemented")
    if p.event_shape != q.event_shape:
        raise NotImplementedError("KL between TransformedDistributions with different "
                                  "event shapes is not implemented")
    base_kl_divergence = kl_divergence(p.base_dist, q.base_dist)
    return sum_rightmost(base_kl_divergence, len(p.event_shape))


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    """E_p[x]·(lp − lq) + log Cp − log Cq + log(1 − λp) − log(1 − λq), l the logits and C
    the normalisers."""
    t1 = p.mean * (p.logits - q.logits)
    t2 = p._cont_bern_log_norm() + (-p.probs).log1p()
    t3 = -q._cont_bern_log_norm() - (-q.probs).log1p()
    return t1 + t2 + t3


def _dense(distribution) -> MultivariateNormal:
    """A (Low Rank) MultivariateNormal as a MultivariateNormal with its full covariance."""
    if isinstance(distribution, MultivariateNormal):
        return distribution
    return MultivariateNormal(distribution.loc, distribution.covariance_matrix,
                              validate_args=False)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
@register_kl(LowRankMultivariateNormal, MultivariateNormal)
@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_multivariatenormal(p, q):
    """The MultivariateNormal KL, with the low-rank covariances W Wᵀ + D written out."""
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two (Low Rank) Multivariate Normals with "
                         "different event shapes cannot be computed")
    return _kl_multivariatenormal_multivariatenormal(_dense(p), _dense(q))
