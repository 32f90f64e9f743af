"""The last of PyTorch's ``torch.nn.functional`` names: ``native_channel_shuffle`` and
``grad``, PyTorch's ``torch.nn.grad`` (which its ``nn.functional`` imports as well):
the gradient of a convolution with respect to its input and to its weight, as functions.

A convolution is linear in its input and linear in its weight, so for an output
gradient g::

    conv2d_input  = ∂/∂x ⟨conv2d(x, w), g⟩   the same for every x; here x = 0
    conv2d_weight = ∂/∂w ⟨conv2d(x, w), g⟩   the same for every w; here w = 0

Both are computed by the engine (``tg.autograd.grad`` of a convolution), recording a
graph when ``w`` (or ``x``) or ``g`` requires grad, so they are differentiable in turn.

``nn/functional.py`` star-imports this file; ``nn/__init__.py`` re-exports ``grad`` from
``nn/layers_surface.py`` so that ``nn.grad.conv2d_input`` works too.
"""

from __future__ import annotations

import sys

import tinygrad_opt as tg
from tinygrad_opt.autograd.grad_mode import enable_grad, is_grad_enabled
from tinygrad_opt.nn.functional_conv import conv1d, conv2d
from tinygrad_opt.nn.functional_conv3d import conv3d
from tinygrad_opt.nn.functional_extra import channel_shuffle
from tinygrad_opt.tensor import Tensor

__all__ = ["native_channel_shuffle", "grad"]


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """PyTorch's native kernel of :func:`channel_shuffle`, the same values::

        y[n, j·groups + g] = x[n, g·(C/groups) + j]

    Shapes: (N, C, *) -> (N, C, *).
    """
    return channel_shuffle(input, groups)


_CONVOLUTIONS = {1: conv1d, 2: conv2d, 3: conv3d}


def _convolution_gradient(op_name: str, dims: int, input: Tensor, weight: Tensor,
                          grad_output: Tensor, stride, padding, dilation, groups: int,
                          with_respect_to: Tensor) -> Tensor:
    """∂/∂t ⟨conv(input, weight), grad_output⟩ for ``t = with_respect_to`` (the zero
    ``input`` or the zero ``weight``); a graph is kept when the other two need one."""
    create_graph = is_grad_enabled() and any(
        t.requires_grad for t in (input, weight, grad_output) if t is not with_respect_to)
    with enable_grad():
        output = _CONVOLUTIONS[dims](input, weight, None, stride, padding, dilation, groups)
        if tuple(output.shape) != tuple(grad_output.shape):
            raise ValueError(f"{op_name}: grad_output of shape {tuple(grad_output.shape)} "
                             f"does not match the convolution's output shape "
                             f"{tuple(output.shape)}")
        (gradient,) = tg.autograd.grad(output, with_respect_to, grad_output,
                                       create_graph=create_graph)
    return gradient


def _zeros(size, like: Tensor, op_name: str, what: str) -> Tensor:
    """A zero Tensor of ``size`` on ``like``'s dtype and device, requiring grad."""
    size = tuple(size)
    if not all(isinstance(n, int) and n >= 0 for n in size):
        raise TypeError(f"{op_name}: {what} must be a sequence of non-negative ints, "
                        f"got {size!r}")
    return tg.zeros(size, dtype=like.dtype, device=like.device, requires_grad=True)


def _input_gradient(dims: int):
    op_name = f"conv{dims}d_input"

    def conv_input(input_size, weight: Tensor, grad_output: Tensor, stride=1, padding=0,
                   dilation=1, groups: int = 1) -> Tensor:
        x = _zeros(input_size, weight, op_name, "input_size")          # (N, C_in, *spatial)
        return _convolution_gradient(op_name, dims, x, weight, grad_output, stride,
                                     padding, dilation, groups, with_respect_to=x)

    conv_input.__name__ = conv_input.__qualname__ = op_name
    conv_input.__doc__ = (
        f"The gradient of ``conv{dims}d(input, weight, ...)`` with respect to an input of "
        f"shape ``input_size``::\n\n    ∂/∂x ⟨conv{dims}d(x, weight), grad_output⟩\n\n"
        "(a transposed convolution of ``grad_output`` by ``weight``). ``grad_output`` has "
        "the convolution's output shape.")
    return conv_input


def _weight_gradient(dims: int):
    op_name = f"conv{dims}d_weight"

    def conv_weight(input: Tensor, weight_size, grad_output: Tensor, stride=1, padding=0,
                    dilation=1, groups: int = 1) -> Tensor:
        w = _zeros(weight_size, input, op_name, "weight_size")     # (C_out, C_in/g, *kernel)
        return _convolution_gradient(op_name, dims, input, w, grad_output, stride,
                                     padding, dilation, groups, with_respect_to=w)

    conv_weight.__name__ = conv_weight.__qualname__ = op_name
    conv_weight.__doc__ = (
        f"The gradient of ``conv{dims}d(input, weight, ...)`` with respect to a weight of "
        f"shape ``weight_size``::\n\n    ∂/∂w ⟨conv{dims}d(input, w), grad_output⟩\n\n"
        "(the correlation of ``input`` with ``grad_output``). ``grad_output`` has the "
        "convolution's output shape.")
    return conv_weight


class grad:
    """``torch.nn.grad``: ``conv{1,2,3}d_input(input_size, weight, grad_output, stride=1,
    padding=0, dilation=1, groups=1)`` and ``conv{1,2,3}d_weight(input, weight_size,
    grad_output, ...)``, the two gradients of a convolution (module docstring)."""

    conv1d_input = staticmethod(_input_gradient(1))
    conv2d_input = staticmethod(_input_gradient(2))
    conv3d_input = staticmethod(_input_gradient(3))
    conv1d_weight = staticmethod(_weight_gradient(1))
    conv2d_weight = staticmethod(_weight_gradient(2))
    conv3d_weight = staticmethod(_weight_gradient(3))


# ``from tinygrad_opt.nn.grad import conv2d_input`` finds the namespace (as os.path is found)
sys.modules["tinygrad_opt.nn.grad"] = grad
