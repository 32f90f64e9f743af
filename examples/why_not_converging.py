"""Experiment: why a network does not converge, and the sanity checks that catch each cause.

Claim (lecture notes, "模型不收敛的原因"): training fails to converge because the
learning rate is too high (the loss oscillates or diverges) or too low (it barely
moves), because the inputs are not normalised, or because the labels are noisy; and a
few cheap checks tell which (CS231n's advice, which the notes follow): the loss at
initialisation should be ln C; the network should drive the loss on a tiny subset to
about 0; the update-to-weight ratio of each layer should be about 1e-3; the learning
curves (training and validation loss per epoch) show divergence, stalling and
overfitting; and a learning-rate range test suggests a rate.

A healthy run, then one cause at a time (the settings below were fixed before the
first run):

    healthy          SGD lr 0.01 (momentum 0.9), standardised inputs, clean labels
    lr too high      lr 1 (100x)
    lr too low       lr 1e-5 (1/1000)
    unnormalised     raw pixel values 0..16 instead of standardised inputs
    noisy labels     40% of the training labels replaced by random ones

Every run: MLP 64-64-10 (ReLU, PyTorch's default initialisation, the same initial
weights), batch 32, EPOCHS epochs on 60% of the digits; the validation and test parts
(20% each) keep their true labels. The checks come from tinygrad_opt.diagnostics:
check_initial_loss, overfit_small_batch (20 training samples, a fresh copy of the
initial model, the scenario's optimizer), check_update_ratios (a Monitor over the first
epoch), check_learning_curves, and lr_range_test (one per kind of data: its suggested
rate against the scenario's rate: "ok" within a factor of 10).

    python examples/why_not_converging.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
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
from tinygrad_opt.diagnostics import (Monitor, check_initial_loss, check_learning_curves,
                                      check_update_ratios, format_table, lr_range_test,
                                      overfit_small_batch, plot_lr_range_test)

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="why training does not converge")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0, help="initial weights, batches, noise")
parser.add_argument("--quick", action="store_true", help="4 epochs, shorter checks")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

EPOCHS = 4 if args.quick else 20
BATCH_SIZE, HIDDEN, MOMENTUM = 32, 64, 0.9
OVERFIT_SAMPLES, OVERFIT_STEPS = 20, 100 if args.quick else 200
RANGE_STEPS = 60 if args.quick else 150           # lr range test: 1e-6 to 10
NOISE = 0.4                                       # fraction of training labels randomised
SCENARIOS = {                # name: (learning rate, inputs, labels)
    "healthy": (0.01, "standardised", "clean"),
    "lr too high": (1.0, "standardised", "clean"),
    "lr too low": (1e-5, "standardised", "clean"),
    "unnormalised": (0.01, "raw", "clean"),
    "noisy labels": (0.01, "standardised", "noisy"),
}

# --- data: digits, 60% train / 20% validation / 20% test -----------------------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))          # the same split for every seed
n_test = n_val = len(y) // 5
test_index, val_index = order[:n_test], order[n_test:n_test + n_val]
train_index = order[n_test + n_val:]
standardised = dict(zip(("train", "val", "test"), standardize(X[train_index], X[val_index],
                                                              X[test_index])[:3]))
raw = {"train": X[train_index], "val": X[val_index], "test": X[test_index]}
rng = np.random.default_rng(args.seed)
noisy_train = y[train_index].copy()
flip = rng.random(len(noisy_train)) < NOISE
noisy_train[flip] = rng.integers(0, 10, flip.sum())            # may redraw the true label
labels = {"clean": y[train_index], "noisy": noisy_train}
inputs = {"standardised": standardised, "raw": raw}


def make_model():
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))


def loss_and_accuracy(model, features, targets):
    with tg.no_grad():
        logits = model(tg.tensor(features, device=args.device))
        loss = F.cross_entropy(logits, tg.tensor(targets, device=args.device)).item()
    return loss, float((logits.numpy().argmax(1) == targets).mean())


tg.manual_seed(args.seed)
initial = {key: value.numpy().copy() for key, value in make_model().state_dict().items()}


def fresh_model():
    model = make_model().to(args.device)
    model.load_state_dict(initial)
    return model


# --- the loop: one run per scenario, then its checks ---------------------------------------
results, curves, suggestions, ranges = {}, {}, {}, {}
for name, (lr, kind, label_kind) in SCENARIOS.items():
    data, train_labels = inputs[kind], labels[label_kind]
    model = fresh_model()
    initial_check = check_initial_loss(model, F.cross_entropy, data["train"], train_labels)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    loader = DataLoader(TensorDataset(data["train"], train_labels), batch_size=BATCH_SIZE,
                        shuffle=True, seed=args.seed, device=args.device)
    monitor = Monitor(model)
    train_losses, val_losses = [], []
    for epoch in range(EPOCHS):
        for xb, yb in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            if epoch == 0:
                monitor.step(optimizer)                  # update ratios of the first epoch
            else:
                optimizer.step()
        monitor.remove()
        train_losses.append(loss_and_accuracy(model, data["train"], train_labels)[0])
        val_losses.append(loss_and_accuracy(model, data["val"], y[val_index])[0])
    ratio_check = check_update_ratios(monitor)
    curve_check = check_learning_curves(train_losses, val_losses)
    small = fresh_model()
    overfit_check = overfit_small_batch(
        small, F.cross_entropy, optim.SGD(small.parameters(), lr=lr, momentum=MOMENTUM),
        data["train"][:OVERFIT_SAMPLES], train_labels[:OVERFIT_SAMPLES], steps=OVERFIT_STEPS)
    key = (kind, label_kind)                             # the range test depends on the data
    if key not in suggestions:
        lrs, losses, suggestions[key] = lr_range_test(
            fresh_model(), F.cross_entropy, optim.SGD,
            DataLoader(TensorDataset(data["train"], train_labels), batch_size=BATCH_SIZE,
                       shuffle=True, seed=args.seed, device=args.device),
            lr_min=1e-6, lr_max=10.0, steps=RANGE_STEPS, momentum=MOMENTUM)
        ranges[key] = (lrs, losses)
    suggested = suggestions[key]
    train_accuracy = loss_and_accuracy(model, data["train"], train_labels)[1]
    val_accuracy = loss_and_accuracy(model, data["val"], y[val_index])[1]
    results[name] = dict(lr=lr, initial=initial_check, overfit=overfit_check,
                         ratio=ratio_check, curves=curve_check, suggested=suggested,
                         lr_ok=suggested / 10 <= lr <= suggested * 10,
                         train_loss=train_losses[-1], val_loss=val_losses[-1],
                         train_accuracy=train_accuracy, val_accuracy=val_accuracy)
    curves[f"{name} train_loss"] = train_losses
    curves[f"{name} val_loss"] = val_losses


# --- results -------------------------------------------------------------------------------
def mark(check):
    return "ok" if check.passed else "FAIL"


def loss_cell(value):
    return value if math.isfinite(value) else "nan"


print(f"digits MLP 64-{HIDDEN}-10, SGD momentum {MOMENTUM}, batch {BATCH_SIZE}, {EPOCHS} "
      f"epochs, {len(train_index)} train / {n_val} val samples, seed {args.seed}")
print("\nWhat each cause does (losses and accuracies after the last epoch; val labels clean)")
print(format_table(["scenario", "lr", "loss at init", "train loss", "val loss", "train acc",
                    "val acc"],
                   [[name, r["lr"], r["initial"].value, loss_cell(r["train_loss"]),
                     loss_cell(r["val_loss"]), r["train_accuracy"], r["val_accuracy"]]
                    for name, r in results.items()]))
print(f"\nWhich check catches it (ln 10 = {math.log(10):.4g}; overfit: {OVERFIT_SAMPLES} "
      f"samples, {OVERFIT_STEPS} steps, loss <= 0.01; |dw|/|w|: median over the first epoch, "
      "ok in [1e-4, 1e-2]; lr-find: ok if lr is within 10x of the suggestion)")
print(format_table(
    ["scenario", "init loss ~ ln 10", "overfit 20 samples", "|dw|/|w|", "learning curves",
     "lr-find suggests"],
    [[name, f"{mark(r['initial'])} ({r['initial'].value:.3g})",
      f"{mark(r['overfit'])} ({r['overfit'].value:.3g})",
      f"{mark(r['ratio'])} ({r['ratio'].value:.2g})",
      f"{mark(r['curves'])} ({r['curves'].details['verdict']})",
      f"{'ok' if r['lr_ok'] else 'FAIL'} ({r['suggested']:.2g})"] for name, r in results.items()]))
print("\nWhat the failed checks say")
for name, r in results.items():
    for check in (r["initial"], r["overfit"], r["ratio"], r["curves"]):
        if not check.passed:
            print(f"{name}: {check}")
    if not r["lr_ok"]:
        print(f"{name}: [FAIL] lr-find: lr {r['lr']:g} is more than 10x away from the "
              f"suggested {r['suggested']:.2g}")

if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    shown = {name: [min(value, 10.0) if math.isfinite(value) else 10.0 for value in values]
             for name, values in curves.items()}
    print("wrote " + viz.plot_curves(shown, os.path.join(args.plot, "why_not_converging.png"),
                                     ylabel="cross-entropy (capped at 10)", logy=True,
                                     title="learning curves, one cause at a time"))
    for (kind, label_kind), (lrs, losses) in ranges.items():
        path = os.path.join(args.plot, f"why_not_converging_lr_find_{kind}_{label_kind}.png")
        print("wrote " + plot_lr_range_test(lrs, losses, suggestions[kind, label_kind], path,
                                            title=f"lr range test: {kind} inputs, "
                                                  f"{label_kind} labels"))
else:
    print(viz.PLOT_HINT)
