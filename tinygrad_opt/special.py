"""``tg.special``: PyTorch's ``torch.special`` namespace.

The functions are written in ``ops/special.py`` (lgamma, digamma, polygamma, erfinv,
Bessel I₀ and I₁, erfc and erfcx, the normal distribution's ndtr, log_ndtr and ndtri,
xlog1py, entr, zeta) and ``ops/math_ops.py`` (erf, exp2, expm1, log1p, logit, round,
sinc, xlogy); this module gives them ``torch.special``'s names: ``gammaln`` is
``lgamma``, ``psi`` is ``digamma``, ``multigammaln`` is ``mvlgamma``, ``expit`` is the
sigmoid. ``erfc`` is accurate in the tail (every digit), as ``tg.erfc``.
"""

from __future__ import annotations

from tinygrad_opt.ops.elementwise import floating
from tinygrad_opt.ops.math_ops import erf, exp2, expm1, log1p, logit, round, sinc, xlogy
from tinygrad_opt.ops.special import (digamma, entr, erfc, erfcx, erfinv, i0, i0e, i1, i1e,
                                      lgamma, log_ndtr, mvlgamma, ndtr, ndtri, polygamma,
                                      xlog1py, zeta)

__all__: list = [
    "erf", "erfc", "erfcx", "erfinv", "expit", "logit", "xlogy", "xlog1py",
    "gammaln", "digamma", "psi", "polygamma", "multigammaln",
    "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "entr", "sinc", "round",
    "exp2", "expm1", "log1p", "logsumexp", "softmax", "log_softmax", "zeta",
]

gammaln = lgamma
psi = digamma
multigammaln = mvlgamma


def expit(input):
    """The logistic sigmoid 1 / (1 + e^−x), elementwise (integers become float32); the
    gradient is expit(x)·(1 − expit(x))."""
    return floating(input).sigmoid()


def logsumexp(input, dim, keepdim: bool = False):
    """log Σ exp(x) over ``dim``, computed stably (``input.logsumexp``); the gradient is
    softmax(x)."""
    return input.logsumexp(dim, keepdim)


def softmax(input, dim: int, *, dtype=None):
    """softmax along ``dim``, in ``dtype`` if given (the input is cast first, as PyTorch)."""
    return (input if dtype is None else input.astype(dtype)).softmax(dim)


def log_softmax(input, dim: int, *, dtype=None):
    """log softmax along ``dim``, stable, in ``dtype`` if given (cast first)."""
    return (input if dtype is None else input.astype(dtype)).log_softmax(dim)
