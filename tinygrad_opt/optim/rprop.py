"""Rprop: steps of a learned size in the direction of the gradient's sign."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import Optimizer, check_non_negative, elementwise
from tinygrad_opt.optim.pytorch_options import check_pytorch_options
from tinygrad_opt.optim.state import state_arrays


class Rprop(Optimizer):
    r"""Rprop, resilient backpropagation (Riedmiller & Braun, 1993), PyTorch's variant.

    Only the sign of each gradient entry is used. Every coordinate keeps its
    own step size Δ: it grows by η+ while the gradient keeps its sign and
    shrinks by η− when the sign flips (the last step jumped over a minimum),
    within [Δmin, Δmax]. After a flip that coordinate does not move, and its
    gradient is remembered as 0, so the next step neither grows nor shrinks Δ.
    With etas (η−, η+) and step_sizes (Δmin, Δmax), at every step::

        g ← −g                              if maximize
        s ← sign(g·g_prev)                  +1 same sign, −1 flipped, 0 a zero
        η ← η+ where s > 0,  η− where s < 0,  1 where s = 0
        Δ ← clip(η·Δ, Δmin, Δmax)           Δ starts at γ (lr)
        g ← 0 where s < 0                   no step after a flip
        θ ← θ − sign(g)·Δ
        g_prev ← g                          g_prev starts at 0

    As in PyTorch, a NaN s (a NaN gradient, or an infinite one times a zero g_prev)
    makes that coordinate's Δ NaN, and so θ.

    Meant for full-batch training: with mini-batches the sign of g flips by
    noise and Δ shrinks. Δ is clipped at every step, as in PyTorch's code (so a
    starting γ outside [Δmin, Δmax] is clipped at the first step).
    State per parameter: ``'step'``, ``'prev'`` (g_prev), ``'step_size'`` (Δ).

    There is no compiled twin of this rule in ``optim/fused.py``, so there is no
    ``fused`` option (PyTorch's Rprop has none either): every device runs this
    readable rule. Rprop has no weight decay (as in PyTorch).

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: γ, the starting step size Δ of every coordinate.
        etas: (η−, η+), the factors that shrink and grow Δ: 0 < η− < 1 < η+.
        step_sizes: (Δmin, Δmax), the smallest and largest Δ.
        foreach, capturable, differentiable: PyTorch's implementation switches: any
            ``foreach`` is accepted (one code path); ``capturable=True`` raises (the update
            reads its step count on the host);
            ``differentiable=True`` raises (``optim/pytorch_options.py``).
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), maximize: bool = False, *,
                 capturable: bool = False, foreach: bool | None = None,
                 differentiable: bool = False):
        check_pytorch_options("Rprop", differentiable=differentiable, capturable=capturable)
        check_non_negative("learning rate", lr)
        eta_minus, eta_plus = etas
        if not 0.0 < eta_minus < 1.0 < eta_plus:
            raise ValueError(f"Invalid eta values: {eta_minus}, {eta_plus} "
                             "(etas must satisfy 0 < eta_minus < 1 < eta_plus)")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes),
                        maximize=maximize)
        super().__init__(params, defaults)

    @elementwise
    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        eta_minus, eta_plus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        state["step"] = state.get("step", 0) + 1               # t ← t + 1  (PyTorch's count)
        [g_prev] = state_arrays(state, theta, "prev")          # g_prev starts at 0
        if "step_size" not in state:
            state["step_size"] = xp.full_like(theta, group["lr"])    # Δ starts at γ
        step_size = state["step_size"]

        if group["maximize"]:
            g = -g                                             # g ← −g
        s = xp.sign(g * g_prev)                                # s ← sign(g·g_prev)
        eta = xp.full_like(theta, xp.nan)                      # η ← NaN where s is NaN
        eta[s > 0] = eta_plus                                  # η ← η+  where s > 0
        eta[s < 0] = eta_minus                                 # η ← η−  where s < 0
        eta[s == 0] = 1.0                                      # η ← 1   where s = 0
        step_size[...] = xp.clip(step_size * eta, step_size_min, step_size_max)  # Δ ← clip(η·Δ)
        g = xp.where(s < 0, 0, g)                              # g ← 0   where s < 0
        theta -= xp.sign(g) * step_size                        # θ ← θ − sign(g)·Δ
        g_prev[...] = g                                        # g_prev ← g
