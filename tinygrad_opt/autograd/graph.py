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
"""

from __future__ import annotations

import weakref

__all__ = ["Node", "AccumulateGrad", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks"]


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


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: backward adds its gradient into
    ``variable.grad`` there. It has no inputs."""

    freed = False
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

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
