"""Feature engineering before training: missing values, outliers, PCA, feature selection.

The lecture notes' 特征工程 and 特征选择 sections, as small fit/transform steps
in scikit-learn's style: ``fit(X_train)`` learns statistics from the training
set only, ``transform(X)`` applies them to any set (train, validation, test),
``fit_transform`` does both on the training set::

    imputer = SimpleImputer("median", add_indicator=True)
    X_train = imputer.fit_transform(X_train)
    X_test = imputer.transform(X_test)          # the training medians, never the test's

* :class:`SimpleImputer`       fill missing values (NaN) with the column's mean,
                               median, most frequent value or a constant, and
                               optionally add one 0/1 "was missing" column per
                               feature that had missing values;
* :class:`QuantileClipper`     clip each feature to its [q_low, q_high] quantiles
                               (outliers pulled back to the edge of the bulk);
* :class:`VarianceThreshold`   drop features whose variance is at or below a threshold
                               (constant pixels carry no information);
* :class:`PCA`                 principal components by SVD, optionally whitened;
* :class:`StabilitySelection`  L1 fits (``optim.CoordinateDescent``) on many random
                               halves of the data; a feature's score is the fraction
                               of fits that give it a non-zero weight
                               (:func:`stability_selection` returns those scores).

This is host-side NumPy, like ``metrics`` and ``data``: preprocessing runs once
on the whole data set before training, so it is not written with Tensor ops
(only :class:`StabilitySelection`'s L1 fits run on the framework's optimizer).
Inputs may be NumPy arrays, lists or Tensors; outputs are NumPy arrays, float
inputs keep their dtype and others become float64.

Errors: ``X`` must be 2-D ``(samples, features)``, with at least one of each to
fit; ``transform`` needs the number of features seen by ``fit``; a step used
before ``fit`` raises :class:`NotFittedError`; NaN is accepted only where it means "missing"
(:class:`SimpleImputer`, and :class:`QuantileClipper`, which passes it
through); inf is never accepted. Unlike scikit-learn, ``transform`` accepts
zero rows (an empty split gives an empty output of the transformed width).
"""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_opt._checks import whole_number

__all__ = ["NotFittedError", "SimpleImputer", "QuantileClipper", "VarianceThreshold", "PCA",
           "StabilitySelection", "stability_selection"]


class NotFittedError(RuntimeError):
    """A preprocessing step was used before ``fit``."""


class _Step:
    """Shared checks: ``fit_transform``, input conversion, the fitted state."""

    allow_nan = False     # whether NaN (a missing value) is accepted in X

    def fit(self, X, y=None):
        raise NotImplementedError

    def transform(self, X) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, X, y=None) -> np.ndarray:
        """``fit(X, y)`` then ``transform(X)``."""
        return self.fit(X, y).transform(X)

    def _name(self) -> str:
        return type(self).__name__

    def _check(self, X, fitting: bool) -> np.ndarray:
        """X as a 2-D float NumPy array, checked (against the fitted width unless ``fitting``).

        Each ``fit`` sets ``n_features_in_`` last: a step whose first fit failed is unfitted.
        """
        from tinygrad_opt.tensor import Tensor  # lazy: the package imports the core first
        name = self._name()
        if not fitting and not hasattr(self, "n_features_in_"):
            raise NotFittedError(f"{name}: call fit(X) before transform")
        try:
            array = X.numpy() if isinstance(X, Tensor) else np.asarray(X)
        except (ValueError, TypeError) as error:       # a ragged list: NumPy names no step
            raise ValueError(f"{name}: X must be a 2-D array (samples, features), got "
                             f"{type(X).__name__} that NumPy cannot read as one: {error}") \
                from None
        if array.dtype == object or np.iscomplexobj(array) or \
                not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise TypeError(f"{name}: X must be numeric, got dtype {array.dtype}")
        if not np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float64)
        if array.ndim != 2:
            raise ValueError(f"{name}: X must be 2-D (samples, features), got shape "
                             f"{array.shape}")
        if fitting and array.shape[0] == 0:
            raise ValueError(f"{name}: X has no samples")
        if fitting and array.shape[1] == 0:
            raise ValueError(f"{name}: X has no features (shape {array.shape})")
        if not fitting and array.shape[1] != self.n_features_in_:
            raise ValueError(f"{name}: X has {array.shape[1]} features, but {name} was fitted "
                             f"on {self.n_features_in_}")
        if np.any(np.isinf(array)):
            raise ValueError(f"{name}: X contains inf")
        if not self.allow_nan and np.any(np.isnan(array)):
            columns = np.flatnonzero(np.isnan(array).any(axis=0)).tolist()
            raise ValueError(f"{name}: X contains NaN (missing values) in columns {columns}; "
                             "impute them first (SimpleImputer)")
        return array


