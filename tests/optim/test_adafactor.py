"""Adafactor against a plain-NumPy transcription of PyTorch's documented algorithm.

The reference below is written from the algorithm in ``torch.optim.Adafactor``'s
documentation (never calling the package): the factored second moment with the
documented sums, R ← β̂2·R + (1 − β̂2)·(G⊙G)·1 and C ← β̂2·C + (1 − β̂2)·1ᵀ·(G⊙G),
V̂ = R·Cᵀ / max(1ᵀR, ε1), taken matrix by matrix over the last two axes of a parameter
with more dimensions. The optimizer under test and the reference are fed the same random
gradients for 25 steps, in float64, on a vector, a matrix, a 3-d and a 0-d parameter in
two parameter groups; the parameters and the state are compared after every step.
PyTorch's code (and ours) keeps means, not sums, in the state: the same V̂ except where
ε1 clamps, which a hand-computed case below pins down.
"""

import copy
import inspect
import math
from collections import Counter

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.optim.adafactor import Adafactor

STEPS = 25
SHAPES = {"vector": (5,), "matrix": (4, 3), "cube": (2, 3, 4), "scalar": ()}
GROUP_OF = {"vector": 0, "matrix": 0, "cube": 1, "scalar": 1}


# --- the reference: (θ, g, state, hp, trace) -> new θ ---

def ref_adafactor(theta, g, state, hp, trace):
    lr = hp.get("lr", 1e-2)
    tau = hp.get("beta2_decay", -0.8)
    eps1, eps2 = hp.get("eps", (None, 1e-3))
    if eps1 is None:
        eps1 = np.finfo(theta.dtype).eps
    d = hp.get("d", 1.0)
    lam = hp.get("weight_decay", 0.0)

    G = -g if hp.get("maximize", False) else g
    t = state["step"] = state.get("step", 0) + 1
    beta2_hat = 1 - t ** tau
    rho = min(lr, 1 / math.sqrt(t))
    trace["rho=lr" if lr < 1 / math.sqrt(t) else "rho=1/sqrt(t)"] += 1
    rms_theta = math.sqrt(np.mean(theta ** 2))
    trace["alpha from eps2" if eps2 > rms_theta else "alpha from RMS(theta)"] += 1
    alpha = max(eps2, rms_theta) * rho
    theta = theta - lr * lam * theta
    if G.ndim > 1:
        m, n = G.shape[-2:]
        matrices = G.reshape(-1, m, n)
        R = state.setdefault("R", np.zeros((len(matrices), m)))      # row sums, per matrix
        C = state.setdefault("C", np.zeros((len(matrices), n)))      # column sums
        V = np.empty_like(matrices)
        for k, Gk in enumerate(matrices):
            R[k] = beta2_hat * R[k] + (1 - beta2_hat) * (Gk * Gk) @ np.ones(n)
            C[k] = beta2_hat * C[k] + (1 - beta2_hat) * np.ones(m) @ (Gk * Gk)
            V[k] = np.outer(R[k], C[k]) / max(np.ones(m) @ R[k], eps1)
        V = V.reshape(G.shape)
    else:
        V = state["V"] = beta2_hat * state.get("V", np.zeros_like(G)) + (1 - beta2_hat) * G * G
    U = G / np.maximum(np.sqrt(V), eps1)
    rms_U = math.sqrt(np.mean(U ** 2))
    trace["clipped" if rms_U / d > 1 else "not clipped"] += 1
    U_hat = U / max(1, rms_U / d)
    return theta - alpha * U_hat


def state_from_reference(state, shape):
    """The reference's state in PyTorch's keys and layout: means where it keeps sums."""
    if "V" in state:
        return {"step": state["step"], "variance": state["V"]}
    m, n = shape[-2:]
    return {"step": state["step"],
            "row_var": (state["R"] / n).reshape(shape[:-1] + (1,)),
            "col_var": (state["C"] / m).reshape(shape[:-2] + (1, n))}


CASES = [
    # name, constructor kwargs, per-group options, branches the reference must take
    ("defaults", {}, ({}, {"lr": 0.3}),
     {"rho=lr", "rho=1/sqrt(t)", "alpha from eps2", "alpha from RMS(theta)", "clipped",
      "not clipped"}),
    ("weight-decay", {"weight_decay": 0.1}, ({"lr": 0.05}, {"lr": 0.2, "weight_decay": 0.02}),
     {"rho=lr", "rho=1/sqrt(t)"}),
    ("maximize-beta2-d", {"maximize": True, "beta2_decay": -0.5}, ({"d": 1.3}, {}),
     {"clipped", "not clipped"}),
    ("eps", {"eps": (1e-30, 1.0)}, ({}, {"eps": (1e-6, 1e-3), "lr": 0.1}),
     {"alpha from eps2", "alpha from RMS(theta)"}),
]
CASE_IDS = [case[0] for case in CASES]


