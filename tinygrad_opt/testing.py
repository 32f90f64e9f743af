"""``tg.testing``: PyTorch's ``torch.testing``, to compare results in tests and to make
test inputs.

* ``assert_close(actual, expected)`` passes when both hold the same structure and, for
  each pair of tensors / arrays / numbers in it, |actual − expected| <= atol + rtol·|expected|
  elementwise, with the default tolerances of their dtypes; else it raises an
  ``AssertionError`` with PyTorch's report (how many elements, the greatest absolute and
  relative differences and where they are).
* ``make_tensor(*shape, dtype=..., device=...)`` draws a tensor uniformly from
  [low, high), PyTorch's default range of its dtype unless given.
* ``assert_allclose`` is PyTorch's deprecated older comparison (looser tolerances,
  NaN == NaN): it warns and calls ``assert_close``.

How the comparison runs, as PyTorch's: the inputs are first walked (sequences by
position, mappings by key) into pairs of leaves, each leaf pair of one kind: None, bools,
Python/NumPy numbers, or tensor-likes (``tg.Tensor``s or arrays, of directly related
types). A structure error (lengths, keys, leaves of unrelated kinds, a lone ``rtol``) is
raised before any value is compared. Then each pair is compared: for tensor-likes the
shape, the stride (``check_stride``), the device and the dtype first, then the values,
on the tensors' own device (nothing goes to the host implicitly; only a failure's report
copies the values there, explicitly). The first failing pair raises; ``msg`` (a string)
replaces its message, or (a callable) receives it and returns the message.

Differences from PyTorch: our shapes print as tuples (``(2, 3)``, not
``torch.Size([2, 3])``), dtypes as NumPy names (``float32``), devices as ``'cpu'``,
``'strict'``, ``'cuda'``; there is no bfloat16, layout or quantization here (every
tensor is dense and strided: ``check_layout`` is accepted and has nothing to check).
"""

from __future__ import annotations

import cmath
import collections.abc
import contextlib
import math
import warnings

import numpy as np

from tinygrad_opt import backend, range_rules
from tinygrad_opt.tensor import Tensor, tensor

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# {dtype: (rtol, atol)}: PyTorch's defaults; every other dtype (integers, bool) compares
# exactly. A Python number counts as int64, float64 or complex128.
_DTYPE_PRECISIONS = {np.dtype("float16"): (1e-3, 1e-5), np.dtype("float32"): (1.3e-6, 1e-5),
                     np.dtype("float64"): (1e-7, 1e-7), np.dtype("complex64"): (1.3e-6, 1e-5),
                     np.dtype("complex128"): (1e-7, 1e-7)}
_NUMBER_DTYPES = {int: np.dtype("int64"), float: np.dtype("float64"),
                  complex: np.dtype("complex128")}


class _Failure(Exception):
    """A failed check: the error type to raise, its message, and where in the inputs
    (``path``: the indices and keys walked to reach the failing pair)."""

    def __init__(self, kind, message: str, path: tuple = ()):
        super().__init__(message)
        self.kind, self.message, self.path = kind, message, path

    def error(self, msg=None) -> Exception:
        """The exception to raise: ``msg`` (a string) as it is, or the generated message
        with the path appended, passed through ``msg`` when it is a callable."""
        if isinstance(msg, str):
            return self.kind(msg)
        message = self.message
        if self.path:
            message += "\n\nThe failure occurred for item " + "".join(
                str([item]) for item in self.path)
        return self.kind(msg(message) if callable(msg) else message)


def _tolerances(dtypes, rtol, atol, path) -> tuple:
    """(rtol, atol): both as given, or the loosest defaults of ``dtypes``."""
    if (rtol is None) != (atol is None):
        raise _Failure(ValueError, "Both 'rtol' and 'atol' must be either specified or omitted, "
                       f"but got no {'rtol' if rtol is None else 'atol'}.", path)
    if rtol is not None:
        return rtol, atol
    rtols, atols = zip(*(_DTYPE_PRECISIONS.get(dtype, (0.0, 0.0)) for dtype in dtypes))
    return max(rtols), max(atols)


def _is_sequence(value) -> bool:
    # (a str is a sequence of one-letter strs: walking it would never end)
    return isinstance(value, collections.abc.Sequence) and not isinstance(value, str)


