"""Indexing: ``x[index]`` and its backward, a scatter-add.

``GetItem`` picks elements; its backward puts the gradient back where the
elements came from. With integer-array indices one element may be picked
several times (``x[[0, 0, 1]]``): each pick sends back a gradient, and they
must all *add up*, so the backward is a scatter-add, not an assignment.
``IndexAdd`` is that scatter-add as an op, so that double backward works:
its own backward is ``GetItem`` again.
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Function

import tinygrad_opt.tensor as tensor_module


class GetItem(Function):
    """y = x[index].   dL/dx = zeros with dL/dy scatter-added at ``index``."""

    def forward(self, x, index):
        self.index = index
        self.input_shape = x.shape
        return x[index]

    def backward(self, grad_output):
        return IndexAdd.apply(grad_output, index=self.index, shape=self.input_shape)


class IndexAdd(Function):
    """y = zeros(shape); y[index] += g (repeats accumulate).   dL/dg = dL/dy[index]."""

    def forward(self, grad, index, shape):
        self.index = index
        xp = backend.xp_of(grad)
        out = xp.zeros(shape, dtype=grad.dtype)
        if _is_basic(index):
            out[index] = grad  # slices and ints pick each element at most once
        else:
            backend.scatter_add(out, index, grad)
        return out

    def backward(self, grad_output):
        return GetItem.apply(grad_output, index=self.index)


def _is_basic(index) -> bool:
    """True when the index has only ints, slices, None and Ellipsis (no arrays)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(part is None or part is Ellipsis or isinstance(part, (int, slice))
               for part in parts)


def getitem(x, index):
    """``x[index]`` for ints, slices, None, ..., integer arrays and boolean masks."""
    return GetItem.apply(x, index=_device_index(index, x))


def _device_index(index, x):
    """Replace Tensors and host arrays inside an index by arrays on ``x``'s device."""
    Tensor = tensor_module.Tensor
    if isinstance(index, tuple):
        return tuple(_device_index(part, x) for part in index)
    if isinstance(index, Tensor):
        if index.device != x.device:
            raise RuntimeError(f"GetItem: index on '{index.device}' for a tensor on "
                               f"'{x.device}'")
        index = index.data
    elif isinstance(index, list) or (backend.is_host_data(index) and
                                     not isinstance(index, (int, bool))):
        index = backend.to_device(backend.to_host(index), x.device)
    if backend.is_array(index) and backend.is_floating(index.dtype):
        raise IndexError(f"GetItem: index arrays must be integer or boolean, got {index.dtype}")
    return index
