"""Audit of the optimizers and schedules against PyTorch's documented algorithms.

Every reference here is plain NumPy / Python written from PyTorch's documented
update rules (torch.optim docs: each optimizer's "Algorithm" box; each
scheduler's recursive "chainable" rule), never calling the package:

* each optimizer runs 20 steps on random gradients with weight decay, maximize,
  amsgrad where it exists, two parameter groups, a 0-d and a 3-d parameter and one
  parameter whose grad stays None; a second run stops after 10 steps, loads the
  state_dict into a fresh optimizer and goes on, and must give the same numbers;
* each scheduler's get_last_lr() over 30 steps is compared with the recursive rule
  (or PyTorch's direct formula for the cyclic ones), and a resume through
  state_dict and through ``last_epoch`` must continue the sequence.
"""

import copy
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import optim
from tinygrad_opt.optim import lbfgs
from tinygrad_opt.optim import lr_scheduler as S

STEPS = 20
SHAPES = {"a": (3, 4), "b": (5,), "frozen": (4,), "c": (), "d": (2, 3, 2)}
GROUP_OF = {"a": 0, "b": 0, "frozen": 0, "c": 1, "d": 1}


# --- NumPy references: (θ, g, state, hp) -> new θ; hp = defaults + group options ---

def opening(theta, g, hp, decoupled_allowed=False):
    """g ← −g if maximize; then decoupled decay θ ← θ(1 − γλ) or L2 g ← g + λθ."""
    if hp.get("maximize", False):
        g = -g
    wd = hp.get("weight_decay", 0)
    if wd and decoupled_allowed and hp.get("decoupled_weight_decay", False):
        theta = theta * (1 - hp["lr"] * wd)
    elif wd:
        g = g + wd * theta
    return theta, g


def zeros(theta):
    return np.zeros_like(theta)


def ref_sgd(theta, g, s, hp):
    theta, g = opening(theta, g, hp)
    mu, tau = hp.get("momentum", 0), hp.get("dampening", 0)
    if mu:
        if "momentum_buffer" in s:
            s["momentum_buffer"] = mu * s["momentum_buffer"] + (1 - tau) * g
        else:
            s["momentum_buffer"] = g.copy()
        g = g + mu * s["momentum_buffer"] if hp.get("nesterov") else s["momentum_buffer"]
    return theta - hp["lr"] * g


def ref_adam(theta, g, s, hp):
    theta, g = opening(theta, g, hp, decoupled_allowed=True)
    beta1, beta2 = hp.get("betas", (0.9, 0.999))
    t = s["step"] = s.get("step", 0) + 1
    s["exp_avg"] = beta1 * s.get("exp_avg", zeros(theta)) + (1 - beta1) * g
    s["exp_avg_sq"] = beta2 * s.get("exp_avg_sq", zeros(theta)) + (1 - beta2) * g * g
    m_hat = s["exp_avg"] / (1 - beta1 ** t)
    if hp.get("amsgrad"):
        s["max_exp_avg_sq"] = np.maximum(s.get("max_exp_avg_sq", zeros(theta)), s["exp_avg_sq"])
        v_hat = s["max_exp_avg_sq"] / (1 - beta2 ** t)
    else:
        v_hat = s["exp_avg_sq"] / (1 - beta2 ** t)
    return theta - hp["lr"] * m_hat / (np.sqrt(v_hat) + hp.get("eps", 1e-8))


def ref_adamw(theta, g, s, hp):
    """AdamW: Adam with decoupled decay, λ = 1e-2 unless the group gives one."""
    return ref_adam(theta, g, s, {"weight_decay": 1e-2, **hp, "decoupled_weight_decay": True})


def ref_adamax(theta, g, s, hp):
    theta, g = opening(theta, g, hp)
    beta1, beta2 = hp.get("betas", (0.9, 0.999))
    t = s["step"] = s.get("step", 0) + 1
    s["exp_avg"] = beta1 * s.get("exp_avg", zeros(theta)) + (1 - beta1) * g
    s["exp_inf"] = np.maximum(beta2 * s.get("exp_inf", zeros(theta)),
                              np.abs(g) + hp.get("eps", 1e-8))
    return theta - hp["lr"] * s["exp_avg"] / ((1 - beta1 ** t) * s["exp_inf"])


