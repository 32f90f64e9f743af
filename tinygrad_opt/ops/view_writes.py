"""A write through a view goes into the view's base, as in PyTorch (its ``CopySlices``).

``row = t[0]; row[1] = v``, and so ``t[:, 0] *= 2`` (Python reads the view ``t[:, 0]``,
multiplies it in place, writes it back): the memory written is t's, so t's graph must
record the write, not only the view's. ``indexing.setitem`` hands such a write here:

1. ``base``: the tensor the view looks into (each view op's output notes its input as
   ``_base``, in ``Function.apply``; the chain is followed to its end).
2. ``where``: the position in ``base`` of every element of the view, found from the
   memory itself: a view is an offset and strides into its base's memory (NumPy's and
   CuPy's model), so each element's byte address names the element of ``base`` it is.
3. ``base[where[index]] = value``: an ordinary recorded write (a ``SetItem``) into the base.
4. The view is made again from the new base, ``view = base[where]`` (``ViewOf``): its
   memory was right all along; its graph now leads to the write. Ops that used the view
   before the write still send their gradient to the view as it was (``before``), as
   ``setitem`` arranges for every written tensor.

The base's other views, taken before the write, still lead to its old graph: using one
afterwards raises (``engine._inputs_as_used``, ``engine.refuse_stale_views``), where
PyTorch would remake each of them too.
"""

from __future__ import annotations

import weakref

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.indexing import IndexAdd

from tinygrad_opt.tensor import Tensor


class ViewOf(Function):
    """view = base[where], made again after a write through the view: the view keeps its
    memory (still base's), only its graph changes. Inputs: the view as it was before the
    write, and the base after it.

    dL/d(before) = None (its values were replaced),   dL/dbase = dL/dview scattered at where.
    """

    def forward(self, before: "Array", base: "Array", where: tuple) -> "Array":
        self.where, self.base_shape = where, base.shape
        return base[where]

    def backward(self, grad_output: "Grad") -> "Grads":
        return None, IndexAdd.apply(grad_output, index=self.where, shape=self.base_shape)


def write_through(view, index, value) -> None:
    """``view[index] = value`` recorded as a write into the view's base (see above)."""
    base = view
    while getattr(base, "_base", None) is not None:
        base = base._base
    if base.ndim == 0:
        raise RuntimeError(f"SetItem: a recorded write into a view (of shape {view.shape}) of "
                           "a 0-d tensor; write into the 0-d tensor itself")
    where = _positions(base, view)                       # view's elements in base
    if _repeats(where, base.shape):
        raise RuntimeError(
            f"SetItem: unsupported operation: more than one element of the written-to "
            f"tensor (shape {view.shape}, a view such as expand()'s) refers to a single "
            "memory location; clone() it before writing")
    base[tuple(w[index] for w in where)] = value         # recorded: base joins the graph
    before = Tensor._make(view.data, view.requires_grad)  # the view as it was
    before.grad_fn, before._version = view.grad_fn, view._version
    if view.grad_fn is not None:
        view.grad_fn.output_ref = weakref.ref(before)
    remade = ViewOf.apply(before, base, where=where).grad_fn
    view.grad_fn, view.requires_grad = remade, True
    remade.output_ref = weakref.ref(view)
    remade.versions = (*remade.versions[:-1], view._version)   # its output is the view
    remade.rewired_version = view._version - 1           # ops that used the view up to the
    engine.rewirings += 1                                 # write used ``before``


def _repeats(where, shape) -> bool:
    """True when two elements of the view are one element of the base (``expand()``)."""
    flat = backend.np.ravel_multi_index(tuple(backend.to_host(w) for w in where), shape)
    return backend.np.unique(flat).size < flat.size


def _positions(base, view) -> tuple:
    """Index arrays (one per dim of ``base``, each of ``view``'s shape, on base's device)
    giving the element of ``base`` that each element of ``view`` is: matched by address."""
    np = backend.np
    base_at = _addresses(base.data).ravel()
    view_at = _addresses(view.data)
    order = np.argsort(base_at, kind="stable")
    found = order[np.searchsorted(base_at[order], view_at).clip(0, max(base_at.size - 1, 0))]
    if base_at.size == 0 or not (base_at[found] == view_at).all():
        raise RuntimeError(f"SetItem: a view of shape {view.shape} reaches memory outside its "
                           f"base of shape {base.shape}; clone() it before writing")
    return tuple(backend.to_device(i, base.device) for i in np.unravel_index(found, base.shape))


def _addresses(array):
    """The byte address of every element of ``array``, as a host int64 array of its shape:
    the address of its first element plus Σ index_k · stride_k."""
    np = backend.np
    array = getattr(array, "_array", array)              # the strict device's NumPy array
    interface = getattr(array, "__array_interface__", None)            # NumPy's
    start = interface["data"][0] if interface else array.data.ptr      # CuPy's
    addresses = np.full(array.shape, start, dtype=np.int64)
    for axis, (size, stride) in enumerate(zip(array.shape, array.strides)):
        shape = [1] * array.ndim
        shape[axis] = size
        addresses = addresses + (np.arange(size, dtype=np.int64) * stride).reshape(shape)
    return addresses
