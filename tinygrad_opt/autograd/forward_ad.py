"""Forward-mode automatic differentiation: ``torch.autograd.forward_ad``."""

from __future__ import annotations

__all__: list = []