# --- missing values ------------------------------------------------------------------------

class SimpleImputer(_Step):
    """Replace missing values (NaN) column by column with a statistic of the training set.

    ``strategy``: ``'mean'`` or ``'median'`` of the column's observed values,
    ``'most_frequent'`` (the smallest of the most frequent values) or
    ``'constant'`` (``fill_value``). The notes list all four (均值/中位数/众数/固定值).
    The median resists outliers; the mean does not.

    ``add_indicator=True`` appends one column per feature that had at least one
    missing value in the training set: 1.0 where the value was missing, else 0
    (scikit-learn's ``MissingIndicator(features='missing-only')``). When being
    missing says something about the sample, the model can use it.

    Fitted attributes: ``statistics_`` (the fill value per feature),
    ``indicator_features_`` (the features that get an indicator column). A
    column with no observed value in the training set has no mean or median and
    raises an error (except with ``'constant'``). NaN met by ``transform`` in a
    feature that had none during ``fit`` is filled too, without an indicator.
    """

    allow_nan = True

    def __init__(self, strategy: str = "mean", add_indicator: bool = False,
                 fill_value: float = 0.0):
        if strategy not in ("mean", "median", "most_frequent", "constant"):
            raise ValueError(f"SimpleImputer: strategy must be 'mean', 'median', "
                             f"'most_frequent' or 'constant', got {strategy!r}")
        if not isinstance(fill_value, numbers.Real):     # float('x') would name no argument
            raise TypeError(f"SimpleImputer: fill_value must be a number, got {fill_value!r}")
        self.strategy = strategy
        self.add_indicator = bool(add_indicator)
        self.fill_value = float(fill_value)

    def fit(self, X, y=None) -> "SimpleImputer":
        X = self._check(X, fitting=True).astype(np.float64)   # float16 sums overflow at 65504
        missing = np.isnan(X)                                              # (N, D)
        if self.strategy == "constant":
            statistics = np.full(X.shape[1], self.fill_value)
        else:
            empty = np.flatnonzero(missing.all(axis=0))
            if len(empty):
                raise ValueError(f"SimpleImputer: columns {empty.tolist()} have no observed "
                                 f"value, so no {self.strategy}; drop them or use "
                                 "strategy='constant'")
            if self.strategy == "mean":
                statistics = np.nanmean(X, axis=0)
            elif self.strategy == "median":
                statistics = np.nanmedian(X, axis=0)
            else:
                statistics = np.array([_most_frequent(column[~np.isnan(column)])
                                       for column in X.T])
        self.statistics_ = statistics.astype(np.float64)                   # (D,)
        self.indicator_features_ = np.flatnonzero(missing.any(axis=0))     # (K,)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        X = self._check(X, fitting=False)
        missing = np.isnan(X)                                              # (N, D)
        filled = np.where(missing, self.statistics_.astype(X.dtype), X)    # (N, D)
        if self.add_indicator:
            indicators = missing[:, self.indicator_features_].astype(X.dtype)   # (N, K)
            filled = np.concatenate([filled, indicators], axis=1)          # (N, D + K)
        return filled


def _most_frequent(values: np.ndarray) -> float:
    """The most frequent of ``values``; the smallest one among ties."""
    unique, counts = np.unique(values, return_counts=True)                 # sorted values
    return float(unique[np.argmax(counts)])


# --- outliers ------------------------------------------------------------------------------

