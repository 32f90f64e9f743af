"""Elementwise ops: each output element depends on the same element of the inputs.

Every class is one primitive: ``forward`` on arrays, then ``backward`` with the
derivative from its docstring: one formula that runs on arrays in a plain
backward and on Tensors under ``create_graph`` (autograd/function.py). Binary
ops see inputs of one shape: broadcasting happened before them (see
``shape.BroadcastTo``).
"""

from __future__ import annotations

import numbers

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops import integer_power
from tinygrad_opt.ops.shape import as_operand, broadcast_operands

import tinygrad_opt.tensor as tensor_module


def constant(array):
    """A Tensor that never requires grad (masks, signs: their derivative is 0)."""
    return tensor_module.Tensor._make(backend.as_array(array), False)  # (NumPy 0-d → scalar)


# --- binary arithmetic ---

class Add(Function):
    """y = a + b.   dy/da = 1, dy/db = 1."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return a + b

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output, grad_output


class Sub(Function):
    """y = a - b.   dy/da = 1, dy/db = -1."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return a - b

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output, -grad_output


class Mul(Function):
    """y = a * b.   dy/da = b, dy/db = a."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return a * b

    def backward(self, grad_output: "Grad") -> "Grads":
        grad_a = grad_output * self.saved_input(1) if self.needs_input_grad[0] else None
        grad_b = grad_output * self.saved_input(0) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """y = a / b.   dy/da = 1/b, dy/db = -a/b²."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return a / b

    def backward(self, grad_output: "Grad") -> "Grads":
        a, b = self.saved_inputs
        grad_a = grad_output / b if self.needs_input_grad[0] else None
        grad_b = -grad_output * a / (b * b) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Pow(Function):
    """y = a ** b.   dy/da = b·a^(b−1), dy/db = y·log(a).

    dy/da = 0 where b = 0 (a⁰ = 1 is flat): the formula gives it, and only at a = 0 or
    NaN, where b·a^(b−1) would be 0·∞ or NaN, is 0 selected instead (so the formula's own
    derivative in b, 1/a, stays for second derivatives; PyTorch selects 0 wherever b = 0). And
    dy/db = 0 where a = 0 and b ≥ 0 (y·log a → 0), as in PyTorch.
    """

    def forward(self, a: "Array", b: "Array") -> "Array":
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # (a negative b: PyTorch's rule)
            return integer_power.integer_power(a, b)
        return a ** b

    def backward(self, grad_output: "Grad") -> "Grads":
        (a, b), xp = self.saved_inputs, self.xp
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = xp.where((b == 0) & ((a == 0) | (a != a)), 0, grad_output * b * a ** (b - 1))
        if self.needs_input_grad[1]:
            flat = (a == 0) & (b >= 0)
            grad_b = xp.where(flat, 0, grad_output * self.saved_output * xp.log(a))
        return grad_a, grad_b


class Maximum(Function):
    """y = max(a, b).   dy/da = 0 where a < b, ½ where a = b (ties share), else 1 (so a
    NaN, which y propagates, passes the gradient to both, as PyTorch)."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return backend.xp_of(a).maximum(a, b)

    def backward(self, grad_output: "Grad") -> "Grads":
        (a, b), xp = self.saved_inputs, self.xp
        to_a = xp.where(a < b, 0, xp.where(a == b, grad_output / 2, grad_output))
        to_b = xp.where(b < a, 0, xp.where(a == b, grad_output / 2, grad_output))
        return to_a, to_b


class Minimum(Function):
    """y = min(a, b).   dy/da = 0 where a > b, ½ where a = b (ties share), else 1."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return backend.xp_of(a).minimum(a, b)

    def backward(self, grad_output: "Grad") -> "Grads":
        (a, b), xp = self.saved_inputs, self.xp
        to_a = xp.where(a > b, 0, xp.where(a == b, grad_output / 2, grad_output))
        to_b = xp.where(b > a, 0, xp.where(a == b, grad_output / 2, grad_output))
        return to_a, to_b


class Where(Function):
    """y = a where cond else b.   dy/da = cond, dy/db = not cond  (cond: no gradient)."""

    def forward(self, condition: "Array", a: "Array", b: "Array") -> "Array":
        return backend.xp_of(a).where(condition, a, b)

    def backward(self, grad_output: "Grad") -> "Grads":
        condition, xp = self.saved_input(0), self.xp
        return None, xp.where(condition, grad_output, 0), xp.where(condition, 0, grad_output)


# --- unary ---

class Neg(Function):
    """y = -x.   dy/dx = -1."""

    def forward(self, x: "Array") -> "Array":
        return -x

    def backward(self, grad_output: "Grad") -> "Grads":
        return -grad_output


class Exp(Function):
    """y = exp(x).   dy/dx = y."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).exp(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output * self.saved_output


class Log(Function):
    """y = log(x).   dy/dx = 1/x."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).log(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / x


