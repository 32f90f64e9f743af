"""Experiment 17: Bayesian optimisation vs random search at the same budget.

Claim (lecture notes, "贝叶斯超参数最优化"): Bayesian optimisation spends a little
computation between trials to choose the next configuration, trading exploitation
(near the best so far) against exploration, so with the same number of trials it
finds better hyperparameters than random search.

Both searches tune the digits MLP's learning rate (loguniform(1e-5, 1)) and weight
decay (loguniform(1e-7, 1e-1)) for Adam, minimising the validation loss after a
few epochs. tune.bayes_search: a Gaussian process (Matern 5/2) with expected
improvement after 3 random trials. Reported: the best validation loss after
each trial, averaged over seeds.

    python examples/bayes_vs_random.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os

import numpy as np

import tinygrad_opt as tg
from tinygrad_opt import nn, optim, tune, viz
from tinygrad_opt.data import DataLoader, TensorDataset, standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.train import fit

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="Bayesian vs random search")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="fewer trials, seeds and epochs")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
args = parser.parse_args()

TRIALS = 12 if args.quick else 20
SEEDS = 3 if args.quick else 6
EPOCHS = 2 if args.quick else 4
SPACE = {"lr": tune.loguniform(1e-5, 1.0), "weight_decay": tune.loguniform(1e-7, 1e-1)}

# --- data: digits, 60% train / 20% validation / 20% test, standardized ---------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))        # the same split for every seed
n = len(y) // 5
test_index, val_index, train_index = order[:n], order[n:2 * n], order[2 * n:]
X_train, X_val, X_test, _ = standardize(X[train_index], X[val_index], X[test_index])
y_train, y_val = y[train_index], y[val_index]


# --- model and objective: validation loss of the MLP after EPOCHS epochs of Adam -----------
def objective(params):
    tg.manual_seed(params["seed"])
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=params["lr"],
                           weight_decay=params["weight_decay"])
    train = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True,
                       seed=params["seed"], device=args.device)
    val = DataLoader(TensorDataset(X_val, y_val), batch_size=1024, device=args.device)
    history = fit(model, optimizer, nn.CrossEntropyLoss(), train, val, epochs=EPOCHS,
                  progress=False)
    return {"value": history["val_loss"][-1], "val_accuracy": history["val_accuracy"][-1]}


def best_so_far(result):
    """Best (lowest) value after each trial; a failed trial changes nothing."""
    values = [t.value if t.ok else np.inf for t in result.trials]
    return np.minimum.accumulate(values)


# --- the loop: both searches, the same trials budget, several seeds ------------------------
curves = {"random": [], "bayes": []}
for seed in range(args.seed, args.seed + SEEDS):
    space = dict(SPACE, seed=seed)
    curves["random"].append(best_so_far(tune.random_search(objective, space, n_trials=TRIALS,
                                                           seed=seed)))
    curves["bayes"].append(best_so_far(tune.bayes_search(objective, space, n_trials=TRIALS,
                                                         seed=seed)))
mean = {name: np.mean(values, axis=0) for name, values in curves.items()}     # (TRIALS,)

# --- results -------------------------------------------------------------------------------
checkpoints = sorted({3, 5, TRIALS // 2, TRIALS})
rows = [[k, float(mean["random"][k - 1]), float(mean["bayes"][k - 1]),
         sum(b[k - 1] < r[k - 1] for r, b in zip(curves["random"], curves["bayes"]))]
        for k in checkpoints]
print(f"Digits MLP 64-64-10, Adam {EPOCHS} epochs; best validation loss after k trials, "
      f"mean over {SEEDS} seeds from {args.seed}")
print(format_table(["trials k", "random", "bayes", f"seeds bayes better (of {SEEDS})"], rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    plotted = {f"{name} val_loss": list(values) for name, values in mean.items()}
    print("wrote " + viz.plot_curves(plotted, os.path.join(args.plot, "bayes_vs_random.png"),
                                     xlabel="trial", ylabel="best validation loss so far",
                                     logy=True,
                                     title="best validation loss so far (mean over seeds)"))
else:
    print(viz.PLOT_HINT)