def ref_nadam(theta, g, s, hp):
    theta, g = opening(theta, g, hp, decoupled_allowed=True)
    beta1, beta2 = hp.get("betas", (0.9, 0.999))
    psi = hp.get("momentum_decay", 4e-3)
    t = s["step"] = s.get("step", 0) + 1
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    s["mu_product"] = s.get("mu_product", 1.0) * mu
    product = s["mu_product"]
    s["exp_avg"] = beta1 * s.get("exp_avg", zeros(theta)) + (1 - beta1) * g
    s["exp_avg_sq"] = beta2 * s.get("exp_avg_sq", zeros(theta)) + (1 - beta2) * g * g
    m_hat = mu_next * s["exp_avg"] / (1 - product * mu_next) + (1 - mu) * g / (1 - product)
    v_hat = s["exp_avg_sq"] / (1 - beta2 ** t)
    return theta - hp["lr"] * m_hat / (np.sqrt(v_hat) + hp.get("eps", 1e-8))


def ref_radam(theta, g, s, hp):
    theta, g = opening(theta, g, hp, decoupled_allowed=True)
    beta1, beta2 = hp.get("betas", (0.9, 0.999))
    t = s["step"] = s.get("step", 0) + 1
    s["exp_avg"] = beta1 * s.get("exp_avg", zeros(theta)) + (1 - beta1) * g
    s["exp_avg_sq"] = beta2 * s.get("exp_avg_sq", zeros(theta)) + (1 - beta2) * g * g
    m_hat = s["exp_avg"] / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
    if rho_t <= 5:                                     # PyTorch's threshold
        return theta - hp["lr"] * m_hat
    adaptive = math.sqrt(1 - beta2 ** t) / (np.sqrt(s["exp_avg_sq"]) + hp.get("eps", 1e-8))
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return theta - hp["lr"] * m_hat * rect * adaptive


def ref_adagrad(theta, g, s, hp):
    theta, g = opening(theta, g, hp)
    t = s["step"] = s.get("step", 0) + 1
    lr = hp["lr"] / (1 + (t - 1) * hp.get("lr_decay", 0))
    start = np.full_like(theta, hp.get("initial_accumulator_value", 0))
    s["sum"] = s.get("sum", start) + g * g
    return theta - lr * g / (np.sqrt(s["sum"]) + hp.get("eps", 1e-10))


def ref_adadelta(theta, g, s, hp):
    theta, g = opening(theta, g, hp)
    rho, eps = hp.get("rho", 0.9), hp.get("eps", 1e-6)
    s["step"] = s.get("step", 0) + 1
    s["square_avg"] = rho * s.get("square_avg", zeros(theta)) + (1 - rho) * g * g
    acc = s.get("acc_delta", zeros(theta))
    delta = np.sqrt(acc + eps) / np.sqrt(s["square_avg"] + eps) * g
    s["acc_delta"] = rho * acc + (1 - rho) * delta * delta
    return theta - hp["lr"] * delta


def ref_rmsprop(theta, g, s, hp):
    theta, g = opening(theta, g, hp)
    alpha, mu = hp.get("alpha", 0.99), hp.get("momentum", 0)
    s["step"] = s.get("step", 0) + 1
    s["square_avg"] = alpha * s.get("square_avg", zeros(theta)) + (1 - alpha) * g * g
    variance = s["square_avg"]
    if hp.get("centered"):
        s["grad_avg"] = alpha * s.get("grad_avg", zeros(theta)) + (1 - alpha) * g
        variance = variance - s["grad_avg"] ** 2
    denominator = np.sqrt(variance) + hp.get("eps", 1e-8)
    if mu > 0:
        s["momentum_buffer"] = mu * s.get("momentum_buffer", zeros(theta)) + g / denominator
        return theta - hp["lr"] * s["momentum_buffer"]
    return theta - hp["lr"] * g / denominator


def ref_rprop(theta, g, s, hp):
    if hp.get("maximize"):
        g = -g
    eta_minus, eta_plus = hp.get("etas", (0.5, 1.2))
    smallest, largest = hp.get("step_sizes", (1e-6, 50))
    s["step"] = s.get("step", 0) + 1
    previous = s.get("prev", zeros(theta))
    size = s.get("step_size", np.full_like(theta, hp["lr"]))
    sign = np.sign(g * previous)
    factor = np.where(sign > 0, eta_plus, np.where(sign < 0, eta_minus, 1.0))
    size = np.clip(size * factor, smallest, largest)
    g = np.where(sign < 0, 0.0, g)
    s["prev"], s["step_size"] = g, size
    return theta - np.sign(g) * size


def ref_asgd(theta, g, s, hp):
    theta, g = opening(theta, g, hp)
    lr, lambd = hp["lr"], hp.get("lambd", 1e-4)
    alpha, t0 = hp.get("alpha", 0.75), hp.get("t0", 1e6)
    t = s["step"] = s.get("step", 0) + 1
    eta, mu = s.get("eta", lr), s.get("mu", 1.0)
    theta = theta * (1 - lambd * eta) - eta * g
    ax = s.get("ax", zeros(theta))
    s["ax"] = ax + mu * (theta - ax) if mu != 1 else theta.copy()
    s["eta"] = lr / (1 + lambd * lr * t) ** alpha
    s["mu"] = 1 / max(1, t - t0)
    return theta