class QuantileClipper(_Step):
    """Clip each feature to the range between two quantiles of its training values.

    ``fit`` stores ``lower_[j]`` and ``upper_[j]``, the ``low`` and ``high``
    quantiles of feature j (NumPy's default linear interpolation, NaN
    ignored); ``transform`` returns ``clip(X, lower_, upper_)``. An outlier
    (a value far out of the bulk: a sensor glitch, a typo) is pulled back to
    the edge of the usual range instead of dominating a mean, a variance or a
    linear model's output. NaN passes through unchanged, so the clipper may
    come before an imputer (a mean imputed after clipping is not dragged by
    the outliers). The notes' simple-statistics outlier handling
    (基于简单统计); defaults 1% and 99%.
    """

    allow_nan = True

    def __init__(self, low: float = 0.01, high: float = 0.99):
        if not (isinstance(low, numbers.Real) and isinstance(high, numbers.Real)
                and 0.0 <= low < high <= 1.0):
            raise ValueError(f"QuantileClipper: need 0 <= low < high <= 1, got low={low}, "
                             f"high={high}")
        self.low = float(low)
        self.high = float(high)

    def fit(self, X, y=None) -> "QuantileClipper":
        X = self._check(X, fitting=True)
        empty = np.flatnonzero(np.isnan(X).all(axis=0))
        if len(empty):
            raise ValueError(f"QuantileClipper: columns {empty.tolist()} have no observed value")
        self.lower_ = np.nanquantile(X.astype(np.float64), self.low, axis=0)   # (D,)
        self.upper_ = np.nanquantile(X.astype(np.float64), self.high, axis=0)   # (D,)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        X = self._check(X, fitting=False)
        clipped = np.clip(X, self.lower_.astype(X.dtype), self.upper_.astype(X.dtype))
        return np.where(np.isnan(X), X, clipped)                           # NaN stays NaN


# --- low-variance features ------------------------------------------------------------------

class VarianceThreshold(_Step):
    """Drop the features whose training variance is at or below ``threshold``.

    ``variances_`` holds each feature's variance (``ddof=0``, as
    scikit-learn); a feature is kept when its variance is strictly above the
    threshold, so the default 0 removes exactly the constant features (the
    digits have three pixels that are 0 in every image). The notes' first
    feature-selection method (去除方差较小的特征). Note that the variance
    depends on the feature's scale: apply it before standardising, or on
    features of comparable units. ``get_support()`` is the boolean mask of the
    kept features. A constant column's variance is 0 exactly (as scikit-learn,
    which also checks the peak-to-peak range), even where rounding in the mean
    would leave a residue such as 1e-34. Unlike scikit-learn, whose variance
    skips NaN, X with NaN is refused: impute it first.
    """

    def __init__(self, threshold: float = 0.0):
        if not (isinstance(threshold, numbers.Real) and threshold >= 0):
            raise ValueError(f"VarianceThreshold: threshold must be >= 0, got {threshold}")
        self.threshold = float(threshold)

    def fit(self, X, y=None) -> "VarianceThreshold":
        X = self._check(X, fitting=True)
        variances = X.astype(np.float64).var(axis=0)                        # (D,)
        # a constant column has variance 0 exactly; NumPy's var can leave a rounding
        # residue (ten copies of 0.1: 1.9e-34, as the mean rounds), which threshold 0 kept
        variances[np.ptp(X, axis=0) == 0] = 0.0
        if not np.any(variances > self.threshold):
            raise ValueError(f"VarianceThreshold: no feature has a variance above "
                             f"{self.threshold} (the largest is {variances.max():.4g})")
        self.variances_ = variances
        self.n_features_in_ = X.shape[1]
        return self

    def get_support(self) -> np.ndarray:
        """Boolean mask ``(D,)`` of the features kept."""
        if not hasattr(self, "variances_"):
            raise NotFittedError("VarianceThreshold: call fit(X) before get_support")
        return self.variances_ > self.threshold

    def transform(self, X) -> np.ndarray:
        X = self._check(X, fitting=False)
        return X[:, self.get_support()]


# --- principal components -----------------------------------------------------------------------

