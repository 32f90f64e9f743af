"""``tg.linalg``: linear algebra with gradients (placeholder)."""

from __future__ import annotations

__all__: list = []
