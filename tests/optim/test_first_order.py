"""First-order optimizers against plain-NumPy transcriptions of their published rules.

Each reference below is written from the paper / PyTorch's documented algorithm
(never calling the package); it trains its own NumPy copy of a small 2-layer
MLP, with gradients from hand-written backprop, while the optimizer under test
trains the same MLP built from tinygrad_opt ops with gradients from backward().
Parameters are compared after every one of 25 steps, with two parameter groups
that have different learning rates and weight decays.
"""

import copy
import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, optim

STEPS = 25
IN, HIDDEN, OUT, BATCH = 3, 5, 2, 8


# --- the model: a 2-layer tanh MLP with a squared-error loss, fixed batch ---

def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, IN))
    y = rng.normal(size=(BATCH, OUT))
    weights = {
        "W1": rng.normal(size=(IN, HIDDEN)) * 0.7,
        "b1": rng.normal(size=(HIDDEN,)) * 0.1,
        "W2": rng.normal(size=(HIDDEN, OUT)) * 0.7,
        "b2": rng.normal(size=(OUT,)) * 0.1,
    }
    return x, y, weights


NAMES = ("W1", "b1", "W2", "b2")


def numpy_loss_and_grads(weights, x, y):
    """Hand-written backprop of mean((tanh(x W1 + b1) W2 + b2 − y)²)."""
    h = np.tanh(x @ weights["W1"] + weights["b1"])          # (N, H)
    out = h @ weights["W2"] + weights["b2"]                 # (N, O)
    loss = np.mean((out - y) ** 2)
    d_out = 2 * (out - y) / out.size                        # (N, O)
    d_h = d_out @ weights["W2"].T                           # (N, H)
    d_z = d_h * (1 - h * h)                                 # (N, H)
    grads = {"W1": x.T @ d_z, "b1": d_z.sum(0), "W2": h.T @ d_out, "b2": d_out.sum(0)}
    return loss, grads


class Model:
    """The same MLP as tinygrad_opt Tensors."""

    def __init__(self, weights, device, dtype=np.float64):
        self.params = {name: tg.tensor(np.array(weights[name], dtype=dtype), device=device,
                                       requires_grad=True) for name in NAMES}

    def loss(self, x, y):
        p = self.params
        h = (x @ p["W1"] + p["b1"]).tanh()
        out = h @ p["W2"] + p["b2"]
        return ((out - y) * (out - y)).mean()

    def groups(self, group_options):
        first, second = group_options
        return [dict(params=[self.params["W1"], self.params["b1"]], **first),
                dict(params=[self.params["W2"], self.params["b2"]], **second)]

    def numpy(self):
        return {name: t.numpy().copy() for name, t in self.params.items()}


def tensors(x, y, device, dtype=np.float64):
    return (tg.tensor(x.astype(dtype), device=device), tg.tensor(y.astype(dtype), device=device))


# --- NumPy references, one function per rule: (θ, g, state, hp) -> new θ ---

def ref_sgd(theta, g, state, hp):
    lr, mu, tau, wd = hp["lr"], hp.get("momentum", 0), hp.get("dampening", 0), \
        hp.get("weight_decay", 0)
    if hp.get("maximize", False):
        g = -g
    if wd:
        g = g + wd * theta
    if mu:
        if "b" in state:
            state["b"] = mu * state["b"] + (1 - tau) * g
        else:
            state["b"] = g.copy()
        g = g + mu * state["b"] if hp.get("nesterov", False) else state["b"]
    return theta - lr * g


def ref_adam(theta, g, state, hp):
    lr, (b1, b2), eps, wd = hp["lr"], hp.get("betas", (0.9, 0.999)), hp.get("eps", 1e-8), \
        hp.get("weight_decay", 0)
    decoupled = hp.get("decoupled", False)
    t = state["t"] = state.get("t", 0) + 1
    if hp.get("maximize", False):
        g = -g
    if wd and decoupled:
        theta = theta * (1 - lr * wd)
    elif wd:
        g = g + wd * theta
    state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
    state["v"] = b2 * state.get("v", 0) + (1 - b2) * g ** 2
    v = state["v"]
    if hp.get("amsgrad", False):
        state["vmax"] = np.maximum(state.get("vmax", 0), state["v"])
        v = state["vmax"]
    # PyTorch's implementation order: step size lr / (1 − β1^t), denominator √v / √(1 − β2^t) + ε
    step_size = lr / (1 - b1 ** t)
    denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
    return theta - step_size * state["m"] / denom


def ref_adagrad(theta, g, state, hp):
    lr, eta, wd, eps = hp["lr"], hp.get("lr_decay", 0), hp.get("weight_decay", 0), \
        hp.get("eps", 1e-10)
    t = state["t"] = state.get("t", 0) + 1
    if wd:
        g = g + wd * theta
    clr = lr / (1 + (t - 1) * eta)
    state["sum"] = state.get("sum", np.full_like(theta, hp.get("initial_accumulator_value", 0)))
    state["sum"] = state["sum"] + g * g
    return theta - clr * g / (np.sqrt(state["sum"]) + eps)


