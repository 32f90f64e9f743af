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
"BCE class weights" weighs each sample by data.class_weights, N / (2·n_class), the
balanced weights computed from the class counts. F1 and G-mean use the threshold
p = 0.5 (logit 0).

Then, for three of the models, ROC curves (metrics.roc_curve) and decision thresholds
(ROC curves, "选择阈值"): the threshold that maximises F1, and the one that maximises the
G-mean, are chosen on the *training* set (metrics.best_threshold) and applied to the
held-out set, against the default p = 0.5.

    python examples/focal_loss.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import metrics, nn, optim, viz
from tinygrad_opt.data import DataLoader, Subset, TensorDataset, balanced_indices, class_weights
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


def class_weighted_bce(logits, target):
    weight = CLASS_WEIGHTS[0] + (CLASS_WEIGHTS[1] - CLASS_WEIGHTS[0]) * target   # w[y] per sample
    return F.binary_cross_entropy_with_logits(logits, target, weight=weight)


def focal(gamma, alpha=-1.0):
    return lambda logits, target: F.sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma)


METHODS = {                 # name: (loss function, sampling: None, 'over' or 'under')
    "BCE": (bce, None),
    "BCE pos_weight=50": (weighted_bce, None),
    "BCE class weights": (class_weighted_bce, None),
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
train_x = tg.tensor(X_train, device=args.device)
CLASS_WEIGHTS = class_weights(y_train)                     # N / (2 n_c): about 0.51 and 25.5
THRESHOLD_MODELS = ("BCE", "BCE class weights", "focal gamma=2")


def make_model():
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 1))


# --- the loop: the same model, start and number of steps for every method -----------------
tg.manual_seed(args.seed)
initial = {k: v.numpy().copy() for k, v in make_model().to(args.device).state_dict().items()}
rows, scores, models, train_logits, test_logits = [], {}, {}, {}, {}
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
        train_logits[name] = model(train_x).reshape(-1).numpy()
    test_logits[name] = logits
    predicted = (logits > 0).astype(np.int64)
    _, recall, f1 = metrics.precision_recall_f1(y_test, predicted)
    auc = metrics.roc_auc(y_test, logits)
    gmean = metrics.g_mean(y_test, predicted)
    rows.append([name, len(pool), metrics.accuracy(y_test, predicted), recall, f1, gmean, auc])
    scores[name] = {"ROC AUC": auc, "F1": f1, "G-mean": gmean}
    models[name] = model

# --- thresholds chosen on the training set; ROC curves on the held-out set -----------------
def rates_at(threshold, name):
    """Held-out precision, recall, F1 and G-mean predicting 'positive' when logit >= threshold."""
    predicted = (test_logits[name] >= threshold).astype(np.int64)
    precision, recall, f1 = metrics.precision_recall_f1(y_test, predicted)
    return [precision, recall, f1, metrics.g_mean(y_test, predicted)]


threshold_rows, roc_rows, curves = [], [], {}
for name in THRESHOLD_MODELS:
    choices = {"p = 0.5 (default)": 0.0}
    for criterion, rule in (("f1", "max F1 on train"), ("g_mean", "max G-mean on train")):
        threshold, _ = metrics.best_threshold(y_train, train_logits[name], criterion)
        choices[rule] = threshold
    for rule, threshold in choices.items():
        probability = 1.0 / (1.0 + np.exp(-threshold))                      # sigmoid(logit)
        threshold_rows.append([name, rule, f"{probability:.4f}"] + rates_at(threshold, name))
    fpr, tpr, _ = metrics.roc_curve(y_test, test_logits[name])
    curves[name] = (fpr, tpr)
    roc_rows.append([name, metrics.auc(fpr, tpr), len(fpr)]
                    + [tpr[fpr <= limit].max() for limit in (0.01, 0.05, 0.1, 0.2)])

# --- results -------------------------------------------------------------------------------
print(f"{N_SAMPLES} training samples ({int(y_train.sum())} positive), {len(y_test)} held-out "
      f"({int(y_test.sum())} positive); MLP 2-16-16-1, {STEPS} Adam steps (lr {LR}), batch "
      f"{BATCH_SIZE}, seed {args.seed}")
print(f"(predicting 'negative' for everything scores accuracy {1 - y_test.mean():.4f}, "
      "F1 0, G-mean 0)")
print(format_table(["method", "pool size", "accuracy", "recall", "F1", "G-mean", "ROC AUC"],
                   rows))
print()
print("Decision thresholds chosen on the training set, scored on the held-out set")
print(format_table(["model", "threshold rule", "threshold p", "precision", "recall", "F1",
                    "G-mean"], threshold_rows))
print()
print("Held-out ROC curves (metrics.roc_curve; area by metrics.auc)")
print(format_table(["model", "ROC AUC", "curve points", "TPR at FPR<=1%", "TPR at FPR<=5%",
                    "TPR at FPR<=10%", "TPR at FPR<=20%"], roc_rows))
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
    import matplotlib                                           # the ROC curves: one plot
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(5.5, 5.0))
    for name, (fpr, tpr) in curves.items():
        axes.plot(fpr, tpr, label=f"{name} (AUC {metrics.auc(fpr, tpr):.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate (recall)")
    axes.set_title("held-out ROC curves, imbalanced 1:50")
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    path = os.path.join(args.plot, "focal_loss_roc.png")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    print("wrote " + path)
else:
    print(viz.PLOT_HINT)
