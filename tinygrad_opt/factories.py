"""Tensor factories: zeros, ones, rand, ... each with dtype, device, requires_grad.

PyTorch's checks of their arguments (negative sizes, ``size=``, arange's steps)
live in range_rules.py. The ``*_like`` factories take PyTorch's ``memory_format``,
which changes nothing here: every tensor they make is contiguous."""

from __future__ import annotations

from tinygrad_opt import backend, range_rules
from tinygrad_opt.tensor import Tensor


def _finish(array, requires_grad) -> Tensor:
    return Tensor._make(array).requires_grad_(requires_grad)


def _xp(device):
    return backend.get_xp(backend.check_device(device))


def _float_dtype(dtype):
    return backend.default_float if dtype is None else backend.as_dtype(dtype)


def zeros(*shape, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros in shape ``size`` (``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``),
    float32 by default."""
    shape = range_rules.factory_shape(shape, size, "zeros")  # (PyTorch's checks)
    array = _xp(device).zeros(shape, dtype=_float_dtype(dtype))
    return _finish(array, requires_grad)


def ones(*shape, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Ones in shape ``size`` (``ones(2, 3)`` or ``ones((2, 3))``), float32 by default."""
    shape = range_rules.factory_shape(shape, size, "ones")  # (PyTorch's checks)
    array = _xp(device).ones(shape, dtype=_float_dtype(dtype))
    return _finish(array, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (int64 for an int value, as PyTorch)."""
    dtype = range_rules.full_dtype(fill_value) if dtype is None else dtype  # 2: int64
    size = range_rules.factory_shape((size,), None, "full")
    array = _xp(device).full(size, fill_value, dtype=backend.as_dtype(dtype))
    return _finish(array, requires_grad)


def empty(*shape, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` with arbitrary (uninitialised) values, float32 by default."""
    shape = range_rules.factory_shape(shape, size, "empty")  # (PyTorch's checks)
    array = _xp(device).empty(shape, dtype=_float_dtype(dtype))
    return _finish(array, requires_grad)


def arange(start=0, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """start, start+step, ... below end (``arange(n)``: from 0); int64 when all arguments
    are ints. PyTorch's checks and dtype rule: ``range_rules.arange_arguments``."""
    start, end, step, dtype = range_rules.arange_arguments(start, end, step, dtype)
    # floats: start + i·step in float64, rounded once (as PyTorch)
    array = _xp(device).arange(start, end, step, dtype="f8" if dtype.kind == "f" else dtype)
    return _finish(array.astype(dtype, copy=False), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values, ``start`` to ``end`` included, float32 by default
    (integer dtypes: PyTorch's rounding, ``range_rules.linspace``)."""
    array = range_rules.linspace(_xp(device), start, end, steps, _float_dtype(dtype))
    return _finish(array, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n × m identity matrix (m = n when omitted), float32 by default."""
    array = _xp(device).eye(*range_rules.eye_sizes(n, m), dtype=_float_dtype(dtype))
    return _finish(array, requires_grad)


def rand(*shape, size=None, dtype=None, device=None, requires_grad=False,
         generator=None) -> Tensor:
    """Uniform samples on [0, 1), from ``generator`` (a ``tg.Generator``) or else the
    generator ``tg.manual_seed`` seeds."""
    return _random(backend.random_uniform, "rand", shape, size, dtype, device, requires_grad,
                   generator)


def randn(*shape, size=None, dtype=None, device=None, requires_grad=False,
          generator=None) -> Tensor:
    """Standard normal samples, from ``generator`` or the one ``tg.manual_seed`` seeds."""
    return _random(backend.random_normal, "randn", shape, size, dtype, device, requires_grad,
                   generator)


def _random(draw, name, shape, size, dtype, device, requires_grad, generator) -> Tensor:
    """Samples of ``draw`` (the backend's uniform or normal) in a float dtype: as in
    PyTorch, an integer dtype is an error (its samples would all round to 0 or so)."""
    shape, dtype = range_rules.factory_shape(shape, size, name), _float_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{name}: draws floats; dtype {dtype} is not one (randint draws integers)")
    rng = generator and generator.numpy_rng  # (None: the framework's generator)
    return _finish(draw(shape, dtype, backend.check_device(device), rng=rng), requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None, requires_grad=False,
            generator=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` means low = 0), int64, from
    ``generator`` as ``rand``. ``requires_grad=True`` raises, as for every integer tensor."""
    if isinstance(high, (tuple, list)):  # randint(high, size), as PyTorch
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    array = backend.random_integers(low, high, tuple(size), backend.check_device(device),
                                    rng=generator and generator.numpy_rng)
    if dtype is not None:
        array = array.astype(backend.as_dtype(dtype))
    return _finish(array, requires_grad)


def _like(factory, x, dtype, device, requires_grad):
    return factory(x.shape, dtype=x.dtype if dtype is None else dtype,
                   device=x.device if device is None else device, requires_grad=requires_grad)


def zeros_like(x, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """Zeros of ``x``'s shape, with its dtype and device unless given."""
    return _like(zeros, x, dtype, device, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """Ones of ``x``'s shape, with its dtype and device unless given."""
    return _like(ones, x, dtype, device, requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """Uniform samples on [0, 1) of ``x``'s shape, with its dtype and device unless given."""
    return _like(rand, x, dtype, device, requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    """Standard normal samples of ``x``'s shape, with its dtype and device unless given."""
    return _like(randn, x, dtype, device, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    """``fill_value`` in ``x``'s shape, with its dtype and device unless given."""
    return full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype,
                device=x.device if device is None else device, requires_grad=requires_grad)
