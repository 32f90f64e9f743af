"""PyTorch's linear-algebra Tensor methods (``x.det()``, ``x.inverse()``, ...), as
spellings of ``tg.linalg`` that ``Tensor`` inherits (through ``Conveniences``).

Each is a one-line call into ``tinygrad_opt.linalg``, whose ops carry the gradients.
That module imports ``Tensor``, which inherits these methods, so it is imported on first
use (``_linalg()``), not at the top. ``Tensor.svd`` (deprecated in PyTorch, with another
convention: V instead of Vh) is not here: use ``tg.linalg.svd``.
"""

from __future__ import annotations

__all__: list = []


def _linalg():
    """The module ``tinygrad_opt.linalg``, imported when a method first needs it."""
    from tinygrad_opt import linalg
    return linalg


class LinalgMethods:
    """Tensor methods that call ``tinygrad_opt.linalg``."""

    __slots__ = ()

    def det(self):
        """det A of a (batch of) square matrices: ``tg.linalg.det``."""
        return _linalg().det(self)

    def logdet(self):
        """log det A (NaN where det A < 0, −inf where it is 0): ``tg.linalg.logdet``."""
        return _linalg().logdet(self)

    def slogdet(self):
        """``(sign, logabsdet)`` with det A = sign · exp(logabsdet): ``tg.linalg.slogdet``."""
        return _linalg().slogdet(self)

    def inverse(self):
        """A⁻¹ of a (batch of) square matrices: ``tg.linalg.inv``."""
        return _linalg().inv(self)

    def pinverse(self, rcond: float = 1e-15):
        """The pseudo-inverse A⁺, dropping singular values at most rcond · S_max:
        ``tg.linalg.pinv(A, rtol=rcond)`` (PyTorch's default rcond, 1e-15)."""
        return _linalg().pinv(self, rtol=rcond)

    def matrix_power(self, n: int):
        """Aⁿ for an integer n (A⁻¹ powers for n < 0): ``tg.linalg.matrix_power``."""
        return _linalg().matrix_power(self, n)

    def matrix_exp(self):
        """exp(A) = Σ_j Aʲ / j! of a (batch of) square matrices: ``tg.linalg.matrix_exp``."""
        return _linalg().matrix_exp(self)

    def cholesky(self, upper: bool = False):
        """L with A = L Lᵀ (U = Lᵀ with ``upper=True``) for A symmetric positive-definite:
        ``tg.linalg.cholesky``."""
        return _linalg().cholesky(self, upper=upper)

    def qr(self, some: bool = True):
        """``(Q, R)`` with A = Q R: ``tg.linalg.qr`` in mode 'reduced' (``some=True``) or
        'complete' (``some=False``), as PyTorch's ``Tensor.qr``."""
        return _linalg().qr(self, "reduced" if some else "complete")
