"""Shape ops: broadcasting, reshape, permute, squeeze, concatenation.

Broadcasting is an op. When a binary op meets two shapes that differ, the
operand that must grow is first passed through ``BroadcastTo``; its backward
sums the gradient back to the operand's shape. "Broadcast forward = sum
backward" is taught here once, and no binary op repeats it.
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import flags
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads

import tinygrad_opt.tensor as tensor_module


class BroadcastTo(Function):
    """y = x repeated along new or size-1 axes to ``shape``.   dL/dx = dL/dy summed back."""

    def forward(self, x: "Array", shape: tuple) -> "Array":
        self.input_shape = x.shape
        return backend.xp_of(x).broadcast_to(x, shape)

    def backward(self, grad_output: "Grad") -> "Grads":
        return sum_to_shape(grad_output, self.input_shape)


def sum_to_shape(grad, shape):
    """Sum ``grad`` (an array or a Tensor) over the axes that broadcasting added or
    stretched, back to ``shape``. (``shape`` may have more leading 1s than ``grad`` has
    dims: a value written into a smaller slot, ``x[0] = v`` with v of shape (1, n).)"""
    if grad.shape == shape:
        return grad
    core = shape[max(len(shape) - grad.ndim, 0):]  # shape without those extra leading 1s
    leading = grad.ndim - len(core)  # axes broadcasting added in front, then stretched ones
    axes = tuple(range(leading)) + tuple(leading + axis for axis, size in enumerate(core)
                                         if size == 1 and grad.shape[leading + axis] != 1)
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad  # (ones kept)
    return summed.reshape(shape)


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (a graph node only when a gradient must flow)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        if backend.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"BroadcastTo: cannot broadcast shape {x.shape} to {shape}") from None
    return BroadcastTo.apply(x, shape=shape)


def as_operand(value, like, op_name: str):
    """Turn the other operand of ``like`` (Tensor, Python number, array) into a Tensor.

    Python numbers take ``like``'s dtype, so ``float32 * 2.0`` stays float32. Host
    arrays may only meet CPU tensors: mixing devices is an error, as on CuPy.
    """
    Tensor = tensor_module.Tensor
    if isinstance(value, Tensor):
        if type(value.data) is not type(like.data):
            same_device(op_name, like, value)
        return value
    if isinstance(value, (bool, int, float)):
        dtype = like.data.dtype  # a float meeting an integer tensor: the default float
        if isinstance(value, float) and dtype.kind != "f":
            dtype = backend.default_float
        elif dtype.kind == "b" and not isinstance(value, bool):  # bool tensor + 2: int64
            dtype = backend.int64
        xp = backend.xp_of(like.data)
        try:
            return Tensor._make(xp.asarray(value, dtype=dtype))
        except OverflowError:  # uint8 + (-1) or + 300: the int wraps into the dtype, as the
            return Tensor._make(xp.asarray(value).astype(dtype))  # C cast in PyTorch's kernel
    if backend.is_array(value):
        # a device array keeps its own device (not the default one); the call checks it
        return as_operand(Tensor(value, device=backend.device_of(value)), like, op_name)
    if like.device != "cpu":
        raise RuntimeError(
            f"{op_name}: host data ({type(value).__name__}) mixed with a tensor on "
            f"'{like.device}'; convert it with tg.tensor(..., device='{like.device}')")
    if isinstance(value, (list, tuple)) and backend.is_floating(like.dtype):
        return Tensor(value, like.dtype, device="cpu")  # lists behave like Python numbers
    return Tensor(value, device="cpu")  # NumPy scalars keep their dtype (NumPy's promotion)


def same_device(op_name: str, *tensors) -> None:
    """Raise unless the tensors are all on one device: no op mixes devices (CuPy refuses)."""
    devices = list(dict.fromkeys(tensor.device for tensor in tensors))
    if len(devices) > 1:
        raise RuntimeError(f"{op_name}: operands are on different devices: "
                           f"{' and '.join(repr(str(d)) for d in devices)}; move one with .to(device)")


def broadcast_operands(op_name: str, *tensors):
    """Make every operand that needs a gradient the same shape (via BroadcastTo)."""
    shapes = [tensor.shape for tensor in tensors]
    if all(shape == shapes[0] for shape in shapes):
        return tensors
    try:
        shape = backend.broadcast_shapes(*shapes)
    except ValueError:
        shown = " and ".join(str(s) for s in shapes)
        raise ValueError(f"{op_name}: shapes {shown} cannot be broadcast together") from None
    if not flags.grad:
        return tensors  # nothing is recorded: the arrays broadcast by themselves
    return tuple(broadcast_to(tensor, shape) if tensor.requires_grad and tensor.shape != shape
                 else tensor for tensor in tensors)


class Reshape(Function):
    """y = x with a new shape (same elements, same order).   dL/dx = dL/dy reshaped back."""

    def forward(self, x: "Array", shape: tuple) -> "Array":
        self.input_shape = x.shape
        return x.reshape(shape)

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output.reshape(self.input_shape)


class Permute(Function):
    """y = x with its axes reordered by ``dims``.   dL/dx = dL/dy with the inverse order."""

    def forward(self, x: "Array", dims: tuple) -> "Array":
        self.dims = dims
        return x.transpose(dims)

    def backward(self, grad_output: "Grad") -> "Grads":
        inverse = [self.dims.index(axis) for axis in range(len(self.dims))]  # where each went
        return self.xp.transpose(grad_output, inverse)


class Cat(Function):
    """y = the inputs joined along ``dim``.   dL/dx_i = the slice of dL/dy where x_i sits."""

    def forward(self, *arrays: "Array", dim: int) -> "Array":
        self.dim = dim
        self.sizes = [array.shape[dim] for array in arrays]
        return backend.xp_of(arrays[0]).concatenate(arrays, axis=dim)

    def backward(self, grad_output: "Grad") -> "Grads":
        grads = []
        start = 0
        for size in self.sizes:
            index = [slice(None)] * grad_output.ndim
            index[self.dim] = slice(start, start + size)
            grads.append(grad_output[tuple(index)])
            start += size
        return tuple(grads)


# --- composed shape functions (no backward of their own) ---

def normalize_dim(dim: int, ndim: int, op_name: str) -> int:
    """``dim`` as an index in [0, ndim) (negative: from the end; 0-d: 0), or an IndexError."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op_name}: dim {dim} is out of range for a tensor of {ndim} dims")
    return dim % ndim if ndim else 0


