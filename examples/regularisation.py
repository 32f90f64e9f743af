"""Experiment 8: overfitting a small training set; dropout, L2 and early stopping.

Claims (lecture notes, "如何防止过拟合" and "什么是dropout"): a big network on little
data overfits (training loss → 0 while the validation loss turns back up); early
stopping, L1/L2 penalties and dropout (each mini-batch trains a different thinned
network) prevent it.

The task: only 200 training digits, an MLP 64-256-256-10 (about 82,000 weights,
400 per training image), Adam (lr 1e-3) on batches of 32 for EPOCHS epochs, the same
initial weights and batches for every run:

  baseline        no regularisation
  dropout 0.5     nn.Dropout(0.5) after each hidden ReLU
  L2 1e-3         loss + 1e-3·Σ W² over the weight matrices (nn.utils.l2_penalty)
  early stopping  the baseline, stopped when the validation loss has not improved for
                  PATIENCE epochs, with the best epoch's weights restored

    python examples/regularisation.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import nn, optim, viz
from tinygrad_opt.data import DataLoader, TensorDataset, standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.nn.utils import l2_penalty

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="overfitting and regularisation")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="12 epochs")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

TRAIN_SAMPLES, HIDDEN = 200, 256
EPOCHS = 12 if args.quick else 100
PATIENCE = 3 if args.quick else 10
BATCH_SIZE, LR = 32, 1e-3
L2 = 1e-3
RUNS = {                    # name: (dropout probability, L2 strength, early stopping)
    "baseline": (0.0, 0.0, False),
    "dropout 0.5": (0.5, 0.0, False),
    "L2 1e-3": (0.0, L2, False),
    "early stopping": (0.0, 0.0, True),
}

# --- data: 200 training digits, 359 validation, 359 test ----------------------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))        # the same split for every seed
n = len(y) // 5
test_index, val_index, train_index = order[:n], order[n:2 * n], order[2 * n:]
train_index = train_index[:TRAIN_SAMPLES]
X_train, X_val, X_test, _ = standardize(X[train_index], X[val_index], X[test_index])
y_train, y_val, y_test = y[train_index], y[val_index], y[test_index]
splits = {name: (tg.tensor(features, device=args.device), labels) for name, features, labels in
          [("train", X_train, y_train), ("val", X_val, y_val), ("test", X_test, y_test)]}


def make_model(dropout):
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(HIDDEN, 10))


def evaluate(model, split):
    """(mean cross-entropy, accuracy) on a split, in eval mode (dropout off)."""
    features, labels = splits[split]
    model.eval()
    with tg.no_grad():
        logits = model(features)
        loss = F.cross_entropy(logits, tg.tensor(labels, device=args.device)).item()
    model.train()
    return loss, float((logits.argmax(1).numpy() == labels).mean())


# --- the loop: one run per regulariser, same start and batches ----------------------------
tg.manual_seed(args.seed)
initial = {k: v.numpy().copy() for k, v in make_model(0.0).to(args.device).state_dict().items()}
curves, rows = {}, []
for name, (dropout, l2, early_stopping) in RUNS.items():
    model = make_model(dropout).to(args.device)
    model.load_state_dict(initial)
    weights = [p for p in model.parameters() if p.ndim == 2]
    optimizer = optim.Adam(model.parameters(), lr=LR)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=BATCH_SIZE, shuffle=True,
                        seed=args.seed, device=args.device)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    best_loss, best_epoch, best_state, stopped = float("inf"), 0, None, None
    for epoch in range(EPOCHS):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            if l2 > 0:
                loss = loss + l2 * l2_penalty(weights)
            loss.backward()
            optimizer.step()
        train_loss, _ = evaluate(model, "train")
        val_loss, val_accuracy = evaluate(model, "val")
        for key, value in zip(history, (train_loss, val_loss, val_accuracy)):
            history[key].append(value)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch + 1
            best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        elif early_stopping and epoch + 1 - best_epoch >= PATIENCE:
            stopped = epoch + 1
            model.load_state_dict(best_state)            # restore the best epoch's weights
            break
    for key, values in history.items():
        curves[f"{name} {key}"] = values
    train_loss, train_accuracy = evaluate(model, "train")
    val_loss, val_accuracy = evaluate(model, "val")
    _, test_accuracy = evaluate(model, "test")
    rows.append([name, stopped or EPOCHS, f"{best_loss:.4f} (ep. {best_epoch})", train_loss,
                 val_loss, train_accuracy, val_accuracy, train_accuracy - val_accuracy,
                 test_accuracy])

# --- results -------------------------------------------------------------------------------
print(f"{len(y_train)} training digits, MLP 64-{HIDDEN}-{HIDDEN}-10, Adam lr {LR}, {EPOCHS} "
      f"epochs, batch {BATCH_SIZE}, seed {args.seed}")
print(format_table(["run", "epochs run", "best val loss", "final train loss", "final val loss",
                    "train acc", "val acc", "gap", "test acc"], rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    shown = {key: values for key, values in curves.items()
             if "val" in key or key == "baseline train_loss"}
    print("wrote " + viz.plot_curves(shown, os.path.join(args.plot, "regularisation.png"),
                                     logy=True, title="validation curves (200 training digits)"))
else:
    print(viz.PLOT_HINT)
