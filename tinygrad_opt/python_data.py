"""Python data as a host array, with the dtype ``torch.tensor`` gives it.

``Tensor(data)`` hands numbers, nested lists and tuples, and NumPy scalars here
(arrays keep their dtype and device, and never come here). NumPy reads such data by
its own rules; PyTorch's, which this follows, differ in three ways:

* each element has a dtype: a Python float the default float (float32, see
  ``tg.set_default_dtype``), a Python int int64, a bool bool, a NumPy scalar or array
  (or a Tensor) its own; and the elements meet by PyTorch's promotion, over its
  categories bool < integer < float: an integer meeting a float takes the float's
  dtype. So ``[np.float64(1.0), 2.0]`` is float64 and ``[np.float16(1), 2]`` is
  float16, where NumPy's ``[np.float32(1), 2.0]`` is float64;
* an integer beyond int64 is an error (NumPy makes ``2**63`` a uint64, ``2**64`` an
  object);
* anything else (None, a string, complex numbers, a ragged list) is an error naming
  it, not an array of objects.

With ``dtype`` given the elements are stored in it (``tensor(2**63, dtype=uint64)``).
Not on the reading path: the rules are PyTorch's bookkeeping, not autograd.
"""

from __future__ import annotations

import functools

from tinygrad_opt import backend

np = backend.np  # (only the backend imports NumPy)
_PYTHON = (bool, int, float)  # (bool before int: a bool is an int to isinstance)


def host_array(data, dtype=None) -> np.ndarray:
    """``data`` as a host NumPy array: of ``dtype`` when given, else of PyTorch's dtype
    for it."""
    default_float = backend.default_float
    found = set()
    _dtypes(data, found, default_float)
    if dtype is not None:
        dtype = backend.as_dtype(dtype)
    elif found:
        dtype = functools.reduce(_promote, found)
    else:
        dtype = np.dtype(default_float)  # an empty list, as PyTorch
    try:
        return np.asarray(data, dtype=dtype)
    except OverflowError:
        raise RuntimeError(f"tensor: a value of {_short(data)} does not fit in {np.dtype(dtype)}"
                           " (Overflow when unpacking long)") from None
    except ValueError as error:
        raise ValueError(f"tensor: the sequences of {_short(data)} must nest to one shape "
                         f"(a ragged list is no tensor): {error}") from None


def _dtypes(data, found: set, default_float) -> None:
    """Add to ``found`` the dtype of every element of ``data`` (recursing into lists and
    tuples); a flat list of Python numbers is read in one pass over its types."""
    if type(data) not in (list, tuple):
        found.add(_dtype_of(data, default_float))
        return
    types = set(map(type, data))
    for kind in types.intersection(_PYTHON):
        found.add(_dtype_of(kind(), default_float))
    if types.difference(_PYTHON):
        for item in data:
            if type(item) not in _PYTHON:
                _dtypes(item, found, default_float)


def _dtype_of(value, default_float):
    """The dtype of one element, PyTorch's ``infer_scalar_type``."""
    if isinstance(value, bool):
        return np.dtype(np.bool_)
    if isinstance(value, int):
        return np.dtype(np.int64)
    if isinstance(value, float) and not hasattr(value, "dtype"):  # (np.float64 is a float)
        return np.dtype(default_float)
    dtype = getattr(value, "dtype", None)  # NumPy scalars and arrays, Tensors
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return dtype
    if isinstance(value, (complex, np.complexfloating)):
        raise TypeError("tensor: complex numbers are not supported (no complex dtypes here)")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"tensor: invalid data type '{type(value).__name__}' (a string "
                        "is no number)")
    raise RuntimeError(f"tensor: could not infer the dtype of {type(value).__name__} "
                       f"({_short(value)})")


def _promote(a, b):
    """PyTorch's ``promote_types``: the float one where one is a float, else the wider."""
    if (a.kind == "f") != (b.kind == "f"):
        return a if a.kind == "f" else b
    return np.promote_types(a, b)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
