"""tinygrad_opt.preprocessing: imputation, quantile clipping, low-variance removal, PCA and
stability selection.

References: cases worked out by hand; NumPy one-liners (nanmedian by column); values
printed by scikit-learn 1.9.1 (NumPy 2.4.6) on 2026-12-04 for PCA on the same array; an
eigendecomposition of the covariance matrix for PCA; and a plain NumPy Lasso coordinate
descent (written here, residual form) for the L1 fits of stability selection.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.preprocessing import (PCA, NotFittedError, QuantileClipper, SimpleImputer,
                                        StabilitySelection, VarianceThreshold,
                                        stability_selection)

NAN = np.nan

# --- imputation -------------------------------------------------------------------------------

X_MISSING = np.array([[1.0, NAN, 3.0],
                      [NAN, 4.0, 3.0],
                      [7.0, 2.0, 3.0],
                      [2.0, 2.0, 3.0]])
# column 0: observed 1, 7, 2 -> mean 10/3, median 2, most frequent (all once) the smallest, 1
# column 1: observed 4, 2, 2 -> mean 8/3, median 2, most frequent 2; column 2 never missing


@pytest.mark.parametrize("strategy, fills", [("mean", [10 / 3, 8 / 3, 3.0]),
                                             ("median", [2.0, 2.0, 3.0]),
                                             ("most_frequent", [1.0, 2.0, 3.0]),
                                             ("constant", [-1.0, -1.0, -1.0])])
def test_imputer_by_hand(strategy, fills):
    imputer = SimpleImputer(strategy, fill_value=-1.0).fit(X_MISSING)
    np.testing.assert_allclose(imputer.statistics_, fills)
    out = imputer.transform(X_MISSING)
    expected = X_MISSING.copy()
    expected[1, 0], expected[0, 1] = fills[0], fills[1]
    np.testing.assert_allclose(out, expected)
    # test rows are filled with the training statistics, not their own
    np.testing.assert_allclose(imputer.transform([[NAN, NAN, NAN]]), [fills])


def test_imputer_indicator_columns():
    imputer = SimpleImputer("median", add_indicator=True)
    out = imputer.fit_transform(X_MISSING)
    np.testing.assert_array_equal(imputer.indicator_features_, [0, 1])    # column 2: none
    assert out.shape == (4, 5)
    np.testing.assert_array_equal(out[:, 3:], [[0, 1], [1, 0], [0, 0], [0, 0]])
    # NaN in column 2 at transform time: filled, and no extra column appears
    out = imputer.transform([[1.0, 2.0, NAN]])
    np.testing.assert_array_equal(out, [[1.0, 2.0, 3.0, 0.0, 0.0]])
    # float32 stays float32, Tensors are read
    assert imputer.transform(X_MISSING.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(imputer.transform(tg.tensor(X_MISSING)),
                               imputer.transform(X_MISSING))


def test_imputer_matches_a_numpy_reference():
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(12, 4)), 1)
    X[rng.random(X.shape) < 0.25] = NAN
    out = SimpleImputer("median", add_indicator=True).fit(X).transform(X)
    reference = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)          # NumPy, by column
    with_missing = np.isnan(X).any(axis=0)
    np.testing.assert_allclose(out, np.hstack([reference, np.isnan(X)[:, with_missing]]))


def test_imputer_errors():
    with pytest.raises(ValueError, match="strategy must be"):
        SimpleImputer("mode")
    with pytest.raises(ValueError, match=r"columns \[1\] have no observed value"):
        SimpleImputer().fit([[1.0, NAN], [2.0, NAN]])
    np.testing.assert_array_equal(SimpleImputer("constant").fit_transform([[1.0, NAN]]),
                                  [[1.0, 0.0]])
    with pytest.raises(NotFittedError, match="SimpleImputer: call fit"):
        SimpleImputer().transform([[1.0]])
    imputer = SimpleImputer().fit(X_MISSING)
    with pytest.raises(ValueError, match="X has 2 features, but SimpleImputer was fitted on 3"):
        imputer.transform([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"X must be 2-D \(samples, features\), got shape \(3,\)"):
        imputer.transform([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="contains inf"):
        imputer.transform([[1.0, np.inf, 2.0]])
    with pytest.raises(TypeError, match="must be numeric"):
        imputer.transform([["a", "b", "c"]])


# --- quantile clipping -------------------------------------------------------------------------

def test_quantile_clipper_by_hand():
    # column 0: 0, 1, ..., 10 -> linear-interpolated 10% and 90% quantiles 1 and 9
    # column 1: 0, 0, ..., 0, 100 (one outlier) -> quantiles 0 and 0 (the outlier is clipped)
    X = np.stack([np.arange(11.0), np.r_[np.zeros(10), 100.0]], axis=1)
    clipper = QuantileClipper(0.1, 0.9).fit(X)
    np.testing.assert_allclose(clipper.lower_, [1.0, 0.0])
    np.testing.assert_allclose(clipper.upper_, [9.0, 0.0])
    out = clipper.transform([[-5.0, 50.0], [5.0, -3.0], [12.0, NAN]])
    np.testing.assert_array_equal(out, [[1.0, 0.0], [5.0, 0.0], [9.0, NAN]])
    # quantiles of the observed values only: NaN is ignored in fit and kept by transform
    clipper = QuantileClipper(0.0, 0.5).fit([[1.0], [NAN], [3.0], [2.0]])
    np.testing.assert_allclose(clipper.upper_, [2.0])


def test_quantile_clipper_errors():
    for low, high in ((0.5, 0.5), (-0.1, 0.9), (0.1, 1.1)):
        with pytest.raises(ValueError, match="need 0 <= low < high <= 1"):
            QuantileClipper(low=low, high=high)
    with pytest.raises(ValueError, match=r"columns \[0\] have no observed value"):
        QuantileClipper().fit([[NAN, 1.0], [NAN, 2.0]])
    with pytest.raises(NotFittedError):
        QuantileClipper().transform([[1.0]])


# --- low-variance features ---------------------------------------------------------------------

def test_variance_threshold_by_hand():
    # variances (ddof = 0): column 0 constant -> 0; column 1: 0, 2 -> 1; column 2: 0, 0.5 -> 1/16
    X = np.array([[5.0, 0.0, 0.0], [5.0, 2.0, 0.5]])
    selector = VarianceThreshold().fit(X)
    np.testing.assert_allclose(selector.variances_, [0.0, 1.0, 0.0625])
    np.testing.assert_array_equal(selector.get_support(), [False, True, True])
    np.testing.assert_array_equal(selector.transform(X), X[:, 1:])
    np.testing.assert_array_equal(VarianceThreshold(0.0625).fit(X).get_support(),
                                  [False, True, False])         # strictly above the threshold
    with pytest.raises(ValueError, match="no feature has a variance above 5.0"):
        VarianceThreshold(5.0).fit(X)
    with pytest.raises(ValueError, match="contains NaN"):
        VarianceThreshold().fit([[1.0, NAN]])
    with pytest.raises(NotFittedError):
        VarianceThreshold().get_support()


def test_variance_threshold_drops_the_constant_digit_pixels():
    from tinygrad_opt.datasets import load_digits
    X, _ = load_digits()
    selector = VarianceThreshold().fit(X)
    dropped = np.flatnonzero(~selector.get_support())
    np.testing.assert_array_equal(dropped, np.flatnonzero(X.min(axis=0) == X.max(axis=0)))
    assert len(dropped) == 3 and selector.transform(X).shape == (1797, 61)


# --- PCA ---------------------------------------------------------------------------------------

X_PCA = np.array([[2.0, 0.0, 1.0, 5.0], [1.0, 1.0, 0.0, 4.0], [0.0, 3.0, 1.0, 2.0],
                  [4.0, 1.0, 2.0, 6.0], [3.0, 2.0, 0.0, 7.0], [1.0, 0.0, 1.0, 3.0]])


def test_pca_matches_scikit_learn():
    # scikit-learn 1.9.1: PCA(2, whiten=True).fit(X_PCA)
    pca = PCA(2, whiten=True).fit(X_PCA)
    np.testing.assert_allclose(pca.explained_variance_, [5.477964479585877, 1.3726986573857132],
                               rtol=1e-12)
    np.testing.assert_allclose(pca.explained_variance_ratio_,
                               [0.7207847999455098, 0.18061824439285692], rtol=1e-12)
    np.testing.assert_allclose(pca.components_, [
        [0.6086177609821891, -0.11288755150709778, 0.03329177354742861, 0.784686229996313],
        [-0.062306987404938785, 0.9467865968649, -0.2483159789344121, 0.19506961301890963]],
        rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pca.transform(X_PCA[:2]),
                               [[0.269612811488271, -0.9037213709879288],
                                [-0.3881440402035765, 0.003004295408569749]], rtol=1e-10)


def test_pca_against_the_covariance_eigendecomposition():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 5)) @ rng.normal(size=(5, 5)) + 3.0
    pca = PCA().fit(X)
    covariance = np.cov(X, rowvar=False)                              # (D, D), N - 1
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)            # increasing
    np.testing.assert_allclose(pca.explained_variance_, eigenvalues[::-1], rtol=1e-10)
    for component, vector in zip(pca.components_, eigenvectors.T[::-1]):
        assert abs(component @ vector) == pytest.approx(1.0, abs=1e-10)   # same direction
        assert component[np.argmax(np.abs(component))] > 0                  # the sign rule
    # all components: an exact rotation, inverted by inverse_transform
    Z = pca.transform(X)
    np.testing.assert_allclose(pca.inverse_transform(Z), X, atol=1e-10)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.diag(pca.explained_variance_),
                               atol=1e-10)
    # whitened: unit variance and no correlation on the training set
    white = PCA(3, whiten=True).fit(X)
    np.testing.assert_allclose(np.cov(white.transform(X), rowvar=False), np.eye(3), atol=1e-10)
    np.testing.assert_allclose(white.inverse_transform(white.transform(X)),
                               PCA(3).fit(X).inverse_transform(PCA(3).fit(X).transform(X)),
                               atol=1e-10)


def test_pca_n_components_as_a_variance_fraction():
    pca = PCA().fit(X_PCA)
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    for fraction in (0.5, 0.72, 0.9, 0.95):
        k = PCA(fraction).fit(X_PCA).n_components_
        assert cumulative[k - 1] > fraction and (k == 1 or cumulative[k - 2] <= fraction)
    assert PCA(0.9).fit(X_PCA).n_components_ == 2                # 0.721, then 0.901 > 0.9
    assert PCA(0.72).fit(X_PCA).n_components_ == 1               # 0.7208 > 0.72
    assert PCA(np.int64(2)).fit(X_PCA).components_.shape == (2, 4)


def test_pca_whitening_of_a_flat_direction_and_errors():
    X = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])           # column 1 constant
    out = PCA(2, whiten=True).fit_transform(X)
    assert np.all(np.isfinite(out)) and np.allclose(out[:, 1], 0.0)
    for bad in (0, -1, 1.0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_components must be"):
            PCA(bad)
    with pytest.raises(ValueError, match="exceeds min"):
        PCA(5).fit(X)
    with pytest.raises(ValueError, match="at least 2 samples"):
        PCA().fit([[1.0, 2.0]])
    with pytest.raises(ValueError, match="contains NaN"):
        PCA().fit([[1.0, NAN], [2.0, 3.0]])
    with pytest.raises(NotFittedError, match="PCA: call fit"):
        PCA().transform(X)
    with pytest.raises(NotFittedError):
        PCA().inverse_transform(X)
    failed = PCA(5)
    with pytest.raises(ValueError):
        failed.fit(X)
    with pytest.raises(NotFittedError):                          # a failed first fit: unfitted
        failed.transform(X)


# --- stability selection -----------------------------------------------------------------

def reference_lasso(X, Y, l1, max_sweeps, tol):
    """Cyclic coordinate descent for ‖X̃W − Ỹ‖²/(2n) + l1·‖W‖₁ in NumPy: the non-zero rows."""
    n = len(X)
    std = X.std(axis=0)
    varying = std > 0
    Xs = (X[:, varying] - X[:, varying].mean(axis=0)) / std[varying]
    Yc = Y - Y.mean(axis=0)
    W = np.zeros((Xs.shape[1], Y.shape[1]))
    for _ in range(max_sweeps):
        before = W.copy()
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                residual = Yc[:, k] - Xs @ W[:, k]
                rho = Xs[:, j] @ residual / n + W[j, k] * (Xs[:, j] @ Xs[:, j] / n)
                W[j, k] = np.sign(rho) * max(abs(rho) - l1, 0.0) / (Xs[:, j] @ Xs[:, j] / n)
        if np.max(np.abs(W - before)) <= tol:
            break
    selected = np.zeros(X.shape[1], dtype=bool)
    selected[varying] = np.any(W != 0, axis=1)
    return selected


def synthetic(seed=0, n=120):
    """y depends on features 0, 1, 2; features 3..6 are noise; feature 7 is constant."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    X[:, 7] = 2.0
    y = 3.0 * X[:, 0] - 2.0 * X[:, 1] + 1.5 * X[:, 2] + rng.normal(size=n)
    return X, y


