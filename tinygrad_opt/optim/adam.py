"""Adam (adaptive moment estimation) and AdamW (decoupled weight decay)."""

from __future__ import annotations

from typing import Iterable

from tinygrad_opt import backend
from tinygrad_opt.optim.optimizer import (Optimizer, check_betas, check_non_negative, elementwise,
                                          maximize_and_decay)
from tinygrad_opt.optim.pytorch_options import check_pytorch_options
from tinygrad_opt.optim.state import state_arrays


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), optionally AMSGrad (Reddi et al., 2018).

    With learning rate γ, betas (β1, β2), ε and weight decay λ, at step t = 1, 2, ...::

        g ← −g                              if maximize
        g ← g + λ·θ                         if λ ≠ 0       (L2 penalty, in the gradient)
        θ ← θ − γ·λ·θ                       instead, if decoupled_weight_decay (AdamW)
        m ← β1·m + (1−β1)·g                 first moment: running mean of g
        v ← β2·v + (1−β2)·g²                second moment: running mean of g²
        c1 ← 1 − β1^t,  c2 ← 1 − β2^t      bias correction (m and v start at 0)
        c1 ← 1,  c2 ← 1                     instead, if not bias_correction (the notes' form)
        m̂ ← m / c1
        v_max ← max(v_max, v)               if amsgrad
        v̂ ← v_max / c2                      if amsgrad
        v̂ ← v / c2                          otherwise
        θ ← θ − γ·m̂ / (√v̂ + ε)

    Without bias correction this is the lecture notes' Adam,
    ``m = beta1*m + (1-beta1)*dx; v = beta2*v + (1-beta2)*(dx**2);
    x += - learning_rate * m / (np.sqrt(v) + eps)``. Its early steps are larger:
    for a steady gradient m/√v ≈ (1 − β1^t)/√(1 − β2^t), 3.2 at t = 1 and 6.5 at
    t = 10 with the default betas, tending to 1; see docs/optim-adam.md.

    State per parameter: ``'step'`` (t), ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v),
    ``'max_exp_avg_sq'`` (v_max, with amsgrad).

    Args:
        params: Tensors or parameter-group dicts to optimize.
        lr: learning rate γ.
        betas: decay rates (β1, β2) of the two moment averages.
        eps: ε, added to the denominator for numerical stability.
        weight_decay: weight decay λ.
        amsgrad: divide by the running maximum of v instead of v.
        maximize: climb the objective instead of descending it.
        fused: run a compiled twin of this rule (``optim/fused.py``): a CuPy kernel
            on 'cuda', a Numba kernel on 'cpu' (the ``fast`` extra). None = the twin
            where it pays (the GPU; CPU groups of 65,536+ parameters), False = never.
        decoupled_weight_decay: shrink θ directly (AdamW) instead of adding λ·θ to g.
        bias_correction: divide m and v by 1 − β^t (Kingma & Ba, PyTorch); False is
            the lecture notes' form.
        foreach, capturable, differentiable: PyTorch's implementation switches: any
            ``foreach`` is accepted (one code path); ``capturable=True`` and
            ``differentiable=True`` raise (``optim/pytorch_options.py``).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False,
                 maximize: bool = False, decoupled_weight_decay: bool = False,
                 fused: bool | None = None, bias_correction: bool = True, *,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False):
        check_pytorch_options(type(self).__name__, differentiable=differentiable,
                              capturable=capturable)
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_betas(betas)
        check_non_negative("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay, fused=fused,
                        bias_correction=bias_correction)
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
        if group["bias_correction"]:
            c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t            # c1 ← 1 − β1^t,  c2 ← 1 − β2^t
        else:
            c1 = c2 = 1.0                                      # c1 ← 1,  c2 ← 1   (the notes)
        m_hat = m / c1                                         # m̂ ← m / c1
        if group["amsgrad"]:
            [v_max] = state_arrays(state, theta, "max_exp_avg_sq")   # v_max starts at 0
            xp.maximum(v_max, v, out=v_max)                    # v_max ← max(v_max, v)
            v_hat = v_max / c2                                 # v̂ ← v_max / c2
        else:
            v_hat = v / c2                                     # v̂ ← v / c2
        theta -= lr * m_hat / (xp.sqrt(v_hat) + eps)           # θ ← θ − γ·m̂ / (√v̂ + ε)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    The decay shrinks θ directly instead of entering the gradient, so the
    adaptive denominator does not rescale it. At step t::

        g ← −g                              if maximize
        θ ← θ − γ·λ·θ                       decoupled weight decay
        m ← β1·m + (1−β1)·g
        v ← β2·v + (1−β2)·g²
        c1 ← 1 − β1^t,  c2 ← 1 − β2^t      (c1 = c2 = 1 if not bias_correction)
        m̂ ← m / c1
        v_max ← max(v_max, v)               if amsgrad
        v̂ ← v_max / c2                      if amsgrad
        v̂ ← v / c2                          otherwise
        θ ← θ − γ·m̂ / (√v̂ + ε)

    It is :class:`Adam` with ``decoupled_weight_decay=True`` (the code is
    Adam.update), and ``weight_decay`` defaults to 1e-2. Same state as Adam.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False, fused: bool | None = None,
                 bias_correction: bool = True, *, foreach: bool | None = None,
                 capturable: bool = False, differentiable: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True,
                         fused=fused, bias_correction=bias_correction, foreach=foreach,
                         capturable=capturable, differentiable=differentiable)
