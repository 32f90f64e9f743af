"""More layers, the module forms of nn/functional_more.py (placeholder)."""

from __future__ import annotations

__all__: list = []
