"""Probability distributions with PyTorch's ``torch.distributions`` names and semantics.

    import tinygrad_opt as tg
    from tinygrad_opt.distributions import Normal, kl_divergence

    q = Normal(mu, sigma)                   # parameters: Tensors (or numbers)
    x = q.rsample((100,))                   # reparameterized: gradients reach mu, sigma
    loss = -q.log_prob(x).mean() + kl_divergence(q, Normal(0.0, 1.0)).sum()

Files: ``distribution.py`` (the base class: shapes, validation), ``constraints.py``,
``continuous.py``, ``discrete.py``, ``multivariate.py`` (MultivariateNormal,
LowRankMultivariateNormal, Independent), ``relaxed.py`` (RelaxedBernoulli,
RelaxedOneHotCategorical, LogitRelaxedBernoulli, ExpRelaxedCategorical), ``von_mises.py``,
``continuous_bernoulli.py``, ``mixture.py`` (MixtureSameFamily), ``families_more.py``
(FisherSnedecor, InverseGamma, GeneralizedPareto, LogisticNormal,
OneHotCategoricalStraightThrough, Wishart, LKJCholesky), ``transforms.py``
(invertible maps with their log-det-Jacobians), ``transformed.py`` (TransformedDistribution
and the families built with it: Weibull, Pareto, HalfNormal, HalfCauchy, Kumaraswamy),
``constraint_registry.py`` (``biject_to``, ``transform_to``), ``exp_family.py``
(ExponentialFamily: entropy and KL from the log normalizer), ``kl.py``. Samples come from
the generator ``tg.manual_seed`` seeds, on the parameters' device.
"""

from tinygrad_opt.distributions import constraints, transforms
from tinygrad_opt.distributions.constraint_registry import biject_to, transform_to
from tinygrad_opt.distributions.continuous import (Beta, Cauchy, Chi2, Dirichlet, Exponential,
                                                   Gamma, Gumbel, Laplace, LogNormal, Normal,
                                                   StudentT, Uniform)
from tinygrad_opt.distributions.continuous_bernoulli import ContinuousBernoulli
from tinygrad_opt.distributions.discrete import (Bernoulli, Binomial, Categorical, Geometric,
                                                 Multinomial, NegativeBinomial,
                                                 OneHotCategorical, Poisson)
from tinygrad_opt.distributions.distribution import Distribution
from tinygrad_opt.distributions.exp_family import ExponentialFamily
from tinygrad_opt.distributions.families_more import (FisherSnedecor, GeneralizedPareto,
                                                      InverseGamma, LKJCholesky,
                                                      LogisticNormal,
                                                      OneHotCategoricalStraightThrough, Wishart)
from tinygrad_opt.distributions.kl import kl_divergence, register_kl
from tinygrad_opt.distributions.mixture import MixtureSameFamily
from tinygrad_opt.distributions.multivariate import (Independent, LowRankMultivariateNormal,
                                                     MultivariateNormal)
from tinygrad_opt.distributions.relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli,
                                                RelaxedBernoulli, RelaxedOneHotCategorical)
from tinygrad_opt.distributions.transformed import (HalfCauchy, HalfNormal, Kumaraswamy, Pareto,
                                                    TransformedDistribution, Weibull)
from tinygrad_opt.distributions.transforms import (AbsTransform, AffineTransform, CatTransform,
                                                   ComposeTransform, CorrCholeskyTransform,
                                                   CumulativeDistributionTransform,
                                                   ExpTransform, IndependentTransform,
                                                   LowerCholeskyTransform,
                                                   PositiveDefiniteTransform, PowerTransform,
                                                   ReshapeTransform, SigmoidTransform,
                                                   SoftmaxTransform, SoftplusTransform,
                                                   StackTransform, StickBreakingTransform,
                                                   TanhTransform, Transform)
from tinygrad_opt.distributions.von_mises import VonMises

__all__ = [
    "AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial", "CatTransform",
    "Categorical", "Cauchy", "Chi2", "ComposeTransform", "ContinuousBernoulli",
    "CorrCholeskyTransform", "CumulativeDistributionTransform", "Dirichlet", "Distribution",
    "ExpRelaxedCategorical", "ExpTransform", "Exponential", "ExponentialFamily", "FisherSnedecor",
    "Gamma", "GeneralizedPareto", "Geometric", "Gumbel", "HalfCauchy", "HalfNormal", "Independent",
    "IndependentTransform", "InverseGamma", "Kumaraswamy", "LKJCholesky", "Laplace", "LogNormal",
    "LogisticNormal", "LogitRelaxedBernoulli", "LowRankMultivariateNormal",
    "LowerCholeskyTransform", "MixtureSameFamily", "Multinomial", "MultivariateNormal",
    "NegativeBinomial", "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough", "Pareto",
    "Poisson", "PositiveDefiniteTransform", "PowerTransform", "RelaxedBernoulli",
    "RelaxedOneHotCategorical", "ReshapeTransform", "SigmoidTransform", "SoftmaxTransform",
    "SoftplusTransform", "StackTransform", "StickBreakingTransform", "StudentT", "TanhTransform",
    "Transform", "TransformedDistribution", "Uniform", "VonMises", "Weibull", "Wishart",
    "biject_to", "constraints", "kl_divergence", "register_kl", "transform_to", "transforms",
]
