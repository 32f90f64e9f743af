"""Adagrad: per-parameter learning rates from the sum of squared gradients."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import (Optimizer, check_non_negative, elementwise,
                                          maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011).

    Each coordinate's step is divided by the root of the sum of all its past
    squared gradients: coordinates with large gradients slow down, rare ones
    keep large steps. With learning rate γ, decay η, weight decay λ, at step t::

        g ← −g                              if maximize
        g ← g + λ·θ                         if λ ≠ 0
        γ̃ ← γ / (1 + (t−1)·η)               learning-rate decay
        s ← s + g²                          s starts at initial_accumulator_value
        θ ← θ − γ̃·g / (√s + ε)

    State per parameter: ``'step'`` (t), ``'sum'`` (s).

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: learning rate γ.
        lr_decay: η.
        weight_decay: L2 penalty λ.
        initial_accumulator_value: the starting value of every entry of s.
        eps: ε, added to the denominator.
        foreach, differentiable: PyTorch's implementation switches: any ``foreach``
            is accepted (one code path), ``differentiable=True`` raises
            (``optim/pytorch_options.py``).
        maximize: climb the objective instead of descending it.
        fused: run a compiled twin of this rule (``optim/fused.py``): a CuPy kernel
            on 'cuda', a Numba kernel on 'cpu' (the ``fast`` extra). None = the twin
            where it pays (the GPU; CPU groups of 65,536+ parameters), False = never.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        check_pytorch_options("Adagrad", differentiable=differentiable)
        check_non_negative("learning rate", lr)
        check_non_negative("lr_decay value", lr_decay)
        check_non_negative("weight_decay value", weight_decay)
        check_non_negative("initial_accumulator_value value", initial_accumulator_value)
        check_non_negative("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        lr = group["lr"]
        lr_decay = group["lr_decay"]
        eps = group["eps"]
        t = state["step"] = state.get("step", 0) + 1           # t ← t + 1
        if "sum" not in state:
            state["sum"] = xp.full_like(theta, group["initial_accumulator_value"])
        s = state["sum"]

        g = maximize_and_decay(theta, g, group)                # g ← −g; g ← g + λ·θ
        lr_t = lr / (1 + (t - 1) * lr_decay)                   # γ̃ ← γ / (1 + (t−1)·η)
        s += g * g                                             # s ← s + g²
        theta -= lr_t * g / (xp.sqrt(s) + eps)                 # θ ← θ − γ̃·g / (√s + ε)