class PCA(_Step):
    """Principal component analysis by the singular value decomposition, optionally whitened.

    ``fit``: centre the training data, ``Xc = X − mean_``, and decompose
    ``Xc = U · diag(S) · Vᵀ`` (``np.linalg.svd``, thin). The rows of ``Vᵀ``
    are the principal directions, ordered by decreasing variance; the first k
    are ``components_`` ``(k, D)``. Then::

        explained_variance_       = S² / (N − 1)              (the variance along each)
        explained_variance_ratio_ = S² / Σ S²                 (share of the total variance)
        transform(X)              = (X − mean_) · components_ᵀ        (N, k)
        whiten=True:                … / sqrt(explained_variance_)     (unit variance each)

    ``n_components``: an int k, a float in (0, 1) (the fewest components
    whose cumulative ``explained_variance_ratio_`` is strictly above it, as
    scikit-learn), or None (all ``min(N, D)``). Each component's sign is fixed
    so that its entry of largest absolute value is positive (the SVD leaves it
    free). Whitening divides by the component's standard deviation, floored at
    machine epsilon (a zero-variance direction gives 0, not inf), so that every
    output feature has unit variance on the training set: useful for models
    sensitive to feature scale. ``inverse_transform`` maps back to the input
    space (exactly, when all components are kept).

    The notes list PCA for dimensionality reduction (降维) and warn that it
    does not cure overfitting: it drops directions of low variance, not
    information that is irrelevant to the labels.
    """

    def __init__(self, n_components: int | float | None = None, whiten: bool = False):
        if n_components is not None:
            integer = isinstance(n_components, numbers.Integral) and \
                not isinstance(n_components, bool)
            fraction = isinstance(n_components, numbers.Real) and not integer and \
                not isinstance(n_components, bool) and 0.0 < n_components < 1.0
            if not (integer and n_components >= 1) and not fraction:
                raise ValueError(f"PCA: n_components must be an int >= 1, a float in (0, 1) or "
                                 f"None, got {n_components!r}")
        self.n_components = n_components
        self.whiten = bool(whiten)

    def fit(self, X, y=None) -> "PCA":
        X = self._check(X, fitting=True)
        n, d = X.shape
        if n < 2:
            raise ValueError(f"PCA: needs at least 2 samples to estimate variances, got {n}")
        mean = X.astype(np.float64).mean(axis=0)                           # (D,)
        centered = X.astype(np.float64) - mean                             # (N, D)
        _, singular_values, vt = np.linalg.svd(centered, full_matrices=False)  # vt (r, D)
        largest = np.argmax(np.abs(vt), axis=1)                            # (r,)
        signs = np.sign(vt[np.arange(len(vt)), largest])
        vt = vt * np.where(signs == 0, 1.0, signs)[:, None]                # sign convention
        variance = singular_values ** 2 / (n - 1)                          # (r,)
        total = np.sum(singular_values ** 2)
        ratio = singular_values ** 2 / total if total > 0 else np.zeros_like(variance)
        k = self._count(ratio, min(n, d))      # may raise: set nothing before it (a refit)
        self.mean_ = mean
        self.components_ = vt[:k]                                          # (k, D)
        self.singular_values_ = singular_values[:k]
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = ratio[:k]
        self.n_components_ = k
        self.n_features_in_ = d
        return self

    def _count(self, ratio: np.ndarray, largest: int) -> int:
        """The number of components to keep, from ``n_components``."""
        if self.n_components is None:
            return largest
        if not isinstance(self.n_components, numbers.Integral):
            # all-constant data has ratio 0 everywhere: then every component is kept
            count = int(np.searchsorted(np.cumsum(ratio), self.n_components, side="right")) + 1
            return min(count, len(ratio))
        if self.n_components > largest:
            raise ValueError(f"PCA: n_components={self.n_components} exceeds min(samples, "
                             f"features) = {largest}")
        return int(self.n_components)

    def _scale(self) -> np.ndarray:
        """The whitening divisor: sqrt(variance), floored at machine epsilon."""
        return np.maximum(np.sqrt(self.explained_variance_), np.finfo(np.float64).eps)

    def transform(self, X) -> np.ndarray:
        X = self._check(X, fitting=False)
        projected = (X.astype(np.float64) - self.mean_) @ self.components_.T   # (N, k)
        if self.whiten:
            projected = projected / self._scale()
        return projected.astype(X.dtype)

    def inverse_transform(self, Z) -> np.ndarray:
        """From component scores ``(N, k)`` back to the input space ``(N, D)``."""
        if not hasattr(self, "components_"):
            raise NotFittedError("PCA: call fit(X) before inverse_transform")
        from tinygrad_opt.tensor import Tensor  # lazy, as in _check
        Z = Z.numpy() if isinstance(Z, Tensor) else np.asarray(Z)
        if not (np.issubdtype(Z.dtype, np.number) or Z.dtype == np.bool_) or \
                np.iscomplexobj(Z):
            raise TypeError(f"PCA: inverse_transform needs numeric scores, got dtype {Z.dtype}")
        if Z.ndim != 2 or Z.shape[1] != self.n_components_:
            raise ValueError(f"PCA: inverse_transform needs shape (N, {self.n_components_}), "
                             f"got {Z.shape}")
        if not np.all(np.isfinite(Z)):                 # as transform: NaN and inf refused
            raise ValueError("PCA: inverse_transform got scores with NaN or inf")
        scores = Z.astype(np.float64) * (self._scale() if self.whiten else 1.0)
        out = scores @ self.components_ + self.mean_                       # (N, D)
        return out.astype(Z.dtype if np.issubdtype(Z.dtype, np.floating) else np.float64)


