"""Audit of the first-order rules beyond SGD/Adam, and of LBFGS, on the paths the
other optimizer tests reach least.

Every reference here is plain NumPy written from PyTorch's documented algorithms
(torch.optim's "Algorithm" boxes and its single-tensor code), never calling the
package:

* each rule runs on a parameter of 101,000 elements (larger than a chunk, and a
  group above COMPILED_MIN_SIZE: the default ``fused=None`` takes the compiled twin
  where Numba is installed and there is one, the chunked readable rule otherwise;
  ``fused=False`` takes the chunked readable rule), beside a small and a 0-d one, in
  two parameter groups, with the learning rate changed mid-run as a scheduler would,
  and is compared step by step with the reference; half-way its state_dict is loaded
  into a fresh optimizer of the other mode, which must continue the same run;
* LBFGS (fixed step and strong Wolfe) is compared iterate by iterate, with its
  closure-evaluation counts, against a NumPy transcription of PyTorch's
  ``torch.optim.LBFGS`` with small ``history_size``, ``max_eval`` and
  ``tolerance_change`` settings;
* the invalid hyperparameters PyTorch refuses are refused with its messages.
"""

import copy
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, optim
from tinygrad_opt.optim import fused
from test_audit_optim import opening as _opening  # g ← −g, then the weight decay

BIG = (250, 404)                      # 101,000 elements: chunked, and compiled by default
SHAPES = {"big": BIG, "small": (3, 5), "scalar": ()}
GROUP_OF = {"big": 0, "small": 0, "scalar": 1}
STEPS = 6
GROUPS = ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.03})


# --- NumPy references: (θ, g, state, hp) -> new θ; state keeps PyTorch's key names ---


def _moments(s, theta, g, beta1, beta2):
    """m ← β1·m + (1−β1)·g and v ← β2·v + (1−β2)·g², from zeros: Adam's two moments, which
    NAdam and RAdam share."""
    s["exp_avg"] = beta1 * s.get("exp_avg", 0 * theta) + (1 - beta1) * g
    s["exp_avg_sq"] = beta2 * s.get("exp_avg_sq", 0 * theta) + (1 - beta2) * g * g


def ref_rmsprop(theta, g, s, hp):
    theta, g = _opening(theta, g, hp)
    alpha, mu, eps = hp.get("alpha", 0.99), hp.get("momentum", 0), hp.get("eps", 1e-8)
    s["step"] = s.get("step", 0) + 1
    s["square_avg"] = alpha * s.get("square_avg", 0 * theta) + (1 - alpha) * g ** 2
    avg = s["square_avg"]
    if hp.get("centered", False):
        s["grad_avg"] = alpha * s.get("grad_avg", 0 * theta) + (1 - alpha) * g
        avg = avg - s["grad_avg"] ** 2
    avg = np.sqrt(avg) + eps
    if mu > 0:
        s["momentum_buffer"] = mu * s.get("momentum_buffer", 0 * theta) + g / avg
        return theta - hp["lr"] * s["momentum_buffer"]
    return theta - hp["lr"] * g / avg


def ref_adagrad(theta, g, s, hp):
    theta, g = _opening(theta, g, hp)
    t = s["step"] = s.get("step", 0) + 1
    clr = hp["lr"] / (1 + (t - 1) * hp.get("lr_decay", 0))
    s["sum"] = s.get("sum", np.full_like(theta, hp.get("initial_accumulator_value", 0))) + g * g
    return theta - clr * g / (np.sqrt(s["sum"]) + hp.get("eps", 1e-10))


def ref_adadelta(theta, g, s, hp):
    theta, g = _opening(theta, g, hp)
    rho, eps = hp.get("rho", 0.9), hp.get("eps", 1e-6)
    s["step"] = s.get("step", 0) + 1
    s["square_avg"] = rho * s.get("square_avg", 0 * theta) + (1 - rho) * g * g
    acc = s.get("acc_delta", 0 * theta)
    delta = np.sqrt(acc + eps) / np.sqrt(s["square_avg"] + eps) * g
    s["acc_delta"] = rho * acc + (1 - rho) * delta * delta
    return theta - hp["lr"] * delta


