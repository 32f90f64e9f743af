"""``tinygrad-opt train``: train an MLP (or the digits CNN) and report its test accuracy.

    tinygrad-opt train --hidden 128,64 --optimizer sgd --lr 0.05 --schedule cosine
    tinygrad-opt train --save digits.ckpt      then      tinygrad-opt train --load digits.ckpt

The data are the shipped 8x8 digits (or a 2-D toy set), split once with a fixed
seed into train / validation / test; ``--save`` writes a checkpoint (model,
optimizer state, config), ``--load`` evaluates one. ``lr-find`` builds its model,
data and optimizer with this module's functions.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

from tinygrad_opt.cli.args import (PROG, UsageError, check_writable_file, finite_float,
                                   flag_names, hidden_sizes, momentum, non_negative_float,
                                   plot_available, positive_float, positive_int, probability,
                                   random_seed)

DATA_SETS = ("digits", "spiral", "moons", "xor")
ACTIVATIONS = {
    "relu": "ReLU", "leaky_relu": "LeakyReLU", "prelu": "PReLU", "rrelu": "RReLU",
    "elu": "ELU", "selu": "SELU", "gelu": "GELU", "silu": "SiLU", "sigmoid": "Sigmoid",
    "tanh": "Tanh", "softplus": "Softplus", "softsign": "Softsign", "hardtanh": "Hardtanh",
    "relu6": "ReLU6", "celu": "CELU", "mish": "Mish", "hardswish": "Hardswish",
    "hardsigmoid": "Hardsigmoid", "logsigmoid": "LogSigmoid", "tanhshrink": "Tanhshrink",
    "softshrink": "Softshrink", "hardshrink": "Hardshrink",
}
OPTIMIZERS = {
    # name: (class name in optim, default learning rate)
    "sgd": ("SGD", 0.05),
    "adam": ("Adam", 1e-3),
    "adamw": ("AdamW", 1e-3),
    "rmsprop": ("RMSprop", 1e-3),
    "adagrad": ("Adagrad", 3e-2),
    "adadelta": ("Adadelta", 1.0),
    "nadam": ("NAdam", 2e-3),
    "adamax": ("Adamax", 2e-3),
    "radam": ("RAdam", 1e-3),
    "asgd": ("ASGD", 1e-2),
    "rprop": ("Rprop", 1e-2),
    "adafactor": ("Adafactor", 1e-2),
}
SCHEDULES = ("none", "step", "exponential", "inverse-time", "plateau", "cosine")
SPLIT_SEED = 0        # the train/val/test split is the same whatever --seed is
TEST_FRACTION = 0.2


def add_train_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train an MLP on the digits (or a 2-D toy set) and report test accuracy",
        description="Train an MLP classifier and print one line per epoch and the final test "
                    "accuracy. The data are split once (fixed seed) into train / validation / "
                    f"test ({TEST_FRACTION:.0%} test); features are standardized with the "
                    "training part's statistics.")
    data = parser.add_argument_group("data")
    data.add_argument("--data", choices=DATA_SETS, default="digits",
                      help="data set (default: digits, the shipped 8x8 handwritten digits)")
    data.add_argument("--val-fraction", type=_val_fraction, default=0.2, metavar="F",
                      help="fraction of the data used for validation, 0 <= F < 0.8 (default 0.2)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=("mlp", "cnn"), default="mlp",
                       help="mlp (default), or cnn: a small convolutional net for the 8x8 "
                       "digits (conv-BN-ReLU x2, max pool, Linear 512-64-10, dropout 0.3; "
                       "--hidden, --activation, --batchnorm and --dropout are for the mlp)")
    model.add_argument("--hidden", type=hidden_sizes, default=(128,), metavar="W[,W...]",
                       help="hidden layer widths, e.g. 128,64 (default 128)")
    model.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                       help="hidden-layer activation (default relu)")
    model.add_argument("--batchnorm", action="store_true",
                       help="BatchNorm1d after each hidden Linear layer")
    model.add_argument("--dropout", type=probability, default=0.0, metavar="P",
                       help="dropout probability after each hidden activation (default 0)")
    training = parser.add_argument_group("optimization")
    training.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                          help="update rule (default adam)")
    training.add_argument("--lr", type=positive_float, default=None,
                          help="learning rate (default: "
                          + ", ".join(f"{name} {lr:g}" for name, (_, lr) in OPTIMIZERS.items())
                          + ")")
    training.add_argument("--momentum", type=momentum, default=None,
                          help="momentum of sgd (default 0.9) or rmsprop (default 0), "
                          "0 <= m < 1")
    training.add_argument("--weight-decay", type=non_negative_float, default=None,
                          help="L2 weight decay (default: the optimizer's, 0; adamw 0.01)")
    training.add_argument("--schedule", choices=SCHEDULES, default="none",
                          help="learning-rate schedule (default none): step (x0.1 every "
                          "third of the epochs), exponential (x0.95 per epoch), inverse-time "
                          "(lr/(1+0.1 t)), plateau (x0.5 after 3 epochs without val-loss "
                          "improvement), cosine (to 0 at the last epoch)")
    training.add_argument("--epochs", type=positive_int, default=40, help="default 40")
    training.add_argument("--batch-size", type=positive_int, default=32, help="default 32")
    training.add_argument("--patience", type=positive_int, default=None,
                          help="early stopping: stop after this many epochs without "
                          "val-loss improvement and keep the best weights (default off)")
    training.add_argument("--seed", type=random_seed, default=0,
                          help="seed of the initialization and the batch order (default 0)")
    training.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                          help="cpu (NumPy) or cuda (CuPy) (default cpu)")
    training.add_argument("--distributed", action="store_true",
                          help="data-parallel training over MPI: run as mpirun -n P "
                          f"{PROG} train --distributed; each process trains on its shard "
                          "with --batch-size examples per step (P times that in all) and "
                          "the gradients are averaged; only rank 0 prints, saves and plots "
                          "(needs the distributed extra)")
    output = parser.add_argument_group("output")
    output.add_argument("--save", metavar="PATH",
                        help="write a checkpoint (model, optimizer state, config) to PATH")
    output.add_argument("--overwrite", action="store_true",
                        help="with --save: replace an existing file at PATH")
    output.add_argument("--load", metavar="PATH",
                        help="do not train: evaluate the checkpoint at PATH on the test split")
    output.add_argument("--plot", metavar="DIR",
                        help="write loss, accuracy and learning-rate curves as PNG files to DIR")
    output.add_argument("--no-progress", action="store_true",
                        help="no progress bars (implied when the output is not a terminal)")
    parser.set_defaults(run=run_train)


def _val_fraction(text: str) -> float:
    value = finite_float(text)
    if not 0 <= value < 1 - TEST_FRACTION:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, {1 - TEST_FRACTION:g}), "
                                         f"got {text!r}")
    return value


def load_data(name: str):
    """``(X, y, num_classes)`` of a data set as host arrays; fixed (seeded) for toy sets."""
    from tinygrad_opt import datasets
    if name == "digits":
        X, y = datasets.load_digits()
        return X, y, 10
    if name == "spiral":
        X, y = datasets.spiral(n_per_class=200, n_classes=3, seed=SPLIT_SEED)
        return X, y, 3
    if name == "moons":
        X, y = datasets.moons(n_samples=600, noise=0.2, seed=SPLIT_SEED)
        return X, y, 2
    X, y = datasets.xor(n_samples=600, noise=0.1, seed=SPLIT_SEED)
    return X, y, 2


def split_indices(n: int, val_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indices from one fixed permutation of ``range(n)``.

    The test part is the first ``round(0.2 n)`` indices of the permutation, so
    it does not change with ``val_fraction``: a checkpoint trained with any
    validation fraction is tested on the same samples.
    """
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = round(TEST_FRACTION * n)
    n_val = round(val_fraction * n)
    test = order[:n_test]
    val = order[n_test:n_test + n_val]
    train = order[n_test + n_val:]
    return train, val, test


