"""PyTorch's legacy tensor types: ``tg.FloatTensor``, ``tg.LongTensor``, ... (and
``tg.cuda.FloatTensor``, ...), one type per dtype and device, kept for old code.

    tg.LongTensor([1, 2])            # the values, as int64 (a sequence or an array)
    tg.FloatTensor(2, 3)             # a (2, 3) tensor of zeros
    isinstance(x, tg.FloatTensor)    # True when x is float32 on the CPU
    x.type(tg.DoubleTensor)          # x as float64 on the CPU ('torch.DoubleTensor' too)

A type's call follows PyTorch's legacy constructor: no argument is an empty (0,)
tensor; ints are sizes (PyTorch's memory is uninitialised, here it holds zeros); one
sequence (a list, a tuple, an array) is values, converted to the type's dtype (an array
already of that dtype is shared, as PyTorch); one tensor of exactly that dtype and device
is an alias of it (the same memory, in the graph); anything else raises. ``device=`` may
only name the type's own device. The types are no Tensor subclasses: ``isinstance``
asks the tensor's dtype and device. ``set_default_tensor_type`` (deprecated in PyTorch
2.1) is ``set_default_dtype`` plus ``set_default_device``.

A shape is a ``tg.Size`` (size.py), as PyTorch's ``torch.Size``: ``tg.FloatTensor(x.shape)``
and ``tg.FloatTensor(*x.shape)`` are a tensor of that shape, a plain tuple
``tg.FloatTensor((2, 3))`` the values.
"""

import numbers
import warnings

from tinygrad_opt import backend
from tinygrad_opt.factories import zeros
from tinygrad_opt.functions import as_tensor
from tinygrad_opt.ops.everyday import TYPE_NAMES, parse_type_name
from tinygrad_opt.size import Size
from tinygrad_opt.tensor import Tensor


class LegacyTensorType(type):
    """The type of ``tg.FloatTensor`` and its siblings: ``isinstance`` compares dtype
    and device, a call builds a tensor (see the module's docstring)."""

    def __instancecheck__(cls, instance) -> bool:
        return (isinstance(instance, Tensor) and instance.dtype == cls.dtype
                and instance.device == cls.device)

    def __call__(cls, *args, **kwargs):
        return _construct(cls, args, kwargs)

    def __repr__(cls) -> str:
        return f"<class '{cls.__module__}.{cls.__name__}'>"


def legacy_types(device: str, module: str, unavailable=None) -> dict:
    """The nine legacy types of ``device``, by name, listed in ``module``;
    ``unavailable(name)``, when given, is the error of a call while the device is not
    there (tg.cuda's, for its types)."""
    types = {}
    for dtype_name, name in TYPE_NAMES.items():
        dtype = backend.as_dtype(dtype_name)
        doc = (f"{module}.{name}: a {dtype_name} tensor on '{device}', PyTorch's legacy "
               "constructor; isinstance(x, it) when x is one (tinygrad_opt.legacy_types)")
        types[name] = LegacyTensorType(name, (), {
            "__module__": module, "__qualname__": name, "__doc__": doc, "dtype": dtype,
            "device": device, "is_cuda": device == "cuda", "is_sparse": False,
            "_unavailable": staticmethod(unavailable) if unavailable else None})
    return types


