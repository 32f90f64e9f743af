"""LBFGS and Newton against plain-NumPy references.

The problem: L2-regularised logistic regression in float64,

    f(w, b) = mean(log(1 + e^z) − y·z) + λ/2·‖w‖²,   z = X w + b,

whose optimum is computed here by a NumPy Newton-Raphson with the analytic
gradient and Hessian (X̃ = [X, 1]):

    ∇f = X̃ᵀ(σ(z) − y)/N + λ·[w, 0]
    H  = X̃ᵀ diag(σ(z)(1 − σ(z))) X̃ / N + λ·diag(1, ..., 1, 0)
"""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import backend
from tinygrad_opt.optim.lbfgs import LBFGS
from tinygrad_opt.optim.newton import Newton

N, D, LAMBDA = 80, 3, 0.1


def make_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, D))
    logits = X @ np.array([1.5, -2.0, 0.5]) + 0.3
    y = (rng.random(N) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    return X, y


def numpy_gradient_hessian(theta, X, y):
    Xb = np.hstack([X, np.ones((len(X), 1))])                       # (N, D+1)
    p = 1 / (1 + np.exp(-(Xb @ theta)))                             # σ(z)
    penalty = LAMBDA * np.r_[np.ones(D), 0.0]                        # λ on w, not on b
    gradient = Xb.T @ (p - y) / len(X) + penalty * theta
    hessian = Xb.T @ (Xb * (p * (1 - p))[:, None]) / len(X) + np.diag(penalty)
    return gradient, hessian


def numpy_optimum(X, y):
    theta = np.zeros(D + 1)
    for _ in range(50):
        gradient, hessian = numpy_gradient_hessian(theta, X, y)
        theta = theta - np.linalg.solve(hessian, gradient)
    assert np.abs(numpy_gradient_hessian(theta, X, y)[0]).max() < 1e-14
    return theta


class Problem:
    """The logistic regression on ``device``: parameters w (D,), b (1,) and closures."""

    def __init__(self, device, theta0=None):
        X, y = make_data()
        self.X_host, self.y_host = X, y
        self.X = tg.tensor(X, device=device)
        self.y = tg.tensor(y, device=device)
        theta0 = np.zeros(D + 1) if theta0 is None else theta0
        self.w = tg.tensor(theta0[:D].copy(), device=device, requires_grad=True)
        self.b = tg.tensor(theta0[D:].copy(), device=device, requires_grad=True)

    def loss(self):
        z = self.X @ self.w + self.b                                  # (N,)
        return (tg.log(1 + tg.exp(z)) - self.y * z).mean() + LAMBDA / 2 * (self.w * self.w).sum()

    def theta(self):
        return np.concatenate([self.w.numpy(), self.b.numpy()])

    def backward_closure(self, optimizer):
        def closure():
            optimizer.zero_grad()
            loss = self.loss()
            loss.backward()
            return loss
        return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_reaches_logistic_optimum(device, line_search_fn):
    problem = Problem(device)
    # tolerance_change=0: near the optimum f changes by less than float64 can resolve
    # (δf ~ ‖δθ‖² ~ 1e-16) long before θ is within 1e-8, so stop on the gradient only
    optimizer = LBFGS([problem.w, problem.b], max_iter=100, tolerance_grad=1e-12,
                      tolerance_change=0.0, line_search_fn=line_search_fn)
    closure = problem.backward_closure(optimizer)
    for _ in range(3):
        optimizer.step(closure)
    reference = numpy_optimum(problem.X_host, problem.y_host)
    np.testing.assert_allclose(problem.theta(), reference, atol=1e-8, rtol=0)
    state = optimizer.state[problem.w]
    for key in ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad",
                "prev_loss", "n_iter", "func_evals"):
        assert key in state
    assert backend.device_of(state["d"]) == device


