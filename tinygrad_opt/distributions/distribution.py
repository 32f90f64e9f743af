"""``Distribution``, the base class of every family, and the helpers the families share.

Shapes, as PyTorch names them: a distribution holds a batch of independent
distributions (``batch_shape``), each over events of ``event_shape`` (``()`` for a
number, ``(n,)`` for a vector). ``sample(sample_shape)`` returns
``sample_shape + batch_shape + event_shape``; ``log_prob(value)`` returns one number
per event, of shape ``sample_shape + batch_shape``.

``sample`` draws without a graph; ``rsample`` (where ``has_rsample``) writes each draw as a
differentiable function of the parameters and of parameter-free noise
(x = μ + σ·ε, ε ~ N(0, 1)), so gradients of a Monte Carlo estimate flow to the
parameters: the reparameterization trick.

Validation (on by default, as in PyTorch; ``validate_args=False`` or
``Distribution.set_default_validate_args(False)`` turns it off) checks the parameters
against ``arg_constraints`` when the distribution is made and the values given to
``log_prob`` against ``support``, raising ValueError with PyTorch's messages.
"""

from __future__ import annotations

import numbers

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.distributions import constraints
from tinygrad_opt.tensor import Tensor

__all__ = ["Distribution"]


class lazy_property:
    """A property computed on first use and then stored on the instance (Bernoulli's
    ``probs`` from its ``logits`` or the other way round). It is computed with gradients
    enabled (as PyTorch's), so a first use under ``no_grad`` (``sample``) does not store a
    value cut off from the parameters that later ``log_prob`` calls would reuse."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with tg.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value  # later reads skip this method
        return value


def broadcast_all(*values) -> tuple:
    """The values as Tensors broadcast to one shape: numbers become tensors of the first
    float tensor's dtype (else the default float) on the tensors' device (else the default
    device)."""
    tensors = [value for value in values if isinstance(value, Tensor)]
    like = next((t for t in tensors if backend.is_floating(t.dtype)), None)
    device = tensors[0].device if tensors else None  # (None: the default device)
    for value in values:
        if not isinstance(value, (Tensor, numbers.Number)):
            raise ValueError("Input arguments must all be instances of numbers.Number or "
                             f"Tensor, got {type(value).__name__}")
    dtype = backend.default_float if like is None else like.dtype
    tensors = [value if isinstance(value, Tensor) else
               tg.tensor(value, dtype=dtype, device=device) for value in values]
    shape = backend.broadcast_shapes(*(tensor.shape for tensor in tensors))
    return tuple(tensor if tensor.shape == shape else tensor.broadcast_to(shape)
                 for tensor in tensors)


def as_tensor(value, like=None) -> Tensor:
    """``value`` as a float Tensor (numbers: the default float, or ``like``'s dtype/device)."""
    if isinstance(value, Tensor):
        return value if backend.is_floating(value.dtype) else value.astype(backend.default_float)
    dtype = backend.default_float if like is None else like.dtype
    return tg.tensor(value, dtype=dtype, device=None if like is None else like.device)


def clamp_probs(probs: Tensor) -> Tensor:
    """probs limited to [eps, 1 − eps] (eps of their dtype), so log p and log(1 − p) stay
    finite."""
    eps = tg.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits from probabilities: log p − log(1 − p) (binary), or log p (categorical)."""
    clamped = clamp_probs(probs)
    if is_binary:
        return clamped.log() - (-clamped).log1p()
    return clamped.log()


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from logits: σ(logits) (binary), or softmax over the last dim."""
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


def sum_rightmost(value: Tensor, dims: int) -> Tensor:
    """``value`` summed over its ``dims`` rightmost dims (itself when dims is 0)."""
    if dims == 0:
        return value
    return value.reshape(value.shape[:value.ndim - dims] + (-1,)).sum(-1)


def uniform_noise(shape: tuple, like: Tensor, low: float = 0.0, high: float = 1.0) -> Tensor:
    """Samples of U[low, high) of ``like``'s dtype and device, from the seeded generator,
    that never require grad."""
    draws = backend.random_uniform(tuple(shape), like.dtype, like.device, low, high)
    return Tensor._make(draws)


def normal_noise(shape: tuple, like: Tensor) -> Tensor:
    """Samples of N(0, 1) of ``like``'s dtype and device, from the seeded generator."""
    return Tensor._make(backend.random_normal(tuple(shape), like.dtype, like.device))


def host_draws(draw, parameters: tuple, shape: tuple, like: Tensor) -> Tensor:
    """Samples of one of the seeded host generator's laws (``draw(rng, *arrays, size)``,
    e.g. ``rng.poisson(rate, size)``) with the parameters copied to the host, in ``like``'s
    dtype, moved back to ``like``'s device."""
    arrays = [backend.to_host(parameter.detach().data) for parameter in parameters]
    samples = draw(backend.host_rng(), *arrays, tuple(shape)).astype(like.dtype)
    return Tensor._make(backend.to_device(samples, like.device))


def all_true(condition: Tensor) -> bool:
    """True when every entry of a bool tensor is true (an explicit host read)."""
    return bool(condition.all().item())


class Distribution:
    """The base of every distribution: shapes, validation, ``sample``/``rsample``,
    ``log_prob``, ``entropy``, moments. Families override what they have, as PyTorch.

    ``batch_shape``: the shape of the batch of independent distributions.
    ``event_shape``: the shape of one sample of one of them.
    ``arg_constraints``: the constraint of each parameter; ``support``: where samples lie.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True  # PyTorch's default (__debug__)
    arg_constraints: dict = {}

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn the validation of parameters and samples on or off for distributions made
        afterwards without an explicit ``validate_args``."""
        if value not in (True, False):
            raise ValueError("set_default_validate_args expects a bool, got "
                             f"{value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape: tuple = (), event_shape: tuple = (),
                 validate_args: bool | None = None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if not self._validate_args:
            return
        for param, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if param not in self.__dict__ and isinstance(getattr(type(self), param, None),
                                                         lazy_property):
                continue  # not given (Bernoulli's probs when logits were): nothing to check
            value = getattr(self, param)
            if not all_true(constraint.check(value)):
                raise ValueError(
                    f"Expected parameter {param} "
                    f"({type(value).__name__} of shape {tuple(value.shape)}) "
                    f"of distribution {self!r} "
                    f"to satisfy the constraint {constraint!r}, "
                    f"but found invalid values:\n{value}")

    @property
    def batch_shape(self) -> tuple:
        """The shape of the batch of independent distributions."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple:
        """The shape of one sample of one distribution of the batch."""
        return self._event_shape

    @property
    def support(self):
        """The constraint that every sample satisfies."""
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        """E[X]."""
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        """The most likely value."""
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """Var[X] = E[(X − E[X])²]."""
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        """√Var[X]."""
        return self.variance.sqrt()

    def expand(self, batch_shape, _instance=None) -> "Distribution":
        """A distribution of the same family with its parameters broadcast to
        ``batch_shape`` (no copy: the gradient flows back to the original parameters)."""
        batch_shape = tuple(batch_shape)
        new = object.__new__(type(self)) if _instance is None else _instance
        for name, value in self.__dict__.items():
            if name in ("_batch_shape", "_event_shape", "_validate_args"):
                continue
            batch_part = len(self.batch_shape)
            if isinstance(value, Tensor) and value.shape[:batch_part] == self.batch_shape:
                extra = value.shape[batch_part:]  # (batch..., extra...) → (new batch..., extra...)
                value = value.expand(batch_shape + extra)
            elif isinstance(value, Distribution):  # a part (LogNormal's base_dist)
                value = value.expand(batch_shape)
            new.__dict__[name] = value
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()) -> Tensor:
        """Samples of shape ``sample_shape + batch_shape + event_shape``, with no graph."""
        with tg.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()) -> Tensor:
        """Reparameterized samples: a differentiable function of the parameters."""
        raise NotImplementedError(f"{type(self).__name__} has no rsample "
                                  "(has_rsample is False): use sample()")

    def sample_n(self, n: int) -> Tensor:
        """``sample((n,))`` (PyTorch's deprecated spelling)."""
        return self.sample((n,))

    def log_prob(self, value) -> Tensor:
        """log p(value): the log density (or log mass) of each event."""
        raise NotImplementedError

    def cdf(self, value) -> Tensor:
        """P(X ≤ value)."""
        raise NotImplementedError

    def icdf(self, value) -> Tensor:
        """The inverse of cdf: the x with P(X ≤ x) = value."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """H = −E[log p(X)], one number per distribution of the batch."""
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Every value of a discrete support along a new first dim (where
        ``has_enumerate_support``): shape (values, 1, ..., 1), or (values,) + batch_shape."""
        raise NotImplementedError(f"{type(self).__name__} cannot enumerate its support")

    def perplexity(self) -> Tensor:
        """exp(entropy)."""
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=()) -> tuple:
        """``sample_shape + batch_shape + event_shape``."""
        if isinstance(sample_shape, int):
            sample_shape = (sample_shape,)
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value) -> None:
        """Raise ValueError (PyTorch's messages) unless ``value`` is a Tensor whose shape
        broadcasts with batch_shape + event_shape and whose entries lie in the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = value.ndim - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{value.shape} vs {self._event_shape}.")
        expected_shape = self._batch_shape + self._event_shape
        for i, j in zip(reversed(value.shape), reversed(expected_shape)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{value.shape} vs {expected_shape}.")
        support = self.support
        if not all_true(support.check(value)):
            raise ValueError(
                "Expected value argument "
                f"({type(value).__name__} of shape {tuple(value.shape)}) "
                f"to be within the support ({support!r}) "
                f"of the distribution {self!r}, "
                f"but found invalid values:\n{value}")

    def __repr__(self) -> str:
        names = [name for name in self.arg_constraints if name in self.__dict__]
        parts = []
        for name in names:
            value = self.__dict__[name]
            parts.append(f"{name}: {value if value.numel() == 1 else tuple(value.shape)}")
        return f"{type(self).__name__}({', '.join(parts)})"
