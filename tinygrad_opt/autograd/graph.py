"""The graph as PyTorch shows it (``torch.autograd.graph``): each op a ``Node`` whose
``next_functions`` lead toward the leaves, as tools that draw or walk a graph read it.

Every op (``Function``, function.py) is a ``Node``. Its ``next_functions`` hold one
``(node, 0)`` pair per input, in the order of its inputs:

* an input made by an op: that op's node;
* a leaf that requires grad: its ``AccumulateGrad`` node (``.variable`` is the leaf),
  the step where backward adds into ``.grad``: the same node object for the same leaf
  while an op that has shown it (or anyone else) holds it;
* an input that needs no gradient: ``(None, 0)``.

(The 0 is PyTorch's output number; every op here has one output.) Backward without
``retain_graph`` frees the ops it ran, and their edges with them: ``next_functions`` of a
freed op raises, where PyTorch keeps the edges.

Saved-tensor hooks (``saved_tensors_hooks(pack_hook, unpack_hook)``, ``save_on_cpu``,
``disable_saved_tensors_hooks``) change how a custom ``Function`` keeps what its forward
passes to ``ctx.save_for_backward``: when the op is recorded, each saved tensor t is
stored as ``pack_hook(t)``, and every read of ``ctx.saved_tensors`` returns
``unpack_hook(packed)``. The innermost active pair applies. (PyTorch packs the values
its built-in ops save as well; ours hold their inputs and output as they are:
autograd/function.py keeps ``inputs`` and no hook sees them.)

Node hooks, as PyTorch's, around an op's backward (registering one makes the op's
``backward`` attribute ``call_backward``, which runs them around the class's backward):

* ``node.register_prehook(hook)``: ``hook(grad_outputs)`` before the op's backward, where
  ``grad_outputs`` is ``(d loss / d output,)``; it may return a new tuple to use instead;
* ``node.register_hook(hook)``: ``hook(grad_inputs, grad_outputs)`` after it, with one
  gradient per input (None for an input that needs none); it may return new
  ``grad_inputs``. Hooks run in registration order, each seeing what the last returned.

A returned tuple must hold as many gradients as the one it replaces, each None (the
gradient is dropped) or a Tensor of the same shape, dtype and device, or the hook's
node raises. Every registration returns a handle (``handle.remove()``).

``register_multi_grad_hook(tensors, fn, mode="all")`` calls ``fn`` once per backward
pass: with ``mode="all"`` when the gradients of all of ``tensors`` that this pass
computes have been computed, as ``fn(grads)`` (None for a tensor the pass does not
reach); with ``mode="any"`` at the first of them, as ``fn(grad)``. It is built on
tensor hooks, and the engine walks its order through ``backward_order``, which tells
those hooks which pass they are in and which tensors it reaches.
"""

from __future__ import annotations

import functools
import weakref

from tinygrad_opt import backend
from tinygrad_opt.autograd import tensor_hooks

