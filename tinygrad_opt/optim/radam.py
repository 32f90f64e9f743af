"""RAdam: Adam whose adaptive step starts, rectified, once its variance is finite."""

from __future__ import annotations

import math
from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import (Optimizer, check_betas, check_non_negative, elementwise,
                                          maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options
from tinygrad_opt.optim.state import state_arrays


class RAdam(Optimizer):
    r"""RAdam, rectified Adam (Liu et al., 2020, "On the Variance of the Adaptive
    Learning Rate and Beyond").

    In Adam's first steps v averages only a few g², so the adaptive factor
    1/√v̂ has a large (for t ≤ 4, unbounded) variance: the reason Adam needs a
    warm-up. RAdam estimates the length ρ_t of the simple moving average that
    v approximates; while ρ_t ≤ 5 it takes plain momentum steps (no division by
    √v), afterwards Adam steps scaled by a factor r_t that makes the variance
    of the adaptive factor that of its limit (r_t → 1 as t → ∞). With
    learning rate γ, betas (β1, β2), ε, weight decay λ, at step t = 1, 2, ...::

        g ← −g                                          if maximize
        g ← g + λ·θ                                     if λ ≠ 0
        θ ← θ − γ·λ·θ                                   instead, if decoupled_weight_decay
        m ← β1·m + (1−β1)·g
        v ← β2·v + (1−β2)·g²
        m̂ ← m / (1 − β1^t)
        ρ_∞ ← 2/(1−β2) − 1                              the longest average v can be
        ρ_t ← ρ_∞ − 2t·β2^t / (1 − β2^t)                the length of the average now
        if ρ_t > 5:
            l ← √(1 − β2^t) / (√v + ε)                  the adaptive factor
            r ← √((ρ_t−4)(ρ_t−2)ρ_∞ / ((ρ_∞−4)(ρ_∞−2)ρ_t))   the rectification
            θ ← θ − γ·m̂·r·l
        else:
            θ ← θ − γ·m̂                                 SGD with (bias-corrected) momentum

    With the default β2 = 0.999 the first five steps are momentum steps
    (ρ_5 ≈ 4.996, ρ_6 ≈ 5.994); with β2 ≤ 0.6 (ρ_∞ ≤ 4) every step is. ε is added to √v,
    as in PyTorch (not to √v̂).

    State per parameter: ``'step'`` (t), ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v).
    There is no compiled twin of this rule in ``optim/fused.py``, so there is no
    ``fused`` option (PyTorch's RAdam has none either): every device runs this
    readable rule.

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: learning rate γ.
        betas: (β1, β2).
        eps: ε, added to √v.
        weight_decay: weight decay λ.
        decoupled_weight_decay: shrink θ directly (as AdamW: "RAdamW") instead of
            adding λ·θ to g.
        foreach, capturable, differentiable: PyTorch's implementation switches: any
            ``foreach`` is accepted (one code path); ``capturable=True`` raises (the update
            reads its step count on the host);
            ``differentiable=True`` raises (``optim/pytorch_options.py``).
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, maximize: bool = False, *,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False):
        check_pytorch_options("RAdam", differentiable=differentiable, capturable=capturable)
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_betas(betas)
        check_non_negative("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        t = state["step"] = state.get("step", 0) + 1           # t ← t + 1
        m, v = state_arrays(state, theta, "exp_avg", "exp_avg_sq")   # m, v start at 0

        g = maximize_and_decay(theta, g, group)    # g ← −g; θ ← θ − γ·λ·θ or g ← g + λ·θ
        m *= beta1                                             # m ← β1·m + (1−β1)·g (in place)
        m += (1 - beta1) * g
        v *= beta2                                             # v ← β2·v + (1−β2)·g² (in place)
        v += (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)                           # m̂ ← m / (1 − β1^t)
        rho_inf = 2 / (1 - beta2) - 1                          # ρ_∞ ← 2/(1−β2) − 1
        rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)    # ρ_t ← ρ_∞ − 2t·β2^t/(1−β2^t)
        if rho_t > 5:
            l_t = math.sqrt(1 - beta2 ** t) / (xp.sqrt(v) + eps)   # l ← √(1 − β2^t) / (√v + ε)
            r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf    # r ← √((ρ_t−4)(ρ_t−2)ρ_∞
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t))  # / ((ρ_∞−4)(ρ_∞−2)ρ_t))
            theta -= lr * m_hat * r_t * l_t                    # θ ← θ − γ·m̂·r·l
        else:
            theta -= lr * m_hat                                # θ ← θ − γ·m̂
