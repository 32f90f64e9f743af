"""Experiment 9: Newton and L-BFGS vs gradient descent on full-batch logistic regression.

Claims (lecture notes, "二阶方法"): Newton's update x ← x − H⁻¹∇f uses the local
curvature, needs no learning rate and reaches the minimum in very few iterations,
but each iteration is expensive (the Hessian); L-BFGS approximates it cheaply and
"works well if you can afford full-batch computation".

The task: L2-regularised logistic regression, digit 3 vs digit 8, full batch in
float64, 64 weights + 1 bias:

    f(w, b) = mean BCE(Xw + b, y) + (λ/2)·‖w‖²,   λ = 1e-3

f is strictly convex, so all three methods head for the same minimum f*. Gradient
descent uses the classical step 1/L, L = λ_max(XᵀX)/(4N) + λ (the largest curvature
f can have); Newton uses lr 1; L-BFGS uses a strong-Wolfe line search (one
iteration per step() here, to count them; once max|g| <= 1e-7, its default
tolerance_grad, a step() does nothing). f* is Newton's final value; the table
reports iterations and seconds until f − f* < TOLERANCE.

The mini-batch half (notes: L-BFGS "works well if you can afford full-batch
computation and remove the source of noise"): the same problem, with each step()
of L-BFGS taking its gradients and its line search on a new random mini-batch of
MINI_BATCHES examples (the batch stays fixed within the step), against full-batch
L-BFGS and mini-batch SGD (step 1/L) on the same budget of examples read
(closure calls × batch size). Reported: the full objective's f − f* at the end and
at its best, and the examples read until f − f* < 1e-4.

    python examples/second_order.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os
import time

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import optim, viz
from tinygrad_opt.data import standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="second-order methods on logistic regression")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0, help="the initial weights")
parser.add_argument("--quick", action="store_true", help="fewer gradient-descent iterations")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

LAMBDA = 1e-3
TOLERANCE = 1e-8
MAX_ITERATIONS = {"gradient descent": 300 if args.quick else 5000, "Newton": 20, "L-BFGS": 300}

# --- data: digit 3 (label 0) vs digit 8 (label 1), standardized ---------------------------
X, y = load_digits()
keep = (y == 3) | (y == 8)
X, _ = standardize(X[keep].astype(np.float64))
y = (y[keep] == 8).astype(np.float64)
features = tg.tensor(X, device=args.device)
targets = tg.tensor(y, device=args.device)
L = np.linalg.eigvalsh(X.T @ X / len(y)).max() / 4 + LAMBDA   # max curvature of f

rng = np.random.default_rng(args.seed)
w_start, b_start = 0.01 * rng.standard_normal(X.shape[1]), np.zeros(1)


def objective(w, b, x=features, t=targets):
    """f(w, b) = mean BCE(xw + b, t) + (λ/2)·‖w‖² (the full batch by default)."""
    logits = x @ w + b                                                # (N,)
    return F.binary_cross_entropy_with_logits(logits, t) + LAMBDA / 2 * (w * w).sum()


# --- the loop: one run per method, recording f after every iteration ----------------------
runs = {}
for name in ("Newton", "gradient descent", "L-BFGS"):
    # .copy(): a Tensor made from a NumPy array shares its memory, and step() updates in place
    w = tg.tensor(w_start.copy(), device=args.device, requires_grad=True)
    b = tg.tensor(b_start.copy(), device=args.device, requires_grad=True)
    if name == "Newton":
        optimizer = optim.Newton([w, b], lr=1.0)
    elif name == "L-BFGS":
        optimizer = optim.LBFGS([w, b], lr=1.0, max_iter=1, history_size=20,
                                line_search_fn="strong_wolfe")
    else:
        optimizer = optim.SGD([w, b], lr=1.0 / L)
    evaluations = [0]

    def closure():
        evaluations[0] += 1
        optimizer.zero_grad()
        loss = objective(w, b)
        loss.backward()
        return loss

    with tg.no_grad():
        values, times, calls = [objective(w, b).item()], [0.0], [0]
    started = time.perf_counter()
    for iteration in range(MAX_ITERATIONS[name]):
        optimizer.step(closure)
        times.append(time.perf_counter() - started)
        calls.append(evaluations[0])
        with tg.no_grad():
            values.append(objective(w, b).item())
    runs[name] = dict(values=np.array(values), times=np.array(times), calls=calls)

# --- results -------------------------------------------------------------------------------
f_star = min(run["values"].min() for run in runs.values())


def shown(gap):
    """A gap under 1e-15 is float64 rounding of f (f* is about 1e-2): the digits of such a
    gap differ from machine to machine (summation order), so the table does not print them."""
    return "< 1e-15" if gap < 1e-15 else gap


rows, seconds = [], []
for name, run in runs.items():
    gap = run["values"] - f_star
    reached = np.flatnonzero(gap < TOLERANCE)
    if reached.size:
        first = reached[0]
        rows.append([name, first, run["calls"][first], shown(gap[-1])])
        seconds.append(f"{name} {run['times'][first]:.3g} s")
    else:
        rows.append([name, f"not in {len(gap) - 1}", run["calls"][-1], shown(gap[-1])])
        seconds.append(f"{name} > {run['times'][-1]:.3g} s")
print(f"logistic regression, digit 3 vs 8: {len(y)} samples, {X.shape[1] + 1} parameters, "
      f"lambda {LAMBDA}, f* = {f_star:.12f}, gradient-descent step 1/L = {1 / L:.4g}, "
      f"seed {args.seed}")
print(format_table(["method", f"iterations to f-f* < {TOLERANCE:g}", "closure calls",
                    "final f - f*"], rows))
print(f"wall time to f-f* < {TOLERANCE:g}: " + ", ".join(seconds))
print("(Newton's closure calls are its gradients; each iteration also builds the "
      f"{X.shape[1] + 1}x{X.shape[1] + 1} Hessian: {X.shape[1] + 1} more backward passes)")

# --- the mini-batch half: L-BFGS with noisy gradients vs the full batch --------------------
MINI_BATCHES = (128, 32)
EPOCH_BUDGET = 20 if args.quick else 100              # examples read: EPOCH_BUDGET x N
MINI_TARGET = 1e-4
MINI_RUNS = {"L-BFGS, full batch": (optim.LBFGS, len(y))}
MINI_RUNS.update({f"L-BFGS, batch {size}": (optim.LBFGS, size) for size in MINI_BATCHES})
MINI_RUNS[f"SGD (step 1/L), batch {MINI_BATCHES[-1]}"] = (optim.SGD, MINI_BATCHES[-1])
mini_runs, mini_rows = {}, []
for name, (method, size) in MINI_RUNS.items():
    w = tg.tensor(w_start.copy(), device=args.device, requires_grad=True)
    b = tg.tensor(b_start.copy(), device=args.device, requires_grad=True)
    if method is optim.LBFGS:
        optimizer = optim.LBFGS([w, b], lr=1.0, max_iter=1, history_size=20,
                                line_search_fn="strong_wolfe")
    else:
        optimizer = optim.SGD([w, b], lr=1.0 / L)
    batches = np.random.default_rng(args.seed)           # the same batch order for every run
    order, position, read, steps = batches.permutation(len(y)), 0, 0, 0
    with tg.no_grad():
        read_curve, gap_curve = [0], [objective(w, b).item() - f_star]
    while read < EPOCH_BUDGET * len(y):
        if position + size > len(y):                     # a new epoch: a new permutation
            order, position = batches.permutation(len(y)), 0
        pick = order[position:position + size]
        position += size
        xb, tb = features[pick], targets[pick]
        calls = [0]

        def closure():
            calls[0] += 1
            optimizer.zero_grad()
            loss = objective(w, b, xb, tb)
            loss.backward()
            return loss

        optimizer.step(closure)
        read += calls[0] * size
        steps += 1
        with tg.no_grad():
            gap = objective(w, b).item() - f_star
        read_curve.append(read)
        gap_curve.append(gap)
        if not np.isfinite(gap):
            break
    gaps = np.array(gap_curve)
    below = np.flatnonzero(gaps < MINI_TARGET)
    mini_runs[name] = dict(read=np.array(read_curve) / len(y), gaps=gaps)
    mini_rows.append([name, steps, f"{read / len(y):.1f}", shown(gaps[-1]),
                      shown(np.nanmin(gaps)), f"{read_curve[below[0]] / len(y):.3g}" if below.size else "not reached"])
print(f"\nThe mini-batch half: a budget of {EPOCH_BUDGET} epochs of examples read per run "
      f"(closure calls x batch size); f - f* of the full objective")
print(format_table(["method", "steps", "epochs read", "final f - f*", "best f - f*",
                    f"epochs read to f-f* < {MINI_TARGET:g}"], mini_rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    gaps = {name: np.maximum(run["values"] - f_star, 1e-16) for name, run in runs.items()}
    print("wrote " + viz.plot_curves(gaps, os.path.join(args.plot, "second_order.png"),
                                     xlabel="iteration", ylabel="f - f*", logy=True,
                                     title="f - f* per iteration (floored at 1e-16)"))
    mini = {name: np.maximum(run["gaps"], 1e-16) for name, run in mini_runs.items()}
    print("wrote " + viz.plot_curves(mini, os.path.join(args.plot, "second_order_minibatch.png"),
                                     x={name: run["read"] for name, run in mini_runs.items()},
                                     xlabel="examples read (epochs)", ylabel="f - f*",
                                     logy=True, title="L-BFGS: full batch vs mini-batches"))
else:
    print(viz.PLOT_HINT)
