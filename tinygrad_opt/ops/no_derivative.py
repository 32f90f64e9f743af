"""Outputs of the ops PyTorch gives no derivative (``geqrf``, ``ldl_factor``, ``ldl_solve``,
the Bessel and Airy functions of ``tg.special``), as PyTorch returns them: the output
requires grad where an input does (in grad mode), and a backward that reaches it raises
PyTorch's error, "the derivative for 'name' is not implemented.", instead of passing a
silent zero to the inputs. No new Function is needed: the output is linked to the inputs
by ``where(True, result, Σ x)`` (the values of ``result``, the graph of the inputs), and a
gradient hook on it raises. Forward mode (``autograd.forward_ad``) raises the same error
at once when an input carries a tangent: the output would get none (or the link's zero).
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import flags, is_grad_enabled
from tinygrad_opt.ops.elementwise import constant, where
from tinygrad_opt.ops.shape import stack

__all__: list = []


def without_derivative(name: str, result, *inputs):
    """``result`` (an array) as the output of the op ``name`` of ``inputs`` (Tensors), which
    has no derivative: a constant where no input requires grad, else linked to them with a
    hook that raises NotImplementedError (a RuntimeError) when a gradient reaches it."""
    output = constant(result)
    if flags.forward_ad is not None and backend.is_floating(output.dtype):
        from tinygrad_opt.autograd import forward_ad  # (only inside a dual level)
        if forward_ad._argument_tangents(inputs) is not None:
            raise NotImplementedError(f"the derivative for '{name}' is not implemented (forward "
                                      f"AD: an input of {name} carries a tangent). Call {name} "
                                      "on unpack_dual(x).primal to use its values as constants")
    tracked = [x for x in inputs if x.requires_grad]
    if not (tracked and is_grad_enabled() and backend.is_floating(output.dtype)):
        return output
    true = constant(backend.xp_of(result).asarray(True))
    linked = where(true, output, stack([x.sum().astype(output.dtype) for x in tracked]).sum())
    linked.register_hook(_refusal(name))
    return linked


def _refusal(name: str):
    """The gradient hook of an output of ``name``: it raises as soon as a gradient reaches it."""
    def refuse(grad):
        raise NotImplementedError(f"the derivative for '{name}' is not implemented. Call "
                                  f"{name} on detached inputs to use its values as constants")
    return refuse
