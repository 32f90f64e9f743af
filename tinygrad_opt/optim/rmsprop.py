"""RMSprop: divide the step by a running root-mean-square of the gradient."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import (Optimizer, check_non_negative, elementwise,
                                          maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options
from tinygrad_opt.optim.state import state_arrays


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, Coursera lecture 6e, 2012), optionally centered (Graves, 2013).

    Adagrad's sum of squares becomes a leaky running mean, so old gradients are
    forgotten and the step does not shrink forever. With learning rate γ,
    smoothing α, momentum μ, weight decay λ, at every step::

        g ← −g                              if maximize
        g ← g + λ·θ                         if λ ≠ 0
        v ← α·v + (1−α)·g²                  running mean of g²
        ṽ ← v
        ḡ ← α·ḡ + (1−α)·g                   if centered: running mean of g
        ṽ ← v − ḡ²                          if centered: a running variance of g
        b ← μ·b + g / (√ṽ + ε)              if μ > 0 (b starts at 0)
        θ ← θ − γ·b                         if μ > 0
        θ ← θ − γ·g / (√ṽ + ε)              otherwise

    ε is added after the square root, as in PyTorch.
    State per parameter: ``'step'``, ``'square_avg'`` (v), ``'momentum_buffer'``
    (b, if μ > 0), ``'grad_avg'`` (ḡ, if centered).

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: learning rate γ.
        alpha: smoothing constant α.
        eps: ε, added to the denominator.
        weight_decay: L2 penalty λ.
        momentum: momentum factor μ.
        centered: normalise by an estimate of the variance of g instead of its
            second moment.
        foreach, capturable, differentiable: PyTorch's implementation switches: any
            ``foreach`` is accepted (one code path); ``capturable=True`` is accepted (this
            rule can be captured in a CUDA graph);
            ``differentiable=True`` raises (``optim/pytorch_options.py``).
        maximize: climb the objective instead of descending it.
        fused: run a compiled twin of this rule (``optim/fused.py``): a CuPy kernel
            on 'cuda', a Numba kernel on 'cpu' (the ``fast`` extra). None = the twin
            where it pays (the GPU; CPU groups of 65,536+ parameters), False = never.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, *, fused: bool | None = None):
        check_pytorch_options("RMSprop", differentiable=differentiable,
                              capturable=capturable, capturable_ok=True)
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_non_negative("momentum value", momentum)
        check_non_negative("weight_decay value", weight_decay)
        check_non_negative("alpha value", alpha)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize,
                        fused=fused)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        lr = group["lr"]
        alpha = group["alpha"]
        eps = group["eps"]
        momentum = group["momentum"]
        state["step"] = state.get("step", 0) + 1               # t ← t + 1  (PyTorch's count)
        [v] = state_arrays(state, theta, "square_avg")         # v starts at 0

        g = maximize_and_decay(theta, g, group)                # g ← −g; g ← g + λ·θ
        v *= alpha                                             # v ← α·v + (1−α)·g² (in place)
        v += (1 - alpha) * g * g
        v_tilde = v                                            # ṽ ← v
        if group["centered"]:
            [g_avg] = state_arrays(state, theta, "grad_avg")   # ḡ starts at 0
            g_avg *= alpha                                     # ḡ ← α·ḡ + (1−α)·g (in place)
            g_avg += (1 - alpha) * g
            v_tilde = v - g_avg * g_avg                        # ṽ ← v − ḡ²
        if momentum > 0:
            [b] = state_arrays(state, theta, "momentum_buffer")    # b starts at 0
            b *= momentum                                      # b ← μ·b + g / (√ṽ + ε) (in place)
            b += g / (xp.sqrt(v_tilde) + eps)
            theta -= lr * b                                    # θ ← θ − γ·b
        else:
            theta -= lr * g / (xp.sqrt(v_tilde) + eps)         # θ ← θ − γ·g / (√ṽ + ε)
