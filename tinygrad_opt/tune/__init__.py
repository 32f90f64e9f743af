"""Hyperparameter search: spaces, random / grid / coarse-to-fine / Bayesian searches.

    from tinygrad_opt import tune

    space = {"lr": tune.loguniform(1e-4, 1e-1), "dropout": tune.uniform(0.0, 0.5),
             "hidden": tune.choice([32, 64, 128])}

    def objective(params):                   # a top-level function (process pools pickle it)
        model = ...                          # build and train with params, seeded
        return {"value": val_accuracy, "val_loss": val_loss}

    result = tune.random_search(objective, space, n_trials=30, seed=0, mode="max")
    print(result.summary())                  # table of trials, best first, and warnings
    result.best.params                       # the best configuration
    result.save("runs/search-1")             # one JSON per trial, named by rank and score

Searches (all ``search(objective, space, n_trials=..., seed=None, mode='min'|'max',
executor=None)``): :func:`random_search`, :func:`grid_search`,
:func:`coarse_to_fine` (stages with budgets, passed as ``params['budget']``),
:func:`bayes_search` (Gaussian process + expected improvement). ``executor``
takes any ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``, or Dask's
``Client().get_executor()``): see :mod:`tinygrad_opt.tune.search`
(the trials run through :mod:`tinygrad_opt.tune.trials`).

This package is host-side bookkeeping and uses NumPy directly. The lecture
notes' advice, mapped to these functions: docs/tuning-and-ensembles.md.
"""

from tinygrad_opt.tune.bayes import GaussianProcess, bayes_search, expected_improvement, matern52
from tinygrad_opt.tune.result import SearchResult, Trial, edge_warnings
from tinygrad_opt.tune.search import (coarse_to_fine, grid_points, grid_search, narrow_space,
                                      random_search)
from tinygrad_opt.tune.space import (Choice, Distribution, LogUniform, RandInt, Uniform, choice,
                                     loguniform, randint, sample, uniform)
from tinygrad_opt.tune.trials import run_trial

__all__ = [
    "loguniform", "uniform", "randint", "choice", "sample",
    "Distribution", "LogUniform", "Uniform", "RandInt", "Choice",
    "random_search", "grid_search", "coarse_to_fine", "bayes_search",
    "grid_points", "narrow_space", "run_trial",
    "Trial", "SearchResult", "edge_warnings",
    "GaussianProcess", "matern52", "expected_improvement",
]
