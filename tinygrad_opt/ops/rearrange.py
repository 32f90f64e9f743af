"""Rearranging and selecting: PyTorch's Tensor methods built on indexing (placeholder)."""

from __future__ import annotations

__all__: list = []


class RearrangeMethods:
    """Tensor methods of this module (``Tensor`` inherits them through ``Conveniences``)."""

    __slots__ = ()
