"""The global switches of autograd: three flags, one class that sets them.

* ``flags.grad``: ops record the graph (``Function.apply`` checks it). The
  engine also reads it in backward: off, the backward formulas run on plain
  arrays; on (``create_graph=True``), on Tensors, so the backward is recorded.
* ``flags.anomaly``: ops remember where they were made and the engine checks
  every gradient for NaN (``detect_anomaly``, in anomaly.py; ``"traces"``: no check).
* ``flags.keep_graph``: every backward keeps the graph (``keep_graph``, used by
  Newton's method, whose closure calls a plain ``loss.backward()``).
* ``flags.forward_ad``: None, or inside ``forward_ad.dual_level()`` the function that
  ``Function.apply`` calls to give each output its tangent (forward mode).

``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``detect_anomaly`` and
``keep_graph`` are all a :class:`Switch`: a context manager and a decorator.
"""

from __future__ import annotations

import functools
import threading

from tinygrad_opt.autograd import decorating  # generators and classes: PyTorch's rules


class _Flags(threading.local):
    """The switches' current values (read them as ``flags.grad``). Each thread has
    its own, as in PyTorch: a ``no_grad`` block in one thread (a search trial, a data
    loader) never switches recording off in another."""

    grad = True
    anomaly = False
    keep_graph = False
    forward_ad = None


flags = _Flags()


def is_grad_enabled() -> bool:
    """True when ops record the graph in this thread (False inside ``no_grad``)."""
    return flags.grad


class Switch:
    """Set one flag for a ``with`` block, or for every call of a decorated function;
    the previous value comes back afterwards. A subclass names the flag and the value.

    ``@tg.no_grad`` works bare as well as ``@tg.no_grad()`` (PyTorch allows both).
    """

    flag = "grad"
    value = True

    def __new__(cls, *args, **kwargs):
        if args and callable(args[0]):  # used bare as a decorator
            return cls()(args[0])
        return super().__new__(cls)

    def __init__(self):  # no argument: ``no_grad(False)`` is an error, as in PyTorch
        pass

    def __enter__(self):
        self.previous = getattr(flags, self.flag)
        setattr(flags, self.flag, self.value)
        return self

    def __exit__(self, *exc_info):
        setattr(flags, self.flag, self.previous)
        return False

    def __call__(self, function):
        flag, value = self.flag, self.value
        if decorating.is_special(function):  # a generator function or a class
            return decorating.wrap(function, flags, flag, value)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            previous = getattr(flags, flag)
            setattr(flags, flag, value)
            try:
                return function(*args, **kwargs)
            finally:
                setattr(flags, flag, previous)
        return wrapper


class no_grad(Switch):
    """``with tg.no_grad():``, ``@tg.no_grad()`` or ``@tg.no_grad``: nothing inside is recorded."""

    flag, value = "grad", False


class enable_grad(Switch):
    """``with tg.enable_grad():`` records the graph even inside ``no_grad``."""

    flag, value = "grad", True


class set_grad_enabled(Switch):
    """Turn recording on or off. Unlike the others it switches at once, when made
    (as PyTorch's): ``set_grad_enabled(False)`` alone is a call; in a ``with``
    block the previous mode comes back at its end; as a decorator it switches
    only inside the function."""

    flag = "grad"

    def __init__(self, mode: bool):
        self.value = bool(mode)
        self.previous = getattr(flags, self.flag)
        setattr(flags, self.flag, self.value)

    def __enter__(self):
        return self  # already switched

    def __call__(self, function):
        self.__exit__()  # decorating must not leave the mode switched
        return super().__call__(function)


class keep_graph(Switch):
    """``with keep_graph():`` every ``backward`` inside keeps the graph (retain_graph=True).

    Second-order optimizers (Newton, CoordinateDescent) call the user's usual
    closure, whose ``loss.backward()`` would otherwise free the graph that they
    must differentiate again.
    """

    flag, value = "keep_graph", True
