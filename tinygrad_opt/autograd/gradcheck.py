"""Check analytic gradients against central finite differences, in float64.

For a function f with a tensor output y, both checks use L = Σ y·w with a
fixed random weight w (a random projection: a wrong Jacobian row or column
shows up in L's gradient with probability 1), and compare

    backward:  ∂L/∂x_i
    numeric:   (L(x + ε·e_i) − L(x − ε·e_i)) / (2ε)

element by element: |analytic − numeric| ≤ atol + rtol·|numeric|.
"""

from __future__ import annotations

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine, grad_mode


class GradcheckError(AssertionError):
    """Raised when analytic and numeric derivatives disagree."""


def _as_tuple(inputs):
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _projected(fn, inputs):
    """L(inputs) = Σ fn(inputs)·w, with w fixed for the whole check."""
    from tinygrad_opt.tensor import Tensor
    weights = {}

    def loss(*xs):
        y = fn(*xs)
        if not isinstance(y, Tensor):
            raise TypeError("gradcheck: fn must return a Tensor")
        if "w" not in weights:
            rng = backend.np.random.default_rng(1234)
            weights["w"] = Tensor(rng.standard_normal(y.shape), dtype=y.dtype, device=y.device)
        return (y * weights["w"]).sum()
    return loss


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """True if fn's first derivatives match finite differences, else raise naming
    the worst element. Inputs that require grad must be float64."""
    inputs = _as_tuple(inputs)
    return _check(_projected(fn, inputs), inputs, eps, atol, rtol, raise_exception, "gradcheck")


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Like gradcheck, for second derivatives: the function checked is
    x ↦ Σ_i ∂L/∂x_i · u_i, whose gradient needs double backward through fn."""
    from tinygrad_opt.tensor import Tensor
    inputs = _as_tuple(inputs)
    loss = _projected(fn, inputs)
    differentiable = [i for i, x in enumerate(inputs) if x.requires_grad]
    rng = backend.np.random.default_rng(4321)
    directions = [Tensor(rng.standard_normal(inputs[i].shape), dtype=inputs[i].dtype,
                         device=inputs[i].device) for i in differentiable]

    def first_derivative_projected(*xs):
        with grad_mode.enable_grad():  # also while _check perturbs inputs under no_grad
            grads = engine.grad(loss(*xs), [xs[i] for i in differentiable], create_graph=True,
                                allow_unused=True)
        total = None
        for grad, direction in zip(grads, directions):
            if grad is not None:
                term = (grad * direction).sum()
                total = term if total is None else total + term
        if total is None:
            raise GradcheckError("gradgradcheck: fn does not depend on its inputs")
        return total
    return _check(first_derivative_projected, inputs, eps, atol, rtol, raise_exception,
                  "gradgradcheck")


def _check(loss, inputs, eps, atol, rtol, raise_exception, name) -> bool:
    for index, x in enumerate(inputs):
        if x.requires_grad and x.dtype != backend.float64:
            raise TypeError(f"{name}: input {index} has dtype {x.dtype}; use float64 "
                            "(finite differences in float32 are too coarse)")
    positions = [index for index, x in enumerate(inputs) if x.requires_grad]
    if not positions:
        raise ValueError(f"{name}: no input requires grad")
    with grad_mode.enable_grad():
        output = loss(*inputs)
        if output.requires_grad:
            analytic = engine.grad(output, [inputs[i] for i in positions], allow_unused=True)
        else:  # the loss does not depend on the inputs (e.g. the derivative of a linear op)
            analytic = [None] * len(positions)
    worst = None  # (excess over tolerance, message)
    for position, grad in zip(positions, analytic):
        x = inputs[position]
        host_grad = None if grad is None else backend.to_host(grad.data).reshape(-1)
        for i in range(x.data.size):
            element = tuple(int(v) for v in backend.np.unravel_index(i, x.shape))
            original = x.data[element].item()  # (by index: x.data may not be contiguous)
            with grad_mode.no_grad():
                x.data[element] = original + eps
                plus = loss(*inputs).item()
                x.data[element] = original - eps
                minus = loss(*inputs).item()
                x.data[element] = original
            numeric = (plus - minus) / (2 * eps)
            exact = 0.0 if host_grad is None else float(host_grad[i])
            excess = abs(exact - numeric) - (atol + rtol * abs(numeric))
            if excess > 0 and (worst is None or excess > worst[0]):
                worst = (excess, f"{name}: input {position} element {element}: "
                                 f"analytic {exact:.8g} vs numeric {numeric:.8g}")
    if worst is not None:
        if raise_exception:
            raise GradcheckError(worst[1])
        return False
    return True
