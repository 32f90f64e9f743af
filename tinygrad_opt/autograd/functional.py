"""Hessians and Hessian-vector products by double backward.

Conventions of ``torch.autograd.functional``: ``fn`` returns a scalar; one
input of shape S gives a Hessian of shape S + S; a tuple of inputs gives a
tuple of tuples, ``H[i][j]`` of shape S_i + S_j.
"""

from __future__ import annotations

from tinygrad_opt.autograd import engine, grad_mode


def _prepare(inputs):
    single = not isinstance(inputs, (tuple, list))
    inputs = (inputs,) if single else tuple(inputs)
    return single, tuple(x.detach().requires_grad_(True) for x in inputs)


def _scalar_output(fn, inputs, name):
    with grad_mode.enable_grad():
        output = fn(*inputs)
    if output.data.size != 1:
        raise RuntimeError(f"{name}: fn must return a single-element tensor, got shape "
                           f"{output.shape}")
    return output.reshape(())


def hessian(fn, inputs):
    """∂²fn/∂x∂x, one row per backward pass through the first derivative's graph."""
    from tinygrad_opt.factories import zeros
    from tinygrad_opt.ops.shape import stack
    single, inputs = _prepare(inputs)
    output = _scalar_output(fn, inputs, "hessian")
    with grad_mode.enable_grad():
        grads = engine.grad(output, inputs, create_graph=True, allow_unused=True)
    blocks = []
    for i, x_i in enumerate(inputs):
        grad_i = grads[i]
        row_blocks = []
        for j, x_j in enumerate(inputs):
            rows = []
            for k in range(x_i.data.size):
                if grad_i is None or not grad_i.requires_grad:
                    rows.append(zeros(x_j.shape, dtype=x_j.dtype, device=x_j.device))
                    continue
                with grad_mode.enable_grad():
                    element = grad_i.reshape(-1)[k]
                    (second,) = engine.grad(element, [x_j], retain_graph=True, allow_unused=True)
                rows.append(zeros(x_j.shape, dtype=x_j.dtype, device=x_j.device)
                            if second is None else second)
            row_blocks.append(stack(rows).reshape(x_i.shape + x_j.shape).detach())
        blocks.append(tuple(row_blocks))
    return blocks[0][0] if single else tuple(blocks)


def hvp(fn, inputs, v):
    """(fn(inputs), H·v) with H the Hessian: ∇(∇fn · v), two backward passes, no H built."""
    from tinygrad_opt.factories import zeros_like
    single, inputs = _prepare(inputs)
    vs = (v,) if single else tuple(v)
    for x, direction in zip(inputs, vs):
        if direction.shape != x.shape:
            raise RuntimeError(f"hvp: v has shape {direction.shape} but the input has "
                               f"shape {x.shape}")
    output = _scalar_output(fn, inputs, "hvp")
    with grad_mode.enable_grad():
        grads = engine.grad(output, inputs, create_graph=True, allow_unused=True)
        projected = None
        for grad, direction in zip(grads, vs):
            if grad is not None:
                term = (grad * direction.detach()).sum()
                projected = term if projected is None else projected + term
    if projected is None or not projected.requires_grad:
        products = tuple(zeros_like(x) for x in inputs)
    else:
        products = engine.grad(projected, inputs, allow_unused=True)
        products = tuple(zeros_like(x) if p is None else p.detach()
                         for x, p in zip(inputs, products))
    return output.detach(), (products[0] if single else products)
