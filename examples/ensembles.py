"""Experiment 18: model ensembles on the digits MLP.

Claim (lecture notes, "模型集成"): train several independent models and average
their predictions at test time; accuracy rises with the number of models, with
diminishing returns. Cheaper variants: the top models of a search, checkpoints of
one run (snapshots, best at cyclic learning-rate minima), a running average of
the weights (Polyak / EMA); and (Hinton et al.) one network distilled from an
ensemble can keep part of its gain.

All members: MLP 64-64-10 (the student: 64-16-10), Adam, on 300 training digits
(a small training set, so the models are not all perfect and can differ).
Every ensemble is compared with the mean of its members alone.

    python examples/ensembles.py [--quick] [--seed 0] [--device cpu] [--plot DIR]
"""

import argparse
import os

import numpy as np

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import ensemble, nn, optim, tune, viz
from tinygrad_opt.data import DataLoader, TensorDataset, standardize
from tinygrad_opt.datasets import load_digits
from tinygrad_opt.diagnostics import format_table
from tinygrad_opt.optim.swa_utils import AveragedModel
from tinygrad_opt.train import fit

# --- config ------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description="model ensembles")
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--quick", action="store_true", help="fewer members and epochs")
parser.add_argument("--plot", default="plots", metavar="DIR", help="where to write the PNG")
args = parser.parse_args()

MEMBERS = 4 if args.quick else 8
EPOCHS = 10 if args.quick else 20
CYCLE = 5                                        # snapshot ensemble: epochs per lr cycle
SEARCH_TRIALS, TOP_K = (6, 3) if args.quick else (12, 5)
TRAIN_SAMPLES, LR, EMA_DECAY = 300, 1e-3, 0.98

# --- data: digits, 300 training / 20% validation / 20% test examples, standardized ----------
X, y = load_digits()
order = np.random.default_rng(0).permutation(len(y))        # the same split for every seed
n = len(y) // 5
test_index, val_index = order[:n], order[n:2 * n]
train_index = order[2 * n:2 * n + TRAIN_SAMPLES]
X_train, X_val, X_test, _ = standardize(X[train_index], X[val_index], X[test_index])
y_train, y_val, y_test = y[train_index], y[val_index], y[test_index]
train_loader = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True,
                          device=args.device)     # seed=None: the order follows tg.manual_seed
val_loader = DataLoader(TensorDataset(X_val, y_val), batch_size=1024, device=args.device)
test_x, test_y = tg.tensor(X_test, device=args.device), tg.tensor(y_test, device=args.device)


def make_model(hidden=64):
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10)).to(args.device)


def scores(model):
    """(test accuracy %, test NLL) of a model or an Ensemble (whose output is log p̄)."""
    model.eval()
    with tg.no_grad():
        output = model(test_x)
        accuracy = 100 * float((output.argmax(1).numpy() == y_test).mean())
        return accuracy, F.cross_entropy(output, test_y).item()


def row(name, members, combined, singles):
    single = np.mean([scores(m) for m in singles], axis=0)
    ensemble_scores = scores(combined)
    return [name, members, ensemble_scores[0], float(single[0]),
            ensemble_scores[0] - float(single[0]), ensemble_scores[1], float(single[1])]


# --- 1. different seeds: ensembles of the first k members ----------------------------------
seeds = list(range(args.seed, args.seed + MEMBERS))
by_seed = ensemble.train_seeds(make_model, lambda p: optim.Adam(p, lr=LR), nn.CrossEntropyLoss(),
                               train_loader, seeds=seeds, epochs=EPOCHS)
members = list(by_seed)
growth = [row(f"seeds, first {k}", k, ensemble.Ensemble(members[:k]), members[:k])
          for k in range(1, MEMBERS + 1)]

