"""Experiment 4: learning-rate schedules on the digits MLP.

Claim (lecture notes, "学习率退火"): with a high learning rate the parameters
"jump around chaotically" near the optimum; annealing the rate (step decay,
exponential α0·e^(−kt), 1/t decay α0/(1 + kt), or "halve it when the validation
error stops going down") settles closer to the optimum than a constant rate.

All runs: the same MLP, the same initial weights and batches, SGD with momentum
0.9 from the same deliberately high rate LR0; only the schedule differs. Each
schedule steps once per epoch; the decay constants were chosen once so that the
decaying schedules end 16-64 times lower than LR0 (cosine ends at 0).

    python examples/lr_schedules.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
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
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.optim import lr_scheduler

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="learning-rate schedules")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="6 epochs on 400 samples")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

EPOCHS = 6 if args.quick else 30
TRAIN_SAMPLES = 400 if args.quick else None
BATCH_SIZE, HIDDEN = 32, 128
LR0, MOMENTUM = 0.1, 0.9
SCHEDULES = {              # name: a function optimizer -> scheduler (None: constant)
    "constant": lambda opt: None,
    "step (x0.5 / 5 ep)": lambda opt: lr_scheduler.StepLR(opt, step_size=5, gamma=0.5),
    "exponential (k=0.1)": lambda opt: lr_scheduler.ExponentialLR(opt, gamma=math.exp(-0.1)),
    "1/t (k=0.5)": lambda opt: lr_scheduler.InverseTimeLR(opt, k=0.5),
    "plateau (x0.5, pat. 2)": lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=0.5,
                                                                         patience=2),
    "cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS),
}

# --- data: digits, 60% train / 20% validation / 20% test, standardized ---------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))        # the same split for every seed
n = len(y) // 5
test_index, val_index, train_index = order[:n], order[n:2 * n], order[2 * n:]
train_index = train_index[:TRAIN_SAMPLES]
X_train, X_val, X_test, _ = standardize(X[train_index], X[val_index], X[test_index])
y_train, y_val, y_test = y[train_index], y[val_index], y[test_index]
val_x, val_y = tg.tensor(X_val, device=args.device), tg.tensor(y_val, device=args.device)
test_x = tg.tensor(X_test, device=args.device)


def make_model():
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))


# --- the loop: one run per schedule, same initial weights and batch order -----------------
tg.manual_seed(args.seed)
initial = {k: v.numpy().copy() for k, v in make_model().to(args.device).state_dict().items()}
lr_curves, loss_curves, rows = {}, {}, []
for name, make_scheduler in SCHEDULES.items():
    model = make_model().to(args.device)
    model.load_state_dict(initial)
    optimizer = optim.SGD(model.parameters(), lr=LR0, momentum=MOMENTUM)
    scheduler = make_scheduler(optimizer)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=BATCH_SIZE, shuffle=True,
                        seed=args.seed, device=args.device)
    lrs, train_losses, val_losses = [], [], []
    for epoch in range(EPOCHS):
        lrs.append(optimizer.param_groups[0]["lr"])
        model.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * yb.shape[0]
        train_losses.append(total / len(y_train))
        model.eval()
        with tg.no_grad():
            val_losses.append(F.cross_entropy(model(val_x), val_y).item())
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(val_losses[-1])        # reacts to the validation loss
        elif scheduler is not None:
            scheduler.step()                      # a closed-form function of the epoch
    with tg.no_grad():
        accuracy = float((model(test_x).argmax(1).numpy() == y_test).mean())
    lr_curves[name] = lrs
    loss_curves[f"{name} train_loss"] = train_losses
    rows.append([name, lrs[-1], train_losses[-1], min(val_losses), val_losses[-1], accuracy])

# --- results -------------------------------------------------------------------------------
print(f"digits MLP 64-{HIDDEN}-10, SGD momentum {MOMENTUM} from lr {LR0}, {EPOCHS} epochs, "
      f"{len(y_train)} train / {len(y_val)} val / {len(y_test)} test, seed {args.seed}")
print(format_table(["schedule", "last lr", "final train loss", "best val loss",
                    "final val loss", "test acc"], rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    print("wrote " + viz.plot_lr_schedule(lr_curves, os.path.join(args.plot, "lr_schedules.png"),
                                          title="learning rate per epoch"))
    print("wrote " + viz.plot_curves(loss_curves, os.path.join(args.plot,
                                     "lr_schedules_loss.png"), logy=True,
                                     title="training loss per epoch"))
else:
    print(viz.PLOT_HINT)
