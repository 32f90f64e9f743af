"""Discrete families: Bernoulli, Categorical, OneHotCategorical, Binomial, Poisson, Geometric,
Multinomial, NegativeBinomial.

Bernoulli, Binomial, Geometric and Categorical take either ``probs`` or ``logits`` (not
both); the other is computed on first use:

    binary       logits = log p − log(1 − p),    p = σ(logits)
    categorical  logits = log p (normalised),    p = softmax(logits)

log-probabilities are computed from the logits, where they are stable: Bernoulli's
log p(x) = x·l − softplus(l) is −BCE-with-logits(l, x), exact for |l| large too.
Samples are not differentiable (no ``rsample``): use the Relaxed families for that.
"""

from __future__ import annotations

import math
import numbers

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.continuous import Gamma
from tinygrad_opt.distributions.distribution import (Distribution, all_true, broadcast_all,
                                                     host_draws, lazy_property,
                                                     logits_to_probs, probs_to_logits,
                                                     uniform_noise)
from tinygrad_opt.distributions.exp_family import ExponentialFamily
from tinygrad_opt.nn.functional_primitives import softplus
from tinygrad_opt.tensor import Tensor

__all__ = ["Bernoulli", "Categorical", "OneHotCategorical", "Binomial", "Poisson",
           "Geometric", "Multinomial", "NegativeBinomial"]


def _bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """−[y·log σ(l) + (1 − y)·log(1 − σ(l))], elementwise, in the stable form."""
    return tg.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")


def _one_of(probs, logits) -> None:
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


