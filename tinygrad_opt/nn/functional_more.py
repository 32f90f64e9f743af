"""More functional forms: padding, normalisation, distances, resampling (placeholder)."""

from __future__ import annotations

__all__: list = []