def ref_adafactor(theta, g, s, hp):
    if hp.get("maximize"):
        g = -g
    lr, tau = hp["lr"], hp.get("beta2_decay", -0.8)
    eps1, eps2 = hp.get("eps", (None, 1e-3))
    eps1 = np.finfo(theta.dtype).eps if eps1 is None else eps1
    t = s["step"] = s.get("step", 0) + 1
    beta2 = 1 - t ** tau
    alpha = max(eps2, math.sqrt(np.mean(theta ** 2))) * min(lr, 1 / math.sqrt(t))
    theta = theta * (1 - lr * hp.get("weight_decay", 0.0))
    if theta.ndim >= 2:
        row = s.get("row_var", np.zeros(theta.shape[:-1] + (1,)))
        col = s.get("col_var", np.zeros(theta.shape[:-2] + (1, theta.shape[-1])))
        s["row_var"] = beta2 * row + (1 - beta2) * np.mean(g * g, axis=-1, keepdims=True)
        s["col_var"] = beta2 * col + (1 - beta2) * np.mean(g * g, axis=-2, keepdims=True)
        row_mean = np.mean(s["row_var"], axis=-2, keepdims=True)
        variance = s["row_var"] @ s["col_var"] / np.maximum(row_mean, eps1)
    else:
        variance = s["variance"] = beta2 * s.get("variance", zeros(theta)) + (1 - beta2) * g * g
    update = g / np.sqrt(np.maximum(variance, eps1 * eps1))
    update = update / max(1.0, math.sqrt(np.mean(update ** 2)) / hp.get("d", 1.0))
    return theta - alpha * update


GROUPS = ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.03})
OPTIMIZER_CASES = [
    ("sgd-nesterov-maximize", optim.SGD, ref_sgd,
     {"momentum": 0.9, "nesterov": True, "maximize": True}),
    ("sgd-dampening", optim.SGD, ref_sgd, {"momentum": 0.8, "dampening": 0.3}),
    ("adam-amsgrad-maximize", optim.Adam, ref_adam, {"amsgrad": True, "maximize": True}),
    ("adam-decoupled", optim.Adam, ref_adam,
     {"amsgrad": True, "maximize": True, "decoupled_weight_decay": True}),
    ("adamw-amsgrad-maximize", optim.AdamW, ref_adamw, {"amsgrad": True, "maximize": True}),
    ("adamax-maximize", optim.Adamax, ref_adamax, {"maximize": True, "betas": (0.8, 0.99)}),
    ("nadam-maximize", optim.NAdam, ref_nadam, {"maximize": True}),
    ("nadam-decoupled", optim.NAdam, ref_nadam,
     {"maximize": True, "decoupled_weight_decay": True, "momentum_decay": 0.01}),
    ("radam-maximize", optim.RAdam, ref_radam, {"maximize": True}),
    ("radam-decoupled", optim.RAdam, ref_radam,
     {"decoupled_weight_decay": True, "betas": (0.9, 0.99)}),
    ("adagrad-options", optim.Adagrad, ref_adagrad,
     {"maximize": True, "lr_decay": 0.1, "initial_accumulator_value": 0.3}),
    ("adadelta-maximize", optim.Adadelta, ref_adadelta, {"maximize": True, "rho": 0.8}),
    ("rmsprop-centered-momentum", optim.RMSprop, ref_rmsprop,
     {"maximize": True, "centered": True, "momentum": 0.5, "alpha": 0.9}),
    ("rprop", optim.Rprop, ref_rprop,
     {"maximize": True, "etas": (0.4, 1.3), "step_sizes": (1e-3, 0.05)}),
    ("asgd-averaging", optim.ASGD, ref_asgd, {"maximize": True, "t0": 5, "lambd": 0.05}),
    ("adafactor", optim.Adafactor, ref_adafactor, {"maximize": True}),
]


def random_problem(seed=0):
    rng = np.random.default_rng(seed)
    weights = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    grads = [{name: np.linspace(-1.5, 1.5, max(1, int(np.prod(shape)))).reshape(shape)
              + rng.normal(size=shape) for name, shape in SHAPES.items()} for _ in range(STEPS)]
    return weights, grads


def make_optimizer(cls, kwargs, weights, device):
    params = {name: tg.tensor(np.array(value), device=device, requires_grad=True)
              for name, value in weights.items()}
    groups = [dict(params=[params[name] for name in SHAPES if GROUP_OF[name] == number],
                   **options) for number, options in enumerate(GROUPS)]
    return params, cls(groups, **kwargs)


