"""Fused batch normalisation: ``F.batch_norm``'s training-mode composition as one op, for speed.

The definition stays the composition in ``nn/functional.py``'s ``batch_norm``: the
batch mean and biased variance as Tensor ops, x̂ = (x − μ)/√(σ² + eps), then γ·x̂ + β,
its gradient through the statistics left to the engine (about fifteen recorded ops
each way). The op here computes the same forward, bit for bit, and the backward in
closed form. The tests compare it with the composition, values, gradients and second
derivatives (tests/nn/test_fused_norm.py).

Why it pays: a BatchNorm2d layer's forward and backward on (32, 16, 8, 8) took 0.88 ms
through the composition, against 0.27 ms for the hand-written NumPy of the same
formulas (2026-12-07; docs/benchmarks.md).
"""

from __future__ import annotations

from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.autograd.grad_mode import flags


class BatchNorm(Function):
    """y = x̂·γ + β with x̂ = (x − μ)/σ, over every axis but the channel axis 1, where
    μ = mean(x), σ² = mean((x − μ)²) + eps are the batch's statistics per channel (n values
    each). γ and β are optional inputs (``affine``: which of them follow x).

    Differentiating through μ and σ (both depend on every x of the channel)::

        dL/dx̂ = dL/dy · γ
        dL/dx = (dL/dx̂ − mean(dL/dx̂) − x̂ · mean(dL/dx̂ · x̂)) / σ
        dL/dγ = Σ dL/dy · x̂,     dL/dβ = Σ dL/dy

    (means and sums over every axis but 1). A plain backward reuses x̂ and σ from
    forward; a recorded one makes them again from x with Tensor ops, so the same
    formulas record a graph and second derivatives work.

    ``statistics``: a list that forward appends the batch's (μ, biased σ² without eps)
    arrays to, shape (1, C, 1, ...), for the running averages.
    """

    def forward(self, x: "Array", *affine: "Array", has_weight: bool, eps: float,
                statistics: list) -> "Array":
        self.dims = (0,) + tuple(range(2, x.ndim))                       # all but channels
        self.stat_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)           # (1, C, 1, ...)
        self.count, self.has_weight, self.eps = x.size // x.shape[1], has_weight, eps
        self.x_hat, self.std = self._normalised(x)
        weight = affine[0] if has_weight else None
        bias = affine[-1] if len(affine) > int(has_weight) else None
        out = self.x_hat                                                 # (N, C, ...)
        if weight is not None:
            out = out * weight.reshape(self.stat_shape)
        if bias is not None:
            out = out + bias.reshape(self.stat_shape)
        statistics.append((self.mean, self.var))
        return out if out is not self.x_hat else out.copy()

    def _normalised(self, x):
        """x̂ and σ of x (arrays in forward, Tensors in a recorded backward)."""
        self.mean = x.sum(axis=self.dims, keepdims=True) / self.count    # (1, C, 1, ...)
        centered = x - self.mean                                          # (N, C, ...)
        self.var = (centered * centered).sum(axis=self.dims, keepdims=True) / self.count
        std = (self.var + self.eps) ** 0.5
        return centered / std, std

    def backward(self, grad_output: "Grad") -> "Grads":
        x = self.saved_input(0)                       # checked: unchanged since forward
        x_hat, std = self._normalised(x) if flags.grad else (self.x_hat, self.std)
        grad_x_hat = grad_output                                          # (N, C, ...)
        grads = [None] * len(self.inputs)
        if self.has_weight:
            weight = self.saved_input(1)
            grad_x_hat = grad_output * weight.reshape(self.stat_shape)
            if self.needs_input_grad[1]:
                grads[1] = (grad_output * x_hat).sum(axis=self.dims)      # (C,)
        if len(self.inputs) > 1 + int(self.has_weight) and self.needs_input_grad[-1]:
            grads[-1] = grad_output.sum(axis=self.dims)                   # (C,)
        if self.needs_input_grad[0]:
            mean_grad = grad_x_hat.sum(axis=self.dims, keepdims=True) / self.count
            mean_projection = (grad_x_hat * x_hat).sum(axis=self.dims, keepdims=True) / self.count
            grads[0] = (grad_x_hat - mean_grad - x_hat * mean_projection) / std
        return tuple(grads)
