r"""Newton's method with the exact Hessian from double backward.

The notes' second-order update:

    θ ← θ − [H f(θ)]⁻¹ ∇f(θ)

It minimises the local quadratic model f(θ + d) ≈ f + gᵀd + ½ dᵀH d exactly,
so it needs no learning rate and, near a minimum with H positive definite,
converges quadratically: the error roughly squares at every step. We solve the
linear system instead of inverting H, and allow a damped, scaled step:

    (H + λ·I) d = g          (λ = ``damping``; λ > 0 also fixes a singular or indefinite H)
    θ ← θ − lr·d

Why it is impractical for deep nets: a model with n parameters has an n × n
Hessian, O(n²) memory (a million parameters: 10¹² numbers, 4 TB in float32),
and solving the system costs O(n³). Building H by double backward takes one
backward pass per row, n passes. Hence ``max_params`` (default 2000: H has
4 million entries) and the error above it; L-BFGS approximates H⁻¹·g with
O(m·n) memory instead.
"""

from __future__ import annotations

from typing import Callable, Iterable

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import keep_graph
from tinygrad_opt.autograd.grad_mode import enable_grad, no_grad
from tinygrad_opt.optim.optimizer import Optimizer, check_non_negative

CLOSURE_HELP = (
    "the optimizer differentiates the loss twice itself, so the closure must leave the "
    "loss's graph alive: the usual closure (zero_grad(); loss = ...; loss.backward(); "
    "return loss) does, since step() runs it under keep_graph(); do not free the graph "
    "some other way (e.g. tg.grad without retain_graph)")


def loss_with_graph(closure: Callable, owner: str):
    """Call ``closure`` with grad recording on and check its loss can be differentiated.

    A plain ``loss.backward()`` would free the graph of the loss (the saved
    values of every op), and second derivatives need it: ``keep_graph()`` makes
    that backward retain it.
    """
    if closure is None:
        raise RuntimeError(f"{owner}.step needs a closure that re-evaluates the model and "
                           f"returns the loss; {CLOSURE_HELP}")
    with enable_grad(), keep_graph():  # the closure's loss.backward() keeps the graph
        loss = closure()
    if not isinstance(loss, tg.Tensor):
        raise TypeError(f"{owner}: the closure must return the loss as a Tensor, "
                        f"got {type(loss).__name__}")
    if loss.data.size != 1:
        raise RuntimeError(f"{owner}: the closure must return a scalar loss, got shape "
                           f"{loss.shape}")
    if not loss.requires_grad:
        raise RuntimeError(f"{owner}: the closure's loss does not depend on any parameter "
                           "that requires grad (was it computed under no_grad?)")
    if loss.grad_fn is not None and getattr(loss.grad_fn, "freed", False):
        raise RuntimeError(f"{owner}: the closure freed the loss's graph (a backward or "
                           f"tg.grad without retain_graph); {CLOSURE_HELP}")
    return loss.reshape(())


class Newton(Optimizer):
    r"""Newton's method: solve (H + λ·I) d = g with the exact Hessian, then θ ← θ − lr·d.

    One ``step(closure)`` is one Newton iteration over all parameters jointly
    (the flat vector θ of size n):

        g = ∇f(θ)                         (n,)     tg.grad(loss, params, create_graph=True)
        H_i = ∇(g_i)      for i = 1..n    (n, n)   one more backward per row
        (H + λ·I) d = g                           xp.linalg.solve
        θ ← θ − lr·d

    Usage::

        optimizer = Newton(model.parameters())
        def closure():
            return loss_fn(model(X), y)       # no backward(): Newton differentiates itself
        for _ in range(10):
            optimizer.step(closure)

    The usual closure (``zero_grad(); loss.backward(); return loss``) works
    too: ``step`` runs it under ``keep_graph()``, so its backward fills ``.grad``
    and keeps the graph Newton needs. A closure that frees the graph some other
    way (``tg.grad`` without ``retain_graph``) is refused with an explanation.

    Args:
        params: the Tensors to optimize (one group, all on one device).
        lr: the step scale (1 is the pure Newton step).
        damping: λ ≥ 0 added to the diagonal of H (Levenberg-style damping).
        max_params: the largest n accepted (O(n²) memory, O(n³) solve).

    State (on the first parameter): ``'n_iter'``, the number of steps taken.
    """

    def __init__(self, params: Iterable, lr: float = 1.0, damping: float = 0.0,
                 max_params: int = 2000):
        check_non_negative("learning rate", lr)
        check_non_negative("damping", damping)
        super().__init__(params, dict(lr=lr, damping=damping))
        self.max_params = max_params
        devices = sorted({p.device for p in self._params})
        if len(devices) != 1:
            raise ValueError(f"Newton: all parameters must be on one device, got {sorted(map(str, devices))}")
        self._check_size()

    @property
    def _params(self) -> list:
        """The one group's parameters (read from the group, so copies and pickles agree)."""
        return self.param_groups[0]["params"]

    def __getstate__(self) -> dict:
        """Optimizer's entries plus ``max_params`` (copy.deepcopy and pickle keep it)."""
        return {**super().__getstate__(), "max_params": self.max_params}

    def add_param_group(self, param_group: dict) -> None:
        """Only the constructor's one group: step() would silently skip a second one."""
        if self.param_groups:
            raise ValueError("Newton doesn't support per-parameter options (parameter groups): "
                             "it solves one linear system for all parameters jointly")
        super().add_param_group(param_group)

    def _check_size(self) -> int:
        n = sum(p.data.size for p in self._params)
        if n > self.max_params:
            raise ValueError(
                f"Newton: the parameters have {n} elements, above the limit "
                f"max_params={self.max_params}. The Hessian would hold n² = {n * n:,} numbers "
                "(O(n²) memory), take n backward passes to build and O(n³) to solve. Use "
                "LBFGS for large models, or raise max_params if you know it fits.")
        return n

    def _hessian(self, flat_grad, params) -> object:
        """H (n, n): row i is ∇(g_i), by one backward pass through g's graph per row."""
        xp = backend.get_xp(flat_grad.device)
        n = flat_grad.shape[0]
        rows = []
        for i in range(n):
            if not flat_grad.requires_grad:  # g does not depend on θ: f is linear, H = 0
                rows.append(xp.zeros(n, dtype=flat_grad.dtype))
                continue
            with enable_grad():
                row_grads = tg.grad(flat_grad[i], params, retain_graph=True, allow_unused=True)
            rows.append(xp.concatenate([
                xp.zeros(p.data.size, dtype=p.dtype) if row_grad is None
                else row_grad.data.reshape(-1)
                for p, row_grad in zip(params, row_grads)]))                # (n,)
        return xp.stack(rows)                                                # (n, n)

    def step(self, closure: Callable):
        """One Newton iteration; returns the closure's loss (before the update)."""
        n = self._check_size()
        group = self.param_groups[0]
        lr = group["lr"]
        damping = group["damping"]
        params = [p for p in self._params if p.requires_grad]
        loss = loss_with_graph(closure, "Newton")

        with enable_grad():
            grads = tg.grad(loss, params, create_graph=True, allow_unused=True)
            grads = [tg.zeros_like(p) if grad is None else grad for p, grad in zip(params, grads)]
            flat_grad = tg.cat([grad.reshape(-1) for grad in grads])       # g (n,)
        H = self._hessian(flat_grad, params)                                # H (n, n)

        with no_grad():
            xp = backend.get_xp(flat_grad.device)
            g = flat_grad.data                                              # (n,)
            if not (xp.isfinite(g).all().item() and xp.isfinite(H).all().item()):
                raise RuntimeError(
                    "Newton: the gradient or Hessian of the loss is not finite (nan or inf); "
                    "check the loss and the parameters (damping cannot fix this)")
            system = H + damping * xp.eye(H.shape[0], dtype=H.dtype)        # H + λ·I
            try:
                d = xp.linalg.solve(system, g)                              # (H + λI) d = g
                solved = xp.isfinite(d).all().item()  # CuPy returns inf/nan instead of raising
            except Exception as error:
                if type(error).__name__ != "LinAlgError":  # NumPy's singular-matrix error
                    raise
                solved = False
            if not solved:
                raise RuntimeError(
                    f"Newton: the Hessian (+ damping·I) of the {n} parameters is singular; "
                    "use damping > 0")
            offset = 0
            for p in params:
                numel = p.data.size
                p.data -= lr * d[offset:offset + numel].reshape(p.shape)    # θ ← θ − lr·d
                p._version += 1  # a graph that saved p before this step now refuses backward
                offset += numel

        state = self.state[self._params[0]]
        state["n_iter"] = state.get("n_iter", 0) + 1
        return loss
