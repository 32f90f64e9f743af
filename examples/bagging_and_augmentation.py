"""Bagging and data augmentation against overfitting on 200 training digits.

Claims (lecture notes, "如何防止过拟合"): ensemble learning by bagging (each model
trained on a bootstrap sample, the predictions averaged) effectively prevents
overfitting, and so does enlarging the data set (扩增数据集); "怎么提升网络的泛化
能力" adds transforming the data.

The task is the overfitting setting of experiment 8: 200 training digits, an MLP
64-256-256-10 (about 82,000 weights) trained by Adam (lr 1e-3, batch 32) for EPOCHS
epochs, pixels scaled to [0, 1]. Four ensembles of MEMBERS models each, a 2 x 2 design:

  full set              every member sees the 200 digits (seeds differ: init, batch order)
  bootstrap (bagging)   every member sees its own bootstrap sample of the 200
  full set + augment    as "full set", each batch randomly shifted (<= 1 pixel per axis)
                        and rotated (<= 15 degrees): data.RandomShiftRotate
  bootstrap + augment   both

all built with ensemble.bagging (bootstrap=True or False), each member trained by
ensemble.trainer (Adam, fit; transform=augment or None). A member's seed is seed + m
in every ensemble, so member m of each starts from the same weights. The "one member"
columns are the mean over the members alone: the single-model result of each training
set-up.

    python examples/bagging_and_augmentation.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import ensemble, metrics, nn, optim, viz
from tinygrad_opt.data import RandomShiftRotate, TensorDataset
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="bagging and data augmentation")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0, help="members, bootstraps, augmentation")
parser.add_argument("--quick", action="store_true", help="3 members, 8 epochs")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
args = parser.parse_args()

TRAIN_SAMPLES, HIDDEN = 200, 256
MEMBERS = 3 if args.quick else 10
EPOCHS = 8 if args.quick else 100
BATCH_SIZE, LR = 32, 1e-3
MAX_SHIFT, MAX_DEGREES = 1.0, 15.0
CONFIGS = {                          # name: (bootstrap, augment)
    "full set": (False, False),
    "bootstrap (bagging)": (True, False),
    "full set + augment": (False, True),
    "bootstrap + augment": (True, True),
}

# --- data: the split of experiment 8 (200 training digits, 359 test), pixels / 16 ----------
X, y = load_digits()
X = X / 16.0                                              # [0, 1]; the background stays 0
order = np.random.default_rng(0).permutation(len(y))      # the same split for every seed
n = len(y) // 5
test_index, train_index = order[:n], order[2 * n:2 * n + TRAIN_SAMPLES]
X_train, y_train, X_test, y_test = X[train_index], y[train_index], X[test_index], y[test_index]
train_set = TensorDataset(X_train, y_train)
inputs = {"train": tg.tensor(X_train, device=args.device),
          "test": tg.tensor(X_test, device=args.device)}
labels = {"train": y_train, "test": y_test}


def make_model():
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                         nn.Linear(HIDDEN, 10))


def scores(probabilities, split):
    """(accuracy, mean negative log-likelihood) of probabilities (N, 10) on a split."""
    p = probabilities.numpy().astype(np.float64)
    picked = np.clip(p[np.arange(len(p)), labels[split]], 1e-12, None)
    return metrics.accuracy(labels[split], p), float(-np.log(picked).mean())


# --- the loop: one ensemble per set-up -----------------------------------------------------
rows, growth = [], {}
for name, (bootstrap, augment) in CONFIGS.items():
    transform = (RandomShiftRotate(MAX_SHIFT, MAX_DEGREES, seed=args.seed) if augment
                 else None)
    train_fn = ensemble.trainer(lambda params: optim.Adam(params, lr=LR), F.cross_entropy,
                                epochs=EPOCHS, batch_size=BATCH_SIZE, transform=transform,
                                device=args.device)
    bag = ensemble.bagging(make_model, train_fn, train_set, MEMBERS, args.seed,
                           bootstrap=bootstrap)
    members = [ensemble.Ensemble([model]) for model in bag]
    member_test = np.array([scores(one.predict_proba(inputs["test"]), "test") for one in members])
    member_train = [scores(one.predict_proba(inputs["train"]), "train")[0] for one in members]
    test_accuracy, test_nll = scores(bag.predict_proba(inputs["test"]), "test")
    train_accuracy, _ = scores(bag.predict_proba(inputs["train"]), "train")
    distinct = np.mean([len(np.unique(indices)) for indices in bag.bootstrap_indices])
    rows.append([name, MEMBERS, f"{distinct:.0f}", 100 * np.mean(member_train),
                 100 * member_test[:, 0].mean(), member_test[:, 1].mean(), 100 * train_accuracy,
                 100 * test_accuracy, test_nll, 100 * (train_accuracy - test_accuracy)])
    growth[name] = [100 * scores(ensemble.Ensemble(list(bag)[:k]).predict_proba(inputs["test"]),
                                 "test")[0] for k in range(1, MEMBERS + 1)]

# --- results -------------------------------------------------------------------------------
print(f"{TRAIN_SAMPLES} training digits, {len(y_test)} test digits; MLP 64-{HIDDEN}-{HIDDEN}-10, "
      f"Adam lr {LR}, batch {BATCH_SIZE}, {EPOCHS} epochs; {MEMBERS} members per ensemble; "
      f"augmentation: shifts <= {MAX_SHIFT} px, rotations <= {MAX_DEGREES} deg; seed {args.seed}")
print("Ensembles. member: the mean over the members alone; ens.: their average; gap: train "
      "- test accuracy in points; distinct seen: distinct training digits per member (mean)")
print(format_table(["set-up", "members", "distinct seen", "member train %", "member test %",
                    "member NLL", "ens. train %", "ens. test %", "ens. NLL", "ens. gap"], rows))
print()
print("Test accuracy % of the ensemble of the first k members")
shown = sorted({1, 2, MEMBERS // 2, MEMBERS} - {0})
print(format_table(["set-up"] + [f"k={k}" for k in shown],
                   [[name] + [curve[k - 1] for k in shown] for name, curve in growth.items()]))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    path = os.path.join(args.plot, "bagging_and_augmentation.png")
    print("wrote " + viz.plot_curves(growth, path, xlabel="members k", ylabel="test accuracy %",
                                     title=f"{TRAIN_SAMPLES} training digits"))
else:
    print(viz.PLOT_HINT)
