"""PyTorch's remaining everyday Tensor spellings and top-level functions (``x.mm``,
``tg.hstack``, ``tg.cov``, ...), each a composition of existing ops, outside the
reading path."""

from __future__ import annotations

__all__: list = []


class EverydayMethods:
    """Tensor methods of this file, inherited by ``Tensor`` through ``Conveniences``."""

    __slots__ = ()
