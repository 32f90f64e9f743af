"""What a tensor hook may return: PyTorch's checks on a replaced gradient.

``x.register_hook(hook)`` lets ``hook(grad)`` return a Tensor that replaces the
gradient (engine.py, ``_run_hooks``). As in PyTorch, the replacement must be a Tensor
of the gradient's shape, dtype and device; anything else would travel on silently
(a float32 ``.grad`` for a float64 leaf, say) and is refused here, naming the hook.
"""

from __future__ import annotations


def checked(hook, grad, replacement):
    """``replacement`` if it may stand for ``grad`` (a Tensor); otherwise an error."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(replacement, type(grad)):
        raise TypeError(f"hook '{name}' returned a {type(replacement).__name__}: expected a "
                        "Tensor or None")
    if replacement.dtype != grad.dtype or replacement.device != grad.device:
        raise RuntimeError(
            f"hook '{name}' has changed the type of value (was {grad.dtype} on "
            f"'{grad.device}', got {replacement.dtype} on '{replacement.device}')")
    if replacement.shape != grad.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {grad.shape}, "
                           f"got {replacement.shape})")
    return replacement