class Bernoulli(ExponentialFamily):
    """Bernoulli(p): P(X = 1) = p, P(X = 0) = 1 − p; ``probs`` p or ``logits`` log(p/(1 − p)).

    log p(x) = x·l − softplus(l) (−BCE-with-logits), mean = p, variance = p(1 − p),
    entropy = BCE-with-logits(l, p) = −p·log p − (1 − p)·log(1 − p)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        """log p − log(1 − p) (p clamped to [eps, 1 − eps])."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """σ(logits)."""
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple:
        """The shape of the given parameter."""
        return self._param.shape

    @property
    def mean(self):
        """p."""
        return self.probs

    @property
    def mode(self):
        """1 where p > ½, 0 where p < ½, NaN at p = ½."""
        mode = (self.probs >= 0.5).astype(self.probs.dtype)
        return tg.where(self.probs == 0.5, tg.full_like(mode, float("nan")), mode)

    @property
    def variance(self):
        """p(1 − p)."""
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """1 where u < p (u ~ U[0, 1)), else 0, in p's dtype."""
        shape = self._extended_shape(sample_shape)
        probs = self.probs.detach().expand(shape)
        return (uniform_noise(shape, probs) < probs).astype(probs.dtype)

    def log_prob(self, value):
        """x·l − softplus(l) = −BCE-with-logits(l, x)."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value)

    @property
    def _natural_params(self) -> tuple:
        """θ = (log p − log(1 − p),), for t(x) = x."""
        return (self.logits,)

    def _log_normalizer(self, x):
        """F(θ) = log(1 + e^θ)."""
        return softplus(x, threshold=math.inf)

    _mean_carrier_measure = 0

    def entropy(self):
        """BCE-with-logits(l, p)."""
        return _bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand: bool = True):
        """The values 0 and 1, shape (2, 1, ..., 1), or (2,) + batch_shape with ``expand``."""
        values = tg.arange(2, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values


class Categorical(Distribution):
    """Categorical over {0, ..., K − 1}: P(X = k) = pₖ; ``probs`` (normalised along the last
    dim) or ``logits`` (normalised: logits − logsumexp(logits)). batch_shape is the
    parameter's shape without its last dim; samples are int64 indices.

    log p(k) = logitsₖ, entropy = −Σ pₖ·log pₖ; mean and variance are NaN (as PyTorch)."""

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            if not isinstance(probs, Tensor) or probs.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if not isinstance(logits, Tensor) or logits.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        super().__init__(self._param.shape[:-1], validate_args=validate_args)

    @lazy_property
    def logits(self):
        """log p (p clamped to [eps, 1 − eps])."""
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        """softmax(logits)."""
        return logits_to_probs(self.logits)

    @property
    def param_shape(self) -> tuple:
        """The shape of the given parameter: batch_shape + (K,)."""
        return self._param.shape

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        """integer_interval(0, K − 1)."""
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        """NaN: the categories are labels, not numbers."""
        return tg.full(self._extended_shape(), float("nan"), dtype=self.probs.dtype,
                       device=self.probs.device)

    @property
    def mode(self):
        """The most likely category, argmax p."""
        return self.probs.argmax(-1)

    @property
    def variance(self):
        """NaN, as the mean."""
        return self.mean

    def sample(self, sample_shape=()):
        """Inverse transform: index = #{k : p₀ + ... + pₖ ≤ u·Σp}, u ~ U[0, 1), int64."""
        shape = self._extended_shape(sample_shape)
        probs = self.probs.detach().astype(backend.float64).expand(shape + (self._num_events,))
        cdf = probs.cumsum(-1)                                           # (..., K)
        u = uniform_noise(shape + (1,), probs) * cdf[..., -1:]           # (..., 1)
        index = (cdf <= u).astype(backend.int64).sum(-1)
        return index.clamp(max=self._num_events - 1)

    def log_prob(self, value):
        """logits[value] (the normalised logits)."""
        if self._validate_args:
            self._validate_sample(value)
        index = value.astype(backend.int64).unsqueeze(-1)                   # (..., 1)
        batch = backend.broadcast_shapes(index.shape[:-1], self.logits.shape[:-1])
        log_pmf = self.logits.broadcast_to(batch + (self._num_events,))    # (..., K)
        return log_pmf.gather(-1, index.broadcast_to(batch + (1,))).squeeze(-1)

    def entropy(self):
        """−Σ pₖ·log pₖ, 0·log 0 = 0: a −∞ logit (pₖ = 0) counts as 0. (PyTorch clamps it to
        the dtype's min instead, the same value, but then an upstream gradient above 1
        overflows that min to −∞ and 0·(−∞) makes every gradient NaN.)"""
        logits = tg.where(self.logits == -math.inf, 0.0, self.logits)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True):
        """The categories 0 ... K − 1, shape (K, 1, ..., 1), or (K,) + batch_shape."""
        values = tg.arange(self._num_events, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """A Categorical whose samples are one-hot vectors (event_shape (K,)):
    log p(x) = logits[argmax x], mean = p, variance = p(1 − p)."""

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @property
    def probs(self):
        """The Categorical's probabilities."""
        return self._categorical.probs

    @property
    def logits(self):
        """The Categorical's normalised logits."""
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple:
        """batch_shape + (K,)."""
        return self._categorical.param_shape

    @property
    def mean(self):
        """p."""
        return self.probs

    @property
    def mode(self):
        """The one-hot vector of argmax p."""
        return self._one_hot(self.probs.argmax(-1))

    @property
    def variance(self):
        """p(1 − p)."""
        return self.probs * (1 - self.probs)

    def _one_hot(self, indices):
        k = self._categorical._num_events
        return tg.nn.functional.one_hot(indices, k).astype(self.probs.dtype)

    def sample(self, sample_shape=()):
        """One-hot vectors of Categorical samples."""
        return self._one_hot(self._categorical.sample(sample_shape))

    def log_prob(self, value):
        """The Categorical's log p of argmax x."""
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        """The Categorical's entropy."""
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True):
        """The K one-hot vectors, shape (K, 1, ..., 1, K), or (K,) + batch_shape + (K,)."""
        k = self.event_shape[0]
        values = tg.eye(k, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape((k,) + (1,) * len(self.batch_shape) + (k,))
        return values.expand((k,) + self.batch_shape + (k,)) if expand else values


class Binomial(Distribution):
    """Binomial(total_count n, p): the number of successes in n Bernoulli(p) trials.

    log p(k) = log C(n, k) + k·l − n·softplus(l) (l the logits, softplus(l) = log(1 + e^l)
    in its stable form, smooth at l = 0 so second derivatives are right there too),
    mean = np, variance = np(1 − p), mode = min(⌊(n + 1)p⌋, n)."""

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.astype(self.probs.dtype)
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.astype(self.logits.dtype)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        """log p − log(1 − p)."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """σ(logits)."""
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple:
        """The shape of the given parameter."""
        return self._param.shape

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        """integer_interval(0, total_count)."""
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        """np."""
        return self.total_count * self.probs

    @property
    def mode(self):
        """min(⌊(n + 1)p⌋, n)."""
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        """np(1 − p)."""
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """Draws of the seeded host generator's binomial, in p's dtype and device."""
        shape = self._extended_shape(sample_shape)
        count, probs = self.total_count.expand(shape), self.probs.expand(shape)
        return host_draws(lambda rng, n, p, size: rng.binomial(n.astype("int64"), p, size),
                          (count, probs), shape, probs)

    def log_prob(self, value):
        """log n! − log k! − log (n − k)! + k·l − n·softplus(l)."""
        if self._validate_args:
            self._validate_sample(value)
        log_factorial_n = tg.lgamma(self.total_count + 1)
        log_factorial_k = tg.lgamma(value + 1)
        log_factorial_nmk = tg.lgamma(self.total_count - value + 1)
        log_normalizer = softplus(self.logits, threshold=math.inf)  # log(1 + e^l), no cut-off
        normalize_term = self.total_count * log_normalizer - log_factorial_n
        return value * self.logits - log_factorial_k - log_factorial_nmk - normalize_term

    def _homogeneous_count(self, name: str) -> int:
        total_count = int(self.total_count.max().item())
        if not all_true(self.total_count == total_count):
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{name}`.")
        return total_count

    def enumerate_support(self, expand: bool = True):
        """0 ... n (one n for the whole batch), shape (n + 1, 1, ..., 1) or (n + 1,) + batch."""
        total_count = self._homogeneous_count("enumerate_support")
        values = tg.arange(1 + total_count, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values

    def entropy(self):
        """−Σₖ p(k)·log p(k) over k = 0 ... n (one n for the whole batch)."""
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)


class Poisson(ExponentialFamily):
    """Poisson(rate λ): P(X = k) = λᵏ e^(−λ) / k!.

    log p(k) = k·log λ − λ − log Γ(k + 1) (0·log 0 = 0 at λ = 0), mean = variance = λ,
    mode = ⌊λ⌋."""

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        batch_shape = () if isinstance(rate, numbers.Number) else self.rate.shape
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def mean(self):
        """λ."""
        return self.rate

    @property
    def mode(self):
        """⌊λ⌋."""
        return self.rate.floor()

    @property
    def variance(self):
        """λ."""
        return self.rate

    def sample(self, sample_shape=()):
        """Draws of the seeded host generator's Poisson, in λ's dtype and device."""
        shape = self._extended_shape(sample_shape)
        rate = self.rate.expand(shape)
        return host_draws(lambda rng, lam, size: rng.poisson(lam, size), (rate,), shape, rate)

    @property
    def _natural_params(self) -> tuple:
        """θ = (log λ,), for t(x) = x (the carrier −log x! left out, as PyTorch)."""
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        """F(θ) = e^θ."""
        return x.exp()

    def log_prob(self, value):
        """k·log λ − λ − log Γ(k + 1)."""
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return tg.xlogy(value, rate) - rate - tg.lgamma(value + 1)


class Geometric(Distribution):
    """Geometric(p): the number of failures before the first success,
    P(X = k) = (1 − p)ᵏ p, k = 0, 1, 2, ...; ``probs`` p (0 < p ≤ 1) or ``logits``.

    mean = 1/p − 1, variance = (1/p − 1)/p, mode = 0, entropy = BCE-with-logits(l, p)/p."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        param = self.probs if probs is not None else self.logits
        super().__init__(param.shape, validate_args=validate_args)
        if self._validate_args and probs is not None:
            value = self.probs  # beyond unit_interval: p = 0 would never succeed
            if not all_true(value > 0):
                raise ValueError(
                    "Expected parameter probs "
                    f"({type(value).__name__} of shape {tuple(value.shape)}) "
                    f"of distribution {self!r} "
                    f"to be positive but found invalid values:\n{value}")

    @lazy_property
    def logits(self):
        """log p − log(1 − p)."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """σ(logits)."""
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self):
        """1/p − 1."""
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        """0."""
        return tg.zeros_like(self.probs)

    @property
    def variance(self):
        """(1/p − 1)/p."""
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        """⌊log u / log(1 − p)⌋, u ~ U(tiny, 1): inverse transform of the cdf."""
        shape = self._extended_shape(sample_shape)
        probs = self.probs.detach()
        u = uniform_noise(shape, probs).clamp(min=tg.finfo(probs.dtype).tiny)
        return (u.log() / (-probs).log1p()).floor()

    def log_prob(self, value):
        """k·log(1 − p) + log p (0 at k = 0, p = 1)."""
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        probs = tg.where((probs == 1) & (value == 0), 0.0, probs)  # no 0·log 0 = NaN
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        """BCE-with-logits(l, p)/p."""
        return _bce_with_logits(self.logits, self.probs) / self.probs


class Multinomial(Distribution):
    """Multinomial(total_count n, p): the counts of each of K categories in n independent
    Categorical(p) draws (event_shape (K,)); ``probs`` or ``logits`` as Categorical's.

        log p(x) = log (Σ xᵢ)! − Σ log xᵢ! + Σ xᵢ·log pᵢ,

    mean = n·p, variance = n·p(1 − p) (each count is Binomial(n, pᵢ)),
    entropy = n·H(p) − log n! + Σᵢ E[log xᵢ!] (the expectation over Binomial(n, pᵢ)).
    ``total_count`` must be one int for the whole batch (as PyTorch)."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count: int = 1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """The same distribution with its probabilities broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        new = object.__new__(Multinomial)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = self._binomial.expand(batch_shape + self.event_shape)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        """multinomial(n): counts ≥ 0 summing to at most n."""
        return constraints.multinomial(self.total_count)

    @property
    def probs(self):
        """The Categorical's (normalised) probabilities."""
        return self._categorical.probs

    @property
    def logits(self):
        """The Categorical's normalised logits."""
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple:
        """batch_shape + (K,)."""
        return self._categorical.param_shape

    @property
    def mean(self):
        """n·p."""
        return self.probs * self.total_count

    @property
    def variance(self):
        """n·p(1 − p)."""
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """The counts of n Categorical(p) draws, drawn by the seeded host generator's
        multinomial (p renormalised in float64), in p's dtype and device: memory and time
        grow with the number of samples, not with n."""
        shape = self._extended_shape(sample_shape)                  # (...sample, ...batch, K)
        total_count = self.total_count

        def draw(rng, probs, size):
            probs = probs.astype("float64")
            probs = probs / probs.sum(-1, keepdims=True)            # (...batch, K), Σ = 1
            return rng.multinomial(total_count, probs, size[:-1])   # (...sample, ...batch, K)

        return host_draws(draw, (self.probs,), shape, self.probs)

    def log_prob(self, value):
        """log (Σ xᵢ)! − Σ log xᵢ! + Σ xᵢ·log pᵢ (0·log 0 = 0)."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        logits = tg.where((value == 0) & (logits == -float("inf")), 0.0, logits)
        log_factorial_n = tg.lgamma(value.sum(-1) + 1)
        log_factorial_xs = tg.lgamma(value + 1).sum(-1)
        log_powers = (logits * value).sum(-1)
        return log_factorial_n - log_factorial_xs + log_powers

    def entropy(self):
        """n·H(p) − log n! + Σᵢ Σₖ₌₁..ₙ Binomial(k; n, pᵢ)·log k!."""
        n = self.total_count
        term1 = n * self._categorical.entropy() - math.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]   # (n, 1, ..., 1)
        binomial_probs = self._binomial.log_prob(support).exp()       # (n, ...batch, K)
        weights = tg.lgamma(support + 1)
        term2 = (binomial_probs * weights).sum(0).sum(-1)
        return term1 + term2


class NegativeBinomial(Distribution):
    """NegativeBinomial(total_count r, p): the number of successes (each of probability p)
    before the r-th failure; ``probs`` p or ``logits`` l = log(p/(1 − p)):

        P(X = k) = Γ(k + r)/(k!·Γ(r)) · pᵏ(1 − p)ʳ,
        log p(k) = r·log σ(−l) + k·log σ(l) + log Γ(r + k) − log Γ(1 + k) − log Γ(r),

    mean = r·p/(1 − p) = r·eˡ, variance = mean/(1 − p), mode = ⌊(r − 1)·eˡ⌋⁺.
    Samples are Poisson(λ) with λ ~ Gamma(r, rate (1 − p)/p) (the gamma-Poisson mixture)."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            self.total_count, self.probs = broadcast_all(total_count, probs)
            self.total_count = self.total_count.astype(self.probs.dtype)
        else:
            self.total_count, self.logits = broadcast_all(total_count, logits)
            self.total_count = self.total_count.astype(self.logits.dtype)
        self._param = self.probs if probs is not None else self.logits
        super().__init__(self._param.shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        """log p − log(1 − p)."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """σ(logits)."""
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple:
        """The shape of the given parameter."""
        return self._param.shape

    @property
    def mean(self):
        """r·eˡ = r·p/(1 − p)."""
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        """⌊(r − 1)·eˡ⌋, at least 0."""
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        """mean/σ(−l) = mean/(1 − p)."""
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=()):
        """Poisson(λ) draws with λ ~ Gamma(r, rate e^(−l)), in p's dtype."""
        with tg.no_grad():
            gamma = Gamma(self.total_count, (-self.logits).exp(), validate_args=False)
            rate = gamma.sample(sample_shape)
            return host_draws(lambda rng, lam, size: rng.poisson(lam, size), (rate,),
                              rate.shape, rate)

    def log_prob(self, value):
        """r·log σ(−l) + k·log σ(l) + log Γ(r + k) − log Γ(1 + k) − log Γ(r) (0 where
        r = k = 0: that count has probability 1)."""
        if self._validate_args:
            self._validate_sample(value)
        log_sigmoid = tg.nn.functional.logsigmoid
        log_unnormalized_prob = (self.total_count * log_sigmoid(-self.logits)
                                 + value * log_sigmoid(self.logits))
        log_normalization = (-tg.lgamma(self.total_count + value) + tg.lgamma(1.0 + value)
                             + tg.lgamma(self.total_count))
        log_normalization = tg.where(self.total_count + value == 0.0, 0.0, log_normalization)
        return log_unnormalized_prob - log_normalization
