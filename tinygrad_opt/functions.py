"""PyTorch's top-level functions that ``tg`` offers beside the core ones: each is a Tensor
method called as a function (``tg.sort(x)`` is ``x.sort()``), a shape-checked ``matmul``
(``mm``, ``bmm``, ``dot``, ``outer``), or a small constructor or test (``from_numpy``,
``as_tensor``, ``randperm``, ``allclose``). ``tinygrad_opt/__init__.py`` imports them."""

from __future__ import annotations

import warnings

from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import no_grad
from tinygrad_opt.ops import elementwise
from tinygrad_opt.ops.einsum import _check_dtypes
from tinygrad_opt.ops.linalg import matmul
from tinygrad_opt.tensor import Tensor, tensor


def _checked(x, name: str) -> Tensor:
    """``x``, which must be a Tensor: a clear error for ``tg.add(1, t)``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): expected a Tensor as the first argument, got "
                        f"{type(x).__name__} (make one with tg.tensor)")
    return x


def store_out(result: Tensor, out, name: str) -> Tensor:
    """``result``, or, given PyTorch's ``out=``, ``result`` written into the Tensor ``out``
    and ``out`` returned. As in PyTorch, ``out`` takes no part in autograd (a result that
    requires grad is refused), a float result does not go into an integer ``out``, and an
    empty ``out`` is resized; a non-empty one must already have the result's shape."""
    if out is None:
        return result
    if isinstance(result, tuple):  # (values, indices) of sort, topk, ...
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{name}(): out must be a tuple of {len(result)} Tensors")
        return type(result)(*(store_out(r, o, name) for r, o in zip(result, out)))
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): out must be a Tensor, got {type(out).__name__}")
    if result.requires_grad:
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support "
                           "automatic differentiation, but one of the arguments requires grad")
    if backend.is_floating(result.dtype) and not backend.is_floating(out.dtype):
        raise TypeError(f"{name}(): result type {result.dtype} can't be cast to the desired "
                        f"output type {out.dtype}")
    if out.numel() == 0 and result.numel() != 0:
        out.data = backend.get_xp(out.device).empty(result.shape, dtype=out.dtype)
    if out.shape != result.shape:
        raise ValueError(f"{name}(): out has shape {out.shape}, the result {result.shape}")
    with no_grad():
        out.copy_(result)
    return out


def _method(name: str, what: str):
    """``tg.name(input, ...)``: ``input.name(...)``, written into ``out`` if given."""

    def function(input: Tensor, *args, out=None, **kwargs):
        return store_out(getattr(_checked(input, name), name)(*args, **kwargs), out, name)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"{what}: ``input.{name}(...)``."
    return function


def where(condition, input=None, other=None):
    """``torch.where``: ``input`` where ``condition`` holds, else ``other`` (the ``Where`` op
    of ops/elementwise.py); with the condition alone, ``nonzero(condition, as_tuple=True)``,
    the positions where it holds, one int64 tensor per dim, as PyTorch's."""
    if input is None and other is None:
        from tinygrad_opt.ops import rearrange
        return rearrange.nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where: expected where(condition) or where(condition, input, other), "
                        "got only one of input and other")
    return elementwise.where(condition, input, other)


def softmax(input: Tensor, dim: int = -1, dtype=None) -> Tensor:
    """softmax over ``dim``: ``input.softmax(dim)``, after a cast to ``dtype`` if given."""
    input = _checked(input, "softmax")
    return (input if dtype is None else input.astype(dtype)).softmax(dim)


def log_softmax(input: Tensor, dim: int = -1, dtype=None) -> Tensor:
    """log-softmax over ``dim``, stable: ``input.log_softmax(dim)``, after a cast to
    ``dtype`` if given."""
    input = _checked(input, "log_softmax")
    return (input if dtype is None else input.astype(dtype)).log_softmax(dim)


square = _method("square", "x², elementwise")
add = _method("add", "x + alpha · other, elementwise")
sub = _method("sub", "x − alpha · other, elementwise")
mul = _method("mul", "x · other, elementwise")
div = _method("div", "x / other, elementwise")


def pow(input, exponent, *, out=None) -> Tensor:
    """input ** exponent, elementwise; either may be a Python number (``tg.pow(2.0, x)``)."""
    return store_out(input ** exponent, out, "pow")