def test_stability_selection_finds_the_relevant_features():
    X, y = synthetic()
    selector = StabilitySelection(l1=0.3, n_resamples=20, seed=0).fit(X, y)
    np.testing.assert_array_equal(selector.frequencies_[:3], 1.0)
    assert np.all(selector.frequencies_[3:] < 0.6) and selector.frequencies_[7] == 0.0
    np.testing.assert_array_equal(np.flatnonzero(selector.get_support()), [0, 1, 2])
    np.testing.assert_array_equal(selector.transform(X), X[:, :3])
    assert len(selector.subsets_) == 20 and all(len(rows) == 60 for rows in selector.subsets_)
    assert all(1 <= sweeps <= 100 for sweeps in selector.sweeps_)


def test_stability_selection_fits_match_a_numpy_lasso():
    X, y = synthetic(seed=1, n=80)
    Y = np.stack([y, X[:, 3] - X[:, 4]], axis=1)                 # two responses
    selector = StabilitySelection(l1=0.05, n_resamples=6, max_sweeps=40, tol=1e-6,
                                  seed=2).fit(X, Y)
    rng = np.random.default_rng(2)
    for r, rows in enumerate(selector.subsets_):
        np.testing.assert_array_equal(rows, np.sort(rng.choice(80, size=40, replace=False)))
        np.testing.assert_array_equal(selector.selections_[r],
                                      reference_lasso(X[rows], Y[rows], 0.05, 40, 1e-6))
    np.testing.assert_allclose(selector.frequencies_, selector.selections_.mean(axis=0))
    assert selector.frequencies_[3] == 1.0 and selector.frequencies_[4] == 1.0  # second response


