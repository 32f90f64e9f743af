"""Running sums and products along a dim, and the product of all entries.

Read after the core (docs/reading-order.md): two primitives with backwards of
their own, ``Cumsum`` and ``Cumprod``, and ``prod``, which is the last entry of a
running product, so that its gradient (zeros included) is ``Cumprod``'s. Each
backward uses only ``Cumsum``/``Cumprod`` themselves, ``where``, indexing and
arithmetic, so it runs on arrays in a plain backward and records a graph under
``create_graph=True``: second derivatives work, as for the core ops.

Integer and bool inputs give int64 results (no gradient), as in PyTorch.
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.shape import normalize_dim


class Cumsum(Function):
    """y_i = Σ_{j≤i} x_j along ``dim``.   dL/dx_j = Σ_{i≥j} dL/dy_i, a running sum
    taken from the far end: reverse, run Cumsum, reverse back."""

    def forward(self, x: "Array", dim: int) -> "Array":
        self.dim = dim
        return _accumulated(backend.xp_of(x).cumsum, x, dim)

    def backward(self, grad_output: "Grad") -> "Grads":
        return _from_the_end(Cumsum, grad_output, self.dim)


class Cumprod(Function):
    """y_i = Π_{j≤i} x_j along ``dim``.

    dL/dx_j = Σ_{i≥j} dL/dy_i · Π_{k≤i, k≠j} x_k. Where no x is 0 the product
    leaving out x_j is y_i / x_j, so dL/dx_j = (Σ_{i≥j} dL/dy_i · y_i) / x_j: a running
    sum from the far end, divided. With a zero, that division is 0/0, so the
    products leaving out x_j are taken directly: row j of P holds the running
    product of x with x_j replaced by 1, and dL/dx_j = Σ_{i≥j} dL/dy_i · P_ji. Both
    are exact (every factor of P is a product, so it differentiates again); the
    second costs n² memory along ``dim``, which is why it waits for a zero.
    """

    def forward(self, x: "Array", dim: int) -> "Array":
        self.dim = dim
        return _accumulated(backend.xp_of(x).cumprod, x, dim)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), y, xp, dim = self.saved_inputs, self.saved_output, self.xp, self.dim
        x_array = self.inputs[0].data
        if not backend.to_host((x_array == 0).any()):
            return _from_the_end(Cumsum, grad_output * y, dim) / x
        n, after = x.shape[dim], (1,) * (x.ndim - dim - 1)   # P's rows j sit at dim, i at dim+1
        i = backend.xp_of(x_array).arange(n).reshape((n,) + after)
        j = i.reshape((n, 1) + after)
        x_without_j = xp.where(i == j, 1, _new_axis(x, dim))     # row j: x with x_j = 1
        P = Cumprod.apply(x_without_j, dim=dim + 1)              # P_ji = Π_{k≤i, k≠j} x_k
        terms = xp.where(i >= j, _new_axis(grad_output, dim) * P, 0)  # only i ≥ j reach x_j
        return terms.sum(axis=dim + 1)


def _accumulated(running, x, dim):
    """``running`` (cumsum, cumprod) of ``x`` along ``dim``, in x's dtype (NumPy would make
    int32 int64). float16 is accumulated in float32 and each entry rounded once, as
    PyTorch does: in float16 a running sum of 0.1s stops at 256, where 0.1 is less than
    half the spacing of float16 numbers."""
    if x.dtype != backend.float16:
        return running(x, axis=dim, dtype=x.dtype)
    return running(x, axis=dim, dtype=backend.float32).astype(backend.float16)


def _from_the_end(op, a, dim):
    """``op`` (a running sum) along ``dim`` taken from the last entry back to the first."""
    reverse = (slice(None),) * dim + (slice(None, None, -1),)
    return op.apply(a[reverse], dim=dim)[reverse]


def _new_axis(a, dim):
    """``a`` with a new axis of size 1 at ``dim``."""
    return a.reshape(a.shape[:dim] + (1,) + a.shape[dim:])


def cumsum(x, dim: int, *, dtype=None):
    """Running sum along ``dim``: y_i = x_0 + ... + x_i (PyTorch's ``torch.cumsum``)."""
    return _running(Cumsum, x, dim, dtype, "cumsum")


def cumprod(x, dim: int, *, dtype=None):
    """Running product along ``dim``: y_i = x_0 · ... · x_i (``torch.cumprod``)."""
    return _running(Cumprod, x, dim, dtype, "cumprod")


def prod(x, dim=None, keepdim: bool = False, *, dtype=None):
    """The product over ``dim`` (an int, a tuple of ints, or all entries): the last entry
    of the running product, so the gradient is Cumprod's, exact where entries are 0.
    The product of no entries is 1."""
    x = _cast(x, dtype)
    dtype = x.dtype  # from here on: the calls below keep it (int32 with dtype=int32 stays)
    if dim is None:
        return prod(x.reshape(-1), 0, dtype=dtype).reshape((1,) * x.ndim if keepdim else ())
    if isinstance(dim, (tuple, list)):
        dims = sorted({normalize_dim(d, x.ndim, "prod") for d in dim}, reverse=True)
        for d in dims:   # the highest dim first, so the lower ones keep their index
            x = prod(x, d, keepdim=keepdim, dtype=dtype)
        return x
    dim = normalize_dim(dim, x.ndim, "prod")
    if x.ndim == 0:   # a copy, in the graph: x (or a reshape, a view) would alias the input
        return x.clone()
    if x.shape[dim] == 0:  # Σ over nothing is 0, so this is 1 (and in the graph)
        return (x.sum(dim, keepdim=keepdim) + 1).astype(dtype)
    last = slice(-1, None) if keepdim else -1
    return cumprod(x, dim, dtype=dtype)[(slice(None),) * dim + (last,)]


def _running(op, x, dim, dtype, name):
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    x = _cast(x, dtype)
    dim = normalize_dim(dim, x.ndim, name)
    if x.ndim == 0:
        return op.apply(x.reshape(1), dim=0).reshape(())
    return op.apply(x, dim=dim)


def _cast(x, dtype):
    """``x`` in ``dtype`` (given) or, for integers and bools, in int64 as PyTorch sums them."""
    if dtype is not None:
        return x.astype(backend.as_dtype(dtype))
    if not backend.is_floating(x.dtype) and x.dtype != backend.int64:
        return x.astype(backend.int64)
    return x
