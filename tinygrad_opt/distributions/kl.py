"""``kl_divergence(p, q)`` = KL(p ‖ q) = E_p[log p(X) − log q(X)], by closed forms registered
per pair of families with ``register_kl``.

The most specific registered pair wins (the one whose classes come first in the method
resolution orders of type(p) and type(q)), as PyTorch; a pair with no formula raises
NotImplementedError. Where q gives zero probability to something p can produce, the
divergence is +∞ (Uniform outside the support, Bernoulli and Categorical with q = 0).

Between two families the divergence is −H(p) − E_p[log q(X)], and E_p[log q(X)] needs only
the moments of p that log q reads (E[X], E[X²], E[log X], ...): Beta‖Normal, Gamma‖
Exponential, Uniform‖Gumbel and the other pairs PyTorch registers. Pairs whose supports do
not nest (p reaches where q's density is 0: Normal‖Exponential, Gamma‖Uniform, ...) are +∞
everywhere. Two members of one ``ExponentialFamily`` that defines its natural parameters
get the Bregman divergence of the log normalizer F:

    KL(p ‖ q) = F(θq) − F(θp) − ⟨θq − θp, ∇F(θp)⟩.
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
from tinygrad_opt.distributions.exp_family import ExponentialFamily
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
    # log pₖ − log qₖ is −∞ where pₖ = 0 from a −∞ logit: put 0 there before multiplying,
    # or the gradient of pₖ would be 0·(−∞) = NaN (as PyTorch's is)
    difference = tg.where(p.probs == 0, 0.0, p.logits - q.logits)
    t = p.probs * difference
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
    """The base KL, when both push their bases through equal transforms: a bijection leaves
    the KL unchanged. The base already holds the whole event (``TransformedDistribution``
    wraps it in ``Independent`` where the transforms couple batch dims), so its KL has the
    batch shape as it is."""
    if p.transforms != q.transforms:
        raise NotImplementedError("KL between TransformedDistributions with different "
                                  "transforms is not implemented")
    if p.event_shape != q.event_shape:
        raise NotImplementedError("KL between TransformedDistributions with different "
                                  "event shapes is not implemented")
    return kl_divergence(p.base_dist, q.base_dist)


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


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    """F(θq) − F(θp) − ⟨θq − θp, ∇F(θp)⟩ (∇F by autograd at detached θp), for p and q of
    the same family."""
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential "
                                  "families cannot be computed using Bregman divergences")
    p_params = [theta.detach().requires_grad_() for theta in p._natural_params]
    q_params = q._natural_params
    with tg.enable_grad():
        p_log_normalizer = p._log_normalizer(*p_params)
        gradients = tg.autograd.grad(p_log_normalizer.sum(), p_params, create_graph=True)
    result = q._log_normalizer(*q_params) - p_log_normalizer
    for p_theta, q_theta, gradient in zip(p_params, q_params, gradients):
        result = result - sum_rightmost((q_theta - p_theta) * gradient, len(q.event_shape))
    return result


# Different families: −H(p) − E_p[log q(X)] from p's moments, or ∞ where q's support misses
# some of p's.

def _infinite_like(p, q):
    """+∞ in the broadcast batch shape of p and q."""
    shape = backend.broadcast_shapes(p.batch_shape, q.batch_shape)
    like = p.mean                                   # only for its dtype and device
    return tg.full(shape, math.inf, dtype=like.dtype, device=like.device)


@register_kl(Beta, Pareto)
@register_kl(ContinuousBernoulli, Pareto)
@register_kl(Exponential, Beta)
@register_kl(Exponential, ContinuousBernoulli)
@register_kl(Exponential, Pareto)
@register_kl(Exponential, Uniform)
@register_kl(Gamma, Beta)
@register_kl(Gamma, ContinuousBernoulli)
@register_kl(Gamma, Pareto)
@register_kl(Gamma, Uniform)
@register_kl(Gumbel, Beta)
@register_kl(Gumbel, ContinuousBernoulli)
@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Gamma)
@register_kl(Gumbel, Pareto)
@register_kl(Gumbel, Uniform)
@register_kl(Laplace, Beta)
@register_kl(Laplace, ContinuousBernoulli)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Gamma)
@register_kl(Laplace, Pareto)
@register_kl(Laplace, Uniform)
@register_kl(Normal, Beta)
@register_kl(Normal, ContinuousBernoulli)
@register_kl(Normal, Exponential)
@register_kl(Normal, Gamma)
@register_kl(Normal, Pareto)
@register_kl(Normal, Uniform)
@register_kl(Pareto, Beta)
@register_kl(Pareto, ContinuousBernoulli)
@register_kl(Pareto, Uniform)
@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_infinity(p, q):
    """∞: p puts mass where q's density is 0 (an unbounded support against a bounded or
    half-bounded one, or Poisson's counts against at most n)."""
    return _infinite_like(p, q)


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    """−H(p) − (π·log λ − λ): log q(x) = x·log λ − λ for x ∈ {0, 1}."""
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


