"""More elementwise math: PyTorch's functions beyond the core's (placeholder, being built)."""

from __future__ import annotations

__all__: list = []


class MathMethods:
    """Tensor methods of this module (``Tensor`` inherits them through ``Conveniences``)."""

    __slots__ = ()
