"""MultivariateNormal, LowRankMultivariateNormal, and Independent (a batch of distributions
read as one over vectors).

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

__all__ = ["MultivariateNormal", "LowRankMultivariateNormal", "Independent"]


def square_matrices(value, name: str, size: int | None = None) -> None:
    """Raise ValueError unless ``value`` is a batch of square matrices (..., n, n), with
    n = ``size`` where given (the length of the vectors the matrices act on)."""
    if not isinstance(value, Tensor) or value.ndim < 2:
        raise ValueError(f"{name} must be at least two-dimensional, "
                         "with optional leading batch dimensions")
    rows, columns = value.shape[-2:]
    if rows != columns or (size is not None and rows != size):
        wanted = "square" if size is None else f"{size} x {size}"
        raise ValueError(f"{name} must be a batch of {wanted} matrices, "
                         f"got shape {tuple(value.shape)}")


def _half_log_det(scale_tril: Tensor) -> Tensor:
    """Σᵢ log Lᵢᵢ = ½·log det(L Lᵀ)."""
    return scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def scale_tril_of(covariance_matrix, precision_matrix, scale_tril) -> Tensor:
    """L with Σ = L Lᵀ, from whichever one of Σ, P = Σ⁻¹ and L is given."""
    if scale_tril is not None:
        return scale_tril
    if covariance_matrix is not None:
        return tg.linalg.cholesky(covariance_matrix)
    return tg.linalg.cholesky(tg.linalg.inv(precision_matrix))


class CholeskyMatrices:
    """Σ's three forms read from its Cholesky factor ``_unbroadcasted_scale_tril`` and
    expanded to ``_matrix_shape()``, each made on first use (the one given to __init__,
    set as an attribute there, is kept). MultivariateNormal's and Wishart's."""

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


class MultivariateNormal(CholeskyMatrices, Distribution):
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
        size = loc.shape[-1]                  # the matrices must be size × size
        if scale_tril is not None:
            square_matrices(scale_tril, "scale_tril matrix", size)
            matrix = scale_tril
        elif covariance_matrix is not None:
            square_matrices(covariance_matrix, "covariance_matrix", size)
            matrix = covariance_matrix
        else:
            square_matrices(precision_matrix, "precision_matrix", size)
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
        self._unbroadcasted_scale_tril = scale_tril_of(covariance_matrix, precision_matrix,
                                                       scale_tril)

    def _matrix_shape(self) -> tuple:
        return self._batch_shape + self._event_shape + self._event_shape

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


def _capacitance_tril(cov_factor: Tensor, cov_diag: Tensor) -> Tensor:
    """The Cholesky factor of the capacitance matrix C = I + Wᵀ D⁻¹ W (m × m, m = rank)."""
    rank = cov_factor.shape[-1]
    wt_dinv = cov_factor.transpose(-2, -1) / cov_diag.unsqueeze(-2)        # (..., m, n)
    identity = tg.eye(rank, dtype=cov_factor.dtype, device=cov_factor.device)
    return tg.linalg.cholesky(wt_dinv @ cov_factor + identity)             # (..., m, m)


def _lowrank_logdet(cov_diag: Tensor, capacitance_tril: Tensor) -> Tensor:
    """log det(W Wᵀ + D) = log det C + Σ log dᵢ (the matrix determinant lemma)."""
    return (2 * capacitance_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
            + cov_diag.log().sum(-1))


def _lowrank_mahalanobis(cov_factor: Tensor, cov_diag: Tensor, x: Tensor,
                         capacitance_tril: Tensor) -> Tensor:
    """xᵀ(W Wᵀ + D)⁻¹x = Σ xᵢ²/dᵢ − ‖L_C⁻¹ Wᵀ D⁻¹ x‖² (the Woodbury identity)."""
    wt_dinv = cov_factor.transpose(-2, -1) / cov_diag.unsqueeze(-2)        # (..., m, n)
    wt_dinv_x = (wt_dinv @ x.unsqueeze(-1))                                # (..., m, 1)
    whitened = tg.linalg.solve(capacitance_tril, wt_dinv_x)                # (..., m, 1)
    return (x ** 2 / cov_diag).sum(-1) - (whitened ** 2).sum((-2, -1))


class LowRankMultivariateNormal(Distribution):
    """N(loc μ, Σ) with a low-rank-plus-diagonal covariance Σ = W Wᵀ + D:
    ``cov_factor`` W of shape (..., n, m), ``cov_diag`` the diagonal of D, shape (..., n).

    With the capacitance matrix C = I + Wᵀ D⁻¹ W (m × m) nothing n × n is factorised:

        log det Σ = log det C + Σ log dᵢ,
        (x − μ)ᵀ Σ⁻¹ (x − μ) = Σ (x − μ)ᵢ²/dᵢ − ‖L_C⁻¹ Wᵀ D⁻¹ (x − μ)‖²,
        rsample   x = μ + W ε_W + √D ε_D,   ε_W ~ N(0, I_m), ε_D ~ N(0, I_n).

    mean = mode = μ, variance = Σⱼ Wᵢⱼ² + dᵢ, entropy = ½(n(1 + log 2π) + log det Σ)."""

    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        if not isinstance(loc, Tensor) or loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        event_shape = loc.shape[-1:]
        if cov_factor.ndim < 2:
            raise ValueError("cov_factor must be at least two-dimensional, "
                             "with optional leading batch dimensions")
        if cov_factor.shape[-2:-1] != event_shape:
            raise ValueError("cov_factor must be a batch of matrices with shape "
                             f"{event_shape[0]} x m")
        if cov_diag.shape[-1:] != event_shape:
            raise ValueError(f"cov_diag must be a batch of vectors with shape {event_shape}")
        try:
            batch_shape = backend.broadcast_shapes(loc.shape[:-1], cov_factor.shape[:-2],
                                                   cov_diag.shape[:-1])
        except ValueError as error:
            raise ValueError(f"Incompatible batch shapes: loc {loc.shape}, cov_factor "
                             f"{cov_factor.shape}, cov_diag {cov_diag.shape}") from error
        self.loc = loc.expand(batch_shape + event_shape)
        self.cov_factor = cov_factor.expand(batch_shape + cov_factor.shape[-2:])
        self.cov_diag = cov_diag.expand(batch_shape + event_shape)
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)  # after validation

    def expand(self, batch_shape, _instance=None):
        """The same distribution with μ, W and D broadcast to ``batch_shape``."""
        batch_shape = tuple(batch_shape)
        new = LowRankMultivariateNormal(
            self.loc.expand(batch_shape + self._event_shape),
            self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> tuple:
        return self._batch_shape + self._event_shape + self._event_shape

    @property
    def mean(self):
        """μ."""
        return self.loc

    @property
    def mode(self):
        """μ."""
        return self.loc

    @lazy_property
    def variance(self):
        """diag Σ = Σⱼ Wᵢⱼ² + dᵢ."""
        variance = (self._unbroadcasted_cov_factor ** 2).sum(-1) + self._unbroadcasted_cov_diag
        return variance.expand(self._batch_shape + self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        """Σ = W Wᵀ + D."""
        factor = self._unbroadcasted_cov_factor
        covariance = (factor @ factor.transpose(-2, -1)
                      + self._unbroadcasted_cov_diag.diag_embed())
        return covariance.expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        """Σ⁻¹ = D⁻¹ − AᵀA, A = L_C⁻¹ Wᵀ D⁻¹ (Woodbury)."""
        wt_dinv = (self._unbroadcasted_cov_factor.transpose(-2, -1)
                   / self._unbroadcasted_cov_diag.unsqueeze(-2))               # (..., m, n)
        a = tg.linalg.solve(self._capacitance_tril, wt_dinv)                  # (..., m, n)
        precision = (self._unbroadcasted_cov_diag.reciprocal().diag_embed()
                     - a.transpose(-2, -1) @ a)
        return precision.expand(self._matrix_shape())

    @lazy_property
    def scale_tril(self):
        """The Cholesky factor L of Σ = √D (I + D^(−½) W Wᵀ D^(−½)) √D: L = √D·cholesky(K)."""
        n = self._event_shape[0]
        diag_sqrt = self._unbroadcasted_cov_diag.sqrt().unsqueeze(-1)          # (..., n, 1)
        scaled = self._unbroadcasted_cov_factor / diag_sqrt                    # D^(−½) W
        identity = tg.eye(n, dtype=scaled.dtype, device=scaled.device)
        k = scaled @ scaled.transpose(-2, -1) + identity
        return (diag_sqrt * tg.linalg.cholesky(k)).expand(self._matrix_shape())

    def rsample(self, sample_shape=()):
        """x = μ + W ε_W + √D ε_D."""
        shape = self._extended_shape(sample_shape)
        w_shape = shape[:-1] + self.cov_factor.shape[-1:]
        eps_w = normal_noise(w_shape, self.loc).unsqueeze(-1)                 # (..., m, 1)
        eps_d = normal_noise(shape, self.loc)                                  # (..., n)
        low_rank = (self._unbroadcasted_cov_factor @ eps_w).squeeze(-1)        # (..., n)
        return self.loc + low_rank + self._unbroadcasted_cov_diag.sqrt() * eps_d

    def log_prob(self, value):
        """−½(n·log 2π + log det Σ + (x − μ)ᵀ Σ⁻¹ (x − μ))."""
        if self._validate_args:
            self._validate_sample(value)
        difference = value - self.loc
        mahalanobis = _lowrank_mahalanobis(self._unbroadcasted_cov_factor,
                                           self._unbroadcasted_cov_diag, difference,
                                           self._capacitance_tril)
        log_det = _lowrank_logdet(self._unbroadcasted_cov_diag, self._capacitance_tril)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + log_det + mahalanobis)

    def entropy(self):
        """½(n(1 + log 2π) + log det Σ)."""
        log_det = _lowrank_logdet(self._unbroadcasted_cov_diag, self._capacitance_tril)
        entropy = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + log_det)
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
        new = Independent(base, self.reinterpreted_batch_ndims, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def enumerate_support(self, expand: bool = True):
        """The base's values, when no dim is reinterpreted (a product of supports over
        reinterpreted dims is not enumerated, as PyTorch)."""
        if self.reinterpreted_batch_ndims > 0:
            raise NotImplementedError("Enumeration over cartesian product is not implemented")
        return self.base_dist.enumerate_support(expand=expand)

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
