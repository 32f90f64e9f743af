"""Experiment: SGD with one example, a mini-batch, or the whole training set per step.

Claims (lecture notes, "SGD、Batch GD、Mini-batch GD"): batch gradient descent
computes the exact gradient of the training loss, but each step costs a pass over the
whole data, so it makes few steps for the examples it reads; stochastic gradient
descent (one example per step) makes one step per example, fast but noisy: its loss
jumps around and it does not settle exactly at the minimum; mini-batch gradient
descent sits in between, and with vectorised code it costs hardly more per step than
one example, so it is what everyone uses.

Setup: the digits MLP 64-64-10 (ReLU), the same initial weights, plain SGD (no
momentum) at the same learning rate LR for every batch size in BATCH_SIZES (the last
one is the whole training set), each run reading the same budget of EPOCHS epochs of
examples. Measured:

* the loss on the whole training set against the examples read (every half epoch)
  and against the training wall time (the evaluations are not timed);
* the examples read until the training loss first falls below TARGET;
* the noise of the gradient at the initial weights: the mean of
  ‖g_B − g‖² / ‖g‖² over NOISE_DRAWS random batches of B examples (g: the full
  gradient); for sampling without replacement it is about (1/B − 1/N)·tr(Σ)/‖g‖²;
* the noise of the trajectory: how many of the half-epoch checkpoints show a
  training loss *higher* than the one before.

The settings (LR, TARGET, the batch sizes) were fixed before the first run.

    python examples/batch_sizes.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
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
parser = argparse.ArgumentParser(description="SGD: batch 1 vs mini-batch vs full batch")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0, help="initial weights and batch order")
parser.add_argument("--quick", action="store_true", help="512 training samples, 3 epochs")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

LR, HIDDEN = 0.05, 64
EPOCHS = 3 if args.quick else 20               # the budget: EPOCHS x (training set) examples
TRAIN_SAMPLES = 512 if args.quick else None    # None: the whole training split (1438 digits)
TARGET = 0.3                                   # training loss to reach
NOISE_DRAWS = 50

# --- data: digits, 80% train / 20% test, standardized --------------------------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))          # the same split for every seed
test_index, train_index = order[:len(y) // 5], order[len(y) // 5:]
if TRAIN_SAMPLES is not None:
    train_index = train_index[:TRAIN_SAMPLES]
X_train, X_test, _ = standardize(X[train_index], X[test_index])
y_train, y_test = y[train_index], y[test_index]
N = len(y_train)
BATCH_SIZES = (1, 8, 32, 128, N)
all_x, all_y = tg.tensor(X_train, device=args.device), tg.tensor(y_train, device=args.device)
test_x = tg.tensor(X_test, device=args.device)


def make_model():
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))


def train_loss(model):
    with tg.no_grad():
        return F.cross_entropy(model(all_x), all_y).item()


def gradient(model, x, y):
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])


tg.manual_seed(args.seed)
initial = {key: value.numpy().copy() for key, value in make_model().state_dict().items()}


def fresh_model():
    model = make_model().to(args.device)
    model.load_state_dict(initial)
    return model


# --- gradient noise at the initial weights, per batch size ---------------------------------
rng = np.random.default_rng(args.seed)
model = fresh_model()
full_gradient = gradient(model, all_x, all_y)
noise = {}
for batch_size in BATCH_SIZES[:-1]:                    # the full batch has no noise: 0
    draws = []
    for _ in range(NOISE_DRAWS):
        pick = rng.choice(N, size=batch_size, replace=False)
        g = gradient(model, tg.tensor(X_train[pick], device=args.device),
                     tg.tensor(y_train[pick], device=args.device))
        draws.append(np.sum((g - full_gradient) ** 2) / np.sum(full_gradient ** 2))
    noise[batch_size] = float(np.mean(draws))
noise[N] = 0.0

# --- the loop: the same budget of examples for every batch size ----------------------------
runs = {}
for batch_size in BATCH_SIZES:
    model = fresh_model()
    optimizer = optim.SGD(model.parameters(), lr=LR)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True,
                        seed=args.seed, device=args.device)
    seen, seconds, steps = 0, 0.0, 0
    checkpoints = [(0, 0.0, train_loss(model))]         # (examples read, seconds, loss)
    next_checkpoint = N / 2
    for epoch in range(EPOCHS):
        for xb, yb in loader:
            started = time.perf_counter()
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            seconds += time.perf_counter() - started
            seen += yb.shape[0]
            steps += 1
            if seen >= next_checkpoint:                  # every half epoch (not timed)
                checkpoints.append((seen, seconds, train_loss(model)))
                while next_checkpoint <= seen:
                    next_checkpoint += N / 2
    with tg.no_grad():
        accuracy = float((model(test_x).argmax(1).numpy() == y_test).mean())
    runs[batch_size] = dict(checkpoints=checkpoints, steps=steps, accuracy=accuracy,
                            seconds=seconds)

# --- results -------------------------------------------------------------------------------
def first_below(checkpoints, index):
    """Examples read (index 0) or seconds (index 1) at the first checkpoint below TARGET."""
    return next((point[index] for point in checkpoints if point[2] < TARGET), None)


def name_of(batch_size):
    return f"full ({batch_size})" if batch_size == N else str(batch_size)


rows, timings = [], []
for batch_size, run in runs.items():
    points = run["checkpoints"]
    losses = [loss for _, _, loss in points]
    rises = sum(later > earlier for earlier, later in zip(losses, losses[1:]))
    reached = first_below(points, 0)
    rows.append([name_of(batch_size), run["steps"], losses[-1], min(losses),
                 "not reached" if reached is None else f"{reached / N:.3g}",
                 run["accuracy"], noise[batch_size], f"{rises}/{len(losses) - 1}"])
    reached_time = first_below(points, 1)
    timings.append(f"batch {name_of(batch_size)} {run['seconds']:.2f} s"
                   + ("" if reached_time is None else f" (loss < {TARGET:g} after "
                                                      f"{reached_time:.2f} s)"))
print(f"digits MLP 64-{HIDDEN}-10, plain SGD lr {LR}, {N} training samples, a budget of "
      f"{EPOCHS} epochs ({EPOCHS * N} examples) per batch size, seed {args.seed}")
print(format_table(["batch size", "steps", "final train loss", "lowest train loss",
                    f"epochs read to loss < {TARGET:g}", "test acc", "gradient noise at init",
                    "loss rises"], rows))
print("(gradient noise: mean ||g_B - g||^2 / ||g||^2 over "
      f"{NOISE_DRAWS} batches at the initial weights; loss rises: half-epoch checkpoints "
      "whose training loss is above the previous one)")
print("wall time, training steps only: " + ", ".join(timings))

if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    curves = {f"batch {name_of(b)} train_loss": [p[2] for p in run["checkpoints"]]
              for b, run in runs.items()}
    read = {f"batch {name_of(b)} train_loss": [p[0] / N for p in run["checkpoints"]]
            for b, run in runs.items()}
    clock = {f"batch {name_of(b)} train_loss": [p[1] for p in run["checkpoints"]]
             for b, run in runs.items()}
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot, "batch_sizes.png"),
                                     x=read, xlabel="examples read (epochs)", logy=True,
                                     title="training loss against examples read"))
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot, "batch_sizes_time.png"),
                                     x=clock, xlabel="training time (s)", logy=True,
                                     title="training loss against wall time"))
else:
    print(viz.PLOT_HINT)
