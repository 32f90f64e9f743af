"""The shipped digits, the synthetic generators and the 2-D optimizer test surfaces."""

import math

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import datasets
from tinygrad_opt.datasets import (SURFACES, beale, himmelblau, load_digits, make_imbalanced,
                                   moons, rosenbrock, saddle, spiral, xor)


# --- digits ---------------------------------------------------------------------

def test_digits_shape_dtype_range():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 16.0
    assert np.all(X == np.round(X))  # raw counts, not scaled
    assert set(np.unique(y).tolist()) == set(range(10))


def test_digits_class_counts():
    _, y = load_digits()
    # the UCI test split's class sizes (as scikit-learn's load_digits reports them)
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_content_matches_the_reference():
    X, y = load_digits()
    # computed once from sklearn.datasets.load_digits (scikit-learn 1.9.1) when the
    # file was made: X.sum(), a position-weighted sum (catches shuffled pixels) and
    # a position-weighted label sum (catches shuffled rows)
    assert int(X.astype(np.int64).sum()) == 561718
    assert int((X.astype(np.int64) * np.arange(64)).sum()) == 17660653
    assert int((y * np.arange(1797)).sum()) == 7264791
    assert y[:10].tolist() == list(range(10))
    # the first image is a zero: a ring with an empty middle
    first = X[0].reshape(8, 8)
    assert first[0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert first[3:5, 3:5].sum() == 0


def test_digits_returns_fresh_arrays():
    X1, _ = load_digits()
    X1[0, 0] = 99
    X2, _ = load_digits()
    assert X2[0, 0] == 0


# --- synthetic sets ---------------------------------------------------------------

GENERATORS = [
    (spiral, {"n_per_class": 40, "n_classes": 3}),
    (moons, {"n_samples": 101}),
    (xor, {"n_samples": 102}),
    (make_imbalanced, {"n_samples": 300, "positive_rate": 0.2}),
]


@pytest.mark.parametrize("generator, kwargs", GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_generators_reproducible_with_seed(generator, kwargs):
    X1, y1 = generator(**kwargs, seed=3)
    X2, y2 = generator(**kwargs, seed=3)
    X3, _ = generator(**kwargs, seed=4)
    assert X1.dtype == np.float32 and y1.dtype == np.int64
    assert X1.ndim == 2 and X1.shape[0] == y1.shape[0]
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("generator, kwargs", GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_generators_seed_none_follows_manual_seed(generator, kwargs):
    tg.manual_seed(11)
    X1, _ = generator(**kwargs)
    X2, _ = generator(**kwargs)
    tg.manual_seed(11)
    X3, _ = generator(**kwargs)
    np.testing.assert_array_equal(X1, X3)
    assert not np.array_equal(X1, X2)


def test_spiral_is_the_cs231n_spiral():
    n, k = 50, 3
    X, y = spiral(n_per_class=n, n_classes=k, noise=0.0, seed=0)
    assert X.shape == (n * k, 2)
    assert np.bincount(y).tolist() == [n] * k
    for c in range(k):
        radius = np.linspace(0.0, 1.0, n)
        angle = np.linspace(4.0 * c, 4.0 * (c + 1), n)
        expected = np.c_[radius * np.sin(angle), radius * np.cos(angle)]
        np.testing.assert_allclose(X[y == c], expected, rtol=1e-6, atol=1e-6)


def test_spiral_noise_moves_the_angle_only():
    X, y = spiral(n_per_class=30, n_classes=4, noise=0.3, seed=1)
    radius = np.hypot(X[:, 0], X[:, 1])
    for c in range(4):
        np.testing.assert_allclose(radius[y == c], np.linspace(0, 1, 30), atol=1e-6)


def test_moons_balanced_and_on_the_circles():
    X, y = moons(n_samples=101, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [50, 51]
    outer, inner = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(outer[:, 0] ** 2 + outer[:, 1] ** 2, 1.0, atol=1e-6)
    np.testing.assert_allclose((inner[:, 0] - 1) ** 2 + (inner[:, 1] - 0.5) ** 2, 1.0, atol=1e-6)
    assert outer[:, 1].min() >= -1e-6 and inner[:, 1].max() <= 0.5 + 1e-6


def test_moons_shuffled_by_default():
    _, y = moons(n_samples=200, seed=0)
    assert not np.all(np.diff(y) >= 0)
    _, y_ordered = moons(n_samples=200, seed=0, shuffle=False)
    assert np.all(np.diff(y_ordered) >= 0)


@pytest.mark.parametrize("n", [100, 101, 102, 103])
def test_xor_balanced_and_labelled_by_quadrant(n):
    X, y = xor(n_samples=n, noise=0.0, seed=0)
    counts = np.bincount(y, minlength=2)
    assert counts.sum() == n and abs(counts[0] - counts[1]) <= 1
    assert np.all(np.abs(X) <= 1.0)
    expected = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    np.testing.assert_array_equal(y, expected)


def test_xor_noise_blurs_the_quadrants():
    X, y = xor(n_samples=2000, noise=0.5, seed=0)
    by_quadrant = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    assert 0.5 < np.mean(by_quadrant == y) < 0.99


@pytest.mark.parametrize("n, rate, positives", [(1000, 0.1, 100), (333, 0.1, 33), (7, 0.5, 4),
                                                 (50, 0.02, 1), (1000, 0.37, 370)])
def test_make_imbalanced_rate_exact(n, rate, positives):
    X, y = make_imbalanced(n_samples=n, positive_rate=rate, n_features=3, seed=0)
    assert X.shape == (n, 3)
    assert int(y.sum()) == positives and set(np.unique(y).tolist()) <= {0, 1}


def test_make_imbalanced_class_separation():
    sep, d = 3.0, 4
    X, y = make_imbalanced(n_samples=20000, positive_rate=0.3, n_features=d, class_sep=sep,
                           seed=0)
    difference = X[y == 1].mean(axis=0) - X[y == 0].mean(axis=0)
    np.testing.assert_allclose(difference, sep / math.sqrt(d) * np.ones(d), atol=0.06)
    np.testing.assert_allclose(X[y == 0].std(axis=0), 1.0, atol=0.05)


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, 0.0001])
def test_make_imbalanced_rejects_impossible_rates(rate):
    with pytest.raises(ValueError, match="make_imbalanced"):
        make_imbalanced(n_samples=100, positive_rate=rate)


def test_generators_reject_bad_sizes():
    with pytest.raises(ValueError, match="n_per_class"):
        spiral(n_per_class=0)
    with pytest.raises(ValueError, match="n_samples"):
        moons(n_samples=2.5)


# --- surfaces -----------------------------------------------------------------------

def test_surface_registry():
    assert set(SURFACES) == {"rosenbrock", "beale", "saddle", "himmelblau"}
    for name, fn in SURFACES.items():
        assert fn is getattr(datasets, name)
        assert len(fn.start) == 2 and len(fn.bounds) == 2
        (x_lo, x_hi), (y_lo, y_hi) = fn.bounds
        assert x_lo < fn.start[0] < x_hi and y_lo < fn.start[1] < y_hi
        for minimum in fn.minima:
            assert x_lo <= minimum[0] <= x_hi and y_lo <= minimum[1] <= y_hi


@pytest.mark.parametrize("fn", [rosenbrock, beale, himmelblau], ids=lambda f: f.__name__)
def test_surfaces_are_zero_with_zero_gradient_at_their_minima(fn):
    assert len(fn.minima) >= 1
    for minimum in fn.minima:
        p = tg.tensor(np.array(minimum), requires_grad=True)  # float64
        value = fn(p)
        assert abs(value.item()) < 1e-20
        value.backward()
        np.testing.assert_allclose(p.grad.numpy(), 0.0, atol=1e-9)
        assert abs(fn(np.array(minimum))) < 1e-20  # NumPy input too


def test_known_minima_values():
    assert beale.minima == [(3.0, 0.5)] and rosenbrock.minima == [(1.0, 1.0)]
    assert len(himmelblau.minima) == 4 and (3.0, 2.0) in himmelblau.minima
    assert saddle.minima == [] and saddle.saddle_points == [(0.0, 0.0)]
    assert rosenbrock(np.array([2.0, 4.0]), a=2.0, b=7.0) == 0.0  # minimum at (a, a^2)


def _analytic_gradients(name, x, y):
    if name == "rosenbrock":
        return [-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)]
    if name == "beale":
        t1, t2, t3 = 1.5 - x + x * y, 2.25 - x + x * y ** 2, 2.625 - x + x * y ** 3
        return [2 * t1 * (y - 1) + 2 * t2 * (y ** 2 - 1) + 2 * t3 * (y ** 3 - 1),
                2 * t1 * x + 2 * t2 * 2 * x * y + 2 * t3 * 3 * x * y ** 2]
    if name == "saddle":
        return [2 * x, -2 * y]
    a, b = x ** 2 + y - 11, x + y ** 2 - 7
    return [4 * x * a + 2 * b, 2 * a + 4 * y * b]


def _analytic_values(name, x, y):
    return {"rosenbrock": (1 - x) ** 2 + 100 * (y - x ** 2) ** 2,
            "beale": ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2
                      + (2.625 - x + x * y ** 3) ** 2),
            "saddle": x ** 2 - y ** 2,
            "himmelblau": (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2}[name]


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_values_and_gradients_match_formulas(name, device):
    fn = SURFACES[name]
    for x, y in [(0.3, -0.7), (-1.2, 1.0), (2.0, 0.25), fn.start]:
        p = tg.tensor(np.array([x, y]), device=device, requires_grad=True)
        value = fn(p)
        assert value.device == device and value.shape == ()
        np.testing.assert_allclose(value.item(), _analytic_values(name, x, y), rtol=1e-12)
        value.backward()
        np.testing.assert_allclose(p.grad.numpy(), _analytic_gradients(name, x, y), rtol=1e-10,
                                   atol=1e-12)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surfaces_pass_gradcheck(name):
    p = tg.tensor(np.array([0.4, -0.9]), requires_grad=True)
    assert tg.gradcheck(SURFACES[name], (p,))
    assert tg.gradgradcheck(SURFACES[name], (p,))


def test_rosenbrock_hessian_by_double_backward():
    x, y = -0.5, 0.8
    H = tg.hessian(rosenbrock, tg.tensor(np.array([x, y]))).numpy()
    expected = [[2 - 400 * (y - x ** 2) + 800 * x ** 2, -400 * x], [-400 * x, 200.0]]
    np.testing.assert_allclose(H, expected, rtol=1e-10)


def test_surfaces_evaluate_on_grids():
    xs, ys = np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-1, 3, 5))
    grid = np.stack([xs, ys])                      # (2, 5, 7)
    for name, fn in SURFACES.items():
        np.testing.assert_allclose(fn(grid), _analytic_values(name, xs, ys), rtol=1e-12)
