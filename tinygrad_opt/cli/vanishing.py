"""``tinygrad-opt vanishing``: the vanishing-gradient study of tinygrad_opt/experiments.py.

    tinygrad-opt vanishing --quick
    tinygrad-opt vanishing --models sigmoid,relu,relu+residual --depth 20 --plot figures/

Trains deep MLPs with different activations on the digits and prints every layer's
gradient norm at initialisation and after training (the study and its models are
described in tinygrad_opt/experiments.py; this module only reads the flags).
"""

from __future__ import annotations

from tinygrad_opt.cli.args import (check_creatable_directory, positive_float, positive_int,
                                   random_seed)
from tinygrad_opt.experiments import (KINDS, plot_vanishing, report, timing_line,
                                      vanishing_study)
from tinygrad_opt.viz import PLOT_HINT


def add_vanishing_command(subparsers) -> None:
    """Register ``tinygrad-opt vanishing``."""
    parser = subparsers.add_parser(
        "vanishing", help="vanishing gradients: sigmoid vs tanh vs ReLU (and LeakyReLU, ELU, "
                          "SELU, maxout) vs residual vs BatchNorm in deep MLPs; prints "
                          "per-layer gradient norms",
        description="Train deep MLPs with different activations on the digits and print the "
                    "gradient norm of every layer at initialisation and after training.")
    parser.add_argument("--depth", type=positive_int, default=None,
                        help="Linear layers per model (even, >= 4; default 16, --quick 10)")
    parser.add_argument("--width", type=positive_int, default=64, help="hidden width (default 64)")
    parser.add_argument("--epochs", type=int, default=None, help="default 10, --quick 2 (0: "
                        "gradients at initialisation only)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="default 64")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="SGD learning rate "
                        "(default 0.01, momentum 0.9)")
    parser.add_argument("--models", default=",".join(KINDS),
                        help="comma-separated subset of " + ", ".join(KINDS))
    parser.add_argument("--quick", action="store_true",
                        help="depth 10, 2 epochs on 512 samples (a few seconds); an explicit "
                        "--depth or --epochs still applies")
    parser.add_argument("--seed", type=random_seed, default=0,
                        help="initialisation and batch order")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--plot", metavar="DIR", help="write the PNG figures to DIR")
    parser.set_defaults(run=run_vanishing)


def run_vanishing(args) -> int:
    """Run the study with the parsed flags and print the tables."""
    kinds = tuple(kind.strip() for kind in args.models.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"--models: unknown model {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(KINDS)}")
    if args.epochs is not None and args.epochs < 0:
        raise ValueError(f"--epochs must be >= 0, got {args.epochs}")
    depth, epochs, samples = (10, 2, 512) if args.quick else (16, 10, None)
    depth = depth if args.depth is None else args.depth      # explicit flags win over --quick
    epochs = epochs if args.epochs is None else args.epochs
    if depth < 4 or ("relu+residual" in kinds and depth % 2):
        raise ValueError(f"--depth must be an even number >= 4 (relu+residual uses blocks "
                         f"of 2 layers), got {depth}")
    if args.plot is not None:       # fail before the study, not after it
        check_creatable_directory(args.plot, "--plot")
    print(f"{len(kinds)} models, {depth} Linear layers of width {args.width}, {epochs} epochs "
          f"of SGD (lr {args.lr}, momentum 0.9), seed {args.seed}, device {args.device}")
    results = vanishing_study(kinds, depth=depth, width=args.width, epochs=epochs,
                              batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                              device=args.device, train_samples=samples)
    print()
    print(report(results))
    print(timing_line(results))
    if args.plot is not None:
        try:
            paths = plot_vanishing(results, args.plot)
        except RuntimeError as error:
            if str(error) != PLOT_HINT:
                raise
            print(PLOT_HINT)
        else:
            print("\nwrote " + ", ".join(paths))
    return 0
