"""What every command shares: the parser class, the one-line errors, the flag value checkers.

A checker is an argparse ``type=``: it turns the text of a flag into its value or
raises ``argparse.ArgumentTypeError``, which the parser reports as one line,
``tinygrad-opt: error: argument --lr: expected a positive number, got '-1'``.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys

from tinygrad_opt.viz import PLOT_HINT  # the one wording of the hint

PROG = "tinygrad-opt"


class UsageError(ValueError):
    """A bad combination of flags found after parsing (reported like a parse error)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a parse error is one line, ``tinygrad-opt: error: ...``, exit status 2."""

    def error(self, message: str):
        command = self.prog.split()[-1] if " " in self.prog else None
        hint = f" (see {PROG} {command} --help)" if command else f" (see {PROG} --help)"
        self.exit(2, f"{PROG}: error: {message}{hint}\n")

    def _get_values(self, action, arg_strings):
        # argparse before Python 3.11.8 / 3.12.2 (CPython gh-109475) drops the value '--' of
        # '--epochs=--' and hands on an empty list, bypassing type=: refuse it
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            raise argparse.ArgumentError(action, "expected one argument")
        return super()._get_values(action, arg_strings)


# --- value checkers for argparse ----------------------------------------------------

def _integer_from(text: str, lowest: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _integer_from(text, 1, "a positive integer")


def random_seed(text: str) -> int:
    """A random seed: an integer >= 0 (what NumPy's generators accept)."""
    return _integer_from(text, 0, "an integer >= 0")


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def momentum(text: str) -> float:
    """A momentum coefficient: 0 <= m < 1 (m >= 1 makes the velocity grow without bound)."""
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a momentum in [0, 1), got {text!r}")
    return value


def probability(text: str) -> float:
    """A dropout probability: 0 <= p < 1."""
    value = finite_float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


def hidden_sizes(text: str) -> tuple[int, ...]:
    """``'128,64'`` -> ``(128, 64)``: the widths of the hidden layers."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer widths such as 128,64, got {text!r}")
    return tuple(int(part) for part in parts)


def check_writable_file(path: str, flag: str) -> None:
    """Fail before training, not after it, when ``path`` cannot be written."""
    if not path:
        raise UsageError(f"{flag}: the path is empty")
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or path.endswith((os.sep, os.altsep or os.sep)):
        raise UsageError(f"{flag} {path}: is a directory, expected a file path")
    if os.path.exists(path) and not os.path.isfile(path):   # a device or a pipe: never replace
        raise UsageError(f"{flag} {path}: exists and is not a regular file")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"{flag} {path}: {directory} is a file, not a directory")
    if not os.path.isdir(directory):
        raise UsageError(f"{flag} {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise UsageError(f"{flag} {path}: directory {directory} is not writable")
    if os.path.isfile(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{flag} {path}: the file is read-only")


def check_creatable_directory(path: str, flag: str) -> None:
    """Fail before the work, not after it, when the output directory ``path`` cannot be made:
    it, or the nearest of its parents that exists, must be a writable directory."""
    if not path:
        raise UsageError(f"{flag}: the path is empty")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "exists" if existing == os.path.abspath(path) else f"is under the file {existing}"
        raise UsageError(f"{flag} {path}: {where} and is not a directory")
    if not os.access(existing, os.W_OK):
        raise UsageError(f"{flag} {path}: directory {existing} is not writable")


def plot_available(plot_dir: str | None) -> bool:
    if plot_dir is None:
        return False
    check_creatable_directory(plot_dir, "--plot")
    if importlib.util.find_spec("matplotlib") is None:
        print(PLOT_HINT, file=sys.stderr)
        return False
    return True


def flag_names(dests) -> str:
    """``['no_progress', 'data']`` -> ``'--data, --no-progress'``."""
    return ", ".join(sorted("--" + dest.replace("_", "-") for dest in dests))
