"""Audit of Newton and CoordinateDescent against independent NumPy transcriptions of their
documented updates (docs/optim-newton.md, docs/optim-coordinate-descent.md):

    Newton:              (H + λ·I) d = g,   θ ← θ − lr·d     (joint over all parameters)
    CoordinateDescent:   z = w_j − g_j/h_j,  w_j ← S(z, l1/h_j),  cyclic in flat C order
"""

import copy
import pickle

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.optim.coordinate_descent import CoordinateDescent, soft_threshold
from tinygrad_opt.optim.newton import Newton


def spd_problem(rng, n):
    """A symmetric positive definite A (n, n) and b (n,): f(θ) = ½θᵀAθ − bᵀθ."""
    M = rng.normal(size=(n, n))
    return M @ M.T + np.eye(n), rng.normal(size=n)


def three_params(theta0, dtype, device):
    """θ split into a (2, 2) matrix, a 0-d scalar and a (3,) vector."""
    a = tg.tensor(theta0[:4].reshape(2, 2), dtype=dtype, device=device, requires_grad=True)
    s = tg.tensor(np.float64(theta0[4]), dtype=dtype, device=device, requires_grad=True)
    c = tg.tensor(theta0[5:], dtype=dtype, device=device, requires_grad=True)
    return a, s, c


def flat(*params):
    return np.concatenate([p.numpy().reshape(-1) for p in params])


# --- Newton ---

@pytest.mark.parametrize("dtype, tol", [(tg.float64, 1e-12), (tg.float32, 2e-5)])
def test_newton_quadratic_one_step_joint_hessian(device, rng, dtype, tol):
    """lr=1, λ=0 on a quadratic: one step to A⁻¹b, with the cross-parameter Hessian blocks."""
    A, b = spd_problem(rng, 8)
    a, s, c = three_params(rng.normal(size=8), dtype, device)
    At, bt = tg.tensor(A, dtype=dtype, device=device), tg.tensor(b, dtype=dtype, device=device)

    def closure():
        theta = tg.cat([a.reshape(-1), s.reshape(-1), c.reshape(-1)])
        return 0.5 * (theta @ (At @ theta)) - bt @ theta
    optimizer = Newton([a, s, c])
    optimizer.step(closure)
    np.testing.assert_allclose(flat(a, s, c), np.linalg.solve(A, b), atol=tol, rtol=0)
    assert a.dtype == s.dtype == c.dtype == dtype and s.shape == () and a.shape == (2, 2)
    assert optimizer.state[a]["n_iter"] == 1


def test_newton_iterates_match_numpy_with_lr_and_damping(device):
    """f = Σθ⁴ + θ₀θ₁ (non-quadratic): each step equals θ − lr·(H + λI)⁻¹g in NumPy."""
    theta = np.array([1.0, 2.0])
    x = tg.tensor(theta, device=device, requires_grad=True)
    optimizer = Newton([x], lr=0.3, damping=0.2)
    for _ in range(4):
        optimizer.step(lambda: (x ** 4).sum() + x[0] * x[1])
        g = 4 * theta ** 3 + theta[::-1]
        H = np.diag(12 * theta ** 2) + np.array([[0.0, 1.0], [1.0, 0.0]])
        theta = theta - 0.3 * np.linalg.solve(H + 0.2 * np.eye(2), g)
        np.testing.assert_allclose(x.numpy(), theta, rtol=1e-13, atol=1e-15)


def test_newton_negative_curvature_goes_to_saddle_damping_turns_it(device):
    """docs: with H indefinite the pure step goes to the saddle; λ shifts the eigenvalues."""
    x = tg.tensor([1.0, 1.0], dtype=tg.float64, device=device, requires_grad=True)
    Newton([x]).step(lambda: x[0] ** 2 - x[1] ** 2)          # H = diag(2, −2)
    np.testing.assert_allclose(x.numpy(), [0.0, 0.0], atol=1e-15)
    x = tg.tensor([1.0, 1.0], dtype=tg.float64, device=device, requires_grad=True)
    Newton([x], damping=3.0).step(lambda: x[0] ** 2 - x[1] ** 2)   # diag(5, 1) d = (2, −2)
    np.testing.assert_allclose(x.numpy(), [1 - 2 / 5, 1 + 2], rtol=1e-14)


