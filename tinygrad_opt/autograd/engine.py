"""The backward pass: reverse-mode automatic differentiation over the graph.

The lecture pseudo-code, without recursion:

    order = tensors sorted so that each comes after every tensor made from it
    grads[loss] = 1
    for tensor in order:                 # from the loss back to the leaves
        grad = grads[tensor]             # the sum of everything that flowed in
        if tensor is a leaf: tensor.grad += grad
        else: for each input, grads[input] += tensor.grad_fn.backward(grad)

``run_backward`` is that loop. What flows through it depends on one switch,
set once at its top: in a plain backward grad mode is off and the gradients
are backend arrays, so every op's backward formula runs as NumPy/CuPy calls;
with ``create_graph=True`` grad mode is on and they are Tensors, so the same
formulas record the backward pass as a graph of its own (see function.py).

``backward`` (gradients land in the leaves' ``.grad``) and ``grad`` (gradients
returned, like ``torch.autograd.grad``) share the loop; they differ only in
where a gradient is delivered (``receive``) and in which tensors are visited.
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd import graph, tensor_hooks
from tinygrad_opt.autograd.grad_mode import flags, set_grad_enabled

import tinygrad_opt.tensor as tensor_module  # the engine starts passes from Tensors


rewirings = 0  # recorded writes x[i] = v so far (ops/indexing.py: setitem); see _inputs_as_used


def topological_order(roots, stops=()):
    """Tensors reachable from ``roots`` (through inputs that require grad),
    each listed after all of its inputs. Iterative depth-first search, so a
    10,000-op chain needs no recursion. The walk ends at the ids in ``stops``."""
    order = []
    visited = set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            tensor, inputs_done = stack.pop()
            if inputs_done:
                order.append(tensor)
                continue
            if id(tensor) in visited:
                continue
            visited.add(id(tensor))
            stack.append((tensor, True))
            function = tensor.grad_fn
            if function is None:
                _check_leaf(tensor)
                continue
            if stops and id(tensor) in stops:
                continue
            if function.freed:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time: the saved values of "
                    f"{function.name} were freed by the first backward. Pass retain_graph=True "
                    "to the first backward if you need to backward twice.")
            if rewirings:
                function.inputs = _inputs_as_used(function)
            for tensor_input, needed in zip(function.inputs, function.needs_input_grad):
                if needed and id(tensor_input) not in visited:
                    stack.append((tensor_input, False))
                elif not needed and tensor_input.grad_fn is not None:
                    _refuse_cut(function, tensor_input)
    return order


# ``x.requires_grad = ...`` is a plain attribute (read by every op), so the two settings
# PyTorch refuses at the assignment are refused here, before they could drop a gradient:


def _check_leaf(leaf) -> None:
    """An integer or bool leaf set to require grad would get a truncated gradient."""
    if leaf.data.dtype.kind != "f":
        raise RuntimeError(f"backward: a leaf of dtype {leaf.dtype} requires grad; only "
                           "floating-point tensors can require gradients")


def _refuse_cut(function, tensor_input) -> None:
    """A non-leaf set to ``requires_grad = False`` before ``function`` used it: the
    gradient through it would be silently missing."""
    raise RuntimeError(
        f"{function.name}: an input of shape {tensor_input.shape} is the output of "
        f"{tensor_input.grad_fn.name} but its requires_grad was set to False, which would drop "
        "the gradient through it; only a leaf's requires_grad can be changed (use .detach() "
        "to stop a gradient)")


def _inputs_as_used(function) -> tuple:
    """The inputs as the op saw them. ``x[i] = v`` gives ``x`` a new ``grad_fn``
    (SetItem) whose input ``before`` is the old x: an op that used x before the
    write used ``before``, and its gradient must go there.

    A view of x (``x[0]``, ``x.reshape``: it shares x's memory and version counter,
    where setitem also notes the version of each recorded write) made before the
    write and used after it shows the written values, but its graph leads to the
    old x. ``Function.apply`` remakes such a view before an op uses it
    (``remake_stale_views``); one that escaped that is an error, not a wrong gradient."""
    inputs = []
    for tensor, version in zip(function.inputs, function.versions):  # (versions[-1]: output)
        made = getattr(tensor.grad_fn, "versions", (version,))[-1]  # when the view was made
        if any(made <= write < version for write in tensor._versions[1:]) and \
                tensor.grad_fn.rewired_version < 0:
            raise RuntimeError(f"{function.name}: an input is a view used after a recorded "
                               "x[...] = v into its tensor; take it after the write, or clone it")
        while tensor.grad_fn is not None and tensor.grad_fn.rewired_version >= version:
            tensor = tensor.grad_fn.inputs[0]
        inputs.append(tensor)
    return tuple(inputs)


def remake_stale_views(tensors) -> None:
    """Before ``Function.apply``, ``x[i] = v`` or ``x += v`` uses them: a view taken before
    a recorded write into its tensor (``v = buf[:2]; buf[:2] = w * 2``) shows the written
    values, but its graph leads to the tensor as it was. Such a view is made again from its
    tensor now (``ops/view_writes.py``), as PyTorch remakes a view's grad_fn. (``_made``: how
    many recorded writes its memory had seen when it was made; ``detach()`` is no view.)"""
    for x in tensors:  # (numbers, and tensors that are no views, have no _made)
        if getattr(x, "_made", float("inf")) < len(getattr(x, "_versions", ())):
            from tinygrad_opt.ops import view_writes  # (it builds on the ops)
            view_writes.remake(x)


def run_backward(order, roots, root_grads, receive, retain_graph, create_graph) -> None:
    """Propagate ``root_grads`` from ``roots`` back through ``order``.

    ``receive(tensor, grad)`` is handed every tensor's total gradient; it
    returns True when nothing below that tensor needs a gradient (a leaf).
    """
    grads = {}  # id(tensor) -> the sum of the gradients that flowed into it
    for root, root_grad in zip(roots, root_grads):
        _add(grads, root, root_grad)
    with set_grad_enabled(create_graph):  # the switch: arrays, or Tensors that record
        for tensor in graph.backward_order(order):  # reversed(order), seen by multi-grad hooks
            grad = grads.pop(id(tensor), None)
            if grad is None:
                continue
            if tensor._hooks:
                grad = _run_hooks(tensor, grad)
            if receive(tensor, grad):
                continue
            function = tensor.grad_fn
            input_grads = _counted(function, function.backward(grad))
            for tensor_input, input_grad, needed in zip(function.inputs, input_grads,
                                                       function.needs_input_grad):
                if input_grad is not None and needed:
                    _add(grads, tensor_input, _checked(function, tensor_input, input_grad))
            if not retain_graph:
                function.release()


def _add(grads, tensor, grad) -> None:
    key = id(tensor)
    if key in grads:
        grad = grads[key] + grad
        if isinstance(grad, backend.np.generic):
            grad = backend.as_array(grad)  # NumPy turns a sum of 0-d arrays into a scalar
    grads[key] = grad


def _counted(function, input_grads) -> tuple:
    """What an op's backward returned, as a tuple: one gradient (or None) per input."""
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) != len(function.inputs):
        raise RuntimeError(f"{function.name}.backward returned {len(input_grads)} gradients "
                           f"for {len(function.inputs)} inputs")
    return input_grads


