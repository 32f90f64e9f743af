"""Modules: the containers that hold a model's Parameters, buffers and sub-modules.

A user model is a plain class with attributes::

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(64, 32)      # a sub-module: registered
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it (in
``_parameters`` or ``_modules``); ``register_buffer`` registers a tensor that
is state but not trained (BatchNorm's running mean). Everything else, from
``parameters()`` to ``state_dict()``, walks these three dictionaries. Names and
behaviour follow PyTorch's ``torch.nn.Module``, so a ``state_dict`` has the keys
PyTorch would give (``'0.weight'``, ``'bn.running_mean'``).
"""

from __future__ import annotations

import copy
import functools
import math
import operator
import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Callable, Iterator

from tinygrad_opt import backend, factories
from tinygrad_opt._checks import is_uninitialized
from tinygrad_opt.ops import shape as shape_ops
from tinygrad_opt.autograd.grad_mode import flags, no_grad
from tinygrad_opt.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable: ``requires_grad=True`` by default.

    ``nn.Parameter(tensor)`` shares ``tensor``'s array (no copy), as in PyTorch.
    Only the type differs from a Tensor: it is how ``Module.__setattr__`` tells
    "a weight to train" from "a tensor I happen to keep".
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = Tensor(backend.get_xp("cpu").zeros((0,), dtype=backend.default_float))
        if not isinstance(data, Tensor):
            data = Tensor(data)
        super().__init__(data, requires_grad=requires_grad, device=data.device)  # shares data

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """A Tensor to register as a buffer by assignment (PyTorch 2.5+): ``module.x = b``
    with ``b = nn.Buffer(t)`` is ``module.register_buffer('x', b, b.persistent)``.

    ``nn.Buffer(t)`` is ``t`` detached: a new leaf sharing ``t``'s array, with its
    ``requires_grad``. ``persistent=False`` keeps it out of ``state_dict()``. The flag is
    read when the Buffer is assigned; it travels with the tensor, not with the name.
    (PyTorch returns a plain ``torch.Tensor`` marked as a buffer; here it is this
    subclass, as a Tensor has no room for a mark.)
    """

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent: bool = True):
        if data is None:
            data = Tensor(backend.get_xp("cpu").zeros((0,), dtype=backend.default_float))
        if not isinstance(data, Tensor):
            data = Tensor(data)
        super().__init__(data, requires_grad=data.requires_grad, device=data.device)  # shares
        self.persistent = persistent


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns; prints ``<All keys matched successfully>`` when
    both lists are empty, as PyTorch's."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def empty_parameter(shape, device=None, dtype=None) -> Parameter:
    """A Parameter of ``shape`` for an initialiser to fill: zeros, float32 on cpu by default."""
    return Parameter(factories.zeros(tuple(shape), dtype=dtype, device=device))


class RemovableHandle:
    """Returned by ``register_forward_hook``: ``handle.remove()`` unregisters the hook.

    Also a context manager: ``with module.register_forward_hook(fn): ...``.
    """

    _next_id = 0

    def __init__(self, hooks: dict):
        self.hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()
        return False


# The global forward hooks, run for every module before its own (PyTorch's
# ``torch.nn.modules.module`` globals). Registering one sets ``Module._has_pre_hooks``, so
# every call takes the full path; removing the last one gives the fast path back.
_global_forward_pre_hooks: OrderedDict = OrderedDict()
_global_forward_hooks: OrderedDict = OrderedDict()
_global_forward_hooks_with_kwargs: set = set()
_global_forward_hooks_always_called: set = set()
# The global backward hooks, run for every module before its own, as the forward ones.
# ``_global_is_full_backward_hook``: None until one is registered, then which kind (PyTorch
# refuses both kinds globally, as on one module).
_global_backward_pre_hooks: OrderedDict = OrderedDict()
_global_backward_hooks: OrderedDict = OrderedDict()
_global_is_full_backward_hook = None


class _GlobalHookHandle(RemovableHandle):
    """The handle of a global forward (pre-)hook: ``remove()`` also forgets its options,
    and puts calls back on the fast path once no global hook is left."""

    def remove(self) -> None:
        super().remove()
        _global_forward_hooks_with_kwargs.discard(self.id)
        _global_forward_hooks_always_called.discard(self.id)
        if not (_global_forward_pre_hooks or _global_forward_hooks
                or _global_backward_pre_hooks or _global_backward_hooks):
            Module._has_pre_hooks = False


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(module, args)`` before the forward of *every* module, before the
    module's own pre-hooks (PyTorch's ``torch.nn.modules.module`` function of this name,
    meant for debugging and profiling).

    ``args`` is the tuple of positional arguments; a hook that returns something other
    than None replaces them (a single value is wrapped into a 1-tuple). Returns a handle
    whose ``remove()`` unregisters the hook (also a context manager)."""
    handle = _GlobalHookHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    Module._has_pre_hooks = True
    return handle


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """Call ``hook(module, args, output)`` after the forward of *every* module, before the
    module's own forward hooks (``hook(module, args, kwargs, output)`` with
    ``with_kwargs=True``), as PyTorch's ``torch.nn.modules.module`` function of this name.

    A hook that returns something other than None replaces the output. ``always_call=True``:
    the hook also runs when the call fails before reaching it, with the output so far
    (None if forward did not return), as ``Module.register_forward_hook``'s. Returns a
    handle whose ``remove()`` unregisters the hook (also a context manager)."""
    handle = _GlobalHookHandle(_global_forward_hooks)
    _global_forward_hooks[handle.id] = hook
    if with_kwargs:
        _global_forward_hooks_with_kwargs.add(handle.id)
    if always_call:
        _global_forward_hooks_always_called.add(handle.id)
    Module._has_pre_hooks = True
    return handle


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(module, grad_output)`` in the backward of *every* module, before the
    module's own backward pre-hooks (PyTorch's ``torch.nn.modules.module`` function of this
    name, meant for debugging and profiling); as ``Module.register_full_backward_pre_hook``.
    Returns a handle whose ``remove()`` unregisters the hook (also a context manager)."""
    handle = _GlobalHookHandle(_global_backward_pre_hooks)
    _global_backward_pre_hooks[handle.id] = hook
    Module._has_pre_hooks = True
    return handle


