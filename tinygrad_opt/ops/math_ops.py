"""More elementwise math under PyTorch's names: tan, atanh, atan2, expm1, floor, fmod, ...

Read after ``ops/elementwise.py``: the ops here are written the same way. A
function whose derivative needs its own formula is a ``Function`` (``Tan``,
``Atan2``, ``Expm1``, ...), with the derivative in its docstring and backward
right under forward: one formula that runs on arrays in a plain backward and on
Tensors under ``create_graph=True``. Where a backward needs a function that
``tensor_xp`` does not name (cosh, trunc), it calls that op's ``apply`` on the
saved arrays or Tensors (on arrays ``apply`` is just its forward); a square
root is written ``** 0.5``, an operator, which arrays and Tensors share.
Everything else is composed of ops that exist (``rsqrt`` is ``1 / sqrt``,
``lerp`` a ``where`` of two products), so its gradient is theirs.

The staircases (floor, ceil, trunc, round, floor division) are flat between
their steps: PyTorch gives them a gradient of exactly 0 (the output still
requires grad), and so does ``Rounding`` here. Piecewise formulas route their
gradients with ``where`` (never a multiplication by a 0/1 mask), so an inf or
NaN upstream gradient gives exactly 0 on the masked side.

Each function is ``tg.<name>(input, ...)`` and, through ``MathMethods``, the
Tensor method ``input.<name>(...)``. Integer inputs of float-valued functions
become float32 first, as in PyTorch (``tg.tan`` of an int64 tensor is float32).
"""

from __future__ import annotations

import math

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops import elementwise
from tinygrad_opt.ops.elementwise import constant, floating, where
from tinygrad_opt.ops.shape import as_operand, broadcast_operands
from tinygrad_opt.ops.statistics import computed_in_float32

import tinygrad_opt.tensor as tensor_module

__all__: list = [
    "expm1", "exp2", "log2", "log10", "log1p", "rsqrt", "reciprocal",
    "tan", "asin", "arcsin", "acos", "arccos", "atan", "arctan", "atan2", "arctan2", "hypot",
    "sinh", "cosh", "asinh", "arcsinh", "acosh", "arccosh", "atanh", "arctanh",
    "erf", "sinc",
    "floor", "ceil", "round", "trunc", "frac",
    "fmod", "remainder", "floor_divide",
    "lerp", "logit", "xlogy", "heaviside", "clamp_min", "clamp_max", "nan_to_num",
    "bitwise_xor",
]

LN2 = math.log(2.0)
LN10 = math.log(10.0)


# --- staircases: flat between the steps, so the gradient is 0 ---

