"""Random search, grid search and coarse-to-fine search, and the machinery that runs trials.

Every search is called the same way::

    result = random_search(objective, space, n_trials=30, seed=0, mode="max", executor=None)

* ``objective(params) -> float`` or ``-> {'value': float, **extras}``: train a
  model with the configuration ``params`` (a dict) and return its *validation*
  score (the notes' first rule: one held-out validation set, not the test set);
* ``mode='min'`` for a loss or an error rate, ``'max'`` for an accuracy;
* ``seed``: the same seed gives the same configurations (``None`` draws the
  seed from the framework's generator, so ``tg.manual_seed`` makes it
  reproducible too);
* a trial that raises an exception, or returns NaN or ±inf, is recorded as
  failed with its error (``trial.status == 'failed'``, ``trial.error``) and the
  search goes on; so is a trial whose worker process died (Dask first retries
  it on other workers). ``KeyboardInterrupt`` still stops everything.

**Budgets.** Coarse-to-fine gives each stage a budget (e.g. the number of
epochs). The objective receives it as ``params['budget']``, so there is one
signature for every search, PyTorch-user style (a plain config dict, as Ray
Tune's ``config``)::

    def objective(params):
        epochs = params.get("budget", 10)   # coarse-to-fine stage budget, else 10
        ...

(``random_search`` and the others accept ``budget=`` too, passed the same
way; without one there is no ``'budget'`` key.)

**Executors: parallel and distributed trials.** ``executor`` is any
:class:`concurrent.futures.Executor`. Trials are submitted with
``executor.submit(run_trial, objective, ...)`` and collected as they finish;
the result lists them in submission order, so a parallel search gives the
same trials as a serial one with the same seed. With processes, the objective
and what it returns are pickled: define the objective as a top-level function
of a module (not a lambda, a nested function or a class defined inside a
function)::

    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=4) as pool:
        result = random_search(objective, space, n_trials=40, executor=pool)

A distributed engine that offers an Executor plugs in the same way, without
this package depending on it. With Dask (the ``distributed`` extra; the
command line's ``tinygrad-opt tune --scheduler``; docs/scale-out.md)::

    from distributed import Client
    client = Client("scheduler-address:8786")         # or Client() for a local cluster
    result = random_search(objective, space, n_trials=200,
                           executor=client.get_executor())

On Dask the objective must be importable on the workers (or pickled by value:
``cloudpickle.register_pickle_by_value(module)``).

Seed each trial's model inside the objective (``tg.manual_seed(...)``): the
framework's global generator is shared by consecutive trials in one process,
not across processes.
"""

from __future__ import annotations

import itertools
import math
import numbers
from concurrent.futures import Executor
from typing import Callable

from tinygrad_opt._checks import whole_number
from tinygrad_opt.tune.bayes import bayes_trials
from tinygrad_opt.tune.result import SearchResult, Trial
from tinygrad_opt.tune.space import Choice, Distribution, distributions, sample
from tinygrad_opt.tune.trials import check_search_arguments, make_rng, run_trials

__all__ = ["random_search", "grid_search", "coarse_to_fine", "grid_points", "narrow_space"]


# --- random search -------------------------------------------------------------------------

def random_search(objective: Callable, space: dict, n_trials: int = 20, seed=None,
                  mode: str = "min", executor: Executor | None = None, budget=None,
                  progress=False) -> SearchResult:
    """Try ``n_trials`` configurations drawn independently from ``space``.

    The notes' third rule: random search beats grid search. When only a few
    hyperparameters matter (usually the case), a grid of n trials tries only
    ``n^(1/d)`` values of the one that matters; random search tries ``n``.
    All configurations are drawn up front from ``seed``, so parallel runs give
    the same trials.
    """
    check_search_arguments(objective, space, n_trials, mode, required=True)
    n_trials = int(n_trials)                    # a count given as 3.0 is 3
    rng = make_rng(seed)
    configs = [sample(space, rng) for _ in range(n_trials)]
    jobs = [(number, params, budget, None) for number, params in enumerate(configs)]
    trials = run_trials(objective, jobs, executor, progress, total=n_trials)
    return SearchResult(trials, space, mode, "random")


# --- grid search ---------------------------------------------------------------------------

