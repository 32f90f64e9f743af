"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import (Optimizer, check_betas, check_non_negative, elementwise,
                                          maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options
from tinygrad_opt.optim.state import state_arrays


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016): Adam whose first moment looks one step ahead.

    The momentum coefficient follows a warm-up schedule μ_t with decay ψ, and
    Π_t = μ_1·μ_2···μ_t is its running product. With learning rate γ, betas
    (β1, β2), weight decay λ, at step t = 1, 2, ...::

        g ← −g                                          if maximize
        g ← g + λ·θ                                     if λ ≠ 0
        θ ← θ − γ·λ·θ                                   instead, if decoupled_weight_decay
        μ_t ← β1·(1 − ½·0.96^(t·ψ))
        μ_{t+1} ← β1·(1 − ½·0.96^((t+1)·ψ))
        Π_t ← Π_{t−1}·μ_t                               Π_0 = 1
        m ← β1·m + (1−β1)·g
        v ← β2·v + (1−β2)·g²
        m̂ ← μ_{t+1}·m / (1 − Π_t·μ_{t+1}) + (1−μ_t)·g / (1 − Π_t)
        v̂ ← v / (1 − β2^t)
        m̂ ← μ_{t+1}·m + (1−μ_t)·g,  v̂ ← v    instead, if not bias_correction
        θ ← θ − γ·m̂ / (√v̂ + ε)

    Without bias correction it is the notes' Adam (``x += -lr * m / (sqrt(v) +
    eps)``, ``Adam(bias_correction=False)``) with Nesterov's look-ahead in m̂.

    State per parameter: ``'step'`` (t), ``'mu_product'`` (Π_t, a Python float),
    ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v).

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: learning rate γ.
        betas: (β1, β2).
        eps: ε, added to the denominator.
        weight_decay: weight decay λ.
        momentum_decay: ψ.
        decoupled_weight_decay: shrink θ directly (as AdamW) instead of adding λ·θ to g.
        foreach, capturable, differentiable: PyTorch's implementation switches: any
            ``foreach`` is accepted (one code path); ``capturable=True`` raises (the update
            reads its step count on the host);
            ``differentiable=True`` raises (``optim/pytorch_options.py``).
        maximize: climb the objective instead of descending it.
        bias_correction: divide by 1 − Π and 1 − β2^t as above (Dozat, PyTorch); False
            drops the three divisions (the notes' form, as ``Adam``'s option).
        fused: run a compiled twin of this rule (``optim/fused.py``): a CuPy kernel
            on 'cuda', a Numba kernel on 'cpu' (the ``fast`` extra). None = the twin
            where it pays (the GPU; CPU groups of 65,536+ parameters), False = never.
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, maximize: bool = False,
                 fused: bool | None = None, bias_correction: bool = True, *,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False):
        check_pytorch_options("NAdam", differentiable=differentiable, capturable=capturable)
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_betas(betas)
        check_non_negative("weight_decay value", weight_decay)
        check_non_negative("momentum_decay value", momentum_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        fused=fused, bias_correction=bias_correction)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        psi = group["momentum_decay"]
        t = state["step"] = state.get("step", 0) + 1           # t ← t + 1
        state.setdefault("mu_product", 1.0)                    # Π_0 = 1
        m, v = state_arrays(state, theta, "exp_avg", "exp_avg_sq")   # m, v start at 0

        g = maximize_and_decay(theta, g, group)    # g ← −g; θ ← θ − γ·λ·θ or g ← g + λ·θ
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * psi))           # μ_t ← β1·(1 − ½·0.96^(t·ψ))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))  # μ_{t+1}
        state["mu_product"] *= mu_t                            # Π_t ← Π_{t−1}·μ_t
        mu_product = state["mu_product"]
        m *= beta1                                             # m ← β1·m + (1−β1)·g (in place)
        m += (1 - beta1) * g
        v *= beta2                                             # v ← β2·v + (1−β2)·g² (in place)
        v += (1 - beta2) * g * g
        if group["bias_correction"]:
            m_hat = (mu_next * m / (1 - mu_product * mu_next)  # m̂ ← μ_{t+1}·m / (1 − Π_t·μ_{t+1})
                     + (1 - mu_t) * g / (1 - mu_product))      #      + (1−μ_t)·g / (1 − Π_t)
            v_hat = v / (1 - beta2 ** t)                       # v̂ ← v / (1 − β2^t)
        else:
            m_hat = mu_next * m + (1 - mu_t) * g               # m̂ ← μ_{t+1}·m + (1−μ_t)·g
            v_hat = v                                          # v̂ ← v
        theta -= lr * m_hat / (xp.sqrt(v_hat) + eps)           # θ ← θ − γ·m̂ / (√v̂ + ε)