class Rounding(Function):
    """y = floor(x), ceil(x), trunc(x) or rint(x) (round half to even), by ``how``.
    dy/dx = 0: a staircase is flat between its steps (PyTorch takes 0 at the steps too)."""

    def forward(self, x: "Array", how: str) -> "Array":
        return getattr(backend.xp_of(x), how)(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        return self.xp.zeros_like(grad_output)


class FloorDivide(Function):
    """y = ⌊a / b⌋, Python's ``a // b`` (rounded toward −∞).
    dy/da = dy/db = 0 (a staircase)."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        _refuse_integer_zero(b, "floor_divide")
        return backend.xp_of(a).floor_divide(a, b)

    def backward(self, grad_output: "Grad") -> "Grads":
        zeros = self.xp.zeros_like(grad_output)
        return zeros, zeros


class TruncDivide(FloorDivide):
    """y = trunc(a / b), rounded toward 0: the quotient of ``fmod``, whose gradient needs it
    (float inputs).   dy/da = dy/db = 0 (a staircase)."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return backend.xp_of(a).trunc(a / b)


# --- remainders: the sawtooth a − b·q, with q a staircase ---

class Fmod(Function):
    """y = a − b·trunc(a / b), C's remainder: it has the sign of a.
    dy/da = 1,  dy/db = −trunc(a / b)   (PyTorch's gradients; q is flat between its steps)."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        _refuse_integer_zero(b, "fmod")
        return backend.xp_of(a).fmod(a, b)

    def backward(self, grad_output: "Grad") -> "Grads":
        grad_a = grad_output if self.needs_input_grad[0] else None
        grad_b = None
        if self.needs_input_grad[1]:
            a, b = self.saved_inputs
            grad_b = -grad_output * TruncDivide.apply(a, b)
        return grad_a, grad_b


class Remainder(Function):
    """y = a − b·⌊a / b⌋, Python's ``a % b``: it has the sign of b.
    dy/da = 1,  dy/db = −⌊a / b⌋   (PyTorch's gradients).

    Floats as PyTorch's kernel: m = fmod(a, b), plus b where m ≠ 0 has the other sign
    than b. A zero result so keeps the sign of a (−4.0 % 2.0 is −0.0), where NumPy's
    ``remainder`` gives it the sign of b."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        _refuse_integer_zero(b, "remainder")
        xp = backend.xp_of(a)
        if not backend.is_floating(a.dtype):
            return xp.remainder(a, b)
        mod = xp.fmod(a, b)
        return xp.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)

    def backward(self, grad_output: "Grad") -> "Grads":
        grad_a = grad_output if self.needs_input_grad[0] else None
        grad_b = None
        if self.needs_input_grad[1]:
            a, b = self.saved_inputs
            grad_b = -grad_output * FloorDivide.apply(a, b)
        return grad_a, grad_b


def _refuse_integer_zero(b, name: str) -> None:
    """Integer division by 0 has no answer: NumPy would return 0, PyTorch raises."""
    if not backend.is_floating(b.dtype) and backend.to_host((b == 0).any()):
        raise ZeroDivisionError(f"{name}: integer division by zero (dtype {b.dtype})")


# --- exponentials and logarithms ---

class Expm1(Function):
    """y = eˣ − 1, exact for tiny x (``exp(x) − 1`` would round eˣ to 1 and return 0).
    dy/dx = eˣ = y + 1."""

    def forward(self, x: "Array") -> "Array":
        with backend.np.errstate(over="ignore"):  # eˣ overflows to inf from x ≈ 709.8
            return backend.xp_of(x).expm1(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output * (self.saved_output + 1)


class Exp2(Function):
    """y = 2ˣ.   dy/dx = y·ln 2."""

    def forward(self, x: "Array") -> "Array":
        with backend.np.errstate(over="ignore"):  # 2ˣ overflows to inf from x = 1024
            return backend.xp_of(x).exp2(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output * self.saved_output * LN2


class Log2(Function):
    """y = log₂ x (exact at powers of 2, where ln x / ln 2 may be off by one rounding).
    dy/dx = 1 / (x·ln 2)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).log2(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (x * LN2)


class Log10(Function):
    """y = log₁₀ x.   dy/dx = 1 / (x·ln 10)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).log10(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (x * LN10)


# --- log(1 + x) and erf: ops of their own, for accuracy ---

class Log1p(Function):
    """y = log(1 + x).   dy/dx = 1 / (1 + x).

    A primitive because ``log(1 + x)`` composed of two ops rounds ``1 + x`` to
    1 when ``|x|`` is below the float epsilon and returns 0 instead of ``x``;
    ``xp.log1p`` keeps every digit. Softplus and BCE-with-logits need this.
    """

    def forward(self, x: "Array") -> "Array":
        with backend.np.errstate(divide="ignore", invalid="ignore"):  # −inf at −1, NaN below
            return backend.xp_of(x).log1p(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (1 + x)


class Erf(Function):
    """y = erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt.   dy/dx = (2/√π) e^(−x²).

    A primitive because NumPy has no erf. The forward evaluates two
    polynomials, Chebyshev fits made for it (with mpmath, to 1e-18) and
    expanded into powers of s; their coefficients sum to about 1 in absolute
    value, so Horner's rule loses nothing:

    * ``|x| ≤ 2``:    erf(x)  = x · G(s),               s = x²/2 − 1 ∈ [−1, 1]
    * ``2 < |x| < 6``: erfc(|x|) = e^(−x²)/|x| · H(s),  s = 6/|x| − 2 ∈ [−1, 1]
    * ``|x| ≥ 6``:    erf(x) = ±1 (erfc(6) ≈ 2e-17 is below float64's resolution)

    Accurate to a few units in the last place, in float64 and in float32.
    """

    G = (0.674933236039655, -0.2611118609312454, 0.11947913860985186, -0.04866277744915503,
         0.017128344571816653, -0.005234875836158878, 0.001405091423652028,
         -0.00033514353352396425, 7.180100843849609e-05, -1.3946273745435833e-05,
         2.4758020496978075e-06, -4.0450946099912016e-07, 6.119567714146862e-08,
         -8.617701483059107e-09, 1.1348248891775e-09, -1.4013463829861674e-10,
         1.6331415164389115e-11, -1.8923035835006617e-12, 1.9723520410355402e-13)
    H = (0.5370034535441699, -0.023826556739807003, -0.003204801317103938, 0.000905926898512243,
         -7.918369000299698e-05, -1.243025638953138e-05, 5.915637396848956e-06,
         -1.0172708488449049e-06, 1.1240279703132703e-08, 4.793985502936637e-08,
         -1.5840737523869455e-08, 2.5353286063377724e-09, 7.347343847850663e-11,
         -1.8639916176811568e-10, 6.473934995932704e-11, -1.2265645371243546e-11,
         2.67005693513259e-13, 8.432848572385547e-13, -3.6093181709905695e-13,
         6.170488273726176e-14)

    def forward(self, x: "Array") -> "Array":
        xp = backend.xp_of(x)
        if x.dtype == backend.float16:
            return self.forward(x.astype(backend.float32)).astype(x.dtype)
        size = xp.abs(x)
        near = xp.clip(x, -2.0, 2.0)  # each branch sees only its own range: no overflow
        erf_near = near * _horner(self.G, near * near / 2 - 1)
        far = xp.clip(size, 2.0, 6.0)
        erfc_far = xp.exp(-far * far) / far * _horner(self.H, 6 / far - 2)
        erf_far = xp.sign(x) * (1 - erfc_far)
        return xp.where(size <= 2, erf_near, xp.where(size < 6, erf_far, xp.sign(x)))

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * (2 / math.sqrt(math.pi)) * self.xp.exp(-x * x)


def _horner(coefficients, s):
    """a_0 + a_1·s + ... + a_n·sⁿ as (...(a_n·s + a_{n−1})·s + ...)·s + a_0, in place."""
    result = coefficients[-1] * s + coefficients[-2]
    for a in reversed(coefficients[:-2]):
        result *= s
        result += a
    return result


# --- trigonometric ---

class Tan(Function):
    """y = tan x.   dy/dx = 1 + y²."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).tan(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        y = self.saved_output
        return grad_output * (1 + y * y)


class Asin(Function):
    """y = arcsin x.   dy/dx = 1 / √(1 − x²)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).arcsin(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (1 - x * x) ** 0.5


class Acos(Function):
    """y = arccos x.   dy/dx = −1 / √(1 − x²)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).arccos(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return -grad_output / (1 - x * x) ** 0.5


class Atan(Function):
    """y = arctan x.   dy/dx = 1 / (1 + x²)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).arctan(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (1 + x * x)


class Atan2(Function):
    """y = atan2(a, b), the angle of the point (b, a) in (−π, π].
    dy/da = b / (a² + b²),  dy/db = −a / (a² + b²)   (NaN at a = b = 0, as PyTorch)."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return backend.xp_of(a).arctan2(a, b)

    def backward(self, grad_output: "Grad") -> "Grads":
        a, b = self.saved_inputs
        squared_radius = a * a + b * b
        grad_a = grad_output * b / squared_radius if self.needs_input_grad[0] else None
        grad_b = -grad_output * a / squared_radius if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Hypot(Function):
    """y = √(a² + b²), without overflow or underflow of the squares.
    dy/da = a / y,  dy/db = b / y   (NaN at a = b = 0, as PyTorch)."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        return backend.xp_of(a).hypot(a, b)

    def backward(self, grad_output: "Grad") -> "Grads":
        (a, b), y = self.saved_inputs, self.saved_output
        grad_a = grad_output * a / y if self.needs_input_grad[0] else None
        grad_b = grad_output * b / y if self.needs_input_grad[1] else None
        return grad_a, grad_b


# --- hyperbolic ---

class Sinh(Function):
    """y = sinh x.   dy/dx = cosh x."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).sinh(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * Cosh.apply(x)


class Cosh(Function):
    """y = cosh x.   dy/dx = sinh x."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).cosh(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output * Sinh.apply(x)


class Asinh(Function):
    """y = arsinh x.   dy/dx = 1 / √(x² + 1)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).arcsinh(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (x * x + 1) ** 0.5


class Acosh(Function):
    """y = arcosh x (x ≥ 1).   dy/dx = 1 / √(x² − 1)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).arccosh(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (x * x - 1) ** 0.5


class Atanh(Function):
    """y = artanh x (|x| < 1).   dy/dx = 1 / (1 − x²)."""

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).arctanh(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (1 - x * x)


# --- functions with a special point ---

class Sinc(Function):
    """y = sin(πx) / (πx), and 1 at x = 0 (the normalized sinc, as PyTorch and NumPy).
    dy/dx = (cos(πx) − y) / x, and 0 at x = 0 (sinc is even, its slope there is 0).

    The forward takes sin(πx) = (−1)ⁿ·sin(πr), n = round(x), r = x − n in [−½, ½] (exact):
    π·x rounded would shift the zeros at the integers (sinc(9.001) off by 3000 units in
    the last place, sinc(1) = 3.9e-17 instead of 0). NaN at ±inf and NaN, as PyTorch.

    The 0 is selected with ``where``; x = 0 is replaced by 1 in the division first,
    so that the unselected side is never 0/0 (whose NaN would poison a second
    derivative)."""

    def forward(self, x: "Array") -> "Array":
        xp = backend.xp_of(x)
        finite = xp.isfinite(x)
        whole = xp.round(xp.where(finite, x, 0))
        sign = 1 - 2 * xp.abs(xp.fmod(whole, 2))  # (−1)ⁿ (n even beyond 2⁵³)
        sine = sign * xp.sin(math.pi * xp.where(finite, x - whole, 0))
        exact = whole == x  # 1 at 0, +0 at the other integers (where π·x may overflow)
        y = sine / (math.pi * xp.where(exact, 1, x))
        y = xp.where(exact, (x == 0).astype(y.dtype), y)
        return xp.where(finite, y, math.nan)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), y, xp = self.saved_inputs, self.saved_output, self.xp
        at_zero = x == 0
        safe_x = xp.where(at_zero, 1, x)
        slope = (xp.cos(math.pi * x) - y) / safe_x
        return xp.where(at_zero, 0, grad_output * slope)


class Logit(Function):
    """y = log(z / (1 − z)), with z = x, or x clamped to [eps, 1 − eps] when ``eps`` is given.
    dy/dx = 1 / (x·(1 − x)) where x is in [eps, 1 − eps], and 0 outside (the clamp is flat
    there). Without eps, dy/dx = 1 / (x·(1 − x)) on [0, 1] (+inf at 0 and 1) and NaN
    outside, as PyTorch's (whose formula this is, rather than the log's and the
    quotient's, which give NaN at 0 and 1).

    ``where`` selects the outside; x is replaced by ½ there before the division, so that
    the unselected side holds no 1/0 (whose inf would poison a second derivative)."""

    def forward(self, x: "Array", eps) -> "Array":
        self.eps = eps
        z = x if eps is None else backend.xp_of(x).clip(x, eps, 1 - eps)
        # PyTorch's values, silently: −inf at 0, +inf at 1, NaN outside [0, 1] (±inf too)
        with backend.np.errstate(divide="ignore", invalid="ignore"):
            return backend.xp_of(x).log(z / (1 - z))

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,), xp = self.saved_inputs, self.xp
        low, high = (0.0, 1.0) if self.eps is None else (self.eps, 1 - self.eps)
        outside = (x < low) | (x > high)
        safe_x = xp.where(outside, 0.5, x)
        slope = grad_output / (safe_x * (1 - safe_x))                  # 1 / (x·(1 − x))
        return xp.where(outside, 0.0 if self.eps is not None else math.nan, slope)


class Xlogy(Function):
    """y = a·log(b), and 0 where a = 0 (unless b is NaN): 0·log 0 counts as 0.
    dy/da = log b, but 0 where a = 0 and b ≤ 0;   dy/db = a / b   (PyTorch's conventions).

    dy/da is written as ``xlogy(grad, b)`` so that a zero upstream gradient gives 0
    even where log b = −∞, as PyTorch's; ``where`` selects the masked 0 (b is
    replaced by 1 there first, so the unselected side holds no −∞ or NaN)."""

    def forward(self, a: "Array", b: "Array") -> "Array":
        xp = backend.xp_of(a)
        zero = (a == 0) & ~xp.isnan(b)
        with backend.np.errstate(divide="ignore", invalid="ignore"):  # b = 0: −inf; b < 0: NaN
            return xp.where(zero, 0, a * xp.log(xp.where(zero, 1, b)))

    def backward(self, grad_output: "Grad") -> "Grads":
        (a, b), xp = self.saved_inputs, self.xp
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            masked = (a == 0) & (b <= 0)
            grad_a = xp.where(masked, 0, Xlogy.apply(grad_output, xp.where(masked, 1, b)))
        if self.needs_input_grad[1]:
            grad_b = grad_output * a / b
        return grad_a, grad_b


# --- the functions (each also a Tensor method through MathMethods) ---

def _tensor(input, name: str):
    """``input``, checked to be a Tensor."""
    if not isinstance(input, tensor_module.Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}")
    return input


def _float_input(input, name: str):
    """``input`` checked to be a Tensor, and made float32 if it holds integers."""
    return floating(_tensor(input, name))


def _binary(op, name: str, input, other, float_valued: bool = False):
    """``op`` on two operands prepared as the core's binary operators prepare theirs
    (``elementwise._binary``): a number takes the other operand's dtype, dtypes are
    promoted, shapes broadcast. ``float_valued``: see ``_operand_tensors``."""
    input, other = _operand_tensors(input, other, name, float_valued)
    return elementwise._binary(op, name, input, other)


def _operand_tensors(input, other, name: str, float_valued: bool) -> tuple:
    """Both operands as Tensors (a number takes the other operand's dtype). With
    ``float_valued``, two integer (or bool) operands become the default float; an integer
    meeting a float is left to the promotion, as PyTorch (``atan2(float16, int64)`` is
    float16)."""
    Tensor = tensor_module.Tensor
    if not isinstance(input, Tensor):
        if not isinstance(other, Tensor):
            raise TypeError(f"{name}: expected a Tensor among the operands, got "
                            f"{type(input).__name__} and {type(other).__name__}")
        input = as_operand(input, other, name)
    other = as_operand(other, input, name)
    if float_valued and not (backend.is_floating(input.dtype)
                             or backend.is_floating(other.dtype)):
        input, other = floating(input), floating(other)
    return input, other


def expm1(input):
    """eˣ − 1, elementwise, exact for tiny x; the gradient is eˣ."""
    return Expm1.apply(_float_input(input, "expm1"))


def exp2(input):
    """2ˣ, elementwise; the gradient is 2ˣ·ln 2."""
    return Exp2.apply(_float_input(input, "exp2"))


def log2(input):
    """log₂ x, elementwise; the gradient is 1 / (x·ln 2)."""
    return Log2.apply(_float_input(input, "log2"))


def log10(input):
    """log₁₀ x, elementwise; the gradient is 1 / (x·ln 10)."""
    return Log10.apply(_float_input(input, "log10"))


def log1p(input):
    """log(1 + x), elementwise, exact for tiny x (see ``Log1p``); the gradient is
    1 / (1 + x)."""
    return Log1p.apply(_float_input(input, "log1p"))


def rsqrt(input):
    """1 / √x, elementwise (composed: ``1 / sqrt(x)``); the gradient is −½·x^(−3/2)."""
    return 1 / _float_input(input, "rsqrt").sqrt()


def reciprocal(input):
    """1 / x, elementwise (an integer tensor gives float32, as PyTorch); the gradient is
    −1 / x²."""
    return 1 / _float_input(input, "reciprocal")


def tan(input):
    """tan x, elementwise; the gradient is 1 + tan² x."""
    return Tan.apply(_float_input(input, "tan"))


def asin(input):
    """arcsin x, elementwise (NaN outside [−1, 1]); the gradient is 1 / √(1 − x²)."""
    return Asin.apply(_float_input(input, "asin"))


def acos(input):
    """arccos x, elementwise (NaN outside [−1, 1]); the gradient is −1 / √(1 − x²)."""
    return Acos.apply(_float_input(input, "acos"))


def atan(input):
    """arctan x, elementwise; the gradient is 1 / (1 + x²)."""
    return Atan.apply(_float_input(input, "atan"))


def atan2(input, other):
    """atan2(input, other): the angle of the point (other, input), elementwise in (−π, π],
    with broadcasting. Gradients: other / r² and −input / r², r² = input² + other²."""
    return _binary(Atan2, "atan2", input, other, float_valued=True)


def hypot(input, other):
    """√(input² + other²), elementwise with broadcasting, without overflow; the gradients
    are input / y and other / y."""
    return _binary(Hypot, "hypot", input, other, float_valued=True)


def sinh(input):
    """sinh x, elementwise; the gradient is cosh x."""
    return Sinh.apply(_float_input(input, "sinh"))


def cosh(input):
    """cosh x, elementwise; the gradient is sinh x."""
    return Cosh.apply(_float_input(input, "cosh"))


def asinh(input):
    """arsinh x, elementwise; the gradient is 1 / √(x² + 1)."""
    return Asinh.apply(_float_input(input, "asinh"))


def acosh(input):
    """arcosh x, elementwise (NaN below 1); the gradient is 1 / √(x² − 1)."""
    return Acosh.apply(_float_input(input, "acosh"))


def atanh(input):
    """artanh x, elementwise (±inf at ±1, NaN beyond); the gradient is 1 / (1 − x²)."""
    return Atanh.apply(_float_input(input, "atanh"))


def erf(input):
    """The error function (2/√π) ∫₀ˣ e^(−t²) dt, elementwise (see ``Erf``); the gradient
    is (2/√π) e^(−x²)."""
    return Erf.apply(_float_input(input, "erf"))


def sinc(input):
    """sin(πx) / (πx), elementwise, 1 at x = 0 (PyTorch's normalized sinc); the gradient
    is (cos(πx) − sinc x) / x, and 0 at x = 0."""
    return Sinc.apply(_float_input(input, "sinc"))


def _rounded(input, how: str, name: str):
    """A staircase of ``input``: integer tensors are already whole, so a copy of them."""
    if not backend.is_floating(_tensor(input, name).dtype):
        return input.clone()
    return Rounding.apply(input, how=how)


def floor(input):
    """The largest whole number ≤ x, elementwise, in x's dtype; the gradient is 0."""
    return _rounded(input, "floor", "floor")


def ceil(input):
    """The smallest whole number ≥ x, elementwise, in x's dtype; the gradient is 0."""
    return _rounded(input, "ceil", "ceil")


def trunc(input):
    """x with its fractional part dropped (rounded toward 0), elementwise; the gradient is 0."""
    return _rounded(input, "trunc", "trunc")


@computed_in_float32  # (float16: x·10^decimals rounded once, as PyTorch's kernel)
def round(input, *, decimals: int = 0):
    """x rounded to ``decimals`` decimal places, halves to even (as PyTorch and NumPy);
    the gradient is 0. ``decimals`` ≠ 0 rounds x·10^decimals (or x / 10^−decimals) and
    scales back, as PyTorch does."""
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    if decimals == 0:
        return _rounded(input, "rint", "round")
    if not backend.is_floating(_tensor(input, "round").dtype):
        raise TypeError(f"round: decimals={decimals} needs a floating-point tensor, got "
                        f"dtype {input.dtype}")
    if decimals > 0:
        scale = 10.0 ** decimals
        return Rounding.apply(input * scale, how="rint") / scale
    scale = 10.0 ** -decimals
    return Rounding.apply(input / scale, how="rint") * scale


def frac(input):
    """x − trunc(x), the fractional part with x's sign, elementwise; the gradient is 1."""
    return input - trunc(input)


def _refuse_two_bools(input, other, name: str) -> None:
    """fmod, remainder and floor_divide of two bools: PyTorch has no kernel for them
    (NumPy would answer in int8, a dtype PyTorch never gives here)."""
    if getattr(input, "dtype", None) == backend.bool_ == getattr(other, "dtype", None):
        raise RuntimeError(f"{name}: not implemented for two bool tensors (as in PyTorch); "
                           "convert one with .int()")


def fmod(input, other):
    """C's remainder input − other·trunc(input / other), with the sign of ``input``,
    elementwise with broadcasting. Gradients (PyTorch's): 1 and −trunc(input / other)."""
    _refuse_two_bools(input, other, "fmod")
    return _binary(Fmod, "fmod", input, other)


def remainder(input, other):
    """Python's ``input % other`` = input − other·⌊input / other⌋, with the sign of
    ``other``, elementwise with broadcasting. Gradients (PyTorch's): 1 and
    −⌊input / other⌋."""
    _refuse_two_bools(input, other, "remainder")
    return _binary(Remainder, "remainder", input, other)


def floor_divide(input, other):
    """Python's ``input // other`` = ⌊input / other⌋, elementwise with broadcasting, in the
    promoted dtype (integers stay integers); the gradient is 0."""
    _refuse_two_bools(input, other, "floor_divide")
    return _binary(FloorDivide, "floor_divide", input, other)


def lerp(input, end, weight):
    """input + weight·(end − input), elementwise with broadcasting; ``weight`` a number or a
    Tensor. As PyTorch, where |weight| ≥ 0.5 it is computed as
    end − (end − input)·(1 − weight), so that weight = 1 gives ``end`` exactly. float16
    operands are computed in float32 and rounded once, as PyTorch's kernel does.
    Gradients: 1 − weight, weight, end − input (±inf, not NaN, for an infinite end)."""
    tensors = [t for t in (input, end, weight) if isinstance(t, tensor_module.Tensor)]
    if all(t.dtype == backend.float16 for t in tensors):
        return lerp(*(t.float() if isinstance(t, tensor_module.Tensor) else t
                      for t in (input, end, weight))).half()
    difference = end - input
    if isinstance(weight, (int, float)):
        if abs(weight) < 0.5:
            return input + weight * difference
        return end - difference * (1 - weight)
    near_start = weight.abs() < 0.5
    # each branch sees only its own weights: the masked branch's 0 · (end − input) would
    # give the weight a NaN gradient where end − input is infinite (PyTorch: ±inf)
    from_start = input + where(near_start, weight, 0.0) * difference
    from_end = end - difference * where(near_start, 1.0, 1 - weight)
    return where(near_start, from_start, from_end)


def logit(input, eps=None):
    """log(x / (1 − x)), elementwise; with ``eps``, x is clamped to [eps, 1 − eps] first, so
    the gradient 1 / (x·(1 − x)) is 0 outside that range (as PyTorch; without eps it is
    +inf at 0 and 1 and NaN outside [0, 1]: see ``Logit``)."""
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, (int, float))):
        raise TypeError(f"logit: eps must be a number or None, got {eps!r}")
    unclamped = eps is None or eps < 0                                # (PyTorch: eps < 0 is None)
    return Logit.apply(_float_input(input, "logit"), eps=None if unclamped else float(eps))


