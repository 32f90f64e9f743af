"""The one place that knows about NumPy and CuPy (with its helpers: ``strict.py``, the
test device, ``randomness.py``, the seeding and the random draws, and ``devices.py``,
device names as PyTorch's device objects).

Every other module asks this one for the array module of a device (``xp``) and
for transfers between devices. Three devices exist:

* ``'cpu'``    NumPy arrays.
* ``'cuda'``   CuPy arrays on the GPU (needs the ``gpu`` extra and a GPU).
* ``'strict'`` a test-only device: NumPy arrays wrapped so that, like CuPy,
  they refuse every implicit conversion to a host array. Running the test suite
  on it catches code that would break on a GPU, on machines that have none.

Arrays never change device implicitly: ``to_device`` is the only way across.
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt.backend import strict
from tinygrad_opt.backend.devices import DEVICES, device  # noqa: F401  (tg.device)

try:  # CuPy is optional: the ``gpu`` extra.
    import cupy
except Exception:  # ImportError, or a CuPy that cannot find its CUDA libraries
    cupy = None

_cuda_checked = None  # cached answer of cuda_available()


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    global _cuda_checked
    if _cuda_checked is None:
        try:
            _cuda_checked = cupy is not None and cupy.cuda.runtime.getDeviceCount() > 0
        except Exception:
            _cuda_checked = False
    return _cuda_checked


default_device = "cpu"  # where factories and host data go when no device is named


def check_device(device) -> str:
    """Normalise a device name (``None``: the default, ``'cpu'`` unless
    ``tg.set_default_device`` changed it) or raise a clear error."""
    if device is None:
        return default_device
    name, _, index = str(device).partition(":")  # 'cuda:0', 'cpu:0' as PyTorch users write
    if name == "cuda":
        if not cuda_available():
            raise RuntimeError(
                f"device '{device}' was asked for, but CuPy or a GPU is not available "
                "(install the 'gpu' extra on a machine with an NVIDIA GPU); use device='cpu'")
        return "cuda"
    if name not in DEVICES or index not in ("", "0"):
        raise ValueError(f"unknown device '{device}': expected one of 'cpu', 'cuda'")
    return name


def get_xp(device: str):
    """The array module of a device: numpy, cupy, or the strict test module."""
    if device == "cpu":
        return np
    if device == "cuda":
        return cupy
    if device == "strict":
        return strict
    raise ValueError(f"unknown device '{device}'")


_device_of_type = {np.ndarray: device("cpu"), strict.StrictArray: device("strict")}
if cupy is not None:
    _device_of_type[cupy.ndarray] = device("cuda")
ARRAY_TYPES = frozenset(_device_of_type)  # the array classes of every device
_BASE_TYPES = tuple(ARRAY_TYPES - {strict.StrictArray})  # (a strict array wraps a NumPy one)


def device_of(array) -> str:
    """The device an array lives on."""
    return _device_of_type[type(array)]


def xp_of(array):
    """The array module that owns ``array``."""
    return get_xp(_device_of_type[type(array)])


def is_array(obj) -> bool:
    """True for an array of any device (not for Python or NumPy scalars)."""
    return type(obj) in _device_of_type


def as_array(value):
    """Make an op's result an array: NumPy turns 0-d results into scalars."""
    if type(value) in _device_of_type:
        return value
    return np.asarray(value)


def memory_owner(array):
    """The array whose memory ``array`` looks into: itself, or the base of a view (the last
    array down the bases: memory from elsewhere, such as a memmap's file, ends the walk)."""
    if type(array) is strict.StrictArray:
        array = array._array
    while isinstance(array.base, _BASE_TYPES):
        array = array.base
    return array


def check_writable(array, op: str) -> None:
    """Refuse a write into a view whose elements share memory (a stride of 0 along a dim of
    size > 1, as ``expand`` makes), as PyTorch does: one element would be written for many.
    NumPy marks such views read-only, but CuPy's are writable, so the check is ours."""
    if array.size > 1 and any(step == 0 and size > 1  # (an empty array shares nothing)
                              for step, size in zip(array.strides, array.shape)):
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the "
                           f"written-to tensor (shape {tuple(array.shape)}) refers to a single "
                           "memory location, as in an expand()ed tensor; clone() it first")


def to_host(array) -> np.ndarray:
    """An explicit copy to a host NumPy array (the only way off a device)."""
    device = _device_of_type.get(type(array))
    if device == "cpu":
        return array
    if device == "strict":
        return strict.asnumpy(array)
    if device == "cuda":
        return cupy.asnumpy(array)
    return np.asarray(array)  # Python data, lists, NumPy scalars


def to_device(array, device: str):
    """An explicit transfer of ``array`` (any device, or host data) to ``device``."""
    if _device_of_type.get(type(array)) == device:
        return array
    host = to_host(array)
    if device == "cpu":
        return host
    if device == "strict":
        return strict.asarray(host)
    if device == "cuda":
        return cupy.asarray(host)
    raise ValueError(f"unknown device '{device}'")


def scatter_add(target, index, values) -> None:
    """``target[index] += values`` where repeated indices all accumulate."""
    get_xp(device_of(target)).add.at(target, index, values)  # (cupy.add.at since CuPy 13)


# --- randomness (backend/randomness.py: seeding, and the draws of every device) ---
from tinygrad_opt.backend.randomness import (host_rng, initial_seed, manual_seed,  # noqa: E402
                                             random_integers, random_normal, random_uniform)


# dtypes, so that other modules can name them without importing NumPy
float32 = np.dtype("float32")
float64 = np.dtype("float64")
float16 = np.dtype("float16")
int64 = np.dtype("int64")
int32 = np.dtype("int32")
bool_ = np.dtype("bool")
default_float = float32  # of Python floats, factories, int -> float: tg.set_default_dtype


def as_dtype(dtype) -> np.dtype:
    """Normalise a dtype spelling ('float32', np.float32, tg.float32) to np.dtype."""
    try:
        return np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"not a dtype: {dtype!r}") from error


def is_floating(dtype) -> bool:
    return dtype.kind == "f"  # (np.issubdtype is ten times slower)


def result_dtype(*dtypes) -> np.dtype:
    return np.result_type(*dtypes)


def broadcast_shapes(*shapes) -> tuple:
    """The shape NumPy broadcasting gives; ValueError if the shapes do not broadcast.

    Pure Python: for the two short shapes of a binary op this is several times
    faster than np.broadcast_shapes."""
    result = []
    for sizes in zip(*(reversed((1,) * (max(map(len, shapes)) - len(s)) + tuple(s))
                       for s in shapes)):
        grown = min(sizes) if 0 in sizes else max(sizes)  # 1 stretches to any size, even 0
        if any(size != grown and size != 1 for size in sizes):
            raise ValueError(f"shapes {shapes} cannot be broadcast together")
        result.append(grown)
    return tuple(reversed(result))


def is_host_data(obj) -> bool:
    """Python scalars, lists and NumPy arrays/scalars: data that lives on the host."""
    return isinstance(obj, (int, float, bool, list, tuple, np.ndarray, np.generic))


np_types = (np.ndarray, np.generic)  # host data whose dtype is kept as it is