def _register_global_backward_hook(hook: Callable, full: bool) -> RemovableHandle:
    global _global_is_full_backward_hook
    if _global_is_full_backward_hook is (not full):
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks as a "
                           "global Module hook. Please use only one of them.")
    _global_is_full_backward_hook = full
    handle = _GlobalHookHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    Module._has_pre_hooks = True
    return handle


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(module, grad_input, grad_output)`` in the backward of *every* module,
    before the module's own full backward hooks (PyTorch's ``torch.nn.modules.module``
    function of this name, meant for debugging and profiling); as
    ``Module.register_full_backward_hook``: a returned tuple replaces ``grad_input``.
    Refused (RuntimeError) after a ``register_module_backward_hook``, as PyTorch.
    Returns a handle whose ``remove()`` unregisters the hook (also a context manager)."""
    return _register_global_backward_hook(hook, full=True)


def register_module_backward_hook(hook: Callable) -> RemovableHandle:
    """Deprecated (FutureWarning): use ``register_module_full_backward_hook``, which this
    *is* here, as ``Module.register_backward_hook`` is ``register_full_backward_hook``.
    Refused (RuntimeError) after a ``register_module_full_backward_hook``, as PyTorch."""
    warnings.warn("register_module_backward_hook is deprecated and will be removed in future "
                  "versions; it is registered as a full backward hook here. Please use "
                  "register_module_full_backward_hook to get the documented behavior.",
                  FutureWarning, stacklevel=2)
    return _register_global_backward_hook(hook, full=False)


def _hook_gradients(result, count: int, kind: str, name: str) -> tuple:
    """What a backward hook returned in place of ``name``, as a tuple: a tuple or a list
    of ``count`` entries (PyTorch only checks ``len``), else a RuntimeError naming the
    number it got (a single Tensor counts as 1 here, not as its first dim)."""
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = len(result) if isinstance(result, (tuple, list)) else 1
        raise RuntimeError(f"{kind} returned an invalid number of {name}, got {got}, but "
                           f"expected {count}")
    return tuple(result)


class _BackwardHookCapture:
    """One call of a module with full backward hooks or backward pre-hooks (PyTorch's
    ``BackwardHook``): where its inputs and outputs sit, and the gradients of its outputs
    once backward brings them.

    Each side passes through one node, so that one tensor hook sees all its gradients at
    once: a view ``t[...]`` of a single tensor, or, for several, the flat join
    ``p = cat(t_i.ravel())`` cut back into views of ``p``. dL/dp is then ``cat(dL/dt_i)``,
    and what the hooks return for it flows on to the t_i. On the output side the hook of
    ``p`` runs the pre-hooks with every output's gradient (after every use of the
    outputs); on the input side, the full hooks (after every use inside the module).
    The full hooks run only in a backward that came through the outputs (not, say, in the
    second pass of a double backward), as PyTorch's.
    """

    def __init__(self, module: "Module", argument_count: int):
        self.module = module
        self.argument_count = argument_count
        self.positions: list[int] = []  # the positional arguments that need a gradient
        self.count = 0                  # the outputs: 1 for a Tensor, len() of a tuple
        self.grad_output = None         # set by the outputs' gradient, taken by the hooks
        self.reached: set = set()       # the outputs this backward has reached
        self.inputs = None              # the joined inputs, until forward is checked

    @staticmethod
    def _join(tensors: list) -> tuple:
        """(p, views): ``p`` a new node over ``tensors``, ``views`` the tensors cut out of it."""
        if len(tensors) == 1:
            joined = tensors[0][...]                                  # a new node, same memory
            return joined, [joined]
        joined = shape_ops.cat([t.reshape(-1) for t in tensors])     # (sum of sizes,)
        views, start = [], 0
        for t in tensors:
            views.append(joined[start:start + t.numel()].reshape(t.shape))
            start += t.numel()
        return joined, views

    @staticmethod
    def _cut(grad: Tensor, shapes: list) -> list:
        """dL/dp cut into the gradients of the joined tensors (of ``shapes``)."""
        if len(shapes) == 1:
            return [grad]
        grads, start = [], 0
        for shape in shapes:
            size = math.prod(shape)
            grads.append(grad[start:start + size].reshape(shape))
            start += size
        return grads

    @staticmethod
    def _joined_gradient(grads: list, shapes: list, like: Tensor) -> Tensor:
        """The gradient of p from its parts; a part that is None (dropped by a hook) is zeros."""
        grads = [factories.zeros(shape, dtype=like.dtype, device=like.device) if g is None
                 else g for g, shape in zip(grads, shapes)]
        if len(grads) == 1:
            return grads[0]
        return shape_ops.cat([g.reshape(-1) for g in grads])

    # ------------------------------------------------------------------ inputs

    def wrap_inputs(self, args: tuple) -> tuple:
        """``args`` with each Tensor that needs a gradient replaced by a view of the one
        node whose tensor hook runs the module's full backward hooks."""
        self.positions = [i for i, value in enumerate(args)
                          if isinstance(value, Tensor) and value.requires_grad]
        if not self.positions:
            return args
        inputs = [args[i] for i in self.positions]
        self.shapes = [x.shape for x in inputs]
        if len({(x.dtype, x.device) for x in inputs}) > 1:
            raise NotImplementedError(
                f"register_full_backward_hook: the inputs of {type(self.module).__name__} "
                "that need a gradient have different dtypes or devices: "
                f"{[(str(x.dtype), x.device) for x in inputs]}")
        joined, views = self._join(inputs)
        joined.register_hook(self.input_gradient)
        self.inputs, self.version = joined, joined._version
        self.dropped = set()  # which of ``inputs`` a hook gave None in this backward
        route = joined.grad_fn.backward  # (a view's, or cat's: one gradient per input)
        joined.grad_fn.backward = lambda grad: self._drop(route(grad))
        args = list(args)
        for position, value in zip(self.positions, views):
            args[position] = value
        return tuple(args)

    def check_inputs(self) -> None:
        """After forward: its inputs must not have been written in place (the hooks would
        see the gradient of the written values), as PyTorch refuses."""
        inputs, self.inputs = self.inputs, None  # (no reference cycle through the hook)
        if inputs is not None and inputs._version != self.version:
            raise RuntimeError(
                f"{type(self.module).__name__}.forward modified one of its inputs in place, "
                "but a module with full backward hooks cannot (as PyTorch: 'Output 0 of "
                "BackwardHookFunctionBackward is a view and is being modified inplace'); "
                "clone the input in forward first")

    def input_gradient(self, grad: Tensor):
        """The tensor hook of the joined inputs: cut ``grad`` into the inputs' gradients,
        run the full hooks, and join what they return. Not through the outputs (no
        ``grad_output``): the gradient passes unchanged."""
        self.dropped = set()
        if self.grad_output is None:
            return None
        grads = self._cut(grad, self.shapes)
        grad_input = [None] * self.argument_count
        for position, g in zip(self.positions, grads):
            grad_input[position] = g
        grad_input = self.run_hooks(tuple(grad_input))
        kept = [grad_input[p] for p in self.positions]
        self.dropped = {i for i, g in enumerate(kept) if g is None}
        return self._joined_gradient(kept, self.shapes, grad)

    def _drop(self, grads):
        """The join's backward, less the gradients of the inputs a hook gave None: those
        get none (a leaf's .grad stays None, as PyTorch's), not the zeros that stood for
        them in the joined gradient."""
        if not self.dropped:
            return grads
        if type(grads) is not tuple:  # one input, through a view
            return None
        return tuple(None if i in self.dropped else g for i, g in enumerate(grads))

    def run_hooks(self, grad_input: tuple) -> tuple:
        """Call each full backward hook (the global ones first); a tuple or list it
        returns replaces ``grad_input`` (PyTorch checks only its length: the "Modules"
        note's hook returns a list). The output gradients are used up."""
        grad_output, self.grad_output = tuple(self.grad_output), None
        hooks = (*_global_backward_hooks.values(), *self.module._backward_hooks.values())
        for hook in hooks:
            result = hook(self.module, grad_input, grad_output)
            if result is None:
                continue
            grad_input = _hook_gradients(result, len(grad_input), "Backward hook",
                                         "grad_input")
        return grad_input

    # ----------------------------------------------------------------- outputs

    def wrap_outputs(self, output):
        """``output`` (a Tensor, or a tuple or list of them) with every Tensor that needs a
        gradient replaced by a view of the one node whose tensor hook runs the backward
        pre-hooks (and records ``grad_output`` for the full hooks). Outputs of several
        dtypes or devices get a node each, whose pre-hooks then run once per output.
        Any other output warns, as PyTorch: its hooks are never called."""
        single = isinstance(output, Tensor)
        if not single and not isinstance(output, (tuple, list)):
            warnings.warn("For backward hooks to be called, module output should be a Tensor "
                          f"or a tuple of Tensors but received {type(output)}")
            return output
        items = [output] if single else list(output)
        self.count = len(items)
        live = [i for i, item in enumerate(items)
                if isinstance(item, Tensor) and item.requires_grad]
        if not live:
            return output
        tensors = [items[i] for i in live]
        groups = [live] if len({(t.dtype, t.device) for t in tensors}) == 1 else \
            [[i] for i in live]
        for group in groups:
            joined, views = self._join([items[i] for i in group])
            if len(group) > 1:
                for position, view in zip(group, views):
                    view.register_hook(functools.partial(self._reach, position))
            joined.register_hook(functools.partial(
                self.output_gradient, group, [items[i].shape for i in group],
                weakref.ref(joined), joined._version))
            for position, view in zip(group, views):
                items[position] = view
        if single:
            return items[0]
        return type(output)(*items) if hasattr(output, "_fields") else type(output)(items)

    def _reach(self, position: int, grad: Tensor) -> None:
        self.reached.add(position)

    def output_gradient(self, group: list, shapes: list, joined, version: int,
                        grad: Tensor) -> Tensor:
        """The tensor hook of the joined outputs ``group``: run the backward pre-hooks with
        ``grad_output`` (None for an output not reached, or not a Tensor that needs a
        gradient), keep it for the full hooks, and join what the pre-hooks return.
        With no input that needs a gradient, the full hooks run now (grad_input all None)."""
        if joined()._version != version:
            raise RuntimeError(
                f"an output of {type(self.module).__name__} (a module with backward hooks) "
                "was modified in place, as PyTorch refuses ('Output 0 of "
                "BackwardHookFunctionBackward is a view and is being modified inplace'): "
                "clone the output before writing into it")
        reached = set(group) if len(group) == 1 else self.reached
        grad_output = [None] * self.count
        for position, g in zip(group, self._cut(grad, shapes)):
            if position in reached:
                grad_output[position] = g
        self.reached = set()
        hooks = (*_global_backward_pre_hooks.values(),
                 *self.module._backward_pre_hooks.values())
        for hook in hooks:
            result = hook(self.module, tuple(grad_output))
            if result is None:
                continue
            grad_output = list(_hook_gradients(result, self.count, "Backward pre hook",
                                               "grad_output"))
        if self._has_full_hooks():
            if self.grad_output is not None:  # another group of this backward came first
                grad_output = [g if g is not None else old
                               for g, old in zip(grad_output, self.grad_output)]
            self.grad_output = grad_output
            if not self.positions:
                self.run_unused_input_hooks()
        return self._joined_gradient([grad_output[p] for p in group], shapes, grad)

    def _has_full_hooks(self) -> bool:
        return bool(_global_backward_hooks or self.module._backward_hooks)

    def run_unused_input_hooks(self) -> None:
        """No input needs a gradient: the full hooks see ``grad_input`` all None, and may
        return only None (or a tuple of None), as PyTorch."""
        grad_input = (None,) * self.argument_count
        grad_output, self.grad_output = tuple(self.grad_output), None
        for hook in (*_global_backward_hooks.values(), *self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, grad_output)
            if result is not None and not (isinstance(result, tuple)
                                           and all(g is None for g in result)):
                raise RuntimeError(
                    f"{type(self.module).__name__}: Backward hook for Modules where no input "
                    "requires gradient should always return None or None for all gradients.")


_REGISTRIES = ("_parameters", "_buffers", "_modules")
_ABSENT = object()  # no entry: distinct from an entry that is None


class _Registry(OrderedDict):
    """One of a Module's three registries (``_parameters``, ``_buffers``, ``_modules``).

    The owner also keeps each entry as a plain attribute (``Module._set_entry``), so that
    reading ``module.weight`` is one dict lookup. Writing or deleting an entry here
    directly, as PyTorch code does (``module._parameters['weight'] = p``,
    ``del module._modules['0']``), updates that attribute too, so that ``module.weight``
    and the registry never disagree. An attribute of the same name that is not the
    entry's mirror (a plain attribute set before) is left alone, as in PyTorch, where a
    plain attribute hides a registry entry.
    """

    def __init__(self, entries=(), *, owner: "Module | None" = None):
        super().__init__()
        self.owner = owner  # None in a copy, or while pickle or deepcopy rebuild it
        self.update(entries)

    def _attributes(self) -> "dict | None":
        owner = self.__dict__.get("owner")
        return None if owner is None else owner.__dict__

    def __setitem__(self, name, value) -> None:
        old = self.get(name, _ABSENT)
        OrderedDict.__setitem__(self, name, value)
        attributes = self._attributes()
        if attributes is not None and attributes.get(name, old) is old:
            attributes[name] = value

    def _drop_attribute(self, name, old) -> None:
        attributes = self._attributes()
        if attributes is not None and attributes.get(name, _ABSENT) is old:
            del attributes[name]

    def __delitem__(self, name) -> None:
        old = self[name]
        OrderedDict.__delitem__(self, name)
        self._drop_attribute(name, old)

    def pop(self, name, *default):
        if name not in self:
            return OrderedDict.pop(self, name, *default)  # the default, or KeyError
        old = OrderedDict.pop(self, name)
        self._drop_attribute(name, old)
        return old

    def popitem(self, last: bool = True):
        name, old = OrderedDict.popitem(self, last)
        self._drop_attribute(name, old)
        return name, old

    def clear(self) -> None:
        for name in list(self):
            del self[name]

    def setdefault(self, name, default=None):
        if name not in self:
            self[name] = default
        return self[name]

    def update(self, *args, **kwargs) -> None:
        for name, value in OrderedDict(*args, **kwargs).items():
            self[name] = value

    def copy(self) -> OrderedDict:
        """A plain OrderedDict of the entries: writing into it touches no module."""
        return OrderedDict(self)

    def __repr__(self) -> str:
        return repr(OrderedDict(self))  # printed as PyTorch's registries are


