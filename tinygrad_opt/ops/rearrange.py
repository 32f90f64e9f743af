"""Rearranging and selecting under PyTorch's names: flip, roll, repeat, diagonal, scatter, ...

Read after ``ops/shape.py`` and ``ops/indexing.py``: nothing here has a backward of
its own. Each function is a composition of the core ops, so its gradient is theirs,
exact, and differentiable again (``gradgradcheck`` passes):

* ``flip``, ``narrow``, ``unbind``, ``index_select``, ``take``,
  ``repeat_interleave``, ``masked_select``: indexing ``x[...]``, whose backward puts
  the gradient back where the elements came from (a scatter-add: an element picked
  twice gets both gradients);
* ``diagonal``: a view of x's memory, as PyTorch's (``ops/views.py``; ``diag`` copies it);
* ``repeat``, ``tile``, ``meshgrid``: a reshape, then ``broadcast_to`` (broadcast
  forward = sum backward: every copy's gradient sums back to its source);
* ``roll`` and ``diff``: slices, joined by ``cat`` or subtracted;
* ``scatter``, ``index_fill``, ``masked_scatter``: a clone of ``x`` written with
  ``out[i] = v``, recorded as ``SetItem``: the overwritten places of ``x`` get a
  gradient of 0, the written values get the gradient of the places they went to;
* ``scatter_add``, ``index_add``, ``diag``, ``diag_embed``: ``x + IndexAdd(src)``, the
  scatter-add as an op, whose backward gathers the gradient back to ``src``;
* ``scatter_reduce``, ``index_reduce``: 'sum' and 'mean' as ``x + IndexAdd(src)``;
  'prod', 'amax', 'amin' as a row-wise ``prod``/``max``/``min`` of a table that holds
  each place's members (an indexing), so the gradient is that reduction's: the product
  of the other members, or a share among ties;
* ``cdist``, ``cross``, ``vander``, ``block_diag``, ``rot90``, ``atleast_1d/2d/3d``:
  arithmetic on slices, ``cumprod``, ``cat``, flips and reshapes; ``cdist`` routes its
  gradient with ``where`` where a distance or a coordinate difference is 0, as PyTorch.

What has no gradient (``nonzero``, ``unique``, ``tril_indices``, ...) returns integer
tensors that never require grad. The in-place random fills (``uniform_``,
``normal_``, ``bernoulli_``) draw from the generator that ``tg.manual_seed`` seeds
and write like ``x[...] = samples``.

Each function is ``tg.<name>(input, ...)`` where PyTorch has ``torch.<name>``, and,
through ``RearrangeMethods``, the Tensor method ``input.<name>(...)``; ``repeat``, the
``new_*`` factories and the in-place methods are Tensor methods only, as in PyTorch.
The in-place math methods that ops/conveniences.py does not define (``sin_``,
``floor_``, ``clamp_min_``, ...) are ``x[...] = x.clone().<op>(...)``, as its others.
"""

from __future__ import annotations

import math
import warnings

from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import flags
from tinygrad_opt.ops.elementwise import constant, where
from tinygrad_opt.ops.indexing import IndexAdd
from tinygrad_opt.ops import views
from tinygrad_opt.ops.shape import (broadcast_to, cat, normalize_dim, permute, same_device, stack,
                                    transpose)

import tinygrad_opt.tensor as tensor_module

__all__: list = [
    "tile", "flip", "fliplr", "flipud", "roll", "narrow", "unbind",
    "movedim", "moveaxis", "swapaxes", "swapdims",
    "index_select", "masked_select", "take", "take_along_dim", "nonzero", "argwhere",
    "unique", "repeat_interleave", "diagonal", "diag", "diag_embed", "trace",
    "scatter", "scatter_add", "index_add", "index_fill", "masked_scatter",
    "diff", "meshgrid", "cartesian_prod", "tril_indices", "triu_indices",
    "unique_consecutive", "scatter_reduce", "index_reduce", "cdist", "block_diag", "cross",
    "atleast_1d", "atleast_2d", "atleast_3d", "vander", "rot90", "ravel",
]


# --- checks shared by the functions ---