class Sqrt(Function):
    """y = √x.   dy/dx = 1/(2y)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).sqrt(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output / (2 * self.saved_output)


class Sin(Function):
    """y = sin(x).   dy/dx = cos(x)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).sin(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * self.xp.cos(x)


class Cos(Function):
    """y = cos(x).   dy/dx = −sin(x)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).cos(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return -grad_output * self.xp.sin(x)


class Tanh(Function):
    """y = tanh(x).   dy/dx = 1 − y²."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).tanh(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        y = self.saved_output
        return grad_output * (1 - y * y)


class Sigmoid(Function):
    """y = σ(x) = 1 / (1 + e^−x).   dy/dx = y·(1 − y).

    Computed from e^−|x|, which never overflows: for x ≥ 0, σ = 1/(1 + e^−x);
    for x < 0, σ = e^x/(1 + e^x). Both branches use only e^−|x| ≤ 1.
    """

    def forward(self, x: "Array") -> "Array":
        xp = backend.xp_of(x)
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, grad_output: "Grad") -> "Grads":
        y = self.saved_output
        return grad_output * y * (1 - y)


class Relu(Function):
    """y = max(x, 0).   dy/dx = 0 where x ≤ 0, else 1 (a NaN passes it on, as in PyTorch).

    Like every piecewise op here, backward *selects* with ``where`` instead of
    multiplying by a 0/1 mask: 0 · ∞ would be NaN, the masked side must get 0."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).maximum(x, 0)

    def backward(self, grad_output: "Grad") -> "Grads":
        return self.xp.where(self.saved_output <= 0, 0, grad_output)


class Abs(Function):
    """y = |x|.   dy/dx = sign(x) (0 at x = 0)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).abs(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), xp = self.saved_inputs, self.xp
        return xp.where(x > 0, grad_output, xp.where(x < 0, -grad_output, 0))


class Sign(Function):
    """y = sign(x) (a bool stays itself, as in PyTorch).   dy/dx = 0 (almost everywhere)."""

    def forward(self, x: "Array") -> "Array":
        return x.copy() if x.dtype.kind == "b" else backend.xp_of(x).sign(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        return self.xp.zeros_like(grad_output)


class Clip(Function):
    """y = min(max(x, low), high).   dy/dx = 1 where low ≤ x ≤ high, else 0."""

    def forward(self, x: "Array", low, high) -> "Array":
        self.low, self.high = low, high
        return backend.xp_of(x).clip(x, low, high)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), xp = self.saved_inputs, self.xp
        if self.low is not None:
            grad_output = xp.where(x >= self.low, grad_output, 0)
        if self.high is not None:
            grad_output = xp.where(x <= self.high, grad_output, 0)
        return grad_output


class Cast(Function):
    """y = x converted to ``dtype``.   dL/dx = dL/dy converted back to x's dtype."""

    def forward(self, x: "Array", dtype) -> "Array":
        self.input_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output.astype(self.input_dtype)


class ToDevice(Function):
    """y = x copied to another device.   dL/dx = dL/dy copied back."""

    def forward(self, x: "Array", device: str) -> "Array":
        self.input_device = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, grad_output: "Grad") -> "Grads":
        return ToDevice.apply(grad_output, device=self.input_device)


class Clone(Function):
    """y = a copy of x with its own memory.   dL/dx = dL/dy."""

    def forward(self, x: "Array") -> "Array":
        return x.copy()

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output


# --- the functions the Tensor operators call ---

def _binary(op, name, a, b, reflected=False):
    """``a op b``, or ``b op a`` when reflected (``2 - x``): ``b`` becomes a Tensor,
    dtypes are promoted, shapes broadcast."""
    if in_float32(a, b):
        return _binary(op, name, a.astype(backend.float32), b, reflected).astype(a.dtype)
    b = as_operand(b, a, name)
    if a.data.dtype != b.data.dtype:
        a, b = _promote(a, b)
    if a.data.shape != b.data.shape and (b.data.ndim or b.requires_grad):  # 0-d fits all
        a, b = broadcast_operands(name, a, b)
    return op.apply(b, a) if reflected else op.apply(a, b)


def _promote(a, b):
    """PyTorch's promotion, over its categories bool < int < float. An integer tensor
    meeting a float one becomes float; two dtypes of one category meet at the wider
    one. A 0-d tensor (a Python number becomes one) never widens a tensor with dims
    of its category: ``float32 + 0-d float64`` is float32, ``int32 + 0-d int64`` is
    int32; of a higher category it sets the dtype: ``int64 + 0-d float64`` is float64
    (a Python float meets an integer tensor as a 0-d float32, see ``as_operand``).
    Both go through Cast, whose backward gives each input its gradient in its own dtype."""
    a_float, b_float = backend.is_floating(a.dtype), backend.is_floating(b.dtype)
    if a_float != b_float:
        dtype = a.dtype if a_float else b.dtype
    elif (a.dtype.kind == "b") != (b.dtype.kind == "b"):
        return a, b  # bool meeting an integer: NumPy's rules give the integer's dtype
    elif b.ndim == 0 < a.ndim:
        dtype = a.dtype
    elif a.ndim == 0 < b.ndim:
        dtype = b.dtype
    else:
        dtype = backend.result_dtype(a.dtype, b.dtype)
    return a.astype(dtype), b.astype(dtype)