neg = _method("neg", "−x, elementwise")
norm = _method("norm", "the p-norm over dim")
amax = _method("amax", "maximum over dim, ties share the gradient")
amin = _method("amin", "minimum over dim, ties share the gradient")
all = _method("all", "True where every element is nonzero")
any = _method("any", "True where some element is nonzero")
isnan = _method("isnan", "True where NaN")
isinf = _method("isinf", "True where ±inf")
isfinite = _method("isfinite", "True where neither inf nor NaN")
eq = _method("eq", "x == y, elementwise")
ne = _method("ne", "x != y, elementwise")
lt = _method("lt", "x < y, elementwise")
le = _method("le", "x <= y, elementwise")
gt = _method("gt", "x > y, elementwise")
ge = _method("ge", "x >= y, elementwise")
logical_not = _method("logical_not", "True where x is zero")
logical_and = _method("logical_and", "True where both are nonzero")
logical_or = _method("logical_or", "True where either is nonzero")
masked_fill = _method("masked_fill", "value where mask, else x")
gather = _method("gather", "x picked along dim by an index tensor")
sort = _method("sort", "(values, indices) sorted along dim")
argsort = _method("argsort", "the indices that sort x along dim")
topk = _method("topk", "(values, indices) of the k largest along dim")
tril = _method("tril", "the lower triangle of the last two dims")
triu = _method("triu", "the upper triangle of the last two dims")
cumsum = _method("cumsum", "running sum along dim")
cumprod = _method("cumprod", "running product along dim")
prod = _method("prod", "product over dim (all entries by default)")
numel = _method("numel", "the number of elements")
clone = _method("clone", "a copy that stays in the graph")
detach = _method("detach", "the same data cut from the graph")
broadcast_to = _method("broadcast_to", "x broadcast to a shape")


def is_tensor(obj) -> bool:
    """True for a ``Tensor`` (a Parameter included)."""
    return isinstance(obj, Tensor)


def from_numpy(array) -> Tensor:
    """A CPU tensor that shares ``array``'s memory, as ``torch.from_numpy``: writes through
    either one show in the other (``tg.tensor`` copies instead). The dtype is kept. A
    read-only array gives a read-only tensor (writes raise), with a warning, as PyTorch's."""
    if not isinstance(array, backend.np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: can't convert an array of dtype {array.dtype}; "
                        "supported: bool, integer and floating-point dtypes")
    if not array.dtype.isnative:  # (its memory can't be shared as a native dtype)
        raise ValueError(f"from_numpy: the array's byte order ({array.dtype.str}) differs "
                         "from the native one; convert it first with "
                         "array.astype(array.dtype.newbyteorder('='))")
    if not array.flags.writeable:
        warnings.warn("from_numpy: the given NumPy array is not writable: the tensor shares "
                      "its memory, so writing to the tensor will raise; copy the array "
                      "(tg.tensor(array)) or make it writable first", UserWarning, stacklevel=2)
    if type(array) is not backend.np.ndarray:  # a subclass (np.memmap, np.matrix): its memory
        array = array.view(backend.np.ndarray)  # as a plain array, which every op takes
    return Tensor._make(array)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor without a copy where none is needed, as ``torch.as_tensor``: a
    Tensor already of that dtype and device is returned itself, a NumPy array of that
    dtype bound for the CPU is shared (``from_numpy``: writes show in both); other data
    is converted as ``tg.tensor`` does (an array of the other byte order to the native one)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, backend.np.ndarray) and not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    if (isinstance(data, backend.np.ndarray) and data.dtype.kind in "biuf"
            and (dtype is None or backend.as_dtype(dtype) == data.dtype)
            and backend.check_device(device) == "cpu"):  # (None: the default device)
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def randperm(n: int, dtype=backend.int64, device=None, requires_grad: bool = False, *,
             generator=None) -> Tensor:
    """A random permutation of 0 .. n−1, drawn from ``generator`` (a ``tg.Generator``) or
    else the framework's host generator (``tg.manual_seed``). As PyTorch, n − 1 must be
    exact in ``dtype`` (float16: n ≤ 2049, float32: n ≤ 2²⁴ + 1, int8: n ≤ 128), else
    values would round or wrap into duplicates; bool refuses."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"randperm: n must be an integer >= 0, got {n!r}")
    dtype = backend.as_dtype(dtype)
    if dtype == backend.bool_:
        raise TypeError("randperm: not implemented for dtype bool")
    exact = (2 ** (backend.np.finfo(dtype).nmant + 1) if backend.is_floating(dtype)
             else backend.np.iinfo(dtype).max)            # the largest value held exactly
    if n - 1 > exact:
        raise ValueError(f"randperm: n={n} is too large for dtype {dtype}: its values "
                         f"0 .. n−1 are exact only up to {exact}")
    rng = backend.host_rng() if generator is None else generator.numpy_rng
    order = rng.permutation(n).astype(dtype)
    return Tensor(order, requires_grad=requires_grad, device=device)


def allclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when, everywhere (after broadcasting), a == b (equal infinities included) or
    |a − b| <= atol + rtol·|b| with |a − b| finite (so inf and −inf are not close), as
    PyTorch's ``isclose(...).all()``; a is ``input``, b is ``other``."""
    a, b = _checked(input, "allclose"), other
    with no_grad():
        difference = abs(a - b)
        close = (a == b) | (difference.isfinite() & (difference <= atol + rtol * abs(b)))
        if equal_nan:
            close = close | (a.isnan() & as_tensor(b, device=a.device).isnan())
        return bool(close.all().item())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when ``input`` and ``other`` have the same shape and the same elements."""
    a, b = _checked(input, "equal"), other
    return a.shape == b.shape and bool((a == b).all().item())


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """The product of two matrices, (n, k) @ (k, m): ``matmul`` for 2-d inputs of one dtype
    only (PyTorch's mm does not promote)."""
    a, b = _checked(input, "mm"), mat2
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected two matrices, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"mm: input {a.shape} and mat2 {b.shape} cannot be multiplied: "
                         f"{a.shape[1]} columns, {b.shape[0]} rows")
    _check_dtypes("mm", input=a, mat2=b)
    return store_out(matmul(a, b), out, "mm")


