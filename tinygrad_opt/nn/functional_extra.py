"""More of PyTorch's ``nn.functional`` (rms_norm, gumbel_softmax, lp_pool, max_unpool, ...),
outside the reading path."""

from __future__ import annotations

__all__: list = []
