"""Matrix multiplication for 1-D, 2-D and batched operands."""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Function
from tinygrad_opt.ops.shape import as_operand, broadcast_to


class MatMul(Function):
    """Y = A @ B on (..., n, k) @ (..., k, m), equal batch dims.

    dL/dA = dL/dY @ Bᵀ,   dL/dB = Aᵀ @ dL/dY   (ᵀ swaps the last two axes).
    """

    def forward(self, a, b):
        return a @ b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = grad_output @ b.transpose(-1, -2) if self.needs_input_grad[0] else None
        grad_b = a.transpose(-1, -2) @ grad_output if self.needs_input_grad[1] else None
        return grad_a, grad_b


def matmul(a, b):
    """``a @ b`` with NumPy's rules: a 1-D operand is a vector (its axis is added,
    then removed), batch dims broadcast (via BroadcastTo, so gradients sum back)."""
    b = as_operand(b, a, "MatMul")
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0] and a.dtype == b.dtype:
        return MatMul.apply(a, b)  # two matrices that fit: nothing to reshape or check
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"MatMul: {a.shape} @ {b.shape}: both operands need at least 1 dim")
    if a.dtype != b.dtype:
        dtype = backend.result_dtype(a.dtype, b.dtype)
        a, b = a.astype(dtype), b.astype(dtype)
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


class Linear(Function):
    """y = x @ Wᵀ + b, with W (out, in) and x (..., in): the fully connected layer.

    dL/dx = g @ W,   dL/dW = gᵀ @ x,   dL/db = Σ_rows g   (rows: every leading index).

    A fused op, for speed: composed it is four ops forward (transpose, matmul,
    broadcast, add) and seven backward; every layer of an MLP runs it twice a
    step. ``x @ w.T + b`` stays in the tests as its oracle. It sums the bias
    gradient over the rows itself, the one place besides BroadcastTo that does.
    """

    def forward(self, x, weight, bias=None):
        out = x @ weight.T                     # (..., in) @ (in, out) -> (..., out)
        if bias is not None:
            out += bias                        # (out,) added to every row
        return out

    def backward(self, grad_output):
        x, weight = self.inputs[0], self.inputs[1]
        out_features, in_features = weight.shape
        rows = grad_output if grad_output.ndim == 2 else grad_output.reshape(-1, out_features)
        grad_x = grad_output @ weight if self.needs_input_grad[0] else None   # (..., in)
        grad_weight = None
        if self.needs_input_grad[1]:
            x_rows = x if x.ndim == 2 else x.reshape(-1, in_features)  # (N, in)
            grad_weight = rows.T @ x_rows                              # (out, in)
        grad_bias = None
        if len(self.inputs) == 3 and self.needs_input_grad[2]:
            grad_bias = rows.sum(0)                                    # (out,)
        return grad_x, grad_weight, grad_bias


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` as one op; ``x`` is cast to the weight's dtype."""
    if x.ndim == 0 or x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"Linear: input of shape {x.shape} does not end in "
                         f"in_features={weight.shape[-1]} (weight {weight.shape})")
    tensors = (x, weight) if bias is None else (x, weight, bias)
    for tensor in tensors[1:]:
        if tensor.device != x.device:
            raise RuntimeError(f"Linear: input on '{x.device}' but parameters on "
                               f"'{tensor.device}'; move the model with .to(device)")
    if x.dtype != weight.dtype:
        x = x.astype(weight.dtype)
    return Linear.apply(*((x,) + tensors[1:]))
