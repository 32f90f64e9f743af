"""Bayesian optimisation: a Gaussian-process surrogate and expected improvement, in NumPy.

Random search spends every trial blindly. Bayesian optimisation (the notes'
sixth rule: Spearmint, SMAC, Hyperopt) spends a little arithmetic between
trials to choose the next one where it looks most useful, trading off
*exploitation* (near the best so far) against *exploration* (where little is
known). The loop::

    try n_initial random configurations
    repeat:
        fit a Gaussian process (GP) to all (configuration, value) pairs
        draw many random candidate configurations (and some near the best)
        run the objective at the candidate with the largest expected improvement

Everything happens in the unit cube: each parameter's unit coordinate
(``Distribution.to_unit``, log space for ``loguniform``), one dimension per
searched parameter. Values are minimised (``mode='max'`` negates them) and
standardised (zero mean, unit variance) before the fit.

**The Gaussian process.** A prior over functions f with covariance k(x, x')
between the values at x and x'. We use the Matern 5/2 kernel with one length
scale per dimension (ARD)::

    r = sqrt(Σ_j ((x_j − x'_j) / ℓ_j)²)
    k(x, x') = σ_f² · (1 + √5·r + 5/3·r²) · exp(−√5·r)

(smooth, twice differentiable, less over-confident than the Gaussian kernel;
Snoek et al. 2012). Observations are y = f(x) + noise of variance σ_n². With
K = k(X, X) + σ_n²·I = L·Lᵀ (Cholesky) and α = K⁻¹·y = Lᵀ \\ (L \\ y), the
posterior at a new point x* with k* = k(X, x*)::

    mean(x*) = k*ᵀ · α
    var(x*)  = k(x*, x*) − vᵀ·v,   v = L \\ k*

**Fitting the hyperparameters** θ = (log ℓ_1..ℓ_d, log σ_f², log σ_n²) by
maximising the log marginal likelihood::

    log p(y | X, θ) = −½ yᵀ·α − Σ_i log L_ii − (n/2)·log 2π

with a plain derivative-free optimiser: the best of a few random starts in a
box of plausible values, each improved by a compass search (try ± a step on
every coordinate, keep what helps, halve the step when nothing does).

**Expected improvement.** With f_best the lowest value seen and
Φ, φ the standard normal CDF and density::

    I = f_best − ξ − mean(x),   z = I / std(x)
    EI(x) = I·Φ(z) + std(x)·φ(z)          (and max(I, 0) where std = 0)

the expected amount by which f(x) beats f_best − ξ; it is never negative. ξ
(default 0.01, in standardised units) nudges towards exploration.

**Failed trials** count as the worst value seen so far, so the search moves
away from configurations that crash or diverge.

**Parallel trials** (``batch_size > 1``, e.g. the number of workers of an
executor): after choosing a point, pretend it returned the best value so far
(the "constant liar"), update the GP with the same hyperparameters and choose
the next point, until the batch is full; then run the batch.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from typing import Callable

import numpy as np

from tinygrad_opt._checks import whole_number
from tinygrad_opt.tune.result import SearchResult, Trial
from tinygrad_opt.tune.space import Choice, RandInt, distributions, sample
from tinygrad_opt.tune.trials import check_search_arguments, make_rng, run_trials

__all__ = ["matern52", "GaussianProcess", "expected_improvement", "bayes_search",
           "bayes_trials"]

SQRT5 = math.sqrt(5.0)
JITTER = 1e-10          # added to the diagonal of K so that its Cholesky factor exists

# box for the random starts and limits of the hyperparameter search (natural log)
LOG_LENGTH_BOUNDS = (math.log(0.01), math.log(10.0))
LOG_SIGNAL_BOUNDS = (math.log(0.05), math.log(20.0))
LOG_NOISE_BOUNDS = (math.log(1e-8), math.log(1.0))


def matern52(A: np.ndarray, B: np.ndarray, length_scales, signal_variance: float) -> np.ndarray:
    """Matern 5/2 covariance between the rows of ``A`` (n, d) and ``B`` (m, d): an (n, m) matrix.

        r = ||(a − b) / ℓ||,   k = σ_f² · (1 + √5·r + 5/3·r²) · exp(−√5·r)
    """
    scaled_difference = (A[:, None, :] - B[None, :, :]) / length_scales   # (n, m, d)
    r = np.sqrt(np.sum(scaled_difference ** 2, axis=-1))                  # (n, m)
    return signal_variance * (1.0 + SQRT5 * r + 5.0 / 3.0 * r ** 2) * np.exp(-SQRT5 * r)


def _cholesky_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``K⁻¹·b`` from the Cholesky factor ``K = L·Lᵀ``: two triangular solves."""
    return np.linalg.solve(L.T, np.linalg.solve(L, b))


