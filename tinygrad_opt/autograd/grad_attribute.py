"""PyTorch's two rules for the ``.grad`` attribute (``Tensor.grad``, tensor.py).

* **Assigning** ``x.grad = g`` takes only a Tensor of x's dtype, device and shape (or
  None). Anything else would travel on silently: an optimizer's ``p -= lr * p.grad``
  broadcasts a gradient of shape (1,) over every element of p.
* **Reading** ``.grad`` of a non-leaf tensor that does not ``retain_grad()`` warns: backward
  never fills it, so a None there is almost always a mistake (the leaf was meant).

The engine writes the gradients it computes into ``_grad`` itself: they are checked
where the ops return them (engine.py, ``_checked``).
"""

from __future__ import annotations

import warnings

import tinygrad_opt.tensor as tensor_module  # (which imports this module)

NON_LEAF_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead.")


def warn_non_leaf() -> None:
    warnings.warn(NON_LEAF_WARNING, UserWarning, stacklevel=3)


def checked(tensor, grad):
    """``grad`` if it may be ``tensor``'s ``.grad``, else PyTorch's error."""
    if not isinstance(grad, tensor_module.Tensor):
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                        f"{type(grad).__name__}")
    if grad.dtype != tensor.dtype:
        raise RuntimeError(f"attempting to assign a gradient with dtype '{grad.dtype}' to a "
                           f"tensor with dtype '{tensor.dtype}'. Please ensure that the "
                           "gradient and the tensor have the same dtype")
    if grad.device != tensor.device:
        raise RuntimeError(f"attempting to assign a gradient with device type '{grad.device}' "
                           f"to a tensor with device type '{tensor.device}'. Please ensure "
                           "that the gradient and the tensor are on the same device")
    if grad.shape != tensor.shape:
        raise RuntimeError(f"attempting to assign a gradient of size '{list(grad.shape)}' to a "
                           f"tensor of size '{list(tensor.shape)}'. Please ensure that the "
                           "gradient and the tensor are the same size")
    return grad