def build_mlp(in_features: int, hidden: tuple, out_features: int, activation: str = "relu",
              batchnorm: bool = False, dropout: float = 0.0):
    """``Linear -> [BatchNorm1d] -> activation -> [Dropout]`` per hidden layer, then a Linear."""
    from tinygrad_opt import nn
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: expected one of "
                         + ", ".join(sorted(ACTIVATIONS)))
    layers = []
    width = in_features
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if batchnorm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(getattr(nn, ACTIVATIONS[activation])())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def build_model(config: dict):
    """The model a ``train`` config describes: the MLP, or the digits CNN."""
    if config.get("model", "mlp") == "cnn":  # checkpoints written before --model: mlp
        from tinygrad_opt.models import DigitsCNN
        return DigitsCNN(config["num_classes"])
    return build_mlp(config["in_features"], tuple(config["hidden"]), config["num_classes"],
                     config["activation"], config["batchnorm"], config["dropout"])


def build_optimizer(name: str, parameters, lr=None, momentum=None, weight_decay=None):
    from tinygrad_opt import optim
    class_name, default_lr = OPTIMIZERS[name]
    keywords = {"lr": default_lr if lr is None else lr}
    if name == "sgd":
        keywords["momentum"] = 0.9 if momentum is None else momentum
    elif name == "rmsprop":
        keywords["momentum"] = 0.0 if momentum is None else momentum
    elif momentum is not None:
        raise UsageError(f"--momentum applies to sgd and rmsprop, not {name}")
    if weight_decay is not None:
        if name == "rprop":
            raise UsageError("--weight-decay does not apply to rprop (Rprop has no decay term)")
        keywords["weight_decay"] = weight_decay
    return getattr(optim, class_name)(parameters, **keywords)


