"""PyTorch's Tensor spellings that add no math: each one is a composition of core ops.

``Tensor`` inherits these methods from ``Conveniences``. They live outside the
reading path (docs/reading-order.md) on purpose: none has a backward of its own.
``x.eq(y)`` is ``x == y``, ``x.masked_fill(m, v)`` is ``where(m, v, x)``,
``x.gather(1, i)`` is an indexing, ``x.norm()`` is a square root of a sum, so each
gradient is the gradient of the core ops it calls, checked there. What can have no
gradient (comparisons, ``all``, ``isnan``, ``argsort``) returns a tensor that never
requires grad. The exceptions are ``cumsum``, ``cumprod`` and ``prod``, which only
hand over to ops/cumulative.py, where their ops and backwards are.
"""

from __future__ import annotations

import math
import numbers
from collections import namedtuple
from copy import deepcopy
from operator import methodcaller

from tinygrad_opt import backend
from tinygrad_opt.ops import elementwise, reduce, shape
from tinygrad_opt.ops.math_ops import MathMethods
from tinygrad_opt.ops.rearrange import RearrangeMethods, check_fits
from tinygrad_opt.ops.statistics import StatisticsMethods
from tinygrad_opt.ops.linalg_methods import LinalgMethods
from tinygrad_opt.ops.special import SpecialMethods
from tinygrad_opt.ops.everyday import EverydayMethods, positive, result_type
from tinygrad_opt.ops.surface_more import SurfaceMoreMethods
from tinygrad_opt.tensor_str import tensor_str

SortResult = namedtuple("SortResult", ["values", "indices"])
SortResult.__doc__ = "``(values, indices)``, as PyTorch's ``sort`` and ``topk`` return them."


def to_arguments(args: tuple, kwargs: dict, tensor_type) -> tuple:
    """``(device, dtype, copy)`` from PyTorch's spellings of ``Tensor.to``: ``to(device)``,
    ``to(dtype)``, ``to(device, dtype)``, ``to(other)`` (other's device and dtype), each
    followed by ``non_blocking`` and ``copy`` (positional bools or keywords), and the
    keywords ``device=``, ``dtype=``, ``memory_format=``. ``non_blocking`` and
    ``memory_format`` are accepted and change nothing (every copy here is blocking, every
    layout NumPy's). ``None`` means unchanged."""
    unknown = set(kwargs) - {"device", "dtype", "copy", "non_blocking", "memory_format"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(unknown)}")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    flags = [position for position, arg in enumerate(args) if isinstance(arg, bool)]
    leading = flags[0] if flags else len(args)  # (PyTorch's order: ..., non_blocking, copy)
    if leading > 2 or len(args) - leading > 2 or len(flags) != len(args) - leading:
        raise TypeError(f"to() takes a device and/or a dtype (or a tensor), then non_blocking "
                        f"and copy, got {len(args)} positional arguments {args!r}")
    copy = args[leading + 1] if len(args) - leading == 2 else kwargs.get("copy", False)
    args = args[:leading]
    for arg in args:
        if isinstance(arg, tensor_type):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, str):
            device = arg
        else:
            dtype = arg
    device = None if device is None else backend.check_device(device)
    dtype = None if dtype is None else backend.as_dtype(dtype)
    return device, dtype, bool(copy)


def _fresh(array):
    """A tensor of ``array`` that never requires grad (a comparison, an index)."""
    return elementwise.constant(array)


def write_back(x, function, *args, **kwargs):
    """PyTorch's in-place ops: ``x[...] = function(x.clone(), ...)``, then ``x`` itself.

    The write goes through ``Tensor.__setitem__``: recorded as an op when a gradient
    must flow (so x's gradient is the out-of-place one), a plain write otherwise; a
    leaf that requires grad refuses, as in PyTorch. ``function`` reads a clone
    because it may save its input for backward, and the write bumps x's version,
    which would make a saved x refuse to backward. (``F.relu(x, inplace=True)`` and
    the other ``inplace=`` options use this too.)
    """
    x[...] = function(x.clone(), *args, **kwargs)
    return x


