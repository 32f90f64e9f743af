"""Feature engineering on corrupted digits: imputation, clipping, PCA, selection.

Claims (lecture notes, "特征工程" and "特征选择怎么做"): preprocess the data before
training: fill missing values (mean / median / ...), handle outliers, reduce the
dimension (PCA), and select features: drop low-variance ones, or keep those that an
L1 model chooses again and again on subsamples (stability selection: "important
features score close to 100%, the most useless close to 0"). The notes also warn that
dimensionality reduction does not fix overfitting ("降维不能解决过拟合").

Data: the digits (1,438 training, 359 test images, the 80/20 part of experiment 8's
split), corrupted the same way in both parts: each pixel is missing (NaN) with
probability MISSING_RATE, and each observed pixel is replaced by an outlier, a value
drawn uniformly from OUTLIER_RANGE (pixels are 0..16), with probability OUTLIER_RATE.
Missingness is completely at random, so the "was missing" indicator columns carry no
information about the digit. (Clipping at the 1% and 99% quantiles can only reach
outliers rarer than 1% per feature: a first quick run with 2% outliers left them all
in place, so the rate is 0.5%.)

Every pipeline is fitted on the training part only and applied to both parts, then the
features are standardised (training statistics) and one softmax regression (a linear
model, 10 outputs) is trained full-batch by Adam (lr 0.01, STEPS steps, the same seed).
Stability selection: Lasso fits of the one-hot labels (l1 = 0.02, on standardised
features) on RESAMPLES random halves, features kept when selected in >= 60% of them.

    python examples/feature_engineering.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import metrics, nn, optim, viz
from tinygrad_opt.data import standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.preprocessing import (PCA, QuantileClipper, SimpleImputer, StabilitySelection,
                                        VarianceThreshold)

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="feature engineering on corrupted digits")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0, help="corruption, halves, initial weights")
parser.add_argument("--quick", action="store_true", help="fewer steps and resamples")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNGs")
args = parser.parse_args()

MISSING_RATE, OUTLIER_RATE, OUTLIER_RANGE = 0.2, 0.005, (50.0, 200.0)
STEPS, LR = (100 if args.quick else 500), 0.01
CLIP = (0.01, 0.99)                                   # quantiles
PCA_VARIANCE = 0.95
L1, THRESHOLD = 0.02, 0.6
RESAMPLES, MAX_SWEEPS = (2, 3) if args.quick else (20, 30)

# --- data: the digits, then the same corruption process for both parts --------------------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))      # experiment 8's split
n = len(y) // 5
test_index, train_index = order[:n], order[n:]
y_train, y_test = y[train_index], y[test_index]
rng = np.random.default_rng(args.seed)


def corrupt(images):
    images = images.astype(np.float64).copy()
    outlier = rng.random(images.shape) < OUTLIER_RATE
    images[outlier] = rng.uniform(*OUTLIER_RANGE, size=outlier.sum())
    images[rng.random(images.shape) < MISSING_RATE] = np.nan
    return images


clean_train, clean_test = X[train_index], X[test_index]
dirty_train, dirty_test = corrupt(clean_train), corrupt(clean_test)


# --- the model: softmax regression on standardised features --------------------------------
def train_and_score(features_train, features_test):
    """(train accuracy, test accuracy) of a softmax regression on these features."""
    features_train, features_test, _ = standardize(features_train.astype(np.float32),
                                                   features_test.astype(np.float32))
    tg.manual_seed(args.seed)
    model = nn.Linear(features_train.shape[1], 10).to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    inputs = tg.tensor(features_train, device=args.device)
    targets = tg.tensor(y_train, device=args.device)
    for _ in range(STEPS):
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        optimizer.step()
    with tg.no_grad():
        train_logits = model(inputs)
        test_logits = model(tg.tensor(features_test, device=args.device))
    return metrics.accuracy(y_train, train_logits), metrics.accuracy(y_test, test_logits)


def run(name, short, steps, data=(dirty_train, dirty_test)):
    """Fit each step on the training part, apply it to both, train and score the model."""
    features_train, features_test = data
    for step in steps:
        features_train = step.fit_transform(features_train, y_onehot)
        features_test = step.transform(features_test)
    train_accuracy, test_accuracy = train_and_score(features_train, features_test)
    rows.append([name, features_train.shape[1], 100 * train_accuracy, 100 * test_accuracy])
    short_names.append(short)                             # the figure's label
    return features_train


y_onehot = np.eye(10)[y_train]                            # the targets of the Lasso fits
rows, short_names = [], []
# --- the pipelines, each fitted on the training part ------------------------------------------
run("clean digits (no corruption)", "clean", [], (clean_train, clean_test))
run("zero fill", "zero fill", [SimpleImputer("constant", fill_value=0.0)])
run("mean imputation", "mean", [SimpleImputer("mean")])
run("median imputation", "median", [SimpleImputer("median")])
run("median + indicators", "median+ind", [SimpleImputer("median", add_indicator=True)])
run("clip + median", "clip+median", [QuantileClipper(*CLIP), SimpleImputer("median")])
low_variance = VarianceThreshold(0.0)
run("clip + median + indicators + drop constant", "clip+med+ind",
    [QuantileClipper(*CLIP), SimpleImputer("median", add_indicator=True), low_variance])
pca = PCA(PCA_VARIANCE, whiten=True)
run(f"clip + median + drop constant + PCA {PCA_VARIANCE:.0%} (whitened)", "clip+med+PCA",
    [QuantileClipper(*CLIP), SimpleImputer("median"), VarianceThreshold(0.0), pca])
selector = StabilitySelection(l1=L1, n_resamples=RESAMPLES, threshold=THRESHOLD,
                              max_sweeps=MAX_SWEEPS, tol=1e-3, seed=args.seed)
run("clip + median + indicators + drop constant + stability selection",
    "clip+med+ind+stab",
    [QuantileClipper(*CLIP), SimpleImputer("median", add_indicator=True),
     VarianceThreshold(0.0), selector])

# --- what the selection kept: pixels vs "was missing" indicators -----------------------------
kept_after_variance = low_variance.get_support()          # over 64 pixels + 64 indicators
is_indicator = np.arange(len(kept_after_variance)) >= 64
is_indicator = is_indicator[kept_after_variance]          # the selector's input columns
frequencies = selector.frequencies_
support = selector.get_support()
selection_rows = []
for kind, mask in (("pixels", ~is_indicator), ("missing indicators", is_indicator)):
    selection_rows.append([kind, int(mask.sum()), int(support[mask].sum()),
                           float(frequencies[mask].mean()), float(np.median(frequencies[mask])),
                           float(frequencies[mask].min()), float(frequencies[mask].max())])

# --- results -------------------------------------------------------------------------------
print(f"digits: {len(y_train)} training, {len(y_test)} test images; corruption: "
      f"{MISSING_RATE:.0%} missing, {OUTLIER_RATE:.1%} outliers in {OUTLIER_RANGE}; "
      f"softmax regression, Adam lr {LR}, {STEPS} full-batch steps; seed {args.seed}")
print(f"dropped as constant: {int((~kept_after_variance[:64]).sum())} pixels (after clipping "
      f"and imputation); PCA kept {pca.n_components_} components for {PCA_VARIANCE:.0%} of the "
      f"variance; stability selection: l1 {L1}, {RESAMPLES} halves, <= {MAX_SWEEPS} sweeps, "
      f"threshold {THRESHOLD}")
print(format_table(["pipeline", "features", "train acc %", "test acc %"], rows))
print()
print("Stability selection: selection frequency over the halves, by kind of feature")
print(format_table(["features", "count", "kept", "mean freq", "median freq", "min freq",
                    "max freq"], selection_rows))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    print("wrote " + viz.plot_bars({short: row[3] for short, row in zip(short_names, rows)},
                                   os.path.join(args.plot, "feature_engineering.png"),
                                   ylabel="test accuracy %", title="corrupted digits"))
    curves = {kind: np.sort(frequencies[mask])[::-1]
              for kind, mask in (("pixels", ~is_indicator), ("missing indicators", is_indicator))}
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot,
                                                          "feature_engineering_stability.png"),
                                     xlabel="features, most selected first",
                                     ylabel="selection frequency",
                                     title="stability selection"))
else:
    print(viz.PLOT_HINT)
