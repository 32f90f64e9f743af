"""The classical orthogonal polynomials of ``tg.special`` (Chebyshev T, U, V, W and their
shifted forms, Hermite H and He, Laguerre L, Legendre P), each by its three-term recurrence,
so their gradients with respect to x are those of the products and sums (PyTorch gives
none); and the spherical Bessel function j₀(x) = sin(x)/x. ``tinygrad_opt/special.py``
gives them their ``torch.special`` names.

A long recurrence on the CPU (and the strict test device) runs compiled, per element, as
PyTorch's C loop does, when Numba is importable (the optional ``fast`` extra): see
:class:`Recurrence`. Without Numba, and on CuPy, the readable recurrence runs.
"""

from __future__ import annotations

import functools

import numpy as np  # host-side: the compiled kernel's arrays (Numba compiles NumPy calls)

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
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


# --- the classical orthogonal polynomials: y = P_n(x), by PyTorch's choice of method ---
#
# PyTorch (aten/src/ATen/native/Math.h) takes each element by the first rule that applies:
# n < 0 gives 0; the edge of the interval (|x| = 1, x = 0 for Laguerre) its exact value;
# a Chebyshev order above a threshold with |x| < 1 its trigonometric closed form; a
# Hermite order above a limit NaN; every other element the three-term recurrence, run to
# its order or until its value is NaN (an overflow outside [−1, 1]). Each rule here gives
# the values PyTorch's does, so no element with a closed form runs the recurrence, and an
# order of 10⁹ costs no more than one of 10 there. Where the recurrence must run (Legendre
# and Laguerre have no closed form; Chebyshev just outside [−1, 1] overflows only after
# millions of steps), a long one runs compiled, O(n) per element as PyTorch's loop, since
# the readable one costs a dozen array operations per step (10⁶ steps: half a minute).

HERMITE_LIMIT = {"float32": 128, "float64": 512}   # PyTorch's getHermitianLimit (else 1024)
NAN_CHECK_EVERY = 64   # recurrence steps between looks for elements still finite
COMPILED_FROM_ORDER = 256   # a recurrence this long runs compiled, when Numba is importable


def _parity(xp, m):
    """(−1)ⁿ of whole-number orders m (any float an int64 holds)."""
    return xp.where(xp.fmod(m, 2) == 0, 1.0, -1.0).astype(m.dtype)


