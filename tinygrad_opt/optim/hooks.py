"""PyTorch's optimizer hooks (``register_step_pre_hook`` and the rest), outside the reading path.

``Optimizer`` inherits ``OptimizerHooks``; a reader of optim/optimizer.py can skip it.

Each optimizer has six ordered registries, and two global ones serve every optimizer::

    step(...)              global pre-hooks, then the optimizer's     hook(opt, args, kwargs)
                           the step itself
                           the optimizer's post-hooks, then global    hook(opt, args, kwargs)
    state_dict()           pre-hooks       hook(opt)
                           post-hooks      hook(opt, state_dict) -> a new state_dict or None
    load_state_dict(sd)    pre-hooks       hook(opt, sd) -> a new state_dict or None
                           post-hooks      hook(opt)

As in PyTorch, a step hook's ``args`` are the positional arguments of the call *with the
optimizer first* (``opt.step(closure)`` gives ``args == (opt, closure)``), and a pre-hook
that returns ``(new_args, new_kwargs)`` replaces both for the later hooks and the step.
A load_state_dict pre-hook gets a shallow copy of the caller's dict.

How: ``OptimizerHooks.__init_subclass__`` wraps the ``step``, ``state_dict`` and
``load_state_dict`` that a class body defines (Optimizer's, and LBFGS's, Newton's, ... own
``step``). A call runs the hooks once, even when a subclass's ``step`` calls
``super().step()``. With no hook registered the wrapper only records that the optimizer
stepped (PyTorch's ``_opt_called``, which its lr_scheduler reads to warn of a scheduler
step before the first optimizer step) and checks one flag.

The registries are made by the first registration, so ``Optimizer.__init__`` knows nothing
of them; ``copy.deepcopy`` and pickling keep only ``Optimizer.__getstate__``'s entries and so
drop the hooks (PyTorch re-creates empty registries in ``__setstate__``).
"""

from __future__ import annotations

import contextlib
import functools
import types
from collections import OrderedDict
from typing import Any, Callable

from tinygrad_opt.nn.module import RemovableHandle

__all__ = ["OptimizerHooks", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]

_global_optimizer_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_optimizer_post_hooks: OrderedDict[int, Callable] = OrderedDict()

_NO_HOOKS = types.MappingProxyType({})  # a registry's value until its first hook

_running: set[tuple[int, str]] = set()  # (id(optimizer), method) of the calls running hooks now


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(optimizer, args, kwargs)`` before the step of every optimizer, before
    the optimizer's own pre-hooks. It may return ``(new_args, new_kwargs)`` to replace the
    arguments. Returns a handle whose ``remove()`` unregisters it."""
    OptimizerHooks._has_hooks = True  # every optimizer's step now looks at the registries
    return _add(_global_optimizer_pre_hooks, hook, prepend=False)


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(optimizer, args, kwargs)`` after the step of every optimizer, after the
    optimizer's own post-hooks. Returns a handle whose ``remove()`` unregisters it."""
    OptimizerHooks._has_hooks = True
    return _add(_global_optimizer_post_hooks, hook, prepend=False)


def _add(hooks: OrderedDict, hook: Callable, prepend: bool) -> RemovableHandle:
    """Put ``hook`` last in ``hooks`` (first with ``prepend``); return its handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


@contextlib.contextmanager
def _outermost(optimizer, method: str):
    """True for the outermost call of ``method`` on ``optimizer`` (the one that runs the
    hooks); False inside it, e.g. for the ``super().step()`` of a subclass's step."""
    key = (id(optimizer), method)
    if key in _running:
        yield False
        return
    _running.add(key)
    try:
        yield True
    finally:
        _running.discard(key)


