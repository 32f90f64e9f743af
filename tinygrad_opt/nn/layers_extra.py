"""More of PyTorch's layers (RMSNorm, Fold/Unfold, LPPool, MaxUnpool, ...), outside the
reading path."""

from __future__ import annotations

__all__: list = []