def _polynomial(name: str, input, n, out, first, step, *, shifted: bool = False,
                edge=None, closed=None, limit: bool = False, kind: str):
    """P_n(x) elementwise (x and n broadcast; n truncated to an integer), of y = 2x − 1
    when ``shifted``, by PyTorch's rules, in its order:

    * n < 0: 0;
    * ``edge(xp, y, m)`` → (where, value, slope): the exact value there (as PyTorch's),
      and P_n'(y) as its gradient: value + slope·(y − y'), y' a detached y (0 forward);
    * ``closed(y, m)``, a Chebyshev closed form in θ = arccos y: (threshold, formula),
      for n > threshold and |y| < 1;
    * ``limit`` (Hermite): NaN for n above PyTorch's limit for the dtype;
    * else the recurrence P₀ = 1, P₁ = first(y), P_{k+1} = step(k, y, P_k, P_{k−1}), up
      to the largest such n, each element taking its own: ``where`` picks, so the
      gradient with respect to x is that of its P_n; n gets none. It stops early once
      every element still running is NaN (PyTorch's stop at a NaN P_k, which an overflow
      outside [−1, 1] gives within a few hundred steps). When the largest such n is at
      least COMPILED_FROM_ORDER and the arrays are NumPy's, :class:`Recurrence` runs the
      same recurrence compiled, element by element (``kind`` names it there).

    Every rule is computed from an input that is a harmless 0 where another rule applies,
    and an element's recurrence is set to 0 once past its order, so no unused inf or NaN
    reaches a gradient (0·inf). ``out=`` as PyTorch's (``functions.store_out``).

    An n that no int64 holds (NaN, ±inf, |n| ≥ 2⁶³) gives 0: PyTorch casts n to int64,
    which makes it −2⁶³ there (the x86 conversion of an out-of-range double)."""
    x, n = _operands(input, n, name)
    y = x * 2 - 1 if shifted else x
    xp = backend.xp_of(y.data)
    shape = backend.broadcast_shapes(x.shape, n.shape)
    y = y if y.shape == shape else y.expand(*shape)
    m = xp.trunc(xp.broadcast_to(n.data, shape))
    m = xp.where(xp.abs(m) < 2.0 ** 63, m, -1).astype(y.dtype)
    taken = m < 0
    result = constant(xp.zeros(shape, dtype=y.dtype))
    if edge is not None:
        at_edge, value, slope = edge(xp, y.data, m)
        at_edge = at_edge & ~taken
        here = where(constant(at_edge), y, 0.0)
        linear = constant(value) + constant(slope) * (here - here.detach())
        result, taken = where(constant(at_edge), linear, result), taken | at_edge
    if closed is not None:
        threshold, formula = closed
        inside = (m > threshold) & (xp.abs(y.data) < 1) & ~taken
        theta = where(constant(inside), y, 0.0).acos()
        result = where(constant(inside), formula(theta, m), result)
        taken = taken | inside
    if limit:
        over = (m > HERMITE_LIMIT.get(str(y.dtype), 1024)) & ~taken
        result, taken = where(constant(over), float("nan"), result), taken | over
    running = ~taken
    orders = backend.to_host(xp.unique(xp.where(running, m, -1)))
    largest = int(orders.max()) if orders.size else -1
    if largest < 0:
        return store_out(result, out, name)
    if largest >= COMPILED_FROM_ORDER and _compiled_recurrence(y.data) is not None:
        each = backend.to_host(xp.where(running, m, 0)).astype(np.int64)   # (others: P₀)
        y = where(constant(running), y, 0.0)
        compiled = Recurrence.apply(y, orders=each, kind=kind, derivative=0)
        return store_out(where(constant(running), compiled, result), out, name)
    retiring = {int(k) for k in orders if k >= 1}
    y = where(constant(running), y, 0.0)
    previous, current = constant(xp.ones(shape, dtype=y.dtype)), first(y)   # P₀, P₁
    result = where(constant(running & (m == 0)), previous, result)
    for k in range(1, largest + 1):
        result = where(constant(running & (m == k)), current, result)
        if k == largest:
            break
        previous, current = current, step(k, y, current, previous)
        if k in retiring:   # (the elements of order k are done: cut their chain)
            done = constant(m <= k)
            previous, current = where(done, 0.0, previous), where(done, 0.0, current)
        if k % NAN_CHECK_EVERY == 0:
            still = running & (m > k)
            if not backend.to_host(xp.any(still & ~xp.isnan(current.data))):
                result = where(constant(still), float("nan"), result)
                break
    return store_out(result, out, name)


# --- the compiled recurrence (CPU and strict device, with Numba) ---

KINDS = {"t": 0, "u": 1, "v": 2, "w": 3, "h": 4, "he": 5, "l": 6, "p": 7}