__all__ = ["Node", "AccumulateGrad", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks", "register_multi_grad_hook"]

# The nodes with hooks and the live multi-grad hooks: while it is not empty, backward
# runs by the engine (fast_backward.py hands its plain pass there) and walks its order
# through ``backward_order``. Weak: a node or a hook that is gone leaves it.
active: weakref.WeakSet = weakref.WeakSet()


class Node:
    """What every op offers besides its math: PyTorch's view of the graph."""

    @property
    def next_functions(self) -> tuple:
        """``((node, 0), ...)``: one pair per input, toward the leaves (module docstring)."""
        if self.freed:
            raise RuntimeError(
                f"next_functions of {self!r}: backward has freed this part of the graph "
                "(pass retain_graph=True to backward to walk it afterwards)")
        inputs = self.__dict__.get("inputs", ())  # (an op run on arrays records none)
        edges = tuple(_edge(x) if needed else (None, 0)
                      for x, needed in zip(inputs, self.needs_input_grad))
        self.__dict__["_edges"] = edges  # the op holds its leaves' nodes, as PyTorch's graph
        return edges

    def register_prehook(self, hook) -> tensor_hooks.RemovableHandle:
        """``hook(grad_outputs) -> None or new grad_outputs``, before this op's backward."""
        return self._register("_prehooks", hook, "register_prehook")

    def register_hook(self, hook) -> tensor_hooks.RemovableHandle:
        """``hook(grad_inputs, grad_outputs) -> None or new grad_inputs``, after this op's
        backward."""
        return self._register("_posthooks", hook, "register_hook")

    def _register(self, kind, hook, caller):
        if not callable(hook):
            raise TypeError(f"{caller}: expected a callable hook, got a {type(hook).__name__}")
        hooks = self.__dict__.setdefault(kind, {})
        handle = _NodeHookHandle(hooks, next(tensor_hooks._keys), self)
        hooks[handle.key] = hook
        active.add(self)
        # this op's backward, with its hooks around it (an attribute of the instance, so the
        # engine's ``function.backward(grad)`` runs them and other ops pay nothing)
        self.__dict__["backward"] = functools.partial(call_backward, self)
        return handle


class _NodeHookHandle(tensor_hooks.RemovableHandle):
    """A node hook's handle: once its node has no hook left, the plain pass is fast again."""

    def __init__(self, hooks: dict, key: int, node):
        super().__init__(hooks, key)
        self.node = weakref.ref(node)

    def remove(self) -> None:
        super().remove()
        node = self.node()
        if node is not None and not node.__dict__.get("_prehooks") \
                and not node.__dict__.get("_posthooks"):
            active.discard(node)


def call_backward(function, grad):
    """The op's backward (its class's), with the node's hooks around it (module docstring).
    ``grad`` and what backward returns are arrays in a plain pass, Tensors under
    ``create_graph``; the hooks see Tensors either way."""
    prehooks, posthooks = function.__dict__.get("_prehooks"), function.__dict__.get("_posthooks")
    backward = type(function).backward
    if not prehooks and not posthooks:
        return backward(function, grad)
    from tinygrad_opt.autograd import engine  # (the engine imports this module)
    recorded = isinstance(grad, engine.tensor_module.Tensor)
    grad_outputs = (_as_tensor(grad),)
    for hook in tuple((prehooks or {}).values()):  # (a hook may remove itself)
        grad_outputs = _replaced(function, hook, grad_outputs, hook(grad_outputs))
    grad = _as_grad(grad_outputs[0], recorded)
    if grad is None:  # a pre-hook dropped the gradient: none flows below this op
        input_grads = (None,) * len(function.inputs)
    else:
        input_grads = engine._counted(function, backward(function, grad))
    if not posthooks:
        return input_grads
    grad_inputs = tuple(  # checked as the engine checks them, then as Tensors
        _as_tensor(engine._checked(function, x, g)) if g is not None and needed else None
        for x, g, needed in zip(function.inputs, input_grads, function.needs_input_grad))
    for hook in tuple(posthooks.values()):
        grad_inputs = _replaced(function, hook, grad_inputs, hook(grad_inputs, grad_outputs))
    return tuple(_as_grad(g, recorded) for g in grad_inputs)


def _as_tensor(grad):
    """A gradient as the hooks see it: a Tensor (a plain pass's array wrapped, no copy)."""
    from tinygrad_opt.autograd import engine
    Tensor = engine.tensor_module.Tensor
    return grad if isinstance(grad, Tensor) else Tensor._make(backend.as_array(grad))


def _as_grad(tensor, recorded):
    """Back to what the pass carries: the Tensor under create_graph, else its array."""
    return tensor if tensor is None or recorded else tensor.data


def _replaced(function, hook, grads: tuple, result) -> tuple:
    """``result`` if a hook of ``function`` may return it for ``grads``; else PyTorch's
    errors, naming the node and the hook."""
    if result is None:
        return grads
    name = f"{function!r}'s hook '{getattr(hook, '__name__', type(hook).__name__)}'"
    if not isinstance(result, tuple):
        raise TypeError(f"{name}: expected a tuple of gradients, but the hook returned a "
                        f"{type(result).__name__}")
    if len(result) != len(grads):
        raise RuntimeError(f"{name} has returned an incorrect number of values (got "
                           f"{len(result)}, but expected {len(grads)})")
    for grad, new in zip(grads, result):
        if new is None:
            continue
        if grad is None:
            raise RuntimeError(f"{name}: can't replace a None gradient with a non-None value")
        try:
            tensor_hooks.checked(hook, grad, new)
        except (TypeError, RuntimeError) as error:
            raise type(error)(f"{function!r}: {error}") from None
    return result


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: backward adds its gradient into
    ``variable.grad`` there. It has no inputs."""

    freed = False
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def register_prehook(self, hook) -> "_MultiHandle":
        """``hook((grad,)) -> None or (new grad,)`` before ``grad`` is added into
        ``variable.grad``: a tensor hook of the leaf (so it also runs in ``grad()``)."""
        if not callable(hook):
            raise TypeError(f"register_prehook: expected a callable hook, got a "
                            f"{type(hook).__name__}")

        def accumulate_grad_prehook(grad):
            (new,) = _replaced(self, hook, (grad,), hook((grad,)))
            if new is None:  # (a tensor hook cannot drop a gradient)
                raise RuntimeError(f"{self!r}'s hook: a leaf's gradient cannot be dropped here")
            return new
        return _MultiHandle((tensor_hooks.register(self.variable, accumulate_grad_prehook),))

    def register_hook(self, hook) -> "_MultiHandle":
        """``hook((), (grad,)) -> None or ()`` after ``grad`` was added into
        ``variable.grad`` (``backward`` only: ``grad()`` accumulates nothing)."""
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable hook, got a "
                            f"{type(hook).__name__}")
        incoming = []  # the gradient the last pass brought, as the hooks before left it

        def note_incoming(grad):
            incoming[:] = [grad]

        def accumulate_grad_hook(variable):
            _replaced(self, hook, (), hook((), tuple(incoming)))
        return _MultiHandle((
            tensor_hooks.register(self.variable, note_incoming),
            tensor_hooks.register_post_accumulate(self.variable, accumulate_grad_hook)))

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


_accumulators: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id(leaf) ->


def _edge(tensor) -> tuple:
    if tensor.grad_fn is not None:
        return (tensor.grad_fn, 0)
    node = _accumulators.get(id(tensor))
    if node is None or node.variable is not tensor:  # (none held, or a reused id)
        node = _accumulators[id(tensor)] = AccumulateGrad(tensor)
    return (node, 0)


_hooks_stack: list = []   # the active (pack_hook, unpack_hook) pairs, innermost last
_disabled: list = []      # the error messages of the active disable_saved_tensors_hooks


class saved_tensors_hooks:
    """``with saved_tensors_hooks(pack_hook, unpack_hook):``: a tensor t that a Function
    recorded inside the block saves is kept as ``packed = pack_hook(t)``, and backward
    reads ``unpack_hook(packed)``, which must return a Tensor with t's values (module
    docstring). The pair in force when the op is recorded is the one used, whatever is
    active when backward runs."""

    def __init__(self, pack_hook, unpack_hook):
        for name, hook in (("pack_hook", pack_hook), ("unpack_hook", unpack_hook)):
            if not callable(hook):
                raise TypeError(f"saved_tensors_hooks: {name} must be callable, got a "
                                f"{type(hook).__name__}")
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        if _disabled:
            raise RuntimeError(_disabled[-1])
        _hooks_stack.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc_info):
        _hooks_stack.pop()
        return False


class save_on_cpu(saved_tensors_hooks):
    """``with save_on_cpu(pin_memory=False, device_type="cuda"):``: saved tensors wait
    for backward in host memory (pack: a copy on 'cpu', noting the device; unpack: back
    to that device), trading transfers for GPU memory. ``pin_memory`` only speeds up
    CUDA's copies; here it changes nothing."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        def pack_to_cpu(tensor):
            return tensor.device, tensor.detach().to("cpu", copy=True)

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device)

        self.pin_memory, self.device_type = pin_memory, device_type
        super().__init__(pack_to_cpu, unpack_from_cpu)