def reshape(x, shape):
    """``x`` with a new ``shape`` (one size may be -1): a view, a tensor of its own even
    when the shape is unchanged (as PyTorch: its hooks and ``retain_grad`` are its own)."""
    shape = tuple(int(size) for size in shape)
    known = 1
    for size in shape:
        known *= size if size != -1 else 1
    count = x.data.size
    wrong = shape.count(-1) > 1 or (-1 in shape and (known == 0 or count % known)) or \
        (-1 not in shape and known != count)
    if wrong:
        raise ValueError(f"Reshape: cannot reshape a tensor of shape {x.shape} to {shape}")
    return Reshape.apply(x, shape=shape)


def permute(x, dims):
    """``x`` with its dims reordered (dim i of the result is dim ``dims[i]``)."""
    dims = tuple(normalize_dim(dim, x.ndim, "Permute") for dim in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"Permute: {dims} is not a permutation of the {x.ndim} dims of {x.shape}")
    return Permute.apply(x, dims=dims)  # (the identity too: a view of its own, as reshape's)


def transpose(x, dim0: int, dim1: int):
    """``x`` with dims ``dim0`` and ``dim1`` swapped (a permute)."""
    dims = list(range(max(x.ndim, 1)))  # (0-d: dims 0 and -1, a view of x, as PyTorch)
    dim0 = normalize_dim(dim0, x.ndim, "Transpose")
    dim1 = normalize_dim(dim1, x.ndim, "Transpose")
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(x, dims[:x.ndim])


def squeeze(x, dim=None):
    """``x`` without its size-1 dims: all of them, or those among ``dim`` (an int or tuple)."""
    if dim is None:
        return reshape(x, [size for size in x.shape if size != 1])
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    dims = [normalize_dim(d, x.ndim, "Squeeze") for d in dims]
    if len(set(dims)) != len(dims):  # (PyTorch's error, not a silent deduplication)
        raise RuntimeError(f"Squeeze: a dim appears multiple times in the list of dims {dim}")
    return reshape(x, [size for axis, size in enumerate(x.shape)
                       if not (axis in dims and size == 1)])


def unsqueeze(x, dim: int):
    """``x`` with a size-1 dim inserted at position ``dim`` (-1: at the end)."""
    dim = normalize_dim(dim, x.ndim + 1, "Unsqueeze")
    shape = list(x.shape)
    shape.insert(dim, 1)
    return reshape(x, shape)


