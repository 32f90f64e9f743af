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

The base's other views, taken before the write, still lead to its old graph. The next
op that uses one makes it again the same way (``remake``, called by
``engine.remake_stale_views``), as PyTorch remakes a view's grad_fn when its base changed.
"""

from __future__ import annotations

import math
import weakref

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.autograd.grad_mode import flags
from tinygrad_opt.ops.indexing import IndexAdd

from tinygrad_opt.tensor import Tensor


class ViewOf(Function):
    """view = base[where], made again after a write into base: the view keeps its memory
    (still base's), only its graph changes. Inputs: the view as it was, and the base;
    ``where``: the flat position in base of each element of the view (the view's shape).

    dL/d(before) = None (its values were replaced),   dL/dbase = dL/dview scattered at where.
    """

    def forward(self, before: "Array", base: "Array", where) -> "Array":
        self.where, self.base_shape = where, base.shape
        return base.reshape(-1)[where]

    def backward(self, grad_output: "Grad") -> "Grads":
        size = math.prod(self.base_shape)
        flat = IndexAdd.apply(grad_output, index=self.where, shape=(size,))
        return None, flat.reshape(self.base_shape)


def write_through(view, index, value) -> None:
    """``view[index] = value`` recorded as a write into the view's base (see above)."""
    base = _root(view)
    if base.requires_grad and base.grad_fn is None:       # PyTorch's refusal too
        raise RuntimeError(f"a view (of shape {view.shape}) of a leaf tensor (of shape "
                           f"{base.shape}) that requires grad is being used in an in-place "
                           "operation; do it inside tg.no_grad()")
    where = _positions(base, view)                       # view's elements in base
    host = backend.to_host(where)
    if backend.np.unique(host).size < host.size:
        raise RuntimeError(
            f"SetItem: unsupported operation: more than one element of the written-to "
            f"tensor (shape {view.shape}, a view such as expand()'s) refers to a single "
            "memory location; clone() it before writing")
    written = where[index]                               # the elements this write reaches
    if base.ndim:                                        # recorded: base joins the graph
        base[backend.xp_of(where).unravel_index(written, base.shape)] = value
    elif backend.np.size(written):                       # (a 0-d base: its one element)
        base[...] = value.reshape(())
    _made_again(view, base, where)


def check_write(x, op: str) -> None:
    """Refuse, as PyTorch, an in-place write into ``x`` that would go wrong: into a view
    whose elements share memory (``backend.check_writable``), and, in grad mode, into a
    view out of the graph of the tensor whose memory it is, when that tensor requires
    grad: a view made under ``no_grad`` (or before its leaf was set to require grad).
    Such a write would change the tensor's values and not its graph, so the tensor's
    gradient would be silently wrong. A view that is not differentiable may be written,
    as in PyTorch (``view(dtype)``; ``detach()`` is no view here): the shared version
    counter makes any op that saved the tensor refuse to backward. A view that a
    recorded write into its tensor left stale is made again before the write
    (``engine.remake_stale_views``): it is in the graph then."""
    backend.check_writable(x.data, op)
    if not flags.grad or x.requires_grad or getattr(x, "_made", None) != len(x._versions):
        return  # (no grad mode, in the graph, no view, or a stale view made again first)
    base = x
    while getattr(base, "_base", None) is not None:
        if base._base.dtype != base.dtype:
            return  # a view(dtype) on the way: not differentiable, as PyTorch's
        base = base._base
    if not base.requires_grad:
        return
    if base.grad_fn is None:
        raise RuntimeError(f"{op}: a view (of shape {x.shape}) of a leaf tensor (of shape "
                           f"{base.shape}) that requires grad is being used in an in-place "
                           "operation; do it inside tg.no_grad()")
    raise RuntimeError(
        f"{op}: a view (of shape {x.shape}) of a tensor (of shape {base.shape}) that "
        "requires grad was made under no_grad and is being changed in place with grad "
        "mode on: the tensor's gradient would not know of the write (PyTorch refuses it "
        "too). Make the view and the write both inside tg.no_grad() (the write not "
        "tracked) or both outside (tracked)")


def remake(view) -> None:
    """Make ``view`` again from its tensor after a recorded write into that tensor which
    came after the view was made (``engine.remake_stale_views``)."""
    base = _root(view)
    _made_again(view, base, _positions(base, view))


def _made_again(view, base, where) -> None:
    """view = base[where] in the graph (``ViewOf``); ops that used the view up to the last
    recorded write into its memory keep the view as it was (``before``), as after setitem."""
    before = Tensor._make(view.data, view.requires_grad)  # the view as it was
    before.grad_fn, before._version = view.grad_fn, view._version
    if view.grad_fn is not None:
        view.grad_fn.output_ref = weakref.ref(before)
    remade = ViewOf.apply(before, base, where=where)
    view.grad_fn, view.requires_grad = remade.grad_fn, remade.requires_grad
    if remade.grad_fn is not None:
        remade.grad_fn.output_ref = weakref.ref(view)
        remade.grad_fn.versions = (*remade.grad_fn.versions[:-1], view._version)  # (output)
        remade.grad_fn.rewired_version = view._versions[-1]  # the last recorded write
        engine.rewirings += 1
    view._made = len(view._versions)                      # up to date with its memory


def _root(view):
    """The tensor at the end of the chain of ``_base``s: the one whose memory it is."""
    base = view
    while getattr(base, "_base", None) is not None:
        base = base._base
    return base


def _positions(base, view):
    """The flat position in ``base`` of each element of ``view`` (both look into one
    memory), matched by address: an int64 array of view's shape, on base's device."""
    np = backend.np
    base_at = _addresses(base.data).ravel()
    view_at = _addresses(view.data)
    order = np.argsort(base_at, kind="stable")
    found = order[np.searchsorted(base_at[order], view_at).clip(0, max(base_at.size - 1, 0))]
    if base_at.size == 0 or not (base_at[found] == view_at).all():
        if view_at.size:
            raise RuntimeError(f"a view of shape {view.shape} reaches memory outside its "
                               f"base of shape {base.shape}; clone() it before writing")
    return backend.to_device(np.asarray(found, dtype=np.int64), base.device)


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
