"""The backward pass: reverse-mode automatic differentiation over the graph.

The lecture pseudo-code, without recursion:

    order = tensors sorted so that each comes after every tensor made from it
    grads[loss] = 1
    for tensor in order:                 # from the loss back to the leaves
        grad = grads[tensor]             # the sum of everything that flowed in
        if tensor is a leaf: tensor.grad += grad
        else: for each input, grads[input] += tensor.grad_fn.backward(grad)

``backward`` (gradients land in the leaves' ``.grad``) and ``grad`` (gradients
returned, like ``torch.autograd.grad``) share this one loop.
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd import anomaly, grad_mode

import tinygrad_opt.tensor as tensor_module  # the engine starts passes from Tensors


def topological_order(roots):
    """Tensors reachable from ``roots`` (through inputs that require grad),
    each listed after all of its inputs. Iterative depth-first search, so a
    10,000-op chain needs no recursion."""
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
                continue
            if function.freed:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time: the saved values of "
                    f"{function.name} were freed by the first backward. Pass retain_graph=True "
                    "to the first backward if you need to backward twice.")
            for tensor_input in function.inputs:
                if tensor_input.requires_grad and id(tensor_input) not in visited:
                    stack.append((tensor_input, False))
    return order


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None):
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    With ``inputs=None`` gradients accumulate into the ``.grad`` of leaves that
    require grad. Otherwise the gradients of ``inputs`` are returned as a list
    (None for an input the roots do not depend on) and no ``.grad`` changes.
    """
    wanted = None if inputs is None else {id(tensor): index for index, tensor in enumerate(inputs)}
    captured = [None] * (0 if inputs is None else len(inputs))
    grads = {}
    for root, root_grad in zip(roots, root_grads):
        grads[id(root)] = root_grad if id(root) not in grads else grads[id(root)] + root_grad
    handed_out = {id(root_grad) for root_grad in root_grads}  # grads a caller also holds
    order = topological_order(roots)
    runs = None if inputs is None else _leading_to(order, wanted)

    with grad_mode.set_grad_enabled(create_graph):
        for tensor in reversed(order):
            grad = grads.pop(id(tensor), None)
            if grad is None:
                continue
            for hook in tensor._hooks or ():
                replacement = hook(grad)
                if replacement is not None:
                    grad = replacement
            if wanted is not None and id(tensor) in wanted:
                captured[wanted[id(tensor)]] = grad
            function = tensor.grad_fn
            if function is None:  # a leaf
                if inputs is None:
                    _accumulate_into_leaf(tensor, grad, handed_out, create_graph)
                continue
            if runs is not None and id(tensor) not in runs:
                continue  # grad(): no requested input lies below, so this op need not run
            if tensor._retains_grad and inputs is None:
                _accumulate_into_leaf(tensor, grad, handed_out, create_graph)
            input_grads = function.backward(grad)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for tensor_input, input_grad, needed in zip(
                    function.inputs, input_grads, function.needs_input_grad):
                if not needed or input_grad is None:
                    continue
                if (input_grad.shape != tensor_input.shape or anomaly._enabled
                        or input_grad.data.dtype != tensor_input.data.dtype):
                    _check_gradient(function, tensor_input, input_grad)
                key = id(tensor_input)
                grads[key] = input_grad if key not in grads else grads[key] + input_grad
            if not retain_graph:
                function.release()
    return captured


def _leading_to(order, wanted):
    """For ``grad(outputs, inputs)``: the tensors whose op must run backward, the
    ones with some requested input below them. The rest of the graph is left as
    it was (not run, not freed), as PyTorch does: ``grad(y, h)`` for an
    intermediate ``h`` does not touch the ops that made ``h``."""
    reaches = set(wanted)  # ids of tensors from which a requested input is reached
    runs = set()
    for tensor in order:   # each tensor comes after its inputs
        function = tensor.grad_fn
        if function is not None and any(id(x) in reaches for x in function.inputs):
            runs.add(id(tensor))
            reaches.add(id(tensor))
    return runs


