"""More loss modules, the forms of nn/functional_loss_more.py (placeholder)."""

from __future__ import annotations

__all__: list = []
