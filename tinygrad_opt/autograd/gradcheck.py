"""Check analytic gradients against central finite differences, in float64.

For a function f with tensor outputs y_1, y_2, ..., both checks use L = Σ_k Σ y_k·w_k
with fixed random weights w_k (a random projection: a wrong Jacobian row or column
shows up in L's gradient with probability 1), and compare

    backward:  ∂L/∂x_i                                   (reverse mode)
    forward:   the tangent of L for the tangent e_i      (forward mode, check_forward_ad)
    numeric:   (L(x + ε·e_i) − L(x − ε·e_i)) / (2ε)

element by element: |analytic − numeric| ≤ atol + rtol·|numeric|. With ``fast_mode``
one random direction u per input replaces the e_i: the numbers compared are the
directional derivatives ⟨∂L/∂x, u⟩ and (L(x + ε·u) − L(x − ε·u)) / (2ε).

A failure is then reported as PyTorch reports it: the first output k whose Jacobian
∂y_k/∂x_i (rows: the elements of x_i, columns: those of y_k) differs, both Jacobians
printed in full. They are computed only then (one backward per element of y_k), so
that a passing check costs one backward, not one per output element.
"""

from __future__ import annotations

import warnings

from tinygrad_opt import backend
from tinygrad_opt.autograd import engine, grad_mode


class GradcheckError(RuntimeError, AssertionError):
    """Raised when analytic and numeric derivatives disagree (a RuntimeError, as
    PyTorch's; also an AssertionError, so that it reads as a failed test)."""


def _as_tuple(inputs):
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _is_tensor(value) -> bool:
    from tinygrad_opt.tensor import Tensor
    return isinstance(value, Tensor)


def _float_outputs(y, name: str) -> list:
    """The floating-point Tensors among fn's outputs (a Tensor or a tuple/list)."""
    outputs = [y] if _is_tensor(y) else list(y) if isinstance(y, (tuple, list)) else None
    if outputs is None:
        raise TypeError(f"{name}: fn must return a Tensor or a tuple of Tensors, got "
                        f"{type(y).__name__}")
    return [out for out in outputs if _is_tensor(out) and backend.is_floating(out.dtype)]


