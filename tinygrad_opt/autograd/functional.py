"""Jacobians, Hessians and their products with vectors, as ``torch.autograd.functional``.

Everything is built from reverse mode, ``engine.grad``: one backward pass with
``grad_outputs = v`` gives vᵀ·J without building J.

    vjp(f, x, v)     = (f(x), vᵀ·J)      one backward pass
    jacobian(f, x)   = J                 one vjp per output entry, v = e_k: the rows of J
    jvp(f, x, v)     = (f(x), J·v)       the double-vjp trick: g(u) = Jᵀ·u is linear in u,
                                         so ∂(g(u)·v)/∂u = J·v (exact; two backward passes)
    vhp(f, x, v)     = (f(x), vᵀ·H)      the vjp of the gradient: ∇ₓ(∇f(x) · v)
    hvp(f, x, v)     = (f(x), H·v)       = vᵀ·H, since H is symmetric (f twice continuously
                                         differentiable)
    hessian(f, x)    = H                 the jacobian of the gradient

PyTorch's conventions:

* ``inputs`` is a Tensor or a tuple of Tensors and ``func`` is called as
  ``func(*inputs)``. A result is a Tensor where what it is indexed by is a
  single Tensor and a tuple where it is a tuple: ``jacobian`` of a tuple of
  outputs and a tuple of inputs is a tuple of tuples, ``J[i][j] = ∂out_i/∂in_j``
  of shape ``out_i.shape + in_j.shape``; ``hessian`` of a tuple of inputs gives
  ``H[i][j]`` of shape ``in_i.shape + in_j.shape``.
* ``create_graph=False``: the results are detached. ``create_graph=True``: they
  keep a graph back to the inputs that require grad, to be differentiated again.
* ``strict=False``: an output that does not depend on an input gives zeros.
  ``strict=True`` raises instead. "Depends" means a path in the graph, not a
  nonzero value: the Hessian of a linear function raises under strict.

``backward`` at the end is the function form of ``Tensor.backward`` for several
tensors at once (``torch.autograd.backward``, exported as ``tg.autograd.backward``).
"""

from __future__ import annotations

import warnings

from tinygrad_opt.autograd import engine, grad_mode, tensor_hooks
from tinygrad_opt.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]  # torch.autograd.functional's


# --- what every function here shares ---


def _as_tuple(values, what: str, name: str) -> tuple[bool, tuple]:
    """(whether ``values`` is a tuple, ``values`` as a tuple of Tensors)."""
    is_tuple = isinstance(values, (tuple, list))
    values = tuple(values) if is_tuple else (values,)
    for index, value in enumerate(values):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}: the {what} must be a Tensor or a tuple of Tensors, but "
                            f"the value at index {index} is a {type(value).__name__}")
    return is_tuple, values


