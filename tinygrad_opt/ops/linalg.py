"""Matrix multiplication for 1-D, 2-D and batched operands."""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.ops.shape import as_operand, broadcast_to


class MatMul(Function):
    """Y = A @ B on (..., n, k) @ (..., k, m), equal batch dims.

    dL/dA = dL/dY @ Bᵀ,   dL/dB = Aᵀ @ dL/dY   (ᵀ swaps the last two axes).
    """

    def forward(self, a: "Array", b: "Array") -> "Array":
        return a @ b

    def backward(self, grad_output: "Grad") -> "Grads":  # grad_output (..., n, m)
        xp, grad_a, grad_b = self.xp, None, None  # each gradient reads the other input only
        if self.needs_input_grad[0]:
            b = self.saved_input(1)
            grad_a = grad_output @ xp.swapaxes(b, -1, -2)     # (..., n, m) @ (..., m, k)
        if self.needs_input_grad[1]:
            a = self.saved_input(0)
            grad_b = xp.swapaxes(a, -1, -2) @ grad_output     # (..., k, n) @ (..., n, m)
        return grad_a, grad_b


def matmul(a, b):
    """``a @ b`` with NumPy's rules: a 1-D operand is a vector (its axis is added,
    then removed), batch dims broadcast (via BroadcastTo, so gradients sum back)."""
    b = as_operand(b, a, "MatMul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"MatMul: {a.shape} @ {b.shape}: both operands need at least 1 dim")
    if a.dtype != b.dtype:  # as PyTorch: a product never promotes (int32 @ float32 too)
        raise TypeError(f"MatMul: {a.shape} @ {b.shape}: expected one dtype, got "
                        f"{a.dtype} and {b.dtype} (cast one first, e.g. .float())")
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    a2 = a.reshape(1, a.shape[0]) if a_vector else a    # (k,) → (1, k)
    b2 = b.reshape(b.shape[0], 1) if b_vector else b    # (k,) → (k, 1)
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(f"MatMul: {a.shape} @ {b.shape}: inner dimensions "
                         f"{a2.shape[-1]} and {b2.shape[-2]} differ")
    if a2.shape[:-2] != b2.shape[:-2]:
        try:
            batch = backend.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        except ValueError:
            raise ValueError(f"MatMul: {a.shape} @ {b.shape}: batch dimensions "
                             "cannot be broadcast") from None
        a2 = broadcast_to(a2, batch + a2.shape[-2:])
        b2 = broadcast_to(b2, batch + b2.shape[-2:])
    out = MatMul.apply(a2, b2)
    if a_vector:
        out = out.squeeze(-2)
    if b_vector:
        out = out.squeeze(-1)
    return out
