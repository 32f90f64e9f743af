"""Experiment 5: dying ReLUs at a large learning rate.

Claim (lecture notes, "ReLU 的缺点"): ReLU units are fragile in training: after a
large gradient step a unit can end up with a negative input for every example, and
then it never activates (nor learns) again. "If your learning rate is large, as
much as 40% of the network's neurons may be dead"; with a suitably small learning
rate this happens rarely. LeakyReLU, PReLU and ELU keep a gradient for negative
inputs, so their units cannot die.

A unit counts as dead when its pre-activation is <= 0 for every one of the training
samples (measured with diagnostics.Monitor on one forward pass over the whole
training set). For LeakyReLU/PReLU/ELU the same count is reported, but those units
still receive a gradient (slope 0.01, the learned slope, α·eˣ) and can come back.

Every run: MLP 64-128-128-10, the same initial weights and batches, plain SGD (no
momentum), a learning rate from LEARNING_RATES; the grid was fixed before running.

    python examples/dead_relu.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import math
import os

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn, optim, viz
from tinygrad_opt.data import DataLoader, TensorDataset, standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import Monitor, format_table

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="dying ReLUs at a large learning rate")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true",
                    help="only ReLU and LeakyReLU at lr 0.01 and 1 (runs of the full grid)")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

EPOCHS, BATCH_SIZE, HIDDEN = 5, 32, 128
LEARNING_RATES = (0.01, 1.0) if args.quick else (0.01, 0.1, 0.3, 1.0)
ACTIVATIONS = {"ReLU": nn.ReLU, "LeakyReLU": nn.LeakyReLU, "PReLU": nn.PReLU, "ELU": nn.ELU}
if args.quick:
    ACTIVATIONS = {"ReLU": nn.ReLU, "LeakyReLU": nn.LeakyReLU}

# --- data: digits, 80% train / 20% test, standardized --------------------------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))        # the same split for every seed
test_index, train_index = order[:len(y) // 5], order[len(y) // 5:]
X_train, X_test, _ = standardize(X[train_index], X[test_index])
y_train, y_test = y[train_index], y[test_index]
all_x = tg.tensor(X_train, device=args.device)
test_x = tg.tensor(X_test, device=args.device)


def make_model(activation):
    return nn.Sequential(nn.Linear(64, HIDDEN), activation(), nn.Linear(HIDDEN, HIDDEN),
                         activation(), nn.Linear(HIDDEN, 10))


def dead_fraction(model):
    """Fraction of hidden units (both layers together) off for every training sample."""
    with Monitor(model) as monitor, tg.no_grad():
        model(all_x)                                  # one forward over the training set
        monitor.record()
        return float(np.mean(monitor.dead_fractions[0]))


# --- the loop: every activation at every learning rate, same start ------------------------
tg.manual_seed(args.seed)
initial = {name: {k: v.numpy().copy() for k, v in make_model(activation).to(args.device)
                  .state_dict().items()} for name, activation in ACTIVATIONS.items()}
dead, rows = {}, []
for name, activation in ACTIVATIONS.items():
    dead[name] = {}
    for lr in LEARNING_RATES:
        model = make_model(activation).to(args.device)
        model.load_state_dict(initial[name])
        dead_at_init = dead_fraction(model)
        optimizer = optim.SGD(model.parameters(), lr=lr)
        loader = DataLoader(TensorDataset(X_train, y_train), batch_size=BATCH_SIZE,
                            shuffle=True, seed=args.seed, device=args.device)
        for epoch in range(EPOCHS):
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
        with tg.no_grad():
            final_loss = F.cross_entropy(model(all_x), tg.tensor(y_train, device=args.device))
            accuracy = float((model(test_x).argmax(1).numpy() == y_test).mean())
        final_loss = final_loss.item()
        diverged = not math.isfinite(final_loss)
        dead[name][f"lr {lr:g}"] = math.nan if diverged else dead_fraction(model)
        rows.append([name, lr, f"{100 * dead_at_init:.1f}%",
                     "diverged" if diverged else f"{100 * dead[name][f'lr {lr:g}']:.1f}%",
                     final_loss, accuracy])

# --- results -------------------------------------------------------------------------------
print(f"MLP 64-{HIDDEN}-{HIDDEN}-10, plain SGD, {EPOCHS} epochs, batch {BATCH_SIZE}, "
      f"{len(y_train)} training samples, seed {args.seed}")
print(format_table(["activation", "lr", "dead at init", "dead after training",
                    "train loss", "test acc"], rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    percent = {name: {lr: 100 * value for lr, value in values.items()}
               for name, values in dead.items()}
    print("wrote " + viz.plot_bars(percent, os.path.join(args.plot, "dead_relu.png"),
                                   ylabel="% of hidden units dead on the training set",
                                   title="dead units after training, by learning rate"))
else:
    print(viz.PLOT_HINT)
