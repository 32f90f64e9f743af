"""Transposed convolutions: ``F.conv_transpose1d/2d`` and ``nn.ConvTranspose1d/2d``."""

from __future__ import annotations

__all__: list = []
