"""Running trials: what every search (search.py, bayes.py) shares.

:func:`run_trial` calls the objective on one configuration and records what happened
as a :class:`~tinygrad_opt.tune.result.Trial` (a failure is a failed trial, never an
escaped exception); :func:`run_trials` runs a list of them, serially or on an
``Executor`` (process pool, Dask), and returns them in submission order;
:func:`make_rng` is a search's private generator; :func:`check_search_arguments`
checks what every search is called with. How executors plug in: the docstring of
tinygrad_opt/tune/search.py.
"""

from __future__ import annotations

import math
import numbers
import pickle
import time
from concurrent.futures import BrokenExecutor, Executor, as_completed
from typing import Callable

import numpy as np

from tinygrad_opt import backend
from tinygrad_opt._checks import whole_number
from tinygrad_opt.tune.result import Trial
from tinygrad_opt.tune.space import check_space

__all__ = ["run_trial", "run_trials", "make_rng", "check_search_arguments"]


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
    That trial fails and the search goes on; any other executor error stops the search.

    Dask's ``ClientExecutor`` has one more way to say it: when the worker that held a
    trial's result dies as the result arrives, it reads the task as failed and unpacks the
    Trial as an error triple (distributed/cfexecutor.py, ``_cascade_future``), raising
    "cannot unpack non-iterable Trial object"; the Trial is lost with its worker."""
    if isinstance(error, BrokenExecutor) or type(error).__name__ == "KilledWorker":
        return True
    return isinstance(error, TypeError) and "non-iterable Trial object" in str(error)


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
        return np.random.default_rng(int(backend.host_rng().integers(2 ** 63)))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be None, an integer >= 0 or a numpy Generator, "
                         f"got {seed!r}")
    return np.random.default_rng(int(seed))


def check_search_arguments(objective, space: dict, n_trials, mode: str,
                           required: bool = False) -> None:
    """The checks every search shares; ``required``: n_trials may not be None."""
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    check_space(space)
    if required and n_trials is None:
        raise ValueError("n_trials must be a positive integer, got None")
    if n_trials is not None and not whole_number(n_trials):
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