def _beta_mean(p):
    """E[X] = a/(a + b) of a Beta."""
    return p.concentration1 / (p.concentration1 + p.concentration0)


def _continuous_bernoulli_cross_entropy(p_mean, q):
    """−E_p[log q(X)] for q a ContinuousBernoulli: log q(x) = log C + log(1 − λ) + x·logit λ."""
    return -p_mean * q.logits - (-q.probs).log1p() - q._cont_bern_log_norm()


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    """−H(p) − E[X]·logit λ − log(1 − λ) − log C(λ)."""
    return -p.entropy() + _continuous_bernoulli_cross_entropy(_beta_mean(p), q)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    """−H(p) − log r + r·E[X]."""
    return -p.entropy() - q.rate.log() + q.rate * _beta_mean(p)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    """−H(p) + log Γ(α) − α·log β − (α − 1)·E[log X] + β·E[X], E[log X] = ψ(a) − ψ(a + b)."""
    mean_log = tg.digamma(p.concentration1) - tg.digamma(p.concentration1 + p.concentration0)
    t1 = tg.lgamma(q.concentration) - q.concentration * q.rate.log()
    return -p.entropy() + t1 - (q.concentration - 1) * mean_log + q.rate * _beta_mean(p)


def _normal_cross_entropy(p_mean, p_variance, q):
    """−E_p[log q(X)] for q = N(μ, σ²): ½·log(2πσ²) + (Var + (E[X] − μ)²)/(2σ²)."""
    variance = q.scale ** 2
    return 0.5 * (2 * math.pi * variance).log() + (p_variance + (p_mean - q.loc) ** 2) / (
        2 * variance)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    """−H(p) + ½·log(2πσ²) + (Var + (E[X] − μ)²)/(2σ²), Var = E(1 − E)/(a + b + 1)."""
    mean = _beta_mean(p)
    variance = mean * (1 - mean) / (p.concentration1 + p.concentration0 + 1)
    return -p.entropy() + _normal_cross_entropy(mean, variance, q)


def _uniform_cross_entropy(q, p_low, p_high):
    """−E_p[log q(X)] = log(h − l) for q = U(l, h), ∞ where [p_low, p_high] leaves [l, h]."""
    result = (q.high - q.low).log()
    return _infinite_where((q.low > p_low) | (q.high < p_high), result)