@pytest.mark.parametrize("resume", [False, True], ids=["straight", "state-dict-resume"])
@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=[case[0] for case in OPTIMIZER_CASES])
def test_optimizer_matches_numpy_reference(case, resume, device):
    _, cls, reference, kwargs = case
    weights, grads = random_problem()
    expected = {name: value.copy() for name, value in weights.items()}
    states = {name: {} for name in SHAPES}
    params, optimizer = make_optimizer(cls, kwargs, weights, device)
    for step in range(STEPS):
        if resume and step == STEPS // 2:     # a fresh optimizer continues from the state_dict
            saved = copy.deepcopy(optimizer.state_dict())
            current = {name: p.numpy() for name, p in params.items()}
            params, optimizer = make_optimizer(cls, kwargs, current, device)
            optimizer.load_state_dict(saved)
        for name, p in params.items():
            p.grad = None if name == "frozen" else tg.tensor(grads[step][name], device=device)
        optimizer.step()
        for name in SHAPES:
            if name != "frozen":
                hp = {**kwargs, **GROUPS[GROUP_OF[name]]}
                expected[name] = reference(expected[name], grads[step][name], states[name], hp)
        for name, p in params.items():
            np.testing.assert_allclose(p.numpy(), expected[name], rtol=1e-10, atol=1e-13,
                                       err_msg=f"{cls.__name__} {name} at step {step + 1}")
    np.testing.assert_array_equal(params["frozen"].numpy(), weights["frozen"])
    assert params["frozen"] not in optimizer.state or not optimizer.state[params["frozen"]]
    assert not np.allclose(params["a"].numpy(), weights["a"])


def test_add_param_group_fills_defaults_and_zero_grad(device):
    """A group added mid-run takes the defaults it does not name and starts its own
    state; zero_grad(set_to_none=False) zeroes in place, the default sets None."""
    weights, grads = random_problem()
    first = tg.tensor(weights["a"], device=device, requires_grad=True)
    second = tg.tensor(weights["b"], device=device, requires_grad=True)
    optimizer = optim.Adam([first], lr=0.01, betas=(0.8, 0.9), amsgrad=True)
    expected_first, expected_second, state_first, state_second = weights["a"], None, {}, {}
    hp = {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True}
    for step in range(6):
        if step == 3:
            optimizer.add_param_group({"params": second, "lr": 0.05})
            assert optimizer.param_groups[1]["betas"] == (0.8, 0.9)
            assert optimizer.param_groups[1]["amsgrad"] is True
            expected_second = weights["b"]
        first.grad = tg.tensor(grads[step]["a"], device=device)
        second.grad = tg.tensor(grads[step]["b"], device=device)
        optimizer.step()
        expected_first = ref_adam(expected_first, grads[step]["a"], state_first, hp)
        if expected_second is not None:
            expected_second = ref_adam(expected_second, grads[step]["b"], state_second,
                                       {**hp, "lr": 0.05})
    np.testing.assert_allclose(first.numpy(), expected_first, rtol=1e-12)
    np.testing.assert_allclose(second.numpy(), expected_second, rtol=1e-12)
    assert optimizer.state[second]["step"] == 3
    optimizer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(first.grad.numpy(), np.zeros((3, 4)))
    optimizer.zero_grad()
    assert first.grad is None and second.grad is None


# --- LBFGS: the line search keeps PyTorch's own tolerance ---

def one_lbfgs_iteration(tolerance_change):
    x = tg.tensor(np.array([3.0]), requires_grad=True)
    optimizer = optim.LBFGS([x], lr=100, max_iter=1, line_search_fn="strong_wolfe",
                            tolerance_change=tolerance_change)

    def closure():
        optimizer.zero_grad()
        loss = ((x * x - 1) ** 2).sum()          # f(x) = (x² − 1)²
        loss.backward()
        return loss

    optimizer.step(closure)
    return x.numpy(), optimizer.state[x]["func_evals"]


def test_lbfgs_strong_wolfe_ignores_the_groups_tolerance_change():
    """PyTorch calls its strong-Wolfe search without tolerance_change, so the zoom runs
    until the bracket is below 1e-9. With max_iter=1 the group's tolerance_change
    enters nowhere else here (gᵀd = −96² ≪ −10): a tolerance of 10 must give the same
    iterate as the default. It used to stop the zoom at once and stay at x = 3."""
    x_default, evals_default = one_lbfgs_iteration(1e-9)
    x_loose, evals_loose = one_lbfgs_iteration(10.0)
    np.testing.assert_array_equal(x_loose, x_default)
    assert evals_loose == evals_default
    assert abs(x_loose[0]) < 1.0 and evals_default > 2   # it zoomed, and moved from 3


# --- schedules: PyTorch's recursive ("chainable") rules, lr_t from lr_(t−1) ---

LR0 = (0.5, 0.2)