def numpy_lbfgs(theta, X, y, iterations, lr, history_size):
    """A NumPy transcription of L-BFGS with a fixed step (Nocedal & Wright Alg. 7.4/7.5,
    first step scaled by min(1, 1/‖g‖₁) as in minFunc). Returns every iterate."""
    iterates = []
    s_list, y_list = [], []
    gamma = 1.0
    g = numpy_gradient_hessian(theta, X, y)[0]
    for k in range(iterations):
        if k == 0:
            d = -g
            step = min(1.0, 1.0 / np.abs(g).sum()) * lr
        else:
            s_vec, y_vec = step * d, g - g_previous
            if y_vec @ s_vec > 1e-10:
                if len(s_list) == history_size:
                    s_list.pop(0)
                    y_list.pop(0)
                s_list.append(s_vec)
                y_list.append(y_vec)
                gamma = (y_vec @ s_vec) / (y_vec @ y_vec)
            q = -g
            alphas = []
            for s_i, y_i in zip(reversed(s_list), reversed(y_list)):
                alpha = (s_i @ q) / (y_i @ s_i)
                q = q - alpha * y_i
                alphas.append(alpha)
            r = gamma * q
            for (s_i, y_i), alpha in zip(zip(s_list, y_list), reversed(alphas)):
                beta = (y_i @ r) / (y_i @ s_i)
                r = r + (alpha - beta) * s_i
            d = r
            step = lr
        g_previous = g
        theta = theta + step * d
        g = numpy_gradient_hessian(theta, X, y)[0]
        iterates.append(theta)
    return iterates


def test_lbfgs_iterates_match_numpy_transcription(device):
    problem = Problem(device)
    optimizer = LBFGS([problem.w, problem.b], lr=0.8, max_iter=1, history_size=3,
                      tolerance_grad=0.0, tolerance_change=0.0)   # the reference never stops
    closure = problem.backward_closure(optimizer)
    reference = numpy_lbfgs(np.zeros(D + 1), problem.X_host, problem.y_host, 12, 0.8, 3)
    for k in range(12):
        optimizer.step(closure)                       # max_iter=1: one iteration per step
        np.testing.assert_allclose(problem.theta(), reference[k], rtol=1e-10, atol=1e-12)
    assert len(optimizer.state[problem.w]["old_dirs"]) == 3


def test_strong_wolfe_steps_satisfy_wolfe_conditions(device):
    problem = Problem(device, theta0=np.array([2.0, 2.0, -1.0, 0.5]))
    optimizer = LBFGS([problem.w, problem.b], max_iter=1, line_search_fn="strong_wolfe")
    closure = problem.backward_closure(optimizer)
    c1, c2 = 1e-4, 0.9
    for _ in range(6):
        theta = problem.theta()
        g = numpy_gradient_hessian(theta, problem.X_host, problem.y_host)[0]
        f = problem.loss().item()
        optimizer.step(closure)
        state = optimizer.state[problem.w]
        t, d = state["t"], backend.to_host(state["d"])
        new_theta = problem.theta()
        np.testing.assert_allclose(new_theta, theta + t * d, rtol=1e-12, atol=1e-14)
        g_new = numpy_gradient_hessian(new_theta, problem.X_host, problem.y_host)[0]
        assert problem.loss().item() <= f + c1 * t * (g @ d)           # sufficient decrease
        assert abs(g_new @ d) <= c2 * abs(g @ d) + 1e-15                # curvature


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_rosenbrock(device, line_search_fn):
    x = tg.tensor(np.array([-1.5, 2.0]), device=device, requires_grad=True)
    if line_search_fn is None:  # a fixed step of 0.5 along the L-BFGS direction
        optimizer = LBFGS([x], lr=0.5, max_iter=300, tolerance_grad=1e-10,
                          tolerance_change=0.0, history_size=10)
    else:
        optimizer = LBFGS([x], max_iter=200, tolerance_grad=1e-10, tolerance_change=1e-14,
                          history_size=10, line_search_fn=line_search_fn)

    def closure():
        optimizer.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    first = optimizer.step(closure).item()
    assert math.isclose(first, 2.5 ** 2 + 100 * 0.25 ** 2)      # f(-1.5, 2) = 12.5
    optimizer.step(closure)
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-6)