class GaussianProcess:
    """GP regression with a Matern 5/2 ARD kernel; hyperparameters by marginal likelihood.

    Args:
        length_scales: ℓ (a number or one per dimension); None: fitted.
        signal_variance: σ_f² (of the standardised targets); None: fitted.
        noise_variance: σ_n² (of the standardised targets); None: fitted.
        n_restarts: random starts of the hyperparameter search.
        seed: seed of those starts (an int or a NumPy Generator).

    ``fit(X, y)`` standardises ``y``, fits the hyperparameters left as None and
    factorises K; ``predict(X)`` returns the posterior mean and standard
    deviation of f (without the noise), in the units of ``y``.
    """

    def __init__(self, length_scales=None, signal_variance: float | None = None,
                 noise_variance: float | None = None, n_restarts: int = 2, seed=0):
        self.fixed = {"length_scales": length_scales, "signal_variance": signal_variance,
                      "noise_variance": noise_variance}
        self.n_restarts = n_restarts
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    # --- hyperparameters as one vector θ -----------------------------------------------

    def _unpack(self, theta: np.ndarray) -> tuple[np.ndarray, float, float]:
        d = self.X.shape[1]
        return np.exp(theta[:d]), math.exp(theta[d]), math.exp(theta[d + 1])

    def log_marginal_likelihood(self, theta: np.ndarray | None = None) -> float:
        """``log p(y | X, θ) = −½ yᵀK⁻¹y − Σ log L_ii − (n/2) log 2π`` (−inf if K is not PD)."""
        theta = self.theta if theta is None else theta
        length_scales, signal_variance, noise_variance = self._unpack(theta)
        n = len(self.y)
        r = np.sqrt(self._squared_differences @ (1.0 / length_scales ** 2))     # (n, n)
        K = signal_variance * (1.0 + SQRT5 * r + 5.0 / 3.0 * r ** 2) * np.exp(-SQRT5 * r)
        K += (noise_variance + JITTER) * np.eye(n)                              # (n, n)
        try:
            L = np.linalg.cholesky(K)                                           # K = L·Lᵀ
        except np.linalg.LinAlgError:
            return -math.inf
        beta = np.linalg.solve(L, self.y)                   # yᵀK⁻¹y = yᵀL⁻ᵀL⁻¹y = βᵀβ
        return float(-0.5 * beta @ beta - np.sum(np.log(np.diag(L)))
                     - 0.5 * n * math.log(2 * math.pi))

    def _bounds(self) -> np.ndarray:
        d = self.X.shape[1]
        return np.array([LOG_LENGTH_BOUNDS] * d + [LOG_SIGNAL_BOUNDS, LOG_NOISE_BOUNDS])  # (d+2, 2)

    def _fit_hyperparameters(self, theta: np.ndarray, free: np.ndarray) -> np.ndarray:
        """Maximise the log marginal likelihood over the free entries of θ.

        Starts: the given θ and ``n_restarts`` random points of the box; each is
        improved by compass search; the best result wins.
        """
        bounds = self._bounds()
        starts = [theta.copy()]
        for _ in range(self.n_restarts):
            start = theta.copy()
            start[free] = self.rng.uniform(bounds[free, 0], bounds[free, 1])
            starts.append(start)
        best_theta, best_value = theta, -math.inf
        for start in starts:
            candidate, value = self._compass_search(start, free, bounds)
            if value > best_value:
                best_theta, best_value = candidate, value
        return best_theta

    def _compass_search(self, theta: np.ndarray, free: np.ndarray, bounds: np.ndarray,
                        step: float = 1.0, min_step: float = 0.2, max_evaluations: int = 100):
        """Coordinate-wise pattern search: move by ±step while that helps, then halve the step."""
        value = self.log_marginal_likelihood(theta)
        evaluations = 1
        while step >= min_step and evaluations < max_evaluations:
            improved = False
            for i in np.flatnonzero(free):
                for direction in (1.0, -1.0):
                    trial = theta.copy()
                    trial[i] = np.clip(theta[i] + direction * step, bounds[i, 0], bounds[i, 1])
                    trial_value = self.log_marginal_likelihood(trial)
                    evaluations += 1
                    if trial_value > value:
                        theta, value, improved = trial, trial_value, True
                        break
            if not improved:
                step /= 2
        return theta, value

    # --- fit and predict -----------------------------------------------------------------

    def fit(self, X, y, optimize: bool = True) -> "GaussianProcess":
        """Condition on observations ``X`` (n, d), ``y`` (n,); fit hyperparameters if asked.

        ``optimize=False`` keeps the current hyperparameters (after a first fit):
        the constant-liar batch step uses it.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or len(X) != len(y) or len(y) == 0:
            raise ValueError(f"GaussianProcess.fit: X must be (n, d) and y (n,), got "
                             f"{X.shape} and {y.shape}")
        self.y_mean = float(np.mean(y))
        self.y_std = float(np.std(y)) if np.std(y) > 0 else 1.0
        self.X = X
        self.y = (y - self.y_mean) / self.y_std                                  # standardised
        # (x_i − x_j)² per dimension, reused by every likelihood evaluation (the same
        # kernel as matern52, with r² = Σ_j (x_ij − x_kj)² / ℓ_j²)
        self._squared_differences = (X[:, None, :] - X[None, :, :]) ** 2        # (n, n, d)
        d = X.shape[1]
        if not hasattr(self, "theta") or len(self.theta) != d + 2:
            self.theta = np.array([math.log(0.3)] * d + [0.0, math.log(1e-4)])  # default θ
        free = np.ones(d + 2, dtype=bool)
        fixed = self.fixed
        if fixed["length_scales"] is not None:
            self.theta[:d] = np.log(np.broadcast_to(np.asarray(fixed["length_scales"],
                                                               dtype=np.float64), (d,)))
            free[:d] = False
        if fixed["signal_variance"] is not None:
            self.theta[d] = math.log(fixed["signal_variance"])
            free[d] = False
        if fixed["noise_variance"] is not None:
            self.theta[d + 1] = math.log(fixed["noise_variance"])
            free[d + 1] = False
        if optimize and free.any() and len(y) > 1:
            self.theta = self._fit_hyperparameters(self.theta, free)
        self.length_scales, self.signal_variance, self.noise_variance = self._unpack(self.theta)
        K = matern52(X, X, self.length_scales, self.signal_variance)            # (n, n)
        K += (self.noise_variance + JITTER) * np.eye(len(y))
        self.L = np.linalg.cholesky(K)                                           # K = L·Lᵀ
        self.alpha = _cholesky_solve(self.L, self.y)                            # K⁻¹·y
        return self

    def predict(self, X_new) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of f at the rows of ``X_new`` (m, d)."""
        X_new = np.asarray(X_new, dtype=np.float64)
        K_star = matern52(X_new, self.X, self.length_scales, self.signal_variance)  # (m, n)
        mean = K_star @ self.alpha                                                   # (m,)
        v = np.linalg.solve(self.L, K_star.T)                                        # (n, m)
        variance = self.signal_variance - np.sum(v ** 2, axis=0)                     # (m,)
        std = np.sqrt(np.maximum(variance, 0.0))
        return mean * self.y_std + self.y_mean, std * self.y_std

    def __repr__(self) -> str:
        if not hasattr(self, "L"):
            return "GaussianProcess(unfitted)"
        return (f"GaussianProcess(n={len(self.y)}, "
                f"length_scales={np.round(self.length_scales, 4)}, "
                f"signal_variance={self.signal_variance:.4g}, "
                f"noise_variance={self.noise_variance:.3g})")


