"""Experiment 3: the same optimizers training an MLP on the digits.

Claims (lecture notes, "参数更新", "逐参数适应学习率方法"): momentum and Nesterov
train faster than plain SGD at the same learning rate; the adaptive methods
(Adagrad, RMSprop, Adam) need little tuning and "Adam is the recommended
default"; L-BFGS works well when the whole training set fits in one batch.

Every optimizer trains the same network from the same initial weights on the same
batches. The learning rates are the command line's defaults (tinygrad-opt train),
not tuned here. Newton is left out: this MLP has 9,610 parameters, so its Hessian
would have 92 million entries (optim.Newton refuses above 2,000 parameters).

    python examples/optimizers_mlp.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
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
parser = argparse.ArgumentParser(description="optimizers on the digits MLP")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="3 epochs on 400 samples")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

EPOCHS = 3 if args.quick else 20
TRAIN_SAMPLES = 400 if args.quick else None
BATCH_SIZE = 32
HIDDEN = 128
OPTIMIZERS = {             # name: (class, keyword arguments)
    "SGD": (optim.SGD, dict(lr=0.05)),
    "Momentum": (optim.SGD, dict(lr=0.05, momentum=0.9)),
    "Nesterov": (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    "Adagrad": (optim.Adagrad, dict(lr=0.03)),
    "RMSprop": (optim.RMSprop, dict(lr=1e-3)),
    "Adam": (optim.Adam, dict(lr=1e-3)),
    # full batch: one "epoch" is one step() of up to 10 iterations on all training samples
    "L-BFGS (full batch)": (optim.LBFGS, dict(lr=1.0, max_iter=10, history_size=20,
                                              line_search_fn="strong_wolfe")),
}

# --- data: the shipped 8x8 digits, 80% train / 20% test, standardized ----------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))        # the same split for every seed
test_index, train_index = order[:len(y) // 5], order[len(y) // 5:]
train_index = train_index[:TRAIN_SAMPLES]
X_train, X_test, _ = standardize(X[train_index], X[test_index])
y_train, y_test = y[train_index], y[test_index]
X_all = tg.tensor(X_train, device=args.device)
y_all = tg.tensor(y_train, device=args.device)
X_test_t = tg.tensor(X_test, device=args.device)


def make_model():
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))


def test_accuracy(model):
    with tg.no_grad():
        return float((model(X_test_t).argmax(1).numpy() == y_test).mean())


# --- the loop: one run per optimizer, same initial weights and batch order ----------------
tg.manual_seed(args.seed)
initial = {key: value.numpy().copy() for key, value in make_model().to(args.device)
           .state_dict().items()}
curves, rows, seconds = {}, [], {}
for name, (optimizer_class, kwargs) in OPTIMIZERS.items():
    model = make_model().to(args.device)
    model.load_state_dict(initial)
    optimizer = optimizer_class(model.parameters(), **kwargs)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=BATCH_SIZE, shuffle=True,
                        seed=args.seed, device=args.device)
    losses, accuracies, started = [], [], time.perf_counter()
    for epoch in range(EPOCHS):
        if optimizer_class is optim.LBFGS:
            def closure():
                optimizer.zero_grad()
                loss = F.cross_entropy(model(X_all), y_all)
                loss.backward()
                return loss
            optimizer.step(closure)
            with tg.no_grad():
                losses.append(F.cross_entropy(model(X_all), y_all).item())
        else:
            total = 0.0
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                optimizer.step()
                total += loss.item() * yb.shape[0]
            losses.append(total / len(y_train))
        accuracies.append(test_accuracy(model))
    curves[f"{name} train_loss"] = losses
    curves[f"{name} test_accuracy"] = accuracies
    best_epoch = int(np.argmax(accuracies)) + 1
    rows.append([name, losses[0], losses[-1], accuracies[-1], f"{max(accuracies):.4f} "
                 f"(epoch {best_epoch})"])
    seconds[name] = time.perf_counter() - started

# --- results -------------------------------------------------------------------------------
print(f"digits MLP 64-{HIDDEN}-10 (ReLU), {len(y_train)} training / {len(y_test)} test "
      f"samples, {EPOCHS} epochs, batch {BATCH_SIZE}, seed {args.seed}")
print(format_table(["optimizer", "loss epoch 1", "final train loss", "final test acc",
                    "best test acc"], rows))
print("wall time: " + ", ".join(f"{name} {value:.3g} s" for name, value in seconds.items()))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot, "optimizers_mlp.png"),
                                     logy=True, title="digits MLP: training loss and "
                                     "test accuracy per epoch"))
else:
    print(viz.PLOT_HINT)
