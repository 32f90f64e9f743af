"""Adamax, RAdam, Rprop and ASGD against plain-NumPy transcriptions of their rules.

Each reference below is written from PyTorch's documented algorithm (and, for
Rprop, the per-weight rule of Riedmiller & Braun, one weight at a time), never
calling the package. The optimizer under test and its reference are fed the same
random gradients for 25 steps, in float64, with two parameter groups of different
learning rates; the parameters and every state entry are compared after each step.
Each reference also counts the branches it takes, and each case states which
branches it must reach (RAdam on both sides of ρ_t > 5, Rprop's sign flips and
step-size clipping, ASGD's averaging after t0), so a case cannot pass by never
exercising what it is named after.
"""

import copy
from collections import Counter

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend, optim
from tinygrad_opt.optim import fused

STEPS = 25
SHAPES = {"a": (4, 3), "b": (5,), "c": (6,)}
GROUP_OF = {"a": 0, "b": 0, "c": 1}


# --- NumPy references: (θ, g, state, hp, trace) -> new θ; state uses PyTorch's key names ---

def ref_adamax(theta, g, state, hp, trace):
    lr, (beta1, beta2), eps, wd = hp["lr"], hp.get("betas", (0.9, 0.999)), \
        hp.get("eps", 1e-8), hp.get("weight_decay", 0)
    if hp.get("maximize", False):
        g = -g
    if wd != 0:
        g = g + wd * theta
    t = state["step"] = state.get("step", 0) + 1
    m = state["exp_avg"] = beta1 * state.get("exp_avg", np.zeros_like(theta)) + (1 - beta1) * g
    u = state["exp_inf"] = np.maximum(beta2 * state.get("exp_inf", np.zeros_like(theta)),
                                      np.abs(g) + eps)
    trace["steps"] += 1
    # PyTorch's documented line: θ_t ← θ_{t−1} − γ·m_t / ((1 − β1^t)·u_t)
    return theta - lr * m / ((1 - beta1 ** t) * u)


def ref_radam(theta, g, state, hp, trace):
    lr, (beta1, beta2), eps, wd = hp["lr"], hp.get("betas", (0.9, 0.999)), \
        hp.get("eps", 1e-8), hp.get("weight_decay", 0)
    if hp.get("maximize", False):
        g = -g
    if wd != 0 and hp.get("decoupled_weight_decay", False):
        theta = theta - lr * wd * theta
    elif wd != 0:
        g = g + wd * theta
    t = state["step"] = state.get("step", 0) + 1
    m = state["exp_avg"] = beta1 * state.get("exp_avg", np.zeros_like(theta)) + (1 - beta1) * g
    v = state["exp_avg_sq"] = beta2 * state.get("exp_avg_sq", np.zeros_like(theta)) \
        + (1 - beta2) * g ** 2
    m_hat = m / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
    if rho_t > 5:
        trace["rectified"] += 1
        l_t = np.sqrt(1 - beta2 ** t) / (np.sqrt(v) + eps)
        r_t = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return theta - lr * m_hat * r_t * l_t
    trace["momentum"] += 1
    return theta - lr * m_hat


def ref_rprop(theta, g, state, hp, trace):
    """One weight at a time, as Riedmiller & Braun state the rule (PyTorch's variant:
    the step size is clipped on every step, and a flipped gradient is stored as 0)."""
    eta_minus, eta_plus = hp.get("etas", (0.5, 1.2))
    size_min, size_max = hp.get("step_sizes", (1e-6, 50))
    if hp.get("maximize", False):
        g = -g
    g = g.copy()
    state["step"] = state.get("step", 0) + 1
    prev = state.get("prev", np.zeros_like(theta))
    size = state.get("step_size", np.full_like(theta, hp["lr"])).copy()
    for i in np.ndindex(theta.shape):
        if g[i] * prev[i] > 0:            # same sign as last time: larger steps
            size[i] = size[i] * eta_plus
            trace["grow"] += 1
        elif g[i] * prev[i] < 0:          # the sign flipped: we jumped over a minimum
            size[i] = size[i] * eta_minus
            g[i] = 0.0                    # no step now, and no comparison next time
            trace["flip"] += 1
        if size[i] >= size_max:
            size[i] = size_max
            trace["at_max"] += 1
        if size[i] <= size_min:
            size[i] = size_min
            trace["at_min"] += 1
    state["prev"] = g
    state["step_size"] = size
    return theta - np.sign(g) * size