def _recurrence_kernel(y, orders, kind, derivative, out):
    """out[i] = the ``derivative``-th derivative of P_n at y[i], n = orders[i] ≥ 0, by the
    recurrence of ``kind`` (KINDS), as PyTorch's loop (Math.h) runs it: P₀ = 1, P₁, then
    P_{k+1} from P_k and P_{k−1} for k = 1 … n−1, stopping once P_k is NaN.

    The values are written with PyTorch's operations in PyTorch's order, every constant
    cast to y's dtype first (``T``), so that float32 runs in float32 and the values are
    PyTorch's to the last bit. A derivative d ≥ 1 carries each P_k's derivatives up to d
    along: every recurrence is P_{k+1} = (α_k y + β_k) P_k − γ_k P_{k−1}, whose j-th
    derivative is, by Leibniz's rule, (α_k y + β_k) P_k^(j) + j α_k P_k^(j−1) − γ_k
    P_{k−1}^(j). Compiled by Numba (:func:`_compiled_kernel`); plain Python runs it too,
    slowly."""
    T = y.dtype.type
    one, two = T(1.0), T(2.0)
    p = np.zeros(derivative + 1, y.dtype)   # P_{k−1}^(j) and P_k^(j), j = 0 … d
    q = np.zeros(derivative + 1, y.dtype)
    for i in range(y.size):
        x, n = y[i], orders[i]
        if kind == 0 or kind == 5 or kind == 7:       # T₁ = He₁ = P₁ = x
            first, slope = x, one
        elif kind == 1 or kind == 4:                  # U₁ = H₁ = 2x
            first, slope = x + x, two
        elif kind == 2:                               # V₁ = 2x − 1
            first, slope = x + x - one, two
        elif kind == 3:                               # W₁ = 2x + 1
            first, slope = x + x + one, two
        else:                                         # L₁ = 1 − x
            first, slope = one - x, -one
        before, now = one, first                      # P_{k−1}, P_k
        for j in range(derivative + 1):
            p[j] = q[j] = T(0.0)
        if derivative >= 1:
            q[1] = slope
        k = 1
        while k < n and not np.isnan(now):
            # the derivatives first, from d down to 1: P_k^(j−1) is still the old one
            for j in range(derivative, 0, -1):
                below = now if j == 1 else q[j - 1]
                if kind <= 3:
                    after = (x + x) * q[j] + T(2 * j) * below - p[j]
                elif kind == 4:
                    after = (x + x) * q[j] + T(2 * j) * below - T(2 * k) * p[j]
                elif kind == 5:
                    after = x * q[j] + T(j) * below - T(k) * p[j]
                elif kind == 6:
                    after = ((T(2 * k) + (one - x)) * q[j] - T(j) * below
                             - T(k) * p[j]) / T(k + 1)
                else:
                    after = (T(2 * k + 1) * (x * q[j] + T(j) * below)
                             - T(k) * p[j]) / T(k + 1)
                p[j], q[j] = q[j], after
            if kind <= 3:      # Chebyshev: P_{k+1} = 2x P_k − P_{k−1}
                after = (x + x) * now - before
            elif kind == 4:    # H_{k+1} = 2x H_k − 2k H_{k−1}
                after = (x + x) * now - T(2 * k) * before
            elif kind == 5:    # He_{k+1} = x He_k − k He_{k−1}
                after = x * now - T(k) * before
            elif kind == 6:    # L_{k+1} = ((2k + (1 − x)) L_k − k L_{k−1}) / (k + 1)
                after = ((T(2 * k) + (one - x)) * now - T(k) * before) / T(k + 1)
            else:              # P_{k+1} = ((2k + 1) x P_k − k P_{k−1}) / (k + 1)
                after = (T(2 * k + 1) * x * now - T(k) * before) / T(k + 1)
            before, now = now, after
            k += 1
        if n == 0:
            out[i] = one if derivative == 0 else T(0.0)
        elif derivative == 0 or np.isnan(now):   # (an overflow's derivatives are NaN too)
            out[i] = now
        else:
            out[i] = q[derivative]


@functools.lru_cache(maxsize=None)
def _compiled_kernel():
    """:func:`_recurrence_kernel` compiled by Numba (machine code cached on disk; NumPy's
    x/0; no fast-math, so IEEE rounding in the written order), or None without Numba.
    Imported on first use, so that the package needs no Numba."""
    try:
        import numba
    except ImportError:
        return None
    return numba.njit(cache=True, error_model="numpy")(_recurrence_kernel)


def _compiled_recurrence(array):
    """The compiled kernel for ``array``'s device and dtype, or None: on CuPy (a loop of a
    billion steps per element would run on the host), for dtypes other than float32 and
    float64, and without Numba."""
    if backend.device_of(array) == "cuda" or array.dtype not in (np.float32, np.float64):
        return None
    return _compiled_kernel()


class Recurrence(Function):
    """y ↦ P_n^(d)(y), the d-th derivative of the polynomial ``kind`` of order n (n from
    ``orders``, int64 on the host, of y's shape), by the compiled per-element recurrence
    of :func:`_recurrence_kernel`: O(n) per element at machine speed, as PyTorch's C
    loop, where the readable recurrence costs a dozen array operations per step.

    dP_n^(d)/dy = P_n^(d+1): backward is this op again with d + 1, so every order of
    gradient is exact (as the readable recurrence's autograd gives it), and n gets none."""

    def forward(self, y: "Array", orders, kind: str, derivative: int) -> "Array":
        self.orders, self.kind, self.derivative = orders, kind, derivative
        host = np.ascontiguousarray(backend.to_host(y)).reshape(-1)
        out = np.empty_like(host)
        _compiled_recurrence(y)(host, np.ascontiguousarray(orders).reshape(-1),
                                KINDS[kind], derivative, out)
        return backend.to_device(out.reshape(y.shape), backend.device_of(y))

    def backward(self, grad_output: "Grad") -> "Grads":
        return grad_output * Recurrence.apply(self.saved_input(0), orders=self.orders,
                                              kind=self.kind, derivative=self.derivative + 1)


def _chebyshev_step(k, x, p, q):
    """The recurrence of the four Chebyshev kinds: P_{k+1} = 2x P_k − P_{k−1}."""
    return 2 * x * p - q