def ref_rmsprop(theta, g, state, hp):
    lr, alpha, eps, wd, mu = hp["lr"], hp.get("alpha", 0.99), hp.get("eps", 1e-8), \
        hp.get("weight_decay", 0), hp.get("momentum", 0)
    if wd:
        g = g + wd * theta
    state["sq"] = alpha * state.get("sq", 0) + (1 - alpha) * g * g
    avg = state["sq"]
    if hp.get("centered", False):
        state["gavg"] = alpha * state.get("gavg", 0) + (1 - alpha) * g
        avg = avg - state["gavg"] ** 2
    denom = np.sqrt(avg) + eps
    if mu > 0:
        state["buf"] = mu * state.get("buf", 0) + g / denom
        return theta - lr * state["buf"]
    return theta - lr * g / denom


def ref_adadelta(theta, g, state, hp):
    lr, rho, eps, wd = hp.get("lr", 1.0), hp.get("rho", 0.9), hp.get("eps", 1e-6), \
        hp.get("weight_decay", 0)
    if wd:
        g = g + wd * theta
    state["sq"] = rho * state.get("sq", 0) + (1 - rho) * g * g
    acc = state.get("acc", np.zeros_like(theta))
    delta = np.sqrt(acc + eps) / np.sqrt(state["sq"] + eps) * g
    state["acc"] = rho * acc + (1 - rho) * delta * delta
    return theta - lr * delta


def ref_nadam(theta, g, state, hp):
    lr, (b1, b2), eps, wd, psi = hp["lr"], hp.get("betas", (0.9, 0.999)), \
        hp.get("eps", 1e-8), hp.get("weight_decay", 0), hp.get("momentum_decay", 4e-3)
    t = state["t"] = state.get("t", 0) + 1
    if wd:
        g = g + wd * theta
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    state["prod"] = state.get("prod", 1.0) * mu
    state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
    state["v"] = b2 * state.get("v", 0) + (1 - b2) * g * g
    denom = np.sqrt(state["v"] / (1 - b2 ** t)) + eps
    theta = theta - lr * (1 - mu) / (1 - state["prod"]) * g / denom
    return theta - lr * mu_next / (1 - state["prod"] * mu_next) * state["m"] / denom


def ref_nadam_notes(theta, g, state, hp):
    """NAdam without its bias corrections: Nesterov's look-ahead on the notes' Adam,
    m̂ = μ_{t+1}·m + (1 − μ_t)·g and v̂ = v (written from Dozat's update, divisions dropped)."""
    lr, (b1, b2), eps, wd, psi = hp["lr"], hp.get("betas", (0.9, 0.999)), \
        hp.get("eps", 1e-8), hp.get("weight_decay", 0), hp.get("momentum_decay", 4e-3)
    t = state["t"] = state.get("t", 0) + 1
    g = g + wd * theta
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
    state["v"] = b2 * state.get("v", 0) + (1 - b2) * g * g
    return theta - lr * (mu_next * state["m"] + (1 - mu) * g) / (np.sqrt(state["v"]) + eps)


def ref_sgd_notes(x, dx, state, hp):
    """The lecture notes' momentum, as written there (v starts at 0), plus L2 in dx."""
    learning_rate, mu = hp["lr"], hp["momentum"]
    dx = dx + hp.get("weight_decay", 0) * x
    v = state["v"] = mu * state.get("v", 0) - learning_rate * dx
    x += v
    return x


def ref_adam_notes(x, dx, state, hp):
    """The lecture notes' Adam, as written there (no bias correction), plus weight decay."""
    learning_rate, (beta1, beta2), eps = hp["lr"], hp.get("betas", (0.9, 0.999)), \
        hp.get("eps", 1e-8)
    wd = hp.get("weight_decay", 0)
    if hp.get("decoupled", False):
        x = x - learning_rate * wd * x
    else:
        dx = dx + wd * x
    m = state["m"] = beta1 * state.get("m", 0) + (1 - beta1) * dx
    v = state["v"] = beta2 * state.get("v", 0) + (1 - beta2) * (dx ** 2)
    x += - learning_rate * m / (np.sqrt(v) + eps)
    return x


