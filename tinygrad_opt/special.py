"""``tg.special``: PyTorch's ``torch.special`` namespace.

The functions are written in ``ops/special.py`` (lgamma, digamma, polygamma, erfinv,
Bessel I₀ and I₁, erfc and erfcx, the normal distribution's ndtr, log_ndtr and ndtri,
xlog1py, entr, zeta) and ``ops/math_ops.py`` (erf, exp2, expm1, log1p, logit, round,
sinc, xlogy); this module gives them ``torch.special``'s names: ``gammaln`` is
``lgamma``, ``psi`` is ``digamma``, ``multigammaln`` is ``mvlgamma``, ``expit`` is the
sigmoid. ``erfc`` is accurate in the tail (every digit), as ``tg.erfc``.

``gammainc`` / ``gammaincc`` are ``tg.igamma`` / ``tg.igammac`` (ops/surface_more.py);
``modified_bessel_i0`` / ``_i1`` are I₀ / I₁; ``spherical_bessel_j0`` (sin(x)/x) and the
classical orthogonal polynomials (Chebyshev T, U, V, W and their shifted forms, Hermite H
and He, Laguerre L, Legendre P, by their three-term recurrences, so differentiable in x,
where PyTorch's are not) are in ``ops/polynomials.py``.

Written in ``ops/bessel.py``: the Bessel functions ``bessel_j0``, ``bessel_j1``, ``bessel_y0``,
``bessel_y1``, ``modified_bessel_k0``, ``modified_bessel_k1``, ``scaled_modified_bessel_k0``,
``scaled_modified_bessel_k1`` and the Airy function ``airy_ai``: PyTorch's Cephes
approximations. PyTorch gives them no derivative, nor does this module: a backward that
reaches one raises, naming it.
"""

from __future__ import annotations

from tinygrad_opt.ops.bessel import (airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1,
                                     modified_bessel_k0, modified_bessel_k1,
                                     scaled_modified_bessel_k0, scaled_modified_bessel_k1)
from tinygrad_opt.ops.math_ops import (_float_input, _tensor, erf, exp2, expm1, log1p, logit,
                                       round, sinc, xlogy)
from tinygrad_opt.ops.special import (digamma, entr, erfc, erfcx, erfinv, i0, i0e, i1, i1e,
                                      lgamma, log_ndtr, mvlgamma, ndtr, ndtri, polygamma,
                                      xlog1py, zeta)
from tinygrad_opt.ops.polynomials import *  # noqa: F401,F403  (its __all__)
from tinygrad_opt.ops.surface_more import igamma as gammainc, igammac as gammaincc

__all__: list = [
    "erf", "erfc", "erfcx", "erfinv", "expit", "logit", "xlogy", "xlog1py",
    "gammaln", "digamma", "psi", "polygamma", "multigammaln",
    "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "entr", "sinc", "round",
    "exp2", "expm1", "log1p", "logsumexp", "softmax", "log_softmax", "zeta",
    "gammainc", "gammaincc", "spherical_bessel_j0", "modified_bessel_i0", "modified_bessel_i1",
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
    "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
    "laguerre_polynomial_l", "legendre_polynomial_p",
    "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
    "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "airy_ai",
]

gammaln = lgamma
psi = digamma
multigammaln = mvlgamma
modified_bessel_i0, modified_bessel_i1 = i0, i1


def expit(input):
    """The logistic sigmoid 1 / (1 + e^−x), elementwise (integers become float32); the
    gradient is expit(x)·(1 − expit(x))."""
    return _float_input(input, "expit").sigmoid()


def logsumexp(input, dim, keepdim: bool = False):
    """log Σ exp(x) over ``dim``, computed stably (``input.logsumexp``); the gradient is
    softmax(x)."""
    return _tensor(input, "logsumexp").logsumexp(dim, keepdim)


def softmax(input, dim: int, *, dtype=None):
    """softmax along ``dim``, in ``dtype`` if given (the input is cast first, as PyTorch)."""
    input = _tensor(input, "softmax")
    return (input if dtype is None else input.astype(dtype)).softmax(dim)


def log_softmax(input, dim: int, *, dtype=None):
    """log softmax along ``dim``, stable, in ``dtype`` if given (cast first)."""
    input = _tensor(input, "log_softmax")
    return (input if dtype is None else input.astype(dtype)).log_softmax(dim)