class disable_saved_tensors_hooks:
    """``with disable_saved_tensors_hooks(error_message):``: inside the block, entering
    ``saved_tensors_hooks`` (or ``save_on_cpu``) raises ``RuntimeError(error_message)``:
    for code that cannot work with packed saved tensors. Entered while some pair is
    active, it raises that error at once, as PyTorch's."""

    def __init__(self, error_message: str):
        self.error_message = error_message

    def __enter__(self):
        if _hooks_stack:
            raise RuntimeError(self.error_message)
        _disabled.append(self.error_message)
        return self

    def __exit__(self, *exc_info):
        _disabled.pop()
        return False


def current_hooks():
    """The (pack_hook, unpack_hook) pair in force, or None."""
    return _hooks_stack[-1] if _hooks_stack else None


_passes: list = []  # the backward passes in progress while ``active``, innermost last


class _Pass:
    """One backward pass: the ids of the tensors whose gradient it computes."""

    def __init__(self, order):
        self.ids = {id(tensor) for tensor in order}


def backward_order(order):
    """``reversed(order)``, the engine's walk from the loss to the leaves; while hooks are
    ``active``, as a pass that multi-grad hooks can see."""
    return _walk(order) if active else reversed(order)


def _walk(order):
    current = _Pass(order)
    _passes.append(current)
    try:
        yield from reversed(order)
    finally:
        _passes.remove(current)


