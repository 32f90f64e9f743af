"""RelaxedBernoulli and RelaxedOneHotCategorical (Concrete / Gumbel-softmax): continuous
stand-ins for Bernoulli and OneHotCategorical whose samples are differentiable in the
probabilities, sharper as the ``temperature`` λ goes to 0 (Maddison et al., Jang et al.).

    RelaxedBernoulli         x = σ((l + log u − log(1 − u)) / λ),    u ~ U(0, 1)
    RelaxedOneHotCategorical x = softmax((logits + g) / λ),          g = −log(−log u)

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

__all__ = ["RelaxedBernoulli", "RelaxedOneHotCategorical"]


def _clipped_sigmoid(y):
    """σ(y) kept inside [tiny, 1 − eps], so that its logit stays finite."""
    finfo = tg.finfo(y.dtype)
    return y.sigmoid().clamp(min=finfo.tiny, max=1.0 - finfo.eps)


class RelaxedBernoulli(Distribution):
    """A relaxed Bernoulli on (0, 1) with ``temperature`` λ and ``probs`` p or ``logits`` l:
    y = logit x has the logistic density λ·e^(l − λy) / (1 + e^(l − λy))², so

        log p(x) = log λ + d − 2·softplus(d) − log(x(1 − x)),   d = l − λ·logit x."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

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

    def rsample(self, sample_shape=()):
        """σ((log p − log(1 − p) + log u − log(1 − u)) / λ), p and u clamped to [eps, 1 − eps]."""
        shape = self._extended_shape(sample_shape)
        probs = clamp_probs(self.probs.expand(shape))
        u = clamp_probs(uniform_noise(shape, probs))
        y = (u.log() - (-u).log1p() + probs.log() - (-probs).log1p()) / self.temperature
        return _clipped_sigmoid(y)

    def log_prob(self, value):
        """log λ + d − 2·softplus(d) − log(x(1 − x)), d = l − λ·logit x."""
        if self._validate_args:
            self._validate_sample(value)
        finfo = tg.finfo(value.dtype)
        clipped = value.clamp(min=finfo.tiny, max=1.0 - finfo.eps)
        y = clipped.log() - (-clipped).log1p()                      # logit x
        d = self.logits - y * self.temperature
        log_prob_y = self.temperature.log() + d - 2 * softplus(d)
        log_jacobian = -softplus(-y) - softplus(y)                  # log σ'(y) = log x(1 − x)
        return log_prob_y - log_jacobian


class RelaxedOneHotCategorical(Distribution):
    """A relaxed one-hot categorical on the simplex (event_shape (K,)) with ``temperature`` λ
    and ``probs`` or ``logits``: y = log x has the ExpConcrete density, so

        log p(x) = log (K − 1)! + (K − 1)·log λ + Σₖ (sₖ − logsumexp(s)) − Σₖ yₖ,
        s = logits − λy."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
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

    def rsample(self, sample_shape=()):
        """exp of (logits + g)/λ − logsumexp((logits + g)/λ), g = −log(−log u): a softmax."""
        shape = self._extended_shape(sample_shape)
        u = clamp_probs(uniform_noise(shape, self.logits))
        gumbels = -(-u.log()).log()
        scores = (self.logits + gumbels) / self.temperature
        return (scores - scores.logsumexp(-1, keepdim=True)).exp()

    def log_prob(self, value):
        """log (K − 1)! + (K − 1)·log λ + Σ (sₖ − logsumexp(s)) − Σ yₖ, y = log x."""
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        y = value.log()
        log_scale = math.lgamma(k) + (k - 1) * self.temperature.log()
        score = self.logits - y * self.temperature
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + log_scale - y.sum(-1)
