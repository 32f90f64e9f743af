"""Experiment 16: coarse-to-fine search on the digits MLP.

Claim (lecture notes, "从粗到细"): first try many short trials (one epoch) on wide
ranges, then narrow the ranges around the good results and train longer, and
finish with a few long runs. The ranges shrink (in log space for the learning
rate and weight decay) and the last stage's trials are good ones.

Three stages with growing epochs; after each stage tune.narrow_space shrinks the
ranges around the 3 best trials. For comparison, a random search on the wide
ranges with the same total number of epochs, every trial at the final length.

    python examples/coarse_to_fine.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
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
from tinygrad_opt.train import evaluate, fit

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="coarse-to-fine search")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="fewer trials and epochs")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
args = parser.parse_args()

if args.quick:
    STAGES = [{"n_trials": 12, "budget": 1}, {"n_trials": 6, "budget": 2},
              {"n_trials": 3, "budget": 4}]
else:
    STAGES = [{"n_trials": 30, "budget": 1}, {"n_trials": 10, "budget": 5},
              {"n_trials": 5, "budget": 15}]
FINAL_EPOCHS = STAGES[-1]["budget"]
TOTAL_EPOCHS = sum(stage["n_trials"] * stage["budget"] for stage in STAGES)
SPACE = {"lr": tune.loguniform(1e-5, 1.0), "weight_decay": tune.loguniform(1e-7, 1e-1),
         "seed": args.seed}

# --- data: digits, 60% train / 20% validation / 20% test, standardized ---------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))        # the same split for every seed
n = len(y) // 5
test_index, val_index, train_index = order[:n], order[n:2 * n], order[2 * n:]
X_train, X_val, X_test, _ = standardize(X[train_index], X[val_index], X[test_index])
y_train, y_val, y_test = y[train_index], y[val_index], y[test_index]


# --- model and objective: the MLP trained with Adam for params['budget'] epochs -------------
def objective(params):
    tg.manual_seed(params["seed"])
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=params["lr"],
                           weight_decay=params["weight_decay"])
    train = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True,
                       seed=params["seed"], device=args.device)
    val = DataLoader(TensorDataset(X_val, y_val), batch_size=1024, device=args.device)
    test = DataLoader(TensorDataset(X_test, y_test), batch_size=1024, device=args.device)
    history = fit(model, optimizer, nn.CrossEntropyLoss(), train, val,
                  epochs=params.get("budget", FINAL_EPOCHS), progress=False)
    return {"value": history["val_accuracy"][-1],
            "test_accuracy": evaluate(model, test)["accuracy"]}


# --- the loop: coarse-to-fine, then random search with the same number of epochs -----------
result = tune.coarse_to_fine(objective, SPACE, STAGES, seed=args.seed, mode="max")
baseline = tune.random_search(objective, SPACE, n_trials=TOTAL_EPOCHS // FINAL_EPOCHS,
                              seed=args.seed, mode="max")


# --- results -------------------------------------------------------------------------------
def decades(dist):
    """Width of a log-uniform range in decades."""
    return math.log10(dist.hi / dist.lo)


def span(dist):
    return f"{dist.lo:.2g}..{dist.hi:.2g}"


rows = []
for index, (stage, space) in enumerate(zip(STAGES, result.spaces)):
    trials = [t for t in result.trials if t.stage == index and t.ok]
    values = [t.value for t in trials]
    rows.append([index + 1, stage["n_trials"], stage["budget"], span(space["lr"]),
                 decades(space["lr"]), span(space["weight_decay"]),
                 decades(space["weight_decay"]), 100 * float(np.mean(values)),
                 100 * max(values)])
print(f"Coarse to fine on the digits MLP 64-64-10 (Adam), seed {args.seed}, "
      f"{TOTAL_EPOCHS} epochs in all")
print(format_table(["stage", "trials", "epochs", "lr range", "lr decades", "wd range",
                    "wd decades", "mean val acc %", "best val acc %"], rows))
print()
rows = []
for name, res in (("coarse-to-fine", result), ("random, final length", baseline)):
    best = res.best
    rows.append([name, len(res.trials), f"{best.params['lr']:.3g}",
                 f"{best.params['weight_decay']:.3g}", 100 * best.value,
                 100 * best.extras["test_accuracy"]])
print(f"Best configuration, same total of {TOTAL_EPOCHS} epochs, {FINAL_EPOCHS} epochs "
      "for the final trials")
print(format_table(["search", "trials", "best lr", "best wd", "val acc %", "test acc %"], rows))
for warning in result.warnings:
    print("(warning) " + warning)
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    curves = {f"stage {i + 1}": sorted((t.value for t in result.trials if t.stage == i and t.ok),
                                       reverse=True) for i in range(len(STAGES))}
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot, "coarse_to_fine.png"),
                                     xlabel="trial rank in its stage",
                                     ylabel="validation accuracy",
                                     title="validation accuracy of each stage's trials"))
else:
    print(viz.PLOT_HINT)