def _pairs(actual, expected, path: tuple, options: dict) -> list:
    """The leaf comparisons of ``actual`` and ``expected``, each a function that raises a
    ``_Failure`` on a mismatch; raises a ``_Failure`` at once for a structure error."""
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, "The length of the sequences mismatch: "
                           f"{len(actual)} != {len(expected)}", path)
        return [pair for index in range(len(actual))
                for pair in _pairs(actual[index], expected[index], (*path, index), options)]
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected,
                                                                  collections.abc.Mapping):
        keys, other = set(actual.keys()), set(expected.keys())
        if keys != other:
            raise _Failure(AssertionError, "The keys of the mappings do not match:\n"
                           f"Missing keys in the actual mapping: {sorted(other - keys)}\n"
                           f"Additional keys in the actual mapping: {sorted(keys - other)}", path)
        with contextlib.suppress(Exception):  # (keys that do not sort keep the set's order)
            keys = sorted(keys)
        return [pair for key in keys
                for pair in _pairs(actual[key], expected[key], (*path, key), options)]
    for make in (_none_pair, _bool_pair, _number_pair, _tensor_pair):
        pair = make(actual, expected, path, options)
        if pair is not None:
            return [pair]
    raise _Failure(TypeError, "No comparison pair was able to handle inputs of type "
                   f"{type(actual)} and {type(expected)}.", path)


def _none_pair(actual, expected, path, options):
    if actual is not None and expected is not None:
        return None

    def compare():
        if not (actual is None and expected is None):
            raise _Failure(AssertionError, f"None mismatch: {actual} is not {expected}", path)
    return compare


def _bool_pair(actual, expected, path, options):
    if not all(isinstance(value, (bool, np.bool_)) for value in (actual, expected)):
        return None
    actual, expected = bool(actual), bool(expected)

    def compare():
        if actual is not expected:
            raise _Failure(AssertionError, f"Booleans mismatch: {actual} is not {expected}", path)
    return compare


def _number_pair(actual, expected, path, options):
    """Python numbers (and NumPy scalars, as their Python values): close when
    |actual − expected| <= atol + rtol·|expected|, or equal (equal infinities)."""
    kinds = (int, float, complex, np.number)
    if not all(isinstance(value, kinds) and not isinstance(value, bool)
               for value in (actual, expected)):
        return None
    actual, expected = (value.item() if isinstance(value, np.number) else value
                        for value in (actual, expected))
    rtol, atol = _tolerances([_NUMBER_DTYPES[type(value)] for value in (actual, expected)],
                             options["rtol"], options["atol"], path)

    def compare():
        if options["check_dtype"] and type(actual) is not type(expected):
            raise _Failure(AssertionError, f"The (d)types do not match: {type(actual)} != "
                           f"{type(expected)}.", path)
        if actual == expected or (options["equal_nan"] and cmath.isnan(actual)
                                  and cmath.isnan(expected)):
            return
        difference = abs(actual - expected)
        if cmath.isfinite(difference) and difference <= atol + rtol * abs(expected):
            return
        raise _Failure(AssertionError, _scalar_report(actual, expected, rtol, atol), path)
    return compare


def _tensor_pair(actual, expected, path, options):
    """Tensors or arrays of directly related types (one an instance of the other's type;
    of the very same type with ``allow_subclasses=False``); a Tensor that requires grad is
    compared by its values, outside the graph."""
    if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
        return None
    if not options["allow_subclasses"] and type(actual) is not type(expected):
        return None
    arrays = []
    for value in (actual, expected):
        if isinstance(value, Tensor):
            arrays.append(value.data)
        elif backend.is_array(value):
            arrays.append(value)
        elif isinstance(value, np.ndarray):  # (a subclass of ndarray: its plain array)
            arrays.append(np.asarray(value))
        else:
            return None
    if any(array.dtype.kind not in "biufc" for array in arrays):
        return None  # (strings, objects: no tensor can be made of them)
    rtol, atol = _tolerances([array.dtype for array in arrays], options["rtol"],
                             options["atol"], path)
    return lambda: _compare_arrays(*arrays, rtol, atol, options, path)