def _checked(function, tensor_input, grad):
    """One gradient checked: of its input's shape and dtype, and an array or a Tensor
    as the mode wants. (The loop drops a None, and one for an input that needs none.)"""
    if flags.grad or type(grad) is not type(tensor_input.data):
        grad = _checked_kind(function.name, grad, tensor_input)
    if grad.shape != tensor_input.data.shape:
        raise RuntimeError(f"{function.name}.backward returned a gradient of shape "
                           f"{grad.shape} for an input of shape {tensor_input.shape}")
    if grad.dtype != tensor_input.data.dtype:
        raise RuntimeError(f"{function.name}.backward returned a {grad.dtype} gradient for "
                           f"a {tensor_input.dtype} input")
    if flags.anomaly is True:  # (not ``detect_anomaly(check_nan=False)``: traces only)
        _check_nan(function, grad)
    return grad


def _checked_kind(name, grad, tensor_input):
    """A gradient that is not an array like its input's: a Tensor when the backward is
    recorded, a NumPy scalar (NumPy's 0-d results) made an array; on the input's device.
    Anything else is an error."""
    if not flags.grad and isinstance(grad, backend.np.generic):
        grad = backend.as_array(grad)
    recorded = flags.grad and isinstance(grad, tensor_module.Tensor)
    data = grad.data if recorded else grad
    if type(data) not in backend.ARRAY_TYPES or recorded != flags.grad:
        expected = "a Tensor (create_graph=True)" if flags.grad else "an array"
        raise RuntimeError(f"{name}.backward returned a {type(grad).__name__} where "
                           f"{expected} was expected")
    if type(data) is not type(tensor_input.data):
        raise RuntimeError(f"{name}.backward returned a gradient on '{backend.device_of(data)}'"
                           f" for an input on '{tensor_input.device}'")
    return grad


