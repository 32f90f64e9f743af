"""Search spaces: where each hyperparameter may lie and how to draw it.

A search space is a plain dict ``{name: distribution or constant}``::

    space = {
        "lr": loguniform(1e-4, 1e-1),          # learning rate: log scale
        "weight_decay": loguniform(1e-6, 1e-2),
        "dropout": uniform(0.0, 0.5),          # a probability: linear scale
        "layers": randint(1, 4),               # 1, 2 or 3 (high excluded, as torch.randint)
        "hidden": choice([32, 64, 128]),
        "epochs": 10,                          # a constant: passed through unchanged
    }
    params = sample(space, rng)                # {'lr': 0.0023, ..., 'epochs': 10}

Why log scale (the lecture notes' second rule): the learning rate and the
regularisation strength *multiply* things, so going from 0.001 to 0.002 matters
as much as going from 0.1 to 0.2. ``loguniform(lo, hi)`` is uniform in
``log(x)``: each decade [1e-4, 1e-3], [1e-3, 1e-2], ... gets the same share of
the trials. A dropout probability adds, not multiplies: ``uniform``.

Every distribution maps its values to the *unit interval* and back
(``to_unit`` / ``from_unit``). The unit coordinate is where the searches
work: grid points are evenly spaced in it, coarse-to-fine shrinks ranges in it
and the Bayesian search fits its Gaussian process in it. For ``loguniform`` it
is the position in log space::

    u = (log x − log lo) / (log hi − log lo)        x = lo · (hi / lo)^u

so every operation on a log-uniform parameter happens on the log scale.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

__all__ = ["Distribution", "LogUniform", "Uniform", "RandInt", "Choice",
           "loguniform", "uniform", "randint", "choice", "sample", "check_space",
           "describe_space"]


def _real(caller: str, name: str, value) -> float:
    """``value`` as a float, or a TypeError naming the bound (a string, None, a list...)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{caller}(lo, hi): {name} must be a number, got {value!r}")
    return float(value)


class Distribution:
    """Base class of the search-space distributions.

    Subclasses define ``sample(rng)``, ``to_unit(value) -> u in [0, 1]``,
    ``from_unit(u) -> value``, ``grid(k)`` (k evenly spaced values) and
    ``narrow(values, best, keep)`` (the coarse-to-fine step).
    """

    #: whether values are ordered numbers (edge-of-range warnings make sense)
    numeric = True

    def sample(self, rng: np.random.Generator) -> Any:
        """One value, drawn with ``rng``."""
        return self.from_unit(rng.uniform())

    def to_unit(self, value) -> float:
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        raise NotImplementedError

    def grid(self, k: int) -> list:
        """``k`` values at the centres of ``k`` equal cells of the unit interval.

        Cell centres ``(i + 0.5) / k`` rather than end points: a grid of 3 on
        ``uniform(0, 1)`` is 1/6, 1/2, 5/6, never the edges themselves.
        """
        values = []
        for i in range(k):
            value = self.from_unit((i + 0.5) / k)
            if value not in values:
                values.append(value)
        return values

    def narrow(self, unit_low: float, unit_high: float) -> "Distribution":
        """The same kind of distribution on the sub-range ``[unit_low, unit_high]``."""
        raise NotImplementedError