def sgd_with_groups(lrs=LR0, cls=optim.SGD, **kwargs):
    params = [tg.tensor(np.zeros(2), requires_grad=True) for _ in lrs]
    return cls([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], **kwargs)


def recursive(rule, steps=30, base=LR0):
    """lr_t = rule(lr_(t−1), t, α0) for t = 0..steps, starting from lr = α0."""
    lrs, rows = list(base), []
    for t in range(steps + 1):
        lrs = [rule(lr, t, alpha0) for lr, alpha0 in zip(lrs, base)]
        rows.append(lrs)
    return np.array(rows)


def step_rule(step_size, gamma):
    return lambda lr, t, a0: lr if t == 0 or t % step_size else lr * gamma


def multistep_rule(milestones, gamma):
    return lambda lr, t, a0: lr * gamma ** milestones.count(t) if t > 0 else lr


def exponential_rule(gamma):
    return lambda lr, t, a0: lr if t == 0 else lr * gamma


def cosine_rule(T_max, eta_min):
    def rule(lr, t, a0):
        if t == 0:
            return lr
        if (t - 1 - T_max) % (2 * T_max) == 0:
            return lr + (a0 - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
        return ((1 + math.cos(math.pi * t / T_max)) / (1 + math.cos(math.pi * (t - 1) / T_max))
                * (lr - eta_min) + eta_min)
    return rule


def linear_rule(start, end, total):
    def rule(lr, t, a0):
        if t == 0:
            return lr * start
        if t > total:
            return lr
        return lr * (1 + (end - start) / (total * start + (t - 1) * (end - start)))
    return rule


def constant_rule(factor, total):
    return lambda lr, t, a0: lr * factor if t == 0 else (lr / factor if t == total else lr)


def polynomial_rule(total, power):
    def rule(lr, t, a0):
        if t == 0 or t > total:
            return lr
        return lr * ((1 - t / total) / (1 - (t - 1) / total)) ** power
    return rule


def multiplicative_rule(factor):
    return lambda lr, t, a0: lr * factor(t) if t > 0 else lr


def halving_on_odd(t):
    return 0.95 if t % 2 else 0.9


SCHEDULE_CASES = [
    ("StepLR", lambda o, e=-1: S.StepLR(o, 4, 0.5, last_epoch=e), step_rule(4, 0.5)),
    ("MultiStepLR", lambda o, e=-1: S.MultiStepLR(o, [20, 3, 7, 7], 0.3, last_epoch=e),
     multistep_rule([3, 7, 7, 20], 0.3)),
    ("ExponentialLR", lambda o, e=-1: S.ExponentialLR(o, 0.9, last_epoch=e),
     exponential_rule(0.9)),
    ("CosineAnnealingLR", lambda o, e=-1: S.CosineAnnealingLR(o, 7, 0.01, last_epoch=e),
     cosine_rule(7, 0.01)),
    ("CosineAnnealingLR-0", lambda o, e=-1: S.CosineAnnealingLR(o, 10, last_epoch=e),
     cosine_rule(10, 0.0)),
    ("LinearLR", lambda o, e=-1: S.LinearLR(o, 0.25, 0.9, 6, last_epoch=e),
     linear_rule(0.25, 0.9, 6)),
    ("ConstantLR", lambda o, e=-1: S.ConstantLR(o, 0.3, 4, last_epoch=e), constant_rule(0.3, 4)),
    ("PolynomialLR", lambda o, e=-1: S.PolynomialLR(o, 8, 2.0, last_epoch=e),
     polynomial_rule(8, 2.0)),
    ("MultiplicativeLR", lambda o, e=-1: S.MultiplicativeLR(o, halving_on_odd, last_epoch=e),
     multiplicative_rule(halving_on_odd)),
    ("LambdaLR", lambda o, e=-1: S.LambdaLR(o, lambda t: 1 / (1 + t), last_epoch=e),
     lambda lr, t, a0: a0 / (1 + t)),
]


def run_schedule(make, steps=30, optimizer=None):
    optimizer = optimizer or sgd_with_groups()
    scheduler = make(optimizer)
    rows = [list(scheduler.get_last_lr())]
    for _ in range(steps):
        scheduler.step()
        rows.append(list(scheduler.get_last_lr()))
        assert rows[-1] == [group["lr"] for group in optimizer.param_groups]
    return np.array(rows)


def assert_resumes(make, expected, momentum=False, by_last_epoch=True):
    """After 12 steps: a fresh optimizer and scheduler loading both state_dicts, and a
    fresh scheduler made with last_epoch=12 on the loaded optimizer, both go on with
    expected[13:]."""
    optimizer = sgd_with_groups(momentum=0.9)
    scheduler = make(optimizer)
    for _ in range(12):
        scheduler.step()
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_scheduler = copy.deepcopy(scheduler.state_dict())
    fresh = sgd_with_groups(momentum=0.9)
    resumed = make(fresh)
    fresh.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    rows = []
    for _ in range(len(expected) - 13):
        resumed.step()
        rows.append(resumed.get_last_lr())
    np.testing.assert_allclose(rows, expected[13:], rtol=1e-12, atol=1e-15)
    if by_last_epoch:
        fresh = sgd_with_groups(momentum=0.9)
        fresh.load_state_dict(saved_optimizer)
        resumed = make(fresh, 12)                 # its initial step moves to t = 13
        rows = [resumed.get_last_lr()]
        for _ in range(len(expected) - 14):
            resumed.step()
            rows.append(resumed.get_last_lr())
        np.testing.assert_allclose(rows, expected[13:], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", SCHEDULE_CASES, ids=[case[0] for case in SCHEDULE_CASES])
def test_schedule_matches_pytorch_recursive_rule_and_resumes(case):
    _, make, rule = case
    expected = recursive(rule)
    np.testing.assert_allclose(run_schedule(make), expected, rtol=1e-12, atol=1e-15)
    assert_resumes(make, expected)


def warm_restarts_reference(T_0, T_mult, eta_min, epochs, base=0.5):
    """PyTorch's step(epoch): T_cur + 1 (restart at T_i) or the cycle found from epoch."""
    T_i, T_cur, last, rows = T_0, -1, -1, []
    for epoch in epochs:
        if epoch is None and last < 0:
            epoch = 0
        if epoch is None:
            epoch, T_cur = last + 1, T_cur + 1
            if T_cur >= T_i:
                T_cur, T_i = T_cur - T_i, T_i * T_mult
        elif epoch >= T_0 and T_mult == 1:
            T_cur = epoch % T_0
        elif epoch >= T_0:
            n = int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))
            T_cur, T_i = epoch - T_0 * (T_mult ** n - 1) / (T_mult - 1), T_0 * T_mult ** n
        else:
            T_i, T_cur = T_0, epoch
        last = math.floor(epoch)
        rows.append(eta_min + (base - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2)
    return rows


@pytest.mark.parametrize("T_0, T_mult", [(3, 1), (2, 2), (3, 3)])
def test_warm_restarts_steps_and_fractional_epochs(T_0, T_mult):
    optimizer = sgd_with_groups((0.5,))
    scheduler = S.CosineAnnealingWarmRestarts(optimizer, T_0, T_mult, eta_min=0.01)
    got = [scheduler.get_last_lr()[0]]
    for _ in range(30):
        scheduler.step()
        got.append(scheduler.get_last_lr()[0])
    np.testing.assert_allclose(got, warm_restarts_reference(T_0, T_mult, 0.01, [None] * 31),
                               rtol=1e-12)
    # quarter epochs (avoiding the exact restarts, where PyTorch's log can land a cycle
    # early: a documented deviation), then plain steps that keep the fraction
    epochs = [None] + [k / 4 + 0.01 for k in range(1, 50)] + [None] * 4
    optimizer = sgd_with_groups((0.5,))
    scheduler = S.CosineAnnealingWarmRestarts(optimizer, T_0, T_mult, eta_min=0.01)
    got = [scheduler.get_last_lr()[0]]
    for epoch in epochs[1:]:
        scheduler.step() if epoch is None else scheduler.step(epoch)
        got.append(scheduler.get_last_lr()[0])
    np.testing.assert_allclose(got, warm_restarts_reference(T_0, T_mult, 0.01, epochs),
                               rtol=1e-9)


def test_warm_restarts_resume():
    make = lambda o, e=-1: S.CosineAnnealingWarmRestarts(o, 3, 2, 0.01, last_epoch=e)  # noqa
    expected = np.array([warm_restarts_reference(3, 2, 0.01, [None] * 31, base=base)
                         for base in LR0]).T
    np.testing.assert_allclose(run_schedule(make), expected, rtol=1e-12)
    assert_resumes(make, expected)


# --- cyclic schedules: PyTorch computes them directly from t ---

def cyclic_reference(base, peak, up, down, mode, gamma, t, momenta=None):
    total = up + down
    ratio = up / total
    cycle = math.floor(1 + t / total)
    x = 1 + t / total - cycle
    h = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1),
             "exp_range": gamma ** t}[mode]
    if momenta is not None:
        low, high = momenta
        return high - (high - low) * h * scale
    return base + (peak - base) * h * scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr_and_momentum_cycling(mode):
    optimizer = sgd_with_groups(cls=optim.Adam)
    scheduler = S.CyclicLR(optimizer, 0.01, [0.1, 0.2], step_size_up=3, step_size_down=5,
                           mode=mode, gamma=0.95, base_momentum=0.8, max_momentum=0.9)
    for t in range(31):
        if t:
            scheduler.step()
        expected = [cyclic_reference(0.01, peak, 3, 5, mode, 0.95, t) for peak in (0.1, 0.2)]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-12)
        beta1 = cyclic_reference(0, 0, 3, 5, mode, 0.95, t, momenta=(0.8, 0.9))
        for group in optimizer.param_groups:
            assert group["betas"] == pytest.approx((beta1, 0.999), rel=1e-12)
    make = lambda o, e=-1: S.CyclicLR(o, 0.01, [0.1, 0.2], 3, 5, mode=mode,  # noqa: E731
                                      gamma=0.95, last_epoch=e)
    expected = np.array([[cyclic_reference(0.01, peak, 3, 5, mode, 0.95, t) for peak in
                          (0.1, 0.2)] for t in range(31)])
    assert_resumes(make, expected)


