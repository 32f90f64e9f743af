"""``tinygrad-opt tune``: a hyperparameter search for the digits MLP.

    tinygrad-opt tune --method bayes --trials 20 --epochs 10 --save runs/tune-1
    tinygrad-opt tune --method coarse-to-fine --trials 30 --epochs 12 --workers 4
    tinygrad-opt tune --method bayes --trials 200 --scheduler tcp://10.0.0.1:8786   # Dask

Searched: what the lecture notes rank first ("the initial learning rate, its decay
schedule (such as the decay constant), the regularisation strength (L2 penalty,
dropout strength)"), on their scales (log for what multiplies, linear for dropout):

    lr            loguniform(1e-4, 1e-1)    initial learning rate (sgd: 1e-3 to 1)
    schedule      choice(none, step, exponential, inverse-time)   the notes' annealings
    decay         loguniform(1e-2, 1)       the schedule's constant k, per epoch:
                                            exponential α0·e^(−k·t), inverse-time
                                            α0/(1 + k·t), step: halve every
                                            round(ln 2 / k) epochs (the same average
                                            rate); unused with 'none'
    weight_decay  loguniform(1e-6, 1e-2)    L2 strength
    dropout       uniform(0.0, 0.5)         dropout strength, after the ReLU
    momentum      choice(0.5, 0.9, 0.95, 0.99)   with --optimizer sgd only (the notes
                                            put momentum among the less sensitive ones)

Each trial trains ``Linear(64, 64) -> ReLU -> Dropout -> Linear(64, 10)``
with ``--optimizer`` (Adam by default) for ``--epochs`` epochs (coarse-to-fine: a
quarter, a half, then all of them in its three stages), the schedule stepped once
per epoch, on the training part of the shipped digits and returns the
*validation* accuracy (mode ``'max'``). The split is fixed:
20% test, 20% validation, 60% training, features standardised with the
training part's statistics; the test accuracy of each trial is recorded in its
extras but never used to choose.

``add_tune_command(subparsers)`` registers the command with the main parser
(tinygrad_opt/cli/__init__.py); ``run_tune(args)`` does the work and returns the exit status.
The searches themselves are the library's (tinygrad_opt/tune/); this module is the
digits task and its flags.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import time

import numpy as np

from tinygrad_opt.cli.args import check_creatable_directory, positive_int, random_seed
from tinygrad_opt.tune import (bayes_search, choice, coarse_to_fine, grid_search, loguniform,
                               random_search, uniform)

METHODS = ("random", "grid", "bayes", "coarse-to-fine")
TUNED_OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "step", "exponential", "inverse-time")
SPLIT_SEED = 0          # the same train / validation / test split whatever --seed is
HIDDEN = 64             # not searched: the notes do not rank the width among the first


def search_space(epochs: int, seed: int, optimizer: str = "adam") -> dict:
    """The searched ranges, plus the constants every trial needs."""
    if optimizer not in TUNED_OPTIMIZERS:
        raise ValueError(f"tune: optimizer must be one of {', '.join(TUNED_OPTIMIZERS)}, "
                         f"got {optimizer!r}")
    space = {
        "lr": loguniform(1e-4, 1e-1) if optimizer == "adam" else loguniform(1e-3, 1.0),
        "schedule": choice(list(SCHEDULES)),
        "decay": loguniform(1e-2, 1.0),
        "weight_decay": loguniform(1e-6, 1e-2),
        "dropout": uniform(0.0, 0.5),
    }
    if optimizer == "sgd":
        space["momentum"] = choice([0.5, 0.9, 0.95, 0.99])
    space.update(optimizer=optimizer, hidden=HIDDEN,   # constants: passed through unchanged
                 epochs=epochs, seed=seed)
    return space


def make_scheduler(name: str, decay: float, optimizer):
    """The schedule of a trial, stepped once per epoch; None for 'none'."""
    from tinygrad_opt.optim import lr_scheduler
    if name == "none":
        return None
    if name == "step":           # halve every round(ln 2 / k) epochs: e^(−k·t) on average
        return lr_scheduler.StepLR(optimizer, step_size=max(1, round(math.log(2) / decay)),
                                   gamma=0.5)
    if name == "exponential":    # α0·e^(−k·t)
        return lr_scheduler.ExponentialLR(optimizer, gamma=math.exp(-decay))
    if name == "inverse-time":   # α0 / (1 + k·t)
        return lr_scheduler.InverseTimeLR(optimizer, k=decay)
    raise ValueError(f"tune: unknown schedule {name!r}; expected one of {', '.join(SCHEDULES)}")


@functools.lru_cache(maxsize=1)
def digits_splits() -> dict:
    """``{'train': (X, y), 'val': (X, y), 'test': (X, y)}``, standardised; cached per process."""
    from tinygrad_opt.datasets import load_digits
    X, y = load_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(X))
    n_test = n_val = round(0.2 * len(X))
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val],
             "train": order[n_test + n_val:]}
    mean = X[parts["train"]].mean(axis=0)                                 # (64,)
    std = X[parts["train"]].std(axis=0) + 1e-6             # (64,); + 1e-6: some pixels are constant
    X = ((X - mean) / std).astype(np.float32)
    return {name: (X[indices], y[indices]) for name, indices in parts.items()}


def digits_objective(params: dict) -> dict:
    """Train the MLP of ``params``; return its validation accuracy and extras.

    A top-level function, so a process pool can pickle it. ``params['budget']``
    (coarse-to-fine) overrides ``params['epochs']``.
    """
    import tinygrad_opt as tg
    from tinygrad_opt import nn, optim
    from tinygrad_opt.data import DataLoader, TensorDataset
    from tinygrad_opt.train import evaluate, fit

    epochs = int(params.get("budget", params["epochs"]))
    tg.manual_seed(params["seed"])
    splits = digits_splits()
    train_loader = DataLoader(TensorDataset(*splits["train"]), batch_size=32, shuffle=True,
                              seed=params["seed"])
    val_loader = DataLoader(TensorDataset(*splits["val"]), batch_size=1024)
    test_loader = DataLoader(TensorDataset(*splits["test"]), batch_size=1024)
    hidden = params.get("hidden", HIDDEN)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(),
                          nn.Dropout(params["dropout"]), nn.Linear(hidden, 10))
    if params.get("optimizer", "adam") == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=params["lr"],
                              momentum=params.get("momentum", 0.9),
                              weight_decay=params["weight_decay"])
    else:
        optimizer = optim.Adam(model.parameters(), lr=params["lr"],
                               weight_decay=params["weight_decay"])
    scheduler = make_scheduler(params.get("schedule", "none"), params.get("decay", 0.0),
                               optimizer)
    history = fit(model, optimizer, nn.CrossEntropyLoss(), train_loader, val_loader,
                  epochs=epochs, scheduler=scheduler, progress=False)
    test = evaluate(model, test_loader, metrics=("accuracy",))
    return {"value": history["val_accuracy"][-1], "val_loss": history["val_loss"][-1],
            "train_loss": history["train_loss"][-1], "test_accuracy": test["accuracy"],
            "epochs": epochs}


def add_tune_command(subparsers) -> argparse.ArgumentParser:
    """Add the ``tune`` command to ``subparsers`` (from ``parser.add_subparsers()``)."""
    parser = subparsers.add_parser(
        "tune", help="search the initial lr, its decay schedule, weight decay and dropout "
                     "(and momentum for sgd) for the digits MLP",
        description="Hyperparameter search for an MLP on the shipped 8x8 digits, over what "
                    "the lecture notes rank first: the initial learning rate (log scale), its "
                    "decay schedule (none, step, exponential, inverse-time) and decay "
                    "constant (log scale), the L2 strength (log scale) and dropout; with "
                    "--optimizer sgd also the momentum. Each trial reports its validation "
                    "accuracy; prints the table of trials and the best configuration.")
    parser.add_argument("--method", choices=METHODS, default="random",
                        help="search method (default random)")
    parser.add_argument("--optimizer", choices=TUNED_OPTIMIZERS, default="adam",
                        help="the trials' optimizer (default adam; sgd also searches momentum)")
    parser.add_argument("--trials", type=positive_int, default=12,
                        help="number of trials (default 12; grid: the largest full grid "
                        "that fits)")
    parser.add_argument("--epochs", type=positive_int, default=5,
                        help="training epochs per trial (default 5; coarse-to-fine stages "
                        "use 1/4, 1/2 and all of them)")
    parser.add_argument("--seed", type=random_seed, default=0,
                        help="seed of the search and of every trial's model (default 0)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="parallel trials in worker processes (default 1: in this process)")
    parser.add_argument("--scheduler", metavar="ADDRESS|local:N",
                        help="run the trials on a Dask cluster: the address of a running "
                        "'dask scheduler' (tcp://host:8786), or local:N for N worker "
                        "processes on this machine; bayes proposes as many trials at once as "
                        "the cluster has worker threads (needs the distributed extra)")
    parser.add_argument("--save", metavar="DIR",
                        help="write one JSON file per trial, named by rank and validation "
                        "accuracy, and search.json, to DIR")
    parser.add_argument("--overwrite", action="store_true",
                        help="with --save: replace the trial files of an earlier search in DIR")
    parser.add_argument("--no-progress", action="store_true",
                        help="do not print a line per finished trial")
    parser.set_defaults(run=run_tune)
    return parser


def _stages(trials: int, epochs: int) -> list[dict]:
    """Coarse-to-fine: trials split about 1/2, 1/3, 1/6; epochs 1/4, 1/2, all (the last stage
    always trains for all ``epochs``; fewer than 3 trials give fewer stages)."""
    first = math.ceil(trials / 2)
    second = min(math.ceil(trials / 3), trials - first)
    counts = [count for count in (first, second, trials - first - second) if count > 0]
    budgets = [max(1, epochs // 4), max(1, epochs // 2), epochs][-len(counts):]
    return [{"n_trials": count, "budget": budget} for count, budget in zip(counts, budgets)]


def run_tune(args) -> int:
    """Run the search described by the parsed ``args``; print the table and the best trial."""
    from concurrent.futures import ProcessPoolExecutor

    from tinygrad_opt.tune.result import earlier_trial_files

    if args.overwrite and args.save is None:
        raise ValueError("--overwrite applies to --save DIR, which is not given")
    if args.save is not None:       # fail before the search, not after it
        check_creatable_directory(args.save, "--save")
        if earlier_trial_files(args.save) and not args.overwrite:
            raise ValueError(f"--save {args.save}: the directory already holds the trial files "
                             "of an earlier search; add --overwrite to replace them")
    if args.scheduler is not None and args.workers > 1:
        raise ValueError("--workers starts local worker processes; with --scheduler the "
                         "Dask cluster's workers run the trials: give one or the other")
    space = search_space(args.epochs, args.seed, args.optimizer)
    progress = not args.no_progress
    client = None
    if args.scheduler is not None:   # Dask: trials go to the cluster's workers
        from tinygrad_opt.distributed import dask_client
        client = dask_client(args.scheduler)
        executor = client.get_executor()
        workers = sum(client.nthreads().values())
    else:
        executor = ProcessPoolExecutor(max_workers=args.workers) if args.workers > 1 else None
        workers = args.workers
    where = f" on Dask ({args.scheduler})" if client is not None else ""
    print(f"tune: {args.method} search, {args.trials} trials, {args.epochs} epochs each, "
          f"{workers} worker{'s' if workers > 1 else ''}{where}; maximising validation "
          f"accuracy of the digits MLP ({args.optimizer})", flush=True)
    start = time.perf_counter()
    try:
        common = dict(seed=args.seed, mode="max", executor=executor, progress=progress)
        if args.method == "random":
            result = random_search(digits_objective, space, n_trials=args.trials, **common)
        elif args.method == "grid":
            result = grid_search(digits_objective, space, n_trials=args.trials, **common)
        elif args.method == "bayes":
            result = bayes_search(digits_objective, space, n_trials=args.trials,
                                  batch_size=workers, **common)
        else:
            result = coarse_to_fine(digits_objective, space,
                                    stages=_stages(args.trials, args.epochs), **common)
    finally:
        if executor is not None:
            executor.shutdown()
        if client is not None:
            client.close()           # and the local cluster it started, if any
    seconds = time.perf_counter() - start
    print()
    print(result.summary())
    print()
    try:
        best = result.best
    except RuntimeError as error:
        raise RuntimeError(f"tune: {error}") from None
    searched = [name for name in space if name in best.params and
                not isinstance(space[name], (int, float, str))]
    shown = ", ".join(f"{name}={best.params[name]:.4g}" if isinstance(best.params[name], float)
                      else f"{name}={best.params[name]}" for name in searched)
    print(f"best configuration (trial {best.number}): {shown}")
    print(f"validation accuracy: {best.value:.4f}   test accuracy: "
          f"{best.extras['test_accuracy']:.4f}   ({best.extras['epochs']} epochs)")
    if args.save is not None:
        written = result.save(args.save, overwrite=args.overwrite)
        print(f"saved {len(written)} files to {args.save}")
    print(f"search time: {seconds:.1f} s")
    return 0