def _projected(fn, name: str, weights=None):
    """L(inputs) = Σ_k Σ fn(inputs)_k·w_k, with the w_k fixed for the whole check (the
    given ``weights``, else standard normal draws of a fixed seed).

    As in PyTorch, the sum runs over the outputs that require grad: one made from a
    detached input has no analytic derivative to compare. Only if none requires grad
    are all kept, so that the numeric derivative must then be zero."""
    from tinygrad_opt.tensor import Tensor
    fixed = {}

    def checked_outputs(*xs):
        outputs = _float_outputs(fn(*xs), name)
        if "keep" not in fixed:  # decided once, with recording on (the numbers run without)
            probe = outputs
            if not grad_mode.flags.grad:
                with grad_mode.enable_grad():
                    probe = _float_outputs(fn(*xs), name)
            keep = [y.requires_grad for y in probe]
            fixed["keep"] = keep if any(keep) else [True] * len(keep)
        return [y for y, kept in zip(outputs, fixed["keep"]) if kept]

    def loss(*xs):
        outputs = checked_outputs(*xs)
        if "w" not in fixed:
            if weights is not None:
                if len(weights) != len(outputs):
                    raise ValueError(f"{name}: {len(weights)} grad_outputs for "
                                     f"{len(outputs)} floating-point outputs")
                fixed["w"] = list(weights)
            else:
                rng = backend.np.random.default_rng(1234)
                fixed["w"] = [Tensor(rng.standard_normal(y.shape), dtype=y.dtype,
                                     device=y.device) for y in outputs]
        total = None
        for y, w in zip(outputs, fixed["w"]):
            term = (y * w).sum()
            total = term if total is None else total + term
        if total is None:
            raise TypeError(f"{name}: fn returned no floating-point Tensor")
        return total
    loss.outputs = checked_outputs  # the y_k themselves, for the failure message
    return loss


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked=None) -> bool:
    """True if func's first derivatives match finite differences, else raise
    GradcheckError naming the worst element (``raise_exception=False``: return False).

    ``inputs``: a Tensor or a tuple of arguments; the Tensors that require grad are
    checked (in float64: another dtype gets PyTorch's warning, and needs a larger eps,
    atol and rtol), other arguments are passed as they are. ``func`` returns a Tensor or
    a tuple of them (non-floating outputs are left out). A failure names the output and
    the input (its position among ``inputs``) and prints both Jacobians.

    Options, PyTorch's: ``check_backward_ad`` (reverse mode, the default) and
    ``check_forward_ad`` (forward mode, ``autograd.forward_ad``) say what is compared
    with the numbers; ``fast_mode`` compares one random directional derivative per
    input instead of every element; ``check_grad_dtypes``: each gradient has its
    input's dtype; ``check_undefined_grad``: a zero output gradient gives zero input
    gradients; ``nondet_tol``: two backward passes may differ by at most this.
    ``check_batched_grad``, ``check_batched_forward_grad`` and ``masked`` are
    accepted and change nothing (vmap here is a loop; there are no sparse tensors).
    """
    if not (check_forward_ad or check_backward_ad):
        raise ValueError("gradcheck: expected at least one of check_forward_ad or "
                         "check_backward_ad to be True")
    inputs = _as_tuple(inputs)
    options = dict(eps=eps, atol=atol, rtol=rtol, nondet_tol=nondet_tol,
                   check_undefined_grad=check_undefined_grad,
                   check_grad_dtypes=check_grad_dtypes, check_forward_ad=check_forward_ad,
                   check_backward_ad=check_backward_ad, fast_mode=fast_mode)
    return _report(_check(_projected(func, "gradcheck"), inputs, "gradcheck", **options),
                   raise_exception)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """Like gradcheck, for second derivatives: the function checked is

        (x, v) ↦ Σ_i ⟨∂L_v/∂x_i, u_i⟩,   L_v = Σ_k Σ func(x)_k·v_k

    (u_i fixed random directions), whose gradient needs a double backward through func.
    ``grad_outputs`` (a Tensor or one per floating-point output) are the v_k; those
    that require grad are checked too (∂/∂v of a vector-Jacobian product). None: fixed
    random v_k that are not differentiated. ``check_rev_over_rev`` (reverse over
    reverse, the default) and ``check_fwd_over_rev`` (forward mode through the first
    backward) say what is compared; the other options are gradcheck's
    (``gen_non_contig_grad_outputs`` changes nothing: arrays here need no layout).
    """
    from tinygrad_opt.tensor import Tensor
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise ValueError("gradgradcheck: expected at least one of check_fwd_over_rev or "
                         "check_rev_over_rev to be True")
    inputs = _as_tuple(inputs)
    weights = None if grad_outputs is None else list(_as_tuple(grad_outputs))
    count = len(inputs)
    differentiable = [i for i, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad]
    rng = backend.np.random.default_rng(4321)
    directions = [Tensor(rng.standard_normal(inputs[i].shape), dtype=inputs[i].dtype,
                         device=inputs[i].device) for i in differentiable]

    def first_derivative_projected(*xs_and_vs):
        xs, vs = xs_and_vs[:count], xs_and_vs[count:]
        loss = _projected(func, "gradgradcheck", None if weights is None else list(vs))
        with grad_mode.enable_grad():  # also while _check perturbs inputs under no_grad
            grads = engine.grad(loss(*xs), [xs[i] for i in differentiable],
                                create_graph=True, allow_unused=True)
        total = None
        for grad, direction in zip(grads, directions):
            if grad is not None:
                term = (grad * direction).sum()
                total = term if total is None else total + term
        if total is None:
            raise GradcheckError("gradgradcheck: fn does not depend on its inputs")
        return total
    first_derivative_projected.outputs = lambda *xs: [first_derivative_projected(*xs)]
    options = dict(eps=eps, atol=atol, rtol=rtol, nondet_tol=nondet_tol,
                   check_undefined_grad=check_undefined_grad,
                   check_grad_dtypes=check_grad_dtypes, check_forward_ad=check_fwd_over_rev,
                   check_backward_ad=check_rev_over_rev, fast_mode=fast_mode)
    arguments = inputs + (() if weights is None else tuple(weights))
    return _report(_check(first_derivative_projected, arguments, "gradgradcheck", **options),
                   raise_exception)