def test_lbfgs_validation():
    a = tg.zeros(2, requires_grad=True)
    b = tg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(ValueError, match="strong_wolfe"):
        LBFGS([a], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="Invalid learning rate"):
        LBFGS([a], lr=-1)
    assert LBFGS([a], max_iter=8).param_groups[0]["max_eval"] == 10


# --- Newton ---

def test_newton_reaches_optimum_quadratically(device):
    problem = Problem(device)
    optimizer = Newton([problem.w, problem.b])
    reference = numpy_optimum(problem.X_host, problem.y_host)
    norms = []
    for _ in range(7):
        gradient = numpy_gradient_hessian(problem.theta(), problem.X_host, problem.y_host)[0]
        norms.append(np.linalg.norm(gradient))
        optimizer.step(problem.loss)                 # the closure just returns the loss
    np.testing.assert_allclose(problem.theta(), reference, atol=1e-12, rtol=0)
    # quadratic convergence: ‖g_(k+1)‖ ≤ C·‖g_k‖² once close (until float64's floor)
    checked = 0
    for previous, current in zip(norms, norms[1:]):
        if previous < 0.1 and current > 1e-13:
            assert current <= 2.0 * previous ** 2
            checked += 1
    assert checked >= 2
    assert optimizer.state[problem.w]["n_iter"] == 7


def test_newton_one_step_equals_numpy_solve_with_damping(device):
    theta0 = np.array([0.5, -0.3, 0.2, 0.1])
    problem = Problem(device, theta0=theta0)
    optimizer = Newton([problem.w, problem.b], lr=0.7, damping=0.25)

    def closure():  # backward with create_graph=True is also accepted
        optimizer.zero_grad()
        loss = problem.loss()
        loss.backward(create_graph=True)
        return loss

    loss = optimizer.step(closure)
    gradient, hessian = numpy_gradient_hessian(theta0, problem.X_host, problem.y_host)
    expected = theta0 - 0.7 * np.linalg.solve(hessian + 0.25 * np.eye(D + 1), gradient)
    np.testing.assert_allclose(problem.theta(), expected, rtol=1e-12, atol=1e-14)
    Xb = np.hstack([problem.X_host, np.ones((N, 1))])
    z = Xb @ theta0
    f0 = np.mean(np.log1p(np.exp(z)) - problem.y_host * z) + LAMBDA / 2 * theta0[:D] @ theta0[:D]
    assert math.isclose(loss.item(), f0, rel_tol=1e-13)


def test_newton_accepts_the_usual_closure_with_plain_backward(device):
    """API.md: the closure is the usual zero_grad(); loss.backward(); return loss."""
    problem = Problem(device)
    theta0 = problem.theta()
    optimizer = Newton([problem.w, problem.b])
    optimizer.step(problem.backward_closure(optimizer))   # its backward keeps the graph
    gradient, hessian = numpy_gradient_hessian(theta0, problem.X_host, problem.y_host)
    expected = theta0 - np.linalg.solve(hessian, gradient)
    np.testing.assert_allclose(problem.theta(), expected, rtol=1e-10, atol=1e-12)
    assert problem.w.grad is not None   # the closure's backward still filled .grad


def test_newton_size_limit_and_closure_errors(device):
    big = tg.zeros(2001, dtype=tg.float64, device=device, requires_grad=True)
    with pytest.raises(ValueError, match=r"2001 elements.*max_params=2000"):
        Newton([big])
    with pytest.raises(ValueError, match=r"12 elements.*max_params=10"):
        Newton([tg.zeros((3, 4), requires_grad=True)], max_params=10)
    optimizer = Newton([big], max_params=3000)     # a raised limit is accepted
    assert optimizer.max_params == 3000

    problem = Problem(device)
    optimizer = Newton([problem.w, problem.b])
    with pytest.raises(RuntimeError, match="closure"):
        optimizer.step(None)
    with pytest.raises(RuntimeError, match="singular"):
        Newton([problem.w]).step(lambda: problem.w.sum() * 2.0)   # linear: H = 0