def grid_points(space: dict, n_trials: int | None = None,
                points_per_axis: int | None = None) -> list[dict]:
    """Every configuration of a full grid over ``space``.

    ``choice`` parameters contribute all their options. The other ``d``
    parameters get ``k`` values each, at the centres of ``k`` equal cells of
    their unit coordinate (log space for ``loguniform``; a ``randint`` with
    fewer than ``k`` integers gives each once): ``points_per_axis`` if given,
    else the largest ``k`` with ``(#choice combinations) · k^d <= n_trials``.
    """
    searched = distributions(space)
    options = 1
    for distribution in searched.values():
        if isinstance(distribution, Choice):
            options *= len(distribution.options)
    numeric = [name for name, d in searched.items() if not isinstance(d, Choice)]
    if points_per_axis is not None and (isinstance(points_per_axis, bool) or
                                        not isinstance(points_per_axis, numbers.Integral) or
                                        points_per_axis < 1):
        raise ValueError(f"grid_search: points_per_axis must be a positive integer, got "
                         f"{points_per_axis!r}")
    if points_per_axis is None:
        if n_trials is None:
            raise ValueError("grid_search: give n_trials or points_per_axis")
        if n_trials < options:
            raise ValueError(f"grid_search: n_trials={n_trials} is smaller than the "
                             f"{options} combinations of the choice parameters")
        points_per_axis = 1
        while numeric and options * (points_per_axis + 1) ** len(numeric) <= n_trials:
            points_per_axis += 1
    axes = []
    for name, value in space.items():
        if isinstance(value, Distribution):
            axes.append([(name, point) for point in value.grid(points_per_axis)])
        else:
            axes.append([(name, value)])
    return [dict(combination) for combination in itertools.product(*axes)]


def grid_search(objective: Callable, space: dict, n_trials: int | None = None, seed=None,
                mode: str = "min", executor: Executor | None = None,
                points_per_axis: int | None = None, budget=None,
                progress=False) -> SearchResult:
    """Try every point of the largest full grid that fits in ``n_trials`` (see :func:`grid_points`).

    Here to be compared with :func:`random_search` (and lose when only some
    parameters matter). ``seed`` is accepted for a common signature; the grid
    has no randomness.
    """
    check_search_arguments(objective, space, n_trials, mode)
    configs = grid_points(space, n_trials, points_per_axis)
    jobs = [(number, params, budget, None) for number, params in enumerate(configs)]
    trials = run_trials(objective, jobs, executor, progress, total=len(jobs))
    return SearchResult(trials, space, mode, "grid")


# --- coarse to fine ---------------------------------------------------------------------------

def narrow_space(space: dict, top: list[Trial], shrink: float = 0.5,
                 margin: float = 0.1) -> dict:
    """The space of the next coarse-to-fine stage: ranges shrunk around the best trials.

    ``top`` are the stage's best trials, best first. Per numeric parameter, in
    its unit coordinate (so in log space for ``loguniform``), with ``u_best``
    the best trial's coordinate::

        [low, high] = [min u − margin, max u + margin]   over the top trials
        if high − low > shrink:                          too wide: a window around the best
            [low, high] = [u_best − shrink/2, u_best + shrink/2]
        if high − low == 0:                              a point (margin 0, top trials agree):
            [low, high] = [u_best − shrink/2, u_best + shrink/2]    widened to the window
        shift [low, high] inside [0, 1] (the current range: ranges only shrink)

    so every stage keeps at most ``shrink`` (default half) of each range, and
    keeps all the top trials when they agree. A range already as narrow as
    floating point allows stays as it is. A ``choice`` keeps the options the
    top trials used; constants stay. ``margin`` must lie in [0, 1] and
    ``shrink`` in (0, 1].
    """
    _check_narrowing("narrow_space", shrink, margin)
    if not top:
        return dict(space)
    new_space = {}
    for name, distribution in space.items():
        if not isinstance(distribution, Distribution):
            new_space[name] = distribution
            continue
        values = [trial.params[name] for trial in top]
        if isinstance(distribution, Choice):
            new_space[name] = distribution.keep_options(values)
            continue
        units = [distribution.to_unit(value) for value in values]
        low, high = min(units) - margin, max(units) + margin
        if high - low > shrink or high - low <= 0:
            low, high = units[0] - shrink / 2, units[0] + shrink / 2
        if low < 0:
            low, high = 0.0, high - low
        if high > 1:
            low, high = low - (high - 1), 1.0
        try:
            new_space[name] = distribution.narrow(max(low, 0.0), min(high, 1.0))
        except ValueError:          # lo == hi in floating point: it cannot get narrower
            new_space[name] = distribution
    return new_space


