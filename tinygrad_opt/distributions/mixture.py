"""MixtureSameFamily: a mixture of K components of one family, chosen by a Categorical.

    p(x) = Σₖ πₖ·pₖ(x),   log p(x) = logsumexp over k of (log πₖ + log pₖ(x))

(the log-sum-exp keeps the sum exact where each pₖ(x) underflows). The components are one
distribution whose rightmost batch dim indexes k:

    mix = Categorical(probs=π)                          # batch B, K categories
    components = Normal(μ, σ)                           # μ, σ of shape B + (K,)
    gmm = MixtureSameFamily(mix, components)            # batch B
"""

from __future__ import annotations

import tinygrad_opt as tg
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.discrete import Categorical
from tinygrad_opt.distributions.distribution import Distribution

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    """p(x) = Σₖ πₖ·pₖ(x): ``mixture_distribution`` a Categorical over K components (batch
    B), ``component_distribution`` any distribution of batch B + (K,) (B broadcasts).

        mean = Σₖ πₖ·μₖ,
        variance = Σₖ πₖ·σₖ² + Σₖ πₖ·(μₖ − mean)²   (the law of total variance),
        cdf = Σₖ πₖ·Fₖ(x).

    Samples pick a component by the Categorical, then that component's draw; there is no
    rsample (the choice is discrete)."""

    arg_constraints: dict = {}
    has_rsample = False

    def __init__(self, mixture_distribution: Categorical,
                 component_distribution: Distribution, validate_args=None):
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of "
                             "torch.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution need to be an instance of "
                             "torch.distributions.Distribution")
        mixture_batch = mixture_distribution.batch_shape
        component_batch = component_distribution.batch_shape[:-1]
        for size1, size2 in zip(reversed(mixture_batch), reversed(component_batch)):
            if size1 != 1 and size2 != 1 and size1 != size2:
                raise ValueError(f"`mixture_distribution.batch_shape` ({mixture_batch}) is "
                                 "not compatible with `component_distribution.batch_shape`"
                                 f"({component_batch})")
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1]
        if km != kc:
            raise ValueError(f"`mixture_distribution component` ({km}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({kc})")
        self._num_component = km
        event_shape = component_distribution.event_shape
        self._event_ndims = len(event_shape)
        super().__init__(component_batch, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """Both parts expanded: the components to ``batch_shape + (K,)``."""
        batch_shape = tuple(batch_shape)
        component = self._component_distribution.expand(batch_shape + (self._num_component,))
        mixture = self._mixture_distribution.expand(batch_shape)
        new = MixtureSameFamily(mixture, component, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property
    def support(self):
        """The components' support."""
        return self._component_distribution.support

    @property
    def mixture_distribution(self) -> Categorical:
        """The Categorical over the components."""
        return self._mixture_distribution

    @property
    def component_distribution(self) -> Distribution:
        """The components (rightmost batch dim: k)."""
        return self._component_distribution

    @property
    def mean(self):
        """Σₖ πₖ·μₖ."""
        probs = self._pad_mixture_dimensions(self.mixture_distribution.probs)
        return (probs * self.component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        """Σₖ πₖ·σₖ² + Σₖ πₖ·(μₖ − mean)²."""
        probs = self._pad_mixture_dimensions(self.mixture_distribution.probs)
        component_mean = self.component_distribution.mean
        mean_cond_var = (probs * self.component_distribution.variance).sum(-1 - self._event_ndims)
        spread = (component_mean - self._pad(self.mean)) ** 2
        var_cond_mean = (probs * spread).sum(-1 - self._event_ndims)
        return mean_cond_var + var_cond_mean

    def cdf(self, x):
        """Σₖ πₖ·Fₖ(x)."""
        x = self._pad(x)
        cdf_x = self.component_distribution.cdf(x)                   # (..., K)
        return (cdf_x * self.mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        """logsumexpₖ(log πₖ + log pₖ(x))."""
        if self._validate_args:
            self._validate_sample(x)
        x = self._pad(x)                                              # (..., 1, event)
        log_prob_x = self.component_distribution.log_prob(x)         # (..., K)
        log_mix_prob = self.mixture_distribution.logits.log_softmax(-1)  # (B, K)
        return (log_prob_x + log_mix_prob).logsumexp(-1)

    def sample(self, sample_shape=()):
        """k ~ Categorical(π), then the k-th component's draw (all components draw; the
        chosen one is gathered)."""
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        sample_shape = tuple(sample_shape)
        with tg.no_grad():
            gather_dim = len(sample_shape) + len(self.batch_shape)
            event_shape = self.event_shape
            mix_sample = self.mixture_distribution.sample(sample_shape)   # (S, B)
            comp_samples = self.component_distribution.sample(sample_shape)  # (S, B, K, E)
            mixture_batch = self.mixture_distribution.batch_shape
            missing = len(self.batch_shape) - len(mixture_batch)       # B may broadcast
            index = mix_sample.reshape(sample_shape + (1,) * missing + mixture_batch
                                       + (1,) * (len(event_shape) + 1))
            batch = comp_samples.shape[:gather_dim]
            index = index.expand(batch + (1,) + event_shape)              # (S, B, 1, E)
            return comp_samples.gather(gather_dim, index).squeeze(gather_dim)

    def _pad(self, x):
        """x with a size-1 dim where the components' k is (before the event dims)."""
        return x.unsqueeze(-1 - self._event_ndims)

    def _pad_mixture_dimensions(self, x):
        """π of shape (B', K) reshaped to broadcast against the components' (B, K, E)."""
        dist_batch_ndims = len(self.batch_shape)
        cat_batch_ndims = len(self.mixture_distribution.batch_shape)
        pad_ndims = 0 if cat_batch_ndims == 1 else dist_batch_ndims - cat_batch_ndims
        shape = x.shape
        return x.reshape(shape[:-1] + (1,) * pad_ndims + shape[-1:]
                         + (1,) * self._event_ndims)

    def __repr__(self) -> str:
        return (f"MixtureSameFamily(\n  {self.mixture_distribution!r},\n"
                f"  {self.component_distribution!r})")