def ref_asgd(theta, g, state, hp, trace):
    lr, lambd, alpha, t0, wd = hp["lr"], hp.get("lambd", 1e-4), hp.get("alpha", 0.75), \
        hp.get("t0", 1e6), hp.get("weight_decay", 0)
    if hp.get("maximize", False):
        g = -g
    if wd != 0:
        g = g + wd * theta
    t = state["step"] = state.get("step", 0) + 1
    eta = state.get("eta", lr)
    mu = state.get("mu", 1.0)
    theta = theta * (1 - lambd * eta) - eta * g
    if mu != 1:
        state["ax"] = state["ax"] + mu * (theta - state["ax"])
        trace["averaging"] += 1
    else:
        state["ax"] = theta.copy()
        trace["copy"] += 1
    state["eta"] = lr / (1 + lambd * lr * t) ** alpha
    state["mu"] = 1 / max(1, t - t0)
    return theta


# (id, class, reference, constructor kwargs, per-group options,
#  branches the reference must take, branches it must never take)
CASES = [
    ("adamax", optim.Adamax, ref_adamax, {}, ({"lr": 0.02}, {"lr": 0.05}), {"steps"}, set()),
    ("adamax-wd", optim.Adamax, ref_adamax, {"betas": (0.8, 0.99), "eps": 1e-3},
     ({"lr": 0.02, "weight_decay": 0.1}, {"lr": 0.05, "weight_decay": 0.01}), {"steps"}, set()),
    ("adamax-maximize", optim.Adamax, ref_adamax, {"maximize": True, "weight_decay": 0.05},
     ({"lr": 0.02}, {"lr": 0.05}), {"steps"}, set()),
    ("radam", optim.RAdam, ref_radam, {}, ({"lr": 0.01}, {"lr": 0.03}),
     {"momentum", "rectified"}, set()),
    ("radam-wd", optim.RAdam, ref_radam, {"betas": (0.8, 0.95)},
     ({"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.03, "weight_decay": 0.02}),
     {"momentum", "rectified"}, set()),
    ("radam-decoupled", optim.RAdam, ref_radam,
     {"decoupled_weight_decay": True, "weight_decay": 0.2},
     ({"lr": 0.01}, {"lr": 0.03}), {"momentum", "rectified"}, set()),
    ("radam-maximize", optim.RAdam, ref_radam, {"maximize": True, "weight_decay": 0.05},
     ({"lr": 0.01}, {"lr": 0.03}), {"momentum", "rectified"}, set()),
    ("radam-never-rectified", optim.RAdam, ref_radam, {"betas": (0.9, 0.5)},
     ({"lr": 0.01}, {"lr": 0.03}), {"momentum"}, {"rectified"}),
    ("rprop", optim.Rprop, ref_rprop, {}, ({"lr": 0.01}, {"lr": 0.03}),
     {"grow", "flip"}, set()),
    ("rprop-clipped", optim.Rprop, ref_rprop, {"step_sizes": (2e-3, 0.04)},
     ({"lr": 0.01}, {"lr": 0.03}), {"grow", "flip", "at_min", "at_max"}, set()),
    ("rprop-maximize-etas", optim.Rprop, ref_rprop,
     {"maximize": True, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.1)},
     ({"lr": 0.2}, {"lr": 0.03}), {"grow", "flip", "at_max"}, set()),
    ("asgd", optim.ASGD, ref_asgd, {}, ({"lr": 0.05}, {"lr": 0.1}), {"copy"}, {"averaging"}),
    ("asgd-averaging", optim.ASGD, ref_asgd, {"t0": 5, "lambd": 0.05, "alpha": 0.6},
     ({"lr": 0.05}, {"lr": 0.1}), {"copy", "averaging"}, set()),
    ("asgd-wd-maximize", optim.ASGD, ref_asgd,
     {"t0": 10.5, "lambd": 0.01, "maximize": True},
     ({"lr": 0.05, "weight_decay": 0.1}, {"lr": 0.1, "weight_decay": 0.01}),
     {"copy", "averaging"}, set()),
]
CASE_IDS = [case[0] for case in CASES]


# --- the run: the same random gradients fed to both ---

def initial_weights(seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=shape) for name, shape in SHAPES.items()}