def initial_weights(seed=0):
    rng = np.random.default_rng(seed)
    weights = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    weights["scalar"] = np.array(2e-4)        # RMS(θ) below ε2 = 1e-3: α_t = ε2·ρ_t at first
    return weights


def gradients(steps, seed=1):
    rng = np.random.default_rng(seed)
    scales = {name: np.linspace(0.2, 3.0, int(np.prod(shape))).reshape(shape)
              for name, shape in SHAPES.items()}      # rows and columns of different sizes
    return [{name: scales[name] * rng.normal(size=shape) for name, shape in SHAPES.items()}
            for _ in range(steps)]


def make_params(weights, device, dtype=np.float64):
    return {name: tg.tensor(np.array(value, dtype=dtype), device=device, requires_grad=True)
            for name, value in weights.items()}


def groups(params, group_options):
    first, second = group_options
    return [dict(params=[params["vector"], params["matrix"]], **first),
            dict(params=[params["cube"], params["scalar"]], **second)]


def feed(params, step_grads, device, dtype=np.float64):
    for name, p in params.items():
        p.grad = tg.tensor(np.array(step_grads[name], dtype=dtype), device=device)


def host(value):
    return backend.to_host(value) if backend.is_array(value) else value


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_numpy_reference_step_by_step(case, device):
    _, kwargs, group_options, required = case
    weights, grads = initial_weights(), gradients(STEPS)
    reference = {name: value.copy() for name, value in weights.items()}
    reference_states = {name: {} for name in SHAPES}
    trace = Counter()

    params = make_params(weights, device)
    optimizer = Adafactor(groups(params, group_options), **kwargs)
    for step in range(STEPS):
        feed(params, grads[step], device)
        optimizer.step()
        for name, p in params.items():
            hp = {**kwargs, **group_options[GROUP_OF[name]]}
            reference[name] = ref_adafactor(reference[name], grads[step][name],
                                            reference_states[name], hp, trace)
            where = f"Adafactor {name} at step {step + 1}"
            np.testing.assert_allclose(p.numpy(), reference[name], rtol=1e-11, atol=1e-13,
                                       err_msg=where)
            expected_state = state_from_reference(reference_states[name], SHAPES[name])
            assert set(optimizer.state[p]) == set(expected_state), where
            for key, value in optimizer.state[p].items():
                np.testing.assert_allclose(host(value), expected_state[key], rtol=1e-11,
                                           atol=1e-14, err_msg=f"{where}: state[{key!r}]")
    assert required <= set(trace), f"the run never reached {required - set(trace)}: {trace}"
    for name in SHAPES:
        assert not np.allclose(params[name].numpy(), weights[name]), name   # they moved


