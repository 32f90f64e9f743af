"""How a grad-mode switch (``no_grad``, ``enable_grad``, ...; grad_mode.py) decorates
the two things that are not plain functions, following PyTorch's rules.

* A generator function: the body runs a piece at a time, between the caller's
  ``next()`` calls. The switch holds while a piece runs and the caller's own mode
  comes back at each ``yield``, so ``@no_grad`` on a generator neither leaks into
  the loop that consumes it nor is lost after the first ``yield``.
* A class: PyTorch deprecates decorating one (decorate ``__init__`` instead) and
  warns; making an instance still runs under the switch.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import warnings


def is_special(function) -> bool:
    """True for what ``wrap`` handles: a generator function or a class."""
    return inspect.isgeneratorfunction(function) or inspect.isclass(function)


@contextlib.contextmanager
def _switched(flags, flag: str, value):
    previous = getattr(flags, flag)
    setattr(flags, flag, value)
    try:
        yield
    finally:
        setattr(flags, flag, previous)


def wrap(function, flags, flag: str, value):
    """``function`` (a generator function or a class) run with ``flags.<flag> = value``
    (``flags``: grad_mode's, passed in so that this module imports nothing of it)."""
    if inspect.isclass(function):
        warnings.warn(f"Decorating classes is deprecated (as in PyTorch): decorate "
                      f"{function.__name__}.__init__ instead", FutureWarning, stacklevel=3)

        @functools.wraps(function)
        def make(*args, **kwargs):
            with _switched(flags, flag, value):
                return function(*args, **kwargs)
        return make

    @functools.wraps(function)
    def generator(*args, **kwargs):
        with _switched(flags, flag, value):
            inner = function(*args, **kwargs)
            try:
                response = inner.send(None)
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                request = yield response
            except GeneratorExit:
                with _switched(flags, flag, value):
                    inner.close()
                raise
            except BaseException as error:  # thrown in by the caller: into the body
                step = functools.partial(inner.throw, error)
            else:
                step = functools.partial(inner.send, request)
            with _switched(flags, flag, value):
                try:
                    response = step()
                except StopIteration as stop:
                    return stop.value
    return generator
