"""The two primitives of the functional forms, and softplus, which rests on one of them.

``erf`` and ``log1p`` are the two functional forms with a backward of their own,
each for a reason stated in its docstring: NumPy has no erf, and ``log(1 + e)``
loses every digit of a tiny ``e``. ``softplus`` is a composition built on
``log1p``; it lives here, next to ``log1p``, because both the activations
(``nn/functional.py``, ``F.softplus``) and the losses (``nn/functional_loss.py``,
``binary_cross_entropy_with_logits``) use it, and both can import this file
without an import circle. ``F.erf``, ``F.log1p`` and ``F.softplus`` are these.
"""

from __future__ import annotations

import math

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.tensor import Tensor


# ---------------------------------------------------------------- two primitives

class Log1p(Function):
    """y = log(1 + x).   dy/dx = 1 / (1 + x).

    A primitive because ``log(1 + x)`` composed of two ops rounds ``1 + x`` to
    1 when ``|x|`` is below the float epsilon and returns 0 instead of ``x``;
    ``xp.log1p`` keeps every digit. Softplus and BCE-with-logits need this.
    """

    def forward(self, x: "Array") -> "Array":
        return backend.xp_of(x).log1p(x)

    def backward(self, grad_output: "Grad") -> "Grads":
        (x,) = self.saved_inputs
        return grad_output / (1 + x)


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for tiny x (see ``Log1p``)."""
    return Log1p.apply(x)


class Erf(Function):
    """y = erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt.   dy/dx = (2/√π) e^(−x²).

    A primitive because NumPy has no erf. The forward evaluates two
    polynomials, Chebyshev fits made for this file (with mpmath, to 1e-18) and
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


def erf(x: Tensor) -> Tensor:
    """The error function, elementwise (see ``Erf``)."""
    return Erf.apply(x)


# ------------------------------------- softplus (the activations and the losses share it)

def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """(1/β)·log(1 + e^(βx)), and x itself where βx > threshold (as PyTorch).

    Stable form: log(1 + e^z) = max(z, 0) + log1p(e^−|z|), where e^−|z| ≤ 1.
    ``max`` and ``−|z|`` are built from ``where`` so that the derivative at
    z = 0 comes out as σ(0) = ½ (relu and abs would both give 0 there).
    """
    z = x * beta
    positive_part = tg.where(z > 0, z, 0.0)   # max(z, 0)
    negative_part = tg.where(z > 0, 0.0, z)   # min(z, 0)
    minus_abs = negative_part - positive_part  # −|z|
    softplus_z = positive_part + log1p(minus_abs.exp())
    return tg.where(z > threshold, x, softplus_z / beta)