def _check_nan(function, grad) -> None:
    data = grad.data if isinstance(grad, tensor_module.Tensor) else grad
    if bool(backend.xp_of(data).isnan(data).any()):  # (inf may be right: sqrt'(0))
        raise RuntimeError(
            f"detect_anomaly: {function.name}.backward returned NaN values. "
            f"The {function.name} op was created at:\n{function.trace or '(unknown)'}")


def _run_hooks(tensor, grad):
    """Hooks see the gradient as a Tensor; one they return replaces it."""
    recorded = isinstance(grad, tensor_module.Tensor)
    as_tensor = grad if recorded else tensor_module.Tensor._make(grad)
    for hook in tuple(tensor._hooks.values()):  # (a hook may remove itself)
        replacement = hook(as_tensor)
        if replacement is not None:  # (a Tensor of the same shape, dtype and device)
            as_tensor = tensor_hooks.checked(hook, as_tensor, replacement)
    return as_tensor if recorded else as_tensor.data


def _as_tensor(grad, handed_out: set):
    """A gradient as a Tensor that shares memory with nothing else: a view, or an
    array that a caller or another tensor holds, is copied first (a recorded
    gradient by ``* 1``, so that the copy stays in the graph)."""
    recorded = isinstance(grad, tensor_module.Tensor)
    data = grad.data if recorded else grad
    if id(grad) in handed_out or getattr(data, "base", None) is not None:
        grad = grad * 1 if recorded else grad.copy()
    handed_out.add(id(grad))
    return grad if recorded else tensor_module.Tensor._make(grad)


