"""Experiment 15: random search vs grid search at the same budget.

Claim (lecture notes, "随机搜索优于网格搜索"): usually only a few hyperparameters
matter. A grid of n trials over d parameters tries only n^(1/d) distinct values
of the one that matters; random search tries n, so it finds a better value.

Part 1, a cheap synthetic objective where only x matters:
    f(x, y) = (log10 x + 2.3)^2 + 0·y,  x ~ loguniform(1e-5, 1), y ~ uniform(0, 1)
16 trials per search (grid 4 x 4), repeated over 20 seeds.
Part 2, the digits MLP (Adam, a few epochs): lr matters, a tiny weight decay
(loguniform(1e-8, 1e-6)) does not; 9 trials per search (grid 3 x 3), several seeds.

    python examples/random_vs_grid.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import math
import os

import numpy as np

import tinygrad_opt as tg
from tinygrad_opt import nn, optim, tune, viz
from tinygrad_opt.data import DataLoader, TensorDataset, standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.train import fit

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="random vs grid search")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="fewer seeds and epochs")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
args = parser.parse_args()

SYNTHETIC_TRIALS, SYNTHETIC_SEEDS = 16, 20
DIGITS_TRIALS = 9
DIGITS_SEEDS = 2 if args.quick else 4
EPOCHS = 2 if args.quick else 4
TARGET = -2.3                                    # the best log10(x) of the synthetic objective


def synthetic(params):
    """Only x matters: (log10 x − TARGET)²; y is ignored."""
    return (math.log10(params["x"]) - TARGET) ** 2


synthetic_space = {"x": tune.loguniform(1e-5, 1.0), "y": tune.uniform(0.0, 1.0)}

# --- data: digits, 60% train / 20% validation / 20% test, standardized ---------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))        # the same split for every seed
n = len(y) // 5
test_index, val_index, train_index = order[:n], order[n:2 * n], order[2 * n:]
X_train, X_val, X_test, _ = standardize(X[train_index], X[val_index], X[test_index])
y_train, y_val = y[train_index], y[val_index]


# --- model and objective: validation accuracy of the MLP after EPOCHS epochs of Adam -------
def digits_objective(params):
    tg.manual_seed(params["seed"])
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=params["lr"],
                           weight_decay=params["weight_decay"])
    train = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True,
                       seed=params["seed"], device=args.device)
    val = DataLoader(TensorDataset(X_val, y_val), batch_size=1024, device=args.device)
    history = fit(model, optimizer, nn.CrossEntropyLoss(), train, val, epochs=EPOCHS,
                  progress=False)
    return history["val_accuracy"][-1]


# --- the loop: the same budget for both searches, several seeds ----------------------------
synthetic_best = {"grid": [], "random": []}
distinct = {}
for seed in range(args.seed, args.seed + SYNTHETIC_SEEDS):
    for name, search in (("grid", tune.grid_search), ("random", tune.random_search)):
        result = search(synthetic, synthetic_space, n_trials=SYNTHETIC_TRIALS, seed=seed)
        synthetic_best[name].append(result.best.value)
        distinct[name] = len({t.params["x"] for t in result.trials})

digits_space = {"lr": tune.loguniform(1e-4, 1.0), "weight_decay": tune.loguniform(1e-8, 1e-6)}
digits_best = {"grid": [], "random": []}
for seed in range(args.seed, args.seed + DIGITS_SEEDS):
    space = dict(digits_space, seed=seed)        # the seed also seeds the training runs
    for name, search in (("grid", tune.grid_search), ("random", tune.random_search)):
        result = search(digits_objective, space, n_trials=DIGITS_TRIALS, seed=seed, mode="max")
        digits_best[name].append(result.best.value)
        distinct[f"digits {name}"] = len({t.params["lr"] for t in result.trials})

# --- results -------------------------------------------------------------------------------
rows = []
for name in ("grid", "random"):
    errors = np.array(synthetic_best[name])
    rows.append([name, distinct[name], float(errors.mean()), float(np.median(errors)),
                 float(errors.max())])
print(f"Synthetic: f = (log10 x + 2.3)^2, only x matters; {SYNTHETIC_TRIALS} trials, "
      f"{SYNTHETIC_SEEDS} seeds from {args.seed}")
print(format_table(["search", "distinct x", "mean best f", "median best f", "worst best f"],
                   rows))
print()
rows = []
for name in ("grid", "random"):
    accuracies = 100 * np.array(digits_best[name])
    rows.append([name, distinct[f"digits {name}"], f"{accuracies.mean():.2f}%",
                 f"{accuracies.min():.2f}%", f"{accuracies.max():.2f}%"])
print(f"Digits MLP 64-64-10, Adam {EPOCHS} epochs: lr matters, weight decay (1e-8..1e-6) "
      f"does not; {DIGITS_TRIALS} trials, {DIGITS_SEEDS} seeds from {args.seed}")
print(format_table(["search", "distinct lr", "mean best val acc", "min", "max"], rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    bars = {name: float(np.mean(values)) for name, values in synthetic_best.items()}
    print("wrote " + viz.plot_bars(bars, os.path.join(args.plot, "random_vs_grid.png"),
                                   ylabel="mean best f (lower is better)",
                                   title="random vs grid, 16 trials, only x matters"))
else:
    print(viz.PLOT_HINT)