def _in_place(name: str):
    """The method ``x.name_(...)``: ``x[...] = x.clone().name(...)``, as ``write_back``.
    As in PyTorch, the result must fit x's dtype: a float result refuses to go into an
    integer or bool tensor (``exp_`` of an int64 tensor, ``clamp_(0.5, 1.5)`` of one), and
    x's shape (an operand that would broadcast x larger refuses)."""

    def method(self, *args, **kwargs):
        result = getattr(self.clone(), name)(*args, **kwargs)
        if backend.is_floating(result.dtype) and not backend.is_floating(self.dtype):
            raise RuntimeError(f"{name}_: result type {result.dtype} can't be cast to the "
                               f"tensor's dtype {self.dtype}")
        check_fits(name + "_", result, self)  # (masked_fill_ with a larger mask, pow_, clamp_)
        self[...] = result  # as write_back: recorded when a gradient must flow
        return self

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = (f"``x = x.{name}(...)`` in place, as ``x[...] = x.{name}(...)`` (recorded "
                      "when a gradient must flow; a leaf that requires grad refuses).")
    return method


def check_in_place(name: str, x, other, true_division: bool = False) -> None:
    """The checks of ``x op= other`` before it writes: the result's dtype (``check_cast``)
    and x itself (``view_writes.check_write``: elements that share memory, a view made
    out of its tensor's graph)."""
    from tinygrad_opt.ops import view_writes  # (writes through views: they build on the ops)
    view_writes.check_write(x, name)
    check_cast(name, x, other, true_division)


def check_cast(name: str, x, other, true_division: bool = False) -> None:
    """As PyTorch, an arithmetic in-place op (``add_``, ``mul_``, ``div_``, ...) refuses a
    result ``x``'s dtype cannot hold without changing kind: a float one in an integer or
    bool tensor (``int64.add_(1.5)``; a true division is always float: ``int64.div_(2)``),
    an integer one in a bool tensor. Without the check an operand that requires grad
    would be silently truncated (the recorded write casts), and a plain one would fail
    inside NumPy with its own error. ``Tensor._in_place`` (``x += v``) checks it too."""
    result = result_type(x, shape.as_operand(other, x, name))  # (names a device mismatch)
    if true_division and not backend.is_floating(result):
        result = backend.default_float
    if ((backend.is_floating(result) and not backend.is_floating(x.dtype))
            or (x.dtype == backend.bool_ and result != backend.bool_)):
        raise RuntimeError(f"{name}: result type {result} can't be cast to the desired "
                           f"output type {x.dtype}")


def _scaled(input, other, alpha):
    """``alpha * other`` for ``add``/``sub``: PyTorch promotes input and other first, so a
    bool ``other`` takes input's dtype before the scaling (``add(int32, bool, alpha=2)`` is
    int32, where ``bool * 2`` alone would be int64)."""
    if getattr(other, "dtype", None) == backend.bool_ and input.dtype != backend.bool_:
        other = other.astype(input.dtype)
    return other * alpha


