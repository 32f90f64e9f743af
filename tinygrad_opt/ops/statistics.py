"""Statistics and order statistics: PyTorch's functions beyond the core's (placeholder)."""

from __future__ import annotations

__all__: list = []


class StatisticsMethods:
    """Tensor methods of this module (``Tensor`` inherits them through ``Conveniences``)."""

    __slots__ = ()