# --- 2. snapshot ensemble: one run, cyclic cosine lr, a snapshot at each cycle's end ------
tg.manual_seed(args.seed)
model = make_model()
optimizer = optim.Adam(model.parameters(), lr=10 * LR)       # cycles restart at a high rate
collector = ensemble.SnapshotCollector(model, every=CYCLE)
fit(model, optimizer, nn.CrossEntropyLoss(), train_loader, epochs=EPOCHS,
    scheduler=optim.lr_scheduler.LambdaLR(optimizer, ensemble.cyclic_cosine(CYCLE)),
    callbacks=[collector], progress=False)
snapshots = collector.ensemble()

# --- 3. Polyak / EMA weights: a running average over the steps of one run ----------------
tg.manual_seed(args.seed)
model = make_model()
averaged = AveragedModel(model, mode="ema", decay=EMA_DECAY)
optimizer = optim.Adam(model.parameters(), lr=10 * LR)       # a high rate: the weights bounce
for epoch in range(EPOCHS):
    model.train()
    for xb, yb in train_loader:
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        averaged.update_parameters(model)


# --- 4. the top-k trials of a random search over lr and weight decay -----------------------
def objective(params):
    tg.manual_seed(params["seed"])
    trained = make_model()
    history = fit(trained, optim.Adam(trained.parameters(), lr=params["lr"],
                                      weight_decay=params["weight_decay"]),
                  nn.CrossEntropyLoss(), train_loader, val_loader, epochs=EPOCHS, progress=False)
    return {"value": history["val_accuracy"][-1], "model": trained}


space = {"lr": tune.loguniform(3e-4, 1e-2), "weight_decay": tune.loguniform(1e-6, 1e-3),
         "seed": args.seed}
search = tune.random_search(objective, space, n_trials=SEARCH_TRIALS, seed=args.seed, mode="max")
top = ensemble.from_search(search, k=TOP_K)

# --- 5. distillation: a small student from the seed ensemble vs the same net alone ----------
tg.manual_seed(args.seed)
student = make_model(hidden=16)
ensemble.distill(by_seed, student, train_loader, temperature=4.0, alpha=0.7, epochs=EPOCHS,
                 optimizer=optim.Adam(student.parameters(), lr=LR))
tg.manual_seed(args.seed)
alone = make_model(hidden=16)
fit(alone, optim.Adam(alone.parameters(), lr=LR), nn.CrossEntropyLoss(), train_loader,
    epochs=EPOCHS, progress=False)

# --- results -------------------------------------------------------------------------------
header = ["method", "members", "test acc %", "mean single acc %", "gain (points)",
          "test NLL", "mean single NLL"]
print(f"Digits MLP 64-64-10, Adam, {TRAIN_SAMPLES} training digits, {EPOCHS} epochs, "
      f"{len(y_test)} test digits, seed {args.seed}")
print("Ensembles of k models from different seeds")
print(format_table(header, growth))
print()
print("Other ensembles (each vs the mean of its members alone)")
others = [growth[-1],
          row(f"snapshots (cyclic cosine, {CYCLE} ep)", len(snapshots), snapshots, list(snapshots)),
          row(f"top {TOP_K} of {SEARCH_TRIALS} random-search trials", len(top), top, list(top)),
          row(f"EMA weights (decay {EMA_DECAY}) vs final", 1, averaged, [model])]
print(format_table(header, others))
print()
distilled, alone_scores, teacher = scores(student), scores(alone), scores(by_seed)
print("Distillation: MLP 64-16-10 from the seed ensemble (T = 4, alpha = 0.7) vs trained alone")
print(format_table(["model", "test acc %", "test NLL"],
                   [[f"teacher ({MEMBERS} seeds)", *teacher], ["student, distilled", *distilled],
                    ["same net, trained alone", *alone_scores]]))
if viz.matplotlib_available():
    os.makedirs(args.plot, exist_ok=True)
    curves = {"ensemble accuracy": [r[2] for r in growth],
              "mean single accuracy": [r[3] for r in growth]}
    print("wrote " + viz.plot_curves(curves, os.path.join(args.plot, "ensembles.png"),
                                     x=[r[1] for r in growth], xlabel="number of models k",
                                     ylabel="test accuracy %",
                                     title="ensembles of k models from different seeds"))
else:
    print(viz.PLOT_HINT)