def ref_adamax(theta, g, s, hp):
    theta, g = _opening(theta, g, hp)
    beta1, beta2 = hp.get("betas", (0.9, 0.999))
    t = s["step"] = s.get("step", 0) + 1
    s["exp_avg"] = beta1 * s.get("exp_avg", 0 * theta) + (1 - beta1) * g
    s["exp_inf"] = np.maximum(beta2 * s.get("exp_inf", 0 * theta), np.abs(g) + hp.get("eps", 1e-8))
    return theta - hp["lr"] / (1 - beta1 ** t) * s["exp_avg"] / s["exp_inf"]


def ref_nadam(theta, g, s, hp):
    theta, g = _opening(theta, g, hp, decoupled_allowed=True)
    beta1, beta2 = hp.get("betas", (0.9, 0.999))
    psi, eps = hp.get("momentum_decay", 4e-3), hp.get("eps", 1e-8)
    t = s["step"] = s.get("step", 0) + 1
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    s["mu_product"] = s.get("mu_product", 1.0) * mu
    _moments(s, theta, g, beta1, beta2)
    denom = np.sqrt(s["exp_avg_sq"] / (1 - beta2 ** t)) + eps
    theta = theta - hp["lr"] * (1 - mu) / (1 - s["mu_product"]) * g / denom
    return theta - hp["lr"] * mu_next / (1 - s["mu_product"] * mu_next) * s["exp_avg"] / denom


def ref_radam(theta, g, s, hp):
    theta, g = _opening(theta, g, hp, decoupled_allowed=True)
    beta1, beta2 = hp.get("betas", (0.9, 0.999))
    t = s["step"] = s.get("step", 0) + 1
    _moments(s, theta, g, beta1, beta2)
    m_hat = s["exp_avg"] / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
    if rho_t <= 5:
        return theta - hp["lr"] * m_hat
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    adaptive = math.sqrt(1 - beta2 ** t) / (np.sqrt(s["exp_avg_sq"]) + hp.get("eps", 1e-8))
    return theta - hp["lr"] * m_hat * rect * adaptive


def ref_asgd(theta, g, s, hp):
    theta, g = _opening(theta, g, hp)
    lambd, alpha, t0 = hp.get("lambd", 1e-4), hp.get("alpha", 0.75), hp.get("t0", 1e6)
    t = s["step"] = s.get("step", 0) + 1
    eta, mu = s.get("eta", hp["lr"]), s.get("mu", 1.0)
    theta = theta * (1 - lambd * eta) - eta * g
    s["ax"] = theta.copy() if mu == 1 else s["ax"] + mu * (theta - s["ax"])
    s["eta"] = hp["lr"] / (1 + lambd * hp["lr"] * t) ** alpha
    s["mu"] = 1 / max(1, t - t0)
    return theta


def ref_rprop(theta, g, s, hp):
    if hp.get("maximize", False):
        g = -g
    eta_minus, eta_plus = hp.get("etas", (0.5, 1.2))
    low, high = hp.get("step_sizes", (1e-6, 50))
    s["step"] = s.get("step", 0) + 1
    product = g * s.get("prev", 0 * theta)
    factor = np.where(product > 0, eta_plus, np.where(product < 0, eta_minus, 1.0))
    s["step_size"] = np.clip(s.get("step_size", np.full_like(theta, hp["lr"])) * factor, low, high)
    s["prev"] = np.where(product < 0, 0.0, g)
    return theta - np.sign(s["prev"]) * s["step_size"]


def ref_adam(theta, g, s, hp):
    theta, g = _opening(theta, g, hp, decoupled_allowed=True)
    beta1, beta2 = hp.get("betas", (0.9, 0.999))
    t = s["step"] = s.get("step", 0) + 1
    _moments(s, theta, g, beta1, beta2)
    v = s["exp_avg_sq"]
    if hp.get("amsgrad", False):
        v = s["max_exp_avg_sq"] = np.maximum(s.get("max_exp_avg_sq", 0 * theta), v)
    denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + hp.get("eps", 1e-8)
    return theta - hp["lr"] / (1 - beta1 ** t) * s["exp_avg"] / denom


