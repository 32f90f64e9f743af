"""Transforms: invertible maps y = f(x) with the log |det ∂y/∂x| a change of variables needs,
with PyTorch's ``torch.distributions.transforms`` names and semantics.

A ``Transform`` maps its ``domain`` (a constraint) onto its ``codomain``:

    y = t(x)                          the forward map (``__call__``)
    x = t.inv(y)                      the inverse, itself a Transform
    t.log_abs_det_jacobian(x, y)      log |det ∂y/∂x|, one number per event of ``event_dim`` dims

If Y = t(X) and X has density p_X, Y has the density (the change of variables)

    log p_Y(y) = log p_X(x) − log |det ∂y/∂x|,   x = t⁻¹(y),

which is what ``TransformedDistribution.log_prob`` computes. Elementwise transforms
(``event_dim`` 0) have a diagonal Jacobian, so the log-det is log |dy/dx| entry by entry:

    ExpTransform         y = eˣ                      log |dy/dx| = x
    AffineTransform      y = loc + scale·x           log |scale|
    PowerTransform       y = xᵉ                      log |e·y/x|
    SigmoidTransform     y = σ(x)                    log σ(x)(1 − σ(x))
                                                     = −softplus(−x) − softplus(x)
    TanhTransform        y = tanh x                  log(1 − y²) = 2(log 2 − x − softplus(−2x))
    SoftplusTransform    y = log(1 + eˣ)             log σ(x) = −softplus(−x)
    CumulativeDistributionTransform(d)   y = F_d(x)  log p_d(x)
    AbsTransform         y = |x|                     (not bijective: the inverse picks y)

and the vector ones map ℝᴷ⁻¹ or ℝᴷ onto the simplex (``StickBreakingTransform``, bijective;
``SoftmaxTransform``, not) or square matrices onto Cholesky factors
(``LowerCholeskyTransform``), positive definite ones (``PositiveDefiniteTransform``) or
Cholesky factors of correlation matrices (``CorrCholeskyTransform``, bijective from
ℝ^(D(D−1)/2)); ``ReshapeTransform`` reshapes events (log-det 0).
``ComposeTransform([t1, t2])`` is t2 ∘ t1 with the log-dets summed;
``IndependentTransform`` sums the log-det over more rightmost dims; ``CatTransform`` and
``StackTransform`` apply one transform per slice along a dim, as ``tg.cat`` / ``tg.stack``
join them.

``cache_size=1`` remembers the last pair (x, y), so ``t.inv(t(x))`` returns the very x
(useful when the inverse loses precision, as atanh near ±1).
"""

from __future__ import annotations

import math
import numbers
import weakref

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.distributions import constraints
from tinygrad_opt.distributions.distribution import broadcast_all, sum_rightmost
from tinygrad_opt.nn.functional_primitives import softplus
from tinygrad_opt.tensor import Tensor

__all__ = [
    "AbsTransform", "AffineTransform", "CatTransform", "ComposeTransform",
    "CorrCholeskyTransform", "CumulativeDistributionTransform", "ExpTransform",
    "IndependentTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform",
    "PowerTransform", "ReshapeTransform", "SigmoidTransform", "SoftmaxTransform",
    "SoftplusTransform", "StackTransform", "StickBreakingTransform", "TanhTransform",
    "Transform", "identity_transform",
]