class OptimizerHooks:
    """The hook registries and the wrapping of ``step``/``state_dict``/``load_state_dict``."""

    _has_hooks = False   # set on an optimizer by its first hook, on this class by a global one
    _opt_called = False  # set by every step() (PyTorch's flag: has this optimizer stepped?)

    _optimizer_step_pre_hooks = _NO_HOOKS
    _optimizer_step_post_hooks = _NO_HOOKS
    _optimizer_state_dict_pre_hooks = _NO_HOOKS
    _optimizer_state_dict_post_hooks = _NO_HOOKS
    _optimizer_load_state_dict_pre_hooks = _NO_HOOKS
    _optimizer_load_state_dict_post_hooks = _NO_HOOKS

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, wrap in (("step", _hooked_step), ("state_dict", _hooked_state_dict),
                           ("load_state_dict", _hooked_load_state_dict)):
            method = cls.__dict__.get(name)
            if isinstance(method, types.FunctionType) and not hasattr(method, "runs_hooks"):
                setattr(cls, name, wrap(method))

    def _add_hook(self, name: str, hook: Callable, prepend: bool) -> RemovableHandle:
        """Put ``hook`` in this optimizer's registry ``name``, made on first use."""
        if name not in self.__dict__:
            setattr(self, name, OrderedDict())
        self._has_hooks = True
        return _add(getattr(self, name), hook, prepend)

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` before each ``step``; it may return
        ``(new_args, new_kwargs)`` (``new_args[0]`` the optimizer) to replace the arguments.
        Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook("_optimizer_step_pre_hooks", hook, prepend=False)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` after each ``step``. Returns a handle."""
        return self._add_hook("_optimizer_step_post_hooks", hook, prepend=False)

    def register_state_dict_pre_hook(self, hook: Callable,
                                     prepend: bool = False) -> RemovableHandle:
        """Call ``hook(optimizer)`` before each ``state_dict()`` (first with ``prepend``)."""
        return self._add_hook("_optimizer_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable,
                                      prepend: bool = False) -> RemovableHandle:
        """Call ``hook(optimizer, state_dict)`` after each ``state_dict()``; it may change
        the dict in place or return a new one, which is returned instead."""
        return self._add_hook("_optimizer_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable,
                                          prepend: bool = False) -> RemovableHandle:
        """Call ``hook(optimizer, state_dict)`` before each ``load_state_dict``, with a
        shallow copy of the given dict; it may change it or return a new one to load."""
        return self._add_hook("_optimizer_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable,
                                           prepend: bool = False) -> RemovableHandle:
        """Call ``hook(optimizer)`` after each ``load_state_dict``."""
        return self._add_hook("_optimizer_load_state_dict_post_hooks", hook, prepend)


# --- the wrappers that __init_subclass__ puts around a class's own methods ---

def _hooked_step(step: Callable) -> Callable:
    @functools.wraps(step)
    def hooked_step(self, *args, **kwargs):
        self._opt_called = True
        if not self._has_hooks:
            return step(self, *args, **kwargs)
        with _outermost(self, "step") as outermost:
            if not outermost:
                return step(self, *args, **kwargs)
            args = (self, *args)  # PyTorch's args: the optimizer first
            for hook in (*_global_optimizer_pre_hooks.values(),
                         *self._optimizer_step_pre_hooks.values()):
                result = hook(self, args, kwargs)
                if result is None:
                    continue
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"the step pre-hook {hook!r} of {type(self).__name__} must return "
                        f"None or a tuple of (new_args, new_kwargs), but got {result!r}")
                args, kwargs = result
            loss = step(*args, **kwargs)
            for hook in (*self._optimizer_step_post_hooks.values(),
                         *_global_optimizer_post_hooks.values()):
                hook(self, args, kwargs)
            return loss

    hooked_step.runs_hooks = True
    return hooked_step


def _hooked_state_dict(state_dict: Callable) -> Callable:
    @functools.wraps(state_dict)
    def hooked_state_dict(self, *args, **kwargs) -> dict[str, Any]:
        if not self._has_hooks:
            return state_dict(self, *args, **kwargs)
        with _outermost(self, "state_dict") as outermost:
            if not outermost:
                return state_dict(self, *args, **kwargs)
            for hook in tuple(self._optimizer_state_dict_pre_hooks.values()):
                hook(self)
            saved = state_dict(self, *args, **kwargs)
            for hook in tuple(self._optimizer_state_dict_post_hooks.values()):
                result = hook(self, saved)
                if result is not None:
                    saved = result
            return saved

    hooked_state_dict.runs_hooks = True
    return hooked_state_dict


def _hooked_load_state_dict(load_state_dict: Callable) -> Callable:
    @functools.wraps(load_state_dict)
    def hooked_load_state_dict(self, saved: dict[str, Any], *args, **kwargs):
        if not self._has_hooks:
            return load_state_dict(self, saved, *args, **kwargs)
        with _outermost(self, "load_state_dict") as outermost:
            if not outermost:
                return load_state_dict(self, saved, *args, **kwargs)
            saved = saved.copy()  # shallow: a hook may set entries; the caller's dict stays
            for hook in tuple(self._optimizer_load_state_dict_pre_hooks.values()):
                result = hook(self, saved)
                if result is not None:
                    saved = result
            out = load_state_dict(self, saved, *args, **kwargs)
            for hook in tuple(self._optimizer_load_state_dict_post_hooks.values()):
                hook(self)
            return out

    hooked_load_state_dict.runs_hooks = True
    return hooked_load_state_dict
