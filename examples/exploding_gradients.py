"""Experiment: exploding gradients from large initial weights, and gradient clipping.

Claim (lecture notes, "梯度消失梯度爆炸以及怎么解决", 梯度剪切): when every layer
multiplies the backward signal by a factor above 1 (weights too large), the
gradient grows geometrically with depth, an update of size lr·||g|| throws the
weights far away and training diverges (the loss becomes inf/NaN). Clipping the
gradient's norm to a threshold (``nn.utils.clip_grad_norm_``: g ← g·c/||g|| when
||g|| > c) bounds every step and restores training.

Model: an MLP of DEPTH Linear layers (width 64, ReLU) on the digits. The
weights are drawn N(0, (GAIN·√(2/fan_in))²): He initialisation (gain 1 keeps
the activations' scale through ReLU layers) multiplied by GAIN = 1.6, so each
layer multiplies activations and gradients by about 1.6 (1.6^10 ≈ 110 over ten
layers). Biases are 0. The same initial weights and batches for every run:
SGD (lr 0.01, momentum 0.9), no clipping, then clipping at each threshold in
THRESHOLDS; a He-initialised net (gain 1, no clipping) is the reference.
The grid was fixed before running.

Second remedy (notes: "权重正则化", weight regularisation partly limits exploding
gradients, since the penalty keeps the weights small): the same large initialisation,
no clipping, with L2 weight decay λ in WEIGHT_DECAYS (SGD's weight_decay: g ← g + λ·w,
so every step also shrinks the weights by the factor 1 − lr·λ). Fixed before running too.

    python examples/exploding_gradients.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
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
parser = argparse.ArgumentParser(description="exploding gradients and gradient clipping")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true",
                    help="3 epochs, no clipping vs clipping at 10: the test's run")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
args = parser.parse_args()

DEPTH, WIDTH, GAIN = 10, 64, 1.6
LR, MOMENTUM, BATCH_SIZE = 0.01, 0.9, 32
EPOCHS = 3 if args.quick else 10
THRESHOLDS = (10.0,) if args.quick else (0.1, 1.0, 10.0, 100.0)
WEIGHT_DECAYS = (1e-2,) if args.quick else (1e-3, 1e-2, 1e-1)

# --- data: digits, 80% train / 20% test, standardized --------------------------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))          # the same split for every seed
test_index, train_index = order[:len(y) // 5], order[len(y) // 5:]
X_train, X_test, _ = standardize(X[train_index], X[test_index])
y_train, y_test = y[train_index], y[test_index]
test_x = tg.tensor(X_test, device=args.device)


# --- model: a deep ReLU MLP with scaled He initialisation -----------------------------------
def make_model(gain):
    tg.manual_seed(args.seed)                                   # same weights for every run
    layers = []
    for index in range(DEPTH):
        layers.append(nn.Linear(64 if index == 0 else WIDTH, 10 if index == DEPTH - 1 else WIDTH))
        if index < DEPTH - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    for layer in model:
        if isinstance(layer, nn.Linear):
            std = gain * math.sqrt(2.0 / layer.in_features)     # He (Kaiming) std times gain
            nn.init.normal_(layer.weight, 0.0, std)
            nn.init.zeros_(layer.bias)
    return model.to(args.device)


# --- the loop: the same SGD with and without clipping -----------------------------------
def train(gain, threshold, weight_decay=0.0):
    """Train; return the total gradient norm of every step (before clipping),
    the step at which the loss or gradient stopped being finite (or None), and
    the test accuracy."""
    model = make_model(gain)
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM,
                          weight_decay=weight_decay)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=BATCH_SIZE, shuffle=True,
                        seed=args.seed, device=args.device)
    norms = []
    for epoch in range(EPOCHS):
        for x, target in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), target)
            loss.backward()
            # clip_grad_norm_ returns the norm before clipping; max_norm = inf only measures
            norm = nn.utils.clip_grad_norm_(model.parameters(),
                                            math.inf if threshold is None else threshold)
            norms.append(norm.item())
            if not (math.isfinite(loss.item()) and math.isfinite(norms[-1])):
                return norms, len(norms), float("nan")      # diverged: stop here
            optimizer.step()
    with tg.no_grad():
        accuracy = float((model(test_x).argmax(1).numpy() == y_test).mean())
    return norms, None, accuracy


start = time.perf_counter()
with np.errstate(all="ignore"):  # the unclipped run overflows on purpose: no warnings
    runs = {"He init (gain 1), no clipping": train(1.0, None),
            f"gain {GAIN}, no clipping": train(GAIN, None)}
    for threshold in THRESHOLDS:
        runs[f"gain {GAIN}, clip at {threshold:g}"] = train(GAIN, threshold)
    for weight_decay in WEIGHT_DECAYS:
        runs[f"gain {GAIN}, weight decay {weight_decay:g}"] = train(GAIN, None, weight_decay)
seconds = time.perf_counter() - start

# --- results -------------------------------------------------------------------------------
print(f"MLP with {DEPTH} Linear layers (width {WIDTH}, ReLU), N(0, (gain*sqrt(2/fan_in))^2) "
      f"weights, SGD lr {LR} momentum {MOMENTUM}, {EPOCHS} epochs of batch {BATCH_SIZE}, "
      f"{len(y_train)} training digits, seed {args.seed}, device {args.device}")
rows = []
results = []
for name, (norms, diverged_at, accuracy) in runs.items():
    largest = max(n for n in norms if math.isfinite(n))       # step 1 is always finite here
    rows.append([name, f"{norms[0]:.3g}", f"{largest:.3g}", f"{norms[-1]:.3g}",
                 "no" if diverged_at is None else f"at step {diverged_at}",
                 "-" if diverged_at is not None else f"{accuracy:.1%}"])
    results.append({"run": name, "first_norm": norms[0], "max_finite_norm": largest,
                    "last_norm": norms[-1], "diverged_at": diverged_at,
                    "accuracy": accuracy, "steps": len(norms)})
print(format_table(["run", "grad norm step 1", "max grad norm", "last grad norm",
                    "diverged", "test acc"], rows))
print("(gradient norms are before clipping)")
print(f"wall time: {seconds:.1f} s")
if args.json:
    with open(args.json, "w") as file:
        json.dump({"results": results, "seconds": seconds}, file, indent=1)
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    curves = {name: [min(n, 1e12) for n in norms] for name, (norms, _, _) in runs.items()}
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot, "exploding_gradients.png"),
                                     title="total gradient norm per step (before clipping)",
                                     xlabel="step", ylabel="gradient norm ||g||", logy=True))
else:
    print(viz.PLOT_HINT)