def test_newton_linear_part_frozen_and_unused_parameters(device):
    a0, b0 = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0])
    a = tg.tensor(a0, device=device, requires_grad=True)
    b = tg.tensor(b0, device=device, requires_grad=True)
    # f linear in a (H block 0) and quadratic in b; damping 1: d_a = 3/1, d_b = 2b/(2 + 1)
    Newton([a, b], damping=1.0).step(lambda: 3 * a.sum() + (b ** 2).sum())
    np.testing.assert_allclose(a.numpy(), a0 - 3.0, rtol=1e-15)
    np.testing.assert_allclose(b.numpy(), b0 / 3, rtol=1e-15)
    # a frozen parameter (requires_grad=False) is a constant, left untouched
    a = tg.tensor(a0, device=device, requires_grad=True)
    frozen = tg.tensor(b0, device=device)
    Newton([a, frozen]).step(lambda: (a ** 2).sum() + (frozen * a[:2]).sum())
    np.testing.assert_allclose(a.numpy(), [-0.25, 0.5, 0.0], atol=1e-15)
    np.testing.assert_array_equal(frozen.numpy(), b0)
    # an unused parameter has a zero Hessian block: singular without damping
    a = tg.tensor(a0, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="singular; use damping > 0"):
        Newton([a, b]).step(lambda: (a ** 2).sum())


def test_newton_closure_contract_errors(device):
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, device=device, requires_grad=True)
    optimizer = Newton([x])
    with pytest.raises(TypeError, match="must return the loss as a Tensor, got float"):
        optimizer.step(lambda: 1.0)
    with pytest.raises(RuntimeError, match=r"scalar loss, got shape \(2,\)"):
        optimizer.step(lambda: x ** 2)
    with pytest.raises(RuntimeError, match="does not depend on any parameter"):
        optimizer.step(lambda: (x ** 2).sum().detach())

    def frees_graph():
        loss = (x ** 2).sum()
        tg.grad(loss, [x])
        return loss
    with pytest.raises(RuntimeError, match="freed the loss's graph"):
        optimizer.step(frees_graph)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])   # no failed step moved x


def test_newton_nan_is_named_not_called_singular(device):
    # a nan gradient/Hessian is not a singular matrix: damping would not help
    x = tg.tensor([float("nan"), 2.0], dtype=tg.float64, device=device,
                  requires_grad=True)
    with pytest.raises(RuntimeError, match="not finite"):
        Newton([x], damping=1.0).step(lambda: (x ** 2).sum())


def test_newton_refuses_add_param_group():
    # step() solves for the first group only: a second group would be silently skipped
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    y = tg.tensor([3.0], dtype=tg.float64, requires_grad=True)
    optimizer = Newton([x])
    with pytest.raises(ValueError, match="parameter groups"):
        optimizer.add_param_group({"params": [y]})
    assert len(optimizer.param_groups) == 1
    with pytest.raises(ValueError, match="parameter groups"):
        Newton([{"params": [x]}, {"params": [y]}])


def test_newton_state_dict_round_trip(device):
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, device=device, requires_grad=True)
    optimizer = Newton([x], lr=0.5, damping=0.1)
    optimizer.step(lambda: (x ** 4).sum())
    saved = optimizer.state_dict()
    assert saved["state"] == {0: {"n_iter": 1}}
    restored = Newton([x])
    restored.load_state_dict(saved)
    theta = x.numpy().copy()
    restored.step(lambda: (x ** 4).sum())
    # the loaded lr=0.5 and damping=0.1 are used, and n_iter goes on counting
    expected = theta - 0.5 * (4 * theta ** 3) / (12 * theta ** 2 + 0.1)
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-14)
    assert restored.state[x]["n_iter"] == 2


# --- CoordinateDescent ---

def numpy_cyclic_cd(A, b, theta, l1s, sweeps):
    """Exact coordinate minimisation of ½θᵀAθ − bᵀθ + Σ l1_j|θ_j|, j = 0, 1, ..., n−1."""
    theta = theta.copy()
    for _ in range(sweeps):
        for j in range(len(theta)):
            g, h = A[j] @ theta - b[j], A[j, j]
            z = theta[j] - g / h
            theta[j] = np.sign(z) * max(abs(z) - l1s[j] / h, 0.0)
    return theta


