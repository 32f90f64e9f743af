"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import (Optimizer, check_non_negative, elementwise,
                                          maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options


class SGD(Optimizer):
    r"""Stochastic gradient descent (plain, mini-batch, momentum, Nesterov).

    With learning rate γ, momentum μ, dampening τ, weight decay λ, at every step t::

        g ← −g                       if maximize
        g ← g + λ·θ                  if λ ≠ 0      (L2 penalty λ/2·‖θ‖²)
        if μ ≠ 0 and momentum_form == 'notes':     (the lecture notes' form)
            v ← −γ·g                 at the first step (v starts at 0)
            v ← μ·v − γ·g            afterwards
            θ ← θ + v
        elif μ ≠ 0:                                (PyTorch's form, the default)
            b ← g                    at the first step
            b ← μ·b + (1−τ)·g        afterwards
            g ← g + μ·b              if nesterov
            g ← b                    otherwise
            θ ← θ − γ·g
        else:
            θ ← θ − γ·g

    The two momentum forms give the same trajectory when τ = 0 and γ is constant
    (then v = −γ·b). Under a schedule they differ: the notes' velocity keeps the
    steps taken at the old rates, PyTorch's buffer is rescaled by the new rate at
    once; see docs/optim-sgd-momentum.md.

    State per parameter: ``'momentum_buffer'`` (b), or ``'velocity'`` (v) in the
    notes' form, when μ ≠ 0.

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: learning rate γ.
        momentum: momentum factor μ.
        dampening: dampening τ of the gradient added to the buffer.
        weight_decay: L2 penalty λ (added to the gradient).
        nesterov: use Nesterov momentum (needs μ > 0 and τ = 0).
        maximize: climb the objective instead of descending it.
        fused: run a compiled twin of this rule (``optim/fused.py``): a CuPy kernel
            on 'cuda', a Numba kernel on 'cpu' (the ``fast`` extra). None = the twin
            where it pays (the GPU; CPU groups of 65,536+ parameters; elsewhere, with
            no momentum, weight decay or maximize, this rule's last line alone), False =
            never. The notes' form has no kernel: None means readable, True is an error.
        momentum_form: ``'pytorch'`` (default) or ``'notes'`` (``v = mu*v -
            learning_rate*dx; x += v``; no dampening, no Nesterov: the notes'
            Nesterov needs the gradient at x + μ·v, which one step() cannot take).
        foreach, differentiable: PyTorch's implementation switches: any ``foreach`` is
            accepted (one code path); ``differentiable=True`` raises
            (``optim/pytorch_options.py``).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False,
                 maximize: bool = False, fused: bool | None = None,
                 momentum_form: str = "pytorch", *, foreach: bool | None = None,
                 differentiable: bool = False):
        check_pytorch_options("SGD", differentiable=differentiable)
        check_non_negative("learning rate", lr)
        check_non_negative("momentum value", momentum)
        check_non_negative("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if momentum_form not in ("pytorch", "notes"):
            raise ValueError(f"Invalid momentum_form: {momentum_form!r} (expected 'pytorch' "
                             "or 'notes')")
        if momentum_form == "notes" and (nesterov or dampening != 0 or fused):
            raise ValueError("SGD: momentum_form='notes' takes no nesterov, dampening or fused")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        fused=False if momentum_form == "notes" else fused,  # (no kernel)
                        momentum_form=momentum_form)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        lr = group["lr"]
        momentum = group["momentum"]
        dampening = group["dampening"]

        g = maximize_and_decay(theta, g, group)                # g ← −g; g ← g + λ·θ
        if momentum != 0 and group["momentum_form"] == "notes":
            v = state.get("velocity")
            if v is None:
                v = state["velocity"] = xp.copy(-lr * g)       # v ← −γ·g          (first step)
            else:
                v *= momentum                                  # v ← μ·v − γ·g (in place)
                v -= lr * g
            theta += v                                         # θ ← θ + v
            return
        if momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = xp.copy(g)      # b ← g              (first step)
            else:
                b *= momentum                                  # b ← μ·b + (1−τ)·g (in place)
                b += (1 - dampening) * g
            if group["nesterov"]:
                g = g + momentum * b                           # g ← g + μ·b
            else:
                g = b                                          # g ← b
        theta -= lr * g                                        # θ ← θ − γ·g