def _check_narrowing(caller: str, shrink, margin) -> None:
    for name, value in (("shrink", shrink), ("margin", margin)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{caller}: {name} must be a number, got {value!r}")
    if not 0 < shrink <= 1:
        raise ValueError(f"{caller}: shrink must lie in (0, 1], got {shrink}")
    if not 0 <= margin <= 1:
        raise ValueError(f"{caller}: margin must lie in [0, 1] (a fraction of the unit "
                         f"range), got {margin}")


def _check_stages(stages, n_trials) -> list[dict]:
    if stages is None:
        if n_trials is None:
            raise ValueError("coarse_to_fine: give stages=[{'n_trials': ..., 'budget': ...}, ...] "
                             "or n_trials")
        n_trials = int(n_trials)                # a count given as 6.0 is 6
        first = math.ceil(n_trials / 2)
        second = min(math.ceil(n_trials / 3), n_trials - first)     # n_trials = 1: one stage
        counts = [first, second, n_trials - first - second]
        return [{"n_trials": count} for count in counts if count > 0]
    stages = list(stages)
    if not stages:
        raise ValueError("coarse_to_fine: stages is empty")
    for index, stage in enumerate(stages):
        if not isinstance(stage, dict) or "n_trials" not in stage:
            raise ValueError(f"coarse_to_fine: stage {index} must be a dict with 'n_trials' "
                             f"(and optionally 'budget'), got {stage!r}")
        unknown = set(stage) - {"n_trials", "budget"}
        if unknown:
            raise ValueError(f"coarse_to_fine: stage {index} has unknown keys {sorted(unknown)}; "
                             "allowed: 'n_trials', 'budget'")
        n = stage["n_trials"]
        if not whole_number(n):
            raise ValueError(f"coarse_to_fine: stage {index} n_trials must be a positive "
                             f"integer, got {n!r}")
    return [{**stage, "n_trials": int(stage["n_trials"])} for stage in stages]   # 3.0 is 3


def coarse_to_fine(objective: Callable, space: dict, stages: list[dict] | None = None,
                   n_trials: int | None = None, seed=None, mode: str = "min",
                   executor: Executor | None = None, top_k: int = 3, shrink: float = 0.5,
                   margin: float = 0.1, method: str = "random",
                   progress=False) -> SearchResult:
    """Search in stages: many short trials on wide ranges, then fewer, longer ones on narrow ranges.

    The notes' fifth rule::

        stages = [{"n_trials": 30, "budget": 1},    # coarse: 1 epoch each, wide ranges
                  {"n_trials": 10, "budget": 5},    # narrower ranges, 5 epochs
                  {"n_trials": 5,  "budget": 20}]   # fine: the final ranges, 20 epochs
        result = coarse_to_fine(objective, space, stages, seed=0, mode="max")

    Each stage runs ``method`` (``'random'`` or ``'bayes'``) for its
    ``n_trials`` on the current space, passing its ``budget`` as
    ``params['budget']``. Between stages the space is narrowed around the
    stage's ``top_k`` best trials by :func:`narrow_space` (``shrink``,
    ``margin``). Without ``stages``, ``n_trials`` is split 1/2, 1/3, 1/6 over
    three stages without budgets.

    ``result.spaces`` holds each stage's space; ``result.best`` is the best
    trial of the last stage (values at different budgets are not comparable);
    edge warnings are relative to the original ``space``.
    """
    check_search_arguments(objective, space, n_trials, mode)
    stages = _check_stages(stages, n_trials)
    if method not in ("random", "bayes"):
        raise ValueError(f"coarse_to_fine: method must be 'random' or 'bayes', got {method!r}")
    if not whole_number(top_k):
        raise ValueError(f"coarse_to_fine: top_k must be a positive integer, got {top_k!r}")
    _check_narrowing("coarse_to_fine", shrink, margin)
    top_k = int(top_k)
    rng = make_rng(seed)
    sign = 1.0 if mode == "min" else -1.0
    total = sum(stage["n_trials"] for stage in stages)
    trials: list[Trial] = []
    spaces = [space]
    current = space
    for index, stage in enumerate(stages):
        budget = stage.get("budget")
        if method == "random":
            configs = [sample(current, rng) for _ in range(stage["n_trials"])]
            jobs = [(len(trials) + i, params, budget, index) for i, params in enumerate(configs)]
            stage_trials = run_trials(objective, jobs, executor, progress, total)
        else:
            stage_trials = bayes_trials(objective, current, stage["n_trials"], rng, mode,
                                        executor, budget=budget, stage=index,
                                        first_number=len(trials), progress=progress,
                                        total=total)
        trials += stage_trials
        if index == len(stages) - 1:
            break
        ok = sorted((trial for trial in stage_trials if trial.ok),
                    key=lambda trial: (sign * trial.value, trial.number))
        current = narrow_space(current, ok[:top_k], shrink, margin)
        spaces.append(current)
    return SearchResult(trials, space, mode, "coarse-to-fine", spaces=spaces)
