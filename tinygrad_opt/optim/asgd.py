"""ASGD: SGD with a decaying step size and a running average of the iterates."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt.optim.optimizer import (Optimizer, check_non_negative, elementwise,
                                          maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options
from tinygrad_opt.optim.state import state_arrays


class ASGD(Optimizer):
    r"""ASGD, averaged stochastic gradient descent (Polyak & Juditsky, 1992), with the
    step-size schedule of Bottou ("Stochastic Gradient Descent Tricks", 2012).

    θ follows plain SGD with a step size η that decays as t^(−α); from step t0
    on, ``state['ax']`` keeps the running mean of the iterates θ since t0, which
    converges faster than θ itself (evaluate the model with ax, not θ). Before
    t0 (μ = 1) ax is just a copy of θ. With learning rate γ, decay λ
    (``lambd``, an L2 strength: θ shrinks by λ·η), power α, weight decay ω,
    at step t = 1, 2, ...::

        g ← −g                              if maximize
        g ← g + ω·θ                         if ω ≠ 0
        θ ← (1 − λ·η)·θ                     decay term (η starts at γ)
        θ ← θ − η·g
        ax ← ax + μ·(θ − ax)                if μ ≠ 1 (μ starts at 1)
        ax ← θ                              if μ = 1
        η ← γ / (1 + λ·γ·t)^α               the step size of the next step
        μ ← 1 / max(1, t − t0)              the averaging weight of the next step

    State per parameter: ``'step'`` (t), ``'eta'`` (η) and ``'mu'`` (μ) (Python
    floats), ``'ax'`` (the averaged parameters). η starts at the group's γ of
    the first step; afterwards a changed γ enters through the η line.

    There is no compiled twin of this rule in ``optim/fused.py``, so there is no
    ``fused`` option (PyTorch's ASGD has none either): every device runs this
    readable rule.

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: learning rate γ.
        lambd: decay term λ.
        alpha: power α of the step-size decay.
        t0: the step from which ax averages the iterates.
        weight_decay: L2 penalty ω.
        foreach, capturable, differentiable: PyTorch's implementation switches: any
            ``foreach`` is accepted (one code path); ``capturable=True`` raises (the update
            reads its step count on the host);
            ``differentiable=True`` raises (``optim/pytorch_options.py``).
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        check_pytorch_options("ASGD", differentiable=differentiable, capturable=capturable)
        check_non_negative("learning rate", lr)
        check_non_negative("weight_decay value", weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        lr = group["lr"]
        lambd = group["lambd"]
        alpha = group["alpha"]
        t0 = group["t0"]
        t = state["step"] = state.get("step", 0) + 1           # t ← t + 1
        eta = state.setdefault("eta", lr)                      # η starts at γ
        mu = state.setdefault("mu", 1.0)                       # μ starts at 1
        [ax] = state_arrays(state, theta, "ax")                # ax starts at 0

        g = maximize_and_decay(theta, g, group)                # g ← −g; g ← g + ω·θ
        theta *= 1 - lambd * eta                               # θ ← (1 − λ·η)·θ
        theta -= eta * g                                       # θ ← θ − η·g
        if mu != 1:
            ax += mu * (theta - ax)                            # ax ← ax + μ·(θ − ax)
        else:
            ax[...] = theta                                    # ax ← θ
        state["eta"] = lr / (1 + lambd * lr * t) ** alpha      # η ← γ / (1 + λ·γ·t)^α
        state["mu"] = 1 / max(1, t - t0)                       # μ ← 1 / max(1, t − t0)