@register_kl(Beta, Uniform)
@register_kl(ContinuousBernoulli, Uniform)
def _kl_unit_interval_uniform(p, q):
    """−H(p) + log(h − l), ∞ unless [0, 1] ⊂ [l, h]."""
    return -p.entropy() + _uniform_cross_entropy(q, 0.0, 1.0)


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    """−H(p) − log r + r·E[X]."""
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    """−H(p) + ½·log(2πσ²) + (Var + (E[X] − μ)²)/(2σ²)."""
    return -p.entropy() + _normal_cross_entropy(p.mean, p.variance, q)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    """With ρ = β/λ: −α·log ρ + ρ + log Γ(α) + αγ − (1 + γ) (E[log X] = −γ − log λ)."""
    ratio = q.rate / p.rate
    t1 = -q.concentration * ratio.log()
    t2 = tg.lgamma(q.concentration) + q.concentration * EULER_GAMMA
    return t1 + ratio + t2 - (1 + EULER_GAMMA)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    """With s = λβ, m = μ/β: log s − 1 − m + e^m·s/(s + 1) + 1/s (E[e^(−X/β)] = s/(s + 1))."""
    scale_rate = p.rate * q.scale
    loc_scale = q.loc / q.scale
    t1 = scale_rate.log() - 1
    t2 = loc_scale.exp() * scale_rate / (scale_rate + 1)
    return t1 - loc_scale + t2 + scale_rate.reciprocal()


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    """−H(p) + ½·log(2πσ²) + (Var + (E[X] − μ)²)/(2σ²), E[X] = 1/λ, Var = 1/λ², H = 1 − log λ."""
    mean = p.rate.reciprocal()
    return p.rate.log() - 1 + _normal_cross_entropy(mean, mean ** 2, q)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    """−H(p) − log r + r·α/β."""
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    """With s = β_p·β_q, m = μ/β_q: (α − 1)ψ(α) − log Γ(α) − α + log s + α/s
    + e^m·(1 + 1/s)^(−α) − m (E[e^(−X/β_q)] = (1 + 1/s)^(−α))."""
    concentration = p.concentration
    scale_rate = p.rate * q.scale
    loc_scale = q.loc / q.scale
    t1 = (concentration - 1) * tg.digamma(concentration) - tg.lgamma(concentration)
    t2 = scale_rate.log() + concentration / scale_rate - concentration
    t3 = loc_scale.exp() * (1 + scale_rate.reciprocal()) ** (-concentration) - loc_scale
    return t1 + t2 + t3


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    """−H(p) + ½·log(2πσ²) + (Var + (E[X] − μ)²)/(2σ²), E[X] = α/β, Var = α/β²."""
    mean = p.concentration / p.rate
    return -p.entropy() + _normal_cross_entropy(mean, mean / p.rate, q)


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    """−H(p) + ½·log(2πσ²) + (Var + (E[X] − μ)²)/(2σ²), E[X] = μp + βγ, Var = π²β²/6,
    H = log β + γ + 1."""
    mean = p.loc + p.scale * EULER_GAMMA
    variance = (math.pi * p.scale) ** 2 / 6
    entropy = p.scale.log() + EULER_GAMMA + 1
    return -entropy + _normal_cross_entropy(mean, variance, q)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    """−H(p) + ½·log(2πσ²) + (Var + (E[X] − μ)²)/(2σ²), E[X] = μp, Var = 2b², H = 1 + log 2b."""
    entropy = 1 + (2 * p.scale).log()
    return -entropy + _normal_cross_entropy(p.loc, 2 * p.scale ** 2, q)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    """−H(p) + log β + (E[X] − μ)/β + E[e^(−(X − μ)/β)], the last = e^((μ − μp)/β + σ²/(2β²))."""
    entropy = 0.5 + 0.5 * math.log(2 * math.pi) + p.scale.log()
    z_mean = (p.loc - q.loc) / q.scale
    return -entropy + q.scale.log() + z_mean + (-z_mean + 0.5 * (p.scale / q.scale) ** 2).exp()


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    """−H(p) + log 2b + E|X − μ|/b, E|X − μ| = σ√(2/π)·e^(−d²/2σ²) + d·erf(d/(σ√2)),
    d = μp − μ."""
    entropy = 0.5 + 0.5 * math.log(2 * math.pi) + p.scale.log()
    difference = p.loc - q.loc
    folded = (math.sqrt(2 / math.pi) * p.scale * (-0.5 * (difference / p.scale) ** 2).exp()
              + difference * tg.erf(difference / (math.sqrt(2) * p.scale)))
    return -entropy + (2 * q.scale).log() + folded / q.scale