def gradients(steps, seed=1):
    """Per step, per parameter: a fixed per-coordinate offset plus noise, so that some
    coordinates keep their sign for many steps (Rprop grows their step) and others
    flip often (Rprop shrinks it)."""
    rng = np.random.default_rng(seed)
    offsets = {name: np.linspace(-2.0, 2.0, int(np.prod(shape))).reshape(shape)
               for name, shape in SHAPES.items()}
    return [{name: offsets[name] + rng.normal(size=shape) for name, shape in SHAPES.items()}
            for _ in range(steps)]


def reference_run(reference, kwargs, group_options, weights, grads):
    """(θ after each step, state after each step, branch counts) from the reference alone."""
    weights = {name: value.copy() for name, value in weights.items()}
    states = {name: {} for name in SHAPES}
    trace = Counter()
    thetas, state_history = [], []
    for step_grads in grads:
        for name in SHAPES:
            hp = {**kwargs, **group_options[GROUP_OF[name]]}
            weights[name] = reference(weights[name], step_grads[name], states[name], hp, trace)
        thetas.append({name: value.copy() for name, value in weights.items()})
        state_history.append(copy.deepcopy(states))
    return thetas, state_history, trace


def make_params(weights, device, dtype=np.float64):
    return {name: tg.tensor(np.array(value, dtype=dtype), device=device, requires_grad=True)
            for name, value in weights.items()}


def groups(params, group_options):
    first, second = group_options
    return [dict(params=[params["a"], params["b"]], **first), dict(params=[params["c"]], **second)]


def feed(params, step_grads, device, dtype=np.float64):
    for name, p in params.items():
        p.grad = tg.tensor(np.array(step_grads[name], dtype=dtype), device=device)


def host(value):
    return backend.to_host(value) if backend.is_array(value) else value


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_numpy_reference_step_by_step(case, device):
    _, cls, reference, kwargs, group_options, required, forbidden = case
    weights, grads = initial_weights(), gradients(STEPS)
    thetas, states, trace = reference_run(reference, kwargs, group_options, weights, grads)
    assert required <= set(trace), f"the run never reached {required - set(trace)}: {trace}"
    assert not forbidden & set(trace), f"the run took {forbidden & set(trace)}: {trace}"

    params = make_params(weights, device)
    optimizer = cls(groups(params, group_options), **kwargs)
    for step in range(STEPS):
        feed(params, grads[step], device)
        optimizer.step()
        for name, p in params.items():
            where = f"{cls.__name__} {name} at step {step + 1}"
            np.testing.assert_allclose(p.numpy(), thetas[step][name], rtol=1e-10, atol=1e-12,
                                       err_msg=where)
            expected_state = states[step][name]
            assert set(optimizer.state[p]) == set(expected_state), where
            for key, value in optimizer.state[p].items():
                np.testing.assert_allclose(host(value), expected_state[key], rtol=1e-10,
                                           atol=1e-12, err_msg=f"{where}: state[{key!r}]")
    assert not np.allclose(thetas[-1]["a"], weights["a"])  # the run moved the weights


def test_radam_takes_momentum_steps_until_rho_exceeds_5_then_rectified_ones(device):
    """A constant gradient g = 1 makes m̂ = 1 and v = 1 − β2^t: the first five steps
    (ρ_t ≤ 5 with β2 = 0.999) move θ by exactly γ; step 6 by γ·r_6·l_6, with r_6 the
    rectification, l_6 ≈ 1, about 40 times less."""
    lr, beta2 = 0.1, 0.999
    w = tg.tensor(np.zeros(2), device=device, requires_grad=True)
    optimizer = optim.RAdam([w], lr=lr, eps=0.0)
    moves = []
    for _ in range(7):
        before = w.numpy().copy()
        w.grad = tg.tensor(np.ones(2), device=device)
        optimizer.step()
        moves.append(before[0] - w.numpy()[0])
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t) for t in range(1, 8)]
    assert rho[4] < 5 < rho[5]
    np.testing.assert_allclose(moves[:5], lr, rtol=1e-12)
    for t in (6, 7):
        r_t = np.sqrt((rho[t - 1] - 4) * (rho[t - 1] - 2) * rho_inf
                      / ((rho_inf - 4) * (rho_inf - 2) * rho[t - 1]))
        np.testing.assert_allclose(moves[t - 1], lr * r_t, rtol=1e-9)
    assert moves[5] < lr / 30


