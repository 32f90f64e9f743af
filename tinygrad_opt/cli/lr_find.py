"""``tinygrad-opt lr-find``: the learning-rate range test of tinygrad_opt/diagnostics.py.

    tinygrad-opt lr-find --optimizer sgd --hidden 128,64 --plot figures/

Trains the digits MLP of ``tinygrad-opt train`` (its model, data and optimizer
are built by tinygrad_opt/cli/train.py) while the learning rate grows
geometrically, prints the smoothed loss against the rate and suggests a rate
(:func:`tinygrad_opt.diagnostics.lr_range_test`).
"""

from __future__ import annotations

import os

import numpy as np  # host-side: the recorded losses are plain NumPy arrays

from tinygrad_opt.cli.args import (hidden_sizes, momentum, non_negative_float, plot_available,
                                   positive_float, positive_int, random_seed)
from tinygrad_opt.cli.train import (ACTIVATIONS, DATA_SETS, OPTIMIZERS, build_mlp,
                                    build_optimizer, prepare_data)
from tinygrad_opt.diagnostics import format_table, lr_range_test, plot_lr_range_test


def add_lr_find_command(subparsers) -> None:
    """Register ``tinygrad-opt lr-find``."""
    parser = subparsers.add_parser(
        "lr-find", help="learning-rate range test: loss while the rate grows; suggests a rate",
        description="Train the digits MLP of 'tinygrad-opt train' for a few hundred "
                    "mini-batches while the learning rate grows geometrically from --lr-min "
                    "to --lr-max; print the smoothed loss against the rate and suggest a "
                    "rate (the one at the lowest loss, divided by 10). The model's weights "
                    "are not kept.")
    parser.add_argument("--data", choices=DATA_SETS, default="digits", help="default digits")
    parser.add_argument("--hidden", type=hidden_sizes, default=(128,), metavar="W[,W...]",
                        help="hidden layer widths (default 128)")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                        help="hidden-layer activation (default relu)")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="update rule (default adam)")
    parser.add_argument("--momentum", type=momentum, default=None,
                        help="momentum of sgd (default 0.9) or rmsprop (default 0)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=None,
                        help="L2 weight decay (default: the optimizer's)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="default 32")
    parser.add_argument("--lr-min", type=positive_float, default=1e-6, help="default 1e-6")
    parser.add_argument("--lr-max", type=positive_float, default=10.0, help="default 10")
    parser.add_argument("--steps", type=positive_int, default=200,
                        help="mini-batches, at most (default 200; stops early on divergence)")
    parser.add_argument("--seed", type=random_seed, default=0,
                        help="initialisation and batch order")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--plot", metavar="DIR", help="write lr_find.png (loss vs rate) to DIR")
    parser.set_defaults(run=run_lr_find)


def run_lr_find(args) -> int:
    """Run the range test with the parsed flags; print the curve and the suggested rate."""
    import tinygrad_opt as tg
    from tinygrad_opt import backend, nn

    device = backend.check_device(args.device)
    if not args.lr_min < args.lr_max:
        raise ValueError(f"--lr-min ({args.lr_min:g}) must be below --lr-max ({args.lr_max:g})")
    if args.steps < 2:
        raise ValueError(f"--steps must be at least 2, got {args.steps}")
    plot = plot_available(args.plot)
    tg.manual_seed(args.seed)
    loaders, sizes, in_features, num_classes, _, _ = prepare_data(
        args.data, 0.2, device, args.batch_size, args.seed)
    model = build_mlp(in_features, args.hidden, num_classes, args.activation).to(device)

    def make_optimizer(parameters, lr):
        return build_optimizer(args.optimizer, parameters, lr, args.momentum, args.weight_decay)

    widths = "-".join(str(width) for width in (in_features, *args.hidden, num_classes))
    print(f"lr range test: {args.data} ({sizes['train']} training samples), MLP {widths} "
          f"({args.activation}), {args.optimizer}, batch {args.batch_size}, lr "
          f"{args.lr_min:g} to {args.lr_max:g} over at most {args.steps} steps, seed {args.seed}")
    # the test runs the rate up until the loss diverges: that is its end, not a screen of
    # NumPy overflow warnings
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lrs, losses, suggested = lr_range_test(model, nn.CrossEntropyLoss(), make_optimizer,
                                               loaders["train"], args.lr_min, args.lr_max,
                                               args.steps)
    shown = sorted(set(np.linspace(0, len(lrs) - 1, min(len(lrs), 15)).round().astype(int)))
    print(format_table(["step", "lr", "smoothed loss"],
                       [[index + 1, lrs[index], losses[index]] for index in shown]))
    lowest = int(np.nanargmin(np.where(np.isfinite(losses), losses, np.nan)))
    stopped = "stopped early: the loss diverged" if len(lrs) < args.steps else "ran every step"
    print(f"({len(lrs)} steps, {stopped})")
    print(f"lowest smoothed loss {losses[lowest]:.4g} at lr {lrs[lowest]:.3g}")
    print(f"suggested learning rate: {suggested:.3g}   (try: tinygrad-opt train --optimizer "
          f"{args.optimizer} --lr {suggested:.3g})")
    if plot:
        path = plot_lr_range_test(lrs, losses, suggested,
                                  os.path.join(args.plot, "lr_find.png"),
                                  title=f"lr range test, {args.optimizer}, MLP {widths}")
        print(f"wrote {path}")
    return 0
