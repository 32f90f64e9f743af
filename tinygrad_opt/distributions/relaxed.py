"""RelaxedBernoulli and RelaxedOneHotCategorical (Concrete / Gumbel-softmax): continuous
stand-ins for Bernoulli and OneHotCategorical whose samples are differentiable in the
probabilities, sharper as the ``temperature`` λ goes to 0 (Maddison et al., Jang et al.);
and the laws of their logits, LogitRelaxedBernoulli and ExpRelaxedCategorical.

    RelaxedBernoulli         x = σ((l + log u − log(1 − u)) / λ),    u ~ U(0, 1)
    RelaxedOneHotCategorical x = softmax((logits + g) / λ),          g = −log(−log u)
    LogitRelaxedBernoulli    y = (l + log u − log(1 − u)) / λ        (y = logit x)
    ExpRelaxedCategorical    y = log_softmax((logits + g) / λ)       (y = log x)

PyTorch builds them as transformed distributions (a logistic / ExpRelaxedCategorical
variable y pushed through σ / exp); here the densities are written out, with the same
change of variables: log p(x) = log p_y(y) − log |dx/dy|.
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.discrete import Bernoulli, Categorical
from tinygrad_opt.distributions.distribution import (Distribution, broadcast_all, clamp_probs,
                                                     uniform_noise)
from tinygrad_opt.nn.functional_primitives import softplus

__all__ = ["ExpRelaxedCategorical", "LogitRelaxedBernoulli", "RelaxedBernoulli",
           "RelaxedOneHotCategorical"]


def _clipped_sigmoid(y):
    """σ(y) kept inside [tiny, 1 − eps], so that its logit stays finite."""
    finfo = tg.finfo(y.dtype)
    return y.sigmoid().clamp(min=finfo.tiny, max=1.0 - finfo.eps)


class _TemperedBernoulli(Distribution):
    """What RelaxedBernoulli and LogitRelaxedBernoulli share: a temperature λ (in the
    parameter's dtype) and the ``probs`` p or ``logits`` l of a Bernoulli, whose shape is
    the batch_shape; the logistic variable y = logit x, its sample and its density."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    has_rsample = True  # (PyTorch leaves LogitRelaxedBernoulli's False, though it is)

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._bernoulli = Bernoulli(probs, logits, validate_args=validate_args)
        (self.temperature,) = broadcast_all(temperature)
        self.temperature = self.temperature.astype(self._bernoulli._param.dtype)
        super().__init__(self._bernoulli.batch_shape, validate_args=validate_args)

    @property
    def probs(self):
        """p."""
        return self._bernoulli.probs

    @property
    def logits(self):
        """l = log p − log(1 − p)."""
        return self._bernoulli.logits

    @property
    def param_shape(self) -> tuple:
        """The shape of the given parameter (= batch_shape)."""
        return self._bernoulli.param_shape

    def _logistic_sample(self, sample_shape):
        """y = (log u − log(1 − u) + log p − log(1 − p)) / λ, p and u clamped to
        [eps, 1 − eps]."""
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(self.probs.expand(shape))
        u = clamp_probs(uniform_noise(shape, probs))
        return (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / self.temperature

    def _logistic_log_prob(self, y):
        """log p(y) = log λ + d − 2·softplus(d), d = l − λy."""
        d = self.logits - y * self.temperature
        return self.temperature.log() + d - 2 * softplus(d)


class RelaxedBernoulli(_TemperedBernoulli):
    """A relaxed Bernoulli on (0, 1) with ``temperature`` λ and ``probs`` p or ``logits`` l:
    y = logit x has the logistic density λ·e^(l − λy) / (1 + e^(l − λy))², so

        log p(x) = log λ + d − 2·softplus(d) − log(x(1 − x)),   d = l − λ·logit x."""

    support = constraints.unit_interval

    def rsample(self, sample_shape=()):
        """σ(y), y the logistic sample (``_logistic_sample``), kept inside (0, 1)."""
        return _clipped_sigmoid(self._logistic_sample(sample_shape))

    def log_prob(self, value):
        """log λ + d − 2·softplus(d) − log(x(1 − x)), d = l − λ·logit x."""
        if self._validate_args:
            self._validate_sample(value)
        finfo = tg.finfo(value.dtype)
        clipped = value.clamp(min=finfo.tiny, max=1.0 - finfo.eps)
        y = clipped.log() - (-clipped).log1p()                      # logit x
        log_jacobian = -softplus(-y) - softplus(y)                  # log σ'(y) = log x(1 − x)
        return self._logistic_log_prob(y) - log_jacobian


class LogitRelaxedBernoulli(_TemperedBernoulli):
    """The logit y = log x − log(1 − x) of a RelaxedBernoulli with ``temperature`` λ and
    ``probs`` p or ``logits`` l: a logistic law of location l/λ and scale 1/λ on ℝ,

        log p(y) = log λ + d − 2·log(1 + e^d),   d = l − λy."""

    support = constraints.real

    def rsample(self, sample_shape=()):
        """(log u − log(1 − u) + log p − log(1 − p)) / λ, p and u clamped to [eps, 1 − eps]."""
        return self._logistic_sample(sample_shape)

    def log_prob(self, value):
        """log λ + d − 2·softplus(d), d = l − λy."""
        if self._validate_args:
            self._validate_sample(value)
        return self._logistic_log_prob(value)


class _TemperedCategorical(Distribution):
    """What RelaxedOneHotCategorical and ExpRelaxedCategorical share: a temperature λ (in
    the parameter's dtype) and the ``probs`` or ``logits`` of a Categorical (event_shape
    (K,)); the variable y = log x, its sample and its (ExpConcrete) density."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        (self.temperature,) = broadcast_all(temperature)
        self.temperature = self.temperature.astype(self._categorical._param.dtype)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @property
    def probs(self):
        """The normalised probabilities."""
        return self._categorical.probs

    @property
    def logits(self):
        """The normalised logits."""
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple:
        """batch_shape + (K,)."""
        return self._categorical.param_shape

    def _log_softmax_sample(self, sample_shape):
        """y = (logits + g)/λ − logsumexp((logits + g)/λ), g = −log(−log u)."""
        shape = self._extended_shape(sample_shape)
        u = clamp_probs(uniform_noise(shape, self.logits))
        gumbels = -(-u.log()).log()
        scores = (self.logits + gumbels) / self.temperature           # (..., K)
        return scores - scores.logsumexp(-1, keepdim=True)

    def _exp_concrete_log_prob(self, y):
        """log p(y) = log (K − 1)! + (K − 1)·log λ + Σₖ (sₖ − logsumexp(s)), s = logits − λy."""
        k = self._event_shape[0]
        log_scale = math.lgamma(k) + (k - 1) * self.temperature.log()
        score = self.logits - y * self.temperature                     # (..., K)
        return (score - score.logsumexp(-1, keepdim=True)).sum(-1) + log_scale


class RelaxedOneHotCategorical(_TemperedCategorical):
    """A relaxed one-hot categorical on the simplex (event_shape (K,)) with ``temperature`` λ
    and ``probs`` or ``logits``: y = log x has the ExpConcrete density, so

        log p(x) = log (K − 1)! + (K − 1)·log λ + Σₖ (sₖ − logsumexp(s)) − Σₖ yₖ,
        s = logits − λy."""

    support = constraints.simplex

    def rsample(self, sample_shape=()):
        """exp of (logits + g)/λ − logsumexp((logits + g)/λ), g = −log(−log u): a softmax."""
        return self._log_softmax_sample(sample_shape).exp()

    def log_prob(self, value):
        """log (K − 1)! + (K − 1)·log λ + Σ (sₖ − logsumexp(s)) − Σ yₖ, y = log x."""
        if self._validate_args:
            self._validate_sample(value)
        y = value.log()
        return self._exp_concrete_log_prob(y) - y.sum(-1)


class ExpRelaxedCategorical(_TemperedCategorical):
    """The log y = log x of a RelaxedOneHotCategorical with ``temperature`` λ and ``probs``
    or ``logits`` (event_shape (K,); the samples satisfy logsumexp(y) = 0, a submanifold of
    the support ``real_vector``): the ExpConcrete density

        log p(y) = log (K − 1)! + (K − 1)·log λ + Σₖ (sₖ − logsumexp(s)),   s = logits − λy."""

    support = constraints.real_vector

    def rsample(self, sample_shape=()):
        """(logits + g)/λ − logsumexp((logits + g)/λ), g = −log(−log u): a log-softmax."""
        return self._log_softmax_sample(sample_shape)

    def log_prob(self, value):
        """log (K − 1)! + (K − 1)·log λ + Σ (sₖ − logsumexp(s)), s = logits − λy."""
        if self._validate_args:
            self._validate_sample(value)
        return self._exp_concrete_log_prob(value)