def ref_adamw(theta, g, s, hp):
    return ref_adam(theta, g, s, {"weight_decay": 1e-2, **hp, "decoupled_weight_decay": True})


CASES = [
    ("rmsprop", optim.RMSprop, ref_rmsprop, {"alpha": 0.9, "eps": 1e-3}),
    ("rmsprop-centered-momentum-maximize", optim.RMSprop, ref_rmsprop,
     {"centered": True, "momentum": 0.7, "maximize": True, "alpha": 0.8}),
    ("adagrad-options", optim.Adagrad, ref_adagrad,
     {"lr_decay": 0.2, "initial_accumulator_value": 0.4, "maximize": True, "eps": 1e-4}),
    ("adadelta", optim.Adadelta, ref_adadelta, {"rho": 0.7, "eps": 1e-3, "maximize": True}),
    ("adamax", optim.Adamax, ref_adamax, {"betas": (0.8, 0.9), "maximize": True}),
    ("nadam", optim.NAdam, ref_nadam, {"momentum_decay": 0.05, "eps": 1e-3}),
    ("nadam-decoupled-maximize", optim.NAdam, ref_nadam,
     {"decoupled_weight_decay": True, "maximize": True, "betas": (0.8, 0.95)}),
    ("radam", optim.RAdam, ref_radam, {"betas": (0.9, 0.9), "eps": 1e-3}),   # rectified at t = 6
    ("radam-decoupled-maximize", optim.RAdam, ref_radam,
     {"decoupled_weight_decay": True, "maximize": True, "betas": (0.8, 0.9)}),
    ("asgd", optim.ASGD, ref_asgd, {"t0": 2, "lambd": 0.05, "alpha": 0.6, "maximize": True}),
    ("rprop", optim.Rprop, ref_rprop,
     {"etas": (0.3, 1.6), "step_sizes": (2e-3, 0.05), "maximize": True}),
    ("adam-amsgrad-maximize", optim.Adam, ref_adam,
     {"amsgrad": True, "maximize": True, "eps": 1e-3}),
    ("adamw-amsgrad-maximize", optim.AdamW, ref_adamw,
     {"amsgrad": True, "maximize": True, "betas": (0.5, 0.6)}),
]
CASE_IDS = [case[0] for case in CASES]
HAS_FUSED_OPTION = (optim.RMSprop, optim.Adagrad, optim.Adadelta, optim.NAdam, optim.Adam)


def _problem(dtype):
    rng = np.random.default_rng(7)
    weights = {name: rng.normal(size=shape).astype(dtype) for name, shape in SHAPES.items()}
    # a fixed sign per coordinate plus noise: Rprop sees both runs and flips
    offsets = {name: np.linspace(-1.0, 1.0, max(1, int(np.prod(shape)))).reshape(shape)
               for name, shape in SHAPES.items()}
    grads = [{name: (offsets[name] + rng.normal(size=shape)).astype(dtype)
              for name, shape in SHAPES.items()} for _ in range(STEPS)]
    return weights, grads


def _reference_run(reference, options, weights, grads):
    weights = {name: value.astype(np.float64) for name, value in weights.items()}
    states = {name: {} for name in SHAPES}
    history = []
    for step, step_grads in enumerate(grads):
        for name in SHAPES:
            hp = {**options, **GROUPS[GROUP_OF[name]]}
            hp["lr"] *= 0.5 if step >= 2 else 1.0          # the scheduler's cut at step 2
            weights[name] = reference(weights[name], step_grads[name].astype(np.float64),
                                      states[name], hp)
        history.append(({k: v.copy() for k, v in weights.items()}, copy.deepcopy(states)))
    return history


def _make(cls, options, params, fused_option):
    groups = [dict(params=[params[name] for name in SHAPES if GROUP_OF[name] == number],
                   **group) for number, group in enumerate(GROUPS)]
    extra = {"fused": fused_option} if cls in HAS_FUSED_OPTION else {}
    return cls(groups, **options, **extra)


def _host(value):
    return backend.to_host(value) if backend.is_array(value) else value