_erf = np.vectorize(math.erf, otypes=[np.float64])


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float,
                         xi: float = 0.01) -> np.ndarray:
    """EI for minimisation: ``E[max(best − ξ − f(x), 0)]`` under f(x) ~ N(mean, std²).

        I = best − ξ − mean,  z = I / std,  EI = I·Φ(z) + std·φ(z)   (max(I, 0) where std = 0)
    """
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    improvement = best - xi - mean
    safe_std = np.where(std > 0, std, 1.0)
    z = improvement / safe_std
    cdf = 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))                  # Φ(z)
    pdf = np.exp(-0.5 * z ** 2) / math.sqrt(2.0 * math.pi)        # φ(z)
    ei = improvement * cdf + std * pdf
    ei = np.where(std > 0, ei, np.maximum(improvement, 0.0))
    return np.maximum(ei, 0.0)                                    # rounding can give -1e-17


# --- the search loop ---------------------------------------------------------------------------

def _encode(space: dict, params: dict) -> np.ndarray:
    """A configuration as a point of the unit cube, one coordinate per searched parameter."""
    return np.array([distribution.to_unit(params[name])
                     for name, distribution in distributions(space).items()])


def _decode(space: dict, point: np.ndarray) -> dict:
    """The configuration at a point of the unit cube (constants filled in)."""
    params = dict(space)
    for u, (name, distribution) in zip(point, distributions(space).items()):
        params[name] = distribution.from_unit(u)
    return params