class Transform:
    """An invertible (or at least one-sided) map with a computable log |det Jacobian|.

    Subclasses write ``_call(x)`` (y = f(x)), ``_inverse(y)`` (x = f⁻¹(y)) and
    ``log_abs_det_jacobian(x, y)``, and set ``domain``, ``codomain``, ``bijective``.
    ``sign`` is +1 or −1 for a monotone elementwise map (the sign of dy/dx)."""

    bijective = False
    domain: constraints.Constraint = constraints.real
    codomain: constraints.Constraint = constraints.real

    def __init__(self, cache_size: int = 0):
        if cache_size not in (0, 1):
            raise ValueError("cache_size must be 0 or 1")
        self._cache_size = cache_size
        self._cached_x_y = (None, None)
        self._inv = None

    @property
    def event_dim(self) -> int:
        """How many rightmost dims make one point of the domain (= of the codomain)."""
        if self.domain.event_dim == self.codomain.event_dim:
            return self.domain.event_dim
        raise ValueError("Please use either .domain.event_dim or .codomain.event_dim")

    @property
    def inv(self) -> "Transform":
        """The inverse transform: ``t.inv(t(x)) == x``, with domain and codomain swapped."""
        inverse = self._inv() if self._inv is not None else None
        if inverse is None:
            inverse = _InverseTransform(self)
            self._inv = weakref.ref(inverse)  # no reference cycle: t holds its inverse weakly
        return inverse

    @property
    def sign(self):
        """+1 where y increases with x, −1 where it decreases (monotone maps only)."""
        raise NotImplementedError(f"{type(self).__name__} has no sign")

    def with_cache(self, cache_size: int = 1) -> "Transform":
        """The same transform with ``cache_size`` (for transforms without parameters)."""
        if self._cache_size == cache_size:
            return self
        if type(self).__init__ is Transform.__init__:
            return type(self)(cache_size=cache_size)
        raise NotImplementedError(f"{type(self).__name__}.with_cache is not implemented")

    def __eq__(self, other) -> bool:
        return self is other

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    def __call__(self, x: Tensor) -> Tensor:
        """y = f(x) (the cached y when x is the last x seen, with ``cache_size=1``)."""
        if self._cache_size == 0:
            return self._call(x)
        x_old, y_old = self._cached_x_y
        if x is x_old:
            return y_old
        y = self._call(x)
        self._cached_x_y = (x, y)
        return y

    def _inv_call(self, y: Tensor) -> Tensor:
        """x = f⁻¹(y) (the cached x when y is the last y seen, with ``cache_size=1``)."""
        if self._cache_size == 0:
            return self._inverse(y)
        x_old, y_old = self._cached_x_y
        if y is y_old:
            return x_old
        x = self._inverse(y)
        self._cached_x_y = (x, y)
        return x

    def _call(self, x):
        raise NotImplementedError

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} has no inverse")

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        """log |det ∂y/∂x| at the pair (x, y = f(x))."""
        raise NotImplementedError(f"{type(self).__name__} has no log_abs_det_jacobian")

    def forward_shape(self, shape: tuple) -> tuple:
        """The shape of y for an x of ``shape``."""
        return tuple(shape)

    def inverse_shape(self, shape: tuple) -> tuple:
        """The shape of x for a y of ``shape``."""
        return tuple(shape)

    def __repr__(self) -> str:
        return type(self).__name__ + "()"


class _InverseTransform(Transform):
    """t⁻¹ of a transform t: calls swap, and log |det ∂x/∂y| = −log |det ∂y/∂x|."""

    def __init__(self, transform: Transform):
        super().__init__(cache_size=transform._cache_size)
        self._inv = transform  # a strong reference back: the inverse keeps t alive

    @property
    def domain(self):
        """t's codomain."""
        return self._inv.codomain

    @property
    def codomain(self):
        """t's domain."""
        return self._inv.domain

    @property
    def bijective(self) -> bool:
        """t's."""
        return self._inv.bijective

    @property
    def sign(self):
        """t's (an inverse of a monotone map is monotone the same way)."""
        return self._inv.sign

    @property
    def inv(self) -> Transform:
        """t itself."""
        return self._inv

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The inverse of t with ``cache_size``."""
        return self.inv.with_cache(cache_size).inv

    def __eq__(self, other) -> bool:
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inv!r})"

    def __call__(self, x):
        """t's inverse map."""
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x, y):
        """−t.log_abs_det_jacobian(y, x)."""
        return -self._inv.log_abs_det_jacobian(y, x)

    def forward_shape(self, shape):
        """t's inverse_shape."""
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        """t's forward_shape."""
        return self._inv.forward_shape(shape)


