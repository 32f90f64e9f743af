"""Views that basic indexing cannot make: the diagonal, outside the reading path.

``x[0]``, ``x[:, 1:]``, ``reshape``, ``permute`` are views through the core's indexing
and shape ops. PyTorch's ``diagonal`` is a view too (``A.diagonal().add_(eps)`` adds
to A's diagonal), but no basic index picks it, so it is an op of its own here, whose
forward is the array module's own diagonal view.
"""

from __future__ import annotations

import math

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.indexing import IndexAdd


class Diagonal(Function):
    """y[..., k] = x[k + max(−offset, 0), k + max(offset, 0)] in dims dim1, dim2 of x, the
    diagonal as the last dim: a view of x's memory, as PyTorch's (``x.diagonal().fill_(0)``
    writes x's diagonal; ``Function.apply`` gives the view x's version counter).

    dL/dx = dL/dy on that diagonal, 0 elsewhere: an ``IndexAdd`` at the diagonal's places,
    which are the diagonal of the array of x's flat positions."""

    def forward(self, x: "Array", offset: int, dim1: int, dim2: int) -> "Array":
        self.options = offset, dim1, dim2
        view = backend.xp_of(x).diagonal(x, offset, dim1, dim2)
        if not getattr(view.flags, "writeable", True):  # NumPy's view is read-only, CuPy's
            view.flags.writeable = x.flags.writeable     # is not: writable as x is
        return view

    def backward(self, grad_output: "Grad") -> "Grads":
        shape = self.inputs[0].shape
        size, xp = math.prod(shape), backend.xp_of(self.inputs[0].data)
        places = xp.diagonal(xp.arange(size).reshape(shape), *self.options)  # x's flat places
        return IndexAdd.apply(grad_output, index=places, shape=(size,)).reshape(shape)