# P_n(1) and P_n'(1) of each kind (n(n+1)(n+2)/3 is U_n'(1); V = U_n − U_{n−1} and
# W = U_n + U_{n−1} give the others); at −1 the parity V_n(−x) = (−1)ⁿ W_n(x) (T, U and
# Legendre's P are their own partners) gives P_n(−1) = (−1)ⁿ Q_n(1) and
# P_n'(−1) = −(−1)ⁿ Q_n'(1), Q the partner.
AT_ONE = {
    "t": lambda m: (1.0 + 0 * m, m * m),
    "u": lambda m: (m + 1, m * (m + 1) * (m + 2) / 3),
    "v": lambda m: (1.0 + 0 * m, m * (m + 1)),
    "w": lambda m: (2 * m + 1, m * (m + 1) * (2 * m + 1) / 3),
    "p": lambda m: (1.0 + 0 * m, m * (m + 1) / 2),
}
PARTNER = {"t": "t", "u": "u", "v": "w", "w": "v", "p": "p"}


def _edge_of(kind: str):
    """The values and slopes at y = ±1 (PyTorch's exact values there)."""
    def edge(xp, y, m):
        value, slope = AT_ONE[kind](m)
        value_across, slope_across = AT_ONE[PARTNER[kind]](m)
        sign = _parity(xp, m)
        positive = y > 0
        return (xp.abs(y) == 1, xp.where(positive, value, sign * value_across),
                xp.where(positive, slope, -sign * slope_across))
    return edge


def _closed_t(theta, m):
    """T_n(cos θ) = cos nθ."""
    return (constant(m) * theta).cos()


def _closed_u(theta, m):
    """U_n(cos θ) = sin (n+1)θ / sin θ (sin θ > 0 for every |y| < 1 a float holds, so
    PyTorch's other branch, for sin θ = 0, is never taken)."""
    return (constant(m + 1) * theta).sin() / theta.sin()


def _closed_v(theta, m):
    """V_n(cos θ) = cos (n+½)θ / cos ½θ; (−1)ⁿ(2n + 1), its limit at y = −1, where
    sin ½θ rounds to 1 (as PyTorch's)."""
    xp = backend.xp_of(theta.data)
    fallback = _parity(xp, m) * (2 * m + 1)
    return where(constant(xp.sin(theta.data / 2) == 1), constant(fallback),
                 (constant(m + 0.5) * theta).cos() / (theta / 2).cos())


def _closed_w(shifted: bool):
    def formula(theta, m):
        """W_n(cos θ) = sin (n+½)θ / sin ½θ; where cos ½θ rounds to 1 (y just below 1),
        PyTorch's 2n + 1 (its limit), and for the shifted kind PyTorch's ±1 by the
        parity of n."""
        xp = backend.xp_of(theta.data)
        fallback = _parity(xp, m) if shifted else 2 * m + 1
        return where(constant(xp.cos(theta.data / 2) == 1), constant(fallback),
                     (constant(m + 0.5) * theta).sin() / (theta / 2).sin())
    return formula


def chebyshev_polynomial_t(input, n, *, out=None):
    """T_n(x), Chebyshev of the first kind (T_n(cos θ) = cos nθ): T₀ = 1, T₁ = x,
    T_{k+1} = 2x T_k − T_{k−1}; cos(n arccos x) for n > 6 and |x| < 1, as PyTorch."""
    return _polynomial("chebyshev_polynomial_t", input, n, out, lambda x: x,
                       _chebyshev_step, edge=_edge_of("t"), closed=(6, _closed_t), kind="t")


def chebyshev_polynomial_u(input, n, *, out=None):
    """U_n(x), Chebyshev of the second kind (U_n(cos θ) = sin (n+1)θ / sin θ): U₀ = 1,
    U₁ = 2x, U_{k+1} = 2x U_k − U_{k−1}; the closed form for n > 8 and |x| < 1."""
    return _polynomial("chebyshev_polynomial_u", input, n, out, lambda x: 2 * x,
                       _chebyshev_step, edge=_edge_of("u"), closed=(8, _closed_u), kind="u")


def chebyshev_polynomial_v(input, n, *, out=None):
    """V_n(x), Chebyshev of the third kind (V_n(cos θ) = cos (n+½)θ / cos ½θ): V₀ = 1,
    V₁ = 2x − 1, V_{k+1} = 2x V_k − V_{k−1}; the closed form for n > 8 and |x| < 1."""
    return _polynomial("chebyshev_polynomial_v", input, n, out, lambda x: 2 * x - 1,
                       _chebyshev_step, edge=_edge_of("v"), closed=(8, _closed_v), kind="v")