def _report(failure, raise_exception: bool) -> bool:
    """``failure``: None, a message, or a function that writes it (a Jacobian mismatch,
    whose message costs full Jacobians: not written when it is not raised)."""
    if failure is None:
        return True
    if raise_exception:
        raise GradcheckError(failure() if callable(failure) else failure)
    return False


def _check(loss, inputs, name, *, eps, atol, rtol, nondet_tol, check_undefined_grad,
           check_grad_dtypes, check_forward_ad, check_backward_ad, fast_mode):
    """None if every check passes, else the message of the first failure (the worst
    element for a mismatch)."""
    positions = [index for index, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad]
    if not positions:
        raise ValueError(f"{name}: no input requires grad: {name} expects at least one input "
                         "tensor to require gradient, but none of them have requires_grad=True")
    for index in positions:
        # PyTorch warns and goes on: in float32 the check works with a larger eps and
        # tolerances (eps=1e-3, atol=1e-3, rtol=1e-2), with the defaults it fails
        if inputs[index].dtype != backend.float64:
            warnings.warn(f"{name}: Input #{index} requires gradient and is not a double "
                          f"precision floating point ({inputs[index].dtype}). This check will "
                          "likely fail unless eps, atol and rtol are raised for its precision",
                          UserWarning, stacklevel=3)
    checked = [inputs[i] for i in positions]
    directions = _directions(checked) if fast_mode else None
    numeric = [_numeric(loss, inputs, position, eps, directions and directions[k])
               for k, position in enumerate(positions)]
    analytic = {}  # what is compared with the numbers: "backward", "forward"
    if check_backward_ad:
        grads = _backward(loss, inputs, positions)
        analytic["backward"] = [_flat(grad, x, directions and directions[k])
                                for k, (grad, x) in enumerate(zip(grads, checked))]
    if check_forward_ad:
        analytic["forward"] = [_forward(loss, inputs, position, directions and directions[k])
                               for k, position in enumerate(positions)]
    worst = None  # (excess over tolerance, input position, mode, message)
    for mode, values in analytic.items():
        for position, exact_values, numeric_values in zip(positions, values, numeric):
            for i, (exact, number) in enumerate(zip(exact_values, numeric_values)):
                excess = _excess(exact, number, atol, rtol)
                if excess > 0 and (worst is None or excess > worst[0]):
                    where = ("along a random direction" if fast_mode else
                             f"element {_element(inputs[position], i)}")
                    worst = (excess, position, mode, f"input {position} {where}: {mode} "
                                                     f"{exact:.8g} vs numeric {number:.8g}")
    if worst is not None:
        _, position, mode, summary = worst
        return lambda: _mismatch_message(loss, inputs, position, mode, summary, name, eps,
                                         atol, rtol)
    if check_backward_ad:
        return _backward_properties(loss, inputs, positions, grads, name, nondet_tol,
                                    check_grad_dtypes, check_undefined_grad)
    return None


def _backward_properties(loss, inputs, positions, grads, name, nondet_tol,
                         check_grad_dtypes, check_undefined_grad):
    """The checks of backward beyond its numbers: the gradients' dtypes, a second pass
    giving the same gradients (within ``nondet_tol``), zeros in giving zeros out."""
    again = _backward(loss, inputs, positions)
    for position, grad, second in zip(positions, grads, again):
        if grad is None:
            continue
        x = inputs[position]
        if check_grad_dtypes and (grad.dtype != x.dtype or grad.device != x.device):
            return (f"{name}: the gradient of input {position} has dtype {grad.dtype} on "
                    f"'{grad.device}', the input {x.dtype} on '{x.device}'")
        difference = float(backend.to_host(abs(grad.data - second.data)).max(initial=0))
        if difference > nondet_tol:
            return (f"{name}: backward is not reentrant: two passes differ by "
                    f"{difference:.3g} for input {position} (nondet_tol={nondet_tol})")
    if check_undefined_grad:
        return _zero_in_zero_out(loss, inputs, positions, name)
    return None


