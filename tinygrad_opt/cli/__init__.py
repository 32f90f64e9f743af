"""The command line: ``tinygrad-opt <command> [flags]`` (also ``python -m tinygrad_opt``).

Commands, one module each:

* ``train`` (train.py): train an MLP on the shipped 8x8 digits (or a 2-D toy set)
  and print the test accuracy; ``--save`` writes a checkpoint, ``--load`` evaluates one.
* ``vanishing`` (vanishing.py): the vanishing-gradient study of tinygrad_opt/experiments.py.
* ``lr-find`` (lr_find.py): the learning-rate range test of tinygrad_opt/diagnostics.py.
* ``tune`` (tune.py): a hyperparameter search for the digits MLP with tinygrad_opt.tune.
* ``bench`` (bench.py): the framework timed against hand-written NumPy.

The flag value checkers, the parser class and the one-line errors all commands share
are in args.py. Every command module has one ``add_<name>_command(subparsers)``
function that builds its parser and sets ``run`` to the function doing the work;
:data:`COMMANDS` lists them, so a new command is one module and one line there. The
library (tinygrad_opt.tune, experiments, diagnostics, train, ...) never imports this
package: the command line sits on top of it.

Errors a user can cause (a bad flag or value, a missing or corrupt file, a
device that is not there) end the program with one line on stderr,
``tinygrad-opt: error: ...``, and exit status 2; never a traceback.
"""

from __future__ import annotations

import sys

from tinygrad_opt import __version__
from tinygrad_opt.cli.args import PROG, ArgumentParser
from tinygrad_opt.cli.bench import add_bench_command
from tinygrad_opt.cli.lr_find import add_lr_find_command
from tinygrad_opt.cli.train import add_train_command
from tinygrad_opt.cli.tune import add_tune_command
from tinygrad_opt.cli.vanishing import add_vanishing_command

# Every command: a function that adds its subparser. A new command is one more entry.
COMMANDS = [
    add_train_command,
    add_vanishing_command,
    add_lr_find_command,
    add_tune_command,
    add_bench_command,
]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog=PROG, description="tinygrad_opt: train and study small "
                            "neural networks with a from-scratch autograd.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                       parser_class=ArgumentParser)
    for add_command in COMMANDS:
        add_command(subparsers)
    parser.commands = subparsers.choices   # {name: its parser}, for given_flags
    return parser


def given_flags(argv, args) -> set[str]:
    """The ``dest`` of every flag written on the command line, whatever its value.

    A flag left at its default is not "given", but ``--data digits`` is. Found by
    parsing ``argv`` once more with every default of the command replaced by a marker.
    List-valued options (``action='append'``, which appends to its default) are left out.
    """
    parser = build_parser()
    unset = object()
    dests = [dest for dest, value in vars(args).items()
             if dest not in ("command", "run") and not isinstance(value, list)]
    parser.commands[args.command].set_defaults(**{dest: unset for dest in dests})
    probe = parser.parse_args(argv)
    return {dest for dest in dests if getattr(probe, dest) is not unset}


def main(argv=None) -> int:
    """Entry point of the ``tinygrad-opt`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.given = given_flags(argv, args)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except MemoryError as error:     # NumPy's says how much: "Unable to allocate 233. TiB ..."
        print(f"{PROG}: error: out of memory: {error}; smaller layers or batches need less",
              file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError, ArithmeticError) as error:
        # ValueError covers CheckpointError; RuntimeError a missing GPU or a state-dict mismatch
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