def xlogy(input, other):
    """input·log(other), elementwise with broadcasting, 0 where input = 0 (unless other is
    NaN). Gradients as PyTorch's: log(other), 0 where input = 0 and other ≤ 0; input / other."""
    return _binary(Xlogy, "xlogy", input, other, float_valued=True)


def heaviside(input, values):
    """The step function: 0 where input < 0, ``values`` where input = 0, 1 where input > 0
    (also 0 at NaN, as PyTorch), in input's dtype. ``values`` is a number or a Tensor of
    input's dtype (broadcast). It has no gradient: the result never requires grad."""
    values = as_operand(values, input, "heaviside")
    if values.dtype != input.dtype:
        raise TypeError(f"heaviside: input and values must have one dtype, got {input.dtype} "
                        f"and {values.dtype}")
    broadcast_operands("heaviside", input, values)  # (raises naming the shapes if they clash)
    xp = backend.xp_of(input.data)
    step = xp.where(input.data == 0, values.data, input.data > 0)
    return constant(step.astype(input.dtype))


class ClampByTensors(Function):
    """y = min(max(x, lo), hi) elementwise, with tensor bounds lo and hi (either may be
    absent; the operands have one dtype and broadcast together). A NaN in x or in a
    bound gives NaN, as PyTorch's ``clamp``; where lo > hi every y is hi.

    The gradient goes to the one operand that y is, as PyTorch's ``clamp`` routes it::

        dL/dx  = g  where lo ≤ x ≤ hi                (a tie x = lo or x = hi: to x)
        dL/dlo = g  where x < lo and lo < hi
        dL/dhi = g  where x > hi, or where hi < lo   (there y is hi whatever x is)

    and 0 elsewhere (at a NaN, to none of them). Each mask selects with ``where``, so a
    masked-off operand gets exactly 0 even from an inf or NaN gradient.
    """

    def forward(self, x: "Array", *bounds: "Array", low: bool, high: bool) -> "Array":
        xp = backend.xp_of(x)
        self.low, self.high = low, high
        y = xp.maximum(x, bounds[0]) if low else x               # max(x, lo)
        return xp.minimum(y, bounds[-1]) if high else y          # min(·, hi)

    def backward(self, grad_output: "Grad") -> "Grads":
        self.saved_inputs  # (checks that no operand was written in place since forward)
        x = self.inputs[0].data  # the masks need values only: arrays in both modes
        lo = self.inputs[1].data if self.low else None
        hi = self.inputs[-1].data if self.high else None
        in_range = True if lo is None else x >= lo
        if hi is not None:
            in_range = in_range & (x <= hi)
        masks = [in_range]
        if lo is not None:
            masks.append(x < lo if hi is None else (x < lo) & (lo < hi))
        if hi is not None:
            masks.append(x > hi if lo is None else (x > hi) | (hi < lo))
        return tuple(self.xp.where(mask, grad_output, 0) if needed else None
                     for mask, needed in zip(masks, self.needs_input_grad))


