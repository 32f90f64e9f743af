"""Fused ops: compositions rewritten as one op each, for speed, outside the reading path.

Each is a named twin of a composition of core ops that stays the definition:
the tests compare every fused op with its composed twin, values and gradients
(tests/core/test_fused_ops.py, tests/nn/test_losses_fused.py). Each pays for
itself on every training step (docs/benchmarks.md has the measurements):

* ``Linear``: ``x @ W.T + b`` is four ops forward and more backward; one here.
* ``LogSoftmax``: ``x - x.logsumexp(dim, keepdim=True)`` is six ops forward.
* ``CrossEntropy``: ``-log_softmax(x)[rows, y].sum() * scale`` is five ops
  forward and ten backward, in every classification step.
* ``Relu``: the same op as ``elementwise.Relu``, whose backward selects with
  ``where``; on the CPU this twin multiplies by the 0/1 mask instead.
"""

from __future__ import annotations

import math

from tinygrad_opt import backend
from tinygrad_opt.autograd.function import Array, Function, Grad, Grads
from tinygrad_opt.autograd.grad_mode import flags
from tinygrad_opt.ops import elementwise
from tinygrad_opt.ops.shape import normalize_dim


class Linear(Function):
    """y = x @ Wᵀ + b, with W (out, in) and x (..., in): the fully connected layer.

    dL/dx = g @ W,   dL/dW = gᵀ @ x,   dL/db = Σ_rows g   (rows: every leading index).

    It sums the bias gradient over the rows itself, the one place besides
    BroadcastTo that does.

    float16 is computed in float32 and rounded once, bias included, as PyTorch's
    ``addmm`` (its ``linear``): x Wᵀ rounded to float16 before adding b could land one
    ulp off (x Wᵀ = 1 + 2⁻¹¹ − 2⁻²¹, b = 2048 gave 2048 where PyTorch gives 2050).

    Products of two matrices run by ``dot``, the same BLAS call as ``@`` without the
    matmul ufunc's dispatch: on the 64-64-10 MLP's SGD step, 3.5 us of its 96 (its five
    products; 2026-12-08). Not for a batched x (..., in): NumPy's ``dot`` of a 3-D array
    is no BLAS call (8x128x256 by 256x512: 11 ms against 1.7 ms for ``@``).
    """

    def forward(self, x: "Array", weight: "Array", bias: "Array" = None) -> "Array":
        if x.dtype == backend.float16:
            wide = backend.float32
            bias = None if bias is None else bias.astype(wide)
            return self.forward(x.astype(wide), weight.astype(wide), bias).astype(x.dtype)
        if x.ndim == 2:                        # (N, in) @ (in, out): dot (class docstring)
            out = x.dot(weight.T)
        else:
            out = x @ weight.T                 # (..., in) @ (in, out) -> (..., out)
        if bias is not None:
            out += bias                        # (out,) added to every row
        return out

    def backward(self, grad_output: "Grad") -> "Grads":
        out_features, in_features = self.inputs[1].data.shape
        rows = grad_output  # (the usual (N, out) as it comes, no reshaped view)
        if rows.ndim != 2:
            rows = grad_output.reshape(-1, out_features)               # (N, out)
        grad_x = grad_weight = None  # each reads only the input it needs (as Mul does)
        arrays = not flags.grad  # (recorded: Tensors, whose dot is PyTorch's, of vectors)
        if self.needs_input_grad[0]:
            weight = self.saved_input(1)
            if arrays and rows is grad_output:
                grad_x = grad_output.dot(weight)                       # (N, in)
            else:
                grad_x = grad_output @ weight                          # (..., in)
        if self.needs_input_grad[1]:
            x = self.saved_input(0)
            if x.ndim != 2:
                x = x.reshape(-1, in_features)                         # (N, in)
            grad_weight = rows.T.dot(x) if arrays else rows.T @ x     # (out, N) @ (N, in)
        if len(self.inputs) == 2:
            return grad_x, grad_weight
        grad_bias = rows.sum(axis=0) if self.needs_input_grad[2] else None   # (out,)
        return grad_x, grad_weight, grad_bias


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` as one op; ``x`` is cast to the weight's dtype."""
    data, w = x.data, weight.data
    if data.ndim == 0 or data.shape[-1] != w.shape[-1]:
        raise ValueError(f"Linear: input of shape {x.shape} does not end in "
                         f"in_features={weight.shape[-1]} (weight {weight.shape})")
    if type(w) is not type(data) or (bias is not None and type(bias.data) is not type(data)):
        _check_devices(x, weight, bias)  # (arrays of one type live on one device)
    if data.dtype != w.dtype:
        x = x.astype(weight.dtype)
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


def _check_devices(x, weight, bias) -> None:
    """Refuse parameters on another device than the input, naming both."""
    for tensor in (weight, bias):
        if tensor is not None and tensor.device != x.device:
            raise RuntimeError(f"Linear: input on '{x.device}' but parameters on "
                               f"'{tensor.device}'; move the model with .to(device)")


class Relu(elementwise.Relu):
    """y = max(x, 0), as ``elementwise.Relu``; only a plain backward on the CPU differs.

    NumPy's ``where`` branches on every element, and a ReLU's mask is as good as
    random: on 65,536 float32 it took 155 us against 14 us for ``g * mask``
    (2026-12-04), a tenth of a 784-512-512-10 SGD step for its two ReLUs, and on the
    small MLP's (32, 64) about 5 us of its SGD step (2026-12-07). The product equals
    the selection except where ``g`` is inf or NaN on the masked side (inf · 0 = NaN,
    where the masked side must get 0) or ``y`` is NaN (the selection passes ``g``).
    So the product runs only when ``g · y`` summed (``vdot``: one BLAS pass) is
    finite: y ≥ 0, so an inf or NaN in ``g`` or in ``y`` makes that sum inf or NaN
    (inf · 0 is NaN too). Otherwise (also when the sum merely overflows), on other
    devices and under ``create_graph``, the readable ``where`` runs instead. (The
    product gives −0.0 where ``g`` < 0 is masked, the selection +0.0: equal values.)

    On the CPU both compare and select with a 0-d zero of y's dtype: NumPy 2 takes
    a slower path for the Python number 0 (``where(y > 0, g, 0)`` on 2,048 float32:
    7.2 against 3.6-5.7 us with the 0-d zero; 2026-12-04). So does forward, on every
    device: ``maximum(x, 0)`` on (32, 64) float32 took 2.6 us, with the 0-d zero
    1.2 us (2026-12-07); the values are the same.
    """

    def forward(self, x: "Array") -> "Array":
        xp = backend.xp_of(x)
        return xp.maximum(x, xp.zeros((), x.dtype))  # = elementwise.Relu's maximum(x, 0)

    def backward(self, grad_output: "Grad") -> "Grads":
        y = self.saved_output
        if flags.grad or backend.device_of(y) != "cpu":
            return super().backward(grad_output)
        np, zero = backend.np, backend.np.zeros((), y.dtype)
        if math.isfinite(np.vdot(grad_output, y)):  # g finite, y not NaN (docstring)
            return grad_output * (y > zero)
        return np.where(y <= zero, zero, grad_output)              # the readable selection


def relu(x):
    """``Relu.apply``; a bool tensor is refused, as PyTorch (max(x, 0) would make it int64)."""
    if x.dtype == backend.bool_:
        raise RuntimeError("relu: Boolean inputs are not supported (convert with .float() or "
                           ".long() first)")
    return Relu.apply(x)


class LogSoftmax(Function):
    """y = x − log Σ_dim exp(x).   dL/dx = g − softmax(x)·Σ_dim g   (softmax = exp(y)).

    Stable: the row maximum is subtracted first.
    """

    def forward(self, x: "Array", dim: int) -> "Array":
        self.dim = dim
        return log_softmax_array(x, dim)

    def backward(self, grad_output: "Grad") -> "Grads":
        softmax = self.xp.exp(self.saved_output)
        return grad_output - softmax * grad_output.sum(axis=self.dim, keepdims=True)


def log_softmax_array(x, dim):
    """log softmax of an array along ``dim`` (the row maximum subtracted first). A row
    whose maximum is ±inf is NaN throughout, as PyTorch's (inf − inf)."""
    xp = backend.xp_of(x)
    if x.shape[dim] == 0:
        return x.copy()  # an empty dim: nothing to normalise
    largest = x.max(axis=dim, keepdims=True)
    shifted = x - largest
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


def log_softmax(x, dim=-1):
    """log softmax along ``dim``; an integer tensor enters as the default float, and a 0-d
    one as a vector of one element (log softmax 0, as PyTorch). A float16 x is computed in
    float32 and rounded once, as PyTorch's kernel (float16 steps lost up to 15 ulps)."""
    if x.ndim == 0:
        return log_softmax(x.reshape(1), normalize_dim(dim, 1, "LogSoftmax")).reshape(())
    x = elementwise.floating(x)
    if x.dtype == backend.float16:
        return log_softmax(x.float(), dim).half()
    return LogSoftmax.apply(x, dim=normalize_dim(dim, x.ndim, "LogSoftmax"))


def softmax(x, dim=-1):
    """softmax along ``dim``, exp(log_softmax(x)); a float16 x in float32, rounded once."""
    if x.dtype == backend.float16:
        return softmax(x.float(), dim).half()
    return log_softmax(x, dim).exp()


class CrossEntropy(Function):
    """L = s · Σ_n −log softmax(x)[n, y_n] for logits x (N, C), classes y (N,) and
    s = 1/N ('mean') or 1 ('sum').   dL/dx = s · (softmax(x) − onehot(y)).

    Stable: the row maximum is subtracted first. (A row whose maximum is ±inf gives
    NaN, as in PyTorch and as LogSoftmax.)
    A plain backward reuses the forward's log-probabilities; a recorded one
    (``create_graph=True``) recomputes them with the LogSoftmax op, so second
    derivatives still work. ``nn.functional.cross_entropy`` uses it when no
    weight, ignored target or label smoothing asks for the composed form.

    The targets are the op's second input (int64, needing no gradient), as in
    PyTorch: backward reads them checked, so a write to them since forward raises.

    The picked scores are found by their flat indices, ``ravel_multi_index``: on NumPy
    (cpu, strict) its default mode raises ValueError for a class outside 0..C-1, so
    this is also the class check, in C (a host reduction over the targets before the
    op cost about 4 us of a small training step, 2026-12-07); ``cross_entropy`` turns
    the error into its own. CuPy's default mode wraps without a device sync: on 'cuda'
    the targets are checked on the host before the op (``_class_targets``).
    """

    def forward(self, x: "Array", target: "Array", scale: float) -> "Array":
        xp = backend.xp_of(x)
        self.scale = scale
        shifted = x - x.max(axis=1, keepdims=True)                     # (N, C)
        self.exps = xp.exp(shifted)                                    # (N, C)
        self.sums = self.exps.sum(axis=1, keepdims=True)               # (N, 1)
        rows = xp.arange(x.shape[0])                                   # (N,)
        self.picks = xp.ravel_multi_index((rows, target), x.shape)     # n·C + y_n (checked)
        picked = shifted.reshape(-1)[self.picks] - xp.log(self.sums[:, 0])  # log p[n, y_n]
        return -picked.sum() * scale

    def backward(self, grad_output: "Grad") -> "Grads":
        self.saved_input(1)                                            # y, unchanged since
        if flags.grad:  # recorded (create_graph): softmax from the differentiable op
            x = self.saved_input(0)
            one_hot = backend.xp_of(self.exps).zeros(x.shape, dtype=x.dtype)  # (N, C)
            one_hot.reshape(-1)[self.picks] = 1
            softmax = LogSoftmax.apply(x, dim=1).exp()
            return (softmax - one_hot) * (grad_output * self.scale), None
        grad = self.exps / self.sums                                   # softmax(x): (N, C)
        grad.reshape(-1)[self.picks] -= 1                              # − onehot(y)
        grad *= grad_output * self.scale
        return grad, None