def backward(tensor, gradient=None, retain_graph=False, create_graph=False) -> None:
    """``tensor.backward()``: accumulate d tensor / d leaf into every leaf's ``.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn (was it made "
            "under no_grad, or from tensors with requires_grad=False?)")
    gradient = _initial_gradient(tensor, gradient, "backward", create_graph)
    handed_out = {id(gradient)}  # the caller holds the root gradient

    def receive(tensor, grad) -> bool:
        """leaf.grad ← leaf.grad + grad (also for non-leaves that retain_grad)."""
        if tensor.grad_fn is None or tensor._retains_grad:
            if tensor.grad is None:
                tensor.grad = _as_tensor(grad, handed_out)
            elif create_graph:
                tensor.grad = tensor.grad + grad
            else:  # out of place, so that no .grad ever aliases another
                tensor.grad = tensor_module.Tensor._make(backend.as_array(tensor.grad.data + grad))
            if tensor_hooks.post_accumulate:  # leaf.register_post_accumulate_grad_hook
                tensor_hooks.run_post_accumulate(tensor)
        return tensor.grad_fn is None

    retain_graph = retain_graph or create_graph or flags.keep_graph
    run_backward(topological_order([tensor]), [tensor], [gradient], receive, retain_graph,
                 create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple (``.grad`` untouched).

    Like ``torch.autograd.grad``: ``grad_outputs`` weights each output (needed
    for non-scalar outputs); with ``create_graph=True`` the returned gradients
    are themselves differentiable. Only the ops with a requested input below
    them run: ``grad(y, h)`` for an intermediate ``h`` leaves the graph below
    ``h`` as it was (not run, not freed).
    """
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if grad_outputs is None or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs] * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    for index, output in enumerate(outputs):
        if not output.requires_grad:
            raise RuntimeError(f"grad: output {index} does not require grad and has no grad_fn")
    for index, tensor_input in enumerate(inputs):
        if not tensor_input.requires_grad:
            raise RuntimeError(f"grad: input {index} does not require grad")
    root_grads = [_initial_gradient(output, given, "grad", create_graph)
                  for output, given in zip(outputs, grad_outputs)]
    wanted = {id(tensor): [index for index, other in enumerate(inputs) if other is tensor]
              for tensor in inputs}  # id -> its positions among the inputs (it may repeat)
    order = topological_order(outputs)
    runs = _leading_to(order, wanted)
    results = [None] * len(inputs)
    handed_out = {id(root_grad) for root_grad in root_grads}

    def receive(tensor, grad) -> bool:
        """Keep the gradient of a requested input; stop where nothing requested lies below."""
        for index in wanted.get(id(tensor), ()):
            results[index] = _as_tensor(grad, handed_out)  # (each a tensor of its own)
        return id(tensor) not in runs

    order = [tensor for tensor in order if id(tensor) in runs or id(tensor) in wanted]
    run_backward(order, outputs, root_grads, receive, retain_graph, create_graph)
    for index, result in enumerate(results):
        if result is None and not allow_unused:
            raise RuntimeError(f"grad: input {index} was not used to compute the outputs "
                               "(pass allow_unused=True to get None for it)")
    return tuple(results)


def _leading_to(order, wanted) -> set:
    """The tensors whose op must run backward for ``grad``: those with a requested
    input below them."""
    reaches = set(wanted)  # ids of tensors from which a requested input is reached
    runs = set()
    for tensor in order:   # each tensor comes after its inputs
        function = tensor.grad_fn
        if function is not None and any(id(x) in reaches for x in function.inputs):
            runs.add(id(tensor))
            reaches.add(id(tensor))
    return runs


def _initial_gradient(tensor, gradient, caller, create_graph):
    """The gradient the pass starts from: ones for a scalar, else it must be given.
    An array for a plain backward, a Tensor when the backward is recorded."""
    Tensor = tensor_module.Tensor
    if gradient is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"{caller}: gradient can be implicitly created only for scalar outputs, "
                f"but this output has shape {tensor.shape}; pass gradient= (a tensor of it)")
        ones = backend.xp_of(tensor.data).ones(tensor.data.shape, dtype=tensor.data.dtype)
        return Tensor._make(ones) if create_graph else ones  # (of the output's kind: no checks)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=tensor.dtype, device=tensor.device)
    if gradient.shape != tensor.shape:
        raise RuntimeError(
            f"{caller}: gradient shape {gradient.shape} differs from the output's {tensor.shape}")
    if gradient.device != tensor.device:
        raise RuntimeError(
            f"{caller}: gradient is on device '{gradient.device}' but the output is on "
            f"'{tensor.device}'")
    if gradient.dtype != tensor.dtype:  # as PyTorch's engine: cast to the output's dtype
        gradient = gradient.to(tensor.dtype)
    return gradient if create_graph else gradient.data