class LogUniform(Distribution):
    """``x = lo · (hi/lo)^u`` with ``u ~ U(0, 1)``: uniform in ``log x`` on ``[lo, hi]``.

    For learning rates and regularisation strengths. Needs ``0 < lo < hi``.
    """

    def __init__(self, lo: float, hi: float):
        lo, hi = _real("loguniform", "lo", lo), _real("loguniform", "hi", hi)
        # log lo == log hi for neighbouring floats: to_unit would divide by zero
        if not (0 < lo < hi) or not math.isfinite(hi) or not math.log(lo) < math.log(hi):
            raise ValueError(f"loguniform(lo, hi): needs 0 < lo < hi < inf (log lo < log hi), "
                             f"got lo={lo}, hi={hi}")
        self.lo, self.hi = lo, hi

    def to_unit(self, value) -> float:
        return (math.log(value) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))

    def from_unit(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        # lo^(1−u) · hi^u = lo · (hi/lo)^u, whose hi/lo overflows for loguniform(1e-200, 1e200)
        value = self.lo ** (1.0 - u) * self.hi ** u
        return float(min(max(value, self.lo), self.hi))     # rounding could pass hi by an ulp

    def narrow(self, unit_low, unit_high):
        return LogUniform(self.from_unit(unit_low), self.from_unit(unit_high))

    def __repr__(self) -> str:
        return f"loguniform({self.lo:g}, {self.hi:g})"

    def __eq__(self, other) -> bool:
        return type(other) is LogUniform and (self.lo, self.hi) == (other.lo, other.hi)


class Uniform(Distribution):
    """``x ~ U(lo, hi)``: for parameters that act additively (a dropout probability)."""

    def __init__(self, lo: float, hi: float):
        lo, hi = _real("uniform", "lo", lo), _real("uniform", "hi", hi)
        if not lo < hi or not math.isfinite(hi - lo):   # hi − lo = inf: every draw would be hi
            raise ValueError(f"uniform(lo, hi): needs finite lo < hi with a finite hi − lo, "
                             f"got lo={lo}, hi={hi}")
        self.lo, self.hi = lo, hi

    def to_unit(self, value) -> float:
        return (float(value) - self.lo) / (self.hi - self.lo)

    def from_unit(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        return min(self.lo + u * (self.hi - self.lo), self.hi)   # 0.1 + 1·0.2 > 0.3 in floats

    def narrow(self, unit_low, unit_high):
        return Uniform(self.from_unit(unit_low), self.from_unit(unit_high))

    def __repr__(self) -> str:
        return f"uniform({self.lo:g}, {self.hi:g})"

    def __eq__(self, other) -> bool:
        return type(other) is Uniform and (self.lo, self.hi) == (other.lo, other.hi)


class RandInt(Distribution):
    """An integer in ``lo, lo+1, ..., hi-1`` (``hi`` excluded, as ``torch.randint``).

    Unit coordinate: integer ``n`` owns the cell ``[(n−lo)/m, (n−lo+1)/m)`` of
    the unit interval (``m = hi − lo`` integers) and sits at its centre.
    """

    def __init__(self, lo: int, hi: int):
        _real("randint", "lo", lo), _real("randint", "hi", hi)           # numbers, not strings
        whole = all(isinstance(bound, numbers.Integral) or
                    (math.isfinite(bound) and int(bound) == bound) for bound in (lo, hi))
        if not whole or not int(lo) < int(hi):
            raise ValueError(f"randint(lo, hi): needs integers lo < hi (hi excluded), "
                             f"got lo={lo}, hi={hi}")
        self.lo, self.hi = int(lo), int(hi)

    def to_unit(self, value) -> float:
        return (int(value) - self.lo + 0.5) / (self.hi - self.lo)

    def from_unit(self, u: float) -> int:
        n = self.lo + math.floor(float(u) * (self.hi - self.lo))
        return int(min(max(n, self.lo), self.hi - 1))

    def narrow(self, unit_low, unit_high):
        return RandInt(self.from_unit(unit_low), self.from_unit(unit_high) + 1)

    def __repr__(self) -> str:
        return f"randint({self.lo}, {self.hi})"

    def __eq__(self, other) -> bool:
        return type(other) is RandInt and (self.lo, self.hi) == (other.lo, other.hi)


class Choice(Distribution):
    """One of ``options``, each with probability ``1/len(options)``.

    Its unit coordinate is the centre of the option's cell, as for
    :class:`RandInt`: list numeric options in increasing order (``[32, 64, 128]``)
    so that neighbouring options are neighbours for the Bayesian search.
    """

    numeric = False

    def __init__(self, options: Sequence):
        if isinstance(options, (str, bytes)):       # list("relu") would be 'r', 'e', 'l', 'u'
            raise TypeError(f"choice(options): options must be a list of values, got the "
                            f"string {options!r}; write choice([{options!r}, ...])")
        options = list(options)
        if not options:
            raise ValueError("choice(options): needs at least one option")
        self.options = options

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def index(self, value) -> int:
        for i, option in enumerate(self.options):
            if option == value:
                return i
        raise ValueError(f"{value!r} is not one of the options {self.options}")

    def to_unit(self, value) -> float:
        return (self.index(value) + 0.5) / len(self.options)

    def from_unit(self, u: float) -> Any:
        i = min(max(math.floor(float(u) * len(self.options)), 0), len(self.options) - 1)
        return self.options[i]

    def grid(self, k: int) -> list:
        """Every option (a grid always tries all of them)."""
        return list(self.options)

    def narrow(self, unit_low, unit_high):
        raise TypeError("choice: narrow it with keep_options(), not a unit range")

    def keep_options(self, values) -> "Choice":
        """The options among ``values``, in the original order."""
        kept = [option for option in self.options if any(option == v for v in values)]
        return Choice(kept)

    def __repr__(self) -> str:
        return f"choice({self.options!r})"

    def __eq__(self, other) -> bool:
        return type(other) is Choice and self.options == other.options


def loguniform(lo: float, hi: float) -> LogUniform:
    """Uniform in ``log x`` on ``[lo, hi]`` (learning rates, weight decay)."""
    return LogUniform(lo, hi)


def uniform(lo: float, hi: float) -> Uniform:
    """Uniform on ``[lo, hi]`` (dropout probability, momentum)."""
    return Uniform(lo, hi)


def randint(lo: int, hi: int) -> RandInt:
    """An integer in ``[lo, hi)``, ``hi`` excluded like ``torch.randint`` (number of layers)."""
    return RandInt(lo, hi)


def choice(options: Sequence) -> Choice:
    """One of ``options`` (hidden size, activation name, optimizer name)."""
    return Choice(options)


# --- whole spaces ------------------------------------------------------------------

def check_space(space: dict) -> dict:
    """Validate a space dict: string keys, no ``'budget'`` key (the searches add it)."""
    if not isinstance(space, dict):
        raise TypeError(f"a search space is a non-empty dict {{name: distribution}}, "
                        f"got {type(space).__name__}")
    if not space:
        raise ValueError("the search space is empty: give at least one parameter "
                         "{name: distribution or constant}")
    for name in space:
        if not isinstance(name, str):
            raise TypeError(f"search-space names must be strings, got {name!r}")
    if "budget" in space:
        raise ValueError("'budget' is reserved: the searches pass the stage budget to the "
                         "objective as params['budget']; rename the parameter")
    return space


def sample(space: dict, rng: np.random.Generator) -> dict:
    """One configuration: a value from every distribution, constants as they are.

    Parameters are drawn in the dict's order, one ``rng`` call each, so the same
    seed and the same space give the same configurations.
    """
    return {name: (value.sample(rng) if isinstance(value, Distribution) else value)
            for name, value in space.items()}


def distributions(space: dict) -> dict:
    """The searched part of a space (its constants left out)."""
    return {name: value for name, value in space.items() if isinstance(value, Distribution)}


def describe_space(space: dict) -> dict:
    """A JSON-friendly description ``{name: 'loguniform(0.0001, 0.1)' or constant}``."""
    return {name: (repr(value) if isinstance(value, Distribution) else value)
            for name, value in space.items()}
