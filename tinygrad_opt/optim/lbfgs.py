r"""L-BFGS: a quasi-Newton method that remembers the last m steps instead of a Hessian.

Newton's step is d = −H⁻¹·g. BFGS builds an approximation of H⁻¹ from how the
gradient changed along the steps taken; L-BFGS keeps only the last m pairs

    s_i = θ_(i+1) − θ_i          (a step)
    y_i = g_(i+1) − g_i          (the change of the gradient it caused)
    ρ_i = 1 / (y_iᵀ s_i)

and computes d = −H_k·g without ever forming a matrix, by the two-loop
recursion (Nocedal & Wright, Algorithm 7.4), newest pair first::

    q ← −g
    for i = k−1, ..., k−m:            α_i ← ρ_i · s_iᵀ q ;   q ← q − α_i · y_i
    r ← γ_k · q                      with γ_k = s_(k−1)ᵀ y_(k−1) / y_(k−1)ᵀ y_(k−1)
    for i = k−m, ..., k−1:            β_i ← ρ_i · y_iᵀ r ;   r ← r + (α_i − β_i) · s_i
    d ← r

γ_k·I is the initial guess of H⁻¹ (``'H_diag'``). A pair is stored only when
y_iᵀ s_i > 1e-10 (the curvature condition: it keeps H_k positive definite).
Memory: 2·m vectors of the size of the model (m = ``history_size``).

The step length t along d is ``lr`` (the first iteration: min(1, 1/‖g‖₁)·lr),
or, with ``line_search_fn='strong_wolfe'``, a t that satisfies the strong
Wolfe conditions (c1 = 1e-4, c2 = 0.9)::

    f(θ + t·d) ≤ f(θ) + c1·t·gᵀd              (sufficient decrease)
    |∇f(θ + t·d)ᵀd| ≤ c2·|gᵀd|                (curvature)

found by bracketing and zooming with cubic interpolation (Nocedal & Wright,
Algorithms 3.5 and 3.6), as PyTorch does. The zoom stops when the bracket is
shorter than 1e-9 (times max |d_i|), whatever ``tolerance_change`` is (as in PyTorch).

This is PyTorch's ``torch.optim.LBFGS`` (ported from minFunc via Lua torch):
same algorithm, same defaults, same stopping rules, same state keys. One
``step(closure)`` runs up to ``max_iter`` iterations. It needs the full-batch
loss: with mini-batch noise the pairs (s, y) describe noise, not curvature.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

from tinygrad_opt import backend
from tinygrad_opt.autograd.grad_mode import enable_grad, no_grad
from tinygrad_opt.optim.optimizer import Optimizer, check_non_negative
from tinygrad_opt.tensor import Tensor


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1, f'=g1) and (x2, f2, f'=g2), clipped to bounds.

        d1 = g1 + g2 − 3·(f1 − f2)/(x1 − x2)
        d2 = sqrt(d1² − g1·g2)
        x* = x2 − (x2 − x1)·(g2 + d2 − d1)/(g2 − g1 + 2·d2)        (x1 ≤ x2)

    (Nocedal & Wright, eq. 3.59). No real minimiser: the middle of the bounds.
    """
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if (g2 - g1 + 2 * d2 if x1 <= x2 else g1 - g2 + 2 * d2) == 0:
            return (xmin_bound + xmax_bound) / 2.0  # a flat cubic: no interior minimiser
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step length t along d satisfying the strong Wolfe conditions.

    ``obj_func(t)`` returns (f(θ + t·d), ∇f(θ + t·d)) and leaves θ unchanged.
    ``f``, ``g``, ``gtd`` are f(θ), ∇f(θ), gᵀd (gtd < 0: d descends).

    Phase 1 (bracketing, N&W Alg. 3.5): grow t until [t_prev, t] must contain
    an acceptable point (sufficient decrease fails, f stops falling, or the
    slope turns non-negative), or t itself is acceptable.
    Phase 2 (zoom, N&W Alg. 3.6): shrink the bracket [low, high] by cubic
    interpolation, keeping f(low) the smallest value seen, until t satisfies
    both conditions. At most ``max_ls`` evaluations in all.

    Returns (f_new, g_new, t, number of evaluations).
    """
    xp = backend.xp_of(d)
    d_norm = xp.abs(d).max().item()
    f_new, g_new = obj_func(t)
    ls_func_evals = 1
    gtd_new = xp.dot(g_new, d).item()

    # phase 1: bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket = [t_prev, t]
            bracket_f = [f_prev, f_new]
            bracket_g = [g_prev, g_new]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = [t]
            bracket_f = [f_new]
            bracket_g = [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket = [t_prev, t]
            bracket_f = [f_prev, f_new]
            bracket_g = [g_prev, g_new]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        # extrapolate: the next trial lies in [t + 0.01·(t − t_prev), 10·t]
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        previous_t = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = previous_t, f_new, g_new, gtd_new
        f_new, g_new = obj_func(t)
        ls_func_evals += 1
        gtd_new = xp.dot(g_new, d).item()
        ls_iter += 1

    if ls_iter == max_ls:  # no bracket found: fall back to [0, t]
        bracket = [0.0, t]
        bracket_f = [f, f_new]
        bracket_g = [g, g_new]

    # phase 2: zoom until the bracket holds a point satisfying the criteria
    insufficient_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break  # the bracket is too small to matter
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # A trial too close to an end of the bracket makes little progress: if
        # it happens twice in a row (or t is outside), move it 10% inside.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = obj_func(t)
        ls_func_evals += 1
        gtd_new = xp.dot(g_new, d).item()
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # no sufficient decrease, or not below the low end: t becomes the high end
            bracket[high_pos] = t
            bracket_f[high_pos] = f_new
            bracket_g[high_pos] = g_new
            bracket_gtd[high_pos] = gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # both Wolfe conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the slope points back past low: the old low becomes the high end
                bracket[high_pos] = bracket[low_pos]
                bracket_f[high_pos] = bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos] = t
            bracket_f[low_pos] = f_new
            bracket_g[low_pos] = g_new
            bracket_gtd[low_pos] = gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _lr_value(lr) -> float:
    """The learning rate as a Python number. PyTorch also takes a one-element Tensor
    (``lr=torch.tensor(1.0)``), which a scheduler may change in place: it is read again
    at every step, and the step lengths t stay Python floats."""
    if isinstance(lr, Tensor):
        if lr.numel() != 1:
            raise ValueError(f"LBFGS: Tensor lr must be 1-element, but it has shape {lr.shape}")
        return lr.item()
    return lr


def _loss_value(loss) -> float:
    """The closure's loss as a Python float (``.item()``: no implicit device copy)."""
    return loss.item() if hasattr(loss, "item") else float(loss)


