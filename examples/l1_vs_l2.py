"""Experiment 6: L1 gives exact zeros, L2 gives small non-zeros.

Claims (lecture notes, "L0、L1、L2范数" and "L1不可导的时候该怎么办"): L1
regularisation J = J0 + α·Σ|w| "tends to produce a few features and sets the others
to 0" (sparse weights), while L2 J = J0 + α·Σw² keeps more features with values
"close to 0"; where L1 is not differentiable, coordinate descent optimises one
coordinate at a time and avoids the problem.

The task: sparse linear regression. 50 features, only 5 of them carry signal
(true weights ±1, ±2, ±3), 200 noisy training samples. Four fits of the same
least-squares loss J0 = ‖Xw − y‖²/(2N), no bias (the data are centred):

  none              J0, full-batch gradient descent
  L2 (penalty)      J0 + ALPHA·Σw², gradient descent
  L1 (penalty)      J0 + ALPHA·Σ|w|, gradient descent on the subgradient sign(w)
  L1 (coord. desc.) J0 + ALPHA·Σ|w|, optim.CoordinateDescent: the Lasso solver

The L1 fits minimise the same objective; they differ only in the algorithm.

    python examples/l1_vs_l2.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os

import numpy as np

import tinygrad_opt as tg
from tinygrad_opt import optim, viz
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.nn.utils import l1_penalty, l2_penalty

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="L1 vs L2 regularisation: sparsity")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0, help="the data and the initial weights")
parser.add_argument("--quick", action="store_true", help="fewer iterations")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

N_TRAIN, N_TEST, N_FEATURES, NOISE = 200, 1000, 50, 0.5
ALPHA = 0.1                          # the penalty strength, the same for L1 and L2
LR = 0.05                            # gradient descent step
GD_STEPS = 300 if args.quick else 3000
CD_SWEEPS = 5 if args.quick else 30
NEAR_ZERO = 1e-3                     # |w| below this counts as "near zero"

# --- data: y = X w* + noise with a 5-sparse w* ---------------------------------------------
rng = np.random.default_rng(args.seed)
w_true = np.zeros(N_FEATURES)
w_true[:5] = [3.0, -2.0, 2.0, -1.0, 1.0]
rng.shuffle(w_true)
X = rng.standard_normal((N_TRAIN + N_TEST, N_FEATURES))
y = X @ w_true + NOISE * rng.standard_normal(N_TRAIN + N_TEST)
X = X - X[:N_TRAIN].mean(axis=0)                 # centre with the training means: no bias
y = y - y[:N_TRAIN].mean()
X_train, y_train = tg.tensor(X[:N_TRAIN], device=args.device), tg.tensor(y[:N_TRAIN],
                                                                          device=args.device)
X_test, y_test = X[N_TRAIN:], y[N_TRAIN:]
w_start = 0.01 * rng.standard_normal(N_FEATURES)   # the same start for every fit


def squared_error(w):
    """J0(w) = ‖Xw − y‖² / (2N)."""
    residual = X_train @ w - y_train                  # (N,)
    return (residual * residual).mean() / 2


# --- the fits -----------------------------------------------------------------------------
fits = {}
for name, penalty in [("none", None), ("L2 (penalty)", l2_penalty), ("L1 (penalty)", l1_penalty)]:
    # .copy(): a Tensor made from a NumPy array shares its memory, and step() updates in place
    w = tg.tensor(w_start.copy(), device=args.device, requires_grad=True)
    optimizer = optim.SGD([w], lr=LR)
    for step in range(GD_STEPS):
        optimizer.zero_grad()
        loss = squared_error(w)
        if penalty is not None:
            loss = loss + ALPHA * penalty([w])
        loss.backward()
        optimizer.step()
    fits[name] = w.numpy().copy()

w = tg.tensor(w_start.copy(), device=args.device, requires_grad=True)
optimizer = optim.CoordinateDescent([w], l1=ALPHA)
for sweep in range(CD_SWEEPS):
    optimizer.step(lambda: squared_error(w))          # the closure is J0 only: L1 is the solver's
fits["L1 (coord. desc.)"] = w.numpy().copy()

# --- results -------------------------------------------------------------------------------
rows = []
for name, weights in fits.items():
    objective = np.sum((X[:N_TRAIN] @ weights - y[:N_TRAIN]) ** 2) / (2 * N_TRAIN)
    if name.startswith("L1"):
        objective += ALPHA * np.abs(weights).sum()
    elif name.startswith("L2"):
        objective += ALPHA * (weights ** 2).sum()
    support = np.abs(weights) > NEAR_ZERO
    rows.append([name, int(np.sum(weights == 0)), int(np.sum(np.abs(weights) < NEAR_ZERO)),
                 f"{int(np.sum(support & (w_true != 0)))}/5",
                 float(np.min(np.abs(weights[w_true == 0]))),
                 float(np.max(np.abs(weights[w_true == 0]))), objective,
                 float(np.mean((X_test @ weights - y_test) ** 2))])
print(f"{N_FEATURES} features, 5 informative, {N_TRAIN} training samples, alpha {ALPHA}, "
      f"{GD_STEPS} gradient steps (lr {LR}) or {CD_SWEEPS} coordinate sweeps, seed {args.seed}")
print(format_table(["fit", "exact zeros", f"|w| < {NEAR_ZERO:g}", "true features kept",
                    "min |w| noise feats", "max |w| noise feats", "objective", "test MSE"],
                   rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    print("wrote " + viz.plot_histograms(fits, os.path.join(args.plot, "l1_vs_l2.png"),
                                         bins=60, xlabel="weight",
                                         title="learned weights (50 features, 5 informative)"))
else:
    print(viz.PLOT_HINT)
