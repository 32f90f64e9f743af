"""Attention: ``F.scaled_dot_product_attention``, ``nn.MultiheadAttention`` and the
Transformer layers built on them."""

from __future__ import annotations

__all__: list = []