# (id, optimizer class, reference, constructor kwargs, per-group options,
#  reference-only settings and defaults the constructor fills in itself)
CASES = [
    ("sgd", optim.SGD, ref_sgd, {}, ({"lr": 0.1}, {"lr": 0.05}), {}),
    ("sgd-wd", optim.SGD, ref_sgd, {}, ({"lr": 0.1, "weight_decay": 0.1},
                                         {"lr": 0.05, "weight_decay": 0.01}), {}),
    ("sgd-momentum", optim.SGD, ref_sgd, {"momentum": 0.9},
     ({"lr": 0.05}, {"lr": 0.02, "weight_decay": 0.05}), {}),
    ("sgd-dampening", optim.SGD, ref_sgd, {"momentum": 0.8, "dampening": 0.3},
     ({"lr": 0.05, "weight_decay": 0.1}, {"lr": 0.02}), {}),
    ("sgd-nesterov", optim.SGD, ref_sgd, {"momentum": 0.9, "nesterov": True},
     ({"lr": 0.05}, {"lr": 0.02, "weight_decay": 0.05}), {}),
    ("sgd-maximize", optim.SGD, ref_sgd, {"momentum": 0.5, "maximize": True},
     ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.02}), {"maximize": True}),
    ("adam", optim.Adam, ref_adam, {}, ({"lr": 0.01}, {"lr": 0.03}), {}),
    ("adam-wd", optim.Adam, ref_adam, {"betas": (0.8, 0.99)},
     ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.03, "weight_decay": 0.02}), {}),
    ("adam-amsgrad", optim.Adam, ref_adam, {"amsgrad": True, "eps": 1e-6},
     ({"lr": 0.02}, {"lr": 0.01, "weight_decay": 0.05}), {}),
    ("adam-maximize", optim.Adam, ref_adam, {"maximize": True},
     ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.03}), {"maximize": True}),
    ("adamw", optim.AdamW, ref_adam, {},
     ({"lr": 0.01}, {"lr": 0.03, "weight_decay": 0.1}), {"decoupled": True, "weight_decay": 1e-2}),
    ("adamw-amsgrad", optim.AdamW, ref_adam, {"amsgrad": True},
     ({"lr": 0.01, "weight_decay": 0.3}, {"lr": 0.03}), {"decoupled": True, "weight_decay": 1e-2}),
    ("sgd-notes", optim.SGD, ref_sgd_notes, {"momentum": 0.9, "momentum_form": "notes"},
     ({"lr": 0.05}, {"lr": 0.02, "weight_decay": 0.05}), {}),
    ("adam-notes", optim.Adam, ref_adam_notes, {"bias_correction": False},
     ({"lr": 0.01}, {"lr": 0.03, "weight_decay": 0.1}), {}),
    ("adamw-notes", optim.AdamW, ref_adam_notes, {"bias_correction": False, "amsgrad": False},
     ({"lr": 0.01}, {"lr": 0.03, "weight_decay": 0.1}), {"decoupled": True, "weight_decay": 1e-2}),
    ("adagrad", optim.Adagrad, ref_adagrad, {}, ({"lr": 0.1}, {"lr": 0.05}), {}),
    ("adagrad-options", optim.Adagrad, ref_adagrad,
     {"lr_decay": 0.05, "initial_accumulator_value": 0.1},
     ({"lr": 0.1, "weight_decay": 0.1}, {"lr": 0.05, "weight_decay": 0.01}), {}),
    ("rmsprop", optim.RMSprop, ref_rmsprop, {}, ({"lr": 0.01}, {"lr": 0.005}), {}),
    ("rmsprop-centered", optim.RMSprop, ref_rmsprop, {"centered": True, "alpha": 0.9},
     ({"lr": 0.01}, {"lr": 0.005}), {}),
    ("rmsprop-momentum", optim.RMSprop, ref_rmsprop, {"momentum": 0.7},
     ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.005}), {}),
    ("rmsprop-all", optim.RMSprop, ref_rmsprop, {"momentum": 0.5, "centered": True},
     ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.005, "weight_decay": 0.02}), {}),
    ("adadelta", optim.Adadelta, ref_adadelta, {}, ({"lr": 1.0}, {"lr": 0.5}), {}),
    ("adadelta-wd", optim.Adadelta, ref_adadelta, {"rho": 0.8, "eps": 1e-4},
     ({"lr": 1.0, "weight_decay": 0.1}, {"lr": 0.5}), {}),
    ("nadam", optim.NAdam, ref_nadam, {}, ({"lr": 0.01}, {"lr": 0.03}), {}),
    ("nadam-notes", optim.NAdam, ref_nadam_notes, {"bias_correction": False},
     ({"lr": 0.01}, {"lr": 0.03, "weight_decay": 0.1}), {}),
    ("nadam-wd", optim.NAdam, ref_nadam, {"momentum_decay": 0.01, "betas": (0.85, 0.99)},
     ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.03, "weight_decay": 0.01}), {}),
]
CASE_IDS = [case[0] for case in CASES]


def reference_trajectory(reference, kwargs, group_options, extras, x, y, weights, steps):
    """Parameters after each step, from the NumPy reference alone."""
    weights = {name: value.copy() for name, value in weights.items()}
    group_of = {"W1": 0, "b1": 0, "W2": 1, "b2": 1}
    states = {name: {} for name in NAMES}
    trajectory = []
    for _ in range(steps):
        _, grads = numpy_loss_and_grads(weights, x, y)
        for name in NAMES:
            hp = {**extras, **kwargs, **group_options[group_of[name]]}
            weights[name] = reference(weights[name], grads[name], states[name], hp)
        trajectory.append({name: value.copy() for name, value in weights.items()})
    return trajectory


