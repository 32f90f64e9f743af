"""``Tensor``: an array, the gradient that backward leaves in it, and the op that made it.

This file holds the Tensor's state, its conversions and its operators. It does
no math: every operator is one line that hands over to a named op in
``tinygrad_opt/ops/`` (``grep "def __add__"`` finds it here, ``class Add`` there).
PyTorch's spellings that add no math (``size``, ``float()``, ``eq``, ``gather``, ``norm``,
``relu_``, ...) are inherited from ``ops/conveniences.py``, outside the reading path.

Follow ``a * b`` to the gradient in ``a.grad``:
``Tensor.__mul__`` → ``ops.elementwise.mul`` (turns numbers into Tensors,
broadcasts) → ``Mul.apply`` (computes, records ``c.grad_fn``) → ``c.backward()``
→ ``autograd.engine.run_backward`` → ``Mul.backward`` → ``a.grad``. (A plain
``loss.backward()`` runs by the engine's twin, ``autograd/fast_backward.py``: the same
steps with the engine's helpers inline.)
"""

from __future__ import annotations

import warnings

from tinygrad_opt import backend, python_data
from tinygrad_opt.size import Size
from tinygrad_opt.autograd import (engine, fast_backward, grad_attribute, grad_mode,
                                   tensor_hooks)
from tinygrad_opt.ops import conveniences, elementwise, fused, indexing, linalg, reduce, shape


