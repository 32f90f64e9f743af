"""The classical orthogonal polynomials of ``tg.special`` (Chebyshev T, U, V, W and their
shifted forms, Hermite H and He, Laguerre L, Legendre P), each by its three-term recurrence,
so their gradients with respect to x are those of the products and sums (PyTorch gives
none); and the spherical Bessel function j₀(x) = sin(x)/x. ``tinygrad_opt/special.py``
gives them their ``torch.special`` names.
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.functions import store_out
from tinygrad_opt.ops.elementwise import constant, where
from tinygrad_opt.ops.math_ops import _float_input
from tinygrad_opt.ops.special import _operands

__all__: list = ["spherical_bessel_j0", "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"]


def spherical_bessel_j0(input):
    """j₀(x) = sin(x)/x (1 at 0, and 0 at ±inf, its limit, as PyTorch's), the spherical
    Bessel function of the first kind of order 0, elementwise; the gradient is
    (cos x − j₀(x))/x (0 at 0 and at ±inf).

    sin is taken of x itself, as PyTorch: ``sinc(x/π)`` would take it of π·(x/π), off from
    x by a rounding of x, which costs every digit by x = 1e15 (and 1e-11 relative at 1e5)."""
    x = _float_input(input, "spherical_bessel_j0")
    xp = backend.xp_of(x.data)
    at_zero = constant(x.data == 0)
    outside = constant((x.data == 0) | xp.isinf(x.data))
    inside = where(outside, 1.0, x)  # (so that neither 0/0 nor sin(inf) is ever taken)
    return where(at_zero, 1.0, where(outside, 0.0, inside.sin() / inside))


# --- the classical orthogonal polynomials: y = P_n(x), by their recurrences ---

def _polynomial(name: str, input, n, out, first, step, shifted: bool = False):
    """P_n(x) elementwise (x and n broadcast; n truncated to an integer, P_n = 0 for
    n < 0), from P₀ = 1, P₁ = first(x) and P_{k+1} = step(k, x, P_k, P_{k−1}); of
    2x − 1 when ``shifted``. Every P_k up to the largest n is built and each element
    takes its own: ``where`` picks, so the gradient with respect to x is that of its
    P_n; n gets none. ``out=`` as PyTorch's (``functions.store_out``).

    An n that no int64 holds (NaN, ±inf, |n| ≥ 2⁶³) gives 0: PyTorch casts n to int64,
    which makes it −2⁶³ there (the x86 conversion of an out-of-range double)."""
    x, n = _operands(input, n, name)
    x = x * 2 - 1 if shifted else x
    xp = backend.xp_of(x.data)
    order = xp.trunc(xp.broadcast_to(n.data, backend.broadcast_shapes(x.shape, n.shape)))
    order = constant(xp.where(xp.abs(order) < 2.0 ** 63, order, -1))
    largest = int(backend.to_host(order.data.max())) if order.data.size else 0
    previous, current = constant(xp.ones(x.shape, dtype=x.dtype)), first(x)   # P₀, P₁
    result = where(order == 0, previous, constant(xp.zeros(order.shape, dtype=x.dtype)))
    for k in range(1, largest + 1):
        result = where(order == k, current, result)
        previous, current = current, step(k, x, current, previous)
    return store_out(result, out, name)


def _chebyshev_step(k, x, p, q):
    """The recurrence of the four Chebyshev kinds: P_{k+1} = 2x P_k − P_{k−1}."""
    return 2 * x * p - q


def chebyshev_polynomial_t(input, n, *, out=None):
    """T_n(x), Chebyshev of the first kind (T_n(cos θ) = cos nθ): T₀ = 1, T₁ = x,
    T_{k+1} = 2x T_k − T_{k−1}."""
    return _polynomial("chebyshev_polynomial_t", input, n, out, lambda x: x,
                       _chebyshev_step)


def chebyshev_polynomial_u(input, n, *, out=None):
    """U_n(x), Chebyshev of the second kind (U_n(cos θ) = sin (n+1)θ / sin θ): U₀ = 1,
    U₁ = 2x, U_{k+1} = 2x U_k − U_{k−1}."""
    return _polynomial("chebyshev_polynomial_u", input, n, out, lambda x: 2 * x,
                       _chebyshev_step)


def chebyshev_polynomial_v(input, n, *, out=None):
    """V_n(x), Chebyshev of the third kind (V_n(cos θ) = cos (n+½)θ / cos ½θ): V₀ = 1,
    V₁ = 2x − 1, V_{k+1} = 2x V_k − V_{k−1}."""
    return _polynomial("chebyshev_polynomial_v", input, n, out, lambda x: 2 * x - 1,
                       _chebyshev_step)


def chebyshev_polynomial_w(input, n, *, out=None):
    """W_n(x), Chebyshev of the fourth kind (W_n(cos θ) = sin (n+½)θ / sin ½θ): W₀ = 1,
    W₁ = 2x + 1, W_{k+1} = 2x W_k − W_{k−1}."""
    return _polynomial("chebyshev_polynomial_w", input, n, out, lambda x: 2 * x + 1,
                       _chebyshev_step)


def shifted_chebyshev_polynomial_t(input, n, *, out=None):
    """T*_n(x) = T_n(2x − 1), on [0, 1]."""
    return _polynomial("shifted_chebyshev_polynomial_t", input, n, out, lambda x: x,
                       _chebyshev_step, shifted=True)


def shifted_chebyshev_polynomial_u(input, n, *, out=None):
    """U*_n(x) = U_n(2x − 1), on [0, 1]."""
    return _polynomial("shifted_chebyshev_polynomial_u", input, n, out, lambda x: 2 * x,
                       _chebyshev_step, shifted=True)


def shifted_chebyshev_polynomial_v(input, n, *, out=None):
    """V*_n(x) = V_n(2x − 1), on [0, 1]."""
    return _polynomial("shifted_chebyshev_polynomial_v", input, n, out, lambda x: 2 * x - 1,
                       _chebyshev_step, shifted=True)


def shifted_chebyshev_polynomial_w(input, n, *, out=None):
    """W*_n(x) = W_n(2x − 1), on [0, 1]."""
    return _polynomial("shifted_chebyshev_polynomial_w", input, n, out, lambda x: 2 * x + 1,
                       _chebyshev_step, shifted=True)


def hermite_polynomial_h(input, n, *, out=None):
    """H_n(x), the physicists' Hermite polynomial: H₀ = 1, H₁ = 2x,
    H_{k+1} = 2x H_k − 2k H_{k−1}."""
    return _polynomial("hermite_polynomial_h", input, n, out, lambda x: 2 * x,
                       lambda k, x, p, q: 2 * x * p - 2 * k * q)


def hermite_polynomial_he(input, n, *, out=None):
    """He_n(x), the probabilists' Hermite polynomial: He₀ = 1, He₁ = x,
    He_{k+1} = x He_k − k He_{k−1}."""
    return _polynomial("hermite_polynomial_he", input, n, out, lambda x: x,
                       lambda k, x, p, q: x * p - k * q)


def laguerre_polynomial_l(input, n, *, out=None):
    """L_n(x), the Laguerre polynomial: L₀ = 1, L₁ = 1 − x,
    L_{k+1} = ((2k + 1 − x) L_k − k L_{k−1}) / (k + 1)."""
    return _polynomial("laguerre_polynomial_l", input, n, out, lambda x: 1 - x,
                       lambda k, x, p, q: ((2 * k + 1 - x) * p - k * q) / (k + 1))


def legendre_polynomial_p(input, n, *, out=None):
    """P_n(x), the Legendre polynomial: P₀ = 1, P₁ = x,
    P_{k+1} = ((2k + 1) x P_k − k P_{k−1}) / (k + 1)."""
    return _polynomial("legendre_polynomial_p", input, n, out, lambda x: x,
                       lambda k, x, p, q: ((2 * k + 1) * x * p - k * q) / (k + 1))