def flatten(x, start_dim: int = 0, end_dim: int = -1):
    """``x`` with dims ``start_dim`` to ``end_dim`` (both included) merged; 0-d gives shape (1,)."""
    start = normalize_dim(start_dim, x.ndim, "Flatten")  # (0-d: dim 0 or -1 only)
    end = normalize_dim(end_dim, x.ndim, "Flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} cannot come after end_dim {end_dim}")
    middle = int(backend.np.prod(x.shape[start:end + 1]))
    return reshape(x, x.shape[:start] + (middle,) + x.shape[end + 1:])


def expand(x, shape):
    """Like PyTorch's expand: -1 keeps a size; new axes may be added in front."""
    shape = list(shape)
    offset = len(shape) - x.ndim
    for axis, size in enumerate(shape):
        if size == -1 and axis < offset:
            raise ValueError(f"expand: -1 is not allowed for the new leading dim {axis}")
        if size == -1:
            shape[axis] = x.shape[axis - offset]
    repeats = shape[offset:] != list(x.shape) or set(shape[:offset]) - {1}  # (else: a reshape)
    return broadcast_to(x, shape) if repeats else reshape(x, shape)  # (views: PyTorch's too)


def cat(tensors, dim: int = 0):
    """``tg.cat``: the tensors joined along their existing dim ``dim`` (all other dims equal,
    one device); integer tensors meeting float ones take the floats' dtype."""
    tensors = list(tensors)
    if not tensors or not all(isinstance(tensor, tensor_module.Tensor) for tensor in tensors):
        raise TypeError(f"cat: expected a non-empty list of Tensors, got "
                        f"{[type(tensor).__name__ for tensor in tensors]}")
    first = tensors[0]
    dim = normalize_dim(dim, first.ndim, "Cat")
    outside = first.shape[:dim] + first.shape[dim + 1:]  # the axes that must match
    for index, tensor in enumerate(tensors):
        if tensor.device != first.device:
            raise RuntimeError(f"cat: tensor 0 is on '{first.device}' but tensor {index} "
                               f"is on '{tensor.device}'")
        if tensor.ndim != first.ndim or tensor.shape[:dim] + tensor.shape[dim + 1:] != outside:
            raise ValueError(f"cat: tensor {index} has shape {tensor.shape}, which does not "
                             f"match {first.shape} outside dim {dim}")
    dtypes = [tensor.dtype for tensor in tensors]
    floats = [dtype for dtype in dtypes if backend.is_floating(dtype)]
    dtype = backend.result_dtype(*(floats or dtypes))  # ints meeting floats take the floats' dtype
    tensors = [tensor.astype(dtype) for tensor in tensors]  # Cast: each grad in its own dtype
    return Cat.apply(*tensors, dim=dim)


def stack(tensors, dim: int = 0):
    """``tg.stack``: the tensors (all one shape) joined along a new dim ``dim``, a ``cat`` of
    each one unsqueezed there."""
    tensors = list(tensors)
    if not tensors or not all(isinstance(tensor, tensor_module.Tensor) for tensor in tensors):
        raise TypeError(f"stack: expected a non-empty list of Tensors, got "
                        f"{[type(tensor).__name__ for tensor in tensors]}")
    for index, tensor in enumerate(tensors):
        if tensor.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {index} has shape {tensor.shape} but tensor 0 "
                             f"has {tensors[0].shape}")
    dim = normalize_dim(dim, tensors[0].ndim + 1, "Stack")
    return cat([unsqueeze(tensor, dim) for tensor in tensors], dim)


def split(x, split_size_or_sections, dim: int = 0):
    """Pieces of ``x`` along ``dim``: equal pieces of a size, or the listed sizes."""
    dim = normalize_dim(dim, x.ndim, "Split")
    length = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, length - start) for start in range(0, max(length, 1), size)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} do not add up to {length} (dim {dim} of "
                             f"{x.shape})")
    pieces = []
    start = 0
    for size in sizes:
        index = [slice(None)] * x.ndim
        index[dim] = slice(start, start + size)
        pieces.append(x[tuple(index)])
        start += size
    return tuple(pieces)


def chunk(x, chunks: int, dim: int = 0):
    """``chunks`` pieces of ``x`` along ``dim``, each ceil(n / chunks) long (the last shorter)."""
    length = x.shape[normalize_dim(dim, x.ndim, "Chunk")]
    size = -(-length // chunks)  # ceil, as PyTorch (an empty dim: `chunks` empty pieces)
    return split(x, size if length else [0] * chunks, dim)