def _compare(params, optimizer, expected, tolerance, where, with_state):
    weights, states = expected
    for name, p in params.items():
        np.testing.assert_allclose(p.numpy(), weights[name], **tolerance,
                                   err_msg=f"{where}: {name}")
        if not with_state:
            continue
        state = optimizer.state[p]
        assert sorted(state) == sorted(states[name]), where
        for key, value in states[name].items():
            np.testing.assert_allclose(_host(state[key]), value, **tolerance,
                                       err_msg=f"{where}: {name} {key}")


@pytest.mark.parametrize("fused_option", [None, False], ids=["default", "fused-False"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_large_parameter_matches_reference_and_resumes_across_modes(case, fused_option, device):
    _, cls, reference, options = case
    dtype = np.float64 if fused_option is False else np.float32
    tolerance = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4,
                                                                              atol=2e-5)
    weights, grads = _problem(dtype)
    expected = _reference_run(reference, options, weights, grads)
    params = {name: tg.tensor(value.copy(), device=device, requires_grad=True)
              for name, value in weights.items()}
    optimizer = _make(cls, options, params, fused_option)
    other_mode = False if fused_option is None else None
    for step, step_grads in enumerate(grads):
        if step == 3:  # resume from a saved state in a fresh optimizer of the other mode
            saved = copy.deepcopy(optimizer.state_dict())
            optimizer = _make(cls, {**options, "lr": 123.0}, params, other_mode)
            optimizer.load_state_dict(saved)
            for group in optimizer.param_groups:  # (the saved groups carry 'fused' too)
                if "fused" in group:
                    group["fused"] = other_mode
        for name, p in params.items():
            p.grad = tg.tensor(step_grads[name], device=device)
        if step == 2:
            for group in optimizer.param_groups:
                group["lr"] *= 0.5
        optimizer.step()
        for p in params.values():
            assert p.dtype == dtype and p.grad is not None
        _compare(params, optimizer, expected[step], tolerance, f"step {step}",
                 with_state=step in (0, 3, STEPS - 1))   # first, just resumed, last


def test_the_large_cases_take_the_twin_and_chunked_paths():
    """The test above exercises the paths it is named after: a default group of 101,000
    float32 parameters on 'cpu' gets the compiled twin (with Numba), fused=False the
    chunked readable rule."""
    params = [tg.zeros(*BIG, requires_grad=True)]
    for cls in (optim.RMSprop, optim.Adagrad, optim.Adadelta, optim.NAdam, optim.Adam):
        twin = fused.twin_of(cls(params), cls(params).param_groups[0], params)
        if fused.compiled_cpu() is not None:
            assert isinstance(twin, fused.compiled_cpu().GroupTwin), cls.__name__
        readable = cls(params, fused=False)
        chosen = fused.twin_of(readable, readable.param_groups[0], params)
        assert chosen.func is fused.update_in_chunks, cls.__name__
    for cls in (optim.Adamax, optim.RAdam, optim.ASGD, optim.Rprop):
        optimizer = cls(params)
        assert fused.twin_of(optimizer, optimizer.param_groups[0], params).func \
            is fused.update_in_chunks, cls.__name__


# --- LBFGS against a NumPy transcription of torch.optim.LBFGS ---

def _np_cubic(x1, f1, g1, x2, f2, g2, bounds=None):
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(pos, lo), hi)


