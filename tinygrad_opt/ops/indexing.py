"""Indexing: ``x[index]`` and its backward, a scatter-add.

``GetItem`` picks elements; its backward puts the gradient back where the
elements came from. With integer-array indices one element may be picked
several times (``x[[0, 0, 1]]``): each pick sends back a gradient, and they
must all *add up*, so the backward is a scatter-add, not an assignment.
``IndexAdd`` is that scatter-add as an op, so that double backward works:
its own backward is ``GetItem`` again.
"""

from __future__ import annotations

import weakref

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.autograd.grad_mode import flags
from tinygrad_opt.ops.index_order import ints_first
from tinygrad_opt.ops.shape import as_operand, sum_to_shape

import tinygrad_opt.tensor as tensor_module


class GetItem(Function):
    """y = x[index].   dL/dx = zeros with dL/dy scatter-added at ``index``."""

    def forward(self, x: "Array", index) -> "Array":
        self.index, self.input_shape = index, x.shape
        # A trailing ... picks the same elements, and makes x[1] a 0-d view of x's memory
        # on every backend (NumPy alone copies an element out; CuPy and PyTorch view it).
        index = index if type(index) is tuple else (index,)
        return x[index if any(i is Ellipsis for i in index) else (*index, ...)]

    def backward(self, grad_output: "Grad") -> "Grads":
        return IndexAdd.apply(grad_output, index=self.index, shape=self.input_shape)


class IndexAdd(Function):
    """y = zeros(shape); y[index] += g (repeats accumulate).   dL/dg = dL/dy[index]."""

    def forward(self, grad: "Array", index, shape: tuple) -> "Array":
        self.index = index
        xp = backend.xp_of(grad)
        out = xp.zeros(shape, dtype=grad.dtype)
        if _is_basic(index):
            out[index] = grad  # slices and ints pick each element at most once
        else:
            backend.scatter_add(out, index, grad)
        return out

    def backward(self, grad_output: "Grad") -> "Grads":
        return GetItem.apply(grad_output, index=self.index)


class SetItem(Function):
    """y = x with y[index] = v (written in place).   dL/dx = dL/dy, 0 where v was
    written;   dL/dv = dL/dy[index], summed back to v's shape if v was broadcast."""

    def forward(self, x: "Array", value: "Array", index) -> "Array":
        self.index = index
        self.written = backend.xp_of(x).zeros(x.shape, dtype=bool)
        self.written[index] = True
        x[index] = value.reshape(()) if value.size == 1 else value  # one element fits anywhere
        return x

    def backward(self, grad_output: "Grad") -> "Grads":
        grad_x = grad_value = None
        if self.needs_input_grad[0]:
            grad_x = self.xp.where(self.written, 0, grad_output)
        if self.needs_input_grad[1]:
            value_shape = self.inputs[1].shape
            grad_value = GetItem.apply(grad_output, index=self.index)   # the slot's shape
            if self.inputs[1].data.size == 1:
                grad_value = grad_value.sum().reshape(value_shape)
            else:
                grad_value = sum_to_shape(grad_value, value_shape)
        return grad_x, grad_value


def setitem(x, index, value) -> None:
    """``x[index] = value``. When a gradient must flow (``value`` or ``x`` requires
    grad, in grad mode), the write is recorded as a SetItem op and ``x`` becomes
    its output: the old ``x`` lives on as the op's input ``before``."""
    from tinygrad_opt.ops import view_writes  # (writes through views: they build on the ops)
    Tensor = tensor_module.Tensor
    if x.requires_grad and x.grad_fn is None and flags.grad:
        raise RuntimeError(f"a leaf tensor of shape {x.shape} that requires grad cannot be "
                           "changed in place (x[...] = v, x += v); do it inside tg.no_grad()")
    view_writes.check_write(x, "SetItem")  # (shared elements; a view made out of the graph)
    index = _device_index(index, x)
    first, index = ints_first(index)
    if first:  # x[0, :, [0, 1]] = v is x[0][:, [0, 1]] = v, a write through a view
        return setitem(getitem(x, first), index, value)
    value = as_operand(value, x, "SetItem")
    if value.dtype != x.dtype:
        value = value.astype(x.dtype)
    if backend.memory_owner(value.data) is backend.memory_owner(x.data):  # x[:2] = x[1:3]:
        value = value.clone()  # read it all before writing (CuPy's copy kernels would race)
    if flags.grad and engine.rewirings:
        engine.remake_stale_views((x, value))
    if not (flags.grad and (x.requires_grad or value.requires_grad)):
        if flags.forward_ad is not None:  # a dual x or value: forward mode refuses the write
            flags.forward_ad(SetItem, (x, value), {"index": index}, None)
        x.data[index] = value.data
        x._version += 1
        return
    if getattr(x, "_base", None) is not None:  # x views another tensor's memory (x = t[0]):
        return view_writes.write_through(x, index, value)  # the write goes into t's graph
    before = Tensor._make(x.data, x.requires_grad)  # the old x: takes over x's place in the
    before.grad_fn, before._version = x.grad_fn, x._version + 1  # graph, overwritten (as x)
    if x.grad_fn is not None:
        x.grad_fn.output_ref = weakref.ref(before)
    output = SetItem.apply(before, value, index=index)
    x.grad_fn, x.requires_grad = output.grad_fn, True
    x.grad_fn.output_ref = weakref.ref(x)
    x.grad_fn.rewired_version = x._version  # ops that used x up to here used `before`
    x._versions.append(x._version)  # the views of x, which share this list, see the write
    engine.rewirings += 1
    x._version += 1


def _is_basic(index) -> bool:
    """True when the index has only ints, slices, None and Ellipsis (no arrays)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(part is None or part is Ellipsis or isinstance(part, (int, slice))
               for part in parts)


def getitem(x, index):
    """``x[index]`` for ints, slices, None, ..., integer arrays and boolean masks."""
    index = _device_index(index, x)
    first, index = ints_first(index)  # PyTorch's order: t[0, :, [0, 1]] is t[0][:, [0, 1]]
    return getitem(getitem(x, first), index) if first else GetItem.apply(x, index=index)


def _device_index(index, x):
    """Replace Tensors and host arrays inside an index by arrays on ``x``'s device, the
    op's own: an index array is copied, so a later write to the caller's index cannot
    move the gradient (PyTorch keeps the index checked, as ops keep their inputs)."""
    Tensor = tensor_module.Tensor
    if isinstance(index, tuple):
        return tuple(_device_index(part, x) for part in index)
    if isinstance(index, Tensor):
        if index.device not in (x.device, "cpu"):  # a CPU index fits every device (PyTorch)
            raise RuntimeError(f"GetItem: index on '{index.device}' for a tensor on "
                               f"'{x.device}': indices must be on the CPU or on its device")
        index = backend.to_device(index.data, x.device)
    elif isinstance(index, list) or (backend.is_host_data(index) and
                                     not isinstance(index, (int, bool, backend.np.integer))):
        host = backend.to_host(index)
        if host.size == 0 and host.dtype != backend.bool_:
            host = host.astype(backend.int64)  # x[[]]: an empty list indexes nothing
        index = backend.to_device(host, x.device)
    if backend.is_array(index) and (backend.is_floating(index.dtype) or index.dtype == "uint8"):
        raise IndexError(f"GetItem: index arrays must be integer or boolean, got {index.dtype} "
                         "(uint8 is refused: PyTorch reads it as a mask; give .bool() or .long())")
    return index.copy() if backend.is_array(index) else index