# --- stability selection -------------------------------------------------------------------------

class StabilitySelection(_Step):
    """Feature selection by how often an L1 fit on a random half of the data keeps a feature.

    Meinshausen and Bühlmann (2010), "Stability selection"; the notes'
    稳定性选择. For r = 1 .. ``n_resamples``:

    1. draw a random half of the samples (``sample_fraction`` of N, without
       replacement);
    2. standardise X on that half (mean 0, variance 1 per feature; features
       constant on the half are left out of the fit) and centre y;
    3. fit the Lasso ``F(W) = ‖X W − Y‖² / (2n) + l1 · ‖W‖₁`` with
       ``optim.CoordinateDescent`` (exact zeros by soft-thresholding), sweeps
       until no weight moves by more than ``tol`` or ``max_sweeps``;
    4. feature j is *selected* in this fit if some weight of its row ``W[j]``
       is non-zero.

    ``frequencies_[j]`` is the fraction of fits that selected j; the features
    kept are those with ``frequencies_ >= threshold`` (0.6 to 0.9 in the
    paper). Relevant features score near 1, noise near 0, whatever the exact
    l1: a feature that an L1 fit keeps only by the luck of the sample does not
    survive the resampling.

    ``y`` is ``(N,)`` (one response) or ``(N, K)`` (K responses fitted
    together, e.g. one-hot class labels ``np.eye(C)[labels]``: a feature is
    selected if it helps any class). The closure given to the optimizer is the
    least-squares loss in its Gram form ``½ tr(Wᵀ A W) − tr(Bᵀ W)`` with
    ``A = XᵀX / n`` and ``B = XᵀY / n``: it differs from ``‖XW − Y‖² / (2n)``
    by a constant, so the gradients, second derivatives and every
    coordinate-descent step are the same, at a cost that does not grow with n.

    Fitted attributes: ``frequencies_`` ``(D,)``, ``selections_`` (bool
    ``(n_resamples, D)``, one row per fit), ``subsets_`` (the row indices of
    each half), ``sweeps_`` (sweeps used per fit). ``get_support()`` is the
    mask of kept features; ``transform`` keeps those columns. ``seed`` fixes
    the halves.
    """

    def __init__(self, l1: float = 0.05, n_resamples: int = 50, threshold: float = 0.6,
                 sample_fraction: float = 0.5, max_sweeps: int = 100, tol: float = 1e-4,
                 seed=0):
        def real(value):                      # a string would raise in the comparison
            return isinstance(value, numbers.Real)
        if not (real(l1) and l1 > 0):
            raise ValueError(f"StabilitySelection: l1 must be > 0, got {l1}")
        if not whole_number(n_resamples):
            raise ValueError(f"StabilitySelection: n_resamples must be a positive integer, "
                             f"got {n_resamples!r}")
        if not (real(threshold) and 0.0 < threshold <= 1.0):
            raise ValueError(f"StabilitySelection: threshold must lie in (0, 1], got {threshold}")
        if not (real(sample_fraction) and 0.0 < sample_fraction <= 1.0):
            raise ValueError(f"StabilitySelection: sample_fraction must lie in (0, 1], got "
                             f"{sample_fraction}")
        if not whole_number(max_sweeps):
            raise ValueError(f"StabilitySelection: max_sweeps must be a positive integer, "
                             f"got {max_sweeps!r}")
        if not (real(tol) and tol >= 0):      # NaN never stops early: max_sweeps every fit
            raise ValueError(f"StabilitySelection: tol must be >= 0, got {tol}")
        self.l1 = float(l1)
        self.n_resamples = int(n_resamples)
        self.threshold = float(threshold)
        self.sample_fraction = float(sample_fraction)
        self.max_sweeps = int(max_sweeps)
        self.tol = float(tol)
        self.seed = seed

    def fit(self, X, y=None) -> "StabilitySelection":
        X = self._check(X, fitting=True).astype(np.float64)
        Y = self._targets(y, len(X))
        n, d = X.shape
        half = max(2, int(round(self.sample_fraction * n)))
        if half > n:
            raise ValueError(f"StabilitySelection: needs at least 2 samples, got {n}")
        rng = np.random.default_rng(self.seed)
        self.subsets_, self.sweeps_ = [], []
        self.selections_ = np.zeros((self.n_resamples, d), dtype=bool)
        for r in range(self.n_resamples):
            rows = np.sort(rng.choice(n, size=half, replace=False))
            weights, sweeps = self._lasso(X[rows], Y[rows])                 # (D, K)
            self.selections_[r] = np.any(weights != 0, axis=1)
            self.subsets_.append(rows)
            self.sweeps_.append(sweeps)
        self.frequencies_ = self.selections_.mean(axis=0)                   # (D,)
        self.n_features_in_ = d
        return self

    def _targets(self, y, n: int) -> np.ndarray:
        if y is None:
            raise ValueError("StabilitySelection: fit(X, y) needs the targets y")
        from tinygrad_opt.tensor import Tensor
        Y = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
        if not (np.issubdtype(Y.dtype, np.number) or Y.dtype == np.bool_) or \
                np.iscomplexobj(Y):
            raise TypeError(f"StabilitySelection: y must be numeric (encode class labels as "
                            f"numbers or one-hot), got dtype {Y.dtype}")
        Y = Y.astype(np.float64)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2 or len(Y) != n or Y.shape[1] == 0:
            raise ValueError(f"StabilitySelection: y must be (N,) or (N, K) with N = {n}, got "
                             f"shape {np.shape(y)}")
        if not np.all(np.isfinite(Y)):
            raise ValueError("StabilitySelection: y contains NaN or inf")
        return Y

    def _lasso(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, int]:
        """The Lasso weights ``(D, K)`` on one half (0 for its constant features), sweeps used."""
        import tinygrad_opt as tg
        from tinygrad_opt.optim import CoordinateDescent
        n = len(X)
        std = X.std(axis=0)                                                 # (D,)
        varying = std > 0
        if not varying.any():                  # every feature constant on this half: none kept
            return np.zeros((X.shape[1], Y.shape[1])), 0
        Xs = (X[:, varying] - X[:, varying].mean(axis=0)) / std[varying]    # (n, D')
        Yc = Y - Y.mean(axis=0)                                             # (n, K)
        A = tg.tensor(Xs.T @ Xs / n)                                        # (D', D')
        B = tg.tensor(Xs.T @ Yc / n)                                        # (D', K)
        W = tg.zeros(Xs.shape[1], Y.shape[1], dtype=tg.float64, requires_grad=True)
        optimizer = CoordinateDescent([W], l1=self.l1)

        def closure():
            return 0.5 * (W * (A @ W)).sum() - (B * W).sum()       # ½tr(WᵀAW) − tr(BᵀW)

        sweeps = 0
        for sweeps in range(1, self.max_sweeps + 1):
            before = W.numpy().copy()
            optimizer.step(closure)
            if np.max(np.abs(W.numpy() - before)) <= self.tol:
                break
        weights = np.zeros((X.shape[1], Y.shape[1]))
        weights[varying] = W.numpy()
        return weights, sweeps

    def get_support(self) -> np.ndarray:
        """Boolean mask ``(D,)``: the features selected in at least ``threshold`` of the fits."""
        if not hasattr(self, "frequencies_"):
            raise NotFittedError("StabilitySelection: call fit(X, y) before get_support")
        return self.frequencies_ >= self.threshold

    def transform(self, X) -> np.ndarray:
        X = self._check(X, fitting=False)
        return X[:, self.get_support()]


def stability_selection(X, y, alpha: float = 0.05, n_resamples: int = 50, seed=0,
                        **options) -> np.ndarray:
    """How often each feature is selected: stability selection as a function.

    ``stability_selection(X, y, alpha, n_resamples, seed)`` fits
    ``StabilitySelection(l1=alpha, n_resamples=n_resamples, seed=seed, **options)``
    (the Lasso penalty ``alpha``, as scikit-learn names it) on ``X``, ``y`` and
    returns its ``frequencies_``: for each feature, the fraction of the
    ``n_resamples`` half-sample L1 fits that kept it, shape ``(D,)``. Keep the
    features whose frequency reaches a threshold (0.6 to 0.9 in the paper), or
    use the ``StabilitySelection`` step, whose ``transform`` does that.
    ``options``: the step's other arguments (``sample_fraction``, ``max_sweeps``,
    ``tol``).
    """
    selector = StabilitySelection(l1=alpha, n_resamples=n_resamples, seed=seed, **options)
    return selector.fit(X, y).frequencies_