def one_cycle_reference(max_lr, total, pct, strategy, div, final_div, three_phase, t,
                        momenta=None):
    initial = max_lr / div
    lowest = initial / final_div
    high_m, low_m = momenta if momenta else (0.0, 0.0)
    if three_phase:
        phases = [(pct * total - 1, initial, max_lr, high_m, low_m),
                  (2 * pct * total - 2, max_lr, initial, low_m, high_m),
                  (total - 1, initial, lowest, high_m, high_m)]
    else:
        phases = [(pct * total - 1, initial, max_lr, high_m, low_m),
                  (total - 1, max_lr, lowest, low_m, high_m)]
    start = 0.0
    for number, (end, a, b, c, d) in enumerate(phases):
        if t <= end or number == len(phases) - 1:
            x = (t - start) / (end - start)
            if momenta:
                a, b = c, d
            if strategy == "cos":
                return b + (a - b) / 2 * (1 + math.cos(math.pi * x))
            return a + (b - a) * x
        start = end


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_lr_and_momentum(three_phase, strategy):
    options = dict(total_steps=30, pct_start=0.25, anneal_strategy=strategy, div_factor=10.0,
                   final_div_factor=100.0, three_phase=three_phase, base_momentum=0.8,
                   max_momentum=0.95)
    optimizer = sgd_with_groups(momentum=0.9)
    scheduler = S.OneCycleLR(optimizer, [1.0, 0.4], **options)
    for t in range(31):
        if t:
            scheduler.step()
        expected = [one_cycle_reference(peak, 30, 0.25, strategy, 10.0, 100.0, three_phase, t)
                    for peak in (1.0, 0.4)]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-12)
        momentum = one_cycle_reference(1.0, 30, 0.25, strategy, 10.0, 100.0, three_phase, t,
                                       momenta=(0.95, 0.8))
        assert optimizer.param_groups[1]["momentum"] == pytest.approx(momentum, rel=1e-12)
    with pytest.raises(ValueError, match="total_steps"):
        scheduler.step()                          # t = 31 > total_steps
    make = lambda o, e=-1: S.OneCycleLR(o, [1.0, 0.4], last_epoch=e, **options)  # noqa: E731
    expected = np.array([[one_cycle_reference(peak, 30, 0.25, strategy, 10.0, 100.0,
                                              three_phase, t) for peak in (1.0, 0.4)]
                         for t in range(31)])
    assert_resumes(make, expected)


