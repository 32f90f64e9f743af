"""A strict, NumPy-backed stand-in for CuPy, for tests on machines with no GPU.

CuPy arrays live on the GPU, so CuPy refuses every *implicit* conversion to a
host array: ``np.asarray(x)``, ``float(x)``, mixing with a NumPy array in one
operation. Code that works on NumPy arrays can therefore break on a GPU. A
``StrictArray`` wraps a NumPy array and refuses the same things, so running the
test suite on the ``'strict'`` device finds that code on every CI run.

What is allowed, as on CuPy: NumPy ufuncs and functions called on strict arrays
(they dispatch here and return strict arrays), Python scalars mixed in,
``x.item()``, ``bool(x)`` of a one-element array, and the explicit transfers
``asarray(host_array)`` and ``asnumpy(x)``.

This module is the array module (``xp``) of the strict device: ``strict.exp``,
``strict.zeros``, ... behave as NumPy's but take and return strict arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


class StrictArray(NDArrayOperatorsMixin):
    """A NumPy array that behaves like a device array: no implicit host copies."""

    __slots__ = ("_array",)
    __array_priority__ = 1000

    def __init__(self, array: np.ndarray):
        self._array = array

    # --- what CuPy refuses ---
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion of a 'strict' device array to a NumPy array is not allowed "
            "(CuPy refuses it too); transfer explicitly with .numpy() / backend.to_host")

    def __float__(self):
        raise TypeError("float() of a 'strict' device array is not allowed: use .item()")

    def __int__(self):
        raise TypeError("int() of a 'strict' device array is not allowed: use .item()")

    def __index__(self):
        raise TypeError("a 'strict' device array cannot be used as a Python index")

    def __iter__(self):
        # Iterating would hand out device rows one by one; CuPy allows it, but it
        # is almost always a hidden host loop, so tests should not depend on it.
        return (StrictArray(row) for row in self._array)

    # --- NumPy dispatch: ufuncs and functions on strict arrays stay strict ---
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = _unwrap_tree(inputs, ufunc.__name__)
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(x, ufunc.__name__) for x in kwargs["out"])
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if method == "at":
            return None
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        args = _unwrap_tree(args, func.__name__)
        kwargs = _unwrap_tree(kwargs, func.__name__)
        return _wrap(func(*args, **kwargs))

    # --- the ndarray surface ---
    @property
    def shape(self):
        return self._array.shape

    @property
    def ndim(self):
        return self._array.ndim

    @property
    def dtype(self):
        return self._array.dtype

    @property
    def size(self):
        return self._array.size

    @property
    def T(self):
        return StrictArray(self._array.T)

    def __len__(self):
        return len(self._array)

    def __bool__(self):
        return bool(self._array)  # CuPy allows this for one-element arrays

    def __getitem__(self, index):
        # CuPy returns x[1] as a 0-d view of x's memory; NumPy copies the element out
        # unless the index ends with ... (which picks the same elements): so add one.
        index = _unwrap_tree(index, "indexing")
        index = index if type(index) is tuple else (index,)
        return _wrap(self._array[index if any(i is Ellipsis for i in index) else (*index, ...)])

    def __setitem__(self, index, value):
        self._array[_unwrap_tree(index, "indexing")] = _unwrap(value, "assignment")

    def item(self, *args):
        return self._array.item(*args)

    def tolist(self):
        return self._array.tolist()

    def get(self):
        """CuPy's explicit device-to-host copy."""
        return self._array.copy()

    def __getattr__(self, name):
        # Methods such as reshape, sum, astype, copy, fill: run on the wrapped
        # array, wrap what comes back (attributes such as nbytes, flags, strides too).
        if name.startswith("__"):  # NumPy would read the host memory through
            raise AttributeError(name)  # __array_interface__ or __array_struct__
        attribute = getattr(self._array, name)
        if not callable(attribute):
            return _wrap(attribute)

        def method(*args, **kwargs):
            args = _unwrap_tree(args, name)
            kwargs = _unwrap_tree(kwargs, name)
            return _wrap(attribute(*args, **kwargs))
        return method

    def __repr__(self):
        return "strict." + repr(self._array)

    def __copy__(self):
        return StrictArray(self._array.copy())

    def __deepcopy__(self, memo):
        return StrictArray(self._array.copy())

    def __reduce__(self):
        raise TypeError("a 'strict' device array cannot be pickled: transfer it to the host first")


def _unwrap(value, what):
    if type(value) is StrictArray:
        return value._array
    if type(value) is np.ndarray:
        raise TypeError(
            f"{what}: a NumPy (host) array mixed with a 'strict' device array; "
            "CuPy refuses this too: move the host array to the device first")
    return value


def _unwrap_tree(value, what):
    if type(value) is StrictArray:
        return value._array
    if type(value) is np.ndarray:
        return _unwrap(value, what)
    if type(value) in (tuple, list):
        return type(value)(_unwrap_tree(item, what) for item in value)
    if type(value) is dict:
        return {key: _unwrap_tree(item, what) for key, item in value.items()}
    return value


def _wrap(value):
    if type(value) is np.ndarray:
        return StrictArray(value)
    if isinstance(value, np.generic):  # NumPy returns scalars from 0-d results
        return StrictArray(np.asarray(value))
    if type(value) in (tuple, list):
        return type(value)(_wrap(item) for item in value)
    return value


# --- the module surface: xp.exp(x), xp.zeros(shape), ... ---

def asarray(data, dtype=None):
    """Explicit host-to-device transfer (allowed, as ``cupy.asarray``)."""
    if type(data) is StrictArray:
        return data if dtype is None else StrictArray(data._array.astype(dtype, copy=False))
    return StrictArray(np.array(data, dtype=dtype))


array = asarray


def asnumpy(value):
    """Explicit device-to-host transfer (as ``cupy.asnumpy``)."""
    if type(value) is StrictArray:
        return value._array.copy()
    return np.asarray(value)


def __getattr__(name):
    # Everything else (exp, zeros, float32, newaxis, ...) comes from NumPy, with
    # callables wrapped so that arguments are unwrapped and results wrapped.
    attribute = getattr(np, name)
    if isinstance(attribute, np.ufunc):
        return attribute  # ufuncs dispatch through StrictArray.__array_ufunc__
    if callable(attribute) and not isinstance(attribute, type):
        def function(*args, **kwargs):
            args = _unwrap_tree(args, name)
            kwargs = _unwrap_tree(kwargs, name)
            return _wrap(attribute(*args, **kwargs))
        function.__name__ = name
        return function
    return attribute