def test_rprop_sign_flip_freezes_the_coordinate_for_one_step(device):
    """g = +1, +1, −1, −1, −1 with γ = 0.1, η = (0.5, 1.2): steps of −0.1, −0.12
    (same sign: Δ grows), 0 (flip: Δ halves to 0.06, g stored as 0), +0.06 (after
    the stored 0: Δ unchanged), +0.072 (same sign again)."""
    w = tg.tensor(np.array([0.0]), device=device, requires_grad=True)
    optimizer = optim.Rprop([w], lr=0.1)
    positions = []
    for g in (1.0, 1.0, -1.0, -1.0, -1.0):
        w.grad = tg.tensor(np.array([g]), device=device)
        optimizer.step()
        positions.append(w.numpy()[0])
        if len(positions) == 3:
            assert host(optimizer.state[w]["prev"])[0] == 0.0
    np.testing.assert_allclose(np.diff([0.0] + positions), [-0.1, -0.12, 0.0, 0.06, 0.072],
                               rtol=1e-12)


def test_asgd_ax_is_theta_before_t0_and_the_mean_of_the_iterates_after(device):
    """With λ = 0 and α = 0, η = γ throughout. Step t averages with the μ set at the end
    of step t − 1, 1/max(1, t − 1 − t0): ax copies θ up to step t0 + 2, and after step
    t it is the mean of the iterates θ_{t0+2}, ..., θ_t."""
    t0, steps = 4, 12
    w = tg.tensor(np.array([1.0, -3.0]), device=device, requires_grad=True)
    optimizer = optim.ASGD([w], lr=0.1, lambd=0.0, alpha=0.0, t0=t0)
    rng = np.random.default_rng(5)
    iterates = []
    for step in range(1, steps + 1):
        w.grad = tg.tensor(rng.normal(size=2), device=device)
        optimizer.step()
        iterates.append(w.numpy().copy())
        ax = host(optimizer.state[w]["ax"])
        if step <= t0 + 2:
            np.testing.assert_array_equal(ax, iterates[-1])
        else:  # iterates[k] is θ_{k+1}
            np.testing.assert_allclose(ax, np.mean(iterates[t0 + 1:], axis=0), rtol=1e-12)
    assert not np.allclose(host(optimizer.state[w]["ax"]), w.numpy())


# --- the data model ---

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_state_dict_resume_continues_identically(case, device):
    _, cls, _, kwargs, group_options, _, _ = case
    weights, grads = initial_weights(3), gradients(10, seed=4)

    straight = make_params(weights, device)
    straight_optimizer = cls(groups(straight, group_options), **kwargs)
    for step in range(10):
        feed(straight, grads[step], device)
        straight_optimizer.step()

    first = make_params(weights, device)
    first_optimizer = cls(groups(first, group_options), **kwargs)
    for step in range(5):
        feed(first, grads[step], device)
        first_optimizer.step()
    saved = copy.deepcopy(first_optimizer.state_dict())
    saved_weights = {name: p.numpy().copy() for name, p in first.items()}
    for step in range(5, 8):  # the first run goes on: the snapshot must not follow it
        feed(first, grads[step], device)
        first_optimizer.step()

    resumed = make_params(saved_weights, device)
    resumed_optimizer = cls(groups(resumed, ({"lr": 123.0}, {"lr": 456.0})), **kwargs)
    resumed_optimizer.load_state_dict(saved)
    assert [group["lr"] for group in resumed_optimizer.param_groups] == \
        [options["lr"] for options in group_options]
    for step in range(5, 10):
        feed(resumed, grads[step], device)
        resumed_optimizer.step()
    for name in SHAPES:
        assert np.array_equal(resumed[name].numpy(), straight[name].numpy()), name
        assert not np.array_equal(resumed[name].numpy(), saved_weights[name]), name


def test_asgd_resumes_through_a_saved_file(device, tmp_path):
    """ASGD's η and μ are Python floats in the state: they must survive tg.save / tg.load."""
    from tinygrad_opt.serialization import load, save
    weights, grads = initial_weights(6), gradients(12, seed=7)
    options = ({"lr": 0.05}, {"lr": 0.1, "weight_decay": 0.1})
    kwargs = {"t0": 3, "lambd": 0.05}
    straight = make_params(weights, device)
    straight_optimizer = optim.ASGD(groups(straight, options), **kwargs)
    for step in range(12):
        feed(straight, grads[step], device)
        straight_optimizer.step()

    first = make_params(weights, device)
    first_optimizer = optim.ASGD(groups(first, options), **kwargs)
    for step in range(6):
        feed(first, grads[step], device)
        first_optimizer.step()
    save({"optimizer": first_optimizer.state_dict(),
          "weights": {name: p.numpy() for name, p in first.items()}}, tmp_path / "asgd.npz")
    checkpoint = load(tmp_path / "asgd.npz")
    resumed = make_params(checkpoint["weights"], device)
    resumed_optimizer = optim.ASGD(groups(resumed, ({"lr": 1.0}, {"lr": 1.0})), **kwargs)
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert type(resumed_optimizer.state[resumed["a"]]["eta"]) is float
    for step in range(6, 12):
        feed(resumed, grads[step], device)
        resumed_optimizer.step()
    for name in SHAPES:
        assert np.array_equal(resumed[name].numpy(), straight[name].numpy()), name
        assert np.array_equal(host(resumed_optimizer.state[resumed[name]]["ax"]),
                              host(straight_optimizer.state[straight[name]]["ax"])), name