def plateau_reference(metrics, lrs, mode, factor, patience, threshold, threshold_mode,
                      cooldown, min_lrs, eps):
    best, bad, cooling, lrs, rows = (math.inf if mode == "min" else -math.inf), 0, 0, \
        list(lrs), []
    for metric in metrics:
        if mode == "min":
            better = metric < (best * (1 - threshold) if threshold_mode == "rel"
                               else best - threshold)
        else:
            better = metric > (best * (1 + threshold) if threshold_mode == "rel"
                               else best + threshold)
        best, bad = (metric, 0) if better else (best, bad + 1)
        if cooling > 0:
            cooling, bad = cooling - 1, 0
        if bad > patience:
            for number, lr in enumerate(lrs):
                new = max(lr * factor, min_lrs[number])
                if lr - new > eps:
                    lrs[number] = new
            cooling, bad = cooldown, 0
        rows.append(list(lrs))
    return rows


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
def test_reduce_lr_on_plateau(mode, threshold_mode):
    metrics = list(np.cumsum(np.random.default_rng(0).normal(size=30)))
    options = dict(mode=mode, factor=0.5, patience=2, threshold=0.1,
                   threshold_mode=threshold_mode, cooldown=2, min_lr=[0.1, 0.01], eps=1e-3)
    expected = plateau_reference(metrics, LR0, mode, 0.5, 2, 0.1, threshold_mode, 2,
                                 [0.1, 0.01], 1e-3)
    assert len({tuple(row) for row in expected}) >= 4      # it reduced, and hit min_lr
    optimizer = sgd_with_groups()
    scheduler = S.ReduceLROnPlateau(optimizer, **options)
    rows = []
    for number, metric in enumerate(metrics):
        if number == 12:                                   # resume through state_dicts
            saved = copy.deepcopy(scheduler.state_dict())
            saved_optimizer = copy.deepcopy(optimizer.state_dict())
            optimizer = sgd_with_groups()
            optimizer.load_state_dict(saved_optimizer)
            scheduler = S.ReduceLROnPlateau(optimizer)
            scheduler.load_state_dict(saved)
        scheduler.step(tg.tensor(metric) if number % 2 else metric)
        rows.append(scheduler.get_last_lr())
    np.testing.assert_allclose(rows, expected, rtol=1e-15)