class ComposeTransform(Transform):
    """``ComposeTransform([t1, t2, ..., tn])``: y = tn(...t2(t1(x))), log-dets summed (each
    summed over the dims its event is smaller than the whole composition's). An empty list
    is the identity."""

    def __init__(self, parts: list, cache_size: int = 0):
        if cache_size:
            parts = [part.with_cache(cache_size) for part in parts]
        super().__init__(cache_size=cache_size)
        self.parts = list(parts)

    def __eq__(self, other) -> bool:
        return isinstance(other, ComposeTransform) and self.parts == other.parts

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        """The first part's domain, read over as many dims as the whole composition needs."""
        if not self.parts:
            return constraints.real
        domain = self.parts[0].domain
        event_dim = self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):
            event_dim += part.domain.event_dim - part.codomain.event_dim
            event_dim = max(event_dim, part.domain.event_dim)
        if event_dim > domain.event_dim:
            domain = constraints.independent(domain, event_dim - domain.event_dim)
        return domain

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        """The last part's codomain, read over as many dims as the whole composition needs."""
        if not self.parts:
            return constraints.real
        codomain = self.parts[-1].codomain
        event_dim = self.parts[0].domain.event_dim
        for part in self.parts:
            event_dim += part.codomain.event_dim - part.domain.event_dim
            event_dim = max(event_dim, part.codomain.event_dim)
        if event_dim > codomain.event_dim:
            codomain = constraints.independent(codomain, event_dim - codomain.event_dim)
        return codomain

    @property
    def bijective(self) -> bool:
        """True when every part is."""
        return all(part.bijective for part in self.parts)

    @property
    def sign(self):
        """The product of the parts' signs."""
        sign = 1
        for part in self.parts:
            sign = sign * part.sign
        return sign

    @property
    def inv(self) -> Transform:
        """``ComposeTransform`` of the parts' inverses in reverse order."""
        inverse = self._inv() if self._inv is not None else None
        if inverse is None:
            inverse = ComposeTransform([part.inv for part in reversed(self.parts)])
            self._inv = weakref.ref(inverse)
            inverse._inv = weakref.ref(self)
        return inverse

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The composition of the parts with ``cache_size``."""
        if self._cache_size == cache_size:
            return self
        return ComposeTransform(self.parts, cache_size=cache_size)

    def __call__(self, x):
        """tn(...t1(x))."""
        for part in self.parts:
            x = part(x)
        return x

    def log_abs_det_jacobian(self, x, y):
        """Σₖ log |det ∂xₖ₊₁/∂xₖ| over the intermediate values x = x₀, x₁, ..., xₙ = y."""
        if not self.parts:
            return tg.zeros_like(x)
        xs = [x]
        for part in self.parts[:-1]:
            xs.append(part(xs[-1]))
        xs.append(y)
        total = 0
        event_dim = self.domain.event_dim
        for part, part_x, part_y in zip(self.parts, xs[:-1], xs[1:]):
            term = part.log_abs_det_jacobian(part_x, part_y)
            total = total + sum_rightmost(term, event_dim - part.domain.event_dim)
            event_dim += part.codomain.event_dim - part.domain.event_dim
        return total

    def forward_shape(self, shape):
        """The shape through every part."""
        for part in self.parts:
            shape = part.forward_shape(shape)
        return tuple(shape)

    def inverse_shape(self, shape):
        """The shape back through every part."""
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return tuple(shape)

    def __repr__(self) -> str:
        inner = ",\n    ".join(repr(part) for part in self.parts)
        return f"{type(self).__name__}(\n    {inner}\n)"


identity_transform = ComposeTransform([])


class IndependentTransform(Transform):
    """``base_transform`` read over ``reinterpreted_batch_ndims`` more rightmost dims: the same
    map, its log-det summed over those dims (as ``Independent`` for distributions)."""

    def __init__(self, base_transform: Transform, reinterpreted_batch_ndims: int,
                 cache_size: int = 0):
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The same with ``cache_size``."""
        if self._cache_size == cache_size:
            return self
        return IndependentTransform(self.base_transform, self.reinterpreted_batch_ndims,
                                    cache_size=cache_size)

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        """independent(base domain, reinterpreted_batch_ndims)."""
        return constraints.independent(self.base_transform.domain,
                                       self.reinterpreted_batch_ndims)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        """independent(base codomain, reinterpreted_batch_ndims)."""
        return constraints.independent(self.base_transform.codomain,
                                       self.reinterpreted_batch_ndims)

    @property
    def bijective(self) -> bool:
        """The base's."""
        return self.base_transform.bijective

    @property
    def sign(self):
        """The base's."""
        return self.base_transform.sign

    def _call(self, x):
        if x.ndim < self.domain.event_dim:
            raise ValueError("IndependentTransform: too few dimensions on input")
        return self.base_transform(x)

    def _inverse(self, y):
        if y.ndim < self.codomain.event_dim:
            raise ValueError("IndependentTransform: too few dimensions on input")
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        """The base log-det summed over the reinterpreted dims."""
        result = self.base_transform.log_abs_det_jacobian(x, y)
        return sum_rightmost(result, self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        """The base's."""
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        """The base's."""
        return self.base_transform.inverse_shape(shape)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.base_transform!r}, "
                f"{self.reinterpreted_batch_ndims})")


class ExpTransform(Transform):
    """y = eˣ, x = log y;   log |dy/dx| = x."""

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = +1

    def __eq__(self, other) -> bool:
        return isinstance(other, ExpTransform)

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        """x."""
        return x


class PowerTransform(Transform):
    """y = xᵉ on (0, ∞), x = y^(1/e);   dy/dx = e·x^(e−1) = e·y/x, so
    log |dy/dx| = log |e·y/x|."""

    domain = constraints.positive
    codomain = constraints.positive
    bijective = True

    def __init__(self, exponent, cache_size: int = 0):
        super().__init__(cache_size=cache_size)
        (self.exponent,) = broadcast_all(exponent)

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The same exponent with ``cache_size``."""
        if self._cache_size == cache_size:
            return self
        return PowerTransform(self.exponent, cache_size=cache_size)

    @property
    def sign(self):
        """sign(e)."""
        return self.exponent.sign()

    def __eq__(self, other) -> bool:
        if not isinstance(other, PowerTransform):
            return False
        return bool((self.exponent == other.exponent).all().item())

    def _call(self, x):
        return x ** self.exponent

    def _inverse(self, y):
        return y ** self.exponent.reciprocal()

    def log_abs_det_jacobian(self, x, y):
        """log |e·y/x|."""
        return (self.exponent * y / x).abs().log()

    def forward_shape(self, shape):
        """shape broadcast with the exponent's."""
        return backend.broadcast_shapes(tuple(shape), self.exponent.shape)

    def inverse_shape(self, shape):
        """shape broadcast with the exponent's."""
        return backend.broadcast_shapes(tuple(shape), self.exponent.shape)


