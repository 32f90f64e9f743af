"""Audit of preprocessing.py (second pass) against scikit-learn's documented semantics.

References are plain NumPy written here from scikit-learn's definitions: SimpleImputer's
statistics (nanmean / nanmedian / the smallest most frequent value), VarianceThreshold's
ddof=0 variance, PCA by the covariance eigendecomposition with scikit-learn's sign rule
(each component's largest-magnitude entry positive), explained_variance_ratio_ over the
total variance, and the float n_components rule searchsorted(cumsum, f, 'right') + 1.
"""

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt.preprocessing import (PCA, QuantileClipper, SimpleImputer,
                                        StabilitySelection, VarianceThreshold)

NAN = np.nan
STEPS = [SimpleImputer, QuantileClipper, VarianceThreshold, PCA]


# --- input errors name the step -------------------------------------------------------------

@pytest.mark.parametrize("step", STEPS)
def test_a_ragged_list_is_refused_naming_the_step(step):
    # NumPy's own "inhomogeneous shape" error named no step
    with pytest.raises(ValueError, match=rf"{step.__name__}: X must be a 2-D array"):
        step().fit([[1.0, 2.0], [3.0]])
    fitted = step().fit([[1.0, 2.0], [3.0, 5.0], [4.0, 0.0]])
    with pytest.raises(ValueError, match=rf"{step.__name__}: X must be a 2-D array"):
        fitted.transform([[1.0, 2.0], [3.0]])


def test_pca_inverse_transform_refuses_non_numeric_and_non_finite_scores(rng):
    pca = PCA(2).fit(rng.normal(size=(8, 3)))
    with pytest.raises(TypeError, match="PCA: inverse_transform needs numeric scores"):
        pca.inverse_transform([["a", "b"]])
    for bad in (NAN, np.inf):
        with pytest.raises(ValueError, match="PCA: inverse_transform got scores with NaN or inf"):
            pca.inverse_transform([[bad, 1.0]])
    # finite scores: the scikit-learn inverse Z · components_ + mean_
    Z = rng.normal(size=(4, 2))
    np.testing.assert_allclose(pca.inverse_transform(Z), Z @ pca.components_ + pca.mean_,
                               rtol=1e-12)


def test_stability_selection_refuses_bad_targets_and_tol(rng):
    X = rng.normal(size=(6, 3))
    with pytest.raises(TypeError, match="StabilitySelection: y must be numeric"):
        StabilitySelection(n_resamples=2).fit(X, np.array(list("abcdef")))
    with pytest.raises(ValueError, match=r"y must be \(N,\) or \(N, K\) with N = 6, got shape "
                                         r"\(6, 0\)"):
        StabilitySelection(n_resamples=2).fit(X, np.zeros((6, 0)))
    for tol in (-1.0, NAN):
        with pytest.raises(ValueError, match="StabilitySelection: tol must be >= 0"):
            StabilitySelection(tol=tol)


def test_non_numeric_options_are_refused_naming_the_argument():
    # '0.1' <= ... raised Python's bare "'<=' not supported between instances" before
    cases = [(lambda: QuantileClipper(low="0.1"), "QuantileClipper: need 0 <= low < high"),
             (lambda: QuantileClipper(high="0.9"), "QuantileClipper: need 0 <= low < high"),
             (lambda: VarianceThreshold("0"), "VarianceThreshold: threshold must be >= 0"),
             (lambda: StabilitySelection(l1="0.1"), "StabilitySelection: l1 must be > 0"),
             (lambda: StabilitySelection(threshold="0.6"), "StabilitySelection: threshold"),
             (lambda: StabilitySelection(sample_fraction="0.5"), "sample_fraction must lie"),
             (lambda: StabilitySelection(tol="1e-4"), "StabilitySelection: tol must be >= 0")]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    # numbers of any NumPy kind are accepted and give the same fit as Python floats
    X = np.stack([np.arange(11.0), np.arange(11.0) ** 2], axis=1)
    np.testing.assert_array_equal(QuantileClipper(np.float32(0.25), np.int64(1)).fit(X).lower_,
                                  np.quantile(X, 0.25, axis=0))


def test_imputer_fill_value_must_be_a_number():
    with pytest.raises(TypeError, match="SimpleImputer: fill_value must be a number, got 'x'"):
        SimpleImputer("constant", fill_value="x")
    out = SimpleImputer("constant", fill_value=np.int64(-3)).fit_transform([[NAN, 1.0]])
    np.testing.assert_array_equal(out, [[-3.0, 1.0]])


# --- values against NumPy references (scikit-learn's definitions) -----------------------------

def reference_most_frequent(column):
    observed = column[~np.isnan(column)]
    values, counts = np.unique(observed, return_counts=True)
    return values[counts == counts.max()].min()          # scikit-learn: the smallest of ties


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_imputer_statistics_on_the_device(strategy, device, rng):
    X = rng.integers(0, 4, size=(15, 4)).astype(np.float64)
    X[rng.random(X.shape) < 0.3] = NAN
    X[0] = 1.0                                            # every column observed once at least
    fills = {"mean": np.nanmean(X, axis=0), "median": np.nanmedian(X, axis=0),
             "most_frequent": np.array([reference_most_frequent(c) for c in X.T])}[strategy]
    imputer = SimpleImputer(strategy, add_indicator=True).fit(tg.tensor(X, device=device))
    np.testing.assert_allclose(imputer.statistics_, fills, rtol=1e-12)
    out = imputer.transform(tg.tensor(X, device=device))
    missing = np.isnan(X)
    expected = np.hstack([np.where(missing, fills, X), missing[:, missing.any(axis=0)]])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_pca_single_component_and_fraction_against_the_covariance(rng):
    X = rng.normal(size=(20, 4)) @ np.diag([4.0, 2.0, 1.0, 0.5]) + [1.0, -2.0, 0.0, 3.0]
    values, vectors = np.linalg.eigh(np.cov(X, rowvar=False))   # ascending
    values, vectors = values[::-1], vectors[:, ::-1].T
    signs = np.sign(vectors[np.arange(4), np.argmax(np.abs(vectors), axis=1)])
    vectors = vectors * signs[:, None]                           # scikit-learn's sign rule
    ratio = values / values.sum()
    for fraction in (0.3, 0.8, 0.97):
        k = int(np.searchsorted(np.cumsum(ratio), fraction, side="right")) + 1
        pca = PCA(fraction, whiten=True).fit(X)
        assert pca.n_components_ == k
        np.testing.assert_allclose(pca.explained_variance_, values[:k], rtol=1e-10)
        np.testing.assert_allclose(pca.explained_variance_ratio_, ratio[:k], rtol=1e-10)
        np.testing.assert_allclose(pca.components_, vectors[:k], atol=1e-10)
        np.testing.assert_allclose(pca.transform(X),
                                   (X - X.mean(axis=0)) @ vectors[:k].T / np.sqrt(values[:k]),
                                   atol=1e-9)


def test_variance_threshold_on_integer_and_float32_data(rng):
    X = rng.integers(0, 3, size=(10, 5))
    X[:, 2] = 7                                           # constant
    selector = VarianceThreshold(0.5).fit(X)
    variances = X.astype(np.float64).var(axis=0)          # ddof = 0
    np.testing.assert_allclose(selector.variances_, variances, rtol=1e-12)
    np.testing.assert_array_equal(selector.get_support(), variances > 0.5)
    out = VarianceThreshold().fit(X.astype(np.float32)).transform(X.astype(np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, X[:, variances > 0].astype(np.float32))