def _prepared(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """The tensors ``func`` is called with. With ``create_graph`` an input that requires
    grad is cloned (a copy on its graph, so the results can be differentiated with
    respect to it); any other is detached, and requires grad if ``need_graph``."""
    prepared = []
    for x in inputs:
        if create_graph and x.requires_grad:
            prepared.append(x.clone())
        else:
            prepared.append(x.detach().requires_grad_(need_graph))
    return tuple(prepared)


def _finished(tensors: tuple, create_graph: bool) -> tuple:
    """The results as returned: detached unless ``create_graph``."""
    return tensors if create_graph else tuple(tensor.detach() for tensor in tensors)


def _unpacked(values: tuple, is_tuple: bool):
    return values if is_tuple else values[0]


def _directions(v, refs: tuple, create_graph: bool, name: str, of: str):
    """``v`` as a tuple with one tensor of each ref's shape (cast to its dtype, as PyTorch);
    None (a vector of ones) only where ``refs`` is one single-element tensor."""
    if v is None:
        if len(refs) != 1 or refs[0].data.size != 1:
            raise RuntimeError(f"{name}: v can be None only when the {of} is a single Tensor "
                               "with a single element")
        return None
    _, v = _as_tuple(v, "v", name)
    if len(v) != len(refs):
        raise RuntimeError(f"{name}: v has {len(v)} tensors but the {of} has {len(refs)}")
    for index, (direction, ref) in enumerate(zip(v, refs)):
        if direction.shape != ref.shape:
            raise RuntimeError(f"{name}: v[{index}] has shape {direction.shape} but the {of} "
                               f"has shape {ref.shape}")
    v = _prepared(v, create_graph, need_graph=False)
    return tuple(direction.astype(ref.dtype) for direction, ref in zip(v, refs))


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """``engine.grad`` over the outputs that require grad: Σ_k grad_outputs[k]ᵀ·∂out_k/∂x
    for each input x, None for an input that no output reaches."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(output, grad_output) for output, grad_output in zip(outputs, grad_outputs)
             if output is not None and output.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return engine.grad([output for output, _ in pairs], list(inputs),
                       [grad_output for _, grad_output in pairs], retain_graph=retain_graph,
                       create_graph=create_graph, allow_unused=True)


def _zeros_like(x: Tensor) -> Tensor:
    from tinygrad_opt.factories import zeros_like
    return zeros_like(x)


def _ones_like(x: Tensor) -> Tensor:
    from tinygrad_opt.factories import ones_like
    return ones_like(x)


def _filled(grads, refs, strict: bool, create_graph: bool, name: str, independent: str):
    """Zeros (of ref i's shape) where gradient i is None. Under ``strict`` that is an error
    (``independent`` says what, with ``{index}``), and so is a gradient with no graph
    when ``create_graph`` asks for one."""
    filled = []
    for index, (grad, ref) in enumerate(zip(grads, refs)):
        if grad is None:
            if strict:
                raise RuntimeError(f"{name}: {independent.format(index=index)}; this is not "
                                   "allowed with strict=True")
            grad = _zeros_like(ref)
        elif strict and create_graph and not grad.requires_grad:
            raise RuntimeError(f"{name}: result {index} does not depend on the inputs (it has "
                               "no graph); this is not allowed with strict=True and "
                               "create_graph=True")
        filled.append(grad)
    return tuple(filled)


def _check_requires_grad(tensors, strict: bool, name: str, independent: str) -> None:
    """Under ``strict``: every tensor (an output, a gradient) must depend on the inputs
    (have a graph); ``independent`` says what does not, with ``{index}``."""
    if not strict:
        return
    for index, tensor in enumerate(tensors):
        if tensor is None or not tensor.requires_grad:
            raise RuntimeError(f"{name}: {independent.format(index=index)}; this is not "
                               "allowed with strict=True")


_NO_GRAPH = "output {index} of func does not require grad (it does not depend on the inputs)"


def _single_element(output, name: str) -> Tensor:
    if not isinstance(output, Tensor):
        raise RuntimeError(f"{name}: func must return a single Tensor, got a "
                           f"{type(output).__name__}")
    if output.data.size != 1:
        raise RuntimeError(f"{name}: func must return a single-element Tensor, got shape "
                           f"{output.shape}")
    return output


# --- products with vectors ---


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), vᵀ·J)``: one backward pass with ``grad_outputs = v``.

    ``v`` has the outputs' format (one tensor per output, of its shape; None for
    one single-element output); the product has the inputs' format:
    ``(vᵀ·J)_j = Σ_i v_iᵀ·∂out_i/∂in_j``.
    """
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepared(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of func", "vjp")
        _check_requires_grad(outputs, strict, "vjp", _NO_GRAPH)
        v = _directions(v, outputs, create_graph, "vjp", "output of func")
    products = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
    products = _filled(products, inputs, strict, create_graph, "vjp",
                       "the output of func does not depend on input {index}")
    return (_unpacked(_finished(outputs, create_graph), is_outputs_tuple),
            _unpacked(_finished(products, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J·v)`` by the double-vjp trick (exact, reverse mode only):

        g(u)  = Jᵀ·u             a backward pass with grad_outputs u, recorded
        J·v   = ∂(g(u) · v)/∂u   a backward pass through the first one (g is linear
                                 in u, so any u gives J·v: u = 1, as u = 0 sits on
                                 a kink of some backward formulas, e.g. the log u⁺
                                 of logcumsumexp's)

    ``v`` has the inputs' format (None for one single-element input); the
    product has the outputs' format.
    """
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepared(inputs, create_graph, need_graph=True)
        v = _directions(v, inputs, create_graph, "jvp", "input")
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of func", "jvp")
        _check_requires_grad(outputs, strict, "jvp", _NO_GRAPH)
        u = tuple(_ones_like(output).requires_grad_(True) for output in outputs)
        g = _autograd_grad(outputs, inputs, u, create_graph=True)  # Jᵀ·u, a graph in u
        _check_requires_grad(g, strict, "jvp",
                             "the output of func does not depend on input {index}")
    products = _autograd_grad(g, u, v, create_graph=create_graph)  # ∂(g(u)·v)/∂u = J·v
    products = _filled(products, outputs, strict, create_graph, "jvp",
                       "output {index} of func does not depend on the inputs")
    return (_unpacked(_finished(outputs, create_graph), is_outputs_tuple),
            _unpacked(_finished(products, create_graph), is_outputs_tuple))


def _vector_hessian_product(func, inputs, v, create_graph, strict, name):
    """``(f(inputs), ∇ₓ(∇f(x) · v))``: the vjp, with v, of the gradient (recorded)."""
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
        inputs = _prepared(inputs, create_graph, need_graph=True)
        v = _directions(v, inputs, create_graph, name, "input")
        output = _single_element(func(*inputs), name)
        _check_requires_grad((output,), strict, name, _NO_GRAPH)
        gradient = _autograd_grad((output,), inputs, create_graph=True)   # ∇f, recorded
        _check_requires_grad(gradient, strict, name,
                             "the gradient of func does not depend on input {index}")
    products = _autograd_grad(gradient, inputs, v, create_graph=create_graph)
    products = _filled(products, inputs, strict, create_graph, name,
                       "the gradient of func does not depend on input {index}")
    return (_finished((output,), create_graph)[0],
            _unpacked(_finished(products, create_graph), is_inputs_tuple))


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), vᵀ·H)`` for a ``func`` with one single-element output:
    ``(vᵀ·H)_j = Σ_i v_iᵀ·∂²f/∂in_i∂in_j = ∂(∇f · v)/∂in_j``, two backward passes, no H
    built. ``v`` and the product have the inputs' format."""
    return _vector_hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H·v)`` for a ``func`` with one single-element output. H is
    symmetric (``func`` twice continuously differentiable), so H·v = (vᵀ·H)ᵀ: this is
    ``vhp``, two backward passes. (PyTorch uses three, the double-vjp trick, to get H·v
    even where H is not symmetric.) ``v`` and the product have the inputs' format."""
    return _vector_hessian_product(func, inputs, v, create_graph, strict, "hvp")


# --- whole matrices ---


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """``J[i][j] = ∂out_i/∂in_j``, of shape ``out_i.shape + in_j.shape``.

    Row k of out_i's block (its entry k differentiated with respect to every
    input) is one backward pass: the vjp with v = e_k. So this costs one
    backward pass per output entry. ``vectorize`` (PyTorch batches those passes)
    changes nothing here but, as in PyTorch, is refused with ``strict``. ``strategy="forward-mode"`` builds J column by column
    instead: column k of in_j's block is the jvp with v = e_k (see
    ``_jacobian_by_columns``); as in PyTorch it needs ``vectorize=True`` and takes
    neither ``create_graph`` nor ``strict``.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f'jacobian: expected strategy to be either "forward-mode" or '
                         f'"reverse-mode", got {strategy!r}')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('jacobian: create_graph=True and strategy="forward-mode" '
                                      'are not supported together; use strategy="reverse-mode"')
        if strict:
            raise RuntimeError('jacobian: strict=True and strategy="forward-mode" are not '
                               'supported together; use strategy="reverse-mode"')
        if not vectorize:
            raise NotImplementedError('jacobian: strategy="forward-mode" is only implemented '
                                      "for vectorize=True (as in PyTorch)")
        return _jacobian_by_columns(func, inputs)
    from tinygrad_opt.factories import zeros
    from tinygrad_opt.ops.shape import stack
    with grad_mode.enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepared(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of func", "jacobian")
        _check_requires_grad(outputs, strict, "jacobian", _NO_GRAPH)
        if strict and vectorize:  # (PyTorch's batched passes cannot tell; refused there)
            raise RuntimeError("jacobian: strict=True and vectorize=True are not supported "
                               "together; set strict=False or vectorize=False")
        blocks = []  # blocks[i][j] = ∂out_i/∂in_j
        for i, output in enumerate(outputs):
            rows = [[] for _ in inputs]  # rows[j][k] = ∂out_i[k]/∂in_j, of in_j's shape
            entries = output.reshape(-1)
            for k in range(output.data.size):
                row = _autograd_grad((entries[k],), inputs, retain_graph=True,
                                     create_graph=create_graph)
                row = _filled(row, inputs, strict, create_graph, "jacobian",
                              f"output {i} of func does not depend on input {{index}}")
                for j, grad in enumerate(row):
                    rows[j].append(grad)
            blocks.append(tuple(
                stack(rows[j]).reshape(output.shape + x.shape) if rows[j]
                else zeros(output.shape + x.shape, dtype=x.dtype, device=x.device)
                for j, x in enumerate(inputs)))
    blocks = [_finished(row, create_graph) for row in blocks]
    blocks = [_unpacked(row, is_inputs_tuple) for row in blocks]
    return _unpacked(tuple(blocks), is_outputs_tuple)


def _jacobian_by_columns(func, inputs):
    """``J[i][j]`` with column k of each in_j block (every output differentiated along
    entry k of in_j) the jvp with v = e_k in input j and zeros in the others: one jvp
    per input entry. Same shapes and nesting as the rows of ``jacobian``."""
    from tinygrad_opt.factories import eye, zeros
    from tinygrad_opt.ops.shape import stack
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = tuple(x.detach() for x in inputs)
    with grad_mode.enable_grad():  # (func may differentiate inside: hessian's gradient)
        is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of func", "jacobian")
    columns = [[[] for _ in inputs] for _ in outputs]  # columns[i][j][k] = ∂out_i/∂in_j[k]
    for j, x in enumerate(inputs):
        identity = eye(x.data.size, dtype=x.dtype, device=x.device)
        for k in range(x.data.size):
            v = [_zeros_like(other) for other in inputs]
            v[j] = identity[k].reshape(x.shape)  # e_k in input j
            _, products = jvp(func, inputs, tuple(v))
            for i, product in enumerate(products if is_outputs_tuple else (products,)):
                columns[i][j].append(product)
    blocks = [tuple(stack(columns[i][j], dim=-1).reshape(output.shape + x.shape)
                    if columns[i][j] else
                    zeros(output.shape + x.shape, dtype=output.dtype, device=x.device)
                    for j, x in enumerate(inputs))
              for i, output in enumerate(outputs)]
    blocks = [_unpacked(row, is_inputs_tuple) for row in blocks]
    return _unpacked(tuple(blocks), is_outputs_tuple)


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """``H[i][j] = ∂²f/∂in_i∂in_j``, of shape ``in_i.shape + in_j.shape``, for a ``func``
    with one single-element output: the jacobian of the gradient, so row k of H is
    one backward pass through the gradient's graph. A single input gives a Tensor,
    a tuple of inputs a tuple of tuples. ``vectorize`` changes nothing (with ``strict``
    it is refused, as ``jacobian`` refuses it).
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        """∇f at xs, recorded, so that its jacobian is H."""
        output = _single_element(func(*xs), "hessian")
        grads = _autograd_grad((output,), xs, create_graph=True)
        grads = _filled(grads, xs, False, True, "hessian", "")  # zeros where f ignores an input
        _check_requires_grad(grads, strict, "hessian", "the gradient of func with respect to "
                             "input {index} does not depend on the inputs")
        return grads

    H = jacobian(gradient, inputs, create_graph, strict, vectorize, outer_jacobian_strategy)
    return H if is_inputs_tuple else H[0][0]


# --- the function form of Tensor.backward ---


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             inputs=None) -> None:
    """``torch.autograd.backward``: for every leaf x (or every tensor of ``inputs``)

        x.grad ← x.grad + Σ_k grad_tensors[k]ᵀ · ∂tensors[k]/∂x

    in one backward pass from all of ``tensors``; a None in ``grad_tensors`` stands
    for 1 (single-element tensors only). Non-leaves that ``retain_grad()`` get theirs
    too. ``retain_graph`` defaults to ``create_graph``.
    """
    tensors = tuple(tensors) if isinstance(tensors, (tuple, list)) else (tensors,)
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif not isinstance(grad_tensors, (tuple, list)):
        grad_tensors = (grad_tensors,)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"backward: {len(grad_tensors)} grad_tensors for {len(tensors)} "
                           "tensors")
    for index, tensor in enumerate(tensors):
        if not tensor.requires_grad:
            raise RuntimeError(f"backward: element {index} of tensors does not require grad "
                               "and has no grad_fn")
    if inputs is None:
        inputs = [tensor for tensor in engine.topological_order(tensors)
                  if tensor.grad_fn is None or tensor._retains_grad]
    else:
        inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
        if not inputs:
            raise RuntimeError("backward: inputs cannot be empty (pass None for all leaves)")
    if retain_graph is None:
        retain_graph = create_graph
    retain_graph = retain_graph or grad_mode.flags.keep_graph
    grads = engine.grad(tensors, inputs, grad_tensors, retain_graph=retain_graph,
                        create_graph=create_graph, allow_unused=True)
    with grad_mode.set_grad_enabled(create_graph):  # the sum is recorded only then
        for x, grad in zip(inputs, grads):
            if grad is not None:
                x.grad = grad if x._grad is None else x._grad + grad  # (_grad: a named
                # non-leaf input gets its .grad, as in PyTorch, without the non-leaf warning)
                tensor_hooks.run_post_accumulate(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """``torch.autograd.grad`` (exported as ``tg.autograd.grad`` and ``tg.grad``):
    ``engine.grad`` with PyTorch's later options, in PyTorch's positional order.

    * ``grad_outputs``: one per output (a single Tensor for a single output), so that
      the result is Σ_k grad_outputs[k]ᵀ·∂outputs[k]/∂x.
    * ``only_inputs``: deprecated in PyTorch and ignored (False only warns).
    * ``materialize_grads=True``: an input that no output reaches gets zeros instead of
      None (``allow_unused`` then defaults to True); as PyTorch's, they require grad.
    * ``is_grads_batched=True``: each grad_output carries a leading batch dim; entry b of
      every result is the pass with grad_outputs[..][b], so the results are the rows of
      a Jacobian. PyTorch vectorises the B passes; here they run one after another.
    """
    if not only_inputs:
        warnings.warn("grad: only_inputs is deprecated and ignored (it defaults to True); to "
                      "accumulate into .grad use tg.autograd.backward", FutureWarning,
                      stacklevel=2)
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused=True (or not passed)")
    count = len(outputs) if isinstance(outputs, (tuple, list)) else 1
    if grad_outputs is not None:  # (engine.grad would give one Tensor to every output)
        given = len(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else 1
        if given != count:
            raise RuntimeError(f"grad: got {count} outputs and {given} grad_outputs; pass "
                               "one grad_output per output (None for a scalar one)")
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    grads = engine.grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                        allow_unused)
    if not materialize_grads:
        return grads
    inputs = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    return tuple(_zeros_like(x).requires_grad_(True) if g is None else g
                 for x, g in zip(inputs, grads))


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads) -> tuple:
    """One pass per row b of the grad_outputs, the results stacked along a new dim 0."""
    from tinygrad_opt.ops.shape import stack
    if grad_outputs is None:
        raise RuntimeError("grad: is_grads_batched=True needs grad_outputs (with a batch dim)")
    many = isinstance(grad_outputs, (tuple, list))
    batches = list(grad_outputs) if many else [grad_outputs]
    sizes = {g.shape[0] for g in batches if g is not None and g.ndim > 0}
    if len(sizes) != 1 or any(g is None or g.ndim == 0 for g in batches):
        raise RuntimeError("grad: is_grads_batched=True needs every grad_output to be a "
                           f"Tensor with the same leading batch size, got shapes "
                           f"{[None if g is None else g.shape for g in batches]}")
    size = sizes.pop()
    rows = []
    for b in range(size):
        last = b == size - 1
        row = [g[b] for g in batches]
        rows.append(grad(outputs, inputs, row if many else row[0],
                         retain_graph=retain_graph if last else True,
                         create_graph=create_graph, allow_unused=allow_unused,
                         materialize_grads=materialize_grads))
    return tuple(None if rows[0][i] is None else stack([r[i] for r in rows])
                 for i in range(len(rows[0])))