def _clipped_sigmoid(x: Tensor) -> Tensor:
    """σ(x) kept inside [tiny, 1 − eps], so that its logit stays finite."""
    finfo = tg.finfo(x.dtype)
    return x.sigmoid().clamp(min=finfo.tiny, max=1.0 - finfo.eps)


class SigmoidTransform(Transform):
    """y = σ(x) = 1/(1 + e^(−x)), x = log y − log(1 − y);
    dy/dx = σ(x)(1 − σ(x)), so log |dy/dx| = −softplus(−x) − softplus(x)."""

    domain = constraints.real
    codomain = constraints.unit_interval
    bijective = True
    sign = +1

    def __eq__(self, other) -> bool:
        return isinstance(other, SigmoidTransform)

    def _call(self, x):
        return _clipped_sigmoid(x)

    def _inverse(self, y):
        finfo = tg.finfo(y.dtype)
        y = y.clamp(min=finfo.tiny, max=1.0 - finfo.eps)
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        """−softplus(−x) − softplus(x) = log σ(x) + log(1 − σ(x))."""
        return -softplus(-x) - softplus(x)


class TanhTransform(Transform):
    """y = tanh x, x = atanh y;   dy/dx = 1 − tanh² x = 4/(eˣ + e^(−x))², so
    log |dy/dx| = 2(log 2 − x − softplus(−2x)) (stable for large |x|)."""

    domain = constraints.real
    codomain = constraints.interval(-1.0, 1.0)
    bijective = True
    sign = +1

    def __eq__(self, other) -> bool:
        return isinstance(other, TanhTransform)

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        return y.atanh()

    def log_abs_det_jacobian(self, x, y):
        """2(log 2 − x − softplus(−2x))."""
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class AbsTransform(Transform):
    """y = |x|. Not bijective: its inverse returns y itself (the non-negative preimage)."""

    domain = constraints.real
    codomain = constraints.positive

    def __eq__(self, other) -> bool:
        return isinstance(other, AbsTransform)

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y


class AffineTransform(Transform):
    """y = loc + scale·x, x = (y − loc)/scale;   log |dy/dx| = log |scale|, summed over the
    ``event_dim`` rightmost dims (an affine map of vectors with a diagonal scale)."""

    bijective = True

    def __init__(self, loc, scale, event_dim: int = 0, cache_size: int = 0):
        super().__init__(cache_size=cache_size)
        self.loc = loc
        self.scale = scale
        self._event_dim = event_dim

    @property
    def event_dim(self) -> int:
        """The ``event_dim`` it was made with."""
        return self._event_dim

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        """real (independent over ``event_dim`` dims)."""
        if self._event_dim == 0:
            return constraints.real
        return constraints.independent(constraints.real, self._event_dim)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        """real (independent over ``event_dim`` dims)."""
        if self._event_dim == 0:
            return constraints.real
        return constraints.independent(constraints.real, self._event_dim)

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The same map with ``cache_size``."""
        if self._cache_size == cache_size:
            return self
        return AffineTransform(self.loc, self.scale, self._event_dim, cache_size=cache_size)

    def __eq__(self, other) -> bool:
        if not isinstance(other, AffineTransform):
            return False
        for mine, theirs in ((self.loc, other.loc), (self.scale, other.scale)):
            if isinstance(mine, numbers.Number) and isinstance(theirs, numbers.Number):
                if mine != theirs:
                    return False
            elif not bool((mine == theirs).all().item()):
                return False
        return True

    @property
    def sign(self):
        """sign(scale): a number for a number scale, else a Tensor."""
        if isinstance(self.scale, numbers.Real):
            return 1 if self.scale > 0 else -1 if self.scale < 0 else 0
        return self.scale.sign()

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        """log |scale| in x's shape, summed over the ``event_dim`` rightmost dims."""
        shape = x.shape
        if isinstance(self.scale, numbers.Real):
            result = tg.full_like(x, math.log(abs(self.scale)))
        else:
            result = self.scale.abs().log()
        if self._event_dim:
            result = sum_rightmost(result, self._event_dim)
            shape = shape[:len(shape) - self._event_dim]
        return result.expand(shape)

    def forward_shape(self, shape):
        """shape broadcast with loc's and scale's."""
        return backend.broadcast_shapes(tuple(shape), getattr(self.loc, "shape", ()),
                                        getattr(self.scale, "shape", ()))

    def inverse_shape(self, shape):
        """shape broadcast with loc's and scale's."""
        return self.forward_shape(shape)