@pytest.mark.parametrize("dtype, tol", [(tg.float64, 1e-13), (tg.float32, 2e-5)])
def test_cd_cyclic_order_matches_numpy_on_coupled_quadratic(device, rng, dtype, tol):
    """A non-separable quadratic (the order matters): groups, then params, then C order."""
    A, b = spd_problem(rng, 8)
    theta0 = rng.normal(size=8)
    a, s, c = three_params(theta0, dtype, device)
    At, bt = tg.tensor(A, dtype=dtype, device=device), tg.tensor(b, dtype=dtype, device=device)

    def closure():
        theta = tg.cat([a.reshape(-1), s.reshape(-1), c.reshape(-1)])
        return 0.5 * (theta @ (At @ theta)) - bt @ theta
    optimizer = CoordinateDescent([{"params": [a, s]}, {"params": [c], "l1": 0.3}], l1=0.05)
    l1s = np.r_[[0.05] * 5, [0.3] * 3]
    for sweep in range(1, 4):
        optimizer.step(closure)
        np.testing.assert_allclose(flat(a, s, c), numpy_cyclic_cd(A, b, theta0, l1s, sweep),
                                   atol=tol, rtol=0)
    assert [optimizer.state[p]["step"] for p in (a, s, c)] == [3, 3, 3]
    assert a.dtype == s.dtype == c.dtype == dtype and s.shape == ()


def test_cd_separable_converges_in_one_sweep(device):
    """f = Σ h_j(w_j − t_j)²/2 is separable: one sweep is the exact minimiser S(t, l1/h)."""
    h, t, l1 = np.array([1.0, 2.0, 4.0, 0.5]), np.array([3.0, -0.2, -1.0, 0.1]), 0.4
    w = tg.zeros(4, dtype=tg.float64, device=device, requires_grad=True)
    ht, tt = tg.tensor(h, device=device), tg.tensor(t, device=device)
    optimizer = CoordinateDescent([w], l1=l1)
    optimizer.step(lambda: (ht * (w - tt) ** 2).sum() / 2)
    expected = np.sign(t) * np.maximum(np.abs(t) - l1 / h, 0.0)   # [2.6, 0, −0.9, 0]
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-14, atol=0)
    assert np.count_nonzero(w.numpy() == 0.0) == 2
    loss = optimizer.step(lambda: (ht * (w - tt) ** 2).sum() / 2)   # a fixed point
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-14, atol=0)
    assert np.isclose(loss.item(), np.sum(h * (expected - t) ** 2) / 2, rtol=1e-14)


def test_soft_threshold_propagates_nan():
    # S(z, τ) = sign(z)·max(|z| − τ, 0) is nan for z = nan (np.sign(nan) is nan)
    assert np.isnan(soft_threshold(float("nan"), 1.0))
    assert soft_threshold(float("inf"), 1.0) == float("inf")
    assert soft_threshold(float("-inf"), 1.0) == float("-inf")


def test_cd_nan_gradient_gives_nan_not_exact_zero(device):
    # a nan in the data used to become an exact 0 weight (a silently plausible Lasso answer)
    w = tg.tensor([1.0, 2.0], dtype=tg.float64, device=device, requires_grad=True)
    target = tg.tensor([float("nan"), 1.0], dtype=tg.float64, device=device)
    CoordinateDescent([w], l1=0.1).step(lambda: ((w - target) ** 2).sum())
    result = w.numpy()
    assert np.isnan(result[0])
    np.testing.assert_allclose(result[1], 1.0 - 0.1 / 2, rtol=1e-15)   # S(1, 0.1/2)


def test_cd_state_dict_round_trip(device):
    w = tg.tensor([1.0, 2.0], dtype=tg.float64, device=device, requires_grad=True)
    optimizer = CoordinateDescent([w], l1=0.2)
    optimizer.step(lambda: ((w - 3.0) ** 2).sum())
    restored = CoordinateDescent([w])          # l1 = 0 until the state dict says 0.2
    restored.load_state_dict(optimizer.state_dict())
    restored.step(lambda: ((w - 3.0) ** 2).sum())
    np.testing.assert_allclose(w.numpy(), [2.9, 2.9], rtol=1e-15)   # S(3, 0.2/2)
    assert restored.state[w]["step"] == 2


def test_newton_deepcopy_and_pickle_keep_params_and_limit():
    # copy.deepcopy(optimizer) is valid use; the copy used to lose _params and max_params
    x = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    optimizer = Newton([x], lr=0.5, max_params=5)
    optimizer.step(lambda: (x ** 2).sum())                      # x ← x − 0.5·x
    for clone in (copy.deepcopy(optimizer), pickle.loads(pickle.dumps(optimizer))):
        assert clone.max_params == 5
        (p,) = clone.param_groups[0]["params"]
        clone.step(lambda: (p ** 2).sum())
        np.testing.assert_allclose(p.numpy(), [0.25, 0.5], rtol=1e-15)
        assert clone.state[p]["n_iter"] == 2
    np.testing.assert_allclose(x.numpy(), [0.5, 1.0], rtol=1e-15)   # the original is untouched
