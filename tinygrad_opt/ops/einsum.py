"""``tg.einsum`` and the contractions built on it (placeholder)."""

from __future__ import annotations

__all__: list = []