def test_the_stability_selection_function_is_the_steps_frequencies():
    X, y = synthetic()
    frequencies = stability_selection(X, y, alpha=0.3, n_resamples=20, seed=0)
    step = StabilitySelection(l1=0.3, n_resamples=20, seed=0).fit(X, y)
    np.testing.assert_array_equal(frequencies, step.frequencies_)
    np.testing.assert_array_equal(np.flatnonzero(frequencies >= 0.6), [0, 1, 2])
    halves = stability_selection(X, y, alpha=0.3, n_resamples=4, seed=1, sample_fraction=0.25)
    assert halves.shape == (8,) and set(np.unique(halves * 4)) <= {0, 1, 2, 3, 4}
    with pytest.raises(ValueError, match="l1 must be > 0"):
        stability_selection(X, y, alpha=0.0)


def test_stability_selection_errors():
    X, y = synthetic()
    for options, message in (({"l1": 0}, "l1 must be > 0"),
                             ({"n_resamples": 0}, "n_resamples must be a positive integer"),
                             ({"threshold": 0}, r"threshold must lie in \(0, 1\]"),
                             ({"sample_fraction": 1.5}, r"sample_fraction must lie in \(0, 1\]"),
                             ({"max_sweeps": 0}, "max_sweeps must be a positive integer")):
        with pytest.raises(ValueError, match=message):
            StabilitySelection(**options)
    with pytest.raises(ValueError, match="needs the targets y"):
        StabilitySelection().fit(X)
    with pytest.raises(ValueError, match=r"y must be \(N,\) or \(N, K\) with N = 120"):
        StabilitySelection().fit(X, y[:10])
    with pytest.raises(ValueError, match="y contains NaN"):
        StabilitySelection().fit(X, np.r_[y[:-1], NAN])
    with pytest.raises(ValueError, match="contains NaN"):
        StabilitySelection().fit(np.r_[X[:-1], np.full((1, 8), NAN)], y)
    with pytest.raises(NotFittedError):
        StabilitySelection().get_support()