def test_sequential_and_chained_match_pytorch():
    """SequentialLR: each scheduler from its own t = 0 at its milestone (step(0) takes
    the closed form). ChainedScheduler: each recursive rule applied to the shared lr."""
    make = lambda o: S.SequentialLR(  # noqa: E731
        o, [S.LinearLR(o, 0.1, 1.0, 5), S.ExponentialLR(o, 0.9), S.StepLR(o, 3, 0.5)], [5, 15])
    linear, exponential, step = linear_rule(0.1, 1.0, 5), exponential_rule(0.9), step_rule(3, 0.5)

    def sequential(lr, t, a0):
        if t < 5:
            return linear(lr, t, a0)
        if t < 15:
            return a0 if t == 5 else exponential(lr, t - 5, a0)
        return a0 if t == 15 else step(lr, t - 15, a0)

    expected = recursive(sequential)
    np.testing.assert_allclose(run_schedule(make), expected, rtol=1e-12)
    assert_resumes(lambda o, e=-1: make(o), expected, by_last_epoch=False)

    constant, exponential = constant_rule(0.1, 10), exponential_rule(0.9)
    make = lambda o: S.ChainedScheduler([S.ConstantLR(o, 0.1, 10),  # noqa: E731
                                         S.ExponentialLR(o, 0.9)])
    expected = recursive(lambda lr, t, a0: exponential(constant(lr, t, a0), t, a0))
    np.testing.assert_allclose(run_schedule(make), expected, rtol=1e-12)
    assert_resumes(lambda o, e=-1: make(o), expected, by_last_epoch=False)


def test_schedule_lengths_may_be_numpy_integers_and_t_max_a_float():
    """PyTorch does not type-check these: a length computed with NumPy (np.int64) or a
    float T_max works there. They used to raise 'must be a positive integer'."""
    cases = [
        (lambda o: S.StepLR(o, np.int64(4), 0.5), step_rule(4, 0.5)),
        (lambda o: S.CosineAnnealingLR(o, np.int64(7), 0.01), cosine_rule(7, 0.01)),
        (lambda o: S.CosineAnnealingLR(o, 7.0, 0.01), cosine_rule(7, 0.01)),
        (lambda o: S.LinearLR(o, 0.25, 0.9, np.int64(6)), linear_rule(0.25, 0.9, 6)),
        (lambda o: S.ConstantLR(o, 0.3, np.int64(4)), constant_rule(0.3, 4)),
        (lambda o: S.PolynomialLR(o, np.int64(8), 2.0), polynomial_rule(8, 2.0)),
    ]
    for make, rule in cases:
        np.testing.assert_allclose(run_schedule(make), recursive(rule), rtol=1e-12, atol=1e-15)
    restarts = S.CosineAnnealingWarmRestarts(sgd_with_groups((0.5,)), np.int64(3), np.int64(2))
    assert restarts.get_last_lr() == [0.5]
    for bad in (0, -2.0, True, "7"):
        with pytest.raises(ValueError, match="T_max"):
            S.CosineAnnealingLR(sgd_with_groups(), bad)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        S.StepLR(sgd_with_groups(), 0)


def test_lbfgs_line_search_default_is_pytorchs():
    """The module's strong-Wolfe search keeps PyTorch's defaults (c1, c2, 1e-9, 25)."""
    defaults = lbfgs._strong_wolfe.__defaults__
    assert defaults == (1e-4, 0.9, 1e-9, 25)


def test_a_parameter_with_a_gradient_is_updated_even_if_frozen_since_as_pytorch():
    """PyTorch's step updates every parameter whose grad is not None; freezing after a
    backward does not skip it (zero_grad()'s None does)."""
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    optimizer = tg.optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    w.requires_grad_(False)
    optimizer.step()
    assert w.tolist() == [0.0, 0.0]
    optimizer.zero_grad()
    optimizer.step()
    assert w.tolist() == [0.0, 0.0]
