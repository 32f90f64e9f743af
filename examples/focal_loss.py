"""Experiment 7: a 1:50 imbalanced binary task; BCE vs weighting vs resampling vs focal loss.

Claims (lecture notes, "正负样本不平衡" and "Focal Loss"): for imbalanced classes,
resample (over-/under-sampling) and judge with ROC AUC, F-score and G-mean, not
with accuracy; focal loss −(1 − p_t)^γ·log p_t shrinks the loss of the many easy
(well-classified) samples so training concentrates on the hard ones ("γ = 2 was
found best"); γ = 0 is plain cross-entropy.

Data: make_imbalanced, two overlapping Gaussian blobs in 2-D, 1 positive per 50
negatives, a training set and an independent held-out set of the same size.
Every method trains the same MLP 2-16-16-1 from the same initial weights for the
same number of Adam steps on batches of 128; only the loss or the sampling
differs. Focal rows use alpha < 0 (no class weight) so that only γ changes.
F1 and G-mean use the threshold p = 0.5 (logit 0).

    python examples/focal_loss.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import metrics, nn, optim, viz
from tinygrad_opt.data import DataLoader, Subset, TensorDataset, balanced_indices
from tinygrad_opt.datasets import make_imbalanced
from tinygrad_opt.diagnostics import format_table

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="focal loss on imbalanced data")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0, help="data, initial weights, batches")
parser.add_argument("--quick", action="store_true", help="150 steps")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

N_SAMPLES, POSITIVE_RATE, CLASS_SEP = 5100, 1 / 51, 2.0     # 100 positives, 5000 negatives
STEPS = 150 if args.quick else 800
BATCH_SIZE, LR = 128, 1e-2
POS_WEIGHT = (1 - POSITIVE_RATE) / POSITIVE_RATE            # 50: negatives per positive


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target)


def weighted_bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=tg.tensor(
        [POS_WEIGHT], device=logits.device))


def focal(gamma, alpha=-1.0):
    return lambda logits, target: F.sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma)


METHODS = {                 # name: (loss function, sampling: None, 'over' or 'under')
    "BCE": (bce, None),
    "BCE pos_weight=50": (weighted_bce, None),
    "BCE over-sampling": (bce, "over"),
    "BCE under-sampling": (bce, "under"),
    "focal gamma=0": (focal(0.0), None),
    "focal gamma=1": (focal(1.0), None),
    "focal gamma=2": (focal(2.0), None),
    "focal gamma=5": (focal(5.0), None),
    "focal gamma=2 alpha=0.25": (focal(2.0, 0.25), None),
}

# --- data ----------------------------------------------------------------------------------
X_train, y_train = make_imbalanced(N_SAMPLES, POSITIVE_RATE, n_features=2, class_sep=CLASS_SEP,
                                   seed=args.seed)
X_test, y_test = make_imbalanced(N_SAMPLES, POSITIVE_RATE, n_features=2, class_sep=CLASS_SEP,
                                 seed=args.seed + 1000)
dataset = TensorDataset(X_train, y_train.astype(np.float32))
test_x = tg.tensor(X_test, device=args.device)


def make_model():
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 1))


# --- the loop: the same model, start and number of steps for every method -----------------
tg.manual_seed(args.seed)
initial = {k: v.numpy().copy() for k, v in make_model().to(args.device).state_dict().items()}
rows, scores, models = [], {}, {}
for name, (loss_fn, sampling) in METHODS.items():
    pool = (np.arange(len(y_train)) if sampling is None
            else balanced_indices(y_train, mode=sampling, seed=args.seed))
    loader = DataLoader(Subset(dataset, pool), batch_size=BATCH_SIZE, shuffle=True,
                        seed=args.seed, device=args.device)
    model = make_model().to(args.device)
    model.load_state_dict(initial)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    step = 0
    while step < STEPS:                                    # epochs over the (resampled) pool
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb).reshape(-1), yb)
            loss.backward()
            optimizer.step()
            step += 1
            if step == STEPS:
                break
    with tg.no_grad():
        logits = model(test_x).reshape(-1).numpy()
    predicted = (logits > 0).astype(np.int64)
    _, recall, f1 = metrics.precision_recall_f1(y_test, predicted)
    auc = metrics.roc_auc(y_test, logits)
    gmean = metrics.g_mean(y_test, predicted)
    rows.append([name, len(pool), metrics.accuracy(y_test, predicted), recall, f1, gmean, auc])
    scores[name] = {"ROC AUC": auc, "F1": f1, "G-mean": gmean}
    models[name] = model

# --- results -------------------------------------------------------------------------------
print(f"{N_SAMPLES} training samples ({int(y_train.sum())} positive), {len(y_test)} held-out "
      f"({int(y_test.sum())} positive); MLP 2-16-16-1, {STEPS} Adam steps (lr {LR}), batch "
      f"{BATCH_SIZE}, seed {args.seed}")
print(f"(predicting 'negative' for everything scores accuracy {1 - y_test.mean():.4f}, "
      "F1 0, G-mean 0)")
print(format_table(["method", "pool size", "accuracy", "recall", "F1", "G-mean", "ROC AUC"],
                   rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    print("wrote " + viz.plot_bars(scores, os.path.join(args.plot, "focal_loss.png"),
                                   ylabel="held-out score", title="imbalanced 1:50"))
    for name in ("BCE", "BCE pos_weight=50", "focal gamma=2"):
        file = "focal_loss_boundary_" + name.split()[0].lower() + (
            "_weighted" if "pos_weight" in name else "") + (
            "_gamma2" if "gamma" in name else "") + ".png"
        print("wrote " + viz.plot_decision_boundary(models[name], X_test, y_test,
                                                    os.path.join(args.plot, file),
                                                    title=f"{name}: held-out set"))
else:
    print(viz.PLOT_HINT)
