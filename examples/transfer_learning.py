"""Experiment: transfer learning from digits 0-4 to digits 5-9 with few examples.

Claim (lecture notes, 迁移学习): when the target task has little data, start from
a network trained on a related task with plenty of data: either fine-tune all
its layers on the new data, or freeze the pretrained layers as a feature
extractor and train only a new output layer. Both beat training from scratch
when examples are few; the advantage shrinks as the target data grow.

Setup: the digits, split once into 80% train / 20% test and standardized.
1. Pretrain an MLP body (64 -> 128 -> 64, ReLU) with a 5-way head on every
   training digit 0-4 (Adam, PRETRAIN_EPOCHS epochs).
2. Target task: digits 5-9 (5 classes) from n training examples per class, for
   n in SHOTS, each size drawn DRAWS times (different examples); tested on all
   test digits 5-9. Three ways, the same optimizer (Adam lr 1e-3, STEPS
   full-batch steps) and the same fresh 5-way head:
   * scratch:   a new randomly initialised body;
   * fine-tune: the pretrained body, every layer trained;
   * frozen:    the pretrained body with ``requires_grad_(False)``, only the head
                trained (the body is a fixed feature extractor).
The grid was fixed before running, except STEPS: the first run used 150 steps,
after which the frozen model's head was still improving (undertrained), so it
was raised to 500 for every method; the ranking did not change
(docs/experiments.md has both).

    python examples/transfer_learning.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import copy
import json
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
parser = argparse.ArgumentParser(description="transfer learning: digits 0-4 -> 5-9")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="n = 2 and 50, 2 draws: the test's run")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
args = parser.parse_args()

SHOTS = (2, 50) if args.quick else (1, 2, 5, 10, 20, 50)     # examples per class
DRAWS = 2 if args.quick else 5
PRETRAIN_EPOCHS, STEPS, LR = 15, 500, 1e-3
METHODS = ("scratch", "fine-tune", "frozen")

# --- data ----------------------------------------------------------------------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))          # the same split for every seed
test_index, train_index = order[:len(y) // 5], order[len(y) // 5:]
X_train, X_test, _ = standardize(X[train_index], X[test_index])
y_train, y_test = y[train_index], y[test_index]
source = y_train < 5                                          # digits 0-4: the source task
target_train = np.flatnonzero(y_train >= 5)                   # digits 5-9: the target task
target_test_x = tg.tensor(X_test[y_test >= 5], device=args.device)
target_test_y = y_test[y_test >= 5] - 5                       # labels 0..4


# --- model: body (feature extractor) + head -------------------------------------------------
def make_body():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())


class Classifier(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body
        self.head = nn.Linear(64, 5)

    def forward(self, x):
        return self.head(self.body(x))                         # (N, 5) logits


# --- 1. pretraining on digits 0-4 ----------------------------------------------------------
start = time.perf_counter()
tg.manual_seed(args.seed)
pretrained = Classifier(make_body()).to(args.device)
optimizer = optim.Adam(pretrained.parameters(), lr=LR)
loader = DataLoader(TensorDataset(X_train[source], y_train[source]), batch_size=32,
                    shuffle=True, seed=args.seed, device=args.device)
for epoch in range(PRETRAIN_EPOCHS):
    for x, target in loader:
        optimizer.zero_grad()
        F.cross_entropy(pretrained(x), target).backward()
        optimizer.step()
source_test = tg.tensor(X_test[y_test < 5], device=args.device)
with tg.no_grad():
    source_accuracy = float((pretrained(source_test).argmax(1).numpy()
                             == y_test[y_test < 5]).mean())


# --- 2. few-shot learning of digits 5-9 -------------------------------------------------------
def learn_target(method, x, target):
    """Train one model on the few target examples; return its target test accuracy."""
    if method == "scratch":
        model = Classifier(make_body())
    else:
        model = Classifier(copy.deepcopy(pretrained.body))
        if method == "frozen":
            model.body.requires_grad_(False)                  # a fixed feature extractor
    model.to(args.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = optim.Adam(trainable, lr=LR)
    for step in range(STEPS):                                 # full batch: n·5 examples
        optimizer.zero_grad()
        F.cross_entropy(model(x), target).backward()
        optimizer.step()
    with tg.no_grad():
        return float((model(target_test_x).argmax(1).numpy() == target_test_y).mean())


accuracies = {method: {n: [] for n in SHOTS} for method in METHODS}
draw_rng = np.random.default_rng(args.seed)
for n in SHOTS:
    for draw in range(DRAWS):
        # n examples of each digit 5..9, drawn from the training split
        chosen = np.concatenate([draw_rng.choice(target_train[y_train[target_train] == digit],
                                                 n, replace=False) for digit in range(5, 10)])
        x = tg.tensor(X_train[chosen], device=args.device)
        target = tg.tensor(y_train[chosen] - 5, device=args.device)
        for method in METHODS:
            tg.manual_seed(args.seed * 1000 + draw)           # the same new head for each method
            accuracies[method][n].append(learn_target(method, x, target))
seconds = time.perf_counter() - start

# --- results -------------------------------------------------------------------------------
mean = {method: {n: float(np.mean(accuracies[method][n])) for n in SHOTS} for method in METHODS}
print(f"pretrained on digits 0-4 ({int(source.sum())} examples, {PRETRAIN_EPOCHS} epochs): "
      f"test accuracy {source_accuracy:.1%} on 0-4")
print(f"target digits 5-9: Adam lr {LR}, {STEPS} full-batch steps, mean test accuracy over "
      f"{DRAWS} draws (min-max), seed {args.seed}, device {args.device}")
rows = []
for n in SHOTS:
    row = [n]
    for method in METHODS:
        values = accuracies[method][n]
        row.append(f"{mean[method][n]:.1%} ({min(values):.0%}-{max(values):.0%})")
    rows.append(row)
print(format_table(["examples per class"] + list(METHODS), rows))
print(f"\nwall time: {seconds:.1f} s")
if args.json:
    with open(args.json, "w") as file:
        json.dump({"source_accuracy": source_accuracy,
                   "mean": {m: {str(n): v for n, v in values.items()}
                            for m, values in mean.items()},
                   "seconds": seconds}, file, indent=1)
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    curves = {method: [mean[method][n] for n in SHOTS] for method in METHODS}
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot, "transfer_learning.png"),
                                     x=list(SHOTS), xlabel="n, training examples per class",
                                     ylabel="test accuracy on digits 5-9",
                                     title="transfer learning with n examples per class"))
else:
    print(viz.PLOT_HINT)
