"""The hyperparameter checks the optimizers share, with PyTorch's messages (outside the
reading path: each rule's ``__init__`` calls them, as PyTorch's do, before its update).

A learning rate may be a one-element Tensor, as in PyTorch; a Tensor of several elements
is PyTorch's error, not a comparison that asks ``bool()`` of several values.
"""

from __future__ import annotations

from tinygrad_opt.tensor import Tensor


def check_non_negative(name: str, value) -> None:
    """Raise ``ValueError("Invalid <name>: <value>")`` unless ``0 <= value``."""
    if isinstance(value, Tensor) and value.numel() != 1:
        raise ValueError(f"Tensor {name} must be 1-element, but it has shape {value.shape}")
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name}: {value}")


def check_unit_closed(name: str, value) -> None:
    """Raise ``ValueError("Invalid <name>: <value>")`` unless ``0 <= value <= 1``."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Invalid {name}: {value}")


def check_betas(betas) -> None:
    """Both betas must lie in [0, 1)."""
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas} (expected a pair (beta1, beta2))")
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