@pytest.mark.parametrize("make", [
    lambda groups: optim.Adamax(groups),
    lambda groups: optim.RAdam(groups),
    lambda groups: optim.Rprop(groups, step_sizes=(0.0, 50)),  # Δ may stay at γ = 0
    lambda groups: optim.ASGD(groups),
], ids=["Adamax", "RAdam", "Rprop", "ASGD"])
def test_parameter_groups_keep_their_own_lr(make, device):
    moving = tg.tensor(np.array([1.0, -2.0]), device=device, requires_grad=True)
    frozen = tg.tensor(np.array([3.0, 4.0]), device=device, requires_grad=True)
    optimizer = make([{"params": [moving], "lr": 0.1}, {"params": [frozen], "lr": 0.0}])
    assert [group["lr"] for group in optimizer.param_groups] == [0.1, 0.0]
    for _ in range(3):
        for p in (moving, frozen):
            p.grad = tg.tensor(np.array([0.5, -1.5]), device=device)
        optimizer.step()
    np.testing.assert_array_equal(frozen.numpy(), [3.0, 4.0])
    assert np.all(np.abs(moving.numpy() - [1.0, -2.0]) > 1e-3)


@pytest.mark.parametrize("cls", [optim.Adamax, optim.RAdam, optim.Rprop, optim.ASGD])
def test_invariants_grad_untouched_no_graph_float32_kept(cls, device):
    params = make_params(initial_weights(8), device, dtype=np.float32)
    optimizer = cls(params.values(), lr=0.01)
    for step_grads in gradients(3, seed=9):
        feed(params, step_grads, device, dtype=np.float32)
        before = {name: (p.grad, p.grad.numpy().copy()) for name, p in params.items()}
        optimizer.step()
        for name, p in params.items():
            grad, values = before[name]
            assert p.grad is grad
            np.testing.assert_array_equal(p.grad.numpy(), values)
            assert p.grad_fn is None and p.is_leaf and p.requires_grad
            assert p.dtype == np.float32 and backend.device_of(p.data) == device
            for key, value in optimizer.state[p].items():
                if backend.is_array(value):
                    assert value.dtype == np.float32, (key, value.dtype)
                    assert backend.device_of(value) == device, key
                    assert value.shape == p.shape, key


@pytest.mark.parametrize("cls, reference, kwargs", [
    (optim.Adamax, ref_adamax, {"weight_decay": 0.1}),
    (optim.RAdam, ref_radam, {"decoupled_weight_decay": True, "weight_decay": 0.1}),
    (optim.Rprop, ref_rprop, {"step_sizes": (1e-3, 0.05)}),
    (optim.ASGD, ref_asgd, {"t0": 2, "lambd": 0.05}),
], ids=["Adamax", "RAdam", "Rprop", "ASGD"])
def test_large_parameter_runs_the_readable_rule_in_chunks(cls, reference, kwargs, device):
    """No compiled twin exists: a parameter far above fused.COMPILED_MIN_SIZE and above a
    chunk (so the CPU runs the rule in slices, scalars such as ASGD's η carried over)
    still follows the reference."""
    size = fused.COMPILED_MIN_SIZE + 5_000
    rng = np.random.default_rng(10)
    theta = rng.normal(size=size)
    p = tg.tensor(theta.copy(), device=device, requires_grad=True)
    optimizer = cls([p], lr=0.01, **kwargs)
    state, trace = {}, Counter()
    for _ in range(5):
        g = rng.normal(size=size) + 0.5
        p.grad = tg.tensor(g, device=device)
        optimizer.step()
        theta = reference(theta, g, state, {"lr": 0.01, **kwargs}, trace)
        np.testing.assert_allclose(p.numpy(), theta, rtol=1e-10, atol=1e-12)
    for key, value in state.items():
        np.testing.assert_allclose(host(optimizer.state[p][key]), value, rtol=1e-10,
                                   atol=1e-12, err_msg=key)


