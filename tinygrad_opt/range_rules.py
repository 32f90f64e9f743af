"""PyTorch's rules for the arguments of the factories, outside the reading path.

The factories (factories.py) keep the one line each that makes the values; what
PyTorch checks and infers around it lives here:

* a shape (``zeros``, ``ones``, ``empty``, ``rand``, ``randn``): ``f(2, 3)``,
  ``f((2, 3))`` and ``f(size=(2, 3))`` alike; a negative size raises PyTorch's error,
  and so does a negative ``n`` or ``m`` of ``eye``.
* ``full(size, value)`` without a dtype: bool for True/False, int64 for an integer
  (a NumPy one too), the default float otherwise.

* ``arange(start, end, step)``: one number is the end (from 0); a 0-d Tensor counts as
  its number (an integer one as an int); the dtype is int64 when start, end and step
  are all integers, else the default float; a zero step, a step whose sign leads away
  from the end, and an infinite or NaN bound raise PyTorch's errors, naming ``arange``.
* ``linspace`` with an integer dtype: PyTorch computes the first half of the values
  from the start, start + i·step, and the second half from the end,
  end − (steps − 1 − i)·step (step = (end − start) / (steps − 1), in float64), then
  truncates each toward zero. NumPy's ``linspace`` floors instead: −3.33 becomes −4
  where PyTorch gives −3.
"""

from __future__ import annotations

import math

from tinygrad_opt import backend
from tinygrad_opt.tensor import Tensor


def _number(value, name: str):
    """A Python number, or a one-element Tensor's value (``arange(tg.tensor(3))``)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name}: expected a number or a one-element tensor, got a tensor "
                             f"of shape {value.shape}")
        return value.item()
    return value


def arange_arguments(start, end, step, dtype) -> tuple:
    """``(start, end, step, dtype)`` for ``arange``, by PyTorch's rules (module docstring)."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number(value, "arange") for value in (start, end, step))
    if dtype is None:
        integral = all(isinstance(v, (int, backend.np.integer)) for v in (start, end, step))
        dtype = backend.int64 if integral else backend.default_float
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    return start, end, step, backend.as_dtype(dtype)


def linspace(xp, start, end, steps: int, dtype):
    """``steps`` values from ``start`` to ``end``, both included, as PyTorch's ``linspace``
    (module docstring: integers are truncated toward zero, each half counted from its end)."""
    start, end = _number(start, "linspace"), _number(end, "linspace")
    if isinstance(steps, bool) or not isinstance(steps, (int, backend.np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    if dtype.kind == "f":
        return xp.linspace(start, end, steps, dtype=dtype)
    if dtype.kind in "iu":  # PyTorch casts the bounds first (toward zero), as C++ does
        start, end = math.trunc(start), math.trunc(end)
    index = xp.arange(steps, dtype=backend.float64)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    values = xp.where(index < steps // 2, start + step * index,
                      end - step * (steps - 1 - index))
    return xp.trunc(values).astype(dtype)


def factory_shape(args: tuple, size, name: str) -> tuple:
    """The shape of ``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))``, each size >= 0."""
    if size is not None:
        if args:
            raise TypeError(f"{name}: got the size twice, as {args} and as size={size}")
        args = (size,)
    shape = tuple(args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args)
    for length in shape:
        if not isinstance(length, (int, backend.np.integer)) or isinstance(length, bool):
            raise TypeError(f"{name}: the size must be ints, got {shape}")
        if length < 0:
            raise RuntimeError(f"{name}: Trying to create tensor with negative dimension "
                               f"{length}: {list(shape)}")
    return shape


def eye_sizes(n, m) -> tuple:
    """``eye``'s ``n`` and ``m`` (``m`` = ``n`` when omitted), each an int >= 0."""
    m = n if m is None else m
    for name, value in (("n", n), ("m", m)):
        if not isinstance(value, (int, backend.np.integer)) or isinstance(value, bool):
            raise TypeError(f"eye: {name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {value}")
    return n, m


def full_dtype(fill_value):
    """``full``'s dtype when none is given: PyTorch's, from the value's kind."""
    kind = backend.as_array(fill_value).dtype.kind
    return {"b": backend.bool_, "i": backend.int64, "u": backend.int64}.get(kind,
                                                                        backend.default_float)