def _stride(array) -> tuple:
    return tuple(step // array.dtype.itemsize for step in array.strides)


def _compare_arrays(a, b, rtol, atol, options, path) -> None:
    """The attribute checks, in PyTorch's order (shape, stride, device, dtype), then the
    values, after moving both to the host if their devices differ and promoting both to a
    common dtype if their dtypes differ."""
    def mismatch(attribute, first, second):
        raise _Failure(AssertionError, f"The values for attribute '{attribute}' do not match: "
                       f"{first} != {second}.", path)

    if a.shape != b.shape:
        mismatch("shape", tuple(a.shape), tuple(b.shape))
    if options["check_stride"] and _stride(a) != _stride(b):
        mismatch("stride()", _stride(a), _stride(b))
    device_a, device_b = backend.device_of(a), backend.device_of(b)
    if options["check_device"] and device_a != device_b:
        mismatch("device", device_a, device_b)
    if options["check_dtype"] and a.dtype != b.dtype:
        mismatch("dtype", a.dtype, b.dtype)
    if device_a != device_b:
        a, b = backend.to_host(a), backend.to_host(b)
    if a.dtype != b.dtype:
        dtype = _promoted(a.dtype, b.dtype)
        a, b = a.astype(dtype), b.astype(dtype)
    close = _isclose(a, b, rtol, atol, options["equal_nan"])
    if bool(close.all()):
        return
    a, b, close = backend.to_host(a), backend.to_host(b), backend.to_host(close)
    if a.shape == ():
        report = _scalar_report(a.item(), b.item(), rtol, atol)
    else:
        report = _tensor_report(a, b, close, rtol, atol)
    raise _Failure(AssertionError, report, path)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promoted(first, second):
    """PyTorch's ``promote_types``: the higher category (bool < integer < float <
    complex) wins whatever its width (int64 and float16 meet at float16); within one
    category (and float with complex), the wider."""
    category = _CATEGORY[first.kind], _CATEGORY[second.kind]
    if category[0] != category[1] and min(category) < 2:
        return first if category[0] > category[1] else second
    return np.result_type(first, second)


def _isclose(a, b, rtol, atol, equal_nan):
    """PyTorch's ``isclose``: a == b, or (both NaN, with ``equal_nan``), or |a − b| finite
    and <= atol + rtol·|b|, computed in the inputs' dtype (bool and integers in the default
    float dtype)."""
    xp = backend.xp_of(a)
    close = a == b
    inexact = a.dtype.kind in "fc"
    if equal_nan and inexact:
        close = close | (xp.isnan(a) & xp.isnan(b))
    if rtol == 0 and atol == 0:
        return close
    if not inexact:
        a, b = a.astype(backend.default_float), b.astype(backend.default_float)
    with np.errstate(invalid="ignore", over="ignore"):  # (inf − inf is NaN: not close)
        error = xp.abs(a - b)
        return close | (xp.isfinite(error) & (error <= atol + xp.abs(rtol * b)))


def _report(identifier, extra, rtol, atol, absolute, relative, where=None) -> str:
    """PyTorch's mismatch message: a header, ``extra``, and the absolute and relative
    differences (the greatest and their index ``where`` for tensors) with the allowed ones
    (left out when the comparison is exact)."""
    exact = rtol == 0 and atol == 0
    lines = [f"{identifier} are not {'equal' if exact else 'close'}!", "", extra]
    for kind, difference, tolerance in (("absolute", absolute, atol),
                                        ("relative", relative, rtol)):
        line = (f"{kind.title()} difference: {difference}" if where is None else
                f"Greatest {kind} difference: {difference} at index {where[kind]}")
        lines.append(line if exact else f"{line} (up to {tolerance} allowed)")
    return "\n".join(lines)


def _scalar_report(actual, expected, rtol, atol) -> str:
    difference = abs(actual - expected)
    relative = float("inf") if expected == 0 else difference / abs(expected)
    return _report("Scalars", f"Expected {expected} but got {actual}.", rtol, atol,
                   difference, relative)


def _tensor_report(a, b, close, rtol, atol) -> str:
    """The report for tensors (host arrays): the count of mismatched elements, and the
    greatest absolute and relative difference over them (NaN first, as ``torch.max``),
    with the index where each is; integers are compared as int64, their relative
    differences in the default float dtype, as PyTorch's."""
    mismatched = int((~close).sum())
    extra = (f"Mismatched elements: {mismatched} / {close.size} "
             f"({mismatched / close.size:.1%})")
    a, b, matched = a.ravel(), b.ravel(), close.ravel()
    if a.dtype.kind not in "fc":
        a, b = a.astype(np.int64), b.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        absolute = np.abs(a - b)
        absolute[matched] = 0
        scale = np.abs(b)
        if a.dtype.kind not in "fc":
            absolute_float = absolute.astype(backend.default_float)
            relative = absolute_float / scale.astype(backend.default_float)
        else:
            relative = absolute / scale
        relative[matched] = 0
    where, values = {}, {}
    for kind, differences in (("absolute", absolute), ("relative", relative)):
        flat = int(np.argmax(differences))  # (the first NaN if any, as torch.max)
        values[kind] = differences[flat].item()
        where[kind] = tuple(int(i) for i in np.unravel_index(flat, close.shape))
    return _report("Tensor-likes", extra, rtol, atol, values["absolute"], values["relative"],
                   where)


def assert_close(actual, expected, *, allow_subclasses: bool = True, rtol=None, atol=None,
                 equal_nan: bool = False, check_device: bool = True, check_dtype: bool = True,
                 check_layout: bool = True, check_stride: bool = False, msg=None) -> None:
    """Raise unless ``actual`` and ``expected`` are close, as ``torch.testing.assert_close``:
    |actual − expected| <= atol + rtol·|expected| elementwise (infinities close only to
    themselves, NaN only to NaN and only with ``equal_nan``), and the same shape, device
    (``check_device``), dtype (``check_dtype``) and stride (``check_stride``).

    Inputs: Tensors, NumPy arrays, Python numbers and bools, None, and sequences and
    mappings of them, nested; a Tensor meets a Tensor, an array an array (a Tensor and an
    array: TypeError). ``rtol`` and ``atol`` are given together or not at all; the
    defaults by dtype (the looser of the two dtypes):

    float16 1e-3 / 1e-5, float32 1.3e-6 / 1e-5, float64 (and Python floats) 1e-7 / 1e-7,
    integers and bool 0 / 0.

    Without ``check_device`` the values are compared on the host, without ``check_dtype``
    in the promoted dtype. ``check_layout`` has nothing to check here (every tensor is
    dense). ``msg``: a string replaces the message of a failed comparison, a callable
    gets the generated message and returns the one to raise.

    Raises ``AssertionError`` for a mismatch (structure, an attribute or the values, with
    the index of the greatest differences), ``TypeError`` for inputs that cannot be
    compared, ``ValueError`` for a lone ``rtol`` or ``atol``."""
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                   check_device=check_device, check_dtype=check_dtype,
                   check_layout=check_layout, check_stride=check_stride)
    try:
        pairs = _pairs(actual, expected, (), options)
    except _Failure as failure:  # (a structure error is raised as it is: no msg)
        raise failure.error() from None
    for compare in pairs:
        try:
            compare()
        except _Failure as failure:
            raise failure.error(msg) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan: bool = True,
                    msg: str = "") -> None:
    """PyTorch's deprecated ``torch.testing.assert_allclose`` (warns ``FutureWarning``):
    ``assert_close`` with NaN == NaN, dtypes promoted instead of checked, inputs that are
    not Tensors made Tensors (``expected`` in ``actual``'s dtype), and the older default
    tolerances: float16 1e-3 / 1e-3, float32 1e-4 / 1e-5, float64 1e-5 / 1e-8 (rtol /
    atol), others 0."""
    warnings.warn("`tg.testing.assert_allclose()` is deprecated (as PyTorch's since 1.12): "
                  "use `tg.testing.assert_close()` instead", FutureWarning, stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        older = {np.dtype("float16"): (1e-3, 1e-3), np.dtype("float32"): (1e-4, 1e-5),
                 np.dtype("float64"): (1e-5, 1e-8)}
        rtols, atols = zip(*(older.get(x.dtype, (0.0, 0.0)) for x in (actual, expected)))
        rtol, atol = max(rtols), max(atols)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True,
                 check_dtype=False, check_stride=False, msg=msg or None)