@pytest.mark.parametrize("cls", [optim.Adamax, optim.RAdam, optim.Rprop, optim.ASGD])
def test_no_fused_option_and_a_fused_group_says_there_is_no_kernel(cls):
    """These rules have no compiled twin, so (as in PyTorch) they take no ``fused``
    argument; a parameter group that asks for fused=True anyway is refused at step."""
    w = tg.tensor(np.ones(3), requires_grad=True)
    assert "fused" not in cls([w]).defaults
    with pytest.raises(TypeError, match="fused"):
        cls([w], fused=True)
    optimizer = cls([{"params": [w], "fused": True}])
    w.grad = tg.tensor(np.ones(3))
    with pytest.raises(RuntimeError, match=f"{cls.__name__}: fused=True has no fused kernel"):
        optimizer.step()


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.Adamax(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.Adamax(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: optim.Adamax(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adamax(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.Adamax(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.RAdam(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: optim.RAdam(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda p: optim.RAdam(p, betas=(-0.1, 0.999)), "Invalid beta parameter at index 0: -0.1"),
    (lambda p: optim.RAdam(p, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    (lambda p: optim.RAdam(p, weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    (lambda p: optim.Rprop(p, lr=-0.01), "Invalid learning rate: -0.01"),
    (lambda p: optim.Rprop(p, etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    (lambda p: optim.Rprop(p, etas=(0.5, 1.0)), "Invalid eta values: 0.5, 1.0"),
    (lambda p: optim.Rprop(p, etas=(0.0, 1.2)), "Invalid eta values: 0.0, 1.2"),
    (lambda p: optim.Rprop(p, etas=(0.5, 0.9)), "0 < eta_minus < 1 < eta_plus"),
    (lambda p: optim.ASGD(p, lr=-1.0), "Invalid learning rate: -1.0"),
    (lambda p: optim.ASGD(p, weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
])
def test_hyperparameter_validation(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make([tg.tensor(np.ones(2), requires_grad=True)])


def test_default_hyperparameters_match_pytorch():
    p = [tg.tensor(np.ones(2), requires_grad=True)]
    assert optim.Adamax(p).defaults == dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8,
                                            weight_decay=0, maximize=False)
    assert optim.RAdam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                           weight_decay=0, decoupled_weight_decay=False,
                                           maximize=False)
    assert optim.Rprop(p).defaults == dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50),
                                           maximize=False)
    assert optim.ASGD(p).defaults == dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6,
                                          weight_decay=0, maximize=False)


@pytest.mark.parametrize("cls, keys", [
    (optim.Adamax, ["step", "exp_avg", "exp_inf"]),
    (optim.RAdam, ["step", "exp_avg", "exp_avg_sq"]),
    (optim.Rprop, ["step", "prev", "step_size"]),
    (optim.ASGD, ["step", "eta", "mu", "ax"]),
])
def test_state_uses_pytorch_key_names(cls, keys):
    p = tg.tensor(np.ones(3), requires_grad=True)
    optimizer = cls([p])
    p.grad = tg.tensor(np.ones(3))
    optimizer.step()
    assert list(optimizer.state[p]) == keys


# --- a real training run ---

@pytest.mark.parametrize("make", [
    lambda params: optim.Adamax(params, lr=0.05),
    lambda params: optim.RAdam(params, lr=0.1),
    lambda params: optim.Rprop(params, lr=0.01),
    lambda params: optim.ASGD(params, lr=0.05),
], ids=["Adamax", "RAdam", "Rprop", "ASGD"])
def test_linear_regression_loss_falls_a_hundredfold(make, device):
    """Full-batch least squares on 64 noisy points: 150 steps must divide the mean
    squared error by 100 or more (the noise floor is 1e-4 of the starting loss)."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.7 + 0.01 * rng.normal(size=(64, 1))
    xt, yt = tg.tensor(x, device=device), tg.tensor(y, device=device)
    w = tg.tensor(np.zeros((3, 1)), device=device, requires_grad=True)
    b = tg.tensor(np.zeros(1), device=device, requires_grad=True)
    optimizer = make([w, b])
    losses = []
    for _ in range(150):
        optimizer.zero_grad()
        error = xt @ w + b - yt
        loss = (error * error).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 100, (losses[0], losses[-1])