def clamp_by_tensors(x, low=None, high=None):
    """``x.clip(low, high)`` with a Tensor or an array as a bound: one ``ClampByTensors``
    op over the operands promoted to one dtype (PyTorch's result type of the three) and
    broadcast together."""
    if x.dtype == backend.bool_:
        raise RuntimeError("clamp: not implemented for bool tensors (as in PyTorch)")
    operands = [x] + [as_operand(b, x, "clamp") for b in (low, high) if b is not None]
    for i in range(1, len(operands)):
        operands[0], operands[i] = elementwise._promote(operands[0], operands[i])
    dtype = operands[0].dtype  # (the last promotion may have widened it past the first)
    operands = [t if t.dtype == dtype else t.astype(dtype) for t in operands]
    operands = broadcast_operands("clamp", *operands)
    return ClampByTensors.apply(*operands, low=low is not None, high=high is not None)


def clamp_min(input, min):
    """max(x, min), elementwise: ``input.clip(min=min)``."""
    return input.clip(min=min)


def clamp_max(input, max):
    """min(x, max), elementwise: ``input.clip(max=max)``."""
    return input.clip(max=max)


def nan_to_num(input, nan: float = 0.0, posinf=None, neginf=None):
    """x with NaN replaced by ``nan``, +inf by ``posinf`` and −inf by ``neginf`` (by default,
    or given None as PyTorch's schema allows, 0 and the largest and the smallest finite
    number of x's dtype). A ``where``: the gradient is 1 where x is finite and exactly 0 at
    the replaced elements."""
    if not backend.is_floating(input.dtype):
        return input.clone()
    nan = 0.0 if nan is None else nan
    xp = backend.xp_of(input.data)
    fills = constant(xp.nan_to_num(input.data, nan=nan, posinf=posinf, neginf=neginf))
    return where(input.isfinite(), input, fills)