def _check_gradient(function, tensor_input, input_grad) -> None:
    """Every gradient must have its input's shape and dtype (the most common backward bugs)."""
    if input_grad.shape != tensor_input.shape:
        raise RuntimeError(
            f"{function.name}.backward returned a gradient of shape {input_grad.shape} "
            f"for an input of shape {tensor_input.shape}")
    if input_grad.dtype != tensor_input.dtype:
        raise RuntimeError(
            f"{function.name}.backward returned a {input_grad.dtype} gradient for a "
            f"{tensor_input.dtype} input")
    if anomaly._enabled:
        xp = backend.xp_of(input_grad.data)
        if not bool(xp.all(xp.isfinite(input_grad.data))):
            raise RuntimeError(
                f"detect_anomaly: {function.name}.backward returned NaN or inf values. "
                f"The {function.name} op was created at:\n{function.trace or '(unknown)'}")


def _accumulate_into_leaf(leaf, grad, handed_out, create_graph) -> None:
    """leaf.grad ← leaf.grad + grad (out of place, so no .grad ever aliases another)."""
    if leaf.grad is not None:
        leaf.grad = leaf.grad + grad if create_graph else leaf.grad.detach() + grad
        return
    if id(grad) in handed_out or getattr(grad.data, "base", None) is not None:
        # a view, or an object another leaf or the caller holds: store a copy
        # (with create_graph a copy made by an op, so that it stays differentiable)
        grad = grad * 1 if create_graph else grad.copy()
    handed_out.add(id(grad))
    leaf.grad = grad if create_graph else grad.detach()


_keep_graph = False  # set by keep_graph(): every backward then retains the graph


class keep_graph:
    """``with keep_graph():`` every ``backward`` inside keeps the graph (retain_graph=True).

    Second-order optimizers (Newton, CoordinateDescent) call the user's usual
    closure, whose ``loss.backward()`` would otherwise free the graph that they
    must differentiate again.
    """

    def __enter__(self):
        global _keep_graph
        self.previous, _keep_graph = _keep_graph, True
        return self

    def __exit__(self, *exc_info):
        global _keep_graph
        _keep_graph = self.previous
        return False


def backward(tensor, gradient=None, retain_graph=False, create_graph=False) -> None:
    """``tensor.backward()``: accumulate d tensor / d leaf into every leaf's ``.grad``."""
    retain_graph = retain_graph or _keep_graph
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn (was it made "
            "under no_grad, or from tensors with requires_grad=False?)")
    gradient = _initial_gradient(tensor, gradient, "backward")
    run_backward([tensor], [gradient], retain_graph or create_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple (``.grad`` untouched).

    Like ``torch.autograd.grad``: ``grad_outputs`` weights each output (needed
    for non-scalar outputs); with ``create_graph=True`` the returned gradients
    are themselves differentiable.
    """
    single_output = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single_output else list(outputs)
    single_input = not isinstance(inputs, (list, tuple))
    inputs = [inputs] if single_input else list(inputs)
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
    root_grads = [_initial_gradient(output, given, "grad")
                  for output, given in zip(outputs, grad_outputs)]
    results = run_backward(outputs, root_grads, retain_graph, create_graph, inputs=inputs)
    for index, result in enumerate(results):
        if result is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {index} was not used to compute the outputs "
                "(pass allow_unused=True to get None for it)")
        if result is not None and not create_graph:
            results[index] = result.detach()
    return tuple(results)


def _initial_gradient(tensor, gradient, caller):
    """The gradient the pass starts from: ones for a scalar, else it must be given."""
    Tensor = tensor_module.Tensor
    if gradient is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"{caller}: gradient can be implicitly created only for scalar outputs, "
                f"but this output has shape {tensor.shape}; pass gradient= (a tensor of that shape)")
        xp = backend.xp_of(tensor.data)
        return Tensor._make(xp.ones(tensor.shape, dtype=tensor.dtype), False)
    if not isinstance(gradient, Tensor):
        gradient = Tensor(gradient, dtype=tensor.dtype, device=tensor.device)
    if gradient.shape != tensor.shape:
        raise RuntimeError(
            f"{caller}: gradient has shape {gradient.shape} but the output has shape {tensor.shape}")
    if gradient.device != tensor.device:
        raise RuntimeError(
            f"{caller}: gradient is on device '{gradient.device}' but the output is on "
            f"'{tensor.device}'")
    return gradient