def _tensor(input, name: str):
    """``input``, checked to be a Tensor."""
    if not isinstance(input, tensor_module.Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
    return input


def _integer_tensor(index, x, name: str, what: str = "index"):
    """``index``, checked to be an integer Tensor on ``x``'s device (as PyTorch, which
    takes no Python lists here)."""
    if not isinstance(index, tensor_module.Tensor) or index.dtype.kind not in "iu":
        got = getattr(index, "dtype", type(index).__name__)
        raise TypeError(f"{name}: {what} must be an integer tensor, got {got}")
    if index.device != x.device:
        raise RuntimeError(f"{name}: {what} is on '{index.device}' but the tensor is on "
                           f"'{x.device}'")
    return index


def _long_tensor(index, x, name: str, what: str = "index"):
    """``index``, checked as ``_integer_tensor`` and to be int64: PyTorch's index_fill,
    index_copy, take, put_ and take_along_dim take no other dtype (index_select and
    index_add also take int32)."""
    index = _integer_tensor(index, x, name, what)
    if index.dtype != backend.int64:
        raise TypeError(f"{name}: {what} must be an int64 tensor, got {index.dtype}")
    return index


def _int32_or_int64_tensor(index, x, name: str, what: str = "index"):
    """``index``, checked as ``_integer_tensor`` and to be int32 or int64: what PyTorch's
    index_select, index_add, index_reduce and (from 2.8) gather and the scatters take
    (a uint8 index, which ``x[...]`` reads as a mask, is refused rather than guessed)."""
    index = _integer_tensor(index, x, name, what)
    if index.dtype not in (backend.int32, backend.int64):
        raise TypeError(f"{name}: {what} must be an int32 or int64 tensor, got {index.dtype}")
    return index


def _bool_tensor(mask, x, name: str):
    """``mask``, checked to be a bool Tensor on ``x``'s device."""
    if not isinstance(mask, tensor_module.Tensor) or mask.dtype != backend.bool_:
        got = getattr(mask, "dtype", type(mask).__name__)
        raise TypeError(f"{name}: the mask must be a bool tensor, got {got}")
    if mask.device != x.device:
        raise RuntimeError(f"{name}: the mask is on '{mask.device}' but the tensor is on "
                           f"'{x.device}'")
    return mask


def _check_range(index, size: int, name: str, where: str, negative: bool = False) -> None:
    """Raise an IndexError naming ``name`` and ``where`` (what is indexed) unless every
    entry of the array ``index`` lies in [0, size), or in [-size, size) with ``negative``.
    It reads the minimum and the maximum with ``.item()``: an explicit host copy."""
    if index.size == 0:
        return
    low, high = index.min().item(), index.max().item()
    lowest = -size if negative else 0
    if low < lowest or high >= size:
        bad = low if low < lowest else high
        raise IndexError(f"{name}: index {bad} is out of range for {where}")


def _check_same_dtype(x, other, name: str, what: str) -> None:
    """PyTorch's scatter ops write ``other`` into ``x`` only on its device, in its own dtype."""
    same_device(name, x, other)
    if other.dtype != x.dtype:
        raise TypeError(f"{name}: {what} has dtype {other.dtype} but the tensor has "
                        f"{x.dtype}; cast one of them first")


def _sizes(args: tuple, name: str) -> tuple:
    """``(2, 3)`` from ``f(2, 3)`` and from ``f((2, 3))``, checked to be ints (NumPy
    integers too, made Python ints, as PyTorch takes them)."""
    sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    if not all(isinstance(size, (int, backend.np.integer)) and not isinstance(size, bool)
               for size in sizes):
        raise TypeError(f"{name}: expected ints, got {sizes}")
    return tuple(int(size) for size in sizes)


def _along(dim: int, part, ndim: int) -> tuple:
    """The index ``x[:, ..., part, ...]`` with ``part`` at position ``dim``."""
    return (slice(None),) * dim + (part,) + (slice(None),) * (ndim - dim - 1)


def _size_of(x, dim: int) -> int:
    """The size of dim ``dim`` (a 0-d tensor counts as one element along dim 0)."""
    return x.shape[dim] if x.ndim else 1


def _dim_of(x, dim: int) -> str:
    """``dim 1 of size 3 (shape (2, 3))``, for the errors."""
    return f"dim {dim} of size {_size_of(x, dim)} (shape {x.shape})"


def _new_memory(result, x):
    """``result``, cloned if it still looks into ``x``'s memory: PyTorch's flip, roll and
    repeat return new memory, so a later write into the result never reaches ``x``."""
    if backend.memory_owner(result.data) is backend.memory_owner(x.data):
        return result.clone()
    return result


# --- repeating, flipping, rolling ---

def repeat(x, *sizes):
    """``x`` repeated ``sizes[i]`` times along dim i (PyTorch's ``Tensor.repeat``, NumPy's
    ``tile``): y[a·n + i] = x[i] along each dim of size n. ``x`` first gets leading size-1
    dims up to ``len(sizes)``; then each dim n becomes (repeats, n) by broadcasting and
    the two merge into one: the gradient of every copy sums back to ``x``."""
    sizes = _sizes(sizes, "repeat")
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} repeats {sizes} for a tensor of {x.ndim} dims "
                         f"(shape {x.shape}): give at least one per dim")
    if any(size < 0 for size in sizes):
        raise ValueError(f"repeat: repeats must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    paired = x.reshape([size for n in shape for size in (1, n)])          # (1, n0, 1, n1, ...)
    copies = broadcast_to(paired, [size for pair in zip(sizes, shape) for size in pair])
    merged = copies.reshape([count * n for count, n in zip(sizes, shape)])  # (r0·n0, ...)
    return _new_memory(merged, x)


def tile(input, dims):
    """``input`` repeated ``dims[i]`` times along dim i; with fewer ``dims`` than dims,
    leading 1s are assumed (``tile(x, (2,))`` repeats the last dim): ``repeat``."""
    dims = _sizes((dims,) if isinstance(dims, int) else (dims,), "tile")
    if any(size < 0 for size in dims):
        raise ValueError(f"tile: dims must be non-negative, got {dims}")
    return repeat(input, *((1,) * (input.ndim - len(dims)) + dims))


def flip(input, dims):
    """``input`` with the order of its elements reversed along each dim in ``dims``:
    y[i] = x[n − 1 − i]. An indexing with step −1, so the gradient is flipped back."""
    _tensor(input, "flip")
    dims = _sizes((dims,) if isinstance(dims, int) else (dims,), "flip")
    dims = [normalize_dim(dim, input.ndim, "flip") for dim in dims]
    for dim in dims:
        if dims.count(dim) > 1:
            raise ValueError(f"flip: dim {dim} appears more than once in the dims {dims}")
    if input.ndim == 0:
        return input.clone()
    index = tuple(slice(None, None, -1) if dim in dims else slice(None)
                  for dim in range(input.ndim))
    return _new_memory(input[index], input)


def fliplr(input):
    """``input`` flipped left-right: ``flip(input, [1])`` (at least 2 dims)."""
    if _tensor(input, "fliplr").ndim < 2:
        raise ValueError(f"fliplr: expected a tensor with at least 2 dims, got shape "
                         f"{input.shape}")
    return flip(input, [1])


def flipud(input):
    """``input`` flipped up-down: ``flip(input, [0])`` (at least 1 dim)."""
    if _tensor(input, "flipud").ndim < 1:
        raise ValueError("flipud: expected a tensor with at least 1 dim, got a 0-d tensor")
    return flip(input, [0])


def roll(input, shifts, dims=None):
    """``input`` rolled by ``shifts`` places along ``dims``: y[(i + s) mod n] = x[i], the
    elements pushed out at the end come back at the start. Without ``dims`` the tensor is
    rolled as if flattened. Each roll is ``cat([x[n−s:], x[:n−s]])``: the gradient is
    rolled back."""
    _tensor(input, "roll")
    shifts = _sizes((shifts,) if isinstance(shifts, int) else (shifts,), "roll")
    if not shifts:
        raise ValueError("roll: shifts is required, got an empty sequence")
    if dims is None or (isinstance(dims, (tuple, list)) and not dims):  # ([]: as None, as PyTorch)
        if len(shifts) != 1:
            raise ValueError(f"roll: without dims give one shift, got {shifts}")
        return roll(input.reshape(-1), shifts, 0).reshape(input.shape)
    dims = _sizes((dims,) if isinstance(dims, int) else (dims,), "roll")
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    result = input
    for shift, dim in zip(shifts, dims):
        dim = normalize_dim(dim, input.ndim, "roll")
        n = _size_of(input, dim)
        if input.ndim == 0 or n == 0 or shift % n == 0:
            continue
        kept = n - shift % n  # the first `kept` elements move to the end
        head = result[_along(dim, slice(kept, None), input.ndim)]
        tail = result[_along(dim, slice(0, kept), input.ndim)]
        result = cat([head, tail], dim)
    return _new_memory(result, input)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element of ``input`` repeated ``repeats`` times along ``dim`` (flattened when
    ``dim`` is None): [a, b] → [a, a, b, b]. ``repeats`` is an int or a 1-D integer tensor
    of one count per element. An ``index_select`` with each index repeated, so each copy's
    gradient adds up in its source. With ``input`` alone, a 1-D int32 or int64 tensor of
    counts, ``i`` is repeated ``input[i]`` times, in the counts' dtype: [2, 1] → [0, 0, 1]."""
    if repeats is None:
        counts = _int32_or_int64_tensor(input, input, "repeat_interleave", "repeats")
        if counts.ndim > 1:
            raise ValueError(f"repeat_interleave: repeats must be 0-d or 1-D, got shape "
                             f"{counts.shape}")
        if counts.ndim == 0:  # (0-d counts repeat the elements of an input only)
            raise ValueError("repeat_interleave: repeats alone must be 1-D, got a 0-d tensor")
        xp = backend.xp_of(counts.data)
        positions = constant(xp.arange(counts.numel(), dtype=counts.dtype))
        return repeat_interleave(positions, counts, output_size=output_size)
    _tensor(input, "repeat_interleave")
    if dim is None:
        input, dim = input.reshape(-1), 0
    dim = normalize_dim(dim, input.ndim, "repeat_interleave")
    n = _size_of(input, dim)
    if isinstance(repeats, tensor_module.Tensor):
        counts = _int32_or_int64_tensor(repeats, input, "repeat_interleave", "repeats").data
        if counts.ndim > 1 or counts.size not in (1, n):
            raise ValueError(f"repeat_interleave: repeats of shape {repeats.shape} for dim "
                             f"{dim} of size {n}: give one count, or one per element")
        counts = backend.to_host(counts).reshape(-1).tolist()  # (CuPy's repeat takes lists)
        lowest = min(counts, default=0)
        counts = counts if len(counts) == n else counts[0]
    else:
        counts = lowest = _sizes((repeats,), "repeat_interleave")[0]
    if lowest < 0:
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {lowest}")
    xp = backend.xp_of(input.data)
    index = xp.repeat(xp.arange(n), counts)
    if output_size is not None and output_size != index.shape[0]:
        raise ValueError(f"repeat_interleave: output_size {output_size} but the repeats give "
                         f"{index.shape[0]}")
    return input.reshape(1)[index] if input.ndim == 0 else input[_along(dim, index, input.ndim)]


# --- views under other names ---

def narrow(input, dim: int, start: int, length: int):
    """``length`` elements of ``input`` along ``dim`` from ``start`` on (a negative start
    counts from the end; an int or a 0-d integer tensor): ``x[..., start:start + length,
    ...]``, a view."""
    if _tensor(input, "narrow").ndim == 0:
        raise IndexError("narrow: cannot be applied to a 0-d tensor")
    dim = normalize_dim(dim, input.ndim, "narrow")
    if isinstance(start, tensor_module.Tensor):
        if start.ndim != 0 or start.dtype.kind not in "iu":
            raise TypeError(f"narrow: a tensor start must be a 0-d integer tensor, got shape "
                            f"{start.shape} and dtype {start.dtype}")
        start = int(start.item())
    for name, value in (("start", start), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, (int, backend.np.integer)):
            raise TypeError(f"narrow: {name} must be an int, got {value!r}")
    if length < 0:
        raise ValueError(f"narrow: length must be non-negative, got {length}")
    size = _size_of(input, dim)
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {size}")
    start = start + size if start < 0 else start
    if start + length > size:
        raise ValueError(f"narrow: start ({start}) + length ({length}) exceeds the size "
                         f"{size} of dim {dim} (shape {input.shape})")
    return input[_along(dim, slice(start, start + length), input.ndim)]


def unbind(input, dim: int = 0) -> tuple:
    """The slices of ``input`` along ``dim``, a tuple of views without that dim."""
    if _tensor(input, "unbind").ndim == 0:
        raise IndexError("unbind: a 0-d tensor has no dim to unbind")
    dim = normalize_dim(dim, input.ndim, "unbind")
    return tuple(input[_along(dim, i, input.ndim)] for i in range(input.shape[dim]))


def movedim(input, source, destination):
    """``input`` with its dims ``source`` moved to the positions ``destination`` (ints or
    sequences); the other dims keep their order: a ``permute``."""
    _tensor(input, "movedim")
    source = _sizes((source,) if isinstance(source, int) else (source,), "movedim")
    destination = _sizes((destination,) if isinstance(destination, int) else (destination,),
                         "movedim")
    if len(source) != len(destination):
        raise ValueError(f"movedim: source {source} and destination {destination} must have "
                         "the same length")
    source = [normalize_dim(dim, input.ndim, "movedim") for dim in source]
    destination = [normalize_dim(dim, input.ndim, "movedim") for dim in destination]
    if len(set(source)) < len(source) or len(set(destination)) < len(destination):
        raise ValueError(f"movedim: repeated dim in source {source} or destination "
                         f"{destination}")
    if input.ndim == 0:  # (dims 0 and -1 only, as PyTorch: a view of the scalar)
        return input.reshape(())
    order = [None] * input.ndim
    for from_dim, to_dim in zip(source, destination):
        order[to_dim] = from_dim
    rest = iter(dim for dim in range(input.ndim) if dim not in source)
    return permute(input, [next(rest) if dim is None else dim for dim in order])


moveaxis = movedim


def _swap(input, dim0: int, dim1: int, name: str):
    """``transpose``; a 0-d tensor (dims 0 and -1 only) comes back as a view of itself, as
    PyTorch's."""
    if _tensor(input, name).ndim == 0:
        for dim in (dim0, dim1):
            normalize_dim(dim, 0, name)  # (raises for any dim but 0 and -1)
        return input.reshape(())
    return transpose(input, dim0, dim1)


def swapaxes(input, axis0: int, axis1: int):
    """``input`` with dims ``axis0`` and ``axis1`` exchanged: ``transpose``."""
    return _swap(input, axis0, axis1, "swapaxes")


def swapdims(input, dim0: int, dim1: int):
    """``input`` with dims ``dim0`` and ``dim1`` exchanged: ``transpose``."""
    return _swap(input, dim0, dim1, "swapdims")


# --- selecting ---

def index_select(input, dim: int, index):
    """The entries of ``input`` at positions ``index`` (a 1-D int32 or int64 tensor, repeats
    allowed) along ``dim``: y[..., i, ...] = x[..., index[i], ...]. An indexing: the
    gradient of each pick is added back at its source."""
    index = _int32_or_int64_tensor(index, _tensor(input, "index_select"), "index_select")
    if index.ndim > 1:
        raise ValueError(f"index_select: index must be 0-d or 1-D, got shape {index.shape}")
    dim = normalize_dim(dim, input.ndim, "index_select")
    _check_range(index.data, _size_of(input, dim), "index_select", _dim_of(input, dim))
    if input.ndim == 0:
        if index.data.size != 1:
            raise ValueError("index_select: a 0-d tensor takes one index")
        return input.reshape(1)[index.data.reshape(1)].reshape(())
    return input[_along(dim, index.data.reshape(-1), input.ndim)]


def masked_select(input, mask):
    """The entries of ``input`` where ``mask`` (a bool tensor) is True, in a 1-D tensor;
    the two are broadcast together first (the gradient of ``input`` sums back)."""
    mask = _bool_tensor(mask, _tensor(input, "masked_select"), "masked_select")
    try:
        shape = backend.broadcast_shapes(input.shape, mask.shape)
    except ValueError:
        raise ValueError(f"masked_select: the mask of shape {mask.shape} does not broadcast "
                         f"with the tensor of shape {input.shape}") from None
    xp = backend.xp_of(input.data)
    return broadcast_to(input, shape)[xp.broadcast_to(mask.data, shape)]


def take(input, index):
    """The entries of ``input`` read as a flattened 1-D tensor, at ``index`` (an int64
    tensor of any shape, which the result takes; negative indices count from the end)."""
    index = _long_tensor(index, _tensor(input, "take"), "take")
    count = input.data.size
    _check_range(index.data, count, "take", f"a tensor of {count} elements", negative=True)
    return input.reshape(-1)[index.data]


def take_along_dim(input, indices, dim=None):
    """``gather`` after broadcasting ``input`` and ``indices`` together outside ``dim``
    (NumPy's ``take_along_axis``): y[i][j] = x[indices[i][j]][j] for ``dim=0``. Without
    ``dim``, both are flattened: ``input.flatten()[indices.flatten()]``. ``indices`` is
    int64, as PyTorch requires."""
    indices = _long_tensor(indices, _tensor(input, "take_along_dim"), "take_along_dim",
                           "indices")
    if dim is None:
        _check_range(indices.data, input.data.size, "take_along_dim",
                     f"a flattened tensor of {input.data.size} elements")
        return input.reshape(-1)[indices.data.reshape(-1)]
    if indices.ndim != input.ndim:
        raise ValueError(f"take_along_dim: indices have {indices.ndim} dims but the tensor has "
                         f"{input.ndim} (shapes {indices.shape} and {input.shape})")
    dim = normalize_dim(dim, input.ndim, "take_along_dim")
    _check_range(indices.data, _size_of(input, dim), "take_along_dim", _dim_of(input, dim))
    if input.ndim == 0:
        return input.clone()
    outside = list(input.shape)
    outside[dim] = indices.shape[dim]  # the sizes must agree everywhere but along dim
    try:
        shape = list(backend.broadcast_shapes(tuple(outside), indices.shape))
    except ValueError:
        raise ValueError(f"take_along_dim: indices of shape {indices.shape} do not broadcast "
                         f"with the tensor of shape {input.shape} outside dim {dim}") from None
    picks = constant(backend.xp_of(indices.data).broadcast_to(indices.data, tuple(shape)))
    shape[dim] = input.shape[dim]
    return broadcast_to(input, tuple(shape)).gather(dim, picks)


def nonzero(input, *, as_tuple: bool = False):
    """The positions of the nonzero entries, in row-major order: an int64 tensor of shape
    (count, ndim) whose row k is the index of the k-th one, or with ``as_tuple`` one 1-D
    tensor per dim (what ``x[...]`` takes). No gradient."""
    data = _tensor(input, "nonzero").data
    xp = backend.xp_of(data)
    if input.ndim == 0:  # as PyTorch: a 0-d tensor is one element at position 0
        found = xp.nonzero(data.reshape(1))[0].astype(backend.int64)
        if as_tuple:
            return (constant(found),)
        return constant(xp.zeros((found.shape[0], 0), dtype=backend.int64))
    positions = [part.astype(backend.int64) for part in xp.nonzero(data)]
    if as_tuple:
        return tuple(constant(part) for part in positions)
    return constant(xp.stack(positions, axis=1))


def argwhere(input):
    """The positions of the nonzero entries, an int64 tensor of shape (count, ndim):
    ``nonzero(input)``."""
    return nonzero(_tensor(input, "argwhere"))


def _distinct_slices(input, dim: int, consecutive: bool, name: str) -> tuple:
    """``(values, inverse, counts)`` arrays of the distinct slices of ``input`` along
    ``dim``: each slice is a row of its elements; the rows are sorted lexicographically
    (unless ``consecutive``, which keeps their order and merges only neighbours), a row that
    differs from the one before starts a new group. As PyTorch: no slices give empty
    results (values of input's shape), and a size-0 dim other than ``dim`` is refused."""
    xp = backend.xp_of(input.data)
    moved = xp.moveaxis(input.data, dim, 0)
    if 0 in moved.shape[1:]:
        raise ValueError(f"{name}: there are size-0 dims other than dim {dim} (shape "
                         f"{input.shape}), so unique cannot be applied")
    if moved.shape[0] == 0:
        empty = xp.zeros(0, dtype=backend.int64)
        return input.data.copy(), empty, empty.copy()
    rows = moved.reshape(moved.shape[0], -1)                  # (n, elements per slice)
    count = rows.shape[0]
    if consecutive:
        order = xp.arange(count)
    else:
        order = xp.lexsort(rows.T[::-1])                      # (lexsort: last key first)
    ordered = rows[order]
    starts = xp.ones(count, dtype=bool)                       # True where a new group starts
    starts[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    group = xp.cumsum(starts) - 1                             # the group of each ordered row
    inverse = xp.empty(count, dtype=backend.int64)
    inverse[order] = group
    values = ordered[starts].reshape((-1,) + moved.shape[1:])
    counts = xp.bincount(group, minlength=values.shape[0]).astype(backend.int64)
    return xp.moveaxis(values, 0, dim), inverse, counts


def _unique_results(values, inverse, counts, return_inverse: bool, return_counts: bool):
    """``values``, then ``inverse`` and ``counts`` if asked for, as tensors (no gradient)."""
    results = [constant(values)]
    if return_inverse:
        results.append(constant(inverse))
    if return_counts:
        results.append(constant(counts))
    return results[0] if len(results) == 1 else tuple(results)


def unique(input, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim=None):
    """The distinct values of ``input`` (flattened), in ascending order (also for
    ``sorted=False``, where PyTorch leaves the order open); with ``return_inverse`` also
    the int64 tensor, of ``input``'s shape, of each entry's position among them, with
    ``return_counts`` how often each occurs. With ``dim``: the distinct slices along
    ``dim``, sorted lexicographically, the inverse then of one entry per slice. Entries
    (and slices) are told apart by ``!=``, as in PyTorch's CPU kernel: each NaN is a
    value of its own (NumPy's ``equal_nan=False``), sorted last. No gradient (PyTorch has
    none either)."""
    return _distinct(input, dim, False, return_inverse, return_counts, "unique")


def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False,
                       dim=None):
    """``input`` with each run of equal consecutive values (flattened; with ``dim``, of
    equal consecutive slices along ``dim``) merged into one, order kept:
    [1, 1, 2, 2, 1] → [1, 2, 1]. ``return_inverse``: each entry's (or slice's) run;
    ``return_counts``: the length of each run. No gradient."""
    return _distinct(input, dim, True, return_inverse, return_counts, "unique_consecutive")


def _distinct(input, dim, consecutive: bool, return_inverse, return_counts, name: str):
    """``unique`` and ``unique_consecutive``: the distinct slices along ``dim`` (with no
    dim, the entries of the flattened tensor, each inverse in the input's shape: the 1-D
    path of the slices, since NumPy's own unique would merge the NaNs)."""
    _tensor(input, name)
    flat = dim is None
    if flat:
        source, dim = input.reshape(-1), 0
    else:
        source, dim = input, normalize_dim(dim, input.ndim, name)
    values, inverse, counts = _distinct_slices(source, dim, consecutive, name)
    if flat:
        inverse = inverse.reshape(input.shape)
    return _unique_results(values, inverse, counts, return_inverse, return_counts)


# --- diagonals ---

def _diagonal_positions(xp, rows: int, columns: int, offset: int):
    """The (row, column) positions of diagonal ``offset`` of a rows × columns matrix
    (above the main one for offset > 0): two int64 arrays."""
    first_row, first_column = max(-offset, 0), max(offset, 0)
    length = max(0, min(rows - first_row, columns - first_column))
    steps = xp.arange(length, dtype=backend.int64)
    return steps + first_row, steps + first_column


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """The diagonal ``offset`` of the matrices in dims ``dim1``, ``dim2`` of ``input``:
    y[..., k] = x[k + max(−offset, 0), k + max(offset, 0)], the diagonal as the last dim.
    A view, as PyTorch's: a write into it writes ``input`` (``diag`` is a copy)."""
    if _tensor(input, "diagonal").ndim < 2:
        raise ValueError(f"diagonal: expected a tensor with at least 2 dims, got shape "
                         f"{input.shape}")
    dim1 = normalize_dim(dim1, input.ndim, "diagonal")
    dim2 = normalize_dim(dim2, input.ndim, "diagonal")
    if dim1 == dim2:
        raise ValueError(f"diagonal: dim1 and dim2 are the same dim {dim1}")
    return views.Diagonal.apply(input, offset=offset, dim1=dim1, dim2=dim2)


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """Matrices with the last dim of ``input`` on their diagonal ``offset`` and zeros
    elsewhere, in the new dims ``dim1``, ``dim2`` of the result: (..., n) → (..., m, m),
    m = n + |offset|. An ``IndexAdd`` of ``input`` into zeros: its gradient is the
    diagonal of the output's gradient."""
    if _tensor(input, "diag_embed").ndim < 1:
        raise ValueError("diag_embed: expected a tensor with at least 1 dim, got a 0-d tensor")
    dim1 = normalize_dim(dim1, input.ndim + 1, "diag_embed")
    dim2 = normalize_dim(dim2, input.ndim + 1, "diag_embed")
    if dim1 == dim2:
        raise ValueError(f"diag_embed: dim1 and dim2 are the same dim {dim1}")
    size = input.shape[-1] + abs(offset)
    rows, columns = _diagonal_positions(backend.xp_of(input.data), size, size, offset)
    index = (slice(None),) * (input.ndim - 1) + (rows, columns)
    matrices = IndexAdd.apply(input, index=index, shape=input.shape[:-1] + (size, size))
    return movedim(matrices, (-2, -1), (dim1, dim2))


_diagonal_of = diagonal  # (inside diag, the name `diagonal` is its argument)


def diag(input, diagonal: int = 0):
    """A 1-D ``input``: the square matrix with it on diagonal ``diagonal`` (``diag_embed``);
    a 2-D ``input``: its diagonal ``diagonal``, a 1-D tensor (``diagonal``)."""
    if _tensor(input, "diag").ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return _diagonal_of(input, diagonal).clone()  # a copy, as PyTorch's diag
    raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {input.shape}")


def trace(input):
    """The sum of the main diagonal of a matrix: Σ_i x[i, i]."""
    if _tensor(input, "trace").ndim != 2:
        raise ValueError(f"trace: expected a matrix (2 dims), got shape {input.shape}")
    return diagonal(input).sum()


# --- scattering: out-of-place writes ---

def _scatter_index(index, dim: int) -> tuple:
    """The index that sends entry [i][j][k] of ``index`` (an array) to
    out[index[i][j][k]][j][k] for ``dim=0`` (and so on): ``index`` at ``dim``, each entry's
    own position along the other dims (a copy of ``index``: the op keeps it)."""
    xp = backend.xp_of(index)
    grids = xp.ix_(*(xp.arange(size) for size in index.shape))
    return tuple(index.copy() if axis == dim else grid for axis, grid in enumerate(grids))


def _scatter_index_tensor(index, x, name: str):
    """``index`` checked as ``_int32_or_int64_tensor``; an empty one may have any dtype, as
    PyTorch checks the dtype of a non-empty index only."""
    if isinstance(index, tensor_module.Tensor) and index.data.size == 0:
        same_device(name, x, index)
        return index
    return _int32_or_int64_tensor(index, x, name)


def _as_vectors(input, index, src) -> bool:
    """Whether a scatter meets a 0-d tensor among 0-d and 1-D ones: PyTorch counts a 0-d
    tensor as a 1-D one of one element there, so all three then run as 1-D tensors."""
    Tensor = tensor_module.Tensor
    ranks = [t.ndim for t in (input, index, src) if isinstance(t, Tensor)]
    return isinstance(input, Tensor) and isinstance(index, Tensor) and max(ranks) <= 1 and \
        min(ranks) == 0


def _scatter_as_vectors(op, input, dim, index, src, *args, **kwargs):
    """``op`` on ``input``, ``index`` and ``src`` (a tensor or a number) reshaped to 1-D,
    back in ``input``'s shape (see ``_as_vectors``)."""
    normalize_dim(dim, input.ndim, op.__name__)
    if isinstance(src, tensor_module.Tensor):
        src = src.reshape(-1)
    return op(input.reshape(-1), 0, index.reshape(-1), src, *args, **kwargs).reshape(input.shape)


def _scatter_arguments(x, dim, index, src, name: str) -> tuple:
    """``(full index, the part of src that is written)``, checked with PyTorch's rules: index,
    x and src have the same number of dims; index is no larger than src along any dim and
    no larger than x outside ``dim``; its entries lie in [0, size of x along ``dim``). An
    empty index writes nothing, whatever its rank: ``(None, src)``."""
    index = _scatter_index_tensor(index, _tensor(x, name), name)
    dim = normalize_dim(dim, x.ndim, name)
    tensors = [("the tensor", x)]
    if isinstance(src, tensor_module.Tensor):
        _check_same_dtype(x, src, name, "src")
        tensors.append(("src", src))
    if index.data.size == 0:
        return None, src
    for what, tensor in tensors:
        if tensor.ndim != index.ndim:
            raise ValueError(f"{name}: index has {index.ndim} dims but {what} has "
                             f"{tensor.ndim} (shapes {index.shape} and {tensor.shape})")
        for axis, (wanted, size) in enumerate(zip(index.shape, tensor.shape)):
            if wanted > size and (axis != dim or tensor is not x):
                raise ValueError(f"{name}: index of shape {index.shape} is larger than "
                                 f"{what} of shape {tensor.shape} at dim {axis}")
    _check_range(index.data, _size_of(x, dim), name, _dim_of(x, dim))
    if isinstance(src, tensor_module.Tensor):
        src = src[tuple(slice(0, size) for size in index.shape)]  # the part index covers
    return _scatter_index(index.data, dim), src


def _nothing_written(input, src):
    """What a scatter with an empty index gives: a copy of ``input``, in ``src``'s graph
    too, so that src gets a gradient of zeros (as PyTorch's), not none (the sum of no
    elements of src is an exact 0, whatever src holds)."""
    out = input.clone()
    if isinstance(src, tensor_module.Tensor) and src.requires_grad and flags.grad:
        out = out + src.reshape(-1)[:0].sum().astype(out.dtype)
    return out


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src`` written where ``index`` points along ``dim``:
    out[index[i][j]][j] = src[i][j] for ``dim=0`` (and so on), ``src`` a tensor or a number
    (also given as ``value=``). ``out = input.clone(); out[...] = src``: the gradient of
    ``input`` is 0 at the overwritten places, that of ``src`` is gathered from the places
    it was written to. With repeated places one write wins: on the CPU the last, on the
    GPU any (PyTorch leaves it open; each copy of src gets the place's gradient). As
    PyTorch's (and so ``scatter_add`` and ``scatter_reduce``): ``index`` is int64 or int32,
    an empty index, of any rank and dtype, writes nothing, and a 0-d tensor counts as a
    1-D one of one element.

    ``reduce='add'`` (``'multiply'``) adds each value to (multiplies its place by it)
    instead, repeats all taking part: out[index[i][j]][j] += src[i][j]. That is
    ``scatter_reduce`` with 'sum' ('prod') and ``include_self=True``, whose gradients it
    has (PyTorch defines none for this form)."""
    if reduce not in (None, "add", "multiply"):
        raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    if (src is None) == (value is None):
        raise TypeError("scatter: give either src (a tensor or a number) or value")
    src = value if src is None else src
    if _as_vectors(input, index, src):
        return _scatter_as_vectors(scatter, input, dim, index, src, reduce=reduce)
    if reduce is not None and not isinstance(src, tensor_module.Tensor):
        index = _scatter_index_tensor(index, _tensor(input, "scatter"), "scatter")
        xp = backend.xp_of(input.data)       # the number, in input's dtype, at every place
        src = constant(xp.full(index.shape, src, dtype=input.dtype))
    full_index, src = _scatter_arguments(input, dim, index, src, "scatter")
    if full_index is None:
        return _nothing_written(input, src)
    if reduce is not None:
        return _reduce_into(input, full_index, src, "sum" if reduce == "add" else "prod",
                            include_self=True)
    out = input.clone()
    out[full_index] = src
    return out


def scatter_add(input, dim: int, index, src):
    """``input`` plus ``src`` added where ``index`` points along ``dim``:
    out[index[i][j]][j] += src[i][j] for ``dim=0``, repeats adding up. ``input + IndexAdd``:
    the gradient of ``input`` passes through, that of ``src`` is gathered back."""
    if not isinstance(src, tensor_module.Tensor):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    if _as_vectors(input, index, src):
        return _scatter_as_vectors(scatter_add, input, dim, index, src)
    full_index, src = _scatter_arguments(input, dim, index, src, "scatter_add")
    if full_index is None:
        return _nothing_written(input, src)
    return input + IndexAdd.apply(src, index=full_index, shape=input.shape)


def index_add(input, dim: int, index, source, *, alpha=1):
    """``input`` with ``alpha · source[..., i, ...]`` added to ``input[..., index[i], ...]``
    along ``dim``, repeats adding up. ``source`` has ``input``'s shape except along
    ``dim``, where it has one slice per index. ``input + IndexAdd``, as ``scatter_add``.
    The result keeps ``input``'s dtype: for an integer ``input``, PyTorch converts
    ``alpha`` to it first (``alpha=1.5`` counts as 1)."""
    index = _int32_or_int64_tensor(index, _tensor(input, "index_add"), "index_add")
    if index.ndim > 1:
        raise ValueError(f"index_add: index must be 0-d or 1-D, got shape {index.shape}")
    if input.ndim == 0:  # as one element along dim 0
        return index_add(input.reshape(1), dim, index, source.reshape(-1), alpha=alpha)[0]
    dim = normalize_dim(dim, input.ndim, "index_add")
    _check_same_dtype(input, _tensor(source, "index_add"), "index_add", "source")
    wanted = input.shape[:dim] + (index.data.size,) + input.shape[dim + 1:]
    if source.shape != wanted and not (source.ndim == 0 and wanted == (1,)):
        raise ValueError(f"index_add: source of shape {source.shape} for index of shape "
                         f"{index.shape} into shape {input.shape} along dim {dim}: expected "
                         f"{wanted}")
    _check_range(index.data, _size_of(input, dim), "index_add", _dim_of(input, dim))
    if not backend.is_floating(input.dtype) and input.dtype != backend.bool_:
        alpha = int(alpha)                       # (truncated, as a C++ cast)
    scaled = (source if alpha == 1 else source * alpha).reshape(wanted)
    positions = _along(dim, index.data.reshape(-1).copy(), input.ndim)
    return input + IndexAdd.apply(scaled, index=positions, shape=input.shape)


def index_fill(input, dim: int, index, value):
    """``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a number or
    a 0-d tensor, which gets the gradient of all of them); the gradient of ``input`` is 0
    there: ``out = input.clone(); out[..., index, ...] = value``. As PyTorch's, ``index``
    is int64 and an index may be negative (from the end): it lies in [−size, size)."""
    index = _long_tensor(index, _tensor(input, "index_fill"), "index_fill")
    if index.ndim > 1:
        raise ValueError(f"index_fill: index must be 0-d or 1-D, got shape {index.shape}")
    if getattr(value, "ndim", 0) != 0 or isinstance(value, (list, tuple)):
        raise ValueError(f"index_fill: value must be a number or a 0-d tensor, got shape "
                         f"{getattr(value, 'shape', None)}")
    if input.ndim == 0:  # as one element along dim 0
        return index_fill(input.reshape(1), dim, index, value)[0]
    dim = normalize_dim(dim, input.ndim, "index_fill")
    size = _size_of(input, dim)
    _check_range(index.data, size, "index_fill", _dim_of(input, dim), negative=True)
    # each slice once (−1 and size − 1 are one), so that value's gradient counts it once
    places = backend.xp_of(index.data).unique(index.data.reshape(-1) % max(size, 1))
    out = input.clone()
    out[_along(dim, places, input.ndim)] = value
    return out


def masked_scatter(input, mask, source):
    """``input`` with the places where ``mask`` (bool) is True filled, in row-major order,
    with the first elements of ``source``: ``out = input.clone(); out[mask] =
    source.flatten()[:count]``. As PyTorch, ``input`` and ``mask`` broadcast together, so
    the result may be larger than ``input`` (not so in place: ``masked_scatter_``)."""
    mask = _bool_tensor(mask, _tensor(input, "masked_scatter"), "masked_scatter")
    _check_same_dtype(input, _tensor(source, "masked_scatter"), "masked_scatter", "source")
    try:
        shape = backend.broadcast_shapes(mask.shape, input.shape)
    except ValueError:
        raise ValueError(f"masked_scatter: the mask of shape {mask.shape} does not broadcast "
                         f"with the tensor's shape {input.shape}") from None
    places = backend.xp_of(mask.data).broadcast_to(mask.data, shape)
    count = places.sum().item()
    if count > source.data.size:
        raise ValueError(f"masked_scatter: the mask has {count} True places but source (shape "
                         f"{source.shape}) only {source.data.size} elements")
    out = broadcast_to(input, shape).clone()
    out[places] = source.reshape(-1)[:count]
    return out


# --- differences ---

def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None):
    """The n-th forward difference along ``dim``: y[i] = x[i + 1] − x[i], applied ``n``
    times (for bool tensors x[i + 1] != x[i]), after ``prepend`` and ``append`` (tensors of
    ``input``'s shape outside ``dim``) are joined on; with n = 0 they are not, and a copy
    of the input comes back (PyTorch's, and NumPy's, rule). Slices subtracted: the
    gradient is exact."""
    if _tensor(input, "diff").ndim == 0:
        raise ValueError("diff: expected a tensor with at least 1 dim, got a 0-d tensor")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"diff: n must be a non-negative int, got {n!r}")
    dim = normalize_dim(dim, input.ndim, "diff")
    pieces = []
    for what, piece in (("prepend", prepend), ("input", input), ("append", append)):
        if piece is None:
            continue
        outside = input.shape[:dim] + input.shape[dim + 1:]
        if _tensor(piece, "diff").ndim != input.ndim or \
                piece.shape[:dim] + piece.shape[dim + 1:] != outside:
            raise ValueError(f"diff: {what} has shape {piece.shape}, which does not match "
                             f"{input.shape} outside dim {dim}")
        pieces.append(piece)
    x = cat(pieces, dim) if len(pieces) > 1 and n > 0 else input
    if n == 0:
        return x.clone()  # a tensor of its own, as PyTorch (never the input itself)
    for _ in range(n):
        if x.shape[dim] == 0:
            break
        later = x[_along(dim, slice(1, None), x.ndim)]
        earlier = x[_along(dim, slice(0, -1), x.ndim)]
        x = later != earlier if x.dtype == backend.bool_ else later - earlier
    return x


# --- grids and index sets ---

def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids of k 1-D tensors of sizes n_1, ..., n_k: grid i holds tensor i's
    values along dim i of shape (n_1, ..., n_k) (``indexing='ij'``); ``'xy'`` swaps the
    first two dims, as NumPy's default. Each grid is a reshape and a ``broadcast_to``, so
    its gradient sums back to its tensor."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ValueError("meshgrid: expected at least one tensor")
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for position, tensor in enumerate(tensors):
        if _tensor(tensor, "meshgrid").ndim > 1:
            raise ValueError(f"meshgrid: expected 0-d or 1-D tensors, tensor {position} has "
                             f"shape {tensor.shape}")
        same_device("meshgrid", tensors[0], tensor)
        if tensor.dtype != tensors[0].dtype:
            raise TypeError(f"meshgrid: tensor {position} is {tensor.dtype} on "
                            f"'{tensor.device}', tensor 0 {tensors[0].dtype} on "
                            f"'{tensors[0].device}': all must match")
    vectors = [tensor.reshape(-1) for tensor in tensors]
    axis_of = list(range(len(vectors)))     # the grid dim along which tensor i varies
    if indexing == "xy" and len(vectors) > 1:
        axis_of[0], axis_of[1] = 1, 0
    shape = [0] * len(vectors)
    for vector, axis in zip(vectors, axis_of):
        shape[axis] = vector.shape[0]
    grids = []
    for vector, axis in zip(vectors, axis_of):
        along = [1] * len(vectors)
        along[axis] = vector.shape[0]
        grids.append(broadcast_to(vector.reshape(along), tuple(shape)))
    return tuple(grids)


def cartesian_prod(*tensors):
    """Every combination of one element from each 1-D tensor, in row-major order: a
    (n_1 · ... · n_k, k) tensor (one tensor alone comes back as it is)."""
    for position, tensor in enumerate(tensors):
        if _tensor(tensor, "cartesian_prod").ndim != 1:
            raise ValueError(f"cartesian_prod: expected 1-D tensors, tensor {position} has "
                             f"shape {tensor.shape}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([grid.reshape(-1) for grid in meshgrid(*tensors, indexing="ij")], dim=1)


def _triangle_indices(row: int, col: int, offset: int, dtype, device, lower: bool):
    name = "tril_indices" if lower else "triu_indices"
    if row < 0 or col < 0:
        raise ValueError(f"{name}: row and col must be non-negative, got {row} and {col}")
    xp = backend.get_xp(backend.check_device(device))
    rows, columns = (xp.tril_indices if lower else xp.triu_indices)(row, offset, col)
    pairs = xp.stack([rows, columns]).astype(backend.as_dtype(dtype))
    return constant(pairs)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=backend.int64, device=None):
    """The (row, column) positions of the lower triangle of a row × col matrix (on and
    below diagonal ``offset``), row by row: a (2, count) int64 tensor."""
    return _triangle_indices(row, col, offset, dtype, device, lower=True)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=backend.int64, device=None):
    """The (row, column) positions of the upper triangle of a row × col matrix (on and
    above diagonal ``offset``), row by row: a (2, count) int64 tensor."""
    return _triangle_indices(row, col, offset, dtype, device, lower=False)


# --- reducing into places: scatter_reduce, index_reduce ---

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _extreme(dtype, xp, largest: bool):
    """The largest (or lowest) value of ``dtype``: ±inf for floats, the integer limits."""
    if backend.is_floating(dtype):
        return float("inf") if largest else float("-inf")
    if dtype == backend.bool_:
        return largest
    limits = xp.iinfo(dtype)
    return limits.max if largest else limits.min


def _member_table(xp, targets, received, own, count: int):
    """The (count, width) table of positions in ``cat([input, src, pad])`` of the members
    of each place p: its own input value first where ``own[p]``, then the src values sent
    there (``targets[j] == p``), then the pad (position count + len(targets)) to fill the
    row. ``received[p]`` counts the src values that p receives."""
    sent = targets.shape[0]
    order = xp.argsort(targets, kind="stable")                   # the src values by place
    placed = targets[order]
    rank = xp.arange(sent) - xp.searchsorted(placed, placed, side="left")  # within a place
    width = (received + own).max().item()                      # (explicit host copy)
    table = xp.full((count, width), count + sent, dtype=backend.int64)      # all pad
    places = xp.arange(count)
    table[places[own], 0] = places[own]
    table[placed, rank + own[placed]] = count + order
    return table


def _reduce_into(input, full_index, src, reduce: str, include_self: bool):
    """``input`` with ``src`` reduced into ``input[full_index]`` (see ``scatter_reduce``)."""
    if src.data.size == 0:                                     # nothing to reduce into
        return input.clone()
    xp = backend.xp_of(input.data)
    count = input.data.size
    strides = [1] * input.ndim                                 # row-major element strides
    for axis in range(input.ndim - 2, -1, -1):
        strides[axis] = strides[axis + 1] * input.shape[axis + 1]
    targets = sum(part * stride for part, stride in zip(full_index, strides))
    targets = xp.broadcast_to(targets, src.shape).reshape(-1)  # the flat place of each src
    received = xp.bincount(targets, minlength=count)           # (count,) src values per place
    own = xp.ones(count, dtype=bool) if include_self else received == 0  # input takes part
    flat_input, flat_src = input.reshape(-1), src.reshape(-1)
    if reduce in ("sum", "mean"):
        kept = flat_input if include_self else where(constant(own), flat_input, 0)
        total = kept + IndexAdd.apply(flat_src, index=targets, shape=(count,))
        if reduce == "sum":
            return total.reshape(input.shape)
        members = constant((received + own).astype(input.dtype))  # (count,), at least 1
        mean = total / members if backend.is_floating(input.dtype) else total // members
        return mean.reshape(input.shape)
    identity = 1 if reduce == "prod" else _extreme(input.dtype, xp, reduce == "amin")
    pad = constant(xp.full((1,), identity, dtype=input.dtype))
    table = _member_table(xp, targets, received, own, count)
    members = cat([flat_input, flat_src, pad])[table]         # (count, width)
    if reduce == "prod":
        result = members.prod(1)
    else:
        result = members.max(1) if reduce == "amax" else members.min(1)
    return result.astype(input.dtype).reshape(input.shape)


def _check_reduce(reduce, choices, name: str) -> None:
    """Refuse a ``reduce`` that is not one of ``choices``."""
    if reduce not in choices:
        raise ValueError(f"{name}: reduce must be one of {', '.join(choices)}; got {reduce!r}")


def scatter_reduce(input, dim: int, index, src, reduce: str, *, include_self: bool = True):
    """``input`` with each value of ``src`` reduced into the place ``index`` points to along
    ``dim``: for ``dim=0``, src[i][j] joins the group of out[index[i][j]][j]. A place's
    group is the src values sent there and, with ``include_self``, its own value of
    ``input``; a place that receives nothing keeps ``input``. ``reduce``:

    * ``'sum'``: y = Σ group; dL/dmember = dL/dy (``input + IndexAdd(src)``);
    * ``'mean'``: y = Σ group / count (floor division for integers); dL/dmember = dL/dy / count;
    * ``'prod'``: y = Π group; dL/dmember = dL/dy · (the product of the other members),
      exact with zeros (a row-wise ``prod`` of a table of the members);
    * ``'amax'``/``'amin'``: y = max/min group; dL/dy is shared equally among the members
      equal to y (``max``/``min`` of the same table).

    Each gradient is that of the reduction over the group, so a value that does not take
    part (``input`` at a place that receives src, without ``include_self``) gets 0."""
    _check_reduce(reduce, _REDUCTIONS, "scatter_reduce")
    if not isinstance(src, tensor_module.Tensor):
        raise TypeError(f"scatter_reduce: src must be a tensor, got {type(src).__name__}")
    if _as_vectors(_tensor(input, "scatter_reduce"), index, src):
        return _scatter_as_vectors(scatter_reduce, input, dim, index, src, reduce,
                                   include_self=include_self)
    full_index, src = _scatter_arguments(input, dim, index, src, "scatter_reduce")
    if full_index is None:
        return _nothing_written(input, src)
    return _reduce_into(input, full_index, src, reduce, include_self)


def index_reduce(input, dim: int, index, source, reduce: str, *, include_self: bool = True):
    """``input`` with slice i of ``source`` along ``dim`` reduced into slice ``index[i]``:
    ``scatter_reduce`` with ``index`` repeated over the other dims. ``reduce`` is
    ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'`` (``index_add`` sums), with the
    gradients of ``scatter_reduce``."""
    _check_reduce(reduce, _REDUCTIONS[1:], "index_reduce")
    index = _int32_or_int64_tensor(index, _tensor(input, "index_reduce"), "index_reduce")
    if index.ndim > 1:
        raise ValueError(f"index_reduce: index must be 0-d or 1-D, got shape {index.shape}")
    if input.ndim == 0:  # as one element along dim 0
        return index_reduce(input.reshape(1), dim, index, _tensor(source, "index_reduce")
                            .reshape(-1), reduce, include_self=include_self).reshape(())
    dim = normalize_dim(dim, input.ndim, "index_reduce")
    _check_same_dtype(input, _tensor(source, "index_reduce"), "index_reduce", "source")
    wanted = input.shape[:dim] + (index.data.size,) + input.shape[dim + 1:]
    if source.ndim == 0 and wanted == (1,):      # one element, as index_add takes it
        source = source.reshape(1)
    if source.shape != wanted:
        raise ValueError(f"index_reduce: source of shape {source.shape} for index of shape "
                         f"{index.shape} into shape {input.shape} along dim {dim}: expected "
                         f"{wanted}")
    _check_range(index.data, input.shape[dim], "index_reduce", _dim_of(input, dim))
    xp = backend.xp_of(index.data)
    along = index.data.reshape([-1 if axis == dim else 1 for axis in range(input.ndim)])
    repeated = xp.broadcast_to(along, wanted)                    # index[i] for all of slice i
    return _reduce_into(input, _scatter_index(repeated, dim), source, reduce, include_self)


# --- distances, blocks, cross products, powers, rotations ---

def _distance(difference, p: float):
    """y = (Σ_k |d_k|^p)^(1/p) over the last dim of ``difference``, with cdist's gradients."""
    if difference.shape[-1] == 0:                  # no coordinates: every distance is 0
        return difference.sum(-1)
    magnitude = difference.abs()
    if p == 0:   # the number of coordinates that differ: a count, whose gradient is 0
        count = (difference != 0).astype(difference.dtype).sum(-1)
        return where(constant(backend.xp_of(count.data).ones(count.shape, dtype=bool)),
                     count, difference.sum(-1))    # (the where keeps y in the graph)
    if p == 1:
        return magnitude.sum(-1)                   # dy/dd = sign(d)
    if p == math.inf:
        largest = magnitude.max(-1, keepdim=True).detach()
        # y = largest + Σ over the tied coordinates of (|d| − largest), each term 0:
        # dy/dd = sign(d) at every coordinate where |d| = y, as PyTorch's cdist.
        ties = where(magnitude == largest, magnitude - largest, 0.0)
        return (largest + ties.sum(-1, keepdim=True)).squeeze(-1)
    if p == 2:
        total = (difference * difference).sum(-1)
    else:        # |d|^p with 0 (and a gradient of 0) where d = 0: 0^(p−1) is inf for p < 1
        nonzero = difference != 0
        total = where(nonzero, where(nonzero, magnitude, 1.0) ** p, 0.0).sum(-1)
    positive = total > 0                           # the root's gradient is 0 where y = 0
    safe = where(positive, total, 1.0)
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return where(positive, root, 0.0)


_COMPUTE_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                  "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M), of shape (..., P, R), the batch dims broadcast:

        y[..., i, j] = (Σ_k |d_k|^p)^(1/p),   d = x1[..., i, :] − x2[..., j, :]

    p = 0 counts the coordinates that differ, p = inf takes max_k |d_k|. Composed from the
    differences, with PyTorch's gradients: dy/dd = sign(d)·|d|^(p−1) / y^(p−1) (p = 2:
    d / y; p = 1: sign(d)), 0 where y = 0 (and where d = 0); p = inf: sign(d) at every
    coordinate where |d| = y, each tie getting all of it; p = 0: 0. ``compute_mode`` picks
    one of PyTorch's algorithms (with matrix products or not); here there is one."""
    for name, x in (("x1", x1), ("x2", x2)):
        if _tensor(x, "cdist").ndim < 2:
            raise ValueError(f"cdist: {name} must have at least 2 dims, got shape {x.shape}")
        if not backend.is_floating(x.dtype):
            raise TypeError(f"cdist: only floating-point dtypes are supported, {name} has "
                            f"{x.dtype}")
    if x1.dtype != x2.dtype:
        raise TypeError(f"cdist: x1 ({x1.dtype}) and x2 ({x2.dtype}) must have the same dtype")
    if x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: x1 {x1.shape} and x2 {x2.shape} must have the same number "
                         f"of columns, got {x1.shape[-1]} and {x2.shape[-1]}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p >= 0:
        raise ValueError(f"cdist: p must be a non-negative number, got {p!r}")
    if compute_mode not in _COMPUTE_MODES:
        raise ValueError(f"cdist: compute_mode must be one of {', '.join(_COMPUTE_MODES)}; "
                         f"got {compute_mode!r}")
    try:
        backend.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise ValueError(f"cdist: the batch dims of x1 {x1.shape} and x2 {x2.shape} do not "
                         "broadcast") from None
    difference = x1.unsqueeze(-2) - x2.unsqueeze(-3)          # (..., P, R, M)
    return _distance(difference, float(p))


def _category(dtype) -> int:
    """PyTorch's dtype categories: bool 0 < integer 1 < float 2."""
    return 2 if backend.is_floating(dtype) else 0 if dtype == backend.bool_ else 1


def _promoted_dtype(tensors) -> object:
    """PyTorch's result dtype of several tensors: the highest category (bool < integer <
    float) wins, and the widest dtype within it; a 0-d tensor counts only when its
    category is above that of every tensor with dims."""
    with_dims = [t.dtype for t in tensors if t.ndim] or [t.dtype for t in tensors]
    zero_dim = [t.dtype for t in tensors if not t.ndim]
    pool = with_dims
    if zero_dim and max(map(_category, zero_dim)) > max(map(_category, with_dims)):
        pool = zero_dim
    top = max(map(_category, pool))
    return backend.result_dtype(*[dtype for dtype in pool if _category(dtype) == top])


def block_diag(*tensors):
    """The tensors on the diagonal of one matrix, zeros elsewhere: ``block_diag(A, B)`` is
    [[A, 0], [0, B]], of shape (Σ rows, Σ columns), in the tensors' promoted dtype. Each
    tensor is 0-d (a 1×1 block), 1-D (a row) or 2-D. A block row is
    ``cat([zeros, block, zeros], 1)`` and the rows are joined by ``cat``: each block's
    gradient is its block of the output's gradient."""
    if not tensors:
        return constant(backend.get_xp("cpu").zeros((1, 0), dtype=backend.default_float))
    for position, block in enumerate(tensors):
        if _tensor(block, "block_diag").ndim > 2:
            raise ValueError(f"block_diag: expected tensors of at most 2 dims, tensor "
                             f"{position} has shape {block.shape}")
        if block.device != tensors[0].device:
            raise RuntimeError(f"block_diag: tensor {position} is on '{block.device}', tensor "
                               f"0 on '{tensors[0].device}': all must be on one device")
    dtype = _promoted_dtype(tensors)
    blocks = [block.astype(dtype).reshape((1,) * (2 - block.ndim) + block.shape)
              for block in tensors]                            # each (rows, columns)
    width = sum(block.shape[1] for block in blocks)
    xp = backend.xp_of(blocks[0].data)
    rows, left = [], 0
    for block in blocks:
        height, columns = block.shape
        before = constant(xp.zeros((height, left), dtype=dtype))
        after = constant(xp.zeros((height, width - left - columns), dtype=dtype))
        rows.append(cat([before, block, after], 1))
        left += columns
    return cat(rows, 0)


def cross(input, other, dim=None):
    """The cross product of the 3-vectors along ``dim`` of ``input`` and ``other`` (same
    number of dims, the others broadcast): y = (a₁b₂ − a₂b₁, a₂b₀ − a₀b₂, a₀b₁ − a₁b₀).
    ``dim=None`` takes the first dim of size 3 of ``input``, as ``torch.cross`` does today.
    Products of slices: dL/da = b × dL/dy, dL/db = dL/dy × a."""
    _tensor(input, "cross")
    _tensor(other, "cross")
    if input.ndim != other.ndim:
        raise ValueError(f"cross: input {input.shape} and other {other.shape} must have the "
                         "same number of dims")
    if input.dtype != other.dtype:
        raise TypeError(f"cross: input is {input.dtype} and other {other.dtype}; cast one of "
                        "them first")
    if dim is None:
        dim = next((axis for axis, size in enumerate(input.shape) if size == 3), None)
        if dim is None:
            raise ValueError(f"cross: no dim of size 3 in input of shape {input.shape}")
    dim = normalize_dim(dim, input.ndim, "cross")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise ValueError(f"cross: dim {dim} must have size 3 in both, got {input.shape} and "
                         f"{other.shape}")
    a = [input[_along(dim, i, input.ndim)] for i in range(3)]
    b = [other[_along(dim, i, other.ndim)] for i in range(3)]
    return stack([a[1] * b[2] - a[2] * b[1],
                  a[2] * b[0] - a[0] * b[2],
                  a[0] * b[1] - a[1] * b[0]], dim)


def _at_least(tensors: tuple, ndim: int, name: str):
    """``tensors`` reshaped to at least ``ndim`` dims: one tensor gives one tensor, several
    (or a list) a tuple, as PyTorch."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(_at_least((tensor,), ndim, name) for tensor in tensors[0])
    if len(tensors) != 1:
        return tuple(_at_least((tensor,), ndim, name) for tensor in tensors)
    x = _tensor(tensors[0], name)
    if x.ndim >= ndim:
        return x
    if ndim == 3 and x.ndim == 2:
        return x.reshape(x.shape + (1,))                        # (m, n) → (m, n, 1)
    if ndim == 3 and x.ndim == 1:
        return x.reshape((1,) + x.shape + (1,))                 # (n,) → (1, n, 1)
    return x.reshape((1,) * (ndim - x.ndim) + x.shape)          # leading 1s


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim: a 0-d tensor becomes shape (1,) (a view)."""
    return _at_least(tensors, 1, "atleast_1d")


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: () → (1, 1), (n,) → (1, n) (views)."""
    return _at_least(tensors, 2, "atleast_2d")


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: () → (1, 1, 1), (n,) → (1, n, 1), (m, n) →
    (m, n, 1) (views)."""
    return _at_least(tensors, 3, "atleast_3d")


def vander(x, N=None, increasing: bool = False):
    """The Vandermonde matrix of a 1-D ``x``: column j is x^(N−1−j) (x^j with
    ``increasing``), N = len(x) by default. Integer and bool inputs give int64. The powers
    are a running product of x (``cumprod``), so the gradient is exact where x = 0."""
    if _tensor(x, "vander").ndim != 1:
        raise ValueError(f"vander: x must be a 1-D tensor, got shape {x.shape}")
    N = x.shape[0] if N is None else N
    if isinstance(N, bool) or not isinstance(N, int) or N < 0:
        raise ValueError(f"vander: N must be a non-negative int, got {N!r}")
    if not backend.is_floating(x.dtype):
        x = x.astype(backend.int64)
    xp = backend.xp_of(x.data)
    columns = [constant(xp.ones((x.shape[0], 1), dtype=x.dtype))]          # x^0
    if N > 1:
        copies = broadcast_to(x.reshape(-1, 1), (x.shape[0], N - 1))        # (n, N − 1)
        columns.append(copies.cumprod(1))                                   # x^1 ... x^(N−1)
    powers = cat(columns, 1)[:, :N]                                         # (n, N)
    return powers if increasing else flip(powers, [1])


def rot90(input, k: int = 1, dims=(0, 1)):
    """``input`` rotated by k·90° in the plane of ``dims``, from the first dim towards the
    second (as NumPy's ``rot90``): k = 1 is ``flip`` of dims[1], then ``transpose``;
    k = 2 flips both; k = 3 flips dims[0], then transposes. k is taken mod 4."""
    dims = _sizes((dims,), "rot90")
    if len(dims) != 2:
        raise ValueError(f"rot90: expected 2 rotation dims, got dims={dims}")
    if _tensor(input, "rot90").ndim < 2:
        raise ValueError(f"rot90: expected a tensor with at least 2 dims, got shape "
                         f"{input.shape}")
    first, second = (normalize_dim(dim, input.ndim, "rot90") for dim in dims)
    if first == second:
        raise ValueError(f"rot90: the rotation dims must differ, got dims={dims}")
    k = k % 4
    if k == 1:
        return transpose(flip(input, [second]), first, second)
    if k == 2:
        return flip(input, [first, second])
    if k == 3:
        return transpose(flip(input, [first]), first, second)
    return input.clone()


def ravel(input):
    """``input`` flattened to 1-D, in row-major order: ``reshape(-1)``."""
    return _tensor(input, "ravel").reshape(-1)


# --- in-place math under PyTorch's names ---

def _in_place_math(name: str):
    """The method ``x.<name>_(...)``: ``x[...] = x.clone().<name>(...)``, then ``x``.

    The write is recorded as SetItem when a gradient must flow, so x's gradient is the
    out-of-place op's; a leaf that requires grad refuses, as in PyTorch. The op reads a
    clone because it may save its input, and the write bumps x's version (an op that
    saved x then refuses to backward). As PyTorch, the result must keep x's shape and fit
    x's dtype (``sin_`` of an integer tensor refuses)."""

    def method(self, *args, **kwargs):
        _refuse_leaf(self, name + "_")
        result = getattr(self.clone(), name)(*args, **kwargs)
        if backend.is_floating(result.dtype) and not backend.is_floating(self.dtype):
            raise RuntimeError(f"{name}_: result type {result.dtype} can't be cast to the "
                               f"tensor's dtype {self.dtype}")
        check_fits(name + "_", result, self)
        self[...] = result
        return self

    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = (f"``x = x.{name}(...)`` in place, as ``x[...] = x.{name}(...)`` "
                      "(recorded when a gradient must flow; a leaf that requires grad "
                      "refuses); returns x.")
    return method


def check_fits(name: str, result, x) -> None:
    """As PyTorch, an in-place method's result must keep x's shape: an operand that would
    broadcast x larger (``masked_fill_`` with a larger mask, ``pow_``) refuses."""
    if result.shape != x.shape:
        raise RuntimeError(f"{name}: the result of shape {result.shape} does not fit the "
                           f"tensor's shape {x.shape}")


# --- new tensors like this one, and in-place writes ---

def _new(x, make: str, size: tuple, dtype, device, requires_grad, *fill):
    """``xp.<make>(size, *fill)`` in ``x``'s dtype and on its device unless given."""
    dtype = x.dtype if dtype is None else backend.as_dtype(dtype)
    xp = backend.get_xp(backend.check_device(x.device if device is None else device))
    array = getattr(xp, make)(size, *fill, dtype=dtype)
    return tensor_module.Tensor._make(array).requires_grad_(requires_grad)


def _refuse_leaf(x, name: str) -> None:
    """As PyTorch: an in-place write to a leaf that requires grad is refused in grad mode
    (its gradient would be of values the user never had); ``tg.no_grad()`` allows it."""
    if x.requires_grad and x.grad_fn is None and flags.grad:
        raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an "
                           f"in-place operation (shape {x.shape}); do it inside tg.no_grad()")