def build_scheduler(name: str, optimizer, epochs: int):
    from tinygrad_opt.optim import lr_scheduler
    if name == "none":
        return None
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=0.95)
    if name == "inverse-time":
        return lr_scheduler.InverseTimeLR(optimizer, k=0.1)
    if name == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=3)
    return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)


def plot_history(history, directory: str) -> list[str]:
    """Write ``loss.png``, ``accuracy.png`` and ``lr.png`` (those with data) to ``directory``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(directory, exist_ok=True)
    epochs = [epoch + 1 for epoch in history["epoch"]]
    figures = {
        "loss.png": (["train_loss", "val_loss"], "loss", False),
        "accuracy.png": (["train_accuracy", "val_accuracy"], "accuracy", False),
        "lr.png": (["lr"], "learning rate", True),
    }
    written = []
    for file_name, (keys, label, log_scale) in figures.items():
        keys = [key for key in keys if key in history]
        if not keys:
            continue
        figure, axes = plt.subplots(figsize=(6, 4))
        for key in keys:
            axes.plot(epochs, history[key], label=key)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        if log_scale and min(history[keys[0]]) > 0:
            axes.set_yscale("log")
        axes.legend()
        axes.grid(alpha=0.3)
        path = os.path.join(directory, file_name)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)
    return written


def prepare_data(name: str, val_fraction: float, device: str, batch_size: int, seed: int,
                  mean=None, std=None, distributed: bool = False):
    """Loaders for train / val / test and the standardization statistics."""
    from tinygrad_opt.data import DataLoader, TensorDataset, standardize
    X, y, num_classes = load_data(name)
    train, val, test = split_indices(len(X), val_fraction)
    if mean is None:  # statistics of the training part only
        _, X, (mean, std) = standardize(X[train], X)                   # (N, D) standardized
    else:             # a checkpoint's statistics
        X = ((X - mean) / std).astype(np.float32)                      # (N, D) standardized
    loaders = {}
    for part, indices in (("train", train), ("val", val), ("test", test)):
        if len(indices) == 0:
            loaders[part] = None
            continue
        dataset = TensorDataset(X[indices], y[indices])
        if part == "train" and distributed:   # this rank's shard of each epoch's permutation
            from tinygrad_opt.distributed import DistributedSampler
            loaders[part] = DataLoader(dataset, batch_size=batch_size, device=device,
                                       sampler=DistributedSampler(dataset, seed=seed))
        elif part == "train":
            loaders[part] = DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=seed,
                                       device=device)
        else:
            loaders[part] = DataLoader(dataset, batch_size=1024, device=device)
    sizes = {part: len(indices) for part, indices in (("train", train), ("val", val),
                                                      ("test", test))}
    return loaders, sizes, X.shape[1], num_classes, mean, std


def run_train(args) -> int:
    import tinygrad_opt as tg
    from tinygrad_opt import backend, nn
    from tinygrad_opt.serialization import save
    from tinygrad_opt.train import EarlyStopping, evaluate, fit, format_epoch

    given = getattr(args, "given", set())        # flags written on the command line
    if args.load is not None:
        unused = given - {"load", "device", "no_progress"}
        if unused:    # the checkpoint's own config decides everything else
            raise UsageError(f"--load evaluates a checkpoint as it was trained; it cannot be "
                             f"combined with {flag_names(unused)}")
    device = backend.check_device(args.device)   # a clear error if cuda is not there
    if args.load is not None:
        return _evaluate_checkpoint(args.load, device)
    if args.model == "cnn" and given & {"hidden", "activation", "batchnorm", "dropout"}:
        raise UsageError(f"--model cnn has a fixed architecture; "
                         f"{flag_names(given & {'hidden', 'activation', 'batchnorm', 'dropout'})}"
                         " apply to the mlp")
    if args.overwrite and args.save is None:
        raise UsageError("--overwrite applies to --save PATH, which is not given")
    if args.save is not None:
        check_writable_file(args.save, "--save")
        if os.path.exists(args.save) and not args.overwrite:
            raise UsageError(f"--save {args.save}: the file exists; add --overwrite to "
                             "replace it")
    main_process = _start_distributed(args) if args.distributed else True
    plot = plot_available(args.plot)

    if args.model == "cnn" and args.data != "digits":
        raise UsageError(f"--model cnn needs --data digits (8x8 images), not {args.data}")
    tg.manual_seed(args.seed)
    loaders, sizes, in_features, num_classes, mean, std = prepare_data(
        args.data, args.val_fraction, device, args.batch_size, args.seed,
        distributed=args.distributed)
    config = {
        "data": args.data, "model": args.model, "hidden": list(args.hidden),
        "activation": args.activation,
        "batchnorm": args.batchnorm, "dropout": args.dropout, "in_features": in_features,
        "num_classes": num_classes, "optimizer": args.optimizer, "lr": args.lr,
        "momentum": args.momentum, "weight_decay": args.weight_decay,
        "schedule": args.schedule, "epochs": args.epochs, "batch_size": args.batch_size,
        "patience": args.patience, "seed": args.seed, "val_fraction": args.val_fraction,
    }
    model = build_model(config).to(device)
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum,
                                args.weight_decay)
    scheduler = build_scheduler(args.schedule, optimizer, args.epochs)
    early_stopping = None if args.patience is None else EarlyStopping(patience=args.patience)
    # bars only on a terminal: redirected output gets the plain epoch lines
    progress = not args.no_progress and sys.stdout.isatty() and sys.stderr.isatty()
    widths = "-".join(str(width) for width in (in_features, *args.hidden, num_classes))
    described = "CNN (DigitsCNN)" if args.model == "cnn" else f"MLP {widths} ({args.activation})"
    print(f"{args.data}: {sizes['train']} train, {sizes['val']} val, {sizes['test']} test | "
          f"{described} | {args.optimizer} lr "
          f"{optimizer.param_groups[0]['lr']:g} | {args.epochs} epochs, batch {args.batch_size}")

    def print_epoch(epoch, logs):  # with progress bars on, fit prints this line itself
        print(format_epoch(epoch, args.epochs, logs), flush=True)

    start = time.perf_counter()
    # a diverging run ends with fit's one-line FloatingPointError, not a screen of NumPy
    # overflow warnings on the way there
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        history = fit(model, optimizer, nn.CrossEntropyLoss(), loaders["train"],
                      loaders["val"], epochs=args.epochs, scheduler=scheduler,
                      early_stopping=early_stopping, metrics=("accuracy",),
                      callbacks=() if progress else (print_epoch,), progress=progress,
                      distributed=args.distributed)
    seconds = time.perf_counter() - start
    if history.stopped_epoch is not None:
        print(f"early stopping after epoch {history.stopped_epoch + 1}; "
              f"best epoch {history.best_epoch + 1}")
    test = evaluate(model, loaders["test"], metrics=("accuracy",))
    if args.save is not None and main_process:
        save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
              "config": config, "standardize": {"mean": mean, "std": std},
              "history": history.as_dict(), "test_accuracy": test["accuracy"]}, args.save)
        print(f"saved checkpoint to {args.save}")
    if plot and main_process:
        for path in plot_history(history, args.plot):
            print(f"wrote {path}")
    print(f"training time: {seconds:.1f} s")
    print(f"test accuracy: {test['accuracy']:.4f}")
    return 0


def _start_distributed(args) -> bool:
    """``train --distributed``: join the MPI job; True on rank 0, the process that reports.

    The other ranks train as much as rank 0 but print nothing: their standard
    output goes to /dev/null (errors still reach standard error)."""
    from tinygrad_opt import distributed
    rank, world_size = distributed.init()
    if rank != 0:
        sys.stdout = open(os.devnull, "w")
    print(f"distributed: {world_size} process{'es' if world_size > 1 else ''} (MPI), batch "
          f"{args.batch_size} per process, {args.batch_size * world_size} per step")
    return rank == 0


def _evaluate_checkpoint(path: str, device: str) -> int:
    """``train --load PATH``: rebuild the saved model and report its test accuracy."""
    from tinygrad_opt.serialization import load
    from tinygrad_opt.train import evaluate

    config, state, mean, std = _train_checkpoint(load(path, device=device), path)
    data, val_fraction = config["data"], config["val_fraction"]
    model = build_model(config)
    model.to(device)
    model.load_state_dict(state)
    loaders, sizes, _, _, _, _ = prepare_data(data, val_fraction, device, 1024, 0,
                                               mean=mean, std=std)
    test = evaluate(model, loaders["test"], metrics=("accuracy",))
    print(f"{data}: {sizes['test']} test samples | checkpoint {path}")
    print(f"test accuracy: {test['accuracy']:.4f}")
    return 0


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(value))


def _train_checkpoint(checkpoint, path: str):
    """``(config, model state, mean, std)`` of a ``train --save`` checkpoint, every field checked.

    Each malformed field is a CheckpointError naming it, before a model is built: an
    absurd ``hidden`` must not allocate gigabytes, a string mean must not reach NumPy.
    """
    from tinygrad_opt.serialization import CheckpointError
    from tinygrad_opt.tensor import Tensor

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"'{path}' is a tinygrad_opt checkpoint but not one written by "
                               f"'{PROG} train --save': {what}")

    if not isinstance(checkpoint, dict):
        raise bad(f"it holds a {type(checkpoint).__name__}, not a dict")
    for key in ("config", "model", "standardize"):
        if not isinstance(checkpoint.get(key), dict):
            raise bad(f"'{key}' is {_short(checkpoint.get(key))}, expected a dict")
    config, state = checkpoint["config"], checkpoint["model"]
    kind = config.get("model", "mlp")        # checkpoints written before --model: mlp
    checks = [
        ("model", kind in ("mlp", "cnn"), "'mlp' or 'cnn'"),
        ("data", config.get("data") in DATA_SETS, "one of " + ", ".join(DATA_SETS)),
        ("val_fraction", _is_real(config.get("val_fraction"))
         and 0 <= config["val_fraction"] < 1 - TEST_FRACTION,
         f"a number in [0, {1 - TEST_FRACTION:g})"),
        ("in_features", _is_int(config.get("in_features")) and config["in_features"] >= 1,
         "a positive integer"),
        ("num_classes", _is_int(config.get("num_classes")) and config["num_classes"] >= 2,
         "an integer >= 2"),
    ]
    if kind == "mlp":
        hidden = config.get("hidden")
        checks += [
            ("hidden", isinstance(hidden, (list, tuple)) and len(hidden) > 0
             and all(_is_int(width) and width >= 1 for width in hidden),
             "a non-empty list of positive layer widths"),
            ("activation", config.get("activation") in ACTIVATIONS, "an activation name"),
            ("batchnorm", isinstance(config.get("batchnorm"), bool), "true or false"),
            ("dropout", _is_real(config.get("dropout")) and 0 <= config["dropout"] < 1,
             "a probability in [0, 1)"),
        ]
    for key, ok, expected in checks:
        if not ok:
            found = "missing" if key not in config else f"{_short(config[key])}"
            raise bad(f"config '{key}' is {found}, expected {expected}")
    X, _, num_classes = load_data(config["data"])
    if (config["in_features"], config["num_classes"]) != (X.shape[1], num_classes):
        raise bad(f"the model has {config['in_features']} inputs and {config['num_classes']} "
                  f"classes but the {config['data']} data have {X.shape[1]} and {num_classes}")
    for name in ("mean", "std"):
        value = checkpoint["standardize"].get(name)
        if (not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu"
                or value.shape != (X.shape[1],) or not np.all(np.isfinite(value))):
            raise bad(f"standardize '{name}' is {_short(value)}, expected {X.shape[1]} finite "
                      "numbers")
    if np.any(checkpoint["standardize"]["std"] == 0):
        raise bad("standardize 'std' has zeros")
    if not all(isinstance(value, (Tensor, np.ndarray)) for value in state.values()):
        raise bad("'model' holds values that are not tensors")
    for key, value in state.items():     # NumPy would cast strings, dates or records
        if np.dtype(value.dtype).kind not in "biuf":
            raise bad(f"'model' '{key}' has dtype {value.dtype}, expected real numbers")
    if kind == "mlp":   # the parameters the config describes must be in the file
        widths = [config["in_features"], *config["hidden"], config["num_classes"]]
        described = sum(a * b + b for a, b in zip(widths, widths[1:]))
        stored = sum(math.prod(value.shape) for value in state.values())
        if described > stored:
            raise bad(f"config 'hidden' {_short(config['hidden'])} describes {described:,} "
                      f"weights but the file holds {stored:,}")
    return config, state, checkpoint["standardize"]["mean"], checkpoint["standardize"]["std"]


def _short(value) -> str:
    text = repr(value) if not isinstance(value, np.ndarray) else \
        f"an array of dtype {value.dtype} and shape {value.shape}"
    return text if len(text) <= 60 else text[:57] + "..."