class Tensor(conveniences.Conveniences):
    """An n-dimensional array that can record the ops applied to it and backprop.

    ``Tensor(data, dtype=None, requires_grad=False, device=None)``: Python
    floats (and float lists) become float32, Python ints int64, NumPy arrays keep
    their dtype. Like ``torch.tensor`` the data is copied: a NumPy array given
    here is never changed by the tensor (device arrays, e.g. CuPy's, are used
    as they are). Only floating-point tensors can require grad.

    Attributes: ``data`` (the backend array), ``grad`` (a Tensor or None, filled by
    backward), ``requires_grad``, ``grad_fn`` (the op that made it, or None).
    """

    __slots__ = ("data", "_grad", "grad_fn", "requires_grad", "_hooks", "_retains_grad",
                 "_versions", "_made", "_base", "__weakref__")  # _made, _base: Function.apply
    __array_ufunc__ = None  # so ndarray * Tensor calls Tensor.__rmul__

    def __init__(self, data, dtype=None, requires_grad: bool = False, device=None):
        shared = isinstance(data, Tensor)  # a Tensor's array is shared (nn.Parameter(t))
        versions = data._versions if shared else [0]
        if shared:
            data = data.data
        home = backend.device_of(data) if backend.is_array(data) else "cpu"
        if device is None and (shared or home != "cpu"):  # (host data: the default device)
            device = home  # a device array, or a Tensor's, stays where it is
        device = backend.check_device(device)
        if backend.is_array(data):
            if data.dtype.kind not in "biufc":  # object, string, date arrays: as PyTorch
                raise TypeError(f"can't convert an array of dtype {data.dtype} to a Tensor: "
                                "the supported dtypes are bool, integers, floats (complex)")
            array = backend.to_device(data, device)
            if array is data and not shared and type(data) is backend.np_types[0]:
                array = data.copy()  # like torch.tensor: a NumPy array is copied, never shared
        else:  # numbers, lists, NumPy scalars: torch.tensor's dtypes (python_data.py)
            array = backend.to_device(python_data.host_array(data, dtype), device)
        if dtype is not None and array.dtype != backend.as_dtype(dtype):
            array = array.astype(backend.as_dtype(dtype))
        self.data = array
        self._grad = self.grad_fn = self._hooks = None
        self.requires_grad = False
        self._retains_grad = False
        self._versions = versions if array is data else [0]  # see _version
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad: bool = False) -> "Tensor":
        """Wrap an array an op produced (no checks, no copy: the fast path)."""
        tensor = object.__new__(Tensor)
        tensor.data = data
        tensor._grad = tensor.grad_fn = tensor._hooks = None
        tensor.requires_grad = requires_grad
        tensor._retains_grad = False
        tensor._versions = [0]
        return tensor

    # --- attributes ---
    @property
    def shape(self) -> Size:
        """The size of each dim: a ``Size``, PyTorch's tuple of ints (size.py)."""
        return Size(self.data.shape)

    @property
    def ndim(self) -> int:
        """The number of dims (0 for a 0-d, scalar tensor)."""
        return self.data.ndim

    @property
    def dtype(self):
        """The NumPy dtype of the elements (``tg.float32``, ``tg.int64``, ...)."""
        return self.data.dtype

    @property
    def device(self) -> str:
        """Where the data lives: ``'cpu'``, ``'cuda'`` or ``'strict'`` (the test device)."""
        return backend.device_of(self.data)

    @property
    def _version(self) -> int:
        """How many in-place writes the memory of this tensor has seen (``x[...] = v``,
        ``+=``, optimizer steps). Tensors that share memory (a view, ``detach()``)
        share the counter. An op that saved a tensor checks it in backward
        (``Function.saved_inputs``), so a changed value is an error, not a wrong gradient."""
        return self._versions[0]

    @_version.setter
    def _version(self, value: int) -> None:
        self._versions[0] = value

    @property
    def grad(self):
        """d(loss)/d(self) after backward (a Tensor), or None. Reading it on a non-leaf that
        does not ``retain_grad()`` warns, and an assigned gradient must be a Tensor of this
        tensor's dtype, device and shape, as in PyTorch (autograd/grad_attribute.py)."""
        if self._grad is None and self.grad_fn is not None and not self._retains_grad:
            grad_attribute.warn_non_leaf()
        return self._grad

    @grad.setter
    def grad(self, grad) -> None:
        self._grad = None if grad is None else grad_attribute.checked(self, grad)

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (not the output of a recorded op)."""
        return self.grad_fn is None

    @property
    def T(self) -> "Tensor":
        """All axes reversed (the transpose of a matrix)."""
        return shape.permute(self, tuple(reversed(range(self.ndim))))

    # --- conversions ---
    def numpy(self, force: bool = False):
        """The values as a host NumPy array (a copy when the tensor is on a device; ``force``,
        PyTorch's, changes nothing: the array never shares a graph)."""
        return backend.to_host(self.data)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"number, this one has shape {self.shape}")
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        """NumPy may convert a CPU tensor; device tensors need an explicit ``.numpy()``.
        ``np.array(t)`` (copy=True) gets a copy: writing into it must not change ``t``
        behind its version counter."""
        if self.device != "cpu":
            raise TypeError(f"cannot convert a tensor on '{self.device}' to a NumPy array "
                            "implicitly: use .numpy()")
        array = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return array.copy() if copy and array is self.data else array

    def to(self, *args, **kwargs) -> "Tensor":
        """This tensor on a device and/or as a dtype (itself if nothing changes, a copy with
        ``copy=True``); gradients flow back. PyTorch's spellings: ``to('cuda')``,
        ``to(tg.float64)``, ``to('cpu', tg.float64)``, ``to(other)`` (other's device and
        dtype), ``to(device=..., dtype=...)``; ``conveniences.to_arguments`` sorts them."""
        device, dtype, copy = conveniences.to_arguments(args, kwargs, Tensor)
        moved = self
        if device not in (None, self.device):
            moved = elementwise.ToDevice.apply(self, device=device)
        if dtype is not None:
            moved = moved.astype(dtype)
        return moved.clone() if copy and moved is self else moved

    def astype(self, dtype) -> "Tensor":
        """This tensor as ``dtype`` (itself if already that dtype); the gradient comes back
        in the original dtype."""
        dtype = backend.as_dtype(dtype)
        return self if dtype == self.dtype else elementwise.Cast.apply(self, dtype=dtype)

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (no grad_fn, requires_grad=False)."""
        detached = Tensor._make(self.data, False)
        detached._versions = self._versions  # the same memory: one version counter
        return detached

    def clone(self, *, memory_format=None) -> "Tensor":
        """A copy with its own memory that stays in the graph (as PyTorch's clone; every copy
        here is contiguous, so ``memory_format`` changes nothing)."""
        return elementwise.Clone.apply(self)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return this tensor. Only float tensors can
        require grad; a non-leaf cannot be set to False (use ``detach()``)."""
        if requires_grad and not backend.is_floating(self.dtype):
            raise TypeError(f"only floating-point tensors can require gradients; this one "
                            f"has dtype {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    # --- autograd ---
    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d self / d leaf into ``.grad`` of every leaf that requires grad (only of
        ``inputs`` when given: ``autograd.functional.backward``, as torch.autograd.backward)."""
        if inputs is not None:
            from tinygrad_opt.autograd.functional import backward  # (it imports this module)
            return backward(self, gradient, retain_graph, create_graph, inputs)
        fast_backward.backward(self, gradient, bool(retain_graph), create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned
        Tensor replaces the gradient. Returns a handle with ``.remove()`` (tensor_hooks.py)."""
        return tensor_hooks.register(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` (a leaf) after each backward writes ``self.grad``."""
        return tensor_hooks.register_post_accumulate(self, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor too."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retains_grad = True

    # --- arithmetic operators (one line each: the math is in ops/) ---
    def __add__(self, other):
        return elementwise.add(self, other)

    __radd__ = __add__  # a + b = b + a

    def __sub__(self, other):
        return elementwise.sub(self, other)

    def __rsub__(self, other):
        return elementwise.rsub(self, other)

    def __mul__(self, other):
        return elementwise.mul(self, other)

    __rmul__ = __mul__  # a · b = b · a

    def __truediv__(self, other):
        return elementwise.div(self, other)

    def __rtruediv__(self, other):
        return elementwise.rdiv(self, other)

    def __pow__(self, other):
        return elementwise.pow(self, other)

    def __rpow__(self, other):
        return elementwise.rpow(self, other)

    def __matmul__(self, other):
        """``self @ other`` with NumPy's rules: 1-D operands are vectors, batch dims broadcast."""
        return linalg.matmul(self, other)

    matmul = __matmul__  # x.matmul(y) is x @ y

    def __rmatmul__(self, other):
        return linalg.matmul(shape.as_operand(other, self, "MatMul"), self)

    def __neg__(self):
        return elementwise.Neg.apply(self)

    def __abs__(self):
        return elementwise.Abs.apply(self)

    # --- in place: x += v is x[...] = x + v, recorded when a gradient must flow ---
    def __iadd__(self, other):
        return self._in_place("__iadd__", other)

    def __isub__(self, other):
        return self._in_place("__isub__", other)

    def __imul__(self, other):
        return self._in_place("__imul__", other)

    def __itruediv__(self, other):
        return self._in_place("__itruediv__", other)

    def _in_place(self, method, other, name=None):  # (name: add_ ... names its errors)
        conveniences.check_in_place(name or method, self, other, method == "__itruediv__")
        if grad_mode.flags.grad and engine.rewirings:  # (see Function.apply)
            engine.remake_stale_views((self, other))
        if (grad_mode.flags.grad and (self.requires_grad or getattr(other, "requires_grad", False))
                or grad_mode.flags.forward_ad is not None  # (forward mode: setitem checks)
                or elementwise.in_float32(self, other)):   # (the op in float32, as x op v)
            # as PyTorch: the op reads a copy of the old x (x *= w needs it for w's gradient)
            self[...] = getattr(self.clone(), method.replace("__i", "__", 1))(other)
            return self  # (indexing.setitem: a leaf that requires grad refuses)
        getattr(self.data, method)(shape.as_operand(other, self, method).data)
        self._version += 1  # an op that saved this tensor will refuse to backward
        return self

    def __setitem__(self, index, value):
        indexing.setitem(self, index, value)

    # --- comparisons (no gradient: they return bool tensors) ---
    def __eq__(self, other):
        return self._compare("__eq__", other)

    def __ne__(self, other):
        return self._compare("__ne__", other)

    def __lt__(self, other):
        return self._compare("__lt__", other)

    def __le__(self, other):
        return self._compare("__le__", other)

    def __gt__(self, other):
        return self._compare("__gt__", other)

    def __ge__(self, other):
        return self._compare("__ge__", other)

    __hash__ = object.__hash__  # tensors are dict keys by identity (optimizer state)

    def _compare(self, method, other):
        other = shape.as_operand(other, self, method)
        return Tensor._make(backend.as_array(getattr(self.data, method)(other.data)))

    def __bool__(self):
        if self.data.size != 1:  # (PyTorch's words)
            what = "no values" if self.data.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {what} is ambiguous ({self.shape})")
        return bool(self.data.item())

    # --- elementwise ---
    def exp(self):
        """e^x, elementwise (a non-float tensor becomes float32 first)."""
        return elementwise.Exp.apply(elementwise.floating(self))

    def log(self):
        """The natural log, elementwise (a non-float tensor becomes float32 first)."""
        return elementwise.Log.apply(elementwise.floating(self))

    def sqrt(self):
        """√x, elementwise (a non-float tensor becomes float32 first)."""
        return elementwise.Sqrt.apply(elementwise.floating(self))

    def sin(self):
        """sin x, elementwise (a non-float tensor becomes float32 first)."""
        return elementwise.Sin.apply(elementwise.floating(self))

    def cos(self):
        """cos x, elementwise (a non-float tensor becomes float32 first)."""
        return elementwise.Cos.apply(elementwise.floating(self))

    def tanh(self):
        """tanh x, elementwise (a non-float tensor becomes float32 first)."""
        return elementwise.Tanh.apply(elementwise.floating(self))

    def sigmoid(self):
        """σ(x) = 1 / (1 + e^−x), elementwise, without overflow (non-float: float32 first)."""
        return elementwise.Sigmoid.apply(elementwise.floating(self))

    def relu(self):
        """max(x, 0), elementwise; the gradient is 1 where x > 0, else 0."""
        return fused.relu(self)  # twin of elementwise.Relu (a faster plain backward on the CPU)

    def abs(self):
        """|x|, elementwise, in x's dtype; the gradient is sign(x) (0 at x = 0)."""
        return elementwise.Abs.apply(self)

    def sign(self):
        """−1, 0 or 1 by the sign of each element, in x's dtype; the gradient is 0."""
        return elementwise.Sign.apply(self)

    def clip(self, min=None, max=None):
        """Each element limited to [min, max] (either may be None; ``clamp`` is this method).
        Tensor bounds broadcast and get gradients too (see ``ops.elementwise.clip``)."""
        return elementwise.clip(self, min, max)

    clamp = clip

    def maximum(self, other):
        """The elementwise maximum with ``other`` (a Tensor or number, broadcast); where they
        are equal, each side gets half the gradient."""
        return elementwise.maximum(self, other)

    def minimum(self, other):
        """The elementwise minimum with ``other`` (a Tensor or number, broadcast); where they
        are equal, each side gets half the gradient."""
        return elementwise.minimum(self, other)

    # --- reductions (PyTorch's dim/keepdim; NumPy's axis/keepdims work too) ---
    def sum(self, dim=None, keepdim=False, **numpy_spelling):
        """The sum over ``dim`` (an int or tuple; None: all), kept as size 1 with ``keepdim``;
        NumPy's ``axis``/``keepdims`` work too. A bool or unsigned tensor sums as int64;
        ``dtype=`` casts first (``x.sum(dtype=tg.float64)``)."""
        return reduce.sum(self, dim, keepdim, **numpy_spelling)

    def mean(self, dim=None, keepdim=False, **numpy_spelling):
        """The mean over ``dim`` (None: all), keywords as ``sum``; a non-float tensor: float32
        (the default float)."""
        return reduce.mean(self, dim, keepdim, **numpy_spelling)

    def var(self, dim=None, unbiased=None, keepdim=False, **options):
        """The variance over ``dim`` (None: all), Σ(x − mean)² / (n − ``correction``): 1 by default,
        0 with ``unbiased=False`` (PyTorch's ``x.var(dim, unbiased, keepdim)``); ``keepdim`` and
        NumPy's ``axis``/``keepdims`` work too."""
        return reduce.var(self, dim, keepdim, unbiased=unbiased, **options)

    def std(self, dim=None, unbiased=None, keepdim=False, **options):
        """√var, with var's arguments (``unbiased``, ``keepdim``, ``correction``, ...); the
        gradient is 0 where var = 0, as in PyTorch."""
        return reduce.std(self, dim, keepdim, unbiased=unbiased, **options)

    def max(self, dim=None, keepdim=False, **numpy_spelling):
        """The maximum over ``dim`` (None: all): values only, where PyTorch gives (values, indices)
        for a dim. Ties share the gradient; ``keepdim`` and NumPy's ``axis``/``keepdims`` work."""
        return reduce.max(self, dim, keepdim, **numpy_spelling)

    def min(self, dim=None, keepdim=False, **numpy_spelling):
        """The minimum over ``dim`` (None: all) as ``max``: values only, ties share the gradient."""
        return reduce.min(self, dim, keepdim, **numpy_spelling)

    def argmax(self, dim=None, keepdim=False, **numpy_spelling):
        """The int64 index of the largest value along one ``dim`` (None: in the flattened tensor;
        the first one on ties); no gradient."""
        return reduce.argmax(self, dim, keepdim, **numpy_spelling)

    def logsumexp(self, dim=None, keepdim=False, **numpy_spelling):
        """log Σ exp(x) over ``dim`` (None: all), computed stably (the maximum taken out first);
        keywords as ``sum``. Its gradient is softmax(x)."""
        return reduce.logsumexp(self, dim, keepdim, **numpy_spelling)

    def log_softmax(self, dim=-1, dtype=None):
        """log softmax along ``dim`` (default −1, the last), computed stably, after a cast to
        ``dtype`` if given. ``fused.log_softmax`` is a twin of x − x.logsumexp(dim, keepdim=True)."""
        return fused.log_softmax(self if dtype is None else self.astype(dtype), dim)

    def softmax(self, dim=-1, dtype=None):
        """softmax along ``dim`` (default −1, the last): ``log_softmax(dim, dtype).exp()``."""
        return fused.softmax(self if dtype is None else self.astype(dtype), dim)

    # --- shape ---
    def reshape(self, *new_shape):
        """The same elements in a new shape (``x.reshape(2, 3)`` or ``x.reshape((2, 3))``, one
        size may be −1): a view of this tensor's memory where it can be, else a copy."""
        return shape.reshape(self, _shape_args(new_shape))

    def view(self, *new_shape):
        """``reshape`` that never copies, as PyTorch's: the result shares this tensor's memory
        (and version counter), so a shape that would need a copy raises instead of giving a
        tensor whose writes are lost. ``view(dtype)``: the same bytes read as ``dtype``."""
        if len(new_shape) == 1 and isinstance(new_shape[0], (str, type, backend.np.dtype)):
            return self._view_as_dtype(new_shape[0])  # (ops/everyday.py)
        out = self.reshape(*new_shape)
        if out._versions is not self._versions and self.data.size:
            raise RuntimeError(f"view: a tensor of shape {self.shape} whose memory is not in "
                               f"order (a transpose, a step) cannot be viewed as {out.shape} "
                               "without a copy; use .reshape(...) instead")
        return out

    def transpose(self, dim0=0, dim1=1):
        """This tensor with dims ``dim0`` and ``dim1`` swapped (by default 0 and 1)."""
        return shape.transpose(self, dim0, dim1)

    def permute(self, *dims):
        """This tensor with its dims reordered: dim i of the result is its dim ``dims[i]``."""
        return shape.permute(self, _shape_args(dims))

    def expand(self, *new_shape):
        """This tensor broadcast to ``new_shape`` (−1 keeps a size; new dims only in front);
        the gradient is summed back."""
        return shape.expand(self, _shape_args(new_shape))

    def squeeze(self, dim=None):
        """This tensor without size-1 dims: all, or those among ``dim`` (an int or tuple)."""
        return shape.squeeze(self, dim)

    def unsqueeze(self, dim):
        """This tensor with a size-1 dim inserted at position ``dim`` (−1: at the end)."""
        return shape.unsqueeze(self, dim)

    def flatten(self, start_dim=0, end_dim=-1):
        """Dims ``start_dim`` to ``end_dim`` (both included) merged into one; 0-d gives (1,)."""
        return shape.flatten(self, start_dim, end_dim)

    def __getitem__(self, index):
        return indexing.getitem(self, index)


def _shape_args(args):
    """Accept both x.reshape(2, 3) and x.reshape((2, 3))."""
    return tuple(args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args)


def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Same as ``Tensor(...)``, PyTorch's spelling; like ``torch.tensor``, a Tensor
    given here is copied, with PyTorch's warning (``Tensor(t)`` and ``nn.Parameter(t)``
    share its memory)."""
    if isinstance(data, Tensor):
        warnings.warn(COPY_CONSTRUCT_WARNING, UserWarning, stacklevel=2)
        data = data.copy().data
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


COPY_CONSTRUCT_WARNING = (
    "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
    "or sourceTensor.detach().clone().requires_grad_(True), rather than tg.tensor(sourceTensor).")
