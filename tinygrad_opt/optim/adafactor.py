"""Adafactor: Adam's second moment in factored form, with a relative step size."""

from __future__ import annotations

import math
from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import Optimizer
from tinygrad_opt.optim.state import state_arrays


def rms(x) -> float:
    """RMS(x) = √(mean(x²)) = ‖x‖₂ / √(number of elements), as a Python number."""
    return math.sqrt((x * x).mean().item())   # (a 0-d x may be a NumPy scalar: no xp_of)


def factored_state(state: dict, theta) -> list:
    """``[state['row_var'], state['col_var']]``: R of shape (..., m, 1) and C of shape
    (..., 1, n) for θ of shape (..., m, n), made as zeros the first time (θ's dtype and
    device). The factored rule writes them in place."""
    xp = backend.xp_of(theta)
    if "row_var" not in state:
        state["row_var"] = xp.zeros(theta.shape[:-1] + (1,), dtype=theta.dtype)      # R
        state["col_var"] = xp.zeros(theta.shape[:-2] + (1, theta.shape[-1]),
                                    dtype=theta.dtype)                               # C
    return [state["row_var"], state["col_var"]]


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern, 2018), PyTorch's variant (``torch.optim.Adafactor``).

    Adam without the first moment, and with a second moment that costs little memory:
    for a matrix gradient G (m × n) it keeps only R (m × 1), the running mean of each row
    of G², and C (1 × n), that of each column, m + n numbers instead of m·n, and rebuilds
    V̂ ≈ G² from their outer product. The step is relative: ρ_t times the RMS of θ itself.

    With learning rate γ, β2 decay τ ≤ 0, eps = (ε1, ε2), clipping threshold d ≥ 1 and
    weight decay λ, at step t = 1, 2, ...::

        G ← −g                                  if maximize, else G ← g
        β̂2 ← 1 − t^τ                            (0 at t = 1, then rising towards 1)
        ρ_t ← min(γ, 1/√t)                      the relative step size
        α_t ← max(ε2, RMS(θ))·ρ_t               RMS(θ) = √mean(θ²), θ before this step
        θ ← θ − γ·λ·θ                           decoupled weight decay (if λ ≠ 0)
      if θ has 2 or more dimensions (factored over the last two, of sizes m and n):
        R ← β̂2·R + (1 − β̂2)·mean_n(G²)         (..., m, 1): the mean of each row of G²
        C ← β̂2·C + (1 − β̂2)·mean_m(G²)         (..., 1, n): the mean of each column of G²
        V̂ ← R·C / max(mean_m(R), ε1)            (..., m, n): the outer product, rescaled
      otherwise (a vector, or a 0-d parameter):
        V̂ ← β̂2·V̂ + (1 − β̂2)·G²
        U ← G / max(√V̂, ε1)
        Û ← U / max(1, RMS(U)/d)                update clipping: RMS(Û) ≤ d
        θ ← θ − α_t·Û

    ε1 = None (the default) is the machine epsilon of θ's dtype (2.2e-16 in float64,
    1.2e-7 in float32). A parameter with more than two dimensions is factored over its
    last two: each matrix θ[i, ..., :, :] has its own R and C, as in PyTorch.

    PyTorch's documented algorithm writes R and C with sums (G²·1_m, 1ᵀ_n·G²) and
    max(1ᵀ_n·R, ε1); its code, like this one, uses means, which gives the same V̂ (the
    factors m and n cancel) except where ε1 clamps. As PyTorch notes, it departs from the
    paper: γ caps ρ_t (the paper's constant 0.01) and scales the weight decay, and ε1
    guards V̂ and U instead of being added to G².

    State per parameter: ``'step'`` (t), ``'row_var'`` (R) and ``'col_var'`` (C) when θ
    is factored, ``'variance'`` (V̂) otherwise.

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: γ, the largest relative step size (and the weight decay's scale).
        beta2_decay: τ, the exponent of β̂2 = 1 − t^τ.
        eps: (ε1, ε2): ε1 keeps V̂ and √V̂ away from 0 (None: θ's machine epsilon); ε2 is
            the smallest RMS(θ) the step size uses (so parameters starting at 0 move).
        d: the clipping threshold of RMS(U).
        weight_decay: λ.
        foreach: accepted for PyTorch's signature; there is one code path.
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0,
                 foreach: bool | None = None, maximize: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if len(eps) != 2:
            raise ValueError(f"Adafactor: eps must be a pair (epsilon1, epsilon2), got {eps}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def update(self, theta, g, state: dict, group: dict) -> None:
        xp = backend.xp_of(theta)
        lr = group["lr"]
        tau = group["beta2_decay"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(xp.finfo(theta.dtype).eps)            # ε1 ← machine epsilon of θ
        d = group["d"]
        weight_decay = group["weight_decay"]
        t = state["step"] = state.get("step", 0) + 1           # t ← t + 1

        G = -g if group["maximize"] else g                     # G ← −g if maximize, else g
        beta2_t = 1 - t ** tau                                 # β̂2 ← 1 − t^τ
        rho_t = min(lr, 1 / math.sqrt(t))                      # ρ_t ← min(γ, 1/√t)
        alpha_t = max(eps2, rms(theta)) * rho_t                # α_t ← max(ε2, RMS(θ))·ρ_t
        if weight_decay != 0:
            theta *= 1 - lr * weight_decay                     # θ ← θ − γ·λ·θ
        if theta.ndim >= 2:
            R, C = factored_state(state, theta)                # (..., m, 1), (..., 1, n)
            G2 = G * G                                         # G²         (..., m, n)
            row_mean = G2.mean(axis=-1, keepdims=True)         # mean_n(G²) (..., m, 1)
            col_mean = G2.mean(axis=-2, keepdims=True)         # mean_m(G²) (..., 1, n)
            R *= beta2_t                                       # R ← β̂2·R + (1 − β̂2)·mean_n(G²)
            R += (1 - beta2_t) * row_mean
            C *= beta2_t                                       # C ← β̂2·C + (1 − β̂2)·mean_m(G²)
            C += (1 - beta2_t) * col_mean
            R_mean = R.mean(axis=-2, keepdims=True)            # mean_m(R)  (..., 1, 1)
            V = R * C / xp.maximum(R_mean, eps1)               # V̂ ← R·C / max(mean_m(R), ε1)
        else:
            [V] = state_arrays(state, theta, "variance")       # V̂ starts at 0
            V *= beta2_t                                       # V̂ ← β̂2·V̂ + (1 − β̂2)·G²
            V += (1 - beta2_t) * G * G
        U = G / xp.maximum(xp.sqrt(V), eps1)                   # U ← G / max(√V̂, ε1)
        U_hat = U / max(1.0, rms(U) / d)                       # Û ← U / max(1, RMS(U)/d)
        theta -= alpha_t * U_hat                               # θ ← θ − α_t·Û