class Conveniences(MathMethods, RearrangeMethods, StatisticsMethods, LinalgMethods,
                   SpecialMethods, EverydayMethods, SurfaceMoreMethods):
    """The PyTorch spellings ``Tensor`` inherits; see the module docstring. More of them
    come from ops/math_ops.py, ops/rearrange.py and ops/statistics.py."""

    __slots__ = ()

    # --- Python's protocols ---
    def __pos__(self):
        """+x: x itself (``tg.positive``: a bool tensor is refused, as PyTorch's ``+``)."""
        return positive(self)

    def __len__(self) -> int:
        """The size of the first dim."""
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        """The rows, ``x[0]``, ``x[1]``, ... (views, as PyTorch's)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __contains__(self, element) -> bool:
        """``element in x``: ``(x == element).any()``, as PyTorch, for a number or a tensor
        (broadcast against x: ``row in matrix`` is True when any one entry matches).
        Without it Python would loop over the rows and ask ``bool`` of a whole row."""
        if not isinstance(element, (numbers.Number, Conveniences)):
            raise RuntimeError("Tensor.__contains__ only supports Tensor or scalar, but you "
                               f"passed in a {type(element)}")
        return bool((self == element).any().item())

    # --- copy.deepcopy, copy.copy and pickle: a new leaf, as PyTorch's ---
    def __deepcopy__(self, memo):
        """``copy.deepcopy``: a new leaf with its own copy of the values, of ``.grad`` and of
        a subclass's attributes, and this tensor's ``requires_grad``. As in PyTorch only
        graph leaves can be copied (a copy could not take the place of an op's output in
        its graph)."""
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol: deepcopy got a tensor made by "
                               f"{self.grad_fn.name} (copy its .detach() instead). In a "
                               "module, this may be the weight of nn.utils.weight_norm or "
                               "spectral_norm: their nn.utils.parametrizations versions copy")
        copied = object.__new__(type(self))
        memo[id(self)] = copied  # (before the grad: a cycle back to self finds the copy)
        attributes, slots = _leaf_state(self, keep_grad=True)
        data = slots.pop("data")
        attributes, slots = deepcopy((attributes, slots), memo)
        slots["data"] = _copied_memory(data, memo)
        slots["_versions"] = [0]  # its own memory, its own count of writes
        for name, value in slots.items():
            object.__setattr__(copied, name, value)
        if attributes:
            copied.__dict__.update(attributes)
        return copied

    def __getstate__(self):
        """What pickle and ``copy.copy`` keep, as PyTorch's ``__reduce_ex__``: the array (the
        same one for ``copy.copy``), ``requires_grad`` and a subclass's attributes, as a new
        leaf; the graph, ``.grad`` and hooks stay behind."""
        return _leaf_state(self, keep_grad=False)

    def tolist(self):
        """The values as nested Python lists (a Python number for a 0-d tensor)."""
        return self.data.tolist()

    # --- devices and dtypes ---
    def cpu(self):
        """``to('cpu')``: this tensor on the host (itself if already there)."""
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False, memory_format=None):
        """``to('cuda')``: this tensor on the GPU (itself if already there); raises without one.
        ``device`` may name it (``0``, ``'cuda'``, ``'cuda:0'``); ``non_blocking`` and
        ``memory_format`` (PyTorch's) change nothing here."""
        return self.to("cuda" if device is None or isinstance(device, int) else device)

    # (each conversion takes PyTorch's ``memory_format``, which changes nothing here: see
    # ``contiguous``)
    def float(self, memory_format=None):
        """``astype(tg.float32)``."""
        return self.astype(backend.float32)

    def double(self, memory_format=None):
        """``astype(tg.float64)``."""
        return self.astype(backend.float64)

    def half(self, memory_format=None):
        """``astype(tg.float16)``."""
        return self.astype(backend.float16)

    def long(self, memory_format=None):
        """``astype(tg.int64)``."""
        return self.astype(backend.int64)

    def int(self, memory_format=None):
        """``astype(tg.int32)``, as PyTorch's ``int()``."""
        return self.astype(backend.int32)

    def __repr__(self) -> str:
        """PyTorch's text: ``tensor([1.0000, 2.5000], dtype=float64, grad_fn=<Mul>)``,
        with the rules of tinygrad_opt/tensor_str.py (``tg.set_printoptions`` drives it)."""
        return tensor_str(self)

    def __float__(self):
        """``float(x)`` of a one-element tensor."""
        return float(self.item())

    def __int__(self):
        """``int(x)`` of a one-element tensor."""
        return int(self.item())

    def short(self, memory_format=None):
        """``astype(tg.int16)``."""
        return self.astype("int16")

    def char(self, memory_format=None):
        """``astype(tg.int8)``."""
        return self.astype("int8")

    def byte(self, memory_format=None):
        """``astype(tg.uint8)`` (values outside 0..255 wrap, as in PyTorch)."""
        return self.astype("uint8")

    def bool(self, memory_format=None):
        """``astype(tg.bool_)``: True where nonzero."""
        return self.astype(backend.bool_)

    def type_as(self, other):
        """This tensor as ``other``'s dtype."""
        return self.astype(other.dtype)

    # --- sizes and layout ---
    def size(self, dim=None):
        """The shape, a tuple, or the size of dim ``dim`` (``x.size(0)``)."""
        return self.shape if dim is None else self.shape[shape.normalize_dim(dim, self.ndim,
                                                                            "size")]

    def numel(self) -> int:
        """The number of elements (the product of the shape)."""
        return self.data.size

    def dim(self) -> int:
        """The number of dims, as ``ndim``."""
        return self.ndim

    def contiguous(self, memory_format=None):
        """Itself when its memory is in row-major order (``is_contiguous()``), else a
        row-major copy in the graph (``clone``), as PyTorch's: after it any ``view`` works
        (``x.permute(0, 2, 1).contiguous().view(n, -1)``). ``memory_format`` changes
        nothing (every copy here is row-major)."""
        return self if self.is_contiguous() else self.clone()

    def t(self):
        """The transpose of a matrix; a 0-d or 1-d tensor is returned as it is (as PyTorch)."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with at most 2 dims, got shape {self.shape}: "
                             "use transpose(dim0, dim1) or permute")
        return self if self.ndim < 2 else shape.transpose(self, 0, 1)

    def view_as(self, other):
        """``reshape(other.shape)``."""
        return self.reshape(other.shape)

    def reshape_as(self, other):
        """``reshape(other.shape)``."""
        return self.reshape(other.shape)

    def expand_as(self, other):
        """``expand(other.shape)``: broadcast to ``other``'s shape."""
        return self.expand(*other.shape)

    # --- arithmetic under PyTorch's method names ---
    def add(self, other, alpha=1):
        """``self + alpha * other``."""
        return self + (other if alpha == 1 else _scaled(self, other, alpha))

    def sub(self, other, alpha=1):
        """``self - alpha * other``."""
        return self - (other if alpha == 1 else _scaled(self, other, alpha))

    def mul(self, other):
        """``self * other``."""
        return self * other

    def div(self, other, *, rounding_mode=None):
        """``self / other``: true division, or rounded with ``rounding_mode`` 'trunc' or
        'floor' (``divide`` in ops/everyday.py)."""
        if rounding_mode is None:
            return self / other
        return self.divide(other, rounding_mode=rounding_mode)

    def pow(self, exponent):
        """``self ** exponent``."""
        return self ** exponent

    def neg(self):
        """``-self``."""
        return -self

    def square(self):
        """``self * self``: the gradient is ``2 x``."""
        return self * self

    def add_(self, other, alpha=1):
        """``x += alpha * other`` in place (the result must fit x's dtype: ``check_cast``)."""
        other = other if alpha == 1 else other * alpha
        return self._in_place("__iadd__", other, "add_")  # (x += other, checked there)

    def sub_(self, other, alpha=1):
        """``x -= alpha * other`` in place (the result must fit x's dtype: ``check_cast``)."""
        other = other if alpha == 1 else other * alpha
        return self._in_place("__isub__", other, "sub_")  # (x -= other, checked there)

    def mul_(self, other):
        """``x *= other`` in place (the result must fit x's dtype: ``check_cast``)."""
        return self._in_place("__imul__", other, "mul_")  # (x *= other, checked there)

    def div_(self, other, *, rounding_mode=None):
        """``x /= other`` in place (``rounding_mode`` as ``div``). The result must fit x's
        dtype (``check_cast``): a true division is a float one, so an integer x refuses."""
        if rounding_mode is None:
            return self._in_place("__itruediv__", other, "div_")  # (x /= other, checked there)
        check_cast("div_", self, other)
        return write_back(self, methodcaller("div", other, rounding_mode=rounding_mode))

    # --- comparisons and logic (no gradient) ---
    def eq(self, other):
        """``self == other``, elementwise (a bool tensor)."""
        return self == other

    def ne(self, other):
        """``self != other``, elementwise (a bool tensor)."""
        return self != other

    def lt(self, other):
        """``self < other``, elementwise (a bool tensor)."""
        return self < other

    def le(self, other):
        """``self <= other``, elementwise (a bool tensor)."""
        return self <= other

    def gt(self, other):
        """``self > other``, elementwise (a bool tensor)."""
        return self > other

    def ge(self, other):
        """``self >= other``, elementwise (a bool tensor)."""
        return self >= other

    def logical_not(self):
        """True where this tensor is zero (False)."""
        return _fresh(self.data == 0)

    def logical_and(self, other):
        """True where both are nonzero."""
        return self.bool() & shape.as_operand(other, self, "logical_and").bool()

    def logical_or(self, other):
        """True where either is nonzero."""
        return self.bool() | shape.as_operand(other, self, "logical_or").bool()

    def all(self, dim=None, keepdim=False):
        """True where every element (over ``dim``, or all of them) is nonzero. bool, except
        for a uint8 tensor: uint8 0/1, as PyTorch's documentation says."""
        return _truth(self, self.data.all(axis=_axes(self, dim), keepdims=keepdim))

    def any(self, dim=None, keepdim=False):
        """True where some element (over ``dim``, or all of them) is nonzero (uint8 as ``all``)."""
        return _truth(self, self.data.any(axis=_axes(self, dim), keepdims=keepdim))

    def isnan(self):
        """True where the value is NaN."""
        return _fresh(backend.xp_of(self.data).isnan(self.data))

    def isinf(self):
        """True where the value is +inf or -inf."""
        return _fresh(backend.xp_of(self.data).isinf(self.data))

    def isfinite(self):
        """True where the value is neither inf nor NaN."""
        return _fresh(backend.xp_of(self.data).isfinite(self.data))

    # --- selection ---
    def masked_fill(self, mask, value):
        """``value`` where ``mask`` (a bool tensor) is True, else this tensor:
        ``where(mask, value, self)``, in this tensor's dtype. As PyTorch, the mask and this
        tensor broadcast together (the result takes the shape of both; ``masked_fill_``
        needs the mask to fit this shape) and a tensor ``value`` must be 0-d. A masked-off
        element's gradient is exactly 0; a tensor ``value`` gets the gradient of the filled
        places."""
        if getattr(mask, "dtype", None) != backend.bool_:
            raise TypeError(f"masked_fill: the mask must be a bool tensor, got dtype "
                            f"{getattr(mask, 'dtype', type(mask).__name__)}")
        if getattr(value, "ndim", 0) != 0:
            raise ValueError(f"masked_fill: a tensor value must be 0-d, got shape "
                             f"{tuple(value.shape)}")
        try:
            backend.broadcast_shapes(mask.shape, self.shape)
        except ValueError:
            raise ValueError(f"masked_fill: the mask of shape {mask.shape} does not broadcast "
                             f"with the tensor's shape {self.shape}") from None
        filled = elementwise.where(mask, value, self)
        return filled if filled.dtype == self.dtype else filled.astype(self.dtype)

    def where(self, condition, other):
        """``where(condition, self, other)``, as PyTorch's method."""
        return elementwise.where(condition, self, other)

    def gather(self, dim: int, index, *, sparse_grad: bool = False):
        """``out[i][j][k] = self[index[i][j][k]][j][k]`` for ``dim=0`` (and so on): pick along
        ``dim`` by ``index``, an int64 (or, as PyTorch 2.8, int32) tensor with as many dims as
        this one and no larger along the other dims. An indexing, so the gradient is a
        scatter-add into the picks (a dense array: PyTorch's ``sparse_grad=True`` gives the
        same values, stored sparse). As PyTorch's: an empty index, of any rank and dtype,
        gives an empty result of its shape, and a 0-d tensor counts as a 1-D one of one
        element (a 0-d tensor meets a 0-d or 1-D index, a 1-D tensor a 0-d one)."""
        index_data = getattr(index, "data", None)
        empty = index_data is not None and index.numel() == 0
        if index_data is None or (index.dtype.kind not in "iu" and not empty):
            raise TypeError(f"gather: index must be an integer tensor, got "
                            f"{getattr(index, 'dtype', type(index).__name__)}")
        if not empty and index.dtype not in (backend.int32, backend.int64):  # (uint8: a mask)
            raise TypeError(f"gather: index must be an int32 or int64 tensor, got {index.dtype}")
        shape.same_device("gather", self, index)
        dim = shape.normalize_dim(dim, self.ndim, "gather")
        if empty:  # (an empty pick, so that the result is still in self's graph)
            nothing = backend.xp_of(self.data).zeros(0, dtype=backend.int64)
            return self.reshape(-1)[nothing].reshape(index.shape)
        if max(self.ndim, index.ndim) == 1 and min(self.ndim, index.ndim) == 0:
            return self.reshape(-1).gather(0, index.reshape(-1)).reshape(index.shape)
        if index.ndim != self.ndim:
            raise ValueError(f"gather: index has {index.ndim} dims, the tensor {self.ndim} "
                             f"(shapes {index.shape} and {self.shape})")
        if any(i > s for d, (i, s) in enumerate(zip(index.shape, self.shape)) if d != dim):
            raise ValueError(f"gather: index of shape {index.shape} is larger than the tensor "
                             f"of shape {self.shape} outside dim {dim}")
        size = self.shape[dim] if self.ndim else 1
        if index.numel():
            low, high = index_data.min().item(), index_data.max().item()  # (host copies)
            if low < 0 or high >= size:
                raise IndexError(f"gather: index out of range: index {low if low < 0 else high} "
                                 f"for dim {dim} of size {size} (shape {self.shape}): indices "
                                 f"must lie in [0, {size})")
        xp = backend.xp_of(self.data)
        grids = xp.ix_(*(xp.arange(size) for size in index.shape)) if self.ndim else ()
        return self[tuple(index_data if d == dim else grid for d, grid in enumerate(grids))]

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """The indices that sort this tensor along ``dim`` (int64, no gradient). The sort is
        always stable, equal elements keep their order (PyTorch's ``stable=True``; with
        ``stable=False`` it leaves their order open), and NaN counts as the largest value
        (last ascending, first descending), as in PyTorch."""
        dim = shape.normalize_dim(dim, max(self.ndim, 1), "argsort")
        if self.ndim == 0:
            return _fresh(backend.xp_of(self.data).zeros((), dtype=backend.int64))
        if not descending:
            return _fresh(self.data.argsort(axis=dim, kind="stable").astype(backend.int64))
        # Descending without negating (which breaks bools, unsigned ints, the lowest int and
        # NaN): sort the reversed data ascending, stably, and read that order backwards. The
        # largest come first, equal elements in their original order; position k of the
        # reversed data is position n − 1 − k of the data.
        reverse = (slice(None),) * dim + (slice(None, None, -1),)
        order = self.data[reverse].argsort(axis=dim, kind="stable")[reverse]
        return _fresh((self.shape[dim] - 1 - order).astype(backend.int64))

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> SortResult:
        """``(values, indices)`` sorted along ``dim`` (stably, NaN largest: see ``argsort``);
        values is ``gather(dim, indices)``, so its gradient goes back to the places the
        values came from."""
        indices = self.argsort(dim, descending, stable)
        return SortResult(self.gather(dim, indices) if self.ndim else self, indices)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``, in order
        (also with ``sorted=False``); NaN counts as the largest value, as in PyTorch."""
        if self.ndim == 0:  # one element: as a 1-element vector, and back to 0-d
            values, indices = self.reshape(1).topk(k, shape.normalize_dim(dim, 1, "topk"),
                                                   largest)
            return SortResult(*(t.reshape(()) if k == 1 else t for t in (values, indices)))
        dim = shape.normalize_dim(dim, self.ndim, "topk")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= self.shape[dim]:
            raise ValueError(f"topk: k={k!r} is out of range for dim {dim} of size "
                             f"{self.shape[dim]} (shape {self.shape})")
        order = self.argsort(dim, descending=largest)
        indices = _fresh(order.data[(slice(None),) * dim + (slice(0, k),)])
        return SortResult(self.gather(dim, indices), indices)

    def copy(self):
        """A detached copy with its own memory (NumPy's name; ``detach().clone()``)."""
        return type(self)._make(self.data.copy(), False)

    def broadcast_to(self, size):
        """This tensor broadcast to ``size`` (NumPy's rules; −1 keeps a size, as PyTorch's,
        which is ``expand``); the gradient is summed back."""
        return shape.expand(self, size)

    def split(self, split_size_or_sections, dim=0):
        """A tuple of pieces along ``dim``: all of one size, an int (the last may be shorter), or
        of the listed sizes, which must be >= 0 (as PyTorch) and add up to the dim's size."""
        if not isinstance(split_size_or_sections, int) and \
                any(size < 0 for size in split_size_or_sections):
            raise ValueError(f"split: sizes must be non-negative, got "
                             f"{list(split_size_or_sections)}")
        if isinstance(split_size_or_sections, int) and split_size_or_sections == 0:
            length = self.shape[shape.normalize_dim(dim, self.ndim, "Split")]
            if length:  # size 0 splits only an empty dim: into one empty piece
                raise ValueError(f"split: split_size can only be 0 if dimension size is 0, but "
                                 f"got dimension size of {length}")
            split_size_or_sections = [0]
        return shape.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        """``chunks`` pieces along ``dim``, each ceil(n / chunks) long (the last shorter, so there
        may be fewer pieces), as PyTorch. ``chunks`` must be a positive int."""
        if isinstance(chunks, bool) or not isinstance(chunks, (int, backend.np.integer)):
            raise TypeError(f"chunk: chunks must be an int, got {chunks!r}")
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be greater than 0, got {chunks}")
        if self.ndim == 0:
            raise IndexError("chunk: expected a tensor with at least 1 dim, got a 0-d tensor")
        return shape.chunk(self, int(chunks), dim)

    def argmin(self, dim=None, keepdim=False, **numpy_spelling):
        """The int64 index of the smallest value along one ``dim`` (None: in the flattened tensor;
        the first one on ties); no gradient. The mirror of ``argmax``."""
        return reduce.argmin(self, dim, keepdim, **numpy_spelling)

    def amax(self, dim=None, keepdim=False):
        """The maximum over ``dim`` (all dims by default); the gradient is shared equally
        among tied maxima, as PyTorch's ``amax``."""
        return self.max(dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        """The minimum over ``dim`` (all dims by default); ties share the gradient equally."""
        return self.min(dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The ``p``-norm over ``dim`` (all elements by default): ``p=2`` (or ``'fro'``) is
        √Σx², ``p=1`` Σ|x|, ``p=inf`` max|x|, at a zero norm with gradient 0, as PyTorch's (a
        ``where`` keeps the root away from 0). Any other ``p`` (0: the count of x ≠ 0, −inf:
        min|x|, else (Σ|x|^p)^(1/p)) is ``linalg.vector_norm``, and ``'nuc'`` (the sum of the
        singular values of a matrix) ``linalg.matrix_norm``. ``dtype`` casts first; an integer
        or bool tensor is made the default float first (its squares would wrap around)."""
        from tinygrad_opt import linalg
        x = elementwise.floating(self if dtype is None else self.astype(dtype))
        if x.dtype == backend.float16:  # its squares overflow past 256: in float32, as PyTorch
            return x.float().norm(p, dim, keepdim).half()
        if p == "nuc":
            return linalg.matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim)
        if p == "fro":
            p = 2
        if not isinstance(p, (int, float)) or isinstance(p, bool) or math.isnan(p):
            raise ValueError(f"norm: p must be a number, inf, -inf, 'fro' or 'nuc', got {p!r}")
        if p not in (1, 2, math.inf):
            return linalg.vector_norm(elementwise.floating(x), p, dim, keepdim)
        magnitude = abs(x)
        if p == 1:
            return magnitude.sum(dim, keepdim)
        if p == math.inf:
            return magnitude.max(dim, keepdim)
        total = (magnitude ** p).sum(dim, keepdim)
        nonzero = total > 0
        root = elementwise.where(nonzero, total, 1.0) ** (1.0 / p)
        return elementwise.where(nonzero, root, 0.0)

    def tril(self, diagonal: int = 0):
        """The lower triangle of the last two dims (on and below ``diagonal``), 0 elsewhere;
        ``where`` selects, so the zeroed side's gradient is exactly 0."""
        return self._triangle(diagonal, lower=True)

    def triu(self, diagonal: int = 0):
        """The upper triangle of the last two dims (on and above ``diagonal``), 0 elsewhere."""
        return self._triangle(diagonal, lower=False)

    def _triangle(self, diagonal: int, lower: bool):
        if self.ndim < 2:
            raise ValueError(f"{'tril' if lower else 'triu'}: expected a tensor with at least "
                             f"2 dims, got shape {self.shape}")
        rows, columns = self.shape[-2:]
        xp = backend.xp_of(self.data)
        below = xp.tri(rows, columns, diagonal - (not lower), dtype=bool)
        zero = _fresh(xp.zeros((), dtype=self.dtype))  # in self's dtype: a bool stays bool
        return elementwise.where(_fresh(below if lower else ~below), self, zero)

    def cumsum(self, dim: int, *, dtype=None):
        """Running sum along ``dim`` (ops/cumulative.py has the op and its backward)."""
        from tinygrad_opt.ops import cumulative
        return cumulative.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim: int, *, dtype=None):
        """Running product along ``dim``; the gradient is exact where entries are 0."""
        from tinygrad_opt.ops import cumulative
        return cumulative.cumprod(self, dim, dtype=dtype)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None):
        """Product over ``dim`` (all entries by default), the last running product."""
        from tinygrad_opt.ops import cumulative
        return cumulative.prod(self, dim, keepdim, dtype=dtype)

    # --- in-place writes: each is x[...] = v (ops/indexing.py: setitem), recorded when a
    # gradient must flow, and each adds one to the tensor's version ---
    def zero_(self):
        """Set every element to 0, in place (e.g. ``p.grad.zero_()``)."""
        return self.fill_(0)

    def fill_(self, value):
        """Set every element to ``value`` (a number or a 0-d tensor, on any device), in
        place; as ``x[...] = value``, so it is recorded when a gradient must flow."""
        if getattr(value, "ndim", 0) != 0 or isinstance(value, (list, tuple)):
            raise ValueError(f"fill_: the value must be a number or a 0-d tensor, got shape "
                             f"{tuple(getattr(value, 'shape', (len(value),)))}")
        if isinstance(value, Conveniences) and value.device != self.device:
            value = value.to(self.device)  # (PyTorch takes a 0-d value from any device)
        self[...] = value
        return self

    def copy_(self, src, non_blocking: bool = False):
        """Copy ``src`` into this tensor, in place: broadcast to its shape, cast to its
        dtype, moved to its device; as ``x[...] = src``, so the gradient flows to ``src``.
        A ``src`` that does not broadcast to this tensor's shape raises, naming both.
        ``non_blocking`` (PyTorch's) changes nothing: every copy here is blocking."""
        shape = tuple(getattr(src, "shape", ()))
        if len(shape) > self.ndim or any(s not in (1, t) for s, t in
                                         zip(shape[::-1], self.shape[::-1])):
            raise ValueError(f"copy_: src of shape {shape} does not broadcast to the tensor's "
                             f"shape {self.shape}")
        self[...] = src.to(self.device) if isinstance(src, Conveniences) else src  # (a Tensor)
        return self

    clamp_ = clip_ = _in_place("clip")
    relu_ = _in_place("relu")
    neg_ = _in_place("neg")
    abs_ = _in_place("abs")
    exp_ = _in_place("exp")
    log_ = _in_place("log")
    sqrt_ = _in_place("sqrt")
    sigmoid_ = _in_place("sigmoid")
    tanh_ = _in_place("tanh")
    pow_ = _in_place("pow")
    masked_fill_ = _in_place("masked_fill")


def _axes(tensor, dim):
    """NumPy's ``axis`` for PyTorch's ``dim``: None (all), an int or a tuple of ints."""
    if dim is None or dim == () or tensor.ndim == 0:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)   # PyTorch takes lists too
    return tuple(shape.normalize_dim(d, max(tensor.ndim, 1), "reduction") for d in dims)