def _np_strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tol=1e-9, max_ls=25):
    """torch/optim/lbfgs.py: _strong_wolfe, line for line, on NumPy vectors."""
    d_norm = np.abs(d).max()
    f_new, g_new = evaluate(t)
    evals, gtd_new = 1, g_new @ d
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, ls_iter = False, 0
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev,
                                                                                     gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, done = [t], [f_new], [g_new], True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev,
                                                                                     gtd_new]
            break
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        old_t = t
        t = _np_cubic(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(lo, hi))
        t_prev, f_prev, g_prev, gtd_prev = old_t, f_new, g_new, gtd_new
        f_new, g_new = evaluate(t)
        evals, gtd_new, ls_iter = evals + 1, g_new @ d, ls_iter + 1
    if ls_iter == max_ls:
        br, br_f, br_g = [0.0, t], [f, f_new], [g, g_new]
    insufficient = False
    low, high = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(br[1] - br[0]) * d_norm < tol:
            break
        t = _np_cubic(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        eps = 0.1 * (max(br) - min(br))
        if min(max(br) - t, t - min(br)) < eps:
            if insufficient or t >= max(br) or t <= min(br):
                t = max(br) - eps if abs(t - max(br)) < abs(t - min(br)) else min(br) + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals, gtd_new, ls_iter = evals + 1, g_new @ d, ls_iter + 1
        if f_new > f + c1 * t * gtd or f_new >= br_f[low]:
            br[high], br_f[high], br_g[high], br_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high] - br[low]) >= 0:
                br[high], br_f[high], br_g[high], br_gtd[high] = br[low], br_f[low], br_g[low], \
                    br_gtd[low]
            br[low], br_f[low], br_g[low], br_gtd[low] = t, f_new, g_new, gtd_new
    return br_f[low], br_g[low], br[low], evals


