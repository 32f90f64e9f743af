"""Proximal coordinate descent: the Lasso optimum by its KKT conditions and a NumPy solver.

Lasso: minimise F(w) = ‖Xw − y‖²/(2N) + l1·‖w‖₁. w is optimal if and only if
(KKT / subgradient conditions), with c = Xᵀ(y − Xw)/N:

    c_j = l1·sign(w_j)      where w_j ≠ 0
    |c_j| ≤ l1              where w_j = 0
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.optim.coordinate_descent import CoordinateDescent, soft_threshold

N, D, L1 = 100, 10, 0.1
W_TRUE = np.array([3.0, 0, 0, -2.0, 0, 0, 1.5, 0, 0, 0])
RELEVANT = W_TRUE != 0


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = X @ W_TRUE + 0.1 * rng.normal(size=N)
    return X, y


def objective(w, X, y, l1):
    return np.sum((X @ w - y) ** 2) / (2 * len(y)) + l1 * np.abs(w).sum()


def numpy_lasso(X, y, l1, sweeps=500):
    """The textbook Lasso coordinate descent with a running residual (independent code)."""
    n, d = X.shape
    w = np.zeros(d)
    residual = y.copy()
    column_norms = (X ** 2).sum(axis=0) / n
    for _ in range(sweeps):
        for j in range(d):
            rho = X[:, j] @ residual / n + column_norms[j] * w[j]
            new = np.sign(rho) * max(abs(rho) - l1, 0.0) / column_norms[j]
            residual -= X[:, j] * (new - w[j])
            w[j] = new
    return w


def lasso_setup(device, l1=L1):
    X, y = make_data()
    w = tg.zeros(D, dtype=tg.float64, device=device, requires_grad=True)
    Xt, yt = tg.tensor(X, device=device), tg.tensor(y, device=device)
    optimizer = CoordinateDescent([w], l1=l1)

    def closure():  # f only: the L1 term is the optimizer's
        return ((Xt @ w - yt) ** 2).sum() / (2 * N)
    return X, y, w, optimizer, closure


def test_lasso_kkt_exact_zeros_and_monotone_objective(device):
    X, y, w, optimizer, closure = lasso_setup(device)
    objectives = [objective(w.numpy(), X, y, L1)]
    for _ in range(15):
        optimizer.step(closure)
        objectives.append(objective(w.numpy(), X, y, L1))
    w_final = w.numpy()

    assert all(later <= earlier + 1e-15 for earlier, later in zip(objectives, objectives[1:]))
    c = X.T @ (y - X @ w_final) / N
    assert np.all(np.abs(c) <= L1 + 1e-6)
    nonzero = w_final != 0
    np.testing.assert_allclose(c[nonzero], L1 * np.sign(w_final[nonzero]), atol=1e-6)
    assert np.all(w_final[~RELEVANT] == 0.0)                 # exact zeros, not small numbers
    assert np.all(np.sign(w_final[RELEVANT]) == np.sign(W_TRUE[RELEVANT]))
    np.testing.assert_allclose(w_final, numpy_lasso(X, y, L1), atol=1e-9)
    assert optimizer.state[w]["step"] == 15


def test_step_returns_loss_before_the_sweep(device):
    X, y, w, optimizer, closure = lasso_setup(device)
    for _ in range(3):
        before = w.numpy().copy()   # .numpy() on cpu shares memory with w
        loss = optimizer.step(closure)
        np.testing.assert_allclose(loss.item(), np.sum((X @ before - y) ** 2) / (2 * N),
                                   rtol=1e-13)


def test_subgradient_descent_gives_no_exact_zeros():
    """Why soft-thresholding: the plain subgradient method only hovers around zero."""
    X, y = make_data()
    w = np.zeros(D)
    for _ in range(3000):
        w -= 0.05 * (X.T @ (X @ w - y) / N + L1 * np.sign(w))
    assert np.all(np.abs(w[~RELEVANT]) < 0.02)        # near zero ...
    assert np.count_nonzero(w[~RELEVANT] == 0.0) == 0  # ... but never exactly zero


def test_zero_penalty_is_least_squares(device):
    X, y, w, optimizer, closure = lasso_setup(device, l1=0.0)
    for _ in range(15):
        optimizer.step(closure)
    np.testing.assert_allclose(w.numpy(), np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-10)


def test_matrix_parameter_and_two_groups(device):
    """Multi-output Lasso on a (D, 2) weight, and a separate group with its own l1."""
    X, y = make_data()
    Y = np.stack([y, -0.5 * y + X[:, 2]], axis=1)                   # (N, 2)
    W = tg.zeros((D, 2), dtype=tg.float64, device=device, requires_grad=True)
    b = tg.zeros(2, dtype=tg.float64, device=device, requires_grad=True)
    Xt, Yt = tg.tensor(X, device=device), tg.tensor(Y, device=device)
    optimizer = CoordinateDescent([{"params": [W]}, {"params": [b], "l1": 0.0}], l1=L1)

    def closure():
        return ((Xt @ W + b - Yt) ** 2).sum() / (2 * N)
    for _ in range(15):
        optimizer.step(closure)
    W_final, b_final = W.numpy(), b.numpy()
    residual = Y - X @ W_final - b_final                             # (N, 2)
    np.testing.assert_allclose(residual.mean(axis=0), 0.0, atol=1e-9)   # unpenalised b
    c = X.T @ residual / N                                           # (D, 2)
    assert np.all(np.abs(c) <= L1 + 1e-6)
    nonzero = W_final != 0
    np.testing.assert_allclose(c[nonzero], L1 * np.sign(W_final[nonzero]), atol=1e-6)
    assert np.count_nonzero(W_final == 0.0) >= D


def test_l1_logistic_regression_kkt(device):
    """A non-quadratic f: per-coordinate proximal Newton steps reach the KKT point."""
    X, y = make_data()
    labels = (y > 0).astype(np.float64)
    w = tg.zeros(D, dtype=tg.float64, device=device, requires_grad=True)
    Xt, yt = tg.tensor(X, device=device), tg.tensor(labels, device=device)
    l1 = 0.05
    optimizer = CoordinateDescent([w], l1=l1)

    def closure():
        z = Xt @ w
        return (tg.log(1 + tg.exp(z)) - yt * z).mean()
    for _ in range(25):
        optimizer.step(closure)
    w_final = w.numpy()
    gradient = X.T @ (1 / (1 + np.exp(-(X @ w_final))) - labels) / N   # ∇f
    assert np.all(np.abs(gradient) <= l1 + 1e-6)
    nonzero = w_final != 0
    np.testing.assert_allclose(gradient[nonzero], -l1 * np.sign(w_final[nonzero]), atol=1e-6)
    assert 0 < np.count_nonzero(w_final == 0.0) < D


def test_soft_threshold_table():
    for z, threshold, expected in [(3.0, 1.0, 2.0), (-3.0, 1.0, -2.0), (0.5, 1.0, 0.0),
                                   (-1.0, 1.0, 0.0), (2.0, 0.0, 2.0)]:
        assert soft_threshold(z, threshold) == expected


def test_errors(device):
    w = tg.zeros(3, dtype=tg.float64, device=device, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid l1"):
        CoordinateDescent([w], l1=-0.1)
    optimizer = CoordinateDescent([w], l1=0.1)
    with pytest.raises(RuntimeError, match=r"≤ 0 at element 0"):
        optimizer.step(lambda: (w * tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64,
                                               device=device)).sum())   # linear: h_j = 0

    def plain_backward():
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    optimizer.step(plain_backward)   # the usual closure works: step() keeps its graph
    assert np.all(w.numpy() == 0.0)  # min of w² + 0.1·|w| is w = 0, reached exactly