class SoftmaxTransform(Transform):
    """y = softmax(x) = eˣ / Σ eˣ (last dim) onto the simplex, x = log y. Not bijective
    (x + c gives the same y), so it has no log-det: use ``StickBreakingTransform`` in a
    ``TransformedDistribution``."""

    domain = constraints.real_vector
    codomain = constraints.simplex

    def __eq__(self, other) -> bool:
        return isinstance(other, SoftmaxTransform)

    def _call(self, x):
        probs = (x - x.amax(-1, keepdim=True)).exp()
        return probs / probs.sum(-1, keepdim=True)

    def _inverse(self, y):
        return y.log()

    def forward_shape(self, shape):
        """The same shape (at least 1-D)."""
        if len(shape) < 1:
            raise ValueError(f"SoftmaxTransform: too few dimensions in shape {tuple(shape)}")
        return tuple(shape)

    def inverse_shape(self, shape):
        """The same shape (at least 1-D)."""
        return self.forward_shape(shape)


class StickBreakingTransform(Transform):
    """A bijection from ℝᴷ⁻¹ onto the interior of the K-simplex (last dim): break a stick of
    length 1 K − 1 times, keeping the fraction zₖ = σ(xₖ − log(K − 1 − k)) of what is left
    (the shift makes x = 0 the simplex's centre):

        yₖ = zₖ·Πⱼ₍ⱼ₌₀..ₖ₋₁₎ (1 − zⱼ)   (k < K − 1),     y_(K−1) = Πⱼ (1 − zⱼ).

    The Jacobian is triangular: log |det| = Σₖ log(zₖ(1 − zₖ)·Πⱼ₍ⱼ₌₀..ₖ₋₁₎ (1 − zⱼ))
    = Σₖ (−x̃ₖ + log σ(x̃ₖ) + log yₖ), x̃ₖ = xₖ − log(K − 1 − k)."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def __eq__(self, other) -> bool:
        return isinstance(other, StickBreakingTransform)

    @staticmethod
    def _offset(x: Tensor) -> Tensor:
        """log(K − 1 − k) for k = 0 ... K − 2 (K − 1 = x's last dim)."""
        count = x.shape[-1]
        return tg.arange(count, 0, -1, dtype=x.dtype, device=x.device).log()  # (K − 1,)

    def _call(self, x):
        z = _clipped_sigmoid(x - self._offset(x))                  # (..., K − 1)
        left = (1 - z).cumprod(-1)                                  # Πⱼ₌₀..ₖ (1 − zⱼ)
        ones = tg.ones(z.shape[:-1] + (1,), dtype=z.dtype, device=z.device)  # (..., 1)
        return tg.cat([z, ones], -1) * tg.cat([ones, left], -1)     # (..., K)

    def _inverse(self, y):
        y_crop = y[..., :-1]                                        # (..., K − 1)
        left = 1 - y_crop.cumsum(-1)                                # the stick left after k
        left = left.clamp(min=tg.finfo(y.dtype).tiny)
        return y_crop.log() - left.log() + self._offset(y_crop)

    def log_abs_det_jacobian(self, x, y):
        """Σₖ (−x̃ₖ + log σ(x̃ₖ) + log yₖ), x̃ₖ = xₖ − log(K − 1 − k), log σ = −softplus(−·)."""
        shifted = x - self._offset(x)
        return (-shifted - softplus(-shifted) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        """(..., K − 1) → (..., K)."""
        if len(shape) < 1:
            raise ValueError(f"StickBreakingTransform: too few dimensions in {tuple(shape)}")
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        """(..., K) → (..., K − 1)."""
        if len(shape) < 1:
            raise ValueError(f"StickBreakingTransform: too few dimensions in {tuple(shape)}")
        return tuple(shape[:-1]) + (shape[-1] - 1,)


class LowerCholeskyTransform(Transform):
    """Square matrices onto lower-triangular ones with a positive diagonal (Cholesky
    factors): keep the strictly lower triangle and exponentiate the diagonal,
    y = tril(x, −1) + diag(e^(diag x)); the inverse takes the log of the diagonal. Not
    bijective (it drops the upper triangle), so it has no log-det (as PyTorch)."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def __eq__(self, other) -> bool:
        return isinstance(other, LowerCholeskyTransform)

    def _call(self, x):
        return x.tril(-1) + x.diagonal(dim1=-2, dim2=-1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(dim1=-2, dim2=-1).log().diag_embed()


class SoftplusTransform(Transform):
    """y = softplus(x) = log(1 + eˣ) onto (0, ∞), x = log(1 − e^(−y)) + y = log(eʸ − 1);
    dy/dx = σ(x), so log |dy/dx| = log σ(x) = −softplus(−x)."""

    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = +1

    def __eq__(self, other) -> bool:
        return isinstance(other, SoftplusTransform)

    def _call(self, x):
        return softplus(x)

    def _inverse(self, y):
        return (-(-y).expm1()).log() + y

    def log_abs_det_jacobian(self, x, y):
        """−softplus(−x)."""
        return -softplus(-x)


class CumulativeDistributionTransform(Transform):
    """y = F(x), the cdf of ``distribution``, from its support onto [0, 1]; x = F⁻¹(y) (its
    icdf); dy/dx = p(x), so log |dy/dx| = log p(x) (the distribution's ``log_prob``).
    Pushing a multivariate normal's entries through Normal(0, 1)'s cdf makes a Gaussian
    copula."""

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size: int = 0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        """The distribution's support."""
        return self.distribution.support

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The same distribution with ``cache_size``."""
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        """log p(x)."""
        return self.distribution.log_prob(x)


class ReshapeTransform(Transform):
    """Reshapes the rightmost dims from ``in_shape`` to ``out_shape`` (the same number of
    entries), the batch dims left as they are. It only moves entries, so log |det| = 0."""

    bijective = True

    def __init__(self, in_shape, out_shape, cache_size: int = 0):
        self.in_shape = tuple(in_shape)
        self.out_shape = tuple(out_shape)
        if math.prod(self.in_shape) != math.prod(self.out_shape):
            raise ValueError(f"ReshapeTransform: in_shape {self.in_shape} and out_shape "
                             f"{self.out_shape} have different numbers of elements")
        super().__init__(cache_size=cache_size)

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        """real over len(in_shape) dims."""
        return constraints.independent(constraints.real, len(self.in_shape))

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        """real over len(out_shape) dims."""
        return constraints.independent(constraints.real, len(self.out_shape))

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The same shapes with ``cache_size``."""
        if self._cache_size == cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size=cache_size)

    def _call(self, x):
        batch_shape = x.shape[:x.ndim - len(self.in_shape)]
        return x.reshape(batch_shape + self.out_shape)

    def _inverse(self, y):
        batch_shape = y.shape[:y.ndim - len(self.out_shape)]
        return y.reshape(batch_shape + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        """0 for every batch entry."""
        batch_shape = x.shape[:x.ndim - len(self.in_shape)]
        return tg.zeros(batch_shape, dtype=x.dtype, device=x.device)

    @staticmethod
    def _swap_event(shape: tuple, old: tuple, new: tuple) -> tuple:
        """shape with its rightmost ``old`` dims replaced by ``new``."""
        shape = tuple(shape)
        if len(shape) < len(old):
            raise ValueError(f"ReshapeTransform: shape {shape} has fewer dims than {old}")
        cut = len(shape) - len(old)
        if shape[cut:] != old:
            raise ValueError(f"ReshapeTransform: shape {shape} does not end in {old}")
        return shape[:cut] + new

    def forward_shape(self, shape):
        """(..., *in_shape) → (..., *out_shape)."""
        return self._swap_event(shape, self.in_shape, self.out_shape)

    def inverse_shape(self, shape):
        """(..., *out_shape) → (..., *in_shape)."""
        return self._swap_event(shape, self.out_shape, self.in_shape)


class PositiveDefiniteTransform(Transform):
    """Square matrices onto positive definite ones: y = L·Lᵀ with L =
    ``LowerCholeskyTransform()(x)`` (the strict lower triangle of x, e^diag on the diagonal);
    the inverse is the Cholesky factor read back through LowerCholeskyTransform's inverse.
    Not bijective (the upper triangle of x is dropped), so it has no log-det (as PyTorch)."""

    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def __eq__(self, other) -> bool:
        return isinstance(other, PositiveDefiniteTransform)

    def _call(self, x):
        lower = LowerCholeskyTransform()(x)                         # (..., n, n)
        return lower @ lower.transpose(-2, -1)

    def _inverse(self, y):
        lower = tg.linalg.cholesky(y)                               # (..., n, n)
        return LowerCholeskyTransform().inv(lower)


def _tril_flat_indices(n: int, diag: int) -> list:
    """The flat positions i·n + j of the entries j ≤ i + diag of an n × n matrix, row by
    row (the order ``tril_matrix_to_vec`` reads them in)."""
    return [i * n + j for i in range(n) for j in range(n) if j <= i + diag]


def _tril_matrix_to_vec(matrix: Tensor, diag: int = 0) -> Tensor:
    """The entries on and below diagonal ``diag`` of the (..., n, n) matrices, row by row:
    (..., count)."""
    n = matrix.shape[-1]
    flat = matrix.reshape(matrix.shape[:-2] + (n * n,))             # (..., n²)
    index = tg.tensor(_tril_flat_indices(n, diag), dtype=tg.int64, device=matrix.device)
    return flat[..., index]


def _vec_to_tril_matrix(vec: Tensor, n: int, diag: int = 0) -> Tensor:
    """The (..., n, n) matrices with ``vec``'s entries on and below diagonal ``diag``, row by
    row, and zeros elsewhere (a gather from [0, vec], so gradients reach vec)."""
    position = [0] * (n * n)                                        # 0 picks the zero
    for k, flat_index in enumerate(_tril_flat_indices(n, diag)):
        position[flat_index] = k + 1
    index = tg.tensor(position, dtype=tg.int64, device=vec.device)
    zero = tg.zeros(vec.shape[:-1] + (1,), dtype=vec.dtype, device=vec.device)
    padded = tg.cat([zero, vec], -1)                                # (..., count + 1)
    return padded[..., index].reshape(vec.shape[:-1] + (n, n))


def _corr_cholesky_size(count: int) -> int:
    """D with D(D − 1)/2 = count."""
    size = round((0.25 + 2 * count) ** 0.5 + 0.5)
    if size * (size - 1) // 2 != count:
        raise ValueError(f"CorrCholeskyTransform: {count} is not D(D − 1)/2 for any D")
    return size


class CorrCholeskyTransform(Transform):
    """A bijection from ℝ^(D(D−1)/2) onto the Cholesky factors L of D × D correlation
    matrices (lower triangular, positive diagonal, every row of unit norm), as PyTorch:

        1. r = tanh(x) ∈ (−1, 1), laid out row by row below the diagonal of a D × D matrix;
        2. each row i is a signed stick-breaking of r²: with what is left of the unit norm
           before entry j, Lᵢⱼ = rᵢⱼ·√(Πₖ₍ₖ₌₀..ⱼ₋₁₎ (1 − rᵢₖ²)) for j < i, and the diagonal
           Lᵢᵢ = √(Πₖ₍ₖ₌₀..ᵢ₋₁₎ (1 − rᵢₖ²)) takes the rest.

    The inverse reads rᵢⱼ = Lᵢⱼ / √(1 − Σₖ₍ₖ₌₀..ⱼ₋₁₎ Lᵢₖ²) and x = atanh r. The log-det is
    that of x ↦ the strictly lower entries of L (D(D−1)/2 numbers each side): each row's map
    r ↦ L is triangular with ∂Lᵢⱼ/∂rᵢⱼ = √(1 − Σₖ₍ₖ₌₀..ⱼ₋₁₎ Lᵢₖ²), so

        log |det| = ½ Σᵢ Σⱼ₍ⱼ₌₁..ᵢ₋₁₎ log(1 − Σₖ₍ₖ₌₀..ⱼ₋₁₎ Lᵢₖ²) + Σ log(1 − tanh² x)."""

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky
    bijective = True

    def _call(self, x):
        eps = tg.finfo(x.dtype).eps
        r = x.tanh().clamp(min=-1 + eps, max=1 - eps)                       # (..., N)
        r = _vec_to_tril_matrix(r, _corr_cholesky_size(x.shape[-1]), -1)   # (..., D, D)
        left = (1 - r ** 2).sqrt().cumprod(-1)          # √Πₖ₌₀..ⱼ (1 − rᵢₖ²)
        left = tg.cat([tg.ones_like(left[..., :1]), left[..., :-1]], -1)   # shifted: k < j
        eye = tg.eye(r.shape[-1], dtype=r.dtype, device=r.device)
        return (r + eye) * left

    def _inverse(self, y):
        left = 1 - (y * y).cumsum(-1)                                # 1 − Σₖ₌₀..ⱼ Lᵢₖ²
        left = tg.cat([tg.ones_like(left[..., :1]), left[..., :-1]], -1)   # k < j
        r = _tril_matrix_to_vec(y, -1) / _tril_matrix_to_vec(left, -1).sqrt()  # (..., N)
        return ((r).log1p() - (-r).log1p()) / 2                      # atanh r

    def log_abs_det_jacobian(self, x, y):
        """½ Σ log(1 − Σₖ₍ₖ≤ⱼ₎ Lᵢₖ²) over j ≤ i − 2, plus Σ 2(log 2 − x − softplus(−2x))."""
        left = 1 - (y * y).cumsum(-1)                                # (..., D, D)
        stick_breaking = 0.5 * _tril_matrix_to_vec(left, -2).log().sum(-1)
        tanh = 2 * (math.log(2.0) - x - softplus(-2 * x)).sum(-1)
        return stick_breaking + tanh

    def forward_shape(self, shape):
        """(..., D(D − 1)/2) → (..., D, D)."""
        if len(shape) < 1:
            raise ValueError(f"CorrCholeskyTransform: too few dimensions in {tuple(shape)}")
        size = _corr_cholesky_size(shape[-1])
        return tuple(shape[:-1]) + (size, size)

    def inverse_shape(self, shape):
        """(..., D, D) → (..., D(D − 1)/2)."""
        if len(shape) < 2:
            raise ValueError(f"CorrCholeskyTransform: too few dimensions in {tuple(shape)}")
        if shape[-2] != shape[-1]:
            raise ValueError(f"CorrCholeskyTransform: shape {tuple(shape)} is not square")
        size = shape[-1]
        return tuple(shape[:-2]) + (size * (size - 1) // 2,)


def _check_slices(name: str, value: Tensor, dim: int, length: int) -> None:
    """ValueError unless dim is one of value's dims and value has ``length`` entries on it."""
    if not -value.ndim <= dim < value.ndim:
        raise ValueError(f"{name}: dim {dim} is out of range for shape {tuple(value.shape)}")
    if value.shape[dim] != length:
        raise ValueError(f"{name}: expected {length} entries along dim {dim}, got shape "
                         f"{tuple(value.shape)}")


class CatTransform(Transform):
    """``tseq[i]`` applied to the i-th run of ``lengths[i]`` entries along ``dim`` (1 each
    by default), the results joined as ``tg.cat`` would:

        y = cat([t₀(x[.., 0:l₀, ..]), t₁(x[.., l₀:l₀+l₁, ..]), ...], dim).

    The log-dets are joined along dim when dim is a batch dim of the result, else (dim is
    inside the event) summed."""

    def __init__(self, tseq, dim: int = 0, lengths=None, cache_size: int = 0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise ValueError("CatTransform: every entry of tseq must be a Transform")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.lengths = [1] * len(self.transforms) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise ValueError(f"CatTransform: {len(self.lengths)} lengths for "
                             f"{len(self.transforms)} transforms")
        self.dim = dim

    @property
    def event_dim(self) -> int:
        """The largest event_dim of the parts."""
        return max(t.event_dim for t in self.transforms)

    @property
    def length(self) -> int:
        """Σ lengths: the size of dim."""
        return sum(self.lengths)

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The same parts with ``cache_size``."""
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    @property
    def bijective(self) -> bool:
        """True when every part is."""
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        """cat of the parts' domains."""
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        """cat of the parts' codomains."""
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)

    def _map_slices(self, value: Tensor, inverse: bool) -> Tensor:
        """Each part (or its inverse) on its run of entries, joined along dim."""
        _check_slices("CatTransform", value, self.dim, self.length)
        pieces = []
        start = 0
        for transform, length in zip(self.transforms, self.lengths):
            piece = value.narrow(self.dim, start, length)
            pieces.append(transform.inv(piece) if inverse else transform(piece))
            start = start + length
        return tg.cat(pieces, self.dim)

    def _call(self, x):
        return self._map_slices(x, inverse=False)

    def _inverse(self, y):
        return self._map_slices(y, inverse=True)

    def log_abs_det_jacobian(self, x, y):
        """Each part's log-det (summed up to the common event_dim), concatenated along dim
        when it is a batch dim, else summed."""
        _check_slices("CatTransform", x, self.dim, self.length)
        _check_slices("CatTransform", y, self.dim, self.length)
        terms = []
        start = 0
        for transform, length in zip(self.transforms, self.lengths):
            term = transform.log_abs_det_jacobian(x.narrow(self.dim, start, length),
                                                  y.narrow(self.dim, start, length))
            terms.append(sum_rightmost(term, self.event_dim - transform.event_dim))
            start = start + length
        dim = self.dim - x.ndim if self.dim >= 0 else self.dim     # counted from the right
        dim = dim + self.event_dim                                   # ... in the log-det
        if dim < 0:
            return tg.cat(terms, dim)
        return sum(terms[1:], terms[0])


class StackTransform(Transform):
    """``tseq[i]`` applied to x.select(dim, i), the results joined as ``tg.stack`` would:
    y = stack([t₀(x₀), t₁(x₁), ...], dim); the log-dets stacked along dim the same way."""

    def __init__(self, tseq, dim: int = 0, cache_size: int = 0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise ValueError("StackTransform: every entry of tseq must be a Transform")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.dim = dim

    def with_cache(self, cache_size: int = 1) -> Transform:
        """The same parts with ``cache_size``."""
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    @property
    def bijective(self) -> bool:
        """True when every part is."""
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        """stack of the parts' domains."""
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        """stack of the parts' codomains."""
        return constraints.stack([t.codomain for t in self.transforms], self.dim)

    def _slices(self, value: Tensor) -> list:
        """value.select(dim, i) for every i."""
        _check_slices("StackTransform", value, self.dim, len(self.transforms))
        return [value.select(self.dim, i) for i in range(value.shape[self.dim])]

    def _call(self, x):
        pieces = [t(piece) for t, piece in zip(self.transforms, self._slices(x))]
        return tg.stack(pieces, self.dim)

    def _inverse(self, y):
        pieces = [t.inv(piece) for t, piece in zip(self.transforms, self._slices(y))]
        return tg.stack(pieces, self.dim)

    def log_abs_det_jacobian(self, x, y):
        """The parts' log-dets, stacked along dim."""
        terms = [t.log_abs_det_jacobian(x_piece, y_piece) for t, x_piece, y_piece
                 in zip(self.transforms, self._slices(x), self._slices(y))]
        return tg.stack(terms, self.dim)
