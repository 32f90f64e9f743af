"""The plain ``loss.backward()``, as a twin of ``engine.backward``, outside the reading path.

``engine.backward`` is the definition: the topological order, then the lecture's
loop (``run_backward``) with its helpers, each small and named (``_add``,
``_counted``, ``_checked``, ``receive``, the grad-mode switch as a ``with`` block).
A training step calls it once, and on a small network those helper calls are a
measurable part of the step (docs/benchmarks.md). This twin is the same pass for
the case every training loop takes (no ``create_graph``, no anomaly mode: the
formulas run on arrays; a scalar loss or a given ``gradient=``, ``retain_graph`` and
``keep_graph`` or not) with the helpers written inline:

* the same order of the same ops' backward formulas, on the same arrays, so the
  same gradients bit for bit (after a recorded ``x[i] = v``, on the inputs as each op
  used them: ``engine._inputs_as_used``, as the engine's order);
* the same checks of what each backward returns (their number, each gradient's
  kind, shape and dtype), made first as one cheap comparison: a gradient that
  fails it goes to ``engine._checked``, which raises the engine's own error (or
  turns NumPy's 0-d scalar into an array, as the engine does);
* the same hooks (``engine._run_hooks``), ``retain_grad``, the same copies that
  keep every ``.grad`` from aliasing another array (as ``engine._as_tensor``), and
  each op's saved values freed after its backward (``release``).

Every other call (also any while node hooks are registered: ``graph.active``), and
each error a plain pass can raise before it starts (a non-scalar loss without
``gradient=``, a loss that needs no grad, a freed graph), goes to ``engine.backward``
itself; a bad ``gradient=`` raises ``engine._initial_gradient``'s error.
``ENABLED = False`` sends every call there: the tests run both on the same graphs and
compare gradients and errors (tests/core/test_fast_backward.py).
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine, graph
from tinygrad_opt.autograd.grad_mode import flags

ENABLED = True  # False: every backward() runs by engine.backward (the tests' oracle)


def backward(tensor, gradient=None, retain_graph=False, create_graph=False) -> None:
    """``tensor.backward()``: ``engine.backward``, by the twin when the pass is plain."""
    if (not ENABLED or create_graph or flags.anomaly or not tensor.requires_grad or graph.active
            or (gradient is None and tensor.data.size != 1)):
        return engine.backward(tensor, gradient, retain_graph, create_graph)
    order = _order(tensor)
    if order is None:  # a freed graph: the engine raises its error
        return engine.backward(tensor, gradient, retain_graph, create_graph)
    if gradient is None:  # ones, as engine._initial_gradient's (xp.ones itself: 0.8 us)
        data = tensor.data
        root = backend.xp_of(data).array(1, dtype=data.dtype)
        if data.ndim:  # (a loss of shape (1,) or (1, 1): the usual 0-d one needs no view)
            root = root.reshape(data.shape)
    else:
        root = engine._initial_gradient(tensor, gradient, "backward", False)  # checked there
    grads = {id(tensor): root}  # id(tensor) -> the sum of the gradients that flowed into it
    handed_out = {id(root)}  # (the caller may hold the root gradient: never a .grad as it is)
    previous, flags.grad = flags.grad, False  # the formulas run on arrays
    try:
        _run(order, grads, handed_out, release=not (retain_graph or flags.keep_graph))
    finally:
        flags.grad = previous


def _order(root) -> list | None:
    """``engine.topological_order([root])``, or None where a graph was freed. The same
    order: a leaf, whose marker the engine pushes and pops at once, is listed at once."""
    order, visited, stack = [], set(), [(root, False)]
    push, pop, seen, listed = stack.append, stack.pop, visited.add, order.append
    rewired = engine.rewirings  # some x[i] = v was recorded: the inputs as each op used them
    while stack:
        tensor, inputs_done = pop()
        if inputs_done:
            listed(tensor)
            continue
        key = id(tensor)
        if key in visited:
            continue
        seen(key)
        function = tensor.grad_fn
        if function is None:
            if tensor.data.dtype.kind != "f":
                engine._check_leaf(tensor)  # raises
            listed(tensor)
            continue
        if function.freed:
            return None
        push((tensor, True))
        if rewired:
            function.inputs = engine._inputs_as_used(function)
        for tensor_input, needed in zip(function.inputs, function.needs_input_grad):
            if needed and id(tensor_input) not in visited:
                push((tensor_input, False))
            elif not needed and tensor_input.grad_fn is not None:
                engine._refuse_cut(function, tensor_input)
    return order


def _run(order, grads, handed_out, release=True) -> None:
    """``engine.run_backward`` with ``backward``'s ``receive``, its helpers inline."""
    make, post_accumulate = engine.tensor_module.Tensor._make, engine.tensor_hooks.post_accumulate
    for tensor in reversed(order):
        grad = grads.pop(id(tensor), None)
        if grad is None:
            continue
        if tensor._hooks:
            grad = engine._run_hooks(tensor, grad)
        function = tensor.grad_fn
        if function is None or tensor._retains_grad:  # receive: into .grad (its slot:
            # the gradient was checked where its op returned it)
            if tensor._grad is None:  # engine._as_tensor: never an array held elsewhere
                own = grad
                if id(grad) in handed_out or getattr(grad, "base", None) is not None:
                    own = grad.copy()  # (backward goes on with grad, as the engine's)
                handed_out.add(id(own))
                tensor._grad = make(own)
            else:  # out of place, so that no .grad ever aliases another
                tensor._grad = make(backend.as_array(tensor._grad.data + grad))
            if post_accumulate:  # (engine.backward's receive, as there)
                engine.tensor_hooks.run_post_accumulate(tensor)
            if function is None:
                continue
        input_grads = function.backward(grad)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        inputs = function.inputs
        if len(input_grads) != len(inputs):
            engine._counted(function, input_grads)  # raises, naming the op
        for tensor_input, input_grad, needed in zip(inputs, input_grads,
                                                   function.needs_input_grad):
            if input_grad is None or not needed:
                continue
            data = tensor_input.data
            if (type(input_grad) is not type(data) or input_grad.shape != data.shape
                    or input_grad.dtype != data.dtype):
                input_grad = engine._checked(function, tensor_input, input_grad)
            key = id(tensor_input)
            if key in grads:
                engine._add(grads, tensor_input, input_grad)
            else:
                grads[key] = input_grad
        if release:  # (retain_graph or keep_graph: the graph stays for another pass)
            function.release()