def bitwise_xor(input, other):
    """input ^ other, elementwise, for bool and integer tensors (no gradient); the dtypes are
    promoted as ``+`` promotes them (int8 ^ a 0-d int64 tensor is int8)."""
    input = _tensor(input, "bitwise_xor")
    other = as_operand(other, input, "bitwise_xor")
    if input.dtype != other.dtype:
        input, other = elementwise._promote(input, other)
    for operand in (input, other):
        if backend.is_floating(operand.dtype):
            raise TypeError(f"bitwise_xor: only bool and integer tensors, got dtype "
                            f"{operand.dtype}")
    broadcast_operands("bitwise_xor", input, other)  # (raises naming the shapes if they clash)
    return constant(backend.xp_of(input.data).bitwise_xor(input.data, other.data))


def _reflected_floor_divide(self, other):
    """``other // self``."""
    return floor_divide(other, self)


def _reflected_remainder(self, other):
    """``other % self``."""
    return remainder(other, self)


def _format(self, format_spec: str) -> str:
    """As PyTorch: a 0-d tensor formats as its number (``f"{loss:.4f}"``; note that
    ``f"{loss}"`` too gives the bare number); any other tensor only with an empty
    spec, as its repr, and a format spec raises TypeError."""
    if self.ndim == 0:
        return format(self.item(), format_spec)
    return object.__format__(self, format_spec)


