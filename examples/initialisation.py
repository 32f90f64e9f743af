"""Experiment: weight initialisation in 10-layer tanh and ReLU nets.

Claim (lecture notes, initialisation as a remedy for vanishing/exploding
gradients; the classic CS231n plot): with weights too small (N(0, 0.01²)) the
activations shrink layer after layer towards 0, and so do the gradients; with
weights too large (N(0, 1)) tanh units saturate at ±1 and ReLU activations blow
up. Xavier initialisation (Var W = 2/(fan_in + fan_out), Glorot & Bengio 2010)
keeps the activations' scale through tanh layers and He initialisation
(Var W = 2/fan_in, He et al. 2015) through ReLU layers, and those nets train.

Models: 10 hidden Linear layers of width WIDTH, each followed by tanh or ReLU,
then Linear(WIDTH, 10); biases 0. Four initialisations of every weight:
N(0, 0.01²), N(0, 1), Xavier normal (gain 1) and He normal (fan_in, gain √2).
1. One forward pass over the standardized training digits: the mean and
   standard deviation of every hidden layer's activations.
2. Training: SGD (lr 0.01, momentum 0.9), EPOCHS epochs of batch 64, the same
   batches for every model; final training loss and test accuracy ("trains"
   means a test accuracy above 50%; chance is 10%). The grid was fixed before
   running.

    python examples/initialisation.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import json
import math
import os
import time

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn, optim, viz
from tinygrad_opt.data import DataLoader, TensorDataset, standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="weight initialisation in deep tanh/ReLU nets")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="width 64, 2 epochs: the test's run")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
args = parser.parse_args()

DEPTH = 10                                  # hidden layers
WIDTH = 64 if args.quick else 256
EPOCHS = 2 if args.quick else 5
LR, MOMENTUM, BATCH_SIZE = 0.01, 0.9, 64
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
INITS = {
    "N(0, 0.01^2)": lambda w: nn.init.normal_(w, 0.0, 0.01),
    "N(0, 1)": lambda w: nn.init.normal_(w, 0.0, 1.0),
    "Xavier": lambda w: nn.init.xavier_normal_(w),                        # 2/(in+out)
    "He": lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"),  # 2/in
}

# --- data: digits, 80% train / 20% test, standardized --------------------------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))          # the same split for every seed
test_index, train_index = order[:len(y) // 5], order[len(y) // 5:]
X_train, X_test, _ = standardize(X[train_index], X[test_index])
y_train, y_test = y[train_index], y[test_index]
train_x = tg.tensor(X_train, device=args.device)
test_x = tg.tensor(X_test, device=args.device)


# --- model -----------------------------------------------------------------------------------
def make_model(activation, init):
    tg.manual_seed(args.seed)
    layers = []
    for index in range(DEPTH):
        layers += [nn.Linear(64 if index == 0 else WIDTH, WIDTH), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(WIDTH, 10))
    model = nn.Sequential(*layers)
    for layer in model:
        if isinstance(layer, nn.Linear):
            INITS[init](layer.weight)
            nn.init.zeros_(layer.bias)
    return model.to(args.device)


def activation_statistics(model):
    """Mean and std of every hidden layer's output (after the nonlinearity)."""
    means, stds = [], []
    with tg.no_grad():
        h = train_x
        for layer in model:
            h = layer(h)
            if not isinstance(layer, nn.Linear):
                means.append(h.mean().item())
                stds.append(h.std(correction=0).item())
    return means, stds


def train(model):
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=BATCH_SIZE, shuffle=True,
                        seed=args.seed, device=args.device)
    for epoch in range(EPOCHS):
        for x, target in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), target)
            loss.backward()
            optimizer.step()
    with tg.no_grad():
        final_loss = F.cross_entropy(model(train_x), tg.tensor(y_train, device=args.device))
        accuracy = float((model(test_x).argmax(1).numpy() == y_test).mean())
    return final_loss.item(), accuracy


# --- the loop: every activation with every initialisation ---------------------------------
start = time.perf_counter()
results = []
with np.errstate(all="ignore"):  # N(0, 1) ReLU nets overflow on purpose
    for activation in ACTIVATIONS:
        for init in INITS:
            model = make_model(activation, init)
            means, stds = activation_statistics(model)
            final_loss, accuracy = train(model)
            results.append({"activation": activation, "init": init, "means": means,
                            "stds": stds, "final_loss": final_loss, "accuracy": accuracy})
seconds = time.perf_counter() - start

# --- results -------------------------------------------------------------------------------
print(f"{DEPTH} hidden layers of width {WIDTH}, SGD lr {LR} momentum {MOMENTUM}, {EPOCHS} "
      f"epochs of batch {BATCH_SIZE}, {len(y_train)} training digits, seed {args.seed}, "
      f"device {args.device}")
layers = [f"L{index + 1}" for index in range(DEPTH)]
print("\nstd of each hidden layer's activations at initialisation:")
print(format_table(["net", "init"] + layers,
                   [[r["activation"], r["init"]] + [f"{s:.2g}" for s in r["stds"]]
                    for r in results]))
print("\nmean of each hidden layer's activations at initialisation:")
print(format_table(["net", "init"] + layers,
                   [[r["activation"], r["init"]] + [f"{m:.2g}" for m in r["means"]]
                    for r in results]))
print("\nafter training:")
print(format_table(["net", "init", "train loss", "test acc", "trains"],
                   [[r["activation"], r["init"],
                     f"{r['final_loss']:.3g}" if math.isfinite(r["final_loss"]) else "nan",
                     f"{r['accuracy']:.1%}", "yes" if r["accuracy"] > 0.5 else "no"]
                    for r in results]))
print(f"\nwall time: {seconds:.1f} s")
if args.json:
    with open(args.json, "w") as file:
        json.dump({"results": results, "seconds": seconds}, file, indent=1)
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    curves = {f"{r['activation']} {r['init']}": [max(s, 1e-30) for s in r["stds"]]
              for r in results}
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot, "initialisation.png"),
                                     title="activation std per hidden layer at init",
                                     xlabel="hidden layer", ylabel="activation std",
                                     logy=True))
else:
    print(viz.PLOT_HINT)
