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
    AbsTransform         y = |x|                     (not bijective: the inverse picks y)

and the vector ones map ℝᴷ⁻¹ or ℝᴷ onto the simplex (``StickBreakingTransform``, bijective;
``SoftmaxTransform``, not) or square matrices onto Cholesky factors
(``LowerCholeskyTransform``). ``ComposeTransform([t1, t2])`` is t2 ∘ t1 with the log-dets
summed; ``IndependentTransform`` sums the log-det over more rightmost dims.

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
    "AbsTransform", "AffineTransform", "ComposeTransform", "ExpTransform",
    "IndependentTransform", "LowerCholeskyTransform", "PowerTransform", "SigmoidTransform",
    "SoftmaxTransform", "StickBreakingTransform", "TanhTransform", "Transform",
    "identity_transform",
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
    length 1 K − 1 times, keeping the fraction zₖ = σ(xₖ − log(K − k)) of what is left
    (the shift makes x = 0 the simplex's centre):

        yₖ = zₖ·Πⱼ₍ⱼ₌₀..ₖ₋₁₎ (1 − zⱼ)   (k < K − 1),     y_(K−1) = Πⱼ (1 − zⱼ).

    The Jacobian is triangular: log |det| = Σₖ log(zₖ(1 − zₖ)·Πⱼ₍ⱼ₌₀..ₖ₋₁₎ (1 − zⱼ))
    = Σₖ (−x̃ₖ + log σ(x̃ₖ) + log yₖ), x̃ₖ = xₖ − log(K − k)."""

    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    def __eq__(self, other) -> bool:
        return isinstance(other, StickBreakingTransform)

    @staticmethod
    def _offset(x: Tensor) -> Tensor:
        """log(K − k) for k = 0 ... K − 2 (K − 1 = x's last dim)."""
        count = x.shape[-1]
        return tg.arange(count, 0, -1, dtype=x.dtype, device=x.device).log()  # (K − 1,)

    def _call(self, x):
        z = _clipped_sigmoid(x - self._offset(x))                  # (..., K − 1)
        left = (1 - z).cumprod(-1)                                  # Πⱼ₌₀..ₖ (1 − zⱼ)
        ones = tg.ones_like(z[..., :1])                             # (..., 1)
        return tg.cat([z, ones], -1) * tg.cat([ones, left], -1)     # (..., K)

    def _inverse(self, y):
        y_crop = y[..., :-1]                                        # (..., K − 1)
        left = 1 - y_crop.cumsum(-1)                                # the stick left after k
        left = left.clamp(min=tg.finfo(y.dtype).tiny)
        return y_crop.log() - left.log() + self._offset(y_crop)

    def log_abs_det_jacobian(self, x, y):
        """Σₖ (−x̃ₖ + log σ(x̃ₖ) + log yₖ), x̃ₖ = xₖ − log(K − k), log σ = −softplus(−·)."""
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
