"""ContinuousBernoulli (Loaiza-Ganem and Cunningham, 2019): the Bernoulli likelihood
x^λ(1 − x)^(1−λ) read as a density on [0, 1] and normalised,

    p(x) = C(λ)·λˣ(1 − λ)^(1−x),   C(λ) = 2·atanh(1 − 2λ)/(1 − 2λ)   (C(½) = 2),

the likelihood a VAE with [0, 1]-valued pixels actually needs. ``probs`` λ is not a
probability (nor ``logits`` log-odds); the names follow Bernoulli's.

Near λ = ½ the closed forms are 0/0, so inside ``lims`` (0.499, 0.501) C(λ), the mean and
the variance use Taylor expansions in (λ − ½) (as PyTorch): with δ = λ − ½,

    log C = log 2 + (4/3 + 104/45·δ²)·δ²,   mean = ½ + (1/3 + 16/45·δ²)·δ,
    variance = 1/12 − (1/15 − 128/945·δ²)·δ².

Samples invert the cdf F(x) = (λˣ(1 − λ)^(1−x) + λ − 1)/(2λ − 1), so ``rsample`` is
differentiable in λ.
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.exp_family import ExponentialFamily
from tinygrad_opt.distributions.distribution import (Distribution, all_true, broadcast_all,
                                                     clamp_probs, lazy_property,
                                                     logits_to_probs, probs_to_logits,
                                                     uniform_noise)

__all__ = ["ContinuousBernoulli"]


def _bce_with_logits(logits, target):
    """−[y·log σ(l) + (1 − y)·log(1 − σ(l))], elementwise."""
    return tg.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")


class ContinuousBernoulli(ExponentialFamily):
    """ContinuousBernoulli(λ) on [0, 1], ``probs`` λ in (0, 1) or ``logits`` log(λ/(1 − λ)):

        log p(x) = x·log λ + (1 − x)·log(1 − λ) + log C(λ),
        mean = λ/(2λ − 1) + 1/(2·atanh(1 − 2λ)),
        variance = λ(λ − 1)/(1 − 2λ)² + 1/(2·atanh(1 − 2λ))²,
        entropy = mean·(log(1 − λ) − log λ) − log C(λ) − log(1 − λ).

    (2·atanh(1 − 2λ) = log(1 − λ) − log λ.)"""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        validate = Distribution._validate_args if validate_args is None else validate_args
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            if validate and not all_true(constraints.unit_interval.check(self.probs)):
                raise ValueError("The parameter probs has invalid values")
            self.probs = clamp_probs(self.probs)  # checked before: the clamped always pass
        else:
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        self._lims = lims
        super().__init__(self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """The same distribution with its parameter broadcast to ``batch_shape``."""
        new = super().expand(batch_shape, _instance)
        new._param = new.probs if "probs" in new.__dict__ else new.logits
        return new

    @lazy_property
    def logits(self):
        """log λ − log(1 − λ)."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """σ(logits), clamped to [eps, 1 − eps]."""
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    @property
    def param_shape(self) -> tuple:
        """The shape of the given parameter."""
        return self._param.shape

    def _outside_unstable_region(self):
        """True where λ ≤ lims[0] or λ > lims[1]: where the closed forms are exact enough."""
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        """λ outside the unstable region, lims[0] inside (so that no branch divides 0/0)."""
        return tg.where(self._outside_unstable_region(), self.probs, self._lims[0])

    def _cont_bern_log_norm(self):
        """log C(λ) = log |log(1 − λ) − log λ| − log |1 − 2λ|; its Taylor form near ½."""
        cut_probs = self._cut_probs()
        below_half = tg.where(cut_probs <= 0.5, cut_probs, 0.0)
        above_half = tg.where(cut_probs >= 0.5, cut_probs, 1.0)
        log_norm = ((-cut_probs).log1p() - cut_probs.log()).abs().log() - tg.where(
            cut_probs <= 0.5, (-2.0 * below_half).log1p(), (2.0 * above_half - 1.0).log())
        x = (self.probs - 0.5) ** 2
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return tg.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        """λ/(2λ − 1) + 1/(log(1 − λ) − log λ); ½ + (1/3 + 16/45·δ²)·δ near ½."""
        cut_probs = self._cut_probs()
        mus = cut_probs / (2.0 * cut_probs - 1.0) + 1.0 / ((-cut_probs).log1p()
                                                          - cut_probs.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x ** 2) * x
        return tg.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        """√variance."""
        return self.variance.sqrt()

    @property
    def variance(self):
        """λ(λ − 1)/(1 − 2λ)² + 1/(log(1 − λ) − log λ)²; 1/12 − (1/15 − 128/945·δ²)·δ²
        near ½."""
        cut_probs = self._cut_probs()
        variances = (cut_probs * (cut_probs - 1.0) / (1.0 - 2.0 * cut_probs) ** 2
                     + 1.0 / ((-cut_probs).log1p() - cut_probs.log()) ** 2)
        x = (self.probs - 0.5) ** 2
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return tg.where(self._outside_unstable_region(), variances, taylor)

    def sample(self, sample_shape=()):
        """icdf(u), u ~ U[0, 1), with no graph."""
        with tg.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        """icdf(u), u ~ U[0, 1): differentiable in λ."""
        u = uniform_noise(self._extended_shape(sample_shape), self.probs)
        return self.icdf(u)

    def log_prob(self, value):
        """x·log λ + (1 − x)·log(1 − λ) + log C(λ) = −BCE-with-logits(l, x) + log C(λ)."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value) + self._cont_bern_log_norm()

    def cdf(self, value):
        """(λˣ(1 − λ)^(1−x) + λ − 1)/(2λ − 1) (x near ½: x), 0 below 0 and 1 above 1."""
        if self._validate_args:
            self._validate_sample(value)
        cut_probs = self._cut_probs()
        cdfs = ((cut_probs ** value * (1.0 - cut_probs) ** (1.0 - value) + cut_probs - 1.0)
                / (2.0 * cut_probs - 1.0))
        unbounded = tg.where(self._outside_unstable_region(), cdfs, value)
        return tg.where(value <= 0.0, 0.0, tg.where(value >= 1.0, 1.0, unbounded))

    def icdf(self, value):
        """(log1p(−λ + q(2λ − 1)) − log1p(−λ)) / (log λ − log1p(−λ)) (q itself near ½)."""
        cut_probs = self._cut_probs()
        inverse = (((-cut_probs + value * (2.0 * cut_probs - 1.0)).log1p()
                    - (-cut_probs).log1p()) / (cut_probs.log() - (-cut_probs).log1p()))
        return tg.where(self._outside_unstable_region(), inverse, value)

    @property
    def _natural_params(self) -> tuple:
        """θ = (log λ − log(1 − λ),), for t(x) = x: p(x) = exp(θx − F(θ)) on [0, 1]."""
        return (self.logits,)

    def _log_normalizer(self, x):
        """F(θ) = log ∫₀¹ e^(θx) dx = log((e^θ − 1)/θ); near θ = 0 (|θ| < 1e-3, where the
        quotient loses its digits) its series θ/2 + θ²/24 − θ⁴/2880."""
        near_zero = x.abs() < 1e-3
        safe = tg.where(near_zero, tg.ones_like(x), x)
        exact = (safe.expm1() / safe).abs().log()
        return tg.where(near_zero, 0.5 * x + x ** 2 / 24 - x ** 4 / 2880, exact)

    _mean_carrier_measure = 0

    def entropy(self):
        """mean·(log(1 − λ) − log λ) − log C(λ) − log(1 − λ)."""
        log_probs0 = (-self.probs).log1p()
        log_probs1 = self.probs.log()
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0
