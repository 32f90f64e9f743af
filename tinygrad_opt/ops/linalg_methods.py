"""PyTorch's linear-algebra Tensor methods (``x.det()``, ``x.inverse()``, ...), as
spellings of ``tg.linalg`` that ``Tensor`` inherits (through ``Conveniences``)."""

from __future__ import annotations

__all__: list = []


class LinalgMethods:
    """Tensor methods that call ``tinygrad_opt.linalg``."""

    __slots__ = ()
