"""MultivariateNormal, and Independent (a batch of distributions read as one over vectors).

MultivariateNormal keeps one parameterization of its covariance Σ, the lower-triangular
Cholesky factor L (Σ = L Lᵀ), whichever of ``covariance_matrix`` (L = cholesky(Σ)),
``precision_matrix`` P (L = cholesky(P⁻¹)) or ``scale_tril`` (L itself) it is given:

    rsample     x = μ + L ε,  ε ~ N(0, I)
    log p(x)    −½(n·log 2π + ‖L⁻¹(x − μ)‖²) − Σᵢ log Lᵢᵢ       (log det Σ = 2 Σᵢ log Lᵢᵢ)
    entropy     ½n(1 + log 2π) + Σᵢ log Lᵢᵢ
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.distribution import (Distribution, lazy_property,
                                                     normal_noise, sum_rightmost)
from tinygrad_opt.tensor import Tensor

__all__ = ["MultivariateNormal", "Independent"]


def _matrix(value, name: str) -> None:
    if not isinstance(value, Tensor) or value.ndim < 2:
        raise ValueError(f"{name} matrix must be at least two-dimensional, "
                         "with optional leading batch dimensions")


def _half_log_det(scale_tril: Tensor) -> Tensor:
    """Σᵢ log Lᵢᵢ = ½·log det(L Lᵀ)."""
    return scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


class MultivariateNormal(Distribution):
    """N(loc μ, Σ) over vectors of size n (event_shape (n,)): Σ given by exactly one of
    ``covariance_matrix``, ``precision_matrix`` (Σ⁻¹) or ``scale_tril`` (L, Σ = L Lᵀ);
    batch dims of μ and of the matrix broadcast.

    log p(x) = −½(n·log 2π + (x − μ)ᵀ Σ⁻¹ (x − μ)) − ½·log det Σ, mean = mode = μ,
    variance = diag Σ, entropy = ½n(1 + log 2π) + ½·log det Σ."""

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if not isinstance(loc, Tensor) or loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m is not None for m in (covariance_matrix, precision_matrix, scale_tril)]
        if sum(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        if scale_tril is not None:
            _matrix(scale_tril, "scale_tril")
            matrix = scale_tril
        elif covariance_matrix is not None:
            _matrix(covariance_matrix, "covariance_matrix")
            matrix = covariance_matrix
        else:
            _matrix(precision_matrix, "precision_matrix")
            matrix = precision_matrix
        batch_shape = backend.broadcast_shapes(matrix.shape[:-2], loc.shape[:-1])
        expanded = matrix.expand(batch_shape + matrix.shape[-2:])
        if scale_tril is not None:
            self.scale_tril = expanded
        elif covariance_matrix is not None:
            self.covariance_matrix = expanded
        else:
            self.precision_matrix = expanded
        self.loc = loc.expand(batch_shape + loc.shape[-1:])
        super().__init__(batch_shape, self.loc.shape[-1:], validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = tg.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = tg.linalg.cholesky(tg.linalg.inv(precision_matrix))

    def _matrix_shape(self) -> tuple:
        return self._batch_shape + self._event_shape + self._event_shape

    @lazy_property
    def scale_tril(self):
        """L, lower triangular with a positive diagonal, Σ = L Lᵀ."""
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        """Σ = L Lᵀ."""
        lower = self._unbroadcasted_scale_tril
        return (lower @ lower.transpose(-2, -1)).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        """Σ⁻¹."""
        lower = self._unbroadcasted_scale_tril
        return tg.linalg.inv(lower @ lower.transpose(-2, -1)).expand(self._matrix_shape())

    def expand(self, batch_shape, _instance=None):
        """The same distribution with μ and L broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        new = object.__new__(MultivariateNormal)
        new.loc = self.loc.expand(batch_shape + self._event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        matrix_shape = batch_shape + self._event_shape + self._event_shape
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                new.__dict__[name] = self.__dict__[name].expand(matrix_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        """μ."""
        return self.loc

    @property
    def mode(self):
        """μ."""
        return self.loc

    @property
    def variance(self):
        """diag Σ = Σⱼ Lᵢⱼ²."""
        variance = (self._unbroadcasted_scale_tril ** 2).sum(-1)
        return variance.expand(self._batch_shape + self._event_shape)

    def rsample(self, sample_shape=()):
        """x = μ + L ε, ε ~ N(0, I)."""
        shape = self._extended_shape(sample_shape)
        epsilon = normal_noise(shape, self.loc).unsqueeze(-1)               # (..., n, 1)
        return self.loc + (self._unbroadcasted_scale_tril @ epsilon).squeeze(-1)

    def log_prob(self, value):
        """−½(n·log 2π + ‖L⁻¹(x − μ)‖²) − Σᵢ log Lᵢᵢ."""
        if self._validate_args:
            self._validate_sample(value)
        difference = (value - self.loc).unsqueeze(-1)                       # (..., n, 1)
        whitened = tg.linalg.solve(self._unbroadcasted_scale_tril, difference)  # L⁻¹(x − μ)
        mahalanobis = (whitened ** 2).sum((-2, -1))                         # (...)
        n = self._event_shape[0]
        return (-0.5 * (n * math.log(2 * math.pi) + mahalanobis)
                - _half_log_det(self._unbroadcasted_scale_tril))

    def entropy(self):
        """½n(1 + log 2π) + Σᵢ log Lᵢᵢ."""
        n = self._event_shape[0]
        entropy = 0.5 * n * (1.0 + math.log(2 * math.pi)) + _half_log_det(
            self._unbroadcasted_scale_tril)
        return entropy.expand(self._batch_shape)


class Independent(Distribution):
    """The ``reinterpreted_batch_ndims`` rightmost batch dims of ``base_distribution`` read
    as event dims: ``Independent(Normal(μ, σ), 1)`` with μ of shape (B, n) is one
    distribution over vectors of n independent coordinates per batch entry, and
    log p(x) = Σ over those dims of the base log p (entropy likewise)."""

    arg_constraints: dict = {}

    def __init__(self, base_distribution: Distribution, reinterpreted_batch_ndims: int,
                 validate_args=None):
        if reinterpreted_batch_ndims > len(base_distribution.batch_shape):
            raise ValueError("Expected reinterpreted_batch_ndims <= "
                             "len(base_distribution.batch_shape), actual "
                             f"{reinterpreted_batch_ndims} vs "
                             f"{len(base_distribution.batch_shape)}")
        shape = base_distribution.batch_shape + base_distribution.event_shape
        event_dim = reinterpreted_batch_ndims + len(base_distribution.event_shape)
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        super().__init__(shape[:len(shape) - event_dim], shape[len(shape) - event_dim:],
                         validate_args=validate_args)

    @property
    def has_rsample(self) -> bool:
        """The base distribution's."""
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:
        """The base's, when no dim is reinterpreted (PyTorch's rule)."""
        if self.reinterpreted_batch_ndims > 0:
            return False
        return self.base_dist.has_enumerate_support

    @constraints.dependent_property
    def support(self):
        """The base support, as a constraint on events of the reinterpreted dims."""
        result = self.base_dist.support
        if self.reinterpreted_batch_ndims:
            result = constraints.independent(result, self.reinterpreted_batch_ndims)
        return result

    def expand(self, batch_shape, _instance=None):
        """The base distribution expanded to ``batch_shape`` + the reinterpreted dims."""
        reinterpreted = self.event_shape[:self.reinterpreted_batch_ndims]
        base = self.base_dist.expand(tuple(batch_shape) + reinterpreted)
        return Independent(base, self.reinterpreted_batch_ndims, validate_args=False)

    @property
    def mean(self):
        """The base mean."""
        return self.base_dist.mean

    @property
    def mode(self):
        """The base mode."""
        return self.base_dist.mode

    @property
    def variance(self):
        """The base variance."""
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        """The base's samples."""
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        """The base's reparameterized samples."""
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        """The base log p summed over the reinterpreted dims."""
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        """The base entropy summed over the reinterpreted dims."""
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self) -> str:
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
