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


class no_grad(set_grad_enabled):
    """``with tg.no_grad():`` or ``@tg.no_grad()``: nothing inside is recorded."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """``with tg.enable_grad():`` records the graph even inside ``no_grad``."""

    def __init__(self):
        super().__init__(True)