def _mismatch_message(loss, inputs, position: int, mode: str, summary: str, name: str,
                      eps: float, atol: float, rtol: float) -> str:
    """PyTorch's message: the numeric and the analytic Jacobian ∂y_k/∂x (rows: the elements
    of x = inputs[position], columns: those of y_k) of the first output y_k where
    |analytic − numeric| ≤ atol + rtol·|numeric| fails (where none fails alone, though
    their weighted sum did: the output of the largest excess)."""
    np = backend.np
    numeric = _numeric_jacobians(loss.outputs, inputs, position, eps)
    analytic = _analytic_jacobians(loss.outputs, inputs, position, mode)
    excesses = [float(_excess(a, n, atol, rtol).max(initial=-np.inf))
                for a, n in zip(analytic, numeric)]
    failing = [k for k, excess in enumerate(excesses) if excess > 0]
    k = failing[0] if failing else int(np.argmax(excesses))
    return (f"{name}: Jacobian mismatch for output {k} with respect to input {position},\n"
            f"numerical:{numeric[k]}\nanalytical:{analytic[k]}\n"
            f"(the largest difference in L = Σ_k Σ y_k·w_k, random weights w_k: {summary})")


def _numeric_jacobians(outputs, inputs, position: int, eps: float) -> list:
    """∂y_k/∂x by central differences, one host array (x.size, y_k.size) per output."""
    np = backend.np
    x = inputs[position]
    rows = []
    for i in range(x.data.size):
        element = _element(x, i)
        original = x.data[element].item()
        with grad_mode.no_grad():
            x.data[element] = original + eps
            plus = [backend.to_host(y.data).reshape(-1) for y in outputs(*inputs)]
            x.data[element] = original - eps
            minus = [backend.to_host(y.data).reshape(-1) for y in outputs(*inputs)]
            x.data[element] = original
        rows.append([_quotient(p, m, eps) for p, m in zip(plus, minus)])
    with grad_mode.no_grad():
        sizes = [y.data.size for y in outputs(*inputs)]
    return [np.array([row[k] for row in rows], dtype=np.float64).reshape(x.data.size, size)
            for k, size in enumerate(sizes)]


def _analytic_jacobians(outputs, inputs, position: int, mode: str) -> list:
    """∂y_k/∂x by backward (one pass per element of y_k: a column) or by forward mode
    (one pass per element of x: a row), one host array (x.size, y_k.size) per output."""
    from tinygrad_opt.autograd import forward_ad
    from tinygrad_opt.factories import zeros_like
    np = backend.np
    x = inputs[position]

    def one_hot(like, j):
        basis = zeros_like(like).detach()
        basis.data[_element(like, j)] = 1.0
        return basis
    if mode == "forward":
        rows = []
        for i in range(x.data.size):
            with forward_ad.dual_level(), grad_mode.enable_grad():
                arguments = list(inputs)
                arguments[position] = forward_ad.make_dual(x, one_hot(x, i))
                tangents = [forward_ad.unpack_dual(y).tangent for y in outputs(*arguments)]
            rows.append([np.zeros(y.data.size) if t is None else
                         backend.to_host(t.data).reshape(-1).astype(np.float64)
                         for y, t in zip(outputs(*inputs), tangents)])
        sizes = [len(value) for value in rows[0]] if rows else [
            y.data.size for y in outputs(*inputs)]
        return [np.array([row[k] for row in rows], dtype=np.float64).reshape(x.data.size, size)
                for k, size in enumerate(sizes)]
    jacobians = []
    with grad_mode.enable_grad():
        for y in outputs(*inputs):
            jacobian = np.zeros((x.data.size, y.data.size))
            for j in range(y.data.size if y.requires_grad else 0):
                (grad,) = engine.grad(y, [x], one_hot(y, j), retain_graph=True,
                                      allow_unused=True)
                if grad is not None:
                    jacobian[:, j] = backend.to_host(grad.data).reshape(-1)
            jacobians.append(jacobian)
    return jacobians


def _element(x, i: int) -> tuple:
    return tuple(int(v) for v in backend.np.unravel_index(i, x.shape))


def _directions(tensors) -> list:
    """fast_mode: one random unit direction per checked input (a fixed seed)."""
    from tinygrad_opt.tensor import Tensor
    rng = backend.np.random.default_rng(2468)
    directions = []
    for x in tensors:
        u = rng.standard_normal(x.shape)
        u = u / max(float(backend.np.linalg.norm(u)), 1e-12)
        directions.append(Tensor(u, dtype=x.dtype, device=x.device))
    return directions