def _fill_with_samples(x, samples):
    """``x[...] = samples``: recorded when ``x`` is in a graph (its gradient there is 0),
    a plain write otherwise; either way x's version goes up."""
    x[...] = constant(samples)
    return x


def _check_random_fill(x, name: str, floats_only: bool = True) -> None:
    """Refuse a leaf that requires grad (before anything is drawn) and, for the fills
    that draw floats, a tensor of another dtype (as PyTorch)."""
    _refuse_leaf(x, name)
    if floats_only and not backend.is_floating(x.dtype):
        raise TypeError(f"{name}: draws floats; the tensor has dtype {x.dtype}")


def _in_place(function):
    """The method ``x.<name>_(...)``: ``x[...] = <name>(x.clone(), ...)``, as
    ``conveniences.write_back`` (recorded as SetItem when a gradient must flow)."""

    def method(self, *args, **kwargs):
        result = function(self.clone(), *args, **kwargs)
        check_fits(function.__name__ + "_", result, self)  # (masked_scatter_, a larger mask)
        self[...] = result
        return self

    method.__name__ = method.__qualname__ = function.__name__ + "_"
    method.__doc__ = (f"``x = x.{function.__name__}(...)`` in place, as ``x[...] = "
                      f"x.{function.__name__}(...)`` (recorded when a gradient must flow; a "
                      "leaf that requires grad refuses).")
    return method