class _Call:
    """One call of a module through the full path (``Module._call_with_pre_hooks``): the
    arguments and the output as far as they got, and the ``always_call`` forward hooks
    that already ran; PyTorch's ``_call_impl`` keeps the same three for its error path."""

    __slots__ = ("args", "kwargs", "output", "ran")

    def __init__(self, args: tuple, kwargs: dict):
        self.args, self.kwargs, self.output, self.ran = args, kwargs, None, set()


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign their Parameters and
    sub-modules as attributes, and define ``forward``. Calling the module runs
    forward pre-hooks, ``forward`` and forward hooks.
    """

    training: bool

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dictionaries to exist
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", _Registry(owner=self))
        object.__setattr__(self, "_buffers", _Registry(owner=self))
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", _Registry(owner=self))
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    # ------------------------------------------------------------------ forward

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} has no forward(): define forward(self, ...) in the subclass")

    # Pre-hooks are rare: the class holds empty, read-only registries, and the first
    # registration gives the instance its own.
    _forward_pre_hooks = MappingProxyType({})
    _forward_pre_hooks_with_kwargs = frozenset()
    _forward_hooks_with_kwargs = frozenset()  # ids of the forward hooks that take kwargs
    _backward_pre_hooks = MappingProxyType({})
    _backward_hooks = MappingProxyType({})
    _forward_hooks_always_called = frozenset()  # ids of the forward hooks with always_call
    # True once a forward pre-hook, a backward (pre-)hook or an always_call forward hook has
    # been registered: until then a call checks this one flag only (each attribute read
    # costs ~25 ns on a Module). A global hook sets it on the class, for every module.
    _has_pre_hooks = False

    def __call__(self, *args, **kwargs):
        if self._has_pre_hooks:
            return self._call_with_pre_hooks(args, kwargs)
        output = self.forward(*args, **kwargs)
        if not self._forward_hooks:
            return output
        return self._call_forward_hooks(args, kwargs, output)

    def _call_forward_hooks(self, args: tuple, kwargs: dict, output,
                            call: "_Call | None" = None):
        """Run the forward hooks in order; one that returns something else than None
        replaces the output. With ``call`` (the full path), the output so far and the
        always_call hooks reached are recorded there for the error path. The global
        hooks (``register_module_forward_hook``) come first, as in PyTorch."""
        hooks = (*_global_forward_hooks.items(), *self._forward_hooks.items())
        for key, hook in hooks:  # (a copy: a hook may remove itself)
            if call is not None and (key in self._forward_hooks_always_called
                                     or key in _global_forward_hooks_always_called):
                call.ran.add(key)  # marked before the call, as PyTorch: never run twice
            if key in self._forward_hooks_with_kwargs or key in _global_forward_hooks_with_kwargs:
                replacement = hook(self, args, kwargs, output)
            else:
                replacement = hook(self, args, output)
            if replacement is not None:
                output = replacement
                if call is not None:
                    call.output = output
        return output

    def _call_with_pre_hooks(self, args: tuple, kwargs: dict):
        """The full call: forward pre-hooks, forward, forward hooks, and the backward
        pre-hooks hung on the outputs. An error anywhere on the way (a pre-hook's,
        forward's or a forward hook's) first runs the ``always_call`` forward hooks that
        have not run yet, then goes on, as in PyTorch's ``Module._call_impl``."""
        call = _Call(args, kwargs)
        try:
            if self._forward_pre_hooks or _global_forward_pre_hooks:
                self._call_forward_pre_hooks(call)
            capture = None
            full = self._backward_hooks or _global_backward_hooks
            if (full or self._backward_pre_hooks or _global_backward_pre_hooks) and flags.grad:
                capture = _BackwardHookCapture(self, len(call.args))
                if full:
                    call.args = capture.wrap_inputs(call.args)
            call.output = self.forward(*call.args, **call.kwargs)
            if self._forward_hooks or _global_forward_hooks:
                call.output = self._call_forward_hooks(call.args, call.kwargs, call.output,
                                                       call)
            if capture is not None:
                capture.check_inputs()
                call.output = capture.wrap_outputs(call.output)
            return call.output
        except Exception:
            self._call_always_called_hooks(call)
            raise

    def _call_always_called_hooks(self, call: "_Call") -> None:
        """After an error in the call: run the forward hooks registered with
        ``always_call=True`` that have not run, with the arguments and the output as far
        as they got (None when forward did not return; one that returns a value replaces
        it for the next). An error of theirs is a warning: the first error is re-raised.
        The global ones come first."""
        always_called = self._forward_hooks_always_called | _global_forward_hooks_always_called
        with_kwargs = self._forward_hooks_with_kwargs | _global_forward_hooks_with_kwargs
        for key, hook in (*_global_forward_hooks.items(), *self._forward_hooks.items()):
            if key not in always_called or key in call.ran:
                continue
            try:
                if key in with_kwargs:
                    result = hook(self, call.args, call.kwargs, call.output)
                else:
                    result = hook(self, call.args, call.output)
                if result is not None:
                    call.output = result
            except Exception as error:  # noqa: BLE001 (forward's error is the one to show)
                warnings.warn("forward hook with always_call=True raised an exception that "
                              f"was silenced as another error was raised in forward: {error}")

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, inputs, output)`` after every forward
        (``hook(module, inputs, kwargs, output)`` with ``with_kwargs=True``).

        ``inputs`` is the tuple of positional arguments. A hook that returns
        something other than None replaces the output. Hooks run in registration
        order; ``prepend=True`` puts this one first. ``always_call=True``: the hook is
        also called when the call fails before reaching it (an error in a pre-hook, in
        forward or in an earlier forward hook), with the output so far (None if forward
        did not return), before the error goes on.
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            if not isinstance(self.__dict__.get("_forward_hooks_with_kwargs"), set):
                object.__setattr__(self, "_forward_hooks_with_kwargs", set())
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            if not isinstance(self.__dict__.get("_forward_hooks_always_called"), set):
                object.__setattr__(self, "_forward_hooks_always_called", set())
            self._forward_hooks_always_called.add(handle.id)
            object.__setattr__(self, "_has_pre_hooks", True)  # the call path that catches
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward (``hook(module, args, kwargs)``
        with ``with_kwargs=True``).

        A hook that returns something other than None replaces the arguments: a new
        ``args`` (a single value is wrapped into a 1-tuple), or with ``with_kwargs`` a
        pair ``(args, kwargs)``. Hooks run in registration order; ``prepend=True``
        puts this one first. Returns a handle whose ``remove()`` unregisters it.
        (Pruning, ``nn.utils.prune``, recomputes ``weight = weight_orig·mask`` here.)
        """
        if not isinstance(self.__dict__.get("_forward_pre_hooks"), OrderedDict):
            object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
            object.__setattr__(self, "_forward_pre_hooks_with_kwargs", set())
        object.__setattr__(self, "_has_pre_hooks", True)
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def _call_forward_pre_hooks(self, call: "_Call") -> None:
        """Run the forward pre-hooks in order; each replacement of the arguments is
        written to ``call`` at once (an error in a later hook sees it). The global
        pre-hooks (``register_module_forward_pre_hook``) come first, as in PyTorch."""
        hooks = (*_global_forward_pre_hooks.items(), *self._forward_pre_hooks.items())
        for key, hook in hooks:  # (a copy: a hook may remove itself)
            if key in self._forward_pre_hooks_with_kwargs:
                result = hook(self, call.args, call.kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {result}.")
                    call.args, call.kwargs = result
            else:
                result = hook(self, call.args)
                if result is not None:
                    call.args = result if isinstance(result, tuple) else (result,)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False):
        """Call ``hook(module, grad_output)`` when the gradients of the module's outputs
        have been computed, before they flow on into the module.

        ``grad_output`` is a tuple with one entry per output (a single Tensor output gives
        a 1-tuple; for a tuple or list, None where an output is no Tensor that needs a
        gradient, or received none). A hook may return a tuple of the same length whose
        entries replace the gradients. The hook is called once per backward, with every
        output's gradient (``_BackwardHookCapture``: the outputs are views of one node,
        taken after forward and the forward hooks; outputs of several dtypes or devices
        are a node each, and the hook is then called once per output). An output that is
        not a Tensor, tuple or list warns, and its hooks are never called, as PyTorch's;
        writing into an output in place makes its backward raise. The global hooks
        (``register_module_full_backward_pre_hook``) run first. Returns a handle whose
        ``remove()`` unregisters it.
        """
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def _add_hook(self, name: str, hook: Callable, prepend: bool) -> RemovableHandle:
        """Put ``hook`` in the ordered dict ``name`` (made on first use), first with
        ``prepend``; calls take the full path (``_call_with_pre_hooks``) from now on."""
        if not isinstance(self.__dict__.get(name), OrderedDict):
            object.__setattr__(self, name, OrderedDict())
        object.__setattr__(self, "_has_pre_hooks", True)
        hooks = getattr(self, name)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False):
        """Call ``hook(module, grad_input, grad_output)`` once per backward through the
        module, when the gradients with respect to its inputs have been computed.

        ``grad_input`` has one entry per positional argument of the call: the gradient
        of that argument, or None (not a Tensor, or one that needs no gradient; keyword
        arguments are not included). ``grad_output`` has one entry per Tensor output, as
        in ``register_full_backward_pre_hook`` (after those hooks). A hook may return a
        tuple of the same length as ``grad_input``, whose entries replace the gradients
        that flow on to the inputs. The inputs that need a gradient are joined into one
        node for that (``_BackwardHookCapture``); they must share one dtype and device,
        and one of them that gets no gradient is reported as zeros (an entry the hook
        returns as None, too). When no input needs a gradient the hook is called, with
        ``grad_input`` all None, as the gradient of the outputs arrives, and may return
        only None. The hook runs only in a backward that came through the outputs (not in
        the second pass of a double backward). A forward that writes into its input in
        place (``ReLU(inplace=True)``) raises, as in PyTorch. The global hooks
        (``register_module_full_backward_hook``) run first. Returns a handle whose
        ``remove()`` unregisters the hook. A module that had a ``register_backward_hook``
        refuses it (RuntimeError), as PyTorch.
        """
        self._claim_backward_hook_kind(full=True)
        return self._add_hook("_backward_hooks", hook, prepend)

    # None until a backward hook is registered; then True (full) or False (the deprecated
    # ``register_backward_hook``): PyTorch refuses both kinds on one module, even after
    # their handles are removed.
    _is_full_backward_hook = None

    def _claim_backward_hook_kind(self, full: bool) -> None:
        if self._is_full_backward_hook is (not full):
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")
        object.__setattr__(self, "_is_full_backward_hook", full)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Deprecated (FutureWarning, as PyTorch): use ``register_full_backward_hook``.

        Here it *is* ``register_full_backward_hook(hook)``: ``hook(module, grad_input,
        grad_output)`` gets the gradients of the module's positional inputs and outputs.
        PyTorch's old hook saw the inputs of the last autograd node inside the module
        instead (for Linear: the gradients of bias, input and weight), and warns at the
        call when those differ. A module cannot have both kinds (RuntimeError).
        """
        warnings.warn("register_backward_hook is deprecated and will be removed in future "
                      "versions; it is registered as a full backward hook here. Please use "
                      "register_full_backward_hook to get the documented behavior.",
                      FutureWarning, stacklevel=2)
        self._claim_backward_hook_kind(full=False)
        return self._add_hook("_backward_hooks", hook, False)

    # ------------------------------------------------------------- registration

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign '{name}' before Module.__init__() call: "
                f"call super().__init__() first in {type(self).__name__}.__init__")
        if isinstance(value, Parameter):
            self._forget(name, keep="_parameters")
            self._set_entry("_parameters", name, value)
        elif isinstance(value, Module):
            self._forget(name, keep="_modules")
            self._set_entry("_modules", name, value)
        elif name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' "
                    "(nn.Parameter or None expected)")
            self._set_entry("_parameters", name, None)
        elif name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' "
                    "(nn.Module or None expected)")
            self._set_entry("_modules", name, None)
        elif isinstance(value, Buffer):  # after the three common cases, as PyTorch's order
            self.register_buffer(name, value, value.persistent)
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer '{name}' "
                    "(Tensor or None expected)")
            self._set_entry("_buffers", name, value)
        elif name in _REGISTRIES and isinstance(value, Mapping):
            self._replace_registry(name, value)  # ``self._modules = OrderedDict(...)``
        else:
            object.__setattr__(self, name, value)

    def _set_entry(self, registry: str, name: str, value) -> None:
        """``registry[name] = value``, kept as a plain attribute too: reading
        ``self.weight`` is then one dict lookup, where a failed lookup plus
        ``__getattr__`` took 0.9 us (four a step in a two-layer MLP; 2026-12-04).
        The registries stay the record; ``_forget`` removes both."""
        self.__dict__[registry][name] = value
        self.__dict__[name] = value

    def _replace_registry(self, registry: str, entries: Mapping) -> None:
        """``self.<registry> = entries``: the old entries' attributes go, the new ones'
        come (a ``_Registry`` of this module holding the entries of ``entries``)."""
        entries = OrderedDict(entries)  # read before clearing: it may be the old registry
        self.__dict__[registry].clear()
        object.__setattr__(self, registry, _Registry(entries, owner=self))

    def _forget(self, name: str, keep: str | None = None) -> None:
        """Remove ``name`` from every registry (but ``keep``, about to be written, where
        a replaced entry keeps its place, as in PyTorch) and from the plain attributes."""
        self.__dict__.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: look in the three registries.
        # Read through __dict__ so that a half-built object (copy.deepcopy builds
        # one without __init__) raises AttributeError instead of recursing.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __dir__(self) -> list:
        """The class's and the instance's attributes and the three registries' names,
        sorted, without those that start with a digit (``Sequential``'s ``'0'``): they
        are no attribute one can write after a dot, as PyTorch's ``Module.__dir__``."""
        names = set(dir(type(self))) | set(self.__dict__)
        for registry in _REGISTRIES:
            names.update(self.__dict__.get(registry, ()))
        return sorted(name for name in names if not name[:1].isdigit())

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: an optional parameter that is absent) as ``name``."""
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter '{name}' "
                "(nn.Parameter or None expected)")
        self._forget(name, keep="_parameters")
        self._set_entry("_parameters", name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a tensor that is part of the module's state but is not trained.

        Buffers move with ``to(device)`` and, when ``persistent``, appear in
        ``state_dict()`` (BatchNorm's ``running_mean``). ``tensor`` may be None.
        """
        self._check_new_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign {type(tensor).__name__} as buffer '{name}' "
                "(Tensor or None expected)")
        self._forget(name, keep="_buffers")
        self._set_entry("_buffers", name, tensor)
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register ``module`` as the child ``name`` (for names that are not identifiers)."""
        if module is not None and not isinstance(module, Module):
            if isinstance(module, type):  # add_module("act", nn.ReLU): the class itself
                raise TypeError(f"add_module: {module.__qualname__} is a class, not a Module "
                                f"object: give an instance, e.g. {module.__qualname__}()")
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name(name, "module")
        self._forget(name, keep="_modules")
        self._set_entry("_modules", name, module)

    def register_module(self, name: str, module: "Module | None") -> None:
        """The same as ``add_module(name, module)`` (PyTorch's alias)."""
        self.add_module(name, module)

    def _check_new_name(self, name: str, kind: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot register {kind} '{name}' before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__} {name!r}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name must be a non-empty string without '.', got {name!r}")
        registry = {"parameter": self._parameters, "buffer": self._buffers,
                    "module": self._modules}[kind]
        if hasattr(self, name) and name not in registry:  # a method, an attribute, another kind
            raise KeyError(f"attribute '{name}' already exists")

    # ----------------------------------------------------------------- walking

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """Yield ``(name, module)`` for this module and every descendant, depth first
        (``prefix``, ``''`` by default, is this module's name). Each module comes once,
        under its first name; ``remove_duplicate=False`` yields a module registered
        under several names once per name. ``memo`` is a set of modules, as PyTorch's:
        those in it are skipped with their subtrees, and those yielded are added."""
        if memo is None:
            memo = set()
        if self in memo:  # (a Module hashes and compares by identity)
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            child_prefix = f"{prefix}.{name}" if prefix else name
            yield from child.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Yield ``(name, module)`` for the direct sub-modules."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator["Module"]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        seen = set()  # a tensor shared by two layers is yielded once, as in PyTorch
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, tensor in getattr(module, registry).items():
                if tensor is None or id(tensor) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(tensor))
                yield (f"{module_prefix}.{name}" if module_prefix else name), tensor

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, parameter)`` pairs such as ``('fc1.weight', Parameter)``; a
        parameter shared by several layers comes once, unless ``remove_duplicate=False``."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yield every Parameter of this module and (if ``recurse``) its descendants."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(name, buffer)`` pairs such as ``('bn.running_mean', Tensor)``."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar weights: the sum of every parameter's element count."""
        return sum(math.prod(p.shape) for p in self.parameters()
                   if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every sub-module (children first) and then on self; returns self.

        Typical use: ``model.apply(init_weights)`` with a function that checks
        ``isinstance(m, nn.Linear)``.
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def get_submodule(self, target: str) -> "Module":
        """The sub-module at the dotted path ``target`` (``'encoder.0'``; ``''`` is self).

        Raises AttributeError naming the first missing or non-Module step (and the module
        by its ``_get_name()``), as PyTorch.
        """
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The Parameter at the dotted path ``target`` (``'encoder.0.weight'``)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        parameter = getattr(module, name)
        if not isinstance(parameter, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return parameter

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target`` (``'bn.running_mean'``)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(module, name)

    def set_submodule(self, target: str, module: "Module", strict: bool = False) -> None:
        """Put ``module`` at the dotted path ``target``, replacing what is there.

        The parent path must exist; the last name may be new unless ``strict=True``.
        An existing attribute of that name that is not a Module is an AttributeError.
        """
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    # --------------------------------------------------------------- training

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (``mode=True``) or evaluation mode on self and all
        descendants: Dropout and BatchNorm behave differently in the two."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, got {mode!r}")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Turn gradient recording on or off for every parameter (freezing layers)."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad``: to None (default), or to zeros in place.

        With ``set_to_none=False`` the gradient is first cut from any graph in place, as
        PyTorch's ``p.grad.detach_()`` (a gradient made with ``create_graph=True`` loses
        its ``grad_fn``; in any case ``requires_grad`` is switched off), so the zeros are a
        plain leaf tensor, and the same object as before.
        """
        for param in self.parameters():
            grad = param.grad
            if grad is None:
                continue
            if set_to_none:
                param.grad = None
                continue
            if grad.grad_fn is not None and getattr(grad.data, "base", None) is not None:
                param.grad = grad = grad.detach()  # a view cannot be cut in place
            else:
                grad.grad_fn = None
                grad.requires_grad = False
            grad.data[...] = 0
            grad._version += 1

    # ---------------------------------------------------------- device, dtype

    def to(self, device=None, dtype=None, non_blocking: bool = False) -> "Module":
        """Move (and/or cast) every parameter and buffer in place; returns self.

        The Parameter objects stay the same objects: only their arrays are
        replaced, so an optimizer built before ``to`` still holds the right
        tensors. ``dtype`` converts floating-point and complex tensors only (integer
        buffers such as ``num_batches_tracked`` keep their type; a complex tensor cast
        to a real dtype loses its imaginary part, with a warning), as in PyTorch, and
        must itself be a floating-point or complex dtype (TypeError otherwise: use
        ``type`` to cast everything). ``model.to('cuda')``, ``model.to(dtype=tg.float64)`` and
        ``model.to(tg.float64)`` are all accepted, and ``model.to(tensor)`` takes that
        tensor's device and dtype; ``non_blocking`` is accepted and has no effect (copies
        here are synchronous).
        """
        if isinstance(device, Tensor):  # model.to(tensor, non_blocking)
            device, dtype = device.device, device.dtype
        elif device is not None and not isinstance(device, str):
            device, dtype = None, device  # model.to(tg.float64, non_blocking)
        if device is not None:
            device = backend.check_device(device)
        if dtype is not None:
            dtype = backend.as_dtype(dtype)
            if not backend.is_floating(dtype) and dtype.kind != "c":
                raise TypeError("nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={dtype}")
        return self._apply(functools.partial(_converted, device=device, dtype=dtype, kinds="fc"))

    def _cast_floating(self, dtype) -> "Module":
        """``double``/``float``/``half``: cast the floating-point tensors only (complex
        and integer ones keep their type, unlike ``to(dtype)``), as PyTorch's."""
        return self._apply(functools.partial(_converted, device=None, dtype=dtype, kinds="f"))

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device=None) -> "Module":
        """Move every parameter and buffer to the GPU (``device``: an index or a name such
        as ``'cuda:0'``; one GPU is used)."""
        if device is not None and not isinstance(device, str):
            device = f"cuda:{device}"
        return self.to("cuda" if device is None else device)

    def double(self) -> "Module":
        """Cast floating-point parameters and buffers to float64 (for gradcheck)."""
        return self._cast_floating(backend.float64)

    def float(self) -> "Module":
        """Cast floating-point parameters and buffers to float32."""
        return self._cast_floating(backend.float32)

    def half(self) -> "Module":
        """Cast floating-point parameters and buffers to float16."""
        return self._cast_floating(backend.float16)

    def type(self, dst_type) -> "Module":
        """Cast every parameter and buffer to ``dst_type``, integer buffers included
        (unlike ``to(dtype)``, which casts floating-point tensors only), as PyTorch. A
        legacy type (``tg.DoubleTensor``, ``tg.cuda.FloatTensor``) or its name
        ('torch.DoubleTensor') also moves them to the type's device, as ``Tensor.type``."""
        return self._apply(lambda tensor: tensor.type(dst_type))  # (the same objects, as ``to``)

    def to_empty(self, *, device, recurse: bool = True) -> "Module":
        """Move every parameter and buffer to ``device`` without its values; returns self.

        PyTorch leaves the new memory uninitialised (``torch.empty_like``); here it holds
        zeros, of each tensor's shape and dtype. As with ``to``, the tensors stay the same
        objects (a Parameter stays a Parameter, with its ``requires_grad``) and a
        ``.grad`` is replaced the same way. ``recurse=False``: this module's own tensors
        only. Typical use: a model built on one device, then filled on another by
        ``load_state_dict``.
        """
        device = backend.check_device(device)
        xp = backend.get_xp(device)
        return self._apply(lambda tensor: Tensor._make(xp.zeros(tensor.shape, tensor.dtype)),
                           recurse)  # (zeros on ``device``)

    def share_memory(self) -> "Module":
        """Move every parameter and buffer (and gradient) to shared memory, as PyTorch's
        (``Tensor.share_memory_``: a forked process then writes the same values); self."""
        return self._apply(lambda t: t.share_memory_())

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> "Module":
        """``tensor.data = fn(tensor).data`` for every parameter and buffer (and each one's
        ``.grad``), under no-grad; returns self. PyTorch's base of ``to``, ``cuda``,
        ``float``, ``double``, ``half``, ``type``, ``to_empty`` and ``share_memory``.

        As in PyTorch it calls each child's ``_apply(fn)`` first, so a subclass that
        overrides ``_apply`` to convert tensors of its own (``super()._apply(fn)``, then
        ``self.cache = fn(self.cache)``) is obeyed by all of them. As with ``to``, the
        tensors stay the same objects (PyTorch puts ``fn(buffer)`` itself in place of a
        buffer), and a tensor shared by several modules gets ``fn`` once, as does a module
        met twice. ``recurse=False``: this module's own tensors only.
        """
        if not isinstance(fn, _EachOnce):  # the outermost call
            fn = _EachOnce(fn)
            fn.modules.add(id(self))
        if recurse:
            for child in self.children():
                if id(child) not in fn.modules:
                    fn.modules.add(id(child))
                    child._apply(fn)
        with no_grad():
            for tensor in list(self.parameters(False)) + list(self.buffers(False)):
                for item in (tensor, tensor.grad):
                    if item is not None:
                        item.data = fn(item).data  # Tensor.device follows its array
        return self

    def compile(self, *args, **kwargs) -> None:
        """Returns None and leaves the module as it is: there is no compiler here.
        PyTorch's ``module.compile(...)`` makes later calls run ``torch.compile``'s
        version of forward; the arguments (``fullgraph``, ``mode``, ...) are ignored."""
        return None

    # ------------------------------------------------------------- state dict

    # The state-dict hooks are rare too and off the call path: the class holds empty,
    # read-only registries until a first registration (``_add_state_dict_hook``).
    _load_state_dict_pre_hooks = MappingProxyType({})
    _load_state_dict_post_hooks = MappingProxyType({})
    _state_dict_pre_hooks = MappingProxyType({})
    _state_dict_hooks = MappingProxyType({})  # the state-dict post-hooks (PyTorch's name)
    _state_dict_hooks_returning = frozenset()  # ids of those from _register_state_dict_hook
    # The layout version of a module's entries, PyTorch's ``_version``: ``state_dict()``
    # records ``{'version': _version}`` per module in its ``_metadata``.
    _version = 1

    def state_dict(self, *args, destination=None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """An ordered ``{name: tensor}`` of every parameter and persistent buffer.

        Keys are PyTorch's (``'0.weight'``, ``'bn.running_mean'``,
        ``'bn.num_batches_tracked'``); own entries come first, then each child's.
        As in PyTorch the values share memory with the module (they are
        detached, not copied): save them, or copy them, to keep a snapshot.
        ``keep_vars=True`` returns the Parameters themselves. A sub-module
        registered under two names appears under both (as in PyTorch, unlike
        ``named_parameters``, which lists a shared tensor once), so the state
        dict of a model with shared layers loads into the same model with
        ``strict=True``. ``destination``: a mapping to fill (and return) instead of a new
        OrderedDict. PyTorch's old positional order ``state_dict(destination, prefix,
        keep_vars)`` is still read, with PyTorch's deprecation warning.

        A module whose class overrides ``get_extra_state`` adds what it returns under
        ``prefix + '_extra_state'``, after its tensors. The walk runs each module's
        ``register_state_dict_pre_hook`` hooks before its own entries and its
        ``register_state_dict_post_hook`` hooks after its children's. A new OrderedDict
        carries ``_metadata``, ``{module name: {'version': module._version}}``, as
        PyTorch's (``tg.save`` does not store it).
        """
        if args:
            if len(args) > 3:
                raise TypeError(f"state_dict() takes at most 3 positional arguments "
                                f"(destination, prefix, keep_vars), got {len(args)}")
            warnings.warn("Positional args are being deprecated, use kwargs instead "
                          "(state_dict(destination=..., prefix=..., keep_vars=...)).",
                          FutureWarning, stacklevel=2)
            destination = args[0] if destination is None else destination
            prefix = args[1] if len(args) > 1 and prefix == "" else prefix
            keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()  # {module name: local_metadata}
        return self._collect_state(destination, prefix, keep_vars, ancestors=set())

    def _collect_state(self, destination, prefix: str, keep_vars: bool, ancestors: set):
        """``state_dict``'s depth-first walk, as PyTorch's: this module's pre-hooks, its
        own entries, each child's walk, then its post-hooks. A module registered under two
        names is walked under both; one that contains itself stops the cycle. Returns
        ``destination``, or what a ``_register_state_dict_hook`` hook returned in its
        place (a child's replacement is dropped by its parent, as in PyTorch)."""
        if id(self) in ancestors:
            return destination
        ancestors.add(id(self))
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in list(self._state_dict_pre_hooks.values()):
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, child in self._modules.items():
            if child is not None:
                child._collect_state(destination, prefix + name + ".", keep_vars, ancestors)
        for key, hook in list(self._state_dict_hooks.items()):
            result = hook(self, destination, prefix, local_metadata)
            if result is None:
                continue
            if key not in self._state_dict_hooks_returning:
                raise RuntimeError("state_dict post-hook must return None")
            destination = result
        ancestors.discard(id(self))
        return destination

    def _save_to_state_dict(self, destination, prefix: str, keep_vars: bool) -> None:
        """This module's own entries, not its children's: its parameters and persistent
        buffers (detached unless ``keep_vars``), then its extra state when its class
        overrides ``get_extra_state``."""
        for name, tensor in self._state_tensors():
            destination[prefix + name] = tensor if keep_vars else tensor.detach()
        if _overrides(self, "get_extra_state"):
            destination[prefix + _EXTRA_STATE] = self.get_extra_state()

    def _state_tensors(self) -> Iterator[tuple[str, Tensor]]:
        """``(name, tensor)`` for each parameter, then each persistent buffer (not None)."""
        for name, param in self._parameters.items():
            if param is not None:
                yield name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                yield name, buffer

    def _state_modules(self, prefix: str = "", ancestors: frozenset = frozenset(),
                       children_first: bool = False) -> Iterator[tuple[str, "Module"]]:
        """``(prefix, module)`` for this module and each descendant in the order of
        ``state_dict``'s walk (parents first; with ``children_first``, children first: the
        order of load post-hooks). A module under two names comes once per name; one
        that contains itself, once."""
        if id(self) in ancestors:
            return
        if not children_first:
            yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_modules(prefix + name + ".", ancestors | {id(self)},
                                                children_first)
        if children_first:
            yield prefix, self

    def get_extra_state(self):
        """The state of this module that is not a tensor, for ``state_dict()`` to store
        under ``prefix + '_extra_state'`` (anything ``tg.save`` stores: nested dicts,
        lists, numbers, strings, Tensors, arrays). Override it with ``set_extra_state``;
        ``state_dict`` calls it only when the class overrides it."""
        raise RuntimeError(
            f"{type(self).__name__}.get_extra_state() reached Module.get_extra_state(), "
            "which is never meant to run: state_dict calls get_extra_state only when "
            "the class overrides it")

    def set_extra_state(self, state) -> None:
        """Take back ``state``, what ``get_extra_state`` returned; ``load_state_dict`` calls
        it with the ``'_extra_state'`` entry when the class overrides it."""
        raise RuntimeError(
            f"{type(self).__name__}.set_extra_state() reached Module.set_extra_state(), "
            "which is never meant to run: load_state_dict calls set_extra_state only when "
            "the class overrides it")

    def _add_state_dict_hook(self, registry: str, hook: Callable) -> RemovableHandle:
        """Put ``hook`` last in the ordered dict ``registry``, the instance's own (made on
        first use). Calls keep their fast path: state-dict hooks are not call hooks."""
        if not isinstance(self.__dict__.get(registry), OrderedDict):
            object.__setattr__(self, registry, OrderedDict())
        hooks = getattr(self, registry)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, prefix, keep_vars)`` in ``state_dict()`` before this
        module's own entries are collected (``prefix``: its name and a dot, ``''`` at the
        root). Returns a handle whose ``remove()`` unregisters it."""
        return self._add_state_dict_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata)`` in ``state_dict()``
        once the entries of this module and its children are in ``state_dict``.

        The hook may edit ``state_dict`` in place (rename, add or drop keys); it must
        return None (RuntimeError otherwise), as PyTorch 2.x's public hooks.
        ``local_metadata`` is ``{'version': module._version}``, the dict stored at
        ``state_dict._metadata[prefix[:-1]]``. Returns a handle whose ``remove()``
        unregisters it."""
        return self._add_state_dict_hook("_state_dict_hooks", hook)

    def _register_state_dict_hook(self, hook: Callable) -> RemovableHandle:
        """PyTorch's older spelling of ``register_state_dict_post_hook``, still used by
        libraries: ``hook(module, state_dict, prefix, local_metadata)`` may also return a
        new mapping, which takes the place of ``state_dict`` for the later hooks and as
        the result. Only the root's replacement reaches the caller: a parent goes on with
        its own dict, as in PyTorch."""
        handle = self._add_state_dict_hook("_state_dict_hooks", hook)
        if not isinstance(self.__dict__.get("_state_dict_hooks_returning"), set):
            object.__setattr__(self, "_state_dict_hooks_returning", set())
        self._state_dict_hooks_returning.add(handle.id)
        return handle

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before ``load_state_dict`` reads the keys of this
        module (``prefix`` is its name and a dot, ``''`` at the root; a module under two
        names is called once per name). The hook may edit ``state_dict`` (a copy of the
        caller's), e.g. rename keys of an older layout; ``local_metadata`` is the
        caller's ``state_dict._metadata[prefix[:-1]]`` (``{}`` without one; with
        ``assign=True`` it also has ``'assign_to_params_buffers': True``), and ``strict``
        is always True, as PyTorch passes it (the caller's ``strict`` is applied after
        the hooks); keys it appends to ``missing_keys`` or ``unexpected_keys`` are reported
        (first) with those the load finds, and messages appended to ``error_msgs`` become
        errors of the load.
        Returns a handle whose ``remove()`` unregisters it."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook: Callable,
                                           with_module: bool = False) -> RemovableHandle:
        """PyTorch's older spelling: without ``with_module`` the hook is called without the
        module, ``hook(state_dict, prefix, local_metadata, strict, missing_keys, ...)``."""
        return self._add_state_dict_hook(
            "_load_state_dict_pre_hooks", functools.partial(hook, self) if with_module else hook)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, incompatible_keys)`` at the end of ``load_state_dict``, once
        the values are loaded (children's hooks before their parent's, as PyTorch).

        ``incompatible_keys`` has the lists ``missing_keys`` and ``unexpected_keys``; the
        hook may edit them in place, and ``strict=True`` checks them after the hooks:
        clearing both lets a load pass, adding a key makes it fail. The hook must return
        None (AssertionError otherwise, as PyTorch). Returns a handle whose ``remove()``
        unregisters it."""
        return self._add_state_dict_hook("_load_state_dict_post_hooks", hook)

    def _run_load_state_dict_pre_hooks(self, state_dict: dict, metadata, assign: bool,
                                       missing_keys: list, unexpected_keys: list) -> list:
        """Every module's pre-hooks, in ``state_dict``'s order, each with its entry of
        ``metadata`` (the caller's ``_metadata``, or None; with ``assign``, a copy with
        ``'assign_to_params_buffers': True``); their error messages.

        ``strict`` is True for every hook whatever the caller asked, as PyTorch's load
        calls each module's ``_load_from_state_dict`` with True (the caller's ``strict``
        only decides, at the end, whether the key lists are errors)."""
        error_msgs: list = []
        for prefix, module in self._state_modules():
            local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
            if assign:
                local_metadata = {**local_metadata, "assign_to_params_buffers": True}
            module._load_from_state_dict(state_dict, prefix, local_metadata, True,
                                         missing_keys, unexpected_keys, error_msgs)
        return error_msgs

    def _load_from_state_dict(self, state_dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: list, unexpected_keys: list,
                              error_msgs: list) -> None:
        """PyTorch's per-module step of ``load_state_dict``, for a subclass to override:
        called on every module (parents first; ``prefix`` is its name and a dot) with the
        copy of the state dict that the whole load then reads, before any key is read.
        This one runs the module's load pre-hooks. An override may edit ``state_dict``
        (the keys of an older layout), add to the lists, and call
        ``super()._load_from_state_dict(...)``, as in PyTorch. The values are copied
        afterwards for the whole tree at once (nothing at all on an error), so leaving out
        the ``super()`` call keeps the pre-hooks from running but not the module's
        tensors from being loaded (PyTorch's would skip them; docs/deviations.md)."""
        for hook in list(self._load_state_dict_pre_hooks.values()):
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)

    def _run_load_state_dict_post_hooks(self, incompatible_keys: _IncompatibleKeys) -> None:
        """Every module's load post-hooks, children first, all given the same lists."""
        for _, module in self._state_modules(children_first=True):
            for hook in list(module._load_state_dict_post_hooks.values()):
                if hook(module, incompatible_keys) is not None:
                    raise AssertionError(
                        "Hooks registered with register_load_state_dict_post_hook are not "
                        "expected to return new values; edit incompatible_keys in place")

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy the values of ``state_dict`` into this module's own tensors.

        Values (Tensors, arrays from any device, or Python numbers for 0-d entries)
        are copied into the existing parameters and buffers, on the module's device
        and dtype, so the Parameter objects (and any optimizer holding them) stay
        valid. Nothing is copied if there is an error: a shape mismatch or a value
        of another type is always an error; with ``strict=True`` so are missing and
        unexpected keys. The error message lists them all. Returns
        ``(missing_keys, unexpected_keys)``. A 0-d tensor takes the first entry of a
        1-D value (PyTorch's reading of 0.3 checkpoints, which stored scalars so).
        Lazy submodules (nn/lazy.py) first take their shapes from the values. A missing
        ``num_batches_tracked`` of a norm layer is not missing, and keeps its value, when
        the state dict's ``_metadata`` gives the layer a version below 2 or none (plain
        dicts, ``tg.load``'s, older checkpoints), as PyTorch 2.x; a ``state_dict()`` of
        today records version 2, and there it is missing.

        ``assign=True`` puts the state dict's tensors themselves in the module instead of
        copying (they keep their dtype and device, and share memory with the state dict);
        a parameter becomes a Parameter wrapping its value, with the ``requires_grad`` of
        the one it replaces. New Parameter objects: build the optimizer after loading.

        A module whose class overrides ``set_extra_state`` gets its ``'_extra_state'``
        entry (missing if absent); for another module that key is unexpected. Hooks:
        ``register_load_state_dict_pre_hook`` (before the keys are read) and
        ``register_load_state_dict_post_hook`` (after loading), and a subclass's own
        ``_load_from_state_dict`` (called where the pre-hooks are). With post-hooks, the
        strict check of the keys waits for them, as PyTorch's: a strict error then comes
        after the values are loaded (other errors still stop the load before).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        metadata = getattr(state_dict, "_metadata", None)
        missing, unexpected, hook_errors = [], [], []  # the pre-hooks may append to all three
        if any(module._load_state_dict_pre_hooks or _overrides(module, "_load_from_state_dict")
               for module in self.modules()):
            state_dict = OrderedDict(state_dict)  # the hooks edit a copy, as PyTorch's
            hook_errors = self._run_load_state_dict_pre_hooks(state_dict, metadata, assign,
                                                              missing, unexpected)
        for prefix, module in self.named_modules():
            if module is not self and hasattr(module, "_lazy_load_hook"):
                module._lazy_load_hook(state_dict, prefix + ".")
        own = self._loadable_state()
        missing += [key for key in own
                    if key not in state_dict and not self._kept_when_missing(key, metadata)]
        unexpected += self._unexpected_keys(state_dict)
        value_errors = _value_errors(own, state_dict)
        post_hooks = any(module._load_state_dict_post_hooks for module in self.modules())
        if hook_errors or value_errors or not post_hooks:  # else the keys wait for the hooks
            # PyTorch collects the hooks' and the size messages while loading, then
            # puts the key messages in front
            _raise_load_errors(self, _key_errors(strict, missing, unexpected) + hook_errors
                               + value_errors)
        tensors = OrderedDict((key, t) for key, t in own.items() if isinstance(t, Tensor))
        if assign:
            self._assign_state(tensors, state_dict)
        else:
            _copy_state(tensors, state_dict)
        for key, module in own.items():
            if isinstance(module, Module) and key in state_dict:
                module.set_extra_state(state_dict[key])
        if post_hooks:
            self._run_load_state_dict_post_hooks(_IncompatibleKeys(missing, unexpected))
            _raise_load_errors(self, _key_errors(strict, missing, unexpected))
        return _IncompatibleKeys(missing, unexpected)

    def _loadable_state(self) -> "OrderedDict":
        """Every key ``load_state_dict`` fills, in ``state_dict``'s order: each parameter's
        and persistent buffer's to the tensor, and the ``'_extra_state'`` key of a module
        whose class overrides ``set_extra_state`` to that module (no hook runs)."""
        own = OrderedDict()
        for prefix, module in self._state_modules():
            for name, tensor in module._state_tensors():
                own[prefix + name] = tensor
            if _overrides(module, "set_extra_state"):
                own[prefix + _EXTRA_STATE] = module
        return own

    def _unexpected_keys(self, state_dict) -> list:
        """The keys of ``state_dict`` that name no tensor (nor extra state) here, in
        PyTorch's order.

        PyTorch's ``load`` visits the modules depth first (a module under two names
        twice); each module reports, in the state dict's order, the keys under its
        prefix whose next name is neither a child (``'fc.x.y'``, no child ``x``) nor one
        of its own parameters or persistent buffers (``'fc.x'``). So ``'extra'`` comes
        before ``'0.extra'`` whatever their order in the state dict. (A key under a
        child that is None is reported here; PyTorch skips such a child silently.)
        """
        unexpected = []

        def visit(module: "Module", prefix: str, keys: list, ancestors: frozenset) -> None:
            if id(module) in ancestors:  # a module that contains itself: state_dict stops
                unexpected.extend(keys)   # there too, so nothing below it is known
                return
            own = {name for name, _ in module._state_tensors()}
            if _overrides(module, "set_extra_state"):
                own.add(_EXTRA_STATE)
            for key in keys:
                head = key[len(prefix):].split(".", 1)
                if len(head) > 1 and module._modules.get(head[0]) is None:
                    unexpected.append(key)         # no such child (or a None one)
                elif len(head) == 1 and head[0] not in own:
                    unexpected.append(key)         # no such tensor
            for name, child in module._modules.items():
                if child is not None:
                    start = prefix + name + "."
                    visit(child, start, [key for key in keys if key.startswith(start)],
                          ancestors | {id(module)})

        visit(self, "", [key for key in state_dict if isinstance(key, str)], frozenset())
        return unexpected + [key for key in state_dict if not isinstance(key, str)]

    def _assign_state(self, own: dict, state_dict) -> None:
        """``load_state_dict(assign=True)``: each value of ``state_dict`` (as a Tensor)
        becomes the parameter or buffer at its key."""
        for key, tensor in own.items():
            if key not in state_dict:
                continue
            value = _as_loaded(tensor, state_dict[key])
            if isinstance(value, (int, float)):  # a Python number: the module's dtype
                value = factories.full((), value, dtype=tensor.dtype, device=tensor.device)
            elif not isinstance(value, Tensor):
                value = Tensor(value)  # an array, on its own device
            path, _, name = key.rpartition(".")
            module = self.get_submodule(path)
            if name in module._parameters:
                if isinstance(value, Parameter):
                    value.requires_grad = tensor.requires_grad
                else:
                    value = Parameter(value, requires_grad=tensor.requires_grad)
                module._set_entry("_parameters", name, value)
            else:
                module._set_entry("_buffers", name, value)

    def _kept_when_missing(self, key: str, metadata=None) -> bool:
        """True when ``key`` names a tensor its module keeps if a state dict lacks it:
        one its class lists in ``_state_kept_when_missing``, ``{name: the _version that
        added it}``, when the state dict's ``_metadata`` gives that module an older
        version or none (PyTorch's norm layers: ``num_batches_tracked``, version 2)."""
        path, _, name = key.rpartition(".")
        module = self
        for step in path.split(".") if path else ():  # the registered children, as
            module = module._modules.get(step)         # state_dict walks them
            if module is None:
                return False
        added = getattr(module, "_state_kept_when_missing", {}).get(name)
        if added is None:
            return False
        version = None if metadata is None else metadata.get(path, {}).get("version")
        return version is None or version < added

    # ------------------------------------------------------------------- repr

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr``: its settings."""
        return ""

    def _get_name(self) -> str:
        """The name ``repr`` prints: the class name (a subclass may return another)."""
        return self.__class__.__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            child_text = repr(child).replace("\n", "\n  ")  # indent nested blocks
            lines.append(f"({name}): {child_text}")
        if not self._modules and "\n" not in extra:  # a one-line setting, no children
            return f"{self._get_name()}({extra})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


_EXTRA_STATE = "_extra_state"  # the key suffix of a module's extra state, PyTorch's


def snapshot(module: Module, copy_tensor=lambda tensor: tensor.data.copy()) -> dict:
    """``module.state_dict()`` sharing no memory with the module, for restoring it later:
    each Tensor through ``copy_tensor`` (by default a copy of its array), any other entry (a
    module's ``get_extra_state``) deep-copied. ``load_state_dict`` takes it back."""
    return {key: copy_tensor(value) if isinstance(value, Tensor) else copy.deepcopy(value)
            for key, value in module.state_dict().items()}


def _overrides(module: Module, name: str) -> bool:
    """True when the class of ``module`` defines its own method ``name``
    (``get_extra_state``), not Module's."""
    return getattr(type(module), name) is not getattr(Module, name)


def _value_errors(own: dict, state_dict) -> list:
    """The messages for the values of ``state_dict`` that cannot go into the tensors of
    ``own``: not a Tensor, an array or a number, or of another shape."""
    errors = []
    for key, tensor in own.items():
        if not isinstance(tensor, Tensor) or key not in state_dict or is_uninitialized(tensor):
            continue  # (a lazy placeholder has no shape to compare, as in PyTorch)
        value = state_dict[key]
        if not _is_loadable(value):
            errors.append(f'While copying the parameter named "{key}", expected a Tensor '
                          f"or an array from the checkpoint but received "
                          f"{type(value).__name__}")
            continue
        shape = _shape_of(_as_loaded(tensor, value))
        if shape != tensor.shape:
            errors.append(f"size mismatch for {key}: copying a param with shape {shape} "
                          f"from checkpoint, the shape in current model is {tensor.shape}.")
    return errors


def _key_errors(strict: bool, missing: list, unexpected: list) -> list:
    """With ``strict``, one message for the missing keys and one for the unexpected,
    PyTorch's text to the letter (each ends with ``'. '``)."""
    errors = []
    if strict and missing:
        errors.append("Missing key(s) in state_dict: " + _quoted(missing))
    if strict and unexpected:
        errors.append("Unexpected key(s) in state_dict: " + _quoted(unexpected))
    return errors


def _raise_load_errors(module: Module, errors: list) -> None:
    if errors:
        raise RuntimeError(f"Error(s) in loading state_dict for {type(module).__name__}:\n\t"
                           + "\n\t".join(errors))


def _copy_state(tensors: dict, state_dict) -> None:
    """Copy each value of ``state_dict`` into the tensor of ``tensors`` at its key, in
    place, on the tensor's device and of its dtype."""
    with no_grad():
        for key, tensor in tensors.items():
            if key in state_dict and not is_uninitialized(tensor):  # (empty into empty)
                value = _as_loaded(tensor, state_dict[key])
                array = value.data if isinstance(value, Tensor) else value
                array = backend.to_device(array, tensor.device)
                tensor.data[...] = array  # in place, cast to the tensor's dtype
                tensor._version += 1      # a graph that saved it refuses backward


def _as_loaded(tensor: Tensor, value):
    """What ``load_state_dict`` puts into ``tensor``: ``value``, but for a 0-d tensor the
    first entry of a non-empty 1-D value, as PyTorch (checkpoints of PyTorch 0.3 stored
    scalars as 1-D tensors). A loadable value is assumed (``_is_loadable``)."""
    if tensor.ndim != 0:  # first: a lazy placeholder's value has no shape to read
        return value
    shape = _shape_of(value)
    if len(shape) == 1 and shape[0] > 0:
        return value[0]
    return value


def _is_loadable(value) -> bool:
    """A state-dict value: a Tensor, an array (it has a shape and a dtype) or a number."""
    if isinstance(value, (Tensor, int, float)):
        return True
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _shape_of(value) -> tuple:
    """Shape of a Tensor, an array of any device, or a Python number (``()``)."""
    return tuple(getattr(value, "shape", ()))


def _quoted(keys) -> str:
    return ", ".join(f'"{key}"' for key in keys) + ". "


def _converted(tensor: Tensor, device: str | None, dtype, kinds: str = "fc") -> Tensor:
    """``to``'s ``fn``: ``tensor``'s values on ``device`` / of ``dtype``, as a Tensor.
    Only a tensor whose dtype kind is in ``kinds`` is cast ('f' floating, 'c' complex)."""
    array = tensor.data
    if device is not None:
        array = backend.to_device(array, device)
    if dtype is not None and array.dtype.kind in kinds and array.dtype != dtype:
        if array.dtype.kind == "c" and dtype.kind != "c":
            warnings.warn("Casting complex values to real discards the imaginary part",
                          UserWarning, stacklevel=5)
            array = array.real  # (NumPy's astype would warn once more)
        array = array.astype(dtype)
    return tensor if array is tensor.data else Tensor._make(array)


class _EachOnce:
    """``Module._apply``'s ``fn`` over one call and all its nested calls: each tensor
    converted once (tied weights, or an override converting a shared tensor again gets
    the first result) and each module visited once (a shared or self-containing one)."""

    def __init__(self, fn: Callable[[Tensor], Tensor]):
        self.fn, self.results, self.modules = fn, {}, set()

    def __call__(self, tensor: Tensor) -> Tensor:
        done = self.results.get(id(tensor))
        if done is None:  # (the tensor is kept, so that no other object takes its id)
            result = self.fn(tensor)
            if not isinstance(result, Tensor):
                raise TypeError(f"Module._apply: fn must return a Tensor, got "
                                f"{type(result).__name__}")
            done = self.results[id(tensor)] = (tensor, result)
        return done[1]


# ------------------------------------------------------------------ containers


class Sequential(Module):
    """Modules called in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Children are named ``'0'``, ``'1'``, ... (so state-dict keys are
    ``'0.weight'``), or by the keys of an ordered dict:
    ``Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU()))``. Only an
    ``OrderedDict`` is unpacked, as in PyTorch: a plain dict is an argument that is not
    a Module (TypeError).
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "Sequential":
        for module in modules:
            self.append(module)
        return self

    def __add__(self, other: "Sequential") -> "Sequential":
        """A new Sequential: this one's modules, then ``other``'s (the same objects)."""
        if not isinstance(other, Sequential):
            raise ValueError("add operator supports only objects of Sequential class, but "
                             f"{type(other)} is given.")
        return Sequential(*self, *other)

    def __iadd__(self, other: "Sequential") -> "Sequential":
        """Append ``other``'s modules to this one."""
        if not isinstance(other, Sequential):
            raise ValueError("add operator supports only objects of Sequential class, but "
                             f"{type(other)} is given.")
        return self.extend(list(other))

    def __mul__(self, other: int) -> "Sequential":
        """A new Sequential of this one's modules repeated ``other`` times, the same
        objects (``Sequential(a, b) * 2`` holds a, b, a, b), named '0', '1', ..."""
        _check_repeats(self, other)
        return Sequential(*(list(self) * other))

    def __rmul__(self, other: int) -> "Sequential":
        """``n * sequential`` is ``sequential * n``."""
        return self.__mul__(other)

    def __imul__(self, other: int) -> "Sequential":
        """Repeat the modules in place: child ``str(i)`` (the same object) is added again
        under ``str(i + len(self))``, ``str(i + 2·len(self))``, ..., as PyTorch, which looks
        the children up by those numbers (KeyError for a Sequential with other names)."""
        _check_repeats(self, other)
        count = len(self)
        missing = [str(index) for index in range(count) if str(index) not in self._modules]
        if missing:
            raise KeyError(f"Sequential *= {other}: no child named {missing[0]!r} (children: "
                           f"{list(self._modules)}); `sequential * n` renumbers them")
        for repeat in range(1, other):
            for index in range(count):
                self.add_module(str(index + repeat * count), self._modules[str(index)])
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Put ``module`` before position ``index``; the children are renumbered."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: {type(module).__name__} is not a Module")
        modules = list(self._modules.values())
        if not -len(modules) <= index <= len(modules):
            raise IndexError(f"Sequential.insert: index {index} is out of range")
        modules.insert(index, module)
        self._renumber(modules)
        return self

    def pop(self, index: int = -1) -> Module:
        """Remove and return the child at ``index``; the rest are renumbered."""
        module = self[index]
        del self[index]
        return module

    def __setitem__(self, index: int, module: Module) -> None:
        """Replace the child at ``index``; it keeps its name and place."""
        name = list(self._modules)[index]
        setattr(self, name, module)

    def __delitem__(self, index) -> None:
        """Delete the child (or slice of children) at ``index``; the rest are renumbered
        '0', '1', ..., as PyTorch does."""
        names = list(self._modules)
        doomed = set(names[index]) if isinstance(index, slice) else {names[index]}
        self._renumber([m for name, m in self._modules.items() if name not in doomed])

    def _renumber(self, modules: list) -> None:
        for name in list(self._modules):
            self._forget(name)
        for index, module in enumerate(modules):
            self._set_entry("_modules", str(index), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):  # the same class, the children keep their names
            return type(self)(OrderedDict(items[index]))
        return items[index][1]

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input


def _check_repeats(sequential: Sequential, count) -> None:
    """``count`` of ``sequential * count``: an int (TypeError) above zero (ValueError)."""
    if not isinstance(count, int):
        raise TypeError(f"unsupported operand type(s) for *: {type(sequential)} and "
                        f"{type(count)}")
    if count <= 0:
        raise ValueError(f"Non-positive multiplication factor {count} for {type(sequential)}")


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list would hide them).

    Indexable and iterable like a list; children are named ``'0'``, ``'1'``, ...
    It has no forward: the owning module decides how to call its items.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _reindex(self, modules: list) -> None:
        for name in list(self._modules):
            self._forget(name)
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"ModuleList: {type(module).__name__} is not a Module subclass")
            self._set_entry("_modules", str(index), module)

    def append(self, module: Module) -> "ModuleList":
        self._reindex(list(self) + [module])
        return self

    def extend(self, modules) -> "ModuleList":
        self._reindex(list(self) + list(modules))
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self)
        modules.insert(index, module)
        self._reindex(modules)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index``; the rest are renumbered."""
        module = self[index]
        del self[index]
        return module

    def __add__(self, other) -> "ModuleList":
        """A new ModuleList: this one's modules, then ``other``'s (the same objects)."""
        return ModuleList(list(self) + list(other))

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(modules[index])
        return modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        modules = list(self)
        modules[index] = module
        self._reindex(modules)

    def __delitem__(self, index) -> None:
        modules = list(self)
        del modules[index]
        self._reindex(modules)

    def __repr__(self) -> str:
        """One line per run of neighbours that print the same, as PyTorch's:
        ``(0-2): 3 x Linear(...)`` for three equal layers in a row."""
        texts = [repr(module) for module in self]
        if not texts:
            return f"{self._get_name()}()"
        runs = []  # [first index, last index, text]
        for index, text in enumerate(texts):
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = []
        for first, last, text in runs:
            label = f"({first}): " if first == last else f"({first}-{last}): {last - first + 1} x "
            lines.append((label + text).replace("\n", "\n  "))  # indent nested blocks
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"



class ModuleDict(Module):
    """An ordered dictionary of modules whose parameters are registered.

    ``ModuleDict({'encoder': nn.Linear(4, 8), 'decoder': nn.Linear(8, 4)})``, or
    the same from an iterable of ``(key, module)`` pairs. Keys are strings and
    are the children's names, so ``self.blocks = ModuleDict(...)`` gives
    state-dict keys such as ``'blocks.encoder.weight'``. Keys keep their
    insertion order; replacing a module keeps its key's place. It has no
    forward: the owning module picks the entries to call.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        _check_key(self, key)
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: the value for key {key!r} is a "
                            f"{type(module).__name__}, not a Module")
        if key in self._modules:
            self._set_entry("_modules", key, module)  # replaced where it stands
        else:
            self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        self._forget(key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        """Add or replace entries from a mapping or an iterable of ``(key, module)`` pairs."""
        for key, module in _pairs("ModuleDict", modules):
            self[key] = module

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            self._forget(key)


class ParameterList(Module):
    """A list of Parameters that are registered (a plain list would hide them).

    Children are named ``'0'``, ``'1'``, ... (state-dict keys ``'weights.0'``).
    A plain Tensor put in the list is wrapped into a Parameter that shares its
    array (and requires grad), as in PyTorch. Any other object is held as it is
    (PyTorch 1.12+): it is entry ``i`` of the list but no parameter, so it is not in
    ``parameters()`` nor in ``state_dict()``. Entry ``i`` is the attribute ``str(i)``,
    set as ``setattr`` would: a Module there is a child, and an object in the place of a
    Parameter is a TypeError (``Module.__setattr__``'s).
    """

    def __init__(self, values=None):
        super().__init__()
        self._size = 0  # the entries are not all in one registry: the count is kept
        if values is not None:
            self.extend(values)

    def _key(self, index) -> str:
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"ParameterList: index {index} is out of range for "
                             f"{len(self)} parameters")
        return str(index % len(self))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)([self[i] for i in range(*index.indices(len(self)))])
        return getattr(self, self._key(index))

    def __setitem__(self, index: int, value) -> None:
        setattr(self, self._key(index), _as_parameter(value))

    def append(self, value) -> "ParameterList":
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values) -> "ParameterList":
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError("ParameterList.extend expects an iterable of Parameters, "
                            f"got a {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def __iadd__(self, values) -> "ParameterList":
        return self.extend(values)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator:
        return (self[index] for index in range(len(self)))

    def extra_repr(self) -> str:
        return _parameter_lines(enumerate(self))


class ParameterDict(Module):
    """An ordered dictionary of Parameters that are registered.

    Built like ModuleDict, from a mapping or from ``(key, parameter)`` pairs; the
    keys are the parameters' names (state-dict keys ``'scales.alpha'``). A plain
    Tensor is wrapped into a Parameter that shares its array, and any other object
    is held as it is (not a parameter), as in PyTorch 1.12+. Keys keep their
    insertion order, except that ``update`` (and so the constructor) takes the keys of
    a plain mapping in sorted order, as PyTorch's: only an ``OrderedDict``, a
    ParameterDict or a sequence of pairs brings its own order.
    """

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}  # the keys in order: the values are not all in one registry
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str):
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        """``setattr(self, key, value)`` as a Module sets it (a Parameter in its place,
        an object in the place of a Parameter is a TypeError), a Tensor made a Parameter."""
        _check_key(self, key)
        if key not in self._keys:
            if key == "" or "." in key:
                raise KeyError(f"ParameterDict: a key must be a non-empty string without "
                               f"'.', got {key!r}")
            if hasattr(self, key):  # 'training', '_keys': the module's own attributes
                raise KeyError(f"ParameterDict: key {key!r} is the name of a ParameterDict "
                               "attribute; choose another")
        setattr(self, key, _as_parameter(value))
        self._keys[key] = None

    def __delitem__(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(key)
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __contains__(self, key) -> bool:
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def values(self):
        return (self[key] for key in self._keys)

    def items(self):
        return ((key, self[key]) for key in self._keys)

    def get(self, key: str, default=None):
        return self[key] if key in self._keys else default

    def update(self, parameters) -> None:
        """Add or replace entries from a mapping or an iterable of ``(key, value)`` pairs;
        a mapping that is neither an ``OrderedDict`` nor a ParameterDict is read in the
        sorted order of its keys, as PyTorch's."""
        pairs = _pairs("ParameterDict", parameters)
        if isinstance(parameters, Mapping) and not isinstance(parameters, OrderedDict):
            pairs.sort(key=lambda pair: str(pair[0]))  # (a key that is not a str: refused)
        for key, value in pairs:
            self[key] = value

    def pop(self, key: str):
        """Remove ``key`` and return its value."""
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        for key in list(self._keys):
            del self[key]

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._keys))

    def copy(self) -> "ParameterDict":
        """A new ParameterDict holding the same values (the same Parameter objects), in
        the same order."""
        return ParameterDict(OrderedDict(self.items()))

    def setdefault(self, key: str, default=None):
        """``self[key]``, after setting it to ``default`` if ``key`` is absent."""
        if key not in self._keys:
            self[key] = default
        return self[key]

    def popitem(self) -> tuple:
        """Remove and return the last inserted ``(key, value)`` pair."""
        if not self._keys:
            raise KeyError("popitem(): ParameterDict is empty")
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def fromkeys(self, keys: Iterable[str], default=None) -> "ParameterDict":
        """A new ParameterDict with each of ``keys`` set to ``default`` (an instance method,
        as PyTorch's; a plain Tensor becomes one Parameter per key, sharing its array)."""
        return ParameterDict((key, default) for key in keys)

    def __or__(self, other) -> "ParameterDict":
        """A copy of this one updated with ``other`` (a mapping or ``(key, value)`` pairs)."""
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other):
        """``other | self``: a copy of ``other`` (its ``copy()``) updated with this one."""
        merged = other.copy()
        merged.update(self)
        return merged

    def __ior__(self, other) -> "ParameterDict":
        self.update(other)
        return self

    def extra_repr(self) -> str:
        return _parameter_lines(self.items())