class MathMethods:
    """Tensor methods of this module (``Tensor`` inherits them through ``Conveniences``).
    Each method is the function of the same name: ``x.tan()`` is ``tan(x)``."""

    __slots__ = ()

    expm1, exp2, log2, log10, log1p = expm1, exp2, log2, log10, log1p
    rsqrt, reciprocal = rsqrt, reciprocal
    tan, asin, acos, atan, atan2, hypot = tan, asin, acos, atan, atan2, hypot
    arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
    sinh, cosh, asinh, acosh, atanh = sinh, cosh, asinh, acosh, atanh
    arcsinh, arccosh, arctanh = asinh, acosh, atanh
    erf, sinc = erf, sinc  # (erfc: ops/special.py, accurate in the tail)
    floor, ceil, round, trunc, frac = floor, ceil, round, trunc, frac
    fmod, remainder, floor_divide = fmod, remainder, floor_divide
    lerp, logit, xlogy, heaviside = lerp, logit, xlogy, heaviside
    clamp_min, clamp_max, nan_to_num, bitwise_xor = clamp_min, clamp_max, nan_to_num, bitwise_xor

    # operators (Python finds them through the class's bases)
    __floordiv__, __rfloordiv__ = floor_divide, _reflected_floor_divide
    __mod__, __rmod__ = remainder, _reflected_remainder
    __xor__ = __rxor__ = bitwise_xor
    __format__ = _format


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def _chebyshev(coefficients, y):
    """Σᵢ cᵢ·T_{n−1−i}(y/2), the constant term halved (Cephes's ``chbevl``; the
    Bessel functions of ops/bessel.py and ops/special.py use it), by Clenshaw's
    recurrence bᵢ = y·bᵢ₋₁ − bᵢ₋₂ + cᵢ; the sum is (b_last − b_last−2)/2."""
    before, previous, current = 0.0, 0.0, coefficients[0]
    for c in coefficients[1:]:
        before, previous = previous, current
        current = y * previous - before + c
    return 0.5 * (current - before)