def _numeric(loss, inputs, position: int, eps: float, direction) -> list:
    """(L(x + ε·e_i) − L(x − ε·e_i)) / (2ε) for each element i of input ``position``
    (one number along ``direction`` instead, when given)."""
    x = inputs[position]
    if direction is not None:
        original = x.data.copy()
        with grad_mode.no_grad():
            x.data[...] = original + eps * direction.data
            plus = loss(*inputs).item()
            x.data[...] = original - eps * direction.data
            minus = loss(*inputs).item()
            x.data[...] = original
        return [float(_quotient(plus, minus, eps))]
    values = []
    for i in range(x.data.size):
        element = _element(x, i)
        original = x.data[element].item()  # (by index: x.data may not be contiguous)
        with grad_mode.no_grad():
            x.data[element] = original + eps
            plus = loss(*inputs).item()
            x.data[element] = original - eps
            minus = loss(*inputs).item()
            x.data[element] = original
        values.append(float(_quotient(plus, minus, eps)))
    return values


def _quotient(plus, minus, eps: float):
    """(plus − minus) / (2ε) in float64, as PyTorch's tensor division: ε = 0 gives NaN
    (or ±inf), never ZeroDivisionError, so that the check then fails as a mismatch."""
    np = backend.np
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(np.subtract(plus, minus, dtype=np.float64), np.float64(2 * eps))


def _excess(exact, number, atol: float, rtol: float):
    """|exact − number| − (atol + rtol·|number|): positive where torch.allclose fails,
    +inf where either is NaN (never close) and −inf where both are the same infinity
    (close, as in allclose)."""
    np = backend.np
    exact, number = np.asarray(exact, dtype=np.float64), np.asarray(number, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        excess = np.abs(exact - number) - (atol + rtol * np.abs(number))
    excess = np.where(exact == number, -np.inf, excess)
    return np.where(np.isnan(excess), np.inf, excess)


def _backward(loss, inputs, positions) -> list:
    """∂L/∂x for each checked input (None where L does not depend on it)."""
    with grad_mode.enable_grad():
        output = loss(*inputs)
        if not output.requires_grad:  # L does not depend on the inputs (a linear op's
            return [None] * len(positions)  # derivative, in gradgradcheck)
        return list(engine.grad(output, [inputs[i] for i in positions], allow_unused=True))


def _zero_in_zero_out(loss, inputs, positions, name: str):
    """check_undefined_grad: a backward from a zero output gradient gives zeros."""
    with grad_mode.enable_grad():
        output = loss(*inputs)
        if not output.requires_grad:
            return None
        zero = output.detach() * 0
        grads = engine.grad(output, [inputs[i] for i in positions], zero, allow_unused=True)
    for position, grad in zip(positions, grads):
        if grad is not None and bool(backend.to_host((grad.data != 0).any())):
            return (f"{name}: a zero output gradient gives a nonzero (or NaN) gradient for "
                    f"input {position}: backward must treat a missing gradient as zeros")
    return None


def _flat(grad, x, direction) -> list:
    """The gradient as host floats, one per element (zeros for None); along
    ``direction``: the one number ⟨grad, direction⟩."""
    if grad is None:
        return [0.0] if direction is not None else [0.0] * x.data.size
    if direction is not None:
        return [float(backend.to_host((grad.data * direction.data).sum()))]
    return [float(value) for value in backend.to_host(grad.data).reshape(-1)]


def _forward(loss, inputs, position: int, direction) -> list:
    """The tangent of L by forward mode, for the tangent e_i of input ``position`` (one
    pass per element), or for ``direction``."""
    from tinygrad_opt.autograd import forward_ad
    from tinygrad_opt.factories import zeros_like
    x = inputs[position]
    if direction is not None:
        tangents = [direction]
    else:
        tangents = []
        for i in range(x.data.size):
            tangent = zeros_like(x).detach()
            tangent.data[_element(x, i)] = 1.0
            tangents.append(tangent)
    values = []
    for tangent in tangents:
        with forward_ad.dual_level(), grad_mode.enable_grad():
            arguments = list(inputs)
            arguments[position] = forward_ad.make_dual(x, tangent)
            result = forward_ad.unpack_dual(loss(*arguments)).tangent
        values.append(0.0 if result is None else float(backend.to_host(result.data)))
    return values
