"""Lazy modules (``nn.LazyLinear``, ...): the input size is read from the first input."""

from __future__ import annotations

__all__: list = []