def _observations(space: dict, trials: list[Trial], sign: float):
    """GP data: points and minimised values; failed trials count as the worst value seen."""
    ok_values = [sign * trial.value for trial in trials if trial.ok]
    if not ok_values:
        return None, None
    worst = max(ok_values)
    X = np.array([_encode(space, trial.params) for trial in trials])           # (n, d)
    y = np.array([sign * trial.value if trial.ok else worst for trial in trials])  # (n,)
    return X, y


def _snap(space: dict, points: np.ndarray) -> np.ndarray:
    """Move the coordinates of discrete parameters (randint, choice) to their cell centres.

    A unit coordinate u of a parameter with m values (integers or options)
    lies in cell ``floor(u·m)``; the value's own coordinate is that cell's
    centre. Continuous coordinates are left as they are.
    """
    points = points.copy()
    for j, distribution in enumerate(distributions(space).values()):
        if isinstance(distribution, (RandInt, Choice)):
            m = (distribution.hi - distribution.lo if isinstance(distribution, RandInt)
                 else len(distribution.options))
            cells = np.clip(np.floor(points[:, j] * m), 0, m - 1)
            points[:, j] = (cells + 0.5) / m
    return points


def _candidates(space: dict, X: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                n_candidates: int, local_fraction: float = 0.2) -> np.ndarray:
    """Candidate points of the unit cube: uniform ones, and some near the best point so far.

    A uniform point of the unit cube, decoded, has the distribution of a random
    configuration of the space (``sample`` draws ``from_unit(uniform)``), so the
    uniform candidates are random search in disguise; the local ones perturb the
    best point by N(0, 0.05²).
    """
    n_local = int(n_candidates * local_fraction)
    d = X.shape[1]
    uniform_points = rng.uniform(size=(n_candidates - n_local, d))              # (c − l, d)
    best_point = X[int(np.argmin(y))]                                           # (d,)
    local_points = np.clip(best_point + rng.normal(0.0, 0.05, size=(n_local, d)), 0.0, 1.0)
    return _snap(space, np.vstack([uniform_points, local_points]))              # (c, d)


