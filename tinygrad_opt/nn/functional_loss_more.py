"""More losses as functions: margins, ranking, likelihoods (placeholder)."""

from __future__ import annotations

__all__: list = []