class _MultiGradHook:
    """What ``register_multi_grad_hook`` keeps: its tensor hooks hold it, ``active`` weakly."""

    def __init__(self, tensors, fn, mode):
        self.tensors, self.fn, self.mode = tensors, fn, mode
        self.seen = weakref.WeakKeyDictionary()  # pass -> grads so far ("all"), or True

    def hook(self, index):
        def multi_grad_hook(grad):
            if not _passes:
                raise RuntimeError("register_multi_grad_hook: its hook ran outside a "
                                   "backward pass")
            current = _passes[-1]
            if self.mode == "any":
                if current not in self.seen:
                    self.seen[current] = True
                    self.fn(grad)
                return None
            grads = self.seen.setdefault(current, [None] * len(self.tensors))
            grads[index] = grad
            if sum(g is not None for g in grads) == sum(id(t) in current.ids
                                                        for t in self.tensors):
                del self.seen[current]
                self.fn(grads)
            return None
        return multi_grad_hook


class _MultiHandle:
    """``handle.remove()`` removes the hook from every tensor (also a context manager)."""

    def __init__(self, handles: tuple):
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()
        return False


def register_multi_grad_hook(tensors, fn, *, mode: str = "all") -> _MultiHandle:
    """Call ``fn`` once per backward pass: ``fn(grads)`` once the gradients of all of
    ``tensors`` that the pass computes are computed (None for the others; mode "all"),
    or ``fn(grad)`` at the first of them (mode "any"). Module docstring."""
    if mode not in ("all", "any"):
        raise ValueError(f"register_multi_grad_hook: expects mode to be one of ('all', "
                         f"'any') but got {mode!r}")
    if not callable(fn):
        raise TypeError(f"register_multi_grad_hook: expected a callable fn, got a "
                        f"{type(fn).__name__}")
    tensors = tuple(tensors)
    for index, tensor in enumerate(tensors):  # ("any" leaves out those that need none)
        if mode == "all" and not tensor.requires_grad:
            raise RuntimeError(f"register_multi_grad_hook: tensors[{index}] does not require "
                               "grad (cannot register a hook on it)")
    record = _MultiGradHook(tensors, fn, mode)
    if mode == "all":
        handles = tuple(tensor_hooks.register(t, record.hook(i)) for i, t in enumerate(tensors))
    else:
        hook = record.hook(0)
        handles = tuple(tensor_hooks.register(t, hook) for t in tensors if t.requires_grad)
    active.add(record)
    return _MultiHandle(handles)