def _pareto_entropy(p):
    """log(s/α) + 1/α + 1."""
    return (p.scale / p.alpha).log() + p.alpha.reciprocal() + 1


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    """−H(p) − log r + r·E[X], E[X] = αs/(α − 1); ∞ where α ≤ 1 (no mean)."""
    mean = p.alpha * p.scale / (p.alpha - 1)
    result = -_pareto_entropy(p) - q.rate.log() + q.rate * mean
    return _infinite_where(p.alpha <= 1, result)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    """−H(p) + log Γ(a) − a·log β − (a − 1)·E[log X] + β·E[X], E[log X] = log s + 1/α;
    ∞ where α ≤ 1."""
    mean_log = p.scale.log() + p.alpha.reciprocal()
    mean = p.alpha * p.scale / (p.alpha - 1)
    t1 = tg.lgamma(q.concentration) - q.concentration * q.rate.log()
    result = -_pareto_entropy(p) + t1 - (q.concentration - 1) * mean_log + q.rate * mean
    return _infinite_where(p.alpha <= 1, result)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    """−H(p) + ½·log(2πσ²) + (Var + (E[X] − μ)²)/(2σ²), E[X] = αs/(α − 1),
    Var = αs²/((α − 1)²(α − 2)); ∞ where α ≤ 2 (no variance)."""
    alpha = p.alpha
    mean = alpha * p.scale / (alpha - 1)
    variance = alpha * (p.scale / (alpha - 1)) ** 2 / (alpha - 2)
    result = -_pareto_entropy(p) + _normal_cross_entropy(mean, variance, q)
    return _infinite_where(alpha <= 2, result)


def _x_log_x(x):
    """x·log x, 0 at 0 (and at x < 0, outside every support here: those KLs are ∞)."""
    x = x.clamp(min=0)
    return tg.xlogy(x, x)


def _uniform_mean_log(p, shift=0.0, sign=1.0):
    """E[log(shift + sign·X)] for X ~ U(l, h): [u·log u − u] between the ends, / (h − l)."""
    width = p.high - p.low
    high, low = shift + sign * p.high, shift + sign * p.low
    return sign * (_x_log_x(high) - high - _x_log_x(low) + low) / width


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    """−log(h − l) + log B(a, b) − (a − 1)·E[log X] − (b − 1)·E[log(1 − X)]; ∞ unless
    [l, h] ⊂ [0, 1]."""
    log_beta = (tg.lgamma(q.concentration1) + tg.lgamma(q.concentration0)
                - tg.lgamma(q.concentration1 + q.concentration0))
    t1 = (q.concentration1 - 1) * _uniform_mean_log(p)
    t2 = (q.concentration0 - 1) * _uniform_mean_log(p, 1.0, -1.0)
    result = -(p.high - p.low).log() + log_beta - t1 - t2
    return _infinite_where((p.high > 1) | (p.low < 0), result)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    """−H(p) − E[X]·logit λ − log(1 − λ) − log C(λ); ∞ unless [l, h] ⊂ [0, 1]."""
    result = -p.entropy() + _continuous_bernoulli_cross_entropy(p.mean, q)
    return _infinite_where((p.high > 1) | (p.low < 0), result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    """r·(h + l)/2 − log((h − l)·r); ∞ where l < 0."""
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return _infinite_where(p.low < 0, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    """−log(h − l) + log Γ(α) − α·log β − (α − 1)·E[log X] + β·(h + l)/2; ∞ where l < 0."""
    t1 = tg.lgamma(q.concentration) - q.concentration * q.rate.log()
    t2 = (q.concentration - 1) * _uniform_mean_log(p)
    result = -(p.high - p.low).log() + t1 - t2 + q.rate * (p.high + p.low) / 2
    return _infinite_where(p.low < 0, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    """With c = β/(h − l), zₕ, zₗ the ends standardised by q: log c + (zₕ + zₗ)/2
    − c·(e^(−zₕ) − e^(−zₗ))."""
    common = q.scale / (p.high - p.low)
    high = (p.high - q.loc) / q.scale
    low = (p.low - q.loc) / q.scale
    t1 = common.log() + 0.5 * (high + low)
    return t1 - common * ((-high).exp() - (-low).exp())


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    """−log(h − l) + ½·log(2πσ²) + ((h − l)²/12 + ((h + l)/2 − μ)²)/(2σ²)."""
    width = p.high - p.low
    return -width.log() + _normal_cross_entropy((p.high + p.low) / 2, width ** 2 / 12, q)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    """−log(h − l) − log(α·s^α) + (α + 1)·E[log X]; ∞ where l < s."""
    width = p.high - p.low
    t1 = (q.alpha * q.scale ** q.alpha * width).log()
    result = (q.alpha + 1) * _uniform_mean_log(p) - t1
    return _infinite_where(p.low < q.scale, result)