class LBFGS(Optimizer):
    """L-BFGS with PyTorch's interface and algorithm (see the module docstring for the math).

    Usage (full batch; the closure is called several times per step)::

        optimizer = LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        def closure():
            optimizer.zero_grad()
            loss = loss_fn(model(X), y)
            loss.backward()
            return loss
        for _ in range(10):
            optimizer.step(closure)

    Args:
        params: the Tensors to optimize (one group only, all on one device).
        lr: the step length along d (the line search's first trial): a number or a
            one-element Tensor.
        max_iter: iterations per ``step()``.
        max_eval: closure evaluations per ``step()`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when max |g_i| ≤ this.
        tolerance_change: stop when the step or the change of the loss is below this.
        history_size: m, the number of (s, y) pairs kept.
        line_search_fn: ``None`` (fixed step ``lr``) or ``'strong_wolfe'``.

    State (on the first parameter, PyTorch's keys): ``'d'`` (last direction),
    ``'t'`` (last step length), ``'old_dirs'`` (the y_i), ``'old_stps'``
    (the s_i), ``'ro'`` (the ρ_i), ``'H_diag'`` (γ), ``'prev_flat_grad'``,
    ``'prev_loss'``, ``'al'`` (the α_i), ``'n_iter'``, ``'func_evals'``.
    """

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        check_non_negative("learning rate", _lr_value(lr))
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: only line_search_fn=None or 'strong_wolfe' is supported, "
                             f"got {line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        devices = sorted({p.device for p in self._params})
        if len(devices) != 1:
            raise ValueError(f"LBFGS: all parameters must be on one device, got {sorted(map(str, devices))}")

    def add_param_group(self, param_group: dict) -> None:
        """Only the constructor's one group: step() works on the first group's parameters,
        so a second group would be silently skipped (PyTorch's step refuses it)."""
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    @property
    def _params(self) -> list:
        """The parameters (one group); read from it, so copy.deepcopy and pickle keep them."""
        return self.param_groups[0]["params"]

    # --- the parameters as one flat vector θ (n,) ---

    def _xp(self):
        return backend.get_xp(self._params[0].device)

    def _gather_flat_grad(self):
        """g = ∇f(θ) as one vector (n,); zeros where a parameter has no grad."""
        xp = self._xp()
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(xp.zeros(p.data.size, dtype=p.dtype))   # (numel,)
            else:
                views.append(p.grad.data.reshape(-1))                # (numel,)
        return xp.concatenate(views)                                  # (n,)

    def _add_grad(self, step_size: float, update) -> None:
        """θ ← θ + step_size·update, in place, parameter by parameter."""
        offset = 0
        for p in self._params:
            numel = p.data.size
            p.data += step_size * update[offset:offset + numel].reshape(p.shape)
            p._version += 1  # a graph that saved p before this step now refuses backward
            offset += numel

    def _clone_param(self) -> list:
        return [p.data.copy() for p in self._params]

    def _set_param(self, params_data: list) -> None:
        for p, data in zip(self._params, params_data):
            p.data[...] = data
            p._version += 1

    def _directional_evaluate(self, closure: Callable, x: list, t: float, d):
        """(f(x + t·d), ∇f(x + t·d)), leaving the parameters at x."""
        self._add_grad(t, d)
        with enable_grad():
            loss = _loss_value(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    @staticmethod
    def _two_loop(flat_grad, old_dirs: list, old_stps: list, ro: list, H_diag: float, al: list):
        """d = −H·g by the two-loop recursion (module docstring).

        y_i = ``old_dirs[i]``, s_i = ``old_stps[i]``, oldest first; ``al`` receives the α_i.
        """
        q = -flat_grad                                          # q ← −g
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = ro[i] * (old_stps[i] @ q)                   # α_i ← ρ_i·s_iᵀq
            q = q - al[i] * old_dirs[i]                         # q ← q − α_i·y_i
        r = H_diag * q                                          # r ← γ·q
        for i in range(len(old_dirs)):
            be_i = ro[i] * (old_dirs[i] @ r)                    # β_i ← ρ_i·y_iᵀr
            r = r + (al[i] - be_i) * old_stps[i]                # r ← r + (α_i − β_i)·s_i
        return r                                                # d ← r

    def step(self, closure: Callable):
        """Run up to ``max_iter`` L-BFGS iterations; returns the loss before the first one."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the model and "
                               "returns the loss")
        with no_grad():
            return self._step(closure)

    def _step(self, closure: Callable):
        xp = self._xp()
        group = self.param_groups[0]
        lr = _lr_value(group["lr"])
        max_iter = group["max_iter"]
        max_eval = group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        history_size = group["history_size"]

        # L-BFGS has only global state; like PyTorch it lives on the first parameter
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = _loss_value(orig_loss)
        current_evals = 1
        state["func_evals"] += 1

        flat_grad = self._gather_flat_grad()
        if xp.abs(flat_grad).max().item() <= tolerance_grad:
            return orig_loss  # already optimal

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")
        old_stps = state.get("old_stps")
        ro = state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # --- the direction d ---
            if state["n_iter"] == 1:
                d = -flat_grad                                  # d ← −g (steepest descent)
                old_dirs = []
                old_stps = []
                ro = []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad                  # y ← g_k − g_(k−1)
                s = t * d                                       # s ← θ_k − θ_(k−1) = t·d
                ys = (y @ s).item()                             # yᵀs
                if ys > 1e-10:  # curvature condition: keep only pairs with yᵀs > 0
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)                         # ρ ← 1 / yᵀs
                    H_diag = ys / (y @ y).item()                # γ ← yᵀs / yᵀy
                if "al" not in state:
                    state["al"] = [None] * history_size
                d = self._two_loop(flat_grad, old_dirs, old_stps, ro, H_diag, state["al"])

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # --- the step length t ---
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / xp.abs(flat_grad).sum().item()) * lr
            else:
                t = lr
            gtd = (flat_grad @ d).item()                        # gᵀd, the slope along d
            if gtd > -tolerance_change:
                break  # d does not descend (any more)

            ls_func_evals = 0
            if line_search_fn == "strong_wolfe":
                x_init = self._clone_param()

                def obj_func(step_length):
                    return self._directional_evaluate(closure, x_init, step_length, d)

                # The search keeps its own tolerance_change = 1e-9, as in PyTorch: the
                # group's tolerance_change enters only the stopping rules below.
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, t, d, loss, flat_grad, gtd)
                self._add_grad(t, d)                            # θ ← θ + t·d
                opt_cond = xp.abs(flat_grad).max().item() <= tolerance_grad
            else:
                self._add_grad(t, d)                            # θ ← θ + t·d
                if n_iter != max_iter:
                    with enable_grad():
                        loss = _loss_value(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = xp.abs(flat_grad).max().item() <= tolerance_grad
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # --- stopping rules ---
            if n_iter == max_iter:
                break
            if current_evals >= max_eval:
                break
            if opt_cond:
                break  # max |g_i| ≤ tolerance_grad
            if xp.abs(t * d).max().item() <= tolerance_change:
                break  # the step is negligible
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss stopped changing

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss
