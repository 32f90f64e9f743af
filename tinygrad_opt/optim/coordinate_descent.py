r"""Cyclic proximal coordinate descent for an L1-penalised objective.

Minimise F(w) = f(w) + l1·‖w‖₁ with f smooth (e.g. the least-squares loss:
then F is the Lasso). ‖w‖₁ = Σ|w_j| has no derivative at w_j = 0, which is
where the notes say coordinate descent helps: fix every coordinate but one and
solve the one-dimensional problem for that one exactly.

For coordinate j, with g_j = ∂f/∂w_j and h_j = ∂²f/∂w_j² at the current w,
f along that axis is (exactly, when f is quadratic) the parabola

    f(w_j + δ) = f + g_j·δ + ½·h_j·δ²

and the minimiser of   ½·h_j·(v − z)² + l1·|v|   with  z = w_j − g_j/h_j  is

    w_j ← S(z, l1/h_j),       S(z, τ) = sign(z)·max(|z| − τ, 0)    (soft-thresholding)

S sets w_j to exactly 0 whenever |z| ≤ l1/h_j, i.e. whenever |∂f/∂w_j at w_j = 0|
≤ l1: the subdifferential of l1·|v| at 0 is the whole interval [−l1, l1], so
0 is optimal for that coordinate. A (sub)gradient step w ← w − α·(g + l1·sign(w))
cannot do this: it only ever lands on 0 by coincidence, overshoots it and
oscillates around it (sign(w) flips the push at every step), so its "zeros"
are tiny numbers of size ~α·l1, never exact. Soft-thresholding is the exact
minimiser, so the sparsity of the Lasso appears as true zeros.

One ``step(closure)`` is one sweep j = 1, 2, ..., n over every coordinate of
every parameter, in order. For least squares, f(w) = ‖Xw − y‖²/(2N), this is
the classic Lasso coordinate descent (h_j = ‖X_j‖²/N,
g_j = −X_jᵀ(y − Xw)/N) and it converges to the Lasso optimum. For a
non-quadratic f it is the proximal Newton step per coordinate (exact f' and
f'' at the current point, then the L1 proximal map) and needs f convex along
each axis (h_j > 0).
"""

from __future__ import annotations

from typing import Callable, Iterable

import tinygrad_opt as tg
from tinygrad_opt.autograd.grad_mode import enable_grad
from tinygrad_opt.optim.newton import loss_with_graph
from tinygrad_opt.optim.optimizer import Optimizer, check_non_negative


def soft_threshold(z: float, threshold: float) -> float:
    """S(z, τ) = sign(z)·max(|z| − τ, 0): the exact minimiser of ½(v − z)² + τ·|v|.

    Like the formula, S(nan, τ) is nan: a nan gradient or weight must show in
    the result, not turn into an exact (and plausible-looking) zero.
    """
    if z != z:  # nan
        return z
    if z > threshold:
        return z - threshold
    if z < -threshold:
        return z + threshold
    return 0.0


def _unravel(flat_index: int, shape: tuple) -> tuple:
    """The multi-index of element ``flat_index`` of an array of ``shape`` (C order)."""
    index = []
    for size in reversed(shape):
        flat_index, position = divmod(flat_index, size)
        index.append(position)
    return tuple(reversed(index))


class CoordinateDescent(Optimizer):
    r"""Proximal coordinate descent on f(w) + l1·‖w‖₁; one ``step`` = one full cyclic sweep.

    For each coordinate j of each parameter, in order::

        g_j = ∂f/∂w_j,  h_j = ∂²f/∂w_j²          (autograd: grad with create_graph, then again)
        z   = w_j − g_j / h_j                      (the 1-D Newton step on f)
        w_j ← S(z, l1 / h_j)                       (soft-threshold: exact zeros)

    The closure is re-evaluated before every coordinate (f changes when
    w_j moves); like ``Newton``'s it must leave the loss's graph alive::

        optimizer = CoordinateDescent([w], l1=0.1)
        def closure():
            return ((X @ w - y) ** 2).mean() / 2      # f only: the L1 term is ours
        for sweep in range(100):
            optimizer.step(closure)

    Args:
        params: the Tensors to optimize; parameter groups may set their own ``l1``.
        l1: the L1 penalty strength, ≥ 0 (0: plain exact coordinate minimisation).

    Returns (from ``step``): the closure's loss at the start of the sweep (f
    without the penalty). State (per parameter): ``'step'``, the sweeps done.
    Raises if some h_j ≤ 0 (f is not convex along that coordinate, or does
    not depend on it): the 1-D model then has no minimiser to jump to.
    """

    def __init__(self, params: Iterable, l1: float = 0.0):
        check_non_negative("l1", l1)
        super().__init__(params, dict(l1=l1))

    def _coordinate_derivatives(self, closure: Callable, p, flat_index: int):
        """(f, ∂f/∂w_j, ∂²f/∂w_j²) at the current w for element ``flat_index`` of ``p``."""
        loss = loss_with_graph(closure, "CoordinateDescent")
        with enable_grad():
            (grad,) = tg.grad(loss, [p], create_graph=True, allow_unused=True)
            if grad is None:
                return loss, 0.0, 0.0  # f does not depend on p
            g_j = grad.reshape(-1)[flat_index]                        # ∂f/∂w_j
            if not g_j.requires_grad:
                return loss, g_j.item(), 0.0  # f is linear in p
            (second,) = tg.grad(g_j, [p], allow_unused=True)
        h_j = 0.0 if second is None else second.reshape(-1)[flat_index].item()  # ∂²f/∂w_j²
        return loss, g_j.item(), h_j

    def step(self, closure: Callable):
        """One cyclic sweep over every coordinate; returns the loss before the sweep."""
        first_loss = None
        for group_number, group in enumerate(self.param_groups):
            l1 = group["l1"]
            for param_number, p in enumerate(group["params"]):
                if not p.requires_grad:
                    continue
                for j in range(p.data.size):
                    loss, g_j, h_j = self._coordinate_derivatives(closure, p, j)
                    if first_loss is None:
                        first_loss = loss.detach()
                    if not h_j > 0:
                        raise RuntimeError(
                            f"CoordinateDescent: ∂²f/∂w_j² = {h_j} ≤ 0 at element {j} of "
                            f"parameter {param_number} (shape {p.shape}) in group "
                            f"{group_number}: f must be strictly convex along every "
                            "coordinate (least squares: no all-zero feature column)")
                    index = _unravel(j, p.shape)
                    w_j = p.data[index].item()
                    z = w_j - g_j / h_j                                 # z ← w_j − g_j/h_j
                    p.data[index] = soft_threshold(z, l1 / h_j)         # w_j ← S(z, l1/h_j)
                    p._version += 1  # (a graph that saved p before now refuses backward)
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
        return first_loss
