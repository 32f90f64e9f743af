"""Volumetric layers: ``F.conv3d``, ``nn.Conv3d``, the 3-D pools and norms, outside the
reading path."""

from __future__ import annotations

__all__: list = []