def _check_key(container: Module, key) -> None:
    """A dict container's key: a string that is not one of its own attribute names
    (a key ``'keys'`` would hide the method ``keys``)."""
    name = type(container).__name__
    if not isinstance(key, str):
        raise TypeError(f"{name}: keys must be strings, got {key!r} of type {type(key).__name__}")
    if hasattr(type(container), key):
        raise KeyError(f"{name}: key {key!r} is the name of a {name} attribute; choose another")


def _pairs(container: str, entries) -> list:
    """The ``(key, value)`` pairs of a mapping or of an iterable of pairs, in order."""
    if isinstance(entries, (Mapping, ModuleDict, ParameterDict)):
        return list(entries.items())
    if isinstance(entries, (str, Tensor)) or not isinstance(entries, Iterable):
        raise TypeError(f"{container}.update expects a mapping or an iterable of (key, value) "
                        f"pairs, got a {type(entries).__name__}")
    pairs = []
    for index, pair in enumerate(entries):
        if isinstance(pair, (str, Tensor)) or not isinstance(pair, Iterable):
            raise TypeError(f"{container}.update: element #{index} is a {type(pair).__name__}, "
                            "not a (key, value) pair")
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{container}.update: element #{index} has length {len(pair)}, "
                             "not a (key, value) pair")
        pairs.append(pair)
    return pairs


def _as_parameter(value):
    """What a ParameterList or ParameterDict holds for ``value``: a plain Tensor becomes a
    Parameter sharing its array; a Parameter, or any other object, stays itself."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _parameter_lines(items) -> str:
    """``(key): Parameter containing: [float32 of size 2x3]`` for a tensor,
    ``(key): Object of type: int`` for anything else, one line per entry."""
    lines = []
    for key, value in items:
        if not isinstance(value, Tensor):
            lines.append(f"({key}): Object of type: {type(value).__name__}")
            continue
        size = "x".join(str(length) for length in value.shape)
        device = "" if value.device == "cpu" else f" ({value.device})"
        kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
        lines.append(f"({key}): {kind} containing: [{value.dtype} of size {size}{device}]")
    return "\n".join(lines)


class Identity(Module):
    """``y = x``; any constructor arguments are ignored (a placeholder layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one: ``(N, C, H, W) -> (N, C*H*W)``."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
