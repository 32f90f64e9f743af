"""Probability distributions with PyTorch's ``torch.distributions`` names and semantics.

    import tinygrad_opt as tg
    from tinygrad_opt.distributions import Normal, kl_divergence

    q = Normal(mu, sigma)                   # parameters: Tensors (or numbers)
    x = q.rsample((100,))                   # reparameterized: gradients reach mu, sigma
    loss = -q.log_prob(x).mean() + kl_divergence(q, Normal(0.0, 1.0)).sum()

Files: ``distribution.py`` (the base class: shapes, validation), ``constraints.py``,
``continuous.py``, ``discrete.py``, ``multivariate.py`` (MultivariateNormal, Independent),
``relaxed.py``, ``kl.py``. Samples come from the generator ``tg.manual_seed`` seeds, on the
parameters' device.
"""

from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.continuous import (Beta, Cauchy, Chi2, Dirichlet, Exponential,
                                                   Gamma, Gumbel, Laplace, LogNormal, Normal,
                                                   StudentT, Uniform)
from tinygrad_opt.distributions.discrete import (Bernoulli, Binomial, Categorical, Geometric,
                                                 OneHotCategorical, Poisson)
from tinygrad_opt.distributions.distribution import Distribution
from tinygrad_opt.distributions.kl import kl_divergence, register_kl
from tinygrad_opt.distributions.multivariate import Independent, MultivariateNormal
from tinygrad_opt.distributions.relaxed import RelaxedBernoulli, RelaxedOneHotCategorical

__all__ = [
    "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "Dirichlet",
    "Distribution", "Exponential", "Gamma", "Geometric", "Gumbel", "Independent", "Laplace",
    "LogNormal", "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson",
    "RelaxedBernoulli", "RelaxedOneHotCategorical", "StudentT", "Uniform", "constraints",
    "kl_divergence", "register_kl",
]
