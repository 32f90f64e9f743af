"""Adamax: Adam with the second moment replaced by a running maximum (the infinity norm)."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import (Optimizer, check_betas, check_non_negative, elementwise,
                                          maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options
from tinygrad_opt.optim.state import state_arrays


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2015, section 7.1).

    Adam divides by the root of a running mean of g²; Adamax divides by a
    running maximum of |g| that decays by β2 each step (the limit p → ∞ of an
    Lp-norm version of Adam). The maximum needs no bias correction; the first
    moment still does. With learning rate γ, betas (β1, β2), ε and weight
    decay λ, at step t = 1, 2, ...::

        g ← −g                              if maximize
        g ← g + λ·θ                         if λ ≠ 0
        m ← β1·m + (1−β1)·g                 first moment: running mean of g
        u ← max(β2·u, |g| + ε)              decaying running maximum of |g|
        m̂ ← m / (1 − β1^t)                  bias correction of m only
        θ ← θ − γ·m̂ / u

    ε sits inside the maximum, as in PyTorch, so u > 0 from the first step.
    State per parameter: ``'step'`` (t), ``'exp_avg'`` (m), ``'exp_inf'`` (u).

    There is no compiled twin of this rule in ``optim/fused.py``, so there is no
    ``fused`` option (PyTorch's Adamax has none either): every device runs this
    readable rule.

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: learning rate γ.
        betas: (β1, β2): the decay of the mean of g and of the maximum of |g|.
        eps: ε, the smallest value of u.
        weight_decay: L2 penalty λ.
        foreach, capturable, differentiable: PyTorch's implementation switches: any
            ``foreach`` is accepted (one code path); ``capturable=True`` raises (the update
            reads its step count on the host);
            ``differentiable=True`` raises (``optim/pytorch_options.py``).
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False):
        check_pytorch_options("Adamax", differentiable=differentiable, capturable=capturable)
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_betas(betas)
        check_non_negative("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        t = state["step"] = state.get("step", 0) + 1           # t ← t + 1
        m, u = state_arrays(state, theta, "exp_avg", "exp_inf")     # m, u start at 0

        g = maximize_and_decay(theta, g, group)                # g ← −g; g ← g + λ·θ
        m *= beta1                                             # m ← β1·m + (1−β1)·g (in place)
        m += (1 - beta1) * g
        u[...] = xp.maximum(beta2 * u, xp.abs(g) + eps)        # u ← max(β2·u, |g| + ε)
        m_hat = m / (1 - beta1 ** t)                           # m̂ ← m / (1 − β1^t)
        theta -= lr * m_hat / u                                # θ ← θ − γ·m̂ / u