def _is_size(value) -> bool:
    """An int that can be a size (bools cannot, as PyTorch's)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _construct(cls, args: tuple, kwargs: dict):
    """``cls(*args, **kwargs)``: PyTorch's legacy constructor (see the module's docstring)."""
    name = f"{cls.__module__}.{cls.__name__}"
    unknown = set(kwargs) - {"device"}
    if unknown:
        raise TypeError(f"{name}: unexpected keyword argument {sorted(unknown)[0]!r} (a "
                        "legacy constructor takes only device=; use tg.tensor(data, "
                        "dtype=..., device=...) instead)")
    device = kwargs.get("device")
    if device is not None and str(device).partition(":")[0] != cls.device:
        raise RuntimeError(f"{name}: legacy constructor expects device type: {cls.device} "
                           f"but device type: {device} was passed")
    if cls._unavailable and not backend.cuda_available():
        raise cls._unavailable(cls.__name__)
    if not args:
        return zeros(0, dtype=cls.dtype, device=cls.device)
    if len(args) == 1 and isinstance(args[0], Size):  # tg.FloatTensor(x.shape): a shape
        args = tuple(args[0])
    if len(args) == 1 and isinstance(args[0], Tensor):
        other = args[0]
        if device is not None:
            raise RuntimeError(f"{name}: the form {cls.__name__}(tensor, device=device) is "
                               "not supported; use tg.tensor(...) or tg.as_tensor(...)")
        if other.dtype != cls.dtype or other.device != cls.device:
            raise TypeError(f"{name}: expected a tensor of dtype {cls.dtype.name} on "
                            f"'{cls.device}' (got {other.dtype.name} on '{other.device}'); "
                            f"convert it with .to(...) or .type({name})")
        return other.view(other.shape)  # PyTorch's alias: the same memory, in the graph
    if all(_is_size(size) for size in args):
        sizes = tuple(int(size) for size in args)
        if min(sizes) < 0:
            raise RuntimeError(f"{name}: trying to create a tensor with negative dimension "
                               f"{min(sizes)}: {list(sizes)}")
        return zeros(sizes, dtype=cls.dtype, device=cls.device)
    if len(args) > 1:
        raise TypeError(f"{name}: invalid arguments {args!r}: expected sizes (ints), one "
                        "sequence of values or one tensor")
    data = args[0]
    if isinstance(data, dict) or not hasattr(type(data), "__getitem__"):
        raise TypeError(f"{name}: data must be a sequence (got {type(data).__name__})")
    return as_tensor(data, dtype=cls.dtype, device=cls.device)


def set_default_tensor_type(t) -> None:
    """``tg.set_default_tensor_type(tg.DoubleTensor)`` (or a name such as
    'torch.DoubleTensor', 'torch.cuda.FloatTensor'), as PyTorch's, deprecated there since
    2.1 (a warning says so): the type's dtype becomes the default dtype and its device the
    default device, as ``set_default_dtype`` plus ``set_default_device``. Only floating
    types: TypeError for others, RuntimeError for a cuda type without a GPU."""
    warnings.warn("tg.set_default_tensor_type() is deprecated as in PyTorch 2.1: use "
                  "tg.set_default_dtype() and tg.set_default_device() instead",
                  UserWarning, stacklevel=2)
    if isinstance(t, LegacyTensorType):
        device, dtype = t.device, t.dtype
    elif isinstance(t, str) and t not in ("torch.Tensor", "tinygrad_opt.Tensor"):
        try:
            device, dtype = parse_type_name(t, "set_default_tensor_type")
        except ValueError as error:
            raise TypeError(str(error)) from None
    else:  # (tg.Tensor is no legacy type, in PyTorch either)
        raise TypeError("set_default_tensor_type: invalid type object: only floating-point "
                        "types are supported as the default type (tg.FloatTensor, "
                        f"tg.DoubleTensor, tg.HalfTensor or their names), got {t!r}")
    if not backend.is_floating(dtype):
        raise TypeError(f"set_default_tensor_type: only floating-point types are supported "
                        f"as the default type, got {TYPE_NAMES[dtype.name]}")
    if isinstance(t, LegacyTensorType) and t._unavailable and not backend.cuda_available():
        raise t._unavailable(t.__name__)
    device = backend.check_device(device)  # (a GPU's name without a GPU raises here)
    backend.default_float, backend.default_device = dtype, device  # (tg.set_default_*)


globals().update(legacy_types("cpu", "tinygrad_opt"))
__all__ = [*TYPE_NAMES.values(), "set_default_tensor_type"]  # (tg.cuda reads the names)
