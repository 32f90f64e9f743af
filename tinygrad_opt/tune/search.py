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
import pickle
import time
from concurrent.futures import BrokenExecutor, Executor, as_completed
from typing import Any, Callable

import numpy as np

from tinygrad_opt.tune.result import SearchResult, Trial
from tinygrad_opt.tune.space import (Choice, Distribution, check_space, distributions,
                                     sample)

__all__ = ["random_search", "grid_search", "coarse_to_fine", "run_trial", "run_trials",
           "grid_points", "narrow_space", "make_rng"]


# --- running trials -----------------------------------------------------------------------

def run_trial(objective: Callable, number: int, params: dict, budget=None,
              stage: int | None = None) -> Trial:
    """Call ``objective`` on one configuration and record what happened as a :class:`Trial`.

    Top-level (so process pools can pickle it). Exceptions of the objective
    (``Exception``, not ``KeyboardInterrupt``) and non-finite values become a
    failed trial; nothing escapes.
    """
    call_params = dict(params)
    if budget is not None:
        call_params["budget"] = budget
    start = time.perf_counter()
    try:
        value, extras = _value_and_extras(objective(call_params))
    except Exception as error:  # the search goes on; the error is kept in the trial
        return Trial(number, dict(params), status="failed", error=_describe(error),
                     duration=time.perf_counter() - start, budget=budget, stage=stage)
    duration = time.perf_counter() - start
    if not math.isfinite(value):
        return Trial(number, dict(params), extras=extras, status="failed",
                     error=f"objective returned {value}", duration=duration, budget=budget,
                     stage=stage)
    return Trial(number, dict(params), value=value, extras=extras, duration=duration,
                 budget=budget, stage=stage)


def _value_and_extras(returned) -> tuple[float, dict]:
    """``(value, extras)`` from a float, a 0-d Tensor/array, or ``{'value': ..., **extras}``."""
    extras = {}
    if isinstance(returned, dict):
        if "value" not in returned:
            raise TypeError(f"the objective returned a dict without a 'value' key "
                            f"(keys: {', '.join(map(str, returned))})")
        extras = {key: item for key, item in returned.items() if key != "value"}
        returned = returned["value"]
    if hasattr(returned, "item"):       # a 0-d Tensor, NumPy or CuPy scalar
        returned = returned.item()
    if isinstance(returned, bool) or not isinstance(returned, (int, float)):
        raise TypeError(f"the objective must return a number or a dict with a 'value', "
                        f"got {type(returned).__name__}")
    return float(returned), extras


def _describe(error: BaseException) -> str:
    message = str(error).strip()
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _report(progress, trial: Trial, total: int | None) -> None:
    """Print one line per finished trial (``progress=True``) or call ``progress(trial)``."""
    if callable(progress):
        progress(trial)
    elif progress:
        shown = f"value {trial.value:.6g}" if trial.ok else f"FAILED {trial.error}"
        params = ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else
                           f"{key}={value}" for key, value in trial.params.items())
        budget = "" if trial.budget is None else f"  budget {trial.budget}"
        count = f"{trial.number + 1}/{total}" if total else f"{trial.number + 1}"
        print(f"trial {count}{budget}  {shown}  "
              f"[{trial.duration:.1f} s]  {params}", flush=True)


def run_trials(objective: Callable, jobs: list[tuple], executor: Executor | None = None,
               progress=False, total: int | None = None) -> list[Trial]:
    """Run ``jobs`` (tuples ``(number, params, budget, stage)``); trials in job order.

    Serially in this process without an executor; else all jobs are submitted
    at once and collected as they finish. ``progress``: True prints a line per
    finished trial ("trial 3/20 ...", ``total`` being the search's number of
    trials), a callable is called with each finished :class:`Trial`.
    """
    if executor is None:
        trials = []
        for job in jobs:
            trials.append(run_trial(objective, *job))
            _report(progress, trials[-1], total)
        return trials
    futures = {executor.submit(run_trial, objective, *job): job for job in jobs}
    trials = []
    for future in as_completed(futures):
        try:
            trial = future.result()
        except Exception as error:  # run_trial catches the objective's errors: this is not one
            if not _lost_worker(error):
                raise RuntimeError(_executor_hint(error, objective, futures[future][0])) from error
            number, params, budget, stage = futures[future]
            trial = Trial(number, dict(params), status="failed", budget=budget, stage=stage,
                          error=f"the worker running it died ({_describe(error)})")
        trials.append(trial)
        _report(progress, trial, total)
    return sorted(trials, key=lambda trial: trial.number)


def _lost_worker(error: BaseException) -> bool:
    """True when the process running a trial died (killed, out of memory, its machine lost):
    Dask's ``KilledWorker`` (after its retries on other workers) or a broken process pool.
    That trial fails and the search goes on; any other executor error stops the search."""
    return isinstance(error, BrokenExecutor) or type(error).__name__ == "KilledWorker"


def _executor_hint(error: BaseException, objective: Callable, number: int) -> str:
    text = f"trial {number}: the executor could not run the objective ({_describe(error)})"
    pickling = isinstance(error, (pickle.PicklingError, AttributeError, TypeError))
    if pickling or "pickle" in str(error).lower():
        name = getattr(objective, "__qualname__", repr(objective))
        text += (f". With a process pool the objective ({name}) and its return value are "
                 "pickled: make it a top-level function of an importable module (not a "
                 "lambda, a nested function, or a function typed into an interactive "
                 "session)")
    return text


def make_rng(seed) -> np.random.Generator:
    """The search's private generator: from an int seed, a Generator, or (None) the
    framework's generator (so ``tg.manual_seed`` makes the search reproducible).

    Private, so that an objective calling ``tg.manual_seed`` does not make every
    trial draw the same configuration.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        from tinygrad_opt import backend
        return np.random.default_rng(int(backend.host_rng().integers(2 ** 63)))
    return np.random.default_rng(seed)


def _check(objective, space: dict, n_trials, mode: str) -> None:
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    check_space(space)
    if n_trials is not None and (isinstance(n_trials, bool) or int(n_trials) != n_trials
                                 or n_trials < 1):
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


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
    _check(objective, space, n_trials, mode)
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
    _check(objective, space, n_trials, mode)
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
        first = math.ceil(n_trials / 2)
        second = math.ceil(n_trials / 3)
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
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"coarse_to_fine: stage {index} n_trials must be a positive "
                             f"integer, got {n!r}")
    return stages


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
    _check(objective, space, n_trials, mode)
    stages = _check_stages(stages, n_trials)
    if method not in ("random", "bayes"):
        raise ValueError(f"coarse_to_fine: method must be 'random' or 'bayes', got {method!r}")
    if isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1:
        raise ValueError(f"coarse_to_fine: top_k must be a positive integer, got {top_k!r}")
    _check_narrowing("coarse_to_fine", shrink, margin)
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
            from tinygrad_opt.tune.bayes import bayes_trials
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