_BOOL_AND_INTEGERS = tuple(np.dtype(name) for name in
                           ("bool", "uint8", "int8", "int16", "int32", "int64"))
_FLOATS = tuple(np.dtype(name) for name in ("float16", "float32", "float64"))


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad: bool = False,
                noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format=None) -> Tensor:
    """A tensor of ``shape`` (sizes, or one sequence of them) drawn uniformly from [low,
    high), as ``torch.testing.make_tensor``. Defaults of the range: floats [−9, 9),
    signed integers [−9, 10), uint8 [0, 10), bool [0, 2) (False or True); a bound
    outside the dtype's finite values is clamped to them, integer bounds are rounded up.

    ``noncontiguous``: the values are a strided view (every other element of a buffer
    twice as long in the last dim: ``stride()`` and ``is_contiguous()`` show it),
    ignored with fewer than two elements. ``exclude_zero``: zeros
    are replaced by 1 (integers, bool) or the dtype's smallest normal number (``tiny``).
    ``memory_format`` is accepted (every tensor here is laid out row-major).

    Raises ``ValueError`` for low >= high or a NaN bound (low == high for floats only
    warns, and gives that value), a range outside the dtype's, ``requires_grad`` with a
    bool or integer dtype, or ``noncontiguous`` with ``memory_format``; ``TypeError`` for
    a dtype it cannot draw."""
    dtype, device = backend.as_dtype(dtype), backend.check_device(device)
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = range_rules.factory_shape(tuple(shape), None, "make_tensor")  # (ints >= 0)
    if noncontiguous and memory_format is not None:
        raise ValueError("make_tensor: the parameters `noncontiguous` and `memory_format` are "
                         f"mutually exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    if requires_grad and dtype in _BOOL_AND_INTEGERS:
        raise ValueError("make_tensor: `requires_grad=True` is not supported for boolean and "
                         f"integral dtypes, but got dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:  # twice the last dim, so that every other element differs from its view
        shape = (*shape[:-1], 2 * shape[-1])
    if dtype in _BOOL_AND_INTEGERS:
        info = np.iinfo(dtype) if dtype.kind != "b" else None
        # (randint's high is exclusive; int64's max + 1 does not fit, so int64 stops before it)
        lowest, highest = (0, 2) if info is None else (
            int(info.min), int(info.max) + (dtype != np.int64))
        low, high = _range(low, high, dtype, lowest, highest,
                           (0, 2) if info is None else (-9, 10))
        array = backend.random_integers(low, high, shape, device).astype(dtype)
    elif dtype in _FLOATS:
        info = np.finfo(dtype)
        low, high = _range(low, high, dtype, float(info.min), float(info.max), (-9, 9))
        if high - low >= float(info.max):  # the width overflows: draw half of it, double it
            array = backend.random_uniform(shape, dtype, device, low / 2, high / 2) * 2
        else:
            array = backend.random_uniform(shape, dtype, device, low, high)
    else:
        raise TypeError(f"make_tensor: the requested dtype '{dtype}' is not supported (bool, "
                        "uint8, int8, int16, int32, int64, float16, float32 or float64)")
    if noncontiguous:
        array = array[..., 1::2]  # (offset by one, to catch offset errors too)
    if exclude_zero:
        array[array == 0] = 1 if dtype in _BOOL_AND_INTEGERS else np.finfo(dtype).tiny
    return Tensor._make(array).requires_grad_(bool(requires_grad) and dtype in _FLOATS)


def _range(low, high, dtype, lowest, highest, defaults) -> tuple:
    """PyTorch's checks and clamping of ``make_tensor``'s [low, high): a NaN bound, low >=
    high (low == high warns for floats) and a range outside [lowest, highest) raise;
    bounds are clamped to that, and rounded up for bool and integers."""
    low = defaults[0] if low is None else low
    high = defaults[1] if high is None else high
    if any(isinstance(value, float) and math.isnan(value) for value in (low, high)):
        raise ValueError(f"make_tensor: `low` and `high` cannot be NaN, but got low={low} and "
                         f"high={high}")
    if low == high and dtype in _FLOATS:
        warnings.warn("make_tensor: low == high gives a tensor filled with that value "
                      "(PyTorch deprecates it: use tg.full(...))", FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"make_tensor: `low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(f"make_tensor: the value interval specified by `low` and `high` is "
                         f"[{low}, {high}), but {dtype} only supports [{lowest}, {highest})")
    low, high = (min(max(value, lowest), highest) for value in (low, high))
    if dtype in _BOOL_AND_INTEGERS:
        return math.ceil(low), math.ceil(high)
    return low, high
