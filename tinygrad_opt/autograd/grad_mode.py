"""Grad mode: the one flag that says whether ops record the graph.

``Function.apply`` checks ``is_grad_enabled()`` and nothing else does. The
engine turns recording off while it runs the backward pass (on again with
``create_graph=True``, so that the backward pass itself is recorded).
"""

from __future__ import annotations

import functools

_enabled = True


def is_grad_enabled() -> bool:
    return _enabled


class set_grad_enabled:
    """Turn gradient recording on or off: a call, a context manager and a decorator.

    ``set_grad_enabled(False)`` switches at once (like PyTorch); used in a
    ``with`` block, the previous mode comes back when the block ends.
    """

    def __init__(self, mode: bool):
        global _enabled
        self.previous = _enabled
        self.mode = bool(mode)
        _enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        global _enabled
        _enabled = self.previous
        return False

    def __call__(self, function):
        mode = self.mode

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return function(*args, **kwargs)
        self.__exit__()  # decorating must not leave the mode switched
        return wrapper


class _SwitchOnEnter(set_grad_enabled):
    """Unlike ``set_grad_enabled``, switches when the block starts, not when made,
    so one instance can be kept and reused (as PyTorch's no_grad/enable_grad)."""

    mode = True

    def __new__(cls, function=None):
        if function is not None:  # used bare, as ``@tg.no_grad`` (PyTorch allows both)
            return set_grad_enabled(cls.mode)(function)
        return super().__new__(cls)

    def __init__(self, function=None):
        pass  # nothing switches before __enter__

    def __enter__(self):
        global _enabled
        self.previous = _enabled
        _enabled = self.mode
        return self

    def __call__(self, function):
        return set_grad_enabled(self.mode)(function)


class no_grad(_SwitchOnEnter):
    """``with tg.no_grad():``, ``@tg.no_grad()`` or ``@tg.no_grad``: nothing inside is recorded."""

    mode = False


class enable_grad(_SwitchOnEnter):
    """``with tg.enable_grad():`` records the graph even inside ``no_grad``."""

    mode = True