def train_step(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = model.loss(x, y)
    loss.backward()
    optimizer.step()
    return loss


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_numpy_reference_step_by_step(case, device):
    _, cls, reference, kwargs, group_options, extras = case
    x, y, weights = make_data()
    expected = reference_trajectory(reference, kwargs, group_options, extras, x, y, weights,
                                    STEPS)
    model = Model(weights, device)
    optimizer = cls(model.groups(group_options), **kwargs)
    xt, yt = tensors(x, y, device)
    for step in range(STEPS):
        train_step(model, optimizer, xt, yt)
        got = model.numpy()
        for name in NAMES:
            np.testing.assert_allclose(got[name], expected[step][name], rtol=1e-10, atol=1e-12,
                                       err_msg=f"{cls.__name__} {name} at step {step + 1}")
    # the run must actually move the weights (a test that cannot fail proves nothing)
    assert not np.allclose(expected[-1]["W1"], weights["W1"])


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_invariants_grad_untouched_no_graph_float32_kept(case, device):
    _, cls, _, kwargs, group_options, _ = case
    x, y, weights = make_data(1)
    model = Model(weights, device, dtype=np.float32)
    optimizer = cls(model.groups(group_options), **kwargs)
    xt, yt = tensors(x, y, device, dtype=np.float32)
    for _ in range(3):
        optimizer.zero_grad()
        model.loss(xt, yt).backward()
        grads_before = {name: p.grad.numpy().copy() for name, p in model.params.items()}
        grad_objects = {name: p.grad for name, p in model.params.items()}
        optimizer.step()
        for name, p in model.params.items():
            assert p.grad is grad_objects[name]
            np.testing.assert_array_equal(p.grad.numpy(), grads_before[name])
            assert p.grad_fn is None and p.is_leaf and p.requires_grad
            assert p.dtype == np.float32
            assert backend.device_of(p.data) == device
            for key, value in optimizer.state[p].items():
                if backend.is_array(value):
                    assert value.dtype == np.float32, (key, value.dtype)
                    assert backend.device_of(value) == device, key
                    assert value.shape == p.shape, key


def test_float32_kept_with_numpy_float64_hyperparameters(device):
    """NumPy promotes float32 arrays with np.float64 scalars; parameters must stay float32."""
    x, y, weights = make_data(2)
    model = Model(weights, device, dtype=np.float32)
    optimizer = optim.Adam(model.params.values(), lr=np.float64(0.01),
                           betas=(np.float64(0.9), np.float64(0.99)))
    xt, yt = tensors(x, y, device, dtype=np.float32)
    for _ in range(2):
        train_step(model, optimizer, xt, yt)
    for p in model.params.values():
        assert p.dtype == np.float32 and p.data.dtype == np.float32
        assert optimizer.state[p]["exp_avg"].dtype == np.float32


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_state_dict_resume_is_bit_identical(case, device):
    _, cls, _, kwargs, group_options, _ = case
    x, y, weights = make_data(3)
    xt, yt = tensors(x, y, device, dtype=np.float32)

    straight = Model(weights, device, dtype=np.float32)
    straight_optimizer = cls(straight.groups(group_options), **kwargs)
    for _ in range(10):
        train_step(straight, straight_optimizer, xt, yt)

    first = Model(weights, device, dtype=np.float32)
    first_optimizer = cls(first.groups(group_options), **kwargs)
    for _ in range(5):
        train_step(first, first_optimizer, xt, yt)
    saved = copy.deepcopy(first_optimizer.state_dict())
    saved_weights = first.numpy()
    for _ in range(3):  # the first run goes on: the snapshot must not follow it
        train_step(first, first_optimizer, xt, yt)

    resumed = Model(saved_weights, device, dtype=np.float32)
    other_options = ({"lr": 123.0}, {"lr": 456.0})  # overwritten by the loaded groups
    resumed_optimizer = cls(resumed.groups(other_options), **kwargs)
    resumed_optimizer.load_state_dict(saved)
    for number in range(2):
        assert resumed_optimizer.param_groups[number]["lr"] == group_options[number]["lr"]
    for _ in range(5):
        train_step(resumed, resumed_optimizer, xt, yt)

    got, expected = resumed.numpy(), straight.numpy()
    for name in NAMES:
        assert np.array_equal(got[name], expected[name]), name


# --- the lecture-notes form of momentum (docs/optimizers.md) ---

def lecture_momentum(theta, grads_fn, lrs, mu):
    """v ← μ·v − α·dx; x ← x + v (the notes' form)."""
    v = np.zeros_like(theta)
    for lr in lrs:
        v = mu * v - lr * grads_fn(theta)
        theta = theta + v
    return theta


@pytest.mark.parametrize("changing_lr", [False, True])
def test_lecture_momentum_matches_pytorch_form_only_for_constant_lr(changing_lr, device):
    rng = np.random.default_rng(4)
    A = rng.normal(size=(4, 4))
    A = A @ A.T + np.eye(4)
    start = rng.normal(size=4)
    lrs = [0.02] * 10 + ([0.005] * 10 if changing_lr else [0.02] * 10)
    expected = lecture_momentum(start.copy(), lambda w: A @ w, lrs, mu=0.9)

    w = tg.tensor(start.copy(), device=device, requires_grad=True)
    At = tg.tensor(A, device=device)
    optimizer = optim.SGD([w], lr=lrs[0], momentum=0.9)
    for lr in lrs:
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        (0.5 * (w * (At @ w)).sum()).backward()  # gradient A w
        optimizer.step()
    same = np.allclose(w.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert same != changing_lr


def quadratic_run(optimizer_factory, lrs, device, seed=4):
    """Minimise ½·wᵀAw with the optimizer, writing lrs[t] into the group before step t."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(4, 4))
    A = A @ A.T + np.eye(4)
    start = rng.normal(size=4)
    w = tg.tensor(start.copy(), device=device, requires_grad=True)
    At = tg.tensor(A, device=device)
    optimizer = optimizer_factory([w])
    for lr in lrs:
        optimizer.param_groups[0]["lr"] = lr
        optimizer.zero_grad()
        (0.5 * (w * (At @ w)).sum()).backward()  # gradient A w
        optimizer.step()
    return w.numpy(), lecture_momentum(start.copy(), lambda x: A @ x, lrs, mu=0.9)


@pytest.mark.parametrize("changing_lr", [False, True])
def test_momentum_form_notes_is_the_notes_lines_with_or_without_a_schedule(changing_lr, device):
    lrs = [0.02] * 10 + ([0.005] * 10 if changing_lr else [0.02] * 10)
    notes, expected = quadratic_run(
        lambda params: optim.SGD(params, lr=0.02, momentum=0.9, momentum_form="notes"),
        lrs, device)
    np.testing.assert_allclose(notes, expected, rtol=1e-12, atol=1e-12)
    pytorch, _ = quadratic_run(lambda params: optim.SGD(params, lr=0.02, momentum=0.9),
                               lrs, device)
    # the two forms agree under a constant rate and part ways when the rate changes
    assert np.allclose(pytorch, notes, rtol=1e-12, atol=1e-12) != changing_lr


def test_momentum_form_notes_under_a_scheduler_differs_from_pytorch_form(device):
    from tinygrad_opt.optim.lr_scheduler import StepLR
    finals = {}
    for form in ("pytorch", "notes"):
        tg.manual_seed(0)
        w = tg.tensor(np.array([3.0, -2.0]), device=device, requires_grad=True)
        optimizer = optim.SGD([w], lr=0.1, momentum=0.9, momentum_form=form)
        scheduler = StepLR(optimizer, step_size=5, gamma=0.1)
        for _ in range(12):
            optimizer.zero_grad()
            (w * w).sum().backward()
            optimizer.step()
            scheduler.step()
        finals[form] = w.numpy()
    assert not np.allclose(finals["pytorch"], finals["notes"])
    assert set(optimizer.state[w]) == {"velocity"}        # the notes' v, not PyTorch's b


def test_momentum_form_rejects_what_the_notes_form_does_not_have():
    w = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="Invalid momentum_form"):
        optim.SGD([w], lr=0.1, momentum=0.9, momentum_form="keras")
    for bad in ({"nesterov": True}, {"dampening": 0.1}, {"fused": True}):
        with pytest.raises(ValueError, match="momentum_form='notes'"):
            optim.SGD([w], lr=0.1, momentum=0.9, momentum_form="notes", **bad)
    # no kernel for the notes' form: the GPU default (fused=None) falls back to readable,
    # and the kernel itself refuses a group in that form (before touching CuPy)
    assert optim.SGD([w], lr=0.1, momentum=0.9, momentum_form="notes").defaults["fused"] is False
    from tinygrad_opt.optim import fused
    with pytest.raises(RuntimeError, match="no fused GPU kernel"):
        fused.sgd(None, None, {}, {"momentum_form": "notes", "momentum": 0.9})


def test_adam_without_bias_correction_takes_larger_early_steps(device):
    """A steady gradient g: corrected Adam steps lr·sign(g) from the first step; the notes'
    form steps lr·(1 − β1^t)/√(1 − β2^t) (3.2 at t = 1, 6.5 at t = 10), then tends to lr."""
    steps = {}
    for corrected in (True, False):
        w = tg.tensor(np.zeros(3), device=device, requires_grad=True)
        optimizer = optim.Adam([w], lr=1e-3, eps=0.0, bias_correction=corrected)
        positions = []
        for _ in range(10):
            optimizer.zero_grad()
            (w * tg.tensor(np.array([1.0, -2.0, 0.5]), device=device)).sum().backward()
            optimizer.step()
            positions.append(w.numpy().copy())
        steps[corrected] = -np.diff(np.array([np.zeros(3)] + positions), axis=0)[:, 0]
    np.testing.assert_allclose(steps[True], 1e-3, rtol=1e-9)
    t = np.arange(1, 11)
    np.testing.assert_allclose(steps[False], 1e-3 * (1 - 0.9 ** t) / np.sqrt(1 - 0.999 ** t),
                               rtol=1e-9)
    assert steps[False][0] == pytest.approx(3.162e-3, rel=1e-3)


def test_nesterov_stores_the_lecture_notes_look_ahead_point(device):
    """Notes: x_ahead = x + μ·v; v ← μ·v − α·∇f(x_ahead); x ← x + v. Ours stores x_ahead."""
    rng = np.random.default_rng(5)
    A = rng.normal(size=(3, 3))
    A = A @ A.T + np.eye(3)
    x = rng.normal(size=3)
    v = np.zeros(3)
    mu, lr = 0.9, 0.03
    w = tg.tensor(x.copy(), device=device, requires_grad=True)
    At = tg.tensor(A, device=device)
    optimizer = optim.SGD([w], lr=lr, momentum=mu, nesterov=True)
    for step in range(15):
        x_ahead = x + mu * v
        v = mu * v - lr * (A @ x_ahead)
        x = x + v
        optimizer.zero_grad()
        (0.5 * (w * (At @ w)).sum()).backward()
        optimizer.step()
        np.testing.assert_allclose(w.numpy(), x + mu * v, rtol=1e-12, atol=1e-12,
                                   err_msg=f"step {step + 1}")
    assert not np.allclose(w.numpy(), x)  # the look-ahead point, not x itself


# --- the Optimizer data model ---

def small_params(device):
    a = tg.tensor(np.array([1.0, -2.0]), device=device, requires_grad=True)
    b = tg.tensor(np.array([[0.5]]), device=device, requires_grad=True)
    return a, b


def set_grads(params, device):
    for p in params:
        p.grad = tg.tensor(np.ones(p.shape), device=device)


def test_param_groups_defaults_and_repr(device):
    a, b = small_params(device)
    optimizer = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert optimizer.defaults["lr"] == 0.1
    first, second = optimizer.param_groups
    assert first["params"][0] is a and len(first["params"]) == 1
    assert second["params"][0] is b and len(second["params"]) == 1
    assert first["lr"] == 0.1 and second["lr"] == 0.5
    assert first["momentum"] == 0.9 and second["nesterov"] is False
    text = repr(optimizer)
    assert text.startswith("SGD (") and text.endswith(")")
    assert "Parameter Group 0" in text and "Parameter Group 1" in text
    assert "    lr: 0.5" in text and "    momentum: 0.9" in text
    assert "params" not in text


def test_tensors_are_state_keys_by_identity(device):
    a = tg.tensor(np.array([1.0, 2.0]), device=device, requires_grad=True)
    twin = tg.tensor(np.array([1.0, 2.0]), device=device, requires_grad=True)
    optimizer = optim.Adam([a, twin], lr=0.1)
    a.grad = tg.tensor(np.array([1.0, 1.0]), device=device)
    optimizer.step()  # twin has no grad: skipped, no state
    assert set(map(id, optimizer.state)) == {id(a)}
    assert optimizer.state[a]["step"] == 1
    assert not np.array_equal(a.numpy(), twin.numpy())


def test_zero_grad(device):
    a, b = small_params(device)
    optimizer = optim.SGD([a, b], lr=0.1)
    set_grads([a, b], device)
    optimizer.zero_grad(set_to_none=False)
    for p in (a, b):
        assert p.grad is not None
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None
    optimizer.zero_grad()  # nothing to clear: fine


def test_parameters_without_grad_are_skipped_and_any_with_one_is_updated(device):
    """As PyTorch: the step skips grad None only; a tensor with requires_grad=False that
    holds a gradient is updated (Adam's first step moves it by lr)."""
    a, b = small_params(device)
    frozen = tg.tensor(np.array([3.0]), device=device)  # requires_grad=False
    frozen.grad = tg.tensor(np.array([1.0]), device=device)
    optimizer = optim.Adam([a, b, frozen], lr=0.1)
    a.grad = tg.tensor(np.array([1.0, 1.0]), device=device)
    optimizer.step()
    np.testing.assert_array_equal(b.numpy(), [[0.5]])
    np.testing.assert_allclose(frozen.numpy(), [2.9])
    assert not np.array_equal(a.numpy(), [1.0, -2.0])
    assert set(map(id, optimizer.state)) == {id(a), id(frozen)}


def test_step_with_closure_records_graph_and_returns_loss(device):
    w = tg.tensor(np.array([1.0, 2.0]), device=device, requires_grad=True)
    optimizer = optim.SGD([w], lr=0.25)
    seen = {}

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum()
        seen["grad_fn"] = loss.grad_fn
        loss.backward()
        return loss

    with tg.no_grad():
        loss = optimizer.step(closure)
    assert seen["grad_fn"] is not None
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.numpy(), [0.5, 1.0])  # w − 0.25·2w
    assert w.grad_fn is None and w.is_leaf


def test_add_param_group(device):
    a, b = small_params(device)
    optimizer = optim.Adam([a], lr=0.01, betas=(0.8, 0.9))
    optimizer.add_param_group({"params": [b], "lr": 0.5})
    group = optimizer.param_groups[1]
    assert group["params"][0] is b
    assert group["lr"] == 0.5 and group["betas"] == (0.8, 0.9) and group["eps"] == 1e-8
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="ordered collections"):
        optimizer.add_param_group({"params": {tg.tensor(np.ones(1), requires_grad=True)}})
    c = tg.tensor(np.ones(1), requires_grad=True, device=device)
    with pytest.warns(UserWarning, match="duplicate parameters"):   # PyTorch warns, not raises
        optimizer.add_param_group({"params": [c, c]})
    assert len(optimizer.param_groups) == 3
    set_grads([a, b], device)
    optimizer.step()
    # Adam's first step moves every coordinate by about lr (m̂/√v̂ = ±1)
    np.testing.assert_allclose(b.numpy(), [[0.5 - 0.5]], atol=1e-6)
    np.testing.assert_allclose(a.numpy(), [1.0 - 0.01, -2.0 - 0.01], atol=1e-6)


def test_bad_params_are_rejected(device):
    a, _ = small_params(device)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(a, lr=0.1)
    non_leaf = a * 2
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([non_leaf], lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.SGD(p, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda p: optim.SGD(p, weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
     "zero dampening"),
    (lambda p: optim.Adam(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: optim.Adam(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.AdamW(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
    (lambda p: optim.RMSprop(p, alpha=-0.1), "Invalid alpha value: -0.1"),
    (lambda p: optim.RMSprop(p, momentum=-1), "Invalid momentum value: -1"),
    (lambda p: optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: optim.Adadelta(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value: -1"),
    (lambda p: optim.NAdam(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
])
def test_hyperparameter_validation(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make([tg.tensor(np.ones(2), requires_grad=True)])


def test_default_hyperparameters_match_pytorch():
    p = [tg.tensor(np.ones(2), requires_grad=True)]
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                                         nesterov=False, maximize=False, fused=None,
                                         momentum_form="pytorch")
    adam = optim.Adam(p).defaults
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"], adam["amsgrad"],
            adam["bias_correction"]) == (1e-3, (0.9, 0.999), 1e-8, 0, False, True)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    adagrad = optim.Adagrad(p).defaults
    assert (adagrad["lr"], adagrad["lr_decay"], adagrad["initial_accumulator_value"],
            adagrad["eps"]) == (1e-2, 0, 0, 1e-10)
    rmsprop = optim.RMSprop(p).defaults
    assert (rmsprop["lr"], rmsprop["alpha"], rmsprop["eps"], rmsprop["momentum"],
            rmsprop["centered"]) == (1e-2, 0.99, 1e-8, 0, False)
    adadelta = optim.Adadelta(p).defaults
    assert (adadelta["lr"], adadelta["rho"], adadelta["eps"]) == (1.0, 0.9, 1e-6)
    nadam = optim.NAdam(p).defaults
    assert (nadam["lr"], nadam["betas"], nadam["eps"], nadam["momentum_decay"]) == \
        (2e-3, (0.9, 0.999), 1e-8, 4e-3)


# --- state_dict layout and load_state_dict ---

def test_state_dict_layout_refers_to_live_state(device):
    a, b = small_params(device)
    optimizer = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1,
                           amsgrad=True)
    set_grads([a, b], device)
    optimizer.step()
    state_dict = optimizer.state_dict()
    assert set(state_dict) == {"state", "param_groups"}
    assert [group["params"] for group in state_dict["param_groups"]] == [[0], [1]]
    assert state_dict["param_groups"][1]["lr"] == 0.5
    assert state_dict["param_groups"][0]["amsgrad"] is True
    assert set(state_dict["state"]) == {0, 1}
    assert set(state_dict["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert state_dict["state"][1]["exp_avg"] is optimizer.state[b]["exp_avg"]
    optimizer.step()
    assert state_dict["state"][0]["step"] == 2  # live, like PyTorch


@pytest.mark.parametrize("cls, keys", [
    (lambda p: optim.SGD(p, momentum=0.9), {"momentum_buffer"}),
    (lambda p: optim.Adam(p, amsgrad=True), {"step", "exp_avg", "exp_avg_sq",
                                             "max_exp_avg_sq"}),
    (lambda p: optim.Adagrad(p), {"step", "sum"}),
    (lambda p: optim.RMSprop(p, momentum=0.5, centered=True),
     {"step", "square_avg", "momentum_buffer", "grad_avg"}),
    (lambda p: optim.Adadelta(p), {"step", "square_avg", "acc_delta"}),
    (lambda p: optim.NAdam(p), {"step", "mu_product", "exp_avg", "exp_avg_sq"}),
])
def test_state_uses_pytorch_key_names(cls, keys):
    p = tg.tensor(np.ones(3), requires_grad=True)
    optimizer = cls([p])
    p.grad = tg.tensor(np.ones(3))
    optimizer.step()
    assert set(optimizer.state[p]) == keys


def test_load_state_dict_moves_host_arrays_to_the_parameters_device_and_dtype(device):
    p64 = tg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    source = optim.Adam([p64], lr=0.1)
    p64.grad = tg.tensor(np.array([0.5, -1.0, 2.0]))
    source.step()
    saved = source.state_dict()  # float64 NumPy arrays on the host

    p32 = tg.tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), device=device,
                    requires_grad=True)
    target = optim.Adam([p32], lr=0.3)
    target.load_state_dict(saved)
    state = target.state[p32]
    assert state["step"] == 1 and isinstance(state["step"], int)
    for key in ("exp_avg", "exp_avg_sq"):
        assert backend.device_of(state[key]) == device
        assert state[key].dtype == np.float32
        np.testing.assert_allclose(backend.to_host(state[key]), saved["state"][0][key])
        assert state[key] is not saved["state"][0][key]  # deep-copied
    assert target.param_groups[0]["lr"] == 0.1


def test_load_state_dict_accepts_numpy_scalars_from_files():
    p = tg.tensor(np.ones(2), requires_grad=True)
    optimizer = optim.NAdam([p])
    saved = {"state": {0: {"step": np.int64(4), "mu_product": np.float64(0.5),
                           "exp_avg": np.zeros(2), "exp_avg_sq": np.zeros(2)}},
             "param_groups": [dict(optimizer.state_dict()["param_groups"][0])]}
    optimizer.load_state_dict(saved)
    assert optimizer.state[p]["step"] == 4 and type(optimizer.state[p]["step"]) is int
    assert type(optimizer.state[p]["mu_product"]) is float


def test_load_state_dict_rejects_mismatched_groups():
    a = tg.tensor(np.ones(2), requires_grad=True)
    b = tg.tensor(np.ones(2), requires_grad=True)
    two_groups = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict()
    one_group = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="a different number of parameter groups: 2 saved, "
                                         "1 in this SGD"):
        optim.SGD([a, b], lr=0.1).load_state_dict(two_groups)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group: group 0 "
                                         "has 2 saved, 1 here"):
        optim.SGD([a], lr=0.1).load_state_dict(one_group)


def test_load_state_dict_copies_so_the_source_can_go_on(device):
    a = tg.tensor(np.array([1.0, 2.0]), device=device, requires_grad=True)
    b = tg.tensor(np.array([1.0, 2.0]), device=device, requires_grad=True)
    source = optim.SGD([a], lr=0.1, momentum=0.9)
    target = optim.SGD([b], lr=0.1, momentum=0.9)
    a.grad = tg.tensor(np.array([1.0, -1.0]), device=device)
    source.step()
    target.load_state_dict(source.state_dict())
    source.step()  # changes the source's buffer in place
    np.testing.assert_array_equal(backend.to_host(target.state[b]["momentum_buffer"]),
                                  [1.0, -1.0])


def test_resume_through_a_saved_file_is_bit_identical(device, tmp_path):
    from tinygrad_opt.serialization import load, save
    x, y, weights = make_data(6)
    xt, yt = tensors(x, y, device, dtype=np.float32)
    options = ({"lr": 0.01}, {"lr": 0.02, "weight_decay": 0.1})

    straight = Model(weights, device, dtype=np.float32)
    straight_optimizer = optim.NAdam(straight.groups(options))
    for _ in range(8):
        train_step(straight, straight_optimizer, xt, yt)

    first = Model(weights, device, dtype=np.float32)
    first_optimizer = optim.NAdam(first.groups(options))
    for _ in range(4):
        train_step(first, first_optimizer, xt, yt)
    save({"optimizer": first_optimizer.state_dict(), "weights": first.numpy()},
         tmp_path / "checkpoint.npz")

    checkpoint = load(tmp_path / "checkpoint.npz")
    resumed = Model(checkpoint["weights"], device, dtype=np.float32)
    resumed_optimizer = optim.NAdam(resumed.groups(({"lr": 1.0}, {"lr": 1.0})))
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    for _ in range(4):
        train_step(resumed, resumed_optimizer, xt, yt)
    got, expected = resumed.numpy(), straight.numpy()
    for name in NAMES:
        assert np.array_equal(got[name], expected[name]), name
