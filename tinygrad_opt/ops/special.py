"""Special functions (lgamma, digamma, polygamma, erfinv, ...) and the other elementwise
Tensor methods PyTorch has (logaddexp, addcmul, ...), outside the reading path."""

from __future__ import annotations

__all__: list = []


class SpecialMethods:
    """Tensor methods of this file, inherited by ``Tensor`` through ``Conveniences``."""

    __slots__ = ()
