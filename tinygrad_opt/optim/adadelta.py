"""Adadelta: steps whose units match the parameters', with no global learning rate needed."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import (Optimizer, check_non_negative, check_unit_closed,
                                          elementwise, maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options
from tinygrad_opt.optim.state import state_arrays


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012).

    Like RMSprop, but the step is scaled by a running RMS of past *updates*
    instead of a learning rate, so it has the units of θ. With decay ρ, weight
    decay λ and an extra factor γ (PyTorch's ``lr``, 1.0 in the paper)::

        g ← −g                              if maximize
        g ← g + λ·θ                         if λ ≠ 0
        v ← ρ·v + (1−ρ)·g²                  running mean of g²
        Δx ← √(u + ε) / √(v + ε) · g        the update, RMS[Δx] / RMS[g] · g
        u ← ρ·u + (1−ρ)·Δx²                 running mean of Δx²
        θ ← θ − γ·Δx

    State per parameter: ``'step'``, ``'square_avg'`` (v), ``'acc_delta'`` (u).

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: γ, a factor on the update.
        rho: decay ρ of both running means.
        eps: ε, inside both square roots.
        weight_decay: L2 penalty λ.
        foreach, capturable, differentiable: PyTorch's implementation switches: any
            ``foreach`` is accepted (one code path); ``capturable=True`` is accepted (this
            rule can be captured in a CUDA graph);
            ``differentiable=True`` raises (``optim/pytorch_options.py``).
        maximize: climb the objective instead of descending it.
        fused: run a compiled twin of this rule (``optim/fused.py``): a CuPy kernel
            on 'cuda', a Numba kernel on 'cpu' (the ``fast`` extra). None = the twin
            where it pays (the GPU; CPU groups of 65,536+ parameters), False = never.
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        check_pytorch_options("Adadelta", differentiable=differentiable,
                              capturable=capturable, capturable_ok=True)
        check_non_negative("learning rate", lr)
        check_unit_closed("rho value", rho)
        check_non_negative("epsilon value", eps)
        check_non_negative("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        fused=fused)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        lr = group["lr"]
        rho = group["rho"]
        eps = group["eps"]
        state["step"] = state.get("step", 0) + 1               # t ← t + 1  (PyTorch's count)
        v, u = state_arrays(state, theta, "square_avg", "acc_delta")   # v, u start at 0

        g = maximize_and_decay(theta, g, group)                # g ← −g; g ← g + λ·θ
        v *= rho                                               # v ← ρ·v + (1−ρ)·g² (in place)
        v += (1 - rho) * g * g
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g        # Δx ← √(u + ε) / √(v + ε) · g
        u *= rho                                               # u ← ρ·u + (1−ρ)·Δx² (in place)
        u += (1 - rho) * delta * delta
        theta -= lr * delta                                    # θ ← θ − γ·Δx