def in_float32(a, b) -> bool:
    """True for a float16 tensor meeting a Python number: PyTorch computes that in float32
    (its "opmath" type) and rounds once, so ``x * 1e5`` is 0 at x = 0, where the number
    made float16 first (inf) would give NaN, and ``x * 1e-7`` is not 19% off (1e-7 → 1.19e-7)."""
    return a.data.dtype == backend.float16 and isinstance(b, (int, float))


def floating(x):
    """Integer tensors enter float-valued functions (exp, sqrt, x / y, ...) as the
    default float dtype (float32 unless ``tg.set_default_dtype`` changed it), as PyTorch."""
    return x if backend.is_floating(x.dtype) else x.astype(backend.default_float)


def add(a, b):
    """``a + b``: ``b`` made a Tensor (from a number or array), dtypes promoted, broadcast."""
    return _binary(Add, "Add", a, b)


def sub(a, b):
    """``a - b`` (``b`` as in ``add``)."""
    return _binary(Sub, "Sub", a, b)


def rsub(a, b):
    """``b - a``, for ``2 - x``."""
    return _binary(Sub, "Sub", a, b, reflected=True)


def mul(a, b):
    """``a * b`` (``b`` as in ``add``)."""
    return _binary(Mul, "Mul", a, b)


def div(a, b):
    """``a / b``, true division: two non-float operands give float32."""
    if not backend.is_floating(a.dtype):
        b = as_operand(b, a, "Div")
        if not backend.is_floating(b.dtype):
            a = floating(a)  # true division of integers gives floats
    return _binary(Div, "Div", a, b)


def rdiv(a, b):
    """``b / a``, for ``2 / x`` (a non-float ``a`` becomes float32 first)."""
    return _binary(Div, "Div", floating(a), b, reflected=True)


def pow(a, b):
    """``a ** b`` (``b`` as in ``add``); bool ** bool is refused, as in PyTorch (NumPy's is
    int8)."""
    if a.dtype == backend.bool_ and getattr(b, "dtype", type(b)) in (backend.bool_, bool):
        raise RuntimeError("Pow: bool ** bool is not implemented, as in PyTorch; cast first")
    if isinstance(b, numbers.Integral) and b < 0 and a.dtype.kind in "iu":
        raise RuntimeError("Pow: Integers to negative integer powers are not allowed.")
    return _binary(Pow, "Pow", a, b)


def rpow(a, b):
    """``b ** a``, for ``2 ** x``."""
    return _binary(Pow, "Pow", a, b, reflected=True)


def maximum(a, b):
    """``tg.maximum``: the elementwise maximum of the Tensor ``a`` and ``b`` (as in ``add``);
    where they are equal, each gets half the gradient."""
    return _binary(Maximum, "Maximum", a, b)


def minimum(a, b):
    """``tg.minimum``: the elementwise minimum of the Tensor ``a`` and ``b`` (as in ``add``);
    where they are equal, each gets half the gradient."""
    return _binary(Minimum, "Minimum", a, b)


def where(condition, a, b):
    """``a`` where ``condition`` is true, else ``b`` (condition gets no gradient)."""
    Tensor = tensor_module.Tensor
    if not isinstance(a, Tensor):  # (two Python numbers: on the condition's device)
        like = b if isinstance(b, Tensor) else condition
        if not isinstance(like, Tensor):
            raise TypeError("where: the condition, a or b must be a Tensor")
        a = as_operand(a, like, "Where")
    b = as_operand(b, a, "Where")
    condition = as_operand(condition, a, "Where")
    a, b = _promote(a, b)
    condition, a, b = broadcast_operands("Where", condition, a, b)
    if condition.dtype != backend.bool_:
        condition = condition.astype(backend.bool_)
    return Where.apply(condition, a, b)


def clip(x, low=None, high=None):
    """Numbers (NumPy scalars too) as bounds: one Clip op. Tensor bounds (broadcast
    against x, as in ``torch.clamp``), and arrays, which become Tensors (copies: a later
    write to the caller's array cannot change the gradient): one op that routes the
    gradient to x, lo or hi as PyTorch's clamp (``math_ops.ClampByTensors``)."""
    if low is None and high is None:
        raise ValueError("clip: at least one of min and max must be given")
    if not all(b is None or isinstance(b, (int, float, backend.np.generic)) for b in (low, high)):
        from tinygrad_opt.ops import math_ops  # (built on these ops)
        return math_ops.clamp_by_tensors(x, low, high)
    if x.dtype == backend.bool_:
        raise RuntimeError("clamp: not implemented for bool tensors (as in PyTorch)")
    if isinstance(low, float) or isinstance(high, float):
        x = floating(x)
    return Clip.apply(x, low=low, high=high)