def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched matrix products, (B, n, k) @ (B, k, m) (no broadcasting of B, one dtype)."""
    a, b = _checked(input, "bmm"), mat2
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expected two batches of matrices of one batch size, got "
                         f"shapes {a.shape} and {b.shape}")
    if a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: input {a.shape} and mat2 {b.shape} cannot be multiplied: "
                         f"{a.shape[2]} columns, {b.shape[1]} rows")
    _check_dtypes("bmm", input=a, mat2=b)
    return store_out(matmul(a, b), out, "bmm")


def dot(input: Tensor, tensor: Tensor, *, out=None) -> Tensor:
    """Σ a_i b_i for two vectors of one length and one dtype (a is ``input``, b is
    ``tensor``, PyTorch's names); the result keeps that dtype (int32 stays int32, where
    ``sum`` alone widens integers to int64). float16 vectors are multiplied and summed in
    float32 and the sum rounded once, as PyTorch's kernel: a float16 product a_i b_i past
    65,504 is inf, so [300, 300]·[300, −300] was NaN (inf − inf) where it is 0."""
    a, b = _checked(input, "dot"), tensor
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"dot: expected two vectors of one length, got shapes {a.shape} and "
                         f"{b.shape}")
    _check_dtypes("dot", input=a, tensor=b)
    if a.dtype == backend.float16:
        wide = backend.float32
        product = (a.astype(wide) * b.astype(wide)).sum().astype(a.dtype)
    else:
        product = (a * b).sum(dtype=a.dtype)
    return store_out(product, out, "dot")


def outer(input: Tensor, vec2: Tensor, *, out=None) -> Tensor:
    """The matrix a_i b_j of two vectors (a is ``input``, b is ``vec2``)."""
    a, b = _checked(input, "outer"), vec2
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected two vectors, got shapes {a.shape} and {b.shape}")
    return store_out(a.reshape(-1, 1) * b.reshape(1, -1), out, "outer")


def matmul_into(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """``torch.matmul(input, other, out=...)``: ``input @ other`` with NumPy's rules (the
    ``matmul`` of ops/linalg.py), written into ``out`` if given."""
    return store_out(matmul(_checked(input, "matmul"), other), out, "matmul")


device = backend.device  # torch.device (backend/devices.py)