def _truth(tensor, answer):
    """``all``/``any``'s ``answer`` (bool), as uint8 for a uint8 ``tensor``, as PyTorch."""
    uint8 = backend.np.dtype(backend.np.uint8)
    return _fresh(answer.astype(uint8) if tensor.dtype == uint8 else answer)


def _copied_memory(array, memo: dict):
    """``array`` copied for ``copy.deepcopy`` so that arrays that share memory share it in
    the copies, as PyTorch copies a storage once per deepcopy (``deepcopy([t, t[:1]])``: a
    write into the copied view changes the copied t): the memory's owner is copied
    through ``memo``, and a view becomes the same view (byte offset, strides) of its copy."""
    strict = type(array).__name__ == "StrictArray"
    raw = array._array if strict else array
    owner = backend.memory_owner(array)
    if raw is owner or type(owner) is not type(raw):  # no view (or a view of a buffer)
        copied = deepcopy(raw, memo)
    else:
        owner_copy = deepcopy(owner, memo)  # (one copy per owner, whoever asks first)
        if backend.np_types[0] is type(raw):
            offset = raw.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
            copied = backend.np.ndarray(raw.shape, raw.dtype, buffer=owner_copy,
                                        offset=offset, strides=raw.strides)
            copied.flags.writeable = raw.flags.writeable
        else:  # CuPy: the same view, by device pointer
            offset = raw.data.ptr - owner.data.ptr
            copied = type(raw)(raw.shape, raw.dtype, memptr=owner_copy.data + offset,
                               strides=raw.strides)
    return type(array)(copied) if strict else copied


def _leaf_state(tensor, keep_grad: bool) -> tuple:
    """``tensor``'s state as Python's copy and pickle take it, ``(__dict__ or None, slots)``,
    as a leaf: without ``grad_fn`` and the view links ``Function.apply`` adds (``_made``,
    ``_base``), without hooks (functions, often lambdas) and, unless ``keep_grad``, ``.grad``."""
    attributes, slots = object.__getstate__(tensor)
    slots = {name: value for name, value in slots.items() if name not in ("_made", "_base")}
    slots.update(grad_fn=None, _hooks=None, _retains_grad=False)
    if not keep_grad:
        slots["_grad"] = None
    return attributes, slots
