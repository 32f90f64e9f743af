"""Tensor hooks: their registration, and PyTorch's checks on a replaced gradient.

``x.register_hook(hook)`` (``register``) lets ``hook(grad)`` return a Tensor that replaces the
gradient (engine.py, ``_run_hooks``). As in PyTorch, the replacement must be a Tensor
of the gradient's shape, dtype and device; anything else would travel on silently
(a float32 ``.grad`` for a float64 leaf, say) and is refused here, naming the hook.

``leaf.register_post_accumulate_grad_hook(hook)`` (``register_post_accumulate``) calls
``hook(leaf)`` once a backward has written ``leaf.grad`` (e.g. to step an optimizer
inside backward, PyTorch's use of it); ``run_post_accumulate`` is the engine's call.
"""

from __future__ import annotations

import itertools
import weakref

_keys = itertools.count()  # one key per registration, so that a handle removes its own
post_accumulate: dict = {}  # id(leaf) -> {key: hook}, until the leaf is gone (by id: a
# Tensor's == is elementwise, so Tensors cannot be the keys of a WeakKeyDictionary)


def register(tensor, hook) -> "RemovableHandle":
    """``tensor.register_hook(hook)``: the hooks are kept in registration order, each
    under a key of its own (the same function registered twice runs twice, and each
    handle removes one registration)."""
    if not tensor.requires_grad:
        raise RuntimeError("register_hook: this tensor does not require grad")
    if not callable(hook):
        raise TypeError(f"register_hook: expected a callable hook, got a {type(hook).__name__}")
    if tensor._hooks is None:
        tensor._hooks = {}
    handle = RemovableHandle(tensor._hooks, next(_keys))
    tensor._hooks[handle.key] = hook
    return handle


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters that one
    registration (a second call does nothing). Also a context manager, as PyTorch's:
    ``with x.register_hook(fn): ...`` removes the hook at the block's end."""

    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()
        return False


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


def register_post_accumulate(tensor, hook) -> "RemovableHandle":
    """``tensor.register_post_accumulate_grad_hook(hook)``, leaves only (PyTorch's errors)."""
    if not tensor.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if tensor.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: expected a callable hook, got a "
                        f"{type(hook).__name__}")
    if id(tensor) not in post_accumulate:
        post_accumulate[id(tensor)] = {}
        weakref.finalize(tensor, post_accumulate.pop, id(tensor), None)
    hooks = post_accumulate[id(tensor)]
    handle = RemovableHandle(hooks, next(_keys))
    hooks[handle.key] = hook
    return handle


def run_post_accumulate(tensor) -> None:
    """Call the post-accumulate hooks of ``tensor`` (if any), in registration order."""
    for hook in tuple(post_accumulate.get(id(tensor), {}).values()):  # (one may remove itself)
        if hook(tensor) is not None:
            raise RuntimeError("Tensor post accumulate grad hooks should return None, hook "
                               f"'{getattr(hook, '__name__', type(hook).__name__)}' did not")