class NumpyLBFGS:
    """torch.optim.LBFGS.step, transcribed for a function x -> (f, ∇f) of one vector."""

    def __init__(self, x, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        self.x = x.copy()
        self.lr, self.max_iter = lr, max_iter
        self.max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        self.tol_grad, self.tol_change = tolerance_grad, tolerance_change
        self.history_size, self.line_search_fn = history_size, line_search_fn
        self.state = {"func_evals": 0, "n_iter": 0}

    def step(self, fg):
        st = self.state
        loss, flat_grad = fg(self.x)
        orig_loss, current_evals = loss, 1
        st["func_evals"] += 1
        if np.abs(flat_grad).max() <= self.tol_grad:
            return orig_loss
        d, t = st.get("d"), st.get("t")
        old_dirs, old_stps, ro = st.get("old_dirs"), st.get("old_stps"), st.get("ro")
        H_diag, prev_flat_grad, prev_loss = st.get("H_diag"), st.get("prev_flat_grad"), \
            st.get("prev_loss")
        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            st["n_iter"] += 1
            if st["n_iter"] == 1:
                d, old_dirs, old_stps, ro, H_diag = -flat_grad, [], [], [], 1.0
            else:
                y, s = flat_grad - prev_flat_grad, d * t
                ys = y @ s
                if ys > 1e-10:
                    if len(old_dirs) == self.history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y), old_stps.append(s), ro.append(1.0 / ys)
                    H_diag = ys / (y @ y)
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = (old_stps[i] @ q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                r = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = (old_dirs[i] @ r) * ro[i]
                    r = r + (al[i] - be_i) * old_stps[i]
                d = r
            prev_flat_grad, prev_loss = flat_grad.copy(), loss
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * self.lr if st["n_iter"] == 1 \
                else self.lr
            gtd = flat_grad @ d
            if gtd > -self.tol_change:
                break
            ls_evals = 0
            if self.line_search_fn == "strong_wolfe":
                x_init = self.x.copy()
                loss, flat_grad, t, ls_evals = _np_strong_wolfe(
                    lambda step: fg(x_init + step * d), t, d, loss, flat_grad, gtd)
                self.x = x_init + t * d
                opt_cond = np.abs(flat_grad).max() <= self.tol_grad
            else:
                self.x = self.x + t * d
                if n_iter != self.max_iter:
                    loss, flat_grad = fg(self.x)
                    opt_cond = np.abs(flat_grad).max() <= self.tol_grad
                    ls_evals = 1
            current_evals += ls_evals
            st["func_evals"] += ls_evals
            if n_iter == self.max_iter or current_evals >= self.max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= self.tol_change or abs(loss - prev_loss) < self.tol_change:
                break
        st.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                  prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss


def _rosenbrock_fg(x):
    """f = Σ (1 − x_i)² + 100·(x_(i+1) − x_i²)² over consecutive pairs, and ∇f."""
    a, b = x[:-1], x[1:]
    f = np.sum((1 - a) ** 2 + 100 * (b - a * a) ** 2)
    g = np.zeros_like(x)
    g[:-1] += -2 * (1 - a) - 400 * a * (b - a * a)
    g[1:] += 200 * (b - a * a)
    return float(f), g


LBFGS_CASES = [
    dict(lr=0.3, max_iter=5, history_size=2),
    dict(lr=0.3, max_iter=6, max_eval=4, history_size=3, tolerance_change=1e-4),
    dict(line_search_fn="strong_wolfe", max_iter=5, history_size=2),
    dict(line_search_fn="strong_wolfe", lr=0.5, max_iter=8, max_eval=11, history_size=3),
    dict(line_search_fn="strong_wolfe", max_iter=20, tolerance_change=1e-3, history_size=4),
]


def rosenbrock_closure(optimizer, x):
    """LBFGS's closure: zero the gradient, the Rosenbrock sum over x, backward, the loss."""
    def closure():
        optimizer.zero_grad()
        a, b = x[:-1], x[1:]
        loss = ((1 - a) ** 2 + 100 * (b - a * a) ** 2).sum()
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("options", LBFGS_CASES, ids=[f"lbfgs-{i}" for i in range(5)])
def test_lbfgs_matches_pytorchs_algorithm_transcribed(options, device):
    start = np.array([-1.2, 1.0, 0.3, -0.5])
    reference = NumpyLBFGS(start, **options)
    x = tg.tensor(start.copy(), device=device, requires_grad=True)
    optimizer = optim.LBFGS([x], **options)

    closure = rosenbrock_closure(optimizer, x)

    for step in range(4):
        if step == 2:  # a resume half-way continues the same run
            saved = copy.deepcopy(optimizer.state_dict())
            optimizer = optim.LBFGS([x], **options)
            optimizer.load_state_dict(saved)
        expected_loss = reference.step(_rosenbrock_fg)
        loss = optimizer.step(closure)
        assert math.isclose(loss.item(), expected_loss, rel_tol=1e-12)
        np.testing.assert_allclose(x.numpy(), reference.x, rtol=1e-9, atol=1e-12)
        state = optimizer.state[x]
        assert state["func_evals"] == reference.state["func_evals"]
        assert state["n_iter"] == reference.state["n_iter"]
        assert len(state["old_dirs"]) == len(reference.state["old_dirs"]) <= \
            options["history_size"]
        assert math.isclose(state["t"], reference.state["t"], rel_tol=1e-9)


# --- invalid hyperparameters: PyTorch's errors ---

@pytest.mark.parametrize("make, message", [
    (lambda p: optim.RMSprop(p, lr=-1e-3), "Invalid learning rate: -0.001"),
    (lambda p: optim.RMSprop(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: optim.RMSprop(p, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda p: optim.RMSprop(p, lr=float("nan")), "Invalid learning rate: nan"),
    (lambda p: optim.Adagrad(p, lr=-1.0), "Invalid learning rate: -1.0"),
    (lambda p: optim.Adagrad(p, weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (lambda p: optim.Adagrad(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda p: optim.Adadelta(p, lr=-1.0), "Invalid learning rate: -1.0"),
    (lambda p: optim.Adadelta(p, rho=-0.1), "Invalid rho value: -0.1"),
    (lambda p: optim.Adadelta(p, weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (lambda p: optim.NAdam(p, lr=-1.0), "Invalid learning rate: -1.0"),
    (lambda p: optim.NAdam(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda p: optim.NAdam(p, weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (lambda p: optim.NAdam(p, betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    (lambda p: optim.Adamax(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    (lambda p: optim.AdamW(p, lr=-1.0), "Invalid learning rate: -1.0"),
    (lambda p: optim.AdamW(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda p: optim.AdamW(p, betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (lambda p: optim.LBFGS(p, lr=-1.0), "Invalid learning rate: -1.0"),
    (lambda p: optim.Adafactor(p, lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
    (lambda p: optim.Adafactor(p, beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    (lambda p: optim.Adafactor(p, eps=(-1.0, 1e-3)), "epsilon1 should be >= 0 but is: -1.0"),
    (lambda p: optim.Adafactor(p, eps=(None, -1.0)), "epsilon2 should be >= 0 but is: -1.0"),
    (lambda p: optim.Adafactor(p, d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    (lambda p: optim.Adafactor(p, weight_decay=-1.0), "weight_decay should be >= 0 but is: -1.0"),
])
def test_invalid_hyperparameters_raise_pytorchs_error(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make([tg.tensor(np.ones(2), requires_grad=True)])


@pytest.mark.parametrize("make", [
    lambda p: optim.RMSprop(p, lr=0.0, alpha=0.0, eps=0.0, momentum=0.0, weight_decay=0.0),
    lambda p: optim.Adagrad(p, lr=0.0, lr_decay=0.0, eps=0.0, initial_accumulator_value=0.0),
    lambda p: optim.Adadelta(p, lr=0.0, rho=0.0, eps=0.0),
    lambda p: optim.Adadelta(p, rho=1.0),
    lambda p: optim.Adamax(p, lr=0.0, betas=(0.0, 0.0), eps=0.0),
    lambda p: optim.NAdam(p, lr=0.0, momentum_decay=0.0, betas=(0.0, 0.0)),
    lambda p: optim.RAdam(p, lr=0.0, eps=0.0),
    lambda p: optim.ASGD(p, lr=0.0, lambd=-1.0, alpha=-1.0, t0=-5),
    lambda p: optim.Rprop(p, lr=0.0, step_sizes=(0.0, 0.0)),
    lambda p: optim.LBFGS(p, lr=0.0, max_iter=1, history_size=1),
    lambda p: optim.Adafactor(p, lr=0.0, beta2_decay=0.0, eps=(0.0, 0.0), d=1.0),
])
def test_boundary_hyperparameters_pytorch_accepts_are_accepted(make):
    p = tg.tensor(np.array([0.5, -1.0]), requires_grad=True)
    optimizer = make([p])
    assert len(optimizer.param_groups) == 1


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_lr_as_a_one_element_tensor_steps_like_its_value(line_search_fn, device):
    """PyTorch's LBFGS takes lr=torch.tensor(0.4) (and refuses a Tensor of several
    elements); an in-place change of the Tensor is read at the next step. It raised a
    TypeError (a Tensor times an array) at the first step."""
    options = dict(max_iter=3, history_size=2, line_search_fn=line_search_fn)
    start = np.array([-1.2, 1.0, 0.3])
    reference = NumpyLBFGS(start, lr=0.4, **options)
    lr = tg.tensor(np.array(0.4), device=device)
    x = tg.tensor(start.copy(), device=device, requires_grad=True)
    optimizer = optim.LBFGS([x], lr=lr, **options)

    closure = rosenbrock_closure(optimizer, x)

    for step in range(3):
        if step == 2:
            lr.data[...] = 0.1
            reference.lr = 0.1
        reference.step(_rosenbrock_fg)
        optimizer.step(closure)
        np.testing.assert_allclose(x.numpy(), reference.x, rtol=1e-9, atol=1e-12)
        assert isinstance(optimizer.state[x]["t"], float)
    assert optimizer.param_groups[0]["lr"] is lr
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.LBFGS([x], lr=tg.tensor([0.1, 0.2]))


def test_lbfgs_refuses_a_second_parameter_group():
    """LBFGS steps the first group's parameters only (PyTorch's step asserts one group):
    add_param_group used to succeed, and step() then left the new parameters where they
    were while the first group's went to the optimum."""
    x = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = tg.tensor(np.array([3.0]), requires_grad=True)
    optimizer = optim.LBFGS([x])
    with pytest.raises(ValueError, match="parameter groups"):
        optimizer.add_param_group({"params": [y]})
    assert len(optimizer.param_groups) == 1
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [x]}, {"params": [y]}])

    def closure():
        optimizer.zero_grad()
        loss = ((x - np.array([0.5, -1.0])) ** 2).sum()   # f = ‖x − (0.5, −1)‖²
        loss.backward()
        return loss

    optimizer.step(closure)
    np.testing.assert_allclose(x.numpy(), [0.5, -1.0], atol=1e-7)   # the one group still works