def chebyshev_polynomial_w(input, n, *, out=None):
    """W_n(x), Chebyshev of the fourth kind (W_n(cos θ) = sin (n+½)θ / sin ½θ): W₀ = 1,
    W₁ = 2x + 1, W_{k+1} = 2x W_k − W_{k−1}; the closed form for n > 8 and |x| < 1."""
    return _polynomial("chebyshev_polynomial_w", input, n, out, lambda x: 2 * x + 1,
                       _chebyshev_step, edge=_edge_of("w"), closed=(8, _closed_w(False)), kind="w")


def shifted_chebyshev_polynomial_t(input, n, *, out=None):
    """T*_n(x) = T_n(2x − 1), on [0, 1]; the closed form for n > 6 (PyTorch's
    thresholds of the shifted kinds are 6, 6, 6 and 4)."""
    return _polynomial("shifted_chebyshev_polynomial_t", input, n, out, lambda x: x,
                       _chebyshev_step, shifted=True, edge=_edge_of("t"),
                       closed=(6, _closed_t), kind="t")


def shifted_chebyshev_polynomial_u(input, n, *, out=None):
    """U*_n(x) = U_n(2x − 1), on [0, 1]; the closed form for n > 6."""
    return _polynomial("shifted_chebyshev_polynomial_u", input, n, out, lambda x: 2 * x,
                       _chebyshev_step, shifted=True, edge=_edge_of("u"),
                       closed=(6, _closed_u), kind="u")


def shifted_chebyshev_polynomial_v(input, n, *, out=None):
    """V*_n(x) = V_n(2x − 1), on [0, 1]; the closed form for n > 6."""
    return _polynomial("shifted_chebyshev_polynomial_v", input, n, out, lambda x: 2 * x - 1,
                       _chebyshev_step, shifted=True, edge=_edge_of("v"),
                       closed=(6, _closed_v), kind="v")


def shifted_chebyshev_polynomial_w(input, n, *, out=None):
    """W*_n(x) = W_n(2x − 1), on [0, 1]; the closed form for n > 4."""
    return _polynomial("shifted_chebyshev_polynomial_w", input, n, out, lambda x: 2 * x + 1,
                       _chebyshev_step, shifted=True, edge=_edge_of("w"),
                       closed=(4, _closed_w(True)), kind="w")


def hermite_polynomial_h(input, n, *, out=None):
    """H_n(x), the physicists' Hermite polynomial: H₀ = 1, H₁ = 2x,
    H_{k+1} = 2x H_k − 2k H_{k−1}; NaN for n above 128 (float32) or 512 (float64), as
    PyTorch (the recurrence has overflowed well before)."""
    return _polynomial("hermite_polynomial_h", input, n, out, lambda x: 2 * x,
                       lambda k, x, p, q: 2 * x * p - 2 * k * q, limit=True,
                       kind="h")


def hermite_polynomial_he(input, n, *, out=None):
    """He_n(x), the probabilists' Hermite polynomial: He₀ = 1, He₁ = x,
    He_{k+1} = x He_k − k He_{k−1}; NaN above the same order limit as H_n."""
    return _polynomial("hermite_polynomial_he", input, n, out, lambda x: x,
                       lambda k, x, p, q: x * p - k * q, limit=True, kind="he")


def _laguerre_edge(xp, x, m):
    """L_n(0) = 1 exactly (as PyTorch), with L_n'(0) = −n."""
    return x == 0, xp.ones_like(m), -m


def laguerre_polynomial_l(input, n, *, out=None):
    """L_n(x), the Laguerre polynomial: L₀ = 1, L₁ = 1 − x,
    L_{k+1} = ((2k + (1 − x)) L_k − k L_{k−1}) / (k + 1) (grouped as PyTorch's, so that
    the roundings are its); 1 at x = 0."""
    return _polynomial("laguerre_polynomial_l", input, n, out, lambda x: 1 - x,
                       lambda k, x, p, q: ((2 * k + (1 - x)) * p - k * q) / (k + 1),
                       edge=_laguerre_edge, kind="l")


def legendre_polynomial_p(input, n, *, out=None):
    """P_n(x), the Legendre polynomial: P₀ = 1, P₁ = x,
    P_{k+1} = ((2k + 1) x P_k − k P_{k−1}) / (k + 1); ±1 at x = ±1."""
    return _polynomial("legendre_polynomial_p", input, n, out, lambda x: x,
                       lambda k, x, p, q: ((2 * k + 1) * x * p - k * q) / (k + 1),
                       edge=_edge_of("p"), kind="p")