def _propose(space: dict, trials: list[Trial], sign: float, rng: np.random.Generator,
             batch_size: int, n_candidates: int, xi: float) -> list[dict]:
    """The next ``batch_size`` configurations: EI maxima, the constant liar between them."""
    X, y = _observations(space, trials, sign)
    if X is None:                     # every trial failed so far: keep exploring at random
        return [sample(space, rng) for _ in range(batch_size)]
    gp = GaussianProcess(seed=rng).fit(X, y)
    proposals = []
    for _ in range(batch_size):
        points = _candidates(space, X, y, rng, n_candidates)                  # (c, d)
        mean, std = gp.predict(points)
        ei = expected_improvement(mean, std, best=float(np.min(y)), xi=xi * gp.y_std)
        chosen = points[int(np.argmax(ei))]
        proposals.append(_decode(space, chosen))
        # constant liar: pretend the chosen point returned the best value, refit, go on
        X = np.vstack([X, chosen])
        y = np.append(y, np.min(y))
        if len(proposals) < batch_size:
            gp.fit(X, y, optimize=False)
    return proposals


def bayes_trials(objective: Callable, space: dict, n_trials: int, rng: np.random.Generator,
                 mode: str = "min", executor: Executor | None = None, n_initial=None,
                 n_candidates: int = 1000, xi: float = 0.01, batch_size: int = 1, budget=None,
                 stage=None, first_number: int = 0, progress=False,
                 total: int | None = None) -> list[Trial]:
    """The trials of one Bayesian search (the loop of :func:`bayes_search`)."""
    sign = 1.0 if mode == "min" else -1.0
    d = len(distributions(space))
    if n_initial is None:
        n_initial = max(3, d + 1)
    n_initial = min(n_initial, n_trials)
    configs = [sample(space, rng) for _ in range(n_initial)]
    jobs = [(first_number + i, params, budget, stage) for i, params in enumerate(configs)]
    total = total or first_number + n_trials
    trials = run_trials(objective, jobs, executor, progress, total)
    while len(trials) < n_trials:
        size = min(batch_size, n_trials - len(trials))
        configs = _propose(space, trials, sign, rng, size, n_candidates, xi)
        jobs = [(first_number + len(trials) + i, params, budget, stage)
                for i, params in enumerate(configs)]
        trials += run_trials(objective, jobs, executor, progress, total)
    return trials


def bayes_search(objective: Callable, space: dict, n_trials: int = 20, seed=None,
                 mode: str = "min", executor: Executor | None = None,
                 n_initial: int | None = None, n_candidates: int = 1000, xi: float = 0.01,
                 batch_size: int = 1, budget=None, progress=False) -> SearchResult:
    """Bayesian optimisation with a GP surrogate and expected improvement (see the module doc).

    Args:
        objective, space, n_trials, seed, mode, executor, budget, progress: as
            for :func:`~tinygrad_opt.tune.search.random_search`.
        n_initial: random trials before the first GP fit (default
            ``max(3, d + 1)`` for d searched parameters).
        n_candidates: random candidates per proposal (20% of them near the
            best point so far); EI is maximised over them.
        xi: the exploration margin ξ, in units of the values' standard deviation.
        batch_size: proposals per round (constant liar); set it to the number
            of executor workers to run trials in parallel. Results do not depend
            on the executor, only on ``batch_size``.
    """
    check_search_arguments(objective, space, n_trials, mode, required=True)
    if not whole_number(batch_size):
        raise ValueError(f"bayes_search: batch_size must be a positive integer, got {batch_size!r}")
    if not whole_number(n_candidates):
        raise ValueError(f"bayes_search: n_candidates must be a positive integer, got "
                         f"{n_candidates!r}")
    if n_initial is not None and not whole_number(n_initial, 0):
        raise ValueError(f"bayes_search: n_initial must be None or an integer >= 0, got "
                         f"{n_initial!r}")
    rng = make_rng(seed)
    n_initial = None if n_initial is None else int(n_initial)   # counts given as 3.0 are 3
    trials = bayes_trials(objective, space, int(n_trials), rng, mode, executor, n_initial,
                          int(n_candidates), xi, int(batch_size), budget, progress=progress)
    return SearchResult(trials, space, mode, "bayes")