def _keyword_sizes(sizes: tuple, keyword: dict, name: str, op_name: str) -> tuple:
    """The varargs ``sizes`` of a method, or PyTorch's keyword for them (``dims=``,
    ``size=``) when the varargs are empty; any other keyword is refused by name."""
    unknown = set(keyword) - {name}
    if unknown:
        raise TypeError(f"{op_name}() got an unexpected keyword argument "
                        f"{sorted(unknown)[0]!r}")
    if name in keyword:
        if sizes:
            raise TypeError(f"{op_name}(): {name} given both positionally and by keyword")
        return (keyword[name],)
    return sizes


def _numpy_rng(generator):
    """The NumPy generator of a ``tg.Generator`` (None: the global one)."""
    return None if generator is None else generator.numpy_rng


class RearrangeMethods:
    """Tensor methods of this module (``Tensor`` inherits them through ``Conveniences``).
    Most are the function of the same name: ``x.roll(1, 0)`` is ``roll(x, 1, 0)``."""

    __slots__ = ()

    narrow, unbind, movedim, moveaxis, swapaxes, swapdims = (
        narrow, unbind, movedim, moveaxis, swapaxes, swapdims)
    fliplr, flipud, roll, repeat_interleave = fliplr, flipud, roll, repeat_interleave
    index_select, masked_select, take, take_along_dim = (
        index_select, masked_select, take, take_along_dim)
    nonzero, argwhere, unique, unique_consecutive = (
        nonzero, argwhere, unique, unique_consecutive)
    diagonal, diag, diag_embed, trace = diagonal, diag, diag_embed, trace
    scatter, scatter_add, index_add, index_fill, masked_scatter = (
        scatter, scatter_add, index_add, index_fill, masked_scatter)
    diff = diff
    repeat = repeat
    scatter_, scatter_add_, index_add_ = (
        _in_place(scatter), _in_place(scatter_add), _in_place(index_add))
    index_fill_, masked_scatter_ = _in_place(index_fill), _in_place(masked_scatter)
    scatter_reduce, index_reduce = scatter_reduce, index_reduce
    scatter_reduce_, index_reduce_ = _in_place(scatter_reduce), _in_place(index_reduce)
    cross, rot90, ravel = cross, rot90, ravel
    # the in-place math ops conveniences.py does not define (exp_, add_, ... are there)
    clamp_min_, clamp_max_ = _in_place_math("clamp_min"), _in_place_math("clamp_max")
    floor_, ceil_, round_, trunc_ = (_in_place_math("floor"), _in_place_math("ceil"),
                                     _in_place_math("round"), _in_place_math("trunc"))
    reciprocal_, sin_, cos_ = (_in_place_math("reciprocal"), _in_place_math("sin"),
                               _in_place_math("cos"))

    def flip(self, *dims, **keyword):
        """This tensor reversed along each of ``dims`` (``x.flip(0, 1)``, ``x.flip((0, 1))``
        or PyTorch's keyword ``x.flip(dims=(0, 1))``): ``tg.flip``."""
        return flip(self, _sizes(_keyword_sizes(dims, keyword, "dims", "flip"), "flip"))

    def tile(self, *dims, **keyword):
        """This tensor repeated ``dims[i]`` times along dim i (``x.tile(2, 3)``,
        ``x.tile((2, 3))`` or ``x.tile(dims=(2, 3))``), leading 1s assumed: ``tg.tile``."""
        return tile(self, _sizes(_keyword_sizes(dims, keyword, "dims", "tile"), "tile"))

    @property
    def mT(self):
        """The transpose of the last two dims (of each matrix of a batch)."""
        if self.ndim < 2:
            raise ValueError(f"mT: expected a tensor with at least 2 dims, got shape "
                             f"{self.shape}")
        return transpose(self, -2, -1)

    # --- new tensors with this tensor's dtype and device (unless given) ---
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **keyword):
        """Zeros of shape ``size`` (varargs, a tuple or ``size=``), in this tensor's dtype
        and on its device unless given."""
        size = _keyword_sizes(size, keyword, "size", "new_zeros")
        return _new(self, "zeros", _sizes(size, "new_zeros"), dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **keyword):
        """Ones of shape ``size`` (varargs, a tuple or ``size=``), in this tensor's dtype
        and on its device unless given."""
        size = _keyword_sizes(size, keyword, "size", "new_ones")
        return _new(self, "ones", _sizes(size, "new_ones"), dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **keyword):
        """A tensor of shape ``size`` (varargs, a tuple or ``size=``) with arbitrary values,
        in this tensor's dtype and on its device unless given."""
        size = _keyword_sizes(size, keyword, "size", "new_empty")
        return _new(self, "empty", _sizes(size, "new_empty"), dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        """``fill_value`` in shape ``size``, in this tensor's dtype (whatever the value's
        type) and on its device unless given."""
        return _new(self, "full", _sizes((size,), "new_full"), dtype, device, requires_grad,
                    fill_value)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """A copy of ``data`` (a tensor is copied too, cut from its graph), in this tensor's
        dtype and on its device unless given. A tensor warns, as in PyTorch: its clear
        spelling is ``data.detach().clone()``."""
        make = tensor_module.tensor
        if isinstance(data, tensor_module.Tensor):
            warnings.warn("new_tensor: to copy construct from a tensor, it is recommended to "
                          "use sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                          ".requires_grad_(True), rather than tensor.new_tensor(sourceTensor)",
                          UserWarning, stacklevel=2)
            # copied here, and wrapped by Tensor(...): tensor(...) would warn a second time
            data, make = data.detach().clone(), tensor_module.Tensor
        return make(data, dtype=self.dtype if dtype is None else dtype,
                    device=self.device if device is None else device,
                    requires_grad=requires_grad)

    # --- in place ---
    def detach_(self):
        """Cut this tensor from the graph, in place: no ``grad_fn``, ``requires_grad``
        False. As PyTorch, a view of another tensor's graph refuses (use ``detach()``)."""
        if self.grad_fn is not None and getattr(self.data, "base", None) is not None:
            raise RuntimeError(f"detach_: can't detach a view (shape {self.shape}) in place; "
                               "use detach() instead")
        self.grad_fn = None
        self.requires_grad = False
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None):
        """Fill with samples of the uniform distribution on [a, b), in place, from
        ``generator`` (a ``tg.Generator``) or else the generator ``tg.manual_seed`` seeds
        (a leaf that requires grad refuses)."""
        _check_random_fill(self, "uniform_")
        if not a <= b:
            raise ValueError(f"uniform_: expects a <= b for the range [a, b), got a={a}, b={b}")
        samples = backend.random_uniform(self.shape, self.dtype, self.device, a, b,
                                         rng=_numpy_rng(generator))
        return _fill_with_samples(self, samples)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        """Fill with samples of N(mean, std²), in place, from ``generator`` (a
        ``tg.Generator``) or else the generator ``tg.manual_seed`` seeds (a leaf that
        requires grad refuses)."""
        _check_random_fill(self, "normal_")
        if not std >= 0:
            raise ValueError(f"normal_: expects std >= 0, got std={std}")
        samples = backend.random_normal(self.shape, self.dtype, self.device, mean, std,
                                        rng=_numpy_rng(generator))
        return _fill_with_samples(self, samples)

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 1 (probability ``p``) or 0, in place: ``p`` a number or a tensor of
        probabilities broadcast to this shape; a uniform draw u (from ``generator`` if
        given) gives 1 where u < p."""
        _check_random_fill(self, "bernoulli_", floats_only=False)
        if isinstance(p, tensor_module.Tensor):
            if p.device != self.device:
                raise RuntimeError(f"bernoulli_: p is on '{p.device}' but the tensor is on "
                                   f"'{self.device}'")
            try:
                fits = backend.broadcast_shapes(p.shape, self.shape) == self.shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(f"bernoulli_: p of shape {p.shape} does not broadcast to the "
                                 f"tensor's shape {self.shape}")
            low, high = (p.data.min().item(), p.data.max().item()) if p.data.size else (0, 1)
            probability = p.data
        else:
            low = high = probability = p
        if not 0 <= low <= high <= 1:
            raise ValueError(f"bernoulli_: expects p in [0, 1], got values in [{low}, {high}]")
        draws = backend.random_uniform(self.shape, backend.float64, self.device,
                                       rng=_numpy_rng(generator))
        return _fill_with_samples(self, (draws < probability).astype(self.dtype))