def test_first_step_by_hand_with_eps1_clamping_the_mean_of_R(device):
    """A 2×2 gradient at t = 1 (β̂2 = 0), ε1 = 1e-3 above mean(R): PyTorch's code clamps the
    mean of the row means (7.5e-4 → 1e-3), where the documented sums (3e-3) would not."""
    G = np.array([[0.01, 0.02], [0.03, 0.04]])
    theta0 = np.array([[1.0, -2.0], [0.5, 3.0]])
    R = np.array([[2.5e-4], [12.5e-4]])                     # row means of G²
    C = np.array([[5e-4, 10e-4]])                           # column means of G²
    V = R * C / 1e-3                                        # max(mean(R) = 7.5e-4, ε1) = 1e-3
    U = G / np.sqrt(V)                                      # √V̂ > ε1 everywhere
    np.testing.assert_allclose(U * U, [[0.8, 1.6], [1.44, 1.28]])      # RMS(U) = √1.28 > 1
    alpha = math.sqrt(np.mean(theta0 ** 2)) * 0.01          # max(ε2, RMS(θ))·min(γ, 1)
    expected = theta0 - alpha * U / math.sqrt(1.28)
    sums_V = np.outer(G ** 2 @ np.ones(2), np.ones(2) @ G ** 2) / np.sum(G ** 2)
    assert not np.allclose(V, sums_V)                       # the case tells the two apart

    theta = tg.tensor(theta0.copy(), device=device, requires_grad=True)
    theta.grad = tg.tensor(G, device=device)
    optimizer = Adafactor([theta], eps=(1e-3, 1e-3))
    optimizer.step()
    np.testing.assert_allclose(theta.numpy(), expected, rtol=1e-13)
    np.testing.assert_allclose(host(optimizer.state[theta]["row_var"]), R, rtol=1e-13)
    np.testing.assert_allclose(host(optimizer.state[theta]["col_var"]), C, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_default_eps1_is_the_machine_epsilon_of_the_dtype(dtype, device):
    """A tiny gradient: √V̂ = |g| < ε1 = finfo(dtype).eps, so U = g / ε1 (no clipping)."""
    theta0 = np.array([0.5, -0.5, 1.0])
    g = np.array([1.0, -2.0, 1.0]) * (1e-17 if dtype == np.float64 else 1e-9)
    eps1 = np.finfo(dtype).eps
    U = g / eps1
    assert math.sqrt(np.mean(U ** 2)) < 1
    expected = theta0 - math.sqrt(np.mean(theta0 ** 2)) * 0.01 * U

    theta = tg.tensor(theta0.astype(dtype), device=device, requires_grad=True)
    theta.grad = tg.tensor(g.astype(dtype), device=device)
    Adafactor([theta]).step()
    assert theta.dtype == dtype
    np.testing.assert_allclose(theta.numpy(), expected, rtol=1e-12 if dtype == np.float64
                               else 1e-5)


def test_lowers_a_linear_regression_loss(device):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4))
    Y = X @ rng.normal(size=(4, 3)) + 0.5
    W = tg.tensor(rng.normal(size=(4, 3)), device=device, requires_grad=True)
    b = tg.tensor(np.ones(3), device=device, requires_grad=True)
    x, y = tg.tensor(X, device=device), tg.tensor(Y, device=device)
    optimizer = Adafactor([W, b], lr=0.1)
    losses = []
    for _ in range(200):
        optimizer.zero_grad()
        loss = ((x @ W + b - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 100, (losses[0], losses[-1])


def test_state_dict_resume_continues_identically(device):
    weights, grads = initial_weights(3), gradients(10, seed=4)
    options = ({"lr": 0.05, "weight_decay": 0.1}, {"lr": 0.2})

    straight = make_params(weights, device)
    straight_optimizer = Adafactor(groups(straight, options))
    for step in range(10):
        feed(straight, grads[step], device)
        straight_optimizer.step()

    first = make_params(weights, device)
    first_optimizer = Adafactor(groups(first, options))
    for step in range(5):
        feed(first, grads[step], device)
        first_optimizer.step()
    saved = copy.deepcopy(first_optimizer.state_dict())
    saved_weights = {name: p.numpy().copy() for name, p in first.items()}
    for step in range(5, 8):          # the first run goes on: the snapshot must not follow it
        feed(first, grads[step], device)
        first_optimizer.step()

    resumed = make_params(saved_weights, device)
    resumed_optimizer = Adafactor(groups(resumed, ({"lr": 9.0}, {"lr": 9.0})))
    resumed_optimizer.load_state_dict(saved)
    assert [group["lr"] for group in resumed_optimizer.param_groups] == [0.05, 0.2]
    assert resumed_optimizer.state[resumed["matrix"]]["step"] == 5
    for step in range(5, 10):
        feed(resumed, grads[step], device)
        resumed_optimizer.step()
    for name in SHAPES:
        assert np.array_equal(resumed[name].numpy(), straight[name].numpy()), name


def test_state_keys_shapes_and_invariants_in_float32(device):
    params = make_params(initial_weights(8), device, dtype=np.float32)
    optimizer = Adafactor(params.values(), weight_decay=0.01)
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
                    assert value.dtype == np.float32 and backend.device_of(value) == device
    shapes = {name: {key: getattr(value, "shape", value)
                     for key, value in optimizer.state[params[name]].items()}
              for name in SHAPES}
    assert shapes == {"vector": {"step": 3, "variance": (5,)},
                      "matrix": {"step": 3, "row_var": (4, 1), "col_var": (1, 3)},
                      "cube": {"step": 3, "row_var": (2, 3, 1), "col_var": (2, 1, 4)},
                      "scalar": {"step": 3, "variance": ()}}


def test_defaults_match_pytorch():
    parameters = inspect.signature(Adafactor).parameters
    defaults = {name: p.default for name, p in parameters.items() if name != "params"}
    assert defaults == {"lr": 1e-2, "beta2_decay": -0.8, "eps": (None, 1e-3), "d": 1.0,
                        "weight_decay": 0.0, "foreach": None, "maximize": False}
    optimizer = Adafactor([tg.zeros(2, requires_grad=True)])
    assert optimizer.defaults == defaults


ERRORS = [
    ({"lr": -1.0}, "Learning rate should be >= 0 but is: -1.0"),
    ({"beta2_decay": 0.5}, "beta2_decay should be <= 0 but is: 0.5"),
    ({"eps": (-1.0, 1e-3)}, "epsilon1 should be >= 0 but is: -1.0"),
    ({"eps": (None, -1e-3)}, "epsilon2 should be >= 0 but is: -0.001"),
    ({"eps": (1e-3,)}, "eps must be a pair"),
    ({"d": 0.5}, "Clipping threshold d should be >= 1 but is: 0.5"),
    ({"weight_decay": -0.1}, "weight_decay should be >= 0 but is: -0.1"),
]


@pytest.mark.parametrize("kwargs, message", ERRORS, ids=[str(n) for n in range(len(ERRORS))])
def test_hyperparameter_validation(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Adafactor([tg.zeros(2, requires_grad=True)], **kwargs)
